/* Unit tests for pii.c: the check-digit validators (Luhn, CPF, CNPJ, IBAN
 * mod-97, SSN ranges) on right and wrong numbers, and redaction in running
 * text — e-mails, IPv4/IPv6, IBANs, CPF/CNPJ, SSNs, cards and phones in
 * international and local (incl. Brazilian) formats — with the look-alikes
 * that must stay: invalid check digits, order ids, dates, amounts, postal
 * codes, times, MAC addresses and version strings. Also counts, spans,
 * invalid UTF-8 and random bytes (output always valid UTF-8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlp/pii.h"
#include "nlp/utf8.h"
#include "platform/error.h"

static void expect_redact(const char *in, const char *want)
{
    char *out = nlp_pii_redact(in, strlen(in), NULL, NULL);
    assert_non_null(out);
    if (strcmp(out, want) != 0)
        print_message("in:   %s\nout:  %s\nwant: %s\n", in, out, want);
    assert_string_equal(out, want);
    free(out);
}

static void expect_same(const char *in)
{
    expect_redact(in, in);
}

static void test_luhn(void **state)
{
    assert_true(nlp_pii_luhn_valid("4111111111111111"));
    assert_true(nlp_pii_luhn_valid("4111 1111 1111 1111"));
    assert_true(nlp_pii_luhn_valid("5555-5555-5555-4444"));
    assert_true(nlp_pii_luhn_valid("378282246310005"));   /* Amex, 15 */
    assert_true(nlp_pii_luhn_valid("6011111111111117"));  /* Discover */
    assert_true(nlp_pii_luhn_valid("4222222222222"));     /* 13 digits */
    assert_false(nlp_pii_luhn_valid("4111111111111112")); /* one digit off */
    assert_false(nlp_pii_luhn_valid("1234567812345678"));
    assert_false(nlp_pii_luhn_valid("4111111"));              /* too short */
    assert_false(nlp_pii_luhn_valid("41111111111111111113")); /* 20 digits */
    assert_false(nlp_pii_luhn_valid("4111x11111111111"));
    assert_false(nlp_pii_luhn_valid(NULL));
}

static void test_cpf_cnpj(void **state)
{
    assert_true(nlp_pii_cpf_valid("529.982.247-25"));
    assert_true(nlp_pii_cpf_valid("52998224725"));
    assert_true(nlp_pii_cpf_valid("123.456.789-09"));
    assert_false(nlp_pii_cpf_valid("529.982.247-26")); /* second check digit */
    assert_false(nlp_pii_cpf_valid("529.982.247-15")); /* first check digit */
    assert_false(nlp_pii_cpf_valid("111.111.111-11")); /* passes the maths, not a CPF */
    assert_false(nlp_pii_cpf_valid("000.000.000-00"));
    assert_false(nlp_pii_cpf_valid("5299822472")); /* 10 digits */
    assert_true(nlp_pii_cnpj_valid("11.222.333/0001-81"));
    assert_true(nlp_pii_cnpj_valid("11222333000181"));
    assert_false(nlp_pii_cnpj_valid("11.222.333/0001-82"));
    assert_false(nlp_pii_cnpj_valid("11.222.333/0001-91"));
    assert_false(nlp_pii_cnpj_valid("00.000.000/0000-00"));
    assert_false(nlp_pii_cnpj_valid("11.222.333/0001"));
}

