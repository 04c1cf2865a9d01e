/* Dense layer: Thaler's matmul sumcheck, specialised to integer matrices.
 *
 * Claim: S = sum_k A~(rho_b, k) * W~(rho_j, k). The prover folds the integer matrices with eq
 * tables (A row-fold over the batch, W row-fold over the outputs; O(B*n + m*n) work, exact
 * 128-bit integer accumulation, one reduction per column), then runs the degree-2 sumcheck of
 * sumcheck.h over the n_in variables (its product-of-two-tables path). */
#include <stdlib.h>
#include <string.h>

#include <immintrin.h>

#include "enclaveml/zkml/ff_vec.h"
#include "enclaveml/zkml/ml.h"
#include "enclaveml/zkml/sumcheck.h"
#include "ff_simd.h"
#include "zk_internal.h"

/* Signed 128-bit accumulator -> field element. */
static ff_t red_i128(__int128 v)
{
    unsigned __int128 mag = v < 0 ? (unsigned __int128)(-v) : (unsigned __int128)v;
    ff_t r = ff_reduce128(mag);
    return v < 0 ? ff_neg(r) : r;
}

/* out[k] = sum_{j<rows} eq[j] * m[j*ld + k] for k < cols; out[cols..pad) = 0. The eq values are
 * split into base coordinates and multiplied by the small integers without reduction: every
 * product is < 2^96 in magnitude and at most 2^24 rows are summed, so __int128 never overflows.
 * Accumulators are processed in column strips that stay in L1. */
#define ZK_STRIP 512
static void fold_rows_scalar(const int32_t *m, size_t rows, size_t cols, size_t ld, const ff2_t *eq, ff2_t *out)
{
    __int128 acc_a[ZK_STRIP], acc_b[ZK_STRIP];
    for (size_t c0 = 0; c0 < cols; c0 += ZK_STRIP) {
        size_t w = cols - c0 < ZK_STRIP ? cols - c0 : ZK_STRIP;
        memset(acc_a, 0, sizeof acc_a);
        memset(acc_b, 0, sizeof acc_b);
        for (size_t j = 0; j < rows; j++) {
            const int32_t *row = m + j * ld + c0;
            uint64_t ea = eq[j].a, eb = eq[j].b;
            if ((ea | eb) == 0)
                continue;
            if (eb == 0) {
                for (size_t k = 0; k < w; k++)
                    acc_a[k] += (__int128)ea * row[k];
            } else {
                for (size_t k = 0; k < w; k++) {
                    acc_a[k] += (__int128)ea * row[k];
                    acc_b[k] += (__int128)eb * row[k];
                }
            }
        }
        for (size_t k = 0; k < w; k++)
            out[c0 + k] = (ff2_t){red_i128(acc_a[k]), red_i128(acc_b[k])};
    }
}

/* The AVX-512 fold, exact like the scalar one. A row value v becomes u = v + 2^31 in [0, 2^32)
 * (the sign bit flipped), so sum eq v = sum eq u - 2^31 sum eq. Each eq coordinate is split into
 * limbs of 22, 22 and 20 bits; a limb times u is < 2^54, so a 64-bit lane adds 1024 rows of such
 * products without overflow before they move into 128-bit totals. Columns go in strips of 512
 * whose 64-bit accumulators stay in L1; rows go in groups of 8, each group sweeping its strip
 * with 8 contiguous streams (the matrix is read once, in order, which is what matters when it
 * comes from memory) and loading/storing each accumulator once per 8 rows. The last cols % 8
 * columns take the scalar fold. */
#define ZK_VROWS 1024
#define ZK_VSTRIP 512
enum { ZK_VL = 6 }; /* limbs: a0 a1 a2 b0 b1 b2 */

/* The strip loop of both kernels: for each group of 8 rows and each 8 columns, the NL
 * accumulators are loaded once, ROW(a, u, e) adds each row's offset values u times its limbs e
 * (E[row]), and they are stored back. A macro, not a function: the IFMA kernel must carry a
 * target the other may not (it runs on CPUs without IFMA). */
