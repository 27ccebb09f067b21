/*
 * tenant_purge.h — the end of a tenant: forgetting what caches hold of its
 * principals when its status changes, and purging a deleted tenant's rows
 * once its grace period is over (run by the maintenance thread of
 * operators.h).
 */
#ifndef TM_TENANT_PURGE_H
#define TM_TENANT_PURGE_H

#include "tm.h"

/* Purges every tenant deleted at least after_days ago, with all its rows,
 * one tenant per transaction (scoped to that tenant, so row-level security
 * applies to the purge too). *purged counts them. Returns 0 or the first
 * database error. */
int tm_tenants_purge(sp_db_pool_t *db, int after_days, int *purged);

/* DELetes the cached principal of every user and the cached resolution of
 * every API key of tenant_id (a suspension, reactivation or deletion changes
 * them all). Best effort. */
void tm_tenants_forget_principals(tm_t *tm, const char *tenant_id);

#endif
