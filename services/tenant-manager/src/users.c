/*
 * users.c — users and invites (users.h).
 */
#include "users.h"

#include "change.h"
#include "listing.h"
#include "passwords.h"
#include "tokens.h"

#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/permissions.h"
#include "platform/text.h"

#include <stdlib.h>
#include <string.h>

#define INVITE_KIND "inv"

static void reply_user_not_found(sp_request_t *req)
{
    sp_response_error(sp_request_response(req), 404, "user_not_found", "no such user");
}

/* Active users plus pending invites (other than for except_email) against
 * the tenant's seats, with the tenant row locked so concurrent invites
 * cannot both take the last seat. *free_seats is seats - used. Replies and
 * returns non-zero on a database error or a tenant that is not active. */
static int seats_left(sp_request_t *req, sp_db_tx_t *tx, const char *except_email,
                      int count_invites, long *free_seats)
{
    PGresult *res = NULL;
    const char *p[] = {except_email ? except_email : "", count_invites ? "1" : "0"};
    int rc = sp_db_tx_query_arena(
        tx, sp_request_arena(req),
        "SELECT t.status, (tenant.limits_json(t)->>'seats')::bigint - "
        "(SELECT count(*) FROM tenant.users WHERE status = 'active') - "
        "CASE WHEN $2 = '1' THEN (SELECT count(*) FROM tenant.invites WHERE accepted_at IS NULL "
        "AND revoked_at IS NULL AND expires_at > now() AND email <> $1) ELSE 0 END "
        "FROM tenant.tenants t WHERE t.id = tenant.current_tenant() FOR UPDATE OF t",
        2, p, &res);
    if (rc != 0) {
        tm_reply_db_error(req, rc);
        return rc;
    }
    if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "deleted") == 0) {
        sp_response_error(sp_request_response(req), 404, "tenant_not_found", "no such tenant");
        return SP_ENOTFOUND;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "active") != 0) {
        sp_response_error(sp_request_response(req), 403, "tenant_suspended",
                          "the tenant is suspended");
        return SP_EDENIED;
    }
    *free_seats = strtol(PQgetvalue(res, 0, 1), NULL, 10);
    return SP_OK;
}

static void reply_no_seat(sp_request_t *req)
{
    sp_response_error(sp_request_response(req), 409, "seat_limit_reached",
                      "every seat of the tenant's plan is taken (active users and pending "
                      "invites); remove a user or revoke an invite, or upgrade the plan");
}

