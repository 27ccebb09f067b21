/*
 * tenant_client.h — the one client of tenant-manager's typed RPCs
 * (proto/tenant.proto): principal, tenant state, limits, allowed origins, API
 * key resolution and taxonomy, with the shared Redis cache in front of them.
 *
 * It owns the cache contract written at the top of tenant.proto: the key
 * names (sp_tenants_key builds them, for callers and for tenant-manager's
 * invalidation alike), the TTL (at most SP_TENANTS_TTL_MAX_S; refusals of an
 * API key at most SP_TENANTS_NEGATIVE_TTL_S), the fill on a miss, and the
 * back-off after tenant-manager failed to answer (for backoff_ms every call
 * that would need it fails at once with SP_EUNAVAILABLE instead of waiting
 * out one RPC deadline per request; after that one call probes while the
 * others keep failing at once, until tenant-manager answers again).
 *
 * Two ways to read:
 *   - synchronous (sp_tenants_principal, _state, _limits, _origins,
 *     _taxonomy, _resolve_api_key, _lookup): an optional in-process layer
 *     (sp_tenants_l1_t, e.g. the auth-gateway's copy kept exact by Redis
 *     client tracking), then Redis, then tenant-manager. For requests that
 *     must know the answer (is this principal still active?).
 *   - non-blocking (sp_tenants_peek): for hot paths that can run on a last
 *     known value or a default (a tenant's taxonomy in the analysis, its
 *     time zone in a dashboard). Answers from a bounded in-process table and
 *     never waits on Redis or tenant-manager; a value missing, older than
 *     refresh_ms or forgotten (a change event) is refreshed by one
 *     background thread.
 *
 * Thread-safe: one sp_tenants_t serves every thread of a service.
 */
#ifndef SP_TENANT_CLIENT_H
#define SP_TENANT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "platform/arena.h"
#include "platform/redis.h"
#include "platform/rpc.h"
#include "platform/service.h"
#include "tenant.pb-c.h"

#define SP_TENANTS_TTL_MAX_S      60  /* longest any caller may cache an answer */
#define SP_TENANTS_NEGATIVE_TTL_S 10  /* longest a refused API key is cached */
#define SP_TENANTS_KEY_MAX        160 /* bytes of any cache key, with its NUL */

typedef enum {
    SP_TENANTS_PRINCIPAL, /* sp:principal:<tenant_id>:<user_id>  Principal */
    SP_TENANTS_STATE,     /* sp:tenant:<tenant_id>               TenantState */
    SP_TENANTS_LIMITS,    /* sp:limits:<tenant_id>               Limits */
    SP_TENANTS_ORIGINS,   /* sp:origins                          AllowedOrigins */
    SP_TENANTS_APIKEY,    /* sp:apikey:<hex sha256(key)>         ResolveApiKeyReply */
    SP_TENANTS_TAXONOMY,  /* sp:taxonomy:<tenant_id>             Taxonomy */
    SP_TENANTS_KINDS
} sp_tenants_kind_t;

/* Writes the cache key of kind into out and returns out: id is the tenant id
 * (NULL = "" for a platform operator's principal), the hex SHA-256 of the key
 * for SP_TENANTS_APIKEY, ignored for SP_TENANTS_ORIGINS; user_id is used by
 * SP_TENANTS_PRINCIPAL only. NULL when the key would not fit. */
const char *sp_tenants_key(char out[SP_TENANTS_KEY_MAX], sp_tenants_kind_t kind, const char *id,
                           const char *user_id);

/* The key of a presented API key: "sp:apikey:" + hex SHA-256(key). */
const char *sp_tenants_api_key_key(char out[SP_TENANTS_KEY_MAX], const char *key);

/* The prefix of every key of kind ("sp:tenant:", "sp:origins"), for client
 * tracking and tests. */
const char *sp_tenants_key_prefix(sp_tenants_kind_t kind);

