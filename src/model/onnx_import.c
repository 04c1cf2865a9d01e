/* ONNX -> float chain. The file is untrusted: protobuf-c rejects malformed encodings, and every
 * tensor size, attribute and shape is checked here before use. Supported graphs are chains
 * (each node consumes the previous node's output) of the ops listed in docs/MODEL.md. */
#include "onnx_graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx-subset.pb-c.h"

#define ONNX_MAX_FILE ((size_t)1 << 30)
#define ONNX_MAX_ELEMS ((size_t)1 << 28)
#define ONNX_MAX_NODES 4096

enum { DT_FLOAT = 1, DT_INT32 = 6, DT_INT64 = 7, DT_DOUBLE = 11 };
enum { AT_FLOAT = 1, AT_INT = 2, AT_STRING = 3, AT_TENSOR = 4, AT_FLOATS = 6, AT_INTS = 7 };

typedef struct ctensor {
    const char *name; /* borrowed from the protobuf */
    size_t nd;
    int64_t dims[8];
    size_t n;
    float *f;   /* float view (every type), owned */
    int64_t *i; /* integer view (int types only), owned */
} ctensor;

typedef struct ictx {
    Onnx__ModelProto *mp;
    ctensor *t;
    size_t nt, capt;
    nn_fgraph *g;
    int64_t opset;
} ictx;

static const char *nname(const Onnx__NodeProto *n) { return n->name && n->name[0] ? n->name : "(unnamed)"; }
static const char *ntype(const Onnx__NodeProto *n) { return n->op_type ? n->op_type : "(none)"; }

#define UNSUP(node, ...) unsup(err, node, __VA_ARGS__)
static em_status unsup(em_err *err, const Onnx__NodeProto *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static em_status unsup(em_err *err, const Onnx__NodeProto *node, const char *fmt, ...)
{
    char why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return em_errf(err, EM_ERR_UNSUPPORTED, "unsupported op '%s' in node '%s': %s", ntype(node), nname(node), why);
}

/* ---- tensors ------------------------------------------------------------------------------- */

static em_status tensor_convert(const Onnx__TensorProto *tp, const char *name, ctensor *out, em_err *err)
{
    memset(out, 0, sizeof *out);
    out->name = name;
    if (tp->has_data_location && tp->data_location != 0)
        return em_errf(err, EM_ERR_UNSUPPORTED, "tensor '%s': external data is not supported", name);
    if (tp->n_dims > 8)
        return em_errf(err, EM_ERR_UNSUPPORTED, "tensor '%s': rank %zu > 8", name, tp->n_dims);
    size_t n = 1;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0 || (uint64_t)tp->dims[i] > ONNX_MAX_ELEMS || !em_mul_ok(n, (size_t)tp->dims[i], &n) ||
            n > ONNX_MAX_ELEMS)
            return em_errf(err, EM_ERR_LIMIT, "tensor '%s': dimension %zu = %lld is negative or too large", name, i,
                           (long long)tp->dims[i]);
        out->dims[i] = tp->dims[i];
    }
    out->nd = tp->n_dims;
    out->n = n;
    int dt = tp->has_data_type ? tp->data_type : 0;
    size_t esz = dt == DT_FLOAT || dt == DT_INT32 ? 4 : dt == DT_INT64 || dt == DT_DOUBLE ? 8 : 0;
    if (!esz)
        return em_errf(err, EM_ERR_UNSUPPORTED, "tensor '%s': data type %d is not supported (float, double, int32, "
                       "int64 only)", name, dt);
    const uint8_t *raw = tp->has_raw_data ? tp->raw_data.data : NULL;
    size_t have;
    if (raw || tp->has_raw_data)
        have = tp->raw_data.len / esz;
    else
        have = dt == DT_FLOAT ? tp->n_float_data : dt == DT_INT32 ? tp->n_int32_data
                             : dt == DT_INT64 ? tp->n_int64_data : tp->n_double_data;
    if ((tp->has_raw_data && tp->raw_data.len != n * esz) || have != n)
        return em_errf(err, EM_ERR_FORMAT, "tensor '%s': holds %zu values, its dims need %zu", name,
                       tp->has_raw_data ? tp->raw_data.len / esz : have, n);
    out->f = malloc((n ? n : 1) * sizeof *out->f);
    if (!out->f)
        return em_errf(err, EM_ERR_NOMEM, "out of memory reading tensor '%s'", name);
    int is_int = dt == DT_INT32 || dt == DT_INT64;
    if (is_int && !(out->i = malloc((n ? n : 1) * sizeof *out->i))) {
        free(out->f);
        out->f = NULL;
        return em_errf(err, EM_ERR_NOMEM, "out of memory reading tensor '%s'", name);
    }
    for (size_t k = 0; k < n; k++) {
        double v;
        int64_t iv = 0;
        if (raw) {
            const uint8_t *p = raw + k * esz;
            uint64_t u = 0;
            for (size_t b = 0; b < esz; b++)
                u |= (uint64_t)p[b] << (8 * b);
            if (dt == DT_FLOAT) {
                uint32_t u32 = (uint32_t)u;
                float fv;
                memcpy(&fv, &u32, 4);
                v = fv;
            } else if (dt == DT_DOUBLE) {
                memcpy(&v, &u, 8);
            } else if (dt == DT_INT32) {
                iv = (int32_t)(uint32_t)u;
                v = (double)iv;
            } else {
                iv = (int64_t)u;
                v = (double)iv;
            }
        } else {
            switch (dt) {
            case DT_FLOAT: v = tp->float_data[k]; break;
            case DT_DOUBLE: v = tp->double_data[k]; break;
            case DT_INT32: iv = tp->int32_data[k]; v = (double)iv; break;
            default: iv = tp->int64_data[k]; v = (double)iv; break;
            }
        }
        if (!isfinite(v) || fabs(v) > 3.0e38) {
            free(out->f);
            free(out->i);
            memset(out, 0, sizeof *out);
            return em_errf(err, EM_ERR_RANGE, "tensor '%s': value %zu is not a finite float", name, k);
        }
        out->f[k] = (float)v;
        if (is_int)
            out->i[k] = iv;
    }
    return EM_OK;
}

