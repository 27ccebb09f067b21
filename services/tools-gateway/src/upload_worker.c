/*
 * upload_worker.c — background processing of upload jobs (upload_worker.h).
 */
#include "upload_worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backlog.h"
#include "pipeline.h"
#include "platform/clock.h"
#include "platform/error.h"
#include "platform/log.h"
#include "upload_rows.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000

struct tg_worker {
    tg_t *tg;
    pthread_t *threads;
    int n_threads, started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    unsigned long wakeups;
};

/* One claimed job. */
typedef struct {
    char id[40];
    char tenant[40];
} claim_t;

tg_worker_t *tg_worker_new(tg_t *tg)
{
    tg_worker_t *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->tg = tg;
    w->n_threads = tg->upload_workers > 0 ? tg->upload_workers : 1;
    w->threads = calloc((size_t)w->n_threads, sizeof(pthread_t));
    if (!w->threads) {
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &attr);
    pthread_condattr_destroy(&attr);
    return w;
}

void tg_worker_wake(tg_worker_t *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->wakeups++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static int stopping(tg_worker_t *w)
{
    pthread_mutex_lock(&w->mu);
    int s = w->stop;
    pthread_mutex_unlock(&w->mu);
    return s;
}

/* Sleeps up to ms, or until a wake-up or stop. */
static void nap(tg_worker_t *w, int ms, int wake_on_job)
{
    struct timespec until = sp_clock_timespec_in(CLOCK_MONOTONIC, ms);
    pthread_mutex_lock(&w->mu);
    unsigned long seen = w->wakeups;
    while (!w->stop && (!wake_on_job || w->wakeups == seen))
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&w->mu);
}

/* Claims the oldest queued job whose lease ran out. Returns 1 (claimed),
 * 0 (none) or a negative SP_E*. */
