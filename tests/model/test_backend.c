/* Inference engine tests: every backend tier and thread count must produce bit-identical traces,
 * and the scalar engine must match a naive implementation of the ARITHMETIC CONTRACT written
 * here with straight loops (no packing, no im2col, explicit floor division). */
#include <math.h>
#include <pthread.h>

#include "harness.h"
#include "enclaveml/model.h"

#define MAX_L 12

typedef struct tmodel {
    uint32_t act_bits, weight_bits;
    nn_shape input;
    size_t n_layers;
    nn_layer layers[MAX_L]; /* test-owned copies (weight/bias malloc'd here) */
    nn_model *m;
} tmodel;

static int64_t rnd(int64_t lo, int64_t hi) { return lo + (int64_t)(th_rand() % (uint64_t)(hi - lo + 1)); }

static void tmodel_free(tmodel *t)
{
    for (size_t i = 0; i < t->n_layers; i++) {
        free(t->layers[i].weight);
        free(t->layers[i].bias);
    }
    nn_model_free(t->m);
    memset(t, 0, sizeof *t);
}

/* ---- naive reference ------------------------------------------------------------------------ */

static int64_t floor_div(int64_t n, int64_t d)
{
    int64_t q = n / d;
    if (n % d != 0 && n < 0)
        q--;
    return q;
}

static int32_t clampi(int64_t v, int64_t lo, int64_t hi) { return (int32_t)(v < lo ? lo : v > hi ? hi : v); }

static int64_t requant_ref(int64_t acc, uint32_t k)
{
    if (!k)
        return acc;
    return floor_div(acc + ((int64_t)1 << (k - 1)), (int64_t)1 << k);
}

/* One sample through one layer; acc gets the pre-requantization values for dense/conv. */
static void layer_ref(const tmodel *t, const nn_layer *L, const int32_t *x, int32_t *y, int64_t *acc)
{
    int64_t amin = -((int64_t)1 << (t->act_bits - 1)), amax = ((int64_t)1 << (t->act_bits - 1)) - 1;
    uint32_t C = L->in.c, H = L->in.h, W = L->in.w;
    switch (L->kind) {
    case NN_DENSE: {
        size_t nin = nn_shape_size(L->in), nout = nn_shape_size(L->out);
        for (size_t o = 0; o < nout; o++) {
            int64_t s = L->bias[o];
            for (size_t i = 0; i < nin; i++)
                s += (int64_t)L->weight[o * nin + i] * x[i];
            acc[o] = s;
            y[o] = clampi(requant_ref(s, L->shift), L->act == NN_ACT_RELU ? 0 : amin, amax);
        }
        break;
    }
    case NN_CONV2D:
        for (uint32_t co = 0; co < L->out.c; co++)
            for (uint32_t oy = 0; oy < L->out.h; oy++)
                for (uint32_t ox = 0; ox < L->out.w; ox++) {
                    int64_t s = L->bias[co];
                    for (uint32_t ci = 0; ci < C; ci++)
                        for (uint32_t ky = 0; ky < L->kh; ky++)
                            for (uint32_t kx = 0; kx < L->kw; kx++) {
                                long iy = (long)(oy * L->sh + ky) - (long)L->pt;
                                long ix = (long)(ox * L->sw + kx) - (long)L->pl;
                                if (iy < 0 || ix < 0 || iy >= (long)H || ix >= (long)W)
                                    continue;
                                s += (int64_t)L->weight[((co * C + ci) * L->kh + ky) * L->kw + kx] *
                                     x[(ci * H + (uint32_t)iy) * W + (uint32_t)ix];
                            }
                    size_t o = (co * L->out.h + oy) * L->out.w + ox;
                    acc[o] = s;
                    y[o] = clampi(requant_ref(s, L->shift), L->act == NN_ACT_RELU ? 0 : amin, amax);
                }
        break;
    case NN_MAXPOOL:
    case NN_AVGPOOL:
        for (uint32_t c = 0; c < C; c++)
            for (uint32_t oy = 0; oy < L->out.h; oy++)
                for (uint32_t ox = 0; ox < L->out.w; ox++) {
                    int64_t s = 0, d = 0, mx = INT64_MIN;
                    for (uint32_t ky = 0; ky < L->kh; ky++)
                        for (uint32_t kx = 0; kx < L->kw; kx++) {
                            long iy = (long)(oy * L->sh + ky) - (long)L->pt;
                            long ix = (long)(ox * L->sw + kx) - (long)L->pl;
                            if (iy < 0 || ix < 0 || iy >= (long)H || ix >= (long)W) {
                                d += L->count_include_pad; /* floor output shape: window inside pads */
                                continue;
                            }
                            int64_t v = x[(c * H + (uint32_t)iy) * W + (uint32_t)ix];
                            s += v;
                            d++;
                            if (v > mx)
                                mx = v;
                        }
                    size_t o = (c * L->out.h + oy) * L->out.w + ox;
                    if (L->kind == NN_MAXPOOL) {
                        y[o] = (int32_t)mx;
                    } else {
                        int64_t mult = (int64_t)round(ldexp(1.0, (int)L->shift) / (double)d);
                        y[o] = clampi(requant_ref(s * mult, L->shift), amin, amax);
                    }
                }
        break;
    case NN_ACT:
        for (size_t i = 0; i < nn_shape_size(L->in); i++)
            y[i] = x[i] < 0 ? 0 : x[i];
        break;
    case NN_RESHAPE:
        memcpy(y, x, nn_shape_size(L->in) * sizeof *x);
        break;
    }
}

