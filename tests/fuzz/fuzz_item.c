/*
 * fuzz_item.c — the ingestion item validator (tools-gateway interaction.c):
 * a JSON body element, as POST /v1/interactions hands each item of a batch
 * to tg_interaction_build, then the Interaction it built packed as the
 * publisher does.
 */
#include "fuzz_common.h"

#include <cjson/cJSON.h>

#include "../../services/tools-gateway/src/interaction.h"
#include "platform/arena.h"
#include "platform/error.h"

#define TENANT "11111111-2222-4333-8444-555555555555"
#define NOW_MS 1717200000000LL /* 2024-06-01T00:00:00Z */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_quiet();
    return 0;
}

static void build_one(const cJSON *item)
{
    sp_arena_t *arena = sp_arena_new();
    if (!arena)
        abort();
    Serphona__Interactions__V1__Interaction *ix = NULL;
    tg_reject_t why = {0};
    int rc = tg_interaction_build(arena, TENANT, item, "api", NOW_MS, &ix, &why);
    if (rc == 0) {
        if (!ix)
            abort();
        size_t n = protobuf_c_message_get_packed_size(&ix->base);
        uint8_t *buf = malloc(n ? n : 1);
        if (!buf)
            abort();
        if (protobuf_c_message_pack(&ix->base, buf) != n)
            abort();
        free(buf);
    } else if (rc == SP_EINVAL && !why.code) {
        abort(); /* a refusal must say why */
    }
    sp_arena_destroy(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *doc = cJSON_ParseWithLength((const char *)data, size);
    if (!doc)
        return 0;
    if (cJSON_IsArray(doc)) {
        for (const cJSON *it = doc->child; it; it = it->next)
            build_one(it);
    } else {
        build_one(doc);
    }
    cJSON_Delete(doc);
    return 0;
}
