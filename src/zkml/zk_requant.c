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
 * is split into segments (each witness column block, each table with numerators -m_j); every
 * segment is one fraction tree over exactly its 2^log leaves (no padding leaves), proven level
 * by level (node x of level d has children x and x + 2^d), and the verifier checks that the
 * roots' fractions sum to zero. A segment's leaf claim is a claim on one committed block (or on
 * the public output / a public table the verifier evaluates), except q: q is not committed, and
 * its leaf value goes to the layer's accumulator sumcheck, which runs at the pair segment's leaf
 * point (zk_qclaims). */
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/ff_vec.h"
#include "enclaveml/zkml/ml.h"
#include "zk_internal.h"

/* SEG_DRANGE: a maxpool difference block d_w (range [0, 2^act_bits)) */
enum { SEG_PAIR = 1, SEG_RANGE = 2, SEG_ACT_TABLE = 3, SEG_RANGE_TABLE = 4, SEG_DRANGE = 5 };

typedef struct lu_seg {
    int kind;
    uint32_t layer;
    unsigned limb, bits, act;
    uint64_t tag;
} lu_seg;

typedef struct lu_layout {
    size_t n;
    lu_seg seg[ZK_MAX_BLOCKS];
    zk_pack pack;
} lu_layout;

static uint64_t tag_act(unsigned act) { return 1 + act; }
static uint64_t tag_range(unsigned bits) { return 16 + bits; }

