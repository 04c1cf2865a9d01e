/* Splitter and combiner of the aggregator on known inputs, plus the RPC helpers (base64,
 * host:port). Expected values are worked out by hand in the comments. */
#include <math.h>

#include "enclaveml/aggregator.h"
#include "harness.h"
#include "rpc.h"

static size_t share_of(const agg_chunk *c, size_t n, uint32_t w)
{
    size_t s = 0;
    for (size_t i = 0; i < n; i++)
        if (c[i].worker == w)
            s += c[i].count;
    return s;
}

/* Non-redundant plans cover [0, n) exactly once, in order, within every worker's max_batch. */
static int plan_ok(const agg_chunk *c, size_t nc, size_t n, const uint32_t *mb, size_t nw)
{
    size_t next = 0;
    for (size_t i = 0; i < nc; i++) {
        if (c[i].worker >= nw || c[i].start != next || c[i].count == 0 || c[i].count > mb[c[i].worker])
            return 0;
        next += c[i].count;
    }
    return next == n;
}

static void test_by_capacity_seed(void)
{
    /* The seed's cluster: 48/12/6/16 GB. 82 samples split exactly 48/12/6/16. */
    double cap[4] = {48, 12, 6, 16};
    uint32_t mb[4] = {1024, 1024, 1024, 1024};
    agg_chunk *c = NULL;
    size_t nc = 0;
    em_err err = {0};
    CHECK_OK(agg_split_plan(EM_SPLIT_BY_CAPACITY, cap, mb, 4, 82, 0, &c, &nc, &err), &err);
    CHECK(plan_ok(c, nc, 82, mb, 4));
    CHECK_EQ_U64(share_of(c, nc, 0), 48);
    CHECK_EQ_U64(share_of(c, nc, 1), 12);
    CHECK_EQ_U64(share_of(c, nc, 2), 6);
    CHECK_EQ_U64(share_of(c, nc, 3), 16);
    free(c);
    /* 100 samples: exact 58.54/14.63/7.32/19.51 -> floors 58/14/7/19 (98); the two largest
     * remainders (.63 worker 1, .54 worker 0) get one more: 59/15/7/19. */
    CHECK_OK(agg_split_plan(EM_SPLIT_BY_CAPACITY, cap, mb, 4, 100, 0, &c, &nc, &err), &err);
    CHECK(plan_ok(c, nc, 100, mb, 4));
    CHECK_EQ_U64(share_of(c, nc, 0), 59);
    CHECK_EQ_U64(share_of(c, nc, 1), 15);
    CHECK_EQ_U64(share_of(c, nc, 2), 7);
    CHECK_EQ_U64(share_of(c, nc, 3), 19);
    free(c);
    /* One sample goes to the largest worker. */
    CHECK_OK(agg_split_plan(EM_SPLIT_BY_CAPACITY, cap, mb, 4, 1, 0, &c, &nc, &err), &err);
    CHECK_EQ_U64(nc, 1);
    CHECK_EQ_U64(c[0].worker, 0);
    free(c);
}

