/* Goldilocks arithmetic on SIMD lanes (internal). Every operation mirrors the scalar ff.h code
 * step by step, so results are canonical and bit-identical to it.
 *
 * Multiplication: 64x64 -> 128 from four 32x32 partial products (vpmuludq), then the
 * reduction of ff_reduce128 (2^64 = 2^32 - 1, 2^96 = -1 mod p). Functions carry target
 * attributes so this header can be included from files built without -mavx2/-mavx512f; only
 * code paths selected by the runtime dispatch call them. */
#ifndef ENCLAVEML_ZKML_FF_SIMD_H
#define ENCLAVEML_ZKML_FF_SIMD_H

#include <immintrin.h>
#include <stdint.h>

#include "enclaveml/zkml/ff.h"

#define FF_AVX2_ATTR __attribute__((target("avx2"), always_inline)) static inline
#define FF_AVX512_ATTR __attribute__((target("avx512f,avx512dq"), always_inline)) static inline

/* ---- AVX2 (4 lanes) ---------------------------------------------------------------------- */
/* AVX2 has only signed 64-bit compares: flipping the sign bit maps unsigned order to signed. */
FF_AVX2_ATTR __m256i ff4_lt(__m256i x, __m256i y) /* all-ones where x < y (unsigned) */
{
    const __m256i sb = _mm256_set1_epi64x((long long)0x8000000000000000ULL);
    return _mm256_cmpgt_epi64(_mm256_xor_si256(y, sb), _mm256_xor_si256(x, sb));
}

FF_AVX2_ATTR __m256i ff4_add(__m256i x, __m256i y)
{
    const __m256i eps = _mm256_set1_epi64x((long long)FF_EPSILON);
    const __m256i pm1 = _mm256_set1_epi64x((long long)(FF_P - 1));
    __m256i s = _mm256_add_epi64(x, y);
    __m256i c = ff4_lt(s, x);
    /* no carry: s >= p -> s - p (= s + eps mod 2^64); carry: s + eps (< p for canonical input) */
    __m256i ge = ff4_lt(pm1, s);
    __m256i fix = _mm256_and_si256(_mm256_or_si256(c, ge), eps);
    return _mm256_add_epi64(s, fix);
}

FF_AVX2_ATTR __m256i ff4_sub(__m256i x, __m256i y)
{
    const __m256i eps = _mm256_set1_epi64x((long long)FF_EPSILON);
    __m256i d = _mm256_sub_epi64(x, y);
    __m256i b = ff4_lt(x, y);
    return _mm256_sub_epi64(d, _mm256_and_si256(b, eps));
}

/* Reduce lo + 2^64*hi exactly like ff_reduce128. */
FF_AVX2_ATTR __m256i ff4_reduce(__m256i lo, __m256i hi)
{
    const __m256i eps = _mm256_set1_epi64x((long long)FF_EPSILON);
    const __m256i pm1 = _mm256_set1_epi64x((long long)(FF_P - 1));
    __m256i hh = _mm256_srli_epi64(hi, 32);
    __m256i t = _mm256_sub_epi64(lo, hh);
    __m256i b = ff4_lt(lo, hh);
    t = _mm256_sub_epi64(t, _mm256_and_si256(b, eps));
    __m256i m = _mm256_mul_epu32(hi, eps); /* (hi mod 2^32) * eps */
    __m256i r = _mm256_add_epi64(t, m);
    __m256i c = ff4_lt(r, t);
    r = _mm256_add_epi64(r, _mm256_and_si256(c, eps));
    __m256i ge = ff4_lt(pm1, r);
    return _mm256_add_epi64(r, _mm256_and_si256(ge, eps)); /* r - p == r + eps mod 2^64 */
}

FF_AVX2_ATTR __m256i ff4_mul(__m256i x, __m256i y)
{
    const __m256i lo32 = _mm256_set1_epi64x((long long)FF_EPSILON);
    __m256i xh = _mm256_srli_epi64(x, 32), yh = _mm256_srli_epi64(y, 32);
    __m256i ll = _mm256_mul_epu32(x, y);
    __m256i lh = _mm256_mul_epu32(x, yh);
    __m256i hl = _mm256_mul_epu32(xh, y);
    __m256i hh = _mm256_mul_epu32(xh, yh);
    __m256i t = _mm256_add_epi64(hl, _mm256_srli_epi64(ll, 32));
    __m256i u = _mm256_add_epi64(lh, _mm256_and_si256(t, lo32));
    __m256i lo = _mm256_or_si256(_mm256_slli_epi64(u, 32), _mm256_and_si256(ll, lo32));
    __m256i hi = _mm256_add_epi64(hh, _mm256_add_epi64(_mm256_srli_epi64(t, 32), _mm256_srli_epi64(u, 32)));
    return ff4_reduce(lo, hi);
}

/* ---- AVX-512 (8 lanes) --------------------------------------------------------------------- */
/* x + y - p computed as x - (p - y): the borrow of that subtraction is the "no wrap" case, so
 * one compare decides (canonical inputs: p - y lies in (0, p]). */
