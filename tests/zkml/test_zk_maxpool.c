/* Proofs of max pooling with padding, windows up to 4x4 and maxpool as the last layer
 * (docs/PROOFS.md "Max pooling").
 *
 * Completeness: small models built here (padded 2x2, 3x3 stride 2 pad 1, maxpool last, a single
 * maxpool, 16-bit activations with 3x3 windows, a 4x4 window, maxpool after maxpool) prove at
 * batch 1, 3 and 64, their proven output equals the engine's, and the proof verifies (also
 * against a vk that went through bytes).
 * Soundness, on a model that is one padded maxpool (public input and output):
 *   - a changed pooled output (raised by one; and one whose committed y stays honest while the
 *     public output changes) is rejected;
 *   - a witness that counts a padding position (value 0) as the maximum of a window whose real
 *     inputs are all negative is rejected;
 *   - a witness whose y is another, smaller window value is rejected;
 *   - a flipped proof byte anywhere is rejected;
 * and the product zero-check itself rejects a table with one all-non-zero entry. */
#include "enclaveml/zkml/ml.h"
#include "zk_internal.h"
#include "zk_testutil.h"

typedef struct mp_spec {
    const char *what;
    nn_shape in;
    uint32_t act_bits;
    uint32_t conv_co; /* 0: no conv before the pool */
    uint32_t kh, kw, sh, sw, pt, pl, pb, pr;
    uint32_t k2, s2, p2; /* second square maxpool after the first (k2 = 0: none) */
    uint32_t fc;         /* 0: the pool is the last layer */
    int relu;            /* a ReLU right after the first pool */
} mp_spec;

static int add_pool(nn_model *m, nn_shape *s, int32_t sc, uint32_t kh, uint32_t kw, uint32_t sh, uint32_t sw,
                    uint32_t pt, uint32_t pl, uint32_t pb, uint32_t pr)
{
    nn_layer L;
    memset(&L, 0, sizeof L);
    L.kind = NN_MAXPOOL;
    L.in = *s;
    L.kh = kh;
    L.kw = kw;
    L.sh = sh;
    L.sw = sw;
    L.pt = pt;
    L.pl = pl;
    L.pb = pb;
    L.pr = pr;
    L.out = (nn_shape){s->c, (s->h + pt + pb - kh) / sh + 1, (s->w + pl + pr - kw) / sw + 1};
    L.in_scale = L.out_scale = sc;
    snprintf(L.name, sizeof L.name, "maxpool%ux%u", kh, kw);
    *s = L.out;
    return zt_add(m, &L, "maxpool");
}

static nn_model *build(const mp_spec *sp)
{
    nn_model *m = NULL;
    em_err err = {0};
    if (nn_model_create("zk-test-maxpool", sp->in, sp->act_bits, 8, 4, &m, &err) != EM_OK) {
        fprintf(stderr, "create: %s\n", err.msg);
        return NULL;
    }
    uint8_t seed[32] = {9};
    nn_model_set_blinding_seed(m, seed);
    nn_shape s = sp->in;
    int32_t sc = 4;
    nn_layer L;
    if (sp->conv_co) {
        zt_conv(&L, s, sp->conv_co, 3, 1, sc, NN_ACT_NONE); /* no ReLU: negative values reach the pool */
        sc = L.out_scale;
        s = L.out;
        if (!zt_add(m, &L, "conv"))
            goto fail;
    }
    if (!add_pool(m, &s, sc, sp->kh, sp->kw, sp->sh, sp->sw, sp->pt, sp->pl, sp->pb, sp->pr))
        goto fail;
    if (sp->relu) {
        memset(&L, 0, sizeof L);
        L.kind = NN_ACT;
        L.act = NN_ACT_RELU;
        L.in = L.out = s;
        L.in_scale = L.out_scale = sc;
        snprintf(L.name, sizeof L.name, "relu");
        if (!zt_add(m, &L, "relu"))
            goto fail;
    }
    if (sp->k2 && !add_pool(m, &s, sc, sp->k2, sp->k2, sp->s2, sp->s2, sp->p2, sp->p2, sp->p2, sp->p2))
        goto fail;
    if (sp->fc) {
        unsigned lg = 0;
        while ((1u << lg) < nn_shape_size(s))
            lg++;
        if (!zt_flatten_fc(m, s, sc, sp->fc, 7 + (lg + 1) / 2))
            goto fail;
    }
    return m;
fail:
    nn_model_free(m);
    return NULL;
}

