/* Requantization, activation and remainder range checks as one logUp lookup over a tagged
 * union table, proven with fractional-sum trees (logUp-GKR), so no inverse columns are
 * committed.
 *
 * Lookups (docs/PROOFS.md "Requantization lookups"):
 *   - per dense layer, the pairs (q, y) into {(q, act(clamp(q))) : q in [-2^(T-1), 2^(T-1))};
 *   - per dense layer and remainder limb t, r_t into [0, 2^b) with b = bits of that limb.
 * Entries (tag, u, v) are encoded as u + beta*v + gamma*tag with beta, gamma drawn after the
 * witness commitment. The logUp identity
 *     sum_i 1/(alpha - f_i) = sum_j m_j/(alpha - t_j)
 * is split into segments (each witness column block, each table with numerators -m_j) of
 * exactly 2^log leaves (no padding leaves); segments of one kind and size are grouped into one
 * fraction tree (lu_groups), proven level by level (zk_frac.c; node x of level d has children x
 * and x + 2^d), and the verifier checks that the roots' fractions sum to zero. A segment's leaf claim is a claim on one committed block (or on
 * the public output / a public table the verifier evaluates), except q: q is not committed, and
 * its leaf value goes to the layer's accumulator sumcheck, which runs at the pair segment's leaf
 * point (zk_qclaims). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/ff_vec.h"
#include "enclaveml/zkml/ml.h"
#include "ff_simd.h"
#include "zk_internal.h"

/* SEG_DRANGE: a maxpool difference block d_w (range [0, 2^act_bits)) */
enum { SEG_PAIR = 1, SEG_RANGE = 2, SEG_ACT_TABLE = 3, SEG_RANGE_TABLE = 4, SEG_DRANGE = 5 };

typedef struct lu_seg {
    int kind;
    uint32_t layer;
    unsigned limb, bits, act;
    unsigned jb; /* pair and activation table: merged remainder bits */
    unsigned tl; /* range and range table: log2 of the tuple size */
    uint64_t tag;
} lu_seg;

typedef struct lu_layout {
    size_t n;
    lu_seg seg[ZK_MAX_BLOCKS];
    zk_pack pack;
} lu_layout;

/* distinct tags for every table: (act, merged bits) in [1, 19), (bits, tuple log) in [32, 83) */
static uint64_t tag_act(unsigned act, unsigned jb) { return 1 + act + 2 * jb; }
static uint64_t tag_range(unsigned bits, unsigned tl) { return 32 + 17 * tl + bits; }

static em_status lu_layout_build(const zk_vk *vk, const zk_wlayout *wl, lu_layout *L, em_err *err)
{
    memset(L, 0, sizeof *L);
    for (uint32_t i = 0; i < vk->n_layers; i++) {
        const zk_layer *ly = &vk->layers[i];
        unsigned lg = wl->lb + ly->lv_out;
        if (ly->kind == NN_MAXPOOL) {
            for (unsigned t = 0; t < zk__pool_slots(ly); t++) {
                unsigned b = vk->act_bits;
                L->seg[L->n] = (lu_seg){.kind = SEG_DRANGE, .layer = i, .limb = t, .bits = b, .tag = tag_range(b, 0)};
                L->pack.log[L->n++] = lg;
            }
            continue;
        }
        unsigned jb = wl->jb[i], tl = wl->tl[i];
        L->seg[L->n] = (lu_seg){.kind = SEG_PAIR, .layer = i, .act = ly->act, .jb = jb, .tag = tag_act(ly->act, jb)};
        L->pack.log[L->n++] = lg;
        for (unsigned t = 0; t < wl->nl[i]; t++) {
            unsigned b = zk__limb_bits(ly->shift - jb, wl->lbits, t);
            L->seg[L->n] =
                (lu_seg){.kind = SEG_RANGE, .layer = i, .limb = t, .bits = b, .tl = tl, .tag = tag_range(b, tl)};
            L->pack.log[L->n++] = lg - tl;
        }
    }
    for (unsigned a = 0; a < 2; a++)
        for (unsigned j = 0; j <= ZK_MAX_MERGE_BITS; j++)
            if (wl->m_act_blk[a][j] != ZK_NO_BLOCK) {
                L->seg[L->n] = (lu_seg){.kind = SEG_ACT_TABLE, .act = a, .jb = j, .tag = tag_act(a, j)};
                L->pack.log[L->n++] = wl->tbits + j;
            }
    for (unsigned b = 1; b <= ZK_RANGE_BITS; b++)
        for (unsigned t = 0; t <= ZK_MAX_TUPLE_LOG; t++)
            if (wl->m_rng_blk[b][t] != ZK_NO_BLOCK) {
                L->seg[L->n] = (lu_seg){.kind = SEG_RANGE_TABLE, .bits = b, .tl = t, .tag = tag_range(b, t)};
                L->pack.log[L->n++] = b << t;
            }
    L->pack.n = (uint32_t)L->n;
    uint64_t total = 0;
    for (uint32_t i = 0; i < L->n; i++)
        total += (uint64_t)1 << L->pack.log[i];
    if (total > ((uint64_t)1 << ZK_MAX_LOG_LOOKUP))
        return em_errf(err, EM_ERR_LIMIT, "lookup of %llu entries exceeds 2^%u (batch too large for this model)",
                       (unsigned long long)total, ZK_MAX_LOG_LOOKUP);
    return EM_OK;
}

/* Segments of one kind (witness: numerators 1; table: numerators -m) and one size 2^G are proven
 * as one fraction tree of K * 2^G leaves, segment t at leaves [t 2^G, (t + 1) 2^G), K a power of
 * two. The tree's leaf claim at r = (r_low: G coordinates, r_high: log K) is
 * sum_t eq(r_high, t) * leaf_t(r_low), and each segment's values are claimed at r_low. Fewer
 * trees mean fewer sumcheck rounds, each a few transcript hashes and, in small trees, a pass too
 * short for two threads. A group never exceeds the largest segment's tree, or 2^16 leaves, so
 * the tree tables do not grow. Groups are formed greedily in segment order, the same on both
 * sides. */
