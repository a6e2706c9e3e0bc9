/*
 * test_config: the INI configuration: the committed samples parse, and
 * every kind of mistake is reported with its file and line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

#define NAME "conf/node.ini"

/* A complete member configuration; tests change one line of it. */
static const char s_member[] =
    "[federation]\n"                            /* 1 */
    "name = Test Federation\n"                  /* 2 */
    "root_cert = /etc/csbm/root.pem\n"          /* 3 */
    "\n"                                        /* 4 */
    "[node]\n"                                  /* 5 */
    "id = ARG\n"                                /* 6 */
    "key_dir = keys\n"                          /* 7 */
    "data_dir = /var/lib/csbm\n"                /* 8 */
    "\n"                                        /* 9 */
    "[member]\n"                                /* 10 */
    "hub_endpoint = tcp://hub.example.org:7701\n" /* 11 */
    "\n"                                        /* 12 */
    "[deadlines]\n"                             /* 13 */
    "milex = 05-31\n";                          /* 14 */

static const char s_hub[] =
    "[federation]\n"
    "name = Test Federation\n"
    "root_cert = /etc/csbm/root.pem\n"
    "[node]\n"                                  /* 4 */
    "id = hub\n"                                /* 5 */
    "key_dir = /k\n"
    "data_dir = /d\n"
    "[hub]\n"                                   /* 8 */
    "bind = tcp://*:7701\n"                     /* 9 */
    "max_message_bytes = 1048576\n";            /* 10 */

static int
s_parse(const char *text, config_t *cfg, errbuf_t *err)
{
    return config_parse(text, strlen(text), NAME, cfg, err);
}

/* The member text with line `line` (1-based) replaced by `with` ("" to
 * remove the line's content). */
static char *
s_with_line(const char *text, int line, const char *with)
{
    size_t      cap = strlen(text) + strlen(with) + 2;
    char       *out = malloc(cap);
    const char *p = text, *nl;
    int         n = 1;

    assert_non_null(out);
    out[0] = '\0';
    while (*p != '\0') {
        nl = strchr(p, '\n');
        assert_non_null(nl);
        if (n == line) {
            strcat(out, with);
            strcat(out, "\n");
        } else {
            strncat(out, p, (size_t)(nl - p + 1));
        }
        p = nl + 1;
        n++;
    }
    return out;
}

static void
s_expect_line(const char *text, const char *needle)
{
    config_t cfg;
    errbuf_t err = {{0}};

    if (s_parse(text, &cfg, &err) == 0)
        fail_msg("expected a failure with \"%s\"", needle);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("expected \"%s\" in: %s", needle, err.msg);
    if (getenv("CSBM_TEST_VERBOSE") != NULL)
        print_message("refused as expected: %s\n", err.msg);
}

static void
s_expect_changed(int line, const char *with, const char *needle)
{
    char *text = s_with_line(s_member, line, with);

    s_expect_line(text, needle);
    free(text);
}

/* ------------------------------------------------------------------ */

