/*
 * request.c — the transport-independent request and response (request.h).
 *
 * Everything lives in the request's arena: headers, parameters and the
 * response body are small arrays grown by doubling inside the arena, which
 * wastes the old copy but keeps every free a no-op until the arena goes.
 */
#include "platform/request.h"
#include "platform/text.h"
#include "platform/json.h"
#include "platform/error.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    const char *name;
    const char *value;
} pair_t;

typedef struct {
    pair_t *items;
    size_t n, cap;
} pairs_t;

struct sp_response {
    sp_arena_t *arena;
    int status;
    pairs_t headers;
    const char *body;
    size_t body_len;
};

struct sp_request {
    sp_arena_t *arena;
    const char *method, *path, *raw_query, *remote_addr, *id, *traceparent;
    pairs_t query, params, headers;
    const char *body;
    size_t body_len;
    int64_t deadline;
    sp_auth_t *auth;
    const char *encoding_problem; /* set while parsing the query */
    sp_response_t resp;
    void (*on_complete)(sp_request_t *, void *);
    void *on_complete_ud;
};

static int pairs_add(sp_arena_t *arena, pairs_t *p, const char *name, size_t name_len,
                     const char *value, size_t value_len)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        pair_t *items = sp_arena_alloc(arena, cap * sizeof(pair_t));
        if (!items)
            return SP_ENOMEM;
        if (p->n)
            memcpy(items, p->items, p->n * sizeof(pair_t));
        p->items = items;
        p->cap = cap;
    }
    char *n = sp_arena_strndup(arena, name, name_len);
    char *v = sp_arena_strndup(arena, value, value_len);
    if (!n || !v)
        return SP_ENOMEM;
    p->items[p->n].name = n;
    p->items[p->n].value = v;
    p->n++;
    return SP_OK;
}

static const char *pairs_find(const pairs_t *p, const char *name, int ignore_case)
{
    for (size_t i = 0; i < p->n; i++) {
        int eq = ignore_case ? strcasecmp(p->items[i].name, name) : strcmp(p->items[i].name, name);
        if (eq == 0)
            return p->items[i].value;
    }
    return NULL;
}

sp_request_t *sp_request_new(void)
{
    sp_arena_t *arena = sp_arena_new();
    if (!arena)
        return NULL;
    sp_request_t *req = sp_arena_alloc(arena, sizeof(*req));
    if (!req) {
        sp_arena_destroy(&arena);
        return NULL;
    }
    req->arena = arena;
    req->method = "GET";
    req->path = "/";
    req->raw_query = "";
    req->remote_addr = "";
    req->id = "";
    req->body = "";
    req->resp.arena = arena;
    req->resp.status = 200;
    req->resp.body = "";
    return req;
}

void sp_request_destroy(sp_request_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_arena_t *arena = (*self_p)->arena;
    *self_p = NULL;
    sp_arena_destroy(&arena);
}

static int set_str(sp_arena_t *arena, const char **field, const char *value)
{
    char *copy = sp_arena_strdup(arena, value ? value : "");
    if (!copy)
        return SP_ENOMEM;
    *field = copy;
    return SP_OK;
}

int sp_request_set_method(sp_request_t *req, const char *method)
{
    return set_str(req->arena, &req->method, method);
}

int sp_request_set_path(sp_request_t *req, const char *path)
{
    return set_str(req->arena, &req->path, path);
}

int sp_request_set_remote_addr(sp_request_t *req, const char *addr)
{
    return set_str(req->arena, &req->remote_addr, addr);
}

int sp_request_set_id(sp_request_t *req, const char *request_id)
{
    return set_str(req->arena, &req->id, request_id);
}

int sp_request_set_traceparent(sp_request_t *req, const char *traceparent)
{
    if (!traceparent || !*traceparent) {
        req->traceparent = NULL;
        return SP_OK;
    }
    return set_str(req->arena, &req->traceparent, traceparent);
}

