/*
 * gateway.c — the gateway's configuration and shared helpers (gateway.h).
 */
#include "gateway.h"
#include "keys.h"
#include "ratelimit.h"
#include "tenancy.h"

#include "platform/error.h"
#include "platform/log.h"

#include <stdlib.h>
#include <string.h>

static void gw_free(void *ud)
{
    gw_t *gw = ud;
    sp_tenants_destroy(&gw->tenants); /* before the local cache it reads */
    gw_l1_destroy(&gw->l1);
    gw_rl_destroy(&gw->rl);
    sp_jwt_keyset_destroy(&gw->keys);
    free(gw->jwks);
    free(gw);
}

gw_t *gw_new(sp_service_t *svc)
{
    sp_config_t *cfg = sp_service_config(svc);
    gw_t *gw = calloc(1, sizeof(*gw));
    if (!gw)
        return NULL;
    if (sp_service_on_shutdown(svc, gw_free, gw) != 0) {
        free(gw);
        return NULL;
    }
    gw->svc = svc;
    gw->issuer = sp_config_str(cfg, "SERPHONA_JWT_ISSUER", "serphona-auth-gateway",
                               "iss of the access tokens issued, and required on verification.");
    gw->audience = sp_config_str(cfg, "SERPHONA_JWT_AUDIENCE", "serphona-api",
                                 "aud of the access tokens issued, and required on verification.");
    gw->access_ttl_s = sp_config_int(cfg, "SERPHONA_ACCESS_TOKEN_TTL_S", 900, 60, 3600,
                                     "Lifetime of an access token, in seconds.");
    gw->refresh_ttl_s =
        sp_config_int(cfg, "SERPHONA_REFRESH_TOKEN_TTL_S", 14 * 86400, 300, 90 * 86400,
                      "Lifetime of a login session (refresh-token family), in seconds.");
    gw->leeway_s = sp_config_int(cfg, "SERPHONA_JWT_LEEWAY_S", 30, 0, 300,
                                 "Clock skew allowed on exp, nbf and iat, in seconds.");
    gw->cache_ttl_s =
        sp_config_int(cfg, "SERPHONA_AUTH_CACHE_TTL_S", 30, 1, 60,
                      "How long tenant-manager answers (principal, tenant, limits) are cached in "
                      "Redis; tenant-manager deletes them on change (tenant.proto).");
    int l1_ms = sp_config_int(
        cfg, "SERPHONA_AUTH_LOCAL_CACHE_MS", 5000, 0, 60000,
        "How long the gateway keeps principal, tenant, limits and session markers in memory; "
        "every change still reaches it at once through Redis client-side-caching "
        "invalidations (0 = read Redis on every request).");
    static const char *const TRACKED[] = {
        "sp:principal:", "sp:tenant:", "sp:limits:", "sp:revoked:", "sp:origins", NULL};
    if (l1_ms > 0 && !(gw->l1 = gw_l1_new(65536, l1_ms, TRACKED)))
        return NULL;
    gw->rpc_timeout_ms = sp_config_int(cfg, "SERPHONA_AUTH_RPC_TIMEOUT_MS", 3000, 50, 60000,
                                       "Timeout of the gateway's typed calls to tenant-manager.");
    gw->refresh_cookie = sp_config_bool(
        cfg, "SERPHONA_REFRESH_COOKIE", 0,
        "Send the refresh token as an HttpOnly; Secure; SameSite=Strict cookie instead of in "
        "the JSON body (console mode).");
    gw->login_max_failures =
        sp_config_int(cfg, "SERPHONA_LOGIN_MAX_FAILURES", 5, 1, 1000,
                      "Failed logins of one account before it is locked (then with backoff).");
    gw->login_ip_max_failures =
        sp_config_int(cfg, "SERPHONA_LOGIN_IP_MAX_FAILURES", 100, 1, 100000,
                      "Failed logins from one address before it is locked (then with backoff).");
    gw->login_window_s = sp_config_int(cfg, "SERPHONA_LOGIN_FAILURE_WINDOW_S", 900, 10, 86400,
                                       "Window in which failed logins are counted, in seconds.");
    gw->lockout_base_s = sp_config_int(cfg, "SERPHONA_LOGIN_LOCKOUT_S", 30, 1, 86400,
                                       "First lockout after too many failures; each further "
                                       "failure doubles it, in seconds.");
    gw->lockout_max_s = sp_config_int(cfg, "SERPHONA_LOGIN_LOCKOUT_MAX_S", 900, 1, 86400,
                                      "Longest lockout, in seconds.");
    gw->default_tenant_rpm =
        sp_config_int(cfg, "SERPHONA_DEFAULT_TENANT_RPM", 6000, 1, 10000000,
                      "Requests per minute of a whole tenant when its plan names no limit.");
    gw->default_user_rpm =
        sp_config_int(cfg, "SERPHONA_DEFAULT_USER_RPM", 1200, 1, 10000000,
                      "Requests per minute of one user or API key (and of a platform operator) "
                      "when the plan names no limit.");
    gw->trusted_proxy_hops = sp_config_int(
        cfg, "SERPHONA_TRUSTED_PROXY_HOPS", 0, 0, 10,
        "Proxies in front of the gateway that append to X-Forwarded-For; 0 = use the peer "
        "address (never trust a client-supplied header).");
    gw->auth_disabled = sp_config_bool(
        cfg, "SERPHONA_AUTH_DISABLED", 0,
        "BENCHMARKS ONLY: forward every request without verifying anything. Refused unless "
        "SERPHONA_ALLOW_INSECURE=1 too.");
    int insecure = sp_config_bool(cfg, "SERPHONA_ALLOW_INSECURE", 0,
                                  "Allows SERPHONA_AUTH_DISABLED (benchmarks only).");
    if (gw->auth_disabled && !insecure)
        sp_config_add_error(cfg, "SERPHONA_AUTH_DISABLED: refused without "
                                 "SERPHONA_ALLOW_INSECURE=1 (it turns authentication off)");
    if (gw->lockout_max_s < gw->lockout_base_s)
        sp_config_add_error(cfg, "SERPHONA_LOGIN_LOCKOUT_MAX_S must be at least "
                                 "SERPHONA_LOGIN_LOCKOUT_S");
    if (!(gw->rl = gw_rl_new()))
        return NULL;
    gw->tm = sp_service_client(svc, "tenant-manager");
    if (!gw->tm || !(gw->tenants = gw_tenancy_new(gw)))
        return NULL;
    if (gw_keys_load(gw, cfg) == SP_ENOMEM)
        return NULL;
    return gw;
}

