/*
 * serphona-cli — a small operator tool on libplatform.
 *
 *   serphona-cli ping ENDPOINT SERVICE
 *       typed "<SERVICE>.Ping" over ZeroMQ; prints the reply as JSON
 *   serphona-cli produce BROKERS TOPIC TYPE TENANT JSON
 *       publishes one event (acks=all) keyed by TENANT; prints its event id
 *   serphona-cli consume BROKERS TOPIC GROUP COUNT TIMEOUT_MS
 *       consumes COUNT events in GROUP, committing each, and prints one JSON
 *       line per event; exits 1 when fewer arrived before the timeout
 *
 *   serphona-cli produce-interactions BROKERS TOPIC FILE|-
 *       reads JSON lines (one Interaction each, field names as in
 *       proto/interactions.proto), publishes each as an
 *       "interaction.recorded" event (application/x-protobuf) keyed by its
 *       tenant, waits for every ack and prints {"produced":N}. For tests of
 *       poison handling a line may instead carry "_raw" (a string published
 *       as the bare record value, no envelope) or "_payload_raw" (a string
 *       used as the envelope's payload instead of the Interaction), and
 *       "_type" / "_content_type" / "_envelope_tenant" override the
 *       envelope's fields.
 *
 *   serphona-cli ingest URL API_KEY FILE|- [BATCH]
 *       posts the JSON lines of FILE (one interaction each, as in the API) to
 *       URL/v1/ingest/interactions in batches of BATCH (default 500) with the
 *       partner key, as fast as the API takes them: a 503 (ingestion_backlog,
 *       kafka_unavailable, ...) or 409 is sent again after its Retry-After, a
 *       refused connection after 1 s, each batch with the same
 *       Idempotency-Key. Prints {"sent":N,"accepted":A,"duplicates":D,
 *       "rejected":R,"retried":K,"seconds":S}; exits 1 when a batch is
 *       refused otherwise or keeps failing for 10 minutes
 *
 *   serphona-cli http ENDPOINT METHOD PATH[?QUERY] TENANT_ID ROLES [BODY]
 *       sends one forwarded-HTTP request over ZeroMQ to the service at
 *       ENDPOINT with an AuthContext (tenant TENANT_ID, or none for "-";
 *       ROLES comma-separated, "-" for none; subject "serphona-cli"), the
 *       way the auth-gateway does after verifying a token, and prints the
 *       reply: the status on the first line, then "Name: value" header
 *       lines, an empty line and the body as received
 *
 * Exit codes: 0 success, 1 the operation failed, 2 usage.
 */
#include "platform/clock.h"
#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/events.h"
#include "platform/log.h"
#include "platform/rpc.h"
#include "interactions.pb-c.h"
#include "ping.pb-c.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int usage(void)
{
    fprintf(stderr, "usage: serphona-cli ping ENDPOINT SERVICE\n"
                    "       serphona-cli produce BROKERS TOPIC TYPE TENANT JSON\n"
                    "       serphona-cli consume BROKERS TOPIC GROUP COUNT TIMEOUT_MS\n"
                    "       serphona-cli produce-interactions BROKERS TOPIC FILE|-\n"
                    "       serphona-cli ingest URL API_KEY FILE|- [BATCH]\n"
                    "       serphona-cli http ENDPOINT METHOD PATH TENANT_ID ROLES [BODY]\n");
    return 2;
}

static int cmd_ping(const char *endpoint, const char *service)
{
    sp_rpc_client_t *client = sp_rpc_client_new(endpoint);
    if (!client)
        return 1;
    char method[128];
    snprintf(method, sizeof(method), "%s.Ping", service);
    Serphona__Ping__V1__PingRequest in = SERPHONA__PING__V1__PING_REQUEST__INIT;
    in.payload = "serphona-cli";
    ProtobufCMessage *out = NULL;
    int rc = sp_rpc_client_call_typed(client, method, NULL, &in.base,
                                      &serphona__ping__v1__ping_reply__descriptor, 3000, &out);
    if (rc == 0) {
        Serphona__Ping__V1__PingReply *r = (Serphona__Ping__V1__PingReply *)out;
        printf("{\"service\":\"%s\",\"payload\":\"%s\",\"server_time_unix_ms\":%lld}\n", r->service,
               r->payload, (long long)r->server_time_unix_ms);
        protobuf_c_message_free_unpacked(out, NULL);
    } else {
        fprintf(stderr, "ping %s at %s failed: %s\n", service, endpoint, sp_strerror(rc));
    }
    sp_rpc_client_destroy(&client);
    return rc == 0 ? 0 : 1;
}

