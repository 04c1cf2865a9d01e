/* Adversarial review: the requantization / activation / range lookup of proofs of inference
 * (zk_requant.c), attacked in isolation.
 *
 * A cheating prover builds the witness blocks itself (q, remainder limbs, hidden y, maxpool
 * differences) with ONE value that is not in its table -- a remainder of p - 1, a limb one past
 * its width, q one past the requantization table, an unclamped or wrongly rectified activation,
 * a negative maxpool difference, a mismatched pair in a padding row -- sets the multiplicities as
 * well as it can, and runs the real lookup prover on it (the prover does not check its witness).
 * Every claim the verifier hands to the commitment is then checked against the true evaluation
 * of the forged block, and every q~ value it hands to the accumulator sumcheck (q is not
 * committed) against the true evaluation of the forged q, so an accepted forgery would be a
 * complete break of the requantization argument: the tests require rejection. An honest witness must be accepted with true claims
 * (otherwise the probes would prove nothing). */
#include <inttypes.h>

#include "zk_internal.h"
#include "zk_testutil.h"

typedef struct lfx {
    nn_model *m;
    zk_prover *p;
    const zk_vk *vk;
    zk_wlayout wl;
    zk_wit w;
    int32_t *out;
    size_t n;
} lfx;

static int32_t amin_of(const zk_vk *vk) { return -(int32_t)(1u << (vk->act_bits - 1)); }
static int32_t amax_of(const zk_vk *vk) { return (int32_t)(1u << (vk->act_bits - 1)) - 1; }

static int32_t act_of(const zk_vk *vk, uint32_t act, int64_t q)
{
    int64_t lo = act == NN_ACT_RELU ? 0 : amin_of(vk), hi = amax_of(vk);
    return (int32_t)(q < lo ? lo : q > hi ? hi : q);
}

/* Honest-looking random witness for the lookup: q inside the table, y = act(clamp(q)), limbs
 * and maxpool differences in range, padding rows/columns zero (the last layer's padding must be
 * zero because the verifier pads the public output with zeros). */
static int lfx_init(lfx *f, nn_model *m, size_t n, unsigned tbits, unsigned lbits)
{
    memset(f, 0, sizeof *f);
    em_err err = {0};
    f->m = m;
    f->n = n;
    if (!m || zk_prover_create(m, &f->p, &err) != EM_OK) {
        fprintf(stderr, "prover: %s\n", err.msg);
        return 0;
    }
    f->vk = zk_prover_vk(f->p);
    if (zk__wlayout(f->vk, n, tbits, lbits, &f->wl, &err) != EM_OK) {
        fprintf(stderr, "layout: %s\n", err.msg);
        return 0;
    }
    const zk_vk *vk = f->vk;
    const zk_wlayout *wl = &f->wl;
    for (uint32_t b = 0; b < wl->n_blk; b++)
        if (!(f->w.blk[b] = calloc((size_t)1 << wl->pack.log[b], sizeof(int32_t))))
            return 0;
    const zk_layer *last = &vk->layers[vk->n_layers - 1];
    f->out = calloc(n * last->n_out, sizeof *f->out);
    if (!f->out)
        return 0;
    int64_t qlo = -((int64_t)1 << (tbits - 1)), qspan = (int64_t)1 << tbits;
    for (uint32_t i = 0; i < vk->n_layers; i++) {
        const zk_layer *L = &vk->layers[i];
        size_t M = (size_t)1 << L->lv_out, size = ((size_t)1 << wl->lb) * M;
        for (size_t e = 0; e < size; e++) {
            size_t s = e / M, j = e % M;
            int real = s < n && j < L->n_out;
            if (L->kind == NN_MAXPOOL) {
                for (unsigned t = 0; t < L->kh * L->kw; t++)
                    f->w.blk[wl->d_blk[i][t]][e] = real ? (int32_t)(th_rand() % (1u << vk->act_bits)) : 0;
                continue;
            }
            /* q' carries jb merged remainder bits below q (zk_wlayout) */
            int64_t qp = real ? qlo * ((int64_t)1 << wl->jb[i]) + (int64_t)(th_rand() % ((uint64_t)qspan << wl->jb[i]))
                              : 0;
            int64_t q = qp >> wl->jb[i];
            f->w.blk[wl->q_blk[i]][e] = (int32_t)qp;
            for (unsigned t = 0; t < wl->nl[i]; t++) {
                unsigned b = zk__limb_bits(L->shift - wl->jb[i], lbits, t);
                f->w.blk[wl->r_blk[i][t]][e] = (int32_t)(th_rand() % (1u << b));
            }
            int32_t y = act_of(vk, L->act, q);
            if (wl->y_blk[i] != ZK_NO_BLOCK)
                f->w.blk[wl->y_blk[i]][e] = y;
            else if (real)
                f->out[s * L->n_out + j] = y;
        }
    }
    f->w.out = f->out;
    f->w.n_samples = n;
    return 1;
}

