/*
 * test_forward.c — forward.c end to end: a request forwarded over a real RPC
 * client to a real RPC server running a router, and every failure mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "platform/error.h"
#include "platform/forward.h"
#include "platform/log.h"
#include "platform/router.h"
#include "platform/rpc.h"
#include "platform/topology.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
} waiter_t;

static void on_complete(sp_request_t *req, void *ud)
{
    (void)req;
    waiter_t *w = ud;
    pthread_mutex_lock(&w->lock);
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Echoes what the back service saw: method, path param, query, a header,
 * whether hop-by-hop headers arrived, body and tenant. */
static sp_handler_result_t echo(sp_request_t *req, void *ud)
{
    (void)ud;
    size_t len = 0;
    const char *body = sp_request_body(req, &len);
    const sp_auth_t *auth = sp_request_auth(req);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "method", sp_request_method(req));
    cJSON_AddStringToObject(out, "id", sp_request_param(req, "id"));
    cJSON_AddStringToObject(out, "q", sp_request_query(req, "q") ? sp_request_query(req, "q") : "");
    cJSON_AddStringToObject(out, "x_custom", sp_request_header(req, "X-Custom"));
    cJSON_AddBoolToObject(out, "saw_connection", sp_request_header(req, "Connection") != NULL);
    cJSON_AddStringToObject(out, "body", len ? body : "");
    cJSON_AddStringToObject(out, "tenant", auth && auth->tenant_id ? auth->tenant_id : "");
    cJSON_AddStringToObject(out, "request_id", sp_request_id(req));
    sp_response_t *resp = sp_request_response(req);
    sp_response_json(resp, 201, out);
    sp_response_set_header(resp, "X-Back", "yes");
    sp_response_set_header(resp, "Connection", "close"); /* hop-by-hop: must not come back */
    cJSON_Delete(out);
    return SP_HANDLER_DONE;
}

static sp_handler_result_t slow(sp_request_t *req, void *ud)
{
    (void)ud;
    struct timespec ts = {0, 400 * 1000000L};
    nanosleep(&ts, NULL);
    sp_response_set_status(sp_request_response(req), 204);
    return SP_HANDLER_DONE;
}

typedef struct {
    sp_router_t *router;
    sp_rpc_server_t *server;
    sp_rpc_client_t *client;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    f->router = sp_router_new();
    sp_router_add(f->router, "*", "/v1/things/{id}", NULL, echo, NULL);
    sp_router_add(f->router, "GET", "/v1/slow", NULL, slow, NULL);
    f->server = sp_rpc_server_new("fwdtest", "tcp://127.0.0.1:*", f->router, 2);
    assert_non_null(f->server);
    assert_int_equal(sp_rpc_server_start(f->server), 0);
    f->client = sp_rpc_client_new(sp_rpc_server_endpoint(f->server));
    assert_non_null(f->client);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    sp_rpc_client_destroy(&f->client);
    sp_rpc_server_destroy(&f->server);
    sp_router_destroy(&f->router);
    free(f);
    return 0;
}

/* Forwards req and waits for its completion. */
static void forward_and_wait(sp_rpc_client_t *client, sp_request_t *req, const sp_auth_t *auth,
                             int timeout_ms)
{
    waiter_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    sp_request_on_complete(req, on_complete, &w);
    assert_int_equal(sp_forward(client, req, auth, timeout_ms), SP_HANDLER_ASYNC);
    pthread_mutex_lock(&w.lock);
    while (!w.done)
        pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
}

static const char *error_code(sp_request_t *req, char *buf, size_t cap)
{
    cJSON *root = cJSON_Parse(sp_response_body(sp_request_response(req), NULL));
    const char *code =
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "error"), "code"));
    snprintf(buf, cap, "%s", code ? code : "");
    cJSON_Delete(root);
    return buf;
}

