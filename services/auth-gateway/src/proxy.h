/*
 * proxy.h — the gateway's routing of public paths to back services.
 *
 * Each owned path prefix forwards over ZeroMQ to its service
 * (platform/forward.h) after the gateway's checks, in this order:
 *   1. a CORS preflight is answered here (cors.h);
 *   2. the caller is identified (tokens.h); a request without credentials
 *      is refused 401 unauthenticated unless its route is on the small
 *      allow-list of routes the back services serve to anyone (the service
 *      then decides, e.g. an invite token in the body);
 *   3. the per-tenant and per-caller rate limits (ratelimit.h);
 *   4. CORS headers for the caller's tenant's origins;
 *   5. forwarding with the verified auth context: tenant, subject, and the
 *      CURRENT roles from tenant-manager (or the API key's scopes). The back
 *      service checks the route's permission again (defence in depth).
 * With SERPHONA_AUTH_DISABLED (benchmarks only) steps 2-4 are skipped and
 * nothing is forwarded as identity.
 */
#ifndef GW_PROXY_H
#define GW_PROXY_H

#include "gateway.h"

/* Registers one route per owned path prefix on the service's router. Reads
 * SERPHONA_UPSTREAM_TIMEOUT_MS. Returns 0 or a negative SP_E* code. */
int gw_proxy_register(gw_t *gw);

/* 1 when method + path is on the allow-list of routes forwarded without
 * credentials. */
int gw_proxy_is_public(const char *method, const char *path);

#endif
