/*
 * test_csv.c — the CSV reader (quotes, separators and line breaks in fields,
 * BOM, line endings, malformed records) and upload rows (CSV header and
 * cells, transcripts, JSON lines) turned into interactions. Pure: no servers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/csv.h"
#include "../src/interaction.h"
#include "../src/upload_rows.h"
#include "platform/error.h"

#define TENANT "11111111-2222-4333-8444-555555555555"
#define NOW_MS 1717200000000LL

/* Reads every record of text, checking each against expect (fields joined
 * with '|', "!" for a malformed record) and that there are exactly n. */
static void expect_records(const char *text, size_t len, char delim, const char *const *expect,
                           const size_t *lines, size_t n)
{
    sp_arena_t *arena = sp_arena_new();
    tg_csv_t r;
    tg_csv_init(&r, text, len, delim);
    for (size_t i = 0; i < n; i++) {
        tg_csv_record_t rec;
        int rc = tg_csv_next(&r, arena, &rec);
        if (rc == 0)
            fail_msg("%zu records, expected %zu", i, n);
        char joined[1024] = "";
        if (rc == 1) {
            for (size_t f = 0; f < rec.n; f++) {
                if (f)
                    strcat(joined, "|");
                strcat(joined, rec.fields[f]);
            }
        } else {
            assert_int_equal(rc, SP_EINVAL);
            strcpy(joined, "!");
        }
        if (strcmp(joined, expect[i]) != 0)
            fail_msg("record %zu: got [%s], want [%s]", i, joined, expect[i]);
        if (lines && rec.line != lines[i])
            fail_msg("record %zu starts on line %zu, want %zu", i, rec.line, lines[i]);
    }
    tg_csv_record_t extra;
    assert_int_equal(tg_csv_next(&r, arena, &extra), 0);
    sp_arena_destroy(&arena);
}

#define EXPECT(text, delim, ...)                                                                   \
    do {                                                                                           \
        const char *const want_[] = {__VA_ARGS__};                                                 \
        expect_records(text, sizeof(text) - 1, delim, want_, NULL,                                 \
                       sizeof(want_) / sizeof(want_[0]));                                          \
    } while (0)

static void test_csv_basics(void **state)
{
    (void)state;
    EXPECT("a,b,c\n1,2,3\n", ',', "a|b|c", "1|2|3");
    EXPECT("a,b,c\r\n1,2,3", ',', "a|b|c", "1|2|3");   /* CRLF, no final break */
    EXPECT("a,b\r1,2\r", ',', "a|b", "1|2");           /* lone CR */
    EXPECT("a,,c,\n", ',', "a||c|");                   /* empty and trailing fields */
    EXPECT("\n\na,b\n\n\n1,2\n\n", ',', "a|b", "1|2"); /* empty lines skipped */
    EXPECT("\xEF\xBB\xBF"
           "id,x\n1,2\n",
           ',', "id|x", "1|2"); /* BOM */
    EXPECT("x\n", ',', "x");
    sp_arena_t *arena = sp_arena_new();
    tg_csv_t r;
    tg_csv_record_t rec;
    tg_csv_init(&r, "", 0, ',');
    assert_int_equal(tg_csv_next(&r, arena, &rec), 0);
    tg_csv_init(&r, "\n\r\n", 3, ',');
    assert_int_equal(tg_csv_next(&r, arena, &rec), 0);
    sp_arena_destroy(&arena);
}

static void test_csv_quotes(void **state)
{
    (void)state;
    EXPECT("\"a,b\",c\n", ',', "a,b|c");
    EXPECT("\"say \"\"hi\"\"\",x\n", ',', "say \"hi\"|x");
    EXPECT("\"\",x\n", ',', "|x");
    EXPECT("\"line1\nline2\r\nline3\",x\n", ',', "line1\nline2\r\nline3|x");
    EXPECT("ab\"c,d\n", ',', "ab\"c|d"); /* a quote inside an unquoted field stays */
    EXPECT("\"a\",\"b\"\r\n", ',', "a|b");
    EXPECT("\"a\"", ',', "a");
    /* Text after a closing quote: that record fails, reading goes on. */
    EXPECT("\"a\"x,b\nc,d\n", ',', "!", "c|d");
    /* An open quote at the end swallows the rest: one failed record. */
    EXPECT("a,b\n\"open,c\nd,e\n", ',', "a|b", "!");
}

