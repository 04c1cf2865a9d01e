/* Verifying key: the proven architecture (dense layers with fused activations), scales, the
 * layout of the model polynomial and its commitment. Byte layout: docs/PROOFS.md "Verifying key".
 * The model hash is SHA-256 over a domain string and the whole serialized key, so every field
 * a verifier relies on is pinned by the hash. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zk_internal.h"

#define VK_DOMAIN "enclaveml/model-hash/v1"
#define VK_HEADER_LEN 80u /* magic..n_layers, see zk__vk_encode */
#define VK_LAYER_LEN 16u

unsigned zk__log2_ceil(uint64_t n)
{
    unsigned l = 0;
    while (((uint64_t)1 << l) < n)
        l++;
    return l;
}

/* The cap on the per-proof table size; each proof picks the smallest T >= act_bits + 1 that
 * covers its pre-activations (docs/PROOFS.md). */
unsigned zk__table_bits(uint32_t act_bits)
{
    (void)act_bits;
    return ZK_MAX_TABLE_BITS;
}

/* Packs blocks of sizes 2^logs[i] (largest first, ties by index) at aligned offsets; returns
 * log2 of the padded total. Equal-or-decreasing power-of-two sizes placed back to back are
 * each aligned to their own size. */
unsigned zk__layout(const unsigned *logs, size_t n, uint64_t *offs)
{
    uint64_t off = 0;
    unsigned maxlog = 0;
    for (unsigned l = 63; l-- > 0;) {
        for (size_t i = 0; i < n; i++)
            if (logs[i] == l) {
                offs[i] = off;
                off += (uint64_t)1 << l;
            }
    }
    for (size_t i = 0; i < n; i++)
        if (logs[i] > maxlog)
            maxlog = logs[i];
    unsigned t = zk__log2_ceil(off ? off : 1);
    return t > maxlog ? t : maxlog;
}

static uint32_t window_out(uint32_t in, uint32_t k, uint32_t s, uint32_t p0, uint32_t p1)
{
    uint64_t span = (uint64_t)in + p0 + p1;
    return span < k || s == 0 ? 0 : (uint32_t)((span - k) / s + 1);
}

/* Checks a layer's geometry against its sizes and derives lp, lc, lk, lv_out, op, ops. The
 * conv/pool activation layout [sample][channel][position] is padded per channel to 2^lp
 * positions, so an output block's variables split into (position, channel, sample). */
