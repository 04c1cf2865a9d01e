/* Column fold: many evaluation claims on one committed polynomial become claims that share one
 * column point, so pcs_open proves all of them with a single combination row (docs/PROOFS.md
 * "Openings").
 *
 * The committed polynomial is a matrix M of R rows of C = 2^lc values (pcs.h: the first lc
 * variables are the column bits). A claim P~(z) = v splits z = (z^c, z^r) and
 *     P~(z) = sum_c eq(z^c, c) f_k(c),   f_k = eq(z^r, .)^T M   (a combination of rows).
 * With random rho, sum_k rho_k v_k = sum_c h(c), h = sum_k rho_k eq(z_k^c, .) f_k. A degree-2
 * sumcheck over the lc column variables reduces this to h(s) at a random s; the prover's folded
 * f_k give v'_k = f_k~(s) = P~(s, z_k^r), which it sends; the verifier checks
 * h(s) = sum_k rho_k eq(z_k^c, s) v'_k, and the claims P~(s, z_k^r) = v'_k go to pcs_open, which
 * opens them with one row because they share s. Soundness: 1/|F| (a false claim survives the
 * random rho-combination) + 2 lc/|F| (sumcheck), then the opening's own bound.
 *
 * Prover cost: one pass over the rows each claim touches (claims on blocks of a packed
 * polynomial touch only their block's rows), then a sumcheck over 2n tables of C entries. The
 * whole-point fold this replaced ran a sumcheck over a table the size of the polynomial in the
 * extension field.
 *
 * Transcript and wire format: absorb "cf/n" (n), "cf/claim" (each point and value), squeeze
 * "cf/rho" (n); per round j < lc the prover sends (h_j(0), h_j(2)) ("cf/round", 2 ff2) and both
 * squeeze "cf/r"; then it sends v'_0..v'_(n-1) ("cf/vals", n ff2). */
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/ff_vec.h"
#include "enclaveml/zkml/ml.h"
#include "zk_internal.h"

enum { CF_COL_CHUNK = 256 }; /* columns per chunk of a row combination */

static void absorb_claims(tr_t *tr, const pcs_claim *c, size_t n, unsigned nv)
{
    tr_absorb_u64(tr, "cf/n", n);
    for (size_t k = 0; k < n; k++) {
        tr_absorb_ff2(tr, "cf/claim", c[k].point, nv);
        tr_absorb_ff2(tr, "cf/claim", &c[k].value, 1);
    }
}

/* The degree-2 polynomial through (0, h0), (1, h1), (2, h2) at r. */
static ff2_t interp2(ff2_t h0, ff2_t h1, ff2_t h2, ff2_t r)
{
    ff_t inv2 = FF_INV2;
    ff2_t r1 = ff2_sub(r, ff2_one()), r2 = ff2_sub(r, ff2_from_base(2));
    ff2_t t0 = ff2_mul_base(ff2_mul(ff2_mul(r1, r2), h0), inv2);
    ff2_t t1 = ff2_neg(ff2_mul(ff2_mul(r, r2), h1));
    ff2_t t2 = ff2_mul_base(ff2_mul(ff2_mul(r, r1), h2), inv2);
    return ff2_add(ff2_add(t0, t1), t2);
}

/* ---- prover ------------------------------------------------------------------------------ */

/* out = a^T M over column chunks: each chunk sums the rows with a non-zero weight in row order,
 * so the result does not depend on the thread count. */
typedef struct comb_ctx {
    const ff_t *m;
    size_t len, C, R;
    const ff2_t *a;
    const uint8_t *zero;
    ff2_t *out;
} comb_ctx;

