/* Non-inline Goldilocks helpers: roots of unity and canonical encodings. */
#include "enclaveml/zkml/ff.h"

#include <string.h>

ff_t ff_root_of_unity(unsigned log_n)
{
    if (log_n > FF_TWO_ADICITY)
        return 0;
    /* (p-1)/2^log_n = (2^32 - 1) * 2^(32-log_n) */
    return ff_pow(FF_GENERATOR, ((FF_P - 1) >> log_n));
}

void ff_encode(ff_t x, uint8_t out[FF_BYTES])
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(x >> (8 * i));
}

em_status ff_decode(const uint8_t in[FF_BYTES], ff_t *out, em_err *err)
{
    uint64_t v = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(&v, in, sizeof v); /* one load: proofs carry ~10^5 elements */
#else
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | in[i];
#endif
    if (!ff_is_canonical(v))
        return em_errf(err, EM_ERR_RANGE, "field element 0x%016llx is not canonical (must be < p)",
                       (unsigned long long)v);
    *out = v;
    return EM_OK;
}

void ff2_encode(ff2_t x, uint8_t out[FF2_BYTES])
{
    ff_encode(x.a, out);
    ff_encode(x.b, out + 8);
}

em_status ff2_decode(const uint8_t in[FF2_BYTES], ff2_t *out, em_err *err)
{
    ff2_t v;
    em_status st = ff_decode(in, &v.a, err);
    if (st == EM_OK)
        st = ff_decode(in + 8, &v.b, err);
    if (st == EM_OK)
        *out = v;
    return st;
}

em_status ff_read(em_reader *r, ff_t *out, em_err *err)
{
    uint8_t b[FF_BYTES];
    if (em_reader_bytes(r, b, sizeof b) != EM_OK)
        return em_errf(err, EM_ERR_PARSE, "truncated field element at offset %zu", r->off);
    return ff_decode(b, out, err);
}

em_status ff2_read(em_reader *r, ff2_t *out, em_err *err)
{
    uint8_t b[FF2_BYTES];
    if (em_reader_bytes(r, b, sizeof b) != EM_OK)
        return em_errf(err, EM_ERR_PARSE, "truncated extension element at offset %zu", r->off);
    return ff2_decode(b, out, err);
}
