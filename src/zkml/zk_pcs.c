/* Adapter from packed polynomials + block claims to the multilinear commitment of pcs.h.
 *
 * Each packed polynomial (the model, or one proof's witness) is committed as a single pcs
 * polynomial with a log_cols fixed by public data (the model: pcs_layout_init's default for its
 * size; a witness: zk__pcs_witness_layout's rule). Commitment bytes (in the vk, or in the
 * proof's commitment section): log_cols u8 | Merkle root (32). The verifier accepts only that
 * log_cols, so a prover cannot pick an unusual matrix shape.
 * The model (committed once, opened in every proof) uses rate 1/4 over all its rows. The
 * witness (committed in every proof) is systematic at rate 4/5 (pcs.h: its message columns are
 * the small witness integers at 1-4 bytes each, its parity a quarter of a rate-1/2 coset), which
 * cuts its encoding and hashing for 715 instead of 160 opened columns, has the column count of least
 * estimated opening size (zk__pcs_witness_layout), and commits only the rows of its used prefix
 * (zk__pack_used; the zero tail up to the power of two is zero by definition, and both sides
 * derive its length from the public witness layout).
 *
 * Several claims on one polynomial (witness or model) are first reduced to claims sharing one
 * column point by the column fold (zk_colfold.c: a sumcheck over the log_cols column variables),
 * so pcs_open proves them all with one combination row instead of one per distinct column
 * point. Wire format: [column fold, when >= 2 claims] then the pcs.h opening. */
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/pcs.h"
#include "zk_internal.h"

#define ZK_PCS_COMMIT_LEN (1 + PCS_ROOT_LEN)

struct zk_pcs {
    pcs_prover *pp;
    unsigned threads; /* for the column fold */
    /* the committed values (borrowed, as committed: field elements or integers), which the
     * column fold combines */
    const ff_t *poly;
    const int32_t *ints;
};

/* used = 0: the model layout (rate 1/4, every row, the default column count); else a witness
 * layout of 2^lc columns with only the first used values committed, at rate 1/2 (the caller
 * makes it systematic at rate 4/5). */
static em_status layout_for(unsigned log, uint64_t used, unsigned lc, pcs_layout *l, em_err *err)
{
    unsigned nv = log;
    em_status st;
    if (log > PCS_MAX_VARS)
        return em_errf(err, EM_ERR_LIMIT, "polynomial of 2^%u values exceeds the commitment limit 2^%u", log,
                       PCS_MAX_VARS);
    if (used > ((uint64_t)1 << log))
        return em_errf(err, EM_ERR_INTERNAL, "witness of %llu values for 2^%u", (unsigned long long)used, log);
    if ((st = pcs_layout_init(l, &nv, 1, used ? lc : 0, err)) != EM_OK)
        return st;
    if (!used) /* the model: its proximity is proved once, in the vk (zk__pcs_prove_proximity) */
        return pcs_layout_set_tested(l, err);
    if ((st = pcs_layout_set_len(l, 0, (size_t)used, err)) != EM_OK)
        return st;
    return pcs_layout_set_rate(l, 1, err);
}

/* The smallest symbol type holding [lo, hi] (the pcs_sym values run from the narrowest). */
static uint8_t sym_for(int32_t lo, int32_t hi)
{
    for (uint8_t t = PCS_SYM_U8; t < PCS_SYM_I32; t++) {
        int32_t a, b;
        pcs_sym_range(t, &a, &b);
        if (lo >= a && hi <= b)
            return t;
    }
    return PCS_SYM_I32;
}

/* The witness layout at 2^lc columns: the used prefix, systematic at rate 4/5, each row typed by
 * the ranges of the blocks it holds (zero in the gaps), equal neighbours merged into runs (past
 * PCS_MAX_SYM_RUNS, one run of the widest type). */
