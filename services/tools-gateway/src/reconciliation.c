/*
 * reconciliation.c — GET /v1/ingest/reconciliation (reconciliation.h).
 */
#include "reconciliation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/error.h"
#include "platform/text.h"

static const char SQL[] =
    "WITH r AS (SELECT tenant_id, "
    "to_char(accepted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS accepted, "
    "count(*) FILTER (WHERE state = 'analysed') AS analysed, "
    "count(*) FILTER (WHERE state = 'dead_lettered') AS dead_lettered, "
    "count(*) FILTER (WHERE state = 'pending') AS pending, "
    "sum(republished) AS republished, "
    "min(accepted_at) FILTER (WHERE state = 'pending') AS oldest "
    "FROM tools.ingested_interactions "
    "WHERE accepted_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' "
    "- make_interval(days => $1::int - 1) "
    "AND ($2::text = '' OR tenant_id = NULLIF($2, '')::uuid) GROUP BY 1, 2) "
    "SELECT jsonb_build_object('days', $1::int, "
    "'rows', COALESCE((SELECT jsonb_agg(jsonb_build_object('tenant_id', tenant_id, 'day', day, "
    "'accepted', accepted, 'analysed', analysed, 'dead_lettered', dead_lettered, "
    "'pending', pending, 'republished', republished) ORDER BY day DESC, tenant_id) FROM r), "
    "'[]'::jsonb), "
    "'totals', (SELECT jsonb_build_object('accepted', COALESCE(sum(accepted), 0), "
    "'analysed', COALESCE(sum(analysed), 0), 'dead_lettered', COALESCE(sum(dead_lettered), 0), "
    "'pending', COALESCE(sum(pending), 0), 'republished', COALESCE(sum(republished), 0), "
    "'oldest_pending_at', tools.ts_text(min(oldest))) FROM r))::text";

static sp_handler_result_t get_reconciliation(sp_request_t *req, void *ud)
{
    tg_t *tg = ud;
    sp_response_t *resp = sp_request_response(req);
    const char *days_q = sp_request_query(req, "days");
    const char *tenant = sp_request_query(req, "tenant_id");
    char *end = NULL;
    long days = days_q ? strtol(days_q, &end, 10) : 7;
    if ((days_q && (!*days_q || *end)) || days < 1 || days > 366) {
        sp_response_error(resp, 400, "invalid_query", "days must be an integer from 1 to 366");
        return SP_HANDLER_DONE;
    }
    if (tenant && *tenant && !sp_uuid_valid(tenant)) {
        sp_response_error(resp, 400, "invalid_query", "tenant_id must be a UUID");
        return SP_HANDLER_DONE;
    }
    char days_s[8];
    snprintf(days_s, sizeof(days_s), "%ld", days);
    const char *params[] = {days_s, tenant ? tenant : ""};
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    int rc = sp_db_tx_begin(tg_db(tg), NULL, &tx);
    if (rc == 0)
        rc =
            sp_db_tx_query(tx, "SELECT set_config('app.ingest_ledger', 'on', true)", 0, NULL, NULL);
    if (rc == 0)
        rc = sp_db_tx_query_arena(tx, sp_request_arena(req), SQL, 2, params, &res);
    if (rc == 0)
        rc = sp_db_tx_commit(&tx);
    sp_db_tx_rollback(&tx);
    if (rc != 0) {
        tg_reply_db_error(tg, req, rc);
        return SP_HANDLER_DONE;
    }
    tg_reply_json_text(req, 200, PQgetvalue(res, 0, 0));
    return SP_HANDLER_DONE;
}

int tg_reconciliation_register(tg_t *tg)
{
    return sp_router_add(tg->router, "GET", "/v1/ingest/reconciliation", "platform:admin",
                         get_reconciliation, tg);
}
