/* Merkle trees over SHA-256 (OpenSSL) with batched multi-path openings.
 *
 * Hashes (docs/PROOFS.md "Merkle trees"):
 *   leaf(v[0..k))  = SHA-256(0x00 || v[0] || ... || v[k-1])   each v[i] 8-byte little-endian
 *   node(l, r)     = SHA-256(0x01 || l || r)
 *   int leaf(bytes) = SHA-256(0x02 || bytes)    the integer symbols of a systematic column
 * The leaf count is a power of two (2^log_leaves, log_leaves <= MT_MAX_LOG_LEAVES); a tree of
 * one leaf has the leaf hash as root. Extension elements (ff2_t) are hashed as their two base
 * coordinates (a, b) in order, i.e. pass (const ff_t *)v with twice the length.
 *
 * Openings: for a sorted list of distinct leaf indices, the opening is the list of sibling
 * hashes not derivable from the opened leaves, ordered level by level from the leaves up and by
 * increasing node index within a level (each needed hash appears exactly once).
 * Wire format: u32le count || count * 32 bytes. Verification is strict: the indices must be
 * strictly increasing and < 2^log_leaves, count must be exactly the number needed, and the
 * whole-buffer verifier rejects trailing bytes. An empty index set is rejected (EM_ERR_FORMAT).
 *
 * Ownership: mt_tree_* builders allocate a tree (2^(log_leaves+1) * 32 bytes); mt_tree_free
 * releases it (NULL accepted). A built tree is immutable and may be read from many threads.
 * Builders of more than ~1 MiB of data hash disjoint subtrees on up to (online CPUs, max 16)
 * pthreads and join them before returning; the result does not depend on the thread count. */
#ifndef ENCLAVEML_ZKML_MERKLE_H
#define ENCLAVEML_ZKML_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "enclaveml/core.h"
#include "enclaveml/zkml/ff.h"

#define MT_HASH_LEN 32
#define MT_MAX_LOG_LEAVES 30
#define MT_LEAF_TAG 0x00
#define MT_NODE_TAG 0x01
#define MT_INT_LEAF_TAG 0x02 /* a leaf of integer symbols (systematic commitments, pcs.h) */

typedef struct mt_tree mt_tree;

/* Leaf hash of n consecutive elements / of n elements with a stride (in elements). */
void mt_hash_leaf(const ff_t *v, size_t n, uint8_t out[MT_HASH_LEN]);
void mt_hash_leaf_strided(const ff_t *v, size_t n, size_t stride, uint8_t out[MT_HASH_LEN]);
void mt_hash_node(const uint8_t left[MT_HASH_LEN], const uint8_t right[MT_HASH_LEN],
                  uint8_t out[MT_HASH_LEN]);

/* Leaf i = row i of a row-major n_leaves x leaf_len matrix. n_leaves must be a power of two. */
em_status mt_tree_build_rows(const ff_t *m, size_t n_leaves, size_t leaf_len, mt_tree **out,
                             em_err *err) EM_WARN_UNUSED;
/* Leaf j = column j of a row-major n_rows x n_cols matrix (n_cols a power of two): the layout
 * of a matrix of Reed-Solomon codewords (one codeword per row, see ntt_rs_encode_rows). */
em_status mt_tree_build_cols(const ff_t *m, size_t n_rows, size_t n_cols, mt_tree **out,
                             em_err *err) EM_WARN_UNUSED;
/* The same on at most n_threads threads (0: the online CPUs; small trees use one). */
em_status mt_tree_build_cols_threads(const ff_t *m, size_t n_rows, size_t n_cols, unsigned n_threads,
                                     mt_tree **out, em_err *err) EM_WARN_UNUSED;
/* Integer leaf hash of the bytes of a column's symbols, as written (each symbol in its row's
 * width, little-endian). */
void mt_hash_int_leaf(const uint8_t *bytes, size_t len, uint8_t out[MT_HASH_LEN]);
/* The tree of a systematic codeword matrix (pcs.h): leaf c < n_msg is integer column c of the
 * row-major n_rows x n_msg matrix msg (entries at flat index >= msg_len are zero), row i's entry
 * as its low row_bytes[i] (1, 2 or 4) bytes little-endian, hashed by mt_hash_int_leaf; leaf
 * n_msg + j is column j of the row-major n_rows x n_par matrix par, hashed as mt_hash_leaf.
 * The tree has the next power of two >= n_msg + n_par leaves; the ones past the columns are
 * padding, 32 zero bytes each (never opened: a codeword has no symbol there). row_bytes has
 * n_rows entries. Threads as mt_tree_build_cols_threads. msg_cols: NULL, or n_msg times the
 * bytes of a message column (the sum of row_bytes), which then receives every message column's
 * hashed bytes, column after column (an opening copies them instead of gathering each from
 * n_rows rows). */
em_status mt_tree_build_sys(const int32_t *msg, size_t msg_len, const uint8_t *row_bytes, size_t n_msg,
                            const ff_t *par, size_t n_par, size_t n_rows, unsigned n_threads, uint8_t *msg_cols,
                            mt_tree **out, em_err *err) EM_WARN_UNUSED;
/* From precomputed leaf hashes (n_leaves a power of two). */
em_status mt_tree_build_hashes(const uint8_t (*leaves)[MT_HASH_LEN], size_t n_leaves,
                               mt_tree **out, em_err *err) EM_WARN_UNUSED;
void mt_tree_free(mt_tree *t);

void mt_tree_root(const mt_tree *t, uint8_t out[MT_HASH_LEN]);
unsigned mt_tree_log_leaves(const mt_tree *t);
/* Borrowed pointer to leaf hash i (i < 2^log_leaves). */
const uint8_t *mt_tree_leaf_hash(const mt_tree *t, size_t i);

/* Number of hashes in the opening of the given index set (same checks as the verifier;
 * EM_ERR_FORMAT for unsorted/duplicate indices, EM_ERR_RANGE for out-of-range ones). */
em_status mt_opening_count(unsigned log_leaves, const uint64_t *idx, size_t n_idx, size_t *count,
                           em_err *err) EM_WARN_UNUSED;
/* Appends the serialized opening of idx[0..n_idx) (sorted, distinct, in range) to out. */
em_status mt_tree_open(const mt_tree *t, const uint64_t *idx, size_t n_idx, em_buf *out,
                       em_err *err) EM_WARN_UNUSED;

/* Verifies that leaf_hashes[k] is leaf idx[k] of the tree with this root, reading exactly one
 * opening from r (the reader is advanced past it; further bytes are left for the caller).
 * Allocates O(n_idx) scratch. EM_ERR_VERIFY when the root does not match; EM_ERR_PARSE /
 * EM_ERR_FORMAT / EM_ERR_RANGE for malformed openings or index lists. */
em_status mt_verify_reader(const uint8_t root[MT_HASH_LEN], unsigned log_leaves, const uint64_t *idx,
                           const uint8_t (*leaf_hashes)[MT_HASH_LEN], size_t n_idx, em_reader *r,
                           em_err *err) EM_WARN_UNUSED;
/* Same over a whole buffer that must contain exactly one opening (trailing bytes rejected). */
em_status mt_verify(const uint8_t root[MT_HASH_LEN], unsigned log_leaves, const uint64_t *idx,
                    const uint8_t (*leaf_hashes)[MT_HASH_LEN], size_t n_idx, const uint8_t *proof,
                    size_t proof_len, em_err *err) EM_WARN_UNUSED;

#endif
