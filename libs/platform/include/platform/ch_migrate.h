/*
 * ch_migrate.h — apply a ClickHouse schema from NNN_name.sql files.
 *
 * ClickHouse has no transactions, so "apply once" means: a file is recorded
 * in <database>.schema_migrations only after every statement in it
 * succeeded, and every statement must be idempotent (CREATE ... IF NOT
 * EXISTS), so a file interrupted half-way is simply run again. Two processes
 * migrating at once therefore converge too. Statements in a file are
 * separated by a ';' at the end of a line; "--" comment lines are dropped.
 */
#ifndef SP_CH_MIGRATE_H
#define SP_CH_MIGRATE_H

#include "platform/clickhouse.h"

/* Creates database (a name of [A-Za-z0-9_]) if missing and applies dir's
 * migrations not yet recorded there, in version order. admin is a client
 * with no default database; the statements run with database as the
 * default, so they name tables unqualified. Returns 0, SP_EINVAL (bad name
 * or file), SP_EIO, SP_EDB (a statement failed: the file is logged) or
 * SP_EUNAVAILABLE. */
int sp_ch_migrate(const char *base_url, const char *user, const char *password,
                  const char *database, const char *dir);

#endif
