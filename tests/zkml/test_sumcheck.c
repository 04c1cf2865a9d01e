/* Sumcheck: completeness on random instances (sizes 2^0 .. 2^16, base/ext/mixed tables,
 * degrees 1..4), final evaluations against independent evaluation, and rejection of every
 * tampering: wrong claim, each round value, final evaluations, every serialized element,
 * truncation, a different transcript. */
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/ml.h"
#include "enclaveml/zkml/sumcheck.h"
#include "zk_test_util.h"

typedef struct inst {
    sc_shape s;
    sc_tables t;
    ff_t *b[SC_MAX_TABLES];
    ff2_t *e[SC_MAX_TABLES];
} inst;

/* kind 0: product of two base tables; 1: product of two ext tables; 2: mixed degree-4 sum of
 * three terms; 3: one linear term; 4: product of base and ext (generic path). */
static void inst_make(inst *in, unsigned kind, unsigned n)
{
    memset(in, 0, sizeof *in);
    size_t N = (size_t)1 << n;
    unsigned nt = kind == 2 ? 5 : kind == 3 ? 1 : 2;
    if (kind <= 1 || kind == 4) {
        sc_shape_product2(&in->s, n);
        in->s.term[0].coeff = rnd_ff2();
    } else if (kind == 2) {
        in->s.n_vars = n;
        in->s.n_tables = 5;
        in->s.n_terms = 3;
        in->s.term[0] = (sc_term){.coeff = rnd_ff2(), .n_factors = 4, .factor = {0, 1, 2, 3}};
        in->s.term[1] = (sc_term){.coeff = rnd_ff2(), .n_factors = 2, .factor = {4, 4}};
        in->s.term[2] = (sc_term){.coeff = ff2_one(), .n_factors = 1, .factor = {2}};
    } else {
        in->s.n_vars = n;
        in->s.n_tables = 1;
        in->s.n_terms = 1;
        in->s.term[0] = (sc_term){.coeff = rnd_ff2(), .n_factors = 1, .factor = {0}};
    }
    for (unsigned k = 0; k < nt; k++) {
        int ext = kind == 1 || (kind == 2 && (k & 1)) || (kind == 4 && k == 1);
        if (ext) {
            in->e[k] = malloc(N * sizeof(ff2_t));
            for (size_t i = 0; i < N; i++)
                in->e[k][i] = rnd_ff2();
            in->t.ext[k] = in->e[k];
        } else {
            in->b[k] = malloc(N * sizeof(ff_t));
            for (size_t i = 0; i < N; i++)
                in->b[k][i] = rnd_ff();
            in->t.base[k] = in->b[k];
        }
    }
}

static void inst_free(inst *in)
{
    for (unsigned k = 0; k < SC_MAX_TABLES; k++) {
        free(in->b[k]);
        free(in->e[k]);
    }
}

/* Independent sum: evaluate every term at every point with naive loops. */
static ff2_t ref_sum(const inst *in)
{
    size_t N = (size_t)1 << in->s.n_vars;
    ff2_t tot = ff2_zero();
    for (size_t x = 0; x < N; x++)
        for (unsigned t = 0; t < in->s.n_terms; t++) {
            ff2_t p = in->s.term[t].coeff;
            for (unsigned f = 0; f < in->s.term[t].n_factors; f++) {
                unsigned k = in->s.term[t].factor[f];
                p = ff2_mul(p, in->b[k] ? ff2_from_base(in->b[k][x]) : in->e[k][x]);
            }
            tot = ff2_add(tot, p);
        }
    return tot;
}

static void test_completeness(void)
{
    unsigned sizes[] = {0, 1, 2, 3, 4, 5, 7, 10};
    for (unsigned kind = 0; kind < 5; kind++)
        for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
            unsigned n = sizes[si];
            inst in;
            inst_make(&in, kind, n);
            ff2_t claim = ref_sum(&in);
            CHECK(ff2_eq(sc_sum(&in.s, &in.t), claim));
            tr_t tp, tv;
            tr_init(&tp, "test/sc");
            tv = tp;
            sc_proof pr;
            ff2_t pt[SC_MAX_VARS], pv[SC_MAX_VARS], ev[SC_MAX_TABLES];
            em_err err = {0};
            CHECK_OK(sc_prove(&in.s, &in.t, claim, &tp, NULL, &pr, pt, &err), &err);
            /* serialize, parse, verify */
            em_buf b = {.max = 1 << 20};
            CHECK_OK(sc_proof_write(&pr, &b, &err), &err);
            CHECK_EQ_U64(b.len, sc_proof_size(&in.s));
            em_reader r;
            em_reader_init(&r, b.data, b.len);
            sc_proof pr2;
            CHECK_OK(sc_proof_read(&in.s, &r, &pr2, &err), &err);
            CHECK_EQ_U64(em_reader_left(&r), 0);
            CHECK_OK(sc_verify(&in.s, claim, &pr2, &tv, pv, ev, &err), &err);
            CHECK(memcmp(tp.state, tv.state, 32) == 0);
            for (unsigned j = 0; j < n; j++)
                CHECK(ff2_eq(pt[j], pv[j]));
            /* final evaluations are the true table evaluations at the point */
            size_t N = (size_t)1 << n;
            ff2_t *sc = malloc((N / 2 + 1) * sizeof *sc);
            for (unsigned k = 0; k < in.s.n_tables; k++) {
                ff2_t want = in.b[k] ? ml_eval_base(in.b[k], N, n, pv, sc) : ml_eval_ext(in.e[k], N, n, pv, sc);
                CHECK(ff2_eq(ev[k], want));
            }
            free(sc);
            em_buf_free(&b);
            inst_free(&in);
        }
}

