/* Adversarial review, end to end: a wrong answer made consistent everywhere except ONE
 * accumulator identity.
 *
 * The trace hook (zk.h, testing only) lets the prover work from a corrupted inference trace.
 * For a chosen dense/conv layer the hook adds 2^shift to one accumulator (so q becomes q + 1 with
 * the same remainder), writes the activation of q + 1 as that layer's output, and recomputes
 * every later layer from the corrupted activation with a tail model. Every requantization pair,
 * remainder limb, later layer and the public output then agree with the lie, so the lookups
 * pass; only the matmul/conv identity of the attacked layer (its sumcheck and the commitment
 * openings that bind its end values) can catch it. Attacked: each dense layer of an MLP
 * (hidden and last, where the public output itself is the lie) and both conv layers and the
 * final dense layer of a CNN. Each must be rejected. */
#include <inttypes.h>

#include "zk_testutil.h"

typedef struct lie_ctx {
    const nn_model *m;
    nn_model *tail; /* layers after the attacked one (NULL when it is the last) */
    size_t src;     /* nn layer index of the attacked dense/conv layer */
    size_t last;    /* src, or src + 1 when a standalone ReLU follows */
    size_t n, pos;
    int changed;    /* the lie changed the attacked layer's output */
} lie_ctx;

static int64_t floor_div_pow2(int64_t v, uint32_t k)
{
    int64_t d = (int64_t)1 << k;
    int64_t q = v / d;
    if (v % d != 0 && v < 0)
        q--;
    return q;
}

static int32_t requant_act(const nn_model *m, int64_t acc, uint32_t k, nn_act act)
{
    int64_t q = k ? floor_div_pow2(acc + ((int64_t)1 << (k - 1)), k) : acc;
    int64_t amax = ((int64_t)1 << (nn_model_act_bits(m) - 1)) - 1, amin = -amax - 1;
    int64_t lo = act == NN_ACT_RELU ? 0 : amin;
    return (int32_t)(q < lo ? lo : q > amax ? amax : q);
}

static void lie_hook(nn_trace *t, void *vctx)
{
    lie_ctx *c = vctx;
    const nn_layer *L = nn_model_layer(c->m, c->src);
    size_t sz = c->n * nn_shape_size(L->out);
    /* prefer a position whose output moves (q + 1 still inside the activation range) */
    size_t pos = c->pos % sz;
    for (size_t e = 0; e < sz; e++) {
        size_t p = (c->pos + e) % sz;
        int64_t a = t->acc[c->src][p];
        if (requant_act(c->m, a + ((int64_t)1 << L->shift), L->shift, L->act) != requant_act(c->m, a, L->shift, L->act)) {
            pos = p;
            break;
        }
    }
    int32_t before = t->act[c->last + 1][pos];
    t->acc[c->src][pos] += (int64_t)1 << L->shift;
    t->act[c->src + 1][pos] = requant_act(c->m, t->acc[c->src][pos], L->shift, L->act);
    if (c->last != c->src) /* standalone ReLU */
        t->act[c->last + 1][pos] = t->act[c->src + 1][pos] > 0 ? t->act[c->src + 1][pos] : 0;
    c->changed = t->act[c->last + 1][pos] != before;
    if (!c->tail)
        return;
    nn_trace tt = {0};
    em_err err = {0};
    if (nn_model_run_trace(c->tail, NULL, t->act[c->last + 1], c->n, &tt, &err) != EM_OK) {
        fprintf(stderr, "tail run: %s\n", err.msg);
        return;
    }
    for (size_t l = 0; l < tt.n_layers; l++) {
        const nn_layer *T = nn_model_layer(c->tail, l);
        size_t g = c->last + 1 + l; /* global layer index */
        memcpy(t->act[g + 1], tt.act[l + 1], c->n * nn_shape_size(T->out) * sizeof(int32_t));
        if (tt.acc[l] && t->acc[g])
            memcpy(t->acc[g], tt.acc[l], c->n * nn_shape_size(T->out) * sizeof(int64_t));
    }
    nn_trace_free(&tt);
}

static const uint8_t NONCE[8] = {1, 2, 3, 4, 5, 6, 7, 8};

