/*
 * tenants.c — tenants, settings, plans and limits (tenants.h).
 */
#include "tenants.h"

#include "users.h"

#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tenant.pb-c.h"

#define MAX_ORIGINS 32

/* The tenant of a path: operators name it, tenant users use their own. */
static const char *path_tenant(sp_request_t *req)
{
    const char *id = sp_request_param(req, "id");
    if (id)
        return tm_is_uuid(id) ? id : NULL;
    const sp_auth_t *auth = sp_request_auth(req);
    return auth ? auth->tenant_id : NULL;
}

static void reply_tenant_not_found(sp_request_t *req)
{
    sp_response_error(sp_request_response(req), 404, "tenant_not_found", "no such tenant");
}

/* ---- validation of settings ------------------------------------------------------ */

/* "https://host[:port]" or "http://host[:port]", lower-case host, no path. */
static int is_origin(const char *s)
{
    const char *host;
    if (strncmp(s, "https://", 8) == 0)
        host = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        host = s + 7;
    else
        return 0;
    size_t n = strlen(host);
    if (n == 0 || n > 253 + 6)
        return 0;
    const char *colon = NULL;
    for (const char *p = host; *p; p++) {
        if (*p == ':') {
            if (colon || p == host)
                return 0;
            colon = p;
        } else if (colon) {
            if (!isdigit((unsigned char)*p))
                return 0;
        } else if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' ||
                     *p == '.')) {
            return 0;
        }
    }
    if (colon) {
        long port = strtol(colon + 1, NULL, 10);
        if (colon[1] == '\0' || port < 1 || port > 65535)
            return 0;
    }
    return 1;
}

/* BCP 47 shape: a 2-3 letter language, then subtags of 2-8 letters/digits. */
static int is_locale(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
    if (n < 2 || n > 3)
        return 0;
    s += n;
    while (*s == '-') {
        s++;
        n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
        if (n < 2 || n > 8)
            return 0;
        s += n;
    }
    return *s == '\0' && n <= 8;
}

/* Parsed settings of a create or update body; NULL = leave unchanged. */
typedef struct {
    const char *name, *locale, *timezone, *retention_days, *origins_json;
} settings_t;

/* Reads "name" and "settings" from body into s. On a bad value replies 400
 * and returns SP_EINVAL. The timezone is checked against the database's
 * zone names inside tx. */
