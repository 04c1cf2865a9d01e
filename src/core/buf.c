#include "enclaveml/core.h"

#include <stdlib.h>
#include <string.h>

em_status em_buf_reserve(em_buf *b, size_t extra)
{
    size_t need;
    if (!em_add_ok(b->len, extra, &need) || (b->max && need > b->max))
        return EM_ERR_LIMIT;
    if (need <= b->cap)
        return EM_OK;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    if (b->max && ncap > b->max)
        ncap = b->max;
    uint8_t *p = realloc(b->data, ncap);
    if (!p)
        return EM_ERR_NOMEM;
    b->data = p;
    b->cap = ncap;
    return EM_OK;
}

em_status em_buf_append(em_buf *b, const void *p, size_t n)
{
    em_status st = em_buf_reserve(b, n);
    if (st != EM_OK)
        return st;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return EM_OK;
}

em_status em_buf_append_u8(em_buf *b, uint8_t v) { return em_buf_append(b, &v, 1); }

em_status em_buf_append_u32le(em_buf *b, uint32_t v)
{
    uint8_t t[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return em_buf_append(b, t, 4);
}

em_status em_buf_append_u64le(em_buf *b, uint64_t v)
{
    uint8_t t[8];
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    return em_buf_append(b, t, 8);
}

void em_buf_free(em_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void em_reader_init(em_reader *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
}

em_status em_reader_view(em_reader *r, const uint8_t **out, size_t n)
{
    if (n > r->len - r->off)
        return EM_ERR_PARSE;
    *out = r->p + r->off;
    r->off += n;
    return EM_OK;
}

em_status em_reader_bytes(em_reader *r, void *out, size_t n)
{
    const uint8_t *v;
    em_status st = em_reader_view(r, &v, n);
    if (st == EM_OK && n)
        memcpy(out, v, n);
    return st;
}

em_status em_reader_u8(em_reader *r, uint8_t *v) { return em_reader_bytes(r, v, 1); }

em_status em_reader_u32le(em_reader *r, uint32_t *v)
{
    const uint8_t *t;
    em_status st = em_reader_view(r, &t, 4);
    if (st == EM_OK)
        *v = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    return st;
}

em_status em_reader_u64le(em_reader *r, uint64_t *v)
{
    const uint8_t *t;
    em_status st = em_reader_view(r, &t, 8);
    if (st == EM_OK) {
        uint64_t x = 0;
        for (int i = 7; i >= 0; i--)
            x = x << 8 | t[i];
        *v = x;
    }
    return st;
}
