/* ff_vec: scalar reference kernels, batch inversion and the once-probed SIMD dispatch. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ff_vec_impl.h"

static void s_add(ff_t *out, const ff_t *a, const ff_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = ff_add(a[i], b[i]);
}

static void s_sub(ff_t *out, const ff_t *a, const ff_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = ff_sub(a[i], b[i]);
}

static void s_mul(ff_t *out, const ff_t *a, const ff_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = ff_mul(a[i], b[i]);
}

static void s_scale(ff_t *out, const ff_t *a, ff_t s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = ff_mul(a[i], s);
}

static void s_axpy(ff_t *y, ff_t s, const ff_t *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = ff_add(y[i], ff_mul(x[i], s));
}

static ff_t s_dot(const ff_t *a, const ff_t *b, size_t n)
{
    ff_t r = 0;
    for (size_t i = 0; i < n; i++)
        r = ff_add(r, ff_mul(a[i], b[i]));
    return r;
}

static ff_t s_sum(const ff_t *a, size_t n)
{
    ff_t r = 0;
    for (size_t i = 0; i < n; i++)
        r = ff_add(r, a[i]);
    return r;
}

static const ff__vec_kernels k_scalar = {s_add, s_sub, s_mul, s_scale, s_axpy, s_dot, s_sum};

static _Atomic int g_tier = -1;

int ff_vec_tier_supported(ff_vec_tier t)
{
    __builtin_cpu_init();
    switch (t) {
    case FF_VEC_SCALAR:
        return 1;
    case FF_VEC_AVX2:
        return __builtin_cpu_supports("avx2");
    case FF_VEC_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
    }
    return 0;
}

const char *ff_vec_tier_name(ff_vec_tier t)
{
    switch (t) {
    case FF_VEC_SCALAR:
        return "scalar";
    case FF_VEC_AVX2:
        return "avx2";
    case FF_VEC_AVX512:
        return "avx512";
    }
    return "?";
}

static int probe_tier(void)
{
    int best = FF_VEC_SCALAR;
    if (ff_vec_tier_supported(FF_VEC_AVX2))
        best = FF_VEC_AVX2;
    if (ff_vec_tier_supported(FF_VEC_AVX512))
        best = FF_VEC_AVX512;
    /* EM_FF_TIER can only lower the tier: forcing an unsupported one would crash. */
    const char *env = getenv("EM_FF_TIER");
    if (env) {
        for (int t = FF_VEC_SCALAR; t <= FF_VEC_AVX512; t++)
            if (strcmp(env, ff_vec_tier_name((ff_vec_tier)t)) == 0 && t < best)
                best = t;
    }
    return best;
}

ff_vec_tier ff_vec_tier_get(void)
{
    int t = atomic_load_explicit(&g_tier, memory_order_relaxed);
    if (t < 0) {
        t = probe_tier();
        atomic_store_explicit(&g_tier, t, memory_order_relaxed);
    }
    return (ff_vec_tier)t;
}

em_status ff_vec_tier_set(ff_vec_tier t)
{
    if ((int)t < FF_VEC_SCALAR || (int)t > FF_VEC_AVX512 || !ff_vec_tier_supported(t))
        return EM_ERR_UNSUPPORTED;
    atomic_store_explicit(&g_tier, (int)t, memory_order_relaxed);
    return EM_OK;
}

static const ff__vec_kernels *kernels(void)
{
    switch (ff_vec_tier_get()) {
    case FF_VEC_AVX512:
        return &ff__vec_avx512;
    case FF_VEC_AVX2:
        return &ff__vec_avx2;
    default:
        return &k_scalar;
    }
}

void ff_vec_add(ff_t *out, const ff_t *a, const ff_t *b, size_t n) { kernels()->add(out, a, b, n); }
void ff_vec_sub(ff_t *out, const ff_t *a, const ff_t *b, size_t n) { kernels()->sub(out, a, b, n); }
void ff_vec_mul(ff_t *out, const ff_t *a, const ff_t *b, size_t n) { kernels()->mul(out, a, b, n); }
void ff_vec_scale(ff_t *out, const ff_t *a, ff_t s, size_t n) { kernels()->scale(out, a, s, n); }
void ff_vec_axpy(ff_t *y, ff_t s, const ff_t *x, size_t n) { kernels()->axpy(y, s, x, n); }
ff_t ff_vec_dot(const ff_t *a, const ff_t *b, size_t n) { return kernels()->dot(a, b, n); }
ff_t ff_vec_sum(const ff_t *a, size_t n) { return kernels()->sum(a, n); }