#define LU_MAX_GROUP 8u
#define LU_GROUP_FREE_LOG 16u /* groups may reach 2^16 leaves even above the largest segment */
typedef struct lu_group {
    unsigned k, lk; /* segments, log2 of that */
    unsigned G;     /* log of each segment's leaf count */
    uint32_t seg[LU_MAX_GROUP];
} lu_group;

static int seg_witness(const lu_seg *s) { return s->kind == SEG_PAIR || s->kind == SEG_RANGE || s->kind == SEG_DRANGE; }

static size_t lu_groups(const lu_layout *L, lu_group *g)
{
    unsigned gmax = LU_GROUP_FREE_LOG;
    for (uint32_t i = 0; i < L->n; i++)
        gmax = L->pack.log[i] > gmax ? L->pack.log[i] : gmax;
    uint8_t used[ZK_MAX_BLOCKS] = {0};
    size_t ng = 0;
    for (uint32_t i = 0; i < L->n; i++) {
        if (used[i])
            continue;
        lu_group *x = &g[ng++];
        x->G = L->pack.log[i];
        uint32_t cand[LU_MAX_GROUP];
        unsigned m = 0;
        for (uint32_t j = i; j < L->n && m < LU_MAX_GROUP; j++)
            if (!used[j] && L->pack.log[j] == x->G && seg_witness(&L->seg[j]) == seg_witness(&L->seg[i]))
                cand[m++] = j;
        unsigned k = 1, lk = 0;
        while (2 * k <= m && x->G + lk + 1 <= gmax) {
            k *= 2;
            lk++;
        }
        x->k = k;
        x->lk = lk;
        for (unsigned t = 0; t < k; t++) {
            x->seg[t] = cand[t];
            used[cand[t]] = 1;
        }
    }
    return ng;
}

/* ---- public tables ------------------------------------------------------------------------ */

static void act_range(const zk_vk *vk, unsigned act, int64_t *lo_val, int64_t *hi_val)
{
    *lo_val = act == NN_ACT_RELU ? 0 : -((int64_t)1 << (vk->act_bits - 1));
    *hi_val = ((int64_t)1 << (vk->act_bits - 1)) - 1;
}

static int64_t act_table_y(const zk_vk *vk, unsigned act, int64_t q)
{
    int64_t lo, hi;
    act_range(vk, act, &lo, &hi);
    return q < lo ? lo : q > hi ? hi : q;
}

/* sum_{j<c} eq(z,j) and sum_{j<c} eq(z,j)*j over nv variables, 0 <= c <= 2^nv, in O(nv^2). */
static void eq_prefix_sums(const ff2_t *z, unsigned nv, uint64_t c, ff2_t *s0, ff2_t *s1)
{
    ff2_t ident = ml_identity_eval(nv, z); /* MLE of j -> j */
    if (c >> nv) {
        *s0 = ff2_one();
        *s1 = ident;
        return;
    }
    ff2_t a0 = ff2_zero(), a1 = ff2_zero(), prefix = ff2_one();
    for (unsigned t = nv; t-- > 0;) {
        ff2_t zt = z[t], nz = ff2_sub(ff2_one(), zt);
        if ((c >> t) & 1) {
            ff2_t blk = zk__mul2(prefix, nz);
            uint64_t high = (c >> (t + 1)) << (t + 1);
            ff2_t low = ff2_zero();
            for (unsigned u = 0; u < t; u++)
                low = ff2_add(low, ff2_mul_base(z[u], (ff_t)1 << u));
            a0 = ff2_add(a0, blk);
            a1 = ff2_add(a1, zk__mul2(blk, ff2_add(ff2_from_base(ff_from_u64(high)), low)));
            prefix = zk__mul2(prefix, zt);
        } else {
            prefix = zk__mul2(prefix, nz);
        }
    }
    *s0 = a0;
    *s1 = a1;
}

/* MLE of the activation table's q and y columns at z (table_bits variables). */
static void act_table_eval(const zk_vk *vk, unsigned T, unsigned act, const ff2_t *z, ff2_t *tq, ff2_t *ty)
{
    int64_t off = (int64_t)1 << (T - 1), lo, hi;
    act_range(vk, act, &lo, &hi);
    ff2_t ident = ml_identity_eval(T, z);
    *tq = ff2_sub(ident, ff2_from_base((ff_t)off));
    /* y(j) = lo for j < lo+off, j - off on [lo+off, hi+off], hi above */
    ff2_t s0a, s1a, s0b, s1b;
    eq_prefix_sums(z, T, (uint64_t)(lo + off), &s0a, &s1a);
    eq_prefix_sums(z, T, (uint64_t)(hi + off + 1), &s0b, &s1b);
    ff2_t y = ff2_mul_base(s0a, ff_from_i64(lo));
    y = ff2_add(y, ff2_sub(ff2_sub(s1b, s1a), ff2_mul_base(ff2_sub(s0b, s0a), (ff_t)off)));
    y = ff2_add(y, ff2_mul_base(ff2_sub(ff2_one(), s0b), ff_from_i64(hi)));
    *ty = y;
}

/* MLE of the (q', y) table of a layer merging jb remainder bits, at z (T + jb variables):
 * q'(j) = j - 2^(T+jb-1) and y(j) = act(clamp((j >> jb) - 2^(T-1))), a function of the top T
 * bits only, whose MLE is act_table_eval's at those T coordinates. */
static void pair_table_eval(const zk_vk *vk, unsigned T, unsigned jb, unsigned act, const ff2_t *z, ff2_t *tq,
                            ff2_t *ty)
{
    ff2_t unused;
    act_table_eval(vk, T, act, z + jb, &unused, ty);
    *tq = ff2_sub(ml_identity_eval(T + jb, z), ff2_from_base((ff_t)1 << (T + jb - 1)));
}

