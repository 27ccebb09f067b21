/*
 * forward.c — HTTP over RPC (forward.h), both directions of the translation:
 * the gateway side turns an sp_request_t into an HttpRequest envelope and the
 * reply's HttpResponse back into its response (sp_forward); the service side
 * turns the HttpRequest envelope back into an sp_request_t, runs it through
 * the router and packs its response as an HttpResponse (sp_forward_serve).
 */
#include "platform/forward.h"
#include "platform/error.h"
#include "platform/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hop_by_hop(const char *name)
{
    static const char *const SKIP[] = {
        "connection", "keep-alive", "transfer-encoding", "upgrade", "te",
        "trailer",    "host",       "content-length",    NULL};
    if (strncasecmp(name, "proxy-", 6) == 0)
        return 1;
    for (int i = 0; SKIP[i]; i++)
        if (strcasecmp(name, SKIP[i]) == 0)
            return 1;
    return 0;
}

/* ---- gateway side: request -> envelope, reply -> response ------------------ */

/* Runs on the RPC client's I/O thread. */
static void on_reply(int status, const Serphona__Rpc__V1__Envelope *reply, void *ud)
{
    sp_request_t *req = ud;
    sp_response_t *resp = sp_request_response(req);
    if (status == SP_ETIMEDOUT) {
        sp_response_error(resp, 504, "upstream_timeout", "the service did not answer in time");
    } else if (status != 0) {
        sp_response_error(resp, 503, "upstream_unavailable", "the service is unavailable");
    } else if (reply->status != SERPHONA__RPC__V1__STATUS__STATUS_OK) {
        int err = sp_rpc_status_to_err(reply->status);
        if (err == SP_ETIMEDOUT)
            sp_response_error(resp, 504, "upstream_timeout", "the service did not answer in time");
        else if (err == SP_EUNAVAILABLE || err == SP_ESHUTDOWN)
            sp_response_error(resp, 503, "upstream_unavailable", "the service is unavailable");
        else
            sp_response_error(resp, 502, "upstream_error", "the service failed: %s",
                              sp_rpc_status_name(reply->status));
    } else if (reply->body_case != SERPHONA__RPC__V1__ENVELOPE__BODY_HTTP_RESPONSE) {
        sp_response_error(resp, 502, "upstream_error", "the service answered without HTTP");
    } else {
        const Serphona__Rpc__V1__HttpResponse *hr = reply->http_response;
        sp_response_set_status(resp,
                               hr->status >= 100 && hr->status <= 599 ? (int)hr->status : 502);
        for (size_t i = 0; i < hr->n_headers; i++)
            if (!hop_by_hop(hr->headers[i]->name))
                sp_response_set_header(resp, hr->headers[i]->name, hr->headers[i]->value);
        sp_response_set_body(resp, hr->body.data, hr->body.len, NULL);
    }
    sp_request_complete(req);
}

