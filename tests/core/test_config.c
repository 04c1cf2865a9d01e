#include "enclaveml/config.h"
#include "harness.h"

static em_status agg(const char *text, em_agg_config *c, em_err *err)
{
    return em_agg_config_parse(text, strlen(text), "t.yaml", c, err);
}

static em_status wrk(const char *text, em_worker_config *c, em_err *err)
{
    return em_worker_config_parse(text, strlen(text), "w.yaml", c, err);
}

static void test_seed_examples(void)
{
    char path[1024];
    em_err err = {0};
    em_agg_config a;
    snprintf(path, sizeof path, "%s/examples/aggregator-config.yaml", th_src_dir());
    CHECK_OK(em_agg_config_load(path, &a, &err), &err);
    CHECK_EQ_U64(a.port, 8080);
    CHECK_EQ_U64(a.grpc_port, 50051);
    CHECK_EQ_U64(a.has_model_hash, 0);
    CHECK_EQ_U64(a.strict_mode, 1);
    CHECK_EQ_U64(a.request_timeout_secs, 30);
    CHECK_EQ_U64(a.split_strategy, EM_SPLIT_BY_CAPACITY);
    CHECK_EQ_U64(a.combine_strategy, EM_COMBINE_AVERAGE);

    const char *names[] = {"48gb", "12gb", "6gb"};
    const double gb[] = {48, 12, 6};
    for (int i = 0; i < 3; i++) {
        em_worker_config w;
        snprintf(path, sizeof path, "%s/examples/worker-%s-config.yaml", th_src_dir(), names[i]);
        CHECK_OK(em_worker_config_load(path, &w, &err), &err);
        CHECK(w.memory_gb == gb[i]);
        CHECK_EQ_U64(w.device, EM_DEVICE_CUDA);
        CHECK_EQ_U64(w.port, 50052);
        CHECK(!strcmp(w.aggregator_address, "10.0.0.1:8080"));
    }
    const char *local[] = {"48gb", "12gb", "6gb", "16gb"};
    for (int i = 0; i < 4; i++) {
        em_worker_config w;
        snprintf(path, sizeof path, "%s/examples/local/worker-%s.yaml", th_src_dir(), local[i]);
        CHECK_OK(em_worker_config_load(path, &w, &err), &err);
        CHECK(!strcmp(w.aggregator_address, "127.0.0.1:8080"));
    }
    snprintf(path, sizeof path, "%s/examples/local/aggregator.yaml", th_src_dir());
    CHECK_OK(em_agg_config_load(path, &a, &err), &err);
}

static void test_values(void)
{
    em_err err = {0};
    em_agg_config a;
    CHECK_OK(agg("aggregator:\n  model_hash: \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"\n"
                 "  split_strategy: redundant\n  replicas: 2\n  combine_strategy: median\n  strict_mode: false\n",
                 &a, &err), &err);
    CHECK_EQ_U64(a.has_model_hash, 1);
    CHECK_EQ_U64(a.model_hash[1], 0x11);
    CHECK_EQ_U64(a.split_strategy, EM_SPLIT_REDUNDANT);
    CHECK_EQ_U64(a.replicas, 2);
    CHECK_EQ_U64(a.combine_strategy, EM_COMBINE_MEDIAN);
    CHECK_EQ_U64(a.strict_mode, 0);
    CHECK_EQ_U64(a.port, 8080); /* default kept */

    em_worker_config w;
    CHECK_OK(wrk("worker:\n  node_id: n1\n  port: 6000\n", &w, &err), &err);
    CHECK(!strcmp(w.advertise_address, "127.0.0.1:6000"));
    CHECK_EQ_U64(w.device, EM_DEVICE_CPU);
}

