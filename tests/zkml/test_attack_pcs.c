/* Adversarial review: the Ligero/Brakedown commitment (pcs.c) against an adaptive forger.
 *
 * The forger below is written only against the public pieces (transcript.h, ntt.h, merkle.h,
 * ml.h) and the wire format documented in pcs.h: it commits to a matrix of its choice (honest
 * codewords, or codewords corrupted on a set of columns), then answers the verifier's
 * challenges with combination rows computed from messages of its choice, and tweaks the
 * evaluation row so that <u, eq(z_col)> equals whatever values it claims. The verifier must
 * reject every false claim:
 *   - u tweaked to fit a false value (the eval check passes; only the column check can catch);
 *   - a commitment whose row 0 is the codeword of another polynomial on a quarter of the
 *     columns, opened as that other polynomial (w and u both follow the lie);
 *   - a value of one polynomial claimed for another one in the same commitment;
 *   - with three groups (claims at distinct column points), a lie in any one evaluation row or in
 *     the proximity row alone (the verifier checks all rows as one random combination).
 * Layouts with N <= 2 * PCS_QUERIES (all columns opened) and with sampled columns are both
 * attacked. The forger's honest run must be accepted, which validates its replica of the
 * transcript (otherwise rejections would mean nothing). */
#include <inttypes.h>

#include "enclaveml/zkml/merkle.h"
#include "enclaveml/zkml/ml.h"
#include "enclaveml/zkml/ntt.h"
#include "enclaveml/zkml/pcs.h"
#include "harness.h"
#include "zk_test_util.h"

typedef struct forger {
    pcs_layout l;
    size_t C, N, R;
    ff_t *msg; /* R x C: the messages the forger answers with */
    ff_t *enc; /* R x N: what it committed to */
    mt_tree *tree;
    uint8_t root[PCS_ROOT_LEN];
} forger;

static void forger_free(forger *f)
{
    free(f->msg);
    free(f->enc);
    mt_tree_free(f->tree);
    memset(f, 0, sizeof *f);
}

/* Encodes msg into enc (honest codewords). */
static int encode_all(const forger *f, const ff_t *msg, ff_t *enc)
{
    em_err err = {0};
    ntt_plan *plan = NULL;
    if (ntt_plan_create(f->l.log_cols + PCS_RATE_BITS, &plan, &err) != EM_OK)
        return 0;
    em_status st = ntt_rs_encode_rows(plan, NULL, PCS_RATE_BITS, 1, NTT_RS_COEFFS, msg, f->R, enc, 1, &err);
    ntt_plan_free(plan);
    return st == EM_OK;
}

static int forger_init(forger *f, const unsigned *n_vars, unsigned n_polys, unsigned log_cols)
{
    memset(f, 0, sizeof *f);
    em_err err = {0};
    if (pcs_layout_init(&f->l, n_vars, n_polys, log_cols, &err) != EM_OK)
        return 0;
    f->C = (size_t)1 << f->l.log_cols;
    f->N = f->C << PCS_RATE_BITS;
    f->R = f->l.n_rows;
    f->msg = malloc(f->R * f->C * sizeof *f->msg);
    f->enc = malloc(f->R * f->N * sizeof *f->enc);
    if (!f->msg || !f->enc)
        return 0;
    for (size_t i = 0; i < f->R * f->C; i++)
        f->msg[i] = rnd_ff();
    return encode_all(f, f->msg, f->enc);
}

static int forger_commit(forger *f)
{
    em_err err = {0};
    mt_tree_free(f->tree);
    f->tree = NULL;
    if (mt_tree_build_cols(f->enc, f->R, f->N, &f->tree, &err) != EM_OK)
        return 0;
    mt_tree_root(f->tree, f->root);
    return 1;
}

/* Evaluation of poly p of the forger's messages msg at z (the ml.h index convention). */
static ff2_t msg_eval(const forger *f, const ff_t *msg, unsigned p, const ff2_t *z)
{
    size_t len = (size_t)1 << f->l.n_vars[p];
    return naive_eval_base(msg + f->l.row_off[p] * f->C, len, f->l.n_vars[p], z);
}

