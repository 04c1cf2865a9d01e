/* zk_prover_create: maps the model onto proven layers (dense + fused activation; Flatten and
 * Reshape are free; a standalone ReLU after a dense layer is folded into it; the reshapes and
 * ReLUs before the first of them are the public prefix, zk_prefix.c), packs every
 * weight matrix and bias vector into one multilinear polynomial and commits to it with
 * randomness derived from the model's blinding seed, so every worker loading the same file gets
 * the same verifying key and model hash. */
#include <stdlib.h>
#include <string.h>

#include "zk_internal.h"

static em_status map_layers(const nn_model *m, zk_vk *vk, em_err *err)
{
    size_t n = nn_model_n_layers(m), first;
    int have = 0; /* a dense layer was mapped and only reshapes/ReLUs followed it */
    em_status st = zk__prefix_map(m, vk, &first, err);
    if (st != EM_OK)
        return st;
    for (size_t i = first; i < n; i++) {
        const nn_layer *L = nn_model_layer(m, i);
        switch (L->kind) {
        case NN_DENSE:
        case NN_CONV2D:
        case NN_MAXPOOL:
        case NN_AVGPOOL: {
            if (vk->n_layers == ZK_MAX_LAYERS)
                return em_errf(err, EM_ERR_UNSUPPORTED, "proofs support at most %u dense/conv/pool layers",
                               ZK_MAX_LAYERS);
            size_t nin = nn_shape_size(L->in), nout = nn_shape_size(L->out);
            if (nin > ZK_MAX_DIM || nout > ZK_MAX_DIM)
                return em_errf(err, EM_ERR_UNSUPPORTED, "layer %zu (%s): %zux%zu is above the proof size cap", i,
                               L->name, nout, nin);
            if (L->kind == NN_DENSE && (L->n_weight != nin * nout || (L->n_bias != 0 && L->n_bias != nout)))
                return em_errf(err, EM_ERR_FORMAT, "layer %zu (%s): weight/bias sizes do not match the shape", i,
                               L->name);
            if (L->kind == NN_CONV2D &&
                (L->n_weight != (size_t)L->out.c * L->in.c * L->kh * L->kw || (L->n_bias && L->n_bias != L->out.c)))
                return em_errf(err, EM_ERR_FORMAT, "layer %zu (%s): conv weight/bias sizes do not match", i, L->name);
            if (L->shift > ZK_MAX_SHIFT)
                return em_errf(err, EM_ERR_UNSUPPORTED, "layer %zu (%s): requantization shift %u > %u", i, L->name,
                               L->shift, ZK_MAX_SHIFT);
            zk_layer *z = &vk->layers[vk->n_layers++];
            memset(z, 0, sizeof *z);
            z->kind = (uint32_t)L->kind;
            z->n_in = (uint32_t)nin;
            z->n_out = (uint32_t)nout;
            z->shift = L->shift;
            z->act = L->kind == NN_AVGPOOL || L->kind == NN_MAXPOOL ? NN_ACT_NONE : (uint32_t)L->act;
            if (L->kind != NN_DENSE) {
                z->ci = L->in.c;
                z->hi = L->in.h;
                z->wi = L->in.w;
                z->co = L->out.c;
                z->ho = L->out.h;
                z->wo = L->out.w;
                z->kh = L->kh;
                z->kw = L->kw;
                z->sh = L->sh;
                z->sw = L->sw;
                z->pt = L->pt;
                z->pl = L->pl;
                z->pb = L->pb;
                z->pr = L->pr;
                z->cip = L->kind == NN_AVGPOOL ? L->count_include_pad : 0;
            }
            z->src = (uint32_t)i;
            z->last = (uint32_t)i;
            have = 1;
            break;
        }
        case NN_RESHAPE:
            if (have)
                vk->layers[vk->n_layers - 1].last = (uint32_t)i;
            else if (vk->n_layers)
                return em_errf(err, EM_ERR_INTERNAL, "layer mapping lost track at layer %zu", i);
            break;
        case NN_ACT:
            if (!have)
                return em_errf(err, EM_ERR_INTERNAL, "layer mapping lost track at layer %zu", i);
            /* max(clamp(q, lo, hi), 0) == clamp(q, 0, hi), and a ReLU after a ReLU changes nothing:
             * the layer's act becomes ReLU, bit for bit what the engine computes. After a maxpool,
             * relu(max_w x_w) = max(0, max_w x_w): the pool gains a constant-zero window slot
             * (zk_maxpool.c). */
            vk->layers[vk->n_layers - 1].act = NN_ACT_RELU;
            vk->layers[vk->n_layers - 1].last = (uint32_t)i;
            break;

        default:
            return em_errf(err, EM_ERR_UNSUPPORTED, "layer %zu (%s): unknown layer kind %d", i, L->name, (int)L->kind);
        }
    }
    if (vk->n_layers == 0)
        return first == n ? EM_OK : em_errf(err, EM_ERR_INTERNAL, "layer mapping lost track at layer %zu", first);
    if (vk->layers[vk->n_layers - 1].last != n - 1)
        return em_errf(err, EM_ERR_INTERNAL, "layer mapping does not end at the last layer");
    return EM_OK;
}

