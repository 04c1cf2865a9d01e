/* A minimal parallel-for over index ranges for the prover's large loops (fraction trees, claim
 * fold, eq tables).
 *
 * [0, n) is cut into a number of chunks that depends only on n and min_chunk (never on the
 * thread count): at most ZK_PAR_CHUNKS chunks of at least min_chunk indices. The calling thread
 * and up to n_threads - 1 helpers take chunks from a shared counter until none is left, and fn
 * receives the chunk index as its slot, so per-chunk partial sums land in fixed slots that the
 * caller combines in chunk order: the result is the same for any thread count and any
 * scheduling. Taking chunks dynamically matters on a shared machine: a helper that the OS starts
 * late (the other core busy) just finds fewer chunks left, instead of the caller waiting for
 * its fixed half. Loops of one chunk, n_threads <= 1, or failed pthread_create run inline. The
 * helpers are persistent threads while a prover is alive (below). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#if defined(__GLIBC__)
#include <malloc.h> /* malloc_usable_size: the misuse check in zk__big_free */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enclaveml/zkml/ff_vec.h"
#include "enclaveml/zkml/ml.h"
#include "zk_internal.h"


typedef struct par_job {
    zk_par_fn fn;
    void *ctx;
    size_t n, chunk;
    unsigned n_chunks;
    atomic_uint next;
} par_job;

static void par_drain(par_job *j)
{
    for (;;) {
        unsigned c = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (c >= j->n_chunks)
            return;
        size_t b = (size_t)c * j->chunk, e = b + j->chunk < j->n ? b + j->chunk : j->n;
        j->fn(j->ctx, b, e, c);
    }
}

static void *par_main(void *p)
{
    par_drain(p);
    return NULL;
}

/* ---- persistent helpers ----------------------------------------------------------------------
 * Creating and joining a thread per loop cost ~35 us per zk__par_for on our VM (a large proof
 * runs ~150 of them). While any prover is alive (zk__pool_hold) the helpers are kept: started on
 * first use, they sleep on a condition variable between jobs. One loop at a time owns them; a
 * zk__par_for that finds them busy (another thread proving concurrently) starts its own threads
 * as before. Which thread runs a chunk never matters (slots are chunk indices). The caller
 * returns only when every helper it woke has checked in (the job lives on its stack): a helper
 * that wakes late finds no chunk left and just checks in, so a late helper costs its wake-up
 * latency, not a share of the work. */
typedef struct par_pool {
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    pthread_t th[ZK_MAX_THREADS];
    unsigned long gen0[ZK_MAX_THREADS]; /* the job word a helper was started at */
    unsigned n;                         /* helpers started */
    /* The job word: generation << 9 | may-spin << 8 | helpers wanted. One atomic word, so a
     * helper learns whether it takes part without the mutex: spinning helpers read it and the
     * job pointer lock-free (published with release before the word), and only sleepers use
     * the mutex and `go`. A helper reads `job` only when it takes part, and the caller does not
     * return (nor publish the next job) before every such helper has checked in. */
    atomic_ulong gen;
    _Atomic(par_job *) job;
    atomic_uint active;  /* helpers of the current job not checked in yet */
    atomic_int waiting;  /* the caller sleeps on `done` for them (else it spins) */
    int busy;
    unsigned cpus; /* the CPUs this process may use (zk__threads(0)), read when the first job starts */
    atomic_int stop;
    unsigned holders;
} par_pool;

#define GEN_WANT(g) ((unsigned)((g) & 0xffu))
#define GEN_SPIN(g) ((unsigned)((g) >> 8) & 1u)
_Static_assert(ZK_MAX_THREADS <= 0xffu, "the job word holds the helper count in 8 bits");

static par_pool pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER,
                        .done = PTHREAD_COND_INITIALIZER};

/* fork() copies only the calling thread: the child must not wait for helpers it does not have,
 * nor find the pool or the buffer cache locked by a thread that is gone. */
