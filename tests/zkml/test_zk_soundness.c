/* Soundness of proofs of inference: every tampering must be rejected -- a changed weight
 * (prover computing with other weights than the committed ones), input, intermediate value,
 * output, any proof byte, nonce or node id; malformed, truncated and oversized proofs are
 * rejected without crashing. */
#include "zk_internal.h" /* zk__hash_input/output, to forge headers */
#include "zk_testutil.h"

typedef struct fixture {
    nn_model *m;
    zk_prover *p;
    int32_t *x, *y;
    size_t n, k;
    uint8_t *proof;
    size_t len;
    zk_context ctx;
} fixture;

static const uint8_t NONCE[4] = {0xde, 0xad, 0xbe, 0xef};

static int fx_init(fixture *f, size_t n)
{
    memset(f, 0, sizeof *f);
    uint32_t d[] = {20, 12, 7, 5};
    em_err err = {0};
    f->m = zt_mlp(d, 4, 8, 8, 0, 0);
    if (!f->m || zk_prover_create(f->m, &f->p, &err) != EM_OK)
        return 0;
    f->n = n;
    f->k = nn_model_output_size(f->m);
    f->x = zt_input(f->m, n);
    f->y = calloc(n * f->k, sizeof *f->y);
    f->ctx = (zk_context){.nonce = NONCE, .nonce_len = sizeof NONCE, .node_id = "worker-1"};
    if (zk_prove(f->p, NULL, f->x, n, &f->ctx, f->y, &f->proof, &f->len, NULL, &err) != EM_OK) {
        fprintf(stderr, "fixture prove: %s\n", err.msg);
        return 0;
    }
    return 1;
}

static void fx_free(fixture *f)
{
    free(f->proof);
    free(f->x);
    free(f->y);
    zk_prover_free(f->p);
    nn_model_free(f->m);
}

static em_status fx_verify(const fixture *f, const int32_t *x, const int32_t *y, const zk_context *ctx,
                           const uint8_t *proof, size_t len, em_err *err)
{
    em_status st = zk_verify(zk_prover_vk(f->p), x, f->n, y, ctx, proof, len, NULL, err);
    if (st != EM_OK && getenv("ZK_TEST_VERBOSE"))
        fprintf(stderr, "    rejected: %s\n", em_err_msg(err));
    return st;
}

/* Rewrites the proof header's input/output hash so the statement check passes and the
 * Fiat-Shamir transcript has to catch the change. */
static void patch_hash(uint8_t *proof, size_t which, const zk_vk *vk, const int32_t *v, size_t n)
{
    uint8_t h[32];
    if (which == 1)
        zk__hash_input(vk, v, n, h);
    else
        zk__hash_output(v, n, h);
    /* header 8 | section len 4 | model hash 32 | input hash 32 | output hash 32 */
    memcpy(proof + 12 + 32 * which, h, 32);
}

static void test_honest(void)
{
    fixture f;
    CHECK(fx_init(&f, 3));
    em_err err = {0};
    if (f.proof)
        CHECK_OK(fx_verify(&f, f.x, f.y, &f.ctx, f.proof, f.len, &err), &err);
    fx_free(&f);
}

/* A hook that changes nothing: it only switches the prover into the hook mode in which it
 * proves whatever it computes (a cheating prover) instead of refusing false claims. */
static void noop_hook(nn_trace *t, void *ctx)
{
    (void)t;
    (void)ctx;
}

