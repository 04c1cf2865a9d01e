/* Vector arithmetic over Goldilocks arrays, with SIMD tiers.
 *
 * Every function gives exactly the result of the scalar ff.h functions applied element by
 * element (all outputs canonical). The tier (scalar / AVX2 / AVX-512) is chosen once from the
 * CPU on first use; EM_FF_TIER=scalar|avx2|avx512 in the environment, or ff_vec_tier_set(),
 * forces a lower one (tests run every tier against the scalar reference).
 *
 * Aliasing: out may equal an input pointer exactly; partial overlaps are not allowed.
 * No function here allocates. */
#ifndef ENCLAVEML_ZKML_FF_VEC_H
#define ENCLAVEML_ZKML_FF_VEC_H

#include <stddef.h>
#include <stdint.h>

#include "enclaveml/core.h"
#include "enclaveml/zkml/ff.h"

typedef enum ff_vec_tier { FF_VEC_SCALAR = 0, FF_VEC_AVX2 = 1, FF_VEC_AVX512 = 2 } ff_vec_tier;

/* Active tier (probes the CPU and reads EM_FF_TIER on the first call). */
ff_vec_tier ff_vec_tier_get(void);
/* 1 when the CPU (and this build) can run tier t. */
int ff_vec_tier_supported(ff_vec_tier t);
/* Forces tier t; EM_ERR_UNSUPPORTED when the CPU cannot run it. Not thread-safe with respect to
 * concurrent vector calls: set it before starting work. */
em_status ff_vec_tier_set(ff_vec_tier t) EM_WARN_UNUSED;
const char *ff_vec_tier_name(ff_vec_tier t);

void ff_vec_add(ff_t *out, const ff_t *a, const ff_t *b, size_t n); /* out = a + b */
void ff_vec_sub(ff_t *out, const ff_t *a, const ff_t *b, size_t n); /* out = a - b */
void ff_vec_mul(ff_t *out, const ff_t *a, const ff_t *b, size_t n); /* out = a * b */
void ff_vec_scale(ff_t *out, const ff_t *a, ff_t s, size_t n);      /* out = s * a */
void ff_vec_axpy(ff_t *y, ff_t s, const ff_t *x, size_t n);         /* y += s * x */
ff_t ff_vec_dot(const ff_t *a, const ff_t *b, size_t n);            /* sum a[i]*b[i] */
ff_t ff_vec_sum(const ff_t *a, size_t n);

/* ---- extension-field kernels (AVX-512 tier; the scalar code serves the other tiers) -------
 * Folding binds the first variable of a multilinear table: out[i] = t[2i] + r * (t[2i+1] - t[2i])
 * for i < half (t has 2*half entries); out may equal t (in-place fold). */
void ff2_vec_mul(ff2_t *out, const ff2_t *a, const ff2_t *b, size_t n);   /* out = a * b */
ff2_t ff2_vec_dot(const ff2_t *a, const ff2_t *b, size_t n);            /* sum a[i]*b[i] */
ff2_t ff2_vec_dot_base(const ff2_t *a, const ff_t *b, size_t n);        /* sum a[i]*b[i] */
void ff2_vec_fold(ff2_t *out, const ff2_t *t, size_t half, ff2_t r);
void ff_vec_fold_base(ff2_t *out, const ff_t *t, size_t half, ff2_t r); /* base table -> ext */
/* One step of an eq table: for i < half, t[i + half] = t[i] * r and t[i] -= t[i + half]. */
void ff2_vec_eq_step(ff2_t *t, size_t half, ff2_t r);

/* Montgomery's batch inversion: out[i] = in[i]^-1, and out[i] = 0 where in[i] == 0 (the same
 * convention as ff_inv), at the cost of one field inversion plus ~3n multiplications. scratch
 * holds n elements (caller-owned); out may equal in. Returns the number of zero inputs so
 * callers that forbid zeros can reject them. */
size_t ff_batch_inv(ff_t *out, const ff_t *in, size_t n, ff_t *scratch);
/* The same over the extension field (zeros map to zero). */
size_t ff2_batch_inv(ff2_t *out, const ff2_t *in, size_t n, ff2_t *scratch);

#endif
