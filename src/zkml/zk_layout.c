/* Packing of many tensors into one multilinear polynomial, and evaluation-claim bookkeeping.
 *
 * A block of 2^l values placed at offset o (a multiple of 2^l) of a polynomial with V
 * variables satisfies block~(x) = P~(x, bits(o >> l)): the block's variables are the low ones
 * and the high V - l variables are fixed to the bits of its index. A claim on a block is thus a
 * claim on P~ at a point whose high coordinates are 0/1, and all claims on one polynomial go
 * into one batched opening. */
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/ml.h"
#include "zk_internal.h"

em_status zk__claims_add(zk_claims *c, uint32_t block, const ff2_t *pt, uint32_t nv, ff2_t val, em_err *err)
{
    if (nv > ZK_MAX_VARS)
        return em_errf(err, EM_ERR_INTERNAL, "claim with %u variables", nv);
    if (c->n == c->cap) {
        size_t nc = c->cap ? 2 * c->cap : 16;
        zk_claim *v = realloc(c->v, nc * sizeof *v);
        if (!v)
            return em_errf(err, EM_ERR_NOMEM, "out of memory recording evaluation claims");
        c->v = v;
        c->cap = nc;
    }
    zk_claim *d = &c->v[c->n++];
    memset(d, 0, sizeof *d);
    d->block = block;
    d->nv = nv;
    memcpy(d->pt, pt, nv * sizeof *pt);
    d->val = val;
    return EM_OK;
}

void zk__claims_free(zk_claims *c)
{
    free(c->v);
    memset(c, 0, sizeof *c);
}

void zk__pack_point(const zk_pack *p, const zk_claim *c, ff2_t *full)
{
    unsigned l = p->log[c->block];
    uint64_t idx = p->off[c->block] >> l;
    memcpy(full, c->pt, l * sizeof *full);
    for (unsigned t = l; t < p->total_log; t++)
        full[t] = ((idx >> (t - l)) & 1) ? ff2_one() : ff2_zero();
}

uint64_t zk__pack_used(const zk_pack *p)
{
    uint64_t end = 0;
    for (uint32_t b = 0; b < p->n; b++) {
        uint64_t e = p->off[b] + ((uint64_t)1 << p->log[b]);
        end = e > end ? e : end;
    }
    return end;
}

static uint32_t add_block(zk_pack *p, unsigned log)
{
    p->log[p->n] = log;
    return p->n++;
}

/* A committed block of the witness with its value range. */
static uint32_t add_wblock(zk_wlayout *w, unsigned log, int64_t lo, int64_t hi)
{
    uint32_t b = add_block(&w->pack, log);
    w->lo[b] = (int32_t)(lo < INT32_MIN ? INT32_MIN : lo);
    w->hi[b] = (int32_t)(hi > INT32_MAX ? INT32_MAX : hi);
    return b;
}

/* Relative costs of a lookup leaf and of a committed value (prover time per unit measured on
 * the 784-512-512-10 batch-1024 row: ~38 and ~22 ns). */
enum { COST_LEAF = 5, COST_COMMIT = 3 };

/* The cost of layer choices (jb, tl) for a requantized layer of 2^lg activations with shift k:
 * its lookup leaves, committed remainder limbs and its tables (counted as if not shared). */
static uint64_t layer_cost(unsigned lg, unsigned T, unsigned k, unsigned jb, unsigned tl, unsigned lbits)
{
    uint64_t N = (uint64_t)1 << lg;
    unsigned rb = k - jb, nl = (rb + lbits - 1) / lbits;
    uint64_t c = COST_LEAF * N + (COST_LEAF + COST_COMMIT) * ((uint64_t)1 << (T + jb));
    for (unsigned t = 0; t < nl; t++) {
        unsigned b = zk__limb_bits(rb, lbits, t);
        c += COST_COMMIT * N + COST_LEAF * (N >> tl) + (COST_LEAF + COST_COMMIT) * ((uint64_t)1 << (b << tl));
    }
    return c;
}

static int test_jb = -1, test_tl = -1;

void zk__wlayout_test_split(int jb, int tl)
{
    test_jb = jb;
    test_tl = tl;
}

/* The public rule for layer i's merged bits and tuple size: the cheapest admissible choice (or,
 * under zk__wlayout_test_split, the admissible one closest below the forced values). */
