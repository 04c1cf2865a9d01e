/* Polynomial commitment: completeness for single and batched openings (sizes 2^0 .. 2^16,
 * padded lengths, several polynomials and points), and rejection of false values, a proof made
 * for another committed polynomial, every corrupted proof region, truncated proofs and bad
 * layouts. Values are checked against the naive multilinear evaluation. A polynomial committed
 * from integers (pcs_poly.ints: the exact integer row fold in the openings) must give the same
 * root and proof bytes as from field elements. */
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/merkle.h"
#include "enclaveml/zkml/ml.h"
#include "enclaveml/zkml/pcs.h"
#include "zk_test_util.h"

static ff_t *rnd_vec(size_t n)
{
    ff_t *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = rnd_ff();
    return v;
}

static ff2_t eval_ref(const ff_t *t, size_t len, unsigned n, const ff2_t *r)
{
    if (n <= 12)
        return naive_eval_base(t, len, n, r);
    ff2_t *sc = malloc(((len + 1) / 2) * sizeof *sc);
    ff2_t v = ml_eval_base(t, len, n, r, sc);
    free(sc);
    return v;
}

/* Opens and verifies; returns the verifier status. */
static em_status open_verify(const pcs_prover *p, const pcs_layout *l, const uint8_t root[32],
                             const pcs_claim *open_claims, const pcs_claim *ver_claims, size_t n, em_buf *proof)
{
    em_err err = {0};
    tr_t tp, tv;
    tr_init(&tp, "test/pcs");
    tv = tp;
    proof->len = 0;
    em_status st = pcs_open(p, open_claims, n, &tp, proof, &err);
    CHECK_OK(st, &err);
    em_reader r;
    em_reader_init(&r, proof->data, proof->len);
    st = pcs_verify(l, root, ver_claims, n, &tv, &r, &err);
    if (st == EM_OK) {
        CHECK_EQ_U64(em_reader_left(&r), 0);
        CHECK(memcmp(tp.state, tv.state, 32) == 0);
    }
    return st;
}

static void test_single_sizes(void)
{
    unsigned sizes[] = {0, 1, 2, 3, 5, 8, 11, 16};
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
        unsigned n = sizes[si];
        size_t N = (size_t)1 << n;
        size_t len = n == 2 ? 3 : N; /* one padded (odd) length */
        ff_t *t = rnd_vec(len);
        pcs_layout l;
        em_err err = {0};
        CHECK_OK(pcs_layout_init(&l, &n, 1, 0, &err), &err);
        pcs_poly poly = {.evals = t, .len = len};
        pcs_prover *p = NULL;
        uint8_t root[32], root2[32];
        CHECK_OK(pcs_commit(&l, &poly, 2, &p, root, &err), &err);
        if (!p) {
            free(t);
            continue;
        }
        /* deterministic */
        pcs_prover *p2 = NULL;
        CHECK_OK(pcs_commit(&l, &poly, 1, &p2, root2, &err), &err);
        CHECK(memcmp(root, root2, 32) == 0);
        pcs_prover_free(p2);
        ff2_t pt[32];
        for (unsigned j = 0; j < n; j++)
            pt[j] = rnd_ff2();
        pcs_claim c = {.poly = 0, .point = pt, .value = eval_ref(t, len, n, pt)};
        CHECK(ff2_eq(pcs_prover_eval(p, 0, pt), c.value));
        em_buf proof = {.max = (size_t)1 << 28};
        CHECK_OK(open_verify(p, &l, root, &c, &c, 1, &proof), &err);
        /* false value */
        pcs_claim bad = c;
        bad.value = ff2_add(bad.value, (ff2_t){0, 1});
        CHECK_ST(open_verify(p, &l, root, &bad, &bad, 1, &proof), EM_ERR_VERIFY, &err);
        /* honest proof replayed for a false value */
        CHECK(open_verify(p, &l, root, &c, &bad, 1, &proof) != EM_OK);
        em_buf_free(&proof);
        pcs_prover_free(p);
        free(t);
    }
}

/* Small-integer polynomials (extremes included, a partial last row, claims on a few rows and on
 * all): committed from integers (pcs_poly.ints) they have the same root and the same opening
 * bytes as committed from field elements; integers need a non-hiding one-polynomial layout. */
static void test_commit_ints(void)
{
    unsigned n = 14;
    size_t lens[] = {(size_t)1 << 14, 5000, 1};
    for (size_t li = 0; li < 3; li++) {
        size_t len = lens[li];
        int32_t *iv = malloc(len * sizeof *iv);
        ff_t *t = malloc(len * sizeof *t);
        for (size_t i = 0; i < len; i++) {
            uint64_t r = rnd_ff();
            iv[i] = i % 97 == 0 ? (r % 2 ? INT32_MIN : INT32_MAX) : (int32_t)(r % 511) - 255;
            t[i] = ff_from_i64(iv[i]);
        }
        pcs_layout l;
        em_err err = {0};
        CHECK_OK(pcs_layout_init(&l, &n, 1, 0, &err), &err);
        pcs_poly pf = {.evals = t, .len = len}, pi = {.ints = iv, .len = len};
        pcs_prover *p = NULL, *q = NULL;
        uint8_t root[32], root_i[32];
        CHECK_OK(pcs_commit(&l, &pf, 2, &p, root, &err), &err);
        CHECK_OK(pcs_commit(&l, &pi, 2, &q, root_i, &err), &err);
        if (!p || !q) {
            pcs_prover_free(p);
            pcs_prover_free(q);
            free(iv);
            free(t);
            continue;
        }
        CHECK(memcmp(root, root_i, 32) == 0);
        ff2_t pt[3][32];
        pcs_claim c[3];
        for (int k = 0; k < 3; k++) {
            for (unsigned j = 0; j < n; j++)
                pt[k][j] = k == 2 && j >= n - 3 ? ff2_zero() : rnd_ff2(); /* claim 2: one eighth of the rows */
            c[k] = (pcs_claim){.poly = 0, .point = pt[k], .value = eval_ref(t, len, n, pt[k])};
        }
        em_buf plain = {.max = (size_t)1 << 28}, fast = {.max = (size_t)1 << 28};
        CHECK_OK(open_verify(p, &l, root, c, c, 3, &plain), &err);
        CHECK_OK(open_verify(q, &l, root, c, c, 3, &fast), &err);
        CHECK(plain.len == fast.len && memcmp(plain.data, fast.data, plain.len) == 0);
        /* both or neither representation, and integers only for one non-hiding polynomial */
        pcs_poly both = {.evals = t, .len = len, .ints = iv};
        pcs_prover *bad = NULL;
        CHECK_ST(pcs_commit(&l, &both, 1, &bad, root_i, &err), EM_ERR_ARG, &err);
        pcs_layout l2;
        unsigned nv2[2] = {n, n};
        pcs_poly two[2] = {pi, pi};
        CHECK_OK(pcs_layout_init(&l2, nv2, 2, 0, &err), &err);
        CHECK_ST(pcs_commit(&l2, two, 1, &bad, root_i, &err), EM_ERR_ARG, &err);
        em_buf_free(&plain);
        em_buf_free(&fast);
        pcs_prover_free(p);
        pcs_prover_free(q);
        free(iv);
        free(t);
    }
}

