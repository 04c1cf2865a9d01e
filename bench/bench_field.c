/* Goldilocks field throughput: scalar ff_mul vs every ff_vec SIMD tier, and batch inversion.
 * Each figure is the best of many short runs (the machine is shared; the minimum is the least
 * disturbed). Usage: bench_field [n] */
#include <stdio.h>
#include <stdlib.h>

#include "enclaveml/zkml/ff_vec.h"

static volatile ff_t sink;
static ff_t *a, *b, *o;
static ff2_t *a2, *b2, *o2;
static size_t n;

enum { OP_INLINE, OP_MUL, OP_ADD, OP_AXPY, OP_DOT, OP_BATCH_INV, OP_FF2_INLINE, OP_FF2_MUL, OP_FF2_FOLD };

static void run_once(int op, int reps)
{
    for (int r = 0; r < reps; r++) {
        switch (op) {
        case OP_INLINE:
            for (size_t i = 0; i < n; i++)
                o[i] = ff_mul(a[i], b[i]);
            break;
        case OP_MUL:
            ff_vec_mul(o, a, b, n);
            break;
        case OP_ADD:
            ff_vec_add(o, a, b, n);
            break;
        case OP_AXPY:
            ff_vec_axpy(o, a[r % n], b, n);
            break;
        case OP_DOT:
            sink = ff_vec_dot(a, b, n);
            break;
        case OP_BATCH_INV:
            ff_batch_inv(o, a, n, b);
            break;
        case OP_FF2_INLINE:
            for (size_t i = 0; i < n; i++)
                o2[i] = ff2_mul(a2[i], b2[i]);
            break;
        case OP_FF2_MUL:
            ff2_vec_mul(o2, a2, b2, n);
            break;
        case OP_FF2_FOLD: /* 2n entries -> n */
            ff2_vec_fold(o2, a2, n, b2[r % n]);
            break;
        }
        sink = o[r % n];
    }
}

/* elements per microsecond = M elements / s */
static double best_rate(int op)
{
    int reps = (int)((1u << 20) / n) + 1;
    double best = 0;
    for (int k = 0; k < 25; k++) {
        double t0 = em_now_ms();
        run_once(op, reps);
        double rate = (double)n * reps / ((em_now_ms() - t0) * 1e3);
        best = rate > best ? rate : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 4096; /* L1/L2 resident */
    a = aligned_alloc(64, n * 8), b = aligned_alloc(64, n * 8), o = aligned_alloc(64, n * 8);
    for (size_t i = 0; i < n; i++) {
        a[i] = ff_from_u64(i * 0x9E3779B97F4A7C15ULL + 1);
        b[i] = ff_from_u64(i * 0xC2B2AE3D27D4EB4FULL + 7);
    }
    double base = best_rate(OP_INLINE);
    printf("vector length %zu (best of 25 runs)\n", n);
    printf("%-22s %10.1f Mmul/s\n", "inline ff_mul loop", base);
    for (int t = FF_VEC_SCALAR; t <= FF_VEC_AVX512; t++) {
        if (ff_vec_tier_set((ff_vec_tier)t) != EM_OK)
            continue;
        double mul = best_rate(OP_MUL), add = best_rate(OP_ADD), axpy = best_rate(OP_AXPY), dot = best_rate(OP_DOT);
        printf("ff_vec %-8s mul %7.1f  add %7.1f  axpy %7.1f  dot %7.1f  M/s  (mul %.2fx inline scalar)\n",
               ff_vec_tier_name((ff_vec_tier)t), mul, add, axpy, dot, mul / base);
    }
    a2 = aligned_alloc(64, 2 * n * 16), b2 = aligned_alloc(64, n * 16), o2 = aligned_alloc(64, n * 16);
    for (size_t i = 0; i < 2 * n; i++)
        a2[i] = (ff2_t){ff_from_u64(i * 0x9E3779B97F4A7C15ULL), ff_from_u64(i * 0xC2B2AE3D27D4EB4FULL)};
    for (size_t i = 0; i < n; i++)
        b2[i] = a2[2 * n - 1 - i];
    double f2i = best_rate(OP_FF2_INLINE);
    printf("F_p2 mul: inline ff2_mul loop %.1f M/s", f2i);
    for (int t = FF_VEC_SCALAR; t <= FF_VEC_AVX512; t += FF_VEC_AVX512) {
        if (ff_vec_tier_set((ff_vec_tier)t) != EM_OK)
            continue;
        double m2 = best_rate(OP_FF2_MUL), fo = best_rate(OP_FF2_FOLD);
        printf("; ff2_vec_mul[%s] %.1f M/s, ff2_vec_fold[%s] %.1f M outputs/s", ff_vec_tier_name((ff_vec_tier)t), m2,
               ff_vec_tier_name((ff_vec_tier)t), fo);
    }
    printf("\n");
    free(a2), free(b2), free(o2);
    for (size_t i = 0; i < n; i++) /* batch inverse of non-zero values; b is the scratch */
        a[i] = ff_from_u64(i * 0x9E3779B97F4A7C15ULL + 3);
    double bi = best_rate(OP_BATCH_INV);
    double t0 = em_now_ms();
    for (size_t i = 0; i < 4096; i++)
        sink = ff_inv(a[i % n]);
    double single = (em_now_ms() - t0) / 4096 * 1e6;
    printf("ff_batch_inv: %.1f ns/element (n = %zu); one ff_inv: %.0f ns\n", 1e3 / bi, n, single);
    free(a), free(b), free(o);
    return 0;
}
