#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const cli_command *const commands[] = {
    &cli_cmd_demo,   &cli_cmd_start_aggregator, &cli_cmd_start_node, &cli_cmd_inference,
    &cli_cmd_status, &cli_cmd_model,            &cli_cmd_prove,      &cli_cmd_verify,
    &cli_cmd_devices,
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("enclaveml: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_fail_err(const char *context, const em_err *err)
{
    return cli_fail("%s: %s", context, em_err_msg(err));
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "EnclaveML: verifiable distributed inference with zero-knowledge-style proofs.\n\n"
               "usage: enclaveml <command> [options]   (enclaveml <command> --help for details)\n\n"
               "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-18s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "\nenvironment: EM_LOG=error|warn|info|debug sets the log level.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("enclaveml 0.1.0\n");
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const cli_command *c = commands[i];
        if (!strcmp(argv[1], c->name)) {
            if (cli_wants_help(argc - 1, argv + 1) && c->help) {
                c->help();
                return 0;
            }
            return c->run(argc - 1, argv + 1);
        }
    }
    return cli_fail("unknown command '%s' (see enclaveml --help)", argv[1]);
}
