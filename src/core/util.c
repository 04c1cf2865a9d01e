#include "enclaveml/core.h"

#include <assert.h>
#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void em_sha256(const void *data, size_t len, uint8_t out[EM_HASH_LEN])
{
    SHA256(data, len, out);
}

void em_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

em_status em_hex_decode(const char *in, uint8_t *out, size_t n)
{
    if (!in || strlen(in) != 2 * n)
        return EM_ERR_PARSE;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return EM_ERR_PARSE;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return EM_OK;
}

static int in_range_scalar(const int32_t *v, size_t n, int32_t lo, int32_t hi)
{
    const uint32_t span = (uint32_t)hi - (uint32_t)lo;
    uint32_t bad = 0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (size_t j = 0; j < 64; j++)
            bad |= (uint32_t)v[i + j] - (uint32_t)lo > span;
    for (; i < n; i++)
        bad |= (uint32_t)v[i] - (uint32_t)lo > span;
    return !bad;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* The check runs on every input, witness and weight array (millions of values per proof):
 * 32 values per step in AVX2 where the CPU has it. */
__attribute__((target("avx2"))) static int in_range_avx2(const int32_t *v, size_t n, int32_t lo, int32_t hi)
{
    const __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi);
    __m256i bad = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (size_t j = 0; j < 32; j += 8) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(v + i + j));
            bad = _mm256_or_si256(bad, _mm256_or_si256(_mm256_cmpgt_epi32(vlo, x), _mm256_cmpgt_epi32(x, vhi)));
        }
    return _mm256_testz_si256(bad, bad) && in_range_scalar(v + i, n - i, lo, hi);
}
#endif

int em_i32_in_range(const int32_t *v, size_t n, int32_t lo, int32_t hi)
{
    assert(lo <= hi); /* the unsigned span of the scalar path would wrap */
#if defined(__x86_64__) && defined(__GNUC__)
    static int has = -1; /* filled by whichever thread asks first (all write the same value) */
    int h = __atomic_load_n(&has, __ATOMIC_RELAXED);
    if (h < 0) {
        h = __builtin_cpu_supports("avx2") ? 1 : 0;
        __atomic_store_n(&has, h, __ATOMIC_RELAXED);
    }
    if (h)
        return in_range_avx2(v, n, lo, hi);
#endif
    return in_range_scalar(v, n, lo, hi);
}

int em_ct_eq(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= x[i] ^ y[i];
    return d == 0;
}

uint64_t em_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double em_now_ms(void) { return (double)em_now_ns() / 1e6; }

em_status em_file_read(const char *path, size_t max, uint8_t **out, size_t *len, em_err *err)
{
    em_status st = EM_OK;
    uint8_t *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return em_errf(err, EM_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = em_errf(err, EM_ERR_IO, "%s: not a regular file", path);
        goto out;
    }
    if ((uint64_t)sb.st_size > max) {
        st = em_errf(err, EM_ERR_LIMIT, "%s: %lld bytes exceeds the %zu-byte limit", path,
                     (long long)sb.st_size, max);
        goto out;
    }
    size_t n = (size_t)sb.st_size;
    buf = malloc(n + 1);
    if (!buf) {
        st = em_errf(err, EM_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, n);
        goto out;
    }
    if (n && fread(buf, 1, n, f) != n) {
        st = em_errf(err, EM_ERR_IO, "%s: short read", path);
        goto out;
    }
    buf[n] = 0; /* convenient for text parsers; not counted in len */
    *out = buf;
    *len = n;
    buf = NULL;
out:
    free(buf);
    fclose(f);
    return st;
}

em_status em_file_write(const char *path, const void *data, size_t len, em_err *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp)
        return em_errf(err, EM_ERR_ARG, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return em_errf(err, EM_ERR_IO, "%s: %s", tmp, strerror(errno));
    int ok = (len == 0 || fwrite(data, 1, len, f) == len);
    ok &= (fclose(f) == 0);
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return em_errf(err, EM_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return EM_OK;
}
