/*
 * api_keys.c — API keys and ResolveApiKey (api_keys.h).
 */
#include "api_keys.h"

#include "change.h"
#include "listing.h"
#include "tokens.h"

#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/permissions.h"
#include "platform/text.h"

#include <stdlib.h>
#include <string.h>

#include "tenant.pb-c.h"

#define KEY_KIND   "sk_live"
#define MAX_SCOPES 32

static void reply_key_not_found(sp_request_t *req)
{
    sp_response_error(sp_request_response(req), 404, "api_key_not_found", "no such API key");
}

/* Whether the caller may hand scope to a key: one of its roles grants it,
 * or (an API key creating keys) it holds the scope itself. */
static int caller_holds(sp_request_t *req, const char *scope)
{
    const sp_auth_t *auth = sp_request_auth(req);
    for (size_t i = 0; i < auth->n_roles; i++)
        if (sp_permissions_role_grants(auth->roles[i], scope))
            return 1;
    for (size_t i = 0; i < auth->n_scopes; i++)
        if (strcmp(auth->scopes[i], scope) == 0)
            return 1;
    return 0;
}

/* POST /v1/api-keys {"name", "scopes": [...], "expires_at"?: RFC 3339} */
static sp_handler_result_t create_key(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    sp_response_t *resp = sp_request_response(req);
    sp_arena_t *arena = sp_request_arena(req);
    cJSON *body = NULL;
    const char *name = NULL, *expires = NULL;
    if (sp_request_json_object(req, (const char *const[]){"name", "scopes", "expires_at", NULL},
                               &body) != 0)
        return SP_HANDLER_DONE;
    if (tm_json_str(body, "name", 200, &name) != 1 || !*name) {
        sp_response_error(resp, 400, "invalid_name", "name must be a string of 1 to 200 bytes");
        return SP_HANDLER_DONE;
    }
    if (tm_json_str(body, "expires_at", 64, &expires) < 0) {
        sp_response_error(resp, 400, "invalid_expiry",
                          "expires_at must be an RFC 3339 time in the future");
        return SP_HANDLER_DONE;
    }
    const cJSON *scopes = cJSON_GetObjectItemCaseSensitive(body, "scopes");
    int n = cJSON_IsArray(scopes) ? cJSON_GetArraySize(scopes) : -1;
    if (n < 1 || n > MAX_SCOPES) {
        sp_response_error(resp, 400, "invalid_scope",
                          "scopes must be an array of 1 to %d permission names", MAX_SCOPES);
        return SP_HANDLER_DONE;
    }
    cJSON *clean = cJSON_CreateArray();
    if (!clean || sp_arena_defer(arena, (void (*)(void *))cJSON_Delete, clean) != 0) {
        sp_response_error(resp, 500, "internal", "out of memory");
        return SP_HANDLER_DONE;
    }
    for (const cJSON *s = scopes->child; s; s = s->next) {
        if (!cJSON_IsString(s) || !sp_permissions_known(s->valuestring) ||
            strcmp(s->valuestring, "platform:admin") == 0) {
            sp_response_error(resp, 400, "invalid_scope", "unknown scope '%.64s'",
                              cJSON_IsString(s) ? s->valuestring : "?");
            return SP_HANDLER_DONE;
        }
        if (!caller_holds(req, s->valuestring)) {
            sp_response_error(resp, 403, "scope_not_allowed",
                              "you cannot grant the scope '%s' you do not hold", s->valuestring);
            return SP_HANDLER_DONE;
        }
        int dup = 0;
        for (const cJSON *c = clean->child; c; c = c->next)
            dup |= strcmp(c->valuestring, s->valuestring) == 0;
        if (!dup)
            cJSON_AddItemToArray(clean, cJSON_CreateString(s->valuestring));
    }
    char *scopes_json = cJSON_PrintUnformatted(clean);
    const char *scopes_text = scopes_json ? sp_arena_strdup(arena, scopes_json) : NULL;
    cJSON_free(scopes_json);
    if (!scopes_text) {
        sp_response_error(resp, 500, "internal", "out of memory");
        return SP_HANDLER_DONE;
    }

    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    int rc;
    if (expires) {
        const char *pe[] = {expires};
        rc = sp_db_tx_query_arena(tx, arena,
                                  "SELECT $1::text ~ '^\\d{4}-\\d\\d-\\d\\dT' AND "
                                  "$1::text::timestamptz > now()",
                                  1, pe, &res);
        if ((rc == SP_EDB && strncmp(sp_db_tx_sqlstate(tx), "22", 2) == 0) ||
            (rc == 0 && strcmp(PQgetvalue(res, 0, 0), "t") != 0)) {
            sp_response_error(resp, 400, "invalid_expiry",
                              "expires_at must be an RFC 3339 time in the future");
            goto fail_tx;
        }
        if (rc != 0)
            goto fail_db;
    }
    char *key = NULL, prefix[TM_LOOKUP_LEN + 1], hash_hex[2 * SP_SHA256_LEN + 1];
    uint8_t hash[SP_SHA256_LEN];
    char id[SP_UUID_STR_LEN];
    if ((rc = tm_token_new(arena, KEY_KIND, &key, prefix, hash)) != 0 || (rc = sp_uuid_v4(id)) != 0)
        goto fail_db;
    tm_token_hash_hex(hash, hash_hex);
    const char *actor_type, *actor_id;
    tm_actor(req, &actor_type, &actor_id);
    const char *p[] = {id, name, prefix, hash_hex, scopes_text, actor_id, expires};
    if ((rc = sp_db_tx_query_arena(
             tx, arena,
             "INSERT INTO tenant.api_keys (id, tenant_id, name, prefix, secret_hash, scopes, "
             "created_by, expires_at) VALUES ($1, tenant.current_tenant(), $2, $3, "
             "decode($4, 'hex'), ARRAY(SELECT jsonb_array_elements_text($5::jsonb)), $6, "
             "$7::timestamptz) RETURNING tenant.api_key_json(api_keys)::text",
             7, p, &res)) != 0)
        goto fail_db;
    const char *after = PQgetvalue(res, 0, 0);
    if ((rc = tm_audit(tx, req, "api_key.created", "api_key", id, NULL, after)) != 0)
        goto fail_db;
    /* The key joins the reply only, never the audit log. */
    const char *pj[] = {after, key};
    if ((rc = sp_db_tx_query_arena(tx, arena,
                                   "SELECT ($1::jsonb || jsonb_build_object('key', $2::text))"
                                   "::text",
                                   2, pj, &res)) != 0)
        goto fail_db;
    const char *out = PQgetvalue(res, 0, 0);
    if ((rc = sp_db_tx_commit(&tx)) != 0)
        goto fail_db;
    tm_reply_json(req, 201, out);
    return SP_HANDLER_DONE;
fail_db:
    tm_reply_db_error(req, rc);
fail_tx:
    sp_db_tx_rollback(&tx);
    return SP_HANDLER_DONE;
}

