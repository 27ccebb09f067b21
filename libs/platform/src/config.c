#include "platform/config.h"
#include "platform/error.h"
#include "platform/log.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Bad values are quoted in error messages up to this length, so a long
 * value pasted into the wrong variable cannot flood the log. */
#define QUOTE_MAX 64

/* One variable read; kept for sp_config_describe and to own returned strings. */
typedef struct entry {
    struct entry *next;
    char *name;
    char *type; /* "string", "integer 1..65535", ... */
    char *def;  /* default as text; NULL when required or without default */
    char *doc;
    char *value; /* the copy handed to the caller by sp_config_str */
    int required;
} entry_t;

struct sp_config {
    char *service;
    entry_t *head, *tail;
    char **errors;
    size_t n_errors, cap_errors;
    int oom;
};

sp_config_t *sp_config_new(const char *service)
{
    sp_config_t *cfg = calloc(1, sizeof(*cfg));
    if (!cfg)
        return NULL;
    cfg->service = strdup(service ? service : "serphona");
    if (!cfg->service) {
        free(cfg);
        return NULL;
    }
    return cfg;
}

void sp_config_destroy(sp_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_config_t *cfg = *self_p;
    entry_t *e = cfg->head;
    while (e) {
        entry_t *next = e->next;
        free(e->name);
        free(e->type);
        free(e->def);
        free(e->doc);
        free(e->value);
        free(e);
        e = next;
    }
    for (size_t i = 0; i < cfg->n_errors; i++)
        free(cfg->errors[i]);
    free(cfg->errors);
    free(cfg->service);
    free(cfg);
    *self_p = NULL;
}

static char *dup_or_null(sp_config_t *cfg, const char *s)
{
    if (!s)
        return NULL;
    char *p = strdup(s);
    if (!p)
        cfg->oom = 1;
    return p;
}

static void vadd_error(sp_config_t *cfg, const char *fmt, va_list ap)
{
    if (cfg->n_errors == cfg->cap_errors) {
        size_t cap = cfg->cap_errors ? cfg->cap_errors * 2 : 8;
        char **p = realloc(cfg->errors, cap * sizeof(*p));
        if (!p) {
            cfg->oom = 1;
            return;
        }
        cfg->errors = p;
        cfg->cap_errors = cap;
    }
    char *msg;
    if (vasprintf(&msg, fmt, ap) < 0) {
        cfg->oom = 1;
        return;
    }
    cfg->errors[cfg->n_errors++] = msg;
}

void sp_config_add_error(sp_config_t *cfg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vadd_error(cfg, fmt, ap);
    va_end(ap);
}

/* Records the variable and returns its entry (NULL when out of memory, which
 * is remembered for sp_config_check). */
static entry_t *record(sp_config_t *cfg, const char *name, const char *type, const char *def,
                       const char *doc, int required)
{
    entry_t *e = calloc(1, sizeof(*e));
    if (!e) {
        cfg->oom = 1;
        return NULL;
    }
    e->name = dup_or_null(cfg, name);
    e->type = dup_or_null(cfg, type);
    e->def = dup_or_null(cfg, def);
    e->doc = dup_or_null(cfg, doc ? doc : "");
    e->required = required;
    if (cfg->tail)
        cfg->tail->next = e;
    else
        cfg->head = e;
    cfg->tail = e;
    return e;
}

/* The variable's value, or NULL when unset or empty. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* A copy of v cut to QUOTE_MAX bytes for error messages. */
static void quote(char *out, size_t cap, const char *v)
{
    size_t n = strlen(v);
    if (n < cap) {
        memcpy(out, v, n + 1);
    } else {
        snprintf(out, cap, "%.*s...", (int)(cap - 4), v);
    }
}

const char *sp_config_str(sp_config_t *cfg, const char *name, const char *def, const char *doc)
{
    assert(cfg && name);
    entry_t *e = record(cfg, name, "string", def, doc, 0);
    const char *v = env(name);
    if (!v)
        return def;
    /* Out of memory (reported by sp_config_check): the environment's own
     * string is still better than a NULL the caller did not expect. */
    if (!e || !(e->value = dup_or_null(cfg, v)))
        return v;
    return e->value;
}

const char *sp_config_required(sp_config_t *cfg, const char *name, const char *doc)
{
    assert(cfg && name);
    entry_t *e = record(cfg, name, "string", NULL, doc, 1);
    const char *v = env(name);
    if (!v) {
        sp_config_add_error(cfg, "%s: required but not set", name);
        return NULL;
    }
    /* Out of memory (reported by sp_config_check): the environment's own
     * string is still better than a NULL the caller did not expect. */
    if (!e || !(e->value = dup_or_null(cfg, v)))
        return v;
    return e->value;
}