static void
test_config_samples_parse(void **state)
{
    const char *src = getenv("CSBM_SOURCE_DIR");
    char        path[PATH_MAX];
    config_t    cfg;
    errbuf_t    err = {{0}};

    (void)state;
    assert_non_null(src);
    snprintf(path, sizeof path, "%s/config/hub.ini.sample", src);
    if (config_load(path, &cfg, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(config_is_hub(&cfg));
    assert_string_equal(cfg.federation.name, "OAS-CSBM");
    assert_string_equal(cfg.hub.bind, "tcp://*:7701");
    assert_string_equal(cfg.hub.pub_bind, "tcp://*:7702");
    assert_true(cfg.hub.max_message_bytes == 16777216);
    assert_true(cfg.hub.heartbeat_ms == 5000);
    assert_string_equal(cfg.node.registry, "/etc/csbm/registry.bin");

    snprintf(path, sizeof path, "%s/config/member.ini.sample", src);
    if (config_load(path, &cfg, &err) != 0)
        fail_msg("%s", err.msg);
    assert_false(config_is_hub(&cfg));
    assert_string_equal(cfg.node.id, "ARG");
    assert_string_equal(cfg.member.hub_endpoint,
        "tcp://hub.example.org:7701");
    assert_string_equal(cfg.member.hub_notify_endpoint,
        "tcp://hub.example.org:7702");
    assert_int_equal(cfg.deadlines.milex.month, 4);
    assert_int_equal(cfg.deadlines.milex.day, 30);
    assert_int_equal(cfg.deadlines.acquisition_report.month, 6);
    assert_int_equal(cfg.deadlines.acquisition_report.day, 15);
    assert_int_equal(cfg.deadlines.csbm_inventory.day, 15);
    assert_true(cfg.deadlines.acquisition_notice_days == 90);
}

static void
test_config_member_values_and_defaults(void **state)
{
    config_t cfg;
    errbuf_t err = {{0}};

    (void)state;
    if (s_parse(s_member, &cfg, &err) != 0)
        fail_msg("%s", err.msg);
    /* Relative paths are relative to the file's directory. */
    assert_string_equal(cfg.node.key_dir, "conf/keys");
    assert_string_equal(cfg.node.data_dir, "/var/lib/csbm");
    assert_string_equal(cfg.node.registry, "");
    assert_int_equal(cfg.deadlines.milex.month, 5);
    assert_int_equal(cfg.deadlines.milex.day, 31);
    /* Defaults for what the file does not say. */
    assert_int_equal(cfg.deadlines.csbm_inventory.month, 4);
    assert_int_equal(cfg.deadlines.csbm_inventory.day, 15);
    assert_true(cfg.deadlines.acquisition_notice_days == 90);
    assert_int_equal(cfg.deadlines.arms_register.month, 5);
    assert_true(cfg.hub.heartbeat_ms == CONFIG_DEFAULT_HEARTBEAT_MS);

    if (config_parse(s_member, strlen(s_member), "node.ini", &cfg, &err)
        != 0)
        fail_msg("%s", err.msg);
    assert_string_equal(cfg.node.key_dir, "./keys");
}

static void
test_config_hub_values(void **state)
{
    config_t cfg;
    errbuf_t err = {{0}};

    (void)state;
    if (s_parse(s_hub, &cfg, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(config_is_hub(&cfg));
    assert_true(cfg.hub.max_message_bytes == 1048576);
    assert_string_equal(cfg.hub.pub_bind, "");
}

static void
test_config_rejects_unknown_key(void **state)
{
    char *text = s_with_line(s_hub, 9, "bind_adress = tcp://*:7701");

    (void)state;
    s_expect_line(text, NAME ":9: unknown key 'bind_adress' in [hub] "
        "(known keys: bind, pub_bind, max_message_bytes, heartbeat_ms)");
    free(text);
}

static void
test_config_rejects_unknown_section(void **state)
{
    (void)state;
    s_expect_changed(13, "[deadline]", NAME ":13: unknown section "
        "[deadline]");
}

static void
test_config_rejects_bad_number(void **state)
{
    char *text;

    (void)state;
    text = s_with_line(s_hub, 10, "max_message_bytes = 12x");
    s_expect_line(text, NAME ":10: bad value '12x' for 'max_message_bytes' "
        "in [hub]: expected a whole number");
    free(text);
    text = s_with_line(s_hub, 10, "max_message_bytes = -5");
    s_expect_line(text, NAME ":10: bad value '-5'");
    free(text);
    text = s_with_line(s_hub, 10, "max_message_bytes = 99999999999999999999");
    s_expect_line(text, NAME ":10: bad value '99999999999999999999' for "
        "'max_message_bytes' in [hub]: must be 1024 to 1073741824");
    free(text);
    text = s_with_line(s_hub, 10, "max_message_bytes = 10");
    s_expect_line(text, NAME ":10: bad value '10' for 'max_message_bytes' "
        "in [hub]: must be 1024 to 1073741824");
    free(text);
    s_expect_changed(14, "acquisition_notice_days = 0", NAME ":14: deadline "
        "acquisition_notice_days = '0'");
}

static void
test_config_rejects_bad_endpoint(void **state)
{
    static const char *const bad[] = {
        "hub_endpoint = http://hub:7701",
        "hub_endpoint = tcp://hub",
        "hub_endpoint = tcp://hub:0",
        "hub_endpoint = tcp://hub:65536",
        "hub_endpoint = tcp://:7701",
        "hub_endpoint = tcp://hub:77a",
        "hub_endpoint = ipc://",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        s_expect_changed(11, bad[i], NAME ":11: bad value");
    s_expect_changed(11, "hub_endpoint = http://hub:7701", "expected an "
        "endpoint tcp://HOST:PORT");
    assert_true(config_endpoint_valid("ipc:///run/csbm/hub.sock"));
    assert_true(config_endpoint_valid("tcp://[::1]:7701"));
    assert_true(config_endpoint_valid("tcp://10.0.0.1:1"));
}

static void
test_config_rejects_bad_values(void **state)
{
    (void)state;
    s_expect_changed(6, "id = Argentina", NAME ":6: bad value 'Argentina' "
        "for 'id' in [node]: expected a state code");
    s_expect_changed(14, "milex = 02-29", NAME ":14: deadline milex = "
        "'02-29'");
    s_expect_changed(14, "milex = 13-01", NAME ":14: deadline milex");
    s_expect_changed(14, "milex = 4-30", NAME ":14: deadline milex");
    s_expect_changed(14, "milex = 04-31", NAME ":14: deadline milex");
    s_expect_changed(14, "arms_register = 5-31", NAME ":14: deadline "
        "arms_register");
    s_expect_changed(14, "milex_report = 04-30", NAME ":14: unknown key "
        "'milex_report' in [deadlines] (known keys: milex, arms_register, "
        "acquisition_report, csbm_inventory, acquisition_notice_days)");
    s_expect_changed(2, "name = \x01OAS", NAME ":2: bad value '?OAS'");
}

static void
test_config_rejects_duplicates_and_empty_values(void **state)
{
    (void)state;
    s_expect_changed(8, "key_dir = /other", NAME ":8: duplicate key "
        "'key_dir' in [node] (first set on line 7)");
    s_expect_changed(8, "data_dir =", NAME ":8: empty value for "
        "'data_dir'");
}

static void
test_config_rejects_syntax_errors(void **state)
{
    (void)state;
    s_expect_changed(8, "data_dir /var/lib/csbm", NAME ":8: expected "
        "[section], key = value");
    s_expect_changed(5, "[node", NAME ":5: expected [section]");
    s_expect_line("id = ARG\n[node]\n", NAME ":1: key 'id' before any "
        "[section]");
}

static void
test_config_rejects_long_line(void **state)
{
    char line[CONFIG_LINE_MAX + 40];

    (void)state;
    snprintf(line, sizeof line, "data_dir = /%0*d", CONFIG_LINE_MAX, 0);
    s_expect_changed(8, line, NAME ":8: line longer than");
}

static void
test_config_rejects_missing_and_misplaced_keys(void **state)
{
    char *text;

    (void)state;
    s_expect_changed(11, "", NAME ": [member] hub_endpoint is missing "
        "(required on a member)");
    s_expect_changed(3, "", NAME ": [federation] root_cert is missing");
    s_expect_changed(6, "", NAME ": [node] id is missing");
    text = s_with_line(s_hub, 9, "");
    s_expect_line(text, NAME ": [hub] bind is missing (required on the "
        "hub)");
    free(text);
    /* Settings of the other kind of node. */
    s_expect_changed(11, "hub_endpoint = tcp://h:1\n[hub]\nbind = tcp://*:1",
        NAME ":13: [hub] bind is a setting of the hub, but [node] id "
        "(line 6) makes this node a member");
    text = s_with_line(s_hub, 10, "[member]\nhub_endpoint = tcp://h:1");
    s_expect_line(text, NAME ":11: [member] hub_endpoint is a setting of "
        "member nodes, but [node] id (line 5) makes this node the hub");
    free(text);
}

static void
test_config_accepts_indentation_comments_and_crlf(void **state)
{
    static const char text[] =
        "\xef\xbb\xbf# comment\r\n"
        "[federation]\r\n"
        "  name = Test Federation ; trailing comment\r\n"
        "\troot_cert = /etc/root.pem\r\n"
        "[node]\r\n"
        "    id = CHL\r\n"
        "    key_dir = /k\r\n"
        "    data_dir = /d\r\n"
        "; another comment\r\n"
        "[member]\r\n"
        "  hub_endpoint : tcp://hub:7701\r\n";
    config_t cfg;
    errbuf_t err = {{0}};

    (void)state;
    if (s_parse(text, &cfg, &err) != 0)
        fail_msg("%s", err.msg);
    assert_string_equal(cfg.federation.name, "Test Federation");
    assert_string_equal(cfg.node.key_dir, "/k");
    assert_string_equal(cfg.member.hub_endpoint, "tcp://hub:7701");
}

static void
test_config_load_reports_missing_file(void **state)
{
    config_t cfg;
    errbuf_t err = {{0}};

    (void)state;
    assert_int_equal(config_load("/nonexistent/csbm.ini", &cfg, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/csbm.ini"));
    assert_int_equal(config_parse("a\0b", 3, NAME, &cfg, &err), -1);
    assert_non_null(strstr(err.msg, "NUL"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_samples_parse),
        cmocka_unit_test(test_config_member_values_and_defaults),
        cmocka_unit_test(test_config_hub_values),
        cmocka_unit_test(test_config_rejects_unknown_key),
        cmocka_unit_test(test_config_rejects_unknown_section),
        cmocka_unit_test(test_config_rejects_bad_number),
        cmocka_unit_test(test_config_rejects_bad_endpoint),
        cmocka_unit_test(test_config_rejects_bad_values),
        cmocka_unit_test(test_config_rejects_duplicates_and_empty_values),
        cmocka_unit_test(test_config_rejects_syntax_errors),
        cmocka_unit_test(test_config_rejects_long_line),
        cmocka_unit_test(test_config_rejects_missing_and_misplaced_keys),
        cmocka_unit_test(test_config_accepts_indentation_comments_and_crlf),
        cmocka_unit_test(test_config_load_reports_missing_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
