/*
 * config.h — twelve-factor configuration from environment variables.
 *
 * A service reads every setting at start through one sp_config_t, giving each
 * variable its default and a one-line description at the point of use:
 *
 *   sp_config_t *cfg = sp_config_new("billing");
 *   int port = sp_config_port(cfg, "SERPHONA_RPC_PORT", 7103, "ZeroMQ RPC port.");
 *   const char *db = sp_config_required(cfg, "SERPHONA_DB_URL", "PostgreSQL URI.");
 *   if (sp_config_check(cfg) != 0) exit(2);
 *
 * Variables are named SERPHONA_<WORD>, upper case. A malformed value never
 * stops the reads that follow: it is recorded as an error naming the variable
 * and the default is returned, so sp_config_check() can report every mistake
 * in one go instead of one per restart. An empty value counts as unset (an
 * orchestrator that renders "KEY=" means "use the default").
 *
 * A config is read by one thread at start; it is not thread-safe. Values are
 * never logged, because some of them are secrets.
 */
#ifndef SP_CONFIG_H
#define SP_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef struct sp_config sp_config_t;

/* A new config for the named service (used by sp_config_describe); NULL when
 * out of memory. Free with sp_config_destroy. */
sp_config_t *sp_config_new(const char *service);

/* Frees the config and every string it returned. Accepts NULL and sets
 * *self_p to NULL. */
void sp_config_destroy(sp_config_t **self_p);

/* The variable's value, or def (which may be NULL) when it is unset. The
 * returned string is owned by the config and valid until it is destroyed. */
const char *sp_config_str(sp_config_t *cfg, const char *name, const char *def, const char *doc);

/* Like sp_config_str for a variable without a sensible default: when unset,
 * records the error "NAME: required but not set" and returns NULL. */
const char *sp_config_required(sp_config_t *cfg, const char *name, const char *doc);

/* A base-10 integer in [min, max] (surrounding blanks allowed). When unset
 * returns def; when malformed or out of range records "NAME: expected an
 * integer between MIN and MAX, got 'VALUE'" and returns def. */
int sp_config_int(sp_config_t *cfg, const char *name, int def, int min, int max, const char *doc);

/* sp_config_int over 1..65535. */
int sp_config_port(sp_config_t *cfg, const char *name, int def, const char *doc);

/* 1 for "1", "true", "yes", "on"; 0 for "0", "false", "no", "off" (any
 * case). When unset returns def; otherwise records an error and returns def. */
int sp_config_bool(sp_config_t *cfg, const char *name, int def, const char *doc);

/* The index in choices (a NULL-terminated list) of the variable's value,
 * matched case-sensitively. When unset returns def; when not one of the
 * choices records "NAME: expected one of a, b, c, got 'VALUE'" and returns def.
 * Suits e.g. SERPHONA_LOG_LEVEL over {"debug", "info", "warn", "error"}. */
int sp_config_enum(sp_config_t *cfg, const char *name, int def, const char *const *choices,
                   const char *doc);

/* Records an error found by the service itself, such as two settings that
 * contradict each other; the message should name the variables. */
void sp_config_add_error(sp_config_t *cfg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Logs every recorded error, one error line each, and returns SP_ECONFIG when
 * there was any (SP_ENOMEM when the config ran out of memory), 0 otherwise. */
int sp_config_check(sp_config_t *cfg);

/* The number of recorded errors and the i-th message (NULL past the end); the
 * string is owned by the config. */
size_t sp_config_error_count(const sp_config_t *cfg);
const char *sp_config_error(const sp_config_t *cfg, size_t i);

/* Prints every variable read so far, once each, with its type, default (or
 * "required") and description, for a service's --help. Values are not
 * printed. */
void sp_config_describe(const sp_config_t *cfg, FILE *out);

#endif
