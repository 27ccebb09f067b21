/*
 * tm.c — tenant-manager's context and request helpers (tm.h).
 */
#include "tm.h"
#include "passwords.h"

#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/text.h"
#include "platform/log.h"
#include "platform/tenant_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tm_init(tm_t *tm, sp_service_t *svc, sp_config_t *cfg)
{
    tm->svc = svc;
    tm->pbkdf2_iterations = (uint32_t)sp_config_int(
        cfg, "SERPHONA_PBKDF2_ITERATIONS", TM_PBKDF2_MIN_ITERATIONS, TM_PBKDF2_MIN_ITERATIONS,
        100000000, "PBKDF2-HMAC-SHA256 rounds for new password hashes (at least 210000).");
    tm_password_gate_init(sp_config_int(
        cfg, "SERPHONA_LOGIN_HASH_CONCURRENCY", 2, 1, 256,
        "Password hashes computed at once; logins past it are refused at once (the gateway "
        "answers 503 + Retry-After), so RPC workers stay free for principal and API-key "
        "lookups. Keep it below SERPHONA_RPC_WORKERS."));
    tm->operator_email = sp_config_str(
        cfg, "SERPHONA_OPERATOR_EMAIL", NULL,
        "E-mail of the first platform operator, created (or its password reset) at start "
        "together with SERPHONA_OPERATOR_PASSWORD.");
    tm->operator_password =
        sp_config_str(cfg, "SERPHONA_OPERATOR_PASSWORD", NULL,
                      "That operator's password (a secret; tenant-manager --create-operator "
                      "does the same by hand).");
    tm->invite_ttl_hours = sp_config_int(cfg, "SERPHONA_INVITE_TTL_HOURS", 72, 1, 24 * 30,
                                         "How long an invite token stays valid, in hours.");
    tm->purge_after_days =
        sp_config_int(cfg, "SERPHONA_TENANT_PURGE_AFTER_DAYS", 30, 0, 3650,
                      "Days a deleted tenant is kept before it and its data are purged.");
    tm->purge_interval_s =
        sp_config_int(cfg, "SERPHONA_TENANT_PURGE_INTERVAL_SECONDS", 3600, 0, 7 * 86400,
                      "How often deleted tenants past their grace period are purged "
                      "(0 = only at start).");
}

sp_db_pool_t *tm_db(tm_t *tm)
{
    return tm->db ? tm->db : tm->svc ? sp_service_db(tm->svc) : NULL;
}

sp_redis_pool_t *tm_redis(tm_t *tm)
{
    return tm->redis ? tm->redis : tm->svc ? sp_service_redis(tm->svc) : NULL;
}

/* ---- requests ---------------------------------------------------------------- */

void tm_reply_db_error(sp_request_t *req, int rc)
{
    sp_response_t *resp = sp_request_response(req);
    if (rc == SP_EUNAVAILABLE || rc == SP_ETIMEDOUT)
        sp_response_error(resp, 503, "unavailable", "the database is unavailable; retry later");
    else
        sp_response_error(resp, 500, "internal", "internal error");
}

int tm_tx_begin(tm_t *tm, sp_request_t *req, sp_db_tx_t **tx)
{
    const sp_auth_t *auth = sp_request_auth(req);
    sp_db_pool_t *db = tm_db(tm);
    int rc = db ? sp_db_tx_begin(db, auth ? auth->tenant_id : NULL, tx) : SP_EUNAVAILABLE;
    if (rc != 0)
        tm_reply_db_error(req, rc);
    return rc;
}

int tm_tx_set_tenant(sp_db_tx_t *tx, const char *tenant_id)
{
    const char *p[] = {tenant_id};
    return sp_db_tx_query(tx, "SELECT set_config('app.tenant_id', $1, true)", 1, p, NULL);
}

void tm_reply_json(sp_request_t *req, int status, const char *json_text)
{
    sp_response_t *resp = sp_request_response(req);
    sp_response_set_status(resp, status);
    if (sp_response_set_body(resp, json_text, strlen(json_text), "application/json") != 0)
        sp_response_error(resp, 500, "internal", "out of memory");
}

int tm_reply_row_json(sp_request_t *req, sp_db_tx_t *tx, int status, const char *not_found_code,
                      const char *sql, int nparams, const char *const *params)
{
    PGresult *res = NULL;
    int rc = sp_db_tx_query_arena(tx, sp_request_arena(req), sql, nparams, params, &res);
    if (rc != 0) {
        tm_reply_db_error(req, rc);
        return rc;
    }
    if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        /* "api_key_not_found" -> "no such api key" */
        char what[64];
        size_t n = strlen(not_found_code), suffix = sizeof("_not_found") - 1;
        snprintf(what, sizeof(what), "%.*s", (int)(n > suffix ? n - suffix : n), not_found_code);
        for (char *c = what; *c; c++)
            if (*c == '_')
                *c = ' ';
        sp_response_error(sp_request_response(req), 404, not_found_code, "no such %s", what);
        return SP_ENOTFOUND;
    }
    tm_reply_json(req, status, PQgetvalue(res, 0, 0));
    return SP_OK;
}

int tm_is_operator(const sp_request_t *req)
{
    return sp_request_has_role(req, "platform_operator");
}

