/*
 * router.h — the routing table shared by the HTTP server and the RPC server.
 *
 * A route is method + path pattern + required permission + handler. Pattern
 * segments are literals, "{name}" (one segment, read with sp_request_param),
 * or a final "*" matching the rest of the path (param "*"; may be empty).
 * Literal segments win over parameters, so "/v1/users/me" and "/v1/users/{id}"
 * coexist. Method "*" matches any method.
 *
 * Dispatch answers by itself, with the platform's error shape:
 *   404 route_not_found      no pattern matches the path
 *   405 method_not_allowed   a pattern matches, the method does not (+ Allow)
 *   401 unauthenticated      the route needs a permission and no one is calling
 *   403 forbidden            the authorizer refuses the permission
 *
 * The router is built at start-up and read-only afterwards, so dispatch needs
 * no lock.
 */
#ifndef SP_ROUTER_H
#define SP_ROUTER_H

#include "platform/request.h"

typedef struct sp_router sp_router_t;

/* Decides whether auth holds permission. Returns 0 to allow, SP_EDENIED to
 * refuse. */
typedef int (*sp_authorizer_fn)(const sp_auth_t *auth, const char *permission, void *ud);

/* A new empty router; NULL when out of memory. */
sp_router_t *sp_router_new(void);
void sp_router_destroy(sp_router_t **self_p);

/* Adds a route. permission NULL makes the route public. Returns 0, SP_EINVAL
 * for a malformed pattern or a duplicate method+pattern, or SP_ENOMEM. */
int sp_router_add(sp_router_t *router, const char *method, const char *pattern,
                  const char *permission, sp_handler_fn fn, void *ud);

/* Replaces the default authorizer, which allows a permission when the caller
 * has it among its scopes, or has the scope "*". */
void sp_router_set_authorizer(sp_router_t *router, sp_authorizer_fn fn, void *ud);

/* Finds the route for req, checks its permission and runs its handler.
 * Returns what the handler returned, or SP_HANDLER_DONE after writing one of
 * the errors above into the response. */
sp_handler_result_t sp_router_dispatch(const sp_router_t *router, sp_request_t *req);

/* Calls fn for each route in registration order (for docs and route-coverage
 * tests). */
void sp_router_foreach(const sp_router_t *router,
                       void (*fn)(const char *method, const char *pattern, const char *permission,
                                  void *ud),
                       void *ud);

/* One row of a service's route table, for sp_router_add_all. */
typedef struct {
    const char *method, *pattern, *permission;
    sp_handler_fn fn;
} sp_route_def_t;

/* Adds the n routes of defs in order, each with ud, so a resource file
 * declares its routes as one static table. Stops at the first failure and
 * returns its code unchanged (SP_EINVAL, SP_ENOMEM), else 0; routes added
 * before a failure stay (the service does not start then). */
int sp_router_add_all(sp_router_t *router, const sp_route_def_t *defs, size_t n, void *ud);

#endif
