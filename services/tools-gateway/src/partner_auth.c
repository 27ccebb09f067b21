/*
 * partner_auth.c — API-key authentication of the public port
 * (partner_auth.h).
 */
#include "partner_auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/permissions.h"
#include "tenant.pb-c.h"

#define RESOLVE_TIMEOUT_MS 2000
#define NEGATIVE_CACHE_S   10

typedef Serphona__Tenant__V1__ResolveApiKeyReply reply_t;

struct tg_route {
    tg_t *tg;
    char *permission;
    sp_handler_fn fn;
    tg_route_t *next;
};

void tg_api_key_cache_key(const char *key, char out[10 + 64 + 1])
{
    uint8_t digest[SP_SHA256_LEN];
    char hex[2 * SP_SHA256_LEN + 1];
    sp_sha256(key, strlen(key), digest);
    sp_hex_encode(digest, sizeof(digest), hex);
    snprintf(out, 10 + 64 + 1, "sp:apikey:%s", hex);
}

/* The presented key: NULL when none; "" when the header is there but
 * unusable (another scheme, blanks, absurd length). */
static const char *presented_key(sp_request_t *req)
{
    const char *key = NULL;
    const char *authz = sp_request_header(req, "Authorization");
    if (authz) {
        if (strncasecmp(authz, "Bearer ", 7) != 0)
            return "";
        key = authz + 7;
        while (*key == ' ')
            key++;
    } else {
        key = sp_request_header(req, "X-Api-Key");
        if (!key)
            return NULL;
    }
    size_t n = strlen(key);
    if (n < 8 || n > 512)
        return "";
    for (const char *p = key; *p; p++)
        if (*p < 0x21 || *p > 0x7E)
            return "";
    return key;
}

/* Resolves key through the Redis cache, then tenant-manager. Returns 0 and
 * *out (unpacked into the request's arena), or SP_EUNAVAILABLE. */
static int resolve(tg_t *tg, sp_request_t *req, const char *key, const reply_t **out)
{
    sp_arena_t *arena = sp_request_arena(req);
    char cache_key[10 + 64 + 1];
    tg_api_key_cache_key(key, cache_key);
    sp_redis_pool_t *redis = tg_redis(tg);
    if (redis && tg->api_key_cache_s > 0) {
        char *value = NULL;
        size_t len = 0;
        if (sp_redis_cache_get(redis, cache_key, &value, &len) == 0) {
            const reply_t *r = (const reply_t *)sp_rpc_unpack(
                arena, &serphona__tenant__v1__resolve_api_key_reply__descriptor,
                (const uint8_t *)value, len);
            free(value);
            if (r) {
                *out = r;
                return SP_OK;
            }
        }
    }
    if (!tg->tenant_manager)
        return SP_EUNAVAILABLE;
    Serphona__Tenant__V1__ResolveApiKeyRequest in =
        SERPHONA__TENANT__V1__RESOLVE_API_KEY_REQUEST__INIT;
    in.key = (char *)key;
    ProtobufCMessage *msg = NULL;
    /* A service-to-service call: no auth context, as the auth-gateway does. */
    int rc = sp_rpc_client_call_typed(
        tg->tenant_manager, "tenant-manager.ResolveApiKey", NULL, &in.base,
        &serphona__tenant__v1__resolve_api_key_reply__descriptor, RESOLVE_TIMEOUT_MS, &msg);
    if (rc != 0) {
        sp_log_warn("tenant-manager.ResolveApiKey failed: %s", sp_strerror(rc));
        return SP_EUNAVAILABLE;
    }
    /* Copy into the arena so the reply lives with the request. */
    uint8_t *packed = NULL;
    size_t len = 0;
    const reply_t *r = NULL;
    if (sp_rpc_pack(arena, msg, &packed, &len) == 0)
        r = (const reply_t *)sp_rpc_unpack(
            arena, &serphona__tenant__v1__resolve_api_key_reply__descriptor, packed, len);
    protobuf_c_message_free_unpacked(msg, NULL);
    if (!r)
        return SP_EUNAVAILABLE;
    if (redis && tg->api_key_cache_s > 0) {
        int ttl =
            r->result == SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__OK
                ? tg->api_key_cache_s
                : (tg->api_key_cache_s < NEGATIVE_CACHE_S ? tg->api_key_cache_s : NEGATIVE_CACHE_S);
        int crc = sp_redis_cache_set(redis, cache_key, packed, len, ttl);
        if (crc != 0)
            sp_log_debug("API key cache write failed: %s", sp_strerror(crc));
    }
    *out = r;
    return SP_OK;
}

