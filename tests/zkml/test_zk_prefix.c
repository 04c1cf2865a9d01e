/* The public prefix (docs/PROOFS.md "Public prefix"): reshapes and ReLUs before the first proven
 * layer are applied by the verifier to the public input; a model made only of them has no
 * proven layer and the verifier checks output == prefix(input) itself. Completeness at several
 * batch sizes, the model hash pinning the prefix, and rejection of a changed output, a changed
 * input, an altered vk, another model's vk and a prover that feeds the first proven layer
 * something other than prefix(input). */
#include <stdlib.h>
#include <string.h>

#include "enclaveml/model.h"
#include "enclaveml/zkml/zk.h"
#include "harness.h"
#include "zk_testutil.h"

#define NI 16u
#define NH 8u
#define NO 4u

typedef struct weights {
    int32_t w1[NH * NI], w2[NO * NH];
    int64_t b1[NH], b2[NO];
} weights;

static void weights_random(weights *W)
{
    for (size_t i = 0; i < NH * NI; i++)
        W->w1[i] = (int32_t)(th_rand() % 256) - 128;
    for (size_t i = 0; i < NO * NH; i++)
        W->w2[i] = (int32_t)(th_rand() % 256) - 128;
    for (size_t i = 0; i < NH; i++)
        W->b1[i] = (int64_t)(th_rand() % 4001) - 2000;
    for (size_t i = 0; i < NO; i++)
        W->b2[i] = (int64_t)(th_rand() % 4001) - 2000;
}

static int add_shape_op(nn_model *m, nn_layer_kind kind, nn_shape in, nn_shape out, int32_t scale)
{
    nn_layer L;
    memset(&L, 0, sizeof L);
    L.kind = kind;
    L.act = kind == NN_ACT ? NN_ACT_RELU : NN_ACT_NONE;
    L.in = in;
    L.out = out;
    L.in_scale = L.out_scale = scale;
    snprintf(L.name, sizeof L.name, "%s", kind == NN_ACT ? "relu" : "flatten");
    em_err err = {0};
    em_status st = nn_model_add_layer(m, &L, &err);
    if (st != EM_OK)
        fprintf(stderr, "add %s: %s\n", L.name, err.msg);
    return st == EM_OK;
}

static int add_dense(nn_model *m, uint32_t ni, uint32_t no, const int32_t *w, const int64_t *b, int32_t *scale,
                     uint32_t act)
{
    nn_layer L;
    memset(&L, 0, sizeof L);
    L.kind = NN_DENSE;
    L.in = (nn_shape){ni, 1, 1};
    L.out = (nn_shape){no, 1, 1};
    L.weight = (int32_t *)w;
    L.n_weight = (size_t)ni * no;
    L.bias = (int64_t *)b;
    L.n_bias = no;
    L.shift = 9;
    L.w_scale = 7;
    L.in_scale = *scale;
    L.out_scale = *scale + 7 - 9;
    L.act = act;
    snprintf(L.name, sizeof L.name, "dense%u", no);
    em_err err = {0};
    em_status st = nn_model_add_layer(m, &L, &err);
    if (st != EM_OK)
        fprintf(stderr, "add dense: %s\n", err.msg);
    *scale = L.out_scale;
    return st == EM_OK;
}

/* prefix: 'r' = ReLU, 'f' = flatten (1x4x4 -> 16); then dense 16 -> 8 (act1), optionally
 * `mid` standalone ReLUs, dense 8 -> 4; dense == 0: nothing after the prefix. */
static nn_model *build(const weights *W, const char *prefix, int dense, uint32_t act1, int mid)
{
    nn_model *m = NULL;
    em_err err = {0};
    nn_shape sh = strchr(prefix, 'f') ? (nn_shape){1, 4, 4} : (nn_shape){NI, 1, 1};
    if (nn_model_create("prefix-test", sh, 8, 8, 4, &m, &err) != EM_OK)
        return NULL;
    uint8_t seed[32] = {3};
    nn_model_set_blinding_seed(m, seed);
    int32_t scale = 4;
    for (const char *c = prefix; *c; c++) {
        nn_shape out = *c == 'f' ? (nn_shape){NI, 1, 1} : sh;
        if (!add_shape_op(m, *c == 'f' ? NN_RESHAPE : NN_ACT, sh, out, scale))
            goto fail;
        sh = out;
    }
    if (dense) {
        if (!add_dense(m, NI, NH, W->w1, W->b1, &scale, act1))
            goto fail;
        for (int k = 0; k < mid; k++)
            if (!add_shape_op(m, NN_ACT, (nn_shape){NH, 1, 1}, (nn_shape){NH, 1, 1}, scale))
                goto fail;
        if (!add_dense(m, NH, NO, W->w2, W->b2, &scale, NN_ACT_NONE))
            goto fail;
    }
    return m;
fail:
    nn_model_free(m);
    return NULL;
}

