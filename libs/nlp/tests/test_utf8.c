/* Unit tests for utf8.c, token.c and the internal phrase matcher: strict
 * decoding (overlong, surrogate, out-of-range, truncated and stray bytes are
 * U+FFFD and one byte), repair to valid UTF-8, case folding with accent
 * stripping, token kinds/offsets/flags, and pattern matching (prefixes,
 * gaps, punctuation breaks, languages, validation errors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../src/phraseset.h"
#include "nlp/token.h"
#include "nlp/utf8.h"
#include "platform/error.h"

static void test_decode_valid(void **state)
{
    uint32_t cp;
    assert_int_equal(nlp_utf8_decode("A", 1, &cp), 1);
    assert_int_equal(cp, 'A');
    assert_int_equal(nlp_utf8_decode("\xc3\xa3", 2, &cp), 2); /* ã */
    assert_int_equal(cp, 0xE3);
    assert_int_equal(nlp_utf8_decode("\xe2\x82\xac", 3, &cp), 3); /* € */
    assert_int_equal(cp, 0x20AC);
    assert_int_equal(nlp_utf8_decode("\xf0\x9f\x98\xa1", 4, &cp), 4); /* 😡 */
    assert_int_equal(cp, 0x1F621);
    assert_int_equal(nlp_utf8_decode("", 0, &cp), 0);
}

static void test_decode_invalid(void **state)
{
    static const char *const bad[] = {
        "\xc0\x80",         /* overlong NUL */
        "\xe0\x80\xaf",     /* overlong '/' */
        "\xed\xa0\x80",     /* surrogate */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "\xf5\x80\x80\x80", /* bad lead byte */
        "\x80",             /* stray continuation */
        "\xc3",             /* truncated */
        "\xe2\x82",         /* truncated */
        "\xc3\x28",         /* bad continuation */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint32_t cp = 0;
        assert_int_equal(nlp_utf8_decode(bad[i], strlen(bad[i]), &cp), 1);
        assert_int_equal(cp, NLP_UTF8_REPLACEMENT);
        assert_false(nlp_utf8_valid(bad[i], strlen(bad[i])));
    }
    const char *good = "n\xc3\xa3o est\xc3\xa1 \xef\xbf\xbd";
    assert_true(nlp_utf8_valid(good, strlen(good)));
}

static void test_encode_roundtrip(void **state)
{
    const uint32_t cps[] = {0x41, 0xE7, 0x7FF, 0x800, 0xFFFD, 0x10000, 0x1F44D, 0x10FFFF};
    for (size_t i = 0; i < sizeof(cps) / sizeof(cps[0]); i++) {
        char b[4];
        size_t n = nlp_utf8_encode(cps[i], b);
        uint32_t back;
        assert_int_equal(nlp_utf8_decode(b, n, &back), n);
        assert_int_equal(back, cps[i]);
    }
    char b[4];
    assert_int_equal(nlp_utf8_encode(0xD800, b), 3); /* a surrogate becomes U+FFFD */
    assert_memory_equal(b, "\xef\xbf\xbd", 3);
}

static void test_sanitize(void **state)
{
    size_t n;
    char *s = nlp_utf8_sanitize("ok\xff\x00z\xc3\xa9", 7, &n);
    assert_non_null(s);
    assert_string_equal(s, "ok\xef\xbf\xbd\xef\xbf\xbdz\xc3\xa9");
    assert_int_equal(n, strlen(s));
    assert_true(nlp_utf8_valid(s, n));
    free(s);
    s = nlp_utf8_sanitize("", 0, &n);
    assert_string_equal(s, "");
    assert_int_equal(n, 0);
    free(s);
}

static void check_fold(const char *in, const char *want)
{
    char *f = nlp_utf8_fold_str(in, strlen(in), NULL);
    assert_non_null(f);
    assert_string_equal(f, want);
    free(f);
}

