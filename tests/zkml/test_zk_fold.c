/* The integer row fold (zk__fold_rows_i32: out[k] = sum_j eq[j] * m[j][k] in F_p2), which every
 * matmul sumcheck and witness-block evaluation starts from, must be exact on every SIMD tier:
 * the AVX-512 paths (offset values; 22-bit limbs, or 52-bit IFMA limbs where the CPU has them;
 * 1024-row flushes) are compared with a reference
 * computed here element by element with ff2 arithmetic, on extreme values (INT32_MIN/MAX, eq
 * coordinates p - 1), zero rows, base-field eq tables, strides, column tails and more than 1024
 * rows, on one thread and split over threads by columns and by rows. */
#include "enclaveml/zkml/ff_vec.h"
#include "harness.h"
#include "zk_internal.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int32_t pick_val(unsigned mode)
{
    switch (mode % 4) {
    case 0:
        return (int32_t)(rnd() % 256) - 128;
    case 1:
        return rnd() % 2 ? INT32_MIN : INT32_MAX;
    case 2:
        return (int32_t)(uint32_t)rnd();
    default:
        return 0;
    }
}

static ff_t pick_eq(unsigned mode)
{
    switch (mode % 3) {
    case 0:
        return FF_P - 1 - rnd() % 4;
    case 1:
        return rnd() % FF_P;
    default:
        return rnd() % 3;
    }
}

static void check_fold(size_t rows, size_t cols, size_t ld, int base_eq, unsigned mode)
{
    int32_t *m = malloc(rows * ld * sizeof *m);
    ff2_t *eq = malloc(rows * sizeof *eq), *out = malloc((cols + 3) * sizeof *out);
    CHECK(m && eq && out);
    if (!m || !eq || !out)
        goto out;
    for (size_t i = 0; i < rows * ld; i++)
        m[i] = pick_val(mode + (unsigned)(rnd() % 4 == 0));
    for (size_t j = 0; j < rows; j++) {
        eq[j] = (ff2_t){pick_eq(mode + (unsigned)j), base_eq ? 0 : pick_eq(mode + 1 + (unsigned)j)};
        if (j % 7 == 3)
            eq[j] = ff2_zero(); /* skipped rows */
    }
    /* one thread, then 3 (wide shapes split by columns, tall narrow ones by rows) */
    for (unsigned threads = 1; threads <= 3; threads += 2) {
        for (size_t k = 0; k < cols + 3; k++)
            out[k] = (ff2_t){1, 2}; /* stale values must be overwritten */
        if (threads == 1)
            zk__fold_rows_i32(m, rows, cols, ld, eq, out, cols + 3);
        else
            zk__fold_rows_i32_mt(m, rows, cols, ld, eq, out, cols + 3, threads);
        int bad = 0;
        for (size_t k = 0; k < cols && !bad; k++) {
            ff2_t s = ff2_zero();
            for (size_t j = 0; j < rows; j++)
                s = ff2_add(s, ff2_mul_base(eq[j], ff_from_i64(m[j * ld + k])));
            bad = !ff2_eq(s, out[k]);
        }
        for (size_t k = cols; k < cols + 3; k++)
            bad |= !ff2_is_zero(out[k]);
        if (bad)
            fprintf(stderr, "    mismatch: %zu x %zu (ld %zu), base eq %d, mode %u, tier %s, %u thread(s)\n", rows,
                    cols, ld, base_eq, mode, ff_vec_tier_name(ff_vec_tier_get()), threads);
        CHECK(!bad);
    }
out:
    free(m);
    free(eq);
    free(out);
}

static void test_fold_tiers(void)
{
    static const size_t shapes[][3] = {{1, 1, 1}, {3, 8, 8}, {5, 13, 16}, {64, 256, 256}, {17, 300, 301},
                                       {1030, 40, 40}, {2100, 9, 12}, {2, 520, 520},
                                       {40, 1000, 1003}, {70000, 1, 1}};
    ff_vec_tier saved = ff_vec_tier_get();
    for (int t = FF_VEC_SCALAR; t <= FF_VEC_AVX512; t++) {
        if (!ff_vec_tier_supported((ff_vec_tier)t) || ff_vec_tier_set((ff_vec_tier)t) != EM_OK)
            continue;
        /* AVX-512: with the IFMA kernels where the CPU has them, then without (elsewhere the
         * two passes are the same path) */
        for (int ifma = 1; ifma >= (t == FF_VEC_AVX512 ? 0 : 1); ifma--) {
            zk__fold_ifma_set(ifma);
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                for (unsigned mode = 0; mode < 4; mode++)
                    for (int base = 0; base < 2; base++)
                        check_fold(shapes[s][0], shapes[s][1], shapes[s][2], base, mode);
        }
    }
    zk__fold_ifma_set(1);
    CHECK(ff_vec_tier_set(saved) == EM_OK);
}

