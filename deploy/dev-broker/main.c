/*
 * serphona-dev-broker — a development Kafka cluster on loopback.
 *
 * Hosts librdkafka's mock cluster (rdkafka_mock.h), which speaks the real
 * Kafka protocol (produce, idempotent producer, fetch, consumer groups with
 * offset commits, metadata) on 127.0.0.1, so services and tests run against
 * Kafka without a JVM. Data lives in memory and is gone when it exits.
 *
 *   serphona-dev-broker [--brokers N] [--partitions N] [--topic-prefix P]
 *                       [--topic NAME:PARTITIONS]... [--no-default-topics]
 *                       [--bootstrap-file PATH]
 *
 * Ports: librdkafka 2.0.2's mock API has no way to choose listening ports;
 * each broker binds 127.0.0.1 on a random free port. The contract is the
 * bootstrap string ("127.0.0.1:P1,127.0.0.1:P2,..."): printed as one line on
 * stdout once the cluster listens and, with --bootstrap-file, written to that
 * file atomically (temporary file + rename), which is removed again at exit.
 *
 * Topics: the four platform topics (events.h), each with --partitions
 * partitions, prefixed by --topic-prefix (plain concatenation), plus every
 * --topic. The mock also auto-creates an unknown topic (4 partitions) when a
 * client's metadata request allows it, which librdkafka producers do by
 * default and consumers do not (allow.auto.create.topics=false), so a
 * consumer subscribed to a topic nobody created sees it as missing.
 *
 * Runs until SIGTERM or SIGINT, then exits 0.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "platform/config.h"
#include "platform/events.h"
#include "platform/log.h"

#define MAX_TOPICS 256

typedef struct {
    char *name;
    int partitions;
} topic_spec_t;

static void usage(FILE *out)
{
    fprintf(out, "usage: serphona-dev-broker [options]\n"
                 "  --brokers N             brokers in the cluster, 1..9 (default 3;\n"
                 "                          env SERPHONA_DEV_BROKER_BROKERS)\n"
                 "  --partitions N          partitions of the platform topics (default 6;\n"
                 "                          env SERPHONA_DEV_BROKER_PARTITIONS)\n"
                 "  --topic-prefix P        prepended to the platform topic names\n"
                 "                          (env SERPHONA_KAFKA_TOPIC_PREFIX)\n"
                 "  --topic NAME:PARTS      create another topic (repeatable, not prefixed)\n"
                 "  --no-default-topics     do not create the platform topics\n"
                 "  --bootstrap-file PATH   write the bootstrap servers there once listening\n"
                 "                          (env SERPHONA_DEV_BROKER_BOOTSTRAP_FILE)\n"
                 "  --help\n"
                 "The bootstrap servers string is also printed on stdout. Listening ports\n"
                 "are random (127.0.0.1 only). Stops on SIGTERM/SIGINT and exits 0.\n");
}

/* librdkafka's own lines (syslog levels) go out as platform JSON log lines. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3)
        sp_log_error("kafka %s: %s", fac, buf);
    else if (level == 4)
        sp_log_warn("kafka %s: %s", fac, buf);
    else if (level <= 6)
        sp_log_info("kafka %s: %s", fac, buf);
    else
        sp_log_debug("kafka %s: %s", fac, buf);
}

static int parse_int(const char *s, int min, int max, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

/* Writes text to path through a temporary file in the same directory and a
 * rename, so a reader never sees a partial bootstrap string. */