static em_status tensor_add(ictx *c, const Onnx__TensorProto *tp, const char *name, em_err *err)
{
    if (!name || !name[0])
        return em_errf(err, EM_ERR_FORMAT, "an initializer or constant has no name");
    if (c->nt == c->capt) {
        size_t nc = c->capt ? 2 * c->capt : 16;
        ctensor *nt = realloc(c->t, nc * sizeof *nt);
        if (!nt)
            return em_errf(err, EM_ERR_NOMEM, "out of memory");
        c->t = nt;
        c->capt = nc;
    }
    em_status st = tensor_convert(tp, name, &c->t[c->nt], err);
    if (st == EM_OK)
        c->nt++;
    return st;
}

static const ctensor *tensor_find(const ictx *c, const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = c->nt; i-- > 0;)
        if (!strcmp(c->t[i].name, name))
            return &c->t[i];
    return NULL;
}

/* ---- attributes ---------------------------------------------------------------------------- */

static const Onnx__AttributeProto *attr(const Onnx__NodeProto *n, const char *name)
{
    for (size_t i = 0; i < n->n_attribute; i++)
        if (n->attribute[i]->name && !strcmp(n->attribute[i]->name, name))
            return n->attribute[i];
    return NULL;
}

static em_status attr_int(const Onnx__NodeProto *n, const char *name, int64_t def, int64_t *v, em_err *err)
{
    const Onnx__AttributeProto *a = attr(n, name);
    *v = def;
    if (!a)
        return EM_OK;
    if ((a->has_type && a->type != AT_INT) || !a->has_i)
        return UNSUP(n, "attribute '%s' must be an int", name);
    *v = a->i;
    return EM_OK;
}

static em_status attr_float(const Onnx__NodeProto *n, const char *name, float def, float *v, em_err *err)
{
    const Onnx__AttributeProto *a = attr(n, name);
    *v = def;
    if (!a)
        return EM_OK;
    if ((a->has_type && a->type != AT_FLOAT) || !a->has_f)
        return UNSUP(n, "attribute '%s' must be a float", name);
    *v = a->f;
    return EM_OK;
}

/* ints attribute with exactly `want` entries (or absent: *present = 0). */
static em_status attr_ints(const Onnx__NodeProto *n, const char *name, size_t want, int64_t *v, int *present,
                           em_err *err)
{
    const Onnx__AttributeProto *a = attr(n, name);
    *present = 0;
    if (!a)
        return EM_OK;
    if (a->has_type && a->type != AT_INTS)
        return UNSUP(n, "attribute '%s' must be a list of ints", name);
    if (a->n_ints != want)
        return UNSUP(n, "attribute '%s' has %zu values, expected %zu", name, a->n_ints, want);
    for (size_t i = 0; i < want; i++)
        v[i] = a->ints[i];
    *present = 1;
    return EM_OK;
}

static em_status check_known_attrs(const Onnx__NodeProto *n, const char *const *known, em_err *err)
{
    for (size_t i = 0; i < n->n_attribute; i++) {
        const char *an = n->attribute[i]->name ? n->attribute[i]->name : "";
        int ok = 0;
        for (size_t k = 0; known[k]; k++)
            ok |= !strcmp(an, known[k]);
        if (!ok)
            return UNSUP(n, "attribute '%s' is not supported", an);
    }
    return EM_OK;
}