/* The small-value kernel (values in [-256, 256), two IFMA limbs per coordinate): the range's
 * ends, and one value outside it (256, -257, ..., INT32_MIN) in the first, a middle or the last strip and
 * row group, which must send that strip and the rest of the fold to the general kernel with the
 * same result. Shapes: one strip, several strips, more than 1024 rows. */
static int fold_matches(const int32_t *m, size_t rows, size_t cols, const ff2_t *eq, unsigned threads)
{
    ff2_t *out = malloc(cols * sizeof *out);
    if (!out)
        return 0;
    if (threads == 1)
        zk__fold_rows_i32(m, rows, cols, cols, eq, out, cols);
    else
        zk__fold_rows_i32_mt(m, rows, cols, cols, eq, out, cols, threads);
    int ok = 1;
    for (size_t k = 0; k < cols && ok; k++) {
        ff2_t s = ff2_zero();
        for (size_t j = 0; j < rows; j++)
            s = ff2_add(s, ff2_mul_base(eq[j], ff_from_i64(m[j * cols + k])));
        ok = ff2_eq(s, out[k]);
    }
    free(out);
    return ok;
}

static void test_fold_small(void)
{
    static const size_t shapes[][2] = {{8, 64}, {64, 1024}, {1100, 520}, {3, 1600}};
    ff_vec_tier saved = ff_vec_tier_get();
    if (!ff_vec_tier_supported(FF_VEC_AVX512) || ff_vec_tier_set(FF_VEC_AVX512) != EM_OK)
        return;
    for (size_t sh = 0; sh < sizeof shapes / sizeof *shapes; sh++) {
        size_t rows = shapes[sh][0], cols = shapes[sh][1];
        int32_t *m = malloc(rows * cols * sizeof *m);
        ff2_t *eq = malloc(rows * sizeof *eq);
        CHECK(m && eq);
        if (!m || !eq) {
            free(m);
            free(eq);
            continue;
        }
        for (size_t j = 0; j < rows; j++)
            eq[j] = (ff2_t){pick_eq((unsigned)j), j % 2 ? pick_eq((unsigned)j + 1) : 0};
        /* every out-of-range value at the first, a middle and the last entry, and inside the
         * second group of ZK_VROWS rows where there is one */
        static const int32_t bad[] = {256, -257, 511, 70000, INT32_MAX, INT32_MIN};
        const size_t nbad = sizeof bad / sizeof *bad, npos = 4;
        for (int poison = -1; poison < (int)(nbad * npos); poison++) {
            for (size_t i = 0; i < rows * cols; i++) {
                uint64_t r = rnd();
                m[i] = r % 5 == 0 ? (r & 8 ? 255 : -256) : (int32_t)(r % 512) - 256;
            }
            if (poison >= 0) {
                size_t pos = (size_t)poison % npos, at = pos == 0   ? 0
                                                         : pos == 1 ? rows * cols / 2 + 3
                                                         : pos == 2 ? rows * cols - 1
                                                                    : (rows > 1024 ? 1030 * cols + 5 : 1);
                m[at] = bad[(size_t)poison / npos];
            }
            for (unsigned threads = 1; threads <= 3; threads += 2)
                for (int ifma = 1; ifma >= 0; ifma--) {
                    zk__fold_ifma_set(ifma);
                    if (!fold_matches(m, rows, cols, eq, threads)) {
                        fprintf(stderr, "    mismatch: %zu x %zu, poison %d, %u thread(s), ifma %d\n", rows, cols,
                                poison, threads, ifma);
                        CHECK(0);
                    }
                }
        }
        zk__fold_ifma_set(1);
        free(m);
        free(eq);
    }
    CHECK(ff_vec_tier_set(saved) == EM_OK);
}

int main(void)
{
    th_init("test_zk_fold");
    TH_RUN(test_fold_tiers);
    TH_RUN(test_fold_small);
    return th_finish();
}
