/*
 * pii_internal.h — private to libs/nlp/src/pii*.c: the scan state and the
 * helpers shared by pii.c (names, scanning helpers, e-mail, IP and IBAN
 * passes, entry points), pii_valid.c (checksums and validators) and
 * pii_numbers.c (the CPF/CNPJ/SSN/card/phone pass).
 */
#ifndef NLP_PII_INTERNAL_H
#define NLP_PII_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nlp/pii.h"

typedef struct {
    const char *t;
    size_t len;
    unsigned char *taken; /* 1 for bytes claimed by a match */
    nlp_pii_span_t *v;
    size_t n, cap;
    int oom;
} scan_t;

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static inline bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline char upper_ascii(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
}

static inline bool is_alnum_ascii(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool is_alpha_ascii(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ---- validators (pii_valid.c); d holds only the digits -------------------- */

bool pii_luhn_digits(const char *d, int n);
bool pii_cpf_digits(const char *d);
bool pii_cnpj_digits(const char *d);
bool pii_ssn_digits(const char *d);

/* The IBAN length of country ab, 0 when the country is not in the table. */
int pii_iban_country_length(char a, char b);

/* n characters at s are a well-formed IBAN body (letters, digits, mod 97). */
bool pii_iban_chars(const char *s, int n);

/* ---- scanning helpers (pii.c) --------------------------------------------- */

/* The code point that ends right before byte off (0 at the start). */
uint32_t pii_cp_before(const scan_t *s, size_t off);
/* The code point starting at byte off (0 at the end). */
uint32_t pii_cp_at(const scan_t *s, size_t off);
/* A letter, digit, '_' or mark: what may not touch a match. */
bool pii_wordish(uint32_t cp);
/* No byte of [off, end) is claimed yet. */
bool pii_is_free(const scan_t *s, size_t off, size_t end);
/* Records [off, end) as a match of type and claims its bytes; sets s->oom
 * when out of memory. */
void pii_claim(scan_t *s, size_t off, size_t end, nlp_pii_type_t type);

/* ---- the numbers pass (pii_numbers.c) ------------------------------------- */

/* Finds CPF, CNPJ, SSN, card and phone numbers among the unclaimed bytes. */
void pii_scan_numbers(scan_t *s);

#endif