static int cmd_produce(const char *brokers, const char *topic, const char *type, const char *tenant,
                       const char *json)
{
    sp_events_producer_t *prod = sp_events_producer_new(brokers, "serphona-cli");
    if (!prod)
        return 1;
    Serphona__Events__V1__Event ev = SERPHONA__EVENTS__V1__EVENT__INIT;
    int rc = sp_events_event_init(&ev, type, tenant, json, strlen(json), "application/json");
    if (rc == 0)
        rc = sp_events_publish_sync(prod, topic, tenant, &ev, 10000);
    if (rc == 0)
        printf("%s\n", ev.event_id);
    else
        fprintf(stderr, "produce to %s failed: %s\n", topic, sp_strerror(rc));
    sp_events_event_cleanup(&ev);
    sp_events_producer_destroy(&prod);
    return rc == 0 ? 0 : 1;
}

typedef struct {
    int seen;
} consume_state_t;

static void print_json_string(const char *s, size_t len)
{
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static int on_message(const sp_events_message_t *msg, void *ud)
{
    consume_state_t *st = ud;
    const Serphona__Events__V1__Event *ev = msg->event;
    if (!ev) {
        printf("{\"undecodable\":true,\"partition\":%d,\"offset\":%lld}\n", msg->partition,
               (long long)msg->offset);
    } else {
        printf("{\"event_id\":\"%s\",\"type\":\"%s\",\"tenant_id\":\"%s\",\"partition\":%d,"
               "\"offset\":%lld,\"payload\":",
               ev->event_id, ev->type, ev->tenant_id, msg->partition, (long long)msg->offset);
        print_json_string((const char *)ev->payload.data, ev->payload.len);
        printf("}\n");
    }
    fflush(stdout);
    st->seen++;
    return 0;
}

static int cmd_consume(const char *brokers, const char *topic, const char *group, int count,
                       int timeout_ms)
{
    consume_state_t st = {0};
    const char *topics[] = {topic};
    sp_events_consumer_t *cons = sp_events_consumer_new(brokers, group, topics, 1, on_message, &st);
    if (!cons)
        return 1;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (st.seen >= count)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (elapsed >= timeout_ms)
            break;
        int rc = sp_events_consumer_poll_once(cons, 200);
        if (rc < 0)
            break;
    }
    int rc = sp_events_consumer_commit(cons);
    sp_events_consumer_destroy(&cons);
    if (st.seen < count) {
        fprintf(stderr, "consumed %d of %d events before the timeout\n", st.seen, count);
        return 1;
    }
    return rc == 0 ? 0 : 1;
}

/* ---- produce-interactions ------------------------------------------------ */

typedef struct {
    pthread_mutex_t mtx;
    long ok, failed;
} acks_t;

static void on_ack(int err, void *ud)
{
    acks_t *a = ud;
    pthread_mutex_lock(&a->mtx);
    if (err == 0)
        a->ok++;
    else
        a->failed++;
    pthread_mutex_unlock(&a->mtx);
}

/* A string member of o, or def; the pointer is borrowed from the tree. */
static char *json_str(const cJSON *o, const char *name, const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : (char *)def;
}

static int64_t json_int(const cJSON *o, const char *name, int64_t def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : def;
}