static void test_equal_and_caps(void)
{
    double cap[3] = {100, 1, 1};
    uint32_t mb[3] = {1024, 1024, 1024};
    agg_chunk *c = NULL;
    size_t nc = 0;
    em_err err = {0};
    /* equal ignores capacity: 10 = 4/3/3 (remainder ties go to the lowest index). */
    CHECK_OK(agg_split_plan(EM_SPLIT_EQUAL, cap, mb, 3, 10, 0, &c, &nc, &err), &err);
    CHECK(plan_ok(c, nc, 10, mb, 3));
    CHECK_EQ_U64(share_of(c, nc, 0), 4);
    CHECK_EQ_U64(share_of(c, nc, 1), 3);
    CHECK_EQ_U64(share_of(c, nc, 2), 3);
    free(c);
    /* by_capacity with a cap: worker 0 would get 98 of 100 but max_batch 10 caps it; the other 90
     * are split 45/45 between the equal workers 1 and 2. */
    uint32_t mb2[3] = {10, 1024, 1024};
    CHECK_OK(agg_split_plan(EM_SPLIT_BY_CAPACITY, cap, mb2, 3, 100, 0, &c, &nc, &err), &err);
    CHECK(plan_ok(c, nc, 100, mb2, 3));
    CHECK_EQ_U64(share_of(c, nc, 0), 10);
    CHECK_EQ_U64(share_of(c, nc, 1), 45);
    CHECK_EQ_U64(share_of(c, nc, 2), 45);
    free(c);
    /* More samples than all caps together: several rounds, every chunk within its cap. */
    uint32_t mb3[2] = {2, 3};
    CHECK_OK(agg_split_plan(EM_SPLIT_EQUAL, cap, mb3, 2, 12, 0, &c, &nc, &err), &err);
    CHECK(plan_ok(c, nc, 12, mb3, 2));
    CHECK(nc >= 5);
    free(c);
}

static void test_redundant(void)
{
    double cap[3] = {6, 48, 12};
    uint32_t mb[3] = {1024, 4, 1024};
    agg_chunk *c = NULL;
    size_t nc = 0;
    em_err err = {0};
    /* Two replicas: the two largest workers (1 and 2) each cover all 10 samples; worker 1 in
     * chunks of at most 4. */
    CHECK_OK(agg_split_plan(EM_SPLIT_REDUNDANT, cap, mb, 3, 10, 2, &c, &nc, &err), &err);
    CHECK_EQ_U64(share_of(c, nc, 0), 0);
    CHECK_EQ_U64(share_of(c, nc, 1), 10);
    CHECK_EQ_U64(share_of(c, nc, 2), 10);
    for (size_t i = 0; i < nc; i++)
        CHECK(c[i].count <= mb[c[i].worker]);
    free(c);
    /* replicas 0 = all workers. */
    CHECK_OK(agg_split_plan(EM_SPLIT_REDUNDANT, cap, mb, 3, 10, 0, &c, &nc, &err), &err);
    for (uint32_t w = 0; w < 3; w++)
        CHECK_EQ_U64(share_of(c, nc, w), 10);
    free(c);
}

static void test_random_plans(void)
{
    for (int iter = 0; iter < 300; iter++) {
        size_t nw = 1 + th_rand() % 6, n = 1 + th_rand() % 3000;
        double cap[6];
        uint32_t mb[6];
        for (size_t i = 0; i < nw; i++) {
            cap[i] = 1 + (double)(th_rand() % 64);
            mb[i] = 1 + (uint32_t)(th_rand() % 700);
        }
        em_split st = th_rand() % 2 ? EM_SPLIT_EQUAL : EM_SPLIT_BY_CAPACITY;
        agg_chunk *c = NULL;
        size_t nc = 0;
        em_err err = {0};
        CHECK_OK(agg_split_plan(st, cap, mb, nw, n, 0, &c, &nc, &err), &err);
        CHECK(plan_ok(c, nc, n, mb, nw));
        /* Without caps binding, a share is within 1 of its exact proportion. */
        size_t capsum = 0;
        double wsum = 0;
        for (size_t i = 0; i < nw; i++) {
            capsum += mb[i];
            wsum += st == EM_SPLIT_EQUAL ? 1 : cap[i];
        }
        int binding = 0;
        for (size_t i = 0; i < nw; i++)
            binding |= (double)n * (st == EM_SPLIT_EQUAL ? 1 : cap[i]) / wsum > mb[i] - 1;
        if (!binding && n <= capsum)
            for (size_t i = 0; i < nw; i++) {
                double exact = (double)n * (st == EM_SPLIT_EQUAL ? 1 : cap[i]) / wsum;
                CHECK(fabs((double)share_of(c, nc, (uint32_t)i) - exact) < 1.0 + 1e-9);
            }
        free(c);
    }
}

