/* The coordination service enclaveml.Aggregator over gRPC: the same registry and request engine
 * as the REST API. */
#include "agg_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enclaveml.pb-c.h"
#include "enclaveml/input.h"

#define AGG_GRPC_THREADS 16

static int pack_or_fail(const ProtobufCMessage *m, uint8_t **resp, size_t *resp_len, char *detail, size_t cap)
{
    em_err err = {0};
    if (rpc_pack(m, resp, resp_len, &err) != EM_OK) {
        snprintf(detail, cap, "%s", em_err_msg(&err));
        return RPC_RESOURCE_EXHAUSTED;
    }
    return RPC_OK;
}

static int h_register(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len, char *detail,
                      size_t cap)
{
    agg_server *s = ctx;
    Enclaveml__RegisterRequest *q = enclaveml__register_request__unpack(NULL, len, req);
    if (!q) {
        snprintf(detail, cap, "malformed RegisterRequest");
        return RPC_INVALID_ARGUMENT;
    }
    agg_reg_req r = {q->node_id, q->address, q->device[0] ? q->device : NULL, q->memory_gb, q->max_batch};
    int status;
    const char *field;
    em_err err = {0};
    Enclaveml__RegisterResponse a = ENCLAVEML__REGISTER_RESPONSE__INIT;
    uint8_t h[EM_HASH_LEN];
    int code;
    if (agg__register(s, &r, &status, &field, &err) != EM_OK) {
        /* A refusal is an answer, not a transport error: the worker reads accepted=false. */
        a.accepted = 0;
        a.reason = (char *)em_err_msg(&err);
        if (status == 400) {
            snprintf(detail, cap, "%s", em_err_msg(&err));
            enclaveml__register_request__free_unpacked(q, NULL);
            return RPC_INVALID_ARGUMENT;
        }
    } else {
        a.accepted = 1;
        a.grpc_port = s->cfg.grpc_port;
        a.heartbeat_interval_secs = s->reg.heartbeat_timeout_ms / 3000 ? s->reg.heartbeat_timeout_ms / 3000 : 1;
        pthread_mutex_lock(&s->reg.mu);
        memcpy(h, s->reg.model_hash, EM_HASH_LEN);
        pthread_mutex_unlock(&s->reg.mu);
        a.model_hash.data = h;
        a.model_hash.len = EM_HASH_LEN;
    }
    code = pack_or_fail(&a.base, resp, resp_len, detail, cap);
    enclaveml__register_request__free_unpacked(q, NULL);
    return code;
}

static int h_heartbeat(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len, char *detail,
                       size_t cap)
{
    agg_server *s = ctx;
    Enclaveml__HeartbeatRequest *q = enclaveml__heartbeat_request__unpack(NULL, len, req);
    if (!q) {
        snprintf(detail, cap, "malformed HeartbeatRequest");
        return RPC_INVALID_ARGUMENT;
    }
    Enclaveml__HeartbeatResponse a = ENCLAVEML__HEARTBEAT_RESPONSE__INIT;
    const char *state;
    a.known = agg__heartbeat(s, q->node_id, &state);
    a.state = (char *)state;
    enclaveml__heartbeat_request__free_unpacked(q, NULL);
    return pack_or_fail(&a.base, resp, resp_len, detail, cap);
}

static int h_deregister(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len, char *detail,
                        size_t cap)
{
    agg_server *s = ctx;
    Enclaveml__DeregisterRequest *q = enclaveml__deregister_request__unpack(NULL, len, req);
    if (!q) {
        snprintf(detail, cap, "malformed DeregisterRequest");
        return RPC_INVALID_ARGUMENT;
    }
    Enclaveml__DeregisterResponse a = ENCLAVEML__DEREGISTER_RESPONSE__INIT;
    a.removed = agg__remove(s, q->node_id, 0);
    enclaveml__deregister_request__free_unpacked(q, NULL);
    return pack_or_fail(&a.base, resp, resp_len, detail, cap);
}