static void comb_cols(void *vctx, size_t b, size_t e, unsigned slot)
{
    (void)slot;
    comb_ctx *x = vctx;
    ff_t acc_a[CF_COL_CHUNK], acc_b[CF_COL_CHUNK];
    for (size_t c0 = b; c0 < e; c0 += CF_COL_CHUNK) {
        size_t w = e - c0 < CF_COL_CHUNK ? e - c0 : CF_COL_CHUNK;
        memset(acc_a, 0, w * sizeof *acc_a);
        memset(acc_b, 0, w * sizeof *acc_b);
        for (size_t r = 0; r < x->R; r++) {
            if (ff2_is_zero(x->a[r]) || (x->zero && x->zero[r]))
                continue;
            size_t start = r * x->C + c0;
            if (start >= x->len)
                break; /* rows past the stored values are zero */
            size_t n = x->len - start < w ? x->len - start : w;
            ff_vec_axpy(acc_a, x->a[r].a, x->m + start, n);
            ff_vec_axpy(acc_b, x->a[r].b, x->m + start, n);
        }
        for (size_t i = 0; i < w; i++)
            x->out[c0 + i] = (ff2_t){acc_a[i], acc_b[i]};
    }
}

void zk__combine_rows(const ff_t *m, size_t len, size_t C, size_t R, const ff2_t *weight, const uint8_t *zero,
                      unsigned threads, ff2_t *out)
{
    comb_ctx x = {.m = m, .len = len, .C = C, .R = R, .a = weight, .zero = zero, .out = out};
    zk__par_for(threads, C, 4 * CF_COL_CHUNK, comb_cols, &x);
}

/* res[k] = (s, row part of c[k]) = vals[k], the points written to pts (pts[0..lc) already
 * holds s). */
static void set_results(const pcs_claim *c, size_t n, unsigned nv, unsigned lc, const ff2_t *vals, ff2_t *pts,
                        pcs_claim *res)
{
    for (size_t k = 0; k < n; k++) {
        ff2_t *p = pts + k * nv;
        if (k)
            memcpy(p, pts, lc * sizeof *p);
        memcpy(p + lc, c[k].point + lc, (nv - lc) * sizeof *p);
        res[k] = (pcs_claim){.poly = 0, .point = p, .value = vals[k]};
    }
}

/* Adds (h(0), h(2)) of sum_i E(X, i) F(X, i) over the pairs of E, F (interleaved: pair i is
 * entries 2i, 2i + 1), block by block on the ff2_vec kernels. */
enum { CF_BLK = 128 };
static void round_sums(const ff2_t *E, const ff2_t *F, size_t pairs, ff2_t h[2])
{
    ff2_t e[2][CF_BLK], f[2][CF_BLK];
    for (size_t i0 = 0; i0 < pairs; i0 += CF_BLK) {
        size_t nb = pairs - i0 < CF_BLK ? pairs - i0 : CF_BLK;
        for (size_t i = 0; i < nb; i++) {
            e[0][i] = E[2 * (i0 + i)];
            e[1][i] = E[2 * (i0 + i) + 1];
            f[0][i] = F[2 * (i0 + i)];
            f[1][i] = F[2 * (i0 + i) + 1];
        }
        h[0] = ff2_add(h[0], ff2_vec_dot(e[0], f[0], nb));
        /* value at 2: 2 hi - lo, coordinatewise */
        ff_vec_add((ff_t *)e[1], (const ff_t *)e[1], (const ff_t *)e[1], 2 * nb);
        ff_vec_sub((ff_t *)e[1], (const ff_t *)e[1], (const ff_t *)e[0], 2 * nb);
        ff_vec_add((ff_t *)f[1], (const ff_t *)f[1], (const ff_t *)f[1], 2 * nb);
        ff_vec_sub((ff_t *)f[1], (const ff_t *)f[1], (const ff_t *)f[0], 2 * nb);
        h[1] = ff2_add(h[1], ff2_vec_dot(e[1], f[1], nb));
    }
}

void zk__combine_rows_i32(const int32_t *ipoly, size_t len, size_t C, size_t R, const ff2_t *a, unsigned threads,
                          ff2_t *out)
{
    size_t r0 = 0, r1 = R;
    while (r0 < R && ff2_is_zero(a[r0]))
        r0++;
    while (r1 > r0 && ff2_is_zero(a[r1 - 1]))
        r1--;
    size_t full = len / C < r1 ? len / C : r1;
    if (r0 < full)
        zk__fold_rows_i32_mt(ipoly + r0 * C, full - r0, C, C, a + r0, out, C, threads);
    else
        memset(out, 0, C * sizeof *out);
    for (size_t r = r0 > full ? r0 : full; r < r1 && r * C < len; r++)
        for (size_t c = 0; c < C && r * C + c < len; c++)
            out[c] = ff2_add(out[c], ff2_mul_base(a[r], ff_from_i64(ipoly[r * C + c])));
}

