/* Unit tests for permissions.c: the role table and the authorizer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "platform/error.h"
#include "platform/permissions.h"

#include <string.h>

static void test_table(void **state)
{
    (void)state;
    assert_true(sp_permissions_role_grants("owner", "billing:write"));
    assert_false(sp_permissions_role_grants("admin", "billing:write"));
    assert_true(sp_permissions_role_grants("admin", "users:write"));
    assert_false(sp_permissions_role_grants("analyst", "users:write"));
    assert_true(sp_permissions_role_grants("analyst", "analytics:export"));
    assert_false(sp_permissions_role_grants("viewer", "analytics:export"));
    assert_true(sp_permissions_role_grants("viewer", "analytics:read"));
    assert_true(sp_permissions_role_grants("agent_manager", "agents:write"));
    assert_false(sp_permissions_role_grants("viewer", "conversations:read"));
    assert_false(sp_permissions_role_grants("owner", "platform:admin"));
    assert_true(sp_permissions_role_grants("platform_operator", "platform:admin"));
    assert_false(sp_permissions_role_grants("platform_operator", "tenant:read"));
    assert_false(sp_permissions_role_grants("owner", "no:such"));
    assert_false(sp_permissions_role_grants("root", "tenant:read"));
    /* Every tenant role can at least read its tenant. */
    const char *roles[] = {"owner", "admin", "analyst", "agent_manager", "viewer"};
    for (size_t i = 0; i < 5; i++) {
        assert_true(sp_permissions_is_tenant_role(roles[i]));
        assert_true(sp_permissions_role_grants(roles[i], "tenant:read"));
    }
    assert_false(sp_permissions_is_tenant_role("platform_operator"));
    size_t n = 0;
    while (sp_permissions_at(n)) {
        assert_true(sp_permissions_known(sp_permissions_at(n)));
        n++;
    }
    assert_true(n >= 20);
    assert_false(sp_permissions_known("users:delete"));
}

static void test_authorizer(void **state)
{
    (void)state;
    const char *admin[] = {"admin"};
    sp_auth_t user = {.tenant_id = "t1", .subject = "u1", .roles = admin, .n_roles = 1};
    assert_int_equal(sp_permissions_authorize(&user, "users:write", NULL), 0);
    assert_int_equal(sp_permissions_authorize(&user, "billing:write", NULL), SP_EDENIED);
    assert_int_equal(sp_permissions_authorize(&user, "platform:admin", NULL), SP_EDENIED);

    /* The same role without a tenant gets nothing of a tenant's. */
    user.tenant_id = NULL;
    assert_int_equal(sp_permissions_authorize(&user, "users:write", NULL), SP_EDENIED);

    const char *op[] = {"platform_operator"};
    sp_auth_t oper = {.subject = "op", .roles = op, .n_roles = 1};
    assert_int_equal(sp_permissions_authorize(&oper, "platform:admin", NULL), 0);
    assert_int_equal(sp_permissions_authorize(&oper, "tenant:read", NULL), SP_EDENIED);

    const char *scopes[] = {"ingest:write", "platform:admin"};
    sp_auth_t key = {.tenant_id = "t1", .subject = "k1", .scopes = scopes, .n_scopes = 2};
    assert_int_equal(sp_permissions_authorize(&key, "ingest:write", NULL), 0);
    assert_int_equal(sp_permissions_authorize(&key, "analytics:read", NULL), SP_EDENIED);
    /* A scope can never grant platform:admin. */
    assert_int_equal(sp_permissions_authorize(&key, "platform:admin", NULL), SP_EDENIED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_authorizer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
