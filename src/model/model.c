/* nn_model: accessors, the checked builder, validation and the canonical hashes. */
#include "model_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

size_t nn_model_n_layers(const nn_model *m) { return m->n_layers; }

const nn_layer *nn_model_layer(const nn_model *m, size_t i)
{
    return i < m->n_layers ? &m->layers[i] : NULL;
}

nn_shape nn_model_input_shape(const nn_model *m) { return m->input; }

nn_shape nn_model_output_shape(const nn_model *m)
{
    return m->n_layers ? m->layers[m->n_layers - 1].out : m->input;
}

size_t nn_model_input_size(const nn_model *m) { return nn_shape_size(m->input); }
size_t nn_model_output_size(const nn_model *m) { return nn_shape_size(nn_model_output_shape(m)); }
uint32_t nn_model_act_bits(const nn_model *m) { return m->act_bits; }
uint32_t nn_model_weight_bits(const nn_model *m) { return m->weight_bits; }
int32_t nn_model_input_scale(const nn_model *m) { return m->in_scale; }

int32_t nn_model_output_scale(const nn_model *m)
{
    return m->n_layers ? m->layers[m->n_layers - 1].out_scale : m->in_scale;
}

int nn_model_has_softmax(const nn_model *m) { return m->softmax; }
const char *nn_model_name(const nn_model *m) { return m->name; }
const uint8_t *nn_model_blinding_seed(const nn_model *m) { return m->blinding_seed; }

size_t nn_model_n_params(const nn_model *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_layers; i++)
        n += m->layers[i].n_weight + m->layers[i].n_bias;
    return n;
}

const char *nn__layer_kind_name(nn_layer_kind k)
{
    switch (k) {
    case NN_DENSE: return "dense";
    case NN_CONV2D: return "conv2d";
    case NN_MAXPOOL: return "maxpool";
    case NN_AVGPOOL: return "avgpool";
    case NN_ACT: return "relu";
    case NN_RESHAPE: return "reshape";
    }
    return "?";
}

static void layer_release(nn_layer *l)
{
    free(l->weight);
    free(l->bias);
    l->weight = NULL;
    l->bias = NULL;
}

void nn_model_free(nn_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_layers; i++)
        layer_release(&m->layers[i]);
    free(m->layers);
    nn_model_weights_changed(m);
    free(m->wpack);
    pthread_mutex_destroy(&m->pack_mu);
    free(m);
}

void nn_model_weights_changed(nn_model *m)
{
    pthread_mutex_lock(&m->pack_mu);
    for (size_t i = 0; i < m->wpack_n; i++) {
        free(m->wpack[i]);
        m->wpack[i] = NULL;
    }
    pthread_mutex_unlock(&m->pack_mu);
}

static em_status check_bits(uint32_t act_bits, uint32_t weight_bits, em_err *err)
{
    if (act_bits < NN_MIN_BITS || act_bits > NN_MAX_BITS)
        return em_errf(err, EM_ERR_RANGE, "act_bits %u outside [%d, %d]", act_bits, NN_MIN_BITS, NN_MAX_BITS);
    if (weight_bits < NN_MIN_BITS || weight_bits > NN_MAX_BITS)
        return em_errf(err, EM_ERR_RANGE, "weight_bits %u outside [%d, %d]", weight_bits, NN_MIN_BITS,
                       NN_MAX_BITS);
    return EM_OK;
}

static em_status check_shape(nn_shape s, const char *what, em_err *err)
{
    if (!s.c || !s.h || !s.w || s.c > NN_MAX_DIM || s.h > NN_MAX_DIM || s.w > NN_MAX_DIM)
        return em_errf(err, EM_ERR_LIMIT, "%s shape %ux%ux%u: each dimension must be in [1, %u]", what, s.c,
                       s.h, s.w, (unsigned)NN_MAX_DIM);
    if (nn_shape_size(s) > NN_MAX_TENSOR)
        return em_errf(err, EM_ERR_LIMIT, "%s shape %ux%ux%u has more than %zu values", what, s.c, s.h, s.w,
                       (size_t)NN_MAX_TENSOR);
    return EM_OK;
}

