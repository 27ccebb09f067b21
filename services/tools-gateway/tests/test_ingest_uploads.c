/*
 * test_ingest_uploads.c — upload jobs (CSV, JSON lines) in-process against
 * the unit stack (tg_ingest_test.h): per-row results, refusals,
 * Idempotency-Key, tenant isolation, and a job resumed after a crash with
 * its error list capped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tg_ingest_test.h"

static sptest_resp_t get_job(const sptest_caller_t *who, const char *id)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/ingest/uploads/%s", id);
    return call(who, "GET", path, NULL, NULL);
}

static void test_upload_csv_and_jsonl(void **state)
{
    (void)state;
    sptest_caller_t owner = {.tenant_id = TENANT_A, .role = "owner"};
    const char *csv = "\xEF\xBB\xBF"
                      "external_id;channel;occurred_at;rating;text;transcript\r\n"
                      "up-r1;review;2024-05-01T10:00:00Z;4;\"Good; \"\"fast\"\"\nand cheap\";\r\n"
                      "up-r2;review;2024-05-01T10:00:00Z;7;bad rating;\r\n"
                      "up-c1;call;2024-05-01T10:00:00Z;;;\"[0-2] agent: hi\n[2-3] customer: "
                      "yo\"\r\n"
                      "call-1;survey;2024-05-01T10:00:00Z;;;\r\n"
                      "up-r1;review;2024-05-01T10:00:00Z;4;again;\r\n";
    const char *h_csv[] = {"Content-Type", "text/csv; charset=utf-8", NULL};
    sptest_resp_t r = call(&owner, "POST", "/v1/ingest/uploads?filename=history.csv", csv, h_csv);
    EXPECT_OK(r, 202);
    char id[64];
    snprintf(id, sizeof(id), "%s", sptest_json_need_str(r.json, "job_id"));
    sptest_assert_json_str(r.json, "status", "queued");
    sptest_assert_json_str(r.json, "format", "csv");
    sptest_assert_json_str(r.json, "filename", "history.csv");
    assert_non_null(sptest_resp_header(&r, "Location"));
    assert_non_null(strstr(sptest_resp_header(&r, "Location"), id));
    sptest_resp_free(&r);

    assert_int_equal(tg_worker_drain(T.worker), 1);
    r = get_job(&owner, id);
    EXPECT_OK(r, 200);
    sptest_assert_json_str(r.json, "status", "completed");
    sptest_assert_json_int(r.json, "rows_read", 5);
    sptest_assert_json_int(r.json, "accepted", 2);
    /* Rows are file lines (the first row's text spans lines 2-3): line 4
     * has rating 7, line 7 a survey without answers, line 8 repeats 2. */
    sptest_assert_json_int(r.json, "rejected", 2);
    sptest_assert_json_int(r.json, "duplicates", 1);
    const cJSON *errors = cJSON_GetObjectItem(r.json, "errors");
    assert_string_equal(indexes(errors, "row"), "4,7");
    sptest_assert_json_str(errors->child, "code", "out_of_range");
    sptest_assert_json_bool(r.json, "errors_truncated", 0);
    sptest_assert_json_null(r.json, "error");
    assert_non_null(sptest_json_str(r.json, "finished_at"));
    sptest_resp_free(&r);
    assert_int_equal(drain_topic(TENANT_A, 2, 0), 2);
    assert_string_equal(SEEN.sources[0], "upload");

    const char *jsonl = "{\"external_id\":\"up-j1\",\"channel\":\"whatsapp\"," WHEN
                        ",\"utterances\":[{\"speaker\":\"customer\",\"text\":\"oi\"}]}\n"
                        "not json\n";
    const char *h_nd[] = {"Content-Type", "application/x-ndjson", NULL};
    r = call(&owner, "POST", "/v1/ingest/uploads", jsonl, h_nd);
    EXPECT_OK(r, 202);
    snprintf(id, sizeof(id), "%s", sptest_json_need_str(r.json, "job_id"));
    sptest_resp_free(&r);
    assert_int_equal(tg_worker_drain(T.worker), 1);
    r = get_job(&owner, id);
    sptest_assert_json_str(r.json, "status", "completed");
    sptest_assert_json_int(r.json, "accepted", 1);
    sptest_assert_json_int(r.json, "rejected", 1);
    sptest_assert_json_str(r.json, "errors.0.code", "invalid_json");
    sptest_resp_free(&r);
    assert_int_equal(drain_topic(TENANT_A, 1, 0), 1);

    /* Another tenant cannot see the job; the list shows one's own. */
    sptest_caller_t other = {.tenant_id = TENANT_B, .role = "owner"};
    r = get_job(&other, id);
    EXPECT(r, 404, "upload_not_found");
    sptest_resp_free(&r);
    r = get_job(&owner, "not-a-uuid");
    EXPECT(r, 404, "upload_not_found");
    sptest_resp_free(&r);
    r = call(&owner, "GET", "/v1/ingest/uploads?limit=1", NULL, NULL);
    EXPECT_OK(r, 200);
    const cJSON *list = cJSON_GetObjectItem(r.json, "uploads");
    sptest_assert_json_len(r.json, "uploads", 1);
    sptest_assert_json_str(list->child, "job_id", id);
    sptest_resp_free(&r);
    r = call(&owner, "GET", "/v1/ingest/uploads?limit=0", NULL, NULL);
    EXPECT(r, 400, "invalid_limit");
    sptest_resp_free(&r);
}