/* ---- building the chain -------------------------------------------------------------------- */

typedef struct chain {
    nn_shape shape;
    int rank; /* per-sample rank: 1 (vector), 2 or 3 (C,H,W) */
    int fusable; /* the current value is the raw output of a dense/conv op */
    int matmul_open; /* the current value is a MatMul output whose bias may follow as Add */
} chain;

static em_status push_op(nn_fgraph *g, const nn_fop *op, em_err *err)
{
    if (g->n_ops >= 1024)
        return em_errf(err, EM_ERR_LIMIT, "more than 1024 layers");
    nn_fop *no = realloc(g->ops, (g->n_ops + 1) * sizeof *no);
    if (!no)
        return em_errf(err, EM_ERR_NOMEM, "out of memory");
    g->ops = no;
    g->ops[g->n_ops++] = *op;
    return EM_OK;
}

static void op_name(nn_fop *op, const Onnx__NodeProto *n) { snprintf(op->name, sizeof op->name, "%s", nname(n)); }

static em_status add_reshape(nn_fgraph *g, chain *ch, nn_shape out, int rank, const Onnx__NodeProto *n, em_err *err)
{
    nn_fop op = {.kind = NN_RESHAPE, .in = ch->shape, .out = out};
    op_name(&op, n);
    em_status st = push_op(g, &op, err);
    if (st == EM_OK) {
        ch->shape = out;
        ch->rank = rank;
    }
    return st;
}

static em_status shape_from_dims(const int64_t *d, size_t nd, nn_shape *s, int *rank)
{
    if (nd < 1 || nd > 3)
        return EM_ERR_UNSUPPORTED;
    uint32_t v[3] = {1, 1, 1};
    for (size_t i = 0; i < nd; i++) {
        if (d[i] < 1 || d[i] > 65536)
            return EM_ERR_RANGE;
        v[i] = (uint32_t)d[i];
    }
    *s = (nn_shape){v[0], v[1], v[2]};
    *rank = (int)nd;
    return EM_OK;
}

static em_status op_dense(ictx *c, chain *ch, const Onnx__NodeProto *n, const ctensor *W, int trans, float alpha,
                          const ctensor *C, float beta, em_err *err)
{
    if (ch->rank != 1)
        return UNSUP(n, "needs a 2-D (batch x features) input, got a rank-%d sample; add Flatten", ch->rank + 1);
    if (!W || W->nd != 2)
        return UNSUP(n, "the weight input must be a constant 2-D tensor");
    size_t in = ch->shape.c;
    size_t k = (size_t)(trans ? W->dims[1] : W->dims[0]), m = (size_t)(trans ? W->dims[0] : W->dims[1]);
    if (k != in)
        return em_errf(err, EM_ERR_FORMAT, "node '%s' (%s): weight has %zu inputs but the data has %zu", nname(n),
                       ntype(n), k, in);
    if (m < 1 || m > 65536)
        return em_errf(err, EM_ERR_LIMIT, "node '%s' (%s): %zu outputs", nname(n), ntype(n), m);
    if (C && !(C->n == m || C->n == 1))
        return UNSUP(n, "bias with %zu values cannot broadcast to %zu outputs", C->n, m);
    nn_fop op = {.kind = NN_DENSE, .in = ch->shape, .out = {(uint32_t)m, 1, 1}, .n_weight = m * in, .n_bias = m};
    op_name(&op, n);
    op.weight = malloc(m * in * sizeof *op.weight);
    op.bias = calloc(m, sizeof *op.bias);
    if (!op.weight || !op.bias) {
        free(op.weight);
        free(op.bias);
        return em_errf(err, EM_ERR_NOMEM, "out of memory");
    }
    for (size_t o = 0; o < m; o++) {
        for (size_t i = 0; i < in; i++)
            op.weight[o * in + i] = alpha * (trans ? W->f[o * in + i] : W->f[i * m + o]);
        if (C)
            op.bias[o] = beta * C->f[C->n == 1 ? 0 : o];
    }
    em_status st = push_op(c->g, &op, err);
    if (st != EM_OK) {
        free(op.weight);
        free(op.bias);
        return st;
    }
    ch->shape = op.out;
    ch->fusable = 1;
    return EM_OK;
}

