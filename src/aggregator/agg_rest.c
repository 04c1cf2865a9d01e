/* REST API (libmicrohttpd, one thread per connection): JSON in and out, JSON errors
 * {"error": "...", "field": ...} with proper status codes, a cap on request bodies. */
#include "agg_internal.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enclaveml/input.h"

#define AGG_HTTP_CONN_LIMIT 256

typedef struct conn_ctx {
    em_buf body;
    int too_big;
} conn_ctx;

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, char *text, const char *ctype,
                                 const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Takes ownership of j. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) {
        text = strdup("{\"error\":\"out of memory\",\"field\":null}");
        status = 500;
        if (!text)
            return MHD_NO;
    }
    size_t n = strlen(text);
    char *t = realloc(text, n + 2);
    if (t) {
        t[n] = '\n';
        t[n + 1] = 0;
        text = t;
    }
    return send_text(c, status, text, "application/json", NULL);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *field, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return send_json(c, status, json_pack("{s:s, s:o}", "error", msg, "field", field ? json_string(field) : json_null()));
}

static enum MHD_Result not_allowed(struct MHD_Connection *c, const char *method, const char *url, const char *allow)
{
    char *text = NULL;
    json_t *j = json_pack("{s:s, s:n}", "error", "method not allowed", "field");
    if (j) {
        char msg[300];
        snprintf(msg, sizeof msg, "method %s not allowed on %s (allowed: %s)", method, url, allow);
        json_object_set_new(j, "error", json_string(msg));
        text = json_dumps(j, JSON_COMPACT);
        json_decref(j);
    }
    if (!text)
        return MHD_NO;
    return send_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, text, "application/json", allow);
}

static json_t *parse_body(struct MHD_Connection *c, conn_ctx *cc, enum MHD_Result *ret)
{
    json_error_t je;
    json_t *root = json_loadb(cc->body.data ? (const char *)cc->body.data : "", cc->body.len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        *ret = send_error(c, MHD_HTTP_BAD_REQUEST, NULL, "malformed JSON body: %s (line %d, column %d)", je.text,
                          je.line, je.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        *ret = send_error(c, MHD_HTTP_BAD_REQUEST, NULL, "the body must be a JSON object");
        return NULL;
    }
    return root;
}

/* First key of obj not in allowed (NULL-terminated), or NULL. */
static const char *unknown_key(json_t *obj, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        int ok = 0;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = !strcmp(k, allowed[i]);
        if (!ok)
            return k;
    }
    return NULL;
}

static char *hash_hex(const uint8_t h[EM_HASH_LEN], char out[2 * EM_HASH_LEN + 1])
{
    em_hex_encode(h, EM_HASH_LEN, out);
    return out;
}

static enum MHD_Result get_health(agg_server *s, struct MHD_Connection *c)
{
    size_t total, healthy, unhealthy, quarantined;
    agg__counts(s, &total, &healthy, &unhealthy, &quarantined);
    return send_json(c, MHD_HTTP_OK,
                     json_pack("{s:s, s:I, s:I, s:f}", "status", "ok", "workers_total", (json_int_t)total,
                               "workers_healthy", (json_int_t)healthy, "uptime_s", (em_now_ms() - s->start_ms) / 1000.0));
}

static json_t *model_json(agg_server *s)
{
    char hx[2 * EM_HASH_LEN + 1];
    pthread_mutex_lock(&s->reg.mu);
    json_t *j = json_pack("{s:o, s:b, s:s, s:I, s:I}", "model_hash",
                          s->reg.pinned ? json_string(hash_hex(s->reg.model_hash, hx)) : json_null(), "pinned",
                          s->reg.pinned, "source",
                          s->reg.hash_from_config ? "config" : s->reg.pinned ? "first worker" : "none yet", "input_size",
                          (json_int_t)s->reg.input_size, "output_size", (json_int_t)s->reg.output_size);
    pthread_mutex_unlock(&s->reg.mu);
    return j;
}

