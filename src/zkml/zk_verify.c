/* The inference verifier: the mirror of zk_prove.c. Every value read from the proof is
 * checked (lengths, canonical field elements, exact section consumption) before use; the
 * statement is recomputed from the caller's vk, input, output, nonce and node id, never taken
 * from the proof. */
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/ml.h"
#include "zk_internal.h"

/* Layer i's input evaluation a_ev at pt (input vars, batch vars): a claim on the previous
 * layer's committed output, or, for the first layer, checked here against the public input. */
static em_status input_claim(const zk_layer *L, const zk_wlayout *wl, const int32_t *input, size_t n, uint32_t i,
                             const ff2_t *pt, ff2_t a_ev, zk_claims *wc, em_err *err)
{
    if (i > 0)
        return zk__claims_add(wc, wl->y_blk[i - 1], pt, L->lv_in + wl->lb, a_ev, err);
    ff2_t x_ev;
    em_status st = zk__mle_i32(input, n, L->n_in, wl->lb, L->lv_in, pt, &x_ev, err);
    if (st != EM_OK)
        return st;
    if (!ff2_eq(x_ev, a_ev))
        return em_errf(err, EM_ERR_VERIFY, "layer 0: the proof's input evaluation does not match the input");
    return EM_OK;
}

static em_status verify_dense(const zk_vk *vk, const zk_wlayout *wl, const int32_t *input, const int32_t *output,
                              size_t n, uint32_t i, const zk_qclaims *qc, zk_rd *rd, zk_claims *wc, zk_claims *mc,
                              em_err *err)
{
    const zk_layer *L = &vk->layers[i];
    unsigned lb = wl->lb, lo = L->lv_out, li = L->lv_in;
    ff2_t kappa[ZK_MAX_VARS], pt[ZK_MAX_VARS];
    em_status st;
    if (L->kind == NN_MAXPOOL) {
        ff2_t a_ev;
        if ((st = zk__maxpool_verify(L, i, wl, i + 1 == vk->n_layers ? output : NULL, n, rd, pt, &a_ev, wc, err)) !=
            EM_OK)
            return st;
        return input_claim(L, wl, input, n, i, pt, a_ev, wc, err);
    }
    /* the accumulator point is the pair lookup's leaf point; q~ there is the value the lookup
     * used, checked by the sumcheck below (q is not committed) */
    const ff2_t *rho = qc->pt[i], *rho_j = rho, *rho_b = rho + lo;
    ff2_t ev[1 + ZK_MAX_LIMBS], bias_ev;
    ev[0] = qc->val[i];
    if (L->kind != NN_DENSE) {
        if ((st = zk__get_ff2(rd, "acc-evals", ev + 1, wl->nl[i], err)) != EM_OK)
            return em_err_prefix(err, "layer %u: ", i);
        for (unsigned t = 0; t < wl->nl[i]; t++)
            if ((st = zk__claims_add(wc, wl->r_blk[i][t], rho, lo + lb, ev[1 + t], err)) != EM_OK)
                return st;
        ff2_t a_ev;
        if ((st = zk__conv_verify(L, i, wl, n, ev, rho, rd, pt, &a_ev, mc, err)) != EM_OK)
            return st;
        return input_claim(L, wl, input, n, i, pt, a_ev, wc, err);
    }
    if ((st = zk__get_ff2(rd, "acc-evals", ev + 1, wl->nl[i], err)) != EM_OK ||
        (st = zk__get_ff2(rd, "bias-eval", &bias_ev, 1, err)) != EM_OK)
        return em_err_prefix(err, "layer %u: ", i);
    for (unsigned t = 0; t < wl->nl[i]; t++)
        if ((st = zk__claims_add(wc, wl->r_blk[i][t], rho, lo + lb, ev[1 + t], err)) != EM_OK)
            return st;
    if ((st = zk__claims_add(mc, 2 * i + 1, rho_j, lo, bias_ev, err)) != EM_OK)
        return st;
    ff2_t claim = zk__acc_claim(L, wl, i, ev, ml_prefix_indicator_eval(n, lb, rho_b), bias_ev);
    ff2_t a_ev, w_ev;
    if ((st = zk__matmul_verify(rd, li, claim, kappa, &a_ev, &w_ev, err)) != EM_OK)
        return em_err_prefix(err, "layer %u: ", i);
    memcpy(pt, kappa, li * sizeof *pt);
    memcpy(pt + li, rho_j, lo * sizeof *pt);
    if ((st = zk__claims_add(mc, 2 * i, pt, li + lo, w_ev, err)) != EM_OK)
        return st;
    memcpy(pt + li, rho_b, lb * sizeof *pt);
    return input_claim(L, wl, input, n, i, pt, a_ev, wc, err);
}