#define FOLD_STRIP_LOOP(m, ld, E, n, w, NL, acc, ROW)                                                          \
    do {                                                                                                       \
        const __m256i flip_ = _mm256_set1_epi32(INT32_MIN);                                                    \
        for (unsigned l_ = 0; l_ < (NL); l_++)                                                                 \
            memset((acc)[l_], 0, (w) * sizeof **(acc));                                                        \
        for (size_t j_ = 0; j_ < (n); j_ += 8) {                                                               \
            size_t g_ = (n) - j_ < 8 ? (n) - j_ : 8;                                                           \
            for (size_t c_ = 0; c_ < (w); c_ += 8) {                                                           \
                __m512i a_[ZK_VL];                                                                             \
                for (unsigned l_ = 0; l_ < (NL); l_++)                                                         \
                    a_[l_] = _mm512_load_si512((const void *)((acc)[l_] + c_));                                \
                for (size_t jj_ = 0; jj_ < g_; jj_++) {                                                        \
                    __m256i v_ = _mm256_loadu_si256((const __m256i *)((m) + (j_ + jj_) * (ld) + c_));          \
                    ROW(a_, _mm512_cvtepu32_epi64(_mm256_xor_si256(v_, flip_)), (E)[j_ + jj_], NL);            \
                }                                                                                              \
                for (unsigned l_ = 0; l_ < (NL); l_++)                                                         \
                    _mm512_store_si512((void *)((acc)[l_] + c_), a_[l_]);                                      \
            }                                                                                                  \
        }                                                                                                      \
    } while (0)

/* one row, 22-bit limbs: a[l] += u e[l] */
#define FOLD_ROW_MUL(a, u, e, NL)                                                                              \
    do {                                                                                                       \
        __m512i u_ = (u);                                                                                      \
        for (unsigned l = 0; l < (NL); l++)                                                                    \
            a[l] = _mm512_add_epi64(a[l], _mm512_mul_epu32(u_, _mm512_set1_epi64((long long)(e)[l])));        \
    } while (0)

__attribute__((target("avx512f"))) static void fold_strip3(const int32_t *m, size_t ld, const uint64_t (*E)[ZK_VL],
                                                            size_t n, size_t w, uint64_t (*acc)[ZK_VSTRIP])
{
    FOLD_STRIP_LOOP(m, ld, E, n, w, 3, acc, FOLD_ROW_MUL);
}

__attribute__((target("avx512f"))) static void fold_strip6(const int32_t *m, size_t ld, const uint64_t (*E)[ZK_VL],
                                                            size_t n, size_t w, uint64_t (*acc)[ZK_VSTRIP])
{
    FOLD_STRIP_LOOP(m, ld, E, n, w, 6, acc, FOLD_ROW_MUL);
}

/* With AVX-512 IFMA (vpmadd52luq/huq: the low or high 52 bits of a 52 x 52-bit product, added
 * to a 64-bit lane) each eq coordinate e is split as e0 + e1 2^52 (e0 < 2^52, e1 < 2^12), and
 * u e = lo52(u e0) + (hi52(u e0) + u e1) 2^52 takes three fused multiply-adds into three sums
 * (limbs a0 a1 a2 b0 b1 b2: the low products, the high products, the products by e1). Over 1024
 * rows the sums stay below 2^62, 2^42 and 2^54. Half the instructions of FOLD_ROW_MUL, with no
 * separate additions; limbs_total combines the sums. FOLD_ROW_IFMA is one row (l = 0, 3: the
 * two coordinates). */
#define FOLD_ROW_IFMA(a, u, e, NL)                                                                             \
    do {                                                                                                       \
        __m512i u_ = (u);                                                                                      \
        for (unsigned l = 0; l < (NL); l += 3) {                                                               \
            __m512i e0 = _mm512_set1_epi64((long long)(e)[l]);                                                 \
            a[l] = _mm512_madd52lo_epu64(a[l], u_, e0);                                                        \
            a[l + 1] = _mm512_madd52hi_epu64(a[l + 1], u_, e0);                                                \
            a[l + 2] = _mm512_madd52lo_epu64(a[l + 2], u_, _mm512_set1_epi64((long long)(e)[l + 1]));          \
        }                                                                                                      \
    } while (0)

__attribute__((target("avx512f,avx512ifma"))) static void fold_strip_ifma3(const int32_t *m, size_t ld,
                                                                           const uint64_t (*E)[ZK_VL], size_t n,
                                                                           size_t w, uint64_t (*acc)[ZK_VSTRIP])
{
    FOLD_STRIP_LOOP(m, ld, E, n, w, 3, acc, FOLD_ROW_IFMA);
}

__attribute__((target("avx512f,avx512ifma"))) static void fold_strip_ifma6(const int32_t *m, size_t ld,
                                                                           const uint64_t (*E)[ZK_VL], size_t n,
                                                                           size_t w, uint64_t (*acc)[ZK_VSTRIP])
{
    FOLD_STRIP_LOOP(m, ld, E, n, w, 6, acc, FOLD_ROW_IFMA);
}

