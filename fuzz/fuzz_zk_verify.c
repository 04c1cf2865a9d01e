/* libFuzzer target: zk_verify and zk_vk_deserialize on untrusted bytes must never crash, hang
 * or allocate without bound. The first byte selects the target; a fixed small model, input and
 * output form the statement, so inputs that start from a real proof (seed corpus: write one
 * with `enclaveml prove`) reach deep into the verifier. Bit 0 feeds zk_vk_deserialize: raw bytes,
 * or with bit 1 mutations of the honest vk (reaching its model proximity proof). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enclaveml/model.h"
#include "enclaveml/zkml/zk.h"

static zk_prover *g_p, *g_cp, *g_pp;
static nn_model *g_m, *g_cm, *g_pm;
static int32_t g_x[2 * 8], g_y[2 * 4], g_cx[2 * 16], g_cy[2 * 3], g_px[2 * 50], g_py[2 * 18];
static uint8_t *g_proof, *g_cproof, *g_pproof;
static size_t g_len, g_clen, g_plen;
static const zk_context g_ctx = {.nonce = (const uint8_t *)"n", .nonce_len = 1, .node_id = "fuzz"};

static void setup(void)
{
    em_err err = {0};
    if (nn_model_create("fuzz", (nn_shape){8, 1, 1}, 8, 8, 4, &g_m, &err) != EM_OK)
        abort();
    uint8_t seed[32] = {0};
    nn_model_set_blinding_seed(g_m, seed);
    int32_t scale = 4;
    uint32_t dims[] = {8, 6, 4};
    for (int l = 0; l < 2; l++) {
        nn_layer L;
        memset(&L, 0, sizeof L);
        L.kind = NN_DENSE;
        L.in = (nn_shape){dims[l], 1, 1};
        L.out = (nn_shape){dims[l + 1], 1, 1};
        int32_t w[48];
        int64_t b[6];
        for (uint32_t i = 0; i < dims[l] * dims[l + 1]; i++)
            w[i] = (int32_t)((i * 37 + (uint32_t)l * 11) % 255) - 127;
        for (uint32_t i = 0; i < dims[l + 1]; i++)
            b[i] = (int64_t)i * 100 - 200;
        L.weight = w;
        L.n_weight = dims[l] * dims[l + 1];
        L.bias = b;
        L.n_bias = dims[l + 1];
        L.w_scale = 7;
        L.in_scale = scale;
        L.shift = 9;
        L.out_scale = scale + 7 - 9;
        L.act = l == 0 ? NN_ACT_RELU : NN_ACT_NONE;
        snprintf(L.name, sizeof L.name, "fc%d", l);
        if (nn_model_add_layer(g_m, &L, &err) != EM_OK)
            abort();
        scale = L.out_scale;
    }
    if (zk_prover_create(g_m, &g_p, &err) != EM_OK)
        abort();
    for (int i = 0; i < 16; i++)
        g_x[i] = (i * 29) % 256 - 128;
    if (zk_prove(g_p, NULL, g_x, 2, &g_ctx, g_y, &g_proof, &g_len, NULL, &err) != EM_OK)
        abort();
    /* a tiny CNN: conv 1->2 3x3 pad 1 on 4x4 (ReLU), maxpool 2x2, flatten 8, dense 8->3 */
    if (nn_model_create("fuzz-cnn", (nn_shape){1, 4, 4}, 8, 8, 4, &g_cm, &err) != EM_OK)
        abort();
    nn_model_set_blinding_seed(g_cm, seed);
    nn_layer L;
    int32_t w[24];
    int64_t b[3] = {10, -20, 30};
    memset(&L, 0, sizeof L);
    L.kind = NN_CONV2D;
    L.in = (nn_shape){1, 4, 4};
    L.out = (nn_shape){2, 4, 4};
    L.kh = L.kw = 3;
    L.sh = L.sw = 1;
    L.pt = L.pl = L.pb = L.pr = 1;
    for (int i = 0; i < 18; i++)
        w[i] = (i * 41) % 255 - 127;
    L.weight = w;
    L.n_weight = 18;
    L.bias = b;
    L.n_bias = 2;
    L.w_scale = 7;
    L.in_scale = 4;
    L.shift = 9;
    L.out_scale = 2;
    L.act = NN_ACT_RELU;
    if (nn_model_add_layer(g_cm, &L, &err) != EM_OK)
        abort();
    memset(&L, 0, sizeof L);
    L.kind = NN_MAXPOOL;
    L.in = (nn_shape){2, 4, 4};
    L.out = (nn_shape){2, 2, 2};
    L.kh = L.kw = L.sh = L.sw = 2;
    L.in_scale = L.out_scale = 2;
    if (nn_model_add_layer(g_cm, &L, &err) != EM_OK)
        abort();
    memset(&L, 0, sizeof L);
    L.kind = NN_RESHAPE;
    L.in = (nn_shape){2, 2, 2};
    L.out = (nn_shape){8, 1, 1};
    L.in_scale = L.out_scale = 2;
    if (nn_model_add_layer(g_cm, &L, &err) != EM_OK)
        abort();
    memset(&L, 0, sizeof L);
    L.kind = NN_DENSE;
    L.in = (nn_shape){8, 1, 1};
    L.out = (nn_shape){3, 1, 1};
    for (int i = 0; i < 24; i++)
        w[i] = (i * 23) % 255 - 127;
    L.weight = w;
    L.n_weight = 24;
    L.bias = b;
    L.n_bias = 3;
    L.w_scale = 7;
    L.in_scale = 2;
    L.shift = 8;
    L.out_scale = 1;
    if (nn_model_add_layer(g_cm, &L, &err) != EM_OK || zk_prover_create(g_cm, &g_cp, &err) != EM_OK)
        abort();
    for (int i = 0; i < 32; i++)
        g_cx[i] = (i * 53) % 256 - 128;
    if (zk_prove(g_cp, NULL, g_cx, 2, &g_ctx, g_cy, &g_cproof, &g_clen, NULL, &err) != EM_OK)
        abort();
    /* a padded maxpool as the only (so the last) layer: 2x5x5, 3x3 window, stride 2, pad 1 */
    if (nn_model_create("fuzz-pool", (nn_shape){2, 5, 5}, 8, 8, 4, &g_pm, &err) != EM_OK)
        abort();
    nn_model_set_blinding_seed(g_pm, seed);
    memset(&L, 0, sizeof L);
    L.kind = NN_MAXPOOL;
    L.in = (nn_shape){2, 5, 5};
    L.out = (nn_shape){2, 3, 3};
    L.kh = L.kw = 3;
    L.sh = L.sw = 2;
    L.pt = L.pl = L.pb = L.pr = 1;
    L.in_scale = L.out_scale = 4;
    if (nn_model_add_layer(g_pm, &L, &err) != EM_OK || zk_prover_create(g_pm, &g_pp, &err) != EM_OK)
        abort();
    for (int i = 0; i < 100; i++)
        g_px[i] = (i * 71) % 256 - 128;
    if (zk_prove(g_pp, NULL, g_px, 2, &g_ctx, g_py, &g_pproof, &g_plen, NULL, &err) != EM_OK)
        abort();
}

