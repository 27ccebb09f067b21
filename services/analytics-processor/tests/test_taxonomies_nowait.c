/*
 * test_taxonomies_nowait.c — the analysis never waits on tenant-manager
 * (issue 9 point 5), with the service's source of taxonomies: the platform
 * tenant client's non-blocking read, against a fake tenant-manager served
 * in-process over a real RPC server (no other server needed).
 *   - tenant-manager answers: a tenant's first interaction already gets its
 *     own taxonomy;
 *   - tenant-manager hangs: hundreds of new tenants get the default at once
 *     (one bounded wait in all, not one RPC deadline per tenant), and their
 *     own taxonomy once it answers again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../src/taxonomies.h"
#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/rpc.h"

#define DOC "{\"categories\":[{\"id\":\"loyalty_program\",\"patterns\":[\"pontos\"]}]}"

static atomic_int delay_ms; /* the fake's answer comes this late */
static atomic_int calls;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int get_taxonomy(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                        uint8_t **out, size_t *out_len, void *ud)
{
    atomic_fetch_add(&calls, 1);
    int d = atomic_load(&delay_ms);
    if (d > 0)
        sleep_ms(d);
    Serphona__Tenant__V1__Taxonomy t = SERPHONA__TENANT__V1__TAXONOMY__INIT;
    t.json = DOC;
    t.customized = 1;
    return sp_rpc_pack(arena, &t.base, out, out_len);
}

static int has(const nlp_taxonomy_t *tax, const char *id)
{
    for (size_t i = 0; i < nlp_taxonomy_size(tax); i++)
        if (strcmp(nlp_taxonomy_id(tax, i), id) == 0)
            return 1;
    return 0;
}

static const char *tenant(int i)
{
    static char id[40];
    snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", i);
    return id;
}

static void test_first_use_and_outage(void **state)
{
    (void)state;
    sp_rpc_server_t *srv = sp_rpc_server_new("tenant-manager", "tcp://127.0.0.1:*", NULL, 2);
    assert_non_null(srv);
    assert_int_equal(
        sp_rpc_server_add_method(srv, "tenant-manager.GetTaxonomy", get_taxonomy, NULL), 0);
    assert_int_equal(sp_rpc_server_start(srv), 0);
    sp_rpc_client_t *cl = sp_rpc_client_new(sp_rpc_server_endpoint(srv));
    sp_tenants_opts_t o = {.tm = cl, .timeout_ms = 1000, .backoff_ms = 500};
    sp_tenants_t *tenants = sp_tenants_new(&o);
    ap_taxonomies_t *c = ap_taxonomies_new_tenants(tenants, 60);
    assert_non_null(c);
    const nlp_taxonomy_t *def = nlp_taxonomy_default();

    /* Healthy: the first interaction of a new tenant is analysed with its
     * own taxonomy. */
    assert_true(has(ap_taxonomies_get(c, tenant(0), 100), "loyalty_program"));

    /* Hanging: 300 new tenants, the default for each, with at most one
     * short wait in all (a blocking RPC would cost 300 deadlines). */
    atomic_store(&delay_ms, 3000);
    int64_t t0 = sp_clock_mono_ms();
    for (int i = 1; i <= 300; i++)
        assert_ptr_equal(ap_taxonomies_get(c, tenant(i), 100), def);
    int64_t took = sp_clock_mono_ms() - t0;
    print_message("300 new tenants with tenant-manager hanging: %lld ms\n", (long long)took);
    assert_true(took < 1500);
    /* The tenant already known keeps its taxonomy meanwhile. */
    assert_true(has(ap_taxonomies_get(c, tenant(0), 200), "loyalty_program"));

    /* Back: the waiting tenants get their own within seconds. */
    atomic_store(&delay_ms, 0);
    int got = 0;
    for (int s = 101; s < 130 && !got; s++) {
        sleep_ms(250);
        got = has(ap_taxonomies_get(c, tenant(1), s), "loyalty_program");
    }
    assert_true(got);

    ap_taxonomies_destroy(&c);
    sp_tenants_destroy(&tenants);
    sp_rpc_client_destroy(&cl);
    sp_rpc_server_destroy(&srv);
}

int main(void)
{
    sp_log_init("analytics-processor-test", SP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_use_and_outage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
