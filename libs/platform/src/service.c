/*
 * service.c — process life cycle of a Serphona service (service.h): creation,
 * servers and clients, running and shutdown. Operations endpoints are in
 * service_ops.c, dependencies in service_deps.c.
 */
#include "service_internal.h"

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

static const char *const LOG_LEVELS[] = {"debug", "info", "warn", "error", NULL};

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

    if (sp_svc_add_ops_routes(svc) != SP_OK)
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
    int rc = sp_svc_connect_dependencies(svc);
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
        return sp_svc_migrate_only(svc);
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
