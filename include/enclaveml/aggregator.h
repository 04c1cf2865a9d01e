/* EnclaveML aggregator (DESIGN.md sections 4 and 7): worker registry with health and model-hash
 * pinning, request splitting, parallel dispatch with per-chunk deadlines and re-dispatch, proof
 * verification of every chunk, result combination, REST API (libmicrohttpd) and the gRPC
 * coordination service. REST and gRPC call the same internal functions.
 *
 * The splitter and combiner are exposed for tests and benchmarks.
 * Ownership: agg_server is an opaque handle (_create/_free); agg_split_plan's chunk array is
 * malloc'd and freed by the caller. */
#ifndef ENCLAVEML_AGGREGATOR_H
#define ENCLAVEML_AGGREGATOR_H

#include <stddef.h>
#include <stdint.h>

#include "enclaveml/config.h"
#include "enclaveml/core.h"

/* ---- splitting ------------------------------------------------------------------------------ */
typedef struct agg_chunk {
    uint32_t worker; /* index into the worker arrays given to agg_split_plan */
    size_t start;    /* first sample */
    size_t count;    /* samples, 1..max_batch[worker] */
} agg_chunk;

/* Plans which worker computes which samples.
 *  equal:       every worker weighs the same;
 *  by_capacity: weights = capacity[i] (GB);
 *  redundant:   each sample goes to `replicas` distinct workers (0 or more than n_workers = all), the
 *               ones with the largest capacity (ties: lowest index).
 * Shares are proportional to the weights with largest-remainder rounding (ties to the lower
 * index); a worker's share is capped by max_batch[i] and the excess goes to the others
 * (water-filling); if the whole batch exceeds the sum of the caps, further rounds follow, so a
 * worker may get several chunks. Every chunk holds at most max_batch[worker] samples. Chunks of a
 * non-redundant plan cover [0, n_samples) exactly once, in order. */
em_status agg_split_plan(em_split strategy, const double *capacity, const uint32_t *max_batch, size_t n_workers,
                         size_t n_samples, uint32_t replicas, agg_chunk **chunks, size_t *n_chunks,
                         em_err *err) EM_WARN_UNUSED;

/* ---- combining ------------------------------------------------------------------------------ */
/* Combines the r verified replicas of one sample: out[j] = combine over replicas[i][j], i < r,
 * with k values per replica (dequantized outputs; probabilities when are_probs). weights (may be
 * NULL = all 1) are used by weighted_average.
 *  average / weighted_average / median: per dimension (median of an even count: mean of the two
 *    middle values);
 *  soft_vote: mean of probabilities (softmax is applied to each replica first unless are_probs);
 *  majority_vote: out = vote share per class (votes / r), argmax votes, ties to the lowest class.
 * *pred is the winning class (argmax of out; for majority_vote the vote winner). */
em_status agg_combine_sample(em_combine strategy, const double *const *replicas, const double *weights, size_t r,
                             size_t k, int are_probs, double *out, uint32_t *pred, em_err *err) EM_WARN_UNUSED;

/* ---- the server ------------------------------------------------------------------------------ */
typedef struct agg_server agg_server;

/* Starts the REST server on cfg->bind:cfg->port, the gRPC coordination service on
 * cfg->bind:cfg->grpc_port and the health monitor. */
em_status agg_server_create(const em_agg_config *cfg, agg_server **out, em_err *err) EM_WARN_UNUSED;
/* Stops both servers (waiting for requests in flight) and frees everything. */
void agg_server_free(agg_server *s);

#endif
