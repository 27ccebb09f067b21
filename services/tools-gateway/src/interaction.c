/*
 * interaction.c — validation of one ingested interaction and its protobuf
 * (interaction.h). The first problem found is reported; the checks run in
 * the order a partner reads the documentation: identity, channel, members,
 * time, then the channel's content.
 */
#include "interaction.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "platform/error.h"
#include "timestamp.h"

#define EXTERNAL_ID_MAX 128
#define AGENT_ID_MAX    128
#define AGENT_NAME_MAX  200
#define CUSTOMER_MAX    128
#define TAGS_MAX        20
#define TAG_MAX         64
#define META_MAX        50
#define META_KEY_MAX    64
#define META_VALUE_MAX  1024
#define SUBJECT_MAX     1000
#define TEXT_MAX        65536
#define UTTERANCES_MAX  2000
#define TOTAL_TEXT_MAX  (512 * 1024)
#define CALL_MAX_MS     (24LL * 3600 * 1000)
#define THREAD_MAX_MS   (90LL * 24 * 3600 * 1000)
#define FUTURE_SLACK_MS (24LL * 3600 * 1000)
/* 1990-01-01T00:00:00Z: older dates are typing mistakes, not history. */
#define OLDEST_MS 631152000000LL

typedef Serphona__Interactions__V1__Interaction interaction_t;
typedef Serphona__Interactions__V1__Utterance utterance_t;

typedef enum { CH_CALL, CH_CHAT, CH_WHATSAPP, CH_EMAIL, CH_SURVEY, CH_REVIEW, CH_COUNT } channel_t;

static const char *const CHANNELS[CH_COUNT] = {"call",  "chat",   "whatsapp",
                                               "email", "survey", "review"};

/* Members every channel accepts, then the channel-specific ones. */
static const char *const COMMON_FIELDS[] = {"external_id", "channel",  "occurred_at",
                                            "language",    "agent",    "customer_ref",
                                            "tags",        "metadata", NULL};
static const char *const CHANNEL_FIELDS[CH_COUNT][5] = {
    [CH_CALL] = {"utterances", NULL},
    [CH_CHAT] = {"utterances", NULL},
    [CH_WHATSAPP] = {"utterances", NULL},
    [CH_EMAIL] = {"subject", "text", "direction", "utterances", NULL},
    [CH_SURVEY] = {"survey", "text", NULL},
    [CH_REVIEW] = {"rating", "text", "subject", NULL},
};

typedef struct {
    sp_arena_t *arena;
    tg_reject_t *why;
    int64_t now_ms;
    size_t text_bytes;
    int oom;
} vctx_t;

/* Records the rejection and returns SP_EINVAL (SP_ENOMEM when the message
 * cannot be formatted). */
__attribute__((format(printf, 4, 5))) static int reject(vctx_t *v, const char *code,
                                                        const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = sp_arena_vprintf(v->arena, fmt, ap);
    va_end(ap);
    v->why->code = code;
    v->why->field = field ? field : "";
    v->why->message = msg ? msg : "invalid interaction";
    return msg ? SP_EINVAL : SP_ENOMEM;
}

int tg_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t n;
        unsigned cp, min;
        if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if ((size_t)(end - p) <= n)
            return 0;
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        p += n + 1;
    }
    return 1;
}

static int has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7F)
            return 1;
    return 0;
}

static int is_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return 0;
    return 1;
}

static const char *path(vctx_t *v, const char *prefix, const char *name)
{
    if (!prefix || !*prefix)
        return name;
    const char *p = sp_arena_printf(v->arena, "%s.%s", prefix, name);
    if (!p)
        v->oom = 1;
    return p ? p : name;
}

enum { OPTIONAL = 0, REQUIRED = 1, IDENT = 2, TEXT = 4 };

/* Reads string member name of obj. IDENT refuses control characters; TEXT
 * refuses blank text and counts the bytes against the interaction's total.
 * Returns 1 (present, *out set), 0 (absent or null and not REQUIRED) or a
 * negative SP_E* after reject(). */
