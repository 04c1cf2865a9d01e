/* logUp-GKR: fractional sumcheck trees for the lookup identity (lookup.h). */
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/lookup.h"
#include "enclaveml/zkml/ml.h"
#include "enclaveml/zkml/sumcheck.h"
#include "sc_internal.h"

lu_table lu_table_range(unsigned k)
{
    lu_table t;
    memset(&t, 0, sizeof t);
    t.n_cols = 1;
    t.log_len = k;
    t.is_range = 1;
    return t;
}

em_status lu_multiplicities(const uint32_t *idx, size_t n, size_t table_len, ff_t *m, em_err *err)
{
    memset(m, 0, table_len * sizeof *m);
    for (size_t i = 0; i < n; i++) {
        if (idx[i] >= table_len)
            return em_errf(err, EM_ERR_RANGE, "lookup: witness %zu maps to table row %u >= %zu", i, idx[i], table_len);
        m[idx[i]] = ff_add(m[idx[i]], 1);
    }
    return EM_OK;
}

/* Layer shape: sum_x eq(x) * (P0 Q1 + P1 Q0 + lambda Q0 Q1), tables eq,P0,P1,Q0,Q1 = 0..4. */
static void layer_shape(sc_shape *s, unsigned k, ff2_t lambda)
{
    memset(s, 0, sizeof *s);
    s->n_vars = k;
    s->n_tables = 5;
    s->n_terms = 3;
    s->term[0] = (sc_term){.coeff = ff2_one(), .n_factors = 3, .factor = {0, 1, 4}};
    s->term[1] = (sc_term){.coeff = ff2_one(), .n_factors = 3, .factor = {0, 2, 3}};
    s->term[2] = (sc_term){.coeff = lambda, .n_factors = 3, .factor = {0, 3, 4}};
}

/* h(0), h(2) (and h(1) when want1) of one round: h(t) = sum_i E[i] * inner(t, i) with
 * inner = P0 Q1 + P1 Q0 + lambda Q0 Q1 at x_j = t, pairs i < half. */
/* flatten: force the ff2 arithmetic inline in this hot loop (GCC -O2 keeps ff2_mul
 * out of line otherwise; ~2x slower). */
__attribute__((flatten)) static void layer_sums(const ff2_t *P0, const ff2_t *P1, const ff2_t *Q0, const ff2_t *Q1, const ff2_t *E,
                       size_t half, ff2_t lambda, int want1, ff2_t h[3])
{
    ff2_t a0 = ff2_zero(), b0 = ff2_zero(), a1 = ff2_zero(), b1 = ff2_zero(), a2 = ff2_zero(), b2 = ff2_zero();
    for (size_t i = 0; i < half; i++) {
        ff2_t p0l = P0[2 * i], p0h = P0[2 * i + 1], p1l = P1[2 * i], p1h = P1[2 * i + 1];
        ff2_t q0l = Q0[2 * i], q0h = Q0[2 * i + 1], q1l = Q1[2 * i], q1h = Q1[2 * i + 1];
        ff2_t e = E[i];
        /* t = 0 */
        ff2_t A = ff2_add(ff2_mul(p0l, q1l), ff2_mul(p1l, q0l)), B = ff2_mul(q0l, q1l);
        a0 = ff2_add(a0, ff2_mul(e, A));
        b0 = ff2_add(b0, ff2_mul(e, B));
        if (want1) {
            A = ff2_add(ff2_mul(p0h, q1h), ff2_mul(p1h, q0h));
            B = ff2_mul(q0h, q1h);
            a1 = ff2_add(a1, ff2_mul(e, A));
            b1 = ff2_add(b1, ff2_mul(e, B));
        }
        /* t = 2: 2 hi - lo */
        ff2_t p0t = ff2_sub(ff2_add(p0h, p0h), p0l), p1t = ff2_sub(ff2_add(p1h, p1h), p1l);
        ff2_t q0t = ff2_sub(ff2_add(q0h, q0h), q0l), q1t = ff2_sub(ff2_add(q1h, q1h), q1l);
        A = ff2_add(ff2_mul(p0t, q1t), ff2_mul(p1t, q0t));
        B = ff2_mul(q0t, q1t);
        a2 = ff2_add(a2, ff2_mul(e, A));
        b2 = ff2_add(b2, ff2_mul(e, B));
    }
    h[0] = ff2_add(a0, ff2_mul(lambda, b0));
    h[1] = ff2_add(a1, ff2_mul(lambda, b1));
    h[2] = ff2_add(a2, ff2_mul(lambda, b2));
}