/* pcs_open_rows: claims sharing their column point, given their row combinations, open to the
 * bytes pcs_open writes; a wrong row combination yields a proof that fails; too few values, or
 * none, are refused. */
static void test_open_rows(void)
{
    unsigned n = 12;
    size_t N = (size_t)1 << n;
    ff_t *t = rnd_vec(N);
    pcs_layout l;
    em_err err = {0};
    CHECK_OK(pcs_layout_init(&l, &n, 1, 0, &err), &err);
    pcs_poly poly = {.evals = t, .len = N};
    pcs_prover *p = NULL;
    uint8_t root[32];
    CHECK_OK(pcs_commit(&l, &poly, 2, &p, root, &err), &err);
    size_t C = (size_t)1 << l.log_cols, R = N / C;
    enum { K = 3 };
    ff2_t pts[K][12], *rows = malloc(K * C * sizeof *rows), *eq = malloc(R * sizeof *eq);
    pcs_claim c[K];
    for (int k = 0; k < K; k++) {
        for (unsigned j = 0; j < n; j++)
            pts[k][j] = k && j < l.log_cols ? pts[0][j] : rnd_ff2();
        c[k] = (pcs_claim){.poly = 0, .point = pts[k], .value = eval_ref(t, N, n, pts[k])};
        ml_eq_table(pts[k] + l.log_cols, n - l.log_cols, ff2_one(), eq);
        ml_fix_high_base(t, l.log_cols, R, eq, rows + k * C);
    }
    em_buf a = {.max = (size_t)1 << 28}, b = {.max = (size_t)1 << 28};
    tr_t ta, tb, tv;
    tr_init(&ta, "test/pcs");
    tb = tv = ta;
    CHECK_OK(pcs_open(p, c, K, &ta, &a, &err), &err);
    CHECK_OK(pcs_open_rows(p, c, K, rows, K * C, &tb, &b, &err), &err);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    tr_t tb0 = tv;
    CHECK_ST(pcs_open_rows(p, c, K, rows, K * C - 1, &tb0, &b, &err), EM_ERR_ARG, &err);
    CHECK_ST(pcs_open_rows(p, c, K, NULL, K * C, &tb0, &b, &err), EM_ERR_ARG, &err);
    /* a wrong row combination: the evaluation row then disagrees with the opened columns */
    rows[C + 5] = ff2_add(rows[C + 5], ff2_one());
    b.len = 0;
    tb = tv;
    CHECK_OK(pcs_open_rows(p, c, K, rows, K * C, &tb, &b, &err), &err);
    em_reader r;
    em_reader_init(&r, b.data, b.len);
    CHECK_ST(pcs_verify(&l, root, c, K, &tv, &r, &err), EM_ERR_VERIFY, &err);
    em_buf_free(&a);
    em_buf_free(&b);
    pcs_prover_free(p);
    free(rows);
    free(eq);
    free(t);
}

static void test_batched(void)
{
    unsigned nv[3] = {10, 12, 11};
    ff_t *t[3];
    pcs_poly polys[3];
    for (int i = 0; i < 3; i++) {
        size_t len = i == 2 ? 1500 : (size_t)1 << nv[i];
        t[i] = rnd_vec(len);
        polys[i] = (pcs_poly){.evals = t[i], .len = len};
    }
    pcs_layout l;
    em_err err = {0};
    CHECK_OK(pcs_layout_init(&l, nv, 3, 0, &err), &err);
    CHECK_EQ_U64(l.n_rows, ((size_t)1 << (10 - l.log_cols)) + ((size_t)1 << (12 - l.log_cols)) +
                               ((size_t)1 << (11 - l.log_cols)));
    pcs_prover *p = NULL;
    uint8_t root[32];
    CHECK_OK(pcs_commit(&l, polys, 0, &p, root, &err), &err);
    /* 6 claims: polys 0 and 1 at points sharing the column part, poly 2 at two points, poly 0
     * twice. */
    ff2_t pts[6][12];
    for (int k = 0; k < 6; k++)
        for (int j = 0; j < 12; j++)
            pts[k][j] = rnd_ff2();
    memcpy(pts[1], pts[0], l.log_cols * sizeof(ff2_t));
    unsigned which[6] = {0, 1, 2, 2, 0, 1};
    pcs_claim c[6];
    for (int k = 0; k < 6; k++)
        c[k] = (pcs_claim){.poly = which[k], .point = pts[k],
                           .value = eval_ref(t[which[k]], polys[which[k]].len, nv[which[k]], pts[k])};
    em_buf proof = {.max = (size_t)1 << 28};
    CHECK_OK(open_verify(p, &l, root, c, c, 6, &proof), &err);
    for (int k = 0; k < 6; k++) {
        pcs_claim bad[6];
        memcpy(bad, c, sizeof bad);
        bad[k].value = ff2_add(bad[k].value, ff2_one());
        CHECK(open_verify(p, &l, root, c, bad, 6, &proof) != EM_OK);
        CHECK(open_verify(p, &l, root, bad, bad, 6, &proof) != EM_OK);
    }
    /* claims naming the wrong polynomial */
    pcs_claim sw[6];
    memcpy(sw, c, sizeof sw);
    sw[0].poly = 1;
    sw[0].point = pts[1];
    sw[1].poly = 0;
    sw[1].point = pts[0];
    CHECK(open_verify(p, &l, root, sw, sw, 6, &proof) != EM_OK || ff2_eq(c[0].value, c[1].value));
    em_buf_free(&proof);
    pcs_prover_free(p);
    for (int i = 0; i < 3; i++)
        free(t[i]);
}