static int claim(tg_worker_t *w, claim_t *c)
{
    sp_db_tx_t *tx = NULL;
    PGresult *res = NULL;
    char lease[16];
    snprintf(lease, sizeof(lease), "%d", w->tg->upload_lease_s);
    int rc = sp_db_tx_begin(tg_db(w->tg), NULL, &tx);
    if (rc == 0)
        rc =
            sp_db_tx_query(tx, "SELECT set_config('app.upload_worker', 'on', true)", 0, NULL, NULL);
    if (rc == 0) {
        const char *params[] = {lease};
        rc = sp_db_tx_query(tx,
                            "UPDATE tools.upload_queue SET locked_until = now() + "
                            "make_interval(secs => $1::int), attempts = attempts + 1 "
                            "WHERE job_id = (SELECT job_id FROM tools.upload_queue "
                            "WHERE locked_until < now() ORDER BY enqueued_at, job_id "
                            "LIMIT 1 FOR UPDATE SKIP LOCKED) "
                            "RETURNING job_id::text, tenant_id::text",
                            1, params, &res);
    }
    if (rc == 0)
        rc = sp_db_tx_commit(&tx);
    sp_db_tx_rollback(&tx);
    if (rc != 0) {
        if (res)
            PQclear(res);
        return rc;
    }
    int found = PQntuples(res) == 1;
    if (found) {
        snprintf(c->id, sizeof(c->id), "%s", PQgetvalue(res, 0, 0));
        snprintf(c->tenant, sizeof(c->tenant), "%s", PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return found;
}

/* Runs one statement in a transaction of the job's tenant. */
static int tenant_exec(tg_worker_t *w, const claim_t *c, const char *sql, int nparams,
                       const char *const *params, PGresult **res)
{
    sp_db_tx_t *tx = NULL;
    int rc = sp_db_tx_begin(tg_db(w->tg), c->tenant, &tx);
    if (rc == 0)
        rc = sp_db_tx_query(tx, sql, nparams, params, res);
    if (rc == 0)
        rc = sp_db_tx_commit(&tx);
    sp_db_tx_rollback(&tx);
    if (rc != 0 && res && *res) {
        PQclear(*res);
        *res = NULL;
    }
    return rc;
}

/* Ends the job (completed, or failed with code/message) and dequeues it. */
static int finish(tg_worker_t *w, const claim_t *c, const char *code, const char *message)
{
    const char *params[] = {c->id, code ? "failed" : "completed", code, message};
    sp_db_tx_t *tx = NULL;
    int rc = sp_db_tx_begin(tg_db(w->tg), c->tenant, &tx);
    if (rc == 0)
        rc = sp_db_tx_query(tx,
                            "UPDATE tools.upload_jobs SET status = $2, error_code = $3, "
                            "error_message = $4, content = NULL, finished_at = now(), "
                            "updated_at = now() WHERE id = $1",
                            4, params, NULL);
    if (rc == 0)
        rc =
            sp_db_tx_query(tx, "DELETE FROM tools.upload_queue WHERE job_id = $1", 1, params, NULL);
    if (rc == 0)
        rc = sp_db_tx_commit(&tx);
    sp_db_tx_rollback(&tx);
    if (rc == 0 && code)
        sp_log_info("upload %s failed: %s", c->id, code);
    else if (rc == 0)
        sp_log_info("upload %s completed", c->id);
    return rc;
}

/* Hands the job back (at shutdown) so another worker takes it at once. */
static void release(tg_worker_t *w, const claim_t *c)
{
    const char *params[] = {c->id};
    int rc = tenant_exec(w, c,
                         "UPDATE tools.upload_queue SET locked_until = '-infinity' "
                         "WHERE job_id = $1",
                         1, params, NULL);
    if (rc != 0)
        sp_log_warn("upload %s: releasing the lease failed: %s", c->id, sp_strerror(rc));
}

/* Appends the chunk's row errors (up to the job's cap) as JSON text. */
static char *errors_json(const tg_item_t *items, size_t n, int room)
{
    cJSON *list = cJSON_CreateArray();
    if (!list)
        return NULL;
    for (size_t i = 0; i < n && room > 0; i++) {
        if (items[i].state != TG_ITEM_REJECTED)
            continue;
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddItemToArray(list, e) ||
            !cJSON_AddNumberToObject(e, "row", (double)items[i].ref) ||
            !cJSON_AddStringToObject(e, "code", items[i].why.code) ||
            !cJSON_AddStringToObject(e, "field", items[i].why.field ? items[i].why.field : "") ||
            !cJSON_AddStringToObject(e, "message", items[i].why.message)) {
            cJSON_Delete(list);
            return NULL;
        }
        room--;
    }
    char *text = cJSON_PrintUnformatted(list);
    cJSON_Delete(list);
    return text;
}

/* Records a chunk's outcome and renews the lease, in one transaction. */
static int record_chunk(tg_worker_t *w, const claim_t *c, const tg_item_t *items, size_t n,
                        int *errors_kept)
{
    size_t acc = 0, rej = 0, dup = 0;
    for (size_t i = 0; i < n; i++) {
        acc += items[i].state == TG_ITEM_ACCEPTED;
        rej += items[i].state == TG_ITEM_REJECTED;
        dup += items[i].state == TG_ITEM_DUPLICATE;
    }
    int room = w->tg->upload_errors_max - *errors_kept;
    char *errors = errors_json(items, n, room > 0 ? room : 0);
    if (!errors)
        return SP_ENOMEM;
    char p_rows[24], p_acc[24], p_rej[24], p_dup[24], p_lease[16];
    snprintf(p_rows, sizeof(p_rows), "%zu", n);
    snprintf(p_acc, sizeof(p_acc), "%zu", acc);
    snprintf(p_rej, sizeof(p_rej), "%zu", rej);
    snprintf(p_dup, sizeof(p_dup), "%zu", dup);
    snprintf(p_lease, sizeof(p_lease), "%d", w->tg->upload_lease_s);
    const char *params[] = {c->id, p_rows, p_acc, p_rej, p_dup, errors};
    sp_db_tx_t *tx = NULL;
    int rc = sp_db_tx_begin(tg_db(w->tg), c->tenant, &tx);
    if (rc == 0)
        rc = sp_db_tx_query(tx,
                            "UPDATE tools.upload_jobs SET rows_read = rows_read + $2::int, "
                            "accepted = accepted + $3::int, rejected = rejected + $4::int, "
                            "duplicates = duplicates + $5::int, errors = errors || $6::jsonb, "
                            "updated_at = now() WHERE id = $1",
                            6, params, NULL);
    if (rc == 0) {
        const char *lp[] = {c->id, p_lease};
        rc = sp_db_tx_query(tx,
                            "UPDATE tools.upload_queue SET locked_until = now() + "
                            "make_interval(secs => $2::int) WHERE job_id = $1",
                            2, lp, NULL);
    }
    if (rc == 0)
        rc = sp_db_tx_commit(&tx);
    sp_db_tx_rollback(&tx);
    free(errors);
    if (rc == 0) {
        size_t kept = rej < (size_t)(room > 0 ? room : 0) ? rej : (size_t)(room > 0 ? room : 0);
        *errors_kept += (int)kept;
    }
    return rc;
}

/* Reads up to max rows into items. Returns the count, or SP_ENOMEM. */
static int read_chunk(tg_rows_t *rows, sp_arena_t *arena, const claim_t *c, tg_item_t *items,
                      int max)
{
    int64_t now = sp_clock_wall_ms();
    int n = 0;
    while (n < max) {
        size_t row = 0;
        cJSON *json = NULL;
        tg_reject_t why;
        int rc = tg_rows_next(rows, arena, &row, &json, &why);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break;
        tg_item_t *it = &items[n++];
        memset(it, 0, sizeof(*it));
        it->ref = row;
        if (!json)
            tg_item_reject(it, &why);
        else if (tg_item_validate(arena, c->tenant, json, "upload", now, it) != 0)
            return SP_ENOMEM;
    }
    return n;
}

/* Runs the pipeline over a chunk until Kafka took it (or shutdown). Returns
 * 0, SP_ESHUTDOWN or SP_ENOMEM. */
static int publish_chunk(tg_worker_t *w, const claim_t *c, sp_arena_t *arena, tg_item_t *items,
                         size_t n)
{
    int backoff = BACKOFF_MIN_MS;
    for (;;) {
        /* Backpressure: wait for the processor rather than push the
         * backlog past its bound (the job resumes by itself). */
        int rc = tg_backlog_over(w->tg->backlog)
                     ? SP_ETOOBIG
                     : tg_pipeline_run(w->tg, arena, c->tenant, NULL, "upload", items, n);
        if (rc != SP_EUNAVAILABLE && rc != SP_EDB && rc != SP_ETOOBIG)
            return rc;
        if (rc == SP_ETOOBIG)
            backoff = w->tg->backlog_interval_ms;
        else
            sp_log_warn("upload %s: %s unavailable; retrying the chunk in %d ms", c->id,
                        rc == SP_EDB ? "the ledger" : "Kafka", backoff);
        for (size_t i = 0; i < n; i++)
            if (items[i].state == TG_ITEM_FAILED)
                items[i].state = TG_ITEM_VALID;
        nap(w, backoff, 0);
        if (stopping(w))
            return SP_ESHUTDOWN;
        if (rc != SP_ETOOBIG)
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        /* Keep the lease while waiting, so no other worker steals the job. */
        char lease[16];
        snprintf(lease, sizeof(lease), "%d", w->tg->upload_lease_s);
        const char *params[] = {c->id, lease};
        tenant_exec(w, c,
                    "UPDATE tools.upload_queue SET locked_until = now() + "
                    "make_interval(secs => $2::int) WHERE job_id = $1",
                    2, params, NULL);
    }
}

/* Processes one claimed job to its end, or until shutdown. */
static int run_job(tg_worker_t *w, const claim_t *c)
{
    PGresult *job = NULL;
    const char *params[] = {c->id};
    int rc =
        tenant_exec(w, c,
                    "UPDATE tools.upload_jobs SET status = 'running', "
                    "started_at = COALESCE(started_at, now()), updated_at = now() "
                    "WHERE id = $1 AND status IN ('queued', 'running') AND content IS NOT NULL "
                    "RETURNING format, content, rows_read, jsonb_array_length(errors)",
                    1, params, &job);
    if (rc != 0)
        return rc;
    if (PQntuples(job) == 0) {
        /* Finished already (a crash after the last update): just dequeue. */
        PQclear(job);
        return tenant_exec(w, c, "DELETE FROM tools.upload_queue WHERE job_id = $1", 1, params,
                           NULL);
    }
    tg_format_t format = TG_FORMAT_CSV;
    tg_format_parse(PQgetvalue(job, 0, 0), &format);
    const char *content = PQgetvalue(job, 0, 1);
    size_t len = (size_t)PQgetlength(job, 0, 1);
    long skip = strtol(PQgetvalue(job, 0, 2), NULL, 10);
    int errors_kept = (int)strtol(PQgetvalue(job, 0, 3), NULL, 10);

    sp_arena_t *job_arena = sp_arena_new();
    tg_item_t *items = calloc((size_t)w->tg->upload_chunk, sizeof(tg_item_t));
    tg_rows_t rows;
    tg_reject_t why;
    rc =
        job_arena && items ? tg_rows_open(&rows, job_arena, format, content, len, &why) : SP_ENOMEM;
    if (rc == SP_EINVAL) {
        rc = finish(w, c, why.code, why.message);
        goto done;
    }
    if (rc != 0)
        goto done;
    /* Resume: skip the rows an earlier run already recorded. */
    for (long i = 0; i < skip && rc == 0;) {
        sp_arena_t *scratch = sp_arena_new();
        if (!scratch) {
            rc = SP_ENOMEM;
            break;
        }
        for (int k = 0; k < 1000 && i < skip; k++, i++) {
            size_t row;
            cJSON *json;
            int r = tg_rows_next(&rows, scratch, &row, &json, &why);
            if (r <= 0) {
                rc = r;
                i = skip;
            }
        }
        sp_arena_destroy(&scratch);
    }
    while (rc == 0) {
        if (stopping(w)) {
            release(w, c);
            rc = SP_ESHUTDOWN;
            break;
        }
        sp_arena_t *arena = sp_arena_new();
        if (!arena) {
            rc = SP_ENOMEM;
            break;
        }
        int n = read_chunk(&rows, arena, c, items, w->tg->upload_chunk);
        if (n < 0) {
            rc = n;
        } else if (n == 0) {
            sp_arena_destroy(&arena);
            rc = finish(w, c, NULL, NULL);
            break;
        } else {
            rc = publish_chunk(w, c, arena, items, (size_t)n);
            if (rc == SP_ESHUTDOWN)
                release(w, c);
            /* The database may be down for a moment: keep the chunk's
             * outcome until it is recorded (its items are in the ledger,
             * so redoing the chunk would turn them into duplicates). */
            int backoff = BACKOFF_MIN_MS;
            while (rc == 0 && (rc = record_chunk(w, c, items, (size_t)n, &errors_kept)) != 0 &&
                   rc != SP_ENOMEM && !stopping(w)) {
                sp_log_warn("upload %s: recording progress failed (%s); retrying", c->id,
                            sp_strerror(rc));
                nap(w, backoff, 0);
                backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
                rc = 0;
            }
        }
        sp_arena_destroy(&arena);
    }
done:
    free(items);
    sp_arena_destroy(&job_arena);
    PQclear(job);
    return rc;
}

/* One pass: claim and run a job. Returns 1 when a job was processed, 0
 * when none waited, or a negative SP_E*. */
static int step(tg_worker_t *w)
{
    claim_t c;
    int rc = claim(w, &c);
    if (rc <= 0)
        return rc;
    sp_log_set_context(NULL, c.tenant);
    rc = run_job(w, &c);
    sp_log_clear_context();
    if (rc != 0 && rc != SP_ESHUTDOWN)
        sp_log_warn("upload %s: %s; the job resumes when its lease runs out", c.id,
                    sp_strerror(rc));
    return rc == 0 || rc == SP_ESHUTDOWN ? 1 : rc;
}

static void *worker_main(void *arg)
{
    tg_worker_t *w = arg;
    int backoff = BACKOFF_MIN_MS;
    while (!stopping(w)) {
        int rc = step(w);
        if (rc > 0) {
            backoff = BACKOFF_MIN_MS;
            continue;
        }
        if (rc < 0) {
            sp_log_warn("upload worker: %s", sp_strerror(rc));
            nap(w, backoff, 0);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
        nap(w, w->tg->upload_poll_ms, 1);
    }
    return NULL;
}

int tg_worker_start(tg_worker_t *w)
{
    for (int i = 0; i < w->n_threads; i++) {
        if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0)
            return SP_EIO;
        w->started++;
    }
    return SP_OK;
}

int tg_worker_drain(tg_worker_t *w)
{
    int jobs = 0;
    for (;;) {
        int rc = step(w);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return jobs;
        jobs++;
    }
}

void tg_worker_destroy(tg_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    tg_worker_t *w = *self_p;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < w->started; i++)
        pthread_join(w->threads[i], NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->threads);
    free(w);
    *self_p = NULL;
}
