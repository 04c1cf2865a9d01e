/* A minimal parallel-for over index ranges for the prover's large loops (fraction trees).
 * Work is split into n_threads contiguous chunks; the calling thread runs the first one. Loops
 * smaller than min_chunk * 2 (or n_threads <= 1, or a failed pthread_create) run inline, so the
 * result never depends on the thread count: every chunk computes the same values and partial
 * sums are combined in chunk order by the caller. */
#include <pthread.h>
#include <unistd.h>

#include "enclaveml/zkml/ml.h"
#include "zk_internal.h"

typedef struct par_arg {
    zk_par_fn fn;
    void *ctx;
    size_t begin, end;
    unsigned tid;
} par_arg;

static void *par_main(void *p)
{
    par_arg *a = p;
    a->fn(a->ctx, a->begin, a->end, a->tid);
    return NULL;
}

unsigned zk__threads(int requested)
{
    if (requested > 0)
        return (unsigned)requested > ZK_MAX_THREADS ? ZK_MAX_THREADS : (unsigned)requested;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > ZK_MAX_THREADS ? ZK_MAX_THREADS : (unsigned)n;
}

unsigned zk__par_for(unsigned n_threads, size_t n, size_t min_chunk, zk_par_fn fn, void *ctx)
{
    if (n_threads > ZK_MAX_THREADS)
        n_threads = ZK_MAX_THREADS;
    if (min_chunk == 0)
        min_chunk = 1;
    if (n_threads > n / min_chunk)
        n_threads = (unsigned)(n / min_chunk);
    if (n_threads <= 1) {
        fn(ctx, 0, n, 0);
        return 1;
    }
    pthread_t th[ZK_MAX_THREADS];
    par_arg args[ZK_MAX_THREADS];
    int started[ZK_MAX_THREADS] = {0};
    size_t chunk = (n + n_threads - 1) / n_threads;
    for (unsigned t = 0; t < n_threads; t++) {
        size_t b = t * chunk, e = b + chunk < n ? b + chunk : n;
        args[t] = (par_arg){fn, ctx, b, e, t};
    }
    for (unsigned t = 1; t < n_threads; t++)
        started[t] = pthread_create(&th[t], NULL, par_main, &args[t]) == 0;
    fn(ctx, args[0].begin, args[0].end, 0);
    for (unsigned t = 1; t < n_threads; t++) {
        if (started[t])
            pthread_join(th[t], NULL);
        else
            fn(ctx, args[t].begin, args[t].end, t);
    }
    return n_threads;
}

/* ---- eq tables over several threads ----------------------------------------------------------
 * eq(r, i) = scale * prod_j (bit j of i ? r_j : 1 - r_j) factors as E_hi(i >> L) * E_lo(i & mask):
 * E_lo (2^L entries) is built once, and each row of 2^L outputs costs one product per entry
 * after O(n - L) products for its row factor. Field arithmetic is exact, so the entries equal
 * ml_eq_table's whatever the order of the products. */
#define EQ_LO_BITS 12u

typedef struct eq_ctx {
    const ff2_t *r, *elo;
    unsigned n;
    ff2_t scale;
    ff2_t *out;
    int acc;
} eq_ctx;

__attribute__((flatten)) static void eq_rows(void *vctx, size_t b, size_t e, unsigned tid)
{
    (void)tid;
    const eq_ctx *x = vctx;
    size_t w = (size_t)1 << EQ_LO_BITS;
    for (size_t h = b; h < e; h++) {
        ff2_t f = x->scale;
        for (unsigned j = EQ_LO_BITS; j < x->n; j++) {
            ff2_t rj = x->r[j];
            f = zk__mul2(f, ((h >> (j - EQ_LO_BITS)) & 1) ? rj : ff2_sub(ff2_one(), rj));
        }
        ff2_t *o = x->out + h * w;
        if (x->acc)
            for (size_t l = 0; l < w; l++)
                o[l] = ff2_add(o[l], zk__mul2(f, x->elo[l]));
        else
            for (size_t l = 0; l < w; l++)
                o[l] = zk__mul2(f, x->elo[l]);
    }
}

void zk__eq_table(const ff2_t *r, unsigned n, ff2_t scale, ff2_t *out, int acc, unsigned n_threads)
{
    if (n <= EQ_LO_BITS) {
        if (!acc) {
            ml_eq_table(r, n, scale, out);
            return;
        }
        ff2_t tmp[(size_t)1 << EQ_LO_BITS];
        ml_eq_table(r, n, scale, tmp);
        for (size_t i = 0; i < (size_t)1 << n; i++)
            out[i] = ff2_add(out[i], tmp[i]);
        return;
    }
    ff2_t elo[(size_t)1 << EQ_LO_BITS];
    ml_eq_table(r, EQ_LO_BITS, ff2_one(), elo);
    eq_ctx x = {.r = r, .elo = elo, .n = n, .scale = scale, .out = out, .acc = acc};
    zk__par_for(n_threads, (size_t)1 << (n - EQ_LO_BITS), 16, eq_rows, &x);
}
