/* enclaveml status [--detailed] [--aggregator URL] */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cluster_cli.h"
#include "rpc.h"

static void help(void)
{
    printf("usage: enclaveml status [--detailed] [--aggregator URL]\n\n"
           "Shows the cluster as the aggregator sees it (GET /status): one line per worker with\n"
           "its address, device, declared memory, share of by_capacity work, health and proof\n"
           "counts. --detailed adds the model hash, the aggregator's settings and why a worker is\n"
           "unhealthy or quarantined.\n");
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static int run(int argc, char **argv)
{
    const char *agg = NULL;
    int detailed = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--detailed"))
            detailed = 1;
        else if (!strcmp(argv[i], "--aggregator") && i + 1 < argc)
            agg = argv[++i];
        else
            return cli_fail("status: unexpected argument '%s' (see --help)", argv[i]);
    }
    char url[600];
    cli_cluster_url(agg, url);
    strncat(url, "/status", sizeof url - strlen(url) - 1);
    em_err err = {0};
    rpc_http_resp hr = {0};
    if (rpc_http("GET", url, NULL, 0, 10000, (size_t)16 << 20, &hr, &err) != EM_OK)
        return cli_fail_err("status", &err);
    json_t *st = json_loads(hr.body ? hr.body : "", 0, NULL);
    if (hr.status != 200 || !json_is_object(st)) {
        json_decref(st);
        int rc = cli_fail("status: %s answered HTTP %ld", url, hr.status);
        rpc_http_resp_free(&hr);
        return rc;
    }
    json_t *ws = json_object_get(st, "workers"), *model = json_object_get(st, "model");
    printf("aggregator %s: %s, %lld workers (%lld healthy, %lld unhealthy, %lld quarantined)\n", url,
           jstr(st, "status"), (long long)json_integer_value(json_object_get(ws, "total")),
           (long long)json_integer_value(json_object_get(ws, "healthy")),
           (long long)json_integer_value(json_object_get(ws, "unhealthy")),
           (long long)json_integer_value(json_object_get(ws, "quarantined")));
    if (detailed) {
        json_t *cfg = json_object_get(st, "config"), *rq = json_object_get(st, "requests");
        printf("model hash %s (pinned from %s)\n", json_is_string(json_object_get(model, "model_hash"))
                                                       ? jstr(model, "model_hash") : "(none yet)", jstr(model, "source"));
        printf("strict_mode %s, split %s, combine %s, request timeout %lld s, uptime %.0f s\n",
               json_is_true(json_object_get(cfg, "strict_mode")) ? "on" : "off", jstr(cfg, "split_strategy"),
               jstr(cfg, "combine_strategy"), (long long)json_integer_value(json_object_get(cfg, "request_timeout_secs")),
               json_number_value(json_object_get(st, "uptime_s")));
        printf("requests %lld ok, %lld failed; proofs %lld verified, %lld rejected\n",
               (long long)json_integer_value(json_object_get(rq, "ok")),
               (long long)json_integer_value(json_object_get(rq, "failed")),
               (long long)json_integer_value(json_object_get(rq, "proofs_verified")),
               (long long)json_integer_value(json_object_get(rq, "proofs_rejected")));
    }
    printf("\n%-20s %-22s %-6s %8s %6s %-12s %8s %8s\n", "ID", "ADDRESS", "DEVICE", "MEMORY", "SHARE", "HEALTH",
           "VERIFIED", "REJECTED");
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(st, "worker_list"), i, w)
    {
        printf("%-20s %-22s %-6s %6.0fGB %5.1f%% %-12s %8lld %8lld\n", jstr(w, "id"), jstr(w, "address"),
               jstr(w, "device"), json_number_value(json_object_get(w, "memory_gb")),
               100.0 * json_number_value(json_object_get(w, "share")), jstr(w, "state"),
               (long long)json_integer_value(json_object_get(w, "proofs_verified")),
               (long long)json_integer_value(json_object_get(w, "proofs_rejected")));
        if (detailed) {
            printf("    cores %lld, max_batch %lld, samples %lld, failed chunks %lld, last heartbeat %.1f s ago\n",
                   (long long)json_integer_value(json_object_get(w, "cores")),
                   (long long)json_integer_value(json_object_get(w, "max_batch")),
                   (long long)json_integer_value(json_object_get(w, "samples_done")),
                   (long long)json_integer_value(json_object_get(w, "chunks_failed")),
                   json_number_value(json_object_get(w, "last_heartbeat_s_ago")));
            if (json_object_get(w, "reason"))
                printf("    reason: %s\n", jstr(w, "reason"));
        }
    }
    json_decref(st);
    rpc_http_resp_free(&hr);
    return 0;
}

const cli_command cli_cmd_status = {
    .name = "status",
    .summary = "show the cluster's workers, health and proof counts",
    .run = run,
    .help = help,
};