/* eq1(rho, t) = rho t + (1 - rho)(1 - t) for a small integer t. */
static ff2_t eq1(ff2_t rho, ff_t t)
{
    ff2_t one_minus = ff2_sub(ff2_one(), rho);
    return ff2_add(one_minus, ff2_mul_base(ff2_sub(rho, one_minus), t));
}

/* Specialised prover for the layer sumcheck sum_x eq(rho, x) (P0 Q1 + P1 Q0 + lambda Q0 Q1)(x)
 * over k variables. The eq factor is never tabulated and folded: for round j it splits into
 * the bound prefix (a scalar), eq1(rho_j, X) and eq over the remaining variables (tables E_j,
 * precomputed), so the prover evaluates only the degree-2 inner sum h at 0 and 2 and derives
 * h(1) from the running claim. The messages, transcript and final evaluations are exactly those
 * of sc_prove on layer_shape with the tabulated eq (which sc_verify checks). P*, Q* (2^k each)
 * are folded in place; E has room for 2^k entries. */
static em_status layer_prove(unsigned k, const ff2_t *rho, ff2_t lambda, ff2_t claim, ff2_t *P0, ff2_t *P1,
                             ff2_t *Q0, ff2_t *Q1, ff2_t *E, tr_t *tr, sc_proof *pr, ff2_t *point, em_err *err)
{
    sc_shape s;
    layer_shape(&s, k, lambda);
    memset(pr, 0, sizeof *pr);
    pr->n_vars = k;
    pr->degree = 3;
    pr->n_tables = 5;
    sc__absorb_shape(tr, &s, 3, claim);
    ff2_t pre = ff2_one(), cur = claim;
    size_t len = (size_t)1 << k;
    for (unsigned j = 0; j < k; j++) {
        size_t half = len / 2;
        ml_eq_table(rho + j + 1, k - 1 - j, ff2_one(), E); /* eq over x_{j+1..k-1} */
        ff2_t h[4];
        ff2_t pre_inv = ff2_inv(pre), rj_inv = ff2_inv(rho[j]);
        int derive = !ff2_is_zero(pre_inv) && !ff2_is_zero(rj_inv);
        layer_sums(P0, P1, Q0, Q1, E, half, lambda, !derive, h);
        if (derive) /* cur = pre ((1 - rho_j) h0 + rho_j h1) */
            h[1] = ff2_mul(ff2_sub(ff2_mul(cur, pre_inv), ff2_mul(ff2_sub(ff2_one(), rho[j]), h[0])), rj_inv);
        /* h has degree 2: third finite difference is zero */
        h[3] = ff2_add(ff2_sub(ff2_mul_base(h[2], 3), ff2_mul_base(h[1], 3)), h[0]);
        ff2_t *msg = pr->round[j];
        msg[0] = ff2_mul(pre, ff2_mul(eq1(rho[j], 0), h[0]));
        msg[1] = ff2_mul(pre, ff2_mul(eq1(rho[j], 2), h[2]));
        msg[2] = ff2_mul(pre, ff2_mul(eq1(rho[j], 3), h[3]));
        tr_absorb_ff2(tr, "sc/round", msg, 3);
        ff2_t r = tr_challenge_ff2(tr, "sc/r");
        point[j] = r;
        ff2_t g[4];
        sc__full_round(msg, 3, cur, g);
        cur = sc__interp(g, 3, r);
        /* eq1(rho_j, r) for a field r */
        ff2_t e_r = ff2_add(ff2_mul(rho[j], r), ff2_mul(ff2_sub(ff2_one(), rho[j]), ff2_sub(ff2_one(), r)));
        pre = ff2_mul(pre, e_r);
        ml_fold_ext(P0, len, r);
        ml_fold_ext(P1, len, r);
        ml_fold_ext(Q0, len, r);
        ml_fold_ext(Q1, len, r);
        len = half;
    }
    ff2_t *e = pr->final_eval;
    e[0] = pre;
    e[1] = P0[0];
    e[2] = P1[0];
    e[3] = Q0[0];
    e[4] = Q1[0];
    ff2_t fin = ff2_mul(e[0], ff2_add(ff2_add(ff2_mul(e[1], e[4]), ff2_mul(e[2], e[3])),
                                      ff2_mul(lambda, ff2_mul(e[3], e[4]))));
    tr_absorb_ff2(tr, "sc/final", e, 5);
    if (!ff2_eq(fin, cur))
        return em_errf(err, EM_ERR_INTERNAL, "lookup: layer sumcheck inconsistent");
    return EM_OK;
}

