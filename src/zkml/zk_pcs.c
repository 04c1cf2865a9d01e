/* DEVELOPMENT ONLY: transparent "commitment" that opens by sending the whole polynomial.
 * Replaced by the pcs.h adapter before integration. */
#include <stdlib.h>
#include <string.h>

#include "zk_internal.h"

struct zk_pcs {
    unsigned log;
};

static void hash_poly(const ff_t *poly, unsigned log, uint8_t out[32])
{
    em_sha256(poly, ((size_t)1 << log) * sizeof *poly, out);
}

em_status zk__pcs_commit(const ff_t *poly, unsigned log, const uint8_t seed[32], int threads, zk_pcs **out,
                         uint8_t *commit, size_t *commit_len, em_err *err)
{
    (void)seed;
    (void)threads;
    zk_pcs *p = calloc(1, sizeof *p);
    if (!p)
        return em_errf(err, EM_ERR_NOMEM, "oom");
    p->log = log;
    commit[0] = (uint8_t)log;
    hash_poly(poly, log, commit + 1);
    *commit_len = 33;
    *out = p;
    return EM_OK;
}

void zk__pcs_free(zk_pcs *p) { free(p); }

em_status zk__pcs_open(const zk_pcs *p, const ff_t *poly, tr_t *tr, const zk_pack *pack, const zk_claims *c,
                       em_buf *out, em_err *err)
{
    (void)tr;
    (void)pack;
    (void)c;
    size_t n = (size_t)1 << p->log;
    for (size_t i = 0; i < n; i++)
        if (em_buf_append_u64le(out, poly[i]) != EM_OK)
            return em_errf(err, EM_ERR_LIMIT, "too big");
    return EM_OK;
}

em_status zk__pcs_check_commitment(const uint8_t *commit, size_t len, unsigned log, em_err *err)
{
    if (len != 33 || commit[0] != log)
        return em_errf(err, EM_ERR_FORMAT, "bad commitment");
    return EM_OK;
}

em_status zk__vk_commit_check(const zk_vk *vk, em_err *err)
{
    return zk__pcs_check_commitment(vk->model_commit, vk->model_commit_len, vk->model_log, err);
}

em_status zk__pcs_verify(const uint8_t *commit, size_t commit_len, tr_t *tr, const zk_pack *pack,
                         const zk_claims *c, em_reader *r, em_err *err)
{
    (void)tr;
    if (zk__pcs_check_commitment(commit, commit_len, pack->total_log, err) != EM_OK)
        return EM_ERR_FORMAT;
    size_t n = (size_t)1 << pack->total_log;
    ff_t *poly = malloc(n * sizeof *poly);
    ff2_t *eq = malloc(n * sizeof *eq);
    em_status st = EM_OK;
    for (size_t i = 0; i < n; i++)
        if (em_reader_u64le(r, &poly[i]) != EM_OK || !ff_is_canonical(poly[i])) {
            st = em_errf(err, EM_ERR_PARSE, "short");
            goto out;
        }
    uint8_t h[32];
    hash_poly(poly, pack->total_log, h);
    if (memcmp(h, commit + 1, 32)) {
        st = em_errf(err, EM_ERR_VERIFY, "root mismatch");
        goto out;
    }
    for (size_t k = 0; k < c->n; k++) {
        ff2_t full[ZK_MAX_VARS];
        zk__pack_point(pack, &c->v[k], full);
        zk__eq_table(full, pack->total_log, eq);
        ff2_t s = ff2_zero();
        for (size_t i = 0; i < n; i++)
            s = ff2_add(s, ff2_mul_base(eq[i], poly[i]));
        if (!ff2_eq(s, c->v[k].val)) {
            st = em_errf(err, EM_ERR_VERIFY, "claim %zu (block %u) wrong", k, c->v[k].block);
            goto out;
        }
    }
out:
    free(poly);
    free(eq);
    return st;
}
