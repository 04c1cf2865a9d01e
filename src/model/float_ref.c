/* Float reference forward pass of an imported graph (double precision). It defines what the
 * quantized model approximates: calibration, `model compare` and the conformance tests use it. */
#include "onnx_graph.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t nn__fgraph_output_size(const nn_fgraph *g)
{
    return g->n_ops ? nn_shape_size(g->ops[g->n_ops - 1].out) : nn_shape_size(g->input);
}

void nn__softmax(double *v, size_t k)
{
    if (!k)
        return;
    double mx = v[0], s = 0;
    for (size_t i = 1; i < k; i++)
        mx = v[i] > mx ? v[i] : mx;
    for (size_t i = 0; i < k; i++)
        s += (v[i] = exp(v[i] - mx));
    for (size_t i = 0; i < k; i++)
        v[i] /= s;
}

static void window(const nn_fop *op, const double *x, double *y)
{
    nn_shape in = op->in, out = op->out;
    for (uint32_t oc = 0; oc < out.c; oc++)
        for (uint32_t oy = 0; oy < out.h; oy++)
            for (uint32_t ox = 0; ox < out.w; ox++) {
                double acc = op->kind == NN_CONV2D ? op->bias[oc] : op->kind == NN_MAXPOOL ? -INFINITY : 0;
                uint32_t cnt = 0;
                uint32_t c0 = op->kind == NN_CONV2D ? 0 : oc, c1 = op->kind == NN_CONV2D ? in.c : oc + 1;
                for (uint32_t ic = c0; ic < c1; ic++)
                    for (uint32_t ky = 0; ky < op->kh; ky++)
                        for (uint32_t kx = 0; kx < op->kw; kx++) {
                            int64_t iy = (int64_t)oy * op->sh + ky - op->pt, ix = (int64_t)ox * op->sw + kx - op->pl;
                            int inside = iy >= 0 && iy < in.h && ix >= 0 && ix < in.w;
                            if (op->kind == NN_AVGPOOL) {
                                /* count_include_pad counts pad positions, not positions past the pads */
                                int64_t ph = (int64_t)in.h + op->pb, pw = (int64_t)in.w + op->pr;
                                if (inside || (op->count_include_pad && iy < ph && ix < pw))
                                    cnt++;
                            }
                            if (!inside)
                                continue;
                            double v = x[((size_t)ic * in.h + (size_t)iy) * in.w + (size_t)ix];
                            if (op->kind == NN_CONV2D)
                                acc += op->weight[(((size_t)oc * in.c + ic) * op->kh + ky) * op->kw + kx] * v;
                            else if (op->kind == NN_MAXPOOL)
                                acc = v > acc ? v : acc;
                            else
                                acc += v;
                        }
                if (op->kind == NN_AVGPOOL)
                    acc = cnt ? acc / cnt : 0;
                y[((size_t)oc * out.h + oy) * out.w + ox] = acc;
            }
}

em_status nn__fgraph_forward(const nn_fgraph *g, const float *x, size_t n, double *out, double *op_max, em_err *err)
{
    size_t mx = nn_shape_size(g->input);
    for (size_t i = 0; i < g->n_ops; i++)
        mx = nn_shape_size(g->ops[i].out) > mx ? nn_shape_size(g->ops[i].out) : mx;
    double *a = malloc(mx * sizeof *a), *b = malloc(mx * sizeof *b);
    if (!a || !b) {
        free(a);
        free(b);
        return em_errf(err, EM_ERR_NOMEM, "out of memory in the float reference");
    }
    if (op_max)
        memset(op_max, 0, g->n_ops * sizeof *op_max);
    size_t isz = nn_shape_size(g->input), osz = nn__fgraph_output_size(g);
    for (size_t s = 0; s < n; s++) {
        for (size_t i = 0; i < isz; i++)
            a[i] = x[s * isz + i];
        for (size_t li = 0; li < g->n_ops; li++) {
            const nn_fop *op = &g->ops[li];
            size_t ni = nn_shape_size(op->in), no = nn_shape_size(op->out);
            switch (op->kind) {
            case NN_DENSE:
                for (size_t o = 0; o < no; o++) {
                    double acc = op->bias[o];
                    const float *w = op->weight + o * ni;
                    for (size_t i = 0; i < ni; i++)
                        acc += w[i] * a[i];
                    b[o] = acc;
                }
                break;
            case NN_CONV2D:
            case NN_MAXPOOL:
            case NN_AVGPOOL: window(op, a, b); break;
            case NN_ACT:
            case NN_RESHAPE: memcpy(b, a, ni * sizeof *a); break;
            }
            if (op->act == NN_ACT_RELU)
                for (size_t o = 0; o < no; o++)
                    b[o] = b[o] > 0 ? b[o] : 0;
            if (op_max)
                for (size_t o = 0; o < no; o++)
                    op_max[li] = fabs(b[o]) > op_max[li] ? fabs(b[o]) : op_max[li];
            double *t = a;
            a = b;
            b = t;
        }
        memcpy(out + s * osz, a, osz * sizeof *a);
    }
    free(a);
    free(b);
    return EM_OK;
}