static em_status typed_layout(const zk_wlayout *wl, unsigned lc, pcs_layout *l, em_err *err)
{
    const zk_pack *pack = &wl->pack;
    em_status st = layout_for(pack->total_log, zk__pcs_witness_len(pack), lc, l, err);
    if (st != EM_OK)
        return st;
    size_t R = l->n_rows, C = (size_t)1 << l->log_cols;
    int32_t *lo = calloc(R, sizeof *lo), *hi = calloc(R, sizeof *hi);
    if (!lo || !hi) {
        st = em_errf(err, EM_ERR_NOMEM, "witness layout: %zu rows", R);
        goto out;
    }
    for (uint32_t b = 0; b < pack->n; b++) {
        size_t r0 = pack->off[b] / C, r1 = (pack->off[b] + ((uint64_t)1 << pack->log[b]) + C - 1) / C;
        for (size_t r = r0; r < r1 && r < R; r++) {
            lo[r] = wl->lo[b] < lo[r] ? wl->lo[b] : lo[r];
            hi[r] = wl->hi[b] > hi[r] ? wl->hi[b] : hi[r];
        }
    }
    size_t end[PCS_MAX_SYM_RUNS];
    uint8_t sym[PCS_MAX_SYM_RUNS];
    unsigned n = 0;
    for (size_t r = 0; r < R; r++) {
        uint8_t t = sym_for(lo[r], hi[r]);
        if (n && sym[n - 1] == t) {
            end[n - 1] = r + 1;
        } else if (n < PCS_MAX_SYM_RUNS) {
            end[n] = r + 1;
            sym[n++] = t;
        } else {
            n = PCS_MAX_SYM_RUNS + 1;
            break;
        }
    }
    if (n > PCS_MAX_SYM_RUNS) {
        int32_t a = 0, z = 0;
        for (size_t r = 0; r < R; r++) {
            a = lo[r] < a ? lo[r] : a;
            z = hi[r] > z ? hi[r] : z;
        }
        n = 1;
        end[0] = R;
        sym[0] = sym_for(a, z);
    }
    if ((st = pcs_layout_set_systematic(l, end, sym, n, err)) == EM_OK)
        st = pcs_layout_set_rate45(l, err);
out:
    free(lo);
    free(hi);
    return st;
}

/* The opening bytes a typed witness layout costs, estimated in integers (a public rule: both
 * sides pick the same column count): the combination rows w and u (16 C bytes each), the opened
 * columns (715 of the N = 5C/4, or all N when N <= 1430; a message column at its rows' widths,
 * a parity one at 8 bytes per row) and their Merkle siblings (~32 bytes per opened column and
 * tree level below the one where the opened paths meet). */
static uint64_t opening_bytes(const pcs_layout *l)
{
    uint64_t C = (uint64_t)1 << l->log_cols, N = C * 5 / 4, R = l->n_rows, msg = 0;
    for (unsigned k = 0; k < l->n_runs; k++)
        msg += (l->run_end[k] - (k ? l->run_end[k - 1] : 0)) * pcs_sym_bytes(l->run_sym[k]);
    uint64_t q = N <= PCS_QUERIES_RATE45 * 2 ? N : PCS_QUERIES_RATE45, levels = 0;
    while (q < N && (q << levels) < 2 * C) /* the tree levels where the opened paths are sparse */
        levels++;
    return 32 * C + q * (C * msg + (N - C) * 8 * R) / N + 32 * q * levels;
}

/* The witness layout of a proof (both sides derive it from the public layout): typed_layout at
 * the column count whose opening_bytes is least among 2^(f-1), 2^f, 2^(f+1), f = (ceil log2 used
 * + 5) / 2 -- the balance of ~715 opened columns of ~2.5 bytes per row (message columns are mostly
 * one byte per row) against two combination rows of 16 C bytes (784-512-512-10 at batch 1024:
 * 2^13; pcs_layout_init's default, tuned for 8-byte columns, would take 2^14). */
em_status zk__pcs_witness_layout(const zk_wlayout *wl, pcs_layout *l, em_err *err)
{
    unsigned log = wl->pack.total_log, f = 0;
    uint64_t used = zk__pcs_witness_len(&wl->pack), best_bytes = UINT64_MAX;
    pcs_layout cand;
    while (((uint64_t)1 << f) < used)
        f++;
    f = (f + 5) / 2;
    for (unsigned lc = f > 3 ? f - 1 : 2; lc <= f + 1 && lc <= log; lc++) { /* rate 4/5 needs C >= 4 */
        em_status st = typed_layout(wl, lc, &cand, err);
        if (st != EM_OK)
            return st;
        uint64_t b = opening_bytes(&cand);
        if (b < best_bytes) {
            best_bytes = b;
            *l = cand;
        }
    }
    if (best_bytes == UINT64_MAX) /* never for a real witness: its tables alone have 2^3 values */
        return em_errf(err, EM_ERR_INTERNAL, "witness of 2^%u values: too small for a rate-4/5 commitment", log);
    return EM_OK;
}

