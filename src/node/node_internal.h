/* Worker internals shared by node_worker.c (gRPC service) and node_register.c (aggregator link). */
#ifndef EM_NODE_INTERNAL_H
#define EM_NODE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "enclaveml/model.h"
#include "enclaveml/node.h"
#include "enclaveml/zkml/zk.h"
#include "rpc.h"

/* One prover per concurrent Infer slot: a zk_prover is not shared between threads. */
typedef struct node_slot {
    zk_prover *prover;
    int busy;
} node_slot;

struct node_worker {
    em_worker_config cfg;
    node_fault fault;
    node_device_info dev;
    double memory_gb; /* declared, or detected when not declared */
    nn_model *model;
    node_slot *slots;
    uint32_t n_slots;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint8_t model_hash[EM_HASH_LEN];
    uint8_t *vk;
    size_t vk_len;
    size_t input_size, output_size;
    rpc_server *server;
    atomic_uint active;
    atomic_ullong served;
    double start_ms;
    volatile sig_atomic_t *stop; /* set while node_worker_run runs; slow faults watch it */
};

#endif
