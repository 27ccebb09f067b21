/*
 * fuzz_request.c — the HTTP request layer above libmicrohttpd, from the
 * strings MHD hands over to the handler's answer: the request model
 * (request.c: query decoding, headers, body, JSON body, auth copy), trace
 * context parsing (trace.c), routing (router.c) over the route table of
 * every service, and the permission check (permissions.c) the services
 * install as authorizer.
 *
 * Input, HTTP/1.1-like: "METHOD TARGET" on the first line (TARGET split at
 * '?' into path and raw query, as MHD does), then "Name: value" header lines
 * up to an empty line, then the body. A header "x-fuzz-auth:
 * tenant|subject|role,role|scope,scope" makes the request authenticated.
 *
 * What this cannot reach: http.c's MHD callbacks and http_framing.c, which
 * read an MHD_Connection only a live socket provides (fuzz_http does that).
 */
#include "fuzz_common.h"

#include <strings.h>

#include <cjson/cJSON.h>

#include "platform/error.h"
#include "platform/permissions.h"
#include "platform/request.h"
#include "platform/router.h"
#include "platform/trace.h"

#include "fuzz_routes.h"

static sp_router_t *router;

/* Reads everything a handler may read, and answers. */
static sp_handler_result_t handler(sp_request_t *req, void *ud)
{
    (void)ud;
    static const char *const QUERIES[] = {"q", "from", "to", "limit", "cursor", "channel", ""};
    size_t n = 0;
    for (size_t i = 0; i < sizeof QUERIES / sizeof *QUERIES; i++) {
        const char *v = sp_request_query(req, QUERIES[i]);
        n += v ? strlen(v) : 0;
    }
    const char *id = sp_request_param(req, "id"), *rest = sp_request_param(req, "*");
    n += (id ? strlen(id) : 0) + (rest ? strlen(rest) : 0);
    size_t len;
    const char *body = sp_request_body(req, &len);
    if (!body)
        abort(); /* never NULL */
    cJSON *json = NULL;
    sp_response_t *resp = sp_request_response(req);
    if (len && sp_request_json(req, &json) != 0) {
        int st = sp_response_status(resp);
        if (st != 400 && st != 415)
            abort(); /* sp_request_json answers 400 (or 415) itself */
        return SP_HANDLER_DONE;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "n", (double)n);
    if (json)
        cJSON_AddItemReferenceToObject(out, "echo", json);
    const char *ua = sp_request_header(req, "User-Agent");
    if (ua)
        sp_response_set_header(resp, "X-Echo", ua);
    sp_response_json(resp, 200, out);
    cJSON_Delete(out);
    return SP_HANDLER_DONE;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_quiet();
    router = sp_router_new();
    if (!router)
        abort();
    if (fz_add_routes(router, handler) != 0)
        abort();
    sp_router_set_authorizer(router, sp_permissions_authorize, NULL);
    return 0;
}

/* Splits s at every sep into at most max parts (in place). */
static size_t split(char *s, char sep, const char **out, size_t max)
{
    size_t n = 0;
    if (!*s)
        return 0;
    while (n < max) {
        out[n++] = s;
        char *c = strchr(s, sep);
        if (!c)
            break;
        *c = '\0';
        s = c + 1;
    }
    return n;
}

static void set_auth(sp_request_t *req, char *spec)
{
    char *f[4] = {spec, "", "", ""};
    for (int i = 1; i < 4; i++) {
        char *bar = strchr(f[i - 1], '|');
        if (!bar)
            break;
        *bar = '\0';
        f[i] = bar + 1;
    }
    const char *roles[8], *scopes[8];
    sp_auth_t auth = {.tenant_id = f[0][0] ? f[0] : NULL, .subject = f[1]};
    auth.roles = roles, auth.n_roles = split(f[2], ',', roles, 8);
    auth.scopes = scopes, auth.n_scopes = split(f[3], ',', scopes, 8);
    if (sp_request_set_auth(req, &auth) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The head is text up to the first empty line; MHD gives strings, so a
     * NUL ends whatever it is in. */
    const uint8_t *sep = NULL;
    for (size_t i = 0; i + 1 < size; i++)
        if (data[i] == '\n' && data[i + 1] == '\n') {
            sep = data + i;
            break;
        }
    size_t head_len = sep ? (size_t)(sep - data) : size;
    const uint8_t *body = sep ? sep + 2 : data + size;
    char *head = fz_strndup(data, head_len);

    sp_request_t *req = sp_request_new();
    if (!req)
        abort();
    char *line = head, *next = strchr(line, '\n');
    if (next)
        *next++ = '\0';
    char *target = strchr(line, ' ');
    if (target)
        *target++ = '\0';
    else
        target = "/";
    char *query = strchr(target, '?');
    if (query)
        *query++ = '\0';
    int rc = sp_request_set_method(req, line) | sp_request_set_path(req, target) |
             sp_request_set_query(req, query ? query : "") |
             sp_request_set_remote_addr(req, "192.0.2.7");
    char *auth_spec = NULL;
    while (next) {
        line = next;
        if ((next = strchr(line, '\n')))
            *next++ = '\0';
        char *colon = strchr(line, ':');
        const char *value = "";
        if (colon) {
            *colon = '\0';
            value = colon + 1;
            while (*value == ' ')
                value++;
        }
        if (strcasecmp(line, "x-fuzz-auth") == 0)
            auth_spec = (char *)value;
        else
            rc |= sp_request_add_header(req, line, value);
    }
    rc |= sp_request_set_body(req, body, (size_t)(data + size - body));
    if (rc)
        abort();
    if (auth_spec)
        set_auth(req, auth_spec);

    /* What http.c does with the traceparent header. */
    const char *tp = sp_request_header(req, "traceparent");
    char trace_id[SP_TRACE_ID_LEN + 1], span_id[SP_SPAN_ID_LEN + 1];
    if (tp && sp_trace_parse(tp, trace_id, span_id) == 0) {
        if (strlen(trace_id) != SP_TRACE_ID_LEN || sp_request_set_traceparent(req, tp))
            abort();
    }

    sp_handler_result_t r = sp_router_dispatch(router, req);
    if (r != SP_HANDLER_DONE)
        abort();
    sp_response_t *resp = sp_request_response(req);
    int status = sp_response_status(resp);
    if (status < 200 || status > 599)
        abort();
    size_t blen;
    const char *rbody = sp_response_body(resp, &blen);
    if (status >= 400) {
        cJSON *err = cJSON_ParseWithLength(rbody, blen);
        if (!err) {
            fprintf(stderr, "error body is not JSON: %.*s\n", (int)blen, rbody);
            abort();
        }
        cJSON_Delete(err);
    }
    sp_request_destroy(&req);
    free(head);
    return 0;
}