static void lfx_free(lfx *f)
{
    for (uint32_t b = 0; b < f->wl.n_blk; b++)
        free(f->w.blk[b]);
    free(f->out);
    zk_prover_free(f->p);
    nn_model_free(f->m);
    memset(f, 0, sizeof *f);
}

static void clear_mults(lfx *f)
{
    const zk_wlayout *wl = &f->wl;
    for (unsigned b = 0; b <= ZK_RANGE_BITS; b++)
        for (unsigned t = 0; t <= ZK_MAX_TUPLE_LOG; t++)
            if (wl->m_rng_blk[b][t] != ZK_NO_BLOCK)
                memset(f->w.blk[wl->m_rng_blk[b][t]], 0,
                       ((size_t)1 << wl->pack.log[wl->m_rng_blk[b][t]]) * sizeof(int32_t));
    for (unsigned a = 0; a < 2; a++)
        for (unsigned j = 0; j <= ZK_MAX_MERGE_BITS; j++)
            if (wl->m_act_blk[a][j] != ZK_NO_BLOCK)
                memset(f->w.blk[wl->m_act_blk[a][j]], 0,
                       ((size_t)1 << wl->pack.log[wl->m_act_blk[a][j]]) * sizeof(int32_t));
}

/* Runs the real lookup prover on the (possibly forged) witness and the real verifier on its
 * output. EM_OK only if the verifier accepted, consumed every byte, and every claim it handed to
 * the commitment is the true evaluation of the witness block (what the PCS would enforce). */
static em_status run_lookup(lfx *f, int recount, em_err *err)
{
    if (recount) {
        clear_mults(f);
        zk__requant_mults(f->vk, &f->wl, &f->w, 2);
    }
    tr_t tp, tv;
    tr_init(&tp, "attack-lookup");
    tv = tp;
    em_buf buf = {.max = (size_t)1 << 28};
    zk_wr wr = {.tr = &tp, .buf = &buf, .threads = 1, .forge = 1};
    zk_claims pc = {0}, vc = {0};
    zk_qclaims *pq = calloc(1, sizeof *pq), *vq = calloc(1, sizeof *vq);
    if (!pq || !vq) {
        free(pq);
        free(vq);
        return em_errf(err, EM_ERR_NOMEM, "q claims");
    }
    em_status st = zk__requant_prove(f->vk, &f->wl, &f->w, f->n, &wr, &pc, pq, err);
    if (st != EM_OK) {
        fprintf(stderr, "    lookup prover failed: %s\n", em_err_msg(err));
        st = EM_ERR_INTERNAL;
        goto out;
    }
    em_reader r;
    em_reader_init(&r, buf.data, buf.len);
    zk_rd rd = {.tr = &tv, .rd = &r};
    st = zk__requant_verify(f->vk, &f->wl, f->out, f->n, &rd, &vc, vq, err);
    if (st != EM_OK)
        goto out;
    if (em_reader_left(&r)) {
        st = em_errf(err, EM_ERR_PARSE, "%zu bytes left", em_reader_left(&r));
        goto out;
    }
    /* every block the lookup speaks about must be handed to the commitment (a leaf value that
     * is never opened would let a forger finish the fraction trees with invented values):
     * all blocks except the maxpool output are lookup blocks */
    for (uint32_t b = 0; b < f->wl.pack.n; b++) {
        int is_pp = 0, found = 0;
        for (uint32_t i = 0; i < f->vk->n_layers; i++)
            is_pp |= f->vk->layers[i].kind == NN_MAXPOOL && f->wl.y_blk[i] == b;
        for (size_t k = 0; k < vc.n; k++)
            found |= vc.v[k].block == b && vc.v[k].nv == f->wl.pack.log[b];
        if (!is_pp && !found) {
            st = em_errf(err, EM_ERR_INTERNAL, "block %u has no evaluation claim", b);
            goto out;
        }
    }
    for (size_t k = 0; k < vc.n; k++) {
        const zk_claim *c = &vc.v[k];
        ff2_t truth;
        if (c->block >= f->wl.pack.n || c->nv != f->wl.pack.log[c->block] ||
            zk__mle_i32(f->w.blk[c->block], 1, (size_t)1 << c->nv, 0, c->nv, c->pt, &truth, err) != EM_OK) {
            st = em_errf(err, EM_ERR_INTERNAL, "claim %zu malformed", k);
            goto out;
        }
        if (!ff2_eq(truth, c->val)) {
            st = em_errf(err, EM_ERR_VERIFY, "claim %zu on block %u is false (the PCS would reject)", k, c->block);
            goto out;
        }
    }
    /* q~ at the pair leaf point: what the accumulator sumcheck would enforce */
    for (uint32_t i = 0; i < f->vk->n_layers; i++) {
        if (f->vk->layers[i].kind == NN_MAXPOOL)
            continue;
        uint32_t b = f->wl.q_blk[i];
        unsigned nv = f->wl.pack.log[b];
        ff2_t truth;
        if (b < f->wl.pack.n || b >= f->wl.n_blk ||
            zk__mle_i32(f->w.blk[b], 1, (size_t)1 << nv, 0, nv, vq->pt[i], &truth, err) != EM_OK) {
            st = em_errf(err, EM_ERR_INTERNAL, "q block of layer %u malformed", i);
            goto out;
        }
        if (!ff2_eq(truth, vq->val[i])) {
            st = em_errf(err, EM_ERR_VERIFY, "q~ of layer %u is false (the accumulator sumcheck would reject)", i);
            goto out;
        }
    }
out:
    free(pq);
    free(vq);
    zk__claims_free(&pc);
    zk__claims_free(&vc);
    em_buf_free(&buf);
    return st;
}

