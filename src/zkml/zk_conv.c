/* Conv2d and AvgPool layers (docs/PROOFS.md "Convolution and average pooling").
 *
 * Activations are [sample][channel][position], each channel's P positions padded to a slot of
 * 2^lp (zk_internal.h zk__pad_idx), so an output block's variables split into (p, c, b). The
 * selections below have no entries for padded positions, and the bias term is weighted by
 * valid(b) valid(p), so padded positions have acc = 0 and the lookups force q = 0, y = 0 there.
 * Both layers are linear maps of the previous activation A followed by the same requantization
 * lookups as dense layers:
 *
 *   conv:    acc(b, co, p) = sum_k Xcol(b, p, k) W(co, k) + bias(co),
 *            Xcol(b, p, k) = sum_j A(b, j) S((p, k), j)        (S: the public im2col selection)
 *   avgpool: acc(b, c, p)  = sum_j A(b, j) M((c, p), j)        (M: m(p) on the window of (c, p))
 *
 * At a random point of acc the prover runs (conv) the matmul sumcheck over k, whose claim on
 * Xcol~(rho_b, rho_p, kappa) becomes a second sumcheck sum_j A~(rho_b, j) s(j) with
 * s(j) = S~((rho_p, kappa), j); (avgpool) directly sum_j A~(rho_b, j) M~((rho_c, rho_p), j).
 * The verifier evaluates the public selection at the final point itself in O(P * window) --
 * per sample, never per batch -- and the claim on A~ goes to the previous layer (or the public
 * input) exactly as for dense layers. */
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/ml.h"
#include "zk_internal.h"

/* ---- geometry helpers (shared by prover and verifier) ------------------------------------- */

/* The engine's avgpool divisor multiplier m(p) = round(2^k / d) (model/run.c pool()). */
static int64_t pool_mult(const zk_layer *L, uint32_t oy, uint32_t ox)
{
    int64_t H = L->hi, W = L->wi;
    int64_t y0 = (int64_t)oy * L->sh - L->pt, y1 = y0 + L->kh;
    int64_t x0 = (int64_t)ox * L->sw - L->pl, x1 = x0 + L->kw;
    int64_t ya = y0 < 0 ? 0 : y0, yb = y1 > H ? H : y1, xa = x0 < 0 ? 0 : x0, xb = x1 > W ? W : x1;
    int64_t d;
    if (L->cip) {
        int64_t ypad = (y1 > H + L->pb ? H + L->pb : y1) - y0;
        d = ypad * ((x1 > W + L->pr ? W + L->pr : x1) - x0);
    } else {
        d = (yb - ya) * (xb - xa);
    }
    return d > 0 ? ((((int64_t)1 << (L->shift + 1)) + d) / (2 * d)) : 0;
}

/* Input flat index of window element (ky, kx) of input channel c for output position (oy, ox),
 * or -1 in the zero padding. */
static int64_t win_idx(const zk_layer *L, uint32_t c, uint32_t oy, uint32_t ox, uint32_t ky, uint32_t kx)
{
    int64_t iy = (int64_t)oy * L->sh + ky - L->pt, ix = (int64_t)ox * L->sw + kx - L->pl;
    if (iy < 0 || ix < 0 || iy >= L->hi || ix >= L->wi)
        return -1;
    return ((int64_t)c * L->hi + iy) * L->wi + ix;
}

/* Where engine input index j lives in the (possibly position-padded) input block. */
static uint64_t in_idx(const zk_layer *L, int64_t j) { return zk__pad_idx(L->ip, L->ips, (uint64_t)j); }