static void tamper_case(unsigned n, unsigned log_cols, size_t stride)
{
    size_t N = (size_t)1 << n;
    ff_t *a = rnd_vec(N), *b = rnd_vec(N);
    pcs_layout l;
    em_err err = {0};
    CHECK_OK(pcs_layout_init(&l, &n, 1, log_cols, &err), &err);
    pcs_poly pa = {.evals = a, .len = N}, pb = {.evals = b, .len = N};
    pcs_prover *p = NULL, *q = NULL;
    uint8_t root[32], rootb[32];
    CHECK_OK(pcs_commit(&l, &pa, 1, &p, root, &err), &err);
    CHECK_OK(pcs_commit(&l, &pb, 1, &q, rootb, &err), &err);
    ff2_t pt[16];
    for (unsigned j = 0; j < n; j++)
        pt[j] = rnd_ff2();
    pcs_claim ca = {0, pt, eval_ref(a, N, n, pt)}, cb = {0, pt, eval_ref(b, N, n, pt)};
    em_buf proof = {.max = (size_t)1 << 26};
    CHECK_OK(open_verify(p, &l, root, &ca, &ca, 1, &proof), &err);
    /* committed a, opens b (valid opening of b) against a's root */
    CHECK(open_verify(q, &l, root, &cb, &cb, 1, &proof) != EM_OK);
    CHECK(open_verify(q, &l, root, &ca, &ca, 1, &proof) != EM_OK);
    /* every 8-byte word of an honest proof corrupted */
    CHECK_OK(open_verify(p, &l, root, &ca, &ca, 1, &proof), &err);
    size_t words = 0, rejected = 0;
    for (size_t off = 0; off < proof.len; off += stride) {
        uint8_t *cp = malloc(proof.len);
        memcpy(cp, proof.data, proof.len);
        cp[off] ^= 0x5a;
        tr_t tv;
        tr_init(&tv, "test/pcs");
        em_reader r;
        em_reader_init(&r, cp, proof.len);
        words++;
        if (pcs_verify(&l, root, &ca, 1, &tv, &r, &err) != EM_OK)
            rejected++;
        free(cp);
    }
    CHECK_EQ_U64(rejected, words);
    /* a non-canonical word (>= p) in the combination row, the evaluation row and the first opened
     * column: EM_ERR_RANGE naming the element (the readers' fallback after the fast check) */
    {
        size_t C = (size_t)1 << log_cols, at[3] = {3, 2 * C + 5, 4 * C + 1};
        for (int k = 0; k < 3; k++) {
            uint8_t *cp = malloc(proof.len);
            memcpy(cp, proof.data, proof.len);
            memset(cp + 8 * at[k], 0xff, 8);
            tr_t tv;
            tr_init(&tv, "test/pcs");
            em_reader r;
            em_reader_init(&r, cp, proof.len);
            CHECK_ST(pcs_verify(&l, root, &ca, 1, &tv, &r, &err), EM_ERR_RANGE, &err);
            CHECK_STR_CONTAINS(err.msg, "element");
            CHECK_STR_CONTAINS(err.msg, "not canonical");
            free(cp);
        }
    }
    /* truncated */
    for (size_t cut = 0; cut < proof.len; cut += proof.len / 97 + 1) {
        tr_t tv;
        tr_init(&tv, "test/pcs");
        em_reader r;
        em_reader_init(&r, proof.data, cut);
        CHECK(pcs_verify(&l, root, &ca, 1, &tv, &r, &err) != EM_OK);
    }
    /* oversized: the verifier consumes exactly one opening and leaves the rest */
    {
        em_buf big = {.max = (size_t)1 << 26};
        CHECK_OK(em_buf_append(&big, proof.data, proof.len), NULL);
        CHECK_OK(em_buf_append_u64le(&big, 42), NULL);
        tr_t tv;
        tr_init(&tv, "test/pcs");
        em_reader r;
        em_reader_init(&r, big.data, big.len);
        CHECK_OK(pcs_verify(&l, root, &ca, 1, &tv, &r, &err), &err);
        CHECK_EQ_U64(em_reader_left(&r), 8);
        em_buf_free(&big);
    }
    /* wrong root */
    {
        uint8_t r2[32];
        memcpy(r2, root, 32);
        r2[31] ^= 1;
        tr_t tv;
        tr_init(&tv, "test/pcs");
        em_reader r;
        em_reader_init(&r, proof.data, proof.len);
        CHECK(pcs_verify(&l, r2, &ca, 1, &tv, &r, &err) != EM_OK);
    }
    em_buf_free(&proof);
    pcs_prover_free(p);
    pcs_prover_free(q);
    free(a);
    free(b);
}

static void test_tamper(void)
{
    tamper_case(9, 4, 8);    /* N = 64 <= 2 * queries: every column opened, every word */
    tamper_case(12, 7, 232); /* N = 512: sampled queries, every 29th word */
}

/* The root of a small commitment recomputed from the definitions: each row's codeword by
 * Horner evaluation at w_N^j (no NTT), leaf = hash of column j, a plain bottom-up tree. */
static void test_root_reference(void)
{
    unsigned n = 5, lc = 2; /* 8 rows x 4 columns, N = 16 */
    size_t C = 4, R = 8, N = 16;
    ff_t *t = rnd_vec(C * R);
    pcs_layout l;
    em_err err = {0};
    CHECK_OK(pcs_layout_init(&l, &n, 1, lc, &err), &err);
    pcs_poly poly = {.evals = t, .len = C * R};
    pcs_prover *p = NULL;
    uint8_t root[32];
    CHECK_OK(pcs_commit(&l, &poly, 1, &p, root, &err), &err);
    ff_t w = ff_root_of_unity(4), x = 1, col[8];
    uint8_t level[16][32];
    for (size_t j = 0; j < N; j++) {
        for (size_t i = 0; i < R; i++) {
            ff_t acc = 0;
            for (size_t c = C; c-- > 0;)
                acc = ff_add(ff_mul(acc, x), t[i * C + c]);
            col[i] = acc;
        }
        mt_hash_leaf(col, R, level[j]);
        x = ff_mul(x, w);
    }
    for (size_t width = N; width > 1; width /= 2)
        for (size_t k = 0; k < width / 2; k++)
            mt_hash_node(level[2 * k], level[2 * k + 1], level[k]);
    CHECK(memcmp(level[0], root, 32) == 0);
    pcs_prover_free(p);
    free(t);
}

