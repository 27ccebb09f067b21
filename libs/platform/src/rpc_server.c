/*
 * rpc_server.c — the RPC server: a ROUTER frontend, a broker thread and a
 * pool of workers (the "load-balancing broker" of the ZeroMQ guide).
 *
 *   clients --tcp--> frontend ROUTER   [broker]   backend ROUTER <--inproc-- worker DEALERs
 *
 * Workers announce themselves with a one-frame "READY" message and are idle
 * again whenever they send a reply. The broker reads the frontend only while
 * some worker is idle, so a burst waits inside ZeroMQ rather than inside a
 * worker, and each request's deadline is checked when a worker picks it up.
 *
 * Broker <-> worker messages:
 *   broker -> worker   [client id][empty][envelope]  a request (the empty
 *                      delimiter is present only when the client sent one)
 *   broker -> worker   ["STOP"]                      leave the loop
 *   worker -> broker   ["READY"]                     idle, at start
 *   worker -> broker   [client id][empty][reply]     a reply; idle again
 * The ROUTER sockets prepend/strip the worker's own identity.
 *
 * Sockets: the frontend is created in sp_rpc_server_new (so the bound port
 * can be read back), the others in sp_rpc_server_start; each is then used by
 * exactly one thread, and all are closed by sp_rpc_server_stop after the
 * threads are joined (thread create/join are the memory barriers ZeroMQ
 * requires to move a socket between threads).
 */
#include "platform/rpc.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/metrics.h"

#include "ping.pb-c.h"

#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_WORKERS   4
#define FRONTEND_HWM      10000
#define MAX_MESSAGE_BYTES (16 * 1024 * 1024)
/* How long closing the frontend may keep flushing the last replies. */
#define FRONTEND_CLOSE_LINGER_MS 500

typedef struct {
    sp_rpc_method_fn fn;
    void *ud;
} method_t;

typedef struct sp_rpc_server sp_rpc_server_t;

typedef struct {
    sp_rpc_server_t *srv;
    zsock_t *sock; /* DEALER connected to the backend */
    pthread_t thread;
    int running;
} worker_t;

struct sp_rpc_server {
    char *service;
    char *endpoint;
    char *ping_method;
    const sp_router_t *router;
    zhashx_t *methods; /* name -> method_t; read-only once started */
    int n_workers;
    worker_t *workers;

    zsock_t *frontend; /* ROUTER, bound in _new */
    zsock_t *backend;  /* ROUTER, inproc, for the workers */
    zsock_t *ctl;      /* our end of the pipe to the broker */
    zsock_t *ctl_peer; /* the broker's end */
    pthread_t broker;
    int broker_running;
    int started;
    int stopped;

    sp_counter_t *requests;
    sp_histogram_t *duration;
};

/* czmq's zsys_init installs SIGINT/SIGTERM handlers that merely set a flag,
 * replacing the service's own shutdown handling (a process could then not
 * be stopped by SIGTERM at all). Signals belong to the service, so czmq's
 * handling is switched off before czmq initialises. */
static void zsys_setup_once(void)
{
    zsys_handler_set(NULL);
    zsys_init();
}

static void zsys_setup(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, zsys_setup_once);
}

static int64_t now_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double now_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- one request ------------------------------------------------------------ */

/* What a worker learns while serving one envelope. */
typedef struct {
    Serphona__Rpc__V1__Envelope reply;
    const char *metric_method;
} call_result_t;

static void set_error(call_result_t *res, int status, const char *message)
{
    res->reply.status = status;
    res->reply.error_message = (char *)(message ? message : "");
    res->reply.body_case = SERPHONA__RPC__V1__ENVELOPE__BODY__NOT_SET;
}

/* Converts the envelope's AuthContext; the strings stay in the envelope. */
static void auth_from_envelope(const Serphona__Rpc__V1__AuthContext *ctx, sp_auth_t *auth)
{
    memset(auth, 0, sizeof *auth);
    auth->tenant_id = ctx->tenant_id && ctx->tenant_id[0] ? ctx->tenant_id : NULL;
    auth->subject = ctx->subject;
    auth->roles = (const char **)ctx->roles;
    auth->n_roles = ctx->n_roles;
    auth->scopes = (const char **)ctx->scopes;
    auth->n_scopes = ctx->n_scopes;
    auth->timezone = ctx->timezone && ctx->timezone[0] ? ctx->timezone : NULL;
}

