/* Seed YAML configs -> validated structs. The loader walks a libyaml document tree so every
 * message can name the file, the line and the key; the per-key rules live in one table per
 * section. */
#include "enclaveml/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define CFG_MAX_FILE ((size_t)1 << 20)

/* ---- enums ----------------------------------------------------------------------------------- */
static const char *const split_names[] = {"equal", "by_capacity", "redundant"};
static const char *const combine_names[] = {"average", "weighted_average", "majority_vote",
                                            "soft_vote", "median"};
static const char *const device_names[] = {"cpu", "cuda", "metal"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static em_status enum_parse(const char *s, const char *const *names, size_t n, int *out)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, names[i])) {
            *out = (int)i;
            return EM_OK;
        }
    return EM_ERR_ARG;
}

const char *em_split_name(em_split s) { return (unsigned)s < COUNT(split_names) ? split_names[s] : "?"; }
const char *em_combine_name(em_combine c) { return (unsigned)c < COUNT(combine_names) ? combine_names[c] : "?"; }
const char *em_device_name(em_device d) { return (unsigned)d < COUNT(device_names) ? device_names[d] : "?"; }
const char *em_split_names(void) { return "equal|by_capacity|redundant"; }
const char *em_combine_names(void) { return "average|weighted_average|majority_vote|soft_vote|median"; }
const char *em_device_names(void) { return "cpu|cuda|metal"; }

em_status em_split_parse(const char *s, em_split *out)
{
    int v;
    em_status st = enum_parse(s, split_names, COUNT(split_names), &v);
    if (st == EM_OK)
        *out = (em_split)v;
    return st;
}

em_status em_combine_parse(const char *s, em_combine *out)
{
    int v;
    em_status st = enum_parse(s, combine_names, COUNT(combine_names), &v);
    if (st == EM_OK)
        *out = (em_combine)v;
    return st;
}

em_status em_device_parse(const char *s, em_device *out)
{
    int v;
    em_status st = enum_parse(s, device_names, COUNT(device_names), &v);
    if (st == EM_OK)
        *out = (em_device)v;
    return st;
}

/* ---- defaults -------------------------------------------------------------------------------- */
void em_agg_config_default(em_agg_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->bind, sizeof c->bind, "0.0.0.0");
    c->port = 8080;
    c->grpc_port = 50051;
    c->strict_mode = 1;
    c->request_timeout_secs = 30;
    c->split_strategy = EM_SPLIT_BY_CAPACITY;
    c->combine_strategy = EM_COMBINE_AVERAGE;
    c->heartbeat_timeout_secs = 10;
    c->max_body_bytes = (size_t)64 << 20;
    c->max_concurrent_requests = 64;
}

void em_worker_config_default(em_worker_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->bind, sizeof c->bind, "0.0.0.0");
    c->port = 50052;
    snprintf(c->aggregator_address, sizeof c->aggregator_address, "127.0.0.1:8080");
    c->device = EM_DEVICE_CPU;
    snprintf(c->model_path, sizeof c->model_path, "examples/digits/model.eml");
    c->max_batch = 1024;
    c->heartbeat_interval_secs = 2;
    c->max_concurrent = 2;
}

/* ---- key table ------------------------------------------------------------------------------- */
typedef enum { K_PORT, K_BOOL, K_U32, K_SIZE, K_STR, K_HASH_OR_NULL, K_SPLIT, K_COMBINE, K_DEVICE,
               K_GB, K_NODE_ID, K_HOSTPORT } key_type;

typedef struct key_rule {
    const char *name;
    key_type type;
    size_t off;
    size_t size;     /* string capacity */
    uint64_t lo, hi; /* numeric range */
    int required;
    size_t flag_off; /* K_HASH_OR_NULL: offset of the has_ flag */
} key_rule;

#define AGG(f) offsetof(em_agg_config, f)
#define WRK(f) offsetof(em_worker_config, f)
#define SZ(t, f) sizeof(((t *)0)->f)

