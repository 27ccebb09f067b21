/*
 * wordsets.c (internal) — builds the stopword phrase sets once.
 */
#include "wordsets.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "langs.h"
#include "stopwords.h"

/* Adds every space-separated word of list as a one-word pattern. */
static int add_list(ps_set_t *set, const char *list, int lang)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        if (e > p) {
            char w[64];
            size_t n = (size_t)(e - p) < sizeof(w) - 1 ? (size_t)(e - p) : sizeof(w) - 1;
            memcpy(w, p, n);
            w[n] = '\0';
            int rc = ps_add(set, w, LM(lang), lang, 1.0f, NULL, 0);
            if (rc)
                return rc;
        }
        p = e;
    }
    return 0;
}

static ps_set_t *stopwords_set;
static ps_set_t *keyword_stops_set;
static pthread_once_t stopwords_once = PTHREAD_ONCE_INIT;
static pthread_once_t keyword_once = PTHREAD_ONCE_INIT;

static ps_set_t *build(int with_fillers)
{
    ps_set_t *s = ps_new();
    if (!s)
        return NULL;
    for (int l = 0; l < L_COUNT; l++) {
        if (add_list(s, nlp_stopwords[l], l) || (with_fillers && add_list(s, nlp_fillers[l], l)))
            goto fail;
    }
    if (ps_finish(s))
        goto fail;
    return s;
fail:
    ps_destroy(&s);
    return NULL;
}

static void build_stopwords(void)
{
    stopwords_set = build(0);
}

static void build_keyword_stops(void)
{
    keyword_stops_set = build(1);
}

const ps_set_t *wordsets_stopwords(void)
{
    pthread_once(&stopwords_once, build_stopwords);
    return stopwords_set;
}

const ps_set_t *wordsets_keyword_stops(void)
{
    pthread_once(&keyword_once, build_keyword_stops);
    return keyword_stops_set;
}
