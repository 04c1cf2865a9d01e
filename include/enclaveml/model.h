/* EnclaveML model: quantized networks, the .eml file format, ONNX import and deterministic
 * integer inference.
 *
 * ARITHMETIC CONTRACT (what proofs prove; every backend must match the scalar reference bit for
 * bit). All tensors are row-major, batch-major: sample s, then C, H, W. Values are integers with
 * a power-of-two scale: real = q / 2^scale.
 *
 *  - Activations are int32 holding values in [act_min, act_max] = [-2^(A-1), 2^(A-1)-1], where
 *    A = model->act_bits (2..16). The network input is quantized by nn_model_quantize_input:
 *    q = clamp(round_half_away_from_zero(x * 2^in_scale), act_min, act_max).
 *  - NN_DENSE / NN_CONV2D: acc = sum(W * a) + bias (exact int64; |acc| < 2^62 is guaranteed by
 *    validation of the bit widths), then requantize with shift k = layer->shift >= 0:
 *      q = k ? floor((acc + 2^(k-1)) / 2^k) : acc          (round half up; floor division)
 *      y = act(q), act = NONE: clamp(q, act_min, act_max); RELU: clamp(q, 0, act_max).
 *    Conv2d: zero padding (pads in activation units), stride, no dilation, group 1.
 *  - NN_ACT (a standalone ReLU): y = max(x, 0) elementwise (input already in range).
 *  - NN_MAXPOOL: y = max over the window, padded positions ignored (ONNX semantics).
 *  - NN_AVGPOOL: s = sum over the window (padded positions contribute 0); with d = number of
 *    positions counted (count_include_pad per layer flag),
 *    y = clamp(floor((s*m + 2^(k-1)) / 2^k), act_min, act_max) with m = floor((2^(k+1) + d) / (2d))
 *    (2^k/d rounded half up) and k = layer->shift (16); the multiplier per output position is
 *    derived from d, so it is public data of the architecture. The clamp matters only at the
 *    top of the range (e.g. A = 16, d = 6: an unclamped result could reach 2^15).
 *  - NN_RESHAPE: the data is unchanged (Flatten/Reshape only change the logical shape).
 *  - If model->softmax is set, the outputs of the last layer are logits; probabilities are
 *    computed in double precision after dequantization (post-processing, not proven).
 *
 * Ownership: nn_model is an opaque handle created by nn_model_load/nn_onnx_import and released
 * with nn_model_free. Layers returned by nn_model_layer are borrowed views valid until then. */
#ifndef ENCLAVEML_MODEL_H
#define ENCLAVEML_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "enclaveml/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nn_layer_kind {
    NN_DENSE = 1,
    NN_CONV2D = 2,
    NN_MAXPOOL = 3,
    NN_AVGPOOL = 4,
    NN_ACT = 5,
    NN_RESHAPE = 6,
} nn_layer_kind;

typedef enum nn_act { NN_ACT_NONE = 0, NN_ACT_RELU = 1 } nn_act;

/* Logical shape of one sample: channels, height, width (dense vectors are c = n, h = w = 1). */
typedef struct nn_shape {
    uint32_t c, h, w;
} nn_shape;

static inline size_t nn_shape_size(nn_shape s) { return (size_t)s.c * s.h * s.w; }

typedef struct nn_layer {
    nn_layer_kind kind;
    nn_shape in, out;
    /* Window geometry (conv, pools): kernel, stride, pads top/left/bottom/right. */
    uint32_t kh, kw, sh, sw, pt, pl, pb, pr;
    uint32_t count_include_pad; /* avgpool only */
    /* Dense: weight[out][in]; Conv2d: weight[c_out][c_in][kh][kw]. Values in
     * [-2^(weight_bits-1), 2^(weight_bits-1)-1]. bias[out or c_out] at scale in_scale + w_scale. */
    int32_t *weight;
    size_t n_weight;
    int64_t *bias;
    size_t n_bias;
    int32_t w_scale;  /* log2 scale of the weights */
    int32_t in_scale; /* log2 scale of the layer input */
    int32_t out_scale;
    uint32_t shift; /* requantization shift k (dense/conv/avgpool) */
    nn_act act;     /* dense/conv: fused activation; NN_ACT: RELU */
    char name[64];  /* source node name, for error messages */
} nn_layer;

