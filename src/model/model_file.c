/* The .eml model file: a fixed little-endian header, then tagged length-prefixed sections.
 * docs/MODEL.md documents the layout byte by byte. Files are untrusted: every length is checked
 * against the bytes actually present before anything is allocated, and the decoded model goes
 * through the same validation as a model built in code. */
#include "model_internal.h"

#include <assert.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EML_MAGIC "EMLM"
#define EML_VERSION 1

/* Layouts as they appear in the file (all fields little-endian, no padding). The structs are
 * never memcpy'd from the file; they pin the documented offsets with static asserts, and the
 * encoder/decoder below write/read the fields in exactly this order. */
struct eml_file_header {
    char magic[4];
    uint16_t version;
    uint16_t header_size;
    uint32_t n_sections;
    uint32_t flags;
    uint64_t file_len;
    uint64_t reserved;
};
static_assert(sizeof(struct eml_file_header) == 32, "file header is 32 bytes");
static_assert(offsetof(struct eml_file_header, n_sections) == 8, "header layout");
static_assert(offsetof(struct eml_file_header, file_len) == 16, "header layout");

struct eml_section_header {
    uint32_t type;
    uint32_t flags;
    uint64_t len;
};
static_assert(sizeof(struct eml_section_header) == 16, "section header is 16 bytes");

struct eml_arch {
    uint32_t act_bits, weight_bits;
    int32_t in_scale;
    uint32_t in_c, in_h, in_w;
    uint32_t flags; /* bit 0: softmax; bit 1: synthetic calibration */
    uint32_t n_layers;
    char name[64];
    uint8_t blinding_seed[32];
};
static_assert(sizeof(struct eml_arch) == 128, "architecture section is 128 bytes");
static_assert(offsetof(struct eml_arch, name) == 32, "architecture layout");
static_assert(offsetof(struct eml_arch, blinding_seed) == 96, "architecture layout");

struct eml_layer {
    uint32_t kind, act;
    uint32_t in_c, in_h, in_w, out_c, out_h, out_w;
    uint32_t kh, kw, sh, sw, pt, pl, pb, pr;
    uint32_t count_include_pad, shift;
    int32_t w_scale, in_scale, out_scale;
    uint32_t n_weight, n_bias, reserved;
    char name[64];
};
static_assert(sizeof(struct eml_layer) == 160, "layer record is 160 bytes");
static_assert(offsetof(struct eml_layer, w_scale) == 72, "layer layout");
static_assert(offsetof(struct eml_layer, n_weight) == 84, "layer layout");
static_assert(offsetof(struct eml_layer, name) == 96, "layer layout");

enum {
    SEC_ARCH = 1,
    SEC_LAYERS = 2,
    SEC_WEIGHTS = 3,
    SEC_BIASES = 4,
    SEC_COMMITMENT = 5, /* reserved for proof data; optional, skipped by this version */
};
#define SEC_REQUIRED 1u
#define EML_MAX_SECTIONS 64

static uint32_t weight_elem_bytes(uint32_t weight_bits) { return weight_bits <= 8 ? 1 : 2; }

/* ---- encoding ------------------------------------------------------------------------------ */

static em_status put_i32(em_buf *b, int32_t v) { return em_buf_append_u32le(b, (uint32_t)v); }

static em_status section_begin(em_buf *b, uint32_t type, uint32_t flags, size_t *len_at)
{
    em_status st;
    if ((st = em_buf_append_u32le(b, type)) != EM_OK || (st = em_buf_append_u32le(b, flags)) != EM_OK)
        return st;
    *len_at = b->len;
    return em_buf_append_u64le(b, 0);
}

static void patch_u64(em_buf *b, size_t at, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b->data[at + i] = (uint8_t)(v >> (8 * i));
}

static void section_end(em_buf *b, size_t len_at) { patch_u64(b, len_at, b->len - (len_at + 8)); }

