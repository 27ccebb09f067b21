/*
 * audit.h — reading the audit log.
 *
 * Entries are written by every change through tm_audit (tm.h), in the same
 * transaction as the change. The log is append-only (a trigger refuses
 * UPDATE and DELETE, except when a deleted tenant is purged).
 *
 * Route: GET /v1/audit-log [audit:read], newest first, with the filters
 * actor_type, actor (id), action (exact, or a prefix ending in ".*", e.g.
 * "user.*"), resource_type, resource_id, since / until (RFC 3339, since
 * inclusive, until exclusive), limit (1..200, default 50) and cursor (the
 * next_cursor of the previous page; null on the last page).
 */
#ifndef TM_AUDIT_H
#define TM_AUDIT_H

#include "tm.h"

/* Adds the route above to router. Returns 0 or the SP_E* code. */
int tm_audit_register(sp_router_t *router, tm_t *tm);

#endif
