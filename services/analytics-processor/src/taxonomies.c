/*
 * taxonomies.c — per-tenant taxonomy cache (taxonomies.h).
 */
#include "taxonomies.h"

#include <stdlib.h>
#include <string.h>

#include "platform/error.h"
#include "platform/log.h"
#include "platform/rpc.h"
#include "tenant.pb-c.h"

/* Tenants kept at once; past it the entry fetched longest ago is replaced.
 * A linear scan of this many ids costs far less than one analysis. */
#define MAX_ENTRIES      1024
#define RETRY_AFTER_S    10 /* how long the default stands in after a failed lookup */
#define FETCH_TIMEOUT_MS 2000

typedef struct {
    char tenant_id[40];
    nlp_taxonomy_t *tax; /* NULL = the default */
    int64_t expires_s;
} entry_t;

struct ap_taxonomies {
    ap_taxonomy_fetch_fn fetch;
    void *ud;
    int ttl_s;
    int failing; /* the last lookup failed: later failures log at debug */
    entry_t *entries;
    size_t n;
};

ap_taxonomies_t *ap_taxonomies_new(ap_taxonomy_fetch_fn fetch, void *ud, int ttl_s)
{
    ap_taxonomies_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->entries = calloc(MAX_ENTRIES, sizeof(*self->entries));
    if (!self->entries) {
        free(self);
        return NULL;
    }
    self->fetch = fetch;
    self->ud = ud;
    self->ttl_s = ttl_s > 0 ? ttl_s : 60;
    return self;
}

void ap_taxonomies_destroy(ap_taxonomies_t **self_p)
{
    ap_taxonomies_t *self;
    if (!self_p || !(self = *self_p))
        return;
    *self_p = NULL;
    for (size_t i = 0; i < self->n; i++)
        nlp_taxonomy_destroy(&self->entries[i].tax);
    free(self->entries);
    free(self);
}

static void lookup_failed(ap_taxonomies_t *self, const char *tenant_id, const char *why)
{
    if (!self->failing)
        sp_log_warn("taxonomies: cannot get tenant %s's taxonomy (%s); the default applies "
                    "until tenant-manager answers",
                    tenant_id, why);
    else
        sp_log_debug("taxonomies: cannot get tenant %s's taxonomy (%s)", tenant_id, why);
    self->failing = 1;
}

/* Fills e for tenant_id: the tenant's parsed taxonomy, or NULL (default) and
 * a short expiry when the lookup failed. */
static void refresh(ap_taxonomies_t *self, entry_t *e, const char *tenant_id, int64_t now_s)
{
    char *json = NULL;
    int customized = 0;
    nlp_taxonomy_destroy(&e->tax);
    snprintf(e->tenant_id, sizeof(e->tenant_id), "%s", tenant_id);
    e->expires_s = now_s + self->ttl_s;
    int rc = self->fetch(tenant_id, &json, &customized, self->ud);
    if (rc == SP_ENOTFOUND) {
        self->failing = 0;
        return;
    }
    if (rc != SP_OK) {
        lookup_failed(self, tenant_id, sp_strerror(rc));
        e->expires_s = now_s + (self->ttl_s < RETRY_AFTER_S ? self->ttl_s : RETRY_AFTER_S);
        return;
    }
    if (customized && json) {
        char err[256] = "";
        rc = nlp_taxonomy_from_json(json, strlen(json), &e->tax, err, sizeof(err));
        if (rc != SP_OK) {
            /* tenant-manager validated it with the same library: a version
             * skew, or memory. */
            lookup_failed(self, tenant_id, err[0] ? err : sp_strerror(rc));
            e->expires_s = now_s + (self->ttl_s < RETRY_AFTER_S ? self->ttl_s : RETRY_AFTER_S);
            free(json);
            return;
        }
    }
    free(json);
    if (self->failing)
        sp_log_info("taxonomies: tenant-manager answers again");
    self->failing = 0;
}

const nlp_taxonomy_t *ap_taxonomies_get(ap_taxonomies_t *self, const char *tenant_id, int64_t now_s)
{
    const nlp_taxonomy_t *def = nlp_taxonomy_default();
    if (!self || !self->fetch || !tenant_id || !*tenant_id ||
        strlen(tenant_id) >= sizeof(self->entries[0].tenant_id))
        return def;
    entry_t *e = NULL, *oldest = NULL;
    for (size_t i = 0; i < self->n; i++) {
        entry_t *c = &self->entries[i];
        if (strcmp(c->tenant_id, tenant_id) == 0) {
            e = c;
            break;
        }
        if (!oldest || c->expires_s < oldest->expires_s)
            oldest = c;
    }
    if (!e)
        e = self->n < MAX_ENTRIES ? &self->entries[self->n++] : oldest;
    else if (e->expires_s > now_s)
        return e->tax ? e->tax : def;
    refresh(self, e, tenant_id, now_s);
    return e->tax ? e->tax : def;
}

int ap_taxonomy_fetch_rpc(const char *tenant_id, char **json, int *customized, void *ud)
{
    sp_rpc_client_t *tm = ud;
    Serphona__Tenant__V1__GetTaxonomyRequest in = SERPHONA__TENANT__V1__GET_TAXONOMY_REQUEST__INIT;
    ProtobufCMessage *out = NULL;
    if (!tm)
        return SP_EUNAVAILABLE;
    in.tenant_id = (char *)tenant_id;
    int rc = sp_rpc_client_call_typed(tm, "tenant-manager.GetTaxonomy", NULL, &in.base,
                                      &serphona__tenant__v1__taxonomy__descriptor, FETCH_TIMEOUT_MS,
                                      &out);
    if (rc != SP_OK)
        return rc;
    Serphona__Tenant__V1__Taxonomy *t = (Serphona__Tenant__V1__Taxonomy *)out;
    *customized = t->customized;
    *json = t->customized ? strdup(t->json ? t->json : "") : NULL;
    protobuf_c_message_free_unpacked(out, NULL);
    if (*customized && !*json)
        return SP_ENOMEM;
    return SP_OK;
}
