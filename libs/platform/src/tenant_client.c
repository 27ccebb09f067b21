/*
 * tenant_client.c — tenant-manager's typed RPCs behind the shared cache
 * (tenant_client.h). The non-blocking table and its refresher are at the
 * end.
 */
#include "platform/tenant_client.h"

#include "platform/clock.h"
#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/text.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS 2000
#define DEFAULT_TTL_S      30
#define DEFAULT_BACKOFF_MS 2000
#define DEFAULT_CAPACITY   4096
#define DEFAULT_REFRESH_MS 30000
#define QUEUE_LEN          256 /* refreshes waiting; past it a peek retries later */
#define ID_MAX             64  /* tenant ids are UUIDs (36) */

/* What each kind is: its key prefix, the RPC answering a miss, the message
 * cached, and whether the in-process layer holds it. */
static const struct {
    const char *prefix, *method;
    const ProtobufCMessageDescriptor *desc;
    int l1;
} KINDS[SP_TENANTS_KINDS] = {
    [SP_TENANTS_PRINCIPAL] = {"sp:principal:", "tenant-manager.GetPrincipal",
                              &serphona__tenant__v1__principal__descriptor, 1},
    [SP_TENANTS_STATE] = {"sp:tenant:", "tenant-manager.GetTenantState",
                          &serphona__tenant__v1__tenant_state__descriptor, 1},
    [SP_TENANTS_LIMITS] = {"sp:limits:", "tenant-manager.GetLimits",
                           &serphona__tenant__v1__limits__descriptor, 1},
    [SP_TENANTS_ORIGINS] = {"sp:origins", "tenant-manager.ListAllowedOrigins",
                            &serphona__tenant__v1__allowed_origins__descriptor, 1},
    [SP_TENANTS_APIKEY] = {"sp:apikey:", "tenant-manager.ResolveApiKey",
                           &serphona__tenant__v1__resolve_api_key_reply__descriptor, 0},
    [SP_TENANTS_TAXONOMY] = {"sp:taxonomy:", "tenant-manager.GetTaxonomy",
                             &serphona__tenant__v1__taxonomy__descriptor, 0},
};

enum { P_UNKNOWN, P_KNOWN, P_NOTFOUND };

/* One tenant's value of one kind in the non-blocking table. */
typedef struct pentry {
    struct pentry *next;
    int kind, state, queued, stale;
    int64_t fetched_ms, retry_ms, used_ms; /* monotonic */
    uint64_t version;
    uint8_t *val;
    size_t len;
    char id[ID_MAX];
} pentry_t;

typedef struct {
    int kind;
    char id[ID_MAX];
} job_t;

struct sp_tenants {
    sp_tenants_opts_t o;
    sp_tenants_l1_t l1;
    int has_l1;
    _Atomic int64_t skip_until_ms; /* back-off: monotonic */
    atomic_int failing;            /* the last call failed: an outage is on */
    atomic_int probing;            /* during an outage, the one call let through */
    _Atomic uint64_t rpcs, skipped, refreshes;

    pthread_mutex_t mu; /* the table, the queue, the thread */
    pthread_cond_t cond;
    pthread_cond_t landed; /* a refresh ended (monotonic clock) */
    int64_t inflight_ms;   /* when the refresh under way began; 0 = none */
    pentry_t **buckets;
    size_t n_buckets, count;
    uint64_t versions;
    job_t queue[QUEUE_LEN];
    size_t q_head, q_len;
    int started, stop;
    pthread_t thread;
};

/* ---- keys ------------------------------------------------------------------ */

const char *sp_tenants_key_prefix(sp_tenants_kind_t kind)
{
    return (unsigned)kind < SP_TENANTS_KINDS ? KINDS[kind].prefix : NULL;
}

