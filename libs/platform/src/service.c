/*
 * service.c — process life cycle of a Serphona service (service.h).
 */
#include "platform/service.h"
#include "platform/ch_migrate.h"
#include "platform/error.h"
#include "platform/http.h"
#include "platform/log.h"
#include "platform/metrics.h"
#include "platform/permissions.h"
#include "platform/topology.h"

#include <czmq.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CHECKS    16
#define MAX_CONSUMERS 8
#define MAX_CLIENTS   8
#define MAX_HOOKS     16

typedef struct {
    char *name;
    sp_ready_fn fn;
    void *ud;
} check_t;

#define MAX_TOPICS  16
#define MAX_METHODS 64

typedef struct {
    sp_events_consumer_t *consumer;
    const char *group;
    const char *topics[MAX_TOPICS];
    size_t n_topics;
    sp_events_handler_fn handler;
    void *ud;
    sp_events_flush_fn flush; /* batch mode when set */
    size_t batch_max;
    int batch_wait_ms;
    pthread_t thread;
    int running;
} consumer_slot_t;

typedef struct {
    char *name;
    sp_rpc_method_fn fn;
    void *ud;
} method_t;

typedef struct {
    char *service;
    sp_rpc_client_t *client;
} client_slot_t;

typedef struct {
    void (*fn)(void *);
    void *ud;
} hook_t;

struct sp_service {
    const sp_service_info_t *info;
    sp_config_t *cfg;
    sp_router_t *router, *ops_router;
    sp_arena_t *strings; /* topic names and other small strings */
    sigset_t signals;
    time_t started_at;

    /* Readiness as last seen by the public status route, refreshed at most
     * once a second so that route cannot be used to hammer dependencies. */
    pthread_mutex_t status_lock;
    struct timespec status_at;
    int status_ready;
    char *status_checks; /* JSON object text, malloc'd */
    volatile int draining;

    /* settings */
    const char *bind_addr, *cors_origins;
    int ops_port, rpc_port, http_port, rpc_workers, http_threads, grace_ms;
    int max_body;

    /* what the use_* calls asked for, connected by sp_service_run */
    struct {
        int wanted, pool_size;
        const char *url, *migrate_url, *dir, *app_role;
        char *schema;
    } pg;
    struct {
        int wanted, pool_size, port;
        char *host, *password;
    } rd;
    struct {
        int wanted, migrate;
        const char *url, *database, *user, *password, *schema_dir;
    } chc;
    int kafka_wanted, producer_wanted, serve_rpc, help, migrate_only;
    method_t methods[MAX_METHODS];
    size_t n_methods;

    /* dependencies and servers */
    sp_db_pool_t *db;
    sp_redis_pool_t *redis;
    sp_ch_t *ch;
    sp_events_producer_t *producer;
    const char *kafka_brokers;
    const char *topic_prefix;
    sp_rpc_server_t *rpc;
    int serve_http;
    const sp_router_t *http_router; /* served on the public port; NULL = router */
    sp_http_server_t *http, *ops;
    consumer_slot_t consumers[MAX_CONSUMERS];
    size_t n_consumers;
    client_slot_t clients[MAX_CLIENTS];
    size_t n_clients;
    check_t checks[MAX_CHECKS];
    size_t n_checks;
    hook_t hooks[MAX_HOOKS];
    size_t n_hooks;
    struct {
        int (*fn)(void *);
        void *ud;
    } start_hooks[MAX_HOOKS];
    size_t n_start_hooks;
};

static const char *const LOG_LEVELS[] = {"debug", "info", "warn", "error", NULL};

/* ---- operations endpoints ---------------------------------------------------- */

static sp_handler_result_t health_live(sp_request_t *req, void *ud)
{
    (void)ud;
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "status", "ok");
    sp_response_json(sp_request_response(req), 200, body);
    cJSON_Delete(body);
    return SP_HANDLER_DONE;
}

/* Runs every check; fills checks (may be NULL) with name -> "ok" or the
 * error. Returns 1 when all pass and the service is not draining. */
static int run_checks(sp_service_t *svc, cJSON *checks)
{
    int ready = !svc->draining;
    for (size_t i = 0; i < svc->n_checks; i++) {
        int rc = svc->checks[i].fn(svc->checks[i].ud);
        if (checks)
            cJSON_AddStringToObject(checks, svc->checks[i].name, rc == 0 ? "ok" : sp_strerror(rc));
        if (rc != 0)
            ready = 0;
    }
    return ready;
}