/* ---- random models ---------------------------------------------------------------------------- */

static uint32_t ilog2_ceil(uint64_t v)
{
    uint32_t r = 0;
    while (((uint64_t)1 << r) < v)
        r++;
    return r;
}

static nn_shape cur_shape(const tmodel *t)
{
    return t->n_layers ? t->layers[t->n_layers - 1].out : t->input;
}

/* Weights: random, all-max, all-min or alternating extremes (mode 0..3). */
static void fill_weights(const tmodel *t, nn_layer *L, size_t nw, size_t nb, uint32_t fan_in, int mode)
{
    int32_t wmax = (int32_t)((1u << (t->weight_bits - 1)) - 1), wmin = -wmax - 1;
    L->weight = malloc(nw * sizeof *L->weight);
    L->bias = malloc(nb * sizeof *L->bias);
    L->n_weight = nw;
    L->n_bias = nb;
    for (size_t i = 0; i < nw; i++)
        L->weight[i] = mode == 1 ? wmax : mode == 2 ? wmin : mode == 3 ? (i & 1 ? wmin : wmax) : (int32_t)rnd(wmin, wmax);
    int64_t bmax = (int64_t)1 << (t->act_bits + t->weight_bits - 2 + (th_rand() % 3));
    for (size_t i = 0; i < nb; i++)
        L->bias[i] = rnd(-bmax, bmax);
    /* A shift near log2(sqrt(fan_in) * 2^(w-1)) keeps outputs mostly unclamped; randomised so
     * that both clamping and rounding of negative accumulators happen. */
    int64_t sh = (int64_t)(ilog2_ceil(fan_in) / 2 + t->weight_bits - 1) + rnd(-3, 2);
    L->shift = (uint32_t)(sh < 0 ? 0 : sh);
    if (th_rand() % 8 == 0)
        L->shift = 0;
    L->w_scale = (int32_t)L->shift; /* in_scale 0 everywhere: out_scale = in_scale */
}

static void push(tmodel *t, nn_layer *L)
{
    L->in = cur_shape(t);
    snprintf(L->name, sizeof L->name, "L%zu", t->n_layers);
    t->layers[t->n_layers++] = *L;
}

static void add_dense(tmodel *t, uint32_t nout, int mode)
{
    nn_layer L = {.kind = NN_DENSE};
    nn_shape in = cur_shape(t);
    uint32_t nin = (uint32_t)nn_shape_size(in);
    L.out = (nn_shape){nout, 1, 1};
    L.act = th_rand() % 2 ? NN_ACT_RELU : NN_ACT_NONE;
    fill_weights(t, &L, (size_t)nout * nin, nout, nin, mode);
    push(t, &L);
}

static uint32_t pick_pad(uint32_t k) { return k > 1 ? (uint32_t)rnd(0, k - 1) : 0; }

static int add_window(tmodel *t, nn_layer_kind kind, uint32_t cout, int mode)
{
    nn_shape in = cur_shape(t);
    nn_layer L = {.kind = kind};
    L.kh = (uint32_t)rnd(1, 3 < in.h + 1 ? 3 : in.h + 1);
    L.kw = (uint32_t)rnd(1, 3);
    L.sh = (uint32_t)rnd(1, 2);
    L.sw = (uint32_t)rnd(1, 3);
    L.pt = pick_pad(L.kh);
    L.pb = pick_pad(L.kh);
    L.pl = pick_pad(L.kw);
    L.pr = pick_pad(L.kw);
    if (in.h + L.pt + L.pb < L.kh || in.w + L.pl + L.pr < L.kw)
        return 0;
    uint32_t oh = (in.h + L.pt + L.pb - L.kh) / L.sh + 1, ow = (in.w + L.pl + L.pr - L.kw) / L.sw + 1;
    L.out = (nn_shape){kind == NN_CONV2D ? cout : in.c, oh, ow};
    if (kind == NN_CONV2D) {
        L.act = th_rand() % 2 ? NN_ACT_RELU : NN_ACT_NONE;
        uint32_t fan = in.c * L.kh * L.kw;
        fill_weights(t, &L, (size_t)cout * fan, cout, fan, mode);
    } else if (kind == NN_AVGPOOL) {
        L.count_include_pad = (uint32_t)(th_rand() % 2);
        L.shift = 16;
    }
    push(t, &L);
    return 1;
}

