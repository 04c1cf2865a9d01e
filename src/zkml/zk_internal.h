/* Internal structures of the inference prover/verifier (zk_*.c only). See docs/PROOFS.md
 * "Proof of inference" for the protocol these implement. */
#ifndef EM_ZK_INTERNAL_H
#define EM_ZK_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "enclaveml/core.h"
#include "enclaveml/model.h"
#include "enclaveml/zkml/ff.h"
#include "enclaveml/zkml/pcs.h"
#include "enclaveml/zkml/transcript.h"
#include "enclaveml/zkml/zk.h"

#define ZK_PROTOCOL_VERSION 1u
/* Verifying-key format version: 2 since the vk carries the model commitment's proximity proof
 * (session 10). It is hashed into the model hash, so keys (and proofs) of the two formats never
 * share a model hash: an older worker or vk is refused with a named reason, not deep inside a
 * verification. */
#define ZK_VK_VERSION 2u
#define ZK_VK_MAGIC "EMVK"
#define ZK_PROOF_MAGIC "ZKML"
#define ZK_MAX_LAYERS 64u         /* proven (fused) dense layers */
#define ZK_MAX_DIM ((uint32_t)1 << 24)
#define ZK_MAX_LOG_MODEL 30u      /* log2 of the model polynomial size */
#define ZK_MAX_LOG_WITNESS 30u
#define ZK_MAX_SAMPLES ((size_t)1 << 20)
#define ZK_RANGE_BITS 16u         /* range-check table: [0, 2^16) */
#define ZK_MAX_SHIFT 32u          /* requantization shift k <= 32 (2 limbs of 16 bits) */
#define ZK_MAX_LOG_LOOKUP 25u     /* fraction-tree leaves <= 2^25 keeps the lookup error <= 2^-102 */
#define ZK_MAX_TABLE_BITS 20u     /* requant table holds q in [-2^(T-1), 2^(T-1)) */
#define ZK_FLAG_ZK_WEIGHTS 0x01u
#define ZK_MODEL_COMMIT_MAX 256u
#define ZK_MAX_POOL_WIN 16u /* maxpool windows of at most 16 positions (4x4) */
/* window slots of a maxpool layer: its positions, plus a constant-zero slot when a ReLU follows
 * (relu(max_w x_w) = max(0, max_w x_w)) */
#define ZK_MAX_POOL_SLOTS (ZK_MAX_POOL_WIN + 1u)
/* The verifier evaluates each conv/avgpool selection polynomial term by term: positions x
 * channels x window entries per layer. A verifying key comes from whoever publishes the model,
 * so these caps bound the verifier's work on a hostile key (and refuse such models up front). */
#define ZK_MAX_SELECTION_LOG 26u       /* per layer */
#define ZK_MAX_SELECTION_TOTAL_LOG 28u /* whole model */
#define ZK_MIN_LIMB_BITS 8u
#define ZK_MAX_LIMBS 4u /* 32-bit shift / 8-bit limbs */
/* Remainder bits a layer may merge into its (q, y) lookup (docs/PROOFS.md "Requantization
 * lookups"), the largest such table, and the most remainders one range leaf checks (2^this). */
#define ZK_MAX_MERGE_BITS 8u
#define ZK_MAX_PAIR_BITS 18u
#define ZK_MAX_TUPLE_LOG 2u
/* multiplicity tables: an activation table per (act, merged bits), a range table per (limb
 * width, tuple size) */
#define ZK_MAX_TABLES (2 * (ZK_MAX_MERGE_BITS + 1) + (ZK_RANGE_BITS + 1) * (ZK_MAX_TUPLE_LOG + 1))
/* witness blocks: per layer q, limbs, y (<= 2 + ZK_MAX_LIMBS) or, for maxpool, y and K differences;
 * then the multiplicity tables */
#define ZK_MAX_BLOCKS ((1 + ZK_MAX_POOL_WIN) * ZK_MAX_LAYERS + ZK_MAX_TABLES)
/* lookup segments (zk_requant.c) live in arrays of ZK_MAX_BLOCKS: per layer at most
 * ZK_MAX_POOL_SLOTS (a maxpool with a ReLU) or 1 + ZK_MAX_LIMBS, then the tables */
_Static_assert(ZK_MAX_LAYERS * (ZK_MAX_POOL_WIN + 1) + ZK_MAX_TABLES <= ZK_MAX_BLOCKS &&
                   1 + ZK_MAX_LIMBS <= ZK_MAX_POOL_WIN + 1,
               "lookup segments fit ZK_MAX_BLOCKS");

/* Blocks of a packed polynomial: block i holds 2^log[i] values at offset off[i]. */
typedef struct zk_pack {
    uint32_t n;
    unsigned log[ZK_MAX_BLOCKS];
    uint64_t off[ZK_MAX_BLOCKS];
    unsigned total_log;
} zk_pack;

/* One proven layer: a dense layer with its fused activation (a following standalone ReLU is
 * folded into act). */
