/* The committed digits data (written by tools/train-digits) is what the demo and the accuracy
 * reports run on: check it is well formed, consistent with metrics.json, and that the ONNX files
 * are the ones the metrics were measured on. A small independent checker (plain jansson) is used,
 * with tamper tests showing it rejects what it should; em_input must agree with it. */
#include <jansson.h>
#include <math.h>

#include "enclaveml/input.h"
#include "harness.h"

#define DIGITS_FEATURES 64
#define DIGITS_CLASSES 10
#define DIGITS_TOTAL 1797 /* samples in sklearn's load_digits */
#define DIGITS_CALIBRATION 200
#define DIGITS_SAMPLE_INPUT 4
#define DIGITS_MAX_FILE ((size_t)16 << 20)

static json_t *load_json(const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", th_src_dir(), rel);
    json_error_t jerr;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        fprintf(stderr, "%s:%d:%d: %s\n", path, jerr.line, jerr.column, jerr.text);
    return j;
}

/* Checks a {"sample_size": 64, "data": [[64 values]...], "labels": [...]} document. Values must
 * be the preprocessed pixels: k/16 for k in 0..16. With want_labels, "labels" must hold one class
 * in 0..9 per row and every class must occur. */
static em_status digits_doc_check(const json_t *root, int want_labels, size_t *n_rows, em_err *err)
{
    if (!json_is_object(root))
        return em_errf(err, EM_ERR_PARSE, "document: expected an object");
    json_t *ss = json_object_get(root, "sample_size");
    if (!json_is_integer(ss) || json_integer_value(ss) != DIGITS_FEATURES)
        return em_errf(err, EM_ERR_PARSE, "sample_size: expected %d", DIGITS_FEATURES);
    json_t *data = json_object_get(root, "data");
    if (!json_is_array(data) || json_array_size(data) == 0)
        return em_errf(err, EM_ERR_PARSE, "data: expected a non-empty array of rows");
    size_t n = json_array_size(data);
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_array_get(data, i);
        if (!json_is_array(row) || json_array_size(row) != DIGITS_FEATURES)
            return em_errf(err, EM_ERR_PARSE, "data[%zu]: expected %d values", i,
                           DIGITS_FEATURES);
        for (size_t k = 0; k < DIGITS_FEATURES; k++) {
            json_t *v = json_array_get(row, k);
            if (!json_is_number(v))
                return em_errf(err, EM_ERR_PARSE, "data[%zu][%zu]: expected a number", i, k);
            double x = json_number_value(v);
            if (!(x >= 0.0 && x <= 1.0))
                return em_errf(err, EM_ERR_PARSE, "data[%zu][%zu]: %g outside [0, 1]", i, k, x);
            if (x * 16.0 != floor(x * 16.0))
                return em_errf(err, EM_ERR_PARSE, "data[%zu][%zu]: %g is not a multiple of 1/16",
                               i, k, x);
        }
    }
    json_t *labels = json_object_get(root, "labels");
    if (want_labels) {
        if (!json_is_array(labels) || json_array_size(labels) != n)
            return em_errf(err, EM_ERR_PARSE, "labels: expected %zu labels", n);
        size_t seen[DIGITS_CLASSES] = {0};
        for (size_t i = 0; i < n; i++) {
            json_t *l = json_array_get(labels, i);
            if (!json_is_integer(l) || json_integer_value(l) < 0 ||
                json_integer_value(l) >= DIGITS_CLASSES)
                return em_errf(err, EM_ERR_PARSE, "labels[%zu]: expected an integer in 0..%d", i,
                               DIGITS_CLASSES - 1);
            seen[json_integer_value(l)]++;
        }
        for (int c = 0; c < DIGITS_CLASSES; c++)
            if (!seen[c])
                return em_errf(err, EM_ERR_PARSE, "labels: class %d never occurs", c);
    }
    *n_rows = n;
    return EM_OK;
}

static int64_t metric_int(const json_t *m, const char *key)
{
    json_t *v = json_object_get(m, key);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* metrics.json: n_test matches the test set, the accuracy is the stated count over n_test, and
 * the hashes of the ONNX files match the committed files. */
static void check_metrics(const char *rel, size_t n_test)
{
    json_t *m = load_json(rel);
    CHECK(m != NULL);
    if (!m)
        return;
    fprintf(stderr, "    %s\n", rel);
    int64_t nt = metric_int(m, "n_test"), ntr = metric_int(m, "n_train");
    CHECK_EQ_I64(nt, (int64_t)n_test);
    CHECK_EQ_I64(nt + ntr, DIGITS_TOTAL);
    int64_t correct = metric_int(m, "float_test_correct");
    CHECK(correct > 0 && correct <= nt);
    json_t *acc = json_object_get(m, "float_test_accuracy");
    CHECK(json_is_number(acc));
    if (json_is_number(acc) && nt > 0) {
        double a = json_number_value(acc);
        CHECK(fabs(a - (double)correct / (double)nt) < 1e-4);
        CHECK(a >= 0.9); /* a digits model below 90 % means training went wrong */
    }
    json_t *models = json_object_get(m, "models");
    CHECK(json_is_object(models) && json_object_size(models) > 0);
    const char *file;
    json_t *hash;
    json_object_foreach(models, file, hash) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", th_src_dir(), file);
        uint8_t *bytes = NULL;
        size_t len = 0;
        em_err err = {0};
        CHECK_OK(em_file_read(path, DIGITS_MAX_FILE, &bytes, &len, &err), &err);
        if (bytes) {
            uint8_t h[EM_HASH_LEN];
            char hex[2 * EM_HASH_LEN + 1];
            em_sha256(bytes, len, h);
            em_hex_encode(h, EM_HASH_LEN, hex);
            CHECK(json_is_string(hash) && strcmp(hex, json_string_value(hash)) == 0);
            free(bytes);
        }
    }
    json_decref(m);
}

