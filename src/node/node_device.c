/* Device detection: CPU cores, memory (/proc/meminfo) and the model backend picked for this CPU. */
#include "enclaveml/model.h"
#include "enclaveml/node.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static double meminfo_gb(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[256];
    double gb = 0;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        unsigned long long kb;
        if (!strncmp(line, key, kl) && line[kl] == ':' && sscanf(line + kl + 1, "%llu", &kb) == 1) {
            gb = (double)kb / (1024.0 * 1024.0);
            break;
        }
    }
    fclose(f);
    return gb;
}

em_status node_device_detect(node_device_info *out, em_err *err)
{
    if (!out)
        return em_errf(err, EM_ERR_ARG, "node_device_detect: out is NULL");
    memset(out, 0, sizeof *out);
    out->device = EM_DEVICE_CPU;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        out->cores = (uint32_t)CPU_COUNT(&set);
    if (!out->cores) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        out->cores = n > 0 ? (uint32_t)n : 1;
    }
    out->memory_gb = meminfo_gb("MemTotal");
    out->mem_available_gb = meminfo_gb("MemAvailable");
    snprintf(out->cpu_model, sizeof out->cpu_model, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            char *c = strchr(line, ':');
            if (!strncmp(line, "model name", 10) && c) {
                c++;
                while (*c == ' ' || *c == '\t')
                    c++;
                c[strcspn(c, "\n")] = 0;
                snprintf(out->cpu_model, sizeof out->cpu_model, "%s", c);
                break;
            }
        }
        fclose(f);
    }
    snprintf(out->backend, sizeof out->backend, "%s", nn_backend_name(nn_backend_get("auto")));
    out->cuda_built = nn_backend_get("cuda") != NULL;
    return EM_OK;
}

static const char *const FAULT_NAMES[] = {"none", "tamper-output", "bad-proof", "slow", "crash-mid-request"};

em_status node_fault_parse(const char *s, node_fault *out)
{
    for (size_t i = 0; i < sizeof FAULT_NAMES / sizeof FAULT_NAMES[0]; i++)
        if (s && !strcmp(s, FAULT_NAMES[i])) {
            *out = (node_fault)i;
            return EM_OK;
        }
    return EM_ERR_ARG;
}

const char *node_fault_name(node_fault f)
{
    return (unsigned)f < sizeof FAULT_NAMES / sizeof FAULT_NAMES[0] ? FAULT_NAMES[f] : "?";
}
