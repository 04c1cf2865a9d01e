/* Merkle trees over SHA-256 with batched, deduplicated multi-path openings (see merkle.h). */
#define OPENSSL_SUPPRESS_DEPRECATED /* low-level SHA256_*: no per-call EVP fetch */
#include "enclaveml/zkml/merkle.h"

#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sha256x16.h"

struct mt_tree {
    unsigned log_leaves;
    size_t n_leaves;
    /* Heap layout: node 1 is the root, node k has children 2k and 2k+1, leaf i is node
     * n_leaves + i. Siblings are adjacent, so a parent hashes one contiguous 64-byte block. */
    uint8_t (*nodes)[MT_HASH_LEN];
};

static const uint8_t leaf_tag = MT_LEAF_TAG, node_tag = MT_NODE_TAG;

static void put_u64le(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

void mt_hash_node(const uint8_t left[MT_HASH_LEN], const uint8_t right[MT_HASH_LEN],
                  uint8_t out[MT_HASH_LEN])
{
    uint8_t buf[1 + 2 * MT_HASH_LEN];
    buf[0] = node_tag;
    memcpy(buf + 1, left, MT_HASH_LEN);
    memcpy(buf + 1 + MT_HASH_LEN, right, MT_HASH_LEN);
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, buf, sizeof buf);
    SHA256_Final(out, &c);
}

/* Children 2k, 2k+1 are contiguous: hash them in place, no copy. */
static void hash_children(const uint8_t children[2 * MT_HASH_LEN], uint8_t out[MT_HASH_LEN])
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, &node_tag, 1);
    SHA256_Update(&c, children, 2 * MT_HASH_LEN);
    SHA256_Final(out, &c);
}

/* The nodes pend[0 .. n): sixteen at once in the lanes of sha256x16, fewer one by one. */
static void hash_pending(mt_tree *t, const size_t *pend, unsigned n)
{
    if (n < SHA256X16_LANES) {
        for (unsigned i = 0; i < n; i++)
            hash_children(t->nodes[2 * pend[i]], t->nodes[pend[i]]);
        return;
    }
    const uint8_t *src[SHA256X16_LANES];
    uint8_t *out[SHA256X16_LANES];
    for (unsigned i = 0; i < SHA256X16_LANES; i++) {
        src[i] = t->nodes[2 * pend[i]];
        out[i] = t->nodes[pend[i]];
    }
    sha256x16 s;
    sha256x16_init(&s);
    sha256x16_update_strided(&s, &node_tag, 0, 1);
    sha256x16_update(&s, src, 2 * MT_HASH_LEN);
    sha256x16_final(&s, out);
}

/* Nodes k = hi-1 down to lo of t: a node whose children equal those of node k + 1 (the
 * all-zero padding leaves of a systematic commitment, a third of the witness tree, and every
 * subtree above them) copies its hash instead of computing it again. The others are hashed
 * sixteen at a time where sha256x16 runs; a copy waits for its source's batch, and a node whose
 * children (or node k + 1's, which the comparison reads) may still be pending waits for theirs:
 * [lo, hi) may span several levels (the top of the tree above the threads' blocks). */
static void hash_nodes(mt_tree *t, size_t lo, size_t hi)
{
    if (hi - lo >= SHA256X16_LANES && sha256x16_ok()) {
        size_t pend[SHA256X16_LANES];
        unsigned np = 0;
        for (size_t k = hi; k-- > lo;) {
            if (np && pend[0] >= 2 * k) { /* pend is descending: its largest may be a child */
                hash_pending(t, pend, np);
                np = 0;
            }
            if (!(k + 1 < hi && memcmp(t->nodes[2 * k], t->nodes[2 * k + 2], 2 * MT_HASH_LEN) == 0)) {
                pend[np++] = k;
                if (np == SHA256X16_LANES) {
                    hash_pending(t, pend, np);
                    np = 0;
                }
                continue;
            }
            if (np && pend[np - 1] == k + 1) { /* the source is not hashed yet */
                hash_pending(t, pend, np);
                np = 0;
            }
            memcpy(t->nodes[k], t->nodes[k + 1], MT_HASH_LEN);
        }
        hash_pending(t, pend, np);
        return;
    }
    for (size_t k = hi; k-- > lo;) {
        if (k + 1 < hi && memcmp(t->nodes[2 * k], t->nodes[2 * k + 2], 2 * MT_HASH_LEN) == 0)
            memcpy(t->nodes[k], t->nodes[k + 1], MT_HASH_LEN);
        else
            hash_children(t->nodes[2 * k], t->nodes[k]);
    }
}

