/* Ligero/Brakedown-style multilinear commitment: RS-encoded rows, Merkle tree over columns
 * (pcs.h; soundness in docs/PROOFS.md "Polynomial commitment"). */
#include "enclaveml/zkml/pcs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "enclaveml/zkml/ff_vec.h"
#include "enclaveml/zkml/merkle.h"
#include "enclaveml/zkml/ml.h"
#include "enclaveml/zkml/ntt.h"
#include "ff_simd.h"
#include "zk_internal.h"

struct pcs_prover {
    pcs_layout layout;
    ff_t *m;   /* total_rows x msg_len messages: the evaluations (+ blinding, hiding mode) */
    ff_t *enc; /* total_rows x N codewords */
    uint8_t *zero; /* per row: 1 when the row is known to be all zero (past a poly's evaluations) */
    mt_tree *tree;
    unsigned threads; /* for the openings' row combinations */
    const int32_t *ints; /* the committed values as integers (pcs_poly.ints, borrowed) or NULL */
    size_t ints_len;
    uint8_t *row_bytes; /* systematic: bytes per message symbol of each row; enc holds the parity */
    uint8_t *msg_cols;  /* systematic: the message columns' bytes as hashed, msg_col_bytes each */
    size_t msg_col_bytes;
    uint8_t root[PCS_ROOT_LEN];
};

/* Geometry: C data columns; hiding rows carry C extra random coefficients (message 2C) and the
 * matrix gains 1 + n_masks random mask rows after the data rows. */
static size_t msg_len(const pcs_layout *l) { return ((size_t)1 << l->log_cols) << (l->hiding ? 1 : 0); }
static unsigned msg_log(const pcs_layout *l) { return l->log_cols + (l->hiding ? 1 : 0); }
static size_t total_rows(const pcs_layout *l) { return l->n_rows + (l->hiding ? 1 + (size_t)l->n_masks : 0); }
/* Codeword length N and the rate parameter of the systematic encoder (ntt.h). Rate 2/3
 * (pcs_layout_set_rate23): C message and C/2 parity symbols; rate 4/5 (pcs_layout_set_rate45):
 * C and C/4; the Merkle tree padded to 2C either way. */
static size_t cw_len(const pcs_layout *l)
{
    return l->rate23 ? msg_len(l) * 3 / 2 : l->rate45 ? msg_len(l) * 5 / 4 : msg_len(l) << l->rate_bits;
}
static unsigned sys_rate(const pcs_layout *l)
{
    return l->rate23 ? NTT_SYS_RATE_2_3 : l->rate45 ? NTT_SYS_RATE_4_5 : l->rate_bits;
}
static unsigned tree_log(const pcs_layout *l) { return msg_log(l) + l->rate_bits; }
static unsigned layout_queries(const pcs_layout *l)
{
    if (l->tested)
        return PCS_QUERIES_TESTED;
    return l->rate23 ? PCS_QUERIES_RATE23 : l->rate45 ? PCS_QUERIES_RATE45 : pcs_queries(l->rate_bits);
}
/* What an opening proves: claims (an evaluation opening, with the proximity row w unless the
 * layout is tested), or the proximity of the commitment alone (pcs_prove_proximity: w and
 * PCS_PROX_QUERIES columns, no claims). */
typedef enum { OPEN_CLAIMS, OPEN_PROXIMITY } open_mode;
static unsigned mode_queries(const pcs_layout *l, open_mode m) { return m == OPEN_PROXIMITY ? PCS_PROX_QUERIES : layout_queries(l); }
static int mode_sends_w(const pcs_layout *l, open_mode m) { return m == OPEN_PROXIMITY || !l->tested; }
/* PCS_PROX_QUERIES and its delta are the rate-1/4 code's: a separate proximity proof exists
 * only for non-hiding rate-1/4 layouts (the tested ones and their untested twins). */
static int prox_layout_ok(const pcs_layout *l) { return l->rate_bits == 2 && !l->hiding && !l->rate23 && !l->rate45; }
/* The start shared by prover and verifier: a proximity proof needs such a layout and absorbs its
 * marker before the statement. */
static em_status mode_begin(const pcs_layout *l, open_mode m, tr_t *tr, em_err *err)
{
    if (m != OPEN_PROXIMITY)
        return EM_OK;
    if (!prox_layout_ok(l))
        return em_errf(err, EM_ERR_ARG, "pcs: a separate proximity proof needs a non-hiding layout at rate 1/4");
    tr_absorb_u64(tr, "pcs/proximity", PCS_PROX_QUERIES);
    return EM_OK;
}

static unsigned ceil_log2(size_t x)
{
    unsigned l = 0;
    while (((size_t)1 << l) < x)
        l++;
    return l;
}

em_status pcs_layout_init(pcs_layout *l, const unsigned *n_vars, unsigned n_polys, unsigned log_cols,
                          em_err *err)
{
    memset(l, 0, sizeof *l);
    if (n_polys < 1 || n_polys > PCS_MAX_POLYS)
        return em_errf(err, EM_ERR_ARG, "pcs: n_polys %u not in 1..%d", n_polys, PCS_MAX_POLYS);
    unsigned min_v = PCS_MAX_VARS;
    size_t total = 0;
    for (unsigned p = 0; p < n_polys; p++) {
        if (n_vars[p] > PCS_MAX_VARS)
            return em_errf(err, EM_ERR_LIMIT, "pcs: poly %u has %u variables (max %d)", p, n_vars[p], PCS_MAX_VARS);
        if (n_vars[p] < min_v)
            min_v = n_vars[p];
        total += (size_t)1 << n_vars[p];
    }
    if (log_cols == 0) {
        /* Balance column openings (PCS_QUERIES * rows * 8 bytes) against the combination rows
         * (~2 * C * 16 bytes): C ~ 37 * rows, i.e. log C ~ (log total + 5) / 2, rounded up. */
        log_cols = (ceil_log2(total) + 6) / 2;
        if (log_cols > min_v)
            log_cols = min_v;
    }
    if (log_cols > min_v)
        return em_errf(err, EM_ERR_ARG, "pcs: log_cols %u exceeds the smallest polynomial (%u variables)", log_cols,
                       min_v);
    if (log_cols + PCS_RATE_BITS > NTT_MAX_LOG_N || log_cols + PCS_RATE_BITS > MT_MAX_LOG_LEAVES)
        return em_errf(err, EM_ERR_LIMIT, "pcs: log_cols %u too large", log_cols);
    size_t rows = 0;
    for (unsigned p = 0; p < n_polys; p++) {
        l->n_vars[p] = (uint8_t)n_vars[p];
        l->row_off[p] = rows;
        l->rows[p] = (size_t)1 << (n_vars[p] - log_cols);
        rows += l->rows[p];
        if (rows > ((size_t)1 << PCS_MAX_LOG_ROWS))
            return em_errf(err, EM_ERR_LIMIT, "pcs: more than 2^%d stacked rows (raise log_cols)", PCS_MAX_LOG_ROWS);
    }
    l->n_polys = n_polys;
    l->log_cols = log_cols;
    l->n_rows = rows;
    l->rate_bits = PCS_RATE_BITS;
    return EM_OK;
}

unsigned pcs_queries(unsigned rate_bits) { return rate_bits == 1 ? PCS_QUERIES_RATE2 : PCS_QUERIES; }

em_status pcs_layout_set_len(pcs_layout *l, unsigned p, size_t len, em_err *err)
{
    if (p >= l->n_polys || l->hiding || l->systematic)
        return em_errf(err, EM_ERR_ARG, "pcs: set_len on poly %u of %u%s", p, l->n_polys,
                       l->hiding ? " (hiding layout)" : l->systematic ? " (after set_systematic)" : "");
    size_t C = (size_t)1 << l->log_cols;
    if (len < 1 || len > ((size_t)1 << l->n_vars[p]))
        return em_errf(err, EM_ERR_ARG, "pcs: poly %u length %zu not in 1..2^%u", p, len, l->n_vars[p]);
    size_t rows = (len + C - 1) / C; /* <= 2^(n_vars - log_cols) as len <= 2^n_vars */
    l->n_rows -= l->rows[p] - rows;
    l->rows[p] = rows;
    for (unsigned i = p + 1; i < l->n_polys; i++)
        l->row_off[i] = l->row_off[i - 1] + l->rows[i - 1];
    return EM_OK;
}

