/*
 * call.c — in-process requests on a router (sptest/call.h).
 */
#include "sptest/call.h"
#include "sptest/json.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Completion of a suspended request (the handler went SP_HANDLER_ASYNC and
 * answers from another thread). */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} waiter_t;

static void on_complete(sp_request_t *req, void *ud)
{
    (void)req;
    waiter_t *w = ud;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static sp_request_t *build(const sptest_caller_t *who, const char *method, const char *target,
                           const char *body, const char *const *headers)
{
    sp_request_t *req = sp_request_new();
    assert_non_null(req);
    const char *q = strchr(target, '?');
    char *path = strndup(target, q ? (size_t)(q - target) : strlen(target));
    assert_non_null(path);
    assert_int_equal(sp_request_set_method(req, method), 0);
    assert_int_equal(sp_request_set_path(req, path), 0);
    free(path);
    if (q)
        assert_int_equal(sp_request_set_query(req, q + 1), 0);
    assert_int_equal(sp_request_set_remote_addr(req, "198.51.100.7"), 0);
    assert_int_equal(sp_request_set_id(req, "0123456789abcdef0123456789abcdef"), 0);
    if (body)
        assert_int_equal(sp_request_set_body(req, body, strlen(body)), 0);
    for (size_t i = 0; headers && headers[i]; i += 2)
        assert_int_equal(sp_request_add_header(req, headers[i], headers[i + 1]), 0);
    if (who) {
        const char *roles[1] = {who->role};
        size_t n_scopes = 0;
        while (who->scopes && who->scopes[n_scopes])
            n_scopes++;
        sp_auth_t auth = {.tenant_id = who->tenant_id,
                          .subject = who->subject ? who->subject : SPTEST_SUBJECT,
                          .roles = roles,
                          .n_roles = who->role ? 1 : 0,
                          .scopes = (const char **)who->scopes,
                          .n_scopes = n_scopes};
        assert_int_equal(sp_request_set_auth(req, &auth), 0);
    }
    return req;
}

sptest_resp_t sptest_call(sp_router_t *router, const sptest_caller_t *who, const char *method,
                          const char *target, const char *body, const char *const *headers)
{
    sp_request_t *req = build(who, method, target, body, headers);
    waiter_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    sp_request_on_complete(req, on_complete, &w);
    sptest_resp_t out;
    memset(&out, 0, sizeof out);
    out.dispatch = sp_router_dispatch(router, req);
    if (out.dispatch == SP_HANDLER_ASYNC) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
    }
    sp_response_t *resp = sp_request_response(req);
    out.status = sp_response_status(resp);
    size_t len = 0;
    const char *text = sp_response_body(resp, &len);
    out.text = strndup(text ? text : "", text ? len : 0);
    assert_non_null(out.text);
    out.json = len ? cJSON_ParseWithLength(text, len) : NULL;
    out.n_header = sp_response_header_count(resp);
    out.header = calloc(out.n_header * 2 + 1, sizeof *out.header);
    assert_non_null(out.header);
    for (size_t i = 0; i < out.n_header; i++) {
        const char *name = NULL, *value = NULL;
        sp_response_header_at(resp, i, &name, &value);
        out.header[2 * i] = strdup(name ? name : "");
        out.header[2 * i + 1] = strdup(value ? value : "");
        assert_non_null(out.header[2 * i]);
        assert_non_null(out.header[2 * i + 1]);
    }
    sp_request_destroy(&req);
    return out;
}

const char *sptest_resp_header(const sptest_resp_t *r, const char *name)
{
    for (size_t i = 0; i < r->n_header; i++)
        if (strcasecmp(r->header[2 * i], name) == 0)
            return r->header[2 * i + 1];
    return NULL;
}

void sptest_resp_free(sptest_resp_t *r)
{
    cJSON_Delete(r->json);
    free(r->text);
    for (size_t i = 0; i < 2 * r->n_header; i++)
        free(r->header[i]);
    free(r->header);
    memset(r, 0, sizeof *r);
}

const char *sptest_err_code(const sptest_resp_t *r)
{
    const char *c = sptest_json_str(r->json, "error.code");
    return c ? c : "";
}

void sptest_expect(const sptest_resp_t *r, int status, const char *code, const char *file, int line)
{
    if (r->status == status && (!code || strcmp(sptest_err_code(r), code) == 0))
        return;
    print_error("ERROR: expected %d%s%s, got %d %s\n", status, code ? " " : "", code ? code : "",
                r->status, r->text);
    _fail(file, line);
}
