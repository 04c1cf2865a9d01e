/* Merkle trees: known answers (tools/gen-vectors.py), random multi-openings, and strict
 * rejection of every tampered hash, index, byte and length. */
#include <jansson.h>

#include "enclaveml/zkml/merkle.h"
#include "sha256x16.h"
#include "harness.h"

static ff_t seq(size_t i, uint64_t seed) { return ff_from_u64((uint64_t)(i + seed) * 0x9E3779B97F4A7C15ULL); }

static int hex_eq(const uint8_t *b, size_t n, json_t *want)
{
    char *h = malloc(2 * n + 1);
    em_hex_encode(b, n, h);
    const char *w = json_string_value(want);
    int ok = w && strcmp(h, w) == 0;
    if (!ok)
        fprintf(stderr, "  hex mismatch: %s vs %s\n", h, w ? w : "(null)");
    free(h);
    return ok;
}

static void test_vectors(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/vectors/merkle.json", th_src_dir());
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    CHECK(root != NULL);
    if (!root) {
        fprintf(stderr, "  cannot load %s: %s\n", path, je.text);
        return;
    }
    em_err err;
    size_t ti, n_open = 0;
    json_t *tv;
    json_array_foreach(json_object_get(root, "column_trees"), ti, tv)
    {
        size_t rows = (size_t)json_integer_value(json_object_get(tv, "rows"));
        size_t cols = (size_t)json_integer_value(json_object_get(tv, "cols"));
        uint64_t seed = (uint64_t)json_integer_value(json_object_get(tv, "seed"));
        ff_t *m = malloc((rows * cols + 1) * sizeof *m);
        for (size_t i = 0; i < rows * cols; i++)
            m[i] = seq(i, seed);
        mt_tree *t = NULL;
        CHECK_OK(mt_tree_build_cols(m, rows, cols, &t, &err), &err);
        if (!t) {
            free(m);
            continue;
        }
        uint8_t r[32];
        mt_tree_root(t, r);
        CHECK(hex_eq(r, 32, json_object_get(tv, "root")));
        for (size_t j = 0; j < cols; j++) {
            CHECK(hex_eq(mt_tree_leaf_hash(t, j), 32, json_array_get(json_object_get(tv, "leaf_hashes"), j)));
            uint8_t lh[32];
            mt_hash_leaf_strided(m + j, rows, cols, lh);
            CHECK(memcmp(lh, mt_tree_leaf_hash(t, j), 32) == 0);
        }
        size_t oi;
        json_t *ov;
        json_array_foreach(json_object_get(tv, "openings"), oi, ov)
        {
            json_t *ij = json_object_get(ov, "indices");
            size_t k = json_array_size(ij);
            uint64_t idx[128];
            uint8_t(*lh)[32] = malloc((k + 1) * 32);
            for (size_t q = 0; q < k && q < 128; q++) {
                idx[q] = (uint64_t)json_integer_value(json_array_get(ij, q));
                memcpy(lh[q], mt_tree_leaf_hash(t, idx[q]), 32);
            }
            em_buf b = {.max = 1 << 20};
            CHECK_OK(mt_tree_open(t, idx, k, &b, &err), &err);
            CHECK(hex_eq(b.data, b.len, json_object_get(ov, "opening")));
            CHECK_OK(mt_verify(r, mt_tree_log_leaves(t), idx, (const uint8_t(*)[32])lh, k, b.data, b.len, &err), &err);
            em_buf_free(&b);
            free(lh);
            n_open++;
        }
        mt_tree_free(t);
        free(m);
    }
    CHECK(n_open >= 20);
    json_array_foreach(json_object_get(root, "row_trees"), ti, tv)
    {
        size_t nl = (size_t)json_integer_value(json_object_get(tv, "n_leaves"));
        size_t ll = (size_t)json_integer_value(json_object_get(tv, "leaf_len"));
        uint64_t seed = (uint64_t)json_integer_value(json_object_get(tv, "seed"));
        ff_t *m = malloc((nl * ll + 1) * sizeof *m);
        for (size_t i = 0; i < nl * ll; i++)
            m[i] = seq(i, seed);
        mt_tree *t = NULL;
        CHECK_OK(mt_tree_build_rows(m, nl, ll, &t, &err), &err);
        if (t) {
            uint8_t r[32];
            mt_tree_root(t, r);
            CHECK(hex_eq(r, 32, json_object_get(tv, "root")));
        }
        mt_tree_free(t);
        free(m);
    }
    json_decref(root);
}

