/* Internal layout of nn_model, shared by the model module's files only. */
#ifndef EM_MODEL_INTERNAL_H
#define EM_MODEL_INTERNAL_H

#include <pthread.h>

#include "enclaveml/model.h"

struct nn_model {
    char name[64];
    uint32_t act_bits, weight_bits;
    int32_t in_scale;
    nn_shape input;
    int softmax;
    int synthetic_calib; /* quantized with synthetic calibration inputs (provenance, not hashed) */
    uint8_t blinding_seed[32];
    size_t n_layers;
    nn_layer *layers; /* owned, each with owned weight/bias arrays */
    /* Weights packed for the integer kernels (int16, rows of even stride), built on a layer's
     * first run and kept until nn_model_free / nn_model_weights_changed: a worker serving
     * request after request would otherwise narrow and copy every weight, into freshly faulted
     * pages, on each run. A cache inside a const model, so guarded by pack_mu. */
    pthread_mutex_t pack_mu;
    int16_t **wpack; /* wpack_n entries, NULL = not packed yet */
    size_t wpack_n;
};

/* The packed weights of layer li (n rows of k weights, row stride lda), packing them on first
 * use. The pointer stays valid until nn_model_free or nn_model_weights_changed. */
em_status nn__model_packed(const nn_model *m, size_t li, size_t n, size_t k, size_t lda, const int16_t **out,
                           em_err *err);

static inline int32_t nn__act_min(const nn_model *m) { return -(int32_t)(1u << (m->act_bits - 1)); }
static inline int32_t nn__act_max(const nn_model *m) { return (int32_t)(1u << (m->act_bits - 1)) - 1; }

/* Limits enforced by validation (and therefore by the file loader and the importer). */
#define NN_MIN_BITS 2
#define NN_MAX_BITS 16
#define NN_MAX_DIM 65536u               /* per shape dimension */
#define NN_MAX_TENSOR ((size_t)1 << 26) /* values per sample per tensor */
#define NN_MAX_WEIGHTS ((size_t)1 << 28) /* weights per layer */
#define NN_MAX_LAYERS 1024
#define NN_MAX_KERNEL 1024 /* kernel and stride extent */
#define NN_MIN_SCALE (-64)
#define NN_MAX_SCALE 64
#define NN_MAX_SHIFT 32

/* Short name of a layer kind ("dense", "conv2d", ...). */
const char *nn__layer_kind_name(nn_layer_kind k);
/* nn_model_create with an explicit blinding seed (NULL = draw one from the OS RNG). */
em_status nn__model_new(const char *name, nn_shape input, uint32_t act_bits, uint32_t weight_bits,
                        int32_t in_scale, const uint8_t *seed, nn_model **out, em_err *err);
/* Checks l against the model's current output and appends it. take = 1 moves l's weight/bias
 * arrays into the model (l's pointers are cleared on success); take = 0 copies them. */
em_status nn__model_append(nn_model *m, nn_layer *l, int take, em_err *err);

#endif
