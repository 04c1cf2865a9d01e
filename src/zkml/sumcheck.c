/* Sumcheck prover/verifier for sums of products of multilinear tables (sumcheck.h). */
#include "enclaveml/zkml/sumcheck.h"

#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/ff_vec.h"
#include "enclaveml/zkml/ml.h"
#include "sc_internal.h"
#include "zk_internal.h"

em_status sc_shape_check(const sc_shape *s, em_err *err)
{
    if (!s)
        return em_errf(err, EM_ERR_ARG, "sumcheck: NULL shape");
    if (s->n_vars > SC_MAX_VARS)
        return em_errf(err, EM_ERR_ARG, "sumcheck: n_vars %u > %d", s->n_vars, SC_MAX_VARS);
    if (s->n_tables < 1 || s->n_tables > SC_MAX_TABLES)
        return em_errf(err, EM_ERR_ARG, "sumcheck: n_tables %u not in 1..%d", s->n_tables, SC_MAX_TABLES);
    if (s->n_terms < 1 || s->n_terms > SC_MAX_TERMS)
        return em_errf(err, EM_ERR_ARG, "sumcheck: n_terms %u not in 1..%d", s->n_terms, SC_MAX_TERMS);
    for (unsigned t = 0; t < s->n_terms; t++) {
        const sc_term *tm = &s->term[t];
        if (tm->n_factors < 1 || tm->n_factors > SC_MAX_DEGREE)
            return em_errf(err, EM_ERR_ARG, "sumcheck: term %u has %u factors (1..%d)", t,
                           tm->n_factors, SC_MAX_DEGREE);
        if (!ff_is_canonical(tm->coeff.a) || !ff_is_canonical(tm->coeff.b))
            return em_errf(err, EM_ERR_ARG, "sumcheck: term %u coefficient not canonical", t);
        for (unsigned i = 0; i < tm->n_factors; i++)
            if (tm->factor[i] >= s->n_tables)
                return em_errf(err, EM_ERR_ARG, "sumcheck: term %u factor %u = table %u >= %u", t, i,
                               tm->factor[i], s->n_tables);
    }
    return EM_OK;
}

unsigned sc_shape_degree(const sc_shape *s)
{
    unsigned d = 0;
    for (unsigned t = 0; t < s->n_terms; t++)
        if (s->term[t].n_factors > d)
            d = s->term[t].n_factors;
    return d;
}

void sc_shape_product2(sc_shape *s, unsigned n_vars)
{
    memset(s, 0, sizeof *s);
    s->n_vars = n_vars;
    s->n_tables = 2;
    s->n_terms = 1;
    s->term[0] = (sc_term){.coeff = ff2_one(), .n_factors = 2, .factor = {0, 1}};
}

size_t sc_prove_scratch_len(const sc_shape *s)
{
    size_t half = s->n_vars ? (size_t)1 << (s->n_vars - 1) : 1;
    return (size_t)s->n_tables * half;
}

static int is_product2(const sc_shape *s)
{
    return s->n_terms == 1 && s->term[0].n_factors == 2 && s->term[0].factor[0] != s->term[0].factor[1];
}

void sc__absorb_shape(tr_t *tr, const sc_shape *s, unsigned d, ff2_t claim)
{
    uint64_t hdr[4] = {s->n_vars, d, s->n_tables, s->n_terms};
    for (unsigned i = 0; i < 4; i++)
        tr_absorb_u64(tr, "sc/shape", hdr[i]);
    for (unsigned t = 0; t < s->n_terms; t++) {
        const sc_term *tm = &s->term[t];
        uint64_t f = tm->n_factors;
        for (unsigned i = 0; i < tm->n_factors; i++)
            f |= (uint64_t)tm->factor[i] << (8 * (i + 1));
        tr_absorb_u64(tr, "sc/shape", f);
        tr_absorb_ff2(tr, "sc/shape", &tm->coeff, 1);
    }
    tr_absorb_ff2(tr, "sc/claim", &claim, 1);
}

