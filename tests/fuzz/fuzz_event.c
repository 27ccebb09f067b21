/*
 * fuzz_event.c — the analytics processor's decode of a consumed record
 * (validate.c), the analysis of what passes (analysis.c over libnlp) and the
 * rendering of the result as ClickHouse rows and event payloads (rows.c,
 * payloads.c), or of the dead letter for what does not.
 *
 * Input: one mode byte, then bytes. Even mode: the bytes are the Kafka
 * record value, an Event envelope. Odd mode: the bytes are an Interaction,
 * wrapped in a well-formed "interaction.recorded" envelope of TENANT, so the
 * fuzzer spends its time past the envelope checks too.
 *
 * Oracle beyond the sanitizers: every row and payload rendered must be valid
 * JSON (one object per line), since ClickHouse and the consumers parse them.
 *
 * FZ_WRITE_SEEDS=<dir> writes packed seed records to dir and exits.
 */
#include "fuzz_common.h"

#include <cjson/cJSON.h>

#include "../../services/analytics-processor/src/analysis.h"
#include "../../services/analytics-processor/src/payloads.h"
#include "../../services/analytics-processor/src/rows.h"
#include "../../services/analytics-processor/src/validate.h"
#include "platform/arena.h"
#include "platform/buf.h"
#include "platform/error.h"

#define TENANT "11111111-2222-4333-8444-555555555555"
#define NOW_MS 1717200000000LL /* 2024-06-01T00:00:00Z */

/* Aborts unless the n bytes at p are lines each holding one JSON object. */
static void check_json_lines(const char *p, size_t n)
{
    const char *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        cJSON *doc = cJSON_ParseWithLength(p, (size_t)(stop - p));
        if (!doc || !cJSON_IsObject(doc)) {
            fprintf(stderr, "not a JSON object: %.*s\n", (int)(stop - p), p);
            abort();
        }
        cJSON_Delete(doc);
        p = nl ? nl + 1 : end;
    }
}

static void render(sp_buf_t *b, void (*fn)(sp_buf_t *, const ap_record_t *), const ap_record_t *rec)
{
    sp_buf_init(b, 0);
    fn(b, rec);
    if (!sp_buf_failed(b))
        check_json_lines(sp_buf_data(b), sp_buf_len(b));
    sp_buf_cleanup(b);
}

static void process(const Serphona__Events__V1__Event *ev, const uint8_t *value, size_t len)
{
    ap_verdict_t v;
    Serphona__Interactions__V1__Interaction *ix = ap_validate(ev, NOW_MS, &v);
    sp_buf_t b;
    if (!ix) {
        if (!v.reason)
            abort(); /* refused without a reason */
        ap_dead_info_t d = {.reason = v.reason,
                            .detail = v.detail,
                            .topic = "serphona.interactions.v1",
                            .partition = 1,
                            .offset = 42,
                            .event_id = ev ? ev->event_id : NULL,
                            .event_type = ev ? ev->type : NULL,
                            .rejected_at_ms = NOW_MS,
                            .value = value,
                            .value_len = len};
        sp_buf_init(&b, 0);
        if (ap_payload_rejected(&b, &d) == SP_OK)
            check_json_lines(sp_buf_data(&b), sp_buf_len(&b));
        sp_buf_cleanup(&b);
        return;
    }
    sp_arena_t *arena = sp_arena_new();
    if (!arena)
        abort();
    ap_record_t rec;
    if (ap_analyse(ix, NULL, NOW_MS, arena, &rec) == SP_OK) {
        render(&b, ap_rows_interaction, &rec);
        render(&b, ap_rows_utterances, &rec);
        render(&b, ap_payload_analysis, &rec);
        render(&b, ap_payload_usage, &rec);
    }
    sp_arena_destroy(&arena);
    serphona__interactions__v1__interaction__free_unpacked(ix, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int wrap = data[0] & 1;
    data++, size--;
    if (!wrap) {
        Serphona__Events__V1__Event *ev = serphona__events__v1__event__unpack(NULL, size, data);
        process(ev, data, size);
        if (ev)
            serphona__events__v1__event__free_unpacked(ev, NULL);
        return 0;
    }
    Serphona__Events__V1__Event ev = SERPHONA__EVENTS__V1__EVENT__INIT;
    ev.event_id = "0190b2d4-0000-7000-8000-000000000001";
    ev.type = AP_EVENT_TYPE;
    ev.tenant_id = TENANT;
    ev.occurred_at_unix_ms = NOW_MS;
    ev.content_type = AP_CONTENT_TYPE;
    ev.payload.data = (uint8_t *)data;
    ev.payload.len = size;
    process(&ev, data, size);
    return 0;
}

/* ---- seeds ------------------------------------------------------------------- */

static void write_seed(const char *dir, const char *name, uint8_t mode, const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n + 1);
    if (!buf)
        abort();
    buf[0] = mode;
    protobuf_c_message_pack(m, buf + 1);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, n + 1, f) != n + 1)
        abort();
    fclose(f);
    free(buf);
}

