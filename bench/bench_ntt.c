/* NTT and Reed-Solomon encoding throughput, sizes 2^16 .. 2^22, every SIMD tier.
 * Usage: bench_ntt [min_log] [max_log] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/ff_vec.h"
#include "enclaveml/zkml/ntt.h"

static double best_ms(const ntt_plan *p, ff_t *a, size_t n, int reps, int inverse)
{
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        for (size_t i = 0; i < n; i++)
            a[i] = ff_from_u64(i * 0x9E3779B97F4A7C15ULL);
        double t0 = em_now_ms();
        if (inverse)
            ntt_inverse(p, a);
        else
            ntt_forward(p, a);
        double dt = em_now_ms() - t0;
        if (dt < best)
            best = dt;
    }
    return best;
}

int main(int argc, char **argv)
{
    unsigned lo = argc > 1 ? (unsigned)atoi(argv[1]) : 16, hi = argc > 2 ? (unsigned)atoi(argv[2]) : 22;
    em_err err;
    printf("%-8s %-7s %12s %12s\n", "size", "tier", "forward_ms", "inverse_ms");
    for (unsigned l = lo; l <= hi; l++) {
        size_t n = (size_t)1 << l;
        ntt_plan *p;
        if (ntt_plan_create(l, &p, &err) != EM_OK) {
            fprintf(stderr, "%s\n", em_err_msg(&err));
            return 1;
        }
        ff_t *a = aligned_alloc(64, n * sizeof(ff_t));
        for (int t = FF_VEC_SCALAR; t <= FF_VEC_AVX512; t++) {
            if (ff_vec_tier_set((ff_vec_tier)t) != EM_OK)
                continue;
            int reps = l <= 18 ? 20 : 8;
            double f = best_ms(p, a, n, reps, 0), iv = best_ms(p, a, n, reps, 1);
            printf("2^%-6u %-7s %12.3f %12.3f\n", l, ff_vec_tier_name((ff_vec_tier)t), f, iv);
        }
        free(a);
        ntt_plan_free(p);
    }
    /* Batched RS encoding as the polynomial commitment uses it: rows x 2^lm, rate 1/4 */
    for (int t = FF_VEC_AVX512; t >= FF_VEC_SCALAR; t--)
        if (ff_vec_tier_set((ff_vec_tier)t) == EM_OK)
            break;
    printf("\nRS encode rows (tier %s, rate 1/4, coset shift 7):\n", ff_vec_tier_name(ff_vec_tier_get()));
    printf("%-6s %-8s %-8s %10s %10s %14s\n", "rows", "msg", "code", "1thr_ms", "2thr_ms", "Melem/s(2thr)");
    const unsigned cfg[][2] = {{10, 10}, {10, 12}, {11, 12}, {12, 10}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        unsigned lrows = cfg[c][0], lm = cfg[c][1], rate = 2;
        size_t rows = (size_t)1 << lrows, n = (size_t)1 << lm, N = n << rate;
        ntt_plan *pN;
        if (ntt_plan_create(lm + rate, &pN, &err) != EM_OK)
            return 1;
        ff_t *msg = malloc(rows * n * sizeof(ff_t)), *out = malloc(rows * N * sizeof(ff_t));
        for (size_t i = 0; i < rows * n; i++)
            msg[i] = ff_from_u64(i * 0x9E3779B97F4A7C15ULL);
        double ms[2];
        for (unsigned th = 1; th <= 2; th++) {
            double best = 1e30;
            for (int r = 0; r < 5; r++) {
                double t0 = em_now_ms();
                if (ntt_rs_encode_rows(pN, NULL, rate, FF_GENERATOR, NTT_RS_COEFFS, msg, rows, out, th, &err) != EM_OK)
                    return 1;
                double dt = em_now_ms() - t0;
                best = dt < best ? dt : best;
            }
            ms[th - 1] = best;
        }
        printf("2^%-4u 2^%-6u 2^%-6u %10.2f %10.2f %14.1f\n", lrows, lm, lm + rate, ms[0], ms[1],
               (double)(rows * N) / ms[1] / 1e3);
        free(msg);
        free(out);
        ntt_plan_free(pN);
    }
    /* A witness commitment's shape (784-512-512-10 at batch 1024, session 8: 130 rows of 2^14
     * int32 values, rate 1/2): the coefficient code (2^15-point transforms) against the
     * systematic one (2^14-point inverse + forward, parity only) and the systematic rate-2/3
     * one (2^14-point inverse + 2^13-point forward) the witness now uses, one thread. */
    printf("\nRS encode of int32 rows at rate 1/2, one thread (tier %s):\n", ff_vec_tier_name(ff_vec_tier_get()));
    printf("%-6s %-8s %14s %14s %14s %14s\n", "rows", "msg", "coeffs_ms", "sys_1/2_ms", "sys_2/3_ms", "sys_4/5_ms");
    for (unsigned lm = 12; lm <= 16; lm += 2) {
        size_t rows = 130, n = (size_t)1 << lm;
        ntt_plan *pN, *pn;
        if (ntt_plan_create(lm + 1, &pN, &err) != EM_OK || ntt_plan_create(lm, &pn, &err) != EM_OK)
            return 1;
        int32_t *iv = malloc(rows * n * sizeof *iv);
        ff_t *out = malloc(rows * 2 * n * sizeof(ff_t));
        for (size_t i = 0; i < rows * n; i++)
            iv[i] = (int32_t)(i * 2654435761u) >> 24;
        double best[4] = {1e30, 1e30, 1e30, 1e30};
        const unsigned sys_rate[4] = {0, 1, NTT_SYS_RATE_2_3, NTT_SYS_RATE_4_5};
        for (int r = 0; r < 5; r++)
            for (int k = 0; k < 4; k++) {
                double t0 = em_now_ms();
                em_status st = k ? ntt_rs_encode_rows_sys_i32(pn, sys_rate[k], iv, rows * n, rows, out, 1, &err)
                                 : ntt_rs_encode_rows_i32(pN, 1, iv, rows * n, rows, out, 1, &err);
                if (st != EM_OK)
                    return 1;
                double dt = em_now_ms() - t0;
                best[k] = dt < best[k] ? dt : best[k];
            }
        printf("%-6zu 2^%-6u %14.2f %14.2f %14.2f %14.2f\n", rows, lm, best[0], best[1], best[2], best[3]);
        free(iv);
        free(out);
        ntt_plan_free(pN);
        ntt_plan_free(pn);
    }
    return 0;
}
