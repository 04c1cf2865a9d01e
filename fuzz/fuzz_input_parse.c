/* libFuzzer target: inference request bodies (em_input_parse, the REST/CLI input parser) must
 * never crash, hang or allocate without bound; on success the result must be self-consistent. */
#include <stdint.h>
#include <stdlib.h>

#include "enclaveml/input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* first byte picks the expected sample size: 0 (any), 1, 3 or 64 */
    static const size_t expect[] = {0, 1, 3, 64};
    em_input in;
    em_err err = {0};
    if (em_input_parse((const char *)data + 1, size - 1, expect[data[0] & 3], &in, &err) == EM_OK) {
        if (!in.data || in.n_samples == 0 || in.sample_size == 0 || in.n_samples * in.sample_size > EM_INPUT_MAX_VALUES)
            abort();
        em_input_free(&in);
    } else if (!err.msg[0]) {
        abort(); /* every rejection names the problem */
    }
    return 0;
}