static em_status put_ff2s(em_buf *out, const ff2_t *v, size_t n, em_err *err)
{
    uint8_t b[FF2_BYTES];
    for (size_t i = 0; i < n; i++) {
        ff2_encode(v[i], b);
        if (em_buf_append(out, b, sizeof b) != EM_OK)
            return em_errf(err, EM_ERR_LIMIT, "lookup: proof buffer full");
    }
    return EM_OK;
}

static em_status get_ff2s(em_reader *r, ff2_t *v, size_t n, em_err *err)
{
    em_status st;
    for (size_t i = 0; i < n; i++)
        if ((st = ff2_read(r, &v[i], err)) != EM_OK) {
            em_err_prefix(err, "lookup: "); /* st survives a NULL err */
            return st;
        }
    return EM_OK;
}

/* Result of one fractional tree: root fraction, leaf point and leaf claims. */
typedef struct frac_out {
    ff2_t P, Q;
    ff2_t point[LU_MAX_LOG];
    ff2_t p_eval, q_eval;
} frac_out;

/* Prover for sum_i p[i] / q[i] over 2^L leaves; p and q are consumed as layer storage: they
 * must have room for 2^(L+1) entries (leaves in the first 2^L). */
static em_status frac_prove(unsigned L, ff2_t *p, ff2_t *q, tr_t *tr, em_buf *out, frac_out *fo, em_err *err)
{
    em_status st = EM_OK;
    ff2_t *tabs = NULL;
    /* Layer k (2^k entries) lives at offset 2^(L+1) - 2^(k+1): leaves first, root last. */
    size_t total = (size_t)1 << (L + 1);
#define LAYER(arr, k) ((arr) + total - ((size_t)2 << (k)))
    for (unsigned k = L; k-- > 0;) {
        ff2_t *pc = LAYER(p, k + 1), *qc = LAYER(q, k + 1), *pp = LAYER(p, k), *qp = LAYER(q, k);
        for (size_t x = 0; x < ((size_t)1 << k); x++) {
            pp[x] = ff2_add(ff2_mul(pc[2 * x], qc[2 * x + 1]), ff2_mul(pc[2 * x + 1], qc[2 * x]));
            qp[x] = ff2_mul(qc[2 * x], qc[2 * x + 1]);
        }
    }
    fo->P = LAYER(p, 0)[0];
    fo->Q = LAYER(q, 0)[0];
    if (L == 0) {
        ff2_t top[2] = {fo->P, fo->Q};
        tr_absorb_ff2(tr, "lu/top", top, 2);
        fo->p_eval = fo->P;
        fo->q_eval = fo->Q;
        return put_ff2s(out, top, 2, err);
    }
    ff2_t top[4] = {LAYER(p, 1)[0], LAYER(p, 1)[1], LAYER(q, 1)[0], LAYER(q, 1)[1]};
    tr_absorb_ff2(tr, "lu/top", top, 4);
    if ((st = put_ff2s(out, top, 4, err)) != EM_OK)
        return st;
    ff2_t mu = tr_challenge_ff2(tr, "lu/mu");
    fo->point[0] = mu;
    ff2_t cp = ff2_add(top[0], ff2_mul(mu, ff2_sub(top[1], top[0])));
    ff2_t cq = ff2_add(top[2], ff2_mul(mu, ff2_sub(top[3], top[2])));
    size_t half_max = (size_t)1 << (L - 1);
    tabs = malloc(5 * half_max * sizeof *tabs);
    if (!tabs)
        return em_errf(err, EM_ERR_NOMEM, "lookup: layer tables");
    for (unsigned k = 1; k < L; k++) {
        size_t h = (size_t)1 << k;
        ff2_t *E = tabs, *p0 = tabs + h, *p1 = tabs + 2 * h, *q0 = tabs + 3 * h, *q1 = tabs + 4 * h;
        ff2_t *pc = LAYER(p, k + 1), *qc = LAYER(q, k + 1);
        for (size_t x = 0; x < h; x++) {
            p0[x] = pc[2 * x];
            p1[x] = pc[2 * x + 1];
            q0[x] = qc[2 * x];
            q1[x] = qc[2 * x + 1];
        }
        ff2_t lambda = tr_challenge_ff2(tr, "lu/lambda");
        sc_proof pr;
        ff2_t pt[LU_MAX_LOG];
        if ((st = layer_prove(k, fo->point, lambda, ff2_add(cp, ff2_mul(lambda, cq)), p0, p1, q0, q1, E, tr, &pr,
                              pt, err)) != EM_OK ||
            (st = sc_proof_write(&pr, out, err)) != EM_OK)
            break;
        mu = tr_challenge_ff2(tr, "lu/mu");
        const ff2_t *e = pr.final_eval;
        cp = ff2_add(e[1], ff2_mul(mu, ff2_sub(e[2], e[1])));
        cq = ff2_add(e[3], ff2_mul(mu, ff2_sub(e[4], e[3])));
        fo->point[0] = mu;
        memcpy(fo->point + 1, pt, k * sizeof *pt);
    }
#undef LAYER
    fo->p_eval = cp;
    fo->q_eval = cq;
    free(tabs);
    return st;
}

