/*
 * analysis.c — Interaction -> libnlp (nlp_analyze) -> ap_record_t
 * (analysis.h).
 */
#include "analysis.h"

#include <stdlib.h>
#include <string.h>

#include "nlp/analyze.h"
#include "platform/buf.h"
#include "platform/error.h"
#include "validate.h"

/* A redacted copy of s in arena, its matches added to counts; NULL when out
 * of memory. For the short fields nlp_analyze does not see. */
static char *redact(sp_arena_t *arena, const char *s, nlp_pii_counts_t *counts)
{
    size_t len = 0;
    char *r = nlp_pii_redact(s ? s : "", s ? strlen(s) : 0, counts, &len);
    char *out;

    if (!r)
        return NULL;
    out = sp_arena_strndup(arena, r, len);
    free(r);
    return out;
}

static nlp_speaker_t speaker_of(const char *s)
{
    nlp_speaker_t sp = NLP_SPEAKER_OTHER;
    /* validate.h allows agent, customer and system; "system" is the
     * agent's side (a bot, an IVR prompt). */
    nlp_speaker_parse(s, &sp);
    return sp;
}

/* The nlp input for ix: its utterances, preceded by the e-mail subject (as a
 * speaker-less text without times) when there is one. *n_lead is 1 then. */
static int build_input(const Serphona__Interactions__V1__Interaction *ix, sp_arena_t *arena,
                       nlp_interaction_t *in, size_t *n_lead)
{
    size_t lead = ix->subject && *ix->subject ? 1 : 0;
    size_t n = ix->n_utterances + lead;
    nlp_utterance_t *u;

    nlp_interaction_init(in);
    in->language = ix->language;
    if (ix->survey) {
        /* csat 0 is a producer that never set it (validate.h). */
        in->csat = ix->survey->csat >= 1 ? ix->survey->csat : -1;
        in->nps = ix->survey->nps >= 0 ? ix->survey->nps : -1;
    }
    in->rating = ix->rating >= 1 ? ix->rating : -1;
    *n_lead = lead;
    if (n == 0)
        return SP_OK;
    if (!(u = sp_arena_alloc(arena, n * sizeof *u)))
        return SP_ENOMEM;
    if (lead)
        u[0] = (nlp_utterance_t){NLP_SPEAKER_OTHER, ix->subject, 0, -1, -1};
    for (size_t i = 0; i < ix->n_utterances; i++) {
        const Serphona__Interactions__V1__Utterance *x = ix->utterances[i];
        u[lead + i] = (nlp_utterance_t){speaker_of(x->speaker), x->text ? x->text : "", 0,
                                        x->start_ms, x->end_ms};
    }
    in->utterances = u;
    in->n_utterances = n;
    return SP_OK;
}

