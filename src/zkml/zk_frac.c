/* Fraction trees of the requantization lookups (logUp-GKR; docs/PROOFS.md "Requantization
 * lookups"): a tree over 2^G leaves (p_i, q_i) whose node x of level d is the fraction sum of
 * its children x and x + 2^d on level d + 1, proven level by level with degree-3 sumchecks, so
 * the verifier is left with one claim on the leaves and no inverse is ever committed.
 *
 * Level d proves  sum_{x in {0,1}^d} eq(r, x) [P0 Q1 + P1 Q0 + lam Q0 Q1](x) = claim,  with
 * P0/P1 (Q0/Q1) the first and second halves of level d + 1's numerators (denominators).
 * Variables are bound from the highest to the lowest, so every pair of a round is (j, j + h)
 * in whole-array halves: the kernels below stream contiguous arrays and, with the F_p2 values
 * kept in split coordinates (zk_fv), run 8 lanes per AVX-512 register with no shuffles. The
 * scalar kernels are the reference and serve every other tier; field arithmetic is exact, so
 * both give the same proof bytes (tests/zkml/test_zk_threads.c). */
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/ff_vec.h"
#include "enclaveml/zkml/ml.h"
#include "ff_simd.h"
#include "zk_internal.h"

static inline ff2_t fv_at(zk_fv v, size_t i) { return (ff2_t){v.a[i], v.b[i]}; }
static inline void fv_put(zk_fv v, size_t i, ff2_t x)
{
    v.a[i] = x.a;
    v.b[i] = x.b;
}
static inline zk_fv fv_off(zk_fv v, size_t o) { return (zk_fv){v.a + o, v.b + o}; }

void zk__fv_split(zk_fv out, const ff2_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fv_put(out, i, in[i]);
}

/* g of degree 3 from g(0..3), at c */
static ff2_t interp3(const ff2_t g[4], ff2_t c)
{
    ff2_t one = ff2_one();
    ff2_t c1 = ff2_sub(c, one), c2 = ff2_sub(c, ff2_from_base(2)), c3 = ff2_sub(c, ff2_from_base(3));
    ff_t inv2 = FF_INV2, inv6 = FF_INV6;
    ff2_t l0 = ff2_neg(ff2_mul_base(zk__mul2(zk__mul2(c1, c2), c3), inv6));
    ff2_t l1 = ff2_mul_base(zk__mul2(zk__mul2(c, c2), c3), inv2);
    ff2_t l2 = ff2_neg(ff2_mul_base(zk__mul2(zk__mul2(c, c1), c3), inv2));
    ff2_t l3 = ff2_mul_base(zk__mul2(zk__mul2(c, c1), c2), inv6);
    return ff2_add(ff2_add(zk__mul2(g[0], l0), zk__mul2(g[1], l1)), ff2_add(zk__mul2(g[2], l2), zk__mul2(g[3], l3)));
}

/* eq1(r, X) = (1 - r)(1 - X) + r X = 1 - r - X + 2 r X */
static ff2_t eq1(ff2_t r, ff2_t X)
{
    ff2_t rx = zk__mul2(r, X);
    return ff2_add(ff2_sub(ff2_sub(ff2_one(), r), X), ff2_add(rx, rx));
}

/* ---- kernels ----------------------------------------------------------------------------
 * The summand at one point, with lam folded in: P0 Q1 + Q0 (P1 + lam Q1), or with all
 * numerators 1 (p_one, the bottom level of a witness tree) Q1 + Q0 (1 + lam Q1). Besides h(0)
 * the kernels sum h's leading coefficient h(inf) rather than h(2): it needs only the tables'
 * differences d = o1 - o0 (no 2 o1 - o0), and with p_one it is lam dQ0 dQ1, whose lam the caller
 * applies once to the sum (one product per pair instead of two). */