em_status zk__layer_geometry(zk_layer *L, uint32_t i, em_err *err)
{
    if (L->kind == NN_DENSE) {
        if (L->ci || L->hi || L->wi || L->co || L->ho || L->wo || L->kh || L->kw || L->sh || L->sw || L->pt ||
            L->pl || L->pb || L->pr || L->cip)
            return em_errf(err, EM_ERR_FORMAT, "layer %u: dense layer with window geometry", i);
        L->op = L->ops = L->n_out;
        L->lv_out = zk__log2_ceil(L->n_out);
        return EM_OK;
    }
    if (L->kind != NN_CONV2D && L->kind != NN_AVGPOOL && L->kind != NN_MAXPOOL)
        return em_errf(err, EM_ERR_FORMAT, "layer %u: kind %u is not provable", i, L->kind);
    if (!L->ci || !L->hi || !L->wi || !L->co || !L->kh || !L->kw || !L->sh || !L->sw || L->kh > 64 || L->kw > 64 ||
        L->sh > 64 || L->sw > 64 || L->pt > 64 || L->pl > 64 || L->pb > 64 || L->pr > 64 || L->cip > 1)
        return em_errf(err, EM_ERR_FORMAT, "layer %u: bad window geometry", i);
    if ((uint64_t)L->ci * L->hi * L->wi != L->n_in)
        return em_errf(err, EM_ERR_FORMAT, "layer %u: input %ux%ux%u does not hold %u values", i, L->ci, L->hi,
                       L->wi, L->n_in);
    if (L->ho != window_out(L->hi, L->kh, L->sh, L->pt, L->pb) ||
        L->wo != window_out(L->wi, L->kw, L->sw, L->pl, L->pr) || !L->ho || !L->wo)
        return em_errf(err, EM_ERR_FORMAT, "layer %u: output %ux%u does not follow from the window", i, L->ho, L->wo);
    if ((uint64_t)L->co * L->ho * L->wo != L->n_out)
        return em_errf(err, EM_ERR_FORMAT, "layer %u: output does not hold %u values", i, L->n_out);
    if (L->kind == NN_AVGPOOL && (L->co != L->ci || L->shift < 1))
        return em_errf(err, EM_ERR_FORMAT, "layer %u: avgpool keeps the channels and has shift >= 1", i);
    if (L->kind == NN_CONV2D && L->cip)
        return em_errf(err, EM_ERR_FORMAT, "layer %u: count_include_pad on a conv layer", i);
    if (L->kind == NN_MAXPOOL) {
        if (L->co != L->ci || L->shift || L->act > NN_ACT_RELU || L->cip)
            return em_errf(err, EM_ERR_FORMAT, "layer %u: maxpool keeps the channels, no shift, activation none or "
                           "relu", i);
        /* every window must hold a real input (the engine's rule): a padded slot reads the nearest
         * real input of its window (zk_maxpool.c) */
        if (L->pt >= L->kh || L->pb >= L->kh || L->pl >= L->kw || L->pr >= L->kw)
            return em_errf(err, EM_ERR_FORMAT,
                           "layer %u: maxpool pads %u,%u,%u,%u must be smaller than the window %ux%u", i, L->pt,
                           L->pl, L->pb, L->pr, L->kh, L->kw);
        if (L->kh * L->kw > ZK_MAX_POOL_WIN)
            return em_errf(err, EM_ERR_UNSUPPORTED, "layer %u: proofs support maxpool windows of at most %u positions "
                           "(got %ux%u)", i, ZK_MAX_POOL_WIN, L->kh, L->kw);
    }
    uint64_t P = (uint64_t)L->ho * L->wo;
    uint64_t sel = P * (L->kind == NN_CONV2D ? L->ci : L->co) * (uint64_t)L->kh * L->kw;
    if (sel > ((uint64_t)1 << ZK_MAX_SELECTION_LOG))
        return em_errf(err, EM_ERR_LIMIT,
                       "layer %u: window selection of %llu terms (positions x channels x window) exceeds 2^%u", i,
                       (unsigned long long)sel, ZK_MAX_SELECTION_LOG);
    L->lp = zk__log2_ceil(P);
    L->lc = zk__log2_ceil(L->co);
    L->lk = L->kind == NN_CONV2D ? zk__log2_ceil((uint64_t)L->ci * L->kh * L->kw) : 0;
    L->lv_out = L->lp + L->lc;
    L->op = (uint32_t)P;
    L->ops = (uint32_t)1 << L->lp;
    if (L->lv_out > ZK_MAX_LOG_WITNESS)
        return em_errf(err, EM_ERR_LIMIT, "layer %u: padded output of 2^%u values exceeds 2^%u", i, L->lv_out,
                       ZK_MAX_LOG_WITNESS);
    return EM_OK;
}