static uint32_t ms32(int64_t ms)
{
    return ms <= 0 ? 0 : ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* Copies what the record keeps of res into arena. */
static int take_result(const nlp_result_t *res, size_t lead, sp_arena_t *arena, ap_record_t *rec)
{
    const char **topics = NULL, **keywords = NULL;
    ap_utterance_t *utt = NULL;
    size_t n_utt = res->n_utterances - lead;
    sp_buf_t text;

    if (!(rec->language = sp_arena_strdup(arena, res->language)) ||
        !(rec->intent = sp_arena_strdup(arena, res->intent)))
        return SP_ENOMEM;
    rec->sentiment = res->sentiment;
    rec->sentiment_customer = res->speakers[NLP_SPEAKER_CUSTOMER].score;
    rec->sentiment_agent = res->speakers[NLP_SPEAKER_AGENT].score;

    if (res->n_topics && !(topics = sp_arena_alloc(arena, res->n_topics * sizeof *topics)))
        return SP_ENOMEM;
    for (size_t i = 0; i < res->n_topics; i++)
        if (!(topics[i] = sp_arena_strdup(arena, res->topics[i].id)))
            return SP_ENOMEM;
    rec->topics = topics;
    rec->n_topics = res->n_topics;
    if (res->n_keywords && !(keywords = sp_arena_alloc(arena, res->n_keywords * sizeof *keywords)))
        return SP_ENOMEM;
    for (size_t i = 0; i < res->n_keywords; i++)
        if (!(keywords[i] = sp_arena_strdup(arena, res->keywords[i].phrase)))
            return SP_ENOMEM;
    rec->keywords = keywords;
    rec->n_keywords = res->n_keywords;

    if (res->has_call_metrics) {
        rec->duration_ms = ms32(res->call.duration_ms);
        rec->talk_agent_ms = ms32(res->call.talk_ms[NLP_SPEAKER_AGENT]);
        rec->talk_customer_ms =
            ms32(res->call.talk_ms[NLP_SPEAKER_CUSTOMER] + res->call.talk_ms[NLP_SPEAKER_OTHER]);
        rec->silence_ratio = res->call.silence_ratio;
        rec->longest_silence_ms = ms32(res->call.longest_silence_ms);
        rec->overtalk_ms = ms32(res->call.overtalk_ms);
    }
    rec->escalated = res->outcome.escalation_requested;
    rec->resolved = res->outcome.resolved;
    rec->churn_risk = res->outcome.churn_risk;
    rec->csat = res->outcome.csat;
    rec->nps = res->outcome.nps;
    rec->pii_redactions += nlp_pii_total(&res->pii);

    /* Only redacted text from here: the result holds nothing else. */
    if (n_utt && !(utt = sp_arena_alloc(arena, n_utt * sizeof *utt)))
        return SP_ENOMEM;
    sp_buf_init(&text, 0);
    for (size_t i = 0; i < res->n_utterances; i++) {
        const nlp_utterance_result_t *u = &res->utterances[i];
        if (sp_buf_len(&text))
            sp_buf_putc(&text, '\n');
        sp_buf_append(&text, u->text, u->len);
        if (i < lead)
            continue;
        ap_utterance_t *o = &utt[i - lead];
        o->speaker = NULL; /* set by the caller from the input */
        o->start_ms = u->start_ms;
        o->end_ms = u->end_ms;
        o->sentiment = u->sentiment.score;
        if (!(o->text = sp_arena_strndup(arena, u->text, u->len))) {
            sp_buf_cleanup(&text);
            return SP_ENOMEM;
        }
    }
    rec->utterances = utt;
    rec->n_utterances = n_utt;
    rec->text = sp_buf_failed(&text)
                    ? NULL
                    : sp_arena_strndup(arena, sp_buf_data(&text), sp_buf_len(&text));
    sp_buf_cleanup(&text);
    return rec->text ? SP_OK : SP_ENOMEM;
}

int ap_analyse(const Serphona__Interactions__V1__Interaction *ix, const nlp_taxonomy_t *tax,
               int64_t now_ms, sp_arena_t *arena, ap_record_t *rec)
{
    nlp_pii_counts_t counts;
    nlp_interaction_t in;
    nlp_result_t res;
    char **tags = NULL;
    size_t lead = 0;
    int rc;

    memset(rec, 0, sizeof *rec);
    memset(&counts, 0, sizeof counts);
    ap_uuid_lower(ix->tenant_id, rec->tenant_id);
    ap_uuid_lower(ix->interaction_id, rec->interaction_id);
    rec->external_id = ix->external_id;
    rec->channel = ix->channel;
    rec->occurred_at_ms = ix->occurred_at_unix_ms;
    rec->analyzed_at_ms = now_ms;
    rec->agent_id = ix->agent_id;
    rec->agent_name = ix->agent_name;
    /* "Never PII" by contract, but partners paste e-mail addresses into
     * anything: the short free-form fields are redacted too. */
    if (!(rec->customer_ref = redact(arena, ix->customer_ref, &counts)))
        return SP_ENOMEM;
    if (ix->n_tags && !(tags = sp_arena_alloc(arena, ix->n_tags * sizeof *tags)))
        return SP_ENOMEM;
    for (size_t i = 0; i < ix->n_tags; i++)
        if (!(tags[i] = redact(arena, ix->tags[i], &counts)))
            return SP_ENOMEM;
    rec->tags = (const char *const *)tags;
    rec->n_tags = ix->n_tags;
    rec->pii_redactions = nlp_pii_total(&counts);

    if ((rc = build_input(ix, arena, &in, &lead)) != SP_OK)
        return rc;
    rc = nlp_analyze(&in, tax, NULL, &res);
    if (rc == SP_ETOOBIG)
        rc = SP_EINVAL;
    if (rc != SP_OK)
        return rc;
    rc = take_result(&res, lead, arena, rec);
    nlp_result_cleanup(&res);
    if (rc != SP_OK)
        return rc;
    for (size_t i = 0; i < rec->n_utterances; i++)
        ((ap_utterance_t *)rec->utterances)[i].speaker = ix->utterances[i]->speaker;
    return SP_OK;
}
