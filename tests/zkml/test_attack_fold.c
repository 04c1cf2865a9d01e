/* Adversarial review: the witness opening with claim folding (zk_pcs.c + sc_fold_verify).
 *
 * The witness claims are folded into one claim P~(r) = v by a product sumcheck before the
 * commitment is opened once. A sumcheck never binds its own final table values, so a forger can
 * always finish the fold sumcheck of a FALSE claim set: it sends the honest round values (the
 * verifier derives g(1) from the running claim, so the rounds stay consistent with the lie),
 * reports the true weight value G~(r) (which the verifier recomputes) and solves the last check
 * for P~(r). The fold verifier then accepts with a false P~(r) -- expected -- and the single PCS
 * opening at r must reject it. The forger's honest run must be accepted (it validates the
 * replica of the transcript), and a forged G~(r) must be caught by the fold itself. */
#include <inttypes.h>

#include "enclaveml/zkml/ml.h"
#include "enclaveml/zkml/pcs.h"
#include "enclaveml/zkml/sumcheck.h"
#include "sc_internal.h"
#include "zk_internal.h"
#include "zk_test_util.h"

typedef struct ffx {
    zk_pack pack;
    ff_t *poly;
    zk_pcs *zp;
    pcs_prover *pp;
    uint8_t commit[ZK_MODEL_COMMIT_MAX];
    size_t commit_len;
    zk_claims c;
    ff2_t (*full)[ZK_MAX_VARS];
} ffx;

static int ffx_init(ffx *f, int lie)
{
    memset(f, 0, sizeof *f);
    unsigned logs[] = {7, 6, 6, 3};
    f->pack.n = 4;
    for (unsigned b = 0; b < 4; b++)
        f->pack.log[b] = logs[b];
    f->pack.total_log = zk__layout(f->pack.log, f->pack.n, f->pack.off);
    size_t len = (size_t)1 << f->pack.total_log;
    f->poly = malloc(len * sizeof *f->poly);
    if (!f->poly)
        return 0;
    size_t used = (size_t)zk__pack_used(&f->pack);
    for (size_t i = 0; i < len; i++)
        f->poly[i] = i < used ? rnd_ff() : 0; /* the witness is zero past its packed blocks */
    em_err err = {0};
    if (zk__pcs_commit_witness(f->poly, &f->pack, 1, &f->zp, f->commit, &f->commit_len, &err) != EM_OK)
        return 0;
    /* the same layout through pcs.h directly (the adapter's prover is opaque): same root */
    pcs_layout l;
    unsigned nv = f->pack.total_log;
    pcs_poly pp = {.evals = f->poly, .len = used};
    uint8_t root[PCS_ROOT_LEN];
    if (pcs_layout_init(&l, &nv, 1, 0, &err) != EM_OK || pcs_layout_set_len(&l, 0, used, &err) != EM_OK ||
        pcs_layout_set_rate(&l, 1, &err) != EM_OK || pcs_commit(&l, &pp, 1, &f->pp, root, &err) != EM_OK ||
        memcmp(root, f->commit + 1, PCS_ROOT_LEN))
        return 0;
    /* five claims on blocks 0, 1, 1 (two points), 3 and 2; claim 2 false when lying */
    uint32_t blocks[] = {0, 1, 1, 3, 2};
    f->full = malloc(5 * sizeof *f->full);
    if (!f->full)
        return 0;
    for (unsigned k = 0; k < 5; k++) {
        ff2_t pt[ZK_MAX_VARS];
        unsigned lg = f->pack.log[blocks[k]];
        for (unsigned j = 0; j < lg; j++)
            pt[j] = rnd_ff2();
        zk_claim tmp = {.block = blocks[k], .nv = lg};
        memcpy(tmp.pt, pt, lg * sizeof *pt);
        zk__pack_point(&f->pack, &tmp, f->full[k]);
        ff2_t v = naive_eval_base(f->poly, len, f->pack.total_log, f->full[k]);
        if (lie && k == 2)
            v = ff2_add(v, ff2_from_base(5));
        if (zk__claims_add(&f->c, blocks[k], pt, lg, v, &err) != EM_OK)
            return 0;
    }
    return 1;
}

static void ffx_free(ffx *f)
{
    free(f->poly);
    zk__pcs_free(f->zp);
    pcs_prover_free(f->pp);
    zk__claims_free(&f->c);
    free(f->full);
    memset(f, 0, sizeof *f);
}

/* The forged fold + opening (wire format of zk_pcs.c: sumcheck then pcs.h opening).
 * g_fake: report a wrong G~(r) instead of solving for P~(r). */
