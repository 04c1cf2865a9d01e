/* enclaveml prove: run the model on an input file and write the outputs plus a proof of
 * inference (docs/PROOFS.md). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "enclaveml/input.h"
#include "enclaveml/model.h"
#include "enclaveml/zkml/zk.h"

static void prove_help(void)
{
    printf("usage: enclaveml prove FILE.eml --input INPUT.json --proof PROOF.bin --output OUT.json\n"
           "                      [--nonce HEX] [--node-id ID] [--threads N]\n\n"
           "Runs the quantized model on INPUT.json ({\"data\": [...], \"sample_size\": N}), writes the\n"
           "outputs to OUT.json (as `enclaveml model run` does) and a proof that they are exactly\n"
           "model(input) for the model hash of FILE.eml, bound to the nonce and node id.\n"
           "Check it with `enclaveml verify`. Proofs give integrity only: they do not hide the\n"
           "weights (proof flags bit 0 = 0).\n");
}

static int prove_run(int argc, char **argv)
{
    const char *model_path = NULL, *input_path = NULL, *proof_path = NULL, *out_path = NULL;
    const char *nonce_hex = NULL, *node_id = NULL;
    int threads = 0, rc = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (!strcmp(a, "--input") && has_val)
            input_path = argv[++i];
        else if (!strcmp(a, "--proof") && has_val)
            proof_path = argv[++i];
        else if (!strcmp(a, "--output") && has_val)
            out_path = argv[++i];
        else if (!strcmp(a, "--nonce") && has_val)
            nonce_hex = argv[++i];
        else if (!strcmp(a, "--node-id") && has_val)
            node_id = argv[++i];
        else if (!strcmp(a, "--threads") && has_val) {
            char *end;
            errno = 0;
            long t = strtol(argv[++i], &end, 10);
            if (errno || *end || t < 0 || t > 1024)
                return cli_fail("--threads: expected an integer 0..1024, got '%s'", argv[i]);
            threads = (int)t;
        } else if (a[0] == '-')
            return cli_fail("prove: unknown option '%s' (or missing value; see enclaveml prove --help)", a);
        else if (!model_path)
            model_path = a;
        else
            return cli_fail("prove: unexpected argument '%s'", a);
    }
    if (!model_path || !input_path || !proof_path || !out_path)
        return cli_fail("prove: need FILE.eml, --input, --proof and --output (see enclaveml prove --help)");
    uint8_t nonce[ZK_MAX_NONCE];
    zk_context ctx;
    if (cli_proof_context(nonce_hex, node_id, nonce, &ctx))
        return 1;

    em_err err = {0};
    nn_model *m = NULL;
    zk_prover *p = NULL;
    em_input in = {0};
    int32_t *q = NULL, *out = NULL;
    uint8_t *proof = NULL;
    size_t proof_len = 0;
    if (nn_model_load(model_path, &m, &err) != EM_OK) {
        rc = cli_fail_err(model_path, &err);
        goto out;
    }
    if (zk_prover_create(m, &p, &err) != EM_OK) {
        rc = cli_fail_err("committing to the model", &err);
        goto out;
    }
    if (em_input_load(input_path, nn_model_input_size(m), &in, &err) != EM_OK) {
        rc = cli_fail_err(input_path, &err);
        goto out;
    }
    size_t n = in.n_samples, k = nn_model_output_size(m);
    q = malloc(n * nn_model_input_size(m) * sizeof *q);
    out = malloc(n * k * sizeof *out);
    if (!q || !out) {
        rc = cli_fail("out of memory");
        goto out;
    }
    if (nn_model_quantize_input(m, in.data, n, q, &err) != EM_OK) {
        rc = cli_fail_err(input_path, &err);
        goto out;
    }
    nn_run_opts ro = {.backend = NULL, .threads = threads};
    zk_stats stats = {0};
    if (zk_prove(p, &ro, q, n, &ctx, out, &proof, &proof_len, &stats, &err) != EM_OK) {
        rc = cli_fail_err("proving", &err);
        goto out;
    }
    if (em_file_write(proof_path, proof, proof_len, &err) != EM_OK) {
        rc = cli_fail_err(proof_path, &err);
        goto out;
    }
    if (cli_output_write(out_path, m, out, n, &err) != EM_OK) {
        rc = cli_fail_err(out_path, &err);
        goto out;
    }
    uint8_t h[EM_HASH_LEN];
    char hex[2 * EM_HASH_LEN + 1];
    zk_vk_model_hash(zk_prover_vk(p), h);
    em_hex_encode(h, EM_HASH_LEN, hex);
    printf("proved %zu sample%s: inference %.1f ms, proof %.1f ms, %zu bytes\n", n, n == 1 ? "" : "s",
           stats.infer_ms, stats.prove_ms, proof_len);
    printf("model hash: %s\n", hex);
    printf("wrote %s and %s (integrity only: the proof does not hide the weights)\n", out_path, proof_path);
    rc = 0;
out:
    free(proof);
    free(q);
    free(out);
    em_input_free(&in);
    zk_prover_free(p);
    nn_model_free(m);
    return rc;
}

const cli_command cli_cmd_prove = {
    .name = "prove",
    .summary = "run a model and write its outputs with a proof of inference",
    .run = prove_run,
    .help = prove_help,
};
