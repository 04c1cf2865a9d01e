/* Radix-2 NTT over Goldilocks (see ntt.h).
 *
 * Forward transform = bit-reversal permutation + iterative decimation-in-time butterflies.
 * The butterflies run depth-first: a block of NTT_BLOCK elements (fits L2) goes through every
 * stage that stays inside it before the next block is touched; only the last log(n/NTT_BLOCK)
 * stages stream over the whole array. Twiddles for the stage of half-size h are stored
 * contiguously at tw[h .. 2h) (tw[h + j] = w_{2h}^j), so every stage reads them linearly and
 * SIMD lanes load them directly. The inverse reuses the forward tables:
 * f(w^-i) = F[(n - i) mod n], so inverse = forward, reverse a[1..n-1], scale by 1/n. */
#include "enclaveml/zkml/ntt.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enclaveml/zkml/ff_vec.h"
#include "ff_simd.h"

#define NTT_LOG_BLOCK 14 /* 2^14 elements = 128 KiB */

struct ntt_plan {
    unsigned log_n;
    size_t n;
    ff_t n_inv;
    ff_t *tw;  /* n entries; tw[0] unused */
    ff_t *itw; /* the inverse twiddles, same layout: itw[h + j] = w_{2h}^-j (decimation in frequency) */
};

unsigned ntt_plan_log_n(const ntt_plan *p) { return p->log_n; }

static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static ntt_plan *shared_plans[NTT_MAX_LOG_N + 1];

em_status ntt_plan_shared(unsigned log_n, const ntt_plan **out, em_err *err)
{
    if (log_n > NTT_MAX_LOG_N)
        return em_errf(err, EM_ERR_LIMIT, "ntt: size 2^%u exceeds the maximum 2^%u", log_n, NTT_MAX_LOG_N);
    em_status st = EM_OK;
    pthread_mutex_lock(&shared_mu);
    if (!shared_plans[log_n])
        st = ntt_plan_create(log_n, &shared_plans[log_n], err);
    *out = shared_plans[log_n];
    pthread_mutex_unlock(&shared_mu);
    return st;
}

em_status ntt_plan_create(unsigned log_n, ntt_plan **out, em_err *err)
{
    if (log_n > NTT_MAX_LOG_N)
        return em_errf(err, EM_ERR_LIMIT, "ntt: size 2^%u exceeds the maximum 2^%u", log_n, NTT_MAX_LOG_N);
    ntt_plan *p = calloc(1, sizeof *p);
    if (!p)
        return em_errf(err, EM_ERR_NOMEM, "ntt: out of memory");
    p->log_n = log_n;
    p->n = (size_t)1 << log_n;
    p->n_inv = ff_inv(ff_from_u64(p->n));
    p->tw = aligned_alloc(64, (p->n < 8 ? 8 : p->n) * sizeof(ff_t));
    p->itw = aligned_alloc(64, (p->n < 8 ? 8 : p->n) * sizeof(ff_t));
    if (!p->tw || !p->itw) {
        ntt_plan_free(p);
        return em_errf(err, EM_ERR_NOMEM, "ntt: out of memory for 2^%u twiddles", log_n);
    }
    /* Level s (h = 2^(s-1)) holds w_s^j at tw[h + j]. The top level is built in 8 independent
     * chains (the multiplications overlap instead of waiting on each other); each lower level is
     * every other entry of the one above, since w_s = w_(s+1)^2 exactly. */
    p->tw[0] = 0;
    if (log_n >= 1) {
        size_t h = p->n / 2;
        ff_t w = ff_root_of_unity(log_n), x[8], w8;
        x[0] = 1;
        for (int k = 1; k < 8; k++)
            x[k] = ff_mul(x[k - 1], w);
        w8 = ff_mul(x[7], w);
        for (size_t j = 0; j < h; j += 8)
            for (int k = 0; k < 8 && j + (size_t)k < h; k++) {
                p->tw[h + j + (size_t)k] = x[k];
                x[k] = ff_mul(x[k], w8);
            }
        for (unsigned s = log_n - 1; s >= 1; s--) {
            size_t hs = (size_t)1 << (s - 1);
            for (size_t j = 0; j < hs; j++)
                p->tw[hs + j] = p->tw[2 * hs + 2 * j];
        }
    }
    /* w_{2h}^-j = w_{2h}^(2h - j) = -w_{2h}^(h - j) for 0 < j < h, since w_{2h}^h = -1 */
    p->itw[0] = 0;
    for (size_t h = 1; h < p->n; h *= 2) {
        p->itw[h] = 1;
        for (size_t j = 1; j < h; j++)
            p->itw[h + j] = ff_neg(p->tw[h + (h - j)]);
    }
    *out = p;
    return EM_OK;
}

void ntt_plan_free(ntt_plan *p)
{
    if (!p)
        return;
    free(p->tw);
    free(p->itw);
    free(p);
}

