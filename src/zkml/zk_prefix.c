/* The public prefix (docs/PROOFS.md "Public prefix"): reshapes and standalone ReLUs before the
 * first proven layer. The input is public and bound by the statement, so the verifier applies
 * these layers itself in O(input) and the proven layers start from prefix(input); the statement
 * still hashes the client's original input. A model made only of such layers (plus a trailing
 * softmax, which is post-processing) has no proven layer: the verifier checks
 * output == prefix(input) directly. */
#include <stdlib.h>
#include <string.h>

#include "zk_internal.h"

em_status zk__prefix_map(const nn_model *m, zk_vk *vk, size_t *first, em_err *err)
{
    size_t n = nn_model_n_layers(m), i = 0;
    int relu = 0;
    vk->n_prefix = 0;
    for (; i < n; i++) {
        const nn_layer *L = nn_model_layer(m, i);
        if (L->kind != NN_ACT && L->kind != NN_RESHAPE)
            break;
        if (vk->n_prefix == ZK_MAX_PREFIX)
            return em_errf(err, EM_ERR_UNSUPPORTED, "layer %zu (%s): proofs support at most %u reshape/ReLU layers "
                           "before the first dense, conv or pool layer", i, L->name, ZK_MAX_PREFIX);
        if (L->kind == NN_ACT && L->act != NN_ACT_RELU)
            return em_errf(err, EM_ERR_UNSUPPORTED, "layer %zu (%s): activation %d is not a ReLU", i, L->name,
                           (int)L->act);
        relu |= L->kind == NN_ACT;
        vk->prefix[vk->n_prefix++] = (zk_prefix_op){(uint32_t)L->kind, L->out.c, L->out.h, L->out.w};
    }
    /* Reshapes alone leave the data as it is; before a proven layer they stay out of the vk (as
     * they always were: the arch hash pins them), so such models keep their model hash. */
    if (i < n && !relu)
        vk->n_prefix = 0;
    *first = i;
    return EM_OK;
}

em_status zk__prefix_check(zk_vk *vk, em_err *err)
{
    vk->prefix_relu = 0;
    if (vk->n_prefix > ZK_MAX_PREFIX)
        return em_errf(err, EM_ERR_FORMAT, "prefix of %u layers, at most %u", vk->n_prefix, ZK_MAX_PREFIX);
    for (uint32_t k = 0; k < vk->n_prefix; k++) {
        const zk_prefix_op *o = &vk->prefix[k];
        if (o->kind != NN_ACT && o->kind != NN_RESHAPE)
            return em_errf(err, EM_ERR_FORMAT, "prefix layer %u: kind %u is neither ReLU (%d) nor reshape (%d)", k,
                           o->kind, NN_ACT, NN_RESHAPE);
        if (!o->c || !o->h || !o->w || (uint64_t)o->c * o->h * o->w != vk->input_size)
            return em_errf(err, EM_ERR_FORMAT, "prefix layer %u: shape %ux%ux%u does not hold the %u input values", k,
                           o->c, o->h, o->w, vk->input_size);
        if (o->kind == NN_ACT && k > 0 &&
            (o->c != vk->prefix[k - 1].c || o->h != vk->prefix[k - 1].h || o->w != vk->prefix[k - 1].w))
            return em_errf(err, EM_ERR_FORMAT, "prefix layer %u: a ReLU keeps the shape", k);
        vk->prefix_relu |= o->kind == NN_ACT;
    }
    /* one encoding per model: a reshape-only prefix is recorded only when nothing is proven */
    if (vk->n_layers > 0 && vk->n_prefix > 0 && !vk->prefix_relu)
        return em_errf(err, EM_ERR_FORMAT, "prefix of reshapes only before a proven layer (it is not recorded)");
    if (vk->n_layers == 0 && vk->n_prefix == 0)
        return em_errf(err, EM_ERR_FORMAT, "no proven layer and no prefix");
    if (vk->n_layers == 0 && vk->output_size != vk->input_size)
        return em_errf(err, EM_ERR_FORMAT, "no proven layer, but output size %u != input size %u", vk->output_size,
                       vk->input_size);
    return EM_OK;
}

void zk__prefix_apply(const zk_vk *vk, const int32_t *in, size_t n, int32_t *out)
{
    size_t k = n * vk->input_size;
    if (!vk->prefix_relu) {
        memcpy(out, in, k * sizeof *out);
        return;
    }
    /* ReLU is idempotent and reshapes do not move data: the whole prefix is one max(x, 0) */
    for (size_t i = 0; i < k; i++)
        out[i] = in[i] > 0 ? in[i] : 0;
}

em_status zk__prefix_input(const zk_vk *vk, const int32_t *in, size_t n, const int32_t **x, int32_t **own,
                           em_err *err)
{
    *own = NULL;
    *x = in;
    if (!vk->prefix_relu)
        return EM_OK;
    int32_t *v = malloc(n * vk->input_size * sizeof *v);
    if (!v)
        return em_errf(err, EM_ERR_NOMEM, "prefix of %zu x %u input values: out of memory", n, vk->input_size);
    zk__prefix_apply(vk, in, n, v);
    *own = v;
    *x = v;
    return EM_OK;
}

em_status zk__prefix_check_output(const zk_vk *vk, const int32_t *in, size_t n, const int32_t *out, em_err *err)
{
    size_t k = n * vk->input_size;
    for (size_t i = 0; i < k; i++) {
        int32_t want = vk->prefix_relu && in[i] < 0 ? 0 : in[i];
        if (out[i] != want)
            return em_errf(err, EM_ERR_VERIFY, "value %zu (sample %zu) is %d, but the prefix of the input gives %d", i,
                           i / vk->input_size, (int)out[i], (int)want);
    }
    return EM_OK;
}
