/*
 * fuzz_json.c — the platform's strict JSON check and parse (json.c), the
 * gate every request body and upload row goes through before cJSON.
 *
 * Oracle beyond the sanitizers: sp_json_parse agrees with sp_json_problem;
 * what passes, cJSON parses; and cJSON's rendering of it is strict JSON too
 * (the services answer with such renderings). Unknown-member lookup runs on
 * every object.
 */
#include "fuzz_common.h"

#include <cjson/cJSON.h>

#include "platform/error.h"
#include "platform/json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *problem = sp_json_problem(text, size);
    cJSON *doc = NULL;
    const char *why = NULL;
    int rc = sp_json_parse(text, size, &doc, &why);
    if ((problem == NULL) != (rc == 0) || (rc != 0 && rc != SP_ENOMEM && !why)) {
        fprintf(stderr, "sp_json_problem says %s, sp_json_parse returns %d\n",
                problem ? problem : "ok", rc);
        abort();
    }
    if (rc != 0)
        return 0;
    if (!doc)
        abort();
    static const char *const allowed[] = {"a", "name", "scopes", NULL};
    if (cJSON_IsObject(doc))
        (void)sp_json_unknown_member(doc, allowed);
    char *printed = cJSON_PrintUnformatted(doc);
    if (printed) {
        const char *again = sp_json_problem(printed, strlen(printed));
        if (again) {
            fprintf(stderr, "rendering is not strict JSON (%s): %s\n", again, printed);
            abort();
        }
        free(printed);
    }
    cJSON_Delete(doc);
    return 0;
}
