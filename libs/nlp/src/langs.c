/*
 * langs.c (internal) — language ids and masks.
 */
#include "langs.h"

#include <stddef.h>

static const char *const codes[L_COUNT] = {"en", "pt", "es", "fr", "de", "it"};

static char lower_ascii(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

int langs_id(const char *code)
{
    if (!code || !code[0] || !code[1])
        return -1;
    /* Only the base language counts: "pt-BR" and "pt_PT" are "pt". */
    if (code[2] != '\0' && code[2] != '-' && code[2] != '_')
        return -1;
    char a = lower_ascii(code[0]), b = lower_ascii(code[1]);
    for (int i = 0; i < L_COUNT; i++)
        if (codes[i][0] == a && codes[i][1] == b)
            return i;
    return -1;
}

uint32_t langs_mask(const char *code)
{
    int id = langs_id(code);
    return id < 0 ? LM_ALL : LM(id);
}

const char *langs_code(int id)
{
    return (id >= 0 && id < L_COUNT) ? codes[id] : "und";
}

uint32_t langs_data_mask(const char *code)
{
    int id = langs_id(code);
    return (id == L_EN || id == L_PT || id == L_ES) ? LM(id) : LM_ALL;
}