static const zk_context CTX = {.nonce = (const uint8_t *)"prefix", .nonce_len = 6, .node_id = "w-prefix"};

typedef struct proved {
    int32_t *x, *y;
    uint8_t *proof;
    size_t n, plen;
} proved;

static void proved_free(proved *r)
{
    free(r->x);
    free(r->y);
    free(r->proof);
    memset(r, 0, sizeof *r);
}

/* Proves n random samples; checks the output is the engine's and the proof verifies. */
static int prove_ok(nn_model *m, zk_prover *p, size_t n, proved *r)
{
    em_err err = {0};
    memset(r, 0, sizeof *r);
    r->n = n;
    r->x = zt_input(m, n);
    r->y = malloc(n * nn_model_output_size(m) * sizeof *r->y);
    int32_t *ref = malloc(n * nn_model_output_size(m) * sizeof *ref);
    int ok = 0;
    if (!r->x || !r->y || !ref)
        goto out;
    em_status st = zk_prove(p, NULL, r->x, n, &CTX, r->y, &r->proof, &r->plen, NULL, &err);
    CHECK_OK(st, &err);
    if (st != EM_OK)
        goto out;
    CHECK_OK(nn_model_run(m, NULL, r->x, n, ref, &err), &err);
    CHECK(!memcmp(ref, r->y, n * nn_model_output_size(m) * sizeof *ref));
    st = zk_verify(zk_prover_vk(p), r->x, n, r->y, &CTX, r->proof, r->plen, NULL, &err);
    CHECK_OK(st, &err);
    ok = st == EM_OK;
out:
    free(ref);
    return ok;
}

/* A changed output value and a changed input value (kept in range) are rejected. */
static void check_tamper_io(const zk_vk *vk, proved *r, size_t out_size, size_t in_size)
{
    em_err err = {0};
    for (size_t k = 0; k < 3; k++) {
        size_t i = (k * 7 + 1) % (r->n * out_size);
        r->y[i] += 1;
        CHECK(zk_verify(vk, r->x, r->n, r->y, &CTX, r->proof, r->plen, NULL, &err) != EM_OK);
        r->y[i] -= 1;
        size_t j = (k * 5 + 2) % (r->n * in_size);
        int32_t old = r->x[j];
        r->x[j] = old > 0 ? old - 1 : old + 1;
        CHECK(zk_verify(vk, r->x, r->n, r->y, &CTX, r->proof, r->plen, NULL, &err) != EM_OK);
        r->x[j] = old;
    }
    /* another input with the same image under the ReLU: the statement binds the exact input */
    for (size_t j = 0; j < r->n * in_size; j++)
        if (r->x[j] < -1) {
            r->x[j] += 1;
            CHECK(zk_verify(vk, r->x, r->n, r->y, &CTX, r->proof, r->plen, NULL, &err) == EM_ERR_VERIFY);
            CHECK_STR_CONTAINS(err.msg, "another input");
            r->x[j] -= 1;
            break;
        }
    CHECK_OK(zk_verify(vk, r->x, r->n, r->y, &CTX, r->proof, r->plen, NULL, &err), &err);
}

static void model_hash(const zk_prover *p, uint8_t h[EM_HASH_LEN]) { zk_vk_model_hash(zk_prover_vk(p), h); }

/* Relu -> Dense -> Relu -> Dense (and with a flatten in the prefix): batches 1, 3, 64. */
static void test_prefix_then_dense(void)
{
    static const char *prefixes[] = {"r", "fr", "rf", "rrf"};
    weights W;
    weights_random(&W);
    for (size_t k = 0; k < sizeof prefixes / sizeof prefixes[0]; k++) {
        nn_model *m = build(&W, prefixes[k], 1, NN_ACT_NONE, 1);
        zk_prover *p = NULL;
        em_err err = {0};
        CHECK(m != NULL);
        if (!m)
            continue;
        CHECK_OK(zk_prover_create(m, &p, &err), &err);
        if (p) {
            CHECK(zk_vk_n_proven_layers(zk_prover_vk(p)) == 2);
            static const size_t batches[] = {1, 3, 64};
            for (size_t b = 0; b < 3; b++) {
                proved r;
                if (prove_ok(m, p, batches[b], &r))
                    check_tamper_io(zk_prover_vk(p), &r, NO, NI);
                proved_free(&r);
            }
        }
        zk_prover_free(p);
        nn_model_free(m);
    }
}