static em_status frac_verify(unsigned L, tr_t *tr, em_reader *r, frac_out *fo, em_err *err)
{
    em_status st;
    if (L == 0) {
        ff2_t top[2];
        if ((st = get_ff2s(r, top, 2, err)) != EM_OK)
            return st;
        tr_absorb_ff2(tr, "lu/top", top, 2);
        fo->P = fo->p_eval = top[0];
        fo->Q = fo->q_eval = top[1];
        return EM_OK;
    }
    ff2_t top[4];
    if ((st = get_ff2s(r, top, 4, err)) != EM_OK)
        return st;
    tr_absorb_ff2(tr, "lu/top", top, 4);
    fo->P = ff2_add(ff2_mul(top[0], top[3]), ff2_mul(top[1], top[2]));
    fo->Q = ff2_mul(top[2], top[3]);
    ff2_t mu = tr_challenge_ff2(tr, "lu/mu");
    fo->point[0] = mu;
    ff2_t cp = ff2_add(top[0], ff2_mul(mu, ff2_sub(top[1], top[0])));
    ff2_t cq = ff2_add(top[2], ff2_mul(mu, ff2_sub(top[3], top[2])));
    for (unsigned k = 1; k < L; k++) {
        ff2_t lambda = tr_challenge_ff2(tr, "lu/lambda");
        sc_shape s;
        layer_shape(&s, k, lambda);
        sc_proof pr;
        ff2_t pt[LU_MAX_LOG], e[5];
        if ((st = sc_proof_read(&s, r, &pr, err)) != EM_OK) {
            em_err_prefix(err, "lookup layer %u: ", k); /* st survives a NULL err */
            return st;
        }
        if ((st = sc_verify(&s, ff2_add(cp, ff2_mul(lambda, cq)), &pr, tr, pt, e, err)) != EM_OK) {
            em_err_prefix(err, "lookup layer %u: ", k); /* st survives a NULL err */
            return st;
        }
        if (!ff2_eq(e[0], ml_eq_eval(fo->point, pt, k)))
            return em_errf(err, EM_ERR_VERIFY, "lookup layer %u: eq evaluation does not match", k);
        mu = tr_challenge_ff2(tr, "lu/mu");
        cp = ff2_add(e[1], ff2_mul(mu, ff2_sub(e[2], e[1])));
        cq = ff2_add(e[3], ff2_mul(mu, ff2_sub(e[4], e[3])));
        fo->point[0] = mu;
        memcpy(fo->point + 1, pt, k * sizeof *pt);
    }
    fo->p_eval = cp;
    fo->q_eval = cq;
    return EM_OK;
}