/* Each bad config must fail and the message must name the file, the line and the key. */
static void test_errors(void)
{
    static const struct {
        const char *text, *expect1, *expect2;
    } cases[] = {
        {"aggregator:\n  port: 8080\n  colour: blue\n", "t.yaml:3", "aggregator.colour: unknown key"},
        {"aggregator:\n  port: 99999\n", "t.yaml:2", "aggregator.port: 99999 is out of range"},
        {"aggregator:\n  port: abc\n", "t.yaml:2", "expected an integer"},
        {"aggregator:\n  port: \"8080\"\n", "t.yaml:2", "expected an integer"},
        {"aggregator:\n  strict_mode: maybe\n", "t.yaml:2", "expected true or false"},
        {"aggregator:\n  split_strategy: random\n", "aggregator.split_strategy", "equal|by_capacity|redundant"},
        {"aggregator:\n  combine_strategy: max\n", "aggregator.combine_strategy", "majority_vote"},
        {"aggregator:\n  model_hash: abc\n", "aggregator.model_hash", "64-character hex"},
        {"aggregator:\n  request_timeout_secs: 0\n", "aggregator.request_timeout_secs", "out of range"},
        {"aggregator:\n  port: 1\n  port: 2\n", "t.yaml:3", "duplicate key"},
        {"aggregator:\n  port: [1, 2]\n", "aggregator.port", "expected a scalar"},
        {"aggregator: 5\n", "t.yaml:1", "must be a mapping"},
        {"worker:\n  port: 1\n", "t.yaml:1", "unknown top-level key 'worker'"},
        {"{}\n", "t.yaml", "missing 'aggregator:' section"},
        {"aggregator:\n  port: 1\n   bad: [\n", "t.yaml", "YAML syntax error"},
        {"", "t.yaml", "empty file"},
        {"- 1\n- 2\n", "t.yaml:1", "expected a mapping"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        em_err err = {0};
        em_agg_config a;
        em_status st = agg(cases[i].text, &a, &err);
        CHECK(st != EM_OK);
        CHECK_STR_CONTAINS(err.msg, cases[i].expect1);
        CHECK_STR_CONTAINS(err.msg, cases[i].expect2);
    }
    static const struct {
        const char *text, *expect;
    } wcases[] = {
        {"worker:\n  port: 1\n", "worker.node_id: missing required key"},
        {"worker:\n  node_id: \"a b\"\n", "not a valid node id"},
        {"worker:\n  node_id: a\n  device: tpu\n", "cpu|cuda|metal"},
        {"worker:\n  node_id: a\n  memory_gb: -4\n", "positive number of gigabytes"},
        {"worker:\n  node_id: a\n  aggregator_address: nohost\n", "not host:port"},
        {"worker:\n  node_id: a\n  model_path: null\n", "expected a string"},
    };
    for (size_t i = 0; i < sizeof wcases / sizeof wcases[0]; i++) {
        em_err err = {0};
        em_worker_config w;
        CHECK(wrk(wcases[i].text, &w, &err) != EM_OK);
        CHECK_STR_CONTAINS(err.msg, "w.yaml:");
        CHECK_STR_CONTAINS(err.msg, wcases[i].expect);
    }
    em_err err = {0};
    em_agg_config a;
    CHECK_ST(em_agg_config_load("/nonexistent/x.yaml", &a, &err), EM_ERR_IO, &err);
    CHECK_STR_CONTAINS(err.msg, "/nonexistent/x.yaml");
}

static void test_enums(void)
{
    em_split s;
    em_combine c;
    em_device d;
    for (int i = 0; i < 3; i++) {
        CHECK_OK(em_split_parse(em_split_name((em_split)i), &s), NULL);
        CHECK_EQ_U64(s, i);
        CHECK_OK(em_device_parse(em_device_name((em_device)i), &d), NULL);
    }
    for (int i = 0; i < 5; i++) {
        CHECK_OK(em_combine_parse(em_combine_name((em_combine)i), &c), NULL);
        CHECK_EQ_U64(c, i);
    }
    CHECK(em_split_parse("EQUAL", &s) != EM_OK);
}

int main(void)
{
    th_init("test_config");
    TH_RUN(test_seed_examples);
    TH_RUN(test_values);
    TH_RUN(test_errors);
    TH_RUN(test_enums);
    return th_finish();
}
