/* Proofs of inference (DESIGN.md section 6): a worker proves that output = f_W(input) for the
 * quantized model whose weights are committed in the model hash.
 *
 * Statement bound by every proof: protocol version, model hash, SHA-256 of the exact input
 * integers, the output integers, the request nonce and the node id.
 *
 * Ownership: zk_prover and zk_vk are opaque handles (_create/_free). A zk_prover borrows the
 * nn_model it was created from (which must outlive it). Proof buffers returned through uint8_t**
 * are malloc'd; the caller frees them. */
#ifndef ENCLAVEML_ZKML_ZK_H
#define ENCLAVEML_ZKML_ZK_H

#include <stddef.h>
#include <stdint.h>

#include "enclaveml/core.h"
#include "enclaveml/model.h"

#define ZK_MAX_NONCE 64
#define ZK_MAX_NODE_ID 128
#define ZK_MAX_PROOF_BYTES ((size_t)256 << 20)

typedef struct zk_prover zk_prover;
typedef struct zk_vk zk_vk;

/* Commits to the model's weights (deterministic: randomness derived from the model's blinding
 * seed, so every worker loading the same file gets the same commitment and model hash). */
em_status zk_prover_create(const nn_model *m, zk_prover **out, em_err *err) EM_WARN_UNUSED;
void zk_prover_free(zk_prover *p);
/* Borrowed; valid while the prover lives. */
const zk_vk *zk_prover_vk(const zk_prover *p);

/* Verifying key: architecture, scales and commitment roots; no weights. */
void zk_vk_model_hash(const zk_vk *vk, uint8_t out[EM_HASH_LEN]);
em_status zk_vk_serialize(const zk_vk *vk, uint8_t **out, size_t *len, em_err *err) EM_WARN_UNUSED;
em_status zk_vk_deserialize(const uint8_t *data, size_t len, zk_vk **out, em_err *err) EM_WARN_UNUSED;
void zk_vk_free(zk_vk *vk);
size_t zk_vk_input_size(const zk_vk *vk);
size_t zk_vk_output_size(const zk_vk *vk);
/* Proven (dense/conv/pool) layers. 0 for a parameter-free model (reshapes and ReLUs only): its
 * proof binds the statement and the verifier recomputes the output from the public input. */
size_t zk_vk_n_proven_layers(const zk_vk *vk);

/* What a client holding only the vk needs to check an output file: the output scale, whether
 * the model ends in softmax, the input quantization (identical to nn_model_quantize_input) and
 * the post-processing (identical to nn_model_postprocess). */
int32_t zk_vk_output_scale(const zk_vk *vk);
int zk_vk_has_softmax(const zk_vk *vk);
em_status zk_vk_quantize_input(const zk_vk *vk, const float *x, size_t n_samples, int32_t *q,
                               em_err *err) EM_WARN_UNUSED;
void zk_vk_postprocess(const zk_vk *vk, const int32_t *out_q, size_t n_samples, double *result);

typedef struct zk_context {
    const uint8_t *nonce; /* request nonce, 0..ZK_MAX_NONCE bytes */
    size_t nonce_len;
    const char *node_id; /* NUL-terminated, at most ZK_MAX_NODE_ID bytes */
} zk_context;

typedef struct zk_stats {
    double infer_ms;  /* plain inference inside the prover */
    double prove_ms;  /* total wall time of zk_prove */
    double verify_ms; /* filled by zk_verify */
    size_t proof_bytes;
} zk_stats;

/* Runs inference on input (n_samples x input size), writes output (n_samples x output size) and
 * a proof. stats may be NULL. zk_prove only reads the prover, so several threads may prove with
 * one zk_prover at once. opts->threads (0 = the CPUs the process may run on) also bounds the prover's own threads.
 * EM_ERR_RANGE when a pre-activation needs more than 20 bits (docs/PROOFS.md), EM_ERR_LIMIT when
 * the batch makes the witness or lookup exceed the proof size caps. */
em_status zk_prove(zk_prover *p, const nn_run_opts *opts, const int32_t *input, size_t n_samples,
                   const zk_context *ctx, int32_t *output, uint8_t **proof, size_t *proof_len,
                   zk_stats *stats, em_err *err) EM_WARN_UNUSED;

/* Testing only (soundness tests): called on the inference trace before the witness is built,
 * so a test can make the prover work from a corrupted intermediate. While a hook is set the
 * prover skips its own range checks and proves whatever the trace says. NULL removes it. */
typedef void (*zk_trace_hook)(nn_trace *trace, void *ctx);
void zk_prover_set_trace_hook(zk_prover *p, zk_trace_hook hook, void *ctx);

/* Checks a proof from an untrusted machine. EM_OK only if the proof is valid for exactly this
 * model hash, input, output, nonce and node id. Never crashes on malformed bytes. */
em_status zk_verify(const zk_vk *vk, const int32_t *input, size_t n_samples, const int32_t *output,
                    const zk_context *ctx, const uint8_t *proof, size_t proof_len, zk_stats *stats,
                    em_err *err) EM_WARN_UNUSED;

#endif
