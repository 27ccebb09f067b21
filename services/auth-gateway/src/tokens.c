/*
 * tokens.c — issuing and checking access tokens and API keys (tokens.h).
 */
#include "tokens.h"
#include "tenancy.h"

#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/metrics.h"
#include "platform/rpc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static sp_counter_t *m_refused;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_init(void)
{
    m_refused =
        sp_counter_new("serphona_gateway_auth_refused_total",
                       "Requests refused by the gateway's authentication, by reason.", 1, "reason");
}

static void count_refusal(const char *reason)
{
    pthread_once(&metrics_once, metrics_init);
    sp_counter_add(m_refused, 1, reason);
}

int gw_token_issue(const gw_t *gw, sp_arena_t *arena, const char *tenant_id, const char *user_id,
                   char *const *roles, size_t n_roles, const char *sid, const char **token,
                   int64_t *exp)
{
    char jti[SP_UUID_STR_LEN];
    if (sp_uuid_v4(jti) != 0)
        return SP_EIO;
    int64_t now = (int64_t)time(NULL);
    sp_jwt_claims_t c = {.iss = gw->issuer,
                         .aud = gw->audience,
                         .sub = user_id,
                         .tenant_id = tenant_id ? tenant_id : "",
                         .jti = jti,
                         .sid = sid,
                         .roles = (const char *const *)roles,
                         .n_roles = n_roles,
                         .iat = now,
                         .exp = now + gw->access_ttl_s};
    char *text = NULL;
    int rc = sp_jwt_sign(gw->keys, &c, &text);
    if (rc != 0)
        return rc;
    *token = sp_arena_strdup(arena, text);
    free(text);
    *exp = c.exp;
    return *token ? SP_OK : SP_ENOMEM;
}

int gw_refuse_inactive(sp_request_t *req, const gw_principal_t *p)
{
    sp_response_t *resp = sp_request_response(req);
    switch (p->status) {
    case SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_ACTIVE:
        return 0;
    case SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_TENANT_SUSPENDED:
        count_refusal("tenant_suspended");
        sp_response_error(resp, 403, "tenant_suspended", "the tenant is suspended");
        return 1;
    case SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_USER_DISABLED:
        count_refusal("user_disabled");
        sp_response_error(resp, 403, "user_disabled", "the user is disabled");
        return 1;
    default:
        count_refusal("unknown_user");
        gw_unauthorized(req, "invalid_token", "the token's user no longer exists");
        return 1;
    }
}

int gw_refuse_inactive_tenant(sp_request_t *req, const gw_tenant_state_t *t)
{
    if (!t || t->status == SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_ACTIVE)
        return 0;
    if (t->status == SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_TENANT_SUSPENDED) {
        count_refusal("tenant_suspended");
        sp_response_error(sp_request_response(req), 403, "tenant_suspended",
                          "the tenant is suspended");
    } else {
        count_refusal("unknown_tenant");
        gw_unauthorized(req, "invalid_token", "the token's tenant no longer exists");
    }
    return 1;
}

static void unavailable(sp_request_t *req)
{
    sp_response_error(sp_request_response(req), 503, "auth_unavailable",
                      "the identity service cannot be reached; retry shortly");
}

/* The JWT path. */
static gw_auth_result_t from_token(const gw_t *gw, sp_request_t *req, const char *token,
                                   gw_caller_t *caller)
{
    sp_arena_t *arena = sp_request_arena(req);
    sp_jwt_verify_opts_t opts = {
        .issuer = gw->issuer, .audience = gw->audience, .leeway_s = gw->leeway_s};
    sp_jwt_claims_t c;
    sp_jwt_result_t why = SP_JWT_MALFORMED;
    int rc = sp_jwt_verify(gw->keys, token, strlen(token), &opts, arena, &c, &why);
    if (rc == SP_ENOMEM) {
        sp_response_error(sp_request_response(req), 500, "internal", "out of memory");
        return GW_AUTH_REFUSED;
    }
    if (rc != 0) {
        count_refusal(sp_jwt_result_name(why));
        if (why == SP_JWT_EXPIRED)
            gw_unauthorized(req, "token_expired", "the access token has expired; refresh it");
        else
            gw_unauthorized(req, "invalid_token",
                            sp_arena_printf(arena, "the access token is not valid (%s)",
                                            sp_jwt_result_name(why)));
        return GW_AUTH_REFUSED;
    }

    gw_lookup_req_t q = {.tenant_id = c.tenant_id,
                         .user_id = c.sub,
                         .sid = c.sid,
                         .want_tenant = 1,
                         .want_limits = 1};
    gw_lookup_t found;
    rc = gw_lookup(gw, arena, &q, &found);
    if (rc != 0) {
        unavailable(req);
        return GW_AUTH_REFUSED;
    }
    if (found.session_revoked) {
        count_refusal("token_revoked");
        gw_unauthorized(req, "token_revoked", "the session of this token has ended");
        return GW_AUTH_REFUSED;
    }
    if (gw_refuse_inactive(req, found.principal) || gw_refuse_inactive_tenant(req, found.tenant))
        return GW_AUTH_REFUSED;

    memset(caller, 0, sizeof(*caller));
    caller->auth.tenant_id = *c.tenant_id ? c.tenant_id : NULL;
    caller->auth.subject = c.sub;
    caller->auth.roles = (const char **)found.principal->roles;
    caller->auth.n_roles = found.principal->n_roles;
    caller->caller_key = sp_arena_printf(arena, "u:%s", c.sub);
    caller->sid = c.sid;
    caller->jti = c.jti;
    caller->iat = c.iat;
    caller->exp = c.exp;
    caller->principal = found.principal;
    caller->tenant = found.tenant;
    caller->limits = found.limits;
    caller->auth.timezone = found.tenant ? found.tenant->timezone : NULL;
    if (!caller->caller_key) {
        sp_response_error(sp_request_response(req), 500, "internal", "out of memory");
        return GW_AUTH_REFUSED;
    }
    return GW_AUTH_OK;
}

