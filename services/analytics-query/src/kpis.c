/*
 * kpis.c — KPI definitions over additive sums (see kpis.h for the table).
 */
#include "kpis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"

typedef struct {
    const char *name;   /* short name for aliases */
    const char *rollup; /* the column of interactions_hourly and interactions_hourly_channel */
    const char *topics; /* the topics_hourly column, or NULL */
    const char *raw;    /* the expression over interactions */
} sum_def_t;

static const sum_def_t SUMS[AQ_S_COUNT] = {
    [AQ_S_N] = {"n", "interactions", "interactions", "1"},
    [AQ_S_SENT] = {"sent", "sentiment_sum", "sentiment_sum", "toFloat64(sentiment)"},
    [AQ_S_POS] = {"pos", "positive", NULL, "sentiment > 0.05"},
    [AQ_S_NEG] = {"neg", "negative", "negative", "sentiment < -0.05"},
    [AQ_S_RES] = {"res", "resolved", NULL, "resolved"},
    [AQ_S_ESC] = {"esc", "escalated", NULL, "escalated"},
    [AQ_S_CHURN] = {"churn", "churn_risk", NULL, "churn_risk"},
    [AQ_S_DUR] = {"dur", "duration_ms_sum", NULL, "toUInt64(duration_ms)"},
    [AQ_S_TIMED] = {"timed", "timed", NULL, "duration_ms > 0"},
    [AQ_S_SIL] = {"sil", "silence_ratio_sum", NULL, "toFloat64(silence_ratio)"},
    [AQ_S_CSAT_SUM] = {"csat_sum", "csat_sum", NULL, "if(csat >= 0, toUInt64(csat), 0)"},
    [AQ_S_CSAT_N] = {"csat_n", "csat_count", NULL, "csat >= 0"},
    [AQ_S_PROM] = {"prom", "nps_promoters", NULL, "nps >= 9"},
    [AQ_S_DETR] = {"detr", "nps_detractors", NULL, "nps >= 0 AND nps <= 6"},
    [AQ_S_NPS_N] = {"nps_n", "nps_count", NULL, "nps >= 0"},
};

static const char *const KPI_NAMES[AQ_K_COUNT] = {
    "volume",        "sentiment_avg",   "positive_share",  "negative_share",   "nps",
    "csat_avg",      "resolution_rate", "escalation_rate", "churn_risk_share", "aht_seconds",
    "silence_ratio",
};

const char *aq_kpi_name(aq_kpi_t k)
{
    return (unsigned)k < AQ_K_COUNT ? KPI_NAMES[k] : NULL;
}

int aq_kpi_parse(const char *name)
{
    for (int k = 0; k < AQ_K_COUNT; k++)
        if (strcmp(name, KPI_NAMES[k]) == 0)
            return k;
    return -1;
}

#define B(s) AQ_SUM_BIT(AQ_S_##s)

unsigned aq_kpi_needs(aq_kpi_t k)
{
    switch (k) {
    case AQ_K_VOLUME:
        return B(N);
    case AQ_K_SENTIMENT:
        return B(N) | B(SENT);
    case AQ_K_POSITIVE:
        return B(N) | B(POS);
    case AQ_K_NEGATIVE:
        return B(N) | B(NEG);
    case AQ_K_NPS:
        return B(PROM) | B(DETR) | B(NPS_N);
    case AQ_K_CSAT:
        return B(CSAT_SUM) | B(CSAT_N);
    case AQ_K_RESOLUTION:
        return B(N) | B(RES);
    case AQ_K_ESCALATION:
        return B(N) | B(ESC);
    case AQ_K_CHURN:
        return B(N) | B(CHURN);
    case AQ_K_AHT:
        return B(DUR) | B(TIMED);
    case AQ_K_SILENCE:
        return B(SIL) | B(TIMED);
    default:
        return 0;
    }
}

unsigned aq_src_sums(aq_src_t src)
{
    return src == AQ_SRC_TOPICS ? AQ_SUMS_TOPICS : AQ_SUMS_ALL;
}

double aq_round6(double x)
{
    double r = round(x * 1e6) / 1e6;
    return r == 0.0 ? 0.0 : r; /* no "-0" in answers */
}