/* Packs the Interaction described by o; returns malloc'd bytes or NULL. */
static uint8_t *pack_interaction(const cJSON *o, size_t *len)
{
    Serphona__Interactions__V1__Interaction ix = SERPHONA__INTERACTIONS__V1__INTERACTION__INIT;
    Serphona__Interactions__V1__Survey survey = SERPHONA__INTERACTIONS__V1__SURVEY__INIT;
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(o, "tags");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(o, "metadata");
    const cJSON *utts = cJSON_GetObjectItemCaseSensitive(o, "utterances");
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(o, "survey");
    Serphona__Interactions__V1__Utterance *uv = NULL, **up = NULL;
    Serphona__Interactions__V1__Interaction__MetadataEntry *mv = NULL, **mp = NULL;
    char **tv = NULL;
    uint8_t *out = NULL;
    size_t n;

    ix.interaction_id = json_str(o, "interaction_id", "");
    ix.tenant_id = json_str(o, "tenant_id", "");
    ix.external_id = json_str(o, "external_id", "");
    ix.channel = json_str(o, "channel", "");
    ix.occurred_at_unix_ms = json_int(o, "occurred_at_unix_ms", 0);
    ix.language = json_str(o, "language", "");
    ix.agent_id = json_str(o, "agent_id", "");
    ix.agent_name = json_str(o, "agent_name", "");
    ix.customer_ref = json_str(o, "customer_ref", "");
    ix.subject = json_str(o, "subject", "");
    ix.rating = (int32_t)json_int(o, "rating", 0);
    ix.source = json_str(o, "source", "api");
    if ((n = (size_t)cJSON_GetArraySize(tags)) > 0 && (tv = calloc(n, sizeof *tv))) {
        const cJSON *t;
        cJSON_ArrayForEach(t, tags) if (cJSON_IsString(t)) tv[ix.n_tags++] = t->valuestring;
        ix.tags = tv;
    }
    if (cJSON_IsObject(meta) && (n = (size_t)cJSON_GetArraySize(meta)) > 0 &&
        (mv = calloc(n, sizeof *mv)) && (mp = calloc(n, sizeof(void *)))) {
        const cJSON *m;
        cJSON_ArrayForEach(m, meta)
        {
            if (!cJSON_IsString(m))
                continue;
            serphona__interactions__v1__interaction__metadata_entry__init(&mv[ix.n_metadata]);
            mv[ix.n_metadata].key = m->string;
            mv[ix.n_metadata].value = m->valuestring;
            mp[ix.n_metadata] = &mv[ix.n_metadata];
            ix.n_metadata++;
        }
        ix.metadata = mp;
    }
    if ((n = (size_t)cJSON_GetArraySize(utts)) > 0 && (uv = calloc(n, sizeof *uv)) &&
        (up = calloc(n, sizeof(void *)))) {
        const cJSON *u;
        cJSON_ArrayForEach(u, utts)
        {
            Serphona__Interactions__V1__Utterance *x = &uv[ix.n_utterances];
            serphona__interactions__v1__utterance__init(x);
            x->speaker = json_str(u, "speaker", "");
            x->start_ms = json_int(u, "start_ms", -1);
            x->end_ms = json_int(u, "end_ms", -1);
            x->text = json_str(u, "text", "");
            up[ix.n_utterances++] = x;
        }
        ix.utterances = up;
    }
    if (cJSON_IsObject(sv)) {
        survey.nps = (int32_t)json_int(sv, "nps", -1);
        survey.csat = (int32_t)json_int(sv, "csat", -1);
        ix.survey = &survey;
    }
    *len = serphona__interactions__v1__interaction__get_packed_size(&ix);
    if ((out = malloc(*len ? *len : 1)))
        serphona__interactions__v1__interaction__pack(&ix, out);
    free(tv);
    free(mv);
    free(mp);
    free(uv);
    free(up);
    return out;
}

/* Publishes value as a bare record (no envelope, no key) with a one-off
 * librdkafka producer: the platform producer only sends envelopes. */
static int produce_raw(const char *brokers, const char *topic, const char *value)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE((void *)value, strlen(value)),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    int rc = err == 0 && rd_kafka_flush(rk, 10000) == 0 ? 0 : 1;
    rd_kafka_destroy(rk);
    return rc;
}

