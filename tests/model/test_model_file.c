/* .eml format and builder: round trip, every truncation, bad headers, huge dimensions, random
 * corruption (must be an error or a valid model, never a crash), builder checks naming layers. */
#include "harness.h"
#include "model_internal.h"

static const uint8_t SEED[32] = {1, 2, 3};

/* conv(2x6x6 -> 3x3x3, k3 s2 p1) relu -> maxpool 2 s1 -> avgpool -> flatten -> dense 5 */
static nn_model *build(int wbits)
{
    em_err err = {0};
    nn_model *m = NULL;
    if (nn_model_create("tiny", (nn_shape){2, 6, 6}, 8, (uint32_t)wbits, 5, &m, &err) != EM_OK) {
        fprintf(stderr, "create: %s\n", err.msg);
        return NULL;
    }
    nn_model_set_blinding_seed(m, SEED);
    int32_t wmax = (1 << (wbits - 1)) - 1;
    int32_t cw[3 * 2 * 3 * 3];
    int64_t cb[3] = {10, -20, 30};
    for (size_t i = 0; i < sizeof cw / sizeof cw[0]; i++)
        cw[i] = (int32_t)(th_rand() % (uint64_t)(2 * wmax + 1)) - wmax;
    nn_layer conv = {.kind = NN_CONV2D, .in = {2, 6, 6}, .out = {3, 3, 3}, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
                     .pt = 1, .pl = 1, .pb = 1, .pr = 1, .weight = cw, .n_weight = 54, .bias = cb, .n_bias = 3,
                     .w_scale = 6, .in_scale = 5, .out_scale = 4, .shift = 7, .act = NN_ACT_RELU, .name = "conv"};
    nn_layer mp = {.kind = NN_MAXPOOL, .in = {3, 3, 3}, .out = {3, 2, 2}, .kh = 2, .kw = 2, .sh = 1, .sw = 1,
                   .in_scale = 4, .out_scale = 4, .name = "pool"};
    nn_layer ap = {.kind = NN_AVGPOOL, .in = {3, 2, 2}, .out = {3, 2, 2}, .kh = 2, .kw = 2, .sh = 1, .sw = 1,
                   .pb = 1, .pr = 1, .count_include_pad = 1, .shift = 16, .in_scale = 4, .out_scale = 4,
                   .name = "avg"};
    nn_layer fl = {.kind = NN_RESHAPE, .in = {3, 2, 2}, .out = {12, 1, 1}, .in_scale = 4, .out_scale = 4,
                   .name = "flat"};
    int32_t dw[5 * 12];
    int64_t db[5] = {1, 2, 3, -4, 5};
    for (size_t i = 0; i < 60; i++)
        dw[i] = (int32_t)(th_rand() % (uint64_t)(2 * wmax + 1)) - wmax;
    nn_layer fc = {.kind = NN_DENSE, .in = {12, 1, 1}, .out = {5, 1, 1}, .weight = dw, .n_weight = 60, .bias = db,
                   .n_bias = 5, .w_scale = 3, .in_scale = 4, .out_scale = 2, .shift = 5, .name = "fc"};
    nn_layer *ls[] = {&conv, &mp, &ap, &fl, &fc};
    for (size_t i = 0; i < 5; i++)
        if (nn_model_add_layer(m, ls[i], &err) != EM_OK) {
            fprintf(stderr, "add %zu: %s\n", i, err.msg);
            nn_model_free(m);
            return NULL;
        }
    nn_model_set_softmax(m, 1);
    return m;
}

static int models_equal(const nn_model *a, const nn_model *b)
{
    uint8_t da[32], db[32];
    nn_model_digest(a, da);
    nn_model_digest(b, db);
    return !memcmp(da, db, 32) && !memcmp(nn_model_blinding_seed(a), nn_model_blinding_seed(b), 32) &&
           !strcmp(nn_model_name(a), nn_model_name(b)) && nn_model_has_softmax(a) == nn_model_has_softmax(b);
}

static void test_round_trip(void)
{
    for (int wb = 2; wb <= 16; wb += 7) {
        nn_model *m = build(wb), *m2 = NULL;
        CHECK(m != NULL);
        if (!m)
            return;
        em_err err = {0};
        uint8_t *buf = NULL;
        size_t len = 0;
        CHECK_OK(nn_model_serialize(m, &buf, &len, &err), &err);
        CHECK_OK(nn_model_load_mem(buf, len, &m2, &err), &err);
        CHECK(m2 && models_equal(m, m2));
        CHECK_EQ_U64(nn_model_n_params(m), 54 + 3 + 60 + 5);
        CHECK_EQ_U64(nn_model_output_size(m), 5);
        CHECK_EQ_I64(nn_model_output_scale(m), 2);
        /* the file is canonical: re-serializing gives the same bytes */
        uint8_t *buf2 = NULL;
        size_t len2 = 0;
        if (m2) {
            CHECK_OK(nn_model_serialize(m2, &buf2, &len2, &err), &err);
            CHECK(len2 == len && !memcmp(buf, buf2, len));
        }
        /* header bytes documented in docs/MODEL.md */
        CHECK(!memcmp(buf, "EMLM", 4) && buf[4] == 1 && buf[6] == 32);
        free(buf2);
        free(buf);
        nn_model_free(m2);
        nn_model_free(m);
    }
}

