/* The inference prover (docs/PROOFS.md "Proof of inference"):
 *   1. run the model with a full trace; derive per dense layer q, the remainder limbs and y,
 *      padded to 2^lb samples x 2^lv_out outputs;
 *   2. bind the statement, commit to the limbs and y (not q) in one witness polynomial;
 *   3. requantization/activation lookups and range checks (zk_requant.c);
 *   4. per layer, the matmul sumcheck from the pair lookup's leaf point, where it checks q~;
 *   5. one batched opening of the witness and one of the model commitment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <immintrin.h>

#include "enclaveml/zkml/ff_vec.h"
#include "enclaveml/zkml/ml.h"
#include "zk_internal.h"

void zk_prover_set_trace_hook(zk_prover *p, zk_trace_hook hook, void *ctx)
{
    p->hook = hook;
    p->hook_ctx = ctx;
}

const zk_vk *zk_prover_vk(const zk_prover *p) { return &p->vk; }

/* floor((acc + 2^(k-1)) / 2^kr) for kr <= k (plain acc when k = 0). |acc| < 2^62 (model
 * validation) keeps acc + 2^(k-1) in int64, and >> on a negative int64 is an arithmetic shift
 * (a floor) with gcc and clang; beyond that, 128-bit arithmetic shifting only non-negative
 * values. Runs once per pre-activation. */
static inline int64_t floor_shift(int64_t acc, uint32_t k, uint32_t kr)
{
    int64_t half = k ? (int64_t)1 << (k - 1) : 0, lim = (int64_t)1 << 62;
    if (acc > -lim && acc < lim)
        return (acc + half) >> kr;
    __int128 v = (__int128)acc + half;
    __int128 m = ((__int128)1 << kr) - 1;
    return v >= 0 ? (int64_t)(v >> kr) : -(int64_t)((-v + m) >> kr);
}

/* min/max of q over chunks of one layer's accumulators */
typedef struct qrange_ctx {
    const int64_t *acc;
    uint32_t k;
    int64_t lo[ZK_MAX_THREADS], hi[ZK_MAX_THREADS];
} qrange_ctx;

/* q is monotone in acc, so the extremes of acc give those of q: one branch-free min/max pass
 * (vectorised) instead of a shift per entry */
__attribute__((target("avx512f"))) static size_t minmax_avx512(const int64_t *a, size_t b, size_t e, int64_t *lo,
                                                                int64_t *hi)
{
    __m512i vl = _mm512_set1_epi64(*lo), vh = _mm512_set1_epi64(*hi);
    size_t i = b;
    for (; i + 8 <= e; i += 8) {
        __m512i v = _mm512_loadu_si512((const void *)(a + i));
        vl = _mm512_min_epi64(vl, v);
        vh = _mm512_max_epi64(vh, v);
    }
    *lo = _mm512_reduce_min_epi64(vl);
    *hi = _mm512_reduce_max_epi64(vh);
    return i;
}

static void qrange_chunk(void *vctx, size_t b, size_t e, unsigned slot)
{
    qrange_ctx *x = vctx;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    size_t i0 = ff_vec_tier_get() == FF_VEC_AVX512 ? minmax_avx512(x->acc, b, e, &lo, &hi) : b;
    for (size_t i = i0; i < e; i++) {
        int64_t a = x->acc[i];
        lo = a < lo ? a : lo;
        hi = a > hi ? a : hi;
    }
    int64_t qlo = b < e ? floor_shift(lo, x->k, x->k) : 0, qhi = b < e ? floor_shift(hi, x->k, x->k) : 0;
    x->lo[slot] = qlo < 0 ? qlo : 0;
    x->hi[slot] = qhi > 0 ? qhi : 0;
}

/* The smallest table that holds every pre-activation of this batch (at least the activation
 * range plus one bit); the cap when some value lies beyond it (build_witness then reports it). */
static unsigned table_bits_for(const zk_vk *vk, int64_t *const *accs, size_t n, unsigned threads)
{
    int64_t qmin = 0, qmax = 0;
    for (uint32_t i = 0; i < vk->n_layers; i++) {
        const zk_layer *L = &vk->layers[i];
        if (!accs[i])
            continue;
        qrange_ctx x = {.acc = accs[i], .k = L->shift};
        unsigned nc = zk__par_for(threads, n * L->n_out, (size_t)1 << 15, qrange_chunk, &x);
        for (unsigned c = 0; c < nc; c++) {
            qmin = x.lo[c] < qmin ? x.lo[c] : qmin;
            qmax = x.hi[c] > qmax ? x.hi[c] : qmax;
        }
    }
    unsigned T = vk->act_bits + 1;
    while (T < vk->table_bits && (qmin < -((int64_t)1 << (T - 1)) || qmax >= ((int64_t)1 << (T - 1))))
        T++;
    return T;
}