static void test_large_product(void)
{
    /* 2^16 product of two base tables (the matmul fast path), caller-owned scratch. */
    inst in;
    inst_make(&in, 0, 16);
    ff2_t claim = ref_sum(&in);
    tr_t tp, tv;
    tr_init(&tp, "test/sc16");
    tv = tp;
    sc_proof pr;
    ff2_t pt[SC_MAX_VARS], ev[SC_MAX_TABLES];
    em_err err = {0};
    ff2_t *scratch = malloc(sc_prove_scratch_len(&in.s) * sizeof *scratch);
    CHECK_OK(sc_prove(&in.s, &in.t, claim, &tp, scratch, &pr, pt, &err), &err);
    CHECK_OK(sc_verify(&in.s, claim, &pr, &tv, pt, ev, &err), &err);
    ff2_t *sc = malloc(((size_t)1 << 15) * sizeof *sc);
    CHECK(ff2_eq(ev[0], ml_eval_base(in.b[0], (size_t)1 << 16, 16, pt, sc)));
    CHECK(ff2_eq(ev[1], ml_eval_base(in.b[1], (size_t)1 << 16, 16, pt, sc)));
    free(sc);
    free(scratch);
    inst_free(&in);
}

static int verify_fresh(const inst *in, ff2_t claim, const sc_proof *pr)
{
    tr_t tv;
    tr_init(&tv, "test/sc");
    ff2_t pv[SC_MAX_VARS], ev[SC_MAX_TABLES];
    em_err err = {0};
    return sc_verify(&in->s, claim, pr, &tv, pv, ev, &err) == EM_OK;
}

static void test_soundness(void)
{
    for (unsigned kind = 0; kind < 5; kind++) {
        unsigned n = 5;
        inst in;
        inst_make(&in, kind, n);
        ff2_t claim = ref_sum(&in);
        tr_t tp;
        tr_init(&tp, "test/sc");
        sc_proof pr;
        ff2_t pt[SC_MAX_VARS];
        em_err err = {0};
        CHECK_OK(sc_prove(&in.s, &in.t, claim, &tp, NULL, &pr, pt, &err), &err);
        CHECK(verify_fresh(&in, claim, &pr));
        /* wrong claim */
        CHECK(!verify_fresh(&in, ff2_add(claim, ff2_one()), &pr));
        /* the prover refuses a false claim */
        tr_init(&tp, "test/sc");
        sc_proof bad;
        CHECK_ST(sc_prove(&in.s, &in.t, ff2_add(claim, ff2_one()), &tp, NULL, &bad, pt, &err), EM_ERR_ARG, &err);
        /* every round value */
        for (unsigned j = 0; j < pr.n_vars; j++)
            for (unsigned e = 0; e < pr.degree; e++) {
                sc_proof t = pr;
                t.round[j][e] = ff2_add(t.round[j][e], (ff2_t){0, 1});
                CHECK(!verify_fresh(&in, claim, &t));
            }
        /* every final evaluation */
        for (unsigned k = 0; k < pr.n_tables; k++) {
            sc_proof t = pr;
            t.final_eval[k] = ff2_add(t.final_eval[k], ff2_one());
            CHECK(!verify_fresh(&in, claim, &t));
        }
        /* a different transcript (e.g. another statement bound before) */
        {
            tr_t tv;
            tr_init(&tv, "test/other");
            ff2_t pv[SC_MAX_VARS], ev[SC_MAX_TABLES];
            CHECK(sc_verify(&in.s, claim, &pr, &tv, pv, ev, &err) != EM_OK);
        }
        /* shape mismatch */
        {
            sc_shape s2 = in.s;
            s2.n_vars = n + 1;
            tr_t tv;
            tr_init(&tv, "test/sc");
            ff2_t pv[SC_MAX_VARS], ev[SC_MAX_TABLES];
            CHECK_ST(sc_verify(&s2, claim, &pr, &tv, pv, ev, &err), EM_ERR_FORMAT, &err);
        }
        /* serialized bytes: every element corrupted, truncation, non-canonical */
        em_buf b = {.max = 1 << 20};
        CHECK_OK(sc_proof_write(&pr, &b, &err), &err);
        for (size_t off = 0; off < b.len; off += 8) {
            uint8_t *cp = malloc(b.len);
            memcpy(cp, b.data, b.len);
            cp[off] ^= 1;
            em_reader r;
            em_reader_init(&r, cp, b.len);
            sc_proof p2;
            if (sc_proof_read(&in.s, &r, &p2, &err) == EM_OK)
                CHECK(!verify_fresh(&in, claim, &p2));
            free(cp);
        }
        for (size_t cut = 0; cut < b.len; cut += 5) {
            em_reader r;
            em_reader_init(&r, b.data, cut);
            sc_proof p2;
            CHECK_ST(sc_proof_read(&in.s, &r, &p2, &err), EM_ERR_PARSE, &err);
        }
        {
            uint8_t *cp = malloc(b.len);
            memcpy(cp, b.data, b.len);
            memset(cp, 0xff, 8); /* 2^64 - 1 >= p */
            em_reader r;
            em_reader_init(&r, cp, b.len);
            sc_proof p2;
            CHECK(sc_proof_read(&in.s, &r, &p2, &err) != EM_OK);
            free(cp);
        }
        em_buf_free(&b);
        inst_free(&in);
    }
}