static void test_split_errors(void)
{
    double cap[2] = {1, 0};
    uint32_t mb[2] = {4, 4}, mb0[2] = {4, 0};
    agg_chunk *c = NULL;
    size_t nc = 0;
    em_err err = {0};
    CHECK_ST(agg_split_plan(EM_SPLIT_EQUAL, cap, mb, 0, 5, 0, &c, &nc, &err), EM_ERR_STATE, &err);
    CHECK_ST(agg_split_plan(EM_SPLIT_EQUAL, cap, mb, 2, 0, 0, &c, &nc, &err), EM_ERR_ARG, &err);
    CHECK_ST(agg_split_plan(EM_SPLIT_BY_CAPACITY, cap, mb, 2, 5, 0, &c, &nc, &err), EM_ERR_ARG, &err);
    CHECK_ST(agg_split_plan(EM_SPLIT_EQUAL, cap, mb0, 2, 5, 0, &c, &nc, &err), EM_ERR_ARG, &err);
    CHECK(c == NULL);
}

static int near(double a, double b) { return fabs(a - b) < 1e-12; }

static void test_combine(void)
{
    double a[3] = {1, 2, 3}, b[3] = {3, 4, 5}, d[3] = {0, 10, -1}, e[3] = {9, 0, 0};
    const double *r2[2] = {a, b};
    double w[2] = {3, 1}, out[3];
    uint32_t p = 99;
    em_err err = {0};
    CHECK_OK(agg_combine_sample(EM_COMBINE_AVERAGE, r2, NULL, 2, 3, 0, out, &p, &err), &err);
    CHECK(near(out[0], 2) && near(out[1], 3) && near(out[2], 4));
    CHECK_EQ_U64(p, 2);
    /* weights 3:1 -> (3a + b) / 4 = 1.5, 2.5, 3.5 */
    CHECK_OK(agg_combine_sample(EM_COMBINE_WEIGHTED_AVERAGE, r2, w, 2, 3, 0, out, &p, &err), &err);
    CHECK(near(out[0], 1.5) && near(out[1], 2.5) && near(out[2], 3.5));
    /* One replica: identity. */
    CHECK_OK(agg_combine_sample(EM_COMBINE_MEDIAN, r2, NULL, 1, 3, 0, out, &p, &err), &err);
    CHECK(near(out[0], 1) && near(out[1], 2) && near(out[2], 3));
    /* median of 3: per dimension {1,3,0}->1, {2,4,10}->4, {3,5,-1}->3 */
    const double *r3[3] = {a, b, d};
    CHECK_OK(agg_combine_sample(EM_COMBINE_MEDIAN, r3, NULL, 3, 3, 0, out, &p, &err), &err);
    CHECK(near(out[0], 1) && near(out[1], 4) && near(out[2], 3));
    CHECK_EQ_U64(p, 1);
    /* median of 4 (even): mean of the middle two: {1,3,0,9} -> (1+3)/2 = 2 */
    const double *r4[4] = {a, b, d, e};
    CHECK_OK(agg_combine_sample(EM_COMBINE_MEDIAN, r4, NULL, 4, 3, 0, out, &p, &err), &err);
    CHECK(near(out[0], 2));
    /* majority: argmaxes a->2, b->2, d->1 => class 2 wins with 2/3 */
    CHECK_OK(agg_combine_sample(EM_COMBINE_MAJORITY_VOTE, r3, NULL, 3, 3, 0, out, &p, &err), &err);
    CHECK_EQ_U64(p, 2);
    CHECK(near(out[0], 0) && near(out[1], 1.0 / 3) && near(out[2], 2.0 / 3));
    /* tie 1:1 between classes 0 (e) and 1 (d): lowest class wins */
    const double *rt[2] = {d, e};
    CHECK_OK(agg_combine_sample(EM_COMBINE_MAJORITY_VOTE, rt, NULL, 2, 3, 0, out, &p, &err), &err);
    CHECK_EQ_U64(p, 0);
    /* soft vote on logits: mean of softmaxes, computed independently here */
    CHECK_OK(agg_combine_sample(EM_COMBINE_SOFT_VOTE, r2, NULL, 2, 3, 0, out, &p, &err), &err);
    double za = exp(1) + exp(2) + exp(3), zb = exp(3) + exp(4) + exp(5);
    CHECK(near(out[0], (exp(1) / za + exp(3) / zb) / 2));
    CHECK(near(out[2], (exp(3) / za + exp(5) / zb) / 2));
    CHECK(near(out[0] + out[1] + out[2], 1));
    /* soft vote on probabilities: plain mean */
    double pa[2] = {0.2, 0.8}, pb[2] = {0.6, 0.4};
    const double *rp[2] = {pa, pb};
    CHECK_OK(agg_combine_sample(EM_COMBINE_SOFT_VOTE, rp, NULL, 2, 2, 1, out, &p, &err), &err);
    CHECK(near(out[0], 0.4) && near(out[1], 0.6));
    CHECK_EQ_U64(p, 1);
    /* errors */
    CHECK_ST(agg_combine_sample(EM_COMBINE_AVERAGE, r2, NULL, 0, 3, 0, out, &p, &err), EM_ERR_ARG, &err);
    double wbad[2] = {1, 0};
    CHECK_ST(agg_combine_sample(EM_COMBINE_WEIGHTED_AVERAGE, r2, wbad, 2, 3, 0, out, &p, &err), EM_ERR_ARG, &err);
    CHECK_ST(agg_combine_sample((em_combine)42, r2, NULL, 2, 3, 0, out, &p, &err), EM_ERR_ARG, &err);
}