static const char *const key_statuses[] = {"active", "revoked", "expired", NULL};

static sp_handler_result_t list_keys(sp_request_t *req, void *ud)
{
    static const tm_list_t list = {
        .table = "tenant.api_keys", .json_fn = "tenant.api_key_json", .newest_first = 1};
    /* The status is derived (active, revoked or expired). */
    static const tm_list_filter_t filters[] = {
        TM_LIST_STATUS("tenant.api_key_json(x)->>'status' = $", key_statuses,
                       "status must be active, revoked or expired"),
    };
    tm_list_reply_page(ud, req, &list, filters, sizeof(filters) / sizeof(*filters));
    return SP_HANDLER_DONE;
}

static sp_handler_result_t get_key(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    const char *id = sp_request_param(req, "id");
    if (!sp_uuid_valid(id)) {
        reply_key_not_found(req);
        return SP_HANDLER_DONE;
    }
    sp_db_tx_t *tx = NULL;
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    const char *p[] = {id};
    tm_reply_row_json(req, tx, 200, "api_key_not_found",
                      "SELECT tenant.api_key_json(k) FROM tenant.api_keys k WHERE k.id = $1", 1, p);
    sp_db_tx_rollback(&tx);
    return SP_HANDLER_DONE;
}

static sp_handler_result_t revoke_key(sp_request_t *req, void *ud)
{
    static const tm_revoke_t key = {.table = "tenant.api_keys",
                                    .json_fn = "tenant.api_key_json",
                                    .resource_type = "api_key",
                                    .action = "api_key.revoked",
                                    .not_found_code = "api_key_not_found",
                                    .not_found_message = "no such API key",
                                    .extra = "encode(x.secret_hash, 'hex')"};
    const char *hash_hex = NULL;
    if (tm_change_revoke(ud, req, &key, &hash_hex) == 0)
        tm_cache_del_api_key(ud, hash_hex);
    return SP_HANDLER_DONE;
}

/* ---- ResolveApiKey --------------------------------------------------------------- */

typedef Serphona__Tenant__V1__ResolveApiKeyReply resolve_reply_t;

