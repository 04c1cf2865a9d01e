/* Deterministic integer inference: the layer semantics of the ARITHMETIC CONTRACT (model.h).
 *
 * Dense and conv layers are lowered to the backend's exact int16 GEMM (conv through im2col) and
 * its requantization kernel; im2col, ReLU and pooling are scalar code shared by every tier, so a
 * tier can only differ from the reference inside those two kernels, which test_backend checks.
 * Samples are independent, so the batch is split into one contiguous range per thread and each
 * thread runs the whole network over its range in sub-batches; all arithmetic is exact, so
 * results cannot depend on the thread count or the tier.
 *
 * Deviation to note: avgpool results are clamped to [act_min, act_max] (see pool()); the
 * contract text in model.h does not say so, but without it one 16-bit edge case leaves the
 * activation range that every later layer relies on. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "model_internal.h"

#define SUB_BATCH 64   /* samples per step through the network (activations stay in cache) */
#define MAX_THREADS 256

typedef struct plan_layer {
    const nn_layer *L;
    size_t in_size, out_size;
    size_t k, n;    /* reduction length; outputs per position (dense: outputs, conv: c_out) */
    size_t npos;    /* conv: output positions; dense: 1 */
    size_t lda;     /* even row stride of the packed weights (the A operand) */
    size_t ldb;     /* conv: pair-row stride of the im2col B operand */
    const int16_t *wpack; /* packed weights, the model's cached copy (nn__model_packed) */
    int32_t lo, hi; /* clamp after requantization */
} plan_layer;

typedef struct plan {
    const nn_model *m;
    const nn_backend *be;
    size_t n_layers;
    plan_layer *pl;
    size_t in_size, out_size;
    size_t max_act, max_acc; /* per sample */
    size_t b16_len;          /* int16 scratch per thread: a sub-batch's B operand or one im2col */
    int32_t act_min, act_max;
} plan;

static void *alloc_aligned(size_t n_elems, size_t elem)
{
    size_t bytes;
    if (!em_mul_ok(n_elems ? n_elems : 1, elem, &bytes) || bytes > SIZE_MAX - 63)
        return NULL;
    return aligned_alloc(64, (bytes + 63) & ~(size_t)63);
}

static void plan_free(plan *p) { free(p->pl); }

/* dst[i] = src[i], narrowed (values already range-checked); fixed-length blocks vectorize at -O2. */
static void narrow(int16_t *dst, const int32_t *src, size_t n)
{
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (size_t j = 0; j < 64; j++)
            dst[i + j] = (int16_t)src[i + j];
    for (; i < n; i++)
        dst[i] = (int16_t)src[i];
}

/* Packs the weights as the A operand: one row of lda (even) int16 per output (channel). The
 * range check makes the narrowing exact and the SIMD overflow bound valid. */
static em_status pack_weights(const nn_model *m, size_t li, size_t n, size_t k, size_t lda, int16_t **out,
                              em_err *err)
{
    const nn_layer *L = &m->layers[li];
    int32_t wmax = (int32_t)((1u << (m->weight_bits - 1)) - 1), wmin = -wmax - 1;
    size_t len = 0;
    int16_t *w;
    if (!em_mul_ok(n, lda, &len) || !(w = alloc_aligned(len, sizeof(int16_t))))
        return em_errf(err, EM_ERR_NOMEM, "layer %zu '%s': out of memory packing %zu weights", li, L->name,
                       L->n_weight);
    if (!em_i32_in_range(L->weight, L->n_weight, wmin, wmax)) {
        free(w);
        return em_errf(err, EM_ERR_RANGE, "layer %zu '%s': a weight lies outside the %u-bit range", li, L->name,
                       m->weight_bits);
    }
    for (size_t j = 0; j < n; j++) {
        narrow(w + j * lda, L->weight + j * k, k);
        if (lda > k)
            w[j * lda + k] = 0;
    }
    *out = w;
    return EM_OK;
}

