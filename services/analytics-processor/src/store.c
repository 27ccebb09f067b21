/*
 * store.c — lookups and INSERTs of a batch in ClickHouse (store.h).
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>

#include "platform/error.h"
#include "platform/log.h"

int ap_store_lookup(sp_ch_t *ch, ap_batch_t *b)
{
    sp_arena_t *arena = sp_arena_new();
    char *out = NULL;
    size_t out_len = 0;
    int oom = 0, rc;

    if (!arena)
        return SP_ENOMEM;
    const char *sql = ap_batch_lookup_sql(b, AP_KEYS_TABLE, arena, &oom);
    if (!sql) {
        sp_arena_destroy(&arena);
        return oom ? SP_ENOMEM : 0;
    }
    rc = sp_ch_exec(ch, sql, NULL, 0, &out, &out_len);
    sp_arena_destroy(&arena);
    if (rc != SP_OK)
        return rc;
    rc = ap_batch_apply_stored(b, out, out_len);
    if (rc < 0)
        sp_log_error("processor: unexpected answer to the stored-ids lookup");
    free(out);
    return rc;
}

static int insert(sp_ch_t *ch, const char *table, const sp_buf_t *rows)
{
    char sql[128];

    if (sp_buf_len(rows) == 0)
        return SP_OK;
    snprintf(sql, sizeof sql, "INSERT INTO %s FORMAT JSONEachRow", table);
    return sp_ch_exec(ch, sql, sp_buf_data(rows), sp_buf_len(rows), NULL, NULL);
}

int ap_store_insert(sp_ch_t *ch, const ap_batch_t *b)
{
    sp_buf_t ix, ut;
    int rc;

    sp_buf_init(&ix, 0);
    sp_buf_init(&ut, 0);
    rc = ap_batch_bodies(b, &ix, &ut);
    if (rc == SP_OK)
        rc = insert(ch, "utterances", &ut);
    if (rc == SP_OK)
        rc = insert(ch, "interactions", &ix);
    sp_buf_cleanup(&ix);
    sp_buf_cleanup(&ut);
    return rc;
}