typedef struct zk_layer {
    uint32_t kind; /* NN_DENSE, NN_CONV2D or NN_AVGPOOL */
    uint32_t n_in, n_out;
    uint32_t shift; /* k */
    uint32_t act;   /* nn_act */
    /* conv/avgpool geometry (zero for dense): input c,h,w; output c,h,w; window, stride, pads */
    uint32_t ci, hi, wi, co, ho, wo, kh, kw, sh, sw, pt, pl, pb, pr, cip;
    uint32_t src;   /* index of the dense/conv/pool layer in the nn_model */
    uint32_t last;  /* index of the last nn layer fused into this one (its act[last+1] is y) */
    /* derived */
    unsigned lv_in, lv_out;      /* log2 of padded n_in, n_out */
    unsigned lp, lc;             /* conv/pool: log2 of the padded output positions, padded channels */
    /* Position padding (docs/PROOFS.md "Convolution and average pooling"): a conv/pool output
     * keeps each channel's P = ho*wo positions in a slot of 2^lp, so the engine's flat index
     * c*P + p sits at c*2^lp + p. op/ops: real positions and slot size of the output (n_out/n_out
     * for dense: identity); ip/ips: the same for the input (the previous conv/pool layer's, or
     * identity). */
    uint32_t op, ops, ip, ips;
    unsigned lk;                 /* conv: log2 of the padded c_in*kh*kw */
    uint64_t w_off, b_off;       /* offsets of W and bias in the model polynomial */
} zk_layer;

#define ZK_LAYER_U32 20u /* serialized u32 fields per layer */

/* The parameter-free prefix (docs/PROOFS.md "Public prefix"): the reshapes and standalone ReLUs
 * before the first proven layer. The input is public, so the verifier applies them itself. */
#define ZK_MAX_PREFIX 64u
#define ZK_VK_FLAG_PREFIX 0x01u /* vk byte 5: a prefix section follows n_layers */
typedef struct zk_prefix_op {
    uint32_t kind;    /* NN_ACT (ReLU) or NN_RESHAPE */
    uint32_t c, h, w; /* output shape of the op */
} zk_prefix_op;

struct zk_vk {
    uint8_t arch_hash[EM_HASH_LEN]; /* nn_model_arch_hash of the source model */
    uint32_t act_bits, weight_bits;
    int32_t in_scale, out_scale;
    uint32_t softmax;
    uint32_t input_size, output_size;
    uint32_t table_bits; /* cap on the per-proof requant table bits T */
    uint32_t n_prefix; /* 0: no prefix section (none, or reshapes only before a proven layer) */
    zk_prefix_op prefix[ZK_MAX_PREFIX];
    uint32_t prefix_relu; /* derived: the prefix holds a ReLU */
    uint32_t n_layers;    /* 0: no proven layer, output = prefix(input) */
    zk_layer layers[ZK_MAX_LAYERS];
    unsigned model_log; /* log2 size of the model polynomial */
    zk_pack mpack;      /* block 2i = W of layer i, block 2i+1 = its bias */
    uint8_t model_root[32];
    /* commitment parameters and PCS-specific public data */
    uint8_t model_commit[ZK_MODEL_COMMIT_MAX];
    size_t model_commit_len;
    /* the model commitment's proximity proof (zk__pcs_prove_proximity; NULL without weights),
     * serialized after the commitment and checked by zk_vk_deserialize; owned (zk_vk_free,
     * zk_prover_free). Not part of the model hash. */
    uint8_t *prox;
    size_t prox_len;
    uint8_t model_hash[EM_HASH_LEN]; /* derived */
};

#define ZK_MAX_VARS 40u /* variables of any polynomial we open (2^30 entries + margin) */


/* An evaluation claim P~(pt) = val on one block of a packed polynomial (model or witness). */
typedef struct zk_claim {
    uint32_t block;
    uint32_t nv;
    ff2_t pt[ZK_MAX_VARS];
    ff2_t val;
} zk_claim;

typedef struct zk_claims {
    zk_claim *v;
    size_t n, cap;
} zk_claims;

em_status zk__claims_add(zk_claims *c, uint32_t block, const ff2_t *pt, uint32_t nv, ff2_t val,
                         em_err *err) EM_WARN_UNUSED;
void zk__claims_free(zk_claims *c);