/* Small values (session 12). Witness values, activations and int8 weights lie in [-256, 256): u =
 * v + 256 < 2^9, and with each eq coordinate split as e0 + e1 2^43 (e0 < 2^43, e1 < 2^21) both
 * u e0 < 2^52 and u e1 < 2^30 are exact in the low half of one vpmadd52luq: two fused
 * multiply-adds per coordinate instead of three, and the accumulators of two limbs instead of
 * three. Over 1024 rows the sums stay below 2^62 and 2^40. The kernel checks its values as it
 * goes (the OR of every u, tested once per strip); one value out of range makes the caller redo
 * the strip, and the rest of the fold, with the general kernel. nl: 2 (every b coordinate is 0)
 * or 4 limbs (a0 a1 b0 b1). */
#define ZK_SMALL_OFF 256
#define ZK_SMALL_SPLIT 43
/* the exactness above: u e0 within vpmadd52luq's 52-bit low half, a strip's row sums in 64 bits */
_Static_assert(2 * ZK_SMALL_OFF == 1 << 9 && 9 + ZK_SMALL_SPLIT <= 52, "u e0 < 2^52");
_Static_assert(9 + (64 - ZK_SMALL_SPLIT) <= 52, "u e1 < 2^52 (e1 = a >> ZK_SMALL_SPLIT)");
_Static_assert(ZK_VROWS <= (1ull << (64 - 9 - ZK_SMALL_SPLIT)), "a strip's row sums of u e0 stay below 2^64");
__attribute__((target("avx512f,avx512ifma"), always_inline)) static inline int
fold_strip_small_n(const int32_t *m, size_t ld, const uint64_t (*S)[4], size_t n, size_t w, uint64_t (*acc)[ZK_VSTRIP],
                   const unsigned nl)
{
    const __m512i off = _mm512_set1_epi64(ZK_SMALL_OFF);
    __m512i chk = _mm512_setzero_si512();
    for (unsigned l = 0; l < nl; l++)
        memset(acc[l], 0, w * sizeof **acc);
    for (size_t j = 0; j < n; j += 8) {
        size_t g = n - j < 8 ? n - j : 8;
        for (size_t c = 0; c < w; c += 8) {
            /* named accumulators (an indexed array went through the stack) */
            __m512i a0 = _mm512_load_si512((const void *)(acc[0] + c)), a1 = _mm512_load_si512((const void *)(acc[1] + c));
            __m512i b0 = a0, b1 = a1;
            if (nl == 4) {
                b0 = _mm512_load_si512((const void *)(acc[2] + c));
                b1 = _mm512_load_si512((const void *)(acc[3] + c));
            }
            for (size_t jj = 0; jj < g; jj++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(m + (j + jj) * ld + c));
                __m512i u = _mm512_add_epi64(_mm512_cvtepi32_epi64(v), off);
                const uint64_t *e = S[j + jj];
                chk = _mm512_or_si512(chk, u);
                a0 = _mm512_madd52lo_epu64(a0, u, _mm512_set1_epi64((long long)e[0]));
                a1 = _mm512_madd52lo_epu64(a1, u, _mm512_set1_epi64((long long)e[1]));
                if (nl == 4) {
                    b0 = _mm512_madd52lo_epu64(b0, u, _mm512_set1_epi64((long long)e[2]));
                    b1 = _mm512_madd52lo_epu64(b1, u, _mm512_set1_epi64((long long)e[3]));
                }
            }
            _mm512_store_si512((void *)(acc[0] + c), a0);
            _mm512_store_si512((void *)(acc[1] + c), a1);
            if (nl == 4) {
                _mm512_store_si512((void *)(acc[2] + c), b0);
                _mm512_store_si512((void *)(acc[3] + c), b1);
            }
        }
    }
    return _mm512_test_epi64_mask(chk, _mm512_set1_epi64(~(long long)(2 * ZK_SMALL_OFF - 1))) == 0;
}

__attribute__((target("avx512f,avx512ifma"))) static int fold_strip_small2(const int32_t *m, size_t ld,
                                                                           const uint64_t (*S)[4], size_t n, size_t w,
                                                                           uint64_t (*acc)[ZK_VSTRIP])
{
    return fold_strip_small_n(m, ld, S, n, w, acc, 2);
}

