/* Worker registry: registration (dialing the worker's Info for its node info and verifying key),
 * model-hash pinning, heartbeats and health, quarantine, worker selection. */
#include "agg_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enclaveml.pb-c.h"

void agg__registry_init(agg_registry *r, const em_agg_config *cfg)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->heartbeat_timeout_ms = (cfg->heartbeat_timeout_secs ? cfg->heartbeat_timeout_secs : 10) * 1000u;
    if (cfg->has_model_hash) {
        r->pinned = 1;
        r->hash_from_config = 1;
        memcpy(r->model_hash, cfg->model_hash, EM_HASH_LEN);
    } else {
        /* Trust-on-first-use: whoever registers first decides which model every proof is checked
         * against. Fine on a private cluster, but say so where operators look. */
        EM_WARN("model_hash is null: the first worker to register pins the model hash, so that worker "
                "chooses the model all proofs are verified against; set model_hash (enclaveml model "
                "hash FILE.eml) in production");
    }
}

static void worker_destroy(agg_worker *w)
{
    rpc_channel_free(w->ch);
    free(w);
}

void agg__registry_free(agg_registry *r)
{
    for (size_t i = 0; i < r->n; i++)
        worker_destroy(r->w[i]); /* no dispatch can be running any more */
    free(r->w);
    zk_vk_free(r->vk);
    pthread_mutex_destroy(&r->mu);
}

const char *agg__state_name(agg_wstate st)
{
    return st == AGG_W_HEALTHY ? "healthy" : st == AGG_W_UNHEALTHY ? "unhealthy" : "quarantined";
}

void agg__worker_unref(agg_server *s, agg_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&s->reg.mu);
    int last = --w->refs == 0;
    pthread_mutex_unlock(&s->reg.mu);
    if (last)
        worker_destroy(w);
}

static int valid_node_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 127)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

static agg_worker *find_locked(agg_registry *r, const char *id, size_t *idx)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->w[i]->node_id, id)) {
            if (idx)
                *idx = i;
            return r->w[i];
        }
    return NULL;
}

/* Removes entry i from the list (registry lock held); returns 1 if the caller must destroy it. */
static int unlist_locked(agg_registry *r, size_t i)
{
    agg_worker *w = r->w[i];
    memmove(&r->w[i], &r->w[i + 1], (r->n - i - 1) * sizeof *r->w);
    r->n--;
    w->listed = 0;
    return --w->refs == 0;
}

