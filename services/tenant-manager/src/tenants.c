/*
 * tenants.c — the tenants' HTTP routes (tenants.h).
 */
#include "tenants.h"

#include "change.h"
#include "listing.h"
#include "tenant_settings.h"
#include "users.h"

#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/text.h"

#include <string.h>

/* The tenant of a path: operators name it, tenant users use their own. */
static const char *path_tenant(sp_request_t *req)
{
    const char *id = sp_request_param(req, "id");
    if (id)
        return sp_uuid_valid(id) ? id : NULL;
    const sp_auth_t *auth = sp_request_auth(req);
    return auth ? auth->tenant_id : NULL;
}

static void reply_tenant_not_found(sp_request_t *req)
{
    sp_response_error(sp_request_response(req), 404, "tenant_not_found", "no such tenant");
}

/* ---- reads ---------------------------------------------------------------------- */

static const char *const tenant_statuses[] = {"active", "suspended", "deleted", NULL};

static sp_handler_result_t list_tenants(sp_request_t *req, void *ud)
{
    static const tm_list_t list = {.table = "tenant.tenants", .json_fn = "tenant.tenant_json"};
    /* The search is a substring of slug or name. */
    static const tm_list_filter_t filters[] = {
        {.param = "q", .cond = TM_LIST_CONTAINS("x.slug") " OR " TM_LIST_CONTAINS("x.name")},
        TM_LIST_STATUS("x.status = $", tenant_statuses,
                       "status must be active, suspended or deleted"),
        {.param = "plan", .cond = "x.plan_code = $"},
    };
    tm_list_reply_page(ud, req, &list, filters, sizeof(filters) / sizeof(*filters));
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

/* Commits the change of tenant id (tm_change_commit, audited in the
 * tenant's own log) and drops the caches of the tenant. Returns 0 or
 * non-zero after replying. */
static int commit_tenant_change(tm_t *tm, sp_request_t *req, sp_db_tx_t **tx, const char *id,
                                const char *action, const char *before, const char *sql,
                                int nparams, const char *const *params)
{
    const tm_change_t c = {.action = action,
                           .resource_type = "tenant",
                           .resource_id = id,
                           .before = before,
                           .tenant_id = id,
                           .sql = sql,
                           .nparams = nparams,
                           .params = params};
    int rc = tm_change_commit(req, tx, &c, NULL);
    if (rc == 0)
        tm_cache_del_tenant(tm, id);
    return rc;
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
    if (sp_request_json_object(req, (const char *const[]){"name", "settings", NULL}, &body) != 0)
        return SP_HANDLER_DONE;
    sp_db_tx_t *tx = NULL;
    tm_tenant_settings_t s;
    const char *before = NULL;
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    if (tm_tenant_settings_read(req, tx, body, &s) != 0 ||
        lock_tenant(req, tx, id, 0, &before, NULL) != 0) {
        sp_db_tx_rollback(&tx);
        return SP_HANDLER_DONE;
    }
    const char *p[] = {id, s.name, s.locale, s.timezone, s.retention_days, s.origins_json};
    commit_tenant_change(tm, req, &tx, id, "tenant.updated", before,
                         "UPDATE tenant.tenants SET " TM_TENANT_SETTINGS_SET
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
    if (commit_tenant_change(tm, req, &tx, id, action, before,
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

/* Replies 400 unknown_plan (or 5xx) and returns non-zero unless plan is a
 * plan's code. */
static int check_plan(sp_request_t *req, sp_db_tx_t *tx, const char *plan)
{
    PGresult *res = NULL;
    const char *p[] = {plan};
    int rc = sp_db_tx_query_arena(tx, sp_request_arena(req),
                                  "SELECT 1 FROM tenant.plans WHERE code = $1", 1, p, &res);
    if (rc != 0) {
        tm_reply_db_error(req, rc);
        return rc;
    }
    if (PQntuples(res) == 0) {
        sp_response_error(sp_request_response(req), 400, "unknown_plan", "no plan '%.32s'", plan);
        return SP_EINVAL;
    }
    return SP_OK;
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
    if (sp_request_json_object(req, (const char *const[]){"plan", "limit_overrides", NULL},
                               &body) != 0)
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
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    if (check_plan(req, tx, plan) != 0)
        goto fail_tx;
    if (lock_tenant(req, tx, id, 0, &before, NULL) != 0)
        goto fail_tx;
    const char *p[] = {id, plan, vals[0], vals[1], vals[2], vals[3], vals[4]};
    commit_tenant_change(
        tm, req, &tx, id, "tenant.plan_changed", before,
        "UPDATE tenant.tenants SET plan_code = $2, seats = $3::int, "
        "agents = $4::int, monthly_interactions = $5::bigint, "
        "tenant_requests_per_minute = $6::int, user_requests_per_minute = $7::int, "
        "updated_at = now() WHERE id = $1 "
        "RETURNING (tenant.tenant_json(tenants) || jsonb_build_object('limits', "
        "tenant.limits_json(tenants)))::text",
        7, p);
    return SP_HANDLER_DONE;
fail_tx:
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
    if (sp_request_json_object(req,
                               (const char *const[]){"slug", "name", "plan", "settings",
                                                     "owner_email", "owner_display_name", NULL},
                               &body) != 0)
        return SP_HANDLER_DONE;
    if (tm_json_str(body, "slug", 64, &slug) != 1 || !tm_is_slug(slug)) {
        sp_response_error(resp, 400, "invalid_slug",
                          "slug must be 3 to 40 lower-case letters, digits or inner hyphens");
        return SP_HANDLER_DONE;
    }
    if (tm_json_str(body, "plan", 32, &plan) < 0) {
        sp_response_error(resp, 400, "invalid_plan", "plan must name a plan");
        return SP_HANDLER_DONE;
    }
    if (tm_read_display_name(req, body, "owner_display_name", &owner_name) != 0)
        return SP_HANDLER_DONE;
    int r = tm_json_str(body, "owner_email", 320, &owner_email);
    if (r < 0 || (r > 0 && !(owner_email = tm_email_normalize(arena, owner_email)))) {
        sp_response_error(resp, 400, "invalid_email", "owner_email is not a valid address");
        return SP_HANDLER_DONE;
    }
    sp_db_tx_t *tx = NULL;
    tm_tenant_settings_t s;
    PGresult *res = NULL;
    char id[SP_UUID_STR_LEN];
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    if (tm_tenant_settings_read(req, tx, body, &s) != 0)
        goto fail_tx;
    if (!s.name) {
        sp_response_error(resp, 400, "invalid_name", "name is required");
        goto fail_tx;
    }
    int rc = check_plan(req, tx, plan);
    if (rc != 0)
        goto fail_tx;
    if ((rc = sp_uuid_v4(id)) != 0) {
        tm_reply_db_error(req, rc);
        goto fail_tx;
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
        goto fail_tx;
    }
    if (rc == 0)
        rc = sp_db_tx_query_arena(tx, arena,
                                  "UPDATE tenant.tenants SET " TM_TENANT_SETTINGS_SET
                                  "WHERE id = $1 RETURNING tenant.tenant_json(tenants)::text",
                                  6, p, &res);
    if (rc == 0)
        rc = tm_tx_set_tenant(tx, id);
    const char *after = rc == 0 ? PQgetvalue(res, 0, 0) : NULL;
    if (rc == 0)
        rc = tm_audit(tx, req, "tenant.created", "tenant", id, NULL, after);
    if (rc != 0) {
        tm_reply_db_error(req, rc);
        goto fail_tx;
    }
    char *invite = NULL;
    if (owner_email &&
        tm_invite_create(tm, req, tx, id, owner_email, "owner", owner_name, &invite) != 0)
        goto fail_tx;
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
fail_tx:
    sp_db_tx_rollback(&tx);
    return SP_HANDLER_DONE;
}

/* POST /v1/tenants/{id}/owner-invites {"email", "display_name"?}: an owner
 * invite issued by an operator (a new tenant's first owner, or recovery
 * when a tenant lost every owner). */
static sp_handler_result_t create_owner_invite(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    const char *id = path_tenant(req);
    cJSON *body = NULL;
    const char *email = NULL, *name = "";
    if (!id) {
        reply_tenant_not_found(req);
        return SP_HANDLER_DONE;
    }
    if (sp_request_json_object(req, (const char *const[]){"email", "display_name", NULL}, &body) !=
        0)
        return SP_HANDLER_DONE;
    if (tm_read_email(req, body, &email) != 0)
        return SP_HANDLER_DONE;
    if (tm_read_display_name(req, body, "display_name", &name) != 0)
        return SP_HANDLER_DONE;
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

/* ---- registration ---------------------------------------------------------------- */

static const sp_route_def_t routes[] = {
    {"GET", "/v1/tenants", "platform:admin", list_tenants},
    {"POST", "/v1/tenants", "platform:admin", create_tenant},
    {"GET", "/v1/tenants/plans", "platform:admin", list_plans},
    {"GET", "/v1/tenants/{id}", "platform:admin", get_tenant},
    {"PATCH", "/v1/tenants/{id}", "platform:admin", patch_tenant},
    {"DELETE", "/v1/tenants/{id}", "platform:admin", delete_tenant},
    {"POST", "/v1/tenants/{id}/suspend", "platform:admin", suspend_tenant},
    {"POST", "/v1/tenants/{id}/reactivate", "platform:admin", reactivate_tenant},
    {"PUT", "/v1/tenants/{id}/plan", "platform:admin", put_plan},
    {"POST", "/v1/tenants/{id}/owner-invites", "platform:admin", create_owner_invite},
    {"GET", "/v1/tenants/current", "tenant:read", get_tenant},
    {"PATCH", "/v1/tenants/current", "tenant:write", patch_tenant},
    {"GET", "/v1/tenants/current/limits", "plan:read", get_limits},
};

int tm_tenants_register(sp_router_t *router, tm_t *tm)
{
    int rc = sp_router_add_all(router, routes, sizeof(routes) / sizeof(*routes), tm);
    if (rc == 0 && tm->svc)
        rc = tm_tenant_rpc_register(tm);
    return rc;
}
