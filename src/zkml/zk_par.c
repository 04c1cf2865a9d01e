/* A minimal parallel-for over index ranges for the prover's large loops (fraction trees).
 * Work is split into n_threads contiguous chunks; the calling thread runs the first one. Loops
 * smaller than min_chunk * 2 (or n_threads <= 1, or a failed pthread_create) run inline, so the
 * result never depends on the thread count: every chunk computes the same values and partial
 * sums are combined in chunk order by the caller. */
#include <pthread.h>
#include <unistd.h>

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
