/* enclaveml inference --input F --output F [--aggregator URL] [--split S] [--combine C]
 *                     [--return-proofs] */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cluster_cli.h"
#include "enclaveml/config.h"
#include "enclaveml/input.h"
#include "rpc.h"

#define INFER_MAX_RESPONSE ((size_t)1 << 30)

static void help(void)
{
    printf("usage: enclaveml inference --input INPUT.json --output RESULT.json [--aggregator URL]\n"
           "                           [--split equal|by_capacity|redundant]\n"
           "                           [--combine average|weighted_average|majority_vote|soft_vote|median]\n"
           "                           [--return-proofs] [--timeout SECS]\n\n"
           "Sends INPUT.json ({\"data\": [...], \"sample_size\": N}) to the aggregator's POST /inference\n"
           "and writes its JSON answer to RESULT.json. URL defaults to $EM_AGGREGATOR or\n"
           "http://127.0.0.1:8080. Exit status 0 only if every sample came back verified.\n");
}

static int run(int argc, char **argv)
{
    const char *in_path = NULL, *out_path = NULL, *agg = NULL, *split = NULL, *combine = NULL;
    int proofs = 0, timeout = 120;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--input") && i + 1 < argc)
            in_path = argv[++i];
        else if (!strcmp(argv[i], "--output") && i + 1 < argc)
            out_path = argv[++i];
        else if (!strcmp(argv[i], "--aggregator") && i + 1 < argc)
            agg = argv[++i];
        else if (!strcmp(argv[i], "--split") && i + 1 < argc)
            split = argv[++i];
        else if (!strcmp(argv[i], "--combine") && i + 1 < argc)
            combine = argv[++i];
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
            timeout = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--return-proofs"))
            proofs = 1;
        else
            return cli_fail("inference: unexpected argument '%s' (see --help)", argv[i]);
    }
    if (!in_path || !out_path)
        return cli_fail("inference: --input and --output are required");
    if (timeout < 1 || timeout > 86400)
        return cli_fail("inference: --timeout must be 1..86400 seconds");
    em_split sp;
    em_combine cb;
    if (split && em_split_parse(split, &sp) != EM_OK)
        return cli_fail("inference: --split '%s' unknown (expected %s)", split, em_split_names());
    if (combine && em_combine_parse(combine, &cb) != EM_OK)
        return cli_fail("inference: --combine '%s' unknown (expected %s)", combine, em_combine_names());

    int rc = 1;
    em_err err = {0};
    em_input in = {0};
    json_t *body = NULL, *ans = NULL;
    char *text = NULL;
    rpc_http_resp hr = {0};
    if (em_input_load(in_path, 0, &in, &err) != EM_OK) {
        rc = cli_fail_err(in_path, &err);
        goto out;
    }
    json_t *data = json_array();
    for (size_t i = 0; data && i < in.n_samples * in.sample_size; i++)
        json_array_append_new(data, json_real(in.data[i]));
    body = json_pack("{s:o, s:I}", "data", data, "sample_size", (json_int_t)in.sample_size);
    if (body && split)
        json_object_set_new(body, "split_strategy", json_string(split));
    if (body && combine)
        json_object_set_new(body, "combine_strategy", json_string(combine));
    if (body && proofs)
        json_object_set_new(body, "return_proofs", json_true());
    text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (!text) {
        rc = cli_fail("inference: out of memory");
        goto out;
    }
    char url[600];
    cli_cluster_url(agg, url);
    strncat(url, "/inference", sizeof url - strlen(url) - 1);
    if (rpc_http("POST", url, text, strlen(text), timeout * 1000, INFER_MAX_RESPONSE, &hr, &err) != EM_OK) {
        rc = cli_fail_err("inference", &err);
        goto out;
    }
    json_error_t je;
    ans = json_loads(hr.body ? hr.body : "", 0, &je);
    if (!ans) {
        rc = cli_fail("inference: HTTP %ld with a non-JSON answer: %.200s", hr.status, hr.body ? hr.body : "");
        goto out;
    }
    if (em_file_write(out_path, hr.body, hr.len, &err) != EM_OK) {
        rc = cli_fail_err(out_path, &err);
        goto out;
    }
    if (hr.status != 200) {
        rc = cli_fail("inference: HTTP %ld: %s (answer written to %s)", hr.status,
                      json_string_value(json_object_get(ans, "error")) ? json_string_value(json_object_get(ans, "error"))
                                                                       : "(no message)",
                      out_path);
        goto out;
    }
    int verified = json_is_true(json_object_get(ans, "verified"));
    printf("%zu samples: %s, %lld proofs verified on %lld nodes, %lld rejected, %.1f ms -> %s\n", in.n_samples,
           verified ? "verified" : "NOT fully verified", (long long)json_integer_value(json_object_get(ans, "proofs_verified")),
           (long long)json_integer_value(json_object_get(ans, "total_nodes")),
           (long long)json_integer_value(json_object_get(ans, "proofs_rejected")),
           json_number_value(json_object_get(ans, "inference_time_ms")), out_path);
    rc = verified ? 0 : 1;
out:
    rpc_http_resp_free(&hr);
    json_decref(ans);
    json_decref(body);
    free(text);
    em_input_free(&in);
    return rc;
}

const cli_command cli_cmd_inference = {
    .name = "inference",
    .summary = "send an input file to the aggregator, write the verified result",
    .run = run,
    .help = help,
};
