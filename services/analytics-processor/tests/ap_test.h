/*
 * ap_test.h — shared fixtures of the processor's tests that need a real
 * ClickHouse (sptest/stack.h): a fresh database with the schema of
 * deploy/clickhouse applied, and records to store. Static functions only: each test binary includes
 * this once.
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
#include "platform/clickhouse.h"
#include "platform/error.h"
#include "platform/log.h"
#include "sptest.h"

static char ap_db[SPTEST_CH_DB_LEN];
static sp_ch_t *ap_ch;

/* Group setup: a fresh database named after prefix, migrated. */
static int ap_db_setup(const char *prefix)
{
    ap_ch = sptest_ch_create(prefix, ap_db);
    return ap_ch ? 0 : -1;
}

static int ap_db_teardown(void **state)
{
    (void)state;
    sptest_ch_drop(ap_db);
    sp_ch_destroy(&ap_ch);
    return 0;
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