/* g(r) from g(0..d) by Lagrange interpolation over the integer nodes 0..d. */
ff2_t sc__interp(const ff2_t *g, unsigned d, ff2_t r)
{
    ff2_t res = ff2_zero();
    for (unsigned i = 0; i <= d; i++) {
        ff2_t num = ff2_one();
        ff_t den = 1;
        for (unsigned j = 0; j <= d; j++) {
            if (j == i)
                continue;
            num = ff2_mul(num, ff2_sub(r, ff2_from_base(j)));
            den = ff_mul(den, ff_sub(ff_from_u64(i), ff_from_u64(j)));
        }
        res = ff2_add(res, ff2_mul_base(ff2_mul(g[i], num), ff_inv(den)));
    }
    return res;
}

/* Full evaluations g(0..d) from the wire values g(0), g(2..d) and the running claim. */
void sc__full_round(const ff2_t *wire, unsigned d, ff2_t claim, ff2_t *g)
{
    g[0] = wire[0];
    g[1] = ff2_sub(claim, wire[0]);
    for (unsigned t = 2; t <= d; t++)
        g[t] = wire[t - 1];
}

ff2_t sc_sum(const sc_shape *s, const sc_tables *tb)
{
    size_t n = (size_t)1 << s->n_vars;
    ff2_t total = ff2_zero();
    for (unsigned t = 0; t < s->n_terms; t++) {
        const sc_term *tm = &s->term[t];
        ff2_t acc = ff2_zero();
        for (size_t x = 0; x < n; x++) {
            ff2_t p = ff2_one();
            for (unsigned i = 0; i < tm->n_factors; i++) {
                unsigned k = tm->factor[i];
                p = tb->base[k] ? ff2_mul_base(p, tb->base[k][x]) : ff2_mul(p, tb->ext[k][x]);
            }
            acc = ff2_add(acc, p);
        }
        total = ff2_add(total, ff2_mul(acc, tm->coeff));
    }
    return total;
}

/* One round over tables given as base or ext pointers (cur_b/cur_e), len entries each (even).
 * out[t] for t = 0, 2, ..., d stored at out[0], out[1..d-1]. */
/* flatten: force the ff2 arithmetic inline in this hot loop (GCC -O2 keeps ff2_mul
 * out of line otherwise; ~2x slower). */
__attribute__((flatten)) static void round_generic(const sc_shape *s, unsigned d, const ff_t *const *cb, const ff2_t *const *ce, size_t len,
                          ff2_t *out)
{
    ff2_t acc[SC_MAX_TERMS][SC_MAX_DEGREE];
    memset(acc, 0, sizeof acc);
    for (size_t i = 0; i < len / 2; i++) {
        ff2_t v[SC_MAX_TABLES][SC_MAX_DEGREE + 1];
        for (unsigned k = 0; k < s->n_tables; k++) {
            ff2_t lo, hi;
            if (cb[k]) {
                lo = ff2_from_base(cb[k][2 * i]);
                hi = ff2_from_base(cb[k][2 * i + 1]);
            } else {
                lo = ce[k][2 * i];
                hi = ce[k][2 * i + 1];
            }
            ff2_t dlt = ff2_sub(hi, lo);
            v[k][0] = lo;
            v[k][1] = hi;
            for (unsigned t = 2; t <= d; t++)
                v[k][t] = ff2_add(v[k][t - 1], dlt);
        }
        for (unsigned t = 0; t < s->n_terms; t++) {
            const sc_term *tm = &s->term[t];
            for (unsigned e = 0; e <= d; e++) {
                if (e == 1)
                    continue;
                ff2_t p = v[tm->factor[0]][e];
                for (unsigned f = 1; f < tm->n_factors; f++) {
                    unsigned k = tm->factor[f];
                    /* base tables (first round) have zero second coordinates: 2 products */
                    p = cb[k] ? ff2_mul_base(p, v[k][e].a) : ff2_mul(p, v[k][e]);
                }
                unsigned slot = e == 0 ? 0 : e - 1;
                acc[t][slot] = ff2_add(acc[t][slot], p);
            }
        }
    }
    for (unsigned e = 0; e < d; e++) {
        ff2_t sum = ff2_zero();
        for (unsigned t = 0; t < s->n_terms; t++)
            sum = ff2_add(sum, ff2_mul(acc[t][e], s->term[t].coeff));
        out[e] = sum;
    }
}