static const zk_context CTX = {.nonce = (const uint8_t *)"mp", .nonce_len = 2, .node_id = "w-maxpool"};

static void prove_verify(const mp_spec *sp, size_t n)
{
    em_err err = {0};
    nn_model *m = build(sp);
    zk_prover *p = NULL;
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_OK(zk_prover_create(m, &p, &err), &err);
    size_t k = nn_model_output_size(m);
    int32_t *x = zt_input(m, n), *y = calloc(n * k, sizeof *y), *ref = calloc(n * k, sizeof *ref);
    uint8_t *proof = NULL, *vb = NULL;
    size_t len = 0, vl = 0;
    zk_vk *vk2 = NULL;
    zk_stats ps = {0}, vs = {0};
    if (!p)
        goto out;
    CHECK_OK(zk_prove(p, NULL, x, n, &CTX, y, &proof, &len, &ps, &err), &err);
    CHECK_OK(nn_model_run(m, NULL, x, n, ref, &err), &err);
    CHECK(memcmp(y, ref, n * k * sizeof *y) == 0);
    if (!proof)
        goto out;
    CHECK_OK(zk_verify(zk_prover_vk(p), x, n, y, &CTX, proof, len, &vs, &err), &err);
    CHECK_OK(zk_vk_serialize(zk_prover_vk(p), &vb, &vl, &err), &err);
    CHECK_OK(zk_vk_deserialize(vb, vl, &vk2, &err), &err);
    if (vk2)
        CHECK_OK(zk_verify(vk2, x, n, y, &CTX, proof, len, NULL, &err), &err);
    fprintf(stderr, "    %s, batch %zu: prove %.1f ms, verify %.1f ms, %zu bytes\n", sp->what, n, ps.prove_ms,
            vs.verify_ms, len);
out:
    zk_vk_free(vk2);
    free(vb);
    free(proof);
    free(x);
    free(y);
    free(ref);
    zk_prover_free(p);
    nn_model_free(m);
}

static const mp_spec PAD2 = {"conv, maxpool 2x2 s2 pads 1,1,1,1, fc", {1, 7, 7}, 8, 2, 2, 2, 2, 2, 1, 1, 1, 1,
                             0, 0, 0, 5, 0};
static const mp_spec WIN3 = {"conv, maxpool 3x3 s2 pad 1, fc", {1, 9, 9}, 8, 3, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 0, 4, 0};
static const mp_spec LAST = {"conv, maxpool 3x3 s2 pad 1 (last)", {1, 8, 8}, 8, 3, 3, 3, 2, 2, 1, 1, 1, 1,
                             0, 0, 0, 0, 0};
/* one layer, like ezkl's 1l_max_pool but with uneven pads */
static const mp_spec ONLY = {"maxpool 2x2 s1 pads 1,0,0,1 only", {2, 5, 6}, 8, 0, 2, 2, 1, 1, 1, 0, 0, 1,
                             0, 0, 0, 0, 0};
static const mp_spec WIDE = {"16-bit activations, maxpool 3x3 s1 pad 1 only", {1, 6, 6}, 16, 0, 3, 3, 1, 1, 1, 1,
                             1, 1, 0, 0, 0, 0, 0};
static const mp_spec WIN4 = {"conv, maxpool 4x4 s3 pads 1,2,3,0, fc", {1, 10, 10}, 8, 2, 4, 4, 3, 3, 1, 2, 3, 0,
                             0, 0, 0, 3, 0};
static const mp_spec TWICE = {"maxpool 2x3 s1 pads 0,0,1,1, maxpool 3x3 s2 pad 1, fc", {2, 6, 7}, 8, 0, 2, 3, 1, 1,
                              0, 0, 1, 1, 3, 2, 1, 4, 0};
/* a ReLU after the pool (the common relu(maxpool(conv(x))) of PyTorch models): a zero slot */
static const mp_spec RELU = {"conv, maxpool 2x2 s2, relu, fc", {1, 8, 8}, 8, 2, 2, 2, 2, 2, 0, 0, 0, 0,
                             0, 0, 0, 5, 1};
static const mp_spec RELU4 = {"conv, maxpool 4x4 s3 pads 1,2,3,0, relu (last)", {1, 10, 10}, 8, 2, 4, 4, 3, 3,
                              1, 2, 3, 0, 0, 0, 0, 0, 1};
