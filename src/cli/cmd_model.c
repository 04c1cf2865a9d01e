/* `enclaveml model import|info|run|compare`: ONNX import, inspection, quantized inference and
 * float-vs-quantized comparison. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "enclaveml/zkml/zk.h"
#include "enclaveml/input.h"
#include "enclaveml/model.h"

static int parse_bits(const char *s, uint32_t *v)
{
    char *end;
    long x = strtol(s, &end, 10);
    if (*end || x < 2 || x > 16)
        return 0;
    *v = (uint32_t)x;
    return 1;
}

/* Returns the value of option argv[*i] or NULL (and prints) when it is missing. */
static const char *optval(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        cli_fail("option %s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

/* ---- import -------------------------------------------------------------------------------- */

static void help_import(void)
{
    printf("usage: enclaveml model import IN.onnx -o OUT.eml [--calibration INPUT.json] [--act-bits N]\n"
           "                              [--weight-bits N] [--name NAME]\n\n"
           "Quantizes an ONNX chain (Gemm, MatMul+Add, Relu, Flatten, Reshape, Conv, MaxPool, AveragePool,\n"
           "Identity, Constant, trailing Softmax) to power-of-two fixed point. Scales are calibrated on\n"
           "INPUT.json ({\"data\": ...}); without it on 64 synthetic inputs uniform in [-1, 1].\n"
           "Bits default to 8 (2..16).\n");
}

static int cmd_import(int argc, char **argv)
{
    const char *in = NULL, *outp = NULL, *calib = NULL, *name = NULL, *v;
    nn_import_opts o;
    nn_import_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
            if (!(outp = optval(argc, argv, &i)))
                return 1;
        } else if (!strcmp(argv[i], "--calibration")) {
            if (!(calib = optval(argc, argv, &i)))
                return 1;
        } else if (!strcmp(argv[i], "--name")) {
            if (!(name = optval(argc, argv, &i)))
                return 1;
        } else if (!strcmp(argv[i], "--act-bits") || !strcmp(argv[i], "--weight-bits")) {
            const char *opt = argv[i];
            if (!(v = optval(argc, argv, &i)))
                return 1;
            if (!parse_bits(v, opt[2] == 'a' ? &o.act_bits : &o.weight_bits))
                return cli_fail("%s: '%s' is not an integer in [2, 16]", opt, v);
        } else if (argv[i][0] == '-') {
            return cli_fail("model import: unknown option '%s'", argv[i]);
        } else if (!in) {
            in = argv[i];
        } else {
            return cli_fail("model import: unexpected argument '%s'", argv[i]);
        }
    }
    if (!in || !outp)
        return cli_fail("usage: enclaveml model import IN.onnx -o OUT.eml [options] (see --help)");
    em_err err = {0};
    nn_onnx *g = NULL;
    em_input ci = {0};
    nn_model *m = NULL;
    int rc = 1;
    if (nn_onnx_load(in, &g, &err) != EM_OK)
        return cli_fail_err("importing", &err);
    if (calib) {
        if (em_input_load(calib, nn_onnx_input_size(g), &ci, &err) != EM_OK) {
            rc = cli_fail_err(calib, &err);
            goto out;
        }
        o.calib = ci.data;
        o.n_calib = ci.n_samples;
    }
    /* default name: the file name without directory and ".onnx" */
    char defname[64];
    const char *b = strrchr(in, '/');
    snprintf(defname, sizeof defname, "%s", b ? b + 1 : in);
    char *dot = strrchr(defname, '.');
    if (dot && dot != defname && !strcmp(dot, ".onnx"))
        *dot = 0;
    o.name = name ? name : defname;
    if (nn_onnx_quantize(g, &o, &m, &err) != EM_OK) {
        rc = cli_fail_err("quantizing", &err);
        goto out;
    }
    if (nn_model_save(m, outp, &err) != EM_OK) {
        rc = cli_fail_err(outp, &err);
        goto out;
    }
    printf("imported %s -> %s: %zu layers, %zu parameters, %u-bit activations, %u-bit weights, calibration: %s\n",
           in, outp, nn_model_n_layers(m), nn_model_n_params(m), o.act_bits, o.weight_bits,
           calib ? calib : "synthetic (64 uniform samples in [-1, 1])");
    rc = 0;
out:
    nn_model_free(m);
    em_input_free(&ci);
    nn_onnx_free(g);
    return rc;
}

/* ---- info ---------------------------------------------------------------------------------- */

static void help_info(void)
{
    printf("usage: enclaveml model info FILE.eml [--json]\n\n"
           "Prints the architecture (layers, shapes, parameters, scales, shifts, activations), the\n"
           "bit widths, input/output sizes and the architecture hash.\n");
}

