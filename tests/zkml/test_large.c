/* Completeness at the sizes the prover is built for: 2^20-entry sumcheck (product of two
 * tables), PCS (commit, open at a random ff2 point, verify) and logUp range check (2^20 values
 * into a 2^16 table), through the public APIs, plus zero-padded non-power-of-two instances of
 * each. Sizes 1 and 2 are covered by test_sumcheck.c (n_vars 0, 1), test_pcs.c (2^0, 2^1) and
 * test_lookup.c (log_w 0, 1). Every completeness run also checks one false statement.
 *
 * Runtime (measured): ~0.7 s RelWithDebInfo, ~1 s under ASan+UBSan, so the 2^20 cases run in
 * every build. */
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/lookup.h"
#include "enclaveml/zkml/ml.h"
#include "enclaveml/zkml/pcs.h"
#include "enclaveml/zkml/sumcheck.h"
#include "zk_test_util.h"

#define LARGE_LOG 20

static ff2_t eval_table(const ff_t *t, size_t len, unsigned n, const ff2_t *r)
{
    ff2_t *sc = malloc((len / 2 + 1) * sizeof *sc);
    ff2_t v = ml_eval_base(t, len, n, r, sc);
    free(sc);
    return v;
}

/* ---- sumcheck: sum_x A(x) B(x) over 2^n entries, of which the first len are non-zero -------- */
static void sumcheck_case(unsigned n, size_t len)
{
    size_t N = (size_t)1 << n;
    ff_t *a = calloc(N, sizeof *a), *b = calloc(N, sizeof *b);
    ff_t sum = 0;
    for (size_t i = 0; i < len; i++) {
        a[i] = rnd_ff();
        b[i] = rnd_ff();
        sum = ff_add(sum, ff_mul(a[i], b[i])); /* the claim, computed directly in the base field */
    }
    sc_shape s;
    sc_shape_product2(&s, n);
    sc_tables t = {.base = {a, b}};
    ff2_t claim = ff2_from_base(sum);
    CHECK(ff2_eq(sc_sum(&s, &t), claim));
    tr_t tp, tv;
    tr_init(&tp, "test/large/sc");
    tv = tp;
    sc_proof *pr = malloc(sizeof *pr), *pr2 = malloc(sizeof *pr2);
    ff2_t pt[SC_MAX_VARS], pv[SC_MAX_VARS], ev[SC_MAX_TABLES];
    em_err err = {0};
    em_buf buf = {.max = 1 << 20};
    CHECK_OK(sc_prove(&s, &t, claim, &tp, NULL, pr, pt, &err), &err);
    CHECK_OK(sc_proof_write(pr, &buf, &err), &err);
    CHECK_EQ_U64(buf.len, sc_proof_size(&s));
    em_reader r;
    em_reader_init(&r, buf.data, buf.len);
    CHECK_OK(sc_proof_read(&s, &r, pr2, &err), &err);
    CHECK_EQ_U64(em_reader_left(&r), 0);
    tr_t tv2 = tv;
    CHECK_OK(sc_verify(&s, claim, pr2, &tv, pv, ev, &err), &err);
    CHECK(memcmp(tp.state, tv.state, 32) == 0);
    for (unsigned j = 0; j < n; j++)
        CHECK(ff2_eq(pt[j], pv[j]));
    /* the evaluations the caller must check are the tables' true evaluations */
    CHECK(ff2_eq(ev[0], eval_table(a, len, n, pv)));
    CHECK(ff2_eq(ev[1], eval_table(b, len, n, pv)));
    /* a false claim is rejected */
    CHECK_ST(sc_verify(&s, ff2_add(claim, ff2_one()), pr2, &tv2, pv, ev, &err), EM_ERR_VERIFY, &err);
    em_buf_free(&buf);
    free(pr);
    free(pr2);
    free(a);
    free(b);
}

static void test_sumcheck_large(void)
{
    sumcheck_case(LARGE_LOG, (size_t)1 << LARGE_LOG);
}

static void test_sumcheck_padded(void)
{
    sumcheck_case(10, 1000);
    sumcheck_case(3, 5);
    sumcheck_case(1, 1);
}