static void add_simple(tmodel *t, nn_layer_kind kind)
{
    nn_layer L = {.kind = kind};
    nn_shape in = cur_shape(t);
    L.out = kind == NN_RESHAPE ? (nn_shape){(uint32_t)nn_shape_size(in), 1, 1} : in;
    if (kind == NN_ACT)
        L.act = NN_ACT_RELU;
    push(t, &L);
}

static int tmodel_finish(tmodel *t, em_err *err)
{
    if (nn_model_create("test", t->input, t->act_bits, t->weight_bits, 0, &t->m, err) != EM_OK)
        return 0;
    for (size_t i = 0; i < t->n_layers; i++)
        if (nn_model_add_layer(t->m, &t->layers[i], err) != EM_OK) {
            fprintf(stderr, "add_layer %zu: %s\n", i, em_err_msg(err));
            return 0;
        }
    return 1;
}

static void random_model(tmodel *t)
{
    memset(t, 0, sizeof *t);
    static const uint32_t bits[] = {8, 16, 8, 16, 2, 5, 12, 15};
    t->act_bits = bits[th_rand() % 8];
    t->weight_bits = bits[th_rand() % 8];
    int mode = (int)(th_rand() % 6);
    mode = mode > 3 ? 0 : mode;
    if (th_rand() % 3 == 0) {
        t->input = (nn_shape){(uint32_t)rnd(1, 70), 1, 1};
    } else {
        t->input = (nn_shape){(uint32_t)rnd(1, 3), (uint32_t)rnd(1, 9), (uint32_t)rnd(1, 9)};
        size_t n = (size_t)rnd(1, 4);
        for (size_t i = 0; i < n && t->n_layers < MAX_L - 4; i++) {
            switch (th_rand() % 5) {
            case 0:
            case 1:
                add_window(t, NN_CONV2D, (uint32_t)rnd(1, 6), mode);
                break;
            case 2:
                add_window(t, NN_MAXPOOL, 0, 0);
                break;
            case 3:
                add_window(t, NN_AVGPOOL, 0, 0);
                break;
            case 4:
                add_simple(t, NN_ACT);
                break;
            }
        }
        add_simple(t, NN_RESHAPE);
    }
    size_t nd = (size_t)rnd(1, 3);
    for (size_t i = 0; i < nd; i++)
        add_dense(t, (uint32_t)rnd(1, 40), mode);
}

static int32_t *random_input(const tmodel *t, size_t n)
{
    size_t len = nn_shape_size(t->input) * n;
    int32_t *x = malloc(len * sizeof *x);
    int32_t lo = -(1 << (t->act_bits - 1)), hi = (1 << (t->act_bits - 1)) - 1;
    for (size_t s = 0; s < n; s++) {
        int kind = (int)(th_rand() % 4); /* random, all min, all max, alternating */
        for (size_t i = 0; i < nn_shape_size(t->input); i++)
            x[s * nn_shape_size(t->input) + i] =
                kind == 1 ? lo : kind == 2 ? hi : kind == 3 ? (i & 1 ? lo : hi) : (int32_t)rnd(lo, hi);
    }
    return x;
}

/* Runs the naive reference over n samples and compares with a scalar trace. */
static int check_against_ref(const tmodel *t, const int32_t *x, size_t n, const nn_trace *tr)
{
    size_t maxsz = nn_shape_size(t->input);
    for (size_t i = 0; i < t->n_layers; i++)
        if (nn_shape_size(t->layers[i].out) > maxsz)
            maxsz = nn_shape_size(t->layers[i].out);
    int32_t *a = malloc(maxsz * sizeof *a), *b = malloc(maxsz * sizeof *b);
    int64_t *acc = malloc(maxsz * sizeof *acc);
    int ok = 1;
    for (size_t s = 0; s < n && ok; s++) {
        size_t in_sz = nn_shape_size(t->input);
        memcpy(a, x + s * in_sz, in_sz * sizeof *a);
        if (memcmp(tr->act[0] + s * in_sz, a, in_sz * sizeof *a) != 0) {
            fprintf(stderr, "trace act[0] differs from the input (sample %zu)\n", s);
            ok = 0;
        }
        for (size_t i = 0; i < t->n_layers && ok; i++) {
            const nn_layer *L = &t->layers[i];
            size_t osz = nn_shape_size(L->out);
            layer_ref(t, L, a, b, acc);
            for (size_t o = 0; o < osz && ok; o++) {
                if (tr->act[i + 1][s * osz + o] != b[o]) {
                    fprintf(stderr, "layer %zu (kind %d) sample %zu out %zu: engine %d, reference %d\n", i,
                            (int)L->kind, s, o, tr->act[i + 1][s * osz + o], b[o]);
                    ok = 0;
                }
                if ((L->kind == NN_DENSE || L->kind == NN_CONV2D) && tr->acc[i][s * osz + o] != acc[o]) {
                    fprintf(stderr, "layer %zu sample %zu acc %zu: engine %lld, reference %lld\n", i, s, o,
                            (long long)tr->acc[i][s * osz + o], (long long)acc[o]);
                    ok = 0;
                }
            }
            if (L->kind != NN_DENSE && L->kind != NN_CONV2D && tr->acc[i] != NULL) {
                fprintf(stderr, "layer %zu: acc must be NULL for kind %d\n", i, (int)L->kind);
                ok = 0;
            }
            int32_t *tmp = a;
            a = b;
            b = tmp;
        }
    }
    free(a);
    free(b);
    free(acc);
    return ok;
}

