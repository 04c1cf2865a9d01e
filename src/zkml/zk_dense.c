/* Dense layer: Thaler's matmul sumcheck, specialised to integer matrices.
 *
 * Claim: S = sum_k A~(rho_b, k) * W~(rho_j, k). The prover folds the integer matrices with eq
 * tables (A row-fold over the batch, W row-fold over the outputs; O(B*n + m*n) work, exact
 * 128-bit integer accumulation, one reduction per column), then runs a degree-2 sumcheck over
 * the n_in variables. Messages per round: g(0) and g(2) (g(1) = claim - g(0)). */
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/ml.h"
#include "zk_internal.h"

/* Signed 128-bit accumulator -> field element. */
static ff_t red_i128(__int128 v)
{
    unsigned __int128 mag = v < 0 ? (unsigned __int128)(-v) : (unsigned __int128)v;
    ff_t r = ff_reduce128(mag);
    return v < 0 ? ff_neg(r) : r;
}

/* out[k] = sum_{j<rows} eq[j] * m[j*ld + k] for k < cols; out[cols..pad) = 0. The eq values are
 * split into base coordinates and multiplied by the small integers without reduction: every
 * product is < 2^96 in magnitude and at most 2^24 rows are summed, so __int128 never overflows.
 * Accumulators are processed in column strips that stay in L1. */
#define ZK_STRIP 512
void zk__fold_rows_i32(const int32_t *m, size_t rows, size_t cols, size_t ld, const ff2_t *eq,
                       ff2_t *out, size_t pad)
{
    __int128 acc_a[ZK_STRIP], acc_b[ZK_STRIP];
    for (size_t c0 = 0; c0 < cols; c0 += ZK_STRIP) {
        size_t w = cols - c0 < ZK_STRIP ? cols - c0 : ZK_STRIP;
        memset(acc_a, 0, sizeof acc_a);
        memset(acc_b, 0, sizeof acc_b);
        for (size_t j = 0; j < rows; j++) {
            const int32_t *row = m + j * ld + c0;
            uint64_t ea = eq[j].a, eb = eq[j].b;
            if ((ea | eb) == 0)
                continue;
            if (eb == 0) {
                for (size_t k = 0; k < w; k++)
                    acc_a[k] += (__int128)ea * row[k];
            } else {
                for (size_t k = 0; k < w; k++) {
                    acc_a[k] += (__int128)ea * row[k];
                    acc_b[k] += (__int128)eb * row[k];
                }
            }
        }
        for (size_t k = 0; k < w; k++)
            out[c0 + k] = (ff2_t){red_i128(acc_a[k]), red_i128(acc_b[k])};
    }
    for (size_t k = cols; k < pad; k++)
        out[k] = ff2_zero();
}

ff2_t zk__dot_i64(const int64_t *v, size_t n, const ff2_t *eq)
{
    ff2_t s = ff2_zero();
    for (size_t i = 0; i < n; i++)
        if (v[i])
            s = ff2_add(s, ff2_mul_base(eq[i], ff_from_i64(v[i])));
    return s;
}

ff2_t zk__dot_ff2(const ff2_t *a, const ff2_t *b, size_t n)
{
    ff2_t s = ff2_zero();
    for (size_t i = 0; i < n; i++)
        s = ff2_add(s, ff2_mul(a[i], b[i]));
    return s;
}

em_status zk__mle_i32(const int32_t *m, size_t rows, size_t cols, unsigned lv_rows, unsigned lv_cols,
                      const ff2_t *point, ff2_t *out, em_err *err)
{
    /* point = (column variables, row variables) */
    size_t nr = (size_t)1 << lv_rows, nc = (size_t)1 << lv_cols;
    ff2_t *eqr = malloc(nr * sizeof *eqr), *eqc = malloc(nc * sizeof *eqc), *fold = malloc(nc * sizeof *fold);
    em_status st = EM_OK;
    if (!eqr || !eqc || !fold) {
        st = em_errf(err, EM_ERR_NOMEM, "evaluating a %zux%zu tensor: out of memory", rows, cols);
        goto out;
    }
    ml_eq_table(point + lv_cols, lv_rows, ff2_one(), eqr);
    ml_eq_table(point, lv_cols, ff2_one(), eqc);
    zk__fold_rows_i32(m, rows, cols, cols, eqr, fold, nc);
    *out = zk__dot_ff2(fold, eqc, nc);
out:
    free(eqr);
    free(eqc);
    free(fold);
    return st;
}