__attribute__((target("avx512f,avx512ifma"))) static int fold_strip_small4(const int32_t *m, size_t ld,
                                                                           const uint64_t (*S)[4], size_t n, size_t w,
                                                                           uint64_t (*acc)[ZK_VSTRIP])
{
    return fold_strip_small_n(m, ld, S, n, w, acc, 4);
}

/* -1: use IFMA when the CPU has it; 0: never (zk__fold_ifma_set, for tests and comparisons). */
static int fold_ifma_mode = -1;

void zk__fold_ifma_set(int on) { fold_ifma_mode = on ? -1 : 0; }

static int fold_ifma(void)
{
    /* filled by whichever thread asks first (all write the same value) */
    static int has = -1;
    int h = __atomic_load_n(&has, __ATOMIC_RELAXED);
    if (h < 0) {
        h = __builtin_cpu_supports("avx512ifma") ? 1 : 0;
        __atomic_store_n(&has, h, __ATOMIC_RELAXED);
    }
    return fold_ifma_mode != 0 && h;
}

/* The eq weights in limbs (rows x 6), how many limbs are used (3 when every b coordinate is zero),
 * and the offset correction 2^31 * sum(eq) per coordinate: prepared once per fold, shared by
 * every column chunk. ifma: the layout of FOLD_ROW_IFMA (e0, e1 per coordinate). */
typedef struct fold_limbs {
    uint64_t (*E)[ZK_VL];
    unsigned nl;
    int ifma;
    ff_t corr[2];
    uint64_t (*S)[4]; /* with IFMA: the small-value limbs (fold_strip_small), else NULL */
    ff_t corr_s[2];
} fold_limbs;

static int limbs_prepare(const ff2_t *eq, size_t rows, fold_limbs *L)
{
    const uint64_t m22 = ((uint64_t)1 << 22) - 1, m52 = ((uint64_t)1 << 52) - 1;
    if (!(L->E = malloc((rows ? rows : 1) * sizeof *L->E)))
        return 0;
    L->ifma = fold_ifma();
    L->S = L->ifma ? malloc((rows ? rows : 1) * sizeof *L->S) : NULL;
    unsigned __int128 esum[2] = {0, 0};
    int any_b = 0;
    for (size_t j = 0; j < rows; j++) {
        uint64_t a = eq[j].a, b = eq[j].b;
        uint64_t e[ZK_VL] = {a & m22, (a >> 22) & m22, a >> 44, b & m22, (b >> 22) & m22, b >> 44};
        if (L->ifma) {
            uint64_t f[ZK_VL] = {a & m52, a >> 52, 0, b & m52, b >> 52, 0};
            memcpy(e, f, sizeof f);
        }
        memcpy(L->E[j], e, sizeof e);
        if (L->S) {
            const uint64_t m43 = ((uint64_t)1 << ZK_SMALL_SPLIT) - 1;
            uint64_t f[4] = {a & m43, a >> ZK_SMALL_SPLIT, b & m43, b >> ZK_SMALL_SPLIT};
            memcpy(L->S[j], f, sizeof f);
        }
        esum[0] += a;
        esum[1] += b;
        any_b |= b != 0;
    }
    L->nl = any_b ? ZK_VL : ZK_VL / 2;
    for (unsigned c = 0; c < 2; c++) {
        L->corr[c] = ff_mul(ff_reduce128(esum[c]), (ff_t)1 << 31);
        L->corr_s[c] = ff_mul(ff_reduce128(esum[c]), ZK_SMALL_OFF);
    }
    return 1;
}

static void limbs_free(fold_limbs *L)
{
    free(L->E);
    free(L->S);
}

/* One coordinate's limb sums as a 128-bit (lo, hi), reduced to F_p: exactly ff_reduce128 of the
 * scalar totals (limbs_total). Without IFMA the value is x0 + x1 2^22 + x2 2^44 (each sum
 * < 2^64, so < 2^109); with it x0 + (x1 + x2) 2^52 (x1 + x2 < 2^55). */