/* Degree-2 product of two base tables: all arithmetic in the base field (first round). */
static void round_prod2_base(const ff_t *a, const ff_t *b, size_t len, ff2_t coeff, ff2_t *out)
{
    ff_t g0 = 0, g2 = 0;
    for (size_t i = 0; i < len / 2; i++) {
        ff_t a0 = a[2 * i], a1 = a[2 * i + 1], b0 = b[2 * i], b1 = b[2 * i + 1];
        g0 = ff_add(g0, ff_mul(a0, b0));
        /* value at 2: 2*hi - lo */
        ff_t a2 = ff_sub(ff_add(a1, a1), a0), b2 = ff_sub(ff_add(b1, b1), b0);
        g2 = ff_add(g2, ff_mul(a2, b2));
    }
    out[0] = ff2_mul_base(coeff, g0);
    out[1] = ff2_mul_base(coeff, g2);
}

__attribute__((flatten)) static void round_prod2_ext(const ff2_t *a, const ff2_t *b, size_t len, ff2_t coeff, ff2_t *out)
{
    ff2_t g0 = ff2_zero(), g2 = ff2_zero();
    for (size_t i = 0; i < len / 2; i++) {
        ff2_t a0 = a[2 * i], a1 = a[2 * i + 1], b0 = b[2 * i], b1 = b[2 * i + 1];
        g0 = ff2_add(g0, ff2_mul(a0, b0));
        ff2_t a2 = ff2_sub(ff2_add(a1, a1), a0), b2 = ff2_sub(ff2_add(b1, b1), b0);
        g2 = ff2_add(g2, ff2_mul(a2, b2));
    }
    out[0] = ff2_mul(coeff, g0);
    out[1] = ff2_mul(coeff, g2);
}

static ff2_t final_combination(const sc_shape *s, const ff2_t *evals)
{
    ff2_t sum = ff2_zero();
    for (unsigned t = 0; t < s->n_terms; t++) {
        const sc_term *tm = &s->term[t];
        ff2_t p = tm->coeff;
        for (unsigned f = 0; f < tm->n_factors; f++)
            p = ff2_mul(p, evals[tm->factor[f]]);
        sum = ff2_add(sum, p);
    }
    return sum;
}

em_status sc_prove(const sc_shape *s, const sc_tables *tb, ff2_t claim, tr_t *tr, ff2_t *scratch,
                   sc_proof *proof, ff2_t *point, em_err *err)
{
    em_status st;
    ff2_t *own = NULL;
    if ((st = sc_shape_check(s, err)) != EM_OK)
        return st;
    for (unsigned k = 0; k < s->n_tables; k++)
        if (!tb->base[k] == !tb->ext[k])
            return em_errf(err, EM_ERR_ARG, "sumcheck: table %u must be exactly one of base/ext", k);
    unsigned d = sc_shape_degree(s), n = s->n_vars;
    memset(proof, 0, sizeof *proof);
    proof->n_vars = n;
    proof->degree = d;
    proof->n_tables = s->n_tables;
    sc__absorb_shape(tr, s, d, claim);

    if (n == 0) {
        for (unsigned k = 0; k < s->n_tables; k++)
            proof->final_eval[k] = tb->base[k] ? ff2_from_base(tb->base[k][0]) : tb->ext[k][0];
        tr_absorb_ff2(tr, "sc/final", proof->final_eval, s->n_tables);
        if (!ff2_eq(final_combination(s, proof->final_eval), claim))
            return em_errf(err, EM_ERR_ARG, "sumcheck: claim is not the sum of the instance");
        return EM_OK;
    }
    size_t half = (size_t)1 << (n - 1);
    if (!scratch) {
        own = malloc(sc_prove_scratch_len(s) * sizeof *own);
        if (!own)
            return em_errf(err, EM_ERR_NOMEM, "sumcheck: scratch of %zu elements", sc_prove_scratch_len(s));
        scratch = own;
    }
    const ff_t *cb[SC_MAX_TABLES] = {0};
    const ff2_t *ce[SC_MAX_TABLES] = {0};
    for (unsigned k = 0; k < s->n_tables; k++) {
        cb[k] = tb->base[k];
        ce[k] = tb->ext[k]; /* the caller's tables in round 0; scratch slots from round 1 on */
    }
    int p2 = is_product2(s);
    unsigned fa = s->term[0].factor[0], fb = s->term[0].factor[1];
    size_t len = (size_t)1 << n;
    ff2_t cur = claim;
    for (unsigned j = 0; j < n; j++) {
        ff2_t *msg = proof->round[j];
        if (p2 && j == 0 && cb[fa] && cb[fb])
            round_prod2_base(cb[fa], cb[fb], len, s->term[0].coeff, msg);
        else if (p2 && !cb[fa] && !cb[fb])
            round_prod2_ext(ce[fa], ce[fb], len, s->term[0].coeff, msg);
        else
            round_generic(s, d, cb, ce, len, msg);
        tr_absorb_ff2(tr, "sc/round", msg, d);
        ff2_t r = tr_challenge_ff2(tr, "sc/r");
        point[j] = r;
        ff2_t g[SC_MAX_DEGREE + 1];
        sc__full_round(msg, d, cur, g);
        cur = sc__interp(g, d, r);
        /* Bind x_j := r, moving every table into its scratch slot on the first round. */
        for (unsigned k = 0; k < s->n_tables; k++) {
            ff2_t *dst = scratch + (size_t)k * half;
            if (j == 0) {
                if (cb[k]) {
                    ml_fold_base(cb[k], len, r, dst);
                } else {
                    const ff2_t *src = tb->ext[k];
                    for (size_t i = 0; i < len / 2; i++)
                        dst[i] = ff2_add(src[2 * i], ff2_mul(r, ff2_sub(src[2 * i + 1], src[2 * i])));
                }
                cb[k] = NULL;
                ce[k] = dst;
            } else {
                ml_fold_ext(dst, len, r);
            }
        }
        len /= 2;
    }
    for (unsigned k = 0; k < s->n_tables; k++)
        proof->final_eval[k] = ce[k][0];
    if (!ff2_eq(final_combination(s, proof->final_eval), cur))
        st = em_errf(err, EM_ERR_ARG, "sumcheck: claim is not the sum of the instance");
    tr_absorb_ff2(tr, "sc/final", proof->final_eval, s->n_tables);
    free(own);
    return st;
}