/* MLE of the tuple table of 2^tl values of b bits at z (b 2^tl variables): entry j is
 * sum_p delta^p * (bits [p b, (p+1) b) of j). */
static ff2_t tuple_table_eval(unsigned b, unsigned tl, ff2_t delta, const ff2_t *z)
{
    ff2_t v = ff2_zero(), dp = ff2_one();
    for (unsigned p = 0; p < (1u << tl); p++) {
        v = ff2_add(v, zk__mul2(dp, ml_identity_eval(b, z + p * b)));
        dp = zk__mul2(dp, delta);
    }
    return v;
}

/* ---- multiplicities (prover, before the witness commitment) -------------------------------- */

/* Multiplicity counting over the threads: chunk 0 counts into the block itself, the others into
 * their own tables, which are then added to it; the counts do not depend on the thread count. */
typedef struct mult_ctx {
    int32_t *m, *own[ZK_MAX_THREADS];
    size_t n;
    /* pair: index Q[e] + off in [0, 2 off); tuple (Q NULL): the parts R[e + p * n], b bits each */
    const int32_t *Q;
    int64_t off;
    const int32_t *R;
    unsigned tl, b;
} mult_ctx;

static void mult_chunk(void *vctx, size_t b, size_t e, unsigned slot)
{
    mult_ctx *x = vctx;
    int32_t *m = slot ? x->own[slot] : x->m;
    if (x->Q) {
        for (size_t i = b; i < e; i++) {
            int64_t j = (int64_t)x->Q[i] + x->off;
            if (j >= 0 && j < 2 * x->off)
                m[j]++;
        }
        return;
    }
    if (x->tl == 1) { /* the common tuple: two parts (unrolled, ~2x faster than the loop below) */
        const int32_t *r0 = x->R, *r1 = x->R + x->n;
        uint32_t lim = 1u << x->b;
        for (size_t i = b; i < e; i++) {
            uint32_t u0 = (uint32_t)r0[i], u1 = (uint32_t)r1[i]; /* negative parts wrap above lim */
            if (u0 < lim && u1 < lim)
                m[u0 | (u1 << x->b)]++;
        }
        return;
    }
    for (size_t i = b; i < e; i++) {
        uint64_t idx = 0;
        int ok = 1;
        for (unsigned p = 0; p < (1u << x->tl); p++) {
            int32_t v = x->R[i + p * x->n];
            ok &= v >= 0 && (uint32_t)v < (1u << x->b);
            idx |= (uint64_t)(uint32_t)v << (x->b * p);
        }
        if (ok)
            m[idx]++;
    }
}

/* Counts n entries into m (tsize entries) on up to `threads` threads. */
static void mult_count(mult_ctx *x, size_t tsize, unsigned threads)
{
    /* private tables only where counting outweighs adding them up */
    unsigned nch = threads > 1 && x->n >= ((size_t)1 << 14) && x->n >= 4 * tsize ? threads : 1;
    if (nch > ZK_PAR_CHUNKS)
        nch = ZK_PAR_CHUNKS;
    for (unsigned c = 1; c < nch; c++)
        if (!(x->own[c] = calloc(tsize, sizeof *x->own[c]))) {
            nch = c; /* no memory: fewer chunks */
            break;
        }
    size_t per = (x->n + nch - 1) / nch;
    unsigned got = zk__par_for(nch, x->n, per, mult_chunk, x);
    for (unsigned c = 1; c < nch; c++) {
        if (c < got)
            for (size_t j = 0; j < tsize; j++)
                x->m[j] += x->own[c][j];
        free(x->own[c]);
        x->own[c] = NULL;
    }
}

void zk__requant_mults(const zk_vk *vk, const zk_wlayout *wl, zk_wit *w, unsigned threads)
{
    for (uint32_t i = 0; i < vk->n_layers; i++) {
        const zk_layer *ly = &vk->layers[i];
        size_t n = (size_t)1 << (wl->lb + ly->lv_out);
        if (ly->kind == NN_MAXPOOL) {
            int32_t *mr = w->blk[wl->m_rng_blk[vk->act_bits][0]];
            for (unsigned t = 0; t < zk__pool_slots(ly); t++) {
                const int32_t *D = w->blk[wl->d_blk[i][t]];
                for (size_t e = 0; e < n; e++)
                    if (D[e] >= 0 && (uint32_t)D[e] < (1u << vk->act_bits))
                        mr[D[e]]++;
            }
            continue;
        }
        unsigned jb = wl->jb[i], tl = wl->tl[i];
        int64_t off = (int64_t)1 << (wl->tbits + jb - 1);
        mult_ctx x = {.m = w->blk[wl->m_act_blk[ly->act][jb]], .n = n, .Q = w->blk[wl->q_blk[i]], .off = off};
        mult_count(&x, (size_t)2 * off, threads);
        for (unsigned t = 0; t < wl->nl[i]; t++) {
            unsigned b = zk__limb_bits(ly->shift - jb, wl->lbits, t);
            /* tuple p of leaf e: R[e + p * (n >> tl)] */
            mult_ctx y = {.m = w->blk[wl->m_rng_blk[b][tl]], .n = n >> tl, .R = w->blk[wl->r_blk[i][t]], .tl = tl,
                          .b = b};
            mult_count(&y, (size_t)1 << (b << tl), threads);
        }
    }
}

/* ---- per-segment leaves ---------------------------------------------------------------- */

typedef struct lu_chal {
    ff2_t alpha, beta, gamma, delta; /* delta compresses the remainders of a tuple leaf */
} lu_chal;

/* Number of prover-sent leaf evaluations for segment s (y of the last layer is public; a tuple
 * leaf's 2^tl remainders are 2^tl evaluations of the limb block). */
#define LU_MAX_VALS (1u << ZK_MAX_TUPLE_LOG)
static unsigned seg_nvals(const zk_vk *vk, const lu_seg *s)
{
    if (s->kind == SEG_PAIR)
        return s->layer + 1 < vk->n_layers ? 2 : 1;
    if (s->kind == SEG_RANGE)
        return 1u << s->tl;
    return 1;
}

