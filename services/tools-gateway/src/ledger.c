/*
 * ledger.c — the accepted-interactions ledger in PostgreSQL (ledger.h).
 * Lists travel as one JSON parameter, expanded by jsonb_array_elements, so a
 * batch is one statement whatever its size.
 */
#include "ledger.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"

int tg_ledger_mark_duplicates(sp_db_pool_t *db, const char *tenant_id, tg_item_t *items, size_t n)
{
    if (!db)
        return SP_EUNAVAILABLE;
    cJSON *ids = cJSON_CreateArray();
    if (!ids)
        return SP_ENOMEM;
    size_t valid = 0;
    for (size_t i = 0; i < n; i++) {
        if (items[i].state != TG_ITEM_VALID)
            continue;
        if (!cJSON_AddItemToArray(ids, cJSON_CreateString(items[i].ix->external_id))) {
            cJSON_Delete(ids);
            return SP_ENOMEM;
        }
        valid++;
    }
    if (valid == 0) {
        cJSON_Delete(ids);
        return SP_OK;
    }
    char *json = cJSON_PrintUnformatted(ids);
    cJSON_Delete(ids);
    if (!json)
        return SP_ENOMEM;
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    int rc = sp_db_tx_begin(db, tenant_id, &tx);
    if (rc == 0) {
        const char *params[] = {tenant_id, json};
        rc = sp_db_tx_query(tx,
                            "SELECT i.external_id FROM tools.ingested_interactions i "
                            "WHERE i.tenant_id = $1::uuid AND i.external_id IN "
                            "(SELECT jsonb_array_elements_text($2::jsonb))",
                            2, params, &res);
    }
    if (rc == 0)
        rc = sp_db_tx_commit(&tx);
    sp_db_tx_rollback(&tx);
    free(json);
    if (rc != 0) {
        if (res)
            PQclear(res);
        return rc;
    }
    int rows = PQntuples(res);
    for (int r = 0; r < rows; r++) {
        const char *ext = PQgetvalue(res, r, 0);
        for (size_t i = 0; i < n; i++)
            if (items[i].state == TG_ITEM_VALID && strcmp(items[i].ix->external_id, ext) == 0)
                items[i].state = TG_ITEM_DUPLICATE;
    }
    PQclear(res);
    return SP_OK;
}

/* The item's protobuf as hex text (what decode(..., 'hex') reads), as a
 * cJSON string; NULL when out of memory. */
static cJSON *payload_hex(const Serphona__Interactions__V1__Interaction *ix)
{
    size_t len = protobuf_c_message_get_packed_size(&ix->base);
    uint8_t *buf = malloc(len ? len : 1);
    char *hex = malloc(2 * len + 1);
    cJSON *out = NULL;
    if (buf && hex) {
        protobuf_c_message_pack(&ix->base, buf);
        sp_hex_encode(buf, len, hex);
        out = cJSON_CreateString(hex);
    }
    free(buf);
    free(hex);
    return out;
}