em_status sc_verify(const sc_shape *s, ff2_t claim, const sc_proof *proof, tr_t *tr, ff2_t *point,
                    ff2_t *evals, em_err *err)
{
    em_status st;
    if ((st = sc_shape_check(s, err)) != EM_OK)
        return st;
    unsigned d = sc_shape_degree(s);
    if (proof->n_vars != s->n_vars || proof->degree != d || proof->n_tables != s->n_tables)
        return em_errf(err, EM_ERR_FORMAT, "sumcheck: proof shape (%u vars, degree %u, %u tables) != expected (%u, %u, %u)",
                       proof->n_vars, proof->degree, proof->n_tables, s->n_vars, d, s->n_tables);
    sc__absorb_shape(tr, s, d, claim);
    ff2_t cur = claim;
    for (unsigned j = 0; j < s->n_vars; j++) {
        tr_absorb_ff2(tr, "sc/round", proof->round[j], d);
        ff2_t r = tr_challenge_ff2(tr, "sc/r");
        point[j] = r;
        ff2_t g[SC_MAX_DEGREE + 1];
        sc__full_round(proof->round[j], d, cur, g);
        cur = sc__interp(g, d, r);
    }
    if (!ff2_eq(final_combination(s, proof->final_eval), cur))
        return em_errf(err, EM_ERR_VERIFY, "sumcheck: final evaluations do not match the last round");
    tr_absorb_ff2(tr, "sc/final", proof->final_eval, s->n_tables);
    memcpy(evals, proof->final_eval, s->n_tables * sizeof *evals);
    return EM_OK;
}

size_t sc_proof_size(const sc_shape *s)
{
    return ((size_t)s->n_vars * sc_shape_degree(s) + s->n_tables) * FF2_BYTES;
}

em_status sc_proof_write(const sc_proof *p, em_buf *out, em_err *err)
{
    uint8_t b[FF2_BYTES];
    for (unsigned j = 0; j < p->n_vars; j++)
        for (unsigned e = 0; e < p->degree; e++) {
            ff2_encode(p->round[j][e], b);
            if (em_buf_append(out, b, sizeof b) != EM_OK)
                return em_errf(err, EM_ERR_LIMIT, "sumcheck: proof buffer full");
        }
    for (unsigned k = 0; k < p->n_tables; k++) {
        ff2_encode(p->final_eval[k], b);
        if (em_buf_append(out, b, sizeof b) != EM_OK)
            return em_errf(err, EM_ERR_LIMIT, "sumcheck: proof buffer full");
    }
    return EM_OK;
}

