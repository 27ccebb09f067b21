/*
 * test_tenants.c — where a dashboard's time zone comes from (tenants.h),
 * without any server: the zone the auth-gateway put in the auth context is
 * used as is; a malformed one, or none with no cache and no tenant-manager,
 * gives UTC at once (never a wait); the zone survives the auth context's
 * copy into a request (sp_request_set_auth).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../src/tenants.h"
#include "platform/clock.h"
#include "platform/log.h"

#define TA "11111111-1111-4111-8111-111111111111"

static const char *zone_for(aq_ctx_t *ctx, const char *tz)
{
    static char out[80];
    sp_request_t *req = sp_request_new();
    assert_non_null(req);
    sp_auth_t auth = {.tenant_id = TA, .subject = "u", .timezone = tz};
    assert_int_equal(sp_request_set_auth(req, &auth), 0);
    const sp_auth_t *copied = sp_request_auth(req);
    if (tz && *tz)
        assert_string_equal(copied->timezone, tz);
    else
        assert_null(copied->timezone);
    snprintf(out, sizeof out, "%s", aq_tenant_timezone(ctx, req, TA));
    sp_request_destroy(&req);
    return out;
}

static void test_zone_from_auth_context(void **state)
{
    (void)state;
    aq_ctx_t ctx;
    assert_int_equal(aq_ctx_init(&ctx, NULL), 0);
    assert_string_equal(zone_for(&ctx, "America/Sao_Paulo"), "America/Sao_Paulo");
    assert_string_equal(zone_for(&ctx, "Etc/GMT+3"), "Etc/GMT+3");
    int64_t t0 = sp_clock_mono_ms();
    assert_string_equal(zone_for(&ctx, "../../etc/passwd"), "UTC");
    assert_string_equal(zone_for(&ctx, ""), "UTC");
    assert_string_equal(zone_for(&ctx, NULL), "UTC");
    assert_true(sp_clock_mono_ms() - t0 < 100);
    aq_ctx_cleanup(&ctx);
}

static void test_tz_valid(void **state)
{
    (void)state;
    assert_true(aq_tz_valid("UTC"));
    assert_true(aq_tz_valid("America/Argentina/Buenos_Aires"));
    assert_false(aq_tz_valid("1Europe"));
    assert_false(aq_tz_valid("Europe/Lisbon'"));
    assert_false(aq_tz_valid(NULL));
}

int main(void)
{
    sp_log_init("analytics-query-test", SP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zone_from_auth_context),
        cmocka_unit_test(test_tz_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