static int scale_ok(int32_t s) { return s >= NN_MIN_SCALE && s <= NN_MAX_SCALE; }

/* Output extent of a window sliding over n with padding a+b; 0 when the window never fits. */
static uint32_t window_out(uint32_t n, uint32_t k, uint32_t s, uint32_t a, uint32_t b)
{
    uint64_t padded = (uint64_t)n + a + b;
    if (k == 0 || s == 0 || padded < k)
        return 0;
    return (uint32_t)((padded - k) / s + 1);
}

/* Checks one layer given the shape and scale it receives. The message names the layer. */
static em_status layer_check(const nn_model *m, size_t idx, const nn_layer *l, nn_shape in, int32_t in_scale,
                             em_err *err)
{
    const char *nm = l->name[0] ? l->name : "(unnamed)";
    char what[96];
    snprintf(what, sizeof what, "layer %zu '%s'", idx, nm);
    em_status st;

    if (memchr(l->name, 0, sizeof l->name) == NULL)
        return em_errf(err, EM_ERR_FORMAT, "layer %zu: name is not NUL-terminated", idx);
    if (l->kind < NN_DENSE || l->kind > NN_RESHAPE)
        return em_errf(err, EM_ERR_FORMAT, "%s: unknown layer kind %d", what, (int)l->kind);
    const char *kn = nn__layer_kind_name(l->kind);
    if ((st = check_shape(l->in, what, err)) != EM_OK || (st = check_shape(l->out, what, err)) != EM_OK)
        return st;
    if (l->in.c != in.c || l->in.h != in.h || l->in.w != in.w)
        return em_errf(err, EM_ERR_FORMAT, "%s (%s): input shape %ux%ux%u does not match the previous output %ux%ux%u",
                       what, kn, l->in.c, l->in.h, l->in.w, in.c, in.h, in.w);
    if (l->in_scale != in_scale)
        return em_errf(err, EM_ERR_FORMAT, "%s (%s): input scale %d does not match the previous output scale %d",
                       what, kn, l->in_scale, in_scale);
    if (!scale_ok(l->out_scale) || !scale_ok(l->w_scale))
        return em_errf(err, EM_ERR_RANGE, "%s (%s): scales (w %d, out %d) outside [%d, %d]", what, kn, l->w_scale,
                       l->out_scale, NN_MIN_SCALE, NN_MAX_SCALE);
    if ((unsigned)l->act > NN_ACT_RELU)
        return em_errf(err, EM_ERR_FORMAT, "%s (%s): unknown activation %d", what, kn, (int)l->act);
    int weighted = l->kind == NN_DENSE || l->kind == NN_CONV2D;
    int windowed = l->kind == NN_CONV2D || l->kind == NN_MAXPOOL || l->kind == NN_AVGPOOL;
    if (!weighted && (l->n_weight || l->n_bias || l->weight || l->bias))
        return em_errf(err, EM_ERR_FORMAT, "%s (%s): this kind has no weights or biases", what, kn);
    if (!windowed && (l->kh || l->kw || l->sh || l->sw || l->pt || l->pl || l->pb || l->pr))
        return em_errf(err, EM_ERR_FORMAT, "%s (%s): window geometry set on a non-window layer", what, kn);
    if (l->count_include_pad > 1 || (l->count_include_pad && l->kind != NN_AVGPOOL))
        return em_errf(err, EM_ERR_FORMAT, "%s (%s): count_include_pad must be 0 or 1 (avgpool only)", what, kn);
    if (!weighted && l->act != NN_ACT_NONE && l->kind != NN_ACT)
        return em_errf(err, EM_ERR_FORMAT, "%s (%s): activation only allowed on dense/conv2d/relu", what, kn);
    if (!weighted && (l->out_scale != in_scale || l->w_scale != 0))
        return em_errf(err, EM_ERR_FORMAT, "%s (%s): output scale %d must equal input scale %d (w_scale 0)", what,
                       kn, l->out_scale, in_scale);

    size_t n_in = nn_shape_size(l->in);
    size_t fan_in = 0;
    switch (l->kind) {
    case NN_DENSE:
        if (l->out.h != 1 || l->out.w != 1)
            return em_errf(err, EM_ERR_FORMAT, "%s (dense): output shape must be Nx1x1, got %ux%ux%u", what,
                           l->out.c, l->out.h, l->out.w);
        fan_in = n_in;
        if ((uint64_t)l->out.c * fan_in > NN_MAX_WEIGHTS)
            return em_errf(err, EM_ERR_LIMIT, "%s (dense): %u x %zu weights exceed the cap %zu", what, l->out.c,
                           fan_in, (size_t)NN_MAX_WEIGHTS);
        if (l->n_weight != (size_t)l->out.c * fan_in || l->n_bias != l->out.c)
            return em_errf(err, EM_ERR_FORMAT, "%s (dense): expected %zu weights and %u biases, got %zu and %zu", what,
                           (size_t)l->out.c * fan_in, l->out.c, l->n_weight, l->n_bias);
        break;
    case NN_CONV2D:
    case NN_MAXPOOL:
    case NN_AVGPOOL: {
        if (!l->kh || !l->kw || !l->sh || !l->sw || l->kh > NN_MAX_KERNEL || l->kw > NN_MAX_KERNEL ||
            l->sh > NN_MAX_KERNEL || l->sw > NN_MAX_KERNEL)
            return em_errf(err, EM_ERR_FORMAT, "%s (%s): kernel %ux%u / stride %ux%u must be in [1, %d]", what, kn,
                           l->kh, l->kw, l->sh, l->sw, NN_MAX_KERNEL);
        /* a pool window must always cover at least one real input; a conv window may lie
         * entirely in the zero padding (its output is then the bias) */
        if (l->kind != NN_CONV2D && (l->pt >= l->kh || l->pb >= l->kh || l->pl >= l->kw || l->pr >= l->kw))
            return em_errf(err, EM_ERR_FORMAT, "%s (%s): pads %u,%u,%u,%u must be smaller than the kernel %ux%u",
                           what, kn, l->pt, l->pl, l->pb, l->pr, l->kh, l->kw);
        if (l->pt > NN_MAX_KERNEL || l->pb > NN_MAX_KERNEL || l->pl > NN_MAX_KERNEL || l->pr > NN_MAX_KERNEL)
            return em_errf(err, EM_ERR_FORMAT, "%s (%s): pads %u,%u,%u,%u exceed %d", what, kn, l->pt, l->pl, l->pb,
                           l->pr, NN_MAX_KERNEL);
        uint32_t oh = window_out(l->in.h, l->kh, l->sh, l->pt, l->pb);
        uint32_t ow = window_out(l->in.w, l->kw, l->sw, l->pl, l->pr);
        uint32_t oc = l->kind == NN_CONV2D ? l->out.c : l->in.c;
        if (!oh || !ow || l->out.h != oh || l->out.w != ow || l->out.c != oc)
            return em_errf(err, EM_ERR_FORMAT, "%s (%s): output shape %ux%ux%u, expected %ux%ux%u from the window",
                           what, kn, l->out.c, l->out.h, l->out.w, oc, oh, ow);
        if (l->kind == NN_CONV2D) {
            fan_in = (size_t)l->in.c * l->kh * l->kw;
            if ((uint64_t)l->out.c * fan_in > NN_MAX_WEIGHTS)
                return em_errf(err, EM_ERR_LIMIT, "%s (conv2d): %u x %zu weights exceed the cap %zu", what, l->out.c,
                               fan_in, (size_t)NN_MAX_WEIGHTS);
            if (l->n_weight != (size_t)l->out.c * fan_in || l->n_bias != l->out.c)
                return em_errf(err, EM_ERR_FORMAT, "%s (conv2d): expected %zu weights and %u biases, got %zu and %zu",
                               what, (size_t)l->out.c * fan_in, l->out.c, l->n_weight, l->n_bias);
        }
        if (l->kind == NN_AVGPOOL && (l->shift < 1 || l->shift > 24))
            return em_errf(err, EM_ERR_RANGE, "%s (avgpool): multiplier shift %u outside [1, 24]", what, l->shift);
        if (l->kind == NN_MAXPOOL && l->shift)
            return em_errf(err, EM_ERR_FORMAT, "%s (maxpool): shift must be 0", what);
        break;
    }
    case NN_ACT:
        if (l->act != NN_ACT_RELU)
            return em_errf(err, EM_ERR_FORMAT, "%s (relu): activation must be RELU", what);
        if (l->out.c != l->in.c || l->out.h != l->in.h || l->out.w != l->in.w)
            return em_errf(err, EM_ERR_FORMAT, "%s (relu): output shape must equal the input shape", what);
        if (l->shift)
            return em_errf(err, EM_ERR_FORMAT, "%s (relu): shift must be 0", what);
        break;
    case NN_RESHAPE:
        if (nn_shape_size(l->out) != n_in)
            return em_errf(err, EM_ERR_FORMAT, "%s (reshape): %zu values cannot become %ux%ux%u", what, n_in,
                           l->out.c, l->out.h, l->out.w);
        if (l->shift)
            return em_errf(err, EM_ERR_FORMAT, "%s (reshape): shift must be 0", what);
        break;
    }

    if (weighted) {
        int64_t k = (int64_t)l->in_scale + l->w_scale - l->out_scale;
        if (k < 0 || k > NN_MAX_SHIFT || (int64_t)l->shift != k)
            return em_errf(err, EM_ERR_RANGE,
                           "%s (%s): shift %u must equal in_scale %d + w_scale %d - out_scale %d and lie in [0, %d]",
                           what, kn, l->shift, l->in_scale, l->w_scale, l->out_scale, NN_MAX_SHIFT);
        if ((l->n_weight && !l->weight) || (l->n_bias && !l->bias))
            return em_errf(err, EM_ERR_ARG, "%s (%s): weight/bias arrays missing", what, kn);
        int32_t wmax = (int32_t)((1u << (m->weight_bits - 1)) - 1), wmin = -wmax - 1;
        for (size_t i = 0; i < l->n_weight; i++)
            if (l->weight[i] < wmin || l->weight[i] > wmax)
                return em_errf(err, EM_ERR_RANGE, "%s (%s): weight %zu = %d outside the %u-bit range [%d, %d]", what,
                               kn, i, l->weight[i], m->weight_bits, wmin, wmax);
        /* |acc| <= fan_in * 2^(A-1) * 2^(W-1) + |bias| must stay below 2^62 (the contract). */
        uint64_t prod = (uint64_t)fan_in << (m->act_bits - 1 + m->weight_bits - 1);
        uint64_t lim = ((uint64_t)1 << 62) - 1;
        if (prod >= lim)
            return em_errf(err, EM_ERR_RANGE, "%s (%s): accumulator bound exceeds 2^62", what, kn);
        uint64_t bmax = lim - prod;
        for (size_t i = 0; i < l->n_bias; i++) {
            int64_t b = l->bias[i];
            uint64_t mag = b < 0 ? (uint64_t)0 - (uint64_t)b : (uint64_t)b;
            if (mag > bmax)
                return em_errf(err, EM_ERR_RANGE, "%s (%s): bias %zu = %lld makes the accumulator exceed 2^62", what,
                               kn, i, (long long)b);
        }
    }
    return EM_OK;
}