static sp_handler_result_t health_ready(sp_request_t *req, void *ud)
{
    sp_service_t *svc = ud;
    cJSON *body = cJSON_CreateObject();
    cJSON *checks = cJSON_CreateObject();
    int ready = run_checks(svc, checks);
    cJSON_AddStringToObject(body, "status",
                            svc->draining ? "shutting_down"
                            : ready       ? "ready"
                                          : "not_ready");
    cJSON_AddItemToObject(body, "checks", checks);
    sp_response_json(sp_request_response(req), ready ? 200 : 503, body);
    cJSON_Delete(body);
    return SP_HANDLER_DONE;
}

static sp_handler_result_t metrics_page(sp_request_t *req, void *ud)
{
    (void)ud;
    size_t len = 0;
    char *text = sp_metrics_render(&len);
    sp_response_t *resp = sp_request_response(req);
    if (!text) {
        sp_response_error(resp, 500, "internal", "out of memory");
        return SP_HANDLER_DONE;
    }
    sp_response_set_body(resp, text, len, "text/plain; version=0.0.4; charset=utf-8");
    free(text);
    return SP_HANDLER_DONE;
}

static void add_route_json(const char *method, const char *pattern, const char *permission,
                           void *ud)
{
    cJSON *route = cJSON_CreateObject();
    cJSON_AddStringToObject(route, "method", method);
    cJSON_AddStringToObject(route, "pattern", pattern);
    if (permission)
        cJSON_AddStringToObject(route, "permission", permission);
    else
        cJSON_AddNullToObject(route, "permission");
    cJSON_AddItemToArray(ud, route);
}

/* GET /routes on the operations port: the service's routing table, so tests
 * and tools can enumerate every route (and a new route is covered without
 * editing them). */
static sp_handler_result_t routes_page(sp_request_t *req, void *ud)
{
    sp_service_t *svc = ud;
    cJSON *body = cJSON_CreateObject();
    cJSON *routes = cJSON_AddArrayToObject(body, "routes");
    cJSON_AddStringToObject(body, "service", svc->info->name);
    sp_router_foreach(svc->router, add_route_json, routes);
    sp_response_json(sp_request_response(req), 200, body);
    cJSON_Delete(body);
    return SP_HANDLER_DONE;
}

/* Fills *ready and a copy of the checks' JSON from the cache, refreshing it
 * when older than a second. Returns the parsed checks (caller deletes). */
static cJSON *cached_checks(sp_service_t *svc, int *ready)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&svc->status_lock);
    long age_ms = (now.tv_sec - svc->status_at.tv_sec) * 1000 +
                  (now.tv_nsec - svc->status_at.tv_nsec) / 1000000;
    if (!svc->status_checks || age_ms >= 1000) {
        cJSON *checks = cJSON_CreateObject();
        svc->status_ready = run_checks(svc, checks);
        free(svc->status_checks);
        svc->status_checks = cJSON_PrintUnformatted(checks);
        cJSON_Delete(checks);
        svc->status_at = now;
    }
    *ready = svc->status_ready;
    cJSON *copy = svc->status_checks ? cJSON_Parse(svc->status_checks) : NULL;
    pthread_mutex_unlock(&svc->status_lock);
    return copy ? copy : cJSON_CreateObject();
}

/* GET /v1/system/<name>: identity and readiness, reachable through the gateway. */
static sp_handler_result_t system_status(sp_request_t *req, void *ud)
{
    sp_service_t *svc = ud;
    cJSON *body = cJSON_CreateObject();
    int ready = 0;
    cJSON *checks = cached_checks(svc, &ready);
    ready = ready && !svc->draining;
    cJSON_AddStringToObject(body, "service", svc->info->name);
    cJSON_AddStringToObject(body, "version", SP_VERSION);
    cJSON_AddNumberToObject(body, "uptime_seconds", (double)(time(NULL) - svc->started_at));
    cJSON_AddBoolToObject(body, "ready", ready);
    cJSON_AddItemToObject(body, "checks", checks);
    cJSON_AddStringToObject(body, "request_id", sp_request_id(req));
    sp_response_json(sp_request_response(req), 200, body);
    cJSON_Delete(body);
    return SP_HANDLER_DONE;
}

/* ---- creation ---------------------------------------------------------------- */

static void usage(sp_service_t *svc)
{
    printf("%s %s — Serphona service\n\n"
           "Usage: %s [--help | --version | --migrate-only]\n\n"
           "--migrate-only applies this service's migrations and exits.\n\n",
           svc->info->name, SP_VERSION, svc->info->name);
    sp_config_describe(svc->cfg, stdout);
}

