/*
 * tenants.c — the tenant's timezone via the shared cache and tenant-manager.
 */
#include "tenants.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "platform/error.h"
#include "platform/log.h"
#include "platform/redis.h"
#include "platform/rpc.h"
#include "tenant.pb-c.h"

#define STATE_TTL_S 60   /* the longest proto/tenant.proto lets callers cache */
#define BACKOFF_MS  5000 /* how long an unanswered tenant-manager is left alone */

static _Atomic int64_t skip_until_ms;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int aq_tz_valid(const char *tz)
{
    if (!tz)
        return 0;
    size_t n = strlen(tz);
    if (n == 0 || n > 64 || !((tz[0] >= 'A' && tz[0] <= 'Z') || (tz[0] >= 'a' && tz[0] <= 'z')))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = tz[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '+' || c == '/'))
            return 0;
    }
    return 1;
}

static const char *usable(sp_arena_t *arena, const char *tz)
{
    return aq_tz_valid(tz) ? sp_arena_strdup(arena, tz) : NULL;
}

/* The zone from the shared cache, or NULL. */
static const char *from_cache(sp_redis_pool_t *redis, sp_arena_t *arena, const char *key)
{
    char *val = NULL;
    size_t len = 0;
    if (!redis || sp_redis_cache_get(redis, key, &val, &len) != 0)
        return NULL;
    Serphona__Tenant__V1__TenantState *st = (Serphona__Tenant__V1__TenantState *)sp_rpc_unpack(
        arena, &serphona__tenant__v1__tenant_state__descriptor, (const uint8_t *)val, len);
    free(val);
    return st ? usable(arena, st->timezone) : NULL;
}

const char *aq_tenant_timezone(aq_ctx_t *ctx, sp_request_t *req, const char *tenant)
{
    sp_arena_t *arena = sp_request_arena(req);
    sp_redis_pool_t *redis = aq_ctx_redis(ctx);
    char *key = sp_arena_printf(arena, "sp:tenant:%s", tenant);
    const char *tz = key ? from_cache(redis, arena, key) : NULL;
    if (tz)
        return tz;
    if (!ctx->tenants || now_ms() < atomic_load(&skip_until_ms))
        return "UTC";

    Serphona__Tenant__V1__GetTenantStateRequest in =
        SERPHONA__TENANT__V1__GET_TENANT_STATE_REQUEST__INIT;
    in.tenant_id = (char *)tenant;
    ProtobufCMessage *out = NULL;
    int rc = sp_rpc_client_call_typed(ctx->tenants, "tenant-manager.GetTenantState", NULL, &in.base,
                                      &serphona__tenant__v1__tenant_state__descriptor,
                                      ctx->set.tenant_timeout_ms, &out);
    if (rc != 0) {
        sp_log_debug("tenant-manager.GetTenantState failed (%s); using UTC", sp_strerror(rc));
        atomic_store(&skip_until_ms, now_ms() + BACKOFF_MS);
        return "UTC";
    }
    Serphona__Tenant__V1__TenantState *st = (Serphona__Tenant__V1__TenantState *)out;
    tz = usable(arena, st->timezone);
    if (redis && key) {
        uint8_t *packed;
        size_t plen;
        if (sp_rpc_pack(arena, out, &packed, &plen) == 0)
            (void)sp_redis_cache_set(redis, key, packed, plen, STATE_TTL_S);
    }
    protobuf_c_message_free_unpacked(out, NULL);
    if (!tz) {
        sp_log_debug("tenant has no usable timezone; using UTC");
        return "UTC";
    }
    return tz;
}
