/* One inference request: quantize, split, dispatch chunks in parallel, verify every proof,
 * re-dispatch failed chunks, combine verified replicas. */
#include "agg_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enclaveml.pb-c.h"

#define AGG_MAX_DISPATCH_THREADS 64
#define AGG_NONCE_LEN 32
#define AGG_MIN_ATTEMPT_MS 1000
#define AGG_MAX_TRIED 64

typedef struct job {
    size_t start, count;
    agg_worker *first; /* from the plan (borrowed from the snapshot) */
    /* outcome */
    int ok;
    char by[128]; /* node id of the worker whose proof verified */
    double by_capacity;
    int32_t *out_q;
    uint8_t *proof;
    size_t proof_len;
    uint8_t nonce[AGG_NONCE_LEN];
    double prove_ms, verify_ms;
    uint32_t rejected, attempts;
    char reason[256];
} job;

typedef struct run_ctx {
    agg_server *s;
    const zk_vk *vk;
    const int32_t *in_q;
    size_t in_size, out_size;
    const char *request_id;
    double deadline_ms;
    job *jobs;
    size_t n_jobs;
    atomic_size_t next;
} run_ctx;

typedef enum { TRY_OK, TRY_BAD_WORKER, TRY_UNREACHABLE, TRY_TIMEOUT, TRY_REFUSED } try_result;

