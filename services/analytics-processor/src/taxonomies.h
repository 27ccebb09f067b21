/*
 * taxonomies.h — each tenant's topic and intent taxonomy for the analysis,
 * fetched from tenant-manager (tenant-manager.GetTaxonomy) and kept parsed in
 * memory.
 *
 * A tenant's taxonomy is cached for ttl_s seconds (the processor uses 60):
 * a change made through the API applies to interactions analysed at most
 * that long after it. When tenant-manager
 * cannot be reached (or answers with something libnlp refuses), the default
 * taxonomy applies to that tenant for a short while (10 s at most) and the
 * lookup is tried again; the first failure after a success is logged at warn
 * level, the rest at debug, so an outage does not flood the log. An unknown
 * tenant gets the default taxonomy.
 *
 * Not thread-safe: the processor's consumer thread is its only user, and a
 * returned taxonomy stays valid until that thread's next ap_taxonomies_get.
 */
#ifndef AP_TAXONOMIES_H
#define AP_TAXONOMIES_H

#include <stdint.h>

#include "nlp/taxonomy.h"

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

/* The tenant-manager.GetTaxonomy call, as an ap_taxonomy_fetch_fn whose ud
 * is an sp_rpc_client_t * to tenant-manager. */
int ap_taxonomy_fetch_rpc(const char *tenant_id, char **json, int *customized, void *ud);

#endif