em_status sc_proof_read(const sc_shape *s, em_reader *r, sc_proof *p, em_err *err)
{
    em_status st;
    if ((st = sc_shape_check(s, err)) != EM_OK)
        return st;
    memset(p, 0, sizeof *p);
    p->n_vars = s->n_vars;
    p->degree = sc_shape_degree(s);
    p->n_tables = s->n_tables;
    if (em_reader_left(r) < sc_proof_size(s))
        return em_errf(err, EM_ERR_PARSE, "sumcheck: proof truncated (%zu bytes left, %zu needed)",
                       em_reader_left(r), sc_proof_size(s));
    for (unsigned j = 0; j < p->n_vars; j++)
        for (unsigned e = 0; e < p->degree; e++)
            if ((st = ff2_read(r, &p->round[j][e], err)) != EM_OK) {
                em_err_prefix(err, "sumcheck round %u value %u: ", j, e); /* st survives a NULL err */
                return st;
            }
    for (unsigned k = 0; k < p->n_tables; k++)
        if ((st = ff2_read(r, &p->final_eval[k], err)) != EM_OK) {
            em_err_prefix(err, "sumcheck final evaluation %u: ", k); /* st survives a NULL err */
            return st;
        }
    return EM_OK;
}

/* ---- claim folding --------------------------------------------------------------------------- */

static em_status fold_start(unsigned n_vars, const ff2_t *const *points, const ff2_t *values, size_t n_claims,
                            tr_t *tr, ff2_t *rho, ff2_t *claim, em_err *err)
{
    if (n_vars > SC_MAX_VARS || n_vars > 30)
        return em_errf(err, EM_ERR_ARG, "sumcheck fold: %u variables (max 30)", n_vars);
    tr_absorb_u64(tr, "sc/fold", n_claims);
    tr_absorb_u64(tr, "sc/fold", n_vars);
    for (size_t k = 0; k < n_claims; k++) {
        tr_absorb_ff2(tr, "sc/fold", points[k], n_vars);
        tr_absorb_ff2(tr, "sc/fold", &values[k], 1);
    }
    tr_challenge_ff2_vec(tr, "sc/fold-rho", rho, n_claims);
    *claim = ff2_zero();
    for (size_t k = 0; k < n_claims; k++)
        *claim = ff2_add(*claim, ff2_mul(rho[k], values[k]));
    return EM_OK;
}

/* The fold's product sumcheck sum_x P(x) G(x) (P base, G ext), with the same transcript and
 * proof as sc_prove on sc_shape_product2. Each pass binds the round's challenge and, in the same
 * sweep, sums the next round's g(0) and g(2) over the freshly folded pairs; chunks of output
 * pairs run on several threads (out of place, so chunks never overlap), and the per-chunk sums
 * are added in chunk order (exact field arithmetic: the same values for any thread count). */
typedef struct fold_ctx {
    const ff_t *pb;      /* round 0: P as base values */
    const ff2_t *pe, *g; /* later rounds: P and G (ext) */
    ff2_t *po, *go;      /* fold targets */
    ff2_t r;
    int eval;            /* also sum the next round over the folded pairs */
    ff2_t part[ZK_MAX_THREADS][2];
} fold_ctx;

enum { FOLD_BLK = 256 }; /* pairs per block of a vectorised pass (stays in L1/L2) */

/* Round 0 sums over pairs [b, e): P base, G ext; each block is split into even/odd arrays so
 * the sums run on the ff_vec / ff2_vec kernels. */
static void fold_first_eval(void *vctx, size_t b, size_t e, unsigned tid)
{
    fold_ctx *x = vctx;
    ff_t pa[3][FOLD_BLK];
    ff2_t ga[3][FOLD_BLK];
    ff2_t s0 = ff2_zero(), s2 = ff2_zero();
    for (size_t i0 = b; i0 < e; i0 += FOLD_BLK) {
        size_t nb = e - i0 < FOLD_BLK ? e - i0 : FOLD_BLK;
        const ff_t *p = x->pb + 2 * i0;
        const ff2_t *g = x->g + 2 * i0;
        for (size_t j = 0; j < nb; j++) {
            pa[0][j] = p[2 * j];
            pa[1][j] = p[2 * j + 1];
            ga[0][j] = g[2 * j];
            ga[1][j] = g[2 * j + 1];
        }
        /* values at 2: 2 hi - lo */
        ff_vec_add(pa[2], pa[1], pa[1], nb);
        ff_vec_sub(pa[2], pa[2], pa[0], nb);
        ff_vec_add((ff_t *)ga[2], (const ff_t *)ga[1], (const ff_t *)ga[1], 2 * nb);
        ff_vec_sub((ff_t *)ga[2], (const ff_t *)ga[2], (const ff_t *)ga[0], 2 * nb);
        s0 = ff2_add(s0, ff2_vec_dot_base(ga[0], pa[0], nb));
        s2 = ff2_add(s2, ff2_vec_dot_base(ga[2], pa[2], nb));
    }
    x->part[tid][0] = s0;
    x->part[tid][1] = s2;
}

