/*
 * query_bench — latency of the analytics overview through the service against
 * ClickHouse queries, measured in one process with one clock (driven by
 * tests/bench/query_bench.sh).
 *
 *   query_bench compare ENDPOINT REDIS_PORT TENANT PATH REQUESTS CH_URL DB
 *               [LABEL COUNT SQL]...
 *
 * Series "service_uncached": REQUESTS sequential calls of GET PATH over the
 * service's RPC port, forwarded-HTTP envelopes with an analyst AuthContext
 * exactly as the gateway sends them, the tenant's cache generation INCRed in
 * Redis before each call (outside the timing, as an analysis.completed event
 * would). Each further series runs SQL COUNT times over ClickHouse's HTTP
 * interface (libcurl, as the service does). The series run interleaved,
 * round by round, so that a change of load on the machine hits them all
 * alike. Then "service_cached": REQUESTS calls answered from Redis.
 *
 * Prints one line per series: "LABEL P50 P95 MEAN" (milliseconds, nearest
 * rank). Each series starts with 3 unmeasured warm-up rounds. Exit 1 when a
 * call fails or answers other than 200, 2 on bad usage.
 */
#include "platform/clickhouse.h"
#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/redis.h"
#include "platform/rpc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WARMUP 3

/* Monotonic milliseconds with microsecond resolution. */
static double now_ms(void)
{
    return (double)sp_clock_mono_us() / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentiles and the mean of v[0..n). */
static void report(const char *label, double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += v[i];
    int p50 = (int)ceil(0.50 * n) - 1, p95 = (int)ceil(0.95 * n) - 1;
    printf("%s%s%.3f %.3f %.3f\n", label, *label ? " " : "", v[p50 < 0 ? 0 : p50],
           v[p95 < 0 ? 0 : p95], sum / n);
}

/* One forwarded GET; 0 when it answered 200. */
static int call(sp_rpc_client_t *cl, char *path, char *query, const char *tenant)
{
    static char *roles[] = {"analyst"};
    Serphona__Rpc__V1__AuthContext auth = SERPHONA__RPC__V1__AUTH_CONTEXT__INIT;
    auth.tenant_id = (char *)tenant;
    auth.subject = "query_bench";
    auth.roles = roles;
    auth.n_roles = 1;
    Serphona__Rpc__V1__HttpRequest hr = SERPHONA__RPC__V1__HTTP_REQUEST__INIT;
    hr.method = "GET";
    hr.path = path;
    hr.query = query;
    Serphona__Rpc__V1__Envelope env = SERPHONA__RPC__V1__ENVELOPE__INIT;
    env.method = "http";
    env.auth = &auth;
    env.body_case = SERPHONA__RPC__V1__ENVELOPE__BODY_HTTP_REQUEST;
    env.http_request = &hr;
    Serphona__Rpc__V1__Envelope *reply = NULL;
    int rc = sp_rpc_client_call(cl, &env, 60000, &reply);
    if (rc != 0) {
        fprintf(stderr, "query_bench: call failed: %s\n", sp_strerror(rc));
        return -1;
    }
    int ok = reply->body_case == SERPHONA__RPC__V1__ENVELOPE__BODY_HTTP_RESPONSE &&
             reply->http_response->status == 200;
    if (!ok && reply->body_case == SERPHONA__RPC__V1__ENVELOPE__BODY_HTTP_RESPONSE)
        fprintf(stderr, "query_bench: %u %.*s\n", reply->http_response->status,
                (int)reply->http_response->body.len, (char *)reply->http_response->body.data);
    serphona__rpc__v1__envelope__free_unpacked(reply, NULL);
    return ok ? 0 : -1;
}

static int bump(sp_redis_pool_t *redis, const char *tenant)
{
    char key[96];
    snprintf(key, sizeof key, "sp:analytics:gen:%s", tenant);
    const char *argv[] = {"INCR", key};
    redisReply *r = NULL;
    int rc = sp_redis_command(redis, &r, 2, argv, NULL);
    if (r)
        freeReplyObject(r);
    return rc;
}

typedef struct {
    const char *label;
    const char *sql; /* NULL: the service, uncached */
    double *v;
    int count; /* runs wanted */
    int n;     /* runs measured */
} series_t;

/* Runs the series interleaved, round by round (round r runs every series
 * with count > r), so that a change of load on the machine hits them all
 * alike; then the service again, cached. */
static int bench_compare(const char *endpoint, int redis_port, const char *tenant,
                         const char *target, series_t *ss, int n_series, const char *ch_url,
                         const char *db)
{
    char *path = strdup(target), *query = strchr(path, '?');
    if (query)
        *query++ = '\0';
    sp_rpc_client_t *cl = sp_rpc_client_new(endpoint);
    sp_redis_pool_t *redis = sp_redis_pool_new("127.0.0.1", redis_port, NULL, 1, 2000);
    sp_ch_t *ch = sp_ch_new(ch_url, db, NULL, NULL);
    int rc = 1, rounds = 0;
    if (!cl || !redis || !ch)
        goto done;
    sp_ch_set_timeout(ch, 120000);
    for (int i = 0; i < n_series; i++) {
        if (ss[i].count <= 0 || !(ss[i].v = calloc((size_t)ss[i].count, sizeof(double))))
            goto done;
        if (ss[i].count > rounds)
            rounds = ss[i].count;
    }
    for (int r = -WARMUP; r < rounds; r++) {
        for (int i = 0; i < n_series; i++) {
            series_t *s = &ss[i];
            if (r >= s->count)
                continue;
            double t0, dt;
            if (!s->sql) {
                if (bump(redis, tenant) != 0)
                    goto done;
                t0 = now_ms();
                if (call(cl, path, query ? query : "", tenant) != 0)
                    goto done;
                dt = now_ms() - t0;
            } else {
                char *out = NULL;
                t0 = now_ms();
                int err = sp_ch_exec(ch, s->sql, NULL, 0, &out, NULL);
                dt = now_ms() - t0;
                free(out);
                if (err != 0) {
                    fprintf(stderr, "query_bench: %s: %s\n", s->label, sp_strerror(err));
                    goto done;
                }
            }
            if (r >= 0)
                s->v[s->n++] = dt;
        }
    }
    for (int i = 0; i < n_series; i++)
        report(ss[i].label, ss[i].v, ss[i].n);
    /* Cached: the first call fills the cache, the rest are hits. */
    int n_cached = ss[0].count > 0 ? ss[0].count : 1;
    double *v = calloc((size_t)n_cached, sizeof *v);
    if (!v)
        goto done;
    for (int i = -WARMUP; i < n_cached; i++) {
        double t0 = now_ms();
        if (call(cl, path, query ? query : "", tenant) != 0) {
            free(v);
            goto done;
        }
        if (i >= 0)
            v[i] = now_ms() - t0;
    }
    report("service_cached", v, n_cached);
    free(v);
    rc = 0;
done:
    for (int i = 0; i < n_series; i++)
        free(ss[i].v);
    sp_ch_destroy(&ch);
    sp_redis_pool_destroy(&redis);
    sp_rpc_client_destroy(&cl);
    free(path);
    return rc;
}

/* A positive count or port from argv, or 0. */
static int arg_int(const char *s)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    return end != s && *end == '\0' && v > 0 && v < 1000000000 ? (int)v : 0;
}

