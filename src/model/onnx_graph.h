/* The float graph: what the ONNX importer extracts from a .onnx file before quantization.
 * It is a chain of layers in the same kinds as nn_layer, with float weights. It is kept after
 * import as the float reference of the model (quantization calibration, `model compare` and the
 * conformance tests run it). Internal to the model module, the CLI and the tests. */
#ifndef EM_ONNX_GRAPH_H
#define EM_ONNX_GRAPH_H

#include "enclaveml/model.h"

typedef struct nn_fop {
    nn_layer_kind kind;
    nn_shape in, out;
    uint32_t kh, kw, sh, sw, pt, pl, pb, pr;
    uint32_t count_include_pad;
    nn_act act;       /* dense/conv fused activation; NN_ACT: RELU */
    float *weight;    /* dense [out][in]; conv [c_out][c_in][kh][kw]; owned */
    float *bias;      /* [out] / [c_out]; owned */
    size_t n_weight, n_bias;
    char name[64];
} nn_fop;

typedef struct nn_fgraph {
    nn_shape input;
    size_t n_ops;
    nn_fop *ops;
    int softmax;
} nn_fgraph;

/* Parses an ONNX model into a float chain. Errors name the op and the node. */
em_status nn__onnx_parse(const uint8_t *data, size_t len, nn_fgraph *g, em_err *err) EM_WARN_UNUSED;
em_status nn__onnx_parse_file(const char *path, nn_fgraph *g, em_err *err) EM_WARN_UNUSED;
void nn__fgraph_free(nn_fgraph *g);

size_t nn__fgraph_output_size(const nn_fgraph *g);
/* Float forward pass of n samples (double precision internally). out holds n x output size
 * values: the logits (softmax is not applied). If op_max is non-NULL it receives, per op, the
 * largest |value| of that op's output (after its fused activation) over all samples. */
em_status nn__fgraph_forward(const nn_fgraph *g, const float *x, size_t n, double *out, double *op_max,
                             em_err *err) EM_WARN_UNUSED;

/* Quantizes a float graph into an integer model (power-of-two scales). calib: n_calib x input
 * size samples; NULL = synthetic. */
em_status nn__fgraph_quantize(const nn_fgraph *g, const nn_import_opts *opts, nn_model **out,
                              em_err *err) EM_WARN_UNUSED;

/* Softmax in place over k values (max-subtracted, double precision). */
void nn__softmax(double *v, size_t k);

#endif