/* Witness blocks of one proof (depends on the vk and log2 of the padded batch). */
typedef struct zk_wlayout {
    unsigned lb;    /* log2 padded batch */
    unsigned tbits; /* T of this proof: q in [-2^(T-1), 2^(T-1)) */
    unsigned lbits;                /* remainder limb width of this proof (8..16) */
    /* per layer: jb = remainder bits merged into the (q, y) lookup, which then looks up
     * q' = floor((acc + 2^(k-1)) / 2^(k-jb)) (q = q' >> jb) in a table of 2^(T+jb) entries; the
     * other k - jb bits form the remainder r, in nl = ceil((k - jb) / lbits) limbs; tl: with one
     * limb, 2^tl remainders (of the batch rows b, b + 2^(lb-tl), ...) share each range leaf as a
     * tuple. All chosen by zk__wlayout from public data. */
    unsigned jb[ZK_MAX_LAYERS], nl[ZK_MAX_LAYERS], tl[ZK_MAX_LAYERS];
    uint32_t q_blk[ZK_MAX_LAYERS], r_blk[ZK_MAX_LAYERS][ZK_MAX_LIMBS], y_blk[ZK_MAX_LAYERS];
    /* Blocks [0, pack.n) are committed (the pack); blocks [pack.n, n_blk) are the q blocks, which
     * are not: q is defined by the accumulator (docs/PROOFS.md "Requantization lookups"), and
     * its one evaluation (at the pair lookup's leaf point) is discharged by the layer's
     * accumulator sumcheck. pack.log[b] is the size of every block b < n_blk. */
    uint32_t n_blk;
    /* maxpool: d_w = y - x_w >= 0 per window slot (zk__pool_slots); the zero slot of a maxpool
     * followed by a ReLU has d = y, so its entry is y_blk */
    uint32_t d_blk[ZK_MAX_LAYERS][ZK_MAX_POOL_SLOTS];
    /* multiplicities: of the tuple table of 2^t values of b bits (2^(b 2^t) entries, <= 2^16), by
     * (b, t); of the requant table, by (act, merged bits) */
    uint32_t m_rng_blk[ZK_RANGE_BITS + 1][ZK_MAX_TUPLE_LOG + 1];
    uint32_t m_act_blk[2][ZK_MAX_MERGE_BITS + 1];
    uint64_t lookup_leaves; /* leaves of all fraction trees (zk__wlayout_cost) */
    /* the value range of every committed block b < pack.n, which an honest witness always
     * satisfies (y: the activation range; limbs and maxpool differences: their bits;
     * multiplicities: the witness leaves): the symbol types of the systematic commitment */
    int32_t lo[ZK_MAX_BLOCKS], hi[ZK_MAX_BLOCKS];
    zk_pack pack;
} zk_wlayout;

#define ZK_NO_BLOCK UINT32_MAX

/* Bits of limb t of a remainder of `shift` bits (lbits except possibly the last). */
static inline unsigned zk__limb_bits(uint32_t shift, unsigned lbits, unsigned t)
{
    unsigned rest = shift - lbits * t;
    return rest > lbits ? lbits : rest;
}

/* Prover-side witness: one int32 array per block (full padded size), the packed polynomial,
 * and the public output rows of the last layer (borrowed from the trace). */
typedef struct zk_wit {
    int32_t *blk[ZK_MAX_BLOCKS];
    int32_t *ipoly; /* the committed blocks packed: the used prefix (zk__pack_used) of the witness
                     * polynomial, as integers (every witness value fits an int32); blk[b] for
                     * b < pack.n points into it */
    const int32_t *out;
    size_t n_samples;
} zk_wit;

#define ZK_TRANSCRIPT_DOMAIN "enclaveml/infer/v1"

/* ff2_mul from ff.h, forced inline: in the large prover loops gcc otherwise emits a call per
 * product, which serialises the multiplications (measured 2-3x slower fraction trees). */
static inline __attribute__((always_inline)) ff2_t zk__mul2(ff2_t x, ff2_t y)
{
    ff_t ac = ff_mul(x.a, y.a), bd = ff_mul(x.b, y.b);
    ff_t cross = ff_sub(ff_sub(ff_mul(ff_add(x.a, x.b), ff_add(y.a, y.b)), ac), bd);
    return (ff2_t){ff_add(ac, ff_mul(bd, FF_EXT_W)), cross};
}

/* Public statement of one proof. */
typedef struct zk_statement {
    uint8_t model_hash[EM_HASH_LEN];
    uint8_t input_hash[EM_HASH_LEN];
    uint8_t output_hash[EM_HASH_LEN];
    uint64_t n_samples;
    uint8_t nonce[ZK_MAX_NONCE];
    size_t nonce_len;
    char node_id[ZK_MAX_NODE_ID + 1];
    size_t node_id_len;
} zk_statement;

/* Prover side of the message channel: bytes go to buf, values into the transcript. threads:
 * worker threads the prover may use for its large loops. */
typedef struct zk_wr {
    tr_t *tr;
    em_buf *buf;
    unsigned threads;
    int forge; /* test hook active: prove whatever the trace says, even a false claim */
} zk_wr;

/* ---- parallel-for (zk_par.c) ---- */
#define ZK_MAX_THREADS 64u
#define ZK_PAR_CHUNKS 16u /* the most chunks zk__par_for splits a range into */
typedef void (*zk_par_fn)(void *ctx, size_t begin, size_t end, unsigned tid);
/* Runs fn over [0, n) in chunks of >= min_chunk indices (their number, at most 16, depends only
 * on n and min_chunk) on up to n_threads threads; fn's last argument is the chunk index (the
 * slot for its partial results, < ZK_MAX_THREADS). Returns the chunk count (chunk t covers
 * [t*ceil(n/count), ...)). */
