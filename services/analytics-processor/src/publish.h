/*
 * publish.h — publishing a flush's events and waiting until the broker has
 * every one of them, so offsets are stored only after the events are out.
 *
 * Events are queued asynchronously (sp_events_publish) and counted; the
 * delivery callbacks count them down. ap_publisher_wait blocks until all
 * are acknowledged or failed. A wait that gives up leaves the count as it is:
 * the next ap_publisher_begin first waits for those late reports (librdkafka
 * reports every queued message within SP_EVENTS_MESSAGE_TIMEOUT_MS), so one
 * flush's failures never leak into the next.
 */
#ifndef AP_PUBLISH_H
#define AP_PUBLISH_H

#include <stddef.h>

#include "platform/events.h"

typedef struct ap_publisher ap_publisher_t;

/* A publisher; NULL when out of memory. It must outlive the producer's
 * delivery reports of what it queued (i.e. destroy it after the producer). */
ap_publisher_t *ap_publisher_new(void);

/* Accepts NULL; sets *self_p to NULL. */
void ap_publisher_destroy(ap_publisher_t **self_p);

/* Starts a round: waits (up to timeout_ms) for reports still due from an
 * earlier round and clears the error. Returns 0 or SP_ETIMEDOUT. */
int ap_publisher_begin(ap_publisher_t *pub, int timeout_ms);

/* Queues one event of type for tenant_id (also the Kafka key) on topic, with
 * the payload (application/json) and traceparent (NULL/"" = none). A failure
 * to queue is remembered and returned by ap_publisher_wait. */
void ap_publisher_send(ap_publisher_t *pub, sp_events_producer_t *prod, const char *topic,
                       const char *type, const char *tenant_id, const char *payload, size_t len,
                       const char *traceparent);

/* Waits up to timeout_ms until every event of the round was reported.
 * Returns 0 when all were acknowledged, else the first error (queueing or
 * delivery), or SP_ETIMEDOUT. */
int ap_publisher_wait(ap_publisher_t *pub, int timeout_ms);

#endif
