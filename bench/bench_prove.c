/* Proof-of-inference benchmark: prove time, verify time, proof size, peak memory and prove /
 * plain-inference ratio versus batch size and model size.
 *
 *   bench_prove [--model FILE.eml | --mlp 784-512-512-10] [--batch 1,64,1024] [--reps N]
 *               [--threads N]
 * Without --model/--mlp it runs the default suite (bundled digits MLP and CNN, 784-512-512-10,
 * 784-2048-1024-10) from the source root. Output: one line per (model, batch). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "enclaveml/input.h"
#include "enclaveml/model.h"
#include "enclaveml/zkml/zk.h"

static uint64_t rng = 0x1234567;
static uint64_t rnd(void)
{
    uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static nn_model *make_mlp(const char *spec)
{
    uint32_t dims[16];
    size_t n = 0;
    const char *s = spec;
    while (*s && n < 16) {
        dims[n++] = (uint32_t)strtoul(s, (char **)&s, 10);
        if (*s == '-')
            s++;
    }
    em_err err = {0};
    nn_model *m = NULL;
    if (n < 2 || nn_model_create(spec, (nn_shape){dims[0], 1, 1}, 8, 8, 4, &m, &err) != EM_OK) {
        fprintf(stderr, "bad --mlp %s: %s\n", spec, err.msg);
        return NULL;
    }
    int32_t scale = 4;
    for (size_t l = 0; l + 1 < n; l++) {
        nn_layer L;
        memset(&L, 0, sizeof L);
        L.kind = NN_DENSE;
        L.in = (nn_shape){dims[l], 1, 1};
        L.out = (nn_shape){dims[l + 1], 1, 1};
        L.n_weight = (size_t)dims[l] * dims[l + 1];
        L.n_bias = dims[l + 1];
        L.weight = malloc(L.n_weight * sizeof *L.weight);
        L.bias = calloc(L.n_bias, sizeof *L.bias);
        for (size_t i = 0; i < L.n_weight; i++)
            L.weight[i] = (int32_t)(rnd() % 256) - 128;
        unsigned lg = 0;
        while ((1u << lg) < dims[l])
            lg++;
        L.shift = 7 + (lg + 1) / 2;
        L.w_scale = 7;
        L.in_scale = scale;
        L.out_scale = scale + 7 - (int32_t)L.shift;
        L.act = l + 2 == n ? NN_ACT_NONE : NN_ACT_RELU;
        snprintf(L.name, sizeof L.name, "fc%zu", l);
        em_status st = nn_model_add_layer(m, &L, &err);
        free(L.weight);
        free(L.bias);
        if (st != EM_OK) {
            fprintf(stderr, "mlp layer %zu: %s\n", l, err.msg);
            nn_model_free(m);
            return NULL;
        }
        scale = L.out_scale;
    }
    return m;
}

/* Process CPU time: on a shared machine this is the better measure of single-threaded work. */
static double cpu_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static double peak_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static void run(const char *label, const nn_model *m, const size_t *batches, size_t nb, int reps, int threads)
{
    em_err err = {0};
    zk_prover *p = NULL;
    double t0 = em_now_ms();
    if (zk_prover_create(m, &p, &err) != EM_OK) {
        fprintf(stderr, "%s: %s\n", label, err.msg);
        return;
    }
    printf("%-22s params %zu, commit %.0f ms\n", label, nn_model_n_params(m), em_now_ms() - t0);
    printf("  %6s %10s %10s %10s %10s %9s %10s %8s\n", "batch", "infer_ms", "prove_ms", "prove_cpu", "verify_ms",
           "ratio", "proof_KiB", "peak_MB");
    nn_run_opts ro = {.backend = NULL, .threads = threads};
    for (size_t bi = 0; bi < nb; bi++) {
        size_t n = batches[bi], in = nn_model_input_size(m), k = nn_model_output_size(m);
        int32_t *x = malloc(n * in * sizeof *x), *out = malloc(n * k * sizeof *out);
        for (size_t i = 0; i < n * in; i++)
            x[i] = (int32_t)(rnd() % 256) - 128;
        double best_inf = 1e30, best_p = 1e30, best_v = 1e30, best_c = 1e30;
        size_t plen = 0;
        int ok = 1;
        for (int r = 0; r < reps && ok; r++) {
            double a = em_now_ms();
            if (nn_model_run(m, &ro, x, n, out, &err) != EM_OK) {
                ok = 0;
                break;
            }
            double inf = em_now_ms() - a;
            if (inf < best_inf)
                best_inf = inf;
            uint8_t *proof = NULL;
            zk_stats st = {0};
            zk_context ctx = {.nonce = (const uint8_t *)"bench", .nonce_len = 5, .node_id = "bench"};
            double c0 = cpu_ms();
            if (zk_prove(p, &ro, x, n, &ctx, out, &proof, &plen, &st, &err) != EM_OK) {
                ok = 0;
                break;
            }
            double c1 = cpu_ms() - c0;
            if (c1 < best_c)
                best_c = c1;
            if (st.prove_ms < best_p)
                best_p = st.prove_ms;
            zk_stats vs = {0};
            if (zk_verify(zk_prover_vk(p), x, n, out, &ctx, proof, plen, &vs, &err) != EM_OK) {
                free(proof);
                ok = 0;
                break;
            }
            if (vs.verify_ms < best_v)
                best_v = vs.verify_ms;
            free(proof);
        }
        if (!ok)
            printf("  %6zu failed: %s\n", n, err.msg);
        else
            printf("  %6zu %10.2f %10.1f %10.1f %10.1f %8.1fx %10.1f %8.0f\n", n, best_inf, best_p, best_c, best_v,
                   best_p / best_inf, (double)plen / 1024.0, peak_mb());
        fflush(stdout);
        free(x);
        free(out);
    }
    zk_prover_free(p);
}