em_status pcs_layout_set_rate(pcs_layout *l, unsigned rate_bits, em_err *err)
{
    if ((rate_bits != 1 && rate_bits != 2) || l->hiding || l->systematic)
        return em_errf(err, EM_ERR_ARG, "pcs: rate bits %u (1 or 2, before hiding and set_systematic)", rate_bits);
    if (l->log_cols + rate_bits > NTT_MAX_LOG_N || l->log_cols + rate_bits > MT_MAX_LOG_LEAVES)
        return em_errf(err, EM_ERR_LIMIT, "pcs: log_cols %u too large", l->log_cols);
    l->rate_bits = rate_bits;
    return EM_OK;
}

static em_status layout_check(const pcs_layout *l, em_err *err)
{
    if (l->n_polys < 1 || l->n_polys > PCS_MAX_POLYS || (l->rate_bits != 1 && l->rate_bits != 2) ||
        l->log_cols + l->rate_bits > NTT_MAX_LOG_N || l->log_cols + l->rate_bits > MT_MAX_LOG_LEAVES ||
        l->n_rows < 1 || l->n_rows > ((size_t)1 << PCS_MAX_LOG_ROWS))
        return em_errf(err, EM_ERR_ARG, "pcs: invalid layout");
    size_t rows = 0;
    for (unsigned p = 0; p < l->n_polys; p++) {
        if (l->n_vars[p] > PCS_MAX_VARS || l->n_vars[p] < l->log_cols || l->row_off[p] != rows ||
            l->rows[p] < 1 || l->rows[p] > ((size_t)1 << (l->n_vars[p] - l->log_cols)) ||
            (l->hiding && l->rows[p] != ((size_t)1 << (l->n_vars[p] - l->log_cols))))
            return em_errf(err, EM_ERR_ARG, "pcs: invalid layout entry %u", p);
        rows += l->rows[p];
    }
    if (rows != l->n_rows)
        return em_errf(err, EM_ERR_ARG, "pcs: layout row count %zu != %zu", l->n_rows, rows);
    if (l->hiding > 1 || (l->hiding && (l->log_cols < PCS_HIDING_MIN_LOG_COLS ||
                                        ((size_t)1 << l->log_cols) < pcs_queries(l->rate_bits) || l->n_masks < 1 ||
                                        l->n_masks > PCS_HIDING_MAX_GROUPS ||
                                        l->log_cols + 1 + l->rate_bits > NTT_MAX_LOG_N ||
                                        l->log_cols + 1 + l->rate_bits > MT_MAX_LOG_LEAVES)) ||
        (!l->hiding && l->n_masks != 0))
        return em_errf(err, EM_ERR_ARG, "pcs: invalid hiding parameters");
    if (l->systematic > 1 || (!l->systematic && l->n_runs != 0) || l->rate23 > 1 || l->rate45 > 1 ||
        (l->rate23 && l->rate45) || (l->rate23 && (!l->systematic || l->rate_bits != 1 || l->log_cols < 1)) ||
        (l->rate45 && (!l->systematic || l->rate_bits != 1 || l->log_cols < 2)))
        return em_errf(err, EM_ERR_ARG, "pcs: invalid systematic flag, or rate 2/3 or 4/5 without a systematic "
                                        "rate-1/2 layout");
    if (l->tested > 1 || (l->tested && !prox_layout_ok(l)))
        return em_errf(err, EM_ERR_ARG, "pcs: a tested layout is at rate 1/4 and not hiding");
    if (l->systematic) {
        if (l->hiding || l->n_polys != 1 || l->n_runs < 1 || l->n_runs > PCS_MAX_SYM_RUNS)
            return em_errf(err, EM_ERR_ARG, "pcs: a systematic layout has one polynomial, no hiding and 1..%d runs",
                           PCS_MAX_SYM_RUNS);
        for (unsigned k = 0; k < l->n_runs; k++)
            if (!pcs_sym_bytes(l->run_sym[k]) || l->run_end[k] <= (k ? l->run_end[k - 1] : 0) ||
                (k + 1 == l->n_runs && l->run_end[k] != l->n_rows))
                return em_errf(err, EM_ERR_ARG, "pcs: systematic run %u (rows to %zu, type %u) invalid", k,
                               l->run_end[k], l->run_sym[k]);
    }
    return EM_OK;
}

unsigned pcs_sym_bytes(unsigned sym)
{
    switch (sym) {
    case PCS_SYM_U8:
    case PCS_SYM_I8:
        return 1;
    case PCS_SYM_U16:
    case PCS_SYM_I16:
        return 2;
    case PCS_SYM_I32:
        return 4;
    default:
        return 0;
    }
}

void pcs_sym_range(unsigned sym, int32_t *lo, int32_t *hi)
{
    static const int32_t lo_of[] = {0, 0, -128, 0, -32768, INT32_MIN};
    static const int32_t hi_of[] = {0, 255, 127, 65535, 32767, INT32_MAX};
    unsigned k = pcs_sym_bytes(sym) ? sym : 0;
    *lo = lo_of[k];
    *hi = hi_of[k];
}

