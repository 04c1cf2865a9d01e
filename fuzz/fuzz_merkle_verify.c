/* libFuzzer target: Merkle opening verification on untrusted bytes.
 *
 * Input layout: byte 0 = tree height (mod 11), byte 1 = index count (mod 16, +1), then that
 * many u32le indices (used as given, so unsorted/duplicate/out-of-range lists are exercised),
 * then the opening bytes. The leaf hashes are the true ones for in-range indices. Besides never
 * crashing, any opening the verifier accepts must be byte-identical to the honest opening
 * (anything else would be a SHA-256 collision), which the target checks with abort(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/merkle.h"

#define FZ_MAX_LOG 10

static mt_tree *trees[FZ_MAX_LOG + 1];

static mt_tree *tree_for(unsigned log)
{
    if (!trees[log]) {
        size_t n = (size_t)1 << log, rows = 3;
        ff_t *m = malloc(rows * n * sizeof *m);
        if (!m)
            abort();
        for (size_t i = 0; i < rows * n; i++)
            m[i] = ff_from_u64((uint64_t)(i + 1) * 0x9E3779B97F4A7C15ULL);
        if (mt_tree_build_cols(m, rows, n, &trees[log], NULL) != EM_OK)
            abort();
        free(m);
    }
    return trees[log];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned log = data[0] % (FZ_MAX_LOG + 1);
    size_t k = (size_t)(data[1] % 16) + 1;
    data += 2;
    size -= 2;
    if (size < 4 * k)
        return 0;
    uint64_t idx[16];
    uint8_t lh[16][MT_HASH_LEN];
    mt_tree *t = tree_for(log);
    for (size_t i = 0; i < k; i++) {
        idx[i] = (uint64_t)data[4 * i] | (uint64_t)data[4 * i + 1] << 8 | (uint64_t)data[4 * i + 2] << 16 |
                 (uint64_t)data[4 * i + 3] << 24;
        if (idx[i] < ((uint64_t)1 << log))
            memcpy(lh[i], mt_tree_leaf_hash(t, idx[i]), MT_HASH_LEN);
        else
            memset(lh[i], 0, MT_HASH_LEN);
    }
    data += 4 * k;
    size -= 4 * k;
    uint8_t root[MT_HASH_LEN];
    mt_tree_root(t, root);
    em_err err;
    if (mt_verify(root, log, idx, (const uint8_t(*)[MT_HASH_LEN])lh, k, data, size, &err) == EM_OK) {
        em_buf honest = {.max = (size_t)1 << 20};
        if (mt_tree_open(t, idx, k, &honest, NULL) != EM_OK || honest.len != size ||
            memcmp(honest.data, data, size) != 0)
            abort();
        em_buf_free(&honest);
    }
    return 0;
}