/* The prover feeds the first proven layer x instead of relu(x): the trace from the ReLU on is
 * replaced by a consistent run of the model without the leading ReLU, so every proven layer is
 * internally right and only the link to prefix(input) is wrong. */
typedef struct swap_ctx {
    nn_model *tail; /* the model without its leading ReLU */
    int apply_relu; /* control: feed relu(x), which is the honest value */
    int failed;
} swap_ctx;

static void swap_hook(nn_trace *t, void *vctx)
{
    swap_ctx *c = vctx;
    size_t n = t->n_samples;
    nn_trace u = {0};
    em_err err = {0};
    int32_t *v = malloc(n * NI * sizeof *v);
    if (!v) {
        c->failed = 1;
        return;
    }
    for (size_t i = 0; i < n * NI; i++)
        v[i] = c->apply_relu && t->act[0][i] < 0 ? 0 : t->act[0][i];
    if (nn_model_run_trace(c->tail, NULL, v, n, &u, &err) != EM_OK || u.n_layers + 1 != t->n_layers) {
        c->failed = 1;
        free(v);
        nn_trace_free(&u);
        return;
    }
    /* layer i of the tail is layer i + 1 of the full model */
    memcpy(t->act[1], v, n * NI * sizeof *v);
    for (size_t i = 0; i < u.n_layers; i++) {
        const nn_layer *L = nn_model_layer(c->tail, i);
        size_t sz = nn_shape_size(L->out);
        memcpy(t->act[i + 2], u.act[i + 1], n * sz * sizeof(int32_t));
        if (u.acc[i] && t->acc[i + 1])
            memcpy(t->acc[i + 1], u.acc[i], n * sz * sizeof(int64_t));
    }
    free(v);
    nn_trace_free(&u);
}

static void test_intermediate_tamper(void)
{
    weights W;
    weights_random(&W);
    nn_model *m = build(&W, "r", 1, NN_ACT_NONE, 1), *tail = build(&W, "", 1, NN_ACT_NONE, 1);
    zk_prover *p = NULL;
    em_err err = {0};
    CHECK(m && tail);
    if (!m || !tail)
        goto out;
    CHECK_OK(zk_prover_create(m, &p, &err), &err);
    if (!p)
        goto out;
    for (int control = 1; control >= 0; control--) {
        swap_ctx c = {.tail = tail, .apply_relu = control};
        zk_prover_set_trace_hook(p, swap_hook, &c);
        size_t n = 5;
        int32_t *x = zt_input(m, n), y[5 * NO], ref[5 * NO];
        uint8_t *proof = NULL;
        size_t plen = 0;
        x[0] = -7; /* at least one value the ReLU changes */
        em_status st = zk_prove(p, NULL, x, n, &CTX, y, &proof, &plen, NULL, &err);
        CHECK_OK(st, &err);
        CHECK(!c.failed);
        CHECK_OK(nn_model_run(tail, NULL, x, n, ref, &err), &err);
        if (st == EM_OK) {
            st = zk_verify(zk_prover_vk(p), x, n, y, &CTX, proof, plen, NULL, &err);
            if (control) {
                CHECK_OK(st, &err); /* the hook itself is harmless */
            } else {
                CHECK(!memcmp(y, ref, sizeof ref)); /* the output of the model without the ReLU */
                CHECK(st == EM_ERR_VERIFY);
                CHECK_STR_CONTAINS(err.msg, "input evaluation");
            }
        }
        free(proof);
        free(x);
    }
    zk_prover_set_trace_hook(p, NULL, NULL);
out:
    zk_prover_free(p);
    nn_model_free(m);
    nn_model_free(tail);
}

