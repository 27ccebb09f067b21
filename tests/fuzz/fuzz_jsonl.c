/*
 * fuzz_jsonl.c — the JSON-lines upload parser (tools-gateway upload_rows.c)
 * down to the item validator, as the upload worker runs it; and the
 * transcript text parser an upload row's transcript cell goes through.
 */
#include "fuzz_common.h"

#include <cjson/cJSON.h>

#include "../../services/tools-gateway/src/interaction.h"
#include "../../services/tools-gateway/src/upload_rows.h"
#include "platform/arena.h"

#define TENANT "11111111-2222-4333-8444-555555555555"
#define NOW_MS 1717200000000LL /* 2024-06-01T00:00:00Z */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sp_arena_t *arena = sp_arena_new();
    if (!arena)
        abort();
    tg_rows_t rows;
    tg_reject_t why = {0};
    if (tg_rows_open(&rows, arena, TG_FORMAT_JSONL, (const char *)data, size, &why) == 0) {
        for (size_t guard = 0; guard <= size + 1; guard++) {
            size_t row = 0;
            cJSON *item = NULL;
            if (tg_rows_next(&rows, arena, &row, &item, &why) != 1)
                break;
            if (item) {
                Serphona__Interactions__V1__Interaction *ix = NULL;
                (void)tg_interaction_build(arena, TENANT, item, "upload", NOW_MS, &ix, &why);
            }
            if (guard == size + 1)
                abort(); /* a row that consumes nothing: a loop */
        }
    }

    char *text = fz_strndup(data, size);
    cJSON *utterances = NULL;
    (void)tg_transcript_parse(arena, text, &utterances, &why);
    free(text);
    sp_arena_destroy(&arena);
    return 0;
}
