/*
 * rpc_client.c — the RPC client: one DEALER owned by one I/O thread.
 *
 * ZeroMQ sockets are not thread-safe, so callers never touch the socket: a
 * call is packed by the calling thread, appended to a mutex-protected queue,
 * and the I/O thread is woken through an eventfd it polls next to the socket.
 * The I/O thread alone owns the table of pending calls (by request id), sends,
 * matches replies, expires calls whose timeout passed and runs every callback,
 * so callbacks never race each other and need no locking of their own.
 *
 * A reply whose call already ended (timed out) finds no pending entry and is
 * dropped; that is the only thing a late reply can do.
 */
#include "platform/rpc.h"
#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/metrics.h"

#include "rpc_internal.h"

#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define CLIENT_HWM        10000
#define MAX_MESSAGE_BYTES (64 * 1024 * 1024)
/* The I/O thread wakes at least this often even with nothing to do. */
#define MAX_POLL_MS 1000

typedef struct call {
    struct call *next; /* submission queue, then the expiry sweep */
    char *id;
    char *method;  /* metrics label */
    uint8_t *data; /* packed envelope until sent */
    size_t len;
    int64_t expires_ms; /* monotonic */
    sp_rpc_callback_fn cb;
    void *ud;
    int takes_reply; /* the callback keeps the reply (sync calls) */
} call_t;

struct sp_rpc_client {
    char *endpoint;
    zsock_t *dealer; /* used by the I/O thread only */
    int wake_fd;
    pthread_t thread;
    int thread_running;

    pthread_mutex_t mu; /* guards queue and stopping */
    call_t *queue_head;
    call_t *queue_tail;
    int stopping;

    zhashx_t *pending;   /* id -> call_t; I/O thread only */
    int64_t next_expiry; /* no pending call expires before this; I/O thread only */
    sp_counter_t *requests;
};

static void call_free(call_t *call)
{
    if (!call)
        return;
    free(call->id);
    free(call->method);
    free(call->data);
    free(call);
}

static const char *result_label(int status, const Serphona__Rpc__V1__Envelope *reply)
{
    switch (status) {
    case 0:
        return sp_rpc_status_name(reply->status);
    case SP_ETIMEDOUT:
        return "timeout";
    case SP_EUNAVAILABLE:
        return "unavailable";
    case SP_ESHUTDOWN:
        return "shutdown";
    case SP_EEXISTS:
        return "duplicate_id";
    default:
        return "error";
    }
}

/* Ends a call: metrics, callback, free. reply (may be NULL) is freed here
 * unless the callback keeps it. I/O thread only. */
static void finish(sp_rpc_client_t *cl, call_t *call, int status,
                   Serphona__Rpc__V1__Envelope *reply)
{
    sp_counter_add(cl->requests, 1, call->method, result_label(status, reply));
    call->cb(status, reply, call->ud);
    if (reply && !call->takes_reply)
        serphona__rpc__v1__envelope__free_unpacked(reply, NULL);
    call_free(call);
}

