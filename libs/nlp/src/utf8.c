/*
 * utf8.c — strict UTF-8 decoding, repair, classification and folding.
 */
#include "nlp/utf8.h"

#include <stdlib.h>
#include <string.h>

size_t nlp_utf8_decode(const char *s, size_t len, uint32_t *cp)
{
    const unsigned char *u = (const unsigned char *)s;
    if (len == 0)
        return 0;
    unsigned char c = u[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
        v = c & 0x1Fu;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        v = c & 0x0Fu;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        v = c & 0x07u;
        min = 0x10000;
    } else {
        *cp = NLP_UTF8_REPLACEMENT;
        return 1;
    }
    if (len < need) {
        *cp = NLP_UTF8_REPLACEMENT;
        return 1;
    }
    for (size_t i = 1; i < need; i++) {
        if ((u[i] & 0xC0u) != 0x80u) {
            *cp = NLP_UTF8_REPLACEMENT;
            return 1;
        }
        v = (v << 6) | (u[i] & 0x3Fu);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are invalid. */
    if (v < min || v > 0x10FFFFu || (v >= 0xD800u && v <= 0xDFFFu)) {
        *cp = NLP_UTF8_REPLACEMENT;
        return 1;
    }
    *cp = v;
    return need;
}

size_t nlp_utf8_encode(uint32_t cp, char out[4])
{
    if (cp > 0x10FFFFu || (cp >= 0xD800u && cp <= 0xDFFFu))
        cp = NLP_UTF8_REPLACEMENT;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

bool nlp_utf8_valid(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = nlp_utf8_decode(s + i, len - i, &cp);
        /* A real U+FFFD in the input decodes to 3 bytes; a repaired byte to 1. */
        if (cp == NLP_UTF8_REPLACEMENT && n == 1)
            return false;
        i += n;
    }
    return true;
}

char *nlp_utf8_sanitize(const char *s, size_t len, size_t *out_len)
{
    /* Each bad byte grows to 3 bytes at most. */
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = nlp_utf8_decode(s + i, len - i, &cp);
        if (cp == 0 || (cp == NLP_UTF8_REPLACEMENT && n == 1)) {
            o += nlp_utf8_encode(NLP_UTF8_REPLACEMENT, out + o);
        } else {
            memcpy(out + o, s + i, n);
            o += n;
        }
        i += n;
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

uint32_t nlp_utf8_lower(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
        return cp + 32;
    if (cp >= 0x100 && cp <= 0x17F) {
        if (cp == 0x130)
            return 'i';
        if (cp == 0x178)
            return 0xFF;
        /* In these runs capitals sit on even code points, else on odd ones. */
        if ((cp <= 0x137) || (cp >= 0x14A && cp <= 0x177))
            return (cp % 2 == 0) ? cp + 1 : cp;
        if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
            return (cp % 2 == 1) ? cp + 1 : cp;
        return cp;
    }
    if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2)
        return cp + 32;
    if (cp >= 0x410 && cp <= 0x42F)
        return cp + 32;
    if (cp >= 0x400 && cp <= 0x40F)
        return cp + 80;
    return cp;
}

bool nlp_utf8_is_upper(uint32_t cp)
{
    return nlp_utf8_lower(cp) != cp;
}

bool nlp_utf8_is_digit(uint32_t cp)
{
    return cp >= '0' && cp <= '9';
}

bool nlp_utf8_is_space(uint32_t cp)
{
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

bool nlp_utf8_is_mark(uint32_t cp)
{
    return cp >= 0x300 && cp <= 0x36F;
}

bool nlp_utf8_is_emoji_modifier(uint32_t cp)
{
    return cp == 0x200D || cp == 0xFE0E || cp == 0xFE0F || (cp >= 0x1F3FB && cp <= 0x1F3FF) ||
           (cp >= 0xE0020 && cp <= 0xE007F) || cp == 0x20E3;
}

bool nlp_utf8_is_emoji(uint32_t cp)
{
    if (cp >= 0x1F3FB && cp <= 0x1F3FF)
        return false;
    return (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF) ||
           (cp >= 0x2B00 && cp <= 0x2BFF) || (cp >= 0x2300 && cp <= 0x23FF);
}

bool nlp_utf8_is_letter(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    if (cp < 0xC0)
        return cp == 0xAA || cp == 0xB5 || cp == 0xBA;
    if (cp <= 0xFF)
        return cp != 0xD7 && cp != 0xF7;
    if (cp == NLP_UTF8_REPLACEMENT || nlp_utf8_is_space(cp) || nlp_utf8_is_mark(cp))
        return false;
    if (nlp_utf8_is_emoji(cp) || nlp_utf8_is_emoji_modifier(cp))
        return false;
    /* General punctuation, currency, letterlike/number forms, arrows, maths,
     * technical, box drawing, CJK punctuation, fullwidth ASCII punctuation,
     * specials and private use are not letters. */
    if ((cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x2E00 && cp <= 0x2E7F) ||
        (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFF00 && cp <= 0xFF20) ||
        (cp >= 0xFFF0 && cp <= 0xFFFF) || (cp >= 0xE000 && cp <= 0xF8FF) ||
        (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0x37E || cp == 0x387)
        return false;
    return true;
}

/* Base letters of U+0100..U+017F; '?' marks the two ligatures handled in
 * nlp_utf8_fold (U+0132/0133 "ij", U+0152/0153 "oe"). */
static const char latin_ext_a[] = "aaaaaa"
                                  "cccccccc"
                                  "dddd"
                                  "eeeeeeeeee"
                                  "gggggggg"
                                  "hhhh"
                                  "iiiiiiiiii"
                                  "??"
                                  "jj"
                                  "kkk"
                                  "llllllllll"
                                  "nnnnnnnnn"
                                  "oooooo"
                                  "??"
                                  "rrrrrr"
                                  "ssssssss"
                                  "tttttt"
                                  "uuuuuuuuuuuu"
                                  "ww"
                                  "yyy"
                                  "zzzzzz"
                                  "s";

/* Base letters of lowercase Latin-1 U+00E0..U+00FF; '?' marks ligatures and
 * letters folded to two characters, '!' the division sign. */
static const char latin1_lower[] = "aaaaaa?ceeeeiiii?nooooo!ouuuuy?y";

size_t nlp_utf8_fold(uint32_t cp, uint32_t out[2])
{
    if (nlp_utf8_is_mark(cp))
        return 0;
    if (cp == 0x2019 || cp == 0x2018 || cp == 0x02BC) {
        out[0] = '\'';
        return 1;
    }
    if (cp == 0xDF) {
        out[0] = 's';
        out[1] = 's';
        return 2;
    }
    cp = nlp_utf8_lower(cp);
    if (cp >= 0xE0 && cp <= 0xFF) {
        char b = latin1_lower[cp - 0xE0];
        if (b == '?') {
            if (cp == 0xE6) {
                out[0] = 'a';
                out[1] = 'e';
            } else if (cp == 0xF0) {
                out[0] = 'd';
                return 1;
            } else { /* U+00FE thorn */
                out[0] = 't';
                out[1] = 'h';
            }
            return 2;
        }
        if (b == '!') {
            out[0] = cp;
            return 1;
        }
        out[0] = (uint32_t)(unsigned char)b;
        return 1;
    }
    if (cp >= 0x100 && cp <= 0x17F) {
        char b = latin_ext_a[cp - 0x100];
        if (b == '?') {
            if (cp == 0x132 || cp == 0x133) {
                out[0] = 'i';
                out[1] = 'j';
            } else {
                out[0] = 'o';
                out[1] = 'e';
            }
            return 2;
        }
        out[0] = (uint32_t)(unsigned char)b;
        return 1;
    }
    out[0] = cp;
    return 1;
}

char *nlp_utf8_fold_str(const char *s, size_t len, size_t *out_len)
{
    /* Folding never grows a code point's encoding past 3 bytes per input
     * byte (a bad byte becomes U+FFFD). */
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = malloc(len * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    while (i < len) {
        uint32_t cp, f[2];
        i += nlp_utf8_decode(s + i, len - i, &cp);
        size_t nf = nlp_utf8_fold(cp, f);
        for (size_t k = 0; k < nf; k++)
            o += nlp_utf8_encode(f[k], out + o);
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}
