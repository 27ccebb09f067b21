/*
 * taxonomies.c — per-tenant taxonomy cache (taxonomies.h).
 */
#include "taxonomies.h"

#include <stdlib.h>
#include <string.h>

#include "platform/error.h"
#include "platform/log.h"
#include "platform/tenant_client.h"
#include "platform/text.h"

/* Tenants kept at once; past it the entry fetched longest ago is replaced.
 * A linear scan of this many ids costs far less than one analysis. */
#define MAX_ENTRIES      1024
#define RETRY_AFTER_S    10 /* how long the default stands in after a failed lookup */
#define PEEK_READ_S      5  /* service: how often the in-memory last known value is re-read */
#define FETCH_TIMEOUT_MS 2000
/* How long a tenant's first interaction waits for its taxonomy while
 * tenant-manager answers (never while it fails: sp_tenants_peek_wait). */
#define FIRST_WAIT_MS 500

typedef struct {
    char tenant_id[40];
    nlp_taxonomy_t *tax; /* NULL = the default */
    uint64_t json_hash;  /* of the document tax was parsed from */
    int64_t expires_s;
} entry_t;

struct ap_taxonomies {
    ap_taxonomy_fetch_fn fetch;
    void *ud;
    int ttl_s;
    int retry_s;         /* the default stands in this long after a failure */
    int failing;         /* the last lookup failed: later failures log at debug */
    int peeking;         /* the source is the platform client's non-blocking read */
    sp_tenants_t *owned; /* the service's source (ud), freed with the cache */
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
    self->retry_s = self->ttl_s < RETRY_AFTER_S ? self->ttl_s : RETRY_AFTER_S;
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
    sp_tenants_destroy(&self->owned);
    free(self);
}

static void lookup_failed(ap_taxonomies_t *self, const char *tenant_id, const char *why)
{
    /* The service's source answers "not known yet" while its refresher
     * works; the platform client logs tenant-manager's outages itself. */
    if (!self->failing && !self->peeking)
        sp_log_warn("taxonomies: cannot get tenant %s's taxonomy (%s); the default applies "
                    "until tenant-manager answers",
                    tenant_id, why);
    else
        sp_log_debug("taxonomies: cannot get tenant %s's taxonomy (%s)", tenant_id, why);
    self->failing = 1;
}

/* Fills e for tenant_id: the tenant's parsed taxonomy (parsed again only
 * when the document changed), or NULL (default) and a short expiry when the
 * lookup failed. */
static void refresh(ap_taxonomies_t *self, entry_t *e, const char *tenant_id, int64_t now_s)
{
    char *json = NULL;
    int customized = 0;
    if (strcmp(e->tenant_id, tenant_id) != 0) {
        nlp_taxonomy_destroy(&e->tax);
        snprintf(e->tenant_id, sizeof(e->tenant_id), "%s", tenant_id);
    }
    e->expires_s = now_s + self->ttl_s;
    int rc = self->fetch(tenant_id, &json, &customized, self->ud);
    if (rc == SP_ENOTFOUND) {
        nlp_taxonomy_destroy(&e->tax);
        self->failing = 0;
        return;
    }
    if (rc != SP_OK) {
        nlp_taxonomy_destroy(&e->tax);
        lookup_failed(self, tenant_id, sp_strerror(rc));
        e->expires_s = now_s + self->retry_s;
        return;
    }
    uint64_t hash = customized && json ? sp_fnv1a64(json, strlen(json)) : 0;
    if (!(e->tax && hash && hash == e->json_hash)) {
        nlp_taxonomy_destroy(&e->tax);
        e->json_hash = 0;
        if (hash) {
            char err[256] = "";
            rc = nlp_taxonomy_from_json(json, strlen(json), &e->tax, err, sizeof(err));
            if (rc != SP_OK) {
                /* tenant-manager validated it with the same library: a
                 * version skew, or memory. */
                lookup_failed(self, tenant_id, err[0] ? err : sp_strerror(rc));
                e->expires_s = now_s + self->retry_s;
                free(json);
                return;
            }
            e->json_hash = hash;
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

/* The service's source: the last known taxonomy from the platform client's
 * in-memory table, SP_EUNAVAILABLE while nothing is known yet (a first use
 * waits FIRST_WAIT_MS at most, and only while tenant-manager answers). */
static int fetch_peek(const char *tenant_id, char **json, int *customized, void *ud)
{
    sp_arena_t *arena = sp_arena_new();
    const ProtobufCMessage *m = NULL;
    if (!arena)
        return SP_ENOMEM;
    int rc =
        sp_tenants_peek_wait(ud, arena, SP_TENANTS_TAXONOMY, tenant_id, &m, NULL, FIRST_WAIT_MS);
    if (rc == SP_OK) {
        const sp_tenants_taxonomy_t *t = (const sp_tenants_taxonomy_t *)m;
        *customized = t->customized;
        *json = t->customized ? strdup(t->json ? t->json : "") : NULL;
        if (*customized && !*json)
            rc = SP_ENOMEM;
    }
    sp_arena_destroy(&arena);
    return rc;
}

static int read_s_of(int ttl_s)
{
    return ttl_s > PEEK_READ_S ? PEEK_READ_S : 1;
}

ap_taxonomies_t *ap_taxonomies_new_tenants(sp_tenants_t *tenants, int ttl_s)
{
    ap_taxonomies_t *self = ap_taxonomies_new(fetch_peek, tenants, read_s_of(ttl_s));
    if (self) {
        self->retry_s = 1; /* the refresher's answer is picked up at once */
        self->peeking = 1;
    }
    return self;
}

ap_taxonomies_t *ap_taxonomies_new_service(sp_service_t *svc, int ttl_s)
{
    int read_s = read_s_of(ttl_s);
    sp_tenants_opts_t o = {.tm = sp_service_client(svc, "tenant-manager"),
                           .svc = svc,
                           .timeout_ms = FETCH_TIMEOUT_MS,
                           .peek_refresh_ms = ttl_s > read_s ? (ttl_s - read_s) * 1000 : 1000};
    sp_tenants_t *tenants = sp_tenants_new(&o);
    ap_taxonomies_t *self = tenants ? ap_taxonomies_new_tenants(tenants, ttl_s) : NULL;
    if (!self) {
        sp_tenants_destroy(&tenants);
        return NULL;
    }
    self->owned = tenants;
    return self;
}