/* Sends a queued call and makes it pending. */
static void send_call(sp_rpc_client_t *cl, call_t *call)
{
    if (zhashx_lookup(cl->pending, call->id)) {
        sp_log_warn("rpc: request id %s is already in flight", call->id);
        finish(cl, call, SP_EEXISTS, NULL);
        return;
    }
    void *sock = zsock_resolve(cl->dealer);
    /* Never block the I/O thread: a full queue (HWM) means the peer is
     * overwhelmed or away for long, so the call fails at once. Once the
     * first frame is accepted, the rest of the message is too. */
    if (zmq_send(sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(sock, call->data, call->len, ZMQ_DONTWAIT) < 0) {
        sp_log_warn("rpc: cannot send %s to %s: %s", call->method, cl->endpoint,
                    zmq_strerror(errno));
        finish(cl, call, SP_EUNAVAILABLE, NULL);
        return;
    }
    free(call->data);
    call->data = NULL;
    if (zhashx_insert(cl->pending, call->id, call) != 0) {
        sp_log_error("rpc: out of memory tracking a call");
        finish(cl, call, SP_ENOMEM, NULL);
        return;
    }
    if (call->expires_ms < cl->next_expiry)
        cl->next_expiry = call->expires_ms;
}

/* Matches one reply message to its call. */
static void handle_reply(sp_rpc_client_t *cl, zmsg_t *msg)
{
    zframe_t *payload = zmsg_last(msg);
    Serphona__Rpc__V1__Envelope *reply =
        payload
            ? serphona__rpc__v1__envelope__unpack(NULL, zframe_size(payload), zframe_data(payload))
            : NULL;
    if (!reply) {
        sp_log_warn("rpc: malformed reply from %s dropped", cl->endpoint);
        return;
    }
    call_t *call = zhashx_lookup(cl->pending, reply->request_id);
    if (!call) {
        sp_log_debug("rpc: reply for %s arrived after its call ended; dropped", reply->request_id);
        serphona__rpc__v1__envelope__free_unpacked(reply, NULL);
        return;
    }
    zhashx_delete(cl->pending, reply->request_id);
    finish(cl, call, 0, reply);
}

/* Ends every call whose time is up and returns the milliseconds until the
 * next expiry (capped at MAX_POLL_MS). The table is scanned only when the
 * earliest known expiry has come, not on every wake-up, so a busy client
 * does not pay a full scan per reply. */
static long sweep(sp_rpc_client_t *cl)
{
    int64_t now = sp_clock_mono_ms();
    if (now < cl->next_expiry)
        return (long)(cl->next_expiry - now);
    int64_t next = now + MAX_POLL_MS;
    call_t *expired = NULL;
    for (call_t *call = zhashx_first(cl->pending); call; call = zhashx_next(cl->pending)) {
        if (call->expires_ms <= now) {
            call->next = expired;
            expired = call;
        } else if (call->expires_ms < next) {
            next = call->expires_ms;
        }
    }
    while (expired) {
        call_t *call = expired;
        expired = call->next;
        zhashx_delete(cl->pending, call->id);
        finish(cl, call, SP_ETIMEDOUT, NULL);
    }
    cl->next_expiry = next;
    return (long)(next - now);
}

/* Takes the submission queue; sets *stopping. */
static call_t *take_queue(sp_rpc_client_t *cl, int *stopping)
{
    pthread_mutex_lock(&cl->mu);
    call_t *head = cl->queue_head;
    cl->queue_head = cl->queue_tail = NULL;
    *stopping = cl->stopping;
    pthread_mutex_unlock(&cl->mu);
    return head;
}

static void *io_main(void *arg)
{
    sp_rpc_client_t *cl = arg;
    zmq_pollitem_t items[2] = {
        {zsock_resolve(cl->dealer), 0, ZMQ_POLLIN, 0},
        {NULL, cl->wake_fd, ZMQ_POLLIN, 0},
    };
    long timeout = MAX_POLL_MS;
    int stopping = 0;
    while (!stopping) {
        if (zmq_poll(items, 2, timeout) < 0 && errno != EINTR) {
            sp_log_error("rpc: client poll failed: %s", zmq_strerror(errno));
            break;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            uint64_t n;
            if (read(cl->wake_fd, &n, sizeof n) < 0 && errno != EAGAIN)
                sp_log_warn("rpc: client wake-up read failed: %s", strerror(errno));
        }
        call_t *call = take_queue(cl, &stopping);
        while (call) {
            call_t *next = call->next;
            if (stopping)
                finish(cl, call, SP_ESHUTDOWN, NULL);
            else
                send_call(cl, call);
            call = next;
        }
        /* Edge-triggered in spirit: read everything that is there now. */
        while (!stopping && (zsock_events(cl->dealer) & ZMQ_POLLIN)) {
            zmsg_t *msg = zmsg_recv(cl->dealer);
            if (!msg)
                break;
            handle_reply(cl, msg);
            zmsg_destroy(&msg);
        }
        timeout = sweep(cl);
    }
    /* Shutting down: end what is left. Callers can no longer enqueue. */
    call_t *call = take_queue(cl, &stopping);
    while (call) {
        call_t *next = call->next;
        finish(cl, call, SP_ESHUTDOWN, NULL);
        call = next;
    }
    while ((call = zhashx_first(cl->pending))) {
        zhashx_delete(cl->pending, call->id);
        finish(cl, call, SP_ESHUTDOWN, NULL);
    }
    return NULL;
}

sp_rpc_client_t *sp_rpc_client_new(const char *connect_endpoint)
{
    if (!connect_endpoint || !connect_endpoint[0]) {
        sp_log_error("rpc: client needs an endpoint");
        return NULL;
    }
    sp_rpc_zsys_setup();
    sp_rpc_client_t *cl = calloc(1, sizeof *cl);
    if (!cl)
        goto fail_alloc;
    cl->wake_fd = -1;
    pthread_mutex_init(&cl->mu, NULL);
    cl->endpoint = strdup(connect_endpoint);
    cl->pending = zhashx_new();
    if (!cl->endpoint || !cl->pending)
        goto fail_alloc;
    cl->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (cl->wake_fd < 0) {
        sp_log_error("rpc: eventfd: %s", strerror(errno));
        goto fail;
    }
    cl->dealer = zsock_new(ZMQ_DEALER);
    if (!cl->dealer) {
        sp_log_error("rpc: cannot create a socket: %s", zmq_strerror(errno));
        goto fail;
    }
    zsock_set_linger(cl->dealer, 0);
    zsock_set_sndhwm(cl->dealer, CLIENT_HWM);
    zsock_set_rcvhwm(cl->dealer, CLIENT_HWM);
    zsock_set_maxmsgsize(cl->dealer, MAX_MESSAGE_BYTES);
    if (zsock_connect(cl->dealer, "%s", connect_endpoint) < 0) {
        sp_log_error("rpc: cannot connect to %s: %s", connect_endpoint, zmq_strerror(errno));
        goto fail;
    }
    cl->requests =
        sp_counter_new("serphona_rpc_client_requests_total",
                       "RPC calls made, by method and result (reply status, timeout, ...).", 2,
                       "method", "result");
    if (pthread_create(&cl->thread, NULL, io_main, cl) != 0) {
        sp_log_error("rpc: cannot start the client thread");
        goto fail;
    }
    cl->thread_running = 1;
    return cl;

fail_alloc:
    sp_log_error("rpc: out of memory creating a client");
fail:
    sp_rpc_client_destroy(&cl);
    return NULL;
}

void sp_rpc_client_destroy(sp_rpc_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_rpc_client_t *cl = *self_p;
    if (cl->thread_running) {
        pthread_mutex_lock(&cl->mu);
        cl->stopping = 1;
        pthread_mutex_unlock(&cl->mu);
        uint64_t one = 1;
        if (write(cl->wake_fd, &one, sizeof one) < 0)
            sp_log_warn("rpc: client wake-up write failed: %s", strerror(errno));
        pthread_join(cl->thread, NULL);
    }
    zsock_destroy(&cl->dealer);
    if (cl->wake_fd >= 0)
        close(cl->wake_fd);
    zhashx_destroy(&cl->pending);
    pthread_mutex_destroy(&cl->mu);
    free(cl->endpoint);
    free(cl);
    *self_p = NULL;
}

/* Packs and queues a call; see sp_rpc_client_call_async. */
static int submit(sp_rpc_client_t *cl, const Serphona__Rpc__V1__Envelope *req, int timeout_ms,
                  sp_rpc_callback_fn cb, void *ud, int takes_reply)
{
    if (!cl || !req || !cb || timeout_ms <= 0 || !req->method || !req->method[0])
        return SP_EINVAL;
    call_t *call = calloc(1, sizeof *call);
    if (!call)
        return SP_ENOMEM;
    char fresh_id[SP_RPC_REQUEST_ID_LEN];
    const char *id = req->request_id;
    if (!id || !id[0]) {
        sp_rpc_request_id_new(fresh_id);
        id = fresh_id;
    }
    call->id = strdup(id);
    call->method = strdup(req->method);
    if (!call->id || !call->method)
        goto fail_nomem;

    /* The caller's envelope is only read: a shallow copy carries our id and
     * deadline. The server's verdict on the deadline is authoritative, so
     * the local timer waits timeout_ms even when the envelope's deadline is
     * earlier: a DEADLINE_EXCEEDED reply is more useful than a timeout. */
    Serphona__Rpc__V1__Envelope env = *req;
    int64_t deadline = sp_clock_wall_ms() + timeout_ms;
    env.request_id = (char *)id;
    if (!req->deadline_unix_ms || req->deadline_unix_ms > deadline)
        env.deadline_unix_ms = deadline;
    call->len = protobuf_c_message_get_packed_size(&env.base);
    call->data = malloc(call->len + 1);
    if (!call->data)
        goto fail_nomem;
    protobuf_c_message_pack(&env.base, call->data);
    call->expires_ms = sp_clock_mono_ms() + timeout_ms;
    call->cb = cb;
    call->ud = ud;
    call->takes_reply = takes_reply;

    pthread_mutex_lock(&cl->mu);
    if (cl->stopping) {
        pthread_mutex_unlock(&cl->mu);
        call_free(call);
        return SP_ESHUTDOWN;
    }
    if (cl->queue_tail)
        cl->queue_tail->next = call;
    else
        cl->queue_head = call;
    cl->queue_tail = call;
    pthread_mutex_unlock(&cl->mu);
    uint64_t one = 1;
    if (write(cl->wake_fd, &one, sizeof one) < 0)
        sp_log_warn("rpc: client wake-up write failed: %s", strerror(errno));
    return 0;

fail_nomem:
    call_free(call);
    return SP_ENOMEM;
}

int sp_rpc_client_call_async(sp_rpc_client_t *cl, const Serphona__Rpc__V1__Envelope *req,
                             int timeout_ms, sp_rpc_callback_fn cb, void *ud)
{
    return submit(cl, req, timeout_ms, cb, ud, 0);
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int status;
    Serphona__Rpc__V1__Envelope *reply;
} sync_call_t;

static void on_sync_reply(int status, const Serphona__Rpc__V1__Envelope *reply, void *ud)
{
    sync_call_t *sc = ud;
    pthread_mutex_lock(&sc->mu);
    sc->status = status;
    /* submit(..., takes_reply = 1): the reply is ours to keep. */
    sc->reply = (Serphona__Rpc__V1__Envelope *)reply;
    sc->done = 1;
    pthread_cond_signal(&sc->cv);
    pthread_mutex_unlock(&sc->mu);
}

int sp_rpc_client_call(sp_rpc_client_t *cl, const Serphona__Rpc__V1__Envelope *req, int timeout_ms,
                       Serphona__Rpc__V1__Envelope **reply_out)
{
    if (!reply_out)
        return SP_EINVAL;
    *reply_out = NULL;
    sync_call_t sc = {.done = 0};
    pthread_mutex_init(&sc.mu, NULL);
    pthread_cond_init(&sc.cv, NULL);
    int rc = submit(cl, req, timeout_ms, on_sync_reply, &sc, 1);
    if (rc == 0) {
        pthread_mutex_lock(&sc.mu);
        while (!sc.done)
            pthread_cond_wait(&sc.cv, &sc.mu);
        pthread_mutex_unlock(&sc.mu);
        rc = sc.status;
        if (rc == 0)
            *reply_out = sc.reply;
        else if (sc.reply)
            serphona__rpc__v1__envelope__free_unpacked(sc.reply, NULL);
    }
    pthread_cond_destroy(&sc.cv);
    pthread_mutex_destroy(&sc.mu);
    return rc;
}

int sp_rpc_client_call_typed(sp_rpc_client_t *cl, const char *method, const sp_auth_t *auth,
                             const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_desc,
                             int timeout_ms, ProtobufCMessage **out)
{
    if (!cl || !method || !in || !out_desc || !out)
        return SP_EINVAL;
    *out = NULL;
    Serphona__Rpc__V1__Envelope env = SERPHONA__RPC__V1__ENVELOPE__INIT;
    Serphona__Rpc__V1__AuthContext actx = SERPHONA__RPC__V1__AUTH_CONTEXT__INIT;
    Serphona__Rpc__V1__TypedMessage body = SERPHONA__RPC__V1__TYPED_MESSAGE__INIT;
    env.method = (char *)method;
    if (auth) {
        sp_rpc_auth_to_proto(auth, &actx);
        env.auth = &actx;
    }
    size_t len = protobuf_c_message_get_packed_size(in);
    uint8_t *data = malloc(len + 1);
    if (!data)
        return SP_ENOMEM;
    body.data.data = data;
    body.data.len = protobuf_c_message_pack(in, data);
    env.body_case = SERPHONA__RPC__V1__ENVELOPE__BODY_MESSAGE;
    env.message = &body;

    Serphona__Rpc__V1__Envelope *reply = NULL;
    int rc = sp_rpc_client_call(cl, &env, timeout_ms, &reply);
    free(data);
    if (rc != 0)
        return rc;
    if (reply->status != SERPHONA__RPC__V1__STATUS__STATUS_OK) {
        rc = sp_rpc_status_to_err(reply->status);
        sp_log_debug("rpc: %s failed: %s: %s", method, sp_rpc_status_name(reply->status),
                     reply->error_message);
    } else if (reply->body_case == SERPHONA__RPC__V1__ENVELOPE__BODY_MESSAGE) {
        *out = protobuf_c_message_unpack(out_desc, NULL, reply->message->data.len,
                                         reply->message->data.data);
    } else if (reply->body_case == SERPHONA__RPC__V1__ENVELOPE__BODY__NOT_SET) {
        /* An all-default reply message may travel as no body at all. */
        *out = protobuf_c_message_unpack(out_desc, NULL, 0, (const uint8_t *)"");
    }
    if (rc == 0 && !*out) {
        sp_log_warn("rpc: %s answered with a body that is not a %s", method, out_desc->name);
        rc = SP_EPROTO;
    }
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);
    return rc;
}