em_status nn__model_packed(const nn_model *cm, size_t li, size_t n, size_t k, size_t lda, const int16_t **out,
                           em_err *err)
{
    nn_model *m = (nn_model *)cm; /* the cache only: allocated non-const by nn__model_new */
    em_status st = EM_OK;
    pthread_mutex_lock(&m->pack_mu);
    if (m->wpack_n < m->n_layers) {
        int16_t **grown = realloc(m->wpack, m->n_layers * sizeof *grown);
        if (!grown) {
            st = em_errf(err, EM_ERR_NOMEM, "out of memory for %zu packed layers", m->n_layers);
            goto out;
        }
        memset(grown + m->wpack_n, 0, (m->n_layers - m->wpack_n) * sizeof *grown);
        m->wpack = grown;
        m->wpack_n = m->n_layers;
    }
    if (!m->wpack[li] && (st = pack_weights(m, li, n, k, lda, &m->wpack[li], err)) != EM_OK)
        goto out;
    *out = m->wpack[li];
out:
    pthread_mutex_unlock(&m->pack_mu);
    return st;
}

/* Checks the geometry the kernels rely on (the model was validated, but this code indexes
 * memory with it), sizes the scratch buffers and packs the weights. */
static em_status plan_build(const nn_model *m, const nn_run_opts *opts, plan *p, em_err *err)
{
    memset(p, 0, sizeof *p);
    p->m = m;
    p->be = opts && opts->backend ? opts->backend : nn_backend_get("auto");
    if (!p->be)
        return em_errf(err, EM_ERR_INTERNAL, "no inference backend available");
    if (m->act_bits < 2 || m->act_bits > 16 || m->weight_bits < 2 || m->weight_bits > 16)
        return em_errf(err, EM_ERR_UNSUPPORTED, "act_bits %u / weight_bits %u: inference needs 2..16", m->act_bits,
                       m->weight_bits);
    p->act_min = nn__act_min(m);
    p->act_max = nn__act_max(m);
    p->n_layers = m->n_layers;
    p->in_size = nn_shape_size(m->input);
    p->max_act = p->in_size;
    if (m->n_layers && !(p->pl = calloc(m->n_layers, sizeof *p->pl)))
        return em_errf(err, EM_ERR_NOMEM, "out of memory planning %zu layers", m->n_layers);
    size_t prev = p->in_size;
    for (size_t i = 0; i < m->n_layers; i++) {
        const nn_layer *L = &m->layers[i];
        plan_layer *q = &p->pl[i];
        q->L = L;
        q->in_size = nn_shape_size(L->in);
        q->out_size = nn_shape_size(L->out);
        if (q->in_size != prev || !q->out_size)
            return em_errf(err, EM_ERR_FORMAT, "layer %zu '%s': input size %zu does not follow %zu", i, L->name,
                           q->in_size, prev);
        prev = q->out_size;
        if (q->out_size > p->max_act)
            p->max_act = q->out_size;
        if (L->kind == NN_CONV2D || L->kind == NN_MAXPOOL || L->kind == NN_AVGPOOL) {
            if (!L->kh || !L->kw || !L->sh || !L->sw ||
                (L->kind != NN_CONV2D && (L->pt >= L->kh || L->pb >= L->kh || L->pl >= L->kw || L->pr >= L->kw)) ||
                (uint64_t)L->in.h + L->pt + L->pb < L->kh ||
                (uint64_t)L->in.w + L->pl + L->pr < L->kw ||
                L->out.h != ((uint64_t)L->in.h + L->pt + L->pb - L->kh) / L->sh + 1 ||
                L->out.w != ((uint64_t)L->in.w + L->pl + L->pr - L->kw) / L->sw + 1 ||
                (L->kind != NN_CONV2D && L->out.c != L->in.c))
                return em_errf(err, EM_ERR_FORMAT, "layer %zu '%s': inconsistent window geometry", i, L->name);
            if (L->kind == NN_AVGPOOL && (L->shift < 1 || L->shift > 32))
                return em_errf(err, EM_ERR_FORMAT, "layer %zu '%s': avgpool shift %u outside [1, 32]", i, L->name,
                               L->shift);
        }
        if (L->kind != NN_DENSE && L->kind != NN_CONV2D)
            continue;
        if (L->shift > 62)
            return em_errf(err, EM_ERR_FORMAT, "layer %zu '%s': shift %u > 62", i, L->name, L->shift);
        int dense = L->kind == NN_DENSE;
        q->k = dense ? q->in_size : (size_t)L->in.c * L->kh * L->kw;
        q->n = dense ? q->out_size : L->out.c;
        q->npos = dense ? 1 : (size_t)L->out.h * L->out.w;
        size_t nw;
        if (!em_mul_ok(q->n, q->k, &nw) || nw != L->n_weight || !L->weight || L->n_bias != q->n || !L->bias)
            return em_errf(err, EM_ERR_FORMAT, "layer %zu '%s': expected %zu x %zu weights and %zu biases", i,
                           L->name, q->n, q->k, q->n);
        q->lo = L->act == NN_ACT_RELU ? 0 : p->act_min;
        q->hi = p->act_max;
        /* B operand: dense, a sub-batch of samples as columns; conv, one sample's positions. */
        size_t cols = dense ? SUB_BATCH : q->npos, scratch;
        q->lda = (q->k + 1) & ~(size_t)1;
        q->ldb = 2 * ((cols + NN__COL_ALIGN - 1) / NN__COL_ALIGN * NN__COL_ALIGN);
        if (!em_mul_ok((q->k + 1) / 2, q->ldb, &scratch))
            return em_errf(err, EM_ERR_LIMIT, "layer %zu '%s': operand size overflows", i, L->name);
        if (scratch > p->b16_len)
            p->b16_len = scratch;
        if (q->out_size > p->max_acc)
            p->max_acc = q->out_size;
        em_status st = nn__model_packed(m, i, q->n, q->k, q->lda, &q->wpack, err);
        if (st != EM_OK)
            return st;
    }
    p->out_size = prev;
    return EM_OK;
}