/* The remainder limb width minimising this proof's cost (zk__wlayout_cost: lookup leaves and
 * committed values, with the merged bits and tuple sizes the layout derives for it). */
static unsigned limb_bits_for(const zk_vk *vk, size_t n, unsigned tbits)
{
    unsigned best = ZK_RANGE_BITS;
    uint64_t best_cost = UINT64_MAX;
    zk_wlayout wl;
    for (unsigned lbits = ZK_RANGE_BITS; lbits >= ZK_MIN_LIMB_BITS; lbits--) {
        if (zk__wlayout(vk, n, tbits, lbits, &wl, NULL) != EM_OK)
            continue;
        uint64_t cost = zk__wlayout_cost(&wl);
        if (cost < best_cost) {
            best_cost = cost;
            best = lbits;
        }
    }
    return best;
}

/* One dense/conv/avgpool layer's q, remainder limbs and y rows, split over threads by rows.
 * A chunk stops at its first bad entry and records it; the caller reports the first one. */
typedef struct wit_ctx {
    const zk_layer *L;
    const int64_t *acc;
    const int32_t *y;
    int32_t *Q, *R[ZK_MAX_LIMBS], *Y;
    size_t n, M;
    unsigned nl, lbits, jb; /* jb: remainder bits merged into q' (zk_wlayout) */
    int checks;
    int32_t amin, amax;
    int64_t tmin, tmax;
    struct {
        size_t at; /* flat index of the first bad entry, SIZE_MAX: none */
        int64_t q;
        int range; /* 1: q outside the table, 0: y disagrees with the contract */
    } bad[ZK_MAX_THREADS];
} wit_ctx;

/* The entry of a padded position (padding row, channel or position: acc = 0): q = 0, y = 0. */
static void wit_pad(const wit_ctx *x, size_t at)
{
    /* acc = 0: q' = 2^(k-1) >> (k - jb) (2^(jb-1) when jb > 0, else 0), r the rest */
    uint32_t k = x->L->shift;
    uint64_t u = k ? (uint64_t)1 << (k - 1) : 0, qp = u >> (k - x->jb);
    x->Q[at] = (int32_t)qp;
    uint64_t r = u - (qp << (k - x->jb));
    for (unsigned t = 0; t < x->nl; t++)
        x->R[t][at] = (int32_t)((r >> (x->lbits * t)) & ((1u << x->lbits) - 1));
    if (x->Y)
        x->Y[at] = 0;
}

/* Row s of a dense layer (s < n) when every entry is in range and agrees with the contract, the
 * common case, written without per-entry branches; returns 0 if some entry is not (nothing
 * reported: the caller redoes the row entry by entry, which finds and records it). Padding
 * columns are left to the caller. */
/* wit_row_dense's checks and q' over [0, n - n % 8) in 8-lane AVX-512 (64-bit arithmetic shifts
 * and min/max have no SSE2 form, so the portable loop stays scalar); returns where it stopped and
 * ORs a nonzero value into *bad for any bad entry. */
__attribute__((target("avx512f"))) static size_t wit_q_avx512(const int64_t *acc, const int32_t *yin, int32_t *Q,
                                                               size_t n, int64_t half, unsigned kr, unsigned jb,
                                                               int64_t lo, int64_t hi, int64_t tmin, int64_t tmax,
                                                               int64_t *bad)
{
    const __m512i vh = _mm512_set1_epi64(half), vlo = _mm512_set1_epi64(lo), vhi = _mm512_set1_epi64(hi);
    const __m512i vmin = _mm512_set1_epi64(tmin), vmax = _mm512_set1_epi64(tmax);
    const __m512i lim = _mm512_set1_epi64((int64_t)1 << 62), nlim = _mm512_set1_epi64(-((int64_t)1 << 62));
    const __m128i ckr = _mm_cvtsi32_si128((int)kr), cjb = _mm_cvtsi32_si128((int)jb);
    __mmask8 b = 0;
    size_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m512i a = _mm512_loadu_si512((const void *)(acc + j));
        __m512i qp = _mm512_sra_epi64(_mm512_add_epi64(a, vh), ckr), q = _mm512_sra_epi64(qp, cjb);
        __m512i y = _mm512_min_epi64(_mm512_max_epi64(q, vlo), vhi);
        __m512i yv = _mm512_cvtepi32_epi64(_mm256_loadu_si256((const __m256i *)(yin + j)));
        b |= _mm512_cmple_epi64_mask(a, nlim) | _mm512_cmpge_epi64_mask(a, lim) | _mm512_cmplt_epi64_mask(q, vmin) |
             _mm512_cmpgt_epi64_mask(q, vmax) | _mm512_cmpneq_epi64_mask(y, yv);
        _mm256_storeu_si256((__m256i *)(Q + j), _mm512_cvtepi64_epi32(qp));
    }
    *bad |= b;
    return j;
}