/* Derives per-layer sizes and the model polynomial layout; checks the caps. */
em_status zk__vk_derive(zk_vk *vk, em_err *err)
{
    unsigned logs[2 * ZK_MAX_LAYERS];
    uint64_t offs[2 * ZK_MAX_LAYERS];
    if (vk->n_layers > ZK_MAX_LAYERS)
        return em_errf(err, EM_ERR_FORMAT, "%u proven layers, expected at most %u", vk->n_layers, ZK_MAX_LAYERS);
    if (vk->act_bits < 2 || vk->act_bits > 16)
        return em_errf(err, EM_ERR_FORMAT, "act_bits %u, expected 2..16", vk->act_bits);
    if (vk->table_bits != zk__table_bits(vk->act_bits))
        return em_errf(err, EM_ERR_FORMAT, "table_bits %u, expected %u", vk->table_bits,
                       zk__table_bits(vk->act_bits));
    if (vk->in_scale < -64 || vk->in_scale > 64 || vk->out_scale < -64 || vk->out_scale > 64)
        return em_errf(err, EM_ERR_FORMAT, "scales out of range (-64..64)");
    if (vk->softmax > 1)
        return em_errf(err, EM_ERR_FORMAT, "softmax flag %u, expected 0 or 1", vk->softmax);
    em_status pst = zk__prefix_check(vk, err);
    if (pst != EM_OK)
        return pst;
    if (vk->n_layers == 0) { /* output = prefix(input): no model polynomial */
        vk->model_log = 0;
        memset(&vk->mpack, 0, sizeof vk->mpack);
        return EM_OK;
    }
    for (uint32_t i = 0; i < vk->n_layers; i++) {
        zk_layer *L = &vk->layers[i];
        if (L->n_in == 0 || L->n_in > ZK_MAX_DIM || L->n_out == 0 || L->n_out > ZK_MAX_DIM)
            return em_errf(err, EM_ERR_FORMAT, "layer %u: size %ux%u outside 1..%u", i, L->n_out, L->n_in,
                           ZK_MAX_DIM);
        if (i == 0 ? L->n_in != vk->input_size : L->n_in != vk->layers[i - 1].n_out)
            return em_errf(err, EM_ERR_FORMAT, "layer %u: input size %u does not match the previous output", i,
                           L->n_in);
        if (L->shift > ZK_MAX_SHIFT)
            return em_errf(err, EM_ERR_UNSUPPORTED, "layer %u: requantization shift %u > %u", i, L->shift,
                           ZK_MAX_SHIFT);
        if (L->act > NN_ACT_RELU)
            return em_errf(err, EM_ERR_FORMAT, "layer %u: activation %u unknown", i, L->act);
        /* the input is laid out as the previous layer's output (position-padded after a conv/pool
         * layer), or as the public input */
        if (i > 0 && vk->layers[i - 1].op != vk->layers[i - 1].ops) {
            L->ip = vk->layers[i - 1].op;
            L->ips = vk->layers[i - 1].ops;
            L->lv_in = vk->layers[i - 1].lv_out;
        } else {
            L->ip = L->ips = L->n_in;
            L->lv_in = zk__log2_ceil(L->n_in);
        }
        em_status st = zk__layer_geometry(L, i, err);
        if (st != EM_OK)
            return st;
        if (L->kind == NN_CONV2D) {
            logs[2 * i] = L->lc + L->lk;
            logs[2 * i + 1] = L->lc;
        } else if (L->kind == NN_AVGPOOL || L->kind == NN_MAXPOOL) {
            logs[2 * i] = 0; /* no weights: one zero entry each */
            logs[2 * i + 1] = 0;
        } else {
            logs[2 * i] = L->lv_in + L->lv_out;
            logs[2 * i + 1] = L->lv_out;
        }
    }
    uint64_t sel_total = 0;
    for (uint32_t i = 0; i < vk->n_layers; i++) {
        const zk_layer *L = &vk->layers[i];
        if (L->kind != NN_DENSE)
            sel_total += (uint64_t)L->ho * L->wo * (L->kind == NN_CONV2D ? L->ci : L->co) * L->kh * L->kw;
    }
    if (sel_total > ((uint64_t)1 << ZK_MAX_SELECTION_TOTAL_LOG))
        return em_errf(err, EM_ERR_LIMIT, "window selections of %llu terms in all exceed 2^%u",
                       (unsigned long long)sel_total, ZK_MAX_SELECTION_TOTAL_LOG);
    if (vk->layers[vk->n_layers - 1].n_out != vk->output_size)
        return em_errf(err, EM_ERR_FORMAT, "last layer size %u != output size %u",
                       vk->layers[vk->n_layers - 1].n_out, vk->output_size);
    vk->model_log = zk__layout(logs, 2 * vk->n_layers, offs);
    if (vk->model_log > ZK_MAX_LOG_MODEL)
        return em_errf(err, EM_ERR_LIMIT, "model polynomial of 2^%u entries exceeds 2^%u", vk->model_log,
                       ZK_MAX_LOG_MODEL);
    vk->mpack.n = 2 * vk->n_layers;
    vk->mpack.total_log = vk->model_log;
    for (uint32_t i = 0; i < 2 * vk->n_layers; i++) {
        vk->mpack.log[i] = logs[i];
        vk->mpack.off[i] = offs[i];
    }
    for (uint32_t i = 0; i < vk->n_layers; i++) {
        vk->layers[i].w_off = offs[2 * i];
        vk->layers[i].b_off = offs[2 * i + 1];
    }
    return EM_OK;
}