static int write_atomic(const char *path, const char *text)
{
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    FILE *f;
    int ok;

    if (!tmp)
        return -1;
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    if (!(f = fopen(tmp, "w"))) {
        sp_log_error("dev-broker: cannot write %s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    ok = (fflush(f) == 0) && ok && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        sp_log_error("dev-broker: cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

static int add_topic(topic_spec_t *topics, int *n, const char *name, int partitions)
{
    if (*n >= MAX_TOPICS) {
        fprintf(stderr, "dev-broker: too many topics (max %d)\n", MAX_TOPICS);
        return -1;
    }
    if (!(topics[*n].name = strdup(name)))
        return -1;
    topics[*n].partitions = partitions;
    (*n)++;
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const platform_topics[] = {SP_EVENTS_TOPIC_INTERACTIONS,
                                                  SP_EVENTS_TOPIC_INTERACTIONS_DLQ,
                                                  SP_EVENTS_TOPIC_ANALYSES, SP_EVENTS_TOPIC_USAGE};
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"partitions", required_argument, NULL, 'p'},
        {"topic-prefix", required_argument, NULL, 'P'},
        {"topic", required_argument, NULL, 't'},
        {"no-default-topics", no_argument, NULL, 'n'},
        {"bootstrap-file", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    topic_spec_t extra[MAX_TOPICS];
    int n_extra = 0, n_brokers, partitions, defaults = 1, exit_code = 1, c, sig;
    const char *prefix, *bootstrap_file, *level_text;
    sp_log_level_t level = SP_LOG_INFO;
    rd_kafka_mock_cluster_t *mcluster = NULL;
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk = NULL;
    sp_config_t *cfg;
    sigset_t sigs;
    char errstr[512];

    if (!(cfg = sp_config_new("dev-broker")))
        return 1;
    level_text = sp_config_str(cfg, "SERPHONA_LOG_LEVEL", "info", "Log level.");
    if (sp_log_level_parse(level_text, &level) != 0)
        sp_config_add_error(cfg, "SERPHONA_LOG_LEVEL: expected debug, info, warn or error");
    sp_log_init("dev-broker", level);
    n_brokers = sp_config_int(cfg, "SERPHONA_DEV_BROKER_BROKERS", 3, 1, 9, "Mock brokers.");
    partitions = sp_config_int(cfg, "SERPHONA_DEV_BROKER_PARTITIONS", 6, 1, 1000,
                               "Partitions of each platform topic.");
    prefix = sp_config_str(cfg, "SERPHONA_KAFKA_TOPIC_PREFIX", "", "Topic name prefix.");
    bootstrap_file = sp_config_str(cfg, "SERPHONA_DEV_BROKER_BOOTSTRAP_FILE", NULL,
                                   "File to write the bootstrap servers to.");

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (parse_int(optarg, 1, 9, &n_brokers) != 0)
                sp_config_add_error(cfg, "--brokers: expected 1..9, got '%s'", optarg);
            break;
        case 'p':
            if (parse_int(optarg, 1, 1000, &partitions) != 0)
                sp_config_add_error(cfg, "--partitions: expected 1..1000, got '%s'", optarg);
            break;
        case 'P':
            prefix = optarg;
            break;
        case 't': {
            char *colon = strrchr(optarg, ':');
            int parts = partitions;
            if (colon) {
                *colon = '\0';
                if (parse_int(colon + 1, 1, 1000, &parts) != 0) {
                    sp_config_add_error(cfg, "--topic %s: bad partition count '%s'", optarg,
                                        colon + 1);
                    break;
                }
            }
            if (!*optarg)
                sp_config_add_error(cfg, "--topic: empty topic name");
            else if (add_topic(extra, &n_extra, optarg, colon ? parts : -1) != 0)
                goto fail_cfg;
            break;
        }
        case 'n':
            defaults = 0;
            break;
        case 'f':
            bootstrap_file = optarg;
            break;
        case 'h':
            usage(stdout);
            exit_code = 0;
            goto fail_cfg;
        default:
            usage(stderr);
            exit_code = 2;
            goto fail_cfg;
        }
    }
    if (optind < argc)
        sp_config_add_error(cfg, "unexpected argument '%s'", argv[optind]);
    if (sp_config_check(cfg) != 0) {
        exit_code = 2;
        goto fail_cfg;
    }

    /* librdkafka starts threads; they inherit this mask, so the signals are
     * delivered only to sigwait below. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* The mock cluster needs an rd_kafka_t for bookkeeping; this producer
     * exists only to host it and never produces. */
    conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    /* Without bootstrap.servers the host client would warn that it cannot
     * connect anywhere, which is intended here. */
    if (rd_kafka_conf_set(conf, "client.id", "serphona-dev-broker", errstr, sizeof errstr) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        sp_log_error("dev-broker: %s", errstr);
        rd_kafka_conf_destroy(conf);
        goto fail_cfg;
    }
    if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr))) {
        sp_log_error("dev-broker: cannot create host client: %s", errstr);
        rd_kafka_conf_destroy(conf);
        goto fail_cfg;
    }
    if (!(mcluster = rd_kafka_mock_cluster_new(rk, n_brokers))) {
        sp_log_error("dev-broker: cannot create mock cluster with %d broker(s)", n_brokers);
        goto fail_rk;
    }

    int rf = n_brokers < 3 ? n_brokers : 3;
    if (defaults) {
        for (size_t i = 0; i < sizeof platform_topics / sizeof *platform_topics; i++) {
            char name[512];
            snprintf(name, sizeof name, "%s%s", prefix, platform_topics[i]);
            rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mcluster, name, partitions, rf);
            if (err) {
                sp_log_error("dev-broker: cannot create topic %s: %s", name, rd_kafka_err2str(err));
                goto fail_mock;
            }
            sp_log_info("dev-broker: topic %s, %d partitions, replication %d", name, partitions,
                        rf);
        }
    }
    for (int i = 0; i < n_extra; i++) {
        int parts = extra[i].partitions > 0 ? extra[i].partitions : partitions;
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mcluster, extra[i].name, parts, rf);
        if (err) {
            sp_log_error("dev-broker: cannot create topic %s: %s", extra[i].name,
                         rd_kafka_err2str(err));
            goto fail_mock;
        }
        sp_log_info("dev-broker: topic %s, %d partitions, replication %d", extra[i].name, parts,
                    rf);
    }

    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mcluster);
    if (bootstrap_file && write_atomic(bootstrap_file, bootstraps) != 0)
        goto fail_mock;
    printf("%s\n", bootstraps);
    fflush(stdout);
    sp_log_info("dev-broker: %d broker(s) listening on %s", n_brokers, bootstraps);

    while (sigwait(&sigs, &sig) != 0)
        ;
    sp_log_info("dev-broker: signal %d, shutting down", sig);
    if (bootstrap_file)
        unlink(bootstrap_file);
    exit_code = 0;

fail_mock:
    rd_kafka_mock_cluster_destroy(mcluster);
fail_rk:
    rd_kafka_destroy(rk);
    rd_kafka_wait_destroyed(5000);
fail_cfg:
    for (int i = 0; i < n_extra; i++)
        free(extra[i].name);
    sp_config_destroy(&cfg);
    return exit_code;
}
