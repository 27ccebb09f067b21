/*
 * taxonomy.c — tenants' own topic and intent taxonomies (taxonomy.h).
 */
#include "taxonomy.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nlp/taxonomy.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/text.h"

#include "tenant.pb-c.h"

/* ---- the default document ---------------------------------------------------- */

static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static char *default_json; /* never freed: built once, like the default taxonomy */

static void build_default(void)
{
    const nlp_taxonomy_t *tax = nlp_taxonomy_default();
    default_json = tax ? nlp_taxonomy_to_json(tax) : NULL;
}

/* The built-in taxonomy as a "replace" document, or NULL when out of memory. */
static const char *default_document(void)
{
    pthread_once(&default_once, build_default);
    return default_json;
}

/* ---- replies ------------------------------------------------------------------- */

/* Replies status with {"customized", "taxonomy", "updated_at", "updated_by"}.
 * document is valid JSON text (validated before it was stored); NULL = the
 * default taxonomy. */
static void reply_taxonomy(sp_request_t *req, int status, const char *document,
                           const char *updated_at, const char *updated_by)
{
    const char *doc = document ? document : default_document();
    cJSON *o = cJSON_CreateObject();
    char *text = NULL;
    if (o && doc && cJSON_AddBoolToObject(o, "customized", document != NULL) &&
        cJSON_AddItemToObject(o, "taxonomy", cJSON_CreateRaw(doc)) &&
        (updated_at ? cJSON_AddStringToObject(o, "updated_at", updated_at)
                    : cJSON_AddNullToObject(o, "updated_at")) &&
        (updated_by ? cJSON_AddStringToObject(o, "updated_by", updated_by)
                    : cJSON_AddNullToObject(o, "updated_by")))
        text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text) {
        sp_response_error(sp_request_response(req), 500, "internal", "out of memory");
        return;
    }
    tm_reply_json(req, status, text);
    free(text);
}

/* Locks the caller's tenant row (serializing changes of its taxonomy) and
 * reads the stored document into *before (NULL = none). Replies 404 / 5xx
 * and returns non-zero on failure. */
static int lock_taxonomy(sp_request_t *req, sp_db_tx_t *tx, const char *tenant_id,
                         const char **before)
{
    PGresult *res = NULL;
    const char *p[] = {tenant_id};
    int rc = sp_db_tx_query_arena(tx, sp_request_arena(req),
                                  "SELECT x.document FROM tenant.tenants t LEFT JOIN "
                                  "tenant.taxonomies x ON x.tenant_id = t.id WHERE t.id = $1 "
                                  "AND t.status <> 'deleted' FOR UPDATE OF t",
                                  1, p, &res);
    if (rc != 0) {
        tm_reply_db_error(req, rc);
        return rc;
    }
    if (PQntuples(res) != 1) {
        sp_response_error(sp_request_response(req), 404, "tenant_not_found", "no such tenant");
        return SP_ENOTFOUND;
    }
    *before = PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0);
    return SP_OK;
}

/* The caller's tenant, or NULL after replying 404 (an operator has none). */
static const char *own_tenant(sp_request_t *req)
{
    const sp_auth_t *auth = sp_request_auth(req);
    if (auth && auth->tenant_id && sp_uuid_valid(auth->tenant_id))
        return auth->tenant_id;
    sp_response_error(sp_request_response(req), 404, "tenant_not_found", "no such tenant");
    return NULL;
}

/* ---- routes -------------------------------------------------------------------- */

