/*
 * rpc.h — ZeroMQ RPC between Serphona services, in the envelope of
 * proto/rpc.proto (Serphona__Rpc__V1__Envelope).
 *
 * Wire format: a client DEALER sends [empty][envelope]; the server ROUTER
 * answers [empty][envelope] with the same request_id. Many calls may be in
 * flight on one connection; replies are matched by request_id, not by order.
 *
 * Server: a ROUTER bound to the service's endpoint, a broker thread and a pool
 * of worker threads. The broker hands a request to a worker only when that
 * worker is idle, so a request waits in ZeroMQ's queues (not in a worker) and
 * its deadline is checked when a worker actually picks it up. A request is
 * either
 *   - method "http": a forwarded HttpRequest, run through the service's
 *     sp_router_t exactly as if it had arrived over HTTP; or
 *   - a typed method "<service>.<Method>" registered with
 *     sp_rpc_server_add_method; "<service>.Ping" is built in.
 *
 * Client: a DEALER owned by one I/O thread. Any thread may start calls; each
 * call ends exactly once, on the I/O thread, with a reply, a timeout, or a
 * shutdown.
 *
 * Status mapping (server side, handler error -> envelope status, and client
 * side, envelope status -> SP_E* via sp_rpc_status_to_err):
 *   0                         STATUS_OK
 *   SP_EINVAL, SP_EPROTO      STATUS_BAD_REQUEST
 *   SP_ENOTFOUND              STATUS_NOT_FOUND
 *   SP_ETIMEDOUT              STATUS_DEADLINE_EXCEEDED
 *   SP_EUNAVAILABLE, ESHUTDOWN STATUS_UNAVAILABLE
 *   SP_EDENIED                STATUS_PERMISSION_DENIED
 *   anything else             STATUS_INTERNAL
 */
#ifndef SP_RPC_H
#define SP_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "platform/arena.h"
#include "platform/request.h"
#include "platform/router.h"
#include "rpc.pb-c.h"

/* A request id: 32 lowercase hex characters plus the terminating NUL. */
#define SP_RPC_REQUEST_ID_LEN 33

/* ---- shared helpers -------------------------------------------------------- */

/* The SP_E* code for an envelope status (0 for STATUS_OK), per the table
 * above; an unknown status gives SP_EPROTO. */
int sp_rpc_status_to_err(int status);

/* The envelope status for an SP_E* code (STATUS_OK for 0), per the table. */
int sp_rpc_err_to_status(int err);

/* A static snake_case name for an envelope status ("ok", "not_found", ...),
 * used as a metrics label; never NULL. */
const char *sp_rpc_status_name(int status);

/* Writes a fresh random request id (32 hex chars + NUL) into out. */
void sp_rpc_request_id_new(char out[SP_RPC_REQUEST_ID_LEN]);

/* Packs msg into a buffer allocated from arena; returns 0 or SP_ENOMEM. An
 * empty message packs to *len == 0 with a non-NULL *out. */
int sp_rpc_pack(sp_arena_t *arena, const ProtobufCMessage *msg, uint8_t **out, size_t *len);

/* Unpacks len bytes as a message of type desc, allocating everything from
 * arena (never free the result; it dies with the arena). NULL when the bytes
 * are malformed or memory runs out. */
ProtobufCMessage *sp_rpc_unpack(sp_arena_t *arena, const ProtobufCMessageDescriptor *desc,
                                const uint8_t *data, size_t len);

/* Points *out (already initialised with SERPHONA__RPC__V1__AUTH_CONTEXT__INIT)
 * at auth's strings, borrowed: auth must outlive every use of *out. NULL
 * tenant or subject become "". */
void sp_rpc_auth_to_proto(const sp_auth_t *auth, Serphona__Rpc__V1__AuthContext *out);

/* The reverse: fills *auth from ctx, borrowing ctx's strings (ctx must
 * outlive every use of *auth). An empty tenant becomes NULL. */
void sp_rpc_auth_from_proto(const Serphona__Rpc__V1__AuthContext *ctx, sp_auth_t *auth);

/* ---- server ---------------------------------------------------------------- */

typedef struct sp_rpc_server sp_rpc_server_t;

/* What a typed method is told about its call. Every pointer stays valid for
 * the duration of the call only. A method that fails may point error_message
 * at a string of its own (a literal, or one allocated from the call's arena);
 * it is sent back in the envelope, so it must not carry secrets. */
typedef struct {
    const char *service;
    const char *method;
    const char *request_id;
    const char *traceparent;  /* NULL when none */
    const sp_auth_t *auth;    /* NULL when the envelope had no AuthContext */
    int64_t deadline_unix_ms; /* 0 = none */
    const char *error_message;
} sp_rpc_call_t;

/* A typed method: reads in_len bytes of its request message (possibly 0) and
 * on success returns 0 with *out / *out_len set to its packed reply, allocated
 * from arena (sp_rpc_pack does that). On failure returns a negative SP_E*
 * code, mapped to the envelope status per the table above. Runs on a worker
 * thread; several calls of the same method may run at once. */
typedef int (*sp_rpc_method_fn)(sp_rpc_call_t *call, const uint8_t *in, size_t in_len,
                                sp_arena_t *arena, uint8_t **out, size_t *out_len, void *ud);