static enum MHD_Result get_status(agg_server *s, struct MHD_Connection *c)
{
    size_t total, healthy, unhealthy, quarantined;
    agg__counts(s, &total, &healthy, &unhealthy, &quarantined);
    json_t *j = json_pack(
        "{s:s, s:f, s:o, s:{s:I, s:I, s:I, s:I}, s:{s:b, s:i, s:s, s:s, s:i, s:I}, s:{s:I, s:I, s:I, s:I, s:I}, s:o}",
        "status", healthy ? "ok" : "degraded", "uptime_s", (em_now_ms() - s->start_ms) / 1000.0, "model",
        model_json(s), "workers", "total", (json_int_t)total, "healthy", (json_int_t)healthy, "unhealthy",
        (json_int_t)unhealthy, "quarantined", (json_int_t)quarantined, "config", "strict_mode", s->cfg.strict_mode,
        "request_timeout_secs", (int)s->cfg.request_timeout_secs, "split_strategy",
        em_split_name(s->cfg.split_strategy), "combine_strategy", em_combine_name(s->cfg.combine_strategy),
        "grpc_port", (int)s->cfg.grpc_port, "max_body_bytes", (json_int_t)s->cfg.max_body_bytes, "requests", "ok",
        (json_int_t)atomic_load(&s->met.requests_ok), "failed", (json_int_t)atomic_load(&s->met.requests_failed),
        "active", (json_int_t)atomic_load(&s->active_requests), "proofs_verified",
        (json_int_t)atomic_load(&s->met.proofs_verified), "proofs_rejected",
        (json_int_t)atomic_load(&s->met.proofs_rejected), "worker_list", agg__workers_json(s));
    return send_json(c, MHD_HTTP_OK, j);
}

static enum MHD_Result get_metrics(agg_server *s, struct MHD_Connection *c)
{
    size_t total, healthy, unhealthy, quarantined;
    agg__counts(s, &total, &healthy, &unhealthy, &quarantined);
    char *t = NULL;
    int n = asprintf(
        &t,
        "# HELP enclaveml_requests_total Inference requests by outcome.\n"
        "# TYPE enclaveml_requests_total counter\n"
        "enclaveml_requests_total{outcome=\"ok\"} %llu\n"
        "enclaveml_requests_total{outcome=\"failed\"} %llu\n"
        "enclaveml_requests_total{outcome=\"busy\"} %llu\n"
        "# HELP enclaveml_requests_active Inference requests in flight.\n"
        "# TYPE enclaveml_requests_active gauge\n"
        "enclaveml_requests_active %u\n"
        "# HELP enclaveml_proofs_total Chunk proofs checked, by verdict.\n"
        "# TYPE enclaveml_proofs_total counter\n"
        "enclaveml_proofs_total{verdict=\"verified\"} %llu\n"
        "enclaveml_proofs_total{verdict=\"rejected\"} %llu\n"
        "# HELP enclaveml_chunks_failed_total Chunk attempts that failed (any reason).\n"
        "# TYPE enclaveml_chunks_failed_total counter\n"
        "enclaveml_chunks_failed_total %llu\n"
        "# HELP enclaveml_redispatches_total Chunks sent to another worker after a failure.\n"
        "# TYPE enclaveml_redispatches_total counter\n"
        "enclaveml_redispatches_total %llu\n"
        "# HELP enclaveml_samples_total Samples requested.\n"
        "# TYPE enclaveml_samples_total counter\n"
        "enclaveml_samples_total %llu\n"
        "# HELP enclaveml_request_seconds_sum Total request latency.\n"
        "# TYPE enclaveml_request_seconds_sum counter\n"
        "enclaveml_request_seconds_sum %.6f\n"
        "# HELP enclaveml_workers Registered workers by state.\n"
        "# TYPE enclaveml_workers gauge\n"
        "enclaveml_workers{state=\"healthy\"} %zu\n"
        "enclaveml_workers{state=\"unhealthy\"} %zu\n"
        "enclaveml_workers{state=\"quarantined\"} %zu\n",
        (unsigned long long)atomic_load(&s->met.requests_ok), (unsigned long long)atomic_load(&s->met.requests_failed),
        (unsigned long long)atomic_load(&s->met.requests_rejected_busy), atomic_load(&s->active_requests),
        (unsigned long long)atomic_load(&s->met.proofs_verified),
        (unsigned long long)atomic_load(&s->met.proofs_rejected),
        (unsigned long long)atomic_load(&s->met.chunks_failed), (unsigned long long)atomic_load(&s->met.redispatches),
        (unsigned long long)atomic_load(&s->met.samples), (double)atomic_load(&s->met.latency_us_sum) / 1e6, healthy,
        unhealthy, quarantined);
    if (n < 0)
        return MHD_NO;
    return send_text(c, MHD_HTTP_OK, t, "text/plain; version=0.0.4", NULL);
}

