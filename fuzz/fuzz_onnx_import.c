/* libFuzzer target: ONNX import (protobuf decoding, graph checks, quantization) on arbitrary
 * bytes. Anything that imports must be a valid model. */
#include <stdlib.h>

#include "enclaveml/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    em_err err = {0};
    nn_model *m = NULL;
    nn_import_opts o;
    nn_import_opts_default(&o);
    o.name = "fuzz";
    if (nn_onnx_import_mem(data, size, &o, &m, &err) != EM_OK)
        return 0;
    if (nn_model_validate(m, &err) != EM_OK)
        abort();
    nn_model_free(m);
    return 0;
}