/* A server for service (e.g. "billing") bound to bind_endpoint (e.g.
 * "tcp://0.0.0.0:7103", or "tcp://127.0.0.1:*" for an ephemeral port; read it
 * back with sp_rpc_server_endpoint/port). router (may be NULL: method "http"
 * then answers NOT_FOUND) is borrowed and must outlive the server; it is the
 * same router the service's HTTP server uses. workers <= 0 selects 4. Returns
 * NULL (and logs why) on a bad argument, a bind failure or out of memory.
 * Nothing is served until sp_rpc_server_start. */
sp_rpc_server_t *sp_rpc_server_new(const char *service, const char *bind_endpoint,
                                   const sp_router_t *router, int workers);

/* Registers a typed method under its full name ("billing.CheckQuota"). Call
 * before sp_rpc_server_start. Returns 0, SP_EEXISTS for a name already
 * registered (including "<service>.Ping" and "http"), SP_EINVAL when the
 * server is already started or an argument is NULL, or SP_ENOMEM. */
int sp_rpc_server_add_method(sp_rpc_server_t *srv, const char *method, sp_rpc_method_fn fn,
                             void *ud);

/* The endpoint actually bound ("tcp://127.0.0.1:41234"); owned by the server. */
const char *sp_rpc_server_endpoint(const sp_rpc_server_t *srv);

/* The TCP port actually bound, or SP_EINVAL when the endpoint is not TCP. */
int sp_rpc_server_port(const sp_rpc_server_t *srv);

/* Starts the broker and the workers. Returns 0, SP_EINVAL when already
 * started, or SP_EIO / SP_ENOMEM when a thread or socket cannot be created
 * (the server is then left stopped). */
int sp_rpc_server_start(sp_rpc_server_t *srv);

/* Stops taking new requests, lets the requests already running finish and
 * send their replies, then joins every thread, closes the socket and returns.
 * While the running requests finish, requests that were queued or arrive are
 * answered STATUS_UNAVAILABLE (so callers can retry elsewhere at once); after
 * stop returns nothing listens on the endpoint. A handler that went
 * SP_HANDLER_ASYNC is waited for, up to its request's deadline. No-op when
 * not started or already stopped; the server cannot be restarted. */
void sp_rpc_server_stop(sp_rpc_server_t *srv);

/* Stops the server if needed and frees it. Accepts NULL; sets *self_p NULL. */
void sp_rpc_server_destroy(sp_rpc_server_t **self_p);

/* ---- client ---------------------------------------------------------------- */

typedef struct sp_rpc_client sp_rpc_client_t;

/* The end of one call, run exactly once on the client's I/O thread. status is
 * 0 when a reply arrived (whatever the reply's own status says), SP_ETIMEDOUT
 * when the call's timeout passed first, SP_EUNAVAILABLE when the request could
 * not be queued for sending, or SP_ESHUTDOWN when the client was destroyed
 * first. reply is NULL unless status is 0; it is freed when the callback
 * returns, so copy what you need. The callback must not block for long and
 * must not destroy the client. */
typedef void (*sp_rpc_callback_fn)(int status, const Serphona__Rpc__V1__Envelope *reply, void *ud);

/* A client connected (lazily; ZeroMQ reconnects on its own) to
 * connect_endpoint. Returns NULL (and logs why) on a bad endpoint or out of
 * memory. */
sp_rpc_client_t *sp_rpc_client_new(const char *connect_endpoint);

/* Ends every call still pending with SP_ESHUTDOWN (on the I/O thread, before
 * this returns), stops the I/O thread and frees the client. No call may be
 * started concurrently with or after destroy. Accepts NULL; sets *self_p
 * NULL. */
void sp_rpc_client_destroy(sp_rpc_client_t **self_p);

/* Sends req. req is only read (it may live on the caller's stack) and may be
 * freed as soon as this returns. The bytes sent carry req's request_id, or a
 * fresh random one when it is empty, and a deadline of now + timeout_ms (or
 * req's own deadline_unix_ms when that is earlier and non-zero). timeout_ms
 * must be > 0. Returns 0 when the call is under way (cb will run exactly
 * once), or SP_EINVAL, SP_ENOMEM or SP_ESHUTDOWN, in which case cb never
 * runs. A request_id already in flight on this client ends that new call with
 * SP_EEXISTS through cb. */
int sp_rpc_client_call_async(sp_rpc_client_t *cl, const Serphona__Rpc__V1__Envelope *req,
                             int timeout_ms, sp_rpc_callback_fn cb, void *ud);

/* Sends req and waits for the end of the call. Returns what the callback of
 * sp_rpc_client_call_async would have been given as status (or what
 * call_async returned); on 0, *reply_out is the reply, which the caller frees
 * with serphona__rpc__v1__envelope__free_unpacked(reply, NULL). Must not be
 * called from an sp_rpc_callback_fn. */
int sp_rpc_client_call(sp_rpc_client_t *cl, const Serphona__Rpc__V1__Envelope *req, int timeout_ms,
                       Serphona__Rpc__V1__Envelope **reply_out);

/* A typed call: packs in into a TypedMessage envelope for method with the
 * given auth (may be NULL), waits, checks the reply status and unpacks the
 * reply body as out_desc into *out, which the caller frees with
 * protobuf_c_message_free_unpacked(*out, NULL). Returns 0, the transport error
 * of sp_rpc_client_call, the reply status translated by sp_rpc_status_to_err
 * (the server's error_message is logged at debug level), or SP_EPROTO when the
 * reply body is not an out_desc message. */
int sp_rpc_client_call_typed(sp_rpc_client_t *cl, const char *method, const sp_auth_t *auth,
                             const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_desc,
                             int timeout_ms, ProtobufCMessage **out);

#endif