static enum MHD_Result post_workers(agg_server *s, struct MHD_Connection *c, conn_ctx *cc)
{
    static const char *const allowed[] = {"node_id", "address", "device", "memory_gb", "max_batch", NULL};
    enum MHD_Result ret = MHD_NO;
    json_t *root = parse_body(c, cc, &ret);
    if (!root)
        return ret;
    const char *bad = unknown_key(root, allowed);
    json_t *id = json_object_get(root, "node_id"), *addr = json_object_get(root, "address"),
           *dev = json_object_get(root, "device"), *mem = json_object_get(root, "memory_gb"),
           *mb = json_object_get(root, "max_batch");
    agg_reg_req q = {0};
    if (bad) {
        ret = send_error(c, 400, bad, "unknown field '%s' (expected node_id, address, device, memory_gb, max_batch)", bad);
    } else if (!json_is_string(id)) {
        ret = send_error(c, 400, "node_id", "node_id is required (a string)");
    } else if (!json_is_string(addr)) {
        ret = send_error(c, 400, "address", "address is required (a \"host:port\" string)");
    } else if (dev && !json_is_string(dev)) {
        ret = send_error(c, 400, "device", "device must be a string (%s)", em_device_names());
    } else if (mem && !json_is_number(mem)) {
        ret = send_error(c, 400, "memory_gb", "memory_gb must be a number");
    } else if (mb && (!json_is_integer(mb) || json_integer_value(mb) < 1 || json_integer_value(mb) > (1 << 24))) {
        ret = send_error(c, 400, "max_batch", "max_batch must be an integer 1..16777216");
    } else {
        q.node_id = json_string_value(id);
        q.address = json_string_value(addr);
        q.device = dev ? json_string_value(dev) : NULL;
        q.memory_gb = mem ? json_number_value(mem) : 0;
        q.max_batch = mb ? (uint32_t)json_integer_value(mb) : 0;
        int status;
        const char *field;
        em_err err = {0};
        if (agg__register(s, &q, &status, &field, &err) != EM_OK) {
            ret = send_error(c, (unsigned)status, field, "%s", em_err_msg(&err));
        } else {
            char hx[2 * EM_HASH_LEN + 1];
            pthread_mutex_lock(&s->reg.mu);
            hash_hex(s->reg.model_hash, hx);
            pthread_mutex_unlock(&s->reg.mu);
            ret = send_json(c, (unsigned)status,
                            json_pack("{s:b, s:s, s:i, s:i, s:s}", "accepted", 1, "node_id", q.node_id, "grpc_port",
                                      (int)s->cfg.grpc_port, "heartbeat_timeout_secs",
                                      (int)(s->reg.heartbeat_timeout_ms / 1000), "model_hash", hx));
        }
    }
    json_decref(root);
    return ret;
}