static inline uint64_t rev_bits(uint64_t x, unsigned bits)
{
    x = ((x >> 1) & 0x5555555555555555ULL) | ((x & 0x5555555555555555ULL) << 1);
    x = ((x >> 2) & 0x3333333333333333ULL) | ((x & 0x3333333333333333ULL) << 2);
    x = ((x >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((x & 0x0F0F0F0F0F0F0F0FULL) << 4);
    return bits ? __builtin_bswap64(x) >> (64 - bits) : 0;
}

/* Blocked bit reversal: write i = (h, m, l) with h and l of NTT_BR_B bits each, so that
 * rev(i) = (rev(l), rev(m), rev(h)). For one middle value m, the 2^B x 2^B tile of elements
 * (h, m, *) is swapped with the tile (*, rev(m), *): both tiles are 2^B runs of 2^B
 * consecutive elements (whole cache lines), instead of one random access per element. */
#define NTT_BR_B 4

void ntt_bit_reverse(ff_t *a, unsigned log_n)
{
    if (log_n < 2)
        return;
    size_t n = (size_t)1 << log_n;
    if (log_n < 2 * NTT_BR_B + 2) {
        for (size_t i = 1; i < n - 1; i++) {
            size_t r = (size_t)rev_bits(i, log_n);
            if (i < r) {
                ff_t t = a[i];
                a[i] = a[r];
                a[r] = t;
            }
        }
        return;
    }
    const unsigned B = NTT_BR_B, mb = log_n - 2 * B;
    const size_t T = (size_t)1 << B, hs = (size_t)1 << (B + mb);
    uint8_t rb[1 << NTT_BR_B];
    for (size_t x = 0; x < T; x++)
        rb[x] = (uint8_t)rev_bits(x, B);
    for (size_t m = 0; m < ((size_t)1 << mb); m++) {
        size_t mr = (size_t)rev_bits(m, mb);
        if (mr < m)
            continue;
        ff_t *src = a + (m << B), *dst = a + (mr << B);
        for (size_t h = 0; h < T; h++)
            for (size_t l = 0; l < T; l++) {
                /* i = h*hs + m*T + l  <->  r = rb[l]*hs + mr*T + rb[h] */
                size_t i = h * hs + l, r = rb[l] * hs + rb[h];
                if (mr == m && r <= i)
                    continue; /* the tile maps onto itself: swap each pair once */
                ff_t t = src[i];
                src[i] = dst[r];
                dst[r] = t;
            }
    }
}

/* ---- butterfly stages ---------------------------------------------------------------------
 * One DIT stage of half-size h over x[0..len): for each block of 2h, for j < h:
 *   (u, v) = (x[j], x[j+h] * tw[h+j]) -> (u + v, u - v). */
static void stage_scalar(ff_t *x, size_t len, size_t h, const ff_t *tw)
{
    for (size_t k = 0; k < len; k += 2 * h)
        for (size_t j = 0; j < h; j++) {
            ff_t u = x[k + j], v = ff_mul(x[k + j + h], tw[h + j]);
            x[k + j] = ff_add(u, v);
            x[k + j + h] = ff_sub(u, v);
        }
}

/* h = 1 and h = 2 fused (no multiplication by 1; one by w_4). */
static void stages_12_scalar(ff_t *x, size_t len, ff_t w4)
{
    for (size_t k = 0; k < len; k += 4) {
        ff_t a0 = ff_add(x[k], x[k + 1]), a1 = ff_sub(x[k], x[k + 1]);
        ff_t a2 = ff_add(x[k + 2], x[k + 3]), a3 = ff_sub(x[k + 2], x[k + 3]);
        a3 = ff_mul(a3, w4);
        x[k] = ff_add(a0, a2);
        x[k + 2] = ff_sub(a0, a2);
        x[k + 1] = ff_add(a1, a3);
        x[k + 3] = ff_sub(a1, a3);
    }
}

__attribute__((target("avx2"))) static void stage_avx2(ff_t *x, size_t len, size_t h, const ff_t *tw)
{
    for (size_t k = 0; k < len; k += 2 * h) {
        ff_t *lo = x + k, *hi = x + k + h;
        for (size_t j = 0; j < h; j += 4) {
            __m256i u = _mm256_loadu_si256((const __m256i *)(lo + j));
            __m256i v = ff4_mul(_mm256_loadu_si256((const __m256i *)(hi + j)),
                                _mm256_loadu_si256((const __m256i *)(tw + h + j)));
            _mm256_storeu_si256((__m256i *)(lo + j), ff4_add(u, v));
            _mm256_storeu_si256((__m256i *)(hi + j), ff4_sub(u, v));
        }
    }
}

__attribute__((target("avx512f,avx512dq"))) static void stage_avx512(ff_t *x, size_t len, size_t h,
                                                                      const ff_t *tw)
{
    for (size_t k = 0; k < len; k += 2 * h) {
        ff_t *lo = x + k, *hi = x + k + h;
        for (size_t j = 0; j < h; j += 8) {
            __m512i u = _mm512_loadu_si512(lo + j);
            __m512i v = ff8_mul(_mm512_loadu_si512(hi + j), _mm512_loadu_si512(tw + h + j));
            _mm512_storeu_si512(lo + j, ff8_add(u, v));
            _mm512_storeu_si512(hi + j, ff8_sub(u, v));
        }
    }
}

/* Two DIT stages (h and 2h) in one pass over blocks of 4h: halves the memory traffic of the
 * stages that do not fit in cache. Same arithmetic as two stage_avx512 calls. */
__attribute__((target("avx512f,avx512dq"))) static void stage2_avx512(ff_t *x, size_t len, size_t h,
                                                                       const ff_t *tw)
{
    for (size_t k = 0; k < len; k += 4 * h) {
        ff_t *p0 = x + k, *p1 = p0 + h, *p2 = p0 + 2 * h, *p3 = p0 + 3 * h;
        for (size_t j = 0; j < h; j += 8) {
            __m512i w1 = _mm512_loadu_si512(tw + h + j);
            __m512i x0 = _mm512_loadu_si512(p0 + j), x1 = _mm512_loadu_si512(p1 + j);
            __m512i x2 = _mm512_loadu_si512(p2 + j), x3 = _mm512_loadu_si512(p3 + j);
            __m512i t1 = ff8_mul(x1, w1), t3 = ff8_mul(x3, w1);
            __m512i a0 = ff8_add(x0, t1), a1 = ff8_sub(x0, t1);
            __m512i a2 = ff8_add(x2, t3), a3 = ff8_sub(x2, t3);
            __m512i u = ff8_mul(a2, _mm512_loadu_si512(tw + 2 * h + j));
            __m512i v = ff8_mul(a3, _mm512_loadu_si512(tw + 3 * h + j));
            _mm512_storeu_si512(p0 + j, ff8_add(a0, u));
            _mm512_storeu_si512(p2 + j, ff8_sub(a0, u));
            _mm512_storeu_si512(p1 + j, ff8_add(a1, v));
            _mm512_storeu_si512(p3 + j, ff8_sub(a1, v));
        }
    }
}

/* Stages h = 2 and h = 4 in registers, 16 elements (two blocks of 8) per step: the start of a
 * Reed-Solomon encoding at rate 1/2, whose h = 1 stage is the spread (rs_encode_one). The lane
 * permutations gather each stage's u and v halves. Same arithmetic as stage() twice. */
__attribute__((target("avx512f,avx512dq"))) static void stage24_avx512(ff_t *x, size_t len, const ff_t *tw)
{
    const __m512i u2 = _mm512_setr_epi64(0, 1, 4, 5, 8, 9, 12, 13), v2 = _mm512_setr_epi64(2, 3, 6, 7, 10, 11, 14, 15);
    const __m512i u4 = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), v4 = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    const __m512i oa = _mm512_setr_epi64(0, 1, 2, 3, 8, 9, 10, 11), ob = _mm512_setr_epi64(4, 5, 6, 7, 12, 13, 14, 15);
    const __m512i t2 = _mm512_setr_epi64((long long)tw[2], (long long)tw[3], (long long)tw[2], (long long)tw[3],
                                         (long long)tw[2], (long long)tw[3], (long long)tw[2], (long long)tw[3]);
    const __m512i t4 = _mm512_setr_epi64((long long)tw[4], (long long)tw[5], (long long)tw[6], (long long)tw[7],
                                         (long long)tw[4], (long long)tw[5], (long long)tw[6], (long long)tw[7]);
    for (size_t k = 0; k < len; k += 16) {
        __m512i a = _mm512_loadu_si512(x + k), b = _mm512_loadu_si512(x + k + 8);
        /* h = 2: u = [a0 a1 a4 a5 b0 b1 b4 b5], v = [a2 a3 a6 a7 b2 b3 b6 b7] */
        __m512i u = _mm512_permutex2var_epi64(a, u2, b), v = ff8_mul(_mm512_permutex2var_epi64(a, v2, b), t2);
        __m512i p = ff8_add(u, v), q = ff8_sub(u, v); /* a' = [p0 p1 q0 q1 p2 p3 q2 q3], b' likewise */
        /* h = 4: u = [a'0..3 b'0..3], v = [a'4..7 b'4..7] */
        u = _mm512_permutex2var_epi64(p, u4, q);
        v = ff8_mul(_mm512_permutex2var_epi64(p, v4, q), t4);
        p = ff8_add(u, v);
        q = ff8_sub(u, v);
        _mm512_storeu_si512(x + k, _mm512_permutex2var_epi64(p, oa, q));
        _mm512_storeu_si512(x + k + 8, _mm512_permutex2var_epi64(p, ob, q));
    }
}

/* Stages h = 1, 2, 4 in registers, 16 elements (two vectors) per step, for a DIT (dif = 0: in
 * that order, v multiplied by the twiddle before the butterfly) or a DIF (dif = 1: h = 4, 2, 1,
 * the difference multiplied after). Per stage, lane permutations gather the u and v halves of
 * the 16 elements and put the results back in order. Same arithmetic as the scalar stages. */
__attribute__((target("avx512f,avx512dq"))) static void stages_small_avx512(ff_t *x, size_t len, const ff_t *tw,
                                                                             int dif)
{
    long long gu[3][8], gv[3][8], pa[3][8], pb[3][8], tv[3][8];
    for (int s = 0; s < 3; s++) {
        int h = 1 << s;
        for (int i = 0; i < 8; i++) {
            int e = (i / h) * 2 * h + i % h;
            gu[s][i] = e;
            gv[s][i] = e + h;
            tv[s][i] = (long long)tw[h + i % h];
        }
        for (int e = 0; e < 16; e++) {
            int m = e % (2 * h), i = (e / (2 * h)) * h + (m < h ? m : m - h);
            (e < 8 ? pa[s] : pb[s])[e % 8] = m < h ? i : 8 + i;
        }
    }
    __m512i GU[3], GV[3], PA[3], PB[3], TV[3];
    for (int s = 0; s < 3; s++) {
        GU[s] = _mm512_loadu_si512(gu[s]);
        GV[s] = _mm512_loadu_si512(gv[s]);
        PA[s] = _mm512_loadu_si512(pa[s]);
        PB[s] = _mm512_loadu_si512(pb[s]);
        TV[s] = _mm512_loadu_si512(tv[s]);
    }
    for (size_t k = 0; k < len; k += 16) {
        __m512i a = _mm512_loadu_si512(x + k), b = _mm512_loadu_si512(x + k + 8);
        for (int t = 0; t < 3; t++) {
            int s = dif ? 2 - t : t;
            __m512i u = _mm512_permutex2var_epi64(a, GU[s], b), v = _mm512_permutex2var_epi64(a, GV[s], b), p, q;
            if (dif) {
                p = ff8_add(u, v);
                q = s ? ff8_mul(ff8_sub(u, v), TV[s]) : ff8_sub(u, v);
            } else {
                if (s)
                    v = ff8_mul(v, TV[s]);
                p = ff8_add(u, v);
                q = ff8_sub(u, v);
            }
            a = _mm512_permutex2var_epi64(p, PA[s], q);
            b = _mm512_permutex2var_epi64(p, PB[s], q);
        }
        _mm512_storeu_si512(x + k, a);
        _mm512_storeu_si512(x + k + 8, b);
    }
}

static void stage(ff_vec_tier tier, ff_t *x, size_t len, size_t h, const ff_t *tw)
{
    if (tier == FF_VEC_AVX512 && h >= 8)
        stage_avx512(x, len, h, tw);
    else if (tier >= FF_VEC_AVX2 && h >= 4)
        stage_avx2(x, len, h, tw);
    else
        stage_scalar(x, len, h, tw);
}

/* All stages with h0 <= h and 2h <= len, on one block x[0..len) (len a power of two). */
static void block_all_stages(ff_vec_tier tier, ff_t *x, size_t len, const ff_t *tw, size_t h0)
{
    size_t h = h0;
    /* h = 1, 2, 4 in AVX-512 registers (session 9: the systematic encoder's transforms, whose
     * first stages are not skipped, gained ~4 ms of the headline commitment with it and its DIF
     * mirror; the plain forward NTT is within noise of the scalar h = 1, 2 fusion it replaced,
     * which an earlier in-register attempt had measured ~5% slower); else h = 1, 2 fused in
     * scalar code. */
    if (h0 == 1 && len >= 16 && tier == FF_VEC_AVX512) {
        stages_small_avx512(x, len, tw, 0);
        h = 8;
    } else if (h0 == 1 && len >= 4) {
        stages_12_scalar(x, len, tw[3]);
        h = 4;
    } else if (h0 == 2 && len >= 16 && tier == FF_VEC_AVX512) {
        stage24_avx512(x, len, tw);
        h = 8;
    }
    for (; h < len; h *= 2)
        stage(tier, x, len, h, tw);
}

/* DIT stages h0, 2*h0, ..., len/2 over x[0..len), depth-first (see the file comment). */
static void dit_rec(ff_vec_tier tier, ff_t *x, size_t len, const ff_t *tw, size_t h0)
{
    const size_t block = (size_t)1 << NTT_LOG_BLOCK;
    if (len <= block || len <= h0) {
        block_all_stages(tier, x, len, tw, h0);
        return;
    }
    if (tier == FF_VEC_AVX512 && len >= 4 * block && len / 4 >= h0) {
        for (int q = 0; q < 4; q++)
            dit_rec(tier, x + q * (len / 4), len / 4, tw, h0);
        stage2_avx512(x, len, len / 4, tw);
        return;
    }
    dit_rec(tier, x, len / 2, tw, h0);
    dit_rec(tier, x + len / 2, len / 2, tw, h0);
    stage(tier, x, len, len / 2, tw);
}

/* ---- decimation in frequency (the inverse transform of a systematic encoding) ---------------
 * One DIF stage of half-size h over x[0..len): for each block of 2h, for j < h:
 *   (u, v) = (x[j], x[j+h]) -> (u + v, (u - v) * itw[h+j]).
 * Stages run from h = len/2 down to 1; natural-order input gives bit-reversed output. */
static void dif_stage_scalar(ff_t *x, size_t len, size_t h, const ff_t *itw)
{
    for (size_t k = 0; k < len; k += 2 * h)
        for (size_t j = 0; j < h; j++) {
            ff_t u = x[k + j], v = x[k + j + h];
            x[k + j] = ff_add(u, v);
            x[k + j + h] = ff_mul(ff_sub(u, v), itw[h + j]);
        }
}

/* h = 2 and h = 1 fused (no multiplication by 1; one by w_4^-1). */
static void dif_stages_21_scalar(ff_t *x, size_t len, ff_t w4i)
{
    for (size_t k = 0; k < len; k += 4) {
        ff_t b0 = ff_add(x[k], x[k + 2]), b2 = ff_sub(x[k], x[k + 2]);
        ff_t b1 = ff_add(x[k + 1], x[k + 3]), b3 = ff_mul(ff_sub(x[k + 1], x[k + 3]), w4i);
        x[k] = ff_add(b0, b1);
        x[k + 1] = ff_sub(b0, b1);
        x[k + 2] = ff_add(b2, b3);
        x[k + 3] = ff_sub(b2, b3);
    }
}

__attribute__((target("avx2"))) static void dif_stage_avx2(ff_t *x, size_t len, size_t h, const ff_t *itw)
{
    for (size_t k = 0; k < len; k += 2 * h) {
        ff_t *lo = x + k, *hi = x + k + h;
        for (size_t j = 0; j < h; j += 4) {
            __m256i u = _mm256_loadu_si256((const __m256i *)(lo + j));
            __m256i v = _mm256_loadu_si256((const __m256i *)(hi + j));
            _mm256_storeu_si256((__m256i *)(lo + j), ff4_add(u, v));
            _mm256_storeu_si256((__m256i *)(hi + j),
                                ff4_mul(ff4_sub(u, v), _mm256_loadu_si256((const __m256i *)(itw + h + j))));
        }
    }
}

__attribute__((target("avx512f,avx512dq"))) static void dif_stage_avx512(ff_t *x, size_t len, size_t h,
                                                                          const ff_t *itw)
{
    for (size_t k = 0; k < len; k += 2 * h) {
        ff_t *lo = x + k, *hi = x + k + h;
        for (size_t j = 0; j < h; j += 8) {
            __m512i u = _mm512_loadu_si512(lo + j), v = _mm512_loadu_si512(hi + j);
            _mm512_storeu_si512(lo + j, ff8_add(u, v));
            _mm512_storeu_si512(hi + j, ff8_mul(ff8_sub(u, v), _mm512_loadu_si512(itw + h + j)));
        }
    }
}

static void dif_stage(ff_vec_tier tier, ff_t *x, size_t len, size_t h, const ff_t *itw)
{
    if (tier == FF_VEC_AVX512 && h >= 8)
        dif_stage_avx512(x, len, h, itw);
    else if (tier >= FF_VEC_AVX2 && h >= 4)
        dif_stage_avx2(x, len, h, itw);
    else
        dif_stage_scalar(x, len, h, itw);
}

/* Every DIF stage over x[0..len), depth-first: the stages that span more than a cache block
 * stream over the array, then each block goes through all of its own. above8: stop after
 * h = 8 (AVX-512, len >= 16: the caller folds the last three stages into its own map). */
static void dif_rec(ff_vec_tier tier, ff_t *x, size_t len, const ff_t *itw, int above8)
{
    const size_t block = (size_t)1 << NTT_LOG_BLOCK;
    if (len > block) {
        dif_stage(tier, x, len, len / 2, itw);
        dif_rec(tier, x, len / 2, itw, above8);
        dif_rec(tier, x + len / 2, len / 2, itw, above8);
        return;
    }
    size_t h = len / 2, last = len >= 16 && tier == FF_VEC_AVX512 ? 8 : 4;
    for (; h >= last; h /= 2)
        dif_stage(tier, x, len, h, itw);
    if (last == 8 && above8)
        return;
    if (last == 8)
        stages_small_avx512(x, len, itw, 1);
    else if (len >= 4)
        dif_stages_21_scalar(x, len, itw[3]);
    else if (len == 2)
        dif_stage_scalar(x, len, 1, itw);
}

void ntt_forward(const ntt_plan *p, ff_t *a)
{
    ntt_bit_reverse(a, p->log_n);
    if (p->n > 1)
        dit_rec(ff_vec_tier_get(), a, p->n, p->tw, 1);
}

/* a[i] *= c * s^i: powers advance lane-parallel (8 or 4 lanes at once). */
__attribute__((target("avx512f,avx512dq"))) static void mul_powers_avx512(ff_t *a, size_t n, ff_t c, ff_t s)
{
    ff_t pw[8];
    pw[0] = c;
    for (int k = 1; k < 8; k++)
        pw[k] = ff_mul(pw[k - 1], s);
    __m512i v = _mm512_loadu_si512(pw), s8 = _mm512_set1_epi64((long long)ff_pow(s, 8));
    for (size_t i = 0; i < n; i += 8) {
        _mm512_storeu_si512(a + i, ff8_mul(_mm512_loadu_si512(a + i), v));
        v = ff8_mul(v, s8);
    }
}

static void mul_powers(ff_t *a, size_t n, ff_t c, ff_t s)
{
    if (n >= 8 && ff_vec_tier_get() == FF_VEC_AVX512) {
        mul_powers_avx512(a, n, c, s);
        return;
    }
    ff_t x = c;
    for (size_t i = 0; i < n; i++) {
        a[i] = ff_mul(a[i], x);
        x = ff_mul(x, s);
    }
}

void ntt_inverse(const ntt_plan *p, ff_t *a)
{
    ntt_forward(p, a);
    for (size_t i = 1, j = p->n - 1; i < j; i++, j--) {
        ff_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
    ff_vec_scale(a, a, p->n_inv, p->n);
}

void ntt_coset_forward(const ntt_plan *p, ff_t shift, ff_t *a)
{
    mul_powers(a, p->n, 1, shift);
    ntt_forward(p, a);
}

void ntt_coset_inverse(const ntt_plan *p, ff_t shift, ff_t *a)
{
    ntt_inverse(p, a);
    mul_powers(a, p->n, 1, ff_inv(shift));
}

void ntt_forward_ref(ff_t *a, unsigned log_n)
{
    size_t n = (size_t)1 << log_n;
    ntt_bit_reverse(a, log_n);
    for (unsigned s = 1; s <= log_n; s++) {
        size_t h = (size_t)1 << (s - 1);
        ff_t w = ff_root_of_unity(s);
        for (size_t k = 0; k < n; k += 2 * h) {
            ff_t x = 1;
            for (size_t j = 0; j < h; j++) {
                ff_t u = a[k + j], v = ff_mul(a[k + j + h], x);
                a[k + j] = ff_add(u, v);
                a[k + j + h] = ff_sub(u, v);
                x = ff_mul(x, w);
            }
        }
    }
}

/* ---- Reed-Solomon encoding ------------------------------------------------------------------ */
static em_status rs_check(const ntt_plan *plan_N, const ntt_plan *plan_n, unsigned rate_bits,
                          ff_t shift, ntt_rs_input kind, em_err *err)
{
    if (!plan_N || rate_bits > plan_N->log_n)
        return em_errf(err, EM_ERR_ARG, "ntt_rs: rate_bits %u does not fit the codeword plan", rate_bits);
    if (!ff_is_canonical(shift) || shift == 0)
        return em_errf(err, EM_ERR_ARG, "ntt_rs: coset shift must be a non-zero field element");
    if (kind != NTT_RS_COEFFS && kind != NTT_RS_EVALS)
        return em_errf(err, EM_ERR_ARG, "ntt_rs: unknown input kind %d", (int)kind);
    if (kind == NTT_RS_EVALS && (!plan_n || plan_n->log_n + rate_bits != plan_N->log_n))
        return em_errf(err, EM_ERR_ARG, "ntt_rs: evaluation input needs the message-size plan 2^%u",
                       plan_N->log_n - rate_bits);
    return EM_OK;
}

static void rs_encode_one(const ntt_plan *plan_N, const ntt_plan *plan_n, unsigned rate_bits, ff_t shift,
                          ntt_rs_input kind, const ff_t *msg, ff_t *out)
{
    size_t N = plan_N->n, n = N >> rate_bits, R = (size_t)1 << rate_bits;
    memcpy(out, msg, n * sizeof(ff_t));
    if (kind == NTT_RS_EVALS)
        ntt_inverse(plan_n, out);
    if (shift != 1)
        mul_powers(out, n, 1, shift);
    /* The zero-padded input, bit-reversed over N, holds coefficient i at rev_n(i) * R and zeros
     * elsewhere; the first rate_bits stages then just copy each non-zero over its group of R.
     * So: bit-reverse the n coefficients, spread them (backwards, in place), and start the
     * butterflies at h = R. */
    ntt_bit_reverse(out, plan_N->log_n - rate_bits);
    for (size_t g = n; g-- > 0;) {
        ff_t v = out[g];
        for (size_t t = 0; t < R; t++)
            out[g * R + t] = v;
    }
    if (N > 1)
        dit_rec(ff_vec_tier_get(), out, N, plan_N->tw, R);
}

em_status ntt_rs_encode(const ntt_plan *plan_N, unsigned rate_bits, ff_t shift, ntt_rs_input kind,
                        const ff_t *msg, ff_t *out, em_err *err)
{
    const ntt_plan *plan_n = NULL;
    ntt_plan *tmp = NULL;
    em_status st;
    if (kind == NTT_RS_EVALS && plan_N && rate_bits <= plan_N->log_n) {
        /* The single-row API builds the small plan itself; batched callers pass one in. */
        if ((st = ntt_plan_create(plan_N->log_n - rate_bits, &tmp, err)) != EM_OK)
            return st;
        plan_n = tmp;
    }
    st = rs_check(plan_N, plan_n, rate_bits, shift, kind, err);
    if (st == EM_OK)
        rs_encode_one(plan_N, plan_n, rate_bits, shift, kind, msg, out);
    ntt_plan_free(tmp);
    return st;
}

/* An int32 as a field element without a branch: a negative x wraps to 2^64 + x, and adding p
 * (mod 2^64) gives p + x. */
static inline ff_t i32_ff(int32_t x) { return (uint64_t)(int64_t)x + ((uint64_t)(int64_t)(x >> 31) & FF_P); }

/* The spread of rs_encode_one_i32 for R = 2 or 4 copies, 8 outputs g at a time: their sources
 * rev(g + k) = rev(g) + rev3(k) 2^(lg-3) are one masked gather (indices >= m read as 0), and
 * lane permutations repeat each value R times. lg >= 3. Returns where it stopped. */
__attribute__((target("avx512f,avx2"))) static size_t spread_avx512(const int32_t *msg, size_t m, size_t n,
                                                                     unsigned lg, size_t R, ff_t *out)
{
    const __m256i step = _mm256_slli_epi32(_mm256_setr_epi32(0, 4, 2, 6, 1, 5, 3, 7), (int)lg - 3);
    const __m256i vm = _mm256_set1_epi32((int)m);
    const __m512i p = _mm512_set1_epi64((long long)FF_P);
    const __m512i d2a = _mm512_setr_epi64(0, 0, 1, 1, 2, 2, 3, 3), d2b = _mm512_setr_epi64(4, 4, 5, 5, 6, 6, 7, 7);
    size_t g = 0;
    for (; g + 8 <= n; g += 8) {
        __m256i idx = _mm256_add_epi32(_mm256_set1_epi32((int)rev_bits(g, lg)), step);
        __m256i in = _mm256_cmpgt_epi32(vm, idx); /* idx < m (both below 2^31) */
        __m256i v32 = _mm256_mask_i32gather_epi32(_mm256_setzero_si256(), (const int *)msg, idx, in, 4);
        __m512i v = _mm512_cvtepi32_epi64(v32);
        v = _mm512_mask_add_epi64(v, _mm512_cmplt_epi64_mask(v, _mm512_setzero_si512()), v, p);
        if (R == 2) {
            _mm512_storeu_si512((void *)(out + 2 * g), _mm512_permutexvar_epi64(d2a, v));
            _mm512_storeu_si512((void *)(out + 2 * g + 8), _mm512_permutexvar_epi64(d2b, v));
        } else {
            for (int q = 0; q < 4; q++) {
                __m512i ix = _mm512_setr_epi64(2 * q, 2 * q, 2 * q, 2 * q, 2 * q + 1, 2 * q + 1, 2 * q + 1, 2 * q + 1);
                _mm512_storeu_si512((void *)(out + 4 * g + 8 * (size_t)q), _mm512_permutexvar_epi64(ix, v));
            }
        }
    }
    return g;
}

/* rs_encode_one for integer coefficients msg[0..m) (the rest zero) on the subgroup: the
 * conversion, the copy, the bit reversal and the spread are one pass. */
static void rs_encode_one_i32(const ntt_plan *plan_N, unsigned rate_bits, const int32_t *msg, size_t m, ff_t *out)
{
    size_t N = plan_N->n, n = N >> rate_bits, R = (size_t)1 << rate_bits;
    unsigned lg = plan_N->log_n - rate_bits;
    /* written in order, read in bit-reversed order (the int32 row is 1/2 the size of the
     * codeword row it feeds, and reads scattered over it cost less than scattered writes) */
    size_t g = 0;
    if ((R == 2 || R == 4) && lg >= 3 && n < ((size_t)1 << 31) && ff_vec_tier_get() == FF_VEC_AVX512)
        g = spread_avx512(msg, m, n, lg, R, out);
    for (; g < n; g++) {
        size_t i = (size_t)rev_bits(g, lg);
        ff_t v = i < m ? i32_ff(msg[i]) : 0;
        for (size_t t = 0; t < R; t++)
            out[g * R + t] = v;
    }
    if (N > 1)
        dit_rec(ff_vec_tier_get(), out, N, plan_N->tw, R);
}

/* ---- systematic encoding ---------------------------------------------------------------------
 * twist[(b-1) n + i] = w_N^(b rev(i)) / n for b = 1 .. 2^rate_bits - 1, i < n: multiplying the
 * DIF output (n times the coefficients of f, bit-reversed) by it gives the bit-reversed
 * coefficients of f(w_N^b X), whose DIT is f on the coset w_N^b <w_n> in natural order.
 * Rate 2/3 (rate_bits = NTT_SYS_RATE_2_3): twist[m] = w_2n^rev_(n/2)(m) / n for m < n/2: f on
 * w_2n <w_n^2> is g(y) = sum_(k < n/2) w_2n^k (a_k + w_4 a_(k + n/2)) y^k, and a_k, a_(k + n/2)
 * are the DIF outputs 2m and 2m + 1 for k = rev_(n/2)(m), so g's bit-reversed coefficients are
 * twist[m] (out[2m] + w_4 out[2m + 1]), and a DIT of size n/2 evaluates it.
 * Rate 4/5 (NTT_SYS_RATE_4_5) likewise with S = 4 parts: f on w_2n <w_n^4> (n/4 points) has
 * coefficients w_2n^k sum_t w_8^t a_(k + t n/4), and a_(k + t n/4) is DIF output 4m + u with
 * t = rev_2(u) (the top two index bits come out reversed at the bottom), so its bit-reversed
 * coefficients are twist[m] sum_u w_8^rev_2(u) out[4m + u], twist[m] = w_2n^rev_(n/4)(m) / n. */

/* log2 of S for the short-parity rates (1: rate 2/3, 2: rate 4/5), 0 for rate 1/2^rate_bits. */
static unsigned sys_short(unsigned rate_bits)
{
    return rate_bits == NTT_SYS_RATE_2_3 ? 1 : rate_bits == NTT_SYS_RATE_4_5 ? 2 : 0;
}

size_t ntt_sys_parity_len(unsigned log_n, unsigned rate_bits)
{
    size_t n = (size_t)1 << log_n;
    unsigned sh = sys_short(rate_bits);
    return sh ? n >> sh : (((size_t)1 << rate_bits) - 1) * n;
}

/* Rate 4/5 on AVX-512: the DIF's last three stages (h = 4, 2, 1) and the fold are one linear
 * map per block of eight, since their twiddles depend only on the position in the block. With
 * x_0..x_7 a block b after the stage h = 8, u_j = x_j + x_(j+4) and d_j = x_j - x_(j+4):
 *   out[2b]     = twist[2b]     sum_j c_j u_j,
 *   out[2b + 1] = twist[2b + 1] sum_j itw[4 + j] c_j d_j,
 * where c_j = sum_u w_8^rev_2(u) (the 4-point DIF of the unit vector e_j)[u]. The tables
 * K[j][m] (j < 4, m < n/4) hold those coefficients times the twist, the odd m negated because
 * the kernel forms x_(j+4) - x_j. Exact field arithmetic: the same outputs as the stages and
 * fold45 (tests/zkml/test_ntt.c compares multi-row encodes, which use it, with single rows,
 * which do not). The stages and the fold cost ~286 vector operations per 32 inputs, the
 * kernel ~170. */
#define FOLD8_MIN_N 32
#define FOLD8_MIN_ROWS 4 /* tests/zkml/test_ntt.c compares 7-row batches with single rows */

static void fold8_tables(const ntt_plan *plan_n, const ff_t *twist, ff_t *K)
{
    const ff_t *itw = plan_n->itw;
    ff_t w8 = ff_root_of_unity(3), w[4] = {1, ff_mul(w8, w8), w8, ff_mul(ff_mul(w8, w8), w8)};
    ff_t c[4];
    for (unsigned j = 0; j < 4; j++) {
        ff_t z[4] = {0, 0, 0, 0};
        z[j] = 1;
        /* the 4-point DIF: h = 2, then h = 1 (itw[1] = 1) */
        ff_t y0 = ff_add(z[0], z[2]), y2 = ff_mul(ff_sub(z[0], z[2]), itw[2]);
        ff_t y1 = ff_add(z[1], z[3]), y3 = ff_mul(ff_sub(z[1], z[3]), itw[3]);
        ff_t a[4] = {ff_add(y0, y1), ff_mul(ff_sub(y0, y1), itw[1]), ff_add(y2, y3), ff_mul(ff_sub(y2, y3), itw[1])};
        c[j] = 0;
        for (unsigned u = 0; u < 4; u++)
            c[j] = ff_add(c[j], ff_mul(w[u], a[u]));
    }
    size_t q = plan_n->n / 4;
    for (unsigned j = 0; j < 4; j++)
        for (size_t m = 0; m < q; m++)
            K[j * q + m] = m % 2 ? ff_neg(ff_mul(twist[m], ff_mul(itw[4 + j], c[j]))) : ff_mul(twist[m], c[j]);
}

/* out[m] for m < q (a multiple of 8) from the blocks of a (after the DIF stage h = 8) */
__attribute__((target("avx512f,avx512dq"))) static void fold8_avx512(const ff_t *a, const ff_t *K, size_t q,
                                                                       ff_t *out)
{
    /* T_j, lane l = 2b' + e: entry 4e + j of block b' of the four (Z_b' = [u_0..u_3, -d_0..-d_3]) */
    __m512i idx[4];
    for (int j = 0; j < 4; j++)
        idx[j] = _mm512_setr_epi64(j, 4 + j, 8 + j, 12 + j, j, 4 + j, 8 + j, 12 + j);
    for (size_t m = 0; m < q; m += 8) {
        __m512i Z[4];
        for (int b = 0; b < 4; b++) {
            __m512i x = _mm512_loadu_si512(a + 4 * m + 8 * b);
            __m512i sw = _mm512_shuffle_i64x2(x, x, 0x4E); /* the block's halves swapped */
            Z[b] = _mm512_mask_blend_epi64(0xF0, ff8_add(x, sw), ff8_sub(x, sw));
        }
        __m512i acc = _mm512_setzero_si512();
        for (int j = 0; j < 4; j++) {
            __m512i lo = _mm512_permutex2var_epi64(Z[0], idx[j], Z[1]);
            __m512i hi = _mm512_permutex2var_epi64(Z[2], idx[j], Z[3]);
            __m512i t = _mm512_mask_blend_epi64(0xF0, lo, hi);
            __m512i v = ff8_mul(t, _mm512_loadu_si512(K + j * q + m));
            acc = j ? ff8_add(acc, v) : v;
        }
        _mm512_storeu_si512(out + m, acc);
    }
}

/* The twist table(s); with fold8 (rate 4/5, n >= FOLD8_MIN_N, AVX-512) also fold8_avx512's
 * coefficient tables after the twist, *fold8 pointing at them (NULL otherwise). Building those
 * costs ~2n products, so single-row encodes (the verifier's) go without. */
static em_status sys_twist(const ntt_plan *plan_n, unsigned rate_bits, int fold8, ff_t **out, const ff_t **fold8_out,
                           em_err *err)
{
    size_t n = plan_n->n, R = (size_t)1 << rate_bits;
    fold8 = fold8 && rate_bits == NTT_SYS_RATE_4_5 && n >= FOLD8_MIN_N && ff_vec_tier_get() == FF_VEC_AVX512;
    size_t len = ntt_sys_parity_len(plan_n->log_n, rate_bits) + (fold8 ? n : 0);
    *fold8_out = NULL;
    ff_t *t = aligned_alloc(64, (len * sizeof *t + 63) & ~(size_t)63); /* a multiple of the alignment */
    if (!t)
        return em_errf(err, EM_ERR_NOMEM, "ntt_rs: twist table of %zu", ntt_sys_parity_len(plan_n->log_n, rate_bits));
    unsigned sh = sys_short(rate_bits);
    if (sh) {
        ff_t eta = ff_root_of_unity(plan_n->log_n + 1), x = plan_n->n_inv;
        for (size_t k = 0; k < n >> sh; k++) {
            t[k] = x;
            x = ff_mul(x, eta);
        }
        ntt_bit_reverse(t, plan_n->log_n - sh);
        if (fold8) {
            fold8_tables(plan_n, t, t + n / 4);
            *fold8_out = t + n / 4;
        }
        *out = t;
        return EM_OK;
    }
    ff_t eta = ff_root_of_unity(plan_n->log_n + rate_bits), eb = 1;
    for (size_t b = 1; b < R; b++) {
        eb = ff_mul(eb, eta);
        ff_t *tb = t + (b - 1) * n, x = plan_n->n_inv;
        for (size_t i = 0; i < n; i++) {
            tb[i] = x;
            x = ff_mul(x, eb);
        }
        ntt_bit_reverse(tb, plan_n->log_n);
    }
    *out = t;
    return EM_OK;
}

/* out[m] = (a[2m] + w4 a[2m+1]) t[m], m < h: the rate-2/3 fold and twist, 8 outputs per step. */
__attribute__((target("avx512f,avx512dq"))) static size_t fold23_avx512(const ff_t *a, ff_t w4, const ff_t *t,
                                                                         size_t h, ff_t *out)
{
    const __m512i ev = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), od = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
    const __m512i w = _mm512_set1_epi64((long long)w4);
    size_t m = 0;
    for (; m + 8 <= h; m += 8) {
        __m512i x = _mm512_loadu_si512(a + 2 * m), y = _mm512_loadu_si512(a + 2 * m + 8);
        __m512i e = _mm512_permutex2var_epi64(x, ev, y), o = _mm512_permutex2var_epi64(x, od, y);
        __m512i v = ff8_add(e, ff8_mul(o, w));
        _mm512_storeu_si512(out + m, ff8_mul(v, _mm512_loadu_si512(t + m)));
    }
    return m;
}

/* out[m] = (a[4m] + w[1] a[4m+1] + w[2] a[4m+2] + w[3] a[4m+3]) t[m], m < q: the rate-4/5 fold
 * and twist, 8 outputs per step (each part gathered from four vectors by two rounds of
 * permutes). */
__attribute__((target("avx512f,avx512dq"))) static size_t fold45_avx512(const ff_t *a, const ff_t w[4], const ff_t *t,
                                                                         size_t q, ff_t *out)
{
    const __m512i ev = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), od = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
    const __m512i w1 = _mm512_set1_epi64((long long)w[1]), w2 = _mm512_set1_epi64((long long)w[2]);
    const __m512i w3 = _mm512_set1_epi64((long long)w[3]);
    size_t m = 0;
    for (; m + 8 <= q; m += 8) {
        const ff_t *p = a + 4 * m;
        __m512i x0 = _mm512_loadu_si512(p), x1 = _mm512_loadu_si512(p + 8);
        __m512i x2 = _mm512_loadu_si512(p + 16), x3 = _mm512_loadu_si512(p + 24);
        /* e: parts 0 and 2 of groups 0..3 (4..7), o: parts 1 and 3 */
        __m512i e0 = _mm512_permutex2var_epi64(x0, ev, x1), o0 = _mm512_permutex2var_epi64(x0, od, x1);
        __m512i e1 = _mm512_permutex2var_epi64(x2, ev, x3), o1 = _mm512_permutex2var_epi64(x2, od, x3);
        __m512i u0 = _mm512_permutex2var_epi64(e0, ev, e1), u2 = _mm512_permutex2var_epi64(e0, od, e1);
        __m512i u1 = _mm512_permutex2var_epi64(o0, ev, o1), u3 = _mm512_permutex2var_epi64(o0, od, o1);
        __m512i v = ff8_add(ff8_add(u0, ff8_mul(u1, w1)), ff8_add(ff8_mul(u2, w2), ff8_mul(u3, w3)));
        _mm512_storeu_si512(out + m, ff8_mul(v, _mm512_loadu_si512(t + m)));
    }
    return m;
}