static const key_rule agg_rules[] = {
    {"port", K_PORT, AGG(port), 0, 1, 65535, 0, 0},
    {"grpc_port", K_PORT, AGG(grpc_port), 0, 1, 65535, 0, 0},
    {"bind", K_STR, AGG(bind), SZ(em_agg_config, bind), 0, 0, 0, 0},
    {"model_hash", K_HASH_OR_NULL, AGG(model_hash), 0, 0, 0, 0, AGG(has_model_hash)},
    {"strict_mode", K_BOOL, AGG(strict_mode), 0, 0, 0, 0, 0},
    {"request_timeout_secs", K_U32, AGG(request_timeout_secs), 0, 1, 3600, 0, 0},
    {"split_strategy", K_SPLIT, AGG(split_strategy), 0, 0, 0, 0, 0},
    {"combine_strategy", K_COMBINE, AGG(combine_strategy), 0, 0, 0, 0, 0},
    {"replicas", K_U32, AGG(replicas), 0, 0, 64, 0, 0},
    {"heartbeat_timeout_secs", K_U32, AGG(heartbeat_timeout_secs), 0, 1, 3600, 0, 0},
    {"max_body_bytes", K_SIZE, AGG(max_body_bytes), 0, 1024, (uint64_t)1 << 31, 0, 0},
    {"max_concurrent_requests", K_U32, AGG(max_concurrent_requests), 0, 1, 4096, 0, 0},
};

static const key_rule worker_rules[] = {
    {"node_id", K_NODE_ID, WRK(node_id), SZ(em_worker_config, node_id), 0, 0, 1, 0},
    {"port", K_PORT, WRK(port), 0, 1, 65535, 0, 0},
    {"bind", K_STR, WRK(bind), SZ(em_worker_config, bind), 0, 0, 0, 0},
    {"advertise_address", K_HOSTPORT, WRK(advertise_address), SZ(em_worker_config, advertise_address), 0, 0, 0, 0},
    {"aggregator_address", K_HOSTPORT, WRK(aggregator_address), SZ(em_worker_config, aggregator_address), 0, 0, 0, 0},
    {"device", K_DEVICE, WRK(device), 0, 0, 0, 0, 0},
    {"memory_gb", K_GB, WRK(memory_gb), 0, 0, 0, 0, 0},
    {"model_path", K_STR, WRK(model_path), SZ(em_worker_config, model_path), 0, 0, 0, 0},
    {"max_batch", K_U32, WRK(max_batch), 0, 1, 1u << 20, 0, 0},
    {"threads", K_U32, WRK(threads), 0, 0, 1024, 0, 0},
    {"heartbeat_interval_secs", K_U32, WRK(heartbeat_interval_secs), 0, 1, 3600, 0, 0},
    {"max_concurrent", K_U32, WRK(max_concurrent), 0, 1, 256, 0, 0},
};

/* ---- YAML walking ---------------------------------------------------------------------------- */
typedef struct cfg_ctx {
    const char *file;
    const char *section;
    yaml_document_t *doc;
    em_err *err;
} cfg_ctx;

static em_status cfg_fail(cfg_ctx *c, const yaml_node_t *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static em_status cfg_fail(cfg_ctx *c, const yaml_node_t *n, const char *key, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    unsigned long line = n ? (unsigned long)n->start_mark.line + 1 : 0;
    if (key)
        return em_errf(c->err, EM_ERR_FORMAT, "%s:%lu: %s.%s: %s", c->file, line, c->section, key, msg);
    return em_errf(c->err, EM_ERR_FORMAT, "%s:%lu: %s", c->file, line, msg);
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* Plain (unquoted) scalars may be null/bool/number; quoted ones are always strings. */
static int is_plain(const yaml_node_t *n) { return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE; }

static int is_null(const yaml_node_t *n)
{
    const char *s = scalar(n);
    return s && is_plain(n) && (!strcmp(s, "null") || !strcmp(s, "~") || !strcmp(s, "Null") ||
                                !strcmp(s, "NULL") || s[0] == 0);
}

static em_status parse_uint(cfg_ctx *c, const yaml_node_t *v, const key_rule *r, uint64_t *out)
{
    const char *s = scalar(v);
    if (!s || !is_plain(v) || !isdigit((unsigned char)s[0]))
        return cfg_fail(c, v, r->name, "expected an integer in [%llu, %llu], got '%s'",
                        (unsigned long long)r->lo, (unsigned long long)r->hi, s ? s : "(not a scalar)");
    errno = 0;
    char *end;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return cfg_fail(c, v, r->name, "expected an integer in [%llu, %llu], got '%s'",
                        (unsigned long long)r->lo, (unsigned long long)r->hi, s);
    if (x < r->lo || x > r->hi)
        return cfg_fail(c, v, r->name, "%llu is out of range (expected %llu..%llu)", x,
                        (unsigned long long)r->lo, (unsigned long long)r->hi);
    *out = x;
    return EM_OK;
}

static int valid_node_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 127)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return 0;
    return 1;
}

static int valid_hostport(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || !colon[1])
        return 0;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    return *end == 0 && p >= 1 && p <= 65535;
}

