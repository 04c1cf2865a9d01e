/* Adversarial review: statement and header binding of proofs of inference.
 *
 * A worker may try to reuse a valid proof for another statement by rewriting the proof header
 * consistently (hashes, sample count, per-proof parameters), so that only the Fiat-Shamir
 * transcript and the verifier's own recomputation stand in the way:
 *   - a batch of 4 re-presented as its first 3 samples, and a batch of 3 extended by a 4th
 *     sample (the valid-row indicator and the padding change);
 *   - every other requantization table size T and remainder limb width the verifier accepts,
 *     with the witness size rewritten to match;
 *   - inputs outside the activation range (the integer argument needs them in range).
 * All must be rejected; the honest proof must verify. */
#include <inttypes.h>

#include "zk_internal.h"
#include "zk_testutil.h"

static const uint8_t NONCE[8] = {9, 8, 7, 6, 5, 4, 3, 2};
static const zk_context CTX = {.nonce = NONCE, .nonce_len = sizeof NONCE, .node_id = "w7"};

/* Offsets in the commitment section (after the 8-byte header and its u32 length). */
#define OFF_INPUT_HASH (12 + 32)
#define OFF_OUTPUT_HASH (12 + 64)
#define OFF_NSAMPLES (12 + 96)
#define OFF_WLOG (12 + 104 + 1 + sizeof NONCE + 1 + 2)
#define OFF_T (OFF_WLOG + 1)
#define OFF_LBITS (OFF_WLOG + 2)

static void rehash(uint8_t *pr, const zk_vk *vk, const int32_t *x, const int32_t *y, size_t n)
{
    zk__hash_input(vk, x, n * zk_vk_input_size(vk), pr + OFF_INPUT_HASH);
    zk__hash_output(y, n * zk_vk_output_size(vk), pr + OFF_OUTPUT_HASH);
    for (int i = 0; i < 8; i++)
        pr[OFF_NSAMPLES + i] = (uint8_t)((uint64_t)n >> (8 * i));
}

static em_status verify(const zk_vk *vk, const int32_t *x, size_t n, const int32_t *y, const uint8_t *pr, size_t len)
{
    em_err err = {0};
    em_status st = zk_verify(vk, x, n, y, &CTX, pr, len, NULL, &err);
    if (st != EM_OK && getenv("ZK_TEST_VERBOSE"))
        fprintf(stderr, "    rejected: %s\n", err.msg);
    return st;
}

static void test_batch_rebinding(void)
{
    uint32_t d[] = {10, 7, 4};
    nn_model *m = zt_mlp(d, 3, 8, 8, 0, 0);
    zk_prover *p = NULL;
    em_err err = {0};
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_OK(zk_prover_create(m, &p, &err), &err);
    if (!p) {
        nn_model_free(m);
        return;
    }
    const zk_vk *vk = zk_prover_vk(p);
    size_t ni = zk_vk_input_size(vk), no = zk_vk_output_size(vk);
    int32_t *x = zt_input(m, 4), *y = calloc(4 * no, sizeof *y), *y3 = calloc(3 * no, sizeof *y3);
    uint8_t *p4 = NULL, *p3 = NULL;
    size_t l4 = 0, l3 = 0;
    memset(x + 3 * ni, 0, ni * sizeof *x); /* sample 3 is all zeros, like padding */
    CHECK_OK(zk_prove(p, NULL, x, 4, &CTX, y, &p4, &l4, NULL, &err), &err);
    CHECK_OK(zk_prove(p, NULL, x, 3, &CTX, y3, &p3, &l3, NULL, &err), &err);
    if (p4 && p3) {
        CHECK_OK(verify(vk, x, 4, y, p4, l4), &err);
        CHECK_OK(verify(vk, x, 3, y3, p3, l3), &err);
        CHECK(memcmp(y, y3, 3 * no * sizeof *y) == 0);
        /* 4 -> 3: same padded size (lb = 2), only the valid rows differ */
        uint8_t *q = malloc(l4);
        memcpy(q, p4, l4);
        rehash(q, vk, x, y, 3);
        CHECK(verify(vk, x, 3, y, q, l4) == EM_ERR_VERIFY);
        /* 3 -> 4 with the zero sample appended and its true output */
        q = realloc(q, l3);
        memcpy(q, p3, l3);
        rehash(q, vk, x, y, 4);
        CHECK(verify(vk, x, 4, y, q, l3) == EM_ERR_VERIFY);
        /* 3 -> 4 where the 4th output is what the padding row of the 3-sample proof holds:
         * the bias is removed there, so act(round(0)) = 0 */
        int32_t *yz = calloc(4 * no, sizeof *yz);
        memcpy(yz, y, 3 * no * sizeof *yz);
        memcpy(q, p3, l3);
        rehash(q, vk, x, yz, 4);
        CHECK(verify(vk, x, 4, yz, q, l3) == EM_ERR_VERIFY);
        free(yz);
        free(q);
    }
    free(p4);
    free(p3);
    free(x);
    free(y);
    free(y3);
    zk_prover_free(p);
    nn_model_free(m);
}