/* random sorted distinct subset of [0, n) of size k */
static size_t rand_subset(uint64_t *idx, size_t n, size_t k)
{
    size_t c = 0;
    for (size_t i = 0; i < n && c < k; i++)
        if (th_rand() % (n - i) < k - c)
            idx[c++] = i;
    return c;
}

enum { MAXL = 8, MAXN = 1 << MAXL };

static void test_random_openings(void)
{
    em_err err;
    for (unsigned L = 0; L <= MAXL; L++) {
        size_t n = (size_t)1 << L, rows = 1 + th_rand() % 5;
        ff_t *m = malloc(rows * n * sizeof *m);
        for (size_t i = 0; i < rows * n; i++)
            m[i] = ff_from_u64(th_rand());
        mt_tree *t = NULL, *t2 = NULL, *t3 = NULL;
        CHECK_OK(mt_tree_build_cols(m, rows, n, &t, &err), &err);
        if (!t)
            return;
        /* the same leaves via precomputed hashes give the same root; rows-build of the
         * transposed matrix too */
        CHECK_OK(mt_tree_build_hashes((const uint8_t(*)[32])mt_tree_leaf_hash(t, 0), n, &t2, &err), &err);
        ff_t *tr = malloc(rows * n * sizeof *tr);
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < n; c++)
                tr[c * rows + r] = m[r * n + c];
        CHECK_OK(mt_tree_build_rows(tr, n, rows, &t3, &err), &err);
        uint8_t root[32], r2[32], r3[32];
        mt_tree_root(t, root);
        mt_tree_root(t2, r2);
        mt_tree_root(t3, r3);
        CHECK(memcmp(root, r2, 32) == 0 && memcmp(root, r3, 32) == 0);
        for (int trial = 0; trial < 20; trial++) {
            uint64_t idx[MAXN];
            size_t k = rand_subset(idx, n, 1 + th_rand() % (n < 12 ? n : 12));
            if (trial == 0)
                k = rand_subset(idx, n, n);
            uint8_t(*lh)[32] = malloc(k * 32);
            for (size_t q = 0; q < k; q++)
                memcpy(lh[q], mt_tree_leaf_hash(t, idx[q]), 32);
            em_buf b = {.max = 1 << 20};
            CHECK_OK(mt_tree_open(t, idx, k, &b, &err), &err);
            size_t cnt = 0;
            CHECK_OK(mt_opening_count(L, idx, k, &cnt, &err), &err);
            CHECK_EQ_U64(b.len, 4 + 32 * cnt);
            CHECK(cnt <= k * L);
            CHECK_OK(mt_verify(root, L, idx, (const uint8_t(*)[32])lh, k, b.data, b.len, &err), &err);
            em_buf_free(&b);
            free(lh);
        }
        free(tr);
        free(m);
        mt_tree_free(t);
        mt_tree_free(t2);
        mt_tree_free(t3);
    }
}

/* Every single-byte change of the opening, every leaf hash change, every index change and every
 * truncation/extension is rejected. */
