/*
 * router.c — method + path-pattern routing (router.h).
 *
 * Routes are few (tens per service), so matching is a linear scan that keeps
 * the most specific match: compared segment by segment, a literal beats a
 * "{param}", which beats the trailing "*". That makes registration order
 * irrelevant, which matters once several files register routes.
 */
#include "platform/router.h"
#include "platform/error.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SEGMENTS 32

typedef enum { SEG_LITERAL = 3, SEG_PARAM = 2, SEG_REST = 1 } seg_kind_t;

typedef struct {
    seg_kind_t kind;
    char *text; /* literal text, or the parameter name */
} segment_t;

typedef struct {
    char *method, *pattern, *permission;
    segment_t segs[MAX_SEGMENTS];
    size_t n_segs;
    sp_handler_fn fn;
    void *ud;
} route_t;

struct sp_router {
    route_t *routes;
    size_t n, cap;
    sp_authorizer_fn authorize;
    void *authorize_ud;
};

static int default_authorizer(const sp_auth_t *auth, const char *permission, void *ud)
{
    (void)ud;
    for (size_t i = 0; i < auth->n_scopes; i++)
        if (strcmp(auth->scopes[i], permission) == 0 || strcmp(auth->scopes[i], "*") == 0)
            return SP_OK;
    return SP_EDENIED;
}

sp_router_t *sp_router_new(void)
{
    sp_router_t *r = calloc(1, sizeof(*r));
    if (r)
        r->authorize = default_authorizer;
    return r;
}

static void route_free(route_t *rt)
{
    free(rt->method);
    free(rt->pattern);
    free(rt->permission);
    for (size_t i = 0; i < rt->n_segs; i++)
        free(rt->segs[i].text);
}

void sp_router_destroy(sp_router_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_router_t *r = *self_p;
    for (size_t i = 0; i < r->n; i++)
        route_free(&r->routes[i]);
    free(r->routes);
    free(r);
    *self_p = NULL;
}

/* Splits "/a/{b}/rest" patterns into segments; the pattern must start with '/', and "*"
 * may only be last. */
static int parse_pattern(const char *pattern, route_t *rt)
{
    if (pattern[0] != '/')
        return SP_EINVAL;
    const char *p = pattern + 1;
    rt->n_segs = 0;
    if (*p == '\0')
        return SP_OK; /* "/" has no segments. */
    for (;;) {
        size_t len = strcspn(p, "/");
        if (rt->n_segs == MAX_SEGMENTS)
            return SP_EINVAL;
        segment_t *s = &rt->segs[rt->n_segs];
        if (len == 1 && p[0] == '*') {
            if (p[1] != '\0')
                return SP_EINVAL;
            s->kind = SEG_REST;
            s->text = strdup("*");
        } else if (len >= 3 && p[0] == '{' && p[len - 1] == '}') {
            s->kind = SEG_PARAM;
            s->text = strndup(p + 1, len - 2);
        } else {
            if (memchr(p, '{', len) || memchr(p, '}', len) || memchr(p, '*', len))
                return SP_EINVAL;
            s->kind = SEG_LITERAL;
            s->text = strndup(p, len);
        }
        if (!s->text)
            return SP_ENOMEM;
        rt->n_segs++;
        p += len;
        if (*p == '\0')
            return SP_OK;
        p++; /* skip '/' */
    }
}

int sp_router_add(sp_router_t *router, const char *method, const char *pattern,
                  const char *permission, sp_handler_fn fn, void *ud)
{
    if (!method || !pattern || !fn)
        return SP_EINVAL;
    for (size_t i = 0; i < router->n; i++)
        if (strcmp(router->routes[i].method, method) == 0 &&
            strcmp(router->routes[i].pattern, pattern) == 0)
            return SP_EINVAL;
    if (router->n == router->cap) {
        size_t cap = router->cap ? router->cap * 2 : 16;
        route_t *routes = realloc(router->routes, cap * sizeof(route_t));
        if (!routes)
            return SP_ENOMEM;
        router->routes = routes;
        router->cap = cap;
    }
    route_t *rt = &router->routes[router->n];
    memset(rt, 0, sizeof(*rt));
    int rc = parse_pattern(pattern, rt);
    if (rc == SP_OK) {
        rt->method = strdup(method);
        rt->pattern = strdup(pattern);
        rt->permission = permission ? strdup(permission) : NULL;
        if (!rt->method || !rt->pattern || (permission && !rt->permission))
            rc = SP_ENOMEM;
    }
    if (rc) {
        route_free(rt);
        return rc;
    }
    rt->fn = fn;
    rt->ud = ud;
    router->n++;
    return SP_OK;
}

void sp_router_set_authorizer(sp_router_t *router, sp_authorizer_fn fn, void *ud)
{
    router->authorize = fn ? fn : default_authorizer;
    router->authorize_ud = fn ? ud : NULL;
}

typedef struct {
    const char *start;
    size_t len;
} span_t;

/* Matches the path segments against a route; fills score[] with the kind of
 * each pattern segment used so matches can be ranked. */