static em_status table_check(const lu_table *t, em_err *err)
{
    if (t->n_cols < 1 || t->n_cols > LU_MAX_COLS)
        return em_errf(err, EM_ERR_ARG, "lookup: table has %u columns (1..%d)", t->n_cols, LU_MAX_COLS);
    if (t->log_len > LU_MAX_LOG)
        return em_errf(err, EM_ERR_LIMIT, "lookup: table of 2^%u rows (max 2^%d)", t->log_len, LU_MAX_LOG);
    if (t->is_range && t->n_cols != 1)
        return em_errf(err, EM_ERR_ARG, "lookup: a range table has one column");
    if (!t->is_range)
        for (unsigned c = 0; c < t->n_cols; c++)
            if (!t->col[c])
                return em_errf(err, EM_ERR_ARG, "lookup: table column %u missing", c);
    return EM_OK;
}

/* sum_c beta^c * x_c */
static ff2_t compress(const ff2_t *x, unsigned n, ff2_t beta)
{
    ff2_t acc = ff2_zero();
    for (unsigned c = n; c-- > 0;)
        acc = ff2_add(ff2_mul(acc, beta), x[c]);
    return acc;
}

/* Table value of row j, column c. */
static ff_t table_at(const lu_table *t, unsigned c, size_t j) { return t->is_range ? (ff_t)j : t->col[c][j]; }

/* The table's multilinear evaluations at pt (verifier side): O(log) for ranges, O(2^log) else. */
static em_status table_evals(const lu_table *t, const ff2_t *pt, ff2_t *ev, em_err *err)
{
    if (t->is_range) {
        ev[0] = ml_identity_eval(t->log_len, pt);
        return EM_OK;
    }
    size_t len = (size_t)1 << t->log_len;
    ff2_t *scratch = malloc(((len + 1) / 2) * sizeof *scratch);
    if (!scratch)
        return em_errf(err, EM_ERR_NOMEM, "lookup: table evaluation");
    for (unsigned c = 0; c < t->n_cols; c++)
        ev[c] = ml_eval_base(t->col[c], len, t->log_len, pt, scratch);
    free(scratch);
    return EM_OK;
}

em_status lu_prove(const lu_table *t, const lu_witness *w, const ff_t *m, tr_t *tr, em_buf *out, lu_claims *claims,
                   em_err *err)
{
    em_status st;
    ff2_t *p = NULL, *q = NULL;
    if ((st = table_check(t, err)) != EM_OK)
        return st;
    if (w->n_cols != t->n_cols || w->log_len > LU_MAX_LOG)
        return em_errf(err, EM_ERR_ARG, "lookup: witness of %u columns / 2^%u rows for a %u-column table", w->n_cols,
                       w->log_len, t->n_cols);
    memset(claims, 0, sizeof *claims);
    claims->log_w = w->log_len;
    claims->log_t = t->log_len;
    claims->n_cols = t->n_cols;
    ff2_t beta = tr_challenge_ff2(tr, "lu/beta");
    ff2_t alpha = tr_challenge_ff2(tr, "lu/alpha");
    unsigned Lmax = w->log_len > t->log_len ? w->log_len : t->log_len;
    p = malloc(((size_t)2 << Lmax) * sizeof *p);
    q = malloc(((size_t)2 << Lmax) * sizeof *q);
    if (!p || !q) {
        st = em_errf(err, EM_ERR_NOMEM, "lookup: tree of 2^%u leaves", Lmax);
        goto out;
    }
    /* Witness tree: 1 / (alpha - f_i). */
    size_t nw = (size_t)1 << w->log_len;
    for (size_t i = 0; i < nw; i++) {
        ff2_t x[LU_MAX_COLS];
        for (unsigned c = 0; c < w->n_cols; c++)
            x[c] = ff2_from_base(w->col[c][i]);
        p[i] = ff2_one();
        q[i] = ff2_sub(alpha, compress(x, w->n_cols, beta));
    }
    frac_out fw, ft;
    if ((st = frac_prove(w->log_len, p, q, tr, out, &fw, err)) != EM_OK)
        goto out;
    /* Table tree: m_j / (alpha - t_j). */
    size_t nt = (size_t)1 << t->log_len;
    for (size_t j = 0; j < nt; j++) {
        ff2_t x[LU_MAX_COLS];
        for (unsigned c = 0; c < t->n_cols; c++)
            x[c] = ff2_from_base(table_at(t, c, j));
        p[j] = ff2_from_base(m[j]);
        q[j] = ff2_sub(alpha, compress(x, t->n_cols, beta));
    }
    if ((st = frac_prove(t->log_len, p, q, tr, out, &ft, err)) != EM_OK)
        goto out;
    /* Witness column evaluations at the witness leaf point (p doubles as scratch). */
    for (unsigned c = 0; c < w->n_cols; c++)
        claims->w_eval[c] = ml_eval_base(w->col[c], nw, w->log_len, fw.point, p);
    tr_absorb_ff2(tr, "lu/wevals", claims->w_eval, w->n_cols);
    if ((st = put_ff2s(out, claims->w_eval, w->n_cols, err)) != EM_OK)
        goto out;
    memcpy(claims->w_point, fw.point, w->log_len * sizeof(ff2_t));
    memcpy(claims->t_point, ft.point, t->log_len * sizeof(ff2_t));
    claims->m_eval = ft.p_eval;
out:
    free(p);
    free(q);
    return st;
}

