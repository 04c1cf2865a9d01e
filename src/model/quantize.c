/* Float chain -> integer model with power-of-two scales (docs/MODEL.md, "Quantization").
 * Scales come from calibration: the input scale from max|x|, each dense/conv layer's weight
 * scale from max|W| and its output scale from the float activations the reference pass
 * observes, so the calibration maximum maps just below the activation limit. */
#include "model_internal.h"
#include "onnx_graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SYNTH_SAMPLES 64
#define BIAS_MAX_LOG2 40 /* keep quantized biases far inside the accumulator bound */

/* Largest s in [lo, hi] with v * 2^s <= lim (v > 0); lo if none. */
static int32_t pick_scale(double v, double lim, int32_t lo, int32_t hi)
{
    for (int32_t s = hi; s > lo; s--)
        if (ldexp(v, s) <= lim)
            return s;
    return lo;
}

static double max_abs(const float *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fabs(v[i]) > m ? fabs(v[i]) : m;
    return m;
}

static float *synth_inputs(size_t n, size_t sz)
{
    float *x = malloc(n * sz * sizeof *x);
    if (!x)
        return NULL;
    uint64_t st = 0x454e434c4156454dULL; /* fixed seed: imports are reproducible */
    for (size_t i = 0; i < n * sz; i++) {
        uint64_t z = (st += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        x[i] = (float)((double)(z >> 11) / (double)(1ULL << 53) * 2.0 - 1.0);
    }
    return x;
}

em_status nn__fgraph_quantize(const nn_fgraph *g, const nn_import_opts *opts, nn_model **out, em_err *err)
{
    em_status st = EM_OK;
    nn_model *m = NULL;
    float *synth = NULL;
    double *op_max = NULL, *fout = NULL;
    nn_layer l = {0};
    *out = NULL;
    uint32_t A = opts->act_bits, W = opts->weight_bits;
    if (A < NN_MIN_BITS || A > NN_MAX_BITS || W < NN_MIN_BITS || W > NN_MAX_BITS)
        return em_errf(err, EM_ERR_RANGE, "act_bits %u / weight_bits %u must be in [%d, %d]", A, W, NN_MIN_BITS,
                       NN_MAX_BITS);
    size_t isz = nn_shape_size(g->input);
    const float *x = opts->calib;
    size_t n = opts->n_calib;
    if (!x || !n) {
        n = SYNTH_SAMPLES;
        if (!(synth = synth_inputs(n, isz))) {
            st = em_errf(err, EM_ERR_NOMEM, "out of memory for calibration inputs");
            goto out;
        }
        x = synth;
    }
    for (size_t i = 0; i < n * isz; i++)
        if (!isfinite(x[i])) {
            st = em_errf(err, EM_ERR_RANGE, "calibration value %zu is not finite", i);
            goto out;
        }
    op_max = calloc(g->n_ops ? g->n_ops : 1, sizeof *op_max);
    fout = malloc(n * nn__fgraph_output_size(g) * sizeof *fout);
    if (!op_max || !fout) {
        st = em_errf(err, EM_ERR_NOMEM, "out of memory for calibration");
        goto out;
    }
    if ((st = nn__fgraph_forward(g, x, n, fout, op_max, err)) != EM_OK)
        goto out;

    double amax = ldexp(1, (int)A - 1) - 1, wmax = ldexp(1, (int)W - 1) - 1;
    double xm = max_abs(x, n * isz);
    int32_t in_scale = xm > 0 ? pick_scale(xm, amax, -8, 24) : 0;
    if ((st = nn__model_new(opts->name, g->input, A, W, in_scale, NULL, &m, err)) != EM_OK)
        goto out;
    m->softmax = g->softmax;
    m->synthetic_calib = synth != NULL;

    int32_t sc = in_scale;
    for (size_t i = 0; i < g->n_ops; i++) {
        const nn_fop *op = &g->ops[i];
        memset(&l, 0, sizeof l);
        l.kind = op->kind;
        l.in = op->in;
        l.out = op->out;
        l.kh = op->kh, l.kw = op->kw, l.sh = op->sh, l.sw = op->sw;
        l.pt = op->pt, l.pl = op->pl, l.pb = op->pb, l.pr = op->pr;
        l.count_include_pad = op->count_include_pad;
        l.act = op->act;
        l.in_scale = sc;
        l.out_scale = sc;
        memcpy(l.name, op->name, sizeof l.name);
        if (op->kind == NN_AVGPOOL)
            l.shift = 16;
        if (op->kind == NN_DENSE || op->kind == NN_CONV2D) {
            double wm = max_abs(op->weight, op->n_weight), bm = max_abs(op->bias, op->n_bias);
            int32_t ws = wm > 0 ? pick_scale(wm, wmax, -32, 40) : 0;
            int32_t os = op_max[i] > 0 ? pick_scale(op_max[i], amax, NN_MIN_SCALE, NN_MAX_SCALE) : sc + ws;
            /* the bias must stay well inside the accumulator */
            while (bm > 0 && ldexp(bm, sc + ws) > ldexp(1, BIAS_MAX_LOG2) && ws > -32)
                ws--;
            int32_t k = sc + ws - os;
            if (k < 0) { /* the output cannot be finer than the accumulator */
                os = sc + ws;
                k = 0;
            }
            if (k > NN_MAX_SHIFT) { /* cap the shift by coarsening the weights */
                ws -= k - NN_MAX_SHIFT;
                k = NN_MAX_SHIFT;
            }
            l.w_scale = ws;
            l.out_scale = os;
            l.shift = (uint32_t)k;
            l.n_weight = op->n_weight;
            l.n_bias = op->n_bias;
            l.weight = malloc(op->n_weight * sizeof *l.weight);
            l.bias = malloc(op->n_bias * sizeof *l.bias);
            if (!l.weight || !l.bias) {
                st = em_errf(err, EM_ERR_NOMEM, "out of memory quantizing layer '%s'", op->name);
                goto out;
            }
            for (size_t j = 0; j < op->n_weight; j++) {
                double q = round(ldexp(op->weight[j], ws));
                q = q > wmax ? wmax : q < -wmax - 1 ? -wmax - 1 : q;
                l.weight[j] = (int32_t)q;
            }
            for (size_t j = 0; j < op->n_bias; j++)
                l.bias[j] = (int64_t)llround(ldexp(op->bias[j], sc + ws));
            sc = os;
        }
        if ((st = nn__model_append(m, &l, 1, err)) != EM_OK)
            goto out;
    }
    if ((st = nn_model_validate(m, err)) != EM_OK)
        goto out;
    *out = m;
    m = NULL;
out:
    free(l.weight);
    free(l.bias);
    nn_model_free(m);
    free(synth);
    free(op_max);
    free(fout);
    return st;
}