static int read_settings(sp_request_t *req, sp_db_tx_t *tx, const cJSON *body, settings_t *s)
{
    sp_response_t *resp = sp_request_response(req);
    sp_arena_t *arena = sp_request_arena(req);
    memset(s, 0, sizeof(*s));
    int r = tm_json_str(body, "name", 200, &s->name);
    if (r < 0 || (r > 0 && !*s->name)) {
        sp_response_error(resp, 400, "invalid_name", "name must be a string of 1 to 200 bytes");
        return SP_EINVAL;
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(body, "settings");
    if (!st || cJSON_IsNull(st))
        return SP_OK;
    if (!cJSON_IsObject(st)) {
        sp_response_error(resp, 400, "invalid_settings", "settings must be an object");
        return SP_EINVAL;
    }
    static const char *const known[] = {"locale", "timezone", "retention_days", "allowed_origins",
                                        NULL};
    for (const cJSON *it = st->child; it; it = it->next) {
        int ok = 0;
        for (int i = 0; known[i]; i++)
            ok |= strcmp(it->string, known[i]) == 0;
        if (!ok) {
            sp_response_error(resp, 400, "unknown_setting", "unknown setting '%.64s'", it->string);
            return SP_EINVAL;
        }
    }
    r = tm_json_str(st, "locale", 35, &s->locale);
    if (r < 0 || (r > 0 && !is_locale(s->locale))) {
        sp_response_error(resp, 400, "invalid_locale", "locale must be a BCP 47 tag like en-US");
        return SP_EINVAL;
    }
    r = tm_json_str(st, "timezone", 64, &s->timezone);
    if (r < 0) {
        sp_response_error(resp, 400, "invalid_timezone", "timezone must be an IANA zone name");
        return SP_EINVAL;
    }
    if (r > 0) {
        PGresult *res = NULL;
        const char *p[] = {s->timezone};
        int rc = sp_db_tx_query_arena(tx, arena, "SELECT 1 FROM pg_timezone_names WHERE name = $1",
                                      1, p, &res);
        if (rc != 0) {
            tm_reply_db_error(req, rc);
            return rc;
        }
        if (PQntuples(res) == 0) {
            sp_response_error(resp, 400, "invalid_timezone",
                              "timezone must be an IANA zone name like Europe/Paris");
            return SP_EINVAL;
        }
    }
    const cJSON *rd = cJSON_GetObjectItemCaseSensitive(st, "retention_days");
    if (rd && !cJSON_IsNull(rd)) {
        if (!cJSON_IsNumber(rd) || rd->valuedouble != (double)(int)rd->valuedouble ||
            rd->valueint < 1 || rd->valueint > 3650) {
            sp_response_error(resp, 400, "invalid_retention_days",
                              "retention_days must be an integer from 1 to 3650");
            return SP_EINVAL;
        }
        s->retention_days = sp_arena_printf(arena, "%d", rd->valueint);
    }
    const cJSON *ao = cJSON_GetObjectItemCaseSensitive(st, "allowed_origins");
    if (ao && !cJSON_IsNull(ao)) {
        int n = cJSON_IsArray(ao) ? cJSON_GetArraySize(ao) : -1;
        if (n < 0 || n > MAX_ORIGINS) {
            sp_response_error(resp, 400, "invalid_origin",
                              "allowed_origins must be an array of at most %d origins",
                              MAX_ORIGINS);
            return SP_EINVAL;
        }
        for (const cJSON *o = ao->child; o; o = o->next) {
            if (!cJSON_IsString(o) || !is_origin(o->valuestring)) {
                sp_response_error(resp, 400, "invalid_origin",
                                  "each allowed origin must look like https://console.example.com"
                                  " (scheme, lower-case host, optional port, no path)");
                return SP_EINVAL;
            }
        }
        char *text = cJSON_PrintUnformatted(ao);
        s->origins_json = text ? sp_arena_strdup(arena, text) : NULL;
        cJSON_free(text);
        if (!s->origins_json)
            return SP_ENOMEM;
    }
    return SP_OK;
}

/* The SET list shared by create-with-settings and update: $2..$6 are name,
 * locale, timezone, retention_days, allowed_origins (JSON array). */
#define SETTINGS_SET                                                                               \
    "name = coalesce($2, name), locale = coalesce($3, locale), "                                   \
    "timezone = coalesce($4, timezone), retention_days = coalesce($5::int, retention_days), "      \
    "allowed_origins = coalesce((SELECT array_agg(x) FROM jsonb_array_elements_text($6::jsonb) "   \
    "x), CASE WHEN $6 IS NULL THEN allowed_origins ELSE '{}' END), updated_at = now() "

/* ---- reads ---------------------------------------------------------------------- */

static sp_handler_result_t list_tenants(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    int page, per_page;
    if (tm_page_params(req, &page, &per_page) != 0)
        return SP_HANDLER_DONE;
    sp_arena_t *arena = sp_request_arena(req);
    const char *status = sp_request_query(req, "status");
    if (status && *status &&
        !tm_is_one_of(status, (const char *const[]){"active", "suspended", "deleted", NULL})) {
        sp_response_error(sp_request_response(req), 400, "invalid_status",
                          "status must be active, suspended or deleted");
        return SP_HANDLER_DONE;
    }
    const char *q = sp_request_query(req, "q");
    const char *plan = sp_request_query(req, "plan");
    const char *p[] = {q && *q ? q : NULL, status && *status ? status : NULL,
                       plan && *plan ? plan : NULL, sp_arena_printf(arena, "%d", per_page),
                       sp_arena_printf(arena, "%d", (page - 1) * per_page)};
    sp_db_tx_t *tx = NULL;
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    /* The search is a substring of slug or name, wildcards escaped. */
    tm_reply_row_json(
        req, tx, 200, "tenant_not_found",
        "WITH f AS (SELECT t FROM tenant.tenants t WHERE "
        "($1::text IS NULL OR t.slug ILIKE '%' || replace(replace(replace($1, '\\', '\\\\'), "
        "'%', '\\%'), '_', '\\_') || '%' OR t.name ILIKE '%' || replace(replace(replace($1, "
        "'\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%') "
        "AND ($2::text IS NULL OR t.status = $2) AND ($3::text IS NULL OR t.plan_code = $3)) "
        "SELECT jsonb_build_object('items', coalesce((SELECT jsonb_agg(tenant.tenant_json(p.t) "
        "ORDER BY (p.t).created_at, (p.t).id) FROM (SELECT t FROM f ORDER BY (t).created_at, "
        "(t).id LIMIT $4::int OFFSET $5::int) p), '[]'::jsonb), 'total', (SELECT count(*) FROM "
        "f), 'page', $5::int / $4::int + 1, 'per_page', $4::int)",
        5, p);
    sp_db_tx_rollback(&tx);
    return SP_HANDLER_DONE;
}

static sp_handler_result_t list_plans(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    sp_db_tx_t *tx = NULL;
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    tm_reply_row_json(
        req, tx, 200, "plan_not_found",
        "SELECT jsonb_build_object('items', coalesce(jsonb_agg(jsonb_build_object('code', code, "
        "'name', name, 'seats', seats, 'agents', agents, 'monthly_interactions', "
        "monthly_interactions, 'tenant_requests_per_minute', tenant_requests_per_minute, "
        "'user_requests_per_minute', user_requests_per_minute) ORDER BY seats), '[]'::jsonb)) "
        "FROM tenant.plans",
        0, NULL);
    sp_db_tx_rollback(&tx);
    return SP_HANDLER_DONE;
}

/* GET /v1/tenants/{id} and /v1/tenants/current: the tenant with its limits. */
static sp_handler_result_t get_tenant(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    const char *id = path_tenant(req);
    if (!id) {
        reply_tenant_not_found(req);
        return SP_HANDLER_DONE;
    }
    sp_db_tx_t *tx = NULL;
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    const char *p[] = {id};
    /* A tenant's own users never see it once deleted; operators do (they
     * may restore it until the purge). */
    tm_reply_row_json(req, tx, 200, "tenant_not_found",
                      tm_is_operator(req)
                          ? "SELECT tenant.tenant_json(t) || jsonb_build_object('limits', "
                            "tenant.limits_json(t)) FROM tenant.tenants t WHERE t.id = $1"
                          : "SELECT tenant.tenant_json(t) || jsonb_build_object('limits', "
                            "tenant.limits_json(t)) FROM tenant.tenants t WHERE t.id = $1 "
                            "AND t.status <> 'deleted'",
                      1, p);
    sp_db_tx_rollback(&tx);
    return SP_HANDLER_DONE;
}

static sp_handler_result_t get_limits(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    const char *id = path_tenant(req);
    sp_db_tx_t *tx = NULL;
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    const char *p[] = {id};
    tm_reply_row_json(req, tx, 200, "tenant_not_found",
                      "SELECT tenant.limits_json(t) FROM tenant.tenants t WHERE t.id = $1 "
                      "AND t.status <> 'deleted'",
                      1, p);
    sp_db_tx_rollback(&tx);
    return SP_HANDLER_DONE;
}

/* ---- changes -------------------------------------------------------------------- */

/* Locks the tenant row and returns its JSON (arena) in *before; replies 404
 * (deleted tenants too unless allow_deleted) or 5xx and returns non-zero. */
static int lock_tenant(sp_request_t *req, sp_db_tx_t *tx, const char *id, int allow_deleted,
                       const char **before, const char **status)
{
    PGresult *res = NULL;
    const char *p[] = {id};
    int rc = sp_db_tx_query_arena(tx, sp_request_arena(req),
                                  "SELECT tenant.tenant_json(t)::text, t.status FROM "
                                  "tenant.tenants t WHERE t.id = $1 FOR UPDATE",
                                  1, p, &res);
    if (rc != 0) {
        tm_reply_db_error(req, rc);
        return rc;
    }
    if (PQntuples(res) == 0 || (!allow_deleted && strcmp(PQgetvalue(res, 0, 1), "deleted") == 0)) {
        reply_tenant_not_found(req);
        return SP_ENOTFOUND;
    }
    *before = PQgetvalue(res, 0, 0);
    if (status)
        *status = PQgetvalue(res, 0, 1);
    return SP_OK;
}

/* Runs an UPDATE ... RETURNING tenant_json(...)::text, records the audit
 * entry (in the tenant's own log) and commits. Replies 200 with the new
 * JSON. Returns 0 or non-zero after replying. */
static int update_and_audit(tm_t *tm, sp_request_t *req, sp_db_tx_t **tx, const char *id,
                            const char *action, const char *before, const char *sql, int nparams,
                            const char *const *params)
{
    PGresult *res = NULL;
    int rc = tm_tx_set_tenant(*tx, id);
    if (rc == 0)
        rc = sp_db_tx_query_arena(*tx, sp_request_arena(req), sql, nparams, params, &res);
    if (rc == 0 && PQntuples(res) != 1)
        rc = SP_EINTERNAL;
    const char *after = rc == 0 ? PQgetvalue(res, 0, 0) : NULL;
    if (rc == 0)
        rc = tm_audit(*tx, req, action, "tenant", id, before, after);
    if (rc == 0)
        rc = sp_db_tx_commit(tx);
    if (rc != 0) {
        sp_db_tx_rollback(tx);
        tm_reply_db_error(req, rc);
        return rc;
    }
    tm_cache_del_tenant(tm, id);
    tm_reply_json(req, 200, after);
    return SP_OK;
}

static sp_handler_result_t patch_tenant(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    const char *id = path_tenant(req);
    cJSON *body = NULL;
    if (!id) {
        reply_tenant_not_found(req);
        return SP_HANDLER_DONE;
    }
    if (sp_request_json(req, &body) != 0)
        return SP_HANDLER_DONE;
    if (!cJSON_IsObject(body)) {
        sp_response_error(sp_request_response(req), 400, "invalid_body",
                          "the body must be a JSON object");
        return SP_HANDLER_DONE;
    }
    sp_db_tx_t *tx = NULL;
    settings_t s;
    const char *before = NULL;
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    if (read_settings(req, tx, body, &s) != 0 || lock_tenant(req, tx, id, 0, &before, NULL) != 0) {
        sp_db_tx_rollback(&tx);
        return SP_HANDLER_DONE;
    }
    const char *p[] = {id, s.name, s.locale, s.timezone, s.retention_days, s.origins_json};
    update_and_audit(tm, req, &tx, id, "tenant.updated", before,
                     "UPDATE tenant.tenants SET " SETTINGS_SET
                     "WHERE id = $1 RETURNING tenant.tenant_json(tenants)::text",
                     6, p);
    return SP_HANDLER_DONE;
}

/* suspend / reactivate / delete: a status change, a no-op when the tenant
 * is already there (idempotent, and no audit entry for a non-change). */
static sp_handler_result_t change_status(sp_request_t *req, const char *target, tm_t *tm)
{
    const char *id = path_tenant(req);
    if (!id) {
        reply_tenant_not_found(req);
        return SP_HANDLER_DONE;
    }
    sp_db_tx_t *tx = NULL;
    const char *before = NULL, *status = NULL;
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    /* Only reactivation may find a deleted tenant (restoring it before the
     * purge); suspending or deleting it again answers 404. */
    int allow_deleted = strcmp(target, "active") == 0 || strcmp(target, "deleted") == 0;
    if (lock_tenant(req, tx, id, allow_deleted, &before, &status) != 0) {
        sp_db_tx_rollback(&tx);
        return SP_HANDLER_DONE;
    }
    if (strcmp(status, target) == 0) {
        sp_db_tx_rollback(&tx);
        tm_reply_json(req, 200, before);
        return SP_HANDLER_DONE;
    }
    const char *action = strcmp(target, "active") == 0      ? "tenant.reactivated"
                         : strcmp(target, "suspended") == 0 ? "tenant.suspended"
                                                            : "tenant.deleted";
    const char *p[] = {id, target};
    if (update_and_audit(tm, req, &tx, id, action, before,
                         "UPDATE tenant.tenants SET status = $2, updated_at = now(), "
                         "suspended_at = CASE WHEN $2 = 'suspended' THEN now() END, "
                         "deleted_at = CASE WHEN $2 = 'deleted' THEN now() END "
                         "WHERE id = $1 RETURNING tenant.tenant_json(tenants)::text",
                         2, p) == 0)
        tm_tenants_forget_principals(tm, id);
    return SP_HANDLER_DONE;
}

static sp_handler_result_t suspend_tenant(sp_request_t *req, void *ud)
{
    return change_status(req, "suspended", ud);
}

static sp_handler_result_t reactivate_tenant(sp_request_t *req, void *ud)
{
    return change_status(req, "active", ud);
}

static sp_handler_result_t delete_tenant(sp_request_t *req, void *ud)
{
    return change_status(req, "deleted", ud);
}

/* PUT /v1/tenants/{id}/plan {"plan": code, "limit_overrides": {...}}: the
 * overrides replace the previous ones (absent = none). */
static sp_handler_result_t put_plan(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    sp_response_t *resp = sp_request_response(req);
    sp_arena_t *arena = sp_request_arena(req);
    const char *id = path_tenant(req);
    cJSON *body = NULL;
    const char *plan = NULL;
    if (!id) {
        reply_tenant_not_found(req);
        return SP_HANDLER_DONE;
    }
    if (sp_request_json(req, &body) != 0)
        return SP_HANDLER_DONE;
    if (tm_json_str(body, "plan", 32, &plan) != 1) {
        sp_response_error(resp, 400, "invalid_plan", "plan must name a plan");
        return SP_HANDLER_DONE;
    }
    static const char *const names[] = {"seats", "agents", "monthly_interactions",
                                        "tenant_requests_per_minute", "user_requests_per_minute"};
    const char *vals[5] = {NULL};
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(body, "limit_overrides");
    if (ov && !cJSON_IsNull(ov)) {
        if (!cJSON_IsObject(ov)) {
            sp_response_error(resp, 400, "invalid_limit", "limit_overrides must be an object");
            return SP_HANDLER_DONE;
        }
        for (const cJSON *it = ov->child; it; it = it->next) {
            int k = -1;
            for (int i = 0; i < 5; i++)
                if (strcmp(it->string, names[i]) == 0)
                    k = i;
            double max = k == 2 ? 1e15 : 2147483647.0;
            if (k < 0 || (!cJSON_IsNull(it) &&
                          (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > max ||
                           it->valuedouble != (double)(long long)it->valuedouble ||
                           (k != 1 && k != 2 && it->valuedouble < 1)))) {
                sp_response_error(resp, 400, "invalid_limit",
                                  "limit_overrides.%.64s must be a known limit with a "
                                  "non-negative integer (positive for seats and rates)",
                                  it->string);
                return SP_HANDLER_DONE;
            }
            if (!cJSON_IsNull(it))
                vals[k] = sp_arena_printf(arena, "%lld", (long long)it->valuedouble);
        }
    }
    sp_db_tx_t *tx = NULL;
    const char *before = NULL;
    PGresult *res = NULL;
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    const char *pp[] = {plan};
    int rc =
        sp_db_tx_query_arena(tx, arena, "SELECT 1 FROM tenant.plans WHERE code = $1", 1, pp, &res);
    if (rc != 0) {
        tm_reply_db_error(req, rc);
        goto fail;
    }
    if (PQntuples(res) == 0) {
        sp_response_error(resp, 400, "unknown_plan", "no plan '%.32s'", plan);
        goto fail;
    }
    if (lock_tenant(req, tx, id, 0, &before, NULL) != 0)
        goto fail;
    const char *p[] = {id, plan, vals[0], vals[1], vals[2], vals[3], vals[4]};
    update_and_audit(tm, req, &tx, id, "tenant.plan_changed", before,
                     "UPDATE tenant.tenants SET plan_code = $2, seats = $3::int, "
                     "agents = $4::int, monthly_interactions = $5::bigint, "
                     "tenant_requests_per_minute = $6::int, user_requests_per_minute = $7::int, "
                     "updated_at = now() WHERE id = $1 "
                     "RETURNING (tenant.tenant_json(tenants) || jsonb_build_object('limits', "
                     "tenant.limits_json(tenants)))::text",
                     7, p);
    return SP_HANDLER_DONE;
fail:
    sp_db_tx_rollback(&tx);
    return SP_HANDLER_DONE;
}

/* POST /v1/tenants {"slug", "name", "plan"?, "settings"?, "owner_email"?,
 * "owner_display_name"?}: the tenant, and an owner invite when owner_email
 * is given (the operator hands its token to the customer). */
static sp_handler_result_t create_tenant(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    sp_response_t *resp = sp_request_response(req);
    sp_arena_t *arena = sp_request_arena(req);
    cJSON *body = NULL;
    const char *slug = NULL, *plan = "trial", *owner_email = NULL, *owner_name = "";
    if (sp_request_json(req, &body) != 0)
        return SP_HANDLER_DONE;
    if (!cJSON_IsObject(body)) {
        sp_response_error(resp, 400, "invalid_body", "the body must be a JSON object");
        return SP_HANDLER_DONE;
    }
    if (tm_json_str(body, "slug", 64, &slug) != 1 || !tm_is_slug(slug)) {
        sp_response_error(resp, 400, "invalid_slug",
                          "slug must be 3 to 40 lower-case letters, digits or inner hyphens");
        return SP_HANDLER_DONE;
    }
    if (tm_json_str(body, "plan", 32, &plan) < 0) {
        sp_response_error(resp, 400, "invalid_plan", "plan must name a plan");
        return SP_HANDLER_DONE;
    }
    if (tm_json_str(body, "owner_display_name", 200, &owner_name) < 0) {
        sp_response_error(resp, 400, "invalid_display_name",
                          "owner_display_name must be a string of at most 200 bytes");
        return SP_HANDLER_DONE;
    }
    int r = tm_json_str(body, "owner_email", 320, &owner_email);
    if (r < 0 || (r > 0 && !(owner_email = tm_email_normalize(arena, owner_email)))) {
        sp_response_error(resp, 400, "invalid_email", "owner_email is not a valid address");
        return SP_HANDLER_DONE;
    }
    sp_db_tx_t *tx = NULL;
    settings_t s;
    PGresult *res = NULL;
    char id[SP_UUID_STR_LEN];
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    if (read_settings(req, tx, body, &s) != 0)
        goto fail;
    if (!s.name) {
        sp_response_error(resp, 400, "invalid_name", "name is required");
        goto fail;
    }
    const char *pp[] = {plan};
    int rc =
        sp_db_tx_query_arena(tx, arena, "SELECT 1 FROM tenant.plans WHERE code = $1", 1, pp, &res);
    if (rc != 0) {
        tm_reply_db_error(req, rc);
        goto fail;
    }
    if (PQntuples(res) == 0) {
        sp_response_error(resp, 400, "unknown_plan", "no plan '%.32s'", plan);
        goto fail;
    }
    if ((rc = sp_uuid_v4(id)) != 0) {
        tm_reply_db_error(req, rc);
        goto fail;
    }
    const char *p[] = {id,   s.name, s.locale, s.timezone, s.retention_days, s.origins_json,
                       slug, plan};
    /* Insert, then apply the optional settings with the same SET list as
     * an update (a CTE cannot update the row it inserts). */
    rc = sp_db_tx_query_arena(tx, arena,
                              "INSERT INTO tenant.tenants (id, slug, name, plan_code) VALUES "
                              "($1, $2, $3, $4)",
                              4, (const char *const[]){id, slug, s.name, plan}, NULL);
    if (rc == SP_EDB && strcmp(sp_db_tx_sqlstate(tx), "23505") == 0) {
        sp_response_error(resp, 409, "slug_taken", "the slug '%s' is taken", slug);
        goto fail;
    }
    if (rc == 0)
        rc = sp_db_tx_query_arena(tx, arena,
                                  "UPDATE tenant.tenants SET " SETTINGS_SET
                                  "WHERE id = $1 RETURNING tenant.tenant_json(tenants)::text",
                                  6, p, &res);
    if (rc == 0)
        rc = tm_tx_set_tenant(tx, id);
    const char *after = rc == 0 ? PQgetvalue(res, 0, 0) : NULL;
    if (rc == 0)
        rc = tm_audit(tx, req, "tenant.created", "tenant", id, NULL, after);
    if (rc != 0) {
        tm_reply_db_error(req, rc);
        goto fail;
    }
    char *invite = NULL;
    if (owner_email &&
        tm_invite_create(tm, req, tx, id, owner_email, "owner", owner_name, &invite) != 0)
        goto fail;
    if ((rc = sp_db_tx_commit(&tx)) != 0) {
        tm_reply_db_error(req, rc);
        return SP_HANDLER_DONE;
    }
    tm_cache_del_tenant(tm, id); /* a new tenant's origins join sp:origins */
    char *out = sp_arena_printf(arena, "{\"tenant\":%s,\"owner_invite\":%s}", after,
                                invite ? invite : "null");
    if (!out)
        sp_response_error(resp, 500, "internal", "out of memory");
    else
        tm_reply_json(req, 201, out);
    return SP_HANDLER_DONE;
fail:
    sp_db_tx_rollback(&tx);
    return SP_HANDLER_DONE;
}

/* POST /v1/tenants/{id}/owner-invites {"email", "display_name"?}: an owner
 * invite issued by an operator (a new tenant's first owner, or recovery
 * when a tenant lost every owner). */
static sp_handler_result_t create_owner_invite(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    sp_response_t *resp = sp_request_response(req);
    const char *id = path_tenant(req);
    cJSON *body = NULL;
    const char *email = NULL, *name = "";
    if (!id) {
        reply_tenant_not_found(req);
        return SP_HANDLER_DONE;
    }
    if (sp_request_json(req, &body) != 0)
        return SP_HANDLER_DONE;
    if (tm_json_str(body, "email", 320, &email) != 1 ||
        !(email = tm_email_normalize(sp_request_arena(req), email))) {
        sp_response_error(resp, 400, "invalid_email", "email is not a valid address");
        return SP_HANDLER_DONE;
    }
    if (tm_json_str(body, "display_name", 200, &name) < 0) {
        sp_response_error(resp, 400, "invalid_display_name",
                          "display_name must be a string of at most 200 bytes");
        return SP_HANDLER_DONE;
    }
    sp_db_tx_t *tx = NULL;
    const char *before = NULL;
    char *invite = NULL;
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    if (lock_tenant(req, tx, id, 0, &before, NULL) != 0 || tm_tx_set_tenant(tx, id) != 0 ||
        tm_invite_create(tm, req, tx, id, email, "owner", name, &invite) != 0) {
        sp_db_tx_rollback(&tx);
        return SP_HANDLER_DONE;
    }
    int rc = sp_db_tx_commit(&tx);
    if (rc != 0)
        tm_reply_db_error(req, rc);
    else
        tm_reply_json(req, 201, invite);
    return SP_HANDLER_DONE;
}

/* ---- typed RPCs ------------------------------------------------------------------ */

/* Runs one read-only query outside any tenant (the tenants registry). */
static int registry_query(tm_t *tm, sp_arena_t *arena, const char *sql, int n, const char *const *p,
                          PGresult **res)
{
    sp_db_tx_t *tx = NULL;
    int rc = sp_db_tx_begin(tm_db(tm), NULL, &tx);
    if (rc != 0)
        return rc;
    rc = sp_db_tx_query_arena(tx, arena, sql, n, p, res);
    if (rc != 0) {
        sp_db_tx_rollback(&tx);
        return rc;
    }
    return sp_db_tx_commit(&tx);
}

/* Splits text on '\n' into an arena array; *n its length. */
static char **split_lines(sp_arena_t *arena, char *text, size_t *n)
{
    *n = 0;
    if (!text || !*text)
        return NULL;
    size_t count = 1;
    for (const char *c = text; *c; c++)
        count += *c == '\n';
    char **v = sp_arena_alloc(arena, count * sizeof(*v));
    if (!v)
        return NULL;
    for (char *save = NULL, *tok = strtok_r(text, "\n", &save); tok;
         tok = strtok_r(NULL, "\n", &save))
        v[(*n)++] = tok;
    return v;
}

int tm_rpc_get_tenant_state(sp_rpc_call_t *call, const uint8_t *in, size_t in_len,
                            sp_arena_t *arena, uint8_t **out, size_t *out_len, void *ud)
{
    (void)call;
    Serphona__Tenant__V1__GetTenantStateRequest *rq = (void *)sp_rpc_unpack(
        arena, &serphona__tenant__v1__get_tenant_state_request__descriptor, in, in_len);
    if (!rq)
        return SP_EPROTO;
    Serphona__Tenant__V1__TenantState st = SERPHONA__TENANT__V1__TENANT_STATE__INIT;
    st.status = SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_NOT_FOUND;
    st.tenant_id = rq->tenant_id;
    if (tm_is_uuid(rq->tenant_id)) {
        PGresult *res = NULL;
        const char *p[] = {rq->tenant_id};
        int rc = registry_query(ud, arena,
                                "SELECT slug, status, array_to_string(allowed_origins, E'\\n'), "
                                "timezone, locale, retention_days FROM tenant.tenants "
                                "WHERE id = $1 AND status <> 'deleted'",
                                1, p, &res);
        if (rc != 0)
            return rc;
        if (PQntuples(res) == 1) {
            st.status = strcmp(PQgetvalue(res, 0, 1), "active") == 0
                            ? SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_ACTIVE
                            : SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_TENANT_SUSPENDED;
            st.slug = PQgetvalue(res, 0, 0);
            st.allowed_origins = split_lines(arena, PQgetvalue(res, 0, 2), &st.n_allowed_origins);
            st.timezone = PQgetvalue(res, 0, 3);
            st.locale = PQgetvalue(res, 0, 4);
            st.retention_days = tm_int(PQgetvalue(res, 0, 5));
        }
    }
    return sp_rpc_pack(arena, &st.base, out, out_len);
}

int tm_rpc_get_limits(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                      uint8_t **out, size_t *out_len, void *ud)
{
    Serphona__Tenant__V1__GetLimitsRequest *rq = (void *)sp_rpc_unpack(
        arena, &serphona__tenant__v1__get_limits_request__descriptor, in, in_len);
    if (!rq)
        return SP_EPROTO;
    if (!tm_is_uuid(rq->tenant_id)) {
        call->error_message = "no such tenant";
        return SP_ENOTFOUND;
    }
    PGresult *res = NULL;
    const char *p[] = {rq->tenant_id};
    int rc =
        registry_query(ud, arena,
                       "SELECT p.code, coalesce(t.seats, p.seats), coalesce(t.agents, p.agents), "
                       "coalesce(t.monthly_interactions, p.monthly_interactions), "
                       "coalesce(t.tenant_requests_per_minute, p.tenant_requests_per_minute), "
                       "coalesce(t.user_requests_per_minute, p.user_requests_per_minute) "
                       "FROM tenant.tenants t JOIN tenant.plans p ON p.code = t.plan_code "
                       "WHERE t.id = $1 AND t.status <> 'deleted'",
                       1, p, &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) != 1) {
        call->error_message = "no such tenant";
        return SP_ENOTFOUND;
    }
    Serphona__Tenant__V1__Limits lim = SERPHONA__TENANT__V1__LIMITS__INIT;
    lim.plan = PQgetvalue(res, 0, 0);
    lim.seats = tm_int(PQgetvalue(res, 0, 1));
    lim.agents = tm_int(PQgetvalue(res, 0, 2));
    lim.monthly_interactions = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    lim.tenant_requests_per_minute = tm_int(PQgetvalue(res, 0, 4));
    lim.user_requests_per_minute = tm_int(PQgetvalue(res, 0, 5));
    return sp_rpc_pack(arena, &lim.base, out, out_len);
}

