/*
 * pii.c — PII detection and redaction (rules in pii.h).
 *
 * Detection runs in passes over the raw bytes (e-mail, IP, IBAN, numbers);
 * a byte claimed by one pass is never looked at by a later one. The
 * patterns are ASCII, so invalid UTF-8 elsewhere cannot confuse them; the
 * output is repaired to valid UTF-8 when it is assembled.
 */
#include "nlp/pii.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nlp/utf8.h"
#include "platform/error.h"

static const char *const type_names[NLP_PII_TYPES] = {
    "email", "phone", "card", "iban", "cpf", "cnpj", "ssn", "ip",
};
static const char *const placeholders[NLP_PII_TYPES] = {
    "[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[CPF]", "[CNPJ]", "[SSN]", "[IP]",
};

const char *nlp_pii_type_name(nlp_pii_type_t type)
{
    return (unsigned)type < NLP_PII_TYPES ? type_names[type] : "unknown";
}

const char *nlp_pii_placeholder(nlp_pii_type_t type)
{
    return (unsigned)type < NLP_PII_TYPES ? placeholders[type] : "[PII]";
}

unsigned nlp_pii_total(const nlp_pii_counts_t *counts)
{
    unsigned t = 0;
    for (int i = 0; i < NLP_PII_TYPES; i++)
        t += counts->n[i];
    return t;
}

/* ---- validators ---------------------------------------------------------- */

/* Copies the digits of s to out (at most max), skipping separators. Returns
 * the digit count, or -1 for a character that is neither. */
static int digits_of(const char *s, char *out, int max)
{
    int n = 0;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9') {
            if (n >= max)
                return -1;
            out[n++] = *s;
        } else if (*s != ' ' && *s != '.' && *s != '-' && *s != '/') {
            return -1;
        }
    }
    return n;
}