sp_service_t *sp_service_new(const char *name, int argc, char **argv)
{
    const sp_service_info_t *info = sp_topology_find(name);
    if (!info) {
        fprintf(stderr, "%s: not a service of the suite\n", name);
        return NULL;
    }
    /* Block the shutdown signals before any thread exists, so every thread
     * inherits the mask and only sp_service_run's sigwait sees them. czmq's
     * own handler would otherwise swallow SIGINT. */
    zsys_handler_set(NULL);
    sp_service_t *svc = calloc(1, sizeof(*svc));
    if (!svc)
        return NULL;
    svc->info = info;
    svc->started_at = time(NULL);
    pthread_mutex_init(&svc->status_lock, NULL);
    sigemptyset(&svc->signals);
    sigaddset(&svc->signals, SIGINT);
    sigaddset(&svc->signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &svc->signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    svc->cfg = sp_config_new(name);
    svc->router = sp_router_new();
    svc->ops_router = sp_router_new();
    svc->strings = sp_arena_new();
    if (!svc->cfg || !svc->router || !svc->ops_router || !svc->strings)
        goto fail;
    /* Every service checks a route's permission against the caller's roles
     * itself, whatever the gateway already checked (defence in depth). */
    sp_router_set_authorizer(svc->router, sp_permissions_authorize, NULL);

    sp_config_t *cfg = svc->cfg;
    int level = sp_config_enum(cfg, "SERPHONA_LOG_LEVEL", SP_LOG_INFO, LOG_LEVELS,
                               "Minimum log level: debug, info, warn or error.");
    sp_log_init(name, (sp_log_level_t)level);
    svc->bind_addr = sp_config_str(cfg, "SERPHONA_BIND_ADDR", "127.0.0.1",
                                   "Address every listener binds (0.0.0.0 in containers).");
    svc->ops_port = sp_config_port(cfg, "SERPHONA_OPS_PORT", info->ops_port,
                                   "Operations HTTP port: /health/live, /health/ready, /metrics.");
    if (info->rpc_port) {
        svc->rpc_port =
            sp_config_port(cfg, "SERPHONA_RPC_PORT", info->rpc_port, "ZeroMQ RPC port (ROUTER).");
        svc->rpc_workers =
            sp_config_int(cfg, "SERPHONA_RPC_WORKERS", 4, 1, 256, "RPC worker threads.");
    }
    if (info->http_port) {
        svc->http_port =
            sp_config_port(cfg, "SERPHONA_HTTP_PORT", info->http_port, "Public HTTP port.");
        svc->http_threads = sp_config_int(cfg, "SERPHONA_HTTP_THREADS", 4, 1, 256,
                                          "HTTP worker threads (epoll thread pool).");
        svc->max_body = sp_config_int(cfg, "SERPHONA_HTTP_MAX_BODY_BYTES", 1 << 20, 1024, 1 << 30,
                                      "Largest request body accepted, in bytes.");
        svc->cors_origins = sp_config_str(cfg, "SERPHONA_CORS_ORIGINS", "",
                                          "Comma-separated origins allowed by CORS, or *.");
    }
    svc->grace_ms = sp_config_int(cfg, "SERPHONA_SHUTDOWN_GRACE_MS", 10000, 0, 600000,
                                  "How long shutdown waits for in-flight requests.");
    svc->topic_prefix = sp_config_str(cfg, "SERPHONA_KAFKA_TOPIC_PREFIX", "",
                                      "Prefix of every Kafka topic name (tests isolate runs).");

    for (int i = 1; i < argc; i++) {
        /* --help is answered by sp_service_run, once main() has declared
         * every dependency and so every variable has been read. */
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            svc->help = 1;
        if (strcmp(argv[i], "--migrate-only") == 0)
            svc->migrate_only = 1;
        if (strcmp(argv[i], "--version") == 0) {
            printf("%s %s\n", name, SP_VERSION);
            sp_service_destroy(&svc);
            exit(0);
        }
    }
    if (sp_config_check(cfg) != 0)
        goto fail;

    char *path = sp_arena_printf(svc->strings, "/v1/system/%s", name);
    if (!path || sp_router_add(svc->router, "GET", path, NULL, system_status, svc) ||
        sp_router_add(svc->ops_router, "GET", "/health/live", NULL, health_live, svc) ||
        sp_router_add(svc->ops_router, "GET", "/health/ready", NULL, health_ready, svc) ||
        sp_router_add(svc->ops_router, "GET", "/metrics", NULL, metrics_page, svc) ||
        sp_router_add(svc->ops_router, "GET", "/routes", NULL, routes_page, svc))
        goto fail;
    return svc;
fail:
    sp_log_error("%s: cannot start: invalid configuration or out of memory", name);
    sp_service_destroy(&svc);
    return NULL;
}

const char *sp_service_name(const sp_service_t *svc)
{
    return svc->info->name;
}

sp_config_t *sp_service_config(sp_service_t *svc)
{
    return svc->cfg;
}

sp_router_t *sp_service_router(sp_service_t *svc)
{
    return svc->router;
}

int sp_service_add_ready_check(sp_service_t *svc, const char *name, sp_ready_fn fn, void *ud)
{
    if (svc->n_checks == MAX_CHECKS)
        return SP_ENOMEM;
    char *copy = sp_arena_strdup(svc->strings, name);
    if (!copy)
        return SP_ENOMEM;
    svc->checks[svc->n_checks++] = (check_t){copy, fn, ud};
    return SP_OK;
}

int sp_service_on_shutdown(sp_service_t *svc, void (*fn)(void *ud), void *ud)
{
    if (svc->n_hooks == MAX_HOOKS)
        return SP_ENOMEM;
    svc->hooks[svc->n_hooks++] = (hook_t){fn, ud};
    return SP_OK;
}

/* ---- dependencies ------------------------------------------------------------ */

/* The use_* functions only read and validate configuration; connecting,
 * migrating and binding happen in sp_service_run, so `--help` can list every
 * variable without touching the network. */

static int db_ready(void *ud)
{
    sp_service_t *svc = ud;
    return svc->db ? sp_db_ping(svc->db) : SP_EUNAVAILABLE;
}

int sp_service_use_postgres(sp_service_t *svc, const char *schema)
{
    sp_config_t *cfg = svc->cfg;
    svc->pg.url = sp_config_required(cfg, "SERPHONA_PG_URL",
                                     "PostgreSQL URI of the app role (no BYPASSRLS).");
    svc->pg.migrate_url =
        sp_config_str(cfg, "SERPHONA_PG_MIGRATE_URL", NULL,
                      "PostgreSQL URI of the owner role; when set, migrations run at start.");
    char *def_dir = sp_arena_printf(svc->strings, "services/%s/migrations", svc->info->name);
    svc->pg.dir = sp_config_str(cfg, "SERPHONA_MIGRATIONS_DIR", def_dir,
                                "Directory of this service's NNN_name.sql migrations.");
    svc->pg.app_role = sp_config_str(cfg, "SERPHONA_PG_APP_ROLE", "serphona_app",
                                     "Role granted access to migrated tables.");
    svc->pg.pool_size = sp_config_int(cfg, "SERPHONA_PG_POOL_SIZE", 8, 1, 512,
                                      "PostgreSQL connections in the pool.");
    svc->pg.schema = sp_arena_strdup(svc->strings, schema);
    svc->pg.wanted = 1;
    return sp_service_add_ready_check(svc, "postgres", db_ready, svc);
}

sp_db_pool_t *sp_service_db(sp_service_t *svc)
{
    return svc->db;
}

static int redis_ready(void *ud)
{
    sp_service_t *svc = ud;
    return svc->redis ? sp_redis_ping(svc->redis) : SP_EUNAVAILABLE;
}

/* Parses redis://[[user]:password@]host[:port][/db]; the db index is ignored
 * because the platform uses key prefixes, not numbered databases. */
static int parse_redis_url(sp_arena_t *arena, const char *url, char **host, int *port,
                           char **password)
{
    const char *p = url;
    if (strncmp(p, "redis://", 8) != 0)
        return SP_EINVAL;
    p += 8;
    *password = NULL;
    const char *at = strchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon)
            *password = sp_arena_strndup(arena, colon + 1, (size_t)(at - colon - 1));
        p = at + 1;
    }
    size_t hlen = strcspn(p, ":/");
    if (hlen == 0)
        return SP_EINVAL;
    *host = sp_arena_strndup(arena, p, hlen);
    *port = 6379;
    if (p[hlen] == ':') {
        char *end = NULL;
        long v = strtol(p + hlen + 1, &end, 10);
        if (v < 1 || v > 65535 || (*end && *end != '/'))
            return SP_EINVAL;
        *port = (int)v;
    }
    return *host ? SP_OK : SP_ENOMEM;
}

