/* Requantization, activation and remainder range checks as one batched logUp lookup, proven
 * with a fractional-sum GKR (logUp-GKR), so no inverse columns are committed.
 *
 * Lookups (docs/PROOFS.md "Requantization and activation"):
 *   - per dense layer, the pairs (q, y) into the table {(q, act(clamp(q))) : q in [-2^(T-1), 2^(T-1))}
 *     of its activation;
 *   - per dense layer and remainder limb t, r_t into [0, 2^b) with b = bits of that limb.
 * All go into one union table by tagging: an entry (tag, u, v) is encoded as u + beta*v +
 * gamma*tag with beta, gamma random after the witness commitment. The logUp identity
 *     sum_i 1/(alpha - f_i) = sum_j m_j/(alpha - t_j)
 * is proven as one fraction tree whose leaves are the witness columns (numerator 1), the tables
 * (numerator -m_j) and empty slots (0/1); the root numerator must be 0.
 *
 * Leaf vector: segments (each a power of two) packed like the witness polynomial, so a leaf
 * claim splits into claims on witness blocks at the segment's low variables. Level d+1 -> d:
 * node x has children x and x + 2^d (the new variable is the top one). */
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/ml.h"
#include "zk_internal.h"

enum { SEG_PAIR = 1, SEG_RANGE = 2, SEG_ACT_TABLE = 3, SEG_RANGE_TABLE = 4 };

typedef struct lu_seg {
    int kind;
    uint32_t layer;
    unsigned limb, bits, act;
    uint64_t tag;
} lu_seg;

