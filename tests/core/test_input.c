#include "enclaveml/input.h"
#include "harness.h"

static em_status parse(const char *s, size_t expect, em_input *in, em_err *err)
{
    return em_input_parse(s, strlen(s), expect, in, err);
}

static void test_good(void)
{
    em_err err = {0};
    em_input in;
    CHECK_OK(parse("{\"data\": [0.5, 1, -2, 3], \"sample_size\": 2}", 0, &in, &err), &err);
    CHECK_EQ_U64(in.n_samples, 2);
    CHECK_EQ_U64(in.sample_size, 2);
    CHECK(in.data[0] == 0.5f && in.data[2] == -2.0f);
    em_input_free(&in);
    CHECK_OK(parse("{\"data\": [[1,2,3],[4,5,6]]}", 3, &in, &err), &err);
    CHECK_EQ_U64(in.n_samples, 2);
    CHECK(in.data[5] == 6.0f);
    em_input_free(&in);
    /* flat data without sample_size takes the model's input size */
    CHECK_OK(parse("{\"data\": [1,2,3,4,5,6]}", 3, &in, &err), &err);
    CHECK_EQ_U64(in.n_samples, 2);
    em_input_free(&in);
    /* other request fields are ignored here */
    CHECK_OK(parse("{\"data\": [1], \"sample_size\": 1, \"combine_strategy\": \"average\"}", 1, &in, &err), &err);
    em_input_free(&in);
}

static void test_bad(void)
{
    static const struct {
        const char *text;
        size_t expect;
        const char *msg;
    } cases[] = {
        {"{", 0, "invalid JSON at line 1"},
        {"[1,2]", 0, "expected a JSON object"},
        {"{\"sample_size\": 2}", 0, "data: missing"},
        {"{\"data\": 5, \"sample_size\": 1}", 0, "data: expected an array"},
        {"{\"data\": [], \"sample_size\": 1}", 0, "data: empty"},
        {"{\"data\": [1,2,3], \"sample_size\": 2}", 0, "not a multiple of sample_size 2"},
        {"{\"data\": [1,2], \"sample_size\": 2}", 64, "sample_size: expected 64"},
        {"{\"data\": [1,2], \"sample_size\": 0}", 0, "sample_size: expected a positive integer"},
        {"{\"data\": [1,2], \"sample_size\": -3}", 0, "sample_size: expected a positive integer"},
        {"{\"data\": [1,2], \"sample_size\": \"2\"}", 0, "sample_size: expected a positive integer"},
        {"{\"data\": [1,\"x\"], \"sample_size\": 2}", 0, "data[1]: expected a number"},
        {"{\"data\": [1,null], \"sample_size\": 2}", 0, "data[1]: expected a number"},
        {"{\"data\": [1,2]}", 0, "sample_size: missing"},
        {"{\"data\": [[1,2],[3]]}", 0, "data[1]: row has 1 values, expected 2"},
        {"{\"data\": [[1,2],3]}", 0, "data[1]: expected a row"},
        {"{\"data\": [1,[2]], \"sample_size\": 2}", 0, "mixes rows and numbers"},
        {"{\"data\": [[]]}", 0, "data[0]: empty row"},
        {"{\"data\": [[1,2]], \"sample_size\": 3}", 0, "row has 2 values but sample_size is 3"},
        {"{\"data\": [1e39], \"sample_size\": 1}", 0, "not a finite 32-bit float"},
        {"{\"data\": [1], \"data\": [2], \"sample_size\": 1}", 0, "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        em_err err = {0};
        em_input in = {0};
        CHECK(parse(cases[i].text, cases[i].expect, &in, &err) != EM_OK);
        CHECK_STR_CONTAINS(err.msg, cases[i].msg);
        CHECK(in.data == NULL);
    }
}

static void test_file(void)
{
    em_err err = {0};
    em_input in;
    CHECK(em_input_load("/nonexistent.json", 0, &in, &err) != EM_OK);
    CHECK_STR_CONTAINS(err.msg, "/nonexistent.json");
}

static void test_core_helpers(void)
{
    uint8_t h[32], back[32];
    char hex[65];
    em_sha256("abc", 3, h);
    em_hex_encode(h, 32, hex);
    CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    CHECK_OK(em_hex_decode(hex, back, 32), NULL);
    CHECK(em_ct_eq(h, back, 32));
    CHECK(em_hex_decode("zz", back, 1) != EM_OK);
    CHECK(em_hex_decode("abc", back, 2) != EM_OK);
    em_buf b = {0};
    b.max = 10;
    CHECK_OK(em_buf_append_u64le(&b, 0x0102030405060708ULL), NULL);
    CHECK_ST(em_buf_append_u32le(&b, 1), EM_ERR_LIMIT, NULL);
    em_reader r;
    uint64_t v;
    uint32_t w;
    em_reader_init(&r, b.data, b.len);
    CHECK_OK(em_reader_u64le(&r, &v), NULL);
    CHECK_EQ_U64(v, 0x0102030405060708ULL);
    CHECK_ST(em_reader_u32le(&r, &w), EM_ERR_PARSE, NULL);
    em_buf_free(&b);

    /* em_err_prefix is fail-closed: never EM_OK, with or without an err to write to */
    CHECK(em_err_prefix(NULL, "x: ") != EM_OK);
    em_err e = {0};
    CHECK(em_err_prefix(&e, "x: ") != EM_OK);
    em_errf(&e, EM_ERR_VERIFY, "bad");
    CHECK_ST(em_err_prefix(&e, "ctx: "), EM_ERR_VERIFY, &e);
    CHECK(!strcmp(e.msg, "ctx: bad"));
}

/* em_i32_in_range: a value one past either bound, and INT32_MIN / INT32_MAX, are found at every
 * position, in the vector part and in the scalar tail, and the bounds themselves pass (INT32
 * extremes included). */
static void test_in_range(void)
{
    int32_t v[100];
    static const int32_t bounds[][2] = {{-128, 127}, {0, 255}, {INT32_MIN, INT32_MAX}, {5, 5}};
    for (size_t b = 0; b < sizeof bounds / sizeof *bounds; b++) {
        int32_t lo = bounds[b][0], hi = bounds[b][1];
        for (size_t n = 0; n <= 100; n += n < 70 ? 1 : 10) {
            for (size_t i = 0; i < n; i++)
                v[i] = i % 2 ? lo : hi;
            CHECK(em_i32_in_range(v, n, lo, hi));
            for (size_t at = 0; at < n; at++) {
                int32_t keep = v[at];
                if (lo > INT32_MIN) {
                    v[at] = lo - 1;
                    CHECK(!em_i32_in_range(v, n, lo, hi));
                }
                if (hi < INT32_MAX) {
                    v[at] = hi + 1;
                    CHECK(!em_i32_in_range(v, n, lo, hi));
                }
                /* the far ends too: the signed compares must not wrap */
                if (lo > INT32_MIN) {
                    v[at] = INT32_MIN;
                    CHECK(!em_i32_in_range(v, n, lo, hi));
                }
                if (hi < INT32_MAX) {
                    v[at] = INT32_MAX;
                    CHECK(!em_i32_in_range(v, n, lo, hi));
                }
                v[at] = keep;
            }
        }
    }
}

int main(void)
{
    th_init("test_input");
    TH_RUN(test_good);
    TH_RUN(test_bad);
    TH_RUN(test_file);
    TH_RUN(test_core_helpers);
    TH_RUN(test_in_range);
    return th_finish();
}
