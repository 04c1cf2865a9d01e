/* enclaveml verify: check a proof of inference offline against a verifying key (or a model
 * file), the input, the claimed outputs (OUT.json), the nonce and the node id. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "enclaveml/input.h"
#include "enclaveml/model.h"
#include "enclaveml/zkml/zk.h"

#define VERIFY_MAX_JSON ((size_t)256 << 20)
#define VERIFY_MAX_VK ((size_t)64 << 20) /* the vk of the largest model (2^30) is ~13 MB with its proximity proof */

static void verify_help(void)
{
    printf("usage: enclaveml verify (--vk FILE.vk | --model FILE.eml) --input INPUT.json\n"
           "                       --output OUT.json --proof PROOF.bin [--nonce HEX] [--node-id ID]\n\n"
           "Checks that OUT.json's output_q is exactly the model's output on INPUT.json for the\n"
           "committed model, bound to the nonce and node id, and that OUT.json's result,\n"
           "output_size, output_scale and predictions are consistent with output_q.\n"
           "Prints 'verified' and exits 0, or exits 1 with the reason. Proofs give integrity only\n"
           "(they do not hide the weights).\n");
}

/* Reads OUT.json and checks every field against output_q, so no number in it can be changed
 * without failing: result must equal the post-processing of output_q (exactly for plain
 * dequantization, which is exact in double; within 1e-12 for softmax, whose exp() may differ
 * in the last bit between libms), predictions the argmax. */
static int load_outputs(const char *path, const zk_vk *vk, size_t n, int32_t **out_q)
{
    em_err err = {0};
    uint8_t *text = NULL;
    size_t len = 0;
    json_t *root = NULL;
    int32_t *q = NULL;
    double *res = NULL;
    int rc = 1;
    size_t k = zk_vk_output_size(vk);
    if (em_file_read(path, VERIFY_MAX_JSON, &text, &len, &err) != EM_OK) {
        rc = cli_fail_err(path, &err);
        goto out;
    }
    json_error_t je;
    root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(root)) {
        rc = cli_fail("%s: line %d: %s", path, root ? 1 : je.line, root ? "expected a JSON object" : je.text);
        goto out;
    }
    json_t *jq = json_object_get(root, "output_q"), *jr = json_object_get(root, "result");
    json_t *js = json_object_get(root, "output_size"), *jsc = json_object_get(root, "output_scale");
    json_t *jp = json_object_get(root, "predictions");
    if (!json_is_integer(js) || json_integer_value(js) != (json_int_t)k) {
        rc = cli_fail("%s: output_size must be %zu", path, k);
        goto out;
    }
    if (!json_is_integer(jsc) || json_integer_value(jsc) != zk_vk_output_scale(vk)) {
        rc = cli_fail("%s: output_scale must be %d", path, (int)zk_vk_output_scale(vk));
        goto out;
    }
    if (!json_is_array(jq) || json_array_size(jq) != n * k) {
        rc = cli_fail("%s: output_q must be an array of %zu integers (%zu samples x %zu)", path, n * k, n, k);
        goto out;
    }
    if (!json_is_array(jr) || json_array_size(jr) != n * k) {
        rc = cli_fail("%s: result must be an array of %zu numbers", path, n * k);
        goto out;
    }
    if (!json_is_array(jp) || json_array_size(jp) != n) {
        rc = cli_fail("%s: predictions must be an array of %zu integers", path, n);
        goto out;
    }
    q = malloc(n * k * sizeof *q);
    res = malloc(n * k * sizeof *res);
    if (!q || !res) {
        rc = cli_fail("out of memory");
        goto out;
    }
    for (size_t i = 0; i < n * k; i++) {
        json_t *v = json_array_get(jq, i);
        if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN || json_integer_value(v) > INT32_MAX) {
            rc = cli_fail("%s: output_q[%zu] is not a 32-bit integer", path, i);
            goto out;
        }
        q[i] = (int32_t)json_integer_value(v);
    }
    zk_vk_postprocess(vk, q, n, res);
    for (size_t i = 0; i < n * k; i++) {
        json_t *v = json_array_get(jr, i);
        if (!json_is_number(v)) {
            rc = cli_fail("%s: result[%zu] is not a number", path, i);
            goto out;
        }
        double got = json_number_value(v), want = res[i];
        int ok = zk_vk_has_softmax(vk) ? fabs(got - want) <= 1e-12 : got == want;
        if (!ok) {
            rc = cli_fail("%s: result[%zu] = %.17g is not consistent with output_q (expected %.17g)", path, i,
                          got, want);
            goto out;
        }
    }
    for (size_t s = 0; s < n; s++) {
        size_t best = 0;
        for (size_t j = 1; j < k; j++)
            if (q[s * k + j] > q[s * k + best])
                best = j;
        json_t *v = json_array_get(jp, s);
        if (!json_is_integer(v) || json_integer_value(v) != (json_int_t)best) {
            rc = cli_fail("%s: predictions[%zu] must be %zu (argmax of output_q)", path, s, best);
            goto out;
        }
    }
    *out_q = q;
    q = NULL;
    rc = 0;