/* ---- the sumcheck ------------------------------------------------------------------------- */

static ff2_t interp2(ff2_t g0, ff2_t g1, ff2_t g2, ff2_t c)
{
    /* Lagrange on {0,1,2}: g(c) = g0 (c-1)(c-2)/2 - g1 c(c-2) + g2 c(c-1)/2 */
    ff2_t one = ff2_one(), two = ff2_from_base(2);
    ff2_t cm1 = ff2_sub(c, one), cm2 = ff2_sub(c, two);
    ff_t inv2 = 0x7FFFFFFF80000001ULL; /* (p+1)/2 */
    ff2_t t0 = ff2_mul_base(ff2_mul(cm1, cm2), inv2);
    ff2_t t1 = ff2_mul(c, cm2);
    ff2_t t2 = ff2_mul_base(ff2_mul(c, cm1), inv2);
    return ff2_add(ff2_sub(ff2_mul(g0, t0), ff2_mul(g1, t1)), ff2_mul(g2, t2));
}

em_status zk__matmul_prove(zk_wr *w, ff2_t *a, ff2_t *b, unsigned nv, ff2_t claim, ff2_t *point,
                           ff2_t *a_eval, ff2_t *b_eval, em_err *err)
{
    size_t n = (size_t)1 << nv;
    for (unsigned t = 0; t < nv; t++) {
        size_t h = n >> 1;
        ff2_t g0 = ff2_zero(), g2 = ff2_zero();
        for (size_t i = 0; i < h; i++) {
            ff2_t a0 = a[2 * i], a1 = a[2 * i + 1], b0 = b[2 * i], b1 = b[2 * i + 1];
            g0 = ff2_add(g0, ff2_mul(a0, b0));
            ff2_t a2 = ff2_sub(ff2_add(a1, a1), a0), b2 = ff2_sub(ff2_add(b1, b1), b0);
            g2 = ff2_add(g2, ff2_mul(a2, b2));
        }
        ff2_t msg[2] = {g0, g2};
        em_status st = zk__put_ff2(w, "mm-round", msg, 2, err);
        if (st != EM_OK)
            return st;
        ff2_t c = tr_challenge_ff2(w->tr, "mm-chal");
        point[t] = c;
        ff2_t g1 = ff2_sub(claim, g0);
        claim = interp2(g0, g1, g2, c);
        for (size_t i = 0; i < h; i++) {
            a[i] = ff2_add(a[2 * i], ff2_mul(c, ff2_sub(a[2 * i + 1], a[2 * i])));
            b[i] = ff2_add(b[2 * i], ff2_mul(c, ff2_sub(b[2 * i + 1], b[2 * i])));
        }
        n = h;
    }
    *a_eval = a[0];
    *b_eval = b[0];
    ff2_t ev[2] = {a[0], b[0]};
    return zk__put_ff2(w, "mm-final", ev, 2, err);
}

em_status zk__matmul_verify(zk_rd *r, unsigned nv, ff2_t claim, ff2_t *point, ff2_t *a_eval,
                            ff2_t *b_eval, em_err *err)
{
    for (unsigned t = 0; t < nv; t++) {
        ff2_t msg[2];
        em_status st = zk__get_ff2(r, "mm-round", msg, 2, err);
        if (st != EM_OK)
            return st;
        ff2_t c = tr_challenge_ff2(r->tr, "mm-chal");
        point[t] = c;
        ff2_t g1 = ff2_sub(claim, msg[0]);
        claim = interp2(msg[0], g1, msg[1], c);
    }
    ff2_t ev[2];
    em_status st = zk__get_ff2(r, "mm-final", ev, 2, err);
    if (st != EM_OK)
        return st;
    if (!ff2_eq(ff2_mul(ev[0], ev[1]), claim))
        return em_errf(err, EM_ERR_VERIFY, "matmul sumcheck: final evaluation does not match");
    *a_eval = ev[0];
    *b_eval = ev[1];
    return EM_OK;
}