static void test_iban_ssn(void **state)
{
    assert_true(nlp_pii_iban_valid("DE89370400440532013000"));
    assert_true(nlp_pii_iban_valid("DE89 3704 0044 0532 0130 00"));
    assert_true(nlp_pii_iban_valid("GB82 WEST 1234 5698 7654 32"));
    assert_true(nlp_pii_iban_valid("gb82west12345698765432"));
    assert_true(nlp_pii_iban_valid("FR1420041010050500013M02606"));
    assert_false(nlp_pii_iban_valid("DE89370400440532013001")); /* checksum */
    assert_false(nlp_pii_iban_valid("DE88370400440532013000")); /* check digits */
    assert_false(nlp_pii_iban_valid("DE8937040044053201300"));  /* German length is 22 */
    assert_false(nlp_pii_iban_valid("GB82-WEST!1234"));
    assert_true(nlp_pii_ssn_valid("123-45-6789"));
    assert_true(nlp_pii_ssn_valid("078-05-1120"));
    assert_false(nlp_pii_ssn_valid("000-12-3456")); /* area 000 */
    assert_false(nlp_pii_ssn_valid("666-12-3456")); /* area 666 */
    assert_false(nlp_pii_ssn_valid("900-12-3456")); /* area 900-999 */
    assert_false(nlp_pii_ssn_valid("999-12-3456"));
    assert_false(nlp_pii_ssn_valid("123-00-4567")); /* group 00 */
    assert_false(nlp_pii_ssn_valid("123-45-0000")); /* serial 0000 */
    assert_false(nlp_pii_ssn_valid("123-45-678"));
}

static void test_email(void **state)
{
    expect_redact("Contact john.doe+tag@example.co.uk, or JANE_X@Example.ORG.",
                  "Contact [EMAIL], or [EMAIL].");
    expect_redact("meu email é joão.silva@empresa.com.br obrigado", "meu email é [EMAIL] obrigado");
    expect_redact("<a@b.io>", "<[EMAIL]>");
    expect_same("user@localhost is not one");
    expect_same("follow @serphona on social");
    expect_same("a@b.c has a one-letter TLD");
    expect_same("x@-bad-.com");
    expect_same("price 10@ store");
}

static void test_cards(void **state)
{
    expect_redact("card 4111 1111 1111 1111 exp 12/27", "card [CARD] exp 12/27");
    expect_redact("4111-1111-1111-1111", "[CARD]");
    expect_redact("pay with 5555555555554444.", "pay with [CARD].");
    expect_redact("amex 3782 822463 10005 ok", "amex [CARD] ok");
    /* A Luhn-invalid number is left whole, not read as phones. */
    expect_same("card 4111 1111 1111 1112 was declined");
    expect_same("4111111111111112");
    /* Even after an order word a valid card is redacted. */
    expect_redact("order 4111111111111111", "order [CARD]");
}

static void test_cpf_cnpj_in_text(void **state)
{
    expect_redact("Meu CPF é 529.982.247-25.", "Meu CPF é [CPF].");
    expect_redact("cpf 52998224725", "cpf [CPF]");
    expect_same("cpf 529.982.247-26 (dígito errado)");
    expect_same("cpf 111.111.111-11");
    expect_redact("CNPJ 11.222.333/0001-81 da empresa", "CNPJ [CNPJ] da empresa");
    expect_redact("cnpj: 11222333000181", "cnpj: [CNPJ]");
    expect_same("CNPJ 11.222.333/0001-82");
    expect_redact("CPF 529.982.247-25 98765-4321", "CPF [CPF] [PHONE]");
}

static void test_ssn_in_text(void **state)
{
    expect_redact("SSN 123-45-6789.", "SSN [SSN].");
    expect_redact("my social security number is 123 45 6789", "my social security number is [SSN]");
    expect_redact("ssn: 123456789", "ssn: [SSN]");
    expect_same("bad ones 000-12-3456 666-12-3456 900-12-3456 123-00-4567 123-45-0000");
    expect_same("ref 123456789"); /* nine bare digits without the SSN cue */
}

static void test_iban_in_text(void **state)
{
    expect_redact("IBAN: DE89 3704 0044 0532 0130 00, thanks", "IBAN: [IBAN], thanks");
    expect_redact("send to GB82WEST12345698765432 today", "send to [IBAN] today");
    expect_redact("fr1420041010050500013m02606", "[IBAN]");
    expect_same("wrong DE89370400440532013001 checksum");
    expect_same("DE89 3704 0044 0532 0130 01");
}

