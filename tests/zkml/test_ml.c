/* Multilinear toolkit against naive O(n 2^n) references built from the definition of eq. */
#include <stdlib.h>

#include "enclaveml/zkml/ml.h"
#include "zk_test_util.h"

static void test_eq_table(void)
{
    for (unsigned n = 0; n <= 9; n++) {
        ff2_t r[16], s = rnd_ff2();
        for (unsigned j = 0; j < n; j++)
            r[j] = rnd_ff2();
        size_t N = (size_t)1 << n;
        ff2_t *eq = malloc(N * sizeof *eq);
        ml_eq_table(r, n, s, eq);
        ff2_t sum = ff2_zero();
        for (size_t i = 0; i < N; i++) {
            CHECK(ff2_eq(eq[i], ff2_mul(s, naive_eq(r, n, i))));
            sum = ff2_add(sum, eq[i]);
        }
        CHECK(ff2_eq(sum, s)); /* eq sums to one over the cube */
        /* ml_eq_eval at a Boolean point is the table entry. */
        ff2_t b[16];
        size_t i = th_rand() % N;
        for (unsigned j = 0; j < n; j++)
            b[j] = ff2_from_base((i >> j) & 1);
        CHECK(ff2_eq(ff2_mul(s, ml_eq_eval(r, b, n)), eq[i]));
        free(eq);
    }
    /* eq(r, s) symmetric and eq(r, r') != eq for distinct points in general. */
    ff2_t r[5], q[5];
    for (unsigned j = 0; j < 5; j++) {
        r[j] = rnd_ff2();
        q[j] = rnd_ff2();
    }
    CHECK(ff2_eq(ml_eq_eval(r, q, 5), ml_eq_eval(q, r, 5)));
}

static void test_eval_and_fold(void)
{
    for (unsigned n = 0; n <= 10; n++) {
        size_t N = (size_t)1 << n;
        for (int trial = 0; trial < 3; trial++) {
            size_t len = trial == 0 ? N : 1 + th_rand() % N; /* odd / padded lengths too */
            ff_t *t = malloc(N * sizeof *t);
            ff2_t *te = malloc(N * sizeof *te), *sc = malloc((N / 2 + 1) * sizeof *sc);
            ff2_t r[16];
            for (size_t i = 0; i < len; i++) {
                t[i] = rnd_ff();
                te[i] = ff2_from_base(t[i]);
            }
            for (unsigned j = 0; j < n; j++)
                r[j] = rnd_ff2();
            ff2_t want = naive_eval_base(t, len, n, r);
            CHECK(ff2_eq(ml_eval_base(t, len, n, r, sc), want));
            CHECK(ff2_eq(ml_eval_ext(te, len, n, r, sc), want));
            ff2_t *eq = malloc(N * sizeof *eq);
            ml_eq_table(r, n, ff2_one(), eq);
            CHECK(ff2_eq(ml_dot_base(t, eq, len), want));
            CHECK(ff2_eq(ml_dot_ext(te, eq, len), want));
            if (n > 0) {
                /* Folding x_0 then evaluating the rest equals evaluating at r. */
                size_t l2 = ml_fold_base(t, len, r[0], sc);
                CHECK_EQ_U64(l2, (len + 1) / 2);
                CHECK(ff2_eq(ml_eval_ext_inplace(sc, l2, n - 1, r + 1), want));
                l2 = ml_fold_ext(te, len, r[0]);
                CHECK(ff2_eq(ml_eval_ext_inplace(te, l2, n - 1, r + 1), want));
            }
            /* At a Boolean point the extension is the table entry. */
            size_t i = th_rand() % N;
            ff2_t b[16];
            for (unsigned j = 0; j < n; j++)
                b[j] = ff2_from_base((i >> j) & 1);
            CHECK(ff2_eq(ml_eval_base(t, len, n, b, sc), ff2_from_base(i < len ? t[i] : 0)));
            free(eq);
            free(t);
            free(te);
            free(sc);
        }
    }
}