static int ratio(double num, double den, double scale, double *out)
{
    if (den <= 0)
        return 0;
    *out = aq_round6(num / den * scale);
    return 1;
}

int aq_kpi_value(aq_kpi_t k, const aq_sums_t *s, double *out)
{
    const double *v = s->v;
    switch (k) {
    case AQ_K_VOLUME:
        *out = v[AQ_S_N];
        return 1;
    case AQ_K_SENTIMENT:
        return ratio(v[AQ_S_SENT], v[AQ_S_N], 1, out);
    case AQ_K_POSITIVE:
        return ratio(v[AQ_S_POS], v[AQ_S_N], 1, out);
    case AQ_K_NEGATIVE:
        return ratio(v[AQ_S_NEG], v[AQ_S_N], 1, out);
    case AQ_K_NPS:
        return ratio(v[AQ_S_PROM] - v[AQ_S_DETR], v[AQ_S_NPS_N], 100, out);
    case AQ_K_CSAT:
        return ratio(v[AQ_S_CSAT_SUM], v[AQ_S_CSAT_N], 1, out);
    case AQ_K_RESOLUTION:
        return ratio(v[AQ_S_RES], v[AQ_S_N], 1, out);
    case AQ_K_ESCALATION:
        return ratio(v[AQ_S_ESC], v[AQ_S_N], 1, out);
    case AQ_K_CHURN:
        return ratio(v[AQ_S_CHURN], v[AQ_S_N], 1, out);
    case AQ_K_AHT:
        return ratio(v[AQ_S_DUR], v[AQ_S_TIMED], 0.001, out);
    case AQ_K_SILENCE:
        return ratio(v[AQ_S_SIL], v[AQ_S_TIMED], 1, out);
    default:
        return 0;
    }
}

const char *aq_sum_name(aq_sum_t s)
{
    return (unsigned)s < AQ_S_COUNT ? SUMS[s].name : NULL;
}

int aq_sums_select(sp_buf_t *b, aq_src_t src, unsigned mask, const char *cond, const char *alias)
{
    int first = 1;
    for (int i = 0; i < AQ_S_COUNT; i++) {
        if (!(mask & AQ_SUM_BIT(i)))
            continue;
        /* Both hourly rollups have the same columns (003_rollup_by_channel.sql). */
        const char *col = src == AQ_SRC_RAW      ? SUMS[i].raw
                          : src == AQ_SRC_TOPICS ? SUMS[i].topics
                                                 : SUMS[i].rollup;
        if (!first)
            sp_buf_puts(b, ", ");
        first = 0;
        if (!col)
            sp_buf_puts(b, "0");
        else if (cond)
            sp_buf_appendf(b, "sumIf((%s), %s)", col, cond);
        else
            sp_buf_appendf(b, "sum((%s))", col);
        if (alias)
            sp_buf_appendf(b, " AS %s%s", alias, SUMS[i].name);
    }
    return sp_buf_failed(b);
}

void aq_sums_read(aq_sums_t *s, unsigned mask, const cJSON *row, int *col)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < AQ_S_COUNT; i++) {
        if (!(mask & AQ_SUM_BIT(i)))
            continue;
        double d = aq_num(cJSON_GetArrayItem(row, (*col)++));
        s->v[i] = isnan(d) ? 0 : d;
    }
}

cJSON *aq_json_num_or_null(int has, double v)
{
    return has ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

cJSON *aq_kpi_compare_json(cJSON *obj, const char *name, int has_cur, double cur, int has_prev,
                           double prev)
{
    cJSON *o = cJSON_AddObjectToObject(obj, name);
    if (!o)
        return NULL;
    cJSON_AddItemToObject(o, "value", aq_json_num_or_null(has_cur, cur));
    cJSON_AddItemToObject(o, "previous", aq_json_num_or_null(has_prev, prev));
    int both = has_cur && has_prev;
    cJSON_AddItemToObject(o, "change", aq_json_num_or_null(both, aq_round6(cur - prev)));
    cJSON_AddItemToObject(
        o, "change_pct",
        aq_json_num_or_null(both && prev != 0,
                            prev != 0 ? aq_round6((cur - prev) / fabs(prev) * 100) : 0));
    return o;
}
