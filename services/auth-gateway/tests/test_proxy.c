/*
 * test_proxy.c — the gateway's routing of public paths (proxy.c), with no
 * server: the allow-list of routes forwarded without credentials
 * (gw_proxy_is_public), and the owned path prefixes, by dispatching on the
 * gateway's router with each back service played by an in-process RPC
 * server on a loopback port that answers which service it is, which path
 * it got and whether an identity came with it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/proxy.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/rpc.h"
#include "gw_test.h"
#include "sptest.h"

/* ---- the allow-list ------------------------------------------------------------ */

typedef struct {
    const char *method, *path;
    int is_public;
} public_case_t;

static void check_public(const public_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (gw_proxy_is_public(cases[i].method, cases[i].path) != cases[i].is_public)
            fail_msg("%s %s: expected %s", cases[i].method, cases[i].path,
                     cases[i].is_public ? "public" : "not public");
}

static void test_public_routes_exact_and_method_bound(void **state)
{
    (void)state;
    static const public_case_t cases[] = {
        {"POST", "/v1/users/invites/accept", 1},
        /* Only POST; methods are case-sensitive (RFC 9110). */
        {"GET", "/v1/users/invites/accept", 0},
        {"PUT", "/v1/users/invites/accept", 0},
        {"post", "/v1/users/invites/accept", 0},
        /* An exact pattern: no trailing slash, suffix, prefix or case variant. */
        {"POST", "/v1/users/invites/accept/", 0},
        {"POST", "/v1/users/invites/acceptX", 0},
        {"POST", "/v1/users/invites/accept/x", 0},
        {"POST", "/v1/users/invites/accep", 0},
        {"POST", "/v1/users/invites", 0},
        {"POST", "/V1/users/invites/accept", 0},
        {"POST", "/v1/Users/invites/accept", 0},
        {"POST", "v1/users/invites/accept", 0},
        {"POST", "//v1/users/invites/accept", 0},
        /* Everything else of tenant-manager needs a caller. */
        {"POST", "/v1/users", 0},
        {"GET", "/v1/users/me", 0},
        {"POST", "/v1/tenants", 0},
        {"GET", "/v1/api-keys", 0},
        {"GET", "", 0},
        {"GET", "/", 0},
    };
    check_public(cases, sizeof cases / sizeof *cases);
}

static void test_public_system_prefix(void **state)
{
    (void)state;
    static const public_case_t cases[] = {
        /* The system prefix: any method, one or more segments after it. */
        {"GET", "/v1/system/tenant-manager", 1},
        {"DELETE", "/v1/system/analytics-query", 1},
        {"OPTIONS", "/v1/system/billing", 1},
        {"GET", "/v1/system/a/b", 1},
        /* The bare prefix, with or without its slash, is not under it. */
        {"GET", "/v1/system", 0},
        {"GET", "/v1/system/", 0},
        /* Prefix confusion: a longer first segment is another path. */
        {"GET", "/v1/systemX/tenant-manager", 0},
        {"GET", "/v1/systems/tenant-manager", 0},
        {"GET", "/v1/systemtenant-manager", 0},
        {"GET", "/V1/SYSTEM/tenant-manager", 0},
        {"GET", "/v2/system/tenant-manager", 0},
    };
    check_public(cases, sizeof cases / sizeof *cases);
}

/* ---- prefix routing ------------------------------------------------------------- */

/* The back services of proxy.c's table, and their SERPHONA_<X>_RPC names. */
static const struct {
    const char *name, *env;
} BACKS[] = {
    {"tenant-manager", "SERPHONA_TENANT_MANAGER_RPC"},
    {"billing", "SERPHONA_BILLING_RPC"},
    {"agent-orchestrator", "SERPHONA_AGENT_ORCHESTRATOR_RPC"},
    {"tools-gateway", "SERPHONA_TOOLS_GATEWAY_RPC"},
    {"analytics-processor", "SERPHONA_ANALYTICS_PROCESSOR_RPC"},
    {"analytics-query", "SERPHONA_ANALYTICS_QUERY_RPC"},
};
#define N_BACKS (sizeof BACKS / sizeof *BACKS)

static sp_router_t *back_router[N_BACKS];
static sp_rpc_server_t *back_server[N_BACKS];
static sp_service_t *SVC;
static gw_t GW;

/* Every back service answers 200 {"service", "path", "tenant", "subject"}:
 * who got the request, and with which identity (null = none). */
static sp_handler_result_t echo(sp_request_t *req, void *ud)
{
    cJSON *j = cJSON_CreateObject();
    const sp_auth_t *auth = sp_request_auth(req);
    cJSON_AddStringToObject(j, "service", ud);
    cJSON_AddStringToObject(j, "path", sp_request_path(req));
    cJSON_AddStringToObject(j, "method", sp_request_method(req));
    if (auth && auth->subject)
        cJSON_AddStringToObject(j, "subject", auth->subject);
    else
        cJSON_AddNullToObject(j, "subject");
    sp_response_json(sp_request_response(req), 200, j);
    cJSON_Delete(j);
    return SP_HANDLER_DONE;
}