static void forge(const ffx *f, int g_fake, tr_t *tr, em_buf *out, ff2_t *p_claimed)
{
    unsigned n = f->pack.total_log;
    size_t len = (size_t)1 << n, K = f->c.n;
    tr_absorb_u64(tr, "sc/fold", K);
    tr_absorb_u64(tr, "sc/fold", n);
    for (size_t k = 0; k < K; k++) {
        tr_absorb_ff2(tr, "sc/fold", f->full[k], n);
        tr_absorb_ff2(tr, "sc/fold", &f->c.v[k].val, 1);
    }
    ff2_t rho[8], claim = ff2_zero();
    tr_challenge_ff2_vec(tr, "sc/fold-rho", rho, K);
    for (size_t k = 0; k < K; k++)
        claim = ff2_add(claim, ff2_mul(rho[k], f->c.v[k].val));
    ff2_t *P = malloc(len * sizeof *P), *G = calloc(len, sizeof *G), *eq = malloc(len * sizeof *eq);
    if (!P || !G || !eq)
        abort();
    for (size_t i = 0; i < len; i++)
        P[i] = ff2_from_base(f->poly[i]);
    for (size_t k = 0; k < K; k++) {
        ml_eq_table(f->full[k], n, rho[k], eq);
        for (size_t i = 0; i < len; i++)
            G[i] = ff2_add(G[i], eq[i]);
    }
    sc_shape sh;
    sc_shape_product2(&sh, n);
    sc__absorb_shape(tr, &sh, 2, claim);
    sc_proof pf;
    memset(&pf, 0, sizeof pf);
    pf.n_vars = n;
    pf.degree = 2;
    pf.n_tables = 2;
    ff2_t cur = claim, point[ZK_MAX_VARS];
    for (unsigned j = 0; j < n; j++) {
        size_t h = len >> (j + 1);
        ff2_t h0 = ff2_zero(), h2 = ff2_zero();
        for (size_t i = 0; i < h; i++) {
            ff2_t p2 = ff2_sub(ff2_add(P[2 * i + 1], P[2 * i + 1]), P[2 * i]);
            ff2_t g2 = ff2_sub(ff2_add(G[2 * i + 1], G[2 * i + 1]), G[2 * i]);
            h0 = ff2_add(h0, ff2_mul(P[2 * i], G[2 * i]));
            h2 = ff2_add(h2, ff2_mul(p2, g2));
        }
        pf.round[j][0] = h0;
        pf.round[j][1] = h2;
        tr_absorb_ff2(tr, "sc/round", pf.round[j], 2);
        ff2_t r = tr_challenge_ff2(tr, "sc/r");
        point[j] = r;
        ff2_t g[3];
        sc__full_round(pf.round[j], 2, cur, g);
        cur = sc__interp(g, 2, r);
        for (size_t i = 0; i < h; i++) {
            P[i] = ff2_add(P[2 * i], ff2_mul(r, ff2_sub(P[2 * i + 1], P[2 * i])));
            G[i] = ff2_add(G[2 * i], ff2_mul(r, ff2_sub(G[2 * i + 1], G[2 * i])));
        }
    }
    ff2_t gv = g_fake ? ff2_add(G[0], ff2_one()) : G[0];
    ff2_t pv = g_fake ? P[0] : ff2_mul(cur, ff2_inv(gv));
    if (g_fake) /* solve for G instead, keeping P honest */
        gv = ff2_mul(cur, ff2_inv(pv));
    pf.final_eval[0] = pv;
    pf.final_eval[1] = gv;
    tr_absorb_ff2(tr, "sc/final", pf.final_eval, 2);
    em_err err = {0};
    if (sc_proof_write(&pf, out, &err) != EM_OK)
        abort();
    pcs_claim one = {.poly = 0, .point = point, .value = pv};
    if (pcs_open(f->pp, &one, 1, tr, out, &err) != EM_OK)
        abort();
    *p_claimed = pv;
    free(P);
    free(G);
    free(eq);
}

static em_status run(const ffx *f, int g_fake, ff2_t *pv, em_err *err)
{
    tr_t tp, tv;
    tr_init(&tp, "attack-fold");
    tv = tp;
    em_buf buf = {.max = (size_t)1 << 26};
    forge(f, g_fake, &tp, &buf, pv);
    em_reader r;
    em_reader_init(&r, buf.data, buf.len);
    em_status st = zk__pcs_verify(f->commit, f->commit_len, &tv, &f->pack, &f->c, 1, &r, err);
    if (st == EM_OK && em_reader_left(&r))
        st = em_errf(err, EM_ERR_PARSE, "%zu bytes left", em_reader_left(&r));
    em_buf_free(&buf);
    if (st != EM_OK && getenv("ZK_TEST_VERBOSE"))
        fprintf(stderr, "    rejected: %s\n", em_err_msg(err));
    return st;
}

static void test_honest_fold_accepted(void)
{
    ffx f;
    CHECK(ffx_init(&f, 0));
    em_err err = {0};
    ff2_t pv;
    if (f.pp)
        CHECK_OK(run(&f, 0, &pv, &err), &err);
    ffx_free(&f);
}

static void test_false_claim_through_fold(void)
{
    ffx f;
    CHECK(ffx_init(&f, 1));
    em_err err = {0};
    ff2_t pv;
    if (f.pp) {
        em_status st = run(&f, 0, &pv, &err);
        if (st == EM_OK)
            fprintf(stderr, "    BREAK: a false witness claim passed the folded opening\n");
        CHECK_ST(st, EM_ERR_VERIFY, &err);
        CHECK_STR_CONTAINS(err.msg, "pcs");
        /* a wrong weight value is the fold's own business */
        st = run(&f, 1, &pv, &err);
        CHECK_ST(st, EM_ERR_VERIFY, &err);
        CHECK_STR_CONTAINS(err.msg, "weight polynomial");
    }
    ffx_free(&f);
}

int main(void)
{
    th_init("test_attack_fold");
    TH_RUN(test_honest_fold_accepted);
    TH_RUN(test_false_claim_through_fold);
    return th_finish();
}
