/*
 * text.c — see platform/text.h.
 */
#include "platform/text.h"

#include "platform/error.h"

#include <ctype.h>
#include <string.h>

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int sp_uuid_valid(const char *s)
{
    if (!s || strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!is_hex(s[i])) {
            return 0;
        }
    }
    return 1;
}

uint32_t sp_fnv1a32(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

uint64_t sp_fnv1a64(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

int sp_email_normalize(const char *in, char out[SP_EMAIL_MAX])
{
    if (!in)
        return SP_EINVAL;
    while (*in == ' ' || *in == '\t')
        in++;
    size_t n = strlen(in);
    while (n && (in[n - 1] == ' ' || in[n - 1] == '\t'))
        n--;
    if (n < 3 || n >= SP_EMAIL_MAX)
        return SP_EINVAL;
    int ats = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c <= ' ' || c == 0x7f || c == '"' || c == '<' || c == '>' || c == ',' || c == ';')
            return SP_EINVAL;
        if (c == '@')
            ats++;
        out[i] = (char)tolower(c);
    }
    out[n] = '\0';
    const char *at = strchr(out, '@');
    if (ats != 1 || at == out || at[1] == '\0' || at[1] == '.' || out[n - 1] == '.')
        return SP_EINVAL;
    return 0;
}
