/* libFuzzer target: aggregator and worker YAML configs (em_*_config_parse) must never crash or
 * hang, and every rejection must carry a message naming the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "enclaveml/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    em_err err = {0};
    em_status st;
    if (data[0] & 1) {
        em_agg_config c;
        st = em_agg_config_parse((const char *)data + 1, size - 1, "fuzz.yaml", &c, &err);
        if (st == EM_OK && (c.port == 0 || c.request_timeout_secs == 0))
            abort();
    } else {
        em_worker_config c;
        st = em_worker_config_parse((const char *)data + 1, size - 1, "fuzz.yaml", &c, &err);
        if (st == EM_OK && (c.node_id[0] == 0 || c.port == 0))
            abort();
    }
    if (st != EM_OK && !strstr(err.msg, "fuzz.yaml"))
        abort();
    return 0;
}
