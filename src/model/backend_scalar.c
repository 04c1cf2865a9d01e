/* Scalar reference tier: the specification every SIMD tier is tested against. Kept simple on
 * purpose (straight int64 accumulation, no blocking tricks that could hide a bug). */
#include "backend.h"

void nn__gemm_i16_scalar(const nn__gemm *g)
{
    /* Row i of c accumulates A(i, t) * B(t, .) over t: B is read along its rows (contiguous). */
    for (size_t i = 0; i < g->m; i++) {
        const int16_t *a = g->a + i * g->lda;
        int64_t *c = g->c + i * g->ldc;
        for (size_t j = 0; j < g->n; j++)
            c[j] = g->bias ? g->bias[i] : 0;
        for (size_t t = 0; t < g->k; t++) {
            int64_t av = a[t];
            const int16_t *b = g->b + nn__bidx(g->ldb, t, 0);
            for (size_t j = 0; j < g->n; j++)
                c[j] += av * b[2 * j];
        }
    }
}

void nn__requant_scalar(const int64_t *acc, size_t n, uint32_t k, int32_t lo, int32_t hi, int32_t *y)
{
    /* floor((acc + 2^(k-1)) / 2^k): >> on a negative int64 is arithmetic (floor) with GCC/Clang. */
    int64_t half = k ? (int64_t)1 << (k - 1) : 0;
    for (size_t i = 0; i < n; i++) {
        int64_t q = k ? (acc[i] + half) >> k : acc[i];
        y[i] = (int32_t)(q < lo ? lo : q > hi ? hi : q);
    }
}

static int scalar_probe(void) { return 1; }

const nn_backend nn__backend_scalar = {
    .name = "scalar",
    .probe = scalar_probe,
    .gemm_i16 = nn__gemm_i16_scalar,
    .requant = nn__requant_scalar,
};