static void put2(em_buf *b, const ff2_t *v, size_t n)
{
    uint8_t e[FF2_BYTES];
    for (size_t i = 0; i < n; i++) {
        ff2_encode(v[i], e);
        if (em_buf_append(b, e, sizeof e) != EM_OK)
            abort();
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The forged opening: transcript steps as documented in pcs.h; w and u are computed from
 * msg_w / msg_u; with fit set, each u_g is shifted on one coordinate so that it evaluates to
 * the claimed values. Columns come from the committed enc. */
static void forger_open(const forger *f, const ff_t *msg_w, const ff_t *msg_u, const pcs_claim *c, size_t n,
                        int fit, tr_t *tr, em_buf *out)
{
    const pcs_layout *l = &f->l;
    size_t C = f->C, N = f->N, R = f->R;
    tr_absorb_bytes(tr, "pcs/root", f->root, PCS_ROOT_LEN);
    tr_absorb_u64(tr, "pcs/layout", l->log_cols);
    tr_absorb_u64(tr, "pcs/layout", l->n_polys);
    tr_absorb_u64(tr, "pcs/layout", 0);
    tr_absorb_bytes(tr, "pcs/layout", l->n_vars, l->n_polys);
    tr_absorb_u64(tr, "pcs/layout", l->rate_bits);
    for (unsigned p = 0; p < l->n_polys; p++)
        tr_absorb_u64(tr, "pcs/layout", l->rows[p]);
    tr_absorb_u64(tr, "pcs/nclaims", n);
    for (size_t k = 0; k < n; k++) {
        tr_absorb_u64(tr, "pcs/claim", c[k].poly);
        tr_absorb_ff2(tr, "pcs/claim", c[k].point, l->n_vars[c[k].poly]);
        tr_absorb_ff2(tr, "pcs/claim", &c[k].value, 1);
    }
    ff2_t *gamma = malloc(R * sizeof *gamma), *row = malloc(C * sizeof *row), *a = malloc(R * sizeof *a);
    ff2_t *rho = malloc(n * sizeof *rho), *eqc = malloc(C * sizeof *eqc), *eqr = malloc(R * sizeof *eqr);
    size_t *group = malloc(n * sizeof *group);
    if (!gamma || !row || !a || !rho || !eqc || !eqr || !group)
        abort();
    tr_challenge_ff2_vec(tr, "pcs/gamma", gamma, R);
    for (size_t j = 0; j < C; j++) {
        row[j] = ff2_zero();
        for (size_t i = 0; i < R; i++)
            row[j] = ff2_add(row[j], ff2_mul_base(gamma[i], msg_w[i * C + j]));
    }
    tr_absorb_ff2(tr, "pcs/w", row, C);
    put2(out, row, C);
    tr_challenge_ff2_vec(tr, "pcs/rho", rho, n);
    size_t ng = 0;
    for (size_t k = 0; k < n; k++) {
        group[k] = SIZE_MAX;
        for (size_t q = 0; q < k; q++)
            if (!memcmp(c[q].point, c[k].point, l->log_cols * sizeof(ff2_t))) {
                group[k] = group[q];
                break;
            }
        if (group[k] == SIZE_MAX)
            group[k] = ng++;
    }
    for (size_t g = 0; g < ng; g++) {
        size_t first = SIZE_MAX;
        ff2_t want = ff2_zero();
        for (size_t i = 0; i < R; i++)
            a[i] = ff2_zero();
        for (size_t k = 0; k < n; k++) {
            if (group[k] != g)
                continue;
            if (first == SIZE_MAX)
                first = k;
            want = ff2_add(want, ff2_mul(rho[k], c[k].value));
            unsigned nr = l->n_vars[c[k].poly] - l->log_cols;
            ml_eq_table(c[k].point + l->log_cols, nr, rho[k], eqr);
            for (size_t i = 0; i < ((size_t)1 << nr); i++)
                a[l->row_off[c[k].poly] + i] = ff2_add(a[l->row_off[c[k].poly] + i], eqr[i]);
        }
        for (size_t j = 0; j < C; j++) {
            row[j] = ff2_zero();
            for (size_t i = 0; i < R; i++)
                row[j] = ff2_add(row[j], ff2_mul(a[i], ff2_from_base(msg_u[i * C + j])));
        }
        ml_eq_table(c[first].point, l->log_cols, ff2_one(), eqc);
        if (fit) {
            ff2_t have = ml_dot_ext(row, eqc, C);
            size_t j = 0;
            while (ff2_is_zero(eqc[j]))
                j++;
            row[j] = ff2_add(row[j], ff2_mul(ff2_sub(want, have), ff2_inv(eqc[j])));
        }
        tr_absorb_ff2(tr, "pcs/u", row, C);
        put2(out, row, C);
    }
    uint64_t idx[2 * PCS_QUERIES];
    size_t nq = 0;
    if (N <= 2 * (size_t)PCS_QUERIES) {
        for (; nq < N; nq++)
            idx[nq] = nq;
    } else {
        while (nq < PCS_QUERIES) {
            uint64_t j = tr_challenge_index(tr, "pcs/query", N);
            size_t q = 0;
            while (q < nq && idx[q] != j)
                q++;
            if (q == nq)
                idx[nq++] = j;
        }
        qsort(idx, nq, sizeof *idx, cmp_u64);
    }
    uint8_t e[FF_BYTES];
    for (size_t q = 0; q < nq; q++)
        for (size_t i = 0; i < R; i++) {
            ff_encode(f->enc[i * N + idx[q]], e);
            if (em_buf_append(out, e, sizeof e) != EM_OK)
                abort();
        }
    em_err err = {0};
    if (mt_tree_open(f->tree, idx, nq, out, &err) != EM_OK)
        abort();
    free(gamma);
    free(row);
    free(a);
    free(rho);
    free(eqc);
    free(eqr);
    free(group);
}

static em_status verify_forged(const forger *f, const ff_t *msg_w, const ff_t *msg_u, const pcs_claim *c, size_t n,
                               int fit, em_err *err)
{
    tr_t tp, tv;
    tr_init(&tp, "attack-pcs");
    tv = tp;
    em_buf buf = {.max = (size_t)1 << 28};
    forger_open(f, msg_w, msg_u, c, n, fit, &tp, &buf);
    em_reader r;
    em_reader_init(&r, buf.data, buf.len);
    em_status st = pcs_verify(&f->l, f->root, c, n, &tv, &r, err);
    if (st == EM_OK && em_reader_left(&r))
        st = em_errf(err, EM_ERR_PARSE, "%zu bytes left", em_reader_left(&r));
    em_buf_free(&buf);
    if (st != EM_OK && getenv("ZK_TEST_VERBOSE"))
        fprintf(stderr, "    rejected: %s\n", em_err_msg(err));
    return st;
}

static void rnd_point(ff2_t *z, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        z[i] = rnd_ff2();
}

/* log_cols 5: N = 128, every column opened; log_cols 7: N = 512, PCS_QUERIES sampled columns. */
static const unsigned LOG_COLS[] = {5, 7};

static void test_forger_honest_accepted(void)
{
    for (size_t t = 0; t < 2; t++) {
        unsigned nv[] = {12, 9};
        forger f;
        CHECK(forger_init(&f, nv, 2, LOG_COLS[t]) && forger_commit(&f));
        if (!f.tree) {
            forger_free(&f);
            continue;
        }
        ff2_t z0[12], z1[9];
        rnd_point(z0, 12);
        rnd_point(z1, 9);
        pcs_claim c[2] = {{0, z0, msg_eval(&f, f.msg, 0, z0)}, {1, z1, msg_eval(&f, f.msg, 1, z1)}};
        em_err err = {0};
        CHECK_OK(verify_forged(&f, f.msg, f.msg, c, 2, 0, &err), &err);
        CHECK_OK(verify_forged(&f, f.msg, f.msg, c, 2, 1, &err), &err); /* fit is a no-op here */
        forger_free(&f);
    }
}

/* A false value with u shifted to fit it: the evaluation check passes by construction. */
static void test_false_value_fitted_row(void)
{
    for (size_t t = 0; t < 2; t++) {
        unsigned nv[] = {12};
        forger f;
        CHECK(forger_init(&f, nv, 1, LOG_COLS[t]) && forger_commit(&f));
        if (!f.tree) {
            forger_free(&f);
            continue;
        }
        ff2_t z[12];
        rnd_point(z, 12);
        ff2_t v = msg_eval(&f, f.msg, 0, z);
        pcs_claim c = {0, z, ff2_add(v, ff2_one())};
        em_err err = {0};
        em_status st = verify_forged(&f, f.msg, f.msg, &c, 1, 1, &err);
        if (st == EM_OK)
            fprintf(stderr, "    BREAK: false value accepted (log_cols %u)\n", LOG_COLS[t]);
        CHECK(st == EM_ERR_VERIFY);
        CHECK_STR_CONTAINS(err.msg, "inconsistent with the opened columns");
        /* two claims at the same column point: lie on one, fit the shared row */
        ff2_t z2[12];
        memcpy(z2, z, sizeof z);
        z2[11] = rnd_ff2();
        pcs_claim c2[2] = {{0, z, v}, {0, z2, ff2_sub(msg_eval(&f, f.msg, 0, z2), ff2_one())}};
        CHECK(verify_forged(&f, f.msg, f.msg, c2, 2, 1, &err) == EM_ERR_VERIFY);
        forger_free(&f);
    }
}

/* Row 0 of the committed matrix is the codeword of another polynomial M0' on a quarter of the
 * columns (the rest honest): the forger answers w and u from M0' and claims M0''s value. */
static void test_corrupted_columns(void)
{
    for (size_t t = 0; t < 2; t++) {
        unsigned nv[] = {12};
        forger f;
        CHECK(forger_init(&f, nv, 1, LOG_COLS[t]));
        if (!f.msg) {
            forger_free(&f);
            continue;
        }
        ff_t *lie = malloc(f.R * f.C * sizeof *lie), *lie_enc = malloc(f.R * f.N * sizeof *lie_enc);
        memcpy(lie, f.msg, f.R * f.C * sizeof *lie);
        lie[3] = ff_add(lie[3], 1);
        CHECK(encode_all(&f, lie, lie_enc));
        for (size_t j = 0; j < f.N / 4; j++) {
            size_t col = (j * 4 + (th_rand() % 4)) % f.N; /* a quarter, spread out */
            f.enc[col] = lie_enc[col];
        }
        CHECK(forger_commit(&f));
        ff2_t z[12];
        rnd_point(z, 12);
        pcs_claim c = {0, z, msg_eval(&f, lie, 0, z)};
        em_err err = {0};
        em_status st = verify_forged(&f, lie, lie, &c, 1, 0, &err);
        if (st == EM_OK)
            fprintf(stderr, "    BREAK: corrupted-column opening accepted (log_cols %u)\n", LOG_COLS[t]);
        CHECK(st == EM_ERR_VERIFY);
        /* w honest, u from the lie */
        CHECK(verify_forged(&f, f.msg, lie, &c, 1, 0, &err) == EM_ERR_VERIFY);
        /* the honest answer for the true polynomial still fails on the corrupted columns only
         * if one of them is opened: with all columns opened it must fail, sampled it may not */
        pcs_claim ch = {0, z, msg_eval(&f, f.msg, 0, z)};
        st = verify_forged(&f, f.msg, f.msg, &ch, 1, 0, &err);
        if (f.N <= 2 * (size_t)PCS_QUERIES)
            CHECK(st == EM_ERR_VERIFY);
        free(lie);
        free(lie_enc);
        forger_free(&f);
    }
}

/* The value of polynomial 1 claimed for polynomial 0 (same point), with a fitted row. */
static void test_swapped_polynomials(void)
{
    unsigned nv[] = {10, 10};
    forger f;
    CHECK(forger_init(&f, nv, 2, 5) && forger_commit(&f));
    if (f.tree) {
        ff2_t z[10];
        rnd_point(z, 10);
        pcs_claim c[2] = {{0, z, msg_eval(&f, f.msg, 1, z)}, {1, z, msg_eval(&f, f.msg, 0, z)}};
        em_err err = {0};
        CHECK(verify_forged(&f, f.msg, f.msg, c, 2, 1, &err) == EM_ERR_VERIFY);
        CHECK(verify_forged(&f, f.msg, f.msg, c, 2, 0, &err) == EM_ERR_VERIFY);
    }
    forger_free(&f);
}

/* Several groups (claims at distinct column points): the verifier checks the proximity row and
 * every evaluation row against the columns as one random combination, so a lie in any single
 * row -- the fitted row of group g, or w computed from other messages -- must still be caught. */
static void test_each_row_checked(void)
{
    for (size_t t = 0; t < 2; t++) {
        unsigned nv[] = {12};
        forger f;
        CHECK(forger_init(&f, nv, 1, LOG_COLS[t]) && forger_commit(&f));
        if (!f.tree) {
            forger_free(&f);
            continue;
        }
        ff2_t z[3][12];
        pcs_claim c[3];
        for (int k = 0; k < 3; k++) {
            rnd_point(z[k], 12);
            c[k] = (pcs_claim){0, z[k], msg_eval(&f, f.msg, 0, z[k])};
        }
        em_err err = {0};
        CHECK_OK(verify_forged(&f, f.msg, f.msg, c, 3, 1, &err), &err);
        for (int g = 0; g < 3; g++) { /* only u_g is wrong (fitted to a false value) */
            pcs_claim bad[3];
            memcpy(bad, c, sizeof bad);
            bad[g].value = ff2_add(bad[g].value, ff2_one());
            em_status st = verify_forged(&f, f.msg, f.msg, bad, 3, 1, &err);
            if (st == EM_OK)
                fprintf(stderr, "    BREAK: false value of group %d accepted (log_cols %u)\n", g, LOG_COLS[t]);
            CHECK(st == EM_ERR_VERIFY);
            CHECK_STR_CONTAINS(err.msg, "inconsistent with the opened columns");
        }
        /* only w is wrong: computed from messages the commitment does not hold */
        ff_t *lie = malloc(f.R * f.C * sizeof *lie);
        if (lie) {
            memcpy(lie, f.msg, f.R * f.C * sizeof *lie);
            lie[f.C + 1] = ff_add(lie[f.C + 1], 1);
            CHECK(verify_forged(&f, lie, f.msg, c, 3, 0, &err) == EM_ERR_VERIFY);
            CHECK_STR_CONTAINS(err.msg, "inconsistent with the opened columns");
            free(lie);
        }
        forger_free(&f);
    }
}

int main(void)
{
    th_init("test_attack_pcs");
    TH_RUN(test_forger_honest_accepted);
    TH_RUN(test_false_value_fitted_row);
    TH_RUN(test_corrupted_columns);
    TH_RUN(test_swapped_polynomials);
    TH_RUN(test_each_row_checked);
    return th_finish();
}
