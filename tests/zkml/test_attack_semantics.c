/* Adversarial review: does the proven relation equal the engine's arithmetic for every window
 * geometry the verifying key accepts?
 *
 * The verifier evaluates the conv/pool selections itself (zk_conv.c, zk_maxpool.c). If its idea
 * of a window (stride, asymmetric pads, count_include_pad, non-square kernels) differed from
 * the engine's (model/run.c), the proofs would certify a function other than the model's: a
 * worker could then return that other function's output with a valid proof. Such a mismatch
 * shows up as an honest proof that fails to verify, or as a proven output that differs from
 * nn_model_run. Each geometry below is proven honestly, verified, and its output compared with
 * the engine; then one output value is changed and must be rejected. */
#include <inttypes.h>

#include "zk_testutil.h"

typedef struct geo {
    nn_layer_kind kind;
    uint32_t co, kh, kw, sh, sw, pt, pl, pb, pr, cip;
    const char *what;
} geo;

/* One windowed layer on in (ci x hi x wi), then flatten + dense to 4 outputs. */
static nn_model *build(nn_shape in, const geo *g)
{
    nn_model *m = NULL;
    em_err err = {0};
    if (nn_model_create("geo", in, 8, 8, 4, &m, &err) != EM_OK) {
        fprintf(stderr, "create: %s\n", err.msg);
        return NULL;
    }
    uint8_t seed[32] = {3};
    nn_model_set_blinding_seed(m, seed);
    nn_layer L;
    memset(&L, 0, sizeof L);
    L.kind = g->kind;
    L.in = in;
    L.kh = g->kh;
    L.kw = g->kw;
    L.sh = g->sh;
    L.sw = g->sw;
    L.pt = g->pt;
    L.pl = g->pl;
    L.pb = g->pb;
    L.pr = g->pr;
    uint32_t ho = (in.h + g->pt + g->pb - g->kh) / g->sh + 1, wo = (in.w + g->pl + g->pr - g->kw) / g->sw + 1;
    L.out = (nn_shape){g->kind == NN_CONV2D ? g->co : in.c, ho, wo};
    L.in_scale = L.out_scale = 4;
    if (g->kind == NN_CONV2D) {
        L.n_weight = (size_t)g->co * in.c * g->kh * g->kw;
        L.n_bias = g->co;
        L.weight = malloc(L.n_weight * sizeof *L.weight);
        L.bias = malloc(L.n_bias * sizeof *L.bias);
        for (size_t i = 0; i < L.n_weight; i++)
            L.weight[i] = (int32_t)(th_rand() % 256) - 128;
        for (size_t i = 0; i < L.n_bias; i++)
            L.bias[i] = (int64_t)(th_rand() % 2001) - 1000;
        L.shift = 9;
        L.w_scale = 7;
        L.out_scale = 4 + 7 - 9;
        L.act = NN_ACT_RELU;
    } else if (g->kind == NN_AVGPOOL) {
        L.shift = 16;
        L.count_include_pad = g->cip;
    }
    snprintf(L.name, sizeof L.name, "%s", g->what);
    if (!zt_add(m, &L, g->what)) {
        nn_model_free(m);
        return NULL;
    }
    int32_t sc = L.out_scale;
    size_t n = nn_shape_size(L.out);
    memset(&L, 0, sizeof L);
    L.kind = NN_RESHAPE;
    L.in = (nn_shape){0, 0, 0};
    L.in = nn_model_layer(m, 0)->out;
    L.out = (nn_shape){(uint32_t)n, 1, 1};
    L.in_scale = L.out_scale = sc;
    if (!zt_add(m, &L, "flatten")) {
        nn_model_free(m);
        return NULL;
    }
    memset(&L, 0, sizeof L);
    L.kind = NN_DENSE;
    L.in = (nn_shape){(uint32_t)n, 1, 1};
    L.out = (nn_shape){4, 1, 1};
    L.n_weight = 4 * n;
    L.n_bias = 4;
    L.weight = malloc(L.n_weight * sizeof *L.weight);
    L.bias = calloc(4, sizeof *L.bias);
    for (size_t i = 0; i < L.n_weight; i++)
        L.weight[i] = (int32_t)(th_rand() % 256) - 128;
    L.shift = 12;
    L.w_scale = 7;
    L.in_scale = sc;
    L.out_scale = sc + 7 - 12;
    snprintf(L.name, sizeof L.name, "fc");
    if (!zt_add(m, &L, "fc")) {
        nn_model_free(m);
        return NULL;
    }
    return m;
}

