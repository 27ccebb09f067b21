/*
 * ch_migrate.c — ClickHouse schema migrations (ch_migrate.h).
 */
#include "platform/ch_migrate.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/migrations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    return 1;
}

/* Runs each statement of script (split at ';' ending a line). */
static int run_statements(sp_ch_t *ch, char *script, const char *file)
{
    char *p = script;
    while (*p) {
        /* Find the end of this statement: a ';' followed by only blanks up
         * to the end of its line (or of the file). */
        char *end = p;
        for (;;) {
            end = strchr(end, ';');
            if (!end)
                break;
            char *q = end + 1;
            while (*q == ' ' || *q == '\t' || *q == '\r')
                q++;
            if (*q == '\n' || *q == '\0')
                break;
            end++;
        }
        char *next = end ? end + 1 : p + strlen(p);
        if (end)
            *end = '\0';
        /* Drop comment lines and see whether anything is left. */
        char *w = p;
        int has_sql = 0;
        for (char *line = p; line && *line;) {
            char *nl = strchr(line, '\n');
            size_t len = nl ? (size_t)(nl - line) + 1 : strlen(line);
            const char *t = line;
            while (*t == ' ' || *t == '\t')
                t++;
            if (strncmp(t, "--", 2) != 0) {
                memmove(w, line, len);
                for (size_t i = 0; i < len; i++)
                    if (w[i] != ' ' && w[i] != '\t' && w[i] != '\n' && w[i] != '\r')
                        has_sql = 1;
                w += len;
            }
            line = nl ? nl + 1 : NULL;
        }
        *w = '\0';
        if (has_sql) {
            int rc = sp_ch_exec(ch, p, NULL, 0, NULL, NULL);
            if (rc != 0) {
                sp_log_error("clickhouse: migrate: a statement of %s failed: %s", file,
                             sp_strerror(rc));
                return rc;
            }
        }
        p = next;
    }
    return SP_OK;
}

/* Whether version is among the recorded ones (TabSeparated text). */
static int recorded(const char *applied, int version)
{
    for (const char *p = applied; p && *p;) {
        if (atoi(p) == version) // NOLINT(cert-err34-c): ClickHouse wrote these numbers.
            return 1;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return 0;
}

int sp_ch_migrate(const char *base_url, const char *user, const char *password,
                  const char *database, const char *dir)
{
    if (!valid_name(database))
        return SP_EINVAL;
    sp_ch_t *admin = sp_ch_new(base_url, NULL, user, password);
    sp_ch_t *ch = sp_ch_new(base_url, database, user, password);
    sp_migration_t *list = NULL;
    size_t count = 0;
    char *applied = NULL, sql[256];
    int rc = SP_ENOMEM;
    if (!admin || !ch)
        goto done;
    snprintf(sql, sizeof sql, "CREATE DATABASE IF NOT EXISTS %s", database);
    if ((rc = sp_ch_exec(admin, sql, NULL, 0, NULL, NULL)) != 0)
        goto done;
    rc = sp_ch_exec(ch,
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, "
                    "applied_at DateTime) ENGINE = ReplacingMergeTree() ORDER BY version",
                    NULL, 0, NULL, NULL);
    if (rc != 0)
        goto done;
    if ((rc = sp_ch_exec(ch, "SELECT version FROM schema_migrations FORMAT TabSeparated", NULL, 0,
                         &applied, NULL)) != 0)
        goto done;
    if ((rc = sp_migrations_list("clickhouse", dir, &list, &count)) != 0)
        goto done;
    size_t done_now = 0;
    for (size_t i = 0; i < count; i++) {
        if (recorded(applied, list[i].version))
            continue;
        char *script = NULL;
        if ((rc = sp_migrations_read("clickhouse", dir, list[i].name, &script)) != 0)
            goto done;
        rc = run_statements(ch, script, list[i].name);
        free(script);
        if (rc != 0)
            goto done;
        snprintf(sql, sizeof sql,
                 "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%d, '%s', "
                 "now())",
                 list[i].version, list[i].name); /* the name matched [A-Za-z0-9_-.] */
        if ((rc = sp_ch_exec(ch, sql, NULL, 0, NULL, NULL)) != 0)
            goto done;
        done_now++;
    }
    sp_log_info("clickhouse: migrate: database %s up to date (%zu applied now, %zu files)",
                database, done_now, count);
    rc = SP_OK;
done:
    sp_migrations_free(list, count);
    free(applied);
    sp_ch_destroy(&ch);
    sp_ch_destroy(&admin);
    return rc;
}
