/* Product zero-check (docs/PROOFS.md "Max pooling"): for K multilinear tables D_0..D_(K-1) over
 * nv variables and a random point tau,
 *     sum_x eq(tau, x) * prod_w D_w(x) = 0,
 * proven with one sumcheck whose round polynomials have degree K + 1. sumcheck.h caps a term at
 * four factors, which would force committed running products (field values that do not fit the
 * int32 witness); a direct degree-(K+1) sumcheck needs no extra commitment at all.
 *
 * Round j binds x_j. The prover sends g_j(0), g_j(2), ..., g_j(K+1) (K + 1 values; g_j(1) =
 * claim_j - g_j(0)); after the last round it sends D_w~(sigma) for every w (K values). The eq
 * factor is kept outside: g_j(X) = pref_j * eq1(tau_j, X) * h_j(X), h_j of degree K, with the
 * remaining variables weighted by eq(tau_(j+1..), .). Round 0 reads the committed base-field
 * tables and stays in the base field for the products. Transcript: absorb "pz/shape" (K, nv),
 * then per round the values ("pz/round") and the challenge "pz/r", then "pz/final". */
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/ml.h"
#include "zk_internal.h"

#define PZ_PAR_MIN 2048 /* pairs per chunk below which a round runs inline */

typedef struct pz_ctx {
    unsigned K;
    const int32_t *const *base; /* round 0: the committed integer tables */
    ff2_t *const *ext;       /* later rounds */
    ff2_t *const *dst;       /* fold target */
    const ff2_t *eqr;        /* eq(tau_(j+1..), i) */
    ff2_t r;
    ff2_t part[ZK_MAX_THREADS][ZK_MAX_POOL_SLOTS + 1]; /* h at 0, 2, ..., K+1 per chunk */
} pz_ctx;

static void round_base(void *vctx, size_t b, size_t e, unsigned slot)
{
    pz_ctx *x = vctx;
    unsigned K = x->K;
    ff2_t h[ZK_MAX_POOL_SLOTS + 1];
    for (unsigned t = 0; t <= K; t++)
        h[t] = ff2_zero();
    ff_t cur[ZK_MAX_POOL_SLOTS], dif[ZK_MAX_POOL_SLOTS];
    for (size_t i = b; i < e; i++) {
        ff_t p0 = 1;
        for (unsigned w = 0; w < K; w++) {
            ff_t lo = ff_from_i64(x->base[w][2 * i]), hi = ff_from_i64(x->base[w][2 * i + 1]);
            dif[w] = ff_sub(hi, lo);
            cur[w] = ff_add(hi, dif[w]); /* value at X = 2 */
            p0 = ff_mul(p0, lo);
        }
        h[0] = ff2_add(h[0], ff2_mul_base(x->eqr[i], p0));
        for (unsigned t = 1; t <= K; t++) {
            ff_t p = 1;
            for (unsigned w = 0; w < K; w++) {
                p = ff_mul(p, cur[w]);
                cur[w] = ff_add(cur[w], dif[w]);
            }
            h[t] = ff2_add(h[t], ff2_mul_base(x->eqr[i], p));
        }
    }
    memcpy(x->part[slot], h, (K + 1) * sizeof *h);
}

static void round_ext(void *vctx, size_t b, size_t e, unsigned slot)
{
    pz_ctx *x = vctx;
    unsigned K = x->K;
    ff2_t h[ZK_MAX_POOL_SLOTS + 1];
    for (unsigned t = 0; t <= K; t++)
        h[t] = ff2_zero();
    ff2_t cur[ZK_MAX_POOL_SLOTS], dif[ZK_MAX_POOL_SLOTS];
    for (size_t i = b; i < e; i++) {
        ff2_t p0 = ff2_one();
        for (unsigned w = 0; w < K; w++) {
            ff2_t lo = x->ext[w][2 * i], hi = x->ext[w][2 * i + 1];
            dif[w] = ff2_sub(hi, lo);
            cur[w] = ff2_add(hi, dif[w]);
            p0 = zk__mul2(p0, lo);
        }
        h[0] = ff2_add(h[0], zk__mul2(x->eqr[i], p0));
        for (unsigned t = 1; t <= K; t++) {
            ff2_t p = ff2_one();
            for (unsigned w = 0; w < K; w++) {
                p = zk__mul2(p, cur[w]);
                cur[w] = ff2_add(cur[w], dif[w]);
            }
            h[t] = ff2_add(h[t], zk__mul2(x->eqr[i], p));
        }
    }
    memcpy(x->part[slot], h, (K + 1) * sizeof *h);
}

