/*
 * events.h — Kafka events: an idempotent producer and a consumer-group
 * consumer that store offsets only after the handler made the work durable.
 *
 * Every event travels as the protobuf envelope serphona.events.v1.Event
 * (proto/events.proto) in the message value. The producer also copies the
 * envelope's type, tenant_id, event_id and (when set) traceparent into Kafka
 * headers of the same names, so consumers can route without decoding.
 *
 * Delivery guarantees (DESIGN.md "Data"):
 * - The producer runs with enable.idempotence=true and acks=all: a message is
 *   acknowledged only once every in-sync replica has it, and retries never
 *   duplicate or reorder it within a partition.
 * - The consumer commits offsets automatically, but an offset is *stored* (made
 *   eligible for the next commit) only after the handler returned 0 for that
 *   message. A failing handler makes the consumer seek back to the same message
 *   and deliver it again after a backoff; nothing behind it in that partition
 *   is committed meanwhile. A crash therefore replays at-least-once; handlers
 *   must be idempotent by event_id.
 *
 * - Batch mode (sp_events_consumer_set_batch) defers the store further: a
 *   handler returning 0 only *accepts* a message into the caller's batch, and
 *   offsets are stored once a flush callback made the whole batch durable.
 *
 * librdkafka errors are translated to SP_E* codes here; librdkafka's own text
 * is logged with sp_log_*. Metrics:
 *   serphona_events_produced_total{topic,result}  result = ok | error
 *   serphona_events_consumed_total{topic,result}  result = ok | retry | undecodable
 *   serphona_events_consumer_lag{topic,partition} messages in the partition after the
 *                                                 one being handled (high watermark
 *                                                 librdkafka cached - offset - 1); 0
 *                                                 once the partition is revoked
 *   serphona_events_flushes_total{result}         batch mode; result = ok | error
 *   serphona_events_lost_total{topic}             records the consumer never got because
 *                                                 the broker no longer had them: an offset
 *                                                 reset, an out-of-range fetch or a gap in a
 *                                                 partition (exact where the range is known,
 *                                                 at least 1 where a log restarted); 0 per
 *                                                 subscribed topic from the start. Each
 *                                                 finding is logged at error with the range.
 */
#ifndef SP_EVENTS_H
#define SP_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "events.pb-c.h"

/* The platform topics. Tests and parallel stacks prepend a prefix to these
 * names (plain concatenation, e.g. "t42." + SP_EVENTS_TOPIC_INTERACTIONS); the
 * dev broker's --topic-prefix follows the same rule. */
#define SP_EVENTS_TOPIC_INTERACTIONS     "serphona.interactions.v1"
#define SP_EVENTS_TOPIC_INTERACTIONS_DLQ "serphona.interactions.dlq.v1"
#define SP_EVENTS_TOPIC_ANALYSES         "serphona.analyses.v1"
#define SP_EVENTS_TOPIC_USAGE            "serphona.usage.v1"

/* Kafka header names set by the producer. */
#define SP_EVENTS_HDR_TYPE        "type"
#define SP_EVENTS_HDR_TENANT_ID   "tenant_id"
#define SP_EVENTS_HDR_TRACEPARENT "traceparent"
#define SP_EVENTS_HDR_EVENT_ID    "event_id"

/* How long librdkafka keeps retrying one message before its delivery report
 * says it failed (message.timeout.ms). A sync publish that gave up earlier
 * may still be delivered up to this long after it was queued. */
#define SP_EVENTS_MESSAGE_TIMEOUT_MS 10000

/* ---- the envelope ------------------------------------------------------ */

/* Fills *ev (any previous content is overwritten, not freed) as a new event:
 * a fresh UUIDv7 event_id, occurred_at = now, and malloc'd copies of type,
 * tenant_id, content_type (NULL = "application/json") and the len bytes of
 * payload (payload may be NULL when len is 0). traceparent is left empty.
 *
 * Ownership: after a successful init every string and the payload in *ev are
 * owned by *ev and released by sp_events_event_cleanup(). Change fields only
 * with the setters below (or by assigning malloc'd memory after freeing the
 * old value). Returns 0, SP_EINVAL (NULL ev/type/tenant_id, or payload NULL
 * with len > 0) or SP_ENOMEM (then *ev is left empty and needs no cleanup). */
int sp_events_event_init(Serphona__Events__V1__Event *ev, const char *type, const char *tenant_id,
                         const void *payload, size_t len, const char *content_type);

/* Replaces the event's traceparent with a copy of traceparent (NULL or "" =
 * none). Returns 0, SP_EINVAL or SP_ENOMEM (old value kept). */
int sp_events_event_set_traceparent(Serphona__Events__V1__Event *ev, const char *traceparent);

/* Frees what sp_events_event_init and the setters allocated and resets *ev to
 * an empty envelope. Accepts NULL. Must not be called on an event that came
 * from protobuf-c's unpack (those belong to protobuf-c / the consumer). */
void sp_events_event_cleanup(Serphona__Events__V1__Event *ev);