/* The witness block behind value v of segment s. */
static uint32_t seg_block(const zk_wlayout *wl, const lu_seg *s, unsigned v)
{
    switch (s->kind) {
    case SEG_PAIR:
        return v == 0 ? wl->q_blk[s->layer] : wl->y_blk[s->layer];
    case SEG_RANGE:
        return wl->r_blk[s->layer][s->limb];
    case SEG_DRANGE:
        return wl->d_blk[s->layer][s->limb];
    case SEG_ACT_TABLE:
        return wl->m_act_blk[s->act][s->jb];
    default:
        return wl->m_rng_blk[s->bits][s->tl];
    }
}

/* Leaf numerator/denominator MLEs of segment s at z from the values the prover sent (vals)
 * and, for the last layer, the public output's y~ (ylast). */
static void leaf_eval(const zk_vk *vk, const lu_seg *s, unsigned log, const lu_chal *ch, const ff2_t *z,
                      const ff2_t *vals, ff2_t ylast, ff2_t *cp, ff2_t *cq)
{
    ff2_t tagg = ff2_mul_base(ch->gamma, ff_from_u64(s->tag));
    switch (s->kind) {
    case SEG_PAIR: {
        ff2_t yv = s->layer + 1 < vk->n_layers ? vals[1] : ylast;
        *cp = ff2_one();
        *cq = ff2_sub(ch->alpha, ff2_add(ff2_add(vals[0], zk__mul2(ch->beta, yv)), tagg));
        break;
    }
    case SEG_RANGE:
    case SEG_DRANGE: {
        /* the tuple sum_p delta^p r_p (one remainder when tl = 0) */
        ff2_t v = ff2_zero(), dp = ff2_one();
        for (unsigned p = 0; p < (s->kind == SEG_RANGE ? 1u << s->tl : 1u); p++) {
            v = ff2_add(v, zk__mul2(dp, vals[p]));
            dp = zk__mul2(dp, ch->delta);
        }
        *cp = ff2_one();
        *cq = ff2_sub(ch->alpha, ff2_add(v, tagg));
        break;
    }
    case SEG_ACT_TABLE: {
        ff2_t tq, ty;
        pair_table_eval(vk, log - s->jb, s->jb, s->act, z, &tq, &ty);
        *cp = ff2_neg(vals[0]);
        *cq = ff2_sub(ch->alpha, ff2_add(ff2_add(tq, zk__mul2(ch->beta, ty)), tagg));
        break;
    }
    default:
        *cp = ff2_neg(vals[0]);
        *cq = ff2_sub(ch->alpha, ff2_add(tuple_table_eval(s->bits, s->tl, ch->delta, z), tagg));
        break;
    }
}

/* The value leaf_eval's denominator cq leaves undetermined once the others are known, for a
 * witness segment other than the last layer's pair: q for a pair, the last remainder of a
 * tuple (the only one when tl = 0). Exact field arithmetic: it is the true evaluation whenever
 * cq is the true leaf MLE, which it is for the prover's own tree. */
static void leaf_derive(const lu_seg *s, const lu_chal *ch, ff2_t cq, ff2_t *vals, unsigned nv)
{
    /* alpha - tag - cq = q + beta y (pair), sum_p delta^p r_p (tuple) */
    ff2_t lin = ff2_sub(ff2_sub(ch->alpha, ff2_mul_base(ch->gamma, ff_from_u64(s->tag))), cq);
    if (s->kind == SEG_PAIR) {
        vals[0] = ff2_sub(lin, zk__mul2(ch->beta, vals[1]));
        return;
    }
    ff2_t dp = ff2_one();
    for (unsigned p = 0; p + 1 < nv; p++) {
        lin = ff2_sub(lin, zk__mul2(dp, vals[p]));
        dp = zk__mul2(dp, ch->delta);
    }
    vals[nv - 1] = nv == 1 ? lin : zk__mul2(lin, ff2_inv(dp));
}

/* Leaf denominators of a witness segment over chunks of leaves: am - (q + beta y) for the
 * (q, y) pairs, am - r for a remainder limb or a max-pool difference block. */
typedef struct leaf_ctx {
    const zk_vk *vk;
    const zk_wit *w;
    const lu_seg *s;
    const int32_t *u, *yy; /* yy NULL: the last layer's y comes from the public output */
    ff2_t am, beta, delta;
    size_t part; /* tuple leaves (tl > 0): remainder p of leaf i is u[i + p * part] */
    zk_fv q;
} leaf_ctx;

/* 8 int32 as field elements (negative v: p + v) */
__attribute__((target("avx512f"), always_inline)) static inline __m512i ld_i32_ff(const int32_t *v)
{
    __m512i s = _mm512_cvtepi32_epi64(_mm256_loadu_si256((const __m256i *)v));
    __mmask8 neg = _mm512_cmplt_epi64_mask(s, _mm512_setzero_si512());
    return _mm512_mask_add_epi64(s, neg, s, _mm512_set1_epi64((long long)FF_P));
}

/* leaf_chunk's vectorised part over [b, b + 8k) (every leaf but the last layer's pairs, whose y
 * comes from the public output); returns where it stopped */
