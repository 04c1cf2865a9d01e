/* Multilinear polynomial commitment, Ligero/Brakedown style (transparent, SHA-256 only).
 *
 * Layout. A commitment holds n_polys base-field multilinears (poly p has n_vars[p] variables,
 * n_vars[p] >= log_cols). Each is cut into rows of C = 2^log_cols evaluations (ml.h index
 * convention: the first log_cols variables are the column bits, the rest the row bits) and the
 * rows of all polynomials are stacked in order: poly p occupies rows [row_off[p], row_off[p] +
 * rows[p]), rows[p] = 2^(n_vars[p]-log_cols) unless pcs_layout_set_len declared that only a
 * prefix of the polynomial can be non-zero (the rows past it are zero by definition and are
 * neither encoded, hashed nor opened). Every row (message = C coefficients) is Reed-Solomon
 * encoded at rate 2^-rate_bits (PCS_RATE_BITS = 2 by default, 1 after pcs_layout_set_rate) to
 * N = 2^rate_bits C symbols on the subgroup of order N; the Merkle tree (merkle.h) has one leaf
 * per codeword column (all rows' symbols at that position). Commitment = root.
 *
 * Opening (pcs_open / pcs_verify), for claims (poly p, point z in F2^{n_vars[p]}, value v):
 *   transcript: absorb "pcs/root", "pcs/layout" (log_cols, n_polys, masks, n_vars, rate_bits,
 *   rows), every claim (poly, point, value);
 *   squeeze gamma_i (one ff2 per row)                -> prover sends w = sum_i gamma_i M_i (C ff2)
 *   squeeze rho_k (one ff2 per claim); claims are grouped by their column sub-point
 *   z[0..log_cols); for each group g the prover sends u_g = sum_{k in g} rho_k
 *   eq(z_k row part, .)^T M_{rows of p_k} (C ff2);       absorb "pcs/w", "pcs/u"
 *   squeeze t = pcs_queries(rate_bits) distinct column indices (all N columns when N <= 2t);
 *   the prover sends those columns (n_rows base elements each) and one Merkle multi-opening.
 * The verifier checks w and each u_g against the opened columns (as one random combination of
 * them with a challenge zeta squeezed from a copy of the transcript, so one re-encoding; the
 * transcript is left as the prover's), and checks <u_g, eq(z_col)> = sum_{k in g} rho_k v_k. See docs/PROOFS.md for the soundness argument
 * (rate 1/4 with 160 queries, rate 1/2 with 262, systematic rate 2/3 with 413 or 4/5 with 715,
 * proven unique-decoding proximity gap: 2^-108 query error each). A higher rate cuts the
 * encoding and hashing of a commitment for more opened columns: the per-proof witness uses
 * systematic rate 4/5. A tested layout (pcs_layout_set_tested, rate 1/4: the once-committed
 * model) proves its proximity once (pcs_prove_proximity: w and 262 columns) and its openings
 * then send no w and open 109 columns ("pcs/tested" absorbed after the layout).
 *
 * Wire format (no length prefixes; the layout and the claims fix every length): [hiding only:
 * y_g per group (16 B each)], w (Cm x 16 B, Cm = C, or 2C when hiding; absent for a tested
 * layout), u_g for each group in
 * order of first appearance (Cm x 16 B each), the opened columns in increasing index order
 * (total rows x 8 B each: data rows, then the hiding mask rows; in a systematic layout a message
 * column j < C has each row's symbol in its type's bytes, little-endian two's complement), then
 * one Merkle opening. Every element must be canonical. pcs_verify consumes exactly this and leaves trailing bytes to the caller.
 *
 * Proof size: one combination row (16 C bytes) per distinct column sub-point. Many claims on one
 * polynomial at unrelated points should first be folded into one (sc_fold_prove in sumcheck.h).
 *
 * pcs_commit is NOT HIDING: the opened columns and the combination rows reveal linear
 * information about the committed values (binding/integrity only). pcs_commit_hiding (below)
 * hides everything but the claimed values for one opening.
 *
 * Ownership: pcs_commit allocates a pcs_prover (copy of the matrix, its encoding and the tree),
 * freed by pcs_prover_free; a pcs_prover is immutable after commit, so one committed model can
 * be opened by many threads/proofs concurrently. The layout is a plain value. */
#ifndef ENCLAVEML_ZKML_PCS_H
#define ENCLAVEML_ZKML_PCS_H

#include <stddef.h>
#include <stdint.h>

#include "enclaveml/core.h"
#include "enclaveml/zkml/ff.h"
#include "enclaveml/zkml/transcript.h"

