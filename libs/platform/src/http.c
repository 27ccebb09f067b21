/*
 * http.c — the HTTP server (http.h) over libmicrohttpd 0.9.75.
 *
 * One conn_ctx_t lives per request, from the moment MHD has read the request
 * line (the URI log callback, which also gives us the raw query string MHD
 * strips from the URL) until MHD reports the request finished
 * (notify-completed). The access handler runs in phases: headers (build the
 * sp_request_t, refuse an oversized Content-Length), body (accumulate up to
 * the limit), then dispatch; an async handler suspends the connection and
 * the handler's completion callback resumes it, after which MHD calls the
 * access handler once more to send the response.
 *
 * Ownership of a conn_ctx_t is reference-counted under its mutex: MHD holds
 * one reference until notify-completed, a handler that went async holds one
 * until sp_request_complete(), and stop() holds one briefly while it resumes
 * an abandoned connection. Whoever drops the last reference frees the
 * request. The only libmicrohttpd call made with one of our locks held is
 * MHD_suspend_connection, which must be atomic with reading the "done" flag
 * (completion may race with it); MHD_resume_connection is always called
 * after our lock is released, by whoever still holds a reference.
 */
#include "platform/http.h"

#include "http_framing.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "platform/buf.h"
#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/metrics.h"
#include "platform/request.h"
#include "platform/trace.h"

#define DEFAULT_BIND       "127.0.0.1"
#define DEFAULT_THREADS    4u
#define DEFAULT_MAX_BODY   ((size_t)1 << 20)
#define DEFAULT_CONN_LIMIT 1024u
#define DEFAULT_TIMEOUT_S  30u
#define DEFAULT_GRACE_MS   10000u
/* After the grace period, how long stop() lets abandoned connections flush
 * their 503 before the daemon closes everything. */
#define ABANDON_FLUSH_MS 1000u
#define REQUEST_ID_MAX   128
#define CORS_METHODS     "GET, POST, PUT, PATCH, DELETE, OPTIONS"
#define CORS_HEADERS     "Authorization, Content-Type, Idempotency-Key, X-Request-Id, traceparent"
#define CORS_MAX_AGE     "600"

typedef enum {
    PHASE_HEADERS = 0, /* first call of the access handler */
    PHASE_BODY,        /* receiving upload data */
    PHASE_SUSPENDED,   /* async handler pending, connection suspended */
    PHASE_ANSWERED,    /* a response is queued */
} phase_t;

typedef struct conn_ctx conn_ctx_t;

struct conn_ctx {
    sp_http_server_t *srv;
    struct MHD_Connection *conn;
    pthread_mutex_t mu; /* guards refs, done, suspended, abandoned */
    int refs;
    int done;      /* the handler's response is complete */
    int suspended; /* the connection is suspended, waiting for done */
    int abandoned; /* stop() gave up on the handler; a 503 goes out instead */
    /* The fields below are only touched by the connection's MHD thread. */
    phase_t phase;
    sp_request_t *req;
    char *raw_query;
    sp_buf_t body; /* bounded by srv->max_body */
    int too_large;
    char rid[REQUEST_ID_MAX + 1];
    struct timespec started;
    conn_ctx_t *prev, *next;  /* srv->live, under srv->mu */
    conn_ctx_t *abandon_next; /* stop()'s private list */
};

struct sp_http_server {
    const sp_router_t *router;
    char *bind_address;
    char *service;
    int port_opt;
    unsigned threads, conn_limit, timeout_s, grace_ms;
    size_t max_body;
    char **origins;
    size_t n_origins;
    int any_origin;
    struct sockaddr_storage addr;
    int ipv6;

    struct MHD_Daemon *daemon;
    int port;
    int started;

    pthread_mutex_t mu; /* guards live, n_live */
    pthread_cond_t cv;  /* signalled when n_live drops */
    conn_ctx_t *live;
    size_t n_live;
    atomic_int stopping;   /* answer with Connection: close */
    atomic_int abandoning; /* no more suspending; answer async requests 503 */
    atomic_int serving;    /* the daemon is up (for mhd_log's level) */

    sp_counter_t *m_requests;
    sp_histogram_t *m_duration;
    sp_gauge_t *m_in_flight;
};

/* ---- small helpers --------------------------------------------------------- */

