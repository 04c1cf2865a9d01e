/* Adversarial review: the witness opening with the column fold (zk_colfold.c + zk_pcs.c).
 *
 * Claims at many points are reduced to claims sharing one column point s by a sumcheck over the
 * column variables; the prover then sends v'_k = P~(s, z_k^r) and the claims (s, z_k^r) = v'_k
 * are opened together. A sumcheck never binds its own final table values, so a forger can always
 * finish the fold of a FALSE claim set: it sends the honest round values (the verifier derives
 * g(1) from the running claim, so the rounds stay consistent with the lie) and solves the final
 * check for the lying claim's v'. The fold then accepts -- expected -- and the opening at
 * (s, z^r) must reject the false v'. Sending the honest v' instead must fail the fold's own
 * check. The forger's run on a true claim set must be accepted both ways (it validates the
 * replica of the transcript). */
#include <inttypes.h>

#include "enclaveml/zkml/ml.h"
#include "enclaveml/zkml/pcs.h"
#include "enclaveml/zkml/sumcheck.h"
#include "sc_internal.h"
#include "zk_internal.h"
#include "zk_test_util.h"

typedef struct ffx {
    zk_pack pack;
    zk_wlayout wl; /* pack, with every block's range the whole int32 range */
    ff_t *poly;
    int32_t *ints; /* the committed values (witnesses are committed as integers) */
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
    f->ints = malloc(len * sizeof *f->ints);
    if (!f->poly || !f->ints)
        return 0;
    size_t used = (size_t)zk__pack_used(&f->pack);
    for (size_t i = 0; i < len; i++) { /* the witness is zero past its packed blocks */
        f->ints[i] = i < used ? (int32_t)(uint32_t)rnd_ff() : 0;
        f->poly[i] = ff_from_i64(f->ints[i]);
    }
    em_err err = {0};
    f->wl.pack = f->pack;
    for (unsigned b = 0; b < 4; b++) {
        f->wl.lo[b] = INT32_MIN;
        f->wl.hi[b] = INT32_MAX;
    }
    if (zk__pcs_commit_witness(f->ints, &f->wl, 1, 0, &f->zp, f->commit, &f->commit_len, &err) != EM_OK)
        return 0;
    /* the same layout through pcs.h directly (the adapter's prover is opaque): same root */
    pcs_layout l;
    pcs_poly pp = {.ints = f->ints, .len = used};
    uint8_t root[PCS_ROOT_LEN];
    if (zk__pcs_witness_layout(&f->wl, &l, &err) != EM_OK || l.n_runs != 1 || l.run_sym[0] != PCS_SYM_I32 ||
        pcs_commit(&l, &pp, 1, &f->pp, root, &err) != EM_OK ||
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
    zk__pcs_free(f->zp);
    free(f->poly);
    free(f->ints);
    pcs_prover_free(f->pp);
    zk__claims_free(&f->c);
    free(f->full);
    memset(f, 0, sizeof *f);
}

/* The forged column fold + opening (wire format of zk_colfold.c and zk_pcs.c: log_cols rounds
 * of (h(0), h(2)), the values v'_k, then the pcs.h opening of the claims (s, z_k^r) = v'_k).
 * solve: choose the lying claim's v' so the fold's final check holds (the opening must then
 * reject); otherwise send the honest v' (the fold's own check must reject). */
static void forge(const ffx *f, int solve, tr_t *tr, em_buf *out)
{
    unsigned n = f->pack.total_log, lc = pcs_prover_layout(f->pp)->log_cols, nr = n - lc;
    size_t C = (size_t)1 << lc, NR = (size_t)1 << nr, K = f->c.n;
    tr_absorb_u64(tr, "cf/n", K);
    for (size_t k = 0; k < K; k++) {
        tr_absorb_ff2(tr, "cf/claim", f->full[k], n);
        tr_absorb_ff2(tr, "cf/claim", &f->c.v[k].val, 1);
    }
    ff2_t rho[8], claim = ff2_zero();
    tr_challenge_ff2_vec(tr, "cf/rho", rho, K);
    for (size_t k = 0; k < K; k++)
        claim = ff2_add(claim, ff2_mul(rho[k], f->c.v[k].val));
    ff2_t *E = calloc(K * C, sizeof *E), *F = calloc(K * C, sizeof *F), *er = malloc(NR * sizeof *er);
    if (!E || !F || !er)
        abort();
    for (size_t k = 0; k < K; k++) { /* E_k = rho_k eq(z^c, .), F_k = eq(z^r, .)^T M */
        ml_eq_table(f->full[k], lc, rho[k], E + k * C);
        ml_eq_table(f->full[k] + lc, nr, ff2_one(), er);
        for (size_t r = 0; r < NR; r++)
            for (size_t c = 0; c < C; c++)
                F[k * C + c] = ff2_add(F[k * C + c], ff2_mul_base(er[r], f->poly[r * C + c]));
    }
    ff2_t cur = claim, s[ZK_MAX_VARS];
    for (unsigned j = 0; j < lc; j++) {
        size_t h = C >> (j + 1);
        ff2_t hv[2] = {ff2_zero(), ff2_zero()};
        for (size_t k = 0; k < K; k++)
            for (size_t i = 0; i < h; i++) {
                const ff2_t *e = E + k * C, *fk = F + k * C;
                ff2_t e2 = ff2_sub(ff2_add(e[2 * i + 1], e[2 * i + 1]), e[2 * i]);
                ff2_t f2 = ff2_sub(ff2_add(fk[2 * i + 1], fk[2 * i + 1]), fk[2 * i]);
                hv[0] = ff2_add(hv[0], ff2_mul(e[2 * i], fk[2 * i]));
                hv[1] = ff2_add(hv[1], ff2_mul(e2, f2));
            }
        tr_absorb_ff2(tr, "cf/round", hv, 2);
        for (unsigned t = 0; t < 2; t++)
            if (em_buf_append_u64le(out, hv[t].a) != EM_OK || em_buf_append_u64le(out, hv[t].b) != EM_OK)
                abort();
        ff2_t r = tr_challenge_ff2(tr, "cf/r"), g[3];
        s[j] = r;
        sc__full_round(hv, 2, cur, g);
        cur = sc__interp(g, 2, r);
        for (size_t k = 0; k < K; k++)
            for (size_t i = 0; i < h; i++) {
                ff2_t *e = E + k * C, *fk = F + k * C;
                e[i] = ff2_add(e[2 * i], ff2_mul(r, ff2_sub(e[2 * i + 1], e[2 * i])));
                fk[i] = ff2_add(fk[2 * i], ff2_mul(r, ff2_sub(fk[2 * i + 1], fk[2 * i])));
            }
    }
    ff2_t vals[8];
    for (size_t k = 0; k < K; k++)
        vals[k] = F[k * C];
    if (solve) { /* v'_2 = (cur - sum_{k != 2} E_k~(s) v'_k) / E_2~(s) */
        ff2_t rest = cur;
        for (size_t k = 0; k < K; k++)
            if (k != 2)
                rest = ff2_sub(rest, ff2_mul(E[k * C], vals[k]));
        vals[2] = ff2_mul(rest, ff2_inv(E[2 * C]));
    }
    tr_absorb_ff2(tr, "cf/vals", vals, K);
    for (size_t k = 0; k < K; k++)
        if (em_buf_append_u64le(out, vals[k].a) != EM_OK || em_buf_append_u64le(out, vals[k].b) != EM_OK)
            abort();
    ff2_t pts[8][ZK_MAX_VARS];
    pcs_claim pc[8];
    for (size_t k = 0; k < K; k++) {
        memcpy(pts[k], s, lc * sizeof *s);
        memcpy(pts[k] + lc, f->full[k] + lc, nr * sizeof *s);
        pc[k] = (pcs_claim){.poly = 0, .point = pts[k], .value = vals[k]};
    }
    em_err err = {0};
    if (pcs_open(f->pp, pc, K, tr, out, &err) != EM_OK)
        abort();
    free(E);
    free(F);
    free(er);
}

static em_status run(const ffx *f, int solve, em_err *err)
{
    tr_t tp, tv;
    tr_init(&tp, "attack-fold");
    tv = tp;
    em_buf buf = {.max = (size_t)1 << 26};
    forge(f, solve, &tp, &buf);
    em_reader r;
    em_reader_init(&r, buf.data, buf.len);
    em_status st = zk__pcs_verify(f->commit, f->commit_len, &tv, &f->pack, &f->wl, &f->c, &r, err);
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
    if (f.pp) {
        CHECK_OK(run(&f, 1, &err), &err);
        CHECK_OK(run(&f, 0, &err), &err);
    }
    ffx_free(&f);
}

static void test_false_claim_through_fold(void)
{
    ffx f;
    CHECK(ffx_init(&f, 1));
    em_err err = {0};
    if (f.pp) {
        em_status st = run(&f, 1, &err);
        if (st == EM_OK)
            fprintf(stderr, "    BREAK: a false witness claim passed the column fold and the opening\n");
        CHECK_ST(st, EM_ERR_VERIFY, &err);
        CHECK_STR_CONTAINS(err.msg, "pcs");
        /* honest values at s contradict the false claim: the fold's own check */
        st = run(&f, 0, &err);
        CHECK_ST(st, EM_ERR_VERIFY, &err);
        CHECK_STR_CONTAINS(err.msg, "column fold");
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