static bool luhn_digits(const char *d, int n)
{
    int sum = 0;
    for (int i = 0; i < n; i++) {
        int v = d[n - 1 - i] - '0';
        if (i % 2 == 1) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

static bool all_same(const char *d, int n)
{
    for (int i = 1; i < n; i++)
        if (d[i] != d[0])
            return false;
    return true;
}

static bool cpf_digits(const char *d)
{
    if (all_same(d, 11))
        return false;
    int sum = 0;
    for (int i = 0; i < 9; i++)
        sum += (d[i] - '0') * (10 - i);
    int r = (sum * 10) % 11;
    if (r == 10)
        r = 0;
    if (r != d[9] - '0')
        return false;
    sum = 0;
    for (int i = 0; i < 10; i++)
        sum += (d[i] - '0') * (11 - i);
    r = (sum * 10) % 11;
    if (r == 10)
        r = 0;
    return r == d[10] - '0';
}

static bool cnpj_digits(const char *d)
{
    static const int w1[12] = {5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2};
    static const int w2[13] = {6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2};
    if (all_same(d, 14))
        return false;
    int sum = 0;
    for (int i = 0; i < 12; i++)
        sum += (d[i] - '0') * w1[i];
    int r = sum % 11;
    if ((r < 2 ? 0 : 11 - r) != d[12] - '0')
        return false;
    sum = 0;
    for (int i = 0; i < 13; i++)
        sum += (d[i] - '0') * w2[i];
    r = sum % 11;
    return (r < 2 ? 0 : 11 - r) == d[13] - '0';
}

static bool ssn_digits(const char *d)
{
    int area = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
    int group = (d[3] - '0') * 10 + (d[4] - '0');
    int serial = (d[5] - '0') * 1000 + (d[6] - '0') * 100 + (d[7] - '0') * 10 + (d[8] - '0');
    return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

bool nlp_pii_luhn_valid(const char *s)
{
    char d[20];
    int n = s ? digits_of(s, d, 19) : -1;
    return n >= 13 && n <= 19 && luhn_digits(d, n);
}

bool nlp_pii_cpf_valid(const char *s)
{
    char d[12];
    return s && digits_of(s, d, 11) == 11 && cpf_digits(d);
}

bool nlp_pii_cnpj_valid(const char *s)
{
    char d[15];
    return s && digits_of(s, d, 14) == 14 && cnpj_digits(d);
}

bool nlp_pii_ssn_valid(const char *s)
{
    char d[10];
    return s && digits_of(s, d, 9) == 9 && ssn_digits(d);
}

/* IBAN lengths by country (the ISO 13616 registry). */
static const struct {
    char cc[3];
    int len;
} iban_lengths[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22},
    {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FO", 18}, {"FR", 27},
    {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28},
    {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20},
    {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"MC", 27}, {"MD", 24},
    {"ME", 22}, {"MK", 19}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NL", 18}, {"NO", 15}, {"PK", 24},
    {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24}, {"SC", 31},
    {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24},
    {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20},
};

/* 0 when the country is not in the table. */
static int iban_country_length(char a, char b)
{
    for (size_t i = 0; i < sizeof(iban_lengths) / sizeof(iban_lengths[0]); i++)
        if (iban_lengths[i].cc[0] == a && iban_lengths[i].cc[1] == b)
            return iban_lengths[i].len;
    return 0;
}

/* s: n uppercase letters/digits. */
static bool iban_chars(const char *s, int n)
{
    if (n < 15 || n > 34)
        return false;
    if (!(s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= '0' && s[2] <= '9' &&
          s[3] >= '0' && s[3] <= '9'))
        return false;
    int want = iban_country_length(s[0], s[1]);
    if (want && want != n)
        return false;
    unsigned r = 0;
    for (int k = 0; k < n; k++) {
        char c = s[(k + 4) % n];
        if (c >= '0' && c <= '9')
            r = (r * 10 + (unsigned)(c - '0')) % 97;
        else if (c >= 'A' && c <= 'Z')
            r = (r * 100 + (unsigned)(c - 'A' + 10)) % 97;
        else
            return false;
    }
    return r == 1;
}

static char upper_ascii(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
}

static bool is_alnum_ascii(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool nlp_pii_iban_valid(const char *s)
{
    if (!s)
        return false;
    char buf[35];
    int n = 0;
    for (; *s; s++) {
        if (*s == ' ' || *s == '-')
            continue;
        if (!is_alnum_ascii(*s) || n >= 34)
            return false;
        buf[n++] = upper_ascii(*s);
    }
    return iban_chars(buf, n);
}

/* ---- scanning helpers ------------------------------------------------------ */

typedef struct {
    const char *t;
    size_t len;
    unsigned char *taken; /* 1 for bytes claimed by a match */
    nlp_pii_span_t *v;
    size_t n, cap;
    int oom;
} scan_t;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The code point that ends right before byte off (0 at the start). */
static uint32_t cp_before(const scan_t *s, size_t off)
{
    if (off == 0)
        return 0;
    size_t st = off - 1;
    /* Walk back over at most three continuation bytes. */
    for (int k = 0; k < 3 && st > 0 && ((unsigned char)s->t[st] & 0xC0u) == 0x80u; k++)
        st--;
    uint32_t cp;
    size_t n = nlp_utf8_decode(s->t + st, off - st, &cp);
    if (st + n != off)
        return NLP_UTF8_REPLACEMENT;
    return cp;
}

static uint32_t cp_at(const scan_t *s, size_t off)
{
    if (off >= s->len)
        return 0;
    uint32_t cp;
    nlp_utf8_decode(s->t + off, s->len - off, &cp);
    return cp;
}

static bool wordish(uint32_t cp)
{
    return nlp_utf8_is_letter(cp) || nlp_utf8_is_digit(cp) || cp == '_' || nlp_utf8_is_mark(cp);
}

static bool is_free(const scan_t *s, size_t off, size_t end)
{
    for (size_t i = off; i < end; i++)
        if (s->taken[i])
            return false;
    return true;
}

static void claim(scan_t *s, size_t off, size_t end, nlp_pii_type_t type)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        nlp_pii_span_t *nv = realloc(s->v, ncap * sizeof(*nv));
        if (!nv) {
            s->oom = 1;
            return;
        }
        s->v = nv;
        s->cap = ncap;
    }
    s->v[s->n].off = off;
    s->v[s->n].len = end - off;
    s->v[s->n].type = type;
    s->n++;
    memset(s->taken + off, 1, end - off);
}

/* ---- e-mail ------------------------------------------------------------ */

static bool email_local_char(unsigned char c)
{
    return is_alnum_ascii((char)c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' ||
           c >= 0x80;
}

static bool domain_char(unsigned char c)
{
    return is_alnum_ascii((char)c) || c == '.' || c == '-' || c >= 0x80;
}

static bool domain_ok(const char *d, size_t n)
{
    size_t label_start = 0, labels = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || d[i] == '.') {
            size_t ll = i - label_start;
            if (ll == 0 || d[label_start] == '-' || d[i - 1] == '-')
                return false;
            labels++;
            if (i == n) {
                /* The TLD: two or more letters. */
                if (ll < 2)
                    return false;
                for (size_t k = label_start; k < i; k++) {
                    unsigned char c = (unsigned char)d[k];
                    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80))
                        return false;
                }
            }
            label_start = i + 1;
        }
    }
    return labels >= 2;
}