static em_status encode(const nn_model *m, em_buf *b)
{
    em_status st = EM_OK;
    size_t at;
#define P(x)                      \
    do {                          \
        if ((st = (x)) != EM_OK)  \
            return st;            \
    } while (0)
    /* header; file_len patched at the end */
    P(em_buf_append(b, EML_MAGIC, 4));
    P(em_buf_append_u8(b, EML_VERSION & 0xff));
    P(em_buf_append_u8(b, EML_VERSION >> 8));
    P(em_buf_append_u8(b, 32));
    P(em_buf_append_u8(b, 0));
    P(em_buf_append_u32le(b, 4));
    P(em_buf_append_u32le(b, 0));
    P(em_buf_append_u64le(b, 0));
    P(em_buf_append_u64le(b, 0));

    P(section_begin(b, SEC_ARCH, SEC_REQUIRED, &at));
    P(em_buf_append_u32le(b, m->act_bits));
    P(em_buf_append_u32le(b, m->weight_bits));
    P(put_i32(b, m->in_scale));
    P(em_buf_append_u32le(b, m->input.c));
    P(em_buf_append_u32le(b, m->input.h));
    P(em_buf_append_u32le(b, m->input.w));
    P(em_buf_append_u32le(b, (m->softmax ? 1u : 0u) | (m->synthetic_calib ? 2u : 0u)));
    P(em_buf_append_u32le(b, (uint32_t)m->n_layers));
    char name[64] = {0};
    memcpy(name, m->name, strnlen(m->name, sizeof name - 1));
    P(em_buf_append(b, name, sizeof name));
    P(em_buf_append(b, m->blinding_seed, 32));
    section_end(b, at);

    P(section_begin(b, SEC_LAYERS, SEC_REQUIRED, &at));
    for (size_t i = 0; i < m->n_layers; i++) {
        const nn_layer *l = &m->layers[i];
        uint32_t f[] = {(uint32_t)l->kind, (uint32_t)l->act, l->in.c, l->in.h, l->in.w, l->out.c, l->out.h,
                        l->out.w, l->kh, l->kw, l->sh, l->sw, l->pt, l->pl, l->pb, l->pr, l->count_include_pad,
                        l->shift, (uint32_t)l->w_scale, (uint32_t)l->in_scale, (uint32_t)l->out_scale,
                        (uint32_t)l->n_weight, (uint32_t)l->n_bias, 0};
        static_assert(sizeof f == offsetof(struct eml_layer, name), "layer field list matches the record");
        for (size_t j = 0; j < sizeof f / sizeof f[0]; j++)
            P(em_buf_append_u32le(b, f[j]));
        char lname[64] = {0};
        memcpy(lname, l->name, strnlen(l->name, sizeof lname - 1));
        P(em_buf_append(b, lname, sizeof lname));
    }
    section_end(b, at);

    uint32_t eb = weight_elem_bytes(m->weight_bits);
    P(section_begin(b, SEC_WEIGHTS, SEC_REQUIRED, &at));
    P(em_buf_append_u32le(b, eb));
    for (size_t i = 0; i < m->n_layers; i++) {
        const nn_layer *l = &m->layers[i];
        P(em_buf_reserve(b, l->n_weight * eb));
        for (size_t j = 0; j < l->n_weight; j++) {
            uint32_t v = (uint32_t)l->weight[j];
            b->data[b->len++] = (uint8_t)v;
            if (eb == 2)
                b->data[b->len++] = (uint8_t)(v >> 8);
        }
    }
    section_end(b, at);

    P(section_begin(b, SEC_BIASES, SEC_REQUIRED, &at));
    for (size_t i = 0; i < m->n_layers; i++)
        for (size_t j = 0; j < m->layers[i].n_bias; j++)
            P(em_buf_append_u64le(b, (uint64_t)m->layers[i].bias[j]));
    section_end(b, at);
#undef P
    patch_u64(b, 16, b->len);
    return st;
}

em_status nn_model_serialize(const nn_model *m, uint8_t **out, size_t *len, em_err *err)
{
    *out = NULL;
    *len = 0;
    em_status st = nn_model_validate(m, err);
    if (st != EM_OK) {
        em_err_prefix(err, "serializing model: ");
        return st;
    }
    em_buf b = {.max = NN_MAX_FILE_BYTES};
    st = encode(m, &b);
    if (st != EM_OK) {
        em_buf_free(&b);
        return em_errf(err, st, "serializing model: %s", st == EM_ERR_LIMIT ? "file would exceed 2 GiB"
                                                                           : "out of memory");
    }
    *out = b.data;
    *len = b.len;
    return EM_OK;
}

em_status nn_model_save(const nn_model *m, const char *path, em_err *err)
{
    uint8_t *data;
    size_t len;
    em_status st = nn_model_serialize(m, &data, &len, err);
    if (st != EM_OK)
        return st;
    st = em_file_write(path, data, len, err);
    free(data);
    return st;
}

/* ---- decoding ------------------------------------------------------------------------------ */

