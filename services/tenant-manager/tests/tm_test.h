/*
 * tm_test.h — shared harness of tenant-manager's service tests.
 *
 * Each test binary migrates the real "tenant" schema into the private
 * PostgreSQL of the unit stack (SERPHONA_TEST_PG_OWNER_URL), connects as the
 * app role (SERPHONA_TEST_PG_URL, subject to row-level security) and to
 * Redis (SERPHONA_TEST_REDIS_PORT), and drives the service's own router (with
 * the platform's authorizer, as the runtime installs it) and typed RPC
 * functions in-process. Slugs and emails carry a per-run suffix, so runs and
 * binaries never collide.
 *
 * Static functions only: each test binary includes this once.
 */
#ifndef TM_TEST_H
#define TM_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "platform/crypto.h"
#include "platform/db.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/permissions.h"
#include "platform/redis.h"
#include "platform/router.h"
#include "platform/rpc.h"

#include "../src/api_keys.h"
#include "../src/audit.h"
#include "../src/auth.h"
#include "../src/tenants.h"
#include "../src/tm.h"
#include "../src/users.h"
#include "tenant.pb-c.h"

#define MIGRATIONS "services/tenant-manager/migrations"

static tm_t T;
static sp_router_t *R;
static char RUN[16];
static const char *OWNER_URL;

/* A response as a test sees it; free with resp_free. */
typedef struct {
    int status;
    cJSON *json;
    char *text;
} resp_t;

static __attribute__((unused)) void resp_free(resp_t *r)
{
    cJSON_Delete(r->json);
    free(r->text);
    memset(r, 0, sizeof(*r));
}

/* A caller: tenant (NULL = platform), subject, one role (NULL = none),
 * scopes (NULL-terminated, may be NULL). */
typedef struct {
    const char *tenant_id;
    const char *subject;
    const char *role;
    const char *const *scopes;
} caller_t;

static __attribute__((unused)) resp_t call(const caller_t *who, const char *method,
                                           const char *path, const char *body)
{
    sp_request_t *req = sp_request_new();
    assert_non_null(req);
    const char *q = strchr(path, '?');
    char pathbuf[512];
    snprintf(pathbuf, sizeof(pathbuf), "%.*s", q ? (int)(q - path) : (int)strlen(path), path);
    assert_int_equal(sp_request_set_method(req, method), 0);
    assert_int_equal(sp_request_set_path(req, pathbuf), 0);
    if (q)
        assert_int_equal(sp_request_set_query(req, q + 1), 0);
    assert_int_equal(sp_request_set_remote_addr(req, "198.51.100.7"), 0);
    assert_int_equal(sp_request_set_id(req, "0123456789abcdef0123456789abcdef"), 0);
    if (body)
        assert_int_equal(sp_request_set_body(req, body, strlen(body)), 0);
    if (who) {
        const char *roles[1] = {who->role};
        size_t n_scopes = 0;
        while (who->scopes && who->scopes[n_scopes])
            n_scopes++;
        sp_auth_t auth = {.tenant_id = who->tenant_id,
                          .subject = who->subject,
                          .roles = roles,
                          .n_roles = who->role ? 1 : 0,
                          .scopes = (const char **)who->scopes,
                          .n_scopes = n_scopes};
        assert_int_equal(sp_request_set_auth(req, &auth), 0);
    }
    assert_int_equal(sp_router_dispatch(R, req), SP_HANDLER_DONE);
    sp_response_t *resp = sp_request_response(req);
    resp_t out = {0};
    out.status = sp_response_status(resp);
    size_t len = 0;
    const char *text = sp_response_body(resp, &len);
    out.text = strndup(text ? text : "", len);
    out.json = len ? cJSON_ParseWithLength(text, len) : NULL;
    sp_request_destroy(&req);
    return out;
}

/* A string member by dotted path ("tenant.id"), or NULL. */
static __attribute__((unused)) const char *jstr(const cJSON *j, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    const cJSON *cur = j;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && cur;
         tok = strtok_r(NULL, ".", &save))
        cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
    return cur && cJSON_IsString(cur) ? cur->valuestring : NULL;
}

static __attribute__((unused)) double jnum(const cJSON *j, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    const cJSON *cur = j;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && cur;
         tok = strtok_r(NULL, ".", &save))
        cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
    if (!cur || !cJSON_IsNumber(cur)) {
        fail_msg("%s is not a number", path);
        abort();
    }
    return cur->valuedouble;
}