typedef struct lvl_ctx {
    zk_fv in[4];  /* P0, P1, Q0, Q1 of this round (P unused when p_one) */
    zk_fv out[4]; /* step: the folded tables */
    /* eq weights of the round being summed, split (Gruen; Dao-Thaler): pair j has weight
     * elo[j & (2^lg - 1)] * ehi[j >> lg], so the chunks sum each block of 2^lg pairs against
     * elo (one table of 2^lg entries, in cache) and weight the block's sums by ehi once. */
    zk_fv elo;
    const ff2_t *ehi;
    unsigned lg;
    size_t h; /* round 0: pairs (j, j + h); step: the tables have 2h entries */
    ff2_t lam, c;
    int p_one, with_one, simd;
    /* step, levels with numerators (not p_one): the summand is P0 Q1 + Q0 P1' with
     * P1' = P1 + lam Q1, a linear combination of two tables, so the folded tables keep P1' in
     * place of P1 and the rounds after the first skip both lam products (two of sixteen per
     * pair). 0: in[1] holds P1 (round 0, whose kernel keeps lam); 1: the first step, which
     * forms P1'; 2: in[1] holds P1'. */
    int prime;
    ff2_t part[ZK_MAX_THREADS][3]; /* per chunk: h(0), h(1), h(inf) (without lam when p_one); round 0
                                    * sums only h(inf) */
} lvl_ctx;

/* the summand of a step (v[1] is P1' unless p_one) */
static inline ff2_t summand(const lvl_ctx *x, const ff2_t v[4])
{
    if (x->p_one)
        return ff2_add(zk__mul2(v[2], ff2_add(ff2_one(), zk__mul2(x->lam, v[3]))), v[3]);
    return ff2_add(zk__mul2(v[0], v[3]), zk__mul2(v[2], v[1]));
}

/* The leading coefficient of the summand along X, from the differences d (lam left out when
 * p_one); primed: d[1] is the difference of P1' */
static inline ff2_t lead(const lvl_ctx *x, const ff2_t d[4], int primed)
{
    if (x->p_one)
        return zk__mul2(d[2], d[3]);
    ff2_t d1 = primed ? d[1] : ff2_add(d[1], zk__mul2(x->lam, d[3]));
    return ff2_add(zk__mul2(d[0], d[3]), zk__mul2(d[2], d1));
}

/* The kernels sum pairs [b, e) of one block (same j >> lg) against elo. */
static inline ff2_t w_lo(const lvl_ctx *x, size_t j) { return fv_at(x->elo, j & (((size_t)1 << x->lg) - 1)); }

/* Round 0 sums only h(inf): h(0) and h(1) are this level's entries at (r_low, 0) and (r_low, 1),
 * which the level above already evaluated (level_prove). */
static void r0_scalar(const lvl_ctx *x, size_t b, size_t e, ff2_t s[3])
{
    unsigned k0 = x->p_one ? 2 : 0;
    for (size_t j = b; j < e; j++) {
        ff2_t df[4];
        for (unsigned k = k0; k < 4; k++)
            df[k] = ff2_sub(fv_at(x->in[k], j + x->h), fv_at(x->in[k], j));
        s[2] = ff2_add(s[2], zk__mul2(w_lo(x, j), lead(x, df, 0)));
    }
}

/* New pairs [b, e) of the next round (q = h/2 of them): binds c over the pairs (i, i + h) that
 * produce entries j and j + q and sums the next round's summands. */
static void step_scalar(const lvl_ctx *x, size_t b, size_t e, ff2_t s[3])
{
    unsigned k0 = x->p_one ? 2 : 0;
    size_t h = x->h, q = h / 2;
    for (size_t j = b; j < e; j++) {
        ff2_t o0[4], o1[4], df[4];
        for (unsigned k = k0; k < 4; k++) {
            ff2_t a0 = fv_at(x->in[k], j), a1 = fv_at(x->in[k], j + h);
            ff2_t b0 = fv_at(x->in[k], j + q), b1 = fv_at(x->in[k], j + q + h);
            o0[k] = ff2_add(a0, zk__mul2(x->c, ff2_sub(a1, a0)));
            o1[k] = ff2_add(b0, zk__mul2(x->c, ff2_sub(b1, b0)));
        }
        if (x->prime == 1) {
            o0[1] = ff2_add(o0[1], zk__mul2(x->lam, o0[3]));
            o1[1] = ff2_add(o1[1], zk__mul2(x->lam, o1[3]));
        }
        for (unsigned k = k0; k < 4; k++) {
            fv_put(x->out[k], j, o0[k]);
            fv_put(x->out[k], j + q, o1[k]);
            df[k] = ff2_sub(o1[k], o0[k]);
        }
        ff2_t w = w_lo(x, j);
        s[0] = ff2_add(s[0], zk__mul2(w, summand(x, o0)));
        if (x->with_one)
            s[1] = ff2_add(s[1], zk__mul2(w, summand(x, o1)));
        s[2] = ff2_add(s[2], zk__mul2(w, lead(x, df, 1)));
    }
}

