/*
 * retention.c — periodic per-tenant deletion of old rows (retention.h).
 */
#include "retention.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "platform/error.h"
#include "platform/log.h"
#include "platform/metrics.h"
#include "platform/periodic.h"
#include "platform/tenant_client.h"
#include "platform/text.h"

#define FIRST_PASS_MAX_S  60
#define LOOKUP_TIMEOUT_MS 2000

/* The tables and the time column retention cuts on. */
static const struct {
    const char *table, *column;
} TABLES[] = {
    {"interactions", "occurred_at"},         {"utterances", "occurred_at"},
    {"interaction_keys", "occurred_at"},     {"interactions_hourly", "hour"},
    {"interactions_hourly_channel", "hour"}, {"topics_hourly", "hour"},
};
#define N_TABLES (sizeof TABLES / sizeof TABLES[0])

int64_t ap_retention_cutoff(int64_t now_s, int days)
{
    int64_t c = now_s - (int64_t)days * 86400;
    return c - ((c % 3600) + 3600) % 3600;
}

int ap_retention_where_add(sp_buf_t *where, const char *tenant, const char *column,
                           int64_t cutoff_s)
{
    if (!sp_uuid_valid(tenant))
        return SP_EINVAL;
    sp_buf_appendf(where, "%s(tenant_id = '%s' AND %s < toDateTime(%" PRId64 "))",
                   sp_buf_len(where) ? " OR " : "", tenant, column, cutoff_s);
    return sp_buf_failed(where);
}

/* Mutations of an earlier pass still running on our tables. */
static int mutations_running(sp_ch_t *ch, int *running)
{
    char *out = NULL;
    int rc = sp_ch_exec(ch,
                        "SELECT count() FROM system.mutations WHERE database = currentDatabase() "
                        "AND is_done = 0 AND table IN ('interactions', 'utterances', "
                        "'interaction_keys', 'interactions_hourly', "
                        "'interactions_hourly_channel', 'topics_hourly')",
                        NULL, 0, &out, NULL);
    if (rc == SP_OK)
        *running = (int)strtol(out, NULL, 10);
    free(out);
    return rc;
}

