/* Multilinear polynomials given by their evaluations on the Boolean hypercube.
 *
 * Index convention (used by sumcheck.h, pcs.h and lookup.h too): a table T of 2^n entries is
 * the multilinear T~(x_0, ..., x_{n-1}) with T~(bits of i) = T[i], where x_j is BIT j of the
 * index i (x_0 = least significant). A point r is an array r[0..n) with r[j] the value of x_j.
 * So for a row-major R x C matrix M (C = 2^c) stored as T[row*C + col], the first c variables
 * are the column bits and the last ones the row bits: M~(r_col || r_row).
 *
 * Folding ("fixing the first variable") binds x_0: T'[i] = T[2i] + r*(T[2i+1] - T[2i]); it is
 * the step of the sumcheck prover and runs in place on one contiguous stream.
 *
 * Every function here is O(table size), allocation-free, and works on caller-owned memory
 * (scratch sizes are stated per function). Tables shorter than 2^n are allowed where a `len`
 * argument is taken: the missing entries [len, 2^n) are zero. Points are always ff2_t. */
#ifndef ENCLAVEML_ZKML_ML_H
#define ENCLAVEML_ZKML_ML_H

#include <stddef.h>
#include <stdint.h>

#include "enclaveml/zkml/ff.h"

#define ML_MAX_VARS 40

/* out[i] = scale * eq(r, i) = scale * prod_j (r_j if bit j of i else 1 - r_j), i < 2^n.
 * out holds 2^n elements. n = 0 gives out[0] = scale. */
void ml_eq_table(const ff2_t *r, unsigned n, ff2_t scale, ff2_t *out);
/* eq(r, s) = prod_j (r_j s_j + (1 - r_j)(1 - s_j)) for two points of n coordinates. */
ff2_t ml_eq_eval(const ff2_t *r, const ff2_t *s, unsigned n);

/* T~(r) for a table of len <= 2^n entries (zero beyond len). scratch: (len + 1) / 2 elements
 * (may be NULL when len <= 1). */
ff2_t ml_eval_base(const ff_t *t, size_t len, unsigned n, const ff2_t *r, ff2_t *scratch);
ff2_t ml_eval_ext(const ff2_t *t, size_t len, unsigned n, const ff2_t *r, ff2_t *scratch);
/* The same, destroying t (used as the scratch). */
ff2_t ml_eval_ext_inplace(ff2_t *t, size_t len, unsigned n, const ff2_t *r);
/* sum_i eq[i] * t[i] over len entries (evaluation against a precomputed eq table). */
ff2_t ml_dot_base(const ff_t *t, const ff2_t *eq, size_t len);
ff2_t ml_dot_ext(const ff2_t *t, const ff2_t *eq, size_t len);

/* Bind x_0 := r. A table of len entries becomes (len + 1) / 2 entries (odd len: the missing
 * partner is zero). Returns the new length. _base writes the first fold of a base table into
 * an extension table out (out may not alias t); _ext works in place. */
size_t ml_fold_base(const ff_t *t, size_t len, ff2_t r, ff2_t *out);
size_t ml_fold_ext(ff2_t *t, size_t len, ff2_t r);

/* Tensor helpers for a row-major matrix T[h * 2^n_low + l] (2^n_high rows of 2^n_low):
 *   fix_high: out[l] = sum_h eq_high[h] * T[h*2^n_low + l]   (binds the high/row variables;
 *             out has 2^n_low entries) -- e.g. A~(r_b, .) for the matmul sumcheck, and the
 *             combined row u = eq_row^T M of the polynomial commitment.
 *   fix_low:  out[h] = sum_l eq_low[l] * T[h*2^n_low + l]    (out has 2^n_high entries)
 * eq_* are tables from ml_eq_table (or any weights). Rows at index >= n_rows are zero (pass
 * n_rows = 2^n_high for a full matrix). */
void ml_fix_high_base(const ff_t *t, unsigned n_low, size_t n_rows, const ff2_t *eq_high,
                      ff2_t *out);
void ml_fix_high_ext(const ff2_t *t, unsigned n_low, size_t n_rows, const ff2_t *eq_high,
                     ff2_t *out);
void ml_fix_low_base(const ff_t *t, unsigned n_low, size_t n_rows, const ff2_t *eq_low, ff2_t *out);

/* Evaluation of the multilinear extension of the "prefix indicator" 1[i < len] over n
 * variables at r (O(n)); used for padded tables whose padding is known to the verifier. */
ff2_t ml_prefix_indicator_eval(size_t len, unsigned n, const ff2_t *r);
/* Evaluation at r of the identity table T[i] = i over n variables: sum_j 2^j r_j (O(n)). */
ff2_t ml_identity_eval(unsigned n, const ff2_t *r);

#endif