/* One attempt of job j on worker w. On TRY_OK the job's outcome fields are filled. */
static try_result attempt(run_ctx *c, job *j, agg_worker *w, char *why, size_t why_cap)
{
    agg_server *s = c->s;
    try_result tr = TRY_BAD_WORKER;
    uint8_t *req = NULL, *resp = NULL;
    size_t req_len = 0, resp_len = 0;
    Enclaveml__InferResponse *a = NULL;
    em_err err = {0};
    int code = 0;
    uint8_t nonce[AGG_NONCE_LEN];

    if (rpc_random(nonce, sizeof nonce, &err) != EM_OK) {
        snprintf(why, why_cap, "%s", em_err_msg(&err));
        return TRY_REFUSED;
    }
    Enclaveml__InferRequest q = ENCLAVEML__INFER_REQUEST__INIT;
    q.request_id = (char *)c->request_id;
    q.n_samples = (uint32_t)j->count;
    q.n_input_q = j->count * c->in_size;
    q.input_q = (int32_t *)(c->in_q + j->start * c->in_size);
    q.nonce.data = nonce;
    q.nonce.len = sizeof nonce;
    if (rpc_pack(&q.base, &req, &req_len, &err) != EM_OK) {
        snprintf(why, why_cap, "%s", em_err_msg(&err));
        return TRY_REFUSED;
    }
    double left = c->deadline_ms - em_now_ms();
    /* Half of what is left (at least AGG_MIN_ATTEMPT_MS), so a slow worker leaves time for a retry. */
    double budget = left / 2 > AGG_MIN_ATTEMPT_MS ? left / 2 : (left < AGG_MIN_ATTEMPT_MS ? left : AGG_MIN_ATTEMPT_MS);
    if (budget < 1) {
        free(req);
        snprintf(why, why_cap, "request deadline reached");
        return TRY_TIMEOUT;
    }
    atomic_fetch_add(&w->inflight, 1);
    em_status st = rpc_call(w->ch, "/enclaveml.Worker/Infer", req, req_len, (int)budget, &resp, &resp_len, &code, &err);
    atomic_fetch_sub(&w->inflight, 1);
    free(req);
    if (st != EM_OK) {
        snprintf(why, why_cap, "%s", em_err_msg(&err));
        if (st == EM_ERR_TIMEOUT || code == RPC_DEADLINE_EXCEEDED) {
            agg__mark(s, w, AGG_W_UNHEALTHY, s->reg.heartbeat_timeout_ms, "timed out after %.0f ms", budget);
            return TRY_TIMEOUT;
        }
        if (code == RPC_INVALID_ARGUMENT || code == RPC_RESOURCE_EXHAUSTED)
            return TRY_REFUSED; /* the worker declined this input; another may take it */
        agg__mark(s, w, AGG_W_UNHEALTHY, 0, "unreachable: %s", em_err_msg(&err));
        return TRY_UNREACHABLE;
    }
    a = enclaveml__infer_response__unpack(NULL, resp_len, resp);
    size_t n_out = j->count * c->out_size;
    if (!a) {
        snprintf(why, why_cap, "malformed InferResponse");
    } else if (a->n_samples != j->count || a->output_size != c->out_size || a->n_output_q != n_out) {
        snprintf(why, why_cap, "response shape %u x %u (%zu values), expected %zu x %zu", a->n_samples, a->output_size,
                 a->n_output_q, j->count, c->out_size);
    } else if (strcmp(a->node_id, w->node_id)) {
        snprintf(why, why_cap, "response claims node id '%.64s'", a->node_id);
    } else if (!a->proof.len || a->proof.len > ZK_MAX_PROOF_BYTES) {
        snprintf(why, why_cap, "missing or oversized proof (%zu bytes)", a->proof.len);
    } else {
        /* Verify against what WE sent: the exact chunk, our nonce, the id we registered. */
        zk_context zc = {nonce, sizeof nonce, w->node_id};
        zk_stats vs = {0};
        double t0 = em_now_ms();
        st = zk_verify(c->vk, c->in_q + j->start * c->in_size, j->count, a->output_q, &zc, a->proof.data,
                       a->proof.len, &vs, &err);
        j->verify_ms += em_now_ms() - t0;
        if (st == EM_OK) {
            j->out_q = malloc(n_out * sizeof *j->out_q);
            j->proof = malloc(a->proof.len);
            if (!j->out_q || !j->proof) {
                free(j->out_q);
                free(j->proof);
                j->out_q = NULL;
                j->proof = NULL;
                snprintf(why, why_cap, "out of memory");
                tr = TRY_REFUSED;
                goto out;
            }
            memcpy(j->out_q, a->output_q, n_out * sizeof *j->out_q);
            memcpy(j->proof, a->proof.data, a->proof.len);
            j->proof_len = a->proof.len;
            memcpy(j->nonce, nonce, sizeof nonce);
            j->prove_ms = a->timings ? a->timings->prove_ms : 0;
            tr = TRY_OK;
            goto out;
        }
        snprintf(why, why_cap, "proof rejected: %s", em_err_msg(&err));
    }
    /* Anything but a verified answer from a worker that did answer: never trust it again. */
    j->rejected++;
    atomic_fetch_add(&w->proofs_rejected, 1);
    atomic_fetch_add(&s->met.proofs_rejected, 1);
    agg__mark(s, w, AGG_W_QUARANTINED, 0, "%s (request %s, samples %zu..%zu)", why, c->request_id, j->start,
              j->start + j->count - 1);
out:
    if (a)
        enclaveml__infer_response__free_unpacked(a, NULL);
    free(resp);
    return tr;
}