const char *sp_tenants_key(char out[SP_TENANTS_KEY_MAX], sp_tenants_kind_t kind, const char *id,
                           const char *user_id)
{
    int n;
    if ((unsigned)kind >= SP_TENANTS_KINDS)
        return NULL;
    if (kind == SP_TENANTS_ORIGINS)
        n = snprintf(out, SP_TENANTS_KEY_MAX, "%s", KINDS[kind].prefix);
    else if (kind == SP_TENANTS_PRINCIPAL)
        n = snprintf(out, SP_TENANTS_KEY_MAX, "%s%s:%s", KINDS[kind].prefix, id ? id : "",
                     user_id ? user_id : "");
    else
        n = snprintf(out, SP_TENANTS_KEY_MAX, "%s%s", KINDS[kind].prefix, id ? id : "");
    return n > 0 && n < SP_TENANTS_KEY_MAX ? out : NULL;
}

const char *sp_tenants_api_key_key(char out[SP_TENANTS_KEY_MAX], const char *key)
{
    uint8_t digest[SP_SHA256_LEN];
    char hex[2 * SP_SHA256_LEN + 1];
    sp_sha256(key, strlen(key), digest);
    sp_hex_encode(digest, sizeof(digest), hex);
    return sp_tenants_key(out, SP_TENANTS_APIKEY, hex, NULL);
}

/* ---- life ------------------------------------------------------------------ */

sp_tenants_t *sp_tenants_new(const sp_tenants_opts_t *opts)
{
    sp_tenants_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (opts)
        t->o = *opts;
    if (t->o.l1) {
        t->l1 = *t->o.l1;
        t->has_l1 = t->l1.get && t->l1.put && t->l1.epoch;
        t->o.l1 = NULL;
    }
    if (t->o.timeout_ms <= 0)
        t->o.timeout_ms = DEFAULT_TIMEOUT_MS;
    if (t->o.cache_ttl_s <= 0)
        t->o.cache_ttl_s = DEFAULT_TTL_S;
    if (t->o.cache_ttl_s > SP_TENANTS_TTL_MAX_S)
        t->o.cache_ttl_s = SP_TENANTS_TTL_MAX_S;
    if (t->o.backoff_ms <= 0)
        t->o.backoff_ms = DEFAULT_BACKOFF_MS;
    if (t->o.peek_capacity == 0)
        t->o.peek_capacity = DEFAULT_CAPACITY;
    if (t->o.peek_refresh_ms <= 0)
        t->o.peek_refresh_ms = DEFAULT_REFRESH_MS;
    t->n_buckets = t->o.peek_capacity / 4 + 1;
    if (!(t->buckets = calloc(t->n_buckets, sizeof(pentry_t *)))) {
        free(t);
        return NULL;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cond, NULL);
    pthread_cond_init(&t->landed, &ca);
    pthread_condattr_destroy(&ca);
    return t;
}

static void entry_free(pentry_t *e)
{
    free(e->val);
    free(e);
}

void sp_tenants_destroy(sp_tenants_t **self_p)
{
    sp_tenants_t *t;
    if (!self_p || !(t = *self_p))
        return;
    *self_p = NULL;
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    int started = t->started;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->mu);
    if (started)
        pthread_join(t->thread, NULL);
    for (size_t b = 0; b < t->n_buckets; b++)
        while (t->buckets[b]) {
            pentry_t *e = t->buckets[b];
            t->buckets[b] = e->next;
            entry_free(e);
        }
    free(t->buckets);
    pthread_cond_destroy(&t->cond);
    pthread_cond_destroy(&t->landed);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

void sp_tenants_stats(const sp_tenants_t *t, sp_tenants_stats_t *out)
{
    sp_tenants_t *m = (sp_tenants_t *)t;
    out->rpcs = atomic_load(&m->rpcs);
    out->skipped = atomic_load(&m->skipped);
    out->refreshes = atomic_load(&m->refreshes);
}

/* ---- cache and RPC ------------------------------------------------------------ */

static sp_redis_pool_t *redis_of(const sp_tenants_t *t)
{
    if (t->o.redis)
        return t->o.redis;
    return t->o.svc ? sp_service_redis(t->o.svc) : NULL;
}