em_status zk_verify(const zk_vk *vk, const int32_t *input, size_t n_samples, const int32_t *output,
                    const zk_context *ctx, const uint8_t *proof, size_t proof_len, zk_stats *stats, em_err *err)
{
    if (!vk || !input || !output || !proof)
        return em_errf(err, EM_ERR_ARG, "zk_verify: NULL argument");
    double t0 = em_now_ms();
    zk_statement stmt;
    zk_proof_view pv;
    zk_wlayout wl;
    zk_claims wc = {0}, mc = {0};
    zk_qclaims *qc = NULL;
    const int32_t *xin = input;
    int32_t *own_xin = NULL; /* prefix(input) when the prefix changes values */
    em_status st;
    if ((st = zk__statement_build(vk, input, output, n_samples, ctx, NULL, &stmt, err)) != EM_OK)
        return st;
    if ((st = zk__proof_parse(proof, proof_len, &pv, err)) != EM_OK)
        return st;
    if ((st = zk__proof_check_statement(&pv, &stmt, err)) != EM_OK)
        return st;
    if (vk->n_layers == 0) { /* parameter-free model: the statement binding is the whole proof */
        if (pv.witness_log || pv.table_bits || pv.limb_bits || pv.wcommit_len || pv.comp_len || pv.cons_len)
            st = em_errf(err, EM_ERR_VERIFY, "a model without proven layers takes a proof with no witness "
                         "and empty sections");
        else if ((st = zk__prefix_check_output(vk, input, n_samples, output, err)) != EM_OK)
            em_err_prefix(err, "output ");
        goto out;
    }
    if ((st = zk__wlayout(vk, n_samples, pv.table_bits, pv.limb_bits, &wl, err)) != EM_OK)
        return em_err_prefix(err, "proof header: ");
    if (pv.witness_log != wl.pack.total_log)
        return em_errf(err, EM_ERR_VERIFY, "witness polynomial has 2^%u values, expected 2^%u for %zu samples",
                       pv.witness_log, wl.pack.total_log, n_samples);
    if ((st = zk__pcs_check_commitment(pv.wcommit, pv.wcommit_len, wl.pack.total_log, &wl, err)) != EM_OK)
        return em_err_prefix(err, "witness commitment: ");
    /* the first proven layer reads prefix(input), computed here from the input the statement binds */
    if ((st = zk__prefix_input(vk, input, n_samples, &xin, &own_xin, err)) != EM_OK)
        return st;

    tr_t tr;
    tr_init(&tr, ZK_TRANSCRIPT_DOMAIN);
    zk__statement_absorb(&tr, &stmt);
    tr_absorb_u64(&tr, "table-bits", wl.tbits);
    tr_absorb_u64(&tr, "limb-bits", wl.lbits);
    tr_absorb_bytes(&tr, "witness-commitment", pv.wcommit, pv.wcommit_len);
    em_reader comp, cons;
    em_reader_init(&comp, pv.comp, pv.comp_len);
    em_reader_init(&cons, pv.cons, pv.cons_len);
    zk_rd rd = {.tr = &tr, .rd = &comp};
    double t1 = em_now_ms();
    if (!(qc = calloc(1, sizeof *qc))) {
        st = em_errf(err, EM_ERR_NOMEM, "zk_verify: out of memory");
        goto out;
    }
    if ((st = zk__requant_verify(vk, &wl, output, n_samples, &rd, &wc, qc, err)) != EM_OK)
        goto out;
    double t2 = em_now_ms();
    for (uint32_t i = vk->n_layers; i-- > 0;)
        if ((st = verify_dense(vk, &wl, xin, output, n_samples, i, qc, &rd, &wc, &mc, err)) != EM_OK)
            goto out;
    if (em_reader_left(&comp)) {
        st = em_errf(err, EM_ERR_PARSE, "computation section has %zu unread bytes", em_reader_left(&comp));
        goto out;
    }
    double t3 = em_now_ms();
    if ((st = zk__pcs_verify(pv.wcommit, pv.wcommit_len, &tr, &wl.pack, &wl, &wc, &cons, err)) != EM_OK) {
        em_err_prefix(err, "witness opening: ");
        goto out;
    }
    double t4 = em_now_ms();
    if (mc.n && /* no model opening for a model of pooling layers only (no weights) */
        (st = zk__pcs_verify(vk->model_commit, vk->model_commit_len, &tr, &vk->mpack, NULL, &mc, &cons, err)) != EM_OK) {
        em_err_prefix(err, "model opening: ");
        goto out;
    }
    if (em_reader_left(&cons)) {
        st = em_errf(err, EM_ERR_PARSE, "consistency section has %zu unread bytes", em_reader_left(&cons));
        goto out;
    }
    EM_DEBUG("zk_verify: statement + layout %.1f, lookups %.1f, layers %.1f, witness opening %.1f, model opening "
             "%.1f ms",
             t1 - t0, t2 - t1, t3 - t2, t4 - t3, em_now_ms() - t4);
out:
    zk__claims_free(&wc);
    zk__claims_free(&mc);
    free(own_xin);
    free(qc);
    if (st == EM_OK && stats) {
        stats->verify_ms = em_now_ms() - t0;
        stats->proof_bytes = proof_len;
    }
    return st;
}