/* Rewrites a serialized vk: flag byte 5, and the prefix section after n_layers (offset 76). */
#define VK_PREFIX_AT 76
static uint8_t *vk_edit(const uint8_t *vk, size_t len, int drop_prefix, const uint32_t *add_op, size_t *out_len)
{
    uint32_t np = vk[5] & 1 ? (uint32_t)vk[VK_PREFIX_AT] | (uint32_t)vk[VK_PREFIX_AT + 1] << 8 : 0;
    size_t sec = vk[5] & 1 ? 4 + 16 * (size_t)np : 0;
    uint8_t *o = malloc(len + 20);
    memcpy(o, vk, VK_PREFIX_AT);
    size_t k = VK_PREFIX_AT;
    uint32_t nnp = drop_prefix ? 0 : np + (add_op ? 1 : 0);
    o[5] = nnp ? 1 : 0;
    if (nnp) {
        for (int b = 0; b < 4; b++)
            o[k++] = (uint8_t)(nnp >> (8 * b));
        if (np) {
            memcpy(o + k, vk + VK_PREFIX_AT + 4, 16 * (size_t)np);
            k += 16 * (size_t)np;
        }
        for (int f = 0; add_op && f < 4; f++)
            for (int b = 0; b < 4; b++)
                o[k++] = (uint8_t)(add_op[f] >> (8 * b));
    }
    memcpy(o + k, vk + VK_PREFIX_AT + sec, len - VK_PREFIX_AT - sec);
    *out_len = k + len - VK_PREFIX_AT - sec;
    return o;
}

static void expect_other_vk(const uint8_t *bytes, size_t len, const uint8_t h0[EM_HASH_LEN], const proved *r,
                            const char *what)
{
    zk_vk *vk = NULL;
    em_err err = {0};
    em_status st = zk_vk_deserialize(bytes, len, &vk, &err);
    if (st != EM_OK) {
        fprintf(stderr, "  %s: vk refused: %s\n", what, err.msg);
        CHECK_OK(st, &err);
        return;
    }
    uint8_t h[EM_HASH_LEN];
    zk_vk_model_hash(vk, h);
    CHECK(memcmp(h, h0, EM_HASH_LEN) != 0);
    st = zk_verify(vk, r->x, r->n, r->y, &CTX, r->proof, r->plen, NULL, &err);
    CHECK(st == EM_ERR_VERIFY);
    zk_vk_free(vk);
}

/* The prefix is pinned by the model hash: a vk with a ReLU removed or added hashes differently
 * and rejects the proof; so does the vk of a model built without (or with more) ReLUs. */
