/* Inference engine throughput: samples/s and GOPS (2 x multiply-accumulates per second) per
 * backend tier, thread count and batch size, printed as a markdown table.
 *
 *   bench_inference [--quick] [--model path.eml|path.onnx]
 *
 * Models: the bundled digits model (examples/digits/model.eml or model.onnx, relative to the
 * current directory or EM_SRC_DIR) and the bundled digits CNN (examples/cnn/digits-cnn.onnx),
 * each skipped with a message when absent; a 784-512-512-10 MLP and a 28x28 CNN with random
 * 8-bit weights built in code. samples/s is wall-clock (best of 3 trials). "cpu" is process CPU
 * time over wall time: about the thread count on an idle machine, less when other processes
 * compete for the cores; samples/cpu-s (samples per CPU-second) is the contention-robust figure
 * for comparing tiers on a shared machine. */
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enclaveml/model.h"

static uint64_t rng = 0x243F6A8885A308D3ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int add_dense(nn_model *m, nn_shape in, uint32_t nout, nn_act act, em_err *err)
{
    size_t nin = nn_shape_size(in);
    nn_layer L = {.kind = NN_DENSE, .in = in, .out = {nout, 1, 1}, .act = act, .shift = 7, .w_scale = 7};
    L.n_weight = nin * nout;
    L.n_bias = nout;
    L.weight = malloc(L.n_weight * sizeof *L.weight);
    L.bias = calloc(nout, sizeof *L.bias);
    if (!L.weight || !L.bias)
        return 0;
    for (size_t i = 0; i < L.n_weight; i++)
        L.weight[i] = (int32_t)(rnd() % 256) - 128;
    int ok = nn_model_add_layer(m, &L, err) == EM_OK;
    free(L.weight);
    free(L.bias);
    return ok;
}

static int add_conv(nn_model *m, nn_shape in, uint32_t cout, em_err *err)
{
    nn_layer L = {.kind = NN_CONV2D, .in = in, .out = {cout, in.h, in.w}, .kh = 3, .kw = 3, .sh = 1, .sw = 1,
                  .pt = 1, .pl = 1, .pb = 1, .pr = 1, .act = NN_ACT_RELU, .shift = 7, .w_scale = 7};
    L.n_weight = (size_t)cout * in.c * 9;
    L.n_bias = cout;
    L.weight = malloc(L.n_weight * sizeof *L.weight);
    L.bias = calloc(cout, sizeof *L.bias);
    if (!L.weight || !L.bias)
        return 0;
    for (size_t i = 0; i < L.n_weight; i++)
        L.weight[i] = (int32_t)(rnd() % 256) - 128;
    int ok = nn_model_add_layer(m, &L, err) == EM_OK;
    free(L.weight);
    free(L.bias);
    return ok;
}

static int add_pool(nn_model *m, nn_shape in, nn_layer_kind kind, em_err *err)
{
    nn_layer L = {.kind = kind, .in = in, .out = {in.c, in.h / 2, in.w / 2}, .kh = 2, .kw = 2, .sh = 2, .sw = 2,
                  .shift = kind == NN_AVGPOOL ? 16 : 0};
    return nn_model_add_layer(m, &L, err) == EM_OK;
}

static nn_model *build_mlp(em_err *err)
{
    nn_model *m = NULL;
    if (nn_model_create("mlp-784-512-512-10", (nn_shape){784, 1, 1}, 8, 8, 0, &m, err) != EM_OK)
        return NULL;
    if (add_dense(m, (nn_shape){784, 1, 1}, 512, NN_ACT_RELU, err) &&
        add_dense(m, (nn_shape){512, 1, 1}, 512, NN_ACT_RELU, err) &&
        add_dense(m, (nn_shape){512, 1, 1}, 10, NN_ACT_NONE, err))
        return m;
    nn_model_free(m);
    return NULL;
}

static nn_model *build_cnn(em_err *err)
{
    nn_model *m = NULL;
    if (nn_model_create("cnn-28x28", (nn_shape){1, 28, 28}, 8, 8, 0, &m, err) != EM_OK)
        return NULL;
    nn_layer flat = {.kind = NN_RESHAPE, .in = {32, 7, 7}, .out = {32 * 7 * 7, 1, 1}};
    if (add_conv(m, (nn_shape){1, 28, 28}, 16, err) && add_pool(m, (nn_shape){16, 28, 28}, NN_MAXPOOL, err) &&
        add_conv(m, (nn_shape){16, 14, 14}, 32, err) && add_pool(m, (nn_shape){32, 14, 14}, NN_AVGPOOL, err) &&
        nn_model_add_layer(m, &flat, err) == EM_OK && add_dense(m, (nn_shape){32 * 7 * 7, 1, 1}, 10, NN_ACT_NONE, err))
        return m;
    nn_model_free(m);
    return NULL;
}

static nn_model *load_path(const char *path, em_err *err)
{
    nn_model *m = NULL;
    size_t n = strlen(path);
    if (n > 5 && strcmp(path + n - 5, ".onnx") == 0) {
        nn_import_opts o;
        nn_import_opts_default(&o);
        return nn_onnx_import(path, &o, &m, err) == EM_OK ? m : NULL;
    }
    return nn_model_load(path, &m, err) == EM_OK ? m : NULL;
}

/* The first candidate (relative to the current directory, then EM_SRC_DIR) that exists. */
static nn_model *load_bundled(const char *const *cands, size_t n_cands, em_err *err)
{
    char buf[4096];
    const char *src = getenv("EM_SRC_DIR");
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n_cands; i++) {
            if (pass == 0)
                snprintf(buf, sizeof buf, "%s", cands[i]);
            else if (src)
                snprintf(buf, sizeof buf, "%s/%s", src, cands[i]);
            else
                continue;
            FILE *f = fopen(buf, "rb");
            if (!f)
                continue;
            fclose(f);
            return load_path(buf, err);
        }
    em_errf(err, EM_ERR_IO, "%s not found", cands[0]);
    return NULL;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Multiply-accumulates per sample (dense + conv layers). */
