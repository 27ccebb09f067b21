/*
 * localcache.c — the invalidated in-process cache (localcache.h).
 */
#include "localcache.h"

#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"
#include "platform/text.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SHARDS  16
#define BUCKETS 256 /* per shard */
#define CHANNEL "__redis__:invalidate"

typedef struct entry {
    struct entry *next;
    int64_t expires_ms;
    int present;
    size_t len;
    char *val;
    char key[]; /* NUL-terminated */
} entry_t;

typedef struct {
    pthread_mutex_t mu;
    entry_t *buckets[BUCKETS];
    size_t count;
} shard_t;

struct gw_l1 {
    shard_t shards[SHARDS];
    size_t shard_cap;
    int ttl_ms;
    char **prefixes;
    size_t n_prefixes;
    _Atomic uint64_t epoch;
    atomic_int active; /* listener connected and tracking */
    atomic_int stopping;
    pthread_mutex_t run_mu; /* guards started, conn */
    atomic_int started;
    pthread_t thread;
    redisContext *conn;
    sp_redis_pool_t *pool;
};

static void free_chain(entry_t *e)
{
    while (e) {
        entry_t *next = e->next;
        free(e->val);
        free(e);
        e = next;
    }
}

static void shard_clear(shard_t *s)
{
    for (int b = 0; b < BUCKETS; b++) {
        free_chain(s->buckets[b]);
        s->buckets[b] = NULL;
    }
    s->count = 0;
}

static void clear_all(gw_l1_t *l1)
{
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_lock(&l1->shards[i].mu);
        shard_clear(&l1->shards[i]);
        pthread_mutex_unlock(&l1->shards[i].mu);
    }
}

gw_l1_t *gw_l1_new(size_t capacity, int ttl_ms, const char *const *prefixes)
{
    gw_l1_t *l1 = calloc(1, sizeof(*l1));
    if (!l1)
        return NULL;
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_init(&l1->shards[i].mu, NULL);
    pthread_mutex_init(&l1->run_mu, NULL);
    l1->shard_cap = capacity / SHARDS ? capacity / SHARDS : 1;
    l1->ttl_ms = ttl_ms;
    while (prefixes[l1->n_prefixes])
        l1->n_prefixes++;
    l1->prefixes = calloc(l1->n_prefixes ? l1->n_prefixes : 1, sizeof(char *));
    if (!l1->prefixes) {
        gw_l1_destroy(&l1);
        return NULL;
    }
    for (size_t i = 0; i < l1->n_prefixes; i++)
        if (!(l1->prefixes[i] = strdup(prefixes[i]))) {
            gw_l1_destroy(&l1);
            return NULL;
        }
    return l1;
}

void gw_l1_destroy(gw_l1_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_l1_t *l1 = *self_p;
    gw_l1_stop(l1);
    for (int i = 0; i < SHARDS; i++) {
        shard_clear(&l1->shards[i]);
        pthread_mutex_destroy(&l1->shards[i].mu);
    }
    for (size_t i = 0; l1->prefixes && i < l1->n_prefixes; i++)
        free(l1->prefixes[i]);
    free(l1->prefixes);
    pthread_mutex_destroy(&l1->run_mu);
    free(l1);
    *self_p = NULL;
}

uint64_t gw_l1_epoch(const gw_l1_t *l1)
{
    return atomic_load(&((gw_l1_t *)l1)->epoch);
}

int gw_l1_active(const gw_l1_t *l1)
{
    return atomic_load(&((gw_l1_t *)l1)->active);
}

static void invalidate_key(gw_l1_t *l1, const char *key, size_t len)
{
    char buf[512];
    if (len >= sizeof buf) /* longer than any key we store */
        return;
    memcpy(buf, key, len);
    buf[len] = '\0';
    uint32_t h = sp_fnv1a32(buf);
    shard_t *s = &l1->shards[h % SHARDS];
    pthread_mutex_lock(&s->mu);
    entry_t **pp = &s->buckets[(h / SHARDS) % BUCKETS];
    while (*pp) {
        if (strcmp((*pp)->key, buf) == 0) {
            entry_t *e = *pp;
            *pp = e->next;
            e->next = NULL;
            free_chain(e);
            s->count--;
            break;
        }
        pp = &(*pp)->next;
    }
    pthread_mutex_unlock(&s->mu);
}