int tm_rpc_list_allowed_origins(sp_rpc_call_t *call, const uint8_t *in, size_t in_len,
                                sp_arena_t *arena, uint8_t **out, size_t *out_len, void *ud)
{
    (void)call;
    (void)in;
    (void)in_len;
    PGresult *res = NULL;
    int rc = registry_query(ud, arena,
                            "SELECT DISTINCT o FROM tenant.tenants, unnest(allowed_origins) o "
                            "WHERE status = 'active' ORDER BY o",
                            0, NULL, &res);
    if (rc != 0)
        return rc;
    Serphona__Tenant__V1__AllowedOrigins ao = SERPHONA__TENANT__V1__ALLOWED_ORIGINS__INIT;
    int n = PQntuples(res);
    if (n > 0) {
        ao.origins = sp_arena_alloc(arena, (size_t)n * sizeof(*ao.origins));
        if (!ao.origins)
            return SP_ENOMEM;
        for (int i = 0; i < n; i++)
            ao.origins[i] = PQgetvalue(res, i, 0);
        ao.n_origins = (size_t)n;
    }
    return sp_rpc_pack(arena, &ao.base, out, out_len);
}

/* ---- maintenance ----------------------------------------------------------------- */

void tm_tenants_forget_principals(tm_t *tm, const char *tenant_id)
{
    sp_db_tx_t *tx = NULL;
    sp_arena_t *arena = sp_arena_new();
    PGresult *res = NULL;
    if (!arena)
        return;
    if (sp_db_tx_begin(tm_db(tm), tenant_id, &tx) == 0 &&
        sp_db_tx_query_arena(tx, arena,
                             "SELECT 'u', id::text FROM tenant.users UNION ALL "
                             "SELECT 'k', encode(secret_hash, 'hex') FROM tenant.api_keys",
                             0, NULL, &res) == 0) {
        for (int i = 0; i < PQntuples(res); i++) {
            if (*PQgetvalue(res, i, 0) == 'u')
                tm_cache_del_principal(tm, tenant_id, PQgetvalue(res, i, 1));
            else
                tm_cache_del_api_key(tm, PQgetvalue(res, i, 1));
        }
    }
    sp_db_tx_rollback(&tx);
    sp_arena_destroy(&arena);
}