static void test_vk_prefix_altered(void)
{
    static const struct {
        const char *prefix;
        int dense;
    } cases[] = {{"r", 1}, {"rr", 0}, {"fr", 0}};
    weights W;
    weights_random(&W);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nn_model *m = build(&W, cases[c].prefix, cases[c].dense, NN_ACT_NONE, 1);
        zk_prover *p = NULL;
        em_err err = {0};
        uint8_t *ser = NULL, *ed;
        size_t len = 0, elen;
        proved r = {0};
        CHECK(m != NULL);
        if (!m || zk_prover_create(m, &p, &err) != EM_OK || zk_vk_serialize(zk_prover_vk(p), &ser, &len, &err) != EM_OK ||
            !prove_ok(m, p, 3, &r)) {
            CHECK(0);
            goto next;
        }
        uint8_t h0[EM_HASH_LEN];
        model_hash(p, h0);
        CHECK(ser[5] == 1);
        /* round trip */
        zk_vk *back = NULL;
        CHECK_OK(zk_vk_deserialize(ser, len, &back, &err), &err);
        if (back) {
            uint8_t h1[EM_HASH_LEN];
            zk_vk_model_hash(back, h1);
            CHECK(!memcmp(h0, h1, EM_HASH_LEN));
            CHECK_OK(zk_verify(back, r.x, r.n, r.y, &CTX, r.proof, r.plen, NULL, &err), &err);
            zk_vk_free(back);
        }
        uint32_t relu_op[4] = {NN_ACT, NI, 1, 1};
        ed = vk_edit(ser, len, 0, relu_op, &elen);
        expect_other_vk(ed, elen, h0, &r, "ReLU added");
        free(ed);
        if (cases[c].dense) { /* ReLU removed: the vk of the same layers without a prefix */
            ed = vk_edit(ser, len, 1, NULL, &elen);
            expect_other_vk(ed, elen, h0, &r, "ReLU removed");
            free(ed);
        }
        /* every truncation of the vk is refused */
        for (size_t cut = 0; cut < len; cut += 3) {
            zk_vk *t = NULL;
            CHECK(zk_vk_deserialize(ser, cut, &t, NULL) != EM_OK);
            zk_vk_free(t);
        }
        /* a ReLU turned into a reshape: a reshape-only prefix before proven layers is never
         * encoded (refused); with no proven layer it is another model */
        ed = vk_edit(ser, len, 0, NULL, &elen);
        for (uint32_t k = 0; k < (uint32_t)ed[VK_PREFIX_AT]; k++)
            if (ed[VK_PREFIX_AT + 4 + 16 * k] == NN_ACT)
                ed[VK_PREFIX_AT + 4 + 16 * k] = NN_RESHAPE;
        if (cases[c].dense) {
            zk_vk *t = NULL;
            CHECK(zk_vk_deserialize(ed, elen, &t, NULL) == EM_ERR_FORMAT);
            zk_vk_free(t);
        } else {
            expect_other_vk(ed, elen, h0, &r, "ReLU made a reshape");
        }
        free(ed);
        /* the models built without the leading ReLU / with one more */
        const char *other[] = {cases[c].prefix + 1, "r"};
        char more[8];
        snprintf(more, sizeof more, "r%s", cases[c].prefix);
        other[1] = more;
        for (int k = 0; k < 2; k++) {
            if (!cases[c].dense && !other[k][0])
                continue; /* an empty model does not exist */
            nn_model *m2 = build(&W, other[k], cases[c].dense, NN_ACT_NONE, 1);
            zk_prover *p2 = NULL;
            CHECK(m2 != NULL);
            if (m2 && zk_prover_create(m2, &p2, &err) == EM_OK) {
                uint8_t h2[EM_HASH_LEN];
                model_hash(p2, h2);
                CHECK(memcmp(h0, h2, EM_HASH_LEN) != 0);
                CHECK(zk_verify(zk_prover_vk(p2), r.x, r.n, r.y, &CTX, r.proof, r.plen, NULL, NULL) == EM_ERR_VERIFY);
            } else {
                CHECK(0);
            }
            zk_prover_free(p2);
            nn_model_free(m2);
        }
    next:
        proved_free(&r);
        free(ser);
        zk_prover_free(p);
        nn_model_free(m);
    }
}

/* Models without proven layers: output = prefix(input); the proof is the statement binding. */
typedef struct out_ctx {
    size_t idx;
} out_ctx;

static void bump_output(nn_trace *t, void *vctx)
{
    out_ctx *c = vctx;
    t->act[t->n_layers][c->idx] += 1;
}

static void test_parameter_free(void)
{
    static const char *prefixes[] = {"r", "rr", "f", "fr", "rfr"};
    weights W;
    weights_random(&W);
    for (size_t k = 0; k < sizeof prefixes / sizeof prefixes[0]; k++) {
        nn_model *m = build(&W, prefixes[k], 0, 0, 0);
        zk_prover *p = NULL;
        em_err err = {0};
        CHECK(m != NULL);
        if (!m || zk_prover_create(m, &p, &err) != EM_OK) {
            CHECK(0);
            nn_model_free(m);
            continue;
        }
        const zk_vk *vk = zk_prover_vk(p);
        CHECK(zk_vk_n_proven_layers(vk) == 0);
        static const size_t batches[] = {1, 3, 64};
        for (size_t b = 0; b < 3; b++) {
            proved r;
            if (prove_ok(m, p, batches[b], &r)) {
                check_tamper_io(vk, &r, NI, NI);
                /* the proof carries no witness: any extra byte or field is refused */
                uint8_t *q = malloc(r.plen + 4);
                memcpy(q, r.proof, r.plen);
                CHECK(zk_verify(vk, r.x, r.n, r.y, &CTX, q, r.plen - 1, NULL, NULL) != EM_OK);
                for (size_t i = 0; i < r.plen; i++) {
                    q[i] ^= 0x40;
                    CHECK(zk_verify(vk, r.x, r.n, r.y, &CTX, q, r.plen, NULL, NULL) != EM_OK);
                    q[i] ^= 0x40;
                }
                free(q);
                CHECK(zk_verify(vk, r.x, r.n, r.y, &(zk_context){.nonce = (const uint8_t *)"other", .nonce_len = 5,
                                                                .node_id = "w-prefix"},
                                r.proof, r.plen, NULL, NULL) == EM_ERR_VERIFY);
            }
            proved_free(&r);
        }
        /* a prover that returns a wrong output value proves nothing */
        out_ctx oc = {.idx = 5};
        zk_prover_set_trace_hook(p, bump_output, &oc);
        int32_t *x = zt_input(m, 2), y[2 * NI];
        uint8_t *proof = NULL;
        size_t plen = 0;
        CHECK_OK(zk_prove(p, NULL, x, 2, &CTX, y, &proof, &plen, NULL, &err), &err);
        em_status st = zk_verify(vk, x, 2, y, &CTX, proof, plen, NULL, &err);
        CHECK(st == EM_ERR_VERIFY);
        CHECK_STR_CONTAINS(err.msg, "output value 5");
        free(proof);
        free(x);
        zk_prover_free(p);
        nn_model_free(m);
    }
}