/* acc of an avgpool layer for n samples: m(p) * (sum over the window), layout [s][c][p]. */
em_status zk__avgpool_acc(const zk_layer *L, const int32_t *in, size_t n, int64_t **out, em_err *err)
{
    int64_t *acc = malloc(n * L->n_out * sizeof *acc);
    if (!acc)
        return em_errf(err, EM_ERR_NOMEM, "avgpool accumulators: out of memory");
    size_t P = (size_t)L->ho * L->wo;
    for (size_t s = 0; s < n; s++)
        for (uint32_t c = 0; c < L->co; c++)
            for (uint32_t oy = 0; oy < L->ho; oy++)
                for (uint32_t ox = 0; ox < L->wo; ox++) {
                    int64_t sum = 0;
                    for (uint32_t ky = 0; ky < L->kh; ky++)
                        for (uint32_t kx = 0; kx < L->kw; kx++) {
                            int64_t j = win_idx(L, c, oy, ox, ky, kx);
                            if (j >= 0)
                                sum += in[s * L->n_in + (size_t)j];
                        }
                    acc[s * L->n_out + c * P + (size_t)oy * L->wo + ox] = sum * pool_mult(L, oy, ox);
                }
    *out = acc;
    return EM_OK;
}

/* Public selection at the sumcheck's j variables. conv: sum_{p,k} ep[p] ek[k] [idx(p,k) = j];
 * avgpool: sum_{c,p,w} ec[c] ep[p] m(p) [idx(c,p,w) = j]. With scatter != NULL the whole
 * table is written (prover, 2^lv_in entries, zeroed by the caller); otherwise the value at the
 * point whose eq table is eqj is returned (verifier). */
static ff2_t selection(const zk_layer *L, const ff2_t *ep, const ff2_t *ek_or_ec, const ff2_t *eqj, ff2_t *scatter)
{
    ff2_t acc = ff2_zero();
    uint32_t P = L->ho * L->wo;
    for (uint32_t p = 0; p < P; p++) {
        uint32_t oy = p / L->wo, ox = p % L->wo;
        if (L->kind == NN_CONV2D) {
            uint32_t k = 0;
            for (uint32_t c = 0; c < L->ci; c++)
                for (uint32_t ky = 0; ky < L->kh; ky++)
                    for (uint32_t kx = 0; kx < L->kw; kx++, k++) {
                        int64_t j = win_idx(L, c, oy, ox, ky, kx);
                        if (j < 0)
                            continue;
                        ff2_t coef = zk__mul2(ep[p], ek_or_ec[k]);
                        uint64_t x = in_idx(L, j);
                        if (scatter)
                            scatter[x] = ff2_add(scatter[x], coef);
                        else
                            acc = ff2_add(acc, zk__mul2(coef, eqj[x]));
                    }
        } else {
            ff2_t pm = ff2_mul_base(ep[p], ff_from_i64(pool_mult(L, oy, ox)));
            for (uint32_t c = 0; c < L->co; c++) {
                ff2_t coef = zk__mul2(pm, ek_or_ec[c]);
                for (uint32_t ky = 0; ky < L->kh; ky++)
                    for (uint32_t kx = 0; kx < L->kw; kx++) {
                        int64_t j = win_idx(L, c, oy, ox, ky, kx);
                        if (j < 0)
                            continue;
                        uint64_t x = in_idx(L, j);
                        if (scatter)
                            scatter[x] = ff2_add(scatter[x], coef);
                        else
                            acc = ff2_add(acc, zk__mul2(coef, eqj[x]));
                    }
            }
        }
    }
    return acc;
}

/* ---- prover --------------------------------------------------------------------------------- */

/* A~(rho_b, .) for layer i: the folded previous activation (public input: ld = n_in, or a
 * witness block in its padded layout: ld = 2^lv_in). */
static void fold_input(const zk_layer *L, const int32_t *a, size_t rows, size_t ld, const ff2_t *eqb, ff2_t *out)
{
    zk__fold_rows_i32(a, rows, ld, ld, eqb, out, (size_t)1 << L->lv_in);
}

/* valid(b) valid(p): the bias reaches real samples at real positions only */
static ff2_t bias_weight(const zk_layer *L, size_t n, unsigned lb, const ff2_t *rho_b, const ff2_t *rho_p)
{
    return ff2_mul(ml_prefix_indicator_eval(n, lb, rho_b), ml_prefix_indicator_eval(L->op, L->lp, rho_p));
}

