/*
 * taxonomy.c — taxonomies (default and tenant JSON) and topic matching.
 */
#include "nlp/taxonomy.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "langs.h"
#include "nlp/token.h"
#include "nlp/utf8.h"
#include "phraseset.h"
#include "platform/error.h"
#include "platform/json.h"
#include "taxonomy_default.h"

#define NAME_MAX_BYTES 128
#define DESC_MAX_BYTES 1024
#define LANG_KEYS      (L_COUNT + 1) /* the languages and "any" */

typedef struct {
    char *text;
    uint32_t langs; /* one language bit, or LM_ALL for "any" */
} tpattern_t;

typedef struct {
    char id[NLP_ID_MAX + 1];
    char *name;
    char *description;
    nlp_category_kind_t kind;
    double weight;
    tpattern_t *pats;
    size_t n_pats, cap_pats;
} category_t;

struct nlp_taxonomy {
    category_t *cats;
    size_t n, cap;
    ps_set_t *set;
};

const char *nlp_category_kind_name(nlp_category_kind_t kind)
{
    return kind == NLP_CATEGORY_INTENT ? "intent" : "topic";
}

static void category_cleanup(category_t *c)
{
    for (size_t i = 0; i < c->n_pats; i++)
        free(c->pats[i].text);
    free(c->pats);
    free(c->name);
    free(c->description);
    memset(c, 0, sizeof(*c));
}

void nlp_taxonomy_destroy(nlp_taxonomy_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    nlp_taxonomy_t *t = *self_p;
    for (size_t i = 0; i < t->n; i++)
        category_cleanup(&t->cats[i]);
    free(t->cats);
    ps_destroy(&t->set);
    free(t);
    *self_p = NULL;
}

static int add_pattern(category_t *c, const char *text, uint32_t langs)
{
    if (c->n_pats == c->cap_pats) {
        size_t ncap = c->cap_pats ? c->cap_pats * 2 : 16;
        tpattern_t *np = realloc(c->pats, ncap * sizeof(*np));
        if (!np)
            return SP_ENOMEM;
        c->pats = np;
        c->cap_pats = ncap;
    }
    char *dup = strdup(text);
    if (!dup)
        return SP_ENOMEM;
    c->pats[c->n_pats].text = dup;
    c->pats[c->n_pats].langs = langs;
    c->n_pats++;
    return 0;
}

/* Appends an empty category; NULL when out of memory. */
static category_t *add_category(nlp_taxonomy_t *t)
{
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 32;
        category_t *nc = realloc(t->cats, ncap * sizeof(*nc));
        if (!nc)
            return NULL;
        t->cats = nc;
        t->cap = ncap;
    }
    category_t *c = &t->cats[t->n++];
    memset(c, 0, sizeof(*c));
    c->weight = 1.0;
    return c;
}

static int copy_category(category_t *dst, const category_t *src)
{
    memcpy(dst->id, src->id, sizeof(dst->id));
    dst->kind = src->kind;
    dst->weight = src->weight;
    dst->name = strdup(src->name);
    if (!dst->name)
        return SP_ENOMEM;
    if (src->description && !(dst->description = strdup(src->description)))
        return SP_ENOMEM;
    for (size_t i = 0; i < src->n_pats; i++)
        if (add_pattern(dst, src->pats[i].text, src->pats[i].langs))
            return SP_ENOMEM;
    return 0;
}

/* Compiles every pattern into the lookup set. */
static int compile(nlp_taxonomy_t *t)
{
    ps_set_t *s = ps_new();
    if (!s)
        return SP_ENOMEM;
    for (size_t c = 0; c < t->n; c++) {
        for (size_t p = 0; p < t->cats[c].n_pats; p++) {
            int rc = ps_add(s, t->cats[c].pats[p].text, t->cats[c].pats[p].langs, (int32_t)c, 0,
                            NULL, 0);
            if (rc) {
                ps_destroy(&s);
                return rc;
            }
        }
    }
    if (ps_finish(s)) {
        ps_destroy(&s);
        return SP_ENOMEM;
    }
    ps_destroy(&t->set);
    t->set = s;
    return 0;
}