static int cmd_produce_interactions(const char *brokers, const char *topic, const char *path)
{
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    acks_t acks = {.mtx = PTHREAD_MUTEX_INITIALIZER};
    long queued = 0, line_no = 0, bad = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;

    if (!in) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    sp_events_producer_t *prod = sp_events_producer_new(brokers, "serphona-cli");
    if (!prod) {
        if (in != stdin)
            fclose(in);
        return 1;
    }
    while ((got = getline(&line, &cap, in)) > 0) {
        line_no++;
        cJSON *o = cJSON_Parse(line);
        if (!cJSON_IsObject(o)) {
            if (got > 1) {
                fprintf(stderr, "line %ld is not a JSON object\n", line_no);
                bad++;
            }
            cJSON_Delete(o);
            continue;
        }
        const char *raw = json_str(o, "_raw", NULL);
        if (raw) {
            /* Keep order with what is queued before it. */
            sp_events_producer_flush(prod, 30000);
            if (produce_raw(brokers, topic, raw) != 0)
                bad++;
            else
                acks.ok++, queued++;
            cJSON_Delete(o);
            continue;
        }
        const char *tenant = json_str(o, "tenant_id", "");
        const char *ev_tenant = json_str(o, "_envelope_tenant", tenant);
        const char *payload_raw = json_str(o, "_payload_raw", NULL);
        size_t len = 0;
        uint8_t *payload = payload_raw ? (uint8_t *)strdup(payload_raw) : pack_interaction(o, &len);
        if (payload_raw)
            len = strlen(payload_raw);
        Serphona__Events__V1__Event ev = SERPHONA__EVENTS__V1__EVENT__INIT;
        int rc = payload
                     ? sp_events_event_init(&ev, json_str(o, "_type", "interaction.recorded"),
                                            *ev_tenant ? ev_tenant : "none", payload, len,
                                            json_str(o, "_content_type", "application/x-protobuf"))
                     : SP_ENOMEM;
        free(payload);
        for (int tries = 0; rc == 0; tries++) {
            rc = sp_events_publish(prod, topic, *ev_tenant ? ev_tenant : NULL, &ev, on_ack, &acks);
            if (rc != SP_EUNAVAILABLE || tries == 100)
                break;
            sp_events_producer_flush(prod, 100); /* local queue full: let it drain */
            rc = 0;
        }
        if (rc == 0)
            queued++;
        else
            bad++;
        sp_events_event_cleanup(&ev);
        cJSON_Delete(o);
    }
    free(line);
    if (in != stdin)
        fclose(in);
    int frc = sp_events_producer_flush(prod, 60000);
    sp_events_producer_destroy(&prod);
    pthread_mutex_lock(&acks.mtx);
    long ok = acks.ok, failed = acks.failed;
    pthread_mutex_unlock(&acks.mtx);
    printf("{\"produced\":%ld,\"failed\":%ld,\"bad_lines\":%ld}\n", ok, failed, bad);
    return frc == 0 && failed == 0 && bad == 0 && ok == queued ? 0 : 1;
}

/* ---- http: a forwarded request with an auth context ----------------------- */

/* Splits list ("a,b", or "-" for none) into *out (malloc'd, caller frees). */
static size_t split_roles(char *list, char ***out)
{
    *out = NULL;
    if (strcmp(list, "-") == 0 || !*list)
        return 0;
    size_t n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    char **v = calloc(n, sizeof *v);
    if (!v)
        return 0;
    size_t i = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t && i < n;
         t = strtok_r(NULL, ",", &save))
        v[i++] = t;
    *out = v;
    return i;
}