static void test_changed_weight(void)
{
    fixture f;
    CHECK(fx_init(&f, 3));
    if (!f.proof) {
        fx_free(&f);
        return;
    }
    em_err err = {0};
    /* The prover borrows the model: change a weight after the commitment was made, so the
     * prover computes (and proves) with a weight that is not the committed one while claiming
     * the original model hash. */
    zk_prover_set_trace_hook(f.p, noop_hook, NULL);
    for (size_t li = 0; li < 3; li++) {
        const nn_layer *L = nn_model_layer(f.m, li);
        int32_t old = L->weight[1];
        L->weight[1] = old == 0 ? 1 : old > 0 ? -old : old + 1; /* stays in the 8-bit range */
        nn_model_weights_changed(f.m); /* the engine caches packed weights */
        int32_t *y2 = calloc(f.n * f.k, sizeof *y2);
        uint8_t *pr = NULL;
        size_t len = 0;
        CHECK_OK(zk_prove(f.p, NULL, f.x, f.n, &f.ctx, y2, &pr, &len, NULL, &err), &err);
        if (pr)
            CHECK_ST(fx_verify(&f, f.x, y2, &f.ctx, pr, len, &err), EM_ERR_VERIFY, &err);
        free(pr);
        free(y2);
        L->weight[1] = old;
        nn_model_weights_changed(f.m);
    }
    /* a changed bias too */
    const nn_layer *L = nn_model_layer(f.m, 1);
    L->bias[0] += 1000;
    int32_t *y2 = calloc(f.n * f.k, sizeof *y2);
    uint8_t *pr = NULL;
    size_t len = 0;
    CHECK_OK(zk_prove(f.p, NULL, f.x, f.n, &f.ctx, y2, &pr, &len, NULL, &err), &err);
    if (pr)
        CHECK_ST(fx_verify(&f, f.x, y2, &f.ctx, pr, len, &err), EM_ERR_VERIFY, &err);
    free(pr);
    free(y2);
    L->bias[0] -= 1000;
    fx_free(&f);
}

static void test_changed_input(void)
{
    fixture f;
    CHECK(fx_init(&f, 3));
    if (!f.proof) {
        fx_free(&f);
        return;
    }
    em_err err = {0};
    size_t in = nn_model_input_size(f.m);
    int32_t *x2 = malloc(f.n * in * sizeof *x2);
    for (size_t pos = 0; pos < f.n * in; pos += 7) {
        memcpy(x2, f.x, f.n * in * sizeof *x2);
        x2[pos] ^= 1;
        CHECK_ST(fx_verify(&f, x2, f.y, &f.ctx, f.proof, f.len, &err), EM_ERR_VERIFY, &err);
        /* with the header patched to the new input hash, the transcript must catch it */
        uint8_t *pp = malloc(f.len);
        memcpy(pp, f.proof, f.len);
        patch_hash(pp, 1, zk_prover_vk(f.p), x2, f.n * in);
        CHECK(fx_verify(&f, x2, f.y, &f.ctx, pp, f.len, &err) != EM_OK);
        free(pp);
    }
    free(x2);
    fx_free(&f);
}

static void test_changed_output(void)
{
    fixture f;
    CHECK(fx_init(&f, 3));
    if (!f.proof) {
        fx_free(&f);
        return;
    }
    em_err err = {0};
    int32_t *y2 = malloc(f.n * f.k * sizeof *y2);
    for (size_t pos = 0; pos < f.n * f.k; pos++) {
        memcpy(y2, f.y, f.n * f.k * sizeof *y2);
        y2[pos] += 1;
        CHECK_ST(fx_verify(&f, f.x, y2, &f.ctx, f.proof, f.len, &err), EM_ERR_VERIFY, &err);
        uint8_t *pp = malloc(f.len);
        memcpy(pp, f.proof, f.len);
        patch_hash(pp, 2, zk_prover_vk(f.p), y2, f.n * f.k);
        CHECK(fx_verify(&f, f.x, y2, &f.ctx, pp, f.len, &err) != EM_OK);
        free(pp);
    }
    free(y2);
    fx_free(&f);
}

typedef struct corrupt {
    size_t layer; /* trace act index to corrupt (1 = output of layer 0) */
    int acc;      /* corrupt the accumulator instead */
    size_t pos;
    int delta;    /* added to the activation (0 means +1) */
} corrupt;

static void corrupt_hook(nn_trace *t, void *ctx)
{
    const corrupt *c = ctx;
    if (c->acc) {
        if (t->acc[c->layer])
            t->acc[c->layer][c->pos] += 3;
    } else {
        t->act[c->layer][c->pos] += c->delta ? c->delta : 1;
    }
}

/* Proves the fixture's input with the prover's hooks as set (the proof must be made) and
 * returns the verifier's verdict on the output the prover claimed. */
