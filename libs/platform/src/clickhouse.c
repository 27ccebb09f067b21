/*
 * clickhouse.c — ClickHouse HTTP client over libcurl.
 *
 * One CURL easy handle per call: creating one costs microseconds next to a
 * ClickHouse query, and it makes the client trivially thread-safe. TCP
 * connections are not reused between calls as a result; analytics queries
 * are few and heavy, so that is the right trade.
 */
#include "platform/clickhouse.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/buf.h"
#include "platform/error.h"
#include "platform/log.h"

#define CONNECT_TIMEOUT_MS 2000L
#define PING_TIMEOUT_MS    2000L
#define DEFAULT_TIMEOUT_MS 30000
/* How much of an error response goes into the log line. */
#define LOG_BODY_MAX 512

struct sp_ch {
    char *base_url;
    char *database;
    char *user;
    char *password;
    int timeout_ms;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

/* curl_global_init is not thread-safe on every build; run it exactly once. */
static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

sp_ch_t *sp_ch_new(const char *base_url, const char *database, const char *user,
                   const char *password)
{
    if (!base_url || strncmp(base_url, "http", 4) != 0)
        return NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        sp_log_error("clickhouse: curl_global_init failed: %s", curl_easy_strerror(curl_init_rc));
        return NULL;
    }
    sp_ch_t *ch = calloc(1, sizeof(*ch));
    if (!ch)
        return NULL;
    size_t n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/')
        n--;
    ch->base_url = strndup(base_url, n);
    ch->database = database && *database ? strdup(database) : NULL;
    ch->user = user && *user ? strdup(user) : NULL;
    ch->password = password ? strdup(password) : NULL;
    ch->timeout_ms = DEFAULT_TIMEOUT_MS;
    if (!ch->base_url || (database && *database && !ch->database) || (user && *user && !ch->user) ||
        (password && !ch->password)) {
        sp_ch_destroy(&ch);
        return NULL;
    }
    return ch;
}

void sp_ch_destroy(sp_ch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_ch_t *ch = *self_p;
    *self_p = NULL;
    if (ch->password) {
        explicit_bzero(ch->password, strlen(ch->password));
        free(ch->password);
    }
    free(ch->user);
    free(ch->database);
    free(ch->base_url);
    free(ch);
}

void sp_ch_set_timeout(sp_ch_t *ch, int timeout_ms)
{
    ch->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    size_t n = size * nmemb;
    if (sp_buf_append(ud, ptr, n) != 0)
        return 0; /* makes curl abort the transfer */
    return n;
}

/* Maps a failed transfer to an SP code, logging curl's reason. */
static int transfer_error(CURLcode cc, const char *what, const char *errbuf)
{
    const char *reason = errbuf[0] ? errbuf : curl_easy_strerror(cc);
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        sp_log_error("clickhouse: %s timed out: %s", what, reason);
        return SP_ETIMEDOUT;
    }
    if (cc == CURLE_OUT_OF_MEMORY || cc == CURLE_WRITE_ERROR)
        return SP_ENOMEM;
    sp_log_error("clickhouse: %s failed: %s", what, reason);
    return SP_EUNAVAILABLE;
}

static void set_auth(CURL *curl, const sp_ch_t *ch)
{
    if (ch->user) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERNAME, ch->user);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, ch->password ? ch->password : "");
    }
}

/*
 * Copies a server error message for the log, replacing the contents of
 * string literals with "..": ClickHouse quotes the failing part of the query,
 * and literals there may be customer text. A quote only opens a literal after
 * a non-alphanumeric character, so "doesn't" stays readable.
 */
static void redact(const char *src, size_t len, char *dst, size_t cap)
{
    size_t w = 0;
    int in_literal = 0;
    for (size_t i = 0; i < len && w + 3 < cap; i++) {
        char c = src[i];
        if (in_literal) {
            if (c == '\\' && i + 1 < len) {
                i++;
            } else if (c == '\'') {
                in_literal = 0;
                dst[w++] = '.', dst[w++] = '.', dst[w++] = '\'';
            }
            continue;
        }
        if (c == '\'' && (i == 0 || !isalnum((unsigned char)src[i - 1])))
            in_literal = 1;
        dst[w++] = (c == '\n' || c == '\r') ? ' ' : c;
    }
    while (w > 0 && dst[w - 1] == ' ')
        w--;
    dst[w] = '\0';
}

/* Parse errors in INSERT data quote the offending input after the first
 * ": " of the exception text ("Cannot parse input: expected \" before: ...");
 * that input is customer data, so only the error's name is kept. */
