/*
 * cors.h — CORS for the console, from the tenants' allowed origins.
 *
 * An origin a tenant chose is reflected only where that tenant is the one
 * named: an actual request gets Access-Control-Allow-Origin when its Origin
 * is one the request's own tenant allows — the token's tenant, the tenant a
 * login names by slug, the tenant of the session a refresh or logout
 * presents. Operator routes and operators' requests never reflect a
 * tenant-chosen origin: only SERPHONA_CORS_ORIGINS, which the HTTP server
 * serves itself on top of these. A preflight (OPTIONS with Origin and
 * Access-Control-Request-Method) carries no token and no body, so on tenant
 * routes it is answered for any origin some active tenant allows
 * (ListAllowedOrigins, cached) — it reveals nothing, and the actual request
 * is still scoped — and refused on operator routes. With
 * SERPHONA_REFRESH_COOKIE the answers also allow credentials, so the browser
 * sends the refresh cookie.
 */
#ifndef GW_CORS_H
#define GW_CORS_H

#include "gateway.h"

/* When req is a CORS preflight, answers it (204 with the Allow-* headers, or
 * 403 origin_not_allowed) and returns 1; otherwise returns 0. */
int gw_cors_preflight(const gw_t *gw, sp_request_t *req);

/* For a request with an Origin header: allows it when it is in origins (n of
 * them). No-op without an Origin header. */
void gw_cors_allow_if_listed(const gw_t *gw, sp_request_t *req, char *const *origins, size_t n);

/* For a request before identification on a tenant route (invites, public
 * reads): allows the Origin when any active tenant allows it. Never on
 * operator routes. */
void gw_cors_allow_any_tenant(const gw_t *gw, sp_request_t *req);

/* Allows the Origin when the tenant with this slug allows it (a login names
 * its tenant by slug). An empty slug (an operator's login) allows nothing. */
void gw_cors_allow_for_slug(const gw_t *gw, sp_request_t *req, const char *slug);

/* Allows the Origin when the tenant with this id allows it (a refresh or a
 * logout, once its session is known). NULL allows nothing. */
void gw_cors_allow_for_tenant(const gw_t *gw, sp_request_t *req, const char *tenant_id);

/* 1 when path is an operator route (tenant administration: /v1/tenants and
 * below, except /v1/tenants/current...), whose answers never carry a
 * tenant-chosen origin. */
int gw_cors_is_operator_path(const char *path);

/* OPTIONS on each of paths (NULL-terminated), the gateway's own routes, so
 * their preflights are answered; forwarded routes answer theirs in the
 * proxy. Exact paths, not a catch-all, so an unknown path still answers 404.
 * Returns 0 or SP_E*. */
int gw_cors_register(gw_t *gw, const char *const *paths);

#endif