static void free_message(void *msg)
{
    protobuf_c_message_free_unpacked(msg, NULL);
}

/* One typed call for kind; the reply lives as long as arena. A transport
 * failure starts the back-off: until it ends, calls fail at once. */
static int ask(sp_tenants_t *t, sp_arena_t *arena, sp_tenants_kind_t kind, const char *id,
               const char *user_id, ProtobufCMessage **out)
{
    Serphona__Tenant__V1__GetPrincipalRequest principal =
        SERPHONA__TENANT__V1__GET_PRINCIPAL_REQUEST__INIT;
    Serphona__Tenant__V1__GetTenantStateRequest state =
        SERPHONA__TENANT__V1__GET_TENANT_STATE_REQUEST__INIT;
    Serphona__Tenant__V1__GetLimitsRequest limits = SERPHONA__TENANT__V1__GET_LIMITS_REQUEST__INIT;
    Serphona__Tenant__V1__ListAllowedOriginsRequest origins =
        SERPHONA__TENANT__V1__LIST_ALLOWED_ORIGINS_REQUEST__INIT;
    Serphona__Tenant__V1__ResolveApiKeyRequest apikey =
        SERPHONA__TENANT__V1__RESOLVE_API_KEY_REQUEST__INIT;
    Serphona__Tenant__V1__GetTaxonomyRequest taxonomy =
        SERPHONA__TENANT__V1__GET_TAXONOMY_REQUEST__INIT;
    const ProtobufCMessage *in = NULL;
    switch (kind) {
    case SP_TENANTS_PRINCIPAL:
        principal.tenant_id = (char *)(id ? id : "");
        principal.user_id = (char *)user_id;
        in = &principal.base;
        break;
    case SP_TENANTS_STATE:
        state.tenant_id = (char *)id;
        in = &state.base;
        break;
    case SP_TENANTS_LIMITS:
        limits.tenant_id = (char *)id;
        in = &limits.base;
        break;
    case SP_TENANTS_ORIGINS:
        in = &origins.base;
        break;
    case SP_TENANTS_APIKEY:
        apikey.key = (char *)id;
        in = &apikey.base;
        break;
    default:
        taxonomy.tenant_id = (char *)id;
        in = &taxonomy.base;
        break;
    }
    if (!t->o.tm)
        return SP_EUNAVAILABLE;
    if (sp_clock_mono_ms() < atomic_load(&t->skip_until_ms)) {
        atomic_fetch_add(&t->skipped, 1);
        return SP_EUNAVAILABLE;
    }
    /* During an outage, once the back-off ended, one call probes and the
     * others still fail at once rather than each waiting a deadline. */
    int probe = atomic_load(&t->failing);
    if (probe && atomic_exchange(&t->probing, 1)) {
        atomic_fetch_add(&t->skipped, 1);
        return SP_EUNAVAILABLE;
    }
    atomic_fetch_add(&t->rpcs, 1);
    ProtobufCMessage *reply = NULL;
    int rc = sp_rpc_client_call_typed(t->o.tm, KINDS[kind].method, NULL, in, KINDS[kind].desc,
                                      t->o.timeout_ms, &reply);
    if (probe)
        atomic_store(&t->probing, 0);
    if (rc == SP_ETIMEDOUT || rc == SP_EUNAVAILABLE || rc == SP_ESHUTDOWN) {
        atomic_store(&t->skip_until_ms, sp_clock_mono_ms() + t->o.backoff_ms);
        if (!atomic_exchange(&t->failing, 1))
            sp_log_warn("%s failed (%s); tenant-manager is left alone for %d ms at a time",
                        KINDS[kind].method, sp_strerror(rc), t->o.backoff_ms);
        else
            sp_log_debug("%s failed: %s", KINDS[kind].method, sp_strerror(rc));
        return SP_EUNAVAILABLE;
    }
    if (atomic_exchange(&t->failing, 0))
        sp_log_info("tenant-manager answers again");
    if (rc == SP_ENOTFOUND || rc == SP_ENOMEM)
        return rc;
    if (rc != SP_OK) {
        sp_log_warn("%s failed: %s", KINDS[kind].method, sp_strerror(rc));
        return SP_EUNAVAILABLE;
    }
    if (sp_arena_defer(arena, free_message, reply) != 0) {
        protobuf_c_message_free_unpacked(reply, NULL);
        return SP_ENOMEM;
    }
    *out = reply;
    return SP_OK;
}

