/*
 * operators.c — operator bootstrap, --create-operator, start-up (operators.h).
 */
#include "operators.h"

#include "passwords.h"
#include "tenant_purge.h"

#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/periodic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tm_operator_upsert(tm_t *tm, const char *email_in, const char *password, int only_if_empty,
                       int reset, char *id_out, int *created, const char **why)
{
    *created = 0;
    id_out[0] = '\0';
    *why = NULL;
    sp_arena_t *arena = sp_arena_new();
    if (!arena)
        return SP_ENOMEM;
    int rc = SP_EINVAL;
    const char *email = tm_email_normalize(arena, email_in);
    char hash[TM_PASSWORD_HASH_MAX], id[SP_UUID_STR_LEN];
    if (!email) {
        *why = "the operator email is not a valid address";
        goto done;
    }
    if (tm_password_policy(password, email, why) != NULL)
        goto done;
    if ((rc = tm_password_hash(password, tm->pbkdf2_iterations, hash)) != 0 ||
        (rc = sp_uuid_v4(id)) != 0)
        goto done;

    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    if ((rc = sp_db_tx_begin(tm_db(tm), NULL, &tx)) != 0)
        goto done;
    const char *p[] = {id, email, hash};
    /* NOT EXISTS + ON CONFLICT: two replicas bootstrapping at once insert
     * one row between them. */
    rc = sp_db_tx_query_arena(
        tx, arena,
        only_if_empty
            ? "INSERT INTO tenant.operators (id, email, password_hash) SELECT $1, $2, $3 "
              "WHERE NOT EXISTS (SELECT 1 FROM tenant.operators) "
              "ON CONFLICT (email) DO NOTHING RETURNING id"
            : "INSERT INTO tenant.operators (id, email, password_hash) VALUES ($1, $2, $3) "
              "ON CONFLICT (email) DO NOTHING RETURNING id",
        3, p, &res);
    if (rc == 0 && PQntuples(res) == 1) {
        *created = 1;
        snprintf(id_out, SP_UUID_STR_LEN, "%s", PQgetvalue(res, 0, 0));
    } else if (rc == 0 && reset) {
        const char *pu[] = {email, hash};
        rc = sp_db_tx_query_arena(tx, arena,
                                  "UPDATE tenant.operators SET password_hash = $2, status = "
                                  "'active', updated_at = now() WHERE email = $1 RETURNING id",
                                  2, pu, &res);
        if (rc == 0 && PQntuples(res) == 1)
            snprintf(id_out, SP_UUID_STR_LEN, "%s", PQgetvalue(res, 0, 0));
    }
    rc = rc == 0 ? sp_db_tx_commit(&tx) : (sp_db_tx_rollback(&tx), rc);
done:
    memset(hash, 0, sizeof(hash));
    sp_arena_destroy(&arena);
    return rc;
}

int tm_operators_cli_wanted(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--create-operator") == 0)
            return 1;
    return 0;
}

/* --help must not touch the network, and a --migrate-only job only
 * migrates (sp_service_run does that). */
static int skip_startup(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
            strcmp(argv[i], "--migrate-only") == 0)
            return 1;
    return 0;
}

/* Reads one line from stdin without its newline into buf. */
static int read_line(char *buf, size_t cap)
{
    if (!fgets(buf, (int)cap, stdin))
        return SP_EIO;
    buf[strcspn(buf, "\r\n")] = '\0';
    return SP_OK;
}

typedef struct {
    const char *url, *migrate_url, *dir, *app_role;
} pg_settings_t;

/* The PostgreSQL settings sp_service_use_postgres read (reading a variable
 * twice returns the same value). */
static void pg_settings(sp_config_t *cfg, pg_settings_t *s)
{
    s->url = sp_config_str(cfg, "SERPHONA_PG_URL", NULL, "PostgreSQL URI of the app role.");
    s->migrate_url =
        sp_config_str(cfg, "SERPHONA_PG_MIGRATE_URL", NULL, "PostgreSQL URI of the owner role.");
    s->dir = sp_config_str(cfg, "SERPHONA_MIGRATIONS_DIR", "services/tenant-manager/migrations",
                           "Directory of this service's migrations.");
    s->app_role = sp_config_str(cfg, "SERPHONA_PG_APP_ROLE", "serphona_app", "App role.");
}

/* Migrates when an owner URL is configured and opens a small pool of the
 * app role into tm->db. */
static int open_db(tm_t *tm, sp_config_t *cfg)
{
    pg_settings_t s;
    pg_settings(cfg, &s);
    if (!s.url)
        return SP_ECONFIG;
    if (s.migrate_url) {
        int rc = sp_db_migrate(s.migrate_url, TM_SCHEMA, s.dir, s.app_role);
        if (rc != 0) {
            sp_log_error("migrations of schema %s from %s failed: %s", TM_SCHEMA, s.dir,
                         sp_strerror(rc));
            return rc;
        }
    }
    tm->db = sp_db_pool_new(s.url, 2);
    return tm->db ? SP_OK : SP_ENOMEM;
}