/* The symbol of a message column entry from its bytes (w = pcs_sym_bytes(sym)). */
static int32_t sym_decode(unsigned sym, const uint8_t *b)
{
    switch (sym) {
    case PCS_SYM_U8:
        return b[0];
    case PCS_SYM_I8:
        return (int8_t)b[0];
    case PCS_SYM_U16:
        return (int32_t)(b[0] | (uint32_t)b[1] << 8);
    case PCS_SYM_I16:
        return (int16_t)(uint16_t)(b[0] | (uint32_t)b[1] << 8);
    default:
        return (int32_t)(b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
    }
}

em_status pcs_layout_set_systematic(pcs_layout *l, const size_t *run_end, const uint8_t *run_sym, unsigned n_runs,
                                    em_err *err)
{
    if (n_runs < 1 || n_runs > PCS_MAX_SYM_RUNS)
        return em_errf(err, EM_ERR_ARG, "pcs: %u systematic runs (1..%d)", n_runs, PCS_MAX_SYM_RUNS);
    pcs_layout t = *l;
    t.systematic = 1;
    t.n_runs = n_runs;
    memcpy(t.run_end, run_end, n_runs * sizeof *run_end);
    memcpy(t.run_sym, run_sym, n_runs);
    em_status st = layout_check(&t, err);
    if (st == EM_OK)
        *l = t;
    return st;
}

em_status pcs_layout_set_rate23(pcs_layout *l, em_err *err)
{
    if (!l->systematic || l->rate_bits != 1 || l->log_cols < 1 || l->rate45)
        return em_errf(err, EM_ERR_ARG, "pcs: rate 2/3 needs a systematic layout at rate 1/2 with C >= 2 (and not rate 4/5)");
    l->rate23 = 1;
    return EM_OK;
}

em_status pcs_layout_set_rate45(pcs_layout *l, em_err *err)
{
    if (!l->systematic || l->rate_bits != 1 || l->log_cols < 2 || l->rate23)
        return em_errf(err, EM_ERR_ARG, "pcs: rate 4/5 needs a systematic layout at rate 1/2 with C >= 4");
    l->rate45 = 1;
    return EM_OK;
}

em_status pcs_layout_set_tested(pcs_layout *l, em_err *err)
{
    if (!prox_layout_ok(l))
        return em_errf(err, EM_ERR_ARG, "pcs: a tested layout is at rate 1/4 and not hiding");
    l->tested = 1;
    return EM_OK;
}

/* Row i's symbol type. */
static unsigned row_sym(const pcs_layout *l, size_t i)
{
    unsigned k = 0;
    while (l->run_end[k] <= i)
        k++;
    return l->run_sym[k];
}

em_status pcs_layout_set_hiding(pcs_layout *l, unsigned max_groups, em_err *err)
{
    if (l->systematic)
        return em_errf(err, EM_ERR_ARG, "pcs: a systematic layout cannot hide (its message columns are the values)");
    if (l->log_cols < PCS_HIDING_MIN_LOG_COLS || ((size_t)1 << l->log_cols) < pcs_queries(l->rate_bits))
        return em_errf(err, EM_ERR_ARG, "pcs: hiding needs log_cols >= %d and C >= %u queries (have %u)",
                       PCS_HIDING_MIN_LOG_COLS, pcs_queries(l->rate_bits), l->log_cols);
    for (unsigned p = 0; p < l->n_polys; p++)
        if (l->rows[p] != ((size_t)1 << (l->n_vars[p] - l->log_cols)))
            return em_errf(err, EM_ERR_ARG, "pcs: hiding with a shortened polynomial %u", p);
    if (max_groups < 1 || max_groups > PCS_HIDING_MAX_GROUPS)
        return em_errf(err, EM_ERR_ARG, "pcs: hiding max_groups %u not in 1..%d", max_groups, PCS_HIDING_MAX_GROUPS);
    if (l->log_cols + 1 + l->rate_bits > NTT_MAX_LOG_N || l->log_cols + 1 + l->rate_bits > MT_MAX_LOG_LEAVES)
        return em_errf(err, EM_ERR_LIMIT, "pcs: log_cols %u too large for hiding", l->log_cols);
    l->hiding = 1;
    l->n_masks = max_groups;
    return EM_OK;
}

/* ---- blinding randomness: SHA-256 in counter mode over a 32-byte seed -------------------------
 * block i = SHA-256("EMPCSBLD" || seed || u64le(i)), read as four u64le words; words >= p are
 * skipped (rejection sampling, so the elements are uniform). */
typedef struct blind_rng {
    uint8_t seed[32];
    uint64_t ctr;
    uint64_t word[4];
    unsigned pos;
    EVP_MD *md;      /* fetched once: the one-shot SHA256() re-fetches under a global lock */
    EVP_MD_CTX *ctx;
} blind_rng;

static ff_t blind_next(blind_rng *g)
{
    for (;;) {
        if (g->pos == 4) {
            uint8_t in[8 + 32 + 8], h[EM_HASH_LEN];
            memcpy(in, "EMPCSBLD", 8);
            memcpy(in + 8, g->seed, 32);
            for (int i = 0; i < 8; i++)
                in[40 + i] = (uint8_t)(g->ctr >> (8 * i));
            g->ctr++;
            unsigned hl = 0;
            if (EVP_DigestInit_ex(g->ctx, g->md, NULL) != 1 || EVP_DigestUpdate(g->ctx, in, sizeof in) != 1 ||
                EVP_DigestFinal_ex(g->ctx, h, &hl) != 1 || hl != EM_HASH_LEN)
                em_sha256(in, sizeof in, h); /* same function; only reached if EVP misbehaves */
            for (int w = 0; w < 4; w++) {
                uint64_t v = 0;
                for (int i = 0; i < 8; i++)
                    v |= (uint64_t)h[8 * w + i] << (8 * i);
                g->word[w] = v;
            }
            g->pos = 0;
        }
        uint64_t v = g->word[g->pos++];
        if (v < FF_P)
            return v;
    }
}

static void wipe(void *p, size_t n)
{
    volatile uint8_t *v = p;
    while (n--)
        *v++ = 0;
}

/* Every value of a systematic layout within its row's symbol type (rows past len are zero). */
static em_status sym_check(const pcs_layout *l, const int32_t *v, size_t len, em_err *err)
{
    size_t C = (size_t)1 << l->log_cols;
    for (unsigned k = 0; k < l->n_runs; k++) {
        size_t b = (k ? l->run_end[k - 1] : 0) * C, e = l->run_end[k] * C;
        e = e < len ? e : len;
        if (b >= e || l->run_sym[k] == PCS_SYM_I32)
            continue;
        int32_t lo, hi;
        pcs_sym_range(l->run_sym[k], &lo, &hi);
        if (em_i32_in_range(v + b, e - b, lo, hi)) /* vectorised; the offender is found only on failure */
            continue;
        for (size_t i = b; i < e; i++)
            if (v[i] < lo || v[i] > hi)
                return em_errf(err, EM_ERR_RANGE,
                               "pcs: value %d at row %zu column %zu outside its symbol range [%d, %d]", v[i], i / C,
                               i % C, lo, hi);
    }
    return EM_OK;
}

/* integer evaluations to field elements, over chunks on the threads */
static em_status commit_impl(const pcs_layout *l, const pcs_poly *polys, blind_rng *rng, unsigned n_threads,
                             pcs_prover **out, uint8_t root[PCS_ROOT_LEN], em_err *err)
{
    em_status st;
    pcs_prover *p = NULL;
    const ntt_plan *plan = NULL;
    *out = NULL;
    if ((st = layout_check(l, err)) != EM_OK)
        return st;
    size_t C = (size_t)1 << l->log_cols, Cm = msg_len(l), N = cw_len(l), Rt = total_rows(l);
    for (unsigned i = 0; i < l->n_polys; i++) {
        if (polys[i].len > l->rows[i] * C || (polys[i].len && !polys[i].evals == !polys[i].ints))
            return em_errf(err, EM_ERR_ARG, "pcs: poly %u has %zu evaluations (max %zu; evals or ints, not both)", i,
                           polys[i].len, l->rows[i] * C);
        if (polys[i].ints && (l->hiding || l->n_polys != 1))
            return em_errf(err, EM_ERR_ARG, "pcs: integer evaluations need a non-hiding one-polynomial layout");
    }
    if (l->systematic) {
        if (!polys[0].ints) /* even when empty: the openings read the integers */
            return em_errf(err, EM_ERR_ARG, "pcs: a systematic layout is committed from integers");
        if (!polys[0].unchecked && (st = sym_check(l, polys[0].ints, polys[0].len, err)) != EM_OK)
            return st;
    }
    p = calloc(1, sizeof *p);
    if (!p)
        return em_errf(err, EM_ERR_NOMEM, "pcs: prover");
    p->layout = *l;
    p->threads = zk__threads((int)n_threads);
    /* integer values are encoded from the integers themselves: no field-element copy */
    int from_ints = l->n_polys == 1 && polys[0].ints;
    size_t Ne = l->systematic ? N - C : N; /* stored codeword columns: the parity only when systematic */
    p->m = from_ints ? NULL : zk__big_alloc(Rt * Cm * sizeof *p->m); /* systematic: always from ints */
    p->enc = zk__big_alloc(Rt * Ne * sizeof *p->enc);
    p->zero = calloc(Rt, 1);
    p->row_bytes = l->systematic ? malloc(Rt) : NULL;
    if ((!from_ints && !p->m) || !p->enc || !p->zero || (l->systematic && !p->row_bytes)) {
        st = em_errf(err, EM_ERR_NOMEM, "pcs: matrix of %zu x %zu", Rt, N);
        goto out;
    }
    if (!l->hiding) {
        for (unsigned i = 0; i < l->n_polys; i++) {
            if (polys[i].ints) {
                p->ints = polys[i].ints;
                p->ints_len = polys[i].len;
                continue;
            }
            ff_t *dst = p->m + l->row_off[i] * C;
            size_t cap = l->rows[i] * C;
            if (polys[i].len) {
                memcpy(dst, polys[i].evals, polys[i].len * sizeof(ff_t));
            }
            memset(dst + polys[i].len, 0, (cap - polys[i].len) * sizeof(ff_t));
        }
    } else {
        /* data row: C values then C random coefficients; mask rows: 2C random coefficients */
        memset(p->m, 0, Rt * Cm * sizeof *p->m);
        for (unsigned i = 0; i < l->n_polys; i++)
            for (size_t e = 0; e < polys[i].len; e++)
                p->m[(l->row_off[i] + e / C) * Cm + e % C] = polys[i].evals[e];
        for (size_t r = 0; r < Rt; r++)
            for (size_t c = r < l->n_rows ? C : 0; c < Cm; c++)
                p->m[r * Cm + c] = blind_next(rng);
    }
    if (l->systematic) { /* p->ints was set above */
        for (size_t i = 0; i < Rt; i++) {
            p->row_bytes[i] = (uint8_t)pcs_sym_bytes(row_sym(l, i));
            p->msg_col_bytes += p->row_bytes[i];
        }
        /* the column bytes the tree hashes are kept for the openings, which then copy each
         * opened message column instead of gathering it from Rt rows */
        if (!(p->msg_cols = zk__big_alloc(C * p->msg_col_bytes))) {
            st = em_errf(err, EM_ERR_NOMEM, "pcs: message columns (%zu x %zu bytes)", C, p->msg_col_bytes);
            goto out;
        }
        size_t used = (p->ints_len + C - 1) / C;
        if ((st = ntt_plan_shared(l->log_cols, &plan, err)) != EM_OK ||
            (used && (st = ntt_rs_encode_rows_sys_i32(plan, sys_rate(l), p->ints, p->ints_len, used, p->enc,
                                                      p->threads, err)) != EM_OK))
            goto out;
        memset(p->enc + used * Ne, 0, (Rt - used) * Ne * sizeof *p->enc);
        memset(p->zero + used, 1, Rt - used);
        st = mt_tree_build_sys(p->ints, p->ints_len, p->row_bytes, C, p->enc, Ne, Rt, p->threads, p->msg_cols,
                               &p->tree, err);
    } else if ((st = ntt_plan_shared(msg_log(l) + l->rate_bits, &plan, err)) != EM_OK) {
        goto out;
    } else if (l->hiding) {
        if ((st = ntt_rs_encode_rows(plan, NULL, l->rate_bits, 1, NTT_RS_COEFFS, p->m, Rt, p->enc, n_threads,
                                     err)) != EM_OK)
            goto out;
    } else {
        /* rows past a polynomial's evaluations are zero and so are their codewords: encode only
         * each polynomial's leading rows that hold data (a packed witness is often 3/4 full) */
        for (unsigned i = 0; i < l->n_polys; i++) {
            size_t rows = l->rows[i], used = (polys[i].len + C - 1) / C;
            ff_t *enc = p->enc + l->row_off[i] * N;
            if (used && polys[i].ints)
                st = ntt_rs_encode_rows_i32(plan, l->rate_bits, polys[i].ints, polys[i].len, used, enc, n_threads, err);
            else if (used)
                st = ntt_rs_encode_rows(plan, NULL, l->rate_bits, 1, NTT_RS_COEFFS, p->m + l->row_off[i] * C, used,
                                        enc, n_threads, err);
            if (st != EM_OK)
                goto out;
            memset(enc + used * N, 0, (rows - used) * N * sizeof *enc);
            memset(p->zero + l->row_off[i] + used, 1, rows - used);
        }
    }
    if (!l->systematic)
        st = mt_tree_build_cols_threads(p->enc, Rt, N, p->threads, &p->tree, err);
    if (st != EM_OK)
        goto out;
    mt_tree_root(p->tree, p->root);
    memcpy(root, p->root, PCS_ROOT_LEN);
    *out = p;
    p = NULL;
out:
    pcs_prover_free(p);
    return st;
}

em_status pcs_commit(const pcs_layout *l, const pcs_poly *polys, unsigned n_threads, pcs_prover **out,
                     uint8_t root[PCS_ROOT_LEN], em_err *err)
{
    *out = NULL;
    if (l->hiding)
        return em_errf(err, EM_ERR_ARG, "pcs: a hiding layout is committed with pcs_commit_hiding");
    return commit_impl(l, polys, NULL, n_threads, out, root, err);
}

em_status pcs_commit_hiding(const pcs_layout *l, const pcs_poly *polys, const uint8_t seed[32], unsigned n_threads,
                            pcs_prover **out, uint8_t root[PCS_ROOT_LEN], em_err *err)
{
    *out = NULL;
    if (!l->hiding)
        return em_errf(err, EM_ERR_ARG, "pcs: pcs_commit_hiding needs a hiding layout (pcs_layout_set_hiding)");
    blind_rng rng;
    memset(&rng, 0, sizeof rng);
    rng.pos = 4;
    if (seed) {
        memcpy(rng.seed, seed, 32);
    } else {
        FILE *f = fopen("/dev/urandom", "rb");
        size_t got = f ? fread(rng.seed, 1, 32, f) : 0;
        if (f)
            fclose(f);
        if (got != 32)
            return em_errf(err, EM_ERR_IO, "pcs: cannot read 32 bytes from /dev/urandom");
    }
    rng.md = EVP_MD_fetch(NULL, "SHA256", NULL);
    rng.ctx = EVP_MD_CTX_new();
    em_status st = rng.md && rng.ctx ? commit_impl(l, polys, &rng, n_threads, out, root, err)
                                     : em_errf(err, EM_ERR_INTERNAL, "pcs: SHA-256 unavailable");
    EVP_MD_CTX_free(rng.ctx);
    EVP_MD_free(rng.md);
    wipe(&rng, sizeof rng);
    return st;
}

void pcs_prover_free(pcs_prover *p)
{
    if (!p)
        return;
    if (p->m && p->layout.hiding)
        wipe(p->m, total_rows(&p->layout) * msg_len(&p->layout) * sizeof *p->m);
    zk__big_free(p->m);
    zk__big_free(p->enc);
    free(p->zero);
    free(p->row_bytes);
    zk__big_free(p->msg_cols);
    mt_tree_free(p->tree);
    free(p);
}

const pcs_layout *pcs_prover_layout(const pcs_prover *p) { return &p->layout; }
void pcs_prover_root(const pcs_prover *p, uint8_t root[PCS_ROOT_LEN]) { memcpy(root, p->root, PCS_ROOT_LEN); }

ff2_t pcs_prover_eval(const pcs_prover *p, unsigned poly, const ff2_t *point)
{
    const pcs_layout *l = &p->layout;
    size_t len = (size_t)1 << l->n_vars[poly], C = (size_t)1 << l->log_cols, Cm = msg_len(l);
    ff_t *vals = malloc(len * sizeof *vals);
    ff2_t *scratch = malloc(((len + 1) / 2) * sizeof *scratch);
    ff2_t v = ff2_zero();
    if (vals && scratch) {
        for (size_t e = 0; e < len; e++)
            vals[e] = p->ints ? (e < p->ints_len ? ff_from_i64(p->ints[e]) : 0)
                      : e < l->rows[poly] * C ? p->m[(l->row_off[poly] + e / C) * Cm + e % C]
                                              : 0;
        v = ml_eval_base(vals, len, l->n_vars[poly], point, scratch);
    }
    free(vals);
    free(scratch);
    return v;
}

/* ---- shared prover/verifier steps ------------------------------------------------------------ */

static em_status claims_check(const pcs_layout *l, const pcs_claim *c, size_t n, em_err *err)
{
    if (n < 1 || n > 4096)
        return em_errf(err, EM_ERR_ARG, "pcs: %zu claims (1..4096)", n);
    for (size_t k = 0; k < n; k++) {
        if (c[k].poly >= l->n_polys)
            return em_errf(err, EM_ERR_ARG, "pcs: claim %zu names poly %u of %u", k, c[k].poly, l->n_polys);
        if (!c[k].point && l->n_vars[c[k].poly])
            return em_errf(err, EM_ERR_ARG, "pcs: claim %zu has no point", k);
        for (unsigned j = 0; j < l->n_vars[c[k].poly]; j++)
            if (!ff_is_canonical(c[k].point[j].a) || !ff_is_canonical(c[k].point[j].b))
                return em_errf(err, EM_ERR_ARG, "pcs: claim %zu coordinate %u not canonical", k, j);
        if (!ff_is_canonical(c[k].value.a) || !ff_is_canonical(c[k].value.b))
            return em_errf(err, EM_ERR_ARG, "pcs: claim %zu value not canonical", k);
    }
    return EM_OK;
}

static void absorb_statement(tr_t *tr, const pcs_layout *l, const uint8_t root[PCS_ROOT_LEN], const pcs_claim *c,
                             size_t n)
{
    tr_absorb_bytes(tr, "pcs/root", root, PCS_ROOT_LEN);
    tr_absorb_u64(tr, "pcs/layout", l->log_cols);
    tr_absorb_u64(tr, "pcs/layout", l->n_polys);
    tr_absorb_u64(tr, "pcs/layout", l->hiding ? l->n_masks : 0);
    tr_absorb_bytes(tr, "pcs/layout", l->n_vars, l->n_polys);
    tr_absorb_u64(tr, "pcs/layout", l->rate_bits);
    for (unsigned p = 0; p < l->n_polys; p++)
        tr_absorb_u64(tr, "pcs/layout", l->rows[p]);
    if (l->systematic) { /* absent otherwise: the transcripts of the other layouts are unchanged */
        tr_absorb_u64(tr, "pcs/sys", l->rate23 ? 1 : l->rate45 ? 2 : 0); /* the parity's length */
        tr_absorb_u64(tr, "pcs/sys", l->n_runs);
        for (unsigned k = 0; k < l->n_runs; k++) {
            tr_absorb_u64(tr, "pcs/sys", l->run_end[k]);
            tr_absorb_u64(tr, "pcs/sys", l->run_sym[k]);
        }
    }
    if (l->tested) /* absent otherwise: the other layouts' transcripts are unchanged */
        tr_absorb_u64(tr, "pcs/tested", 1);
    tr_absorb_u64(tr, "pcs/nclaims", n);
    for (size_t k = 0; k < n; k++) {
        tr_absorb_u64(tr, "pcs/claim", c[k].poly);
        tr_absorb_ff2(tr, "pcs/claim", c[k].point, l->n_vars[c[k].poly]);
        tr_absorb_ff2(tr, "pcs/claim", &c[k].value, 1);
    }
}

/* group[k] = index of the group of claim k (claims with identical column sub-points share one);
 * returns the number of groups. */
static size_t group_claims(const pcs_layout *l, const pcs_claim *c, size_t n, size_t *group)
{
    size_t ng = 0;
    size_t bytes = l->log_cols * sizeof(ff2_t);
    for (size_t k = 0; k < n; k++) {
        group[k] = SIZE_MAX;
        for (size_t q = 0; q < k; q++)
            if (bytes == 0 || memcmp(c[q].point, c[k].point, bytes) == 0) {
                group[k] = group[q];
                break;
            }
        if (group[k] == SIZE_MAX)
            group[k] = ng++;
    }
    return ng;
}

/* Row weights of group g: sum over its claims of rho_k * eq(row part of z_k, .) placed on the
 * committed rows of the claim's polynomial (its other rows are zero). a has n_rows entries. */
static void group_weights(const pcs_layout *l, const pcs_claim *c, size_t n, const size_t *group, size_t g,
                          const ff2_t *rho, ff2_t *a, ff2_t *tmp)
{
    memset(a, 0, l->n_rows * sizeof *a);
    for (size_t k = 0; k < n; k++) {
        if (group[k] != g)
            continue;
        unsigned nr = l->n_vars[c[k].poly] - l->log_cols;
        ml_eq_table(c[k].point + l->log_cols, nr, rho[k], tmp);
        ff2_t *dst = a + l->row_off[c[k].poly];
        for (size_t i = 0; i < l->rows[c[k].poly]; i++)
            dst[i] = ff2_add(dst[i], tmp[i]);
    }
}

static size_t max_poly_rows(const pcs_layout *l)
{
    size_t m = 1;
    for (unsigned p = 0; p < l->n_polys; p++)
        if (((size_t)1 << (l->n_vars[p] - l->log_cols)) > m)
            m = (size_t)1 << (l->n_vars[p] - l->log_cols);
    return m;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The query set: all N columns when N <= 2t, else t = pcs_queries(rate) distinct ones. */
static size_t sample_queries(tr_t *tr, size_t N, unsigned t, uint64_t *idx)
{
    if (N <= 2 * (size_t)t) {
        for (size_t j = 0; j < N; j++)
            idx[j] = j;
        return N;
    }
    size_t n = 0;
    while (n < t) {
        uint64_t j = tr_challenge_index(tr, "pcs/query", N);
        size_t q;
        for (q = 0; q < n; q++)
            if (idx[q] == j)
                break;
        if (q == n)
            idx[n++] = j;
    }
    qsort(idx, n, sizeof *idx, cmp_u64);
    return n;
}

/* out = weight^T M (C ff2) on the prover's threads; rows with a zero weight (claims touch few
 * polynomials) and rows known to be zero are skipped. */
static void combine_rows(const pcs_prover *p, size_t C, size_t R, const ff2_t *weight, ff2_t *out)
{
    const pcs_layout *l = &p->layout;
    /* a systematic layout's one-byte rows first, then the wider ones (the multiplicities of a
     * witness), so the one-byte rows keep the fold's small-value kernel (zk_dense.c) */
    size_t split = 0;
    for (unsigned k = 0; l->systematic && k < l->n_runs && l->run_sym[k] <= PCS_SYM_I8; k++)
        split = l->run_end[k];
    ff2_t *wa = NULL, *wb = NULL, *ob = NULL;
    if (p->ints && split > 0 && split < R) {
        wa = calloc(R, sizeof *wa);
        wb = calloc(R, sizeof *wb);
        ob = malloc(C * sizeof *ob);
        if (wa && wb && ob) {
            memcpy(wa, weight, split * sizeof *wa);
            memcpy(wb + split, weight + split, (R - split) * sizeof *wb);
            zk__combine_rows_i32(p->ints, p->ints_len, C, R, wa, p->threads, out);
            zk__combine_rows_i32(p->ints, p->ints_len, C, R, wb, p->threads, ob);
            for (size_t c = 0; c < C; c++)
                out[c] = ff2_add(out[c], ob[c]);
            goto out;
        }
    }
    /* one pass over every row (also when the split's buffers could not be had: same values) */
    if (p->ints)
        zk__combine_rows_i32(p->ints, p->ints_len, C, R, weight, p->threads, out);
    else
        zk__combine_rows(p->m, R * C, C, R, weight, p->zero, p->threads, out);
out:
    free(wa);
    free(wb);
    free(ob);
}

static em_status put_ff2s(em_buf *out, const ff2_t *v, size_t n, em_err *err)
{
    if (em_buf_reserve(out, n * FF2_BYTES) != EM_OK)
        return em_errf(err, EM_ERR_LIMIT, "pcs: proof buffer full");
    /* encoded in place: a row of 2^13 values one append at a time cost ~0.2 ms */
    uint8_t *d = out->data + out->len;
    for (size_t i = 0; i < n; i++)
        ff2_encode(v[i], d + i * FF2_BYTES);
    out->len += n * FF2_BYTES;
    return EM_OK;
}

/* Row weights over all total_rows(l) rows: the data part from the claims (or gamma), then the
 * hiding masks -- row n_rows masks w, row n_rows + 1 + g masks u_g. mask = SIZE_MAX: none. */
static void set_mask_weights(const pcs_layout *l, ff2_t *weight, size_t mask)
{
    if (!l->hiding)
        return;
    for (size_t i = l->n_rows; i < total_rows(l); i++)
        weight[i] = i == mask ? ff2_one() : ff2_zero();
}

/* y_g = <mask row of group g (first C coefficients), eq(column point of g)> for every group. */
static void mask_evals(const pcs_prover *p, const pcs_claim *c, const size_t *group, size_t ng, ff2_t *eqc,
                       ff2_t *y)
{
    const pcs_layout *l = &p->layout;
    size_t C = (size_t)1 << l->log_cols, Cm = msg_len(l);
    for (size_t g = 0; g < ng; g++) {
        size_t first = 0;
        while (group[first] != g)
            first++;
        ml_eq_table(c[first].point, l->log_cols, ff2_one(), eqc);
        y[g] = ml_dot_base(p->m + (l->n_rows + 1 + g) * Cm, eqc, C);
    }
}

/* The opened columns' bytes (pcs.h wire format), column q at dst + off[q]. */
typedef struct col_job {
    const pcs_prover *p;
    const uint64_t *idx;
    const size_t *off;
    uint8_t *dst;
    size_t C, N, Rt;
} col_job;

static void write_cols(void *vctx, size_t b, size_t e, unsigned tid)
{
    (void)tid;
    const col_job *j = vctx;
    const pcs_prover *p = j->p;
    int sys = p->layout.systematic;
    size_t Ne = sys ? j->N - j->C : j->N; /* stored columns (systematic: the parity ones) */
    for (size_t q = b; q < e; q++) {
        uint8_t *d = j->dst + j->off[q];
        if (sys && j->idx[q] < j->C) { /* a message column: its bytes as the tree hashed them */
            memcpy(d, p->msg_cols + j->idx[q] * p->msg_col_bytes, p->msg_col_bytes);
            continue;
        }
        for (size_t i = 0; i < j->Rt; i++) {
            ff_encode(p->enc[i * Ne + j->idx[q] - (sys ? j->C : 0)], d);
            d += FF_BYTES;
        }
    }
}

/* out = sum_k rho_k pre_k (C entries each): the evaluation row from the claims' row
 * combinations. AVX-512: 8 columns per step, the claims' sums in split coordinates. */
typedef struct pre_ctx {
    const ff2_t *pre, *rho;
    size_t n, C;
    ff2_t *out;
} pre_ctx;

__attribute__((target("avx512f,avx512dq"))) static size_t pre_avx512(const pre_ctx *x, size_t b, size_t e)
{
    const __m512i ev = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), od = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
    const __m512i ilo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), ihi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    size_t c = b;
    for (; c + 8 <= e; c += 8) {
        __m512i sa = _mm512_setzero_si512(), sb = _mm512_setzero_si512();
        for (size_t k = 0; k < x->n; k++) {
            const ff2_t *f = x->pre + k * x->C + c;
            __m512i lo = _mm512_loadu_si512((const void *)f), hi = _mm512_loadu_si512((const void *)(f + 4));
            __m512i fa = _mm512_permutex2var_epi64(lo, ev, hi), fb = _mm512_permutex2var_epi64(lo, od, hi), pa, pb;
            ff8_mul2(fa, fb, _mm512_set1_epi64((long long)x->rho[k].a), _mm512_set1_epi64((long long)x->rho[k].b), &pa,
                     &pb);
            sa = ff8_add(sa, pa);
            sb = ff8_add(sb, pb);
        }
        _mm512_storeu_si512((void *)(x->out + c), _mm512_permutex2var_epi64(sa, ilo, sb));
        _mm512_storeu_si512((void *)(x->out + c + 4), _mm512_permutex2var_epi64(sa, ihi, sb));
    }
    return c;
}

