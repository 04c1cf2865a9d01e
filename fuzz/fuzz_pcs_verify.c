/* libFuzzer target: polynomial-commitment opening verification on untrusted bytes.
 *
 * Input layout: byte 0 selects the instance (bit 0: small layout where every column is opened,
 * or a larger one with sampled queries; bit 3 overrides both with a hiding commitment; bit 4
 * (without bit 3) makes either a systematic integer commitment, rows typed I8, U16 and I32 (the
 * small one at rate 1/2, the sampled one at rate 2/3, or with bit 5 also set at rate 4/5); bit 6
 * (without bits 3 and 4) a tested rate-1/4 layout, whose opening has no proximity row and 109
 * columns, or with bit 5 also set that commitment's proximity proof (pcs_verify_proximity);
 * bit 1: the claimed value is taken from bytes 1..16
 * instead of the true evaluation; bit 2: patch mode), then either the raw proof bytes or, in
 * patch mode, a u16le length adjustment followed by 5-byte patches (u32le offset, xor byte)
 * applied to the honest proof -- so mutations reach the deep checks, not only the length
 * checks. A fixed polynomial is committed once. Besides never crashing/leaking, an accepted
 * proof for a value other than the true evaluation would be a soundness break: the target
 * aborts on it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enclaveml/zkml/ml.h"
#include "enclaveml/zkml/pcs.h"

typedef struct fz_inst {
    pcs_layout l;
    pcs_prover *p;
    uint8_t root[PCS_ROOT_LEN];
    ff2_t point[16];
    ff2_t value;
    unsigned n;
    em_buf honest;
    em_buf prox; /* tested: the proximity proof */
} fz_inst;

static fz_inst inst[7];

/* mode 0: plain, 1: hiding, 2: systematic rate 1/2, 3: systematic rate 2/3, 4: systematic rate
 * 4/5 (the values then small integers of the row types), 5: tested (plain values) */
