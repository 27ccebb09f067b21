/*
 * analysis.h — one validated Interaction through libnlp into the record the
 * processor stores (rows.h).
 *
 * Redaction comes first: every text of the interaction (utterances, e-mail
 * subject, customer reference, tags) is redacted before any other step reads
 * it, and only redacted text reaches the record; the raw protobuf is freed by
 * the caller right after. Language: the producer's hint when it is a valid
 * tag, else detected.
 */
#ifndef AP_ANALYSIS_H
#define AP_ANALYSIS_H

#include <stdint.h>

#include "interactions.pb-c.h"
#include "nlp/taxonomy.h"
#include "platform/arena.h"
#include "rows.h"

/* Fills *rec from ix (already validated, validate.h), matching topics and
 * intents against tax (NULL = libnlp's default taxonomy), allocating every
 * string and array from arena; rec->analyzed_at_ms is now_ms. Returns 0,
 * SP_EINVAL when the analysis refuses the input (poison: dead-letter it), or
 * SP_ENOMEM (retry). */
int ap_analyse(const Serphona__Interactions__V1__Interaction *ix, const nlp_taxonomy_t *tax,
               int64_t now_ms, sp_arena_t *arena, ap_record_t *rec);

#endif