static em_status hooked_verify(fixture *f, em_err *err)
{
    int32_t *y2 = calloc(f->n * f->k, sizeof *y2);
    uint8_t *pr = NULL;
    size_t len = 0;
    em_status st = zk_prove(f->p, NULL, f->x, f->n, &f->ctx, y2, &pr, &len, NULL, err);
    CHECK_OK(st, err);
    st = st == EM_OK ? fx_verify(f, f->x, y2, &f->ctx, pr, len, err) : EM_ERR_INTERNAL;
    free(pr);
    free(y2);
    return st;
}

static void test_changed_intermediate(void)
{
    fixture f;
    CHECK(fx_init(&f, 3));
    if (!f.proof) {
        fx_free(&f);
        return;
    }
    em_err err = {0};
    corrupt cases[] = {
        {1, 0, 0, 0}, {1, 0, 17, 0}, {2, 0, 5, 0}, /* hidden activations */
        {3, 0, 2, 0},                           /* the final output (trace and claimed output agree) */
        {0, 1, 4, 0}, {1, 1, 0, 0}, {2, 1, 3, 0},  /* accumulators */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zk_prover_set_trace_hook(f.p, corrupt_hook, &cases[i]);
        /* under the hook the prover proves whatever the trace says; the verifier must reject */
        em_status st = hooked_verify(&f, &err);
        if (st == EM_OK)
            fprintf(stderr, "corruption case %zu was accepted\n", i);
        CHECK(st != EM_OK);
    }
    zk_prover_set_trace_hook(f.p, NULL, NULL);
    fx_free(&f);
}

/* q is not committed: the lookup takes q~ at its leaf point on trust and the accumulator
 * sumcheck checks it there. A witness hook edits one entry of a hidden layer's q after the
 * witness is built, keeping (q, y) a table pair: (a) q + 1 with y = act(q + 1) and the remainder
 * kept (the accumulator identity breaks), (b) q + 1 with r - 2^shift (the identity holds, the
 * remainder leaves its range), (c) q - 1 with y = act(q - 1) (a pair the table accepts). */
typedef struct qforge {
    int mode;
    size_t pos;
} qforge;

static void q_hook(const zk_vk *vk, const zk_wlayout *wl, zk_wit *w, void *ctx)
{
    const qforge *c = ctx;
    const zk_layer *L = &vk->layers[0];
    int32_t *Q = w->blk[wl->q_blk[0]], *Y = w->blk[wl->y_blk[0]];
    int32_t amax = (int32_t)(1u << (vk->act_bits - 1)) - 1;
    int32_t q = Q[c->pos] + (c->mode == 2 ? -1 : 1);
    Q[c->pos] = q;
    Y[c->pos] = q < 0 ? 0 : q > amax ? amax : q; /* layer 0 is a ReLU layer */
    if (c->mode == 1) { /* r - 2^shift, limb by limb (the limbs hold r in base 2^lbits) */
        int64_t r = 0;
        for (unsigned t = wl->nl[0]; t-- > 0;)
            r = (r << wl->lbits) + w->blk[wl->r_blk[0][t]][c->pos];
        r -= (int64_t)1 << L->shift;
        for (unsigned t = 0; t < wl->nl[0]; t++)
            w->blk[wl->r_blk[0][t]][c->pos] = (int32_t)(t + 1 < wl->nl[0] ? r & ((1 << wl->lbits) - 1) : r);
    }
}

static void test_uncommitted_q(void)
{
    fixture f;
    CHECK(fx_init(&f, 3));
    if (!f.proof) {
        fx_free(&f);
        return;
    }
    em_err err = {0};
    CHECK(zk_prover_vk(f.p)->layers[0].act == NN_ACT_RELU && zk_prover_vk(f.p)->layers[0].shift > 0);
    size_t M = (size_t)1 << zk_prover_vk(f.p)->layers[0].lv_out;
    qforge cases[] = {{0, 0}, {0, M + 3}, {1, 2 * M + 1}, {2, 5}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        f.p->wit_hook = q_hook;
        f.p->wit_hook_ctx = &cases[i];
        em_status st = hooked_verify(&f, &err);
        if (st == EM_OK)
            fprintf(stderr, "q forgery case %zu was accepted\n", i);
        CHECK(st == EM_ERR_VERIFY);
    }
    f.p->wit_hook = NULL;
    fx_free(&f);
}