/* Public-prefix models (docs/PROOFS.md "Public prefix"): ReLU -> dense 8->4, and a
 * parameter-free ReLU -> flatten whose proof is the statement binding alone. */
static zk_prover *g_fp[2];
static nn_model *g_fm[2];
static int32_t g_fx[2][2 * 8], g_fy[2][2 * 8];
static uint8_t *g_fproof[2];
static size_t g_flen[2];

static void setup_prefix(void)
{
    em_err err = {0};
    uint8_t seed[32] = {5};
    for (int k = 0; k < 2; k++) {
        if (nn_model_create(k ? "fuzz-relu" : "fuzz-prefix", k ? (nn_shape){2, 2, 2} : (nn_shape){8, 1, 1}, 8, 8, 4,
                            &g_fm[k], &err) != EM_OK)
            abort();
        nn_model_set_blinding_seed(g_fm[k], seed);
        nn_layer L;
        memset(&L, 0, sizeof L);
        L.kind = NN_ACT;
        L.act = NN_ACT_RELU;
        L.in = L.out = k ? (nn_shape){2, 2, 2} : (nn_shape){8, 1, 1};
        L.in_scale = L.out_scale = 4;
        if (nn_model_add_layer(g_fm[k], &L, &err) != EM_OK)
            abort();
        memset(&L, 0, sizeof L);
        int32_t w[32];
        int64_t b[4] = {5, -15, 25, -35};
        if (k) {
            L.kind = NN_RESHAPE;
            L.in = (nn_shape){2, 2, 2};
            L.out = (nn_shape){8, 1, 1};
            L.in_scale = L.out_scale = 4;
        } else {
            L.kind = NN_DENSE;
            L.in = (nn_shape){8, 1, 1};
            L.out = (nn_shape){4, 1, 1};
            for (int i = 0; i < 32; i++)
                w[i] = (i * 31) % 255 - 127;
            L.weight = w;
            L.n_weight = 32;
            L.bias = b;
            L.n_bias = 4;
            L.w_scale = 7;
            L.in_scale = 4;
            L.shift = 8;
            L.out_scale = 3;
        }
        if (nn_model_add_layer(g_fm[k], &L, &err) != EM_OK || zk_prover_create(g_fm[k], &g_fp[k], &err) != EM_OK)
            abort();
        for (int i = 0; i < 16; i++)
            g_fx[k][i] = (i * 71) % 256 - 128;
        if (zk_prove(g_fp[k], NULL, g_fx[k], 2, &g_ctx, g_fy[k], &g_fproof[k], &g_flen[k], NULL, &err) != EM_OK)
            abort();
    }
}