static void test_short_tables(void)
{
    /* len 0 and 1 need no scratch (NULL allowed) */
    ff2_t r[6];
    for (unsigned j = 0; j < 6; j++)
        r[j] = rnd_ff2();
    ff_t t = rnd_ff();
    ff2_t te = ff2_from_base(t);
    CHECK(ff2_eq(ml_eval_base(&t, 1, 6, r, NULL), naive_eval_base(&t, 1, 6, r)));
    CHECK(ff2_eq(ml_eval_ext(&te, 1, 6, r, NULL), naive_eval_base(&t, 1, 6, r)));
    CHECK(ff2_is_zero(ml_eval_base(&t, 0, 6, r, NULL)));
    CHECK(ff2_eq(ml_eval_base(&t, 1, 0, r, NULL), te));
}

static void test_tensor(void)
{
    unsigned nl = 3, nh = 4;
    size_t C = (size_t)1 << nl, H = (size_t)1 << nh;
    ff_t t[128];
    ff2_t te[128];
    for (size_t i = 0; i < C * H; i++) {
        t[i] = rnd_ff();
        te[i] = ff2_from_base(t[i]);
    }
    ff2_t r[7];
    for (unsigned j = 0; j < 7; j++)
        r[j] = rnd_ff2();
    ff2_t eqh[16], eql[8], u[8], u2[8], v[16];
    ml_eq_table(r + nl, nh, ff2_one(), eqh);
    ml_eq_table(r, nl, ff2_one(), eql);
    ml_fix_high_base(t, nl, H, eqh, u);
    ml_fix_high_ext(te, nl, H, eqh, u2);
    ml_fix_low_base(t, nl, H, eql, v);
    ff2_t want = naive_eval_base(t, C * H, nl + nh, r);
    for (size_t l = 0; l < C; l++) {
        ff2_t s = ff2_zero();
        for (size_t h = 0; h < H; h++)
            s = ff2_add(s, ff2_mul_base(naive_eq(r + nl, nh, h), t[h * C + l]));
        CHECK(ff2_eq(u[l], s));
        CHECK(ff2_eq(u2[l], s));
    }
    /* Both contractions finish to the full evaluation (tensor structure of eq). */
    CHECK(ff2_eq(ml_dot_ext(u, eql, C), want));
    CHECK(ff2_eq(ml_dot_ext(v, eqh, H), want));
    /* Fewer rows = zero rows. */
    ml_fix_high_base(t, nl, 5, eqh, u);
    ff2_t s0 = ff2_zero();
    for (size_t h = 0; h < 5; h++)
        s0 = ff2_add(s0, ff2_mul_base(eqh[h], t[h * C]));
    CHECK(ff2_eq(u[0], s0));
}

static void test_indicator_identity(void)
{
    for (unsigned n = 0; n <= 8; n++) {
        ff2_t r[8];
        for (unsigned j = 0; j < n; j++)
            r[j] = rnd_ff2();
        size_t N = (size_t)1 << n;
        ff2_t id = ff2_zero();
        for (size_t i = 0; i < N; i++)
            id = ff2_add(id, ff2_mul_base(naive_eq(r, n, i), (ff_t)i));
        CHECK(ff2_eq(ml_identity_eval(n, r), id));
        for (size_t len = 0; len <= N; len++) {
            ff2_t s = ff2_zero();
            for (size_t i = 0; i < len; i++)
                s = ff2_add(s, naive_eq(r, n, i));
            CHECK(ff2_eq(ml_prefix_indicator_eval(len, n, r), s));
        }
    }
}

int main(void)
{
    th_init("test_ml");
    TH_RUN(test_eq_table);
    TH_RUN(test_eval_and_fold);
    TH_RUN(test_short_tables);
    TH_RUN(test_tensor);
    TH_RUN(test_indicator_identity);
    return th_finish();
}
