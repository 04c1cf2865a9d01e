/* AVX2 tier: int16 GEMM with _mm256_madd_epi16.
 *
 * Exactness. vpmaddwd multiplies int16 pairs and adds adjacent products into an int32 lane,
 * wrapping on overflow. With |a| <= 2^(A-1) and |w| <= 2^(B-1) every product has
 * |p| <= 2^(A+B-2), so a lane holding n products stays inside int32 while
 * n * 2^(A+B-2) <= 2^31 - 1 (nn__i32_safe_products). Each madd adds 2 products to a lane, so
 * the int32 accumulators are widened to int64 every floor(n/2) steps along k (a step is one
 * pair of k). For 8-bit weights and activations that is every 65535 steps (131070 inputs, never
 * in practice); for 16-bit activations with 8-bit weights every 255 steps (510 inputs). When even
 * one madd pair could overflow (A = B = 16: (-2^15)^2 * 2 = 2^31) the tier delegates to the
 * scalar reference.
 *
 * Register tile: MR = 6 rows of A (one broadcast int32 pair (t, t+1) each) by 2 ymm vectors of B
 * (8 columns each, as pairs): 12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm registers;
 * no horizontal sums. Rows past m in the last tile reuse row m-1 and are not stored; columns past
 * n are zero in B and masked off on store. */
#include <immintrin.h>
#include <string.h>

#include "backend.h"

#define T_AVX2 __attribute__((target("avx2")))

#define MR 6
#define NV 2

static inline size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

T_AVX2 static inline __attribute__((always_inline)) void tile(const nn__gemm *g, size_t i0, size_t j0, const int mr,
                                                              size_t rows, size_t npairs, size_t flush)
{
    const int16_t *a[MR];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
        a[r] = g->a + min_sz(i0 + (size_t)r, g->m - 1) * g->lda;
    __m256i s64[MR][NV][2];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 2
        for (int c = 0; c < NV; c++)
            s64[r][c][0] = s64[r][c][1] = _mm256_setzero_si256();
    for (size_t t0 = 0; t0 < npairs; t0 += flush) {
        size_t t1 = min_sz(npairs, t0 + flush);
        __m256i acc[MR][NV];
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++)
#pragma GCC unroll 2
            for (int c = 0; c < NV; c++)
                acc[r][c] = _mm256_setzero_si256();
        const int16_t *bp = g->b + t0 * g->ldb + 2 * j0;
        for (size_t t = t0; t < t1; t++, bp += g->ldb) {
            __m256i b0 = _mm256_load_si256((const __m256i *)bp), b1 = _mm256_load_si256((const __m256i *)(bp + 16));
#pragma GCC unroll 8
            for (int r = 0; r < mr; r++) {
                int32_t pair;
                memcpy(&pair, a[r] + 2 * t, sizeof pair);
                __m256i av = _mm256_set1_epi32(pair);
                acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(av, b0));
                acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(av, b1));
            }
        }
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++)
#pragma GCC unroll 2
            for (int c = 0; c < NV; c++) {
                s64[r][c][0] = _mm256_add_epi64(s64[r][c][0], _mm256_cvtepi32_epi64(_mm256_castsi256_si128(acc[r][c])));
                s64[r][c][1] =
                    _mm256_add_epi64(s64[r][c][1], _mm256_cvtepi32_epi64(_mm256_extracti128_si256(acc[r][c], 1)));
            }
    }
    const __m256i lane = _mm256_setr_epi64x(0, 1, 2, 3);
    for (size_t r = 0; r < rows; r++) {
        size_t i = i0 + r;
        int64_t *crow = g->c + i * g->ldc;
        __m256i brow = _mm256_set1_epi64x(g->bias ? g->bias[i] : 0);
        for (int q = 0; q < 2 * NV; q++) {
            size_t j = j0 + 4 * (size_t)q;
            if (j >= g->n)
                break;
            __m256i mk = _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)(g->n - j)), lane);
            __m256i v = _mm256_add_epi64(s64[r][q / 2][q % 2], brow);
            _mm256_maskstore_epi64((long long *)(crow + j), mk, v);
        }
    }
}

T_AVX2 static void gemm_avx2(const nn__gemm *g)
{
    uint64_t safe = nn__i32_safe_products(g->a_bits, g->b_bits);
    if (safe < 2 || g->m == 0 || g->n == 0) {
        nn__gemm_i16_scalar(g);
        return;
    }
    size_t flush = (size_t)(safe / 2), npairs = (g->k + 1) / 2;
    for (size_t j0 = 0; j0 < g->n; j0 += 8 * NV) {
        size_t i0 = 0;
        for (; i0 + MR <= g->m; i0 += MR)
            tile(g, i0, j0, MR, MR, npairs, flush);
        if (g->m - i0 == 1)
            tile(g, i0, j0, 1, 1, npairs, flush);
        else if (g->m > i0)
            tile(g, i0, j0, MR, g->m - i0, npairs, flush);
    }
}

/* Requantization. AVX2 has no 64-bit arithmetic shift: floor(t / 2^k) = ~(~t >> k) for t < 0
 * (logical shift), so shift t ^ sign and undo the xor. Clamp with 64-bit compares, then keep the
 * low halves. */
T_AVX2 static void requant_avx2(const int64_t *acc, size_t n, uint32_t k, int32_t lo, int32_t hi, int32_t *y)
{
    const __m256i half = _mm256_set1_epi64x(k ? (int64_t)1 << (k - 1) : 0);
    const __m128i cnt = _mm_cvtsi32_si128((int)k);
    const __m256i vlo = _mm256_set1_epi64x(lo), vhi = _mm256_set1_epi64x(hi), zero = _mm256_setzero_si256();
    const __m256i pick = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256i t = _mm256_add_epi64(_mm256_loadu_si256((const __m256i *)(acc + i)), half);
        __m256i sgn = _mm256_cmpgt_epi64(zero, t);
        __m256i q = _mm256_xor_si256(_mm256_srl_epi64(_mm256_xor_si256(t, sgn), cnt), sgn);
        q = _mm256_blendv_epi8(q, vhi, _mm256_cmpgt_epi64(q, vhi));
        q = _mm256_blendv_epi8(q, vlo, _mm256_cmpgt_epi64(vlo, q));
        q = _mm256_permutevar8x32_epi32(q, pick);
        _mm_storeu_si128((__m128i *)(y + i), _mm256_castsi256_si128(q));
    }
    nn__requant_scalar(acc + i, n - i, k, lo, hi, y + i);
}

static int avx2_probe(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}

const nn_backend nn__backend_avx2 = {
    .name = "avx2",
    .probe = avx2_probe,
    .gemm_i16 = gemm_avx2,
    .requant = requant_avx2,
};
