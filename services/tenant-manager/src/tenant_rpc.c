/*
 * tenant_rpc.c — the typed RPCs other services read tenants with
 * (tenant_rpc.h).
 */
#include "tenant_rpc.h"

#include "platform/error.h"
#include "platform/text.h"

#include <stdlib.h>
#include <string.h>

#include "tenant.pb-c.h"

/* Runs one read-only query outside any tenant (the tenants registry). */
static int registry_query(tm_t *tm, sp_arena_t *arena, const char *sql, int n, const char *const *p,
                          PGresult **res)
{
    sp_db_tx_t *tx = NULL;
    int rc = sp_db_tx_begin(tm_db(tm), NULL, &tx);
    if (rc != 0)
        return rc;
    rc = sp_db_tx_query_arena(tx, arena, sql, n, p, res);
    if (rc != 0) {
        sp_db_tx_rollback(&tx);
        return rc;
    }
    return sp_db_tx_commit(&tx);
}

/* Splits text on '\n' into an arena array; *n its length. */
static char **split_lines(sp_arena_t *arena, char *text, size_t *n)
{
    *n = 0;
    if (!text || !*text)
        return NULL;
    size_t count = 1;
    for (const char *c = text; *c; c++)
        count += *c == '\n';
    char **v = sp_arena_alloc(arena, count * sizeof(*v));
    if (!v)
        return NULL;
    for (char *save = NULL, *tok = strtok_r(text, "\n", &save); tok;
         tok = strtok_r(NULL, "\n", &save))
        v[(*n)++] = tok;
    return v;
}

int tm_rpc_get_tenant_state(sp_rpc_call_t *call, const uint8_t *in, size_t in_len,
                            sp_arena_t *arena, uint8_t **out, size_t *out_len, void *ud)
{
    (void)call;
    Serphona__Tenant__V1__GetTenantStateRequest *rq = (void *)sp_rpc_unpack(
        arena, &serphona__tenant__v1__get_tenant_state_request__descriptor, in, in_len);
    if (!rq)
        return SP_EPROTO;
    Serphona__Tenant__V1__TenantState st = SERPHONA__TENANT__V1__TENANT_STATE__INIT;
    st.status = SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_NOT_FOUND;
    st.tenant_id = rq->tenant_id;
    if (sp_uuid_valid(rq->tenant_id)) {
        PGresult *res = NULL;
        const char *p[] = {rq->tenant_id};
        int rc = registry_query(ud, arena,
                                "SELECT slug, status, array_to_string(allowed_origins, E'\\n'), "
                                "timezone, locale, retention_days FROM tenant.tenants "
                                "WHERE id = $1 AND status <> 'deleted'",
                                1, p, &res);
        if (rc != 0)
            return rc;
        if (PQntuples(res) == 1) {
            st.status = strcmp(PQgetvalue(res, 0, 1), "active") == 0
                            ? SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_ACTIVE
                            : SERPHONA__TENANT__V1__PRINCIPAL_STATUS__PRINCIPAL_TENANT_SUSPENDED;
            st.slug = PQgetvalue(res, 0, 0);
            st.allowed_origins = split_lines(arena, PQgetvalue(res, 0, 2), &st.n_allowed_origins);
            st.timezone = PQgetvalue(res, 0, 3);
            st.locale = PQgetvalue(res, 0, 4);
            st.retention_days = tm_int(PQgetvalue(res, 0, 5));
        }
    }
    return sp_rpc_pack(arena, &st.base, out, out_len);
}