/* A forgery must be rejected by the lookup itself (not by the claim check above). */
static void expect_forgery_rejected(lfx *f, const char *what)
{
    em_err err = {0};
    em_status st = run_lookup(f, 1, &err);
    if (st == EM_OK)
        fprintf(stderr, "    BREAK: forged witness accepted: %s\n", what);
    else if (getenv("ZK_TEST_VERBOSE"))
        fprintf(stderr, "    %s: rejected: %s\n", what, em_err_msg(&err));
    CHECK(st == EM_ERR_VERIFY);
}

static size_t real_pos(const lfx *f, uint32_t i)
{
    const zk_layer *L = &f->vk->layers[i];
    size_t M = (size_t)1 << L->lv_out;
    size_t s = th_rand() % f->n, j = th_rand() % L->n_out;
    return s * M + j;
}

static nn_model *mlp3(void)
{
    uint32_t d[] = {6, 5, 4, 3};
    return zt_mlp(d, 4, 8, 8, 0, 0);
}

static void test_honest_accepted(void)
{
    unsigned lbits_list[] = {8, 11, 16};
    for (unsigned li = 0; li < 3; li++) {
        lfx f;
        CHECK(lfx_init(&f, mlp3(), 3, 10, lbits_list[li]));
        em_err err = {0};
        if (f.vk)
            CHECK_OK(run_lookup(&f, 1, &err), &err);
        lfx_free(&f);
    }
    lfx f;
    CHECK(lfx_init(&f, zt_cnn2(1), 2, 9, 8));
    em_err err = {0};
    if (f.vk)
        CHECK_OK(run_lookup(&f, 1, &err), &err);
    lfx_free(&f);
}

/* r = p - 1 (int32 -1): q + 1 and r - 2^k would satisfy the accumulator identity. */
static void test_remainder_p_minus_1(void)
{
    lfx f;
    CHECK(lfx_init(&f, mlp3(), 3, 10, 8));
    if (f.vk) {
        size_t e = real_pos(&f, 0);
        f.w.blk[f.wl.r_blk[0][0]][e] = -1;
        expect_forgery_rejected(&f, "remainder limb p - 1");
        f.w.blk[f.wl.r_blk[0][0]][e] = 0;
        uint32_t top = f.wl.nl[0] - 1;
        f.w.blk[f.wl.r_blk[0][top]][e] = -1;
        expect_forgery_rejected(&f, "top remainder limb p - 1");
    }
    lfx_free(&f);
}

