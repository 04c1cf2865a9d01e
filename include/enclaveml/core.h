/* EnclaveML core: status codes, error messages, logging, bounded buffers, hashing helpers.
 *
 * Error convention used by every module: a function returns an em_status and, when given a
 * non-NULL em_err*, writes a one-line human-readable reason naming the offending field, line or
 * value. The em_err is caller-owned storage; nothing is allocated for errors. */
#ifndef ENCLAVEML_CORE_H
#define ENCLAVEML_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EM_WARN_UNUSED __attribute__((warn_unused_result))

typedef enum em_status {
    EM_OK = 0,
    EM_ERR_ARG,         /* API misuse or invalid argument */
    EM_ERR_NOMEM,       /* allocation failed */
    EM_ERR_IO,          /* file or socket I/O failed */
    EM_ERR_PARSE,       /* malformed JSON/YAML/protobuf/binary input */
    EM_ERR_FORMAT,      /* well-formed but inconsistent or invalid content */
    EM_ERR_UNSUPPORTED, /* valid input using a feature we do not implement */
    EM_ERR_RANGE,       /* a value outside the provable/representable range */
    EM_ERR_LIMIT,       /* a size cap was exceeded */
    EM_ERR_VERIFY,      /* a proof or commitment did not verify */
    EM_ERR_NET,         /* network/RPC failure */
    EM_ERR_TIMEOUT,     /* deadline exceeded */
    EM_ERR_STATE,       /* operation not valid in the current state */
    EM_ERR_INTERNAL     /* internal invariant broken (a bug) */
} em_status;

/* Caller-owned error detail. */
typedef struct em_err {
    em_status status;
    char msg[512];
} em_err;

/* Short static name of a status ("verification failed", ...). Never NULL. */
const char *em_strerror(em_status st);

/* Record status + formatted message in err (if non-NULL) and return status. */
em_status em_errf(em_err *err, em_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message with context ("loading x.eml: "). For error paths only: returns
 * err->status, and never EM_OK — EM_ERR_INTERNAL when err is NULL or was left unset — so
 * `return em_err_prefix(err, ...)` cannot turn a failure into success. */
em_status em_err_prefix(em_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The message, or the status name when no message was set. */
const char *em_err_msg(const em_err *err);

/* ---- logging ---------------------------------------------------------------------------- */
typedef enum em_log_level { EM_LOG_ERROR = 0, EM_LOG_WARN, EM_LOG_INFO, EM_LOG_DEBUG } em_log_level;

/* Level defaults to INFO, or the EM_LOG environment variable (error|warn|info|debug). */
void em_log_set_level(em_log_level lvl);
em_log_level em_log_get_level(void);
void em_log(em_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define EM_ERROR(...) em_log(EM_LOG_ERROR, __VA_ARGS__)
#define EM_WARN(...) em_log(EM_LOG_WARN, __VA_ARGS__)
#define EM_INFO(...) em_log(EM_LOG_INFO, __VA_ARGS__)
#define EM_DEBUG(...) em_log(EM_LOG_DEBUG, __VA_ARGS__)

/* ---- bounded byte buffer ------------------------------------------------------------------ */
/* Growable buffer with a hard cap (max); appends beyond max fail with EM_ERR_LIMIT.
 * Zero-initialise, set max, use, then em_buf_free. */
typedef struct em_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max;
} em_buf;

em_status em_buf_reserve(em_buf *b, size_t extra) EM_WARN_UNUSED;
em_status em_buf_append(em_buf *b, const void *p, size_t n) EM_WARN_UNUSED;
em_status em_buf_append_u8(em_buf *b, uint8_t v) EM_WARN_UNUSED;
em_status em_buf_append_u32le(em_buf *b, uint32_t v) EM_WARN_UNUSED;
em_status em_buf_append_u64le(em_buf *b, uint64_t v) EM_WARN_UNUSED;
void em_buf_free(em_buf *b);

/* Read-only cursor over untrusted bytes: every read checks the remaining length. */
typedef struct em_reader {
    const uint8_t *p;
    size_t len;
    size_t off;
} em_reader;

void em_reader_init(em_reader *r, const void *p, size_t len);
em_status em_reader_u8(em_reader *r, uint8_t *v) EM_WARN_UNUSED;
em_status em_reader_u32le(em_reader *r, uint32_t *v) EM_WARN_UNUSED;
em_status em_reader_u64le(em_reader *r, uint64_t *v) EM_WARN_UNUSED;
em_status em_reader_bytes(em_reader *r, void *out, size_t n) EM_WARN_UNUSED;
/* Borrow n bytes without copying; *out points into the reader's buffer. */
em_status em_reader_view(em_reader *r, const uint8_t **out, size_t n) EM_WARN_UNUSED;
static inline size_t em_reader_left(const em_reader *r) { return r->len - r->off; }

/* Read a whole file, refusing files larger than max bytes. *out is malloc'd; caller frees. */
em_status em_file_read(const char *path, size_t max, uint8_t **out, size_t *len, em_err *err) EM_WARN_UNUSED;
/* Write atomically (temp file + rename). */
em_status em_file_write(const char *path, const void *data, size_t len, em_err *err) EM_WARN_UNUSED;

/* ---- hashing and encoding ------------------------------------------------------------------- */
#define EM_HASH_LEN 32
void em_sha256(const void *data, size_t len, uint8_t out[EM_HASH_LEN]);
/* out must hold 2*n+1 chars. */
void em_hex_encode(const uint8_t *in, size_t n, char *out);
/* Decodes exactly n bytes from a 2n-char hex string; rejects other lengths/characters. */
em_status em_hex_decode(const char *in, uint8_t *out, size_t n) EM_WARN_UNUSED;
/* Constant-time equality for MACs/hashes. */
int em_ct_eq(const void *a, const void *b, size_t n);

/* 1 if every v[i] lies in [lo, hi] (lo <= hi, asserted): one branch-free pass, 32 values a step
 * in AVX2 where the CPU has it (runtime dispatch), else a scalar loop in fixed-length blocks;
 * callers that must name a bad value search for it only when this is 0. */
int em_i32_in_range(const int32_t *v, size_t n, int32_t lo, int32_t hi);

/* Monotonic clock in milliseconds / nanoseconds. */
double em_now_ms(void);
uint64_t em_now_ns(void);

/* Checked size arithmetic: returns 0 on overflow. */
static inline int em_mul_ok(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }
static inline int em_add_ok(size_t a, size_t b, size_t *out) { return !__builtin_add_overflow(a, b, out); }

#ifdef __cplusplus
}
#endif
#endif