/* Little-endian ff_t encoding is the in-memory layout on x86-64, but encode explicitly so the
 * hash does not depend on host byte order. */
static void update_ff(SHA256_CTX *c, const ff_t *v, size_t n, size_t stride)
{
    uint8_t buf[512];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        put_u64le(buf + k, v[i * stride]);
        k += 8;
        if (k == sizeof buf) {
            SHA256_Update(c, buf, k);
            k = 0;
        }
    }
    if (k)
        SHA256_Update(c, buf, k);
}

void mt_hash_leaf(const ff_t *v, size_t n, uint8_t out[MT_HASH_LEN])
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, &leaf_tag, 1);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n)
        SHA256_Update(&c, v, n * sizeof(ff_t));
#else
    update_ff(&c, v, n, 1);
#endif
    SHA256_Final(out, &c);
}

void mt_hash_leaf_strided(const ff_t *v, size_t n, size_t stride, uint8_t out[MT_HASH_LEN])
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, &leaf_tag, 1);
    update_ff(&c, v, n, stride);
    SHA256_Final(out, &c);
}

static em_status log2_exact(size_t n, unsigned *log, em_err *err)
{
    if (n == 0 || (n & (n - 1)) != 0)
        return em_errf(err, EM_ERR_ARG, "merkle: leaf count %zu is not a power of two", n);
    unsigned l = (unsigned)__builtin_ctzll((unsigned long long)n);
    if (l > MT_MAX_LOG_LEAVES)
        return em_errf(err, EM_ERR_LIMIT, "merkle: 2^%u leaves exceeds the maximum 2^%u", l,
                       MT_MAX_LOG_LEAVES);
    *log = l;
    return EM_OK;
}

static em_status tree_alloc(size_t n_leaves, mt_tree **out, em_err *err)
{
    unsigned log = 0;
    em_status st = log2_exact(n_leaves, &log, err);
    if (st != EM_OK)
        return st;
    mt_tree *t = calloc(1, sizeof *t);
    if (!t)
        return em_errf(err, EM_ERR_NOMEM, "merkle: out of memory");
    t->log_leaves = log;
    t->n_leaves = n_leaves;
    t->nodes = malloc(2 * n_leaves * MT_HASH_LEN);
    if (!t->nodes) {
        free(t);
        return em_errf(err, EM_ERR_NOMEM, "merkle: out of memory for %zu leaves", n_leaves);
    }
    memset(t->nodes[0], 0, MT_HASH_LEN); /* node 0 is unused */
    *out = t;
    return EM_OK;
}

/* Columns are hashed a tile at a time: MT_COL_TILE columns share one pass over MT_ROW_TILE
 * rows, transposed into a small buffer so every SHA256_Update gets a long contiguous run while
 * the matrix is read row-wise in whole cache lines (one page per row per tile, not per leaf). */
#define MT_COL_TILE 64
#define MT_ROW_TILE 32

typedef enum { MT_SRC_ROWS, MT_SRC_COLS, MT_SRC_HASHES, MT_SRC_NONE, MT_SRC_SYS, MT_SRC_NODES } mt_src_kind;

typedef struct mt_job {
    mt_tree *t;
    mt_src_kind kind;
    const ff_t *m;
    size_t rows, cols;                     /* MT_SRC_COLS: matrix shape; MT_SRC_ROWS: cols = leaf_len */
    const uint8_t (*hashes)[MT_HASH_LEN]; /* MT_SRC_HASHES */
    size_t l0, l1;                         /* leaf range of this job: an aligned power-of-two block */
    /* MT_SRC_SYS (leaves only, no subtree): integer columns [i0, i1) of the rows x n_int matrix
     * ints (len entries, then zeros; row i's entries in row_bytes[i] bytes), then the columns
     * [l0, l1) of the rows x cols matrix m as leaves n_int + l0 .. */
    const int32_t *ints;
    size_t ints_len, n_int, i0, i1;
    const uint8_t *row_bytes;
    uint8_t *keep;    /* NULL, or where integer column c's bytes go: keep + c * keep_len */
    size_t keep_len;
} mt_job;