/* Serialized layer record: kind, n_in, n_out, shift, act, then the geometry. */
void zk__layer_fields(const zk_layer *L, uint32_t f[ZK_LAYER_U32])
{
    uint32_t v[ZK_LAYER_U32] = {L->kind, L->n_in, L->n_out, L->shift, L->act, L->ci, L->hi, L->wi, L->co, L->ho,
                                L->wo,   L->kh,   L->kw,    L->sh,    L->sw,  L->pt, L->pl, L->pb, L->pr, L->cip};
    memcpy(f, v, sizeof v);
}

void zk__layer_from_fields(zk_layer *L, const uint32_t f[ZK_LAYER_U32])
{
    memset(L, 0, sizeof *L);
    L->kind = f[0];
    L->n_in = f[1];
    L->n_out = f[2];
    L->shift = f[3];
    L->act = f[4];
    L->ci = f[5];
    L->hi = f[6];
    L->wi = f[7];
    L->co = f[8];
    L->ho = f[9];
    L->wo = f[10];
    L->kh = f[11];
    L->kw = f[12];
    L->sh = f[13];
    L->sw = f[14];
    L->pt = f[15];
    L->pl = f[16];
    L->pb = f[17];
    L->pr = f[18];
    L->cip = f[19];
}

static em_status vk_encode(const zk_vk *vk, em_buf *b, em_err *err)
{
    em_status st = EM_OK;
#define PUT(x)                                                                                   \
    do {                                                                                         \
        if ((st = (x)) != EM_OK)                                                                 \
            return em_errf(err, st, "serializing the verifying key: out of memory");             \
    } while (0)
    PUT(em_buf_append(b, ZK_VK_MAGIC, 4));
    PUT(em_buf_append_u8(b, (uint8_t)ZK_VK_VERSION));
    PUT(em_buf_append_u8(b, vk->n_prefix ? ZK_VK_FLAG_PREFIX : 0));
    PUT(em_buf_append(b, "\0\0", 2));
    PUT(em_buf_append(b, vk->arch_hash, EM_HASH_LEN));
    PUT(em_buf_append_u32le(b, vk->act_bits));
    PUT(em_buf_append_u32le(b, vk->weight_bits));
    PUT(em_buf_append_u32le(b, (uint32_t)vk->in_scale));
    PUT(em_buf_append_u32le(b, (uint32_t)vk->out_scale));
    PUT(em_buf_append_u32le(b, vk->softmax));
    PUT(em_buf_append_u32le(b, vk->input_size));
    PUT(em_buf_append_u32le(b, vk->output_size));
    PUT(em_buf_append_u32le(b, vk->table_bits));
    PUT(em_buf_append_u32le(b, vk->n_layers));
    if (vk->n_prefix) {
        PUT(em_buf_append_u32le(b, vk->n_prefix));
        for (uint32_t k = 0; k < vk->n_prefix; k++) {
            PUT(em_buf_append_u32le(b, vk->prefix[k].kind));
            PUT(em_buf_append_u32le(b, vk->prefix[k].c));
            PUT(em_buf_append_u32le(b, vk->prefix[k].h));
            PUT(em_buf_append_u32le(b, vk->prefix[k].w));
        }
    }
    for (uint32_t i = 0; i < vk->n_layers; i++) {
        uint32_t f[ZK_LAYER_U32];
        zk__layer_fields(&vk->layers[i], f);
        for (unsigned k = 0; k < ZK_LAYER_U32; k++)
            PUT(em_buf_append_u32le(b, f[k]));
    }
    PUT(em_buf_append_u32le(b, vk->model_log));
    PUT(em_buf_append_u32le(b, (uint32_t)vk->model_commit_len));
    PUT(em_buf_append(b, vk->model_commit, vk->model_commit_len));
#undef PUT
    return st;
}