static void test_hashes(void)
{
    nn_model *a = build(8), *b = build(8);
    uint8_t ha[32], hb[32], da[32], db[32];
    nn_model_arch_hash(a, ha);
    nn_model_arch_hash(b, hb);
    nn_model_digest(a, da);
    nn_model_digest(b, db);
    CHECK(!memcmp(ha, hb, 32)); /* same architecture, different random weights */
    CHECK(memcmp(da, db, 32) != 0);
    nn_model_set_softmax(b, 0);
    nn_model_arch_hash(b, hb);
    CHECK(memcmp(ha, hb, 32) != 0);
    nn_model_free(a);
    nn_model_free(b);
}

static void test_truncation(void)
{
    nn_model *m = build(8);
    em_err err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_OK(nn_model_serialize(m, &buf, &len, &err), &err);
    int bad = 0;
    for (size_t cut = 0; cut < len; cut++) {
        nn_model *x = NULL;
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, buf, cut);
        if (nn_model_load_mem(copy, cut, &x, &err) == EM_OK || x != NULL || !err.msg[0])
            bad++;
        nn_model_free(x);
        free(copy);
    }
    CHECK_EQ_U64(bad, 0);
    free(buf);
    nn_model_free(m);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* offsets (docs/MODEL.md): header 32, arch section header 16 -> arch payload at 48;
 * layers section header at 176, first layer record at 192 */
static void test_bad_fields(void)
{
    nn_model *m = build(8), *x = NULL;
    em_err err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_OK(nn_model_serialize(m, &buf, &len, &err), &err);
    uint8_t *c = malloc(len);
    struct {
        size_t off;
        uint32_t v;
        em_status st;
        const char *msg;
    } cases[] = {
        {0, 0x4d4c4d46, EM_ERR_PARSE, "bad magic"},
        {4, 2, EM_ERR_UNSUPPORTED, "version 2"},
        {48 + 0, 40, EM_ERR_RANGE, "act_bits"},
        {48 + 12, 0x7fffffff, EM_ERR_LIMIT, "model input shape"},
        {48 + 28, 1u << 30, EM_ERR_LIMIT, "layer count"},
        {192 + 20, 0xffffff, EM_ERR_LIMIT, "layer 0 'conv'"},
        {192 + 84, 0xfffffff, EM_ERR_FORMAT, "weights section"},
        {192 + 0, 9, EM_ERR_FORMAT, "unknown layer kind"},
        {192 + 68, 9, EM_ERR_RANGE, "shift 9 must equal"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(c, buf, len);
        put32(c + cases[i].off, cases[i].v);
        CHECK_ST(nn_model_load_mem(c, len, &x, &err), cases[i].st, &err);
        CHECK_STR_CONTAINS(err.msg, cases[i].msg);
        CHECK(x == NULL);
    }
    /* an out-of-range weight: 8-bit weights stored in bytes are always in range, so use 6 bits */
    nn_model *m6 = build(6);
    uint8_t *b6 = NULL;
    size_t l6 = 0;
    CHECK_OK(nn_model_serialize(m6, &b6, &l6, &err), &err);
    /* weights section payload starts after arch (48+128), layers (16 + 5*160) and its 16-byte header + u32 */
    size_t woff = 48 + 128 + 16 + 5 * 160 + 16 + 4;
    b6[woff] = 100;
    CHECK_ST(nn_model_load_mem(b6, l6, &x, &err), EM_ERR_RANGE, &err);
    CHECK_STR_CONTAINS(err.msg, "weight 0 = 100 outside the 6-bit range");
    /* unknown optional section: skipped; unknown required section: rejected */
    uint8_t *ext = malloc(len + 20);
    memcpy(ext, buf, len);
    put32(ext + len, 77);
    put32(ext + len + 4, 0);
    put32(ext + len + 8, 4);
    put32(ext + len + 12, 0);
    put32(ext + len + 16, 0xdeadbeef);
    put32(ext + 8, 5);
    ext[16] = (uint8_t)(len + 20), ext[17] = (uint8_t)((len + 20) >> 8), ext[18] = (uint8_t)((len + 20) >> 16);
    CHECK_OK(nn_model_load_mem(ext, len + 20, &x, &err), &err);
    CHECK(x && models_equal(m, x));
    nn_model_free(x);
    x = NULL;
    put32(ext + len + 4, 1);
    CHECK_ST(nn_model_load_mem(ext, len + 20, &x, &err), EM_ERR_UNSUPPORTED, &err);
    CHECK_STR_CONTAINS(err.msg, "unknown required type 77");
    put32(ext + len, 5); /* the reserved commitment type is optional data */
    put32(ext + len + 4, 0);
    CHECK_OK(nn_model_load_mem(ext, len + 20, &x, &err), &err);
    nn_model_free(x);
    free(ext);
    free(b6);
    nn_model_free(m6);
    free(c);
    free(buf);
    nn_model_free(m);
}

static void test_corruption(void)
{
    nn_model *m = build(8);
    em_err err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_OK(nn_model_serialize(m, &buf, &len, &err), &err);
    uint8_t *c = malloc(len);
    size_t ok = 0, rejected = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(c, buf, len);
        int flips = 1 + (int)(th_rand() % 4);
        for (int f = 0; f < flips; f++)
            c[th_rand() % len] ^= (uint8_t)(1u << (th_rand() % 8));
        nn_model *x = NULL;
        if (nn_model_load_mem(c, len, &x, &err) == EM_OK) {
            CHECK_OK(nn_model_validate(x, &err), &err);
            ok++;
        } else {
            rejected++;
            CHECK(x == NULL && err.msg[0]);
        }
        nn_model_free(x);
    }
    fprintf(stderr, "    corruption: %zu loaded as valid models, %zu rejected\n", ok, rejected);
    CHECK(rejected > 0);
    free(c);
    free(buf);
    nn_model_free(m);
}