static void test_round_trip(void **state)
{
    fixture_t *f = *state;
    sp_request_t *req = sp_request_new();
    sp_request_set_method(req, "PUT");
    sp_request_set_path(req, "/v1/things/42");
    sp_request_set_query(req, "q=a%20b");
    sp_request_set_id(req, "req-123");
    sp_request_add_header(req, "X-Custom", "v1");
    sp_request_add_header(req, "Connection", "keep-alive");
    sp_request_set_body(req, "{\"k\":1}", 7);
    const char *roles[] = {"admin"};
    sp_auth_t auth = {.tenant_id = "t-1", .subject = "u-1", .roles = roles, .n_roles = 1};
    forward_and_wait(f->client, req, &auth, 3000);

    sp_response_t *resp = sp_request_response(req);
    assert_int_equal(sp_response_status(resp), 201);
    assert_string_equal(sp_response_header(resp, "X-Back"), "yes");
    assert_null(sp_response_header(resp, "Connection"));
    cJSON *out = cJSON_Parse(sp_response_body(resp, NULL));
    assert_non_null(out);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(out, "method")), "PUT");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(out, "id")), "42");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(out, "q")), "a b");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(out, "x_custom")), "v1");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(out, "saw_connection")));
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(out, "body")), "{\"k\":1}");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(out, "tenant")), "t-1");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(out, "request_id")), "req-123");
    cJSON_Delete(out);
    sp_request_destroy(&req);
}

static void test_back_service_errors_pass_through(void **state)
{
    fixture_t *f = *state;
    char buf[64];
    sp_request_t *req = sp_request_new();
    sp_request_set_path(req, "/v1/nothing");
    forward_and_wait(f->client, req, NULL, 3000);
    assert_int_equal(sp_response_status(sp_request_response(req)), 404);
    assert_string_equal(error_code(req, buf, sizeof buf), "route_not_found");
    sp_request_destroy(&req);
}

static void test_timeout_is_504(void **state)
{
    fixture_t *f = *state;
    char buf[64];
    sp_request_t *req = sp_request_new();
    sp_request_set_path(req, "/v1/slow");
    forward_and_wait(f->client, req, NULL, 100);
    assert_int_equal(sp_response_status(sp_request_response(req)), 504);
    assert_string_equal(error_code(req, buf, sizeof buf), "upstream_timeout");
    sp_request_destroy(&req);
    /* Let the slow handler finish so teardown does not wait on it. */
    struct timespec ts = {0, 500 * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_stopped_service_is_503(void **state)
{
    fixture_t *f = *state;
    char buf[64];
    sp_rpc_server_stop(f->server); /* drains: new calls get UNAVAILABLE */
    sp_request_t *req = sp_request_new();
    sp_request_set_path(req, "/v1/things/1");
    forward_and_wait(f->client, req, NULL, 1000);
    int status = sp_response_status(sp_request_response(req));
    /* A stopped server no longer reads its socket, so the call may also just
     * time out; both are the gateway's to report, never a hang. */
    assert_true(status == 503 || status == 504);
    assert_true(strcmp(error_code(req, buf, sizeof buf), "upstream_unavailable") == 0 ||
                strcmp(buf, "upstream_timeout") == 0);
    sp_request_destroy(&req);
}

static void test_topology(void **state)
{
    (void)state;
    const sp_service_info_t *gw = sp_topology_find("auth-gateway");
    assert_non_null(gw);
    assert_int_equal(gw->http_port, 8080);
    assert_int_equal(gw->rpc_port, 0);
    assert_int_equal(sp_topology_find("billing")->rpc_port, 7103);
    assert_null(sp_topology_find("nope"));
    int n = 0;
    while (sp_topology_at(n))
        n++;
    assert_int_equal(n, 7);
    assert_null(sp_topology_at(-1));
}

int main(void)
{
    sp_log_init("test_forward", SP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_back_service_errors_pass_through, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_is_504, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stopped_service_is_503, setup, teardown),
        cmocka_unit_test(test_topology),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