static void fold_base(void *vctx, size_t b, size_t e, unsigned slot)
{
    (void)slot;
    pz_ctx *x = vctx;
    for (unsigned w = 0; w < x->K; w++)
        for (size_t i = b; i < e; i++) {
            ff_t lo = ff_from_i64(x->base[w][2 * i]), hi = ff_from_i64(x->base[w][2 * i + 1]);
            x->dst[w][i] = ff2_add(ff2_from_base(lo), ff2_mul_base(x->r, ff_sub(hi, lo)));
        }
}

static void fold_ext(void *vctx, size_t b, size_t e, unsigned slot)
{
    (void)slot;
    pz_ctx *x = vctx;
    for (unsigned w = 0; w < x->K; w++)
        for (size_t i = b; i < e; i++) {
            ff2_t lo = x->ext[w][2 * i], hi = x->ext[w][2 * i + 1];
            x->dst[w][i] = ff2_add(lo, zk__mul2(x->r, ff2_sub(hi, lo)));
        }
}

/* eq(tau_j, X) for one variable */
static ff2_t eq1(ff2_t tau, ff2_t x)
{
    ff2_t one = ff2_one();
    return ff2_add(zk__mul2(tau, x), zk__mul2(ff2_sub(one, tau), ff2_sub(one, x)));
}

/* The degree-d polynomial through (k, v[k]), k = 0..d, at r (d <= ZK_MAX_POOL_SLOTS + 1). */
static ff2_t interp(const ff2_t *v, unsigned d, ff2_t r)
{
    ff2_t pre[ZK_MAX_POOL_SLOTS + 3], suf[ZK_MAX_POOL_SLOTS + 3];
    pre[0] = ff2_one();
    for (unsigned k = 0; k <= d; k++)
        pre[k + 1] = zk__mul2(pre[k], ff2_sub(r, ff2_from_base(k)));
    suf[d + 1] = ff2_one();
    for (unsigned k = d + 1; k-- > 0;)
        suf[k] = zk__mul2(suf[k + 1], ff2_sub(r, ff2_from_base(k)));
    ff2_t acc = ff2_zero();
    for (unsigned i = 0; i <= d; i++) {
        /* 1 / prod_{k != i} (i - k) = (-1)^(d-i) / (i! (d-i)!) */
        ff_t den = 1;
        for (unsigned k = 0; k <= d; k++)
            if (k != i)
                den = ff_mul(den, ff_sub(ff_from_u64(i), ff_from_u64(k)));
        ff2_t li = ff2_mul_base(zk__mul2(pre[i], suf[i + 1]), ff_inv(den));
        acc = ff2_add(acc, zk__mul2(li, v[i]));
    }
    return acc;
}

static void absorb_shape(tr_t *tr, unsigned K, unsigned nv)
{
    tr_absorb_u64(tr, "pz/shape-k", K);
    tr_absorb_u64(tr, "pz/shape-nv", nv);
}