/* The hashes of a tile's nc columns (one leaf each): whole groups of 16 in sha256x16 lanes where
 * it runs, the rest in OpenSSL contexts. Column k's bytes of an update are at tile + k * stride. */
typedef struct col_hash {
    SHA256_CTX ctx[MT_COL_TILE];
    sha256x16 x[MT_COL_TILE / SHA256X16_LANES];
    size_t nc, nx; /* columns, and those in lanes (a multiple of 16) */
} col_hash;

static void col_hash_begin(col_hash *h, size_t nc, uint8_t tag)
{
    h->nc = nc;
    h->nx = sha256x16_ok() ? nc / SHA256X16_LANES * SHA256X16_LANES : 0;
    for (size_t g = 0; g < h->nx / SHA256X16_LANES; g++) {
        sha256x16_init(&h->x[g]);
        sha256x16_update_strided(&h->x[g], &tag, 0, 1);
    }
    for (size_t k = h->nx; k < nc; k++) {
        SHA256_Init(&h->ctx[k]);
        SHA256_Update(&h->ctx[k], &tag, 1);
    }
}

static void col_hash_update(col_hash *h, const uint8_t *tile, size_t stride, size_t len)
{
    for (size_t g = 0; g < h->nx / SHA256X16_LANES; g++)
        sha256x16_update_strided(&h->x[g], tile + g * SHA256X16_LANES * stride, stride, len);
    for (size_t k = h->nx; k < h->nc; k++)
        SHA256_Update(&h->ctx[k], tile + k * stride, len);
}

/* column k's leaf -> leaves[k] */
static void col_hash_final(col_hash *h, uint8_t (*leaves)[MT_HASH_LEN])
{
    for (size_t g = 0; g < h->nx / SHA256X16_LANES; g++) {
        uint8_t *out[SHA256X16_LANES];
        for (unsigned i = 0; i < SHA256X16_LANES; i++)
            out[i] = leaves[g * SHA256X16_LANES + i];
        sha256x16_final(&h->x[g], out);
    }
    for (size_t k = h->nx; k < h->nc; k++)
        SHA256_Final(leaves[k], &h->ctx[k]);
}

/* Columns [c_begin, c_end) of the row-major matrix m (j->rows x j->cols) -> leaves leaf_off + c. */
static void hash_cols(const mt_job *j, size_t c_begin, size_t c_end, size_t leaf_off)
{
    col_hash hs;
    uint8_t tile[MT_COL_TILE][MT_ROW_TILE * 8];
    size_t n_cols = j->cols, n_rows = j->rows;
    for (size_t c0 = c_begin; c0 < c_end; c0 += MT_COL_TILE) {
        size_t nc = c_end - c0 < MT_COL_TILE ? c_end - c0 : MT_COL_TILE;
        col_hash_begin(&hs, nc, leaf_tag);
        for (size_t r0 = 0; r0 < n_rows; r0 += MT_ROW_TILE) {
            size_t nr = n_rows - r0 < MT_ROW_TILE ? n_rows - r0 : MT_ROW_TILE;
            for (size_t r = 0; r < nr; r++) {
                const ff_t *row = j->m + (r0 + r) * n_cols + c0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                for (size_t k = 0; k < nc; k++)
                    memcpy(tile[k] + 8 * r, &row[k], 8);
#else
                for (size_t k = 0; k < nc; k++)
                    put_u64le(tile[k] + 8 * r, row[k]);
#endif
            }
            col_hash_update(&hs, tile[0], sizeof tile[0], 8 * nr);
        }
        col_hash_final(&hs, j->t->nodes + j->t->n_leaves + leaf_off + c0);
    }
}

