/*
 * localcache.h — an in-process copy of the gateway's Redis cache keys, kept
 * exact by Redis itself.
 *
 * Every authenticated request needs the caller's principal, tenant, limits
 * and session marker (tenancy.h). Reading them from Redis each time costs a
 * round trip per request; this cache keeps them in memory instead, and stays
 * correct because Redis tells it about every change: a dedicated connection
 * turns on server-assisted client-side caching in broadcast mode
 * (CLIENT TRACKING ... BCAST PREFIX sp:principal: ...) and subscribes to
 * __redis__:invalidate, so any write to a key under those prefixes — a DEL by
 * tenant-manager when a user is disabled, the marker SET when a session is
 * revoked, from any gateway replica — drops the local copy within the time
 * Redis takes to push one message.
 *
 * When the listener is not connected (Redis down, not yet started), the cache
 * holds nothing and answers every lookup with a miss, so nothing stale can be
 * served while changes could go unheard. Entries also expire after ttl_ms as
 * a backstop. A fetch that raced with an invalidation is not stored (an epoch
 * taken before the fetch must still be current when storing).
 */
#ifndef GW_LOCALCACHE_H
#define GW_LOCALCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "platform/arena.h"
#include "platform/redis.h"

typedef struct gw_l1 gw_l1_t;

/* A cache of at most about capacity entries, each kept at most ttl_ms,
 * tracking keys under the NULL-terminated prefixes (copied). NULL when out of
 * memory. */
gw_l1_t *gw_l1_new(size_t capacity, int ttl_ms, const char *const *prefixes);

/* Stops the listener and frees everything. Accepts NULL; sets *self_p NULL. */
void gw_l1_destroy(gw_l1_t **self_p);

/* Starts the listener thread on its own connection to pool's server, once;
 * later calls do nothing. Returns 0 or SP_ENOMEM / SP_EIO. */
int gw_l1_start(gw_l1_t *l1, sp_redis_pool_t *pool);

/* Stops the listener (idempotent); the cache then serves nothing. */
void gw_l1_stop(gw_l1_t *l1);

/* The invalidation epoch, to take before fetching what will be stored. */
uint64_t gw_l1_epoch(const gw_l1_t *l1);

/* 1 when key is cached: *present says whether Redis had it, and when it did,
 * *val / *len are a copy in arena. 0 on a miss (or when the listener is not
 * connected). -1 when arena runs out of memory. */
int gw_l1_get(gw_l1_t *l1, const char *key, sp_arena_t *arena, int *present, const char **val,
              size_t *len);

/* Stores what Redis answered for key (val NULL = absent), unless an
 * invalidation arrived since epoch was taken or the listener is not
 * connected. */
void gw_l1_put(gw_l1_t *l1, const char *key, const char *val, size_t len, uint64_t epoch);

/* 1 while the listener is connected and tracking (for tests and metrics). */
int gw_l1_active(const gw_l1_t *l1);

#endif
