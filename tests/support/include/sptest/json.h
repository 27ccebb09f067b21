/*
 * sptest/json.h — reading a JSON answer by path in a unit test, and
 * assertions that say what was there when they fail.
 *
 * A path is member names separated by dots, with array indexes either as
 * their own segment or in brackets: "kpis.nps.value", "items.0.key" and
 * "items[0].key" name the same kinds of node. An empty path is the root.
 *
 * Every sptest_assert_json_* fails the running cmocka test with the path,
 * the expected value and the actual node (as compact JSON, or "<missing>"),
 * reported at the caller's file and line. They are macros over the
 * sptest_json_check_* functions, which take that file and line.
 */
#ifndef SPTEST_JSON_H
#define SPTEST_JSON_H

#include <cjson/cJSON.h>

#include <stddef.h>

/* The node at path under root (borrowed), or NULL when any step is absent,
 * root is NULL or path is malformed. */
const cJSON *sptest_json_at(const cJSON *root, const char *path);

/* The string at path (borrowed), or NULL when absent or not a string. */
const char *sptest_json_str(const cJSON *root, const char *path);

/* The string at path (borrowed); fails the test, naming the path and what
 * is there, when it is absent or not a string. */
const char *sptest_json_need_str(const cJSON *root, const char *path);

/* The number at path; fails the test, naming the path and what is there,
 * when it is absent or not a number (JSON null included). */
double sptest_json_num(const cJSON *root, const char *path);

/* The same, but NAN for JSON null (metrics with no data). */
double sptest_json_num_or_nan(const cJSON *root, const char *path);

/* The node at path printed compactly into buf ("<missing>" when absent);
 * returns buf. For failure messages. */
const char *sptest_json_show(const cJSON *root, const char *path, char *buf, size_t size);

#define sptest_assert_json_int(root, path, expected)                                               \
    sptest_json_check_int((root), (path), (long long)(expected), __FILE__, __LINE__)
/* Exact comparison, as the values under test are computed exactly. */
#define sptest_assert_json_num(root, path, expected)                                               \
    sptest_json_check_num((root), (path), (double)(expected), __FILE__, __LINE__)
#define sptest_assert_json_str(root, path, expected)                                               \
    sptest_json_check_str((root), (path), (expected), __FILE__, __LINE__)
#define sptest_assert_json_bool(root, path, expected)                                              \
    sptest_json_check_bool((root), (path), (expected), __FILE__, __LINE__)
#define sptest_assert_json_null(root, path)                                                        \
    sptest_json_check_null((root), (path), __FILE__, __LINE__)
#define sptest_assert_json_absent(root, path)                                                      \
    sptest_json_check_absent((root), (path), __FILE__, __LINE__)
/* The number of elements of the array (or members of the object) at path. */
#define sptest_assert_json_len(root, path, expected)                                               \
    sptest_json_check_len((root), (path), (int)(expected), __FILE__, __LINE__)

void sptest_json_check_int(const cJSON *root, const char *path, long long expected,
                           const char *file, int line);
void sptest_json_check_num(const cJSON *root, const char *path, double expected, const char *file,
                           int line);
void sptest_json_check_str(const cJSON *root, const char *path, const char *expected,
                           const char *file, int line);
void sptest_json_check_bool(const cJSON *root, const char *path, int expected, const char *file,
                            int line);
void sptest_json_check_null(const cJSON *root, const char *path, const char *file, int line);
void sptest_json_check_absent(const cJSON *root, const char *path, const char *file, int line);
void sptest_json_check_len(const cJSON *root, const char *path, int expected, const char *file,
                           int line);

#endif