/* Completion of a forwarded HTTP request whose handler went asynchronous.
 * Shared by the worker and the completing thread; the last to let go frees
 * it. When the worker gave up waiting (the deadline passed), the request
 * belongs to the completion callback, which destroys it. */
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
        auth_from_envelope(env->auth, &auth);
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

/* Method "http": runs the forwarded request through the router. */
static void serve_http(sp_rpc_server_t *srv, const Serphona__Rpc__V1__Envelope *env,
                       sp_arena_t *arena, call_result_t *res)
{
    if (env->body_case != SERPHONA__RPC__V1__ENVELOPE__BODY_HTTP_REQUEST) {
        set_error(res, SERPHONA__RPC__V1__STATUS__STATUS_BAD_REQUEST,
                  "method http needs an http_request body");
        return;
    }
    if (!srv->router) {
        set_error(res, SERPHONA__RPC__V1__STATUS__STATUS_NOT_FOUND,
                  "this service takes no forwarded HTTP");
        return;
    }
    sp_request_t *req = sp_request_new();
    async_wait_t *w = calloc(1, sizeof *w);
    if (!req || !w || build_request(req, env) != 0) {
        sp_request_destroy(&req);
        free(w);
        set_error(res, SERPHONA__RPC__V1__STATUS__STATUS_INTERNAL, "out of memory");
        return;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->refs = 2;
    sp_request_on_complete(req, on_http_complete, w);

    if (sp_router_dispatch(srv->router, req) == SP_HANDLER_ASYNC) {
        if (wait_async(w, env->deadline_unix_ms) != 0) {
            /* The handler still owns req and will complete it later. */
            async_wait_release(w);
            set_error(res, SERPHONA__RPC__V1__STATUS__STATUS_DEADLINE_EXCEEDED,
                      "handler did not complete before the deadline");
            return;
        }
    } else {
        /* Synchronous: the completion callback will never run. */
        w->refs--;
    }
    async_wait_release(w);

    /* The reply points into the request's arena, so the request lives as long
     * as the call's arena. */
    if (sp_arena_defer(arena, destroy_request, req) != 0) {
        set_error(res, SERPHONA__RPC__V1__STATUS__STATUS_INTERNAL, "out of memory");
        return;
    }
    sp_response_t *resp = sp_request_response(req);
    Serphona__Rpc__V1__HttpResponse *out = sp_arena_alloc(arena, sizeof *out);
    size_t n = sp_response_header_count(resp);
    /* An array of pointers, as protobuf-c's repeated fields are. */
    Serphona__Rpc__V1__Header **hdrs =
        sp_arena_alloc(arena, (n + 1) * sizeof *hdrs); /* NOLINT(bugprone-sizeof-expression) */
    Serphona__Rpc__V1__Header *hdr_mem = sp_arena_alloc(arena, (n + 1) * sizeof *hdr_mem);
    if (!out || !hdrs || !hdr_mem) {
        set_error(res, SERPHONA__RPC__V1__STATUS__STATUS_INTERNAL, "out of memory");
        return;
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
    res->reply.body_case = SERPHONA__RPC__V1__ENVELOPE__BODY_HTTP_RESPONSE;
    res->reply.http_response = out;
}

/* A typed method from the table. */
static void serve_typed(sp_rpc_server_t *srv, const method_t *m,
                        const Serphona__Rpc__V1__Envelope *env, sp_arena_t *arena,
                        call_result_t *res)
{
    const uint8_t *in = NULL;
    size_t in_len = 0;
    if (env->body_case == SERPHONA__RPC__V1__ENVELOPE__BODY_MESSAGE) {
        in = env->message->data.data;
        in_len = env->message->data.len;
    } else if (env->body_case != SERPHONA__RPC__V1__ENVELOPE__BODY__NOT_SET) {
        set_error(res, SERPHONA__RPC__V1__STATUS__STATUS_BAD_REQUEST,
                  "typed method needs a message body");
        return;
    }
    sp_auth_t auth = {0};
    if (env->auth)
        auth_from_envelope(env->auth, &auth);
    sp_rpc_call_t call = {
        .service = srv->service,
        .method = env->method,
        .request_id = env->request_id,
        .traceparent = env->traceparent[0] ? env->traceparent : NULL,
        .auth = env->auth ? &auth : NULL,
        .deadline_unix_ms = env->deadline_unix_ms,
        .error_message = NULL,
    };
    uint8_t *out = NULL;
    size_t out_len = 0;
    int rc = m->fn(&call, in, in_len, arena, &out, &out_len, m->ud);
    if (rc != 0) {
        int status = sp_rpc_err_to_status(rc);
        if (status == SERPHONA__RPC__V1__STATUS__STATUS_OK)
            status = SERPHONA__RPC__V1__STATUS__STATUS_INTERNAL;
        set_error(res, status, call.error_message ? call.error_message : sp_strerror(rc));
        return;
    }
    Serphona__Rpc__V1__TypedMessage *msg = sp_arena_alloc(arena, sizeof *msg);
    if (!msg) {
        set_error(res, SERPHONA__RPC__V1__STATUS__STATUS_INTERNAL, "out of memory");
        return;
    }
    serphona__rpc__v1__typed_message__init(msg);
    msg->data.data = out;
    msg->data.len = out ? out_len : 0;
    res->reply.body_case = SERPHONA__RPC__V1__ENVELOPE__BODY_MESSAGE;
    res->reply.message = msg;
}

/* Serves one envelope; returns the packed reply (malloc'd, *len bytes) or
 * NULL when out of memory. Never fails on the peer's input. */
static uint8_t *serve(sp_rpc_server_t *srv, const uint8_t *data, size_t len, size_t *reply_len)
{
    double started = now_mono_s();
    sp_arena_t *arena = sp_arena_new();
    if (!arena)
        return NULL;
    call_result_t res = {.reply = SERPHONA__RPC__V1__ENVELOPE__INIT, .metric_method = "unknown"};
    Serphona__Rpc__V1__Envelope *env = (Serphona__Rpc__V1__Envelope *)sp_rpc_unpack(
        arena, &serphona__rpc__v1__envelope__descriptor, data, len);
    if (!env) {
        sp_log_warn("rpc: malformed envelope (%zu bytes) dropped with BAD_REQUEST", len);
        set_error(&res, SERPHONA__RPC__V1__STATUS__STATUS_BAD_REQUEST, "malformed envelope");
        goto reply;
    }
    res.reply.request_id = env->request_id;
    res.reply.method = env->method;
    sp_log_set_context(env->request_id[0] ? env->request_id : NULL,
                       env->auth && env->auth->tenant_id[0] ? env->auth->tenant_id : NULL);
    sp_log_set_trace(env->traceparent[0] ? env->traceparent : NULL);

    const method_t *m = NULL;
    int is_http = strcmp(env->method, "http") == 0;
    if (!is_http)
        m = zhashx_lookup(srv->methods, env->method);
    /* Only known methods become metric labels: a caller must not be able to
     * create series at will. */
    if (is_http || m)
        res.metric_method = is_http ? "http" : env->method;

    if (env->deadline_unix_ms != 0 && now_unix_ms() > env->deadline_unix_ms)
        set_error(&res, SERPHONA__RPC__V1__STATUS__STATUS_DEADLINE_EXCEEDED,
                  "deadline passed before the request was served");
    else if (is_http)
        serve_http(srv, env, arena, &res);
    else if (m)
        serve_typed(srv, m, env, arena, &res);
    else
        set_error(&res, SERPHONA__RPC__V1__STATUS__STATUS_NOT_FOUND, "no such method");

reply:;
    uint8_t *out = NULL;
    size_t size = protobuf_c_message_get_packed_size(&res.reply.base);
    out = malloc(size + 1);
    if (out)
        *reply_len = protobuf_c_message_pack(&res.reply.base, out);
    else
        sp_log_error("rpc: out of memory packing a reply");
    sp_counter_add(srv->requests, 1, res.metric_method, sp_rpc_status_name(res.reply.status));
    sp_histogram_observe(srv->duration, now_mono_s() - started, res.metric_method);
    if (res.reply.status != SERPHONA__RPC__V1__STATUS__STATUS_OK)
        sp_log_debug("rpc: %s -> %s: %s", res.metric_method, sp_rpc_status_name(res.reply.status),
                     res.reply.error_message);
    sp_log_clear_context();
    sp_arena_destroy(&arena);
    return out;
}

/* The built-in "<service>.Ping". */
static int ping_method(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                       uint8_t **out, size_t *out_len, void *ud)
{
    Serphona__Ping__V1__PingRequest *req = (Serphona__Ping__V1__PingRequest *)sp_rpc_unpack(
        arena, &serphona__ping__v1__ping_request__descriptor, in, in_len);
    if (!req) {
        call->error_message = "malformed PingRequest";
        return SP_EINVAL;
    }
    Serphona__Ping__V1__PingReply reply = SERPHONA__PING__V1__PING_REPLY__INIT;
    reply.service = (char *)call->service;
    reply.payload = req->payload;
    reply.server_time_unix_ms = now_unix_ms();
    return sp_rpc_pack(arena, &reply.base, out, out_len);
}

/* ---- worker ------------------------------------------------------------------ */

/* Receives one message, retrying when a signal interrupts the wait. NULL when
 * the socket or context is closing. */
static zmsg_t *recv_msg(zsock_t *sock)
{
    for (;;) {
        zmsg_t *msg = zmsg_recv(sock);
        if (msg || errno != EINTR)
            return msg;
    }
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    if (zstr_send(w->sock, "READY") != 0) {
        sp_log_error("rpc: worker cannot reach its broker: %s", zmq_strerror(errno));
        return NULL;
    }
    for (;;) {
        zmsg_t *msg = recv_msg(w->sock);
        if (!msg)
            break;
        if (zmsg_size(msg) == 1) {
            /* "STOP" is the only one-frame message a worker gets. */
            zmsg_destroy(&msg);
            break;
        }
        zframe_t *payload = zmsg_last(msg);
        size_t reply_len = 0;
        uint8_t *reply = serve(w->srv, zframe_data(payload), zframe_size(payload), &reply_len);
        zmsg_remove(msg, payload);
        zframe_destroy(&payload);
        if (!reply) {
            /* Out of memory: still tell the broker we are idle. */
            zmsg_destroy(&msg);
            zstr_send(w->sock, "READY");
            continue;
        }
        zmsg_addmem(msg, reply, reply_len);
        free(reply);
        if (zmsg_send(&msg, w->sock) != 0) {
            sp_log_error("rpc: worker cannot send a reply: %s", zmq_strerror(errno));
            zmsg_destroy(&msg);
        }
    }
    return NULL;
}

/* ---- broker ------------------------------------------------------------------ */

/* A reply with just a status, answered by the broker itself (shutdown). */
static zframe_t *status_reply(zframe_t *request, int status, const char *message)
{
    Serphona__Rpc__V1__Envelope reply = SERPHONA__RPC__V1__ENVELOPE__INIT;
    Serphona__Rpc__V1__Envelope *env =
        serphona__rpc__v1__envelope__unpack(NULL, zframe_size(request), zframe_data(request));
    if (env) {
        reply.request_id = env->request_id;
        reply.method = env->method;
    }
    reply.status = status;
    reply.error_message = (char *)message;
    size_t size = protobuf_c_message_get_packed_size(&reply.base);
    zframe_t *frame = zframe_new(NULL, size);
    if (frame)
        protobuf_c_message_pack(&reply.base, zframe_data(frame));
    if (env)
        serphona__rpc__v1__envelope__free_unpacked(env, NULL);
    return frame;
}

/* Client messages are [id][payload] or [id][empty][payload]. */
static int well_formed(zmsg_t *msg)
{
    size_t n = zmsg_size(msg);
    if (n == 2)
        return 1;
    if (n != 3)
        return 0;
    zmsg_first(msg);
    return zframe_size(zmsg_next(msg)) == 0;
}

static void *broker_main(void *arg)
{
    sp_rpc_server_t *srv = arg;
    zlistx_t *idle = zlistx_new(); /* worker identity frames, LRU first */
    if (!idle) {
        sp_log_error("rpc: broker out of memory");
        return NULL;
    }
    zlistx_set_destructor(idle, (zlistx_destructor_fn *)zframe_destroy);
    int n_idle = 0, draining = 0;
    zmq_pollitem_t items[3] = {
        {zsock_resolve(srv->ctl_peer), 0, ZMQ_POLLIN, 0},
        {zsock_resolve(srv->backend), 0, ZMQ_POLLIN, 0},
        {zsock_resolve(srv->frontend), 0, ZMQ_POLLIN, 0},
    };
    for (;;) {
        if (draining && n_idle == srv->n_workers)
            break;
        /* While draining the frontend is read to refuse requests quickly. */
        int n_items = (n_idle > 0 || draining) ? 3 : 2;
        int rc = zmq_poll(items, n_items, -1);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            sp_log_error("rpc: broker poll failed: %s", zmq_strerror(errno));
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            zmsg_t *cmd = recv_msg(srv->ctl_peer);
            zmsg_destroy(&cmd);
            draining = 1;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            zmsg_t *msg = recv_msg(srv->backend);
            if (msg) {
                zframe_t *worker_id = zmsg_pop(msg);
                zlistx_add_end(idle, worker_id);
                n_idle++;
                if (zmsg_size(msg) >= 2)
                    zmsg_send(&msg, srv->frontend);
                zmsg_destroy(&msg);
            }
        }
        if (n_items == 3 && (items[2].revents & ZMQ_POLLIN)) {
            zmsg_t *msg = recv_msg(srv->frontend);
            if (!msg)
                continue;
            if (!well_formed(msg)) {
                sp_log_warn("rpc: dropped a message of %zu frames", zmsg_size(msg));
                zmsg_destroy(&msg);
            } else if (draining) {
                zframe_t *payload = zmsg_last(msg);
                zframe_t *reply = status_reply(
                    payload, SERPHONA__RPC__V1__STATUS__STATUS_UNAVAILABLE, "server shutting down");
                zmsg_remove(msg, payload);
                zframe_destroy(&payload);
                if (reply) {
                    zmsg_append(msg, &reply);
                    zmsg_send(&msg, srv->frontend);
                }
                zmsg_destroy(&msg);
            } else {
                zframe_t *worker_id = zlistx_detach(idle, NULL);
                n_idle--;
                zmsg_push(msg, worker_id);
                zmsg_send(&msg, srv->backend);
                zmsg_destroy(&msg);
            }
        }
    }
    /* Every worker is idle: tell each to leave. */
    zframe_t *worker_id;
    while ((worker_id = zlistx_detach(idle, NULL))) {
        zmsg_t *stop = zmsg_new();
        zmsg_append(stop, &worker_id);
        zmsg_addstr(stop, "STOP");
        zmsg_send(&stop, srv->backend);
        zmsg_destroy(&stop);
    }
    zlistx_destroy(&idle);
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------- */

static void method_free(void **item)
{
    free(*item);
    *item = NULL;
}

static int add_method(sp_rpc_server_t *srv, const char *name, sp_rpc_method_fn fn, void *ud)
{
    if (strcmp(name, "http") == 0 || zhashx_lookup(srv->methods, name))
        return SP_EEXISTS;
    method_t *m = malloc(sizeof *m);
    if (!m)
        return SP_ENOMEM;
    m->fn = fn;
    m->ud = ud;
    if (zhashx_insert(srv->methods, name, m) != 0) {
        free(m);
        return SP_ENOMEM;
    }
    return 0;
}

sp_rpc_server_t *sp_rpc_server_new(const char *service, const char *bind_endpoint,
                                   const sp_router_t *router, int workers)
{
    if (!service || !service[0] || !bind_endpoint) {
        sp_log_error("rpc: server needs a service name and an endpoint");
        return NULL;
    }
    zsys_setup();
    sp_rpc_server_t *srv = calloc(1, sizeof *srv);
    if (!srv)
        goto fail_alloc;
    srv->router = router;
    srv->n_workers = workers > 0 ? workers : DEFAULT_WORKERS;
    srv->service = strdup(service);
    srv->ping_method = malloc(strlen(service) + sizeof ".Ping");
    srv->methods = zhashx_new();
    if (!srv->service || !srv->ping_method || !srv->methods)
        goto fail_alloc;
    zhashx_set_destructor(srv->methods, method_free);
    sprintf(srv->ping_method, "%s.Ping", service);
    if (add_method(srv, srv->ping_method, ping_method, srv) != 0)
        goto fail_alloc;

    srv->frontend = zsock_new(ZMQ_ROUTER);
    if (!srv->frontend)
        goto fail_socket;
    zsock_set_linger(srv->frontend, 0);
    zsock_set_sndhwm(srv->frontend, FRONTEND_HWM);
    zsock_set_rcvhwm(srv->frontend, FRONTEND_HWM);
    zsock_set_maxmsgsize(srv->frontend, MAX_MESSAGE_BYTES);
    if (zsock_bind(srv->frontend, "%s", bind_endpoint) < 0) {
        sp_log_error("rpc: cannot bind %s: %s", bind_endpoint, zmq_strerror(errno));
        goto fail_socket;
    }
    srv->endpoint = zsock_last_endpoint(srv->frontend);
    if (!srv->endpoint)
        goto fail_alloc;

    srv->requests =
        sp_counter_new("serphona_rpc_server_requests_total",
                       "RPC requests served, by method and reply status.", 2, "method", "status");
    srv->duration =
        sp_histogram_new("serphona_rpc_server_duration_seconds",
                         "Time to serve an RPC request, by method.", NULL, 0, 1, "method");
    return srv;

fail_alloc:
    sp_log_error("rpc: out of memory creating the %s server", service);
fail_socket:
    sp_rpc_server_destroy(&srv);
    return NULL;
}

int sp_rpc_server_add_method(sp_rpc_server_t *srv, const char *method, sp_rpc_method_fn fn,
                             void *ud)
{
    if (!srv || !method || !fn || srv->started)
        return SP_EINVAL;
    return add_method(srv, method, fn, ud);
}

const char *sp_rpc_server_endpoint(const sp_rpc_server_t *srv)
{
    return srv->endpoint;
}

int sp_rpc_server_port(const sp_rpc_server_t *srv)
{
    if (strncmp(srv->endpoint, "tcp://", 6) != 0)
        return SP_EINVAL;
    const char *colon = strrchr(srv->endpoint, ':');
    if (!colon || colon < srv->endpoint + 6)
        return SP_EINVAL;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535)
        return SP_EINVAL;
    return (int)port;
}

/* Closes every socket but the frontend; threads must be joined already. */
static void close_internal_sockets(sp_rpc_server_t *srv)
{
    if (srv->workers)
        for (int i = 0; i < srv->n_workers; i++)
            zsock_destroy(&srv->workers[i].sock);
    zsock_destroy(&srv->backend);
    zsock_destroy(&srv->ctl);
    zsock_destroy(&srv->ctl_peer);
}

/* Joins the threads already started, the workers after the broker (which
 * tells them to leave once the queue is empty). */
static void join_threads(sp_rpc_server_t *srv)
{
    if (srv->broker_running) {
        pthread_join(srv->broker, NULL);
        srv->broker_running = 0;
    }
    for (int i = 0; srv->workers && i < srv->n_workers; i++) {
        if (srv->workers[i].running) {
            pthread_join(srv->workers[i].thread, NULL);
            srv->workers[i].running = 0;
        }
    }
}

int sp_rpc_server_start(sp_rpc_server_t *srv)
{
    if (!srv || srv->started || srv->stopped)
        return SP_EINVAL;
    /* A fresh name per server: an inproc name is released only when the
     * closed socket is reaped, asynchronously, so a server created right
     * after another one died (even at the same address) could collide. */
    static atomic_uint serial;
    char backend_ep[64];
    snprintf(backend_ep, sizeof backend_ep, "inproc://sp-rpc-backend-%u",
             atomic_fetch_add(&serial, 1));
    srv->workers = calloc((size_t)srv->n_workers, sizeof *srv->workers);
    if (!srv->workers)
        return SP_ENOMEM;
    srv->backend = zsock_new(ZMQ_ROUTER);
    srv->ctl = zsys_create_pipe(&srv->ctl_peer);
    if (!srv->backend || !srv->ctl)
        goto fail_socket;
    zsock_set_linger(srv->backend, 0);
    if (zsock_bind(srv->backend, "%s", backend_ep) < 0)
        goto fail_socket;
    for (int i = 0; i < srv->n_workers; i++) {
        worker_t *w = &srv->workers[i];
        w->srv = srv;
        w->sock = zsock_new(ZMQ_DEALER);
        if (!w->sock)
            goto fail_socket;
        zsock_set_linger(w->sock, 0);
        if (zsock_connect(w->sock, "%s", backend_ep) < 0)
            goto fail_socket;
    }
    srv->started = 1;
    for (int i = 0; i < srv->n_workers; i++) {
        worker_t *w = &srv->workers[i];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
            goto fail_thread;
        w->running = 1;
    }
    if (pthread_create(&srv->broker, NULL, broker_main, srv) != 0)
        goto fail_thread;
    srv->broker_running = 1;
    sp_log_info("rpc: %s serving on %s with %d workers", srv->service, srv->endpoint,
                srv->n_workers);
    return 0;

fail_thread:
    /* Workers block in recv: closing the backend would race with them, so
     * wake them with the same STOP the broker would send. No broker runs. */
    sp_log_error("rpc: cannot start the %s server threads", srv->service);
    for (int i = 0; i < srv->n_workers; i++) {
        if (!srv->workers[i].running)
            continue;
        zmsg_t *msg = recv_msg(srv->backend); /* its READY */
        zframe_t *id = msg ? zmsg_pop(msg) : NULL;
        zmsg_destroy(&msg);
        if (id) {
            zmsg_t *stop = zmsg_new();
            zmsg_append(stop, &id);
            zmsg_addstr(stop, "STOP");
            zmsg_send(&stop, srv->backend);
            zmsg_destroy(&stop);
        }
    }
    join_threads(srv);
    srv->stopped = 1;
    close_internal_sockets(srv);
    return SP_EIO;

fail_socket:
    sp_log_error("rpc: cannot create the %s server sockets: %s", srv->service, zmq_strerror(errno));
    close_internal_sockets(srv);
    free(srv->workers);
    srv->workers = NULL;
    return SP_EIO;
}

void sp_rpc_server_stop(sp_rpc_server_t *srv)
{
    if (!srv || !srv->started || srv->stopped)
        return;
    srv->stopped = 1;
    if (zstr_send(srv->ctl, "STOP") != 0)
        sp_log_error("rpc: cannot signal the broker: %s", zmq_strerror(errno));
    join_threads(srv);
    close_internal_sockets(srv);
    /* Give the last replies a moment to leave before the socket goes. */
    zsock_set_linger(srv->frontend, FRONTEND_CLOSE_LINGER_MS);
    zsock_destroy(&srv->frontend);
    sp_log_info("rpc: %s server stopped", srv->service);
}

void sp_rpc_server_destroy(sp_rpc_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_rpc_server_t *srv = *self_p;
    sp_rpc_server_stop(srv);
    zsock_destroy(&srv->frontend);
    free(srv->workers);
    zhashx_destroy(&srv->methods);
    zstr_free(&srv->endpoint);
    free(srv->ping_method);
    free(srv->service);
    free(srv);
    *self_p = NULL;
}
