/*
 * publish.c — counted asynchronous publishing (publish.h).
 */
#include "publish.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"

struct ap_publisher {
    pthread_mutex_t mtx;
    pthread_cond_t cond;
    size_t pending; /* queued, not yet reported */
    int err;        /* first error of the round */
};

ap_publisher_t *ap_publisher_new(void)
{
    ap_publisher_t *pub = calloc(1, sizeof *pub);

    if (!pub)
        return NULL;
    pthread_mutex_init(&pub->mtx, NULL);
    pthread_cond_init(&pub->cond, NULL);
    return pub;
}

void ap_publisher_destroy(ap_publisher_t **self_p)
{
    ap_publisher_t *pub;

    if (!self_p || !(pub = *self_p))
        return;
    *self_p = NULL;
    pthread_cond_destroy(&pub->cond);
    pthread_mutex_destroy(&pub->mtx);
    free(pub);
}

static void delivered(int err, void *ud)
{
    ap_publisher_t *pub = ud;

    pthread_mutex_lock(&pub->mtx);
    if (err && !pub->err)
        pub->err = err;
    pub->pending--;
    pthread_cond_broadcast(&pub->cond);
    pthread_mutex_unlock(&pub->mtx);
}

/* Waits with pub->mtx held until nothing is pending or the deadline. */
static int wait_locked(ap_publisher_t *pub, int timeout_ms)
{
    struct timespec until = sp_clock_timespec_in(CLOCK_REALTIME, timeout_ms);

    while (pub->pending > 0)
        if (pthread_cond_timedwait(&pub->cond, &pub->mtx, &until) == ETIMEDOUT)
            return pub->pending > 0 ? SP_ETIMEDOUT : SP_OK;
    return SP_OK;
}

int ap_publisher_begin(ap_publisher_t *pub, int timeout_ms)
{
    int rc;

    pthread_mutex_lock(&pub->mtx);
    rc = wait_locked(pub, timeout_ms);
    if (rc == SP_OK)
        pub->err = 0;
    pthread_mutex_unlock(&pub->mtx);
    return rc;
}

void ap_publisher_send(ap_publisher_t *pub, sp_events_producer_t *prod, const char *topic,
                       const char *type, const char *tenant_id, const char *payload, size_t len,
                       const char *traceparent)
{
    Serphona__Events__V1__Event ev = SERPHONA__EVENTS__V1__EVENT__INIT;
    int rc = sp_events_event_init(&ev, type, tenant_id, payload, len, "application/json");

    if (rc == SP_OK && traceparent && *traceparent)
        rc = sp_events_event_set_traceparent(&ev, traceparent);
    if (rc == SP_OK) {
        /* Counted before publishing: the report may come before it returns. */
        pthread_mutex_lock(&pub->mtx);
        pub->pending++;
        pthread_mutex_unlock(&pub->mtx);
        rc = sp_events_publish(prod, topic, tenant_id, &ev, delivered, pub);
        if (rc != SP_OK) {
            pthread_mutex_lock(&pub->mtx);
            pub->pending--;
            pthread_mutex_unlock(&pub->mtx);
        }
    }
    sp_events_event_cleanup(&ev);
    if (rc != SP_OK) {
        pthread_mutex_lock(&pub->mtx);
        if (!pub->err)
            pub->err = rc;
        pthread_mutex_unlock(&pub->mtx);
    }
}

int ap_publisher_wait(ap_publisher_t *pub, int timeout_ms)
{
    int rc;

    pthread_mutex_lock(&pub->mtx);
    rc = wait_locked(pub, timeout_ms);
    if (rc == SP_OK)
        rc = pub->err;
    pthread_mutex_unlock(&pub->mtx);
    if (rc != SP_OK)
        sp_log_warn("processor: events not all acknowledged: %s", sp_strerror(rc));
    return rc;
}