/* The serialized vk: the encoding above (what the model hash covers), then u32 prox_len and the
 * model commitment's proximity proof. */
static em_status vk_encode_all(const zk_vk *vk, em_buf *b, em_err *err)
{
    em_status st = vk_encode(vk, b, err);
    if (st == EM_OK && (em_buf_append_u32le(b, (uint32_t)vk->prox_len) != EM_OK ||
                        (vk->prox_len && em_buf_append(b, vk->prox, vk->prox_len) != EM_OK)))
        st = em_errf(err, EM_ERR_NOMEM, "serializing the verifying key: out of memory");
    return st;
}

em_status zk__vk_finish(zk_vk *vk, em_err *err)
{
    em_buf b = {.max = (size_t)1 << 20};
    em_status st = vk_encode(vk, &b, err);
    if (st == EM_OK) {
        size_t dl = sizeof VK_DOMAIN; /* with the NUL: a fixed-length separator */
        uint8_t *tmp = malloc(dl + b.len);
        if (!tmp) {
            st = em_errf(err, EM_ERR_NOMEM, "hashing the verifying key: out of memory");
        } else {
            memcpy(tmp, VK_DOMAIN, dl);
            memcpy(tmp + dl, b.data, b.len);
            em_sha256(tmp, dl + b.len, vk->model_hash);
            free(tmp);
        }
    }
    em_buf_free(&b);
    return st;
}

em_status zk_vk_serialize(const zk_vk *vk, uint8_t **out, size_t *len, em_err *err)
{
    if (!vk || !out || !len)
        return em_errf(err, EM_ERR_ARG, "zk_vk_serialize: NULL argument");
    em_buf b = {.max = ZK_MAX_PROX_BYTES + ((size_t)1 << 20)};
    em_status st = vk_encode_all(vk, &b, err);
    if (st != EM_OK) {
        em_buf_free(&b);
        return st;
    }
    *out = b.data;
    *len = b.len;
    return EM_OK;
}