static int wit_row_dense(const wit_ctx *x, size_t s)
{
    const zk_layer *L = x->L;
    size_t n = L->n_out;
    const int64_t *restrict acc = x->acc + s * n;
    const int32_t *restrict yin = x->y + s * n;
    int32_t *restrict Q = x->Q + s * x->M;
    uint32_t k = L->shift, jb = x->jb, kr = k - jb;
    int64_t half = k ? (int64_t)1 << (k - 1) : 0, lim = (int64_t)1 << 62, tmin = x->tmin, tmax = x->tmax;
    int64_t lo = L->act == NN_ACT_RELU ? 0 : x->amin, hi = x->amax;
    int64_t bad = 0;
    size_t j0 = ff_vec_tier_get() == FF_VEC_AVX512 ? wit_q_avx512(acc, yin, Q, n, half, kr, jb, lo, hi, tmin, tmax, &bad)
                                                   : 0;
    for (size_t j = j0; j < n; j++) {
        int64_t a = acc[j];
        /* floor_shift when |a| < 2^62 (else bad); the unsigned sum cannot overflow */
        int64_t qp = (int64_t)((uint64_t)a + (uint64_t)half) >> kr, q = qp >> jb;
        int64_t y = q < lo ? lo : q > hi ? hi : q;
        bad |= (int64_t)(a <= -lim) | (int64_t)(a >= lim) | (int64_t)(q < tmin) | (int64_t)(q > tmax) |
               (int64_t)(yin[j] != (int32_t)y);
        Q[j] = (int32_t)qp;
    }
    if (bad)
        return 0;
    if (x->Y)
        memcpy(x->Y + s * x->M, yin, n * sizeof *yin);
    uint32_t lmask = (1u << x->lbits) - 1;
    for (unsigned t = 0; k && t < x->nl; t++) {
        int32_t *restrict R = x->R[t] + s * x->M;
        unsigned sh = x->lbits * t;
        for (size_t j = 0; j < n; j++) { /* r = a + half - q' 2^kr, in [0, 2^kr) */
            uint64_t r = (uint64_t)(acc[j] + half) - ((uint64_t)(int64_t)Q[j] << kr);
            R[j] = (int32_t)((r >> sh) & lmask);
        }
    }
    return 1;
}

static void wit_rows(void *vctx, size_t b, size_t e, unsigned tid)
{
    wit_ctx *x = vctx;
    const zk_layer *L = x->L;
    x->bad[tid].at = SIZE_MAX;
    int dense = L->op == L->ops;
    uint32_t k = L->shift, kr = k - x->jb; /* q' = floor((acc + 2^(k-1)) / 2^kr), q = q' >> jb */
    int64_t half = k ? (int64_t)1 << (k - 1) : 0, lo = L->act == NN_ACT_RELU ? 0 : x->amin;
    uint32_t lmask = (1u << x->lbits) - 1;
    for (size_t s = b; s < e; s++)
        for (size_t j = 0; j < x->M; j++) {
            if (j == 0 && dense && x->checks && s < x->n && wit_row_dense(x, s)) {
                j = L->n_out; /* the row's entries are done; its padding columns follow */
                if (j == x->M)
                    break;
            }
            int64_t col = dense ? (j < L->n_out ? (int64_t)j : -1) : zk__out_col(L, j);
            size_t at = s * x->M + j;
            if (s >= x->n || col < 0) {
                wit_pad(x, at);
                continue;
            }
            int64_t a = x->acc[s * L->n_out + (size_t)col];
            int64_t qp = floor_shift(a, k, kr);
            int64_t q = qp >> x->jb;
            if (x->checks && (q < x->tmin || q > x->tmax)) {
                x->bad[tid].at = at;
                x->bad[tid].q = q;
                x->bad[tid].range = 1;
                return;
            }
            int64_t qs = qp < INT32_MIN || qp > INT32_MAX ? (qp < 0 ? INT32_MIN : INT32_MAX) : qp;
            x->Q[at] = (int32_t)qs; /* clamped only with a test hook (checks off) */
            if (k) {
                uint64_t r = (uint64_t)(a + half - qp * ((int64_t)1 << kr));
                for (unsigned t = 0; t < x->nl; t++)
                    x->R[t][at] = (int32_t)((r >> (x->lbits * t)) & lmask);
            }
            int32_t yv = x->y[s * L->n_out + (size_t)col];
            if (x->checks && yv != (int32_t)(q < lo ? lo : q > x->amax ? x->amax : q)) {
                x->bad[tid].at = at;
                x->bad[tid].q = q;
                x->bad[tid].range = 0;
                return;
            }
            if (x->Y)
                x->Y[at] = yv;
        }
}

