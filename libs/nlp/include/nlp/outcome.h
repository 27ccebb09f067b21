/*
 * outcome.h — how the contact ended: escalation, resolution, churn risk,
 * and the survey scores carried with it.
 *
 * What it does: scans the utterances in order for phrases (English,
 * Portuguese, Spanish; case- and accent-insensitive; a standalone * skips
 * up to two words):
 *  - escalation requested: "speak to a manager", "talk to your supervisor",
 *    "escalate", "falar com o supervisor", "quero o gerente", "ouvidoria",
 *    "hablar con un supervisor"... from anyone (an agent's "let me transfer
 *    you to my supervisor" is an escalation too);
 *  - resolved / unresolved: "that fixed it", "it works now", "problem
 *    solved", "resolvido", "deu certo", "ya funciona" vs "still not
 *    working", "didn't help", "continua sem funcionar", "sigue sin
 *    funcionar". A resolution phrase after a negator ("not resolved", "não
 *    resolveu") counts as unresolved. Statements in a sentence ending in
 *    "?" ("did that fix it?") are questions and ignored. The last statement
 *    wins: resolved = the last one says resolved, unresolved = it says not;
 *  - churn risk, from the customer (or a speaker-less text) only: "cancel
 *    my subscription", "switching to a competitor", "won't renew", "vou
 *    cancelar", "trocar de operadora", "portabilidade", "dar de baja"...
 * A negator in the three words before an escalation or churn phrase ("I
 * don't want to cancel", "não quero cancelar") cancels it; the scope stops
 * at punctuation, so "No, I want to cancel" still counts.
 *
 * Survey values are carried as given: CSAT 1..5, NPS 0..10 (with its class:
 * 0-6 detractor, 7-8 passive, 9-10 promoter), review rating 1..5; -1 means
 * absent.
 *
 * Where it stops: phrase spotting, not dialogue understanding: an
 * escalation that was requested and then talked down still counts, a
 * resolution nobody says aloud is not seen, and a churn threat phrased in
 * other words ("I'm done with you people") is missed.
 */
#ifndef NLP_OUTCOME_H
#define NLP_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>

#include "nlp/types.h"

typedef enum {
    NLP_NPS_NONE = -1,
    NLP_NPS_DETRACTOR = 0,
    NLP_NPS_PASSIVE = 1,
    NLP_NPS_PROMOTER = 2,
} nlp_nps_class_t;

/* The class of an NPS answer 0..10; NLP_NPS_NONE for anything else. */
nlp_nps_class_t nlp_nps_classify(int score);

/* "detractor", "passive", "promoter" or "none". */
const char *nlp_nps_class_name(nlp_nps_class_t c);

/* 1 for a satisfied CSAT answer (4 or 5), 0 for 1..3, -1 for anything
 * else (the usual "CSAT %" counts 4s and 5s). */
int nlp_csat_satisfied(int csat);

typedef struct {
    bool escalation_requested;
    bool resolved;
    bool unresolved;
    bool churn_risk;
    unsigned escalation_hits, resolved_hits, unresolved_hits, churn_hits;
    int csat;                  /* 1..5, or -1 */
    int nps;                   /* 0..10, or -1 */
    nlp_nps_class_t nps_class; /* from nps */
    int rating;                /* 1..5, or -1 */
    int last_resolution;       /* private: +1 resolved, -1 unresolved, 0 none yet */
} nlp_outcome_t;

/* Clears *o: no flags, no counts, survey values -1. */
void nlp_outcome_init(nlp_outcome_t *o);

/* Scans one utterance (call in conversation order) said by speaker, with
 * the phrases of lang (NULL/"und"/others: all languages). Returns 0, or
 * SP_EINVAL / SP_ENOMEM. */
int nlp_outcome_scan(nlp_outcome_t *o, const char *text, size_t len, nlp_speaker_t speaker,
                     const char *lang);

/* Sets the survey values; pass -1 for an absent one. A value out of range
 * is stored as -1 and the call returns SP_EINVAL (the valid ones are still
 * stored); otherwise 0. */
int nlp_outcome_set_survey(nlp_outcome_t *o, int csat, int nps, int rating);

#endif
