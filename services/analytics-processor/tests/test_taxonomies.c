/*
 * test_taxonomies.c — the per-tenant taxonomy cache (taxonomies.h) with a
 * fake tenant-manager: a tenant's own taxonomy is used, cached for the TTL
 * and fetched again after it; unknown tenants, failed lookups and documents
 * libnlp refuses fall back to the default, a failure is retried soon.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../src/taxonomies.h"
#include "platform/error.h"
#include "platform/log.h"

#define TA "11111111-1111-4111-8111-111111111111"
#define TB "22222222-2222-4222-8222-222222222222"

typedef struct {
    int calls;
    int rc;           /* what the fake answers */
    const char *json; /* customized document, or NULL = not customized */
} fake_t;

static int fake_fetch(const char *tenant_id, char **json, int *customized, void *ud)
{
    fake_t *f = ud;
    f->calls++;
    if (strcmp(tenant_id, TB) == 0)
        return SP_ENOTFOUND;
    if (f->rc != SP_OK)
        return f->rc;
    *customized = f->json != NULL;
    *json = f->json ? strdup(f->json) : NULL;
    return SP_OK;
}

static int has(const nlp_taxonomy_t *tax, const char *id)
{
    for (size_t i = 0; i < nlp_taxonomy_size(tax); i++)
        if (strcmp(nlp_taxonomy_id(tax, i), id) == 0)
            return 1;
    return 0;
}

static void test_cache_ttl_and_fallbacks(void **state)
{
    (void)state;
    fake_t f = {.rc = SP_OK,
                .json =
                    "{\"categories\":[{\"id\":\"loyalty_program\",\"patterns\":[\"pontos\"]}]}"};
    ap_taxonomies_t *c = ap_taxonomies_new(fake_fetch, &f, 60);
    assert_non_null(c);
    const nlp_taxonomy_t *def = nlp_taxonomy_default();

    const nlp_taxonomy_t *t = ap_taxonomies_get(c, TA, 1000);
    assert_ptr_not_equal(t, def);
    assert_true(has(t, "loyalty_program"));
    assert_true(has(t, "billing")); /* extend mode */
    assert_int_equal(f.calls, 1);
    /* Cached within the TTL, even when the tenant changed it meanwhile. */
    f.json = NULL;
    assert_true(has(ap_taxonomies_get(c, TA, 1059), "loyalty_program"));
    assert_int_equal(f.calls, 1);
    /* After it: fetched again, now the default. */
    assert_ptr_equal(ap_taxonomies_get(c, TA, 1060), def);
    assert_int_equal(f.calls, 2);

    /* Unknown tenant: the default, cached. */
    assert_ptr_equal(ap_taxonomies_get(c, TB, 1000), def);
    assert_ptr_equal(ap_taxonomies_get(c, TB, 1010), def);
    assert_int_equal(f.calls, 3);

    /* tenant-manager unreachable: the default, retried within 10 s. */
    f.rc = SP_ETIMEDOUT;
    assert_ptr_equal(ap_taxonomies_get(c, TA, 2000), def);
    assert_ptr_equal(ap_taxonomies_get(c, TA, 2005), def);
    assert_int_equal(f.calls, 4);
    f.rc = SP_OK;
    f.json = "{\"mode\":\"replace\",\"categories\":[{\"id\":\"only\",\"patterns\":[\"x\"]}]}";
    t = ap_taxonomies_get(c, TA, 2010);
    assert_int_equal(f.calls, 5);
    assert_true(has(t, "only"));
    assert_false(has(t, "billing"));

    /* A document libnlp refuses: the default. */
    f.json = "{\"categories\":[{\"id\":\"Bad Id\",\"patterns\":[\"x\"]}]}";
    assert_ptr_equal(ap_taxonomies_get(c, TA, 3000), def);
    ap_taxonomies_destroy(&c);
    assert_null(c);
}

static void test_no_lookup_and_bad_ids(void **state)
{
    (void)state;
    ap_taxonomies_t *c = ap_taxonomies_new(NULL, NULL, 60);
    assert_ptr_equal(ap_taxonomies_get(c, TA, 0), nlp_taxonomy_default());
    ap_taxonomies_destroy(&c);
    fake_t f = {.rc = SP_OK, .json = NULL};
    c = ap_taxonomies_new(fake_fetch, &f, 60);
    assert_ptr_equal(ap_taxonomies_get(c, "", 0), nlp_taxonomy_default());
    assert_ptr_equal(ap_taxonomies_get(c, NULL, 0), nlp_taxonomy_default());
    assert_int_equal(f.calls, 0);
    /* Many tenants: the cache stays bounded and keeps answering. */
    char id[40];
    for (int i = 0; i < 1500; i++) {
        snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012d", i);
        assert_ptr_equal(ap_taxonomies_get(c, id, i), nlp_taxonomy_default());
    }
    assert_int_equal(f.calls, 1500);
    ap_taxonomies_destroy(&c);
    ap_taxonomies_destroy(&c);
}

int main(void)
{
    sp_log_init("analytics-processor-test", SP_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_ttl_and_fallbacks),
        cmocka_unit_test(test_no_lookup_and_bad_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
