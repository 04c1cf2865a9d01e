/* The prover's threads (fraction-tree levels, claim fold, eq tables) must not change the proof:
 * proofs of the same input with 1, 2 and 3 threads are byte-identical and verify. The models
 * and batches are large enough that every threaded loop really splits (lookup levels and the
 * witness fold above 2 x 4096 pairs, eq tables above 2^12 entries). Two proofs running at once
 * on one prover (a worker serving two chunks) contend for the persistent helper threads: one
 * gets them, the other starts its own, and both must give the sequential proof's bytes. A child
 * forked after the helpers started (they are not copied) must still prove, with new helpers.
 * Provers created and freed on several threads at once (the helpers stopped by one last release
 * while another thread holds, releases or starts them again) must neither hang nor lose work.
 * The SIMD tiers (scalar, AVX2, AVX-512 field kernels, e.g. zk_frac.c's fraction-tree rounds)
 * must give the same bytes too: each supported tier proves the same batch. */
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enclaveml/zkml/ff_vec.h"
#include "zk_internal.h"
#include "zk_testutil.h"

static void prove_threads(const nn_model *m, size_t n, const char *what)
{
    em_err err = {0};
    zk_prover *p = NULL;
    CHECK_OK(zk_prover_create(m, &p, &err), &err);
    if (!p)
        return;
    int32_t *x = zt_input(m, n);
    size_t k = nn_model_output_size(m);
    int32_t *out[3] = {NULL};
    uint8_t *proof[3] = {NULL};
    size_t len[3] = {0};
    zk_context ctx = {.nonce = (const uint8_t *)"threads", .nonce_len = 7, .node_id = "node-t"};
    for (int t = 0; t < 3; t++) {
        nn_run_opts o = {.backend = NULL, .threads = t + 1};
        out[t] = calloc(n * k, sizeof *out[t]);
        zk_stats ps = {0};
        CHECK_OK(zk_prove(p, &o, x, n, &ctx, out[t], &proof[t], &len[t], &ps, &err), &err);
        fprintf(stderr, "    %s batch %zu, %d thread(s): prove %.1f ms, %zu bytes\n", what, n, t + 1, ps.prove_ms,
                len[t]);
    }
    for (int t = 1; t < 3; t++) {
        CHECK(proof[0] && proof[t] && len[t] == len[0]);
        if (proof[0] && proof[t] && len[t] == len[0])
            CHECK(memcmp(proof[t], proof[0], len[0]) == 0);
        CHECK(memcmp(out[t], out[0], n * k * sizeof *out[0]) == 0);
    }
    if (proof[1]) {
        CHECK_OK(zk_verify(zk_prover_vk(p), x, n, out[1], &ctx, proof[1], len[1], NULL, &err), &err);
        /* a flipped byte in the threaded proof is rejected */
        proof[1][len[1] / 2] ^= 1;
        CHECK(zk_verify(zk_prover_vk(p), x, n, out[1], &ctx, proof[1], len[1], NULL, &err) != EM_OK);
    }
    for (int t = 0; t < 3; t++) {
        free(proof[t]);
        free(out[t]);
    }
    free(x);
    zk_prover_free(p);
}

static void test_mlp_threads(void)
{
    uint32_t dims[] = {64, 128, 64, 10};
    nn_model *m = zt_mlp(dims, 4, 8, 8, 0, 0);
    CHECK(m != NULL);
    if (!m)
        return;
    prove_threads(m, 256, "mlp 64-128-64-10");
    nn_model_free(m);
}

/* tiny trees (a single leaf: 2^0) take the inline paths */
static void test_tiny_threads(void)
{
    uint32_t dims[] = {5, 1};
    nn_model *m = zt_mlp(dims, 2, 8, 8, 0, 0);
    CHECK(m != NULL);
    if (!m)
        return;
    prove_threads(m, 1, "mlp 5-1");
    nn_model_free(m);
}

static void test_cnn_threads(void)
{
    nn_model *m = zt_cnn2(1);
    CHECK(m != NULL);
    if (!m)
        return;
    prove_threads(m, 256, "cnn (maxpool)");
    nn_model_free(m);
}

static void test_tiers(void)
{
    uint32_t dims[] = {64, 128, 64, 10};
    nn_model *m = zt_mlp(dims, 4, 8, 8, 0, 0);
    CHECK(m != NULL);
    if (m)
        zt_prove_tiers(m, 256, "mlp 64-128-64-10");
    nn_model_free(m);
    /* 3 samples: small trees (2^1 .. 2^11 leaves), whose last rounds have fewer than 8 pairs and
     * take the scalar kernels (chunks of pairs are powers of two, so the vector kernels
     * themselves never leave a tail) */
    nn_model *c = zt_cnn2(1);
    CHECK(c != NULL);
    if (c)
        zt_prove_tiers(c, 3, "cnn (maxpool)");
    nn_model_free(c);
}

typedef struct conc_job {
    zk_prover *p;
    const int32_t *x;
    size_t n, k;
    const zk_context *ctx;
    int32_t *out;
    uint8_t *proof;
    size_t len;
    em_status st;
    em_err err;
} conc_job;

