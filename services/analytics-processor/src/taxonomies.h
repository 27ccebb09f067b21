/*
 * taxonomies.h — each tenant's topic and intent taxonomy for the analysis,
 * from tenant-manager (tenant-manager.GetTaxonomy), kept parsed in memory.
 *
 * The analysis never waits for it. In the service the source is the
 * platform tenant client's non-blocking read (platform/tenant_client.h:
 * sp_tenants_peek_wait): a background thread asks tenant-manager; a tenant
 * seen for the first time waits up to half a second for that answer, but
 * only while tenant-manager has been answering — when it fails, hangs or is
 * backed off, the tenant is analysed with the default taxonomy at once, and
 * its own taxonomy applies from the first interaction after the answer
 * landed (re-read from memory every few seconds). A known
 * taxonomy is refreshed in the background, so an edit applies within the
 * ttl_s given (the processor uses 60, the longest tenant.proto allows);
 * with tenant-manager away the last known one stays in use.
 *
 * With a fetch function of its own (tests), a tenant's taxonomy is cached
 * for ttl_s seconds; after a failed lookup (or a document libnlp refuses)
 * the default applies for a short while (10 s at most) and the lookup is
 * tried again; the first failure after a success is logged at warn level,
 * the rest at debug. An unknown tenant gets the default taxonomy.
 *
 * Not thread-safe: the processor's consumer thread is its only user, and a
 * returned taxonomy stays valid until that thread's next ap_taxonomies_get.
 */
#ifndef AP_TAXONOMIES_H
#define AP_TAXONOMIES_H

#include <stdint.h>

#include "nlp/taxonomy.h"
#include "platform/service.h"
#include "platform/tenant_client.h"

typedef struct ap_taxonomies ap_taxonomies_t;

/* Fetches tenant_id's taxonomy: on 0, *json is the document (malloc'd, the
 * caller frees) and *customized whether the tenant has its own; SP_ENOTFOUND
 * for an unknown tenant; any other SP_E* code when it could not ask. */
typedef int (*ap_taxonomy_fetch_fn)(const char *tenant_id, char **json, int *customized, void *ud);

/* A cache asking fetch (NULL = never ask: the default for every tenant).
 * ttl_s > 0. NULL when out of memory. */
ap_taxonomies_t *ap_taxonomies_new(ap_taxonomy_fetch_fn fetch, void *ud, int ttl_s);

/* Frees every cached taxonomy; accepts NULL; sets *self_p to NULL. */
void ap_taxonomies_destroy(ap_taxonomies_t **self_p);

/* The taxonomy to analyse tenant_id's interactions with, never NULL except
 * out of memory on the default's first use; now_s is a monotonic clock in
 * seconds. The pointer is valid until the next call. */
const nlp_taxonomy_t *ap_taxonomies_get(ap_taxonomies_t *self, const char *tenant_id,
                                        int64_t now_s);

/* The service's cache: the source is a platform tenant client over svc's
 * client of tenant-manager (and its Redis pool, when it uses one), owned by
 * the cache; its lookups never block. NULL when out of memory. */
ap_taxonomies_t *ap_taxonomies_new_service(sp_service_t *svc, int ttl_s);

/* The same over a tenant client of the caller's (borrowed: it must outlive
 * the cache), for tests. NULL when out of memory. */
ap_taxonomies_t *ap_taxonomies_new_tenants(sp_tenants_t *tenants, int ttl_s);

#endif
