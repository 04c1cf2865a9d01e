/* AVX2 tier of ff_vec (4 lanes); tails use the scalar ff.h functions. */
#include "ff_simd.h"
#include "ff_vec_impl.h"

#define T __attribute__((target("avx2")))
#define LD(p) _mm256_loadu_si256((const __m256i *)(p))
#define ST(p, v) _mm256_storeu_si256((__m256i *)(p), v)

T static void v_add(ff_t *out, const ff_t *a, const ff_t *b, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        ST(out + i, ff4_add(LD(a + i), LD(b + i)));
    for (; i < n; i++)
        out[i] = ff_add(a[i], b[i]);
}

T static void v_sub(ff_t *out, const ff_t *a, const ff_t *b, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        ST(out + i, ff4_sub(LD(a + i), LD(b + i)));
    for (; i < n; i++)
        out[i] = ff_sub(a[i], b[i]);
}

T static void v_mul(ff_t *out, const ff_t *a, const ff_t *b, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        ST(out + i, ff4_mul(LD(a + i), LD(b + i)));
    for (; i < n; i++)
        out[i] = ff_mul(a[i], b[i]);
}

T static void v_scale(ff_t *out, const ff_t *a, ff_t s, size_t n)
{
    __m256i sv = _mm256_set1_epi64x((long long)s);
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        ST(out + i, ff4_mul(LD(a + i), sv));
    for (; i < n; i++)
        out[i] = ff_mul(a[i], s);
}

T static void v_axpy(ff_t *y, ff_t s, const ff_t *x, size_t n)
{
    __m256i sv = _mm256_set1_epi64x((long long)s);
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        ST(y + i, ff4_add(LD(y + i), ff4_mul(LD(x + i), sv)));
    for (; i < n; i++)
        y[i] = ff_add(y[i], ff_mul(x[i], s));
}

T static ff_t hsum(__m256i acc)
{
    ff_t l[4];
    ST(l, acc);
    return ff_add(ff_add(l[0], l[1]), ff_add(l[2], l[3]));
}

T static ff_t v_dot(const ff_t *a, const ff_t *b, size_t n)
{
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        acc = ff4_add(acc, ff4_mul(LD(a + i), LD(b + i)));
    ff_t r = hsum(acc);
    for (; i < n; i++)
        r = ff_add(r, ff_mul(a[i], b[i]));
    return r;
}

T static ff_t v_sum(const ff_t *a, size_t n)
{
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        acc = ff4_add(acc, LD(a + i));
    ff_t r = hsum(acc);
    for (; i < n; i++)
        r = ff_add(r, a[i]);
    return r;
}

const ff__vec_kernels ff__vec_avx2 = {v_add, v_sub, v_mul, v_scale, v_axpy, v_dot, v_sum};