static void test_tamper(void)
{
    em_err err;
    unsigned L = 5;
    size_t n = (size_t)1 << L, rows = 3;
    ff_t m[3 * 32];
    for (size_t i = 0; i < rows * n; i++)
        m[i] = ff_from_u64(th_rand());
    mt_tree *t = NULL;
    CHECK_OK(mt_tree_build_cols(m, rows, n, &t, &err), &err);
    if (!t)
        return;
    uint8_t root[32];
    mt_tree_root(t, root);
    uint64_t idx[] = {1, 4, 5, 17, 30};
    size_t k = 5;
    uint8_t lh[5][32];
    for (size_t q = 0; q < k; q++)
        memcpy(lh[q], mt_tree_leaf_hash(t, idx[q]), 32);
    em_buf b = {.max = 1 << 20};
    CHECK_OK(mt_tree_open(t, idx, k, &b, &err), &err);
    CHECK_OK(mt_verify(root, L, idx, (const uint8_t(*)[32])lh, k, b.data, b.len, &err), &err);

    uint8_t *p = malloc(b.len + 64);
    size_t rejected = 0;
    for (size_t i = 0; i < b.len; i++)
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(p, b.data, b.len);
            p[i] ^= (uint8_t)(1u << bit);
            em_status st = mt_verify(root, L, idx, (const uint8_t(*)[32])lh, k, p, b.len, &err);
            CHECK(st != EM_OK);
            rejected += st != EM_OK;
        }
    CHECK(rejected > 0);
    /* a flipped count is a format error, a flipped hash a verification error */
    memcpy(p, b.data, b.len);
    p[0] ^= 1;
    CHECK_ST(mt_verify(root, L, idx, (const uint8_t(*)[32])lh, k, p, b.len, &err), EM_ERR_FORMAT, &err);
    memcpy(p, b.data, b.len);
    p[10] ^= 1;
    CHECK_ST(mt_verify(root, L, idx, (const uint8_t(*)[32])lh, k, p, b.len, &err), EM_ERR_VERIFY, &err);
    /* truncations and trailing bytes */
    for (size_t len = 0; len < b.len; len++)
        CHECK(mt_verify(root, L, idx, (const uint8_t(*)[32])lh, k, b.data, len, &err) != EM_OK);
    memcpy(p, b.data, b.len);
    p[b.len] = 0;
    CHECK_ST(mt_verify(root, L, idx, (const uint8_t(*)[32])lh, k, p, b.len + 1, &err), EM_ERR_FORMAT, &err);
    CHECK_STR_CONTAINS(err.msg, "trailing");
    /* the reader variant leaves trailing bytes to the caller */
    em_reader rd;
    em_reader_init(&rd, p, b.len + 1);
    CHECK_OK(mt_verify_reader(root, L, idx, (const uint8_t(*)[32])lh, k, &rd, &err), &err);
    CHECK_EQ_U64(em_reader_left(&rd), 1);
    /* a count claiming more hashes than exist (with those bytes present) is still rejected */
    memcpy(p, b.data, b.len);
    memset(p + b.len, 0, 32);
    p[0]++;
    CHECK_ST(mt_verify(root, L, idx, (const uint8_t(*)[32])lh, k, p, b.len + 32, &err), EM_ERR_FORMAT, &err);
    /* tampered leaf hashes */
    for (size_t q = 0; q < k; q++) {
        uint8_t bad[5][32];
        memcpy(bad, lh, sizeof bad);
        bad[q][31] ^= 0x80;
        CHECK_ST(mt_verify(root, L, idx, (const uint8_t(*)[32])bad, k, b.data, b.len, &err), EM_ERR_VERIFY, &err);
    }
    /* swapped leaf hashes */
    {
        uint8_t sw[5][32];
        memcpy(sw, lh, sizeof sw);
        memcpy(sw[0], lh[1], 32);
        memcpy(sw[1], lh[0], 32);
        CHECK(mt_verify(root, L, idx, (const uint8_t(*)[32])sw, k, b.data, b.len, &err) != EM_OK);
    }
    /* tampered indices: every other index value for each position */
    for (size_t q = 0; q < k; q++)
        for (uint64_t v = 0; v < n + 2; v++) {
            if (v == idx[q])
                continue;
            uint64_t bi[5];
            memcpy(bi, idx, sizeof bi);
            bi[q] = v;
            CHECK(mt_verify(root, L, bi, (const uint8_t(*)[32])lh, k, b.data, b.len, &err) != EM_OK);
        }
    /* duplicates, unsorted, out of range, empty */
    uint64_t dup[] = {1, 4, 4, 17, 30}, uns[] = {1, 5, 4, 17, 30}, oob[] = {1, 4, 5, 17, 32};
    CHECK_ST(mt_verify(root, L, dup, (const uint8_t(*)[32])lh, k, b.data, b.len, &err), EM_ERR_FORMAT, &err);
    CHECK_ST(mt_verify(root, L, uns, (const uint8_t(*)[32])lh, k, b.data, b.len, &err), EM_ERR_FORMAT, &err);
    CHECK_ST(mt_verify(root, L, oob, (const uint8_t(*)[32])lh, k, b.data, b.len, &err), EM_ERR_RANGE, &err);
    CHECK_ST(mt_verify(root, L, idx, (const uint8_t(*)[32])lh, 0, b.data, b.len, &err), EM_ERR_FORMAT, &err);
    /* wrong height or root */
    CHECK(mt_verify(root, L + 1, idx, (const uint8_t(*)[32])lh, k, b.data, b.len, &err) != EM_OK);
    CHECK(mt_verify(root, L - 1, idx, (const uint8_t(*)[32])lh, k, b.data, b.len, &err) != EM_OK);
    CHECK_ST(mt_verify(root, 99, idx, (const uint8_t(*)[32])lh, k, b.data, b.len, &err), EM_ERR_LIMIT, &err);
    uint8_t r2[32];
    memcpy(r2, root, 32);
    r2[0] ^= 1;
    CHECK_ST(mt_verify(r2, L, idx, (const uint8_t(*)[32])lh, k, b.data, b.len, &err), EM_ERR_VERIFY, &err);
    /* opening a subset with the proof of the full set fails (count mismatch) */
    CHECK(mt_verify(root, L, idx, (const uint8_t(*)[32])lh, k - 1, b.data, b.len, &err) != EM_OK);
    /* prover-side misuse */
    em_buf b2 = {.max = 1 << 20};
    CHECK_ST(mt_tree_open(t, dup, k, &b2, &err), EM_ERR_FORMAT, &err);
    CHECK_ST(mt_tree_open(t, oob, k, &b2, &err), EM_ERR_RANGE, &err);
    em_buf tiny = {.max = 40};
    CHECK(mt_tree_open(t, idx, k, &tiny, &err) != EM_OK);
    em_buf_free(&tiny);
    em_buf_free(&b2);
    mt_tree *bad = NULL;
    CHECK_ST(mt_tree_build_cols(m, rows, 24, &bad, &err), EM_ERR_ARG, &err);
    CHECK_ST(mt_tree_build_rows(m, 0, 1, &bad, &err), EM_ERR_ARG, &err);
    CHECK(bad == NULL);
    free(p);
    em_buf_free(&b);
    mt_tree_free(t);
}

