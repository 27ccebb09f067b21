/*
 * fuzz_filters.c — the analytics filter parser (analytics-query filters.c,
 * calendar.c) on a raw query string, the way every analytics route starts
 * (scope.c): the platform's query decoding, the parameter whitelist, the
 * filter parse, the resolution of the period in a time zone (a fake zone
 * three hours behind UTC, as the unit tests use), then the SQL WHERE clause
 * of every source and the cache key.
 */
#include "fuzz_common.h"

#include "../../services/analytics-query/src/calendar.h"
#include "../../services/analytics-query/src/filters.h"
#include "platform/error.h"
#include "platform/request.h"

#define TENANT "11111111-2222-4333-8444-555555555555"
#define NOW    1717243200LL /* 2024-06-01T12:00:00Z */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_quiet();
    return 0;
}

/* "YYYY-MM-DD HH:MM:SS" in a zone at UTC-3; fails for anything else, as a
 * real conversion would for a string it cannot read. */
static int fake_conv(void *ud, const char *tz, const char *local, int64_t *epoch)
{
    (void)ud, (void)tz;
    if (strlen(local) != 19)
        return SP_EINVAL;
    char iso[32];
    snprintf(iso, sizeof iso, "%.10sT%.8s-03:00", local, local + 11);
    aq_bound_t b;
    if (aq_bound_parse(iso, &b) != 0 || b.kind != AQ_BOUND_ABS)
        return SP_EINVAL;
    *epoch = b.epoch;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *query = fz_strndup(data, size);
    sp_request_t *req = sp_request_new();
    if (!req || sp_request_set_method(req, "GET") ||
        sp_request_set_path(req, "/v1/analytics/overview") || sp_request_set_query(req, query))
        abort();
    sp_arena_t *arena = sp_request_arena(req);
    aq_err_t err;
    aq_filter_t f;
    static const char *const extra[] = {"interval", "limit", "offset", "by", NULL};
    if (aq_params_check(req, extra, &err) == 0 && aq_filter_parse(req, &f, &err) == 0) {
        (void)aq_filter_needs_tz(&f);
        const char *tz = (size && (data[0] & 1)) ? "America/Sao_Paulo" : "UTC";
        if (aq_filter_resolve(&f, NOW, tz, 731, fake_conv, NULL, &err) == 0) {
            if (f.from >= f.to || f.prev_from > f.from)
                abort(); /* resolve promises a non-empty range */
            for (int src = AQ_SRC_HOURLY; src <= AQ_SRC_CHANNEL; src++)
                (void)aq_filter_where(arena, &f, TENANT, (aq_src_t)src, f.from, f.to);
            for (int by = 0; by <= AQ_BY_AGENT; by++)
                (void)aq_src_name(aq_filter_source(&f, by != 1, by));
            (void)aq_filter_canon(arena, &f);
        }
    }
    const char *iv = sp_request_query(req, "interval");
    aq_interval_t interval;
    if (iv)
        (void)aq_interval_parse(iv, &interval);
    long limit;
    (void)aq_param_int(req, "limit", 50, 1, 500, &limit, &err);
    int64_t day;
    const char *from = sp_request_query(req, "from");
    if (from)
        (void)aq_date_parse(from, &day);
    sp_request_destroy(&req);
    free(query);
    return 0;
}
