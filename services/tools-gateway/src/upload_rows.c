/*
 * upload_rows.c — CSV and JSON-lines rows as interaction objects
 * (upload_rows.h).
 */
#include "upload_rows.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "platform/error.h"

typedef enum {
    COL_EXTERNAL_ID,
    COL_CHANNEL,
    COL_OCCURRED_AT,
    COL_LANGUAGE,
    COL_CUSTOMER_REF,
    COL_SUBJECT,
    COL_TEXT,
    COL_DIRECTION,
    COL_AGENT_ID,
    COL_AGENT_NAME,
    COL_TAGS,
    COL_METADATA,
    COL_META_KEY,
    COL_RATING,
    COL_NPS,
    COL_CSAT,
    COL_UTTERANCES,
    COL_TRANSCRIPT,
    COL_COUNT
} col_t;

/* Column names; COL_META_KEY is matched by its "metadata." prefix. */
static const char *const COLUMNS[COL_COUNT] = {
    [COL_EXTERNAL_ID] = "external_id",
    [COL_CHANNEL] = "channel",
    [COL_OCCURRED_AT] = "occurred_at",
    [COL_LANGUAGE] = "language",
    [COL_CUSTOMER_REF] = "customer_ref",
    [COL_SUBJECT] = "subject",
    [COL_TEXT] = "text",
    [COL_DIRECTION] = "direction",
    [COL_AGENT_ID] = "agent_id",
    [COL_AGENT_NAME] = "agent_name",
    [COL_TAGS] = "tags",
    [COL_METADATA] = "metadata",
    [COL_META_KEY] = "metadata.*",
    [COL_RATING] = "rating",
    [COL_NPS] = "nps",
    [COL_CSAT] = "csat",
    [COL_UTTERANCES] = "utterances",
    [COL_TRANSCRIPT] = "transcript",
};

/* String columns copied to the member of the same name. */
static int is_plain(col_t c)
{
    return c <= COL_DIRECTION;
}

static int set_why(sp_arena_t *arena, tg_reject_t *why, const char *code, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int set_why(sp_arena_t *arena, tg_reject_t *why, const char *code, const char *field,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = sp_arena_vprintf(arena, fmt, ap);
    va_end(ap);
    why->code = code;
    why->field = field ? field : "";
    why->message = msg ? msg : code;
    return msg ? SP_EINVAL : SP_ENOMEM;
}

int tg_format_parse(const char *name, tg_format_t *out)
{
    if (!name)
        return SP_EINVAL;
    if (strcasecmp(name, "csv") == 0) {
        *out = TG_FORMAT_CSV;
        return SP_OK;
    }
    if (strcasecmp(name, "jsonl") == 0 || strcasecmp(name, "ndjson") == 0 ||
        strcasecmp(name, "jsonlines") == 0) {
        *out = TG_FORMAT_JSONL;
        return SP_OK;
    }
    return SP_EINVAL;
}

const char *tg_format_name(tg_format_t format)
{
    return format == TG_FORMAT_CSV ? "csv" : "jsonl";
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static int read_header(tg_rows_t *r, sp_arena_t *arena, tg_reject_t *why)
{
    tg_csv_record_t hdr;
    int rc = tg_csv_next(&r->csv, arena, &hdr);
    if (rc == SP_ENOMEM)
        return rc;
    if (rc == 0)
        return set_why(arena, why, TG_E_EMPTY_FILE, "", "the file has no header line");
    if (rc < 0)
        return set_why(arena, why, TG_E_INVALID_CSV, "", "the header line is not valid CSV");
    r->n_cols = hdr.n;
    r->kinds = sp_arena_alloc(arena, sizeof(int) * hdr.n);
    r->meta_keys = sp_arena_alloc(arena, sizeof(char *) * hdr.n);
    if (!r->kinds || !r->meta_keys)
        return SP_ENOMEM;
    int seen[COL_COUNT] = {0};
    for (size_t i = 0; i < hdr.n; i++) {
        char *name = trim(hdr.fields[i]);
        int kind = -1;
        if (strncasecmp(name, "metadata.", 9) == 0 && name[9]) {
            kind = COL_META_KEY;
            r->meta_keys[i] = name + 9;
            for (size_t j = 0; j < i; j++)
                if (r->kinds[j] == COL_META_KEY && strcmp(r->meta_keys[j], name + 9) == 0)
                    return set_why(arena, why, TG_E_DUPLICATE_COLUMN, name,
                                   "column %s appears twice", name);
        } else {
            for (int c = 0; c < COL_COUNT; c++)
                if (c != COL_META_KEY && strcasecmp(name, COLUMNS[c]) == 0)
                    kind = c;
            if (kind < 0)
                return set_why(arena, why, TG_E_UNKNOWN_COLUMN, name,
                               "unknown column \"%.64s\" (column %zu)", name, i + 1);
            if (seen[kind]++)
                return set_why(arena, why, TG_E_DUPLICATE_COLUMN, COLUMNS[kind],
                               "column %s appears twice", COLUMNS[kind]);
        }
        r->kinds[i] = kind;
    }
    static const col_t required[] = {COL_EXTERNAL_ID, COL_CHANNEL, COL_OCCURRED_AT};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (!seen[required[i]])
            return set_why(arena, why, TG_E_MISSING_COLUMN, COLUMNS[required[i]],
                           "the required column %s is missing", COLUMNS[required[i]]);
    return SP_OK;
}

int tg_rows_open(tg_rows_t *r, sp_arena_t *arena, tg_format_t format, const char *data, size_t len,
                 tg_reject_t *why)
{
    memset(r, 0, sizeof(*r));
    r->format = format;
    if (!tg_utf8_valid(data, len))
        return set_why(arena, why, TG_E_INVALID_ENCODING, "", "the file is not valid UTF-8");
    if (format == TG_FORMAT_CSV) {
        tg_csv_init(&r->csv, data, len, 0);
        return read_header(r, arena, why);
    }
    r->p = data;
    r->end = data + len;
    r->line = 0;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        r->p += 3;
    return SP_OK;
}

static void json_delete(void *json)
{
    cJSON_Delete(json);
}

/* Ties a cJSON tree to the arena (freed with it). On SP_ENOMEM the tree is
 * already freed. */
static int defer_json(sp_arena_t *arena, cJSON *json)
{
    return sp_arena_defer(arena, json_delete, json);
}

/* "12.5", "01:02.5", "1:02:03.250" -> milliseconds; -1 when malformed. */
static int64_t parse_clock(const char *s, size_t len)
{
    int64_t parts[3] = {0};
    int n = 0;
    int64_t frac = 0;
    int frac_digits = 0, in_frac = 0, digits = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            if (in_frac) {
                if (frac_digits < 3) {
                    frac = frac * 10 + (c - '0');
                    frac_digits++;
                }
            } else {
                if (parts[n] > 10000000)
                    return -1;
                parts[n] = parts[n] * 10 + (c - '0');
                digits++;
            }
        } else if (c == ':' && !in_frac && digits && n < 2) {
            n++;
            digits = 0;
        } else if (c == '.' && !in_frac && digits) {
            in_frac = 1;
        } else {
            return -1;
        }
    }
    if (!digits)
        return -1;
    while (frac_digits < 3) {
        frac *= 10;
        frac_digits++;
    }
    int64_t secs = 0;
    for (int i = 0; i <= n; i++) {
        if (i > 0 && parts[i] >= 60)
            return -1;
        secs = secs * 60 + parts[i];
    }
    return secs * 1000 + frac;
}