static void pre_chunk(void *vctx, size_t b, size_t e, unsigned tid)
{
    (void)tid;
    const pre_ctx *x = vctx;
    for (size_t c = ff_vec_tier_get() == FF_VEC_AVX512 ? pre_avx512(x, b, e) : b; c < e; c++) {
        ff2_t s = ff2_zero();
        for (size_t k = 0; k < x->n; k++)
            s = ff2_add(s, ff2_mul(x->rho[k], x->pre[k * x->C + c]));
        x->out[c] = s;
    }
}

static em_status open_impl(const pcs_prover *p, const pcs_claim *claims, size_t n_claims, const ff2_t *pre,
                           open_mode mode, tr_t *tr, em_buf *out, em_err *err)
{
    em_status st;
    const pcs_layout *l = &p->layout;
    size_t C = (size_t)1 << l->log_cols, Cm = msg_len(l), N = cw_len(l), R = l->n_rows,
           Rt = total_rows(l);
    ff2_t *gamma = NULL, *rows = NULL, *rho = NULL, *a = NULL, *tmp = NULL, *y = NULL;
    size_t *group = NULL, *off = NULL;
    uint64_t *idx = NULL;
    if ((mode == OPEN_CLAIMS && (st = claims_check(l, claims, n_claims, err)) != EM_OK) ||
        (st = mode_begin(l, mode, tr, err)) != EM_OK)
        return st;
    size_t nc1 = n_claims ? n_claims : 1;
    gamma = malloc(Rt * sizeof *gamma);
    rho = malloc(nc1 * sizeof *rho);
    group = malloc(nc1 * sizeof *group);
    a = malloc(Rt * sizeof *a);
    tmp = malloc((max_poly_rows(l) > C ? max_poly_rows(l) : C) * sizeof *tmp);
    rows = malloc(Cm * sizeof *rows);
    idx = malloc(2 * PCS_MAX_QUERIES * sizeof *idx);
    off = malloc(2 * PCS_MAX_QUERIES * sizeof *off);
    y = malloc(nc1 * sizeof *y);
    if (!gamma || !rho || !group || !a || !tmp || !rows || !idx || !off || !y) {
        st = em_errf(err, EM_ERR_NOMEM, "pcs: open scratch");
        goto out;
    }
    size_t ng = group_claims(l, claims, n_claims, group);
    if (l->hiding && ng > l->n_masks) {
        st = em_errf(err, EM_ERR_ARG, "pcs: %zu distinct column points, the hiding layout allows %u", ng,
                     l->n_masks);
        goto out;
    }
    absorb_statement(tr, l, p->root, claims, n_claims);
    if (l->hiding) {
        /* The mask rows' contributions are fixed before any challenge. */
        mask_evals(p, claims, group, ng, tmp, y);
        tr_absorb_ff2(tr, "pcs/y", y, ng);
        if ((st = put_ff2s(out, y, ng, err)) != EM_OK)
            goto out;
    }
    /* Proximity row w = gamma^T M (+ its mask row); a tested layout proved its proximity once
     * (pcs_prove_proximity) and has none. */
    if (mode_sends_w(l, mode)) {
        tr_challenge_ff2_vec(tr, "pcs/gamma", gamma, R);
        set_mask_weights(l, gamma, R);
        combine_rows(p, Cm, Rt, gamma, rows);
        tr_absorb_ff2(tr, "pcs/w", rows, Cm);
        if ((st = put_ff2s(out, rows, Cm, err)) != EM_OK)
            goto out;
    }
    /* Evaluation rows, one per group of claims sharing a column point. */
    if (mode == OPEN_CLAIMS)
        tr_challenge_ff2_vec(tr, "pcs/rho", rho, n_claims);
    for (size_t g = 0; g < ng; g++) {
        if (pre && ng == 1 && !l->hiding && l->n_polys == 1 && Cm == C) {
            pre_ctx px = {.pre = pre, .rho = rho, .n = n_claims, .C = C, .out = rows};
            zk__par_for(p->threads, C, 1024, pre_chunk, &px);
        } else {
            group_weights(l, claims, n_claims, group, g, rho, a, tmp);
            set_mask_weights(l, a, R + 1 + g);
            combine_rows(p, Cm, Rt, a, rows);
        }
        tr_absorb_ff2(tr, "pcs/u", rows, Cm);
        if ((st = put_ff2s(out, rows, Cm, err)) != EM_OK)
            goto out;
    }
    /* Column openings. */
    size_t nq = sample_queries(tr, N, mode_queries(l, mode), idx);
    /* the columns are written in place, on the threads: column q starts at off[q] (a message
     * column of a systematic layout takes its rows' widths, any other 8 bytes per row) */
    size_t col_bytes = 0;
    for (size_t q = 0; q < nq; q++) {
        off[q] = col_bytes;
        col_bytes += l->systematic && idx[q] < C ? p->msg_col_bytes : Rt * FF_BYTES;
    }
    if (em_buf_reserve(out, col_bytes) != EM_OK) {
        st = em_errf(err, EM_ERR_LIMIT, "pcs: proof buffer full");
        goto out;
    }
    col_job cj = {.p = p, .idx = idx, .off = off, .dst = out->data + out->len, .C = C, .N = N, .Rt = Rt};
    zk__par_for(p->threads, nq, 16, write_cols, &cj);
    out->len += col_bytes;
    st = mt_tree_open(p->tree, idx, nq, out, err);
out:
    free(off);
    free(gamma);
    free(rho);
    free(group);
    free(a);
    free(tmp);
    free(rows);
    free(idx);
    free(y);
    return st;
}