static void test_builder_checks(void)
{
    em_err err = {0};
    nn_model *m = NULL;
    CHECK_ST(nn_model_create("x", (nn_shape){4, 1, 1}, 17, 8, 0, &m, &err), EM_ERR_RANGE, &err);
    CHECK_ST(nn_model_create("x", (nn_shape){0, 1, 1}, 8, 8, 0, &m, &err), EM_ERR_LIMIT, &err);
    CHECK_OK(nn_model_create("x", (nn_shape){4, 1, 1}, 8, 8, 0, &m, &err), &err);
    int32_t w[8] = {1, 2, 3, 4, 5, 6, 7, 200};
    int64_t b[2] = {0, 0};
    nn_layer d = {.kind = NN_DENSE, .in = {4, 1, 1}, .out = {2, 1, 1}, .weight = w, .n_weight = 8, .bias = b,
                  .n_bias = 2, .w_scale = 7, .in_scale = 0, .out_scale = 0, .shift = 7, .name = "fc1"};
    CHECK_ST(nn_model_add_layer(m, &d, &err), EM_ERR_RANGE, &err);
    CHECK_STR_CONTAINS(err.msg, "'fc1'");
    CHECK_STR_CONTAINS(err.msg, "weight 7 = 200");
    w[7] = 8;
    d.in = (nn_shape){5, 1, 1};
    CHECK_ST(nn_model_add_layer(m, &d, &err), EM_ERR_FORMAT, &err);
    CHECK_STR_CONTAINS(err.msg, "does not match the previous output");
    d.in = (nn_shape){4, 1, 1};
    d.shift = 3;
    CHECK_ST(nn_model_add_layer(m, &d, &err), EM_ERR_RANGE, &err);
    CHECK_STR_CONTAINS(err.msg, "shift 3 must equal");
    d.shift = 7;
    b[0] = (int64_t)1 << 62;
    CHECK_ST(nn_model_add_layer(m, &d, &err), EM_ERR_RANGE, &err);
    CHECK_STR_CONTAINS(err.msg, "accumulator");
    b[0] = 5;
    CHECK_OK(nn_model_add_layer(m, &d, &err), &err);
    /* the model copied the arrays */
    w[0] = 99;
    CHECK_EQ_I64(nn_model_layer(m, 0)->weight[0], 1);
    CHECK_EQ_I64(nn_model_layer(m, 0)->bias[0], 5);
    nn_layer r = {.kind = NN_RESHAPE, .in = {2, 1, 1}, .out = {3, 1, 1}, .name = "bad"};
    CHECK_ST(nn_model_add_layer(m, &r, &err), EM_ERR_FORMAT, &err);
    CHECK_STR_CONTAINS(err.msg, "cannot become");
    CHECK_OK(nn_model_validate(m, &err), &err);
    nn_model_free(m);
    /* two models get different random blinding seeds */
    nn_model *a = NULL, *c = NULL;
    CHECK_OK(nn_model_create("a", (nn_shape){1, 1, 1}, 8, 8, 0, &a, &err), &err);
    CHECK_OK(nn_model_create("c", (nn_shape){1, 1, 1}, 8, 8, 0, &c, &err), &err);
    CHECK(memcmp(nn_model_blinding_seed(a), nn_model_blinding_seed(c), 32) != 0);
    nn_model_free(a);
    nn_model_free(c);
}

int main(void)
{
    th_init("test_model_file");
    TH_RUN(test_round_trip);
    TH_RUN(test_hashes);
    TH_RUN(test_truncation);
    TH_RUN(test_bad_fields);
    TH_RUN(test_corruption);
    TH_RUN(test_builder_checks);
    return th_finish();
}