/* Builds the witness tensors from the trace. Returns EM_ERR_RANGE when a pre-activation is
 * outside the table (unless checks are off for a test hook). */
static em_status build_witness(zk_prover *p, const nn_trace *tr, int64_t *const *accs, size_t n,
                               const zk_wlayout *wl, zk_wit *w, int checks, unsigned threads, em_err *err)
{
    const zk_vk *vk = &p->vk;
    wit_ctx x;
    memset(&x, 0, sizeof x);
    x.amin = -(int32_t)(1u << (vk->act_bits - 1));
    x.amax = (int32_t)(1u << (vk->act_bits - 1)) - 1;
    x.tmin = -((int64_t)1 << (wl->tbits - 1));
    x.tmax = ((int64_t)1 << (wl->tbits - 1)) - 1;
    x.n = n;
    x.checks = checks;
    x.lbits = wl->lbits;
    size_t bp = (size_t)1 << wl->lb;
    /* wit_rows writes every entry of a requantized layer's q, limb and y blocks; every other
     * block starts at zero (multiplicities are counted into it, max-pool padding stays zero) */
    uint8_t full[ZK_MAX_BLOCKS] = {0};
    for (uint32_t i = 0; i < vk->n_layers; i++) {
        if (vk->layers[i].kind == NN_MAXPOOL)
            continue;
        full[wl->q_blk[i]] = 1;
        for (unsigned t = 0; t < wl->nl[i]; t++)
            full[wl->r_blk[i][t]] = 1;
        if (wl->y_blk[i] != ZK_NO_BLOCK)
            full[wl->y_blk[i]] = 1;
    }
    /* the committed blocks tile the used prefix of the packed polynomial (largest first, each
     * aligned to its size), so they are built in place there and committed without a copy */
    size_t used = (size_t)zk__pack_used(&wl->pack);
    if (!(w->ipoly = zk__big_alloc((used ? used : 1) * sizeof *w->ipoly)))
        return em_errf(err, EM_ERR_NOMEM, "witness polynomial of %zu values: out of memory", used);
    for (uint32_t b = 0; b < wl->n_blk; b++) {
        size_t bytes = ((size_t)1 << wl->pack.log[b]) * sizeof(int32_t);
        if (b < wl->pack.n)
            w->blk[b] = w->ipoly + wl->pack.off[b];
        else if (!(w->blk[b] = zk__big_alloc(bytes)))
            return em_errf(err, EM_ERR_NOMEM, "witness: out of memory (block of 2^%u)", wl->pack.log[b]);
        if (!full[b])
            memset(w->blk[b], 0, bytes);
    }
    for (uint32_t i = 0; i < vk->n_layers; i++) {
        const zk_layer *L = &vk->layers[i];
        const int32_t *y = tr->act[L->last + 1];
        if (L->kind == NN_MAXPOOL) {
            size_t M = (size_t)1 << L->lv_out;
            int32_t *Y = w->blk[wl->y_blk[i]];
            for (size_t s = 0; s < n; s++)
                for (size_t e = 0; e < L->n_out; e++)
                    Y[s * M + zk__pad_idx(L->op, L->ops, e)] = y[s * L->n_out + e];
            em_status st = zk__maxpool_witness(L, i, wl, tr->act[L->src], n, w, err);
            if (st != EM_OK)
                return st;
            continue;
        }
        if (!accs[i])
            return em_errf(err, EM_ERR_INTERNAL, "trace has no accumulators for layer %u", L->src);
        x.L = L;
        x.acc = accs[i];
        x.y = y;
        x.M = (size_t)1 << L->lv_out;
        x.Q = w->blk[wl->q_blk[i]];
        x.nl = wl->nl[i];
        x.jb = wl->jb[i];
        for (unsigned t = 0; t < ZK_MAX_LIMBS; t++)
            x.R[t] = t < wl->nl[i] ? w->blk[wl->r_blk[i][t]] : NULL;
        x.Y = wl->y_blk[i] != ZK_NO_BLOCK ? w->blk[wl->y_blk[i]] : NULL;
        unsigned nc = zk__par_for(threads, bp, 64, wit_rows, &x);
        size_t first = SIZE_MAX;
        unsigned at = 0;
        for (unsigned c = 0; c < nc; c++)
            if (x.bad[c].at < first) {
                first = x.bad[c].at;
                at = c;
            }
        if (first != SIZE_MAX && x.bad[at].range)
            return em_errf(err, EM_ERR_RANGE,
                           "layer %u (%s): pre-activation %lld out of the provable range [%lld, %lld]", L->src,
                           nn_model_layer(p->m, L->src)->name, (long long)x.bad[at].q, (long long)x.tmin,
                           (long long)x.tmax);
        if (first != SIZE_MAX)
            return em_errf(err, EM_ERR_INTERNAL, "layer %u: trace output disagrees with the contract", L->src);
        w->out = y;
    }
    return EM_OK;
}

