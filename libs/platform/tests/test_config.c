/* Unit tests for config.c: defaults, parsing of each type, errors that name
 * the variable and are all collected, sp_config_check logging, and the
 * --help description. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/config.h"
#include "platform/error.h"
#include "platform/log.h"

static const char *const vars[] = {
    "SERPHONA_T_STR", "SERPHONA_T_INT",  "SERPHONA_T_PORT",  "SERPHONA_T_BOOL",
    "SERPHONA_T_REQ", "SERPHONA_T_ENUM", "SERPHONA_T_OTHER",
};

static int setup(void **state)
{
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    sp_config_t *cfg = sp_config_new("test-svc");
    assert_non_null(cfg);
    *state = cfg;
    return 0;
}

static int teardown(void **state)
{
    sp_config_t *cfg = *state;
    sp_config_destroy(&cfg);
    assert_null(cfg);
    sp_config_destroy(NULL);
    sp_config_destroy(&cfg);
    return 0;
}

static void test_defaults_when_unset(void **state)
{
    sp_config_t *cfg = *state;
    assert_string_equal(sp_config_str(cfg, "SERPHONA_T_STR", "dflt", "A string."), "dflt");
    assert_null(sp_config_str(cfg, "SERPHONA_T_OTHER", NULL, "No default."));
    assert_int_equal(sp_config_int(cfg, "SERPHONA_T_INT", 42, 0, 100, "An int."), 42);
    assert_int_equal(sp_config_port(cfg, "SERPHONA_T_PORT", 9101, "A port."), 9101);
    assert_int_equal(sp_config_bool(cfg, "SERPHONA_T_BOOL", 1, "A flag."), 1);
    static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
    assert_int_equal(sp_config_enum(cfg, "SERPHONA_T_ENUM", 1, levels, "Level."), 1);
    assert_int_equal(sp_config_error_count(cfg), 0);
    assert_null(sp_config_error(cfg, 0));
    assert_int_equal(sp_config_check(cfg), 0);
}

static void test_values_from_environment(void **state)
{
    sp_config_t *cfg = *state;
    setenv("SERPHONA_T_STR", "hello world", 1);
    setenv("SERPHONA_T_INT", " -7 ", 1);
    setenv("SERPHONA_T_PORT", "65535", 1);
    setenv("SERPHONA_T_REQ", "postgres://x", 1);
    setenv("SERPHONA_T_ENUM", "warn", 1);
    const char *s = sp_config_str(cfg, "SERPHONA_T_STR", "dflt", "A string.");
    assert_string_equal(s, "hello world");
    /* The returned string is the config's own copy, not the environment's. */
    setenv("SERPHONA_T_STR", "changed", 1);
    assert_string_equal(s, "hello world");
    assert_int_equal(sp_config_int(cfg, "SERPHONA_T_INT", 0, -10, 10, "An int."), -7);
    assert_int_equal(sp_config_port(cfg, "SERPHONA_T_PORT", 1, "A port."), 65535);
    assert_string_equal(sp_config_required(cfg, "SERPHONA_T_REQ", "A URI."), "postgres://x");
    static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
    assert_int_equal(sp_config_enum(cfg, "SERPHONA_T_ENUM", 1, levels, "Level."), 2);

    static const struct {
        const char *text;
        int want;
    } bools[] = {{"1", 1},     {"true", 1}, {"YES", 1}, {"On", 1}, {"0", 0},
                 {"false", 0}, {"No", 0},   {"OFF", 0}, {"", 1}}; /* "" is unset */
    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
        setenv("SERPHONA_T_BOOL", bools[i].text, 1);
        assert_int_equal(sp_config_bool(cfg, "SERPHONA_T_BOOL", 1, "A flag."), bools[i].want);
    }
    assert_int_equal(sp_config_error_count(cfg), 0);
    assert_int_equal(sp_config_check(cfg), 0);
}

