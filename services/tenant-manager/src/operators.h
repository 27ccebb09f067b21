/*
 * operators.h — platform operators: the first account of an empty platform
 * and `tenant-manager --create-operator`.
 *
 * No password is ever built in. At start, when the operators table is empty
 * and SERPHONA_OPERATOR_EMAIL + SERPHONA_OPERATOR_PASSWORD are set, that
 * account is created (several replicas starting at once create it once).
 * `tenant-manager --create-operator` creates an operator, or resets the
 * password of an existing one and re-enables it, from the same variables or,
 * when they are unset, from two lines on stdin (email, then password); it
 * migrates the schema first when SERPHONA_PG_MIGRATE_URL is set, prints the
 * operator's id and exits.
 */
#ifndef TM_OPERATORS_H
#define TM_OPERATORS_H

#include "tm.h"

/* Creates the operator email/password (validated as any password) or, with
 * reset, sets the password of the existing operator of that email and
 * re-enables it. With only_if_empty, does nothing unless the operators
 * table is empty. Writes the id (or "" when nothing was done) into
 * id_out (SP_UUID_STR_LEN bytes) and the outcome into *created (1 new, 0
 * updated or skipped). Returns 0; SP_EINVAL with *why a static message for
 * a bad email or password; or a database error. */
int tm_operator_upsert(tm_t *tm, const char *email, const char *password, int only_if_empty,
                       int reset, char *id_out, int *created, const char **why);

/* Whether argv asks for --create-operator. */
int tm_operators_cli_wanted(int argc, char **argv);

/* The --create-operator command (see above); returns the exit code. svc has
 * had sp_service_use_postgres; it is destroyed here. */
int tm_operators_cli(tm_t *tm, sp_service_t *svc);

/* Start-up work that needs the database before the service serves: migrate
 * (when SERPHONA_PG_MIGRATE_URL is set), create the configured first
 * operator, and start the maintenance thread that purges deleted tenants
 * (tenant_purge.h). Skipped under --help and --migrate-only. Returns 0, or an SP_E* code after
 * logging why (the service must not start). */
int tm_startup(tm_t *tm, int argc, char **argv);

#endif