static void run_job(run_ctx *c, job *j)
{
    agg_server *s = c->s;
    agg_worker *tried[AGG_MAX_TRIED];
    int picked[AGG_MAX_TRIED]; /* 1 if we hold a reference from agg__pick */
    size_t n_tried = 0;
    agg_worker *w = j->first;
    int own = 0;
    char why[256] = "no healthy worker could take the chunk";
    while (w) {
        tried[n_tried] = w;
        picked[n_tried++] = own;
        j->attempts++;
        try_result tr = attempt(c, j, w, why, sizeof why);
        if (tr == TRY_OK) {
            j->ok = 1;
            snprintf(j->by, sizeof j->by, "%s", w->node_id);
            j->by_capacity = w->memory_gb;
            atomic_fetch_add(&w->proofs_verified, 1);
            atomic_fetch_add(&w->samples_done, j->count);
            atomic_fetch_add(&s->met.proofs_verified, 1);
            break;
        }
        atomic_fetch_add(&w->chunks_failed, 1);
        atomic_fetch_add(&s->met.chunks_failed, 1);
        EM_WARN("request %s: samples %zu..%zu on %s failed: %s", c->request_id, j->start, j->start + j->count - 1,
                w->node_id, why);
        /* node id (< 128 bytes) and the cause, cut to fit: the reason is only reported */
        snprintf(j->reason, sizeof j->reason, "%.127s: %.126s", w->node_id, why);
        if (em_now_ms() >= c->deadline_ms || n_tried == AGG_MAX_TRIED) {
            snprintf(j->reason + strlen(j->reason), sizeof j->reason - strlen(j->reason), "; request deadline reached");
            break;
        }
        w = agg__pick(s, tried, n_tried, j->count);
        own = 1;
        if (w) {
            atomic_fetch_add(&s->met.redispatches, 1);
            EM_INFO("request %s: re-dispatching samples %zu..%zu to %s", c->request_id, j->start,
                    j->start + j->count - 1, w->node_id);
        } else {
            snprintf(j->reason + strlen(j->reason), sizeof j->reason - strlen(j->reason),
                     "; no other healthy worker left");
        }
    }
    for (size_t i = 0; i < n_tried; i++)
        if (picked[i])
            agg__worker_unref(s, tried[i]);
}

static void *dispatch_main(void *arg)
{
    run_ctx *c = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&c->next, 1);
        if (i >= c->n_jobs)
            return NULL;
        run_job(c, &c->jobs[i]);
    }
}

static void fail(agg_result *res, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(agg_result *res, int status, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->error, sizeof res->error, fmt, ap);
    va_end(ap);
    res->http_status = status;
    res->error_field = field;
}