/* m int32 values to field elements, the rest of n zero; 8 at a time where AVX-512 runs. */
__attribute__((target("avx512f,avx512dq"))) static size_t i32_to_ff_avx512(const int32_t *v, size_t m, ff_t *out)
{
    const __m512i p = _mm512_set1_epi64((long long)FF_P), z = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 8 <= m; i += 8) {
        __m512i x = _mm512_cvtepi32_epi64(_mm256_loadu_si256((const __m256i *)(v + i)));
        _mm512_storeu_si512(out + i, _mm512_mask_add_epi64(x, _mm512_cmplt_epi64_mask(x, z), x, p));
    }
    return i;
}

/* a (n message values, clobbered) -> the (2^rate_bits - 1) n parity values. */
static void sys_encode_one(const ntt_plan *plan_n, unsigned rate_bits, const ff_t *twist, const ff_t *fold8, ff_t *a,
                           ff_t *parity)
{
    ff_vec_tier tier = ff_vec_tier_get();
    size_t n = plan_n->n, R = (size_t)1 << rate_bits;
    if (fold8 && tier == FF_VEC_AVX512) { /* sys_twist built the tables (rate 4/5, n >= FOLD8_MIN_N) */
        dif_rec(tier, a, n, plan_n->itw, 1);
        fold8_avx512(a, fold8, n / 4, parity);
        dit_rec(tier, parity, n / 4, plan_n->tw, 1);
        return;
    }
    if (n > 1)
        dif_rec(tier, a, n, plan_n->itw, 0);
    if (rate_bits == NTT_SYS_RATE_2_3) {
        ff_t w4 = ff_root_of_unity(2);
        size_t m = tier == FF_VEC_AVX512 ? fold23_avx512(a, w4, twist, n / 2, parity) : 0;
        for (; m < n / 2; m++)
            parity[m] = ff_mul(ff_add(a[2 * m], ff_mul(w4, a[2 * m + 1])), twist[m]);
        if (n > 2)
            dit_rec(tier, parity, n / 2, plan_n->tw, 1); /* the size-n plan's table holds the smaller one's */
        return;
    }
    if (rate_bits == NTT_SYS_RATE_4_5) {
        ff_t w8 = ff_root_of_unity(3), w[4] = {1, ff_mul(w8, w8), w8, ff_mul(ff_mul(w8, w8), w8)}; /* w_8^rev_2(u) */
        size_t q = n / 4, m = tier == FF_VEC_AVX512 ? fold45_avx512(a, w, twist, q, parity) : 0;
        for (; m < q; m++) {
            ff_t v = a[4 * m];
            for (unsigned u = 1; u < 4; u++)
                v = ff_add(v, ff_mul(w[u], a[4 * m + u]));
            parity[m] = ff_mul(v, twist[m]);
        }
        if (n > 4)
            dit_rec(tier, parity, q, plan_n->tw, 1);
        return;
    }
    for (size_t b = 1; b < R; b++) {
        ff_t *o = parity + (b - 1) * n;
        ff_vec_mul(o, a, twist + (b - 1) * n, n);
        if (n > 1)
            dit_rec(tier, o, n, plan_n->tw, 1);
    }
}

