/* Conformance against the ezkl example models ($EM_SHARED_DIR/models/ezkl/<name>/network.onnx +
 * input.json with input_data / output_data): import with the model's own input as calibration,
 * run the integer model and compare with the expected outputs (or, when a file has none, with
 * our float reference). Models outside the supported op set must fail with "unsupported". */
#include <dirent.h>
#include <jansson.h>
#include <math.h>

#include "harness.h"
#include "model_internal.h"
#include "onnx_graph.h"

/* Expected import failures: name -> substring of the error. */
static const struct {
    const char *name, *why;
} UNSUPPORTED[] = {
    {"blackman_window", "unsupported op 'Add'"},
    {"boolean_identity", "unsupported input"},
};

static float *flat_floats(json_t *arr, size_t *n)
{
    /* input_data / output_data: [[...]] (one row per tensor) or a flat array */
    json_t *row = json_is_array(arr) && json_array_size(arr) == 1 && json_is_array(json_array_get(arr, 0))
                      ? json_array_get(arr, 0)
                      : arr;
    if (!json_is_array(row))
        return NULL;
    *n = json_array_size(row);
    float *v = malloc((*n ? *n : 1) * sizeof *v);
    for (size_t i = 0; v && i < *n; i++) {
        json_t *e = json_array_get(row, i);
        if (!json_is_number(e)) {
            free(v);
            return NULL;
        }
        v[i] = (float)json_number_value(e);
    }
    return v;
}

static size_t argmax_d(const double *v, size_t k)
{
    size_t b = 0;
    for (size_t i = 1; i < k; i++)
        if (v[i] > v[b])
            b = i;
    return b;
}

static int n_checked;