/* Applies data[1..size) to buf (n > 0 honest bytes) as (u32 offset, u8 xor) records, then an
 * optional truncation given by the last two bytes; returns the length to use. */
static size_t apply_patches(uint8_t *buf, size_t n, const uint8_t *data, size_t size)
{
    size_t i = 1;
    for (; i + 5 <= size; i += 5) {
        uint32_t off = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 | (uint32_t)data[i + 2] << 16 |
                       (uint32_t)data[i + 3] << 24;
        buf[off % n] ^= data[i + 4];
    }
    return size - i == 2 ? n - ((size_t)data[i] | (size_t)data[i + 1] << 8) % n : n;
}

/* (u32 offset, u8 xor) records on the honest proof of prefix model `k`, then an optional
 * truncation given by the last two bytes. */
static void fuzz_prefix(int k, const uint8_t *data, size_t size)
{
    em_err err = {0};
    uint8_t *p = malloc(g_flen[k]);
    if (!p)
        return;
    memcpy(p, g_fproof[k], g_flen[k]);
    size_t len = apply_patches(p, g_flen[k], data, size);
    (void)zk_verify(zk_prover_vk(g_fp[k]), g_fx[k], 2, g_fy[k], &g_ctx, p, len, NULL, &err);
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_p) {
        setup();
        setup_prefix();
    }
    if (size < 1)
        return 0;
    em_err err = {0};
    if ((data[0] & 0x21) == 0x20) { /* bit 5: the public-prefix models (bit 4 picks which) */
        fuzz_prefix((data[0] & 16) != 0, data, size);
        return 0;
    }
    if (data[0] & 1) {
        zk_vk *vk = NULL;
        if ((data[0] & 2) && size >= 3) {
            /* structured mutation of the honest vk, so the model commitment's proximity proof
             * (its trailer) is reached: (u32 offset, u8 xor) records, last two bytes a cut */
            uint8_t *vb = NULL;
            size_t vl = 0;
            if (zk_vk_serialize(zk_prover_vk(g_p), &vb, &vl, &err) != EM_OK)
                abort();
            size_t len = apply_patches(vb, vl, data, size);
            if (zk_vk_deserialize(vb, len, &vk, &err) == EM_OK)
                zk_vk_free(vk);
            free(vb);
            return 0;
        }
        if (zk_vk_deserialize(data + 1, size - 1, &vk, &err) == EM_OK)
            zk_vk_free(vk);
        return 0;
    }
    if (data[0] & 2) {
        /* structured mutation of an honest proof (bit 2: the CNN's, else bit 3: the padded
         * maxpool's): (u32 offset, u8 xor) records, then an optional truncation given by the
         * last two bytes */
        int cnn = (data[0] & 4) != 0, pool = !cnn && (data[0] & 8) != 0;
        const uint8_t *src = cnn ? g_cproof : pool ? g_pproof : g_proof;
        size_t g_len_used = cnn ? g_clen : pool ? g_plen : g_len;
        uint8_t *p = malloc(g_len_used);
        if (!p)
            return 0;
        memcpy(p, src, g_len_used);
        size_t len = apply_patches(p, g_len_used, data, size);
        if (cnn)
            (void)zk_verify(zk_prover_vk(g_cp), g_cx, 2, g_cy, &g_ctx, p, len, NULL, &err);
        else if (pool)
            (void)zk_verify(zk_prover_vk(g_pp), g_px, 2, g_py, &g_ctx, p, len, NULL, &err);
        else
            (void)zk_verify(zk_prover_vk(g_p), g_x, 2, g_y, &g_ctx, p, len, NULL, &err);
        free(p);
        return 0;
    }
    (void)zk_verify(zk_prover_vk(g_p), g_x, 2, g_y, &g_ctx, data + 1, size - 1, NULL, &err);
    return 0;
}