typedef struct lu_layout {
    size_t n;
    lu_seg seg[5 * ZK_MAX_LAYERS + ZK_RANGE_BITS + 4];
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
        L->seg[L->n] = (lu_seg){.kind = SEG_PAIR, .layer = i, .act = ly->act, .tag = tag_act(ly->act)};
        L->pack.log[L->n++] = lg;
        used_act[ly->act] = 1;
        for (unsigned t = 0; t < ly->n_limbs; t++) {
            unsigned b = zk__limb_bits(ly->shift, t);
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
    L->pack.total_log = zk__layout(L->pack.log, L->n, L->pack.off);
    if (L->pack.total_log > ZK_MAX_LOG_LOOKUP)
        return em_errf(err, EM_ERR_LIMIT, "lookup of 2^%u entries is too large", L->pack.total_log);
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
            ff2_t blk = ff2_mul(prefix, nz);
            uint64_t high = (c >> (t + 1)) << (t + 1);
            ff2_t low = ff2_zero();
            for (unsigned u = 0; u < t; u++)
                low = ff2_add(low, ff2_mul_base(z[u], (ff_t)1 << u));
            a0 = ff2_add(a0, blk);
            a1 = ff2_add(a1, ff2_mul(blk, ff2_add(ff2_from_base(ff_from_u64(high)), low)));
            prefix = ff2_mul(prefix, zt);
        } else {
            prefix = ff2_mul(prefix, nz);
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
        const int32_t *Q = w->blk[wl->q_blk[i]];
        int32_t *m = w->blk[wl->m_act_blk[ly->act]];
        for (size_t e = 0; e < n; e++) {
            int64_t j = (int64_t)Q[e] + off;
            if (j >= 0 && j < 2 * off)
                m[j]++;
        }
        for (unsigned t = 0; t < ly->n_limbs; t++) {
            unsigned b = zk__limb_bits(ly->shift, t);
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
    ff_t inv2 = ff_inv(2), inv6 = ff_inv(6);
    ff2_t l0 = ff2_neg(ff2_mul_base(ff2_mul(ff2_mul(c1, c2), c3), inv6));
    ff2_t l1 = ff2_mul_base(ff2_mul(ff2_mul(c, c2), c3), inv2);
    ff2_t l2 = ff2_neg(ff2_mul_base(ff2_mul(ff2_mul(c, c1), c3), inv2));
    ff2_t l3 = ff2_mul_base(ff2_mul(ff2_mul(c, c1), c2), inv6);
    return ff2_add(ff2_add(ff2_mul(g[0], l0), ff2_mul(g[1], l1)), ff2_add(ff2_mul(g[2], l2), ff2_mul(g[3], l3)));
}

static inline ff2_t fr(ff2_t p0, ff2_t p1, ff2_t q0, ff2_t q1, ff2_t lam)
{
    ff2_t q01 = ff2_mul(q0, q1);
    return ff2_add(ff2_add(ff2_mul(p0, q1), ff2_mul(p1, q0)), ff2_mul(lam, q01));
}

/* One level: proves sum_x eq(r,x) [P0 Q1 + P1 Q0 + lam Q0 Q1] = claim over d variables; the
 * arrays (2^d each, consumed) are the children halves. On return r holds the new point (d+1). */
static em_status level_prove(zk_wr *w, unsigned d, ff2_t *r, ff2_t *E, ff2_t *P0, ff2_t *P1, ff2_t *Q0, ff2_t *Q1,
                             ff2_t *cp, ff2_t *cq, em_err *err)
{
    ff2_t lam = tr_challenge_ff2(w->tr, "gkr-lambda");
    ff2_t claim = ff2_add(*cp, ff2_mul(lam, *cq));
    ml_eq_table(r, d, ff2_one(), E);
    size_t n = (size_t)1 << d;
    ff2_t s[ZK_MAX_VARS + 2];
    em_status st;
    for (unsigned t = 0; t < d; t++) {
        size_t h = n >> 1;
        ff2_t g0 = ff2_zero(), g2 = ff2_zero(), g3 = ff2_zero();
        for (size_t i = 0; i < h; i++) {
            ff2_t e0 = E[2 * i], e1 = E[2 * i + 1], a0 = P0[2 * i], a1 = P0[2 * i + 1];
            ff2_t b0 = P1[2 * i], b1 = P1[2 * i + 1], c0 = Q0[2 * i], c1 = Q0[2 * i + 1];
            ff2_t d0 = Q1[2 * i], d1 = Q1[2 * i + 1];
            g0 = ff2_add(g0, ff2_mul(e0, fr(a0, b0, c0, d0, lam)));
            ff2_t de = ff2_sub(e1, e0), da = ff2_sub(a1, a0), db = ff2_sub(b1, b0), dc = ff2_sub(c1, c0),
                  dd = ff2_sub(d1, d0);
            ff2_t e2 = ff2_add(e1, de), a2 = ff2_add(a1, da), b2 = ff2_add(b1, db), c2 = ff2_add(c1, dc),
                  d2 = ff2_add(d1, dd);
            g2 = ff2_add(g2, ff2_mul(e2, fr(a2, b2, c2, d2, lam)));
            ff2_t e3 = ff2_add(e2, de), a3 = ff2_add(a2, da), b3 = ff2_add(b2, db), c3 = ff2_add(c2, dc),
                  d3 = ff2_add(d2, dd);
            g3 = ff2_add(g3, ff2_mul(e3, fr(a3, b3, c3, d3, lam)));
        }
        ff2_t msg[3] = {g0, g2, g3};
        if ((st = zk__put_ff2(w, "gkr-round", msg, 3, err)) != EM_OK)
            return st;
        ff2_t c = tr_challenge_ff2(w->tr, "gkr-chal");
        s[t] = c;
        ff2_t g[4] = {g0, ff2_sub(claim, g0), g2, g3};
        claim = interp3(g, c);
        for (size_t i = 0; i < h; i++) {
            E[i] = ff2_add(E[2 * i], ff2_mul(c, ff2_sub(E[2 * i + 1], E[2 * i])));
            P0[i] = ff2_add(P0[2 * i], ff2_mul(c, ff2_sub(P0[2 * i + 1], P0[2 * i])));
            P1[i] = ff2_add(P1[2 * i], ff2_mul(c, ff2_sub(P1[2 * i + 1], P1[2 * i])));
            Q0[i] = ff2_add(Q0[2 * i], ff2_mul(c, ff2_sub(Q0[2 * i + 1], Q0[2 * i])));
            Q1[i] = ff2_add(Q1[2 * i], ff2_mul(c, ff2_sub(Q1[2 * i + 1], Q1[2 * i])));
        }
        n = h;
    }
    ff2_t fin[4] = {P0[0], P1[0], Q0[0], Q1[0]};
    if ((st = zk__put_ff2(w, "gkr-final", fin, 4, err)) != EM_OK)
        return st;
    ff2_t mu = tr_challenge_ff2(w->tr, "gkr-mu");
    memcpy(r, s, d * sizeof *r);
    r[d] = mu;
    *cp = ff2_add(fin[0], ff2_mul(mu, ff2_sub(fin[1], fin[0])));
    *cq = ff2_add(fin[2], ff2_mul(mu, ff2_sub(fin[3], fin[2])));
    return EM_OK;
}

static em_status level_verify(zk_rd *rd, unsigned d, ff2_t *r, ff2_t *cp, ff2_t *cq, em_err *err)
{
    ff2_t lam = tr_challenge_ff2(rd->tr, "gkr-lambda");
    ff2_t claim = ff2_add(*cp, ff2_mul(lam, *cq));
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
    if (!ff2_eq(claim, ff2_mul(ml_eq_eval(r, s, d), fr(fin[0], fin[1], fin[2], fin[3], lam))))
        return em_errf(err, EM_ERR_VERIFY, "lookup: fraction-tree sumcheck fails at depth %u", d);
    ff2_t mu = tr_challenge_ff2(rd->tr, "gkr-mu");
    memcpy(r, s, d * sizeof *r);
    r[d] = mu;
    *cp = ff2_add(fin[0], ff2_mul(mu, ff2_sub(fin[1], fin[0])));
    *cq = ff2_add(fin[2], ff2_mul(mu, ff2_sub(fin[3], fin[2])));
    return EM_OK;
}

/* ---- leaf claims ---------------------------------------------------------------------------- */

/* eq of the segment's high variables (its index within the leaf vector) at z. */
static ff2_t seg_high_eq(const zk_pack *pk, uint32_t i, const ff2_t *z)
{
    unsigned l = pk->log[i];
    uint64_t idx = pk->off[i] >> l;
    ff2_t e = ff2_one();
    for (unsigned t = l; t < pk->total_log; t++)
        e = ff2_mul(e, ((idx >> (t - l)) & 1) ? z[t] : ff2_sub(ff2_one(), z[t]));
    return e;
}

typedef struct lu_chal {
    ff2_t alpha, beta, gamma;
} lu_chal;

/* Number of prover-sent evaluations for segment s (y of the last layer is public). */
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
    case SEG_ACT_TABLE:
        return wl->m_act_blk[s->act];
    default:
        return wl->m_rng_blk[s->bits];
    }
}