em_status nn__model_new(const char *name, nn_shape input, uint32_t act_bits, uint32_t weight_bits,
                        int32_t in_scale, const uint8_t *seed, nn_model **out, em_err *err)
{
    em_status st;
    *out = NULL;
    if ((st = check_bits(act_bits, weight_bits, err)) != EM_OK || (st = check_shape(input, "model input", err)) != EM_OK)
        return st;
    if (!scale_ok(in_scale))
        return em_errf(err, EM_ERR_RANGE, "input scale %d outside [%d, %d]", in_scale, NN_MIN_SCALE, NN_MAX_SCALE);
    nn_model *m = calloc(1, sizeof *m);
    if (!m)
        return em_errf(err, EM_ERR_NOMEM, "out of memory creating model");
    if (pthread_mutex_init(&m->pack_mu, NULL) != 0) {
        free(m);
        return em_errf(err, EM_ERR_NOMEM, "cannot create the model's lock");
    }
    snprintf(m->name, sizeof m->name, "%s", name ? name : "");
    m->input = input;
    m->act_bits = act_bits;
    m->weight_bits = weight_bits;
    m->in_scale = in_scale;
    if (seed) {
        memcpy(m->blinding_seed, seed, sizeof m->blinding_seed);
    } else {
        size_t got = 0;
        while (got < sizeof m->blinding_seed) {
            ssize_t r = getrandom(m->blinding_seed + got, sizeof m->blinding_seed - got, 0);
            if (r <= 0) {
                pthread_mutex_destroy(&m->pack_mu);
                free(m);
                return em_errf(err, EM_ERR_IO, "getrandom failed for the blinding seed");
            }
            got += (size_t)r;
        }
    }
    *out = m;
    return EM_OK;
}