/* Integer columns [c_begin, c_end) (MT_SRC_SYS): as hash_cols, each entry in its row's width. */
#define MT_INT_TILE 256 /* bytes buffered per column between SHA256_Update calls */
static void hash_int_cols(const mt_job *j, size_t c_begin, size_t c_end)
{
    col_hash hs;
    uint8_t tile[MT_COL_TILE][MT_INT_TILE];
    size_t n_cols = j->n_int;
    for (size_t c0 = c_begin; c0 < c_end; c0 += MT_COL_TILE) {
        size_t nc = c_end - c0 < MT_COL_TILE ? c_end - c0 : MT_COL_TILE, off = 0, done = 0;
        col_hash_begin(&hs, nc, MT_INT_LEAF_TAG);
        for (size_t r = 0; r < j->rows; r++) {
            size_t w = j->row_bytes[r], base = r * n_cols + c0;
            if (w == 1 && r + 8 <= j->rows && off + 8 <= MT_INT_TILE && nc == MT_COL_TILE &&
                j->ints_len >= base + 7 * n_cols + nc && memcmp(j->row_bytes + r, "\1\1\1\1\1\1\1\1", 8) == 0) {
                /* eight one-byte rows at once: each column's 8 bytes gathered into one word */
                const int32_t *row = j->ints + base;
                for (size_t k = 0; k < MT_COL_TILE; k++) {
                    uint64_t v = 0;
                    for (size_t t = 0; t < 8; t++)
                        v |= (uint64_t)(uint8_t)row[t * n_cols + k] << (8 * t);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                    memcpy(tile[k] + off, &v, 8);
#else
                    for (size_t t = 0; t < 8; t++)
                        tile[k][off + t] = (uint8_t)(v >> (8 * t));
#endif
                }
                off += 8;
                r += 7;
                continue;
            }
            if (off + w > MT_INT_TILE) {
                col_hash_update(&hs, tile[0], sizeof tile[0], off);
                for (size_t k = 0; j->keep && k < nc; k++)
                    memcpy(j->keep + (c0 + k) * j->keep_len + done, tile[k], off);
                done += off;
                off = 0;
            }
            size_t valid = j->ints_len > base ? j->ints_len - base : 0; /* entries of this row run that exist */
            const int32_t *row = j->ints + base;
            if (valid >= nc && w == 1) { /* the common rows: one byte per entry */
                for (size_t k = 0; k < nc; k++)
                    tile[k][off] = (uint8_t)row[k];
            } else {
                for (size_t k = 0; k < nc; k++) {
                    uint32_t v = k < valid ? (uint32_t)row[k] : 0;
                    for (size_t b = 0; b < w; b++)
                        tile[k][off + b] = (uint8_t)(v >> (8 * b));
                }
            }
            off += w;
        }
        col_hash_update(&hs, tile[0], sizeof tile[0], off);
        for (size_t k = 0; j->keep && off && k < nc; k++)
            memcpy(j->keep + (c0 + k) * j->keep_len + done, tile[k], off);
        col_hash_final(&hs, j->t->nodes + j->t->n_leaves + c0);
    }
}

void mt_hash_int_leaf(const uint8_t *bytes, size_t len, uint8_t out[MT_HASH_LEN])
{
    static const uint8_t int_tag = MT_INT_LEAF_TAG;
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, &int_tag, 1);
    if (len)
        SHA256_Update(&c, bytes, len);
    SHA256_Final(out, &c);
}

/* Every internal node of t whose subtree lies inside leaves [l0, l1) (an aligned block). */
static void subtree_nodes(mt_tree *t, size_t l0, size_t l1)
{
    size_t n = t->n_leaves;
    for (size_t lo = (n + l0) >> 1, hi = (n + l1) >> 1; hi - lo >= 1 && lo >= 1; lo >>= 1, hi >>= 1) {
        hash_nodes(t, lo, hi);
        if (hi - lo == 1)
            break;
    }
}

/* Hashes the job's leaves, then every internal node whose subtree lies inside the job
 * (MT_SRC_NODES: the subtrees of blocks i0, i0 + i1, i0 + 2 i1, ... of l1 leaves each). */