static void check_geometry(nn_shape in, const geo *g)
{
    nn_model *m = build(in, g);
    if (!m) {
        fprintf(stderr, "    %s: model rejected by the engine (skipped)\n", g->what);
        return;
    }
    em_err err = {0};
    zk_prover *p = NULL;
    em_status st = zk_prover_create(m, &p, &err);
    if (st != EM_OK) {
        fprintf(stderr, "    %s: not provable: %s\n", g->what, err.msg);
        CHECK(st == EM_ERR_UNSUPPORTED);
        nn_model_free(m);
        return;
    }
    size_t n = 3, k = nn_model_output_size(m);
    int32_t *x = zt_input(m, n), *y = calloc(n * k, sizeof *y), *ref = calloc(n * k, sizeof *ref);
    zk_context ctx = {.node_id = "geo"};
    uint8_t *pr = NULL;
    size_t len = 0;
    CHECK_OK(nn_model_run(m, NULL, x, n, ref, &err), &err);
    CHECK_OK(zk_prove(p, NULL, x, n, &ctx, y, &pr, &len, NULL, &err), &err);
    if (pr) {
        CHECK(memcmp(y, ref, n * k * sizeof *y) == 0);
        st = zk_verify(zk_prover_vk(p), x, n, y, &ctx, pr, len, NULL, &err);
        if (st != EM_OK)
            fprintf(stderr, "    %s: honest proof rejected (proof and engine disagree?): %s\n", g->what, err.msg);
        CHECK_OK(st, &err);
        y[th_rand() % (n * k)] ^= 1;
        CHECK(zk_verify(zk_prover_vk(p), x, n, y, &ctx, pr, len, NULL, &err) == EM_ERR_VERIFY);
    }
    free(pr);
    free(x);
    free(y);
    free(ref);
    zk_prover_free(p);
    nn_model_free(m);
}

static void test_conv_geometries(void)
{
    geo gs[] = {
        {NN_CONV2D, 4, 3, 3, 2, 2, 1, 1, 0, 0, 0, "conv k3 s2 pads top/left"},
        {NN_CONV2D, 3, 3, 3, 2, 2, 0, 0, 1, 1, 0, "conv k3 s2 pads bottom/right"},
        {NN_CONV2D, 2, 3, 1, 1, 1, 1, 0, 1, 0, 0, "conv k3x1 pads top/bottom"},
        {NN_CONV2D, 5, 1, 3, 1, 1, 0, 1, 0, 1, 0, "conv k1x3 pads left/right"},
        {NN_CONV2D, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, "conv k2 s2 no pad"},
        {NN_CONV2D, 3, 4, 4, 4, 4, 0, 0, 0, 0, 0, "conv k4 s4"},
    };
    for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++)
        check_geometry((nn_shape){2, 8, 8}, &gs[i]);
    geo rect = {NN_CONV2D, 3, 3, 1, 1, 1, 1, 0, 1, 0, 0, "conv on 2x8x4"};
    check_geometry((nn_shape){2, 8, 4}, &rect);
}

static void test_pool_geometries(void)
{
    geo gs[] = {
        {NN_AVGPOOL, 0, 3, 3, 2, 2, 1, 1, 1, 1, 1, "avgpool k3 s2 pad 1 count_include_pad"},
        {NN_AVGPOOL, 0, 3, 3, 2, 2, 1, 1, 1, 1, 0, "avgpool k3 s2 pad 1 exclude pad"},
        {NN_AVGPOOL, 0, 2, 2, 2, 2, 1, 1, 0, 0, 1, "avgpool k2 s2 pads top/left cip"},
        {NN_AVGPOOL, 0, 2, 2, 2, 2, 0, 0, 1, 1, 1, "avgpool k2 s2 pads bottom/right cip"},
        {NN_AVGPOOL, 0, 3, 3, 1, 1, 1, 1, 1, 1, 0, "avgpool k3 s1 same"},
        {NN_AVGPOOL, 0, 2, 2, 2, 2, 0, 0, 0, 0, 0, "avgpool k2 s2"},
        {NN_MAXPOOL, 0, 2, 2, 2, 2, 0, 0, 0, 0, 0, "maxpool k2 s2"},
        {NN_MAXPOOL, 0, 1, 2, 1, 2, 0, 0, 0, 0, 0, "maxpool k1x2 s1x2"},
        {NN_MAXPOOL, 0, 2, 1, 2, 1, 0, 0, 0, 0, 0, "maxpool k2x1 s2x1"},
        {NN_MAXPOOL, 0, 2, 2, 2, 2, 1, 1, 1, 1, 0, "maxpool k2 s2 pad 1"},
        {NN_MAXPOOL, 0, 3, 3, 2, 2, 1, 1, 1, 1, 0, "maxpool k3 s2 pad 1"},
        {NN_MAXPOOL, 0, 3, 3, 1, 1, 1, 1, 1, 1, 0, "maxpool k3 s1 same"},
        {NN_MAXPOOL, 0, 3, 2, 3, 1, 2, 0, 1, 1, 0, "maxpool k3x2 s3x1 pads 2,0,1,1"},
        {NN_MAXPOOL, 0, 4, 4, 3, 2, 3, 1, 0, 2, 0, "maxpool k4 s3x2 pads 3,1,0,2"},
    };
    for (size_t i = 0; i < sizeof gs / sizeof gs[0]; i++)
        check_geometry((nn_shape){3, 8, 8}, &gs[i]);
    geo overlap = {NN_MAXPOOL, 0, 2, 2, 1, 1, 0, 0, 0, 0, 0, "maxpool k2 s1 overlapping on 3x5x5"};
    check_geometry((nn_shape){3, 5, 5}, &overlap);
    geo avg_overlap = {NN_AVGPOOL, 0, 2, 2, 1, 1, 0, 0, 0, 0, 0, "avgpool k2 s1 overlapping on 3x5x5"};
    check_geometry((nn_shape){3, 5, 5}, &avg_overlap);
}

int main(void)
{
    th_init("test_attack_semantics");
    TH_RUN(test_conv_geometries);
    TH_RUN(test_pool_geometries);
    return th_finish();
}
