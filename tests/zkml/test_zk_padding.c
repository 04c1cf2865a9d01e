/* Soundness of position padding (docs/PROOFS.md "Convolution and average pooling"): a conv/pool
 * output with P = h_out*w_out positions is proven in slots of 2^lp positions per channel, and
 * the padded positions must hold zero exactly like padded batch rows.
 *
 * A cheating prover rewrites the witness blocks after they are built (the prover's internal
 * witness hook) so that a padded position holds a value that passes every lookup:
 *   - every padded position of a conv layer carries its channel's bias (acc = bias, what a
 *     verifier that weighted the bias by valid(row) only would accept), with q, the remainder
 *     limbs and y consistent with that acc;
 *   - one padded position of a conv layer holds q = y = 3 (a table pair, remainder limbs in range);
 *   - one padded position of a maxpool layer holds y = 5 with d_0 = 0 (y "equals" a window
 *     element that is not there) and the other differences 5.
 * Those values never reach the output (the next layer has no weights/selection entries there),
 * so only the padding constraints can catch them: every such proof must be rejected. An
 * untouched witness under the same hook must be accepted (so the probes prove something). */
#include "zk_internal.h"
#include "zk_testutil.h"

typedef enum { FORGE_NONE, FORGE_BIAS, FORGE_ONE, FORGE_POOL } forge_kind;

typedef struct forge_ctx {
    const nn_model *m;
    forge_kind kind;
    size_t n;
    int touched; /* number of padded entries made non-zero */
} forge_ctx;

static int64_t floor_shift(int64_t acc, uint32_t k)
{
    if (k == 0)
        return acc;
    int64_t v = acc + ((int64_t)1 << (k - 1)), d = (int64_t)1 << k;
    int64_t q = v / d;
    return (v % d != 0 && v < 0) ? q - 1 : q;
}

/* q, remainder limbs and y of one witness entry for the accumulator acc */
static void set_entry(const zk_vk *vk, const zk_wlayout *wl, zk_wit *w, uint32_t i, size_t e, int64_t acc)
{
    const zk_layer *L = &vk->layers[i];
    int64_t q = floor_shift(acc, L->shift);
    int64_t amax = (1 << (vk->act_bits - 1)) - 1, lo = L->act == NN_ACT_RELU ? 0 : -amax - 1;
    w->blk[wl->q_blk[i]][e] = (int32_t)q;
    if (L->shift) {
        uint64_t r = (uint64_t)(acc + ((int64_t)1 << (L->shift - 1)) - q * ((int64_t)1 << L->shift));
        for (unsigned t = 0; t < wl->nl[i]; t++)
            w->blk[wl->r_blk[i][t]][e] = (int32_t)((r >> (wl->lbits * t)) & ((1u << wl->lbits) - 1));
    }
    if (wl->y_blk[i] != ZK_NO_BLOCK)
        w->blk[wl->y_blk[i]][e] = (int32_t)(q < lo ? lo : q > amax ? amax : q);
}

static void forge_hook(const zk_vk *vk, const zk_wlayout *wl, zk_wit *w, void *vctx)
{
    forge_ctx *f = vctx;
    for (uint32_t i = 0; i < vk->n_layers; i++) {
        const zk_layer *L = &vk->layers[i];
        if (L->op == L->ops || L->kind == NN_DENSE)
            continue;
        size_t M = (size_t)1 << L->lv_out;
        if (L->kind == NN_CONV2D && f->kind == FORGE_BIAS) {
            const nn_layer *NL = nn_model_layer(f->m, L->src);
            for (size_t s = 0; s < f->n; s++)
                for (uint32_t c = 0; c < L->co; c++)
                    for (uint32_t p = L->op; p < L->ops; p++) {
                        size_t e = s * M + (size_t)c * L->ops + p;
                        set_entry(vk, wl, w, i, e, NL->bias[c]);
                        f->touched += w->blk[wl->q_blk[i]][e] != 0;
                    }
        } else if (L->kind == NN_CONV2D && f->kind == FORGE_ONE) {
            size_t e = (f->n - 1) * M + (size_t)(L->co - 1) * L->ops + L->op; /* first padded slot */
            set_entry(vk, wl, w, i, e, (int64_t)3 << L->shift);
            f->touched++;
        } else if (L->kind == NN_MAXPOOL && f->kind == FORGE_POOL) {
            size_t e = (size_t)L->ops - 1; /* sample 0, channel 0, last padded slot */
            w->blk[wl->y_blk[i]][e] = 5;
            for (unsigned t = 0; t < L->kh * L->kw; t++)
                w->blk[wl->d_blk[i][t]][e] = t == 0 ? 0 : 5;
            f->touched++;
        }
    }
}

/* conv(3, 3x3, bias) on 1x5x5 -> 3x3 positions (slot 16) -> fc 4; with pool: conv on 1x14x14 ->
 * 12x12 (slot 256) -> maxpool -> 6x6 (slot 64) -> fc 4. */