static void *mt_job_run(void *arg)
{
    const mt_job *j = arg;
    mt_tree *t = j->t;
    size_t n = t->n_leaves;
    switch (j->kind) {
    case MT_SRC_ROWS:
        for (size_t i = j->l0; i < j->l1; i++)
            mt_hash_leaf(j->m + i * j->cols, j->cols, t->nodes[n + i]);
        break;
    case MT_SRC_COLS:
        hash_cols(j, j->l0, j->l1, 0);
        break;
    case MT_SRC_HASHES:
        memcpy(t->nodes[n + j->l0], j->hashes[j->l0], (j->l1 - j->l0) * MT_HASH_LEN);
        break;
    case MT_SRC_NONE:
        break;
    case MT_SRC_SYS:
        hash_int_cols(j, j->i0, j->i1);
        hash_cols(j, j->l0, j->l1, j->n_int);
        return NULL; /* leaves only: the subtrees span both parts */
    case MT_SRC_NODES:
        for (size_t b = j->i0; b * j->l1 < n; b += j->i1)
            subtree_nodes(t, b * j->l1, (b + 1) * j->l1);
        return NULL;
    }
    subtree_nodes(t, j->l0, j->l1);
    return NULL;
}

#define MT_MAX_THREADS 16
#ifndef MT_NODE_BLOCKS /* a test builds this file with more, so that hash_nodes spans levels in batches */
#define MT_NODE_BLOCKS 16
#endif
_Static_assert((MT_NODE_BLOCKS & (MT_NODE_BLOCKS - 1)) == 0, "MT_NODE_BLOCKS is a power of two");
#define MT_MIN_PAR_BYTES ((size_t)1 << 20) /* below this, thread start-up costs more than it saves */

/* Threads for a tree of n_leaves over data_bytes of leaf data: a power of two <= the CPUs. */
static size_t tree_threads(size_t n_leaves, size_t data_bytes, unsigned max_threads)
{
    size_t T = 1;
    if (data_bytes + n_leaves * MT_HASH_LEN >= MT_MIN_PAR_BYTES) {
        long cpus = max_threads ? (long)max_threads : sysconf(_SC_NPROCESSORS_ONLN);
        while (T * 2 <= (size_t)(cpus > 0 ? cpus : 1) && T * 2 <= MT_MAX_THREADS && T * 2 <= n_leaves / 64)
            T *= 2;
    }
    return T;
}

/* Runs jobs[1..T) on threads and jobs[0] (and any that could not start) on the caller. */
static void run_jobs(mt_job *jobs, size_t T)
{
    pthread_t tid[MT_MAX_THREADS];
    size_t started = 0;
    for (size_t i = 1; i < T; i++) {
        if (pthread_create(&tid[i], NULL, mt_job_run, &jobs[i]) != 0)
            break;
        started = i;
    }
    mt_job_run(&jobs[0]);
    for (size_t i = started + 1; i < T; i++) /* threads that could not start */
        mt_job_run(&jobs[i]);
    for (size_t i = 1; i <= started; i++)
        pthread_join(tid[i], NULL);
}

/* Splits the leaves of t into T aligned blocks, hashes the blocks' subtrees in parallel, then
 * the top log2(T) levels on the calling thread. */
static void tree_hash(mt_tree *t, mt_job proto, size_t T)
{
    mt_job jobs[MT_MAX_THREADS];
    proto.t = t;
    size_t per = t->n_leaves / T;
    for (size_t i = 0; i < T; i++) {
        jobs[i] = proto;
        jobs[i].l0 = i * per;
        jobs[i].l1 = (i + 1) * per;
    }
    run_jobs(jobs, T);
    hash_nodes(t, 1, T);
}

static em_status tree_build(mt_job proto, size_t n_leaves, size_t data_bytes, unsigned max_threads, mt_tree **out,
                            em_err *err)
{
    mt_tree *t = NULL;
    em_status st = tree_alloc(n_leaves, &t, err);
    if (st != EM_OK)
        return st;
    tree_hash(t, proto, tree_threads(n_leaves, data_bytes, max_threads));
    *out = t;
    return EM_OK;
}

