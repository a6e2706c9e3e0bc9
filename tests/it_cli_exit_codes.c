/*
 * it_cli_exit_codes: the exit status contract of the real `csbm`, verb by
 * verb — 0 success, 1 verification failed or rejected (a file that was
 * read and is not valid), 2 usage or system error (a file that cannot be
 * read, an unknown option, recipient or state code) — and that every
 * message names the problem. Offline verbs only: no hub is started.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/keys.h"
#include "tests/support/itest.h"
#include "tests/support/xfix.h"

#define RUN_TIMEOUT 120000 /* ms */

static char s_root[ITEST_PATH_MAX];  /* the group's temp dir */
static char s_src[ITEST_PATH_MAX];   /* the source tree (examples/) */
static char s_ring[ITEST_PATH_MAX];  /* keyring: ARG.pub, CHL.pub */
static char s_arg[ITEST_PATH_MAX];   /* ARG's key directory */
static char s_chl[ITEST_PATH_MAX];   /* CHL's key directory */
static char s_pkg[ITEST_PATH_MAX];   /* a package ARG sealed to CHL */
static char s_good[ITEST_PATH_MAX];  /* a valid ARG report */
static char s_bad[ITEST_PATH_MAX];   /* an invalid ARG report */
static int  s_run_no;

static xfix_run_t s_run;

/* csbm ARGS... (NULL-ended) to completion, output captured in s_run;
 * returns the exit code. */
