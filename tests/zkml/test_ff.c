/* Goldilocks field, extension field and batch inversion against GMP. */
#include <gmp.h>

#include "enclaveml/zkml/ff.h"
#include "enclaveml/zkml/ff_vec.h"
#include "harness.h"

static mpz_t P;

static ff_t from_mpz(const mpz_t z)
{
    mpz_t r;
    mpz_init(r);
    mpz_mod(r, z, P);
    ff_t v = (ff_t)mpz_get_ui(r); /* unsigned long is 64-bit on this platform */
    mpz_clear(r);
    return v;
}

static void to_mpz(mpz_t z, ff_t v) { mpz_set_ui(z, (unsigned long)v); }

static const ff_t edge[] = {0,
                            1,
                            2,
                            FF_P - 1,
                            FF_P - 2,
                            0xFFFFFFFFULL,
                            0x100000000ULL,
                            0x100000001ULL,
                            FF_P / 2,
                            FF_P / 2 + 1,
                            0xFFFFFFFF00000000ULL,
                            0x8000000000000000ULL,
                            0x7FFFFFFFFFFFFFFFULL};
#define N_EDGE (sizeof edge / sizeof edge[0])

static ff_t rnd(void)
{
    /* mix of uniform and edge values, plus values near 2^32 multiples */
    uint64_t r = th_rand();
    switch (r & 7) {
    case 0:
        return edge[(r >> 8) % N_EDGE];
    case 1:
        return ff_from_u64(((r >> 8) & 0xFFFFFFFFULL) << 32);
    default:
        return ff_from_u64(th_rand());
    }
}

static void check_pair(ff_t x, ff_t y)
{
    mpz_t a, b, r;
    mpz_inits(a, b, r, NULL);
    to_mpz(a, x);
    to_mpz(b, y);
    mpz_add(r, a, b);
    CHECK_EQ_U64(ff_add(x, y), from_mpz(r));
    mpz_sub(r, a, b);
    CHECK_EQ_U64(ff_sub(x, y), from_mpz(r));
    mpz_mul(r, a, b);
    CHECK_EQ_U64(ff_mul(x, y), from_mpz(r));
    mpz_neg(r, a);
    CHECK_EQ_U64(ff_neg(x), from_mpz(r));
    if (x) {
        CHECK(mpz_invert(r, a, P));
        CHECK_EQ_U64(ff_inv(x), from_mpz(r));
    } else {
        CHECK_EQ_U64(ff_inv(x), 0);
    }
    mpz_clears(a, b, r, NULL);
}

static void test_base_ops(void)
{
    for (size_t i = 0; i < N_EDGE; i++)
        for (size_t j = 0; j < N_EDGE; j++)
            check_pair(edge[i], edge[j]);
    for (int k = 0; k < 20000; k++)
        check_pair(rnd(), rnd());
    /* reduce128 on arbitrary 128-bit inputs, not only products of canonical values */
    for (int k = 0; k < 20000; k++) {
        unsigned __int128 x = ((unsigned __int128)th_rand() << 64) | th_rand();
        if (k < 4)
            x = ~(unsigned __int128)0 >> (k * 31);
        mpz_t z;
        mpz_init(z);
        mpz_import(z, 2, -1, 8, 0, 0, (uint64_t[2]){(uint64_t)x, (uint64_t)(x >> 64)});
        CHECK_EQ_U64(ff_reduce128(x), from_mpz(z));
        mpz_clear(z);
    }
}

static void test_pow_signed(void)
{
    CHECK_EQ_U64(ff_mul(2, FF_INV2), 1); /* the interpolation constants */
    CHECK_EQ_U64(ff_mul(6, FF_INV6), 1);
    mpz_t a, r;
    mpz_inits(a, r, NULL);
    for (int k = 0; k < 2000; k++) {
        ff_t x = rnd();
        uint64_t e = th_rand() >> (th_rand() & 63);
        to_mpz(a, x);
        mpz_powm_ui(r, a, e, P);
        CHECK_EQ_U64(ff_pow(x, e), from_mpz(r));
    }
    int64_t vals[] = {0, 1, -1, 5, -5, INT64_MAX / 4, -(INT64_MAX / 4), 123456789, -987654321};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        mpz_set_si(a, vals[i]);
        CHECK_EQ_U64(ff_from_i64(vals[i]), from_mpz(a));
        CHECK_EQ_I64(ff_to_i64(ff_from_i64(vals[i])), vals[i]);
    }
    CHECK_EQ_U64(ff_from_u64(FF_P), 0);
    CHECK_EQ_U64(ff_from_u64(UINT64_MAX), FF_EPSILON - 1);
    mpz_clears(a, r, NULL);
}

