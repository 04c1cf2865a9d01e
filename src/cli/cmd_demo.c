/* enclaveml demo: a whole cluster on loopback (aggregator + the seed's 48/12/6/16 GB workers as
 * child processes of this binary), a verified inference over real digits, then a worker that
 * tampers with its output being caught, quarantined and its chunk re-done. Every child is
 * stopped on the way out, also on error or Ctrl-C. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cluster_cli.h"
#include "enclaveml/input.h"
#include "rpc.h"

#define DEMO_WORKERS 4

static const struct {
    const char *id;
    int gb;
} DEMO_W[DEMO_WORKERS] = {{"worker-48gb", 48}, {"worker-12gb", 12}, {"worker-6gb", 6}, {"worker-16gb", 16}};
#define DEMO_TAMPER 1 /* index of the worker restarted with --fault tamper-output */

typedef struct demo {
    char dir[PATH_MAX];
    char src[PATH_MAX]; /* directory holding examples/ */
    char model[PATH_MAX];
    char url[128];
    uint16_t agg_port, agg_grpc, wport[DEMO_WORKERS];
    pid_t agg_pid, wpid[DEMO_WORKERS];
    int keep;
} demo;

static void msleep(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* n distinct free loopback ports: every socket stays bound until all are chosen, so the
 * kernel cannot hand the same port out twice. */
static int free_ports(uint16_t *out, int n)
{
    int fds[2 + DEMO_WORKERS], rc = 0;
    if (n > 2 + DEMO_WORKERS)
        return -1;
    for (int i = 0; i < n; i++)
        fds[i] = -1;
    for (int i = 0; i < n && rc == 0; i++) {
        struct sockaddr_in a;
        socklen_t len = sizeof a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof a) ||
            getsockname(fds[i], (struct sockaddr *)&a, &len))
            rc = -1;
        else
            out[i] = ntohs(a.sin_port);
    }
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return rc;
}

/* fork + exec of this binary with argv; output to LOG; optional extra environment "K=V". */
static pid_t spawn(char *const argv[], const char *log, const char *env)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* Child: die with the demo even if it is killed hard. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(1);
    signal(SIGINT, SIG_IGN); /* Ctrl-C goes to the demo, which stops children in order */
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    if (env)
        putenv((char *)env);
    execv("/proc/self/exe", argv);
    _exit(127);
}

static void stop_child(pid_t *pid)
{
    if (*pid <= 0)
        return;
    kill(*pid, SIGTERM);
    for (int i = 0; i < 50; i++) {
        if (waitpid(*pid, NULL, WNOHANG) == *pid) {
            *pid = 0;
            return;
        }
        msleep(50);
    }
    kill(*pid, SIGKILL);
    waitpid(*pid, NULL, 0);
    *pid = 0;
}

