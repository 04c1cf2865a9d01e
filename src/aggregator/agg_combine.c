/* Combining the verified replicas of one sample (DESIGN.md section 4). */
#include "enclaveml/aggregator.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t argmax_d(const double *v, size_t k)
{
    size_t b = 0;
    for (size_t j = 1; j < k; j++)
        if (v[j] > v[b])
            b = j;
    return (uint32_t)b;
}

static void softmax(const double *x, size_t k, double *y)
{
    double m = x[0], s = 0;
    for (size_t j = 1; j < k; j++)
        m = x[j] > m ? x[j] : m;
    for (size_t j = 0; j < k; j++)
        s += (y[j] = exp(x[j] - m));
    for (size_t j = 0; j < k; j++)
        y[j] /= s;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

em_status agg_combine_sample(em_combine strategy, const double *const *rep, const double *weights, size_t r,
                             size_t k, int are_probs, double *out, uint32_t *pred, em_err *err)
{
    if (!rep || !out || !pred || r == 0 || k == 0)
        return em_errf(err, EM_ERR_ARG, "agg_combine_sample: no replicas or empty outputs");
    double *tmp = malloc((r > k ? r : k) * sizeof *tmp);
    if (!tmp)
        return em_errf(err, EM_ERR_NOMEM, "out of memory");
    em_status st = EM_OK;
    switch (strategy) {
    case EM_COMBINE_AVERAGE:
    case EM_COMBINE_WEIGHTED_AVERAGE: {
        double wsum = 0;
        for (size_t i = 0; i < r; i++) {
            double w = strategy == EM_COMBINE_WEIGHTED_AVERAGE && weights ? weights[i] : 1.0;
            if (!(w > 0) || !isfinite(w)) {
                st = em_errf(err, EM_ERR_ARG, "replica %zu has weight %g (expected > 0)", i, w);
                goto out;
            }
            wsum += w;
        }
        for (size_t j = 0; j < k; j++) {
            double s = 0;
            for (size_t i = 0; i < r; i++)
                s += (strategy == EM_COMBINE_WEIGHTED_AVERAGE && weights ? weights[i] : 1.0) * rep[i][j];
            out[j] = s / wsum;
        }
        *pred = argmax_d(out, k);
        break;
    }
    case EM_COMBINE_SOFT_VOTE:
        memset(out, 0, k * sizeof *out);
        for (size_t i = 0; i < r; i++) {
            if (are_probs)
                memcpy(tmp, rep[i], k * sizeof *tmp);
            else
                softmax(rep[i], k, tmp);
            for (size_t j = 0; j < k; j++)
                out[j] += tmp[j] / (double)r;
        }
        *pred = argmax_d(out, k);
        break;
    case EM_COMBINE_MAJORITY_VOTE: {
        memset(out, 0, k * sizeof *out);
        for (size_t i = 0; i < r; i++)
            out[argmax_d(rep[i], k)] += 1.0;
        *pred = argmax_d(out, k); /* strict '>' keeps the lowest class on ties */
        for (size_t j = 0; j < k; j++)
            out[j] /= (double)r;
        break;
    }
    case EM_COMBINE_MEDIAN:
        for (size_t j = 0; j < k; j++) {
            for (size_t i = 0; i < r; i++)
                tmp[i] = rep[i][j];
            qsort(tmp, r, sizeof *tmp, cmp_d);
            out[j] = r % 2 ? tmp[r / 2] : (tmp[r / 2 - 1] + tmp[r / 2]) / 2.0;
        }
        *pred = argmax_d(out, k);
        break;
    default:
        st = em_errf(err, EM_ERR_ARG, "unknown combine strategy %d", (int)strategy);
    }
out:
    free(tmp);
    return st;
}
