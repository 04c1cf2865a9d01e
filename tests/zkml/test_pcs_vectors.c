/* Polynomial commitment known answers: tests/vectors/pcs.json comes from the independent Python
 * implementation in tools/gen-vectors.py (recursive FFT, its own transcript and Merkle tree).
 * For every case the C commitment must give the same layout, the same Reed-Solomon codeword
 * head of row 0, the same root and byte-identical opening proof, and that proof must verify. */
#include <jansson.h>

#include "enclaveml/zkml/ml.h"
#include "enclaveml/zkml/ntt.h"
#include "enclaveml/zkml/pcs.h"
#include "harness.h"

static ff_t seq(size_t i, uint64_t seed) { return ff_from_u64((uint64_t)(i + seed) * 0x9E3779B97F4A7C15ULL); }

static uint64_t jnum(json_t *s)
{
    const char *v = json_string_value(s);
    CHECK(v != NULL);
    return v ? strtoull(v, NULL, 10) : 0;
}

static ff2_t jff2(json_t *pair) { return (ff2_t){jnum(json_array_get(pair, 0)), jnum(json_array_get(pair, 1))}; }

static int hex_eq(const char *what, const uint8_t *b, size_t n, json_t *want)
{
    char *hx = malloc(2 * n + 1);
    em_hex_encode(b, n, hx);
    const char *w = json_string_value(want);
    int ok = w && strcmp(hx, w) == 0;
    if (!ok)
        fprintf(stderr, "  %s mismatch:\n    got  %s\n    want %s\n", what, hx, w ? w : "(null)");
    free(hx);
    return ok;
}

/* The codeword of stacked row 0 (the first C evaluations of poly 0, or poly 0's only row)
 * straight from ntt_rs_encode (systematic: the row, then ntt_rs_encode_sys's parity); only for
 * non-hiding cases (hiding rows carry blinding). */
static void check_codeword(json_t *cv, const ff_t *poly0, size_t len0, unsigned log_cols, unsigned rate_bits, int sys,
                           int rate23, int rate45)
{
    size_t C = (size_t)1 << log_cols, N = rate23 ? C * 3 / 2 : rate45 ? C * 5 / 4 : C << rate_bits;
    ff_t *msg = calloc(C, sizeof *msg), *cw = malloc(N * sizeof *cw);
    for (size_t i = 0; i < C && i < len0; i++)
        msg[i] = poly0[i];
    ntt_plan *plan = NULL;
    em_err err = {0};
    CHECK_OK(ntt_plan_create(sys ? log_cols : log_cols + rate_bits, &plan, &err), &err);
    if (plan) {
        if (sys) {
            memcpy(cw, msg, C * sizeof *cw);
            CHECK_OK(ntt_rs_encode_sys(plan, rate23 ? NTT_SYS_RATE_2_3 : rate45 ? NTT_SYS_RATE_4_5 : rate_bits, msg,
                                       cw + C, &err),
                     &err);
        } else {
            CHECK_OK(ntt_rs_encode(plan, rate_bits, 1, NTT_RS_COEFFS, msg, cw, &err), &err);
        }
        json_t *head = json_object_get(cv, "row0_codeword_head");
        CHECK(json_array_size(head) == (N < 16 ? N : 16));
        for (size_t j = 0; j < json_array_size(head) && j < N; j++)
            CHECK_EQ_U64(cw[j], jnum(json_array_get(head, j)));
    }
    ntt_plan_free(plan);
    free(msg);
    free(cw);
}

