/* Shared helpers for the zkml protocol tests (random field elements, naive references). */
#ifndef EM_ZK_TEST_UTIL_H
#define EM_ZK_TEST_UTIL_H

#include "enclaveml/zkml/ff.h"
#include "harness.h"

static inline ff_t rnd_ff(void) { return ff_from_u64(th_rand()); }
static inline ff2_t rnd_ff2(void) { return (ff2_t){rnd_ff(), rnd_ff()}; }

/* eq(r, i) straight from the definition, bit by bit (independent of ml_eq_table). */
static inline ff2_t naive_eq(const ff2_t *r, unsigned n, size_t i)
{
    ff2_t acc = ff2_one();
    for (unsigned j = 0; j < n; j++)
        acc = ff2_mul(acc, ((i >> j) & 1) ? r[j] : ff2_sub(ff2_one(), r[j]));
    return acc;
}

static inline ff2_t naive_eval_base(const ff_t *t, size_t len, unsigned n, const ff2_t *r)
{
    ff2_t acc = ff2_zero();
    for (size_t i = 0; i < len; i++)
        acc = ff2_add(acc, ff2_mul_base(naive_eq(r, n, i), t[i]));
    return acc;
}

#endif