__attribute__((target("avx512f,avx512dq"))) static size_t leaf_avx512(const leaf_ctx *x, size_t b, size_t e)
{
    const __m512i ama = _mm512_set1_epi64((long long)x->am.a), amb = _mm512_set1_epi64((long long)x->am.b);
    const __m512i ba = _mm512_set1_epi64((long long)x->beta.a), bb = _mm512_set1_epi64((long long)x->beta.b);
    int pair = x->s->kind == SEG_PAIR;
    unsigned parts = x->s->kind == SEG_RANGE ? 1u << x->s->tl : 1u;
    __m512i da[LU_MAX_VALS], db[LU_MAX_VALS]; /* delta^p, p >= 1 */
    ff2_t dp = ff2_one();
    for (unsigned p = 1; p < parts; p++) {
        dp = zk__mul2(dp, x->delta);
        da[p] = _mm512_set1_epi64((long long)dp.a);
        db[p] = _mm512_set1_epi64((long long)dp.b);
    }
    size_t i = b;
    for (; i + 8 <= e; i += 8) {
        __m512i qa = ff8_sub(ama, ld_i32_ff(x->u + i)), qb = amb;
        if (pair) {
            __m512i y = ld_i32_ff(x->yy + i);
            qa = ff8_sub(qa, ff8_mul(ba, y));
            qb = ff8_sub(qb, ff8_mul(bb, y));
        }
        for (unsigned p = 1; p < parts; p++) { /* the tuple's other remainders */
            __m512i r = ld_i32_ff(x->u + i + p * x->part);
            qa = ff8_sub(qa, ff8_mul(da[p], r));
            qb = ff8_sub(qb, ff8_mul(db[p], r));
        }
        _mm512_storeu_si512((void *)(x->q.a + i), qa);
        _mm512_storeu_si512((void *)(x->q.b + i), qb);
    }
    return i;
}

static void leaf_chunk(void *vctx, size_t b, size_t e, unsigned slot)
{
    (void)slot;
    const leaf_ctx *x = vctx;
    if (ff_vec_tier_get() == FF_VEC_AVX512 && (x->s->kind != SEG_PAIR || x->yy))
        b = leaf_avx512(x, b, e);
    if (x->s->kind == SEG_RANGE && x->s->tl) {
        for (size_t i = b; i < e; i++) {
            ff2_t v = ff2_from_base(ff_from_i64(x->u[i])), dp = ff2_one();
            for (unsigned p = 1; p < (1u << x->s->tl); p++) {
                dp = zk__mul2(dp, x->delta);
                v = ff2_add(v, ff2_mul_base(dp, ff_from_i64(x->u[i + p * x->part])));
            }
            v = ff2_sub(x->am, v);
            x->q.a[i] = v.a;
            x->q.b[i] = v.b;
        }
        return;
    }
    if (x->s->kind != SEG_PAIR) {
        for (size_t i = b; i < e; i++) {
            x->q.a[i] = ff_sub(x->am.a, ff_from_i64(x->u[i]));
            x->q.b[i] = x->am.b;
        }
        return;
    }
    const zk_layer *ly = &x->vk->layers[x->s->layer];
    size_t M = (size_t)1 << ly->lv_out;
    for (size_t i = b; i < e; i++) {
        int32_t yv = x->yy ? x->yy[i] : zk__out_at(ly, x->w->out, x->w->n_samples, i / M, i % M); /* position-padded */
        ff2_t v = ff2_sub(x->am, ff2_add(ff2_from_base(ff_from_i64(x->u[i])), ff2_mul_base(x->beta, ff_from_i64(yv))));
        x->q.a[i] = v.a;
        x->q.b[i] = v.b;
    }
}

/* Witness segments' numerators are all 1 and never read (p_one), so p is left unwritten. */
static void fill_leaves(const zk_vk *vk, const zk_wlayout *wl, const zk_wit *w, const lu_seg *s, unsigned log,
                        const lu_chal *ch, unsigned threads, zk_fv p, zk_fv q)
{
    size_t n = (size_t)1 << log;
    int64_t off = log ? (int64_t)1 << (log - 1) : 0; /* activation tables (log >= 2): q' in [-off, off) */
    ff2_t am = ff2_sub(ch->alpha, ff2_mul_base(ch->gamma, ff_from_u64(s->tag)));
    switch (s->kind) {
    case SEG_PAIR:
    case SEG_RANGE:
    case SEG_DRANGE: {
        leaf_ctx x = {.vk = vk, .w = w, .s = s, .u = w->blk[seg_block(wl, s, 0)], .am = am, .beta = ch->beta,
                      .delta = ch->delta, .part = n, .q = q};
        if (s->kind == SEG_PAIR && wl->y_blk[s->layer] != ZK_NO_BLOCK)
            x.yy = w->blk[wl->y_blk[s->layer]];
        zk__par_for(threads, n, (size_t)1 << 14, leaf_chunk, &x);
        break;
    }
    case SEG_ACT_TABLE: {
        const int32_t *m = w->blk[wl->m_act_blk[s->act][s->jb]];
        for (size_t j = 0; j < n; j++) {
            int64_t qv = (int64_t)j - off; /* q', whose q is q' >> jb (a floor: off is a multiple of 2^jb) */
            int64_t yv = act_table_y(vk, s->act, (int64_t)(j >> s->jb) - (off >> s->jb));
            ff2_t v = ff2_sub(am, ff2_add(ff2_from_base(ff_from_i64(qv)), ff2_mul_base(ch->beta, ff_from_i64(yv))));
            p.a[j] = ff_neg(ff_from_i64(m[j]));
            p.b[j] = 0;
            q.a[j] = v.a;
            q.b[j] = v.b;
        }
        break;
    }
    default: {
        /* entry j: the tuple of the 2^tl fields of bits bits of j (j itself when tl = 0) */
        const int32_t *m = w->blk[wl->m_rng_blk[s->bits][s->tl]];
        ff2_t dpow[LU_MAX_VALS];
        dpow[0] = ff2_one();
        for (unsigned t = 1; t < LU_MAX_VALS; t++)
            dpow[t] = zk__mul2(dpow[t - 1], ch->delta);
        uint64_t mask = ((uint64_t)1 << s->bits) - 1;
        for (size_t j = 0; j < n; j++) {
            ff2_t v = ff2_from_base((ff_t)(j & mask));
            for (unsigned t = 1; t < (1u << s->tl); t++)
                v = ff2_add(v, ff2_mul_base(dpow[t], (ff_t)((j >> (s->bits * t)) & mask)));
            v = ff2_sub(am, v);
            p.a[j] = ff_neg(ff_from_i64(m[j]));
            p.b[j] = 0;
            q.a[j] = v.a;
            q.b[j] = v.b;
        }
        break;
    }
    }
}

