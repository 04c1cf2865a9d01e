/* Number-theoretic transforms over Goldilocks and Reed-Solomon encoding.
 *
 * A plan holds the twiddle tables for one size 2^log_n (log_n <= NTT_MAX_LOG_N); it is
 * immutable after creation, so one plan may be shared by any number of threads. Transforms work
 * in place on caller-owned arrays and never allocate. Orders are natural (index i <-> point w^i)
 * unless the function name says otherwise.
 *
 * Conventions: w_n = ff_root_of_unity(log_n) (a fixed primitive 2^log_n-th root, see ff.h).
 *   forward: a[i] (coefficients of f) -> f(w_n^i)
 *   inverse: f(w_n^i)                 -> coefficients of f (includes the 1/n scaling)
 *   coset:   the same with points shift * w_n^i
 * Ownership: ntt_plan_create allocates, ntt_plan_free releases; NULL is accepted by _free.
 * ntt_plan_shared returns a process-wide plan per size, built once (thread-safe) and never
 * freed: for code that would otherwise rebuild the twiddles on every call (a verifier checking
 * proof after proof: 2^17 twiddles take ~0.5 ms). Do not pass it to ntt_plan_free. */
#ifndef ENCLAVEML_ZKML_NTT_H
#define ENCLAVEML_ZKML_NTT_H

#include <stddef.h>
#include <stdint.h>

#include "enclaveml/core.h"
#include "enclaveml/zkml/ff.h"

#define NTT_MAX_LOG_N 28 /* 2^28 elements = 2 GiB per vector; far above any proof we make */

typedef struct ntt_plan ntt_plan;

em_status ntt_plan_create(unsigned log_n, ntt_plan **out, em_err *err) EM_WARN_UNUSED;
void ntt_plan_free(ntt_plan *p);
em_status ntt_plan_shared(unsigned log_n, const ntt_plan **out, em_err *err) EM_WARN_UNUSED;
unsigned ntt_plan_log_n(const ntt_plan *p);

/* a has exactly 2^log_n elements (the plan's size). */
void ntt_forward(const ntt_plan *p, ff_t *a);
void ntt_inverse(const ntt_plan *p, ff_t *a);
void ntt_coset_forward(const ntt_plan *p, ff_t shift, ff_t *a);
void ntt_coset_inverse(const ntt_plan *p, ff_t shift, ff_t *a); /* shift != 0 */

/* In-place bit-reversal permutation of 2^log_n elements. */
void ntt_bit_reverse(ff_t *a, unsigned log_n);

/* ---- Reed-Solomon encoding (low-degree extension) ----------------------------------------
 * A message of n = 2^log_msg field elements is encoded to the codeword of N = n << rate_bits
 * elements: the evaluations of the message polynomial f (deg f < n) at shift * w_N^j,
 * j = 0..N-1, in natural order. The message is either f's coefficients or f's evaluations on
 * the subgroup <w_n> (natural order), see ntt_rs_input.
 *
 * The plan passed in must be the plan of size N (log_msg + rate_bits). shift = 1 encodes on
 * the subgroup itself; FF_GENERATOR gives a disjoint coset. */
typedef enum ntt_rs_input {
    NTT_RS_COEFFS = 0, /* message = coefficients of f */
    NTT_RS_EVALS = 1   /* message = f(w_n^i), i = 0..n-1 */
} ntt_rs_input;

/* One row: msg (n elements) -> out (N elements). msg and out must not overlap. Allocation-free
 * for NTT_RS_COEFFS; with NTT_RS_EVALS it creates (and frees) the size-n plan on every call, so
 * repeated evaluation-form encodings should use ntt_rs_encode_rows with a plan_n. */
em_status ntt_rs_encode(const ntt_plan *plan_N, unsigned rate_bits, ff_t shift, ntt_rs_input kind,
                        const ff_t *msg, ff_t *out, em_err *err) EM_WARN_UNUSED;

