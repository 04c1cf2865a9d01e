/* NTT against a naive O(n^2) DFT, roundtrips, cosets and Reed-Solomon encoding, every tier. */
#include "enclaveml/zkml/ff_vec.h"
#include "enclaveml/zkml/ntt.h"
#include "harness.h"

static ff_t rnd(void) { return ff_from_u64(th_rand()); }

static ff_t *rnd_vec(size_t n)
{
    ff_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = rnd();
    return v;
}

/* f(x) for coefficients c[0..n) by Horner */
static ff_t horner(const ff_t *c, size_t n, ff_t x)
{
    ff_t r = 0;
    for (size_t i = n; i-- > 0;)
        r = ff_add(ff_mul(r, x), c[i]);
    return r;
}

static void naive_dft(const ff_t *c, size_t n, ff_t shift, ff_t w, ff_t *out)
{
    ff_t x = shift;
    for (size_t i = 0; i < n; i++) {
        out[i] = horner(c, n, x);
        x = ff_mul(x, w);
    }
}

static void check_vs_naive(void)
{
    em_err err;
    for (unsigned l = 0; l <= 10; l++) {
        size_t n = (size_t)1 << l;
        ntt_plan *p = NULL;
        CHECK_OK(ntt_plan_create(l, &p, &err), &err);
        if (!p)
            return;
        CHECK_EQ_U64(ntt_plan_log_n(p), l);
        ff_t *c = rnd_vec(n), *a = malloc(n * 8), *ref = malloc(n * 8), *r2 = malloc(n * 8);
        naive_dft(c, n, 1, ff_root_of_unity(l), ref);
        memcpy(a, c, n * 8);
        ntt_forward(p, a);
        CHECK(memcmp(a, ref, n * 8) == 0);
        memcpy(r2, c, n * 8);
        ntt_forward_ref(r2, l);
        CHECK(memcmp(r2, ref, n * 8) == 0);
        ntt_inverse(p, a);
        CHECK(memcmp(a, c, n * 8) == 0);
        /* coset */
        ff_t shift = l == 3 ? FF_GENERATOR : (rnd() >> 1) | 1;
        naive_dft(c, n, shift, ff_root_of_unity(l), ref);
        memcpy(a, c, n * 8);
        ntt_coset_forward(p, shift, a);
        CHECK(memcmp(a, ref, n * 8) == 0);
        ntt_coset_inverse(p, shift, a);
        CHECK(memcmp(a, c, n * 8) == 0);
        free(c), free(a), free(ref), free(r2);
        ntt_plan_free(p);
    }
}

static void check_roundtrip_big(void)
{
    em_err err;
    for (unsigned l = 11; l <= 16; l++) {
        size_t n = (size_t)1 << l;
        ntt_plan *p = NULL;
        CHECK_OK(ntt_plan_create(l, &p, &err), &err);
        if (!p)
            return;
        ff_t *c = rnd_vec(n), *a = malloc(n * 8), *r = malloc(n * 8);
        memcpy(a, c, n * 8);
        memcpy(r, c, n * 8);
        ntt_forward(p, a);
        ntt_forward_ref(r, l);
        CHECK(memcmp(a, r, n * 8) == 0);
        /* spot-check against Horner at a few points */
        ff_t w = ff_root_of_unity(l);
        for (int k = 0; k < 4; k++) {
            size_t i = th_rand() % n;
            CHECK_EQ_U64(a[i], horner(c, n, ff_pow(w, i)));
        }
        ntt_inverse(p, a);
        CHECK(memcmp(a, c, n * 8) == 0);
        free(c), free(a), free(r);
        ntt_plan_free(p);
    }
}

static void test_scalar(void)
{
    CHECK_OK(ff_vec_tier_set(FF_VEC_SCALAR), NULL);
    check_vs_naive();
    check_roundtrip_big();
}

static void test_avx2(void)
{
    if (ff_vec_tier_set(FF_VEC_AVX2) != EM_OK)
        return;
    check_vs_naive();
    check_roundtrip_big();
}

