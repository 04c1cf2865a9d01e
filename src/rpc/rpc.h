/* Small unary-RPC layer over the gRPC core C API, shared by the worker and the aggregator, plus
 * the libcurl HTTP client used for REST calls (worker registration, CLI) and helpers for
 * protobuf-c messages.
 *
 * Server: N threads, each with its own completion queue, each serving one call at a time
 * synchronously (request_call -> recv message -> handler -> send message + status), so a server
 * with N threads runs at most N handlers at once and further calls wait inside gRPC.
 * Client: a channel per peer (thread-safe, reused), one pluck completion queue per call, a
 * deadline on every call. Both sides set explicit max message sizes.
 *
 * Ownership: rpc_server and rpc_channel are opaque handles (_start/_stop, _create/_free). Response
 * buffers returned through uint8_t** are malloc'd; the caller frees them. */
#ifndef EM_RPC_H
#define EM_RPC_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "enclaveml/core.h"

/* Default cap for one gRPC message: proofs of large batches are the biggest messages. */
#define RPC_MAX_MESSAGE ((size_t)300 << 20)

/* gRPC status codes we use (same numbers as grpc_status_code). */
enum {
    RPC_OK = 0,
    RPC_CANCELLED = 1,
    RPC_UNKNOWN = 2,
    RPC_INVALID_ARGUMENT = 3,
    RPC_DEADLINE_EXCEEDED = 4,
    RPC_NOT_FOUND = 5,
    RPC_FAILED_PRECONDITION = 9,
    RPC_RESOURCE_EXHAUSTED = 8,
    RPC_UNIMPLEMENTED = 12,
    RPC_INTERNAL = 13,
    RPC_UNAVAILABLE = 14,
};

/* Handler for one method: request bytes in; on RPC_OK the response bytes go to *resp (malloc'd,
 * taken over by the server); otherwise detail holds a message for the client. Runs on a server
 * thread; must be thread-safe. */
typedef int (*rpc_handler)(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp,
                           size_t *resp_len, char *detail, size_t detail_cap);

typedef struct rpc_method {
    const char *path; /* "/enclaveml.Worker/Infer" */
    rpc_handler fn;
    void *ctx;
} rpc_method;

typedef struct rpc_server rpc_server;

/* Binds bind:port (port 1..65535), starts `threads` serving threads. Methods are copied (paths
 * must stay valid). */
em_status rpc_server_start(const char *bind, uint16_t port, const rpc_method *methods, size_t n_methods,
                           int threads, size_t max_message, rpc_server **out, em_err *err) EM_WARN_UNUSED;
/* Stops accepting calls, cancels calls in flight, waits for handlers to return, frees. */
void rpc_server_stop(rpc_server *s);

typedef struct rpc_channel rpc_channel;

em_status rpc_channel_create(const char *target, size_t max_message, rpc_channel **out,
                             em_err *err) EM_WARN_UNUSED;
void rpc_channel_free(rpc_channel *c);

/* One unary call with a deadline of timeout_ms. EM_OK iff the server answered with status OK.
 * EM_ERR_TIMEOUT on DEADLINE_EXCEEDED, EM_ERR_NET otherwise; *code (may be NULL) gets the gRPC
 * status. */
em_status rpc_call(rpc_channel *c, const char *method, const uint8_t *req, size_t req_len,
                   int timeout_ms, uint8_t **resp, size_t *resp_len, int *code, em_err *err) EM_WARN_UNUSED;

/* protobuf-c helpers: pack into a malloc'd buffer; pack a message into an rpc handler's result. */
em_status rpc_pack(const ProtobufCMessage *m, uint8_t **out, size_t *len, em_err *err) EM_WARN_UNUSED;

/* Process-wide gRPC initialisation (idempotent, thread-safe). */
void rpc_global_init(void);

/* ---- HTTP client (libcurl) ------------------------------------------------------------------ */
typedef struct rpc_http_resp {
    long status;   /* HTTP status, 0 when no response */
    char *body;    /* NUL-terminated, malloc'd (may be NULL) */
    size_t len;
} rpc_http_resp;

/* method "GET"/"POST"/"DELETE"; body may be NULL. The response body is capped at max_resp bytes.
 * EM_OK when an HTTP response arrived (any status). */
em_status rpc_http(const char *method, const char *url, const char *body, size_t body_len,
                   int timeout_ms, size_t max_resp, rpc_http_resp *out, em_err *err) EM_WARN_UNUSED;
void rpc_http_resp_free(rpc_http_resp *r);

/* ---- misc ------------------------------------------------------------------------------------- */
/* Standard base64 with padding; returns a malloc'd NUL-terminated string or NULL. */
char *rpc_base64_encode(const uint8_t *in, size_t n);
/* Decodes standard base64 (padding required); *out malloc'd. */
em_status rpc_base64_decode(const char *in, uint8_t **out, size_t *len, em_err *err) EM_WARN_UNUSED;
/* Fills buf with cryptographically random bytes (getrandom). */
em_status rpc_random(void *buf, size_t n, em_err *err) EM_WARN_UNUSED;
/* Splits "host:port" (host may be [v6]); returns EM_ERR_ARG when malformed. */
em_status rpc_split_hostport(const char *s, char *host, size_t host_cap, uint16_t *port) EM_WARN_UNUSED;

#endif
