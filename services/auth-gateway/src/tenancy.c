/*
 * tenancy.c — cached tenant-manager lookups (tenancy.h).
 */
#include "tenancy.h"
#include "sessions.h"

#include "platform/error.h"
#include "platform/log.h"
#include "platform/rpc.h"

#include <string.h>

static void free_message(void *msg)
{
    protobuf_c_message_free_unpacked(msg, NULL);
}

char *gw_principal_key(sp_arena_t *arena, const char *tenant_id, const char *user_id)
{
    return sp_arena_printf(arena, "sp:principal:%s:%s", tenant_id ? tenant_id : "", user_id);
}

/* One typed call to tenant-manager; the reply lives as long as arena. */
static int tm_call(const gw_t *gw, sp_arena_t *arena, const char *method,
                   const ProtobufCMessage *in, const ProtobufCMessageDescriptor *out_desc,
                   ProtobufCMessage **out)
{
    ProtobufCMessage *reply = NULL;
    int rc =
        sp_rpc_client_call_typed(gw->tm, method, NULL, in, out_desc, gw->rpc_timeout_ms, &reply);
    if (rc != 0) {
        sp_log_warn("tenant-manager %s failed: %s", method, sp_strerror(rc));
        return rc == SP_ENOMEM ? SP_ENOMEM : SP_EUNAVAILABLE;
    }
    if (sp_arena_defer(arena, free_message, reply) != 0) {
        protobuf_c_message_free_unpacked(reply, NULL);
        return SP_ENOMEM;
    }
    *out = reply;
    return SP_OK;
}

/* Writes msg under key for the cache TTL; a failure only costs a miss later. */
static void cache_put(const gw_t *gw, sp_arena_t *arena, const char *key,
                      const ProtobufCMessage *msg)
{
    sp_redis_pool_t *redis = gw_redis(gw);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!redis || sp_rpc_pack(arena, msg, &buf, &len) != 0)
        return;
    int rc = sp_redis_cache_set(redis, key, buf, len, gw->cache_ttl_s);
    if (rc != 0)
        sp_log_debug("cache write failed: %s", sp_strerror(rc));
}

enum { K_PRINCIPAL, K_TENANT, K_LIMITS, K_REVOKED, K_MAX };

