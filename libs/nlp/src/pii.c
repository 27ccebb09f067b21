/*
 * pii.c — PII detection and redaction (rules in pii.h).
 *
 * Detection runs in passes over the raw bytes (e-mail, IP, IBAN, numbers);
 * a byte claimed by one pass is never looked at by a later one. The
 * patterns are ASCII, so invalid UTF-8 elsewhere cannot confuse them; the
 * output is repaired to valid UTF-8 when it is assembled.
 */
#include "pii_internal.h"

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

/* ---- scanning helpers ------------------------------------------------------ */

/* The code point that ends right before byte off (0 at the start). */
uint32_t pii_cp_before(const scan_t *s, size_t off)
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

uint32_t pii_cp_at(const scan_t *s, size_t off)
{
    if (off >= s->len)
        return 0;
    uint32_t cp;
    nlp_utf8_decode(s->t + off, s->len - off, &cp);
    return cp;
}

bool pii_wordish(uint32_t cp)
{
    return nlp_utf8_is_letter(cp) || nlp_utf8_is_digit(cp) || cp == '_' || nlp_utf8_is_mark(cp);
}

bool pii_is_free(const scan_t *s, size_t off, size_t end)
{
    for (size_t i = off; i < end; i++)
        if (s->taken[i])
            return false;
    return true;
}

void pii_claim(scan_t *s, size_t off, size_t end, nlp_pii_type_t type)
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
        if (!domain_ok(t + a + 1, r - a - 1) || !pii_is_free(s, l, r))
            continue;
        pii_claim(s, l, r, NLP_PII_EMAIL);
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
    if (pii_wordish(pii_cp_at(s, i)))
        return 0;
    return i;
}

static void scan_ips(scan_t *s)
{
    const char *t = s->t;
    for (size_t i = 0; i < s->len; i++) {
        if (s->taken[i])
            continue;
        uint32_t before = pii_cp_before(s, i);
        if (pii_wordish(before) || before == '.' || before == ':')
            continue;
        if (is_digit(t[i])) {
            size_t e = ipv4_at(s, i);
            if (e && pii_is_free(s, i, e)) {
                pii_claim(s, i, e, NLP_PII_IP);
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
        if (pii_wordish(pii_cp_at(s, e)) || !pii_is_free(s, i, e))
            continue;
        char buf[48];
        memcpy(buf, t + i, e - i);
        buf[e - i] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, buf, &a6) == 1) {
            pii_claim(s, i, e, NLP_PII_IP);
            i = e - 1;
        }
    }
}

/* ---- IBAN -------------------------------------------------------------- */

static void scan_ibans(scan_t *s)
{
    const char *t = s->t;
    for (size_t i = 0; i + 15 <= s->len; i++) {
        if (s->taken[i] || !is_alpha_ascii(t[i]) || !is_alpha_ascii(t[i + 1]) ||
            !is_digit(t[i + 2]) || !is_digit(t[i + 3]) || pii_wordish(pii_cp_before(s, i)))
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
                boundary[k] = j >= s->len || !pii_wordish(pii_cp_at(s, j));
                k++;
                group++;
            } else if (c == ' ' && group == 4 && j + 1 < s->len && is_alnum_ascii(t[j + 1])) {
                j++;
                group = 0;
            } else {
                break;
            }
        }
        int want = pii_iban_country_length(chars[0], chars[1]);
        int found = 0;
        if (want) {
            if (k >= want && boundary[want - 1] && pii_iban_chars(chars, want))
                found = want;
        } else {
            for (int L = k; L >= 15 && !found; L--)
                if (boundary[L - 1] && pii_iban_chars(chars, L))
                    found = L;
        }
        if (found && pii_is_free(s, i, end_off[found - 1])) {
            pii_claim(s, i, end_off[found - 1], NLP_PII_IBAN);
            i = end_off[found - 1] - 1;
        }
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
    pii_scan_numbers(s);
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