static nn_model *build(int pool)
{
    nn_model *m = NULL;
    em_err err = {0};
    nn_shape in = pool ? (nn_shape){1, 14, 14} : (nn_shape){1, 5, 5};
    if (nn_model_create("zk-test-padding", in, 8, 8, 4, &m, &err) != EM_OK)
        return NULL;
    uint8_t seed[32] = {5};
    nn_model_set_blinding_seed(m, seed);
    nn_layer L;
    zt_conv(&L, in, pool ? 2 : 3, 3, 0, 4, NN_ACT_NONE);
    for (uint32_t c = 0; c < L.out.c; c++)
        L.bias[c] = (c & 1 ? -1 : 1) * (int64_t)(3000 + 700 * c); /* far from zero after the shift */
    int32_t sc = L.out_scale;
    nn_shape s = L.out;
    if (!zt_add(m, &L, "conv"))
        goto fail;
    if (pool) {
        zt_avgpool(&L, s, sc, 0, 0);
        L.kind = NN_MAXPOOL;
        L.shift = 0;
        s = L.out;
        if (!zt_add(m, &L, "maxpool"))
            goto fail;
    }
    if (!zt_flatten_fc(m, s, sc, 4, 12))
        goto fail;
    return m;
fail:
    nn_model_free(m);
    return NULL;
}

/* Proves n samples under the forging hook; returns zk_verify's status (or the prover's error). */
static em_status run(int pool, forge_kind kind, size_t n, int *touched)
{
    em_err err = {0};
    nn_model *m = build(pool);
    zk_prover *p = NULL;
    em_status st = EM_ERR_INTERNAL;
    int32_t *x = NULL, *y = NULL, *ref = NULL;
    uint8_t *proof = NULL;
    size_t len = 0;
    if (!m || zk_prover_create(m, &p, &err) != EM_OK) {
        fprintf(stderr, "    setup: %s\n", err.msg);
        goto out;
    }
    forge_ctx f = {.m = m, .kind = kind, .n = n};
    p->wit_hook = forge_hook;
    p->wit_hook_ctx = &f;
    size_t k = nn_model_output_size(m);
    x = zt_input(m, n);
    y = calloc(n * k, sizeof *y);
    ref = calloc(n * k, sizeof *ref);
    zk_context ctx = {.nonce = (const uint8_t *)"pad", .nonce_len = 3, .node_id = "w-pad"};
    if ((st = zk_prove(p, NULL, x, n, &ctx, y, &proof, &len, NULL, &err)) != EM_OK) {
        fprintf(stderr, "    prove: %s\n", err.msg);
        goto out;
    }
    /* the forged values sit where no later layer reads: the claimed output is the true one */
    CHECK_OK(nn_model_run(m, NULL, x, n, ref, &err), &err);
    CHECK(memcmp(y, ref, n * k * sizeof *y) == 0);
    st = zk_verify(zk_prover_vk(p), x, n, y, &ctx, proof, len, NULL, &err);
    if (st != EM_OK && getenv("ZK_TEST_VERBOSE"))
        fprintf(stderr, "    rejected: %s\n", err.msg);
    *touched = f.touched;
out:
    free(proof);
    free(x);
    free(y);
    free(ref);
    zk_prover_free(p);
    nn_model_free(m);
    return st;
}

static void test_untouched_accepted(void)
{
    int t = 0;
    CHECK(run(0, FORGE_NONE, 3, &t) == EM_OK);
    CHECK(run(1, FORGE_NONE, 3, &t) == EM_OK);
}

static void test_bias_in_padded_positions(void)
{
    size_t ns[] = {1, 3, 4};
    for (size_t i = 0; i < 3; i++) {
        int t = 0;
        CHECK(run(0, FORGE_BIAS, ns[i], &t) == EM_ERR_VERIFY);
        CHECK(t > 0); /* the forgery did change the witness */
        t = 0;
        CHECK(run(1, FORGE_BIAS, ns[i], &t) == EM_ERR_VERIFY);
        CHECK(t > 0);
    }
}

static void test_one_value_in_padded_position(void)
{
    int t = 0;
    CHECK(run(0, FORGE_ONE, 2, &t) == EM_ERR_VERIFY);
    CHECK(t == 1);
    t = 0;
    CHECK(run(1, FORGE_ONE, 4, &t) == EM_ERR_VERIFY);
    CHECK(t == 1);
}

static void test_maxpool_padded_position(void)
{
    int t = 0;
    CHECK(run(1, FORGE_POOL, 1, &t) == EM_ERR_VERIFY);
    CHECK(t == 1);
    t = 0;
    CHECK(run(1, FORGE_POOL, 3, &t) == EM_ERR_VERIFY);
    CHECK(t == 1);
}

int main(void)
{
    th_init("test_zk_padding");
    TH_RUN(test_untouched_accepted);
    TH_RUN(test_bias_in_padded_positions);
    TH_RUN(test_one_value_in_padded_position);
    TH_RUN(test_maxpool_padded_position);
    return th_finish();
}
