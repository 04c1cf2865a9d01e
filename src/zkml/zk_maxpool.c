/* MaxPool layers (docs/PROOFS.md "Max pooling"): windows of K = kh*kw <= ZK_MAX_POOL_WIN
 * positions, with padding, anywhere in the model. The witness holds y and, per window slot w,
 * d_w = y - x_w, x_w the slot's input. A slot in the padding reads the nearest real input of its
 * window instead (coordinates clamped to the input), so it only repeats a real candidate: the
 * maximum over the slots is the engine's maximum over the real positions. Proven:
 *   - every d_w in [0, 2^act_bits) (range lookups, zk_requant.c)    => y >= every x_w;
 *   - sum_x eq(tau, x) prod_w d_w(x) = 0 (zk_prodzero.c)              => some d_w = 0 at every x
 *     (a product of field elements is zero only if a factor is, and 0 <= d_w < 2^16 < p);
 *   - the link x_w = y - d_w to the previous activation: at a random point rho,
 *     sum_w nu^w (y~ - d_w~)(rho) = sum_j A~(rho_b, j) sel(j), sel the public window selection
 *     weighted by nu^w, which the verifier evaluates in O(C * P * K). Padded output positions
 *     (each channel's P positions sit in a slot of 2^lp) have no selection entries, so x_w = 0
 *     there and y = d_w = 0 like any padding.
 * So y = max_w x_w exactly. A ReLU after the pool adds a slot whose input is the constant 0:
 * its difference is y itself (no new block: d_blk[i][K] = y_blk[i]), range-checked and a factor
 * of the product, while the link covers only the real slots; then y = max(0, max_w x_w) =
 * relu(max_w x_w), what the engine computes. When the layer is the last one, y~(rho) must also
 * equal the public output's evaluation, which binds the committed y to the statement. */
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/ml.h"
#include "zk_internal.h"

static uint64_t clamp_coord(int64_t v, uint32_t n) { return v < 0 ? 0 : v >= (int64_t)n ? n - 1 : (uint64_t)v; }

/* Engine index of the input read by window slot w of output position p in channel c. */
static int64_t pool_idx(const zk_layer *L, uint32_t c, uint32_t p, uint32_t w)
{
    uint32_t oy = p / L->wo, ox = p % L->wo, ky = w / L->kw, kx = w % L->kw;
    uint64_t iy = clamp_coord((int64_t)oy * L->sh - L->pt + ky, L->hi);
    uint64_t ix = clamp_coord((int64_t)ox * L->sw - L->pl + kx, L->wi);
    return (int64_t)(((uint64_t)c * L->hi + iy) * L->wi + ix);
}

em_status zk__maxpool_witness(const zk_layer *L, uint32_t i, const zk_wlayout *wl, const int32_t *in, size_t n,
                              zk_wit *w, em_err *err)
{
    (void)err;
    unsigned K = L->kh * L->kw;
    size_t M = (size_t)1 << L->lv_out, P = (size_t)L->ho * L->wo;
    const int32_t *Y = w->blk[wl->y_blk[i]];
    for (size_t s = 0; s < n; s++)
        for (uint32_t c = 0; c < L->co; c++)
            for (uint32_t p = 0; p < P; p++) {
                size_t e = s * M + (size_t)c * L->ops + p; /* padded output layout */
                for (unsigned t = 0; t < K; t++) {
                    /* honest: 0 <= d < 2^act_bits; a test hook may break the range, which the
                     * lookup then rejects */
                    int64_t d = (int64_t)Y[e] - in[s * L->n_in + (size_t)pool_idx(L, c, p, t)];
                    w->blk[wl->d_blk[i][t]][e] = (int32_t)d;
                }
            }
    return EM_OK;
}

/* Window selection weighted by nu^w and eq(rho_c, c) eq(rho_p, p): scattered into a table
 * (prover) or evaluated against eqj (verifier). */
static ff2_t pool_selection(const zk_layer *L, const ff2_t *ep, const ff2_t *ec, const ff2_t *nu_pow, const ff2_t *eqj,
                            ff2_t *scatter)
{
    ff2_t acc = ff2_zero();
    unsigned K = L->kh * L->kw;
    uint32_t P = L->ho * L->wo;
    for (uint32_t c = 0; c < L->co; c++)
        for (uint32_t p = 0; p < P; p++) {
            ff2_t cp = zk__mul2(ec[c], ep[p]);
            for (unsigned t = 0; t < K; t++) {
                /* the input block's (possibly position-padded) index */
                uint64_t j = zk__pad_idx(L->ip, L->ips, (uint64_t)pool_idx(L, c, p, t));
                ff2_t coef = zk__mul2(cp, nu_pow[t]);
                if (scatter)
                    scatter[j] = ff2_add(scatter[j], coef);
                else
                    acc = ff2_add(acc, zk__mul2(coef, eqj[j]));
            }
        }
    return acc;
}