static void test_test_set(void)
{
    json_t *t = load_json("examples/digits/test.json");
    CHECK(t != NULL);
    if (!t)
        return;
    size_t n = 0;
    em_err err = {0};
    CHECK_OK(digits_doc_check(t, 1, &n, &err), &err);
    CHECK(n > 0);
    check_metrics("examples/digits/metrics.json", n);
    check_metrics("examples/cnn/metrics.json", n);

    /* The project's request parser reads the same rows. */
    em_input in = {0};
    CHECK_OK(em_input_from_json(t, DIGITS_FEATURES, &in, &err), &err);
    CHECK_EQ_U64(in.n_samples, n);
    CHECK_EQ_U64(in.sample_size, DIGITS_FEATURES);
    if (in.data && in.n_samples == n) {
        json_t *data = json_object_get(t, "data");
        size_t mismatches = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < DIGITS_FEATURES; k++)
                if (in.data[i * DIGITS_FEATURES + k] !=
                    (float)json_number_value(json_array_get(json_array_get(data, i), k)))
                    mismatches++;
        CHECK_EQ_U64(mismatches, 0);
    }

    /* sample-input.json is the first rows of the test set, flat. */
    char path[4096];
    snprintf(path, sizeof path, "%s/examples/sample-input.json", th_src_dir());
    em_input s = {0};
    CHECK_OK(em_input_load(path, DIGITS_FEATURES, &s, &err), &err);
    CHECK_EQ_U64(s.n_samples, DIGITS_SAMPLE_INPUT);
    if (s.data && in.data && s.n_samples == DIGITS_SAMPLE_INPUT && in.n_samples >= s.n_samples)
        CHECK(memcmp(s.data, in.data, s.n_samples * DIGITS_FEATURES * sizeof(float)) == 0);
    em_input_free(&s);
    em_input_free(&in);
    json_decref(t);
}

static void test_calibration_set(void)
{
    json_t *c = load_json("examples/digits/calibration.json");
    CHECK(c != NULL);
    if (!c)
        return;
    size_t n = 0;
    em_err err = {0};
    CHECK_OK(digits_doc_check(c, 0, &n, &err), &err);
    CHECK_EQ_U64(n, DIGITS_CALIBRATION);
    json_decref(c);
}

/* Each tamper must be caught, with a message naming the field. */
static void expect_rejected(json_t *doc, const char *what)
{
    size_t n = 0;
    em_err err = {0};
    em_status st = digits_doc_check(doc, 1, &n, &err);
    CHECK(st != EM_OK);
    CHECK_STR_CONTAINS(em_err_msg(&err), what);
    json_decref(doc);
}

static void test_checker_rejects_tampering(void)
{
    json_t *t = load_json("examples/digits/test.json");
    CHECK(t != NULL);
    if (!t)
        return;
    json_t *d;

    d = json_deep_copy(t);
    json_array_set_new(json_object_get(d, "labels"), 3, json_integer(10));
    expect_rejected(d, "labels[3]");

    d = json_deep_copy(t);
    json_array_set_new(json_object_get(d, "labels"), 0, json_integer(-1));
    expect_rejected(d, "labels[0]");

    d = json_deep_copy(t);
    json_array_remove(json_object_get(d, "labels"), 0);
    expect_rejected(d, "labels");

    d = json_deep_copy(t);
    json_array_set_new(json_array_get(json_object_get(d, "data"), 5), 7, json_real(1.0625));
    expect_rejected(d, "data[5][7]");

    d = json_deep_copy(t);
    json_array_set_new(json_array_get(json_object_get(d, "data"), 2), 1, json_real(0.1));
    expect_rejected(d, "data[2][1]");

    d = json_deep_copy(t);
    json_array_set_new(json_array_get(json_object_get(d, "data"), 0), 0, json_string("0"));
    expect_rejected(d, "data[0][0]");

    d = json_deep_copy(t);
    json_array_remove(json_array_get(json_object_get(d, "data"), 9), 0);
    expect_rejected(d, "data[9]");

    d = json_deep_copy(t);
    json_object_set_new(d, "sample_size", json_integer(63));
    expect_rejected(d, "sample_size");

    json_decref(t);
}

int main(void)
{
    th_init("test_digits_data");
    TH_RUN(test_test_set);
    TH_RUN(test_calibration_set);
    TH_RUN(test_checker_rejects_tampering);
    return th_finish();
}
