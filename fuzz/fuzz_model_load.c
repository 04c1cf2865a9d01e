/* libFuzzer target: the .eml loader on arbitrary bytes. A loaded model must validate and
 * re-serialize to a file that loads again to the same digest. */
#include <stdlib.h>
#include <string.h>

#include "enclaveml/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    em_err err = {0};
    nn_model *m = NULL;
    if (nn_model_load_mem(data, size, &m, &err) != EM_OK)
        return 0;
    if (nn_model_validate(m, &err) != EM_OK)
        abort();
    uint8_t *buf = NULL;
    size_t len = 0;
    nn_model *m2 = NULL;
    if (nn_model_serialize(m, &buf, &len, &err) != EM_OK || nn_model_load_mem(buf, len, &m2, &err) != EM_OK)
        abort();
    uint8_t d1[EM_HASH_LEN], d2[EM_HASH_LEN];
    nn_model_digest(m, d1);
    nn_model_digest(m2, d2);
    if (memcmp(d1, d2, sizeof d1))
        abort();
    free(buf);
    nn_model_free(m2);
    nn_model_free(m);
    return 0;
}