static enum MHD_Result post_inference(agg_server *s, struct MHD_Connection *c, conn_ctx *cc)
{
    static const char *const allowed[] = {"data", "sample_size", "split_strategy", "combine_strategy", "return_proofs",
                                          NULL};
    enum MHD_Result ret = MHD_NO;
    json_t *root = parse_body(c, cc, &ret);
    if (!root)
        return ret;
    agg_request q = {0};
    em_input in = {0};
    em_err err = {0};
    q.split = s->cfg.split_strategy;
    q.combine = s->cfg.combine_strategy;
    const char *bad = unknown_key(root, allowed);
    json_t *sp = json_object_get(root, "split_strategy"), *cb = json_object_get(root, "combine_strategy"),
           *rp = json_object_get(root, "return_proofs");
    if (bad) {
        ret = send_error(c, 400, bad, "unknown field '%s' (expected data, sample_size, split_strategy, "
                                      "combine_strategy, return_proofs)", bad);
        goto out;
    }
    if (sp && (!json_is_string(sp) || em_split_parse(json_string_value(sp), &q.split) != EM_OK)) {
        ret = send_error(c, 400, "split_strategy", "split_strategy must be one of %s", em_split_names());
        goto out;
    }
    if (cb && (!json_is_string(cb) || em_combine_parse(json_string_value(cb), &q.combine) != EM_OK)) {
        ret = send_error(c, 400, "combine_strategy", "combine_strategy must be one of %s", em_combine_names());
        goto out;
    }
    if (rp && !json_is_boolean(rp)) {
        ret = send_error(c, 400, "return_proofs", "return_proofs must be true or false");
        goto out;
    }
    q.return_proofs = rp && json_is_true(rp);
    pthread_mutex_lock(&s->reg.mu);
    size_t expect = s->reg.input_size;
    pthread_mutex_unlock(&s->reg.mu);
    if (!expect) {
        ret = send_error(c, 503, NULL, "no worker has registered yet: the model is unknown");
        goto out;
    }
    if (em_input_from_json(root, expect, &in, &err) != EM_OK) {
        const char *m = em_err_msg(&err);
        ret = send_error(c, 400, strncmp(m, "sample_size", 11) ? "data" : "sample_size", "%s", m);
        goto out;
    }
    unsigned active = atomic_fetch_add(&s->active_requests, 1) + 1;
    if (s->cfg.max_concurrent_requests && active > s->cfg.max_concurrent_requests) {
        atomic_fetch_sub(&s->active_requests, 1);
        atomic_fetch_add(&s->met.requests_rejected_busy, 1);
        ret = send_error(c, 503, NULL, "too many requests in flight (max_concurrent_requests %u)",
                         s->cfg.max_concurrent_requests);
        goto out;
    }
    q.data = in.data;
    q.n_samples = in.n_samples;
    q.sample_size = in.sample_size;
    agg_result res;
    agg__infer(s, &q, &res);
    atomic_fetch_sub(&s->active_requests, 1);
    ret = send_json(c, (unsigned)res.http_status, agg__result_json(&res));
    agg__result_free(&res);
out:
    em_input_free(&in);
    json_decref(root);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    agg_server *s = cls;
    conn_ctx *cc = *con_cls;
    (void)version;
    if (!cc) {
        cc = calloc(1, sizeof *cc);
        if (!cc)
            return MHD_NO;
        cc->body.max = s->cfg.max_body_bytes;
        *con_cls = cc;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body_bytes) {
            cc->too_big = 1;
            return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, NULL, "request body of %s bytes exceeds the cap of %zu bytes",
                              cl, s->cfg.max_body_bytes);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cc->too_big && em_buf_append(&cc->body, upload, *upload_size) != EM_OK)
            cc->too_big = 1; /* keep reading, answer 413 at the end */
        *upload_size = 0;
        return MHD_YES;
    }
    if (cc->too_big)
        return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, NULL, "request body exceeds the cap of %zu bytes",
                          s->cfg.max_body_bytes);
    int get = !strcmp(method, "GET"), post = !strcmp(method, "POST"), del = !strcmp(method, "DELETE");
    if (!strcmp(url, "/health"))
        return get ? get_health(s, c) : not_allowed(c, method, url, "GET");
    if (!strcmp(url, "/status"))
        return get ? get_status(s, c) : not_allowed(c, method, url, "GET");
    if (!strcmp(url, "/metrics"))
        return get ? get_metrics(s, c) : not_allowed(c, method, url, "GET");
    if (!strcmp(url, "/model/hash"))
        return get ? send_json(c, MHD_HTTP_OK, model_json(s)) : not_allowed(c, method, url, "GET");
    if (!strcmp(url, "/workers")) {
        if (get)
            return send_json(c, MHD_HTTP_OK, json_pack("{s:o}", "workers", agg__workers_json(s)));
        return post ? post_workers(s, c, cc) : not_allowed(c, method, url, "GET, POST");
    }
    if (!strncmp(url, "/workers/", 9) && url[9]) {
        const char *id = url + 9;
        if (!del)
            return not_allowed(c, method, url, "DELETE");
        if (!agg__remove(s, id, 1))
            return send_error(c, MHD_HTTP_NOT_FOUND, "id", "no worker with id '%.128s'", id);
        return send_json(c, MHD_HTTP_OK, json_pack("{s:s}", "removed", id));
    }
    if (!strcmp(url, "/inference"))
        return post ? post_inference(s, c, cc) : not_allowed(c, method, url, "POST");
    return send_error(c, MHD_HTTP_NOT_FOUND, NULL, "no such endpoint: %s %.200s", method, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    conn_ctx *cc = *con_cls;
    if (cc) {
        em_buf_free(&cc->body);
        free(cc);
        *con_cls = NULL;
    }
}

em_status agg__rest_start(agg_server *s, em_err *err)
{
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    const struct sockaddr *sa;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    memset(&a4, 0, sizeof a4);
    memset(&a6, 0, sizeof a6);
    if (inet_pton(AF_INET, s->cfg.bind, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons(s->cfg.port);
        sa = (const struct sockaddr *)&a4;
    } else if (inet_pton(AF_INET6, s->cfg.bind, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons(s->cfg.port);
        sa = (const struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        return em_errf(err, EM_ERR_ARG, "bind '%s' is not an IPv4/IPv6 address", s->cfg.bind);
    }
    s->http = MHD_start_daemon(flags, s->cfg.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, sa,
                               MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT,
                               (unsigned)AGG_HTTP_CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
                               (unsigned)(s->cfg.request_timeout_secs + 60), MHD_OPTION_END);
    if (!s->http)
        return em_errf(err, EM_ERR_NET, "REST: cannot listen on %s:%u (address in use?)", s->cfg.bind,
                       (unsigned)s->cfg.port);
    return EM_OK;
}

void agg__rest_stop(agg_server *s)
{
    if (s->http)
        MHD_stop_daemon(s->http);
    s->http = NULL;
}