int ap_retention_run_once(sp_ch_t *ch, ap_retention_days_fn days, void *ud, int64_t now_s)
{
    char *out = NULL;
    sp_buf_t where[N_TABLES];
    int running = 0, purged = 0, rc;

    if ((rc = mutations_running(ch, &running)) != SP_OK)
        return rc;
    if (running > 0) {
        sp_log_info("retention: %d mutation(s) of an earlier pass still running; skipping",
                    running);
        return 0;
    }
    rc = sp_ch_exec(ch,
                    "SELECT toString(tenant_id), toUnixTimestamp(min(hour)) "
                    "FROM interactions_hourly GROUP BY tenant_id FORMAT TabSeparated",
                    NULL, 0, &out, NULL);
    if (rc != SP_OK)
        return rc;

    for (size_t t = 0; t < N_TABLES; t++)
        sp_buf_init(&where[t], 0);
    for (char *save = NULL, *line = strtok_r(out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = '\0';
        int64_t oldest = strtoll(tab + 1, NULL, 10);
        if (!sp_uuid_valid(line))
            continue;
        /* One small RPC per tenant per pass; a pass runs hourly. */
        int d = days(line, ud);
        if (d <= 0)
            continue;
        int64_t cutoff = ap_retention_cutoff(now_s, d);
        if (oldest >= cutoff)
            continue;
        for (size_t t = 0; t < N_TABLES; t++)
            ap_retention_where_add(&where[t], line, TABLES[t].column, cutoff);
        purged++;
    }
    free(out);

    for (size_t t = 0; t < N_TABLES && rc == SP_OK; t++) {
        if (sp_buf_failed(&where[t])) {
            rc = SP_ENOMEM;
            break;
        }
        if (sp_buf_len(&where[t]) == 0)
            continue;
        sp_buf_t sql;
        sp_buf_init(&sql, 0);
        sp_buf_appendf(&sql, "ALTER TABLE %s DELETE WHERE %s", TABLES[t].table,
                       sp_buf_data(&where[t]));
        rc = sp_buf_failed(&sql) ? SP_ENOMEM
                                 : sp_ch_exec(ch, sp_buf_data(&sql), NULL, 0, NULL, NULL);
        sp_buf_cleanup(&sql);
    }
    for (size_t t = 0; t < N_TABLES; t++)
        sp_buf_cleanup(&where[t]);
    if (rc != SP_OK)
        return rc;
    if (purged > 0)
        sp_log_info("retention: deleting old rows of %d tenant(s)", purged);
    return purged;
}

/* ---- the pass thread ------------------------------------------------------ */

struct ap_retention {
    sp_service_t *svc;
    sp_ch_t *ch;      /* the service's, from the start hook on */
    sp_tenants_t *tm; /* tenant-manager through the platform client */
    int lookup;       /* ask tenant-manager */
    int default_days;
    int interval_s;
    sp_periodic_t *task; /* from the start hook on, when interval_s > 0 */
    sp_counter_t *runs;
    sp_counter_t *tenants;
};

/* A tenant's days. Off the stream's path (the pass thread), so it may wait
 * for tenant-manager; after a failure the client backs off, so the rest of
 * the pass skips at once instead of waiting once per tenant. */
static int tenant_days(const char *tenant_id, void *ud)
{
    ap_retention_t *r = ud;
    const sp_tenants_state_t *st = NULL;

    if (!r->lookup)
        return r->default_days;
    sp_arena_t *arena = sp_arena_new();
    int rc = arena ? sp_tenants_state(r->tm, arena, tenant_id, &st) : SP_ENOMEM;
    int days = rc == SP_OK ? st->retention_days : 0;
    sp_arena_destroy(&arena);
    if (rc != SP_OK) {
        sp_log_warn("retention: cannot get tenant %s's retention (%s); skipping it this pass",
                    tenant_id, sp_strerror(rc));
        return 0;
    }
    return days > 0 ? days : r->default_days;
}

static void retention_pass(void *ud)
{
    ap_retention_t *r = ud;
    int rc = ap_retention_run_once(r->ch, tenant_days, r, (int64_t)time(NULL));
    if (rc < 0)
        sp_log_warn("retention: pass failed: %s", sp_strerror(rc));
    sp_counter_add(r->runs, 1, rc < 0 ? "error" : "ok");
    if (rc > 0)
        sp_counter_add(r->tenants, rc);
}

static void retention_stop(void *ud)
{
    ap_retention_t *r = ud;
    sp_periodic_destroy(&r->task);
}

/* Start hook: the service's ClickHouse client exists from here on. */
static int retention_start(void *ud)
{
    ap_retention_t *r = ud;

    if (r->interval_s == 0 || r->task)
        return SP_OK;
    if (!(r->ch = sp_service_clickhouse(r->svc)))
        return SP_EINVAL;
    /* The first pass soon after start, not a whole interval later. */
    int first_s = r->interval_s < FIRST_PASS_MAX_S ? r->interval_s : FIRST_PASS_MAX_S;
    r->task = sp_periodic_start("ap-retention", (int64_t)first_s * 1000,
                                (int64_t)r->interval_s * 1000, retention_pass, r);
    return r->task ? SP_OK : SP_EIO;
}

ap_retention_t *ap_retention_new(sp_service_t *svc)
{
    sp_config_t *cfg = sp_service_config(svc);
    ap_retention_t *r = calloc(1, sizeof *r);

    if (!r)
        return NULL;
    r->svc = svc;
    r->default_days = sp_config_int(cfg, "SERPHONA_RETENTION_DAYS_DEFAULT", 365, 1, 36500,
                                    "Retention in days of a tenant that set none.");
    r->interval_s = sp_config_int(cfg, "SERPHONA_RETENTION_INTERVAL_S", 3600, 0, 7 * 86400,
                                  "Seconds between retention passes (0 = no retention).");
    r->lookup = sp_config_bool(cfg, "SERPHONA_RETENTION_TENANT_LOOKUP", 1,
                               "Ask tenant-manager for each tenant's retention (else the "
                               "default applies to all).");
    if (r->lookup) {
        sp_tenants_opts_t o = {.tm = sp_service_client(svc, "tenant-manager"),
                               .svc = svc,
                               .timeout_ms = LOOKUP_TIMEOUT_MS,
                               .backoff_ms = 60000};
        if (!(r->tm = sp_tenants_new(&o))) {
            ap_retention_destroy(&r);
            return NULL;
        }
    }
    r->runs = sp_counter_new("serphona_processor_retention_runs_total",
                             "Retention passes, by result.", 1, "result");
    r->tenants = sp_counter_new("serphona_processor_retention_tenants_total",
                                "Tenants whose expired rows a retention pass deleted.", 0);
    if (sp_service_on_start(svc, retention_start, r) != SP_OK ||
        sp_service_on_shutdown(svc, retention_stop, r) != SP_OK) {
        ap_retention_destroy(&r);
        return NULL;
    }
    return r;
}

void ap_retention_destroy(ap_retention_t **self_p)
{
    ap_retention_t *r;

    if (!self_p || !(r = *self_p))
        return;
    *self_p = NULL;
    retention_stop(r);
    sp_tenants_destroy(&r->tm);
    free(r);
}
