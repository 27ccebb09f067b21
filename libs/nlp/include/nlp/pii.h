/*
 * pii.h — redaction of personal data before anything is stored.
 *
 * What it does: finds e-mail addresses, IPv4/IPv6 addresses, IBANs, Brazilian
 * CPF and CNPJ numbers, US social security numbers, payment card numbers and
 * phone numbers, and replaces each with a typed placeholder ("[EMAIL]",
 * "[IP]", "[IBAN]", "[CPF]", "[CNPJ]", "[SSN]", "[CARD]", "[PHONE]"),
 * counting them per type. The redacted text is always valid UTF-8 (invalid
 * sequences and NUL bytes become U+FFFD), so every later step and every
 * store can take it as it is.
 *
 * The rules, in the order they claim text (a later rule never looks inside
 * an earlier match):
 *  1. EMAIL: local@domain.tld — local part of letters, digits and
 *     . _ % + - (and non-ASCII), a domain with a dot and a TLD of 2+
 *     letters.
 *  2. IP: dotted IPv4 with four parts of 0..255 (not part of a longer dotted
 *     run, so "1.2.3.4.5" stays); IPv6 in any form inet_pton accepts with at
 *     least two colons (not times like "10:30:00", not MAC addresses).
 *  3. IBAN: a country code, two check digits and up to 30 letters/digits,
 *     compact or in groups of four; the length must be the country's (for
 *     ~60 countries known here, 15..34 for others) and the ISO 7064 mod-97
 *     check must hold. An IBAN with a wrong checksum is left as it is.
 *  4. Numbers (runs of digits joined by single spaces, '-', '.', '/', '(' ,
 *     ')' and a leading '+'), classified in this order:
 *     - CNPJ: 14 digits, bare or as 12.345.678/0001-95, valid check digits;
 *     - CPF: 11 digits, bare or as 123.456.789-09, valid check digits (and
 *       not all the same digit);
 *     - SSN: AAA-GG-SSSS with area not 000, 666 or 900-999, group not 00 and
 *       serial not 0000; nine bare or space-separated digits only right after
 *       "SSN" or "social security";
 *     - CARD: 13 to 19 digits, bare or printed like a card (a first group
 *       of 4, then groups of 3 to 6, joined by spaces or by dashes), passing
 *       the Luhn check. Only Luhn-valid numbers are cards; an invalid one is
 *       left alone, whole (it is usually an order or tracking number), and
 *       so is any longer run printed in blocks of four (an account number,
 *       the tail of an IBAN with a wrong checksum);
 *     - PHONE: "+" and 8 to 15 digits (E.164, any grouping); "(11) 98765-4321"
 *       or "(555) 123-4567" (area code in parentheses and 7 to 9 digits);
 *       groups joined by dashes (and spaces), or only dots, ending in a
 *       group of 4 after a group of 3 to 5, 10 to 13 digits in all
 *       ("11 98765-4321", "555-123-4567", "555.123.4567"); the same joined
 *       by spaces only when the first group looks like an area code (2-3
 *       digits) or a 0800-style prefix ("11 98765 4321", "0800 123 4567"),
 *       so blocks of four ("3704 0044 0532") are not phones; a local
 *       "98765-4321" or "555-1234" (two groups joined by a dash: 3+4, 4+4,
 *       or 5+4 starting with 9); bare 8 to 13 digits only right after a
 *       phone word (phone, tel, cell, mobile, whatsapp, telefone, celular,
 *       fone, zap, móvil, teléfono, ligar, call...).
 *     A run that is none of these as a whole is tried in parts (two phone
 *     numbers in a row are two phones).
 *
 * Order ids: a number right after an order word (order, pedido, protocolo,
 * protocol, ticket, invoice, fatura, factura, boleto, tracking, rastreio,
 * case, caso, ref, referência, código, code, id, '#', nº) is NOT taken as a
 * phone unless it starts with '+' (so "pedido 1234-5678" and "order
 * #5551234567" stay), but still counts as a CPF/CNPJ/card when its check
 * digits say so: leaking a real card number costs more than hiding an order
 * id that happens to pass Luhn. A bare run of digits with no phone word
 * ("order 123456789", "I paid 5551234567") is never a phone.
 *
 * Where it stops: it finds structured identifiers only — no names, street
 * addresses, dates of birth, passwords or free-text account numbers; no
 * spelled-out or obfuscated forms ("john at gmail dot com", "five five
 * five..."); dates and amounts are left alone by the shape rules, but an
 * oddly formatted number may still be taken as a phone (a US ZIP+4 such as
 * "94105-1234" has the shape of a local phone), and a version string like
 * "1.2.3.4" is an IPv4 address. The new alphanumeric CNPJ (from July 2026)
 * is not recognised.
 */