int gw_l1_get(gw_l1_t *l1, const char *key, sp_arena_t *arena, int *present, const char **val,
              size_t *len)
{
    if (!atomic_load(&l1->active))
        return 0;
    uint32_t h = sp_fnv1a32(key);
    shard_t *s = &l1->shards[h % SHARDS];
    int found = 0;
    int64_t now = sp_clock_mono_ms();
    pthread_mutex_lock(&s->mu);
    for (entry_t *e = s->buckets[(h / SHARDS) % BUCKETS]; e; e = e->next) {
        if (strcmp(e->key, key) != 0)
            continue;
        if (e->expires_ms <= now)
            break;
        found = 1;
        *present = e->present;
        *len = e->len;
        *val = NULL;
        if (e->present && !(*val = sp_arena_strndup(arena, e->val, e->len)))
            found = -1;
        break;
    }
    pthread_mutex_unlock(&s->mu);
    return found;
}

void gw_l1_put(gw_l1_t *l1, const char *key, const char *val, size_t len, uint64_t epoch)
{
    if (!atomic_load(&l1->active))
        return;
    size_t klen = strlen(key);
    entry_t *e = malloc(sizeof(*e) + klen + 1);
    if (!e)
        return;
    memcpy(e->key, key, klen + 1);
    e->next = NULL;
    e->present = val != NULL;
    e->len = val ? len : 0;
    e->val = NULL;
    if (val && !(e->val = malloc(len ? len : 1))) {
        free(e);
        return;
    }
    if (val)
        memcpy(e->val, val, len);
    e->expires_ms = sp_clock_mono_ms() + l1->ttl_ms;

    uint32_t h = sp_fnv1a32(key);
    shard_t *s = &l1->shards[h % SHARDS];
    pthread_mutex_lock(&s->mu);
    /* Checked under the shard lock: the listener bumps the epoch before it
     * takes this lock to drop keys, so a value fetched before an
     * invalidation can never land after it. */
    if (atomic_load(&l1->epoch) != epoch || !atomic_load(&l1->active)) {
        pthread_mutex_unlock(&s->mu);
        free_chain(e);
        return;
    }
    if (s->count >= l1->shard_cap)
        shard_clear(s); /* crude but bounded; refilled from Redis */
    entry_t **pp = &s->buckets[(h / SHARDS) % BUCKETS];
    for (; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->key, key) == 0) {
            entry_t *old = *pp;
            e->next = old->next;
            old->next = NULL;
            *pp = e;
            free_chain(old);
            pthread_mutex_unlock(&s->mu);
            return;
        }
    }
    e->next = s->buckets[(h / SHARDS) % BUCKETS];
    s->buckets[(h / SHARDS) % BUCKETS] = e;
    s->count++;
    pthread_mutex_unlock(&s->mu);
}

/* ---- the listener --------------------------------------------------------- */

/* Opens the tracking connection: CLIENT ID, CLIENT TRACKING on REDIRECT to
 * itself in BCAST mode for our prefixes, SUBSCRIBE. NULL on failure. */
static redisContext *open_tracking(gw_l1_t *l1)
{
    redisContext *c = sp_redis_pool_connect(l1->pool);
    if (!c)
        return NULL;
    redisReply *r = redisCommand(c, "CLIENT ID");
    if (!r || r->type != REDIS_REPLY_INTEGER)
        goto fail;
    long long id = r->integer;
    freeReplyObject(r);

    size_t argc = 6 + 2 * l1->n_prefixes;
    const char **argv = calloc(argc, sizeof(char *));
    char idtext[32];
    snprintf(idtext, sizeof idtext, "%lld", id);
    if (!argv)
        goto fail_noreply;
    size_t n = 0;
    argv[n++] = "CLIENT";
    argv[n++] = "TRACKING";
    argv[n++] = "on";
    argv[n++] = "REDIRECT";
    argv[n++] = idtext;
    argv[n++] = "BCAST";
    for (size_t i = 0; i < l1->n_prefixes; i++) {
        argv[n++] = "PREFIX";
        argv[n++] = l1->prefixes[i];
    }
    r = redisCommandArgv(c, (int)n, argv, NULL);
    free(argv);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        sp_log_warn("local cache disabled: CLIENT TRACKING refused: %s", r ? r->str : c->errstr);
        goto fail;
    }
    freeReplyObject(r);
    r = redisCommand(c, "SUBSCRIBE " CHANNEL);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        goto fail;
    freeReplyObject(r);
    /* Messages may be rare: no read timeout (stop() shuts the socket). */
    struct timeval none = {0, 0};
    redisSetTimeout(c, none);
    redisEnableKeepAlive(c);
    return c;
