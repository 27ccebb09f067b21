/*
 * tenancy.c — the gateway's use of the platform tenant client (tenancy.h).
 */
#include "tenancy.h"
#include "sessions.h"

#include "platform/error.h"
#include "platform/log.h"

/* The in-process layer: localcache.h under the platform's hook shape. The
 * listener starts with the first lookup that has Redis to listen to. */
static uint64_t l1_epoch(void *ud, sp_redis_pool_t *redis)
{
    gw_l1_start(ud, redis);
    return gw_l1_epoch(ud);
}

static int l1_get(void *ud, const char *key, sp_arena_t *arena, int *present, const char **val,
                  size_t *len)
{
    return gw_l1_get(ud, key, arena, present, val, len);
}

static void l1_put(void *ud, const char *key, const char *val, size_t len, uint64_t epoch)
{
    gw_l1_put(ud, key, val, len, epoch);
}

sp_tenants_t *gw_tenancy_new(const gw_t *gw)
{
    sp_tenants_l1_t l1 = {.epoch = l1_epoch, .get = l1_get, .put = l1_put, .ud = gw->l1};
    sp_tenants_opts_t o = {.tm = gw->tm,
                           .redis = gw->redis,
                           .svc = gw->svc,
                           .timeout_ms = gw->rpc_timeout_ms,
                           .cache_ttl_s = gw->cache_ttl_s,
                           .backoff_ms = 1000,
                           .l1 = gw->l1 ? &l1 : NULL};
    return sp_tenants_new(&o);
}

int gw_lookup(const gw_t *gw, sp_arena_t *arena, const gw_lookup_req_t *q, gw_lookup_t *out)
{
    sp_tenants_query_t tq = {.tenant_id = q->tenant_id,
                             .user_id = q->user_id,
                             .want_state = q->want_tenant,
                             .want_limits = q->want_limits};
    if (q->sid && !(tq.marker_key = gw_session_revoked_key(arena, q->sid)))
        return SP_ENOMEM;
    sp_tenants_answer_t a;
    int rc = sp_tenants_lookup(gw->tenants, arena, &tq, &a);
    if (rc != SP_OK)
        return rc;
    if (q->sid && !a.marker_checked)
        sp_log_warn("session revocation not checked: Redis is unavailable");
    out->principal = a.principal;
    out->tenant = a.state;
    out->limits = a.limits;
    out->session_revoked = a.marker_present;
    return SP_OK;
}

int gw_allowed_origins(const gw_t *gw, sp_arena_t *arena, char ***origins, size_t *n)
{
    const sp_tenants_origins_t *ao = NULL;
    int rc = sp_tenants_origins(gw->tenants, arena, &ao);
    if (rc != SP_OK)
        return rc == SP_ENOMEM ? rc : SP_EUNAVAILABLE;
    *origins = ao->origins;
    *n = ao->n_origins;
    return SP_OK;
}
