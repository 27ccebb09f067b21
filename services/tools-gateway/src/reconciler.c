/*
 * reconciler.c — re-publishing what the processor never reported stored
 * (reconciler.h).
 */
#include "reconciler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backlog.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/periodic.h"
#include "platform/metrics.h"
#include "publisher.h"

/* The reconciler's advisory lock: an arbitrary constant no other lock of
 * the database uses. */
#define LOCK_KEY    "7470776879656373"
#define PRUNE_SLICE "10000"

struct tg_reconciler {
    tg_t *tg;
    sp_periodic_t *task; /* NULL until tg_reconciler_start */
};

/* Begins a transaction over every tenant's ledger rows. */
static int ledger_tx(tg_t *tg, sp_db_tx_t **tx)
{
    int rc = sp_db_tx_begin(tg_db(tg), NULL, tx);
    if (rc == 0)
        rc = sp_db_tx_query(*tx, "SELECT set_config('app.ingest_ledger', 'on', true)", 0, NULL,
                            NULL);
    if (rc != 0)
        sp_db_tx_rollback(tx);
    return rc;
}

/* How many may be published again now. */
static int budget(tg_t *tg)
{
    int64_t room = tg->reconcile_batch;
    int64_t backlog = tg_backlog_value(tg->backlog);
    if (tg->backlog && backlog >= 0 && tg_backlog_max(tg->backlog) - backlog < room)
        room = tg_backlog_max(tg->backlog) - backlog;
    return room > 0 ? (int)room : 0;
}

/* Publishes the selected rows again; marks those acknowledged. */
static int republish(tg_t *tg, sp_db_tx_t *tx, PGresult *rows)
{
    int n = PQntuples(rows);
    tg_packed_t *msgs = calloc((size_t)(n ? n : 1), sizeof(*msgs));
    int *results = calloc((size_t)(n ? n : 1), sizeof(int));
    cJSON *done = cJSON_CreateArray();
    int rc = msgs && results && done ? SP_OK : SP_ENOMEM;
    for (int i = 0; rc == 0 && i < n; i++) {
        msgs[i].tenant_id = PQgetvalue(rows, i, 0);
        msgs[i].interaction_id = PQgetvalue(rows, i, 1);
        /* Binary column of a text-format result: PQunescapeBytea below. */
        msgs[i].data = PQunescapeBytea((const unsigned char *)PQgetvalue(rows, i, 2), &msgs[i].len);
        if (!msgs[i].data)
            rc = SP_ENOMEM;
    }
    if (rc == 0)
        rc = tg_publish_packed(tg_producer(tg), tg->topic, msgs, (size_t)n, tg->publish_timeout_ms,
                               results);
    int ok = 0;
    for (int i = 0; (rc == 0 || rc == SP_EUNAVAILABLE) && i < n; i++) {
        if (results[i] != 0)
            continue;
        cJSON *pair = cJSON_CreateArray();
        if (!pair || !cJSON_AddItemToArray(done, pair) ||
            !cJSON_AddItemToArray(pair, cJSON_CreateString(msgs[i].tenant_id)) ||
            !cJSON_AddItemToArray(pair, cJSON_CreateString(msgs[i].interaction_id))) {
            rc = SP_ENOMEM;
            break;
        }
        ok++;
    }
    sp_counter_t *c =
        sp_counter_new("serphona_ingest_republished_total",
                       "Accepted interactions published again by the reconciler.", 1, "result");
    sp_counter_add(c, ok, "ok");
    sp_counter_add(c, n - ok, "error");
    char *json = ok > 0 && (rc == 0 || rc == SP_EUNAVAILABLE) ? cJSON_PrintUnformatted(done) : NULL;
    if (json) {
        const char *params[] = {json};
        int urc = sp_db_tx_query(tx,
                                 "UPDATE tools.ingested_interactions l SET published_at = now(), "
                                 "republished = republished + 1 "
                                 "FROM jsonb_array_elements($1::jsonb) x "
                                 "WHERE l.tenant_id = (x->>0)::uuid "
                                 "AND l.interaction_id = (x->>1)::uuid",
                                 1, params, NULL);
        if (urc != 0)
            rc = urc;
    }
    free(json);
    for (int i = 0; msgs && i < n; i++)
        PQfreemem((void *)msgs[i].data);
    free(msgs);
    free(results);
    cJSON_Delete(done);
    if (rc == SP_EUNAVAILABLE)
        sp_log_warn("reconciler: Kafka acknowledged %d of %d re-published interactions", ok, n);
    return rc == 0 || rc == SP_EUNAVAILABLE ? ok : rc;
}

