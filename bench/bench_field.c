/* Goldilocks field throughput: scalar ff_mul vs every ff_vec SIMD tier, and batch inversion.
 * Usage: bench_field [n] */
#include <stdio.h>
#include <stdlib.h>

#include "enclaveml/zkml/ff_vec.h"

static volatile ff_t sink;

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 4096; /* L1/L2 resident */
    int reps = (int)((1u << 26) / n);
    if (reps < 1)
        reps = 1;
    ff_t *a = aligned_alloc(64, n * 8), *b = aligned_alloc(64, n * 8), *o = aligned_alloc(64, n * 8);
    for (size_t i = 0; i < n; i++) {
        a[i] = ff_from_u64(i * 0x9E3779B97F4A7C15ULL + 1);
        b[i] = ff_from_u64(i * 0xC2B2AE3D27D4EB4FULL + 7);
    }
    /* inline scalar loop: the baseline every SIMD figure is compared with */
    double t0 = em_now_ms();
    for (int r = 0; r < reps; r++) {
        for (size_t i = 0; i < n; i++)
            o[i] = ff_mul(a[i], b[i]);
        sink = o[r % n];
    }
    double base = (double)n * reps / ((em_now_ms() - t0) * 1e3);
    printf("vector length %zu, %d reps\n", n, reps);
    printf("%-22s %10.1f Mmul/s\n", "inline ff_mul loop", base);
    for (int t = FF_VEC_SCALAR; t <= FF_VEC_AVX512; t++) {
        if (ff_vec_tier_set((ff_vec_tier)t) != EM_OK)
            continue;
        const char *nm = ff_vec_tier_name((ff_vec_tier)t);
        t0 = em_now_ms();
        for (int r = 0; r < reps; r++)
            ff_vec_mul(o, a, b, n);
        double mul = (double)n * reps / ((em_now_ms() - t0) * 1e3);
        t0 = em_now_ms();
        for (int r = 0; r < reps; r++)
            ff_vec_add(o, a, b, n);
        double add = (double)n * reps / ((em_now_ms() - t0) * 1e3);
        t0 = em_now_ms();
        for (int r = 0; r < reps; r++)
            ff_vec_axpy(o, a[r % n], b, n);
        double axpy = (double)n * reps / ((em_now_ms() - t0) * 1e3);
        t0 = em_now_ms();
        ff_t acc = 0;
        for (int r = 0; r < reps; r++)
            acc = ff_add(acc, ff_vec_dot(a, b, n));
        sink = acc;
        double dot = (double)n * reps / ((em_now_ms() - t0) * 1e3);
        printf("ff_vec %-8s mul %8.1f  add %8.1f  axpy %8.1f  dot %8.1f  M/s  (mul %.2fx scalar)\n", nm, mul,
               add, axpy, dot, mul / base);
    }
    /* batch inversion vs n independent Fermat inversions */
    size_t nb = 1 << 16;
    ff_t *in = malloc(nb * 8), *out = malloc(nb * 8), *sc = malloc(nb * 8);
    for (size_t i = 0; i < nb; i++)
        in[i] = ff_from_u64(i * 0x9E3779B97F4A7C15ULL + 3);
    t0 = em_now_ms();
    for (int r = 0; r < 20; r++)
        ff_batch_inv(out, in, nb, sc);
    double bi = (em_now_ms() - t0) / 20;
    t0 = em_now_ms();
    for (size_t i = 0; i < 4096; i++)
        out[i] = ff_inv(in[i]);
    double single = (em_now_ms() - t0) / 4096 * 1e6;
    printf("ff_batch_inv 2^16: %.3f ms (%.1f ns/element); single ff_inv: %.0f ns\n", bi, bi * 1e6 / nb, single);
    free(a), free(b), free(o), free(in), free(out), free(sc);
    return 0;
}