/* Batched: n_rows messages stored row-major (row r at msg + r*n) -> n_rows codewords stored
 * row-major (row r at out + r*N). Rows are spread over n_threads pthreads (0 = one per online
 * CPU, capped by n_rows; small jobs run on the calling thread). Needs the size-n plan only when
 * kind == NTT_RS_EVALS (plan_n, else may be NULL). No allocation besides the thread stacks. */
em_status ntt_rs_encode_rows(const ntt_plan *plan_N, const ntt_plan *plan_n, unsigned rate_bits,
                             ff_t shift, ntt_rs_input kind, const ff_t *msg, size_t n_rows,
                             ff_t *out, unsigned n_threads, em_err *err) EM_WARN_UNUSED;

/* ntt_rs_encode_rows for integer coefficients on the subgroup (shift 1): row r's coefficients
 * are msg[r*n .. r*n + n), and entries at flat index >= len are zero (len may end inside a row
 * or before the last rows). The same codewords as converting to field elements first
 * (ff_from_i64) and calling ntt_rs_encode_rows, without the converted copy. */
em_status ntt_rs_encode_rows_i32(const ntt_plan *plan_N, unsigned rate_bits, const int32_t *msg, size_t len,
                                 size_t n_rows, ff_t *out, unsigned n_threads, em_err *err) EM_WARN_UNUSED;

/* ---- Systematic Reed-Solomon encoding ------------------------------------------------------
 * The message m (n = 2^log_n values, the plan's size) is read as the evaluations of f
 * (deg f < n) on the subgroup <w_n>, f(w_n^c) = m[c]. The codeword is m itself followed by the
 * parity: block b = 1 .. 2^rate_bits - 1 holds f(w_N^b * w_n^c), c = 0..n-1 (N = n << rate_bits,
 * w_n = w_N^(2^rate_bits)), so the whole codeword is f on the order-N subgroup (position
 * (b, c) <-> the point w_N^(b + 2^rate_bits c)): a Reed-Solomon codeword in a fixed order.
 * Cost: one inverse and 2^rate_bits - 1 forward transforms of size n. rate_bits 1..4, or
 * NTT_SYS_RATE_2_3 (n >= 2): the parity is f on the coset w_2n <w_n^2> of n/2 points, position
 * c <-> w_2n^(1 + 4c) (the rate-1/2 code's parity, every other point): a Reed-Solomon code of
 * rate 2/3 on n + n/2 points, for one inverse transform of size n and a forward one of n/2.
 * NTT_SYS_RATE_4_5 (n >= 4): the parity is f on w_2n <w_n^4>, n/4 points, position c <->
 * w_2n^(1 + 8c) (every fourth point of that coset): rate 4/5 on n + n/4 points, for one inverse
 * transform of size n and a forward one of n/4. */
#define NTT_SYS_RATE_2_3 0u
#define NTT_SYS_RATE_4_5 8u
em_status ntt_rs_encode_sys(const ntt_plan *plan_n, unsigned rate_bits, const ff_t *msg, ff_t *parity,
                            em_err *err) EM_WARN_UNUSED; /* parity: ntt_sys_parity_len elements */
/* Parity symbols per row: (2^rate_bits - 1) n, or n/2 for NTT_SYS_RATE_2_3, n/4 for
 * NTT_SYS_RATE_4_5. */
size_t ntt_sys_parity_len(unsigned log_n, unsigned rate_bits);
/* Batched over integer messages: row r is msg[r*n .. r*n + n) (entries at flat index >= len are
 * zero); its parity goes to parity + r * ntt_sys_parity_len. Threads as ntt_rs_encode_rows. */
em_status ntt_rs_encode_rows_sys_i32(const ntt_plan *plan_n, unsigned rate_bits, const int32_t *msg, size_t len,
                                     size_t n_rows, ff_t *parity, unsigned n_threads, em_err *err) EM_WARN_UNUSED;

/* Scalar O(n log n) reference transform (radix-2, no SIMD, no tables): the tests compare the
 * fast path against it. Same convention as ntt_forward. */
void ntt_forward_ref(ff_t *a, unsigned log_n);

#endif
