/* Proofs on models nobody tuned for: every public ezkl example model that imports
 * ($EM_SHARED_DIR/models/ezkl/<name>/network.onnx, calibrated on its own input.json) is proved and
 * verified at batch sizes 1, 3 and 64 (the sample plus deterministic perturbations of it), and a
 * proof whose output (or input) was changed after proving must be rejected. Models made only of
 * reshapes and ReLUs have no proven layer: their proofs bind the statement and the verifier
 * recomputes the output (docs/PROOFS.md "Public prefix"). A model the prover does not
 * support must be refused by zk_prover_create with EM_ERR_UNSUPPORTED/EM_ERR_LIMIT and a reason
 * naming the layer; the table printed at the end lists which models are provable. */
#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>

#include "enclaveml/model.h"
#include "enclaveml/zkml/zk.h"
#include "harness.h"

/* Models the prover is known not to support yet, with the reason it must give. A model that
 * becomes provable fails this test until it is removed from the list (so the list stays true). */
static const struct {
    const char *name, *why;
} UNPROVABLE[] = {
    /* every ezkl model that imports is provable now; models refused by the prover go here */
    {NULL, NULL},
};

static const char *expected_refusal(const char *name)
{
    for (size_t i = 0; i < sizeof UNPROVABLE / sizeof UNPROVABLE[0] && UNPROVABLE[i].name; i++)
        if (!strcmp(name, UNPROVABLE[i].name))
            return UNPROVABLE[i].why;
    return NULL;
}

static float *first_row(json_t *arr, size_t *n)
{
    json_t *row = json_is_array(arr) && json_array_size(arr) >= 1 && json_is_array(json_array_get(arr, 0))
                      ? json_array_get(arr, 0)
                      : arr;
    if (!json_is_array(row) || json_array_size(row) == 0)
        return NULL;
    *n = json_array_size(row);
    float *v = malloc(*n * sizeof *v);
    for (size_t i = 0; v && i < *n; i++)
        v[i] = (float)json_number_value(json_array_get(row, i));
    return v;
}

static int n_proved, n_refused;
static char table[8192];

static void note(const char *fmt, const char *a, const char *b)
{
    size_t l = strlen(table);
    snprintf(table + l, sizeof table - l, fmt, a, b);
}

static void prove_batches(const char *name, nn_model *m, zk_prover *p, const float *x, size_t in_size)
{
    static const size_t batches[] = {1, 3, 64};
    const zk_vk *vk = zk_prover_vk(p);
    size_t k = nn_model_output_size(m);
    for (size_t bi = 0; bi < 3; bi++) {
        size_t n = batches[bi];
        em_err err = {0};
        float *xs = malloc(n * in_size * sizeof *xs);
        int32_t *q = malloc(n * in_size * sizeof *q), *y = malloc(n * k * sizeof *y);
        uint8_t *proof = NULL;
        size_t plen = 0;
        if (!xs || !q || !y) {
            CHECK(0);
            goto next;
        }
        for (size_t s = 0; s < n; s++)
            for (size_t j = 0; j < in_size; j++) /* sample 0 as given, others perturbed */
                xs[s * in_size + j] = s ? x[j] * (1.0f + 0.05f * (float)((s * 7 + j) % 11) - 0.25f) : x[j];
        CHECK_OK(nn_model_quantize_input(m, xs, n, q, &err), &err);
        zk_context ctx = {.nonce = (const uint8_t *)"conformance", .nonce_len = 11, .node_id = "w-conf"};
        zk_stats ps = {0}, vs = {0};
        em_status st = zk_prove(p, NULL, q, n, &ctx, y, &proof, &plen, &ps, &err);
        if (st != EM_OK) {
            fprintf(stderr, "  %s batch %zu: prove failed: %s\n", name, n, err.msg);
            CHECK_OK(st, &err);
            goto next;
        }
        int32_t *ref = malloc(n * k * sizeof *ref);
        CHECK_OK(nn_model_run(m, NULL, q, n, ref, &err), &err);
        CHECK(ref && !memcmp(ref, y, n * k * sizeof *y)); /* the proved output is the engine's */
        free(ref);
        st = zk_verify(vk, q, n, y, &ctx, proof, plen, &vs, &err);
        if (st != EM_OK)
            fprintf(stderr, "  %s batch %zu: honest proof rejected: %s\n", name, n, err.msg);
        CHECK_OK(st, &err);
        if (n == 64) {
            char line[160];
            snprintf(line, sizeof line, "prove %.1f ms, verify %.1f ms, %zu bytes", ps.prove_ms, vs.verify_ms, plen);
            note("  %-18s batch 64: %s\n", name, line);
        }
        y[(n * k) / 2] += 1; /* one output value changed after proving */
        CHECK(zk_verify(vk, q, n, y, &ctx, proof, plen, NULL, NULL) != EM_OK);
        y[(n * k) / 2] -= 1;
        size_t qi = (n * in_size) / 2; /* one input value changed (staying in the activation range) */
        q[qi] += q[qi] > 0 ? -1 : 1;
        CHECK(zk_verify(vk, q, n, y, &ctx, proof, plen, NULL, NULL) != EM_OK);
    next:
        free(proof);
        free(xs);
        free(q);
        free(y);
    }
}