static void test_hiding(void)
{
    unsigned nv[2] = {10, 12};
    ff_t *t[2];
    pcs_poly polys[2];
    for (int i = 0; i < 2; i++) {
        size_t len = i == 0 ? 1000 : (size_t)1 << nv[i];
        t[i] = rnd_vec(len);
        polys[i] = (pcs_poly){.evals = t[i], .len = len};
    }
    em_err err = {0};
    pcs_layout l, lp;
    CHECK_OK(pcs_layout_init(&l, nv, 2, 0, &err), &err);
    lp = l;
    CHECK(l.log_cols >= PCS_HIDING_MIN_LOG_COLS);
    CHECK_OK(pcs_layout_set_hiding(&l, 2, &err), &err);
    uint8_t seed[32], seed2[32], r1[32], r2[32], r3[32], rp[32];
    for (int i = 0; i < 32; i++) {
        seed[i] = (uint8_t)i;
        seed2[i] = (uint8_t)(i + (i == 31));
    }
    pcs_prover *p = NULL, *q = NULL, *pp = NULL;
    CHECK_OK(pcs_commit_hiding(&l, polys, seed, 2, &p, r1, &err), &err);
    CHECK_OK(pcs_commit_hiding(&l, polys, seed, 1, &q, r2, &err), &err);
    CHECK(memcmp(r1, r2, 32) == 0); /* deterministic given the seed */
    pcs_prover_free(q);
    q = NULL;
    CHECK_OK(pcs_commit_hiding(&l, polys, seed2, 1, &q, r3, &err), &err);
    CHECK(memcmp(r1, r3, 32) != 0); /* the blinding enters the root */
    CHECK_OK(pcs_commit(&lp, polys, 1, &pp, rp, &err), &err);
    CHECK(memcmp(r1, rp, 32) != 0);
    /* API misuse */
    static const int32_t some_ints[4] = {1, 2, 3, 4};
    pcs_poly ints = {.ints = some_ints, .len = 4};
    pcs_prover *bad_ints = NULL;
    CHECK_ST(pcs_commit_hiding(&l, &ints, seed, 1, &bad_ints, r3, &err), EM_ERR_ARG, &err); /* hiding rows are random */
    pcs_prover *bad = NULL;
    CHECK_ST(pcs_commit(&l, polys, 1, &bad, r2, &err), EM_ERR_ARG, &err);
    CHECK_ST(pcs_commit_hiding(&lp, polys, seed, 1, &bad, r2, &err), EM_ERR_ARG, &err);
    pcs_layout small;
    unsigned sv = 7;
    CHECK_OK(pcs_layout_init(&small, &sv, 1, 0, &err), &err);
    CHECK_ST(pcs_layout_set_hiding(&small, 1, &err), EM_ERR_ARG, &err);

    /* claims: two column groups (poly 0 twice at one column point, poly 1 elsewhere) */
    ff2_t pts[3][12];
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 12; j++)
            pts[k][j] = rnd_ff2();
    memcpy(pts[1], pts[0], l.log_cols * sizeof(ff2_t));
    unsigned which[3] = {0, 0, 1};
    pcs_claim c[3];
    for (int k = 0; k < 3; k++)
        c[k] = (pcs_claim){which[k], pts[k], eval_ref(t[which[k]], polys[which[k]].len, nv[which[k]], pts[k])};
    CHECK(ff2_eq(pcs_prover_eval(p, 1, pts[2]), c[2].value));
    em_buf proof = {.max = (size_t)1 << 28};
    CHECK_OK(open_verify(p, &l, r1, c, c, 3, &proof), &err);
    /* the hiding proof is not the non-hiding one and does not verify under the other layout */
    {
        tr_t tv;
        tr_init(&tv, "test/pcs");
        em_reader r;
        em_reader_init(&r, proof.data, proof.len);
        CHECK(pcs_verify(&lp, r1, c, 3, &tv, &r, &err) != EM_OK);
    }
    /* false values, each claim */
    for (int k = 0; k < 3; k++) {
        pcs_claim b[3];
        memcpy(b, c, sizeof b);
        b[k].value = ff2_add(b[k].value, ff2_one());
        CHECK(open_verify(p, &l, r1, b, b, 3, &proof) != EM_OK);
        CHECK(open_verify(p, &l, r1, c, b, 3, &proof) != EM_OK);
    }
    /* a proof from the commitment with another seed, against this root */
    CHECK(open_verify(q, &l, r1, c, c, 3, &proof) != EM_OK);
    /* more column points than masks */
    {
        pcs_claim c3[3];
        memcpy(c3, c, sizeof c3);
        c3[1].point = pts[2];
        c3[1].poly = 1;
        c3[1].value = c[2].value;
        c3[2].point = pts[0];
        c3[2].poly = 0;
        c3[2].value = c[0].value;
        ff2_t p4[12];
        memcpy(p4, pts[2], sizeof p4);
        p4[0] = ff2_add(p4[0], ff2_one());
        c3[1].point = p4;
        c3[1].value = eval_ref(t[1], polys[1].len, nv[1], p4);
        pcs_claim c4[4] = {c[0], c[2], c3[1], c[1]};
        tr_t tp;
        tr_init(&tp, "test/pcs");
        em_buf pr2 = {.max = (size_t)1 << 28};
        CHECK_ST(pcs_open(p, c4, 4, &tp, &pr2, &err), EM_ERR_ARG, &err);
        em_buf_free(&pr2);
    }
    /* corrupted words (mask evaluations, rows, columns, Merkle) */
    CHECK_OK(open_verify(p, &l, r1, c, c, 3, &proof), &err);
    size_t words = 0, rejected = 0;
    for (size_t off = 0; off < proof.len; off += 1000 + 8 * (off % 7)) {
        uint8_t *cp = malloc(proof.len);
        memcpy(cp, proof.data, proof.len);
        cp[off] ^= 0x21;
        tr_t tv;
        tr_init(&tv, "test/pcs");
        em_reader r;
        em_reader_init(&r, cp, proof.len);
        words++;
        if (pcs_verify(&l, r1, c, 3, &tv, &r, &err) != EM_OK)
            rejected++;
        free(cp);
    }
    CHECK_EQ_U64(rejected, words);
    /* OS randomness (NULL seed) */
    pcs_prover *o = NULL;
    uint8_t ro[32];
    CHECK_OK(pcs_commit_hiding(&l, polys, NULL, 1, &o, ro, &err), &err);
    CHECK(memcmp(ro, r1, 32) != 0);
    CHECK_OK(open_verify(o, &l, ro, c, c, 3, &proof), &err);
    em_buf_free(&proof);
    pcs_prover_free(o);
    pcs_prover_free(p);
    pcs_prover_free(q);
    pcs_prover_free(pp);
    for (int i = 0; i < 2; i++)
        free(t[i]);
}