int main(int argc, char **argv)
{
    const char *model = NULL, *mlp = NULL, *blist = NULL;
    int reps = 3, threads = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--model"))
            model = argv[i + 1];
        else if (!strcmp(argv[i], "--mlp"))
            mlp = argv[i + 1];
        else if (!strcmp(argv[i], "--batch"))
            blist = argv[i + 1];
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    size_t batches[32], nb = 0;
    if (blist) {
        const char *s = blist;
        while (*s && nb < 32) {
            batches[nb++] = strtoul(s, (char **)&s, 10);
            if (*s == ',')
                s++;
        }
    } else {
        size_t def[] = {1, 16, 64, 256, 1024};
        memcpy(batches, def, sizeof def);
        nb = 5;
    }
    if (reps < 1)
        reps = 1;
    em_err err = {0};
    if (model || mlp) {
        nn_model *m = NULL;
        if (model && nn_model_load(model, &m, &err) != EM_OK) {
            fprintf(stderr, "%s: %s\n", model, err.msg);
            return 1;
        }
        if (mlp && !(m = make_mlp(mlp)))
            return 1;
        run(model ? model : mlp, m, batches, nb, reps, threads);
        nn_model_free(m);
        return 0;
    }
    nn_model *m = NULL;
    em_status lst = nn_model_load("examples/digits/model.eml", &m, &err);
    if (lst != EM_OK) {
        /* no .eml in the tree: import the ONNX file with its calibration set */
        em_input cin = {0};
        nn_import_opts o;
        nn_import_opts_default(&o);
        if (em_input_load("examples/digits/calibration.json", 64, &cin, &err) == EM_OK) {
            o.calib = cin.data;
            o.n_calib = cin.n_samples;
        }
        lst = nn_onnx_import("examples/digits/model.onnx", &o, &m, &err);
        em_input_free(&cin);
    }
    if (lst == EM_OK) {
        run("digits (bundled)", m, batches, nb, reps, threads);
        nn_model_free(m);
    } else {
        printf("bundled model not found (run from the source root): %s\n", err.msg);
    }
    /* the bundled CNN (conv, relu, maxpool, conv, relu, avgpool, flatten, gemm) */
    {
        em_input cin = {0};
        nn_import_opts o;
        nn_import_opts_default(&o);
        if (em_input_load("examples/digits/calibration.json", 64, &cin, &err) == EM_OK) {
            o.calib = cin.data;
            o.n_calib = cin.n_samples;
        }
        m = NULL;
        if (nn_onnx_import("examples/cnn/digits-cnn.onnx", &o, &m, &err) == EM_OK) {
            size_t bc[] = {1, 16, 64, 256};
            run("digits CNN (bundled)", m, bc, 4, reps, threads);
            nn_model_free(m);
        } else {
            printf("bundled CNN not found: %s\n", err.msg);
        }
        em_input_free(&cin);
    }
    const char *suite[] = {"784-512-512-10", "784-2048-1024-10"};
    for (size_t i = 0; i < 2; i++) {
        if (!(m = make_mlp(suite[i])))
            return 1;
        size_t b64[] = {1, 64, 256, 1024};
        run(suite[i], m, b64, i == 0 ? 4 : 2, reps, threads);
        nn_model_free(m);
    }
    return 0;
}