/* Writes msg under key for ttl_s; a failure only costs a miss later. */
static void fill(sp_tenants_t *t, sp_arena_t *arena, const char *key, const ProtobufCMessage *msg,
                 int ttl_s)
{
    sp_redis_pool_t *redis = redis_of(t);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!redis || ttl_s <= 0 || sp_rpc_pack(arena, msg, &buf, &len) != 0)
        return;
    int rc = sp_redis_cache_set(redis, key, buf, len, ttl_s);
    if (rc != 0)
        sp_log_debug("tenant cache write failed: %s", sp_strerror(rc));
}

/* Reads key through the in-process layer and Redis: 1 with *val / *len (in
 * arena) when cached, 0 when not, SP_ENOMEM. */
static int cached(sp_tenants_t *t, sp_arena_t *arena, sp_tenants_kind_t kind, const char *key,
                  const char **val, size_t *len)
{
    sp_redis_pool_t *redis = redis_of(t);
    int use_l1 = t->has_l1 && KINDS[kind].l1 && redis;
    uint64_t epoch = use_l1 ? t->l1.epoch(t->l1.ud, redis) : 0;
    if (use_l1) {
        int present = 0;
        int hit = t->l1.get(t->l1.ud, key, arena, &present, val, len);
        if (hit < 0)
            return SP_ENOMEM;
        if (hit)
            return present;
    }
    char *v = NULL;
    if (!redis)
        return 0;
    int rc = sp_redis_cache_get(redis, key, &v, len);
    if (rc == SP_ENOTFOUND && use_l1)
        t->l1.put(t->l1.ud, key, NULL, 0, epoch);
    if (rc != SP_OK)
        return 0;
    *val = sp_arena_strndup(arena, v, *len);
    if (*val && use_l1)
        t->l1.put(t->l1.ud, key, v, *len, epoch);
    free(v);
    return *val ? 1 : SP_ENOMEM;
}

int sp_tenants_cached(sp_tenants_t *t, sp_arena_t *arena, sp_tenants_kind_t kind, const char *id,
                      const char *user_id, const ProtobufCMessage **out)
{
    char key[SP_TENANTS_KEY_MAX];
    const char *val = NULL;
    size_t len = 0;
    if (!sp_tenants_key(key, kind, id, user_id))
        return SP_EINVAL;
    int hit = cached(t, arena, kind, key, &val, &len);
    if (hit < 0)
        return hit;
    if (!hit || !(*out = sp_rpc_unpack(arena, KINDS[kind].desc, (const uint8_t *)val, len)))
        return SP_ENOTFOUND;
    return SP_OK;
}

/* The synchronous read of every kind but API keys: the caches, then
 * tenant-manager, whose answer fills Redis. */
static int get(sp_tenants_t *t, sp_arena_t *arena, sp_tenants_kind_t kind, const char *id,
               const char *user_id, const ProtobufCMessage **out)
{
    char key[SP_TENANTS_KEY_MAX];
    int rc = sp_tenants_cached(t, arena, kind, id, user_id, out);
    if (rc != SP_ENOTFOUND)
        return rc;
    ProtobufCMessage *msg = NULL;
    if ((rc = ask(t, arena, kind, id, user_id, &msg)) != SP_OK)
        return rc;
    fill(t, arena, sp_tenants_key(key, kind, id, user_id), msg, t->o.cache_ttl_s);
    *out = msg;
    return SP_OK;
}

int sp_tenants_principal(sp_tenants_t *t, sp_arena_t *arena, const char *tenant_id,
                         const char *user_id, const sp_tenants_principal_t **out)
{
    return get(t, arena, SP_TENANTS_PRINCIPAL, tenant_id, user_id, (const ProtobufCMessage **)out);
}

