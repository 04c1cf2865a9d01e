#include "enclaveml/core.h"

#include <stdio.h>
#include <string.h>

const char *em_strerror(em_status st)
{
    switch (st) {
    case EM_OK: return "ok";
    case EM_ERR_ARG: return "invalid argument";
    case EM_ERR_NOMEM: return "out of memory";
    case EM_ERR_IO: return "I/O error";
    case EM_ERR_PARSE: return "parse error";
    case EM_ERR_FORMAT: return "invalid format";
    case EM_ERR_UNSUPPORTED: return "unsupported";
    case EM_ERR_RANGE: return "value out of range";
    case EM_ERR_LIMIT: return "size limit exceeded";
    case EM_ERR_VERIFY: return "verification failed";
    case EM_ERR_NET: return "network error";
    case EM_ERR_TIMEOUT: return "timeout";
    case EM_ERR_STATE: return "invalid state";
    case EM_ERR_INTERNAL: return "internal error";
    }
    return "unknown error";
}

em_status em_errf(em_err *err, em_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = st;
    }
    return st;
}

em_status em_err_prefix(em_err *err, const char *fmt, ...)
{
    /* Only ever called on an error path, and callers `return em_err_prefix(...)`: it must never
     * turn a failure into EM_OK, even with no err to write to or an err the callee left unset. */
    if (!err)
        return EM_ERR_INTERNAL;
    if (err->status == EM_OK)
        err->status = EM_ERR_INTERNAL;
    char pre[256], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = 0;
    size_t np = strlen(pre), no = strlen(old), cap = sizeof err->msg - 1;
    if (np > cap)
        np = cap;
    if (no > cap - np)
        no = cap - np;
    memcpy(err->msg, pre, np);
    memcpy(err->msg + np, old, no);
    err->msg[np + no] = 0;
    return err->status;
}

const char *em_err_msg(const em_err *err)
{
    if (!err)
        return "";
    return err->msg[0] ? err->msg : em_strerror(err->status);
}