static void cut_data_excerpt(char *msg)
{
    char *ex = strstr(msg, "Exception: ");
    char *colon = strstr(ex ? ex + 11 : msg, ": ");
    if (colon)
        snprintf(colon, strlen(colon) + 1, "%s", " (input excerpt omitted)");
}

int sp_ch_ping(sp_ch_t *ch)
{
    CURL *curl = curl_easy_init();
    if (!curl)
        return SP_ENOMEM;
    char url[1024];
    snprintf(url, sizeof(url), "%s/ping", ch->base_url);
    sp_buf_t body;
    sp_buf_init(&body, 0);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, PING_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    int rc = 0;
    if (cc != CURLE_OK) {
        transfer_error(cc, "ping", errbuf);
        rc = SP_EUNAVAILABLE;
    } else if (status != 200 || strncmp(sp_buf_data(&body), "Ok.", 3) != 0) {
        sp_log_warn("clickhouse: ping answered HTTP %ld", status);
        rc = SP_EUNAVAILABLE;
    }
    sp_buf_cleanup(&body);
    curl_easy_cleanup(curl);
    return rc;
}

int sp_ch_exec(sp_ch_t *ch, const char *sql, const char *body, size_t body_len, char **out,
               size_t *out_len)
{
    if (out)
        *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!sql || (!body && body_len > 0))
        return SP_EINVAL;
    CURL *curl = curl_easy_init();
    if (!curl)
        return SP_ENOMEM;
    int rc = SP_ENOMEM;
    char *url = NULL, *esc_sql = NULL, *esc_db = NULL;
    sp_buf_t resp;
    sp_buf_init(&resp, 0);
    char errbuf[CURL_ERROR_SIZE] = "";

    if (ch->database && !(esc_db = curl_easy_escape(curl, ch->database, 0)))
        goto done;
    if (body && !(esc_sql = curl_easy_escape(curl, sql, 0)))
        goto done;
    /* wait_end_of_query: the server buffers the result, so an exception
     * late in the query becomes an HTTP error instead of a 200 with the
     * error text appended to partial data. */
    if (asprintf(&url, "%s/?wait_end_of_query=1%s%s%s%s", ch->base_url, esc_db ? "&database=" : "",
                 esc_db ? esc_db : "", esc_sql ? "&query=" : "", esc_sql ? esc_sql : "") < 0) {
        url = NULL;
        goto done;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)ch->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, sql);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(sql));
    }
    set_auth(curl, ch);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);

    CURLcode cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) {
        rc = sp_buf_failed(&resp) ? SP_ENOMEM : transfer_error(cc, "query", errbuf);
        goto done;
    }
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        char msg[LOG_BODY_MAX + 1];
        redact(sp_buf_data(&resp), sp_buf_len(&resp), msg, sizeof(msg));
        if (body)
            cut_data_excerpt(msg);
        sp_log_error("clickhouse: query failed with HTTP %ld: %s", status, msg);
        /* ClickHouse itself answers 4xx/500 for refused queries; 502-504
         * come from a proxy in front of an unreachable server. */
        rc = (status == 502 || status == 503 || status == 504) ? SP_EUNAVAILABLE : SP_EDB;
        goto done;
    }
    if (out) {
        *out = sp_buf_take(&resp, out_len);
        if (!*out)
            goto done;
    }
    rc = 0;

done:
    sp_buf_cleanup(&resp);
    free(url);
    if (esc_sql)
        curl_free(esc_sql);
    if (esc_db)
        curl_free(esc_db);
    curl_easy_cleanup(curl);
    return rc;
}

char *sp_ch_quote(sp_arena_t *arena, const char *s)
{
    size_t n = 2;
    for (const char *p = s; *p; p++)
        n += (*p == '\\' || *p == '\'' || (unsigned char)*p < 0x20 || *p == 0x7f) ? 4 : 1;
    char *out = sp_arena_alloc(arena, n + 1);
    if (!out)
        return NULL;
    char *w = out;
    *w++ = '\'';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '\\':
            *w++ = '\\', *w++ = '\\';
            break;
        case '\'':
            *w++ = '\\', *w++ = '\'';
            break;
        case '\n':
            *w++ = '\\', *w++ = 'n';
            break;
        case '\r':
            *w++ = '\\', *w++ = 'r';
            break;
        case '\t':
            *w++ = '\\', *w++ = 't';
            break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                /* \xHH is understood by ClickHouse's string literal parser. */
                static const char hex[] = "0123456789abcdef";
                *w++ = '\\', *w++ = 'x', *w++ = hex[*p >> 4], *w++ = hex[*p & 0xf];
            } else {
                *w++ = (char)*p;
            }
        }
    }
    *w++ = '\'';
    *w = '\0';
    return out;
}
