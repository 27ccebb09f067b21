/*
 * pii_numbers.c — the numbers pass of PII detection: digit runs with their
 * separators, classified as CPF, CNPJ, SSN, card or phone by shape, checksum
 * and the words before them (cues).
 */
#include "pii_internal.h"

#include <stdlib.h>
#include <string.h>

#include "nlp/utf8.h"

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
        if (n == 14 && pii_cnpj_digits(ni->dig))
            return NLP_PII_CNPJ;
        if (n == 11 && pii_cpf_digits(ni->dig))
            return NLP_PII_CPF;
        if (n == 9 && cue == CUE_SSN && pii_ssn_digits(ni->dig))
            return NLP_PII_SSN;
        if (n >= 13 && n <= 19 && pii_luhn_digits(ni->dig, n))
            return NLP_PII_CARD;
        if (cue == CUE_PHONE && n >= 8 && n <= 13)
            return NLP_PII_PHONE;
        return -1;
    }
    if (!ni->plus && n == 14 && shape(ni, cnpj_g, "../-", 5) && pii_cnpj_digits(ni->dig))
        return NLP_PII_CNPJ;
    if (!ni->plus && n == 11 && shape(ni, cpf_g, "..-", 4) && pii_cpf_digits(ni->dig))
        return NLP_PII_CPF;
    if (!ni->plus && n == 9 && pii_ssn_digits(ni->dig) &&
        (shape(ni, ssn_g, "--", 3) || (cue == CUE_SSN && shape(ni, ssn_g, "  ", 3))))
        return NLP_PII_SSN;
    if (card_shape(ni) && pii_luhn_digits(ni->dig, n))
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
    if (parse_num(s->t, st, en, &ni) && card_shape(&ni) && !pii_luhn_digits(ni.dig, ni.ndig) &&
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
                pii_claim(s, st, en, (nlp_pii_type_t)type);
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
                pii_claim(s, cs[a], ce[b], (nlp_pii_type_t)type);
                matched = b;
            }
        }
        a = matched >= 0 ? matched + 1 : a + 1;
    }
}

void pii_scan_numbers(scan_t *s)
{
    const char *t = s->t;
    size_t i = 0;
    while (i < s->len) {
        char c = t[i];
        bool start =
            is_digit(c) || ((c == '+' || c == '(') && i + 1 < s->len && is_digit(t[i + 1]));
        if (!start || s->taken[i] || pii_wordish(pii_cp_before(s, i))) {
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
        if (pii_wordish(pii_cp_at(s, end)) && !is_digit(t[end])) {
            while (end < s->len && pii_wordish(pii_cp_at(s, end)))
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
