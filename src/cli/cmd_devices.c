/* enclaveml devices: what a worker on this machine would offer. */
#include <stdio.h>

#include "cli.h"
#include "enclaveml/node.h"

static void help(void)
{
    printf("usage: enclaveml devices\n\n"
           "Prints the compute devices found on this machine: CPU cores and model, memory\n"
           "(/proc/meminfo), the SIMD backend inference uses, and whether this build has CUDA.\n");
}

static int run(int argc, char **argv)
{
    if (argc > 1)
        return cli_fail("devices: unexpected argument '%s'", argv[1]);
    node_device_info d;
    em_err err = {0};
    if (node_device_detect(&d, &err) != EM_OK)
        return cli_fail_err("devices", &err);
    printf("cpu      %s\n", d.cpu_model);
    printf("cores    %u\n", d.cores);
    printf("memory   %.1f GB total, %.1f GB available\n", d.memory_gb, d.mem_available_gb);
    printf("backend  %s (integer inference)\n", d.backend);
    printf("cuda     %s\n", d.cuda_built ? "available" : "not in this build");
    printf("metal    not available on this platform/build\n");
    return 0;
}

const cli_command cli_cmd_devices = {
    .name = "devices",
    .summary = "show the compute devices a worker would use",
    .run = run,
    .help = help,
};