int tm_invite_create(tm_t *tm, sp_request_t *req, sp_db_tx_t *tx, const char *tenant_id,
                     const char *email, const char *role, const char *display_name, char **json_out)
{
    sp_arena_t *arena = sp_request_arena(req);
    sp_response_t *resp = sp_request_response(req);
    PGresult *res = NULL;
    long free_seats = 0;
    (void)tenant_id;
    int rc = seats_left(req, tx, email, 1, &free_seats);
    if (rc != 0)
        return rc;
    const char *pe[] = {email};
    if ((rc = sp_db_tx_query_arena(tx, arena, "SELECT 1 FROM tenant.users WHERE email = $1", 1, pe,
                                   &res)) != 0)
        goto fail_db;
    if (PQntuples(res) > 0) {
        sp_response_error(resp, 409, "user_exists", "a user with this email exists");
        return SP_EEXISTS;
    }
    if (free_seats < 1) {
        reply_no_seat(req);
        return SP_EEXISTS;
    }
    /* A pending invite of the same email is replaced. */
    if ((rc = sp_db_tx_query_arena(tx, arena,
                                   "WITH r AS (UPDATE tenant.invites i SET revoked_at = now() "
                                   "WHERE email = $1 AND accepted_at IS NULL AND revoked_at IS "
                                   "NULL RETURNING i.*) "
                                   "SELECT id, tenant.invite_json(r.*)::text FROM r",
                                   1, pe, &res)) != 0)
        goto fail_db;
    for (int i = 0; i < PQntuples(res); i++)
        if ((rc = tm_audit(tx, req, "invite.revoked", "invite", PQgetvalue(res, i, 0), NULL,
                           PQgetvalue(res, i, 1))) != 0)
            goto fail_db;

    char *token = NULL, lookup[TM_LOOKUP_LEN + 1], hash_hex[2 * SP_SHA256_LEN + 1];
    uint8_t hash[SP_SHA256_LEN];
    char id[SP_UUID_STR_LEN];
    if ((rc = tm_token_new(arena, INVITE_KIND, &token, lookup, hash)) != 0 ||
        (rc = sp_uuid_v4(id)) != 0)
        goto fail_db;
    tm_token_hash_hex(hash, hash_hex);
    const char *actor_type, *actor_id;
    tm_actor(req, &actor_type, &actor_id);
    const char *invited_by = strcmp(actor_type, "operator") == 0
                                 ? sp_arena_printf(arena, "operator:%s", actor_id)
                                 : actor_id;
    char hours[16];
    snprintf(hours, sizeof(hours), "%d", tm->invite_ttl_hours);
    const char *p[] = {id,         email, display_name ? display_name : "", role, lookup, hash_hex,
                       invited_by, hours};
    if ((rc = sp_db_tx_query_arena(
             tx, arena,
             "INSERT INTO tenant.invites (id, tenant_id, email, display_name, role, lookup, "
             "token_hash, invited_by, expires_at) VALUES ($1, tenant.current_tenant(), $2, $3, "
             "$4, $5, decode($6, 'hex'), $7, now() + make_interval(hours => $8::int)) "
             "RETURNING tenant.invite_json(invites)::text",
             8, p, &res)) != 0)
        goto fail_db;
    const char *after = PQgetvalue(res, 0, 0);
    if ((rc = tm_audit(tx, req, "user.invited", "invite", id, NULL, after)) != 0)
        goto fail_db;
    /* The token joins the reply only, never the audit log. */
    const char *pj[] = {after, token};
    if ((rc = sp_db_tx_query_arena(tx, arena,
                                   "SELECT ($1::jsonb || jsonb_build_object('token', $2::text))"
                                   "::text",
                                   2, pj, &res)) != 0)
        goto fail_db;
    *json_out = PQgetvalue(res, 0, 0);
    return SP_OK;
fail_db:
    tm_reply_db_error(req, rc);
    return rc ? rc : SP_EINTERNAL;
}

/* ---- reads ---------------------------------------------------------------------- */

static const char *const user_statuses[] = {"active", "disabled", NULL};

static sp_handler_result_t list_users(sp_request_t *req, void *ud)
{
    static const tm_list_t list = {.table = "tenant.users", .json_fn = "tenant.user_json"};
    static const tm_list_filter_t filters[] = {
        {.param = "q",
         .cond = TM_LIST_CONTAINS("x.email") " OR " TM_LIST_CONTAINS("x.display_name")},
        {.param = "role",
         .cond = "x.role = $",
         .valid = sp_permissions_is_tenant_role,
         .code = "invalid_role",
         .message = "role must be owner, admin, analyst, agent_manager or viewer"},
        TM_LIST_STATUS("x.status = $", user_statuses, "status must be active or disabled"),
    };
    tm_list_reply_page(ud, req, &list, filters, sizeof(filters) / sizeof(*filters));
    return SP_HANDLER_DONE;
}

static sp_handler_result_t get_user(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    const char *id = sp_request_param(req, "id");
    if (!id)
        id = sp_request_auth(req)->subject; /* /v1/users/me */
    if (!sp_uuid_valid(id)) {
        reply_user_not_found(req);
        return SP_HANDLER_DONE;
    }
    sp_db_tx_t *tx = NULL;
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    const char *p[] = {id};
    tm_reply_row_json(req, tx, 200, "user_not_found",
                      "SELECT tenant.user_json(u) FROM tenant.users u WHERE u.id = $1", 1, p);
    sp_db_tx_rollback(&tx);
    return SP_HANDLER_DONE;
}

static const char *const invite_statuses[] = {"pending", "accepted", "revoked", "expired", NULL};

static sp_handler_result_t list_invites(sp_request_t *req, void *ud)
{
    static const tm_list_t list = {
        .table = "tenant.invites", .json_fn = "tenant.invite_json", .newest_first = 1};
    /* The status is derived (pending, accepted, revoked or expired). */
    static const tm_list_filter_t filters[] = {
        TM_LIST_STATUS("tenant.invite_json(x)->>'status' = $", invite_statuses,
                       "status must be pending, accepted, revoked or expired"),
    };
    tm_list_reply_page(ud, req, &list, filters, sizeof(filters) / sizeof(*filters));
    return SP_HANDLER_DONE;
}

/* ---- invites -------------------------------------------------------------------- */