static em_status lu_layout_build(const zk_vk *vk, const zk_wlayout *wl, lu_layout *L, em_err *err)
{
    memset(L, 0, sizeof *L);
    int used_act[2] = {0, 0}, used_bits[ZK_RANGE_BITS + 1] = {0};
    for (uint32_t i = 0; i < vk->n_layers; i++) {
        const zk_layer *ly = &vk->layers[i];
        unsigned lg = wl->lb + ly->lv_out;
        if (ly->kind == NN_MAXPOOL) {
            for (unsigned t = 0; t < zk__pool_slots(ly); t++) {
                unsigned b = vk->act_bits;
                L->seg[L->n] = (lu_seg){.kind = SEG_DRANGE, .layer = i, .limb = t, .bits = b, .tag = tag_range(b)};
                L->pack.log[L->n++] = lg;
                used_bits[b] = 1;
            }
            continue;
        }
        L->seg[L->n] = (lu_seg){.kind = SEG_PAIR, .layer = i, .act = ly->act, .tag = tag_act(ly->act)};
        L->pack.log[L->n++] = lg;
        used_act[ly->act] = 1;
        for (unsigned t = 0; t < wl->nl[i]; t++) {
            unsigned b = zk__limb_bits(ly->shift, wl->lbits, t);
            L->seg[L->n] = (lu_seg){.kind = SEG_RANGE, .layer = i, .limb = t, .bits = b, .tag = tag_range(b)};
            L->pack.log[L->n++] = lg;
            used_bits[b] = 1;
        }
    }
    for (unsigned a = 0; a < 2; a++)
        if (used_act[a]) {
            L->seg[L->n] = (lu_seg){.kind = SEG_ACT_TABLE, .act = a, .tag = tag_act(a)};
            L->pack.log[L->n++] = wl->tbits;
        }
    for (unsigned b = 1; b <= ZK_RANGE_BITS; b++)
        if (used_bits[b]) {
            L->seg[L->n] = (lu_seg){.kind = SEG_RANGE_TABLE, .bits = b, .tag = tag_range(b)};
            L->pack.log[L->n++] = b;
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

/* ---- multiplicities (prover, before the witness commitment) -------------------------------- */

void zk__requant_mults(const zk_vk *vk, const zk_wlayout *wl, zk_wit *w)
{
    int64_t off = (int64_t)1 << (wl->tbits - 1);
    for (uint32_t i = 0; i < vk->n_layers; i++) {
        const zk_layer *ly = &vk->layers[i];
        size_t n = (size_t)1 << (wl->lb + ly->lv_out);
        if (ly->kind == NN_MAXPOOL) {
            int32_t *mr = w->blk[wl->m_rng_blk[vk->act_bits]];
            for (unsigned t = 0; t < zk__pool_slots(ly); t++) {
                const int32_t *D = w->blk[wl->d_blk[i][t]];
                for (size_t e = 0; e < n; e++)
                    if (D[e] >= 0 && (uint32_t)D[e] < (1u << vk->act_bits))
                        mr[D[e]]++;
            }
            continue;
        }
        const int32_t *Q = w->blk[wl->q_blk[i]];
        int32_t *m = w->blk[wl->m_act_blk[ly->act]];
        for (size_t e = 0; e < n; e++) {
            int64_t j = (int64_t)Q[e] + off;
            if (j >= 0 && j < 2 * off)
                m[j]++;
        }
        for (unsigned t = 0; t < wl->nl[i]; t++) {
            unsigned b = zk__limb_bits(ly->shift, wl->lbits, t);
            const int32_t *R = w->blk[wl->r_blk[i][t]];
            int32_t *mr = w->blk[wl->m_rng_blk[b]];
            for (size_t e = 0; e < n; e++)
                if (R[e] >= 0 && (uint32_t)R[e] < (1u << b))
                    mr[R[e]]++;
        }
    }
}

/* ---- fraction-tree sumcheck helpers --------------------------------------------------------- */

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

static inline __attribute__((always_inline)) ff2_t fr(ff2_t p0, ff2_t p1, ff2_t q0, ff2_t q1, ff2_t lam)
{
    ff2_t q01 = zk__mul2(q0, q1);
    return ff2_add(ff2_add(zk__mul2(p0, q1), zk__mul2(p1, q0)), zk__mul2(lam, q01));
}

/* One level: proves sum_x eq(r,x) [P0 Q1 + P1 Q0 + lam Q0 Q1] = claim over d variables; the
 * arrays (2^d each, consumed) are the children halves. On return r holds the new point (d+1). */
/* One level's sumcheck state. The eq factor is kept outside the summand (Gruen's trick): in round
 * t the round polynomial is g(X) = pref * eq1(r_t, X) * h(X), with pref the eq factors of the
 * variables already bound, eq1(r, X) = (1-r)(1-X) + rX, and h of degree 2 summed against the eq
 * table of the remaining variables er; h is evaluated at 0 and 2 only (h(1) follows from the
 * claim), and only P0, P1, Q0, Q1 are folded. The bottom level of a witness segment has all
 * numerators 1 (p_one): the summand is Q0 + Q1 + lam Q0 Q1 and the numerator tables are neither
 * read nor folded.
 * Round 0 sums over the children halves in place; every later round is one pass (lvl_step) that
 * binds the previous challenge, halves the eq table (er'[j] = er[2j] + er[2j+1]: summing out the
 * next variable) and sums the new round over the folded pairs. Passes write out of place and
 * split into chunks of pairs over the threads; chunk sums are added in chunk order (exact field
 * arithmetic, so the proof does not depend on the thread count). */
typedef struct lvl_ctx {
    const ff2_t *in[5]; /* er, P0, P1, Q0, Q1 */
    ff2_t *out[5];
    const ff2_t *par_p, *par_q; /* round 0: the parent level (the summand at X = 0), or NULL */
    ff2_t lam, c;
    int p_one, with_one, eval; /* with_one: also evaluate h(1) (degenerate challenges) */
    ff2_t part[ZK_MAX_THREADS][3];
} lvl_ctx;

enum { STEP_BLK = 128 }; /* pairs per block of a vectorised pass */

/* Adds the round sums over nb pairs whose tables start at t[1..5) (interleaved: pair j is
 * entries 2j, 2j+1; P0, P1 unused when p_one) with eq weights er[0..nb). The pairs are split
 * into even/odd arrays so the products and eq-weighted sums run on the ff2_vec kernels; lam
 * multiplies each block's Q0 Q1 sum once. */
static void lvl_block(const lvl_ctx *x, const ff2_t *const *t, const ff2_t *er, size_t nb, const ff2_t *pp,
                      const ff2_t *pq, ff2_t *s)
{
    ff2_t v[3][4][STEP_BLK], pr[3][STEP_BLK]; /* v[point][table][j] */
    unsigned k0 = x->p_one ? 3 : 1;
    if (pp) {
        /* at X = 0 the summand is the parent level's entry 2j, already built by tree_prove */
        for (size_t j = 0; j < nb; j++) {
            pr[0][j] = pp[2 * j];
            pr[1][j] = pq[2 * j];
        }
        ff2_t num = ff2_vec_dot(er, pr[0], nb), den = ff2_vec_dot(er, pr[1], nb);
        s[0] = ff2_add(s[0], ff2_add(num, zk__mul2(x->lam, den)));
    }
    for (unsigned k = k0; k < 5; k++) {
        const ff2_t *src = t[k];
        for (size_t j = 0; j < nb; j++) {
            v[0][k - 1][j] = src[2 * j];
            v[1][k - 1][j] = src[2 * j + 1];
        }
        /* value at 2: 2 hi - lo, coordinatewise */
        ff_t *v2 = (ff_t *)v[2][k - 1];
        const ff_t *lo = (const ff_t *)v[0][k - 1], *hi = (const ff_t *)v[1][k - 1];
        ff_vec_add(v2, hi, hi, 2 * nb);
        ff_vec_sub(v2, v2, lo, 2 * nb);
    }
    for (unsigned pt = pp ? 1 : 0; pt < 3; pt++) {
        if (pt == 1 && !x->with_one)
            continue;
        const ff2_t *P0 = v[pt][0], *P1 = v[pt][1], *Q0 = v[pt][2], *Q1 = v[pt][3];
        ff2_vec_mul(pr[0], Q0, Q1, nb);
        if (x->p_one) {
            ff_vec_add((ff_t *)pr[1], (const ff_t *)Q0, (const ff_t *)Q1, 2 * nb);
        } else {
            ff2_vec_mul(pr[1], P0, Q1, nb);
            ff2_vec_mul(pr[2], P1, Q0, nb);
            ff_vec_add((ff_t *)pr[1], (const ff_t *)pr[1], (const ff_t *)pr[2], 2 * nb);
        }
        ff2_t num = ff2_vec_dot(er, pr[1], nb), den = ff2_vec_dot(er, pr[0], nb);
        s[pt] = ff2_add(s[pt], ff2_add(num, zk__mul2(x->lam, den)));
    }
}

/* Round 0 over pairs [b, e). */
static void lvl_eval(void *vctx, size_t b, size_t e, unsigned tid)
{
    lvl_ctx *x = vctx;
    ff2_t s[3] = {ff2_zero(), ff2_zero(), ff2_zero()};
    for (size_t j0 = b; j0 < e; j0 += STEP_BLK) {
        size_t nb = e - j0 < STEP_BLK ? e - j0 : STEP_BLK;
        const ff2_t *t[5];
        for (unsigned k = 1; k < 5; k++)
            t[k] = x->in[k] + 2 * j0;
        lvl_block(x, t, x->in[0] + j0, nb, x->par_p ? x->par_p + 2 * j0 : NULL, x->par_q ? x->par_q + 2 * j0 : NULL,
                  s);
    }
    memcpy(x->part[tid], s, sizeof s);
}

/* Binds c over new pairs [b, e) (new entries 2j, 2j+1 from 4j..4j+3) with the ff2_vec fold
 * kernel, block by block, halves the eq table and, with eval, sums the next round over the
 * block while it is in cache. */
static void lvl_step(void *vctx, size_t b, size_t e, unsigned tid)
{
    lvl_ctx *x = vctx;
    ff2_t s[3] = {ff2_zero(), ff2_zero(), ff2_zero()}, c = x->c;
    unsigned k0 = x->p_one ? 3 : 1;
    const ff2_t *er = x->in[0];
    for (size_t j0 = b; j0 < e; j0 += STEP_BLK) {
        size_t nb = e - j0 < STEP_BLK ? e - j0 : STEP_BLK;
        const ff2_t *t[5];
        for (unsigned k = k0; k < 5; k++) {
            ff2_vec_fold(x->out[k] + 2 * j0, x->in[k] + 4 * j0, 2 * nb, c);
            t[k] = x->out[k] + 2 * j0;
        }
        ff2_t *en = x->out[0] + j0;
        for (size_t j = 0; j < nb; j++)
            en[j] = ff2_add(er[2 * (j0 + j)], er[2 * (j0 + j) + 1]);
        if (x->eval)
            lvl_block(x, t, en, nb, NULL, NULL, s);
    }
    memcpy(x->part[tid], s, sizeof s);
}

#define ZK_PAR_MIN 4096 /* pairs per thread below which a round runs inline */

/* eq1(r, X) = (1 - r)(1 - X) + r X at X = v */
static ff2_t eq1(ff2_t r, uint64_t v)
{
    /* 1 - r - v + 2 r v */
    ff2_t t = ff2_sub(ff2_sub(ff2_one(), r), ff2_from_base(v));
    return ff2_add(t, ff2_mul_base(r, 2 * v));
}

static void lvl_sums(const lvl_ctx *x, unsigned nc, ff2_t H[3])
{
    H[0] = H[1] = H[2] = ff2_zero();
    for (unsigned k = 0; k < nc; k++)
        for (unsigned i = 0; i < 3; i++)
            H[i] = ff2_add(H[i], x->part[k][i]);
}

/* src[1..5): P0, P1, Q0, Q1 (2^d each, read only; P0, P1 unused when p_one). buf and alt: 5
 * scratch arrays of 2^(d-1) entries each (slot 0 for the eq table). */
static em_status level_prove(zk_wr *w, unsigned d, int p_one, ff2_t *r, const ff2_t *const *src, const ff2_t *par_p,
                             const ff2_t *par_q, ff2_t **buf, ff2_t **alt, ff2_t *cp, ff2_t *cq, em_err *err)
{
    lvl_ctx x;
    memset(&x, 0, sizeof x);
    x.lam = tr_challenge_ff2(w->tr, "gkr-lambda");
    x.p_one = p_one;
    ff2_t claim = ff2_add(*cp, zk__mul2(x.lam, *cq));
    ff2_t s[ZK_MAX_VARS + 2], pref = ff2_one(), fin[4];
    em_status st;
    if (d == 0) {
        for (unsigned k = 1; k < 5; k++)
            fin[k - 1] = p_one && k < 3 ? ff2_one() : src[k][0];
    } else {
        zk__eq_table(r + 1, d - 1, ff2_one(), buf[0], 0, w->threads);
        x.in[0] = buf[0];
        for (unsigned k = 1; k < 5; k++)
            x.in[k] = src[k];
        x.with_one = ff2_is_zero(r[0]);
        x.par_p = par_p;
        x.par_q = par_q;
        ff2_t H[3];
        lvl_sums(&x, zk__par_for(w->threads, (size_t)1 << (d - 1), ZK_PAR_MIN, lvl_eval, &x), H);
        size_t n = (size_t)1 << d; /* entries per table this round */
        for (unsigned t = 0; t < d; t++) {
            ff2_t rt = r[t];
            if (!x.with_one) {
                /* claim = pref * ((1 - r_t) H0 + r_t H1) */
                ff2_t rest = ff2_sub(zk__mul2(claim, ff2_inv(pref)), zk__mul2(ff2_sub(ff2_one(), rt), H[0]));
                H[1] = zk__mul2(rest, ff2_inv(rt));
            }
            /* h has degree 2: h(3) = h(0) - 3 h(1) + 3 h(2) */
            ff2_t H3 = ff2_add(ff2_sub(H[0], ff2_mul_base(H[1], 3)), ff2_mul_base(H[2], 3));
            ff2_t g0 = zk__mul2(pref, zk__mul2(eq1(rt, 0), H[0]));
            ff2_t g2 = zk__mul2(pref, zk__mul2(eq1(rt, 2), H[2]));
            ff2_t g3 = zk__mul2(pref, zk__mul2(eq1(rt, 3), H3));
            ff2_t msg[3] = {g0, g2, g3};
            if ((st = zk__put_ff2(w, "gkr-round", msg, 3, err)) != EM_OK)
                return st;
            x.c = tr_challenge_ff2(w->tr, "gkr-chal");
            s[t] = x.c;
            ff2_t g[4] = {g0, ff2_sub(claim, g0), g2, g3};
            claim = interp3(g, x.c);
            ff2_t e1c = ff2_add(ff2_sub(ff2_sub(ff2_one(), rt), x.c), ff2_add(zk__mul2(rt, x.c), zk__mul2(rt, x.c)));
            pref = zk__mul2(pref, e1c);
            if (n == 2) { /* the last binding: one value per table */
                for (unsigned k = 1; k < 5; k++) {
                    const ff2_t *v = x.in[k];
                    fin[k - 1] = p_one && k < 3 ? ff2_one() : ff2_add(v[0], zk__mul2(x.c, ff2_sub(v[1], v[0])));
                }
                break;
            }
            /* outputs alternate between alt and buf; round 0 reads src (never written) */
            ff2_t **dst = t % 2 == 0 ? alt : buf;
            for (unsigned k = 0; k < 5; k++)
                x.out[k] = dst[k];
            x.eval = 1;
            x.par_p = x.par_q = NULL;
            x.with_one = ff2_is_zero(r[t + 1]) || ff2_is_zero(pref);
            lvl_sums(&x, zk__par_for(w->threads, n / 4, ZK_PAR_MIN / 2, lvl_step, &x), H);
            for (unsigned k = 0; k < 5; k++)
                x.in[k] = x.out[k];
            n /= 2;
        }
    }
    if ((st = zk__put_ff2(w, "gkr-final", fin, 4, err)) != EM_OK)
        return st;
    ff2_t mu = tr_challenge_ff2(w->tr, "gkr-mu");
    memcpy(r, s, d * sizeof *r);
    r[d] = mu;
    *cp = ff2_add(fin[0], zk__mul2(mu, ff2_sub(fin[1], fin[0])));
    *cq = ff2_add(fin[2], zk__mul2(mu, ff2_sub(fin[3], fin[2])));
    return EM_OK;
}

static em_status level_verify(zk_rd *rd, unsigned d, ff2_t *r, ff2_t *cp, ff2_t *cq, em_err *err)
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
        s[t] = c;
        ff2_t g[4] = {msg[0], ff2_sub(claim, msg[0]), msg[1], msg[2]};
        claim = interp3(g, c);
    }
    ff2_t fin[4];
    if ((st = zk__get_ff2(rd, "gkr-final", fin, 4, err)) != EM_OK)
        return st;
    if (!ff2_eq(claim, zk__mul2(ml_eq_eval(r, s, d), fr(fin[0], fin[1], fin[2], fin[3], lam))))
        return em_errf(err, EM_ERR_VERIFY, "lookup: fraction-tree sumcheck fails at depth %u", d);
    ff2_t mu = tr_challenge_ff2(rd->tr, "gkr-mu");
    memcpy(r, s, d * sizeof *r);
    r[d] = mu;
    *cp = ff2_add(fin[0], zk__mul2(mu, ff2_sub(fin[1], fin[0])));
    *cq = ff2_add(fin[2], zk__mul2(mu, ff2_sub(fin[3], fin[2])));
    return EM_OK;
}