static const char *const tier_names[] = {"scalar", "avx2", "avx512", "avx512vnni"};
#define N_TIERS 4

static int traces_equal(const nn_trace *x, const nn_trace *y, size_t in_sz, const tmodel *t)
{
    if (x->n_layers != y->n_layers || x->n_samples != y->n_samples)
        return 0;
    size_t n = x->n_samples;
    if (memcmp(x->act[0], y->act[0], n * in_sz * sizeof(int32_t)) != 0)
        return 0;
    for (size_t i = 0; i < t->n_layers; i++) {
        size_t osz = nn_shape_size(t->layers[i].out);
        if (memcmp(x->act[i + 1], y->act[i + 1], n * osz * sizeof(int32_t)) != 0)
            return 0;
        if ((x->acc[i] == NULL) != (y->acc[i] == NULL))
            return 0;
        if (x->acc[i] && memcmp(x->acc[i], y->acc[i], n * osz * sizeof(int64_t)) != 0)
            return 0;
    }
    return 1;
}

/* A caller-supplied trace allocator (nn_run_opts.trace_alloc/trace_free): counts its calls. */
static size_t n_trace_allocs, n_trace_frees;
static void *count_alloc(size_t bytes)
{
    n_trace_allocs++;
    return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
}
static void count_free(void *p)
{
    if (p)
        n_trace_frees++;
    free(p);
}

/* The model against the reference on the scalar tier, then every tier x thread count against
 * the scalar trace, for both nn_model_run_trace and nn_model_run (with 2 threads the trace's
 * buffers come from a caller-supplied allocator, every one released through it). */
static void check_model(tmodel *t, size_t n)
{
    em_err err = {0};
    int32_t *x = random_input(t, n);
    nn_run_opts o = {.backend = nn_backend_get("scalar"), .threads = 1};
    nn_trace ref;
    em_status st = nn_model_run_trace(t->m, &o, x, n, &ref, &err);
    CHECK_OK(st, &err);
    if (st != EM_OK) {
        free(x);
        return;
    }
    if (!check_against_ref(t, x, n, &ref)) {
        fprintf(stderr, "model: act_bits %u weight_bits %u, %zu layers, %zu samples\n", t->act_bits, t->weight_bits,
                t->n_layers, n);
        CHECK(0);
    }
    size_t in_sz = nn_shape_size(t->input), out_sz = nn_model_output_size(t->m);
    int32_t *out = malloc((n ? n : 1) * out_sz * sizeof *out);
    for (int ti = 0; ti < N_TIERS; ti++) {
        const nn_backend *be = nn_backend_get(tier_names[ti]);
        if (!be)
            continue;
        for (int th = 1; th <= 3; th++) {
            nn_run_opts oo = {.backend = be, .threads = th};
            if (th == 2) {
                oo.trace_alloc = count_alloc;
                oo.trace_free = count_free;
                n_trace_allocs = n_trace_frees = 0;
            }
            nn_trace tr;
            CHECK_OK(nn_model_run_trace(t->m, &oo, x, n, &tr, &err), &err);
            if (!traces_equal(&ref, &tr, in_sz, t)) {
                fprintf(stderr, "trace of %s with %d threads differs from scalar (bits %u/%u)\n", tier_names[ti], th,
                        t->act_bits, t->weight_bits);
                CHECK(0);
            }
            nn_trace_free(&tr);
            if (th == 2)
                CHECK(n_trace_allocs > 0 && n_trace_frees == n_trace_allocs);
            memset(out, 0x5a, n * out_sz * sizeof *out);
            CHECK_OK(nn_model_run(t->m, &oo, x, n, out, &err), &err);
            if (memcmp(out, ref.act[t->n_layers], n * out_sz * sizeof *out) != 0) {
                fprintf(stderr, "run of %s with %d threads differs from the scalar trace\n", tier_names[ti], th);
                CHECK(0);
            }
        }
    }
    /* an allocator without its release function is refused */
    nn_run_opts half = {.trace_alloc = count_alloc};
    nn_trace tr;
    CHECK_ST(nn_model_run_trace(t->m, &half, x, n, &tr, &err), EM_ERR_ARG, &err);
    free(out);
    nn_trace_free(&ref);
    free(x);
}