/* kernel/stride/pad/dilation attributes shared by Conv and the pools. */
static em_status window_attrs(const Onnx__NodeProto *n, nn_fop *op, int64_t kdef_h, int64_t kdef_w, em_err *err)
{
    int64_t ks[2] = {kdef_h, kdef_w}, st2[2] = {1, 1}, pads[4] = {0, 0, 0, 0}, dil[2] = {1, 1};
    int pk, ps, pp, pd;
    em_status st;
    if ((st = attr_ints(n, "kernel_shape", 2, ks, &pk, err)) != EM_OK ||
        (st = attr_ints(n, "strides", 2, st2, &ps, err)) != EM_OK ||
        (st = attr_ints(n, "pads", 4, pads, &pp, err)) != EM_OK ||
        (st = attr_ints(n, "dilations", 2, dil, &pd, err)) != EM_OK)
        return st;
    if (!pk && kdef_h < 0)
        return UNSUP(n, "kernel_shape is required");
    if (pk && kdef_h >= 0 && (ks[0] != kdef_h || ks[1] != kdef_w))
        return UNSUP(n, "kernel_shape %lldx%lld does not match the weight %lldx%lld", (long long)ks[0],
                     (long long)ks[1], (long long)kdef_h, (long long)kdef_w);
    if (dil[0] != 1 || dil[1] != 1)
        return UNSUP(n, "dilation %lldx%lld (only 1 is supported)", (long long)dil[0], (long long)dil[1]);
    const Onnx__AttributeProto *ap = attr(n, "auto_pad");
    if (ap && ap->has_s && !(ap->s.len == 0 || (ap->s.len == 6 && !memcmp(ap->s.data, "NOTSET", 6)) ||
                             (ap->s.len == 5 && !memcmp(ap->s.data, "VALID", 5))))
        return UNSUP(n, "auto_pad '%.*s' (only NOTSET/VALID; give explicit pads)", (int)(ap->s.len > 20 ? 20 : ap->s.len),
                     (const char *)ap->s.data);
    int64_t ceil_mode;
    if ((st = attr_int(n, "ceil_mode", 0, &ceil_mode, err)) != EM_OK)
        return st;
    if (ceil_mode)
        return UNSUP(n, "ceil_mode=1");
    for (int i = 0; i < 2; i++)
        if (ks[i] < 1 || ks[i] > 1024 || st2[i] < 1 || st2[i] > 1024)
            return UNSUP(n, "kernel %lld / stride %lld outside [1, 1024]", (long long)ks[i], (long long)st2[i]);
    for (int i = 0; i < 4; i++)
        if (pads[i] < 0 || pads[i] > 1024)
            return UNSUP(n, "pad %lld outside [0, 1024]", (long long)pads[i]);
    op->kh = (uint32_t)ks[0], op->kw = (uint32_t)ks[1], op->sh = (uint32_t)st2[0], op->sw = (uint32_t)st2[1];
    op->pt = (uint32_t)pads[0], op->pl = (uint32_t)pads[1], op->pb = (uint32_t)pads[2], op->pr = (uint32_t)pads[3];
    return EM_OK;
}

static em_status window_out_shape(const Onnx__NodeProto *n, nn_fop *op, uint32_t oc, em_err *err)
{
    uint64_t ph = (uint64_t)op->in.h + op->pt + op->pb, pw = (uint64_t)op->in.w + op->pl + op->pr;
    if (ph < op->kh || pw < op->kw)
        return UNSUP(n, "kernel %ux%u larger than the padded input %llux%llu", op->kh, op->kw, (unsigned long long)ph,
                     (unsigned long long)pw);
    op->out = (nn_shape){oc, (uint32_t)((ph - op->kh) / op->sh + 1), (uint32_t)((pw - op->kw) / op->sw + 1)};
    return EM_OK;
}

static em_status op_conv(ictx *c, chain *ch, const Onnx__NodeProto *n, em_err *err)
{
    static const char *const known[] = {"kernel_shape", "strides", "pads", "dilations", "group", "auto_pad", NULL};
    em_status st;
    if ((st = check_known_attrs(n, known, err)) != EM_OK)
        return st;
    int64_t group;
    if ((st = attr_int(n, "group", 1, &group, err)) != EM_OK)
        return st;
    if (group != 1)
        return UNSUP(n, "group=%lld (only group=1 is supported)", (long long)group);
    if (ch->rank != 3)
        return UNSUP(n, "needs an N x C x H x W input");
    const ctensor *W = n->n_input > 1 ? tensor_find(c, n->input[1]) : NULL;
    const ctensor *B = n->n_input > 2 && n->input[2][0] ? tensor_find(c, n->input[2]) : NULL;
    if (!W || W->nd != 4)
        return UNSUP(n, "the weight must be a constant 4-D tensor (2-D convolution only)");
    if (n->n_input > 2 && n->input[2][0] && !B)
        return UNSUP(n, "the bias must be a constant");
    if ((size_t)W->dims[1] != ch->shape.c)
        return em_errf(err, EM_ERR_FORMAT, "node '%s' (Conv): weight expects %lld channels, input has %u", nname(n),
                       (long long)W->dims[1], ch->shape.c);
    if (W->dims[0] < 1 || W->dims[0] > 65536 || (B && (int64_t)B->n != W->dims[0]))
        return em_errf(err, EM_ERR_FORMAT, "node '%s' (Conv): bad output channel count / bias size", nname(n));
    nn_fop op = {.kind = NN_CONV2D, .in = ch->shape};
    op_name(&op, n);
    if ((st = window_attrs(n, &op, W->dims[2], W->dims[3], err)) != EM_OK ||
        (st = window_out_shape(n, &op, (uint32_t)W->dims[0], err)) != EM_OK)
        return st;
    op.n_weight = W->n;
    op.n_bias = (size_t)W->dims[0];
    op.weight = malloc(W->n * sizeof *op.weight);
    op.bias = calloc(op.n_bias, sizeof *op.bias);
    if (!op.weight || !op.bias) {
        free(op.weight);
        free(op.bias);
        return em_errf(err, EM_ERR_NOMEM, "out of memory");
    }
    memcpy(op.weight, W->f, W->n * sizeof *op.weight);
    if (B)
        memcpy(op.bias, B->f, op.n_bias * sizeof *op.bias);
    if ((st = push_op(c->g, &op, err)) != EM_OK) {
        free(op.weight);
        free(op.bias);
        return st;
    }
    ch->shape = op.out;
    ch->fusable = 1;
    return EM_OK;
}

