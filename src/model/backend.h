/* Inference backends: the kernel table every tier implements (ggml-style), and the dispatch.
 *
 * The driver (run.c) lowers every dense and conv layer to one exact integer GEMM:
 *   c[i*ldc + j] = bias[i] + sum_{t<k} A(i, t) * B(t, j)                      (int64, exact)
 * with int16 operands (exact: validation bounds act_bits and weight_bits to <= 16).
 *  - A is the layer's weights, row-major, one row per output (channel): A(i, t) = a[i*lda + t];
 *    lda is even and a[i*lda + k] = 0 when k is odd, so A can be read as int32 pairs (t, t+1).
 *    Packed once per run.
 *  - B is built from the activations, pair-interleaved: B(t, j) = b[(t/2)*ldb + 2*j + (t%2)],
 *    ldb = 2 * round_up(n, 16), zero for j >= n and for the odd tail t = k. One aligned vector
 *    load then holds 8 (ymm) or 16 (zmm) consecutive columns as (t, t+1) pairs, ready for
 *    vpmaddwd against a broadcast A pair, so no horizontal sums are ever needed. b is 64-byte
 *    aligned. Dense: columns are the samples of a sub-batch (the driver transposes c back to
 *    sample-major). Conv2d: columns are the output positions of one sample (B is its im2col
 *    matrix), so c is directly the [c_out][h*w] activation layout.
 *
 * Requantization is a slot too (O(outputs), but next to a SIMD GEMM a scalar int64 shift/clamp
 * loop is a visible share of the time). im2col, ReLU and pooling are integer copies and
 * compares shared by all tiers (run.c). A tier that owns its memory (CUDA) would add
 * layer-level slots; see docs/BACKENDS.md.
 *
 * Every tier must be bit-identical to the scalar reference: since all arithmetic is exact
 * integer arithmetic, a tier may reorder the sum freely but must never let an intermediate
 * overflow (see the bound documented in backend_avx2.c). */
#ifndef EM_MODEL_BACKEND_H
#define EM_MODEL_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "enclaveml/model.h"

#define NN__COL_ALIGN 16 /* B columns are padded to a multiple of this */

typedef struct nn__gemm {
    size_t m, n, k;
    const int16_t *a;
    size_t lda;
    const int16_t *b;
    size_t ldb;
    const int64_t *bias; /* one per row of A, or NULL for zero */
    int64_t *c;
    size_t ldc;
    /* Bound on the operands: |A| <= 2^(a_bits-1), |B| <= 2^(b_bits-1). Tiers derive from it how
     * many products an int32 lane may hold before it must be widened to int64. */
    uint32_t a_bits, b_bits;
} nn__gemm;

/* Index of B(t, j) in the pair-interleaved layout. */
static inline size_t nn__bidx(size_t ldb, size_t t, size_t j) { return (t >> 1) * ldb + 2 * j + (t & 1); }

struct nn_backend {
    const char *name;
    /* Nonzero when this CPU (and OS) can run the tier; called once by the dispatcher. */
    int (*probe)(void);
    /* Required. The exact GEMM above. */
    void (*gemm_i16)(const nn__gemm *g);
    /* Required. y[i] = clamp(k ? floor((acc[i] + 2^(k-1)) / 2^k) : acc[i], lo, hi), k <= 62,
     * |acc| < 2^62 (the contract's requantization). */
    void (*requant)(const int64_t *acc, size_t n, uint32_t k, int32_t lo, int32_t hi, int32_t *y);
};

/* The tiers, defined in backend_<tier>.c. */
extern const nn_backend nn__backend_scalar;
extern const nn_backend nn__backend_avx2;
extern const nn_backend nn__backend_avx512;
extern const nn_backend nn__backend_avx512vnni;

/* Scalar reference kernels (also the fallback of SIMD tiers: GEMM when the bits make madd
 * unsafe, requantization for the tail of an array). */
void nn__gemm_i16_scalar(const nn__gemm *g);
void nn__requant_scalar(const int64_t *acc, size_t n, uint32_t k, int32_t lo, int32_t hi, int32_t *y);

/* Number of consecutive products one int32 lane may accumulate without overflow, given the
 * operand bounds: every product has |p| <= 2^(a+w-2) (reached only by (-2^(a-1)) * (-2^(w-1))),
 * so n products are safe while n * 2^(a+w-2) <= 2^31 - 1. Returns 0 when not even two products
 * are safe. */
static inline uint64_t nn__i32_safe_products(uint32_t a_bits, uint32_t w_bits)
{
    uint32_t e = a_bits + w_bits - 2; /* log2 of the largest product magnitude */
    if (e >= 31)
        return 0;
    uint64_t n = ((uint64_t)1 << 31) - 1;
    n >>= e;
    return n >= 2 ? n : 0;
}

#endif
