/*
 * auth.c — Authenticate and GetPrincipal (auth.h).
 */
#include "auth.h"

#include "passwords.h"

#include "platform/error.h"
#include "platform/log.h"
#include "platform/text.h"

#include <string.h>

#include "tenant.pb-c.h"

typedef Serphona__Tenant__V1__AuthenticateReply auth_reply_t;

/* The one account a login names, as read from the database. */
typedef struct {
    const char *id, *email, *password_hash, *status, *role;
    const char *tenant_id, *tenant_status; /* NULL for an operator */
} account_t;

/* Looks the account up; 0 with *found set, or a database error. Strings live
 * in arena. Ends its transaction before returning, so the slow password
 * check below never holds a pooled connection. */
static int find_account(tm_t *tm, sp_arena_t *arena, const char *slug, const char *email,
                        account_t *acc, int *found)
{
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    *found = 0;
    int rc = sp_db_tx_begin(tm_db(tm), NULL, &tx);
    if (rc != 0)
        return rc;
    if (!slug || !*slug) {
        const char *p[] = {email};
        rc = sp_db_tx_query_arena(tx, arena,
                                  "SELECT id, email, password_hash, status FROM tenant.operators "
                                  "WHERE email = $1",
                                  1, p, &res);
        if (rc == 0 && PQntuples(res) == 1) {
            *acc = (account_t){PQgetvalue(res, 0, 0),
                               PQgetvalue(res, 0, 1),
                               PQgetvalue(res, 0, 2),
                               PQgetvalue(res, 0, 3),
                               "platform_operator",
                               NULL,
                               NULL};
            *found = 1;
        }
        goto done;
    }
    if (!tm_is_slug(slug))
        goto done;
    const char *ps[] = {slug};
    rc = sp_db_tx_query_arena(tx, arena,
                              "SELECT id, status FROM tenant.tenants "
                              "WHERE slug = $1 AND status <> 'deleted'",
                              1, ps, &res);
    if (rc != 0 || PQntuples(res) != 1)
        goto done;
    const char *tenant_id = PQgetvalue(res, 0, 0), *tenant_status = PQgetvalue(res, 0, 1);
    /* From here on the transaction sees this tenant's rows only. */
    if ((rc = tm_tx_set_tenant(tx, tenant_id)) != 0)
        goto done;
    const char *pu[] = {email};
    rc = sp_db_tx_query_arena(tx, arena,
                              "SELECT id, email, password_hash, status, role FROM tenant.users "
                              "WHERE email = $1",
                              1, pu, &res);
    if (rc == 0 && PQntuples(res) == 1) {
        *acc = (account_t){PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
                           PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4), tenant_id,
                           tenant_status};
        *found = 1;
    }
done:
    if (rc != 0) {
        sp_db_tx_rollback(&tx);
        return rc;
    }
    return sp_db_tx_commit(&tx);
}

/* After a successful login: the last-login time, and a stronger hash when
 * the stored one has fewer rounds than configured now. Best effort: a
 * failure here must not turn a correct login into an error. */
static void record_login(tm_t *tm, const account_t *acc, const char *password)
{
    char hash[TM_PASSWORD_HASH_MAX];
    const char *new_hash = NULL;
    if (tm_password_needs_rehash(acc->password_hash, tm->pbkdf2_iterations) &&
        tm_password_hash(password, tm->pbkdf2_iterations, hash) == 0)
        new_hash = hash;
    sp_db_tx_t *tx = NULL;
    int rc = sp_db_tx_begin(tm_db(tm), acc->tenant_id, &tx);
    if (rc == 0) {
        const char *p[] = {acc->id, new_hash};
        rc = sp_db_tx_query(tx,
                            acc->tenant_id
                                ? "UPDATE tenant.users SET last_login_at = now(), "
                                  "password_hash = coalesce($2, password_hash) WHERE id = $1"
                                : "UPDATE tenant.operators SET last_login_at = now(), "
                                  "password_hash = coalesce($2, password_hash) WHERE id = $1",
                            2, p, NULL);
        rc = rc == 0 ? sp_db_tx_commit(&tx) : (sp_db_tx_rollback(&tx), rc);
    }
    if (rc != 0)
        sp_log_warn("could not record a login: %s", sp_strerror(rc));
}