static void run_case(json_t *cv)
{
    const char *name = json_string_value(json_object_get(cv, "name"));
    json_t *jn = json_object_get(cv, "n_vars"), *jl = json_object_get(cv, "lens"), *js = json_object_get(cv, "seeds");
    unsigned np = (unsigned)json_array_size(jn);
    CHECK(np >= 1 && np <= 8 && json_array_size(jl) == np && json_array_size(js) == np);
    if (np < 1 || np > 8)
        return;
    fprintf(stderr, "  case: %s\n", name ? name : "?");
    unsigned nv[8];
    ff_t *vals[8] = {0};
    int32_t *ints = NULL;
    pcs_poly polys[8];
    /* systematic cases: one polynomial of integers, value e in the type [lo, hi] of its row */
    json_t *runs = json_object_get(cv, "sys_runs");
    size_t n_runs = json_array_size(runs), run_end[PCS_MAX_SYM_RUNS];
    uint8_t run_sym[PCS_MAX_SYM_RUNS];
    static const int64_t lo_of[] = {0, 0, -128, 0, -32768, INT32_MIN}, hi_of[] = {0, 255, 127, 65535, 32767, INT32_MAX};
    CHECK(n_runs <= PCS_MAX_SYM_RUNS && (!n_runs || np == 1));
    for (size_t k = 0; k < n_runs && k < PCS_MAX_SYM_RUNS; k++) {
        run_end[k] = (size_t)json_integer_value(json_array_get(json_array_get(runs, k), 0));
        run_sym[k] = (uint8_t)json_integer_value(json_array_get(json_array_get(runs, k), 1));
        CHECK(run_sym[k] >= 1 && run_sym[k] <= 5);
    }
    for (unsigned p = 0; p < np; p++) {
        nv[p] = (unsigned)json_integer_value(json_array_get(jn, p));
        size_t len = (size_t)json_integer_value(json_array_get(jl, p));
        uint64_t seed = (uint64_t)json_integer_value(json_array_get(js, p));
        vals[p] = malloc((len ? len : 1) * sizeof(ff_t));
        for (size_t e = 0; e < len; e++)
            vals[p][e] = seq(e, seed);
        polys[p] = (pcs_poly){.evals = vals[p], .len = len};
        if (n_runs && p == 0) {
            size_t C = (size_t)1 << json_integer_value(json_object_get(cv, "log_cols"));
            ints = malloc((len ? len : 1) * sizeof *ints);
            for (size_t e = 0; e < len; e++) {
                size_t k = 0;
                while (k + 1 < n_runs && run_end[k] <= e / C)
                    k++;
                int64_t lo = lo_of[run_sym[k] % 6], hi = hi_of[run_sym[k] % 6];
                ints[e] = (int32_t)(lo + (int64_t)(vals[p][e] % (uint64_t)(hi - lo + 1)));
                vals[p][e] = ff_from_i64(ints[e]);
            }
            polys[p] = (pcs_poly){.ints = ints, .len = len};
        }
    }
    em_err err = {0};
    pcs_layout l;
    pcs_prover *pr = NULL;
    em_buf proof = {.max = (size_t)1 << 26};
    ff2_t *points = NULL;
    pcs_claim *claims = NULL;
    CHECK_OK(pcs_layout_init(&l, nv, np, (unsigned)json_integer_value(json_object_get(cv, "log_cols_arg")), &err),
             &err);
    CHECK_EQ_U64(l.log_cols, json_integer_value(json_object_get(cv, "log_cols")));
    if (json_is_true(json_object_get(cv, "trim")))
        for (unsigned p = 0; p < np; p++)
            CHECK_OK(pcs_layout_set_len(&l, p, polys[p].len, &err), &err);
    unsigned rate_bits = (unsigned)json_integer_value(json_object_get(cv, "rate_bits"));
    CHECK(rate_bits == 1 || rate_bits == 2);
    CHECK_OK(pcs_layout_set_rate(&l, rate_bits, &err), &err);
    CHECK_EQ_U64(l.n_rows, json_integer_value(json_object_get(cv, "n_rows")));
    int rate23 = json_is_true(json_object_get(cv, "rate23")), rate45 = json_is_true(json_object_get(cv, "rate45"));
    if (n_runs)
        CHECK_OK(pcs_layout_set_systematic(&l, run_end, run_sym, (unsigned)n_runs, &err), &err);
    if (rate23)
        CHECK_OK(pcs_layout_set_rate23(&l, &err), &err);
    if (rate45)
        CHECK_OK(pcs_layout_set_rate45(&l, &err), &err);
    json_t *jprox = json_object_get(cv, "proximity");
    if (json_is_true(json_object_get(cv, "tested")))
        CHECK_OK(pcs_layout_set_tested(&l, &err), &err);
    unsigned groups = (unsigned)json_integer_value(json_object_get(cv, "hiding_groups"));
    uint8_t root[PCS_ROOT_LEN];
    if (groups) {
        uint8_t seed[32];
        const char *sh = json_string_value(json_object_get(cv, "blind_seed"));
        CHECK(sh && em_hex_decode(sh, seed, 32) == EM_OK);
        CHECK_OK(pcs_layout_set_hiding(&l, groups, &err), &err);
        CHECK_OK(pcs_commit_hiding(&l, polys, seed, 2, &pr, root, &err), &err);
    } else {
        CHECK_OK(pcs_commit(&l, polys, 2, &pr, root, &err), &err);
        check_codeword(cv, vals[0], polys[0].len, l.log_cols, l.rate_bits, n_runs > 0, rate23, rate45);
    }
    if (!pr)
        goto out;
    CHECK(hex_eq("root", root, PCS_ROOT_LEN, json_object_get(cv, "root")));

    json_t *op = json_object_get(cv, "opening"), *jc = json_object_get(op, "claims");
    size_t nc = json_array_size(jc), npts = 0;
    for (size_t k = 0; k < nc; k++)
        npts += json_array_size(json_object_get(json_array_get(jc, k), "point"));
    claims = calloc(nc ? nc : 1, sizeof *claims);
    points = calloc(npts ? npts : 1, sizeof *points);
    size_t used = 0;
    for (size_t k = 0; k < nc; k++) {
        json_t *c = json_array_get(jc, k), *pt = json_object_get(c, "point");
        claims[k].poly = (unsigned)json_integer_value(json_object_get(c, "poly"));
        CHECK(claims[k].poly < np && json_array_size(pt) == nv[claims[k].poly < np ? claims[k].poly : 0]);
        claims[k].point = points + used;
        for (size_t j = 0; j < json_array_size(pt); j++)
            points[used++] = jff2(json_array_get(pt, j));
        claims[k].value = jff2(json_object_get(c, "value"));
        if (claims[k].poly < np)
            CHECK(ff2_eq(pcs_prover_eval(pr, claims[k].poly, claims[k].point), claims[k].value));
    }
    tr_t tp, tv;
    tr_init(&tp, json_string_value(json_object_get(op, "domain")));
    tv = tp;
    uint8_t dig[EM_HASH_LEN];
    em_reader r;
    if (jprox) { /* a tested layout: its proximity proof first, on the same transcript */
        CHECK(l.tested);
        CHECK_OK(pcs_prove_proximity(pr, &tp, &proof, &err), &err);
        CHECK_EQ_U64(proof.len, json_integer_value(json_object_get(jprox, "proof_len")));
        em_sha256(proof.data, proof.len, dig);
        CHECK(hex_eq("proximity head", proof.data, proof.len < 256 ? proof.len : 256,
                     json_object_get(jprox, "proof_head")));
        CHECK(hex_eq("proximity sha256", dig, EM_HASH_LEN, json_object_get(jprox, "proof_sha256")));
        em_reader_init(&r, proof.data, proof.len);
        CHECK_OK(pcs_verify_proximity(&l, root, &tv, &r, &err), &err);
        CHECK_EQ_U64(em_reader_left(&r), 0);
        proof.len = 0;
    }
    CHECK_OK(pcs_open(pr, claims, nc, &tp, &proof, &err), &err);
    CHECK_EQ_U64(proof.len, json_integer_value(json_object_get(op, "proof_len")));
    em_sha256(proof.data, proof.len, dig);
    size_t head = proof.len < 256 ? proof.len : 256;
    CHECK(hex_eq("proof head", proof.data, head, json_object_get(op, "proof_head")));
    CHECK(hex_eq("proof sha256", dig, EM_HASH_LEN, json_object_get(op, "proof_sha256")));
    em_reader_init(&r, proof.data, proof.len);
    CHECK_OK(pcs_verify(&l, root, claims, nc, &tv, &r, &err), &err);
    CHECK_EQ_U64(em_reader_left(&r), 0);
    CHECK(memcmp(tp.state, tv.state, 32) == 0);
out:
    em_buf_free(&proof);
    pcs_prover_free(pr);
    free(points);
    free(claims);
    for (unsigned p = 0; p < np; p++)
        free(vals[p]);
    free(ints);
}

static void test_vectors(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/vectors/pcs.json", th_src_dir());
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    CHECK(root != NULL);
    if (!root) {
        fprintf(stderr, "  cannot load %s: %s\n", path, je.text);
        return;
    }
    json_t *cases = json_object_get(root, "cases");
    CHECK(json_array_size(cases) >= 12); /* the file must not silently lose cases */
    size_t i;
    json_t *cv;
    json_array_foreach(cases, i, cv) run_case(cv);
    json_decref(root);
}

int main(void)
{
    th_init("test_pcs_vectors");
    TH_RUN(test_vectors);
    return th_finish();
}
