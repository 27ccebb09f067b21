/*
 * json.c — JSON string and number writers (json.h).
 */
#include "json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

/* Length of the valid UTF-8 sequence starting at s (at most n bytes), or 0
 * when the bytes there are not one (overlongs, surrogates and code points
 * above U+10FFFF included). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp, min;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void ap_json_str(sp_buf_t *b, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;

    sp_buf_putc(b, '"');
    while (i < len) {
        unsigned c = p[i];
        size_t n = 1;
        const char *esc = NULL;
        char ubuf[8];

        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            run++;
            continue;
        }
        if (c >= 0x80 && (n = utf8_seq(p + i, len - i)) > 0) {
            i += n;
            run += n;
            continue;
        }
        /* Something to escape or replace: write the clean run first. */
        if (run)
            sp_buf_append(b, p + i - run, run);
        run = 0;
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20) {
            snprintf(ubuf, sizeof ubuf, "\\u%04x", c);
            esc = ubuf;
        } else {
            esc = "\\ufffd"; /* a byte outside any valid UTF-8 sequence */
        }
        sp_buf_puts(b, esc);
        i++;
    }
    if (run)
        sp_buf_append(b, p + i - run, run);
    sp_buf_putc(b, '"');
}

void ap_json_cstr(sp_buf_t *b, const char *s)
{
    size_t n = 0;

    if (s)
        while (s[n])
            n++;
    ap_json_str(b, s, n);
}

void ap_json_kv_str(sp_buf_t *b, const char *key, const char *value)
{
    sp_buf_putc(b, '"');
    sp_buf_puts(b, key);
    sp_buf_puts(b, "\":");
    ap_json_cstr(b, value);
}

void ap_json_str_array(sp_buf_t *b, const char *const *v, size_t n)
{
    sp_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            sp_buf_putc(b, ',');
        ap_json_cstr(b, v[i]);
    }
    sp_buf_putc(b, ']');
}

void ap_json_num(sp_buf_t *b, double v)
{
    if (!isfinite(v))
        v = 0;
    sp_buf_appendf(b, "%.6g", v);
}
