/*
 * fuzz_nlp.c — libnlp's analysis (nlp_analyze) on arbitrary bytes: invalid
 * UTF-8, NULs, huge tokens, any timestamps, any language tag, and its JSON
 * rendering, which must always parse back.
 *
 * Input: four header bytes (language tag choice, csat, nps, rating), then
 * utterances separated by '\n'; the first byte of each utterance picks its
 * speaker and its timing (known, unknown, inverted, overlapping).
 */
#include "fuzz_common.h"

#include <cjson/cJSON.h>

#include "nlp/analyze.h"

#define MAX_UTT 256

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_quiet();
    return 0;
}

static const char *const LANGS[] = {NULL, "",      "en", "pt-BR", "es",
                                    "pt", "EN-us", "xx", "und",   "en-"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    nlp_interaction_t in;
    nlp_interaction_init(&in);
    in.language = LANGS[data[0] % (sizeof LANGS / sizeof *LANGS)];
    in.csat = (int)(data[1] % 8) - 1; /* -1..6: one out of range */
    in.nps = (int)(data[2] % 13) - 1; /* -1..11 */
    in.rating = (int)(data[3] % 8) - 1;
    data += 4, size -= 4;

    nlp_utterance_t utt[MAX_UTT];
    size_t n = 0;
    int64_t clock = 0;
    const uint8_t *p = data, *end = data + size;
    while (p < end && n < MAX_UTT) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *stop = nl ? nl : end;
        uint8_t ctl = p < stop ? *p++ : 0;
        nlp_utterance_t *u = &utt[n++];
        u->speaker = (nlp_speaker_t)(ctl % NLP_SPEAKER_COUNT);
        u->text = (const char *)p;
        /* len 0 means strlen(text): give an explicit length, never 0, so an
         * empty line is read as nothing rather than past its end. */
        u->len = (size_t)(stop - p);
        if (u->len == 0)
            u->text = "";
        switch ((ctl >> 2) & 3) {
        case 0: /* unknown */
            u->start_ms = u->end_ms = -1;
            break;
        case 1: /* in order */
            u->start_ms = clock;
            u->end_ms = clock += 100 * (ctl >> 4) + 1;
            break;
        case 2: /* overlapping the previous one */
            u->start_ms = clock > 500 ? clock - 500 : 0;
            u->end_ms = clock += 700;
            break;
        default: /* inverted, or a huge gap */
            u->start_ms = (ctl & 0x80) ? clock + 1000 : clock + 86400000LL * 30;
            u->end_ms = (ctl & 0x80) ? clock : u->start_ms + 1;
            break;
        }
        p = nl ? nl + 1 : end;
    }
    in.utterances = utt;
    in.n_utterances = n;

    nlp_result_t res;
    if (nlp_analyze(&in, NULL, NULL, &res) == 0) {
        char *json = nlp_result_to_json(&res);
        if (json) {
            cJSON *back = cJSON_Parse(json);
            if (!back) {
                fprintf(stderr, "nlp_result_to_json is not JSON: %s\n", json);
                abort();
            }
            cJSON_Delete(back);
            free(json);
        }
        for (size_t i = 0; i < res.n_utterances; i++)
            (void)strlen(res.utterances[i].text);
        nlp_result_cleanup(&res);
    }
    return 0;
}