static int get_str(vctx_t *v, const cJSON *obj, const char *name, const char *field, size_t max,
                   int flags, const char **out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!it || cJSON_IsNull(it)) {
        if (flags & REQUIRED)
            return reject(v, TG_E_MISSING_FIELD, field, "%s is required", field);
        return 0;
    }
    if (!cJSON_IsString(it) || !it->valuestring)
        return reject(v, TG_E_INVALID_TYPE, field, "%s must be a string", field);
    const char *s = it->valuestring;
    size_t len = strlen(s);
    if (!tg_utf8_valid(s, len))
        return reject(v, TG_E_INVALID_UTF8, field, "%s is not valid UTF-8", field);
    if (len > max)
        return reject(v, TG_E_TOO_LONG, field, "%s is longer than %zu bytes", field, max);
    if ((flags & (REQUIRED | TEXT)) && (len == 0 || is_blank(s)))
        return reject(v, (flags & TEXT) ? TG_E_EMPTY_CONTENT : TG_E_INVALID_VALUE, field,
                      "%s must not be empty", field);
    if ((flags & IDENT) && has_control(s))
        return reject(v, TG_E_INVALID_VALUE, field, "%s must not contain control characters",
                      field);
    if (flags & TEXT) {
        v->text_bytes += len;
        if (v->text_bytes > TOTAL_TEXT_MAX)
            return reject(v, TG_E_TOO_LONG, field, "the interaction has more than %d bytes of text",
                          TOTAL_TEXT_MAX);
    }
    *out = s;
    return 1;
}

/* Reads an integer member within [min, max]. Returns like get_str. */
static int get_int(vctx_t *v, const cJSON *obj, const char *name, const char *field, int64_t min,
                   int64_t max, int required, int64_t *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!it || cJSON_IsNull(it)) {
        if (required)
            return reject(v, TG_E_MISSING_FIELD, field, "%s is required", field);
        return 0;
    }
    if (!cJSON_IsNumber(it))
        return reject(v, TG_E_INVALID_TYPE, field, "%s must be an integer", field);
    double d = it->valuedouble;
    if (d != d || d < -9007199254740992.0 || d > 9007199254740992.0 || d != (double)(int64_t)d)
        return reject(v, TG_E_INVALID_TYPE, field, "%s must be an integer", field);
    int64_t n = (int64_t)d;
    if (n < min || n > max)
        return reject(v, TG_E_OUT_OF_RANGE, field, "%s must be between %lld and %lld", field,
                      (long long)min, (long long)max);
    *out = n;
    return 1;
}

static int get_time(vctx_t *v, const cJSON *obj, const char *name, const char *field, int required,
                    int64_t *out)
{
    const char *s = NULL;
    int rc = get_str(v, obj, name, field, 64, required ? REQUIRED : OPTIONAL, &s);
    if (rc <= 0)
        return rc;
    if (tg_rfc3339_parse(s, out) != 0)
        return reject(v, TG_E_INVALID_TIMESTAMP, field,
                      "%s must be an RFC 3339 date-time with an offset, "
                      "like 2024-05-01T14:03:00Z",
                      field);
    return 1;
}

static int in_list(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(name, *list) == 0)
            return 1;
    return 0;
}

/* Refuses members of obj that the channel does not know. */
static int check_members(vctx_t *v, const cJSON *item, channel_t ch)
{
    for (const cJSON *m = item->child; m; m = m->next) {
        const char *name = m->string ? m->string : "";
        if (in_list(name, COMMON_FIELDS) || in_list(name, CHANNEL_FIELDS[ch]))
            continue;
        const char *field = sp_arena_strdup(v->arena, name);
        if (!field)
            return SP_ENOMEM;
        for (int c = 0; c < CH_COUNT; c++)
            if (in_list(name, CHANNEL_FIELDS[c]))
                return reject(v, TG_E_FIELD_NOT_ALLOWED, field, "%s is not allowed for channel %s",
                              field, CHANNELS[ch]);
        return reject(v, TG_E_UNKNOWN_FIELD, field, "unknown member %s", field);
    }
    return SP_OK;
}

static int check_object_members(vctx_t *v, const cJSON *obj, const char *prefix,
                                const char *const *allowed)
{
    for (const cJSON *m = obj->child; m; m = m->next) {
        const char *name = m->string ? m->string : "";
        if (!in_list(name, allowed)) {
            const char *field = path(v, prefix, name);
            return reject(v, TG_E_UNKNOWN_FIELD, field, "unknown member %s", field);
        }
    }
    return SP_OK;
}