#define AVX512 __attribute__((target("avx512f,avx512dq")))
#define INL __attribute__((always_inline)) static inline

typedef struct v2 {
    __m512i a, b;
} v2; /* 8 F_p2 values */

AVX512 INL v2 v2_ld(zk_fv v, size_t i)
{
    return (v2){_mm512_loadu_si512((const void *)(v.a + i)), _mm512_loadu_si512((const void *)(v.b + i))};
}
AVX512 INL void v2_st(zk_fv v, size_t i, v2 x)
{
    _mm512_storeu_si512((void *)(v.a + i), x.a);
    _mm512_storeu_si512((void *)(v.b + i), x.b);
}
AVX512 INL v2 v2_set1(ff2_t x) { return (v2){_mm512_set1_epi64((long long)x.a), _mm512_set1_epi64((long long)x.b)}; }
AVX512 INL v2 v2_add(v2 x, v2 y) { return (v2){ff8_add(x.a, y.a), ff8_add(x.b, y.b)}; }
AVX512 INL v2 v2_sub(v2 x, v2 y) { return (v2){ff8_sub(x.a, y.a), ff8_sub(x.b, y.b)}; }
AVX512 INL v2 v2_mul(v2 x, v2 y)
{
    v2 r;
    ff8_mul2(x.a, x.b, y.a, y.b, &r.a, &r.b);
    return r;
}

/* as summand() and lead() */
AVX512 INL v2 v2_summand(int p_one, v2 lam, v2 one, const v2 v[4])
{
    if (p_one)
        return v2_add(v2_mul(v[2], v2_add(one, v2_mul(lam, v[3]))), v[3]);
    return v2_add(v2_mul(v[0], v[3]), v2_mul(v[2], v[1]));
}

AVX512 INL v2 v2_lead(int p_one, int primed, v2 lam, const v2 d[4])
{
    if (p_one)
        return v2_mul(d[2], d[3]);
    v2 d1 = primed ? d[1] : v2_add(d[1], v2_mul(lam, d[3]));
    return v2_add(v2_mul(d[0], d[3]), v2_mul(d[2], d1));
}

AVX512 static ff2_t v2_hsum(v2 x)
{
    ff_t a[8], b[8];
    _mm512_storeu_si512((void *)a, x.a);
    _mm512_storeu_si512((void *)b, x.b);
    ff2_t s = ff2_zero();
    for (int i = 0; i < 8; i++)
        s = ff2_add(s, (ff2_t){a[i], b[i]});
    return s;
}

AVX512 static void add_sums(ff2_t s[3], v2 acc0, v2 acc1, v2 acc2)
{
    s[0] = ff2_add(s[0], v2_hsum(acc0));
    s[1] = ff2_add(s[1], v2_hsum(acc1));
    s[2] = ff2_add(s[2], v2_hsum(acc2));
}

/* r0_scalar over [b, b + 8k); returns the end of the vectorised part. The block's elo entries
 * are contiguous (blocks of 2^lg >= 8 pairs start at multiples of 2^lg). */
AVX512 static size_t r0_avx512(const lvl_ctx *x, size_t b, size_t e, ff2_t s[3])
{
    v2 lam = v2_set1(x->lam), zero = v2_set1(ff2_zero());
    v2 acc = zero;
    unsigned k0 = x->p_one ? 2 : 0;
    size_t mask = ((size_t)1 << x->lg) - 1, j = b;
    for (; j + 8 <= e; j += 8) {
        v2 df[4];
        for (unsigned k = k0; k < 4; k++)
            df[k] = v2_sub(v2_ld(x->in[k], j + x->h), v2_ld(x->in[k], j));
        acc = v2_add(acc, v2_mul(v2_ld(x->elo, j & mask), v2_lead(x->p_one, 0, lam, df)));
    }
    s[2] = ff2_add(s[2], v2_hsum(acc));
    return j;
}