em_status mt_tree_build_sys(const int32_t *msg, size_t msg_len, const uint8_t *row_bytes, size_t n_msg,
                            const ff_t *par, size_t n_par, size_t n_rows, unsigned n_threads, uint8_t *msg_cols,
                            mt_tree **out, em_err *err)
{
    *out = NULL;
    size_t int_bytes = 0;
    for (size_t i = 0; i < n_rows; i++) {
        if (row_bytes[i] != 1 && row_bytes[i] != 2 && row_bytes[i] != 4)
            return em_errf(err, EM_ERR_ARG, "merkle: row %zu has %u-byte symbols (1, 2 or 4)", i, row_bytes[i]);
        int_bytes += row_bytes[i];
    }
    if ((msg_len && !msg) || msg_len > n_rows * n_msg || (n_par && !par))
        return em_errf(err, EM_ERR_ARG, "merkle: systematic matrix of %zu values for %zu x %zu", msg_len, n_rows,
                       n_msg);
    mt_tree *t = NULL;
    size_t n_leaves = 1;
    while (n_leaves < n_msg + n_par)
        n_leaves <<= 1;
    em_status st = tree_alloc(n_leaves, &t, err);
    if (st != EM_OK)
        return st;
    memset(t->nodes[n_leaves + n_msg + n_par], 0, (n_leaves - n_msg - n_par) * MT_HASH_LEN); /* padding leaves */
    /* the leaves first, each thread a share of both kinds (the parity columns are wider), then
     * the internal nodes over aligned blocks as the other builders do */
    size_t T = tree_threads(n_leaves, n_msg * int_bytes + n_par * n_rows * sizeof(ff_t), n_threads);
    mt_job jobs[MT_MAX_THREADS];
    for (size_t i = 0; i < T; i++)
        jobs[i] = (mt_job){.t = t, .kind = MT_SRC_SYS, .m = par, .rows = n_rows, .cols = n_par, .ints = msg,
                           .ints_len = msg_len, .n_int = n_msg, .row_bytes = row_bytes, .i0 = n_msg * i / T,
                           .i1 = n_msg * (i + 1) / T, .l0 = n_par * i / T, .l1 = n_par * (i + 1) / T,
                           .keep = msg_cols, .keep_len = int_bytes};
    run_jobs(jobs, T);
    /* the internal nodes: MT_NODE_BLOCKS aligned blocks dealt to the threads in turn, since the
     * padding's subtrees (hash_nodes) cost nothing and T blocks would leave one thread idle */
    size_t B = MT_NODE_BLOCKS <= n_leaves ? MT_NODE_BLOCKS : n_leaves;
    for (size_t i = 0; i < T; i++)
        jobs[i] = (mt_job){.t = t, .kind = MT_SRC_NODES, .i0 = i, .i1 = T, .l1 = n_leaves / B};
    run_jobs(jobs, T); /* T = 1: job 0 on the caller, every block */
    hash_nodes(t, 1, B); /* the levels above the blocks' roots (children first: descending) */
    *out = t;
    return EM_OK;
}

em_status mt_tree_build_rows(const ff_t *m, size_t n_leaves, size_t leaf_len, mt_tree **out,
                             em_err *err)
{
    mt_job j = {.kind = MT_SRC_ROWS, .m = m, .rows = n_leaves, .cols = leaf_len};
    return tree_build(j, n_leaves, n_leaves * leaf_len * sizeof(ff_t), 0, out, err);
}

em_status mt_tree_build_cols_threads(const ff_t *m, size_t n_rows, size_t n_cols, unsigned n_threads,
                                     mt_tree **out, em_err *err)
{
    mt_job j = {.kind = MT_SRC_COLS, .m = m, .rows = n_rows, .cols = n_cols};
    return tree_build(j, n_cols, n_rows * n_cols * sizeof(ff_t), n_threads, out, err);
}

em_status mt_tree_build_cols(const ff_t *m, size_t n_rows, size_t n_cols, mt_tree **out,
                             em_err *err)
{
    return mt_tree_build_cols_threads(m, n_rows, n_cols, 0, out, err);
}

em_status mt_tree_build_hashes(const uint8_t (*leaves)[MT_HASH_LEN], size_t n_leaves,
                               mt_tree **out, em_err *err)
{
    mt_job j = {.kind = MT_SRC_HASHES, .hashes = leaves};
    return tree_build(j, n_leaves, 0, 0, out, err);
}

void mt_tree_free(mt_tree *t)
{
    if (!t)
        return;
    free(t->nodes);
    free(t);
}