/* "pt-BR" -> "pt": letters only, 2..3 of them, then optional subtags. */
static int parse_language(vctx_t *v, const char *s, const char **out)
{
    size_t n = 0;
    while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z'))
        n++;
    int ok = n >= 2 && n <= 3;
    for (const char *p = s + n; ok && *p; p++) {
        char c = *p;
        ok = c == '-' || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (c >= '0' && c <= '9');
    }
    if (!ok || strlen(s) > 35)
        return reject(v, TG_E_INVALID_VALUE, "language",
                      "language must be a language tag such as en, pt or pt-BR");
    char *lang = sp_arena_strndup(v->arena, s, n);
    if (!lang)
        return SP_ENOMEM;
    for (char *p = lang; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    *out = lang;
    return SP_OK;
}

/* An e-mail address inside an opaque customer reference is PII the platform
 * must not receive in an identifier field (identifiers are not redacted). */
static int looks_like_email(const char *s)
{
    const char *at = strchr(s, '@');
    return at && at > s && strchr(at + 1, '.') && at[1] != '.';
}

static int parse_agent(vctx_t *v, const cJSON *item, interaction_t *ix)
{
    static const char *const allowed[] = {"id", "name", NULL};
    const cJSON *agent = cJSON_GetObjectItemCaseSensitive(item, "agent");
    if (!agent || cJSON_IsNull(agent))
        return SP_OK;
    if (!cJSON_IsObject(agent))
        return reject(v, TG_E_INVALID_TYPE, "agent", "agent must be an object {id, name}");
    int rc = check_object_members(v, agent, "agent", allowed);
    const char *s = NULL;
    if (rc == 0 && (rc = get_str(v, agent, "id", "agent.id", AGENT_ID_MAX, IDENT, &s)) == 1)
        ix->agent_id = (char *)s;
    if (rc >= 0 && (rc = get_str(v, agent, "name", "agent.name", AGENT_NAME_MAX, IDENT, &s)) == 1)
        ix->agent_name = (char *)s;
    return rc < 0 ? rc : SP_OK;
}

static int parse_tags(vctx_t *v, const cJSON *item, interaction_t *ix)
{
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(item, "tags");
    if (!tags || cJSON_IsNull(tags))
        return SP_OK;
    if (!cJSON_IsArray(tags))
        return reject(v, TG_E_INVALID_TYPE, "tags", "tags must be an array of strings");
    int n = cJSON_GetArraySize(tags);
    if (n > TAGS_MAX)
        return reject(v, TG_E_TOO_MANY, "tags", "at most %d tags", TAGS_MAX);
    ix->tags = sp_arena_alloc(v->arena, sizeof(char *) * (size_t)(n ? n : 1));
    if (!ix->tags)
        return SP_ENOMEM;
    int i = 0;
    for (const cJSON *t = tags->child; t; t = t->next, i++) {
        const char *field = sp_arena_printf(v->arena, "tags[%d]", i);
        if (!field)
            return SP_ENOMEM;
        if (!cJSON_IsString(t))
            return reject(v, TG_E_INVALID_TYPE, field, "%s must be a string", field);
        const char *s = t->valuestring;
        size_t len = strlen(s);
        if (!tg_utf8_valid(s, len))
            return reject(v, TG_E_INVALID_UTF8, field, "%s is not valid UTF-8", field);
        if (len == 0 || len > TAG_MAX || has_control(s))
            return reject(v, TG_E_INVALID_VALUE, field,
                          "%s must be 1..%d bytes without control characters", field, TAG_MAX);
        ix->tags[ix->n_tags++] = t->valuestring;
    }
    return SP_OK;
}

static int meta_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > META_KEY_MAX)
        return 0;
    for (; *k; k++) {
        char c = *k;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-'))
            return 0;
    }
    return 1;
}