int sp_tenants_state(sp_tenants_t *t, sp_arena_t *arena, const char *tenant_id,
                     const sp_tenants_state_t **out)
{
    return get(t, arena, SP_TENANTS_STATE, tenant_id, NULL, (const ProtobufCMessage **)out);
}

int sp_tenants_limits(sp_tenants_t *t, sp_arena_t *arena, const char *tenant_id,
                      const sp_tenants_limits_t **out)
{
    return get(t, arena, SP_TENANTS_LIMITS, tenant_id, NULL, (const ProtobufCMessage **)out);
}

int sp_tenants_origins(sp_tenants_t *t, sp_arena_t *arena, const sp_tenants_origins_t **out)
{
    return get(t, arena, SP_TENANTS_ORIGINS, NULL, NULL, (const ProtobufCMessage **)out);
}

int sp_tenants_taxonomy(sp_tenants_t *t, sp_arena_t *arena, const char *tenant_id,
                        const sp_tenants_taxonomy_t **out)
{
    return get(t, arena, SP_TENANTS_TAXONOMY, tenant_id, NULL, (const ProtobufCMessage **)out);
}

int sp_tenants_resolve_api_key(sp_tenants_t *t, sp_arena_t *arena, const char *key, int cache_s,
                               const sp_tenants_api_key_t **out)
{
    char ckey[SP_TENANTS_KEY_MAX];
    sp_redis_pool_t *redis = redis_of(t);
    if (!key || !sp_tenants_api_key_key(ckey, key))
        return SP_EINVAL;
    if (cache_s > SP_TENANTS_TTL_MAX_S)
        cache_s = SP_TENANTS_TTL_MAX_S;
    char *v = NULL;
    size_t len = 0;
    if (cache_s > 0 && redis && sp_redis_cache_get(redis, ckey, &v, &len) == SP_OK) {
        *out = (const sp_tenants_api_key_t *)sp_rpc_unpack(arena, KINDS[SP_TENANTS_APIKEY].desc,
                                                           (const uint8_t *)v, len);
        free(v);
        if (*out)
            return SP_OK;
    }
    ProtobufCMessage *msg = NULL;
    int rc = ask(t, arena, SP_TENANTS_APIKEY, key, NULL, &msg);
    if (rc != SP_OK)
        return rc == SP_ENOTFOUND ? SP_EUNAVAILABLE : rc;
    const sp_tenants_api_key_t *r = (const sp_tenants_api_key_t *)msg;
    int ok = r->result == SERPHONA__TENANT__V1__RESOLVE_API_KEY_REPLY__RESULT__OK;
    fill(t, arena, ckey, msg,
         ok || cache_s < SP_TENANTS_NEGATIVE_TTL_S ? cache_s : SP_TENANTS_NEGATIVE_TTL_S);
    *out = r;
    return SP_OK;
}

/* ---- the batched lookup of an authenticated request ----------------------- */

enum { Q_PRINCIPAL, Q_STATE, Q_LIMITS, Q_MARKER, Q_MAX };