/* Deletes a slice of settled rows past retention, and sets the gauges. */
static int prune_and_measure(tg_t *tg, sp_db_tx_t *tx)
{
    char days[16];
    snprintf(days, sizeof(days), "%d", tg->ledger_retention_days);
    const char *params[] = {days};
    PGresult *res = NULL;
    int rc =
        sp_db_tx_query(tx,
                       "WITH d AS (DELETE FROM tools.ingested_interactions WHERE ctid IN "
                       "(SELECT ctid FROM tools.ingested_interactions WHERE state <> 'pending' "
                       "AND accepted_at < now() - make_interval(days => $1::int) "
                       "LIMIT " PRUNE_SLICE ") RETURNING 1) SELECT count(*) FROM d",
                       1, params, &res);
    if (rc != 0)
        return rc;
    sp_counter_add(sp_counter_new("serphona_ingest_ledger_pruned_total",
                                  "Settled ingestion ledger rows deleted past retention.", 0),
                   strtod(PQgetvalue(res, 0, 0), NULL));
    PQclear(res);
    res = NULL;
    /* Reports that never met their row (published by other means). */
    rc = sp_db_tx_query(tx,
                        "DELETE FROM tools.ledger_reports WHERE reported_at < now() - interval "
                        "'1 day'",
                        0, NULL, NULL);
    if (rc != 0)
        return rc;
    /* Pending rows only (their partial index): settled ones are counted
     * as they settle (serphona_ingest_ledger_settled_total). */
    rc =
        sp_db_tx_query(tx,
                       "SELECT count(*), COALESCE(extract(epoch FROM now() - min(accepted_at)), 0) "
                       "FROM tools.ingested_interactions WHERE state = 'pending'",
                       0, NULL, &res);
    if (rc != 0)
        return rc;
    sp_gauge_set(sp_gauge_new("serphona_ingest_ledger_pending",
                              "Accepted interactions not yet reported analysed or dead-lettered.",
                              0),
                 strtod(PQgetvalue(res, 0, 0), NULL));
    sp_gauge_set(sp_gauge_new("serphona_ingest_ledger_oldest_pending_seconds",
                              "Age of the oldest accepted interaction not yet reported analysed "
                              "(0 when none).",
                              0),
                 strtod(PQgetvalue(res, 0, 1), NULL));
    PQclear(res);
    return SP_OK;
}

int tg_reconciler_pass(tg_t *tg)
{
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    int rc = ledger_tx(tg, &tx);
    if (rc != 0)
        return rc;
    rc = sp_db_tx_query(tx, "SELECT pg_try_advisory_xact_lock(" LOCK_KEY ")", 0, NULL, &res);
    if (rc != 0 || strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
        if (res)
            PQclear(res);
        sp_db_tx_rollback(&tx);
        return rc;
    }
    PQclear(res);
    res = NULL;
    int done = 0, room = budget(tg);
    if (room > 0) {
        char grace[16], limit[16];
        snprintf(grace, sizeof(grace), "%d", tg->reconcile_grace_s);
        snprintf(limit, sizeof(limit), "%d", room);
        const char *params[] = {grace, limit};
        rc = sp_db_tx_query(tx,
                            "SELECT tenant_id::text, interaction_id::text, payload "
                            "FROM tools.ingested_interactions WHERE state = 'pending' "
                            "AND payload IS NOT NULL "
                            "AND published_at < now() - make_interval(secs => $1::int) "
                            "ORDER BY published_at LIMIT $2::int",
                            2, params, &res);
        if (rc == 0 && PQntuples(res) > 0)
            rc = done = republish(tg, tx, res);
        if (res)
            PQclear(res);
        if (rc > 0)
            rc = 0;
    }
    if (rc == 0)
        rc = prune_and_measure(tg, tx);
    if (rc == 0)
        rc = sp_db_tx_commit(&tx);
    sp_db_tx_rollback(&tx);
    if (rc != 0)
        return rc;
    if (done > 0)
        sp_log_warn("reconciler: published %d accepted interactions again (not reported "
                    "analysed within %d s)",
                    done, tg->reconcile_grace_s);
    return done;
}

tg_reconciler_t *tg_reconciler_new(tg_t *tg)
{
    tg_reconciler_t *r = calloc(1, sizeof(*r));
    if (r)
        r->tg = tg;
    return r;
}

static void reconcile(void *ud)
{
    tg_reconciler_t *r = ud;
    int rc = tg_reconciler_pass(r->tg);
    if (rc < 0)
        sp_log_warn("reconciler: pass failed: %s", sp_strerror(rc));
}

int tg_reconciler_start(tg_reconciler_t *r)
{
    r->task = sp_periodic_start("tg-reconciler", 0, (int64_t)r->tg->reconcile_interval_s * 1000,
                                reconcile, r);
    return r->task ? SP_OK : SP_EIO;
}

void tg_reconciler_destroy(tg_reconciler_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tg_reconciler_t *r = *self_p;
    *self_p = NULL;
    sp_periodic_destroy(&r->task);
    free(r);
}