static void setup(fz_inst *in, unsigned n, unsigned log_cols, int mode)
{
    size_t N = (size_t)1 << n;
    ff_t *v = malloc(N * sizeof *v);
    ff2_t *sc = malloc(N * sizeof *sc);
    int32_t *iv = malloc(N * sizeof *iv);
    int hiding = mode == 1;
    if (!v || !sc || !iv)
        abort();
    for (size_t i = 0; i < N; i++) {
        uint64_t x = (uint64_t)(i + 7) * 0x9E3779B97F4A7C15ULL;
        size_t row = i >> log_cols, rows = N >> log_cols;
        iv[i] = row < rows / 4 ? (int8_t)(x >> 56) : row < rows / 2 ? (int32_t)(uint16_t)(x >> 48) : (int32_t)(x >> 32);
        v[i] = mode >= 2 && mode <= 4 ? ff_from_i64(iv[i]) : ff_from_u64(x);
    }
    for (unsigned j = 0; j < n; j++)
        in->point[j] = (ff2_t){ff_from_u64(j * 1234567ULL + 3), ff_from_u64(j * 7654321ULL + 5)};
    if (pcs_layout_init(&in->l, &n, 1, log_cols, NULL) != EM_OK)
        abort();
    pcs_poly poly = {.evals = v, .len = N};
    size_t rows = N >> log_cols, ends[3] = {rows / 4, rows / 2, rows};
    uint8_t syms[3] = {PCS_SYM_I8, PCS_SYM_U16, PCS_SYM_I32};
    int sys = mode >= 2 && mode <= 4;
    if (sys && (pcs_layout_set_rate(&in->l, 1, NULL) != EM_OK ||
                      pcs_layout_set_systematic(&in->l, ends, syms, 3, NULL) != EM_OK ||
                      (mode == 3 && pcs_layout_set_rate23(&in->l, NULL) != EM_OK) ||
                      (mode == 4 && pcs_layout_set_rate45(&in->l, NULL) != EM_OK)))
        abort();
    if (mode == 5 && pcs_layout_set_tested(&in->l, NULL) != EM_OK)
        abort();
    if (sys)
        poly = (pcs_poly){.ints = iv, .len = N};
    static const uint8_t seed[32] = {1, 2, 3};
    if (hiding ? pcs_layout_set_hiding(&in->l, 1, NULL) != EM_OK ||
                     pcs_commit_hiding(&in->l, &poly, seed, 1, &in->p, in->root, NULL) != EM_OK
               : pcs_commit(&in->l, &poly, 1, &in->p, in->root, NULL) != EM_OK)
        abort();
    in->value = ml_eval_base(v, N, n, in->point, sc);
    in->n = n;
    pcs_claim c = {.poly = 0, .point = in->point, .value = in->value};
    tr_t tr;
    tr_init(&tr, "fuzz/pcs");
    in->honest.max = (size_t)1 << 24;
    if (pcs_open(in->p, &c, 1, &tr, &in->honest, NULL) != EM_OK)
        abort();
    in->prox.max = (size_t)1 << 24;
    tr_init(&tr, "fuzz/pcs");
    if (mode == 5 && pcs_prove_proximity(in->p, &tr, &in->prox, NULL) != EM_OK)
        abort();
    free(v);
    free(sc);
    if (!sys)
        free(iv); /* the systematic prover keeps its integers */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!inst[0].p) {
        setup(&inst[0], 6, 3, 0);  /* N = 32 columns: all opened */
        setup(&inst[1], 10, 7, 0); /* N = 512 columns: sampled queries */
        setup(&inst[2], 9, 8, 1);  /* hiding: N = 2048 columns, 3 mask rows */
        setup(&inst[3], 7, 3, 2);  /* systematic: 16 rows, N = 16 columns: all opened */
        setup(&inst[4], 13, 10, 3); /* systematic rate 2/3: 8 rows, N = 1536 columns: sampled */
        setup(&inst[5], 14, 11, 4); /* systematic rate 4/5: 8 rows, N = 2560 columns: sampled */
        setup(&inst[6], 13, 8, 5);  /* tested: 32 rows, N = 1024 columns: 109 (proximity 262) sampled */
    }
    if (size < 1)
        return 0;
    fz_inst *in = &inst[(data[0] & 8)                     ? 2
                        : (data[0] & 48) == 48            ? 5
                        : (data[0] & 16)                  ? 3 + (data[0] & 1)
                        : (data[0] & 64)                  ? 6
                                                          : (data[0] & 1)];
    int prox = in == &inst[6] && (data[0] & 32); /* the proximity proof instead of the opening */
    const em_buf *base = prox ? &in->prox : &in->honest;
    pcs_claim c = {.poly = 0, .point = in->point, .value = in->value};
    size_t off = 1;
    if (data[0] & 2) {
        if (size < 17)
            return 0;
        if (ff2_decode(data + 1, &c.value, NULL) != EM_OK)
            return 0;
        off = 17;
    }
    const uint8_t *proof = data + off;
    size_t proof_len = size - off;
    uint8_t *patched = NULL;
    if (data[0] & 4) {
        if (proof_len < 2)
            return 0;
        size_t hl = base->len, adj = (size_t)(proof[0] | proof[1] << 8);
        /* new length: hl - 64 .. hl + 64 */
        size_t len = hl + (adj % 129) - 64;
        patched = calloc(len + 1, 1);
        if (!patched)
            abort();
        memcpy(patched, base->data, len < hl ? len : hl);
        for (size_t k = 2; k + 5 <= proof_len; k += 5) {
            uint32_t o = (uint32_t)proof[k] | (uint32_t)proof[k + 1] << 8 | (uint32_t)proof[k + 2] << 16 |
                         (uint32_t)proof[k + 3] << 24;
            patched[o % (len + 1)] ^= proof[k + 4];
        }
        proof = patched;
        proof_len = len;
    }
    tr_t tr;
    tr_init(&tr, "fuzz/pcs");
    em_reader r;
    em_reader_init(&r, proof, proof_len);
    em_err err = {0};
    if (prox)
        (void)pcs_verify_proximity(&in->l, in->root, &tr, &r, &err); /* honest matrix: must not crash */
    else if (pcs_verify(&in->l, in->root, &c, 1, &tr, &r, &err) == EM_OK && !ff2_eq(c.value, in->value))
        abort(); /* accepted a false evaluation */
    free(patched);
    return 0;
}