FF_AVX512_ATTR __m512i ff8_add(__m512i x, __m512i y)
{
    const __m512i p = _mm512_set1_epi64((long long)FF_P);
    __m512i np = _mm512_sub_epi64(p, y);
    __m512i t = _mm512_sub_epi64(x, np);
    return _mm512_mask_add_epi64(t, _mm512_cmplt_epu64_mask(x, np), t, p);
}

FF_AVX512_ATTR __m512i ff8_sub(__m512i x, __m512i y)
{
    const __m512i eps = _mm512_set1_epi64((long long)FF_EPSILON);
    __m512i d = _mm512_sub_epi64(x, y);
    __mmask8 b = _mm512_cmplt_epu64_mask(x, y);
    return _mm512_mask_sub_epi64(d, b, d, eps);
}

FF_AVX512_ATTR __m512i ff8_reduce(__m512i lo, __m512i hi)
{
    const __m512i eps = _mm512_set1_epi64((long long)FF_EPSILON);
    const __m512i p = _mm512_set1_epi64((long long)FF_P);
    __m512i hh = _mm512_srli_epi64(hi, 32);
    __m512i t = _mm512_sub_epi64(lo, hh);
    __mmask8 b = _mm512_cmplt_epu64_mask(lo, hh);
    t = _mm512_mask_sub_epi64(t, b, t, eps);
    __m512i m = _mm512_mul_epu32(hi, eps); /* (hi mod 2^32) * eps: one op instead of three */
    __m512i r = _mm512_add_epi64(t, m);
    __mmask8 c = _mm512_cmplt_epu64_mask(r, t);
    r = _mm512_mask_add_epi64(r, c, r, eps);
    __mmask8 ge = _mm512_cmpge_epu64_mask(r, p);
    return _mm512_mask_sub_epi64(r, ge, r, p);
}

/* The high halves come from a dword swap (any port) rather than a shift, and the low 64 bits of
 * the product are one masked swap merging u's low half over ll's high half. */
FF_AVX512_ATTR __m512i ff8_mul(__m512i x, __m512i y)
{
    const __m512i lo32 = _mm512_set1_epi64((long long)FF_EPSILON);
    __m512i xh = _mm512_shuffle_epi32(x, _MM_PERM_CDAB), yh = _mm512_shuffle_epi32(y, _MM_PERM_CDAB);
    __m512i ll = _mm512_mul_epu32(x, y);
    __m512i lh = _mm512_mul_epu32(x, yh);
    __m512i hl = _mm512_mul_epu32(xh, y);
    __m512i hh = _mm512_mul_epu32(xh, yh);
    __m512i t = _mm512_add_epi64(hl, _mm512_srli_epi64(ll, 32));
    __m512i u = _mm512_add_epi64(lh, _mm512_and_si512(t, lo32));
    __m512i lo = _mm512_mask_shuffle_epi32(ll, 0xAAAA, u, _MM_PERM_CDAB);
    __m512i hi = _mm512_add_epi64(hh, _mm512_add_epi64(_mm512_srli_epi64(t, 32), _mm512_srli_epi64(u, 32)));
    return ff8_reduce(lo, hi);
}

/* 7x (7 = FF_EXT_W, the extension's non-residue) as 8x - x without a full multiplication:
 * 8x = (x << 3) + (x >> 61) * 2^64 and 2^64 = 2^32 - 1 (mod p), giving s = 8x (mod p) with
 * s < 2^64. s need not be reduced below p before the subtraction: s >= p implies
 * x >= 2^32 - 1 (else 8x < 2^35), so s - x < p, and a borrow (s < x) gives s - x + p in (0, p).
 * Either way the result is canonical 7x. */
_Static_assert(FF_EXT_W == 7, "ff8_mul7 hard-codes the non-residue");
FF_AVX512_ATTR __m512i ff8_mul7(__m512i x)
{
    const __m512i eps = _mm512_set1_epi64((long long)FF_EPSILON);
    __m512i lo = _mm512_slli_epi64(x, 3), hi = _mm512_srli_epi64(x, 61);
    __m512i s = _mm512_add_epi64(lo, _mm512_sub_epi64(_mm512_slli_epi64(hi, 32), hi));
    s = _mm512_mask_add_epi64(s, _mm512_cmplt_epu64_mask(s, lo), s, eps);
    return ff8_sub(s, x);
}

/* F_p2 product on split coordinates, 8 lanes: (xa + xb X)(ya + yb X) =
 * xa ya + 7 xb yb + ((xa + xb)(ya + yb) - xa ya - xb yb) X, three multiplications (Karatsuba)
 * and a cheap multiplication by 7; equal to ff2_mul lane by lane. */
FF_AVX512_ATTR void ff8_mul2(__m512i xa, __m512i xb, __m512i ya, __m512i yb, __m512i *ra, __m512i *rb)
{
    __m512i ac = ff8_mul(xa, ya), bd = ff8_mul(xb, yb);
    __m512i m = ff8_mul(ff8_add(xa, xb), ff8_add(ya, yb));
    *rb = ff8_sub(ff8_sub(m, ac), bd);
    *ra = ff8_add(ac, ff8_mul7(bd));
}

#endif
