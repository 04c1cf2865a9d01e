/* EnclaveML worker node (DESIGN.md sections 2 and 7): serves enclaveml.Worker over gRPC
 * (Infer: integer inference + zk proof of the chunk; Info: node info + verifying key; Health),
 * registers with the aggregator over REST (POST /workers, the seed's aggregator_address), sends
 * heartbeats over the aggregator's gRPC coordination service and deregisters on shutdown.
 *
 * Ownership: node_worker is an opaque handle (_create/_free). */
#ifndef ENCLAVEML_NODE_H
#define ENCLAVEML_NODE_H

#include <signal.h>
#include <stdint.h>

#include "enclaveml/config.h"
#include "enclaveml/core.h"

/* gRPC method paths of the worker service. */
#define NODE_METHOD_INFER "/enclaveml.Worker/Infer"
#define NODE_METHOD_INFO "/enclaveml.Worker/Info"
#define NODE_METHOD_HEALTH "/enclaveml.Worker/Health"

/* What this machine offers (enclaveml devices). */
typedef struct node_device_info {
    em_device device;        /* the device inference runs on */
    uint32_t cores;          /* online CPUs usable by this process */
    double memory_gb;        /* MemTotal from /proc/meminfo */
    double mem_available_gb; /* MemAvailable */
    char cpu_model[128];
    char backend[32];        /* model backend picked for this CPU (scalar/avx2/avx512) */
    int cuda_built;          /* 1 if this build has a CUDA backend */
} node_device_info;

em_status node_device_detect(node_device_info *out, em_err *err) EM_WARN_UNUSED;

/* Fault injection for tests and the demo only (refused unless EM_ALLOW_FAULTS=1). */
typedef enum node_fault {
    NODE_FAULT_NONE = 0,
    NODE_FAULT_TAMPER_OUTPUT, /* prove honestly, then change one output value */
    NODE_FAULT_BAD_PROOF,     /* flip one byte of the proof */
    NODE_FAULT_SLOW,          /* answer only after EM_FAULT_SLOW_MS (default 60000) ms */
    NODE_FAULT_CRASH,         /* exit the process while serving the first Infer */
} node_fault;

em_status node_fault_parse(const char *s, node_fault *out) EM_WARN_UNUSED;
const char *node_fault_name(node_fault f);

typedef struct node_worker node_worker;

/* Loads the model, commits to it (zk prover), detects the device and starts the gRPC server. */
em_status node_worker_create(const em_worker_config *cfg, node_fault fault, node_worker **out,
                             em_err *err) EM_WARN_UNUSED;
/* Registers with cfg->aggregator_address (retrying while it is unreachable), heartbeats until
 * *stop becomes non-zero, then deregisters. Returns an error if the aggregator refuses the
 * worker (e.g. model hash mismatch). With no aggregator_address configured it only serves. */
em_status node_worker_run(node_worker *w, volatile sig_atomic_t *stop, em_err *err) EM_WARN_UNUSED;
/* The model hash this worker proves against. */
void node_worker_model_hash(const node_worker *w, uint8_t out[EM_HASH_LEN]);
void node_worker_free(node_worker *w);

#endif