static void test_avx512(void)
{
    if (ff_vec_tier_set(FF_VEC_AVX512) != EM_OK)
        return;
    check_vs_naive();
    check_roundtrip_big();
}

/* A codeword of a degree < n message has degree < n: inverse NTT on the coset leaves the
 * message coefficients followed by exact zeros. Also checks against direct evaluation. */
static void test_rs(void)
{
    em_err err;
    for (unsigned lm = 0; lm <= 9; lm += 3)
        for (unsigned rate = 1; rate <= 3; rate++) {
            size_t n = (size_t)1 << lm, N = n << rate, rows = 5;
            ntt_plan *pN = NULL, *pn = NULL;
            CHECK_OK(ntt_plan_create(lm + rate, &pN, &err), &err);
            CHECK_OK(ntt_plan_create(lm, &pn, &err), &err);
            if (!pN || !pn)
                return;
            ff_t shift = (rate & 1) ? FF_GENERATOR : 1;
            ff_t *msg = rnd_vec(n * rows), *cw = malloc(N * rows * 8), *one = malloc(N * 8);
            CHECK_OK(ntt_rs_encode_rows(pN, NULL, rate, shift, NTT_RS_COEFFS, msg, rows, cw, 2, &err), &err);
            for (size_t r = 0; r < rows; r++) {
                CHECK_OK(ntt_rs_encode(pN, rate, shift, NTT_RS_COEFFS, msg + r * n, one, &err), &err);
                CHECK(memcmp(one, cw + r * N, N * 8) == 0);
                ff_t w = ff_root_of_unity(lm + rate);
                for (int k = 0; k < 3; k++) {
                    size_t j = th_rand() % N;
                    CHECK_EQ_U64(cw[r * N + j], horner(msg + r * n, n, ff_mul(shift, ff_pow(w, j))));
                }
                ntt_coset_inverse(pN, shift, one);
                CHECK(memcmp(one, msg + r * n, n * 8) == 0);
                for (size_t j = n; j < N; j++)
                    CHECK_EQ_U64(one[j], 0);
            }
            /* evaluation input: evals on <w_n> must give the same codeword as their coefficients */
            ff_t *ev = malloc(n * rows * 8), *cw2 = malloc(N * rows * 8);
            memcpy(ev, msg, n * rows * 8);
            for (size_t r = 0; r < rows; r++)
                ntt_forward(pn, ev + r * n);
            CHECK_OK(ntt_rs_encode_rows(pN, pn, rate, shift, NTT_RS_EVALS, ev, rows, cw2, 0, &err), &err);
            CHECK(memcmp(cw, cw2, N * rows * 8) == 0);
            CHECK_OK(ntt_rs_encode(pN, rate, shift, NTT_RS_EVALS, ev, one, &err), &err);
            CHECK(memcmp(one, cw, N * 8) == 0);
            /* argument checks */
            CHECK_ST(ntt_rs_encode_rows(pN, NULL, rate, shift, NTT_RS_EVALS, ev, rows, cw2, 1, &err),
                     EM_ERR_ARG, &err);
            CHECK_ST(ntt_rs_encode_rows(pN, pn, lm + rate + 1, shift, NTT_RS_COEFFS, ev, rows, cw2, 1, &err),
                     EM_ERR_ARG, &err);
            CHECK_ST(ntt_rs_encode_rows(pN, pn, rate, 0, NTT_RS_COEFFS, ev, rows, cw2, 1, &err), EM_ERR_ARG,
                     &err);
            free(msg), free(cw), free(one), free(ev), free(cw2);
            ntt_plan_free(pN);
            ntt_plan_free(pn);
        }
}