static int parse_metadata(vctx_t *v, const cJSON *item, interaction_t *ix)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(item, "metadata");
    if (!meta || cJSON_IsNull(meta))
        return SP_OK;
    if (!cJSON_IsObject(meta))
        return reject(v, TG_E_INVALID_TYPE, "metadata", "metadata must be an object");
    int n = cJSON_GetArraySize(meta);
    if (n > META_MAX)
        return reject(v, TG_E_TOO_MANY, "metadata", "at most %d metadata entries", META_MAX);
    ix->metadata = sp_arena_alloc(v->arena, sizeof(void *) * (size_t)(n ? n : 1));
    if (!ix->metadata)
        return SP_ENOMEM;
    for (const cJSON *m = meta->child; m; m = m->next) {
        const char *key = m->string ? m->string : "";
        const char *field = path(v, "metadata", key);
        if (!meta_key_ok(key))
            return reject(v, TG_E_INVALID_VALUE, "metadata",
                          "metadata keys must be 1..%d of [A-Za-z0-9_.:-]", META_KEY_MAX);
        const char *value;
        if (cJSON_IsString(m)) {
            value = m->valuestring;
        } else if (cJSON_IsBool(m)) {
            value = cJSON_IsTrue(m) ? "true" : "false";
        } else if (cJSON_IsNumber(m)) {
            double d = m->valuedouble;
            /* The range test first: converting a double outside int64_t
             * is undefined behaviour (1e300 in a metadata value). */
            value = (d > -9e15 && d < 9e15 && d == (double)(int64_t)d)
                        ? sp_arena_printf(v->arena, "%lld", (long long)d)
                        : sp_arena_printf(v->arena, "%.17g", d);
            if (!value)
                return SP_ENOMEM;
        } else {
            return reject(v, TG_E_INVALID_TYPE, field, "%s must be a string, number or boolean",
                          field);
        }
        size_t len = strlen(value);
        if (!tg_utf8_valid(value, len))
            return reject(v, TG_E_INVALID_UTF8, field, "%s is not valid UTF-8", field);
        if (len > META_VALUE_MAX)
            return reject(v, TG_E_TOO_LONG, field, "%s is longer than %d bytes", field,
                          META_VALUE_MAX);
        Serphona__Interactions__V1__Interaction__MetadataEntry *e =
            sp_arena_alloc(v->arena, sizeof(*e));
        if (!e)
            return SP_ENOMEM;
        serphona__interactions__v1__interaction__metadata_entry__init(e);
        e->key = (char *)key;
        e->value = (char *)value;
        ix->metadata[ix->n_metadata++] = e;
    }
    return SP_OK;
}

static int parse_speaker(vctx_t *v, const cJSON *u, const char *prefix, const char **out)
{
    const char *field = path(v, prefix, "speaker");
    const char *s = NULL;
    int rc = get_str(v, u, "speaker", field, 16, REQUIRED, &s);
    if (rc < 0)
        return rc;
    if (strcmp(s, "agent") != 0 && strcmp(s, "customer") != 0 && strcmp(s, "system") != 0)
        return reject(v, TG_E_INVALID_VALUE, field, "%s must be agent, customer or system", field);
    *out = s;
    return SP_OK;
}

static utterance_t *new_utterance(vctx_t *v, const char *speaker, const char *text)
{
    utterance_t *u = sp_arena_alloc(v->arena, sizeof(*u));
    if (!u)
        return NULL;
    serphona__interactions__v1__utterance__init(u);
    u->speaker = (char *)speaker;
    u->text = (char *)text;
    u->start_ms = -1;
    u->end_ms = -1;
    return u;
}