/* The zero polynomial: without hiding every opened data symbol and both combination rows are
 * zero (the proof shows the data); with hiding none of them may be (each is uniform). */
static void test_hiding_blinds_zero(void)
{
    unsigned n = 10;
    size_t N = (size_t)1 << n;
    ff_t *z = calloc(N, sizeof *z);
    em_err err = {0};
    for (int hiding = 0; hiding <= 1; hiding++) {
        pcs_layout l;
        CHECK_OK(pcs_layout_init(&l, &n, 1, 8, &err), &err);
        if (hiding)
            CHECK_OK(pcs_layout_set_hiding(&l, 1, &err), &err);
        pcs_poly poly = {.evals = z, .len = N};
        pcs_prover *p = NULL;
        uint8_t root[32], seed[32] = {9};
        if (hiding)
            CHECK_OK(pcs_commit_hiding(&l, &poly, seed, 1, &p, root, &err), &err);
        else
            CHECK_OK(pcs_commit(&l, &poly, 1, &p, root, &err), &err);
        ff2_t pt[10];
        for (unsigned j = 0; j < n; j++)
            pt[j] = rnd_ff2();
        pcs_claim c = {0, pt, ff2_zero()};
        em_buf proof = {.max = (size_t)1 << 26};
        CHECK_OK(open_verify(p, &l, root, &c, &c, 1, &proof), &err);
        size_t C = 256, Cm = hiding ? 512 : 256, R = l.n_rows, Rt = R + (hiding ? 2 : 0);
        size_t off = (hiding ? 16 : 0), zeros_rows = 0, zeros_cols = 0, n_cols = 0;
        /* w and u: count zero coefficients among the data coefficients */
        for (int row = 0; row < 2; row++, off += Cm * 16)
            for (size_t i = 0; i < C; i++) {
                uint64_t a = 0, b = 0;
                memcpy(&a, proof.data + off + 16 * i, 8);
                memcpy(&b, proof.data + off + 16 * i + 8, 8);
                zeros_rows += (a | b) == 0;
            }
        /* the opened columns (PCS_QUERIES of them): data rows only */
        for (size_t q = 0; q < PCS_QUERIES; q++, off += Rt * 8)
            for (size_t i = 0; i < R; i++) {
                uint64_t v;
                memcpy(&v, proof.data + off + 8 * i, 8);
                zeros_cols += v == 0;
                n_cols++;
            }
        if (hiding) {
            CHECK_EQ_U64(zeros_rows, 0);
            CHECK_EQ_U64(zeros_cols, 0);
        } else {
            CHECK_EQ_U64(zeros_rows, 2 * C);
            CHECK_EQ_U64(zeros_cols, n_cols);
        }
        em_buf_free(&proof);
        pcs_prover_free(p);
    }
    free(z);
}

/* Systematic integer layouts: rows in runs of every symbol type (extremes included, a length
 * ending inside a row), all columns opened or sampled, rates 1/2 and 1/4: completeness for
 * three claims (two sharing a column point), a false value, every stride-th proof byte flipped
 * (a message symbol's byte changes its value and leaf), truncations; a value outside its row's
 * type is refused at commit, and committed anyway (pcs_poly.unchecked, a cheating prover's
 * non-codeword) its opening fails when its column is opened. */