/* Enough work to take the threaded path (>= 2^16 codeword elements). */
static void test_rs_threads(void)
{
    em_err err;
    unsigned lm = 10, rate = 2;
    size_t n = (size_t)1 << lm, N = n << rate, rows = 33;
    ntt_plan *pN = NULL;
    CHECK_OK(ntt_plan_create(lm + rate, &pN, &err), &err);
    if (!pN)
        return;
    ff_t *msg = rnd_vec(n * rows), *a = malloc(N * rows * 8), *b = malloc(N * rows * 8);
    CHECK_OK(ntt_rs_encode_rows(pN, NULL, rate, FF_GENERATOR, NTT_RS_COEFFS, msg, rows, a, 1, &err), &err);
    CHECK_OK(ntt_rs_encode_rows(pN, NULL, rate, FF_GENERATOR, NTT_RS_COEFFS, msg, rows, b, 3, &err), &err);
    CHECK(memcmp(a, b, N * rows * 8) == 0);
    free(msg), free(a), free(b);
    ntt_plan_free(pN);
}

/* Integer coefficients: the same codewords as the field path on the converted values (with
 * int32 extremes), for lengths ending inside a row, on a row boundary and before the last
 * rows (the rest zero), at rates 1/2, 1/4 and 1 (rate_bits 0), on 1 and 3 threads. */
static void rs_i32_tier(void)
{
    em_err err;
    const unsigned lm = 9;
    const size_t n = (size_t)1 << lm, rows = 7;
    for (unsigned rate = 0; rate <= 2; rate++) {
        size_t N = n << rate;
        ntt_plan *pN = NULL;
        CHECK_OK(ntt_plan_create(lm + rate, &pN, &err), &err);
        if (!pN)
            return;
        int32_t *iv = malloc(n * rows * sizeof *iv);
        ff_t *fv = malloc(n * rows * sizeof *fv), *a = malloc(N * rows * 8), *b = malloc(N * rows * 8);
        const size_t lens[] = {0, 1, n - 3, n, 3 * n + 17, n * rows - 1, n * rows};
        for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
            size_t len = lens[li];
            for (size_t i = 0; i < n * rows; i++) {
                uint64_t r = th_rand();
                iv[i] = i % 97 == 0 ? INT32_MIN : i % 89 == 0 ? INT32_MAX : (int32_t)(uint32_t)r;
                fv[i] = i < len ? ff_from_i64(iv[i]) : 0;
            }
            CHECK_OK(ntt_rs_encode_rows(pN, NULL, rate, 1, NTT_RS_COEFFS, fv, rows, a, 1, &err), &err);
            for (unsigned th = 1; th <= 3; th += 2) {
                memset(b, 0xa5, N * rows * 8);
                CHECK_OK(ntt_rs_encode_rows_i32(pN, rate, len ? iv : NULL, len, rows, b, th, &err), &err);
                CHECK(memcmp(a, b, N * rows * 8) == 0);
            }
        }
        CHECK_ST(ntt_rs_encode_rows_i32(pN, rate, NULL, 5, rows, b, 1, &err), EM_ERR_ARG, &err);
        CHECK_ST(ntt_rs_encode_rows_i32(pN, lm + rate + 1, iv, 5, rows, b, 1, &err), EM_ERR_ARG, &err);
        free(iv), free(fv), free(a), free(b);
        ntt_plan_free(pN);
    }
}

/* Runs fn on every SIMD tier this CPU has, then restores the tier. */
static void on_every_tier(void (*fn)(void))
{
    ff_vec_tier saved = ff_vec_tier_get();
    for (int t = FF_VEC_SCALAR; t <= FF_VEC_AVX512; t++)
        if (ff_vec_tier_set((ff_vec_tier)t) == EM_OK)
            fn();
    CHECK(ff_vec_tier_set(saved) == EM_OK);
}

/* The integer encoder against the field one on every tier (the AVX-512 spread gathers the
 * bit-reversed integers 8 at a time for rates 1/2 and 1/4). */
static void test_rs_i32(void) { on_every_tier(rs_i32_tier); }

/* A short-parity rate (n >> sh parity points, sh = 1: rate 2/3, 2: rate 4/5): position c is f at
 * w_2n^(1 + 2^(sh+1) c), checked by Horner at 8 positions; refused below n = 2^sh. */