static void test_generator_roots(void)
{
    mpz_t g, e, r, pm1;
    mpz_inits(g, e, r, pm1, NULL);
    mpz_set_ui(g, FF_GENERATOR);
    mpz_sub_ui(pm1, P, 1);
    /* 7 is a quadratic non-residue: Euler's criterion gives -1, so X^2 - 7 is irreducible */
    CHECK_EQ_I64(mpz_legendre(g, P), -1);
    mpz_divexact_ui(e, pm1, 2);
    mpz_powm(r, g, e, P);
    CHECK_EQ_U64(from_mpz(r), FF_P - 1);
    /* 7 generates F_p^*: p - 1 = 2^32 * 3 * 5 * 17 * 257 * 65537; g^((p-1)/q) != 1 for all q */
    const unsigned long primes[] = {2, 3, 5, 17, 257, 65537};
    mpz_t prod;
    mpz_init_set_ui(prod, 1);
    mpz_mul_2exp(prod, prod, 32);
    for (int i = 1; i < 6; i++)
        mpz_mul_ui(prod, prod, primes[i]);
    CHECK(mpz_cmp(prod, pm1) == 0);
    for (int i = 0; i < 6; i++) {
        mpz_divexact_ui(e, pm1, primes[i]);
        mpz_powm(r, g, e, P);
        CHECK(mpz_cmp_ui(r, 1) != 0);
    }
    mpz_clear(prod);
    for (unsigned l = 0; l <= FF_TWO_ADICITY; l++) {
        ff_t w = ff_root_of_unity(l);
        CHECK_EQ_U64(ff_pow(w, (uint64_t)1 << l), 1);
        if (l)
            CHECK_EQ_U64(ff_pow(w, (uint64_t)1 << (l - 1)), FF_P - 1); /* primitive */
        if (l < FF_TWO_ADICITY)
            CHECK_EQ_U64(ff_sqr(ff_root_of_unity(l + 1)), w);
    }
    CHECK_EQ_U64(ff_root_of_unity(FF_TWO_ADICITY + 1), 0);
    mpz_clears(g, e, r, pm1, NULL);
}

/* (a + bX)(c + dX) mod X^2 - 7 computed with GMP integers */
static void test_ext(void)
{
    mpz_t a, b, c, d, t, u, r0, r1;
    mpz_inits(a, b, c, d, t, u, r0, r1, NULL);
    for (int k = 0; k < 5000; k++) {
        ff2_t x = {rnd(), rnd()}, y = {rnd(), rnd()};
        to_mpz(a, x.a);
        to_mpz(b, x.b);
        to_mpz(c, y.a);
        to_mpz(d, y.b);
        mpz_mul(r0, a, c);
        mpz_mul(t, b, d);
        mpz_mul_ui(t, t, 7);
        mpz_add(r0, r0, t);
        mpz_mul(r1, a, d);
        mpz_mul(u, b, c);
        mpz_add(r1, r1, u);
        ff2_t m = ff2_mul(x, y);
        CHECK_EQ_U64(m.a, from_mpz(r0));
        CHECK_EQ_U64(m.b, from_mpz(r1));
        ff2_t s = ff2_add(x, y), dd = ff2_sub(x, y);
        CHECK_EQ_U64(s.a, ff_add(x.a, y.a));
        CHECK_EQ_U64(dd.b, ff_sub(x.b, y.b));
        ff2_t xi = ff2_inv(x);
        if (ff2_is_zero(x))
            CHECK(ff2_is_zero(xi));
        else
            CHECK(ff2_eq(ff2_mul(x, xi), ff2_one()));
        ff2_t mb = ff2_mul_base(x, y.a);
        CHECK(ff2_eq(mb, ff2_mul(x, ff2_from_base(y.a))));
    }
    mpz_clears(a, b, c, d, t, u, r0, r1, NULL);
}