static const char *WEIGHT_NOTE = "proofs give integrity only: they do not hide the weights (no weight privacy yet)";

static void shape_str(nn_shape s, char *buf, size_t n) { snprintf(buf, n, "%ux%ux%u", s.c, s.h, s.w); }

static int cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            as_json = 1;
        else if (argv[i][0] == '-')
            return cli_fail("model info: unknown option '%s'", argv[i]);
        else if (!path)
            path = argv[i];
        else
            return cli_fail("model info: unexpected argument '%s'", argv[i]);
    }
    if (!path)
        return cli_fail("usage: enclaveml model info FILE.eml [--json]");
    em_err err = {0};
    nn_model *m = NULL;
    if (nn_model_load(path, &m, &err) != EM_OK)
        return cli_fail_err("model info", &err);
    uint8_t h[EM_HASH_LEN], d[EM_HASH_LEN];
    char hh[2 * EM_HASH_LEN + 1], dh[2 * EM_HASH_LEN + 1], si[32], so[32];
    nn_model_arch_hash(m, h);
    nn_model_digest(m, d);
    em_hex_encode(h, EM_HASH_LEN, hh);
    em_hex_encode(d, EM_HASH_LEN, dh);
    /* The model hash commits to the weights through the proof system's polynomial commitment, so
     * it is only defined for models the prover supports; otherwise say why. */
    char mh[2 * EM_HASH_LEN + 1] = "";
    em_err zerr = {0};
    zk_prover *zp = NULL;
    int param_free = 0; /* no proven layer: the verifier recomputes the output from the input */
    if (zk_prover_create(m, &zp, &zerr) == EM_OK) {
        uint8_t mhb[EM_HASH_LEN];
        zk_vk_model_hash(zk_prover_vk(zp), mhb);
        em_hex_encode(mhb, EM_HASH_LEN, mh);
        param_free = zk_vk_n_proven_layers(zk_prover_vk(zp)) == 0;
        zk_prover_free(zp);
    }
    const char *calib = nn_model_synthetic_calibration(m) ? "synthetic (uniform [-1, 1]); accuracy on real data may be lower"
                                           : "calibration data";
    int rc = 0;
    if (as_json) {
        json_t *o = json_object(), *layers = json_array();
        json_object_set_new(o, "name", json_string(nn_model_name(m)));
        json_object_set_new(o, "act_bits", json_integer(nn_model_act_bits(m)));
        json_object_set_new(o, "weight_bits", json_integer(nn_model_weight_bits(m)));
        json_object_set_new(o, "input_size", json_integer((json_int_t)nn_model_input_size(m)));
        json_object_set_new(o, "output_size", json_integer((json_int_t)nn_model_output_size(m)));
        json_object_set_new(o, "input_scale", json_integer(nn_model_input_scale(m)));
        json_object_set_new(o, "output_scale", json_integer(nn_model_output_scale(m)));
        json_object_set_new(o, "softmax", json_boolean(nn_model_has_softmax(m)));
        json_object_set_new(o, "n_params", json_integer((json_int_t)nn_model_n_params(m)));
        json_object_set_new(o, "arch_hash", json_string(hh));
        json_object_set_new(o, "model_hash", mh[0] ? json_string(mh) : json_null());
        if (!mh[0])
            json_object_set_new(o, "proofs_unavailable", json_string(em_err_msg(&zerr)));
        json_object_set_new(o, "digest", json_string(dh));
        json_object_set_new(o, "calibration", json_string(nn_model_synthetic_calibration(m) ? "synthetic" : "data"));
        json_object_set_new(o, "note", json_string(WEIGHT_NOTE));
        for (size_t i = 0; i < nn_model_n_layers(m); i++) {
            const nn_layer *l = nn_model_layer(m, i);
            json_t *j = json_object();
            shape_str(l->in, si, sizeof si);
            shape_str(l->out, so, sizeof so);
            json_object_set_new(j, "name", json_string(l->name));
            json_object_set_new(j, "kind", json_string(nn_layer_kind_name(l->kind)));
            json_object_set_new(j, "in", json_string(si));
            json_object_set_new(j, "out", json_string(so));
            json_object_set_new(j, "params", json_integer((json_int_t)(l->n_weight + l->n_bias)));
            json_object_set_new(j, "in_scale", json_integer(l->in_scale));
            json_object_set_new(j, "w_scale", json_integer(l->w_scale));
            json_object_set_new(j, "out_scale", json_integer(l->out_scale));
            json_object_set_new(j, "shift", json_integer(l->shift));
            json_object_set_new(j, "act", json_string(l->act == NN_ACT_RELU ? "relu" : "none"));
            json_array_append_new(layers, j);
        }
        json_object_set_new(o, "layers", layers);
        char *s = json_dumps(o, JSON_INDENT(2));
        if (s)
            printf("%s\n", s);
        else
            rc = cli_fail("model info: out of memory");
        free(s);
        json_decref(o);
    } else {
        shape_str(nn_model_input_shape(m), si, sizeof si);
        shape_str(nn_model_output_shape(m), so, sizeof so);
        printf("model:        %s\n", nn_model_name(m));
        printf("input:        %s (%zu values, scale 2^%d)\n", si, nn_model_input_size(m), nn_model_input_scale(m));
        printf("output:       %s (%zu values, scale 2^%d)%s\n", so, nn_model_output_size(m),
               nn_model_output_scale(m), nn_model_has_softmax(m) ? ", softmax applied after verification" : "");
        printf("bits:         %u-bit activations, %u-bit weights\n", nn_model_act_bits(m), nn_model_weight_bits(m));
        printf("parameters:   %zu\n", nn_model_n_params(m));
        printf("calibration:  %s\n", calib);
        printf("arch hash:    %s\n", hh);
        if (mh[0])
            printf("model hash:   %s (%s)\n", mh,
                   param_free ? "architecture + scales; no weights: the verifier recomputes the output from the input"
                              : "architecture + scales + weight commitment");
        else
            printf("model hash:   unavailable: %s\n", em_err_msg(&zerr));
        printf("digest:       %s\n\n", dh);
        printf("  #  %-8s %-20s %-12s %-12s %9s %5s %5s %5s %5s %s\n", "kind", "name", "in", "out", "params",
               "in_s", "w_s", "out_s", "shift", "act");
        for (size_t i = 0; i < nn_model_n_layers(m); i++) {
            const nn_layer *l = nn_model_layer(m, i);
            shape_str(l->in, si, sizeof si);
            shape_str(l->out, so, sizeof so);
            printf("%3zu  %-8s %-20.20s %-12s %-12s %9zu %5d %5d %5d %5u %s\n", i, nn_layer_kind_name(l->kind),
                   l->name, si, so, l->n_weight + l->n_bias, l->in_scale, l->w_scale, l->out_scale, l->shift,
                   l->act == NN_ACT_RELU ? "relu" : "-");
        }
        printf("\nnote: %s\n", WEIGHT_NOTE);
    }
    nn_model_free(m);
    return rc;
}

