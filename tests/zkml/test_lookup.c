/* logUp-GKR lookups: completeness for range and 2-column tables (sizes 2^0 .. 2^16), the
 * returned claims against the true multilinear evaluations, and rejection of a value outside
 * the table, wrong multiplicities, every corrupted proof element, truncation and a different
 * transcript. */
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/lookup.h"
#include "enclaveml/zkml/ml.h"
#include "zk_test_util.h"

static ff2_t ev(const ff_t *t, unsigned n, const ff2_t *r)
{
    size_t N = (size_t)1 << n;
    ff2_t *sc = malloc((N / 2 + 1) * sizeof *sc);
    ff2_t v = ml_eval_base(t, N, n, r, sc);
    free(sc);
    return v;
}

static int claims_true(const lu_claims *c, const lu_witness *w, const ff_t *m, unsigned log_t)
{
    int ok = 1;
    for (unsigned k = 0; k < w->n_cols; k++)
        ok &= ff2_eq(c->w_eval[k], ev(w->col[k], w->log_len, c->w_point));
    ok &= ff2_eq(c->m_eval, ev(m, log_t, c->t_point));
    return ok;
}

/* Proves and verifies; returns the verifier status, with the claims of both sides compared. */
static em_status run(const lu_table *t, const lu_witness *w, const ff_t *m, em_buf *proof, lu_claims *vc)
{
    tr_t tp, tv;
    tr_init(&tp, "test/lu");
    tv = tp;
    lu_claims pc;
    em_err err = {0};
    proof->len = 0;
    CHECK_OK(lu_prove(t, w, m, &tp, proof, &pc, &err), &err);
    em_reader r;
    em_reader_init(&r, proof->data, proof->len);
    em_status st = lu_verify(t, w->log_len, &tv, &r, vc, &err);
    if (st == EM_OK) {
        CHECK_EQ_U64(em_reader_left(&r), 0);
        CHECK(memcmp(&pc, vc, sizeof pc) == 0);
        CHECK(memcmp(tp.state, tv.state, 32) == 0);
    }
    return st;
}

static void test_range(void)
{
    unsigned cases[][2] = {{0, 0}, {0, 3}, {1, 1}, {2, 3}, {3, 2}, {5, 8}, {10, 4}, {16, 8}, {8, 16}};
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        unsigned lw = cases[ci][0], k = cases[ci][1];
        size_t nw = (size_t)1 << lw, nt = (size_t)1 << k;
        ff_t *v = malloc(nw * sizeof *v), *m = malloc(nt * sizeof *m);
        uint32_t *idx = malloc(nw * sizeof *idx);
        for (size_t i = 0; i < nw; i++) {
            idx[i] = (uint32_t)(th_rand() % nt);
            v[i] = idx[i];
        }
        em_err err = {0};
        CHECK_OK(lu_multiplicities(idx, nw, nt, m, &err), &err);
        lu_table t = lu_table_range(k);
        lu_witness w = {.n_cols = 1, .log_len = lw, .col = {v}};
        em_buf proof = {.max = 1 << 24};
        lu_claims c;
        CHECK_OK(run(&t, &w, m, &proof, &c), &err);
        CHECK(claims_true(&c, &w, m, k));
        /* a value outside the range (with the multiplicities of the honest witness) */
        ff_t old = v[nw - 1];
        v[nw - 1] = (ff_t)nt; /* first value not in [0, 2^k) */
        CHECK_ST(run(&t, &w, m, &proof, &c), EM_ERR_VERIFY, &err);
        v[nw - 1] = FF_P - 1; /* -1 */
        CHECK_ST(run(&t, &w, m, &proof, &c), EM_ERR_VERIFY, &err);
        v[nw - 1] = old;
        /* wrong multiplicities */
        m[0] = ff_add(m[0], 1);
        CHECK_ST(run(&t, &w, m, &proof, &c), EM_ERR_VERIFY, &err);
        em_buf_free(&proof);
        free(v);
        free(m);
        free(idx);
    }
}

/* A 2-column activation-like table {(q, relu_clamp(q))} over q in [-2^(k-1), 2^(k-1)). */
static void make_relu(unsigned k, ff_t *a, ff_t *b)
{
    size_t nt = (size_t)1 << k;
    for (size_t j = 0; j < nt; j++) {
        int64_t q = (int64_t)j - (int64_t)(nt / 2);
        int64_t y = q < 0 ? 0 : q > 31 ? 31 : q;
        a[j] = ff_from_i64(q);
        b[j] = ff_from_i64(y);
    }
}