unsigned zk__par_for(unsigned n_threads, size_t n, size_t min_chunk, zk_par_fn fn, void *ctx);
/* zk_prover_create holds the persistent helper threads zk__par_for uses (1), zk_prover_free
 * releases them (0); the last release stops and joins them. */
void zk__pool_hold(int hold);
/* requested > 0: that many (capped); 0: the online CPUs. */
unsigned zk__threads(int requested);
/* ml_eq_table(r, n, scale, .) over up to n_threads threads, written to out (acc = 0) or added
 * to it (acc = 1); the same values whatever the thread count. */
void zk__eq_table(const ff2_t *r, unsigned n, ff2_t scale, ff2_t *out, int acc, unsigned n_threads);
/* malloc semantics (contents undefined, 64-byte aligned) for the prover's large per-proof
 * tables: blocks of at least 1 MiB are reused across proofs while a prover is alive
 * (zk_par.c). Release with zk__big_free, never free(). */
void *zk__big_alloc(size_t bytes);
void zk__big_free(void *p);
/* zk_prover_create holds the buffer cache (1), zk_prover_free releases it (0); the last
 * release frees every cached buffer. */
void zk__big_cache_hold(int hold);
/* Verifier side: values come from rd (canonical checks) and go into the transcript. */
typedef struct zk_rd {
    tr_t *tr;
    em_reader *rd;
} zk_rd;

em_status zk__put_ff2(zk_wr *w, const char *label, const ff2_t *v, size_t n, em_err *err) EM_WARN_UNUSED;
em_status zk__get_ff2(zk_rd *r, const char *label, ff2_t *v, size_t n, em_err *err) EM_WARN_UNUSED;

/* The statement's hashes of n input / output values (docs/PROOFS.md "Proof format"); the input
 * must already be range-checked to vk->act_bits (zk__statement_build does). */
void zk__hash_input(const zk_vk *vk, const int32_t *x, size_t n, uint8_t out[EM_HASH_LEN]);
void zk__hash_output(const int32_t *y, size_t n, uint8_t out[EM_HASH_LEN]);
/* input_hash: the input's range check and hash already done (zk__input_job), or NULL to do
 * them here. */
em_status zk__statement_build(const zk_vk *vk, const int32_t *input, const int32_t *output,
                              size_t n_samples, const zk_context *ctx, const uint8_t *input_hash,
                              zk_statement *s, em_err *err) EM_WARN_UNUSED;
/* The statement's input half (range check and hash) on a thread of its own, so the prover runs
 * the model meanwhile: it needs nothing but the input. start never fails (without a thread the
 * work is done when joined); finish joins and returns the check's status (err names the first
 * value out of range); join only waits (idempotent). Every started job must be joined. */
typedef struct zk_input_job {
    const zk_vk *vk;
    const int32_t *input;
    size_t n_samples;
    uint8_t hash[EM_HASH_LEN];
    em_status st;
    em_err err;
    int threaded, done;
    pthread_t th;
} zk_input_job;
void zk__input_job_start(zk_input_job *j, const zk_vk *vk, const int32_t *input, size_t n_samples);
em_status zk__input_job_finish(zk_input_job *j, em_err *err) EM_WARN_UNUSED;
void zk__input_job_join(zk_input_job *j);
void zk__statement_absorb(tr_t *tr, const zk_statement *s);

/* ---- dense-layer kernels (zk_dense.c) ---- */
void zk__fold_rows_i32(const int32_t *m, size_t rows, size_t cols, size_t ld, const ff2_t *eq,
                       ff2_t *out, size_t pad);
/* The same on up to `threads` threads: wide matrices split by columns, narrow ones by row
 * ranges (the same values either way). */
void zk__fold_rows_i32_mt(const int32_t *m, size_t rows, size_t cols, size_t ld, const ff2_t *eq, ff2_t *out,
                          size_t pad, unsigned threads);
/* Tests: 0 keeps the AVX-512 folds off the IFMA kernels even where the CPU has them (both give
 * the same values); nonzero restores the default (IFMA when available). Not thread-safe. */
void zk__fold_ifma_set(int on);
ff2_t zk__dot_i64(const int64_t *v, size_t n, const ff2_t *eq);
ff2_t zk__dot_ff2(const ff2_t *a, const ff2_t *b, size_t n);
/* MLE of a rows x cols int32 matrix zero-padded to 2^lv_rows x 2^lv_cols, at point = (column
 * variables, row variables). */
em_status zk__mle_i32(const int32_t *m, size_t rows, size_t cols, unsigned lv_rows, unsigned lv_cols,
                      const ff2_t *point, ff2_t *out, em_err *err) EM_WARN_UNUSED;
em_status zk__mle_i32_mt(const int32_t *m, size_t rows, size_t cols, unsigned lv_rows, unsigned lv_cols,
                         const ff2_t *point, unsigned threads, ff2_t *out, em_err *err) EM_WARN_UNUSED;
/* Sumcheck of claim = sum_k a[k] b[k] over nv variables (a, b are consumed). point receives
 * the nv challenges; *a_eval, *b_eval the folded values sent at the end. */
