/* Tiny test harness: checks print both sides, randomness is seeded and the seed printed
 * (EM_TEST_SEED=N reproduces a run), and main() ends with "N passed, N failed". */
#ifndef EM_TEST_HARNESS_H
#define EM_TEST_HARNESS_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "enclaveml/core.h"

static int th_checks_failed;
static int th_tests_passed, th_tests_failed;
static uint64_t th_rng_state;

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);          \
            th_checks_failed++;                                                               \
        }                                                                                     \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                                    \
    do {                                                                                      \
        uint64_t th_a = (uint64_t)(a), th_b = (uint64_t)(b);                                  \
        if (th_a != th_b) {                                                                   \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%" PRIu64 " vs %" PRIu64 ")\n", \
                    __FILE__, __LINE__, #a, #b, th_a, th_b);                                  \
            th_checks_failed++;                                                               \
        }                                                                                     \
    } while (0)

#define CHECK_EQ_I64(a, b)                                                                    \
    do {                                                                                      \
        int64_t th_a = (int64_t)(a), th_b = (int64_t)(b);                                     \
        if (th_a != th_b) {                                                                   \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%" PRId64 " vs %" PRId64 ")\n", \
                    __FILE__, __LINE__, #a, #b, th_a, th_b);                                  \
            th_checks_failed++;                                                               \
        }                                                                                     \
    } while (0)

/* st is an em_status; prints the status name and err message when it is not expected. */
#define CHECK_ST(st, expect, errp)                                                            \
    do {                                                                                      \
        int th_s = (int)(st);                                                                 \
        if (th_s != (int)(expect)) {                                                          \
            fprintf(stderr, "%s:%d: status %d (%s), expected %d: %s\n", __FILE__, __LINE__,   \
                    th_s, em_strerror((em_status)th_s), (int)(expect),                        \
                    th_errmsg(errp));                                                         \
            th_checks_failed++;                                                               \
        }                                                                                     \
    } while (0)
#define CHECK_OK(st, errp) CHECK_ST(st, EM_OK, errp)

#define CHECK_STR_CONTAINS(hay, needle)                                                       \
    do {                                                                                      \
        const char *th_h = (hay), *th_n = (needle);                                           \
        if (!th_h || !strstr(th_h, th_n)) {                                                   \
            fprintf(stderr, "%s:%d: expected \"%s\" to contain \"%s\"\n", __FILE__, __LINE__, \
                    th_h ? th_h : "(null)", th_n);                                            \
            th_checks_failed++;                                                               \
        }                                                                                     \
    } while (0)

/* Function, not macro logic, so passing &err does not trigger -Waddress. */
static inline const char *th_errmsg(const void *errp)
{
    return errp ? em_err_msg((const em_err *)errp) : "";
}

static inline uint64_t th_rand(void)
{
    /* splitmix64 */
    uint64_t z = (th_rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline void th_init(const char *name)
{
    const char *s = getenv("EM_TEST_SEED");
    th_rng_state = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
    fprintf(stderr, "%s: seed %" PRIu64 " (set EM_TEST_SEED to reproduce)\n", name, th_rng_state);
}

#define TH_RUN(fn)                                                                            \
    do {                                                                                      \
        int th_before = th_checks_failed;                                                     \
        fn();                                                                                 \
        if (th_checks_failed == th_before) {                                                  \
            th_tests_passed++;                                                                \
            fprintf(stderr, "  ok   %s\n", #fn);                                              \
        } else {                                                                              \
            th_tests_failed++;                                                                \
            fprintf(stderr, "  FAIL %s\n", #fn);                                              \
        }                                                                                     \
    } while (0)

static inline int th_finish(void)
{
    printf("%d passed, %d failed\n", th_tests_passed, th_tests_failed);
    return th_tests_failed ? 1 : 0;
}

/* Path helpers: the source tree and shared/ (set by ctest), for test data. */
static inline const char *th_src_dir(void)
{
    const char *s = getenv("EM_SRC_DIR");
    return s ? s : ".";
}
static inline const char *th_shared_dir(void)
{
    const char *s = getenv("EM_SHARED_DIR");
    return s ? s : "../shared";
}

#endif