static void test_pairs(void)
{
    unsigned k = 10, lw = 12;
    size_t nt = (size_t)1 << k, nw = (size_t)1 << lw;
    ff_t *ta = malloc(nt * sizeof *ta), *tb = malloc(nt * sizeof *tb), *m = malloc(nt * sizeof *m);
    ff_t *wa = malloc(nw * sizeof *wa), *wb = malloc(nw * sizeof *wb);
    uint32_t *idx = malloc(nw * sizeof *idx);
    make_relu(k, ta, tb);
    for (size_t i = 0; i < nw; i++) {
        idx[i] = (uint32_t)(th_rand() % nt);
        wa[i] = ta[idx[i]];
        wb[i] = tb[idx[i]];
    }
    em_err err = {0};
    CHECK_OK(lu_multiplicities(idx, nw, nt, m, &err), &err);
    lu_table t = {.n_cols = 2, .log_len = k, .col = {ta, tb}};
    lu_witness w = {.n_cols = 2, .log_len = lw, .col = {wa, wb}};
    em_buf proof = {.max = 1 << 24};
    lu_claims c;
    CHECK_OK(run(&t, &w, m, &proof, &c), &err);
    CHECK(claims_true(&c, &w, m, k));
    /* a pair whose first coordinate is in the table but whose output is wrong */
    size_t i0 = th_rand() % nw;
    wb[i0] = ff_add(wb[i0], 1);
    CHECK_ST(run(&t, &w, m, &proof, &c), EM_ERR_VERIFY, &err);
    wb[i0] = ff_sub(wb[i0], 1);
    /* swapped columns */
    lu_witness ws = {.n_cols = 2, .log_len = lw, .col = {wb, wa}};
    CHECK_ST(run(&t, &ws, m, &proof, &c), EM_ERR_VERIFY, &err);

    /* tampering with every 16-byte element of an honest proof, truncation, transcript */
    CHECK_OK(run(&t, &w, m, &proof, &c), &err);
    size_t n_el = proof.len / FF2_BYTES, rejected = 0;
    for (size_t e = 0; e < n_el; e++) {
        uint8_t *cp = malloc(proof.len);
        memcpy(cp, proof.data, proof.len);
        cp[e * FF2_BYTES + (e % 2) * 8] ^= 0x11;
        tr_t tv;
        tr_init(&tv, "test/lu");
        em_reader r;
        em_reader_init(&r, cp, proof.len);
        lu_claims vc;
        if (lu_verify(&t, lw, &tv, &r, &vc, &err) != EM_OK || !claims_true(&vc, &w, m, k))
            rejected++;
        free(cp);
    }
    CHECK_EQ_U64(rejected, n_el);
    for (size_t cut = 0; cut < proof.len; cut += 37) {
        tr_t tv;
        tr_init(&tv, "test/lu");
        em_reader r;
        em_reader_init(&r, proof.data, cut);
        lu_claims vc;
        CHECK(lu_verify(&t, lw, &tv, &r, &vc, &err) != EM_OK);
    }
    {
        tr_t tv;
        tr_init(&tv, "test/lu-other");
        em_reader r;
        em_reader_init(&r, proof.data, proof.len);
        lu_claims vc;
        CHECK(lu_verify(&t, lw, &tv, &r, &vc, &err) != EM_OK);
    }
    /* the verifier with a different witness size reads a different proof shape */
    {
        tr_t tv;
        tr_init(&tv, "test/lu");
        em_reader r;
        em_reader_init(&r, proof.data, proof.len);
        lu_claims vc;
        CHECK(lu_verify(&t, lw - 1, &tv, &r, &vc, &err) != EM_OK || em_reader_left(&r) != 0);
    }
    em_buf_free(&proof);
    free(ta);
    free(tb);
    free(m);
    free(wa);
    free(wb);
    free(idx);
}

static void test_args(void)
{
    em_err err = {0};
    uint32_t idx[2] = {0, 4};
    ff_t m[4];
    CHECK_ST(lu_multiplicities(idx, 2, 4, m, &err), EM_ERR_RANGE, &err);
    lu_table t = lu_table_range(3);
    t.n_cols = 2;
    tr_t tv;
    tr_init(&tv, "x");
    em_reader r;
    em_reader_init(&r, m, 0);
    lu_claims c;
    CHECK_ST(lu_verify(&t, 2, &tv, &r, &c, &err), EM_ERR_ARG, &err);
    t = lu_table_range(3);
    CHECK_ST(lu_verify(&t, LU_MAX_LOG + 1, &tv, &r, &c, &err), EM_ERR_LIMIT, &err);
}

int main(void)
{
    th_init("test_lookup");
    TH_RUN(test_range);
    TH_RUN(test_pairs);
    TH_RUN(test_args);
    return th_finish();
}