/* ---- run ----------------------------------------------------------------------------------- */

static void help_run(void)
{
    printf("usage: enclaveml model run FILE.eml --input INPUT.json [--output OUT.json]\n"
           "                           [--backend scalar|avx2|avx512|auto] [--threads N]\n\n"
           "Runs integer inference. Output JSON: {\"result\", \"output_size\", \"output_q\", \"output_scale\",\n"
           "\"predictions\"}; result = output_q / 2^output_scale, or softmax probabilities when the model\n"
           "ends in Softmax (output_q are then the logits).\n");
}

static int cmd_run(int argc, char **argv)
{
    const char *path = NULL, *inp = NULL, *outp = NULL, *bname = "auto", *v;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--input")) {
            if (!(inp = optval(argc, argv, &i)))
                return 1;
        } else if (!strcmp(argv[i], "--output") || !strcmp(argv[i], "-o")) {
            if (!(outp = optval(argc, argv, &i)))
                return 1;
        } else if (!strcmp(argv[i], "--backend")) {
            if (!(bname = optval(argc, argv, &i)))
                return 1;
        } else if (!strcmp(argv[i], "--threads")) {
            if (!(v = optval(argc, argv, &i)))
                return 1;
            char *end;
            long t = strtol(v, &end, 10);
            if (*end || t < 0 || t > 1024)
                return cli_fail("--threads: '%s' is not an integer in [0, 1024]", v);
            threads = (int)t;
        } else if (argv[i][0] == '-') {
            return cli_fail("model run: unknown option '%s'", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return cli_fail("model run: unexpected argument '%s'", argv[i]);
        }
    }
    if (!path || !inp)
        return cli_fail("usage: enclaveml model run FILE.eml --input INPUT.json [options] (see --help)");
    const nn_backend *be = nn_backend_get(bname);
    if (!be)
        return cli_fail("--backend: '%s' is not available on this machine (scalar|avx2|avx512|auto)", bname);
    em_err err = {0};
    nn_model *m = NULL;
    em_input in = {0};
    int32_t *q = NULL, *oq = NULL;
    int rc = 1;
    if (nn_model_load(path, &m, &err) != EM_OK) {
        rc = cli_fail_err("model run", &err);
        goto out;
    }
    if (em_input_load(inp, nn_model_input_size(m), &in, &err) != EM_OK) {
        rc = cli_fail_err(inp, &err);
        goto out;
    }
    size_t k = nn_model_output_size(m), n = in.n_samples;
    q = malloc(n * in.sample_size * sizeof *q);
    oq = malloc(n * k * sizeof *oq);
    if (!q || !oq) {
        rc = cli_fail("model run: out of memory for %zu samples", n);
        goto out;
    }
    nn_run_opts ro = {.backend = be, .threads = threads};
    if (nn_model_quantize_input(m, in.data, n, q, &err) != EM_OK ||
        nn_model_run(m, &ro, q, n, oq, &err) != EM_OK) {
        rc = cli_fail_err("model run", &err);
        goto out;
    }
    if (cli_output_write(outp, m, oq, n, &err) != EM_OK) {
        rc = cli_fail_err(outp ? outp : "model run", &err);
        goto out;
    }
    rc = 0;