/* ---- per-segment leaves ---------------------------------------------------------------- */

typedef struct lu_chal {
    ff2_t alpha, beta, gamma;
} lu_chal;

/* Number of prover-sent leaf evaluations for segment s (y of the last layer is public). */
static unsigned seg_nvals(const zk_vk *vk, const lu_seg *s)
{
    if (s->kind == SEG_PAIR)
        return s->layer + 1 < vk->n_layers ? 2 : 1;
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
        return wl->m_act_blk[s->act];
    default:
        return wl->m_rng_blk[s->bits];
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
    case SEG_DRANGE:
        *cp = ff2_one();
        *cq = ff2_sub(ch->alpha, ff2_add(vals[0], tagg));
        break;
    case SEG_ACT_TABLE: {
        ff2_t tq, ty;
        act_table_eval(vk, log, s->act, z, &tq, &ty);
        *cp = ff2_neg(vals[0]);
        *cq = ff2_sub(ch->alpha, ff2_add(ff2_add(tq, zk__mul2(ch->beta, ty)), tagg));
        break;
    }
    default:
        *cp = ff2_neg(vals[0]);
        *cq = ff2_sub(ch->alpha, ff2_add(ml_identity_eval(s->bits, z), tagg));
        break;
    }
}

/* Leaf denominators of a witness segment over chunks of leaves: am - (q + beta y) for the
 * (q, y) pairs, am - r for a remainder limb or a max-pool difference block. */
