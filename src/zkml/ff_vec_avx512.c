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

const ff__vec_kernels ff__vec_avx512 = {v_add, v_sub, v_mul, v_scale, v_axpy, v_dot, v_sum};
