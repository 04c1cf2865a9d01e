/* Dense layer: Thaler's matmul sumcheck, specialised to integer matrices.
 *
 * Claim: S = sum_k A~(rho_b, k) * W~(rho_j, k). The prover folds the integer matrices with eq
 * tables (A row-fold over the batch, W row-fold over the outputs; O(B*n + m*n) work, exact
 * 128-bit integer accumulation, one reduction per column), then runs the degree-2 sumcheck of
 * sumcheck.h over the n_in variables (its product-of-two-tables path). */
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/ml.h"
#include "enclaveml/zkml/sumcheck.h"
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

/* Row ranges on several threads: each chunk folds its rows into its own slot, and the slots are
 * added in chunk order (exact field arithmetic: the same values whatever the thread count). */
typedef struct fold_ctx {
    const int32_t *m;
    size_t cols, ld;
    const ff2_t *eq;
    ff2_t *part; /* chunk t: cols entries at part + t * cols */
} fold_ctx;

static void fold_chunk(void *vctx, size_t b, size_t e, unsigned tid)
{
    fold_ctx *x = vctx;
    zk__fold_rows_i32(x->m + b * x->ld, e - b, x->cols, x->ld, x->eq + b, x->part + tid * x->cols, x->cols);
}

void zk__fold_rows_i32_mt(const int32_t *m, size_t rows, size_t cols, size_t ld, const ff2_t *eq, ff2_t *out,
                          size_t pad, unsigned threads)
{
    size_t min_rows = cols >= 65536 ? 1 : 65536 / (cols ? cols : 1);
    fold_ctx x = {.m = m, .cols = cols, .ld = ld, .eq = eq};
    if (threads > 1 && rows >= 2 * min_rows)
        x.part = malloc(ZK_PAR_CHUNKS * (cols ? cols : 1) * sizeof *x.part);
    if (!x.part) { /* one thread, or no memory for the slots */
        zk__fold_rows_i32(m, rows, cols, ld, eq, out, pad);
        return;
    }
    unsigned nc = zk__par_for(threads, rows, min_rows, fold_chunk, &x);
    for (size_t k = 0; k < cols; k++) {
        ff2_t s = x.part[k];
        for (unsigned t = 1; t < nc; t++)
            s = ff2_add(s, x.part[t * cols + k]);
        out[k] = s;
    }
    for (size_t k = cols; k < pad; k++)
        out[k] = ff2_zero();
    free(x.part);
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
        s = ff2_add(s, zk__mul2(a[i], b[i]));
    return s;
}

em_status zk__mle_i32(const int32_t *m, size_t rows, size_t cols, unsigned lv_rows, unsigned lv_cols,
                      const ff2_t *point, ff2_t *out, em_err *err)
{
    return zk__mle_i32_mt(m, rows, cols, lv_rows, lv_cols, point, 1, out, err);
}

em_status zk__mle_i32_mt(const int32_t *m, size_t rows, size_t cols, unsigned lv_rows, unsigned lv_cols,
                         const ff2_t *point, unsigned threads, ff2_t *out, em_err *err)
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
    zk__fold_rows_i32_mt(m, rows, cols, cols, eqr, fold, nc, threads);
    *out = zk__dot_ff2(fold, eqc, nc);
out:
    free(eqr);
    free(eqc);
    free(fold);
    return st;
}

/* ---- the sumcheck (sumcheck.h, product-of-two-tables shape) ------------------------------- */

em_status zk__matmul_prove(zk_wr *w, ff2_t *a, ff2_t *b, unsigned nv, ff2_t claim, ff2_t *point, ff2_t *a_eval,
                           ff2_t *b_eval, em_err *err)
{
    sc_shape sh;
    sc_shape_product2(&sh, nv);
    sc_tables t;
    memset(&t, 0, sizeof t);
    t.ext[0] = a;
    t.ext[1] = b;
    sc_proof pf;
    em_status st = sc_prove(&sh, &t, claim, w->tr, NULL, &pf, point, err);
    /* sc_prove reports a false claim only after it has written the whole proof and absorbed it
     * (sumcheck.c), so under the test hook the forged proof is sent on to the verifier. */
    if (st == EM_ERR_ARG && w->forge)
        st = EM_OK;
    if (st != EM_OK)
        return st;
    if ((st = sc_proof_write(&pf, w->buf, err)) != EM_OK)
        return st;
    *a_eval = pf.final_eval[0];
    *b_eval = pf.final_eval[1];
    return EM_OK;
}

em_status zk__matmul_verify(zk_rd *r, unsigned nv, ff2_t claim, ff2_t *point, ff2_t *a_eval, ff2_t *b_eval,
                            em_err *err)
{
    sc_shape sh;
    sc_shape_product2(&sh, nv);
    sc_proof pf;
    ff2_t ev[SC_MAX_TABLES];
    em_status st = sc_proof_read(&sh, r->rd, &pf, err);
    if (st != EM_OK)
        return st;
    if ((st = sc_verify(&sh, claim, &pf, r->tr, point, ev, err)) != EM_OK)
        return em_err_prefix(err, "matmul sumcheck: ");
    *a_eval = ev[0];
    *b_eval = ev[1];
    return EM_OK;
}
