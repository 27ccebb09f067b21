/*
 * fuzz_csv.c — the CSV upload parser (tools-gateway csv.c, upload_rows.c):
 * the raw record reader under every delimiter, then the whole upload path
 * of a CSV file: header, rows turned into items, each item validated and
 * built into an Interaction as the upload worker does.
 */
#include "fuzz_common.h"

#include <cjson/cJSON.h>

#include "../../services/tools-gateway/src/csv.h"
#include "../../services/tools-gateway/src/interaction.h"
#include "../../services/tools-gateway/src/upload_rows.h"
#include "platform/arena.h"
#include "platform/error.h"

#define TENANT "11111111-2222-4333-8444-555555555555"
#define NOW_MS 1717200000000LL /* 2024-06-01T00:00:00Z */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_quiet();
    return 0;
}

static void read_records(const uint8_t *data, size_t size, char delim)
{
    sp_arena_t *arena = sp_arena_new();
    if (!arena)
        abort();
    tg_csv_t r;
    tg_csv_init(&r, (const char *)data, size, delim);
    (void)tg_csv_delimiter(&r);
    for (size_t guard = 0; guard <= size + 1; guard++) {
        tg_csv_record_t rec;
        int rc = tg_csv_next(&r, arena, &rec);
        if (rc == 0 || rc == SP_ENOMEM)
            break;
        if (rc == 1)
            for (size_t i = 0; i < rec.n; i++)
                (void)strlen(rec.fields[i]);
        /* Every call consumes input or ends it: more calls than bytes is a
         * loop. */
        if (guard == size + 1)
            abort();
    }
    sp_arena_destroy(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_records(data, size, 0);
    read_records(data, size, ';');
    read_records(data, size, '\t');

    sp_arena_t *arena = sp_arena_new();
    if (!arena)
        abort();
    tg_rows_t rows;
    tg_reject_t why = {0};
    if (tg_rows_open(&rows, arena, TG_FORMAT_CSV, (const char *)data, size, &why) == 0) {
        for (size_t guard = 0; guard <= size + 1; guard++) {
            size_t row = 0;
            cJSON *item = NULL;
            int rc = tg_rows_next(&rows, arena, &row, &item, &why);
            if (rc != 1)
                break;
            if (item) {
                Serphona__Interactions__V1__Interaction *ix = NULL;
                (void)tg_interaction_build(arena, TENANT, item, "upload", NOW_MS, &ix, &why);
            }
            if (guard == size + 1)
                abort();
        }
    }
    sp_arena_destroy(&arena);
    return 0;
}