int tm_tenants_purge(sp_db_pool_t *db, int after_days, int *purged)
{
    *purged = 0;
    sp_arena_t *arena = sp_arena_new();
    if (!arena)
        return SP_ENOMEM;
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    char days[16];
    snprintf(days, sizeof(days), "%d", after_days);
    const char *p[] = {days};
    int rc = sp_db_tx_begin(db, NULL, &tx);
    if (rc == 0)
        rc = sp_db_tx_query_arena(tx, arena,
                                  "SELECT id FROM tenant.tenants WHERE status = 'deleted' AND "
                                  "deleted_at <= now() - make_interval(days => $1::int)",
                                  1, p, &res);
    rc = rc == 0 ? sp_db_tx_commit(&tx) : (sp_db_tx_rollback(&tx), rc);
    for (int i = 0; rc == 0 && res && i < PQntuples(res); i++) {
        const char *id = PQgetvalue(res, i, 0);
        const char *pi[] = {id, days};
        PGresult *gone = NULL;
        /* Scoped to the tenant: each tenant table is emptied through its
         * row-level security policy, then the registry row goes. The
         * status is checked again under the row lock, so a tenant restored
         * meanwhile survives. */
        if ((rc = sp_db_tx_begin(db, id, &tx)) != 0)
            break;
        rc = sp_db_tx_query_arena(tx, arena,
                                  "SELECT 1 FROM tenant.tenants WHERE id = $1 AND status = "
                                  "'deleted' AND deleted_at <= now() - make_interval(days => "
                                  "$2::int) FOR UPDATE",
                                  2, pi, &gone);
        if (rc == 0 && PQntuples(gone) == 1) {
            static const char *const stmts[] = {
                "DELETE FROM tenant.audit_log",
                "DELETE FROM tenant.api_keys",
                "DELETE FROM tenant.taxonomies",
                "DELETE FROM tenant.invites",
                "DELETE FROM tenant.users",
                "DELETE FROM tenant.tenants WHERE id = tenant.current_tenant()"};
            for (size_t k = 0; rc == 0 && k < sizeof(stmts) / sizeof(*stmts); k++)
                rc = sp_db_tx_query(tx, stmts[k], 0, NULL, NULL);
            if (rc == 0)
                (*purged)++;
        }
        rc = rc == 0 ? sp_db_tx_commit(&tx) : (sp_db_tx_rollback(&tx), rc);
    }
    sp_arena_destroy(&arena);
    return rc;
}