static void scan_emails(scan_t *s)
{
    const char *t = s->t;
    for (size_t a = 1; a + 1 < s->len; a++) {
        if (t[a] != '@' || s->taken[a])
            continue;
        size_t l = a;
        while (l > 0 && email_local_char((unsigned char)t[l - 1]) && !s->taken[l - 1])
            l--;
        while (l < a && t[l] == '.')
            l++;
        if (l == a || t[a - 1] == '.')
            continue;
        size_t r = a + 1;
        while (r < s->len && domain_char((unsigned char)t[r]))
            r++;
        while (r > a + 1 && (t[r - 1] == '.' || t[r - 1] == '-'))
            r--;
        if (!domain_ok(t + a + 1, r - a - 1) || !is_free(s, l, r))
            continue;
        claim(s, l, r, NLP_PII_EMAIL);
        a = r - 1;
    }
}

/* ---- IP addresses -------------------------------------------------------- */

/* Parses dotted IPv4 at off; returns its end or 0. */
static size_t ipv4_at(const scan_t *s, size_t off)
{
    const char *t = s->t;
    size_t i = off;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= s->len || t[i] != '.')
                return 0;
            i++;
        }
        size_t st = i;
        unsigned v = 0;
        while (i < s->len && is_digit(t[i]) && i - st < 3) {
            v = v * 10 + (unsigned)(t[i] - '0');
            i++;
        }
        if (i == st || v > 255 || (i < s->len && is_digit(t[i])))
            return 0;
    }
    /* Not part of a longer dotted run or a word. */
    if (i + 1 < s->len && t[i] == '.' && is_digit(t[i + 1]))
        return 0;
    if (wordish(cp_at(s, i)))
        return 0;
    return i;
}