static void short_parity_case(const ntt_plan *p, unsigned l, unsigned rate, unsigned sh)
{
    em_err err;
    size_t n = (size_t)1 << l;
    if (l < sh) {
        CHECK_ST(ntt_rs_encode_sys(p, rate, NULL, NULL, &err), EM_ERR_ARG, &err);
        return;
    }
    size_t q = n >> sh;
    ff_t *m = rnd_vec(n), *coef = malloc(n * 8), *par = malloc(q * 8);
    memcpy(coef, m, n * 8);
    ntt_inverse(p, coef);
    CHECK_EQ_U64(ntt_sys_parity_len(l, rate), q);
    CHECK_OK(ntt_rs_encode_sys(p, rate, m, par, &err), &err);
    ff_t eta = ff_root_of_unity(l + 1), ws = ff_pow(ff_root_of_unity(l), (uint64_t)1 << sh);
    for (int k = 0; k < 8; k++) {
        size_t c = k < 2 ? (size_t)k * (q - 1) : th_rand() % q;
        CHECK_EQ_U64(par[c], horner(coef, n, ff_mul(eta, ff_pow(ws, c))));
    }
    free(m), free(coef), free(par);
}

/* Systematic encoding: parity block b at c is f(w_N^b w_n^c) for the interpolant f of the
 * message on <w_n> (coefficients from the tested inverse transform, points by Horner), for
 * sizes 1 .. 2^10 and 2^15 (above the butterflies' cache block), rates 1/2, 1/4, 1/8, 2/3 and 4/5; the
 * integer batch equals the field path on converted rows, on 1 and 3 threads. */
static void rs_sys_tier(void)
{
    em_err err;
    const unsigned sizes[] = {0, 1, 2, 3, 4, 5, 8, 10, 15};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        unsigned l = sizes[si];
        size_t n = (size_t)1 << l;
        ntt_plan *p = NULL;
        CHECK_OK(ntt_plan_create(l, &p, &err), &err);
        if (!p)
            return;
        for (unsigned rate = 1; rate <= 3; rate++) {
            size_t R = (size_t)1 << rate;
            ff_t *m = rnd_vec(n), *coef = malloc(n * 8), *par = malloc((R - 1) * n * 8);
            memcpy(coef, m, n * 8);
            ntt_inverse(p, coef);
            CHECK_OK(ntt_rs_encode_sys(p, rate, m, par, &err), &err);
            ff_t eta = ff_root_of_unity(l + rate), w = ff_root_of_unity(l);
            for (int k = 0; k < 12; k++) {
                size_t b = 1 + (size_t)k % (R - 1), c = k < 2 ? (size_t)k * (n - 1) : th_rand() % n;
                CHECK_EQ_U64(par[(b - 1) * n + c], horner(coef, n, ff_mul(ff_pow(eta, b), ff_pow(w, c))));
            }
            free(m), free(coef), free(par);
        }
        short_parity_case(p, l, NTT_SYS_RATE_2_3, 1); /* rate 2/3: f on w_2n <w_n^2> */
        short_parity_case(p, l, NTT_SYS_RATE_4_5, 2); /* rate 4/5: f on w_2n <w_n^4> */
        CHECK_ST(ntt_rs_encode_sys(p, 5, NULL, NULL, &err), EM_ERR_ARG, &err);
        ntt_plan_free(p);
    }
    const unsigned lm = 9;
    const size_t n = (size_t)1 << lm, rows = 7;
    ntt_plan *p = NULL;
    CHECK_OK(ntt_plan_create(lm, &p, &err), &err);
    if (!p)
        return;
    int32_t *iv = malloc(n * rows * sizeof *iv);
    ff_t *fv = malloc(n * 8), *a = malloc(3 * n * rows * 8), *b = malloc(3 * n * rows * 8);
    const size_t lens[] = {0, 1, n - 3, n, 3 * n + 17, n * rows};
    const unsigned rates[] = {NTT_SYS_RATE_2_3, 1, 2, NTT_SYS_RATE_4_5};
    for (unsigned ri = 0; ri < 4; ri++) { /* 2/3, 1/2, 1/4, 4/5 */
        unsigned rate = rates[ri];
        size_t P = ntt_sys_parity_len(lm, rate);
        for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
            size_t len = lens[li];
            for (size_t i = 0; i < n * rows; i++)
                iv[i] = i % 97 == 0 ? INT32_MIN : i % 89 == 0 ? INT32_MAX : (int32_t)(uint32_t)th_rand();
            for (size_t r = 0; r < rows; r++) {
                for (size_t i = 0; i < n; i++)
                    fv[i] = r * n + i < len ? ff_from_i64(iv[r * n + i]) : 0;
                CHECK_OK(ntt_rs_encode_sys(p, rate, fv, a + r * P, &err), &err);
            }
            for (unsigned th = 1; th <= 3; th += 2) {
                memset(b, 0xa5, P * rows * 8);
                CHECK_OK(ntt_rs_encode_rows_sys_i32(p, rate, len ? iv : NULL, len, rows, b, th, &err), &err);
                CHECK(memcmp(a, b, P * rows * 8) == 0);
            }
        }
    }
    CHECK_ST(ntt_rs_encode_rows_sys_i32(p, 1, NULL, 5, rows, b, 1, &err), EM_ERR_ARG, &err);
    CHECK_ST(ntt_rs_encode_rows_sys_i32(NULL, 1, iv, 5, rows, b, 1, &err), EM_ERR_ARG, &err);
    free(iv), free(fv), free(a), free(b);
    ntt_plan_free(p);
}