/* Leaves and nodes are domain separated: a leaf holding exactly the 64 bytes of two child
 * hashes does not hash like the internal node over them. */
static void test_domain_separation(void)
{
    uint8_t l[32], r[32], node[32], leaf[32];
    memset(l, 0x11, 32);
    memset(r, 0x22, 32);
    mt_hash_node(l, r, node);
    ff_t as_ff[8];
    memcpy(as_ff, l, 32);
    memcpy(as_ff + 4, r, 32);
    mt_hash_leaf(as_ff, 8, leaf);
    CHECK(memcmp(node, leaf, 32) != 0);
    /* and the tags are what the documentation says */
    uint8_t buf[65], want[32];
    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    em_sha256(buf, 65, want);
    CHECK(memcmp(node, want, 32) == 0);
    buf[0] = 0x00;
    em_sha256(buf, 65, want);
    CHECK(memcmp(leaf, want, 32) == 0);
}

/* A column tree large enough to be split over threads has the same root for every thread cap
 * (the subtrees are aligned blocks; the cap only changes who hashes them). */
static void test_thread_caps(void)
{
    em_err err = {0};
    size_t rows = 33, cols = 8192; /* ~2 MiB: above the parallel threshold */
    ff_t *m = malloc(rows * cols * sizeof *m);
    for (size_t i = 0; i < rows * cols; i++)
        m[i] = seq(i, 7);
    uint8_t r0[32], r[32];
    mt_tree *t = NULL;
    CHECK_OK(mt_tree_build_cols(m, rows, cols, &t, &err), &err);
    if (t)
        mt_tree_root(t, r0);
    mt_tree_free(t);
    static const unsigned caps[] = {1, 2, 3, 4, 16, 0};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        t = NULL;
        CHECK_OK(mt_tree_build_cols_threads(m, rows, cols, caps[c], &t, &err), &err);
        if (!t)
            continue;
        mt_tree_root(t, r);
        CHECK(memcmp(r, r0, 32) == 0);
        mt_tree_free(t);
    }
    free(m);
}

/* The root of n leaves (a power of two) level by level with mt_hash_node alone: an independent
 * reference for the builders' shortcuts (hash_nodes copies the hash of a node whose children
 * repeat its neighbour's). */
static void naive_root(const uint8_t (*leaves)[32], size_t n, uint8_t out[32])
{
    uint8_t(*lv)[32] = malloc(n * 32);
    memcpy(lv, leaves, n * 32);
    for (; n > 1; n /= 2)
        for (size_t i = 0; i < n / 2; i++)
            mt_hash_node(lv[2 * i], lv[2 * i + 1], lv[i]);
    memcpy(out, lv[0], 32);
    free(lv);
}

/* The systematic builder against leaf hashes computed one by one (integer columns as their
 * bytes in each row's width, zeros past the length, tag 0x02; parity columns as mt_hash_leaf)
 * and mt_tree_build_hashes, for large (threaded) and small matrices, every thread cap, with
 * widths changing inside a 256-byte tile, with and without the kept message columns (which must
 * be the bytes hashed); bad widths are refused. */