static void test_ip(void **state)
{
    expect_redact("from 192.168.1.20 and 10.0.0.1.", "from [IP] and [IP].");
    expect_redact("v6 2001:db8::ff00:42:8329 and ::1", "v6 [IP] and [IP]");
    expect_redact("link fe80::1ff:fe23:4567:890a.", "link [IP].");
    expect_redact("mapped ::ffff:192.0.2.128 ok", "mapped [IP] ok");
    expect_same("256.1.1.1 is not an address");
    expect_same("version 1.2.3.4.5");
    expect_same("at 10:30:45 today");
    expect_same("mac 00:1A:2B:3C:4D:5E");
    expect_same("ratio 1:2:3");
}

static void test_phones(void **state)
{
    expect_redact("ligue +55 11 98765-4321", "ligue [PHONE]");
    expect_redact("ligue (11) 98765-4321 ou 11 3456-7890", "ligue [PHONE] ou [PHONE]");
    expect_redact("tel 11 98765-4321 11 91234-5678", "tel [PHONE] [PHONE]");
    expect_redact("call +1 (555) 123-4567 now", "call [PHONE] now");
    expect_redact("call 555-123-4567 or 555.123.4567", "call [PHONE] or [PHONE]");
    expect_redact("1-800-555-1234", "[PHONE]");
    expect_redact("London +44 20 7946 0958", "London [PHONE]");
    expect_redact("+5511987654321", "[PHONE]");
    expect_redact("meu celular 98765-4321", "meu celular [PHONE]");
    expect_redact("555-1234", "[PHONE]");
    expect_redact("0800 123 4567", "[PHONE]");
    expect_redact("whatsapp: 11987654321", "whatsapp: [PHONE]");
    expect_redact("phone 5551234567", "phone [PHONE]");
    expect_redact("llámame al +34 612 345 678", "llámame al [PHONE]");
}

static void test_order_ids_and_lookalikes(void **state)
{
    /* Order, protocol and tracking numbers are not phones. */
    expect_same("order 123456789 shipped");
    expect_same("order #5551234567");
    expect_same("pedido 1234-5678 atrasado");
    expect_same("protocolo: 2024-1234");
    expect_same("ticket 555-123-4567");
    expect_same("tracking BR123456789BR");
    expect_same("I paid 5551234567 twice"); /* bare digits, no phone word */
    expect_same("nº 98765-4321");
    /* Dates, amounts, postal codes, times. */
    expect_same("on 2024-01-15 and 15/01/2024");
    expect_same("R$ 1.500,00 and $1,234.56 and 1 000 000");
    expect_same("CEP 01310-100");
    expect_same("at 14:30 or 2:15pm");
    expect_same("room 12 floor 3");
    /* A '+' makes it a phone even after an order word. */
    expect_redact("order +55 11 98765-4321", "order [PHONE]");
}

