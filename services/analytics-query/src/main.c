/*
 * analytics-query — dashboard KPIs, time series, breakdowns, search and CSV
 * export over ClickHouse, served over ZeroMQ RPC (reached through the
 * auth-gateway), with a Redis cache of dashboard answers that new analyses
 * (Kafka serphona.analyses.v1) invalidate.
 */
#include "breakdowns.h"
#include "cache.h"
#include "context.h"
#include "export.h"
#include "interactions.h"
#include "overview.h"
#include "platform/service.h"
#include "timeseries.h"

static aq_ctx_t ctx;

int main(int argc, char **argv)
{
    sp_service_t *svc = sp_service_new("analytics-query", argc, argv);
    if (!svc)
        return 1;
    if (aq_ctx_init(&ctx, svc) != 0)
        return sp_service_fail(svc);
    aq_settings_read(&ctx, svc);
    ctx.tenants = sp_service_client(svc, "tenant-manager");
    sp_router_t *r = sp_service_router(svc);
    if (sp_service_use_clickhouse(svc) != 0 || sp_service_use_redis(svc) != 0 ||
        aq_cache_subscribe(&ctx, svc) != 0 || aq_overview_register(r, &ctx) != 0 ||
        aq_timeseries_register(r, &ctx) != 0 || aq_breakdowns_register(r, &ctx) != 0 ||
        aq_interactions_register(r, &ctx) != 0 || aq_export_register(r, &ctx) != 0 ||
        sp_service_serve_rpc(svc) != 0)
        return sp_service_fail(svc);
    int rc = sp_service_run(svc);
    aq_ctx_cleanup(&ctx);
    return rc;
}
