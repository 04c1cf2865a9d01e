/* Multilinear toolkit: eq tables, evaluation, folding, tensor (row/column) contractions. */
#include "enclaveml/zkml/ml.h"

#include <string.h>

#include "enclaveml/zkml/ff_vec.h"

void ml_eq_table(const ff2_t *r, unsigned n, ff2_t scale, ff2_t *out)
{
    out[0] = scale;
    /* After step j the first 2^(j+1) entries hold eq over bits 0..j; the new bit is the top
     * one, so each entry splits into (x_j = 0) at i and (x_j = 1) at i + 2^j. */
    for (unsigned j = 0; j < n; j++)
        ff2_vec_eq_step(out, (size_t)1 << j, r[j]);
}

ff2_t ml_eq_eval(const ff2_t *r, const ff2_t *s, unsigned n)
{
    ff2_t acc = ff2_one();
    for (unsigned j = 0; j < n; j++) {
        /* r s + (1-r)(1-s) = 1 - r - s + 2 r s */
        ff2_t rs = ff2_mul(r[j], s[j]);
        ff2_t v = ff2_add(ff2_sub(ff2_sub(ff2_one(), r[j]), s[j]), ff2_add(rs, rs));
        acc = ff2_mul(acc, v);
    }
    return acc;
}

__attribute__((flatten)) size_t ml_fold_base(const ff_t *t, size_t len, ff2_t r, ff2_t *out)
{
    size_t half = len / 2;
    for (size_t i = 0; i < half; i++) {
        ff_t lo = t[2 * i], d = ff_sub(t[2 * i + 1], lo);
        out[i] = ff2_add(ff2_from_base(lo), ff2_mul_base(r, d));
    }
    if (len & 1) {
        ff_t lo = t[len - 1];
        out[half] = ff2_sub(ff2_from_base(lo), ff2_mul_base(r, lo));
        half++;
    }
    return half;
}

__attribute__((flatten)) size_t ml_fold_ext(ff2_t *t, size_t len, ff2_t r)
{
    size_t half = len / 2;
    for (size_t i = 0; i < half; i++) {
        ff2_t lo = t[2 * i];
        t[i] = ff2_add(lo, ff2_mul(r, ff2_sub(t[2 * i + 1], lo)));
    }
    if (len & 1) {
        ff2_t lo = t[len - 1];
        t[half] = ff2_sub(lo, ff2_mul(r, lo));
        half++;
    }
    return half;
}

ff2_t ml_eval_ext_inplace(ff2_t *t, size_t len, unsigned n, const ff2_t *r)
{
    if (len == 0)
        return ff2_zero();
    for (unsigned j = 0; j < n; j++)
        len = ml_fold_ext(t, len, r[j]);
    return t[0];
}

/* A table whose only non-zero entry is index 0: v * prod_j (1 - r_j). */
static ff2_t eval_single(ff2_t v, unsigned n, const ff2_t *r)
{
    for (unsigned j = 0; j < n; j++)
        v = ff2_mul(v, ff2_sub(ff2_one(), r[j]));
    return v;
}

ff2_t ml_eval_base(const ff_t *t, size_t len, unsigned n, const ff2_t *r, ff2_t *scratch)
{
    if (len == 0)
        return ff2_zero();
    if (len == 1)
        return eval_single(ff2_from_base(t[0]), n, r);
    size_t l = ml_fold_base(t, len, r[0], scratch);
    return ml_eval_ext_inplace(scratch, l, n - 1, r + 1);
}

ff2_t ml_eval_ext(const ff2_t *t, size_t len, unsigned n, const ff2_t *r, ff2_t *scratch)
{
    if (len == 0)
        return ff2_zero();
    if (len == 1)
        return eval_single(t[0], n, r);
    /* First fold reads t and writes scratch, so t is left untouched. */
    size_t half = len / 2;
    for (size_t i = 0; i < half; i++)
        scratch[i] = ff2_add(t[2 * i], ff2_mul(r[0], ff2_sub(t[2 * i + 1], t[2 * i])));
    if (len & 1) {
        scratch[half] = ff2_sub(t[len - 1], ff2_mul(r[0], t[len - 1]));
        half++;
    }
    return ml_eval_ext_inplace(scratch, half, n - 1, r + 1);
}