em_status zk_vk_deserialize(const uint8_t *data, size_t len, zk_vk **out, em_err *err)
{
    if (!data || !out)
        return em_errf(err, EM_ERR_ARG, "zk_vk_deserialize: NULL argument");
    *out = NULL;
    em_reader r;
    em_reader_init(&r, data, len);
    zk_vk *vk = calloc(1, sizeof *vk);
    if (!vk)
        return em_errf(err, EM_ERR_NOMEM, "verifying key: out of memory");
    em_status st = EM_OK;
    uint8_t magic[4], ver, resv[3];
    uint32_t u[9], mlog, clen;
    if (em_reader_bytes(&r, magic, 4) != EM_OK || memcmp(magic, ZK_VK_MAGIC, 4)) {
        st = em_errf(err, EM_ERR_PARSE, "verifying key: bad magic (expected \"EMVK\")");
        goto out;
    }
    if (em_reader_u8(&r, &ver) != EM_OK || ver != ZK_VK_VERSION) {
        st = em_errf(err, EM_ERR_UNSUPPORTED, "verifying key: version %u, expected %u%s", ver, ZK_VK_VERSION,
                     ver == 1 ? " (a key from before session 10, without the model proximity proof: re-export it)"
                              : "");
        goto out;
    }
    if (em_reader_bytes(&r, resv, 3) != EM_OK || (resv[0] & ~ZK_VK_FLAG_PREFIX) || resv[1] || resv[2] ||
        em_reader_bytes(&r, vk->arch_hash, EM_HASH_LEN) != EM_OK) {
        st = em_errf(err, EM_ERR_PARSE, "verifying key: truncated, unknown flags or non-zero reserved bytes");
        goto out;
    }
    for (int i = 0; i < 9; i++)
        if (em_reader_u32le(&r, &u[i]) != EM_OK) {
            st = em_errf(err, EM_ERR_PARSE, "verifying key: truncated header");
            goto out;
        }
    vk->act_bits = u[0];
    vk->weight_bits = u[1];
    vk->in_scale = (int32_t)u[2];
    vk->out_scale = (int32_t)u[3];
    vk->softmax = u[4];
    vk->input_size = u[5];
    vk->output_size = u[6];
    vk->table_bits = u[7];
    vk->n_layers = u[8];
    if (vk->n_layers > ZK_MAX_LAYERS) {
        st = em_errf(err, EM_ERR_FORMAT, "verifying key: %u layers, expected at most %u", vk->n_layers,
                     ZK_MAX_LAYERS);
        goto out;
    }
    if (resv[0] & ZK_VK_FLAG_PREFIX) {
        if (em_reader_u32le(&r, &vk->n_prefix) != EM_OK || vk->n_prefix == 0 || vk->n_prefix > ZK_MAX_PREFIX) {
            st = em_errf(err, EM_ERR_FORMAT, "verifying key: prefix of %u layers, expected 1..%u", vk->n_prefix,
                         ZK_MAX_PREFIX);
            goto out;
        }
        for (uint32_t k = 0; k < vk->n_prefix; k++) {
            zk_prefix_op *o = &vk->prefix[k];
            if (em_reader_u32le(&r, &o->kind) != EM_OK || em_reader_u32le(&r, &o->c) != EM_OK ||
                em_reader_u32le(&r, &o->h) != EM_OK || em_reader_u32le(&r, &o->w) != EM_OK) {
                st = em_errf(err, EM_ERR_PARSE, "verifying key: truncated in prefix layer %u", k);
                goto out;
            }
        }
    }
    for (uint32_t i = 0; i < vk->n_layers; i++) {
        uint32_t f[ZK_LAYER_U32];
        for (unsigned k = 0; k < ZK_LAYER_U32; k++)
            if (em_reader_u32le(&r, &f[k]) != EM_OK) {
                st = em_errf(err, EM_ERR_PARSE, "verifying key: truncated in layer %u", i);
                goto out;
            }
        zk__layer_from_fields(&vk->layers[i], f);
    }
    if ((st = zk__vk_derive(vk, err)) != EM_OK) {
        em_err_prefix(err, "verifying key: ");
        goto out;
    }
    if (em_reader_u32le(&r, &mlog) != EM_OK || em_reader_u32le(&r, &clen) != EM_OK) {
        st = em_errf(err, EM_ERR_PARSE, "verifying key: truncated commitment");
        goto out;
    }
    if (mlog != vk->model_log) {
        st = em_errf(err, EM_ERR_FORMAT, "verifying key: model polynomial 2^%u, expected 2^%u", mlog, vk->model_log);
        goto out;
    }
    if (clen > ZK_MODEL_COMMIT_MAX || em_reader_bytes(&r, vk->model_commit, clen) != EM_OK) {
        st = em_errf(err, EM_ERR_PARSE, "verifying key: commitment of %u bytes truncated or over %u", clen,
                     (unsigned)ZK_MODEL_COMMIT_MAX);
        goto out;
    }
    vk->model_commit_len = clen;
    uint32_t plen = 0;
    if (em_reader_u32le(&r, &plen) != EM_OK) {
        st = em_errf(err, EM_ERR_PARSE, "verifying key: truncated before the proximity proof length");
        goto out;
    }
    if (plen != em_reader_left(&r)) {
        st = em_errf(err, EM_ERR_PARSE, "verifying key: proximity proof of %u bytes, %zu left", plen,
                     em_reader_left(&r));
        goto out;
    }
    if (vk->n_layers == 0 && clen != 0) {
        st = em_errf(err, EM_ERR_FORMAT, "verifying key: %u commitment bytes for a model without weights", clen);
        goto out;
    }
    if (!clen != !plen) {
        st = em_errf(err, EM_ERR_FORMAT, "verifying key: a proximity proof of %u bytes for a commitment of %u", plen,
                     clen);
        goto out;
    }
    if ((vk->n_layers && (st = zk__vk_commit_check(vk, err)) != EM_OK) || (st = zk__vk_finish(vk, err)) != EM_OK)
        goto out;
    /* the model commitment must be close to the code its openings assume (a tested layout): its
     * proximity proof is checked here, once per parsed vk */
    if (plen) {
        const uint8_t *pb = data + r.off;
        if ((st = zk__pcs_verify_proximity(vk->model_commit, clen, vk->model_log, pb, plen, err)) != EM_OK) {
            em_err_prefix(err, "verifying key: model commitment proximity proof: ");
            goto out;
        }
        if (!(vk->prox = malloc(plen))) {
            st = em_errf(err, EM_ERR_NOMEM, "verifying key: out of memory");
            goto out;
        }
        memcpy(vk->prox, pb, plen);
        vk->prox_len = plen;
    }
    *out = vk;
    vk = NULL;
out:
    zk_vk_free(vk);
    return st;
}

