/* SHA-256 of 16 equal-length messages at once, one per 32-bit lane of an AVX-512 register
 * (internal; docs/PROOFS.md "Merkle trees").
 *
 * A Merkle tree hashes thousands of independent leaves and nodes. OpenSSL's SHA256 (SHA-NI)
 * runs one message at a time at ~1.9 cycles per byte on our CPUs; sixteen messages in lockstep,
 * with AVX-512 rotates and three-input logic, run at about half that. The digests are exactly
 * SHA-256 (FIPS 180-4): tests/zkml/test_sha256x16.c checks every lane against OpenSSL for every
 * length up to several blocks and any split of the updates. Where the CPU lacks AVX-512 (F and
 * BW), sha256x16_ok() is 0 and callers keep using OpenSSL; EM_SHA_X16=0 forces that path. */
#ifndef ENCLAVEML_ZKML_SHA256X16_H
#define ENCLAVEML_ZKML_SHA256X16_H

#include <stddef.h>
#include <stdint.h>

#define SHA256X16_LANES 16

typedef struct sha256x16 {
    uint32_t h[8][SHA256X16_LANES];        /* state, word-major */
    uint8_t buf[SHA256X16_LANES][64];      /* each lane's pending bytes (the same count in all) */
    size_t fill;
    uint64_t total;                        /* bytes absorbed per lane */
} sha256x16;

/* 1 when the 16-lane kernel may be used on this CPU (and EM_SHA_X16 is not "0"). */
int sha256x16_ok(void);
/* Tests: nonzero makes every call take the portable per-lane compression, and sha256x16_ok()
 * 1 on any CPU (unless EM_SHA_X16 is "0"), so that the callers' batching is tested there too. */
void sha256x16_portable(int on);

void sha256x16_init(sha256x16 *s);
/* Absorbs len bytes into every lane: lane k reads src[k][0 .. len). */
void sha256x16_update(sha256x16 *s, const uint8_t *const src[SHA256X16_LANES], size_t len);
/* As update, lane k reading base + k * stride (stride 0: the same bytes in every lane). */
void sha256x16_update_strided(sha256x16 *s, const uint8_t *base, size_t stride, size_t len);
/* Pads and writes lane k's digest (32 bytes) to out[k]. The state is spent: sha256x16_init it
 * before hashing anything more with it. */
void sha256x16_final(sha256x16 *s, uint8_t *const out[SHA256X16_LANES]);

#endif
