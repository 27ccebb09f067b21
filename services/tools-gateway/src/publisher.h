/*
 * publisher.h — interactions onto Kafka, acknowledged before anyone is told
 * "accepted".
 *
 * Each interaction travels as the payload (application/x-protobuf) of an
 * "interaction.recorded" event (events.proto) keyed by its interaction id,
 * so one tenant's burst spreads over every partition and every consumer of
 * the processor's group (no order between interactions is promised; the
 * processor deduplicates by interaction id, so the same key always lands on
 * the partition that already has it). A batch is
 * queued at once and then awaited as a whole: one wait for all delivery
 * reports instead of one round trip per item. The producer runs with
 * acks=all and idempotence (events.h), so an acknowledged message is on
 * every in-sync replica.
 *
 * Two ways to wait:
 *   - tg_publish_batch blocks the caller (the upload worker);
 *   - tg_publish_start returns at once and calls back on one of the
 *     publisher's completion threads when the batch is settled, so an HTTP
 *     or RPC thread is not held while Kafka works (the request is suspended,
 *     SP_HANDLER_ASYNC) and the callback may itself block briefly (the
 *     ledger write, the reply).
 * A message whose report has not come by the deadline counts as failed
 * (SP_ETIMEDOUT); it may still be delivered later, which consumers absorb by
 * deduplicating on interaction_id. Late reports are absorbed here.
 */
#ifndef TG_PUBLISHER_H
#define TG_PUBLISHER_H

#include <stddef.h>

#include "interactions.pb-c.h"
#include "platform/events.h"

#define TG_EVENT_INTERACTION_RECORDED "interaction.recorded"

typedef struct tg_publish tg_publish_t;

/* Runs once per tg_publish_start, on a completion thread (or in
 * tg_publisher_stop). p stays valid until the callback frees it with
 * tg_publish_free. */
typedef void (*tg_publish_done_fn)(tg_publish_t *p, void *ud);

/* Starts threads completion threads (process-wide; tg_publish_start needs
 * them). Returns 0, SP_EINVAL when already running, or SP_EIO. */
int tg_publisher_start(int threads);

/* Stops the completion threads; publishes still pending are settled at once
 * (their unacknowledged messages count as failed) and their callbacks run
 * before this returns. No-op when not running. */
void tg_publisher_stop(void);

/* Publishes the n interactions of tenant_id to topic and waits until every
 * delivery report arrived or timeout_ms passed. results[i] receives 0 when
 * the broker acknowledged ixs[i], else a negative SP_E*. traceparent may be
 * NULL. Returns 0 when every message was acknowledged, SP_EUNAVAILABLE when
 * some were not, SP_ENOMEM. Thread-safe; needs no completion thread. */
int tg_publish_batch(sp_events_producer_t *prod, const char *topic, const char *tenant_id,
                     const char *traceparent, Serphona__Interactions__V1__Interaction *const *ixs,
                     size_t n, int timeout_ms, int *results);

/* An interaction already serialised (the ledger's copy, re-published by the
 * reconciler). Every pointer is borrowed for the call. */
typedef struct {
    const char *tenant_id;
    const char *interaction_id; /* the Kafka key */
    const void *data;           /* a packed serphona.interactions.v1.Interaction */
    size_t len;
} tg_packed_t;

/* Publishes the n packed interactions (each of its own tenant, without
 * traceparent) like tg_publish_batch: results[i] is 0 when msgs[i] was
 * acknowledged. Returns 0, SP_EUNAVAILABLE or SP_ENOMEM. */
int tg_publish_packed(sp_events_producer_t *prod, const char *topic, const tg_packed_t *msgs,
                      size_t n, int timeout_ms, int *results);

/* Queues the n interactions (serialised here: ixs may be freed on return)
 * and returns; done(p, ud) runs exactly once, on a completion thread, when
 * every report arrived or timeout_ms passed. Returns NULL, without calling
 * done, when out of memory or when the completion threads do not run. */
tg_publish_t *tg_publish_start(sp_events_producer_t *prod, const char *topic, const char *tenant_id,
                               const char *traceparent,
                               Serphona__Interactions__V1__Interaction *const *ixs, size_t n,
                               int timeout_ms, tg_publish_done_fn done, void *ud);

/* In the done callback: the result of message i (0 or an SP_E*), and the
 * seconds from tg_publish_start to the settlement. */
int tg_publish_result(const tg_publish_t *p, size_t i);
double tg_publish_seconds(const tg_publish_t *p);

/* Releases p (call once, from or after done). */
void tg_publish_free(tg_publish_t *p);

#endif