static em_status apply_rule(cfg_ctx *c, const key_rule *r, const yaml_node_t *v, void *base)
{
    uint8_t *dst = (uint8_t *)base + r->off;
    const char *s = scalar(v);
    uint64_t u;
    em_status st;
    if (!s && r->type != K_HASH_OR_NULL)
        return cfg_fail(c, v, r->name, "expected a scalar value, got a %s",
                        v->type == YAML_MAPPING_NODE ? "mapping" : "sequence");
    switch (r->type) {
    case K_PORT:
        if ((st = parse_uint(c, v, r, &u)) != EM_OK)
            return st;
        *(uint16_t *)(void *)dst = (uint16_t)u;
        return EM_OK;
    case K_U32:
        if ((st = parse_uint(c, v, r, &u)) != EM_OK)
            return st;
        *(uint32_t *)(void *)dst = (uint32_t)u;
        return EM_OK;
    case K_SIZE:
        if ((st = parse_uint(c, v, r, &u)) != EM_OK)
            return st;
        *(size_t *)(void *)dst = (size_t)u;
        return EM_OK;
    case K_BOOL:
        if (is_plain(v) && !strcmp(s, "true"))
            *(int *)(void *)dst = 1;
        else if (is_plain(v) && !strcmp(s, "false"))
            *(int *)(void *)dst = 0;
        else
            return cfg_fail(c, v, r->name, "expected true or false, got '%s'", s);
        return EM_OK;
    case K_STR:
    case K_NODE_ID:
    case K_HOSTPORT:
        if (is_null(v))
            return cfg_fail(c, v, r->name, "expected a string, got null");
        if (strlen(s) >= r->size)
            return cfg_fail(c, v, r->name, "too long (at most %zu characters)", r->size - 1);
        if (r->type == K_NODE_ID && !valid_node_id(s))
            return cfg_fail(c, v, r->name, "'%s' is not a valid node id (expected 1-127 of A-Z a-z 0-9 . _ -)", s);
        if (r->type == K_HOSTPORT && !valid_hostport(s))
            return cfg_fail(c, v, r->name, "'%s' is not host:port (port 1..65535)", s);
        memcpy(dst, s, strlen(s) + 1);
        return EM_OK;
    case K_HASH_OR_NULL: {
        int *flag = (int *)(void *)((uint8_t *)base + r->flag_off);
        if (is_null(v)) {
            *flag = 0;
            return EM_OK;
        }
        if (!s || em_hex_decode(s, dst, EM_HASH_LEN) != EM_OK)
            return cfg_fail(c, v, r->name, "expected null or a 64-character hex model hash, got '%s'",
                            s ? s : "(not a scalar)");
        *flag = 1;
        return EM_OK;
    }
    case K_SPLIT:
        if (em_split_parse(s, (em_split *)(void *)dst) != EM_OK)
            return cfg_fail(c, v, r->name, "unknown value '%s' (expected %s)", s, em_split_names());
        return EM_OK;
    case K_COMBINE:
        if (em_combine_parse(s, (em_combine *)(void *)dst) != EM_OK)
            return cfg_fail(c, v, r->name, "unknown value '%s' (expected %s)", s, em_combine_names());
        return EM_OK;
    case K_DEVICE:
        if (em_device_parse(s, (em_device *)(void *)dst) != EM_OK)
            return cfg_fail(c, v, r->name, "unknown value '%s' (expected %s)", s, em_device_names());
        return EM_OK;
    case K_GB: {
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (!is_plain(v) || errno || *end || !isfinite(d) || d <= 0 || d > 1e6)
            return cfg_fail(c, v, r->name, "expected a positive number of gigabytes, got '%s'", s);
        *(double *)(void *)dst = d;
        return EM_OK;
    }
    }
    return em_errf(c->err, EM_ERR_INTERNAL, "config rule type %d", (int)r->type);
}

