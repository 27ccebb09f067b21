/*
 * retention.h — per-tenant data retention in ClickHouse.
 *
 * ClickHouse 18.16 has no table TTL, so retention is a periodic pass that
 * deletes, with ALTER TABLE ... DELETE mutations, every row of a tenant older
 * than its retention: raw rows (interactions, utterances, interaction_keys)
 * by occurred_at, rollups (interactions_hourly, interactions_hourly_channel,
 * topics_hourly) by hour. The
 * cutoff is aligned down to the hour, so an hourly rollup row is deleted
 * exactly when all the raw rows it sums are, and the dashboards never count
 * what the interaction list no longer shows.
 *
 * A pass: list tenants with their oldest hour (from interactions_hourly, a
 * small table); skip the pass while a mutation of an earlier pass is still
 * running on those tables (mutations rewrite parts: piling them up helps
 * nobody); ask each tenant's retention in days; issue one mutation per table
 * covering every tenant that has rows past its cutoff.
 *
 * Each tenant's days come from tenant-manager (GetTenantState.retention_days;
 * 0 there means "platform default" = SERPHONA_RETENTION_DAYS_DEFAULT). When
 * tenant-manager cannot be asked, the lookup fails soft: that tenant is
 * skipped this pass — data is never deleted on a guess — and the stream is
 * not affected; the platform tenant client (platform/tenant_client.h) then
 * backs off, so the rest of the pass skips without waiting per tenant. With
 * SERPHONA_RETENTION_TENANT_LOOKUP=false (deployments without tenant-manager) every tenant gets the
 * default.
 */
#ifndef AP_RETENTION_H
#define AP_RETENTION_H

#include <stdint.h>

#include "platform/arena.h"
#include "platform/buf.h"
#include "platform/clickhouse.h"
#include "platform/service.h"

/* A tenant's retention in days (> 0), or <= 0 when unknown this time (the
 * tenant is then skipped). */
typedef int (*ap_retention_days_fn)(const char *tenant_id, void *ud);

/* The cutoff for a retention of days counted back from now_s (Unix seconds),
 * aligned down to the hour: rows strictly older are deleted. */
int64_t ap_retention_cutoff(int64_t now_s, int days);

/* Adds "(tenant_id = '<tenant>' AND <column> < toDateTime(<cutoff>))" to a
 * WHERE clause being built in where (joined by OR after the first). tenant
 * must be a UUID (it is embedded as a literal). Returns 0 or the buffer's
 * error. */
int ap_retention_where_add(sp_buf_t *where, const char *tenant, const char *column,
                           int64_t cutoff_s);

/* One pass over ch as described above, at now_s. Returns the number of
 * tenants whose old rows it asked ClickHouse to delete (0 also when the pass
 * was skipped because mutations are still running), or an SP_E* code. */
int ap_retention_run_once(sp_ch_t *ch, ap_retention_days_fn days, void *ud, int64_t now_s);

typedef struct ap_retention ap_retention_t;

/* Reads SERPHONA_RETENTION_*, gets an RPC client to tenant-manager, and
 * registers with svc a start hook that starts the pass thread (the first pass
 * comes after min(interval, 60 s), then one every
 * SERPHONA_RETENTION_INTERVAL_S; 0 disables retention) and a shutdown hook
 * that stops it. Call before sp_service_run; destroy after it returned.
 * Returns NULL when out of memory. */
ap_retention_t *ap_retention_new(sp_service_t *svc);

/* Stops the thread (if running) and frees. Accepts NULL; sets *self_p NULL. */
void ap_retention_destroy(ap_retention_t **self_p);

#endif
