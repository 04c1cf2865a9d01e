/* Sumcheck for sums of products of multilinear tables:
 *
 *     claim = sum_{x in {0,1}^n} sum_t c_t * prod_{i < k_t} P_{f(t,i)}(x),   k_t <= SC_MAX_DEGREE
 *
 * Tables follow the index convention of ml.h (x_0 = bit 0 of the index, bound first). All
 * challenges are ff2_t. Round j sends the round polynomial g_j (degree d = max k_t) as its
 * evaluations at 0, 2, 3, ..., d (d values); g_j(1) is derived by the verifier as
 * claim_j - g_j(0). After the last round the prover sends the evaluations of every table at the
 * final point; the verifier checks sum_t c_t prod_i evals[f(t,i)] == g_{n-1}(r_{n-1}) and hands
 * the point and the (claimed) evaluations back: THE CALLER must check those evaluations against
 * commitments, public data or further claims -- the sumcheck alone proves nothing about them.
 *
 * Transcript (both sides, in this order): absorb "sc/shape" (n_vars, degree, n_tables, terms),
 * "sc/claim"; per round absorb "sc/round" (the d values) then squeeze "sc/r"; finally absorb
 * "sc/final" (the n_tables evaluations). The caller must already have bound everything the
 * tables depend on (commitment roots, earlier challenges).
 *
 * Soundness: n_vars * d / |F_p^2| ~ n_vars * d * 2^-128.
 *
 * Memory: an sc_proof is a fixed-size value (no heap). The prover needs n_tables * 2^(n-1) ff2
 * scratch elements (sc_prove_scratch_len); pass NULL to let sc_prove allocate it once. */
#ifndef ENCLAVEML_ZKML_SUMCHECK_H
#define ENCLAVEML_ZKML_SUMCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "enclaveml/core.h"
#include "enclaveml/zkml/ff.h"
#include "enclaveml/zkml/transcript.h"

#define SC_MAX_DEGREE 4
#define SC_MAX_TABLES 16
#define SC_MAX_TERMS 16
#define SC_MAX_VARS 40

typedef struct sc_term {
    ff2_t coeff;
    unsigned n_factors;               /* 1..SC_MAX_DEGREE */
    unsigned factor[SC_MAX_DEGREE];   /* indices into the table list */
} sc_term;

/* What prover and verifier both know. */
typedef struct sc_shape {
    unsigned n_vars;   /* 0..SC_MAX_VARS */
    unsigned n_tables; /* 1..SC_MAX_TABLES */
    unsigned n_terms;  /* 1..SC_MAX_TERMS */
    sc_term term[SC_MAX_TERMS];
} sc_shape;

/* The prover's tables: for each table exactly one of base[i] / ext[i] is non-NULL; each has
 * 2^n_vars entries. Borrowed, never modified. */
typedef struct sc_tables {
    const ff_t *base[SC_MAX_TABLES];
    const ff2_t *ext[SC_MAX_TABLES];
} sc_tables;

typedef struct sc_proof {
    unsigned n_vars, degree, n_tables;
    ff2_t round[SC_MAX_VARS][SC_MAX_DEGREE]; /* g_j(0), g_j(2), ..., g_j(d) */
    ff2_t final_eval[SC_MAX_TABLES];
} sc_proof;

/* Checks a shape (bounds, factor indices); EM_ERR_ARG naming the problem. */
em_status sc_shape_check(const sc_shape *s, em_err *err) EM_WARN_UNUSED;
/* max_t n_factors. */
unsigned sc_shape_degree(const sc_shape *s);
/* Convenience: the shape of sum_x A(x)*B(x) (tables 0 and 1, coefficient 1). */
void sc_shape_product2(sc_shape *s, unsigned n_vars);

size_t sc_prove_scratch_len(const sc_shape *s);

/* Honest sum of the instance (O(2^n * terms)); handy for callers and tests. */
ff2_t sc_sum(const sc_shape *s, const sc_tables *t);

/* Runs the prover. claim must be the true sum (it is absorbed, not recomputed). Writes the
 * proof, the final point (n_vars challenges) and leaves the final table evaluations in
 * proof->final_eval. scratch: sc_prove_scratch_len(s) elements or NULL. Uses a specialised
 * loop when the shape is one product of two tables. */
em_status sc_prove(const sc_shape *s, const sc_tables *t, ff2_t claim, tr_t *tr, ff2_t *scratch,
                   sc_proof *proof, ff2_t *point, em_err *err) EM_WARN_UNUSED;

/* Verifies; on EM_OK writes the point (n_vars challenges) and copies the proof's final
 * evaluations to evals (n_tables) -- which the caller must still check. EM_ERR_VERIFY on a
 * failed round/final check, EM_ERR_FORMAT when the proof does not match the shape. */
em_status sc_verify(const sc_shape *s, ff2_t claim, const sc_proof *proof, tr_t *tr, ff2_t *point,
                    ff2_t *evals, em_err *err) EM_WARN_UNUSED;

/* Wire format: n_vars * d round values then n_tables final evaluations, each ff2 as 16 bytes
 * (ff2_encode); no length prefix -- the shape fixes every length. sc_proof_read reads exactly
 * that many canonical elements (EM_ERR_PARSE on truncation, EM_ERR_RANGE on non-canonical). */
size_t sc_proof_size(const sc_shape *s);
em_status sc_proof_write(const sc_proof *p, em_buf *out, em_err *err) EM_WARN_UNUSED;
em_status sc_proof_read(const sc_shape *s, em_reader *r, sc_proof *p, em_err *err) EM_WARN_UNUSED;

/* ---- folding many evaluation claims on one table into one -----------------------------------
 * Claims P~(z_k) = v_k, k < n_claims, on one multilinear P (n_vars variables) become one claim
 * P~(r) = v at a fresh point r, so the commitment is opened once at a single point:
 *   absorb "sc/fold" (n_claims, every z_k and v_k), squeeze rho_k ("sc/fold-rho"), then the
 *   product sumcheck  sum_k rho_k v_k = sum_x P(x) * G(x),  G = sum_k rho_k eq(z_k, .)
 *   (shape sc_shape_product2: table 0 = P, table 1 = G; serialize with sc_proof_write/read).
 * The verifier recomputes G~(r) = sum_k rho_k eq(z_k, r) itself (O(n_claims * n_vars)) and
 * returns v = P~(r), WHICH THE CALLER MUST OPEN against the commitment of P.
 * Soundness: n_claims / |F_p2| (rho) + 2 n_vars / |F_p2| (sumcheck).
 * Prover cost O(2^n_vars + sum_k 2^(n_vars - b_k)) where b_k counts the top coordinates of z_k
 * that are exactly 0 or 1 (claims on blocks of a packed polynomial are cheap); it allocates
 * its tables once per call. */
em_status sc_fold_prove(const ff_t *table, size_t len, unsigned n_vars, const ff2_t *const *points,
                        const ff2_t *values, size_t n_claims, tr_t *tr, sc_proof *proof, ff2_t *point,
                        ff2_t *value, em_err *err) EM_WARN_UNUSED;
em_status sc_fold_verify(unsigned n_vars, const ff2_t *const *points, const ff2_t *values, size_t n_claims,
                         const sc_proof *proof, tr_t *tr, ff2_t *point, ff2_t *value,
                         em_err *err) EM_WARN_UNUSED;

#endif
