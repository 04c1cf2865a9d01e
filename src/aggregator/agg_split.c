/* Splitting a batch over workers: proportional shares, largest remainder, max_batch caps. */
#include "enclaveml/aggregator.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct chunk_list {
    agg_chunk *v;
    size_t n, cap;
} chunk_list;

static em_status push(chunk_list *l, uint32_t w, size_t start, size_t count)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 16;
        agg_chunk *p = realloc(l->v, nc * sizeof *p);
        if (!p)
            return EM_ERR_NOMEM;
        l->v = p;
        l->cap = nc;
    }
    l->v[l->n++] = (agg_chunk){w, start, count};
    return EM_OK;
}

/* Distributes `total` (<= sum of caps over `active`) proportionally to weights with largest
 * remainder, capping at caps and refilling the others (water-filling). share[] gets the result. */
static void waterfill(const double *weight, const size_t *cap, size_t nw, size_t total, size_t *share, int *fixed,
                      double *rem)
{
    memset(fixed, 0, nw * sizeof *fixed);
    memset(share, 0, nw * sizeof *share);
    size_t left = total;
    for (;;) {
        double wsum = 0;
        for (size_t i = 0; i < nw; i++)
            if (!fixed[i])
                wsum += weight[i];
        if (left == 0 || wsum <= 0)
            break;
        /* Tentative proportional split of `left` over the unfixed workers. */
        size_t given = 0;
        for (size_t i = 0; i < nw; i++) {
            if (fixed[i])
                continue;
            double exact = (double)left * weight[i] / wsum;
            size_t fl = (size_t)floor(exact);
            share[i] = fl;
            rem[i] = exact - (double)fl;
            given += fl;
        }
        while (given < left) { /* largest remainder, ties to the lower index */
            size_t best = nw;
            for (size_t i = 0; i < nw; i++)
                if (!fixed[i] && (best == nw || rem[i] > rem[best]))
                    best = i;
            share[best]++;
            rem[best] = -1;
            given++;
        }
        /* Workers over their cap keep the cap; the rest is redistributed among the others. */
        int capped = 0;
        for (size_t i = 0; i < nw; i++)
            if (!fixed[i] && share[i] >= cap[i]) {
                share[i] = cap[i];
                fixed[i] = 1;
                left -= cap[i];
                capped = 1;
            }
        if (!capped)
            break;
        for (size_t i = 0; i < nw; i++)
            if (!fixed[i])
                share[i] = 0;
    }
}

em_status agg_split_plan(em_split strategy, const double *capacity, const uint32_t *max_batch, size_t n_workers,
                         size_t n_samples, uint32_t replicas, agg_chunk **chunks, size_t *n_chunks, em_err *err)
{
    if (!capacity || !max_batch || !chunks || !n_chunks)
        return em_errf(err, EM_ERR_ARG, "agg_split_plan: NULL argument");
    *chunks = NULL;
    *n_chunks = 0;
    if (n_workers == 0)
        return em_errf(err, EM_ERR_STATE, "no healthy workers to split over");
    if (n_samples == 0)
        return em_errf(err, EM_ERR_ARG, "no samples to split");
    for (size_t i = 0; i < n_workers; i++) {
        if (!max_batch[i])
            return em_errf(err, EM_ERR_ARG, "worker %zu has max_batch 0", i);
        if (strategy == EM_SPLIT_BY_CAPACITY && !(capacity[i] > 0 && isfinite(capacity[i])))
            return em_errf(err, EM_ERR_ARG, "worker %zu has capacity %g (expected > 0)", i, capacity[i]);
    }
    chunk_list l = {0};
    em_status st = EM_OK;
    if (strategy == EM_SPLIT_REDUNDANT) {
        size_t r = replicas == 0 || replicas > n_workers ? n_workers : replicas;
        /* The r largest workers (stable: ties keep the lower index). */
        int *pick = calloc(n_workers, sizeof *pick);
        if (!pick)
            return em_errf(err, EM_ERR_NOMEM, "out of memory");
        for (size_t j = 0; j < r; j++) {
            size_t best = n_workers;
            for (size_t i = 0; i < n_workers; i++)
                if (!pick[i] && (best == n_workers || capacity[i] > capacity[best]))
                    best = i;
            pick[best] = 1;
        }
        for (size_t i = 0; i < n_workers && st == EM_OK; i++)
            for (size_t s = 0; pick[i] && s < n_samples && st == EM_OK; s += max_batch[i]) {
                size_t c = n_samples - s < max_batch[i] ? n_samples - s : max_batch[i];
                st = push(&l, (uint32_t)i, s, c);
            }
        free(pick);
    } else {
        double *wt = malloc(n_workers * sizeof *wt);
        size_t *cap = malloc(n_workers * sizeof *cap);
        size_t *share = malloc(n_workers * sizeof *share);
        int *fixed = malloc(n_workers * sizeof *fixed);
        double *rem = malloc(n_workers * sizeof *rem);
        if (!wt || !cap || !share || !fixed || !rem)
            st = EM_ERR_NOMEM;
        size_t capsum = 0;
        for (size_t i = 0; st == EM_OK && i < n_workers; i++) {
            wt[i] = strategy == EM_SPLIT_BY_CAPACITY ? capacity[i] : 1.0;
            cap[i] = max_batch[i];
            capsum += cap[i];
        }
        size_t start = 0;
        while (st == EM_OK && start < n_samples) { /* one round per sum-of-caps samples */
            size_t round = n_samples - start < capsum ? n_samples - start : capsum;
            waterfill(wt, cap, n_workers, round, share, fixed, rem);
            for (size_t i = 0; i < n_workers && st == EM_OK; i++)
                if (share[i]) {
                    st = push(&l, (uint32_t)i, start, share[i]);
                    start += share[i];
                }
        }
        free(wt);
        free(cap);
        free(share);
        free(fixed);
        free(rem);
    }
    if (st != EM_OK) {
        free(l.v);
        return em_errf(err, st, "out of memory planning %zu samples", n_samples);
    }
    *chunks = l.v;
    *n_chunks = l.n;
    return EM_OK;
}