int tg_ledger_record(sp_db_pool_t *db, const char *tenant_id, const char *source,
                     const tg_item_t *items, size_t n)
{
    if (!db)
        return SP_EUNAVAILABLE;
    cJSON *rows = cJSON_CreateArray();
    if (!rows)
        return SP_ENOMEM;
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (items[i].state != TG_ITEM_ACCEPTED)
            continue;
        cJSON *pair = cJSON_CreateArray();
        if (!pair || !cJSON_AddItemToArray(rows, pair) ||
            !cJSON_AddItemToArray(pair, cJSON_CreateString(items[i].ix->external_id)) ||
            !cJSON_AddItemToArray(pair, cJSON_CreateString(items[i].ix->interaction_id)) ||
            !cJSON_AddItemToArray(pair, payload_hex(items[i].ix))) {
            cJSON_Delete(rows);
            return SP_ENOMEM;
        }
        count++;
    }
    if (count == 0) {
        cJSON_Delete(rows);
        return SP_OK;
    }
    char *json = cJSON_PrintUnformatted(rows);
    cJSON_Delete(rows);
    if (!json)
        return SP_ENOMEM;
    sp_db_tx_t *tx = NULL;
    int rc = sp_db_tx_begin(db, tenant_id, &tx);
    if (rc == 0) {
        const char *params[] = {tenant_id, json, source};
        rc = sp_db_tx_query(tx,
                            "INSERT INTO tools.ingested_interactions "
                            "(tenant_id, external_id, interaction_id, source, payload, state, "
                            "settled_at) "
                            "SELECT $1::uuid, e->>0, (e->>1)::uuid, $3, "
                            "CASE WHEN r.state IS NULL THEN decode(e->>2, 'hex') END, "
                            "COALESCE(r.state, 'pending'), r.reported_at "
                            "FROM jsonb_array_elements($2::jsonb) e "
                            "LEFT JOIN tools.ledger_reports r ON r.tenant_id = $1::uuid "
                            "AND r.interaction_id = (e->>1)::uuid "
                            "ON CONFLICT (tenant_id, external_id) DO NOTHING",
                            3, params, NULL);
    }
    if (rc == 0)
        rc = sp_db_tx_commit(&tx);
    sp_db_tx_rollback(&tx);
    free(json);
    return rc;
}

int tg_ledger_settle(sp_db_pool_t *db, const char *rows_json, long *analysed, long *dead)
{
    *analysed = *dead = 0;
    if (!db)
        return SP_EUNAVAILABLE;
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    const char *params[] = {rows_json};
    int rc = sp_db_tx_begin(db, NULL, &tx);
    /* Across tenants: the ledger's app.ingest_ledger policy. */
    if (rc == 0)
        rc =
            sp_db_tx_query(tx, "SELECT set_config('app.ingest_ledger', 'on', true)", 0, NULL, NULL);
    if (rc == 0)
        rc = sp_db_tx_query(
            tx,
            "WITH e AS (SELECT DISTINCT ON (x->>0, x->>1) (x->>0)::uuid AS tenant_id, "
            "(x->>1)::uuid AS interaction_id, x->>2 AS state "
            "FROM jsonb_array_elements($1::jsonb) x ORDER BY x->>0, x->>1, x->>2), "
            "u AS (UPDATE tools.ingested_interactions l SET state = e.state, payload = NULL, "
            "settled_at = now() FROM e WHERE l.tenant_id = e.tenant_id "
            "AND l.interaction_id = e.interaction_id AND l.state <> 'analysed' "
            "AND (l.state = 'pending' OR e.state = 'analysed') RETURNING e.state), "
            /* Reports ahead of their row wait for it (tg_ledger_record). */
            "early AS (INSERT INTO tools.ledger_reports (tenant_id, interaction_id, state) "
            "SELECT e.tenant_id, e.interaction_id, e.state FROM e WHERE NOT EXISTS "
            "(SELECT 1 FROM tools.ingested_interactions l WHERE l.tenant_id = e.tenant_id "
            "AND l.interaction_id = e.interaction_id) ON CONFLICT (tenant_id, interaction_id) "
            "DO UPDATE SET state = LEAST(ledger_reports.state, excluded.state) RETURNING 1) "
            "SELECT count(*) FILTER (WHERE state = 'analysed'), "
            "count(*) FILTER (WHERE state = 'dead_lettered'), (SELECT count(*) FROM early) FROM u",
            1, params, &res);
    if (rc == 0)
        rc = sp_db_tx_commit(&tx);
    sp_db_tx_rollback(&tx);
    if (rc != 0) {
        if (res)
            PQclear(res);
        return rc;
    }
    *analysed = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    *dead = strtol(PQgetvalue(res, 0, 1), NULL, 10);
    long early = strtol(PQgetvalue(res, 0, 2), NULL, 10);
    if (early > 0)
        sp_log_debug("ingestion ledger: %ld reports ahead of their rows kept", early);
    PQclear(res);
    return SP_OK;
}