/* ---- layer kernels over a sub-batch of ns samples ------------------------------------------- */

/* Dense B operand: column s is sample s (k values), pair-interleaved with ldb = 2 *
 * round_up(ns, 16); padding columns and the odd tail are zero. */
static void pack_samples(const int32_t *x, size_t ns, size_t k, size_t ldb, int16_t *b)
{
    size_t npairs = (k + 1) / 2, used = 2 * ns;
    for (size_t t2 = 0; t2 < npairs; t2++)
        memset(b + t2 * ldb + used, 0, (ldb - used) * sizeof *b);
    for (size_t s = 0; s < ns; s++) {
        const int32_t *xs = x + s * k;
        int16_t *col = b + 2 * s;
        for (size_t t = 0; t + 1 < k; t += 2) {
            uint32_t pair = (uint16_t)xs[t] | (uint32_t)(uint16_t)xs[t + 1] << 16;
            memcpy(col + (t / 2) * ldb, &pair, sizeof pair); /* little-endian: t is the low half */
        }
        if (k & 1) {
            col[(k / 2) * ldb] = (int16_t)xs[k - 1];
            col[(k / 2) * ldb + 1] = 0;
        }
    }
}

/* Every other int16 (one half of each pair column); kept out of line so the hot loops stay in
 * registers. */
static void zero_pairs(int16_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[2 * i] = 0;
}