/* step_scalar's loop; mode 0: p_one, 1: the first step of a level with numerators (forms
 * P1'), 2: a later one. A constant in each instance (step_avx512). */
AVX512 INL size_t step_body(const lvl_ctx *x, size_t b, size_t e, ff2_t s[3], const int mode)
{
    v2 lam = v2_set1(x->lam), one = v2_set1(ff2_one()), zero = v2_set1(ff2_zero()), c = v2_set1(x->c);
    v2 acc0 = zero, acc1 = zero, acc2 = zero;
    const unsigned k0 = mode == 0 ? 2 : 0;
    size_t h = x->h, q = h / 2, mask = ((size_t)1 << x->lg) - 1, j = b;
    for (; j + 8 <= e; j += 8) {
        v2 o0[4], o1[4], df[4];
        for (unsigned k = k0; k < 4; k++) {
            v2 a0 = v2_ld(x->in[k], j), a1 = v2_ld(x->in[k], j + h);
            v2 b0 = v2_ld(x->in[k], j + q), b1 = v2_ld(x->in[k], j + q + h);
            o0[k] = v2_add(a0, v2_mul(c, v2_sub(a1, a0)));
            o1[k] = v2_add(b0, v2_mul(c, v2_sub(b1, b0)));
        }
        if (mode == 1) {
            o0[1] = v2_add(o0[1], v2_mul(lam, o0[3]));
            o1[1] = v2_add(o1[1], v2_mul(lam, o1[3]));
        }
        for (unsigned k = k0; k < 4; k++) {
            v2_st(x->out[k], j, o0[k]);
            v2_st(x->out[k], j + q, o1[k]);
            df[k] = v2_sub(o1[k], o0[k]);
        }
        v2 w = v2_ld(x->elo, j & mask);
        acc0 = v2_add(acc0, v2_mul(w, v2_summand(mode == 0, lam, one, o0)));
        if (x->with_one)
            acc1 = v2_add(acc1, v2_mul(w, v2_summand(mode == 0, lam, one, o1)));
        acc2 = v2_add(acc2, v2_mul(w, v2_lead(mode == 0, 1, lam, df)));
    }
    add_sums(s, acc0, acc1, acc2);
    return j;
}

AVX512 static size_t step_avx512(const lvl_ctx *x, size_t b, size_t e, ff2_t s[3])
{
    if (x->p_one)
        return step_body(x, b, e, s, 0);
    return x->prime == 1 ? step_body(x, b, e, s, 1) : step_body(x, b, e, s, 2);
}

/* Runs kern over [b, e) block by block (blocks of 2^lg pairs share ehi[j >> lg]). */
typedef size_t (*lvl_simd_fn)(const lvl_ctx *x, size_t b, size_t e, ff2_t s[3]);
typedef void (*lvl_scalar_fn)(const lvl_ctx *x, size_t b, size_t e, ff2_t s[3]);
static void lvl_blocks(lvl_ctx *x, size_t b, size_t e, unsigned tid, lvl_simd_fn vk, lvl_scalar_fn sk)
{
    ff2_t s[3] = {ff2_zero(), ff2_zero(), ff2_zero()};
    for (size_t j = b; j < e;) {
        size_t je = ((j >> x->lg) + 1) << x->lg;
        if (je > e)
            je = e;
        ff2_t t[3] = {ff2_zero(), ff2_zero(), ff2_zero()};
        sk(x, x->simd ? vk(x, j, je, t) : j, je, t);
        ff2_t wh = x->ehi[j >> x->lg];
        for (unsigned i = 0; i < 3; i++)
            s[i] = ff2_add(s[i], zk__mul2(wh, t[i]));
        j = je;
    }
    memcpy(x->part[tid], s, sizeof s);
}

