/* Aggregator internals shared by the registry, the request engine and the two front ends. */
#ifndef EM_AGG_INTERNAL_H
#define EM_AGG_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "enclaveml/aggregator.h"
#include "enclaveml/zkml/zk.h"
#include "rpc.h"

#define AGG_METHOD_REGISTER "/enclaveml.Aggregator/Register"
#define AGG_METHOD_HEARTBEAT "/enclaveml.Aggregator/Heartbeat"
#define AGG_METHOD_DEREGISTER "/enclaveml.Aggregator/Deregister"
#define AGG_METHOD_INFER "/enclaveml.Aggregator/Infer"

#define AGG_MAX_VK_BYTES ((size_t)64 << 20)
#define AGG_INFO_TIMEOUT_MS 5000

typedef enum agg_wstate { AGG_W_HEALTHY = 0, AGG_W_UNHEALTHY, AGG_W_QUARANTINED } agg_wstate;

/* A registered worker. Reference counted: the registry holds one reference while the worker is
 * listed, each dispatch holds one while it talks to it. Mutable fields are guarded by the
 * registry mutex; counters are atomic. */
typedef struct agg_worker {
    int refs;
    int listed;
    char node_id[128];
    char address[256];
    char device[16];
    double memory_gb;
    uint32_t max_batch, cores, max_concurrent;
    rpc_channel *ch;
    agg_wstate state;
    char reason[256];
    double registered_ms, last_heartbeat_ms, cooldown_until_ms;
    atomic_uint inflight;
    atomic_ullong proofs_verified, proofs_rejected, chunks_failed, samples_done;
} agg_worker;

typedef struct agg_registry {
    pthread_mutex_t mu;
    agg_worker **w;
    size_t n, cap;
    int pinned;                       /* model hash fixed (config or first worker) */
    int hash_from_config;
    uint8_t model_hash[EM_HASH_LEN];
    zk_vk *vk;                        /* verifying key for the pinned hash (first accepted worker) */
    size_t input_size, output_size;
    uint32_t heartbeat_timeout_ms;
} agg_registry;

typedef struct agg_metrics {
    atomic_ullong requests_ok, requests_failed, requests_rejected_busy;
    atomic_ullong proofs_verified, proofs_rejected, redispatches, chunks_failed;
    atomic_ullong samples;
    atomic_ullong latency_us_sum;
} agg_metrics;

struct agg_server {
    em_agg_config cfg;
    agg_registry reg;
    agg_metrics met;
    atomic_uint active_requests;
    double start_ms;
    struct MHD_Daemon *http;
    rpc_server *grpc;
    pthread_t monitor;
    int monitor_started;
    atomic_int stopping;
};

/* ---- registry (agg_registry.c) ------------------------------------------------------------ */
typedef struct agg_reg_req {
    const char *node_id;
    const char *address;
    const char *device;  /* may be NULL: taken from the worker's Info */
    double memory_gb;    /* <= 0: taken from the worker's Info */
    uint32_t max_batch;  /* 0: taken from the worker's Info */
} agg_reg_req;

/* Registers (or re-registers) a worker after dialing its Info. On refusal returns an error and
 * sets *http_status (400 bad field, 409 conflict/hash mismatch/quarantined, 502 unreachable) and
 * *field (may be NULL). */
em_status agg__register(agg_server *s, const agg_reg_req *r, int *http_status, const char **field,
                        em_err *err) EM_WARN_UNUSED;
/* Returns 1 if known (heartbeat recorded), 0 if unknown. *state gets the worker's state name. */
int agg__heartbeat(agg_server *s, const char *node_id, const char **state);
/* Returns 1 if removed, 0 if unknown. A worker's own Deregister (by_operator 0) leaves a
 * quarantined worker listed; only an operator's DELETE clears a quarantine. */
int agg__remove(agg_server *s, const char *node_id, int by_operator);
void agg__worker_unref(agg_server *s, agg_worker *w);
/* A healthy worker not in `exclude`, with max_batch >= count, least loaded; referenced. NULL if none. */
agg_worker *agg__pick(agg_server *s, agg_worker *const *exclude, size_t n_exclude, size_t count);
/* Referenced snapshot of the healthy workers (sorted by node id). Free with agg__snapshot_free. */
em_status agg__snapshot(agg_server *s, agg_worker ***out, size_t *n, em_err *err) EM_WARN_UNUSED;
void agg__snapshot_free(agg_server *s, agg_worker **v, size_t n);
void agg__mark(agg_server *s, agg_worker *w, agg_wstate st, double cooldown_ms, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void agg__health_sweep(agg_server *s);
/* JSON views. */
json_t *agg__workers_json(agg_server *s);
void agg__counts(agg_server *s, size_t *total, size_t *healthy, size_t *unhealthy, size_t *quarantined);
const char *agg__state_name(agg_wstate st);
void agg__registry_init(agg_registry *r, const em_agg_config *cfg);
void agg__registry_free(agg_registry *r);

/* ---- request engine (agg_infer.c) --------------------------------------------------------- */
typedef struct agg_request {
    const float *data;
    size_t n_samples, sample_size;
    em_split split;
    em_combine combine;
    int return_proofs;
} agg_request;

typedef struct agg_failure {
    size_t start, count;
    char reason[256];
} agg_failure;

typedef struct agg_result {
    int http_status;          /* 200 on success */
    char error[512];
    const char *error_field;  /* static string or NULL */
    char request_id[40];
    uint8_t model_hash[EM_HASH_LEN];
    size_t n_samples, output_size;
    double *result;           /* n x output_size; rows of missing samples are not meaningful */
    uint32_t *pred;
    uint8_t *have;            /* per sample: 1 if verified */
    size_t *missing;
    size_t n_missing;
    agg_failure *failures;
    size_t n_failures;
    uint32_t proofs_verified, proofs_rejected, total_nodes;
    int verified;
    double inference_ms, split_ms, prove_ms_max, verify_ms;
    json_t *proofs;           /* per verified chunk, when return_proofs */
    json_t *chunks;           /* per verified chunk: node, samples, attempts, prove/verify ms */
} agg_result;

/* Runs one request end to end. Always fills res (http_status/error on failure). */
void agg__infer(agg_server *s, const agg_request *q, agg_result *res);
void agg__result_free(agg_result *res);
/* The REST response body (success or error). */
json_t *agg__result_json(const agg_result *res);

/* ---- front ends -------------------------------------------------------------------------- */
em_status agg__rest_start(agg_server *s, em_err *err) EM_WARN_UNUSED;
void agg__rest_stop(agg_server *s);
em_status agg__grpc_start(agg_server *s, em_err *err) EM_WARN_UNUSED;
void agg__grpc_stop(agg_server *s);

#endif
