/*
 * tm.c — tenant-manager's context and request helpers (tm.h).
 */
#include "tm.h"

#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/tenant_client.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tm_init(tm_t *tm, sp_service_t *svc, sp_config_t *cfg)
{
    tm->svc = svc;
    tm->pbkdf2_iterations = (uint32_t)sp_config_int(
        cfg, "SERPHONA_PBKDF2_ITERATIONS", TM_PBKDF2_MIN_ITERATIONS, TM_PBKDF2_MIN_ITERATIONS,
        100000000, "PBKDF2-HMAC-SHA256 rounds for new password hashes (at least 210000).");
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

int tm_is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

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
    if (!email)
        return NULL;
    while (*email == ' ' || *email == '\t')
        email++;
    size_t n = strlen(email);
    while (n && (email[n - 1] == ' ' || email[n - 1] == '\t'))
        n--;
    if (n < 3 || n > 254)
        return NULL;
    char *out = sp_arena_strndup(arena, email, n);
    if (!out)
        return NULL;
    int ats = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c <= ' ' || c == 0x7f || c == '"' || c == '<' || c == '>' || c == ',' || c == ';')
            return NULL;
        if (c == '@')
            ats++;
        out[i] = (char)tolower(c);
    }
    const char *at = strchr(out, '@');
    if (ats != 1 || at == out || at[1] == '\0' || at[1] == '.' || out[n - 1] == '.')
        return NULL;
    return out;
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

/* A base-10 integer query parameter in [min, max]; def when absent. */
static int query_int(sp_request_t *req, const char *name, int def, int min, int max, int *out)
{
    const char *v = sp_request_query(req, name);
    if (!v || !*v) {
        *out = def;
        return SP_OK;
    }
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (*end || n < min || n > max)
        return SP_EINVAL;
    *out = (int)n;
    return SP_OK;
}

int tm_page_params(sp_request_t *req, int *page, int *per_page)
{
    if (query_int(req, "page", 1, 1, 1000000, page) != 0 ||
        query_int(req, "per_page", 50, 1, 200, per_page) != 0) {
        sp_response_error(sp_request_response(req), 400, "invalid_pagination",
                          "page must be >= 1 and per_page between 1 and 200");
        return SP_EINVAL;
    }
    return SP_OK;
}