static void r0_chunk(void *vctx, size_t b, size_t e, unsigned tid)
{
    lvl_blocks(vctx, b, e, tid, r0_avx512, r0_scalar);
}

static void step_chunk(void *vctx, size_t b, size_t e, unsigned tid)
{
    lvl_blocks(vctx, b, e, tid, step_avx512, step_scalar);
}

/* Parent (P, Q)[i] = (p0 q1 + p1 q0, q0 q1) of children i and i + h. */
typedef struct build_ctx {
    zk_fv p1, q1; /* level d+1 */
    zk_fv p0, q0; /* level d */
    size_t h;
    int p_one, simd; /* p_one: level d+1 has all numerators 1, P = q0 + q1 */
} build_ctx;

AVX512 static size_t build_avx512(const build_ctx *x, size_t b, size_t e)
{
    size_t i = b;
    for (; i + 8 <= e; i += 8) {
        v2 qa = v2_ld(x->q1, i), qb = v2_ld(x->q1, i + x->h);
        v2_st(x->q0, i, v2_mul(qa, qb));
        v2 p = x->p_one ? v2_add(qa, qb)
                        : v2_add(v2_mul(v2_ld(x->p1, i), qb), v2_mul(v2_ld(x->p1, i + x->h), qa));
        v2_st(x->p0, i, p);
    }
    return i;
}

static void build_chunk(void *vctx, size_t b, size_t e, unsigned tid)
{
    (void)tid;
    const build_ctx *x = vctx;
    for (size_t i = x->simd ? build_avx512(x, b, e) : b; i < e; i++) {
        ff2_t qa = fv_at(x->q1, i), qb = fv_at(x->q1, i + x->h);
        fv_put(x->q0, i, zk__mul2(qa, qb));
        fv_put(x->p0, i,
               x->p_one ? ff2_add(qa, qb)
                        : ff2_add(zk__mul2(fv_at(x->p1, i), qb), zk__mul2(fv_at(x->p1, i + x->h), qa)));
    }
}

/* ---- levels ------------------------------------------------------------------------------ */
/* pairs per chunk below which a round runs inline: 1024 since the pool spins (session 7: the
 * 784-512-512-10 batch-1024 lookups ~4 ms faster than at 4096, small proofs no slower) */
#define FRAC_PAR_MIN 1024

/* H = h(0), h(1) (only summed when with_one), h(inf) */
static void lvl_sums(const lvl_ctx *x, unsigned nc, ff2_t H[3])
{
    H[0] = H[1] = H[2] = ff2_zero();
    for (unsigned k = 0; k < nc; k++)
        for (unsigned i = 0; i < 3; i++)
            H[i] = ff2_add(H[i], x->part[k][i]);
    if (x->p_one)
        H[2] = zk__mul2(x->lam, H[2]);
}

/* The eq weights of a round summing over m variables (pairs j < 2^m, weight eq(r_0..r_{m-1}, j))
 * as elo (split coordinates, over r_0..r_{lg-1}) and ehi (over r_lg..r_{m-1}). */
#define FRAC_LO_BITS 10u
typedef struct eq_split {
    unsigned m, lg;
    ff_t lo_a[1u << FRAC_LO_BITS], lo_b[1u << FRAC_LO_BITS];
    ff2_t lo_tmp[1u << FRAC_LO_BITS];
    ff2_t hi[]; /* 2^(m - lg) at the start */
} eq_split;

static void eq_split_lo(eq_split *q, const ff2_t *r, unsigned lg)
{
    q->lg = lg;
    ml_eq_table(r, lg, ff2_one(), q->lo_tmp);
    zk__fv_split((zk_fv){q->lo_a, q->lo_b}, q->lo_tmp, (size_t)1 << lg);
}

/* m variables: the low table over min(m, FRAC_LO_BITS) of them, the high one over the rest. */
static void eq_split_init(eq_split *q, const ff2_t *r, unsigned m, unsigned threads)
{
    q->m = m;
    eq_split_lo(q, r, m < FRAC_LO_BITS ? m : FRAC_LO_BITS);
    zk__eq_table(r + q->lg, m - q->lg, ff2_one(), q->hi, 0, threads);
}

