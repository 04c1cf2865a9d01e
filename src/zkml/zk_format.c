/* Proof wire format (docs/PROOFS.md "Proof format"), little-endian throughout:
 *
 *   header (8)        "ZKML" | version u8 = 1 | flags u8 | reserved u16 = 0
 *   commitment        u32 len | model hash 32 | input hash 32 | output hash 32 | n_samples u64
 *                     | nonce_len u8 | nonce | node_id_len u8 | node id | witness_log u8
 *                     | table_bits u8 | limb_bits u8 | wcommit_len u16 | witness commitment
 *   computation       u32 len | lookup and sumcheck messages (ff2 values, 16 bytes each)
 *   consistency       u32 len | witness opening | model opening
 *
 * The parser is strict: exact lengths, no trailing bytes, caps on every length, reserved bytes
 * zero, flags known. */
#include <stddef.h>
#include <string.h>

#include "zk_internal.h"

typedef struct zk_proof_header {
    char magic[4];
    uint8_t version;
    uint8_t flags;
    uint8_t reserved[2];
} zk_proof_header;
_Static_assert(sizeof(zk_proof_header) == 8, "proof header is 8 bytes");
_Static_assert(offsetof(zk_proof_header, version) == 4, "version at byte 4");
_Static_assert(offsetof(zk_proof_header, flags) == 5, "flags at byte 5");

/* Fixed prefix of the commitment section: three hashes and n_samples. */
#define ZK_COMMIT_FIXED (3 * EM_HASH_LEN + 8)
_Static_assert(ZK_COMMIT_FIXED == 104, "commitment section fixed prefix is 104 bytes");
#define ZK_SECTION_MAX ZK_MAX_PROOF_BYTES

em_status zk__proof_assemble(const zk_statement *s, unsigned witness_log, unsigned table_bits, unsigned limb_bits,
                             const uint8_t *wcommit, size_t wcommit_len,
                             const em_buf *comp, const em_buf *cons, em_buf *out, em_err *err)
{
    zk_proof_header h = {.magic = {'Z', 'K', 'M', 'L'}, .version = ZK_PROTOCOL_VERSION, .flags = 0};
    size_t c1 = ZK_COMMIT_FIXED + 1 + s->nonce_len + 1 + s->node_id_len + 1 + 1 + 1 + 2 + wcommit_len;
    em_status st = EM_OK;
    if (wcommit_len > UINT16_MAX || comp->len > UINT32_MAX || cons->len > UINT32_MAX)
        return em_errf(err, EM_ERR_LIMIT, "proof section too large");
#define PUT(x)                                                                                   \
    do {                                                                                         \
        if ((st = (x)) != EM_OK)                                                                 \
            return em_errf(err, st, "assembling the proof: exceeds %zu bytes", out->max);        \
    } while (0)
    PUT(em_buf_append(out, &h, sizeof h));
    PUT(em_buf_append_u32le(out, (uint32_t)c1));
    PUT(em_buf_append(out, s->model_hash, EM_HASH_LEN));
    PUT(em_buf_append(out, s->input_hash, EM_HASH_LEN));
    PUT(em_buf_append(out, s->output_hash, EM_HASH_LEN));
    PUT(em_buf_append_u64le(out, s->n_samples));
    PUT(em_buf_append_u8(out, (uint8_t)s->nonce_len));
    PUT(em_buf_append(out, s->nonce, s->nonce_len));
    PUT(em_buf_append_u8(out, (uint8_t)s->node_id_len));
    PUT(em_buf_append(out, s->node_id, s->node_id_len));
    PUT(em_buf_append_u8(out, (uint8_t)witness_log));
    PUT(em_buf_append_u8(out, (uint8_t)table_bits));
    PUT(em_buf_append_u8(out, (uint8_t)limb_bits));
    PUT(em_buf_append_u8(out, (uint8_t)wcommit_len));
    PUT(em_buf_append_u8(out, (uint8_t)(wcommit_len >> 8)));
    PUT(em_buf_append(out, wcommit, wcommit_len));
    PUT(em_buf_append_u32le(out, (uint32_t)comp->len));
    PUT(em_buf_append(out, comp->data, comp->len));
    PUT(em_buf_append_u32le(out, (uint32_t)cons->len));
    PUT(em_buf_append(out, cons->data, cons->len));
#undef PUT
    return EM_OK;
}

static em_status section(em_reader *r, const char *name, em_reader *sec, em_err *err)
{
    uint32_t len;
    const uint8_t *p;
    if (em_reader_u32le(r, &len) != EM_OK)
        return em_errf(err, EM_ERR_PARSE, "proof truncated before the %s section", name);
    if (len > em_reader_left(r) || em_reader_view(r, &p, len) != EM_OK)
        return em_errf(err, EM_ERR_PARSE, "%s section claims %u bytes, %zu left", name, len, em_reader_left(r));
    em_reader_init(sec, p, len);
    return EM_OK;
}

