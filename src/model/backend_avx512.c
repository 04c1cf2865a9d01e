/* AVX-512 tiers: "avx512" (AVX512F+BW, vpmaddwd) and "avx512vnni" (adds the fused vpdpwssd).
 * Both share one kernel body (backend_avx512_body.h) and its overflow argument. */
#include <immintrin.h>
#include <string.h>

#include "backend.h"

#define MR 6
#define NV 4

static inline size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }

#define K_TARGET __attribute__((target("avx512f,avx512bw")))
#define K_MAC(acc, a, w) _mm512_add_epi32((acc), _mm512_madd_epi16((a), (w)))
#define K_NAME(x) bw_##x
#include "backend_avx512_body.h"
#undef K_TARGET
#undef K_MAC
#undef K_NAME

#define K_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define K_MAC(acc, a, w) _mm512_dpwssd_epi32((acc), (a), (w))
#define K_NAME(x) vnni_##x
#include "backend_avx512_body.h"
#undef K_TARGET
#undef K_MAC
#undef K_NAME

/* Requantization: AVX-512F has the 64-bit arithmetic shift and min/max that AVX2 lacks. */
__attribute__((target("avx512f"))) static void requant_avx512(const int64_t *acc, size_t n, uint32_t k, int32_t lo,
                                                                int32_t hi, int32_t *y)
{
    const __m512i half = _mm512_set1_epi64(k ? (int64_t)1 << (k - 1) : 0);
    const __m128i cnt = _mm_cvtsi32_si128((int)k);
    const __m512i vlo = _mm512_set1_epi64(lo), vhi = _mm512_set1_epi64(hi);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512i q = _mm512_sra_epi64(_mm512_add_epi64(_mm512_loadu_si512((const void *)(acc + i)), half), cnt);
        q = _mm512_min_epi64(_mm512_max_epi64(q, vlo), vhi);
        _mm256_storeu_si256((__m256i *)(y + i), _mm512_cvtepi64_epi32(q));
    }
    nn__requant_scalar(acc + i, n - i, k, lo, hi, y + i);
}

static int avx512_probe(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
}

static int avx512vnni_probe(void)
{
    __builtin_cpu_init();
    return avx512_probe() && __builtin_cpu_supports("avx512vnni");
}

const nn_backend nn__backend_avx512 = {
    .name = "avx512",
    .probe = avx512_probe,
    .gemm_i16 = bw_gemm,
    .requant = requant_avx512,
};

const nn_backend nn__backend_avx512vnni = {
    .name = "avx512vnni",
    .probe = avx512vnni_probe,
    .gemm_i16 = vnni_gemm,
    .requant = requant_avx512,
};