/* The error code of an error reply, or "" when none. */
static __attribute__((unused)) const char *err_code(const resp_t *r)
{
    const char *c = jstr(r->json, "error.code");
    return c ? c : "";
}

#define EXPECT(r, st, code)                                                                        \
    do {                                                                                           \
        if ((r).status != (st) || strcmp(err_code(&(r)), (code)) != 0)                             \
            fail_msg("expected %d %s, got %d %s", (st), (code), (r).status, (r).text);             \
    } while (0)

#define EXPECT_OK(r, st)                                                                           \
    do {                                                                                           \
        if ((r).status != (st))                                                                    \
            fail_msg("expected %d, got %d %s", (st), (r).status, (r).text);                        \
    } while (0)

/* Runs sql as the schema owner (setup/inspection only; RLS is forced, so
 * the owner sees no tenant rows either unless it sets app.tenant_id). */
static __attribute__((unused)) char *owner_value(const char *sql)
{
    PGconn *c = PQconnectdb(OWNER_URL);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("owner sql %s: %s", sql, PQresultErrorMessage(r));
    char *v = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)
                  ? strdup(PQgetvalue(r, 0, 0))
                  : NULL;
    PQclear(r);
    PQfinish(c);
    return v;
}

static __attribute__((unused)) void owner_exec(const char *sql)
{
    free(owner_value(sql));
}

static __attribute__((unused)) int harness_setup(void **state)
{
    (void)state;
    const char *app = getenv("SERPHONA_TEST_PG_URL");
    OWNER_URL = getenv("SERPHONA_TEST_PG_OWNER_URL");
    const char *redis_port = getenv("SERPHONA_TEST_REDIS_PORT");
    if (!app || !OWNER_URL || !redis_port) {
        fprintf(stderr, "SERPHONA_TEST_PG_URL, SERPHONA_TEST_PG_OWNER_URL and "
                        "SERPHONA_TEST_REDIS_PORT must be set (tests/run-all.sh does)\n");
        return -1;
    }
    sp_log_init("tenant-manager-test", SP_LOG_WARN);
    uint8_t rnd[4];
    assert_int_equal(sp_random_bytes(rnd, sizeof(rnd)), 0);
    sp_hex_encode(rnd, sizeof(rnd), RUN);
    if (sp_db_migrate(OWNER_URL, TM_SCHEMA, MIGRATIONS, "serphona_app") != 0)
        return -1;
    memset(&T, 0, sizeof(T));
    T.db = sp_db_pool_new(app, 4);
    T.redis = sp_redis_pool_new("127.0.0.1", atoi(redis_port), NULL, 2, 2000);
    T.pbkdf2_iterations = TM_PBKDF2_MIN_ITERATIONS;
    T.invite_ttl_hours = 72;
    T.purge_after_days = 30;
    R = sp_router_new();
    if (!T.db || !T.redis || !R)
        return -1;
    sp_router_set_authorizer(R, sp_permissions_authorize, NULL);
    if (tm_tenants_register(R, &T) || tm_users_register(R, &T) || tm_api_keys_register(R, &T) ||
        tm_audit_register(R, &T))
        return -1;
    return 0;
}

static __attribute__((unused)) int harness_teardown(void **state)
{
    (void)state;
    sp_router_destroy(&R);
    sp_redis_pool_destroy(&T.redis);
    sp_db_pool_destroy(&T.db);
    return 0;
}

/* ---- fixtures ---------------------------------------------------------------- */

static const caller_t OPERATOR = {NULL, "00000000-0000-4000-8000-0000000000aa", "platform_operator",
                                  NULL};

/* A tenant made through the operator route; ids copied into the caller's
 * buffers. Its owner accepts the invite with password pw. */
typedef struct {
    char id[SP_UUID_STR_LEN];
    char slug[48];
    char owner_id[SP_UUID_STR_LEN];
    char owner_email[96];
    caller_t owner;
} tenant_fx_t;

/* fmt with %s for tag then %s for the run id, e.g. "%s-%s"; caller frees. */
#define unique(fmt, tag)                                                                           \
    ({                                                                                             \
        char *s_ = NULL;                                                                           \
        assert_true(asprintf(&s_, fmt, tag, RUN) > 0);                                             \
        s_;                                                                                        \
    })