static void one_model(const char *dir, const char *name)
{
    char path[2400];
    em_err err = {0};
    snprintf(path, sizeof path, "%s/%s/input.json", dir, name);
    json_t *root = json_load_file(path, 0, NULL);
    size_t in_n = 0;
    float *x = root ? first_row(json_object_get(root, "input_data"), &in_n) : NULL;
    json_decref(root);
    if (!x)
        return;
    snprintf(path, sizeof path, "%s/%s/network.onnx", dir, name);
    nn_import_opts o;
    nn_import_opts_default(&o);
    o.calib = x;
    o.n_calib = 1;
    nn_model *m = NULL;
    zk_prover *p = NULL;
    if (nn_onnx_import(path, &o, &m, &err) != EM_OK || nn_model_input_size(m) != in_n) {
        note("  %-18s not imported (%s)\n", name, err.msg); /* test_conformance checks the reason */
        goto out;
    }
    const char *why = expected_refusal(name);
    em_status st = zk_prover_create(m, &p, &err);
    if (why) {
        CHECK(st == EM_ERR_UNSUPPORTED || st == EM_ERR_LIMIT);
        CHECK_STR_CONTAINS(err.msg, why);
        note("  %-18s refused: %s\n", name, err.msg);
        n_refused++;
        goto out;
    }
    CHECK_OK(st, &err);
    if (st != EM_OK)
        goto out;
    prove_batches(name, m, p, x, in_n);
    note("  %-18s proved and verified at batch 1, 3, 64%s\n", name, "");
    n_proved++;
out:
    zk_prover_free(p);
    nn_model_free(m);
    free(x);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void test_ezkl_models(void)
{
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/models/ezkl", th_shared_dir());
    DIR *d = opendir(dir);
    if (!d) {
        /* CI clones the repository with shared/ beside it; a bare clone has no test models. */
        printf("  no models under %s: skipped\n", dir);
        return;
    }
    char *names[64];
    size_t nn = 0;
    for (struct dirent *e; (e = readdir(d)) && nn < 64;)
        if (e->d_name[0] != '.')
            names[nn++] = strdup(e->d_name);
    closedir(d);
    qsort(names, nn, sizeof names[0], cmp_str);
    for (size_t i = 0; i < nn; i++) {
        one_model(dir, names[i]);
        free(names[i]);
    }
    fprintf(stderr, "%s", table);
    fprintf(stderr, "  %d models proved, %d refused with a reason\n", n_proved, n_refused);
    /* the MLP-style models, the strided 1x1 conv, the CNNs, 1l_max_pool and the parameter-free
     * models (1l_relu, 2l_relu_small, 1l_flatten, 1l_identity, 1l_reshape, 1l_softmax) */
    CHECK(n_proved >= 18);
}

int main(void)
{
    th_init("test_zk_conformance");
    TH_RUN(test_ezkl_models);
    return th_finish();
}
