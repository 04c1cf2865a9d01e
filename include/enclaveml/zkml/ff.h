/* Goldilocks prime field p = 2^64 - 2^32 + 1 and its quadratic extension F_p[X]/(X^2 - 7).
 *
 * Elements are uint64_t in canonical form [0, p). Every function here keeps that invariant;
 * ff_is_canonical() is what deserializers must check on untrusted input. These are the scalar
 * reference implementations (constant-time except ff_inv's exponent loop, which is fixed). */
#ifndef ENCLAVEML_ZKML_FF_H
#define ENCLAVEML_ZKML_FF_H

#include <stddef.h>
#include <stdint.h>

#include "enclaveml/core.h"

#define FF_P 0xFFFFFFFF00000001ULL
#define FF_EPSILON 0xFFFFFFFFULL /* 2^64 mod p */
/* Quadratic non-residue used for the extension: X^2 = FF_EXT_W. */
#define FF_EXT_W 7ULL

typedef uint64_t ff_t;
/* a + b*X with X^2 = 7 */
typedef struct ff2_t {
    ff_t a, b;
} ff2_t;
/* arrays of ff2_t are read and written as arrays of 2n ff_t (SIMD kernels, bulk decoding) */
_Static_assert(sizeof(ff2_t) == 2 * sizeof(ff_t) && offsetof(ff2_t, b) == sizeof(ff_t), "ff2_t is two packed ff_t");

static inline int ff_is_canonical(uint64_t x) { return x < FF_P; }

#define FF_INLINE static inline __attribute__((always_inline))

FF_INLINE ff_t ff_add(ff_t x, ff_t y)
{
    uint64_t s, u;
    unsigned c = __builtin_add_overflow(x, y, &s);
    /* On carry the true sum is s + 2^64 = s + eps (mod p), and then s + eps <= p - 1. Without
     * carry subtract p once if needed. Written so the compiler emits cmov, not branches. */
    uint64_t t = s + ((0 - (uint64_t)c) & FF_EPSILON);
    unsigned b = __builtin_sub_overflow(t, FF_P, &u);
    return b ? t : u;
}

FF_INLINE ff_t ff_sub(ff_t x, ff_t y)
{
    uint64_t d;
    unsigned b = __builtin_sub_overflow(x, y, &d);
    return b ? d - FF_EPSILON : d; /* d + p = d - 2^64 + p = d - eps (mod 2^64) */
}

static inline ff_t ff_neg(ff_t x) { return x ? FF_P - x : 0; }

/* Reduce a 128-bit product: x = lo + 2^64*(hh*2^32 + hl), 2^64 = eps, 2^96 = -1. */
FF_INLINE ff_t ff_reduce128(unsigned __int128 x)
{
    uint64_t lo = (uint64_t)x, hi = (uint64_t)(x >> 64);
    uint64_t hh = hi >> 32, hl = hi & FF_EPSILON;
    uint64_t t;
    unsigned b = __builtin_sub_overflow(lo, hh, &t);
    if (b)
        t -= FF_EPSILON;
    uint64_t m = hl * FF_EPSILON; /* < 2^64 */
    uint64_t r;
    unsigned c = __builtin_add_overflow(t, m, &r);
    if (c)
        r += FF_EPSILON;
    if (r >= FF_P)
        r -= FF_P;
    return r;
}

FF_INLINE ff_t ff_mul(ff_t x, ff_t y) { return ff_reduce128((unsigned __int128)x * y); }
static inline ff_t ff_sqr(ff_t x) { return ff_mul(x, x); }

static inline ff_t ff_pow(ff_t x, uint64_t e)
{
    ff_t r = 1;
    while (e) {
        if (e & 1)
            r = ff_mul(r, x);
        x = ff_mul(x, x);
        e >>= 1;
    }
    return r;
}

/* Inverse by Fermat; ff_inv(0) = 0 (callers that need a non-zero check do it themselves). */
static inline ff_t ff_inv(ff_t x) { return ff_pow(x, FF_P - 2); }