int sp_tenants_lookup(sp_tenants_t *t, sp_arena_t *arena, const sp_tenants_query_t *q,
                      sp_tenants_answer_t *out)
{
    static const sp_tenants_kind_t KIND_OF[Q_MARKER] = {SP_TENANTS_PRINCIPAL, SP_TENANTS_STATE,
                                                        SP_TENANTS_LIMITS};
    memset(out, 0, sizeof(*out));
    const char *tid = q->tenant_id ? q->tenant_id : "";
    char keybuf[Q_MARKER][SP_TENANTS_KEY_MAX];
    const char *keys[Q_MAX] = {0};
    if (q->user_id && !(keys[Q_PRINCIPAL] = sp_tenants_key(keybuf[Q_PRINCIPAL],
                                                           SP_TENANTS_PRINCIPAL, tid, q->user_id)))
        return SP_EINVAL;
    if (*tid && q->want_state &&
        !(keys[Q_STATE] = sp_tenants_key(keybuf[Q_STATE], SP_TENANTS_STATE, tid, NULL)))
        return SP_EINVAL;
    if (*tid && q->want_limits &&
        !(keys[Q_LIMITS] = sp_tenants_key(keybuf[Q_LIMITS], SP_TENANTS_LIMITS, tid, NULL)))
        return SP_EINVAL;
    keys[Q_MARKER] = q->marker_key;

    const char *val[Q_MAX] = {0};
    size_t vlen[Q_MAX] = {0};
    sp_redis_pool_t *redis = redis_of(t);
    int use_l1 = t->has_l1 && redis;
    uint64_t epoch = use_l1 ? t->l1.epoch(t->l1.ud, redis) : 0;

    /* In-process copies first; only what they lack goes to Redis, in one
     * MGET. */
    const char *argv[Q_MAX + 1] = {"MGET"};
    int slot_of[Q_MAX + 1];
    int argc = 1;
    for (int k = 0; k < Q_MAX; k++) {
        if (!keys[k])
            continue;
        int present = 0;
        int hit = use_l1 ? t->l1.get(t->l1.ud, keys[k], arena, &present, &val[k], &vlen[k]) : 0;
        if (hit < 0)
            return SP_ENOMEM;
        if (hit) {
            if (k == Q_MARKER)
                out->marker_checked = 1;
            continue;
        }
        slot_of[argc] = k;
        argv[argc++] = keys[k];
    }
    redisReply *reply = NULL;
    if (argc > 1 && redis) {
        int rc = sp_redis_command(redis, &reply, argc, argv, NULL);
        if (rc != 0 || reply->type != REDIS_REPLY_ARRAY || reply->elements != (size_t)(argc - 1)) {
            sp_log_warn("tenant cache unavailable (%s); asking tenant-manager",
                        rc ? sp_strerror(rc) : "unexpected reply");
        } else {
            for (int i = 1; i < argc; i++) {
                const redisReply *e = reply->element[i - 1];
                int k = slot_of[i];
                if (k == Q_MARKER)
                    out->marker_checked = 1;
                if (e->type == REDIS_REPLY_STRING) {
                    if (!(val[k] = sp_arena_strndup(arena, e->str, e->len))) {
                        freeReplyObject(reply);
                        return SP_ENOMEM;
                    }
                    vlen[k] = e->len;
                }
                if (use_l1)
                    t->l1.put(t->l1.ud, keys[k], val[k], vlen[k], epoch);
            }
        }
        if (reply)
            freeReplyObject(reply);
    }
    out->marker_present = val[Q_MARKER] != NULL;

    const ProtobufCMessage *msg[Q_MARKER] = {0};
    for (int k = 0; k < Q_MARKER; k++) {
        if (!keys[k])
            continue;
        sp_tenants_kind_t kind = KIND_OF[k];
        if (val[k])
            msg[k] = sp_rpc_unpack(arena, KINDS[kind].desc, (const uint8_t *)val[k], vlen[k]);
        if (msg[k])
            continue;
        ProtobufCMessage *m = NULL;
        int rc = ask(t, arena, kind, tid, q->user_id, &m);
        if (rc != SP_OK)
            return rc == SP_ENOMEM ? rc : SP_EUNAVAILABLE;
        fill(t, arena, keys[k], m, t->o.cache_ttl_s);
        msg[k] = m;
    }
    out->principal = (const sp_tenants_principal_t *)msg[Q_PRINCIPAL];
    out->state = (const sp_tenants_state_t *)msg[Q_STATE];
    out->limits = (const sp_tenants_limits_t *)msg[Q_LIMITS];
    return SP_OK;
}

/* ---- the non-blocking table and its refresher ------------------------------- */

static size_t bucket_of(const sp_tenants_t *t, int kind, const char *id)
{
    return (sp_fnv1a32(id) + (uint32_t)kind * 16777619u) % t->n_buckets;
}