void zk__wit_free(zk_wit *w, const zk_wlayout *wl)
{
    for (uint32_t b = wl->pack.n; b < wl->n_blk; b++) /* the others live in ipoly */
        zk__big_free(w->blk[b]);
    zk__big_free(w->ipoly);
    memset(w, 0, sizeof *w);
}

/* Evaluation of a witness block (int32, 2^lb rows x 2^lv cols) at (col vars, row vars). */
static em_status blk_eval(const zk_wit *w, const zk_wlayout *wl, uint32_t b, unsigned lv_cols, const ff2_t *pt,
                          unsigned threads, ff2_t *out, em_err *err)
{
    unsigned lr = wl->pack.log[b] - lv_cols;
    return zk__mle_i32_mt(w->blk[b], (size_t)1 << lr, (size_t)1 << lv_cols, lr, lv_cols, pt, threads, out, err);
}

static em_status prove_dense(zk_prover *p, const zk_wlayout *wl, const zk_wit *w, const int32_t *input, size_t n,
                             uint32_t i, const zk_qclaims *qc, zk_wr *wr, zk_claims *wc, zk_claims *mc, em_err *err)
{
    const zk_vk *vk = &p->vk;
    const zk_layer *L = &vk->layers[i];
    const nn_layer *NL = nn_model_layer(p->m, L->src);
    unsigned lb = wl->lb, lo = L->lv_out, li = L->lv_in;
    size_t N = (size_t)1 << li, M = (size_t)1 << lo, bp = (size_t)1 << lb;
    ff2_t kappa[ZK_MAX_VARS], pt[ZK_MAX_VARS];
    ff2_t *eqb = NULL, *eqj = NULL, *av = NULL, *wv = NULL;
    em_status st = EM_OK;
    if (L->kind == NN_MAXPOOL) {
        ff2_t a_ev;
        const int32_t *a = i == 0 ? input : w->blk[wl->y_blk[i - 1]];
        size_t a_rows = i == 0 ? n : bp, a_ld = i == 0 ? L->n_in : N;
        if ((st = zk__maxpool_prove(L, i, wl, w, a, a_rows, a_ld, wr, pt, &a_ev, wc, err)) != EM_OK)
            goto out;
        if (i > 0)
            st = zk__claims_add(wc, wl->y_blk[i - 1], pt, li + lb, a_ev, err);
        goto out;
    }
    /* rho = (output vars j, batch vars b) on the lb+lo-variable accumulator: the pair lookup's
     * leaf point, where the lookup took q~(rho) = ev[0] on trust */
    const ff2_t *rho = qc->pt[i], *rho_j = rho, *rho_b = rho + lo;
    ff2_t ev[1 + ZK_MAX_LIMBS];
    for (unsigned t = 0; t <= ZK_MAX_LIMBS; t++)
        ev[t] = ff2_zero();
    ev[0] = qc->val[i];
    for (unsigned t = 0; t < wl->nl[i]; t++)
        if ((st = blk_eval(w, wl, wl->r_blk[i][t], lo, rho, wr->threads, &ev[1 + t], err)) != EM_OK)
            goto out;
    if (L->kind != NN_DENSE) {
        if ((st = zk__put_ff2(wr, "acc-evals", ev + 1, wl->nl[i], err)) != EM_OK)
            goto out;
        for (unsigned t = 0; t < wl->nl[i]; t++)
            if ((st = zk__claims_add(wc, wl->r_blk[i][t], rho, lo + lb, ev[1 + t], err)) != EM_OK)
                goto out;
        ff2_t a_ev;
        const int32_t *a = i == 0 ? input : w->blk[wl->y_blk[i - 1]];
        size_t a_rows = i == 0 ? n : bp, a_ld = i == 0 ? L->n_in : N;
        if ((st = zk__conv_prove(L, NL, i, a, a_rows, a_ld, wl, n, ev, rho, wr, pt, &a_ev, mc, err)) != EM_OK)
            goto out;
        if (i > 0)
            st = zk__claims_add(wc, wl->y_blk[i - 1], pt, li + lb, a_ev, err);
        goto out;
    }
    eqb = malloc(bp * sizeof *eqb);
    eqj = malloc(M * sizeof *eqj);
    av = malloc(N * sizeof *av);
    wv = malloc(N * sizeof *wv);
    if (!eqb || !eqj || !av || !wv) {
        st = em_errf(err, EM_ERR_NOMEM, "layer %u: out of memory", L->src);
        goto out;
    }
    ml_eq_table(rho_j, lo, ff2_one(), eqj);
    ml_eq_table(rho_b, lb, ff2_one(), eqb);
    ff2_t bias_ev = zk__dot_i64(NL->bias, NL->n_bias, eqj);
    /* messages: r_t(rho), bias(rho_j) */
    if ((st = zk__put_ff2(wr, "acc-evals", ev + 1, wl->nl[i], err)) != EM_OK ||
        (st = zk__put_ff2(wr, "bias-eval", &bias_ev, 1, err)) != EM_OK)
        goto out;
    for (unsigned t = 0; t < wl->nl[i]; t++)
        if ((st = zk__claims_add(wc, wl->r_blk[i][t], rho, lo + lb, ev[1 + t], err)) != EM_OK)
            goto out;
    if ((st = zk__claims_add(mc, 2 * i + 1, rho_j, lo, bias_ev, err)) != EM_OK)
        goto out;
    ff2_t claim = zk__acc_claim(L, wl, i, ev, ml_prefix_indicator_eval(n, lb, rho_b), bias_ev);
    if (i == 0)
        zk__fold_rows_i32_mt(input, n, L->n_in, L->n_in, eqb, av, N, wr->threads);
    else
        zk__fold_rows_i32_mt(w->blk[wl->y_blk[i - 1]], bp, N, N, eqb, av, N, wr->threads);
    /* W's columns sit at the input's (position-padded) indices, as in the model commitment */
    zk__fold_rows_i32_mt(NL->weight, L->n_out, L->n_in, L->n_in, eqj, wv, L->n_in, wr->threads);
    zk__spread_ff2(wv, L->n_in, L->ip, L->ips, N);
    ff2_t a_ev, w_ev;
    if ((st = zk__matmul_prove(wr, av, wv, li, claim, kappa, &a_ev, &w_ev, err)) != EM_OK)
        goto out;
    /* W~(kappa, rho_j): the model block is n_out rows of 2^li columns */
    memcpy(pt, kappa, li * sizeof *pt);
    memcpy(pt + li, rho_j, lo * sizeof *pt);
    if ((st = zk__claims_add(mc, 2 * i, pt, li + lo, w_ev, err)) != EM_OK)
        goto out;
    if (i > 0) {
        memcpy(pt + li, rho_b, lb * sizeof *pt);
        st = zk__claims_add(wc, wl->y_blk[i - 1], pt, li + lb, a_ev, err);
    }
out:
    free(eqb);
    free(eqj);
    free(av);
    free(wv);
    return st;
}