typedef struct nn_model nn_model;

/* ---- model access -------------------------------------------------------------------------- */
size_t nn_model_n_layers(const nn_model *m);
const nn_layer *nn_model_layer(const nn_model *m, size_t i);
nn_shape nn_model_input_shape(const nn_model *m);
nn_shape nn_model_output_shape(const nn_model *m);
size_t nn_model_input_size(const nn_model *m);  /* values per sample */
size_t nn_model_output_size(const nn_model *m); /* values per sample */
uint32_t nn_model_act_bits(const nn_model *m);
uint32_t nn_model_weight_bits(const nn_model *m);
int32_t nn_model_input_scale(const nn_model *m);
int32_t nn_model_output_scale(const nn_model *m);
int nn_model_has_softmax(const nn_model *m);
size_t nn_model_n_params(const nn_model *m);
const char *nn_model_name(const nn_model *m);
/* 32 bytes stored in the file; the commitment's blinding randomness is derived from it. */
const uint8_t *nn_model_blinding_seed(const nn_model *m);
/* SHA-256 over the canonical encoding of the architecture and scales (no weights). */
void nn_model_arch_hash(const nn_model *m, uint8_t out[EM_HASH_LEN]);
/* SHA-256 over the canonical encoding of the whole model (architecture + weights). */
void nn_model_digest(const nn_model *m, uint8_t out[EM_HASH_LEN]);

void nn_model_free(nn_model *m);
/* The weights are read-only once the model has run: each layer's weights are packed for the
 * integer kernels on its first run and the packed copy is reused. A caller that changes weights
 * through a layer view afterwards (tests do, to forge provers) calls this before the next run,
 * with no run in progress. */
void nn_model_weights_changed(nn_model *m);

/* ---- building models in code (importer, tests, benchmarks) ---------------------------------- */
/* Creates an empty model; layers are appended in order. The blinding seed is drawn from the OS
 * RNG (override with nn_model_set_blinding_seed for reproducible files). */
em_status nn_model_create(const char *name, nn_shape input, uint32_t act_bits, uint32_t weight_bits,
                          int32_t in_scale, nn_model **out, em_err *err) EM_WARN_UNUSED;
/* Copies the layer (and its weight/bias arrays) after checking it against the current output
 * shape, the bit widths and the accumulator bound; a mismatch is an error naming the layer. */
em_status nn_model_add_layer(nn_model *m, const nn_layer *layer, em_err *err) EM_WARN_UNUSED;
void nn_model_set_softmax(nn_model *m, int on);
void nn_model_set_blinding_seed(nn_model *m, const uint8_t seed[32]);
/* Full consistency check (also run by nn_model_load on untrusted files). */
em_status nn_model_validate(const nn_model *m, em_err *err) EM_WARN_UNUSED;

/* ---- .eml file format ---------------------------------------------------------------------- */
#define NN_MAX_FILE_BYTES ((size_t)1 << 31)
em_status nn_model_load(const char *path, nn_model **out, em_err *err) EM_WARN_UNUSED;
em_status nn_model_load_mem(const uint8_t *data, size_t len, nn_model **out, em_err *err) EM_WARN_UNUSED;
em_status nn_model_save(const nn_model *m, const char *path, em_err *err) EM_WARN_UNUSED;
/* Serialize to a malloc'd buffer the caller frees. */
em_status nn_model_serialize(const nn_model *m, uint8_t **out, size_t *len, em_err *err) EM_WARN_UNUSED;

/* ---- ONNX import and quantization ---------------------------------------------------------- */
typedef struct nn_import_opts {
    uint32_t act_bits;    /* default 8 */
    uint32_t weight_bits; /* default 8 */
    /* Calibration samples (row-major, n_calib x input size); NULL = synthetic calibration. */
    const float *calib;
    size_t n_calib;
    const char *name; /* model name stored in the file; NULL = file name */
} nn_import_opts;

void nn_import_opts_default(nn_import_opts *o);
em_status nn_onnx_import(const char *path, const nn_import_opts *opts, nn_model **out, em_err *err) EM_WARN_UNUSED;
em_status nn_onnx_import_mem(const uint8_t *data, size_t len, const nn_import_opts *opts,
                             nn_model **out, em_err *err) EM_WARN_UNUSED;

