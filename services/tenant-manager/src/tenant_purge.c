/*
 * tenant_purge.c — what a tenant's suspension or deletion sets off
 * (tenant_purge.h).
 */
#include "tenant_purge.h"

#include "platform/error.h"

#include <stdio.h>

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