static const mp_spec RELU2 = {"maxpool 2x3 s1, relu, maxpool 3x3 s2 pad 1, fc", {2, 6, 7}, 8, 0, 2, 3, 1, 1,
                              0, 0, 1, 1, 3, 2, 1, 4, 1};

static void test_completeness(void)
{
    static const size_t batches[] = {1, 3, 64};
    const mp_spec *specs[] = {&PAD2, &WIN3, &LAST, &ONLY, &WIDE, &WIN4, &TWICE, &RELU, &RELU4, &RELU2};
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++)
        for (size_t b = 0; b < 3; b++)
            prove_verify(specs[s], batches[b]);
}

static void test_window_too_large(void)
{
    mp_spec big = WIN3;
    big.kh = big.kw = 5;
    big.pt = big.pl = big.pb = big.pr = 2;
    nn_model *m = build(&big);
    zk_prover *p = NULL;
    em_err err = {0};
    CHECK(m != NULL);
    if (m) {
        CHECK_ST(zk_prover_create(m, &p, &err), EM_ERR_UNSUPPORTED, &err);
        CHECK_STR_CONTAINS(err.msg, "maxpool windows of at most 16");
    }
    zk_prover_free(p);
    nn_model_free(m);
}

/* ---- soundness on one padded maxpool: 2 channels of 4x4, 2x2 windows, stride 2, pads 1 ---- */

static const mp_spec CORNER = {"maxpool 2x2 s2 pads 1 only", {2, 4, 4}, 8, 0, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 0};
static const mp_spec CORNER_RELU = {"maxpool 2x2 s2 pads 1, relu", {2, 4, 4}, 8, 0, 2, 2, 2, 2, 1, 1, 1, 1,
                                    0, 0, 0, 0, 1};

typedef struct cheat {
    int out_pos;          /* output entry the trace hook changes (-1: none) */
    int32_t out_val;      /* its new value */
    int zero_slot;        /* window slot whose d the witness hook zeroes at out_pos (-1: none) */
    int restore;          /* witness hook: put back the honest blocks saved by a first run */
    const mp_spec *spec;  /* NULL: CORNER */
    int32_t *saved[1 + ZK_MAX_POOL_WIN];
    size_t saved_len;
} cheat;

static void cheat_trace(nn_trace *t, void *vctx)
{
    cheat *c = vctx;
    if (c->out_pos >= 0)
        t->act[t->n_layers][c->out_pos] = c->out_val;
}

static void cheat_wit(const zk_vk *vk, const zk_wlayout *wl, zk_wit *w, void *vctx)
{
    cheat *c = vctx;
    const zk_layer *L = &vk->layers[0];
    unsigned K = L->kh * L->kw;
    size_t len = (size_t)1 << wl->pack.log[wl->y_blk[0]];
    uint32_t blk[1 + ZK_MAX_POOL_WIN];
    blk[0] = wl->y_blk[0];
    for (unsigned t = 0; t < K; t++)
        blk[1 + t] = wl->d_blk[0][t];
    for (unsigned b = 0; b <= K; b++) {
        if (c->restore == 1) { /* first run: save */
            c->saved[b] = malloc(len * sizeof(int32_t));
            memcpy(c->saved[b], w->blk[blk[b]], len * sizeof(int32_t));
            c->saved_len = len;
        } else if (c->restore == 2 && c->saved[b] && c->saved_len == len) {
            memcpy(w->blk[blk[b]], c->saved[b], len * sizeof(int32_t));
        }
    }
    if (c->zero_slot >= 0 && c->out_pos >= 0) {
        /* engine index c*P + p -> padded index c*2^lp + p (sample 0) */
        size_t e = (size_t)zk__pad_idx(L->op, L->ops, (uint64_t)c->out_pos);
        w->blk[wl->d_blk[0][c->zero_slot]][e] = 0;
    }
}