/* Under t->mu. */
static pentry_t *find(sp_tenants_t *t, int kind, const char *id)
{
    for (pentry_t *e = t->buckets[bucket_of(t, kind, id)]; e; e = e->next)
        if (e->kind == kind && strcmp(e->id, id) == 0)
            return e;
    return NULL;
}

/* Under t->mu: drops the entry used longest ago (a refresh queued for it
 * then finds nothing to store). A scan, but only when a new tenant arrives
 * at a full table. */
static void evict_one(sp_tenants_t *t)
{
    pentry_t **victim = NULL;
    for (size_t b = 0; b < t->n_buckets; b++)
        for (pentry_t **pp = &t->buckets[b]; *pp; pp = &(*pp)->next)
            if (!victim || (*pp)->used_ms < (*victim)->used_ms)
                victim = pp;
    if (!victim)
        return;
    pentry_t *e = *victim;
    *victim = e->next;
    entry_free(e);
    t->count--;
}

/* Under t->mu. */
static pentry_t *insert(sp_tenants_t *t, int kind, const char *id)
{
    if (t->count >= t->o.peek_capacity)
        evict_one(t);
    if (t->count >= t->o.peek_capacity)
        return NULL;
    pentry_t *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->kind = kind;
    snprintf(e->id, sizeof(e->id), "%s", id);
    size_t b = bucket_of(t, kind, id);
    e->next = t->buckets[b];
    t->buckets[b] = e;
    t->count++;
    return e;
}

/* One refresh: the synchronous read (Redis, then tenant-manager), stored. */
static void refresh(sp_tenants_t *t, const job_t *job)
{
    sp_arena_t *arena = sp_arena_new();
    const ProtobufCMessage *msg = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = arena ? get(t, arena, job->kind, job->id, NULL, &msg) : SP_ENOMEM;
    if (rc == SP_OK && sp_rpc_pack(arena, msg, &buf, &len) != 0)
        rc = SP_ENOMEM;
    int64_t now = sp_clock_mono_ms();
    pthread_mutex_lock(&t->mu);
    pentry_t *e = find(t, job->kind, job->id);
    if (e) {
        e->queued = 0;
        if (rc == SP_OK) {
            int same = e->state == P_KNOWN && e->len == len && memcmp(e->val, buf, len) == 0;
            uint8_t *copy = same ? NULL : malloc(len ? len : 1);
            if (same || copy) {
                if (!same) {
                    memcpy(copy, buf, len);
                    free(e->val);
                    e->val = copy;
                    e->len = len;
                    e->version = ++t->versions;
                }
                e->state = P_KNOWN;
                e->stale = e->stale == 2;
                e->fetched_ms = now;
            } else {
                e->retry_ms = now + t->o.backoff_ms;
            }
        } else if (rc == SP_ENOTFOUND) {
            e->state = P_NOTFOUND;
            e->stale = e->stale == 2;
            e->fetched_ms = now;
        } else {
            e->retry_ms = now + t->o.backoff_ms; /* the last known value stands */
        }
    }
    t->inflight_ms = 0;
    pthread_cond_broadcast(&t->landed);
    pthread_mutex_unlock(&t->mu);
    atomic_fetch_add(&t->refreshes, 1);
    sp_arena_destroy(&arena);
}