/* The utterances of a call (timed) or a thread (chat, WhatsApp, e-mail). */
static int parse_utterances(vctx_t *v, const cJSON *item, channel_t ch, interaction_t *ix)
{
    static const char *const call_fields[] = {"speaker", "text", "start_ms", "end_ms", NULL};
    static const char *const thread_fields[] = {"speaker",  "text",   "at",
                                                "start_ms", "end_ms", NULL};
    const int timed = ch == CH_CALL;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(item, "utterances");
    if (!list || cJSON_IsNull(list))
        return reject(v, TG_E_MISSING_FIELD, "utterances", "utterances is required for channel %s",
                      CHANNELS[ch]);
    if (!cJSON_IsArray(list))
        return reject(v, TG_E_INVALID_TYPE, "utterances", "utterances must be an array");
    int n = cJSON_GetArraySize(list);
    if (n == 0)
        return reject(v, TG_E_EMPTY_CONTENT, "utterances", "utterances must not be empty");
    if (n > UTTERANCES_MAX)
        return reject(v, TG_E_TOO_MANY, "utterances", "at most %d utterances", UTTERANCES_MAX);
    ix->utterances = sp_arena_alloc(v->arena, sizeof(utterance_t *) * (size_t)n);
    if (!ix->utterances)
        return SP_ENOMEM;
    int64_t prev_start = -1;
    int i = 0;
    for (const cJSON *it = list->child; it; it = it->next, i++) {
        const char *prefix = sp_arena_printf(v->arena, "utterances[%d]", i);
        if (!prefix)
            return SP_ENOMEM;
        if (!cJSON_IsObject(it))
            return reject(v, TG_E_INVALID_TYPE, prefix, "%s must be an object", prefix);
        int rc = check_object_members(v, it, prefix, timed ? call_fields : thread_fields);
        const char *speaker = NULL, *text = NULL;
        if (rc == 0)
            rc = parse_speaker(v, it, prefix, &speaker);
        if (rc == 0)
            rc = get_str(v, it, "text", path(v, prefix, "text"), TEXT_MAX, REQUIRED | TEXT, &text);
        if (rc < 0)
            return rc;
        utterance_t *u = new_utterance(v, speaker, text);
        if (!u || v->oom)
            return SP_ENOMEM;
        const int64_t max_ms = timed ? CALL_MAX_MS : THREAD_MAX_MS;
        int64_t start = -1, end = -1, at = 0;
        int has_at = 0;
        if (!timed) {
            has_at = get_time(v, it, "at", path(v, prefix, "at"), 0, &at);
            if (has_at < 0)
                return has_at;
        }
        rc = get_int(v, it, "start_ms", path(v, prefix, "start_ms"), 0, max_ms, timed, &start);
        if (rc < 0)
            return rc;
        if (has_at && rc == 1)
            return reject(v, TG_E_INVALID_VALUE, prefix, "%s has both at and start_ms", prefix);
        if (has_at) {
            start = at - ix->occurred_at_unix_ms;
            if (start < 0 || start > max_ms)
                return reject(v, TG_E_OUT_OF_RANGE, path(v, prefix, "at"),
                              "%s.at must be within 90 days after occurred_at", prefix);
        }
        rc = get_int(v, it, "end_ms", path(v, prefix, "end_ms"), 0, max_ms, timed, &end);
        if (rc < 0)
            return rc;
        if (rc == 1 && start < 0)
            return reject(v, TG_E_MISSING_FIELD, path(v, prefix, "start_ms"),
                          "%s has end_ms without a start", prefix);
        if (rc == 1 && end < start)
            return reject(v, TG_E_OUT_OF_RANGE, path(v, prefix, "end_ms"),
                          "%s.end_ms is before its start", prefix);
        if (timed && start < prev_start)
            return reject(v, TG_E_OUT_OF_ORDER, path(v, prefix, "start_ms"),
                          "utterances must be in order of start_ms (%s starts before the one "
                          "before it)",
                          prefix);
        if (v->oom)
            return SP_ENOMEM;
        prev_start = start;
        u->start_ms = start;
        u->end_ms = end;
        ix->utterances[ix->n_utterances++] = u;
    }
    return SP_OK;
}

/* One utterance holding text (an e-mail body, a survey comment, a review). */
static int single_text(vctx_t *v, const cJSON *item, const char *speaker, int required,
                       interaction_t *ix)
{
    const char *text = NULL;
    int rc = get_str(v, item, "text", "text", TEXT_MAX, (required ? REQUIRED : 0) | TEXT, &text);
    if (rc <= 0)
        return rc;
    ix->utterances = sp_arena_alloc(v->arena, sizeof(utterance_t *));
    utterance_t *u = new_utterance(v, speaker, text);
    if (!ix->utterances || !u)
        return SP_ENOMEM;
    ix->utterances[0] = u;
    ix->n_utterances = 1;
    return SP_OK;
}

