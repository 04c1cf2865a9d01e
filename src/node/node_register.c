/* The worker's link to the aggregator. Registration goes over REST (POST /workers) because the
 * seed's worker config names the aggregator's REST address; the answer carries the aggregator's
 * gRPC coordination port, which then receives Heartbeat and Deregister calls. A heartbeat answered
 * with known=false (aggregator restarted, or an operator removed us) triggers a new registration. */
#include "node_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "enclaveml.pb-c.h"

#define NODE_RPC_TIMEOUT_MS 5000
#define NODE_REGISTER_TIMEOUT_MS 20000

typedef enum { REG_OK, REG_RETRY, REG_REFUSED } reg_result;

static reg_result do_register(node_worker *w, uint16_t *grpc_port, em_err *err)
{
    reg_result res = REG_RETRY;
    rpc_http_resp hr = {0};
    json_t *body = json_pack("{s:s, s:s, s:s, s:f, s:i}", "node_id", w->cfg.node_id, "address",
                             w->cfg.advertise_address, "device", em_device_name(w->cfg.device), "memory_gb",
                             w->memory_gb, "max_batch", (json_int_t)w->cfg.max_batch);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_t *ans = NULL;
    char url[300];
    snprintf(url, sizeof url, "http://%s/workers", w->cfg.aggregator_address);
    if (!text) {
        em_errf(err, EM_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (rpc_http("POST", url, text, strlen(text), NODE_REGISTER_TIMEOUT_MS, 1 << 20, &hr, err) != EM_OK)
        goto out;
    ans = json_loads(hr.body ? hr.body : "", 0, NULL);
    if (hr.status == 200 || hr.status == 201) {
        json_t *gp = json_object_get(ans, "grpc_port");
        if (!json_is_integer(gp) || json_integer_value(gp) < 1 || json_integer_value(gp) > 65535) {
            em_errf(err, EM_ERR_PARSE, "POST %s: answer lacks a valid grpc_port", url);
            res = REG_REFUSED;
            goto out;
        }
        *grpc_port = (uint16_t)json_integer_value(gp);
        res = REG_OK;
    } else if (hr.status >= 400 && hr.status < 500) {
        const char *why = json_string_value(json_object_get(ans, "error"));
        em_errf(err, EM_ERR_STATE, "aggregator %s refused registration (HTTP %ld): %s", w->cfg.aggregator_address,
                hr.status, why ? why : "(no reason given)");
        res = REG_REFUSED;
    } else {
        em_errf(err, EM_ERR_NET, "POST %s: HTTP %ld", url, hr.status);
    }
out:
    json_decref(ans);
    json_decref(body);
    free(text);
    rpc_http_resp_free(&hr);
    return res;
}

/* Returns 1 if the aggregator still knows us, 0 if it asked us to register again, -1 on failure. */
static int do_heartbeat(node_worker *w, rpc_channel *ch)
{
    Enclaveml__HeartbeatRequest q = ENCLAVEML__HEARTBEAT_REQUEST__INIT;
    q.node_id = w->cfg.node_id;
    q.active = atomic_load(&w->active);
    uint8_t *req = NULL, *resp = NULL;
    size_t req_len = 0, resp_len = 0;
    em_err err = {0};
    int ret = -1;
    if (rpc_pack(&q.base, &req, &req_len, &err) != EM_OK)
        goto out;
    if (rpc_call(ch, "/enclaveml.Aggregator/Heartbeat", req, req_len, NODE_RPC_TIMEOUT_MS, &resp, &resp_len, NULL,
                 &err) != EM_OK) {
        EM_DEBUG("heartbeat: %s", em_err_msg(&err));
        goto out;
    }
    Enclaveml__HeartbeatResponse *a = enclaveml__heartbeat_response__unpack(NULL, resp_len, resp);
    if (a) {
        ret = a->known ? 1 : 0;
        enclaveml__heartbeat_response__free_unpacked(a, NULL);
    }
out:
    free(req);
    free(resp);
    return ret;
}

static void do_deregister(node_worker *w, rpc_channel *ch)
{
    Enclaveml__DeregisterRequest q = ENCLAVEML__DEREGISTER_REQUEST__INIT;
    q.node_id = w->cfg.node_id;
    uint8_t *req = NULL, *resp = NULL;
    size_t req_len = 0, resp_len = 0;
    em_err err = {0};
    if (rpc_pack(&q.base, &req, &req_len, &err) == EM_OK &&
        rpc_call(ch, "/enclaveml.Aggregator/Deregister", req, req_len, 2000, &resp, &resp_len, NULL, &err) == EM_OK)
        EM_INFO("deregistered from %s", w->cfg.aggregator_address);
    else
        EM_WARN("deregister: %s", em_err_msg(&err));
    free(req);
    free(resp);
}

/* Sleeps up to ms, returning early when asked to stop. */
static void nap(volatile sig_atomic_t *stop, long ms)
{
    for (long t = 0; t < ms && !*stop; t += 50) {
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

em_status node_worker_run(node_worker *w, volatile sig_atomic_t *stop, em_err *err)
{
    em_status st = EM_OK;
    rpc_channel *ch = NULL;
    char host[256];
    uint16_t rest_port = 0, grpc_port = 0;
    w->stop = stop;
    if (!w->cfg.aggregator_address[0]) {
        EM_INFO("no aggregator_address configured: serving without registering");
        while (!*stop)
            nap(stop, 1000);
        return EM_OK;
    }
    if (rpc_split_hostport(w->cfg.aggregator_address, host, sizeof host, &rest_port) != EM_OK)
        return em_errf(err, EM_ERR_ARG, "aggregator_address '%s' is not host:port", w->cfg.aggregator_address);
    long interval_ms = (long)(w->cfg.heartbeat_interval_secs ? w->cfg.heartbeat_interval_secs : 2) * 1000;
    int registered = 0, warned = 0, hb_failures = 0;
    while (!*stop) {
        if (!registered) {
            em_err e = {0};
            reg_result r = do_register(w, &grpc_port, &e);
            if (r == REG_REFUSED) {
                st = em_errf(err, EM_ERR_STATE, "%s", em_err_msg(&e));
                break;
            }
            if (r == REG_RETRY) {
                if (!warned++)
                    EM_WARN("cannot register with %s yet (%s); retrying", w->cfg.aggregator_address, em_err_msg(&e));
                nap(stop, 1000);
                continue;
            }
            registered = 1;
            warned = 0;
            EM_INFO("registered with aggregator %s (heartbeats to gRPC port %u)", w->cfg.aggregator_address,
                    (unsigned)grpc_port);
            rpc_channel_free(ch);
            ch = NULL;
            char target[300];
            snprintf(target, sizeof target, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, (unsigned)grpc_port);
            if ((st = rpc_channel_create(target, 1 << 20, &ch, err)) != EM_OK)
                break;
        }
        nap(stop, interval_ms);
        if (*stop)
            break;
        int hb = do_heartbeat(w, ch);
        if (hb == 0) {
            EM_WARN("aggregator no longer knows this worker: registering again");
            registered = 0;
        } else if (hb < 0) {
            if (!warned++)
                EM_WARN("heartbeat to %s failed; will keep trying", w->cfg.aggregator_address);
            /* The aggregator may have come back elsewhere (another gRPC port): ask REST again. */
            if (++hb_failures >= 3) {
                registered = 0;
                hb_failures = 0;
            }
        } else {
            warned = 0;
            hb_failures = 0;
        }
    }
    if (registered && ch)
        do_deregister(w, ch);
    rpc_channel_free(ch);
    return st;
}