int sp_service_use_redis(sp_service_t *svc)
{
    sp_config_t *cfg = svc->cfg;
    const char *url = sp_config_str(cfg, "SERPHONA_REDIS_URL", "redis://127.0.0.1:6379",
                                    "Redis URI: redis://[:password@]host:port.");
    svc->rd.pool_size =
        sp_config_int(cfg, "SERPHONA_REDIS_POOL_SIZE", 8, 1, 512, "Redis connections in the pool.");
    if (parse_redis_url(svc->strings, url, &svc->rd.host, &svc->rd.port, &svc->rd.password) != 0)
        sp_config_add_error(cfg, "SERPHONA_REDIS_URL: expected redis://[:password@]host:port");
    svc->rd.wanted = 1;
    return sp_service_add_ready_check(svc, "redis", redis_ready, svc);
}

sp_redis_pool_t *sp_service_redis(sp_service_t *svc)
{
    return svc->redis;
}

static int ch_ready(void *ud)
{
    sp_service_t *svc = ud;
    return svc->ch ? sp_ch_ping(svc->ch) : SP_EUNAVAILABLE;
}

int sp_service_use_clickhouse(sp_service_t *svc)
{
    sp_config_t *cfg = svc->cfg;
    svc->chc.url = sp_config_str(cfg, "SERPHONA_CLICKHOUSE_URL", "http://127.0.0.1:8123",
                                 "ClickHouse HTTP interface URL.");
    svc->chc.database =
        sp_config_str(cfg, "SERPHONA_CLICKHOUSE_DATABASE", "serphona", "ClickHouse database.");
    svc->chc.user = sp_config_str(cfg, "SERPHONA_CLICKHOUSE_USER", "default", "ClickHouse user.");
    svc->chc.password =
        sp_config_str(cfg, "SERPHONA_CLICKHOUSE_PASSWORD", "", "ClickHouse password.");
    svc->chc.wanted = 1;
    return sp_service_add_ready_check(svc, "clickhouse", ch_ready, svc);
}