em_status zk__matmul_prove(zk_wr *w, ff2_t *a, ff2_t *b, unsigned nv, ff2_t claim, ff2_t *point,
                           ff2_t *a_eval, ff2_t *b_eval, em_err *err) EM_WARN_UNUSED;
em_status zk__matmul_verify(zk_rd *r, unsigned nv, ff2_t claim, ff2_t *point, ff2_t *a_eval,
                            ff2_t *b_eval, em_err *err) EM_WARN_UNUSED;

/* ---- polynomial commitment adapter (zk_pcs.c) ----
 * Commit to a packed polynomial of 2^log base-field values; open it at every claim (claims
 * name blocks of the pack; the adapter builds the full points); verify those openings. The
 * commitment bytes are what the vk / proof header carry. */
typedef struct zk_pcs zk_pcs;
/* The model: its values as field elements (poly) or, when they all fit, as integers (ints);
 * exactly one is non-NULL, borrowed until zk__pcs_free (the openings combine its rows). */
em_status zk__pcs_commit(const ff_t *poly, const int32_t *ints, unsigned log, const uint8_t seed[32], int threads,
                         zk_pcs **out, uint8_t *commit, size_t *commit_len, em_err *err) EM_WARN_UNUSED;
/* A proof's witness, packed as wl->pack, from its used prefix (zk__pack_used values) as
 * integers: zk__pcs_witness_layout (systematic rate 4/5, each row's symbol type from the ranges
 * of the blocks it holds, zk_wlayout lo/hi), the zero tail not committed. forge (test hooks): a value outside
 * its type is committed anyway, by its low bytes in the message columns, as a cheating prover
 * could (pcs_poly.unchecked). ipoly is borrowed until zk__pcs_free (the openings
 * combine its rows). */
/* The model commitment's proximity proof (docs/PROOFS.md "Tested layouts"): on a transcript of
 * its own (ZK_PROX_DOMAIN), so it depends on the commitment alone; *out is malloc'd. The model
 * layout is tested: its openings in the proofs rely on this proof, which every verifier of a vk
 * it did not build checks once (zk_vk_deserialize). */
#define ZK_PROX_DOMAIN "enclaveml/model-proximity/v1"
#define ZK_MAX_PROX_BYTES ((size_t)256 << 20)
em_status zk__pcs_prove_proximity(const zk_pcs *p, uint8_t **out, size_t *len, em_err *err) EM_WARN_UNUSED;
/* Checks that proof (exactly len bytes) is the proximity proof of the model commitment commit of a
 * 2^log polynomial. */
em_status zk__pcs_verify_proximity(const uint8_t *commit, size_t commit_len, unsigned log, const uint8_t *proof,
                                   size_t len, em_err *err) EM_WARN_UNUSED;
em_status zk__pcs_commit_witness(const int32_t *ipoly, const zk_wlayout *wl, int threads, int forge, zk_pcs **out,
                                 uint8_t *commit, size_t *commit_len, em_err *err) EM_WARN_UNUSED;
void zk__pcs_free(zk_pcs *p);
/* witness: a zk__pcs_commit_witness commitment (its used prefix); else the model's. The values
 * are read where the commitment borrowed them. Two or more claims go through the column fold
 * first (one combination row in the opening). forge: test-hook mode, open even false claims (the
 * proof then fails verification). */
em_status zk__pcs_open(const zk_pcs *p, tr_t *tr, const zk_pack *pack, const zk_claims *c, int witness, int forge,
                       em_buf *out, em_err *err) EM_WARN_UNUSED;
/* The pcs.h layout of the witness commitment of wl (systematic rate 4/5, typed rows, the column
 * count of least estimated opening size; zk_pcs.c). */
em_status zk__pcs_witness_layout(const zk_wlayout *wl, pcs_layout *l, em_err *err) EM_WARN_UNUSED;
/* The committed length of a witness packed as pack (its used prefix, at least 1). */
uint64_t zk__pcs_witness_len(const zk_pack *pack);
/* commit (log_cols u8 | root) has the column count of the model layout (wl = NULL) or of the
 * witness layout wl. */
em_status zk__pcs_check_commitment(const uint8_t *commit, size_t len, unsigned log, const zk_wlayout *wl,
                                   em_err *err) EM_WARN_UNUSED;
/* wl: the witness layout of a witness commitment, NULL for the model's (packed as pack). */
em_status zk__pcs_verify(const uint8_t *commit, size_t commit_len, tr_t *tr, const zk_pack *pack,
                         const zk_wlayout *wl, const zk_claims *c, em_reader *r, em_err *err) EM_WARN_UNUSED;
/* out = weight^T M for the matrix of R rows of C values stored in m[0..len) (entries past len are
 * zero), skipping rows with a zero weight or zero[r] set (zero may be NULL); over column chunks
 * on up to `threads` threads, the same values whatever the thread count (zk_colfold.c). */