static void draw_chal(tr_t *tr, lu_chal *ch)
{
    ch->alpha = tr_challenge_ff2(tr, "lookup-alpha");
    ch->beta = tr_challenge_ff2(tr, "lookup-beta");
    ch->gamma = tr_challenge_ff2(tr, "lookup-gamma");
    ch->delta = tr_challenge_ff2(tr, "lookup-delta");
}

/* Running sum of fractions: (P, Q) += (p, q). */
static void frac_add(ff2_t *P, ff2_t *Q, ff2_t p, ff2_t q)
{
    *P = ff2_add(zk__mul2(*P, q), zk__mul2(p, *Q));
    *Q = zk__mul2(*Q, q);
}

/* ---- prover --------------------------------------------------------------------------------- */

/* Value v of segment s at the leaf point r: a claim on its committed block, or for q the point
 * and value the layer's accumulator sumcheck must check. */
static em_status leaf_claim(const zk_wlayout *wl, const lu_seg *s, unsigned v, const ff2_t *r, unsigned G, ff2_t val,
                            zk_claims *wc, zk_qclaims *qc, em_err *err)
{
    if (s->kind == SEG_PAIR && v == 0) {
        memcpy(qc->pt[s->layer], r, G * sizeof *r);
        qc->val[s->layer] = val;
        return EM_OK;
    }
    if (s->kind == SEG_RANGE && s->tl) {
        /* remainder v of a tuple leaf: the limb block's part v (its top tl variables) */
        ff2_t pt[ZK_MAX_VARS + 2];
        memcpy(pt, r, G * sizeof *r);
        for (unsigned t = 0; t < s->tl; t++)
            pt[G + t] = ff2_from_base((v >> t) & 1);
        return zk__claims_add(wc, seg_block(wl, s, v), pt, G + s->tl, val, err);
    }
    return zk__claims_add(wc, seg_block(wl, s, v), r, G, val, err);
}

/* Each fraction tree is proven on a transcript of its own, forked from the state after the
 * lookup challenges with the tree's index absorbed, into a buffer of its own; the trees' bytes
 * then go into the proof in tree order and each tree's closing digest ("lookup-tree-end") into
 * the main transcript, so the proof does not depend on the order the trees were computed in.
 * The trees of at most 2^LU_GROUP_FREE_LOG leaves run concurrently, one per thread, each with
 * its own tables: their rounds are too small to split (session 11: the 784-512-512-10 batch-1024
 * proof's four small trees ran almost entirely on one thread). The larger trees run one after
 * the other over all threads, in the shared tables. */
typedef struct lu_tree {
    const lu_group *g;
    int small; /* proven side by side with the other small trees, on one thread */
    tr_t tr;
    em_buf buf;
    ff2_t r[ZK_MAX_VARS + 2];
    ff2_t vals[LU_MAX_GROUP][LU_MAX_VALS];
    em_status st;
    em_err err;
} lu_tree;

typedef struct lu_run {
    const zk_vk *vk;
    const zk_wlayout *wl;
    const zk_wit *w;
    const lu_layout *L;
    const lu_chal *ch;
    int forge;
    lu_tree *trees;
    const size_t *order; /* the small trees, largest first */
} lu_run;

/* Level tables for a tree of 2^G leaves: level d's numerators and denominators in split
 * coordinates, 2^d entries each, and the sumcheck scratch. */
typedef struct lu_tabs {
    ff_t *lvl[ZK_MAX_LOG_LOOKUP + 1], *scratch;
    zk_fv P[ZK_MAX_LOG_LOOKUP + 1], Q[ZK_MAX_LOG_LOOKUP + 1];
} lu_tabs;

/* log2 of a tree's leaves */
static unsigned tree_log(const lu_group *g) { return g->G + g->lk; }

static void tabs_free(lu_tabs *t)
{
    for (unsigned d = 0; d <= ZK_MAX_LOG_LOOKUP; d++)
        zk__big_free(t->lvl[d]);
    zk__big_free(t->scratch);
    memset(t, 0, sizeof *t);
}

static em_status tabs_alloc(unsigned G, lu_tabs *t, em_err *err)
{
    memset(t, 0, sizeof *t);
    for (unsigned d = 0; d <= G; d++) {
        size_t n = (size_t)1 << d;
        if (!(t->lvl[d] = zk__big_alloc(4 * n * sizeof *t->lvl[d]))) {
            tabs_free(t);
            return em_errf(err, EM_ERR_NOMEM, "lookup: out of memory (fraction tree of 2^%u leaves)", G);
        }
        t->P[d] = (zk_fv){t->lvl[d], t->lvl[d] + n};
        t->Q[d] = (zk_fv){t->lvl[d] + 2 * n, t->lvl[d] + 3 * n};
    }
    size_t quarter = G >= 2 ? (size_t)1 << (G - 2) : 1;
    if (!(t->scratch = zk__big_alloc(16 * quarter * sizeof *t->scratch))) {
        tabs_free(t);
        return em_errf(err, EM_ERR_NOMEM, "lookup: out of memory");
    }
    return EM_OK;
}

/* Fills tree t's leaves, proves it and evaluates its segments' leaf values (sent on its own
 * transcript; the claims are recorded by the caller, in tree order). */