int sp_service_migrate_clickhouse(sp_service_t *svc)
{
    int rc = svc->chc.wanted ? SP_OK : sp_service_use_clickhouse(svc);
    svc->chc.schema_dir =
        sp_config_str(svc->cfg, "SERPHONA_CLICKHOUSE_SCHEMA_DIR", "deploy/clickhouse",
                      "Directory of the ClickHouse schema's NNN_name.sql files.");
    svc->chc.migrate = 1;
    return rc;
}

sp_ch_t *sp_service_clickhouse(sp_service_t *svc)
{
    return svc->ch;
}

static int kafka_ready(void *ud)
{
    sp_service_t *svc = ud;
    if (svc->producer)
        return sp_events_producer_ping(svc->producer, 1500);
    return sp_events_ping(svc->kafka_brokers, 1500);
}

/* Reads the brokers once and registers the one Kafka readiness check. */
static int use_kafka(sp_service_t *svc)
{
    if (svc->kafka_wanted)
        return SP_OK;
    svc->kafka_brokers = sp_config_required(svc->cfg, "SERPHONA_KAFKA_BROKERS",
                                            "Kafka bootstrap servers, host:port[,host:port].");
    svc->kafka_wanted = 1;
    return sp_service_add_ready_check(svc, "kafka", kafka_ready, svc);
}

int sp_service_use_kafka_producer(sp_service_t *svc)
{
    svc->producer_wanted = 1;
    return use_kafka(svc);
}

sp_events_producer_t *sp_service_producer(sp_service_t *svc)
{
    return svc->producer;
}

const char *sp_service_topic(sp_service_t *svc, const char *topic)
{
    return sp_arena_printf(svc->strings, "%s%s", svc->topic_prefix, topic);
}

int sp_service_add_consumer(sp_service_t *svc, const char *group_id, const char *const *topics,
                            size_t n_topics, sp_events_handler_fn handler, void *ud)
{
    int rc = use_kafka(svc);
    if (rc)
        return rc;
    if (svc->n_consumers == MAX_CONSUMERS || n_topics == 0 || n_topics > MAX_TOPICS)
        return SP_EINVAL;
    consumer_slot_t *c = &svc->consumers[svc->n_consumers];
    for (size_t i = 0; i < n_topics; i++)
        if (!(c->topics[i] = sp_service_topic(svc, topics[i])))
            return SP_ENOMEM;
    c->n_topics = n_topics;
    if (!(c->group = sp_service_topic(svc, group_id)))
        return SP_ENOMEM;
    c->handler = handler;
    c->ud = ud;
    c->flush = NULL;
    svc->n_consumers++;
    return SP_OK;
}