/* Attacks nn layer src of m; returns 1 when the verifier rejected. */
static void attack_layer(nn_model *m, size_t src, size_t n, const char *what)
{
    em_err err = {0};
    size_t last = src;
    if (src + 1 < nn_model_n_layers(m) && nn_model_layer(m, src + 1)->kind == NN_ACT)
        last = src + 1;
    nn_model *tail = NULL;
    if (last + 1 < nn_model_n_layers(m)) {
        const nn_layer *T0 = nn_model_layer(m, last + 1);
        CHECK_OK(nn_model_create("tail", T0->in, nn_model_act_bits(m), nn_model_weight_bits(m), T0->in_scale, &tail,
                                 &err),
                 &err);
        for (size_t l = last + 1; tail && l < nn_model_n_layers(m); l++)
            CHECK_OK(nn_model_add_layer(tail, nn_model_layer(m, l), &err), &err);
    }
    zk_prover *p = NULL;
    CHECK_OK(zk_prover_create(m, &p, &err), &err);
    size_t k = nn_model_output_size(m);
    int32_t *x = zt_input(m, n), *y = calloc(n * k, sizeof *y), *y2 = calloc(n * k, sizeof *y2);
    zk_context ctx = {.nonce = NONCE, .nonce_len = sizeof NONCE, .node_id = "liar"};
    lie_ctx lc = {.m = m, .tail = tail, .src = src, .last = last, .n = n, .pos = th_rand()};
    if (p && (tail || last + 1 == nn_model_n_layers(m))) {
        uint8_t *pr = NULL;
        size_t len = 0;
        /* honest run first: the attack must change the answer to be meaningful */
        CHECK_OK(zk_prove(p, NULL, x, n, &ctx, y, &pr, &len, NULL, &err), &err);
        free(pr);
        pr = NULL;
        zk_prover_set_trace_hook(p, lie_hook, &lc);
        CHECK_OK(zk_prove(p, NULL, x, n, &ctx, y2, &pr, &len, NULL, &err), &err);
        int differs = memcmp(y, y2, n * k * sizeof *y) != 0;
        if (pr) {
            em_status st = zk_verify(zk_prover_vk(p), x, n, y2, &ctx, pr, len, NULL, &err);
            if (st == EM_OK)
                fprintf(stderr, "    BREAK: %s: lie accepted (output %s)\n", what, differs ? "WRONG" : "unchanged");
            else if (getenv("ZK_TEST_VERBOSE"))
                fprintf(stderr, "    %s (layer output %s, final output %s): rejected: %s\n", what,
                        lc.changed ? "changed" : "unchanged", differs ? "changed" : "unchanged", err.msg);
            CHECK_ST(st, EM_ERR_VERIFY, &err);
        }
        free(pr);
    }
    free(x);
    free(y);
    free(y2);
    zk_prover_free(p);
    nn_model_free(tail);
}

static void test_mlp_each_layer(void)
{
    uint32_t d[] = {16, 12, 8, 5};
    nn_model *m = zt_mlp(d, 4, 8, 8, 0, 0);
    CHECK(m != NULL);
    if (!m)
        return;
    attack_layer(m, 0, 3, "mlp dense0 (hidden)");
    attack_layer(m, 1, 3, "mlp dense1 (hidden)");
    attack_layer(m, 2, 3, "mlp dense2 (output)");
    nn_model_free(m);
    /* standalone ReLU layers folded into the dense layers */
    m = zt_mlp(d, 4, 8, 8, 1, 0);
    CHECK(m != NULL);
    if (!m)
        return;
    attack_layer(m, 0, 2, "mlp dense0 + standalone relu");
    attack_layer(m, 2, 2, "mlp dense1 + standalone relu");
    nn_model_free(m);
}

static void test_cnn_each_layer(void)
{
    for (int mp = 0; mp < 2; mp++) {
        nn_model *m = zt_cnn2(mp);
        CHECK(m != NULL);
        if (!m)
            return;
        attack_layer(m, 0, 2, mp ? "cnn(maxpool) conv1" : "cnn conv1");
        attack_layer(m, 2, 2, mp ? "cnn(maxpool) conv2 + relu" : "cnn conv2 + relu");
        attack_layer(m, nn_model_n_layers(m) - 1, 2, mp ? "cnn(maxpool) fc (output)" : "cnn fc (output)");
        nn_model_free(m);
    }
}

int main(void)
{
    th_init("test_attack_chain");
    TH_RUN(test_mlp_each_layer);
    TH_RUN(test_cnn_each_layer);
    return th_finish();
}
