/* Backend selection: CPU features are probed once; "auto" picks the fastest available tier, or
 * the one named by the EM_BACKEND environment variable so every tier can be forced in tests and
 * benchmarks. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

/* Preference order for "auto". avx512 (vpmaddwd + vpaddd) comes before avx512vnni because on
 * the AMD Zen 4 we measured, the fused vpdpwssd was ~25% slower (docs/BENCHMARKS.md); on Intel
 * cores the fused form may win: force it with EM_BACKEND=avx512vnni. */
static const nn_backend *const tiers[] = {
    &nn__backend_avx512,
    &nn__backend_avx512vnni,
    &nn__backend_avx2,
    &nn__backend_scalar,
};
#define N_TIERS (sizeof tiers / sizeof tiers[0])

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int available[N_TIERS];
static const nn_backend *auto_tier;

static void probe_all(void)
{
    for (size_t i = 0; i < N_TIERS; i++)
        available[i] = tiers[i]->probe();
    for (size_t i = 0; i < N_TIERS && !auto_tier; i++)
        if (available[i])
            auto_tier = tiers[i];
    const char *env = getenv("EM_BACKEND");
    if (env && *env && strcmp(env, "auto") != 0) {
        const nn_backend *forced = NULL;
        for (size_t i = 0; i < N_TIERS; i++)
            if (strcmp(env, tiers[i]->name) == 0 && available[i])
                forced = tiers[i];
        if (forced)
            auto_tier = forced;
        else
            EM_WARN("EM_BACKEND=%s is not an available backend; using %s", env, auto_tier->name);
    }
}

const nn_backend *nn_backend_get(const char *name)
{
    pthread_once(&probe_once, probe_all);
    if (!name || strcmp(name, "auto") == 0)
        return auto_tier;
    for (size_t i = 0; i < N_TIERS; i++)
        if (strcmp(name, tiers[i]->name) == 0)
            return available[i] ? tiers[i] : NULL;
    return NULL;
}

const char *nn_backend_name(const nn_backend *b) { return b ? b->name : "(none)"; }