int sp_service_add_batch_consumer(sp_service_t *svc, const char *group_id,
                                  const char *const *topics, size_t n_topics,
                                  sp_events_handler_fn handler, sp_events_flush_fn flush,
                                  size_t max_messages, int max_wait_ms, void *ud)
{
    if (!flush || max_messages == 0 || max_wait_ms < 0)
        return SP_EINVAL;
    int rc = sp_service_add_consumer(svc, group_id, topics, n_topics, handler, ud);
    if (rc)
        return rc;
    consumer_slot_t *c = &svc->consumers[svc->n_consumers - 1];
    c->flush = flush;
    c->batch_max = max_messages;
    c->batch_wait_ms = max_wait_ms;
    return SP_OK;
}

/* Applies the migrations the use_* calls asked for: PostgreSQL when
 * SERPHONA_PG_MIGRATE_URL is set. Runs before connecting, or alone with
 * --migrate-only (a Kubernetes pre-install/pre-upgrade Job). */
static int run_migrations(sp_service_t *svc)
{
    if (svc->pg.wanted && svc->pg.migrate_url) {
        int rc = sp_db_migrate(svc->pg.migrate_url, svc->pg.schema, svc->pg.dir, svc->pg.app_role);
        if (rc != 0) {
            sp_log_error("migrations of schema %s from %s failed: %s", svc->pg.schema, svc->pg.dir,
                         sp_strerror(rc));
            return rc;
        }
    }
    if (svc->chc.migrate) {
        int rc = sp_ch_migrate(svc->chc.url, svc->chc.user,
                               svc->chc.password && *svc->chc.password ? svc->chc.password : NULL,
                               svc->chc.database, svc->chc.schema_dir);
        if (rc != 0) {
            sp_log_error("ClickHouse migrations of %s from %s failed: %s", svc->chc.database,
                         svc->chc.schema_dir, sp_strerror(rc));
            return rc;
        }
    }
    return SP_OK;
}

/* --migrate-only: migrate and exit, without serving. */
static int migrate_only(sp_service_t *svc)
{
    if (svc->pg.wanted && !svc->pg.migrate_url) {
        sp_log_error("--migrate-only needs SERPHONA_PG_MIGRATE_URL (the owner role)");
        return sp_service_fail(svc);
    }
    if (sp_config_check(svc->cfg) != 0 || run_migrations(svc) != 0)
        return sp_service_fail(svc);
    sp_log_info("%s: migrations applied", svc->info->name);
    sp_service_destroy(&svc);
    return 0;
}

/* Connects what the use_* calls asked for, in dependency order. */
static int connect_dependencies(sp_service_t *svc)
{
    int rc = run_migrations(svc);
    if (rc != 0)
        return rc;
    if (svc->pg.wanted) {
        if (!(svc->db = sp_db_pool_new(svc->pg.url, svc->pg.pool_size)))
            return SP_ENOMEM;
    }
    if (svc->rd.wanted &&
        !(svc->redis = sp_redis_pool_new(svc->rd.host, svc->rd.port, svc->rd.password,
                                         svc->rd.pool_size, 2000)))
        return SP_ENOMEM;
    if (svc->chc.wanted &&
        !(svc->ch = sp_ch_new(svc->chc.url, svc->chc.database, svc->chc.user, svc->chc.password)))
        return SP_ENOMEM;
    if (svc->producer_wanted &&
        !(svc->producer = sp_events_producer_new(svc->kafka_brokers, svc->info->name)))
        return SP_EUNAVAILABLE;
    for (size_t i = 0; i < svc->n_consumers; i++) {
        consumer_slot_t *c = &svc->consumers[i];
        c->consumer = sp_events_consumer_new(svc->kafka_brokers, c->group, c->topics, c->n_topics,
                                             c->handler, c->ud);
        if (!c->consumer)
            return SP_EUNAVAILABLE;
        if (c->flush &&
            sp_events_consumer_set_batch(c->consumer, c->batch_max, c->batch_wait_ms, c->flush))
            return SP_EINVAL;
    }
    return SP_OK;
}

/* ---- servers and clients ------------------------------------------------------- */

int sp_service_serve_rpc(sp_service_t *svc)
{
    if (!svc->info->rpc_port) {
        sp_log_error("%s has no RPC port", svc->info->name);
        return SP_EINVAL;
    }
    svc->serve_rpc = 1;
    return SP_OK;
}