static void one_model(const char *dir, const char *name)
{
    char path[2400];
    em_err err = {0};
    if (snprintf(path, sizeof path, "%s/%s/input.json", dir, name) >= (int)sizeof path)
        return;
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        printf("  %-20s skipped (no input.json)\n", name);
        return;
    }
    size_t nin = 0, nout = 0;
    float *x = flat_floats(json_object_get(root, "input_data"), &nin);
    float *want = json_object_get(root, "output_data") ? flat_floats(json_object_get(root, "output_data"), &nout)
                                                       : NULL;
    if (snprintf(path, sizeof path, "%s/%s/network.onnx", dir, name) >= (int)sizeof path)
        goto out;
    nn_fgraph g;
    nn_model *m = NULL;
    const char *expect_fail = NULL;
    for (size_t i = 0; i < sizeof UNSUPPORTED / sizeof UNSUPPORTED[0]; i++)
        if (!strcmp(name, UNSUPPORTED[i].name))
            expect_fail = UNSUPPORTED[i].why;
    em_status st = nn__onnx_parse_file(path, &g, &err);
    if (expect_fail) {
        CHECK_ST(st, EM_ERR_UNSUPPORTED, &err);
        CHECK_STR_CONTAINS(err.msg, expect_fail);
        printf("  %-20s unsupported as expected: %s\n", name, err.msg);
        if (st == EM_OK)
            nn__fgraph_free(&g);
        goto out;
    }
    CHECK_OK(st, &err);
    if (st != EM_OK || !x) {
        printf("  %-20s FAILED to import: %s\n", name, err.msg);
        CHECK(x != NULL);
        goto out;
    }
    size_t isz = nn_shape_size(g.input), k = nn__fgraph_output_size(&g);
    CHECK_EQ_U64(nin, isz);
    if (nin != isz) {
        nn__fgraph_free(&g);
        goto out;
    }
    nn_import_opts o;
    nn_import_opts_default(&o);
    o.calib = x;
    o.n_calib = 1;
    o.name = name;
    st = nn__fgraph_quantize(&g, &o, &m, &err);
    CHECK_OK(st, &err);
    double *fref = malloc(k * sizeof *fref), *res = malloc(k * sizeof *res);
    int32_t *q = malloc(isz * sizeof *q), *oq = malloc(k * sizeof *oq);
    CHECK_OK(nn__fgraph_forward(&g, x, 1, fref, NULL, &err), &err);
    if (g.softmax)
        nn__softmax(fref, k);
    if (st == EM_OK && nn_model_quantize_input(m, x, 1, q, &err) == EM_OK &&
        nn_model_run(m, NULL, q, 1, oq, &err) == EM_OK) {
        nn_model_postprocess(m, oq, 1, res);
        /* the float reference must reproduce the expected outputs (checks our importer's semantics) */
        double ref_err = 0, qerr = 0, tmax = 0;
        const double *target = fref;
        double *wd = NULL;
        if (want) {
            CHECK_EQ_U64(nout, k);
            if (nout == k) {
                wd = malloc(k * sizeof *wd);
                for (size_t i = 0; i < k; i++) {
                    wd[i] = want[i];
                    ref_err = fmax(ref_err, fabs(fref[i] - want[i]));
                }
                target = wd;
            }
        }
        for (size_t i = 0; i < k; i++) {
            qerr = fmax(qerr, fabs(res[i] - target[i]));
            tmax = fmax(tmax, fabs(target[i]));
        }
        /* Tolerance. |quantized - expected| <= |quantized - float ref| + |float ref - expected|;
         * the second term is measured (ezkl's outputs are themselves fixed point). For a single
         * layer the first is bounded from the quantization steps: input rounding (half an input
         * step per value, through the weights), weight and bias rounding, and half an output step
         * for the requantization. Deeper models compound these; there the bound is 4 output
         * steps + 6% of the output range, and classifiers must keep the argmax. */
        double step = ldexp(1, -nn_model_output_scale(m)), istep = ldexp(1, -nn_model_input_scale(m));
        double tol;
        if (nn_model_n_layers(m) == 1) {
            const nn_layer *L = nn_model_layer(m, 0);
            tol = istep / 2;
            if (L->kind == NN_DENSE || L->kind == NN_CONV2D) {
                double fan = (double)L->n_weight / (double)L->n_bias, wm = 0, xm = 0;
                for (size_t i = 0; i < L->n_weight; i++)
                    wm = fmax(wm, fabs(ldexp(L->weight[i], -L->w_scale)));
                for (size_t i = 0; i < isz; i++)
                    xm = fmax(xm, fabs(x[i]));
                double wstep = ldexp(1, -L->w_scale);
                tol = fan * (wm * istep / 2 + xm * wstep / 2 + istep * wstep / 4) + ldexp(1, -(L->in_scale + L->w_scale)) / 2 +
                      step / 2;
            } else if (L->kind == NN_AVGPOOL) {
                tol = istep / 2 + step;
            }
        } else {
            tol = 4.0 * step + 0.06 * tmax;
        }
        if (want)
            tol += ref_err;
        tol *= 1.0 + 1e-9;
        const char *agree = "-";
        if (k > 1 && !g.softmax) {
            int same = argmax_d(res, k) == argmax_d(target, k);
            agree = same ? "yes" : "NO";
            /* argmax may legitimately flip only when the top two are within the tolerance */
            double srt[2] = {-INFINITY, -INFINITY};
            for (size_t i = 0; i < k; i++) {
                if (target[i] > srt[0]) {
                    srt[1] = srt[0];
                    srt[0] = target[i];
                } else if (target[i] > srt[1]) {
                    srt[1] = target[i];
                }
            }
            if (srt[0] - srt[1] > 2 * tol)
                CHECK(same);
        }
        printf("  %-20s layers %zu  out %-4zu  ref-vs-expected %-10.3g quant max|err| %-10.4g tol %-8.3g argmax %s%s\n",
               name, nn_model_n_layers(m), k, want ? ref_err : NAN, qerr, tol, agree,
               want ? "" : "  (no output_data: vs float ref)");
        if (want) /* our float semantics match ezkl's (fixed-point, 2^-7 or finer) outputs */
            CHECK(ref_err <= 1.0 / 64 + 0.01 * tmax);
        CHECK(qerr <= tol);
        if (qerr > tol)
            fprintf(stderr, "    %s: quantized error %g above tolerance %g\n", name, qerr, tol);
        n_checked++;
        free(wd);
    } else if (st == EM_OK) {
        CHECK_OK(EM_ERR_INTERNAL, &err);
    }
    free(fref);
    free(res);
    free(q);
    free(oq);
    nn_model_free(m);
    nn__fgraph_free(&g);
out:
    free(x);
    free(want);
    json_decref(root);
}

static int cmp_str(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

static void test_ezkl_models(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/models/ezkl", th_shared_dir());
    DIR *d = opendir(dir);
    if (!d) {
        printf("  no models under %s: skipped\n", dir);
        return;
    }
    static char names[256][256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        if (e->d_name[0] != '.')
            snprintf(names[n++], sizeof names[0], "%s", e->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_str);
    printf("conformance vs %s (8-bit activations and weights, calibrated on each model's input):\n", dir);
    for (size_t i = 0; i < n; i++) {
        one_model(dir, names[i]);
    }
    CHECK(n_checked >= 10);
}

int main(void)
{
    th_init("test_conformance");
    TH_RUN(test_ezkl_models);
    return th_finish();
}