/* ---- the default taxonomy ------------------------------------------------- */

static nlp_taxonomy_t *default_tax;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static int add_split(category_t *c, const char *list, uint32_t langs)
{
    const char *p = list;
    while (p && *p) {
        const char *e = strchr(p, '|');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char buf[PS_MAX_PATTERN + 1];
        if (n > PS_MAX_PATTERN)
            return SP_EINVAL;
        memcpy(buf, p, n);
        buf[n] = '\0';
        if (n > 0 && add_pattern(c, buf, langs))
            return SP_ENOMEM;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

static void build_default(void)
{
    nlp_taxonomy_t *t = calloc(1, sizeof(*t));
    if (!t)
        return;
    for (size_t i = 0; i < nlp_default_taxonomy_len; i++) {
        const default_category_t *d = &nlp_default_taxonomy[i];
        category_t *c = add_category(t);
        if (!c)
            goto fail;
        snprintf(c->id, sizeof(c->id), "%s", d->id);
        c->kind = (nlp_category_kind_t)d->kind;
        c->name = strdup(d->name);
        if (!c->name || add_split(c, d->en, LM(L_EN)) || add_split(c, d->pt, LM(L_PT)) ||
            add_split(c, d->es, LM(L_ES)))
            goto fail;
    }
    if (compile(t))
        goto fail;
    default_tax = t;
    return;
fail:
    nlp_taxonomy_destroy(&t);
}

const nlp_taxonomy_t *nlp_taxonomy_default(void)
{
    pthread_once(&default_once, build_default);
    return default_tax;
}

/* ---- JSON in ---------------------------------------------------------------- */

static int errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return SP_EINVAL;
}

static int valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NLP_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static const char *const lang_keys[LANG_KEYS] = {"en", "pt", "es", "fr", "de", "it", "any"};

static uint32_t lang_key_mask(int k)
{
    return k == L_COUNT ? LM_ALL : LM(k);
}

static int parse_pattern_list(const cJSON *arr, uint32_t langs, category_t *c, size_t ci,
                              const char *key, char *err, size_t errlen)
{
    if (!cJSON_IsArray(arr))
        return errf(err, errlen, "categories[%zu].patterns%s%s: must be an array of strings", ci,
                    key ? "." : "", key ? key : "");
    size_t k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it))
            return errf(err, errlen, "categories[%zu].patterns%s%s[%zu]: must be a string", ci,
                        key ? "." : "", key ? key : "", k);
        if (c->n_pats >= NLP_TAXONOMY_MAX_PATTERNS)
            return errf(err, errlen, "categories[%zu].patterns: more than %d patterns", ci,
                        NLP_TAXONOMY_MAX_PATTERNS);
        const char *s = it->valuestring;
        char why[128];
        int rc = nlp_utf8_valid(s, strlen(s)) ? ps_validate(s, why, sizeof(why)) : SP_EINVAL;
        if (rc == SP_ENOMEM)
            return rc;
        if (rc) {
            if (!nlp_utf8_valid(s, strlen(s)))
                snprintf(why, sizeof(why), "not valid UTF-8");
            return errf(err, errlen, "categories[%zu].patterns%s%s[%zu]: %s", ci, key ? "." : "",
                        key ? key : "", k, why);
        }
        if (add_pattern(c, s, langs))
            return SP_ENOMEM;
        k++;
    }
    return 0;
}