/* Binds r over output pairs [b, e) (outputs 2j, 2j+1 from inputs 4j..4j+3) with the ff2_vec
 * fold kernels, block by block; with eval, sums the next round over each block while it is
 * still in cache. A single output (the last round) is handled by the caller. */
static void fold_bind(void *vctx, size_t b, size_t e, unsigned tid)
{
    fold_ctx *x = vctx;
    ff2_t r = x->r, s0 = ff2_zero(), s2 = ff2_zero();
    ff2_t pa[3][FOLD_BLK], ga[3][FOLD_BLK];
    for (size_t j0 = b; j0 < e; j0 += FOLD_BLK) {
        size_t nb = e - j0 < FOLD_BLK ? e - j0 : FOLD_BLK;
        ff2_t *po = x->po + 2 * j0, *go = x->go + 2 * j0;
        if (x->pb)
            ff_vec_fold_base(po, x->pb + 4 * j0, 2 * nb, r);
        else
            ff2_vec_fold(po, x->pe + 4 * j0, 2 * nb, r);
        ff2_vec_fold(go, x->g + 4 * j0, 2 * nb, r);
        if (!x->eval)
            continue;
        for (size_t j = 0; j < nb; j++) {
            pa[0][j] = po[2 * j];
            pa[1][j] = po[2 * j + 1];
            ga[0][j] = go[2 * j];
            ga[1][j] = go[2 * j + 1];
        }
        ff_vec_add((ff_t *)pa[2], (const ff_t *)pa[1], (const ff_t *)pa[1], 2 * nb);
        ff_vec_sub((ff_t *)pa[2], (const ff_t *)pa[2], (const ff_t *)pa[0], 2 * nb);
        ff_vec_add((ff_t *)ga[2], (const ff_t *)ga[1], (const ff_t *)ga[1], 2 * nb);
        ff_vec_sub((ff_t *)ga[2], (const ff_t *)ga[2], (const ff_t *)ga[0], 2 * nb);
        s0 = ff2_add(s0, ff2_vec_dot(pa[0], ga[0], nb));
        s2 = ff2_add(s2, ff2_vec_dot(pa[2], ga[2], nb));
    }
    x->part[tid][0] = s0;
    x->part[tid][1] = s2;
}

#define SC_PAR_MIN 4096 /* pairs per thread below which a pass runs inline */

static ff2_t fold_sums(fold_ctx *x, unsigned nc, ff2_t *msg)
{
    msg[0] = msg[1] = ff2_zero();
    for (unsigned k = 0; k < nc; k++) {
        msg[0] = ff2_add(msg[0], x->part[k][0]);
        msg[1] = ff2_add(msg[1], x->part[k][1]);
    }
    return msg[0];
}

/* scratch: 2^n ff2 (n >= 1) for the round-0 fold targets; later rounds alternate between
 * scratch and g (no longer read after round 0). Only the first cur entries of the current tables
 * can be nonzero (cur = live, a multiple of 4, in round 0): passes cover those, and the entries
 * up to the next multiple of 4 (or the table end) are kept zero so a pass reads no stale values.
 * Skipped terms are zero, so the proof is the same as over the whole tables. */
