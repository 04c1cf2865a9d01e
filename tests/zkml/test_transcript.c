/* Transcript: known answers from tools/gen-vectors.py (independent Python implementation) and
 * the separation properties the Fiat-Shamir argument relies on. */
#include <jansson.h>

#include "enclaveml/zkml/transcript.h"
#include "harness.h"

static uint64_t ju64(json_t *v)
{
    const char *s = json_string_value(v);
    return s ? strtoull(s, NULL, 10) : UINT64_MAX;
}

static void hex_of(const uint8_t *b, size_t n, char *out) { em_hex_encode(b, n, out); }

static void check_state(const tr_t *t, json_t *hex, const char *where)
{
    char h[65];
    hex_of(t->state, 32, h);
    const char *want = json_string_value(hex);
    if (!want || strcmp(h, want) != 0) {
        fprintf(stderr, "  state mismatch after %s: %s vs %s\n", where, h, want ? want : "(null)");
        CHECK(0);
    }
}

static void test_vectors(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/vectors/transcript.json", th_src_dir());
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    CHECK(root != NULL);
    if (!root) {
        fprintf(stderr, "  cannot load %s: %s\n", path, je.text);
        return;
    }
    json_t *cases = json_object_get(root, "cases");
    CHECK(json_array_size(cases) >= 4);
    size_t ci, n_ops_checked = 0;
    json_t *c;
    json_array_foreach(cases, ci, c)
    {
        tr_t t;
        tr_init(&t, json_string_value(json_object_get(c, "domain")));
        size_t oi;
        json_t *op;
        json_array_foreach(json_object_get(c, "ops"), oi, op)
        {
            const char *kind = json_string_value(json_object_get(op, "op"));
            const char *label = json_string_value(json_object_get(op, "label"));
            json_t *out = json_object_get(op, "out");
            if (!kind || !label) {
                CHECK(0);
                continue;
            }
            if (!strcmp(kind, "absorb_bytes")) {
                const char *hx = json_string_value(json_object_get(op, "data"));
                size_t n = strlen(hx) / 2;
                uint8_t *d = malloc(n + 1);
                CHECK_OK(em_hex_decode(hx, d, n), NULL);
                tr_absorb_bytes(&t, label, d, n);
                free(d);
            } else if (!strcmp(kind, "absorb_u64")) {
                tr_absorb_u64(&t, label, ju64(json_object_get(op, "value")));
            } else if (!strcmp(kind, "absorb_ff")) {
                json_t *vals = json_object_get(op, "values");
                size_t n = json_array_size(vals);
                ff_t *v = malloc((n + 1) * sizeof *v);
                for (size_t i = 0; i < n; i++)
                    v[i] = ju64(json_array_get(vals, i));
                tr_absorb_ff(&t, label, v, n);
                free(v);
            } else if (!strcmp(kind, "absorb_ff2")) {
                json_t *vals = json_object_get(op, "values");
                size_t n = json_array_size(vals);
                ff2_t *v = malloc((n + 1) * sizeof *v);
                for (size_t i = 0; i < n; i++) {
                    v[i].a = ju64(json_array_get(json_array_get(vals, i), 0));
                    v[i].b = ju64(json_array_get(json_array_get(vals, i), 1));
                }
                tr_absorb_ff2(&t, label, v, n);
                free(v);
            } else if (!strcmp(kind, "challenge_bytes")) {
                size_t n = (size_t)json_integer_value(json_object_get(op, "n"));
                uint8_t *b = malloc(n + 1);
                char *hx = malloc(2 * n + 1);
                tr_challenge_bytes(&t, label, b, n);
                hex_of(b, n, hx);
                CHECK(strcmp(hx, json_string_value(out)) == 0);
                free(b);
                free(hx);
            } else if (!strcmp(kind, "challenge_ff")) {
                CHECK_EQ_U64(tr_challenge_ff(&t, label), ju64(out));
            } else if (!strcmp(kind, "challenge_ff2")) {
                ff2_t r = tr_challenge_ff2(&t, label);
                CHECK_EQ_U64(r.a, ju64(json_array_get(out, 0)));
                CHECK_EQ_U64(r.b, ju64(json_array_get(out, 1)));
            } else if (!strcmp(kind, "challenge_ff2_vec")) {
                size_t n = (size_t)json_integer_value(json_object_get(op, "n"));
                ff2_t r[16];
                CHECK(n <= 16 && json_array_size(out) == n);
                tr_challenge_ff2_vec(&t, label, r, n);
                for (size_t i = 0; i < n && i < 16; i++) {
                    CHECK_EQ_U64(r[i].a, ju64(json_array_get(json_array_get(out, i), 0)));
                    CHECK_EQ_U64(r[i].b, ju64(json_array_get(json_array_get(out, i), 1)));
                }
            } else if (!strcmp(kind, "challenge_index")) {
                uint64_t bound = ju64(json_object_get(op, "bound"));
                CHECK_EQ_U64(tr_challenge_index(&t, label, bound), ju64(out));
            } else {
                fprintf(stderr, "  unknown op %s\n", kind);
                CHECK(0);
            }
            check_state(&t, json_object_get(op, "state_after"), kind);
            n_ops_checked++;
        }
        check_state(&t, json_object_get(c, "final_state"), "final");
        CHECK_EQ_U64(t.n_ops, json_integer_value(json_object_get(c, "final_n_ops")));
    }
    CHECK(n_ops_checked >= 25);
    json_decref(root);
}

