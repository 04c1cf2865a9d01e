/* Polynomial commitment: commit / open / verify time and opening size, one polynomial of 2^n
 * values opened at one point, n = min .. max.
 * Usage: bench_pcs [min_log] [max_log] [threads] [hiding]   (default 16 22, threads 0 = all
 * CPUs; a 4th argument "hiding" benchmarks pcs_commit_hiding with a fixed seed) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/ml.h"
#include "enclaveml/zkml/pcs.h"

static uint64_t rng = 0xabcdef;
static ff_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ff_from_u64(rng);
}

int main(int argc, char **argv)
{
    unsigned lo = argc > 1 ? (unsigned)atoi(argv[1]) : 16, hi = argc > 2 ? (unsigned)atoi(argv[2]) : 22;
    unsigned threads = argc > 3 ? (unsigned)atoi(argv[3]) : 0;
    int hiding = argc > 4 && strcmp(argv[4], "hiding") == 0;
    static const uint8_t seed[32] = {42};
    printf("%-6s %8s %6s %10s %9s %10s %11s\n", "size", "log_cols", "rows", "commit_ms", "open_ms", "verify_ms",
           "proof_bytes");
    for (unsigned n = lo; n <= hi; n++) {
        size_t N = (size_t)1 << n;
        ff_t *v = malloc(N * sizeof *v);
        ff2_t *sc = malloc(N / 2 * sizeof *sc), pt[PCS_MAX_VARS];
        for (size_t i = 0; i < N; i++)
            v[i] = rnd();
        for (unsigned j = 0; j < n; j++)
            pt[j] = (ff2_t){rnd(), rnd()};
        em_err err = {0};
        pcs_layout l;
        pcs_prover *p = NULL;
        uint8_t root[PCS_ROOT_LEN];
        pcs_poly poly = {.evals = v, .len = N};
        em_buf proof = {.max = (size_t)1 << 30};
        if (pcs_layout_init(&l, &n, 1, 0, &err) != EM_OK || (hiding && pcs_layout_set_hiding(&l, 1, &err) != EM_OK))
            goto fail;
        double best_c = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            pcs_prover_free(p);
            p = NULL;
            double t0 = em_now_ms();
            if ((hiding ? pcs_commit_hiding(&l, &poly, seed, threads, &p, root, &err)
                        : pcs_commit(&l, &poly, threads, &p, root, &err)) != EM_OK)
                goto fail;
            double dt = em_now_ms() - t0;
            if (dt < best_c)
                best_c = dt;
        }
        pcs_claim c = {0, pt, ml_eval_base(v, N, n, pt, sc)};
        tr_t tp, tv;
        tr_init(&tp, "bench/pcs");
        tv = tp;
        double t0 = em_now_ms();
        if (pcs_open(p, &c, 1, &tp, &proof, &err) != EM_OK)
            goto fail;
        double t1 = em_now_ms();
        em_reader r;
        em_reader_init(&r, proof.data, proof.len);
        if (pcs_verify(&l, root, &c, 1, &tv, &r, &err) != EM_OK)
            goto fail;
        double t2 = em_now_ms();
        printf("2^%-4u %8u %6zu %10.1f %9.1f %10.1f %11zu\n", n, l.log_cols, l.n_rows, best_c, t1 - t0, t2 - t1,
               proof.len);
        pcs_prover_free(p);
        em_buf_free(&proof);
        free(v);
        free(sc);
        continue;
    fail:
        fprintf(stderr, "2^%u: %s\n", n, em_err_msg(&err));
        return 1;
    }
    return 0;
}