int sp_service_add_method(sp_service_t *svc, const char *method, sp_rpc_method_fn fn, void *ud)
{
    if (svc->n_methods == MAX_METHODS)
        return SP_ENOMEM;
    char *copy = sp_arena_strdup(svc->strings, method);
    if (!copy)
        return SP_ENOMEM;
    svc->methods[svc->n_methods++] = (method_t){copy, fn, ud};
    return SP_OK;
}

static int start_rpc(sp_service_t *svc)
{
    char *endpoint = sp_arena_printf(svc->strings, "tcp://%s:%d", svc->bind_addr, svc->rpc_port);
    if (!endpoint)
        return SP_ENOMEM;
    svc->rpc = sp_rpc_server_new(svc->info->name, endpoint, svc->router, svc->rpc_workers);
    if (!svc->rpc)
        return SP_EIO;
    for (size_t i = 0; i < svc->n_methods; i++) {
        int rc = sp_rpc_server_add_method(svc->rpc, svc->methods[i].name, svc->methods[i].fn,
                                          svc->methods[i].ud);
        if (rc != 0) {
            sp_log_error("cannot register RPC method %s: %s", svc->methods[i].name,
                         sp_strerror(rc));
            return rc;
        }
    }
    return sp_rpc_server_start(svc->rpc);
}

int sp_service_serve_http(sp_service_t *svc)
{
    if (!svc->info->http_port) {
        sp_log_error("%s has no public HTTP port", svc->info->name);
        return SP_EINVAL;
    }
    svc->serve_http = 1;
    return SP_OK;
}

int sp_service_serve_http_router(sp_service_t *svc, const sp_router_t *router)
{
    if (!router)
        return SP_EINVAL;
    int rc = sp_service_serve_http(svc);
    if (rc == SP_OK)
        svc->http_router = router;
    return rc;
}

int sp_service_on_start(sp_service_t *svc, int (*fn)(void *ud), void *ud)
{
    if (!fn)
        return SP_EINVAL;
    if (svc->n_start_hooks == MAX_HOOKS)
        return SP_ENOMEM;
    svc->start_hooks[svc->n_start_hooks].fn = fn;
    svc->start_hooks[svc->n_start_hooks].ud = ud;
    svc->n_start_hooks++;
    return SP_OK;
}

sp_rpc_client_t *sp_service_client(sp_service_t *svc, const char *service_name)
{
    for (size_t i = 0; i < svc->n_clients; i++)
        if (strcmp(svc->clients[i].service, service_name) == 0)
            return svc->clients[i].client;
    const sp_service_info_t *peer = sp_topology_find(service_name);
    if (!peer || !peer->rpc_port || svc->n_clients == MAX_CLIENTS)
        return NULL;
    char *var = sp_arena_printf(svc->strings, "SERPHONA_%s_RPC", peer->env_name);
    char *def = sp_arena_printf(svc->strings, "tcp://127.0.0.1:%d", peer->rpc_port);
    char *doc = sp_arena_printf(svc->strings, "ZeroMQ endpoint of %s.", service_name);
    if (!var || !def || !doc)
        return NULL;
    const char *endpoint = sp_config_str(svc->cfg, var, def, doc);
    sp_rpc_client_t *client = sp_rpc_client_new(endpoint);
    if (!client)
        return NULL;
    client_slot_t *slot = &svc->clients[svc->n_clients++];
    slot->service = sp_arena_strdup(svc->strings, service_name);
    slot->client = client;
    return client;
}

/* ---- running ------------------------------------------------------------------- */

static void *consumer_main(void *arg)
{
    sp_events_consumer_run(arg);
    return NULL;
}

static void stop_everything(sp_service_t *svc)
{
    svc->draining = 1;
    /* Order: no new work in (HTTP, RPC), then consumers (which commit what
     * they stored), then user hooks, then the producer flush, then the
     * connections, and the operations port last so probes see the drain. */
    if (svc->http)
        sp_http_server_stop(svc->http);
    if (svc->rpc)
        sp_rpc_server_stop(svc->rpc);
    for (size_t i = 0; i < svc->n_consumers; i++) {
        consumer_slot_t *c = &svc->consumers[i];
        if (c->consumer)
            sp_events_consumer_stop(c->consumer);
        if (c->running)
            pthread_join(c->thread, NULL);
        c->running = 0;
    }
    for (size_t i = svc->n_hooks; i > 0; i--)
        svc->hooks[i - 1].fn(svc->hooks[i - 1].ud);
    svc->n_hooks = 0;
    if (svc->producer) {
        int rc = sp_events_producer_flush(svc->producer, svc->grace_ms);
        if (rc)
            sp_log_error("kafka flush at shutdown failed: %s", sp_strerror(rc));
    }
    if (svc->ops)
        sp_http_server_stop(svc->ops);
}