static void *conc_main(void *arg)
{
    conc_job *j = arg;
    nn_run_opts o = {.backend = NULL, .threads = 2};
    j->st = zk_prove(j->p, &o, j->x, j->n, j->ctx, j->out, &j->proof, &j->len, NULL, &j->err);
    return NULL;
}

/* One prover of the 64-128-64-10 MLP, its input and a reference proof made on this thread. */
typedef struct conc_fix {
    nn_model *m;
    zk_prover *p;
    int32_t *x;
    zk_context ctx;
    conc_job ref;
} conc_fix;

static int conc_setup(conc_fix *f)
{
    uint32_t dims[] = {64, 128, 64, 10};
    em_err err = {0};
    memset(f, 0, sizeof *f);
    f->m = zt_mlp(dims, 4, 8, 8, 0, 0);
    CHECK(f->m != NULL);
    if (f->m)
        CHECK_OK(zk_prover_create(f->m, &f->p, &err), &err);
    if (!f->p)
        return 0;
    size_t n = 256, k = nn_model_output_size(f->m);
    f->x = zt_input(f->m, n);
    f->ctx = (zk_context){.nonce = (const uint8_t *)"threads", .nonce_len = 7, .node_id = "node-t"};
    f->ref = (conc_job){.p = f->p, .x = f->x, .n = n, .k = k, .ctx = &f->ctx, .out = calloc(n * k, sizeof(int32_t))};
    conc_main(&f->ref); /* also starts the helpers */
    CHECK_OK(f->ref.st, &f->ref.err);
    return f->ref.st == EM_OK;
}

static conc_job conc_new(const conc_fix *f)
{
    return (conc_job){.p = f->p, .x = f->x, .n = f->ref.n, .k = f->ref.k, .ctx = &f->ctx,
                      .out = calloc(f->ref.n * f->ref.k, sizeof(int32_t))};
}

static int conc_same(const conc_fix *f, const conc_job *j)
{
    return j->st == EM_OK && j->proof && f->ref.proof && j->len == f->ref.len &&
           !memcmp(j->proof, f->ref.proof, f->ref.len) && !memcmp(j->out, f->ref.out, j->n * j->k * sizeof(int32_t));
}

static void conc_free(conc_fix *f)
{
    free(f->ref.proof);
    free(f->ref.out);
    free(f->x);
    zk_prover_free(f->p);
    nn_model_free(f->m);
}

static void test_concurrent_proofs(void)
{
    conc_fix f;
    if (!conc_setup(&f)) {
        conc_free(&f);
        return;
    }
    for (int round = 0; round < 3; round++) {
        conc_job j[2];
        pthread_t th[2];
        int started[2];
        for (int t = 0; t < 2; t++) {
            j[t] = conc_new(&f);
            started[t] = pthread_create(&th[t], NULL, conc_main, &j[t]) == 0;
            CHECK(started[t]);
        }
        for (int t = 0; t < 2; t++) {
            if (started[t])
                pthread_join(th[t], NULL);
            CHECK_OK(j[t].st, &j[t].err);
            CHECK(conc_same(&f, &j[t]));
            free(j[t].proof);
            free(j[t].out);
        }
    }
    conc_free(&f);
}

static void test_fork_child(void)
{
    conc_fix f;
    if (!conc_setup(&f)) {
        conc_free(&f);
        return;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        conc_job j = conc_new(&f);
        conc_main(&j);
        _exit(conc_same(&f, &j) ? 0 : 1);
    }
    CHECK(pid > 0);
    int status = -1;
    if (pid > 0) {
        alarm(120); /* a child stuck waiting for helpers it does not have fails the test */
        CHECK(waitpid(pid, &status, 0) == pid);
        alarm(0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    conc_free(&f);
}

typedef struct race_job {
    size_t sum[ZK_PAR_CHUNKS];
} race_job;

static void race_fn(void *vctx, size_t b, size_t e, unsigned slot)
{
    race_job *j = vctx;
    j->sum[slot] += e - b;
}

static void *race_main(void *arg)
{
    int *bad = arg;
    for (int i = 0; i < 20000; i++) {
        zk__pool_hold(1);
        race_job j;
        memset(&j, 0, sizeof j);
        unsigned nc = zk__par_for(4, (size_t)1 << 12, 16, race_fn, &j);
        size_t total = 0;
        for (unsigned c = 0; c < nc; c++)
            total += j.sum[c];
        if (total != (size_t)1 << 12)
            *bad = 1;
        zk__pool_hold(0);
    }
    return NULL;
}

static void test_pool_hold_race(void)
{
    pthread_t th[4];
    int bad[4] = {0}, started[4];
    alarm(300); /* a lost wake-up hangs: fail instead */
    for (int t = 0; t < 4; t++)
        started[t] = pthread_create(&th[t], NULL, race_main, &bad[t]) == 0;
    for (int t = 0; t < 4; t++) {
        CHECK(started[t]);
        if (started[t])
            pthread_join(th[t], NULL);
        CHECK(!bad[t]);
    }
    alarm(0);
}

int main(void)
{
    th_init("test_zk_threads");
    TH_RUN(test_mlp_threads);
    TH_RUN(test_cnn_threads);
    TH_RUN(test_tiny_threads);
    TH_RUN(test_tiers);
    TH_RUN(test_concurrent_proofs);
    TH_RUN(test_fork_child);
    TH_RUN(test_pool_hold_race);
    return th_finish();
}
