/*
 * pii_valid.c — the checksums behind PII detection (Luhn, CPF, CNPJ, SSN
 * rules, IBAN mod 97) and the public nlp_pii_*_valid validators (pii.h).
 */
#include "pii_internal.h"

#include <string.h>

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

bool pii_luhn_digits(const char *d, int n)
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

bool pii_cpf_digits(const char *d)
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

bool pii_cnpj_digits(const char *d)
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

bool pii_ssn_digits(const char *d)
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
    return n >= 13 && n <= 19 && pii_luhn_digits(d, n);
}

bool nlp_pii_cpf_valid(const char *s)
{
    char d[12];
    return s && digits_of(s, d, 11) == 11 && pii_cpf_digits(d);
}

bool nlp_pii_cnpj_valid(const char *s)
{
    char d[15];
    return s && digits_of(s, d, 14) == 14 && pii_cnpj_digits(d);
}

bool nlp_pii_ssn_valid(const char *s)
{
    char d[10];
    return s && digits_of(s, d, 9) == 9 && pii_ssn_digits(d);
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
int pii_iban_country_length(char a, char b)
{
    for (size_t i = 0; i < sizeof(iban_lengths) / sizeof(iban_lengths[0]); i++)
        if (iban_lengths[i].cc[0] == a && iban_lengths[i].cc[1] == b)
            return iban_lengths[i].len;
    return 0;
}

/* s: n uppercase letters/digits. */
bool pii_iban_chars(const char *s, int n)
{
    if (n < 15 || n > 34)
        return false;
    if (!(s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= '0' && s[2] <= '9' &&
          s[3] >= '0' && s[3] <= '9'))
        return false;
    int want = pii_iban_country_length(s[0], s[1]);
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
    return pii_iban_chars(buf, n);
}
