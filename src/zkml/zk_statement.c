/* Statement binding and the prover-message channel.
 *
 * Every proof starts its transcript with the statement (docs/PROOFS.md "Statement"): protocol
 * version, model hash, SHA-256 of the input integers, SHA-256 of the output integers, the
 * sample count, nonce and node id. Prover messages then pass through zk_wr/zk_rd, which append
 * (or read) the canonical little-endian encoding AND absorb the same values into the
 * transcript, so the bytes of the proof and the Fiat-Shamir input can never diverge. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <string.h>

#include "zk_internal.h"

/* domain || u64le(n) || u8 width || n values, each as its low `width` bytes (little-endian two's
 * complement). Every value must fit a signed integer of that width, which makes the encoding
 * injective; the input is range-checked to act_bits <= 16 first, so it is hashed at 1 or 2
 * bytes per value (a quarter or half of the SHA-256 work of i32le). */
static void hash_ints(const char *domain, const int32_t *v, size_t n, unsigned width, uint8_t out[EM_HASH_LEN])
{
    uint8_t head[64 + 9];
    size_t dl = strlen(domain);
    SHA256_CTX c;
    SHA256_Init(&c);
    memcpy(head, domain, dl);
    for (int i = 0; i < 8; i++)
        head[dl + (size_t)i] = (uint8_t)((uint64_t)n >> (8 * i));
    head[dl + 8] = (uint8_t)width;
    SHA256_Update(&c, head, dl + 9);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (width == 4) { /* the in-memory int32 array is already i32le: hash it in place */
        if (n)
            SHA256_Update(&c, v, n * sizeof *v);
        SHA256_Final(out, &c);
        return;
    }
#endif
    uint8_t buf[16384];
    for (size_t i0 = 0; i0 < n;) {
        size_t m = (n - i0) < sizeof buf / width ? n - i0 : sizeof buf / width;
        if (width == 1) {
            size_t i = 0;
            for (; i + 64 <= m; i += 64) /* fixed-length blocks: vectorized at -O2 */
                for (size_t j = 0; j < 64; j++)
                    buf[i + j] = (uint8_t)v[i0 + i + j];
            for (; i < m; i++)
                buf[i] = (uint8_t)v[i0 + i];
        } else {
            for (size_t i = 0; i < m; i++) {
                uint32_t u = (uint32_t)v[i0 + i];
                for (unsigned b = 0; b < width; b++)
                    buf[i * width + b] = (uint8_t)(u >> (8 * b));
            }
        }
        SHA256_Update(&c, buf, m * width);
        i0 += m;
    }
    SHA256_Final(out, &c);
}

void zk__hash_input(const zk_vk *vk, const int32_t *x, size_t n, uint8_t out[EM_HASH_LEN])
{
    hash_ints("enclaveml/input/v2", x, n, (vk->act_bits + 7) / 8, out);
}

void zk__hash_output(const int32_t *y, size_t n, uint8_t out[EM_HASH_LEN])
{
    hash_ints("enclaveml/output/v2", y, n, 4, out);
}

void zk__statement_absorb(tr_t *tr, const zk_statement *s)
{
    tr_absorb_u64(tr, "version", ZK_PROTOCOL_VERSION);
    tr_absorb_bytes(tr, "model-hash", s->model_hash, EM_HASH_LEN);
    tr_absorb_bytes(tr, "input-hash", s->input_hash, EM_HASH_LEN);
    tr_absorb_bytes(tr, "output-hash", s->output_hash, EM_HASH_LEN);
    tr_absorb_u64(tr, "n-samples", s->n_samples);
    tr_absorb_bytes(tr, "nonce", s->nonce, s->nonce_len);
    tr_absorb_bytes(tr, "node-id", s->node_id, s->node_id_len);
}

/* The integer argument (docs/PROOFS.md) needs every activation in range, the input too. */
static em_status input_part(const zk_vk *vk, const int32_t *input, size_t n_samples, uint8_t hash[EM_HASH_LEN],
                            em_err *err)
{
    int32_t amin = -(int32_t)(1u << (vk->act_bits - 1)), amax = (int32_t)(1u << (vk->act_bits - 1)) - 1;
    /* one vectorized pass (~1 ms of scalar compares at 800k inputs otherwise); the loop below
     * names the first bad value */
    int out_of_range = !em_i32_in_range(input, n_samples * vk->input_size, amin, amax);
    for (size_t i = 0; out_of_range && i < n_samples * vk->input_size; i++)
        if (input[i] < amin || input[i] > amax)
            return em_errf(err, EM_ERR_RANGE, "input value %zu = %d outside the activation range [%d, %d]", i,
                           (int)input[i], (int)amin, (int)amax);
    zk__hash_input(vk, input, n_samples * vk->input_size, hash);
    return EM_OK;
}

