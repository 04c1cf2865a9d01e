/* Shared helpers of the inference-proof tests: random quantized MLPs and inputs. */
#ifndef EM_ZK_TESTUTIL_H
#define EM_ZK_TESTUTIL_H

#include <stdlib.h>
#include <string.h>

#include "enclaveml/model.h"
#include "enclaveml/zkml/ff_vec.h"
#include "enclaveml/zkml/zk.h"
#include "harness.h"

/* Random MLP dims[0] -> dims[1] -> ... -> dims[n-1]; hidden layers ReLU (fused, or as a
 * standalone NN_ACT layer when standalone_relu), last layer linear. Shifts keep most
 * pre-activations in the activation range. */
static inline nn_model *zt_mlp(const uint32_t *dims, size_t n, uint32_t act_bits, uint32_t weight_bits,
                               int standalone_relu, int flatten_first)
{
    nn_model *m = NULL;
    em_err err = {0};
    nn_shape in = {dims[0], 1, 1};
    if (flatten_first)
        in = (nn_shape){1, dims[0] / 4 ? 4 : 1, dims[0] / 4 ? dims[0] / 4 : dims[0]};
    if (nn_model_create("zk-test-mlp", in, act_bits, weight_bits, 4, &m, &err) != EM_OK) {
        fprintf(stderr, "nn_model_create: %s\n", err.msg);
        return NULL;
    }
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    nn_model_set_blinding_seed(m, seed);
    int32_t scale = 4;
    if (flatten_first) {
        nn_layer r;
        memset(&r, 0, sizeof r);
        r.kind = NN_RESHAPE;
        r.in = in;
        r.out = (nn_shape){dims[0], 1, 1};
        r.in_scale = r.out_scale = scale;
        snprintf(r.name, sizeof r.name, "flatten");
        if (nn_model_add_layer(m, &r, &err) != EM_OK) {
            fprintf(stderr, "add flatten: %s\n", err.msg);
            nn_model_free(m);
            return NULL;
        }
    }
    for (size_t l = 0; l + 1 < n; l++) {
        uint32_t ni = dims[l], no = dims[l + 1];
        nn_layer L;
        memset(&L, 0, sizeof L);
        L.kind = NN_DENSE;
        L.in = (nn_shape){ni, 1, 1};
        L.out = (nn_shape){no, 1, 1};
        L.n_weight = (size_t)ni * no;
        L.n_bias = no;
        L.weight = malloc(L.n_weight * sizeof *L.weight);
        L.bias = malloc(L.n_bias * sizeof *L.bias);
        int32_t wr = 1 << (weight_bits - 1);
        for (size_t i = 0; i < L.n_weight; i++)
            L.weight[i] = (int32_t)(th_rand() % (uint64_t)(2 * wr)) - wr;
        /* shift ~ log2(sqrt(n_in) * 2^(W-1)) keeps |q| near the activation range */
        unsigned lg = 0;
        while ((1u << lg) < ni)
            lg++;
        uint32_t k = (weight_bits - 1) + (lg + 1) / 2;
        L.w_scale = (int32_t)weight_bits - 1;
        L.in_scale = scale;
        L.out_scale = scale + L.w_scale - (int32_t)k;
        L.shift = k;
        for (size_t i = 0; i < L.n_bias; i++)
            L.bias[i] = (int64_t)(th_rand() % 4001) - 2000;
        int last = l + 2 == n;
        L.act = last || standalone_relu ? NN_ACT_NONE : NN_ACT_RELU;
        snprintf(L.name, sizeof L.name, "dense%zu", l);
        em_status st = nn_model_add_layer(m, &L, &err);
        free(L.weight);
        free(L.bias);
        if (st != EM_OK) {
            fprintf(stderr, "add dense: %s\n", err.msg);
            nn_model_free(m);
            return NULL;
        }
        scale = L.out_scale;
        if (!last && standalone_relu) {
            nn_layer R;
            memset(&R, 0, sizeof R);
            R.kind = NN_ACT;
            R.act = NN_ACT_RELU;
            R.in = R.out = (nn_shape){no, 1, 1};
            R.in_scale = R.out_scale = scale;
            snprintf(R.name, sizeof R.name, "relu%zu", l);
            if (nn_model_add_layer(m, &R, &err) != EM_OK) {
                fprintf(stderr, "add relu: %s\n", err.msg);
                nn_model_free(m);
                return NULL;
            }
        }
    }
    return m;
}

static inline int zt_add(nn_model *m, nn_layer *L, const char *what)
{
    em_err err = {0};
    em_status st = nn_model_add_layer(m, L, &err);
    if (st != EM_OK)
        fprintf(stderr, "add %s: %s\n", what, err.msg);
    free(L->weight);
    free(L->bias);
    return st == EM_OK;
}

