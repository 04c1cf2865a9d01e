/* Remainder bits merged into the (q, y) lookup and tuple range leaves (docs/PROOFS.md
 * "Requantization lookups"). zk__wlayout_test_split forces the split for prover and verifier:
 * every admissible (merged bits, tuple size) must prove and verify, and the forgeries the split
 * could open must be rejected:
 *   - a remainder of a tuple leaf beyond its range, paid for by q' - 1 (the accumulator identity
 *     and the (q', y) pair still hold; only the tuple lookup can catch it), in the first and in a
 *     later part of the tuple;
 *   - a merged bit flipped in q' with y unchanged (the identity breaks);
 *   - a proof made under one split checked under another. */
#include "enclaveml/zkml/ff_vec.h"
#include "zk_internal.h"
#include "zk_testutil.h"

typedef struct split_seen {
    unsigned jb, nl, tl, shift;
} split_seen;

static void record_hook(const zk_vk *vk, const zk_wlayout *wl, zk_wit *w, void *ctx)
{
    (void)w;
    split_seen *s = ctx;
    *s = (split_seen){wl->jb[0], wl->nl[0], wl->tl[0], vk->layers[0].shift};
}

static nn_model *model(void)
{
    uint32_t d[] = {4, 64, 32, 10}; /* shifts 8, 10, 10 */
    return zt_mlp(d, 4, 8, 8, 0, 0);
}

/* the test model and its prover (NULL, with the model freed, on failure) */
static zk_prover *make_prover(nn_model **m)
{
    em_err err = {0};
    zk_prover *p = NULL;
    *m = model();
    CHECK(*m != NULL);
    if (*m)
        CHECK_OK(zk_prover_create(*m, &p, &err), &err);
    if (!p) {
        nn_model_free(*m);
        *m = NULL;
    }
    return p;
}

static em_status prove_verify(zk_prover *p, const int32_t *x, size_t n, int flip_output, em_err *err)
{
    const zk_vk *vk = zk_prover_vk(p);
    size_t k = vk->output_size;
    int32_t *y = calloc(n * k, sizeof *y);
    uint8_t *proof = NULL;
    size_t len = 0;
    zk_context ctx = {.nonce = (const uint8_t *)"split", .nonce_len = 5, .node_id = "node-s"};
    em_status st = zk_prove(p, NULL, x, n, &ctx, y, &proof, &len, NULL, err);
    if (st == EM_OK) {
        if (flip_output)
            y[n * k / 2] ^= 1;
        st = zk_verify(vk, x, n, y, &ctx, proof, len, NULL, err);
    } else {
        st = EM_ERR_INTERNAL;
    }
    free(proof);
    free(y);
    return st;
}

static void test_forced_splits(void)
{
    em_err err = {0};
    nn_model *m = NULL;
    zk_prover *p = make_prover(&m);
    if (!p)
        return;
    static const int combos[][2] = {{0, 0}, {0, 1}, {2, 0}, {3, 1}, {4, 2}, {6, 2}, {8, 1}, {8, 2}};
    size_t batches[] = {5, 64};
    for (size_t b = 0; b < 2; b++) {
        int32_t *x = zt_input(m, batches[b]);
        for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++) {
            zk__wlayout_test_split(combos[c][0], combos[c][1]);
            split_seen seen = {0};
            p->wit_hook = record_hook;
            p->wit_hook_ctx = &seen;
            /* the hook changes nothing, but it puts the prover in test mode: record, then prove
             * for real without it */
            em_status st = prove_verify(p, x, batches[b], 0, &err);
            p->wit_hook = NULL;
            CHECK_OK(st, &err);
            CHECK_OK(prove_verify(p, x, batches[b], 0, &err), &err);
            CHECK_ST(prove_verify(p, x, batches[b], 1, &err), EM_ERR_VERIFY, &err);
            /* what was forced is what ran where admissible: the merged bits always (<= shift 8),
             * the tuple at most as asked (only with one limb, <= 16 bits, enough batch rows);
             * 4/2 at batch 64 is admissible as is (4-bit remainders, 4 per leaf) */
            CHECK_EQ_U64(seen.jb, (unsigned)combos[c][0]);
            CHECK(seen.tl <= (unsigned)combos[c][1]);
            if (batches[b] == 64 && combos[c][0] == 4 && combos[c][1] == 2)
                CHECK(seen.tl == 2 && seen.nl == 1);
            fprintf(stderr, "    batch %zu, forced %d/%d: layer 0 merged %u, limbs %u, tuple 2^%u\n", batches[b],
                    combos[c][0], combos[c][1], seen.jb, seen.nl, seen.tl);
        }
        free(x);
    }
    zk__wlayout_test_split(-1, -1);
    zk_prover_free(p);
    nn_model_free(m);
}