em_status agg__register(agg_server *s, const agg_reg_req *q, int *http_status, const char **field, em_err *err)
{
    agg_registry *r = &s->reg;
    em_status st = EM_OK;
    rpc_channel *ch = NULL;
    uint8_t *resp = NULL;
    size_t resp_len = 0;
    Enclaveml__NodeInfo *info = NULL;
    zk_vk *vk = NULL;
    agg_worker *w = NULL;
    char host[256];
    uint16_t port;
    *http_status = 400;
    *field = NULL;

    if (!q->node_id || !valid_node_id(q->node_id)) {
        *field = "node_id";
        return em_errf(err, EM_ERR_ARG, "node_id must match [A-Za-z0-9._-]{1,127}");
    }
    if (!q->address || strlen(q->address) >= sizeof w->address ||
        rpc_split_hostport(q->address, host, sizeof host, &port) != EM_OK) {
        *field = "address";
        return em_errf(err, EM_ERR_ARG, "address must be host:port (port 1..65535)");
    }
    if (q->device) {
        em_device d;
        if (em_device_parse(q->device, &d) != EM_OK) {
            *field = "device";
            return em_errf(err, EM_ERR_ARG, "device '%s' unknown (expected %s)", q->device, em_device_names());
        }
    }
    if (q->memory_gb < 0 || q->memory_gb > 1e6) {
        *field = "memory_gb";
        return em_errf(err, EM_ERR_ARG, "memory_gb %g out of range (expected 0..1e6)", q->memory_gb);
    }

    /* Ask the worker itself: node info and verifying key. */
    *http_status = 502;
    if ((st = rpc_channel_create(q->address, AGG_MAX_VK_BYTES + (1 << 20), &ch, err)) != EM_OK)
        goto out;
    if ((st = rpc_call(ch, "/enclaveml.Worker/Info", (const uint8_t *)"", 0, AGG_INFO_TIMEOUT_MS, &resp, &resp_len,
                       NULL, err)) != EM_OK) {
        em_err_prefix(err, "cannot reach worker %s: ", q->node_id);
        goto out;
    }
    info = enclaveml__node_info__unpack(NULL, resp_len, resp);
    if (!info) {
        st = em_errf(err, EM_ERR_PARSE, "worker at %s sent a malformed NodeInfo", q->address);
        goto out;
    }
    *http_status = 409;
    if (strcmp(info->node_id, q->node_id)) {
        *field = "node_id";
        st = em_errf(err, EM_ERR_STATE, "the worker at %s says its node_id is '%.128s', not '%s'", q->address,
                     info->node_id, q->node_id);
        goto out;
    }
    if (info->model_hash.len != EM_HASH_LEN || info->vk.len == 0 || info->vk.len > AGG_MAX_VK_BYTES) {
        st = em_errf(err, EM_ERR_FORMAT, "worker %s sent no valid model hash / verifying key", q->node_id);
        goto out;
    }
    if ((st = zk_vk_deserialize(info->vk.data, info->vk.len, &vk, err)) != EM_OK) {
        em_err_prefix(err, "verifying key of worker %s: ", q->node_id);
        goto out;
    }
    uint8_t h[EM_HASH_LEN];
    zk_vk_model_hash(vk, h);
    if (!em_ct_eq(h, info->model_hash.data, EM_HASH_LEN)) {
        st = em_errf(err, EM_ERR_VERIFY, "worker %s: its verifying key does not hash to the model hash it claims",
                     q->node_id);
        goto out;
    }
    double mem = q->memory_gb > 0 ? q->memory_gb : info->memory_gb;
    uint32_t mb = q->max_batch ? q->max_batch : info->max_batch;
    if (!(mem > 0) || mb == 0 || mb > (1u << 24)) {
        *field = mem > 0 ? "max_batch" : "memory_gb";
        *http_status = 400;
        st = em_errf(err, EM_ERR_ARG, "worker %s: capacity %g GB / max_batch %u invalid", q->node_id, mem, mb);
        goto out;
    }

    w = calloc(1, sizeof *w);
    if (!w) {
        st = em_errf(err, EM_ERR_NOMEM, "out of memory");
        goto out;
    }
    snprintf(w->node_id, sizeof w->node_id, "%s", q->node_id);
    snprintf(w->address, sizeof w->address, "%s", q->address);
    snprintf(w->device, sizeof w->device, "%s", q->device ? q->device : info->device);
    w->memory_gb = mem;
    w->max_batch = mb;
    w->cores = info->cores;
    w->max_concurrent = info->max_concurrent;
    w->ch = ch;
    ch = NULL;
    w->state = AGG_W_HEALTHY;
    w->registered_ms = w->last_heartbeat_ms = em_now_ms();
    w->refs = 1;
    w->listed = 1;

    char hx[2 * EM_HASH_LEN + 1], px[2 * EM_HASH_LEN + 1];
    em_hex_encode(h, EM_HASH_LEN, hx);
    pthread_mutex_lock(&r->mu);
    if (r->pinned && !em_ct_eq(r->model_hash, h, EM_HASH_LEN)) {
        em_hex_encode(r->model_hash, EM_HASH_LEN, px);
        pthread_mutex_unlock(&r->mu);
        *field = "model_hash";
        st = em_errf(err, EM_ERR_VERIFY, "worker %s serves model %s but the aggregator is pinned to %s (%s)",
                     q->node_id, hx, px, r->hash_from_config ? "from its config" : "from the first worker");
        goto out;
    }
    size_t idx;
    agg_worker *old = find_locked(r, q->node_id, &idx);
    if (old && old->state == AGG_W_QUARANTINED) {
        pthread_mutex_unlock(&r->mu);
        st = em_errf(err, EM_ERR_STATE,
                     "worker %s is quarantined (%s); an operator must DELETE /workers/%s before it may register again",
                     q->node_id, old->reason, q->node_id);
        goto out;
    }
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 8;
        agg_worker **p = realloc(r->w, nc * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&r->mu);
            st = em_errf(err, EM_ERR_NOMEM, "out of memory");
            goto out;
        }
        r->w = p;
        r->cap = nc;
    }
    if (!r->vk) { /* first accepted worker: pin its hash (unless configured) and keep its vk */
        r->vk = vk;
        vk = NULL;
        r->pinned = 1;
        memcpy(r->model_hash, h, EM_HASH_LEN);
        r->input_size = zk_vk_input_size(r->vk);
        r->output_size = zk_vk_output_size(r->vk);
        EM_INFO("model hash pinned to %s (%s)", hx, r->hash_from_config ? "config" : "first worker");
    }
    agg_worker *dead = NULL;
    if (old && unlist_locked(r, idx))
        dead = old;
    r->w[r->n++] = w;
    pthread_mutex_unlock(&r->mu);
    if (dead)
        worker_destroy(dead);
    EM_INFO("worker %s registered at %s (%s, %.1f GB, max_batch %u)%s", w->node_id, w->address, w->device,
            w->memory_gb, w->max_batch, old ? " (re-registration)" : "");
    w = NULL;
    *http_status = old ? 200 : 201;