static em_status op_pool(ictx *c, chain *ch, const Onnx__NodeProto *n, int avg, em_err *err)
{
    static const char *const kmax[] = {"kernel_shape", "strides", "pads", "dilations", "auto_pad", "ceil_mode",
                                       "storage_order", NULL};
    static const char *const kavg[] = {"kernel_shape", "strides", "pads", "auto_pad", "ceil_mode",
                                       "count_include_pad", NULL};
    em_status st;
    if ((st = check_known_attrs(n, avg ? kavg : kmax, err)) != EM_OK)
        return st;
    if (ch->rank != 3)
        return UNSUP(n, "needs an N x C x H x W input");
    if (n->n_output > 1 && n->output[1][0])
        return UNSUP(n, "the Indices output is not supported");
    nn_fop op = {.kind = avg ? NN_AVGPOOL : NN_MAXPOOL, .in = ch->shape};
    op_name(&op, n);
    if ((st = window_attrs(n, &op, -1, -1, err)) != EM_OK)
        return st;
    if (op.pt >= op.kh || op.pb >= op.kh || op.pl >= op.kw || op.pr >= op.kw)
        return UNSUP(n, "pads must be smaller than the kernel");
    int64_t cip = 0;
    if (avg && (st = attr_int(n, "count_include_pad", 0, &cip, err)) != EM_OK)
        return st;
    op.count_include_pad = cip ? 1 : 0;
    if ((st = window_out_shape(n, &op, ch->shape.c, err)) != EM_OK || (st = push_op(c->g, &op, err)) != EM_OK)
        return st;
    ch->shape = op.out;
    return EM_OK;
}

static em_status op_reshape(ictx *c, chain *ch, const Onnx__NodeProto *n, em_err *err)
{
    if (n->n_input != 2)
        return UNSUP(n, "needs a data and a shape input");
    const ctensor *S = tensor_find(c, n->input[1]);
    if (!S || !S->i || S->nd != 1)
        return UNSUP(n, "the shape input must be a constant 1-D int64 tensor");
    static const char *const known[] = {"allowzero", NULL};
    em_status st;
    if ((st = check_known_attrs(n, known, err)) != EM_OK)
        return st;
    if (S->n < 2 || S->n > 4)
        return UNSUP(n, "target rank %zu (2 to 4 supported, batch first)", S->n);
    int64_t d[4];
    size_t total = nn_shape_size(ch->shape), known_prod = 1;
    int infer = -1;
    uint32_t cur[3] = {ch->shape.c, ch->shape.h, ch->shape.w};
    if (!(S->i[0] == 0 || S->i[0] == -1 || S->i[0] == 1))
        return UNSUP(n, "the first (batch) dimension must be 0, -1 or 1, got %lld", (long long)S->i[0]);
    for (size_t i = 1; i < S->n; i++) {
        d[i] = S->i[i];
        if (d[i] == 0)
            d[i] = (int)i - 1 < ch->rank ? cur[i - 1] : 0;
        if (d[i] == -1) {
            if (infer >= 0 || S->i[0] == -1)
                return UNSUP(n, "more than one inferred (-1) dimension");
            infer = (int)i;
            continue;
        }
        if (d[i] < 1 || d[i] > 65536)
            return UNSUP(n, "dimension %zu = %lld", i, (long long)S->i[i]);
        known_prod *= (size_t)d[i];
    }
    if (infer >= 0) {
        if (total % known_prod)
            return em_errf(err, EM_ERR_FORMAT, "node '%s' (Reshape): %zu values do not divide into the shape",
                           nname(n), total);
        d[infer] = (int64_t)(total / known_prod);
    } else if (known_prod != total) {
        return em_errf(err, EM_ERR_FORMAT, "node '%s' (Reshape): %zu values per sample cannot become %zu", nname(n),
                       total, known_prod);
    }
    nn_shape s;
    int rank;
    if (shape_from_dims(d + 1, S->n - 1, &s, &rank) != EM_OK)
        return UNSUP(n, "target shape out of range");
    return add_reshape(c->g, ch, s, rank, n, err);
}

