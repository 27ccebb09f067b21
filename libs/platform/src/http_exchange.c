/*
 * http_exchange.c — one HTTP exchange on the server of http.c: the MHD
 * request becomes an sp_request_t (headers, bounded body, request id,
 * remote address), is answered for a CORS preflight or dispatched through
 * the router (suspending the connection for an async handler), and the
 * sp_response_t goes back out as an MHD response with CORS headers, metrics
 * and an access log line.
 */
#include "http_framing.h"
#include "http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "platform/clock.h"
#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/trace.h"

#define CORS_METHODS "GET, POST, PUT, PATCH, DELETE, OPTIONS"
#define CORS_HEADERS "Authorization, Content-Type, Idempotency-Key, X-Request-Id, traceparent"
#define CORS_MAX_AGE "600"

/* ---- small helpers --------------------------------------------------------- */

/* A client-supplied request id is kept only when it cannot smuggle anything
 * into logs or headers. */
static int sane_request_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= REQUEST_ID_MAX)
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n > 0;
}

static void new_request_id(char out[REQUEST_ID_MAX + 1])
{
    char uuid[SP_UUID_STR_LEN];
    if (sp_uuid_v4(uuid) == 0) {
        memcpy(out, uuid, sizeof uuid);
        return;
    }
    /* The DRBG failed; an id only needs to be unique, not secret. */
    static atomic_ulong counter;
    snprintf(out, REQUEST_ID_MAX + 1, "%lx-%lx-%lx", (unsigned long)time(NULL),
             (unsigned long)getpid(), atomic_fetch_add(&counter, 1) + 1);
}

/* Known methods keep their name in metric labels; anything else a client
 * invents is folded into "OTHER" to bound the number of series. */
static const char *method_label(const char *method)
{
    static const char *const known[] = {"GET",    "HEAD",    "POST",    "PUT",  "PATCH",
                                        "DELETE", "OPTIONS", "CONNECT", "TRACE"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (method && strcmp(method, known[i]) == 0)
            return known[i];
    return "OTHER";
}

static int origin_allowed(const sp_http_server_t *srv, const char *origin)
{
    if (!origin || !*origin)
        return 0;
    if (srv->any_origin)
        return 1;
    for (size_t i = 0; i < srv->n_origins; i++)
        if (strcasecmp(srv->origins[i], origin) == 0)
            return 1;
    return 0;
}

/* ---- responses --------------------------------------------------------------- */

static const char oom_body[] =
    "{\"error\":{\"code\":\"internal\",\"message\":\"the server is out of memory\"}}";

/* Last resort when not even a request object could be allocated. */
static enum MHD_Result send_oom(struct MHD_Connection *conn)
{
    struct MHD_Response *mr = MHD_create_response_from_buffer(sizeof oom_body - 1, (void *)oom_body,
                                                              MHD_RESPMEM_PERSISTENT);
    if (!mr)
        return MHD_NO;
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, mr);
    MHD_destroy_response(mr);
    return ret;
}

static void add_header(struct MHD_Response *mr, const char *name, const char *value)
{
    if (MHD_add_response_header(mr, name, value) != MHD_YES)
        sp_log_warn("http: response header %s refused by libmicrohttpd", name);
}

/* Queues resp (copied) on ctx's connection with the headers every response
 * gets, then accounts for the request in the log and metrics. Only on the
 * connection's MHD thread. */