static em_status tree_prove(const lu_run *x, lu_tree *t, unsigned threads, lu_tabs *tb)
{
    const lu_group *g = t->g;
    const zk_vk *vk = x->vk;
    const zk_wlayout *wl = x->wl;
    unsigned G = g->G, Gt = tree_log(g);
    int witness_grp = seg_witness(&x->L->seg[g->seg[0]]);
    for (unsigned k = 0; k < g->k; k++) {
        size_t o = (size_t)k << G;
        fill_leaves(vk, wl, x->w, &x->L->seg[g->seg[k]], G, x->ch, threads,
                    (zk_fv){tb->P[Gt].a + o, tb->P[Gt].b + o}, (zk_fv){tb->Q[Gt].a + o, tb->Q[Gt].b + o});
    }
    zk_wr wr = {.tr = &t->tr, .buf = &t->buf, .threads = threads, .forge = x->forge};
    ff2_t root[2], leaf[2];
    em_status st = zk__frac_prove(&wr, Gt, witness_grp, tb->P, tb->Q, tb->scratch, t->r, root, leaf, &t->err);
    if (st != EM_OK)
        return st;
    for (unsigned k = 0; k < g->k; k++) {
        const lu_seg *s = &x->L->seg[g->seg[k]];
        ff2_t *vals = t->vals[k];
        unsigned nv = seg_nvals(vk, s);
        /* rows (batch variables) of the leaves' block part: a tuple leaf's parts split the rows */
        unsigned lr = seg_witness(s) ? wl->lb - (s->kind == SEG_RANGE ? s->tl : 0) : 0;
        /* a lone witness segment's leaf denominator is linear in its values (leaf_eval), so the
         * tree's leaf claim gives one of them: all but that one are evaluated on their blocks */
        int derive = g->k == 1 && seg_witness(s) && !(s->kind == SEG_PAIR && s->layer + 1 == vk->n_layers) &&
                     !(nv > 1 && s->kind != SEG_PAIR && ff2_is_zero(x->ch->delta)); /* 1/delta needed */
        for (unsigned v = 0; v < nv; v++) {
            if (derive && v == (s->kind == SEG_PAIR ? 0 : nv - 1))
                continue;
            uint32_t b = seg_block(wl, s, v);
            const int32_t *part = x->w->blk[b] + (s->kind == SEG_RANGE ? (size_t)v << G : 0);
            if ((st = zk__mle_i32_mt(part, (size_t)1 << lr, (size_t)1 << (G - lr), lr, G - lr, t->r, threads, &vals[v],
                                     &t->err)) != EM_OK)
                return st;
        }
        if (derive)
            leaf_derive(s, x->ch, leaf[1], vals, nv);
        if ((st = zk__put_ff2(&wr, "lookup-leaf", vals, nv, &t->err)) != EM_OK)
            return st;
    }
    return EM_OK;
}

static void small_tree_chunk(void *vctx, size_t b, size_t e, unsigned slot)
{
    (void)slot;
    const lu_run *x = vctx;
    for (size_t i = b; i < e; i++) {
        lu_tree *t = &x->trees[x->order[i]];
        lu_tabs tb;
        if ((t->st = tabs_alloc(tree_log(t->g), &tb, &t->err)) != EM_OK)
            continue;
        t->st = tree_prove(x, t, 1, &tb);
        tabs_free(&tb);
    }
}

/* The fork of the main transcript for tree gi (prover and verifier alike). */
static void tree_fork(const tr_t *main_tr, size_t gi, tr_t *out)
{
    *out = *main_tr;
    tr_absorb_u64(out, "lookup-tree", gi);
}

/* Closes tree gi's fork into the main transcript. */
static void tree_join(tr_t *main_tr, tr_t *fork)
{
    uint8_t d[32];
    tr_challenge_bytes(fork, "lookup-tree-end", d, sizeof d);
    tr_absorb_bytes(main_tr, "lookup-tree-digest", d, sizeof d);
}

em_status zk__requant_prove(const zk_vk *vk, const zk_wlayout *wl, const zk_wit *w, size_t n_samples, zk_wr *wr,
                            zk_claims *wc, zk_qclaims *qc, em_err *err)
{
    (void)n_samples;
    lu_layout L;
    lu_chal ch;
    em_status st;
    lu_tabs big = {0};
    lu_tree *trees = NULL;
    size_t order[ZK_MAX_BLOCKS], n_small = 0;
    if ((st = lu_layout_build(vk, wl, &L, err)) != EM_OK)
        return st;
    lu_group grp[ZK_MAX_BLOCKS];
    size_t ng = lu_groups(&L, grp);
    draw_chal(wr->tr, &ch);
    if (!(trees = calloc(ng ? ng : 1, sizeof *trees)))
        return em_errf(err, EM_ERR_NOMEM, "lookup: out of memory");
    /* side by side only with two threads or more and two small trees or more */
    size_t n_cand = 0;
    for (size_t gi = 0; gi < ng; gi++)
        n_cand += tree_log(&grp[gi]) <= LU_GROUP_FREE_LOG;
    int side = wr->threads > 1 && n_cand >= 2;
    unsigned gbig = 0; /* the largest tree proven over all threads */
    for (size_t gi = 0; gi < ng; gi++) {
        lu_tree *t = &trees[gi];
        unsigned Gt = tree_log(&grp[gi]);
        t->g = &grp[gi];
        t->small = side && Gt <= LU_GROUP_FREE_LOG;
        t->buf = (em_buf){.max = wr->buf->max};
        tree_fork(wr->tr, gi, &t->tr);
        if (t->small)
            order[n_small++] = gi;
        else if (Gt > gbig)
            gbig = Gt;
    }
    for (size_t i = 1; i < n_small; i++) /* largest first: the threads finish together */
        for (size_t k = i; k > 0 && tree_log(&grp[order[k]]) > tree_log(&grp[order[k - 1]]); k--) {
            size_t tmp = order[k];
            order[k] = order[k - 1];
            order[k - 1] = tmp;
        }
    if (em_log_get_level() >= EM_LOG_DEBUG) {
        char sizes[256] = "";
        for (size_t gi = 0; gi < ng && gi < 24; gi++) {
            size_t l = strlen(sizes);
            snprintf(sizes + l, sizeof sizes - l, "%s%ux2^%u", gi ? " " : "", grp[gi].k, grp[gi].G);
        }
        EM_DEBUG("zk_prove: %zu lookup segments in %zu fraction trees: %s (%zu side by side)", L.n, ng, sizes,
                 n_small);
    }
    lu_run run = {.vk = vk, .wl = wl, .w = w, .L = &L, .ch = &ch, .forge = wr->forge, .trees = trees,
                  .order = order};
    double t0 = em_now_ms();
    int any_big = n_small < ng;
    if (any_big && (st = tabs_alloc(gbig, &big, err)) != EM_OK)
        goto out;
    for (size_t gi = 0; gi < ng; gi++) {
        if (!trees[gi].small && (st = tree_prove(&run, &trees[gi], wr->threads, &big)) != EM_OK) {
            if (err) /* callers may pass no error struct */
                *err = trees[gi].err;
            goto out;
        }
    }
    tabs_free(&big); /* the small trees' tables may reuse its memory */
    double t1 = em_now_ms();
    if (n_small)
        zk__par_for(wr->threads, n_small, 1, small_tree_chunk, &run);
    EM_DEBUG("zk_prove: lookups: %.1f ms large trees, %.1f ms small ones", t1 - t0, em_now_ms() - t1);
    /* in tree order: the bytes, the claims, the fork's digest */
    for (size_t gi = 0; gi < ng; gi++) {
        lu_tree *t = &trees[gi];
        if (t->st != EM_OK) {
            st = t->st;
            if (err)
                *err = t->err;
            goto out;
        }
        if (em_buf_append(wr->buf, t->buf.data, t->buf.len) != EM_OK) {
            st = em_errf(err, EM_ERR_LIMIT, "proof exceeds %zu bytes", wr->buf->max);
            goto out;
        }
        for (unsigned k = 0; k < t->g->k; k++) {
            const lu_seg *s = &L.seg[t->g->seg[k]];
            for (unsigned v = 0; v < seg_nvals(vk, s); v++)
                if ((st = leaf_claim(wl, s, v, t->r, t->g->G, t->vals[k][v], wc, qc, err)) != EM_OK)
                    goto out;
        }
        tree_join(wr->tr, &t->tr);
    }
out:
    tabs_free(&big);
    if (trees)
        for (size_t gi = 0; gi < ng; gi++)
            em_buf_free(&trees[gi].buf);
    free(trees);
    return st;
}