/* Parses one category object into c; *enabled says whether it is on. */
static int parse_category(const cJSON *obj, size_t ci, category_t *c, int *enabled, char *err,
                          size_t errlen)
{
    if (!cJSON_IsObject(obj))
        return errf(err, errlen, "categories[%zu]: must be an object", ci);
    *enabled = 1;
    const cJSON *id = NULL, *patterns = NULL;
    const cJSON *f;
    cJSON_ArrayForEach(f, obj)
    {
        const char *k = f->string;
        if (strcmp(k, "id") == 0) {
            id = f;
        } else if (strcmp(k, "name") == 0) {
            if (!cJSON_IsString(f) || strlen(f->valuestring) > NAME_MAX_BYTES ||
                !nlp_utf8_valid(f->valuestring, strlen(f->valuestring)))
                return errf(err, errlen,
                            "categories[%zu].name: must be a UTF-8 string of at most %d bytes", ci,
                            NAME_MAX_BYTES);
            free(c->name);
            if (!(c->name = strdup(f->valuestring)))
                return SP_ENOMEM;
        } else if (strcmp(k, "description") == 0) {
            if (!cJSON_IsString(f) || strlen(f->valuestring) > DESC_MAX_BYTES ||
                !nlp_utf8_valid(f->valuestring, strlen(f->valuestring)))
                return errf(err, errlen,
                            "categories[%zu].description: must be a UTF-8 string of at most %d "
                            "bytes",
                            ci, DESC_MAX_BYTES);
            free(c->description);
            if (!(c->description = strdup(f->valuestring)))
                return SP_ENOMEM;
        } else if (strcmp(k, "kind") == 0) {
            if (cJSON_IsString(f) && strcmp(f->valuestring, "topic") == 0)
                c->kind = NLP_CATEGORY_TOPIC;
            else if (cJSON_IsString(f) && strcmp(f->valuestring, "intent") == 0)
                c->kind = NLP_CATEGORY_INTENT;
            else
                return errf(err, errlen, "categories[%zu].kind: must be \"topic\" or \"intent\"",
                            ci);
        } else if (strcmp(k, "weight") == 0) {
            if (!cJSON_IsNumber(f) || !(f->valuedouble > 0) || f->valuedouble > 10)
                return errf(err, errlen, "categories[%zu].weight: must be a number in (0, 10]", ci);
            c->weight = f->valuedouble;
        } else if (strcmp(k, "enabled") == 0) {
            if (!cJSON_IsBool(f))
                return errf(err, errlen, "categories[%zu].enabled: must be true or false", ci);
            *enabled = cJSON_IsTrue(f);
        } else if (strcmp(k, "patterns") == 0) {
            patterns = f;
        } else {
            return errf(err, errlen, "categories[%zu]: unknown field \"%s\"", ci, k);
        }
    }
    if (!id || !cJSON_IsString(id) || !valid_id(id->valuestring))
        return errf(err, errlen,
                    "categories[%zu].id: required, 1 to %d characters of a-z, 0-9, _ and -", ci,
                    NLP_ID_MAX);
    snprintf(c->id, sizeof(c->id), "%s", id->valuestring);
    if (!c->name && !(c->name = strdup(c->id)))
        return SP_ENOMEM;
    if (!*enabled)
        return 0;
    if (!patterns)
        return errf(err, errlen, "categories[%zu].patterns: required", ci);
    if (cJSON_IsArray(patterns)) {
        int rc = parse_pattern_list(patterns, LM_ALL, c, ci, NULL, err, errlen);
        if (rc)
            return rc;
    } else if (cJSON_IsObject(patterns)) {
        const cJSON *lk;
        cJSON_ArrayForEach(lk, patterns)
        {
            int key = -1;
            for (int k = 0; k < LANG_KEYS; k++)
                if (strcmp(lk->string, lang_keys[k]) == 0)
                    key = k;
            if (key < 0)
                return errf(err, errlen,
                            "categories[%zu].patterns: unknown language \"%s\" (use en, pt, es, "
                            "fr, de, it or any)",
                            ci, lk->string);
            int rc = parse_pattern_list(lk, lang_key_mask(key), c, ci, lang_keys[key], err, errlen);
            if (rc)
                return rc;
        }
    } else {
        return errf(err, errlen, "categories[%zu].patterns: must be an object or an array", ci);
    }
    if (c->n_pats == 0)
        return errf(err, errlen, "categories[%zu].patterns: at least one pattern is needed", ci);
    return 0;
}

