/*
 * csv.c — the CSV reader (csv.h). A hand-written state machine over the
 * buffer: one pass, no copies except the fields themselves.
 */
#include "csv.h"

#include <string.h>

#include "platform/error.h"

static int is_nl(char c)
{
    return c == '\n' || c == '\r';
}

/* Consumes one line break at r->p (LF, CRLF or CR) and counts it. */
static void eat_nl(tg_csv_t *r)
{
    if (r->p < r->end && *r->p == '\r') {
        r->p++;
        if (r->p < r->end && *r->p == '\n')
            r->p++;
    } else if (r->p < r->end && *r->p == '\n') {
        r->p++;
    }
    r->line++;
}

static char detect(const char *p, const char *end)
{
    size_t comma = 0, semi = 0, tab = 0;
    int quoted = 0;
    for (; p < end; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (!quoted && is_nl(*p))
            break;
        else if (!quoted && *p == ',')
            comma++;
        else if (!quoted && *p == ';')
            semi++;
        else if (!quoted && *p == '\t')
            tab++;
    }
    if (semi > comma && semi >= tab)
        return ';';
    if (tab > comma && tab > semi)
        return '\t';
    return ',';
}

void tg_csv_init(tg_csv_t *r, const char *data, size_t len, char delim)
{
    r->p = data;
    r->end = data + len;
    r->line = 1;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        r->p += 3;
    r->delim = (delim == ',' || delim == ';' || delim == '\t') ? delim : detect(r->p, r->end);
}

char tg_csv_delimiter(const tg_csv_t *r)
{
    return r->delim;
}

/* Skips to the start of the next line (after an error). */
static void skip_line(tg_csv_t *r)
{
    while (r->p < r->end && !is_nl(*r->p))
        r->p++;
    if (r->p < r->end)
        eat_nl(r);
}

static int add_field(sp_arena_t *arena, tg_csv_record_t *rec, size_t *cap, char *field)
{
    if (rec->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        char **nf = sp_arena_alloc(arena, ncap * sizeof(char *));
        if (!nf)
            return SP_ENOMEM;
        if (rec->n)
            memcpy(nf, rec->fields, rec->n * sizeof(char *));
        rec->fields = nf;
        *cap = ncap;
    }
    rec->fields[rec->n++] = field;
    return SP_OK;
}

int tg_csv_next(tg_csv_t *r, sp_arena_t *arena, tg_csv_record_t *rec)
{
    memset(rec, 0, sizeof(*rec));
    while (r->p < r->end && is_nl(*r->p))
        eat_nl(r); /* empty lines */
    if (r->p >= r->end)
        return 0;
    rec->line = r->line;
    size_t cap = 0;
    int too_many = 0;
    for (;;) {
        char *field;
        if (r->p < r->end && *r->p == '"') {
            /* Quoted: find the closing quote, collapsing "" and counting
             * line breaks inside. The copy is never longer than the raw. */
            const char *q = ++r->p;
            field = sp_arena_alloc(arena, (size_t)(r->end - q) + 1);
            if (!field)
                return SP_ENOMEM;
            size_t n = 0;
            int closed = 0;
            while (q < r->end) {
                if (*q == '"') {
                    if (q + 1 < r->end && q[1] == '"') {
                        field[n++] = '"';
                        q += 2;
                        continue;
                    }
                    closed = 1;
                    q++;
                    break;
                }
                if (*q == '\n' || (*q == '\r' && (q + 1 >= r->end || q[1] != '\n')))
                    r->line++;
                field[n++] = *q++;
            }
            field[n] = '\0';
            r->p = q;
            if (!closed)
                return SP_EINVAL; /* open quote at the end of the text */
            if (r->p < r->end && *r->p != r->delim && !is_nl(*r->p)) {
                skip_line(r);
                return SP_EINVAL;
            }
        } else {
            const char *start = r->p;
            while (r->p < r->end && *r->p != r->delim && !is_nl(*r->p))
                r->p++;
            field = sp_arena_strndup(arena, start, (size_t)(r->p - start));
            if (!field)
                return SP_ENOMEM;
        }
        if (rec->n == TG_CSV_MAX_FIELDS)
            too_many = 1;
        else if (add_field(arena, rec, &cap, field) != 0)
            return SP_ENOMEM;
        if (r->p < r->end && *r->p == r->delim) {
            r->p++;
            continue;
        }
        if (r->p < r->end)
            eat_nl(r);
        break;
    }
    return too_many ? SP_ETOOBIG : 1;
}
