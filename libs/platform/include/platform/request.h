/*
 * request.h — one request and its response, whatever the transport.
 *
 * A request reaches a handler either directly over HTTP (http.c) or forwarded
 * by the gateway inside an RPC envelope (rpc.c). Both transports build the same
 * sp_request_t and run it through the same sp_router_t, so a handler cannot
 * tell, and need not care, how the request arrived.
 *
 * Memory: the request owns an arena (sp_request_arena) that lives until the
 * response has been sent; every string a getter returns, and everything a
 * handler allocates from the arena, stays valid until then.
 *
 * Completion: a handler either fills the response and returns SP_HANDLER_DONE,
 * or returns SP_HANDLER_ASYNC and later calls sp_request_complete() exactly
 * once, from any thread (the gateway does so when an RPC reply arrives). The
 * transport then sends the response and destroys the request.
 */
#ifndef SP_REQUEST_H
#define SP_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "platform/arena.h"

/* Who is calling, from a verified token, API key or service credential. */
typedef struct {
    const char *tenant_id; /* NULL for platform-level callers */
    const char *subject;   /* user id, API key id, or service name */
    const char **roles;
    size_t n_roles;
    const char **scopes;
    size_t n_scopes;
    const char *timezone; /* the tenant's IANA zone as the gateway knew it; NULL */
} sp_auth_t;

typedef struct sp_request sp_request_t;
typedef struct sp_response sp_response_t;

typedef enum {
    SP_HANDLER_DONE = 0,  /* the response is complete */
    SP_HANDLER_ASYNC = 1, /* sp_request_complete() will be called later */
} sp_handler_result_t;

typedef sp_handler_result_t (*sp_handler_fn)(sp_request_t *req, void *ud);

/* ---- transport side ------------------------------------------------------ */

/* A new empty request with its own arena; NULL when out of memory. */
sp_request_t *sp_request_new(void);

/* Destroys the request, its response and its arena. Accepts NULL. */
void sp_request_destroy(sp_request_t **self_p);

/* Setters copy their arguments into the arena; each returns 0 or SP_ENOMEM.
 * set_query also parses "a=1&b=x%20y" into decoded pairs for sp_request_query.
 * set_auth deep-copies the context (NULL clears it). */
int sp_request_set_method(sp_request_t *req, const char *method);
int sp_request_set_path(sp_request_t *req, const char *path);
int sp_request_set_query(sp_request_t *req, const char *raw_query);
int sp_request_add_header(sp_request_t *req, const char *name, const char *value);
int sp_request_set_body(sp_request_t *req, const void *body, size_t len);
int sp_request_set_remote_addr(sp_request_t *req, const char *addr);
int sp_request_set_id(sp_request_t *req, const char *request_id);
int sp_request_set_traceparent(sp_request_t *req, const char *traceparent);
int sp_request_set_auth(sp_request_t *req, const sp_auth_t *auth);
/* Used by the router: a path parameter matched by a pattern. */
int sp_request_add_param(sp_request_t *req, const char *name, const char *value);
/* Absolute deadline in Unix milliseconds (0 = none), from the RPC envelope. */
void sp_request_set_deadline(sp_request_t *req, int64_t deadline_unix_ms);

/* The transport's completion callback, run by sp_request_complete(). */
void sp_request_on_complete(sp_request_t *req, void (*fn)(sp_request_t *req, void *ud), void *ud);

/* ---- handler side ---------------------------------------------------------- */

const char *sp_request_method(const sp_request_t *req);
const char *sp_request_path(const sp_request_t *req);
const char *sp_request_raw_query(const sp_request_t *req); /* "" when none */
const char *sp_request_remote_addr(const sp_request_t *req);
const char *sp_request_id(const sp_request_t *req);
const char *sp_request_traceparent(const sp_request_t *req); /* NULL when none */
int64_t sp_request_deadline(const sp_request_t *req);

/* A decoded query parameter, a path parameter, or a header (names compared
 * case-insensitively); NULL when absent. */
const char *sp_request_query(const sp_request_t *req, const char *name);
const char *sp_request_param(const sp_request_t *req, const char *name);
const char *sp_request_header(const sp_request_t *req, const char *name);

/* Iteration over headers in arrival order, for forwarding. */
size_t sp_request_header_count(const sp_request_t *req);
void sp_request_header_at(const sp_request_t *req, size_t i, const char **name, const char **value);

/* The raw body (never NULL; "" when empty) and its length. */
const char *sp_request_body(const sp_request_t *req, size_t *len);

/* Parses the body as strict JSON (platform/json.h: exactly one value, valid
 * UTF-8, no \u0000) into *out (owned by the arena, never freed by the
 * caller). On failure writes the response and returns non-zero, so a handler
 * can simply `return SP_HANDLER_DONE`: 415 "unsupported_media_type" when a
 * Content-Type other than application/json (or a +json type) was sent,
 * 400 "invalid_json" naming what is wrong when the body is not strict JSON. */
int sp_request_json(sp_request_t *req, cJSON **out);

/* sp_request_json, then the body must be an object whose members are all in
 * allowed (NULL-terminated): else 400 "invalid_body" ("the body must be a
 * JSON object") or 400 "unknown_field" naming the first member not allowed.
 * Same return contract as sp_request_json. */
int sp_request_json_object(sp_request_t *req, const char *const *allowed, cJSON **out);

/* NULL when every query parameter name and value and the path are valid
 * UTF-8 without NUL (after percent-decoding), else a reason. The router
 * answers 400 "invalid_encoding" for such a request before any handler, so
 * no handler ever sees such a string. */
const char *sp_request_encoding_problem(const sp_request_t *req);

/* The caller's identity, or NULL when unauthenticated. */
const sp_auth_t *sp_request_auth(const sp_request_t *req);
int sp_request_has_role(const sp_request_t *req, const char *role);

sp_arena_t *sp_request_arena(sp_request_t *req);
sp_response_t *sp_request_response(sp_request_t *req);

/* Finishes an SP_HANDLER_ASYNC request: runs the transport's completion
 * callback, which sends the response and destroys the request. Call once. */
void sp_request_complete(sp_request_t *req);

/* ---- response -------------------------------------------------------------- */

/* Status defaults to 200 with an empty body. */
void sp_response_set_status(sp_response_t *resp, int status);
int sp_response_status(const sp_response_t *resp);

/* Sets a header, replacing any earlier one of the same name; 0 or SP_ENOMEM. */
int sp_response_set_header(sp_response_t *resp, const char *name, const char *value);
const char *sp_response_header(const sp_response_t *resp, const char *name);
size_t sp_response_header_count(const sp_response_t *resp);
void sp_response_header_at(const sp_response_t *resp, size_t i, const char **name,
                           const char **value);

/* Copies body into the response and sets Content-Type; 0 or SP_ENOMEM. */
int sp_response_set_body(sp_response_t *resp, const void *body, size_t len,
                         const char *content_type);
const char *sp_response_body(const sp_response_t *resp, size_t *len);

/* Status + JSON body (application/json). json stays owned by the caller. */
int sp_response_json(sp_response_t *resp, int status, const cJSON *json);

/* Status + {"error":{"code":code,"message":<formatted>}}. code is a stable,
 * machine-readable snake_case string clients may branch on. */
int sp_response_error(sp_response_t *resp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