int main(int argc, char **argv)
{
    sp_log_init("query_bench", SP_LOG_WARN);
    /* compare ENDPOINT REDIS_PORT TENANT PATH REQUESTS CH_URL DB [LABEL COUNT SQL]... */
    enum { MAX_SERIES = 16 };
    if (argc >= 9 && (argc - 9) % 3 == 0 && (argc - 9) / 3 < MAX_SERIES &&
        strcmp(argv[1], "compare") == 0 && arg_int(argv[6]) > 0) {
        series_t ss[MAX_SERIES];
        memset(ss, 0, sizeof ss);
        int n = 0;
        ss[n++] = (series_t){.label = "service_uncached", .count = arg_int(argv[6])};
        for (int i = 9; i < argc; i += 3) {
            ss[n] = (series_t){.label = argv[i], .count = arg_int(argv[i + 1]), .sql = argv[i + 2]};
            if (ss[n].count <= 0)
                goto usage;
            n++;
        }
        return bench_compare(argv[2], arg_int(argv[3]), argv[4], argv[5], ss, n, argv[7], argv[8]);
    }
usage:
    fprintf(stderr, "usage: query_bench compare ENDPOINT REDIS_PORT TENANT PATH REQUESTS CH_URL "
                    "DATABASE [LABEL COUNT SQL]...\n");
    return 2;
}