static void sys_case(unsigned n, unsigned log_cols, unsigned rate, size_t len, size_t stride)
{
    em_err err = {0};
    pcs_layout l;
    CHECK_OK(pcs_layout_init(&l, &n, 1, log_cols, &err), &err);
    CHECK_OK(pcs_layout_set_len(&l, 0, len, &err), &err);
    CHECK_OK(pcs_layout_set_rate(&l, rate == 0 || rate == 45 ? 1 : rate, &err), &err); /* 0: 2/3, 45: 4/5 */
    size_t R = l.n_rows, C = (size_t)1 << log_cols, N = (size_t)1 << n;
    const uint8_t syms[] = {PCS_SYM_I8, PCS_SYM_U8, PCS_SYM_I32, PCS_SYM_U16, PCS_SYM_I16, PCS_SYM_U8};
    size_t end[6];
    unsigned nr = R >= 6 ? 6 : (unsigned)R;
    for (unsigned k = 0; k < nr; k++)
        end[k] = k + 1 == nr ? R : (k + 1) * R / nr;
    CHECK_OK(pcs_layout_set_systematic(&l, end, syms, nr, &err), &err);
    if (rate == 0)
        CHECK_OK(pcs_layout_set_rate23(&l, &err), &err);
    if (rate == 45)
        CHECK_OK(pcs_layout_set_rate45(&l, &err), &err);
    size_t Ncw = rate == 45 ? C * 5 / 4 : rate ? C << rate : C * 3 / 2;
    unsigned t = rate == 45 ? PCS_QUERIES_RATE45 : rate ? pcs_queries(rate) : PCS_QUERIES_RATE23;
    int32_t *iv = calloc(N, sizeof *iv);
    ff_t *fv = calloc(N, sizeof *fv);
    static const int32_t lo[] = {0, 0, -128, 0, -32768, INT32_MIN}, hi[] = {0, 255, 127, 65535, 32767, INT32_MAX};
    for (size_t i = 0; i < len; i++) {
        unsigned k = 0;
        while (end[k] <= i / C)
            k++;
        int64_t a = lo[syms[k]], b = hi[syms[k]];
        int32_t v = i % 7 == 0 ? (int32_t)a : i % 11 == 0 ? (int32_t)b : (int32_t)(a + (int64_t)(th_rand() % (uint64_t)(b - a + 1)));
        iv[i] = v;
        fv[i] = ff_from_i64(v);
    }
    pcs_poly pp = {.ints = iv, .len = len};
    pcs_prover *p = NULL;
    uint8_t root[32];
    CHECK_OK(pcs_commit(&l, &pp, 2, &p, root, &err), &err);
    if (!p)
        goto out;
    ff2_t pt[3][16];
    for (int k = 0; k < 3; k++)
        for (unsigned j = 0; j < n; j++)
            pt[k][j] = k == 1 && j < log_cols ? pt[0][j] : rnd_ff2();
    pcs_claim c[3];
    for (int k = 0; k < 3; k++)
        c[k] = (pcs_claim){0, pt[k], eval_ref(fv, N, n, pt[k])};
    CHECK(ff2_eq(pcs_prover_eval(p, 0, pt[2]), c[2].value));
    em_buf proof = {.max = (size_t)1 << 26};
    CHECK_OK(open_verify(p, &l, root, c, c, 3, &proof), &err);
    pcs_claim bad[3] = {c[0], c[1], c[2]};
    bad[1].value.b = ff_add(bad[1].value.b, 1);
    CHECK_ST(open_verify(p, &l, root, bad, bad, 3, &proof), EM_ERR_VERIFY, &err);
    CHECK_OK(open_verify(p, &l, root, c, c, 3, &proof), &err);
    size_t flips = 0, rejected = 0;
    for (size_t off = 0; off < proof.len; off += stride) {
        uint8_t *cp = malloc(proof.len);
        memcpy(cp, proof.data, proof.len);
        cp[off] ^= (uint8_t)(1u << (off % 8));
        tr_t tv;
        tr_init(&tv, "test/pcs");
        em_reader r;
        em_reader_init(&r, cp, proof.len);
        flips++;
        rejected += pcs_verify(&l, root, c, 3, &tv, &r, &err) != EM_OK;
        free(cp);
    }
    CHECK_EQ_U64(rejected, flips);
    for (size_t cut = 0; cut < proof.len; cut += proof.len / 61 + 1) {
        tr_t tv;
        tr_init(&tv, "test/pcs");
        em_reader r;
        em_reader_init(&r, proof.data, cut);
        CHECK(pcs_verify(&l, root, c, 3, &tv, &r, &err) != EM_OK);
    }
    /* an I8 row value of 200 (row 0 is I8): refused, then committed by its low byte (-56) */
    int32_t keep = iv[1];
    iv[1] = 200;
    pcs_prover *q = NULL;
    CHECK_ST(pcs_commit(&l, &pp, 1, &q, root, &err), EM_ERR_RANGE, &err);
    CHECK_STR_CONTAINS(err.msg, "row 0 column 1");
    if (Ncw <= 2 * (size_t)t) { /* every column opened */
        pcs_poly pu = pp;
        pu.unchecked = 1;
        CHECK_OK(pcs_commit(&l, &pu, 1, &q, root, &err), &err);
        fv[1] = ff_from_i64(200);
        pcs_claim t = {0, pt[0], eval_ref(fv, N, n, pt[0])};
        CHECK_ST(open_verify(q, &l, root, &t, &t, 1, &proof), EM_ERR_VERIFY, &err);
        fv[1] = ff_from_i64(-56);
        t.value = eval_ref(fv, N, n, pt[0]);
        CHECK_ST(open_verify(q, &l, root, &t, &t, 1, &proof), EM_ERR_VERIFY, &err);
        fv[1] = ff_from_i64(keep);
        pcs_prover_free(q);
    }
    iv[1] = keep;
    em_buf_free(&proof);
    pcs_prover_free(p);
out:
    free(iv);
    free(fv);
}