out:
    if (w)
        worker_destroy(w);
    zk_vk_free(vk);
    if (info)
        enclaveml__node_info__free_unpacked(info, NULL);
    free(resp);
    rpc_channel_free(ch);
    return st;
}

int agg__heartbeat(agg_server *s, const char *node_id, const char **state)
{
    agg_registry *r = &s->reg;
    int known = 0;
    *state = "unknown";
    pthread_mutex_lock(&r->mu);
    agg_worker *w = find_locked(r, node_id, NULL);
    if (w) {
        known = 1;
        double now = em_now_ms();
        w->last_heartbeat_ms = now;
        if (w->state == AGG_W_UNHEALTHY && now >= w->cooldown_until_ms) {
            w->state = AGG_W_HEALTHY;
            w->reason[0] = 0;
            EM_INFO("worker %s healthy again", w->node_id);
        }
        *state = agg__state_name(w->state);
    }
    pthread_mutex_unlock(&r->mu);
    return known;
}

int agg__remove(agg_server *s, const char *node_id, int by_operator)
{
    agg_registry *r = &s->reg;
    size_t idx;
    int dead = 0;
    pthread_mutex_lock(&r->mu);
    agg_worker *w = find_locked(r, node_id, &idx);
    if (w && w->state == AGG_W_QUARANTINED && !by_operator) {
        /* A quarantined worker cannot clear its record by leaving and coming back. */
        pthread_mutex_unlock(&r->mu);
        EM_INFO("quarantined worker %s deregistered; it stays listed as quarantined", node_id);
        return 1;
    }
    if (w)
        dead = unlist_locked(r, idx);
    pthread_mutex_unlock(&r->mu);
    if (dead)
        worker_destroy(w);
    if (w)
        EM_INFO("worker %s removed", node_id);
    return w != NULL;
}

void agg__mark(agg_server *s, agg_worker *w, agg_wstate st, double cooldown_ms, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&s->reg.mu);
    if (w->state != AGG_W_QUARANTINED) { /* quarantine is final until an operator removes it */
        w->state = st;
        snprintf(w->reason, sizeof w->reason, "%s", why);
        w->cooldown_until_ms = em_now_ms() + cooldown_ms;
    }
    pthread_mutex_unlock(&s->reg.mu);
    if (st == AGG_W_QUARANTINED)
        EM_WARN("worker %s QUARANTINED: %s", w->node_id, why);
    else
        EM_WARN("worker %s marked %s: %s", w->node_id, agg__state_name(st), why);
}

void agg__health_sweep(agg_server *s)
{
    agg_registry *r = &s->reg;
    double now = em_now_ms();
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++) {
        agg_worker *w = r->w[i];
        if (w->state == AGG_W_HEALTHY && now - w->last_heartbeat_ms > r->heartbeat_timeout_ms) {
            w->state = AGG_W_UNHEALTHY;
            snprintf(w->reason, sizeof w->reason, "no heartbeat for %.1f s", (now - w->last_heartbeat_ms) / 1000.0);
            EM_WARN("worker %s unhealthy: %s", w->node_id, w->reason);
        }
    }
    pthread_mutex_unlock(&r->mu);
}