__attribute__((target("avx512f,avx512dq"), always_inline)) static inline __m512i
limbs_reduce(const uint64_t *x0, const uint64_t *x1, const uint64_t *x2, int ifma)
{
    __m512i a0 = _mm512_load_si512((const void *)x0), a1 = _mm512_load_si512((const void *)x1);
    __m512i a2 = _mm512_load_si512((const void *)x2), one = _mm512_set1_epi64(1);
    if (ifma) {
        __m512i sh = _mm512_add_epi64(a1, a2), t = _mm512_slli_epi64(sh, 52);
        __m512i lo = _mm512_add_epi64(a0, t), hi = _mm512_srli_epi64(sh, 12);
        hi = _mm512_mask_add_epi64(hi, _mm512_cmplt_epu64_mask(lo, t), hi, one);
        return ff8_reduce(lo, hi);
    }
    __m512i t1 = _mm512_slli_epi64(a1, 22), t2 = _mm512_slli_epi64(a2, 44);
    __m512i hi = _mm512_add_epi64(_mm512_srli_epi64(a1, 42), _mm512_srli_epi64(a2, 20));
    __m512i lo = _mm512_add_epi64(a0, t1);
    hi = _mm512_mask_add_epi64(hi, _mm512_cmplt_epu64_mask(lo, t1), hi, one);
    lo = _mm512_add_epi64(lo, t2);
    hi = _mm512_mask_add_epi64(hi, _mm512_cmplt_epu64_mask(lo, t2), hi, one);
    return ff8_reduce(lo, hi);
}

/* The small kernel's coordinate from its two limb sums: x0 + x1 2^43 (x0 < 2^62, x1 < 2^40). */
__attribute__((target("avx512f,avx512dq"), always_inline)) static inline __m512i limbs_reduce_small(const uint64_t *x0,
                                                                                                    const uint64_t *x1)
{
    __m512i a0 = _mm512_load_si512((const void *)x0), a1 = _mm512_load_si512((const void *)x1);
    __m512i t = _mm512_slli_epi64(a1, ZK_SMALL_SPLIT), lo = _mm512_add_epi64(a0, t);
    __m512i hi = _mm512_srli_epi64(a1, 64 - ZK_SMALL_SPLIT);
    hi = _mm512_mask_add_epi64(hi, _mm512_cmplt_epu64_mask(lo, t), hi, _mm512_set1_epi64(1));
    return ff8_reduce(lo, hi);
}

static unsigned __int128 limbs_total_small(uint64_t (*acc)[ZK_VSTRIP], unsigned c, size_t k)
{
    return (unsigned __int128)acc[2 * c][k] + ((unsigned __int128)acc[2 * c + 1][k] << ZK_SMALL_SPLIT);
}

__attribute__((target("avx512f,avx512dq"))) static void fold_finish_small(uint64_t (*acc)[ZK_VSTRIP], unsigned nl,
                                                                          const ff_t corr[2], size_t w, ff2_t *out)
{
    const __m512i ca = _mm512_set1_epi64((long long)corr[0]), cb = _mm512_set1_epi64((long long)corr[1]);
    const __m512i ilo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), ihi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    for (size_t k = 0; k < w; k += 8) {
        __m512i a = ff8_sub(limbs_reduce_small(acc[0] + k, acc[1] + k), ca);
        __m512i b = nl == 4 ? ff8_sub(limbs_reduce_small(acc[2] + k, acc[3] + k), cb) : _mm512_setzero_si512();
        _mm512_storeu_si512((void *)(out + k), _mm512_permutex2var_epi64(a, ilo, b));
        _mm512_storeu_si512((void *)(out + k + 4), _mm512_permutex2var_epi64(a, ihi, b));
    }
}

/* The small kernel over rows j0 .. j0 + n of L->S; 0 when some value is out of its range. */
static int fold_strip_small(const int32_t *m, size_t ld, const fold_limbs *L, size_t j0, size_t n, size_t w,
                            uint64_t (*acc)[ZK_VSTRIP])
{
    const uint64_t(*S)[4] = (const uint64_t(*)[4])(L->S + j0);
    return L->nl == ZK_VL ? fold_strip_small4(m, ld, S, n, w, acc) : fold_strip_small2(m, ld, S, n, w, acc);
}

/* The scalar form: coordinate c's value of column k from its three limb sums. */
static unsigned __int128 limbs_total(uint64_t (*acc)[ZK_VSTRIP], unsigned c, size_t k, int ifma)
{
    const uint64_t *x0 = acc[3 * c], *x1 = acc[3 * c + 1], *x2 = acc[3 * c + 2];
    if (ifma)
        return (unsigned __int128)x0[k] + ((unsigned __int128)(x1[k] + x2[k]) << 52);
    return (unsigned __int128)x0[k] + ((unsigned __int128)x1[k] << 22) + ((unsigned __int128)x2[k] << 44);
}