static em_status node_inputs_const(ictx *c, const Onnx__NodeProto *n, size_t from, em_err *err)
{
    for (size_t i = from; i < n->n_input; i++)
        if (n->input[i][0] && !tensor_find(c, n->input[i]))
            return UNSUP(n, "input %zu ('%s') must be a constant; graphs must be chains", i, n->input[i]);
    return EM_OK;
}

static em_status build_chain(ictx *c, em_err *err)
{
    Onnx__GraphProto *gp = c->mp->graph;
    em_status st;
    if (gp->n_node > ONNX_MAX_NODES)
        return em_errf(err, EM_ERR_LIMIT, "%zu nodes exceed the cap %d", gp->n_node, ONNX_MAX_NODES);
    for (size_t i = 0; i < gp->n_initializer; i++)
        if ((st = tensor_add(c, gp->initializer[i], gp->initializer[i]->name, err)) != EM_OK)
            return st;

    /* the data input: the one graph input that is not an initializer */
    const Onnx__ValueInfoProto *in = NULL;
    for (size_t i = 0; i < gp->n_input; i++) {
        if (tensor_find(c, gp->input[i]->name))
            continue;
        if (in)
            return em_errf(err, EM_ERR_UNSUPPORTED, "the graph has more than one data input ('%s', '%s')",
                           in->name ? in->name : "", gp->input[i]->name ? gp->input[i]->name : "");
        in = gp->input[i];
    }
    if (!in || !in->name)
        return em_errf(err, EM_ERR_FORMAT, "the graph has no data input");
    const Onnx__TypeProto *tp = in->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type->shape)
        return em_errf(err, EM_ERR_UNSUPPORTED, "graph input '%s' has no tensor shape", in->name);
    const Onnx__TensorShapeProto *sh = tp->tensor_type->shape;
    if (tp->tensor_type->has_elem_type && tp->tensor_type->elem_type != DT_FLOAT)
        return em_errf(err, EM_ERR_UNSUPPORTED, "unsupported input: graph input '%s' has element type %d (only "
                       "float inputs are supported)", in->name,
                       tp->tensor_type->elem_type);
    if (sh->n_dim < 2 || sh->n_dim > 4)
        return em_errf(err, EM_ERR_UNSUPPORTED, "graph input '%s' has rank %zu (2 to 4 supported, batch first)",
                       in->name, sh->n_dim);
    int64_t d[3];
    for (size_t i = 1; i < sh->n_dim; i++) {
        if (sh->dim[i]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
            return em_errf(err, EM_ERR_UNSUPPORTED, "graph input '%s': dimension %zu is dynamic (only the batch "
                           "dimension may be)", in->name, i);
        d[i - 1] = sh->dim[i]->dim_value;
    }
    chain ch = {0};
    if (shape_from_dims(d, sh->n_dim - 1, &ch.shape, &ch.rank) != EM_OK)
        return em_errf(err, EM_ERR_RANGE, "graph input '%s': a dimension is outside [1, 65536]", in->name);
    c->g->input = ch.shape;
    const char *cur = in->name;

    for (size_t ni = 0; ni < gp->n_node; ni++) {
        const Onnx__NodeProto *n = gp->node[ni];
        const char *op = ntype(n);
        if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx"))
            return UNSUP(n, "domain '%s' is not the default ONNX domain", n->domain);
        if (!strcmp(op, "Constant")) {
            const Onnx__AttributeProto *v = attr(n, "value");
            if (n->n_attribute != 1 || !v || !v->t || n->n_output != 1)
                return UNSUP(n, "only the tensor 'value' form is supported");
            if ((st = tensor_add(c, v->t, n->output[0], err)) != EM_OK)
                return st;
            continue;
        }
        if (c->g->softmax)
            return UNSUP(n, "Softmax must be the last node");
        int add_swapped = !strcmp(op, "Add") && n->n_input == 2 && n->input[1] && !strcmp(n->input[1], cur) &&
                          tensor_find(c, n->input[0]);
        if (!add_swapped && (n->n_input < 1 || !n->input[0] || strcmp(n->input[0], cur)))
            return UNSUP(n, "its data input '%s' is not the previous node's output '%s': only chain graphs are "
                         "supported", n->n_input ? n->input[0] : "", cur);
        if (n->n_output < 1 || !n->output[0][0])
            return em_errf(err, EM_ERR_FORMAT, "node '%s' (%s) has no output", nname(n), op);
        for (size_t k = 1; k < n->n_output; k++)
            if (n->output[k][0] && strcmp(op, "MaxPool") && strcmp(op, "Dropout"))
                return UNSUP(n, "more than one output");
        int was_fusable = ch.fusable, was_mm = ch.matmul_open;
        ch.fusable = 0;
        ch.matmul_open = 0;
        if (!strcmp(op, "Gemm")) {
            static const char *const known[] = {"alpha", "beta", "transA", "transB", NULL};
            int64_t ta, tb;
            float alpha, beta;
            if ((st = check_known_attrs(n, known, err)) != EM_OK || (st = attr_int(n, "transA", 0, &ta, err)) ||
                (st = attr_int(n, "transB", 0, &tb, err)) || (st = attr_float(n, "alpha", 1, &alpha, err)) ||
                (st = attr_float(n, "beta", 1, &beta, err)))
                return st;
            if (ta)
                return UNSUP(n, "transA=1 (the data input must be batch-major)");
            if (n->n_input < 2 || n->n_input > 3 || (st = node_inputs_const(c, n, 1, err)) != EM_OK)
                return st ? st : UNSUP(n, "needs 2 or 3 inputs");
            const ctensor *C = n->n_input == 3 && n->input[2][0] ? tensor_find(c, n->input[2]) : NULL;
            if ((st = op_dense(c, &ch, n, tensor_find(c, n->input[1]), tb != 0, alpha, C, beta, err)) != EM_OK)
                return st;
        } else if (!strcmp(op, "MatMul")) {
            if (n->n_attribute)
                return UNSUP(n, "attributes are not supported");
            if (n->n_input != 2 || (st = node_inputs_const(c, n, 1, err)) != EM_OK)
                return st ? st : UNSUP(n, "needs 2 inputs");
            if ((st = op_dense(c, &ch, n, tensor_find(c, n->input[1]), 0, 1, NULL, 0, err)) != EM_OK)
                return st;
            ch.matmul_open = 1;
        } else if (!strcmp(op, "Add")) {
            const ctensor *B = n->n_input == 2 ? tensor_find(c, n->input[add_swapped ? 0 : 1]) : NULL;
            nn_fop *last = c->g->n_ops ? &c->g->ops[c->g->n_ops - 1] : NULL;
            if (!was_mm || !B || !last)
                return UNSUP(n, "Add is only supported as the constant bias right after a MatMul");
            if (B->n != last->n_bias && B->n != 1)
                return UNSUP(n, "bias with %zu values cannot broadcast to %zu outputs", B->n, last->n_bias);
            for (size_t o = 0; o < last->n_bias; o++)
                last->bias[o] += B->f[B->n == 1 ? 0 : o];
            ch.fusable = 1;
        } else if (!strcmp(op, "Relu")) {
            if (n->n_attribute || n->n_input != 1)
                return UNSUP(n, "attributes/extra inputs are not supported");
            nn_fop *last = c->g->n_ops ? &c->g->ops[c->g->n_ops - 1] : NULL;
            if (was_fusable && last && last->act == NN_ACT_NONE) {
                last->act = NN_ACT_RELU;
            } else {
                nn_fop a = {.kind = NN_ACT, .in = ch.shape, .out = ch.shape, .act = NN_ACT_RELU};
                op_name(&a, n);
                if ((st = push_op(c->g, &a, err)) != EM_OK)
                    return st;
            }
        } else if (!strcmp(op, "Flatten")) {
            int64_t axis;
            static const char *const known[] = {"axis", NULL};
            if ((st = check_known_attrs(n, known, err)) != EM_OK || (st = attr_int(n, "axis", 1, &axis, err)))
                return st;
            if (axis != 1 && axis != -(int64_t)ch.rank)
                return UNSUP(n, "axis=%lld (only axis=1: keep the batch dimension)", (long long)axis);
            if ((st = add_reshape(c->g, &ch, (nn_shape){(uint32_t)nn_shape_size(ch.shape), 1, 1}, 1, n, err)))
                return st;
        } else if (!strcmp(op, "Reshape")) {
            if ((st = op_reshape(c, &ch, n, err)) != EM_OK)
                return st;
        } else if (!strcmp(op, "Conv")) {
            if ((st = node_inputs_const(c, n, 1, err)) != EM_OK || (st = op_conv(c, &ch, n, err)) != EM_OK)
                return st;
        } else if (!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool")) {
            if ((st = op_pool(c, &ch, n, op[0] == 'A', err)) != EM_OK)
                return st;
        } else if (!strcmp(op, "Identity")) {
            ch.fusable = was_fusable;
            ch.matmul_open = was_mm;
        } else if (!strcmp(op, "Softmax")) {
            int64_t axis;
            static const char *const known[] = {"axis", NULL};
            if ((st = check_known_attrs(n, known, err)) != EM_OK || (st = attr_int(n, "axis", -1, &axis, err)))
                return st;
            if (ch.rank != 1 || (axis != 1 && axis != -1))
                return UNSUP(n, "softmax over axis %lld of a rank-%d tensor (only over the features of a 2-D "
                             "tensor)", (long long)axis, ch.rank + 1);
            c->g->softmax = 1;
        } else {
            return UNSUP(n, "this operator is not supported");
        }
        cur = n->output[0];
    }

    if (gp->n_output != 1 || !gp->output[0]->name || strcmp(gp->output[0]->name, cur))
        return em_errf(err, EM_ERR_UNSUPPORTED, "the graph must have exactly one output, the last node's '%s'", cur);
    /* a graph of only Identity/Softmax still needs one layer: a no-op reshape */
    if (c->g->n_ops == 0) {
        nn_fop op = {.kind = NN_RESHAPE, .in = ch.shape, .out = ch.shape};
        snprintf(op.name, sizeof op.name, "identity");
        if ((st = push_op(c->g, &op, err)) != EM_OK)
            return st;
    }
    return EM_OK;
}

