/* gRPC core server: one completion queue per serving thread, one call at a time per thread. */
#include "rpc.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RPC_MAX_THREADS 256

typedef struct rpc_thread {
    struct rpc_server *srv;
    grpc_completion_queue *cq;
    pthread_t tid;
    int started;
} rpc_thread;

struct rpc_server {
    grpc_server *server;
    grpc_completion_queue *shutdown_cq;
    rpc_method *methods;
    size_t n_methods;
    rpc_thread *threads;
    int n_threads;
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static void do_init(void) { grpc_init(); }
void rpc_global_init(void) { pthread_once(&g_once, do_init); }

/* Waits for `tag` on a queue that has exactly one operation outstanding. */
static int wait_tag(grpc_completion_queue *cq, void *tag)
{
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            return 0;
        if (ev.type == GRPC_OP_COMPLETE && ev.tag == tag)
            return ev.success;
    }
}

static const rpc_method *find_method(const rpc_server *s, grpc_slice path)
{
    size_t n = GRPC_SLICE_LENGTH(path);
    const char *p = (const char *)GRPC_SLICE_START_PTR(path);
    for (size_t i = 0; i < s->n_methods; i++)
        if (strlen(s->methods[i].path) == n && !memcmp(s->methods[i].path, p, n))
            return &s->methods[i];
    return NULL;
}

static void serve_call(rpc_thread *t, grpc_call *call, const grpc_call_details *d)
{
    static char tag_recv, tag_send;
    grpc_byte_buffer *in = NULL, *out = NULL;
    uint8_t *req = NULL, *resp = NULL;
    size_t req_len = 0, resp_len = 0;
    char detail[512] = "";
    int code = RPC_OK;
    int cancelled = 0;
    grpc_op ops[4];

    const rpc_method *m = find_method(t->srv, d->method);
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_RECV_MESSAGE;
    ops[1].data.recv_message.recv_message = &in;
    if (grpc_call_start_batch(call, ops, 2, &tag_recv, NULL) != GRPC_CALL_OK || !wait_tag(t->cq, &tag_recv))
        goto out; /* client went away */
    if (!m) {
        code = RPC_UNIMPLEMENTED;
        snprintf(detail, sizeof detail, "unknown method %.*s", (int)GRPC_SLICE_LENGTH(d->method),
                 (const char *)GRPC_SLICE_START_PTR(d->method));
    } else if (!in) {
        code = RPC_INVALID_ARGUMENT;
        snprintf(detail, sizeof detail, "request message missing");
    } else {
        grpc_byte_buffer_reader rd;
        if (!grpc_byte_buffer_reader_init(&rd, in)) {
            code = RPC_INVALID_ARGUMENT;
            snprintf(detail, sizeof detail, "cannot read request message");
        } else {
            grpc_slice sl = grpc_byte_buffer_reader_readall(&rd);
            req_len = GRPC_SLICE_LENGTH(sl);
            req = malloc(req_len ? req_len : 1);
            if (req)
                memcpy(req, GRPC_SLICE_START_PTR(sl), req_len);
            grpc_slice_unref(sl);
            grpc_byte_buffer_reader_destroy(&rd);
            if (!req) {
                code = RPC_RESOURCE_EXHAUSTED;
                snprintf(detail, sizeof detail, "out of memory");
            } else {
                code = m->fn(m->ctx, req, req_len, &resp, &resp_len, detail, sizeof detail);
            }
        }
    }

    memset(ops, 0, sizeof ops);
    size_t nops = 0;
    if (code == RPC_OK) {
        grpc_slice s = grpc_slice_from_copied_buffer((const char *)resp, resp_len);
        out = grpc_raw_byte_buffer_create(&s, 1);
        grpc_slice_unref(s);
        ops[nops].op = GRPC_OP_SEND_MESSAGE;
        ops[nops].data.send_message.send_message = out;
        nops++;
    }
    grpc_slice det = grpc_slice_from_copied_string(detail);
    ops[nops].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[nops].data.send_status_from_server.status = (grpc_status_code)code;
    ops[nops].data.send_status_from_server.status_details = code == RPC_OK ? NULL : &det;
    nops++;
    ops[nops].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[nops].data.recv_close_on_server.cancelled = &cancelled;
    nops++;
    if (grpc_call_start_batch(call, ops, nops, &tag_send, NULL) == GRPC_CALL_OK)
        wait_tag(t->cq, &tag_send);
    grpc_slice_unref(det);
out:
    if (in)
        grpc_byte_buffer_destroy(in);
    if (out)
        grpc_byte_buffer_destroy(out);
    free(req);
    free(resp);
}