static em_status fold_sumcheck(const ff_t *p, ff2_t *g, unsigned n, size_t live, ff2_t claim, tr_t *tr,
                               ff2_t *scratch, unsigned threads, sc_proof *proof, ff2_t *point, em_err *err)
{
    sc_shape s;
    sc_shape_product2(&s, n);
    memset(proof, 0, sizeof *proof);
    proof->n_vars = n;
    proof->degree = 2;
    proof->n_tables = 2;
    sc__absorb_shape(tr, &s, 2, claim);
    size_t N = (size_t)1 << n;
    /* ping: 2^(n-1) each for P and G (round 0 targets); pong (in g): 2^(n-2) each */
    ff2_t *ping_p = scratch, *ping_g = scratch + N / 2;
    ff2_t *pong_p = g, *pong_g = g + N / 4;
    fold_ctx x;
    memset(&x, 0, sizeof x);
    x.pb = p;
    x.g = g;
    unsigned nc = zk__par_for(threads, live / 2, SC_PAR_MIN, fold_first_eval, &x);
    fold_sums(&x, nc, proof->round[0]);
    ff2_t cur = claim, fp = ff2_zero(), fg = ff2_zero();
    size_t len = N, used = live;
    for (unsigned j = 0; j < n; j++) {
        ff2_t *msg = proof->round[j];
        tr_absorb_ff2(tr, "sc/round", msg, 2);
        ff2_t r = tr_challenge_ff2(tr, "sc/r");
        point[j] = r;
        ff2_t gv[3];
        sc__full_round(msg, 2, cur, gv);
        cur = sc__interp(gv, 2, r);
        if (len == 2) { /* the last binding leaves one value per table */
            if (x.pb)
                fp = ff2_add(ff2_from_base(x.pb[0]), ff2_mul_base(r, ff_sub(x.pb[1], x.pb[0])));
            else
                fp = ff2_add(x.pe[0], zk__mul2(r, ff2_sub(x.pe[1], x.pe[0])));
            fg = ff2_add(x.g[0], zk__mul2(r, ff2_sub(x.g[1], x.g[0])));
            break;
        }
        x.r = r;
        x.eval = 1;
        x.po = j % 2 == 0 ? ping_p : pong_p;
        x.go = j % 2 == 0 ? ping_g : pong_g;
        size_t pairs = (used + 3) / 4;
        nc = zk__par_for(threads, pairs, SC_PAR_MIN, fold_bind, &x);
        fold_sums(&x, nc, proof->round[j + 1]);
        x.pb = NULL;
        x.pe = x.po;
        x.g = x.go;
        len /= 2;
        used = 2 * pairs;
        for (size_t e = used; e < len && e % 4 != 0; e++)
            x.po[e] = x.go[e] = ff2_zero();
    }
    em_status st = EM_OK;
    proof->final_eval[0] = fp;
    proof->final_eval[1] = fg;
    if (!ff2_eq(zk__mul2(fp, fg), cur))
        st = em_errf(err, EM_ERR_ARG, "sumcheck: claim is not the sum of the instance");
    tr_absorb_ff2(tr, "sc/final", proof->final_eval, 2);
    return st;
}

