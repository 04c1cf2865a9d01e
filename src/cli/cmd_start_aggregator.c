/* enclaveml start-aggregator --config F */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cluster_cli.h"
#include "enclaveml/aggregator.h"

static void help(void)
{
    printf("usage: enclaveml start-aggregator --config FILE\n\n"
           "Runs the aggregator: REST API on aggregator.port (default 8080), gRPC coordination\n"
           "service on aggregator.grpc_port (default 50051). Workers register themselves; every\n"
           "chunk result is verified against its proof before it is used. Stops on SIGINT/SIGTERM.\n"
           "See docs/CLUSTER.md and docs/API.md.\n");
}

static int run(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            path = argv[++i];
        else
            return cli_fail("start-aggregator: unexpected argument '%s' (see --help)", argv[i]);
    }
    if (!path)
        return cli_fail("start-aggregator: --config FILE is required");
    em_agg_config cfg;
    em_err err = {0};
    if (em_agg_config_load(path, &cfg, &err) != EM_OK)
        return cli_fail_err("start-aggregator", &err);
    cli_cluster_on_signals();
    agg_server *s = NULL;
    if (agg_server_create(&cfg, &s, &err) != EM_OK)
        return cli_fail_err("start-aggregator", &err);
    while (!cli_cluster_stop) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    EM_INFO("aggregator shutting down");
    agg_server_free(s);
    return 0;
}

const cli_command cli_cmd_start_aggregator = {
    .name = "start-aggregator",
    .summary = "run the aggregator (REST :8080, gRPC :50051)",
    .run = run,
    .help = help,
};