void mt_tree_root(const mt_tree *t, uint8_t out[MT_HASH_LEN])
{
    memcpy(out, t->nodes[1], MT_HASH_LEN);
}

unsigned mt_tree_log_leaves(const mt_tree *t) { return t->log_leaves; }

const uint8_t *mt_tree_leaf_hash(const mt_tree *t, size_t i) { return t->nodes[t->n_leaves + i]; }

static em_status check_indices(unsigned log_leaves, const uint64_t *idx, size_t n_idx, em_err *err)
{
    if (log_leaves > MT_MAX_LOG_LEAVES)
        return em_errf(err, EM_ERR_LIMIT, "merkle: tree height %u exceeds the maximum %u",
                       log_leaves, MT_MAX_LOG_LEAVES);
    if (n_idx == 0)
        return em_errf(err, EM_ERR_FORMAT, "merkle: empty index set");
    uint64_t n_leaves = (uint64_t)1 << log_leaves;
    for (size_t k = 0; k < n_idx; k++) {
        if (idx[k] >= n_leaves)
            return em_errf(err, EM_ERR_RANGE, "merkle: index %llu (position %zu) out of range (tree has %llu leaves)",
                           (unsigned long long)idx[k], k, (unsigned long long)n_leaves);
        if (k && idx[k] <= idx[k - 1])
            return em_errf(err, EM_ERR_FORMAT,
                           "merkle: indices not strictly increasing at position %zu (%llu after %llu)", k,
                           (unsigned long long)idx[k], (unsigned long long)idx[k - 1]);
    }
    return EM_OK;
}

/* Walks the opening's shape without hashes: at each level a node's sibling is either the next
 * opened node (derivable) or one hash of the opening. scratch holds n_idx indices. */
static size_t count_walk(unsigned log_leaves, uint64_t *cur, size_t m)
{
    size_t count = 0;
    for (unsigned lvl = 0; lvl < log_leaves; lvl++) {
        size_t w = 0;
        for (size_t k = 0; k < m;) {
            uint64_t i = cur[k];
            if ((i & 1) == 0 && k + 1 < m && cur[k + 1] == i + 1)
                k += 2;
            else {
                count++;
                k++;
            }
            cur[w++] = i >> 1;
        }
        m = w;
    }
    return count;
}

em_status mt_opening_count(unsigned log_leaves, const uint64_t *idx, size_t n_idx, size_t *count,
                           em_err *err)
{
    em_status st = check_indices(log_leaves, idx, n_idx, err);
    if (st != EM_OK)
        return st;
    uint64_t *cur = malloc(n_idx * sizeof *cur);
    if (!cur)
        return em_errf(err, EM_ERR_NOMEM, "merkle: out of memory");
    memcpy(cur, idx, n_idx * sizeof *cur);
    *count = count_walk(log_leaves, cur, n_idx);
    free(cur);
    return EM_OK;
}

em_status mt_tree_open(const mt_tree *t, const uint64_t *idx, size_t n_idx, em_buf *out, em_err *err)
{
    size_t count;
    uint64_t *cur = NULL;
    em_status st = mt_opening_count(t->log_leaves, idx, n_idx, &count, err);
    if (st != EM_OK)
        goto out;
    if ((st = em_buf_reserve(out, 4 + count * MT_HASH_LEN)) != EM_OK ||
        (st = em_buf_append_u32le(out, (uint32_t)count)) != EM_OK) {
        st = em_errf(err, st, "merkle: opening of %zu hashes does not fit the output buffer", count);
        goto out;
    }
    cur = malloc(n_idx * sizeof *cur);
    if (!cur) {
        st = em_errf(err, EM_ERR_NOMEM, "merkle: out of memory");
        goto out;
    }
    memcpy(cur, idx, n_idx * sizeof *cur);
    size_t m = n_idx;
    for (unsigned lvl = 0; lvl < t->log_leaves; lvl++) {
        size_t w = 0;
        uint64_t level_base = (uint64_t)t->n_leaves >> lvl; /* heap index of node 0 at lvl */
        for (size_t k = 0; k < m;) {
            uint64_t i = cur[k];
            if ((i & 1) == 0 && k + 1 < m && cur[k + 1] == i + 1)
                k += 2;
            else {
                st = em_buf_append(out, t->nodes[level_base + (i ^ 1)], MT_HASH_LEN);
                if (st != EM_OK) {
                    st = em_errf(err, st, "merkle: output buffer full");
                    goto out;
                }
                k++;
            }
            cur[w++] = i >> 1;
        }
        m = w;
    }
out:
    free(cur);
    return st;
}