typedef struct leaf_ctx {
    const zk_vk *vk;
    const zk_wit *w;
    const lu_seg *s;
    const int32_t *u, *yy; /* yy NULL: the last layer's y comes from the public output */
    ff2_t am, beta;
    ff2_t *q;
} leaf_ctx;

static void leaf_chunk(void *vctx, size_t b, size_t e, unsigned slot)
{
    (void)slot;
    const leaf_ctx *x = vctx;
    if (x->s->kind != SEG_PAIR) {
        for (size_t i = b; i < e; i++)
            x->q[i] = ff2_sub(x->am, ff2_from_base(ff_from_i64(x->u[i])));
        return;
    }
    const zk_layer *ly = &x->vk->layers[x->s->layer];
    size_t M = (size_t)1 << ly->lv_out;
    for (size_t i = b; i < e; i++) {
        int32_t yv = x->yy ? x->yy[i] : zk__out_at(ly, x->w->out, x->w->n_samples, i / M, i % M); /* position-padded */
        x->q[i] = ff2_sub(x->am, ff2_add(ff2_from_base(ff_from_i64(x->u[i])), ff2_mul_base(x->beta, ff_from_i64(yv))));
    }
}

/* Witness segments' numerators are all 1 and never read (p_one), so p is left unwritten. */
static void fill_leaves(const zk_vk *vk, const zk_wlayout *wl, const zk_wit *w, const lu_seg *s, unsigned log,
                        const lu_chal *ch, unsigned threads, ff2_t *p, ff2_t *q)
{
    size_t n = (size_t)1 << log;
    int64_t off = (int64_t)1 << (wl->tbits - 1);
    ff2_t am = ff2_sub(ch->alpha, ff2_mul_base(ch->gamma, ff_from_u64(s->tag)));
    switch (s->kind) {
    case SEG_PAIR:
    case SEG_RANGE:
    case SEG_DRANGE: {
        leaf_ctx x = {.vk = vk, .w = w, .s = s, .u = w->blk[seg_block(wl, s, 0)], .am = am, .beta = ch->beta, .q = q};
        if (s->kind == SEG_PAIR && wl->y_blk[s->layer] != ZK_NO_BLOCK)
            x.yy = w->blk[wl->y_blk[s->layer]];
        zk__par_for(threads, n, (size_t)1 << 14, leaf_chunk, &x);
        break;
    }
    case SEG_ACT_TABLE: {
        const int32_t *m = w->blk[wl->m_act_blk[s->act]];
        for (size_t j = 0; j < n; j++) {
            int64_t qv = (int64_t)j - off;
            p[j] = ff2_from_base(ff_neg(ff_from_i64(m[j])));
            q[j] = ff2_sub(am, ff2_add(ff2_from_base(ff_from_i64(qv)),
                                       ff2_mul_base(ch->beta, ff_from_i64(act_table_y(vk, s->act, qv)))));
        }
        break;
    }
    default: {
        const int32_t *m = w->blk[wl->m_rng_blk[s->bits]];
        for (size_t j = 0; j < n; j++) {
            p[j] = ff2_from_base(ff_neg(ff_from_i64(m[j])));
            q[j] = ff2_sub(am, ff2_from_base((ff_t)j));
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
}

/* Running sum of fractions: (P, Q) += (p, q). */
static void frac_add(ff2_t *P, ff2_t *Q, ff2_t p, ff2_t q)
{
    *P = ff2_add(zk__mul2(*P, q), zk__mul2(p, *Q));
    *Q = zk__mul2(*Q, q);
}

/* ---- prover --------------------------------------------------------------------------------- */

typedef struct build_ctx {
    const ff2_t *P1, *Q1; /* level d+1 */
    ff2_t *P0, *Q0;       /* level d */
    size_t h;
    int p_one; /* level d+1 has all numerators 1: P0 = q0 + q1 */
} build_ctx;

enum { VBLK = 256 }; /* block of a vectorised pass (stays in L1) */

/* Parent (P0, Q0)[i] = (p0 q1 + p1 q0, q0 q1) of children i and i + h: whole-array products,
 * so the ff2_vec kernels apply. */
static void build_level(void *vctx, size_t b, size_t e, unsigned tid)
{
    (void)tid;
    build_ctx *x = vctx;
    size_t h = x->h;
    ff2_t tmp[VBLK];
    for (size_t i = b; i < e; i += VBLK) {
        size_t n = e - i < VBLK ? e - i : VBLK;
        const ff2_t *q0 = x->Q1 + i, *q1 = x->Q1 + i + h;
        ff2_vec_mul(x->Q0 + i, q0, q1, n);
        if (x->p_one) {
            ff_vec_add((ff_t *)(x->P0 + i), (const ff_t *)q0, (const ff_t *)q1, 2 * n);
        } else {
            ff2_vec_mul(x->P0 + i, x->P1 + i, q1, n);
            ff2_vec_mul(tmp, x->P1 + i + h, q0, n);
            ff_vec_add((ff_t *)(x->P0 + i), (const ff_t *)(x->P0 + i), (const ff_t *)tmp, 2 * n);
        }
    }
}

/* One fraction tree over 2^G leaves (P[G], Q[G] filled); levels P[d], Q[d] for d < G are
 * computed here. Sends the root, proves every level and leaves the leaf point in r. buf and
 * alt: 5 scratch arrays each of 2^(G-1) entries. */
static em_status tree_prove(zk_wr *wr, unsigned G, int leaves_p_one, ff2_t **P, ff2_t **Q, ff2_t **buf,
                            ff2_t **alt, ff2_t *r, ff2_t *root, em_err *err)
{
    em_status st;
    for (unsigned d = G; d-- > 0;) {
        build_ctx b = {.P1 = P[d + 1], .Q1 = Q[d + 1], .P0 = P[d], .Q0 = Q[d], .h = (size_t)1 << d,
                       .p_one = leaves_p_one && d + 1 == G};
        zk__par_for(wr->threads, b.h, ZK_PAR_MIN, build_level, &b);
    }
    root[0] = leaves_p_one && G == 0 ? ff2_one() : P[0][0]; /* fill_leaves leaves p_one numerators unset */
    root[1] = Q[0][0];
    if ((st = zk__put_ff2(wr, "lookup-root", root, 2, err)) != EM_OK)
        return st;
    ff2_t cp = root[0], cq = root[1];
    for (unsigned d = 0; d < G; d++) {
        size_t h = (size_t)1 << d;
        int p_one = leaves_p_one && d + 1 == G;
        const ff2_t *src[5] = {NULL, P[d + 1], P[d + 1] + h, Q[d + 1], Q[d + 1] + h};
        if ((st = level_prove(wr, d, p_one, r, src, P[d], Q[d], buf, alt, &cp, &cq, err)) != EM_OK)
            return st;
    }
    return EM_OK;
}

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
    return zk__claims_add(wc, seg_block(wl, s, v), r, G, val, err);
}

em_status zk__requant_prove(const zk_vk *vk, const zk_wlayout *wl, const zk_wit *w, size_t n_samples, zk_wr *wr,
                            zk_claims *wc, zk_qclaims *qc, em_err *err)
{
    (void)n_samples;
    lu_layout L;
    lu_chal ch;
    em_status st;
    ff2_t *P[ZK_MAX_LOG_LOOKUP + 1] = {NULL}, *Q[ZK_MAX_LOG_LOOKUP + 1] = {NULL}, *tmp = NULL;
    ff2_t *buf[5], *alt[5];
    ff2_t r[ZK_MAX_VARS + 2];
    if ((st = lu_layout_build(vk, wl, &L, err)) != EM_OK)
        return st;
    unsigned gmax = 0;
    for (uint32_t i = 0; i < L.n; i++)
        gmax = L.pack.log[i] > gmax ? L.pack.log[i] : gmax;
    draw_chal(wr->tr, &ch);
    for (unsigned d = 0; d <= gmax; d++) {
        P[d] = zk__big_alloc(((size_t)1 << d) * sizeof **P);
        Q[d] = zk__big_alloc(((size_t)1 << d) * sizeof **Q);
        if (!P[d] || !Q[d]) {
            st = em_errf(err, EM_ERR_NOMEM, "lookup: out of memory (fraction tree of 2^%u leaves)", gmax);
            goto out;
        }
    }
    size_t maxh = gmax ? (size_t)1 << (gmax - 1) : 1;
    tmp = zk__big_alloc(10 * maxh * sizeof *tmp);
    if (!tmp) {
        st = em_errf(err, EM_ERR_NOMEM, "lookup: out of memory");
        goto out;
    }
    for (unsigned k = 0; k < 5; k++) {
        buf[k] = tmp + k * maxh;
        alt[k] = tmp + (5 + k) * maxh;
    }
    for (uint32_t i = 0; i < L.n; i++) {
        const lu_seg *s = &L.seg[i];
        unsigned G = L.pack.log[i];
        fill_leaves(vk, wl, w, s, G, &ch, wr->threads, P[G], Q[G]);
        ff2_t root[2];
        int witness_seg = s->kind == SEG_PAIR || s->kind == SEG_RANGE || s->kind == SEG_DRANGE;
        if ((st = tree_prove(wr, G, witness_seg, P, Q, buf, alt, r, root, err)) != EM_OK)
            goto out;
        ff2_t vals[2];
        unsigned nv = seg_nvals(vk, s);
        unsigned lr = witness_seg ? wl->lb : 0;
        for (unsigned v = 0; v < nv; v++) {
            uint32_t b = seg_block(wl, s, v);
            if ((st = zk__mle_i32_mt(w->blk[b], (size_t)1 << lr, (size_t)1 << (G - lr), lr, G - lr, r, wr->threads,
                                     &vals[v], err)) != EM_OK ||
                (st = leaf_claim(wl, s, v, r, G, vals[v], wc, qc, err)) != EM_OK)
                goto out;
        }
        if ((st = zk__put_ff2(wr, "lookup-leaf", vals, nv, err)) != EM_OK)
            goto out;
    }
out:
    for (unsigned d = 0; d <= ZK_MAX_LOG_LOOKUP; d++) {
        zk__big_free(P[d]);
        zk__big_free(Q[d]);
    }
    zk__big_free(tmp);
    return st;
}

/* ---- verifier ------------------------------------------------------------------------------- */

em_status zk__requant_verify(const zk_vk *vk, const zk_wlayout *wl, const int32_t *output, size_t n_samples,
                             zk_rd *rd, zk_claims *wc, zk_qclaims *qc, em_err *err)
{
    lu_layout L;
    lu_chal ch;
    em_status st;
    ff2_t r[ZK_MAX_VARS + 2];
    if ((st = lu_layout_build(vk, wl, &L, err)) != EM_OK)
        return st;
    draw_chal(rd->tr, &ch);
    ff2_t sumP = ff2_zero(), sumQ = ff2_one();
    for (uint32_t i = 0; i < L.n; i++) {
        const lu_seg *s = &L.seg[i];
        unsigned G = L.pack.log[i];
        ff2_t root[2];
        if ((st = zk__get_ff2(rd, "lookup-root", root, 2, err)) != EM_OK)
            return st;
        if (ff2_is_zero(root[1]))
            return em_errf(err, EM_ERR_VERIFY, "lookup: zero denominator");
        frac_add(&sumP, &sumQ, root[0], root[1]);
        ff2_t cp = root[0], cq = root[1];
        for (unsigned d = 0; d < G; d++)
            if ((st = level_verify(rd, d, r, &cp, &cq, err)) != EM_OK)
                return st;
        ff2_t vals[2], ylast = ff2_zero(), lp, lq;
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
        if (!ff2_eq(lp, cp) || !ff2_eq(lq, cq))
            return em_errf(err, EM_ERR_VERIFY, "lookup: leaf values of segment %u do not match its fraction tree", i);
    }
    /* sumQ is a product of non-zero roots, so the sum of fractions is zero iff sumP is */
    if (!ff2_is_zero(sumP))
        return em_errf(err, EM_ERR_VERIFY, "lookup: some value is not in its table (requantization, activation "
                                           "or remainder range check fails)");
    return EM_OK;
}