static void rm_dir(const char *dir)
{
    char cmd[PATH_MAX + 32];
    /* Only our own mkdtemp directory, holding plain files we wrote. */
    if (strncmp(dir, "/tmp/enclaveml-demo.", 20))
        return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static void cleanup(demo *d)
{
    for (int i = 0; i < DEMO_WORKERS; i++)
        stop_child(&d->wpid[i]);
    stop_child(&d->agg_pid);
    if (d->dir[0]) {
        if (d->keep)
            printf("logs and configs kept in %s\n", d->dir);
        else
            rm_dir(d->dir);
    }
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static int find_examples(demo *d)
{
    char exe[PATH_MAX], cand[PATH_MAX + 64];
    const char *env = getenv("EM_SRC_DIR");
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    const char *bases[6] = {env, ".", exe, NULL, NULL, NULL};
    char up1[PATH_MAX + 16], up2[PATH_MAX + 16], up3[PATH_MAX + 16];
    snprintf(up1, sizeof up1, "%s/..", exe);
    snprintf(up2, sizeof up2, "%s/../..", exe);
    snprintf(up3, sizeof up3, "%s/../../..", exe);
    bases[3] = up1;
    bases[4] = up2;
    bases[5] = up3;
    for (int i = 0; i < 6; i++) {
        if (!bases[i])
            continue;
        snprintf(cand, sizeof cand, "%s/examples/digits/test.json", bases[i]);
        if (file_exists(cand) && realpath(bases[i], d->src))
            return 0;
    }
    return -1;
}

static int write_text(const char *path, const char *text)
{
    em_err err = {0};
    if (em_file_write(path, text, strlen(text), &err) != EM_OK) {
        fprintf(stderr, "%s\n", em_err_msg(&err));
        return -1;
    }
    return 0;
}

static json_t *http_json(const char *method, const char *url, const char *body, long *status, int timeout_ms)
{
    rpc_http_resp hr = {0};
    em_err err = {0};
    *status = 0;
    if (rpc_http(method, url, body, body ? strlen(body) : 0, timeout_ms, (size_t)64 << 20, &hr, &err) != EM_OK)
        return NULL;
    *status = hr.status;
    json_t *j = json_loads(hr.body ? hr.body : "", 0, NULL);
    rpc_http_resp_free(&hr);
    return j;
}

static json_t *get_workers(demo *d)
{
    char url[256];
    long st;
    snprintf(url, sizeof url, "%s/workers", d->url);
    json_t *j = http_json("GET", url, NULL, &st, 5000);
    json_t *w = json_incref(json_object_get(j, "workers"));
    json_decref(j);
    return w;
}

static json_t *find_worker(json_t *ws, const char *id)
{
    size_t i;
    json_t *w;
    json_array_foreach(ws, i, w) if (!strcmp(json_string_value(json_object_get(w, "id")) ?: "", id)) return w;
    return NULL;
}

/* Waits until worker `id` is listed healthy. */
static int wait_healthy(demo *d, const char *id, int secs)
{
    for (int t = 0; t < secs * 10 && !cli_cluster_stop; t++) {
        json_t *ws = get_workers(d);
        json_t *w = find_worker(ws, id);
        int ok = w && !strcmp(json_string_value(json_object_get(w, "state")) ?: "", "healthy");
        json_decref(ws);
        if (ok)
            return 0;
        msleep(100);
    }
    return -1;
}

static int start_worker(demo *d, int i, const char *fault)
{
    char cfg[PATH_MAX + 64], log[PATH_MAX + 64];
    snprintf(cfg, sizeof cfg, "%s/%s.yaml", d->dir, DEMO_W[i].id);
    snprintf(log, sizeof log, "%s/%s.log", d->dir, DEMO_W[i].id);
    char *argv[] = {"enclaveml", "start-node", "--config", cfg, fault ? "--fault" : NULL, (char *)fault, NULL};
    d->wpid[i] = spawn(argv, log, fault ? "EM_ALLOW_FAULTS=1" : NULL);
    return d->wpid[i] > 0 ? 0 : -1;
}

static int setup(demo *d)
{
    char path[PATH_MAX + 64], text[PATH_MAX + 2048];
    uint16_t ports[2 + DEMO_WORKERS];
    if (free_ports(ports, 2 + DEMO_WORKERS))
        return cli_fail("demo: no free loopback port");
    d->agg_port = ports[0];
    d->agg_grpc = ports[1];
    for (int i = 0; i < DEMO_WORKERS; i++)
        d->wport[i] = ports[2 + i];
    snprintf(d->url, sizeof d->url, "http://127.0.0.1:%u", (unsigned)d->agg_port);
    snprintf(path, sizeof path, "%s/aggregator.yaml", d->dir);
    snprintf(text, sizeof text,
             "aggregator:\n  bind: 127.0.0.1\n  port: %u\n  grpc_port: %u\n  model_hash: null\n  strict_mode: true\n"
             "  request_timeout_secs: 30\n  heartbeat_timeout_secs: 5\n  split_strategy: by_capacity\n"
             "  combine_strategy: average\n",
             (unsigned)d->agg_port, (unsigned)d->agg_grpc);
    if (write_text(path, text))
        return 1;
    for (int i = 0; i < DEMO_WORKERS; i++) {
        snprintf(path, sizeof path, "%s/%s.yaml", d->dir, DEMO_W[i].id);
        if (snprintf(text, sizeof text,
                 "worker:\n  node_id: %s\n  bind: 127.0.0.1\n  port: %u\n  advertise_address: \"127.0.0.1:%u\"\n"
                 "  aggregator_address: \"127.0.0.1:%u\"\n  device: cpu\n  memory_gb: %d\n  model_path: %s\n"
                 "  heartbeat_interval_secs: 1\n  threads: 1\n",
                 DEMO_W[i].id, (unsigned)d->wport[i], (unsigned)d->wport[i], (unsigned)d->agg_port, DEMO_W[i].gb,
                 d->model) >= (int)sizeof text)
            return cli_fail("demo: path too long: %s", d->model);
        if (write_text(path, text))
            return 1;
    }
    return 0;
}

/* Builds the request body for the first n digits; labels[] gets their true classes. */
static char *make_request(demo *d, size_t n, int *labels, size_t *got)
{
    char path[PATH_MAX + 64];
    em_err err = {0};
    em_input in = {0};
    snprintf(path, sizeof path, "%s/examples/digits/test.json", d->src);
    if (em_input_load(path, 0, &in, &err) != EM_OK) {
        cli_fail_err(path, &err);
        return NULL;
    }
    json_t *root = json_load_file(path, 0, NULL);
    json_t *lab = json_object_get(root, "labels");
    if (n > in.n_samples)
        n = in.n_samples;
    json_t *data = json_array();
    for (size_t i = 0; i < n * in.sample_size; i++)
        json_array_append_new(data, json_real(in.data[i]));
    for (size_t i = 0; i < n; i++)
        labels[i] = json_is_integer(json_array_get(lab, i)) ? (int)json_integer_value(json_array_get(lab, i)) : -1;
    json_t *body = json_pack("{s:o, s:I}", "data", data, "sample_size", (json_int_t)in.sample_size);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    json_decref(root);
    em_input_free(&in);
    *got = n;
    return text;
}

static void print_chunks(json_t *ans)
{
    size_t i;
    json_t *c;
    printf("  %-14s %-12s %9s %10s %10s\n", "worker", "samples", "attempts", "prove ms", "verify ms");
    json_array_foreach(json_object_get(ans, "chunks"), i, c)
    {
        json_t *s = json_object_get(c, "samples");
        long long a = json_integer_value(json_array_get(s, 0)), b = json_integer_value(json_array_get(s, 1));
        char range[48];
        snprintf(range, sizeof range, "%lld..%lld", a, a + b - 1);
        printf("  %-14s %-12s %9lld %10.1f %10.1f\n", json_string_value(json_object_get(c, "node_id")), range,
               (long long)json_integer_value(json_object_get(c, "attempts")),
               json_number_value(json_object_get(c, "prove_ms")), json_number_value(json_object_get(c, "verify_ms")));
    }
}

static json_t *infer(demo *d, const char *body, long *status)
{
    char url[256];
    snprintf(url, sizeof url, "%s/inference", d->url);
    return http_json("POST", url, body, status, 120000);
}

static int run_demo(demo *d, size_t n_req)
{
    char log[PATH_MAX + 64];
    long status;
    int labels[2048];
    size_t n = 0;
    printf("[1/6] cluster directory %s\n", d->dir);
    if (setup(d))
        return 1;
    snprintf(log, sizeof log, "%s/aggregator.log", d->dir);
    char cfg[PATH_MAX + 64];
    snprintf(cfg, sizeof cfg, "%s/aggregator.yaml", d->dir);
    char *aargv[] = {"enclaveml", "start-aggregator", "--config", cfg, NULL};
    if ((d->agg_pid = spawn(aargv, log, NULL)) < 0)
        return cli_fail("demo: fork failed: %s", strerror(errno));
    printf("[2/6] aggregator: REST %s, gRPC 127.0.0.1:%u (strict mode, by_capacity split)\n", d->url,
           (unsigned)d->agg_grpc);
    for (int t = 0;; t++) {
        char url[256];
        snprintf(url, sizeof url, "%s/health", d->url);
        json_t *h = http_json("GET", url, NULL, &status, 1000);
        json_decref(h);
        if (status == 200)
            break;
        if (t > 100 || cli_cluster_stop)
            return cli_fail("demo: the aggregator did not start (see %s)", log);
        msleep(100);
    }
    printf("[3/6] starting 4 workers (each loads the model and commits to its weights)\n");
    for (int i = 0; i < DEMO_WORKERS; i++)
        if (start_worker(d, i, NULL))
            return cli_fail("demo: fork failed");
    for (int i = 0; i < DEMO_WORKERS; i++) {
        if (wait_healthy(d, DEMO_W[i].id, 30))
            return cli_fail("demo: worker %s did not register (see %s/%s.log)", DEMO_W[i].id, d->dir, DEMO_W[i].id);
        printf("      %-12s %2d GB  127.0.0.1:%u  registered\n", DEMO_W[i].id, DEMO_W[i].gb, (unsigned)d->wport[i]);
    }

    char *body = make_request(d, n_req, labels, &n);
    if (!body)
        return 1;
    printf("[4/6] inference over %zu handwritten digits (8x8, scikit-learn digits test split)\n", n);
    json_t *ans = infer(d, body, &status);
    if (status != 200 || !ans) {
        free(body);
        json_decref(ans);
        return cli_fail("demo: inference failed (HTTP %ld)", status);
    }
    json_t *pred = json_object_get(ans, "predictions");
    size_t correct = 0;
    printf("      predicted: ");
    for (size_t i = 0; i < n; i++)
        printf("%lld%s", (long long)json_integer_value(json_array_get(pred, i)), i + 1 < n ? "" : "\n");
    printf("      true:      ");
    for (size_t i = 0; i < n; i++) {
        printf("%d%s", labels[i], i + 1 < n ? "" : "\n");
        correct += json_integer_value(json_array_get(pred, i)) == labels[i];
    }
    printf("      %zu/%zu correct, verified: %s, %lld proofs verified on %lld workers, %.0f ms end to end\n", correct, n,
           json_is_true(json_object_get(ans, "verified")) ? "yes" : "NO",
           (long long)json_integer_value(json_object_get(ans, "proofs_verified")),
           (long long)json_integer_value(json_object_get(ans, "total_nodes")),
           json_number_value(json_object_get(ans, "inference_time_ms")));
    printf("      model hash %s\n", json_string_value(json_object_get(ans, "model_hash")));
    print_chunks(ans);
    json_t *first_pred = json_deep_copy(pred);
    json_decref(ans);

    printf("[5/6] restarting %s with --fault tamper-output (it proves honestly, then changes an output)\n",
           DEMO_W[DEMO_TAMPER].id);
    stop_child(&d->wpid[DEMO_TAMPER]);
    if (start_worker(d, DEMO_TAMPER, "tamper-output") || wait_healthy(d, DEMO_W[DEMO_TAMPER].id, 30)) {
        free(body);
        json_decref(first_pred);
        return cli_fail("demo: the tampering worker did not come back");
    }
    ans = infer(d, body, &status);
    free(body);
    if (status != 200 || !ans) {
        json_decref(first_pred);
        json_decref(ans);
        return cli_fail("demo: inference with a tampering worker failed (HTTP %ld)", status);
    }
    printf("      proofs rejected: %lld; verified: %s; predictions %s the first run\n",
           (long long)json_integer_value(json_object_get(ans, "proofs_rejected")),
           json_is_true(json_object_get(ans, "verified")) ? "yes" : "NO",
           json_equal(first_pred, json_object_get(ans, "predictions")) ? "identical to" : "DIFFERENT from");
    print_chunks(ans);
    json_decref(first_pred);
    json_decref(ans);
    json_t *ws = get_workers(d);
    printf("[6/6] cluster state (GET /workers):\n");
    size_t i;
    json_t *w;
    json_array_foreach(ws, i, w)
    {
        printf("      %-12s %-11s share %5.1f%%  proofs verified %lld, rejected %lld\n",
               json_string_value(json_object_get(w, "id")), json_string_value(json_object_get(w, "state")),
               100 * json_number_value(json_object_get(w, "share")),
               (long long)json_integer_value(json_object_get(w, "proofs_verified")),
               (long long)json_integer_value(json_object_get(w, "proofs_rejected")));
        if (json_object_get(w, "reason"))
            printf("        reason: %s\n", json_string_value(json_object_get(w, "reason")));
    }
    json_decref(ws);
    printf("done: the tampered chunk was rejected by proof verification and recomputed by an honest worker.\n");
    return 0;
}

static void help(void)
{
    printf("usage: enclaveml demo [--samples N] [--model FILE.eml] [--keep]\n\n"
           "Starts an aggregator and four workers (48/12/6/16 GB declared, as in the seed) on\n"
           "loopback as child processes, runs a verified inference over N (default 64) digits of\n"
           "examples/digits/test.json, then restarts one worker with --fault tamper-output and shows\n"
           "its proof rejected, the worker quarantined and its chunk re-done. Without --model it\n"
           "uses examples/digits/model.eml, or imports examples/digits/model.onnx into a temporary\n"
           "directory. --keep leaves the logs and configs in place. All processes are stopped on\n"
           "exit, on error and on Ctrl-C.\n");
}

static int run(int argc, char **argv)
{
    demo d;
    memset(&d, 0, sizeof d);
    long n = 64;
    const char *model = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--samples") && i + 1 < argc)
            n = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--keep"))
            d.keep = 1;
        else
            return cli_fail("demo: unexpected argument '%s' (see --help)", argv[i]);
    }
    if (n < 1 || n > 2048)
        return cli_fail("demo: --samples must be 1..2048");
    if (find_examples(&d))
        return cli_fail("demo: cannot find examples/digits/test.json (run from the repository, or set EM_SRC_DIR)");
    char tmpl[] = "/tmp/enclaveml-demo.XXXXXX";
    if (!mkdtemp(tmpl))
        return cli_fail("demo: mkdtemp: %s", strerror(errno));
    snprintf(d.dir, sizeof d.dir, "%s", tmpl);
    cli_cluster_on_signals();
    printf("EnclaveML demo: verifiable distributed inference on this machine\n");
    int rc = 1;
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/examples/digits/model.eml", d.src);
    if (model) {
        if (!realpath(model, d.model)) {
            rc = cli_fail("demo: --model %s: %s", model, strerror(errno));
            goto out;
        }
    } else if (file_exists(path)) {
        if (snprintf(d.model, sizeof d.model, "%s", path) >= (int)sizeof d.model) {
            rc = cli_fail("demo: path too long: %s", path);
            goto out;
        }
    } else {
        char onnx[PATH_MAX + 64], calib[PATH_MAX + 64], log[PATH_MAX + 64];
        snprintf(onnx, sizeof onnx, "%s/examples/digits/model.onnx", d.src);
        snprintf(calib, sizeof calib, "%s/examples/digits/calibration.json", d.src);
        if (snprintf(d.model, sizeof d.model, "%s/model.eml", d.dir) >= (int)sizeof d.model) {
            rc = cli_fail("demo: path too long: %s", d.dir);
            goto out;
        }
        snprintf(log, sizeof log, "%s/import.log", d.dir);
        printf("importing %s (no examples/digits/model.eml yet)\n", onnx);
        char *iargv[] = {"enclaveml", "model", "import", onnx, "-o", d.model, "--calibration", calib, NULL};
        pid_t p = spawn(iargv, log, NULL);
        int ws = 0;
        if (p < 0 || waitpid(p, &ws, 0) != p || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
            rc = cli_fail("demo: model import failed (see %s)", log);
            d.keep = 1;
            goto out;
        }
    }
    rc = run_demo(&d, (size_t)n);
    if (cli_cluster_stop)
        rc = cli_fail("demo: interrupted");
    if (rc)
        d.keep = 1; /* leave the logs for a failed run */
out:
    cleanup(&d);
    return rc;
}

const cli_command cli_cmd_demo = {
    .name = "demo",
    .summary = "run a whole verifiable cluster locally and show a tampering worker caught",
    .run = run,
    .help = help,
};