static int
s_csbm(const char *first, ...)
{
    const char *argv[48];
    char        out[ITEST_PATH_MAX], err[ITEST_PATH_MAX];
    size_t      n = 0;
    va_list     ap;

    argv[n++] = itest_csbm();
    argv[n++] = first;
    va_start(ap, first);
    while (n < 47 && (argv[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    argv[n] = NULL;
    xfix_fmt(out, sizeof out, "%s/run%03d.out", s_root, ++s_run_no);
    xfix_fmt(err, sizeof err, "%s/run%03d.err", s_root, s_run_no);
    free(s_run.out);
    free(s_run.err);
    s_run.code = itest_run(argv, NULL, out, err, RUN_TIMEOUT);
    s_run.out = xfix_slurp(out);
    s_run.err = xfix_slurp(err);
    print_message("$ csbm %s %s ... -> %d\n%s%s", first, n > 2 ? argv[2] : "",
                  s_run.code, s_run.out, s_run.err);
    return s_run.code;
}

static int
s_has(const char *needle)
{
    return strstr(s_run.out, needle) != NULL
        || strstr(s_run.err, needle) != NULL;
}

static void
s_path(char *out, size_t cap, const char *name)
{
    xfix_fmt(out, cap, "%s/%s", s_root, name);
}

/* A copy of pkg with one byte of its body flipped. */
static void
s_tampered(char *out, size_t cap)
{
    size_t len = 0;
    char  *buf = itest_read_file(s_pkg, &len);
    FILE  *f;

    assert_non_null(buf);
    assert_true(len > 64);
    buf[len - 20] ^= 0x01;
    s_path(out, cap, "tampered.csbm");
    f = fopen(out, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(buf);
}

/* ------------------------------------------------------ setup / down --- */

static int
s_group_setup(void **state)
{
    const char *src = getenv("CSBM_SOURCE_DIR");
    char        dir[ITEST_PATH_MAX];

    (void)state;
    if (access(itest_csbm(), X_OK) != 0) {
        fprintf(stderr, "%s: not built (run through ctest)\n", itest_csbm());
        return -1;
    }
    if (itest_tmpdir("exit", s_root, sizeof s_root) != 0)
        return -1;
    snprintf(s_src, sizeof s_src, "%s", src != NULL ? src : ".");
    setenv(KEYS_PASSPHRASE_ENV, ITEST_PASSPHRASE, 1);
    unsetenv("CSBM_REGISTRY");
    unsetenv("CSBM_ROOT");
    unsetenv("CSBM_FEDERATION");
    unsetenv("CSBM_KEYS");
    unsetenv("CSBM_KEYRING");
    s_path(dir, sizeof dir, "keys");
    if (mkdir(dir, 0700) != 0)
        return -1;
    s_path(s_arg, sizeof s_arg, "keys/ARG");
    s_path(s_chl, sizeof s_chl, "keys/CHL");
    s_path(s_ring, sizeof s_ring, "keyring");
    if (itest_identity(s_arg, "ARG") != 0 || itest_identity(s_chl, "CHL") != 0
        || itest_keyring_add(s_ring, s_arg, "ARG") != 0
        || itest_keyring_add(s_ring, s_chl, "CHL") != 0)
        return -1;
    xfix_fmt(s_good, sizeof s_good, "%s/examples/milex-standardized-ARG-2025.json",
          s_src);
    xfix_fmt(s_bad, sizeof s_bad, "%s/examples/invalid/milex-matrix-mismatch.json",
          s_src);
    s_path(s_pkg, sizeof s_pkg, "milex.csbm");
    if (s_csbm("seal", s_good, "--to", "CHL", "--keys", s_arg, "--keyring",
               s_ring, "-o", s_pkg, NULL)
        != 0)
        return -1;
    return 0;
}

static int
s_group_teardown(void **state)
{
    (void)state;
    itest_kill_all();
    free(s_run.out);
    free(s_run.err);
    itest_rmtree(s_root);
    return 0;
}

/* ------------------------------------------------------------- tests --- */

static void
test_cli_exit_help_is_0_with_examples_for_every_verb(void **state)
{
    static const char *const verbs[] = {"keygen", "validate", "seal", "open",
        "verify", "inspect", "push", "sync", "pull", "outbox", "inbox", "node",
        "verify-receipt", "log", "hub", "ca", "enroll", "registry", "audit"};
    static const char *const subs[][2] = {{"audit", "log"},
        {"audit", "compliance"}, {"audit", "verify"}, {"ca", "init"},
        {"registry", "add"}, {"registry", "rotate"}};
    size_t i;

    (void)state;
    assert_int_equal(s_csbm("--help", NULL), 0);
    for (i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        assert_int_equal(s_csbm(verbs[i], "--help", NULL), 0);
        assert_true(s_has("Example"));
        assert_true(s_has("Usage: csbm"));
    }
    for (i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        assert_int_equal(s_csbm(subs[i][0], subs[i][1], "--help", NULL), 0);
        assert_true(s_has("Example"));
    }
    assert_int_equal(s_csbm("no-such-verb", NULL), 2);
    assert_true(s_has("unknown verb"));
}

static void
test_cli_exit_validate_0_1_2(void **state)
{
    char missing[ITEST_PATH_MAX];

    (void)state;
    s_path(missing, sizeof missing, "nonexist.json");
    assert_int_equal(s_csbm("validate", s_good, NULL), 0);
    assert_int_equal(s_csbm("validate", s_bad, NULL), 1);
    assert_true(s_has("INVALID"));
    assert_int_equal(s_csbm("validate", missing, NULL), 2);
    assert_true(s_has("nonexist.json: cannot open"));
    assert_false(s_has("INVALID"));
    /* A file that cannot be read outweighs one that is invalid. */
    assert_int_equal(s_csbm("validate", s_bad, missing, s_good, NULL), 2);
    assert_int_equal(s_csbm("validate", "--json", missing, NULL), 2);
    assert_true(s_has("\"error\""));
    assert_int_equal(s_csbm("validate", NULL), 2);
    assert_int_equal(s_csbm("validate", "--no-such-option", s_good, NULL), 2);
}

static void
test_cli_exit_seal_0_1_2(void **state)
{
    char out[ITEST_PATH_MAX], missing[ITEST_PATH_MAX];

    (void)state;
    s_path(out, sizeof out, "seal-test.csbm");
    s_path(missing, sizeof missing, "nonexist.json");
    assert_int_equal(s_csbm("seal", s_good, "--to", "CHL", "--keys", s_arg,
                            "--keyring", s_ring, "-o", out, NULL),
                     0);
    assert_int_equal(s_csbm("seal", s_bad, "--to", "CHL", "--keys", s_arg,
                            "--keyring", s_ring, "-o", out, NULL),
                     1);
    assert_true(s_has("is not valid"));
    assert_int_equal(s_csbm("seal", missing, "--to", "CHL", "--keys", s_arg,
                            "--keyring", s_ring, "-o", out, NULL),
                     2);
    assert_true(s_has("nonexist.json: cannot open"));
    /* An unknown recipient is a usage error that lists the known ones. */
    assert_int_equal(s_csbm("seal", s_good, "--to", "CHL,XYZ", "--keys", s_arg,
                            "--keyring", s_ring, "-o", out, NULL),
                     2);
    assert_true(s_has("XYZ is not in the keyring"));
    assert_true(s_has("known: ARG, CHL"));
    assert_int_equal(s_csbm("seal", s_good, "--keys", s_arg, NULL), 2);
}

static void
test_cli_exit_verify_inspect_open_0_1_2(void **state)
{
    char tampered[ITEST_PATH_MAX], missing[ITEST_PATH_MAX];
    char garbage[ITEST_PATH_MAX], json[ITEST_PATH_MAX];

    (void)state;
    s_tampered(tampered, sizeof tampered);
    s_path(missing, sizeof missing, "nofile.csbm");
    s_path(garbage, sizeof garbage, "garbage.csbm");
    s_path(json, sizeof json, "opened.json");
    assert_int_equal(itest_write_file(garbage, "not a package\n", 0644), 0);

    assert_int_equal(s_csbm("verify", "--keyring", s_ring, s_pkg, NULL), 0);
    assert_true(s_has("VALID, signed by ARG"));
    assert_true(s_has("  format_version: 1\n"));
    assert_int_equal(s_csbm("verify", "--keyring", s_ring, tampered, NULL), 1);
    assert_true(s_has("NOT VALID"));
    assert_int_equal(s_csbm("verify", "--keyring", s_ring, garbage, NULL), 1);
    assert_int_equal(s_csbm("verify", "--keyring", s_ring, missing, NULL), 2);
    assert_true(s_has("nofile.csbm: cannot open"));
    assert_false(s_has("NOT VALID"));
    assert_int_equal(
        s_csbm("verify", "--json", "--keyring", s_ring, missing, NULL), 2);

    assert_int_equal(s_csbm("inspect", s_pkg, NULL), 0);
    assert_true(s_has("  format_version: 1\n"));
    assert_int_equal(s_csbm("inspect", garbage, NULL), 1);
    assert_int_equal(s_csbm("inspect", missing, NULL), 2);
    assert_true(s_has("nofile.csbm: cannot open"));

    assert_int_equal(s_csbm("open", s_pkg, "--keys", s_chl, "--keyring",
                            s_ring, "-o", json, NULL),
                     0);
    assert_int_equal(s_csbm("open", tampered, "--keys", s_chl, "--keyring",
                            s_ring, "-o", json, NULL),
                     1);
    /* ARG is not a recipient of its own package to CHL. */
    assert_int_equal(s_csbm("open", s_pkg, "--keys", s_arg, "--keyring",
                            s_ring, "-o", json, NULL),
                     1);
    assert_int_equal(s_csbm("open", missing, "--keys", s_chl, "--keyring",
                            s_ring, "-o", json, NULL),
                     2);
    assert_true(s_has("nofile.csbm: cannot open"));
}

static void
test_cli_exit_keygen_checks_before_deriving(void **state)
{
    static const char *const bad[] = {"arg", "XYZ", "HUB", "AR"};
    char   dir[ITEST_PATH_MAX], pass[ITEST_PATH_MAX], pub[ITEST_PATH_MAX];
    size_t i;

    (void)state;
    s_path(dir, sizeof dir, "keys/new");
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(s_csbm("keygen", "--state", bad[i], "--keys", dir,
                                NULL),
                         2);
        assert_true(s_has(bad[i]));
        assert_false(s_has("Argon2id"));
        assert_int_not_equal(access(dir, F_OK), 0);
    }
    assert_int_equal(s_csbm("keygen", "--state", "arg", "--keys", dir, NULL),
                     2);
    assert_true(s_has("did you mean ARG?"));
    assert_int_equal(s_csbm("keygen", "--state", "HUB", "--keys", dir, NULL),
                     2);
    assert_true(s_has("\"hub\""));

    /* Existing keys: refused before the passphrase is derived. */
    assert_int_equal(s_csbm("keygen", "--state", "ARG", "--keys", s_arg, NULL),
                     2);
    assert_true(s_has("already exists"));
    assert_false(s_has("Argon2id"));

    /* A passphrase file whose first line is too short. */
    s_path(pass, sizeof pass, "short.pass");
    assert_int_equal(itest_write_file(pass, "1234567\n", 0600), 0);
    assert_int_equal(s_csbm("keygen", "--state", "PER", "--keys", dir,
                            "--passphrase-file", pass, NULL),
                     2);
    assert_true(s_has("at least 8"));
    xfix_fmt(pub, sizeof pub, "%s/PER.pub", dir);
    assert_int_not_equal(access(pub, F_OK), 0);

    assert_int_equal(s_csbm("keygen", "--state", "PER", "--keys", dir, NULL),
                     0);
    assert_int_equal(access(pub, F_OK), 0);
    assert_int_equal(s_csbm("keygen", "--keys", dir, NULL), 2);
}

static void
test_cli_exit_audit_options(void **state)
{
    char db[ITEST_PATH_MAX], reg[ITEST_PATH_MAX], root[ITEST_PATH_MAX];

    (void)state;
    s_path(db, sizeof db, "no-hub.db");
    s_path(reg, sizeof reg, "no-registry.bin");
    s_path(root, sizeof root, "no-root.pem");
    assert_int_equal(s_csbm("audit", "compliance", "--data", db, "--year",
                            "25", NULL),
                     2);
    assert_true(s_has("from 1990 to 2100"));
    assert_int_equal(s_csbm("audit", "compliance", "--data", db, "--year",
                            "2101", NULL),
                     2);
    assert_int_equal(
        s_csbm("audit", "log", "--data", db, "--state", "arg", NULL), 2);
    assert_true(s_has("did you mean ARG?"));
    assert_int_equal(
        s_csbm("audit", "log", "--data", db, "--state", "XYZ", NULL), 2);
    assert_true(s_has("XYZ"));
    assert_int_equal(
        s_csbm("audit", "log", "--data", db, "--recipient", "ZZZ", NULL), 2);
    /* audit verify takes the registry like compliance: the refusal is
     * about the missing files, not the options. */
    assert_int_equal(s_csbm("audit", "verify", "--data", db, "--registry", reg,
                            "--root", root, NULL),
                     2);
    assert_false(s_has("unrecognized"));
    assert_false(s_has("Usage:"));
    assert_int_equal(
        s_csbm("audit", "verify", "--data", db, "--registry", reg, NULL), 2);
    assert_true(s_has("--root"));
    assert_int_equal(s_csbm("audit", "no-such-report", NULL), 2);
}

/* verify --registry keeps its roll-back state where it can write, and
 * a state file that cannot be written is a system error (2) naming that
 * file, never a temporary one. */
static void
test_cli_exit_registry_state_location(void **state)
{
    char ca[ITEST_PATH_MAX], root[ITEST_PATH_MAX], reg[ITEST_PATH_MAX];
    char req[ITEST_PATH_MAX], pkg[ITEST_PATH_MAX], st[ITEST_PATH_MAX];
    char ro[ITEST_PATH_MAX], ro_reg[ITEST_PATH_MAX], xdg[ITEST_PATH_MAX];
    char nokeys[ITEST_PATH_MAX], env_xdg[ITEST_PATH_MAX + 32];
    char *text;
    size_t len = 0;

    (void)state;
    s_path(ca, sizeof ca, "keys/ca");
    s_path(root, sizeof root, "root.pem");
    s_path(reg, sizeof reg, "registry.bin");
    s_path(req, sizeof req, "ARG.req");
    s_path(pkg, sizeof pkg, "registry-milex.csbm");
    s_path(nokeys, sizeof nokeys, "no-keys");
    assert_int_equal(s_csbm("ca", "init", "--federation", "OAS-CSBM", "--keys",
                            ca, "--root", root, NULL),
                     0);
    assert_int_equal(s_csbm("registry", "init", "--registry", reg, "--root",
                            root, "--keys", ca, NULL),
                     0);
    assert_int_equal(s_csbm("enroll", "--state", "ARG", "--keys", s_arg,
                            "--root", root, "-o", req, NULL),
                     0);
    assert_int_equal(s_csbm("registry", "add", "--state", "ARG", "--request",
                            req, "--registry", reg, "--root", root, "--keys",
                            ca, NULL),
                     0);
    /* ARG seals to itself: the only member. */
    assert_int_equal(s_csbm("seal", s_good, "--to", "ARG", "--keys", s_arg,
                            "--registry", reg, "--root", root, "-o", pkg,
                            NULL),
                     0);

    /* Without a key directory: beside the registry. */
    assert_int_equal(s_csbm("verify", "--registry", reg, "--root", root,
                            "--keys", nokeys, pkg, NULL),
                     0);
    xfix_fmt(st, sizeof st, "%s.state", reg);
    assert_int_equal(access(st, F_OK), 0);

    /* A state file that cannot be written: 2, naming it. */
    assert_int_equal(s_csbm("verify", "--registry", reg, "--root", root,
                            "--registry-state", "/proc/csbm-it-exit.state",
                            pkg, NULL),
                     2);
    assert_true(s_has("/proc/csbm-it-exit.state"));
    assert_true(s_has("--registry-state"));
    assert_false(s_has(".tmp."));

    /* A registry in a directory this user cannot write: the per-user
     * state directory. Root writes everywhere, so only as another user. */
    if (geteuid() == 0) {
        print_message("running as root: the read-only directory case is "
                      "not exercised\n");
        return;
    }
    s_path(ro, sizeof ro, "ro");
    s_path(xdg, sizeof xdg, "xdg-state");
    assert_int_equal(mkdir(ro, 0755), 0);
    xfix_fmt(ro_reg, sizeof ro_reg, "%s/registry.bin", ro);
    text = itest_read_file(reg, &len);
    assert_non_null(text);
    {
        FILE *f = fopen(ro_reg, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
    }
    free(text);
    assert_int_equal(chmod(ro, 0555), 0);
    xfix_fmt(env_xdg, sizeof env_xdg, "XDG_STATE_HOME=%s", xdg);
    {
        const char *argv[] = {itest_csbm(), "verify", "--registry", ro_reg,
            "--root", root, "--keys", nokeys, pkg, NULL};
        const char *env[] = {env_xdg, NULL};
        assert_int_equal(itest_run(argv, env, NULL, NULL, RUN_TIMEOUT), 0);
    }
    xfix_fmt(st, sizeof st, "%s/registry.bin.state", ro);
    assert_int_not_equal(access(st, F_OK), 0);
    xfix_fmt(st, sizeof st, "%s/csbm", xdg);
    assert_int_equal(access(st, F_OK), 0);
    assert_int_equal(chmod(ro, 0755), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_exit_help_is_0_with_examples_for_every_verb),
        cmocka_unit_test(test_cli_exit_validate_0_1_2),
        cmocka_unit_test(test_cli_exit_seal_0_1_2),
        cmocka_unit_test(test_cli_exit_verify_inspect_open_0_1_2),
        cmocka_unit_test(test_cli_exit_keygen_checks_before_deriving),
        cmocka_unit_test(test_cli_exit_audit_options),
        cmocka_unit_test(test_cli_exit_registry_state_location),
    };

    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