static void choose_split(const zk_layer *L, unsigned lb, unsigned T, unsigned lbits, unsigned *jb_out,
                         unsigned *tl_out)
{
    unsigned lg = lb + L->lv_out, k = L->shift;
    uint64_t best = UINT64_MAX;
    *jb_out = *tl_out = 0;
    for (unsigned jb = 0; jb <= ZK_MAX_MERGE_BITS && jb <= k && T + jb <= ZK_MAX_PAIR_BITS; jb++) {
        unsigned rb = k - jb, nl = (rb + lbits - 1) / lbits;
        for (unsigned tl = 0; tl <= ZK_MAX_TUPLE_LOG; tl++) {
            if (tl && (nl != 1 || tl > lb || (rb << tl) > ZK_RANGE_BITS))
                break;
            uint64_t c = layer_cost(lg, T, k, jb, tl, lbits);
            if (test_jb >= 0) { /* forced: the admissible (jb, tl) closest below, jb first */
                if ((int)jb > test_jb || (int)tl > test_tl)
                    continue;
                c = (uint64_t)(test_jb - (int)jb) * 64 + (uint64_t)(test_tl - (int)tl);
            }
            if (c < best) {
                best = c;
                *jb_out = jb;
                *tl_out = tl;
            }
        }
    }
}

uint64_t zk__wlayout_cost(const zk_wlayout *w)
{
    return COST_COMMIT * zk__pack_used(&w->pack) + COST_LEAF * w->lookup_leaves;
}

em_status zk__wlayout(const zk_vk *vk, size_t n_samples, unsigned tbits, unsigned lbits, zk_wlayout *w,
                      em_err *err)
{
    memset(w, 0, sizeof *w);
    if (lbits < ZK_MIN_LIMB_BITS || lbits > ZK_RANGE_BITS)
        return em_errf(err, EM_ERR_FORMAT, "remainder limbs of %u bits, expected %u..%u", lbits, ZK_MIN_LIMB_BITS,
                       ZK_RANGE_BITS);
    if (tbits < vk->act_bits + 1 || tbits > vk->table_bits)
        return em_errf(err, EM_ERR_FORMAT, "requantization table of 2^%u entries, expected 2^%u..2^%u", tbits,
                       vk->act_bits + 1, vk->table_bits);
    w->lbits = lbits;
    w->tbits = tbits;
    w->lb = zk__log2_ceil(n_samples);
    int used_act[2][ZK_MAX_MERGE_BITS + 1] = {{0}}, used_rng[ZK_RANGE_BITS + 1][ZK_MAX_TUPLE_LOG + 1] = {{0}};
    const int64_t amin = -((int64_t)1 << (vk->act_bits - 1)), amax = ((int64_t)1 << (vk->act_bits - 1)) - 1;
    for (uint32_t i = 0; i < vk->n_layers; i++) {
        const zk_layer *L = &vk->layers[i];
        unsigned lg = w->lb + L->lv_out;
        for (unsigned t = 0; t < ZK_MAX_POOL_SLOTS; t++)
            w->d_blk[i][t] = ZK_NO_BLOCK;
        for (unsigned t = 0; t < ZK_MAX_LIMBS; t++)
            w->r_blk[i][t] = ZK_NO_BLOCK;
        if (L->kind == NN_MAXPOOL) {
            unsigned K = L->kh * L->kw;
            w->q_blk[i] = ZK_NO_BLOCK;
            w->y_blk[i] = add_wblock(w, lg, amin, amax);
            for (unsigned t = 0; t < K; t++)
                w->d_blk[i][t] = add_wblock(w, lg, 0, amax - amin);
            if (zk__pool_slots(L) > K) /* the zero slot: d = y - 0 */
                w->d_blk[i][K] = w->y_blk[i];
            used_rng[vk->act_bits][0] = 1;
            w->lookup_leaves += (uint64_t)zk__pool_slots(L) << lg;
            continue;
        }
        choose_split(L, w->lb, tbits, lbits, &w->jb[i], &w->tl[i]);
        unsigned rb = L->shift - w->jb[i];
        w->nl[i] = (rb + lbits - 1) / lbits;
        for (unsigned t = 0; t < w->nl[i]; t++) {
            w->r_blk[i][t] = add_wblock(w, lg, 0, ((int64_t)1 << zk__limb_bits(rb, lbits, t)) - 1);
            used_rng[zk__limb_bits(rb, lbits, t)][w->tl[i]] = 1;
            w->lookup_leaves += ((uint64_t)1 << lg) >> w->tl[i];
        }
        w->y_blk[i] = i + 1 < vk->n_layers ? add_wblock(w, lg, amin, amax) : ZK_NO_BLOCK;
        used_act[L->act][w->jb[i]] = 1;
        w->lookup_leaves += (uint64_t)1 << lg;
    }
    const int64_t mmax = (int64_t)w->lookup_leaves; /* a multiplicity counts witness leaves */
    for (unsigned b = 0; b <= ZK_RANGE_BITS; b++)
        for (unsigned t = 0; t <= ZK_MAX_TUPLE_LOG; t++) {
            w->m_rng_blk[b][t] = used_rng[b][t] ? add_wblock(w, b << t, 0, mmax) : ZK_NO_BLOCK;
            w->lookup_leaves += used_rng[b][t] ? (uint64_t)1 << (b << t) : 0;
        }
    for (unsigned a = 0; a < 2; a++)
        for (unsigned j = 0; j <= ZK_MAX_MERGE_BITS; j++) {
            w->m_act_blk[a][j] = used_act[a][j] ? add_wblock(w, tbits + j, 0, mmax) : ZK_NO_BLOCK;
            w->lookup_leaves += used_act[a][j] ? (uint64_t)1 << (tbits + j) : 0;
        }
    w->pack.total_log = zk__layout(w->pack.log, w->pack.n, w->pack.off);
    /* q blocks: after the pack, never committed (zk_wlayout) */
    w->n_blk = w->pack.n;
    for (uint32_t i = 0; i < vk->n_layers; i++)
        if (vk->layers[i].kind != NN_MAXPOOL) {
            w->q_blk[i] = w->n_blk;
            w->pack.log[w->n_blk++] = w->lb + vk->layers[i].lv_out;
        }
    if (w->pack.total_log > ZK_MAX_LOG_WITNESS)
        return em_errf(err, EM_ERR_LIMIT, "witness of 2^%u values exceeds 2^%u (batch too large for this model)",
                       w->pack.total_log, ZK_MAX_LOG_WITNESS);
    /* here, not only in the lookup itself, so the prover's choice of L skips such layouts */
    if (w->lookup_leaves > ((uint64_t)1 << ZK_MAX_LOG_LOOKUP))
        return em_errf(err, EM_ERR_LIMIT, "lookup of %llu entries exceeds 2^%u (batch too large for this model)",
                       (unsigned long long)w->lookup_leaves, ZK_MAX_LOG_LOOKUP);
    return EM_OK;
}