/* Forgeries on layer 0 (a ReLU layer): mode 0: r + 2^(k-jb) with q' - 1 in tuple part `part`;
 * mode 1: q' + 1 with y and r unchanged. The entry is a real one whose q' keeps y = act(q' >> jb)
 * after the change. */
typedef struct tforge {
    int mode;
    unsigned part;
    int done;
    uint32_t layer; /* the forged layer (0 unless set) */
} tforge;

static void forge_hook(const zk_vk *vk, const zk_wlayout *wl, zk_wit *w, void *ctx)
{
    tforge *f = ctx;
    uint32_t li = f->layer;
    const zk_layer *L = &vk->layers[li];
    unsigned jb = wl->jb[li], rb = L->shift - jb;
    size_t M = (size_t)1 << L->lv_out, N = (size_t)1 << (wl->lb + L->lv_out), part = N >> wl->tl[li];
    int32_t *Q = w->blk[wl->q_blk[li]], *R = wl->nl[li] ? w->blk[wl->r_blk[li][0]] : NULL;
    if (f->mode == 0 && !R)
        return; /* no remainder limb: the case does not apply (done stays 0, the test fails) */
    /* a part past the layer's own tuple size (the forced split applies to layer 0 only): its last */
    size_t pt = f->part < (1u << wl->tl[li]) ? f->part : (1u << wl->tl[li]) - 1;
    for (size_t e = pt * part; e < (pt + 1) * part; e++) {
        if (e / M >= w->n_samples || e % M >= L->n_out)
            continue;
        int32_t mod = Q[e] & ((1 << jb) - 1);
        if (f->mode == 0 && mod != 0) {
            Q[e] -= 1;
            R[e] += (int32_t)1 << rb;
            f->done = 1;
            return;
        }
        if (f->mode == 1 && mod != (1 << jb) - 1) {
            Q[e] += 1;
            f->done = 1;
            return;
        }
    }
}

/* Under the forced split jb/tl, the n_cases forgeries of `layer` (q' + 1; r + 2^(k-jb) in the
 * first and in the last tuple part) must each be applied and rejected. */
static void forge_all(zk_prover *p, const int32_t *x, size_t n, int jb, int tl, uint32_t layer, size_t n_cases,
                      const char *what, em_err *err)
{
    zk__wlayout_test_split(jb, tl);
    unsigned parts = 1u << tl;
    tforge cases[] = {{1, 0, 0, layer}, {0, 0, 0, layer}, {0, parts - 1, 0, layer}};
    for (size_t i = 0; i < n_cases; i++) {
        p->wit_hook = forge_hook;
        p->wit_hook_ctx = &cases[i];
        em_status st = prove_verify(p, x, n, 0, err);
        CHECK(cases[i].done);
        if (st == EM_OK)
            fprintf(stderr, "    BREAK: %s %d/%d forgery mode %d part %u accepted\n", what, jb, tl, cases[i].mode,
                    cases[i].part);
        CHECK_ST(st, EM_ERR_VERIFY, err);
        if (getenv("ZK_TEST_VERBOSE"))
            fprintf(stderr, "    %s %d/%d, mode %d, part %u: %s\n", what, jb, tl, cases[i].mode, cases[i].part,
                    em_err_msg(err));
    }
    p->wit_hook = NULL;
}