static void test_backends_listed(void)
{
    const nn_backend *s = nn_backend_get("scalar");
    CHECK(s != NULL);
    CHECK(strcmp(nn_backend_name(s), "scalar") == 0);
    CHECK(nn_backend_get("auto") != NULL);
    CHECK(nn_backend_get(NULL) != NULL);
    CHECK(nn_backend_get("bogus") == NULL);
    fprintf(stderr, "    auto = %s; available:", nn_backend_name(nn_backend_get("auto")));
    for (int i = 0; i < N_TIERS; i++)
        if (nn_backend_get(tier_names[i]))
            fprintf(stderr, " %s", tier_names[i]);
    fprintf(stderr, "\n");
}

static void test_random_models(void)
{
    em_err err = {0};
    for (int it = 0; it < 60; it++) {
        tmodel t;
        random_model(&t);
        if (!tmodel_finish(&t, &err)) {
            CHECK(0);
            tmodel_free(&t);
            continue;
        }
        static const size_t ns[] = {1, 2, 3, 7, 70};
        check_model(&t, ns[th_rand() % 5]);
        tmodel_free(&t);
    }
}

/* Larger shapes than the random models: several column blocks and row tiles per GEMM (13 and
 * 70 output channels, 144 positions, k = 117), strides 1 and 2, odd k. */
static void test_larger_cnn(void)
{
    em_err err = {0};
    for (int bits = 0; bits < 2; bits++) {
        tmodel t;
        memset(&t, 0, sizeof t);
        t.act_bits = bits ? 16 : 8;
        t.weight_bits = bits ? 12 : 8;
        t.input = (nn_shape){3, 12, 12};
        nn_layer c1 = {.kind = NN_CONV2D, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .pt = 1, .pl = 1, .pb = 1, .pr = 1,
                       .out = {13, 12, 12}, .act = NN_ACT_RELU};
        fill_weights(&t, &c1, 13 * 3 * 9, 13, 27, 0);
        push(&t, &c1);
        nn_layer c2 = {.kind = NN_CONV2D, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .pt = 1, .pl = 0, .pb = 0, .pr = 2,
                       .out = {70, 6, 6}};
        fill_weights(&t, &c2, 70 * 13 * 9, 70, 117, 0);
        push(&t, &c2);
        nn_layer mp = {.kind = NN_MAXPOOL, .kh = 2, .kw = 2, .sh = 2, .sw = 2, .out = {70, 3, 3}};
        push(&t, &mp);
        add_simple(&t, NN_RESHAPE);
        add_dense(&t, 33, 0);
        if (!tmodel_finish(&t, &err)) {
            CHECK(0);
        } else {
            check_model(&t, 67);
        }
        tmodel_free(&t);
    }
}

/* Dense layers chosen to hit the int32 lane bounds of the SIMD tiers exactly: all-min inputs
 * times all-min weights make every product the largest positive one. */
static void test_overflow_edges(void)
{
    em_err err = {0};
    static const struct {
        uint32_t a, w, nin;
    } cases[] = {
        {16, 16, 67},   /* madd unsafe: tiers must fall back */
        {16, 15, 70},   /* one madd per widening */
        {16, 8, 5000},  /* widening every 255 steps: 5000 inputs span several chunks */
        {15, 16, 300},  /* pair just fits */
        {8, 8, 4097},   /* common case, long k */
        {12, 12, 999},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int mode = 1; mode <= 3; mode++) {
            tmodel t;
            memset(&t, 0, sizeof t);
            t.act_bits = cases[c].a;
            t.weight_bits = cases[c].w;
            t.input = (nn_shape){cases[c].nin, 1, 1};
            add_dense(&t, 9, mode);
            t.layers[0].shift = 20; /* keep outputs in range-ish; rounding still exercised */
            t.layers[0].w_scale = 20;
            t.layers[0].act = NN_ACT_NONE;
            if (!tmodel_finish(&t, &err)) {
                CHECK(0);
                tmodel_free(&t);
                continue;
            }
            size_t n = 5;
            int32_t *x = malloc(n * cases[c].nin * sizeof *x);
            int32_t lo = -(1 << (t.act_bits - 1)), hi = (1 << (t.act_bits - 1)) - 1;
            for (size_t i = 0; i < n * cases[c].nin; i++)
                x[i] = mode == 1 ? hi : lo;
            /* expected accumulator, computed directly */
            int64_t expect = t.layers[0].bias[0];
            for (size_t i = 0; i < cases[c].nin; i++)
                expect += (int64_t)x[i] * t.layers[0].weight[i];
            for (int ti = 0; ti < N_TIERS; ti++) {
                const nn_backend *be = nn_backend_get(tier_names[ti]);
                if (!be)
                    continue;
                nn_run_opts o = {.backend = be, .threads = 2};
                nn_trace tr;
                CHECK_OK(nn_model_run_trace(t.m, &o, x, n, &tr, &err), &err);
                if (tr.acc) {
                    for (size_t s = 0; s < n; s++)
                        CHECK_EQ_I64(tr.acc[0][s * 9], expect);
                    CHECK(check_against_ref(&t, x, n, &tr));
                }
                nn_trace_free(&tr);
            }
            free(x);
            tmodel_free(&t);
        }
    }
}