sp_handler_result_t sp_forward(sp_rpc_client_t *client, sp_request_t *req, const sp_auth_t *auth,
                               int timeout_ms)
{
    sp_arena_t *arena = sp_request_arena(req);
    Serphona__Rpc__V1__Envelope env = SERPHONA__RPC__V1__ENVELOPE__INIT;
    Serphona__Rpc__V1__HttpRequest http = SERPHONA__RPC__V1__HTTP_REQUEST__INIT;
    Serphona__Rpc__V1__AuthContext actx = SERPHONA__RPC__V1__AUTH_CONTEXT__INIT;

    env.request_id = (char *)sp_request_id(req);
    env.method = "http";
    env.traceparent = (char *)(sp_request_traceparent(req) ? sp_request_traceparent(req) : "");
    env.body_case = SERPHONA__RPC__V1__ENVELOPE__BODY_HTTP_REQUEST;
    env.http_request = &http;
    if (auth) {
        sp_rpc_auth_to_proto(auth, &actx);
        env.auth = &actx;
    }

    http.method = (char *)sp_request_method(req);
    http.path = (char *)sp_request_path(req);
    http.query = (char *)sp_request_raw_query(req);
    http.remote_addr = (char *)sp_request_remote_addr(req);
    size_t body_len = 0;
    http.body.data = (uint8_t *)sp_request_body(req, &body_len);
    http.body.len = body_len;

    size_t n = sp_request_header_count(req);
    Serphona__Rpc__V1__Header *hdrs = sp_arena_alloc(arena, (n ? n : 1) * sizeof(*hdrs));
    Serphona__Rpc__V1__Header **hptrs =
        sp_arena_alloc(arena, (n ? n : 1) * sizeof(Serphona__Rpc__V1__Header *));
    if (!hdrs || !hptrs) {
        sp_response_error(sp_request_response(req), 500, "internal", "out of memory");
        sp_request_complete(req);
        return SP_HANDLER_ASYNC;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        sp_request_header_at(req, i, &name, &value);
        if (hop_by_hop(name))
            continue;
        serphona__rpc__v1__header__init(&hdrs[http.n_headers]);
        hdrs[http.n_headers].name = (char *)name;
        hdrs[http.n_headers].value = (char *)value;
        hptrs[http.n_headers] = &hdrs[http.n_headers];
        http.n_headers++;
    }
    http.headers = hptrs;

    int rc = sp_rpc_client_call_async(client, &env, timeout_ms, on_reply, req);
    if (rc != 0) {
        sp_log_warn("forward: cannot send %s %s: %s", http.method, http.path, sp_strerror(rc));
        sp_response_error(sp_request_response(req), 503, "upstream_unavailable",
                          "the service is unavailable");
        sp_request_complete(req);
    }
    return SP_HANDLER_ASYNC;
}

/* ---- service side: envelope -> request, response -> reply ------------------ */

static int fail(const char **error_message, const char *message)
{
    *error_message = message;
    return SERPHONA__RPC__V1__STATUS__STATUS_INTERNAL;
}

/* Completion of a forwarded HTTP request whose handler went asynchronous.
 * Shared by the RPC worker and the completing thread; the last to let go
 * frees it. When the worker gave up waiting (the deadline passed), the
 * request belongs to the completion callback, which destroys it. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int abandoned;
    int refs;
} async_wait_t;

static void async_wait_release(async_wait_t *w)
{
    pthread_mutex_lock(&w->mu);
    int last = --w->refs == 0;
    pthread_mutex_unlock(&w->mu);
    if (last) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
    }
}

static void on_http_complete(sp_request_t *req, void *ud)
{
    async_wait_t *w = ud;
    pthread_mutex_lock(&w->mu);
    int abandoned = w->abandoned;
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (abandoned)
        sp_request_destroy(&req);
    async_wait_release(w);
}

static void destroy_request(void *p)
{
    sp_request_t *req = p;
    sp_request_destroy(&req);
}

/* Fills the request from the envelope; 0 or SP_ENOMEM. */
static int build_request(sp_request_t *req, const Serphona__Rpc__V1__Envelope *env)
{
    const Serphona__Rpc__V1__HttpRequest *h = env->http_request;
    int rc = 0;
    rc |= sp_request_set_method(req, h->method);
    rc |= sp_request_set_path(req, h->path);
    if (h->query && h->query[0])
        rc |= sp_request_set_query(req, h->query);
    for (size_t i = 0; i < h->n_headers; i++)
        rc |= sp_request_add_header(req, h->headers[i]->name, h->headers[i]->value);
    rc |= sp_request_set_body(req, h->body.data, h->body.len);
    if (h->remote_addr && h->remote_addr[0])
        rc |= sp_request_set_remote_addr(req, h->remote_addr);
    if (env->request_id[0])
        rc |= sp_request_set_id(req, env->request_id);
    if (env->traceparent[0])
        rc |= sp_request_set_traceparent(req, env->traceparent);
    if (env->auth) {
        sp_auth_t auth;
        sp_rpc_auth_from_proto(env->auth, &auth);
        rc |= sp_request_set_auth(req, &auth);
    }
    sp_request_set_deadline(req, env->deadline_unix_ms);
    return rc ? SP_ENOMEM : 0;
}

