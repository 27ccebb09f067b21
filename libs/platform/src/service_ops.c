/*
 * service_ops.c — the operations endpoints every service serves: liveness,
 * readiness, metrics and routes on the operations port, and its identity and
 * readiness at /v1/system/<name> on the public one (service.h).
 */
#include "service_internal.h"

#include <stdlib.h>

#include <cjson/cJSON.h>

#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/metrics.h"
#include "platform/permissions.h"

static sp_handler_result_t health_live(sp_request_t *req, void *ud)
{
    (void)ud;
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "status", "ok");
    sp_response_json(sp_request_response(req), 200, body);
    cJSON_Delete(body);
    return SP_HANDLER_DONE;
}

/* Runs every check; fills checks (may be NULL) with name -> "ok" or the
 * error. Returns 1 when all pass and the service is not draining. */
static int run_checks(sp_service_t *svc, cJSON *checks)
{
    int ready = !svc->draining;
    for (size_t i = 0; i < svc->n_checks; i++) {
        int rc = svc->checks[i].fn(svc->checks[i].ud);
        if (checks)
            cJSON_AddStringToObject(checks, svc->checks[i].name, rc == 0 ? "ok" : sp_strerror(rc));
        if (rc != 0)
            ready = 0;
    }
    return ready;
}

static sp_handler_result_t health_ready(sp_request_t *req, void *ud)
{
    sp_service_t *svc = ud;
    cJSON *body = cJSON_CreateObject();
    cJSON *checks = cJSON_CreateObject();
    int ready = run_checks(svc, checks);
    cJSON_AddStringToObject(body, "status",
                            svc->draining ? "shutting_down"
                            : ready       ? "ready"
                                          : "not_ready");
    cJSON_AddItemToObject(body, "checks", checks);
    sp_response_json(sp_request_response(req), ready ? 200 : 503, body);
    cJSON_Delete(body);
    return SP_HANDLER_DONE;
}

static sp_handler_result_t metrics_page(sp_request_t *req, void *ud)
{
    (void)ud;
    size_t len = 0;
    char *text = sp_metrics_render(&len);
    sp_response_t *resp = sp_request_response(req);
    if (!text) {
        sp_response_error(resp, 500, "internal", "out of memory");
        return SP_HANDLER_DONE;
    }
    sp_response_set_body(resp, text, len, "text/plain; version=0.0.4; charset=utf-8");
    free(text);
    return SP_HANDLER_DONE;
}

static void add_route_json(const char *method, const char *pattern, const char *permission,
                           void *ud)
{
    cJSON *route = cJSON_CreateObject();
    cJSON_AddStringToObject(route, "method", method);
    cJSON_AddStringToObject(route, "pattern", pattern);
    if (permission)
        cJSON_AddStringToObject(route, "permission", permission);
    else
        cJSON_AddNullToObject(route, "permission");
    cJSON_AddItemToArray(ud, route);
}

/* GET /routes on the operations port: the service's routing table, so tests
 * and tools can enumerate every route (and a new route is covered without
 * editing them). */
static sp_handler_result_t routes_page(sp_request_t *req, void *ud)
{
    sp_service_t *svc = ud;
    cJSON *body = cJSON_CreateObject();
    cJSON *routes = cJSON_AddArrayToObject(body, "routes");
    cJSON_AddStringToObject(body, "service", svc->info->name);
    sp_router_foreach(svc->router, add_route_json, routes);
    sp_response_json(sp_request_response(req), 200, body);
    cJSON_Delete(body);
    return SP_HANDLER_DONE;
}

/* Fills *ready and a copy of the checks' JSON from the cache, refreshing it
 * when older than a second. Returns the parsed checks (caller deletes). */
static cJSON *cached_checks(sp_service_t *svc, int *ready)
{
    int64_t now = sp_clock_mono_ms();
    pthread_mutex_lock(&svc->status_lock);
    int64_t age_ms = now - svc->status_at_ms;
    if (!svc->status_checks || age_ms >= 1000) {
        cJSON *checks = cJSON_CreateObject();
        svc->status_ready = run_checks(svc, checks);
        free(svc->status_checks);
        svc->status_checks = cJSON_PrintUnformatted(checks);
        cJSON_Delete(checks);
        svc->status_at_ms = now;
    }
    *ready = svc->status_ready;
    cJSON *copy = svc->status_checks ? cJSON_Parse(svc->status_checks) : NULL;
    pthread_mutex_unlock(&svc->status_lock);
    return copy ? copy : cJSON_CreateObject();
}

/* GET /v1/system/<name>: identity and readiness, reachable through the gateway. */
static sp_handler_result_t system_status(sp_request_t *req, void *ud)
{
    sp_service_t *svc = ud;
    cJSON *body = cJSON_CreateObject();
    int ready = 0;
    cJSON *checks = cached_checks(svc, &ready);
    ready = ready && !svc->draining;
    cJSON_AddStringToObject(body, "service", svc->info->name);
    cJSON_AddStringToObject(body, "version", SP_VERSION);
    cJSON_AddNumberToObject(body, "uptime_seconds", (double)(time(NULL) - svc->started_at));
    cJSON_AddBoolToObject(body, "ready", ready);
    cJSON_AddItemToObject(body, "checks", checks);
    cJSON_AddStringToObject(body, "request_id", sp_request_id(req));
    sp_response_json(sp_request_response(req), 200, body);
    cJSON_Delete(body);
    return SP_HANDLER_DONE;
}

int sp_svc_add_ops_routes(sp_service_t *svc)
{
    char *path = sp_arena_printf(svc->strings, "/v1/system/%s", svc->info->name);
    if (!path || sp_router_add(svc->router, "GET", path, NULL, system_status, svc) ||
        sp_router_add(svc->ops_router, "GET", "/health/live", NULL, health_live, svc) ||
        sp_router_add(svc->ops_router, "GET", "/health/ready", NULL, health_ready, svc) ||
        sp_router_add(svc->ops_router, "GET", "/metrics", NULL, metrics_page, svc) ||
        sp_router_add(svc->ops_router, "GET", "/routes", NULL, routes_page, svc))
        return SP_ENOMEM;
    return SP_OK;
}