/* Drops the top variable r_{m-1}: the weights of the next round (sum over it, as
 * eq1(r, 0) + eq1(r, 1) = 1). */
static void eq_split_next(eq_split *q, const ff2_t *r)
{
    q->m--;
    if (q->m >= q->lg) {
        size_t half = (size_t)1 << (q->m - q->lg);
        for (size_t i = 0; i < half; i++)
            q->hi[i] = ff2_add(q->hi[i], q->hi[i + half]);
    } else {
        eq_split_lo(q, r, q->m);
        q->hi[0] = ff2_one();
    }
}

static void eq_split_use(eq_split *q, lvl_ctx *x)
{
    x->elo = (zk_fv){q->lo_a, q->lo_b};
    x->ehi = q->hi;
    x->lg = q->lg;
}

/* One level's sumcheck. The eq factor stays outside the summand (Gruen): in round t, binding
 * variable v = d-1-t, the round polynomial is g(X) = pref * eq1(r_v, X) * h(X), with pref the
 * eq factors of the variables already bound and h of degree 2 summed against the eq weights of
 * the variables below v (split into a low and a high table, eq_split); only h(0) and h's
 * leading coefficient are summed (h(1) follows from the claim; it is summed directly when r_v
 * or pref is 0). Round 0 sums only h(inf): at X = 0 and 1 its summands are this level's own
 * entries (node x's value is its children's fraction sum), so h(0) and h(1) are level d's MLEs
 * at (r_low, 0) and (r_low, 1), r_low = r_0..r_{d-2}: the values the level above ended with
 * (fin: P~(r_low, 0), P~(r_low, 1), Q~(r_low, 0), Q~(r_low, 1)). That skips a pass over level d
 * and two products per pair; the messages are the same field elements. The messages are
 * g(0), g(2), g(3). src: level d+1's four halves (2^d entries each, read only). scratch:
 * 16 * 2^(d-1) ff_t. fin: in, the level above's final values (d >= 1); out, this level's. On
 * return r holds the new point (d+1 coordinates). */
