/*
 * http_internal.h — private to libs/platform/src/http*.c: the server and
 * per-request structs shared by http.c (the server, its life cycle and the
 * per-request context) and http_exchange.c (MHD request -> sp_request_t,
 * dispatch, sp_response_t -> MHD response, CORS). The public contract is
 * platform/http.h.
 */
#ifndef SP_HTTP_INTERNAL_H
#define SP_HTTP_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "platform/buf.h"
#include "platform/http.h"
#include "platform/metrics.h"
#include "platform/request.h"

#define REQUEST_ID_MAX 128

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
    int64_t started_us;       /* sp_clock_mono_us() at the request line */
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

/* Drops one reference to ctx (http.c); the last one frees it. */
void sp_http_conn_release(conn_ctx_t *ctx);

/* The MHD access handler (http_exchange.c); cls is unused, *con_cls is the
 * conn_ctx_t from the URI log callback (NULL when it ran out of memory). */
enum MHD_Result sp_http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls);

#endif
