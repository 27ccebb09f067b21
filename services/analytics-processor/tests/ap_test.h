/*
 * ap_test.h — shared fixtures of the processor's tests that need a real
 * ClickHouse (SERPHONA_TEST_CH_URL, set by tests/run-all.sh): a fresh
 * database with the schema of deploy/clickhouse applied, small queries, and
 * records to store. Static functions only: each test binary includes this
 * once.
 */
#ifndef AP_TEST_H
#define AP_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../src/batch.h"
#include "../src/store.h"
#include "platform/ch_migrate.h"
#include "platform/clickhouse.h"
#include "platform/error.h"
#include "platform/log.h"

static char ap_db[64];
static sp_ch_t *ap_ch;

static const char *ap_ch_url(void)
{
    const char *url = getenv("SERPHONA_TEST_CH_URL");
    if (!url) {
        fprintf(stderr, "SERPHONA_TEST_CH_URL is not set (tests/run-all.sh sets it)\n");
        exit(1);
    }
    return url;
}

/* Group setup: a fresh database named after prefix, migrated. */
static int ap_db_setup(const char *prefix)
{
    snprintf(ap_db, sizeof ap_db, "%s_%d_%ld", prefix, (int)getpid(), (long)time(NULL));
    if (sp_ch_migrate(ap_ch_url(), NULL, NULL, ap_db, "deploy/clickhouse") != 0)
        return -1;
    ap_ch = sp_ch_new(ap_ch_url(), ap_db, NULL, NULL);
    return ap_ch ? 0 : -1;
}

static int ap_db_teardown(void **state)
{
    (void)state;
    sp_ch_t *admin = sp_ch_new(ap_ch_url(), NULL, NULL, NULL);
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", ap_db);
    sp_ch_exec(admin, sql, NULL, 0, NULL, NULL);
    sp_ch_destroy(&admin);
    sp_ch_destroy(&ap_ch);
    return 0;
}

/* The first number a query answers (-1 on failure). */
static double ap_num(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static double ap_num(const char *fmt, ...)
{
    char sql[1024], *out = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    if (sp_ch_exec(ap_ch, sql, NULL, 0, &out, NULL) != 0)
        return -1;
    double v = strtod(out, NULL);
    free(out);
    return v;
}

/* Adds interaction n of tenant to b, occurred at occurred_ms, with two
 * utterances, sentiment s and the given survey values. */
static void ap_add(ap_batch_t *b, const char *tenant, int n, int64_t occurred_ms, double s,
                   int csat, int nps)
{
    static const char *topics[] = {"billing"};
    ap_utterance_t u[2] = {{"customer", 0, 1000, "hi", s}, {"agent", 1500, 2000, "hello", 0}};
    ap_record_t r;

    memset(&r, 0, sizeof r);
    strcpy(r.tenant_id, tenant);
    snprintf(r.interaction_id, sizeof r.interaction_id, "0190a0b0-0000-7000-8000-%012d", n);
    r.external_id = "ext";
    r.channel = "call";
    r.occurred_at_ms = occurred_ms;
    r.analyzed_at_ms = occurred_ms + 1000;
    r.language = "en";
    r.intent = "billing";
    r.topics = topics;
    r.n_topics = 1;
    r.sentiment = s;
    r.duration_ms = 2000;
    r.csat = csat;
    r.nps = nps;
    r.text = "hi\nhello";
    r.utterances = u;
    r.n_utterances = 2;
    assert_int_equal(ap_batch_add(b, &r, NULL), 0);
}

#endif
