/* The worker's gRPC service: Infer (inference + proof), Info, Health. */
#include "node_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "enclaveml.pb-c.h"

#define NODE_MAX_REQUEST_ID 128

static zk_prover *slot_acquire(node_worker *w, size_t *idx)
{
    pthread_mutex_lock(&w->mu);
    for (;;) {
        for (uint32_t i = 0; i < w->n_slots; i++)
            if (!w->slots[i].busy) {
                w->slots[i].busy = 1;
                pthread_mutex_unlock(&w->mu);
                *idx = i;
                return w->slots[i].prover;
            }
        pthread_cond_wait(&w->cv, &w->mu);
    }
}

static void slot_release(node_worker *w, size_t idx)
{
    pthread_mutex_lock(&w->mu);
    w->slots[idx].busy = 0;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The slow fault: hold the answer back past any sane deadline, but stay stoppable. */
static void fault_slow(node_worker *w)
{
    const char *e = getenv("EM_FAULT_SLOW_MS");
    long ms = e ? atol(e) : 60000;
    for (long t = 0; t < ms; t += 50) {
        if (w->stop && *w->stop)
            return;
        sleep_ms(50);
    }
}

static int handle_infer(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len,
                        char *detail, size_t cap)
{
    node_worker *w = ctx;
    int code = RPC_OK;
    int32_t *in_q = NULL, *out_q = NULL;
    uint8_t *proof = NULL;
    size_t proof_len = 0, slot = 0;
    zk_prover *prover = NULL;
    em_err err = {0};
    double t0 = em_now_ms();
    Enclaveml__InferRequest *r = enclaveml__infer_request__unpack(NULL, req_len, req);
    atomic_fetch_add(&w->active, 1);
    if (!r) {
        code = RPC_INVALID_ARGUMENT;
        snprintf(detail, cap, "malformed InferRequest");
        goto out;
    }
    size_t n = r->n_samples, want;
    if (n == 0 || n > w->cfg.max_batch) {
        code = RPC_INVALID_ARGUMENT;
        snprintf(detail, cap, "n_samples %zu out of range (expected 1..%u)", n, w->cfg.max_batch);
        goto out;
    }
    if (r->nonce.len > ZK_MAX_NONCE || strlen(r->request_id) > NODE_MAX_REQUEST_ID) {
        code = RPC_INVALID_ARGUMENT;
        snprintf(detail, cap, "nonce longer than %d bytes or request_id longer than %d", ZK_MAX_NONCE,
                 NODE_MAX_REQUEST_ID);
        goto out;
    }
    want = n * w->input_size; /* n <= max_batch (< 2^32), input_size small: no overflow */
    in_q = malloc(want * sizeof *in_q);
    out_q = malloc(n * w->output_size * sizeof *out_q);
    if (!in_q || !out_q) {
        code = RPC_RESOURCE_EXHAUSTED;
        snprintf(detail, cap, "out of memory");
        goto out;
    }
    int echo_input = 0;
    if (r->n_input_q) {
        if (r->n_input_q != want) {
            code = RPC_INVALID_ARGUMENT;
            snprintf(detail, cap, "input_q has %zu values, expected n_samples*%zu = %zu", r->n_input_q,
                     w->input_size, want);
            goto out;
        }
        memcpy(in_q, r->input_q, want * sizeof *in_q);
    } else if (r->n_input) {
        if (r->n_input != want) {
            code = RPC_INVALID_ARGUMENT;
            snprintf(detail, cap, "input has %zu values, expected n_samples*%zu = %zu", r->n_input,
                     w->input_size, want);
            goto out;
        }
        if (nn_model_quantize_input(w->model, r->input, n, in_q, &err) != EM_OK) {
            code = RPC_INVALID_ARGUMENT;
            snprintf(detail, cap, "input: %s", em_err_msg(&err));
            goto out;
        }
        echo_input = 1;
    } else {
        code = RPC_INVALID_ARGUMENT;
        snprintf(detail, cap, "neither input_q nor input given");
        goto out;
    }

    double tq = em_now_ms();
    prover = slot_acquire(w, &slot);
    double queue_ms = em_now_ms() - tq;
    if (w->fault == NODE_FAULT_CRASH) {
        EM_WARN("fault injection: crashing while serving request %s", r->request_id);
        _exit(3);
    }
    nn_run_opts opts = {.backend = NULL, .threads = (int)w->cfg.threads};
    zk_context zc = {r->nonce.data, r->nonce.len, w->cfg.node_id};
    zk_stats stats = {0};
    em_status st = zk_prove(prover, &opts, in_q, n, &zc, out_q, &proof, &proof_len, &stats, &err);
    slot_release(w, slot);
    if (st != EM_OK) {
        code = st == EM_ERR_RANGE || st == EM_ERR_ARG ? RPC_INVALID_ARGUMENT : RPC_INTERNAL;
        snprintf(detail, cap, "prove: %s", em_err_msg(&err));
        goto out;
    }
    switch (w->fault) {
    case NODE_FAULT_TAMPER_OUTPUT:
        out_q[0] += 1;
        break;
    case NODE_FAULT_BAD_PROOF:
        proof[proof_len / 2] ^= 0x01;
        break;
    case NODE_FAULT_SLOW:
        fault_slow(w);
        break;
    default:
        break;
    }

    Enclaveml__Timings tm = ENCLAVEML__TIMINGS__INIT;
    tm.infer_ms = stats.infer_ms;
    tm.prove_ms = stats.prove_ms;
    tm.queue_ms = queue_ms;
    tm.total_ms = em_now_ms() - t0;
    Enclaveml__InferResponse o = ENCLAVEML__INFER_RESPONSE__INIT;
    o.node_id = w->cfg.node_id;
    o.n_samples = (uint32_t)n;
    o.output_size = (uint32_t)w->output_size;
    o.n_output_q = n * w->output_size;
    o.output_q = out_q;
    o.proof.data = proof;
    o.proof.len = proof_len;
    o.timings = &tm;
    if (echo_input) {
        o.n_input_q = want;
        o.input_q = in_q;
    }
    if (rpc_pack(&o.base, resp, resp_len, &err) != EM_OK) {
        code = RPC_RESOURCE_EXHAUSTED;
        snprintf(detail, cap, "%s", em_err_msg(&err));
        goto out;
    }
    atomic_fetch_add(&w->served, 1);
    EM_DEBUG("request %s: %zu samples proved in %.1f ms (%zu proof bytes)", r->request_id, n, stats.prove_ms,
             proof_len);
out:
    atomic_fetch_sub(&w->active, 1);
    if (code != RPC_OK)
        EM_WARN("Infer refused: %s", detail);
    if (r)
        enclaveml__infer_request__free_unpacked(r, NULL);
    free(in_q);
    free(out_q);
    free(proof);
    return code;
}

static int handle_info(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len,
                       char *detail, size_t cap)
{
    node_worker *w = ctx;
    em_err err = {0};
    (void)req;
    (void)req_len;
    Enclaveml__NodeInfo o = ENCLAVEML__NODE_INFO__INIT;
    o.node_id = w->cfg.node_id;
    o.address = w->cfg.advertise_address;
    o.device = (char *)em_device_name(w->cfg.device);
    o.memory_gb = w->memory_gb;
    o.detected_memory_gb = w->dev.memory_gb;
    o.cores = w->dev.cores;
    o.max_batch = w->cfg.max_batch;
    o.max_concurrent = w->n_slots;
    o.model_hash.data = w->model_hash;
    o.model_hash.len = EM_HASH_LEN;
    o.vk.data = w->vk;
    o.vk.len = w->vk_len;
    o.version = "0.1.0";
    o.input_size = (uint32_t)w->input_size;
    o.output_size = (uint32_t)w->output_size;
    if (rpc_pack(&o.base, resp, resp_len, &err) != EM_OK) {
        snprintf(detail, cap, "%s", em_err_msg(&err));
        return RPC_RESOURCE_EXHAUSTED;
    }
    return RPC_OK;
}

static int handle_health(void *ctx, const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len,
                         char *detail, size_t cap)
{
    node_worker *w = ctx;
    em_err err = {0};
    (void)req;
    (void)req_len;
    Enclaveml__HealthResponse o = ENCLAVEML__HEALTH_RESPONSE__INIT;
    o.ok = 1;
    o.active = atomic_load(&w->active);
    o.served = atomic_load(&w->served);
    o.uptime_s = (em_now_ms() - w->start_ms) / 1000.0;
    if (rpc_pack(&o.base, resp, resp_len, &err) != EM_OK) {
        snprintf(detail, cap, "%s", em_err_msg(&err));
        return RPC_RESOURCE_EXHAUSTED;
    }
    return RPC_OK;
}

em_status node_worker_create(const em_worker_config *cfg, node_fault fault, node_worker **out, em_err *err)
{
    if (!cfg || !out)
        return em_errf(err, EM_ERR_ARG, "node_worker_create: bad arguments");
    em_status st;
    node_worker *w = calloc(1, sizeof *w);
    if (!w)
        return em_errf(err, EM_ERR_NOMEM, "out of memory");
    w->cfg = *cfg;
    w->fault = fault;
    w->start_ms = em_now_ms();
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if ((st = node_device_detect(&w->dev, err)) != EM_OK)
        goto fail;
    if (cfg->device == EM_DEVICE_CUDA && !w->dev.cuda_built) {
        st = em_errf(err, EM_ERR_UNSUPPORTED,
                     "device: cuda requested but this build has no CUDA backend (build with nvcc, or set "
                     "device: cpu)");
        goto fail;
    }
    if (cfg->device == EM_DEVICE_METAL) {
        st = em_errf(err, EM_ERR_UNSUPPORTED, "device: metal is not available in this build (set device: cpu)");
        goto fail;
    }
    w->memory_gb = cfg->memory_gb > 0 ? cfg->memory_gb : w->dev.memory_gb;
    if ((st = nn_model_load(cfg->model_path, &w->model, err)) != EM_OK) {
        em_err_prefix(err, "model_path %s: ", cfg->model_path);
        goto fail;
    }
    w->input_size = nn_model_input_size(w->model);
    w->output_size = nn_model_output_size(w->model);
    w->n_slots = cfg->max_concurrent ? cfg->max_concurrent : 1;
    w->slots = calloc(w->n_slots, sizeof *w->slots);
    if (!w->slots) {
        st = em_errf(err, EM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < w->n_slots; i++)
        if ((st = zk_prover_create(w->model, &w->slots[i].prover, err)) != EM_OK) {
            em_err_prefix(err, "committing to the model: ");
            goto fail;
        }
    zk_vk_model_hash(zk_prover_vk(w->slots[0].prover), w->model_hash);
    if ((st = zk_vk_serialize(zk_prover_vk(w->slots[0].prover), &w->vk, &w->vk_len, err)) != EM_OK)
        goto fail;
    rpc_method methods[] = {
        {NODE_METHOD_INFER, handle_infer, w},
        {NODE_METHOD_INFO, handle_info, w},
        {NODE_METHOD_HEALTH, handle_health, w},
    };
    /* Slots bound the proofs in flight; the extra threads keep Info/Health answerable. */
    if ((st = rpc_server_start(cfg->bind, cfg->port, methods, 3, (int)w->n_slots + 4, RPC_MAX_MESSAGE,
                               &w->server, err)) != EM_OK)
        goto fail;
    char hx[2 * EM_HASH_LEN + 1];
    em_hex_encode(w->model_hash, EM_HASH_LEN, hx);
    EM_INFO("worker %s serving enclaveml.Worker on %s:%u (device %s, %u cores, %.1f GB, backend %s, model %s)",
            cfg->node_id, cfg->bind, (unsigned)cfg->port, em_device_name(cfg->device), w->dev.cores, w->memory_gb,
            w->dev.backend, hx);
    if (fault != NODE_FAULT_NONE)
        EM_WARN("FAULT INJECTION ACTIVE: %s", node_fault_name(fault));
    *out = w;
    return EM_OK;
fail:
    node_worker_free(w);
    return st;
}

void node_worker_model_hash(const node_worker *w, uint8_t out[EM_HASH_LEN])
{
    memcpy(out, w->model_hash, EM_HASH_LEN);
}

void node_worker_free(node_worker *w)
{
    if (!w)
        return;
    rpc_server_stop(w->server);
    if (w->slots)
        for (uint32_t i = 0; i < w->n_slots; i++)
            zk_prover_free(w->slots[i].prover);
    free(w->slots);
    free(w->vk);
    nn_model_free(w->model);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
