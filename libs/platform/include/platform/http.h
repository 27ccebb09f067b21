/*
 * http.h — the HTTP/1.1 server of every service, over libmicrohttpd.
 *
 * The server turns each HTTP request into an sp_request_t (request.h), runs it
 * through an sp_router_t (router.h) and sends the response back. A pool of
 * epoll threads serves all connections; a handler that answers later
 * (SP_HANDLER_ASYNC) does not hold a thread: its connection is suspended until
 * sp_request_complete() is called, from any thread.
 *
 * What the server adds around the router:
 *   - request id: the incoming X-Request-Id when it is a sane token (1..128
 *     characters of [A-Za-z0-9._-]), else a fresh random one; always echoed
 *     in the X-Request-Id response header and set as the log context while
 *     the handler runs;
 *   - the W3C traceparent header (trace.h), passed through to
 *     sp_request_traceparent when valid; a request without one, or with a
 *     malformed one, starts a new trace (sp_trace_new), so every request
 *     carries a traceparent downstream (RPC envelopes, Kafka headers) and its
 *     trace_id/span_id appear in the log lines written while it is served;
 *   - a body limit: a request whose body is over max_body_bytes is answered
 *     413 {"error":{"code":"payload_too_large",...}}; a declared
 *     Content-Length over the limit is refused before the body is read, a
 *     chunked body is discarded as it arrives once it passes the limit;
 *   - CORS for the configured origins: preflight OPTIONS answered 204 with
 *     Access-Control-Allow-{Origin,Methods,Headers} and -Max-Age, other
 *     responses get Access-Control-Allow-Origin and Vary: Origin; requests
 *     from other origins get no CORS header at all;
 *   - one access log line at info per request (method, path, status,
 *     duration; never the query string or bodies);
 *   - metrics: serphona_http_requests_total{method,status},
 *     serphona_http_request_duration_seconds{method} and
 *     serphona_http_in_flight_requests. Methods outside the standard set are
 *     counted as "OTHER" so a client cannot grow the label space.
 * Requests that are not HTTP at all are answered 400 by libmicrohttpd itself.
 */
#ifndef SP_HTTP_H
#define SP_HTTP_H

#include <stddef.h>

#include "platform/router.h"

typedef struct sp_http_server sp_http_server_t;

/* Server options. A zeroed struct selects every default, so callers set only
 * what they need: `sp_http_options_t o = {.port = 8080};`. */
typedef struct {
    const char *bind_address;      /* IPv4 or IPv6 literal; NULL = "127.0.0.1" */
    int port;                      /* 0 = an ephemeral port (see sp_http_server_port) */
    unsigned threads;              /* worker threads; 0 = 4 */
    size_t max_body_bytes;         /* 0 = 1 MiB */
    unsigned connection_limit;     /* open connections at once; 0 = 1024 */
    unsigned connection_timeout_s; /* idle connection timeout; 0 = 30 s */
    const char *cors_origins;      /* "https://a.example,https://b.example" or
                                    * "*"; NULL or "" = no CORS */
    const char *service;           /* service name for logs; NULL = "unknown" */
    unsigned shutdown_grace_ms;    /* how long stop waits for in-flight
                                    * requests; 0 = 10000 ms */
} sp_http_options_t;

/* Creates a server that will serve router. Options are copied; the router is
 * borrowed and must outlive the server. Nothing is bound yet. Returns NULL
 * when opts are invalid (unparseable bind address, port out of range) or
 * memory runs out; the reason is logged. */
sp_http_server_t *sp_http_server_new(const sp_http_options_t *opts, const sp_router_t *router);

/* Binds the address and starts the worker threads. Returns 0, SP_EINVAL when
 * already started (or stopped: a server starts at most once), or SP_EIO when
 * the address cannot be bound (libmicrohttpd's reason is logged). */
int sp_http_server_start(sp_http_server_t *srv);

/* The port actually bound (useful after binding port 0), or -1 when the server
 * is not running. */
int sp_http_server_port(const sp_http_server_t *srv);

/* Graceful stop: stops accepting connections at once, then waits up to
 * shutdown_grace_ms for requests in flight to finish, suspended (async) ones
 * included; new requests on kept-alive connections are still served but told
 * "Connection: close". Async requests still pending when the grace period
 * ends are answered 503 "shutting_down"; their handlers may still call
 * sp_request_complete() later, which then only frees the request. Returns
 * when every connection is closed and every worker thread has exited.
 * Idempotent; a server that never started is left as is. Call it from a
 * thread that is not one of the server's own. */
void sp_http_server_stop(sp_http_server_t *srv);

/* Stops the server if it is running (as above) and frees it. Accepts NULL
 * and sets *self_p to NULL. */
void sp_http_server_destroy(sp_http_server_t **self_p);

#endif