#ifndef NLP_PII_H
#define NLP_PII_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    NLP_PII_EMAIL = 0,
    NLP_PII_PHONE,
    NLP_PII_CARD,
    NLP_PII_IBAN,
    NLP_PII_CPF,
    NLP_PII_CNPJ,
    NLP_PII_SSN,
    NLP_PII_IP,
    NLP_PII_TYPES
} nlp_pii_type_t;

/* Matches per type; nlp_pii_redact adds to it, so one struct can sum a
 * whole interaction. */
typedef struct {
    unsigned n[NLP_PII_TYPES];
} nlp_pii_counts_t;

/* One match: bytes [off, off + len) of the input. */
typedef struct {
    size_t off, len;
    nlp_pii_type_t type;
} nlp_pii_span_t;

/* "email", "phone", "card", "iban", "cpf", "cnpj", "ssn", "ip" (stable names
 * for JSON keys and columns); "unknown" for a bad value. */
const char *nlp_pii_type_name(nlp_pii_type_t type);

/* "[EMAIL]", "[PHONE]", ... the text a match is replaced with. */
const char *nlp_pii_placeholder(nlp_pii_type_t type);

/* The sum of all counts. */
unsigned nlp_pii_total(const nlp_pii_counts_t *counts);

/* Finds the matches in the len bytes at text (any bytes) and writes up to
 * max of them, in text order and never overlapping, to spans; the number
 * found (which may exceed max) goes to *n_found. Returns 0, SP_EINVAL or
 * SP_ENOMEM. */
int nlp_pii_find(const char *text, size_t len, nlp_pii_span_t *spans, size_t max, size_t *n_found);

/* The redacted copy of the len bytes at text: every match replaced by its
 * placeholder, the rest repaired to valid UTF-8 (see the header comment).
 * Adds the matches to *counts when counts is not NULL. Returns a malloc'd
 * NUL-terminated string the caller frees (its length in *out_len when not
 * NULL), or NULL when out of memory or text is NULL with len > 0. */
char *nlp_pii_redact(const char *text, size_t len, nlp_pii_counts_t *counts, size_t *out_len);

/* The check-digit validators the rules use, exposed for ingestion-side
 * validation and tests. Each takes a NUL-terminated string of digits that
 * may contain the usual separators (spaces, '.', '-', '/'; letters for the
 * IBAN) and rejects any other character. */

/* Luhn check over 13..19 digits. */
bool nlp_pii_luhn_valid(const char *s);

/* CPF: 11 digits, both check digits right, not all digits the same. */
bool nlp_pii_cpf_valid(const char *s);

/* CNPJ: 14 digits, both check digits right, not all digits the same. */
bool nlp_pii_cnpj_valid(const char *s);

/* IBAN: country code, check digits, country length when known (15..34
 * otherwise), mod-97 remainder 1. Letters in any case. */
bool nlp_pii_iban_valid(const char *s);

/* SSN: nine digits AAAGGSSSS (separators allowed) with area not 000, 666 or
 * 900..999, group not 00, serial not 0000. */
bool nlp_pii_ssn_valid(const char *s);

#endif
