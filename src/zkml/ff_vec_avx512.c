/* AVX-512 tier of ff_vec (8 lanes); tails use the scalar ff.h functions. */
#include "ff_simd.h"
#include "ff_vec_impl.h"

#define T __attribute__((target("avx512f,avx512dq")))
#define LD(p) _mm512_loadu_si512((const void *)(p))
#define ST(p, v) _mm512_storeu_si512((void *)(p), v)

T static void v_add(ff_t *out, const ff_t *a, const ff_t *b, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        ST(out + i, ff8_add(LD(a + i), LD(b + i)));
    for (; i < n; i++)
        out[i] = ff_add(a[i], b[i]);
}

T static void v_sub(ff_t *out, const ff_t *a, const ff_t *b, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        ST(out + i, ff8_sub(LD(a + i), LD(b + i)));
    for (; i < n; i++)
        out[i] = ff_sub(a[i], b[i]);
}

T static void v_mul(ff_t *out, const ff_t *a, const ff_t *b, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        ST(out + i, ff8_mul(LD(a + i), LD(b + i)));
    for (; i < n; i++)
        out[i] = ff_mul(a[i], b[i]);
}

T static void v_scale(ff_t *out, const ff_t *a, ff_t s, size_t n)
{
    __m512i sv = _mm512_set1_epi64((long long)s);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        ST(out + i, ff8_mul(LD(a + i), sv));
    for (; i < n; i++)
        out[i] = ff_mul(a[i], s);
}

T static void v_axpy(ff_t *y, ff_t s, const ff_t *x, size_t n)
{
    __m512i sv = _mm512_set1_epi64((long long)s);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        ST(y + i, ff8_add(LD(y + i), ff8_mul(LD(x + i), sv)));
    for (; i < n; i++)
        y[i] = ff_add(y[i], ff_mul(x[i], s));
}

T static ff_t hsum(__m512i acc)
{
    ff_t l[8], r = 0;
    ST(l, acc);
    for (int k = 0; k < 8; k++)
        r = ff_add(r, l[k]);
    return r;
}

T static ff_t v_dot(const ff_t *a, const ff_t *b, size_t n)
{
    __m512i acc = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        acc = ff8_add(acc, ff8_mul(LD(a + i), LD(b + i)));
    ff_t r = hsum(acc);
    for (; i < n; i++)
        r = ff_add(r, ff_mul(a[i], b[i]));
    return r;
}

T static ff_t v_sum(const ff_t *a, size_t n)
{
    __m512i acc = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        acc = ff8_add(acc, LD(a + i));
    ff_t r = hsum(acc);
    for (; i < n; i++)
        r = ff_add(r, a[i]);
    return r;
}

/* ---- extension field: 8 elements per step, coordinates split into an a-vector and a b-vector */
T static void ld2(const ff2_t *p, __m512i *a, __m512i *b)
{
    const __m512i ev = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), od = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
    __m512i v0 = _mm512_loadu_si512((const void *)p), v1 = _mm512_loadu_si512((const void *)(p + 4));
    *a = _mm512_permutex2var_epi64(v0, ev, v1);
    *b = _mm512_permutex2var_epi64(v0, od, v1);
}

T static void st2(ff2_t *p, __m512i a, __m512i b)
{
    const __m512i lo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), hi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    _mm512_storeu_si512((void *)p, _mm512_permutex2var_epi64(a, lo, b));
    _mm512_storeu_si512((void *)(p + 4), _mm512_permutex2var_epi64(a, hi, b));
}

T static ff2_t hsum2(__m512i a, __m512i b) { return (ff2_t){hsum(a), hsum(b)}; }

T void ff__ff2_mul_avx512(ff2_t *out, const ff2_t *a, const ff2_t *b, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512i xa, xb, ya, yb, ra, rb;
        ld2(a + i, &xa, &xb);
        ld2(b + i, &ya, &yb);
        ff8_mul2(xa, xb, ya, yb, &ra, &rb);
        st2(out + i, ra, rb);
    }
    for (; i < n; i++)
        out[i] = ff2_mul(a[i], b[i]);
}