/* Proves one sample of the CORNER model under the cheat; returns zk_verify's status. */
static em_status run_cheat(const int32_t *x, cheat *c, em_err *err)
{
    nn_model *m = build(c->spec ? c->spec : &CORNER);
    zk_prover *p = NULL;
    em_status st = EM_ERR_INTERNAL;
    size_t k = m ? nn_model_output_size(m) : 0;
    int32_t *y = calloc(k ? k : 1, sizeof *y);
    uint8_t *proof = NULL;
    size_t len = 0;
    if (!m || zk_prover_create(m, &p, err) != EM_OK)
        goto out;
    zk_prover_set_trace_hook(p, cheat_trace, c);
    p->wit_hook = cheat_wit;
    p->wit_hook_ctx = c;
    if ((st = zk_prove(p, NULL, x, 1, &CTX, y, &proof, &len, NULL, err)) != EM_OK)
        goto out;
    if (c->out_pos >= 0)
        CHECK_EQ_I64(y[c->out_pos], c->out_val); /* the statement carries the cheat */
    st = zk_verify(zk_prover_vk(p), x, 1, y, &CTX, proof, len, NULL, err);
    if (getenv("ZK_TEST_VERBOSE"))
        fprintf(stderr, "    -> %s\n", st == EM_OK ? "accepted" : err->msg);
out:
    free(y);
    free(proof);
    zk_prover_free(p);
    nn_model_free(m);
    return st;
}

static void corner_input(int32_t *x)
{
    /* 2 x 4 x 4, all negative, distinct within each 2x2 window */
    for (int i = 0; i < 32; i++)
        x[i] = -3 - (int32_t)((i * 7) % 19);
}

static void test_honest_hooks_accepted(void)
{
    int32_t x[32];
    corner_input(x);
    em_err err = {0};
    cheat c = {.out_pos = -1, .zero_slot = -1};
    CHECK_OK(run_cheat(x, &c, &err), &err);
}

static void test_changed_output(void)
{
    int32_t x[32], ref[2 * 9];
    corner_input(x);
    em_err err = {0};
    nn_model *m = build(&CORNER);
    CHECK(m && nn_model_run(m, NULL, x, 1, ref, &err) == EM_OK);
    nn_model_free(m);
    /* raised by one: no window element equals it */
    cheat c = {.out_pos = 13, .out_val = ref[13] + 1, .zero_slot = -1};
    CHECK_ST(run_cheat(x, &c, &err), EM_ERR_VERIFY, &err);
    CHECK_STR_CONTAINS(err.msg, "maxpool");
    /* the committed y and d stay honest, the public output changes: only the binding of y to
     * the public output can catch it */
    cheat save = {.out_pos = -1, .zero_slot = -1, .restore = 1};
    CHECK_OK(run_cheat(x, &save, &err), &err);
    cheat c2 = {.out_pos = 4, .out_val = ref[4] + 3, .zero_slot = -1, .restore = 2};
    memcpy(c2.saved, save.saved, sizeof save.saved);
    c2.saved_len = save.saved_len;
    CHECK_ST(run_cheat(x, &c2, &err), EM_ERR_VERIFY, &err);
    CHECK_STR_CONTAINS(err.msg, "public output");
    for (unsigned b = 0; b <= ZK_MAX_POOL_WIN; b++)
        free(save.saved[b]);
}

static void test_padding_counted_as_max(void)
{
    int32_t x[32];
    corner_input(x);
    em_err err = {0};
    /* output (0,0) of channel 1 = position 9 of the 3x3 grid: its window has one real input
     * (slot 3) and three padding slots. Claim the zero padding is the max: y = 0 > every input. */
    cheat c = {.out_pos = 9, .out_val = 0, .zero_slot = -1};
    CHECK_ST(run_cheat(x, &c, &err), EM_ERR_VERIFY, &err);
    CHECK_STR_CONTAINS(err.msg, "maxpool");
    /* and with d = 0 at a padding slot, so the product check holds: the link must fail */
    for (int slot = 0; slot < 3; slot++) {
        cheat c2 = {.out_pos = 9, .out_val = 0, .zero_slot = slot};
        CHECK_ST(run_cheat(x, &c2, &err), EM_ERR_VERIFY, &err);
        CHECK_STR_CONTAINS(err.msg, "maxpool");
    }
}

static void test_not_the_max(void)
{
    int32_t x[32], ref[18];
    corner_input(x);
    em_err err = {0};
    nn_model *m = build(&CORNER);
    CHECK(m && nn_model_run(m, NULL, x, 1, ref, &err) == EM_OK);
    nn_model_free(m);
    /* output (1,1) of channel 0 (position 4) reads rows 1..2, columns 1..2: claim its minimum */
    int32_t mn = INT32_MAX;
    for (int iy = 1; iy <= 2; iy++)
        for (int ix = 1; ix <= 2; ix++)
            mn = x[iy * 4 + ix] < mn ? x[iy * 4 + ix] : mn;
    CHECK(mn < ref[4]);
    cheat c = {.out_pos = 4, .out_val = mn, .zero_slot = -1};
    CHECK_ST(run_cheat(x, &c, &err), EM_ERR_VERIFY, &err);
}