static void test_systematic(void)
{
    sys_case(9, 4, 1, 500, 1);        /* 32 rows, N = 32: every column opened, every byte */
    sys_case(12, 6, 2, 4000, 7);      /* N = 256 at rate 1/4: every column opened */
    sys_case(14, 9, 1, 12345, 101);   /* N = 1024: 262 sampled columns */
    sys_case(14, 8, 2, 1 << 14, 101); /* N = 1024 at rate 1/4: 160 sampled */
    sys_case(10, 5, 0, 1000, 3);      /* rate 2/3, N = 48 of a 64-leaf tree: every column opened */
    sys_case(15, 10, 0, 30000, 211);  /* rate 2/3, N = 1536: 413 sampled */
    sys_case(10, 5, 45, 1000, 3);     /* rate 4/5, N = 40 of a 64-leaf tree: every column opened */
    sys_case(12, 4, 45, 4000, 5);     /* rate 4/5, C = 16 (the smallest stages), N = 20: every column */
    sys_case(16, 11, 45, 60000, 307); /* rate 4/5, N = 2560: 715 sampled */
    /* misuse */
    em_err err = {0};
    pcs_layout l, l2;
    unsigned v[2] = {8, 8}, one = 8;
    size_t end = 16;
    uint8_t sym = PCS_SYM_I8, bad_sym = 6;
    CHECK_OK(pcs_layout_init(&l2, v, 2, 4, &err), &err);
    CHECK_ST(pcs_layout_set_systematic(&l2, &l2.n_rows, &sym, 1, &err), EM_ERR_ARG, &err);
    CHECK_OK(pcs_layout_init(&l, &one, 1, 4, &err), &err);
    CHECK_ST(pcs_layout_set_systematic(&l, &end, &bad_sym, 1, &err), EM_ERR_ARG, &err);
    CHECK_ST(pcs_layout_set_systematic(&l, &end, &sym, 0, &err), EM_ERR_ARG, &err);
    end = 15;
    CHECK_ST(pcs_layout_set_systematic(&l, &end, &sym, 1, &err), EM_ERR_ARG, &err);
    size_t ends2[2] = {8, 8};
    uint8_t syms2[2] = {PCS_SYM_I8, PCS_SYM_U8};
    CHECK_ST(pcs_layout_set_systematic(&l, ends2, syms2, 2, &err), EM_ERR_ARG, &err);
    end = 16;
    CHECK_OK(pcs_layout_set_systematic(&l, &end, &sym, 1, &err), &err);
    CHECK_ST(pcs_layout_set_len(&l, 0, 100, &err), EM_ERR_ARG, &err);
    CHECK_ST(pcs_layout_set_rate(&l, 1, &err), EM_ERR_ARG, &err);
    CHECK_ST(pcs_layout_set_hiding(&l, 1, &err), EM_ERR_ARG, &err);
    CHECK_ST(pcs_layout_set_rate23(&l, &err), EM_ERR_ARG, &err); /* rate 1/4 */
    CHECK_ST(pcs_layout_set_rate23(&l2, &err), EM_ERR_ARG, &err); /* not systematic */
    CHECK_ST(pcs_layout_set_rate45(&l, &err), EM_ERR_ARG, &err);  /* rate 1/4 */
    CHECK_ST(pcs_layout_set_rate45(&l2, &err), EM_ERR_ARG, &err); /* not systematic */
    ff_t ev[256] = {0};
    pcs_poly pf = {.evals = ev, .len = 256};
    pcs_prover *p = NULL;
    uint8_t root[32];
    CHECK_ST(pcs_commit(&l, &pf, 1, &p, root, &err), EM_ERR_ARG, &err);
    pcs_poly none = {.ints = NULL, .len = 0}; /* empty, but without the integers the openings read */
    CHECK_ST(pcs_commit(&l, &none, 1, &p, root, &err), EM_ERR_ARG, &err);
    int32_t zero = 0;
    pcs_poly empty = {.ints = &zero, .len = 0};
    CHECK_OK(pcs_commit(&l, &empty, 1, &p, root, &err), &err);
    pcs_prover_free(p);
    CHECK_EQ_U64(pcs_sym_bytes(PCS_SYM_U16), 2);
    CHECK_EQ_U64(pcs_sym_bytes(0), 0);
}

/* Flips every stride-th byte (and truncates at ~40 lengths) of a proximity proof: all rejected. */
static void prox_tamper(const pcs_layout *l, const uint8_t root[32], const em_buf *proof, size_t stride)
{
    em_err err = {0};
    size_t flips = 0, rejected = 0;
    uint8_t *cp = malloc(proof->len);
    for (size_t off = 0; off < proof->len; off += stride) {
        memcpy(cp, proof->data, proof->len);
        cp[off] ^= (uint8_t)(1u << (off % 8));
        tr_t tv;
        tr_init(&tv, "test/prox");
        em_reader r;
        em_reader_init(&r, cp, proof->len);
        flips++;
        rejected += pcs_verify_proximity(l, root, &tv, &r, &err) != EM_OK;
    }
    CHECK_EQ_U64(rejected, flips);
    for (size_t cut = 0; cut < proof->len; cut += proof->len / 41 + 1) {
        tr_t tv;
        tr_init(&tv, "test/prox");
        em_reader r;
        em_reader_init(&r, proof->data, cut);
        CHECK(pcs_verify_proximity(l, root, &tv, &r, &err) != EM_OK);
    }
    free(cp);
}

/* Tested layouts: the proximity proof (accepted, every region tampered rejected, refused for
 * another root or another layout), openings without the proximity row and with
 * PCS_QUERIES_TESTED columns (accepted, smaller, a false value and tampered bytes rejected), and a
 * committed matrix a quarter of whose columns are no codeword (every message column of a
 * systematic rate-1/4 layout written out of type): its proximity proof is rejected. */
