/*
 * forward.c — HTTP over RPC (forward.h).
 */
#include "platform/forward.h"
#include "platform/error.h"
#include "platform/log.h"

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