#define PCS_RATE_BITS 2 /* default rate 1/4 */
#define PCS_QUERIES 160   /* column queries at rate 1/4: 0.6251^160 = 2^-108.4 */
#define PCS_QUERIES_RATE2 262 /* at rate 1/2: 0.7501^262 = 2^-108.7 */
#define PCS_QUERIES_RATE23 413 /* at rate 2/3 (systematic): (5/6 + 10^-4)^413 = 2^-108.56 */
#define PCS_QUERIES_RATE45 715 /* at rate 4/5 (systematic): (9/10 + 10^-4)^715 = 2^-108.55 */
#define PCS_MAX_QUERIES PCS_QUERIES_RATE45
/* A tested layout (rate 1/4): its proximity proved once (pcs_prove_proximity) at
 * delta = 1/4 - 10^-4 with PCS_PROX_QUERIES columns, 0.7501^262 = 2^-108.7; each opening then
 * catches a false evaluation row at >= d - delta = 1/2 + 10^-4 of the columns:
 * (1/2 - 10^-4)^109 = 2^-109.03. */
#define PCS_PROX_QUERIES 262
#define PCS_QUERIES_TESTED 109
#define PCS_MAX_POLYS 256
#define PCS_MAX_VARS 30      /* per polynomial */
#define PCS_MAX_LOG_ROWS 20  /* total stacked rows <= 2^20 */
#define PCS_ROOT_LEN 32
#define PCS_HIDING_MIN_LOG_COLS 8 /* C >= 256 >= PCS_QUERIES random coefficients per row (rate 1/2: 9) */
#define PCS_HIDING_MAX_GROUPS 64
#define PCS_MAX_SYM_RUNS 64

/* Symbol types of a systematic layout's message columns: the integer range a row's values
 * must lie in, and the bytes each takes in the proof and the leaf hash. */
typedef enum pcs_sym {
    PCS_SYM_U8 = 1,  /* [0, 255], 1 byte */
    PCS_SYM_I8 = 2,  /* [-128, 127], 1 byte */
    PCS_SYM_U16 = 3, /* [0, 65535], 2 bytes */
    PCS_SYM_I16 = 4, /* [-32768, 32767], 2 bytes */
    PCS_SYM_I32 = 5  /* int32, 4 bytes */
} pcs_sym;

typedef struct pcs_layout {
    unsigned n_polys;
    unsigned log_cols;
    uint8_t n_vars[PCS_MAX_POLYS];
    size_t row_off[PCS_MAX_POLYS];
    size_t rows[PCS_MAX_POLYS]; /* committed rows of poly p (the rest are zero) */
    size_t n_rows; /* total stacked data rows */
    unsigned rate_bits; /* codeword length N = 2^rate_bits * message length; 1 or 2 (N = 3C/2
                         * when rate23) */
    unsigned hiding;  /* 0, or 1 after pcs_layout_set_hiding */
    unsigned n_masks; /* hiding: the most distinct column points one opening may have */
    /* systematic (pcs_layout_set_systematic): rows [run_end[k-1], run_end[k]) hold values of
     * type run_sym[k] (run_end[-1] = 0, run_end[n_runs-1] = n_rows) */
    unsigned systematic;
    unsigned rate23; /* systematic at rate 2/3 (pcs_layout_set_rate23) */
    unsigned rate45; /* systematic at rate 4/5 (pcs_layout_set_rate45) */
    unsigned tested; /* proximity proved once, openings without w (pcs_layout_set_tested) */
    unsigned n_runs;
    size_t run_end[PCS_MAX_SYM_RUNS];
    uint8_t run_sym[PCS_MAX_SYM_RUNS];
} pcs_layout;

/* log_cols = 0 picks a default balancing proof size (about (max n_vars + 7) / 2, capped by the
 * smallest polynomial). EM_ERR_ARG / EM_ERR_LIMIT on invalid sizes. */
em_status pcs_layout_init(pcs_layout *l, const unsigned *n_vars, unsigned n_polys,
                          unsigned log_cols, em_err *err) EM_WARN_UNUSED;

/* Declares that only poly p's first len evaluations may be non-zero (1 <= len <= 2^n_vars[p]):
 * only its first ceil(len / C) rows are committed, the rest are zero by definition. Both sides
 * must use the same len (it is part of the layout the transcript absorbs). */
em_status pcs_layout_set_len(pcs_layout *l, unsigned p, size_t len, em_err *err) EM_WARN_UNUSED;

/* Rate 2^-rate_bits, rate_bits 1 (1/2: half the encoding and hashing, PCS_QUERIES_RATE2 column
 * queries) or 2 (1/4, the default, PCS_QUERIES). Call before pcs_layout_set_hiding. */
em_status pcs_layout_set_rate(pcs_layout *l, unsigned rate_bits, em_err *err) EM_WARN_UNUSED;