/* POST /v1/users/invites {"email", "role", "display_name"?} */
static sp_handler_result_t create_invite(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    sp_response_t *resp = sp_request_response(req);
    cJSON *body = NULL;
    const char *email = NULL, *role = NULL, *name = "";
    if (sp_request_json_object(req, (const char *const[]){"email", "role", "display_name", NULL},
                               &body) != 0)
        return SP_HANDLER_DONE;
    if (tm_read_email(req, body, &email) != 0)
        return SP_HANDLER_DONE;
    if (tm_json_str(body, "role", 32, &role) != 1 || !sp_permissions_is_tenant_role(role)) {
        sp_response_error(resp, 400, "invalid_role",
                          "role must be owner, admin, analyst, agent_manager or viewer");
        return SP_HANDLER_DONE;
    }
    if (tm_read_display_name(req, body, "display_name", &name) != 0)
        return SP_HANDLER_DONE;
    if (strcmp(role, "owner") == 0 && !sp_request_has_role(req, "owner")) {
        sp_response_error(resp, 403, "owner_required", "only an owner may invite an owner");
        return SP_HANDLER_DONE;
    }
    sp_db_tx_t *tx = NULL;
    char *invite = NULL;
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    if (tm_invite_create(tm, req, tx, sp_request_auth(req)->tenant_id, email, role, name,
                         &invite) != 0) {
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

static sp_handler_result_t revoke_invite(sp_request_t *req, void *ud)
{
    static const tm_revoke_t invite = {.table = "tenant.invites",
                                       .json_fn = "tenant.invite_json",
                                       .resource_type = "invite",
                                       .action = "invite.revoked",
                                       .not_found_code = "invite_not_found",
                                       .not_found_message = "no such invite",
                                       .refuse_if = "x.accepted_at IS NOT NULL",
                                       .refuse_code = "invite_used",
                                       .refuse_message = "the invite was already accepted"};
    tm_change_revoke(ud, req, &invite, NULL);
    return SP_HANDLER_DONE;
}

/* POST /v1/users/invites/accept {"token", "password", "display_name"?}:
 * public, authenticated by the token alone. The invite is found through
 * its lookup id (the SELECT-only policy of invites), which names its
 * tenant; from then on the transaction is scoped to that tenant. */
static sp_handler_result_t accept_invite(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    sp_response_t *resp = sp_request_response(req);
    sp_arena_t *arena = sp_request_arena(req);
    cJSON *body = NULL;
    const char *token = NULL, *password = NULL, *name = NULL;
    char lookup[TM_LOOKUP_LEN + 1];
    uint8_t hash[SP_SHA256_LEN];
    if (sp_request_json_object(
            req, (const char *const[]){"token", "password", "display_name", NULL}, &body) != 0)
        return SP_HANDLER_DONE;
    if (tm_json_str(body, "password", 1024, &password) != 1) {
        sp_response_error(resp, 400, "password_too_short",
                          "password is required (at least 12 characters)");
        return SP_HANDLER_DONE;
    }
    if (tm_read_display_name(req, body, "display_name", &name) != 0)
        return SP_HANDLER_DONE;
    if (tm_json_str(body, "token", 200, &token) != 1 ||
        tm_token_parse(token, INVITE_KIND, lookup, hash) != 0) {
        sp_response_error(resp, 404, "invite_not_found", "no such invite");
        return SP_HANDLER_DONE;
    }
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    int rc = tm_tx_begin(tm, req, &tx);
    if (rc != 0)
        return SP_HANDLER_DONE;
    const char *pl[] = {lookup};
    rc = sp_db_tx_query(tx, "SELECT set_config('app.invite_lookup', $1, true)", 1, pl, NULL);
    if (rc == 0)
        rc = sp_db_tx_query_arena(tx, arena,
                                  "SELECT id, tenant_id, email, role, display_name, "
                                  "encode(token_hash, 'hex'), accepted_at IS NOT NULL, "
                                  "revoked_at IS NOT NULL, expires_at <= now() "
                                  "FROM tenant.invites WHERE lookup = $1",
                                  1, pl, &res);
    if (rc != 0)
        goto fail_db;
    if (PQntuples(res) != 1 || !tm_token_hash_eq(hash, PQgetvalue(res, 0, 5))) {
        sp_response_error(resp, 404, "invite_not_found", "no such invite");
        goto fail_tx;
    }
    const char *invite_id = PQgetvalue(res, 0, 0), *tenant_id = PQgetvalue(res, 0, 1);
    const char *email = PQgetvalue(res, 0, 2), *role = PQgetvalue(res, 0, 3);
    if (!name)
        name = PQgetvalue(res, 0, 4);
    if (strcmp(PQgetvalue(res, 0, 6), "t") == 0) {
        sp_response_error(resp, 410, "invite_used", "the invite was already accepted");
        goto fail_tx;
    }
    if (strcmp(PQgetvalue(res, 0, 7), "t") == 0) {
        sp_response_error(resp, 410, "invite_revoked", "the invite was revoked");
        goto fail_tx;
    }
    if (strcmp(PQgetvalue(res, 0, 8), "t") == 0) {
        sp_response_error(resp, 410, "invite_expired", "the invite has expired; ask for a new one");
        goto fail_tx;
    }
    const char *why = NULL, *code = tm_password_policy(password, email, &why);
    if (code) {
        sp_response_error(resp, 400, code, "%s", why);
        goto fail_tx;
    }
    /* The tenant's transaction from here; the lookup setting is cleared so
     * nothing below can see rows through it. */
    const char *pt[] = {tenant_id};
    if ((rc = sp_db_tx_query(tx,
                             "SELECT set_config('app.tenant_id', $1, true), "
                             "set_config('app.invite_lookup', '', true)",
                             1, pt, NULL)) != 0)
        goto fail_db;
    long free_seats = 0;
    if (seats_left(req, tx, NULL, 0, &free_seats) != 0)
        goto fail_tx;
    const char *pi[] = {invite_id};
    /* Locks the invite: of two concurrent accepts, the second finds it
     * accepted. */
    if ((rc = sp_db_tx_query_arena(tx, arena,
                                   "SELECT 1 FROM tenant.invites WHERE id = $1 AND accepted_at IS "
                                   "NULL AND revoked_at IS NULL FOR UPDATE",
                                   1, pi, &res)) != 0)
        goto fail_db;
    if (PQntuples(res) != 1) {
        sp_response_error(resp, 410, "invite_used", "the invite was already accepted");
        goto fail_tx;
    }
    if (free_seats < 1) {
        reply_no_seat(req);
        goto fail_tx;
    }
    char hashed[TM_PASSWORD_HASH_MAX], user_id[SP_UUID_STR_LEN];
    if ((rc = tm_password_hash(password, tm->pbkdf2_iterations, hashed)) != 0 ||
        (rc = sp_uuid_v4(user_id)) != 0)
        goto fail_db;
    const char *pu[] = {user_id, email, name, role, hashed};
    rc = sp_db_tx_query_arena(tx, arena,
                              "INSERT INTO tenant.users (id, tenant_id, email, display_name, "
                              "role, password_hash) VALUES ($1, tenant.current_tenant(), $2, $3, "
                              "$4, $5) RETURNING tenant.user_json(users)::text",
                              5, pu, &res);
    if (rc == SP_EDB && strcmp(sp_db_tx_sqlstate(tx), "23505") == 0) {
        sp_response_error(resp, 409, "user_exists", "a user with this email exists");
        goto fail_tx;
    }
    if (rc != 0)
        goto fail_db;
    const char *after = PQgetvalue(res, 0, 0);
    const char *pa[] = {invite_id, user_id};
    if ((rc = sp_db_tx_query(tx,
                             "UPDATE tenant.invites SET accepted_at = now(), user_id = $2 "
                             "WHERE id = $1",
                             2, pa, NULL)) != 0 ||
        (rc = tm_audit_as(tx, req, "invitee", user_id, "user.invite_accepted", "user", user_id,
                          NULL, after)) != 0 ||
        (rc = sp_db_tx_commit(&tx)) != 0)
        goto fail_db;
    char *out = sp_arena_printf(arena, "{\"tenant_id\":\"%s\",\"user\":%s}", tenant_id, after);
    if (!out)
        sp_response_error(resp, 500, "internal", "out of memory");
    else
        tm_reply_json(req, 201, out);
    return SP_HANDLER_DONE;
fail_db:
    tm_reply_db_error(req, rc);
fail_tx:
    sp_db_tx_rollback(&tx);
    return SP_HANDLER_DONE;
}

/* ---- changes to a user ----------------------------------------------------------- */

typedef struct {
    const char *id, *json, *role, *status;
} target_t;

/* Locks the user of the path and applies the owner rules shared by every
 * change: only owners touch owners. Replies and returns non-zero when the
 * change must not go on. */
static int lock_target(sp_request_t *req, sp_db_tx_t *tx, target_t *t)
{
    PGresult *res = NULL;
    t->id = sp_request_param(req, "id");
    if (!sp_uuid_valid(t->id)) {
        reply_user_not_found(req);
        return SP_ENOTFOUND;
    }
    const char *p[] = {t->id};
    int rc = sp_db_tx_query_arena(tx, sp_request_arena(req),
                                  "SELECT tenant.user_json(u)::text, u.role, u.status FROM "
                                  "tenant.users u WHERE u.id = $1 FOR UPDATE",
                                  1, p, &res);
    if (rc != 0) {
        tm_reply_db_error(req, rc);
        return rc;
    }
    if (PQntuples(res) == 0) {
        reply_user_not_found(req);
        return SP_ENOTFOUND;
    }
    t->json = PQgetvalue(res, 0, 0);
    t->role = PQgetvalue(res, 0, 1);
    t->status = PQgetvalue(res, 0, 2);
    if (strcmp(t->role, "owner") == 0 && !sp_request_has_role(req, "owner")) {
        sp_response_error(sp_request_response(req), 403, "owner_required",
                          "only an owner may change an owner");
        return SP_EDENIED;
    }
    return SP_OK;
}

/* Refuses (409 last_owner) when target is the last active owner. The owner
 * rows are locked so two owners demoting each other cannot both succeed. */
static int check_not_last_owner(sp_request_t *req, sp_db_tx_t *tx, const target_t *t)
{
    if (strcmp(t->role, "owner") != 0 || strcmp(t->status, "active") != 0)
        return SP_OK;
    PGresult *res = NULL;
    int rc = sp_db_tx_query_arena(tx, sp_request_arena(req),
                                  "SELECT count(*) FROM (SELECT 1 FROM tenant.users WHERE role = "
                                  "'owner' AND status = 'active' FOR UPDATE) o",
                                  0, NULL, &res);
    if (rc != 0) {
        tm_reply_db_error(req, rc);
        return rc;
    }
    if (tm_int(PQgetvalue(res, 0, 0)) <= 1) {
        sp_response_error(sp_request_response(req), 409, "last_owner",
                          "the tenant must keep at least one active owner");
        return SP_EEXISTS;
    }
    return SP_OK;
}

static int is_self(sp_request_t *req, const char *id)
{
    const sp_auth_t *auth = sp_request_auth(req);
    return auth && auth->subject && strcmp(auth->subject, id) == 0;
}

/* Commits the change of user t (tm_change_commit) and forgets the user's
 * cached principal. */
static void apply_change(tm_t *tm, sp_request_t *req, sp_db_tx_t **tx, const target_t *t,
                         const char *action, const char *sql, int n, const char *const *p)
{
    const tm_change_t c = {.action = action,
                           .resource_type = "user",
                           .resource_id = t->id,
                           .before = t->json,
                           .deletes = strcmp(action, "user.deleted") == 0,
                           .sql = sql,
                           .nparams = n,
                           .params = p};
    if (tm_change_commit(req, tx, &c, NULL) == 0)
        tm_cache_del_principal(tm, sp_request_auth(req)->tenant_id, t->id);
}

/* PATCH /v1/users/{id} {"role"?, "display_name"?} */
static sp_handler_result_t patch_user(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    sp_response_t *resp = sp_request_response(req);
    cJSON *body = NULL;
    const char *role = NULL, *name = NULL;
    if (sp_request_json_object(req, (const char *const[]){"role", "display_name", NULL}, &body) !=
        0)
        return SP_HANDLER_DONE;
    int r = tm_json_str(body, "role", 32, &role);
    if (r < 0 || (r > 0 && !sp_permissions_is_tenant_role(role))) {
        sp_response_error(resp, 400, "invalid_role",
                          "role must be owner, admin, analyst, agent_manager or viewer");
        return SP_HANDLER_DONE;
    }
    if (tm_read_display_name(req, body, "display_name", &name) != 0)
        return SP_HANDLER_DONE;
    if (role && strcmp(role, "owner") == 0 && !sp_request_has_role(req, "owner")) {
        sp_response_error(resp, 403, "owner_required", "only an owner may make an owner");
        return SP_HANDLER_DONE;
    }
    sp_db_tx_t *tx = NULL;
    target_t t;
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    if (lock_target(req, tx, &t) != 0 ||
        (role && strcmp(role, "owner") != 0 && check_not_last_owner(req, tx, &t) != 0)) {
        sp_db_tx_rollback(&tx);
        return SP_HANDLER_DONE;
    }
    const char *p[] = {t.id, role, name};
    const char *action = role && strcmp(role, t.role) != 0 ? "user.role_changed" : "user.updated";
    apply_change(tm, req, &tx, &t, action,
                 "UPDATE tenant.users SET role = coalesce($2, role), display_name = "
                 "coalesce($3, display_name), updated_at = now() WHERE id = $1 "
                 "RETURNING tenant.user_json(users)::text",
                 3, p);
    return SP_HANDLER_DONE;
}

static sp_handler_result_t set_status(sp_request_t *req, tm_t *tm, int enable)
{
    sp_db_tx_t *tx = NULL;
    target_t t;
    const char *target = enable ? "active" : "disabled";
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    if (lock_target(req, tx, &t) != 0)
        goto done;
    if (strcmp(t.status, target) == 0) { /* idempotent */
        tm_reply_json(req, 200, t.json);
        goto done;
    }
    if (!enable && is_self(req, t.id)) {
        sp_response_error(sp_request_response(req), 409, "cannot_modify_self",
                          "you cannot disable yourself");
        goto done;
    }
    if (!enable && check_not_last_owner(req, tx, &t) != 0)
        goto done;
    if (enable) {
        long free_seats = 0;
        if (seats_left(req, tx, NULL, 1, &free_seats) != 0)
            goto done;
        if (free_seats < 1) {
            reply_no_seat(req);
            goto done;
        }
    }
    const char *p[] = {t.id, target};
    apply_change(tm, req, &tx, &t, enable ? "user.enabled" : "user.disabled",
                 "UPDATE tenant.users SET status = $2, updated_at = now(), disabled_at = CASE "
                 "WHEN $2 = 'disabled' THEN now() END WHERE id = $1 "
                 "RETURNING tenant.user_json(users)::text",
                 2, p);
    return SP_HANDLER_DONE;
done:
    sp_db_tx_rollback(&tx);
    return SP_HANDLER_DONE;
}

static sp_handler_result_t disable_user(sp_request_t *req, void *ud)
{
    return set_status(req, ud, 0);
}

static sp_handler_result_t enable_user(sp_request_t *req, void *ud)
{
    return set_status(req, ud, 1);
}

static sp_handler_result_t delete_user(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    sp_db_tx_t *tx = NULL;
    target_t t;
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    if (lock_target(req, tx, &t) != 0)
        goto fail_tx;
    if (is_self(req, t.id)) {
        sp_response_error(sp_request_response(req), 409, "cannot_modify_self",
                          "you cannot delete yourself");
        goto fail_tx;
    }
    if (check_not_last_owner(req, tx, &t) != 0)
        goto fail_tx;
    const char *p[] = {t.id};
    apply_change(tm, req, &tx, &t, "user.deleted",
                 "DELETE FROM tenant.users WHERE id = $1 RETURNING id::text", 1, p);
    return SP_HANDLER_DONE;
fail_tx:
    sp_db_tx_rollback(&tx);
    return SP_HANDLER_DONE;
}

static const sp_route_def_t routes[] = {
    {"GET", "/v1/users", "users:read", list_users},
    {"GET", "/v1/users/me", "users:read", get_user},
    {"GET", "/v1/users/{id}", "users:read", get_user},
    {"PATCH", "/v1/users/{id}", "users:write", patch_user},
    {"POST", "/v1/users/{id}/disable", "users:write", disable_user},
    {"POST", "/v1/users/{id}/enable", "users:write", enable_user},
    {"DELETE", "/v1/users/{id}", "users:write", delete_user},
    {"GET", "/v1/users/invites", "users:read", list_invites},
    {"POST", "/v1/users/invites", "users:write", create_invite},
    {"DELETE", "/v1/users/invites/{id}", "users:write", revoke_invite},
    {"POST", "/v1/users/invites/accept", NULL, accept_invite},
};

int tm_users_register(sp_router_t *router, tm_t *tm)
{
    return sp_router_add_all(router, routes, sizeof(routes) / sizeof(*routes), tm);
}
