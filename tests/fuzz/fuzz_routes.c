/*
 * fuzz_routes.c — the JSON bodies and query strings of every tenant-manager
 * route, through its real router and handlers (tenants.c, users.c,
 * api_keys.c, audit.c, taxonomy.c), with a fake context: a database pool
 * whose server refuses connections (so a handler runs its parsing and
 * validation, then gets SP_EUNAVAILABLE at its first query and answers 503)
 * and no Redis.
 *
 * Input: a byte choosing the route, a byte choosing the caller (tenant
 * owner, admin, viewer, API key, platform operator, nobody) and the {id}
 * parameter, then "query\n" and the body. Oracle beyond the sanitizers: an
 * answer is 2xx-5xx, never a 500 for input alone (500 means an internal
 * error the input should not be able to cause), and an error body is JSON.
 *
 * Not reachable this way: the analytics-query routes (they need ClickHouse
 * behind their first call; their parser is fuzz_filters), the tools-gateway
 * ingestion routes (Redis idempotency and Kafka sit before the answer; the
 * item validator is fuzz_item, uploads fuzz_csv/fuzz_jsonl) and the
 * auth-gateway's login (an RPC to tenant-manager first).
 */
#include "fuzz_common.h"

#include <cjson/cJSON.h>

#include "../../services/tenant-manager/src/api_keys.h"
#include "../../services/tenant-manager/src/audit.h"
#include "../../services/tenant-manager/src/taxonomy.h"
#include "../../services/tenant-manager/src/tenants.h"
#include "../../services/tenant-manager/src/tm.h"
#include "../../services/tenant-manager/src/users.h"
#include "platform/db.h"
#include "platform/permissions.h"
#include "platform/request.h"
#include "platform/router.h"

#define TENANT     "11111111-2222-4333-8444-555555555555"
#define MAX_ROUTES 64

static tm_t tm;
static sp_router_t *router;
static struct {
    const char *method, *pattern;
} routes[MAX_ROUTES];
static size_t n_routes;

static void collect(const char *method, const char *pattern, const char *permission, void *ud)
{
    (void)permission, (void)ud;
    if (n_routes < MAX_ROUTES)
        routes[n_routes].method = method, routes[n_routes++].pattern = pattern;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_quiet();
    tm.db = sp_db_pool_new("host=127.0.0.1 port=9 connect_timeout=1", 1);
    tm.pbkdf2_iterations = TM_PBKDF2_MIN_ITERATIONS;
    tm.invite_ttl_hours = 72;
    tm.purge_after_days = 30;
    router = sp_router_new();
    if (!tm.db || !router || tm_tenants_register(router, &tm) != 0 ||
        tm_users_register(router, &tm) != 0 || tm_api_keys_register(router, &tm) != 0 ||
        tm_audit_register(router, &tm) != 0 || tm_taxonomy_register(router, &tm) != 0)
        abort();
    sp_db_pool_set_acquire_timeout(tm.db, 50);
    sp_router_set_authorizer(router, sp_permissions_authorize, NULL);
    sp_router_foreach(router, collect, NULL);
    if (getenv("FZ_LIST_ROUTES")) { /* for writing seeds: index, method, pattern */
        for (size_t i = 0; i < n_routes; i++)
            printf("%zu %s %s\n", i, routes[i].method, routes[i].pattern);
        exit(0);
    }
    return 0;
}

/* The pattern with each {name} replaced by id. */
static char *path_of(const char *pattern, const char *id)
{
    char *out = malloc(strlen(pattern) * 2 + strlen(id) * 8 + 1);
    if (!out)
        abort();
    char *o = out;
    for (const char *p = pattern; *p;) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            o = stpcpy(o, id);
            p = close ? close + 1 : p + strlen(p);
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t r = data[0] % n_routes;
    uint8_t who = data[1];
    data += 2, size -= 2;
    const uint8_t *nl = memchr(data, '\n', size);
    char *query = fz_strndup(data, nl ? (size_t)(nl - data) : 0);
    const uint8_t *body = nl ? nl + 1 : data;
    size_t body_len = size - (size_t)(body - data);

    static const char *const IDS[] = {
        "0190b2d4-1111-7000-8000-000000000002", TENANT, "current", "not-a-uuid", "",
        "0190B2D4-1111-7000-8000-00000000000Z", "%00",  "me"};
    char *path = path_of(routes[r].pattern, IDS[(who >> 4) % 8]);
    sp_request_t *req = sp_request_new();
    if (!req || sp_request_set_method(req, routes[r].method) || sp_request_set_path(req, path) ||
        sp_request_set_query(req, query) || sp_request_set_body(req, body, body_len) ||
        sp_request_add_header(req, "Content-Type", "application/json"))
        abort();

    static const char *OWNER[] = {"owner"}, *ADMIN[] = {"admin"}, *VIEWER[] = {"viewer"},
                      *OP[] = {"platform_operator"},
                      *SCOPES[] = {"api_keys:write", "users:write", "tenant:write"};
    sp_auth_t auth = {.tenant_id = TENANT, .subject = "0190b2d4-1111-7000-8000-000000000009"};
    switch (who % 6) {
    case 0:
        auth.roles = OWNER, auth.n_roles = 1;
        break;
    case 1:
        auth.roles = ADMIN, auth.n_roles = 1;
        break;
    case 2:
        auth.roles = VIEWER, auth.n_roles = 1;
        break;
    case 3:
        auth.scopes = SCOPES, auth.n_scopes = 3;
        break;
    case 4:
        auth.tenant_id = NULL, auth.roles = OP, auth.n_roles = 1;
        break;
    default:
        break;
    }
    if (who % 6 != 5 && sp_request_set_auth(req, &auth) != 0)
        abort();

    if (sp_router_dispatch(router, req) != SP_HANDLER_DONE)
        abort(); /* tenant-manager's handlers are synchronous */
    sp_response_t *resp = sp_request_response(req);
    int status = sp_response_status(resp);
    size_t blen;
    const char *rbody = sp_response_body(resp, &blen);
    if (status < 200 || status > 599 || status == 500) {
        fprintf(stderr, "%s %s -> %d %.*s\n", routes[r].method, path, status, (int)blen, rbody);
        abort();
    }
    if (status >= 400) {
        cJSON *err = cJSON_ParseWithLength(rbody, blen);
        if (!err)
            abort();
        cJSON_Delete(err);
    }
    sp_request_destroy(&req);
    free(path);
    free(query);
    return 0;
}