static int cmd_http(const char *endpoint, const char *method, const char *target,
                    const char *tenant, const char *roles, const char *body)
{
    char *path = strdup(target), *role_list = strdup(roles);
    if (!path || !role_list) {
        free(path);
        free(role_list);
        return 1;
    }
    char *query = strchr(path, '?');
    if (query)
        *query++ = '\0';
    char **role_v = NULL;
    size_t n_roles = split_roles(role_list, &role_v);

    Serphona__Rpc__V1__AuthContext auth = SERPHONA__RPC__V1__AUTH_CONTEXT__INIT;
    auth.tenant_id = strcmp(tenant, "-") == 0 ? "" : (char *)tenant;
    auth.subject = "serphona-cli";
    auth.roles = role_v;
    auth.n_roles = n_roles;
    Serphona__Rpc__V1__HttpRequest hr = SERPHONA__RPC__V1__HTTP_REQUEST__INIT;
    hr.method = (char *)method;
    hr.path = path;
    hr.query = query ? query : "";
    hr.remote_addr = "127.0.0.1";
    if (body) {
        hr.body.data = (uint8_t *)body;
        hr.body.len = strlen(body);
    }
    Serphona__Rpc__V1__Envelope env = SERPHONA__RPC__V1__ENVELOPE__INIT;
    env.method = "http";
    env.auth = &auth;
    env.body_case = SERPHONA__RPC__V1__ENVELOPE__BODY_HTTP_REQUEST;
    env.http_request = &hr;

    int rc = 1;
    sp_rpc_client_t *client = sp_rpc_client_new(endpoint);
    Serphona__Rpc__V1__Envelope *reply = NULL;
    int err = client ? sp_rpc_client_call(client, &env, 30000, &reply) : SP_EUNAVAILABLE;
    if (err != 0) {
        fprintf(stderr, "http %s %s at %s failed: %s\n", method, target, endpoint,
                sp_strerror(err));
    } else if (reply->body_case != SERPHONA__RPC__V1__ENVELOPE__BODY_HTTP_RESPONSE) {
        fprintf(stderr, "http %s %s: reply status %d (%s)\n", method, target, (int)reply->status,
                reply->error_message ? reply->error_message : "");
    } else {
        const Serphona__Rpc__V1__HttpResponse *r = reply->http_response;
        printf("%u\n", r->status);
        for (size_t i = 0; i < r->n_headers; i++)
            printf("%s: %s\n", r->headers[i]->name, r->headers[i]->value);
        printf("\n");
        fwrite(r->body.data, 1, r->body.len, stdout);
        fflush(stdout);
        rc = 0;
    }
    if (reply)
        serphona__rpc__v1__envelope__free_unpacked(reply, NULL);
    sp_rpc_client_destroy(&client);
    free(role_v);
    free(role_list);
    free(path);
    return rc;
}

/* ---- ingest ------------------------------------------------------------------ */

typedef struct {
    char *data;
    size_t len;
    long retry_after; /* seconds, -1 when absent */
} reply_t;

static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
    reply_t *r = ud;
    char *grown = realloc(r->data, r->len + size * n + 1);
    if (!grown)
        return 0;
    memcpy(grown + r->len, ptr, size * n);
    r->data = grown;
    r->len += size * n;
    r->data[r->len] = '\0';
    return size * n;
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    reply_t *r = ud;
    if (size * n > 12 && strncasecmp(buf, "Retry-After:", 12) == 0)
        r->retry_after = strtol(buf + 12, NULL, 10);
    return size * n;
}

/* Posts one batch until it is answered 202 (1), refused for good (0) or the
 * retries ran out (-1); adds the answer's lists to counts. */