ff2_t ml_dot_base(const ff_t *t, const ff2_t *eq, size_t len)
{
    /* the ff_vec kernels (SIMD tiers with a scalar fallback): exact, so the same value */
    return ff2_vec_dot_base(eq, t, len);
}

ff2_t ml_dot_ext(const ff2_t *t, const ff2_t *eq, size_t len) { return ff2_vec_dot(t, eq, len); }

void ml_fix_high_base(const ff_t *t, unsigned n_low, size_t n_rows, const ff2_t *eq_high, ff2_t *out)
{
    size_t c = (size_t)1 << n_low;
    /* Column blocks with the two coordinates accumulated apart (structure of arrays on the
     * stack), so each row segment is one SIMD axpy per coordinate; no allocation. */
    enum { BLK = 256 };
    ff_t acc_a[BLK], acc_b[BLK];
    for (size_t c0 = 0; c0 < c; c0 += BLK) {
        size_t w = c - c0 < BLK ? c - c0 : BLK;
        memset(acc_a, 0, w * sizeof *acc_a);
        memset(acc_b, 0, w * sizeof *acc_b);
        for (size_t h = 0; h < n_rows; h++) {
            const ff_t *row = t + h * c + c0;
            ff_vec_axpy(acc_a, eq_high[h].a, row, w);
            ff_vec_axpy(acc_b, eq_high[h].b, row, w);
        }
        for (size_t l = 0; l < w; l++)
            out[c0 + l] = (ff2_t){acc_a[l], acc_b[l]};
    }
}

__attribute__((flatten)) void ml_fix_high_ext(const ff2_t *t, unsigned n_low, size_t n_rows, const ff2_t *eq_high, ff2_t *out)
{
    size_t c = (size_t)1 << n_low;
    memset(out, 0, c * sizeof *out);
    for (size_t h = 0; h < n_rows; h++) {
        const ff2_t *row = t + h * c;
        ff2_t e = eq_high[h];
        for (size_t l = 0; l < c; l++)
            out[l] = ff2_add(out[l], ff2_mul(e, row[l]));
    }
}

void ml_fix_low_base(const ff_t *t, unsigned n_low, size_t n_rows, const ff2_t *eq_low, ff2_t *out)
{
    size_t c = (size_t)1 << n_low;
    for (size_t h = 0; h < n_rows; h++)
        out[h] = ml_dot_base(t + h * c, eq_low, c);
}

ff2_t ml_prefix_indicator_eval(size_t len, unsigned n, const ff2_t *r)
{
    /* Walk the bits of len from the top: sum over i < len of eq(r, i) decomposes into the
     * prefixes where i agrees with len on the higher bits and has 0 where len has 1. */
    if (n < 64 && len >= ((size_t)1 << n)) {
        return ff2_one();
    }
    ff2_t acc = ff2_zero(), pre = ff2_one();
    for (unsigned jj = n; jj-- > 0;) {
        int bit = jj < 64 ? (int)((len >> jj) & 1) : 0;
        ff2_t one_minus = ff2_sub(ff2_one(), r[jj]);
        if (bit) {
            /* i has 0 here (and anything below): contributes pre * (1 - r_j) */
            acc = ff2_add(acc, ff2_mul(pre, one_minus));
            pre = ff2_mul(pre, r[jj]);
        } else {
            pre = ff2_mul(pre, one_minus);
        }
    }
    return acc;
}

ff2_t ml_identity_eval(unsigned n, const ff2_t *r)
{
    ff2_t acc = ff2_zero();
    ff_t pw = 1;
    for (unsigned j = 0; j < n; j++) {
        acc = ff2_add(acc, ff2_mul_base(r[j], pw));
        pw = ff_add(pw, pw);
    }
    return acc;
}