/* ---- extension-field kernels -------------------------------------------------------------- */
void ff2_vec_mul(ff2_t *out, const ff2_t *a, const ff2_t *b, size_t n)
{
    if (ff_vec_tier_get() == FF_VEC_AVX512) {
        ff__ff2_mul_avx512(out, a, b, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = ff2_mul(a[i], b[i]);
}

ff2_t ff2_vec_dot(const ff2_t *a, const ff2_t *b, size_t n)
{
    if (ff_vec_tier_get() == FF_VEC_AVX512)
        return ff__ff2_dot_avx512(a, b, n);
    ff2_t r = ff2_zero();
    for (size_t i = 0; i < n; i++)
        r = ff2_add(r, ff2_mul(a[i], b[i]));
    return r;
}

ff2_t ff2_vec_dot_base(const ff2_t *a, const ff_t *b, size_t n)
{
    if (ff_vec_tier_get() == FF_VEC_AVX512)
        return ff__ff2_dot_base_avx512(a, b, n);
    ff2_t r = ff2_zero();
    for (size_t i = 0; i < n; i++)
        r = ff2_add(r, ff2_mul_base(a[i], b[i]));
    return r;
}

void ff2_vec_fold(ff2_t *out, const ff2_t *t, size_t half, ff2_t r)
{
    if (ff_vec_tier_get() == FF_VEC_AVX512) {
        ff__ff2_fold_avx512(out, t, half, r);
        return;
    }
    for (size_t i = 0; i < half; i++) {
        ff2_t lo = t[2 * i], hi = t[2 * i + 1]; /* read both before out[i] (may alias) */
        out[i] = ff2_add(lo, ff2_mul(r, ff2_sub(hi, lo)));
    }
}

/* flatten: the scalar loop with ff2_mul inline (GCC -O2 keeps it out of line otherwise) */
__attribute__((flatten)) void ff2_vec_eq_step(ff2_t *t, size_t half, ff2_t r)
{
    if (ff_vec_tier_get() == FF_VEC_AVX512) {
        ff__ff2_eq_step_avx512(t, half, r);
        return;
    }
    for (size_t i = 0; i < half; i++) {
        ff2_t hi = ff2_mul(t[i], r);
        t[i + half] = hi;
        t[i] = ff2_sub(t[i], hi);
    }
}

void ff_vec_fold_base(ff2_t *out, const ff_t *t, size_t half, ff2_t r)
{
    if (ff_vec_tier_get() == FF_VEC_AVX512) {
        ff__fold_base_avx512(out, t, half, r);
        return;
    }
    for (size_t i = 0; i < half; i++)
        out[i] = ff2_add(ff2_from_base(t[2 * i]), ff2_mul_base(r, ff_sub(t[2 * i + 1], t[2 * i])));
}

/* Prefix products skip zeros, so a zero input neither poisons the single inversion nor needs a
 * branch-free trick; its output is set to 0 explicitly. (Interleaving several product chains
 * to hide multiplier latency was measured slower on this machine.) */
size_t ff_batch_inv(ff_t *out, const ff_t *in, size_t n, ff_t *scratch)
{
    size_t zeros = 0;
    ff_t acc = 1;
    for (size_t i = 0; i < n; i++) {
        scratch[i] = acc;
        if (in[i])
            acc = ff_mul(acc, in[i]);
        else
            zeros++;
    }
    ff_t inv = ff_inv(acc);
    for (size_t i = n; i-- > 0;) {
        ff_t x = in[i]; /* read before out[i] is written: out may alias in */
        if (x) {
            out[i] = ff_mul(inv, scratch[i]);
            inv = ff_mul(inv, x);
        } else {
            out[i] = 0;
        }
    }
    return zeros;
}

size_t ff2_batch_inv(ff2_t *out, const ff2_t *in, size_t n, ff2_t *scratch)
{
    size_t zeros = 0;
    ff2_t acc = ff2_one();
    for (size_t i = 0; i < n; i++) {
        scratch[i] = acc;
        if (!ff2_is_zero(in[i]))
            acc = ff2_mul(acc, in[i]);
        else
            zeros++;
    }
    ff2_t inv = ff2_inv(acc);
    for (size_t i = n; i-- > 0;) {
        ff2_t x = in[i];
        if (!ff2_is_zero(x)) {
            out[i] = ff2_mul(inv, scratch[i]);
            inv = ff2_mul(inv, x);
        } else {
            out[i] = ff2_zero();
        }
    }
    return zeros;
}
