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
#include "http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"

#define DEFAULT_BIND       "127.0.0.1"
#define DEFAULT_THREADS    4u
#define DEFAULT_MAX_BODY   ((size_t)1 << 20)
#define DEFAULT_CONN_LIMIT 1024u
#define DEFAULT_TIMEOUT_S  30u
#define DEFAULT_GRACE_MS   10000u
/* After the grace period, how long stop() lets abandoned connections flush
 * their 503 before the daemon closes everything. */
#define ABANDON_FLUSH_MS 1000u

/* ---- small helpers --------------------------------------------------------- */

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

void sp_http_conn_release(conn_ctx_t *ctx)
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
    ctx->started_us = sp_clock_mono_us();

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
    sp_http_conn_release(ctx);
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
        flags, (uint16_t)srv->port_opt, NULL, NULL, sp_http_on_request, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv, MHD_OPTION_SOCK_ADDR,
        (const struct sockaddr *)&srv->addr, MHD_OPTION_ARRAY, srv->threads > 1 ? pool : pool + 1,
        MHD_OPTION_CONNECTION_LIMIT, srv->conn_limit, MHD_OPTION_CONNECTION_TIMEOUT, srv->timeout_s,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_END);
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
    deadline = sp_clock_timespec_in(CLOCK_MONOTONIC, ms);
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
        sp_http_conn_release(c);
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
