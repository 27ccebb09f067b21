/*
 * csv.c — CSV quoting with the formula guard.
 */
#include "csv.h"

#include <string.h>

static int needs_quotes(const char *s, int guarded)
{
    size_t n = strlen(s);
    if (guarded)
        return 1; /* the leading quote mark reads better inside quotes */
    if (n && (s[0] == ' ' || s[n - 1] == ' '))
        return 1;
    return strpbrk(s, ",\"\r\n") != NULL;
}

static int field(sp_buf_t *b, const char *s, int guard)
{
    if (!s)
        s = "";
    int guarded = guard && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' ||
                            s[0] == '\t' || s[0] == '\r');
    if (!needs_quotes(s, guarded))
        return sp_buf_puts(b, s);
    sp_buf_putc(b, '"');
    if (guarded)
        sp_buf_putc(b, '\'');
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            sp_buf_putc(b, '"');
        sp_buf_putc(b, *p);
    }
    return sp_buf_putc(b, '"');
}

int aq_csv_text(sp_buf_t *b, const char *s)
{
    return field(b, s, 1);
}

int aq_csv_plain(sp_buf_t *b, const char *s)
{
    return field(b, s, 0);
}

int aq_csv_sep(sp_buf_t *b)
{
    return sp_buf_putc(b, ',');
}

int aq_csv_eol(sp_buf_t *b)
{
    return sp_buf_puts(b, "\r\n");
}