em_status pcs_open(const pcs_prover *p, const pcs_claim *claims, size_t n_claims, tr_t *tr, em_buf *out,
                   em_err *err)
{
    return open_impl(p, claims, n_claims, NULL, OPEN_CLAIMS, tr, out, err);
}

em_status pcs_open_rows(const pcs_prover *p, const pcs_claim *claims, size_t n_claims, const ff2_t *rows,
                        size_t rows_len, tr_t *tr, em_buf *out, em_err *err)
{
    size_t C = (size_t)1 << p->layout.log_cols;
    if (!rows || rows_len / C < n_claims)
        return em_errf(err, EM_ERR_ARG, "pcs: %zu row-combination values for %zu claims of %zu columns", rows_len,
                       n_claims, C);
    return open_impl(p, claims, n_claims, rows, OPEN_CLAIMS, tr, out, err);
}

em_status pcs_prove_proximity(const pcs_prover *p, tr_t *tr, em_buf *out, em_err *err)
{
    return open_impl(p, NULL, 0, NULL, OPEN_PROXIMITY, tr, out, err);
}

/* n canonical base elements (8 bytes each) from r in one view; what names the vector in errors. */
static em_status read_ff_vec(em_reader *r, ff_t *out, size_t n, const char *what, size_t at, em_err *err)
{
    const uint8_t *p;
    size_t off = r->off;
    if (em_reader_view(r, &p, n * FF_BYTES) != EM_OK)
        return em_errf(err, EM_ERR_PARSE, "pcs: %s %zu truncated at offset %zu", what, at, off);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* the common case in one pass: copy, then one branch-free canonicity check */
    memcpy(out, p, n * FF_BYTES);
    uint64_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad |= out[i] >= FF_P;
    if (!bad)
        return EM_OK;
#endif
    for (size_t i = 0; i < n; i++) { /* names the first bad element */
        em_status st = ff_decode(p + i * FF_BYTES, &out[i], err);
        if (st != EM_OK) {
            em_err_prefix(err, "pcs: %s %zu element %zu: ", what, at, i); /* st survives a NULL err */
            return st;
        }
    }
    return EM_OK;
}

