/*
 * events_admin.c — a consumer group's lag, read from the broker
 * (events_admin.h).
 *
 * The client is a librdkafka consumer handle configured with the group's id
 * that never subscribes: rd_kafka_committed asks the group coordinator for
 * the committed offsets without joining, and rd_kafka_query_watermark_offsets
 * asks each partition leader for its low and high watermarks.
 */
#include "platform/events_admin.h"

#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "platform/error.h"
#include "platform/log.h"

struct sp_events_admin {
    rd_kafka_t *rk;
};

/* librdkafka's lines as platform log lines; refused connections are logged
 * at LOG_ERR by librdkafka and reach the caller as a return code anyway. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 4)
        sp_log_warn("kafka admin %s: %s", fac, buf);
    else
        sp_log_debug("kafka admin %s: %s", fac, buf);
}

static int translate(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return SP_OK;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return SP_ETIMEDOUT;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        return SP_ENOTFOUND;
    default:
        return SP_EUNAVAILABLE;
    }
}

sp_events_admin_t *sp_events_admin_new(const char *brokers, const char *group_id)
{
    static const char *const settings[][2] = {
        {"enable.auto.commit", "false"},      {"allow.auto.create.topics", "false"},
        {"client.id", "serphona-admin"},      {"socket.connection.setup.timeout.ms", "3000"},
        {"reconnect.backoff.max.ms", "1000"},
    };
    char errstr[512];
    if (!brokers || !*brokers || !group_id || !*group_id)
        return NULL;
    sp_events_admin_t *a = calloc(1, sizeof(*a));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!a || !conf)
        goto fail;
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "group.id", group_id, errstr, sizeof errstr))
        goto fail_conf;
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], errstr, sizeof errstr))
            goto fail_conf;
    rd_kafka_conf_set_log_cb(conf, log_cb);
    a->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!a->rk)
        goto fail_conf;
    return a;

fail_conf:
    sp_log_error("events admin: kafka configuration refused: %s", errstr);
fail:
    if (conf && !(a && a->rk))
        rd_kafka_conf_destroy(conf);
    free(a);
    return NULL;
}

void sp_events_admin_destroy(sp_events_admin_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sp_events_admin_t *a = *self_p;
    *self_p = NULL;
    /* Never subscribed, so there is no group to leave. */
    rd_kafka_destroy_flags(a->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    free(a);
}

/* The partition count of topic, from fresh metadata. */
static int partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, int *count)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (!rkt)
        return SP_ENOMEM;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
    int rc = translate(err);
    if (rc == 0) {
        if (md->topic_cnt != 1)
            rc = SP_EUNAVAILABLE;
        else if (md->topics[0].err)
            rc = translate(md->topics[0].err);
        else
            *count = md->topics[0].partition_cnt;
        rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(rkt);
    return rc;
}

int sp_events_admin_group_lag(sp_events_admin_t *admin, const char *topic, int timeout_ms,
                              int64_t *lag, int *partitions)
{
    if (!admin || !topic || !lag || timeout_ms <= 0)
        return SP_EINVAL;
    int n = 0;
    int rc = partition_count(admin->rk, topic, timeout_ms, &n);
    if (rc != 0)
        return rc;
    if (n <= 0)
        return SP_ENOTFOUND;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(n);
    if (!list)
        return SP_ENOMEM;
    for (int p = 0; p < n; p++)
        rd_kafka_topic_partition_list_add(list, topic, p);
    rc = translate(rd_kafka_committed(admin->rk, list, timeout_ms));
    int64_t total = 0;
    for (int i = 0; rc == 0 && i < list->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &list->elems[i];
        int64_t lo = 0, hi = 0;
        rc = translate(tp->err);
        if (rc == 0)
            rc = translate(rd_kafka_query_watermark_offsets(admin->rk, topic, tp->partition, &lo,
                                                            &hi, timeout_ms));
        if (rc != 0)
            break;
        /* No commit yet (RD_KAFKA_OFFSET_INVALID) or one below what the
         * broker still holds: the group would start at the low watermark. */
        int64_t from = tp->offset >= lo ? tp->offset : lo;
        if (hi > from)
            total += hi - from;
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (rc != 0)
        return rc;
    *lag = total;
    if (partitions)
        *partitions = n;
    return SP_OK;
}