static em_status level_prove(zk_wr *w, unsigned d, int p_one, ff2_t *r, const zk_fv src[4], ff_t *scratch,
                             ff2_t fin[4], ff2_t *cp, ff2_t *cq, em_err *err)
{
    lvl_ctx x;
    memset(&x, 0, sizeof x);
    x.lam = tr_challenge_ff2(w->tr, "gkr-lambda");
    x.p_one = p_one;
    x.simd = ff_vec_tier_get() == FF_VEC_AVX512;
    ff2_t claim = ff2_add(*cp, zk__mul2(x.lam, *cq));
    ff2_t s[ZK_MAX_VARS + 2], pref = ff2_one();
    eq_split *eq = NULL;
    em_status st = EM_OK;
    if (d == 0) {
        for (unsigned k = 0; k < 4; k++)
            fin[k] = p_one && k < 2 ? ff2_one() : fv_at(src[k], 0);
    } else {
        size_t h = (size_t)1 << (d - 1);
        unsigned m = d - 1, lg = m < FRAC_LO_BITS ? m : FRAC_LO_BITS;
        if (!(eq = malloc(sizeof *eq + ((size_t)1 << (m - lg)) * sizeof *eq->hi)))
            return em_errf(err, EM_ERR_NOMEM, "lookup: out of memory (eq tables of level %u)", d);
        zk_fv set[2][4];
        for (unsigned k = 0; k < 8; k++)
            set[k / 4][k % 4] = (zk_fv){scratch + 2 * k * h, scratch + (2 * k + 1) * h};
        eq_split_init(eq, r, m, w->threads);
        eq_split_use(eq, &x);
        memcpy(x.in, src, sizeof x.in);
        x.h = h;
        x.with_one = 1; /* round 0: h(1) is known (fin) */
        x.prime = 0;
        /* the round's r_v are this point's coordinates: inverted at once (one field inversion
         * per level, not per round); a zero r_v is never divided by (with_one) */
        ff2_t inv_r[ZK_MAX_VARS + 2], inv_tmp[ZK_MAX_VARS + 2];
        ff2_batch_inv(inv_r, r, d, inv_tmp);
        ff2_t H[3];
        lvl_sums(&x, zk__par_for(w->threads, h, FRAC_PAR_MIN, r0_chunk, &x), H);
        H[0] = ff2_add(fin[0], zk__mul2(x.lam, fin[2]));
        H[1] = ff2_add(fin[1], zk__mul2(x.lam, fin[3]));
        for (unsigned t = 0; t < d; t++) {
            ff2_t rv = r[d - 1 - t];
            /* pH = pref * h: claim = (1 - r_v) pH(0) + r_v pH(1), so pH(1) needs no 1/pref */
            ff2_t pH0 = zk__mul2(pref, H[0]), pHi = zk__mul2(pref, H[2]), pH1;
            if (!x.with_one)
                pH1 = zk__mul2(ff2_sub(claim, zk__mul2(ff2_sub(ff2_one(), rv), pH0)), inv_r[d - 1 - t]);
            else
                pH1 = zk__mul2(pref, H[1]);
            /* h has degree 2 with leading coefficient h(inf): h(2) = 2 h(1) - h(0) + 2 h(inf),
             * h(3) = 3 h(1) - 2 h(0) + 6 h(inf) */
            ff2_t pH2 = ff2_add(ff2_sub(ff2_mul_base(pH1, 2), pH0), ff2_mul_base(pHi, 2));
            ff2_t pH3 = ff2_add(ff2_sub(ff2_mul_base(pH1, 3), ff2_mul_base(pH0, 2)), ff2_mul_base(pHi, 6));
            ff2_t g0 = zk__mul2(eq1(rv, ff2_zero()), pH0);
            ff2_t g2 = zk__mul2(eq1(rv, ff2_from_base(2)), pH2);
            ff2_t g3 = zk__mul2(eq1(rv, ff2_from_base(3)), pH3);
            ff2_t msg[3] = {g0, g2, g3};
            if ((st = zk__put_ff2(w, "gkr-round", msg, 3, err)) != EM_OK)
                goto out;
            x.c = tr_challenge_ff2(w->tr, "gkr-chal");
            s[d - 1 - t] = x.c;
            /* g = eq1(r_v, X) pH(X) exactly, so the verifier's interpolation of g at c is
             * e pH(c) with pH(c) = pH(0) + (pH(1) - pH(0) - pH(inf)) c + pH(inf) c^2 */
            ff2_t e = eq1(rv, x.c);
            ff2_t lin = ff2_sub(ff2_sub(pH1, pH0), pHi);
            claim = zk__mul2(e, ff2_add(pH0, zk__mul2(x.c, ff2_add(lin, zk__mul2(pHi, x.c)))));
            pref = zk__mul2(pref, e);
            if (x.h == 1) { /* the last binding: one value per table */
                for (unsigned k = 0; k < 4; k++) {
                    ff2_t v0 = p_one && k < 2 ? ff2_one() : fv_at(x.in[k], 0);
                    ff2_t v1 = p_one && k < 2 ? ff2_one() : fv_at(x.in[k], 1);
                    fin[k] = ff2_add(v0, zk__mul2(x.c, ff2_sub(v1, v0)));
                }
                if (x.prime == 2) /* the table held P1' = P1 + lam Q1 */
                    fin[1] = ff2_sub(fin[1], zk__mul2(x.lam, fin[3]));
                break;
            }
            /* outputs alternate between the two sets; round 0 read src (never written) */
            memcpy(x.out, set[t % 2], sizeof x.out);
            eq_split_next(eq, r);
            eq_split_use(eq, &x);
            x.with_one = ff2_is_zero(r[d - 2 - t]) || ff2_is_zero(pref);
            x.prime = p_one ? 0 : x.prime ? 2 : 1;
            lvl_sums(&x, zk__par_for(w->threads, x.h / 2, FRAC_PAR_MIN / 2, step_chunk, &x), H);
            if (!p_one)
                x.prime = 2;
            memcpy(x.in, x.out, sizeof x.in);
            x.h /= 2;
        }
    }
    if ((st = zk__put_ff2(w, "gkr-final", fin, 4, err)) != EM_OK)
        goto out;
    ff2_t mu = tr_challenge_ff2(w->tr, "gkr-mu");
    memcpy(r, s, d * sizeof *r);
    r[d] = mu;
    *cp = ff2_add(fin[0], zk__mul2(mu, ff2_sub(fin[1], fin[0])));
    *cq = ff2_add(fin[2], zk__mul2(mu, ff2_sub(fin[3], fin[2])));
out:
    free(eq);
    return st;
}