out:
    free(q);
    free(res);
    free(text);
    json_decref(root);
    return rc;
}

static int verify_run(int argc, char **argv)
{
    const char *vk_path = NULL, *model_path = NULL, *input_path = NULL, *out_path = NULL;
    const char *proof_path = NULL, *nonce_hex = NULL, *node_id = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (!strcmp(a, "--vk") && has_val)
            vk_path = argv[++i];
        else if (!strcmp(a, "--model") && has_val)
            model_path = argv[++i];
        else if (!strcmp(a, "--input") && has_val)
            input_path = argv[++i];
        else if (!strcmp(a, "--output") && has_val)
            out_path = argv[++i];
        else if (!strcmp(a, "--proof") && has_val)
            proof_path = argv[++i];
        else if (!strcmp(a, "--nonce") && has_val)
            nonce_hex = argv[++i];
        else if (!strcmp(a, "--node-id") && has_val)
            node_id = argv[++i];
        else
            return cli_fail("verify: unknown option or missing value '%s' (see enclaveml verify --help)", a);
    }
    if (!!vk_path == !!model_path)
        return cli_fail("verify: give exactly one of --vk FILE.vk or --model FILE.eml");
    if (!input_path || !out_path || !proof_path)
        return cli_fail("verify: need --input, --output and --proof (see enclaveml verify --help)");
    uint8_t nonce[ZK_MAX_NONCE];
    zk_context ctx;
    if (cli_proof_context(nonce_hex, node_id, nonce, &ctx))
        return 1;

    em_err err = {0};
    int rc = 1;
    nn_model *m = NULL;
    zk_prover *p = NULL;
    zk_vk *own_vk = NULL;
    const zk_vk *vk = NULL;
    uint8_t *vk_bytes = NULL, *proof = NULL;
    size_t vk_len = 0, proof_len = 0;
    em_input in = {0};
    int32_t *q = NULL, *out_q = NULL;
    if (vk_path) {
        if (em_file_read(vk_path, VERIFY_MAX_VK, &vk_bytes, &vk_len, &err) != EM_OK ||
            zk_vk_deserialize(vk_bytes, vk_len, &own_vk, &err) != EM_OK) {
            rc = cli_fail_err(vk_path, &err);
            goto out;
        }
        vk = own_vk;
    } else {
        if (nn_model_load(model_path, &m, &err) != EM_OK) {
            rc = cli_fail_err(model_path, &err);
            goto out;
        }
        if (zk_prover_create(m, &p, &err) != EM_OK) {
            rc = cli_fail_err("committing to the model", &err);
            goto out;
        }
        vk = zk_prover_vk(p);
    }
    if (em_input_load(input_path, zk_vk_input_size(vk), &in, &err) != EM_OK) {
        rc = cli_fail_err(input_path, &err);
        goto out;
    }
    q = malloc(in.n_samples * zk_vk_input_size(vk) * sizeof *q);
    if (!q) {
        rc = cli_fail("out of memory");
        goto out;
    }
    if (zk_vk_quantize_input(vk, in.data, in.n_samples, q, &err) != EM_OK) {
        rc = cli_fail_err(input_path, &err);
        goto out;
    }
    if (load_outputs(out_path, vk, in.n_samples, &out_q))
        goto out;
    if (em_file_read(proof_path, ZK_MAX_PROOF_BYTES, &proof, &proof_len, &err) != EM_OK) {
        rc = cli_fail_err(proof_path, &err);
        goto out;
    }
    zk_stats stats = {0};
    if (zk_verify(vk, q, in.n_samples, out_q, &ctx, proof, proof_len, &stats, &err) != EM_OK) {
        rc = cli_fail_err("proof rejected", &err);
        goto out;
    }
    uint8_t h[EM_HASH_LEN];
    char hex[2 * EM_HASH_LEN + 1];
    zk_vk_model_hash(vk, h);
    em_hex_encode(h, EM_HASH_LEN, hex);
    printf("verified\n");
    fprintf(stderr, "model hash %s, %zu sample%s, proof %zu bytes, checked in %.1f ms "
                    "(integrity only: weights are not hidden)\n",
            hex, in.n_samples, in.n_samples == 1 ? "" : "s", proof_len, stats.verify_ms);
    rc = 0;
out:
    free(q);
    free(out_q);
    free(proof);
    free(vk_bytes);
    em_input_free(&in);
    zk_vk_free(own_vk);
    zk_prover_free(p);
    nn_model_free(m);
    return rc;
}

const cli_command cli_cmd_verify = {
    .name = "verify",
    .summary = "check a proof of inference offline",
    .run = verify_run,
    .help = verify_help,
};
