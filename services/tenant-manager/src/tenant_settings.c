/*
 * tenant_settings.c — a tenant's name and settings as a request gives them
 * (tenant_settings.h).
 */
#include "tenant_settings.h"

#include "platform/json.h"

#include "platform/error.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ORIGINS 32

/* "https://host[:port]" or "http://host[:port]", lower-case host, no path. */
static int is_origin(const char *s)
{
    const char *host;
    if (strncmp(s, "https://", 8) == 0)
        host = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        host = s + 7;
    else
        return 0;
    size_t n = strlen(host);
    if (n == 0 || n > 253 + 6)
        return 0;
    const char *colon = NULL;
    for (const char *p = host; *p; p++) {
        if (*p == ':') {
            if (colon || p == host)
                return 0;
            colon = p;
        } else if (colon) {
            if (!isdigit((unsigned char)*p))
                return 0;
        } else if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' ||
                     *p == '.')) {
            return 0;
        }
    }
    if (colon) {
        long port = strtol(colon + 1, NULL, 10);
        if (colon[1] == '\0' || port < 1 || port > 65535)
            return 0;
    }
    return 1;
}

/* BCP 47 shape: a 2-3 letter language, then subtags of 2-8 letters/digits. */
static int is_locale(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
    if (n < 2 || n > 3)
        return 0;
    s += n;
    while (*s == '-') {
        s++;
        n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
        if (n < 2 || n > 8)
            return 0;
        s += n;
    }
    return *s == '\0' && n <= 8;
}

int tm_tenant_settings_read(sp_request_t *req, sp_db_tx_t *tx, const cJSON *body,
                            tm_tenant_settings_t *s)
{
    sp_response_t *resp = sp_request_response(req);
    sp_arena_t *arena = sp_request_arena(req);
    memset(s, 0, sizeof(*s));
    int r = tm_json_str(body, "name", 200, &s->name);
    if (r < 0 || (r > 0 && !*s->name)) {
        sp_response_error(resp, 400, "invalid_name", "name must be a string of 1 to 200 bytes");
        return SP_EINVAL;
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(body, "settings");
    if (!st || cJSON_IsNull(st))
        return SP_OK;
    if (!cJSON_IsObject(st)) {
        sp_response_error(resp, 400, "invalid_settings", "settings must be an object");
        return SP_EINVAL;
    }
    static const char *const known[] = {"locale", "timezone", "retention_days", "allowed_origins",
                                        NULL};
    const char *unknown = sp_json_unknown_member(st, known);
    if (unknown) {
        sp_response_error(resp, 400, "unknown_setting", "unknown setting '%.64s'", unknown);
        return SP_EINVAL;
    }
    r = tm_json_str(st, "locale", 35, &s->locale);
    if (r < 0 || (r > 0 && !is_locale(s->locale))) {
        sp_response_error(resp, 400, "invalid_locale", "locale must be a BCP 47 tag like en-US");
        return SP_EINVAL;
    }
    r = tm_json_str(st, "timezone", 64, &s->timezone);
    if (r < 0) {
        sp_response_error(resp, 400, "invalid_timezone", "timezone must be an IANA zone name");
        return SP_EINVAL;
    }
    if (r > 0) {
        PGresult *res = NULL;
        const char *p[] = {s->timezone};
        int rc = sp_db_tx_query_arena(tx, arena, "SELECT 1 FROM pg_timezone_names WHERE name = $1",
                                      1, p, &res);
        if (rc != 0) {
            tm_reply_db_error(req, rc);
            return rc;
        }
        if (PQntuples(res) == 0) {
            sp_response_error(resp, 400, "invalid_timezone",
                              "timezone must be an IANA zone name like Europe/Paris");
            return SP_EINVAL;
        }
    }
    const cJSON *rd = cJSON_GetObjectItemCaseSensitive(st, "retention_days");
    if (rd && !cJSON_IsNull(rd)) {
        /* The range test before the cast: converting a double outside int
         * (1e20) is undefined behaviour. */
        if (!cJSON_IsNumber(rd) || !(rd->valuedouble >= 1 && rd->valuedouble <= 3650) ||
            rd->valuedouble != (double)(int)rd->valuedouble) {
            sp_response_error(resp, 400, "invalid_retention_days",
                              "retention_days must be an integer from 1 to 3650");
            return SP_EINVAL;
        }
        s->retention_days = sp_arena_printf(arena, "%d", rd->valueint);
    }
    const cJSON *ao = cJSON_GetObjectItemCaseSensitive(st, "allowed_origins");
    if (ao && !cJSON_IsNull(ao)) {
        int n = cJSON_IsArray(ao) ? cJSON_GetArraySize(ao) : -1;
        if (n < 0 || n > MAX_ORIGINS) {
            sp_response_error(resp, 400, "invalid_origin",
                              "allowed_origins must be an array of at most %d origins",
                              MAX_ORIGINS);
            return SP_EINVAL;
        }
        for (const cJSON *o = ao->child; o; o = o->next) {
            if (!cJSON_IsString(o) || !is_origin(o->valuestring)) {
                sp_response_error(resp, 400, "invalid_origin",
                                  "each allowed origin must look like https://console.example.com"
                                  " (scheme, lower-case host, optional port, no path)");
                return SP_EINVAL;
            }
        }
        char *text = cJSON_PrintUnformatted(ao);
        s->origins_json = text ? sp_arena_strdup(arena, text) : NULL;
        cJSON_free(text);
        if (!s->origins_json)
            return SP_ENOMEM;
    }
    return SP_OK;
}
