#include "enclaveml/core.h"

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

/* Clones for wider vectors (picked once at load time): the check runs on every input, witness
 * and weight array, millions of values per proof. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__APPLE__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
int em_i32_in_range(const int32_t *v, size_t n, int32_t lo, int32_t hi)
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