/* Per claim (chunks of claims on the threads): the column eq table E_k and E_k . F_k; then
 * per round, the binding of the previous challenge and the round's sums. */
typedef struct cf_ctx {
    const pcs_claim *c;
    const ff2_t *rho;
    ff2_t *E, *F;
    size_t C, size; /* table stride; entries per table this round */
    unsigned lc;
    int bound, last; /* bound: r binds the tables first (2 size -> size); last: no sums */
    ff2_t r;
    ff2_t part[ZK_MAX_THREADS][2];
} cf_ctx;

static void cf_setup(void *vctx, size_t b, size_t e, unsigned tid)
{
    cf_ctx *x = vctx;
    ff2_t t = ff2_zero();
    for (size_t k = b; k < e; k++) {
        ml_eq_table(x->c[k].point, x->lc, x->rho[k], x->E + k * x->C);
        t = ff2_add(t, ff2_vec_dot(x->E + k * x->C, x->F + k * x->C, x->C));
    }
    x->part[tid][0] = t;
}

static void cf_round(void *vctx, size_t b, size_t e, unsigned tid)
{
    cf_ctx *x = vctx;
    ff2_t h[2] = {ff2_zero(), ff2_zero()};
    for (size_t k = b; k < e; k++) {
        ff2_t *Ek = x->E + k * x->C, *Fk = x->F + k * x->C;
        if (x->bound) {
            ff2_vec_fold(Ek, Ek, x->size, x->r);
            ff2_vec_fold(Fk, Fk, x->size, x->r);
        }
        if (!x->last)
            round_sums(Ek, Fk, x->size / 2, h);
    }
    x->part[tid][0] = h[0];
    x->part[tid][1] = h[1];
}

em_status zk__colfold_prove(const pcs_layout *l, const ff_t *poly, const int32_t *ipoly, size_t len,
                            const pcs_claim *c, size_t n,
                            unsigned threads, int forge, tr_t *tr, em_buf *out, ff2_t *pts, pcs_claim *res,
                            em_err *err)
{
    unsigned nv = l->n_vars[0], lc = l->log_cols, nr = nv - lc;
    size_t C = (size_t)1 << lc, R = l->rows[0], NR = (size_t)1 << nr;
    if (l->n_polys != 1 || l->hiding || n == 0 || len > R * C)
        return em_errf(err, EM_ERR_INTERNAL, "column fold: unsupported layout or %zu claims", n);
    em_status st = EM_OK;
    ff2_t *rho = malloc(n * sizeof *rho), *vals = malloc(n * sizeof *vals), *a = malloc(NR * sizeof *a);
    ff2_t *E = zk__big_alloc(n * C * sizeof *E), *F = zk__big_alloc(n * C * sizeof *F);
    if (!rho || !vals || !a || !E || !F) {
        st = em_errf(err, EM_ERR_NOMEM, "column fold: out of memory (%zu claims)", n);
        goto out;
    }
    absorb_claims(tr, c, n, nv);
    tr_challenge_ff2_vec(tr, "cf/rho", rho, n);
    ff2_t claim = ff2_zero(), total = ff2_zero();
    /* E_k = rho_k eq(z_k^c, .), F_k = eq(z_k^r, .)^T M: h = sum_k E_k F_k. The row combinations
     * use the threads themselves; the eq tables and the rounds split the claims over them. */
    for (size_t k = 0; k < n; k++) {
        claim = ff2_add(claim, ff2_mul(rho[k], c[k].value));
        ml_eq_table(c[k].point + lc, nr, ff2_one(), a);
        if (!poly)
            zk__combine_rows_i32(ipoly, len, C, R, a, threads, F + k * C);
        else
            zk__combine_rows(poly, len, C, R, a, NULL, threads, F + k * C);
    }
    cf_ctx x = {.c = c, .rho = rho, .E = E, .F = F, .C = C, .lc = lc};
    /* claims per chunk: enough table entries to pay for a thread (small proofs stay inline) */
    size_t per = (size_t)1 << 14;
    for (unsigned t = 0, nc = zk__par_for(threads, n, per / C + 1, cf_setup, &x); t < nc; t++)
        total = ff2_add(total, x.part[t][0]);
    if (!ff2_eq(total, claim) && !forge) {
        st = em_errf(err, EM_ERR_INTERNAL, "witness opening: a claimed evaluation is false");
        goto out;
    }
    /* under the test hook a false claim is proven anyway: the rounds are honest, so the
     * verifier's final check fails */
    zk_wr wr = {.tr = tr, .buf = out, .threads = threads, .forge = forge};
    ff2_t *s = pts; /* the column point, copied into every claim below */
    for (unsigned j = 0; j <= lc; j++) {
        /* binds round j-1's challenge, then sums round j (none after the last binding) */
        x.size = C >> j;
        x.last = j == lc;
        unsigned nc = zk__par_for(threads, n, per / x.size + 1, cf_round, &x);
        if (x.last)
            break;
        ff2_t h[2] = {ff2_zero(), ff2_zero()};
        for (unsigned t = 0; t < nc; t++) {
            h[0] = ff2_add(h[0], x.part[t][0]);
            h[1] = ff2_add(h[1], x.part[t][1]);
        }
        if ((st = zk__put_ff2(&wr, "cf/round", h, 2, err)) != EM_OK)
            goto out;
        x.r = tr_challenge_ff2(tr, "cf/r");
        x.bound = 1;
        s[j] = x.r;
    }
    for (size_t k = 0; k < n; k++)
        vals[k] = F[k * C]; /* F_k~(s) = P~(s, z_k^r) */
    if ((st = zk__put_ff2(&wr, "cf/vals", vals, n, err)) != EM_OK)
        goto out;
    set_results(c, n, nv, lc, vals, pts, res);
out:
    free(rho);
    free(vals);
    free(a);
    zk__big_free(E);
    zk__big_free(F);
    return st;
}

