/*
 * taxonomy.h — each tenant's own topic and intent taxonomy: stored, served to
 * the console and to the analytics processor.
 *
 * The document is libnlp's taxonomy JSON (libs/nlp/include/nlp/taxonomy.h:
 * mode "extend" or "replace", categories with patterns per language). It is
 * validated with nlp_taxonomy_from_json before it is stored, so a stored
 * document always parses; without one the built-in default applies.
 *
 * Routes (permission in brackets):
 *   GET    /v1/tenants/current/taxonomy  [tenant:read]    the taxonomy
 *   PUT    /v1/tenants/current/taxonomy  [taxonomy:write] store a document
 *   DELETE /v1/tenants/current/taxonomy  [taxonomy:write] back to the default
 * GET and PUT answer {"customized": bool, "taxonomy": <document>,
 * "updated_at", "updated_by"}: the tenant's document as stored, or with
 * customized false the default taxonomy as a "replace" document (to edit and
 * PUT back) and null times. A PUT body is the document itself; an invalid one
 * answers 400 "invalid_taxonomy" with libnlp's reason (naming the field).
 * DELETE answers 204 (also when nothing was stored). Changes are audited
 * ("taxonomy.update" / "taxonomy.delete", before/after = the documents) in
 * their transaction, and Redis's sp:taxonomy:<tenant_id> is DELeted after
 * the commit.
 *
 * Typed RPC: tenant-manager.GetTaxonomy (proto/tenant.proto) -> Taxonomy
 * {json, customized}; SP_ENOTFOUND for an unknown or deleted tenant.
 */
#ifndef TM_TAXONOMY_H
#define TM_TAXONOMY_H

#include "platform/rpc.h"

#include "tm.h"

/* Adds the three routes to router and, when tm->svc is set (not in tests),
 * the typed method. Returns 0 or the first SP_E* code. */
int tm_taxonomy_register(sp_router_t *router, tm_t *tm);

/* tenant-manager.GetTaxonomy (an sp_rpc_method_fn; ud is the tm_t). */
int tm_rpc_get_taxonomy(sp_rpc_call_t *call, const uint8_t *in, size_t in_len, sp_arena_t *arena,
                        uint8_t **out, size_t *out_len, void *ud);

#endif