typedef struct mt_node_ref {
    uint64_t idx;
    uint8_t h[MT_HASH_LEN];
} mt_node_ref;

em_status mt_verify_reader(const uint8_t root[MT_HASH_LEN], unsigned log_leaves, const uint64_t *idx,
                           const uint8_t (*leaf_hashes)[MT_HASH_LEN], size_t n_idx, em_reader *r,
                           em_err *err)
{
    mt_node_ref *cur = NULL;
    size_t expect;
    uint32_t count;
    const uint8_t *hashes;
    em_status st = mt_opening_count(log_leaves, idx, n_idx, &expect, err);
    if (st != EM_OK)
        goto out;
    if (em_reader_u32le(r, &count) != EM_OK) {
        st = em_errf(err, EM_ERR_PARSE, "merkle opening: truncated hash count");
        goto out;
    }
    if (count != expect) {
        st = em_errf(err, EM_ERR_FORMAT, "merkle opening: %u hashes, expected exactly %zu for %zu indices",
                     count, expect, n_idx);
        goto out;
    }
    if (em_reader_view(r, &hashes, (size_t)count * MT_HASH_LEN) != EM_OK) {
        st = em_errf(err, EM_ERR_PARSE, "merkle opening: truncated (%u hashes need %zu bytes, %zu left)",
                     count, (size_t)count * MT_HASH_LEN, em_reader_left(r));
        goto out;
    }
    cur = malloc(n_idx * sizeof *cur);
    if (!cur) {
        st = em_errf(err, EM_ERR_NOMEM, "merkle: out of memory");
        goto out;
    }
    for (size_t k = 0; k < n_idx; k++) {
        cur[k].idx = idx[k];
        memcpy(cur[k].h, leaf_hashes[k], MT_HASH_LEN);
    }
    size_t m = n_idx, used = 0;
    for (unsigned lvl = 0; lvl < log_leaves; lvl++) {
        size_t w = 0;
        for (size_t k = 0; k < m;) {
            uint64_t i = cur[k].idx;
            uint8_t parent[MT_HASH_LEN];
            if ((i & 1) == 0 && k + 1 < m && cur[k + 1].idx == i + 1) {
                mt_hash_node(cur[k].h, cur[k + 1].h, parent);
                k += 2;
            } else {
                const uint8_t *sib = hashes + used * MT_HASH_LEN;
                used++; /* count_walk guarantees used <= count */
                if (i & 1)
                    mt_hash_node(sib, cur[k].h, parent);
                else
                    mt_hash_node(cur[k].h, sib, parent);
                k++;
            }
            cur[w].idx = i >> 1;
            memcpy(cur[w].h, parent, MT_HASH_LEN);
            w++;
        }
        m = w;
    }
    if (m != 1 || used != count) {
        st = em_errf(err, EM_ERR_INTERNAL, "merkle: opening walk inconsistent");
        goto out;
    }
    if (!em_ct_eq(cur[0].h, root, MT_HASH_LEN)) {
        st = em_errf(err, EM_ERR_VERIFY, "merkle opening: computed root does not match the commitment");
        goto out;
    }
    st = EM_OK;
out:
    free(cur);
    return st;
}

em_status mt_verify(const uint8_t root[MT_HASH_LEN], unsigned log_leaves, const uint64_t *idx,
                    const uint8_t (*leaf_hashes)[MT_HASH_LEN], size_t n_idx, const uint8_t *proof,
                    size_t proof_len, em_err *err)
{
    em_reader r;
    em_reader_init(&r, proof, proof_len);
    em_status st = mt_verify_reader(root, log_leaves, idx, leaf_hashes, n_idx, &r, err);
    if (st == EM_OK && em_reader_left(&r) != 0)
        st = em_errf(err, EM_ERR_FORMAT, "merkle opening: %zu trailing bytes", em_reader_left(&r));
    return st;
}