static void *thread_main(void *arg)
{
    rpc_thread *t = arg;
    static char tag_new;
    for (;;) {
        grpc_call *call = NULL;
        grpc_call_details d;
        grpc_metadata_array md;
        grpc_call_details_init(&d);
        grpc_metadata_array_init(&md);
        int ok = grpc_server_request_call(t->srv->server, &call, &d, &md, t->cq, t->cq, &tag_new) == GRPC_CALL_OK &&
                 wait_tag(t->cq, &tag_new);
        if (ok)
            serve_call(t, call, &d);
        if (call)
            grpc_call_unref(call);
        grpc_call_details_destroy(&d);
        grpc_metadata_array_destroy(&md);
        if (!ok)
            break; /* server shutting down */
    }
    return NULL;
}

static void drain_destroy(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

em_status rpc_server_start(const char *bind, uint16_t port, const rpc_method *methods, size_t n_methods,
                           int threads, size_t max_message, rpc_server **out, em_err *err)
{
    if (!bind || !methods || !n_methods || threads < 1 || threads > RPC_MAX_THREADS || !out || !port ||
        max_message > (size_t)INT32_MAX)
        return em_errf(err, EM_ERR_ARG, "rpc_server_start: bad arguments");
    rpc_global_init();
    em_status st = EM_OK;
    rpc_server *s = calloc(1, sizeof *s);
    if (!s)
        return em_errf(err, EM_ERR_NOMEM, "out of memory");
    s->methods = calloc(n_methods, sizeof *s->methods);
    s->threads = calloc((size_t)threads, sizeof *s->threads);
    if (!s->methods || !s->threads) {
        st = em_errf(err, EM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    memcpy(s->methods, methods, n_methods * sizeof *methods);
    s->n_methods = n_methods;
    s->n_threads = threads;

    grpc_arg args[3];
    memset(args, 0, sizeof args);
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = (int)max_message;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[1].value.integer = (int)max_message;
    /* gRPC binds with SO_REUSEPORT by default: a second process on our port would then bind
     * too and silently take part of our connections (a worker answering for another). Off, a
     * port in use is a bind error. */
    args[2].type = GRPC_ARG_INTEGER;
    args[2].key = GRPC_ARG_ALLOW_REUSEPORT;
    args[2].value.integer = 0;
    grpc_channel_args cargs = {3, args};
    s->server = grpc_server_create(&cargs, NULL);
    s->shutdown_cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->shutdown_cq, NULL);
    for (int i = 0; i < threads; i++) {
        s->threads[i].srv = s;
        s->threads[i].cq = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(s->server, s->threads[i].cq, NULL);
    }
    char addr[320];
    if (strchr(bind, ':'))
        snprintf(addr, sizeof addr, "[%s]:%u", bind, (unsigned)port);
    else
        snprintf(addr, sizeof addr, "%s:%u", bind, (unsigned)port);
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    int bound = grpc_server_add_http2_port(s->server, addr, creds);
    grpc_server_credentials_release(creds);
    if (bound == 0) {
        /* The server was never started: destroy it directly. */
        grpc_server_destroy(s->server);
        s->server = NULL;
        st = em_errf(err, EM_ERR_NET, "gRPC: cannot listen on %s (address in use or not local?)", addr);
        goto fail;
    }
    grpc_server_start(s->server);
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&s->threads[i].tid, NULL, thread_main, &s->threads[i]) != 0) {
            *out = s;
            rpc_server_stop(s);
            *out = NULL;
            return em_errf(err, EM_ERR_INTERNAL, "cannot start server thread");
        }
        s->threads[i].started = 1;
    }
    *out = s;
    return EM_OK;
fail:
    if (s->threads)
        for (int i = 0; i < s->n_threads; i++)
            if (s->threads[i].cq)
                drain_destroy(s->threads[i].cq);
    if (s->shutdown_cq)
        drain_destroy(s->shutdown_cq);
    free(s->threads);
    free(s->methods);
    free(s);
    return st;
}

void rpc_server_stop(rpc_server *s)
{
    static char tag_shutdown;
    if (!s)
        return;
    grpc_server_shutdown_and_notify(s->server, s->shutdown_cq, &tag_shutdown);
    grpc_server_cancel_all_calls(s->server);
    wait_tag(s->shutdown_cq, &tag_shutdown);
    for (int i = 0; i < s->n_threads; i++)
        if (s->threads[i].started)
            pthread_join(s->threads[i].tid, NULL);
    grpc_server_destroy(s->server);
    for (int i = 0; i < s->n_threads; i++)
        drain_destroy(s->threads[i].cq);
    drain_destroy(s->shutdown_cq);
    free(s->threads);
    free(s->methods);
    free(s);
}