/* Column queries of an opening at this rate. */
unsigned pcs_queries(unsigned rate_bits);

/* Switches the layout to the hiding encoding (below); max_groups (1..PCS_HIDING_MAX_GROUPS) is
 * the number of distinct column sub-points an opening may have (fold claims with sc_fold_prove
 * to need just one). Needs log_cols >= PCS_HIDING_MIN_LOG_COLS and C >= pcs_queries(rate). */
em_status pcs_layout_set_hiding(pcs_layout *l, unsigned max_groups, em_err *err) EM_WARN_UNUSED;

/* Switches a non-hiding one-polynomial layout to the systematic integer code: each row's C
 * values are read as the evaluations of its polynomial on the order-C subgroup, so the first C
 * codeword columns are the values themselves and the other (2^rate_bits - 1) C the parity
 * (ntt_rs_encode_sys; the same Reed-Solomon code on the same points, in another order, so the
 * same distance and query count). The values must be given as integers (pcs_poly.ints) and
 * every value of row i must lie in its run's pcs_sym range (pcs_commit fails with EM_ERR_RANGE
 * otherwise); the message columns are then hashed and opened at 1, 2 or 4 bytes per symbol
 * instead of 8 (Merkle leaf tag 0x02). runs: n_runs (1..PCS_MAX_SYM_RUNS) strictly increasing
 * row ends, the last = n_rows, with their types. Call after set_len and set_rate. */
em_status pcs_layout_set_systematic(pcs_layout *l, const size_t *run_end, const uint8_t *run_sym, unsigned n_runs,
                                    em_err *err) EM_WARN_UNUSED;
/* Rate 2/3 for a systematic rate-1/2 layout: the parity keeps every other point of the rate-1/2
 * code's coset (C/2 symbols, ntt.h NTT_SYS_RATE_2_3), so a row is C + C/2 symbols -- a
 * Reed-Solomon code of rate 2/3 on those points, relative distance 1/3 -- opened with
 * PCS_QUERIES_RATE23 columns at the unique-decoding radius; the Merkle tree is padded to 2C
 * leaves. Half the parity to encode and hash of rate 1/2, for ~1.6x its queries. */
em_status pcs_layout_set_rate23(pcs_layout *l, em_err *err) EM_WARN_UNUSED;
/* Rate 4/5 likewise: the parity keeps every fourth point of that coset (C/4 symbols,
 * NTT_SYS_RATE_4_5; relative distance 1/5), opened with PCS_QUERIES_RATE45 columns; the tree is
 * padded to 2C leaves. Half the parity of rate 2/3 to encode and hash, for ~1.7x its queries
 * (of which 4/5 are message columns, 1-4 bytes per row). Needs C >= 4; excludes rate 2/3. */
em_status pcs_layout_set_rate45(pcs_layout *l, em_err *err) EM_WARN_UNUSED;
/* A tested layout (rate 1/4, not hiding; for a commitment opened many times, e.g. a model):
 * the commitment's proximity to the interleaved code is proved once, on its own
 * (pcs_prove_proximity / pcs_verify_proximity: the proximity row w and PCS_PROX_QUERIES columns),
 * and every opening then sends no proximity row and opens PCS_QUERIES_TESTED columns instead of
 * PCS_QUERIES. An opening of a tested layout is sound only for a verifier who has checked the
 * commitment's proximity proof (docs/PROOFS.md "Tested layouts"). Absorbed with the layout. */
em_status pcs_layout_set_tested(pcs_layout *l, em_err *err) EM_WARN_UNUSED;
/* Bytes per symbol of a pcs_sym (0 for an invalid one). */
unsigned pcs_sym_bytes(unsigned sym);
/* The integer range of a pcs_sym ([0, 0] for an invalid one). */
void pcs_sym_range(unsigned sym, int32_t *lo, int32_t *hi);

/* One polynomial's evaluations: len <= rows[p] * C entries (<= 2^n_vars), the rest are zero.
 * Given either as field elements (evals) or, for the one polynomial of a non-hiding layout, as
 * small integers (ints; evaluation i is ints[i]): exactly one of the two is non-NULL when
 * len > 0. evals is only read during the commit; ints is kept by the prover, which then forms
 * its openings' row combinations with an exact integer fold (faster, same bytes), so it must
 * stay valid until pcs_prover_free. */
typedef struct pcs_poly {
    const ff_t *evals;
    size_t len;
    const int32_t *ints;
    /* systematic layouts, for tests of the layers above: commit values outside their row's
     * symbol type instead of failing, by their low bytes in the message columns -- what a
     * cheating prover can do (the matrix is then no codeword at those columns, which only the
     * queries that hit them see) */
    int unchecked;
} pcs_poly;