/* Appends flatten (shape s -> s.c*s.h*s.w) then a dense layer to n_out outputs with random
 * 8-bit weights, zero bias and the given shift (activation none). */
static inline int zt_flatten_fc(nn_model *m, nn_shape s, int32_t sc, uint32_t n_out, uint32_t shift)
{
    nn_layer L;
    uint32_t ni = (uint32_t)nn_shape_size(s);
    memset(&L, 0, sizeof L);
    L.kind = NN_RESHAPE;
    L.in = s;
    L.out = (nn_shape){ni, 1, 1};
    L.in_scale = L.out_scale = sc;
    if (!zt_add(m, &L, "flatten"))
        return 0;
    memset(&L, 0, sizeof L);
    L.kind = NN_DENSE;
    L.in = (nn_shape){ni, 1, 1};
    L.out = (nn_shape){n_out, 1, 1};
    L.n_weight = (size_t)ni * n_out;
    L.n_bias = n_out;
    L.weight = malloc(L.n_weight * sizeof *L.weight);
    L.bias = calloc(n_out, sizeof *L.bias);
    for (size_t i = 0; i < L.n_weight; i++)
        L.weight[i] = (int32_t)(th_rand() % 256) - 128;
    L.shift = shift;
    L.w_scale = 7;
    L.in_scale = sc;
    L.out_scale = sc + 7 - (int32_t)shift;
    snprintf(L.name, sizeof L.name, "fc");
    return zt_add(m, &L, "fc");
}

static inline void zt_conv(nn_layer *L, nn_shape in, uint32_t co, uint32_t k, uint32_t pad, int32_t in_scale,
                           uint32_t act)
{
    memset(L, 0, sizeof *L);
    L->kind = NN_CONV2D;
    L->in = in;
    L->kh = L->kw = k;
    L->sh = L->sw = 1;
    L->pt = L->pl = L->pb = L->pr = pad;
    L->out = (nn_shape){co, in.h + 2 * pad - k + 1, in.w + 2 * pad - k + 1};
    L->n_weight = (size_t)co * in.c * k * k;
    L->n_bias = co;
    L->weight = malloc(L->n_weight * sizeof *L->weight);
    L->bias = malloc(co * sizeof *L->bias);
    for (size_t i = 0; i < L->n_weight; i++)
        L->weight[i] = (int32_t)(th_rand() % 256) - 128;
    for (size_t i = 0; i < co; i++)
        L->bias[i] = (int64_t)(th_rand() % 2001) - 1000;
    unsigned lg = 0;
    while ((1u << lg) < in.c * k * k)
        lg++;
    L->shift = 7 + (lg + 1) / 2;
    L->w_scale = 7;
    L->in_scale = in_scale;
    L->out_scale = in_scale + 7 - (int32_t)L->shift;
    L->act = act;
    snprintf(L->name, sizeof L->name, "conv%u", co);
}

static inline void zt_avgpool(nn_layer *L, nn_shape in, int32_t scale, uint32_t cip, uint32_t pad)
{
    memset(L, 0, sizeof *L);
    L->kind = NN_AVGPOOL;
    L->in = in;
    L->kh = L->kw = 2;
    L->sh = L->sw = 2;
    L->pb = L->pr = pad;
    L->count_include_pad = cip;
    L->out = (nn_shape){in.c, (in.h + pad - 2) / 2 + 1, (in.w + pad - 2) / 2 + 1};
    L->shift = 16;
    L->in_scale = L->out_scale = scale;
    snprintf(L->name, sizeof L->name, "avgpool%u", in.c);
}

/* Small CNN on 1x8x8: conv(4, 3x3, pad 1, ReLU) -> avgpool 2x2 (or maxpool 2x2) -> conv(8, 3x3,
 * pad 1) -> ReLU (standalone) -> avgpool 2x2 -> flatten -> dense 32 -> 10. */
