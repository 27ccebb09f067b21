/*
 * fuzz_routes.h — the route table the HTTP-layer harnesses serve: every
 * route pattern and permission of the services (grep sp_router_add), plus
 * the gateway's forwarding prefixes, all answered by one handler.
 */
#ifndef FUZZ_ROUTES_H
#define FUZZ_ROUTES_H

#include "platform/router.h"

static const char *const FZ_ROUTES[][3] = {
    {"DELETE", "/v1/api-keys/{id}", "api_keys:write"},
    {"DELETE", "/v1/tenants/current/taxonomy", "taxonomy:write"},
    {"DELETE", "/v1/tenants/{id}", "platform:admin"},
    {"DELETE", "/v1/users/invites/{id}", "users:write"},
    {"DELETE", "/v1/users/{id}", "users:write"},
    {"GET", "/.well-known/jwks.json", NULL},
    {"GET", "/v1/analytics/breakdown", "analytics:read"},
    {"GET", "/v1/analytics/export.csv", "analytics:export"},
    {"GET", "/v1/analytics/interactions", "analytics:read"},
    {"GET", "/v1/analytics/interactions/{id}", "analytics:read"},
    {"GET", "/v1/analytics/overview", "analytics:read"},
    {"GET", "/v1/api-keys", "api_keys:read"},
    {"GET", "/v1/api-keys/{id}", "api_keys:read"},
    {"GET", "/v1/audit-log", "audit:read"},
    {"GET", "/v1/auth/me", NULL},
    {"GET", "/v1/tenants", "platform:admin"},
    {"GET", "/v1/tenants/current", "tenant:read"},
    {"GET", "/v1/tenants/current/taxonomy", "tenant:read"},
    {"GET", "/v1/tenants/{id}", "platform:admin"},
    {"GET", "/v1/users", "users:read"},
    {"GET", "/v1/users/me", "users:read"},
    {"GET", "/v1/users/{id}", "users:read"},
    {"PATCH", "/v1/tenants/{id}", "platform:admin"},
    {"PATCH", "/v1/users/{id}", "users:write"},
    {"POST", "/v1/api-keys", "api_keys:write"},
    {"POST", "/v1/auth/login", NULL},
    {"POST", "/v1/interactions", "ingest:write"},
    {"POST", "/v1/uploads", "ingest:write"},
    {"POST", "/v1/tenants/{id}/owner-invites", "platform:admin"},
    {"POST", "/v1/users/{id}/disable", "users:write"},
    {"PUT", "/v1/tenants/current/taxonomy", "taxonomy:write"},
    {"PUT", "/v1/tenants/{id}/plan", "platform:admin"},
    {"*", "/v1/billing/*", NULL},
    {"OPTIONS", "/v1/auth/*", NULL},
};

/* Adds every route of FZ_ROUTES with fn; 0 or the first sp_router_add error. */
static inline int fz_add_routes(sp_router_t *router, sp_handler_fn fn)
{
    for (size_t i = 0; i < sizeof FZ_ROUTES / sizeof *FZ_ROUTES; i++) {
        int rc = sp_router_add(router, FZ_ROUTES[i][0], FZ_ROUTES[i][1], FZ_ROUTES[i][2], fn, NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}

#endif
