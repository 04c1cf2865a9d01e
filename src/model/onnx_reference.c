/* Public handle over the importer's float graph (onnx_graph.h), for the CLI and tools. */
#include <stdlib.h>

#include "model_internal.h"
#include "onnx_graph.h"

struct nn_onnx {
    nn_fgraph g;
};

em_status nn_onnx_load(const char *path, nn_onnx **out, em_err *err)
{
    nn_onnx *o = calloc(1, sizeof *o);
    if (!o)
        return em_errf(err, EM_ERR_NOMEM, "%s: out of memory", path);
    em_status st = nn__onnx_parse_file(path, &o->g, err);
    if (st != EM_OK) {
        free(o);
        return st;
    }
    *out = o;
    return EM_OK;
}

size_t nn_onnx_input_size(const nn_onnx *o) { return nn_shape_size(o->g.input); }
size_t nn_onnx_output_size(const nn_onnx *o) { return nn__fgraph_output_size(&o->g); }

em_status nn_onnx_forward(const nn_onnx *o, const float *x, size_t n, double *out, em_err *err)
{
    return nn__fgraph_forward(&o->g, x, n, out, NULL, err);
}

em_status nn_onnx_quantize(const nn_onnx *o, const nn_import_opts *opts, nn_model **out, em_err *err)
{
    return nn__fgraph_quantize(&o->g, opts, out, err);
}

void nn_onnx_free(nn_onnx *o)
{
    if (!o)
        return;
    nn__fgraph_free(&o->g);
    free(o);
}

int nn_model_synthetic_calibration(const nn_model *m) { return m->synthetic_calib; }
const char *nn_layer_kind_name(nn_layer_kind k) { return nn__layer_kind_name(k); }