/* avgpool at 16 bits: a 2x3 window of act_max gives m = round(65536/6) = 10923 and
 * (6*32767*10923 + 2^15) >> 16 = 32768, one above act_max: the engine clamps. */
static void test_avgpool_clamp(void)
{
    em_err err = {0};
    tmodel t;
    memset(&t, 0, sizeof t);
    t.act_bits = 16;
    t.weight_bits = 8;
    t.input = (nn_shape){1, 2, 3};
    nn_layer L = {.kind = NN_AVGPOOL, .kh = 2, .kw = 3, .sh = 1, .sw = 1, .shift = 16};
    L.out = (nn_shape){1, 1, 1};
    push(&t, &L);
    CHECK(tmodel_finish(&t, &err));
    int32_t x[6] = {32767, 32767, 32767, 32767, 32767, 32767}, y = 0;
    CHECK_OK(nn_model_run(t.m, NULL, x, 1, &y, &err), &err);
    CHECK_EQ_I64(y, 32767);
    int32_t x2[6] = {-5, -4, 0, 1, 3, 3}, y2 = 0; /* sum -2: (-21846 + 32768) >> 16 = 0 */
    CHECK_OK(nn_model_run(t.m, NULL, x2, 1, &y2, &err), &err);
    CHECK_EQ_I64(y2, 0);
    int32_t x3[6] = {-5, -4, 0, 1, 2, 3}, y3 = 0; /* sum -3: (-32769 + 32768) >> 16 = -1 */
    CHECK_OK(nn_model_run(t.m, NULL, x3, 1, &y3, &err), &err);
    CHECK_EQ_I64(y3, -1);
    tmodel_free(&t);
}

/* Requantization of hand-picked accumulators: a 1-input dense layer with weight 1 makes the
 * accumulator equal to input + bias. */
static void test_requant_rounding(void)
{
    em_err err = {0};
    static const struct {
        int64_t bias;
        int32_t x;
        uint32_t shift;
        nn_act act;
        int32_t expect;
    } cases[] = {
        {0, -3, 1, NN_ACT_NONE, -1},    /* -1.5 rounds half up to -1 */
        {0, -5, 1, NN_ACT_NONE, -2},    /* -2.5 -> -2 */
        {0, 3, 1, NN_ACT_NONE, 2},      /* 1.5 -> 2 */
        {0, -7, 2, NN_ACT_NONE, -2},    /* -1.75 -> -2 */
        {0, -6, 2, NN_ACT_NONE, -1},    /* -1.5 -> -1 */
        {0, -1, 3, NN_ACT_NONE, 0},     /* -0.125 -> 0 */
        {0, -100, 0, NN_ACT_NONE, -100},
        {0, -100, 0, NN_ACT_RELU, 0},
        {1000, 0, 2, NN_ACT_NONE, 127}, /* 250 clamps to act_max */
        {-1000, 0, 2, NN_ACT_NONE, -128},
        {-1000, 0, 2, NN_ACT_RELU, 0},
        {-4, -128, 0, NN_ACT_NONE, -128},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nn_model *m = NULL;
        CHECK_OK(nn_model_create("rq", (nn_shape){1, 1, 1}, 8, 8, 0, &m, &err), &err);
        int32_t w = 1;
        int64_t b = cases[c].bias;
        nn_layer L = {.kind = NN_DENSE, .in = {1, 1, 1}, .out = {1, 1, 1}, .weight = &w, .n_weight = 1, .bias = &b,
                      .n_bias = 1, .shift = cases[c].shift, .w_scale = (int32_t)cases[c].shift, .act = cases[c].act};
        CHECK_OK(nn_model_add_layer(m, &L, &err), &err);
        for (int ti = 0; ti < N_TIERS; ti++) {
            const nn_backend *be = nn_backend_get(tier_names[ti]);
            if (!be)
                continue;
            nn_run_opts o = {.backend = be, .threads = 1};
            int32_t y = 12345;
            CHECK_OK(nn_model_run(m, &o, &cases[c].x, 1, &y, &err), &err);
            if (y != cases[c].expect)
                fprintf(stderr, "case %zu tier %s\n", c, tier_names[ti]);
            CHECK_EQ_I64(y, cases[c].expect);
        }
        nn_model_free(m);
    }
}