static double elapsed_s(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

static void deadline_after(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

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

static void free_origins(sp_http_server_t *srv)
{
    for (size_t i = 0; i < srv->n_origins; i++)
        free(srv->origins[i]);
    free(srv->origins);
    srv->origins = NULL;
    srv->n_origins = 0;
}

/* Splits "a, b,c" into srv->origins; "*" anywhere allows every origin. */
static int parse_origins(sp_http_server_t *srv, const char *list)
{
    if (!list)
        return SP_OK;
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        const char *s = p, *e = p + len;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e - s == 1 && *s == '*') {
            srv->any_origin = 1;
        } else if (e > s) {
            char **grown = realloc(srv->origins, (srv->n_origins + 1) * sizeof *grown);
            if (!grown)
                return SP_ENOMEM;
            srv->origins = grown;
            srv->origins[srv->n_origins] = strndup(s, (size_t)(e - s));
            if (!srv->origins[srv->n_origins])
                return SP_ENOMEM;
            srv->n_origins++;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return SP_OK;
}

/* libmicrohttpd's own messages. While starting they explain a failure
 * (bind refused, bad option) and are errors; once serving they are mostly
 * about misbehaving clients, which are answered and not our fault. */
__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    const sp_http_server_t *srv = cls;
    sp_log_level_t level = atomic_load(&srv->serving) ? SP_LOG_INFO : SP_LOG_ERROR;
    if (!sp_log_enabled(level))
        return;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    sp_log_write(level, "libmicrohttpd: %s", buf);
}

/* ---- per-request context ------------------------------------------------- */

static void ctx_free(conn_ctx_t *ctx)
{
    sp_request_destroy(&ctx->req);
    sp_buf_cleanup(&ctx->body);
    free(ctx->raw_query);
    pthread_mutex_destroy(&ctx->mu);
    free(ctx);
}

static void ctx_release(conn_ctx_t *ctx)
{
    pthread_mutex_lock(&ctx->mu);
    int left = --ctx->refs;
    pthread_mutex_unlock(&ctx->mu);
    if (left == 0)
        ctx_free(ctx);
}

/* MHD_OPTION_URI_LOG_CALLBACK: the first thing MHD tells us about a request,
 * with the URI still undecoded, so the raw query survives. Its return value
 * becomes *con_cls; MHD then always calls notify-completed for it. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    sp_http_server_t *srv = cls;
    conn_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    const char *q = uri ? strchr(uri, '?') : NULL;
    if (q) {
        q++;
        ctx->raw_query = strndup(q, strcspn(q, "#"));
        if (!ctx->raw_query) {
            free(ctx);
            return NULL;
        }
    }
    pthread_mutex_init(&ctx->mu, NULL);
    ctx->srv = srv;
    ctx->conn = conn;
    ctx->refs = 1;
    sp_buf_init(&ctx->body, srv->max_body);
    clock_gettime(CLOCK_MONOTONIC, &ctx->started);

    pthread_mutex_lock(&srv->mu);
    ctx->next = srv->live;
    if (srv->live)
        srv->live->prev = ctx;
    srv->live = ctx;
    srv->n_live++;
    pthread_mutex_unlock(&srv->mu);
    sp_gauge_add(srv->m_in_flight, 1);
    return ctx;
}

/* MHD_OPTION_NOTIFY_COMPLETED: MHD is done with the request (response sent,
 * client gone, or daemon stopping). */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    sp_http_server_t *srv = cls;
    conn_ctx_t *ctx = *con_cls;
    *con_cls = NULL;
    if (!ctx)
        return;
    if (ctx->phase != PHASE_ANSWERED)
        sp_log_debug("http request ended before a response was sent (termination %d)", (int)toe);

    pthread_mutex_lock(&srv->mu);
    if (ctx->prev)
        ctx->prev->next = ctx->next;
    else
        srv->live = ctx->next;
    if (ctx->next)
        ctx->next->prev = ctx->prev;
    ctx->prev = ctx->next = NULL;
    srv->n_live--;
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
    sp_gauge_add(srv->m_in_flight, -1);
    ctx_release(ctx);
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
    double secs = elapsed_s(&ctx->started);
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
    ctx_release(ctx);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
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

/* ---- lifecycle ------------------------------------------------------------ */

sp_http_server_t *sp_http_server_new(const sp_http_options_t *opts, const sp_router_t *router)
{
    static const sp_http_options_t defaults;
    if (!opts)
        opts = &defaults;
    if (!router) {
        sp_log_error("http: a router is required");
        return NULL;
    }
    if (opts->port < 0 || opts->port > 65535) {
        sp_log_error("http: port %d out of range", opts->port);
        return NULL;
    }
    sp_http_server_t *srv = calloc(1, sizeof *srv);
    if (!srv)
        return NULL;
    srv->router = router;
    srv->port_opt = opts->port;
    srv->port = -1;
    srv->threads = opts->threads ? opts->threads : DEFAULT_THREADS;
    srv->max_body = opts->max_body_bytes ? opts->max_body_bytes : DEFAULT_MAX_BODY;
    srv->conn_limit = opts->connection_limit ? opts->connection_limit : DEFAULT_CONN_LIMIT;
    srv->timeout_s = opts->connection_timeout_s ? opts->connection_timeout_s : DEFAULT_TIMEOUT_S;
    srv->grace_ms = opts->shutdown_grace_ms ? opts->shutdown_grace_ms : DEFAULT_GRACE_MS;
    srv->bind_address = strdup(opts->bind_address ? opts->bind_address : DEFAULT_BIND);
    srv->service = strdup(opts->service ? opts->service : "unknown");
    if (!srv->bind_address || !srv->service)
        goto fail_alloc;
    if (parse_origins(srv, opts->cors_origins) != SP_OK)
        goto fail_alloc;

    struct sockaddr_in *in4 = (struct sockaddr_in *)&srv->addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&srv->addr;
    if (inet_pton(AF_INET, srv->bind_address, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)opts->port);
    } else if (inet_pton(AF_INET6, srv->bind_address, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)opts->port);
        srv->ipv6 = 1;
    } else {
        sp_log_error("http: bind address \"%s\" is not an IP address", srv->bind_address);
        goto fail_opts;
    }

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&srv->mu, NULL);

    srv->m_requests =
        sp_counter_new("serphona_http_requests_total",
                       "HTTP requests answered, by method and status code.", 2, "method", "status");
    srv->m_duration =
        sp_histogram_new("serphona_http_request_duration_seconds",
                         "Time from request line to queued response.", NULL, 0, 1, "method");
    srv->m_in_flight = sp_gauge_new("serphona_http_in_flight_requests",
                                    "HTTP requests received and not yet finished.", 0);
    return srv;