/* ---- producer ------------------------------------------------------------ */

typedef struct sp_events_producer sp_events_producer_t;

/* Called once per message published with sp_events_publish, from the
 * producer's poll thread: err is 0 when the broker acknowledged the message
 * (acks=all), else SP_ETIMEDOUT (message.timeout.ms ran out), SP_EUNAVAILABLE
 * (no leader / brokers down), SP_ENOTFOUND (unknown topic), SP_ETOOBIG,
 * SP_ESHUTDOWN (purged at destroy) or SP_EIO. Must not block for long and must
 * not destroy the producer. */
typedef void (*sp_events_delivery_fn)(int err, void *ud);

/* A producer connected to brokers ("host:port,..."), identified as client_id
 * (NULL = "serphona"). Starts a poll thread that serves delivery reports.
 * Connecting is lazy: an unreachable broker is not an error here (use
 * sp_events_ping for readiness). Returns NULL on bad configuration or when
 * out of memory (logged). Free with sp_events_producer_destroy. */
sp_events_producer_t *sp_events_producer_new(const char *brokers, const char *client_id);

/* Flushes for at most 5 s, logs how many messages were left undelivered (their
 * delivery callbacks run with SP_ESHUTDOWN), stops the poll thread and frees
 * the producer. Accepts NULL and sets *self_p to NULL. */
void sp_events_producer_destroy(sp_events_producer_t **self_p);

/* Queues ev (serialised; the caller keeps ownership of ev, topic and key and
 * may free them on return) for topic with Kafka key (NULL = no key, i.e.
 * round-robin partitions; normally the tenant id) and headers type,
 * tenant_id, event_id and traceparent (when non-empty). cb (may be NULL) is
 * called later with ud and the delivery result. Returns 0 when queued — then
 * cb is called exactly once — or, without calling cb: SP_EINVAL (NULL or
 * incomplete event: event_id, type and tenant_id are required),
 * SP_EUNAVAILABLE (local queue full or the producer hit a fatal error),
 * SP_ETOOBIG or SP_ENOMEM. Thread-safe. */
int sp_events_publish(sp_events_producer_t *prod, const char *topic, const char *key,
                      const Serphona__Events__V1__Event *ev, sp_events_delivery_fn cb, void *ud);

/* Publishes like sp_events_publish and waits until the broker acknowledged
 * the message (returns 0) or it failed, at most timeout_ms (> 0). Returns the
 * delivery error, or when the wait ran out SP_EUNAVAILABLE if the producer
 * currently sees all brokers down, else SP_ETIMEDOUT. After a failed wait the
 * message may still be delivered later (up to SP_EVENTS_MESSAGE_TIMEOUT_MS after
 * queueing), which is why consumers dedupe by event_id. Thread-safe; must not
 * be called from a delivery callback. */
int sp_events_publish_sync(sp_events_producer_t *prod, const char *topic, const char *key,
                           const Serphona__Events__V1__Event *ev, int timeout_ms);

/* Waits up to timeout_ms until every message queued so far has its delivery
 * report served. Returns 0 or SP_ETIMEDOUT. */
int sp_events_producer_flush(sp_events_producer_t *prod, int timeout_ms);

/* Messages queued whose delivery report has not been served yet (a message
 * counts until its delivery callback has returned, so this may still be 1
 * for a moment after sp_events_publish_sync returned). */
size_t sp_events_producer_pending(const sp_events_producer_t *prod);

/* Readiness: asks the cluster for metadata through the producer's existing
 * connections. Returns 0, SP_EUNAVAILABLE or SP_ETIMEDOUT. */
int sp_events_producer_ping(sp_events_producer_t *prod, int timeout_ms);

/* Same, through a short-lived client connected to brokers. */
int sp_events_ping(const char *brokers, int timeout_ms);

/* ---- consumer ------------------------------------------------------------ */

typedef struct sp_events_consumer sp_events_consumer_t;

/* One consumed record as handed to a handler. Everything it points to is
 * borrowed and valid only until the handler returns: copy what you keep. */
typedef struct {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const void *key; /* NULL when the record has no key */
    size_t key_len;
    const void *value; /* the raw record value (the serialised envelope) */
    size_t value_len;
    /* The decoded envelope, or NULL when the value is not a valid Event
     * (a poison message: the handler decides, e.g. dead-letters it and
     * returns 0, or returns non-zero to have it retried). */
    const Serphona__Events__V1__Event *event;
    const void *impl_; /* private: the librdkafka message */
} sp_events_message_t;

/* While it runs, the thread's log context (log.h) carries the event's
 * tenant_id and the trace of its traceparent, so its lines join the trace.
 * Returns 0 when the message has been processed durably (its offset is then
 * stored and committed with the next auto-commit), non-zero to have the same
 * message delivered again after a backoff (100 ms doubling up to 5 s). Runs in
 * the thread that calls sp_events_consumer_run / _poll_once. */