static int parse_email(vctx_t *v, const cJSON *item, interaction_t *ix)
{
    const char *s = NULL, *speaker = "customer";
    int rc = get_str(v, item, "subject", "subject", SUBJECT_MAX, 0, &s);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        v->text_bytes += strlen(s);
        ix->subject = (char *)s;
    }
    rc = get_str(v, item, "direction", "direction", 16, 0, &s);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        if (strcmp(s, "inbound") == 0)
            speaker = "customer";
        else if (strcmp(s, "outbound") == 0)
            speaker = "agent";
        else
            return reject(v, TG_E_INVALID_VALUE, "direction",
                          "direction must be inbound or outbound");
    }
    int has_text = cJSON_GetObjectItemCaseSensitive(item, "text") != NULL;
    int has_thread = cJSON_GetObjectItemCaseSensitive(item, "utterances") != NULL;
    if (has_text && has_thread)
        return reject(v, TG_E_INVALID_VALUE, "text",
                      "an email has either text (one message) or utterances (a thread)");
    if (has_thread)
        return parse_utterances(v, item, CH_EMAIL, ix);
    return single_text(v, item, speaker, 1, ix);
}

static int parse_survey(vctx_t *v, const cJSON *item, interaction_t *ix)
{
    static const char *const allowed[] = {"nps", "csat", NULL};
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(item, "survey");
    if (!sv || cJSON_IsNull(sv))
        return reject(v, TG_E_MISSING_FIELD, "survey",
                      "survey {nps, csat} is required for channel survey");
    if (!cJSON_IsObject(sv))
        return reject(v, TG_E_INVALID_TYPE, "survey", "survey must be an object {nps, csat}");
    int rc = check_object_members(v, sv, "survey", allowed);
    if (rc)
        return rc;
    int64_t nps = -1, csat = -1;
    if ((rc = get_int(v, sv, "nps", "survey.nps", 0, 10, 0, &nps)) < 0 ||
        (rc = get_int(v, sv, "csat", "survey.csat", 1, 5, 0, &csat)) < 0)
        return rc;
    if (nps < 0 && csat < 0)
        return reject(v, TG_E_MISSING_FIELD, "survey", "a survey needs nps (0..10) or csat (1..5)");
    ix->survey = sp_arena_alloc(v->arena, sizeof(*ix->survey));
    if (!ix->survey)
        return SP_ENOMEM;
    serphona__interactions__v1__survey__init(ix->survey);
    ix->survey->nps = (int32_t)nps;
    ix->survey->csat = (int32_t)csat;
    return single_text(v, item, "customer", 0, ix);
}

static int parse_review(vctx_t *v, const cJSON *item, interaction_t *ix)
{
    int64_t rating = 0;
    int rc = get_int(v, item, "rating", "rating", 1, 5, 1, &rating);
    if (rc < 0)
        return rc;
    ix->rating = (int32_t)rating;
    const char *s = NULL;
    if ((rc = get_str(v, item, "subject", "subject", SUBJECT_MAX, 0, &s)) < 0)
        return rc;
    if (rc == 1) {
        v->text_bytes += strlen(s);
        ix->subject = (char *)s;
    }
    return single_text(v, item, "customer", 0, ix);
}

void tg_interaction_id(const char *tenant_id, const char *external_id, char out[SP_UUID_STR_LEN])
{
    size_t tl = strlen(tenant_id), el = strlen(external_id);
    uint8_t buf[512], digest[SP_SHA256_LEN];
    /* Both parts are bounded (a UUID, <= 128 bytes), but stay safe anyway. */
    if (tl + 1 + el <= sizeof(buf)) {
        memcpy(buf, tenant_id, tl);
        buf[tl] = 0;
        memcpy(buf + tl + 1, external_id, el);
        sp_sha256(buf, tl + 1 + el, digest);
    } else {
        uint8_t inner[SP_SHA256_LEN * 2];
        sp_sha256(tenant_id, tl, inner);
        sp_sha256(external_id, el, inner + SP_SHA256_LEN);
        sp_sha256(inner, sizeof(inner), digest);
    }
    digest[6] = (uint8_t)((digest[6] & 0x0F) | 0x80); /* version 8 */
    digest[8] = (uint8_t)((digest[8] & 0x3F) | 0x80); /* variant 10 */
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[digest[i] >> 4];
        out[o++] = hex[digest[i] & 0x0F];
    }
    out[o] = '\0';
}