/* A proof for one parameter-free model is rejected by another's vk, and by a prefix model's. */
static void test_cross_model(void)
{
    weights W;
    weights_random(&W);
    nn_model *a = build(&W, "r", 0, 0, 0), *b = build(&W, "rr", 0, 0, 0), *c = build(&W, "rf", 0, 0, 0);
    zk_prover *pa = NULL, *pb = NULL, *pc = NULL;
    em_err err = {0};
    proved r = {0};
    CHECK(a && b && c);
    if (!a || !b || !c || zk_prover_create(a, &pa, &err) != EM_OK || zk_prover_create(b, &pb, &err) != EM_OK ||
        zk_prover_create(c, &pc, &err) != EM_OK || !prove_ok(a, pa, 3, &r)) {
        CHECK(0);
        goto out;
    }
    CHECK(zk_verify(zk_prover_vk(pb), r.x, r.n, r.y, &CTX, r.proof, r.plen, NULL, &err) == EM_ERR_VERIFY);
    CHECK_STR_CONTAINS(err.msg, "another model");
    CHECK(zk_verify(zk_prover_vk(pc), r.x, r.n, r.y, &CTX, r.proof, r.plen, NULL, &err) == EM_ERR_VERIFY);
out:
    proved_free(&r);
    zk_prover_free(pa);
    zk_prover_free(pb);
    zk_prover_free(pc);
    nn_model_free(a);
    nn_model_free(b);
    nn_model_free(c);
}

/* A standalone ReLU after a proven layer is fused (bit-identical to the engine) whether that
 * layer's activation is none or already ReLU, once or several times; after an avgpool; and after
 * a maxpool (relu(max) = max(0, max): a zero window slot). */