static void scan_ips(scan_t *s)
{
    const char *t = s->t;
    for (size_t i = 0; i < s->len; i++) {
        if (s->taken[i])
            continue;
        uint32_t before = cp_before(s, i);
        if (wordish(before) || before == '.' || before == ':')
            continue;
        if (is_digit(t[i])) {
            size_t e = ipv4_at(s, i);
            if (e && is_free(s, i, e)) {
                claim(s, i, e, NLP_PII_IP);
                i = e - 1;
                continue;
            }
        }
        if (!(is_hex(t[i]) || t[i] == ':'))
            continue;
        size_t e = i, colons = 0, hexes = 0;
        while (e < s->len && (is_hex(t[e]) || t[e] == ':' || t[e] == '.') && e - i < 46) {
            if (t[e] == ':')
                colons++;
            else if (is_hex(t[e]))
                hexes++;
            e++;
        }
        if (colons < 2 || hexes == 0) {
            /* Skip the rest of a word so its tail is not tried again. */
            while (i + 1 < s->len && is_alnum_ascii(t[i + 1]))
                i++;
            continue;
        }
        /* A sentence may end right after the address. */
        while (e > i && (t[e - 1] == '.' || (t[e - 1] == ':' && !(e - i >= 2 && t[e - 2] == ':'))))
            e--;
        if (wordish(cp_at(s, e)) || !is_free(s, i, e))
            continue;
        char buf[48];
        memcpy(buf, t + i, e - i);
        buf[e - i] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, buf, &a6) == 1) {
            claim(s, i, e, NLP_PII_IP);
            i = e - 1;
        }
    }
}

/* ---- IBAN -------------------------------------------------------------- */

