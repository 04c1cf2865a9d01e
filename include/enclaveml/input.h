/* Inference request bodies, shared by the CLI, the REST API and the tests:
 *   {"data": [flat floats] | [[floats], ...], "sample_size": N, ...other request fields}
 * Untrusted: every problem is reported with the field name and the expected value. */
#ifndef ENCLAVEML_INPUT_H
#define ENCLAVEML_INPUT_H

#include <jansson.h>
#include <stddef.h>

#include "enclaveml/core.h"

typedef struct em_input {
    float *data; /* n_samples * sample_size values, row-major; owned */
    size_t n_samples;
    size_t sample_size;
} em_input;

/* Limits applied to untrusted request bodies. */
#define EM_INPUT_MAX_VALUES ((size_t)1 << 24)

/* Parses the "data" and "sample_size" fields of a request object. expected_sample_size = 0
 * accepts any; otherwise sample_size (given or inferred from nested rows) must equal it.
 * sample_size may be omitted when data is an array of arrays (rows give it) or when
 * expected_sample_size is set. Values must be finite numbers. */
em_status em_input_from_json(const json_t *root, size_t expected_sample_size, em_input *out,
                             em_err *err) EM_WARN_UNUSED;
/* Parses a JSON text (e.g. a file's contents). */
em_status em_input_parse(const char *text, size_t len, size_t expected_sample_size, em_input *out,
                         em_err *err) EM_WARN_UNUSED;
/* Reads and parses a file (capped at 256 MiB). */
em_status em_input_load(const char *path, size_t expected_sample_size, em_input *out,
                        em_err *err) EM_WARN_UNUSED;
void em_input_free(em_input *in);

#endif