int tg_transcript_parse(sp_arena_t *arena, const char *text, cJSON **out, tg_reject_t *why)
{
    cJSON *list = cJSON_CreateArray();
    if (!list || defer_json(arena, list) != 0)
        return SP_ENOMEM;
    cJSON *last = NULL;
    int lineno = 0;
    for (const char *p = text; *p;) {
        const char *eol = p + strcspn(p, "\r\n");
        lineno++;
        const char *s = p, *e = eol;
        p = *eol == '\r' && eol[1] == '\n' ? eol + 2 : (*eol ? eol + 1 : eol);
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (s == e)
            continue;
        int64_t start = -1, end = -1;
        const char *body = s;
        if (*s == '[') {
            const char *close = memchr(s, ']', (size_t)(e - s));
            if (!close)
                return set_why(arena, why, TG_E_INVALID_VALUE, "transcript",
                               "transcript line %d: unclosed [", lineno);
            const char *dash = memchr(s + 1, '-', (size_t)(close - s - 1));
            const char *a = s + 1, *a_end = dash ? dash : close;
            while (a < a_end && *a == ' ')
                a++;
            while (a_end > a && a_end[-1] == ' ')
                a_end--;
            start = parse_clock(a, (size_t)(a_end - a));
            if (dash) {
                const char *b = dash + 1, *b_end = close;
                while (b < b_end && *b == ' ')
                    b++;
                while (b_end > b && b_end[-1] == ' ')
                    b_end--;
                end = parse_clock(b, (size_t)(b_end - b));
            }
            if (start < 0 || (dash && end < 0))
                return set_why(arena, why, TG_E_INVALID_VALUE, "transcript",
                               "transcript line %d: times must look like [12.5-14] or "
                               "[00:12.5-00:14]",
                               lineno);
            body = close + 1;
            while (body < e && *body == ' ')
                body++;
        }
        /* "speaker: text" — the speaker is one word of letters. */
        const char *colon = NULL;
        for (const char *q = body; q < e; q++) {
            if (*q == ':') {
                colon = q;
                break;
            }
            if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || *q == '_'))
                break;
        }
        if (!colon || colon == body) {
            if (start >= 0 || !last)
                return set_why(arena, why, TG_E_INVALID_VALUE, "transcript",
                               "transcript line %d: expected \"speaker: text\"", lineno);
            /* A continuation of the utterance before. */
            cJSON *t = cJSON_GetObjectItemCaseSensitive(last, "text");
            char *joined = sp_arena_printf(arena, "%s\n%.*s", t->valuestring, (int)(e - s), s);
            if (!joined || !cJSON_SetValuestring(t, joined))
                return SP_ENOMEM;
            continue;
        }
        char *speaker = sp_arena_strndup(arena, body, (size_t)(colon - body));
        const char *t = colon + 1;
        while (t < e && *t == ' ')
            t++;
        char *utext = sp_arena_strndup(arena, t, (size_t)(e - t));
        if (!speaker || !utext)
            return SP_ENOMEM;
        for (char *c = speaker; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        cJSON *u = cJSON_CreateObject();
        if (!u)
            return SP_ENOMEM;
        cJSON_AddItemToArray(list, u);
        if (!cJSON_AddStringToObject(u, "speaker", speaker) ||
            !cJSON_AddStringToObject(u, "text", utext) ||
            (start >= 0 && !cJSON_AddNumberToObject(u, "start_ms", (double)start)) ||
            (end >= 0 && !cJSON_AddNumberToObject(u, "end_ms", (double)end)))
            return SP_ENOMEM;
        last = u;
    }
    *out = list;
    return SP_OK;
}