static int resolve(tm_t *tm, sp_arena_t *arena, const char *key, resolve_reply_t *reply)
{
    char prefix[TM_LOOKUP_LEN + 1];
    uint8_t hash[SP_SHA256_LEN];
    reply->result = SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__INVALID;
    if (tm_token_parse(key, KEY_KIND, prefix, hash) != 0)
        return SP_OK;
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    int rc = sp_db_tx_begin(tm_db(tm), NULL, &tx);
    if (rc != 0)
        return rc;
    /* The key's row is visible through its prefix alone (the SELECT-only
     * policy of api_keys); its tenant is learnt from it. */
    const char *pp[] = {prefix};
    rc = sp_db_tx_query(tx, "SELECT set_config('app.api_key_prefix', $1, true)", 1, pp, NULL);
    if (rc == 0)
        rc = sp_db_tx_query_arena(
            tx, arena,
            "SELECT k.id, k.tenant_id, encode(k.secret_hash, 'hex'), "
            "array_to_string(k.scopes, E'\\n'), k.name, k.revoked_at IS NOT NULL, "
            "k.expires_at IS NOT NULL AND k.expires_at <= now(), "
            "k.last_used_at IS NULL OR k.last_used_at < now() - interval '60 seconds', "
            "t.status FROM tenant.api_keys k JOIN tenant.tenants t ON t.id = k.tenant_id "
            "WHERE k.prefix = $1",
            1, pp, &res);
    if (rc != 0)
        goto fail_tx;
    if (PQntuples(res) != 1 || !tm_token_hash_eq(hash, PQgetvalue(res, 0, 2)) ||
        strcmp(PQgetvalue(res, 0, 8), "deleted") == 0)
        goto done;
    reply->key_id = PQgetvalue(res, 0, 0);
    reply->tenant_id = PQgetvalue(res, 0, 1);
    reply->name = PQgetvalue(res, 0, 4);
    if (strcmp(PQgetvalue(res, 0, 5), "t") == 0) {
        reply->result = SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__REVOKED;
        goto done;
    }
    if (strcmp(PQgetvalue(res, 0, 6), "t") == 0) {
        reply->result = SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__EXPIRED;
        goto done;
    }
    if (strcmp(PQgetvalue(res, 0, 8), "active") != 0) {
        reply->result = SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__TENANT_SUSPENDED;
        goto done;
    }
    reply->result = SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__OK;
    char *scopes = PQgetvalue(res, 0, 3);
    size_t count = 1;
    for (const char *c = scopes; *c; c++)
        count += *c == '\n';
    reply->scopes = sp_arena_alloc(arena, count * sizeof(*reply->scopes));
    if (!reply->scopes) {
        rc = SP_ENOMEM;
        goto fail_tx;
    }
    for (char *save = NULL, *tok = strtok_r(scopes, "\n", &save); tok;
         tok = strtok_r(NULL, "\n", &save))
        reply->scopes[reply->n_scopes++] = tok;
    if (strcmp(PQgetvalue(res, 0, 7), "t") == 0) {
        const char *pt[] = {reply->tenant_id}, *pk[] = {reply->key_id};
        rc = sp_db_tx_query(tx,
                            "SELECT set_config('app.tenant_id', $1, true), "
                            "set_config('app.api_key_prefix', '', true)",
                            1, pt, NULL);
        if (rc == 0)
            rc = sp_db_tx_query(tx, "UPDATE tenant.api_keys SET last_used_at = now() WHERE id = $1",
                                1, pk, NULL);
        if (rc != 0) /* the answer stands; only the last-used time is lost */
            sp_log_warn("could not record an API key's use: %s", sp_strerror(rc));
    }
done:
    rc = sp_db_tx_commit(&tx);
    /* A failed last-used update aborts the transaction, so the commit
     * reports it; the key was still resolved. */
    return rc == SP_EDB ? SP_OK : rc;
fail_tx:
    sp_db_tx_rollback(&tx);
    return rc;
}

int tm_rpc_resolve_api_key(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                           uint8_t **out, size_t *out_len, void *ud)
{
    (void)call;
    Serphona__Tenant__V1__ResolveApiKeyRequest *rq = (void *)sp_rpc_unpack(
        arena, &serphona__tenant__v1__resolve_api_key_request__descriptor, in, in_len);
    if (!rq)
        return SP_EPROTO;
    resolve_reply_t reply = SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__INIT;
    int rc = resolve(ud, arena, rq->key, &reply);
    if (rc != 0)
        return rc;
    return sp_rpc_pack(arena, &reply.base, out, out_len);
}

static const sp_route_def_t routes[] = {
    {"GET", "/v1/api-keys", "api_keys:read", list_keys},
    {"POST", "/v1/api-keys", "api_keys:write", create_key},
    {"GET", "/v1/api-keys/{id}", "api_keys:read", get_key},
    {"DELETE", "/v1/api-keys/{id}", "api_keys:write", revoke_key},
};

int tm_api_keys_register(sp_router_t *router, tm_t *tm)
{
    int rc = sp_router_add_all(router, routes, sizeof(routes) / sizeof(*routes), tm);
    if (rc == 0 && tm->svc)
        rc = sp_service_add_method(tm->svc, "tenant-manager.ResolveApiKey", tm_rpc_resolve_api_key,
                                   tm);
    return rc;
}