static em_status commit_layout(const pcs_layout *l, pcs_poly pp, int threads, zk_pcs **out, uint8_t *commit,
                               size_t *commit_len, em_err *err)
{
    em_status st;
    zk_pcs *p = calloc(1, sizeof *p);
    if (!p)
        return em_errf(err, EM_ERR_NOMEM, "commitment: out of memory");
    p->threads = zk__threads(threads);
    p->poly = pp.evals;
    p->ints = pp.ints;
    uint8_t root[PCS_ROOT_LEN];
    if ((st = pcs_commit(l, &pp, threads > 0 ? (unsigned)threads : 0, &p->pp, root, err)) != EM_OK) {
        free(p);
        return st;
    }
    commit[0] = (uint8_t)l->log_cols;
    memcpy(commit + 1, root, PCS_ROOT_LEN);
    *commit_len = ZK_PCS_COMMIT_LEN;
    *out = p;
    return EM_OK;
}

em_status zk__pcs_commit(const ff_t *poly, const int32_t *ints, unsigned log, const uint8_t seed[32], int threads,
                         zk_pcs **out, uint8_t *commit, size_t *commit_len, em_err *err)
{
    /* The commitment is not hiding yet (pcs.h), so the blinding seed has no randomness to
     * derive; it is accepted here so hiding can be added without changing callers. */
    (void)seed;
    pcs_layout l;
    em_status st = layout_for(log, 0, 0, &l, err);
    pcs_poly pp = {.evals = ints ? NULL : poly, .len = (size_t)1 << log, .ints = ints};
    return st != EM_OK ? st : commit_layout(&l, pp, threads, out, commit, commit_len, err);
}

em_status zk__pcs_commit_witness(const int32_t *ipoly, const zk_wlayout *wl, int threads, int forge, zk_pcs **out,
                                 uint8_t *commit, size_t *commit_len, em_err *err)
{
    pcs_layout l;
    em_status st = zk__pcs_witness_layout(wl, &l, err);
    pcs_poly pp = {.ints = ipoly, .len = (size_t)zk__pack_used(&wl->pack), .unchecked = forge};
    return st != EM_OK ? st : commit_layout(&l, pp, threads, out, commit, commit_len, err);
}

/* The model commitment's proximity proof: transcript ZK_PROX_DOMAIN, then pcs_prove_proximity. */
em_status zk__pcs_prove_proximity(const zk_pcs *p, uint8_t **out, size_t *len, em_err *err)
{
    tr_t tr;
    tr_init(&tr, ZK_PROX_DOMAIN);
    em_buf b = {.max = ZK_MAX_PROX_BYTES};
    em_status st = pcs_prove_proximity(p->pp, &tr, &b, err);
    if (st != EM_OK) {
        em_buf_free(&b);
        return st;
    }
    *out = b.data;
    *len = b.len;
    return EM_OK;
}

em_status zk__pcs_verify_proximity(const uint8_t *commit, size_t commit_len, unsigned log, const uint8_t *proof,
                                   size_t len, em_err *err)
{
    pcs_layout l;
    em_status st;
    if ((st = zk__pcs_check_commitment(commit, commit_len, log, NULL, err)) != EM_OK ||
        (st = layout_for(log, 0, 0, &l, err)) != EM_OK)
        return st;
    tr_t tr;
    tr_init(&tr, ZK_PROX_DOMAIN);
    em_reader r;
    em_reader_init(&r, proof, len);
    if ((st = pcs_verify_proximity(&l, commit + 1, &tr, &r, err)) != EM_OK)
        return st;
    if (em_reader_left(&r))
        return em_errf(err, EM_ERR_PARSE, "%zu bytes after the proximity proof", em_reader_left(&r));
    return EM_OK;
}

uint64_t zk__pcs_witness_len(const zk_pack *pack)
{
    uint64_t used = zk__pack_used(pack);
    return used ? used : 1;
}

void zk__pcs_free(zk_pcs *p)
{
    if (!p)
        return;
    pcs_prover_free(p->pp);
    free(p);
}

/* Full points of all claims (n * total_log ff2) and the pcs claim list. */
static em_status make_claims(const zk_pack *pack, const zk_claims *c, ff2_t **pts, pcs_claim **pc, em_err *err)
{
    size_t n = c->n ? c->n : 1;
    *pts = malloc(n * (pack->total_log + 1) * sizeof **pts);
    *pc = malloc(n * sizeof **pc);
    if (!*pts || !*pc)
        return em_errf(err, EM_ERR_NOMEM, "opening: out of memory");
    for (size_t k = 0; k < c->n; k++) {
        if (c->v[k].block >= pack->n || c->v[k].nv != pack->log[c->v[k].block])
            return em_errf(err, EM_ERR_INTERNAL, "claim %zu on block %u with %u variables", k, c->v[k].block,
                           c->v[k].nv);
        ff2_t *pt = *pts + k * (pack->total_log + 1);
        zk__pack_point(pack, &c->v[k], pt);
        (*pc)[k] = (pcs_claim){.poly = 0, .point = pt, .value = c->v[k].val};
    }
    return EM_OK;
}