void zk__combine_rows(const ff_t *m, size_t len, size_t C, size_t R, const ff2_t *weight, const uint8_t *zero,
                      unsigned threads, ff2_t *out);
/* The same for values given as integers (ints[0..len), zero past len): the rows wholly below
 * len by the exact integer fold (zk__fold_rows_i32_mt), a partial last row directly; the same
 * values as zk__combine_rows on the field elements. */
void zk__combine_rows_i32(const int32_t *ints, size_t len, size_t C, size_t R, const ff2_t *weight, unsigned threads,
                          ff2_t *out);
/* Column fold (zk_colfold.c): claims c[0..n) on the single polynomial of layout l (not hiding)
 * become n claims res[k] = (s, row part of c[k]) sharing one column point s, so pcs_open needs
 * one combination row. The prover reads the committed values poly[0..len), or when poly is
 * NULL the same values as integers ipoly[0..len) (combined with the exact integer fold); pts
 * (n * n_vars ff2, caller-owned) receives the new points, which res[k].point borrows. forge:
 * prove false claims anyway (test hook). rows: NULL, or on success receives the claims' row
 * combinations eq(z_k^row, .)^T M (n * 2^log_cols, the caller frees it with zk__big_free), from
 * which pcs_open_rows forms the evaluation row without another pass over the matrix. */
em_status zk__colfold_prove(const pcs_layout *l, const ff_t *poly, const int32_t *ipoly, size_t len,
                            const pcs_claim *c, size_t n,
                            unsigned threads, int forge, tr_t *tr, em_buf *out, ff2_t *pts, pcs_claim *res,
                            ff2_t **rows, em_err *err) EM_WARN_UNUSED;
em_status zk__colfold_verify(const pcs_layout *l, const pcs_claim *c, size_t n, tr_t *tr, em_reader *rd,
                             ff2_t *pts, pcs_claim *res, em_err *err) EM_WARN_UNUSED;
/* Checks the vk's model commitment bytes against its model_log. */
em_status zk__vk_commit_check(const zk_vk *vk, em_err *err) EM_WARN_UNUSED;

struct zk_prover {
    const nn_model *m;
    zk_vk vk;
    ff_t *mpoly;    /* the packed model polynomial, or NULL when it is held as integers: */
    int32_t *mints; /* the same values when every one fits an int32 (exactly one is set) */
    zk_pcs *mpcs;
    zk_trace_hook hook;
    void *hook_ctx;
    /* Test hook (tests include this header): rewrites the witness blocks after they are built
     * from the trace, before the lookup multiplicities are counted; the prover then proves
     * whatever the witness holds, like under the trace hook. */
    void (*wit_hook)(const zk_vk *vk, const zk_wlayout *wl, zk_wit *w, void *ctx);
    void *wit_hook_ctx;
};

/* ---- proof format (zk_format.c) ---- */
typedef struct zk_proof_view {
    uint8_t model_hash[EM_HASH_LEN], input_hash[EM_HASH_LEN], output_hash[EM_HASH_LEN];
    uint64_t n_samples;
    uint8_t nonce[ZK_MAX_NONCE];
    size_t nonce_len;
    char node_id[ZK_MAX_NODE_ID];
    size_t node_id_len;
    unsigned witness_log;
    unsigned table_bits;
    unsigned limb_bits;
    const uint8_t *wcommit;
    size_t wcommit_len;
    const uint8_t *comp, *cons;
    size_t comp_len, cons_len;
} zk_proof_view;

em_status zk__proof_assemble(const zk_statement *s, unsigned witness_log, unsigned table_bits, unsigned limb_bits,
                             const uint8_t *wcommit,
                             size_t wcommit_len, const em_buf *comp, const em_buf *cons, em_buf *out,
                             em_err *err) EM_WARN_UNUSED;
em_status zk__proof_parse(const uint8_t *proof, size_t len, zk_proof_view *pv, em_err *err) EM_WARN_UNUSED;
em_status zk__proof_check_statement(const zk_proof_view *pv, const zk_statement *s, em_err *err) EM_WARN_UNUSED;

/* ---- layers (zk_prove.c, zk_requant.c) ---- */
/* The accumulator identity's right side minus the bias term: 2^(k-jb) q' + sum_t 2^(L t) r_t
 * - 2^(k-1) - valid * bias, with ev[0] = q'~ and ev[1 + t] = r_t~ (layer i of wl). */
ff2_t zk__acc_claim(const zk_layer *L, const zk_wlayout *wl, uint32_t i, const ff2_t *ev, ff2_t valid,
                    ff2_t bias_ev);
void zk__wit_free(zk_wit *w, const zk_wlayout *wl);
/* Counts the lookup multiplicities into w's multiplicity blocks (zeroed by the caller), on up to
 * `threads` threads; the counts do not depend on it. */
void zk__requant_mults(const zk_vk *vk, const zk_wlayout *wl, zk_wit *w, unsigned threads);
/* Per requantized layer i: the pair lookup's leaf point (lv_out output variables, then lb batch
 * variables) and the value of q~ there that the lookup used. q is not committed, so this is not
 * a witness claim: layer i's accumulator sumcheck runs at exactly this point and checks it. */