static sp_handler_result_t get_taxonomy(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    const char *tenant_id = own_tenant(req);
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    if (!tenant_id || tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    const char *p[] = {tenant_id};
    int rc = sp_db_tx_query_arena(tx, sp_request_arena(req),
                                  "SELECT document, tenant.ts_text(updated_at), updated_by "
                                  "FROM tenant.taxonomies WHERE tenant_id = $1",
                                  1, p, &res);
    sp_db_tx_rollback(&tx);
    if (rc != 0) {
        tm_reply_db_error(req, rc);
        return SP_HANDLER_DONE;
    }
    if (PQntuples(res) == 1)
        reply_taxonomy(req, 200, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                       PQgetvalue(res, 0, 2));
    else
        reply_taxonomy(req, 200, NULL, NULL, NULL);
    return SP_HANDLER_DONE;
}

/* PUT: the body is the document. */
static sp_handler_result_t put_taxonomy(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    const char *tenant_id = own_tenant(req);
    if (!tenant_id)
        return SP_HANDLER_DONE;
    size_t len = 0;
    const char *body = sp_request_body(req, &len);
    char err[256] = "";
    nlp_taxonomy_t *tax = NULL;
    int rc = nlp_taxonomy_from_json(body ? body : "", body ? len : 0, &tax, err, sizeof(err));
    nlp_taxonomy_destroy(&tax);
    if (rc == SP_ENOMEM) {
        sp_response_error(sp_request_response(req), 500, "internal", "out of memory");
        return SP_HANDLER_DONE;
    }
    if (rc != 0) {
        sp_response_error(sp_request_response(req), 400, "invalid_taxonomy", "%s",
                          err[0] ? err : "the taxonomy is too large");
        return SP_HANDLER_DONE;
    }
    /* Stored as a NUL-terminated copy: the body need not be one. */
    const char *doc = sp_arena_strndup(sp_request_arena(req), body, len);
    if (!doc) {
        sp_response_error(sp_request_response(req), 500, "internal", "out of memory");
        return SP_HANDLER_DONE;
    }
    const char *actor_type = NULL, *actor = NULL, *before = NULL;
    tm_actor(req, &actor_type, &actor);
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    if (tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    if (lock_taxonomy(req, tx, tenant_id, &before) != 0) {
        sp_db_tx_rollback(&tx);
        return SP_HANDLER_DONE;
    }
    const char *p[] = {tenant_id, doc, actor ? actor : ""};
    rc = sp_db_tx_query_arena(tx, sp_request_arena(req),
                              "INSERT INTO tenant.taxonomies (tenant_id, document, updated_by) "
                              "VALUES ($1, $2, $3) ON CONFLICT (tenant_id) DO UPDATE SET "
                              "document = EXCLUDED.document, updated_at = now(), "
                              "updated_by = EXCLUDED.updated_by "
                              "RETURNING tenant.ts_text(updated_at), updated_by",
                              3, p, &res);
    if (rc == 0 && PQntuples(res) != 1)
        rc = SP_EINTERNAL;
    if (rc == 0)
        rc = tm_audit(tx, req, "taxonomy.update", "taxonomy", tenant_id, before, doc);
    if (rc == 0)
        rc = sp_db_tx_commit(&tx);
    if (rc != 0) {
        sp_db_tx_rollback(&tx);
        tm_reply_db_error(req, rc);
        return SP_HANDLER_DONE;
    }
    tm_cache_del_taxonomy(tm, tenant_id);
    reply_taxonomy(req, 200, doc, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    return SP_HANDLER_DONE;
}

/* DELETE: back to the default; no audit entry when nothing was stored. */
static sp_handler_result_t delete_taxonomy(sp_request_t *req, void *ud)
{
    tm_t *tm = ud;
    const char *tenant_id = own_tenant(req);
    const char *before = NULL;
    sp_db_tx_t *tx = NULL;
    if (!tenant_id || tm_tx_begin(tm, req, &tx) != 0)
        return SP_HANDLER_DONE;
    if (lock_taxonomy(req, tx, tenant_id, &before) != 0) {
        sp_db_tx_rollback(&tx);
        return SP_HANDLER_DONE;
    }
    int rc = 0;
    if (before) {
        const char *p[] = {tenant_id};
        rc = sp_db_tx_query(tx, "DELETE FROM tenant.taxonomies WHERE tenant_id = $1", 1, p, NULL);
        if (rc == 0)
            rc = tm_audit(tx, req, "taxonomy.delete", "taxonomy", tenant_id, before, NULL);
    }
    if (rc == 0)
        rc = sp_db_tx_commit(&tx);
    if (rc != 0) {
        sp_db_tx_rollback(&tx);
        tm_reply_db_error(req, rc);
        return SP_HANDLER_DONE;
    }
    if (before)
        tm_cache_del_taxonomy(tm, tenant_id);
    sp_response_set_status(sp_request_response(req), 204);
    return SP_HANDLER_DONE;
}

/* ---- typed RPC ------------------------------------------------------------------- */

int tm_rpc_get_taxonomy(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                        uint8_t **out, size_t *out_len, void *ud)
{
    tm_t *tm = ud;
    Serphona__Tenant__V1__GetTaxonomyRequest *rq = (void *)sp_rpc_unpack(
        arena, &serphona__tenant__v1__get_taxonomy_request__descriptor, in, in_len);
    if (!rq)
        return SP_EPROTO;
    if (!sp_uuid_valid(rq->tenant_id)) {
        call->error_message = "no such tenant";
        return SP_ENOTFOUND;
    }
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    const char *p[] = {rq->tenant_id};
    /* Scoped to the tenant: the taxonomies table is row-level secured. */
    int rc = sp_db_tx_begin(tm_db(tm), rq->tenant_id, &tx);
    if (rc != 0)
        return rc;
    rc = sp_db_tx_query_arena(tx, arena,
                              "SELECT x.document FROM tenant.tenants t LEFT JOIN "
                              "tenant.taxonomies x ON x.tenant_id = t.id WHERE t.id = $1 "
                              "AND t.status <> 'deleted'",
                              1, p, &res);
    sp_db_tx_rollback(&tx);
    if (rc != 0)
        return rc;
    if (PQntuples(res) != 1) {
        call->error_message = "no such tenant";
        return SP_ENOTFOUND;
    }
    Serphona__Tenant__V1__Taxonomy t = SERPHONA__TENANT__V1__TAXONOMY__INIT;
    t.customized = !PQgetisnull(res, 0, 0);
    t.json = t.customized ? PQgetvalue(res, 0, 0) : (char *)default_document();
    if (!t.json)
        return SP_ENOMEM;
    return sp_rpc_pack(arena, &t.base, out, out_len);
}

/* ---- registration ------------------------------------------------------------------ */

static const sp_route_def_t routes[] = {
    {"GET", "/v1/tenants/current/taxonomy", "tenant:read", get_taxonomy},
    {"PUT", "/v1/tenants/current/taxonomy", "taxonomy:write", put_taxonomy},
    {"DELETE", "/v1/tenants/current/taxonomy", "taxonomy:write", delete_taxonomy},
};

int tm_taxonomy_register(sp_router_t *router, tm_t *tm)
{
    int rc = sp_router_add_all(router, routes, sizeof(routes) / sizeof(*routes), tm);
    if (rc == 0 && tm->svc)
        rc = sp_service_add_method(tm->svc, "tenant-manager.GetTaxonomy", tm_rpc_get_taxonomy, tm);
    return rc;
}