static void test_counts_and_spans(void **state)
{
    nlp_pii_counts_t c = {{0}};
    const char *s = "a@b.io 4111111111111111 +55 11 98765-4321 529.982.247-25 1.2.3.4";
    size_t n;
    char *out = nlp_pii_redact(s, strlen(s), &c, &n);
    assert_string_equal(out, "[EMAIL] [CARD] [PHONE] [CPF] [IP]");
    assert_int_equal(n, strlen(out));
    free(out);
    out = nlp_pii_redact("x@y.com", 7, &c, NULL); /* counts add up */
    free(out);
    assert_int_equal(c.n[NLP_PII_EMAIL], 2);
    assert_int_equal(c.n[NLP_PII_CARD], 1);
    assert_int_equal(c.n[NLP_PII_PHONE], 1);
    assert_int_equal(c.n[NLP_PII_CPF], 1);
    assert_int_equal(c.n[NLP_PII_IP], 1);
    assert_int_equal(c.n[NLP_PII_IBAN], 0);
    assert_int_equal(nlp_pii_total(&c), 6);

    nlp_pii_span_t sp[2];
    size_t found = 0;
    assert_int_equal(nlp_pii_find(s, strlen(s), sp, 2, &found), 0);
    assert_int_equal(found, 5);
    assert_int_equal(sp[0].type, NLP_PII_EMAIL);
    assert_int_equal(sp[0].off, 0);
    assert_int_equal(sp[0].len, 6);
    assert_int_equal(sp[1].type, NLP_PII_CARD);
    assert_int_equal(sp[1].off, 7);
    assert_int_equal(nlp_pii_find(NULL, 3, sp, 2, &found), SP_EINVAL);
    assert_int_equal(nlp_pii_find("", 0, NULL, 0, &found), 0);
    assert_int_equal(found, 0);
}

static void test_names(void **state)
{
    assert_string_equal(nlp_pii_type_name(NLP_PII_CNPJ), "cnpj");
    assert_string_equal(nlp_pii_placeholder(NLP_PII_SSN), "[SSN]");
    assert_string_equal(nlp_pii_placeholder(NLP_PII_IP), "[IP]");
    assert_string_equal(nlp_pii_type_name((nlp_pii_type_t)99), "unknown");
}

static void test_invalid_utf8(void **state)
{
    const char in[] = "\xff jo\xc3\xa3o@x.com \xc3\x28 n\xc3\xa3o \x00 4111111111111111\xc3";
    size_t n;
    char *out = nlp_pii_redact(in, sizeof(in) - 1, NULL, &n);
    assert_non_null(out);
    assert_true(nlp_utf8_valid(out, n));
    assert_int_equal(strlen(out), n); /* the NUL was replaced */
    assert_string_equal(out, "\xef\xbf\xbd [EMAIL] \xef\xbf\xbd( n\xc3\xa3o \xef\xbf\xbd [CARD]"
                             "\xef\xbf\xbd");
    free(out);
    out = nlp_pii_redact(NULL, 0, NULL, &n);
    assert_string_equal(out, "");
    free(out);
    assert_null(nlp_pii_redact(NULL, 5, NULL, NULL));
}

static void test_random_bytes(void **state)
{
    srand(42);
    char buf[700];
    /* Digits, separators and letters most of the time, to reach deep into
     * the number rules, with raw bytes mixed in. */
    const char alphabet[] = "0123456789 -./()+@:#abcDEF\xc3\xa3\xff";
    for (int round = 0; round < 2000; round++) {
        size_t len = (size_t)(rand() % (int)sizeof(buf));
        for (size_t i = 0; i < len; i++)
            buf[i] = (rand() % 8) ? alphabet[rand() % (int)(sizeof(alphabet) - 1)]
                                  : (char)(rand() & 0xFF);
        size_t n;
        char *out = nlp_pii_redact(buf, len, NULL, &n);
        assert_non_null(out);
        assert_true(nlp_utf8_valid(out, n));
        free(out);
    }
}

static void test_long_runs(void **state)
{
    char buf[4096];
    memset(buf, '7', sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = '\0';
    expect_same(buf);
    for (size_t i = 1; i < sizeof(buf) - 1; i += 2)
        buf[i] = '-';
    expect_same(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_luhn),
        cmocka_unit_test(test_cpf_cnpj),
        cmocka_unit_test(test_iban_ssn),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_cards),
        cmocka_unit_test(test_cpf_cnpj_in_text),
        cmocka_unit_test(test_ssn_in_text),
        cmocka_unit_test(test_iban_in_text),
        cmocka_unit_test(test_ip),
        cmocka_unit_test(test_phones),
        cmocka_unit_test(test_order_ids_and_lookalikes),
        cmocka_unit_test(test_counts_and_spans),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_long_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