static void test_empty_counts_as_unset(void **state)
{
    sp_config_t *cfg = *state;
    setenv("SERPHONA_T_STR", "", 1);
    setenv("SERPHONA_T_INT", "", 1);
    setenv("SERPHONA_T_REQ", "", 1);
    assert_string_equal(sp_config_str(cfg, "SERPHONA_T_STR", "dflt", "x"), "dflt");
    assert_int_equal(sp_config_int(cfg, "SERPHONA_T_INT", 5, 0, 10, "x"), 5);
    assert_null(sp_config_required(cfg, "SERPHONA_T_REQ", "x"));
    assert_int_equal(sp_config_error_count(cfg), 1);
    assert_string_equal(sp_config_error(cfg, 0), "SERPHONA_T_REQ: required but not set");
}

static void test_bad_values_name_the_variable(void **state)
{
    sp_config_t *cfg = *state;
    setenv("SERPHONA_T_PORT", "abc", 1);
    setenv("SERPHONA_T_INT", "101", 1);
    setenv("SERPHONA_T_BOOL", "maybe", 1);
    setenv("SERPHONA_T_ENUM", "verbose", 1);
    setenv("SERPHONA_T_OTHER", "99999999999999999999", 1);

    /* Every bad read returns the default and the reads go on. */
    assert_int_equal(sp_config_port(cfg, "SERPHONA_T_PORT", 8080, "A port."), 8080);
    assert_int_equal(sp_config_int(cfg, "SERPHONA_T_INT", 3, 0, 100, "An int."), 3);
    assert_int_equal(sp_config_bool(cfg, "SERPHONA_T_BOOL", 0, "A flag."), 0);
    static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
    assert_int_equal(sp_config_enum(cfg, "SERPHONA_T_ENUM", 1, levels, "Level."), 1);
    assert_null(sp_config_required(cfg, "SERPHONA_T_REQ", "A URI."));
    assert_int_equal(sp_config_int(cfg, "SERPHONA_T_OTHER", 1, 0, 10, "Overflow."), 1);
    sp_config_add_error(cfg, "SERPHONA_T_A and SERPHONA_T_B: %s", "cannot both be set");

    assert_int_equal(sp_config_error_count(cfg), 7);
    assert_string_equal(sp_config_error(cfg, 0),
                        "SERPHONA_T_PORT: expected an integer between 1 and 65535, got 'abc'");
    assert_string_equal(sp_config_error(cfg, 1),
                        "SERPHONA_T_INT: expected an integer between 0 and 100, got '101'");
    assert_string_equal(sp_config_error(cfg, 2), "SERPHONA_T_BOOL: expected true/false, yes/no, "
                                                 "on/off or 1/0, got 'maybe'");
    assert_string_equal(sp_config_error(cfg, 3), "SERPHONA_T_ENUM: expected one of debug, info, "
                                                 "warn, error, got 'verbose'");
    assert_string_equal(sp_config_error(cfg, 4), "SERPHONA_T_REQ: required but not set");
    assert_string_equal(sp_config_error(cfg, 5),
                        "SERPHONA_T_OTHER: expected an integer between 0 and 10, got "
                        "'99999999999999999999'");
    assert_string_equal(sp_config_error(cfg, 6),
                        "SERPHONA_T_A and SERPHONA_T_B: cannot both be set");
    assert_null(sp_config_error(cfg, 7));
}

static void test_int_syntax(void **state)
{
    sp_config_t *cfg = *state;
    static const char *const bad[] = {"12abc", "1.5", "0x10", "- 3", "  ", "3 4"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("SERPHONA_T_INT", bad[i], 1);
        assert_int_equal(sp_config_int(cfg, "SERPHONA_T_INT", 9, -100, 100, "x"), 9);
    }
    assert_int_equal(sp_config_error_count(cfg), sizeof(bad) / sizeof(bad[0]));
    setenv("SERPHONA_T_INT", "+12", 1);
    assert_int_equal(sp_config_int(cfg, "SERPHONA_T_INT", 9, -100, 100, "x"), 12);
    setenv("SERPHONA_T_INT", "-100", 1);
    assert_int_equal(sp_config_int(cfg, "SERPHONA_T_INT", 9, -100, 100, "x"), -100);
    setenv("SERPHONA_T_PORT", "0", 1);
    assert_int_equal(sp_config_port(cfg, "SERPHONA_T_PORT", 80, "x"), 80);
    setenv("SERPHONA_T_PORT", "65536", 1);
    assert_int_equal(sp_config_port(cfg, "SERPHONA_T_PORT", 80, "x"), 80);
    assert_int_equal(sp_config_error_count(cfg), sizeof(bad) / sizeof(bad[0]) + 2);
}