/* A limb one past its width (the top limb is narrower than lbits). */
static void test_limb_overflow(void)
{
    lfx f;
    CHECK(lfx_init(&f, mlp3(), 3, 10, 8));
    if (f.vk) {
        const zk_layer *L = &f.vk->layers[1];
        uint32_t top = f.wl.nl[1] - 1;
        unsigned b = zk__limb_bits(L->shift, 8, top);
        size_t e = real_pos(&f, 1);
        f.w.blk[f.wl.r_blk[1][top]][e] = (int32_t)(1u << b);
        expect_forgery_rejected(&f, "top limb = 2^bits");
        f.w.blk[f.wl.r_blk[1][top]][e] = 0;
        f.w.blk[f.wl.r_blk[1][0]][e] = 256;
        expect_forgery_rejected(&f, "low limb = 2^lbits");
    }
    lfx_free(&f);
}

/* q just outside [-2^(T-1), 2^(T-1)) with y its clamped activation. */
static void test_q_outside_table(void)
{
    lfx f;
    unsigned T = 10;
    CHECK(lfx_init(&f, mlp3(), 3, T, 8));
    if (f.vk) {
        size_t e = real_pos(&f, 0);
        int32_t *Q = f.w.blk[f.wl.q_blk[0]], *Y = f.w.blk[f.wl.y_blk[0]];
        int32_t q0 = Q[e], y0 = Y[e];
        Q[e] = 1 << (T - 1);
        Y[e] = act_of(f.vk, f.vk->layers[0].act, Q[e]);
        expect_forgery_rejected(&f, "q = 2^(T-1)");
        Q[e] = -(1 << (T - 1)) - 1;
        Y[e] = act_of(f.vk, f.vk->layers[0].act, Q[e]);
        expect_forgery_rejected(&f, "q = -2^(T-1) - 1");
        Q[e] = q0;
        Y[e] = y0;
        /* the last layer: y is the public output */
        uint32_t l = f.vk->n_layers - 1;
        const zk_layer *L = &f.vk->layers[l];
        size_t M = (size_t)1 << L->lv_out, el = real_pos(&f, l);
        Q = f.w.blk[f.wl.q_blk[l]];
        Q[el] = 1 << 20; /* beyond any table (T <= 20) */
        f.out[(el / M) * L->n_out + el % M] = act_of(f.vk, L->act, Q[el]);
        expect_forgery_rejected(&f, "last-layer q far outside the table");
    }
    lfx_free(&f);
}

/* Activations that break the clamp / ReLU table at its boundaries. */
static void test_activation_boundaries(void)
{
    lfx f;
    CHECK(lfx_init(&f, mlp3(), 3, 10, 8));
    if (f.vk) {
        const zk_vk *vk = f.vk;
        CHECK(vk->layers[0].act == NN_ACT_RELU);
        size_t e = real_pos(&f, 0);
        int32_t *Q = f.w.blk[f.wl.q_blk[0]], *Y = f.w.blk[f.wl.y_blk[0]];
        struct {
            int32_t q, y;
            const char *what;
        } hid[] = {
            {-1, -1, "ReLU passes -1"},
            {amin_of(vk), amin_of(vk), "ReLU passes act_min"},
            {amax_of(vk) + 1, amax_of(vk) + 1, "no clamp at act_max + 1"},
            {amax_of(vk) + 1, 0, "clamped to 0 instead of act_max"},
            {5, 4, "y = q - 1"},
            {0, -1, "y = p - 1 for q = 0"},
        };
        for (size_t c = 0; c < sizeof hid / sizeof hid[0]; c++) {
            int32_t q0 = Q[e], y0 = Y[e];
            Q[e] = hid[c].q;
            Y[e] = hid[c].y;
            expect_forgery_rejected(&f, hid[c].what);
            Q[e] = q0;
            Y[e] = y0;
        }
        /* the last layer has no activation: public output must be clamp(q) exactly */
        uint32_t l = vk->n_layers - 1;
        const zk_layer *L = &vk->layers[l];
        CHECK(L->act == NN_ACT_NONE);
        size_t M = (size_t)1 << L->lv_out, el = real_pos(&f, l);
        int32_t *QL = f.w.blk[f.wl.q_blk[l]], *out = &f.out[(el / M) * L->n_out + el % M];
        int32_t q0 = QL[el], y0 = *out;
        QL[el] = amin_of(vk) - 1;
        *out = amin_of(vk) - 1;
        expect_forgery_rejected(&f, "output act_min - 1 unclamped");
        QL[el] = amax_of(vk) + 3;
        *out = amax_of(vk) + 3;
        expect_forgery_rejected(&f, "output act_max + 3 unclamped");
        QL[el] = q0;
        *out = y0 + (y0 < amax_of(vk) ? 1 : -1);
        expect_forgery_rejected(&f, "output off by one");
    }
    lfx_free(&f);
}

