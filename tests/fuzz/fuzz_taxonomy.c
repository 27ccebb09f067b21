/*
 * fuzz_taxonomy.c — a tenant's taxonomy document (libnlp taxonomy.c), the
 * body of PUT /v1/tenants/current/taxonomy that analytics-processor parses
 * again for every tenant: parse and validate, render back (which must parse
 * to the same taxonomy size), and match a fixed conversation against it.
 */
#include "fuzz_common.h"

#include "nlp/analyze.h"
#include "nlp/taxonomy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nlp_taxonomy_t *tax = NULL;
    char err[256];
    if (nlp_taxonomy_from_json((const char *)data, size, &tax, err, sizeof err) != 0) {
        if (tax)
            abort(); /* *out is NULL on failure */
        return 0;
    }
    char *json = nlp_taxonomy_to_json(tax);
    if (json) {
        nlp_taxonomy_t *again = NULL;
        if (nlp_taxonomy_from_json(json, strlen(json), &again, err, sizeof err) != 0) {
            fprintf(stderr, "rendered taxonomy does not parse back (%s): %s\n", err, json);
            abort();
        }
        if (nlp_taxonomy_size(again) != nlp_taxonomy_size(tax))
            abort();
        nlp_taxonomy_destroy(&again);
        free(json);
    }
    for (size_t i = 0; i < nlp_taxonomy_size(tax); i++)
        (void)strlen(nlp_taxonomy_id(tax, i)), (void)strlen(nlp_taxonomy_name(tax, i));

    static const nlp_utterance_t utt[] = {
        {NLP_SPEAKER_CUSTOMER, "I want to cancel my subscription, the invoice is wrong", 0, 0,
         3000},
        {NLP_SPEAKER_AGENT, "Claro, posso ajudar com o reembolso da fatura.", 0, 3500, 6000},
        {NLP_SPEAKER_CUSTOMER, "No funciona la entrega del paquete", 0, -1, -1},
    };
    nlp_interaction_t in;
    nlp_interaction_init(&in);
    in.utterances = utt;
    in.n_utterances = sizeof utt / sizeof *utt;
    nlp_result_t res;
    if (nlp_analyze(&in, tax, NULL, &res) == 0)
        nlp_result_cleanup(&res);
    nlp_taxonomy_destroy(&tax);
    return 0;
}