static bool is_alpha_ascii(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void scan_ibans(scan_t *s)
{
    const char *t = s->t;
    for (size_t i = 0; i + 15 <= s->len; i++) {
        if (s->taken[i] || !is_alpha_ascii(t[i]) || !is_alpha_ascii(t[i + 1]) ||
            !is_digit(t[i + 2]) || !is_digit(t[i + 3]) || wordish(cp_before(s, i)))
            continue;
        char chars[34];
        size_t end_off[34];
        bool boundary[34];
        int k = 0, group = 0;
        size_t j = i;
        while (k < 34 && j < s->len) {
            char c = t[j];
            if (is_alnum_ascii(c)) {
                chars[k] = upper_ascii(c);
                j++;
                end_off[k] = j;
                boundary[k] = j >= s->len || !wordish(cp_at(s, j));
                k++;
                group++;
            } else if (c == ' ' && group == 4 && j + 1 < s->len && is_alnum_ascii(t[j + 1])) {
                j++;
                group = 0;
            } else {
                break;
            }
        }
        int want = iban_country_length(chars[0], chars[1]);
        int found = 0;
        if (want) {
            if (k >= want && boundary[want - 1] && iban_chars(chars, want))
                found = want;
        } else {
            for (int L = k; L >= 15 && !found; L--)
                if (boundary[L - 1] && iban_chars(chars, L))
                    found = L;
        }
        if (found && is_free(s, i, end_off[found - 1])) {
            claim(s, i, end_off[found - 1], NLP_PII_IBAN);
            i = end_off[found - 1] - 1;
        }
    }
}

/* ---- numbers: CPF, CNPJ, SSN, card, phone ---------------------------------- */

enum { SEP_SPACE = 1, SEP_DASH = 2, SEP_DOT = 4, SEP_SLASH = 8, SEP_PAREN = 16 };

#define MAX_GROUPS 24
#define MAX_DIGITS 48

typedef struct {
    int ndig;
    char dig[MAX_DIGITS + 1];
    int ng;
    int glen[MAX_GROUPS];
    char sepc[MAX_GROUPS]; /* the separator after group k (its first non-space char) */
    unsigned sepmask;
    bool plus;
    bool paren;
} numinfo_t;

enum { CUE_NONE = 0, CUE_PHONE, CUE_ORDER, CUE_SSN };

static bool is_sep(char c)
{
    return c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')';
}

static bool parse_num(const char *t, size_t s, size_t e, numinfo_t *ni)
{
    memset(ni, 0, sizeof(*ni));
    bool in_group = false;
    for (size_t i = s; i < e; i++) {
        char c = t[i];
        if (is_digit(c)) {
            if (ni->ndig >= MAX_DIGITS)
                return false;
            ni->dig[ni->ndig++] = c;
            if (!in_group) {
                if (ni->ng >= MAX_GROUPS)
                    return false;
                ni->ng++;
                in_group = true;
            }
            ni->glen[ni->ng - 1]++;
            continue;
        }
        in_group = false;
        if (c == '+' && i == s) {
            ni->plus = true;
            continue;
        }
        unsigned bit = c == ' '   ? SEP_SPACE
                       : c == '-' ? SEP_DASH
                       : c == '.' ? SEP_DOT
                       : c == '/' ? SEP_SLASH
                                  : SEP_PAREN;
        if (c == '(' || c == ')')
            ni->paren = true;
        ni->sepmask |= bit;
        if (ni->ng > 0 && (ni->sepc[ni->ng - 1] == 0 || ni->sepc[ni->ng - 1] == ' '))
            ni->sepc[ni->ng - 1] = c;
    }
    return ni->ndig > 0;
}

static bool shape(const numinfo_t *ni, const int *glen, const char *seps, int ng)
{
    if (ni->ng != ng)
        return false;
    for (int k = 0; k < ng; k++) {
        if (ni->glen[k] != glen[k])
            return false;
        if (k + 1 < ng && ni->sepc[k] != seps[k])
            return false;
    }
    return true;
}

/* A card's printed shape: 13..19 digits, bare or in 2..5 groups of one
 * separator kind (spaces or dashes), a first group of 4 and others of 3..6
 * ("4111 1111 1111 1111", Amex "3782 822463 10005"). */
static bool card_shape(const numinfo_t *ni)
{
    if (ni->plus || ni->paren || ni->ndig < 13 || ni->ndig > 19)
        return false;
    if (ni->ng == 1)
        return true;
    if (ni->ng > 5 || (ni->sepmask != SEP_SPACE && ni->sepmask != SEP_DASH) || ni->glen[0] != 4)
        return false;
    for (int k = 1; k < ni->ng; k++)
        if (ni->glen[k] < 3 || ni->glen[k] > 6)
            return false;
    return true;
}

static int classify(const numinfo_t *ni, int cue)
{
    static const int cpf_g[] = {3, 3, 3, 2}, cnpj_g[] = {2, 3, 3, 4, 2}, ssn_g[] = {3, 2, 4};
    int n = ni->ndig;
    bool bare = ni->ng == 1 && !ni->plus && !ni->paren;
    if (bare) {
        if (n == 14 && cnpj_digits(ni->dig))
            return NLP_PII_CNPJ;
        if (n == 11 && cpf_digits(ni->dig))
            return NLP_PII_CPF;
        if (n == 9 && cue == CUE_SSN && ssn_digits(ni->dig))
            return NLP_PII_SSN;
        if (n >= 13 && n <= 19 && luhn_digits(ni->dig, n))
            return NLP_PII_CARD;
        if (cue == CUE_PHONE && n >= 8 && n <= 13)
            return NLP_PII_PHONE;
        return -1;
    }
    if (!ni->plus && n == 14 && shape(ni, cnpj_g, "../-", 5) && cnpj_digits(ni->dig))
        return NLP_PII_CNPJ;
    if (!ni->plus && n == 11 && shape(ni, cpf_g, "..-", 4) && cpf_digits(ni->dig))
        return NLP_PII_CPF;
    if (!ni->plus && n == 9 && ssn_digits(ni->dig) &&
        (shape(ni, ssn_g, "--", 3) || (cue == CUE_SSN && shape(ni, ssn_g, "  ", 3))))
        return NLP_PII_SSN;
    if (card_shape(ni) && luhn_digits(ni->dig, n))
        return NLP_PII_CARD;
    if (ni->plus)
        return (n >= 8 && n <= 15 && !(ni->sepmask & SEP_SLASH)) ? NLP_PII_PHONE : -1;
    if (cue == CUE_ORDER || (ni->sepmask & SEP_SLASH))
        return -1;
    int last = ni->glen[ni->ng - 1];
    int prev = ni->ng >= 2 ? ni->glen[ni->ng - 2] : 0;
    if (ni->paren) {
        /* "(11) 98765-4321": the area code is the first group. */
        int rest = n - ni->glen[0];
        return (ni->glen[0] >= 2 && ni->glen[0] <= 3 && rest >= 7 && rest <= 9 && last == 4)
                   ? NLP_PII_PHONE
                   : -1;
    }
    if (ni->ng < 2 || last != 4 || prev < 3 || prev > 5)
        return -1;
    if (ni->sepmask == SEP_DOT)
        return (ni->ng >= 3 && n >= 10 && n <= 13) ? NLP_PII_PHONE : -1;
    if (ni->sepmask & ~(unsigned)(SEP_SPACE | SEP_DASH))
        return -1;
    if (n >= 10 && n <= 13) {
        /* Spaces alone are weak evidence (account numbers, IBAN tails are
         * printed in blocks too): the first group must look like an area
         * code ("11 98765 4321", "555 123 4567") or a 0800-style prefix. */
        if (ni->sepmask == SEP_SPACE) {
            int g0 = ni->glen[0];
            int prefix0800 = g0 == 4 && ni->dig[0] == '0' && ni->dig[2] == '0' && ni->dig[3] == '0';
            if (ni->ng < 3 || !(g0 == 2 || g0 == 3 || prefix0800))
                return -1;
        }
        return NLP_PII_PHONE;
    }
    if (ni->ng == 2 && n >= 7 && n <= 9) {
        bool local_shape = prev == 3 || prev == 4 || (prev == 5 && ni->dig[0] == '9');
        if (local_shape && (ni->sepmask == SEP_DASH || cue == CUE_PHONE))
            return NLP_PII_PHONE;
    }
    return -1;
}

static const char *const phone_cues[] = {
    "phone",  "telephone", "tel",     "cell",  "cellphone", "mobile",   "whatsapp",
    "zap",    "call",      "text",    "fax",   "fone",      "telefone", "celular",
    "cel",    "contato",   "ligar",   "ligue", "liga",      "movil",    "telefono",
    "llamar", "llame",     "llamame", "whats",
};
static const char *const order_cues[] = {
    "order",   "pedido",    "protocolo",  "protocol", "ticket",       "invoice", "fatura",
    "factura", "boleto",    "tracking",   "rastreio", "rastreamento", "case",    "caso",
    "ref",     "reference", "referencia", "codigo",   "code",         "id",      "nota",
    "nf",      "cupom",     "coupon",     "voucher",  "sku",          "serial",  "chamado",
    "orden",   "nº",        "n°",         "num",      "reserva",      "booking", "confirmation",
};

static int cue_of_word(const char *w)
{
    for (size_t k = 0; k < sizeof(phone_cues) / sizeof(phone_cues[0]); k++)
        if (strcmp(w, phone_cues[k]) == 0)
            return CUE_PHONE;
    for (size_t k = 0; k < sizeof(order_cues) / sizeof(order_cues[0]); k++)
        if (strcmp(w, order_cues[k]) == 0)
            return CUE_ORDER;
    if (strcmp(w, "ssn") == 0 || strcmp(w, "security") == 0)
        return CUE_SSN;
    return CUE_NONE;
}

/* The cue nearest before off: '#' right before the number, or one of the
 * three words before it (nearest first). */
static int cue_before(const scan_t *s, size_t off)
{
    const char *t = s->t;
    size_t p = off;
    while (p > 0 && off - p < 8 && t[p - 1] && strchr(" :#.-\t", t[p - 1])) {
        if (t[p - 1] == '#')
            return CUE_ORDER;
        p--;
    }
    for (int w = 0; w < 3 && p > 0; w++) {
        size_t e = p;
        while (p > 0 && e - p < 24 &&
               (is_alpha_ascii(t[p - 1]) || (unsigned char)t[p - 1] >= 0x80 || t[p - 1] == '\''))
            p--;
        if (p == e)
            return CUE_NONE;
        char *f = nlp_utf8_fold_str(t + p, e - p, NULL);
        if (!f)
            return CUE_NONE;
        int cue = cue_of_word(f);
        free(f);
        if (cue != CUE_NONE)
            return cue;
        while (p > 0 && (t[p - 1] == ' ' || t[p - 1] == ','))
            p--;
    }
    return CUE_NONE;
}

#define MAX_CHUNKS 6

/* Classifies the number run [st, en). The run is cut at spaces into chunks;
 * from the leftmost chunk, the longest run of at most MAX_CHUNKS chunks that
 * is one thing wins, so "11 98765-4321 11 91234-5678" gives two phones and
 * "529.982.247-25 98765-4321" a CPF and a phone. */
static void classify_span(scan_t *s, size_t st, size_t en, int cue)
{
    numinfo_t ni;
    /* A whole run printed like a card that fails Luhn is an invalid card
     * number (or an order number): it is left whole, not read as phones. */
    if (parse_num(s->t, st, en, &ni) && card_shape(&ni) && !luhn_digits(ni.dig, ni.ndig) &&
        ni.ng > 1)
        return;
    /* So is a longer run printed in blocks of four ("3704 0044 0532 0130
     * 01", the tail of an IBAN with a wrong checksum, an account number). */
    if (ni.ndig > 0 && ni.sepmask == SEP_SPACE && !ni.plus && ni.ng >= 4) {
        int blocks = 1;
        for (int k = 0; k + 1 < ni.ng; k++)
            blocks &= ni.glen[k] == 4;
        if (blocks) {
            int type = classify(&ni, cue);
            if (type >= 0)
                claim(s, st, en, (nlp_pii_type_t)type);
            return;
        }
    }
    size_t cs[MAX_GROUPS], ce[MAX_GROUPS];
    int nc = 0;
    for (size_t i = st; i < en && nc < MAX_GROUPS;) {
        while (i < en && s->t[i] == ' ')
            i++;
        if (i >= en)
            break;
        cs[nc] = i;
        while (i < en && s->t[i] != ' ')
            i++;
        ce[nc++] = i;
    }
    for (int a = 0; a < nc;) {
        int matched = -1;
        int top = a + MAX_CHUNKS - 1 < nc - 1 ? a + MAX_CHUNKS - 1 : nc - 1;
        for (int b = top; b >= a && matched < 0; b--) {
            numinfo_t sub;
            if (!parse_num(s->t, cs[a], ce[b], &sub))
                continue;
            int type = classify(&sub, a == 0 ? cue : CUE_NONE);
            if (type >= 0) {
                claim(s, cs[a], ce[b], (nlp_pii_type_t)type);
                matched = b;
            }
        }
        a = matched >= 0 ? matched + 1 : a + 1;
    }
}

static void scan_numbers(scan_t *s)
{
    const char *t = s->t;
    size_t i = 0;
    while (i < s->len) {
        char c = t[i];
        bool start =
            is_digit(c) || ((c == '+' || c == '(') && i + 1 < s->len && is_digit(t[i + 1]));
        if (!start || s->taken[i] || wordish(cp_before(s, i))) {
            i++;
            continue;
        }
        size_t j = i + (c == '+' || c == '(' ? 1 : 0);
        size_t end = j;
        while (j < s->len && j - i < 64) {
            if (!is_digit(t[j]) || s->taken[j])
                break;
            while (j < s->len && is_digit(t[j]) && !s->taken[j])
                j++;
            end = j;
            size_t k = j;
            int nsep = 0;
            while (k < s->len && nsep < 2 && is_sep(t[k]) && !s->taken[k]) {
                k++;
                nsep++;
            }
            if (nsep == 0 || k >= s->len || !is_digit(t[k]) || s->taken[k])
                break;
            j = k;
        }
        /* Glued to a letter ("123abc") or to a claimed match: not a number. */
        if (wordish(cp_at(s, end)) && !is_digit(t[end])) {
            while (end < s->len && wordish(cp_at(s, end)))
                end++;
            i = end;
            continue;
        }
        if (end < s->len && is_digit(t[end])) { /* a 64-byte run: leave it */
            while (end < s->len && (is_digit(t[end]) || is_sep(t[end])))
                end++;
            i = end;
            continue;
        }
        classify_span(s, i, end, cue_before(s, i));
        i = end;
    }
}

/* ---- entry points ---------------------------------------------------------- */

static int cmp_span(const void *a, const void *b)
{
    const nlp_pii_span_t *x = a, *y = b;
    return (x->off > y->off) - (x->off < y->off);
}

static int scan_all(const char *text, size_t len, scan_t *s)
{
    memset(s, 0, sizeof(*s));
    s->t = text;
    s->len = len;
    s->taken = calloc(len + 1, 1);
    if (!s->taken)
        return SP_ENOMEM;
    scan_emails(s);
    scan_ips(s);
    scan_ibans(s);
    scan_numbers(s);
    free(s->taken);
    s->taken = NULL;
    if (s->oom) {
        free(s->v);
        s->v = NULL;
        return SP_ENOMEM;
    }
    if (s->n > 1)
        qsort(s->v, s->n, sizeof(*s->v), cmp_span);
    return 0;
}

int nlp_pii_find(const char *text, size_t len, nlp_pii_span_t *spans, size_t max, size_t *n_found)
{
    if ((!text && len > 0) || (!spans && max > 0) || !n_found)
        return SP_EINVAL;
    scan_t s;
    int rc = scan_all(text ? text : "", len, &s);
    if (rc)
        return rc;
    for (size_t i = 0; i < s.n && i < max; i++)
        spans[i] = s.v[i];
    *n_found = s.n;
    free(s.v);
    return 0;
}

/* Appends text[a, b) repaired to valid UTF-8. */
static size_t put_sanitized(char *out, const char *t, size_t a, size_t b)
{
    size_t o = 0;
    while (a < b) {
        uint32_t cp;
        size_t n = nlp_utf8_decode(t + a, b - a, &cp);
        if (cp == 0 || (cp == NLP_UTF8_REPLACEMENT && n == 1)) {
            o += nlp_utf8_encode(NLP_UTF8_REPLACEMENT, out + o);
        } else {
            memcpy(out + o, t + a, n);
            o += n;
        }
        a += n;
    }
    return o;
}

char *nlp_pii_redact(const char *text, size_t len, nlp_pii_counts_t *counts, size_t *out_len)
{
    if (!text && len > 0)
        return NULL;
    if (!text)
        text = "";
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    scan_t s;
    if (scan_all(text, len, &s))
        return NULL;
    /* A placeholder (7 bytes at most) never outgrows the 3-bytes-per-byte
     * bound of repair, except for matches shorter than 3 bytes, which do not
     * exist (the shortest is an 8-digit phone or "::1"). */
    char *out = malloc(len * 3 + 8);
    if (!out) {
        free(s.v);
        return NULL;
    }
    size_t o = 0, pos = 0;
    for (size_t k = 0; k < s.n; k++) {
        o += put_sanitized(out + o, text, pos, s.v[k].off);
        const char *ph = placeholders[s.v[k].type];
        size_t pl = strlen(ph);
        memcpy(out + o, ph, pl);
        o += pl;
        pos = s.v[k].off + s.v[k].len;
        if (counts)
            counts->n[s.v[k].type]++;
    }
    o += put_sanitized(out + o, text, pos, len);
    out[o] = '\0';
    free(s.v);
    if (out_len)
        *out_len = o;
    return out;
}