/* An integer cell becomes a JSON number; anything else stays a string so
 * the validator names the problem ("rating must be an integer"). */
static cJSON *int_or_string(const char *cell)
{
    const char *p = cell + (*cell == '-');
    int ok = *p != '\0' && strlen(p) <= 15;
    for (; ok && *p; p++)
        ok = *p >= '0' && *p <= '9';
    return ok ? cJSON_CreateNumber((double)strtoll(cell, NULL, 10)) : cJSON_CreateString(cell);
}

static cJSON *object_member(cJSON *obj, const char *name)
{
    cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!m) {
        m = cJSON_CreateObject();
        if (m)
            cJSON_AddItemToObject(obj, name, m);
    }
    return m;
}

/* Puts one non-empty cell into the interaction object. */
static int put_cell(sp_arena_t *arena, cJSON *obj, int kind, const char *meta_key, char *cell,
                    tg_reject_t *why)
{
    const char *name = COLUMNS[kind];
    if (is_plain((col_t)kind))
        return cJSON_AddStringToObject(obj, name, cell) ? SP_OK : SP_ENOMEM;
    cJSON *v = NULL, *parent;
    switch ((col_t)kind) {
    case COL_AGENT_ID:
    case COL_AGENT_NAME:
        if (!(parent = object_member(obj, "agent")))
            return SP_ENOMEM;
        return cJSON_AddStringToObject(parent, kind == COL_AGENT_ID ? "id" : "name", cell)
                   ? SP_OK
                   : SP_ENOMEM;
    case COL_TAGS: {
        cJSON *tags = cJSON_AddArrayToObject(obj, "tags");
        if (!tags)
            return SP_ENOMEM;
        for (char *save = NULL, *tok = strtok_r(cell, "|", &save); tok;
             tok = strtok_r(NULL, "|", &save)) {
            tok = trim(tok);
            if (*tok && !cJSON_AddItemToArray(tags, cJSON_CreateString(tok)))
                return SP_ENOMEM;
        }
        return SP_OK;
    }
    case COL_METADATA: {
        cJSON *meta = cJSON_Parse(cell);
        if (!meta || !cJSON_IsObject(meta)) {
            cJSON_Delete(meta);
            return set_why(arena, why, TG_E_INVALID_VALUE, "metadata",
                           "the metadata cell must hold a JSON object");
        }
        /* metadata.<key> columns may have started the object already. */
        cJSON *have = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
        if (have) {
            for (cJSON *m = meta->child; m; m = m->next)
                if (!cJSON_GetObjectItemCaseSensitive(have, m->string))
                    cJSON_AddItemToObject(have, m->string, cJSON_Duplicate(m, 1));
            cJSON_Delete(meta);
        } else {
            cJSON_AddItemToObject(obj, "metadata", meta);
        }
        return SP_OK;
    }
    case COL_META_KEY:
        if (!(parent = object_member(obj, "metadata")))
            return SP_ENOMEM;
        cJSON_DeleteItemFromObjectCaseSensitive(parent, meta_key);
        return cJSON_AddStringToObject(parent, meta_key, cell) ? SP_OK : SP_ENOMEM;
    case COL_RATING:
        v = int_or_string(cell);
        return v && cJSON_AddItemToObject(obj, "rating", v) ? SP_OK : SP_ENOMEM;
    case COL_NPS:
    case COL_CSAT:
        if (!(parent = object_member(obj, "survey")))
            return SP_ENOMEM;
        v = int_or_string(cell);
        return v && cJSON_AddItemToObject(parent, name, v) ? SP_OK : SP_ENOMEM;
    case COL_UTTERANCES: {
        if (cJSON_GetObjectItemCaseSensitive(obj, "utterances"))
            return set_why(arena, why, TG_E_INVALID_VALUE, "utterances",
                           "a row has either utterances or transcript, not both");
        cJSON *list = cJSON_Parse(cell);
        if (!list || !cJSON_IsArray(list)) {
            cJSON_Delete(list);
            return set_why(arena, why, TG_E_INVALID_VALUE, "utterances",
                           "the utterances cell must hold a JSON array");
        }
        cJSON_AddItemToObject(obj, "utterances", list);
        return SP_OK;
    }
    case COL_TRANSCRIPT: {
        if (cJSON_GetObjectItemCaseSensitive(obj, "utterances"))
            return set_why(arena, why, TG_E_INVALID_VALUE, "transcript",
                           "a row has either utterances or transcript, not both");
        cJSON *list = NULL;
        int rc = tg_transcript_parse(arena, cell, &list, why);
        if (rc)
            return rc;
        /* The arena owns list; the object gets its own copy. */
        cJSON *copy = cJSON_Duplicate(list, 1);
        if (!copy)
            return SP_ENOMEM;
        cJSON_AddItemToObject(obj, "utterances", copy);
        return SP_OK;
    }
    default:
        return SP_EINTERNAL;
    }
}

