/* The enclaveml command-line tool: one entry per subcommand, each in its own cmd_*.c file. */
#ifndef EM_CLI_H
#define EM_CLI_H

#include "enclaveml/core.h"

typedef struct cli_command {
    const char *name;
    const char *summary;
    /* argv[0] is the subcommand name. Returns the process exit status. */
    int (*run)(int argc, char **argv);
    void (*help)(void);
} cli_command;

/* Prints "enclaveml: <reason>" to stderr and returns exit status 1. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "enclaveml: <context>: <err message>" and returns 1. */
int cli_fail_err(const char *context, const em_err *err);
/* True if any argument is -h or --help. */
int cli_wants_help(int argc, char **argv);

/* Writes the output document of `model run` / `prove` for n samples of integer outputs to path
 * (NULL = standard output): {"result", "output_size", "output_q", "output_scale", "predictions"}. */
typedef struct nn_model nn_model;
em_status cli_output_write(const char *path, const nn_model *m, const int32_t *out_q, size_t n,
                           em_err *err) EM_WARN_UNUSED;

/* Parses --nonce HEX into nonce (caller-owned, ZK_MAX_NONCE bytes) and checks --node-id
 * (either may be NULL), filling ctx. Returns 0, or the exit status after printing the reason. */
typedef struct zk_context zk_context;
int cli_proof_context(const char *nonce_hex, const char *node_id, uint8_t *nonce, zk_context *ctx);

/* Commands (defined in cmd_*.c). */
extern const cli_command cli_cmd_model;
extern const cli_command cli_cmd_prove;
extern const cli_command cli_cmd_verify;
extern const cli_command cli_cmd_start_aggregator;
extern const cli_command cli_cmd_start_node;
extern const cli_command cli_cmd_inference;
extern const cli_command cli_cmd_status;
extern const cli_command cli_cmd_demo;
extern const cli_command cli_cmd_devices;

/* `enclaveml model hash|export-vk` (cmd_model_zk.c); argv[0] is the subcommand name. */
int cli_model_hash(int argc, char **argv);
int cli_model_export_vk(int argc, char **argv);

#endif