/* An in-process layer in front of Redis for the PRINCIPAL, STATE, LIMITS and
 * ORIGINS kinds (the auth-gateway's localcache.h has this shape). get
 * returns 1 on a hit (*present: whether Redis had the key; then *val / *len
 * are an arena copy), 0 on a miss, -1 when out of memory; put stores what
 * Redis answered (val NULL = absent) unless an invalidation came after
 * epoch, which is read before the Redis read. */
typedef struct {
    uint64_t (*epoch)(void *ud, sp_redis_pool_t *redis);
    int (*get)(void *ud, const char *key, sp_arena_t *arena, int *present, const char **val,
               size_t *len);
    void (*put)(void *ud, const char *key, const char *val, size_t len, uint64_t epoch);
    void *ud;
} sp_tenants_l1_t;

typedef struct {
    sp_rpc_client_t *tm;       /* tenant-manager; NULL = never ask (cache only) */
    sp_redis_pool_t *redis;    /* the shared cache; NULL = svc's pool, if any */
    sp_service_t *svc;         /* may be NULL; its Redis pool is looked up per call */
    int timeout_ms;            /* of one RPC; 0 = 2000 */
    int cache_ttl_s;           /* Redis TTL of what is filled; 0 = 30; at most 60 */
    int backoff_ms;            /* tenant-manager left alone after a failure; 0 = 2000 */
    const sp_tenants_l1_t *l1; /* copied; NULL = none */
    size_t peek_capacity;      /* entries of the non-blocking table; 0 = 4096 */
    int peek_refresh_ms;       /* a peeked value older than this is refreshed; 0 = 30000 */
} sp_tenants_opts_t;

typedef struct sp_tenants sp_tenants_t;

/* A client as opts says (copied; the clients and pools it names are
 * borrowed and must outlive it). NULL when out of memory. */
sp_tenants_t *sp_tenants_new(const sp_tenants_opts_t *opts);

/* Stops the background refresher (waiting for a refresh under way, at most
 * one RPC timeout) and frees. Accepts NULL; sets *self_p NULL. */
void sp_tenants_destroy(sp_tenants_t **self_p);

/* ---- synchronous reads (everything returned lives in arena) ------------- */
/* Each returns 0 with *out; SP_EUNAVAILABLE when the value is not cached and
 * tenant-manager cannot answer (failed now, backing off, or no client);
 * SP_ENOTFOUND for an unknown tenant (taxonomy only: the other methods
 * answer with a NOT_FOUND status inside the message); SP_ENOMEM. */

typedef Serphona__Tenant__V1__Principal sp_tenants_principal_t;
typedef Serphona__Tenant__V1__TenantState sp_tenants_state_t;
typedef Serphona__Tenant__V1__Limits sp_tenants_limits_t;
typedef Serphona__Tenant__V1__AllowedOrigins sp_tenants_origins_t;
typedef Serphona__Tenant__V1__ResolveApiKeyReply sp_tenants_api_key_t;
typedef Serphona__Tenant__V1__Taxonomy sp_tenants_taxonomy_t;

int sp_tenants_principal(sp_tenants_t *t, sp_arena_t *arena, const char *tenant_id,
                         const char *user_id, const sp_tenants_principal_t **out);
int sp_tenants_state(sp_tenants_t *t, sp_arena_t *arena, const char *tenant_id,
                     const sp_tenants_state_t **out);
int sp_tenants_limits(sp_tenants_t *t, sp_arena_t *arena, const char *tenant_id,
                      const sp_tenants_limits_t **out);
int sp_tenants_origins(sp_tenants_t *t, sp_arena_t *arena, const sp_tenants_origins_t **out);
int sp_tenants_taxonomy(sp_tenants_t *t, sp_arena_t *arena, const char *tenant_id,
                        const sp_tenants_taxonomy_t **out);

/* Resolves a presented API key. cache_s > 0 reads and fills sp:apikey:<hash>
 * (an OK answer for cache_s, a refusal for at most SP_TENANTS_NEGATIVE_TTL_S;
 * both at most 60 s); cache_s 0 asks tenant-manager every time (which also
 * stamps the key's last use). */