/* The Reed-Solomon encodings of the two coordinates of row (C ff2) into ea, eb; msg holds 2C.
 * The coordinates are independent transforms: on two threads once they are large (a 20M-
 * parameter model's combined row is two 2^17-point NTTs, ~2.5 ms on one core). */
typedef struct enc_job {
    const ntt_plan *plan; /* of the codeword size, or of the message size when systematic */
    int sys;
    unsigned rate_bits;
    size_t C;
    const ff2_t *row;
    ff_t *msg, *out[2];
    em_status st[2];
} enc_job;

static void encode_coord(void *vctx, size_t b, size_t e, unsigned tid)
{
    (void)tid;
    enc_job *j = vctx;
    for (size_t k = b; k < e; k++) {
        ff_t *m = j->msg + k * j->C;
        for (size_t i = 0; i < j->C; i++)
            m[i] = k ? j->row[i].b : j->row[i].a;
        if (j->sys) { /* the message, then its parity */
            memcpy(j->out[k], m, j->C * sizeof *m);
            j->st[k] = ntt_rs_encode_sys(j->plan, j->rate_bits, m, j->out[k] + j->C, NULL);
        } else {
            j->st[k] = ntt_rs_encode(j->plan, j->rate_bits, 1, NTT_RS_COEFFS, m, j->out[k], NULL);
        }
    }
}

