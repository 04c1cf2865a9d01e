/* Aggregator and worker configuration (the seed's YAML files, DESIGN.md section 8).
 *
 * Files look like the seed's:
 *   aggregator:            |  worker:
 *     port: 8080           |    node_id: worker-1
 *     ...                  |    ...
 * Every problem (unknown key, wrong type, bad enum value, out-of-range number, missing required
 * key, duplicate key, YAML syntax) is an error of the form "FILE:LINE: section.key: problem
 * (expected ...)". Strategy/device enums are shared with the request parser. */
#ifndef ENCLAVEML_CONFIG_H
#define ENCLAVEML_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "enclaveml/core.h"

typedef enum em_split {
    EM_SPLIT_EQUAL = 0,
    EM_SPLIT_BY_CAPACITY,
    EM_SPLIT_REDUNDANT,
} em_split;

typedef enum em_combine {
    EM_COMBINE_AVERAGE = 0,
    EM_COMBINE_WEIGHTED_AVERAGE,
    EM_COMBINE_MAJORITY_VOTE,
    EM_COMBINE_SOFT_VOTE,
    EM_COMBINE_MEDIAN,
} em_combine;

typedef enum em_device { EM_DEVICE_CPU = 0, EM_DEVICE_CUDA, EM_DEVICE_METAL } em_device;

/* name <-> enum; parse returns EM_ERR_ARG for unknown names. */
const char *em_split_name(em_split s);
const char *em_combine_name(em_combine c);
const char *em_device_name(em_device d);
em_status em_split_parse(const char *s, em_split *out);
em_status em_combine_parse(const char *s, em_combine *out);
em_status em_device_parse(const char *s, em_device *out);
/* "a|b|c" lists for error messages. */
const char *em_split_names(void);
const char *em_combine_names(void);
const char *em_device_names(void);

typedef struct em_agg_config {
    char bind[64];                 /* bind address, default "0.0.0.0" */
    uint16_t port;                 /* REST, default 8080 */
    uint16_t grpc_port;            /* coordination gRPC, default 50051 */
    int has_model_hash;            /* model_hash: null => pin the first worker's hash */
    uint8_t model_hash[EM_HASH_LEN];
    int strict_mode;               /* default true */
    uint32_t request_timeout_secs; /* default 30, 1..3600 */
    em_split split_strategy;       /* default by_capacity */
    em_combine combine_strategy;   /* default average */
    uint32_t replicas;             /* redundant split: copies per sample, 0 = all workers */
    uint32_t heartbeat_timeout_secs; /* worker marked unhealthy after this, default 10 */
    size_t max_body_bytes;         /* REST body cap, default 64 MiB */
    uint32_t max_concurrent_requests; /* default 64 */
} em_agg_config;

typedef struct em_worker_config {
    char node_id[128];              /* required; [A-Za-z0-9._-]{1,127} */
    char bind[64];                  /* default "0.0.0.0" */
    uint16_t port;                  /* gRPC worker service, default 50052 */
    char advertise_address[256];    /* host:port the aggregator dials; default 127.0.0.1:port */
    char aggregator_address[256];   /* host:port of the aggregator (REST, as in the seed) */
    em_device device;               /* default cpu */
    double memory_gb;               /* declared capacity, > 0; 0 = detect */
    char model_path[1024];          /* default examples/digits/model.eml */
    uint32_t max_batch;             /* default 1024 */
    uint32_t threads;               /* 0 = all cores */
    uint32_t heartbeat_interval_secs; /* default 2 */
    uint32_t max_concurrent;        /* concurrent Infer calls, default 2 */
} em_worker_config;

void em_agg_config_default(em_agg_config *c);
void em_worker_config_default(em_worker_config *c);
em_status em_agg_config_load(const char *path, em_agg_config *out, em_err *err) EM_WARN_UNUSED;
em_status em_worker_config_load(const char *path, em_worker_config *out, em_err *err) EM_WARN_UNUSED;
/* Parse from memory; name is used in messages in place of the file name. */
em_status em_agg_config_parse(const char *text, size_t len, const char *name, em_agg_config *out,
                              em_err *err) EM_WARN_UNUSED;
em_status em_worker_config_parse(const char *text, size_t len, const char *name,
                                 em_worker_config *out, em_err *err) EM_WARN_UNUSED;

#endif