em_status nn_model_create(const char *name, nn_shape input, uint32_t act_bits, uint32_t weight_bits, int32_t in_scale,
                          nn_model **out, em_err *err)
{
    return nn__model_new(name, input, act_bits, weight_bits, in_scale, NULL, out, err);
}

em_status nn__model_append(nn_model *m, nn_layer *l, int take, em_err *err)
{
    if (m->n_layers >= NN_MAX_LAYERS)
        return em_errf(err, EM_ERR_LIMIT, "more than %d layers", NN_MAX_LAYERS);
    nn_shape in = nn_model_output_shape(m);
    em_status st = layer_check(m, m->n_layers, l, in, nn_model_output_scale(m), err);
    if (st != EM_OK)
        return st;
    nn_layer copy = *l;
    if (!take) {
        copy.weight = NULL;
        copy.bias = NULL;
        if (l->n_weight) {
            copy.weight = malloc(l->n_weight * sizeof *copy.weight);
            if (!copy.weight)
                return em_errf(err, EM_ERR_NOMEM, "out of memory copying layer '%s'", l->name);
            memcpy(copy.weight, l->weight, l->n_weight * sizeof *copy.weight);
        }
        if (l->n_bias) {
            copy.bias = malloc(l->n_bias * sizeof *copy.bias);
            if (!copy.bias) {
                free(copy.weight);
                return em_errf(err, EM_ERR_NOMEM, "out of memory copying layer '%s'", l->name);
            }
            memcpy(copy.bias, l->bias, l->n_bias * sizeof *copy.bias);
        }
    }
    nn_layer *nl = realloc(m->layers, (m->n_layers + 1) * sizeof *nl);
    if (!nl) {
        if (!take)
            layer_release(&copy);
        return em_errf(err, EM_ERR_NOMEM, "out of memory adding layer '%s'", l->name);
    }
    m->layers = nl;
    m->layers[m->n_layers++] = copy;
    if (take) {
        l->weight = NULL;
        l->bias = NULL;
    }
    return EM_OK;
}