#define PCS_PAR_ENCODE_MIN 4096u /* row length from which the two encodings run in parallel */

static em_status encode_row(const ntt_plan *plan, int sys, unsigned rate_bits, size_t C, const ff2_t *row,
                            ff_t *msg, ff_t *ea, ff_t *eb, em_err *err)
{
    enc_job j = {.plan = plan, .sys = sys, .rate_bits = rate_bits, .C = C, .row = row, .msg = msg, .out = {ea, eb}};
    zk__par_for(C >= PCS_PAR_ENCODE_MIN ? zk__threads(0) : 1, 2, 1, encode_coord, &j);
    for (int k = 0; k < 2; k++)
        if (j.st[k] != EM_OK)
            return em_errf(err, j.st[k], "pcs: encoding a row of %zu coefficients failed", C);
    return EM_OK;
}

/* A message column's proof bytes (each row's value in its run's type) as field elements, run by
 * run (any bytes decode to a value of the type: there is no canonicity to check). */
static void decode_col(const pcs_layout *l, const uint8_t *raw, ff_t *out)
{
    size_t i = 0;
    for (unsigned k = 0; k < l->n_runs; k++) {
        size_t e = l->run_end[k];
        switch (l->run_sym[k]) {
        case PCS_SYM_U8:
            for (; i < e; i++)
                out[i] = *raw++;
            break;
        case PCS_SYM_I8:
            for (; i < e; i++)
                out[i] = ff_from_i64((int8_t)*raw++);
            break;
        default:
            for (unsigned w = pcs_sym_bytes(l->run_sym[k]); i < e; i++, raw += w)
                out[i] = ff_from_i64(sym_decode(l->run_sym[k], raw));
        }
    }
}

/* The opened columns on the verifier's threads: decoded (message columns of a systematic layout)
 * and hashed into their leaves; after the rows' encoding, checked against it. */
typedef struct leaf_job {
    const pcs_layout *l;
    ff_t *cols;
    size_t R;
    const uint8_t **raw; /* systematic: the proof bytes of a message column (int_bytes), else NULL */
    size_t int_bytes;
    uint8_t (*hashes)[MT_HASH_LEN];
    /* columns_match: the encoded combination (ea, eb) and its row weights */
    const ff_t *ea, *eb;
    const ff2_t *weight;
    const uint64_t *idx;
    int bad[ZK_PAR_CHUNKS]; /* per chunk (zk__par_for slots): some column disagrees */
} leaf_job;

static void hash_leaves(void *vctx, size_t b, size_t e, unsigned tid)
{
    (void)tid;
    leaf_job *j = vctx;
    for (size_t q = b; q < e; q++)
        if (j->raw[q]) {
            decode_col(j->l, j->raw[q], j->cols + q * j->R);
            mt_hash_int_leaf(j->raw[q], j->int_bytes, j->hashes[q]);
        } else {
            mt_hash_leaf(j->cols + q * j->R, j->R, j->hashes[q]);
        }
}

/* At every opened column q: the weight-combination of its R entries equals the two encoded
 * coordinates (ea, eb) at that position. */
static void match_cols(void *vctx, size_t b, size_t e, unsigned slot)
{
    leaf_job *j = vctx;
    j->bad[slot] = 0;
    for (size_t q = b; q < e; q++) {
        ff2_t s = ml_dot_base(j->cols + q * j->R, j->weight, j->R);
        if (s.a != j->ea[j->idx[q]] || s.b != j->eb[j->idx[q]])
            j->bad[slot] = 1;
    }
}

