/*
 * kpis.h — the KPIs of the dashboards, defined once, computed from a small
 * set of additive sums that every source can provide.
 *
 * A source (the two hourly rollups, the topic rollup, the raw table) is
 * asked only for sums;
 * ratios are taken here, in C, so that averages of averages never happen and
 * a bucket or a period combines exactly. The sums, with the raw column
 * expression each rollup column was built from (deploy/clickhouse;
 * interactions_hourly and interactions_hourly_channel share the columns):
 *
 *   n          interactions            count()
 *   sent       sentiment_sum           sum(sentiment)
 *   pos        positive                sentiment > 0.05
 *   neg        negative                sentiment < -0.05
 *   res        resolved                resolved
 *   esc        escalated               escalated
 *   churn      churn_risk              churn_risk
 *   dur        duration_ms_sum         duration_ms
 *   timed      timed                   duration_ms > 0
 *   sil        silence_ratio_sum       silence_ratio
 *   csat_sum   csat_sum                csat where csat >= 0
 *   csat_n     csat_count              csat >= 0
 *   prom       nps_promoters           nps >= 9
 *   detr       nps_detractors          0 <= nps <= 6
 *   nps_n      nps_count               nps >= 0
 *
 * topics_hourly holds only n, sent and neg (per topic).
 *
 * The KPIs (null when their denominator is 0):
 *   volume            n                               interactions in the window
 *   sentiment_avg     sent / n                        mean overall sentiment, [-1, 1]
 *   positive_share    pos / n                         share with sentiment > 0.05
 *   negative_share    neg / n                         share with sentiment < -0.05
 *   nps               (prom - detr) / nps_n * 100     promoters% - detractors%, [-100, 100]
 *   csat_avg          csat_sum / csat_n               mean CSAT (1..5) of rated interactions
 *   resolution_rate   res / n                         share marked resolved
 *   escalation_rate   esc / n                         share where escalation was asked for
 *   churn_risk_share  churn / n                       share with churn-risk language
 *   aht_seconds       dur / timed / 1000              mean handle time of timed interactions
 *   silence_ratio     sil / timed                     mean silence ratio of timed interactions
 * Values are rounded to 6 decimals.
 */
#ifndef AQ_KPIS_H
#define AQ_KPIS_H

#include <cjson/cJSON.h>

#include "filters.h"
#include "platform/buf.h"

typedef enum {
    AQ_S_N,
    AQ_S_SENT,
    AQ_S_POS,
    AQ_S_NEG,
    AQ_S_RES,
    AQ_S_ESC,
    AQ_S_CHURN,
    AQ_S_DUR,
    AQ_S_TIMED,
    AQ_S_SIL,
    AQ_S_CSAT_SUM,
    AQ_S_CSAT_N,
    AQ_S_PROM,
    AQ_S_DETR,
    AQ_S_NPS_N,
    AQ_S_COUNT
} aq_sum_t;

#define AQ_SUM_BIT(s)  (1u << (s))
#define AQ_SUMS_ALL    ((1u << AQ_S_COUNT) - 1)
#define AQ_SUMS_TOPICS (AQ_SUM_BIT(AQ_S_N) | AQ_SUM_BIT(AQ_S_SENT) | AQ_SUM_BIT(AQ_S_NEG))

typedef struct {
    double v[AQ_S_COUNT];
} aq_sums_t;

typedef enum {
    AQ_K_VOLUME,
    AQ_K_SENTIMENT,
    AQ_K_POSITIVE,
    AQ_K_NEGATIVE,
    AQ_K_NPS,
    AQ_K_CSAT,
    AQ_K_RESOLUTION,
    AQ_K_ESCALATION,
    AQ_K_CHURN,
    AQ_K_AHT,
    AQ_K_SILENCE,
    AQ_K_COUNT
} aq_kpi_t;

/* The KPI's name as in responses and ?metric=; NULL past the end. */
const char *aq_kpi_name(aq_kpi_t k);

/* The KPI called name, or -1. */
int aq_kpi_parse(const char *name);

/* The sums (bit mask) the KPI is computed from. */
unsigned aq_kpi_needs(aq_kpi_t k);

/* The sums src can provide (bit mask). */
unsigned aq_src_sums(aq_src_t src);

/* Computes k from s into *out (rounded). Returns 1 when defined, 0 when the
 * denominator is 0 (the KPI is null). */
int aq_kpi_value(aq_kpi_t k, const aq_sums_t *s, double *out);

/* x rounded to 6 decimals. */
double aq_round6(double x);

/* Appends to b, comma-separated, one aggregate per sum in mask (in aq_sum_t
 * order) over src: sum(col) or, with cond, sumIf(col, cond), each named
 * <alias><sum> (e.g. "c_n", "c_sent") when alias is not NULL. A sum src
 * lacks is selected as 0. Returns 0 or the buffer's error. */
int aq_sums_select(sp_buf_t *b, aq_src_t src, unsigned mask, const char *cond, const char *alias);

/* The short name of a sum ("n", "sent", ...), as used in aliases. */
const char *aq_sum_name(aq_sum_t s);

/* Reads the sums of mask (in aq_sum_t order) from row starting at column
 * *col, advancing *col; other sums are set to 0. Values may be JSON numbers
 * or numeric strings (ClickHouse quotes 64-bit integers). */
void aq_sums_read(aq_sums_t *s, unsigned mask, const cJSON *row, int *col);

/* Adds to obj the KPI object {"value","previous","change","change_pct"}
 * under name: change = value - previous, change_pct = change / |previous| *
 * 100; each null when undefined. Returns the new object or NULL. */
cJSON *aq_kpi_compare_json(cJSON *obj, const char *name, int has_cur, double cur, int has_prev,
                           double prev);

/* A JSON number, or null when !has. */
cJSON *aq_json_num_or_null(int has, double v);

#endif