static void test_rpc_helpers(void)
{
    /* RFC 4648 test vectors */
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *e = rpc_base64_encode((const uint8_t *)in[i], strlen(in[i]));
        CHECK(e && !strcmp(e, want[i]));
        uint8_t *d = NULL;
        size_t n = 0;
        em_err err = {0};
        CHECK_OK(rpc_base64_decode(want[i], &d, &n, &err), &err);
        CHECK(n == strlen(in[i]) && (n == 0 || !memcmp(d, in[i], n)));
        free(d);
        free(e);
    }
    const char *bad[] = {"Zg=", "Z===", "Zm9v!A==", "=Zm9", "Zg==Zg=="};
    for (int i = 0; i < 5; i++) {
        uint8_t *d = NULL;
        size_t n = 0;
        em_err err = {0};
        CHECK_ST(rpc_base64_decode(bad[i], &d, &n, &err), EM_ERR_PARSE, &err);
    }
    char host[64];
    uint16_t port = 0;
    CHECK_OK(rpc_split_hostport("10.0.0.1:8080", host, sizeof host, &port), NULL);
    CHECK(!strcmp(host, "10.0.0.1") && port == 8080);
    CHECK_OK(rpc_split_hostport("[::1]:50051", host, sizeof host, &port), NULL);
    CHECK(!strcmp(host, "::1") && port == 50051);
    CHECK_ST(rpc_split_hostport("localhost", host, sizeof host, &port), EM_ERR_ARG, NULL);
    CHECK_ST(rpc_split_hostport("h:0", host, sizeof host, &port), EM_ERR_ARG, NULL);
    CHECK_ST(rpc_split_hostport("h:65536", host, sizeof host, &port), EM_ERR_ARG, NULL);
    CHECK_ST(rpc_split_hostport(":80", host, sizeof host, &port), EM_ERR_ARG, NULL);
    CHECK_ST(rpc_split_hostport("h:80x", host, sizeof host, &port), EM_ERR_ARG, NULL);
}

int main(void)
{
    th_init("test_cluster_split");
    TH_RUN(test_by_capacity_seed);
    TH_RUN(test_equal_and_caps);
    TH_RUN(test_redundant);
    TH_RUN(test_random_plans);
    TH_RUN(test_split_errors);
    TH_RUN(test_combine);
    TH_RUN(test_rpc_helpers);
    return th_finish();
}
