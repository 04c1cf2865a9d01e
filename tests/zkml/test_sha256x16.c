/* The 16-lane SHA-256 (src/zkml/sha256x16.c) against OpenSSL's SHA256: every lane, every length
 * across the block and padding boundaries, any split of the updates, on the AVX-512 and the
 * portable paths. The Merkle trees and so every commitment root depend on it being exactly
 * SHA-256. */
#include <openssl/sha.h>

#include "harness.h"
#include "sha256x16.h"

#define MAXLEN 4200

static uint8_t msg[SHA256X16_LANES][MAXLEN];

static void fill_random(void)
{
    for (unsigned k = 0; k < SHA256X16_LANES; k++)
        for (size_t i = 0; i < MAXLEN; i++)
            msg[k][i] = (uint8_t)th_rand();
}

/* Hashes msg[k][0 .. len) in every lane, with updates cut at random points (chunks of 0 to
 * 3 blocks, so partial, whole and zero-length updates all occur), and compares with OpenSSL. */
static int lanes_match(size_t len, int random_cuts)
{
    sha256x16 s;
    sha256x16_init(&s);
    size_t off = 0;
    while (off < len) {
        size_t n = random_cuts ? (size_t)(th_rand() % 200) : len - off;
        if (n > len - off)
            n = len - off;
        const uint8_t *p[SHA256X16_LANES];
        for (unsigned k = 0; k < SHA256X16_LANES; k++)
            p[k] = msg[k] + off;
        sha256x16_update(&s, p, n);
        off += n;
    }
    uint8_t out[SHA256X16_LANES][32], *o[SHA256X16_LANES];
    for (unsigned k = 0; k < SHA256X16_LANES; k++)
        o[k] = out[k];
    sha256x16_final(&s, o);
    int ok = 1;
    for (unsigned k = 0; k < SHA256X16_LANES; k++) {
        uint8_t ref[32];
        SHA256(msg[k], len, ref);
        if (memcmp(ref, out[k], 32) != 0) {
            fprintf(stderr, "  lane %u, %zu bytes: digest differs from OpenSSL\n", k, len);
            ok = 0;
        }
    }
    return ok;
}

static void check_lengths(void)
{
    fill_random();
    for (size_t len = 0; len <= 300; len++) {
        CHECK(lanes_match(len, 0));
        CHECK(lanes_match(len, 1));
    }
    static const size_t big[] = {1023, 1024, 1025, 2105, 2111, 2112, 4096, 4159, MAXLEN};
    for (size_t i = 0; i < sizeof big / sizeof *big; i++) {
        CHECK(lanes_match(big[i], 0));
        CHECK(lanes_match(big[i], 1));
    }
}

static void test_simd(void)
{
    sha256x16_portable(0);
    check_lengths();
}

static void test_portable(void)
{
    sha256x16_portable(1);
    check_lengths();
    sha256x16_portable(0);
}

/* A Merkle node's shape (a one-byte tag, then 64 bytes) from a stride-0 update (the tag shared
 * by every lane) and a strided one. */
static void test_strided(void)
{
    fill_random();
    static const uint8_t tag = 0x01;
    sha256x16 s;
    sha256x16_init(&s);
    sha256x16_update_strided(&s, &tag, 0, 1);
    sha256x16_update_strided(&s, msg[0], sizeof msg[0], 64);
    uint8_t out[SHA256X16_LANES][32], *o[SHA256X16_LANES];
    for (unsigned k = 0; k < SHA256X16_LANES; k++)
        o[k] = out[k];
    sha256x16_final(&s, o);
    for (unsigned k = 0; k < SHA256X16_LANES; k++) {
        uint8_t buf[65], ref[32];
        buf[0] = tag;
        memcpy(buf + 1, msg[k], 64);
        SHA256(buf, sizeof buf, ref);
        CHECK(memcmp(ref, out[k], 32) == 0);
    }
}

int main(void)
{
    th_init("test_sha256x16");
    fprintf(stderr, "  16-lane kernel %s on this CPU\n", sha256x16_ok() ? "in use" : "not used (portable path)");
    TH_RUN(test_simd);
    TH_RUN(test_portable);
    TH_RUN(test_strided);
    return th_finish();
}