static void nu_powers(ff2_t nu, unsigned K, ff2_t *out)
{
    out[0] = ff2_one();
    for (unsigned t = 1; t < K; t++)
        out[t] = zk__mul2(out[t - 1], nu);
}

static ff2_t link_claim(const ff2_t *ev, const ff2_t *nu_pow, unsigned K)
{
    ff2_t c = ff2_zero();
    for (unsigned t = 0; t < K; t++)
        c = ff2_add(c, zk__mul2(nu_pow[t], ff2_sub(ev[0], ev[1 + t])));
    return c;
}

em_status zk__maxpool_prove(const zk_layer *L, uint32_t i, const zk_wlayout *wl, const zk_wit *w, const int32_t *a,
                            size_t a_rows, size_t a_ld, zk_wr *wr, ff2_t *pt_a, ff2_t *a_claim, zk_claims *wc,
                            em_err *err)
{
    unsigned K = L->kh * L->kw, lb = wl->lb, lo = L->lv_out, lp = L->lp, lc = L->lc, li = L->lv_in, nv = lo + lb;
    size_t N = (size_t)1 << li, rows = (size_t)1 << lb, cols = (size_t)1 << lo;
    ff2_t rho[ZK_MAX_VARS], tau[ZK_MAX_VARS], sigma[ZK_MAX_VARS], rho_j[ZK_MAX_VARS], nu_pow[ZK_MAX_POOL_WIN];
    ff2_t ev[ZK_MAX_POOL_SLOTS + 1];
    ff2_t *eqb = malloc(rows * sizeof *eqb), *ep = malloc(((size_t)1 << lp) * sizeof *ep);
    ff2_t *ec = malloc(((size_t)1 << lc) * sizeof *ec), *ab = malloc(N * sizeof *ab), *sel = calloc(N, sizeof *sel);
    em_status st = EM_OK;
    if (!eqb || !ep || !ec || !ab || !sel) {
        st = em_errf(err, EM_ERR_NOMEM, "layer %u (maxpool): out of memory", i);
        goto out;
    }
    nu_powers(tr_challenge_ff2(wr->tr, "pool-nu"), K, nu_pow);
    tr_challenge_ff2_vec(wr->tr, "pool-point", rho, nv);
    if ((st = zk__mle_i32(w->blk[wl->y_blk[i]], rows, cols, lb, lo, rho, &ev[0], err)) != EM_OK)
        goto out;
    for (unsigned t = 0; t < K; t++)
        if ((st = zk__mle_i32(w->blk[wl->d_blk[i][t]], rows, cols, lb, lo, rho, &ev[1 + t], err)) != EM_OK)
            goto out;
    if ((st = zk__put_ff2(wr, "pool-evals", ev, 1 + K, err)) != EM_OK ||
        (st = zk__claims_add(wc, wl->y_blk[i], rho, nv, ev[0], err)) != EM_OK)
        goto out;
    for (unsigned t = 0; t < K; t++)
        if ((st = zk__claims_add(wc, wl->d_blk[i][t], rho, nv, ev[1 + t], err)) != EM_OK)
            goto out;
    /* link: sum_w nu^w (y - d_w)(rho) = sum_j A~(rho_b, j) sel(j) */
    ml_eq_table(rho + lo, lb, ff2_one(), eqb);
    ml_eq_table(rho, lp, ff2_one(), ep);
    ml_eq_table(rho + lp, lc, ff2_one(), ec);
    zk__fold_rows_i32(a, a_rows, a_ld, a_ld, eqb, ab, N); /* a_ld: n_in (public input) or N */
    pool_selection(L, ep, ec, nu_pow, NULL, sel);
    ff2_t s_ev;
    if ((st = zk__matmul_prove(wr, ab, sel, li, link_claim(ev, nu_pow, K), rho_j, a_claim, &s_ev, err)) != EM_OK)
        goto out;
    memcpy(pt_a, rho_j, li * sizeof *pt_a);
    memcpy(pt_a + li, rho + lo, lb * sizeof *pt_a);
    /* some d_w is zero at every entry: the product zero-check at a random tau */
    tr_challenge_ff2_vec(wr->tr, "pool-zero-point", tau, nv);
    const int32_t *tabs[ZK_MAX_POOL_SLOTS];
    unsigned S = zk__pool_slots(L);
    for (unsigned t = 0; t < S; t++)
        tabs[t] = w->blk[wl->d_blk[i][t]];
    if ((st = zk__prodzero_prove(wr, tabs, S, nv, tau, sigma, ev, err)) != EM_OK)
        goto out;
    for (unsigned t = 0; t < S; t++)
        if ((st = zk__claims_add(wc, wl->d_blk[i][t], sigma, nv, ev[t], err)) != EM_OK)
            goto out;
out:
    free(eqb);
    free(ep);
    free(ec);
    free(ab);
    free(sel);
    return st;
}