void sp_service_destroy(sp_service_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_service_t *svc = *self_p;
    stop_everything(svc);
    sp_http_server_destroy(&svc->http);
    sp_http_server_destroy(&svc->ops);
    sp_rpc_server_destroy(&svc->rpc);
    for (size_t i = 0; i < svc->n_consumers; i++)
        sp_events_consumer_destroy(&svc->consumers[i].consumer);
    for (size_t i = 0; i < svc->n_clients; i++)
        sp_rpc_client_destroy(&svc->clients[i].client);
    sp_events_producer_destroy(&svc->producer);
    sp_ch_destroy(&svc->ch);
    sp_redis_pool_destroy(&svc->redis);
    sp_db_pool_destroy(&svc->db);
    sp_router_destroy(&svc->router);
    sp_router_destroy(&svc->ops_router);
    sp_config_destroy(&svc->cfg);
    sp_arena_destroy(&svc->strings);
    free(svc->status_checks);
    pthread_mutex_destroy(&svc->status_lock);
    free(svc);
    *self_p = NULL;
}

int sp_service_fail(sp_service_t *svc)
{
    sp_log_error("start-up failed");
    sp_service_destroy(&svc);
    return 1;
}

static int start_everything(sp_service_t *svc)
{
    sp_gauge_set(sp_gauge_new("serphona_build_info", "Version of the running binary.", 2, "service",
                              "version"),
                 1, svc->info->name, SP_VERSION);
    sp_gauge_set(sp_gauge_new("process_start_time_seconds",
                              "Start time of the process since the Unix epoch in seconds.", 0),
                 (double)svc->started_at);

    sp_http_options_t ops = {.bind_address = svc->bind_addr,
                             .port = svc->ops_port,
                             .threads = 2,
                             .service = svc->info->name};
    svc->ops = sp_http_server_new(&ops, svc->ops_router);
    if (!svc->ops || sp_http_server_start(svc->ops) != 0)
        return SP_EIO;
    int rc = connect_dependencies(svc);
    if (rc != 0)
        return rc;
    if (svc->serve_rpc && start_rpc(svc) != 0)
        return SP_EIO;
    if (svc->serve_http) {
        sp_http_options_t pub = {.bind_address = svc->bind_addr,
                                 .port = svc->http_port,
                                 .threads = (unsigned)svc->http_threads,
                                 .max_body_bytes = (size_t)svc->max_body,
                                 .cors_origins = svc->cors_origins,
                                 .service = svc->info->name,
                                 .shutdown_grace_ms = (unsigned)svc->grace_ms};
        svc->http = sp_http_server_new(&pub, svc->http_router ? svc->http_router : svc->router);
        if (!svc->http || sp_http_server_start(svc->http) != 0)
            return SP_EIO;
    }
    for (size_t i = 0; i < svc->n_consumers; i++) {
        consumer_slot_t *c = &svc->consumers[i];
        if (!c->consumer)
            continue;
        if (pthread_create(&c->thread, NULL, consumer_main, c->consumer) != 0)
            return SP_EIO;
        c->running = 1;
    }
    for (size_t i = 0; i < svc->n_start_hooks; i++) {
        int rc_hook = svc->start_hooks[i].fn(svc->start_hooks[i].ud);
        if (rc_hook != 0) {
            sp_log_error("a start hook failed: %s", sp_strerror(rc_hook));
            return rc_hook;
        }
    }
    return SP_OK;
}

int sp_service_run(sp_service_t *svc)
{
    if (svc->help) {
        usage(svc);
        sp_service_destroy(&svc);
        return 0;
    }
    if (svc->migrate_only)
        return migrate_only(svc);
    if (sp_config_check(svc->cfg) != 0 || start_everything(svc) != 0)
        return sp_service_fail(svc);
    sp_log_info("%s %s started: ops http://%s:%d%s%s", svc->info->name, SP_VERSION, svc->bind_addr,
                sp_http_server_port(svc->ops), svc->rpc ? ", rpc " : "",
                svc->rpc ? sp_rpc_server_endpoint(svc->rpc) : "");
    if (svc->http)
        sp_log_info("public http://%s:%d", svc->bind_addr, sp_http_server_port(svc->http));

    int sig = 0;
    sigwait(&svc->signals, &sig);
    sp_log_info("received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    stop_everything(svc);
    sp_service_destroy(&svc);
    sp_log_info("stopped cleanly");
    return 0;
}
