/*
 * types.c — names of the shared value types.
 */
#include "nlp/types.h"

#include "platform/error.h"

const char *nlp_speaker_name(nlp_speaker_t speaker)
{
    switch (speaker) {
    case NLP_SPEAKER_AGENT:
        return "agent";
    case NLP_SPEAKER_CUSTOMER:
        return "customer";
    default:
        return "other";
    }
}

/* ASCII case-insensitive equality, independent of the C locale. */
static int eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a + 32) : *a;
        if (x != *b)
            return 0;
    }
    return *a == *b;
}

int nlp_speaker_parse(const char *name, nlp_speaker_t *out)
{
    if (!name || !out)
        return SP_EINVAL;
    if (eq(name, "agent") || eq(name, "bot") || eq(name, "system"))
        *out = NLP_SPEAKER_AGENT;
    else if (eq(name, "customer") || eq(name, "client") || eq(name, "user"))
        *out = NLP_SPEAKER_CUSTOMER;
    else if (eq(name, "other"))
        *out = NLP_SPEAKER_OTHER;
    else
        return SP_EINVAL;
    return 0;
}
