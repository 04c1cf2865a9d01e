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

extern const ff__vec_kernels ff__vec_avx2;
extern const ff__vec_kernels ff__vec_avx512;

#endif