static pthread_mutex_t big_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void atfork_prepare(void)
{
    pthread_mutex_lock(&pool.mu);
    pthread_mutex_lock(&big_mu);
}
static void atfork_parent(void)
{
    pthread_mutex_unlock(&big_mu);
    pthread_mutex_unlock(&pool.mu);
}
static void atfork_child(void)
{
    pthread_mutex_unlock(&big_mu);
    pool.n = 0;
    pool.busy = 0;
    atomic_store(&pool.stop, 0);
    atomic_store(&pool.active, 0);
    atomic_store(&pool.waiting, 0);
    atomic_store(&pool.job, NULL);
    pthread_cond_init(&pool.go, NULL);
    pthread_cond_init(&pool.done, NULL);
    pthread_mutex_unlock(&pool.mu);
}
static void atfork_register(void) { pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

/* A proof runs a few hundred loops with short serial steps (transcript hashing, small rounds)
 * between them. Waking a sleeping helper through the condition variable took tens of
 * microseconds on our VM, and a helper woken late does little of a short loop, so a helper first
 * spins (without the lock) for up to ZK_SPIN_NS on the generation counter before it sleeps, and
 * the caller spins the same way for the helpers to finish. A spinning helper that sees a job
 * also starts it without the lock: taking it while the caller still held it made the caller's
 * unlock a futex wake-up (a system call, ~5% of a large proof's samples, session 12) and the
 * helper start late. Bounded: an idle pool sleeps. Only
 * when the job's threads fit on the CPUs the process may use (more threads than CPUs would spin
 * away the time of the threads with work), and only helpers that took part in the last job. */
#define ZK_SPIN_NS 100000

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Spins until done(arg) or for at most ZK_SPIN_NS. */
static void spin_until(int (*done)(uintptr_t), uintptr_t arg)
{
    int64_t t0 = mono_ns();
    for (unsigned i = 1; !done(arg); i++) {
        cpu_relax();
        if (i % 64 == 0 && mono_ns() - t0 > ZK_SPIN_NS)
            return;
    }
}

/* a new job (generation other than arg) or a stop */
static int new_job_or_stop(uintptr_t seen)
{
    return atomic_load_explicit(&pool.gen, memory_order_acquire) != seen || atomic_load(&pool.stop);
}

static int helpers_done(uintptr_t unused)
{
    (void)unused;
    return atomic_load_explicit(&pool.active, memory_order_acquire) == 0;
}

static void *pool_main(void *arg)
{
    unsigned idx = (unsigned)(uintptr_t)arg;
    pthread_mutex_lock(&pool.mu);
    unsigned long seen = pool.gen0[idx];
    pthread_mutex_unlock(&pool.mu);
    int may_spin = 0; /* took part in the last job seen, which allowed spinning */
    for (;;) {
        unsigned long g = atomic_load_explicit(&pool.gen, memory_order_acquire);
        if (g == seen && may_spin && !atomic_load(&pool.stop)) {
            spin_until(new_job_or_stop, seen);
            g = atomic_load_explicit(&pool.gen, memory_order_acquire);
        }
        if (g == seen && !atomic_load(&pool.stop)) {
            pthread_mutex_lock(&pool.mu); /* the caller publishes under it: no lost wake-up */
            while ((g = atomic_load_explicit(&pool.gen, memory_order_acquire)) == seen && !atomic_load(&pool.stop))
                pthread_cond_wait(&pool.go, &pool.mu);
            pthread_mutex_unlock(&pool.mu);
        }
        if (atomic_load(&pool.stop))
            break;
        seen = g;
        may_spin = idx < GEN_WANT(g) && GEN_SPIN(g);
        if (idx >= GEN_WANT(g))
            continue;
        par_drain(atomic_load_explicit(&pool.job, memory_order_relaxed));
        /* seq_cst with the caller's `waiting` store and `active` load: either it sees active 0
         * or this sees waiting set and wakes it */
        if (atomic_fetch_sub(&pool.active, 1) == 1 && atomic_load(&pool.waiting)) {
            pthread_mutex_lock(&pool.mu);
            pthread_cond_broadcast(&pool.done);
            pthread_mutex_unlock(&pool.mu);
        }
    }
    return NULL;
}

/* Runs job on the caller and up to `helpers` pool threads; 0 when the pool is not available. */
static int pool_run(par_job *job, unsigned helpers)
{
    pthread_once(&atfork_once, atfork_register);
    pthread_mutex_lock(&pool.mu);
    if (!pool.holders || pool.busy || atomic_load(&pool.stop)) {
        pthread_mutex_unlock(&pool.mu);
        return 0;
    }
    while (pool.n < helpers && pool.n < ZK_MAX_THREADS) {
        pool.gen0[pool.n] = atomic_load(&pool.gen); /* so a helper that starts late still sees the job below */
        if (pthread_create(&pool.th[pool.n], NULL, pool_main, (void *)(uintptr_t)pool.n) != 0)
            break;
        pool.n++;
    }
    unsigned h = helpers < pool.n ? helpers : pool.n;
    pool.busy = 1;
    if (!pool.cpus)
        pool.cpus = zk__threads(0);
    unsigned spin = h + 1 <= pool.cpus;
    atomic_store(&pool.active, h);
    atomic_store_explicit(&pool.job, job, memory_order_relaxed);
    unsigned long g = atomic_load(&pool.gen);
    atomic_store_explicit(&pool.gen, ((g >> 9) + 1) << 9 | (unsigned long)spin << 8 | h, memory_order_release);
    pthread_cond_broadcast(&pool.go); /* no system call when every helper is spinning */
    pthread_mutex_unlock(&pool.mu);
    par_drain(job);
    if (spin)
        spin_until(helpers_done, 0);
    if (atomic_load(&pool.active)) {
        pthread_mutex_lock(&pool.mu);
        atomic_store(&pool.waiting, 1);
        while (atomic_load(&pool.active))
            pthread_cond_wait(&pool.done, &pool.mu);
        atomic_store(&pool.waiting, 0);
        pthread_mutex_unlock(&pool.mu);
    }
    pthread_mutex_lock(&pool.mu);
    pool.busy = 0;
    atomic_store_explicit(&pool.job, NULL, memory_order_relaxed);
    pthread_cond_broadcast(&pool.done); /* a zk__pool_hold(0) may wait for the pool to be free */
    pthread_mutex_unlock(&pool.mu);
    return 1;
}

void zk__pool_hold(int hold)
{
    pthread_once(&atfork_once, atfork_register);
    pthread_mutex_lock(&pool.mu);
    if (hold) {
        pool.holders++;
        pthread_mutex_unlock(&pool.mu);
        return;
    }
    if (pool.holders > 0)
        pool.holders--;
    /* The last release stops the helpers once no loop runs on them and no other release is
     * stopping them; a prover created meanwhile keeps them. */
    while (pool.holders == 0 && (pool.busy || pool.stop))
        pthread_cond_wait(&pool.done, &pool.mu);
    if (pool.holders > 0 || pool.n == 0) {
        pthread_mutex_unlock(&pool.mu);
        return;
    }
    pthread_t th[ZK_MAX_THREADS];
    unsigned n = pool.n;
    memcpy(th, pool.th, n * sizeof *th);
    pool.n = 0;
    atomic_store(&pool.stop, 1); /* pool_run falls back to its own threads until the helpers are joined */
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    for (unsigned i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_lock(&pool.mu);
    atomic_store(&pool.stop, 0);
    pthread_cond_broadcast(&pool.done); /* releases waiting above */
    pthread_mutex_unlock(&pool.mu);
}

unsigned zk__threads(int requested)
{
    if (requested > 0)
        return (unsigned)requested > ZK_MAX_THREADS ? ZK_MAX_THREADS : (unsigned)requested;
#if defined(__linux__) && defined(CPU_COUNT)
    /* the CPUs this process may run on (taskset, cpusets), not all online ones */
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set) > (int)ZK_MAX_THREADS ? ZK_MAX_THREADS : (unsigned)CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    return n > ZK_MAX_THREADS ? ZK_MAX_THREADS : (unsigned)n;
}

unsigned zk__par_for(unsigned n_threads, size_t n, size_t min_chunk, zk_par_fn fn, void *ctx)
{
    if (min_chunk == 0)
        min_chunk = 1;
    size_t nc = n / min_chunk;
    if (nc > ZK_PAR_CHUNKS)
        nc = ZK_PAR_CHUNKS;
    if (nc <= 1) {
        fn(ctx, 0, n, 0);
        return 1;
    }
    par_job job = {.fn = fn, .ctx = ctx, .n = n, .chunk = (n + nc - 1) / nc};
    job.n_chunks = (unsigned)((n + job.chunk - 1) / job.chunk);
    atomic_init(&job.next, 0);
    if (n_threads > job.n_chunks)
        n_threads = job.n_chunks;
    if (n_threads <= 1) {
        par_drain(&job);
        return job.n_chunks;
    }
    if (pool_run(&job, n_threads - 1))
        return job.n_chunks;
    pthread_t th[ZK_PAR_CHUNKS];
    int started[ZK_PAR_CHUNKS] = {0};
    for (unsigned t = 1; t < n_threads; t++)
        started[t] = pthread_create(&th[t], NULL, par_main, &job) == 0;
    par_drain(&job); /* also covers helpers that could not start */
    for (unsigned t = 1; t < n_threads; t++)
        if (started[t])
            pthread_join(th[t], NULL);
    return job.n_chunks;
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

static void eq_rows(void *vctx, size_t b, size_t e, unsigned tid)
{
    (void)tid;
    const eq_ctx *x = vctx;
    size_t w = (size_t)1 << EQ_LO_BITS;
    ff2_t fb[1u << EQ_LO_BITS], tmp[1u << EQ_LO_BITS]; /* 64 KiB each */
    for (size_t h = b; h < e; h++) {
        ff2_t f = x->scale;
        for (unsigned j = EQ_LO_BITS; j < x->n; j++) {
            ff2_t rj = x->r[j];
            f = zk__mul2(f, ((h >> (j - EQ_LO_BITS)) & 1) ? rj : ff2_sub(ff2_one(), rj));
        }
        for (size_t l = 0; l < w; l++)
            fb[l] = f;
        ff2_t *o = x->out + h * w;
        if (x->acc) {
            ff2_vec_mul(tmp, x->elo, fb, w);
            ff_vec_add((ff_t *)o, (const ff_t *)o, (const ff_t *)tmp, 2 * w);
        } else {
            ff2_vec_mul(o, x->elo, fb, w);
        }
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

/* ---- large prover buffers ----------------------------------------------------------------
 * The prover's big tables (witness polynomial, codewords, fraction trees, fold tables) add up to
 * several times the witness size per proof. Fresh memory costs a page fault and a kernel page
 * clear per page, which measured ~25% of a large proof's CPU time. Buffers of at least
 * ZK_BIG_MIN bytes are therefore, once released, kept in a small process-wide cache while any
 * prover is alive, so a worker proving chunk after chunk reuses the same memory. (Transparent
 * huge pages, madvise'd here before the cache existed, made the first proof ~2x slower on our VM
 * -- the kernel clears and the hypervisor backs 2 MiB at a time -- and gain nothing on reused
 * memory, so they are not requested.) The cache never holds more than one proof's worth
 * of buffers (it only keeps what the last proof released, up to ZK_CACHE_SLOTS blocks and
 * ZK_CACHE_MAX_BYTES) and is emptied when the last prover is freed. Cached memory is not
 * zeroed on reuse: zk__big_alloc has malloc semantics. */
#define ZK_BIG_MIN ((size_t)1 << 20)
#define ZK_BIG_ALIGN ((size_t)4 << 10) /* size granule and alignment of cached buffers */
#define ZK_CACHE_SLOTS 128u
#define ZK_CACHE_MAX_BYTES ((size_t)4 << 30)

typedef struct big_slot {
    void *p;
    size_t cap;
    int cached; /* 1: free for reuse; 0: handed out */
} big_slot;

static big_slot big_slots[ZK_CACHE_SLOTS];
static size_t big_cached_bytes;
static unsigned big_holders;

/* An internal invariant broken by a caller (a cached block released with free() or twice): the
 * cache would hand memory out twice, so stop here rather than corrupt the heap later. */
static void big_misuse(const char *what)
{
    fprintf(stderr, "%s (internal error)\n", what);
    abort();
}

void *zk__big_alloc(size_t bytes)
{
    if (bytes < ZK_BIG_MIN) /* 64-byte aligned like the cached blocks (the trace's buffers need it) */
        return aligned_alloc(64, bytes ? (bytes + 63) & ~(size_t)63 : 64);
    pthread_once(&atfork_once, atfork_register);
    size_t len = (bytes + ZK_BIG_ALIGN - 1) & ~(ZK_BIG_ALIGN - 1);
    pthread_mutex_lock(&big_mu);
    /* best fit among cached blocks no more than twice the request */
    big_slot *best = NULL;
    for (unsigned i = 0; i < ZK_CACHE_SLOTS; i++) {
        big_slot *b = &big_slots[i];
        if (b->p && b->cached && b->cap >= len && b->cap / 2 <= len && (!best || b->cap < best->cap))
            best = b;
    }
    if (best) {
        best->cached = 0;
        big_cached_bytes -= best->cap;
        pthread_mutex_unlock(&big_mu);
        return best->p;
    }
    pthread_mutex_unlock(&big_mu);
    void *p = aligned_alloc(ZK_BIG_ALIGN, len);
    if (!p)
        return NULL;
    pthread_mutex_lock(&big_mu);
    /* a fresh block at an address the cache still lists was released with free() behind its
     * back: the cache would later hand it out twice. Fail loudly rather than corrupt memory. */
    for (unsigned i = 0; i < ZK_CACHE_SLOTS; i++)
        if (big_slots[i].p == p)
            big_misuse("zk__big_alloc: a cached block was released with free()");
    for (unsigned i = 0; i < ZK_CACHE_SLOTS; i++)
        if (!big_slots[i].p) {
            big_slots[i] = (big_slot){.p = p, .cap = len, .cached = 0};
            break;
        }
    pthread_mutex_unlock(&big_mu); /* no free slot: the block is simply not cached later */
    return p;
}

void zk__big_free(void *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&big_mu);
    for (unsigned i = 0; i < ZK_CACHE_SLOTS; i++) {
        big_slot *b = &big_slots[i];
        if (b->p != p)
            continue;
        /* a listed block that is already cached, or whose address now holds a smaller chunk,
         * was released twice or with free(): caching it again would hand it out twice */
        int smaller = 0;
#if defined(__GLIBC__)
        smaller = malloc_usable_size(p) < b->cap;
#endif
        if (b->cached || smaller)
            big_misuse("zk__big_free: a cached block was released twice or with free()");
        if (big_holders > 0 && big_cached_bytes + b->cap <= ZK_CACHE_MAX_BYTES) {
            b->cached = 1;
            big_cached_bytes += b->cap;
            pthread_mutex_unlock(&big_mu);
            return;
        }
        *b = (big_slot){0};
        break;
    }
    pthread_mutex_unlock(&big_mu);
    free(p);
}

void zk__big_cache_hold(int hold)
{
    pthread_once(&atfork_once, atfork_register);
    void *drop[ZK_CACHE_SLOTS];
    unsigned n = 0;
    pthread_mutex_lock(&big_mu);
    if (hold) {
        big_holders++;
    } else if (big_holders > 0 && --big_holders == 0) {
        for (unsigned i = 0; i < ZK_CACHE_SLOTS; i++)
            if (big_slots[i].p && big_slots[i].cached) {
                drop[n++] = big_slots[i].p;
                big_slots[i] = (big_slot){0};
            }
        big_cached_bytes = 0;
    }
    pthread_mutex_unlock(&big_mu);
    for (unsigned i = 0; i < n; i++)
        free(drop[i]);
}