static void *input_job_run(void *arg)
{
    zk_input_job *j = arg;
    j->st = input_part(j->vk, j->input, j->n_samples, j->hash, &j->err);
    return NULL;
}

void zk__input_job_start(zk_input_job *j, const zk_vk *vk, const int32_t *input, size_t n_samples)
{
    memset(j, 0, sizeof *j);
    j->vk = vk;
    j->input = input;
    j->n_samples = n_samples;
    j->threaded = pthread_create(&j->th, NULL, input_job_run, j) == 0;
}

void zk__input_job_join(zk_input_job *j)
{
    if (j->done)
        return;
    if (j->threaded)
        pthread_join(j->th, NULL);
    else
        input_job_run(j);
    j->done = 1;
}

em_status zk__input_job_finish(zk_input_job *j, em_err *err)
{
    zk__input_job_join(j);
    if (j->st != EM_OK && err)
        *err = j->err;
    return j->st;
}

em_status zk__statement_build(const zk_vk *vk, const int32_t *input, const int32_t *output,
                              size_t n_samples, const zk_context *ctx, const uint8_t *input_hash,
                              zk_statement *s, em_err *err)
{
    memset(s, 0, sizeof *s);
    if (n_samples == 0 || n_samples > ZK_MAX_SAMPLES)
        return em_errf(err, EM_ERR_ARG, "n_samples = %zu, expected 1..%zu", n_samples, ZK_MAX_SAMPLES);
    if (ctx && ctx->nonce_len > ZK_MAX_NONCE)
        return em_errf(err, EM_ERR_ARG, "nonce is %zu bytes, at most %d allowed", ctx->nonce_len,
                       ZK_MAX_NONCE);
    if (ctx && ctx->nonce_len && !ctx->nonce)
        return em_errf(err, EM_ERR_ARG, "nonce pointer is NULL");
    size_t idl = ctx && ctx->node_id ? strlen(ctx->node_id) : 0;
    if (idl > ZK_MAX_NODE_ID)
        return em_errf(err, EM_ERR_ARG, "node id is %zu bytes, at most %d allowed", idl, ZK_MAX_NODE_ID);
    em_status st;
    if (input_hash)
        memcpy(s->input_hash, input_hash, EM_HASH_LEN);
    else if ((st = input_part(vk, input, n_samples, s->input_hash, err)) != EM_OK)
        return st;
    memcpy(s->model_hash, vk->model_hash, EM_HASH_LEN);
    zk__hash_output(output, n_samples * vk->output_size, s->output_hash);
    s->n_samples = n_samples;
    s->nonce_len = ctx ? ctx->nonce_len : 0;
    if (s->nonce_len)
        memcpy(s->nonce, ctx->nonce, s->nonce_len);
    s->node_id_len = idl;
    if (idl)
        memcpy(s->node_id, ctx->node_id, idl);
    return EM_OK;
}

/* ---- channel ------------------------------------------------------------------------------ */

em_status zk__put_ff2(zk_wr *w, const char *label, const ff2_t *v, size_t n, em_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (em_buf_append_u64le(w->buf, v[i].a) != EM_OK || em_buf_append_u64le(w->buf, v[i].b) != EM_OK)
            return em_errf(err, EM_ERR_LIMIT, "proof exceeds %zu bytes", w->buf->max);
    tr_absorb_ff2(w->tr, label, v, n);
    return EM_OK;
}

em_status zk__get_ff2(zk_rd *r, const char *label, ff2_t *v, size_t n, em_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (em_reader_u64le(r->rd, &v[i].a) != EM_OK || em_reader_u64le(r->rd, &v[i].b) != EM_OK)
            return em_errf(err, EM_ERR_PARSE, "proof truncated in %s", label);
        if (!ff_is_canonical(v[i].a) || !ff_is_canonical(v[i].b))
            return em_errf(err, EM_ERR_PARSE, "non-canonical field element in %s", label);
    }
    tr_absorb_ff2(r->tr, label, v, n);
    return EM_OK;
}
