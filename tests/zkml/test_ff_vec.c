/* Every SIMD tier of ff_vec gives exactly the scalar ff.h results (all lengths, tails, aliasing). */
#include "enclaveml/zkml/ff_vec.h"
#include "harness.h"

static ff_t rnd(void)
{
    static const ff_t edge[] = {0, 1, FF_P - 1, FF_P - 2, 0xFFFFFFFFULL, 0x100000000ULL,
                                FF_P / 2, 0xFFFFFFFF00000000ULL - 1};
    uint64_t r = th_rand();
    if ((r & 3) == 0)
        return edge[(r >> 8) % 8];
    return ff_from_u64(th_rand());
}

enum { MAXN = 77 };

static void check_tier(ff_vec_tier t)
{
    em_status st = ff_vec_tier_set(t);
    if (st != EM_OK) {
        fprintf(stderr, "  (tier %s not supported on this CPU, skipped)\n", ff_vec_tier_name(t));
        return;
    }
    CHECK_EQ_U64(ff_vec_tier_get(), t);
    ff_t a[MAXN], b[MAXN], o[MAXN], y[MAXN];
    for (int rep = 0; rep < 200; rep++) {
        size_t n = rep < MAXN ? (size_t)rep : th_rand() % (MAXN + 1);
        for (size_t i = 0; i < n; i++)
            a[i] = rnd(), b[i] = rnd();
        ff_t s = rnd();
        ff_vec_add(o, a, b, n);
        for (size_t i = 0; i < n; i++)
            CHECK_EQ_U64(o[i], ff_add(a[i], b[i]));
        ff_vec_sub(o, a, b, n);
        for (size_t i = 0; i < n; i++)
            CHECK_EQ_U64(o[i], ff_sub(a[i], b[i]));
        ff_vec_mul(o, a, b, n);
        for (size_t i = 0; i < n; i++)
            CHECK_EQ_U64(o[i], ff_mul(a[i], b[i]));
        ff_vec_scale(o, a, s, n);
        for (size_t i = 0; i < n; i++)
            CHECK_EQ_U64(o[i], ff_mul(a[i], s));
        memcpy(y, b, sizeof y);
        ff_vec_axpy(y, s, a, n);
        for (size_t i = 0; i < n; i++)
            CHECK_EQ_U64(y[i], ff_add(b[i], ff_mul(a[i], s)));
        ff_t d = 0, sm = 0;
        for (size_t i = 0; i < n; i++) {
            d = ff_add(d, ff_mul(a[i], b[i]));
            sm = ff_add(sm, a[i]);
        }
        CHECK_EQ_U64(ff_vec_dot(a, b, n), d);
        CHECK_EQ_U64(ff_vec_sum(a, n), sm);
        /* exact aliasing: out == a */
        memcpy(o, a, sizeof o);
        ff_vec_mul(o, o, b, n);
        for (size_t i = 0; i < n; i++)
            CHECK_EQ_U64(o[i], ff_mul(a[i], b[i]));
        memcpy(o, a, sizeof o);
        ff_vec_add(o, b, o, n);
        for (size_t i = 0; i < n; i++)
            CHECK_EQ_U64(o[i], ff_add(b[i], a[i]));
    }
    /* all-extreme operands stress every carry/borrow branch */
    for (size_t i = 0; i < 64; i++) {
        a[i] = (i & 1) ? FF_P - 1 : 0xFFFFFFFFULL << (i % 33);
        a[i] = ff_from_u64(a[i]);
        b[i] = FF_P - 1 - (i % 3);
    }
    ff_vec_mul(o, a, b, 64);
    for (size_t i = 0; i < 64; i++)
        CHECK_EQ_U64(o[i], ff_mul(a[i], b[i]));
    ff_vec_add(o, a, b, 64);
    for (size_t i = 0; i < 64; i++)
        CHECK_EQ_U64(o[i], ff_add(a[i], b[i]));
}

/* The AVX-512 extension product multiplies by 7 with shifts: hit every carry of that path. */
static void check_mul7_edges(void)
{
    const ff_t e[] = {0, 1, 2, FF_P - 1, FF_P - 2, FF_P / 7, FF_P / 7 + 1, FF_P / 8, FF_P / 8 + 1,
                      0x1FFFFFFFFFFFFFFFULL, 0x2000000000000000ULL, 0xE000000000000000ULL,
                      0xFFFFFFFE00000000ULL, 0x00000000FFFFFFFFULL, 0x8000000000000000ULL, 0xDB6DB6DB49249249ULL,
                      /* 8x carries past 2^64 / lands in [p, 2^64) */
                      0xDFFFFFFFFFFFFFFFULL, 0x3FFFFFFFFFFFFFFFULL, 0x1FFFFFFFF0000000ULL, 0x1FFFFFFFE0000001ULL};
    enum { NE = sizeof e / sizeof e[0] };
    ff2_t a[NE], b[NE], o[NE];
    for (int v = 0; v < 2; v++) {
        for (size_t i = 0; i < NE; i++) {
            a[i] = (ff2_t){v ? e[i] : 0, e[i]};
            b[i] = (ff2_t){v ? e[NE - 1 - i] : 0, 1};
        }
        for (size_t off = 0; off < NE; off += 4) { /* every value once in a full 8-lane block */
            ff2_vec_mul(o + off, a + off, b + off, NE - off);
            for (size_t i = off; i < NE; i++)
                CHECK(ff2_eq(o[i], ff2_mul(a[i], b[i])));
        }
    }
}

