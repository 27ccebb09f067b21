/*
 * tenants.c — the tenant's time zone (tenants.h).
 */
#include "tenants.h"

#include <string.h>

#include "platform/error.h"
#include "platform/log.h"
#include "platform/tenant_client.h"

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

/* A copy of the zone of a TenantState, when usable. */
static const char *zone_of(sp_arena_t *arena, const ProtobufCMessage *m)
{
    const sp_tenants_state_t *st = (const sp_tenants_state_t *)m;
    return aq_tz_valid(st->timezone) ? sp_arena_strdup(arena, st->timezone) : NULL;
}

const char *aq_tenant_timezone(aq_ctx_t *ctx, sp_request_t *req, const char *tenant)
{
    const sp_auth_t *who = sp_request_auth(req);
    if (who && aq_tz_valid(who->timezone))
        return who->timezone;
    sp_arena_t *arena = sp_request_arena(req);
    sp_tenants_t *t = aq_ctx_tenant_client(ctx);
    const ProtobufCMessage *m = NULL;
    const char *tz = NULL;
    if (!t)
        return "UTC";
    if (sp_tenants_cached(t, arena, SP_TENANTS_STATE, tenant, NULL, &m) == SP_OK) {
        tz = zone_of(arena, m);
    } else {
        /* Not cached: expired, or deleted by a change. Answer with the last
         * known zone and have the refresher ask tenant-manager. */
        sp_tenants_forget(t, tenant);
        if (sp_tenants_peek(t, arena, SP_TENANTS_STATE, tenant, &m, NULL) == SP_OK)
            tz = zone_of(arena, m);
    }
    if (!tz)
        sp_log_debug("tenant's time zone not known here yet; using UTC");
    return tz ? tz : "UTC";
}