em_status zk__pcs_open(const zk_pcs *p, tr_t *tr, const zk_pack *pack, const zk_claims *c, int witness, int forge,
                       em_buf *out, em_err *err)
{
    ff2_t *pts = NULL, *fpts = NULL, *rows = NULL;
    pcs_claim *pc = NULL, *fc = NULL;
    em_status st = make_claims(pack, c, &pts, &pc, err);
    if (st == EM_OK && c->n == 0)
        st = em_errf(err, EM_ERR_INTERNAL, "opening without claims");
    if (st != EM_OK)
        goto out;
    size_t len = witness ? (size_t)zk__pack_used(pack) : (size_t)1 << pack->total_log;
    if (c->n == 1) {
        st = pcs_open(p->pp, pc, c->n, tr, out, err);
        goto out;
    }
    const pcs_layout *l = pcs_prover_layout(p->pp);
    fpts = malloc((c->n * pack->total_log + 1) * sizeof *fpts);
    fc = malloc(c->n * sizeof *fc);
    if (!fpts || !fc) {
        st = em_errf(err, EM_ERR_NOMEM, "opening: out of memory");
        goto out;
    }
    if ((st = zk__colfold_prove(l, p->ints ? NULL : p->poly, p->ints, len, pc, c->n, p->threads, forge, tr, out,
                                fpts, fc, &rows, err)) != EM_OK)
        goto out;
    st = pcs_open_rows(p->pp, fc, c->n, rows, c->n << l->log_cols, tr, out, err);
out:
    zk__big_free(rows);
    free(pts);
    free(pc);
    free(fpts);
    free(fc);
    return st;
}

em_status zk__pcs_check_commitment(const uint8_t *commit, size_t len, unsigned log, const zk_wlayout *wl,
                                   em_err *err)
{
    pcs_layout l;
    if (len != ZK_PCS_COMMIT_LEN)
        return em_errf(err, EM_ERR_FORMAT, "commitment of %zu bytes, expected %d", len, ZK_PCS_COMMIT_LEN);
    em_status st = wl ? zk__pcs_witness_layout(wl, &l, err) : layout_for(log, 0, 0, &l, err);
    if (st != EM_OK)
        return st;
    if (commit[0] != l.log_cols)
        return em_errf(err, EM_ERR_FORMAT, "commitment with 2^%u columns, expected 2^%u", commit[0], l.log_cols);
    return EM_OK;
}

em_status zk__vk_commit_check(const zk_vk *vk, em_err *err)
{
    em_status st = zk__pcs_check_commitment(vk->model_commit, vk->model_commit_len, vk->model_log, NULL, err);
    return st == EM_OK ? st : em_err_prefix(err, "verifying key: model ");
}

em_status zk__pcs_verify(const uint8_t *commit, size_t commit_len, tr_t *tr, const zk_pack *pack,
                         const zk_wlayout *wl, const zk_claims *c, em_reader *r, em_err *err)
{
    pcs_layout l;
    em_status st;
    if ((st = zk__pcs_check_commitment(commit, commit_len, pack->total_log, wl, err)) != EM_OK ||
        (st = wl ? zk__pcs_witness_layout(wl, &l, err) : layout_for(pack->total_log, 0, 0, &l, err)) != EM_OK)
        return st;
    if (c->n == 0)
        return em_errf(err, EM_ERR_INTERNAL, "opening without claims");
    ff2_t *pts = NULL, *fpts = NULL;
    pcs_claim *pc = NULL, *fc = NULL;
    if ((st = make_claims(pack, c, &pts, &pc, err)) != EM_OK)
        goto out;
    if (c->n == 1) {
        st = pcs_verify(&l, commit + 1, pc, c->n, tr, r, err);
        goto out;
    }
    fpts = malloc((c->n * pack->total_log + 1) * sizeof *fpts);
    fc = malloc(c->n * sizeof *fc);
    if (!fpts || !fc) {
        st = em_errf(err, EM_ERR_NOMEM, "opening: out of memory");
        goto out;
    }
    if ((st = zk__colfold_verify(&l, pc, c->n, tr, r, fpts, fc, err)) != EM_OK)
        goto out;
    st = pcs_verify(&l, commit + 1, fc, c->n, tr, r, err);
out:
    free(pts);
    free(pc);
    free(fpts);
    free(fc);
    return st;
}