static em_status rd32(em_reader *r, uint32_t *v, const char *what, em_err *err)
{
    if (em_reader_u32le(r, v) != EM_OK)
        return em_errf(err, EM_ERR_PARSE, "truncated %s", what);
    return EM_OK;
}

static em_status decode_layer(em_reader *r, size_t idx, nn_layer *l, em_err *err)
{
    uint32_t f[24];
    char what[48];
    snprintf(what, sizeof what, "layer record %zu", idx);
    for (size_t j = 0; j < 24; j++) {
        em_status st = rd32(r, &f[j], what, err);
        if (st != EM_OK)
            return st;
    }
    memset(l, 0, sizeof *l);
    if (em_reader_bytes(r, l->name, sizeof l->name) != EM_OK)
        return em_errf(err, EM_ERR_PARSE, "truncated %s", what);
    if (!memchr(l->name, 0, sizeof l->name))
        return em_errf(err, EM_ERR_FORMAT, "%s: name is not NUL-terminated", what);
    if (f[0] < NN_DENSE || f[0] > NN_RESHAPE)
        return em_errf(err, EM_ERR_FORMAT, "%s: unknown layer kind %u", what, f[0]);
    if (f[1] > NN_ACT_RELU)
        return em_errf(err, EM_ERR_FORMAT, "%s: unknown activation %u", what, f[1]);
    if (f[23] != 0)
        return em_errf(err, EM_ERR_FORMAT, "%s: reserved field is %u, expected 0", what, f[23]);
    l->kind = (nn_layer_kind)f[0];
    l->act = (nn_act)f[1];
    l->in = (nn_shape){f[2], f[3], f[4]};
    l->out = (nn_shape){f[5], f[6], f[7]};
    l->kh = f[8], l->kw = f[9], l->sh = f[10], l->sw = f[11];
    l->pt = f[12], l->pl = f[13], l->pb = f[14], l->pr = f[15];
    l->count_include_pad = f[16];
    l->shift = f[17];
    l->w_scale = (int32_t)f[18];
    l->in_scale = (int32_t)f[19];
    l->out_scale = (int32_t)f[20];
    l->n_weight = f[21];
    l->n_bias = f[22];
    if (l->n_weight > NN_MAX_WEIGHTS || l->n_bias > NN_MAX_DIM)
        return em_errf(err, EM_ERR_LIMIT, "%s: %zu weights / %zu biases exceed the caps", what, l->n_weight,
                       l->n_bias);
    return EM_OK;
}