static void test_replay(void)
{
    fixture f;
    CHECK(fx_init(&f, 3));
    if (!f.proof) {
        fx_free(&f);
        return;
    }
    em_err err = {0};
    uint8_t other[4] = {0xde, 0xad, 0xbe, 0xee};
    zk_context c1 = {.nonce = other, .nonce_len = 4, .node_id = "worker-1"};
    zk_context c2 = {.nonce = NONCE, .nonce_len = 4, .node_id = "worker-2"};
    zk_context c3 = {.nonce = NONCE, .nonce_len = 3, .node_id = "worker-1"};
    zk_context c4 = {.nonce = NONCE, .nonce_len = 4, .node_id = NULL};
    CHECK_ST(fx_verify(&f, f.x, f.y, &c1, f.proof, f.len, &err), EM_ERR_VERIFY, &err);
    CHECK_STR_CONTAINS(err.msg, "nonce");
    CHECK_ST(fx_verify(&f, f.x, f.y, &c2, f.proof, f.len, &err), EM_ERR_VERIFY, &err);
    CHECK_STR_CONTAINS(err.msg, "node id");
    CHECK_ST(fx_verify(&f, f.x, f.y, &c3, f.proof, f.len, &err), EM_ERR_VERIFY, &err);
    CHECK_ST(fx_verify(&f, f.x, f.y, &c4, f.proof, f.len, &err), EM_ERR_VERIFY, &err);
    /* header rewritten to the other nonce: the transcript must still reject */
    uint8_t *pp = malloc(f.len);
    memcpy(pp, f.proof, f.len);
    pp[12 + 96 + 8 + 1 + 3] ^= 0x01; /* last nonce byte: 0xef -> 0xee */
    CHECK(fx_verify(&f, f.x, f.y, &c1, pp, f.len, &err) != EM_OK);
    free(pp);
    /* a proof for another model (other vk) */
    uint32_t d[] = {20, 12, 7, 5};
    nn_model *m2 = zt_mlp(d, 4, 8, 8, 0, 0);
    zk_prover *p2 = NULL;
    CHECK_OK(zk_prover_create(m2, &p2, &err), &err);
    if (p2)
        CHECK_ST(zk_verify(zk_prover_vk(p2), f.x, f.n, f.y, &f.ctx, f.proof, f.len, NULL, &err), EM_ERR_VERIFY, &err);
    zk_prover_free(p2);
    nn_model_free(m2);
    fx_free(&f);
}

static void test_every_region_corrupted(void)
{
    fixture f;
    CHECK(fx_init(&f, 2));
    if (!f.proof) {
        fx_free(&f);
        return;
    }
    em_err err = {0};
    uint8_t *pp = malloc(f.len);
    size_t accepted = 0, tried = 0;
    /* every byte of the first 400 (header, statement, commitment, first messages), then a
     * stride through the rest so every region (lookups, sumchecks, openings) is hit */
    size_t stride = f.len / 1500 + 1;
    for (size_t pos = 0; pos < f.len; pos += pos < 400 ? 1 : stride) {
        memcpy(pp, f.proof, f.len);
        pp[pos] ^= (uint8_t)(1u << (pos % 8));
        tried++;
        if (fx_verify(&f, f.x, f.y, &f.ctx, pp, f.len, &err) == EM_OK) {
            accepted++;
            fprintf(stderr, "flipped byte %zu accepted\n", pos);
        }
    }
    CHECK_EQ_U64(accepted, 0);
    fprintf(stderr, "    %zu corrupted proofs rejected (proof %zu bytes)\n", tried, f.len);
    free(pp);
    fx_free(&f);
}