out:
    free(q);
    free(oq);
    em_input_free(&in);
    nn_model_free(m);
    return rc;
}

/* ---- compare ------------------------------------------------------------------------------- */

static void help_compare(void)
{
    printf("usage: enclaveml model compare IN.onnx FILE.eml --input INPUT.json [--labels LABELS.json]\n\n"
           "Runs the float reference of IN.onnx and the quantized FILE.eml on the same inputs and prints\n"
           "argmax agreement, the largest absolute error of the dequantized outputs and, with labels\n"
           "(a JSON array of class indices, or an object with a \"labels\" array), the accuracy of each.\n");
}

static int cmd_compare(int argc, char **argv)
{
    const char *onnx = NULL, *eml = NULL, *inp = NULL, *labp = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--input")) {
            if (!(inp = optval(argc, argv, &i)))
                return 1;
        } else if (!strcmp(argv[i], "--labels")) {
            if (!(labp = optval(argc, argv, &i)))
                return 1;
        } else if (argv[i][0] == '-') {
            return cli_fail("model compare: unknown option '%s'", argv[i]);
        } else if (!onnx) {
            onnx = argv[i];
        } else if (!eml) {
            eml = argv[i];
        } else {
            return cli_fail("model compare: unexpected argument '%s'", argv[i]);
        }
    }
    if (!onnx || !eml || !inp)
        return cli_fail("usage: enclaveml model compare IN.onnx FILE.eml --input INPUT.json [--labels L.json]");
    em_err err = {0};
    nn_onnx *g = NULL;
    nn_model *m = NULL;
    em_input in = {0};
    int32_t *q = NULL, *oq = NULL;
    double *res = NULL, *fo = NULL;
    uint32_t *pred = NULL;
    json_t *labels = NULL;
    int rc = 1;
    if (nn_onnx_load(onnx, &g, &err) != EM_OK) {
        rc = cli_fail_err("model compare", &err);
        goto out;
    }
    if (nn_model_load(eml, &m, &err) != EM_OK) {
        rc = cli_fail_err("model compare", &err);
        goto out;
    }
    size_t k = nn_model_output_size(m);
    if (nn_onnx_input_size(g) != nn_model_input_size(m) || nn_onnx_output_size(g) != k) {
        rc = cli_fail("model compare: %s and %s have different input/output sizes", onnx, eml);
        goto out;
    }
    if (em_input_load(inp, nn_model_input_size(m), &in, &err) != EM_OK) {
        rc = cli_fail_err(inp, &err);
        goto out;
    }
    size_t n = in.n_samples;
    if (labp) {
        json_error_t je;
        labels = json_load_file(labp, 0, &je);
        if (!labels) {
            rc = cli_fail("%s: line %d: %s", labp, je.line, je.text);
            goto out;
        }
        if (json_is_object(labels) && json_is_array(json_object_get(labels, "labels"))) {
            json_t *arr = json_incref(json_object_get(labels, "labels"));
            json_decref(labels);
            labels = arr;
        }
        if (!json_is_array(labels) || json_array_size(labels) != n) {
            rc = cli_fail("%s: expected a JSON array of %zu class indices", labp, n);
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(labels, i);
            if (!json_is_integer(e) || json_integer_value(e) < 0 || (size_t)json_integer_value(e) >= k) {
                rc = cli_fail("%s: element %zu is not a class index in [0, %zu)", labp, i, k);
                goto out;
            }
        }
    }
    q = malloc(n * in.sample_size * sizeof *q);
    oq = malloc(n * k * sizeof *oq);
    res = malloc(n * k * sizeof *res);
    fo = malloc(n * k * sizeof *fo);
    pred = malloc(n * sizeof *pred);
    if (!q || !oq || !res || !fo || !pred) {
        rc = cli_fail("model compare: out of memory");
        goto out;
    }
    if (nn_onnx_forward(g, in.data, n, fo, &err) != EM_OK ||
        nn_model_quantize_input(m, in.data, n, q, &err) != EM_OK || nn_model_run(m, NULL, q, n, oq, &err) != EM_OK) {
        rc = cli_fail_err("model compare", &err);
        goto out;
    }
    nn_argmax(oq, n, k, pred);
    /* compare logits (dequantized) so the error is in the units the integers approximate */
    double maxerr = 0, sc = ldexp(1, -nn_model_output_scale(m));
    size_t agree = 0, acc_f = 0, acc_q = 0;
    for (size_t s = 0; s < n; s++) {
        size_t fb = 0;
        for (size_t j = 0; j < k; j++) {
            double e = fabs(fo[s * k + j] - oq[s * k + j] * sc);
            maxerr = e > maxerr ? e : maxerr;
            if (fo[s * k + j] > fo[s * k + fb])
                fb = j;
        }
        agree += fb == pred[s];
        if (labels) {
            size_t lab = (size_t)json_integer_value(json_array_get(labels, s));
            acc_f += fb == lab;
            acc_q += pred[s] == lab;
        }
    }
    printf("samples:                %zu\n", n);
    printf("argmax agreement:       %.2f%% (%zu/%zu)\n", 100.0 * agree / n, agree, n);
    printf("max abs error (%s): %.6g (output step 2^%d = %.6g)\n", nn_model_has_softmax(m) ? "logits" : "outputs",
           maxerr, -nn_model_output_scale(m), sc);
    if (labels) {
        printf("float accuracy:         %.2f%% (%zu/%zu)\n", 100.0 * acc_f / n, acc_f, n);
        printf("quantized accuracy:     %.2f%% (%zu/%zu)\n", 100.0 * acc_q / n, acc_q, n);
    }
    rc = 0;
