/* Merkle tree build throughput (MB/s of leaf data) vs raw OpenSSL SHA-256 throughput.
 * Usage: bench_merkle */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/merkle.h"

static double raw_sha_mbps(const uint8_t *buf, size_t len)
{
    uint8_t out[32];
    double best = 1e30;
    for (int r = 0; r < 7; r++) {
        double t0 = em_now_ms();
        SHA256_CTX c;
        SHA256_Init(&c);
        SHA256_Update(&c, buf, len);
        SHA256_Final(out, &c);
        double dt = em_now_ms() - t0;
        best = dt < best ? dt : best;
    }
    return (double)len / best / 1e3;
}

int main(void)
{
    size_t total = (size_t)1 << 22; /* field elements = 32 MiB of leaf data */
    ff_t *m = malloc(total * sizeof *m);
    for (size_t i = 0; i < total; i++)
        m[i] = ff_from_u64(i * 0x9E3779B97F4A7C15ULL);
    double raw = raw_sha_mbps((const uint8_t *)m, total * 8);
    printf("raw SHA-256 (OpenSSL, one 32 MiB buffer): %.0f MB/s\n", raw);
    printf("%-28s %10s %10s %8s\n", "tree", "ms", "MB/s", "raw/mt");
    const struct {
        const char *kind;
        size_t rows, cols;
    } cfg[] = {{"cols", 256, 1 << 14}, {"cols", 64, 1 << 16}, {"cols", 16, 1 << 18},
               {"rows", 1 << 14, 256},  {"rows", 1 << 16, 64},  {"rows", 1 << 20, 4}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        em_err err;
        double best = 1e30;
        for (int r = 0; r < 7; r++) {
            mt_tree *t = NULL;
            double t0 = em_now_ms();
            em_status st = cfg[c].kind[0] == 'c' ? mt_tree_build_cols(m, cfg[c].rows, cfg[c].cols, &t, &err)
                                                : mt_tree_build_rows(m, cfg[c].rows, cfg[c].cols, &t, &err);
            double dt = em_now_ms() - t0;
            if (st != EM_OK) {
                fprintf(stderr, "%s\n", em_err_msg(&err));
                return 1;
            }
            mt_tree_free(t);
            best = dt < best ? dt : best;
        }
        double mbps = (double)total * 8 / best / 1e3;
        char name[64];
        snprintf(name, sizeof name, "%s %zux%zu", cfg[c].kind, cfg[c].rows, cfg[c].cols);
        printf("%-28s %10.2f %10.0f %8.2f\n", name, best, mbps, raw / mbps);
    }
    /* a systematic witness matrix shaped like 784-512-512-10 at batch 1024 (rate 4/5 since
     * session 10): 263 rows of 2^13 one-byte integer columns (the last 7 rows two-byte) and 2^11
     * parity columns, one thread and two (the tree has 2^14 leaves, 6144 of them padding) */
    {
        size_t R = 263, C = (size_t)1 << 13, P = C / 4;
        int32_t *ints = malloc(R * C * sizeof *ints);
        uint8_t *rb = malloc(R);
        for (size_t i = 0; i < R * C; i++)
            ints[i] = (int32_t)((i * 0x9E3779B97F4A7C15ULL) >> 57);
        for (size_t i = 0; i < R; i++)
            rb[i] = i + 7 >= R ? 2 : 1;
        for (unsigned th = 1; th <= 2; th++) {
            em_err err;
            double best = 1e30;
            for (int r = 0; r < 7; r++) {
                mt_tree *t = NULL;
                double t0 = em_now_ms();
                if (mt_tree_build_sys(ints, R * C, rb, C, m, P, R, th, NULL, &t, &err) != EM_OK) {
                    fprintf(stderr, "%s\n", em_err_msg(&err));
                    return 1;
                }
                double dt = em_now_ms() - t0;
                mt_tree_free(t);
                best = dt < best ? dt : best;
            }
            size_t bytes = R * P * 8 + (R + 7) * C;
            char name[64];
            snprintf(name, sizeof name, "sys %zux(%zu+%zu) %u thr", R, C, P, th);
            printf("%-28s %10.2f %10.0f %8.2f\n", name, best, (double)bytes / best / 1e3,
                   raw / ((double)bytes / best / 1e3));
        }
        free(ints);
        free(rb);
    }
    /* openings: 128 random columns out of 2^16 */
    mt_tree *t = NULL;
    em_err err;
    if (mt_tree_build_cols(m, 64, 1 << 16, &t, &err) != EM_OK)
        return 1;
    uint64_t idx[128];
    uint64_t x = 1;
    for (int i = 0; i < 128; i++)
        idx[i] = (uint64_t)i * 512 + ((x = x * 6364136223846793005ULL + 1) >> 55);
    uint8_t root[32], lh[128][32];
    mt_tree_root(t, root);
    for (int i = 0; i < 128; i++)
        memcpy(lh[i], mt_tree_leaf_hash(t, idx[i]), 32);
    em_buf b = {.max = 1 << 24};
    double t0 = em_now_ms();
    if (mt_tree_open(t, idx, 128, &b, &err) != EM_OK)
        return 1;
    double topen = em_now_ms() - t0;
    t0 = em_now_ms();
    if (mt_verify(root, 16, idx, (const uint8_t(*)[32])lh, 128, b.data, b.len, &err) != EM_OK)
        return 1;
    double tver = em_now_ms() - t0;
    printf("opening 128 of 2^16 leaves: %zu bytes, open %.3f ms, verify %.3f ms\n", b.len, topen, tver);
    em_buf_free(&b);
    mt_tree_free(t);
    free(m);
    return 0;
}