/* ---- PCS: one polynomial of n variables with len evaluations, opened at a random point -------- */
static void pcs_case(unsigned n, size_t len)
{
    ff_t *t = malloc((len ? len : 1) * sizeof *t);
    for (size_t i = 0; i < len; i++)
        t[i] = rnd_ff();
    pcs_layout l;
    em_err err = {0};
    pcs_prover *p = NULL;
    uint8_t root[PCS_ROOT_LEN];
    em_buf proof = {.max = (size_t)1 << 26};
    CHECK_OK(pcs_layout_init(&l, &n, 1, 0, &err), &err);
    pcs_poly poly = {.evals = t, .len = len};
    CHECK_OK(pcs_commit(&l, &poly, 2, &p, root, &err), &err);
    if (!p)
        goto out;
    ff2_t pt[PCS_MAX_VARS];
    for (unsigned j = 0; j < n; j++)
        pt[j] = rnd_ff2();
    pcs_claim c = {.poly = 0, .point = pt, .value = eval_table(t, len, n, pt)};
    tr_t tp, tv;
    tr_init(&tp, "test/large/pcs");
    tv = tp;
    tr_t tv_bad = tv;
    CHECK_OK(pcs_open(p, &c, 1, &tp, &proof, &err), &err);
    em_reader r;
    em_reader_init(&r, proof.data, proof.len);
    CHECK_OK(pcs_verify(&l, root, &c, 1, &tv, &r, &err), &err);
    CHECK_EQ_U64(em_reader_left(&r), 0);
    CHECK(memcmp(tp.state, tv.state, 32) == 0);
    /* the same proof for a false value is rejected */
    pcs_claim bad = c;
    bad.value = ff2_add(bad.value, (ff2_t){0, 1});
    em_reader_init(&r, proof.data, proof.len);
    CHECK(pcs_verify(&l, root, &bad, 1, &tv_bad, &r, &err) != EM_OK);
    fprintf(stderr, "  pcs 2^%u (len %zu): log_cols %u, proof %zu bytes\n", n, len, l.log_cols, proof.len);
out:
    em_buf_free(&proof);
    pcs_prover_free(p);
    free(t);
}

static void test_pcs_large(void)
{
    pcs_case(LARGE_LOG, (size_t)1 << LARGE_LOG);
}

static void test_pcs_padded(void)
{
    pcs_case(17, 100001); /* odd length, several rows partly zero */
    pcs_case(1, 1);
}

/* ---- logUp range check: nv values in [0, 2^k), padded to 2^lw with the value 0 ------------- */
static void lookup_case(unsigned lw, size_t nv, unsigned k, int negative)
{
    size_t nw = (size_t)1 << lw, nt = (size_t)1 << k;
    ff_t *v = malloc(nw * sizeof *v), *m = malloc(nt * sizeof *m);
    uint32_t *idx = malloc(nw * sizeof *idx);
    for (size_t i = 0; i < nw; i++) {
        idx[i] = i < nv ? (uint32_t)(th_rand() % nt) : 0; /* padding: a row of the table, counted in m */
        v[i] = idx[i];
    }
    if (nv > 2) {
        idx[0] = 0; /* both ends of the range */
        v[0] = 0;
        idx[1] = (uint32_t)(nt - 1);
        v[1] = nt - 1;
    }
    em_err err = {0};
    CHECK_OK(lu_multiplicities(idx, nw, nt, m, &err), &err);
    lu_table t = lu_table_range(k);
    lu_witness w = {.n_cols = 1, .log_len = lw, .col = {v}};
    em_buf proof = {.max = (size_t)1 << 26};
    lu_claims pc, vc;
    tr_t tp, tv;
    tr_init(&tp, "test/large/lu");
    tv = tp;
    CHECK_OK(lu_prove(&t, &w, m, &tp, &proof, &pc, &err), &err);
    em_reader r;
    em_reader_init(&r, proof.data, proof.len);
    CHECK_OK(lu_verify(&t, lw, &tv, &r, &vc, &err), &err);
    CHECK_EQ_U64(em_reader_left(&r), 0);
    CHECK(memcmp(&pc, &vc, sizeof pc) == 0);
    CHECK(memcmp(tp.state, tv.state, 32) == 0);
    /* the claims left to the caller are the true evaluations of the witness and m */
    CHECK(ff2_eq(vc.w_eval[0], eval_table(v, nw, lw, vc.w_point)));
    CHECK(ff2_eq(vc.m_eval, eval_table(m, nt, k, vc.t_point)));
    if (negative) {
        /* one value just outside the range (same multiplicities) */
        v[nw / 2] = (ff_t)nt;
        tr_init(&tp, "test/large/lu");
        tv = tp;
        proof.len = 0;
        CHECK_OK(lu_prove(&t, &w, m, &tp, &proof, &pc, &err), &err);
        em_reader_init(&r, proof.data, proof.len);
        CHECK_ST(lu_verify(&t, lw, &tv, &r, &vc, &err), EM_ERR_VERIFY, &err);
    }
    em_buf_free(&proof);
    free(v);
    free(m);
    free(idx);
}

static void test_lookup_large(void)
{
    lookup_case(LARGE_LOG, (size_t)1 << LARGE_LOG, 16, 1);
}

static void test_lookup_padded(void)
{
    lookup_case(10, 1000, 16, 1); /* 1000 values padded to 1024, witness smaller than the table */
    lookup_case(3, 5, 2, 1);
    lookup_case(1, 1, 1, 1);
}

int main(void)
{
    th_init("test_large");
    TH_RUN(test_sumcheck_padded);
    TH_RUN(test_pcs_padded);
    TH_RUN(test_lookup_padded);
    TH_RUN(test_sumcheck_large);
    TH_RUN(test_pcs_large);
    TH_RUN(test_lookup_large);
    return th_finish();
}