ff2_t zk__acc_claim(const zk_layer *L, const zk_wlayout *wl, uint32_t i, const ff2_t *ev, ff2_t valid,
                    ff2_t bias_ev)
{
    /* sum_k A W = 2^(k-jb) q' + sum_t 2^(lbits t) r_t - 2^(k-1) - valid * bias */
    ff2_t c = ff2_mul_base(ev[0], ff_pow(2, L->shift - wl->jb[i]));
    for (unsigned t = 0; t < wl->nl[i]; t++)
        c = ff2_add(c, ff2_mul_base(ev[1 + t], ff_pow(2, (uint64_t)wl->lbits * t)));
    if (L->shift)
        c = ff2_sub(c, ff2_from_base(ff_pow(2, L->shift - 1)));
    return ff2_sub(c, ff2_mul(valid, bias_ev));
}

/* A model without proven layers: the output is the engine's last activation (a test hook may
 * change it) and the proof is the statement binding alone (docs/PROOFS.md "Public prefix"). */
static em_status prove_prefix_only(zk_prover *p, const nn_trace *trace, const int32_t *input, size_t n,
                                   const zk_context *ctx, const uint8_t *input_hash, int32_t *output,
                                   uint8_t **proof, size_t *proof_len, em_err *err)
{
    const zk_vk *vk = &p->vk;
    zk_statement stmt;
    em_buf empty = {.max = 0}, all = {.max = ZK_MAX_PROOF_BYTES};
    memcpy(output, trace->act[trace->n_layers], n * vk->output_size * sizeof *output);
    em_status st;
    em_err why = {0};
    if (!p->hook && zk__prefix_check_output(vk, input, n, output, &why) != EM_OK)
        return em_errf(err, EM_ERR_INTERNAL, "the engine's output disagrees with the contract: %s", why.msg);
    if ((st = zk__statement_build(vk, input, output, n, ctx, input_hash, &stmt, err)) != EM_OK ||
        (st = zk__proof_assemble(&stmt, 0, 0, 0, NULL, 0, &empty, &empty, &all, err)) != EM_OK) {
        em_buf_free(&all);
        return st;
    }
    *proof = all.data;
    *proof_len = all.len;
    return EM_OK;
}