static long find_category(const nlp_taxonomy_t *t, const char *id)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->cats[i].id, id) == 0)
            return (long)i;
    return -1;
}

int nlp_taxonomy_from_json(const char *json, size_t len, nlp_taxonomy_t **out, char *err,
                           size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return SP_EINVAL;
    *out = NULL;
    if (!json)
        return errf(err, errlen, "no JSON given");
    if (len > NLP_TAXONOMY_MAX_JSON) {
        errf(err, errlen, "taxonomy JSON larger than %d bytes", NLP_TAXONOMY_MAX_JSON);
        return SP_ETOOBIG;
    }
    const nlp_taxonomy_t *def = nlp_taxonomy_default();
    if (!def)
        return SP_ENOMEM;
    /* Strict: the document is stored as given, so a second document, trailing
     * bytes or a NUL escape must be refused here, not by the database. */
    cJSON *root = NULL;
    const char *why = NULL;
    int prc = sp_json_parse(json, len, &root, &why);
    if (prc == SP_ENOMEM)
        return SP_ENOMEM;
    if (prc != 0)
        return errf(err, errlen, "not valid JSON: %s", why);
    int rc = 0;
    nlp_taxonomy_t *t = NULL, *own = NULL;
    int replace = 0;
    const cJSON *cats = NULL, *f;
    if (!cJSON_IsObject(root)) {
        rc = errf(err, errlen, "the taxonomy must be a JSON object");
        goto done;
    }
    cJSON_ArrayForEach(f, root)
    {
        if (strcmp(f->string, "mode") == 0) {
            if (cJSON_IsString(f) && strcmp(f->valuestring, "replace") == 0) {
                replace = 1;
            } else if (!(cJSON_IsString(f) && strcmp(f->valuestring, "extend") == 0)) {
                rc = errf(err, errlen, "mode: must be \"extend\" or \"replace\"");
                goto done;
            }
        } else if (strcmp(f->string, "categories") == 0) {
            cats = f;
        } else if (strcmp(f->string, "version") == 0) {
            if (!cJSON_IsNumber(f) || f->valuedouble != 1) {
                rc = errf(err, errlen, "version: only version 1 exists");
                goto done;
            }
        } else {
            rc = errf(err, errlen, "unknown field \"%s\"", f->string);
            goto done;
        }
    }
    if (!cJSON_IsArray(cats)) {
        rc = errf(err, errlen, "categories: required, an array");
        goto done;
    }
    if (cJSON_GetArraySize(cats) > NLP_TAXONOMY_MAX_CATEGORIES) {
        rc = SP_ETOOBIG;
        errf(err, errlen, "categories: more than %d", NLP_TAXONOMY_MAX_CATEGORIES);
        goto done;
    }
    /* Parse the tenant's categories on their own first (ids must be unique
     * within the document), then merge. */
    own = calloc(1, sizeof(*own));
    int *enabled = calloc((size_t)cJSON_GetArraySize(cats) + 1, sizeof(int));
    if (!own || !enabled) {
        free(enabled);
        rc = SP_ENOMEM;
        goto done;
    }
    size_t ci = 0;
    const cJSON *co;
    cJSON_ArrayForEach(co, cats)
    {
        category_t *c = add_category(own);
        if (!c) {
            rc = SP_ENOMEM;
            break;
        }
        rc = parse_category(co, ci, c, &enabled[ci], err, errlen);
        if (rc)
            break;
        if (find_category(own, c->id) != (long)own->n - 1) {
            rc = errf(err, errlen, "categories[%zu].id: \"%s\" appears twice", ci, c->id);
            break;
        }
        ci++;
    }
    if (rc) {
        free(enabled);
        goto done;
    }
    t = calloc(1, sizeof(*t));
    if (!t) {
        free(enabled);
        rc = SP_ENOMEM;
        goto done;
    }
    if (!replace) {
        for (size_t i = 0; i < def->n && !rc; i++) {
            long o = find_category(own, def->cats[i].id);
            if (o >= 0)
                continue; /* the tenant's version (or removal) wins */
            category_t *c = add_category(t);
            rc = c ? copy_category(c, &def->cats[i]) : SP_ENOMEM;
        }
    }
    /* Tenant categories: an override takes the default's place in order. */
    for (size_t i = 0; i < own->n && !rc; i++) {
        if (!enabled[i])
            continue;
        category_t *c = add_category(t);
        rc = c ? copy_category(c, &own->cats[i]) : SP_ENOMEM;
    }
    free(enabled);
    if (!rc)
        rc = compile(t);
done:
    cJSON_Delete(root);
    nlp_taxonomy_destroy(&own);
    if (rc) {
        nlp_taxonomy_destroy(&t);
        return rc;
    }
    *out = t;
    return 0;
}