typedef struct rs_job {
    const ntt_plan *plan_N, *plan_n;
    unsigned rate_bits;
    ff_t shift;
    ntt_rs_input kind;
    const ff_t *msg;
    ff_t *out;
    size_t row0, row1;
    int from_ints;       /* instead of msg: integer coefficients, ints_len of them */
    const int32_t *ints;
    size_t ints_len;
    /* systematic (plan_N is then the message-size plan): integer evaluations -> parity rows of
     * (2^rate_bits - 1) n, with the twist tables and one n-element scratch per job */
    int sys;
    const ff_t *twist, *fold8;
    ff_t *scratch;
} rs_job;

static void *rs_worker(void *arg)
{
    const rs_job *j = arg;
    size_t N = j->plan_N->n, n = N >> j->rate_bits;
    if (j->sys) {
        n = N;
        size_t P = ntt_sys_parity_len(j->plan_N->log_n, j->rate_bits);
        for (size_t r = j->row0; r < j->row1; r++) {
            size_t b = r * n, m = j->ints_len > b ? j->ints_len - b : 0;
            m = m < n ? m : n;
            size_t i = ff_vec_tier_get() == FF_VEC_AVX512 ? i32_to_ff_avx512(j->ints + b, m, j->scratch) : 0;
            for (; i < m; i++)
                j->scratch[i] = i32_ff(j->ints[b + i]);
            memset(j->scratch + m, 0, (n - m) * sizeof(ff_t));
            sys_encode_one(j->plan_N, j->rate_bits, j->twist, j->fold8, j->scratch, j->out + r * P);
        }
        return NULL;
    }
    for (size_t r = j->row0; r < j->row1; r++) {
        if (j->from_ints) {
            size_t b = r * n, m = j->ints_len > b ? j->ints_len - b : 0;
            rs_encode_one_i32(j->plan_N, j->rate_bits, m ? j->ints + b : NULL, m < n ? m : n, j->out + r * N);
        } else {
            rs_encode_one(j->plan_N, j->plan_n, j->rate_bits, j->shift, j->kind, j->msg + r * n, j->out + r * N);
        }
    }
    return NULL;
}