typedef struct zk_qclaims {
    ff2_t pt[ZK_MAX_LAYERS][ZK_MAX_VARS];
    ff2_t val[ZK_MAX_LAYERS];
} zk_qclaims;
em_status zk__requant_prove(const zk_vk *vk, const zk_wlayout *wl, const zk_wit *w, size_t n_samples, zk_wr *wr,
                            zk_claims *wc, zk_qclaims *qc, em_err *err) EM_WARN_UNUSED;
em_status zk__requant_verify(const zk_vk *vk, const zk_wlayout *wl, const int32_t *output, size_t n_samples,
                             zk_rd *rd, zk_claims *wc, zk_qclaims *qc, em_err *err) EM_WARN_UNUSED;

/* ---- fraction trees of the lookups (zk_frac.c) ---- */
/* F_p2 values with split coordinates: value i is a[i] + b[i] X. Both arrays are owned by the
 * caller. */
typedef struct zk_fv {
    ff_t *a, *b;
} zk_fv;
/* out.a[i], out.b[i] = in[i] for i < n (interleaved to split coordinates). */
void zk__fv_split(zk_fv out, const ff2_t *in, size_t n);
/* Proves one fraction tree over 2^G leaves: P[G], Q[G] hold the leaves (P[G] is not read when
 * leaves_p_one: all numerators 1); P[d], Q[d] for d < G (2^d entries each) are filled here.
 * Sends the root (also written to root), then one sumcheck per level, and leaves the leaf point
 * (G coordinates) in r, and in leaf the claim (numerator, denominator MLEs of the leaves at r)
 * that the last level reduced to. scratch: 16 * max(1, 2^(G-2)) ff_t. */
em_status zk__frac_prove(zk_wr *wr, unsigned G, int leaves_p_one, const zk_fv *P, const zk_fv *Q, ff_t *scratch,
                         ff2_t *r, ff2_t root[2], ff2_t leaf[2], em_err *err) EM_WARN_UNUSED;
/* Verifies level d: the claim (cp, cq) on level d at r (d coordinates) becomes a claim on
 * level d + 1 at r (d + 1 coordinates). */
em_status zk__frac_level_verify(zk_rd *rd, unsigned d, ff2_t *r, ff2_t *cp, ff2_t *cq, em_err *err) EM_WARN_UNUSED;

/* ---- maxpool (zk_maxpool.c) ---- */
em_status zk__maxpool_witness(const zk_layer *L, uint32_t i, const zk_wlayout *wl, const int32_t *in, size_t n,
                              zk_wit *w, em_err *err) EM_WARN_UNUSED;
em_status zk__maxpool_prove(const zk_layer *L, uint32_t i, const zk_wlayout *wl, const zk_wit *w, const int32_t *a,
                            size_t a_rows, size_t a_ld, zk_wr *wr, ff2_t *pt_a, ff2_t *a_claim, zk_claims *wc,
                            em_err *err) EM_WARN_UNUSED;
/* output: the public output when L is the last layer (its y is then bound to it), else NULL */
em_status zk__maxpool_verify(const zk_layer *L, uint32_t i, const zk_wlayout *wl, const int32_t *output, size_t n,
                             zk_rd *rd, ff2_t *pt_a, ff2_t *a_claim, zk_claims *wc, em_err *err) EM_WARN_UNUSED;
/* Slots of a maxpool layer: kh*kw, plus the zero slot when its act is ReLU. */
static inline unsigned zk__pool_slots(const zk_layer *L) { return L->kh * L->kw + (L->act == NN_ACT_RELU); }
/* Product zero-check (zk_prodzero.c): proves sum_x eq(tau, x) prod_w D_w(x) = 0 for K <=
 * ZK_MAX_POOL_SLOTS integer tables of 2^nv values; point receives the nv challenges, evals the
 * D_w~(point) that the caller must bind (claims on the committed blocks). */
em_status zk__prodzero_prove(zk_wr *wr, const int32_t *const *tab, unsigned K, unsigned nv, const ff2_t *tau,
                             ff2_t *point, ff2_t *evals, em_err *err) EM_WARN_UNUSED;
em_status zk__prodzero_verify(zk_rd *rd, unsigned K, unsigned nv, const ff2_t *tau, ff2_t *point, ff2_t *evals,
                              em_err *err) EM_WARN_UNUSED;

/* ---- conv2d / avgpool (zk_conv.c) ---- */
em_status zk__avgpool_acc(const zk_layer *L, const int32_t *in, size_t n, int64_t **out, em_err *err) EM_WARN_UNUSED;
/* After the accumulator evaluations: proves the layer's linear map at rho = (p, c, b) vars and
 * returns the claim A~(pt_a) = *a_claim on its input (pt_a: lv_in + lb coordinates). */