/* Recombines the leaf claims from per-segment values (verifier side; the prover runs it too
 * as a self-check). vals[] holds seg_nvals values per segment in order; ylast is y~ of the last
 * layer at its segment point (public). */
static void leaf_combine(const zk_vk *vk, const lu_layout *L, const lu_chal *ch, const ff2_t *z, const ff2_t *vals,
                         ff2_t ylast, ff2_t *cp, ff2_t *cq)
{
    ff2_t p = ff2_zero(), q = ff2_zero(), covered = ff2_zero();
    size_t k = 0;
    for (uint32_t i = 0; i < L->n; i++) {
        const lu_seg *s = &L->seg[i];
        ff2_t e = seg_high_eq(&L->pack, i, z), ps, qs, tagg = ff2_mul_base(ch->gamma, ff_from_u64(s->tag));
        switch (s->kind) {
        case SEG_PAIR: {
            ff2_t qv = vals[k], yv = s->layer + 1 < vk->n_layers ? vals[k + 1] : ylast;
            ps = ff2_one();
            qs = ff2_sub(ch->alpha, ff2_add(ff2_add(qv, ff2_mul(ch->beta, yv)), tagg));
            break;
        }
        case SEG_RANGE:
            ps = ff2_one();
            qs = ff2_sub(ch->alpha, ff2_add(vals[k], tagg));
            break;
        case SEG_ACT_TABLE: {
            ff2_t tq, ty;
            act_table_eval(vk, L->pack.log[i], s->act, z, &tq, &ty);
            ps = ff2_neg(vals[k]);
            qs = ff2_sub(ch->alpha, ff2_add(ff2_add(tq, ff2_mul(ch->beta, ty)), tagg));
            break;
        }
        default: {
            ff2_t ident = ml_identity_eval(s->bits, z);
            ps = ff2_neg(vals[k]);
            qs = ff2_sub(ch->alpha, ff2_add(ident, tagg));
            break;
        }
        }
        k += seg_nvals(vk, s);
        p = ff2_add(p, ff2_mul(e, ps));
        q = ff2_add(q, ff2_mul(e, qs));
        covered = ff2_add(covered, e);
    }
    /* empty slots have q = 1 */
    *cp = p;
    *cq = ff2_add(q, ff2_sub(ff2_one(), covered));
}