static void test_upload_refusals(void **state)
{
    (void)state;
    sptest_caller_t owner = {.tenant_id = TENANT_A, .role = "owner"};
    const char *h_csv[] = {"Content-Type", "text/csv", NULL};
    sptest_resp_t r =
        call(&owner, "POST", "/v1/ingest/uploads", "external_id,channel,when\n", h_csv);
    EXPECT(r, 400, "unknown_column");
    sptest_resp_free(&r);
    r = call(&owner, "POST", "/v1/ingest/uploads", "external_id,channel\n", h_csv);
    EXPECT(r, 400, "missing_column");
    sptest_resp_free(&r);
    r = call(&owner, "POST", "/v1/ingest/uploads", "", h_csv);
    EXPECT(r, 400, "empty_file");
    sptest_resp_free(&r);
    r = call(&owner, "POST", "/v1/ingest/uploads", "x\xff\n", h_csv);
    EXPECT(r, 400, "invalid_encoding");
    sptest_resp_free(&r);
    const char *h_xls[] = {"Content-Type", "application/vnd.ms-excel", NULL};
    r = call(&owner, "POST", "/v1/ingest/uploads", "a", h_xls);
    EXPECT(r, 415, "unsupported_media_type");
    sptest_resp_free(&r);
    r = call(&owner, "POST", "/v1/ingest/uploads?format=xlsx", "a", NULL);
    EXPECT(r, 400, "invalid_format");
    sptest_resp_free(&r);
    sptest_caller_t viewer = {.tenant_id = TENANT_A, .role = "viewer"};
    r = call(&viewer, "POST", "/v1/ingest/uploads?format=csv", "a", NULL);
    EXPECT(r, 403, "forbidden");
    sptest_resp_free(&r);

    /* Idempotency-Key: the same upload twice is one job. */
    char key[64];
    snprintf(key, sizeof(key), "upload-%ld", (long)time(NULL));
    const char *h_idem[] = {"Idempotency-Key", key, NULL};
    const char *file = "external_id,channel,occurred_at,rating\nidem-u1,review,"
                       "2024-05-01T10:00:00Z,2\n";
    sptest_resp_t a = call(&owner, "POST", "/v1/ingest/uploads?format=csv", file, h_idem);
    sptest_resp_t b = call(&owner, "POST", "/v1/ingest/uploads?format=csv", file, h_idem);
    EXPECT_OK(a, 202);
    EXPECT_OK(b, 202);
    sptest_assert_json_str(a.json, "job_id", sptest_json_need_str(b.json, "job_id"));
    assert_non_null(sptest_resp_header(&b, "Idempotent-Replayed"));
    sptest_resp_free(&a);
    sptest_resp_free(&b);
    assert_int_equal(tg_worker_drain(T.worker), 1);
    assert_int_equal(drain_topic(TENANT_A, 1, 0), 1);
}

/* A job resumed after a crash skips the rows already recorded; the error
 * list is capped. */
static void test_upload_resume_and_error_cap(void **state)
{
    (void)state;
    sptest_caller_t owner = {.tenant_id = TENANT_B, .role = "owner"};
    char file[2048];
    size_t off = (size_t)snprintf(file, sizeof(file), "external_id,channel,occurred_at,rating\n");
    for (int i = 0; i < 3; i++)
        off += (size_t)snprintf(file + off, sizeof(file) - off,
                                "res-%d,review,2024-05-01T10:00:00Z,3\n", i);
    for (int i = 0; i < 5; i++)
        off += (size_t)snprintf(file + off, sizeof(file) - off,
                                "bad-%d,review,2024-05-01T10:00:00Z,0\n", i);
    sptest_resp_t r = call(&owner, "POST", "/v1/ingest/uploads?format=csv", file, NULL);
    EXPECT_OK(r, 202);
    char id[64];
    snprintf(id, sizeof(id), "%s", sptest_json_need_str(r.json, "job_id"));
    sptest_resp_free(&r);
    /* As if a worker had recorded the first two rows and died. */
    sp_db_tx_t *tx = NULL;
    assert_int_equal(sp_db_tx_begin(T.db, TENANT_B, &tx), 0);
    const char *p[] = {id};
    assert_int_equal(sp_db_tx_query(tx,
                                    "UPDATE tools.upload_jobs SET status = 'running', "
                                    "rows_read = 2, accepted = 2 WHERE id = $1",
                                    1, p, NULL),
                     0);
    assert_int_equal(sp_db_tx_commit(&tx), 0);

    int saved_max = T.upload_errors_max, saved_chunk = T.upload_chunk;
    T.upload_errors_max = 3;
    T.upload_chunk = 2; /* several chunks, so the cap spans chunks */
    assert_int_equal(tg_worker_drain(T.worker), 1);
    T.upload_errors_max = saved_max;
    T.upload_chunk = saved_chunk;
    r = get_job(&owner, id);
    sptest_assert_json_str(r.json, "status", "completed");
    sptest_assert_json_int(r.json, "rows_read", 8);
    sptest_assert_json_int(r.json, "accepted", 3);
    sptest_assert_json_int(r.json, "rejected", 5);
    assert_string_equal(indexes(cJSON_GetObjectItem(r.json, "errors"), "row"), "5,6,7");
    sptest_assert_json_bool(r.json, "errors_truncated", 1);
    sptest_resp_free(&r);
    /* Only the third good row was published by this run. */
    assert_int_equal(drain_topic(TENANT_B, 1, 0), 1);
    char rid[SP_UUID_STR_LEN];
    tg_interaction_id(TENANT_B, "res-2", rid);
    assert_true(seen_id(rid));
    assert_int_equal(drain_topic(TENANT_B, 0, 1000), 0);
    /* Nothing left in the queue. */
    assert_int_equal(tg_worker_drain(T.worker), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upload_csv_and_jsonl),
        cmocka_unit_test(test_upload_refusals),
        cmocka_unit_test(test_upload_resume_and_error_cap),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