static void sys_tree_shapes(void)
{
    em_err err;
    /* the sixth: a rate-4/5 shape, 3/8 of its leaves padding (threaded); the last: 1/16 padding,
     * so that over 64 node blocks (test_merkle_wide_top) the copied padding nodes leave the
     * sixteen-node batches out of step with the levels */
    const size_t shapes[][3] = {{300, 512, 512}, {5, 4, 4},   {70, 1024, 3072}, {66, 1024, 512},
                                {3, 2, 1},       {70, 4096, 1024}, {5, 320, 640}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        size_t rows = shapes[si][0], n_msg = shapes[si][1], n_par = shapes[si][2], n = 1;
        while (n < n_msg + n_par)
            n *= 2; /* rate 2/3 shapes: zero padding leaves up to the power of two */
        int32_t *msg = malloc(rows * n_msg * sizeof *msg);
        ff_t *par = malloc(rows * n_par * sizeof *par);
        uint8_t *rb = malloc(rows), (*leaves)[32] = calloc(n, 32), *col = malloc(rows * 8);
        for (size_t i = 0; i < rows * n_msg; i++)
            msg[i] = (int32_t)(uint32_t)th_rand();
        for (size_t i = 0; i < rows * n_par; i++)
            par[i] = th_rand() % FF_P;
        for (size_t i = 0; i < rows; i++)
            rb[i] = si == 2 || si == 3 ? (uint8_t)(i == 37 ? 2 : 1) : (uint8_t)(1u << (th_rand() % 3));
        size_t len = rows * n_msg - n_msg / 2 - 3;
        size_t kb = 0;
        for (size_t i = 0; i < rows; i++)
            kb += rb[i];
        uint8_t *cols = malloc(n_msg * kb), *kept = malloc(n_msg * kb);
        for (size_t c = 0; c < n_msg; c++) {
            size_t k = 0;
            for (size_t i = 0; i < rows; i++) {
                uint32_t v = i * n_msg + c < len ? (uint32_t)msg[i * n_msg + c] : 0;
                for (size_t b = 0; b < rb[i]; b++)
                    col[k++] = (uint8_t)(v >> (8 * b));
            }
            memcpy(cols + c * kb, col, kb);
            mt_hash_int_leaf(col, k, leaves[c]);
        }
        for (size_t c = 0; c < n_par; c++)
            mt_hash_leaf_strided(par + c, rows, n_par, leaves[n_msg + c]);
        mt_tree *ref = NULL, *t = NULL;
        CHECK_OK(mt_tree_build_hashes((const uint8_t(*)[32])leaves, n, &ref, &err), &err);
        uint8_t r0[32], r[32];
        mt_tree_root(ref, r0);
        uint8_t rn[32];
        naive_root((const uint8_t(*)[32])leaves, n, rn);
        CHECK(memcmp(rn, r0, 32) == 0);
        const unsigned caps[] = {0, 1, 2, 3};
        for (size_t c = 0; c < 4; c++) {
            memset(kept, 0xa5, n_msg * kb);
            CHECK_OK(mt_tree_build_sys(msg, len, rb, n_msg, par, n_par, rows, caps[c], c & 1 ? kept : NULL, &t, &err),
                     &err);
            if (c & 1) /* the kept message columns are the bytes each leaf hashed */
                CHECK(memcmp(kept, cols, n_msg * kb) == 0);
            if (!t)
                continue;
            mt_tree_root(t, r);
            CHECK(memcmp(r, r0, 32) == 0);
            CHECK(memcmp(mt_tree_leaf_hash(t, 1), leaves[1], 32) == 0);
            mt_tree_free(t);
        }
        rb[rows - 1] = 3;
        CHECK_ST(mt_tree_build_sys(msg, len, rb, n_msg, par, n_par, rows, 1, NULL, &t, &err), EM_ERR_ARG, &err);
        rb[rows - 1] = 4;
        CHECK_ST(mt_tree_build_sys(msg, rows * n_msg + 1, rb, n_msg, par, n_par, rows, 1, NULL, &t, &err), EM_ERR_ARG,
                 &err);
        mt_tree_free(ref);
        free(msg), free(par), free(rb), free(leaves), free(col), free(cols), free(kept);
    }
}

/* Both with the CPU's sixteen-lane SHA-256 where it has one and with the portable lanes, so
 * that the batched node hashing (merkle.c hash_nodes) is tested on every CPU. */
static void test_sys_tree(void)
{
    sys_tree_shapes();
    sha256x16_portable(1);
    sys_tree_shapes();
    sha256x16_portable(0);
}

int main(void)
{
    th_init("test_merkle");
    TH_RUN(test_vectors);
    TH_RUN(test_random_openings);
    TH_RUN(test_tamper);
    TH_RUN(test_domain_separation);
    TH_RUN(test_thread_caps);
    TH_RUN(test_sys_tree);
    return th_finish();
}
