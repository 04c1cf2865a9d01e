/* Lookup argument: logUp with a GKR fractional-sumcheck tree (logUp-GKR, no inverses are
 * committed).
 *
 * Statement: every witness tuple (w_0[i], ..., w_{k-1}[i]), i < 2^log_w, is a row of the public
 * table (t_0[j], ..., t_{k-1}[j]), j < 2^log_t, with multiplicities m[j] (committed by the
 * prover BEFORE lu_prove is called, like the witness columns). With challenges beta, alpha
 * (ff2, squeezed here) and f = sum_c beta^c w_c, t = sum_c beta^c t_c:
 *
 *     sum_i 1 / (alpha - f_i)  =  sum_j m_j / (alpha - t_j).
 *
 * Each side is a binary tree of fractions proved layer by layer (one degree-3 sumcheck per
 * layer, sumcheck.h); the verifier checks P_w * Q_t == P_t * Q_w with Q_w, Q_t != 0 at the
 * roots. At the leaves it is left with claims on the committed polynomials which THE CALLER
 * must open (pcs.h): each witness column w_c at w_point, and m at t_point. The table side is
 * evaluated by the verifier itself (explicit columns in O(2^log_t), range tables in O(log_t)).
 *
 * Sizes are powers of two: pad the witness with a tuple that is in the table (and count it in
 * m); pad the table by repeating a row (multiplicity 0).
 *
 * Transcript: squeeze "lu/beta", "lu/alpha"; then for each tree (witness, then table) absorb the
 * two top-layer fractions "lu/top" and the layer sumchecks (challenges "lu/lambda", "lu/mu");
 * finally absorb the witness column evaluations "lu/wevals".
 * Soundness: (2^log_w + 2^log_t) / |F_p^2| for the rational identity plus the sumcheck terms,
 * ~2^-100 or better for tables/witnesses up to 2^28.
 *
 * Range checks: v in [0, 2^k) is a lookup of the 1-column witness v into lu_table_range(k).
 * v in [lo, hi] (hi - lo < 2^k) is two such lookups on v - lo and hi - v (the caller commits
 * those shifted columns, or checks them via their linear relation to v). */
#ifndef ENCLAVEML_ZKML_LOOKUP_H
#define ENCLAVEML_ZKML_LOOKUP_H

#include <stddef.h>
#include <stdint.h>

#include "enclaveml/core.h"
#include "enclaveml/zkml/ff.h"
#include "enclaveml/zkml/transcript.h"

#define LU_MAX_COLS 4
#define LU_MAX_LOG 28

typedef struct lu_table {
    unsigned n_cols;              /* 1..LU_MAX_COLS */
    unsigned log_len;             /* table has 2^log_len rows */
    int is_range;                 /* 1: the single column t_0[j] = j (col[] unused) */
    const ff_t *col[LU_MAX_COLS]; /* explicit columns, 2^log_len entries each (borrowed) */
} lu_table;

/* The range table [0, 2^k): one column, t_0[j] = j. */
lu_table lu_table_range(unsigned k);

typedef struct lu_witness {
    unsigned n_cols;              /* must equal the table's */
    unsigned log_len;
    const ff_t *col[LU_MAX_COLS]; /* 2^log_len entries each (borrowed) */
} lu_witness;

/* What the verifier (and the prover) end with: claims the caller must check via commitments. */
typedef struct lu_claims {
    unsigned log_w, log_t, n_cols;
    ff2_t w_point[LU_MAX_LOG];
    ff2_t w_eval[LU_MAX_COLS]; /* w_c~(w_point) */
    ff2_t t_point[LU_MAX_LOG];
    ff2_t m_eval;              /* m~(t_point) */
} lu_claims;

/* m[j] = number of i with idx[i] == j (m has table_len entries). EM_ERR_RANGE when an index is
 * out of the table. */
em_status lu_multiplicities(const uint32_t *idx, size_t n, size_t table_len, ff_t *m,
                            em_err *err) EM_WARN_UNUSED;

/* Appends the proof to out and fills claims. The prover does not check membership: a witness
 * not in the table gives a proof that fails verification. */
em_status lu_prove(const lu_table *t, const lu_witness *w, const ff_t *m, tr_t *tr, em_buf *out,
                   lu_claims *claims, em_err *err) EM_WARN_UNUSED;

/* Reads exactly one proof from r and verifies it for a witness of 2^log_w rows of t->n_cols
 * columns; on EM_OK fills claims (still to be checked by the caller). */
em_status lu_verify(const lu_table *t, unsigned log_w, tr_t *tr, em_reader *r, lu_claims *claims,
                    em_err *err) EM_WARN_UNUSED;

#endif