/* ---- JSON out and accessors --------------------------------------------------- */

char *nlp_taxonomy_to_json(const nlp_taxonomy_t *tax)
{
    if (!tax)
        return NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON *cats = cJSON_AddArrayToObject(root, "categories");
    if (!root || !cats || !cJSON_AddStringToObject(root, "mode", "replace"))
        goto fail;
    for (size_t i = 0; i < tax->n; i++) {
        const category_t *c = &tax->cats[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(cats, o))
            goto fail_item;
        if (!cJSON_AddStringToObject(o, "id", c->id) ||
            !cJSON_AddStringToObject(o, "name", c->name) ||
            (c->description && !cJSON_AddStringToObject(o, "description", c->description)) ||
            !cJSON_AddStringToObject(o, "kind", nlp_category_kind_name(c->kind)) ||
            !cJSON_AddNumberToObject(o, "weight", c->weight))
            goto fail;
        cJSON *pats = cJSON_AddObjectToObject(o, "patterns");
        if (!pats)
            goto fail;
        for (int k = 0; k < LANG_KEYS; k++) {
            cJSON *arr = NULL;
            for (size_t p = 0; p < c->n_pats; p++) {
                if (c->pats[p].langs != lang_key_mask(k))
                    continue;
                if (!arr && !(arr = cJSON_AddArrayToObject(pats, lang_keys[k])))
                    goto fail;
                cJSON *s = cJSON_CreateString(c->pats[p].text);
                if (!s || !cJSON_AddItemToArray(arr, s)) {
                    cJSON_Delete(s);
                    goto fail;
                }
            }
        }
        continue;
    fail_item:
        cJSON_Delete(o);
        goto fail;
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
fail:
    cJSON_Delete(root);
    return NULL;
}

size_t nlp_taxonomy_size(const nlp_taxonomy_t *tax)
{
    return tax ? tax->n : 0;
}

const char *nlp_taxonomy_id(const nlp_taxonomy_t *tax, size_t i)
{
    return (tax && i < tax->n) ? tax->cats[i].id : NULL;
}

const char *nlp_taxonomy_name(const nlp_taxonomy_t *tax, size_t i)
{
    return (tax && i < tax->n) ? tax->cats[i].name : NULL;
}

nlp_category_kind_t nlp_taxonomy_kind(const nlp_taxonomy_t *tax, size_t i)
{
    return (tax && i < tax->n) ? tax->cats[i].kind : NLP_CATEGORY_TOPIC;
}

/* ---- matching ------------------------------------------------------------------ */

#define MAX_HITS_AT 64

typedef struct {
    size_t cat;
    double raw;
    unsigned hits;
} acc_t;

static int cmp_acc(const void *a, const void *b)
{
    const acc_t *x = a, *y = b;
    if (x->raw != y->raw)
        return x->raw < y->raw ? 1 : -1;
    return (x->cat > y->cat) - (x->cat < y->cat);
}

int nlp_taxonomy_match(const nlp_taxonomy_t *tax, const nlp_text_t *texts, size_t n_texts,
                       const char *lang, double min_score, nlp_topic_match_t *out, size_t max,
                       size_t *n_out)
{
    if (!tax || (!texts && n_texts > 0) || (!out && max > 0) || !n_out)
        return SP_EINVAL;
    *n_out = 0;
    if (tax->n == 0 || !tax->set)
        return 0;
    uint32_t mask = langs_data_mask(lang);
    acc_t *acc = calloc(tax->n, sizeof(*acc));
    size_t *next_free = calloc(tax->n, sizeof(*next_free));
    size_t *seen_at = calloc(tax->n, sizeof(*seen_at));
    ps_hit_t *hits = malloc(MAX_HITS_AT * sizeof(*hits));
    nlp_tokens_t toks;
    nlp_tokens_init(&toks);
    int rc = 0;
    if (!acc || !next_free || !seen_at || !hits) {
        rc = SP_ENOMEM;
        goto done;
    }
    for (size_t c = 0; c < tax->n; c++)
        acc[c].cat = c;
    for (size_t x = 0; x < n_texts; x++) {
        if (!(texts[x].weight > 0) || !texts[x].text)
            continue;
        size_t len = texts[x].len ? texts[x].len : strlen(texts[x].text);
        rc = nlp_tokenize(texts[x].text, len, &toks);
        if (rc)
            goto done;
        memset(next_free, 0, tax->n * sizeof(*next_free));
        for (size_t c = 0; c < tax->n; c++)
            seen_at[c] = SIZE_MAX;
        for (size_t i = 0; i < toks.n; i++) {
            size_t nh = ps_match_at(tax->set, toks.v, toks.n, i, mask, hits, MAX_HITS_AT);
            if (nh > MAX_HITS_AT)
                nh = MAX_HITS_AT;
            /* Longest first: one hit per category per position, and no hit
             * inside a phrase the category already counted. */
            for (size_t h = 0; h < nh; h++) {
                size_t c = (size_t)hits[h].info->id;
                if (i < next_free[c] || seen_at[c] == i)
                    continue;
                seen_at[c] = i;
                next_free[c] = i + hits[h].span;
                acc[c].raw +=
                    texts[x].weight * (1.0 + 0.5 * (hits[h].info->ntok - 1)) * tax->cats[c].weight;
                acc[c].hits++;
            }
        }
    }
    qsort(acc, tax->n, sizeof(*acc), cmp_acc);
    size_t k = 0;
    for (size_t c = 0; c < tax->n; c++) {
        if (acc[c].hits == 0)
            break;
        double score = round(acc[c].raw / (acc[c].raw + 2.0) * 1e4) / 1e4;
        if (score < min_score)
            continue;
        if (k < max) {
            nlp_topic_match_t *m = &out[k];
            memset(m, 0, sizeof(*m));
            snprintf(m->id, sizeof(m->id), "%s", tax->cats[acc[c].cat].id);
            m->kind = tax->cats[acc[c].cat].kind;
            m->score = score;
            m->raw = round(acc[c].raw * 1e4) / 1e4;
            m->hits = acc[c].hits;
        }
        k++;
    }
    *n_out = k;
done:
    nlp_tokens_cleanup(&toks);
    free(acc);
    free(next_free);
    free(seen_at);
    free(hits);
    return rc;
}

const nlp_topic_match_t *nlp_taxonomy_primary_intent(const nlp_topic_match_t *matches, size_t n)
{
    const nlp_topic_match_t *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (matches[i].kind == NLP_CATEGORY_INTENT && (!best || matches[i].score > best->score))
            best = &matches[i];
    return best;
}