#define NTT_MAX_THREADS 64
#define NTT_MIN_PAR_WORK ((size_t)1 << 16) /* codeword elements below which threads do not pay */

/* Threads for n_rows rows of `row` codeword elements (0 = one per online CPU). */
static unsigned rows_threads(size_t n_rows, size_t row, unsigned n_threads)
{
    if (n_threads == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = c > 0 ? (unsigned)c : 1;
    }
    if (n_threads > NTT_MAX_THREADS)
        n_threads = NTT_MAX_THREADS;
    if (n_threads > n_rows)
        n_threads = (unsigned)(n_rows ? n_rows : 1);
    size_t total;
    if (!em_mul_ok(n_rows, row, &total) || total < NTT_MIN_PAR_WORK)
        n_threads = 1;
    return n_threads;
}

static em_status encode_rows(rs_job proto, size_t n_rows, unsigned n_threads, em_err *err)
{
    size_t total;
    size_t row = proto.sys ? proto.plan_N->n + ntt_sys_parity_len(proto.plan_N->log_n, proto.rate_bits)
                           : proto.plan_N->n;
    if (!em_mul_ok(n_rows, row, &total))
        return em_errf(err, EM_ERR_LIMIT, "ntt_rs: %zu rows of 2^%u overflow", n_rows, proto.plan_N->log_n);
    n_threads = rows_threads(n_rows, row, n_threads);

    rs_job jobs[NTT_MAX_THREADS];
    pthread_t tid[NTT_MAX_THREADS];
    unsigned started = 0;
    for (unsigned t = 0; t < n_threads; t++) {
        jobs[t] = proto;
        jobs[t].row0 = n_rows * t / n_threads;
        jobs[t].row1 = n_rows * (t + 1) / n_threads;
        if (proto.sys)
            jobs[t].scratch = proto.scratch + t * proto.plan_N->n;
    }
    /* Thread 0's share runs on the caller; a failed pthread_create falls back to the caller too. */
    for (unsigned t = 1; t < n_threads; t++) {
        if (pthread_create(&tid[t], NULL, rs_worker, &jobs[t]) != 0)
            break;
        started = t;
    }
    rs_worker(&jobs[0]);
    for (unsigned t = started + 1; t < n_threads; t++)
        rs_worker(&jobs[t]);
    for (unsigned t = 1; t <= started; t++)
        pthread_join(tid[t], NULL);
    return EM_OK;
}