static void *refresher_main(void *arg)
{
    sp_tenants_t *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        if (t->q_len == 0) {
            pthread_cond_wait(&t->cond, &t->mu);
            continue;
        }
        job_t job = t->queue[t->q_head];
        t->q_head = (t->q_head + 1) % QUEUE_LEN;
        t->q_len--;
        t->inflight_ms = sp_clock_mono_ms();
        pthread_mutex_unlock(&t->mu);
        refresh(t, &job);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* Under t->mu: queues e's refresh and starts the thread the first time. */
static void enqueue(sp_tenants_t *t, pentry_t *e)
{
    if (t->q_len == QUEUE_LEN || t->stop)
        return; /* a later peek asks again */
    if (!t->started) {
        if (pthread_create(&t->thread, NULL, refresher_main, t) != 0)
            return;
        t->started = 1;
    }
    job_t *job = &t->queue[(t->q_head + t->q_len) % QUEUE_LEN];
    job->kind = e->kind;
    memcpy(job->id, e->id, sizeof(job->id));
    t->q_len++;
    e->queued = 1;
    pthread_cond_signal(&t->cond);
}

int sp_tenants_peek(sp_tenants_t *t, sp_arena_t *arena, sp_tenants_kind_t kind,
                    const char *tenant_id, const ProtobufCMessage **out, uint64_t *version)
{
    if ((kind != SP_TENANTS_STATE && kind != SP_TENANTS_LIMITS && kind != SP_TENANTS_TAXONOMY) ||
        !tenant_id || !*tenant_id || strlen(tenant_id) >= ID_MAX)
        return SP_EINVAL;
    int64_t now = sp_clock_mono_ms();
    uint8_t *copy = NULL;
    size_t len = 0;
    uint64_t ver = 0;
    pthread_mutex_lock(&t->mu);
    pentry_t *e = find(t, kind, tenant_id);
    if (!e && !(e = insert(t, kind, tenant_id))) {
        pthread_mutex_unlock(&t->mu);
        return SP_ENOMEM;
    }
    e->used_ms = now;
    if (!e->queued && now >= e->retry_ms &&
        (e->state == P_UNKNOWN || e->stale || now - e->fetched_ms >= t->o.peek_refresh_ms))
        enqueue(t, e);
    int state = e->state;
    if (state == P_KNOWN) {
        len = e->len;
        ver = e->version;
        if ((copy = sp_arena_alloc(arena, len ? len : 1)))
            memcpy(copy, e->val, len);
    }
    pthread_mutex_unlock(&t->mu);
    if (state == P_UNKNOWN)
        return SP_EUNAVAILABLE;
    if (state == P_NOTFOUND)
        return SP_ENOTFOUND;
    if (!copy || !(*out = sp_rpc_unpack(arena, KINDS[kind].desc, copy, len)))
        return SP_ENOMEM;
    if (version)
        *version = ver;
    return SP_OK;
}

int sp_tenants_peek_wait(sp_tenants_t *t, sp_arena_t *arena, sp_tenants_kind_t kind,
                         const char *tenant_id, const ProtobufCMessage **out, uint64_t *version,
                         int wait_ms)
{
    int rc = sp_tenants_peek(t, arena, kind, tenant_id, out, version);
    if (rc != SP_EUNAVAILABLE || wait_ms <= 0 || atomic_load(&t->failing))
        return rc;
    int64_t now = sp_clock_mono_ms();
    int64_t until = now + wait_ms;
    if (now < atomic_load(&t->skip_until_ms))
        return rc;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        pentry_t *e = find(t, kind, tenant_id);
        now = sp_clock_mono_ms();
        if (!e || !e->queued || t->stop || now >= until ||
            (t->inflight_ms && now - t->inflight_ms >= wait_ms))
            break;
        struct timespec ts = {.tv_sec = (time_t)(until / 1000),
                              .tv_nsec = (long)(until % 1000) * 1000000L};
        pthread_cond_timedwait(&t->landed, &t->mu, &ts);
    }
    pthread_mutex_unlock(&t->mu);
    return sp_tenants_peek(t, arena, kind, tenant_id, out, version);
}

void sp_tenants_forget(sp_tenants_t *t, const char *tenant_id)
{
    pthread_mutex_lock(&t->mu);
    for (size_t b = 0; b < t->n_buckets; b++)
        for (pentry_t *e = t->buckets[b]; e; e = e->next)
            if (!tenant_id || strcmp(e->id, tenant_id) == 0) {
                /* 2: a refresh under way may have read the old value; it
                 * must not clear the mark. */
                e->stale = e->queued ? 2 : 1;
                e->retry_ms = 0;
            }
    pthread_mutex_unlock(&t->mu);
}