static void test_csv_lines_and_delimiters(void **state)
{
    (void)state;
    const char text[] = "h1,h2\n\"multi\nline\",x\n\n\"3\nmore\r\nlines\",y\nlast,z";
    const char *const want[] = {"h1|h2", "multi\nline|x", "3\nmore\r\nlines|y", "last|z"};
    const size_t lines[] = {1, 2, 5, 8};
    expect_records(text, sizeof(text) - 1, 0, want, lines, 4);

    /* Detection from the first line, outside quotes. */
    EXPECT("a;b;\"c,d\"\n1;2;3\n", 0, "a|b|c,d", "1|2|3");
    EXPECT("a\tb\n1\t2\n", 0, "a|b", "1|2");
    EXPECT("\"x;y\",z\n", 0, "x;y|z");
    tg_csv_t r;
    tg_csv_init(&r, "a;b,c;d\n", 8, 0);
    assert_int_equal(tg_csv_delimiter(&r), ';');
    tg_csv_init(&r, "abc\n", 4, 0);
    assert_int_equal(tg_csv_delimiter(&r), ',');
    tg_csv_init(&r, "a;b\n", 4, ',');
    assert_int_equal(tg_csv_delimiter(&r), ',');
}

static void test_csv_too_many_fields(void **state)
{
    (void)state;
    char text[2048];
    size_t n = 0;
    for (int i = 0; i < TG_CSV_MAX_FIELDS + 5; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%d", i ? "," : "", i % 10);
    n += (size_t)snprintf(text + n, sizeof(text) - n, "\nok\n");
    sp_arena_t *arena = sp_arena_new();
    tg_csv_t r;
    tg_csv_init(&r, text, n, ',');
    tg_csv_record_t rec;
    assert_int_equal(tg_csv_next(&r, arena, &rec), SP_ETOOBIG);
    assert_int_equal(tg_csv_next(&r, arena, &rec), 1);
    assert_string_equal(rec.fields[0], "ok");
    assert_int_equal(rec.line, 2);
    sp_arena_destroy(&arena);
}

/* Opens text as format; asserts success. */
static void open_rows(tg_rows_t *rows, sp_arena_t *arena, tg_format_t format, const char *text)
{
    tg_reject_t why = {0};
    int rc = tg_rows_open(rows, arena, format, text, strlen(text), &why);
    if (rc != 0)
        fail_msg("open failed: %s %s", why.code ? why.code : "", why.message ? why.message : "");
}

static void header_refused(const char *text, const char *code)
{
    sp_arena_t *arena = sp_arena_new();
    tg_rows_t rows;
    tg_reject_t why = {0};
    assert_int_equal(tg_rows_open(&rows, arena, TG_FORMAT_CSV, text, strlen(text), &why),
                     SP_EINVAL);
    if (strcmp(why.code, code) != 0)
        fail_msg("want %s, got %s (%s)", code, why.code, why.message);
    sp_arena_destroy(&arena);
}

static void test_header(void **state)
{
    (void)state;
    header_refused("", TG_E_EMPTY_FILE);
    header_refused("\n\n", TG_E_EMPTY_FILE);
    header_refused("external_id,channel\n", TG_E_MISSING_COLUMN);
    header_refused("external_id,channel,occurred_at,colour\n", TG_E_UNKNOWN_COLUMN);
    header_refused("external_id,channel,occurred_at,,text\n", TG_E_UNKNOWN_COLUMN);
    header_refused("external_id,channel,occurred_at,Text,text\n", TG_E_DUPLICATE_COLUMN);
    header_refused("external_id,channel,occurred_at,metadata.a,metadata.a\n",
                   TG_E_DUPLICATE_COLUMN);
    header_refused("external_id,channel,occurred_at\n\xff\n", TG_E_INVALID_ENCODING);
    header_refused("\"external_id,channel,occurred_at\n", TG_E_INVALID_CSV);
    /* Case and blanks in names do not matter; BOM is skipped. */
    sp_arena_t *arena = sp_arena_new();
    tg_rows_t rows;
    open_rows(&rows, arena, TG_FORMAT_CSV, "\xEF\xBB\xBF External_ID ;CHANNEL; occurred_at\n");
    size_t row;
    cJSON *item;
    tg_reject_t why;
    assert_int_equal(tg_rows_next(&rows, arena, &row, &item, &why), 0);
    sp_arena_destroy(&arena);
}

/* Reads the next row; it must be a valid interaction. */
static Serphona__Interactions__V1__Interaction *next_valid(tg_rows_t *rows, sp_arena_t *arena,
                                                           size_t want_row)
{
    size_t row = 0;
    cJSON *item = NULL;
    tg_reject_t why = {0};
    assert_int_equal(tg_rows_next(rows, arena, &row, &item, &why), 1);
    assert_int_equal(row, want_row);
    if (!item)
        fail_msg("row %zu refused: %s %s", row, why.code, why.message);
    Serphona__Interactions__V1__Interaction *ix = NULL;
    int rc = tg_interaction_build(arena, TENANT, item, "upload", NOW_MS, &ix, &why);
    if (rc != 0) {
        char *text = cJSON_PrintUnformatted(item);
        fail_msg("row %zu invalid: %s %s: %s (%s)", row, why.code, why.field, why.message, text);
    }
    return ix;
}

/* Reads the next row; it must be refused with code (by the reader or the
 * validator). */
static void next_refused(tg_rows_t *rows, sp_arena_t *arena, size_t want_row, const char *code)
{
    size_t row = 0;
    cJSON *item = NULL;
    tg_reject_t why = {0};
    assert_int_equal(tg_rows_next(rows, arena, &row, &item, &why), 1);
    assert_int_equal(row, want_row);
    if (item) {
        Serphona__Interactions__V1__Interaction *ix = NULL;
        assert_int_equal(tg_interaction_build(arena, TENANT, item, "upload", NOW_MS, &ix, &why),
                         SP_EINVAL);
    }
    if (strcmp(why.code, code) != 0)
        fail_msg("row %zu: want %s, got %s (%s)", row, code, why.code, why.message);
}

static void test_csv_rows(void **state)
{
    (void)state;
    sp_arena_t *arena = sp_arena_new();
    tg_rows_t rows;
    const char *csv =
        "external_id,channel,occurred_at,language,agent_id,agent_name,customer_ref,tags,"
        "metadata,metadata.queue,subject,text,direction,rating,nps,csat,transcript,utterances\n"
        /* 2: a review with quotes, commas and a line break in the text */
        "r-1,review,2024-05-01T10:00:00Z,en,,,c-9,vip | renewal ,,,Title,\"Great, really "
        "\"\"great\"\"\nservice\",,5,,,,\n"
        /* 4: a survey from integer cells */
        "s-1,survey,2024-05-01T10:00:00+01:00,pt,a-1,Ana,,,\"{\"\"src\"\":\"\"nps-tool\"\"}\","
        "billing,,Rápido,,,10,5,,\n"
        /* 5: a call from a transcript */
        "c-1,call,2024-05-01T10:00:00Z,,a-2,Bo,,,,,,,,,,,\"[0-1.5] Agent: Hello\n"
        "[00:01.2 - 00:04] customer: Hi, my card\nis blocked\n[4-6] agent: Sorry!\",\n"
        /* 9: a chat from a JSON utterances cell */
        "h-1,chat,2024-05-01T10:00:00Z,,,,,,,,,,,,,,,\"[{\"\"speaker\"\":\"\"customer\"\","
        "\"\"text\"\":\"\"hola\"\"}]\"\n"
        /* 10: an e-mail, outbound, fewer cells than columns */
        "e-1,email,2024-05-01T10:00:00Z,,,,,,,,Re: order,  Shipped today. ,outbound\n";
    open_rows(&rows, arena, TG_FORMAT_CSV, csv);

    Serphona__Interactions__V1__Interaction *ix = next_valid(&rows, arena, 2);
    assert_string_equal(ix->external_id, "r-1");
    assert_string_equal(ix->source, "upload");
    assert_int_equal(ix->rating, 5);
    assert_string_equal(ix->subject, "Title");
    assert_string_equal(ix->utterances[0]->text, "Great, really \"great\"\nservice");
    assert_string_equal(ix->customer_ref, "c-9");
    assert_int_equal(ix->n_tags, 2);
    assert_string_equal(ix->tags[0], "vip");
    assert_string_equal(ix->tags[1], "renewal");

    ix = next_valid(&rows, arena, 4);
    assert_int_equal(ix->survey->nps, 10);
    assert_int_equal(ix->survey->csat, 5);
    assert_int_equal(ix->occurred_at_unix_ms, 1714557600000LL - 3600000);
    assert_string_equal(ix->agent_id, "a-1");
    assert_string_equal(ix->agent_name, "Ana");
    assert_int_equal(ix->n_metadata, 2);
    assert_string_equal(ix->utterances[0]->text, "Rápido");

    ix = next_valid(&rows, arena, 5);
    assert_int_equal(ix->n_utterances, 3);
    assert_string_equal(ix->utterances[0]->speaker, "agent");
    assert_int_equal(ix->utterances[0]->start_ms, 0);
    assert_int_equal(ix->utterances[0]->end_ms, 1500);
    assert_int_equal(ix->utterances[1]->start_ms, 1200);
    assert_int_equal(ix->utterances[1]->end_ms, 4000);
    assert_string_equal(ix->utterances[1]->text, "Hi, my card\nis blocked");
    assert_string_equal(ix->utterances[2]->text, "Sorry!");

    ix = next_valid(&rows, arena, 9);
    assert_string_equal(ix->utterances[0]->text, "hola");

    ix = next_valid(&rows, arena, 10);
    assert_string_equal(ix->utterances[0]->speaker, "agent");
    assert_string_equal(ix->utterances[0]->text, "  Shipped today. "); /* free text keeps blanks */
    assert_string_equal(ix->subject, "Re: order");

    size_t row;
    cJSON *item;
    tg_reject_t why;
    assert_int_equal(tg_rows_next(&rows, arena, &row, &item, &why), 0);
    sp_arena_destroy(&arena);
}

static void test_csv_bad_rows(void **state)
{
    (void)state;
    sp_arena_t *arena = sp_arena_new();
    tg_rows_t rows;
    open_rows(&rows, arena, TG_FORMAT_CSV,
              "external_id,channel,occurred_at,rating,metadata,transcript,utterances\n"
              "a,review,2024-05-01T10:00:00Z,five,,,\n"          /* 2 */
              "b,review,2024-05-01T10:00:00Z,4,,,,,extra\n"      /* 3 */
              "c,review,2024-05-01T10:00:00Z,4,,,,,\n"           /* 4: empty extras are fine */
              "d,review,2024-05-01T10:00:00Z,4,[1],,\n"          /* 5 */
              "e,call,2024-05-01T10:00:00Z,,,no speaker here,\n" /* 6 */
              "f,call,2024-05-01T10:00:00Z,,,agent: hi,[]\n"     /* 7 */
              "g,chat,2024-05-01T10:00:00Z,,,,{}\n"              /* 8 */
              "\"h\"x,review,2024-05-01T10:00:00Z,4,,,\n"        /* 9 */
              "i,call,2024-05-01T10:00:00Z,,,[1-x] agent: hi,\n" /* 10 */
              "j,review,not-a-date,4,,,\n"                       /* 11 */
              "k,review,2024-05-01T10:00:00Z,4,,,\n");           /* 12 */
    next_refused(&rows, arena, 2, TG_E_INVALID_TYPE);
    next_refused(&rows, arena, 3, TG_E_COLUMN_MISMATCH);
    next_valid(&rows, arena, 4);
    next_refused(&rows, arena, 5, TG_E_INVALID_VALUE);
    next_refused(&rows, arena, 6, TG_E_INVALID_VALUE);
    next_refused(&rows, arena, 7, TG_E_INVALID_VALUE);
    next_refused(&rows, arena, 8, TG_E_INVALID_VALUE);
    next_refused(&rows, arena, 9, TG_E_INVALID_CSV);
    next_refused(&rows, arena, 10, TG_E_INVALID_VALUE);
    next_refused(&rows, arena, 11, TG_E_INVALID_TIMESTAMP);
    next_valid(&rows, arena, 12);
    sp_arena_destroy(&arena);
}

static void test_transcript(void **state)
{
    (void)state;
    sp_arena_t *arena = sp_arena_new();
    cJSON *list = NULL;
    tg_reject_t why;
    assert_int_equal(tg_transcript_parse(arena,
                                         "  [1:02:03.5-1:02:04] AGENT: one\r\n\r\n"
                                         "[7] customer:two\n"
                                         "   and more   \n"
                                         "system: three",
                                         &list, &why),
                     0);
    assert_int_equal(cJSON_GetArraySize(list), 3);
    cJSON *u = cJSON_GetArrayItem(list, 0);
    assert_string_equal(cJSON_GetObjectItem(u, "speaker")->valuestring, "agent");
    assert_int_equal((int64_t)cJSON_GetObjectItem(u, "start_ms")->valuedouble, 3723500);
    assert_int_equal((int64_t)cJSON_GetObjectItem(u, "end_ms")->valuedouble, 3724000);
    u = cJSON_GetArrayItem(list, 1);
    assert_int_equal((int64_t)cJSON_GetObjectItem(u, "start_ms")->valuedouble, 7000);
    assert_null(cJSON_GetObjectItem(u, "end_ms"));
    assert_string_equal(cJSON_GetObjectItem(u, "text")->valuestring, "two\nand more");
    u = cJSON_GetArrayItem(list, 2);
    assert_null(cJSON_GetObjectItem(u, "start_ms"));
    const char *bad[] = {"no speaker", "[1-2 agent: x", "[1:60] agent: x", "[a] agent: x",
                         "[1] no colon here"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&why, 0, sizeof(why));
        if (tg_transcript_parse(arena, bad[i], &list, &why) != SP_EINVAL)
            fail_msg("accepted transcript %s", bad[i]);
        assert_string_equal(why.code, TG_E_INVALID_VALUE);
        assert_string_equal(why.field, "transcript");
    }
    sp_arena_destroy(&arena);
}

