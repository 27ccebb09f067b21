/*
 * tenant_settings.h — a tenant's name and settings (locale, time zone,
 * retention, allowed origins) as a create or update body gives them:
 * checked, and turned into the parameters of TM_TENANT_SETTINGS_SET.
 *
 * Rules: name 1..200 bytes; settings is an object of only the known keys;
 * locale a BCP 47 tag; timezone a zone name PostgreSQL knows; retention_days
 * 1..3650; allowed_origins at most 32 "scheme://host[:port]" with a
 * lower-case host and no path. Each bad value answers 400 with its own code
 * (invalid_name, unknown_setting, invalid_locale, ...).
 */
#ifndef TM_TENANT_SETTINGS_H
#define TM_TENANT_SETTINGS_H

#include "tm.h"

/* Parsed settings of a create or update body; NULL = leave unchanged. All
 * strings live in the request arena or the body. */
typedef struct {
    const char *name, *locale, *timezone, *retention_days, *origins_json;
} tm_tenant_settings_t;

/* Reads "name" and "settings" from body into s. On a bad value replies 400
 * and returns SP_EINVAL; on a database error (the timezone is checked
 * against the database's zone names inside tx) replies 5xx and returns it;
 * SP_ENOMEM when out of memory. */
int tm_tenant_settings_read(sp_request_t *req, sp_db_tx_t *tx, const cJSON *body,
                            tm_tenant_settings_t *s);

/* The SET list shared by create-with-settings and update: $2..$6 are name,
 * locale, timezone, retention_days, allowed_origins (JSON array), in the
 * order of tm_tenant_settings_t. */
#define TM_TENANT_SETTINGS_SET                                                                     \
    "name = coalesce($2, name), locale = coalesce($3, locale), "                                   \
    "timezone = coalesce($4, timezone), retention_days = coalesce($5::int, retention_days), "      \
    "allowed_origins = coalesce((SELECT array_agg(x) FROM jsonb_array_elements_text($6::jsonb) "   \
    "x), CASE WHEN $6 IS NULL THEN allowed_origins ELSE '{}' END), updated_at = now() "

#endif