static em_status verify_impl(const pcs_layout *l, const uint8_t root[PCS_ROOT_LEN], const pcs_claim *claims,
                             size_t n_claims, open_mode mode, tr_t *tr, em_reader *r, em_err *err)
{
    em_status st;
    const ntt_plan *plan = NULL;
    ff2_t *gamma = NULL, *rho = NULL, *a = NULL, *wg = NULL, *tmp = NULL, *rows = NULL, *eqc = NULL, *y = NULL;
    ff_t *msg = NULL, *enc = NULL, *cols = NULL;
    size_t *group = NULL;
    uint64_t *idx = NULL;
    uint8_t (*hashes)[MT_HASH_LEN] = NULL;
    const uint8_t **raw = NULL;
    if ((st = layout_check(l, err)) != EM_OK ||
        (mode == OPEN_CLAIMS && (st = claims_check(l, claims, n_claims, err)) != EM_OK) ||
        (st = mode_begin(l, mode, tr, err)) != EM_OK)
        return st;
    size_t C = (size_t)1 << l->log_cols, Cm = msg_len(l), N = cw_len(l), R = l->n_rows,
           Rt = total_rows(l), nc1 = n_claims ? n_claims : 1;
    unsigned t = mode_queries(l, mode);
    int with_w = mode_sends_w(l, mode);
    group = malloc(nc1 * sizeof *group);
    if (!group)
        return em_errf(err, EM_ERR_NOMEM, "pcs: verify scratch");
    size_t ng = group_claims(l, claims, n_claims, group);
    if (l->hiding && ng > l->n_masks) {
        st = em_errf(err, EM_ERR_ARG, "pcs: %zu distinct column points, the hiding layout allows %u", ng,
                     l->n_masks);
        goto out;
    }
    /* Everything read below has a length fixed by the layout and the claims: refuse short input
     * before allocating for it (the allocations are then bounded by a constant times the
     * input). */
    size_t nq_max = N <= 2 * (size_t)t ? N : t;
    size_t int_bytes = 0; /* systematic: bytes of a message column */
    for (unsigned k = 0; k < l->n_runs; k++)
        int_bytes += (l->run_end[k] - (k ? l->run_end[k - 1] : 0)) * pcs_sym_bytes(l->run_sym[k]);
    size_t need = (l->hiding ? ng : 0) * FF2_BYTES + ((size_t)with_w + ng) * Cm * FF2_BYTES +
                  nq_max * (l->systematic ? int_bytes : Rt * FF_BYTES);
    if (em_reader_left(r) < need) {
        st = em_errf(err, EM_ERR_PARSE, "pcs: proof truncated (%zu bytes left, at least %zu needed)",
                     em_reader_left(r), need);
        goto out;
    }
    absorb_statement(tr, l, root, claims, n_claims);
    gamma = malloc(Rt * sizeof *gamma);
    rho = malloc(nc1 * sizeof *rho);
    a = malloc(Rt * sizeof *a);
    wg = malloc(Rt * sizeof *wg);
    tmp = malloc(max_poly_rows(l) * sizeof *tmp);
    rows = malloc((1 + ng) * Cm * sizeof *rows);
    eqc = malloc(C * sizeof *eqc);
    y = malloc(nc1 * sizeof *y);
    msg = malloc(2 * Cm * sizeof *msg);
    enc = malloc((2 * N > 4 * Cm ? 2 * N : 4 * Cm) * sizeof *enc); /* also scratch for 4 Cm words below */
    idx = malloc(2 * PCS_MAX_QUERIES * sizeof *idx);
    cols = malloc(nq_max * Rt * sizeof *cols);
    hashes = malloc(nq_max * sizeof *hashes);
    raw = calloc(nq_max, sizeof *raw);
    if (!gamma || !rho || !a || !wg || !tmp || !rows || !eqc || !y || !msg || !enc || !idx || !cols || !hashes ||
        !raw) {
        st = em_errf(err, EM_ERR_NOMEM, "pcs: verify scratch");
        goto out;
    }
    if ((st = ntt_plan_shared(l->systematic ? l->log_cols : msg_log(l) + l->rate_bits, &plan, err)) != EM_OK)
        goto out;
    if (l->hiding) {
        for (size_t g = 0; g < ng; g++)
            if ((st = ff2_read(r, &y[g], err)) != EM_OK) {
                em_err_prefix(err, "pcs: mask evaluation %zu: ", g);
                goto out;
            }
        tr_absorb_ff2(tr, "pcs/y", y, ng);
    }
    if (with_w) {
        tr_challenge_ff2_vec(tr, "pcs/gamma", gamma, R);
        set_mask_weights(l, gamma, R);
        if ((st = read_ff_vec(r, (ff_t *)rows, 2 * Cm, "combination row", 0, err)) != EM_OK)
            goto out;
        tr_absorb_ff2(tr, "pcs/w", rows, Cm);
    } else { /* a tested layout: no proximity row, so w = 0 with weights 0 in the checks below */
        memset(gamma, 0, Rt * sizeof *gamma);
        memset(rows, 0, Cm * sizeof *rows);
    }
    if (mode == OPEN_CLAIMS)
        tr_challenge_ff2_vec(tr, "pcs/rho", rho, n_claims);
    for (size_t g = 0; g < ng; g++) {
        ff2_t *ug = rows + (1 + g) * Cm;
        if ((st = read_ff_vec(r, (ff_t *)ug, 2 * Cm, "evaluation row", g, err)) != EM_OK)
            goto out;
        tr_absorb_ff2(tr, "pcs/u", ug, Cm);
        /* <u_g, eq(z_col)> over the data coefficients must equal the rho-combination of the
         * group's claimed values (plus the mask row's share y_g when hiding). */
        size_t first = 0;
        ff2_t want = l->hiding ? y[g] : ff2_zero();
        for (size_t k = 0; k < n_claims; k++)
            if (group[k] == g) {
                want = ff2_add(want, ff2_mul(rho[k], claims[k].value));
                first = k;
            }
        ml_eq_table(claims[first].point, l->log_cols, ff2_one(), eqc);
        if (!ff2_eq(ml_dot_ext(ug, eqc, C), want)) {
            st = em_errf(err, EM_ERR_VERIFY, "pcs: evaluation row %zu does not give the claimed values", g);
            goto out;
        }
    }
    size_t nq = sample_queries(tr, N, t, idx);
    for (size_t q = 0; q < nq; q++) {
        if (!l->systematic || idx[q] >= C) {
            if ((st = read_ff_vec(r, cols + q * Rt, Rt, "column", q, err)) != EM_OK)
                goto out;
            continue;
        }
        /* a message column: each row's integer in its type's bytes, decoded on the threads */
        size_t off = r->off;
        if (em_reader_view(r, &raw[q], int_bytes) != EM_OK) {
            st = em_errf(err, EM_ERR_PARSE, "pcs: column %zu truncated at offset %zu", q, off);
            goto out;
        }
    }
    leaf_job lj = {.l = l, .cols = cols, .R = Rt, .raw = raw, .int_bytes = int_bytes, .hashes = hashes};
    zk__par_for(zk__threads(0), nq, (32768 + Rt - 1) / Rt, hash_leaves, &lj); /* chunks of >= 256 KiB */
    if ((st = mt_verify_reader(root, tree_log(l), idx, (const uint8_t(*)[MT_HASH_LEN])hashes, nq,
                               r, err)) != EM_OK) {
        em_err_prefix(err, "pcs: column openings: ");
        goto out;
    }
    /* The 1 + ng rows must each agree with the opened columns: checked as one random combination
     * v = w + sum_g zeta^(g+1) u_g against the weights gamma + sum_g zeta^(g+1) a_g, which needs
     * one encoding instead of 1 + ng. zeta is a Fiat-Shamir challenge like the others, squeezed
     * from a copy of the transcript so the transcript the next steps (and the prover) use is
     * unchanged: by then it binds the root, layout, claims, every row and the query positions,
     * and the opened columns are fixed by the root. A row that disagrees at some queried column
     * makes the combination agree there for at most ng values of zeta: error ng/|F| per
     * attempt on top of the opening's. */
    tr_t tz = *tr;
    ff2_t zeta = tr_challenge_ff2(&tz, "pcs/zeta"), zp = ff2_one();
    for (size_t i = 0; i < Rt; i++)
        a[i] = gamma[i];
    for (size_t g = 0; g < ng; g++) {
        zp = ff2_mul(zp, zeta);
        const ff2_t *ug = rows + (1 + g) * Cm;
        /* rows += zp * u_g with the SIMD kernels; enc (>= 4 Cm words, unused until the
         * encoding below) holds zp broadcast and the product */
        ff2_t *zv = (ff2_t *)enc, *prod = zv + Cm;
        for (size_t i = 0; i < Cm; i++)
            zv[i] = zp;
        ff2_vec_mul(prod, ug, zv, Cm);
        ff_vec_add((ff_t *)rows, (const ff_t *)rows, (const ff_t *)prod, 2 * Cm);
        group_weights(l, claims, n_claims, group, g, rho, wg, tmp);
        set_mask_weights(l, wg, R + 1 + g);
        for (size_t i = 0; i < Rt; i++)
            a[i] = ff2_add(a[i], ff2_mul(zp, wg[i]));
    }
    if ((st = encode_row(plan, l->systematic, l->systematic ? sys_rate(l) : l->rate_bits, Cm, rows, msg, enc, enc + N,
                         err)) != EM_OK)
        goto out;
    lj.ea = enc;
    lj.eb = enc + N;
    lj.weight = a;
    lj.idx = idx;
    unsigned nch = zk__par_for(zk__threads(0), nq, (32768 + Rt - 1) / Rt, match_cols, &lj);
    int bad = 0;
    for (unsigned c = 0; c < nch; c++)
        bad |= lj.bad[c];
    if (bad) {
        st = em_errf(err, EM_ERR_VERIFY, "pcs: the proximity and evaluation rows are inconsistent with the opened "
                     "columns");
        goto out;
    }
out:
    free(gamma);
    free(rho);
    free(a);
    free(wg);
    free(tmp);
    free(rows);
    free(eqc);
    free(y);
    free(msg);
    free(enc);
    free(idx);
    free(cols);
    free(hashes);
    free(raw);
    free(group);
    return st;
}

em_status pcs_verify(const pcs_layout *l, const uint8_t root[PCS_ROOT_LEN], const pcs_claim *claims,
                     size_t n_claims, tr_t *tr, em_reader *r, em_err *err)
{
    return verify_impl(l, root, claims, n_claims, OPEN_CLAIMS, tr, r, err);
}

em_status pcs_verify_proximity(const pcs_layout *l, const uint8_t root[PCS_ROOT_LEN], tr_t *tr, em_reader *r,
                               em_err *err)
{
    return verify_impl(l, root, NULL, 0, OPEN_PROXIMITY, tr, r, err);
}
