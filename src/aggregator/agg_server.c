/* Aggregator lifetime: registry, REST and gRPC front ends, health monitor. */
#include "agg_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void *monitor_main(void *arg)
{
    agg_server *s = arg;
    while (!atomic_load(&s->stopping)) {
        agg__health_sweep(s);
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

em_status agg_server_create(const em_agg_config *cfg, agg_server **out, em_err *err)
{
    if (!cfg || !out)
        return em_errf(err, EM_ERR_ARG, "agg_server_create: bad arguments");
    em_status st;
    agg_server *s = calloc(1, sizeof *s);
    if (!s)
        return em_errf(err, EM_ERR_NOMEM, "out of memory");
    s->cfg = *cfg;
    s->start_ms = em_now_ms();
    agg__registry_init(&s->reg, cfg);
    if ((st = agg__grpc_start(s, err)) != EM_OK)
        goto fail;
    if ((st = agg__rest_start(s, err)) != EM_OK)
        goto fail;
    if (pthread_create(&s->monitor, NULL, monitor_main, s) != 0) {
        st = em_errf(err, EM_ERR_INTERNAL, "cannot start the health monitor");
        goto fail;
    }
    s->monitor_started = 1;
    EM_INFO("aggregator: REST on %s:%u, gRPC coordination on %s:%u, strict_mode %s, split %s, combine %s",
            cfg->bind, (unsigned)cfg->port, cfg->bind, (unsigned)cfg->grpc_port, cfg->strict_mode ? "on" : "off",
            em_split_name(cfg->split_strategy), em_combine_name(cfg->combine_strategy));
    *out = s;
    return EM_OK;
fail:
    agg_server_free(s);
    return st;
}

void agg_server_free(agg_server *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, 1);
    agg__rest_stop(s);
    agg__grpc_stop(s);
    if (s->monitor_started)
        pthread_join(s->monitor, NULL);
    agg__registry_free(&s->reg);
    free(s);
}
