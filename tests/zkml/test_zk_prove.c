/* Completeness of proofs of inference: honest proofs verify, on random MLPs (fused and
 * standalone ReLU, flatten first), several batch sizes, and the bundled digits model; the
 * prover's output equals plain inference; vk round trip keeps the model hash; models the
 * prover cannot handle are rejected with a clear error. */
#include "enclaveml/input.h"
#include "zk_testutil.h"

static void prove_and_verify(const nn_model *m, size_t n, const char *what)
{
    em_err err = {0};
    zk_prover *p = NULL;
    CHECK_OK(zk_prover_create(m, &p, &err), &err);
    if (!p)
        return;
    int32_t *x = zt_input(m, n);
    size_t k = nn_model_output_size(m);
    int32_t *out = calloc(n * k, sizeof *out), *ref = calloc(n * k, sizeof *ref);
    uint8_t *proof = NULL;
    size_t len = 0;
    uint8_t nonce[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    zk_context ctx = {.nonce = nonce, .nonce_len = sizeof nonce, .node_id = "node-a"};
    zk_stats ps = {0}, vs = {0};
    CHECK_OK(zk_prove(p, NULL, x, n, &ctx, out, &proof, &len, &ps, &err), &err);
    CHECK_OK(nn_model_run(m, NULL, x, n, ref, &err), &err);
    CHECK(memcmp(out, ref, n * k * sizeof *out) == 0);
    if (proof) {
        em_status st = zk_verify(zk_prover_vk(p), x, n, out, &ctx, proof, len, &vs, &err);
        CHECK_OK(st, &err);
        fprintf(stderr, "    %s batch %zu: prove %.1f ms (infer %.1f), verify %.1f ms, %zu bytes\n", what, n,
                ps.prove_ms, ps.infer_ms, vs.verify_ms, len);
        /* the same proof against a vk that went through bytes */
        uint8_t *vb = NULL;
        size_t vl = 0;
        zk_vk *vk2 = NULL;
        CHECK_OK(zk_vk_serialize(zk_prover_vk(p), &vb, &vl, &err), &err);
        CHECK_OK(zk_vk_deserialize(vb, vl, &vk2, &err), &err);
        if (vk2) {
            uint8_t h1[32], h2[32];
            zk_vk_model_hash(zk_prover_vk(p), h1);
            zk_vk_model_hash(vk2, h2);
            CHECK(memcmp(h1, h2, 32) == 0);
            CHECK_OK(zk_verify(vk2, x, n, out, &ctx, proof, len, NULL, &err), &err);
        }
        zk_vk_free(vk2);
        free(vb);
    }
    free(proof);
    free(x);
    free(out);
    free(ref);
    zk_prover_free(p);
}

static void test_small_mlps(void)
{
    uint32_t d1[] = {5, 3};
    uint32_t d2[] = {16, 8, 4};
    uint32_t d3[] = {20, 33, 7, 10};
    size_t batches[] = {1, 3, 64};
    nn_model *m;
    for (size_t b = 0; b < 3; b++) {
        if ((m = zt_mlp(d1, 2, 8, 8, 0, 0))) {
            prove_and_verify(m, batches[b], "5-3");
            nn_model_free(m);
        }
        if ((m = zt_mlp(d2, 3, 8, 8, 0, 0))) {
            prove_and_verify(m, batches[b], "16-8-4");
            nn_model_free(m);
        }
        if ((m = zt_mlp(d3, 4, 8, 8, 1, 1))) {
            prove_and_verify(m, batches[b], "20-33-7-10 (flatten, standalone relu)");
            nn_model_free(m);
        }
    }
}

/* A bias beyond int32 (2^33 with a 30-bit shift): the model is committed from field elements
 * instead of integers (zk_commit.c); it must prove and verify the same way. */
static void test_wide_bias(void)
{
    nn_model *m = NULL;
    em_err err = {0};
    CHECK_OK(nn_model_create("wide-bias", (nn_shape){6, 1, 1}, 8, 8, 4, &m, &err), &err);
    if (!m)
        return;
    nn_layer L;
    memset(&L, 0, sizeof L);
    L.kind = NN_DENSE;
    L.in = (nn_shape){6, 1, 1};
    L.out = (nn_shape){3, 1, 1};
    L.n_weight = 18;
    L.n_bias = 3;
    int32_t w[18];
    int64_t bias[3] = {((int64_t)1 << 33) + 12345, -((int64_t)1 << 33) - 999, ((int64_t)1 << 31) + 7};
    for (int i = 0; i < 18; i++)
        w[i] = (i * 37) % 255 - 127;
    L.weight = w;
    L.bias = bias;
    L.shift = 30;
    L.w_scale = 7;
    L.in_scale = 4;
    L.out_scale = 4 + 7 - 30;
    L.act = NN_ACT_RELU;
    snprintf(L.name, sizeof L.name, "dense-wide-bias");
    CHECK_OK(nn_model_add_layer(m, &L, &err), &err);
    prove_and_verify(m, 3, "wide bias");
    nn_model_free(m);
}

static void test_wide_bits(void)
{
    /* 10-bit activations, 16-bit weights: shifts above 16 bits use two remainder limbs */
    uint32_t d[] = {64, 32, 10};
    nn_model *m = zt_mlp(d, 3, 10, 16, 0, 0);
    CHECK(m != NULL);
    if (m) {
        prove_and_verify(m, 5, "64-32-10 (10/16-bit)");
        nn_model_free(m);
    }
}

/* The bundled digits model: examples/digits/model.eml when present, else imported from
 * model.onnx with its calibration set; inputs are real test digits from test.json. */
static void test_bundled_model(void)
{
    char path[1024], onnx[1024], calib[1024], test[1024];
    const char *src = th_src_dir();
    snprintf(path, sizeof path, "%s/examples/digits/model.eml", src);
    snprintf(onnx, sizeof onnx, "%s/examples/digits/model.onnx", src);
    snprintf(calib, sizeof calib, "%s/examples/digits/calibration.json", src);
    snprintf(test, sizeof test, "%s/examples/digits/test.json", src);
    em_err err = {0};
    nn_model *m = NULL;
    FILE *f = fopen(path, "rb");
    if (f) {
        fclose(f);
        CHECK_OK(nn_model_load(path, &m, &err), &err);
    } else if ((f = fopen(onnx, "rb"))) {
        fclose(f);
        em_input cin = {0};
        nn_import_opts o;
        nn_import_opts_default(&o);
        if (em_input_load(calib, 64, &cin, &err) == EM_OK) {
            o.calib = cin.data;
            o.n_calib = cin.n_samples;
        }
        CHECK_OK(nn_onnx_import(onnx, &o, &m, &err), &err);
        em_input_free(&cin);
    } else {
        fprintf(stderr, "    (no bundled model under %s/examples/digits: case skipped)\n", src);
        return;
    }
    if (!m)
        return;
    em_input tin = {0};
    if (em_input_load(test, nn_model_input_size(m), &tin, &err) == EM_OK && tin.n_samples >= 64) {
        int32_t *q = malloc(64 * nn_model_input_size(m) * sizeof *q);
        CHECK_OK(nn_model_quantize_input(m, tin.data, 64, q, &err), &err);
        zk_prover *p = NULL;
        CHECK_OK(zk_prover_create(m, &p, &err), &err);
        size_t k = nn_model_output_size(m);
        int32_t *out = calloc(64 * k, sizeof *out);
        uint8_t *proof = NULL;
        size_t len = 0;
        zk_stats ps = {0}, vs = {0};
        zk_context ctx = {.nonce = (const uint8_t *)"digits", .nonce_len = 6, .node_id = "w"};
        for (size_t n = 1; p && n <= 64; n *= 4) {
            CHECK_OK(zk_prove(p, NULL, q, n, &ctx, out, &proof, &len, &ps, &err), &err);
            if (proof) {
                CHECK_OK(zk_verify(zk_prover_vk(p), q, n, out, &ctx, proof, len, &vs, &err), &err);
                fprintf(stderr, "    digits (real test inputs) batch %zu: prove %.1f ms, verify %.1f ms, %zu bytes\n", n,
                        ps.prove_ms, vs.verify_ms, len);
                out[0] += 1;
                CHECK(zk_verify(zk_prover_vk(p), q, n, out, &ctx, proof, len, NULL, &err) != EM_OK);
            }
            free(proof);
            proof = NULL;
        }
        free(out);
        free(q);
        zk_prover_free(p);
    }
    em_input_free(&tin);
    prove_and_verify(m, 3, "digits (random inputs)");
    nn_model_free(m);
}

static void test_hash_deterministic(void)
{
    uint32_t d[] = {16, 8, 4};
    uint64_t saved = th_rng_state;
    nn_model *a = zt_mlp(d, 3, 8, 8, 0, 0);
    th_rng_state = saved;
    nn_model *b = zt_mlp(d, 3, 8, 8, 0, 0);
    em_err err = {0};
    zk_prover *pa = NULL, *pb = NULL;
    CHECK_OK(zk_prover_create(a, &pa, &err), &err);
    CHECK_OK(zk_prover_create(b, &pb, &err), &err);
    if (pa && pb) {
        uint8_t ha[32], hb[32];
        zk_vk_model_hash(zk_prover_vk(pa), ha);
        zk_vk_model_hash(zk_prover_vk(pb), hb);
        CHECK(memcmp(ha, hb, 32) == 0);
    }
    zk_prover_free(pa);
    zk_prover_free(pb);
    /* one changed weight changes the hash */
    nn_model_free(b);
    th_rng_state = saved;
    b = zt_mlp(d, 3, 8, 8, 0, 0);
    const nn_layer *L = nn_model_layer(b, 0);
    L->weight[3] ^= 1;
    pb = NULL;
    CHECK_OK(zk_prover_create(b, &pb, &err), &err);
    CHECK_OK(zk_prover_create(a, &pa, &err), &err);
    if (pa && pb) {
        uint8_t ha[32], hb[32];
        zk_vk_model_hash(zk_prover_vk(pa), ha);
        zk_vk_model_hash(zk_prover_vk(pb), hb);
        CHECK(memcmp(ha, hb, 32) != 0);
    }
    zk_prover_free(pa);
    zk_prover_free(pb);
    nn_model_free(a);
    nn_model_free(b);
}

static void test_out_of_range_rejected(void)
{
    /* shift 0 with large weights: pre-activations far outside the table -> EM_ERR_RANGE */
    em_err err = {0};
    nn_model *m = NULL;
    CHECK_OK(nn_model_create("range", (nn_shape){64, 1, 1}, 8, 8, 0, &m, &err), &err);
    if (!m)
        return;
    nn_layer L;
    memset(&L, 0, sizeof L);
    L.kind = NN_DENSE;
    L.in = (nn_shape){64, 1, 1};
    L.out = (nn_shape){2, 1, 1};
    L.n_weight = 128;
    L.n_bias = 2;
    int32_t w[128];
    int64_t bias[2] = {0, 0};
    for (int i = 0; i < 128; i++)
        w[i] = 127;
    L.weight = w;
    L.bias = bias;
    snprintf(L.name, sizeof L.name, "big");
    CHECK_OK(nn_model_add_layer(m, &L, &err), &err);
    zk_prover *p = NULL;
    CHECK_OK(zk_prover_create(m, &p, &err), &err);
    if (p) {
        int32_t x[64], out[2];
        for (int i = 0; i < 64; i++)
            x[i] = 127;
        uint8_t *proof = NULL;
        size_t len = 0;
        CHECK_ST(zk_prove(p, NULL, x, 1, NULL, out, &proof, &len, NULL, &err), EM_ERR_RANGE, &err);
        CHECK_STR_CONTAINS(err.msg, "out of the provable range");
        free(proof);
    }
    zk_prover_free(p);
    nn_model_free(m);
}

static void test_cnn(void)
{
    nn_model *m = zt_cnn();
    CHECK(m != NULL);
    if (!m)
        return;
    size_t batches[] = {1, 3, 17};
    for (size_t b = 0; b < 3; b++)
        prove_and_verify(m, batches[b], "cnn conv-relu-avgpool-conv-relu-avgpool-fc");
    nn_model_free(m);
}

/* The bundled CNN example (conv, relu, maxpool, conv, relu, avgpool, flatten, gemm) imported
 * from examples/cnn/digits-cnn.onnx, on real test digits. */
static void test_cnn_example(void)
{
    char calib[1024], test[1024];
    snprintf(calib, sizeof calib, "%s/examples/digits/calibration.json", th_src_dir());
    snprintf(test, sizeof test, "%s/examples/digits/test.json", th_src_dir());
    em_err err = {0};
    em_input cin = {0};
    em_status cst = em_input_load(calib, 64, &cin, &err);
    nn_model *m = zt_bundled_cnn(cst == EM_OK ? cin.data : NULL, cst == EM_OK ? cin.n_samples : 0);
    em_input_free(&cin);
    if (!m)
        return;
    em_input tin = {0};
    if (em_input_load(test, nn_model_input_size(m), &tin, &err) == EM_OK && tin.n_samples >= 16) {
        size_t n = 16, k = nn_model_output_size(m);
        int32_t *q = malloc(n * nn_model_input_size(m) * sizeof *q), *out = calloc(n * k, sizeof *out);
        CHECK_OK(nn_model_quantize_input(m, tin.data, n, q, &err), &err);
        zk_prover *p = NULL;
        CHECK_OK(zk_prover_create(m, &p, &err), &err);
        uint8_t *proof = NULL;
        size_t len = 0;
        zk_stats ps = {0}, vs = {0};
        zk_context ctx = {.nonce = (const uint8_t *)"cnn", .nonce_len = 3, .node_id = "w"};
        if (p)
            CHECK_OK(zk_prove(p, NULL, q, n, &ctx, out, &proof, &len, &ps, &err), &err);
        if (proof) {
            CHECK_OK(zk_verify(zk_prover_vk(p), q, n, out, &ctx, proof, len, &vs, &err), &err);
            fprintf(stderr, "    digits CNN example batch %zu: prove %.1f ms, verify %.1f ms, %zu bytes\n", n,
                    ps.prove_ms, vs.verify_ms, len);
            out[3] ^= 1;
            CHECK(zk_verify(zk_prover_vk(p), q, n, out, &ctx, proof, len, NULL, &err) != EM_OK);
        }
        free(proof);
        free(q);
        free(out);
        zk_prover_free(p);
    }
    em_input_free(&tin);
    nn_model_free(m);
}

static void test_cnn_maxpool(void)
{
    nn_model *m = zt_cnn2(1);
    CHECK(m != NULL);
    if (!m)
        return;
    prove_and_verify(m, 1, "cnn with maxpool");
    prove_and_verify(m, 5, "cnn with maxpool");
    nn_model_free(m);
}

/* ---- CNNs whose conv/pool outputs have a number of positions that is not a power of two ---- */

typedef struct cnnb {
    nn_model *m;
    nn_shape s; /* current activation shape */
    int32_t sc;
    int ok;
} cnnb;

static void cb_start(cnnb *b, nn_shape in)
{
    em_err err = {0};
    memset(b, 0, sizeof *b);
    b->ok = nn_model_create("zk-test-padcnn", in, 8, 8, 4, &b->m, &err) == EM_OK;
    if (!b->ok)
        fprintf(stderr, "nn_model_create: %s\n", err.msg);
    else {
        uint8_t seed[32] = {9};
        nn_model_set_blinding_seed(b->m, seed);
    }
    b->s = in;
    b->sc = 4;
}

static void cb_conv(cnnb *b, uint32_t co, uint32_t k, uint32_t pad, uint32_t stride, uint32_t act)
{
    if (!b->ok)
        return;
    nn_layer L;
    zt_conv(&L, b->s, co, k, pad, b->sc, act);
    L.sh = L.sw = stride;
    L.out = (nn_shape){co, (b->s.h + 2 * pad - k) / stride + 1, (b->s.w + 2 * pad - k) / stride + 1};
    b->sc = L.out_scale;
    b->s = L.out;
    b->ok = zt_add(b->m, &L, "conv");
}

/* 2x2 stride-2 pooling; avgpool may pad bottom/right by `pad`, maxpool never pads */
static void cb_pool(cnnb *b, nn_layer_kind kind, uint32_t pad)
{
    if (!b->ok)
        return;
    nn_layer L;
    zt_avgpool(&L, b->s, b->sc, 0, pad);
    if (kind == NN_MAXPOOL) {
        L.kind = NN_MAXPOOL;
        L.shift = 0;
    }
    b->s = L.out;
    b->ok = zt_add(b->m, &L, "pool");
}

static void cb_dense(cnnb *b, uint32_t no, uint32_t act)
{
    if (!b->ok)
        return;
    uint32_t ni = (uint32_t)nn_shape_size(b->s);
    nn_layer L;
    if (b->s.h != 1 || b->s.w != 1) {
        memset(&L, 0, sizeof L);
        L.kind = NN_RESHAPE;
        L.in = b->s;
        L.out = (nn_shape){ni, 1, 1};
        L.in_scale = L.out_scale = b->sc;
        if (!(b->ok = zt_add(b->m, &L, "flatten")))
            return;
    }
    memset(&L, 0, sizeof L);
    L.kind = NN_DENSE;
    L.in = (nn_shape){ni, 1, 1};
    L.out = (nn_shape){no, 1, 1};
    L.n_weight = (size_t)ni * no;
    L.n_bias = no;
    L.weight = malloc(L.n_weight * sizeof *L.weight);
    L.bias = malloc(no * sizeof *L.bias);
    for (size_t i = 0; i < L.n_weight; i++)
        L.weight[i] = (int32_t)(th_rand() % 256) - 128;
    for (size_t i = 0; i < no; i++)
        L.bias[i] = (int64_t)(th_rand() % 2001) - 1000;
    unsigned lg = 0;
    while ((1u << lg) < ni)
        lg++;
    L.shift = 7 + (lg + 1) / 2;
    L.w_scale = 7;
    L.in_scale = b->sc;
    L.out_scale = b->sc + 7 - (int32_t)L.shift;
    L.act = act;
    snprintf(L.name, sizeof L.name, "fc%u", no);
    b->sc = L.out_scale;
    b->s = L.out;
    b->ok = zt_add(b->m, &L, "fc");
}

/* Reshape a flat activation into c x h x w (a dense layer feeding a conv layer). */
static void cb_reshape(cnnb *b, nn_shape to)
{
    if (!b->ok)
        return;
    nn_layer L;
    memset(&L, 0, sizeof L);
    L.kind = NN_RESHAPE;
    L.in = b->s;
    L.out = to;
    L.in_scale = L.out_scale = b->sc;
    b->s = to;
    b->ok = zt_add(b->m, &L, "reshape");
}

static void cb_prove(cnnb *b, const char *what)
{
    CHECK(b->ok);
    if (b->ok) {
        prove_and_verify(b->m, 1, what);
        prove_and_verify(b->m, 5, what);
    }
    nn_model_free(b->m);
}

/* Position padding (docs/PROOFS.md "Convolution and average pooling"): 3x3, 5x5, 6x6, 12x12,
 * 14x14 and 28x28 outputs, strides, avgpool with padding, maxpool, conv after conv, a padded
 * conv as the last layer (the public output in the padded layout) and a dense layer feeding a
 * conv. Every case must prove, verify and give the engine's output. */
static void test_cnn_padded_positions(void)
{
    cnnb b;
    cb_start(&b, (nn_shape){1, 5, 5}); /* conv -> 3x3 -> dense */
    cb_conv(&b, 3, 3, 0, 1, NN_ACT_RELU);
    cb_dense(&b, 10, NN_ACT_NONE);
    cb_prove(&b, "conv 3x3 out, fc");

    cb_start(&b, (nn_shape){2, 7, 7}); /* conv -> 5x5, avgpool pad 1 -> 3x3, conv -> 3x3, fc */
    cb_conv(&b, 4, 3, 0, 1, NN_ACT_RELU);
    cb_pool(&b, NN_AVGPOOL, 1);
    cb_conv(&b, 3, 3, 1, 1, NN_ACT_RELU);
    cb_dense(&b, 6, NN_ACT_NONE);
    cb_prove(&b, "conv 5x5, avgpool 3x3, conv 3x3, fc");

    cb_start(&b, (nn_shape){1, 14, 14}); /* conv -> 12x12, maxpool -> 6x6, conv s2 -> 3x3, fc */
    cb_conv(&b, 2, 3, 0, 1, NN_ACT_RELU);
    cb_pool(&b, NN_MAXPOOL, 0);
    cb_conv(&b, 4, 3, 1, 2, NN_ACT_RELU);
    cb_dense(&b, 5, NN_ACT_NONE);
    cb_prove(&b, "conv 12x12, maxpool 6x6, conv stride 2 3x3, fc");

    cb_start(&b, (nn_shape){1, 11, 11}); /* conv s2 -> 5x5, conv -> 3x3 (last layer) */
    cb_conv(&b, 2, 3, 0, 2, NN_ACT_RELU);
    cb_conv(&b, 3, 3, 0, 1, NN_ACT_NONE);
    cb_prove(&b, "conv stride 2 5x5, conv 3x3 as output");

    cb_start(&b, (nn_shape){1, 28, 28}); /* conv -> 28x28, avgpool -> 14x14, maxpool -> 7x7, fc */
    cb_conv(&b, 2, 3, 1, 1, NN_ACT_RELU);
    cb_pool(&b, NN_AVGPOOL, 0);
    cb_pool(&b, NN_MAXPOOL, 0);
    cb_dense(&b, 10, NN_ACT_NONE);
    cb_prove(&b, "conv 28x28, avgpool 14x14, maxpool 7x7, fc");

    cb_start(&b, (nn_shape){12, 1, 1}); /* dense -> reshape 1x7x7 -> conv -> 5x5 -> avgpool last */
    cb_dense(&b, 49, NN_ACT_RELU);
    cb_reshape(&b, (nn_shape){1, 7, 7});
    cb_conv(&b, 2, 3, 0, 1, NN_ACT_RELU);
    cb_pool(&b, NN_AVGPOOL, 1);
    cb_prove(&b, "fc, conv 5x5, avgpool 3x3 as output");
}

int main(void)
{
    th_init("test_zk_prove");
    TH_RUN(test_small_mlps);
    TH_RUN(test_wide_bits);
    TH_RUN(test_wide_bias);
    TH_RUN(test_bundled_model);
    TH_RUN(test_hash_deterministic);
    TH_RUN(test_out_of_range_rejected);
    TH_RUN(test_cnn);
    TH_RUN(test_cnn_maxpool);
    TH_RUN(test_cnn_example);
    TH_RUN(test_cnn_padded_positions);
    return th_finish();
}