em_status zk__conv_prove(const zk_layer *L, const nn_layer *NL, uint32_t i, const int32_t *a, size_t a_rows,
                         size_t a_ld, const zk_wlayout *wl, size_t n, const ff2_t *ev_acc, const ff2_t *rho,
                         zk_wr *wr, ff2_t *pt_a, ff2_t *a_claim, zk_claims *mc, em_err *err)
{
    unsigned lb = wl->lb, lp = L->lp, lc = L->lc, li = L->lv_in, lk = L->lk;
    size_t N = (size_t)1 << li, K = (size_t)1 << lk, Pn = (size_t)1 << lp, Cn = (size_t)1 << lc;
    const ff2_t *rho_p = rho, *rho_c = rho + lp, *rho_b = rho + lp + lc;
    ff2_t *eqb = malloc(((size_t)1 << lb) * sizeof *eqb), *ep = malloc(Pn * sizeof *ep);
    ff2_t *ec = malloc(Cn * sizeof *ec), *ab = malloc(N * sizeof *ab), *sel = calloc(N, sizeof *sel);
    ff2_t *av = malloc(K * sizeof *av), *wv = malloc(K * sizeof *wv), *ek = malloc(K * sizeof *ek);
    ff2_t kappa[ZK_MAX_VARS], pt[ZK_MAX_VARS];
    em_status st = EM_OK;
    if (!eqb || !ep || !ec || !ab || !sel || !av || !wv || !ek) {
        st = em_errf(err, EM_ERR_NOMEM, "layer %u: out of memory", i);
        goto out;
    }
    ml_eq_table(rho_b, lb, ff2_one(), eqb);
    ml_eq_table(rho_p, lp, ff2_one(), ep);
    ml_eq_table(rho_c, lc, ff2_one(), ec);
    fold_input(L, a, a_rows, a_ld, eqb, ab);
    ff2_t claim;
    if (L->kind == NN_CONV2D) {
        ff2_t bias_ev = zk__dot_i64(NL->bias, NL->n_bias, ec);
        if ((st = zk__put_ff2(wr, "bias-eval", &bias_ev, 1, err)) != EM_OK ||
            (st = zk__claims_add(mc, 2 * i + 1, rho_c, lc, bias_ev, err)) != EM_OK)
            goto out;
        claim = zk__acc_claim(L, wl, i, ev_acc, bias_weight(L, n, lb, rho_b, rho_p), bias_ev);
        /* a(k) = Xcol~(rho_b, rho_p, k) = sum_p ep[p] * Ab[idx(p, k)] */
        size_t Kr = (size_t)L->ci * L->kh * L->kw;
        for (size_t k = 0; k < K; k++)
            av[k] = ff2_zero();
        for (uint32_t p = 0; p < L->ho * L->wo; p++) {
            uint32_t oy = p / L->wo, ox = p % L->wo, k = 0;
            for (uint32_t c = 0; c < L->ci; c++)
                for (uint32_t ky = 0; ky < L->kh; ky++)
                    for (uint32_t kx = 0; kx < L->kw; kx++, k++) {
                        int64_t j = win_idx(L, c, oy, ox, ky, kx);
                        if (j >= 0)
                            av[k] = ff2_add(av[k], zk__mul2(ep[p], ab[in_idx(L, j)]));
                    }
        }
        zk__fold_rows_i32(NL->weight, L->co, Kr, Kr, ec, wv, K);
        ff2_t x_ev, w_ev;
        if ((st = zk__matmul_prove(wr, av, wv, lk, claim, kappa, &x_ev, &w_ev, err)) != EM_OK)
            goto out;
        memcpy(pt, kappa, lk * sizeof *pt);
        memcpy(pt + lk, rho_c, lc * sizeof *pt);
        if ((st = zk__claims_add(mc, 2 * i, pt, lk + lc, w_ev, err)) != EM_OK)
            goto out;
        ml_eq_table(kappa, lk, ff2_one(), ek);
        selection(L, ep, ek, NULL, sel);
        claim = x_ev;
    } else {
        claim = zk__acc_claim(L, wl, i, ev_acc, ff2_zero(), ff2_zero());
        selection(L, ep, ec, NULL, sel);
    }
    /* sum_j A~(rho_b, j) sel(j): the claim on A~ at (rho_j, rho_b) */
    ff2_t rho_j[ZK_MAX_VARS], s_ev;
    if ((st = zk__matmul_prove(wr, ab, sel, li, claim, rho_j, a_claim, &s_ev, err)) != EM_OK)
        goto out;
    memcpy(pt_a, rho_j, li * sizeof *pt_a);
    memcpy(pt_a + li, rho_b, lb * sizeof *pt_a);
out:
    free(eqb);
    free(ep);
    free(ec);
    free(ab);
    free(sel);
    free(av);
    free(wv);
    free(ek);
    return st;
}

