/*
 * service.h — the life of one Serphona service process.
 *
 * A service's main() is a table of contents on top of this module:
 *
 *   sp_service_t *svc = sp_service_new("billing", argc, argv);
 *   if (!svc) return 2;
 *   sp_service_use_postgres(svc, "billing");      // pool + migrations + readiness
 *   sp_service_use_kafka_producer(svc);
 *   billing_routes_register(sp_service_router(svc), svc);
 *   sp_service_serve_rpc(svc);
 *   return sp_service_run(svc);                    // until SIGTERM, then drains
 *
 * What the runtime owns: configuration (SERPHONA_* variables, validated
 * together, `--help` lists them), logging, the operations HTTP port
 * (/health/live, /health/ready, /metrics), the service's router (shared by its
 * public HTTP server and its RPC server), the connections to PostgreSQL,
 * Redis, ClickHouse and Kafka, readiness checks for each, and graceful
 * shutdown: on SIGTERM or SIGINT it stops accepting work, finishes what is in
 * flight, stops consumers (committing stored offsets), flushes the Kafka
 * producer and returns 0 from sp_service_run.
 *
 * Every sp_service_use_* / serve_* / add_* call must come before
 * sp_service_run. They only read and validate configuration and record what
 * is wanted; sp_service_run then connects (running migrations first), binds
 * and starts, so `--help` lists every variable without touching the network.
 * They return 0 or a negative SP_E* code; a main() simply returns
 * sp_service_fail(svc) when one fails. The dependency getters
 * (sp_service_db, ...) return NULL until sp_service_run has started, which is
 * before any handler runs.
 *
 * Built in on every service's router: GET /v1/system/<service-name>, the
 * service's name, version, uptime and readiness, which the gateway forwards
 * like any other route.
 */
#ifndef SP_SERVICE_H
#define SP_SERVICE_H

#include "platform/clickhouse.h"
#include "platform/config.h"
#include "platform/db.h"
#include "platform/events.h"
#include "platform/redis.h"
#include "platform/router.h"
#include "platform/rpc.h"

#define SP_VERSION "0.1.0"

typedef struct sp_service sp_service_t;

/* A readiness check: 0 when the dependency answers, else a negative SP_E*. It
 * must return within about two seconds. */
typedef int (*sp_ready_fn)(void *ud);

/* Creates the service named name (one of topology.h), reading the common
 * configuration. Signals are blocked in every thread created afterwards so
 * only sp_service_run sees them. Handles `--help` (prints the variables and
 * exits 0) and `--version`. With `--migrate-only`, sp_service_run applies the
 * migrations the use_* calls asked for (SERPHONA_PG_MIGRATE_URL is then
 * required where PostgreSQL is used) and returns 0 without serving, or 1 when
 * they failed: what a deployment's migration job runs. Returns NULL after
 * logging every configuration error. */
sp_service_t *sp_service_new(const char *name, int argc, char **argv);

/* Stops whatever runs and frees everything. Accepts NULL; sets *self_p NULL. */
void sp_service_destroy(sp_service_t **self_p);

const char *sp_service_name(const sp_service_t *svc);
sp_config_t *sp_service_config(sp_service_t *svc);
sp_router_t *sp_service_router(sp_service_t *svc);

/* PostgreSQL: a pool on SERPHONA_PG_URL (the app role). When
 * SERPHONA_PG_MIGRATE_URL (the owner role) is set, first applies
 * SERPHONA_MIGRATIONS_DIR (default services/<name>/migrations) into schema,
 * granting the app role SERPHONA_PG_APP_ROLE (default serphona_app). */
int sp_service_use_postgres(sp_service_t *svc, const char *schema);
sp_db_pool_t *sp_service_db(sp_service_t *svc);

/* Redis on SERPHONA_REDIS_URL (redis://[:password@]host:port). */
int sp_service_use_redis(sp_service_t *svc);
sp_redis_pool_t *sp_service_redis(sp_service_t *svc);

/* ClickHouse over HTTP on SERPHONA_CLICKHOUSE_URL, database
 * SERPHONA_CLICKHOUSE_DATABASE. */
int sp_service_use_clickhouse(sp_service_t *svc);
sp_ch_t *sp_service_clickhouse(sp_service_t *svc);