int gw_lookup(const gw_t *gw, sp_arena_t *arena, const gw_lookup_req_t *q, gw_lookup_t *out)
{
    memset(out, 0, sizeof(*out));
    const char *tid = q->tenant_id ? q->tenant_id : "";
    const char *keys[K_MAX] = {0};
    if (q->user_id)
        keys[K_PRINCIPAL] = gw_principal_key(arena, tid, q->user_id);
    if (*tid && q->want_tenant)
        keys[K_TENANT] = sp_arena_printf(arena, "sp:tenant:%s", tid);
    if (*tid && q->want_limits)
        keys[K_LIMITS] = sp_arena_printf(arena, "sp:limits:%s", tid);
    if (q->sid)
        keys[K_REVOKED] = gw_session_revoked_key(arena, q->sid);

    if ((q->user_id && !keys[K_PRINCIPAL]) || (*tid && q->want_tenant && !keys[K_TENANT]) ||
        (*tid && q->want_limits && !keys[K_LIMITS]) || (q->sid && !keys[K_REVOKED]))
        return SP_ENOMEM;

    const char *val[K_MAX] = {0};
    size_t vlen[K_MAX] = {0};
    sp_redis_pool_t *redis = gw_redis(gw);
    gw_l1_t *l1 = gw->l1;
    uint64_t epoch = 0;
    if (l1 && redis) {
        gw_l1_start(l1, redis);
        epoch = gw_l1_epoch(l1);
    }

    /* In-process copies first; only what they lack goes to Redis, in one
     * MGET. */
    const char *argv[K_MAX + 1] = {"MGET"};
    int slot_of[K_MAX + 1];
    int argc = 1;
    for (int k = 0; k < K_MAX; k++) {
        if (!keys[k])
            continue;
        int present = 0;
        int hit = l1 ? gw_l1_get(l1, keys[k], arena, &present, &val[k], &vlen[k]) : 0;
        if (hit < 0)
            return SP_ENOMEM;
        if (hit)
            continue;
        slot_of[argc] = k;
        argv[argc++] = keys[k];
    }
    redisReply *reply = NULL;
    if (argc > 1 && redis) {
        int rc = sp_redis_command(redis, &reply, argc, argv, NULL);
        if (rc != 0 || reply->type != REDIS_REPLY_ARRAY || reply->elements != (size_t)(argc - 1)) {
            sp_log_warn("auth cache unavailable (%s); asking tenant-manager",
                        rc ? sp_strerror(rc) : "unexpected reply");
            if (q->sid)
                sp_log_warn("session revocation not checked: Redis is unavailable");
        } else {
            for (int i = 1; i < argc; i++) {
                const redisReply *e = reply->element[i - 1];
                int k = slot_of[i];
                if (e->type == REDIS_REPLY_STRING) {
                    char *copy = sp_arena_strndup(arena, e->str, e->len);
                    if (!copy) {
                        freeReplyObject(reply);
                        return SP_ENOMEM;
                    }
                    val[k] = copy;
                    vlen[k] = e->len;
                }
                if (l1)
                    gw_l1_put(l1, keys[k], val[k], vlen[k], epoch);
            }
        }
        if (reply)
            freeReplyObject(reply);
    }
    out->session_revoked = val[K_REVOKED] != NULL;

    if (keys[K_PRINCIPAL]) {
        if (val[K_PRINCIPAL])
            out->principal = (const gw_principal_t *)sp_rpc_unpack(
                arena, &serphona__tenant__v1__principal__descriptor,
                (const uint8_t *)val[K_PRINCIPAL], vlen[K_PRINCIPAL]);
        if (!out->principal) {
            Serphona__Tenant__V1__GetPrincipalRequest in =
                SERPHONA__TENANT__V1__GET_PRINCIPAL_REQUEST__INIT;
            in.tenant_id = (char *)tid;
            in.user_id = (char *)q->user_id;
            ProtobufCMessage *msg = NULL;
            int rc = tm_call(gw, arena, "tenant-manager.GetPrincipal", &in.base,
                             &serphona__tenant__v1__principal__descriptor, &msg);
            if (rc)
                return rc;
            out->principal = (const gw_principal_t *)msg;
            cache_put(gw, arena, keys[K_PRINCIPAL], msg);
        }
    }
    if (keys[K_TENANT]) {
        if (val[K_TENANT])
            out->tenant = (const gw_tenant_state_t *)sp_rpc_unpack(
                arena, &serphona__tenant__v1__tenant_state__descriptor,
                (const uint8_t *)val[K_TENANT], vlen[K_TENANT]);
        if (!out->tenant) {
            Serphona__Tenant__V1__GetTenantStateRequest in =
                SERPHONA__TENANT__V1__GET_TENANT_STATE_REQUEST__INIT;
            in.tenant_id = (char *)tid;
            ProtobufCMessage *msg = NULL;
            int rc = tm_call(gw, arena, "tenant-manager.GetTenantState", &in.base,
                             &serphona__tenant__v1__tenant_state__descriptor, &msg);
            if (rc)
                return rc;
            out->tenant = (const gw_tenant_state_t *)msg;
            cache_put(gw, arena, keys[K_TENANT], msg);
        }
    }
    if (keys[K_LIMITS]) {
        if (val[K_LIMITS])
            out->limits =
                (const gw_limits_t *)sp_rpc_unpack(arena, &serphona__tenant__v1__limits__descriptor,
                                                   (const uint8_t *)val[K_LIMITS], vlen[K_LIMITS]);
        if (!out->limits) {
            Serphona__Tenant__V1__GetLimitsRequest in =
                SERPHONA__TENANT__V1__GET_LIMITS_REQUEST__INIT;
            in.tenant_id = (char *)tid;
            ProtobufCMessage *msg = NULL;
            int rc = tm_call(gw, arena, "tenant-manager.GetLimits", &in.base,
                             &serphona__tenant__v1__limits__descriptor, &msg);
            if (rc)
                return rc;
            out->limits = (const gw_limits_t *)msg;
            cache_put(gw, arena, keys[K_LIMITS], msg);
        }
    }
    return SP_OK;
}

int gw_allowed_origins(const gw_t *gw, sp_arena_t *arena, char ***origins, size_t *n)
{
    static const char KEY[] = "sp:origins";
    const Serphona__Tenant__V1__AllowedOrigins *ao = NULL;
    sp_redis_pool_t *redis = gw_redis(gw);
    const char *cached = NULL;
    size_t clen = 0;
    int present = 0;
    uint64_t epoch = gw->l1 ? gw_l1_epoch(gw->l1) : 0;
    int hit = gw->l1 ? gw_l1_get(gw->l1, KEY, arena, &present, &cached, &clen) : 0;
    if (hit < 0)
        return SP_ENOMEM;
    char *val = NULL;
    size_t len = 0;
    if (hit && present) {
        ao = (const Serphona__Tenant__V1__AllowedOrigins *)sp_rpc_unpack(
            arena, &serphona__tenant__v1__allowed_origins__descriptor, (const uint8_t *)cached,
            clen);
    } else if (!hit && redis && sp_redis_cache_get(redis, KEY, &val, &len) == 0) {
        ao = (const Serphona__Tenant__V1__AllowedOrigins *)sp_rpc_unpack(
            arena, &serphona__tenant__v1__allowed_origins__descriptor, (const uint8_t *)val, len);
        if (ao && gw->l1)
            gw_l1_put(gw->l1, KEY, val, len, epoch);
        free(val);
    }
    if (!ao) {
        Serphona__Tenant__V1__ListAllowedOriginsRequest in =
            SERPHONA__TENANT__V1__LIST_ALLOWED_ORIGINS_REQUEST__INIT;
        ProtobufCMessage *msg = NULL;
        int rc = tm_call(gw, arena, "tenant-manager.ListAllowedOrigins", &in.base,
                         &serphona__tenant__v1__allowed_origins__descriptor, &msg);
        if (rc)
            return rc;
        ao = (const Serphona__Tenant__V1__AllowedOrigins *)msg;
        cache_put(gw, arena, KEY, msg);
    }
    *origins = ao->origins;
    *n = ao->n_origins;
    return SP_OK;
}