int sp_tenants_resolve_api_key(sp_tenants_t *t, sp_arena_t *arena, const char *key, int cache_s,
                               const sp_tenants_api_key_t **out);

/* The cached value of kind only (the in-process layer, then Redis), never
 * asking tenant-manager: 0 with *out (in arena), SP_ENOTFOUND when nothing
 * is cached, SP_EINVAL, SP_ENOMEM. */
int sp_tenants_cached(sp_tenants_t *t, sp_arena_t *arena, sp_tenants_kind_t kind, const char *id,
                      const char *user_id, const ProtobufCMessage **out);

/* What an authenticated request needs, in one Redis round trip (MGET of
 * every key the in-process layer lacks): */
typedef struct {
    const char *tenant_id;  /* "" or NULL for a platform operator */
    const char *user_id;    /* NULL: no principal wanted (API keys) */
    int want_state;         /* ignored without a tenant */
    int want_limits;        /* ignored without a tenant */
    const char *marker_key; /* any other key read along (a session's revocation
                             * marker); NULL = none */
} sp_tenants_query_t;

typedef struct {
    const sp_tenants_principal_t *principal; /* when user_id was given */
    const sp_tenants_state_t *state;         /* when wanted */
    const sp_tenants_limits_t *limits;       /* when wanted */
    int marker_present;                      /* marker_key exists in Redis */
    int marker_checked;                      /* 0: Redis could not be read */
} sp_tenants_answer_t;

/* Fills *out for q; misses are asked of tenant-manager and written back.
 * Returns 0, SP_EUNAVAILABLE when tenant-manager cannot answer a miss, or
 * SP_ENOMEM. */
int sp_tenants_lookup(sp_tenants_t *t, sp_arena_t *arena, const sp_tenants_query_t *q,
                      sp_tenants_answer_t *out);

/* ---- non-blocking reads -------------------------------------------------- */

/* The last known value of kind (SP_TENANTS_STATE, _LIMITS or _TAXONOMY) for
 * tenant_id, without waiting: 0 with *out (an arena copy; possibly stale by
 * up to peek_refresh_ms plus one refresh); SP_EUNAVAILABLE when nothing is
 * known yet (use the default: a refresh is queued, or tenant-manager is
 * backing off); SP_ENOTFOUND when tenant-manager does not know the tenant;
 * SP_EINVAL for another kind or an empty id; SP_ENOMEM. *version (may be
 * NULL) is set on 0 and changes only when the value does, so a caller can
 * keep something derived from it (a parsed taxonomy). */
int sp_tenants_peek(sp_tenants_t *t, sp_arena_t *arena, sp_tenants_kind_t kind,
                    const char *tenant_id, const ProtobufCMessage **out, uint64_t *version);

/* As sp_tenants_peek, but when nothing is known yet and tenant-manager has
 * been answering, waits up to wait_ms for the refresh queued for tenant_id,
 * so a tenant's first use normally sees its real value. It does not wait
 * while tenant-manager is failing or backed off, nor while another refresh
 * has been under way longer than wait_ms (tenant-manager hangs): an outage
 * costs at most one such wait per RPC deadline, not one per tenant. */
int sp_tenants_peek_wait(sp_tenants_t *t, sp_arena_t *arena, sp_tenants_kind_t kind,
                         const char *tenant_id, const ProtobufCMessage **out, uint64_t *version,
                         int wait_ms);

/* Marks tenant_id's peeked values stale (NULL: every tenant's), for a change
 * event: the next peek queues a refresh and answers the last known value
 * until it lands. */
void sp_tenants_forget(sp_tenants_t *t, const char *tenant_id);

/* Counters for tests and metrics: RPCs sent, RPCs skipped while backing off,
 * background refreshes done. */
typedef struct {
    uint64_t rpcs, skipped, refreshes;
} sp_tenants_stats_t;
void sp_tenants_stats(const sp_tenants_t *t, sp_tenants_stats_t *out);

#endif