static void test_fold(void **state)
{
    check_fold("N\xc3\xa3o", "nao");
    check_fold("CANCELACI\xc3\x93N", "cancelacion");
    check_fold("est\xc3\xa1", "esta");
    check_fold("Stra\xc3\x9f"
               "e",
               "strasse");
    check_fold("\xc3\x86var \xc5\x92uvre", "aevar oeuvre");
    check_fold("na\xcc\x83o", "nao"); /* decomposed: n a U+0303 o */
    check_fold("\xc3\x87\xc3\xa7 \xc3\x91\xc3\xb1 \xc3\x9c\xc3\xbc", "cc nn uu");
    check_fold("\xc4\xb0stanbul \xc5\x81\xc3\xb3"
               "d\xc5\xba",
               "istanbul lodz");
    check_fold("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2", /* ПРИВЕТ */
               "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
    check_fold("don\xe2\x80\x99t", "don't");
    check_fold("a\xff"
               "b",
               "a\xef\xbf\xbd"
               "b");
}

static void test_classes(void **state)
{
    assert_true(nlp_utf8_is_letter('a'));
    assert_true(nlp_utf8_is_letter(0xE3));
    assert_true(nlp_utf8_is_letter(0x4E2D)); /* 中 */
    assert_false(nlp_utf8_is_letter(0xBF));  /* ¿ */
    assert_false(nlp_utf8_is_letter(0x2026));
    assert_false(nlp_utf8_is_letter(0x1F600));
    assert_true(nlp_utf8_is_emoji(0x1F600));
    assert_true(nlp_utf8_is_emoji(0x2764));
    assert_false(nlp_utf8_is_emoji(0x1F3FD)); /* skin tone */
    assert_true(nlp_utf8_is_emoji_modifier(0x1F3FD));
    assert_true(nlp_utf8_is_emoji_modifier(0xFE0F));
    assert_true(nlp_utf8_is_space(0xA0));
    assert_true(nlp_utf8_is_upper(0xC9));
    assert_false(nlp_utf8_is_upper(0xE9));
}

static const nlp_token_t *tok(const nlp_tokens_t *t, size_t i)
{
    assert_true(i < t->n);
    return &t->v[i];
}

static void test_tokenize_kinds(void **state)
{
    const char *s = "Don't e-mail me!!! R$ 1.500,00 [EMAIL] :) \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd ok";
    nlp_tokens_t t;
    nlp_tokens_init(&t);
    assert_int_equal(nlp_tokenize(s, strlen(s), &t), 0);
    const char *norms[] = {"don't", "e-mail",           "me", "!", "r", "$", "1.500,00", "[EMAIL]",
                           ":)",    "\xf0\x9f\x91\x8d", "ok"};
    nlp_tok_kind_t kinds[] = {NLP_TOK_WORD,     NLP_TOK_WORD,  NLP_TOK_WORD,   NLP_TOK_PUNCT,
                              NLP_TOK_WORD,     NLP_TOK_PUNCT, NLP_TOK_NUMBER, NLP_TOK_PLACEHOLDER,
                              NLP_TOK_EMOTICON, NLP_TOK_EMOJI, NLP_TOK_WORD};
    assert_int_equal(t.n, 11);
    for (size_t i = 0; i < t.n; i++) {
        assert_string_equal(tok(&t, i)->norm, norms[i]);
        assert_int_equal(tok(&t, i)->kind, kinds[i]);
    }
    assert_int_equal(tok(&t, 3)->repeat, 3);
    assert_int_equal(tok(&t, 3)->cp, '!');
    assert_int_equal(tok(&t, 9)->cp, 0x1F44D);
    /* Offsets point back into the text. */
    assert_int_equal(tok(&t, 1)->off, 6);
    assert_int_equal(tok(&t, 1)->len, 6);
    assert_memory_equal(s + tok(&t, 6)->off, "1.500,00", 8);
    nlp_tokens_cleanup(&t);
    nlp_tokens_cleanup(&t);
}

static void test_tokenize_flags_and_forms(void **state)
{
    const char *s = "N\xc3\x83O quero ISSO, Gostei sooo much I";
    nlp_tokens_t t;
    nlp_tokens_init(&t);
    assert_int_equal(nlp_tokenize(s, strlen(s), &t), 0);
    assert_string_equal(tok(&t, 0)->lower, "n\xc3\xa3o");
    assert_string_equal(tok(&t, 0)->norm, "nao");
    assert_true(tok(&t, 0)->flags & NLP_TOKF_ALLCAPS);
    assert_false(tok(&t, 1)->flags & NLP_TOKF_ALLCAPS);
    assert_true(tok(&t, 1)->flags & NLP_TOKF_HASLOWER);
    assert_true(tok(&t, 2)->flags & NLP_TOKF_ALLCAPS);
    assert_true(tok(&t, 4)->flags & NLP_TOKF_CAPITALIZED);
    assert_false(tok(&t, 4)->flags & NLP_TOKF_ALLCAPS);
    assert_true(tok(&t, 5)->flags & NLP_TOKF_ELONGATED);
    assert_false(tok(&t, 7)->flags & NLP_TOKF_ALLCAPS); /* one letter is not shouting */
    nlp_tokens_cleanup(&t);
}

static void test_tokenize_edge_cases(void **state)
{
    nlp_tokens_t t;
    nlp_tokens_init(&t);
    /* No emoticon inside a URL; brackets that are not placeholders. */
    const char *s = "http://x.io [not one] [A] a:)";
    assert_int_equal(nlp_tokenize(s, strlen(s), &t), 0);
    for (size_t i = 0; i < t.n; i++) {
        assert_int_not_equal(t.v[i].kind, NLP_TOK_EMOTICON);
        assert_int_not_equal(t.v[i].kind, NLP_TOK_PLACEHOLDER);
    }
    /* Invalid bytes separate words and never crash. */
    assert_int_equal(nlp_tokenize("ab\xff\xfe"
                                  "cd\xc3",
                                  7, &t),
                     0);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.v[0].norm, "ab");
    assert_string_equal(t.v[1].norm, "cd");
    assert_int_equal(nlp_tokenize("", 0, &t), 0);
    assert_int_equal(t.n, 0);
    /* Random bytes: tokens stay inside the text. */
    srand(7);
    char buf[512];
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof(buf); i++)
            buf[i] = (char)(rand() & 0xFF);
        assert_int_equal(nlp_tokenize(buf, sizeof(buf), &t), 0);
        for (size_t i = 0; i < t.n; i++)
            assert_true(t.v[i].off + t.v[i].len <= sizeof(buf));
    }
    nlp_tokens_cleanup(&t);
}