static void test_malformed(void)
{
    fixture f;
    CHECK(fx_init(&f, 1));
    if (!f.proof) {
        fx_free(&f);
        return;
    }
    em_err err = {0};
    /* truncations */
    size_t stride = f.len / 700 + 1;
    for (size_t l = 0; l < f.len; l += l < 300 ? 1 : stride)
        CHECK(fx_verify(&f, f.x, f.y, &f.ctx, f.proof, l, &err) != EM_OK);
    /* trailing bytes */
    uint8_t *big = malloc(f.len + 64);
    memcpy(big, f.proof, f.len);
    memset(big + f.len, 0, 64);
    CHECK_ST(fx_verify(&f, f.x, f.y, &f.ctx, big, f.len + 1, &err), EM_ERR_PARSE, &err);
    CHECK_ST(fx_verify(&f, f.x, f.y, &f.ctx, big, f.len + 64, &err), EM_ERR_PARSE, &err);
    /* section lengths claiming more than there is */
    memcpy(big, f.proof, f.len);
    big[8] = 0xff;
    big[9] = 0xff;
    big[10] = 0xff;
    big[11] = 0x7f;
    CHECK(fx_verify(&f, f.x, f.y, &f.ctx, big, f.len, &err) != EM_OK);
    free(big);
    /* oversized */
    CHECK_ST(fx_verify(&f, f.x, f.y, &f.ctx, f.proof, ZK_MAX_PROOF_BYTES + 1, &err), EM_ERR_LIMIT, &err);
    /* garbage with a valid header */
    uint8_t junk[4096];
    for (int rep = 0; rep < 200; rep++) {
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (uint8_t)th_rand();
        size_t l = (size_t)(th_rand() % sizeof junk);
        if (rep % 2 && l >= 8)
            memcpy(junk, f.proof, 8);
        CHECK(fx_verify(&f, f.x, f.y, &f.ctx, junk, l, &err) != EM_OK);
    }
    /* flags / version */
    uint8_t *pp = malloc(f.len);
    memcpy(pp, f.proof, f.len);
    pp[5] = 1;
    CHECK_ST(fx_verify(&f, f.x, f.y, &f.ctx, pp, f.len, &err), EM_ERR_UNSUPPORTED, &err);
    memcpy(pp, f.proof, f.len);
    pp[4] = 2;
    CHECK_ST(fx_verify(&f, f.x, f.y, &f.ctx, pp, f.len, &err), EM_ERR_UNSUPPORTED, &err);
    free(pp);
    fx_free(&f);
}

static void test_vk_parser(void)
{
    fixture f;
    CHECK(fx_init(&f, 1));
    em_err err = {0};
    uint8_t *vb = NULL;
    size_t vl = 0;
    CHECK_OK(zk_vk_serialize(zk_prover_vk(f.p), &vb, &vl, &err), &err);
    zk_vk *vk = NULL;
    for (size_t l = 0; l < vl; l++) {
        CHECK(zk_vk_deserialize(vb, l, &vk, &err) != EM_OK);
        CHECK(vk == NULL);
    }
    uint8_t *cp = malloc(vl + 1);
    /* any changed byte either fails to parse or yields another model hash; a changed byte of the
     * model commitment's proximity proof (the last prox_len bytes, after their u32 length) never
     * parses: the proof is checked, and not hashed */
    uint8_t h0[32];
    zk_vk_model_hash(zk_prover_vk(f.p), h0);
    size_t plen = zk_prover_vk(f.p)->prox_len;
    CHECK(plen > 0);
    for (size_t pos = 0; pos < vl; pos++) {
        memcpy(cp, vb, vl);
        cp[pos] ^= 0x10;
        if (pos >= vl - plen - 4) {
            CHECK(zk_vk_deserialize(cp, vl, &vk, &err) != EM_OK);
            continue;
        }
        if (zk_vk_deserialize(cp, vl, &vk, &err) == EM_OK) {
            uint8_t h[32];
            zk_vk_model_hash(vk, h);
            CHECK(memcmp(h, h0, 32) != 0);
            /* and the honest proof does not verify under it */
            CHECK(zk_verify(vk, f.x, f.n, f.y, &f.ctx, f.proof, f.len, NULL, &err) != EM_OK);
            zk_vk_free(vk);
            vk = NULL;
        }
    }
    memcpy(cp, vb, vl);
    cp[vl] = 0;
    CHECK_ST(zk_vk_deserialize(cp, vl + 1, &vk, &err), EM_ERR_PARSE, &err);
    free(cp);
    free(vb);
    fx_free(&f);
}

/* Conv/pool layers: changed conv weight or bias, corrupted conv accumulator, conv output,
 * pooled output, changed input and output -- all rejected. */