static void write_seeds(const char *dir)
{
    Serphona__Interactions__V1__Utterance u[3] = {SERPHONA__INTERACTIONS__V1__UTTERANCE__INIT,
                                                  SERPHONA__INTERACTIONS__V1__UTTERANCE__INIT,
                                                  SERPHONA__INTERACTIONS__V1__UTTERANCE__INIT};
    u[0].speaker = "agent", u[0].start_ms = 0, u[0].end_ms = 4000;
    u[0].text = "Hello, thanks for calling. How can I help you today?";
    u[1].speaker = "customer", u[1].start_ms = 4500, u[1].end_ms = 12000;
    u[1].text = "I was charged twice on my invoice, I want a refund. My email is ana@example.com";
    u[2].speaker = "agent", u[2].start_ms = 12500, u[2].end_ms = 16000;
    u[2].text = "Sorry about that, I have issued the refund. Anything else?";
    Serphona__Interactions__V1__Utterance *up[3] = {&u[0], &u[1], &u[2]};
    Serphona__Interactions__V1__Survey sv = SERPHONA__INTERACTIONS__V1__SURVEY__INIT;
    sv.nps = 9, sv.csat = 4;
    char *tags[2] = {"vip", "billing"};
    Serphona__Interactions__V1__Interaction ix = SERPHONA__INTERACTIONS__V1__INTERACTION__INIT;
    ix.interaction_id = "0190b2d4-1111-7000-8000-000000000002";
    ix.tenant_id = TENANT;
    ix.external_id = "call-001";
    ix.channel = "call";
    ix.occurred_at_unix_ms = NOW_MS - 3600000;
    ix.language = "en";
    ix.agent_id = "ag-7";
    ix.agent_name = "Ana \"Lu\" Souza\\";
    ix.customer_ref = "cust-9";
    ix.n_tags = 2, ix.tags = tags;
    ix.n_utterances = 3, ix.utterances = up;
    ix.survey = &sv;
    ix.source = "api";
    write_seed(dir, "call_wrapped", 1, &ix.base);

    Serphona__Events__V1__Event ev = SERPHONA__EVENTS__V1__EVENT__INIT;
    ev.event_id = "0190b2d4-0000-7000-8000-000000000001";
    ev.type = AP_EVENT_TYPE;
    ev.tenant_id = TENANT;
    ev.occurred_at_unix_ms = NOW_MS;
    ev.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    ev.content_type = AP_CONTENT_TYPE;
    ev.payload.len = protobuf_c_message_get_packed_size(&ix.base);
    ev.payload.data = malloc(ev.payload.len);
    protobuf_c_message_pack(&ix.base, ev.payload.data);
    write_seed(dir, "call_event", 0, &ev.base);
    ev.content_type = "application/json";
    write_seed(dir, "bad_content_type", 0, &ev.base);
    free(ev.payload.data);

    u[0].speaker = "customer";
    u[0].text = "Onde está o meu pacote? Já faz duas semanas. Péssimo atendimento, vou cancelar.";
    ix.n_utterances = 1;
    ix.channel = "whatsapp";
    ix.language = "";
    ix.survey = NULL;
    write_seed(dir, "whatsapp_pt", 1, &ix.base);
    ix.channel = "review";
    ix.rating = 2;
    u[0].start_ms = u[0].end_ms = -1;
    u[0].text = "Producto llegó roto \xc3\xa9\xff\xfe, quiero devolución";
    write_seed(dir, "review_es_badutf8", 1, &ix.base);
    ix.channel = "email";
    ix.subject = "Refund request";
    ix.tenant_id = "22222222-2222-4333-8444-555555555555";
    write_seed(dir, "tenant_mismatch", 1, &ix.base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_quiet();
    const char *dir = getenv("FZ_WRITE_SEEDS");
    if (dir) {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}