/* Waits for an asynchronous handler. Returns 0 when it completed, or
 * SP_ETIMEDOUT when the deadline passed first (the request then belongs to
 * the completion callback). */
static int wait_async(async_wait_t *w, int64_t deadline_unix_ms)
{
    struct timespec until = {0};
    if (deadline_unix_ms) {
        until.tv_sec = deadline_unix_ms / 1000;
        until.tv_nsec = (deadline_unix_ms % 1000) * 1000000;
    }
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        if (!deadline_unix_ms) {
            pthread_cond_wait(&w->cv, &w->mu);
        } else if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT && !w->done) {
            w->abandoned = 1;
            rc = SP_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int sp_forward_serve(const sp_router_t *router, const Serphona__Rpc__V1__Envelope *env,
                     sp_arena_t *arena, Serphona__Rpc__V1__HttpResponse **out_p,
                     const char **error_message)
{
    *out_p = NULL;
    *error_message = "";
    if (env->body_case != SERPHONA__RPC__V1__ENVELOPE__BODY_HTTP_REQUEST) {
        *error_message = "method http needs an http_request body";
        return SERPHONA__RPC__V1__STATUS__STATUS_BAD_REQUEST;
    }
    sp_request_t *req = sp_request_new();
    async_wait_t *w = calloc(1, sizeof *w);
    if (!req || !w || build_request(req, env) != 0) {
        sp_request_destroy(&req);
        free(w);
        return fail(error_message, "out of memory");
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->refs = 2;
    sp_request_on_complete(req, on_http_complete, w);

    if (sp_router_dispatch(router, req) == SP_HANDLER_ASYNC) {
        if (wait_async(w, env->deadline_unix_ms) != 0) {
            /* The handler still owns req and will complete it later. */
            async_wait_release(w);
            *error_message = "handler did not complete before the deadline";
            return SERPHONA__RPC__V1__STATUS__STATUS_DEADLINE_EXCEEDED;
        }
    } else {
        /* Synchronous: the completion callback will never run. */
        w->refs--;
    }
    async_wait_release(w);

    /* The reply points into the request's arena, so the request lives as long
     * as the call's arena. */
    if (sp_arena_defer(arena, destroy_request, req) != 0) {
        return fail(error_message, "out of memory");
    }
    sp_response_t *resp = sp_request_response(req);
    Serphona__Rpc__V1__HttpResponse *out = sp_arena_alloc(arena, sizeof *out);
    size_t n = sp_response_header_count(resp);
    /* An array of pointers, as protobuf-c's repeated fields are. */
    Serphona__Rpc__V1__Header **hdrs =
        sp_arena_alloc(arena, (n + 1) * sizeof *hdrs); /* NOLINT(bugprone-sizeof-expression) */
    Serphona__Rpc__V1__Header *hdr_mem = sp_arena_alloc(arena, (n + 1) * sizeof *hdr_mem);
    if (!out || !hdrs || !hdr_mem) {
        return fail(error_message, "out of memory");
    }
    serphona__rpc__v1__http_response__init(out);
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        sp_response_header_at(resp, i, &name, &value);
        serphona__rpc__v1__header__init(&hdr_mem[i]);
        hdr_mem[i].name = (char *)name;
        hdr_mem[i].value = (char *)value;
        hdrs[i] = &hdr_mem[i];
    }
    out->status = (uint32_t)sp_response_status(resp);
    out->n_headers = n;
    out->headers = hdrs;
    size_t body_len = 0;
    const char *body = sp_response_body(resp, &body_len);
    out->body.data = (uint8_t *)body;
    out->body.len = body_len;
    *out_p = out;
    return SERPHONA__RPC__V1__STATUS__STATUS_OK;
}