static json_t *int_array(const int32_t *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

void agg__infer(agg_server *s, const agg_request *q, agg_result *res)
{
    em_err err = {0};
    double t0 = em_now_ms();
    agg_worker **snap = NULL;
    size_t n_snap = 0, n_chunks = 0;
    agg_chunk *chunks = NULL;
    int32_t *in_q = NULL;
    run_ctx c;
    memset(&c, 0, sizeof c);
    memset(res, 0, sizeof *res);
    res->http_status = 200;
    uint8_t rid[16];
    if (rpc_random(rid, sizeof rid, &err) != EM_OK) {
        fail(res, 500, NULL, "%s", em_err_msg(&err));
        return;
    }
    em_hex_encode(rid, sizeof rid, res->request_id);

    pthread_mutex_lock(&s->reg.mu);
    const zk_vk *vk = s->reg.vk; /* set once, never replaced while the server runs */
    memcpy(res->model_hash, s->reg.model_hash, EM_HASH_LEN);
    pthread_mutex_unlock(&s->reg.mu);
    if (!vk) {
        fail(res, 503, NULL, "no worker has registered yet: the model is unknown");
        return;
    }
    size_t in_size = zk_vk_input_size(vk), out_size = zk_vk_output_size(vk);
    if (q->sample_size != in_size) {
        fail(res, 400, "sample_size", "sample_size is %zu, expected %zu (the model's input size)", q->sample_size,
             in_size);
        return;
    }
    size_t n = q->n_samples;
    res->n_samples = n;
    res->output_size = out_size;
    if (n == 0) {
        fail(res, 400, "data", "data is empty (expected at least one sample of %zu values)", in_size);
        return;
    }
    in_q = malloc(n * in_size * sizeof *in_q);
    res->result = calloc(n * out_size, sizeof *res->result);
    res->pred = calloc(n, sizeof *res->pred);
    res->have = calloc(n, 1);
    if (!in_q || !res->result || !res->pred || !res->have) {
        fail(res, 500, NULL, "out of memory for %zu samples", n);
        goto out;
    }
    if (zk_vk_quantize_input(vk, q->data, n, in_q, &err) != EM_OK) {
        fail(res, 400, "data", "%s", em_err_msg(&err));
        goto out;
    }
    if (agg__snapshot(s, &snap, &n_snap, &err) != EM_OK) {
        fail(res, 500, NULL, "%s", em_err_msg(&err));
        goto out;
    }
    if (n_snap == 0) {
        fail(res, 503, NULL, "no healthy workers");
        goto out;
    }
    double *cap = malloc(n_snap * sizeof *cap);
    uint32_t *mb = malloc(n_snap * sizeof *mb);
    em_status st = cap && mb ? EM_OK : EM_ERR_NOMEM;
    for (size_t i = 0; st == EM_OK && i < n_snap; i++) {
        cap[i] = snap[i]->memory_gb;
        mb[i] = snap[i]->max_batch;
    }
    if (st == EM_OK)
        st = agg_split_plan(q->split, cap, mb, n_snap, n, s->cfg.replicas, &chunks, &n_chunks, &err);
    free(cap);
    free(mb);
    if (st != EM_OK) {
        fail(res, 500, NULL, "split: %s", em_err_msg(&err));
        goto out;
    }
    c.jobs = calloc(n_chunks, sizeof *c.jobs);
    if (!c.jobs) {
        fail(res, 500, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_chunks; i++) {
        c.jobs[i].start = chunks[i].start;
        c.jobs[i].count = chunks[i].count;
        c.jobs[i].first = snap[chunks[i].worker];
    }
    c.s = s;
    c.vk = vk;
    c.in_q = in_q;
    c.in_size = in_size;
    c.out_size = out_size;
    c.request_id = res->request_id;
    c.n_jobs = n_chunks;
    c.deadline_ms = t0 + 1000.0 * s->cfg.request_timeout_secs;
    res->split_ms = em_now_ms() - t0;

    size_t nt = n_chunks < AGG_MAX_DISPATCH_THREADS ? n_chunks : AGG_MAX_DISPATCH_THREADS;
    pthread_t tids[AGG_MAX_DISPATCH_THREADS];
    size_t started = 0;
    for (; started + 1 < nt; started++) /* the calling thread is the last dispatcher */
        if (pthread_create(&tids[started], NULL, dispatch_main, &c) != 0)
            break;
    dispatch_main(&c);
    for (size_t i = 0; i < started; i++)
        pthread_join(tids[i], NULL);

    /* Combine per sample over its verified replicas. */
    size_t max_rep = 0;
    for (size_t i = 0; i < n_chunks; i++)
        if (c.jobs[i].ok)
            max_rep++;
    const double **reps = calloc(max_rep ? max_rep : 1, sizeof *reps);
    double *wts = calloc(max_rep ? max_rep : 1, sizeof *wts);
    double *rowbuf = malloc((max_rep ? max_rep : 1) * out_size * sizeof *rowbuf);
    if (!reps || !wts || !rowbuf) {
        free(reps);
        free(wts);
        free(rowbuf);
        fail(res, 500, NULL, "out of memory");
        goto out;
    }
    int probs = zk_vk_has_softmax(vk);
    for (size_t smp = 0; smp < n; smp++) {
        size_t r = 0;
        for (size_t i = 0; i < n_chunks; i++) {
            job *j = &c.jobs[i];
            if (!j->ok || smp < j->start || smp >= j->start + j->count)
                continue;
            zk_vk_postprocess(vk, j->out_q + (smp - j->start) * out_size, 1, rowbuf + r * out_size);
            reps[r] = rowbuf + r * out_size;
            wts[r] = j->by_capacity;
            r++;
        }
        if (!r)
            continue;
        if (agg_combine_sample(q->combine, reps, wts, r, out_size, probs, res->result + smp * out_size,
                               &res->pred[smp], &err) != EM_OK) {
            free(reps);
            free(wts);
            free(rowbuf);
            fail(res, 500, NULL, "combine: %s", em_err_msg(&err));
            goto out;
        }
        res->have[smp] = 1;
    }
    free(reps);
    free(wts);
    free(rowbuf);

    /* Statistics, failures, proofs. */
    const char *seen[AGG_MAX_TRIED];
    size_t n_seen = 0;
    for (size_t i = 0; i < n_chunks; i++) {
        job *j = &c.jobs[i];
        res->proofs_rejected += j->rejected;
        res->verify_ms += j->verify_ms;
        if (!j->ok)
            continue;
        res->proofs_verified++;
        res->prove_ms_max = j->prove_ms > res->prove_ms_max ? j->prove_ms : res->prove_ms_max;
        int dup = 0;
        for (size_t k = 0; k < n_seen; k++)
            dup |= !strcmp(seen[k], j->by);
        if (!dup && n_seen < AGG_MAX_TRIED)
            seen[n_seen++] = j->by;
    }
    res->total_nodes = (uint32_t)n_seen;
    res->missing = malloc(n * sizeof *res->missing);
    res->failures = calloc(n_chunks, sizeof *res->failures);
    if (!res->missing || !res->failures) {
        fail(res, 500, NULL, "out of memory");
        goto out;
    }
    for (size_t smp = 0; smp < n; smp++)
        if (!res->have[smp])
            res->missing[res->n_missing++] = smp;
    for (size_t i = 0; i < n_chunks; i++) {
        job *j = &c.jobs[i];
        int covered = 1; /* a failed replica whose samples were verified elsewhere is no failure */
        for (size_t smp = j->start; !j->ok && smp < j->start + j->count; smp++)
            covered &= res->have[smp];
        if (j->ok || covered)
            continue;
        agg_failure *f = &res->failures[res->n_failures++];
        f->start = j->start;
        f->count = j->count;
        snprintf(f->reason, sizeof f->reason, "%s", j->reason[0] ? j->reason : "not computed");
    }
    res->verified = res->n_missing == 0;
    res->chunks = json_array();
    for (size_t i = 0; res->chunks && i < n_chunks; i++) {
        job *j = &c.jobs[i];
        if (j->ok)
            json_array_append_new(res->chunks,
                                  json_pack("{s:s, s:[I,I], s:i, s:f, s:f}", "node_id", j->by, "samples",
                                            (json_int_t)j->start, (json_int_t)j->count, "attempts", (int)j->attempts,
                                            "prove_ms", j->prove_ms, "verify_ms", j->verify_ms));
    }
    if (q->return_proofs) {
        res->proofs = json_array();
        for (size_t i = 0; res->proofs && i < n_chunks; i++) {
            job *j = &c.jobs[i];
            if (!j->ok)
                continue;
            char nx[2 * AGG_NONCE_LEN + 1];
            em_hex_encode(j->nonce, AGG_NONCE_LEN, nx);
            char *b64 = rpc_base64_encode(j->proof, j->proof_len);
            json_t *o = json_pack("{s:s, s:[I,I], s:s, s:s, s:o, s:o}", "node_id", j->by, "samples",
                                  (json_int_t)j->start, (json_int_t)j->count, "nonce", nx, "proof", b64 ? b64 : "",
                                  "input_q", int_array(in_q + j->start * in_size, j->count * in_size), "output_q",
                                  int_array(j->out_q, j->count * out_size));
            free(b64);
            json_array_append_new(res->proofs, o);
        }
    }
    if (!res->verified && s->cfg.strict_mode)
        fail(res, 502, NULL, "strict mode: %zu of %zu samples could not be verified", res->n_missing, n);
out:
    res->inference_ms = em_now_ms() - t0;
    if (c.jobs)
        for (size_t i = 0; i < c.n_jobs; i++) {
            free(c.jobs[i].out_q);
            free(c.jobs[i].proof);
        }
    free(c.jobs);
    free(chunks);
    free(in_q);
    agg__snapshot_free(s, snap, n_snap);
    atomic_fetch_add(&s->met.samples, n);
    atomic_fetch_add(&s->met.latency_us_sum, (unsigned long long)(res->inference_ms * 1000));
    if (res->http_status == 200)
        atomic_fetch_add(&s->met.requests_ok, 1);
    else
        atomic_fetch_add(&s->met.requests_failed, 1);
}

void agg__result_free(agg_result *res)
{
    free(res->result);
    free(res->pred);
    free(res->have);
    free(res->missing);
    free(res->failures);
    json_decref(res->proofs);
    json_decref(res->chunks);
    memset(res, 0, sizeof *res);
}

json_t *agg__result_json(const agg_result *res)
{
    char hx[2 * EM_HASH_LEN + 1];
    em_hex_encode(res->model_hash, EM_HASH_LEN, hx);
    json_t *o = json_object();
    if (!o)
        return NULL;
    int ok = res->http_status == 200;
    if (!ok) {
        json_object_set_new(o, "error", json_string(res->error));
        json_object_set_new(o, "field", res->error_field ? json_string(res->error_field) : json_null());
        json_object_set_new(o, "request_id", json_string(res->request_id));
        if (!res->n_failures && !res->n_missing)
            return o;
    }
    /* Never a number for an unverified sample: their rows are null. */
    if (ok) {
        json_t *result = json_array(), *pred = json_array();
        for (size_t smp = 0; smp < res->n_samples; smp++) {
            for (size_t k = 0; k < res->output_size; k++)
                json_array_append_new(result, res->have[smp] ? json_real(res->result[smp * res->output_size + k])
                                                             : json_null());
            json_array_append_new(pred, res->have[smp] ? json_integer(res->pred[smp]) : json_null());
        }
        json_object_set_new(o, "result", result);
        json_object_set_new(o, "proofs_verified", json_integer(res->proofs_verified));
        json_object_set_new(o, "total_nodes", json_integer(res->total_nodes));
        json_object_set_new(o, "inference_time_ms", json_real(res->inference_ms));
        json_object_set_new(o, "verified", json_boolean(res->verified));
        json_object_set_new(o, "output_size", json_integer((json_int_t)res->output_size));
        json_object_set_new(o, "predictions", pred);
        json_object_set_new(o, "proofs_rejected", json_integer(res->proofs_rejected));
        json_object_set_new(o, "model_hash", json_string(hx));
        json_object_set_new(o, "request_id", json_string(res->request_id));
        json_object_set_new(o, "timing", json_pack("{s:f, s:f, s:f}", "split_ms", res->split_ms, "prove_ms_max",
                                                   res->prove_ms_max, "verify_ms", res->verify_ms));
        if (res->chunks)
            json_object_set(o, "chunks", res->chunks);
        if (res->proofs)
            json_object_set(o, "proofs", res->proofs);
    } else {
        json_object_set_new(o, "proofs_verified", json_integer(res->proofs_verified));
        json_object_set_new(o, "proofs_rejected", json_integer(res->proofs_rejected));
    }
    if (res->n_missing || !ok) {
        json_t *m = json_array(), *f = json_array();
        for (size_t i = 0; i < res->n_missing; i++)
            json_array_append_new(m, json_integer((json_int_t)res->missing[i]));
        for (size_t i = 0; i < res->n_failures; i++)
            json_array_append_new(f, json_pack("{s:[I,I], s:s}", "samples", (json_int_t)res->failures[i].start,
                                               (json_int_t)res->failures[i].count, "reason",
                                               res->failures[i].reason));
        json_object_set_new(o, "missing_samples", m);
        json_object_set_new(o, "failures", f);
    }
    return o;
}