em_status lu_verify(const lu_table *t, unsigned log_w, tr_t *tr, em_reader *r, lu_claims *claims, em_err *err)
{
    em_status st;
    if ((st = table_check(t, err)) != EM_OK)
        return st;
    if (log_w > LU_MAX_LOG)
        return em_errf(err, EM_ERR_LIMIT, "lookup: witness of 2^%u rows (max 2^%d)", log_w, LU_MAX_LOG);
    memset(claims, 0, sizeof *claims);
    ff2_t beta = tr_challenge_ff2(tr, "lu/beta");
    ff2_t alpha = tr_challenge_ff2(tr, "lu/alpha");
    frac_out fw, ft;
    if ((st = frac_verify(log_w, tr, r, &fw, err)) != EM_OK) {
        em_err_prefix(err, "witness side: "); /* st survives a NULL err */
        return st;
    }
    if ((st = frac_verify(t->log_len, tr, r, &ft, err)) != EM_OK) {
        em_err_prefix(err, "table side: "); /* st survives a NULL err */
        return st;
    }
    ff2_t wev[LU_MAX_COLS];
    if ((st = get_ff2s(r, wev, t->n_cols, err)) != EM_OK)
        return st;
    tr_absorb_ff2(tr, "lu/wevals", wev, t->n_cols);
    if (ff2_is_zero(fw.Q) || ff2_is_zero(ft.Q))
        return em_errf(err, EM_ERR_VERIFY, "lookup: zero denominator at a tree root");
    if (!ff2_eq(ff2_mul(fw.P, ft.Q), ff2_mul(ft.P, fw.Q)))
        return em_errf(err, EM_ERR_VERIFY, "lookup: witness and table fractions differ (a value is not in the table)");
    /* Witness leaves: numerator 1 everywhere, denominator alpha - f. */
    if (!ff2_eq(fw.p_eval, ff2_one()))
        return em_errf(err, EM_ERR_VERIFY, "lookup: witness numerators are not all one");
    if (!ff2_eq(fw.q_eval, ff2_sub(alpha, compress(wev, t->n_cols, beta))))
        return em_errf(err, EM_ERR_VERIFY, "lookup: witness denominators do not match the column evaluations");
    ff2_t tev[LU_MAX_COLS];
    if ((st = table_evals(t, ft.point, tev, err)) != EM_OK)
        return st;
    if (!ff2_eq(ft.q_eval, ff2_sub(alpha, compress(tev, t->n_cols, beta))))
        return em_errf(err, EM_ERR_VERIFY, "lookup: table denominators do not match the table");
    claims->log_w = log_w;
    claims->log_t = t->log_len;
    claims->n_cols = t->n_cols;
    memcpy(claims->w_point, fw.point, log_w * sizeof(ff2_t));
    memcpy(claims->w_eval, wev, t->n_cols * sizeof(ff2_t));
    memcpy(claims->t_point, ft.point, t->log_len * sizeof(ff2_t));
    claims->m_eval = ft.p_eval;
    return EM_OK;
}
