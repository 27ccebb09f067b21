/*
 * forward.h — hand an HTTP request to another service over RPC.
 *
 * Both halves of the HTTP <-> envelope translation live here. The gateway's
 * proxying in one call: the request becomes an HttpRequest
 * envelope (method, path, query, headers, body, remote address, request id,
 * traceparent, auth context), goes out on an RPC client without blocking the
 * calling thread, and the reply's HttpResponse is copied into the request's
 * response when it arrives, after which the request is completed.
 *
 * Hop-by-hop headers (Connection, Keep-Alive, Transfer-Encoding, Upgrade,
 * TE, Trailer, Proxy-*), Host and Content-Length are not forwarded either way.
 * Failures become platform errors in the response:
 *   504 upstream_timeout       no reply before timeout_ms
 *   503 upstream_unavailable   the call could not be sent, or the service is
 *                              shutting down or overloaded
 *   502 upstream_error         the reply was not an HTTP response
 */
#ifndef SP_FORWARD_H
#define SP_FORWARD_H

#include "platform/request.h"
#include "platform/rpc.h"

/* Forwards req to the service behind client with the given auth context (NULL
 * for none; it replaces whatever req carries). Always returns
 * SP_HANDLER_ASYNC: req is completed later from the client's I/O thread, or
 * before this returns when the call could not be started. */
sp_handler_result_t sp_forward(sp_rpc_client_t *client, sp_request_t *req, const sp_auth_t *auth,
                               int timeout_ms);

/* The service side, used by the RPC server for method "http": rebuilds the
 * request env carries (method, path, query, headers, body, remote address,
 * request id, traceparent, auth context, deadline), runs it through router
 * exactly as if it had arrived over HTTP and, for a handler that goes
 * SP_HANDLER_ASYNC, waits for it up to env's deadline. Returns STATUS_OK with
 * *out set to the HttpResponse, allocated from arena and pointing into the
 * request, which is destroyed with arena. Otherwise returns the envelope
 * status to answer with a static *error_message: BAD_REQUEST (env carries no
 * HttpRequest), DEADLINE_EXCEEDED (the handler did not complete in time; it
 * still owns the request and completes it later) or INTERNAL (out of
 * memory). */
int sp_forward_serve(const sp_router_t *router, const Serphona__Rpc__V1__Envelope *env,
                     sp_arena_t *arena, Serphona__Rpc__V1__HttpResponse **out,
                     const char **error_message);

#endif
