/*
 * it_bench_smoke: the benchmark program works — csbm_bench --quick with
 * small counts starts the real hub, pushes, pulls, checks every receipt
 * and prints every figure, in text and in JSON. No figure is asserted:
 * a benchmark is never a timed test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/support/itest.h"

#define RUN_MS 300000 /* ASan on a slow, shared machine */

static char s_root[ITEST_PATH_MAX];

static int
s_setup(void **state)
{
    (void)state;
    return itest_tmpdir("bench-smoke", s_root, sizeof s_root);
}

static int
s_teardown(void **state)
{
    (void)state;
    itest_kill_all();
    itest_rmtree(s_root);
    return 0;
}

static char *
s_run(const char *flag, const char *name)
{
    char        prog[ITEST_PATH_MAX + 16], out[ITEST_PATH_MAX + 32];
    char        err[ITEST_PATH_MAX + 32], tmp_env[ITEST_PATH_MAX + 16];
    const char *dir = getenv("CSBM_BINARY_DIR");
    const char *argv[] = {prog, "--quick", "--packages", "64", "--pull",
        "64", flag, NULL};
    const char *env[] = {tmp_env, NULL};
    char       *text;
    int         rc;

    snprintf(prog, sizeof prog, "%s/csbm_bench", dir != NULL ? dir : ".");
    snprintf(out, sizeof out, "%s/%s.out", s_root, name);
    snprintf(err, sizeof err, "%s/%s.err", s_root, name);
    snprintf(tmp_env, sizeof tmp_env, "TMPDIR=%s", s_root);
    rc = itest_run(argv, env, out, err, RUN_MS);
    if (rc != 0) {
        char *e = itest_read_file(err, NULL);
        fail_msg("csbm_bench %s exited %d:\n%s", flag, rc, e ? e : "");
    }
    text = itest_read_file(out, NULL);
    assert_non_null(text);
    return text;
}

static void
test_bench_quick_prints_every_figure(void **state)
{
    char *text;

    (void)state;
    text = s_run("--members=4", "text");
    assert_non_null(strstr(text, "raw limits"));
    assert_non_null(strstr(text, "x Ed25519 verify/s on one core"));
    assert_non_null(strstr(text, "ingest "));
    assert_non_null(strstr(text, "push idle p50"));
    assert_non_null(strstr(text, "push load p50"));
    assert_non_null(strstr(text, "pull "));
    free(text);
}

static void
test_bench_quick_json_has_medians(void **state)
{
    char *text;

    (void)state;
    text = s_run("--json", "json");
    assert_non_null(strstr(text, "\"median\""));
    assert_non_null(strstr(text, "\"ingest_rate\""));
    assert_non_null(strstr(text, "\"pull_rate\""));
    assert_non_null(strstr(text, "\"idle_p50\""));
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_quick_prints_every_figure),
        cmocka_unit_test(test_bench_quick_json_has_medians),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