int tm_operators_cli(tm_t *tm, sp_service_t *svc)
{
    sp_config_t *cfg = sp_service_config(svc);
    const char *email = tm->operator_email;
    const char *password = tm->operator_password;
    char email_buf[320], pw_buf[512];
    int code = 1;
    if (!email || !*email) {
        if (read_line(email_buf, sizeof(email_buf)) != 0) {
            fprintf(stderr, "--create-operator: expected the email on stdin\n");
            goto done;
        }
        email = email_buf;
    }
    if (!password || !*password) {
        if (read_line(pw_buf, sizeof(pw_buf)) != 0) {
            fprintf(stderr, "--create-operator: expected the password on stdin\n");
            goto done;
        }
        password = pw_buf;
    }
    if (sp_config_check(cfg) != 0 || open_db(tm, cfg) != 0) {
        fprintf(stderr, "--create-operator: cannot reach the database (see the log)\n");
        goto done;
    }
    char id[SP_UUID_STR_LEN];
    int created = 0;
    const char *why = NULL;
    int rc = tm_operator_upsert(tm, email, password, 0, 1, id, &created, &why);
    if (rc == SP_EINVAL && why)
        fprintf(stderr, "--create-operator: %s\n", why);
    else if (rc != 0)
        fprintf(stderr, "--create-operator: failed: %s\n", sp_strerror(rc));
    else {
        printf("operator %s %s\n", id, created ? "created" : "password reset");
        code = 0;
    }
done:
    memset(pw_buf, 0, sizeof(pw_buf));
    sp_db_pool_destroy(&tm->db);
    sp_service_destroy(&svc);
    return code;
}

/* ---- start-up and maintenance -------------------------------------------------- */

typedef struct {
    tm_t *tm;
    sp_db_pool_t *db;    /* the task's own pool */
    sp_periodic_t *task; /* NULL when SERPHONA_TENANT_PURGE_INTERVAL_SECONDS is 0 */
} maint_t;

static void purge_once(tm_t *tm, sp_db_pool_t *db)
{
    int purged = 0;
    int rc = tm_tenants_purge(db, tm->purge_after_days, &purged);
    if (rc != 0)
        sp_log_warn("purging deleted tenants failed: %s", sp_strerror(rc));
    else if (purged)
        sp_log_info("purged %d deleted tenant(s)", purged);
}

static void maint_purge(void *ud)
{
    maint_t *m = ud;
    purge_once(m->tm, m->db);
}

static void maint_stop(void *ud)
{
    maint_t *m = ud;
    sp_periodic_destroy(&m->task);
    sp_db_pool_destroy(&m->db);
    free(m);
}

int tm_startup(tm_t *tm, int argc, char **argv)
{
    sp_config_t *cfg = sp_service_config(tm->svc);
    /* A bad configuration is reported by sp_service_run with every other
     * error. */
    if (skip_startup(argc, argv) || sp_config_check(cfg) != 0)
        return SP_OK;
    int rc = open_db(tm, cfg);
    if (rc != 0)
        return rc;
    const char *email = tm->operator_email;
    const char *password = tm->operator_password;
    if (email && *email && password && *password) {
        char id[SP_UUID_STR_LEN];
        int created = 0;
        const char *why = NULL;
        rc = tm_operator_upsert(tm, email, password, 1, 0, id, &created, &why);
        if (rc != 0) {
            sp_log_error("cannot create the first platform operator from "
                         "SERPHONA_OPERATOR_EMAIL/SERPHONA_OPERATOR_PASSWORD: %s",
                         why ? why : sp_strerror(rc));
            sp_db_pool_destroy(&tm->db);
            return rc;
        }
        if (created)
            sp_log_info("created the first platform operator %s", id);
    }
    purge_once(tm, tm->db);

    /* The maintenance thread keeps the start-up pool; request handlers use
     * the service's own pool once it runs. */
    maint_t *m = calloc(1, sizeof(*m));
    if (!m) {
        sp_db_pool_destroy(&tm->db);
        return SP_ENOMEM;
    }
    m->tm = tm;
    m->db = tm->db;
    tm->db = NULL;
    /* The start-up pass just ran: the next one is an interval away. */
    int64_t every_ms = (int64_t)tm->purge_interval_s * 1000;
    if (every_ms > 0 &&
        !(m->task = sp_periodic_start("tm-purge", every_ms, every_ms, maint_purge, m)))
        sp_log_warn("deleted tenants are purged only at start: no purge thread");
    return sp_service_on_shutdown(tm->svc, maint_stop, m);
}