/* Padding rows are looked up like real rows: a mismatched pair there must fail too (the
 * accumulator identity then forces them to zero). */
static void test_padding_entries(void)
{
    lfx f;
    CHECK(lfx_init(&f, mlp3(), 3, 10, 8));
    if (f.vk) {
        const zk_layer *L = &f.vk->layers[0];
        size_t M = (size_t)1 << L->lv_out;
        size_t e_row = 3 * M + 1;       /* padding sample (n = 3 of 4) */
        size_t e_col = 0 * M + L->n_out; /* padding output column */
        CHECK(e_col % M >= L->n_out);
        int32_t *Q = f.w.blk[f.wl.q_blk[0]], *Y = f.w.blk[f.wl.y_blk[0]];
        Q[e_row] = 3;
        Y[e_row] = 4;
        expect_forgery_rejected(&f, "padding row pair (3, 4)");
        Q[e_row] = 0;
        Y[e_row] = 0;
        f.w.blk[f.wl.r_blk[0][0]][e_col] = -5;
        expect_forgery_rejected(&f, "padding column remainder -5");
    }
    lfx_free(&f);
}

/* Multiplicities are the prover's to choose: moving a count between two table entries (all
 * witness values honest) must fail, and so must paying for an out-of-table value with a
 * "negative" count elsewhere. */
static void test_multiplicity_games(void)
{
    lfx f;
    CHECK(lfx_init(&f, mlp3(), 3, 10, 8));
    if (f.vk) {
        em_err err = {0};
        clear_mults(&f);
        zk__requant_mults(f.vk, &f.wl, &f.w, 1);
        CHECK(f.wl.jb[0] == 0 && f.wl.tl[0] == 0); /* the games below assume plain 8-bit limbs */
        if (f.wl.m_rng_blk[8][0] == ZK_NO_BLOCK) {
            lfx_free(&f);
            return;
        }
        int32_t *m = f.w.blk[f.wl.m_rng_blk[8][0]];
        size_t j = 0;
        while (m[j] == 0)
            j++;
        m[j]--;
        m[(j + 1) % 256]++;
        CHECK(run_lookup(&f, 0, &err) == EM_ERR_VERIFY);
        m[j]++;
        m[(j + 1) % 256]--;
        CHECK_OK(run_lookup(&f, 0, &err), &err);
        /* a limb of 256 (not in [0, 256)) paid for by m[255] + 1 */
        size_t e = real_pos(&f, 0);
        int32_t old = f.w.blk[f.wl.r_blk[0][0]][e];
        f.w.blk[f.wl.r_blk[0][0]][e] = 256;
        m[old]--;
        m[255]++;
        em_status st = run_lookup(&f, 0, &err);
        if (st == EM_OK)
            fprintf(stderr, "    BREAK: limb 256 accepted with shifted multiplicities\n");
        CHECK(st == EM_ERR_VERIFY);
    }
    lfx_free(&f);
}

/* Maxpool differences d_w = y - x_w must be in [0, 2^act_bits): a negative one would let y be
 * below an element of the window. */
static void test_maxpool_difference(void)
{
    lfx f;
    CHECK(lfx_init(&f, zt_cnn2(1), 2, 9, 8));
    if (f.vk) {
        uint32_t i = 1;
        CHECK(f.vk->layers[i].kind == NN_MAXPOOL);
        size_t e = real_pos(&f, i);
        int32_t *D = f.w.blk[f.wl.d_blk[i][1]];
        int32_t d0 = D[e];
        D[e] = -1;
        expect_forgery_rejected(&f, "maxpool difference -1");
        D[e] = (int32_t)(1u << f.vk->act_bits);
        expect_forgery_rejected(&f, "maxpool difference 2^act_bits");
        D[e] = d0;
    }
    lfx_free(&f);
}

int main(void)
{
    th_init("test_attack_lookup");
    /* every case here is built for the classic split (q itself in the pair, plain remainder limbs);
     * the merged bits and tuples have their own attacks in test_zk_split.c */
    zk__wlayout_test_split(0, 0);
    TH_RUN(test_honest_accepted);
    TH_RUN(test_remainder_p_minus_1);
    TH_RUN(test_limb_overflow);
    TH_RUN(test_q_outside_table);
    TH_RUN(test_activation_boundaries);
    TH_RUN(test_padding_entries);
    TH_RUN(test_multiplicity_games);
    TH_RUN(test_maxpool_difference);
    return th_finish();
}