em_status zk__conv_prove(const zk_layer *L, const nn_layer *NL, uint32_t i, const int32_t *a, size_t a_rows,
                         size_t a_ld, const zk_wlayout *wl, size_t n, const ff2_t *ev_acc, const ff2_t *rho,
                         zk_wr *wr, ff2_t *pt_a, ff2_t *a_claim, zk_claims *mc, em_err *err) EM_WARN_UNUSED;
em_status zk__conv_verify(const zk_layer *L, uint32_t i, const zk_wlayout *wl, size_t n, const ff2_t *ev_acc,
                          const ff2_t *rho, zk_rd *rd, ff2_t *pt_a, ff2_t *a_claim, zk_claims *mc,
                          em_err *err) EM_WARN_UNUSED;

/* ---- public prefix (zk_prefix.c) ---- */
/* Records the layers before the first proven layer (vk->n_prefix, 0 when they are reshapes only
 * and a proven layer follows: those leave the data unchanged and the vk as it was). Returns the
 * index of the first proven nn layer (n_layers of m when there is none). */
em_status zk__prefix_map(const nn_model *m, zk_vk *vk, size_t *first, em_err *err) EM_WARN_UNUSED;
/* Checks the prefix records against the header and derives prefix_relu. */
em_status zk__prefix_check(zk_vk *vk, em_err *err) EM_WARN_UNUSED;
/* out = prefix(in) over n samples (out may not alias in). */
void zk__prefix_apply(const zk_vk *vk, const int32_t *in, size_t n, int32_t *out);
/* The input of the first proven layer: in itself, or a malloc'd prefix(in) in *own. */
em_status zk__prefix_input(const zk_vk *vk, const int32_t *in, size_t n, const int32_t **x, int32_t **own,
                           em_err *err) EM_WARN_UNUSED;
/* Checks out == prefix(in) value by value (the output of a model without proven layers). */
em_status zk__prefix_check_output(const zk_vk *vk, const int32_t *in, size_t n, const int32_t *out,
                                  em_err *err) EM_WARN_UNUSED;

/* ---- vk and layout (zk_vk.c, zk_layout.c) ---- */
unsigned zk__log2_ceil(uint64_t n);
unsigned zk__table_bits(uint32_t act_bits);
unsigned zk__layout(const unsigned *logs, size_t n, uint64_t *offs);
em_status zk__vk_derive(zk_vk *vk, em_err *err) EM_WARN_UNUSED;
em_status zk__layer_geometry(zk_layer *L, uint32_t i, em_err *err) EM_WARN_UNUSED;
void zk__layer_fields(const zk_layer *L, uint32_t f[ZK_LAYER_U32]);
void zk__layer_from_fields(zk_layer *L, const uint32_t f[ZK_LAYER_U32]);
em_status zk__vk_finish(zk_vk *vk, em_err *err) EM_WARN_UNUSED;
/* The witness layout of a proof with table bits tbits and limb width lbits (both from the proof
 * header); the merged bits and tuple sizes per layer follow from them by a public rule. */
em_status zk__wlayout(const zk_vk *vk, size_t n_samples, unsigned tbits, unsigned lbits, zk_wlayout *w,
                      em_err *err) EM_WARN_UNUSED;
/* The prover's cost of a layout (lookup leaves and committed values, weighted by their
 * measured costs), to choose lbits. */
uint64_t zk__wlayout_cost(const zk_wlayout *w);
/* Tests only (process-wide, not thread-safe): make zk__wlayout, for prover and verifier alike,
 * merge jb bits and use tuples of 2^tl remainders wherever admissible (the largest admissible
 * values below them elsewhere); (-1, -1) restores the cost rule. */
void zk__wlayout_test_split(int jb, int tl);
/* Engine flat index -> padded index (zk_layout.c). */
static inline uint64_t zk__pad_idx(uint32_t pos, uint32_t slot, uint64_t j)
{
    return pos == slot ? j : (j / pos) * slot + j % pos;
}
/* Padded output column j of layer L: its engine index, or -1 for a padded position/channel. */
int64_t zk__out_col(const zk_layer *L, uint64_t j);
/* The public output of the last layer at padded (row, column), zero in the padding. */
int32_t zk__out_at(const zk_layer *L, const int32_t *out, size_t n, size_t row, size_t col);
/* v[0..n) holds values by engine index (pos real positions per slot of `slot`); moves them to
 * their padded indices and zeroes the rest of v[0..total). */
void zk__spread_ff2(ff2_t *v, uint64_t n, uint32_t pos, uint32_t slot, uint64_t total);
/* MLE of the public output (n x n_out, engine layout) in the padded layout: 2^lb rows of
 * 2^lv_out columns, at (column vars, row vars). */
em_status zk__out_mle(const zk_layer *L, const int32_t *out, size_t n, unsigned lb, const ff2_t *pt, ff2_t *val,
                      em_err *err) EM_WARN_UNUSED;
/* The full point on the packed polynomial for a claim on block c->block. */
/* End of the last block: entries from there to 2^total_log are padding zeros. */
uint64_t zk__pack_used(const zk_pack *p);
void zk__pack_point(const zk_pack *p, const zk_claim *c, ff2_t *full);

#endif