static void test_fold_claims(void)
{
    unsigned sizes[] = {0, 1, 3, 9};
    size_t counts[] = {1, 3, 7};
    for (size_t si = 0; si < 4; si++)
        for (size_t ci = 0; ci < 3; ci++) {
            unsigned n = sizes[si];
            size_t N = (size_t)1 << n, K = counts[ci];
            size_t len = n == 3 ? 5 : N; /* a padded table */
            ff_t *t = malloc(N * sizeof *t);
            for (size_t i = 0; i < len; i++)
                t[i] = rnd_ff();
            ff2_t pts[7][16], vals[7];
            const ff2_t *pp[7];
            for (size_t k = 0; k < K; k++) {
                for (unsigned j = 0; j < n; j++)
                    pts[k][j] = rnd_ff2();
                /* some claims on packed blocks: Boolean top coordinates (the sparse path) */
                for (unsigned j = n / 2; j < n && (k % 2); j++)
                    pts[k][j] = ff2_from_base(th_rand() & 1);
                pp[k] = pts[k];
                vals[k] = naive_eval_base(t, len, n, pts[k]);
            }
            tr_t tp, tv;
            tr_init(&tp, "test/fold");
            tv = tp;
            sc_proof pr;
            ff2_t r[SC_MAX_VARS], rv[SC_MAX_VARS], v, vv;
            em_err err = {0};
            CHECK_OK(sc_fold_prove(t, len, n, pp, vals, K, &tp, &pr, r, &v, &err), &err);
            CHECK(ff2_eq(v, naive_eval_base(t, len, n, r)));
            CHECK_OK(sc_fold_verify(n, pp, vals, K, &pr, &tv, rv, &vv, &err), &err);
            CHECK(ff2_eq(v, vv));
            CHECK(memcmp(tp.state, tv.state, 32) == 0);
            /* a false value: the honest prover refuses, a replayed proof is rejected */
            ff2_t bad[7];
            memcpy(bad, vals, sizeof bad);
            bad[K - 1] = ff2_add(bad[K - 1], ff2_one());
            tr_init(&tp, "test/fold");
            sc_proof pb;
            CHECK(sc_fold_prove(t, len, n, pp, bad, K, &tp, &pb, r, &v, &err) != EM_OK);
            tr_init(&tv, "test/fold");
            CHECK(sc_fold_verify(n, pp, bad, K, &pr, &tv, rv, &vv, &err) != EM_OK);
            /* the weight evaluation (table 1) and every round value are checked */
            sc_proof pt2 = pr;
            pt2.final_eval[1] = ff2_add(pt2.final_eval[1], ff2_one());
            tr_init(&tv, "test/fold");
            CHECK(sc_fold_verify(n, pp, vals, K, &pt2, &tv, rv, &vv, &err) != EM_OK);
            for (unsigned j = 0; j < n; j++) {
                pt2 = pr;
                pt2.round[j][1] = ff2_add(pt2.round[j][1], ff2_one());
                tr_init(&tv, "test/fold");
                CHECK(sc_fold_verify(n, pp, vals, K, &pt2, &tv, rv, &vv, &err) != EM_OK);
            }
            free(t);
        }
}

static void test_bad_shapes(void)
{
    sc_shape s;
    em_err err = {0};
    sc_shape_product2(&s, 3);
    s.term[0].factor[1] = 7;
    CHECK_ST(sc_shape_check(&s, &err), EM_ERR_ARG, &err);
    sc_shape_product2(&s, SC_MAX_VARS + 1);
    CHECK_ST(sc_shape_check(&s, &err), EM_ERR_ARG, &err);
    sc_shape_product2(&s, 3);
    s.term[0].n_factors = SC_MAX_DEGREE + 1;
    CHECK_ST(sc_shape_check(&s, &err), EM_ERR_ARG, &err);
}

int main(void)
{
    th_init("test_sumcheck");
    TH_RUN(test_completeness);
    TH_RUN(test_large_product);
    TH_RUN(test_soundness);
    TH_RUN(test_fold_claims);
    TH_RUN(test_bad_shapes);
    return th_finish();
}
