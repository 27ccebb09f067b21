/*
 * events.c — Kafka events over librdkafka (see events.h for the contract):
 * what the producer and the consumer share (error mapping, librdkafka
 * configuration and logging) and the Event envelope. The producer lives in
 * events_producer.c, the consumer in events_consumer.c, its batch mode in
 * events_batch.c and its lag gauge in events_lag.c.
 */
#include "events_internal.h"

#include <stdlib.h>
#include <string.h>

#include "platform/clock.h"
#include "platform/crypto.h"
#include "platform/error.h"
#include "platform/log.h"

/* ---- helpers ------------------------------------------------------------- */

/* Translates a librdkafka error into the platform enum. Errors a caller can
 * sensibly retry later (no leader, brokers down, local queue full) become
 * SP_EUNAVAILABLE. */
int sp_ev_map_err(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return SP_OK;
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        return SP_ETIMEDOUT;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
        return SP_EUNAVAILABLE;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
        return SP_ETOOBIG;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
        return SP_ENOTFOUND;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
        return SP_EDENIED;
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__DESTROY:
        return SP_ESHUTDOWN;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return SP_EINVAL;
    case RD_KAFKA_RESP_ERR__NO_OFFSET:
        return SP_OK;
    default:
        return SP_EIO;
    }
}

/* librdkafka's own log lines go through the platform logger, so they come out
 * as JSON lines like everything else. Levels are syslog levels; librdkafka
 * logs every refused connection at LOG_ERR, and whatever matters to the
 * caller also arrives through error_cb or a delivery report, so its errors are
 * logged as warnings here. */
void sp_ev_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 4)
        sp_log_warn("kafka %s: %s", fac, buf);
    else if (level <= 6)
        sp_log_info("kafka %s: %s", fac, buf);
    else
        sp_log_debug("kafka %s: %s", fac, buf);
}

int sp_ev_conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        sp_log_error("events: kafka config %s=%s rejected: %s", name, value, errstr);
        return SP_ECONFIG;
    }
    return SP_OK;
}

/* ---- envelope ------------------------------------------------------------ */

static void free_str(char **s)
{
    if (*s && *s != protobuf_c_empty_string)
        free(*s);
    *s = (char *)protobuf_c_empty_string;
}

int sp_events_event_init(Serphona__Events__V1__Event *ev, const char *type, const char *tenant_id,
                         const void *payload, size_t len, const char *content_type)
{
    char id[SP_UUID_STR_LEN];
    int rc;

    if (!ev || !type || !tenant_id || (!payload && len > 0))
        return SP_EINVAL;
    serphona__events__v1__event__init(ev);
    if ((rc = sp_uuid_v7(id)) != SP_OK)
        return rc;

    ev->event_id = strdup(id);
    ev->type = strdup(type);
    ev->tenant_id = strdup(tenant_id);
    ev->content_type = strdup(content_type ? content_type : "application/json");
    if (len > 0) {
        ev->payload.data = malloc(len);
        if (ev->payload.data) {
            memcpy(ev->payload.data, payload, len);
            ev->payload.len = len;
        }
    }
    if (!ev->event_id || !ev->type || !ev->tenant_id || !ev->content_type ||
        (len > 0 && !ev->payload.data)) {
        sp_events_event_cleanup(ev);
        return SP_ENOMEM;
    }
    ev->occurred_at_unix_ms = sp_clock_wall_ms();
    return SP_OK;
}

int sp_events_event_set_traceparent(Serphona__Events__V1__Event *ev, const char *traceparent)
{
    char *copy;

    if (!ev)
        return SP_EINVAL;
    if (!traceparent || !*traceparent) {
        free_str(&ev->traceparent);
        return SP_OK;
    }
    if (!(copy = strdup(traceparent)))
        return SP_ENOMEM;
    free_str(&ev->traceparent);
    ev->traceparent = copy;
    return SP_OK;
}

void sp_events_event_cleanup(Serphona__Events__V1__Event *ev)
{
    if (!ev)
        return;
    free_str(&ev->event_id);
    free_str(&ev->type);
    free_str(&ev->tenant_id);
    free_str(&ev->traceparent);
    free_str(&ev->content_type);
    free(ev->payload.data);
    serphona__events__v1__event__init(ev);
}