void sp_request_set_deadline(sp_request_t *req, int64_t deadline_unix_ms)
{
    req->deadline = deadline_unix_ms;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes application/x-www-form-urlencoded text in place ('+' is a space);
 * a malformed escape is kept literally rather than rejected, as browsers do. */
static size_t url_decode(char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            s[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            s[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            s[o++] = s[i];
        }
    }
    s[o] = '\0';
    return o;
}

int sp_request_set_query(sp_request_t *req, const char *raw_query)
{
    if (!raw_query)
        raw_query = "";
    int rc = set_str(req->arena, &req->raw_query, raw_query);
    if (rc)
        return rc;
    req->query.n = 0;
    const char *p = raw_query;
    while (*p) {
        size_t seg = strcspn(p, "&");
        if (seg > 0) {
            char *part = sp_arena_strndup(req->arena, p, seg);
            if (!part)
                return SP_ENOMEM;
            char *eq = strchr(part, '=');
            char *value = eq ? eq + 1 : part + seg;
            if (eq)
                *eq = '\0';
            size_t nlen = url_decode(part, strlen(part));
            size_t vlen = url_decode(value, strlen(value));
            if (!req->encoding_problem &&
                (!sp_utf8_valid(part, nlen) || !sp_utf8_valid(value, vlen)))
                req->encoding_problem = "a query parameter is not valid UTF-8 or holds a NUL";
            rc = pairs_add(req->arena, &req->query, part, nlen, value, vlen);
            if (rc)
                return rc;
        }
        p += seg;
        if (*p == '&')
            p++;
    }
    return SP_OK;
}

int sp_request_add_header(sp_request_t *req, const char *name, const char *value)
{
    return pairs_add(req->arena, &req->headers, name, strlen(name), value ? value : "",
                     value ? strlen(value) : 0);
}

int sp_request_add_param(sp_request_t *req, const char *name, const char *value)
{
    return pairs_add(req->arena, &req->params, name, strlen(name), value, strlen(value));
}

int sp_request_set_body(sp_request_t *req, const void *body, size_t len)
{
    char *copy = sp_arena_strndup(req->arena, body ? body : "", body ? len : 0);
    if (!copy)
        return SP_ENOMEM;
    req->body = copy;
    req->body_len = body ? len : 0;
    return SP_OK;
}

static const char **copy_strv(sp_arena_t *arena, const char **src, size_t n)
{
    if (n == 0)
        return NULL;
    const char **dst = sp_arena_alloc(arena, n * sizeof(char *));
    if (!dst)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(dst[i] = sp_arena_strdup(arena, src[i] ? src[i] : "")))
            return NULL;
    return dst;
}

int sp_request_set_auth(sp_request_t *req, const sp_auth_t *auth)
{
    if (!auth) {
        req->auth = NULL;
        return SP_OK;
    }
    sp_auth_t *a = sp_arena_alloc(req->arena, sizeof(*a));
    if (!a)
        return SP_ENOMEM;
    a->tenant_id =
        auth->tenant_id && *auth->tenant_id ? sp_arena_strdup(req->arena, auth->tenant_id) : NULL;
    a->subject = sp_arena_strdup(req->arena, auth->subject ? auth->subject : "");
    a->roles = copy_strv(req->arena, auth->roles, auth->n_roles);
    a->n_roles = a->roles ? auth->n_roles : 0;
    a->scopes = copy_strv(req->arena, auth->scopes, auth->n_scopes);
    a->n_scopes = a->scopes ? auth->n_scopes : 0;
    a->timezone =
        auth->timezone && *auth->timezone ? sp_arena_strdup(req->arena, auth->timezone) : NULL;
    if (!a->subject || (auth->n_roles && !a->roles) || (auth->n_scopes && !a->scopes))
        return SP_ENOMEM;
    req->auth = a;
    return SP_OK;
}

void sp_request_on_complete(sp_request_t *req, void (*fn)(sp_request_t *, void *), void *ud)
{
    req->on_complete = fn;
    req->on_complete_ud = ud;
}

const char *sp_request_method(const sp_request_t *req)
{
    return req->method;
}

const char *sp_request_path(const sp_request_t *req)
{
    return req->path;
}

const char *sp_request_raw_query(const sp_request_t *req)
{
    return req->raw_query;
}

const char *sp_request_remote_addr(const sp_request_t *req)
{
    return req->remote_addr;
}

const char *sp_request_id(const sp_request_t *req)
{
    return req->id;
}

const char *sp_request_traceparent(const sp_request_t *req)
{
    return req->traceparent;
}

int64_t sp_request_deadline(const sp_request_t *req)
{
    return req->deadline;
}

const char *sp_request_query(const sp_request_t *req, const char *name)
{
    return pairs_find(&req->query, name, 0);
}

const char *sp_request_param(const sp_request_t *req, const char *name)
{
    return pairs_find(&req->params, name, 0);
}

const char *sp_request_header(const sp_request_t *req, const char *name)
{
    return pairs_find(&req->headers, name, 1);
}

size_t sp_request_header_count(const sp_request_t *req)
{
    return req->headers.n;
}

void sp_request_header_at(const sp_request_t *req, size_t i, const char **name, const char **value)
{
    *name = i < req->headers.n ? req->headers.items[i].name : NULL;
    *value = i < req->headers.n ? req->headers.items[i].value : NULL;
}

const char *sp_request_body(const sp_request_t *req, size_t *len)
{
    if (len)
        *len = req->body_len;
    return req->body;
}

static void json_free(void *p)
{
    cJSON_Delete(p);
}

/* application/json, or a structured-syntax "+json" type (RFC 6839), with
 * any parameters. */
static int json_media_type(const char *ct)
{
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
           (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0);
}

