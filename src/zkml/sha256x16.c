/* SHA-256 (FIPS 180-4) of 16 messages in lockstep; see sha256x16.h. Lane k of every register
 * holds message k's state or message word, so the round function is the specification's, on
 * 16 lanes at once: rotates are vprord, Ch and Maj one vpternlogd each. A portable per-lane
 * compression serves CPUs without AVX-512 (callers then prefer OpenSSL, but the results are the
 * same either way). */
#include "sha256x16.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define X16_SIMD 1
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

/* ---- portable: one lane at a time ---------------------------------------------------------- */
static inline uint32_t ror32(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static void compress_lane(uint32_t st[8], const uint8_t *p)
{
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 | (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = ror32(w[t - 15], 7) ^ ror32(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = ror32(w[t - 2], 17) ^ ror32(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6], h = st[7];
    for (int t = 0; t < 64; t++) {
        uint32_t t1 = h + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t];
        uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    st[0] += a, st[1] += b, st[2] += c, st[3] += d, st[4] += e, st[5] += f, st[6] += g, st[7] += h;
}

static void blocks_portable(sha256x16 *s, const uint8_t *const p[SHA256X16_LANES], size_t off, size_t n)
{
    for (unsigned k = 0; k < SHA256X16_LANES; k++) {
        uint32_t st[8];
        for (int i = 0; i < 8; i++)
            st[i] = s->h[i][k];
        for (size_t b = 0; b < n; b++)
            compress_lane(st, p[k] + off + 64 * b);
        for (int i = 0; i < 8; i++)
            s->h[i][k] = st[i];
    }
}

/* ---- AVX-512: 16 lanes --------------------------------------------------------------------- */
#ifdef X16_SIMD
#define X16_ATTR __attribute__((target("avx512f,avx512bw")))

/* The 16 lanes' blocks (64 bytes each) as 16 registers of big-endian words: w[t] lane k = word
 * t of block k. A 16 x 16 transpose of 32-bit words: unpacks within 128-bit lanes, then 128-bit
 * block shuffles. */
X16_ATTR static inline void load_words(const uint8_t *const p[SHA256X16_LANES], size_t off, __m512i w[16])
{
    const __m512i bswap = _mm512_set4_epi32(0x0c0d0e0f, 0x08090a0b, 0x04050607, 0x00010203);
    __m512i r[16], t0[16], t1[16];
    for (int k = 0; k < 16; k++)
        r[k] = _mm512_shuffle_epi8(_mm512_loadu_si512((const void *)(p[k] + off)), bswap);
    for (int i = 0; i < 8; i++) {
        t0[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t0[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    /* t1[4i + c], 128-bit lane L: rows 4i..4i+3 at word 4L + oc[c] */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++) {
            t1[4 * i + j] = _mm512_unpacklo_epi64(t0[4 * i + j], t0[4 * i + 2 + j]);
            t1[4 * i + 2 + j] = _mm512_unpackhi_epi64(t0[4 * i + j], t0[4 * i + 2 + j]);
        }
    static const int oc[4] = {0, 2, 1, 3};
    for (int c = 0; c < 4; c++) {
        __m512i u0 = _mm512_shuffle_i32x4(t1[c], t1[4 + c], 0x88), u1 = _mm512_shuffle_i32x4(t1[c], t1[4 + c], 0xdd);
        __m512i u2 = _mm512_shuffle_i32x4(t1[8 + c], t1[12 + c], 0x88);
        __m512i u3 = _mm512_shuffle_i32x4(t1[8 + c], t1[12 + c], 0xdd);
        int o = oc[c];
        w[o] = _mm512_shuffle_i32x4(u0, u2, 0x88);
        w[8 + o] = _mm512_shuffle_i32x4(u0, u2, 0xdd);
        w[4 + o] = _mm512_shuffle_i32x4(u1, u3, 0x88);
        w[12 + o] = _mm512_shuffle_i32x4(u1, u3, 0xdd);
    }
}

#define X16_XOR3 0x96 /* a ^ b ^ c */
#define X16_CH 0xca   /* a ? b : c */
#define X16_MAJ 0xe8  /* majority */

X16_ATTR static void blocks_avx512(sha256x16 *s, const uint8_t *const p[SHA256X16_LANES], size_t off, size_t n)
{
    __m512i st[8];
    for (int i = 0; i < 8; i++)
        st[i] = _mm512_loadu_si512((const void *)s->h[i]);
    for (size_t blk = 0; blk < n; blk++, off += 64) {
        __m512i w[16];
        load_words(p, off, w);
        __m512i a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6], h = st[7];
        for (int t = 0; t < 64; t++) {
            __m512i wt;
            if (t < 16) {
                wt = w[t];
            } else {
                __m512i w15 = w[(t - 15) & 15], w2 = w[(t - 2) & 15];
                __m512i s0 = _mm512_ternarylogic_epi32(_mm512_ror_epi32(w15, 7), _mm512_ror_epi32(w15, 18),
                                                       _mm512_srli_epi32(w15, 3), X16_XOR3);
                __m512i s1 = _mm512_ternarylogic_epi32(_mm512_ror_epi32(w2, 17), _mm512_ror_epi32(w2, 19),
                                                       _mm512_srli_epi32(w2, 10), X16_XOR3);
                wt = _mm512_add_epi32(_mm512_add_epi32(w[t & 15], s0), _mm512_add_epi32(w[(t - 7) & 15], s1));
                w[t & 15] = wt;
            }
            __m512i S1 = _mm512_ternarylogic_epi32(_mm512_ror_epi32(e, 6), _mm512_ror_epi32(e, 11),
                                                   _mm512_ror_epi32(e, 25), X16_XOR3);
            __m512i t1 = _mm512_add_epi32(_mm512_add_epi32(h, S1),
                                          _mm512_add_epi32(_mm512_ternarylogic_epi32(e, f, g, X16_CH),
                                                           _mm512_add_epi32(wt, _mm512_set1_epi32((int)K[t]))));
            __m512i S0 = _mm512_ternarylogic_epi32(_mm512_ror_epi32(a, 2), _mm512_ror_epi32(a, 13),
                                                   _mm512_ror_epi32(a, 22), X16_XOR3);
            __m512i t2 = _mm512_add_epi32(S0, _mm512_ternarylogic_epi32(a, b, c, X16_MAJ));
            h = g, g = f, f = e, e = _mm512_add_epi32(d, t1), d = c, c = b, b = a, a = _mm512_add_epi32(t1, t2);
        }
        st[0] = _mm512_add_epi32(st[0], a), st[1] = _mm512_add_epi32(st[1], b);
        st[2] = _mm512_add_epi32(st[2], c), st[3] = _mm512_add_epi32(st[3], d);
        st[4] = _mm512_add_epi32(st[4], e), st[5] = _mm512_add_epi32(st[5], f);
        st[6] = _mm512_add_epi32(st[6], g), st[7] = _mm512_add_epi32(st[7], h);
    }
    for (int i = 0; i < 8; i++)
        _mm512_storeu_si512((void *)s->h[i], st[i]);
}
#endif

static int x16_simd(void)
{
#ifdef X16_SIMD
    static int has = -1; /* filled by whichever thread asks first (all write the same value) */
    int h = __atomic_load_n(&has, __ATOMIC_RELAXED);
    if (h < 0) {
        h = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
        __atomic_store_n(&has, h, __ATOMIC_RELAXED);
    }
    return h;
#else
    return 0;
#endif
}

static int force_portable;

int sha256x16_ok(void)
{
    static int env = -1;
    int e = __atomic_load_n(&env, __ATOMIC_RELAXED);
    if (e < 0) {
        const char *v = getenv("EM_SHA_X16");
        e = !(v && strcmp(v, "0") == 0);
        __atomic_store_n(&env, e, __ATOMIC_RELAXED);
    }
    return e && (x16_simd() || __atomic_load_n(&force_portable, __ATOMIC_RELAXED));
}

void sha256x16_portable(int on) { __atomic_store_n(&force_portable, on != 0, __ATOMIC_RELAXED); }

/* n blocks of every lane: lane k's at p[k] + off, + 64, ... */
static void blocks(sha256x16 *s, const uint8_t *const p[SHA256X16_LANES], size_t off, size_t n)
{
    if (!n)
        return;
#ifdef X16_SIMD
    if (x16_simd() && !__atomic_load_n(&force_portable, __ATOMIC_RELAXED)) {
        blocks_avx512(s, p, off, n);
        return;
    }
#endif
    blocks_portable(s, p, off, n);
}

void sha256x16_init(sha256x16 *s)
{
    for (int i = 0; i < 8; i++)
        for (unsigned k = 0; k < SHA256X16_LANES; k++)
            s->h[i][k] = H0[i];
    s->fill = 0;
    s->total = 0;
}

void sha256x16_update(sha256x16 *s, const uint8_t *const src[SHA256X16_LANES], size_t len)
{
    size_t off = 0;
    s->total += len;
    if (s->fill) {
        size_t take = 64 - s->fill < len ? 64 - s->fill : len;
        for (unsigned k = 0; k < SHA256X16_LANES; k++)
            memcpy(s->buf[k] + s->fill, src[k], take);
        s->fill += take;
        off = take;
        if (s->fill < 64)
            return;
        const uint8_t *bp[SHA256X16_LANES];
        for (unsigned k = 0; k < SHA256X16_LANES; k++)
            bp[k] = s->buf[k];
        blocks(s, bp, 0, 1);
        s->fill = 0;
    }
    size_t n = (len - off) / 64;
    blocks(s, src, off, n); /* whole blocks straight from the messages */
    off += 64 * n;
    if (off < len) {
        for (unsigned k = 0; k < SHA256X16_LANES; k++)
            memcpy(s->buf[k], src[k] + off, len - off);
        s->fill = len - off;
    }
}

void sha256x16_update_strided(sha256x16 *s, const uint8_t *base, size_t stride, size_t len)
{
    const uint8_t *p[SHA256X16_LANES];
    for (unsigned k = 0; k < SHA256X16_LANES; k++)
        p[k] = base + k * stride;
    sha256x16_update(s, p, len);
}

void sha256x16_final(sha256x16 *s, uint8_t *const out[SHA256X16_LANES])
{
    uint64_t bits = s->total * 8;
    size_t f = s->fill, nb = f + 9 <= 64 ? 1 : 2;
    uint8_t pad[SHA256X16_LANES][128];
    const uint8_t *bp[SHA256X16_LANES];
    for (unsigned k = 0; k < SHA256X16_LANES; k++) {
        memcpy(pad[k], s->buf[k], f);
        pad[k][f] = 0x80;
        memset(pad[k] + f + 1, 0, 64 * nb - f - 1);
        for (int i = 0; i < 8; i++)
            pad[k][64 * nb - 1 - i] = (uint8_t)(bits >> (8 * i));
        bp[k] = pad[k];
    }
    blocks(s, bp, 0, nb);
    for (unsigned k = 0; k < SHA256X16_LANES; k++)
        for (int i = 0; i < 8; i++) {
            uint32_t v = s->h[i][k];
            out[k][4 * i] = (uint8_t)(v >> 24);
            out[k][4 * i + 1] = (uint8_t)(v >> 16);
            out[k][4 * i + 2] = (uint8_t)(v >> 8);
            out[k][4 * i + 3] = (uint8_t)v;
        }
    s->fill = 0;
}