/* Also applies the ClickHouse schema (SERPHONA_CLICKHOUSE_SCHEMA_DIR, default
 * deploy/clickhouse; see ch_migrate.h) before connecting. Implies
 * sp_service_use_clickhouse. */
int sp_service_migrate_clickhouse(sp_service_t *svc);

/* The Kafka producer on SERPHONA_KAFKA_BROKERS; flushed at shutdown. */
int sp_service_use_kafka_producer(sp_service_t *svc);
sp_events_producer_t *sp_service_producer(sp_service_t *svc);

/* A consumer in group group_id over the given topic names (each prefixed with
 * SERPHONA_KAFKA_TOPIC_PREFIX), run on its own thread from sp_service_run and
 * stopped, with its stored offsets committed, at shutdown. */
int sp_service_add_consumer(sp_service_t *svc, const char *group_id, const char *const *topics,
                            size_t n_topics, sp_events_handler_fn handler, void *ud);

/* The same, as a batch consumer (events.h sp_events_consumer_set_batch):
 * flush(ud) makes up to max_messages accepted messages durable at once, at
 * the latest max_wait_ms after the oldest was accepted, and at shutdown. */
int sp_service_add_batch_consumer(sp_service_t *svc, const char *group_id,
                                  const char *const *topics, size_t n_topics,
                                  sp_events_handler_fn handler, sp_events_flush_fn flush,
                                  size_t max_messages, int max_wait_ms, void *ud);

/* A Kafka topic name with the configured prefix; owned by the service. */
const char *sp_service_topic(sp_service_t *svc, const char *topic);

/* Serves the router and typed methods over ZeroMQ on
 * tcp://SERPHONA_BIND_ADDR:SERPHONA_RPC_PORT. Returns 0, or SP_EINVAL for a
 * service without an RPC port. */
int sp_service_serve_rpc(sp_service_t *svc);

/* Registers a typed RPC method ("<service>.<Method>", see rpc.h), served once
 * the service runs. Returns 0 or SP_ENOMEM. */
int sp_service_add_method(sp_service_t *svc, const char *method, sp_rpc_method_fn fn, void *ud);

/* Serves the router over public HTTP on SERPHONA_HTTP_PORT. */
int sp_service_serve_http(sp_service_t *svc);

/* Serves router on the public HTTP port instead of the service's own router
 * (which RPC keeps serving), for a service that must act on that port only
 * before dispatch: the tools-gateway resolves a partner's API key there, then
 * calls sp_router_dispatch(sp_service_router(svc), req), while requests the
 * auth-gateway forwards over RPC already carry their auth context. Implies
 * sp_service_serve_http. router is borrowed and must outlive svc. Returns 0
 * or SP_EINVAL (no public HTTP port, or router NULL). */
int sp_service_serve_http_router(sp_service_t *svc, const sp_router_t *router);

/* An RPC client to another service of the suite, connected to
 * SERPHONA_<SERVICE>_RPC (default tcp://127.0.0.1:<its default port>).
 * Owned by the service, destroyed at shutdown; NULL on failure. */
sp_rpc_client_t *sp_service_client(sp_service_t *svc, const char *service_name);

/* Adds a readiness check shown in /health/ready under name. */
int sp_service_add_ready_check(sp_service_t *svc, const char *name, sp_ready_fn fn, void *ud);

/* Runs fn(ud) during shutdown, after servers and consumers stopped and before
 * connections close, in reverse order of registration. */
int sp_service_on_shutdown(sp_service_t *svc, void (*fn)(void *ud), void *ud);

/* Runs fn(ud) once sp_service_run has connected the dependencies and started
 * the servers and consumers, in order of registration, on the thread of
 * sp_service_run: where a service starts its own background threads (they
 * can use the dependency getters from then on). A non-zero return fails the
 * start (sp_service_run then returns 1, running the shutdown hooks). Returns
 * 0, SP_EINVAL or SP_ENOMEM. */
int sp_service_on_start(sp_service_t *svc, int (*fn)(void *ud), void *ud);

/* Connects the dependencies (migrating first), starts everything, logs where
 * it listens, waits for SIGTERM or SIGINT and shuts down gracefully. Returns the process exit code:
 * 0 after a clean shutdown, 1 when something could not start. Destroys svc either way. */
int sp_service_run(sp_service_t *svc);

/* For main(): logs that start-up failed, destroys svc, returns 1. */
int sp_service_fail(sp_service_t *svc);

#endif
