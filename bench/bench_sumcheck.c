/* Sumcheck prover/verifier time: the matmul case (product of two base tables, fast path) and a
 * degree-3 eq-weighted product (generic path), sizes 2^min .. 2^max; then logUp-GKR lookups of
 * 2^16 and 2^20 values into a 2^16 range table.
 * Usage: bench_sumcheck [min_log] [max_log]   (default 20 22) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/lookup.h"
#include "enclaveml/zkml/ml.h"
#include "enclaveml/zkml/sumcheck.h"

static uint64_t rng = 0x1234567;
static ff_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ff_from_u64(rng);
}

static int run(const char *name, const sc_shape *s, const sc_tables *t)
{
    em_err err = {0};
    ff2_t claim = sc_sum(s, t), pt[SC_MAX_VARS], ev[SC_MAX_TABLES];
    ff2_t *scratch = malloc(sc_prove_scratch_len(s) * sizeof *scratch);
    sc_proof pr;
    tr_t tp, tv;
    tr_init(&tp, "bench/sc");
    tv = tp;
    double t0 = em_now_ms();
    if (sc_prove(s, t, claim, &tp, scratch, &pr, pt, &err) != EM_OK)
        goto fail;
    double t1 = em_now_ms();
    if (sc_verify(s, claim, &pr, &tv, pt, ev, &err) != EM_OK)
        goto fail;
    double t2 = em_now_ms();
    printf("%-12s 2^%-4u %10.1f %10.3f %8zu\n", name, s->n_vars, t1 - t0, t2 - t1, sc_proof_size(s));
    free(scratch);
    return 0;
fail:
    fprintf(stderr, "%s: %s\n", name, em_err_msg(&err));
    free(scratch);
    return 1;
}

static int run_lookup(unsigned lw, unsigned k)
{
    size_t nw = (size_t)1 << lw, nt = (size_t)1 << k;
    ff_t *v = malloc(nw * sizeof *v), *m = malloc(nt * sizeof *m);
    uint32_t *idx = malloc(nw * sizeof *idx);
    for (size_t i = 0; i < nw; i++) {
        idx[i] = (uint32_t)(rnd() % nt);
        v[i] = idx[i];
    }
    em_err err = {0};
    em_buf proof = {.max = (size_t)1 << 26};
    lu_table t = lu_table_range(k);
    lu_witness w = {.n_cols = 1, .log_len = lw, .col = {v}};
    lu_claims c;
    tr_t tp, tv;
    tr_init(&tp, "bench/lu");
    tv = tp;
    int bad = 1;
    if (lu_multiplicities(idx, nw, nt, m, &err) != EM_OK)
        goto out;
    double t0 = em_now_ms();
    if (lu_prove(&t, &w, m, &tp, &proof, &c, &err) != EM_OK)
        goto out;
    double t1 = em_now_ms();
    em_reader r;
    em_reader_init(&r, proof.data, proof.len);
    if (lu_verify(&t, lw, &tv, &r, &c, &err) != EM_OK)
        goto out;
    double t2 = em_now_ms();
    printf("logup 2^%u->2^%-2u %6s %10.1f %10.3f %8zu\n", lw, k, "", t1 - t0, t2 - t1, proof.len);
    bad = 0;
out:
    if (bad)
        fprintf(stderr, "lookup: %s\n", em_err_msg(&err));
    em_buf_free(&proof);
    free(v);
    free(m);
    free(idx);
    return bad;
}

int main(int argc, char **argv)
{
    unsigned lo = argc > 1 ? (unsigned)atoi(argv[1]) : 20, hi = argc > 2 ? (unsigned)atoi(argv[2]) : 22;
    printf("%-12s %-6s %10s %10s %8s\n", "instance", "size", "prove_ms", "verify_ms", "bytes");
    for (unsigned n = lo; n <= hi; n++) {
        size_t N = (size_t)1 << n;
        ff_t *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
        ff2_t *eq = malloc(N * sizeof *eq), r[SC_MAX_VARS];
        for (size_t i = 0; i < N; i++) {
            a[i] = rnd();
            b[i] = rnd();
        }
        for (unsigned j = 0; j < n; j++)
            r[j] = (ff2_t){rnd(), rnd()};
        ml_eq_table(r, n, ff2_one(), eq);
        sc_shape s;
        sc_tables t;
        memset(&t, 0, sizeof t);
        sc_shape_product2(&s, n);
        t.base[0] = a;
        t.base[1] = b;
        int bad = run("a*b", &s, &t);
        s.n_tables = 3;
        s.term[0] = (sc_term){.coeff = ff2_one(), .n_factors = 3, .factor = {2, 0, 1}};
        t.ext[2] = eq;
        bad |= run("eq*a*b", &s, &t);
        free(a);
        free(b);
        free(eq);
        if (bad)
            return 1;
    }
    return run_lookup(16, 16) | run_lookup(20, 16);
}
