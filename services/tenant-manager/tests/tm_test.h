/*
 * tm_test.h — shared harness of tenant-manager's service tests.
 *
 * Each test binary migrates the real "tenant" schema into the private
 * PostgreSQL of the unit stack, connects as the app role (subject to
 * row-level security) and to Redis (sptest/stack.h), and drives the service's own router (with
 * the platform's authorizer, as the runtime installs it; sptest/call.h) and
 * typed RPC functions in-process. Slugs and emails carry a per-run suffix, so runs and
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
#include "sptest.h"
#include "tenant.pb-c.h"

#define MIGRATIONS "services/tenant-manager/migrations"

static tm_t T;
static sp_router_t *R;
static char RUN[16];

/* A request on the service's router as who (NULL: no auth context); every
 * handler of tenant-manager answers before returning. */
static __attribute__((unused)) sptest_resp_t call(const sptest_caller_t *who, const char *method,
                                                  const char *path, const char *body)
{
    sptest_resp_t r = sptest_call(R, who, method, path, body, NULL);
    assert_int_equal(r.dispatch, SP_HANDLER_DONE);
    return r;
}

static __attribute__((unused)) int harness_setup(void **state)
{
    (void)state;
    if (sptest_env_require((const char *const[]){"SERPHONA_TEST_PG_URL",
                                                 "SERPHONA_TEST_PG_OWNER_URL",
                                                 "SERPHONA_TEST_REDIS_PORT", NULL}) != 0)
        return -1;
    sp_log_init("tenant-manager-test", SP_LOG_WARN);
    sptest_run_id(RUN);
    if (sptest_pg_migrate(TM_SCHEMA, MIGRATIONS) != 0)
        return -1;
    memset(&T, 0, sizeof(T));
    T.db = sptest_pg_app_pool(4);
    T.redis = sptest_redis_pool(2);
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

static const sptest_caller_t OPERATOR = {NULL, "00000000-0000-4000-8000-0000000000aa",
                                         "platform_operator", NULL};

/* A tenant made through the operator route; ids copied into the caller's
 * buffers. Its owner accepts the invite with password pw. */
typedef struct {
    char id[SP_UUID_STR_LEN];
    char slug[48];
    char owner_id[SP_UUID_STR_LEN];
    char owner_email[96];
    sptest_caller_t owner;
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
    sptest_resp_t r = call(NULL, "POST", "/v1/users/invites/accept", body);
    if (status)
        *status = r.status;
    char *id = r.status == 201 ? strdup(sptest_json_str(r.json, "user.id")) : NULL;
    sptest_resp_free(&r);
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
    sptest_resp_t r = call(&OPERATOR, "POST", "/v1/tenants", body);
    EXPECT_OK(r, 201);
    snprintf(fx->id, sizeof(fx->id), "%s", sptest_json_str(r.json, "tenant.id"));
    char *id = accept(sptest_json_str(r.json, "owner_invite.token"), "owner password 12345", NULL);
    assert_non_null(id);
    snprintf(fx->owner_id, sizeof(fx->owner_id), "%s", id);
    free(id);
    sptest_resp_free(&r);
    free(slug);
    free(email);
    fx->owner = (sptest_caller_t){fx->id, fx->owner_id, "owner", NULL};
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