static void test_token_breaks(void **state)
{
    nlp_tokens_t t;
    nlp_tokens_init(&t);
    assert_int_equal(nlp_tokenize("a, b. c\xc2\xbf d", 11, &t), 0);
    assert_false(nlp_token_is_break(&t.v[1], 0));
    assert_true(nlp_token_is_break(&t.v[1], 1));
    assert_true(nlp_token_is_break(&t.v[3], 0));
    assert_true(nlp_token_is_break(&t.v[5], 0));
    assert_false(nlp_token_is_break(&t.v[0], 1));
    nlp_tokens_cleanup(&t);
}

static size_t match_count(const ps_set_t *s, const char *text, uint32_t langs)
{
    nlp_tokens_t t;
    nlp_tokens_init(&t);
    assert_int_equal(nlp_tokenize(text, strlen(text), &t), 0);
    size_t total = 0;
    for (size_t i = 0; i < t.n; i++) {
        ps_hit_t h[8];
        total += ps_match_at(s, t.v, t.n, i, langs, h, 8);
    }
    nlp_tokens_cleanup(&t);
    return total;
}

static void test_phraseset(void **state)
{
    ps_set_t *s = ps_new();
    assert_non_null(s);
    assert_int_equal(ps_add(s, "cancel*", 1, 1, 0, NULL, 0), 0);
    assert_int_equal(ps_add(s, "speak to * manager", 1, 2, 0, NULL, 0), 0);
    assert_int_equal(ps_add(s, "Não funciona", 2, 3, 0, NULL, 0), 0);
    assert_int_equal(ps_add(s, "charged twice", 1, 4, 0, NULL, 0), 0);
    assert_int_equal(ps_finish(s), 0);
    assert_int_equal(ps_count(s), 4);
    assert_int_equal(match_count(s, "I want to CANCELLATION now", 1), 1);
    assert_int_equal(match_count(s, "can I", 1), 0);
    assert_int_equal(match_count(s, "speak to a manager", 1), 1);
    assert_int_equal(match_count(s, "speak to manager", 1), 1);
    assert_int_equal(match_count(s, "speak to the store manager", 1), 1);
    assert_int_equal(match_count(s, "speak to my very own manager", 1), 0); /* gap > 2 */
    assert_int_equal(match_count(s, "speak to, manager", 1), 0);            /* punctuation */
    assert_int_equal(match_count(s, "nao funciona", 2), 1);
    assert_int_equal(match_count(s, "nao funciona", 1), 0); /* other language */
    assert_int_equal(match_count(s, "charged, twice", 1), 0);
    assert_null(ps_lookup_word(s, "cancel", 1)); /* a prefix is not a word */
    ps_destroy(&s);
    assert_null(s);
    ps_destroy(&s);
}

static void test_phraseset_errors(void **state)
{
    char err[128];
    assert_int_equal(ps_validate("ok pattern", err, sizeof(err)), 0);
    assert_int_equal(ps_validate("", err, sizeof(err)), SP_EINVAL);
    assert_int_equal(ps_validate("ab*", err, sizeof(err)), SP_EINVAL);
    assert_non_null(strstr(err, "3 letters"));
    assert_int_equal(ps_validate("* foo", err, sizeof(err)), SP_EINVAL);
    assert_int_equal(ps_validate("foo *", err, sizeof(err)), SP_EINVAL);
    assert_int_equal(ps_validate("foo * * bar", err, sizeof(err)), SP_EINVAL);
    assert_int_equal(ps_validate("a b c d e f g h i", err, sizeof(err)), SP_EINVAL);
    assert_int_equal(ps_validate("hello!", err, sizeof(err)), SP_EINVAL);
    assert_int_equal(ps_validate("...", err, sizeof(err)), SP_EINVAL);
    char longp[300];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    assert_int_equal(ps_validate(longp, err, sizeof(err)), SP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_valid),
        cmocka_unit_test(test_decode_invalid),
        cmocka_unit_test(test_encode_roundtrip),
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_tokenize_kinds),
        cmocka_unit_test(test_tokenize_flags_and_forms),
        cmocka_unit_test(test_tokenize_edge_cases),
        cmocka_unit_test(test_token_breaks),
        cmocka_unit_test(test_phraseset),
        cmocka_unit_test(test_phraseset_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