/* Parses a base-10 long with optional surrounding blanks; 0 on success. */
static int parse_long(const char *v, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (end == v || errno == ERANGE)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    if (*end)
        return -1;
    *out = n;
    return 0;
}

int sp_config_int(sp_config_t *cfg, const char *name, int def, int min, int max, const char *doc)
{
    assert(cfg && name && min <= max);
    char type[64], deftext[16];
    snprintf(type, sizeof(type), "integer %d..%d", min, max);
    snprintf(deftext, sizeof(deftext), "%d", def);
    record(cfg, name, type, deftext, doc, 0);
    const char *v = env(name);
    if (!v)
        return def;
    long n;
    if (parse_long(v, &n) != 0 || n < min || n > max) {
        char q[QUOTE_MAX];
        quote(q, sizeof(q), v);
        sp_config_add_error(cfg, "%s: expected an integer between %d and %d, got '%s'", name, min,
                            max, q);
        return def;
    }
    return (int)n;
}

int sp_config_port(sp_config_t *cfg, const char *name, int def, const char *doc)
{
    return sp_config_int(cfg, name, def, 1, 65535, doc);
}

int sp_config_bool(sp_config_t *cfg, const char *name, int def, const char *doc)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    assert(cfg && name);
    record(cfg, name, "boolean", def ? "true" : "false", doc, 0);
    const char *v = env(name);
    if (!v)
        return def;
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return 1;
        if (strcasecmp(v, no[i]) == 0)
            return 0;
    }
    char q[QUOTE_MAX];
    quote(q, sizeof(q), v);
    sp_config_add_error(cfg, "%s: expected true/false, yes/no, on/off or 1/0, got '%s'", name, q);
    return def;
}

int sp_config_enum(sp_config_t *cfg, const char *name, int def, const char *const *choices,
                   const char *doc)
{
    assert(cfg && name && choices);
    /* "one of a, b, c" serves both the description and the error message. */
    char list[512];
    size_t len = 0;
    int n = 0;
    list[0] = '\0';
    for (; choices[n]; n++) {
        int w = snprintf(list + len, sizeof(list) - len, "%s%s", n ? ", " : "", choices[n]);
        if (w > 0)
            len = (size_t)w < sizeof(list) - len ? len + (size_t)w : sizeof(list) - 1;
    }
    assert(def >= 0 && def < n);
    char type[sizeof(list) + 16];
    snprintf(type, sizeof(type), "one of %s", list);
    record(cfg, name, type, choices[def], doc, 0);
    const char *v = env(name);
    if (!v)
        return def;
    for (int i = 0; i < n; i++)
        if (strcmp(v, choices[i]) == 0)
            return i;
    char q[QUOTE_MAX];
    quote(q, sizeof(q), v);
    sp_config_add_error(cfg, "%s: expected one of %s, got '%s'", name, list, q);
    return def;
}

int sp_config_check(sp_config_t *cfg)
{
    assert(cfg);
    for (size_t i = 0; i < cfg->n_errors; i++)
        sp_log_error("invalid configuration: %s", cfg->errors[i]);
    if (cfg->oom) {
        sp_log_error("out of memory while reading the configuration");
        return SP_ENOMEM;
    }
    return cfg->n_errors ? SP_ECONFIG : SP_OK;
}

size_t sp_config_error_count(const sp_config_t *cfg)
{
    return cfg->n_errors;
}

const char *sp_config_error(const sp_config_t *cfg, size_t i)
{
    return i < cfg->n_errors ? cfg->errors[i] : NULL;
}

void sp_config_describe(const sp_config_t *cfg, FILE *out)
{
    fprintf(out, "Environment variables read by %s:\n", cfg->service);
    for (const entry_t *e = cfg->head; e; e = e->next) {
        if (!e->name)
            continue;
        /* A variable read twice is described once, as first read. */
        int seen = 0;
        for (const entry_t *p = cfg->head; p != e && !seen; p = p->next)
            seen = p->name && strcmp(p->name, e->name) == 0;
        if (seen)
            continue;
        fprintf(out, "  %s (%s", e->name, e->type ? e->type : "string");
        if (e->required)
            fprintf(out, ", required)\n");
        else if (e->def)
            fprintf(out, ", default: %s)\n", e->def);
        else
            fprintf(out, ", no default)\n");
        if (e->doc && *e->doc)
            fprintf(out, "      %s\n", e->doc);
    }
}