em_status zk_prove(zk_prover *p, const nn_run_opts *opts, const int32_t *input, size_t n_samples,
                   const zk_context *ctx, int32_t *output, uint8_t **proof, size_t *proof_len, zk_stats *stats,
                   em_err *err)
{
    if (!p || !input || !output || !proof || !proof_len)
        return em_errf(err, EM_ERR_ARG, "zk_prove: NULL argument");
    *proof = NULL;
    *proof_len = 0;
    const zk_vk *vk = &p->vk;
    double t0 = em_now_ms();
    nn_trace trace = {0};
    zk_wlayout wl;
    zk_wit w;
    memset(&w, 0, sizeof w);
    zk_claims wc = {0}, mc = {0};
    zk_pcs *wpcs = NULL;
    zk_qclaims *qc = NULL;
    em_buf comp = {.max = ZK_MAX_PROOF_BYTES}, cons = {.max = ZK_MAX_PROOF_BYTES};
    em_buf all = {.max = ZK_MAX_PROOF_BYTES};
    zk_statement stmt;
    int64_t *own_acc[ZK_MAX_LAYERS] = {NULL};
    int64_t *accs[ZK_MAX_LAYERS] = {NULL};
    em_status st;
    if (n_samples == 0 || n_samples > ZK_MAX_SAMPLES)
        return em_errf(err, EM_ERR_ARG, "zk_prove: %zu samples, expected 1..%zu", n_samples, ZK_MAX_SAMPLES);
    zk_input_job ij; /* the input's range check and hash, while the model runs */
    zk__input_job_start(&ij, vk, input, n_samples);
    memset(&wl, 0, sizeof wl);
    /* the trace's buffers (tens of MB at large batches) come from the prover's buffer cache, so
     * a worker proving chunk after chunk does not fault them in again every time */
    nn_run_opts topts = opts ? *opts : (nn_run_opts){0};
    topts.trace_alloc = zk__big_alloc;
    topts.trace_free = zk__big_free;
    if ((st = nn_model_run_trace(p->m, &topts, input, n_samples, &trace, err)) != EM_OK)
        goto out;
    double t1 = em_now_ms();
    if (p->hook)
        p->hook(&trace, p->hook_ctx);
    if (vk->n_layers == 0) {
        if ((st = zk__input_job_finish(&ij, err)) == EM_OK)
            st = prove_prefix_only(p, &trace, input, n_samples, ctx, ij.hash, output, proof, proof_len, err);
        if (st == EM_OK && stats) {
            stats->infer_ms = t1 - t0;
            stats->prove_ms = em_now_ms() - t0;
            stats->proof_bytes = *proof_len;
        }
        goto out;
    }
    /* the proven layers start from prefix(input): the engine's value (a test hook may change it),
     * checked against the prefix applied here */
    const int32_t *xin = input;
    if (vk->prefix_relu) {
        xin = trace.act[vk->layers[0].src];
        em_err why = {0};
        if (!p->hook && !p->wit_hook && zk__prefix_check_output(vk, input, n_samples, xin, &why) != EM_OK) {
            st = em_errf(err, EM_ERR_INTERNAL, "the engine's prefix disagrees with the contract: %s", why.msg);
            goto out;
        }
    }
    for (uint32_t i = 0; i < vk->n_layers; i++) {
        const zk_layer *L = &vk->layers[i];
        if (L->kind == NN_AVGPOOL) {
            if ((st = zk__avgpool_acc(L, trace.act[L->src], n_samples, &own_acc[i], err)) != EM_OK)
                goto out;
            accs[i] = own_acc[i];
        } else if (L->kind == NN_MAXPOOL) {
            continue; /* no accumulator: y is the window maximum */
        } else {
            accs[i] = trace.acc[L->src];
        }
        if (!accs[i]) {
            st = em_errf(err, EM_ERR_INTERNAL, "trace has no accumulators for layer %u", L->src);
            goto out;
        }
    }
    unsigned tbits = table_bits_for(vk, accs, n_samples, zk__threads(opts ? opts->threads : 0));
    if ((st = zk__wlayout(vk, n_samples, tbits, limb_bits_for(vk, n_samples, tbits), &wl, err)) != EM_OK)
        goto out;
    int forge = p->hook != NULL || p->wit_hook != NULL;
    if ((st = build_witness(p, &trace, accs, n_samples, &wl, &w, !forge, zk__threads(opts ? opts->threads : 0),
                            err)) != EM_OK)
        goto out;
    w.n_samples = n_samples;
    if (vk->layers[vk->n_layers - 1].kind == NN_MAXPOOL) /* build_witness takes it from the others */
        w.out = trace.act[vk->layers[vk->n_layers - 1].last + 1];
    if (p->wit_hook)
        p->wit_hook(vk, &wl, &w, p->wit_hook_ctx);
    zk__requant_mults(vk, &wl, &w, zk__threads(opts ? opts->threads : 0));
    memcpy(output, w.out, n_samples * vk->output_size * sizeof *output);
    double t2 = em_now_ms();
    if ((st = zk__input_job_finish(&ij, err)) != EM_OK ||
        (st = zk__statement_build(vk, input, output, n_samples, ctx, ij.hash, &stmt, err)) != EM_OK)
        goto out;

    tr_t tr;
    tr_init(&tr, ZK_TRANSCRIPT_DOMAIN);
    zk__statement_absorb(&tr, &stmt);
    /* witness commitment */
    uint8_t wcommit[ZK_MODEL_COMMIT_MAX];
    size_t wcommit_len = 0;
    if ((st = zk__pcs_commit_witness(w.ipoly, &wl, opts ? opts->threads : 0, forge, &wpcs, wcommit,
                                     &wcommit_len, err)) != EM_OK)
        goto out;
    tr_absorb_u64(&tr, "table-bits", wl.tbits);
    tr_absorb_u64(&tr, "limb-bits", wl.lbits);
    tr_absorb_bytes(&tr, "witness-commitment", wcommit, wcommit_len);
    double t3 = em_now_ms();
    zk_wr wr = {.tr = &tr, .buf = &comp, .threads = zk__threads(opts ? opts->threads : 0), .forge = forge};
    if (!(qc = calloc(1, sizeof *qc))) {
        st = em_errf(err, EM_ERR_NOMEM, "zk_prove: out of memory");
        goto out;
    }
    if ((st = zk__requant_prove(vk, &wl, &w, n_samples, &wr, &wc, qc, err)) != EM_OK)
        goto out;
    double t4 = em_now_ms();
    for (uint32_t i = vk->n_layers; i-- > 0;)
        if ((st = prove_dense(p, &wl, &w, xin, n_samples, i, qc, &wr, &wc, &mc, err)) != EM_OK)
            goto out;
    double t5 = em_now_ms();
    if ((st = zk__pcs_open(wpcs, &tr, &wl.pack, &wc, 1, wr.forge, &cons, err)) != EM_OK)
        goto out;
    double t6 = em_now_ms();
    /* a model of pooling layers only has no weights to open */
    if (mc.n && (st = zk__pcs_open(p->mpcs, &tr, &vk->mpack, &mc, 0, wr.forge, &cons, err)) != EM_OK)
        goto out;
    if (em_log_get_level() >= EM_LOG_DEBUG) { /* the split zk__wlayout chose, first 16 layers */
        char split[160] = "";
        for (uint32_t i = 0; i < vk->n_layers && i < 16; i++) {
            size_t l = strlen(split);
            snprintf(split + l, sizeof split - l, "%s%u/%u/%u", i ? " " : "", wl.jb[i], wl.nl[i], wl.tl[i]);
        }
        EM_DEBUG("zk_prove: T=%u, L=%u, per layer merged bits/limbs/tuple log: %s", wl.tbits, wl.lbits, split);
    }
    EM_DEBUG("zk_prove: T=%u, witness 2^%u; infer %.1f, witness %.1f, commit %.1f, lookups %.1f, dense %.1f, "
             "openings %.1f + %.1f (witness + model) ms",
             wl.tbits, wl.pack.total_log, t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, em_now_ms() - t6);
    if ((st = zk__proof_assemble(&stmt, wl.pack.total_log, wl.tbits, wl.lbits, wcommit, wcommit_len, &comp, &cons, &all, err)) != EM_OK)
        goto out;
    *proof = all.data;
    *proof_len = all.len;
    all.data = NULL;
    if (stats) {
        stats->infer_ms = t1 - t0;
        stats->prove_ms = em_now_ms() - t0;
        stats->proof_bytes = *proof_len;
    }
out:
    zk__input_job_join(&ij); /* on every path; its status was taken where the statement is built */
    em_buf_free(&comp);
    em_buf_free(&cons);
    em_buf_free(&all);
    zk__claims_free(&wc);
    zk__claims_free(&mc);
    zk__pcs_free(wpcs);
    free(qc);
    zk__wit_free(&w, &wl);
    nn_trace_free(&trace);
    for (uint32_t i = 0; i < ZK_MAX_LAYERS; i++)
        free(own_acc[i]);
    return st;
}