em_status ntt_rs_encode_rows(const ntt_plan *plan_N, const ntt_plan *plan_n, unsigned rate_bits,
                             ff_t shift, ntt_rs_input kind, const ff_t *msg, size_t n_rows,
                             ff_t *out, unsigned n_threads, em_err *err)
{
    em_status st = rs_check(plan_N, plan_n, rate_bits, shift, kind, err);
    if (st != EM_OK)
        return st;
    rs_job proto = {.plan_N = plan_N, .plan_n = plan_n, .rate_bits = rate_bits, .shift = shift, .kind = kind,
                    .msg = msg, .out = out};
    return encode_rows(proto, n_rows, n_threads, err);
}

em_status ntt_rs_encode_rows_i32(const ntt_plan *plan_N, unsigned rate_bits, const int32_t *msg, size_t len,
                                 size_t n_rows, ff_t *out, unsigned n_threads, em_err *err)
{
    em_status st = rs_check(plan_N, NULL, rate_bits, 1, NTT_RS_COEFFS, err);
    if (st != EM_OK)
        return st;
    if (!msg && len)
        return em_errf(err, EM_ERR_ARG, "ntt_rs: %zu integer coefficients without a buffer", len);
    rs_job proto = {.plan_N = plan_N, .rate_bits = rate_bits, .shift = 1, .kind = NTT_RS_COEFFS, .out = out,
                    .from_ints = 1, .ints = msg, .ints_len = len};
    return encode_rows(proto, n_rows, n_threads, err);
}