/* A strip's outputs straight from its 64-bit limb sums, when one flush covers every row (at most
 * ZK_VROWS): the 128-bit totals, their reduction and the offset correction in vector lanes.
 * For the short folds of the openings (a claim's block spans tens of rows) the scalar 128-bit
 * path cost as much as the products themselves. w is a multiple of 8. */
__attribute__((target("avx512f,avx512dq"))) static void fold_finish_avx512(uint64_t (*acc)[ZK_VSTRIP], unsigned nl,
                                                                           int ifma, const ff_t corr[2], size_t w,
                                                                           ff2_t *out)
{
    const __m512i ca = _mm512_set1_epi64((long long)corr[0]), cb = _mm512_set1_epi64((long long)corr[1]);
    const __m512i ilo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), ihi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    for (size_t k = 0; k < w; k += 8) {
        __m512i a = ff8_sub(limbs_reduce(acc[0] + k, acc[1] + k, acc[2] + k, ifma), ca);
        __m512i b = nl == ZK_VL ? ff8_sub(limbs_reduce(acc[3] + k, acc[4] + k, acc[5] + k, ifma), cb)
                                : _mm512_setzero_si512(); /* no b limbs: every b coordinate is 0 */
        _mm512_storeu_si512((void *)(out + k), _mm512_permutex2var_epi64(a, ilo, b));
        _mm512_storeu_si512((void *)(out + k + 4), _mm512_permutex2var_epi64(a, ihi, b));
    }
}

/* The strip kernel for the limbs' layout and count, over rows j0 .. j0 + n of L->E (m points
 * at row j0). */
static void fold_strip_any(const int32_t *m, size_t ld, const fold_limbs *L, size_t j0, size_t n, size_t w,
                           uint64_t (*acc)[ZK_VSTRIP])
{
    const uint64_t(*E)[ZK_VL] = (const uint64_t(*)[ZK_VL])(L->E + j0);
    if (L->ifma)
        (L->nl == ZK_VL ? fold_strip_ifma6 : fold_strip_ifma3)(m, ld, E, n, w, acc);
    else
        (L->nl == ZK_VL ? fold_strip6 : fold_strip3)(m, ld, E, n, w, acc);
}

/* The fold of columns [0, cols) with prepared limbs; the last cols % 8 take the scalar fold.
 * Strips try the small kernel first while it has held (L->S). */
static void fold_cols_avx512(const int32_t *m, size_t rows, size_t cols, size_t ld, const fold_limbs *L,
                             const ff2_t *eq, ff2_t *out)
{
    uint64_t acc[ZK_VL][ZK_VSTRIP] __attribute__((aligned(64)));
    unsigned __int128 tot[2][ZK_VSTRIP];
    size_t cv = cols & ~(size_t)7;
    int small = L->S != NULL;
    unsigned ns = L->nl == ZK_VL ? 4 : 2; /* the small kernel's limbs */
    for (size_t c0 = 0; c0 < cv; c0 += ZK_VSTRIP) {
        size_t w = cv - c0 < ZK_VSTRIP ? cv - c0 : ZK_VSTRIP;
        if (rows <= ZK_VROWS) {
            if (small && fold_strip_small(m + c0, ld, L, 0, rows, w, acc)) {
                fold_finish_small(acc, ns, L->corr_s, w, out + c0);
                continue;
            }
            small = 0;
            fold_strip_any(m + c0, ld, L, 0, rows, w, acc);
            fold_finish_avx512(acc, L->nl, L->ifma, L->corr, w, out + c0);
            continue;
        }
        int used_small = small;
        memset(tot, 0, sizeof tot);
        for (size_t j0 = 0; small && j0 < rows; j0 += ZK_VROWS) {
            size_t n = rows - j0 < ZK_VROWS ? rows - j0 : ZK_VROWS;
            if (!fold_strip_small(m + j0 * ld + c0, ld, L, j0, n, w, acc)) {
                small = used_small = 0; /* redo the strip with the general kernel */
                memset(tot, 0, sizeof tot);
                break;
            }
            for (unsigned c = 0; c < ns / 2; c++)
                for (size_t k = 0; k < w; k++)
                    tot[c][k] += limbs_total_small(acc, c, k);
        }
        for (size_t j0 = 0; !used_small && j0 < rows; j0 += ZK_VROWS) {
            size_t n = rows - j0 < ZK_VROWS ? rows - j0 : ZK_VROWS;
            fold_strip_any(m + j0 * ld + c0, ld, L, j0, n, w, acc);
            for (unsigned c = 0; c < L->nl / 3; c++)
                for (size_t k = 0; k < w; k++)
                    tot[c][k] += limbs_total(acc, c, k, L->ifma);
        }
        const ff_t *corr = used_small ? L->corr_s : L->corr;
        for (size_t k = 0; k < w; k++)
            out[c0 + k] =
                (ff2_t){ff_sub(ff_reduce128(tot[0][k]), corr[0]), ff_sub(ff_reduce128(tot[1][k]), corr[1])};
    }
    if (cv < cols)
        fold_rows_scalar(m + cv, rows, cols - cv, ld, eq, out + cv);
}

