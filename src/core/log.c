#include "enclaveml/core.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static em_log_level g_level = EM_LOG_INFO;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static void log_init(void)
{
    const char *e = getenv("EM_LOG");
    if (!e)
        return;
    if (!strcmp(e, "error")) g_level = EM_LOG_ERROR;
    else if (!strcmp(e, "warn")) g_level = EM_LOG_WARN;
    else if (!strcmp(e, "info")) g_level = EM_LOG_INFO;
    else if (!strcmp(e, "debug")) g_level = EM_LOG_DEBUG;
}

void em_log_set_level(em_log_level lvl)
{
    pthread_once(&g_once, log_init);
    g_level = lvl;
}

em_log_level em_log_get_level(void)
{
    pthread_once(&g_once, log_init);
    return g_level;
}

void em_log(em_log_level lvl, const char *fmt, ...)
{
    static const char *names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
    if (lvl > em_log_get_level())
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&g_mu);
    fprintf(stderr, "%02d:%02d:%02d.%03ld %-5s %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, names[lvl], line);
    pthread_mutex_unlock(&g_mu);
}