int tm_rpc_get_limits(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                      uint8_t **out, size_t *out_len, void *ud)
{
    Serphona__Tenant__V1__GetLimitsRequest *rq = (void *)sp_rpc_unpack(
        arena, &serphona__tenant__v1__get_limits_request__descriptor, in, in_len);
    if (!rq)
        return SP_EPROTO;
    if (!sp_uuid_valid(rq->tenant_id)) {
        call->error_message = "no such tenant";
        return SP_ENOTFOUND;
    }
    PGresult *res = NULL;
    const char *p[] = {rq->tenant_id};
    int rc =
        registry_query(ud, arena,
                       "SELECT p.code, coalesce(t.seats, p.seats), coalesce(t.agents, p.agents), "
                       "coalesce(t.monthly_interactions, p.monthly_interactions), "
                       "coalesce(t.tenant_requests_per_minute, p.tenant_requests_per_minute), "
                       "coalesce(t.user_requests_per_minute, p.user_requests_per_minute) "
                       "FROM tenant.tenants t JOIN tenant.plans p ON p.code = t.plan_code "
                       "WHERE t.id = $1 AND t.status <> 'deleted'",
                       1, p, &res);
    if (rc != 0)
        return rc;
    if (PQntuples(res) != 1) {
        call->error_message = "no such tenant";
        return SP_ENOTFOUND;
    }
    Serphona__Tenant__V1__Limits lim = SERPHONA__TENANT__V1__LIMITS__INIT;
    lim.plan = PQgetvalue(res, 0, 0);
    lim.seats = tm_int(PQgetvalue(res, 0, 1));
    lim.agents = tm_int(PQgetvalue(res, 0, 2));
    lim.monthly_interactions = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
    lim.tenant_requests_per_minute = tm_int(PQgetvalue(res, 0, 4));
    lim.user_requests_per_minute = tm_int(PQgetvalue(res, 0, 5));
    return sp_rpc_pack(arena, &lim.base, out, out_len);
}

int tm_rpc_list_allowed_origins(sp_rpc_call_t *call, const uint8_t *in, size_t in_len,
                                sp_arena_t *arena, uint8_t **out, size_t *out_len, void *ud)
{
    (void)call;
    (void)in;
    (void)in_len;
    PGresult *res = NULL;
    int rc = registry_query(ud, arena,
                            "SELECT DISTINCT o FROM tenant.tenants, unnest(allowed_origins) o "
                            "WHERE status = 'active' ORDER BY o",
                            0, NULL, &res);
    if (rc != 0)
        return rc;
    Serphona__Tenant__V1__AllowedOrigins ao = SERPHONA__TENANT__V1__ALLOWED_ORIGINS__INIT;
    int n = PQntuples(res);
    if (n > 0) {
        ao.origins = sp_arena_alloc(arena, (size_t)n * sizeof(*ao.origins));
        if (!ao.origins)
            return SP_ENOMEM;
        for (int i = 0; i < n; i++)
            ao.origins[i] = PQgetvalue(res, i, 0);
        ao.n_origins = (size_t)n;
    }
    rc =
        registry_query(ud, arena,
                       "SELECT slug, array_to_string(allowed_origins, E'\\n') FROM tenant.tenants "
                       "WHERE status = 'active' AND cardinality(allowed_origins) > 0 ORDER BY slug",
                       0, NULL, &res);
    if (rc != 0)
        return rc;
    n = PQntuples(res);
    if (n > 0) {
        ao.tenants =
            sp_arena_alloc(arena, (size_t)n * sizeof(Serphona__Tenant__V1__TenantOrigins *));
        Serphona__Tenant__V1__TenantOrigins *each =
            sp_arena_alloc(arena, (size_t)n * sizeof(*each));
        if (!ao.tenants || !each)
            return SP_ENOMEM;
        for (int i = 0; i < n; i++) {
            serphona__tenant__v1__tenant_origins__init(&each[i]);
            each[i].slug = PQgetvalue(res, i, 0);
            each[i].origins = split_lines(arena, PQgetvalue(res, i, 1), &each[i].n_origins);
            ao.tenants[i] = &each[i];
        }
        ao.n_tenants = (size_t)n;
    }
    return sp_rpc_pack(arena, &ao.base, out, out_len);
}

int tm_tenant_rpc_register(tm_t *tm)
{
    int rc = sp_service_add_method(tm->svc, "tenant-manager.GetTenantState",
                                   tm_rpc_get_tenant_state, tm);
    if (rc == 0)
        rc = sp_service_add_method(tm->svc, "tenant-manager.GetLimits", tm_rpc_get_limits, tm);
    if (rc == 0)
        rc = sp_service_add_method(tm->svc, "tenant-manager.ListAllowedOrigins",
                                   tm_rpc_list_allowed_origins, tm);
    return rc;
}
