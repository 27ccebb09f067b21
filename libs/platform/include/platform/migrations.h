/*
 * migrations.h — the NNN_name.sql files of a schema, for every store that
 * migrates (PostgreSQL in db.c, ClickHouse in clickhouse.c).
 *
 * A migration directory holds files named NNN_name.sql: a version of one or
 * more digits, '_', a name of [A-Za-z0-9_-], ".sql". Other files are ignored,
 * but a *.sql that breaks the pattern, or two files with one version, is an
 * error: silently skipping it would leave a schema behind.
 */
#ifndef SP_MIGRATIONS_H
#define SP_MIGRATIONS_H

#include <stddef.h>

typedef struct {
    int version;
    char *name; /* file name, e.g. "001_init.sql" */
} sp_migration_t;

/* Lists dir's migrations sorted by version into a malloc'd array (*out, with
 * *count entries; free with sp_migrations_free). what prefixes log lines
 * ("db", "clickhouse"). Returns 0, SP_EIO (cannot read dir), SP_EINVAL (a
 * malformed name or duplicate version, logged) or SP_ENOMEM. */
int sp_migrations_list(const char *what, const char *dir, sp_migration_t **out, size_t *count);

/* Frees a list from sp_migrations_list. Accepts NULL. */
void sp_migrations_free(sp_migration_t *list, size_t count);

/* Reads dir/name (at most 16 MiB) into a NUL-terminated malloc'd string the
 * caller frees. Returns 0, SP_EIO, SP_ETOOBIG or SP_ENOMEM. */
int sp_migrations_read(const char *what, const char *dir, const char *name, char **out);

#endif