fail:
    if (r)
        freeReplyObject(r);
fail_noreply:
    redisFree(c);
    return NULL;
}

static void handle_message(gw_l1_t *l1, const redisReply *m)
{
    /* ["message", channel, keys] ; keys is an array, or nil for "flush
     * everything" (FLUSHALL, or Redis lost track). */
    if (m->type != REDIS_REPLY_ARRAY || m->elements < 3 ||
        m->element[0]->type != REDIS_REPLY_STRING || strcmp(m->element[0]->str, "message") != 0)
        return;
    const redisReply *keys = m->element[2];
    atomic_fetch_add(&l1->epoch, 1);
    if (keys->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < keys->elements; i++)
            if (keys->element[i]->type == REDIS_REPLY_STRING)
                invalidate_key(l1, keys->element[i]->str, keys->element[i]->len);
    } else {
        clear_all(l1);
    }
}

static void go_inactive(gw_l1_t *l1)
{
    atomic_store(&l1->active, 0);
    atomic_fetch_add(&l1->epoch, 1);
    clear_all(l1);
}

static void *listen_main(void *arg)
{
    gw_l1_t *l1 = arg;
    int backoff_ms = 100;
    while (!atomic_load(&l1->stopping)) {
        redisContext *c = open_tracking(l1);
        if (!c) {
            for (int waited = 0; waited < backoff_ms && !atomic_load(&l1->stopping); waited += 50)
                usleep(50 * 1000);
            backoff_ms = backoff_ms < 5000 ? backoff_ms * 2 : 5000;
            continue;
        }
        backoff_ms = 100;
        pthread_mutex_lock(&l1->run_mu);
        l1->conn = c;
        pthread_mutex_unlock(&l1->run_mu);
        clear_all(l1); /* nothing heard before this connection can be trusted */
        atomic_store(&l1->active, 1);
        sp_log_info("local auth cache: tracking invalidations");
        for (;;) {
            redisReply *m = NULL;
            if (redisGetReply(c, (void **)&m) != REDIS_OK || !m)
                break;
            handle_message(l1, m);
            freeReplyObject(m);
        }
        go_inactive(l1);
        pthread_mutex_lock(&l1->run_mu);
        l1->conn = NULL;
        pthread_mutex_unlock(&l1->run_mu);
        if (!atomic_load(&l1->stopping))
            sp_log_warn("local auth cache: invalidation connection lost (%s); disabled until "
                        "it reconnects",
                        c->errstr[0] ? c->errstr : "closed");
        redisFree(c);
    }
    return NULL;
}

int gw_l1_start(gw_l1_t *l1, sp_redis_pool_t *pool)
{
    if (atomic_load(&l1->started) || atomic_load(&l1->stopping))
        return SP_OK; /* the common case, without a lock */
    pthread_mutex_lock(&l1->run_mu);
    int rc = SP_OK;
    if (!atomic_load(&l1->started) && !atomic_load(&l1->stopping) && pool) {
        l1->pool = pool;
        if (pthread_create(&l1->thread, NULL, listen_main, l1) == 0)
            atomic_store(&l1->started, 1);
        else
            rc = SP_EIO;
    }
    pthread_mutex_unlock(&l1->run_mu);
    return rc;
}

void gw_l1_stop(gw_l1_t *l1)
{
    pthread_mutex_lock(&l1->run_mu);
    int started = atomic_exchange(&l1->started, 0);
    atomic_store(&l1->stopping, 1);
    if (l1->conn)
        shutdown(l1->conn->fd, SHUT_RDWR); /* wakes the blocked read */
    pthread_mutex_unlock(&l1->run_mu);
    if (started)
        pthread_join(l1->thread, NULL);
    go_inactive(l1);
}