/* Accepts an invite token with password; returns the new user id (caller
 * frees) or NULL when refused (*status gets the status). */
static __attribute__((unused)) char *accept(const char *token, const char *password, int *status)
{
    char body[512];
    snprintf(body, sizeof(body), "{\"token\":\"%s\",\"password\":\"%s\"}", token, password);
    resp_t r = call(NULL, "POST", "/v1/users/invites/accept", body);
    if (status)
        *status = r.status;
    char *id = r.status == 201 ? strdup(jstr(r.json, "user.id")) : NULL;
    resp_free(&r);
    return id;
}

static __attribute__((unused)) const char *const NO_SCOPES[] = {NULL};

static __attribute__((unused)) void make_tenant(tenant_fx_t *fx, const char *tag, const char *plan)
{
    memset(fx, 0, sizeof(*fx));
    char *slug = unique("%s-%s", tag);
    char *email = unique("owner.%s.%s@example.com", tag);
    snprintf(fx->slug, sizeof(fx->slug), "%s", slug);
    snprintf(fx->owner_email, sizeof(fx->owner_email), "%s", email);
    char body[512];
    snprintf(body, sizeof(body),
             "{\"slug\":\"%s\",\"name\":\"Tenant %s\",\"plan\":\"%s\",\"owner_email\":\"%s\"}",
             slug, tag, plan, email);
    resp_t r = call(&OPERATOR, "POST", "/v1/tenants", body);
    EXPECT_OK(r, 201);
    snprintf(fx->id, sizeof(fx->id), "%s", jstr(r.json, "tenant.id"));
    char *id = accept(jstr(r.json, "owner_invite.token"), "owner password 12345", NULL);
    assert_non_null(id);
    snprintf(fx->owner_id, sizeof(fx->owner_id), "%s", id);
    free(id);
    resp_free(&r);
    free(slug);
    free(email);
    fx->owner = (caller_t){fx->id, fx->owner_id, "owner", NULL};
}

/* ---- typed RPC -------------------------------------------------------------------- */

/* Calls a typed method function with in packed; unpacks the reply as desc
 * into arena. Returns the method's code. */
static __attribute__((unused)) int rpc(sp_rpc_method_fn fn, const ProtobufCMessage *in,
                                       const ProtobufCMessageDescriptor *desc, sp_arena_t *arena,
                                       ProtobufCMessage **out)
{
    uint8_t *bytes = NULL, *reply = NULL;
    size_t len = 0, reply_len = 0;
    assert_int_equal(sp_rpc_pack(arena, in, &bytes, &len), 0);
    sp_rpc_call_t c = {.service = "tenant-manager", .method = "test", .request_id = "r"};
    int rc = fn(&c, bytes, len, arena, &reply, &reply_len, &T);
    if (rc == 0) {
        *out = sp_rpc_unpack(arena, desc, reply, reply_len);
        if (!*out) {
            fail_msg("the reply does not unpack");
            abort();
        }
    }
    return rc;
}

static __attribute__((unused)) Serphona__Tenant__V1__AuthenticateReply *
authenticate(sp_arena_t *a, const char *slug, const char *email, const char *password)
{
    Serphona__Tenant__V1__AuthenticateRequest in = SERPHONA__TENANT__V1__AUTHENTICATE_REQUEST__INIT;
    in.tenant_slug = (char *)slug;
    in.email = (char *)email;
    in.password = (char *)password;
    ProtobufCMessage *out = NULL;
    assert_int_equal(rpc(tm_rpc_authenticate, &in.base,
                         &serphona__tenant__v1__authenticate_reply__descriptor, a, &out),
                     0);
    return (Serphona__Tenant__V1__AuthenticateReply *)out;
}

static __attribute__((unused)) Serphona__Tenant__V1__Principal *
principal(sp_arena_t *a, const char *tenant_id, const char *user_id)
{
    Serphona__Tenant__V1__GetPrincipalRequest in =
        SERPHONA__TENANT__V1__GET_PRINCIPAL_REQUEST__INIT;
    in.tenant_id = (char *)(tenant_id ? tenant_id : "");
    in.user_id = (char *)user_id;
    ProtobufCMessage *out = NULL;
    assert_int_equal(
        rpc(tm_rpc_get_principal, &in.base, &serphona__tenant__v1__principal__descriptor, a, &out),
        0);
    return (Serphona__Tenant__V1__Principal *)out;
}

#endif