em_status nn_model_add_layer(nn_model *m, const nn_layer *layer, em_err *err)
{
    return nn__model_append(m, (nn_layer *)layer, 0, err);
}

void nn_model_set_softmax(nn_model *m, int on) { m->softmax = on ? 1 : 0; }

void nn_model_set_blinding_seed(nn_model *m, const uint8_t seed[32])
{
    memcpy(m->blinding_seed, seed, sizeof m->blinding_seed);
}

em_status nn_model_validate(const nn_model *m, em_err *err)
{
    em_status st;
    if ((st = check_bits(m->act_bits, m->weight_bits, err)) != EM_OK ||
        (st = check_shape(m->input, "model input", err)) != EM_OK)
        return st;
    if (!scale_ok(m->in_scale))
        return em_errf(err, EM_ERR_RANGE, "input scale %d outside [%d, %d]", m->in_scale, NN_MIN_SCALE, NN_MAX_SCALE);
    if (memchr(m->name, 0, sizeof m->name) == NULL)
        return em_errf(err, EM_ERR_FORMAT, "model name is not NUL-terminated");
    if (m->n_layers == 0)
        return em_errf(err, EM_ERR_FORMAT, "model has no layers");
    if (m->n_layers > NN_MAX_LAYERS)
        return em_errf(err, EM_ERR_LIMIT, "more than %d layers", NN_MAX_LAYERS);
    if (m->softmax > 1 || m->softmax < 0)
        return em_errf(err, EM_ERR_FORMAT, "softmax flag must be 0 or 1");
    nn_shape in = m->input;
    int32_t sc = m->in_scale;
    for (size_t i = 0; i < m->n_layers; i++) {
        if ((st = layer_check(m, i, &m->layers[i], in, sc, err)) != EM_OK)
            return st;
        in = m->layers[i].out;
        sc = m->layers[i].out_scale;
    }
    return EM_OK;
}