/* relu(max) on one padded maxpool: y must be max(0, max_w x_w). */
static void test_relu_after_pool(void)
{
    int32_t neg[32], mixed[32], ref[18];
    corner_input(neg);
    for (int i = 0; i < 32; i++)
        mixed[i] = (int32_t)((i * 7) % 19) - 9;
    em_err err = {0};
    cheat ok1 = {.out_pos = -1, .zero_slot = -1, .spec = &CORNER_RELU};
    CHECK_OK(run_cheat(neg, &ok1, &err), &err);
    CHECK_OK(run_cheat(mixed, &ok1, &err), &err);
    /* all inputs negative: the pooled max without the ReLU (negative) is refused */
    nn_model *m = build(&CORNER);
    CHECK(m && nn_model_run(m, NULL, neg, 1, ref, &err) == EM_OK);
    nn_model_free(m);
    CHECK(ref[4] < 0);
    cheat c1 = {.out_pos = 4, .out_val = ref[4], .zero_slot = -1, .spec = &CORNER_RELU};
    CHECK_ST(run_cheat(neg, &c1, &err), EM_ERR_VERIFY, &err);
    /* a window with a positive maximum: claiming 0 (the zero slot as the max) or max + 1 fails */
    m = build(&CORNER_RELU);
    CHECK(m && nn_model_run(m, NULL, mixed, 1, ref, &err) == EM_OK);
    nn_model_free(m);
    int pos = -1;
    for (int i = 0; i < 18 && pos < 0; i++)
        if (ref[i] > 0)
            pos = i;
    CHECK(pos >= 0);
    if (pos >= 0) {
        cheat c2 = {.out_pos = pos, .out_val = 0, .zero_slot = -1, .spec = &CORNER_RELU};
        CHECK_ST(run_cheat(mixed, &c2, &err), EM_ERR_VERIFY, &err);
        cheat c3 = {.out_pos = pos, .out_val = ref[pos] + 1, .zero_slot = -1, .spec = &CORNER_RELU};
        CHECK_ST(run_cheat(mixed, &c3, &err), EM_ERR_VERIFY, &err);
        CHECK_STR_CONTAINS(err.msg, "maxpool");
    }
}

static void test_flipped_bytes(void)
{
    em_err err = {0};
    nn_model *m = build(&LAST);
    zk_prover *p = NULL;
    CHECK(m && zk_prover_create(m, &p, &err) == EM_OK);
    size_t n = 3, k = m ? nn_model_output_size(m) : 0;
    int32_t *x = m ? zt_input(m, n) : NULL, *y = calloc(n * k + 1, sizeof *y);
    uint8_t *proof = NULL;
    size_t len = 0;
    if (p && zk_prove(p, NULL, x, n, &CTX, y, &proof, &len, NULL, &err) == EM_OK) {
        uint8_t *pp = malloc(len);
        size_t tried = 0, accepted = 0, stride = len / 1500 + 1;
        for (size_t pos = 0; pos < len; pos += pos < 400 ? 1 : stride) {
            memcpy(pp, proof, len);
            pp[pos] ^= (uint8_t)(1u << (pos % 8));
            tried++;
            if (zk_verify(zk_prover_vk(p), x, n, y, &CTX, pp, len, NULL, &err) == EM_OK) {
                accepted++;
                fprintf(stderr, "flipped byte %zu accepted\n", pos);
            }
        }
        CHECK_EQ_U64(accepted, 0);
        fprintf(stderr, "    %zu corrupted proofs rejected (proof %zu bytes)\n", tried, len);
        free(pp);
    } else {
        CHECK(0);
    }
    free(proof);
    free(x);
    free(y);
    zk_prover_free(p);
    nn_model_free(m);
}

/* The product zero-check alone: honest tables (a zero factor at every entry) verify with true
 * final evaluations; one entry without a zero factor is rejected. */
