/* gRPC core client: unary calls with deadlines over a reusable channel. */
#include "rpc.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rpc_channel {
    grpc_channel *ch;
    char target[256];
};

em_status rpc_channel_create(const char *target, size_t max_message, rpc_channel **out, em_err *err)
{
    if (!target || !*target || strlen(target) >= 256 || !out || max_message > (size_t)INT32_MAX)
        return em_errf(err, EM_ERR_ARG, "rpc_channel_create: bad target");
    rpc_global_init();
    rpc_channel *c = calloc(1, sizeof *c);
    if (!c)
        return em_errf(err, EM_ERR_NOMEM, "out of memory");
    snprintf(c->target, sizeof c->target, "%s", target);
    grpc_arg args[3];
    memset(args, 0, sizeof args);
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = (int)max_message;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[1].value.integer = (int)max_message;
    /* A restarted worker must be reachable at once, not after gRPC's reconnect backoff. */
    args[2].type = GRPC_ARG_INTEGER;
    args[2].key = GRPC_ARG_MAX_RECONNECT_BACKOFF_MS;
    args[2].value.integer = 500;
    grpc_channel_args cargs = {3, args};
    grpc_channel_credentials *cred = grpc_insecure_credentials_create();
    c->ch = grpc_channel_create(target, cred, &cargs);
    grpc_channel_credentials_release(cred);
    if (!c->ch) {
        free(c);
        return em_errf(err, EM_ERR_NET, "cannot create gRPC channel to %s", target);
    }
    *out = c;
    return EM_OK;
}

void rpc_channel_free(rpc_channel *c)
{
    if (!c)
        return;
    grpc_channel_destroy(c->ch);
    free(c);
}

em_status rpc_call(rpc_channel *c, const char *method, const uint8_t *req, size_t req_len, int timeout_ms,
                   uint8_t **resp, size_t *resp_len, int *code, em_err *err)
{
    static char tag;
    if (code)
        *code = RPC_UNKNOWN;
    if (!c || !method || (!req && req_len) || !resp || !resp_len || timeout_ms <= 0)
        return em_errf(err, EM_ERR_ARG, "rpc_call: bad arguments");
    *resp = NULL;
    *resp_len = 0;
    em_status st = EM_OK;
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
    grpc_slice path = grpc_slice_from_copied_string(method);
    grpc_call *call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, path, NULL, deadline, NULL);
    grpc_slice_unref(path);
    grpc_slice s = grpc_slice_from_copied_buffer((const char *)req, req_len);
    grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    grpc_byte_buffer *recv = NULL;
    grpc_metadata_array md_init, md_trail;
    grpc_metadata_array_init(&md_init);
    grpc_metadata_array_init(&md_trail);
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();

    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &md_init;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &md_trail;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;
    if (!call || grpc_call_start_batch(call, ops, 6, &tag, NULL) != GRPC_CALL_OK) {
        st = em_errf(err, EM_ERR_NET, "%s %s: cannot start call", c->target, method);
        goto out;
    }
    grpc_event ev = grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type != GRPC_OP_COMPLETE || !ev.success) {
        st = em_errf(err, EM_ERR_NET, "%s %s: call failed", c->target, method);
        goto out;
    }
    if (code)
        *code = (int)status;
    if (status != GRPC_STATUS_OK) {
        st = em_errf(err, status == GRPC_STATUS_DEADLINE_EXCEEDED ? EM_ERR_TIMEOUT : EM_ERR_NET,
                     "%s %s: gRPC status %d: %.*s", c->target, method, (int)status,
                     (int)(GRPC_SLICE_LENGTH(details) > 300 ? 300 : GRPC_SLICE_LENGTH(details)),
                     (const char *)GRPC_SLICE_START_PTR(details));
        goto out;
    }
    if (!recv) {
        st = em_errf(err, EM_ERR_NET, "%s %s: no response message", c->target, method);
        goto out;
    }
    grpc_byte_buffer_reader rd;
    if (!grpc_byte_buffer_reader_init(&rd, recv)) {
        st = em_errf(err, EM_ERR_NET, "%s %s: unreadable response", c->target, method);
        goto out;
    }
    grpc_slice all = grpc_byte_buffer_reader_readall(&rd);
    size_t n = GRPC_SLICE_LENGTH(all);
    *resp = malloc(n ? n : 1);
    if (*resp) {
        memcpy(*resp, GRPC_SLICE_START_PTR(all), n);
        *resp_len = n;
    } else {
        st = em_errf(err, EM_ERR_NOMEM, "out of memory");
    }
    grpc_slice_unref(all);
    grpc_byte_buffer_reader_destroy(&rd);
out:
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&md_init);
    grpc_metadata_array_destroy(&md_trail);
    grpc_byte_buffer_destroy(send);
    if (recv)
        grpc_byte_buffer_destroy(recv);
    if (call)
        grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    return st;
}

em_status rpc_pack(const ProtobufCMessage *m, uint8_t **out, size_t *len, em_err *err)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(n ? n : 1);
    if (!b)
        return em_errf(err, EM_ERR_NOMEM, "out of memory packing %zu bytes", n);
    protobuf_c_message_pack(m, b);
    *out = b;
    *len = n;
    return EM_OK;
}