em_status sc__fold_prove_mt(const ff_t *table, size_t len, unsigned n_vars, const ff2_t *const *points,
                            const ff2_t *values, size_t n_claims, unsigned threads, tr_t *tr, sc_proof *proof,
                            ff2_t *point, ff2_t *value, em_err *err)
{
    em_status st;
    ff2_t *rho = NULL, *g = NULL, *scratch = NULL;
    ff_t *pad = NULL;
    if (n_claims < 1 || n_claims > (1u << 20))
        return em_errf(err, EM_ERR_ARG, "sumcheck fold: %zu claims (1..2^20)", n_claims);
    if (n_vars > 30 || len > ((size_t)1 << n_vars))
        return em_errf(err, EM_ERR_ARG, "sumcheck fold: table of %zu entries for %u variables", len, n_vars);
    size_t N = (size_t)1 << n_vars;
    /* live: entries [live, N) of both tables are zero, so the rounds skip them (a packed witness
     * is often only 3/4 full). It needs a table of a multiple of 4 entries (passes read 4 at a
     * time) and every claim's sub-cube inside it; otherwise the table is padded to N. */
    size_t live = len % 4 == 0 && len >= 4 ? len : N;
    size_t *off = malloc(n_claims * sizeof *off);
    unsigned *low = malloc(n_claims * sizeof *low);
    rho = malloc(n_claims * sizeof *rho);
    if (!off || !low || !rho) {
        st = em_errf(err, EM_ERR_NOMEM, "sumcheck fold: %zu claims", n_claims);
        goto out;
    }
    for (size_t k = 0; k < n_claims; k++) {
        /* Top coordinates that are Boolean constants (block selectors of packed polynomials)
         * restrict eq(z_k, .) to one sub-cube: build only that part, so packed claims cost
         * their block size, not 2^n_vars. */
        low[k] = n_vars;
        off[k] = 0;
        while (low[k] > 0 && points[k][low[k] - 1].b == 0 && points[k][low[k] - 1].a <= 1) {
            off[k] |= (size_t)points[k][low[k] - 1].a << (low[k] - 1);
            low[k]--;
        }
        if (off[k] + ((size_t)1 << low[k]) > live)
            live = N;
    }
    g = zk__big_alloc(N * sizeof *g);
    scratch = zk__big_alloc(N * sizeof *scratch);
    if (live > len)
        pad = zk__big_alloc(N * sizeof *pad);
    if (!g || !scratch || (live > len && !pad)) {
        st = em_errf(err, EM_ERR_NOMEM, "sumcheck fold: tables of 2^%u", n_vars);
        goto out;
    }
    memset(g, 0, live * sizeof *g);
    if (pad) {
        memset(pad, 0, N * sizeof *pad);
        if (len)
            memcpy(pad, table, len * sizeof *pad);
    }
    ff2_t claim;
    if ((st = fold_start(n_vars, points, values, n_claims, tr, rho, &claim, err)) != EM_OK)
        goto out;
    for (size_t k = 0; k < n_claims; k++)
        zk__eq_table(points[k], low[k], rho[k], g + off[k], 1, threads);
    const ff_t *p = pad ? pad : table;
    if (n_vars == 0) {
        sc_shape s;
        sc_shape_product2(&s, 0);
        sc_tables t;
        memset(&t, 0, sizeof t);
        t.base[0] = p;
        t.ext[1] = g;
        st = sc_prove(&s, &t, claim, tr, NULL, proof, point, err);
    } else {
        st = fold_sumcheck(p, g, n_vars, live, claim, tr, scratch, threads, proof, point, err);
    }
    if (st != EM_OK) {
        em_err_prefix(err, "sumcheck fold (a claimed value is false?): ");
        goto out;
    }
    *value = proof->final_eval[0];
out:
    free(off);
    free(low);
    free(rho);
    zk__big_free(g);
    zk__big_free(scratch);
    zk__big_free(pad);
    return st;
}

em_status sc_fold_prove(const ff_t *table, size_t len, unsigned n_vars, const ff2_t *const *points,
                        const ff2_t *values, size_t n_claims, tr_t *tr, sc_proof *proof, ff2_t *point, ff2_t *value,
                        em_err *err)
{
    return sc__fold_prove_mt(table, len, n_vars, points, values, n_claims, 1, tr, proof, point, value, err);
}

em_status sc_fold_verify(unsigned n_vars, const ff2_t *const *points, const ff2_t *values, size_t n_claims,
                         const sc_proof *proof, tr_t *tr, ff2_t *point, ff2_t *value, em_err *err)
{
    em_status st;
    if (n_claims < 1 || n_claims > (1u << 20))
        return em_errf(err, EM_ERR_ARG, "sumcheck fold: %zu claims (1..2^20)", n_claims);
    ff2_t *rho = malloc(n_claims * sizeof *rho);
    if (!rho)
        return em_errf(err, EM_ERR_NOMEM, "sumcheck fold: %zu claims", n_claims);
    ff2_t claim, ev[SC_MAX_TABLES];
    if ((st = fold_start(n_vars, points, values, n_claims, tr, rho, &claim, err)) != EM_OK)
        goto out;
    sc_shape s;
    sc_shape_product2(&s, n_vars);
    if ((st = sc_verify(&s, claim, proof, tr, point, ev, err)) != EM_OK) {
        em_err_prefix(err, "sumcheck fold: ");
        goto out;
    }
    ff2_t gr = ff2_zero();
    for (size_t k = 0; k < n_claims; k++)
        gr = ff2_add(gr, ff2_mul(rho[k], ml_eq_eval(points[k], point, n_vars)));
    if (!ff2_eq(gr, ev[1])) {
        st = em_errf(err, EM_ERR_VERIFY, "sumcheck fold: weight polynomial evaluation does not match");
        goto out;
    }
    *value = ev[0];
out:
    free(rho);
    return st;
}
