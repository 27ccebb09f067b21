/*
 * cors.h — CORS for the console, from the tenants' allowed origins.
 *
 * A preflight (OPTIONS with Origin and Access-Control-Request-Method) carries
 * no token, so it is answered for any origin some active tenant allows
 * (ListAllowedOrigins, cached). An actual request gets
 * Access-Control-Allow-Origin only when its Origin is one the caller's own
 * tenant allows (from the TenantState of the token's tenant), or, before
 * anyone is identified (login, refresh, JWKS), one any tenant allows. With
 * SERPHONA_REFRESH_COOKIE the answers also allow credentials, so the browser
 * sends the refresh cookie. Origins of SERPHONA_CORS_ORIGINS are served by
 * the HTTP server itself on top of these.
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

/* For a request before identification: allows the Origin when any active
 * tenant allows it. */
void gw_cors_allow_any_tenant(const gw_t *gw, sp_request_t *req);

/* OPTIONS on each of paths (NULL-terminated), the gateway's own routes, so
 * their preflights are answered; forwarded routes answer theirs in the
 * proxy. Exact paths, not a catch-all, so an unknown path still answers 404.
 * Returns 0 or SP_E*. */
int gw_cors_register(gw_t *gw, const char *const *paths);

#endif