/* Packs every weight matrix and bias vector into the model polynomial and commits to it: from
 * integers when every bias fits an int32 (weights always do; the openings then combine rows with
 * the integer fold), else from field elements. Same commitment either way. */
static em_status commit_weights(zk_prover *p, em_err *err)
{
    zk_vk *vk = &p->vk;
    const nn_model *m = p->m;
    size_t total = (size_t)1 << vk->model_log;
    int small = 1;
    for (uint32_t i = 0; i < vk->n_layers; i++) {
        const nn_layer *L = nn_model_layer(m, vk->layers[i].src);
        if (vk->layers[i].kind != NN_AVGPOOL && vk->layers[i].kind != NN_MAXPOOL)
            for (size_t j = 0; j < L->n_bias; j++)
                small &= L->bias[j] >= INT32_MIN && L->bias[j] <= INT32_MAX;
    }
    if (small)
        p->mints = calloc(total, sizeof *p->mints);
    else
        p->mpoly = calloc(total, sizeof *p->mpoly);
    if (!p->mints && !p->mpoly)
        return em_errf(err, EM_ERR_NOMEM, "model polynomial of 2^%u entries: out of memory", vk->model_log);
    for (uint32_t i = 0; i < vk->n_layers; i++) {
        const zk_layer *z = &vk->layers[i];
        const nn_layer *L = nn_model_layer(m, z->src);
        if (z->kind == NN_AVGPOOL || z->kind == NN_MAXPOOL)
            continue; /* no weights */
        /* dense: n_out rows of n_in, each column at its (position-padded) input index; conv:
         * c_out rows of c_in*kh*kw (the weight layout as is) */
        size_t rows = z->kind == NN_CONV2D ? z->co : z->n_out;
        size_t cols = z->kind == NN_CONV2D ? (size_t)z->ci * z->kh * z->kw : z->n_in;
        size_t ld = (size_t)1 << (z->kind == NN_CONV2D ? z->lk : z->lv_in);
        uint32_t ip = z->kind == NN_CONV2D ? 1 : z->ip, ips = z->kind == NN_CONV2D ? 1 : z->ips;
        for (size_t j = 0; j < rows; j++)
            for (size_t k = 0; k < cols; k++) {
                size_t at = z->w_off + j * ld + zk__pad_idx(ip, ips, k);
                if (small)
                    p->mints[at] = L->weight[j * cols + k];
                else
                    p->mpoly[at] = ff_from_i64(L->weight[j * cols + k]);
            }
        for (size_t j = 0; j < L->n_bias; j++) {
            if (small)
                p->mints[z->b_off + j] = (int32_t)L->bias[j];
            else
                p->mpoly[z->b_off + j] = ff_from_i64(L->bias[j]);
        }
    }
    em_status st = zk__pcs_commit(p->mpoly, p->mints, vk->model_log, nn_model_blinding_seed(m), 0, &p->mpcs,
                                  vk->model_commit, &vk->model_commit_len, err);
    return st != EM_OK ? st : zk__pcs_prove_proximity(p->mpcs, &vk->prox, &vk->prox_len, err);
}

em_status zk_prover_create(const nn_model *m, zk_prover **out, em_err *err)
{
    if (!m || !out)
        return em_errf(err, EM_ERR_ARG, "zk_prover_create: NULL argument");
    *out = NULL;
    zk_prover *p = calloc(1, sizeof *p);
    if (!p)
        return em_errf(err, EM_ERR_NOMEM, "zk_prover_create: out of memory");
    zk__big_cache_hold(1); /* both released by zk_prover_free, on every path */
    zk__pool_hold(1);
    em_status st;
    zk_vk *vk = &p->vk;
    p->m = m;
    nn_model_arch_hash(m, vk->arch_hash);
    vk->act_bits = nn_model_act_bits(m);
    vk->weight_bits = nn_model_weight_bits(m);
    vk->in_scale = nn_model_input_scale(m);
    vk->out_scale = nn_model_output_scale(m);
    vk->softmax = nn_model_has_softmax(m) ? 1 : 0;
    vk->input_size = (uint32_t)nn_model_input_size(m);
    vk->output_size = (uint32_t)nn_model_output_size(m);
    vk->table_bits = zk__table_bits(vk->act_bits);
    if ((st = map_layers(m, vk, err)) != EM_OK || (st = zk__vk_derive(vk, err)) != EM_OK)
        goto out;
    /* a parameter-free model (no proven layer) has nothing to commit to */
    if (vk->n_layers && (st = commit_weights(p, err)) != EM_OK)
        goto out;
    if ((st = zk__vk_finish(vk, err)) != EM_OK)
        goto out;
    *out = p;
    p = NULL;
out:
    zk_prover_free(p);
    return st;
}

void zk_prover_free(zk_prover *p)
{
    if (!p)
        return;
    zk__pcs_free(p->mpcs);
    free(p->vk.prox);
    free(p->mpoly);
    free(p->mints);
    free(p);
    zk__big_cache_hold(0);
    zk__pool_hold(0);
}