static void test_mid_relu(void)
{
    weights W;
    weights_random(&W);
    static const struct {
        uint32_t act;
        int mid;
    } cases[] = {{NN_ACT_NONE, 1}, {NN_ACT_RELU, 1}, {NN_ACT_RELU, 2}, {NN_ACT_NONE, 3}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        nn_model *m = build(&W, "", 1, cases[k].act, cases[k].mid);
        zk_prover *p = NULL;
        em_err err = {0};
        em_status st = m ? zk_prover_create(m, &p, &err) : EM_ERR_NOMEM;
        CHECK_OK(st, &err);
        if (st == EM_OK) {
            uint8_t *ser = NULL;
            size_t len = 0;
            CHECK_OK(zk_vk_serialize(zk_prover_vk(p), &ser, &len, &err), &err);
            CHECK(ser && ser[5] == 0); /* no prefix section */
            free(ser);
            proved r;
            if (prove_ok(m, p, 64, &r))
                check_tamper_io(zk_prover_vk(p), &r, NO, NI);
            proved_free(&r);
        }
        zk_prover_free(p);
        nn_model_free(m);
    }
    /* conv -> avgpool -> ReLU -> flatten -> dense: the ReLU is fused into the avgpool */
    {
        nn_model *m = NULL;
        em_err err = {0};
        uint8_t seed[32] = {9};
        CHECK_OK(nn_model_create("avgpool-relu", (nn_shape){1, 4, 4}, 8, 8, 4, &m, &err), &err);
        nn_layer L;
        int ok = m != NULL;
        if (ok) {
            nn_model_set_blinding_seed(m, seed);
            zt_conv(&L, (nn_shape){1, 4, 4}, 2, 3, 1, 4, NN_ACT_NONE);
            int32_t sc = L.out_scale;
            ok = zt_add(m, &L, "conv");
            zt_avgpool(&L, (nn_shape){2, 4, 4}, sc, 0, 0);
            ok = ok && zt_add(m, &L, "avgpool");
            ok = ok && add_shape_op(m, NN_ACT, (nn_shape){2, 2, 2}, (nn_shape){2, 2, 2}, sc);
            ok = ok && add_shape_op(m, NN_RESHAPE, (nn_shape){2, 2, 2}, (nn_shape){8, 1, 1}, sc);
            ok = ok && add_dense(m, 8, NO, W.w2, W.b2, &sc, NN_ACT_NONE);
        }
        CHECK(ok);
        zk_prover *p = NULL;
        if (ok) {
            CHECK_OK(zk_prover_create(m, &p, &err), &err);
            proved r;
            if (p && prove_ok(m, p, 64, &r))
                check_tamper_io(zk_prover_vk(p), &r, NO, 16);
            if (p)
                proved_free(&r);
        }
        zk_prover_free(p);
        nn_model_free(m);
    }
    /* maxpool -> ReLU: the pool gains a constant-zero window slot (zk_maxpool.c) */
    nn_model *q = NULL;
    em_err err = {0};
    uint8_t seed[32] = {7};
    CHECK_OK(nn_model_create("maxpool-relu", (nn_shape){1, 4, 4}, 8, 8, 4, &q, &err), &err);
    if (q) {
        nn_model_set_blinding_seed(q, seed);
        nn_layer L;
        memset(&L, 0, sizeof L);
        L.kind = NN_MAXPOOL;
        L.in = (nn_shape){1, 4, 4};
        L.out = (nn_shape){1, 2, 2};
        L.kh = L.kw = L.sh = L.sw = 2;
        L.in_scale = L.out_scale = 4;
        snprintf(L.name, sizeof L.name, "pool");
        CHECK_OK(nn_model_add_layer(q, &L, &err), &err);
        CHECK(add_shape_op(q, NN_ACT, (nn_shape){1, 2, 2}, (nn_shape){1, 2, 2}, 4));
        zk_prover *p = NULL;
        CHECK_OK(zk_prover_create(q, &p, &err), &err);
        proved r;
        if (p && prove_ok(q, p, 64, &r))
            check_tamper_io(zk_prover_vk(p), &r, 4, 16);
        if (p)
            proved_free(&r);
        zk_prover_free(p);
        nn_model_free(q);
    }
}

/* Models whose prefix is reshapes only, before a proven layer, keep the vk they always had: no
 * prefix section, so their model hash is unchanged by this feature. */
static void test_reshape_prefix_unrecorded(void)
{
    weights W;
    weights_random(&W);
    nn_model *m = build(&W, "f", 1, NN_ACT_RELU, 0);
    zk_prover *p = NULL;
    em_err err = {0};
    CHECK(m != NULL);
    if (m && zk_prover_create(m, &p, &err) == EM_OK) {
        uint8_t *ser = NULL;
        size_t len = 0;
        CHECK_OK(zk_vk_serialize(zk_prover_vk(p), &ser, &len, &err), &err);
        CHECK(ser && ser[5] == 0);
        /* a flag with an empty or reshape-only section is refused: one encoding per model */
        uint32_t flat[4] = {NN_RESHAPE, NI, 1, 1};
        size_t elen;
        uint8_t *ed = vk_edit(ser, len, 0, flat, &elen);
        zk_vk *t = NULL;
        CHECK(zk_vk_deserialize(ed, elen, &t, NULL) == EM_ERR_FORMAT);
        zk_vk_free(t);
        free(ed);
        ser[5] = 1; /* flag without a section */
        CHECK(zk_vk_deserialize(ser, len, &t, NULL) != EM_OK);
        zk_vk_free(t);
        ser[5] = 2; /* unknown flag */
        CHECK(zk_vk_deserialize(ser, len, &t, NULL) != EM_OK);
        zk_vk_free(t);
        free(ser);
        proved r;
        if (prove_ok(m, p, 3, &r))
            check_tamper_io(zk_prover_vk(p), &r, NO, NI);
        proved_free(&r);
    } else {
        CHECK(0);
    }
    zk_prover_free(p);
    nn_model_free(m);
}

int main(void)
{
    th_init("test_zk_prefix");
    TH_RUN(test_prefix_then_dense);
    TH_RUN(test_intermediate_tamper);
    TH_RUN(test_vk_prefix_altered);
    TH_RUN(test_parameter_free);
    TH_RUN(test_cross_model);
    TH_RUN(test_mid_relu);
    TH_RUN(test_reshape_prefix_unrecorded);
    return th_finish();
}