/* Extension-field kernels against the scalar ff2 functions, including in-place folds. */
static void check_tier_ext(ff_vec_tier t)
{
    if (ff_vec_tier_set(t) != EM_OK)
        return;
    check_mul7_edges();
    enum { M = 41 };
    ff2_t a[2 * M], b[2 * M], o[2 * M], f[2 * M];
    ff_t base[2 * M];
    for (int rep = 0; rep < 60; rep++) {
        size_t n = rep < M ? (size_t)rep : th_rand() % (M + 1);
        for (size_t i = 0; i < 2 * M; i++) {
            a[i] = (ff2_t){rnd(), rnd()};
            b[i] = (ff2_t){rnd(), rnd()};
            base[i] = rnd();
        }
        ff2_t r = {rnd(), rnd()};
        ff2_vec_mul(o, a, b, n);
        for (size_t i = 0; i < n; i++)
            CHECK(ff2_eq(o[i], ff2_mul(a[i], b[i])));
        ff2_t d = ff2_zero(), db = ff2_zero();
        for (size_t i = 0; i < n; i++) {
            d = ff2_add(d, ff2_mul(a[i], b[i]));
            db = ff2_add(db, ff2_mul_base(a[i], base[i]));
        }
        CHECK(ff2_eq(ff2_vec_dot(a, b, n), d));
        CHECK(ff2_eq(ff2_vec_dot_base(a, base, n), db));
        /* fold of 2n entries into n, out of place and in place */
        ff2_vec_fold(o, a, n, r);
        memcpy(f, a, sizeof f);
        ff2_vec_fold(f, f, n, r);
        for (size_t i = 0; i < n; i++) {
            ff2_t want = ff2_add(a[2 * i], ff2_mul(r, ff2_sub(a[2 * i + 1], a[2 * i])));
            CHECK(ff2_eq(o[i], want));
            CHECK(ff2_eq(f[i], want));
        }
        ff_vec_fold_base(o, base, n, r);
        for (size_t i = 0; i < n; i++) {
            ff2_t lo = ff2_from_base(base[2 * i]), hi = ff2_from_base(base[2 * i + 1]);
            CHECK(ff2_eq(o[i], ff2_add(lo, ff2_mul(r, ff2_sub(hi, lo)))));
        }
        /* eq-table step: n entries split into 2n */
        memcpy(f, a, sizeof f);
        ff2_vec_eq_step(f, n, r);
        for (size_t i = 0; i < n; i++) {
            ff2_t hi = ff2_mul(a[i], r);
            CHECK(ff2_eq(f[i + n], hi));
            CHECK(ff2_eq(f[i], ff2_sub(a[i], hi)));
        }
    }
}

static void test_ext_scalar(void) { check_tier_ext(FF_VEC_SCALAR); }
static void test_ext_avx2(void) { check_tier_ext(FF_VEC_AVX2); }
static void test_ext_avx512(void) { check_tier_ext(FF_VEC_AVX512); }

static void test_scalar(void) { check_tier(FF_VEC_SCALAR); }
static void test_avx2(void) { check_tier(FF_VEC_AVX2); }
static void test_avx512(void) { check_tier(FF_VEC_AVX512); }

static void test_tier_api(void)
{
    CHECK(ff_vec_tier_supported(FF_VEC_SCALAR));
    CHECK_EQ_U64(ff_vec_tier_set((ff_vec_tier)7), EM_ERR_UNSUPPORTED);
    CHECK(strcmp(ff_vec_tier_name(FF_VEC_AVX512), "avx512") == 0);
}

int main(void)
{
    th_init("test_ff_vec");
    fprintf(stderr, "  default tier: %s\n", ff_vec_tier_name(ff_vec_tier_get()));
    TH_RUN(test_tier_api);
    TH_RUN(test_scalar);
    TH_RUN(test_avx2);
    TH_RUN(test_avx512);
    TH_RUN(test_ext_scalar);
    TH_RUN(test_ext_avx2);
    TH_RUN(test_ext_avx512);
    return th_finish();
}
