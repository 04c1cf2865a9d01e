/* Encoding and randomness helpers for the network layer. */
#include "rpc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *rpc_base64_encode(const uint8_t *in, size_t n)
{
    if (n > (SIZE_MAX / 4) * 3 - 3)
        return NULL;
    size_t olen = (n + 2) / 3 * 4;
    char *o = malloc(olen + 1);
    if (!o)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        o[j++] = B64[(v >> 18) & 63];
        o[j++] = B64[(v >> 12) & 63];
        o[j++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        o[j++] = i + 2 < n ? B64[v & 63] : '=';
    }
    o[j] = 0;
    return o;
}

static int b64_val(char c)
{
    const char *p = c ? strchr(B64, c) : NULL;
    return p ? (int)(p - B64) : -1;
}

em_status rpc_base64_decode(const char *in, uint8_t **out, size_t *len, em_err *err)
{
    size_t n = strlen(in);
    if (n % 4)
        return em_errf(err, EM_ERR_PARSE, "base64: length %zu is not a multiple of 4", n);
    uint8_t *o = malloc(n / 4 * 3 + 1);
    if (!o)
        return em_errf(err, EM_ERR_NOMEM, "out of memory");
    size_t j = 0;
    for (size_t i = 0; i < n; i += 4) {
        int last = i + 4 == n;
        int v[4];
        for (int k = 0; k < 4; k++) {
            if (in[i + k] == '=' && last && k >= 2 && (k == 3 || in[i + 3] == '=')) {
                v[k] = -2;
                continue;
            }
            v[k] = b64_val(in[i + k]);
            if (v[k] < 0) {
                free(o);
                return em_errf(err, EM_ERR_PARSE, "base64: bad character at offset %zu", i + (size_t)k);
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)(v[2] < 0 ? 0 : v[2]) << 6 |
                     (uint32_t)(v[3] < 0 ? 0 : v[3]);
        o[j++] = (uint8_t)(w >> 16);
        if (v[2] >= 0)
            o[j++] = (uint8_t)(w >> 8);
        if (v[3] >= 0)
            o[j++] = (uint8_t)w;
    }
    *out = o;
    *len = j;
    return EM_OK;
}

em_status rpc_random(void *buf, size_t n, em_err *err)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return em_errf(err, EM_ERR_IO, "getrandom: %s", strerror(errno));
        }
        p += r;
        n -= (size_t)r;
    }
    return EM_OK;
}

em_status rpc_split_hostport(const char *s, char *host, size_t host_cap, uint16_t *port)
{
    const char *colon;
    const char *hs = s, *he;
    if (!s || !*s)
        return EM_ERR_ARG;
    if (*s == '[') {
        he = strchr(s, ']');
        if (!he || he[1] != ':')
            return EM_ERR_ARG;
        hs = s + 1;
        colon = he + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return EM_ERR_ARG;
        he = colon;
    }
    size_t hl = (size_t)(he - hs);
    if (!hl || hl >= host_cap)
        return EM_ERR_ARG;
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || p < 1 || p > 65535)
        return EM_ERR_ARG;
    memcpy(host, hs, hl);
    host[hl] = 0;
    *port = (uint16_t)p;
    return EM_OK;
}