/* ---- prover --------------------------------------------------------------------------------- */

static em_status fill_leaves(const zk_vk *vk, const zk_wlayout *wl, const zk_wit *w, const lu_layout *L,
                             const lu_chal *ch, ff2_t *P, ff2_t *Q)
{
    size_t total = (size_t)1 << L->pack.total_log;
    for (size_t i = 0; i < total; i++) {
        P[i] = ff2_zero();
        Q[i] = ff2_one();
    }
    int64_t off = (int64_t)1 << (wl->tbits - 1);
    for (uint32_t i = 0; i < L->n; i++) {
        const lu_seg *s = &L->seg[i];
        size_t n = (size_t)1 << L->pack.log[i];
        ff2_t *p = P + L->pack.off[i], *q = Q + L->pack.off[i];
        ff2_t am = ff2_sub(ch->alpha, ff2_mul_base(ch->gamma, ff_from_u64(s->tag)));
        switch (s->kind) {
        case SEG_PAIR: {
            const int32_t *qq = w->blk[wl->q_blk[s->layer]];
            const int32_t *yy = wl->y_blk[s->layer] != ZK_NO_BLOCK ? w->blk[wl->y_blk[s->layer]] : NULL;
            const zk_layer *ly = &vk->layers[s->layer];
            size_t M = (size_t)1 << ly->lv_out;
            for (size_t e = 0; e < n; e++) {
                int32_t yv;
                if (yy)
                    yv = yy[e];
                else {
                    size_t row = e / M, col = e % M;
                    yv = (row < w->n_samples && col < ly->n_out) ? w->out[row * ly->n_out + col] : 0;
                }
                p[e] = ff2_one();
                q[e] = ff2_sub(am, ff2_add(ff2_from_base(ff_from_i64(qq[e])), ff2_mul_base(ch->beta, ff_from_i64(yv))));
            }
            break;
        }
        case SEG_RANGE: {
            const int32_t *rr = w->blk[wl->r_blk[s->layer][s->limb]];
            for (size_t e = 0; e < n; e++) {
                p[e] = ff2_one();
                q[e] = ff2_sub(am, ff2_from_base(ff_from_i64(rr[e])));
            }
            break;
        }
        case SEG_ACT_TABLE: {
            const int32_t *m = w->blk[wl->m_act_blk[s->act]];
            for (size_t j = 0; j < n; j++) {
                int64_t qv = (int64_t)j - off;
                ff_t tv = ff_from_i64(qv);
                p[j] = ff2_from_base(ff_neg(ff_from_i64(m[j])));
                q[j] = ff2_sub(am, ff2_add(ff2_from_base(tv),
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
    return EM_OK;
}

static em_status draw_chal(tr_t *tr, lu_chal *ch)
{
    ch->alpha = tr_challenge_ff2(tr, "lookup-alpha");
    ch->beta = tr_challenge_ff2(tr, "lookup-beta");
    ch->gamma = tr_challenge_ff2(tr, "lookup-gamma");
    return EM_OK;
}

em_status zk__requant_prove(const zk_vk *vk, const zk_wlayout *wl, const zk_wit *w, size_t n_samples, zk_wr *wr,
                            zk_claims *wc, em_err *err)
{
    (void)n_samples;
    lu_layout L;
    lu_chal ch;
    em_status st;
    ff2_t **P = NULL, **Q = NULL, *E = NULL, *tmp = NULL;
    ff2_t r[ZK_MAX_VARS + 2];
    if ((st = lu_layout_build(vk, wl, &L, err)) != EM_OK)
        return st;
    unsigned G = L.pack.total_log;
    draw_chal(wr->tr, &ch);
    P = calloc(G + 1, sizeof *P);
    Q = calloc(G + 1, sizeof *Q);
    if (!P || !Q) {
        st = em_errf(err, EM_ERR_NOMEM, "lookup: out of memory");
        goto out;
    }
    for (unsigned d = 0; d <= G; d++) {
        P[d] = malloc(((size_t)1 << d) * sizeof **P);
        Q[d] = malloc(((size_t)1 << d) * sizeof **Q);
        if (!P[d] || !Q[d]) {
            st = em_errf(err, EM_ERR_NOMEM, "lookup: out of memory (fraction tree of 2^%u leaves)", G);
            goto out;
        }
    }
    fill_leaves(vk, wl, w, &L, &ch, P[G], Q[G]);
    for (unsigned d = G; d-- > 0;) {
        size_t h = (size_t)1 << d;
        for (size_t x = 0; x < h; x++) {
            ff2_t p0 = P[d + 1][x], p1 = P[d + 1][x + h], q0 = Q[d + 1][x], q1 = Q[d + 1][x + h];
            P[d][x] = ff2_add(ff2_mul(p0, q1), ff2_mul(p1, q0));
            Q[d][x] = ff2_mul(q0, q1);
        }
    }
    ff2_t root[2] = {P[0][0], Q[0][0]};
    if ((st = zk__put_ff2(wr, "lookup-root", root, 2, err)) != EM_OK)
        goto out;
    size_t maxh = G ? (size_t)1 << (G - 1) : 1;
    E = malloc(maxh * sizeof *E);
    tmp = malloc(4 * maxh * sizeof *tmp);
    if (!E || !tmp) {
        st = em_errf(err, EM_ERR_NOMEM, "lookup: out of memory");
        goto out;
    }
    ff2_t cp = root[0], cq = root[1];
    for (unsigned d = 0; d < G; d++) {
        size_t h = (size_t)1 << d;
        ff2_t *p0 = tmp, *p1 = tmp + h, *q0 = tmp + 2 * h, *q1 = tmp + 3 * h;
        memcpy(p0, P[d + 1], h * sizeof *p0);
        memcpy(p1, P[d + 1] + h, h * sizeof *p1);
        memcpy(q0, Q[d + 1], h * sizeof *q0);
        memcpy(q1, Q[d + 1] + h, h * sizeof *q1);
        if ((st = level_prove(wr, d, r, E, p0, p1, q0, q1, &cp, &cq, err)) != EM_OK)
            goto out;
    }
    /* leaf values per segment at the segment's low variables */
    {
        ff2_t vals[2 * (5 * ZK_MAX_LAYERS + ZK_RANGE_BITS + 4)];
        size_t k = 0;
        ff2_t ylast = ff2_zero();
        for (uint32_t i = 0; i < L.n; i++) {
            const lu_seg *s = &L.seg[i];
            unsigned nv = seg_nvals(vk, s), l = L.pack.log[i];
            for (unsigned v = 0; v < nv; v++) {
                uint32_t b = seg_block(wl, s, v);
                unsigned lr = s->kind == SEG_PAIR || s->kind == SEG_RANGE ? wl->lb : 0;
                if ((st = zk__mle_i32(w->blk[b], (size_t)1 << lr, (size_t)1 << (l - lr), lr, l - lr, r, &vals[k], err)) != EM_OK)
                    goto out;
                if ((st = zk__claims_add(wc, b, r, l, vals[k], err)) != EM_OK)
                    goto out;
                k++;
            }
            if (s->kind == SEG_PAIR && s->layer + 1 == vk->n_layers) {
                const zk_layer *ly = &vk->layers[s->layer];
                if ((st = zk__mle_i32(w->out, w->n_samples, ly->n_out, wl->lb, ly->lv_out, r, &ylast, err)) != EM_OK)
                    goto out;
            }
        }
        ff2_t ccp, ccq;
        leaf_combine(vk, &L, &ch, r, vals, ylast, &ccp, &ccq);
        if (!ff2_eq(ccp, cp) || !ff2_eq(ccq, cq)) {
            st = em_errf(err, EM_ERR_INTERNAL, "lookup: leaf recombination mismatch (prover bug)");
            goto out;
        }
        st = zk__put_ff2(wr, "lookup-leaves", vals, k, err);
    }
out:
    if (P)
        for (unsigned d = 0; d <= G; d++)
            free(P[d]);
    if (Q)
        for (unsigned d = 0; d <= G; d++)
            free(Q[d]);
    free(P);
    free(Q);
    free(E);
    free(tmp);
    return st;
}

em_status zk__requant_verify(const zk_vk *vk, const zk_wlayout *wl, const int32_t *output, size_t n_samples,
                             zk_rd *rd, zk_claims *wc, em_err *err)
{
    lu_layout L;
    lu_chal ch;
    em_status st;
    ff2_t r[ZK_MAX_VARS + 2];
    if ((st = lu_layout_build(vk, wl, &L, err)) != EM_OK)
        return st;
    unsigned G = L.pack.total_log;
    draw_chal(rd->tr, &ch);
    ff2_t root[2];
    if ((st = zk__get_ff2(rd, "lookup-root", root, 2, err)) != EM_OK)
        return st;
    if (!ff2_is_zero(root[0]))
        return em_errf(err, EM_ERR_VERIFY, "lookup: some value is not in its table (requantization, activation "
                                           "or remainder range check fails)");
    if (ff2_is_zero(root[1]))
        return em_errf(err, EM_ERR_VERIFY, "lookup: zero denominator");
    ff2_t cp = root[0], cq = root[1];
    for (unsigned d = 0; d < G; d++)
        if ((st = level_verify(rd, d, r, &cp, &cq, err)) != EM_OK)
            return st;
    ff2_t vals[2 * (5 * ZK_MAX_LAYERS + ZK_RANGE_BITS + 4)];
    size_t k = 0;
    for (uint32_t i = 0; i < L.n; i++)
        k += seg_nvals(vk, &L.seg[i]);
    if ((st = zk__get_ff2(rd, "lookup-leaves", vals, k, err)) != EM_OK)
        return st;
    ff2_t ylast = ff2_zero();
    k = 0;
    for (uint32_t i = 0; i < L.n; i++) {
        const lu_seg *s = &L.seg[i];
        unsigned nv = seg_nvals(vk, s), l = L.pack.log[i];
        for (unsigned v = 0; v < nv; v++, k++)
            if ((st = zk__claims_add(wc, seg_block(wl, s, v), r, l, vals[k], err)) != EM_OK)
                return st;
        if (s->kind == SEG_PAIR && s->layer + 1 == vk->n_layers) {
            const zk_layer *ly = &vk->layers[s->layer];
            if ((st = zk__mle_i32(output, n_samples, ly->n_out, wl->lb, ly->lv_out, r, &ylast, err)) != EM_OK)
                return st;
        }
    }
    ff2_t ccp, ccq;
    leaf_combine(vk, &L, &ch, r, vals, ylast, &ccp, &ccq);
    if (!ff2_eq(ccp, cp) || !ff2_eq(ccq, cq))
        return em_errf(err, EM_ERR_VERIFY, "lookup: leaf values do not match the fraction tree");
    return EM_OK;
}