static void test_split_forgeries(void)
{
    em_err err = {0};
    nn_model *m = NULL;
    zk_prover *p = make_prover(&m);
    if (!p)
        return;
    size_t n = 64;
    int32_t *x = zt_input(m, n);
    /* 8/0: every remainder bit of layer 0 merged (no remainder limb: only the q' forgery) */
    static const int combos[][2] = {{4, 2}, {3, 1}, {6, 2}, {2, 0}, {8, 0}};
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++)
        forge_all(p, x, n, combos[c][0], combos[c][1], 0, combos[c][0] == 8 ? 1 : 3, "split", &err);
    /* a proof made under one split does not verify under another */
    zk__wlayout_test_split(4, 2);
    const zk_vk *vk = zk_prover_vk(p);
    size_t k = vk->output_size;
    int32_t *y = calloc(n * k, sizeof *y);
    uint8_t *proof = NULL;
    size_t len = 0;
    zk_context ctx = {.nonce = (const uint8_t *)"split", .nonce_len = 5, .node_id = "node-s"};
    CHECK_OK(zk_prove(p, NULL, x, n, &ctx, y, &proof, &len, NULL, &err), &err);
    zk__wlayout_test_split(2, 0);
    CHECK(zk_verify(vk, x, n, y, &ctx, proof, len, NULL, &err) != EM_OK);
    zk__wlayout_test_split(4, 2);
    CHECK_OK(zk_verify(vk, x, n, y, &ctx, proof, len, NULL, &err), &err);
    zk__wlayout_test_split(-1, -1);
    free(proof);
    free(y);
    free(x);
    zk_prover_free(p);
    nn_model_free(m);
}

/* The same forgeries in the second layer of 4-64-64-10 (its own split; the forced one is layer
 * 0's): its (q, y) segment has the first layer's size, so it is the second segment of a grouped
 * fraction tree (docs/PROOFS.md "Requantization lookups"), and its remainder segment shares a
 * tree whenever another segment has its size (2x2^11 under the 4/2 split). Its values are
 * checked inside the tree's eq-weighted leaf claim and by their own claims. */
static void test_grouped_forgeries(void)
{
    em_err err = {0};
    uint32_t d[] = {4, 64, 64, 10};
    nn_model *m = zt_mlp(d, 4, 8, 8, 0, 0);
    zk_prover *p = zt_prover(m);
    if (!p)
        return;
    size_t n = 64;
    int32_t *x = zt_input(m, n);
    CHECK_OK(prove_verify(p, x, n, 0, &err), &err);
    static const int combos[][2] = {{4, 2}, {3, 1}, {2, 0}};
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++) {
        forge_all(p, x, n, combos[c][0], combos[c][1], 1, 3, "grouped split", &err);
        CHECK_OK(prove_verify(p, x, n, 0, &err), &err);
    }
    zk__wlayout_test_split(-1, -1);
    free(x);
    zk_prover_free(p);
    nn_model_free(m);
}

/* conv, avgpool and maxpool layers under forced splits (their accumulator identities and
 * remainders go through the same code) */
static void test_cnn_splits(void)
{
    nn_model *m = zt_cnn2(1);
    em_err err = {0};
    zk_prover *p = zt_prover(m);
    if (!p)
        return;
    static const int combos[][2] = {{3, 1}, {6, 2}, {8, 0}, {2, 2}};
    size_t n = 16;
    int32_t *x = zt_input(m, n);
    for (size_t c = 0; c < sizeof combos / sizeof combos[0]; c++) {
        zk__wlayout_test_split(combos[c][0], combos[c][1]);
        CHECK_OK(prove_verify(p, x, n, 0, &err), &err);
        CHECK_ST(prove_verify(p, x, n, 1, &err), EM_ERR_VERIFY, &err);
    }
    zk__wlayout_test_split(-1, -1);
    free(x);
    zk_prover_free(p);
    nn_model_free(m);
}

/* the tuple leaves have their own SIMD path: every tier gives the same proof */
static void test_split_tiers(void)
{
    nn_model *m = model();
    CHECK(m != NULL);
    zk__wlayout_test_split(4, 2);
    if (m)
        zt_prove_tiers(m, 64, "split 4/2");
    zk__wlayout_test_split(-1, -1);
    nn_model_free(m);
}

int main(void)
{
    th_init("test_zk_split");
    TH_RUN(test_forced_splits);
    TH_RUN(test_split_forgeries);
    TH_RUN(test_grouped_forgeries);
    TH_RUN(test_cnn_splits);
    TH_RUN(test_split_tiers);
    return th_finish();
}