static em_status parse_section(const char *text, size_t len, const char *file, const char *section,
                               const key_rule *rules, size_t n_rules, void *out, em_err *err)
{
    em_status st = EM_OK;
    yaml_parser_t parser;
    yaml_document_t doc;
    int have_doc = 0;
    cfg_ctx c = {file, section, &doc, err};
    if (len > CFG_MAX_FILE)
        return em_errf(err, EM_ERR_LIMIT, "%s: larger than %zu bytes", file, CFG_MAX_FILE);
    if (!yaml_parser_initialize(&parser))
        return em_errf(err, EM_ERR_NOMEM, "%s: cannot initialise the YAML parser", file);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        st = em_errf(err, EM_ERR_PARSE, "%s:%lu: YAML syntax error: %s", file,
                     (unsigned long)parser.problem_mark.line + 1,
                     parser.problem ? parser.problem : "unknown");
        goto out;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        st = em_errf(err, EM_ERR_FORMAT, "%s: empty file (expected a '%s:' section)", file, section);
        goto out;
    }
    if (root->type != YAML_MAPPING_NODE) {
        st = cfg_fail(&c, root, NULL, "expected a mapping with a '%s:' section", section);
        goto out;
    }
    yaml_node_t *sec = NULL;
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&doc, p->key);
        const char *ks = scalar(k);
        if (!ks || strcmp(ks, section)) {
            st = cfg_fail(&c, k, NULL, "unknown top-level key '%s' (expected '%s:')", ks ? ks : "?", section);
            goto out;
        }
        if (sec) {
            st = cfg_fail(&c, k, NULL, "duplicate '%s:' section", section);
            goto out;
        }
        sec = yaml_document_get_node(&doc, p->value);
    }
    if (!sec) {
        st = em_errf(err, EM_ERR_FORMAT, "%s: missing '%s:' section", file, section);
        goto out;
    }
    if (sec->type != YAML_MAPPING_NODE) {
        st = cfg_fail(&c, sec, NULL, "'%s:' must be a mapping of keys", section);
        goto out;
    }
    uint32_t seen = 0; /* bit per rule */
    for (yaml_node_pair_t *p = sec->data.mapping.pairs.start; p < sec->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&doc, p->value);
        const char *ks = scalar(k);
        size_t i;
        for (i = 0; ks && i < n_rules; i++)
            if (!strcmp(ks, rules[i].name))
                break;
        if (!ks || i == n_rules) {
            char known[512] = "";
            for (size_t j = 0; j < n_rules; j++) {
                strncat(known, rules[j].name, sizeof known - strlen(known) - 1);
                if (j + 1 < n_rules)
                    strncat(known, ", ", sizeof known - strlen(known) - 1);
            }
            st = cfg_fail(&c, k, ks ? ks : "?", "unknown key (known keys: %s)", known);
            goto out;
        }
        if (seen & (1u << i)) {
            st = cfg_fail(&c, k, ks, "duplicate key");
            goto out;
        }
        seen |= 1u << i;
        if ((st = apply_rule(&c, &rules[i], v, out)) != EM_OK)
            goto out;
    }
    for (size_t i = 0; i < n_rules; i++)
        if (rules[i].required && !(seen & (1u << i))) {
            st = cfg_fail(&c, sec, rules[i].name, "missing required key");
            goto out;
        }
out:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return st;
}

em_status em_agg_config_parse(const char *text, size_t len, const char *name, em_agg_config *out,
                              em_err *err)
{
    em_agg_config c;
    em_agg_config_default(&c);
    em_status st = parse_section(text, len, name, "aggregator", agg_rules, COUNT(agg_rules), &c, err);
    if (st == EM_OK)
        *out = c;
    return st;
}

em_status em_worker_config_parse(const char *text, size_t len, const char *name,
                                 em_worker_config *out, em_err *err)
{
    em_worker_config c;
    em_worker_config_default(&c);
    em_status st = parse_section(text, len, name, "worker", worker_rules, COUNT(worker_rules), &c, err);
    if (st != EM_OK)
        return st;
    if (!c.advertise_address[0])
        snprintf(c.advertise_address, sizeof c.advertise_address, "127.0.0.1:%u", (unsigned)c.port);
    *out = c;
    return EM_OK;
}

static em_status load_file(const char *path, char **text, size_t *len, em_err *err)
{
    uint8_t *buf;
    em_status st = em_file_read(path, CFG_MAX_FILE, &buf, len, err);
    if (st == EM_OK)
        *text = (char *)buf;
    return st;
}

em_status em_agg_config_load(const char *path, em_agg_config *out, em_err *err)
{
    char *text;
    size_t len;
    em_status st = load_file(path, &text, &len, err);
    if (st != EM_OK)
        return st;
    st = em_agg_config_parse(text, len, path, out, err);
    free(text);
    return st;
}

em_status em_worker_config_load(const char *path, em_worker_config *out, em_err *err)
{
    char *text;
    size_t len;
    em_status st = load_file(path, &text, &len, err);
    if (st != EM_OK)
        return st;
    st = em_worker_config_parse(text, len, path, out, err);
    free(text);
    return st;
}