sp_redis_pool_t *gw_redis(const gw_t *gw)
{
    return gw->redis ? gw->redis : sp_service_redis(gw->svc);
}

const char *gw_client_ip(const gw_t *gw, sp_request_t *req)
{
    const char *peer = sp_request_remote_addr(req);
    const char *xff = gw->trusted_proxy_hops > 0 ? sp_request_header(req, "X-Forwarded-For") : NULL;
    if (!xff)
        return peer;
    /* The last entry was written by the proxy next to us, the one before by
     * the proxy before it, and so on; entries further left are the client's
     * own claims and are never believed. */
    char *copy = sp_arena_strdup(sp_request_arena(req), xff);
    if (!copy)
        return peer;
    const char *parts[32];
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && n < 32; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        size_t l = strlen(tok);
        while (l && (tok[l - 1] == ' ' || tok[l - 1] == '\t'))
            tok[--l] = '\0';
        parts[n++] = tok;
    }
    if (n < gw->trusted_proxy_hops)
        return peer;
    const char *ip = parts[n - gw->trusted_proxy_hops];
    return *ip && strlen(ip) <= 64 ? ip : peer;
}

void gw_unauthorized(sp_request_t *req, const char *code, const char *message)
{
    sp_response_t *resp = sp_request_response(req);
    sp_response_error(resp, 401, code, "%s", message);
    /* RFC 6750 section 3.1 has one error for every bad access token; the
     * other 401s (no credential, bad password, bad refresh token) get the
     * bare challenge that RFC 7235 requires of every 401. */
    int bad_token = strcmp(code, "invalid_token") == 0 || strcmp(code, "token_expired") == 0 ||
                    strcmp(code, "token_revoked") == 0;
    sp_response_set_header(resp, "WWW-Authenticate",
                           bad_token ? "Bearer realm=\"serphona\", error=\"invalid_token\""
                                     : "Bearer realm=\"serphona\"");
}