static sp_handler_result_t partner_route(sp_request_t *req, void *ud)
{
    tg_route_t *route = ud;
    tg_t *tg = route->tg;
    sp_response_t *resp = sp_request_response(req);
    const char *key = presented_key(req);
    if (!key) {
        sp_response_set_header(resp, "WWW-Authenticate", "Bearer realm=\"serphona\"");
        sp_response_error(resp, 401, "unauthenticated",
                          "an API key is required: Authorization: Bearer <key> or X-Api-Key");
        return SP_HANDLER_DONE;
    }
    const reply_t *r = NULL;
    if (!*key) {
        sp_response_set_header(resp, "WWW-Authenticate",
                               "Bearer realm=\"serphona\", error=\"invalid_token\"");
        sp_response_error(resp, 401, "invalid_api_key", "the API key is malformed");
        return SP_HANDLER_DONE;
    }
    if (resolve(tg, req, key, &r) != 0) {
        tg_reply_unavailable(tg, req, "auth_unavailable",
                             "the API key cannot be checked right now; retry later");
        return SP_HANDLER_DONE;
    }
    switch (r->result) {
    case SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__OK:
        break;
    case SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__REVOKED:
        sp_response_set_header(resp, "WWW-Authenticate",
                               "Bearer realm=\"serphona\", error=\"invalid_token\"");
        sp_response_error(resp, 401, "invalid_api_key", "the API key has been revoked");
        return SP_HANDLER_DONE;
    case SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__EXPIRED:
        sp_response_set_header(resp, "WWW-Authenticate",
                               "Bearer realm=\"serphona\", error=\"invalid_token\"");
        sp_response_error(resp, 401, "invalid_api_key", "the API key has expired");
        return SP_HANDLER_DONE;
    case SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__TENANT_SUSPENDED:
        sp_response_error(resp, 403, "tenant_suspended", "the tenant of this API key is suspended");
        return SP_HANDLER_DONE;
    default:
        sp_response_set_header(resp, "WWW-Authenticate",
                               "Bearer realm=\"serphona\", error=\"invalid_token\"");
        sp_response_error(resp, 401, "invalid_api_key", "the API key is not valid");
        return SP_HANDLER_DONE;
    }
    if (!r->tenant_id || !*r->tenant_id) {
        sp_response_error(resp, 401, "invalid_api_key", "the API key is not valid");
        return SP_HANDLER_DONE;
    }
    sp_auth_t auth = {.tenant_id = r->tenant_id,
                      .subject = r->key_id,
                      .scopes = (const char **)r->scopes,
                      .n_scopes = r->n_scopes};
    if (sp_permissions_authorize(&auth, route->permission, NULL) != 0) {
        sp_response_error(resp, 403, "insufficient_scope", "the API key lacks the scope %s",
                          route->permission);
        return SP_HANDLER_DONE;
    }
    if (sp_request_set_auth(req, &auth) != 0) {
        sp_response_error(resp, 500, "internal", "out of memory");
        return SP_HANDLER_DONE;
    }
    sp_log_set_context(sp_request_id(req), r->tenant_id);
    return route->fn(req, tg);
}

/* Everything else on the public port: the service's own routing. */
static sp_handler_result_t pass_through(sp_request_t *req, void *ud)
{
    tg_t *tg = ud;
    return sp_router_dispatch(tg->router, req);
}

int tg_public_router_init(tg_t *tg)
{
    tg->public_router = sp_router_new();
    if (!tg->public_router)
        return SP_ENOMEM;
    return sp_router_add(tg->public_router, "*", "/*", NULL, pass_through, tg);
}

int tg_route_add(tg_t *tg, const char *method, const char *pattern, const char *permission,
                 sp_handler_fn fn)
{
    tg_route_t *route = calloc(1, sizeof(*route));
    if (!route)
        return SP_ENOMEM;
    route->tg = tg;
    route->fn = fn;
    route->permission = strdup(permission);
    route->next = tg->routes;
    tg->routes = route;
    if (!route->permission)
        return SP_ENOMEM;
    int rc = sp_router_add(tg->router, method, pattern, permission, fn, tg);
    if (rc == 0 && tg->public_router)
        rc = sp_router_add(tg->public_router, method, pattern, NULL, partner_route, route);
    return rc;
}

void tg_routes_free(tg_t *tg)
{
    while (tg->routes) {
        tg_route_t *next = tg->routes->next;
        free(tg->routes->permission);
        free(tg->routes);
        tg->routes = next;
    }
}
