/* Fraction-tree prover time (the requantization lookups' kernel, src/zkml/zk_frac.c) on random
 * leaves: a witness tree (numerators 1) and a table tree (numerators m) of 2^G leaves, on 1 and
 * 2 threads, best and median of N runs. It isolates the phase that dominates large proofs from
 * the rest of zk_prove, so kernel changes can be compared on this noisy VM.
 * Usage: bench_frac [G] [runs]   (default 19 15) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enclaveml/core.h"
#include "enclaveml/zkml/transcript.h"
#include "zk_internal.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static ff_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ff_from_u64(rng);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    unsigned G = argc > 1 ? (unsigned)atoi(argv[1]) : 19, runs = argc > 2 ? (unsigned)atoi(argv[2]) : 15;
    if (G < 2 || G > 22 || runs < 1 || runs > 1000) {
        fprintf(stderr, "usage: bench_frac [G 2..22] [runs]\n");
        return 2;
    }
    ff_t *lvl[24];
    zk_fv P[24], Q[24];
    for (unsigned d = 0; d <= G; d++) {
        size_t n = (size_t)1 << d;
        lvl[d] = aligned_alloc(64, (4 * n * sizeof *lvl[d] + 63) & ~(size_t)63); /* as zk__big_alloc: no split loads */
        P[d] = (zk_fv){lvl[d], lvl[d] + n};
        Q[d] = (zk_fv){lvl[d] + 2 * n, lvl[d] + 3 * n};
    }
    ff_t *scratch = aligned_alloc(64, 16 * ((size_t)1 << (G - 2)) * sizeof *scratch);
    double *t = malloc(runs * sizeof *t);
    zk__pool_hold(1);
    printf("fraction tree of 2^%u leaves, %u runs: best / median ms\n", G, runs);
    printf("%-10s %8s %8s %8s %8s\n", "tree", "1 thr", "", "2 thr", "");
    for (int p_one = 1; p_one >= 0; p_one--) {
        printf("%-10s", p_one ? "witness" : "table");
        for (unsigned th = 1; th <= 2; th++) {
            for (unsigned k = 0; k < runs; k++) {
                size_t n = (size_t)1 << G;
                for (size_t i = 0; i < n; i++) {
                    P[G].a[i] = p_one ? 1 : rnd() % 1000;
                    P[G].b[i] = 0;
                    Q[G].a[i] = rnd();
                    Q[G].b[i] = rnd();
                }
                tr_t tr;
                tr_init(&tr, "bench/frac");
                em_buf buf = {.max = (size_t)1 << 24};
                zk_wr wr = {.tr = &tr, .buf = &buf, .threads = th};
                em_err err = {0};
                ff2_t r[64], root[2], leaf[2];
                double t0 = em_now_ms();
                if (zk__frac_prove(&wr, G, p_one, P, Q, scratch, r, root, leaf, &err) != EM_OK) {
                    fprintf(stderr, "%s\n", em_err_msg(&err));
                    return 1;
                }
                t[k] = em_now_ms() - t0;
                em_buf_free(&buf);
            }
            qsort(t, runs, sizeof *t, cmp_d);
            printf(" %8.2f %8.2f", t[0], t[runs / 2]);
        }
        printf("\n");
    }
    zk__pool_hold(0);
    for (unsigned d = 0; d <= G; d++)
        free(lvl[d]);
    free(scratch);
    free(t);
    return 0;
}