static double macs_per_sample(const nn_model *m)
{
    double macs = 0;
    for (size_t i = 0; i < nn_model_n_layers(m); i++) {
        const nn_layer *L = nn_model_layer(m, i);
        if (L->kind == NN_DENSE || L->kind == NN_CONV2D)
            macs += (double)L->n_weight * (L->kind == NN_CONV2D ? (double)L->out.h * L->out.w : 1.0);
    }
    return macs;
}

static void bench_model(const nn_model *m, int quick)
{
    static const char *const tiers[] = {"scalar", "avx2", "avx512", "avx512vnni"};
    static const size_t batches[] = {1, 1024};
    size_t in_sz = nn_model_input_size(m), out_sz = nn_model_output_size(m);
    double macs = macs_per_sample(m);
    int32_t lo = -(1 << (nn_model_act_bits(m) - 1)), hi = (1 << (nn_model_act_bits(m) - 1)) - 1;
    int32_t *in = malloc(1024 * in_sz * sizeof *in), *out = malloc(1024 * out_sz * sizeof *out);
    int32_t *ref = malloc(1024 * out_sz * sizeof *ref);
    if (!in || !out || !ref) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < 1024 * in_sz; i++)
        in[i] = lo + (int32_t)(rnd() % (uint64_t)(hi - lo + 1));
    printf("\n### %s (%zu inputs, %zu outputs, %.2f M MAC/sample)\n\n", nn_model_name(m), in_sz, out_sz, macs / 1e6);
    printf("| backend | threads | batch | samples/s | GOPS | vs scalar | cpu | samples/cpu-s |\n"
           "|---|---|---|---|---|---|---|---|\n");
    for (size_t bi = 0; bi < 2; bi++) {
        size_t batch = batches[bi];
        double scalar_rate[3] = {0, 0, 0};
        int have_ref = 0;
        for (int ti = 0; ti < 4; ti++) {
            const nn_backend *be = nn_backend_get(tiers[ti]);
            if (!be)
                continue;
            for (int th = 1; th <= 2; th++) {
                nn_run_opts o = {.backend = be, .threads = th};
                em_err err = {0};
                /* best of 3 trials: the machine may be shared, the best trial is the least disturbed */
                double rate = 0, cpu = 0, budget_ms = quick ? 50 : 250;
                for (int trial = 0; trial < 3; trial++) {
                    double t0 = em_now_ms(), c0 = cpu_ms(), t;
                    size_t reps = 0;
                    do {
                        if (nn_model_run(m, &o, in, batch, out, &err) != EM_OK) {
                            fprintf(stderr, "run failed: %s\n", em_err_msg(&err));
                            exit(1);
                        }
                        reps++;
                        t = em_now_ms() - t0;
                    } while (t < budget_ms || reps < 2);
                    double r = (double)(reps * batch) / (t / 1e3);
                    if (r > rate) {
                        rate = r;
                        cpu = (cpu_ms() - c0) / t;
                    }
                }
                /* every tier must agree bit for bit; a benchmark of a wrong kernel is worthless */
                if (!have_ref) {
                    memcpy(ref, out, batch * out_sz * sizeof *out);
                    have_ref = 1;
                } else if (memcmp(ref, out, batch * out_sz * sizeof *out) != 0) {
                    fprintf(stderr, "MISMATCH: %s with %d threads differs from scalar\n", tiers[ti], th);
                    exit(1);
                }
                if (ti == 0)
                    scalar_rate[th] = rate;
                printf("| %s | %d | %zu | %.0f | %.2f | %.1fx | %.2f | %.0f |\n", tiers[ti], th, batch, rate,
                       rate * macs * 2 / 1e9, scalar_rate[th] > 0 ? rate / scalar_rate[th] : 0.0, cpu,
                       cpu > 0 ? rate / cpu : 0.0);
                fflush(stdout);
            }
        }
    }
    free(in);
    free(out);
    free(ref);
}

int main(int argc, char **argv)
{
    int quick = 0;
    const char *model_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
            model_path = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--quick] [--model file.eml|file.onnx]\n", argv[0]);
            return 2;
        }
    }
    printf("auto backend: %s\n", nn_backend_name(nn_backend_get("auto")));
    em_err err = {0};
    static const char *const digits[] = {"examples/digits/model.eml", "examples/digits/model.onnx"};
    static const char *const cnn[] = {"examples/cnn/digits-cnn.eml", "examples/cnn/digits-cnn.onnx"};
    nn_model *m;
    if (model_path) {
        if (!(m = load_path(model_path, &err))) {
            fprintf(stderr, "%s: %s\n", model_path, em_err_msg(&err));
            return 1;
        }
        bench_model(m, quick);
        nn_model_free(m);
        return 0;
    }
    for (int i = 0; i < 2; i++) {
        if ((m = load_bundled(i ? cnn : digits, 2, &err))) {
            bench_model(m, quick);
            nn_model_free(m);
        } else {
            printf("\n(bundled model skipped: %s)\n", em_err_msg(&err));
        }
    }
    if (!(m = build_mlp(&err))) {
        fprintf(stderr, "building the MLP: %s\n", em_err_msg(&err));
        return 1;
    }
    bench_model(m, quick);
    nn_model_free(m);
    if (!(m = build_cnn(&err))) {
        fprintf(stderr, "building the CNN: %s\n", em_err_msg(&err));
        return 1;
    }
    bench_model(m, quick);
    nn_model_free(m);
    return 0;
}