static void narrow_pairs(int16_t *dst, const int32_t *src, size_t n, size_t stride)
{
    if (stride == 1) {
        for (size_t i = 0; i < n; i++)
            dst[2 * i] = (int16_t)src[i];
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[2 * i] = (int16_t)src[i * stride];
}

/* Conv B operand of one sample: B(t, p) with t = (ci, ky, kx) (the weight layout) and p = (oy, ox)
 * (the output layout), pair-interleaved (nn__bidx), columns past the positions and the odd tail
 * zero. Per kernel column kx the output columns ox reading inside the image form one range, so
 * the inner loops carry no per-element test. */
static void im2col(const nn_layer *L, const int32_t *x, size_t ldb, int16_t *b)
{
    const int64_t H = L->in.h, W = L->in.w, Wo = L->out.w, sw = L->sw;
    const size_t P16 = ldb / 2;
    size_t t = 0;
    for (uint32_t ci = 0; ci < L->in.c; ci++) {
        const int32_t *plane = x + (size_t)ci * (size_t)(H * W);
        for (uint32_t ky = 0; ky < L->kh; ky++) {
            for (uint32_t kx = 0; kx < L->kw; kx++, t++) {
                int16_t *row = b + (t >> 1) * ldb + (t & 1); /* column p at row[2p] */
                /* ix = ox*sw + kx - pl lies in [0, W) for ox in [oxa, oxb) */
                int64_t off = (int64_t)kx - L->pl;
                int64_t oxa = off >= 0 ? 0 : (-off + sw - 1) / sw;
                int64_t oxb = W - off <= 0 ? 0 : (W - off + sw - 1) / sw;
                oxb = oxb > Wo ? Wo : oxb;
                oxa = oxa > oxb ? oxb : oxa;
                size_t pp = 0;
                for (uint32_t oy = 0; oy < L->out.h; oy++) {
                    int64_t iy = (int64_t)oy * L->sh + ky - L->pt;
                    if (iy < 0 || iy >= H) {
                        zero_pairs(row + 2 * pp, (size_t)Wo);
                        pp += (size_t)Wo;
                        continue;
                    }
                    zero_pairs(row + 2 * pp, (size_t)oxa);
                    narrow_pairs(row + 2 * (pp + (size_t)oxa), plane + (iy * W + off + oxa * sw), (size_t)(oxb - oxa),
                                 (size_t)sw);
                    zero_pairs(row + 2 * (pp + (size_t)oxb), (size_t)(Wo - oxb));
                    pp += (size_t)Wo;
                }
                zero_pairs(row + 2 * pp, P16 - pp);
            }
        }
    }
    if (t & 1)
        zero_pairs(b + (t >> 1) * ldb + 1, P16);
}

static void pool(const nn_layer *L, const int32_t *x, int32_t *y, int32_t act_min, int32_t act_max)
{
    const int64_t H = L->in.h, W = L->in.w;
    const int is_max = L->kind == NN_MAXPOOL;
    const uint32_t k = L->shift;
    for (uint32_t c = 0; c < L->in.c; c++) {
        const int32_t *plane = x + (size_t)c * (size_t)(H * W);
        for (uint32_t oy = 0; oy < L->out.h; oy++) {
            int64_t y0 = (int64_t)oy * L->sh - L->pt, y1 = y0 + L->kh;
            int64_t ya = y0 < 0 ? 0 : y0, yb = y1 > H ? H : y1;
            /* windows never leave the padded input (floor output shape), so with count_include_pad
             * every position is counted: the part inside H + pb. */
            int64_t ypad = (y1 > H + L->pb ? H + L->pb : y1) - y0;
            for (uint32_t ox = 0; ox < L->out.w; ox++) {
                int64_t x0 = (int64_t)ox * L->sw - L->pl, x1 = x0 + L->kw;
                int64_t xa = x0 < 0 ? 0 : x0, xb = x1 > W ? W : x1;
                int64_t sum = 0;
                int32_t mx = INT32_MIN;
                for (int64_t iy = ya; iy < yb; iy++)
                    for (int64_t ix = xa; ix < xb; ix++) {
                        int32_t v = plane[iy * W + ix];
                        sum += v;
                        mx = v > mx ? v : mx;
                    }
                int32_t out;
                if (is_max) {
                    out = mx; /* validation keeps pads < kernel, so a window always has an input */
                } else {
                    int64_t d = L->count_include_pad ? ypad * ((x1 > W + L->pr ? W + L->pr : x1) - x0)
                                                     : (yb - ya) * (xb - xa);
                    /* m = round(2^k / d) = floor((2^(k+1) + d) / 2d); y = floor((s*m + 2^(k-1)) / 2^k),
                     * clamped to the activation range (m rounded up can push an all-max window one step
                     * above act_max at 16 bits). */
                    int64_t mult = d > 0 ? ((((int64_t)1 << (k + 1)) + d) / (2 * d)) : 0;
                    int64_t q = (sum * mult + ((int64_t)1 << (k - 1))) >> k;
                    out = (int32_t)(q < act_min ? act_min : q > act_max ? act_max : q);
                }
                y[((size_t)c * L->out.h + oy) * L->out.w + ox] = out;
            }
        }
    }
}

/* ---- per-thread work ------------------------------------------------------------------------ */

typedef struct worker {
    const plan *p;
    const int32_t *in; /* whole batch */
    size_t s0, s1;
    nn_trace *trace; /* or NULL */
    int32_t *out;    /* whole batch, when not tracing */
    em_status st;
} worker;

static void worker_run(worker *wk)
{
    const plan *p = wk->p;
    int32_t *buf[2] = {NULL, NULL};
    int64_t *accbuf = NULL, *ctmp = NULL;
    int16_t *b16 = NULL;
    size_t na, nc;
    wk->st = EM_ERR_NOMEM;
    if (!em_mul_ok(p->max_act, SUB_BATCH, &na) || !em_mul_ok(p->max_acc, SUB_BATCH, &nc))
        goto out;
    if ((p->b16_len && !(b16 = alloc_aligned(p->b16_len, sizeof *b16))) ||
        (nc && !(ctmp = alloc_aligned(nc, sizeof(int64_t)))))
        goto out;
    if (!wk->trace && (!(buf[0] = alloc_aligned(na, sizeof(int32_t))) ||
                       !(buf[1] = alloc_aligned(na, sizeof(int32_t))) ||
                       (nc && !(accbuf = alloc_aligned(nc, sizeof(int64_t))))))
        goto out;
    for (size_t sb = wk->s0; sb < wk->s1; sb += SUB_BATCH) {
        size_t ns = wk->s1 - sb < SUB_BATCH ? wk->s1 - sb : SUB_BATCH;
        const int32_t *x = wk->in + sb * p->in_size;
        for (size_t i = 0; i < p->n_layers; i++) {
            const plan_layer *q = &p->pl[i];
            const nn_layer *L = q->L;
            int32_t *y = wk->trace ? wk->trace->act[i + 1] + sb * q->out_size : buf[i & 1];
            int64_t *acc = NULL;
            if (L->kind == NN_DENSE || L->kind == NN_CONV2D)
                acc = wk->trace ? wk->trace->acc[i] + sb * q->out_size : accbuf;
            nn__gemm g = {.m = q->n, .k = q->k, .a = q->wpack, .lda = q->lda, .bias = L->bias,
                          .a_bits = p->m->weight_bits, .b_bits = p->m->act_bits, .b = b16};
            switch (L->kind) {
            case NN_DENSE:
                /* outputs x samples, then transposed to the sample-major accumulator layout */
                g.n = ns;
                g.ldb = 2 * ((ns + NN__COL_ALIGN - 1) / NN__COL_ALIGN * NN__COL_ALIGN);
                g.c = ctmp;
                g.ldc = ns;
                pack_samples(x, ns, q->k, g.ldb, b16);
                p->be->gemm_i16(&g);
                for (size_t s = 0; s < ns; s++)
                    for (size_t j = 0; j < q->n; j++)
                        acc[s * q->n + j] = ctmp[j * ns + s];
                p->be->requant(acc, ns * q->out_size, L->shift, q->lo, q->hi, y);
                break;
            case NN_CONV2D:
                /* One GEMM per sample: c_out weight rows times the positions of its im2col matrix,
                 * written as acc[c_out][position] (the activation layout). */
                g.n = q->npos;
                g.ldb = q->ldb;
                g.ldc = q->npos;
                for (size_t s = 0; s < ns; s++) {
                    im2col(L, x + s * q->in_size, q->ldb, b16);
                    g.c = acc + s * q->out_size;
                    p->be->gemm_i16(&g);
                }
                p->be->requant(acc, ns * q->out_size, L->shift, q->lo, q->hi, y);
                break;
            case NN_MAXPOOL:
            case NN_AVGPOOL:
                for (size_t s = 0; s < ns; s++)
                    pool(L, x + s * q->in_size, y + s * q->out_size, p->act_min, p->act_max);
                break;
            case NN_ACT:
                for (size_t t = 0; t < ns * q->out_size; t++)
                    y[t] = x[t] > 0 ? x[t] : 0;
                break;
            case NN_RESHAPE:
                memcpy(y, x, ns * q->out_size * sizeof *y);
                break;
            }
            x = y;
        }
        if (!wk->trace)
            memcpy(wk->out + sb * p->out_size, x, ns * p->out_size * sizeof *x);
    }
    wk->st = EM_OK;
out:
    free(b16);
    free(ctmp);
    free(buf[0]);
    free(buf[1]);
    free(accbuf);
}

static void *worker_main(void *arg)
{
    worker_run(arg);
    return NULL;
}

static em_status run_threads(const plan *p, const nn_run_opts *opts, const int32_t *in, size_t n, nn_trace *trace,
                             int32_t *out, em_err *err)
{
    long t = opts ? opts->threads : 0;
    if (t < 0)
        return em_errf(err, EM_ERR_ARG, "threads must be >= 0, got %ld", t);
    if (t == 0) {
        t = sysconf(_SC_NPROCESSORS_ONLN);
        if (t < 1)
            t = 1;
    }
    if (t > MAX_THREADS)
        t = MAX_THREADS;
    if ((size_t)t > n)
        t = (long)(n ? n : 1);
    worker wk[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    int started[MAX_THREADS];
    size_t per = n / (size_t)t, extra = n % (size_t)t, s = 0;
    for (long i = 0; i < t; i++) {
        size_t cnt = per + ((size_t)i < extra);
        wk[i] = (worker){.p = p, .in = in, .s0 = s, .s1 = s + cnt, .trace = trace, .out = out, .st = EM_OK};
        s += cnt;
        /* Thread 0 runs on the caller; a thread that cannot be created runs inline too. */
        started[i] = i > 0 && pthread_create(&tid[i], NULL, worker_main, &wk[i]) == 0;
    }
    for (long i = 0; i < t; i++)
        if (!started[i])
            worker_run(&wk[i]);
    em_status st = EM_OK;
    for (long i = 0; i < t; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        if (wk[i].st != EM_OK && st == EM_OK)
            st = wk[i].st;
    }
    if (st != EM_OK)
        return em_errf(err, st, "inference worker: out of memory for scratch buffers");
    return EM_OK;
}

static em_status check_input(const nn_model *m, const int32_t *in, size_t n, size_t in_size, em_err *err)
{
    int32_t lo = nn__act_min(m), hi = nn__act_max(m);
    if (em_i32_in_range(in, n * in_size, lo, hi))
        return EM_OK;
    for (size_t s = 0; s < n; s++)
        for (size_t t = 0; t < in_size; t++) {
            int32_t v = in[s * in_size + t];
            if (v < lo || v > hi)
                return em_errf(err, EM_ERR_RANGE, "input sample %zu value %zu = %d outside the %u-bit range [%d, %d]",
                               s, t, v, m->act_bits, lo, hi);
        }
    return EM_OK;
}

em_status nn_model_run(const nn_model *m, const nn_run_opts *opts, const int32_t *in, size_t n_samples, int32_t *out,
                       em_err *err)
{
    if (!m || (n_samples && (!in || !out)))
        return em_errf(err, EM_ERR_ARG, "nn_model_run: NULL model or buffers");
    plan p;
    em_status st = plan_build(m, opts, &p, err);
    if (st == EM_OK)
        st = check_input(m, in, n_samples, p.in_size, err);
    if (st == EM_OK && n_samples)
        st = run_threads(&p, opts, in, n_samples, NULL, out, err);
    plan_free(&p);
    return st;
}

void nn_trace_free(nn_trace *t)
{
    if (!t)
        return;
    void (*release)(void *) = t->release ? t->release : free;
    if (t->act)
        for (size_t i = 0; i <= t->n_layers; i++)
            release(t->act[i]);
    if (t->acc)
        for (size_t i = 0; i < t->n_layers; i++)
            release(t->acc[i]);
    free(t->act);
    free(t->acc);
    memset(t, 0, sizeof *t);
}

static void *trace_buf(const nn_run_opts *opts, size_t n_elems, size_t elem)
{
    size_t bytes;
    if (!opts || !opts->trace_alloc)
        return alloc_aligned(n_elems, elem);
    if (!em_mul_ok(n_elems ? n_elems : 1, elem, &bytes))
        return NULL;
    return opts->trace_alloc(bytes);
}

em_status nn_model_run_trace(const nn_model *m, const nn_run_opts *opts, const int32_t *in, size_t n_samples,
                             nn_trace *trace, em_err *err)
{
    if (!m || !trace || (n_samples && !in))
        return em_errf(err, EM_ERR_ARG, "nn_model_run_trace: NULL model, input or trace");
    memset(trace, 0, sizeof *trace);
    if (opts && !opts->trace_alloc != !opts->trace_free)
        return em_errf(err, EM_ERR_ARG, "nn_model_run_trace: trace_alloc and trace_free go together");
    trace->release = opts && opts->trace_free ? opts->trace_free : free;
    plan p;
    em_status st = plan_build(m, opts, &p, err);
    if (st != EM_OK)
        goto out;
    if ((st = check_input(m, in, n_samples, p.in_size, err)) != EM_OK)
        goto out;
    trace->n_layers = p.n_layers;
    trace->n_samples = n_samples;
    if (!(trace->act = calloc(p.n_layers + 1, sizeof *trace->act)) ||
        !(trace->acc = calloc(p.n_layers ? p.n_layers : 1, sizeof *trace->acc))) {
        st = em_errf(err, EM_ERR_NOMEM, "out of memory for the trace");
        goto out;
    }
    for (size_t i = 0; i <= p.n_layers; i++) {
        size_t sz = i ? p.pl[i - 1].out_size : p.in_size, len;
        if (!em_mul_ok(sz, n_samples, &len) || !(trace->act[i] = trace_buf(opts, len, sizeof(int32_t)))) {
            st = em_errf(err, EM_ERR_NOMEM, "out of memory for trace activations %zu (%zu x %zu)", i, n_samples, sz);
            goto out;
        }
        if (i && (p.pl[i - 1].L->kind == NN_DENSE || p.pl[i - 1].L->kind == NN_CONV2D) &&
            !(trace->acc[i - 1] = trace_buf(opts, len, sizeof(int64_t)))) {
            st = em_errf(err, EM_ERR_NOMEM, "out of memory for trace accumulators %zu (%zu x %zu)", i - 1, n_samples,
                         sz);
            goto out;
        }
    }
    if (n_samples) {
        memcpy(trace->act[0], in, n_samples * p.in_size * sizeof *in);
        st = run_threads(&p, opts, trace->act[0], n_samples, trace, NULL, err);
    }
out:
    plan_free(&p);
    if (st != EM_OK)
        nn_trace_free(trace);
    return st;
}

/* ---- input and output conversion ------------------------------------------------------------ */

em_status nn_model_quantize_input(const nn_model *m, const float *x, size_t n_samples, int32_t *q, em_err *err)
{
    if (!m || (n_samples && (!x || !q)))
        return em_errf(err, EM_ERR_ARG, "nn_model_quantize_input: NULL model or buffers");
    size_t n;
    if (!em_mul_ok(nn_shape_size(m->input), n_samples, &n))
        return em_errf(err, EM_ERR_LIMIT, "%zu samples overflow the input size", n_samples);
    double lo = nn__act_min(m), hi = nn__act_max(m);
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i]))
            return em_errf(err, EM_ERR_RANGE, "input value %zu (sample %zu) is NaN", i, i / nn_shape_size(m->input));
        /* float -> double and the power-of-two scaling are exact; round() is half away from zero. */
        double v = round(ldexp((double)x[i], m->in_scale));
        q[i] = (int32_t)(v < lo ? lo : v > hi ? hi : v);
    }
    return EM_OK;
}