static int authenticate(tm_t *tm, sp_arena_t *arena,
                        const Serphona__Tenant__V1__AuthenticateRequest *rq, auth_reply_t *reply)
{
    reply->result = SERPHONA__TENANT__V1__AUTHENTICATE_REPLY__RESULT__INVALID_CREDENTIALS;
    const char *email = tm_email_normalize(arena, rq->email);
    const char *password = rq->password ? rq->password : "";
    account_t acc = {0};
    int found = 0;
    if (email && *password) {
        int rc = find_account(tm, arena, rq->tenant_slug, email, &acc, &found);
        if (rc != 0)
            return rc;
    }
    if (!tm_password_gate_enter())
        return SP_EUNAVAILABLE;
    if (!found) {
        tm_password_burn(password, tm->pbkdf2_iterations);
        tm_password_gate_leave();
        return SP_OK;
    }
    int match = tm_password_verify(password, acc.password_hash);
    tm_password_gate_leave();
    if (!match)
        return SP_OK;
    if (acc.tenant_status && strcmp(acc.tenant_status, "active") != 0)
        reply->result = SERPHONA__TENANT__V1__AUTHENTICATE_REPLY__RESULT__TENANT_SUSPENDED;
    else if (strcmp(acc.status, "active") != 0)
        reply->result = SERPHONA__TENANT__V1__AUTHENTICATE_REPLY__RESULT__USER_DISABLED;
    else
        reply->result = SERPHONA__TENANT__V1__AUTHENTICATE_REPLY__RESULT__OK;
    char **roles = sp_arena_alloc(arena, sizeof(*roles));
    if (!roles)
        return SP_ENOMEM;
    roles[0] = (char *)acc.role;
    reply->tenant_id = (char *)(acc.tenant_id ? acc.tenant_id : "");
    reply->user_id = (char *)acc.id;
    reply->email = (char *)acc.email;
    reply->roles = roles;
    reply->n_roles = 1;
    if (reply->result == SERPHONA__TENANT__V1__AUTHENTICATE_REPLY__RESULT__OK)
        record_login(tm, &acc, password);
    return SP_OK;
}

int tm_rpc_authenticate(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                        uint8_t **out, size_t *out_len, void *ud)
{
    Serphona__Tenant__V1__AuthenticateRequest *rq = (void *)sp_rpc_unpack(
        arena, &serphona__tenant__v1__authenticate_request__descriptor, in, in_len);
    if (!rq)
        return SP_EPROTO;
    auth_reply_t reply = SERPHONA__TENANT__V1__AUTHENTICATE_REPLY__INIT;
    int rc = authenticate(ud, arena, rq, &reply);
    if (rc == SP_EUNAVAILABLE)
        call->error_message = "too many logins are being checked; retry shortly";
    if (rc != 0)
        return rc;
    return sp_rpc_pack(arena, &reply.base, out, out_len);
}

/* ---- GetPrincipal ------------------------------------------------------------ */

static int get_principal(tm_t *tm, sp_arena_t *arena,
                         const Serphona__Tenant__V1__GetPrincipalRequest *rq,
                         Serphona__Tenant__V1__Principal *p)
{
    p->status = SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_NOT_FOUND;
    const char *tenant_id = rq->tenant_id && *rq->tenant_id ? rq->tenant_id : NULL;
    if (!sp_uuid_valid(rq->user_id) || (tenant_id && !sp_uuid_valid(tenant_id)))
        return SP_OK;
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    int rc = sp_db_tx_begin(tm_db(tm), tenant_id, &tx);
    if (rc != 0)
        return rc;
    const char *params[] = {rq->user_id};
    rc = sp_db_tx_query_arena(
        tx, arena,
        tenant_id ? "SELECT t.id, t.slug, t.status, u.id, u.email, u.display_name, u.role, "
                    "u.status FROM tenant.users u JOIN tenant.tenants t ON t.id = u.tenant_id "
                    "WHERE u.id = $1"
                  : "SELECT '', '', 'active', o.id, o.email, o.display_name, "
                    "'platform_operator', o.status FROM tenant.operators o WHERE o.id = $1",
        1, params, &res);
    if (rc != 0) {
        sp_db_tx_rollback(&tx);
        return rc;
    }
    if ((rc = sp_db_tx_commit(&tx)) != 0)
        return rc;
    if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 2), "deleted") == 0)
        return SP_OK;
    char **roles = sp_arena_alloc(arena, sizeof(*roles));
    if (!roles)
        return SP_ENOMEM;
    roles[0] = PQgetvalue(res, 0, 6);
    p->tenant_id = PQgetvalue(res, 0, 0);
    p->tenant_slug = PQgetvalue(res, 0, 1);
    p->user_id = PQgetvalue(res, 0, 3);
    p->email = PQgetvalue(res, 0, 4);
    p->display_name = PQgetvalue(res, 0, 5);
    p->roles = roles;
    p->n_roles = 1;
    if (strcmp(PQgetvalue(res, 0, 2), "active") != 0)
        p->status = SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_TENANT_SUSPENDED;
    else if (strcmp(PQgetvalue(res, 0, 7), "active") != 0)
        p->status = SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_USER_DISABLED;
    else
        p->status = SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_ACTIVE;
    return SP_OK;
}

int tm_rpc_get_principal(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                         uint8_t **out, size_t *out_len, void *ud)
{
    (void)call;
    Serphona__Tenant__V1__GetPrincipalRequest *rq = (void *)sp_rpc_unpack(
        arena, &serphona__tenant__v1__get_principal_request__descriptor, in, in_len);
    if (!rq)
        return SP_EPROTO;
    Serphona__Tenant__V1__Principal reply = SERPHONA__TENANT__V1__PRINCIPAL__INIT;
    int rc = get_principal(ud, arena, rq, &reply);
    if (rc != 0)
        return rc;
    return sp_rpc_pack(arena, &reply.base, out, out_len);
}

int tm_auth_register(tm_t *tm)
{
    int rc = sp_service_add_method(tm->svc, "tenant-manager.Authenticate", tm_rpc_authenticate, tm);
    if (rc == 0)
        rc =
            sp_service_add_method(tm->svc, "tenant-manager.GetPrincipal", tm_rpc_get_principal, tm);
    return rc;
}
