/*
 * sptest/call.h — driving a service's router in-process, the way its HTTP
 * server or RPC "http" method would, and checking the answer.
 *
 * sptest_call builds an sp_request_t (method, path, query, body, headers,
 * a fixed request id and a TEST-NET remote address, and the caller's auth
 * context as the gateway forwards it), dispatches it, waits when a handler
 * suspends the request (SP_HANDLER_ASYNC) until it completes, and returns
 * a copy of the answer. Nothing of the request outlives the call.
 */
#ifndef SPTEST_CALL_H
#define SPTEST_CALL_H

#include "platform/request.h"
#include "platform/router.h"

#include <cjson/cJSON.h>

#include <stddef.h>

/* The subject forwarded when a caller names none. */
#define SPTEST_SUBJECT "00000000-0000-4000-8000-000000000001"

/* Who calls: a tenant (NULL = platform level), a subject (NULL =
 * SPTEST_SUBJECT), one role (NULL = none) and scopes (NULL-terminated, or
 * NULL = none). */
typedef struct {
    const char *tenant_id;
    const char *subject;
    const char *role;
    const char *const *scopes;
} sptest_caller_t;

/* An answer; release with sptest_resp_free. */
typedef struct {
    int status;
    cJSON *json;   /* the parsed body, NULL when empty or not JSON */
    char *text;    /* the body, NUL-terminated, never NULL */
    int dispatch;  /* what sp_router_dispatch returned */
    char **header; /* name, value, name, value ... (n_header pairs) */
    size_t n_header;
} sptest_resp_t;

/* Dispatches method + target ("/path?query") with body (NULL = none) and
 * headers ("Name", "value", ..., NULL; NULL = none) on router as who (NULL =
 * no auth context). Fails the test when the request cannot be built. */
sptest_resp_t sptest_call(sp_router_t *router, const sptest_caller_t *who, const char *method,
                          const char *target, const char *body, const char *const *headers);

/* A header of the answer (names compared case-insensitively), or NULL. */
const char *sptest_resp_header(const sptest_resp_t *r, const char *name);

/* Frees what r holds and zeroes it. Accepts a zeroed r. */
void sptest_resp_free(sptest_resp_t *r);

/* The "error.code" of an error answer, or "" when it has none. */
const char *sptest_err_code(const sptest_resp_t *r);

/* Fails the test unless r has status st and error code code. */
#define EXPECT(r, st, code)                                                                        \
    sptest_expect((const sptest_resp_t *)&(r), (st), (code), __FILE__, __LINE__)

/* Fails the test unless r has status st (any body). */
#define EXPECT_OK(r, st) sptest_expect((const sptest_resp_t *)&(r), (st), NULL, __FILE__, __LINE__)

/* What EXPECT and EXPECT_OK call: code NULL checks the status only. */
void sptest_expect(const sptest_resp_t *r, int status, const char *code, const char *file,
                   int line);

#endif