/* Reduce any uint64 (possibly >= p). */
static inline ff_t ff_from_u64(uint64_t x) { return x >= FF_P ? x - FF_P : x; }
/* Signed integers map to p - |x| for negatives. */
static inline ff_t ff_from_i64(int64_t x)
{
    return x >= 0 ? ff_from_u64((uint64_t)x) : ff_neg(ff_from_u64((uint64_t)0 - (uint64_t)x));
}
/* Centered lift: values above p/2 are negative. */
static inline int64_t ff_to_i64(ff_t x) { return x > FF_P / 2 ? -(int64_t)(FF_P - x) : (int64_t)x; }

/* ---- extension field --------------------------------------------------------------------- */
static inline ff2_t ff2_from_base(ff_t x) { return (ff2_t){x, 0}; }
static inline ff2_t ff2_zero(void) { return (ff2_t){0, 0}; }
static inline ff2_t ff2_one(void) { return (ff2_t){1, 0}; }
static inline int ff2_eq(ff2_t x, ff2_t y) { return x.a == y.a && x.b == y.b; }
static inline int ff2_is_zero(ff2_t x) { return (x.a | x.b) == 0; }
FF_INLINE ff2_t ff2_add(ff2_t x, ff2_t y) { return (ff2_t){ff_add(x.a, y.a), ff_add(x.b, y.b)}; }
FF_INLINE ff2_t ff2_sub(ff2_t x, ff2_t y) { return (ff2_t){ff_sub(x.a, y.a), ff_sub(x.b, y.b)}; }
static inline ff2_t ff2_neg(ff2_t x) { return (ff2_t){ff_neg(x.a), ff_neg(x.b)}; }
FF_INLINE ff2_t ff2_mul_base(ff2_t x, ff_t y) { return (ff2_t){ff_mul(x.a, y), ff_mul(x.b, y)}; }

FF_INLINE ff2_t ff2_mul(ff2_t x, ff2_t y)
{
    /* (a + bX)(c + dX) = ac + 7bd + (ad + bc)X; Karatsuba for the cross term. */
    ff_t ac = ff_mul(x.a, y.a), bd = ff_mul(x.b, y.b);
    ff_t cross = ff_sub(ff_sub(ff_mul(ff_add(x.a, x.b), ff_add(y.a, y.b)), ac), bd);
    return (ff2_t){ff_add(ac, ff_mul(bd, FF_EXT_W)), cross};
}

static inline ff2_t ff2_sqr(ff2_t x) { return ff2_mul(x, x); }

/* Inverse via the norm: (a + bX)^-1 = (a - bX) / (a^2 - 7b^2). ff2_inv(0) = 0. */
static inline ff2_t ff2_inv(ff2_t x)
{
    ff_t n = ff_sub(ff_sqr(x.a), ff_mul(ff_sqr(x.b), FF_EXT_W));
    ff_t ni = ff_inv(n);
    return (ff2_t){ff_mul(x.a, ni), ff_neg(ff_mul(x.b, ni))};
}

/* ---- non-inline helpers (src/zkml/ff.c) ------------------------------------------------- */
#define FF_GENERATOR 7ULL  /* generates the multiplicative group F_p^* */
#define FF_INV2 0x7FFFFFFF80000001ULL /* 1/2 = (p + 1) / 2, for interpolation weights */
#define FF_INV6 0xD555555480000001ULL /* 1/6 */
#define FF_TWO_ADICITY 32  /* 2^32 divides p - 1 */
#define FF_BYTES 8
#define FF2_BYTES 16

/* The primitive 2^log_n-th root of unity 7^((p-1)/2^log_n), log_n <= FF_TWO_ADICITY
 * (returns 0 for larger log_n). Successive roots square into each other. */
ff_t ff_root_of_unity(unsigned log_n);
/* Canonical little-endian encodings; decoders reject values >= p (EM_ERR_RANGE). ff2: a then b. */
void ff_encode(ff_t x, uint8_t out[FF_BYTES]);
em_status ff_decode(const uint8_t in[FF_BYTES], ff_t *out, em_err *err) EM_WARN_UNUSED;
void ff2_encode(ff2_t x, uint8_t out[FF2_BYTES]);
em_status ff2_decode(const uint8_t in[FF2_BYTES], ff2_t *out, em_err *err) EM_WARN_UNUSED;
/* Read one canonical element from an untrusted reader. */
em_status ff_read(em_reader *r, ff_t *out, em_err *err) EM_WARN_UNUSED;
em_status ff2_read(em_reader *r, ff2_t *out, em_err *err) EM_WARN_UNUSED;

#endif