/* ---- verifier ------------------------------------------------------------------------------- */

em_status zk__requant_verify(const zk_vk *vk, const zk_wlayout *wl, const int32_t *output, size_t n_samples,
                             zk_rd *rd_main, zk_claims *wc, zk_qclaims *qc, em_err *err)
{
    lu_layout L;
    lu_chal ch;
    em_status st;
    ff2_t r[ZK_MAX_VARS + 2];
    if ((st = lu_layout_build(vk, wl, &L, err)) != EM_OK)
        return st;
    draw_chal(rd_main->tr, &ch);
    const tr_t base = *rd_main->tr; /* every tree forks from here, as the prover's do */
    ff2_t sumP = ff2_zero(), sumQ = ff2_one();
    lu_group grp[ZK_MAX_BLOCKS];
    size_t ng = lu_groups(&L, grp);
    for (size_t gi = 0; gi < ng; gi++) {
        const lu_group *g = &grp[gi];
        unsigned G = g->G, Gt = tree_log(g);
        tr_t ftr; /* the tree's own transcript (zk__requant_prove) */
        tree_fork(&base, gi, &ftr);
        zk_rd frd = {.tr = &ftr, .rd = rd_main->rd}, *rd = &frd;
        ff2_t root[2];
        if ((st = zk__get_ff2(rd, "lookup-root", root, 2, err)) != EM_OK)
            return st;
        if (ff2_is_zero(root[1]))
            return em_errf(err, EM_ERR_VERIFY, "lookup: zero denominator");
        frac_add(&sumP, &sumQ, root[0], root[1]);
        ff2_t cp = root[0], cq = root[1];
        for (unsigned d = 0; d < Gt; d++)
            if ((st = zk__frac_level_verify(rd, d, r, &cp, &cq, err)) != EM_OK)
                return st;
        /* the group's leaf MLE at r: sum_t eq(r_high, t) * segment t's leaves at r_low */
        ff2_t eqh[LU_MAX_GROUP], sp = ff2_zero(), sq = ff2_zero();
        ml_eq_table(r + G, g->lk, ff2_one(), eqh);
        for (unsigned t = 0; t < g->k; t++) {
            const lu_seg *s = &L.seg[g->seg[t]];
            ff2_t vals[LU_MAX_VALS], ylast = ff2_zero(), lp, lq;
            unsigned nv = seg_nvals(vk, s);
            if ((st = zk__get_ff2(rd, "lookup-leaf", vals, nv, err)) != EM_OK)
                return st;
            for (unsigned v = 0; v < nv; v++)
                if ((st = leaf_claim(wl, s, v, r, G, vals[v], wc, qc, err)) != EM_OK)
                    return st;
            if (s->kind == SEG_PAIR && s->layer + 1 == vk->n_layers) {
                const zk_layer *ly = &vk->layers[s->layer];
                if ((st = zk__out_mle(ly, output, n_samples, wl->lb, r, &ylast, err)) != EM_OK)
                    return st;
            }
            leaf_eval(vk, s, G, &ch, r, vals, ylast, &lp, &lq);
            sp = ff2_add(sp, zk__mul2(eqh[t], lp));
            sq = ff2_add(sq, zk__mul2(eqh[t], lq));
        }
        if (!ff2_eq(sp, cp) || !ff2_eq(sq, cq))
            return em_errf(err, EM_ERR_VERIFY,
                           "lookup: leaf values of segment %u's fraction tree (%u segments) do not match it",
                           g->seg[0], g->k);
        tree_join(rd_main->tr, &ftr);
    }
    /* sumQ is a product of non-zero roots, so the sum of fractions is zero iff sumP is */
    if (!ff2_is_zero(sumP))
        return em_errf(err, EM_ERR_VERIFY, "lookup: some value is not in its table (requantization, activation "
                                           "or remainder range check fails)");
    return EM_OK;
}