em_status zk__frac_level_verify(zk_rd *rd, unsigned d, ff2_t *r, ff2_t *cp, ff2_t *cq, em_err *err)
{
    ff2_t lam = tr_challenge_ff2(rd->tr, "gkr-lambda");
    ff2_t claim = ff2_add(*cp, zk__mul2(lam, *cq));
    ff2_t s[ZK_MAX_VARS + 2];
    em_status st;
    for (unsigned t = 0; t < d; t++) {
        ff2_t msg[3];
        if ((st = zk__get_ff2(rd, "gkr-round", msg, 3, err)) != EM_OK)
            return st;
        ff2_t c = tr_challenge_ff2(rd->tr, "gkr-chal");
        s[d - 1 - t] = c; /* rounds bind the variables from the highest down */
        ff2_t g[4] = {msg[0], ff2_sub(claim, msg[0]), msg[1], msg[2]};
        claim = interp3(g, c);
    }
    ff2_t fin[4];
    if ((st = zk__get_ff2(rd, "gkr-final", fin, 4, err)) != EM_OK)
        return st;
    ff2_t sum = ff2_add(ff2_add(zk__mul2(fin[0], fin[3]), zk__mul2(fin[1], fin[2])),
                        zk__mul2(lam, zk__mul2(fin[2], fin[3])));
    if (!ff2_eq(claim, zk__mul2(ml_eq_eval(r, s, d), sum)))
        return em_errf(err, EM_ERR_VERIFY, "lookup: fraction-tree sumcheck fails at depth %u", d);
    ff2_t mu = tr_challenge_ff2(rd->tr, "gkr-mu");
    memcpy(r, s, d * sizeof *r);
    r[d] = mu;
    *cp = ff2_add(fin[0], zk__mul2(mu, ff2_sub(fin[1], fin[0])));
    *cq = ff2_add(fin[2], zk__mul2(mu, ff2_sub(fin[3], fin[2])));
    return EM_OK;
}

em_status zk__frac_prove(zk_wr *wr, unsigned G, int leaves_p_one, const zk_fv *P, const zk_fv *Q, ff_t *scratch,
                         ff2_t *r, ff2_t root[2], ff2_t leaf[2], em_err *err)
{
    em_status st;
    ff2_t fin[4] = {{0}}; /* a level's final values: the next level's h(0), h(1) in round 0 */
    int simd = ff_vec_tier_get() == FF_VEC_AVX512;
    for (unsigned d = G; d-- > 0;) {
        build_ctx b = {.p1 = P[d + 1], .q1 = Q[d + 1], .p0 = P[d], .q0 = Q[d], .h = (size_t)1 << d,
                       .p_one = leaves_p_one && d + 1 == G, .simd = simd};
        zk__par_for(wr->threads, b.h, FRAC_PAR_MIN, build_chunk, &b);
    }
    root[0] = leaves_p_one && G == 0 ? ff2_one() : fv_at(P[0], 0); /* p_one leaf numerators are unset */
    root[1] = fv_at(Q[0], 0);
    if ((st = zk__put_ff2(wr, "lookup-root", root, 2, err)) != EM_OK)
        return st;
    ff2_t cp = root[0], cq = root[1];
    for (unsigned d = 0; d < G; d++) {
        size_t h = (size_t)1 << d;
        const zk_fv src[4] = {P[d + 1], fv_off(P[d + 1], h), Q[d + 1], fv_off(Q[d + 1], h)};
        if ((st = level_prove(wr, d, leaves_p_one && d + 1 == G, r, src, scratch, fin, &cp, &cq, err)) != EM_OK)
            return st;
    }
    leaf[0] = cp;
    leaf[1] = cq;
    return EM_OK;
}