void nn__fgraph_free(nn_fgraph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_ops; i++) {
        free(g->ops[i].weight);
        free(g->ops[i].bias);
    }
    free(g->ops);
    memset(g, 0, sizeof *g);
}

em_status nn__onnx_parse(const uint8_t *data, size_t len, nn_fgraph *g, em_err *err)
{
    memset(g, 0, sizeof *g);
    if (len > ONNX_MAX_FILE)
        return em_errf(err, EM_ERR_LIMIT, "ONNX file of %zu bytes exceeds the 1 GiB cap", len);
    ictx c = {.g = g};
    c.mp = onnx__model_proto__unpack(NULL, len, data);
    if (!c.mp)
        return em_errf(err, EM_ERR_PARSE, "not a valid ONNX protobuf (corrupt or truncated)");
    em_status st;
    if (!c.mp->graph) {
        st = em_errf(err, EM_ERR_FORMAT, "ONNX model has no graph");
        goto out;
    }
    for (size_t i = 0; i < c.mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = c.mp->opset_import[i];
        if (!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx"))
            c.opset = o->has_version ? o->version : 0;
    }
    st = build_chain(&c, err);
out:
    for (size_t i = 0; i < c.nt; i++) {
        free(c.t[i].f);
        free(c.t[i].i);
    }
    free(c.t);
    onnx__model_proto__free_unpacked(c.mp, NULL);
    if (st != EM_OK)
        nn__fgraph_free(g);
    return st;
}

em_status nn__onnx_parse_file(const char *path, nn_fgraph *g, em_err *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    memset(g, 0, sizeof *g);
    em_status st = em_file_read(path, ONNX_MAX_FILE, &data, &len, err);
    if (st != EM_OK)
        return st;
    st = nn__onnx_parse(data, len, g, err);
    free(data);
    if (st != EM_OK) {
        em_err_prefix(err, "%s: ", path);
        return st;
    }
    return EM_OK;
}

void nn_import_opts_default(nn_import_opts *o)
{
    memset(o, 0, sizeof *o);
    o->act_bits = 8;
    o->weight_bits = 8;
}

em_status nn_onnx_import_mem(const uint8_t *data, size_t len, const nn_import_opts *opts, nn_model **out,
                             em_err *err)
{
    nn_fgraph g;
    *out = NULL;
    em_status st = nn__onnx_parse(data, len, &g, err);
    if (st != EM_OK)
        return st;
    st = nn__fgraph_quantize(&g, opts, out, err);
    nn__fgraph_free(&g);
    return st;
}

em_status nn_onnx_import(const char *path, const nn_import_opts *opts, nn_model **out, em_err *err)
{
    nn_fgraph g;
    *out = NULL;
    em_status st = nn__onnx_parse_file(path, &g, err);
    if (st != EM_OK)
        return st;
    nn_import_opts o = *opts;
    if (!o.name) {
        const char *b = strrchr(path, '/');
        o.name = b ? b + 1 : path;
    }
    st = nn__fgraph_quantize(&g, &o, out, err);
    nn__fgraph_free(&g);
    if (st != EM_OK) {
        em_err_prefix(err, "%s: ", path);
        return st;
    }
    return EM_OK;
}