static void test_tested(void)
{
    em_err err = {0};
    unsigned n = 14;
    size_t len = 15000;
    ff_t *t = rnd_vec(len);
    pcs_layout l, lt;
    CHECK_OK(pcs_layout_init(&l, &n, 1, 8, &err), &err); /* C = 256, 64 rows, N = 1024: sampled */
    CHECK_OK(pcs_layout_set_len(&l, 0, len, &err), &err);
    lt = l;
    CHECK_OK(pcs_layout_set_tested(&lt, &err), &err);
    pcs_poly poly = {.evals = t, .len = len};
    pcs_prover *p = NULL, *pp = NULL;
    uint8_t root[32], root2[32];
    CHECK_OK(pcs_commit(&lt, &poly, 2, &p, root, &err), &err);
    CHECK_OK(pcs_commit(&l, &poly, 2, &pp, root2, &err), &err);
    if (!p || !pp)
        goto out;
    CHECK(memcmp(root, root2, 32) == 0); /* the flag changes the openings, not the commitment */
    em_buf prox = {.max = (size_t)1 << 26}, a = {.max = (size_t)1 << 26}, b = {.max = (size_t)1 << 26};
    tr_t tp, tv;
    tr_init(&tp, "test/prox");
    CHECK_OK(pcs_prove_proximity(p, &tp, &prox, &err), &err);
    tr_init(&tv, "test/prox");
    em_reader r;
    em_reader_init(&r, prox.data, prox.len);
    CHECK_OK(pcs_verify_proximity(&lt, root, &tv, &r, &err), &err);
    CHECK_EQ_U64(em_reader_left(&r), 0);
    CHECK(memcmp(tp.state, tv.state, 32) == 0);
    prox_tamper(&lt, root, &prox, 97);
    uint8_t other[32];
    memcpy(other, root, 32);
    other[5] ^= 1;
    tr_init(&tv, "test/prox");
    em_reader_init(&r, prox.data, prox.len);
    CHECK(pcs_verify_proximity(&lt, other, &tv, &r, &err) != EM_OK);
    tr_init(&tv, "test/prox");
    em_reader_init(&r, prox.data, prox.len);
    CHECK(pcs_verify_proximity(&l, root, &tv, &r, &err) != EM_OK); /* absorbed under another layout */
    /* openings */
    ff2_t pt[2][14];
    pcs_claim c[2];
    for (int k = 0; k < 2; k++) {
        for (unsigned j = 0; j < n; j++)
            pt[k][j] = rnd_ff2();
        c[k] = (pcs_claim){0, pt[k], eval_ref(t, len, n, pt[k])};
    }
    CHECK_OK(open_verify(p, &lt, root, c, c, 2, &a), &err);
    CHECK_OK(open_verify(pp, &l, root, c, c, 2, &b), &err);
    fprintf(stderr, "    proximity proof %zu bytes; openings %zu bytes tested, %zu not\n", prox.len, a.len, b.len);
    CHECK(a.len < b.len);
    CHECK(open_verify(p, &l, root, c, c, 2, &a) != EM_OK); /* a tested opening under the plain layout */
    pcs_claim bad[2] = {c[0], c[1]};
    bad[1].value.a = ff_add(bad[1].value.a, 1);
    CHECK_ST(open_verify(p, &lt, root, bad, bad, 2, &a), EM_ERR_VERIFY, &err);
    CHECK_OK(open_verify(p, &lt, root, c, c, 2, &a), &err);
    size_t flips = 0, rejected = 0;
    for (size_t off = 0; off < a.len; off += 89) {
        uint8_t *cp = malloc(a.len);
        memcpy(cp, a.data, a.len);
        cp[off] ^= (uint8_t)(1u << (off % 8));
        tr_t tz;
        tr_init(&tz, "test/pcs");
        em_reader_init(&r, cp, a.len);
        flips++;
        rejected += pcs_verify(&lt, root, c, 2, &tz, &r, &err) != EM_OK;
        free(cp);
    }
    CHECK_EQ_U64(rejected, flips);
    /* a quarter of the columns off the code: systematic rate 1/4, every message column holds an
     * out-of-type value (row 0 is I8, written 200, hashed as its low byte) */
    {
        unsigned ns = 12;
        size_t C = 64, rows = 64;
        int32_t *iv = calloc(C * rows, sizeof *iv);
        for (size_t i = 0; i < C * rows; i++)
            iv[i] = i < C ? 200 : (int32_t)(th_rand() % 200) - 100;
        pcs_layout ls;
        size_t end = rows;
        uint8_t sym = PCS_SYM_I8;
        CHECK_OK(pcs_layout_init(&ls, &ns, 1, 6, &err), &err);
        CHECK_OK(pcs_layout_set_systematic(&ls, &end, &sym, 1, &err), &err);
        CHECK_OK(pcs_layout_set_tested(&ls, &err), &err);
        pcs_poly pu = {.ints = iv, .len = C * rows, .unchecked = 1};
        pcs_prover *q = NULL;
        uint8_t rq[32];
        CHECK_OK(pcs_commit(&ls, &pu, 1, &q, rq, &err), &err);
        if (q) {
            em_buf pq = {.max = (size_t)1 << 24};
            tr_init(&tp, "test/prox");
            CHECK_OK(pcs_prove_proximity(q, &tp, &pq, &err), &err);
            tr_init(&tv, "test/prox");
            em_reader_init(&r, pq.data, pq.len);
            CHECK_ST(pcs_verify_proximity(&ls, rq, &tv, &r, &err), EM_ERR_VERIFY, &err);
            em_buf_free(&pq);
            pcs_prover_free(q);
        }
        free(iv);
    }
    /* misuse: a separate proximity proof only at rate 1/4 (its query count is that code's) */
    pcs_layout lh = l;
    CHECK_OK(pcs_layout_set_rate(&lh, 1, &err), &err);
    CHECK_ST(pcs_layout_set_tested(&lh, &err), EM_ERR_ARG, &err); /* rate 1/2 */
    {
        pcs_prover *h = NULL;
        uint8_t rh[32];
        CHECK_OK(pcs_commit(&lh, &poly, 1, &h, rh, &err), &err);
        em_buf ph = {.max = (size_t)1 << 24};
        tr_init(&tp, "test/prox");
        CHECK_ST(pcs_prove_proximity(h, &tp, &ph, &err), EM_ERR_ARG, &err);
        tr_init(&tv, "test/prox");
        em_reader_init(&r, prox.data, prox.len);
        CHECK_ST(pcs_verify_proximity(&lh, rh, &tv, &r, &err), EM_ERR_ARG, &err);
        em_buf_free(&ph);
        pcs_prover_free(h);
    }
    em_buf_free(&prox);
    em_buf_free(&a);
    em_buf_free(&b);
out:
    pcs_prover_free(p);
    pcs_prover_free(pp);
    free(t);
}

static void test_bad_layouts(void)
{
    em_err err = {0};
    pcs_layout l;
    unsigned big = PCS_MAX_VARS + 1, v[2] = {4, 8};
    CHECK(pcs_layout_init(&l, &big, 1, 0, &err) != EM_OK);
    CHECK_ST(pcs_layout_init(&l, v, 2, 5, &err), EM_ERR_ARG, &err);
    CHECK_ST(pcs_layout_init(&l, v, 0, 0, &err), EM_ERR_ARG, &err);
    CHECK_OK(pcs_layout_init(&l, v, 2, 0, &err), &err);
    CHECK(l.log_cols <= 4);
    /* claims naming a missing polynomial are refused by the verifier */
    ff2_t pt[8] = {0};
    pcs_claim c = {.poly = 2, .point = pt};
    uint8_t root[32] = {0};
    tr_t tv;
    tr_init(&tv, "x");
    em_reader r;
    em_reader_init(&r, root, 0);
    CHECK_ST(pcs_verify(&l, root, &c, 1, &tv, &r, &err), EM_ERR_ARG, &err);
}

int main(void)
{
    th_init("test_pcs");
    TH_RUN(test_single_sizes);
    TH_RUN(test_batched);
    TH_RUN(test_open_rows);
    TH_RUN(test_commit_ints);
    TH_RUN(test_tamper);
    TH_RUN(test_root_reference);
    TH_RUN(test_hiding);
    TH_RUN(test_hiding_blinds_zero);
    TH_RUN(test_bad_layouts);
    TH_RUN(test_systematic);
    TH_RUN(test_tested);
    return th_finish();
}