static void test_jsonl(void **state)
{
    (void)state;
    sp_arena_t *arena = sp_arena_new();
    tg_rows_t rows;
    open_rows(&rows, arena, TG_FORMAT_JSONL,
              "\xEF\xBB\xBF{\"external_id\":\"a\",\"channel\":\"review\",\"rating\":3,"
              "\"occurred_at\":\"2024-05-01T10:00:00Z\"}\r\n"
              "\n   \n"
              "{not json}\n"
              "[1,2]\n"
              "  {\"external_id\":\"b\",\"channel\":\"survey\",\"survey\":{\"nps\":7},"
              "\"occurred_at\":\"2024-05-01T10:00:00Z\"}  ");
    next_valid(&rows, arena, 1);
    next_refused(&rows, arena, 4, TG_E_INVALID_JSON);
    next_refused(&rows, arena, 5, TG_E_INVALID_ITEM);
    Serphona__Interactions__V1__Interaction *ix = next_valid(&rows, arena, 6);
    assert_int_equal(ix->survey->nps, 7);
    size_t row;
    cJSON *item;
    tg_reject_t why;
    assert_int_equal(tg_rows_next(&rows, arena, &row, &item, &why), 0);
    tg_format_t f;
    assert_int_equal(tg_format_parse("NDJSON", &f), 0);
    assert_int_equal(f, TG_FORMAT_JSONL);
    assert_int_equal(tg_format_parse("csv", &f), 0);
    assert_int_equal(f, TG_FORMAT_CSV);
    assert_int_equal(tg_format_parse("xlsx", &f), SP_EINVAL);
    sp_arena_destroy(&arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_basics),
        cmocka_unit_test(test_csv_quotes),
        cmocka_unit_test(test_csv_lines_and_delimiters),
        cmocka_unit_test(test_csv_too_many_fields),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_csv_rows),
        cmocka_unit_test(test_csv_bad_rows),
        cmocka_unit_test(test_transcript),
        cmocka_unit_test(test_jsonl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
