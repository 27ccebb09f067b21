/*
 * change.c — audited, committed changes (change.h).
 */
#include "change.h"

#include "platform/error.h"
#include "platform/text.h"

#include <string.h>

int tm_change_commit(sp_request_t *req, sp_db_tx_t **tx, const tm_change_t *c, const char **after)
{
    PGresult *res = NULL;
    const char *json = NULL;
    int rc = c->tenant_id ? tm_tx_set_tenant(*tx, c->tenant_id) : SP_OK;
    if (rc == 0)
        rc = sp_db_tx_query_arena(*tx, sp_request_arena(req), c->sql, c->nparams, c->params, &res);
    if (rc == 0 && !c->deletes) {
        if (PQntuples(res) == 1)
            json = PQgetvalue(res, 0, 0);
        else
            rc = SP_EINTERNAL; /* the row was locked: it cannot be gone */
    }
    if (rc == 0)
        rc = tm_audit(*tx, req, c->action, c->resource_type, c->resource_id, c->before, json);
    if (rc == 0)
        rc = sp_db_tx_commit(tx);
    if (rc != 0) {
        sp_db_tx_rollback(tx);
        tm_reply_db_error(req, rc);
        return rc;
    }
    if (json)
        tm_reply_json(req, 200, json);
    else
        sp_response_set_status(sp_request_response(req), 204);
    if (after)
        *after = json;
    return SP_OK;
}

int tm_change_revoke(tm_t *tm, sp_request_t *req, const tm_revoke_t *r, const char **extra)
{
    sp_arena_t *arena = sp_request_arena(req);
    sp_response_t *resp = sp_request_response(req);
    const char *id = sp_request_param(req, "id");
    if (!sp_uuid_valid(id)) {
        sp_response_error(resp, 404, r->not_found_code, "%s", r->not_found_message);
        return SP_ENOTFOUND;
    }
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    int rc = tm_tx_begin(tm, req, &tx);
    if (rc != 0)
        return rc;
    const char *p[] = {id};
    const char *lock = sp_arena_printf(arena,
                                       "SELECT %s(x)::text, x.revoked_at IS NOT NULL, %s, %s "
                                       "FROM %s x WHERE x.id = $1 FOR UPDATE",
                                       r->json_fn, r->refuse_if ? r->refuse_if : "false",
                                       r->extra ? r->extra : "NULL", r->table);
    const char *update = sp_arena_printf(arena,
                                         "UPDATE %s x SET revoked_at = now() WHERE x.id = $1 "
                                         "RETURNING %s(x)::text",
                                         r->table, r->json_fn);
    if (!lock || !update) {
        sp_response_error(resp, 500, "internal", "out of memory");
        rc = SP_ENOMEM;
        goto done;
    }
    if ((rc = sp_db_tx_query_arena(tx, arena, lock, 1, p, &res)) != 0) {
        tm_reply_db_error(req, rc);
        goto done;
    }
    if (PQntuples(res) == 0) {
        sp_response_error(resp, 404, r->not_found_code, "%s", r->not_found_message);
        rc = SP_ENOTFOUND;
        goto done;
    }
    if (strcmp(PQgetvalue(res, 0, 2), "t") == 0) {
        sp_response_error(resp, 409, r->refuse_code, "%s", r->refuse_message);
        rc = SP_EEXISTS;
        goto done;
    }
    if (strcmp(PQgetvalue(res, 0, 1), "t") == 0) { /* idempotent */
        tm_reply_json(req, 200, PQgetvalue(res, 0, 0));
        rc = SP_EEXISTS;
        goto done;
    }
    const tm_change_t c = {.action = r->action,
                           .resource_type = r->resource_type,
                           .resource_id = id,
                           .before = PQgetvalue(res, 0, 0),
                           .sql = update,
                           .nparams = 1,
                           .params = p};
    if ((rc = tm_change_commit(req, &tx, &c, NULL)) == 0 && extra)
        *extra = PQgetvalue(res, 0, 3);
    return rc;
done: /* a reply is written; nothing changed */
    sp_db_tx_rollback(&tx);
    return rc;
}