static int next_csv(tg_rows_t *r, sp_arena_t *arena, size_t *row, cJSON **item, tg_reject_t *why)
{
    tg_csv_record_t rec;
    int rc = tg_csv_next(&r->csv, arena, &rec);
    if (rc == 0 || rc == SP_ENOMEM)
        return rc;
    *row = rec.line;
    if (rc == SP_EINVAL) {
        rc = set_why(arena, why, TG_E_INVALID_CSV, "",
                     "malformed CSV: a quote is not closed, or text follows a closing quote");
        return rc == SP_ENOMEM ? rc : 1;
    }
    int extra = rc == SP_ETOOBIG;
    for (size_t i = r->n_cols; !extra && i < rec.n; i++)
        extra = *trim(rec.fields[i]) != '\0';
    if (extra) {
        rc = set_why(arena, why, TG_E_COLUMN_MISMATCH, "",
                     "the row has more cells than the header has columns");
        return rc == SP_ENOMEM ? rc : 1;
    }
    cJSON *obj = cJSON_CreateObject();
    if (!obj || defer_json(arena, obj) != 0)
        return SP_ENOMEM;
    size_t n = rec.n < r->n_cols ? rec.n : r->n_cols;
    for (size_t i = 0; i < n; i++) {
        /* Identifiers and numbers are trimmed; free text keeps its blanks. */
        int kind = r->kinds[i];
        char *cell = rec.fields[i];
        if (kind != COL_TEXT && kind != COL_SUBJECT)
            cell = trim(cell);
        if (*cell == '\0')
            continue;
        rc = put_cell(arena, obj, kind, r->meta_keys[i], cell, why);
        if (rc == SP_EINVAL)
            return 1;
        if (rc)
            return rc;
    }
    *item = obj;
    return 1;
}

static int next_jsonl(tg_rows_t *r, sp_arena_t *arena, size_t *row, cJSON **item, tg_reject_t *why)
{
    for (;;) {
        if (r->p >= r->end)
            return 0;
        const char *eol = memchr(r->p, '\n', (size_t)(r->end - r->p));
        const char *line = r->p, *e = eol ? eol : r->end;
        r->p = eol ? eol + 1 : r->end;
        r->line++;
        while (line < e && (*line == ' ' || *line == '\t' || *line == '\r'))
            line++;
        while (e > line && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        if (line == e)
            continue;
        *row = r->line;
        cJSON *obj = cJSON_ParseWithLength(line, (size_t)(e - line));
        if (!obj) {
            int rc = set_why(arena, why, TG_E_INVALID_JSON, "", "the line is not valid JSON");
            return rc == SP_ENOMEM ? rc : 1;
        }
        if (defer_json(arena, obj) != 0)
            return SP_ENOMEM;
        *item = obj;
        return 1;
    }
}

int tg_rows_next(tg_rows_t *r, sp_arena_t *arena, size_t *row, cJSON **item, tg_reject_t *why)
{
    *item = NULL;
    *row = 0;
    return r->format == TG_FORMAT_CSV ? next_csv(r, arena, row, item, why)
                                      : next_jsonl(r, arena, row, item, why);
}