static enum MHD_Result send_response(conn_ctx_t *ctx, const sp_response_t *resp)
{
    sp_http_server_t *srv = ctx->srv;
    size_t len = 0;
    const char *body = sp_response_body(resp, &len);
    struct MHD_Response *mr =
        MHD_create_response_from_buffer(len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
    if (!mr)
        return MHD_NO;
    for (size_t i = 0; i < sp_response_header_count(resp); i++) {
        const char *name, *value;
        sp_response_header_at(resp, i, &name, &value);
        /* MHD computes framing itself and refuses to be told. */
        if (!name || !value || strcasecmp(name, "Content-Length") == 0 ||
            strcasecmp(name, "Transfer-Encoding") == 0)
            continue;
        add_header(mr, name, value);
    }
    add_header(mr, "X-Request-Id", ctx->rid);
    const char *origin = MHD_lookup_connection_value(ctx->conn, MHD_HEADER_KIND, "Origin");
    if (origin_allowed(srv, origin) && !sp_response_header(resp, "Access-Control-Allow-Origin")) {
        add_header(mr, "Access-Control-Allow-Origin", origin);
        add_header(mr, "Vary", "Origin");
        add_header(mr, "Access-Control-Expose-Headers", "X-Request-Id");
    }
    if (atomic_load(&srv->stopping))
        add_header(mr, MHD_HTTP_HEADER_CONNECTION, "close");

    int status = sp_response_status(resp);
    if (status < 100 || status > 999)
        status = 500;
    enum MHD_Result ret = MHD_queue_response(ctx->conn, (unsigned)status, mr);
    MHD_destroy_response(mr);
    ctx->phase = PHASE_ANSWERED;

    const char *method = ctx->req ? sp_request_method(ctx->req) : NULL;
    const char *path = ctx->req ? sp_request_path(ctx->req) : NULL;
    double secs = sp_clock_elapsed_s(ctx->started_us);
    char status_text[8];
    snprintf(status_text, sizeof status_text, "%d", status);
    sp_counter_add(srv->m_requests, 1, method_label(method), status_text);
    sp_histogram_observe(srv->m_duration, secs, method_label(method));
    if (sp_log_enabled(SP_LOG_INFO)) {
        sp_log_set_context(ctx->rid, NULL);
        sp_log_set_trace(ctx->req ? sp_request_traceparent(ctx->req) : NULL);
        sp_log_info("http %s %s %d %.1f ms", method ? method : "-", path ? path : "-", status,
                    secs * 1000.0);
        sp_log_clear_context();
    }
    if (ret != MHD_YES)
        sp_log_warn("http: libmicrohttpd refused to queue the response");
    return ret;
}

/* Sends the request's own response and frees the request: the handler is
 * done with it. */
static enum MHD_Result send_request_response(conn_ctx_t *ctx)
{
    enum MHD_Result ret = send_response(ctx, sp_request_response(ctx->req));
    sp_request_destroy(&ctx->req);
    return ret;
}

/* An error built outside the request, for when the handler still owns the
 * request's response (abandoned async requests). */
static enum MHD_Result send_detached_error(conn_ctx_t *ctx, int status, const char *code,
                                           const char *message)
{
    sp_request_t *tmp = sp_request_new();
    if (!tmp) {
        ctx->phase = PHASE_ANSWERED;
        return send_oom(ctx->conn);
    }
    sp_response_error(sp_request_response(tmp), status, code, "%s", message);
    enum MHD_Result ret = send_response(ctx, sp_request_response(tmp));
    sp_request_destroy(&tmp);
    return ret;
}

/* ---- request building ---------------------------------------------------- */

typedef struct {
    sp_request_t *req;
    int failed;
} header_copy_t;

static enum MHD_Result copy_header_into(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    header_copy_t *hc = cls;
    (void)kind;
    if (key && sp_request_add_header(hc->req, key, value ? value : "") != SP_OK) {
        hc->failed = 1;
        return MHD_NO;
    }
    return MHD_YES;
}

static int set_remote_addr(sp_request_t *req, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char text[INET6_ADDRSTRLEN] = "";
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, text,
                      sizeof text);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, text,
                      sizeof text);
    }
    return sp_request_set_remote_addr(req, text);
}

static void on_handler_complete(sp_request_t *req, void *ud);

