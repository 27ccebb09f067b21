/*
 * kafka_to_ch — the processor bench's baseline: the same interaction events
 * piped from Kafka into ClickHouse with no analysis. It uses the platform's
 * batch consumer exactly as analytics-processor does (same batch size and
 * flush time), decodes each envelope and Interaction, and INSERTs the raw
 * fields into the same interactions/utterances schema (deploy/clickhouse,
 * materialized views included) — no redaction, no NLP, no dedupe lookup, no
 * events out. What the processor costs on top of this is the price of the
 * analysis and of its guarantees.
 *
 *   kafka_to_ch BROKERS TOPIC GROUP CH_URL DATABASE BATCH FLUSH_MS
 *
 * Applies the schema to DATABASE, then consumes until SIGTERM/SIGINT. The
 * bench script measures throughput from the row count in ClickHouse, the
 * same way for both.
 */
#include "interactions.pb-c.h"
#include "platform/buf.h"
#include "platform/ch_migrate.h"
#include "platform/clickhouse.h"
#include "platform/events.h"
#include "platform/log.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    sp_ch_t *ch;
    sp_buf_t ix, ut;
} state_t;

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

/* A JSON string literal of s (the generated data is valid UTF-8). */
static void jstr(sp_buf_t *b, const char *s)
{
    sp_buf_putc(b, '"');
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            sp_buf_putc(b, '\\'), sp_buf_putc(b, (char)c);
        else if (c < 0x20)
            sp_buf_appendf(b, "\\u%04x", c);
        else
            sp_buf_putc(b, (char)c);
    }
    sp_buf_putc(b, '"');
}

static int on_message(const sp_events_message_t *msg, void *ud)
{
    state_t *st = ud;
    Serphona__Interactions__V1__Interaction *ix;

    if (!msg->event)
        return 0;
    ix = serphona__interactions__v1__interaction__unpack(NULL, msg->event->payload.len,
                                                         msg->event->payload.data);
    if (!ix)
        return 0;
    int64_t at = ix->occurred_at_unix_ms / 1000;
    sp_buf_puts(&st->ix, "{\"tenant_id\":");
    jstr(&st->ix, ix->tenant_id);
    sp_buf_puts(&st->ix, ",\"interaction_id\":");
    jstr(&st->ix, ix->interaction_id);
    sp_buf_puts(&st->ix, ",\"external_id\":");
    jstr(&st->ix, ix->external_id);
    sp_buf_puts(&st->ix, ",\"channel\":");
    jstr(&st->ix, ix->channel);
    sp_buf_appendf(&st->ix, ",\"occurred_at\":%" PRId64 ",\"utterance_count\":%zu,\"text\":\"", at,
                   ix->n_utterances);
    for (size_t i = 0; i < ix->n_utterances; i++) {
        const Serphona__Interactions__V1__Utterance *u = ix->utterances[i];
        sp_buf_puts(&st->ut, "{\"tenant_id\":");
        jstr(&st->ut, ix->tenant_id);
        sp_buf_puts(&st->ut, ",\"interaction_id\":");
        jstr(&st->ut, ix->interaction_id);
        sp_buf_appendf(&st->ut, ",\"occurred_at\":%" PRId64 ",\"seq\":%zu,\"speaker\":", at, i);
        jstr(&st->ut, u->speaker);
        sp_buf_appendf(&st->ut, ",\"start_ms\":%" PRId64 ",\"end_ms\":%" PRId64 ",\"text\":",
                       u->start_ms < 0 ? 0 : u->start_ms, u->end_ms < 0 ? 0 : u->end_ms);
        jstr(&st->ut, u->text);
        sp_buf_puts(&st->ut, "}\n");
        /* The whole text, as the processor stores it (escaped in place). */
        sp_buf_t t;
        sp_buf_init(&t, 0);
        jstr(&t, u->text);
        sp_buf_append(&st->ix, sp_buf_data(&t) + 1, sp_buf_len(&t) - 2);
        sp_buf_cleanup(&t);
        if (i + 1 < ix->n_utterances)
            sp_buf_puts(&st->ix, "\\n");
    }
    sp_buf_puts(&st->ix, "\"}\n");
    serphona__interactions__v1__interaction__free_unpacked(ix, NULL);
    return sp_buf_failed(&st->ix) || sp_buf_failed(&st->ut) ? -1 : 0;
}

static int on_flush(void *ud)
{
    state_t *st = ud;
    int rc = 0;

    if (sp_buf_len(&st->ut))
        rc = sp_ch_exec(st->ch, "INSERT INTO utterances FORMAT JSONEachRow", sp_buf_data(&st->ut),
                        sp_buf_len(&st->ut), NULL, NULL);
    if (rc == 0 && sp_buf_len(&st->ix))
        rc = sp_ch_exec(st->ch, "INSERT INTO interactions FORMAT JSONEachRow", sp_buf_data(&st->ix),
                        sp_buf_len(&st->ix), NULL, NULL);
    sp_buf_cleanup(&st->ix);
    sp_buf_cleanup(&st->ut);
    return rc;
}

int main(int argc, char **argv)
{
    state_t st;

    if (argc != 8) {
        fprintf(stderr, "usage: kafka_to_ch BROKERS TOPIC GROUP CH_URL DATABASE BATCH FLUSH_MS\n");
        return 2;
    }
    sp_log_init("kafka_to_ch", SP_LOG_WARN);
    if (sp_ch_migrate(argv[4], NULL, NULL, argv[5], "deploy/clickhouse") != 0) {
        fprintf(stderr, "cannot apply the schema to %s\n", argv[5]);
        return 1;
    }
    memset(&st, 0, sizeof st);
    sp_buf_init(&st.ix, 0);
    sp_buf_init(&st.ut, 0);
    if (!(st.ch = sp_ch_new(argv[4], argv[5], NULL, NULL)))
        return 1;
    const char *topics[] = {argv[2]};
    sp_events_consumer_t *consumer =
        sp_events_consumer_new(argv[1], argv[3], topics, 1, on_message, &st);
    if (!consumer || sp_events_consumer_set_batch(consumer, strtoul(argv[6], NULL, 10),
                                                  (int)strtol(argv[7], NULL, 10), on_flush) != 0)
        return 1;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    int rc = 0;
    while (!stopping && rc >= 0)
        rc = sp_events_consumer_poll_once(consumer, 100);
    sp_events_consumer_destroy(&consumer); /* flushes what is pending */
    sp_buf_cleanup(&st.ix);
    sp_buf_cleanup(&st.ut);
    sp_ch_destroy(&st.ch);
    return rc >= 0 ? 0 : 1;
}