/* ---- verifier ------------------------------------------------------------------------------ */

em_status zk__colfold_verify(const pcs_layout *l, const pcs_claim *c, size_t n, tr_t *tr, em_reader *rd,
                             ff2_t *pts, pcs_claim *res, em_err *err)
{
    unsigned nv = l->n_vars[0], lc = l->log_cols;
    if (l->n_polys != 1 || l->hiding || n == 0)
        return em_errf(err, EM_ERR_INTERNAL, "column fold: unsupported layout or %zu claims", n);
    em_status st = EM_OK;
    ff2_t *rho = malloc(n * sizeof *rho), *vals = malloc(n * sizeof *vals);
    if (!rho || !vals) {
        st = em_errf(err, EM_ERR_NOMEM, "column fold: out of memory");
        goto out;
    }
    absorb_claims(tr, c, n, nv);
    tr_challenge_ff2_vec(tr, "cf/rho", rho, n);
    ff2_t claim = ff2_zero();
    for (size_t k = 0; k < n; k++)
        claim = ff2_add(claim, ff2_mul(rho[k], c[k].value));
    zk_rd r = {.tr = tr, .rd = rd};
    ff2_t *s = pts;
    for (unsigned j = 0; j < lc; j++) {
        ff2_t h[2];
        if ((st = zk__get_ff2(&r, "cf/round", h, 2, err)) != EM_OK)
            goto out;
        s[j] = tr_challenge_ff2(tr, "cf/r");
        claim = interp2(h[0], ff2_sub(claim, h[0]), h[1], s[j]);
    }
    if ((st = zk__get_ff2(&r, "cf/vals", vals, n, err)) != EM_OK)
        goto out;
    ff2_t expect = ff2_zero();
    for (size_t k = 0; k < n; k++)
        expect = ff2_add(expect, ff2_mul(ff2_mul(rho[k], ml_eq_eval(c[k].point, s, lc)), vals[k]));
    if (!ff2_eq(expect, claim)) {
        st = em_errf(err, EM_ERR_VERIFY, "witness opening: the column fold does not match the claimed evaluations");
        goto out;
    }
    set_results(c, n, nv, lc, vals, pts, res);
out:
    free(rho);
    free(vals);
    return st;
}