/* Builds ctx->req from what MHD parsed. Returns 0 or SP_ENOMEM. */
static int build_request(conn_ctx_t *ctx, const char *url, const char *method)
{
    struct MHD_Connection *conn = ctx->conn;
    const char *incoming = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (incoming && sane_request_id(incoming))
        snprintf(ctx->rid, sizeof ctx->rid, "%s", incoming);
    else
        new_request_id(ctx->rid);

    sp_request_t *req = sp_request_new();
    if (!req)
        return SP_ENOMEM;
    ctx->req = req;
    header_copy_t hc = {.req = req, .failed = 0};
    if (sp_request_set_method(req, method) || sp_request_set_path(req, url) ||
        sp_request_set_query(req, ctx->raw_query ? ctx->raw_query : "") ||
        sp_request_set_id(req, ctx->rid) || set_remote_addr(req, conn))
        return SP_ENOMEM;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, copy_header_into, &hc);
    if (hc.failed)
        return SP_ENOMEM;
    /* Every request carries a trace: one that arrives without a valid
     * traceparent starts one here, at the edge (W3C Trace Context: a
     * malformed parent is discarded, not repaired). */
    const char *tp = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "traceparent");
    char fresh[SP_TRACEPARENT_LEN + 1];
    if (!tp || sp_trace_parse(tp, NULL, NULL) != 0) {
        sp_trace_new(fresh);
        tp = fresh;
    }
    if (sp_request_set_traceparent(req, tp))
        return SP_ENOMEM;
    sp_request_on_complete(req, on_handler_complete, ctx);
    return SP_OK;
}

static void append_body(conn_ctx_t *ctx, const char *data, size_t n)
{
    if (ctx->too_large)
        return;
    size_t had = sp_buf_len(&ctx->body);
    int rc = sp_buf_append(&ctx->body, data, n);
    if (rc == 0)
        return;
    /* Over the limit: drop what we have and discard the rest unread. Out
     * of memory is treated like an oversized body rather than failing
     * silently. */
    if (rc == SP_ENOMEM)
        sp_log_error("http: out of memory buffering a %zu-byte body", had + n);
    ctx->too_large = 1;
    sp_buf_cleanup(&ctx->body);
}

/* ---- CORS ------------------------------------------------------------------ */

/* A browser preflight from an allowed origin is answered here, before
 * routing, because routes are registered per method and would answer 405. */
static int answer_preflight(conn_ctx_t *ctx)
{
    sp_request_t *req = ctx->req;
    if (strcmp(sp_request_method(req), "OPTIONS") != 0)
        return 0;
    const char *origin = sp_request_header(req, "Origin");
    if (!origin_allowed(ctx->srv, origin) ||
        !sp_request_header(req, "Access-Control-Request-Method"))
        return 0;
    const char *want = sp_request_header(req, "Access-Control-Request-Headers");
    sp_response_t *resp = sp_request_response(req);
    sp_response_set_status(resp, 204);
    if (sp_response_set_header(resp, "Access-Control-Allow-Origin", origin) ||
        sp_response_set_header(resp, "Vary", "Origin") ||
        sp_response_set_header(resp, "Access-Control-Allow-Methods", CORS_METHODS) ||
        sp_response_set_header(resp, "Access-Control-Allow-Headers",
                               want && *want ? want : CORS_HEADERS) ||
        sp_response_set_header(resp, "Access-Control-Max-Age", CORS_MAX_AGE))
        sp_response_error(resp, 500, "internal", "out of memory");
    return 1;
}

/* ---- the access handler ------------------------------------------------ */

/* Runs the router; sends the response now, or suspends the connection until
 * the async handler completes. */
static enum MHD_Result dispatch(conn_ctx_t *ctx)
{
    sp_http_server_t *srv = ctx->srv;
    if (answer_preflight(ctx))
        return send_request_response(ctx);

    /* The handler's reference: it may complete from another thread before
     * dispatch even returns. */
    pthread_mutex_lock(&ctx->mu);
    ctx->refs++;
    pthread_mutex_unlock(&ctx->mu);

    sp_log_set_context(ctx->rid, NULL);
    sp_log_set_trace(sp_request_traceparent(ctx->req));
    sp_handler_result_t r = sp_router_dispatch(srv->router, ctx->req);
    sp_log_clear_context();

