#include "enclaveml/input.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define INPUT_MAX_FILE ((size_t)256 << 20)

static em_status read_number(const json_t *v, float *out, const char *where, em_err *err)
{
    double d;
    if (json_is_integer(v))
        d = (double)json_integer_value(v);
    else if (json_is_real(v))
        d = json_real_value(v);
    else
        return em_errf(err, EM_ERR_FORMAT, "%s: expected a number", where);
    if (!isfinite(d) || fabs(d) > 3.0e38)
        return em_errf(err, EM_ERR_RANGE, "%s: value is not a finite 32-bit float", where);
    *out = (float)d;
    return EM_OK;
}

static em_status read_sample_size(const json_t *root, size_t *out, em_err *err)
{
    const json_t *ss = json_object_get(root, "sample_size");
    *out = 0;
    if (!ss || json_is_null(ss))
        return EM_OK;
    if (!json_is_integer(ss))
        return em_errf(err, EM_ERR_FORMAT, "sample_size: expected a positive integer");
    json_int_t v = json_integer_value(ss);
    if (v <= 0 || (uint64_t)v > EM_INPUT_MAX_VALUES)
        return em_errf(err, EM_ERR_RANGE, "sample_size: expected a positive integer <= %zu, got %lld",
                       EM_INPUT_MAX_VALUES, (long long)v);
    *out = (size_t)v;
    return EM_OK;
}

em_status em_input_from_json(const json_t *root, size_t expected, em_input *out, em_err *err)
{
    em_status st = EM_OK;
    float *vals = NULL;
    memset(out, 0, sizeof *out);
    if (!json_is_object(root))
        return em_errf(err, EM_ERR_FORMAT, "request: expected a JSON object with \"data\" and \"sample_size\"");
    const json_t *data = json_object_get(root, "data");
    if (!data)
        return em_errf(err, EM_ERR_FORMAT, "data: missing (expected an array of numbers or of rows)");
    if (!json_is_array(data))
        return em_errf(err, EM_ERR_FORMAT, "data: expected an array of numbers or of rows");
    size_t n = json_array_size(data);
    if (n == 0)
        return em_errf(err, EM_ERR_FORMAT, "data: empty (expected at least one sample)");

    size_t ss;
    if ((st = read_sample_size(root, &ss, err)) != EM_OK)
        return st;
    int nested = json_is_array(json_array_get(data, 0));
    size_t total;
    if (nested) {
        size_t row = json_array_size(json_array_get(data, 0));
        if (row == 0)
            return em_errf(err, EM_ERR_FORMAT, "data[0]: empty row");
        if (ss && ss != row)
            return em_errf(err, EM_ERR_FORMAT, "data[0]: row has %zu values but sample_size is %zu", row, ss);
        ss = row;
        if (!em_mul_ok(n, row, &total) || total > EM_INPUT_MAX_VALUES)
            return em_errf(err, EM_ERR_LIMIT, "data: more than %zu values", EM_INPUT_MAX_VALUES);
    } else {
        total = n;
        if (total > EM_INPUT_MAX_VALUES)
            return em_errf(err, EM_ERR_LIMIT, "data: more than %zu values", EM_INPUT_MAX_VALUES);
        if (!ss)
            ss = expected;
        if (!ss)
            return em_errf(err, EM_ERR_FORMAT, "sample_size: missing (required when data is a flat array)");
    }
    if (expected && ss != expected)
        return em_errf(err, EM_ERR_FORMAT, "sample_size: expected %zu (the model's input size), got %zu",
                       expected, ss);
    if (total % ss != 0)
        return em_errf(err, EM_ERR_FORMAT,
                       "data: length %zu is not a multiple of sample_size %zu", total, ss);

    vals = malloc(total * sizeof *vals);
    if (!vals)
        return em_errf(err, EM_ERR_NOMEM, "data: cannot allocate %zu values", total);
    char where[64];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(data, i);
        if (nested) {
            if (!json_is_array(e)) {
                st = em_errf(err, EM_ERR_FORMAT, "data[%zu]: expected a row (array of %zu numbers)", i, ss);
                goto out;
            }
            if (json_array_size(e) != ss) {
                st = em_errf(err, EM_ERR_FORMAT, "data[%zu]: row has %zu values, expected %zu", i,
                             json_array_size(e), ss);
                goto out;
            }
            for (size_t j = 0; j < ss; j++) {
                snprintf(where, sizeof where, "data[%zu][%zu]", i, j);
                if ((st = read_number(json_array_get(e, j), &vals[k++], where, err)) != EM_OK)
                    goto out;
            }
        } else {
            snprintf(where, sizeof where, "data[%zu]", i);
            if (json_is_array(e)) {
                st = em_errf(err, EM_ERR_FORMAT, "%s: mixes rows and numbers", where);
                goto out;
            }
            if ((st = read_number(e, &vals[k++], where, err)) != EM_OK)
                goto out;
        }
    }
    out->data = vals;
    out->n_samples = total / ss;
    out->sample_size = ss;
    vals = NULL;
out:
    free(vals);
    return st;
}

em_status em_input_parse(const char *text, size_t len, size_t expected, em_input *out, em_err *err)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return em_errf(err, EM_ERR_PARSE, "invalid JSON at line %d column %d: %s", je.line, je.column,
                       je.text);
    em_status st = em_input_from_json(root, expected, out, err);
    json_decref(root);
    return st;
}

em_status em_input_load(const char *path, size_t expected, em_input *out, em_err *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    em_status st = em_file_read(path, INPUT_MAX_FILE, &buf, &len, err);
    if (st != EM_OK)
        return st;
    st = em_input_parse((const char *)buf, len, expected, out, err);
    if (st != EM_OK)
        em_err_prefix(err, "%s: ", path);
    free(buf);
    return st;
}

void em_input_free(em_input *in)
{
    free(in->data);
    memset(in, 0, sizeof *in);
}
