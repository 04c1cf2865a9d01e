/* Fiat-Shamir transcript (see transcript.h and docs/PROOFS.md "Transcript (Fiat-Shamir)").
 *
 * Every step hashes one SHA-256 message of the form
 *     tag(8) || state(32) || n_ops(u64le) || len(label)(u64le) || label || payload
 * with a distinct 8-byte tag per kind of step, so no two steps (nor two transcripts of
 * different shape) can ever feed SHA-256 the same message. tools/gen-vectors.py is an
 * independent implementation of exactly this encoding. */
#define OPENSSL_SUPPRESS_DEPRECATED /* low-level SHA256_* avoid EVP's per-call fetch cost */
#include "enclaveml/zkml/transcript.h"

#include <assert.h>
#include <openssl/sha.h>
#include <string.h>

#define TR_TAG_INIT "EMTR-ini"
#define TR_TAG_ABSORB "EMTR-abs"
#define TR_TAG_OUT "EMTR-out"
#define TR_TAG_NEXT "EMTR-nxt"

static void put_u64le(uint8_t b[8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64le(const uint8_t b[8])
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

static void upd_u64(SHA256_CTX *c, uint64_t v)
{
    uint8_t b[8];
    put_u64le(b, v);
    SHA256_Update(c, b, 8);
}

/* tag || state || n_ops || len(label) || label: the common prefix of every step. */
static void step_begin(SHA256_CTX *c, const tr_t *t, const char *tag, const char *label)
{
    size_t ll = label ? strlen(label) : 0;
    SHA256_Init(c);
    SHA256_Update(c, tag, 8);
    SHA256_Update(c, t->state, 32);
    upd_u64(c, t->n_ops);
    upd_u64(c, (uint64_t)ll);
    if (ll)
        SHA256_Update(c, label, ll);
}

void tr_init(tr_t *t, const char *domain)
{
    size_t dl = domain ? strlen(domain) : 0;
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, TR_TAG_INIT, 8);
    upd_u64(&c, (uint64_t)dl);
    if (dl)
        SHA256_Update(&c, domain, dl);
    SHA256_Final(t->state, &c);
    t->n_ops = 0;
}

void tr_absorb_bytes(tr_t *t, const char *label, const void *data, size_t len)
{
    SHA256_CTX c;
    step_begin(&c, t, TR_TAG_ABSORB, label);
    upd_u64(&c, (uint64_t)len);
    if (len)
        SHA256_Update(&c, data, len);
    SHA256_Final(t->state, &c);
    t->n_ops++;
}

void tr_absorb_u64(tr_t *t, const char *label, uint64_t v)
{
    uint8_t b[8];
    put_u64le(b, v);
    tr_absorb_bytes(t, label, b, 8);
}

/* Field elements are absorbed as their canonical 8-byte little-endian encodings, streamed so
 * that no buffer proportional to n is needed. */
void tr_absorb_ff(tr_t *t, const char *label, const ff_t *v, size_t n)
{
    SHA256_CTX c;
    step_begin(&c, t, TR_TAG_ABSORB, label);
    upd_u64(&c, (uint64_t)n * 8);
    uint8_t buf[4096];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        assert(ff_is_canonical(v[i]));
        put_u64le(buf + k, v[i]);
        k += 8;
        if (k == sizeof buf) {
            SHA256_Update(&c, buf, k);
            k = 0;
        }
    }
    if (k)
        SHA256_Update(&c, buf, k);
    SHA256_Final(t->state, &c);
    t->n_ops++;
}

void tr_absorb_ff2(tr_t *t, const char *label, const ff2_t *v, size_t n)
{
    SHA256_CTX c;
    step_begin(&c, t, TR_TAG_ABSORB, label);
    upd_u64(&c, (uint64_t)n * 16);
    uint8_t buf[4096]; /* long updates: 256-byte ones ran SHA-256 at half its speed on rows */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        assert(ff_is_canonical(v[i].a) && ff_is_canonical(v[i].b));
        put_u64le(buf + k, v[i].a);
        put_u64le(buf + k + 8, v[i].b);
        k += 16;
        if (k == sizeof buf) {
            SHA256_Update(&c, buf, k);
            k = 0;
        }
    }
    if (k)
        SHA256_Update(&c, buf, k);
    SHA256_Final(t->state, &c);
    t->n_ops++;
}

void tr_challenge_bytes(tr_t *t, const char *label, uint8_t *out, size_t n)
{
    /* Output block i = H("EMTR-out" || prefix || u64le(i)); then the state moves on with
     * H("EMTR-nxt" || prefix || u64le(n)), so the output never equals a future state. */
    SHA256_CTX base, c;
    step_begin(&base, t, TR_TAG_OUT, label);
    uint8_t blk[32];
    for (uint64_t i = 0; (size_t)i * 32 < n; i++) {
        c = base;
        upd_u64(&c, i);
        SHA256_Final(blk, &c);
        size_t off = (size_t)i * 32, take = n - off < 32 ? n - off : 32;
        memcpy(out + off, blk, take);
    }
    step_begin(&c, t, TR_TAG_NEXT, label);
    upd_u64(&c, (uint64_t)n);
    SHA256_Final(t->state, &c);
    t->n_ops++;
}

static uint64_t squeeze_u64(tr_t *t, const char *label)
{
    uint8_t b[8];
    tr_challenge_bytes(t, label, b, 8);
    return get_u64le(b);
}

ff_t tr_challenge_ff(tr_t *t, const char *label)
{
    for (;;) { /* rejects with probability 2^-32 per try */
        uint64_t w = squeeze_u64(t, label);
        if (w < FF_P)
            return w;
    }
}

ff2_t tr_challenge_ff2(tr_t *t, const char *label)
{
    ff2_t r;
    tr_challenge_ff2_vec(t, label, &r, 1);
    return r;
}

/* One squeeze of 16n bytes, element i = (u64le at 16i, u64le at 16i + 8): one output block per
 * two elements instead of four squeeze steps per element. If any word is >= p (probability
 * 2n * 2^-32) the whole vector is squeezed again, so it is exactly uniform on F_p2^n. */
void tr_challenge_ff2_vec(tr_t *t, const char *label, ff2_t *out, size_t n)
{
    if (n == 0)
        return;
    assert(n <= SIZE_MAX / 16);
    for (;;) {
        uint8_t *raw = (uint8_t *)out; /* 16 bytes per element, decoded in place below */
        tr_challenge_bytes(t, label, raw, 16 * n);
        uint64_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t a = get_u64le(raw + 16 * i), b = get_u64le(raw + 16 * i + 8);
            out[i] = (ff2_t){a, b};
            bad |= (uint64_t)(a >= FF_P) | (uint64_t)(b >= FF_P);
        }
        if (!bad)
            return;
    }
}

uint64_t tr_challenge_index(tr_t *t, const char *label, uint64_t bound)
{
    assert(bound >= 1);
    if (bound == 0)
        return 0;
    /* Words below 2^64 mod bound are rejected; the rest cover every residue equally often. */
    uint64_t thresh = (0 - bound) % bound;
    for (;;) {
        uint64_t w = squeeze_u64(t, label);
        if (w >= thresh)
            return w % bound;
    }
}
