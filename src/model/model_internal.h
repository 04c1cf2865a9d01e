/* Internal layout of nn_model, shared by the model module's files only. */
#ifndef EM_MODEL_INTERNAL_H
#define EM_MODEL_INTERNAL_H

#include "enclaveml/model.h"

struct nn_model {
    char name[64];
    uint32_t act_bits, weight_bits;
    int32_t in_scale;
    nn_shape input;
    int softmax;
    uint8_t blinding_seed[32];
    size_t n_layers;
    nn_layer *layers; /* owned, each with owned weight/bias arrays */
};

static inline int32_t nn__act_min(const nn_model *m) { return -(int32_t)(1u << (m->act_bits - 1)); }
static inline int32_t nn__act_max(const nn_model *m) { return (int32_t)(1u << (m->act_bits - 1)) - 1; }

#endif