int sp_request_json(sp_request_t *req, cJSON **out)
{
    *out = NULL;
    const char *ct = sp_request_header(req, "Content-Type");
    if (ct && !json_media_type(ct)) {
        sp_response_error(&req->resp, 415, "unsupported_media_type",
                          "the request body must be application/json");
        return SP_EINVAL;
    }
    if (!req->body_len) {
        sp_response_error(&req->resp, 400, "invalid_json", "a JSON request body is required");
        return SP_EINVAL;
    }
    const char *why = NULL;
    cJSON *json = NULL;
    int rc = sp_json_parse(req->body, req->body_len, &json, &why);
    if (rc == SP_EINVAL) {
        sp_response_error(&req->resp, 400, "invalid_json", "the request body is not valid JSON: %s",
                          why);
        return rc;
    }
    if (rc != SP_OK || sp_arena_defer(req->arena, json_free, json)) {
        sp_response_error(&req->resp, 500, "internal", "out of memory");
        return SP_ENOMEM;
    }
    *out = json;
    return SP_OK;
}

int sp_request_json_object(sp_request_t *req, const char *const *allowed, cJSON **out)
{
    int rc = sp_request_json(req, out);
    if (rc != SP_OK)
        return rc;
    if (!cJSON_IsObject(*out)) {
        *out = NULL;
        sp_response_error(&req->resp, 400, "invalid_body", "the body must be a JSON object");
        return SP_EINVAL;
    }
    const char *unknown = sp_json_unknown_member(*out, allowed);
    if (unknown) {
        *out = NULL;
        sp_response_error(&req->resp, 400, "unknown_field", "unknown field \"%.64s\"", unknown);
        return SP_EINVAL;
    }
    return SP_OK;
}

const char *sp_request_encoding_problem(const sp_request_t *req)
{
    if (req->encoding_problem)
        return req->encoding_problem;
    if (req->path && !sp_utf8_valid(req->path, strlen(req->path)))
        return "the path is not valid UTF-8";
    return NULL;
}

const sp_auth_t *sp_request_auth(const sp_request_t *req)
{
    return req->auth;
}

int sp_request_has_role(const sp_request_t *req, const char *role)
{
    if (!req->auth)
        return 0;
    for (size_t i = 0; i < req->auth->n_roles; i++)
        if (strcmp(req->auth->roles[i], role) == 0)
            return 1;
    return 0;
}

sp_arena_t *sp_request_arena(sp_request_t *req)
{
    return req->arena;
}

sp_response_t *sp_request_response(sp_request_t *req)
{
    return &req->resp;
}

void sp_request_complete(sp_request_t *req)
{
    if (req->on_complete)
        req->on_complete(req, req->on_complete_ud);
}

/* ---- response ------------------------------------------------------------ */

void sp_response_set_status(sp_response_t *resp, int status)
{
    resp->status = status;
}

int sp_response_status(const sp_response_t *resp)
{
    return resp->status;
}

int sp_response_set_header(sp_response_t *resp, const char *name, const char *value)
{
    for (size_t i = 0; i < resp->headers.n; i++) {
        if (strcasecmp(resp->headers.items[i].name, name) == 0) {
            const char *copy = sp_arena_strdup(resp->arena, value);
            if (!copy)
                return SP_ENOMEM;
            resp->headers.items[i].value = copy;
            return SP_OK;
        }
    }
    return pairs_add(resp->arena, &resp->headers, name, strlen(name), value, strlen(value));
}

const char *sp_response_header(const sp_response_t *resp, const char *name)
{
    return pairs_find(&resp->headers, name, 1);
}

size_t sp_response_header_count(const sp_response_t *resp)
{
    return resp->headers.n;
}

void sp_response_header_at(const sp_response_t *resp, size_t i, const char **name,
                           const char **value)
{
    *name = i < resp->headers.n ? resp->headers.items[i].name : NULL;
    *value = i < resp->headers.n ? resp->headers.items[i].value : NULL;
}

int sp_response_set_body(sp_response_t *resp, const void *body, size_t len,
                         const char *content_type)
{
    char *copy = sp_arena_strndup(resp->arena, body ? body : "", body ? len : 0);
    if (!copy)
        return SP_ENOMEM;
    resp->body = copy;
    resp->body_len = body ? len : 0;
    return content_type ? sp_response_set_header(resp, "Content-Type", content_type) : SP_OK;
}

const char *sp_response_body(const sp_response_t *resp, size_t *len)
{
    if (len)
        *len = resp->body_len;
    return resp->body;
}

int sp_response_json(sp_response_t *resp, int status, const cJSON *json)
{
    char *text = cJSON_PrintUnformatted(json);
    if (!text)
        return SP_ENOMEM;
    resp->status = status;
    int rc = sp_response_set_body(resp, text, strlen(text), "application/json");
    cJSON_free(text);
    return rc;
}

int sp_response_error(sp_response_t *resp, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *message = sp_arena_vprintf(resp->arena, fmt, ap);
    va_end(ap);
    cJSON *root = cJSON_CreateObject();
    cJSON *err = cJSON_AddObjectToObject(root, "error");
    int rc = SP_ENOMEM;
    if (message && err && cJSON_AddStringToObject(err, "code", code) &&
        cJSON_AddStringToObject(err, "message", message))
        rc = sp_response_json(resp, status, root);
    cJSON_Delete(root);
    if (rc)
        resp->status = status; /* At least the status is right. */
    return rc;
}