em_status zk__prodzero_prove(zk_wr *wr, const int32_t *const *tab, unsigned K, unsigned nv, const ff2_t *tau,
                             ff2_t *point, ff2_t *evals, em_err *err)
{
    if (K == 0 || K > ZK_MAX_POOL_SLOTS || nv > ZK_MAX_VARS)
        return em_errf(err, EM_ERR_INTERNAL, "product zero-check of %u tables over %u variables", K, nv);
    absorb_shape(wr->tr, K, nv);
    if (nv == 0) {
        for (unsigned w = 0; w < K; w++)
            evals[w] = ff2_from_base(ff_from_i64(tab[w][0]));
        return zk__put_ff2(wr, "pz/final", evals, K, err);
    }
    size_t half = (size_t)1 << (nv - 1), quarter = nv > 1 ? half / 2 : 1;
    pz_ctx *x = calloc(1, sizeof *x);
    ff2_t *bufa = zk__big_alloc(K * half * sizeof *bufa), *bufb = zk__big_alloc(K * quarter * sizeof *bufb);
    ff2_t *eqr = zk__big_alloc(half * sizeof *eqr);
    ff2_t *ta[ZK_MAX_POOL_SLOTS], *tb[ZK_MAX_POOL_SLOTS];
    em_status st = EM_OK;
    if (!x || !bufa || !bufb || !eqr) {
        st = em_errf(err, EM_ERR_NOMEM, "max-pool zero-check: out of memory (%u tables of 2^%u)", K, nv);
        goto out;
    }
    for (unsigned w = 0; w < K; w++) {
        ta[w] = bufa + w * half;
        tb[w] = bufb + w * quarter;
    }
    x->K = K;
    x->base = tab;
    ff2_t pref = ff2_one();
    for (unsigned j = 0; j < nv; j++) {
        size_t m = (size_t)1 << (nv - j - 1);
        zk__eq_table(tau + j + 1, nv - j - 1, ff2_one(), eqr, 0, wr->threads);
        x->eqr = eqr;
        x->ext = (j & 1) ? ta : tb; /* round j >= 1 reads what round j - 1 wrote */
        unsigned nc = zk__par_for(wr->threads, m, PZ_PAR_MIN, j == 0 ? round_base : round_ext, x);
        ff2_t h[ZK_MAX_POOL_SLOTS + 1], g[ZK_MAX_POOL_SLOTS + 1];
        for (unsigned t = 0; t <= K; t++) {
            h[t] = ff2_zero();
            for (unsigned c = 0; c < nc; c++)
                h[t] = ff2_add(h[t], x->part[c][t]);
        }
        /* h[0] is h(0), h[t] is h(t + 1) for t >= 1 */
        for (unsigned t = 0; t <= K; t++) {
            ff2_t node = ff2_from_base(t == 0 ? 0 : t + 1);
            g[t] = zk__mul2(zk__mul2(pref, eq1(tau[j], node)), h[t]);
        }
        if ((st = zk__put_ff2(wr, "pz/round", g, K + 1, err)) != EM_OK)
            goto out;
        x->r = point[j] = tr_challenge_ff2(wr->tr, "pz/r");
        pref = zk__mul2(pref, eq1(tau[j], x->r));
        x->dst = (j & 1) ? tb : ta;
        zk__par_for(wr->threads, m, PZ_PAR_MIN, j == 0 ? fold_base : fold_ext, x);
    }
    for (unsigned w = 0; w < K; w++)
        evals[w] = ((nv - 1) & 1) ? tb[w][0] : ta[w][0];
    st = zk__put_ff2(wr, "pz/final", evals, K, err);
out:
    free(x);
    zk__big_free(bufa); /* zk__big_alloc'd: free() would leave a stale entry in the buffer cache */
    zk__big_free(bufb);
    zk__big_free(eqr);
    return st;
}

em_status zk__prodzero_verify(zk_rd *rd, unsigned K, unsigned nv, const ff2_t *tau, ff2_t *point, ff2_t *evals,
                              em_err *err)
{
    if (K == 0 || K > ZK_MAX_POOL_SLOTS || nv > ZK_MAX_VARS)
        return em_errf(err, EM_ERR_INTERNAL, "product zero-check of %u tables over %u variables", K, nv);
    absorb_shape(rd->tr, K, nv);
    ff2_t claim = ff2_zero();
    em_status st;
    for (unsigned j = 0; j < nv; j++) {
        ff2_t g[ZK_MAX_POOL_SLOTS + 1], v[ZK_MAX_POOL_SLOTS + 2];
        if ((st = zk__get_ff2(rd, "pz/round", g, K + 1, err)) != EM_OK)
            return st;
        v[0] = g[0];
        v[1] = ff2_sub(claim, g[0]);
        for (unsigned t = 1; t <= K; t++)
            v[t + 1] = g[t];
        point[j] = tr_challenge_ff2(rd->tr, "pz/r");
        claim = interp(v, K + 1, point[j]);
    }
    if ((st = zk__get_ff2(rd, "pz/final", evals, K, err)) != EM_OK)
        return st;
    ff2_t prod = ml_eq_eval(tau, point, nv);
    for (unsigned w = 0; w < K; w++)
        prod = zk__mul2(prod, evals[w]);
    if (!ff2_eq(prod, claim))
        return em_errf(err, EM_ERR_VERIFY, "product zero-check: final evaluations do not match");
    return EM_OK;
}