void zk_vk_free(zk_vk *vk)
{
    if (!vk)
        return;
    free(vk->prox);
    free(vk);
}

void zk_vk_model_hash(const zk_vk *vk, uint8_t out[EM_HASH_LEN]) { memcpy(out, vk->model_hash, EM_HASH_LEN); }
size_t zk_vk_input_size(const zk_vk *vk) { return vk->input_size; }
size_t zk_vk_output_size(const zk_vk *vk) { return vk->output_size; }
size_t zk_vk_n_proven_layers(const zk_vk *vk) { return vk->n_layers; }
int32_t zk_vk_output_scale(const zk_vk *vk) { return vk->out_scale; }
int zk_vk_has_softmax(const zk_vk *vk) { return (int)vk->softmax; }

em_status zk_vk_quantize_input(const zk_vk *vk, const float *x, size_t n_samples, int32_t *q, em_err *err)
{
    double lo = -(double)(1u << (vk->act_bits - 1)), hi = (double)(1u << (vk->act_bits - 1)) - 1;
    double sc = ldexp(1.0, vk->in_scale);
    size_t n = n_samples * vk->input_size;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            return em_errf(err, EM_ERR_RANGE, "input value %zu is not finite", i);
        double v = round((double)x[i] * sc); /* half away from zero, as the model module */
        q[i] = (int32_t)(v < lo ? lo : v > hi ? hi : v);
    }
    return EM_OK;
}

void zk_vk_postprocess(const zk_vk *vk, const int32_t *out_q, size_t n_samples, double *result)
{
    size_t k = vk->output_size;
    for (size_t s = 0; s < n_samples; s++) {
        const int32_t *q = out_q + s * k;
        double *r = result + s * k;
        for (size_t j = 0; j < k; j++)
            r[j] = ldexp((double)q[j], -vk->out_scale);
        if (!vk->softmax)
            continue;
        double mx = r[0], sum = 0;
        for (size_t j = 1; j < k; j++)
            if (r[j] > mx)
                mx = r[j];
        for (size_t j = 0; j < k; j++) {
            r[j] = exp(r[j] - mx);
            sum += r[j];
        }
        for (size_t j = 0; j < k; j++)
            r[j] /= sum;
    }
}