static em_status sys_check(const ntt_plan *plan_n, unsigned rate_bits, em_err *err)
{
    unsigned sh = sys_short(rate_bits);
    if (!plan_n || (rate_bits > 4 && !sh) || plan_n->log_n + (sh ? 1 : rate_bits) > NTT_MAX_LOG_N ||
        plan_n->log_n < sh)
        return em_errf(err, EM_ERR_ARG, "ntt_rs: systematic encoding needs a plan and rate bits 1..4 "
                                        "(or rate 2/3 from n >= 2, rate 4/5 from n >= 4)");
    return EM_OK;
}

em_status ntt_rs_encode_sys(const ntt_plan *plan_n, unsigned rate_bits, const ff_t *msg, ff_t *parity, em_err *err)
{
    ff_t *twist = NULL, *a = NULL;
    const ff_t *fold8 = NULL;
    em_status st = sys_check(plan_n, rate_bits, err);
    if (st != EM_OK || (st = sys_twist(plan_n, rate_bits, 0, &twist, &fold8, err)) != EM_OK)
        return st;
    a = malloc(plan_n->n * sizeof *a);
    if (!a) {
        st = em_errf(err, EM_ERR_NOMEM, "ntt_rs: scratch of %zu", plan_n->n);
        goto out;
    }
    memcpy(a, msg, plan_n->n * sizeof *a);
    sys_encode_one(plan_n, rate_bits, twist, NULL, a, parity);
out:
    free(a);
    free(twist);
    return st;
}