static int setup(void **state)
{
    (void)state;
    sp_log_init("test_proxy", SP_LOG_ERROR);
    for (size_t i = 0; i < N_BACKS; i++) {
        back_router[i] = sp_router_new();
        if (!back_router[i] ||
            sp_router_add(back_router[i], "*", "/*", NULL, echo, (void *)BACKS[i].name) != 0)
            return -1;
        back_server[i] = sp_rpc_server_new(BACKS[i].name, "tcp://127.0.0.1:*", back_router[i], 1);
        if (!back_server[i] || sp_rpc_server_start(back_server[i]) != 0)
            return -1;
        setenv(BACKS[i].env, sp_rpc_server_endpoint(back_server[i]), 1);
    }
    setenv("SERPHONA_UPSTREAM_TIMEOUT_MS", "5000", 1);
    if (gw_test_init("test_proxy", &SVC, &GW) != 0)
        return -1;
    return gw_proxy_register(&GW) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sp_service_destroy(&SVC);
    for (size_t i = 0; i < N_BACKS; i++) {
        sp_rpc_server_destroy(&back_server[i]);
        sp_router_destroy(&back_router[i]);
    }
    return 0;
}

/* method path, unauthenticated, on the gateway's router. */
static sptest_resp_t gw_call(const char *method, const char *path)
{
    return sptest_call(sp_service_router(SVC), NULL, method, path, NULL, NULL);
}

/* Fails unless method path reaches service, forwarded as is, anonymously. */
static void reaches(const char *method, const char *path, const char *service)
{
    sptest_resp_t r = gw_call(method, path);
    if (r.status != 200)
        fail_msg("%s %s: expected %s, got %d %s", method, path, service, r.status, r.text);
    sptest_assert_json_str(r.json, "service", service);
    sptest_assert_json_str(r.json, "path", path);
    sptest_assert_json_str(r.json, "method", method);
    sptest_assert_json_null(r.json, "subject");
    sptest_resp_free(&r);
}

static void refused(const char *method, const char *path, int status, const char *code)
{
    sptest_resp_t r = gw_call(method, path);
    if (r.status != status || strcmp(sptest_err_code(&r), code) != 0)
        fail_msg("%s %s: expected %d %s, got %d %s", method, path, status, code, r.status, r.text);
    sptest_resp_free(&r);
}

static void test_public_routes_reach_their_owner_without_identity(void **state)
{
    (void)state;
    reaches("POST", "/v1/users/invites/accept", "tenant-manager");
    reaches("GET", "/v1/system/tenant-manager", "tenant-manager");
    reaches("GET", "/v1/system/billing", "billing");
    reaches("GET", "/v1/system/agent-orchestrator", "agent-orchestrator");
    reaches("GET", "/v1/system/tools-gateway", "tools-gateway");
    reaches("GET", "/v1/system/analytics-processor", "analytics-processor");
    reaches("GET", "/v1/system/analytics-query", "analytics-query");
}

static void test_owned_prefixes_need_a_caller(void **state)
{
    (void)state;
    /* Owned, not public: refused here, never forwarded. */
    static const char *const owned[] = {
        "/v1/tenants/x",      "/v1/users/me",          "/v1/api-keys/k",
        "/v1/audit-log/e",    "/v1/billing/plans",     "/v1/agents/a",
        "/v1/conversations",  "/v1/knowledge-bases/k", "/v1/tools/t",
        "/v1/ingest/uploads", "/v1/webhooks/w",        "/v1/analytics/overview",
        "/v1/tenants",        "/v1/analytics",         "/v1/users/invites/accept/",
    };
    for (size_t i = 0; i < sizeof owned / sizeof *owned; i++)
        refused("GET", owned[i], 401, "unauthenticated");
    /* The public route with another method needs a caller too. */
    refused("GET", "/v1/users/invites/accept", 401, "unauthenticated");
    refused("DELETE", "/v1/users/invites/accept", 401, "unauthenticated");
}

static void test_unowned_paths_are_not_found(void **state)
{
    (void)state;
    /* Prefix confusion: a longer segment is not the owned one. */
    static const char *const unowned[] = {
        "/v1/usersX",
        "/v1/usersX/me",
        "/v1/tenantsfoo",
        "/v1/analyticsX/overview",
        "/v1/system/tenant-managerX",
        "/v1/system/unknown",
        "/v1/system",
        "/V1/users/me",
        "/v1/Users/me",
        "/v2/users/me",
        "/users/me",
        "/",
    };
    for (size_t i = 0; i < sizeof unowned / sizeof *unowned; i++)
        refused("GET", unowned[i], 404, "route_not_found");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public_routes_exact_and_method_bound),
        cmocka_unit_test(test_public_system_prefix),
        cmocka_unit_test(test_public_routes_reach_their_owner_without_identity),
        cmocka_unit_test(test_owned_prefixes_need_a_caller),
        cmocka_unit_test(test_unowned_paths_are_not_found),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