static void test_prodzero(void)
{
    static const unsigned Ks[] = {1, 2, 3, 9, 16};
    for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++)
        for (unsigned nv = 0; nv <= 6; nv += 3)
            for (int bad = 0; bad < 2; bad++) {
                unsigned K = Ks[ki];
                size_t N = (size_t)1 << nv;
                int32_t *t = calloc(K * N, sizeof *t);
                const int32_t *tabs[ZK_MAX_POOL_WIN];
                for (unsigned w = 0; w < K; w++) {
                    tabs[w] = t + w * N;
                    for (size_t e = 0; e < N; e++)
                        t[w * N + e] = (int32_t)(1 + th_rand() % 255);
                }
                for (size_t e = 0; e < N; e++)
                    if (!(bad && e == N - 1))
                        t[(th_rand() % K) * N + e] = 0;
                ff2_t tau[8], pt[8], pv[8], ev[ZK_MAX_POOL_WIN], ev2[ZK_MAX_POOL_WIN];
                for (unsigned j = 0; j < nv; j++)
                    tau[j] = (ff2_t){th_rand() % FF_P, th_rand() % FF_P};
                tr_t tp, tv;
                tr_init(&tp, "test-prodzero");
                tv = tp;
                em_buf buf = {.max = (size_t)1 << 24};
                em_err err = {0};
                zk_wr wr = {.tr = &tp, .buf = &buf, .threads = 2, .forge = 1};
                CHECK_OK(zk__prodzero_prove(&wr, tabs, K, nv, tau, pt, ev, &err), &err);
                em_reader r;
                em_reader_init(&r, buf.data, buf.len);
                zk_rd rd = {.tr = &tv, .rd = &r};
                em_status st = zk__prodzero_verify(&rd, K, nv, tau, pv, ev2, &err);
                if (bad) {
                    CHECK_ST(st, EM_ERR_VERIFY, &err);
                } else {
                    CHECK_OK(st, &err);
                    CHECK_EQ_U64(em_reader_left(&r), 0);
                    ff2_t scratch[64];
                    ff_t tf[1 << 7];
                    for (unsigned w = 0; w < K && st == EM_OK; w++) {
                        for (size_t e = 0; e < N; e++)
                            tf[e] = ff_from_i64(tabs[w][e]);
                        CHECK(ff2_eq(ev2[w], ml_eval_base(tf, N, nv, pv, scratch)) && ff2_eq(ev2[w], ev[w]));
                    }
                }
                em_buf_free(&buf);
                free(t);
            }
}

/* The bundled CNN at batch 256: its max-pool zero-check tables pass 1 MiB, so they come from the
 * prover's buffer cache (zk__big_alloc). Several proofs on one prover reuse that memory (and the
 * trace's); releasing such a block with free() instead of zk__big_free once corrupted the heap
 * a few proofs later -- the cache now aborts on that misuse, and this sequence must run clean. */
static void test_large_pool_cache(void)
{
    em_err err = {0};
    nn_model *m = zt_bundled_cnn(NULL, 0);
    zk_prover *p = NULL;
    if (m)
        CHECK_OK(zk_prover_create(m, &p, &err), &err);
    if (!p) {
        nn_model_free(m);
        return;
    }
    size_t k = nn_model_output_size(m);
    zk_context ctx = {.nonce = (const uint8_t *)"pool", .nonce_len = 4, .node_id = "w"};
    static const size_t batches[] = {64, 256, 256, 64, 256};
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
        size_t n = batches[b];
        int32_t *x = zt_input(m, n), *y = calloc(n * k, sizeof *y);
        uint8_t *proof = NULL;
        size_t len = 0;
        CHECK_OK(zk_prove(p, NULL, x, n, &ctx, y, &proof, &len, NULL, &err), &err);
        if (proof && b == 2)
            CHECK_OK(zk_verify(zk_prover_vk(p), x, n, y, &ctx, proof, len, NULL, &err), &err);
        free(proof);
        free(x);
        free(y);
    }
    zk_prover_free(p);
    nn_model_free(m);
}

int main(void)
{
    th_init("test_zk_maxpool");
    TH_RUN(test_large_pool_cache);
    TH_RUN(test_prodzero);
    TH_RUN(test_completeness);
    TH_RUN(test_window_too_large);
    TH_RUN(test_honest_hooks_accepted);
    TH_RUN(test_changed_output);
    TH_RUN(test_padding_counted_as_max);
    TH_RUN(test_not_the_max);
    TH_RUN(test_relu_after_pool);
    TH_RUN(test_flipped_bytes);
    return th_finish();
}