em_status ntt_rs_encode_rows_sys_i32(const ntt_plan *plan_n, unsigned rate_bits, const int32_t *msg, size_t len,
                                     size_t n_rows, ff_t *parity, unsigned n_threads, em_err *err)
{
    ff_t *twist = NULL, *scratch = NULL;
    em_status st = sys_check(plan_n, rate_bits, err);
    if (st != EM_OK)
        return st;
    if (!msg && len)
        return em_errf(err, EM_ERR_ARG, "ntt_rs: %zu integer values without a buffer", len);
    unsigned T = rows_threads(n_rows, plan_n->n + ntt_sys_parity_len(plan_n->log_n, rate_bits), n_threads);
    const ff_t *fold8 = NULL; /* its tables pay for themselves from a few rows */
    if ((st = sys_twist(plan_n, rate_bits, n_rows >= FOLD8_MIN_ROWS, &twist, &fold8, err)) != EM_OK)
        return st;
    scratch = malloc(T * plan_n->n * sizeof *scratch);
    if (!scratch) {
        st = em_errf(err, EM_ERR_NOMEM, "ntt_rs: scratch of %u x %zu", T, plan_n->n);
        goto out;
    }
    rs_job proto = {.plan_N = plan_n, .rate_bits = rate_bits, .shift = 1, .out = parity, .from_ints = 1,
                    .ints = msg, .ints_len = len, .sys = 1, .twist = twist, .fold8 = fold8, .scratch = scratch};
    st = encode_rows(proto, n_rows, T, err);
out:
    free(scratch);
    free(twist);
    return st;
}
