/*
 * lang.c — language detection by stopwords and marker characters.
 */
#include "nlp/lang.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "langs.h"
#include "nlp/token.h"
#include "nlp/utf8.h"
#include "platform/error.h"
#include "wordsets.h"

/* Below this much evidence, or this lead, the answer is "und". */
#define MIN_EVIDENCE 2.0
#define MIN_LEAD     1.0

static void add_char_evidence(const char *text, size_t len, double *score)
{
    uint32_t prev2 = 0, prev1 = 0;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        i += nlp_utf8_decode(text + i, len - i, &cp);
        cp = nlp_utf8_lower(cp);
        switch (cp) {
        case 0xE3: /* ã */
        case 0xF5: /* õ */
            score[L_PT] += 1.5;
            break;
        case 0xE7: /* ç */
            score[L_PT] += 0.5;
            score[L_FR] += 0.5;
            break;
        case 0xF1: /* ñ */
        case 0xA1: /* ¡ */
        case 0xBF: /* ¿ */
            score[L_ES] += 1.5;
            break;
        case 0xDF: /* ß */
        case 0xE4: /* ä */
        case 0xF6: /* ö */
            score[L_DE] += 1.5;
            break;
        case 0xFC: /* ü: German, rarely Spanish/Portuguese */
            score[L_DE] += 1.0;
            break;
        case 0xE8: /* è */
        case 0xF9: /* ù */
        case 0xEB: /* ë */
            score[L_FR] += 0.5;
            score[L_IT] += 0.5;
            break;
        case 0xF3: /* ó after "ci" ending "-ción" */
            if (prev2 == 'c' && prev1 == 'i')
                score[L_ES] += 1.5;
            break;
        case 'h': /* "lh", "nh" are Portuguese spellings */
            if (prev1 == 'l' || prev1 == 'n')
                score[L_PT] += 0.5;
            break;
        default:
            break;
        }
        prev2 = prev1;
        prev1 = cp;
    }
}

/* Spellings typical of one language, on the folded word (weak evidence:
 * short texts often have no function word). */
static void add_word_evidence(const char *w, double *score)
{
    size_t n = strlen(w);
    if (n >= 5 && strcmp(w + n - 3, "ing") == 0)
        score[L_EN] += 0.7;
    if (strstr(w, "th"))
        score[L_EN] += 0.5;
    if (strchr(w, 'w')) {
        score[L_EN] += 0.3;
        score[L_DE] += 0.3;
    }
    if (strchr(w, 'k')) {
        score[L_EN] += 0.2;
        score[L_DE] += 0.2;
    }
    if (n >= 4 && w[0] == 'l' && w[1] == 'l')
        score[L_ES] += 0.7;
    if (n >= 5 && (strcmp(w + n - 4, "mente") == 0 || strcmp(w + n - 4, "ente") == 0)) {
        score[L_PT] += 0.2;
        score[L_ES] += 0.2;
    }
    if (n >= 4 && strcmp(w + n - 3, "sch") == 0)
        score[L_DE] += 0.5;
}

int nlp_lang_detect(const char *text, size_t len, nlp_lang_result_t *out)
{
    if (!out || (!text && len > 0))
        return SP_EINVAL;
    snprintf(out->code, sizeof(out->code), "und");
    out->confidence = 0.0;
    const ps_set_t *sw = wordsets_stopwords();
    if (!sw)
        return SP_ENOMEM;
    double score[L_COUNT] = {0};
    nlp_tokens_t toks;
    nlp_tokens_init(&toks);
    int rc = nlp_tokenize(text, len, &toks);
    if (rc)
        return rc;
    ps_hit_t hits[L_COUNT * 2];
    for (size_t i = 0; i < toks.n; i++) {
        if (toks.v[i].kind == NLP_TOK_WORD)
            add_word_evidence(toks.v[i].norm, score);
        size_t nh = ps_match_at(sw, toks.v, toks.n, i, LM_ALL, hits, L_COUNT * 2);
        if (nh > L_COUNT * 2)
            nh = L_COUNT * 2;
        /* A word shared by k languages gives each of them 1/k. */
        uint32_t seen = 0;
        int k_langs = 0;
        for (size_t k = 0; k < nh; k++) {
            int l = hits[k].info->id;
            if (!(seen & LM(l))) {
                seen |= LM(l);
                k_langs++;
            }
        }
        for (int l = 0; l < L_COUNT; l++)
            if (seen & LM(l))
                score[l] += 1.0 / k_langs;
    }
    nlp_tokens_cleanup(&toks);
    add_char_evidence(text, len, score);

    int best = 0, second = -1;
    for (int l = 1; l < L_COUNT; l++) {
        if (score[l] > score[best]) {
            second = best;
            best = l;
        } else if (second < 0 || score[l] > score[second]) {
            second = l;
        }
    }
    double b = score[best], s = second >= 0 ? score[second] : 0.0;
    if (b < MIN_EVIDENCE || b - s < MIN_LEAD)
        return 0;
    /* The lead over the runner-up, in points, decides: 1 -> 0.39, 2 -> 0.63,
     * 4 -> 0.86, 6 -> 0.95. */
    double conf = 1.0 - exp(-(b - s) / 2.0);
    snprintf(out->code, sizeof(out->code), "%s", langs_code(best));
    out->confidence = round(conf * 1e4) / 1e4;
    return 0;
}

int nlp_lang_normalize(const char *tag, char out[NLP_LANG_MAX])
{
    snprintf(out, NLP_LANG_MAX, "und");
    if (!tag)
        return SP_EINVAL;
    size_t n = 0;
    while (tag[n] && tag[n] != '-' && tag[n] != '_')
        n++;
    if (n < 2 || n > 3)
        return SP_EINVAL;
    char tmp[4];
    for (size_t i = 0; i < n; i++) {
        char c = tag[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c < 'a' || c > 'z')
            return SP_EINVAL;
        tmp[i] = c;
    }
    tmp[n] = '\0';
    /* A region or script after the separator must be ASCII letters/digits. */
    if (tag[n]) {
        const char *r = tag + n + 1;
        if (!*r)
            return SP_EINVAL;
        for (; *r; r++) {
            char c = *r;
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_'))
                return SP_EINVAL;
        }
    }
    memcpy(out, tmp, n + 1);
    return 0;
}

bool nlp_lang_has_lexicon(const char *code)
{
    int id = langs_id(code);
    return id == L_EN || id == L_PT || id == L_ES;
}