/* ---- canonical hashing ---------------------------------------------------------------------
 * A fixed-size streaming hasher built on the one-shot em_sha256: the byte stream is cut into
 * 4 KiB blocks and chained, h_0 = SHA256(tag), h_i = SHA256(h_{i-1} || block_i) (the last block
 * may be short, and is always present). Deterministic for a given stream, allocation-free. */
#define HBLOCK 4096
typedef struct hstream {
    uint8_t buf[EM_HASH_LEN + HBLOCK];
    size_t n; /* bytes in the current block */
} hstream;

static void hs_init(hstream *h, const char *tag)
{
    em_sha256(tag, strlen(tag), h->buf);
    h->n = 0;
}

static void hs_flush(hstream *h)
{
    uint8_t d[EM_HASH_LEN];
    em_sha256(h->buf, EM_HASH_LEN + h->n, d);
    memcpy(h->buf, d, EM_HASH_LEN);
    h->n = 0;
}

static void hs_put(hstream *h, const void *p, size_t n)
{
    const uint8_t *s = p;
    while (n) {
        if (h->n == HBLOCK)
            hs_flush(h);
        size_t c = HBLOCK - h->n < n ? HBLOCK - h->n : n;
        memcpy(h->buf + EM_HASH_LEN + h->n, s, c);
        h->n += c;
        s += c;
        n -= c;
    }
}

static void hs_u32(hstream *h, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    hs_put(h, b, 4);
}

static void hs_u64(hstream *h, uint64_t v)
{
    hs_u32(h, (uint32_t)v);
    hs_u32(h, (uint32_t)(v >> 32));
}

static void hs_final(hstream *h, uint8_t out[EM_HASH_LEN])
{
    hs_flush(h);
    memcpy(out, h->buf, EM_HASH_LEN);
}

static void hash_arch(hstream *h, const nn_model *m)
{
    hs_u32(h, m->act_bits);
    hs_u32(h, m->weight_bits);
    hs_u32(h, (uint32_t)m->in_scale);
    hs_u32(h, m->input.c);
    hs_u32(h, m->input.h);
    hs_u32(h, m->input.w);
    hs_u32(h, (uint32_t)m->softmax);
    hs_u64(h, m->n_layers);
    for (size_t i = 0; i < m->n_layers; i++) {
        const nn_layer *l = &m->layers[i];
        uint32_t f[] = {(uint32_t)l->kind, l->in.c, l->in.h, l->in.w, l->out.c, l->out.h, l->out.w,
                        l->kh, l->kw, l->sh, l->sw, l->pt, l->pl, l->pb, l->pr, l->count_include_pad,
                        (uint32_t)l->w_scale, (uint32_t)l->in_scale, (uint32_t)l->out_scale, l->shift,
                        (uint32_t)l->act};
        for (size_t j = 0; j < sizeof f / sizeof f[0]; j++)
            hs_u32(h, f[j]);
        hs_u64(h, l->n_weight);
        hs_u64(h, l->n_bias);
    }
}

void nn_model_arch_hash(const nn_model *m, uint8_t out[EM_HASH_LEN])
{
    hstream h;
    hs_init(&h, "enclaveml/model/arch/v1");
    hash_arch(&h, m);
    hs_final(&h, out);
}

void nn_model_digest(const nn_model *m, uint8_t out[EM_HASH_LEN])
{
    hstream h;
    hs_init(&h, "enclaveml/model/digest/v1");
    hash_arch(&h, m);
    for (size_t i = 0; i < m->n_layers; i++) {
        const nn_layer *l = &m->layers[i];
        for (size_t j = 0; j < l->n_weight; j++)
            hs_u32(&h, (uint32_t)l->weight[j]);
        for (size_t j = 0; j < l->n_bias; j++)
            hs_u64(&h, (uint64_t)l->bias[j]);
    }
    hs_final(&h, out);
}