em_status zk__maxpool_verify(const zk_layer *L, uint32_t i, const zk_wlayout *wl, const int32_t *output, size_t n,
                             zk_rd *rd, ff2_t *pt_a, ff2_t *a_claim, zk_claims *wc, em_err *err)
{
    unsigned K = L->kh * L->kw, lb = wl->lb, lo = L->lv_out, lp = L->lp, lc = L->lc, li = L->lv_in, nv = lo + lb;
    ff2_t rho[ZK_MAX_VARS], tau[ZK_MAX_VARS], sigma[ZK_MAX_VARS], rho_j[ZK_MAX_VARS], nu_pow[ZK_MAX_POOL_WIN];
    ff2_t ev[ZK_MAX_POOL_SLOTS + 1];
    ff2_t *ep = malloc(((size_t)1 << lp) * sizeof *ep), *ec = malloc(((size_t)1 << lc) * sizeof *ec);
    ff2_t *eqj = malloc(((size_t)1 << li) * sizeof *eqj);
    em_status st = EM_OK;
    if (!ep || !ec || !eqj) {
        st = em_errf(err, EM_ERR_NOMEM, "layer %u (maxpool): out of memory", i);
        goto out;
    }
    nu_powers(tr_challenge_ff2(rd->tr, "pool-nu"), K, nu_pow);
    tr_challenge_ff2_vec(rd->tr, "pool-point", rho, nv);
    if ((st = zk__get_ff2(rd, "pool-evals", ev, 1 + K, err)) != EM_OK ||
        (st = zk__claims_add(wc, wl->y_blk[i], rho, nv, ev[0], err)) != EM_OK)
        goto out;
    if (output) { /* the last layer: the committed y is the public output */
        ff2_t y_pub;
        if ((st = zk__out_mle(L, output, n, lb, rho, &y_pub, err)) != EM_OK)
            goto out;
        if (!ff2_eq(y_pub, ev[0])) {
            st = em_errf(err, EM_ERR_VERIFY, "layer %u (maxpool): the pooled output does not match the public output",
                         i);
            goto out;
        }
    }
    for (unsigned t = 0; t < K; t++)
        if ((st = zk__claims_add(wc, wl->d_blk[i][t], rho, nv, ev[1 + t], err)) != EM_OK)
            goto out;
    ff2_t s_ev;
    if ((st = zk__matmul_verify(rd, li, link_claim(ev, nu_pow, K), rho_j, a_claim, &s_ev, err)) != EM_OK) {
        em_err_prefix(err, "layer %u (maxpool link): ", i);
        goto out;
    }
    ml_eq_table(rho, lp, ff2_one(), ep);
    ml_eq_table(rho + lp, lc, ff2_one(), ec);
    ml_eq_table(rho_j, li, ff2_one(), eqj);
    if (!ff2_eq(pool_selection(L, ep, ec, nu_pow, eqj, NULL), s_ev)) {
        st = em_errf(err, EM_ERR_VERIFY, "layer %u (maxpool): the window selection does not match the proof", i);
        goto out;
    }
    memcpy(pt_a, rho_j, li * sizeof *pt_a);
    memcpy(pt_a + li, rho + lo, lb * sizeof *pt_a);
    tr_challenge_ff2_vec(rd->tr, "pool-zero-point", tau, nv);
    unsigned S = zk__pool_slots(L);
    if ((st = zk__prodzero_verify(rd, S, nv, tau, sigma, ev, err)) != EM_OK) {
        em_err_prefix(err, "layer %u (maxpool max): ", i);
        goto out;
    }
    for (unsigned t = 0; t < S; t++)
        if ((st = zk__claims_add(wc, wl->d_blk[i][t], sigma, nv, ev[t], err)) != EM_OK)
            goto out;
out:
    free(ep);
    free(ec);
    free(eqj);
    return st;
}
