/* Internal: one table of vector kernels per SIMD tier (ff_vec.c dispatches). */
#ifndef ENCLAVEML_ZKML_FF_VEC_IMPL_H
#define ENCLAVEML_ZKML_FF_VEC_IMPL_H

#include "enclaveml/zkml/ff_vec.h"

typedef struct ff__vec_kernels {
    void (*add)(ff_t *out, const ff_t *a, const ff_t *b, size_t n);
    void (*sub)(ff_t *out, const ff_t *a, const ff_t *b, size_t n);
    void (*mul)(ff_t *out, const ff_t *a, const ff_t *b, size_t n);
    void (*scale)(ff_t *out, const ff_t *a, ff_t s, size_t n);
    void (*axpy)(ff_t *y, ff_t s, const ff_t *x, size_t n);
    ff_t (*dot)(const ff_t *a, const ff_t *b, size_t n);
    ff_t (*sum)(const ff_t *a, size_t n);
} ff__vec_kernels;

/* Extension-field kernels, AVX-512 only (other tiers use the scalar code in ff_vec.c). */
void ff__ff2_mul_avx512(ff2_t *out, const ff2_t *a, const ff2_t *b, size_t n);
ff2_t ff__ff2_dot_avx512(const ff2_t *a, const ff2_t *b, size_t n);
ff2_t ff__ff2_dot_base_avx512(const ff2_t *a, const ff_t *b, size_t n);
void ff__ff2_fold_avx512(ff2_t *out, const ff2_t *t, size_t half, ff2_t r);
void ff__fold_base_avx512(ff2_t *out, const ff_t *t, size_t half, ff2_t r);
void ff__ff2_eq_step_avx512(ff2_t *t, size_t half, ff2_t r);

extern const ff__vec_kernels ff__vec_avx2;
extern const ff__vec_kernels ff__vec_avx512;

#endif