int tg_interaction_build(sp_arena_t *arena, const char *tenant_id, const cJSON *item,
                         const char *source, int64_t now_ms,
                         Serphona__Interactions__V1__Interaction **out, tg_reject_t *why)
{
    vctx_t v = {.arena = arena, .why = why, .now_ms = now_ms};
    *out = NULL;
    if (!cJSON_IsObject(item))
        return reject(&v, TG_E_INVALID_ITEM, "", "an interaction must be a JSON object");
    interaction_t *ix = sp_arena_alloc(arena, sizeof(*ix));
    if (!ix)
        return SP_ENOMEM;
    serphona__interactions__v1__interaction__init(ix);

    const char *external_id = NULL, *channel = NULL, *s = NULL;
    int rc = get_str(&v, item, "external_id", "external_id", EXTERNAL_ID_MAX, REQUIRED | IDENT,
                     &external_id);
    if (rc < 0)
        return rc;
    if ((rc = get_str(&v, item, "channel", "channel", 32, REQUIRED, &channel)) < 0)
        return rc;
    if (!external_id || !channel) /* cannot happen: both are REQUIRED */
        return SP_EINTERNAL;
    channel_t ch = CH_COUNT;
    for (int c = 0; c < CH_COUNT; c++)
        if (strcmp(channel, CHANNELS[c]) == 0)
            ch = (channel_t)c;
    if (ch == CH_COUNT)
        return reject(&v, TG_E_UNKNOWN_CHANNEL, "channel",
                      "channel must be one of call, chat, whatsapp, email, survey, review");
    if ((rc = check_members(&v, item, ch)) != 0)
        return rc;

    int64_t occurred = 0;
    if ((rc = get_time(&v, item, "occurred_at", "occurred_at", 1, &occurred)) < 0)
        return rc;
    if (occurred < OLDEST_MS || occurred > now_ms + FUTURE_SLACK_MS)
        return reject(&v, TG_E_OUT_OF_RANGE, "occurred_at",
                      "occurred_at must be between 1990-01-01 and 24 hours from now");
    ix->occurred_at_unix_ms = occurred;

    if ((rc = get_str(&v, item, "language", "language", 35, 0, &s)) < 0)
        return rc;
    if (rc == 1 && (rc = parse_language(&v, s, (const char **)&ix->language)) != 0)
        return rc;
    if ((rc = parse_agent(&v, item, ix)) != 0)
        return rc;
    if ((rc = get_str(&v, item, "customer_ref", "customer_ref", CUSTOMER_MAX, IDENT, &s)) < 0)
        return rc;
    if (rc == 1) {
        if (looks_like_email(s))
            return reject(&v, TG_E_PII, "customer_ref",
                          "customer_ref must be an opaque reference, not an e-mail address");
        ix->customer_ref = (char *)s;
    }
    if ((rc = parse_tags(&v, item, ix)) != 0 || (rc = parse_metadata(&v, item, ix)) != 0)
        return rc;

    switch (ch) {
    case CH_CALL:
    case CH_CHAT:
    case CH_WHATSAPP:
        rc = parse_utterances(&v, item, ch, ix);
        break;
    case CH_EMAIL:
        rc = parse_email(&v, item, ix);
        break;
    case CH_SURVEY:
        rc = parse_survey(&v, item, ix);
        break;
    case CH_REVIEW:
        rc = parse_review(&v, item, ix);
        break;
    default:
        rc = SP_EINTERNAL;
    }
    if (rc != 0)
        return rc;
    if (v.oom)
        return SP_ENOMEM;

    char *id = sp_arena_alloc(arena, SP_UUID_STR_LEN);
    char *tenant = sp_arena_strdup(arena, tenant_id);
    char *src = sp_arena_strdup(arena, source ? source : "api");
    if (!id || !tenant || !src)
        return SP_ENOMEM;
    tg_interaction_id(tenant_id, external_id, id);
    ix->interaction_id = id;
    ix->tenant_id = tenant;
    ix->external_id = (char *)external_id;
    ix->channel = (char *)CHANNELS[ch];
    ix->source = src;
    *out = ix;
    return SP_OK;
}