    pthread_mutex_lock(&ctx->mu);
    if (r != SP_HANDLER_ASYNC) {
        /* Synchronous answer; drop the handler's reference (MHD's remains),
         * unless a confused handler also called sp_request_complete(). */
        if (!ctx->done) {
            ctx->done = 1;
            ctx->refs--;
        }
        pthread_mutex_unlock(&ctx->mu);
        return send_request_response(ctx);
    }
    if (ctx->done) {
        /* Completed before we got here: no need to suspend. */
        pthread_mutex_unlock(&ctx->mu);
        return send_request_response(ctx);
    }
    if (atomic_load(&srv->abandoning)) {
        /* stop() is past its grace period and will not resume anything
         * suspended from now on; the handler keeps the request. */
        ctx->abandoned = 1;
        pthread_mutex_unlock(&ctx->mu);
        return send_detached_error(ctx, 503, "shutting_down", "the server is shutting down");
    }
    MHD_suspend_connection(ctx->conn);
    ctx->suspended = 1;
    ctx->phase = PHASE_SUSPENDED;
    pthread_mutex_unlock(&ctx->mu);
    return MHD_YES;
}

/* The request's completion callback (sp_request_complete), on any thread. */
static void on_handler_complete(sp_request_t *req, void *ud)
{
    conn_ctx_t *ctx = ud;
    (void)req;
    pthread_mutex_lock(&ctx->mu);
    if (ctx->done) {
        pthread_mutex_unlock(&ctx->mu);
        sp_log_error("http: sp_request_complete called twice; ignored");
        return;
    }
    ctx->done = 1;
    int resume = ctx->suspended && !ctx->abandoned;
    pthread_mutex_unlock(&ctx->mu);
    /* Still holding the handler's reference, so ctx outlives the resume even
     * though MHD may send and finish the request before it returns. */
    if (resume)
        MHD_resume_connection(ctx->conn);
    sp_http_conn_release(ctx);
}

enum MHD_Result sp_http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
    conn_ctx_t *ctx = *con_cls;
    (void)cls;
    if (!ctx) /* on_uri ran out of memory */
        return send_oom(conn);

    switch (ctx->phase) {
    case PHASE_HEADERS: {
        ctx->phase = PHASE_BODY;
        if (build_request(ctx, url, method) != SP_OK) {
            sp_log_error("http: out of memory building a request");
            ctx->phase = PHASE_ANSWERED;
            return send_oom(conn);
        }
        const char *framing = sp_http_framing_problem(conn, version);
        if (framing) {
            /* Closing is the point: whatever follows on this connection
             * cannot be told apart from a body, so none of it is read. */
            sp_response_t *resp = sp_request_response(ctx->req);
            sp_response_error(resp, 400, "bad_request", "%s", framing);
            sp_response_set_header(resp, "Connection", "close");
            return send_request_response(ctx);
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end = NULL;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno == ERANGE || n > ctx->srv->max_body) {
                /* Answered before the body is read (and before any
                 * 100 Continue), so it never reaches memory. */
                sp_response_error(sp_request_response(ctx->req), 413, "payload_too_large",
                                  "the request body is over %zu bytes", ctx->srv->max_body);
                return send_request_response(ctx);
            }
        }
        return MHD_YES;
    }
    case PHASE_BODY:
        if (*upload_data_size) {
            append_body(ctx, upload_data, *upload_data_size);
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (ctx->too_large) {
            sp_response_error(sp_request_response(ctx->req), 413, "payload_too_large",
                              "the request body is over %zu bytes", ctx->srv->max_body);
            return send_request_response(ctx);
        }
        if (sp_request_set_body(ctx->req, sp_buf_data(&ctx->body), sp_buf_len(&ctx->body)) !=
            SP_OK) {
            sp_response_error(sp_request_response(ctx->req), 500, "internal", "out of memory");
            return send_request_response(ctx);
        }
        sp_buf_cleanup(&ctx->body);
        return dispatch(ctx);
    case PHASE_SUSPENDED: {
        /* Resumed, either by the handler's completion or by stop(). */
        pthread_mutex_lock(&ctx->mu);
        int abandoned = ctx->abandoned;
        ctx->suspended = 0;
        pthread_mutex_unlock(&ctx->mu);
        if (abandoned)
            return send_detached_error(ctx, 503, "shutting_down", "the server is shutting down");
        return send_request_response(ctx);
    }
    case PHASE_ANSWERED:
    default:
        /* A response is already queued; drop whatever else arrives. */
        *upload_data_size = 0;
        return MHD_YES;
    }
}