static void test_header_parameters(void)
{
    uint32_t d[] = {12, 9, 5};
    nn_model *m = zt_mlp(d, 3, 8, 8, 0, 0);
    zk_prover *p = NULL;
    em_err err = {0};
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_OK(zk_prover_create(m, &p, &err), &err);
    if (!p) {
        nn_model_free(m);
        return;
    }
    const zk_vk *vk = zk_prover_vk(p);
    size_t n = 3, no = zk_vk_output_size(vk);
    int32_t *x = zt_input(m, n), *y = calloc(n * no, sizeof *y);
    uint8_t *pr = NULL;
    size_t len = 0;
    CHECK_OK(zk_prove(p, NULL, x, n, &CTX, y, &pr, &len, NULL, &err), &err);
    if (pr) {
        CHECK_OK(verify(vk, x, n, y, pr, len), &err);
        unsigned T0 = pr[OFF_T], B0 = pr[OFF_LBITS];
        CHECK(T0 >= vk->act_bits + 1 && T0 <= vk->table_bits);
        CHECK(B0 >= ZK_MIN_LIMB_BITS && B0 <= ZK_RANGE_BITS);
        uint8_t *q = malloc(len);
        size_t tried = 0;
        for (unsigned T = 0; T <= 24; T++)
            for (unsigned B = 0; B <= 20; B++) {
                if (T == T0 && B == B0)
                    continue;
                memcpy(q, pr, len);
                q[OFF_T] = (uint8_t)T;
                q[OFF_LBITS] = (uint8_t)B;
                zk_wlayout wl;
                if (zk__wlayout(vk, n, T, B, &wl, NULL) == EM_OK) {
                    q[OFF_WLOG] = (uint8_t)wl.pack.total_log; /* push past the size check */
                    tried++;
                }
                em_status st = verify(vk, x, n, y, q, len);
                if (st == EM_OK)
                    fprintf(stderr, "    BREAK: proof accepted with T=%u lbits=%u\n", T, B);
                CHECK(st != EM_OK);
            }
        CHECK(tried > 50);
        free(q);
    }
    free(pr);
    free(x);
    free(y);
    zk_prover_free(p);
    nn_model_free(m);
}

static void test_input_range(void)
{
    uint32_t d[] = {6, 4};
    nn_model *m = zt_mlp(d, 2, 6, 8, 0, 0);
    zk_prover *p = NULL;
    em_err err = {0};
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_OK(zk_prover_create(m, &p, &err), &err);
    if (p) {
        const zk_vk *vk = zk_prover_vk(p);
        int32_t x[6] = {31, -32, 0, 1, 2, 3}, y[4] = {0};
        uint8_t *pr = NULL;
        size_t len = 0;
        CHECK_OK(zk_prove(p, NULL, x, 1, &CTX, y, &pr, &len, NULL, &err), &err);
        if (pr)
            CHECK_OK(verify(vk, x, 1, y, pr, len), &err);
        int32_t bad[] = {32, -33, INT32_MAX, INT32_MIN};
        for (size_t i = 0; i < 4; i++) {
            int32_t x2[6];
            memcpy(x2, x, sizeof x2);
            x2[i % 6] = bad[i];
            CHECK_ST(zk_verify(vk, x2, 1, y, &CTX, pr, len, NULL, &err), EM_ERR_RANGE, &err);
            /* the prover refuses it too (the engine or the statement's check, which runs on a
             * thread of its own while the model runs: joined on the error path as well) */
            uint8_t *pr2 = NULL;
            size_t len2 = 0;
            int32_t y2[4];
            CHECK(zk_prove(p, NULL, x2, 1, &CTX, y2, &pr2, &len2, NULL, &err) == EM_ERR_RANGE);
            CHECK(pr2 == NULL);
        }
        free(pr);
    }
    zk_prover_free(p);
    nn_model_free(m);
}

/* Known answers for the statement hashes, computed independently with Python's hashlib from
 * the encoding in docs/PROOFS.md: SHA-256(domain || u64le count || u8 w || count x w-byte
 * little-endian two's complement). One-byte (8-bit input), two-byte (16-bit input) and
 * four-byte (output) widths, with negatives, and an input longer than one 16 KiB chunk. */
static void hex32(const uint8_t h[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static void test_hash_encoding(void)
{
    struct zk_vk v8, v16;
    memset(&v8, 0, sizeof v8);
    memset(&v16, 0, sizeof v16);
    v8.act_bits = 8;
    v16.act_bits = 16;
    uint8_t h[32];
    char hx[65];
    const int32_t a[5] = {-128, 127, 0, -1, 5}, b[5] = {-32768, 32767, 256, -1, 1}, y[3] = {1, -2, 70000};
    zk__hash_input(&v8, a, 5, h);
    hex32(h, hx);
    CHECK_STR_CONTAINS(hx, "741cd153617723b840332444d7d38a85e9c3c6ae84619439ab9e84a7aba96aef");
    zk__hash_input(&v16, b, 5, h);
    hex32(h, hx);
    CHECK_STR_CONTAINS(hx, "1aec590b4c6837e2aee55de87416214f82fb05fbf68b5b8860886ffe721bc0e8");
    zk__hash_output(y, 3, h);
    hex32(h, hx);
    CHECK_STR_CONTAINS(hx, "7521c961df952f6c8f097e06eab62b0c8ffbdd0bba208108042b060e18a801e6");
    int32_t *big = malloc(40000 * sizeof *big);
    for (int i = 0; i < 40000; i++)
        big[i] = (i * 37) % 256 - 128;
    zk__hash_input(&v8, big, 40000, h);
    hex32(h, hx);
    CHECK_STR_CONTAINS(hx, "a8576add98e7bca8525574f019d88f079e46ee975c5b585b89a29b74ee3d19d7");
    free(big);
}

int main(void)
{
    th_init("test_attack_statement");
    TH_RUN(test_batch_rebinding);
    TH_RUN(test_header_parameters);
    TH_RUN(test_input_range);
    TH_RUN(test_hash_encoding);
    return th_finish();
}