static int h_infer(void *ctx, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len, char *detail,
                   size_t cap)
{
    agg_server *s = ctx;
    int code = RPC_OK;
    Enclaveml__ClusterInferRequest *q = enclaveml__cluster_infer_request__unpack(NULL, len, req);
    if (!q) {
        snprintf(detail, cap, "malformed ClusterInferRequest");
        return RPC_INVALID_ARGUMENT;
    }
    agg_request r = {0};
    r.split = s->cfg.split_strategy;
    r.combine = s->cfg.combine_strategy;
    if ((q->split_strategy[0] && em_split_parse(q->split_strategy, &r.split) != EM_OK) ||
        (q->combine_strategy[0] && em_combine_parse(q->combine_strategy, &r.combine) != EM_OK) || !q->sample_size ||
        q->n_data % q->sample_size || q->n_data > EM_INPUT_MAX_VALUES) {
        snprintf(detail, cap,
                 "bad request: strategies must be %s / %s; data length must be a multiple of sample_size and at "
                 "most %zu values",
                 em_split_names(), em_combine_names(), (size_t)EM_INPUT_MAX_VALUES);
        enclaveml__cluster_infer_request__free_unpacked(q, NULL);
        return RPC_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < q->n_data; i++)
        if (!isfinite(q->data[i])) {
            snprintf(detail, cap, "data[%zu] is not a finite number", i);
            enclaveml__cluster_infer_request__free_unpacked(q, NULL);
            return RPC_INVALID_ARGUMENT;
        }
    r.data = q->data;
    r.sample_size = q->sample_size;
    r.n_samples = q->n_data / q->sample_size;
    unsigned active = atomic_fetch_add(&s->active_requests, 1) + 1;
    if (s->cfg.max_concurrent_requests && active > s->cfg.max_concurrent_requests) {
        atomic_fetch_sub(&s->active_requests, 1);
        atomic_fetch_add(&s->met.requests_rejected_busy, 1);
        enclaveml__cluster_infer_request__free_unpacked(q, NULL);
        snprintf(detail, cap, "too many requests in flight");
        return RPC_RESOURCE_EXHAUSTED;
    }
    agg_result res;
    agg__infer(s, &r, &res);
    atomic_fetch_sub(&s->active_requests, 1);
    enclaveml__cluster_infer_request__free_unpacked(q, NULL);
    if (res.http_status == 400 || res.http_status == 503 || res.http_status == 500) {
        snprintf(detail, cap, "%s%s%s", res.error_field ? res.error_field : "", res.error_field ? ": " : "", res.error);
        code = res.http_status == 400 ? RPC_INVALID_ARGUMENT
               : res.http_status == 503 ? RPC_UNAVAILABLE
                                        : RPC_INTERNAL;
        agg__result_free(&res);
        return code;
    }
    /* 200, or 502 (strict mode): the answer says what was verified; unverified rows are absent. */
    char hx[2 * EM_HASH_LEN + 1];
    em_hex_encode(res.model_hash, EM_HASH_LEN, hx);
    Enclaveml__ClusterInferResponse a = ENCLAVEML__CLUSTER_INFER_RESPONSE__INIT;
    size_t nres = res.http_status == 200 ? res.n_samples * res.output_size : 0;
    double *result = calloc(nres ? nres : 1, sizeof *result);
    uint32_t *pred = calloc(res.n_samples ? res.n_samples : 1, sizeof *pred);
    uint32_t *miss = calloc(res.n_missing ? res.n_missing : 1, sizeof *miss);
    if (!result || !pred || !miss) {
        code = RPC_RESOURCE_EXHAUSTED;
        snprintf(detail, cap, "out of memory");
        goto out;
    }
    if (res.http_status == 200) {
        /* Non-strict partial answers: missing samples' rows are NaN, listed in missing_samples. */
        for (size_t i = 0; i < nres; i++)
            result[i] = res.have[i / res.output_size] ? res.result[i] : NAN;
        for (size_t i = 0; i < res.n_samples; i++)
            pred[i] = res.have[i] ? res.pred[i] : UINT32_MAX;
        a.n_result = nres;
        a.result = result;
        a.n_predictions = res.n_samples;
        a.predictions = pred;
    } else {
        a.error = res.error;
    }
    for (size_t i = 0; i < res.n_missing; i++)
        miss[i] = (uint32_t)res.missing[i];
    a.n_missing_samples = res.n_missing;
    a.missing_samples = miss;
    a.proofs_verified = res.proofs_verified;
    a.proofs_rejected = res.proofs_rejected;
    a.total_nodes = res.total_nodes;
    a.inference_time_ms = res.inference_ms;
    a.verified = res.verified;
    a.output_size = (uint32_t)res.output_size;
    a.model_hash = hx;
    a.request_id = res.request_id;
    code = pack_or_fail(&a.base, resp, resp_len, detail, cap);
out:
    free(result);
    free(pred);
    free(miss);
    agg__result_free(&res);
    return code;
}

em_status agg__grpc_start(agg_server *s, em_err *err)
{
    rpc_method m[] = {
        {AGG_METHOD_REGISTER, h_register, s},
        {AGG_METHOD_HEARTBEAT, h_heartbeat, s},
        {AGG_METHOD_DEREGISTER, h_deregister, s},
        {AGG_METHOD_INFER, h_infer, s},
    };
    return rpc_server_start(s->cfg.bind, s->cfg.grpc_port, m, 4, AGG_GRPC_THREADS, RPC_MAX_MESSAGE, &s->grpc, err);
}

void agg__grpc_stop(agg_server *s)
{
    rpc_server_stop(s->grpc);
    s->grpc = NULL;
}