int64_t zk__out_col(const zk_layer *L, uint64_t j)
{
    uint64_t c = j / L->ops, p = j % L->ops, ch = L->n_out / L->op;
    if (p >= L->op || c >= ch)
        return -1;
    return (int64_t)(c * L->op + p);
}

int32_t zk__out_at(const zk_layer *L, const int32_t *out, size_t n, size_t row, size_t col)
{
    int64_t e = row < n ? zk__out_col(L, col) : -1;
    return e < 0 ? 0 : out[row * L->n_out + (size_t)e];
}

void zk__spread_ff2(ff2_t *v, uint64_t n, uint32_t pos, uint32_t slot, uint64_t total)
{
    if (pos == slot) {
        for (uint64_t e = n; e < total; e++)
            v[e] = ff2_zero();
        return;
    }
    /* padded indices are >= engine indices and increasing, so moving from the top down never
     * overwrites a value not yet moved */
    for (uint64_t e = n; e-- > 0;)
        v[zk__pad_idx(pos, slot, e)] = v[e];
    uint64_t end = zk__pad_idx(pos, slot, n - 1) + 1;
    for (uint64_t j = 0; j < total; j++)
        if (j >= end || j % slot >= pos)
            v[j] = ff2_zero();
}

em_status zk__out_mle(const zk_layer *L, const int32_t *out, size_t n, unsigned lb, const ff2_t *pt, ff2_t *val,
                      em_err *err)
{
    if (L->op == L->ops)
        return zk__mle_i32(out, n, L->n_out, lb, L->lv_out, pt, val, err);
    /* position-padded conv/pool output: fold the rows, then move each column to its slot */
    size_t nr = (size_t)1 << lb, nc = (size_t)1 << L->lv_out;
    if (n > nr)
        return em_errf(err, EM_ERR_INTERNAL, "public output of %zu rows for 2^%u", n, lb);
    ff2_t *eqr = malloc(nr * sizeof *eqr), *eqc = malloc(nc * sizeof *eqc), *fold = malloc(nc * sizeof *fold);
    em_status st = EM_OK;
    if (!eqr || !eqc || !fold) {
        st = em_errf(err, EM_ERR_NOMEM, "public output evaluation: out of memory");
        goto out;
    }
    ml_eq_table(pt + L->lv_out, lb, ff2_one(), eqr);
    ml_eq_table(pt, L->lv_out, ff2_one(), eqc);
    zk__fold_rows_i32(out, n, L->n_out, L->n_out, eqr, fold, L->n_out);
    zk__spread_ff2(fold, L->n_out, L->op, L->ops, nc);
    *val = zk__dot_ff2(fold, eqc, nc);
out:
    free(eqr);
    free(eqc);
    free(fold);
    return st;
}