/* Changing any input (label, data, split, order, domain) changes the next challenge. */
static void test_separation(void)
{
    tr_t base;
    tr_init(&base, "sep");
    tr_t a = base, b = base;
    tr_absorb_bytes(&a, "x", "ab", 2);
    tr_absorb_bytes(&b, "y", "ab", 2);
    CHECK(tr_challenge_ff(&a, "c") != tr_challenge_ff(&b, "c"));
    a = base, b = base;
    tr_absorb_bytes(&a, "x", "ab", 2);
    tr_absorb_bytes(&b, "x", "a", 1);
    tr_absorb_bytes(&b, "", "b", 1);
    CHECK(memcmp(a.state, b.state, 32) != 0);
    a = base, b = base;
    tr_absorb_bytes(&a, "xa", "b", 1); /* label/data boundary moved */
    tr_absorb_bytes(&b, "x", "ab", 2);
    CHECK(memcmp(a.state, b.state, 32) != 0);
    /* absorb_u64 and absorb_ff of the same value are the same bytes under the same label:
     * by design (labels separate meaning), documented in PROOFS.md */
    a = base, b = base;
    ff_t v = 5;
    tr_absorb_u64(&a, "v", 5);
    tr_absorb_ff(&b, "v", &v, 1);
    CHECK(memcmp(a.state, b.state, 32) == 0);
    /* squeezing with different labels diverges, and squeezing advances the state */
    a = base, b = base;
    CHECK(tr_challenge_ff(&a, "l1") != tr_challenge_ff(&b, "l2"));
    a = base;
    ff_t r1 = tr_challenge_ff(&a, "l"), r2 = tr_challenge_ff(&a, "l");
    CHECK(r1 != r2);
    CHECK_EQ_U64(a.n_ops, 2);
    /* copying forks the transcript deterministically */
    a = base, b = base;
    CHECK_EQ_U64(tr_challenge_ff(&a, "z"), tr_challenge_ff(&b, "z"));
    /* challenge bytes: a longer request extends a shorter one under the same state/label */
    uint8_t s[20], l[70];
    a = base, b = base;
    tr_challenge_bytes(&a, "bb", s, sizeof s);
    tr_challenge_bytes(&b, "bb", l, sizeof l);
    CHECK(memcmp(s, l, sizeof s) == 0);
    CHECK(memcmp(a.state, b.state, 32) != 0); /* but the length is bound into the next state */
    tr_t d1, d2;
    tr_init(&d1, "dom1");
    tr_init(&d2, "dom2");
    CHECK(memcmp(d1.state, d2.state, 32) != 0);
}

/* Outputs are canonical and indices in range; small bounds are roughly uniform. */
static void test_ranges(void)
{
    tr_t t;
    tr_init(&t, "ranges");
    unsigned hist[3] = {0, 0, 0};
    for (int i = 0; i < 3000; i++) {
        CHECK(ff_is_canonical(tr_challenge_ff(&t, "f")));
        ff2_t e = tr_challenge_ff2(&t, "e");
        CHECK(ff_is_canonical(e.a) && ff_is_canonical(e.b));
        uint64_t k = tr_challenge_index(&t, "k", 3);
        CHECK(k < 3);
        if (k < 3)
            hist[k]++;
        CHECK_EQ_U64(tr_challenge_index(&t, "one", 1), 0);
        uint64_t big = ((uint64_t)1 << 63) + 1;
        CHECK(tr_challenge_index(&t, "big", big) < big);
    }
    for (int k = 0; k < 3; k++)
        CHECK(hist[k] > 850 && hist[k] < 1150); /* 1000 +- ~7 sigma */
}

int main(void)
{
    th_init("test_transcript");
    TH_RUN(test_vectors);
    TH_RUN(test_separation);
    TH_RUN(test_ranges);
    return th_finish();
}