static int route_match(const route_t *rt, const span_t *path, size_t n_path, int *score)
{
    size_t i;
    for (i = 0; i < rt->n_segs; i++) {
        const segment_t *s = &rt->segs[i];
        score[i] = (int)s->kind;
        if (s->kind == SEG_REST)
            return 1;
        if (i >= n_path)
            return 0;
        if (s->kind == SEG_LITERAL &&
            (strlen(s->text) != path[i].len || memcmp(s->text, path[i].start, path[i].len) != 0))
            return 0;
        if (s->kind == SEG_PARAM && path[i].len == 0)
            return 0;
    }
    return i == n_path;
}

static int better(const int *a, const int *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return a[i] > b[i];
    return 0;
}

static int method_matches(const route_t *rt, const char *method)
{
    return strcmp(rt->method, "*") == 0 || strcmp(rt->method, method) == 0;
}

/* Writes 405 with an Allow header naming every method some route with the
 * same shape accepts. */
static void method_not_allowed(const sp_router_t *router, sp_request_t *req, const span_t *path,
                               size_t n_path)
{
    sp_response_t *resp = sp_request_response(req);
    sp_arena_t *arena = sp_request_arena(req);
    char *allow = sp_arena_strdup(arena, "");
    int score[MAX_SEGMENTS + 1];
    for (size_t i = 0; i < router->n && allow; i++) {
        if (route_match(&router->routes[i], path, n_path, score))
            allow = sp_arena_printf(arena, "%s%s%s", allow, *allow ? ", " : "",
                                    router->routes[i].method);
    }
    if (allow)
        sp_response_set_header(resp, "Allow", allow);
    sp_response_error(resp, 405, "method_not_allowed", "%s is not allowed on %s",
                      sp_request_method(req), sp_request_path(req));
}

sp_handler_result_t sp_router_dispatch(const sp_router_t *router, sp_request_t *req)
{
    sp_response_t *resp = sp_request_response(req);
    const char *path = sp_request_path(req);
    const char *encoding = sp_request_encoding_problem(req);
    if (encoding) {
        sp_response_error(resp, 400, "invalid_encoding", "%s", encoding);
        return SP_HANDLER_DONE;
    }
    span_t segs[MAX_SEGMENTS + 1] = {{0}};
    size_t n_path = 0;
    if (path[0] == '/' && path[1] != '\0') {
        const char *p = path + 1;
        for (;;) {
            if (n_path == MAX_SEGMENTS + 1)
                goto not_found;
            size_t len = strcspn(p, "/");
            segs[n_path].start = p;
            segs[n_path].len = len;
            n_path++;
            p += len;
            if (*p == '\0')
                break;
            p++;
        }
    } else if (path[0] != '/') {
        goto not_found;
    }

    const route_t *best = NULL;
    int best_score[MAX_SEGMENTS + 1] = {0};
    int score[MAX_SEGMENTS + 1];
    int shape_matched = 0;
    for (size_t i = 0; i < router->n; i++) {
        const route_t *rt = &router->routes[i];
        memset(score, 0, sizeof(score));
        if (!route_match(rt, segs, n_path, score))
            continue;
        shape_matched = 1;
        if (!method_matches(rt, sp_request_method(req)))
            continue;
        if (!best || better(score, best_score, MAX_SEGMENTS + 1)) {
            best = rt;
            memcpy(best_score, score, sizeof(score));
        }
    }
    if (!best) {
        if (shape_matched) {
            method_not_allowed(router, req, segs, n_path);
            return SP_HANDLER_DONE;
        }
        goto not_found;
    }

    for (size_t i = 0; i < best->n_segs; i++) {
        const segment_t *s = &best->segs[i];
        if (s->kind == SEG_PARAM) {
            char *value = sp_arena_strndup(sp_request_arena(req), segs[i].start, segs[i].len);
            if (!value || sp_request_add_param(req, s->text, value)) {
                sp_response_error(resp, 500, "internal", "out of memory");
                return SP_HANDLER_DONE;
            }
        } else if (s->kind == SEG_REST) {
            const char *rest = i < n_path ? segs[i].start : "";
            if (sp_request_add_param(req, "*", rest)) {
                sp_response_error(resp, 500, "internal", "out of memory");
                return SP_HANDLER_DONE;
            }
        }
    }

    if (best->permission) {
        const sp_auth_t *auth = sp_request_auth(req);
        if (!auth || !auth->subject || !*auth->subject) {
            sp_response_error(resp, 401, "unauthenticated", "authentication is required");
            return SP_HANDLER_DONE;
        }
        if (router->authorize(auth, best->permission, router->authorize_ud) != SP_OK) {
            sp_response_error(resp, 403, "forbidden", "this action requires the %s permission",
                              best->permission);
            return SP_HANDLER_DONE;
        }
    }
    return best->fn(req, best->ud);

not_found:
    sp_response_error(resp, 404, "route_not_found", "no route for %s %s", sp_request_method(req),
                      path);
    return SP_HANDLER_DONE;
}

void sp_router_foreach(const sp_router_t *router,
                       void (*fn)(const char *, const char *, const char *, void *), void *ud)
{
    for (size_t i = 0; i < router->n; i++)
        fn(router->routes[i].method, router->routes[i].pattern, router->routes[i].permission, ud);
}

int sp_router_add_all(sp_router_t *router, const sp_route_def_t *defs, size_t n, void *ud)
{
    for (size_t i = 0; i < n; i++) {
        int rc = sp_router_add(router, defs[i].method, defs[i].pattern, defs[i].permission,
                               defs[i].fn, ud);
        if (rc != 0)
            return rc;
    }
    return SP_OK;
}