static void test_encoding(void)
{
    uint8_t b[16];
    ff_t v;
    em_err err;
    for (size_t i = 0; i < N_EDGE; i++) {
        ff_encode(edge[i], b);
        for (int k = 0; k < 8; k++)
            CHECK_EQ_U64(b[k], (edge[i] >> (8 * k)) & 0xFF);
        CHECK_OK(ff_decode(b, &v, &err), &err);
        CHECK_EQ_U64(v, edge[i]);
    }
    /* every non-canonical value is rejected: p, p+1, 2^64-1, and randoms above p */
    uint64_t bad[] = {FF_P, FF_P + 1, UINT64_MAX, FF_P + 0x12345678ULL};
    for (size_t i = 0; i < 4; i++) {
        for (int k = 0; k < 8; k++)
            b[k] = (uint8_t)(bad[i] >> (8 * k));
        v = 42;
        CHECK_ST(ff_decode(b, &v, &err), EM_ERR_RANGE, &err);
        CHECK_EQ_U64(v, 42);
    }
    ff2_t x = {FF_P - 1, 12345}, y;
    ff2_encode(x, b);
    CHECK_OK(ff2_decode(b, &y, &err), &err);
    CHECK(ff2_eq(x, y));
    b[15] = 0xFF; /* b coordinate becomes >= p */
    b[14] = 0xFF;
    b[13] = 0xFF;
    b[12] = 0xFF;
    b[11] = 0xFF;
    b[10] = 0xFF;
    b[9] = 0xFF;
    b[8] = 0xFF;
    CHECK_ST(ff2_decode(b, &y, &err), EM_ERR_RANGE, &err);
    ff2_encode(x, b);
    memset(b, 0xFF, 8); /* a coordinate non-canonical */
    CHECK_ST(ff2_decode(b, &y, &err), EM_ERR_RANGE, &err);
    /* reader: truncation and canonicity */
    ff2_encode(x, b);
    em_reader r;
    em_reader_init(&r, b, 12);
    CHECK_OK(ff_read(&r, &v, &err), &err);
    CHECK_EQ_U64(v, FF_P - 1);
    CHECK_ST(ff_read(&r, &v, &err), EM_ERR_PARSE, &err);
    em_reader_init(&r, b, 15);
    CHECK_ST(ff2_read(&r, &y, &err), EM_ERR_PARSE, &err);
}

static void test_batch_inv(void)
{
    enum { N = 300 };
    ff_t in[N], out[N], scratch[N];
    for (int trial = 0; trial < 20; trial++) {
        size_t zeros = 0;
        for (int i = 0; i < N; i++) {
            in[i] = (th_rand() % 5 == 0 || (trial == 0 && i < 3)) ? 0 : rnd();
            zeros += in[i] == 0;
        }
        if (trial == 1)
            for (int i = 0; i < N; i++)
                in[i] = 0, zeros = N;
        CHECK_EQ_U64(ff_batch_inv(out, in, N, scratch), zeros);
        for (int i = 0; i < N; i++)
            CHECK_EQ_U64(out[i], ff_inv(in[i]));
        /* in place */
        ff_t copy[N];
        memcpy(copy, in, sizeof copy);
        CHECK_EQ_U64(ff_batch_inv(copy, copy, N, scratch), zeros);
        CHECK(memcmp(copy, out, sizeof copy) == 0);
    }
    CHECK_EQ_U64(ff_batch_inv(out, in, 0, scratch), 0);
    for (size_t n = 1; n < 12; n++) { /* short lengths, zeros at either end */
        for (size_t i = 0; i < n; i++)
            in[i] = (i == 0 || i == n - 1) && (n & 1) ? 0 : rnd();
        size_t z = 0;
        for (size_t i = 0; i < n; i++)
            z += in[i] == 0;
        CHECK_EQ_U64(ff_batch_inv(out, in, n, scratch), z);
        for (size_t i = 0; i < n; i++)
            CHECK_EQ_U64(out[i], ff_inv(in[i]));
    }

    ff2_t in2[N], out2[N], sc2[N];
    size_t z2 = 0;
    for (int i = 0; i < N; i++) {
        in2[i] = (i % 7 == 3) ? ff2_zero() : (ff2_t){rnd(), rnd()};
        if (i % 11 == 5)
            in2[i] = (ff2_t){0, (rnd() >> 1) | 1}; /* pure-X elements are not zero */
        z2 += ff2_is_zero(in2[i]);
    }
    CHECK_EQ_U64(ff2_batch_inv(out2, in2, N, sc2), z2);
    for (int i = 0; i < N; i++)
        CHECK(ff2_eq(out2[i], ff2_inv(in2[i])));
}

int main(void)
{
    th_init("test_ff");
    mpz_init_set_str(P, "18446744069414584321", 10);
    CHECK(mpz_cmp_ui(P, 0) > 0);
    {
        mpz_t q;
        mpz_init(q);
        mpz_ui_pow_ui(q, 2, 64);
        mpz_sub(q, q, P);
        CHECK(mpz_cmp_ui(q, FF_EPSILON) == 0); /* FF_P matches p = 2^64 - 2^32 + 1 */
        mpz_clear(q);
        CHECK(mpz_probab_prime_p(P, 30) > 0);
    }
    TH_RUN(test_base_ops);
    TH_RUN(test_pow_signed);
    TH_RUN(test_generator_roots);
    TH_RUN(test_ext);
    TH_RUN(test_encoding);
    TH_RUN(test_batch_inv);
    mpz_clear(P);
    return th_finish();
}
