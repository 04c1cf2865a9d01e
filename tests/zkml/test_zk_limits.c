/* Verifier-cost caps: models whose verification would be unreasonably expensive are refused
 * when the verifying key is derived (the same code runs on keys from untrusted publishers);
 * and a deep model whose witness layout exceeds the commitment's symbol-run cap. */
#include <stdlib.h>

#include "enclaveml/model.h"
#include "enclaveml/zkml/zk.h"
#include "harness.h"
#include "zk_testutil.h"

static nn_model *conv_model(uint32_t ci, uint32_t hw, uint32_t k)
{
    em_err err = {0};
    nn_model *m = NULL;
    CHECK_OK(nn_model_create("limits", (nn_shape){ci, hw, hw}, 8, 8, 4, &m, &err), &err);
    if (!m)
        return NULL;
    nn_layer L;
    memset(&L, 0, sizeof L);
    L.kind = NN_CONV2D;
    L.in = (nn_shape){ci, hw, hw};
    L.out = (nn_shape){1, hw, hw}; /* "same" padding keeps hw x hw positions */
    L.kh = L.kw = k;
    L.sh = L.sw = 1;
    L.pt = L.pl = (k - 1) / 2;
    L.pb = L.pr = k - 1 - (k - 1) / 2;
    L.n_weight = (size_t)ci * k * k;
    L.weight = calloc(L.n_weight, sizeof *L.weight);
    L.n_bias = 1;
    L.bias = calloc(1, sizeof *L.bias);
    for (size_t i = 0; i < L.n_weight; i++)
        L.weight[i] = (int32_t)(th_rand() % 255) - 127;
    L.w_scale = 7;
    L.in_scale = 4;
    L.shift = 11;
    L.out_scale = 0;
    L.act = NN_ACT_RELU;
    snprintf(L.name, sizeof L.name, "bigconv");
    CHECK_OK(nn_model_add_layer(m, &L, &err), &err);
    free(L.weight);
    free(L.bias);
    return m;
}

/* 4096 positions x 128 channels x 16x16 window = 2^27 selection terms: over the 2^26 cap. */
static void test_selection_cap(void)
{
    nn_model *m = conv_model(128, 64, 16);
    if (!m)
        return;
    em_err err = {0};
    zk_prover *p = NULL;
    CHECK_ST(zk_prover_create(m, &p, &err), EM_ERR_LIMIT, &err);
    CHECK_STR_CONTAINS(err.msg, "window selection");
    CHECK(p == NULL);
    zk_prover_free(p);
    nn_model_free(m);
}

/* The same geometry with 32 channels (2^25 terms) is accepted. */
static void test_under_cap(void)
{
    nn_model *m = conv_model(32, 64, 16);
    if (!m)
        return;
    em_err err = {0};
    zk_prover *p = NULL;
    CHECK_OK(zk_prover_create(m, &p, &err), &err);
    zk_prover_free(p);
    nn_model_free(m);
}

/* A 34-layer MLP of width 16 at batch 256: each witness block is one row of the systematic
 * commitment and the rows alternate between types (y I8, remainder limbs U8/U16), more than
 * PCS_MAX_SYM_RUNS runs, so the layout falls back to one run of the widest type (checked by
 * hand with a print in that branch); the proof still verifies (and fails with another nonce). */
static void test_many_witness_runs(void)
{
    uint32_t dims[35];
    for (int i = 0; i < 35; i++)
        dims[i] = 16;
    nn_model *m = zt_mlp(dims, 35, 8, 8, 0, 0);
    em_err err = {0};
    zk_prover *p = zt_prover(m);
    if (!p)
        return;
    size_t n = 256, k = nn_model_output_size(m);
    int32_t *x = zt_input(m, n), *out = calloc(n * k, sizeof *out);
    uint8_t *proof = NULL;
    size_t len = 0;
    zk_context ctx = {.nonce = (const uint8_t *)"deep", .nonce_len = 4, .node_id = "node-d"};
    CHECK_OK(zk_prove(p, NULL, x, n, &ctx, out, &proof, &len, NULL, &err), &err);
    if (proof) {
        CHECK_OK(zk_verify(zk_prover_vk(p), x, n, out, &ctx, proof, len, NULL, &err), &err);
        zk_context other = ctx;
        other.nonce = (const uint8_t *)"deeq";
        CHECK(zk_verify(zk_prover_vk(p), x, n, out, &other, proof, len, NULL, &err) != EM_OK);
        fprintf(stderr, "    34 layers, batch 256: %zu bytes\n", len);
    }
    free(proof);
    free(x);
    free(out);
    zk_prover_free(p);
    nn_model_free(m);
}

int main(void)
{
    th_init("test_zk_limits");
    TH_RUN(test_many_witness_runs);
    TH_RUN(test_selection_cap);
    TH_RUN(test_under_cap);
    return th_finish();
}
