/* Shared helpers of the inference-proof tests: random quantized MLPs and inputs. */
#ifndef EM_ZK_TESTUTIL_H
#define EM_ZK_TESTUTIL_H

#include <stdlib.h>
#include <string.h>

#include "enclaveml/model.h"
#include "enclaveml/zkml/zk.h"
#include "harness.h"

/* Random MLP dims[0] -> dims[1] -> ... -> dims[n-1]; hidden layers ReLU (fused, or as a
 * standalone NN_ACT layer when standalone_relu), last layer linear. Shifts keep most
 * pre-activations in the activation range. */
static inline nn_model *zt_mlp(const uint32_t *dims, size_t n, uint32_t act_bits, uint32_t weight_bits,
                               int standalone_relu, int flatten_first)
{
    nn_model *m = NULL;
    em_err err = {0};
    nn_shape in = {dims[0], 1, 1};
    if (flatten_first)
        in = (nn_shape){1, dims[0] / 4 ? 4 : 1, dims[0] / 4 ? dims[0] / 4 : dims[0]};
    if (nn_model_create("zk-test-mlp", in, act_bits, weight_bits, 4, &m, &err) != EM_OK) {
        fprintf(stderr, "nn_model_create: %s\n", err.msg);
        return NULL;
    }
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)i;
    nn_model_set_blinding_seed(m, seed);
    int32_t scale = 4;
    if (flatten_first) {
        nn_layer r;
        memset(&r, 0, sizeof r);
        r.kind = NN_RESHAPE;
        r.in = in;
        r.out = (nn_shape){dims[0], 1, 1};
        r.in_scale = r.out_scale = scale;
        snprintf(r.name, sizeof r.name, "flatten");
        if (nn_model_add_layer(m, &r, &err) != EM_OK) {
            fprintf(stderr, "add flatten: %s\n", err.msg);
            nn_model_free(m);
            return NULL;
        }
    }
    for (size_t l = 0; l + 1 < n; l++) {
        uint32_t ni = dims[l], no = dims[l + 1];
        nn_layer L;
        memset(&L, 0, sizeof L);
        L.kind = NN_DENSE;
        L.in = (nn_shape){ni, 1, 1};
        L.out = (nn_shape){no, 1, 1};
        L.n_weight = (size_t)ni * no;
        L.n_bias = no;
        L.weight = malloc(L.n_weight * sizeof *L.weight);
        L.bias = malloc(L.n_bias * sizeof *L.bias);
        int32_t wr = 1 << (weight_bits - 1);
        for (size_t i = 0; i < L.n_weight; i++)
            L.weight[i] = (int32_t)(th_rand() % (uint64_t)(2 * wr)) - wr;
        /* shift ~ log2(sqrt(n_in) * 2^(W-1)) keeps |q| near the activation range */
        unsigned lg = 0;
        while ((1u << lg) < ni)
            lg++;
        uint32_t k = (weight_bits - 1) + (lg + 1) / 2;
        L.w_scale = (int32_t)weight_bits - 1;
        L.in_scale = scale;
        L.out_scale = scale + L.w_scale - (int32_t)k;
        L.shift = k;
        for (size_t i = 0; i < L.n_bias; i++)
            L.bias[i] = (int64_t)(th_rand() % 4001) - 2000;
        int last = l + 2 == n;
        L.act = last || standalone_relu ? NN_ACT_NONE : NN_ACT_RELU;
        snprintf(L.name, sizeof L.name, "dense%zu", l);
        em_status st = nn_model_add_layer(m, &L, &err);
        free(L.weight);
        free(L.bias);
        if (st != EM_OK) {
            fprintf(stderr, "add dense: %s\n", err.msg);
            nn_model_free(m);
            return NULL;
        }
        scale = L.out_scale;
        if (!last && standalone_relu) {
            nn_layer R;
            memset(&R, 0, sizeof R);
            R.kind = NN_ACT;
            R.act = NN_ACT_RELU;
            R.in = R.out = (nn_shape){no, 1, 1};
            R.in_scale = R.out_scale = scale;
            snprintf(R.name, sizeof R.name, "relu%zu", l);
            if (nn_model_add_layer(m, &R, &err) != EM_OK) {
                fprintf(stderr, "add relu: %s\n", err.msg);
                nn_model_free(m);
                return NULL;
            }
        }
    }
    return m;
}

static inline int32_t *zt_input(const nn_model *m, size_t n)
{
    size_t k = nn_model_input_size(m) * n;
    int32_t *x = malloc(k * sizeof *x);
    int32_t r = 1 << (nn_model_act_bits(m) - 1);
    for (size_t i = 0; i < k; i++)
        x[i] = (int32_t)(th_rand() % (uint64_t)(2 * r)) - r;
    return x;
}

#endif