/* The float reference of an ONNX file: the chain the importer extracts, before quantization,
 * evaluated in double precision. `model import` quantizes it; `model compare` and the
 * conformance tests measure the quantized model against it. Opaque; nn_onnx_free releases it. */
typedef struct nn_onnx nn_onnx;
em_status nn_onnx_load(const char *path, nn_onnx **out, em_err *err) EM_WARN_UNUSED;
size_t nn_onnx_input_size(const nn_onnx *g);
size_t nn_onnx_output_size(const nn_onnx *g);
/* n samples (n x input size floats) -> out (n x output size): logits, softmax not applied. */
em_status nn_onnx_forward(const nn_onnx *g, const float *x, size_t n, double *out, em_err *err) EM_WARN_UNUSED;
/* Quantizes the reference into an integer model, as nn_onnx_import does. */
em_status nn_onnx_quantize(const nn_onnx *g, const nn_import_opts *opts, nn_model **out,
                           em_err *err) EM_WARN_UNUSED;
void nn_onnx_free(nn_onnx *g);

/* True if the model was calibrated on synthetic inputs (no calibration data at import). */
int nn_model_synthetic_calibration(const nn_model *m);
/* Short name of a layer kind ("dense", "conv2d", ...). */
const char *nn_layer_kind_name(nn_layer_kind k);

/* ---- inference ----------------------------------------------------------------------------- */
/* A backend is a table of kernels (ggml-style {iface, context}); the scalar reference is always
 * available. "auto" picks the fastest available on this CPU. */
typedef struct nn_backend nn_backend;
const nn_backend *nn_backend_get(const char *name); /* "scalar", "avx2", "avx512", "auto"; NULL if unavailable */
const char *nn_backend_name(const nn_backend *b);

typedef struct nn_run_opts {
    const nn_backend *backend; /* NULL = auto */
    int threads;               /* 0 = all cores */
    /* nn_model_run_trace only (both or neither): the allocator of the trace's activation and
     * accumulator buffers, e.g. a cache that keeps memory between proofs (NULL: aligned_alloc and
     * free). trace_alloc must return 64-byte aligned memory or NULL. */
    void *(*trace_alloc)(size_t bytes);
    void (*trace_free)(void *p);
} nn_run_opts;

/* Quantize float inputs (n_samples x input size) to activation integers. */
em_status nn_model_quantize_input(const nn_model *m, const float *x, size_t n_samples, int32_t *q,
                                  em_err *err) EM_WARN_UNUSED;

/* Integer inference: in (n x input size) -> out (n x output size). Runs on one model may be
 * concurrent, but none may overlap nn_model_add_layer, nn_model_weights_changed or
 * nn_model_free on that model (they change or free what a run reads). */
em_status nn_model_run(const nn_model *m, const nn_run_opts *opts, const int32_t *in, size_t n_samples,
                       int32_t *out, em_err *err) EM_WARN_UNUSED;

/* Full trace for the prover: act[0] is the input, act[i+1] the output of layer i (each
 * n_samples x layer size, int32); acc[i] the int64 accumulators of dense/conv layer i before
 * requantization (NULL for other kinds). Free with nn_trace_free. */
typedef struct nn_trace {
    size_t n_layers, n_samples;
    int32_t **act;
    int64_t **acc;
    void (*release)(void *p); /* frees act[i] and acc[i] (opts->trace_free or free) */
} nn_trace;

em_status nn_model_run_trace(const nn_model *m, const nn_run_opts *opts, const int32_t *in,
                             size_t n_samples, nn_trace *trace, em_err *err) EM_WARN_UNUSED;
void nn_trace_free(nn_trace *t);

/* Dequantize outputs (q / 2^out_scale), then apply softmax per sample if the model has one. */
void nn_model_postprocess(const nn_model *m, const int32_t *out_q, size_t n_samples, double *result);
/* argmax per sample, ties to the lowest index. */
void nn_argmax(const int32_t *out_q, size_t n_samples, size_t k, uint32_t *pred);

#ifdef __cplusplus
}
#endif
#endif