typedef struct packed_run {
    const nn_model *m;
    int32_t x[2], y[2];
    em_status st;
} packed_run;

static void *packed_run_main(void *arg)
{
    packed_run *r = arg;
    em_err err = {0};
    nn_run_opts o = {.threads = 1};
    r->st = nn_model_run(r->m, &o, r->x, 1, r->y, &err);
    return NULL;
}

/* The packed weights are built on a layer's first run (concurrent first runs share one copy),
 * kept across runs, extended when layers are added, and dropped by nn_model_weights_changed. */
static void test_packed_weights_cache(void)
{
    em_err err = {0};
    nn_model *m = NULL;
    CHECK_OK(nn_model_create("pk", (nn_shape){2, 1, 1}, 8, 8, 0, &m, &err), &err);
    int32_t w[4] = {1, 2, 3, 4};
    int64_t b[2] = {0, 0};
    nn_layer L = {.kind = NN_DENSE, .in = {2, 1, 1}, .out = {2, 1, 1}, .weight = w, .n_weight = 4, .bias = b,
                  .n_bias = 2, .act = NN_ACT_NONE};
    CHECK_OK(nn_model_add_layer(m, &L, &err), &err);
    packed_run r[4];
    pthread_t tid[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (packed_run){.m = m, .x = {5, 7}, .st = EM_ERR_INTERNAL};
        CHECK(pthread_create(&tid[i], NULL, packed_run_main, &r[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(tid[i], NULL);
        CHECK(r[i].st == EM_OK && r[i].y[0] == 19 && r[i].y[1] == 43);
    }
    int32_t x[2] = {5, 7}, y[2];
    CHECK_OK(nn_model_run(m, NULL, x, 1, y, &err), &err);
    CHECK(y[0] == 19 && y[1] == 43);
    /* a second layer after runs of the first */
    CHECK_OK(nn_model_add_layer(m, &L, &err), &err);
    x[0] = 1;
    x[1] = 0;
    CHECK_OK(nn_model_run(m, NULL, x, 1, y, &err), &err); /* (1, 3) then (7, 15) */
    CHECK(y[0] == 7 && y[1] == 15);
    /* the packed copy is reused: a weight changed behind the model's back is not seen (the
     * documented contract) until nn_model_weights_changed */
    nn_model_layer(m, 0)->weight[0] = -1;
    CHECK_OK(nn_model_run(m, NULL, x, 1, y, &err), &err);
    CHECK(y[0] == 7 && y[1] == 15);
    nn_model_weights_changed(m);
    CHECK_OK(nn_model_run(m, NULL, x, 1, y, &err), &err); /* (-1, 3) then (5, 9) */
    CHECK(y[0] == 5 && y[1] == 9);
    /* an out-of-range weight is still refused, and the next valid run works */
    nn_model_layer(m, 1)->weight[3] = 300;
    nn_model_weights_changed(m);
    CHECK_ST(nn_model_run(m, NULL, x, 1, y, &err), EM_ERR_RANGE, &err);
    nn_model_layer(m, 1)->weight[3] = 4;
    nn_model_weights_changed(m);
    CHECK_OK(nn_model_run(m, NULL, x, 1, y, &err), &err);
    CHECK(y[0] == 5 && y[1] == 9);
    nn_model_free(m);
}

static void test_bad_inputs(void)
{
    em_err err = {0};
    nn_model *m = NULL;
    CHECK_OK(nn_model_create("bad", (nn_shape){2, 1, 1}, 8, 8, 0, &m, &err), &err);
    int32_t x[2] = {5, 128}, y[2];
    CHECK_ST(nn_model_run(m, NULL, x, 1, y, &err), EM_ERR_RANGE, &err);
    CHECK_STR_CONTAINS(err.msg, "128");
    x[1] = -129;
    nn_trace tr;
    CHECK_ST(nn_model_run_trace(m, NULL, x, 1, &tr, &err), EM_ERR_RANGE, &err);
    CHECK(tr.act == NULL);
    x[1] = 1;
    nn_run_opts o = {.backend = NULL, .threads = -1};
    CHECK_ST(nn_model_run(m, &o, x, 1, y, &err), EM_ERR_ARG, &err);
    CHECK_ST(nn_model_run(m, NULL, NULL, 1, y, &err), EM_ERR_ARG, &err);
    /* no layers: output = input */
    CHECK_OK(nn_model_run(m, NULL, x, 1, y, &err), &err);
    CHECK(y[0] == 5 && y[1] == 1);
    nn_model_free(m);
}

static void test_quantize_input(void)
{
    em_err err = {0};
    nn_model *m = NULL;
    CHECK_OK(nn_model_create("q", (nn_shape){12, 1, 1}, 8, 8, 0, &m, &err), &err);
    float x[12] = {0.5f, -0.5f, 1.5f, -1.5f, 2.49f, -2.51f, 127.4f, 127.6f, -128.4f, -300.0f, INFINITY, 0.0f};
    int32_t expect[12] = {1, -1, 2, -2, 2, -3, 127, 127, -128, -128, 127, 0};
    int32_t q[12];
    CHECK_OK(nn_model_quantize_input(m, x, 1, q, &err), &err);
    for (int i = 0; i < 12; i++)
        CHECK_EQ_I64(q[i], expect[i]);
    x[3] = NAN;
    CHECK_ST(nn_model_quantize_input(m, x, 1, q, &err), EM_ERR_RANGE, &err);
    nn_model_free(m);

    CHECK_OK(nn_model_create("q", (nn_shape){4, 1, 1}, 16, 8, 3, &m, &err), &err);
    float y[4] = {0.0625f, -0.0625f, 0.0624f, -4096.0f}; /* x8: 0.5 -> 1, -0.5 -> -1, 0.4992 -> 0 */
    int32_t ey[4] = {1, -1, 0, -32768};
    CHECK_OK(nn_model_quantize_input(m, y, 1, q, &err), &err);
    for (int i = 0; i < 4; i++)
        CHECK_EQ_I64(q[i], ey[i]);
    nn_model_free(m);
}

static void test_argmax(void)
{
    int32_t q[12] = {3, 5, 5, 1, /**/ 7, 7, 7, 7, /**/ -9, -2, -3, -2};
    uint32_t p[3];
    nn_argmax(q, 3, 4, p);
    CHECK_EQ_U64(p[0], 1);
    CHECK_EQ_U64(p[1], 0);
    CHECK_EQ_U64(p[2], 1);
}

static void test_postprocess(void)
{
    em_err err = {0};
    nn_model *m = NULL;
    CHECK_OK(nn_model_create("pp", (nn_shape){3, 1, 1}, 16, 8, 4, &m, &err), &err);
    /* identity-like dense with out_scale 4: shift = in 4 + w 0 - out 4 = 0 */
    int32_t w[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    int64_t b[3] = {0, 0, 0};
    nn_layer L = {.kind = NN_DENSE, .in = {3, 1, 1}, .out = {3, 1, 1}, .weight = w, .n_weight = 9, .bias = b,
                  .n_bias = 3, .in_scale = 4, .out_scale = 4};
    CHECK_OK(nn_model_add_layer(m, &L, &err), &err);
    int32_t q[6] = {16, -8, 0, 32000, 32000, -32000};
    double r[6];
    nn_model_postprocess(m, q, 2, r);
    CHECK(r[0] == 1.0 && r[1] == -0.5 && r[2] == 0.0 && r[3] == 2000.0);
    nn_model_set_softmax(m, 1);
    nn_model_postprocess(m, q, 2, r);
    double e0 = exp(1.0), e1 = exp(-0.5), e2 = 1.0, s = e0 + e1 + e2;
    CHECK(fabs(r[0] - e0 / s) < 1e-12 && fabs(r[1] - e1 / s) < 1e-12 && fabs(r[2] - e2 / s) < 1e-12);
    CHECK(fabs(r[0] + r[1] + r[2] - 1.0) < 1e-12);
    /* large logits do not overflow exp(): two equal maxima share the mass */
    CHECK(fabs(r[3] - 0.5) < 1e-12 && fabs(r[4] - 0.5) < 1e-12 && r[5] >= 0.0 && r[5] < 1e-300);
    CHECK(fabs(r[3] + r[4] + r[5] - 1.0) < 1e-12);
    nn_model_free(m);
}

int main(void)
{
    th_init("test_backend");
    TH_RUN(test_backends_listed);
    TH_RUN(test_requant_rounding);
    TH_RUN(test_avgpool_clamp);
    TH_RUN(test_overflow_edges);
    TH_RUN(test_random_models);
    TH_RUN(test_larger_cnn);
    TH_RUN(test_bad_inputs);
    TH_RUN(test_packed_weights_cache);
    TH_RUN(test_quantize_input);
    TH_RUN(test_argmax);
    TH_RUN(test_postprocess);
    return th_finish();
}