/* ---- registration ---------------------------------------------------------------- */

int tm_tenants_routes(tm_t *tm, sp_router_t *r)
{
    int rc = 0;
    rc |= sp_router_add(r, "GET", "/v1/tenants", "platform:admin", list_tenants, tm);
    rc |= sp_router_add(r, "POST", "/v1/tenants", "platform:admin", create_tenant, tm);
    rc |= sp_router_add(r, "GET", "/v1/tenants/plans", "platform:admin", list_plans, tm);
    rc |= sp_router_add(r, "GET", "/v1/tenants/{id}", "platform:admin", get_tenant, tm);
    rc |= sp_router_add(r, "PATCH", "/v1/tenants/{id}", "platform:admin", patch_tenant, tm);
    rc |= sp_router_add(r, "DELETE", "/v1/tenants/{id}", "platform:admin", delete_tenant, tm);
    rc |=
        sp_router_add(r, "POST", "/v1/tenants/{id}/suspend", "platform:admin", suspend_tenant, tm);
    rc |= sp_router_add(r, "POST", "/v1/tenants/{id}/reactivate", "platform:admin",
                        reactivate_tenant, tm);
    rc |= sp_router_add(r, "PUT", "/v1/tenants/{id}/plan", "platform:admin", put_plan, tm);
    rc |= sp_router_add(r, "POST", "/v1/tenants/{id}/owner-invites", "platform:admin",
                        create_owner_invite, tm);
    rc |= sp_router_add(r, "GET", "/v1/tenants/current", "tenant:read", get_tenant, tm);
    rc |= sp_router_add(r, "PATCH", "/v1/tenants/current", "tenant:write", patch_tenant, tm);
    rc |= sp_router_add(r, "GET", "/v1/tenants/current/limits", "plan:read", get_limits, tm);
    return rc ? SP_EINVAL : SP_OK;
}

int tm_tenants_register(tm_t *tm, sp_router_t *router)
{
    int rc = tm_tenants_routes(tm, router);
    if (rc == 0)
        rc = sp_service_add_method(tm->svc, "tenant-manager.GetTenantState",
                                   tm_rpc_get_tenant_state, tm);
    if (rc == 0)
        rc = sp_service_add_method(tm->svc, "tenant-manager.GetLimits", tm_rpc_get_limits, tm);
    if (rc == 0)
        rc = sp_service_add_method(tm->svc, "tenant-manager.ListAllowedOrigins",
                                   tm_rpc_list_allowed_origins, tm);
    return rc;
}