T ff2_t ff__ff2_dot_avx512(const ff2_t *a, const ff2_t *b, size_t n)
{
    __m512i sa = _mm512_setzero_si512(), sb = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512i xa, xb, ya, yb, ra, rb;
        ld2(a + i, &xa, &xb);
        ld2(b + i, &ya, &yb);
        ff8_mul2(xa, xb, ya, yb, &ra, &rb);
        sa = ff8_add(sa, ra);
        sb = ff8_add(sb, rb);
    }
    ff2_t r = hsum2(sa, sb);
    for (; i < n; i++)
        r = ff2_add(r, ff2_mul(a[i], b[i]));
    return r;
}

T ff2_t ff__ff2_dot_base_avx512(const ff2_t *a, const ff_t *b, size_t n)
{
    __m512i sa = _mm512_setzero_si512(), sb = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512i xa, xb, y = LD(b + i);
        ld2(a + i, &xa, &xb);
        sa = ff8_add(sa, ff8_mul(xa, y));
        sb = ff8_add(sb, ff8_mul(xb, y));
    }
    ff2_t r = hsum2(sa, sb);
    for (; i < n; i++)
        r = ff2_add(r, ff2_mul_base(a[i], b[i]));
    return r;
}

T void ff__ff2_fold_avx512(ff2_t *out, const ff2_t *t, size_t half, ff2_t r)
{
    const __m512i ev = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), od = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
    const __m512i ra = _mm512_set1_epi64((long long)r.a), rb = _mm512_set1_epi64((long long)r.b);
    size_t i = 0;
    /* out[i..i+8) is written after t[2i..2i+16) is read, and later reads start beyond it, so
     * in-place folding is safe. */
    for (; i + 8 <= half; i += 8) {
        __m512i a0, b0, a1, b1;
        ld2(t + 2 * i, &a0, &b0);
        ld2(t + 2 * i + 8, &a1, &b1);
        __m512i loa = _mm512_permutex2var_epi64(a0, ev, a1), hia = _mm512_permutex2var_epi64(a0, od, a1);
        __m512i lob = _mm512_permutex2var_epi64(b0, ev, b1), hib = _mm512_permutex2var_epi64(b0, od, b1);
        __m512i pa, pb;
        ff8_mul2(ra, rb, ff8_sub(hia, loa), ff8_sub(hib, lob), &pa, &pb);
        st2(out + i, ff8_add(loa, pa), ff8_add(lob, pb));
    }
    for (; i < half; i++) {
        ff2_t lo = t[2 * i], hi = t[2 * i + 1];
        out[i] = ff2_add(lo, ff2_mul(r, ff2_sub(hi, lo)));
    }
}

T void ff__ff2_eq_step_avx512(ff2_t *t, size_t half, ff2_t r)
{
    const __m512i ra = _mm512_set1_epi64((long long)r.a), rb = _mm512_set1_epi64((long long)r.b);
    size_t i = 0;
    for (; i + 8 <= half; i += 8) {
        __m512i a, b, pa, pb;
        ld2(t + i, &a, &b);
        ff8_mul2(a, b, ra, rb, &pa, &pb);
        st2(t + i + half, pa, pb);
        st2(t + i, ff8_sub(a, pa), ff8_sub(b, pb));
    }
    for (; i < half; i++) {
        ff2_t hi = ff2_mul(t[i], r);
        t[i + half] = hi;
        t[i] = ff2_sub(t[i], hi);
    }
}

T void ff__fold_base_avx512(ff2_t *out, const ff_t *t, size_t half, ff2_t r)
{
    const __m512i ev = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), od = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
    const __m512i ra = _mm512_set1_epi64((long long)r.a), rb = _mm512_set1_epi64((long long)r.b);
    size_t i = 0;
    for (; i + 8 <= half; i += 8) {
        __m512i v0 = LD(t + 2 * i), v1 = LD(t + 2 * i + 8);
        __m512i lo = _mm512_permutex2var_epi64(v0, ev, v1), hi = _mm512_permutex2var_epi64(v0, od, v1);
        __m512i d = ff8_sub(hi, lo);
        st2(out + i, ff8_add(lo, ff8_mul(d, ra)), ff8_mul(d, rb));
    }
    for (; i < half; i++)
        out[i] = ff2_add(ff2_from_base(t[2 * i]), ff2_mul_base(r, ff_sub(t[2 * i + 1], t[2 * i])));
}

const ff__vec_kernels ff__vec_avx512 = {v_add, v_sub, v_mul, v_scale, v_axpy, v_dot, v_sum};
