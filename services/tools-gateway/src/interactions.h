/*
 * interactions.h — POST /v1/ingest/interactions (permission ingest:write).
 *
 * Request: {"interactions": [ <interaction>, ... ]} (or the bare array), at
 * most SERPHONA_INGEST_BATCH_MAX (500) items and SERPHONA_HTTP_MAX_BODY_BYTES
 * (1 MiB by default) of body; the item shape is in interaction.h. An
 * Idempotency-Key header is honoured (idempotency.h).
 *
 * 202 Accepted, once Kafka acknowledged every accepted item:
 *   {"accepted":   [{"index", "interaction_id", "external_id"}],
 *    "rejected":   [{"index", "code", "field", "message"}],
 *    "duplicates": [{"index", "interaction_id", "external_id"}]}
 * index is the item's position in the batch (from 0). A duplicate is an
 * item whose (tenant, external_id) was accepted before, or earlier in the
 * same batch: it is not published again.
 * Errors: 400 invalid_json / invalid_body / empty_batch; 413 batch_too_large
 * (or payload_too_large from the HTTP server); 503 kafka_unavailable with
 * Retry-After when Kafka did not acknowledge in time — nothing of that
 * batch may be assumed stored; items that were acknowledged are recorded,
 * so re-sending the whole batch reports them as duplicates.
 */
#ifndef TG_INTERACTIONS_H
#define TG_INTERACTIONS_H

#include "tg.h"

/* Registers the route (partner_auth.h tg_route_add). Returns 0 or an SP_E*. */
int tg_interactions_register(tg_t *tg);

#endif
