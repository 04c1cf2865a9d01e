/* AVX-512 GEMM kernel body, instantiated twice by backend_avx512.c: with vpmaddwd + vpaddd
 * (AVX512BW) and with the fused vpdpwssd (AVX512-VNNI). Both wrap int32 lanes exactly like
 * _mm256_madd_epi16, so the overflow bound of backend_avx2.c applies unchanged: each step adds 2
 * products per lane and lanes are widened to int64 every floor(nn__i32_safe_products / 2) steps.
 * Expects K_TARGET (attribute), K_MAC(acc, a, b) and K_NAME(x) (name prefix) to be defined.
 *
 * Register tile: MR rows of A (one broadcast int32 pair each) by NV zmm vectors of B (16
 * columns each): 24 accumulators + 4 B vectors + 1 broadcast of the 32 registers. */

/* One tile; mr/nv are compile-time constants after inlining, rows (<= mr) are stored. */
K_TARGET static inline __attribute__((always_inline)) void K_NAME(tile)(const nn__gemm *g, size_t i0, size_t j0,
                                                                        const int mr, const int nv, size_t rows,
                                                                        size_t npairs, size_t flush)
{
    const int16_t *a[MR];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
        a[r] = g->a + min_sz(i0 + (size_t)r, g->m - 1) * g->lda;
    __m512i s64[MR][NV][2];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int c = 0; c < nv; c++)
            s64[r][c][0] = s64[r][c][1] = _mm512_setzero_si512();
    for (size_t t0 = 0; t0 < npairs; t0 += flush) {
        size_t t1 = min_sz(npairs, t0 + flush);
        __m512i acc[MR][NV];
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
            for (int c = 0; c < nv; c++)
                acc[r][c] = _mm512_setzero_si512();
        const int16_t *bp = g->b + t0 * g->ldb + 2 * j0;
        for (size_t t = t0; t < t1; t++, bp += g->ldb) {
            __m512i bv[NV];
#pragma GCC unroll 4
            for (int c = 0; c < nv; c++)
                bv[c] = _mm512_load_si512((const void *)(bp + 32 * c));
#pragma GCC unroll 8
            for (int r = 0; r < mr; r++) {
                int32_t pair;
                memcpy(&pair, a[r] + 2 * t, sizeof pair);
                __m512i av = _mm512_set1_epi32(pair);
#pragma GCC unroll 4
                for (int c = 0; c < nv; c++)
                    acc[r][c] = K_MAC(acc[r][c], av, bv[c]);
            }
        }
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
            for (int c = 0; c < nv; c++) {
                s64[r][c][0] = _mm512_add_epi64(s64[r][c][0], _mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc[r][c])));
                s64[r][c][1] =
                    _mm512_add_epi64(s64[r][c][1], _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(acc[r][c], 1)));
            }
    }
    for (size_t r = 0; r < rows; r++) {
        size_t i = i0 + r;
        int64_t *crow = g->c + i * g->ldc;
        __m512i brow = _mm512_set1_epi64(g->bias ? g->bias[i] : 0);
        for (int c = 0; c < nv; c++)
            for (int h = 0; h < 2; h++) {
                size_t j = j0 + 16 * (size_t)c + 8 * (size_t)h;
                if (j >= g->n)
                    break;
                __mmask8 mk = g->n - j >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << (g->n - j)) - 1);
                _mm512_mask_storeu_epi64(crow + j, mk, _mm512_add_epi64(s64[r][c][h], brow));
            }
    }
}

K_TARGET static void K_NAME(gemm)(const nn__gemm *g)
{
    uint64_t safe = nn__i32_safe_products(g->a_bits, g->b_bits);
    if (safe < 2 || g->m == 0 || g->n == 0) {
        nn__gemm_i16_scalar(g);
        return;
    }
    size_t flush = (size_t)(safe / 2), npairs = (g->k + 1) / 2;
    size_t n16 = (g->n + 15) / 16 * 16, j0 = 0;
    for (; j0 + 16 * NV <= n16; j0 += 16 * NV) {
        size_t i0 = 0;
        for (; i0 + MR <= g->m; i0 += MR)
            K_NAME(tile)(g, i0, j0, MR, NV, MR, npairs, flush);
        if (g->m - i0 == 1)
            K_NAME(tile)(g, i0, j0, 1, NV, 1, npairs, flush);
        else if (g->m > i0)
            K_NAME(tile)(g, i0, j0, MR, NV, g->m - i0, npairs, flush);
    }
    for (; j0 < n16; j0 += 16) {
        size_t i0 = 0;
        for (; i0 + MR <= g->m; i0 += MR)
            K_NAME(tile)(g, i0, j0, MR, 1, MR, npairs, flush);
        if (g->m - i0 == 1)
            K_NAME(tile)(g, i0, j0, 1, 1, 1, npairs, flush);
        else if (g->m > i0)
            K_NAME(tile)(g, i0, j0, MR, 1, g->m - i0, npairs, flush);
    }
}