typedef int (*sp_events_handler_fn)(const sp_events_message_t *msg, void *ud);

/* Finds the first Kafka header called name in msg. On success sets *value to a
 * borrowed pointer (NULL for a null header) and *len, and returns 0; returns
 * SP_ENOTFOUND when absent. */
int sp_events_message_header(const sp_events_message_t *msg, const char *name, const void **value,
                             size_t *len);

/* A consumer in group group_id subscribed to the n_topics topics (copied),
 * with eager range/roundrobin assignment, auto.offset.reset=earliest (a new
 * group starts at the oldest retained event, so nothing produced before it
 * first ran is lost), auto-commit of stored offsets every second and a 10 s
 * session timeout. Subscribing happens here; partitions are assigned while
 * polling. On a revoke, stored offsets are committed synchronously before the
 * partitions are given up. (Against the dev broker, a member joining a group
 * whose last member just left waits about 9 s: the mock cluster holds the
 * group for session.timeout.ms - 1 s.) Returns NULL on bad
 * arguments, bad configuration or out of memory (logged). Free with
 * sp_events_consumer_destroy. */
sp_events_consumer_t *sp_events_consumer_new(const char *brokers, const char *group_id,
                                             const char *const *topics, size_t n_topics,
                                             sp_events_handler_fn handler, void *ud);

/* Polls and dispatches messages in the caller's thread until
 * sp_events_consumer_stop is called, then commits the stored offsets
 * synchronously and leaves the group (rd_kafka_consumer_close), so its
 * partitions are handed over cleanly. Returns 0 after a stop, or
 * SP_EUNAVAILABLE on a fatal consumer error. The consumer cannot be run again
 * after it returned; destroy it. */
int sp_events_consumer_run(sp_events_consumer_t *cons);

/* Asks sp_events_consumer_run to return (within about 100 ms plus the time
 * the current handler takes). Thread-safe and async-signal-safe. */
void sp_events_consumer_stop(sp_events_consumer_t *cons);

/* One poll step for tests and custom loops: waits up to timeout_ms for one
 * message and dispatches it. Returns 1 when a message was handled
 * successfully, 2 when the handler failed (the message will come again), 0
 * when nothing arrived, SP_ESHUTDOWN after close, or SP_EUNAVAILABLE on a
 * fatal error. In batch mode the step also runs a flush that is due (by size
 * or by time); it returns 2 when that flush failed. */
int sp_events_consumer_poll_once(sp_events_consumer_t *cons, int timeout_ms);

/* Commits the offsets stored so far, synchronously. Returns 0 (also when there
 * was nothing to commit) or SP_EUNAVAILABLE. */
int sp_events_consumer_commit(sp_events_consumer_t *cons);

/* ---- batch mode ------------------------------------------------------------ */

/* A batch consumer's flush: make every message the handler accepted since the
 * previous flush durable (e.g. one bulk INSERT). Returns 0 on success — the
 * consumer then stores the offsets of all of them — or non-zero, in which case
 * the caller must forget everything accepted since the previous flush: the
 * consumer rewinds each partition to its first unflushed message and delivers
 * those messages again after a backoff (the same 100 ms .. 5 s backoff as a
 * failing handler). Runs in the consumer's thread, with the handler's ud. */
typedef int (*sp_events_flush_fn)(void *ud);

/* Switches cons to batch mode; call before the first poll. From then on a
 * handler returning 0 means "accepted into the pending batch", not "durable":
 * no offset is stored until flush(ud) returned 0 for it. The consumer calls
 * flush when
 *   - max_messages (>= 1) messages are pending;
 *   - max_wait_ms (>= 0) passed since the oldest pending message was accepted
 *     (checked on every poll step: the poll waits no longer than that);
 *   - before the handler is retried after it failed (so the messages before
 *     the failing one become durable first);
 *   - before its partitions are revoked (a rebalance), and when it closes
 *     (end of sp_events_consumer_run, or sp_events_consumer_destroy when run
 *     was never called) — a flush failing then stores nothing, and the next
 *     owner of the partitions gets those messages again.
 * A handler returning non-zero still has that message redelivered; if the
 * flush before it failed too, every partition with pending messages is
 * rewound. Consequently at-least-once holds across crashes and rebalances,
 * and the caller dedupes (by event or business id) as in single mode.
 * Returns 0, or SP_EINVAL for a NULL argument, max_messages 0, a negative
 * max_wait_ms, or a consumer that already polled. */
int sp_events_consumer_set_batch(sp_events_consumer_t *cons, size_t max_messages, int max_wait_ms,
                                 sp_events_flush_fn flush);

/* Messages accepted by the handler and not yet flushed (0 in single mode). */
size_t sp_events_consumer_pending(const sp_events_consumer_t *cons);

/* Closes the consumer if sp_events_consumer_run did not (committing stored
 * offsets and leaving the group) and frees it. Accepts NULL, sets *self_p to
 * NULL. */
void sp_events_consumer_destroy(sp_events_consumer_t **self_p);

#endif
