/* What `model run`, `prove` and `verify` share: the output document (the CLI contract)
 *   {"result", "output_size", "output_q", "output_scale", "predictions"}
 * which `verify` reads back and checks against output_q, and the --nonce/--node-id options. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "enclaveml/model.h"
#include "enclaveml/zkml/zk.h"

em_status cli_output_write(const char *path, const nn_model *m, const int32_t *out_q, size_t n, em_err *err)
{
    const char *where = path ? path : "standard output";
    size_t k = nn_model_output_size(m);
    em_status st = EM_OK;
    double *res = malloc(n * k * sizeof *res);
    uint32_t *pred = malloc(n * sizeof *pred);
    json_t *root = json_object(), *jr = json_array(), *jq = json_array(), *jp = json_array();
    char *text = NULL;
    if (!res || !pred || !root || !jr || !jq || !jp) {
        st = em_errf(err, EM_ERR_NOMEM, "writing %s: out of memory", where);
        goto out;
    }
    nn_model_postprocess(m, out_q, n, res);
    nn_argmax(out_q, n, k, pred);
    for (size_t i = 0; i < n * k; i++) {
        json_array_append_new(jr, json_real(res[i]));
        json_array_append_new(jq, json_integer(out_q[i]));
    }
    for (size_t i = 0; i < n; i++)
        json_array_append_new(jp, json_integer(pred[i]));
    json_object_set_new(root, "result", jr);
    json_object_set_new(root, "output_size", json_integer((json_int_t)k));
    json_object_set_new(root, "output_q", jq);
    json_object_set_new(root, "output_scale", json_integer(nn_model_output_scale(m)));
    json_object_set_new(root, "predictions", jp);
    jr = jq = jp = NULL; /* owned by root now */
    /* 17 significant digits: every double (result = output_q / 2^S exactly) round-trips. */
    text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!text) {
        st = em_errf(err, EM_ERR_NOMEM, "writing %s: out of memory", where);
        goto out;
    }
    if (!path) {
        if (printf("%s\n", text) < 0)
            st = em_errf(err, EM_ERR_IO, "writing %s failed", where);
        goto out;
    }
    size_t tl = strlen(text);
    char *line = malloc(tl + 1);
    if (!line) {
        st = em_errf(err, EM_ERR_NOMEM, "writing %s: out of memory", where);
        goto out;
    }
    memcpy(line, text, tl);
    line[tl] = '\n';
    st = em_file_write(path, line, tl + 1, err);
    free(line);
out:
    free(text);
    json_decref(root);
    json_decref(jr);
    json_decref(jq);
    json_decref(jp);
    free(res);
    free(pred);
    return st;
}

int cli_proof_context(const char *nonce_hex, const char *node_id, uint8_t *nonce, zk_context *ctx)
{
    size_t len = 0;
    if (nonce_hex) {
        size_t n = strlen(nonce_hex);
        if (n % 2 || n / 2 > ZK_MAX_NONCE)
            return cli_fail("--nonce: expected an even number of hex digits, at most %d bytes", ZK_MAX_NONCE);
        if (em_hex_decode(nonce_hex, nonce, n / 2) != EM_OK)
            return cli_fail("--nonce: '%s' is not hexadecimal", nonce_hex);
        len = n / 2;
    }
    if (node_id && strlen(node_id) > ZK_MAX_NODE_ID)
        return cli_fail("--node-id: at most %d bytes", ZK_MAX_NODE_ID);
    *ctx = (zk_context){.nonce = nonce, .nonce_len = len, .node_id = node_id};
    return 0;
}