typedef struct pcs_prover pcs_prover;

/* Commits polys[0..l->n_polys). n_threads for the encoder (0 = all CPUs). Writes the root. */
em_status pcs_commit(const pcs_layout *l, const pcs_poly *polys, unsigned n_threads,
                     pcs_prover **out, uint8_t root[PCS_ROOT_LEN], em_err *err) EM_WARN_UNUSED;
/* Hiding commitment (layout from pcs_layout_set_hiding). Every row's message is its C values
 * followed by C coefficients, and 1 + n_masks extra rows are fully random; all this blinding
 * is drawn from SHA-256 in counter mode over seed (32 bytes; the same seed and data give the
 * same root on every machine), or from /dev/urandom when seed is NULL. The opening then also
 * sends y_g (one ff2 per group, absorbed as "pcs/y" before gamma) and masks w and every u_g with
 * a random row, so the root plus ONE opening reveal nothing beyond the claimed values (honest
 * verifier, docs/PROOFS.md). Opening the same hiding commitment twice leaks (the masks repeat).
 * Costs: twice the encoding work and codeword columns of a non-hiding commitment. */
em_status pcs_commit_hiding(const pcs_layout *l, const pcs_poly *polys, const uint8_t seed[32],
                            unsigned n_threads, pcs_prover **out, uint8_t root[PCS_ROOT_LEN],
                            em_err *err) EM_WARN_UNUSED;
void pcs_prover_free(pcs_prover *p);
const pcs_layout *pcs_prover_layout(const pcs_prover *p);
void pcs_prover_root(const pcs_prover *p, uint8_t root[PCS_ROOT_LEN]);

typedef struct pcs_claim {
    unsigned poly;       /* index in the layout */
    const ff2_t *point;  /* n_vars[poly] coordinates (borrowed) */
    ff2_t value;
} pcs_claim;

/* Honest evaluation of committed poly p at point (helper for callers and tests). */
ff2_t pcs_prover_eval(const pcs_prover *p, unsigned poly, const ff2_t *point);

/* Appends the opening proof of claims[0..n_claims) to out (n_claims >= 1). The claims are not
 * checked by the prover: a false value yields a proof that fails verification. */
em_status pcs_open(const pcs_prover *p, const pcs_claim *claims, size_t n_claims, tr_t *tr,
                   em_buf *out, em_err *err) EM_WARN_UNUSED;
/* pcs_open, for claims that share their column point (one evaluation row) on a non-hiding
 * layout, given each claim's row combination: rows + k * 2^log_cols holds eq(z_k^row, .)^T M,
 * the committed matrix's rows weighted by claim k's row point (rows_len elements, borrowed; a
 * caller such as the column fold has them already). The evaluation row is then their
 * rho-combination instead of a pass over the matrix: the same proof bytes, provided the rows
 * are right (the prover's own values: they are not checked). Other layouts or claim sets ignore
 * rows (which must still be given). EM_ERR_ARG when rows is NULL or
 * rows_len < n_claims * 2^log_cols. */
em_status pcs_open_rows(const pcs_prover *p, const pcs_claim *claims, size_t n_claims, const ff2_t *rows,
                        size_t rows_len, tr_t *tr, em_buf *out, em_err *err) EM_WARN_UNUSED;
/* Reads exactly one opening from r (advancing it) and verifies it. EM_ERR_VERIFY when a check
 * fails; EM_ERR_PARSE/EM_ERR_RANGE/EM_ERR_FORMAT for malformed bytes. */
em_status pcs_verify(const pcs_layout *l, const uint8_t root[PCS_ROOT_LEN], const pcs_claim *claims,
                     size_t n_claims, tr_t *tr, em_reader *r, em_err *err) EM_WARN_UNUSED;
/* The commitment's proximity proof (non-hiding rate-1/4 layouts, EM_ERR_ARG for others: its
 * query count is that rate's; a tested layout relies on it): absorbs
 * "pcs/proximity", the root and the layout, then sends w = gamma^T M and PCS_PROX_QUERIES columns
 * (all of them when N <= 2 * PCS_PROX_QUERIES) with their Merkle paths. Deterministic: the same
 * commitment and transcript give the same bytes. */
em_status pcs_prove_proximity(const pcs_prover *p, tr_t *tr, em_buf *out, em_err *err) EM_WARN_UNUSED;
/* Reads exactly one proximity proof from r and checks it (EM_ERR_VERIFY when the combination
 * disagrees with an opened column, parse errors as pcs_verify). */
em_status pcs_verify_proximity(const pcs_layout *l, const uint8_t root[PCS_ROOT_LEN], tr_t *tr, em_reader *r,
                               em_err *err) EM_WARN_UNUSED;

#endif
