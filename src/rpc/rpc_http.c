/* Minimal libcurl client for the REST API (worker registration, CLI). */
#include "rpc.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct sink {
    em_buf buf;
    int overflow;
} sink;

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    sink *s = ud;
    size_t len = sz * n;
    if (em_buf_append(&s->buf, p, len) != EM_OK) {
        s->overflow = 1;
        return 0;
    }
    return len;
}

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

em_status rpc_http(const char *method, const char *url, const char *body, size_t body_len, int timeout_ms,
                   size_t max_resp, rpc_http_resp *out, em_err *err)
{
    if (!method || !url || !out || timeout_ms <= 0)
        return em_errf(err, EM_ERR_ARG, "rpc_http: bad arguments");
    memset(out, 0, sizeof *out);
    pthread_once(&g_curl_once, curl_init_once);
    CURL *h = curl_easy_init();
    if (!h)
        return em_errf(err, EM_ERR_NOMEM, "curl_easy_init failed");
    em_status st = EM_OK;
    sink s;
    memset(&s, 0, sizeof s);
    s.buf.max = max_resp + 1; /* room for the NUL */
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 5000 ? timeout_ms : 5000));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    CURLcode rc = curl_easy_perform(h);
    if (s.overflow) {
        st = em_errf(err, EM_ERR_LIMIT, "%s %s: response larger than %zu bytes", method, url, max_resp);
        goto out;
    }
    if (rc != CURLE_OK) {
        st = em_errf(err, rc == CURLE_OPERATION_TIMEDOUT ? EM_ERR_TIMEOUT : EM_ERR_NET, "%s %s: %s", method,
                     url, curl_easy_strerror(rc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    if (em_buf_append_u8(&s.buf, 0) != EM_OK) {
        st = em_errf(err, EM_ERR_LIMIT, "%s %s: response too large", method, url);
        goto out;
    }
    out->body = (char *)s.buf.data;
    out->len = s.buf.len - 1;
    s.buf.data = NULL;
out:
    em_buf_free(&s.buf);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return st;
}

void rpc_http_resp_free(rpc_http_resp *r)
{
    if (!r)
        return;
    free(r->body);
    r->body = NULL;
    r->len = 0;
}