static void fold_rows_avx512(const int32_t *m, size_t rows, size_t cols, size_t ld, const ff2_t *eq, ff2_t *out)
{
    fold_limbs L;
    if (!limbs_prepare(eq, rows, &L)) { /* no memory for the limbs: the scalar fold needs none */
        fold_rows_scalar(m, rows, cols, ld, eq, out);
        return;
    }
    fold_cols_avx512(m, rows, cols, ld, &L, eq, out);
    limbs_free(&L);
}

void zk__fold_rows_i32(const int32_t *m, size_t rows, size_t cols, size_t ld, const ff2_t *eq,
                       ff2_t *out, size_t pad)
{
    if (ff_vec_tier_get() == FF_VEC_AVX512)
        fold_rows_avx512(m, rows, cols, ld, eq, out);
    else
        fold_rows_scalar(m, rows, cols, ld, eq, out);
    for (size_t k = cols; k < pad; k++)
        out[k] = ff2_zero();
}

/* On several threads: wide matrices split by columns (blocks of 32 columns;
 * each chunk folds every row for its columns), narrow ones by rows (each chunk folds its rows
 * into its own slot, and the slots are added in chunk order). Exact field arithmetic: the same
 * values whatever the thread count. */
#define ZK_FOLD_COL_SPLIT 256 /* columns from which the columns are split */
typedef struct fold_ctx {
    const int32_t *m;
    size_t rows, cols, ld;
    const ff2_t *eq;
    ff2_t *out;
    ff2_t *part;             /* row split, chunk t: cols entries at part + t * cols */
    const fold_limbs *limbs; /* column split on AVX-512: the limbs, prepared once */
} fold_ctx;

static void fold_chunk_cols(void *vctx, size_t b, size_t e, unsigned tid)
{
    (void)tid;
    fold_ctx *x = vctx;
    size_t c0 = 32 * b, c1 = 32 * e < x->cols ? 32 * e : x->cols;
    if (x->limbs)
        fold_cols_avx512(x->m + c0, x->rows, c1 - c0, x->ld, x->limbs, x->eq, x->out + c0);
    else
        zk__fold_rows_i32(x->m + c0, x->rows, c1 - c0, x->ld, x->eq, x->out + c0, c1 - c0);
}

static void fold_chunk_rows(void *vctx, size_t b, size_t e, unsigned tid)
{
    fold_ctx *x = vctx;
    zk__fold_rows_i32(x->m + b * x->ld, e - b, x->cols, x->ld, x->eq + b, x->part + tid * x->cols, x->cols);
}

void zk__fold_rows_i32_mt(const int32_t *m, size_t rows, size_t cols, size_t ld, const ff2_t *eq, ff2_t *out,
                          size_t pad, unsigned threads)
{
    fold_ctx x = {.m = m, .rows = rows, .cols = cols, .ld = ld, .eq = eq, .out = out};
    if (threads > 1 && cols >= ZK_FOLD_COL_SPLIT) {
        size_t blocks = (cols + 31) / 32, min_blocks = 65536 / (rows ? 32 * rows : 32) + 1;
        fold_limbs L;
        if (ff_vec_tier_get() == FF_VEC_AVX512 && limbs_prepare(eq, rows, &L))
            x.limbs = &L;
        zk__par_for(threads, blocks, min_blocks, fold_chunk_cols, &x);
        if (x.limbs)
            limbs_free(&L);
        for (size_t k = cols; k < pad; k++)
            out[k] = ff2_zero();
        return;
    }
    size_t min_rows = cols >= 65536 ? 1 : 65536 / (cols ? cols : 1);
    if (threads > 1 && rows >= 2 * min_rows)
        x.part = malloc(ZK_PAR_CHUNKS * (cols ? cols : 1) * sizeof *x.part);
    if (!x.part) { /* one thread, or no memory for the slots */
        zk__fold_rows_i32(m, rows, cols, ld, eq, out, pad);
        return;
    }
    unsigned nc = zk__par_for(threads, rows, min_rows, fold_chunk_rows, &x);
    for (size_t k = 0; k < cols; k++) {
        ff2_t s = x.part[k];
        for (unsigned t = 1; t < nc; t++)
            s = ff2_add(s, x.part[t * cols + k]);
        out[k] = s;
    }
    for (size_t k = cols; k < pad; k++)
        out[k] = ff2_zero();
    free(x.part);
}