static void test_rs_sys(void) { on_every_tier(rs_sys_tier); }

/* Extreme rates: a 2-element message spread over 2^17 points (the expansion exceeds the
 * cache block of the butterfly recursion). */
static void test_rs_high_rate(void)
{
    em_err err;
    for (unsigned lm = 0; lm <= 1; lm++) {
        unsigned rate = 17 - lm;
        size_t n = (size_t)1 << lm, N = n << rate;
        ntt_plan *pN = NULL;
        CHECK_OK(ntt_plan_create(lm + rate, &pN, &err), &err);
        if (!pN)
            return;
        ff_t msg[2] = {rnd(), rnd()}, *cw = malloc(N * 8);
        CHECK_OK(ntt_rs_encode(pN, rate, FF_GENERATOR, NTT_RS_COEFFS, msg, cw, &err), &err);
        ff_t w = ff_root_of_unity(lm + rate);
        for (int k = 0; k < 16; k++) {
            size_t j = k < 2 ? (size_t)k * (N - 1) : th_rand() % N;
            CHECK_EQ_U64(cw[j], horner(msg, n, ff_mul(FF_GENERATOR, ff_pow(w, j))));
        }
        free(cw);
        ntt_plan_free(pN);
    }
}

static void test_plan_limits(void)
{
    em_err err;
    ntt_plan *p = NULL;
    CHECK_ST(ntt_plan_create(NTT_MAX_LOG_N + 1, &p, &err), EM_ERR_LIMIT, &err);
    CHECK(p == NULL);
    ntt_plan_free(NULL);
    ff_t v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    ntt_bit_reverse(v, 3);
    const ff_t want[8] = {0, 4, 2, 6, 1, 5, 3, 7};
    CHECK(memcmp(v, want, sizeof v) == 0);
}

int main(void)
{
    th_init("test_ntt");
    TH_RUN(test_plan_limits);
    TH_RUN(test_scalar);
    TH_RUN(test_avx2);
    TH_RUN(test_avx512);
    TH_RUN(test_rs);
    TH_RUN(test_rs_threads);
    TH_RUN(test_rs_high_rate);
    TH_RUN(test_rs_i32);
    TH_RUN(test_rs_sys);
    return th_finish();
}
