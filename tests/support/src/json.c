/*
 * json.c — JSON paths and the assertions over them (sptest/json.h).
 */
#include "sptest/json.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One step of a path: a member of an object, or an index when the node is
 * an array and the segment is all digits. */
static const cJSON *step(const cJSON *cur, const char *seg, size_t len)
{
    char name[256];
    if (len == 0 || len >= sizeof name)
        return NULL;
    memcpy(name, seg, len);
    name[len] = '\0';
    if (cJSON_IsArray(cur)) {
        for (size_t i = 0; i < len; i++)
            if (!isdigit((unsigned char)name[i]))
                return NULL;
        return cJSON_GetArrayItem(cur, (int)strtol(name, NULL, 10));
    }
    return cJSON_GetObjectItemCaseSensitive(cur, name);
}

const cJSON *sptest_json_at(const cJSON *root, const char *path)
{
    const cJSON *cur = root;
    const char *p = path ? path : "";
    while (cur && *p) {
        size_t len = strcspn(p, ".[");
        if (len) {
            cur = step(cur, p, len);
            p += len;
        } else if (*p == '[') {
            const char *end = strchr(p, ']');
            if (!end)
                return NULL;
            cur = cJSON_IsArray(cur) ? step(cur, p + 1, (size_t)(end - p - 1)) : NULL;
            p = end + 1;
        } else {
            return NULL; /* an empty segment: "a..b", ".a" */
        }
        if (*p == '.')
            p++;
    }
    /* cppcheck reads no system header, so it takes cJSON's getters for int. */
    /* cppcheck-suppress CastIntegerToAddressAtReturn */
    return cur;
}

const char *sptest_json_str(const cJSON *root, const char *path)
{
    const cJSON *n = sptest_json_at(root, path);
    return cJSON_IsString(n) ? n->valuestring : NULL;
}

const char *sptest_json_show(const cJSON *root, const char *path, char *buf, size_t size)
{
    const cJSON *n = sptest_json_at(root, path);
    if (!n) {
        snprintf(buf, size, "<missing>");
        return buf;
    }
    char *text = cJSON_PrintUnformatted(n);
    snprintf(buf, size, "%s", text ? text : "<out of memory>");
    free(text);
    return buf;
}

/* Fails the running test at file:line with the path, what was expected and
 * what is there. */
static void mismatch(const cJSON *root, const char *path, const char *file, int line,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void mismatch(const cJSON *root, const char *path, const char *file, int line,
                     const char *fmt, ...)
{
    char want[512], got[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    print_error("ERROR: JSON %s: expected %s, got %s\n", path, want,
                sptest_json_show(root, path, got, sizeof got));
    _fail(file, line);
}

const char *sptest_json_need_str(const cJSON *root, const char *path)
{
    const char *s = sptest_json_str(root, path);
    if (!s)
        mismatch(root, path, __FILE__, __LINE__, "a string");
    return s;
}

static double number(const cJSON *root, const char *path, int null_is_nan)
{
    const cJSON *n = sptest_json_at(root, path);
    if (null_is_nan && cJSON_IsNull(n))
        return NAN;
    if (!cJSON_IsNumber(n)) {
        mismatch(root, path, __FILE__, __LINE__, "a number");
        return NAN; /* not reached: the test has failed */
    }
    return n->valuedouble;
}

double sptest_json_num(const cJSON *root, const char *path)
{
    return number(root, path, 0);
}

double sptest_json_num_or_nan(const cJSON *root, const char *path)
{
    return number(root, path, 1);
}

void sptest_json_check_int(const cJSON *root, const char *path, long long expected,
                           const char *file, int line)
{
    const cJSON *n = sptest_json_at(root, path);
    if (!cJSON_IsNumber(n) || n->valuedouble != (double)expected)
        mismatch(root, path, file, line, "%lld", expected);
}

void sptest_json_check_num(const cJSON *root, const char *path, double expected, const char *file,
                           int line)
{
    const cJSON *n = sptest_json_at(root, path);
    if (!cJSON_IsNumber(n) || n->valuedouble != expected)
        mismatch(root, path, file, line, "%.17g", expected);
}

void sptest_json_check_str(const cJSON *root, const char *path, const char *expected,
                           const char *file, int line)
{
    const char *s = sptest_json_str(root, path);
    if (!s || !expected || strcmp(s, expected) != 0)
        mismatch(root, path, file, line, "\"%s\"", expected ? expected : "(NULL)");
}

void sptest_json_check_bool(const cJSON *root, const char *path, int expected, const char *file,
                            int line)
{
    const cJSON *n = sptest_json_at(root, path);
    if (!cJSON_IsBool(n) || !cJSON_IsTrue(n) != !expected)
        mismatch(root, path, file, line, "%s", expected ? "true" : "false");
}

void sptest_json_check_null(const cJSON *root, const char *path, const char *file, int line)
{
    if (!cJSON_IsNull(sptest_json_at(root, path)))
        mismatch(root, path, file, line, "null");
}

void sptest_json_check_absent(const cJSON *root, const char *path, const char *file, int line)
{
    if (sptest_json_at(root, path))
        mismatch(root, path, file, line, "<missing>");
}

void sptest_json_check_len(const cJSON *root, const char *path, int expected, const char *file,
                           int line)
{
    const cJSON *n = sptest_json_at(root, path);
    if (!(cJSON_IsArray(n) || cJSON_IsObject(n)))
        mismatch(root, path, file, line, "%d elements", expected);
    else if (cJSON_GetArraySize(n) != expected)
        mismatch(root, path, file, line, "%d elements (it has %d)", expected,
                 cJSON_GetArraySize(n));
}