void tm_actor(const sp_request_t *req, const char **type, const char **id)
{
    const sp_auth_t *auth = sp_request_auth(req);
    *id = auth && auth->subject ? auth->subject : "";
    if (!auth)
        *type = "system";
    else if (tm_is_operator(req))
        *type = "operator";
    else if (auth->n_roles == 0 && auth->n_scopes > 0)
        *type = "api_key";
    else
        *type = "user";
}

int tm_audit_as(sp_db_tx_t *tx, const sp_request_t *req, const char *actor_type,
                const char *actor_id, const char *action, const char *resource_type,
                const char *resource_id, const char *before, const char *after)
{
    char id[SP_UUID_STR_LEN];
    int rc = sp_uuid_v7(id);
    if (rc != 0)
        return rc;
    const char *p[] = {id,
                       actor_type,
                       actor_id ? actor_id : "",
                       action,
                       resource_type,
                       resource_id ? resource_id : "",
                       req ? sp_request_remote_addr(req) : "",
                       req ? sp_request_id(req) : "",
                       before,
                       after};
    if (!p[6])
        p[6] = "";
    if (!p[7])
        p[7] = "";
    return sp_db_tx_query(tx,
                          "INSERT INTO tenant.audit_log (id, tenant_id, actor_type, actor_id, "
                          "action, resource_type, resource_id, remote_addr, request_id, before, "
                          "after) VALUES ($1, tenant.current_tenant(), $2, $3, $4, $5, $6, $7, "
                          "$8, $9::jsonb, $10::jsonb)",
                          10, p, NULL);
}

int tm_audit(sp_db_tx_t *tx, const sp_request_t *req, const char *action, const char *resource_type,
             const char *resource_id, const char *before, const char *after)
{
    const char *type, *id;
    tm_actor(req, &type, &id);
    return tm_audit_as(tx, req, type, id, action, resource_type, resource_id, before, after);
}

void tm_cache_del(tm_t *tm, const char *key)
{
    sp_redis_pool_t *redis = tm_redis(tm);
    if (!redis)
        return;
    int rc = sp_redis_cache_del(redis, key);
    if (rc != 0 && rc != SP_ENOTFOUND)
        sp_log_warn("cache invalidation failed (%s); callers see the change after their TTL",
                    sp_strerror(rc));
}

/* The key names are the platform client's (platform/tenant_client.h), so
 * what is deleted here is what the callers cached. */
static void del_kind(tm_t *tm, sp_tenants_kind_t kind, const char *id, const char *user_id)
{
    char key[SP_TENANTS_KEY_MAX];
    if (sp_tenants_key(key, kind, id, user_id))
        tm_cache_del(tm, key);
}

void tm_cache_del_tenant(tm_t *tm, const char *tenant_id)
{
    del_kind(tm, SP_TENANTS_STATE, tenant_id, NULL);
    del_kind(tm, SP_TENANTS_LIMITS, tenant_id, NULL);
    /* The gateway's cache of every active tenant's origins (CORS). */
    del_kind(tm, SP_TENANTS_ORIGINS, NULL, NULL);
}

void tm_cache_del_principal(tm_t *tm, const char *tenant_id, const char *user_id)
{
    del_kind(tm, SP_TENANTS_PRINCIPAL, tenant_id, user_id);
}

void tm_cache_del_api_key(tm_t *tm, const char *hash_hex)
{
    del_kind(tm, SP_TENANTS_APIKEY, hash_hex, NULL);
}

void tm_cache_del_taxonomy(tm_t *tm, const char *tenant_id)
{
    del_kind(tm, SP_TENANTS_TAXONOMY, tenant_id, NULL);
}

/* ---- validation -------------------------------------------------------------- */

int tm_is_slug(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 3 || n > 40 || s[0] == '-' || s[n - 1] == '-' || strstr(s, "--"))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

char *tm_email_normalize(sp_arena_t *arena, const char *email)
{
    /* The gateway keys its login lockout on the same form (platform/text.h),
     * so no spelling of an address gets a counter of its own. */
    char normal[SP_EMAIL_MAX];
    return sp_email_normalize(email, normal) == 0 ? sp_arena_strdup(arena, normal) : NULL;
}

int tm_is_one_of(const char *s, const char *const *choices)
{
    for (; s && *choices; choices++)
        if (strcmp(s, *choices) == 0)
            return 1;
    return 0;
}

int tm_int(const char *text)
{
    return (int)strtol(text, NULL, 10);
}

int tm_json_str(const cJSON *obj, const char *name, size_t maxlen, const char **out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!item || cJSON_IsNull(item))
        return 0;
    if (!cJSON_IsString(item) || !item->valuestring || strlen(item->valuestring) > maxlen)
        return -1;
    *out = item->valuestring;
    return 1;
}

int tm_read_display_name(sp_request_t *req, const cJSON *body, const char *field, const char **out)
{
    if (tm_json_str(body, field, 200, out) >= 0)
        return SP_OK;
    sp_response_error(sp_request_response(req), 400, "invalid_display_name",
                      "%s must be a string of at most 200 bytes", field);
    return SP_EINVAL;
}

int tm_read_email(sp_request_t *req, const cJSON *body, const char **out)
{
    const char *email = NULL;
    if (tm_json_str(body, "email", 320, &email) == 1 &&
        (*out = tm_email_normalize(sp_request_arena(req), email)) != NULL)
        return SP_OK;
    sp_response_error(sp_request_response(req), 400, "invalid_email",
                      "email is not a valid address");
    return SP_EINVAL;
}
