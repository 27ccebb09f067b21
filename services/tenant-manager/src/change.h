/*
 * change.h — the one way a handler commits a change of a resource: the
 * statement, its audit entry in the same transaction, the commit, the reply.
 *
 * The handler has begun the request's transaction, locked the row and read
 * its JSON (the audit's "before"). tm_change_commit runs the statement,
 * which returns the row's new JSON text in its first column (one row), or
 * for a deletion anything; appends the audit entry; commits; and replies 200
 * with the new JSON (204 for a deletion). When it returns 0 the change is
 * committed and the handler drops what caches hold of the resource; its
 * readers see the change at once instead of after their TTL.
 */
#ifndef TM_CHANGE_H
#define TM_CHANGE_H

#include "tm.h"

typedef struct {
    const char *action;        /* audit action: "user.disabled" */
    const char *resource_type; /* "user" */
    const char *resource_id;
    const char *before;    /* the row's JSON text before, or NULL */
    const char *tenant_id; /* non-NULL: the transaction is switched to this
                              tenant first (an operator's change is audited
                              in the tenant's own log) */
    int deletes;           /* the statement deletes the row: no "after" */
    const char *sql;
    int nparams;
    const char *const *params;
} tm_change_t;

/* Applies c in *tx (see above) and consumes the transaction either way. On
 * failure rolls back, replies 5xx and returns the SP_E* code; on success
 * returns 0 and, when after is non-NULL, sets *after to the new JSON text
 * (request arena; NULL for a deletion). */
int tm_change_commit(sp_request_t *req, sp_db_tx_t **tx, const tm_change_t *c, const char **after);

/* A resource revoked by setting its revoked_at (API keys, invites). */
typedef struct {
    const char *table;         /* "tenant.api_keys"; rows are x below */
    const char *json_fn;       /* "tenant.api_key_json" */
    const char *resource_type; /* audit: "api_key" */
    const char *action;        /* audit: "api_key.revoked" */
    const char *not_found_code, *not_found_message;
    const char *refuse_if; /* SQL over x: when true answer 409 with refuse_code, or NULL */
    const char *refuse_code, *refuse_message;
    const char *extra; /* SQL over x handed back in *extra (the key's hash), or NULL */
} tm_revoke_t;

/* Revokes the row of the path's {id} in its own transaction: 404 for an id
 * that is not a UUID or no row; 409 when refuse_if holds; 200 with the row
 * as it is when it was revoked already (idempotent, no audit entry); else
 * revoked through tm_change_commit. Returns 0 only when this call revoked
 * the row (the caller then drops its caches), with *extra (request arena)
 * when r->extra is set; non-zero otherwise, the reply written either way. */
int tm_change_revoke(tm_t *tm, sp_request_t *req, const tm_revoke_t *r, const char **extra);

#endif