static int is_excluded(agg_worker *w, agg_worker *const *ex, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ex[i] == w)
            return 1;
    return 0;
}

agg_worker *agg__pick(agg_server *s, agg_worker *const *exclude, size_t n_exclude, size_t count)
{
    agg_registry *r = &s->reg;
    agg_worker *best = NULL;
    double best_load = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n; i++) {
        agg_worker *w = r->w[i];
        if (w->state != AGG_W_HEALTHY || w->max_batch < count || is_excluded(w, exclude, n_exclude))
            continue;
        double load = (atomic_load(&w->inflight) + 1.0) / w->memory_gb;
        if (!best || load < best_load) {
            best = w;
            best_load = load;
        }
    }
    if (best)
        best->refs++;
    pthread_mutex_unlock(&r->mu);
    return best;
}

static int cmp_worker(const void *a, const void *b)
{
    return strcmp((*(agg_worker *const *)a)->node_id, (*(agg_worker *const *)b)->node_id);
}

em_status agg__snapshot(agg_server *s, agg_worker ***out, size_t *n, em_err *err)
{
    agg_registry *r = &s->reg;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&r->mu);
    agg_worker **v = malloc((r->n ? r->n : 1) * sizeof *v);
    if (!v) {
        pthread_mutex_unlock(&r->mu);
        return em_errf(err, EM_ERR_NOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->w[i]->state == AGG_W_HEALTHY) {
            r->w[i]->refs++;
            v[k++] = r->w[i];
        }
    pthread_mutex_unlock(&r->mu);
    qsort(v, k, sizeof *v, cmp_worker);
    *out = v;
    *n = k;
    return EM_OK;
}

void agg__snapshot_free(agg_server *s, agg_worker **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        agg__worker_unref(s, v[i]);
    free(v);
}

void agg__counts(agg_server *s, size_t *total, size_t *healthy, size_t *unhealthy, size_t *quarantined)
{
    size_t c[3] = {0, 0, 0};
    pthread_mutex_lock(&s->reg.mu);
    for (size_t i = 0; i < s->reg.n; i++)
        c[s->reg.w[i]->state]++;
    *total = s->reg.n;
    pthread_mutex_unlock(&s->reg.mu);
    *healthy = c[AGG_W_HEALTHY];
    *unhealthy = c[AGG_W_UNHEALTHY];
    *quarantined = c[AGG_W_QUARANTINED];
}

json_t *agg__workers_json(agg_server *s)
{
    json_t *arr = json_array();
    double now = em_now_ms();
    pthread_mutex_lock(&s->reg.mu);
    double cap_healthy = 0;
    for (size_t i = 0; i < s->reg.n; i++)
        if (s->reg.w[i]->state == AGG_W_HEALTHY)
            cap_healthy += s->reg.w[i]->memory_gb;
    for (size_t i = 0; arr && i < s->reg.n; i++) {
        agg_worker *w = s->reg.w[i];
        double share = w->state == AGG_W_HEALTHY && cap_healthy > 0 ? w->memory_gb / cap_healthy : 0.0;
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:f, s:i, s:i, s:s, s:b, s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:I}", "id", w->node_id,
            "address", w->address, "device", w->device, "memory_gb", w->memory_gb, "cores", (json_int_t)w->cores,
            "max_batch", (json_int_t)w->max_batch, "state", agg__state_name(w->state), "healthy",
            w->state == AGG_W_HEALTHY, "share", share, "last_heartbeat_s_ago", (now - w->last_heartbeat_ms) / 1000.0,
            "registered_s_ago", (now - w->registered_ms) / 1000.0, "proofs_verified",
            (json_int_t)atomic_load(&w->proofs_verified), "proofs_rejected",
            (json_int_t)atomic_load(&w->proofs_rejected), "chunks_failed", (json_int_t)atomic_load(&w->chunks_failed),
            "samples_done", (json_int_t)atomic_load(&w->samples_done), "inflight",
            (json_int_t)atomic_load(&w->inflight));
        if (o && w->reason[0])
            json_object_set_new(o, "reason", json_string(w->reason));
        json_array_append_new(arr, o);
    }
    pthread_mutex_unlock(&s->reg.mu);
    return arr;
}
