/*
 * service_deps.c — the dependencies a service asks for (PostgreSQL, Redis,
 * ClickHouse, Kafka), their readiness checks and migrations, connected by
 * sp_service_run (service.h).
 */
#include "service_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/ch_migrate.h"
#include "platform/error.h"
#include "platform/log.h"

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
int sp_svc_migrate_only(sp_service_t *svc)
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
int sp_svc_connect_dependencies(sp_service_t *svc)
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