em_status nn_model_load_mem(const uint8_t *data, size_t len, nn_model **out, em_err *err)
{
    em_status st = EM_OK;
    nn_model *m = NULL;
    nn_layer *recs = NULL;
    size_t n_recs = 0;
    *out = NULL;
    em_reader r;
    em_reader_init(&r, data, len);
    int bad = 0; /* reads below are inside lengths already checked; bad records a broken invariant */

    if (len < 32)
        return em_errf(err, EM_ERR_PARSE, "not a model file: %zu bytes is shorter than the 32-byte header", len);
    if (memcmp(data, EML_MAGIC, 4) != 0)
        return em_errf(err, EM_ERR_PARSE, "not a model file: bad magic (expected \"EMLM\")");
    uint8_t b4[4];
    uint32_t n_sections, hflags;
    uint64_t file_len, reserved;
    bad |= em_reader_bytes(&r, b4, 4) != EM_OK;
    bad |= em_reader_bytes(&r, b4, 4) != EM_OK;
    uint32_t version = b4[0] | (uint32_t)b4[1] << 8, header_size = b4[2] | (uint32_t)b4[3] << 8;
    bad |= em_reader_u32le(&r, &n_sections) != EM_OK;
    bad |= em_reader_u32le(&r, &hflags) != EM_OK;
    bad |= em_reader_u64le(&r, &file_len) != EM_OK;
    bad |= em_reader_u64le(&r, &reserved) != EM_OK;
    if (bad)
        return em_errf(err, EM_ERR_INTERNAL, "header read failed");
    if (version != EML_VERSION)
        return em_errf(err, EM_ERR_UNSUPPORTED, "model file version %u is not supported (expected %u)", version,
                       EML_VERSION);
    if (header_size != 32)
        return em_errf(err, EM_ERR_FORMAT, "header_size %u, expected 32", header_size);
    if (hflags != 0 || reserved != 0)
        return em_errf(err, EM_ERR_FORMAT, "header flags/reserved fields must be 0");
    if (file_len != len)
        return em_errf(err, EM_ERR_PARSE, "file length field says %llu bytes but %zu are present (truncated?)",
                       (unsigned long long)file_len, len);
    if (n_sections > EML_MAX_SECTIONS)
        return em_errf(err, EM_ERR_LIMIT, "%u sections exceed the cap %d", n_sections, EML_MAX_SECTIONS);

    /* Section table pass: borrow each known section's payload. */
    const uint8_t *sec[SEC_COMMITMENT + 1] = {0};
    size_t sec_len[SEC_COMMITMENT + 1] = {0};
    for (uint32_t i = 0; i < n_sections; i++) {
        uint32_t type, flags;
        uint64_t slen;
        if (em_reader_u32le(&r, &type) != EM_OK || em_reader_u32le(&r, &flags) != EM_OK ||
            em_reader_u64le(&r, &slen) != EM_OK)
            return em_errf(err, EM_ERR_PARSE, "truncated header of section %u", i);
        if (flags & ~SEC_REQUIRED)
            return em_errf(err, EM_ERR_FORMAT, "section %u (type %u): unknown flags 0x%x", i, type, flags);
        if (slen > em_reader_left(&r))
            return em_errf(err, EM_ERR_PARSE, "section %u (type %u) claims %llu bytes but only %zu remain", i, type,
                           (unsigned long long)slen, em_reader_left(&r));
        const uint8_t *p = NULL;
        bad |= em_reader_view(&r, &p, (size_t)slen) != EM_OK;
        if (type >= SEC_ARCH && type <= SEC_BIASES) {
            if (!(flags & SEC_REQUIRED))
                return em_errf(err, EM_ERR_FORMAT, "section %u (type %u) must be marked required", i, type);
            if (sec[type])
                return em_errf(err, EM_ERR_FORMAT, "duplicate section type %u", type);
            sec[type] = p;
            sec_len[type] = (size_t)slen;
        } else if (flags & SEC_REQUIRED) {
            return em_errf(err, EM_ERR_UNSUPPORTED, "section %u has unknown required type %u", i, type);
        }
        /* optional sections (the reserved commitment type included) are skipped */
    }
    if (em_reader_left(&r))
        return em_errf(err, EM_ERR_FORMAT, "%zu trailing bytes after the last section", em_reader_left(&r));
    static const char *const sec_names[] = {"", "architecture", "layers", "weights", "biases"};
    for (int t = SEC_ARCH; t <= SEC_BIASES; t++)
        if (!sec[t])
            return em_errf(err, EM_ERR_FORMAT, "missing %s section", sec_names[t]);

    /* architecture */
    if (sec_len[SEC_ARCH] != sizeof(struct eml_arch))
        return em_errf(err, EM_ERR_FORMAT, "architecture section is %zu bytes, expected %zu", sec_len[SEC_ARCH],
                       sizeof(struct eml_arch));
    em_reader ar;
    em_reader_init(&ar, sec[SEC_ARCH], sec_len[SEC_ARCH]);
    uint32_t a[8];
    for (int i = 0; i < 8; i++)
        bad |= em_reader_u32le(&ar, &a[i]) != EM_OK;
    char name[64];
    uint8_t seed[32];
    bad |= em_reader_bytes(&ar, name, sizeof name) != EM_OK;
    bad |= em_reader_bytes(&ar, seed, sizeof seed) != EM_OK;
    if (bad)
        return em_errf(err, EM_ERR_INTERNAL, "section read failed");
    if (!memchr(name, 0, sizeof name))
        return em_errf(err, EM_ERR_FORMAT, "model name is not NUL-terminated");
    if (a[6] > 3)
        return em_errf(err, EM_ERR_FORMAT, "architecture flags 0x%x: only bits 0 (softmax) and 1 (synthetic "
                       "calibration) are defined", a[6]);
    if (a[7] == 0 || a[7] > NN_MAX_LAYERS)
        return em_errf(err, EM_ERR_LIMIT, "layer count %u outside [1, %d]", a[7], NN_MAX_LAYERS);
    if ((st = nn__model_new(name, (nn_shape){a[3], a[4], a[5]}, a[0], a[1], (int32_t)a[2], seed, &m, err)) != EM_OK)
        goto out;
    m->softmax = (int)(a[6] & 1);
    m->synthetic_calib = (int)(a[6] >> 1);

    /* layer records */
    n_recs = a[7];
    if (sec_len[SEC_LAYERS] != (size_t)n_recs * sizeof(struct eml_layer)) {
        st = em_errf(err, EM_ERR_FORMAT, "layers section is %zu bytes, expected %zu for %zu layers",
                     sec_len[SEC_LAYERS], n_recs * sizeof(struct eml_layer), n_recs);
        goto out;
    }
    recs = calloc(n_recs, sizeof *recs);
    if (!recs) {
        st = em_errf(err, EM_ERR_NOMEM, "out of memory reading layers");
        goto out;
    }
    em_reader lr;
    em_reader_init(&lr, sec[SEC_LAYERS], sec_len[SEC_LAYERS]);
    size_t tot_w = 0, tot_b = 0;
    for (size_t i = 0; i < n_recs; i++) {
        if ((st = decode_layer(&lr, i, &recs[i], err)) != EM_OK)
            goto out;
        tot_w += recs[i].n_weight; /* each <= 2^28, at most 1024 layers: no overflow */
        tot_b += recs[i].n_bias;
    }

    /* weights and biases: sizes must match the records exactly before anything is allocated */
    uint32_t eb = weight_elem_bytes(m->weight_bits);
    em_reader wr, br;
    em_reader_init(&wr, sec[SEC_WEIGHTS], sec_len[SEC_WEIGHTS]);
    em_reader_init(&br, sec[SEC_BIASES], sec_len[SEC_BIASES]);
    uint32_t file_eb;
    if (em_reader_u32le(&wr, &file_eb) != EM_OK || file_eb != eb) {
        st = em_errf(err, EM_ERR_FORMAT, "weights section: element size must be %u bytes for %u-bit weights", eb,
                     m->weight_bits);
        goto out;
    }
    if (em_reader_left(&wr) != tot_w * eb) {
        st = em_errf(err, EM_ERR_FORMAT, "weights section holds %zu bytes, layers need %zu", em_reader_left(&wr),
                     tot_w * eb);
        goto out;
    }
    if (sec_len[SEC_BIASES] != tot_b * 8) {
        st = em_errf(err, EM_ERR_FORMAT, "biases section holds %zu bytes, layers need %zu", sec_len[SEC_BIASES],
                     tot_b * 8);
        goto out;
    }
    for (size_t i = 0; i < n_recs; i++) {
        nn_layer *l = &recs[i];
        if (l->n_weight) {
            l->weight = malloc(l->n_weight * sizeof *l->weight);
            if (!l->weight) {
                st = em_errf(err, EM_ERR_NOMEM, "out of memory reading weights of layer %zu", i);
                goto out;
            }
            const uint8_t *p = NULL;
            bad |= em_reader_view(&wr, &p, l->n_weight * eb) != EM_OK;
            for (size_t j = 0; j < l->n_weight; j++)
                l->weight[j] = eb == 1 ? (int32_t)(int8_t)p[j] : (int32_t)(int16_t)(p[2 * j] | p[2 * j + 1] << 8);
        }
        if (l->n_bias) {
            l->bias = malloc(l->n_bias * sizeof *l->bias);
            if (!l->bias) {
                st = em_errf(err, EM_ERR_NOMEM, "out of memory reading biases of layer %zu", i);
                goto out;
            }
            for (size_t j = 0; j < l->n_bias; j++) {
                uint64_t v;
                bad |= em_reader_u64le(&br, &v) != EM_OK;
                l->bias[j] = (int64_t)v;
            }
        }
    }
    if (bad) {
        st = em_errf(err, EM_ERR_INTERNAL, "weight/bias read failed");
        goto out;
    }
    for (size_t i = 0; i < n_recs; i++)
        if ((st = nn__model_append(m, &recs[i], 1, err)) != EM_OK)
            goto out;
    st = nn_model_validate(m, err);
out:
    if (recs) {
        for (size_t i = 0; i < n_recs; i++) {
            free(recs[i].weight);
            free(recs[i].bias);
        }
        free(recs);
    }
    if (st != EM_OK) {
        nn_model_free(m);
        return st;
    }
    *out = m;
    return EM_OK;
}

em_status nn_model_load(const char *path, nn_model **out, em_err *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    *out = NULL;
    em_status st = em_file_read(path, NN_MAX_FILE_BYTES, &data, &len, err);
    if (st != EM_OK)
        return st;
    st = nn_model_load_mem(data, len, out, err);
    free(data);
    if (st != EM_OK) {
        em_err_prefix(err, "loading %s: ", path);
        return st;
    }
    return EM_OK;
}
