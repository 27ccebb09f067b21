/*
 * service_internal.h — private to libs/platform/src/service*.c: the service
 * struct and what service.c (creation, servers, running), service_ops.c
 * (operations endpoints) and service_deps.c (dependencies) share. The public
 * contract is platform/service.h.
 */
#ifndef SP_SERVICE_INTERNAL_H
#define SP_SERVICE_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "platform/http.h"
#include "platform/service.h"
#include "platform/topology.h"

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
    int64_t status_at_ms; /* sp_clock_mono_ms() of the last refresh */
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

/* ---- operations endpoints (service_ops.c) --------------------------------- */

/* Adds GET /v1/system/<name> to the public router and /health/live,
 * /health/ready, /metrics and /routes to the operations router. Returns 0 or
 * a negative SP_* code. */
int sp_svc_add_ops_routes(sp_service_t *svc);

/* ---- dependencies (service_deps.c) ---------------------------------------- */

/* --migrate-only: runs the migrations the service asked for and returns the
 * process exit code. */
int sp_svc_migrate_only(sp_service_t *svc);

/* Connects every dependency a sp_service_use_* call asked for, running
 * migrations first. Returns 0 or a negative SP_* code (already logged). */
int sp_svc_connect_dependencies(sp_service_t *svc);

#endif