static void test_long_bad_value_is_cut(void **state)
{
    sp_config_t *cfg = *state;
    char big[1000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    setenv("SERPHONA_T_INT", big, 1);
    assert_int_equal(sp_config_int(cfg, "SERPHONA_T_INT", 1, 0, 10, "x"), 1);
    const char *err = sp_config_error(cfg, 0);
    assert_non_null(err);
    assert_true(strlen(err) < 200);
    assert_non_null(strstr(err, "zzz...'"));
}

static void test_check_logs_each_error(void **state)
{
    sp_config_t *cfg = *state;
    FILE *log = tmpfile();
    assert_non_null(log);
    sp_log_init("test-svc", SP_LOG_INFO);
    sp_log_set_output(log);

    setenv("SERPHONA_T_PORT", "http", 1);
    setenv("SERPHONA_T_INT", "secret-looking-value", 1);
    sp_config_port(cfg, "SERPHONA_T_PORT", 8080, "A port.");
    sp_config_required(cfg, "SERPHONA_T_REQ", "A URI.");
    sp_config_int(cfg, "SERPHONA_T_INT", 1, 0, 9, "x");
    assert_int_equal(sp_config_check(cfg), SP_ECONFIG);
    sp_log_set_output(NULL);

    rewind(log);
    const char *want[] = {"SERPHONA_T_PORT", "SERPHONA_T_REQ", "SERPHONA_T_INT"};
    char line[1024];
    size_t n = 0;
    while (n < 3 && fgets(line, sizeof(line), log)) {
        cJSON *obj = cJSON_Parse(line);
        assert_non_null(obj);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(obj, "level")), "error");
        const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(obj, "msg"));
        assert_non_null(msg);
        assert_non_null(strstr(msg, want[n]));
        assert_string_equal(strstr(msg, want[n]), sp_config_error(cfg, n));
        cJSON_Delete(obj);
        n++;
    }
    assert_int_equal(n, 3);
    assert_null(fgets(line, sizeof(line), log)); /* and nothing else */
    fclose(log);
}

static void test_describe(void **state)
{
    sp_config_t *cfg = *state;
    setenv("SERPHONA_T_STR", "top-secret-value", 1);
    sp_config_str(cfg, "SERPHONA_T_STR", "dflt", "A string setting.");
    sp_config_str(cfg, "SERPHONA_T_STR", "dflt", "A string setting."); /* read twice */
    sp_config_port(cfg, "SERPHONA_T_PORT", 7102, "RPC port.");
    sp_config_bool(cfg, "SERPHONA_T_BOOL", 0, "A flag.");
    sp_config_required(cfg, "SERPHONA_T_REQ", "Database URI.");
    sp_config_str(cfg, "SERPHONA_T_OTHER", NULL, "Optional.");

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    sp_config_describe(cfg, out);
    fclose(out);

    const char *want = "Environment variables read by test-svc:\n"
                       "  SERPHONA_T_STR (string, default: dflt)\n"
                       "      A string setting.\n"
                       "  SERPHONA_T_PORT (integer 1..65535, default: 7102)\n"
                       "      RPC port.\n"
                       "  SERPHONA_T_BOOL (boolean, default: false)\n"
                       "      A flag.\n"
                       "  SERPHONA_T_REQ (string, required)\n"
                       "      Database URI.\n"
                       "  SERPHONA_T_OTHER (string, no default)\n"
                       "      Optional.\n";
    assert_string_equal(text, want);
    /* Values (possibly secrets) are never printed. */
    assert_null(strstr(text, "top-secret-value"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_when_unset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values_from_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_counts_as_unset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_values_name_the_variable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_syntax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_bad_value_is_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_logs_each_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