static int post_batch(CURL *curl, const char *url, const char *auth, const char *body,
                      long counts[4])
{
    uint8_t digest[SP_SHA256_LEN];
    char hex[2 * SP_SHA256_LEN + 1], idem[128];
    sp_sha256(body, strlen(body), digest);
    sp_hex_encode(digest, 20, hex);
    snprintf(idem, sizeof(idem), "Idempotency-Key: cli-%s", hex);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, idem);
    int64_t give_up = sp_clock_mono_ms() + 600000;
    int result = -1;
    while (sp_clock_mono_ms() < give_up) {
        reply_t r = {NULL, 0, -1};
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
        long status = 0;
        if (curl_easy_perform(curl) == CURLE_OK)
            curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (status == 202 || status == 200) {
            static const char *const lists[] = {"accepted", "duplicates", "rejected"};
            cJSON *j = cJSON_Parse(r.data ? r.data : "");
            for (int k = 0; k < 3; k++)
                counts[k] += cJSON_GetArraySize(cJSON_GetObjectItem(j, lists[k]));
            cJSON_Delete(j);
            result = 1;
        } else if (status == 0 || status == 503 || status == 409 || status == 429) {
            /* Backpressure or a passing outage: wait as told, and again. */
            long wait_s = status == 0 ? 1 : (r.retry_after > 0 ? r.retry_after : 1);
            counts[3]++;
            free(r.data);
            struct timespec ts = {wait_s, 0};
            nanosleep(&ts, NULL);
            continue;
        } else {
            fprintf(stderr, "ingest: batch refused: %ld %s\n", status, r.data ? r.data : "");
            result = 0;
        }
        free(r.data);
        break;
    }
    curl_slist_free_all(h);
    return result;
}

static int cmd_ingest(const char *base, const char *key, const char *path, int batch)
{
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!in) {
        perror(path);
        return 1;
    }
    CURL *curl = curl_easy_init();
    char url[1024], auth[1024];
    snprintf(url, sizeof(url), "%s/v1/ingest/interactions", base);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
    long counts[4] = {0}, sent = 0;
    int64_t t0 = sp_clock_mono_us();
    int rc = curl ? 0 : 1;
    char *line = NULL, *body = NULL;
    size_t cap = 0, used = 0, bcap = 0;
    int in_batch = 0;
    for (;;) {
        ssize_t got = rc == 0 ? getline(&line, &cap, in) : -1;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        if (got > 0) {
            if (used + (size_t)got + 4 > bcap) {
                bcap = (used + (size_t)got + 4) * 2;
                char *grown = realloc(body, bcap);
                if (!grown) {
                    rc = 1;
                    break;
                }
                body = grown;
            }
            body[used++] = in_batch ? ',' : '[';
            memcpy(body + used, line, (size_t)got);
            used += (size_t)got;
            in_batch++;
            sent++;
        }
        if (in_batch > 0 && (in_batch == batch || got < 0)) {
            body[used++] = ']';
            body[used] = '\0';
            if (post_batch(curl, url, auth, body, counts) != 1)
                rc = 1;
            used = 0;
            in_batch = 0;
        }
        if (got < 0)
            break;
    }
    printf("{\"sent\":%ld,\"accepted\":%ld,\"duplicates\":%ld,\"rejected\":%ld,"
           "\"retried\":%ld,\"seconds\":%.3f}\n",
           sent, counts[0], counts[1], counts[2], counts[3], sp_clock_elapsed_s(t0));
    free(line);
    free(body);
    if (curl)
        curl_easy_cleanup(curl);
    if (in != stdin)
        fclose(in);
    return rc;
}

int main(int argc, char **argv)
{
    sp_log_init("serphona-cli", SP_LOG_WARN);
    if (argc == 4 && strcmp(argv[1], "ping") == 0)
        return cmd_ping(argv[2], argv[3]);
    if (argc == 7 && strcmp(argv[1], "produce") == 0)
        return cmd_produce(argv[2], argv[3], argv[4], argv[5], argv[6]);
    if (argc == 5 && strcmp(argv[1], "produce-interactions") == 0)
        return cmd_produce_interactions(argv[2], argv[3], argv[4]);
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "ingest") == 0) {
        int batch = argc == 6 ? (int)strtol(argv[5], NULL, 10) : 500;
        return batch < 1 ? usage() : cmd_ingest(argv[2], argv[3], argv[4], batch);
    }
    if ((argc == 7 || argc == 8) && strcmp(argv[1], "http") == 0)
        return cmd_http(argv[2], argv[3], argv[4], argv[5], argv[6], argc == 8 ? argv[7] : NULL);
    if (argc == 7 && strcmp(argv[1], "consume") == 0)
        return cmd_consume(argv[2], argv[3], argv[4], (int)strtol(argv[5], NULL, 10),
                           (int)strtol(argv[6], NULL, 10));
    return usage();
}