fail_opts:
    free_origins(srv);
    free(srv->service);
    free(srv->bind_address);
    free(srv);
    return NULL;
fail_alloc:
    sp_log_error("http: out of memory creating the server");
    goto fail_opts;
}

int sp_http_server_start(sp_http_server_t *srv)
{
    if (!srv || srv->started)
        return SP_EINVAL;
    srv->started = 1;
    unsigned flags =
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (srv->ipv6)
        flags |= MHD_USE_IPv6;
    /* The logger goes first so that MHD's complaints about later options
     * reach our log too. A pool of one is no pool to MHD, which warns when
     * given one, hence the option array. */
    struct MHD_OptionItem pool[] = {
        {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)srv->threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)srv->port_opt, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, srv, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&srv->addr, MHD_OPTION_ARRAY,
        srv->threads > 1 ? pool : pool + 1, MHD_OPTION_CONNECTION_LIMIT, srv->conn_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, srv->timeout_s, MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_END);
    if (!srv->daemon) {
        sp_log_error("http: cannot listen on %s:%d: %s", srv->bind_address, srv->port_opt,
                     strerror(errno));
        return SP_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? (int)di->port : srv->port_opt;
    atomic_store(&srv->serving, 1);
    sp_log_info("http server of %s listening on %s:%d (%u threads)", srv->service,
                srv->bind_address, srv->port, srv->threads);
    return SP_OK;
}

int sp_http_server_port(const sp_http_server_t *srv)
{
    return srv && srv->daemon ? srv->port : -1;
}

/* Waits until no request is in flight or the deadline passes; srv->mu held. */
static void wait_idle(sp_http_server_t *srv, unsigned ms)
{
    struct timespec deadline;
    deadline_after(&deadline, ms);
    while (srv->n_live > 0)
        if (pthread_cond_timedwait(&srv->cv, &srv->mu, &deadline) == ETIMEDOUT)
            break;
}

void sp_http_server_stop(sp_http_server_t *srv)
{
    if (!srv || !srv->daemon)
        return;
    atomic_store(&srv->stopping, 1);
    MHD_socket lsock = MHD_quiesce_daemon(srv->daemon);

    pthread_mutex_lock(&srv->mu);
    wait_idle(srv, srv->grace_ms);

    /* From here nothing new gets suspended (dispatch checks the flag under
     * the request's lock), so the scan below sees every suspended request.
     * MHD must not be stopped with suspended connections. */
    atomic_store(&srv->abandoning, 1);
    size_t n = 0;
    conn_ctx_t *gone = NULL;
    for (conn_ctx_t *c = srv->live; c; c = c->next) {
        pthread_mutex_lock(&c->mu);
        if (c->suspended && !c->done && !c->abandoned) {
            c->abandoned = 1;
            c->refs++;
            c->abandon_next = gone;
            gone = c;
            n++;
        }
        pthread_mutex_unlock(&c->mu);
    }
    pthread_mutex_unlock(&srv->mu);

    if (n)
        sp_log_warn("http: %zu async request(s) still pending after %u ms; answering 503", n,
                    srv->grace_ms);
    while (gone) {
        conn_ctx_t *c = gone;
        gone = c->abandon_next;
        MHD_resume_connection(c->conn);
        ctx_release(c);
    }
    if (n) {
        /* Let the resumed connections send their 503 before MHD closes them. */
        pthread_mutex_lock(&srv->mu);
        wait_idle(srv, ABANDON_FLUSH_MS);
        pthread_mutex_unlock(&srv->mu);
    }

    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
    if (lsock != MHD_INVALID_SOCKET)
        close(lsock);
    sp_log_info("http server of %s stopped", srv->service);
}

void sp_http_server_destroy(sp_http_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_http_server_t *srv = *self_p;
    sp_http_server_stop(srv);
    pthread_mutex_destroy(&srv->mu);
    pthread_cond_destroy(&srv->cv);
    free_origins(srv);
    free(srv->service);
    free(srv->bind_address);
    free(srv);
    *self_p = NULL;
}