ff2_t zk__dot_i64(const int64_t *v, size_t n, const ff2_t *eq)
{
    ff2_t s = ff2_zero();
    for (size_t i = 0; i < n; i++)
        if (v[i])
            s = ff2_add(s, ff2_mul_base(eq[i], ff_from_i64(v[i])));
    return s;
}

ff2_t zk__dot_ff2(const ff2_t *a, const ff2_t *b, size_t n)
{
    ff2_t s = ff2_zero();
    for (size_t i = 0; i < n; i++)
        s = ff2_add(s, zk__mul2(a[i], b[i]));
    return s;
}

em_status zk__mle_i32(const int32_t *m, size_t rows, size_t cols, unsigned lv_rows, unsigned lv_cols,
                      const ff2_t *point, ff2_t *out, em_err *err)
{
    return zk__mle_i32_mt(m, rows, cols, lv_rows, lv_cols, point, 1, out, err);
}

em_status zk__mle_i32_mt(const int32_t *m, size_t rows, size_t cols, unsigned lv_rows, unsigned lv_cols,
                         const ff2_t *point, unsigned threads, ff2_t *out, em_err *err)
{
    /* point = (column variables, row variables) */
    size_t nr = (size_t)1 << lv_rows, nc = (size_t)1 << lv_cols;
    ff2_t *eqr = malloc(nr * sizeof *eqr), *eqc = malloc(nc * sizeof *eqc), *fold = malloc(nc * sizeof *fold);
    em_status st = EM_OK;
    if (!eqr || !eqc || !fold) {
        st = em_errf(err, EM_ERR_NOMEM, "evaluating a %zux%zu tensor: out of memory", rows, cols);
        goto out;
    }
    ml_eq_table(point + lv_cols, lv_rows, ff2_one(), eqr);
    ml_eq_table(point, lv_cols, ff2_one(), eqc);
    zk__fold_rows_i32_mt(m, rows, cols, cols, eqr, fold, nc, threads);
    *out = zk__dot_ff2(fold, eqc, nc);
out:
    free(eqr);
    free(eqc);
    free(fold);
    return st;
}

/* ---- the sumcheck (sumcheck.h, product-of-two-tables shape) ------------------------------- */

em_status zk__matmul_prove(zk_wr *w, ff2_t *a, ff2_t *b, unsigned nv, ff2_t claim, ff2_t *point, ff2_t *a_eval,
                           ff2_t *b_eval, em_err *err)
{
    sc_shape sh;
    sc_shape_product2(&sh, nv);
    sc_tables t;
    memset(&t, 0, sizeof t);
    t.ext[0] = a;
    t.ext[1] = b;
    sc_proof pf;
    em_status st = sc_prove(&sh, &t, claim, w->tr, NULL, &pf, point, err);
    /* sc_prove reports a false claim only after it has written the whole proof and absorbed it
     * (sumcheck.c), so under the test hook the forged proof is sent on to the verifier. */
    if (st == EM_ERR_ARG && w->forge)
        st = EM_OK;
    if (st != EM_OK)
        return st;
    if ((st = sc_proof_write(&pf, w->buf, err)) != EM_OK)
        return st;
    *a_eval = pf.final_eval[0];
    *b_eval = pf.final_eval[1];
    return EM_OK;
}

em_status zk__matmul_verify(zk_rd *r, unsigned nv, ff2_t claim, ff2_t *point, ff2_t *a_eval, ff2_t *b_eval,
                            em_err *err)
{
    sc_shape sh;
    sc_shape_product2(&sh, nv);
    sc_proof pf;
    ff2_t ev[SC_MAX_TABLES];
    em_status st = sc_proof_read(&sh, r->rd, &pf, err);
    if (st != EM_OK)
        return st;
    if ((st = sc_verify(&sh, claim, &pf, r->tr, point, ev, err)) != EM_OK)
        return em_err_prefix(err, "matmul sumcheck: ");
    *a_eval = ev[0];
    *b_eval = ev[1];
    return EM_OK;
}