static inline nn_model *zt_cnn2(int maxpool)
{
    nn_model *m = NULL;
    em_err err = {0};
    if (nn_model_create("zk-test-cnn", (nn_shape){1, 8, 8}, 8, 8, 4, &m, &err) != EM_OK) {
        fprintf(stderr, "nn_model_create: %s\n", err.msg);
        return NULL;
    }
    uint8_t seed[32] = {7};
    nn_model_set_blinding_seed(m, seed);
    nn_layer L;
    zt_conv(&L, (nn_shape){1, 8, 8}, 4, 3, 1, 4, NN_ACT_RELU);
    int32_t sc = L.out_scale;
    if (!zt_add(m, &L, "conv1"))
        goto fail;
    zt_avgpool(&L, (nn_shape){4, 8, 8}, sc, 0, 0);
    if (maxpool) {
        L.kind = NN_MAXPOOL;
        L.shift = 0;
    }
    if (!zt_add(m, &L, "pool1"))
        goto fail;
    zt_conv(&L, (nn_shape){4, 4, 4}, 8, 3, 1, sc, NN_ACT_NONE);
    sc = L.out_scale;
    if (!zt_add(m, &L, "conv2"))
        goto fail;
    memset(&L, 0, sizeof L);
    L.kind = NN_ACT;
    L.act = NN_ACT_RELU;
    L.in = L.out = (nn_shape){8, 4, 4};
    L.in_scale = L.out_scale = sc;
    if (!zt_add(m, &L, "relu2"))
        goto fail;
    zt_avgpool(&L, (nn_shape){8, 4, 4}, sc, 1, 0);
    if (!zt_add(m, &L, "pool2"))
        goto fail;
    if (!zt_flatten_fc(m, (nn_shape){8, 2, 2}, sc, 10, 10))
        goto fail;
    return m;
fail:
    nn_model_free(m);
    return NULL;
}

static inline nn_model *zt_cnn(void) { return zt_cnn2(0); }

/* A prover for m (checked non-NULL); on failure m is freed and NULL returned, so a test does
 * `if (!(p = zt_prover(m))) return;` and owns both afterwards. */
static inline zk_prover *zt_prover(nn_model *m)
{
    em_err err = {0};
    zk_prover *p = NULL;
    CHECK(m != NULL);
    if (m)
        CHECK_OK(zk_prover_create(m, &p, &err), &err);
    if (!p)
        nn_model_free(m);
    return p;
}

static inline int32_t *zt_input(const nn_model *m, size_t n)
{
    size_t k = nn_model_input_size(m) * n;
    int32_t *x = malloc(k * sizeof *x);
    int32_t r = 1 << (nn_model_act_bits(m) - 1);
    for (size_t i = 0; i < k; i++)
        x[i] = (int32_t)(th_rand() % (uint64_t)(2 * r)) - r;
    return x;
}

/* every tier this CPU supports proves the same batch: byte-identical proofs */
static inline void zt_prove_tiers(const nn_model *m, size_t n, const char *what)
{
    em_err err = {0};
    zk_prover *p = NULL;
    CHECK_OK(zk_prover_create(m, &p, &err), &err);
    if (!p)
        return;
    ff_vec_tier saved = ff_vec_tier_get();
    int32_t *x = zt_input(m, n);
    size_t k = nn_model_output_size(m);
    int32_t *out = calloc(n * k, sizeof *out);
    uint8_t *ref = NULL;
    size_t ref_len = 0;
    zk_context ctx = {.nonce = (const uint8_t *)"tiers", .nonce_len = 5, .node_id = "node-t"};
    for (int t = FF_VEC_SCALAR; t <= FF_VEC_AVX512; t++) {
        if (!ff_vec_tier_supported((ff_vec_tier)t) || ff_vec_tier_set((ff_vec_tier)t) != EM_OK)
            continue;
        nn_run_opts o = {.backend = NULL, .threads = 2};
        uint8_t *proof = NULL;
        size_t len = 0;
        CHECK_OK(zk_prove(p, &o, x, n, &ctx, out, &proof, &len, NULL, &err), &err);
        fprintf(stderr, "    %s batch %zu, tier %s: %zu bytes\n", what, n, ff_vec_tier_name((ff_vec_tier)t), len);
        if (!ref) {
            ref = proof;
            ref_len = len;
            continue;
        }
        CHECK(proof && len == ref_len && memcmp(proof, ref, len) == 0);
        free(proof);
    }
    CHECK(ff_vec_tier_set(saved) == EM_OK);
    if (ref)
        CHECK_OK(zk_verify(zk_prover_vk(p), x, n, out, &ctx, ref, ref_len, NULL, &err), &err);
    free(ref);
    free(out);
    free(x);
    zk_prover_free(p);
}


/* The bundled CNN (examples/cnn/digits-cnn.onnx), calibrated on calib (n_calib samples, may be
 * NULL); NULL with a note when the file is missing, NULL and a failed check when the import
 * fails. */
static inline nn_model *zt_bundled_cnn(const float *calib, size_t n_calib)
{
    char onnx[1024];
    snprintf(onnx, sizeof onnx, "%s/examples/cnn/digits-cnn.onnx", th_src_dir());
    FILE *f = fopen(onnx, "rb");
    if (!f) {
        fprintf(stderr, "    (no %s: case skipped)\n", onnx);
        return NULL;
    }
    fclose(f);
    em_err err = {0};
    nn_model *m = NULL;
    nn_import_opts o;
    nn_import_opts_default(&o);
    o.calib = calib;
    o.n_calib = n_calib;
    CHECK_OK(nn_onnx_import(onnx, &o, &m, &err), &err);
    return m;
}

#endif