out:
    json_decref(labels);
    free(q);
    free(oq);
    free(res);
    free(fo);
    free(pred);
    em_input_free(&in);
    nn_model_free(m);
    nn_onnx_free(g);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

typedef struct sub {
    const char *name;
    int (*run)(int, char **);
    void (*help)(void);
    const char *summary;
} sub;

static void help_hash(void)
{
    printf("usage: enclaveml model hash FILE.eml\n\n"
           "Prints the model hash: SHA-256 over the architecture, the scales and the root of the\n"
           "polynomial commitment to the weights. Workers and verifiers agree on a model by this hash.\n");
}

static void help_export_vk(void)
{
    printf("usage: enclaveml model export-vk FILE.eml -o FILE.vk\n\n"
           "Writes the verifying key: architecture, scales and weight commitment, but no weights.\n"
           "`enclaveml verify --vk FILE.vk` checks proofs with it.\n");
}

static const sub subs[] = {
    {"hash", cli_model_hash, help_hash, "print the model hash (commits to the weights)"},
    {"export-vk", cli_model_export_vk, help_export_vk, "write the public verifying key (no weights)"},
    {"import", cmd_import, help_import, "quantize an ONNX model into an .eml file"},
    {"info", cmd_info, help_info, "print a model's architecture, sizes and hashes"},
    {"run", cmd_run, help_run, "run integer inference on a JSON input"},
    {"compare", cmd_compare, help_compare, "float vs quantized agreement and accuracy"},
};

static void model_help(void)
{
    printf("usage: enclaveml model <subcommand> [options]   (enclaveml model <subcommand> --help)\n\n");
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        printf("  %-10s %s\n", subs[i].name, subs[i].summary);
}

static int model_run(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        if (argc >= 2) {
            model_help();
            return 0;
        }
        return cli_fail("usage: enclaveml model import|info|run|compare|hash|export-vk ... (see enclaveml model --help)");
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(argv[1], subs[i].name)) {
            if (cli_wants_help(argc - 1, argv + 1)) {
                subs[i].help();
                return 0;
            }
            return subs[i].run(argc - 1, argv + 1);
        }
    return cli_fail("model: unknown subcommand '%s' (import, info, run, compare, hash, export-vk)", argv[1]);
}

const cli_command cli_cmd_model = {
    .name = "model",
    .summary = "import, inspect, run and compare quantized models",
    .run = model_run,
    /* no .help: main.c would answer `model SUB --help` with the command's help; model_run
     * gives each subcommand its own */
    .help = NULL,
};