em_status zk__proof_parse(const uint8_t *proof, size_t len, zk_proof_view *pv, em_err *err)
{
    memset(pv, 0, sizeof *pv);
    if (len > ZK_MAX_PROOF_BYTES)
        return em_errf(err, EM_ERR_LIMIT, "proof of %zu bytes exceeds %zu", len, ZK_MAX_PROOF_BYTES);
    em_reader r, c, s2, s3;
    em_reader_init(&r, proof, len);
    zk_proof_header h;
    if (em_reader_bytes(&r, &h, sizeof h) != EM_OK)
        return em_errf(err, EM_ERR_PARSE, "proof truncated in the header (%zu bytes)", len);
    if (memcmp(h.magic, ZK_PROOF_MAGIC, 4))
        return em_errf(err, EM_ERR_PARSE, "not a proof (magic is not \"ZKML\")");
    if (h.version != ZK_PROTOCOL_VERSION)
        return em_errf(err, EM_ERR_UNSUPPORTED, "proof version %u, this verifier knows %u", h.version,
                       ZK_PROTOCOL_VERSION);
    if (h.flags != 0)
        return em_errf(err, EM_ERR_UNSUPPORTED, "proof flags 0x%02x: zero-knowledge proofs are not supported", h.flags);
    if (h.reserved[0] || h.reserved[1])
        return em_errf(err, EM_ERR_PARSE, "proof header reserved bytes are not zero");
    em_status st;
    if ((st = section(&r, "commitment", &c, err)) != EM_OK || (st = section(&r, "computation", &s2, err)) != EM_OK ||
        (st = section(&r, "consistency", &s3, err)) != EM_OK)
        return st;
    if (em_reader_left(&r))
        return em_errf(err, EM_ERR_PARSE, "%zu trailing bytes after the proof", em_reader_left(&r));
    uint8_t nl, il, wl, tb, lbits, cl0, cl1;
    if (em_reader_bytes(&c, pv->model_hash, EM_HASH_LEN) != EM_OK ||
        em_reader_bytes(&c, pv->input_hash, EM_HASH_LEN) != EM_OK ||
        em_reader_bytes(&c, pv->output_hash, EM_HASH_LEN) != EM_OK || em_reader_u64le(&c, &pv->n_samples) != EM_OK ||
        em_reader_u8(&c, &nl) != EM_OK)
        return em_errf(err, EM_ERR_PARSE, "commitment section truncated");
    if (nl > ZK_MAX_NONCE || em_reader_bytes(&c, pv->nonce, nl) != EM_OK)
        return em_errf(err, EM_ERR_PARSE, "commitment section: bad nonce length %u", nl);
    pv->nonce_len = nl;
    if (em_reader_u8(&c, &il) != EM_OK || il > ZK_MAX_NODE_ID || em_reader_bytes(&c, pv->node_id, il) != EM_OK)
        return em_errf(err, EM_ERR_PARSE, "commitment section: bad node id");
    pv->node_id_len = il;
    if (em_reader_u8(&c, &wl) != EM_OK || em_reader_u8(&c, &tb) != EM_OK || em_reader_u8(&c, &lbits) != EM_OK ||
        em_reader_u8(&c, &cl0) != EM_OK || em_reader_u8(&c, &cl1) != EM_OK)
        return em_errf(err, EM_ERR_PARSE, "commitment section truncated");
    pv->witness_log = wl;
    pv->table_bits = tb;
    pv->limb_bits = lbits;
    pv->wcommit_len = (size_t)cl0 | ((size_t)cl1 << 8);
    if (pv->wcommit_len > ZK_MODEL_COMMIT_MAX || em_reader_view(&c, &pv->wcommit, pv->wcommit_len) != EM_OK)
        return em_errf(err, EM_ERR_PARSE, "commitment section: witness commitment of %zu bytes", pv->wcommit_len);
    if (em_reader_left(&c))
        return em_errf(err, EM_ERR_PARSE, "commitment section has %zu unread bytes", em_reader_left(&c));
    pv->comp = s2.p;
    pv->comp_len = s2.len;
    pv->cons = s3.p;
    pv->cons_len = s3.len;
    return EM_OK;
}

em_status zk__proof_check_statement(const zk_proof_view *pv, const zk_statement *s, em_err *err)
{
    if (memcmp(pv->model_hash, s->model_hash, EM_HASH_LEN))
        return em_errf(err, EM_ERR_VERIFY, "proof is for another model (model hash differs)");
    if (pv->n_samples != s->n_samples)
        return em_errf(err, EM_ERR_VERIFY, "proof is for %llu samples, the input has %llu",
                       (unsigned long long)pv->n_samples, (unsigned long long)s->n_samples);
    if (memcmp(pv->input_hash, s->input_hash, EM_HASH_LEN))
        return em_errf(err, EM_ERR_VERIFY, "proof is for another input (input hash differs)");
    if (memcmp(pv->output_hash, s->output_hash, EM_HASH_LEN))
        return em_errf(err, EM_ERR_VERIFY, "proof is for another output (output hash differs)");
    if (pv->nonce_len != s->nonce_len || memcmp(pv->nonce, s->nonce, s->nonce_len))
        return em_errf(err, EM_ERR_VERIFY, "proof is bound to another nonce");
    if (pv->node_id_len != s->node_id_len || memcmp(pv->node_id, s->node_id, s->node_id_len))
        return em_errf(err, EM_ERR_VERIFY, "proof is bound to another node id");
    return EM_OK;
}
