/* enclaveml start-node --config F [--fault MODE] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cluster_cli.h"
#include "enclaveml/node.h"

static void help(void)
{
    printf("usage: enclaveml start-node --config FILE [--fault MODE]\n\n"
           "Runs a worker: loads worker.model_path, commits to the model, serves enclaveml.Worker\n"
           "(gRPC) on worker.port, registers with worker.aggregator_address (REST POST /workers),\n"
           "heartbeats, and deregisters on SIGINT/SIGTERM.\n\n"
           "--fault tamper-output|bad-proof|slow|crash-mid-request  misbehave on purpose (tests and\n"
           "the demo only; refused unless EM_ALLOW_FAULTS=1 is set).\n");
}

static int run(int argc, char **argv)
{
    const char *path = NULL, *fault_s = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--fault") && i + 1 < argc)
            fault_s = argv[++i];
        else
            return cli_fail("start-node: unexpected argument '%s' (see --help)", argv[i]);
    }
    if (!path)
        return cli_fail("start-node: --config FILE is required");
    node_fault fault = NODE_FAULT_NONE;
    if (fault_s) {
        const char *allow = getenv("EM_ALLOW_FAULTS");
        if (!allow || strcmp(allow, "1"))
            return cli_fail("start-node: --fault is for tests only and needs EM_ALLOW_FAULTS=1 in the environment");
        if (node_fault_parse(fault_s, &fault) != EM_OK || fault == NODE_FAULT_NONE)
            return cli_fail("start-node: --fault '%s' unknown (expected tamper-output|bad-proof|slow|crash-mid-request)",
                            fault_s);
    }
    em_worker_config cfg;
    em_err err = {0};
    if (em_worker_config_load(path, &cfg, &err) != EM_OK)
        return cli_fail_err("start-node", &err);
    cli_cluster_on_signals();
    node_worker *w = NULL;
    if (node_worker_create(&cfg, fault, &w, &err) != EM_OK)
        return cli_fail_err("start-node", &err);
    em_status st = node_worker_run(w, &cli_cluster_stop, &err);
    EM_INFO("worker %s shutting down", cfg.node_id);
    node_worker_free(w);
    if (st != EM_OK)
        return cli_fail_err("start-node", &err);
    return 0;
}

const cli_command cli_cmd_start_node = {
    .name = "start-node",
    .summary = "run a worker node (gRPC :50052)",
    .run = run,
    .help = help,
};