static void cnn_tamper(int maxpool)
{
    nn_model *m = zt_cnn2(maxpool);
    em_err err = {0};
    zk_prover *p = zt_prover(m);
    if (!p)
        return;
    size_t n = 3, k = nn_model_output_size(m), in = nn_model_input_size(m);
    int32_t *x = zt_input(m, n), *y = calloc(n * k, sizeof *y), *y2 = calloc(n * k, sizeof *y2);
    zk_context ctx = {.nonce = NONCE, .nonce_len = 4, .node_id = "cnn"};
    uint8_t *pr = NULL;
    size_t len = 0;
    CHECK_OK(zk_prove(p, NULL, x, n, &ctx, y, &pr, &len, NULL, &err), &err);
    if (pr) {
        CHECK_OK(zk_verify(zk_prover_vk(p), x, n, y, &ctx, pr, len, NULL, &err), &err);
        y2[0] = y[0];
        memcpy(y2, y, n * k * sizeof *y2);
        y2[5] += 1;
        CHECK(zk_verify(zk_prover_vk(p), x, n, y2, &ctx, pr, len, NULL, &err) != EM_OK);
        int32_t *x2 = malloc(n * in * sizeof *x2);
        memcpy(x2, x, n * in * sizeof *x2);
        x2[in + 9] ^= 2;
        CHECK(zk_verify(zk_prover_vk(p), x2, n, y, &ctx, pr, len, NULL, &err) != EM_OK);
        free(x2);
    }
    free(pr);
    /* weights/bias of conv1 (layer 0) and conv2 (layer 2) changed after the commitment */
    zk_prover_set_trace_hook(p, noop_hook, NULL);
    size_t wl[] = {0, 2};
    for (size_t t = 0; t < 2; t++) {
        const nn_layer *L = nn_model_layer(m, wl[t]);
        for (int which = 0; which < 2; which++) {
            int32_t ow = L->weight[5];
            int64_t ob = L->bias[1];
            if (which == 0)
                L->weight[5] = ow == 0 ? 3 : ow > 0 ? -ow : ow + 1;
            else
                L->bias[1] += 500;
            nn_model_weights_changed(m);
            pr = NULL;
            CHECK_OK(zk_prove(p, NULL, x, n, &ctx, y2, &pr, &len, NULL, &err), &err);
            if (pr) {
                em_status st = zk_verify(zk_prover_vk(p), x, n, y2, &ctx, pr, len, NULL, &err);
                CHECK_ST(st, EM_ERR_VERIFY, &err);
                if (getenv("ZK_TEST_VERBOSE"))
                    fprintf(stderr, "    cnn weight tamper rejected: %s\n", err.msg);
            }
            free(pr);
            L->weight[5] = ow;
            nn_model_weights_changed(m);
            L->bias[1] = ob;
        }
    }
    /* corrupted trace: conv1 acc, conv1 output (act[1]), pool1 output (act[2]), conv2 acc,
     * pool2 output (act[5]) */
    /* for the maxpool model act[2] is the pooled output: +1 breaks "equals some element",
     * -1 breaks "at least every element" */
    corrupt cases[] = {{0, 1, 7, 0}, {1, 0, 3, 0}, {2, 0, 30, 0}, {2, 1, 11, 0}, {6, 0, 20, 0}, {2, 0, 5, -1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        zk_prover_set_trace_hook(p, corrupt_hook, &cases[c]);
        pr = NULL;
        em_status st = zk_prove(p, NULL, x, n, &ctx, y2, &pr, &len, NULL, &err);
        CHECK_OK(st, &err);
        if (st == EM_OK) {
            st = zk_verify(zk_prover_vk(p), x, n, y2, &ctx, pr, len, NULL, &err);
            if (st == EM_OK)
                fprintf(stderr, "cnn corruption case %zu accepted\n", c);
            else if (getenv("ZK_TEST_VERBOSE"))
                fprintf(stderr, "    cnn corruption %zu rejected: %s\n", c, err.msg);
            CHECK(st != EM_OK);
        }
        free(pr);
    }
    zk_prover_set_trace_hook(p, NULL, NULL);
    free(x);
    free(y);
    free(y2);
    zk_prover_free(p);
    nn_model_free(m);
}

static void test_cnn_tamper(void) { cnn_tamper(0); }

/* A cheating maxpool output made consistent downstream: the hook raises one pooled value by 1
 * (no longer equal to any window element, still >= all of them) and recomputes every later
 * layer from it with a tail model, so requantization, later layers and the output all agree
 * with the lie. Only the maxpool "equals some element" zero-check can catch it. */
typedef struct tail_ctx {
    nn_model *tail; /* layers 2.. of the CNN, input = the pooled activation */
    size_t n, pos;
} tail_ctx;

static void tail_hook(nn_trace *t, void *vctx)
{
    tail_ctx *c = vctx;
    t->act[2][c->pos] += 1;
    nn_trace tt = {0};
    em_err err = {0};
    if (nn_model_run_trace(c->tail, NULL, t->act[2], c->n, &tt, &err) != EM_OK) {
        fprintf(stderr, "tail run: %s\n", err.msg);
        return;
    }
    for (size_t l = 0; l < tt.n_layers; l++) {
        const nn_layer *L = nn_model_layer(c->tail, l);
        memcpy(t->act[l + 3], tt.act[l + 1], c->n * nn_shape_size(L->out) * sizeof(int32_t));
        if (tt.acc[l] && t->acc[l + 2])
            memcpy(t->acc[l + 2], tt.acc[l], c->n * nn_shape_size(L->out) * sizeof(int64_t));
    }
    nn_trace_free(&tt);
}

static void test_maxpool_not_max(void)
{
    nn_model *m = zt_cnn2(1);
    CHECK(m != NULL);
    if (!m)
        return;
    em_err err = {0};
    const nn_layer *L2 = nn_model_layer(m, 2);
    nn_model *tail = NULL;
    CHECK_OK(nn_model_create("tail", L2->in, nn_model_act_bits(m), nn_model_weight_bits(m), L2->in_scale, &tail, &err),
             &err);
    for (size_t l = 2; tail && l < nn_model_n_layers(m); l++)
        CHECK_OK(nn_model_add_layer(tail, nn_model_layer(m, l), &err), &err);
    zk_prover *p = NULL;
    CHECK_OK(zk_prover_create(m, &p, &err), &err);
    size_t n = 2, k = nn_model_output_size(m);
    int32_t *x = zt_input(m, n), *y = calloc(n * k, sizeof *y);
    zk_context ctx = {.nonce = NONCE, .nonce_len = 4, .node_id = "pool"};
    tail_ctx tc = {.tail = tail, .n = n, .pos = 9};
    if (p && tail) {
        zk_prover_set_trace_hook(p, tail_hook, &tc);
        uint8_t *pr = NULL;
        size_t len = 0;
        CHECK_OK(zk_prove(p, NULL, x, n, &ctx, y, &pr, &len, NULL, &err), &err);
        if (pr) {
            em_status st = zk_verify(zk_prover_vk(p), x, n, y, &ctx, pr, len, NULL, &err);
            CHECK_ST(st, EM_ERR_VERIFY, &err);
            CHECK_STR_CONTAINS(err.msg, "maxpool");
            if (getenv("ZK_TEST_VERBOSE"))
                fprintf(stderr, "    non-max pooled value rejected: %s\n", err.msg);
        }
        free(pr);
    }
    free(x);
    free(y);
    zk_prover_free(p);
    nn_model_free(tail);
    nn_model_free(m);
}
static void test_cnn_maxpool_tamper(void) { cnn_tamper(1); }

int main(void)
{
    th_init("test_zk_soundness");
    TH_RUN(test_honest);
    TH_RUN(test_changed_weight);
    TH_RUN(test_changed_input);
    TH_RUN(test_changed_output);
    TH_RUN(test_changed_intermediate);
    TH_RUN(test_uncommitted_q);
    TH_RUN(test_replay);
    TH_RUN(test_every_region_corrupted);
    TH_RUN(test_malformed);
    TH_RUN(test_vk_parser);
    TH_RUN(test_cnn_tamper);
    TH_RUN(test_cnn_maxpool_tamper);
    TH_RUN(test_maxpool_not_max);
    return th_finish();
}