/* ---- verifier ------------------------------------------------------------------------------- */

em_status zk__conv_verify(const zk_layer *L, uint32_t i, const zk_wlayout *wl, size_t n, const ff2_t *ev_acc,
                          const ff2_t *rho, zk_rd *rd, ff2_t *pt_a, ff2_t *a_claim, zk_claims *mc, em_err *err)
{
    unsigned lb = wl->lb, lp = L->lp, lc = L->lc, li = L->lv_in, lk = L->lk;
    const ff2_t *rho_p = rho, *rho_c = rho + lp, *rho_b = rho + lp + lc;
    ff2_t kappa[ZK_MAX_VARS], pt[ZK_MAX_VARS], rho_j[ZK_MAX_VARS];
    ff2_t *ep = malloc(((size_t)1 << lp) * sizeof *ep), *ec = malloc(((size_t)1 << lc) * sizeof *ec);
    ff2_t *ek = malloc(((size_t)1 << lk) * sizeof *ek), *eqj = malloc(((size_t)1 << li) * sizeof *eqj);
    em_status st = EM_OK;
    if (!ep || !ec || !ek || !eqj) {
        st = em_errf(err, EM_ERR_NOMEM, "layer %u: out of memory", i);
        goto out;
    }
    ml_eq_table(rho_p, lp, ff2_one(), ep);
    ml_eq_table(rho_c, lc, ff2_one(), ec);
    ff2_t claim;
    if (L->kind == NN_CONV2D) {
        ff2_t bias_ev;
        if ((st = zk__get_ff2(rd, "bias-eval", &bias_ev, 1, err)) != EM_OK ||
            (st = zk__claims_add(mc, 2 * i + 1, rho_c, lc, bias_ev, err)) != EM_OK)
            goto out;
        claim = zk__acc_claim(L, wl, i, ev_acc, bias_weight(L, n, lb, rho_b, rho_p), bias_ev);
        ff2_t x_ev, w_ev;
        if ((st = zk__matmul_verify(rd, lk, claim, kappa, &x_ev, &w_ev, err)) != EM_OK) {
            em_err_prefix(err, "layer %u (conv): ", i);
            goto out;
        }
        memcpy(pt, kappa, lk * sizeof *pt);
        memcpy(pt + lk, rho_c, lc * sizeof *pt);
        if ((st = zk__claims_add(mc, 2 * i, pt, lk + lc, w_ev, err)) != EM_OK)
            goto out;
        ml_eq_table(kappa, lk, ff2_one(), ek);
        claim = x_ev;
    } else {
        claim = zk__acc_claim(L, wl, i, ev_acc, ff2_zero(), ff2_zero());
    }
    ff2_t s_ev;
    if ((st = zk__matmul_verify(rd, li, claim, rho_j, a_claim, &s_ev, err)) != EM_OK) {
        em_err_prefix(err, "layer %u (selection): ", i);
        goto out;
    }
    ml_eq_table(rho_j, li, ff2_one(), eqj);
    ff2_t want = selection(L, ep, L->kind == NN_CONV2D ? ek : ec, eqj, NULL);
    if (!ff2_eq(want, s_ev)) {
        st = em_errf(err, EM_ERR_VERIFY, "layer %u: the window selection does not match the proof", i);
        goto out;
    }
    memcpy(pt_a, rho_j, li * sizeof *pt_a);
    memcpy(pt_a + li, rho_b, lb * sizeof *pt_a);
out:
    free(ep);
    free(ec);
    free(ek);
    free(eqj);
    return st;
}
