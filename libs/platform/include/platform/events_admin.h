/*
 * events_admin.h — questions about a Kafka cluster that no producer or
 * consumer of the platform asks in its own traffic: how far behind a
 * consumer group is on a topic, measured from the broker.
 *
 * The lag of a group on a topic is, summed over the topic's partitions, the
 * records between what the group committed and the partition's high
 * watermark. A partition where the group has committed nothing (a new group,
 * auto.offset.reset=earliest) counts from its low watermark, as does one
 * whose committed offset fell below it (records the broker no longer holds
 * cannot be consumed, so they are not backlog). This reads only committed
 * offsets and watermarks: it never joins the group, so asking changes no
 * assignment. Each call costs a few round trips (metadata, one offset fetch,
 * one watermark query per partition): meant for a background thread every
 * second or so, never for a request path.
 */
#ifndef SP_EVENTS_ADMIN_H
#define SP_EVENTS_ADMIN_H

#include <stdint.h>

typedef struct sp_events_admin sp_events_admin_t;

/* A client of the cluster at brokers ("host:port,...") that reads the
 * offsets group_id committed. Connecting is lazy (an unreachable cluster is
 * no error here). Returns NULL on bad arguments, bad configuration or out of
 * memory (logged). Free with sp_events_admin_destroy. */
sp_events_admin_t *sp_events_admin_new(const char *brokers, const char *group_id);

/* Accepts NULL; sets *self_p to NULL. */
void sp_events_admin_destroy(sp_events_admin_t **self_p);

/* The group's lag on topic (see above) into *lag; *partitions (may be NULL)
 * receives the topic's partition count. Waits at most about timeout_ms per
 * round trip. Returns 0, SP_ENOTFOUND (no such topic), SP_EUNAVAILABLE (the
 * cluster or the group coordinator does not answer), SP_ETIMEDOUT, SP_EINVAL
 * or SP_ENOMEM; *lag is untouched on failure. (The development broker
 * creates an unknown topic on any metadata request, so there the answer is
 * 0 and the topic exists afterwards.) Not thread-safe on one admin:
 * give each thread its own. */
int sp_events_admin_group_lag(sp_events_admin_t *admin, const char *topic, int timeout_ms,
                              int64_t *lag, int *partitions);

#endif