void nn_model_postprocess(const nn_model *m, const int32_t *out_q, size_t n_samples, double *result)
{
    size_t k = nn_model_output_size(m);
    int32_t scale = nn_model_output_scale(m);
    for (size_t s = 0; s < n_samples; s++) {
        const int32_t *q = out_q + s * k;
        double *r = result + s * k;
        for (size_t j = 0; j < k; j++)
            r[j] = ldexp((double)q[j], -scale);
        if (!m->softmax || !k)
            continue;
        /* Subtracting the maximum keeps exp() in range; the largest term is exactly 1. */
        double mx = r[0], sum = 0;
        for (size_t j = 1; j < k; j++)
            mx = r[j] > mx ? r[j] : mx;
        for (size_t j = 0; j < k; j++) {
            r[j] = exp(r[j] - mx);
            sum += r[j];
        }
        for (size_t j = 0; j < k; j++)
            r[j] /= sum;
    }
}

void nn_argmax(const int32_t *out_q, size_t n_samples, size_t k, uint32_t *pred)
{
    for (size_t s = 0; s < n_samples; s++) {
        const int32_t *q = out_q + s * k;
        size_t best = 0;
        for (size_t j = 1; j < k; j++)
            if (q[j] > q[best])
                best = j;
        pred[s] = (uint32_t)best;
    }
}