/* The API-key path: tenant-manager resolves (and stamps last-used) every
 * time, so a revoked key stops at once: no cache (cache_s 0). */
static gw_auth_result_t from_api_key(const gw_t *gw, sp_request_t *req, const char *key,
                                     gw_caller_t *caller)
{
    sp_arena_t *arena = sp_request_arena(req);
    if (strlen(key) > 512) {
        count_refusal("invalid_api_key");
        gw_unauthorized(req, "invalid_api_key", "the API key is not valid");
        return GW_AUTH_REFUSED;
    }
    const sp_tenants_api_key_t *r = NULL;
    int rc = sp_tenants_resolve_api_key(gw->tenants, arena, key, 0, &r);
    if (rc != 0) {
        if (rc == SP_ENOMEM)
            sp_response_error(sp_request_response(req), 500, "internal", "out of memory");
        else
            unavailable(req);
        return GW_AUTH_REFUSED;
    }
    if (r->result == SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__TENANT_SUSPENDED) {
        count_refusal("tenant_suspended");
        sp_response_error(sp_request_response(req), 403, "tenant_suspended",
                          "the tenant is suspended");
        return GW_AUTH_REFUSED;
    }
    if (r->result != SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__OK || !*r->tenant_id ||
        !*r->key_id) {
        count_refusal("invalid_api_key");
        gw_unauthorized(req, "invalid_api_key", "the API key is not valid");
        return GW_AUTH_REFUSED;
    }
    /* r lives in the request's arena, as everything in *caller must. */
    memset(caller, 0, sizeof(*caller));
    caller->auth.tenant_id = r->tenant_id;
    caller->auth.subject = r->key_id;
    caller->auth.scopes = (const char **)r->scopes;
    caller->auth.n_scopes = r->n_scopes;
    if (!(caller->caller_key = sp_arena_printf(arena, "k:%s", r->key_id))) {
        sp_response_error(sp_request_response(req), 500, "internal", "out of memory");
        return GW_AUTH_REFUSED;
    }

    gw_lookup_req_t q = {.tenant_id = caller->auth.tenant_id, .want_tenant = 1, .want_limits = 1};
    gw_lookup_t found;
    if (gw_lookup(gw, arena, &q, &found) != 0) {
        unavailable(req);
        return GW_AUTH_REFUSED;
    }
    if (gw_refuse_inactive_tenant(req, found.tenant))
        return GW_AUTH_REFUSED;
    caller->tenant = found.tenant;
    caller->limits = found.limits;
    caller->auth.timezone = found.tenant ? found.tenant->timezone : NULL;
    return GW_AUTH_OK;
}

gw_auth_result_t gw_authenticate(const gw_t *gw, sp_request_t *req, gw_caller_t *caller)
{
    const char *authz = sp_request_header(req, "Authorization");
    if (authz) {
        if (strncasecmp(authz, "Bearer ", 7) != 0) {
            count_refusal("bad_scheme");
            gw_unauthorized(req, "invalid_token", "only Bearer tokens are accepted");
            return GW_AUTH_REFUSED;
        }
        const char *token = authz + 7;
        while (*token == ' ')
            token++;
        char *copy = sp_arena_strdup(sp_request_arena(req), token);
        if (!copy) {
            sp_response_error(sp_request_response(req), 500, "internal", "out of memory");
            return GW_AUTH_REFUSED;
        }
        size_t len = strlen(copy);
        while (len && copy[len - 1] == ' ')
            copy[--len] = '\0';
        return from_token(gw, req, copy, caller);
    }
    const char *key = sp_request_header(req, "X-Api-Key");
    if (key && *key)
        return from_api_key(gw, req, key, caller);
    return GW_AUTH_NONE;
}
