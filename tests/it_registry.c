/*
 * it_registry: the federation's PKI and member registry driven through the
 * real `csbm` — `ca init`, `keygen` + `enroll` for the hub and ARG, CHL,
 * PER, `registry init/add/rotate/revoke/status/list/show/verify`, and the
 * verifying verbs (`verify`, `open`, `push`, `hub`) with --registry/--root.
 *
 * Stories, in order, on one registry that each step changes: a package
 * sealed by ARG verifies and opens against the registry; bad enrollment
 * requests are refused with exit 1 (wrong state, garbage) or 2 (no file);
 * after ARG's key is revoked at T a package made before T still verifies
 * and one made after is refused, naming the key and T; after CHL rotates
 * its key old packages verify, new ones use the new key, and the old key is
 * refused after the rotation; a withdrawn state and a not-yet-valid key are
 * refused; a registry with a flipped byte is refused, and so is an older
 * version after a newer one was seen; a hub started from a configuration
 * file with the registry admits CHL's new transport key and refuses ARG's
 * revoked one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/keys.h"
#include "tests/support/itest.h"
#include "tests/support/xfix.h"

#define FED "IT Registry Federation"
#define RUN_TIMEOUT 120000 /* ms */

static char s_root[ITEST_PATH_MAX];    /* the group's temp dir */
static char s_reg[ITEST_PATH_MAX];     /* the registry */
static char s_cert[ITEST_PATH_MAX];    /* the root certificate */
static char s_ca[ITEST_PATH_MAX];      /* the CA's key directory */
static char s_v_first[ITEST_PATH_MAX]; /* a copy of an early version */
static int  s_run_no;

static xfix_run_t s_run;

/* csbm ARGS... (NULL-ended) to completion, output captured in s_run. */
static xfix_run_t *
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
    return &s_run;
}

static int
s_has(const xfix_run_t *r, const char *needle)
{
    return strstr(r->out, needle) != NULL || strstr(r->err, needle) != NULL;
}

static void
s_keys(char *out, size_t cap, const char *name)
{
    xfix_fmt(out, cap, "%s/keys/%s", s_root, name);
}

static void
s_path(char *out, size_t cap, const char *name)
{
    xfix_fmt(out, cap, "%s/%s", s_root, name);
}

/* Wait until the clock's second changes, so that what comes next happens
 * strictly after what came before. */
static void
s_next_second(void)
{
    time_t t0 = time(NULL);

    while (time(NULL) == t0)
        usleep(20 * 1000);
}

/* A valid MILEX report of state as a JSON file named after tag. */
static void
s_milex(char *path, size_t cap, const char *state, const char *tag)
{
    char text[1024];

    xfix_fmt(path, cap, "%s/milex-%s-%s.json", s_root, state, tag);
    xfix_fmt(
        text, sizeof text,
        "{\n  \"state\": \"%s\",\n  \"year\": 2025,\n  \"language\": \"es\",\n"
        "  \"prepared_at\": \"2026-01-15T12:00:00Z\",\n  \"milex\": {\n"
        "    \"currency\": \"ARS\",\n    \"unit\": \"MILLIONS\",\n"
        "    \"form\": \"MILEX_SINGLE_FIGURE\",\n    \"single_figure\": 1200\n"
        "  }\n}\n",
        state);
    assert_int_equal(itest_write_file(path, text, 0644), 0);
}

/* Seal a report of state with the keys in keydir to `to`, recipients'
 * keys from the registry; the package goes to <root>/<tag>.csbm. */
static void
s_seal(char *pkg, size_t cap, const char *state, const char *keydir,
       const char *to, const char *tag)
{
    char json[ITEST_PATH_MAX];

    s_milex(json, sizeof json, state, tag);
    xfix_fmt(pkg, cap, "%s/%s.csbm", s_root, tag);
    s_csbm("seal", json, "--to", to, "--keys", keydir, "--registry", s_reg,
           "--root", s_cert, "-o", pkg, NULL);
    assert_int_equal(s_run.code, 0);
}

/* A keyring directory <root>/plain-<tag> of the .pub files of state (from
 * keydir) and of each recipient in `to` (from keys/<ID>): it knows the
 * keys but none of the registry's revocations, retirements or statuses. */
static void
s_plain_keyring(char *dir, size_t cap, const char *state, const char *keydir,
                const char *to, const char *tag)
{
    char        rdir[ITEST_PATH_MAX], id[16];
    const char *p = to, *comma;

    xfix_fmt(dir, cap, "%s/plain-%s", s_root, tag);
    assert_int_equal(itest_keyring_add(dir, keydir, state), 0);
    while (p != NULL && *p != '\0') {
        comma = strchr(p, ',');
        xfix_fmt(id, sizeof id, "%.*s",
              (int)(comma ? (size_t)(comma - p) : strlen(p)), p);
        s_keys(rdir, sizeof rdir, id);
        assert_int_equal(itest_keyring_add(dir, rdir, id), 0);
        p = comma ? comma + 1 : NULL;
    }
}

/* Seal as s_seal does, first against the registry, which must refuse
 * (exit 1) with a message containing refusal: csbm never seals with a key
 * its keyring knows it may not sign with. Then seal the same report with
 * a plain keyring that does not know why (s_plain_keyring), as a stale or
 * forged copy of the sender's tools would, so that the verifiers' own
 * refusal can be tested. */
static void
s_seal_refused(char *pkg, size_t cap, const char *state, const char *keydir,
               const char *to, const char *tag, const char *refusal)
{
    char json[ITEST_PATH_MAX], plain[ITEST_PATH_MAX];

    s_milex(json, sizeof json, state, tag);
    xfix_fmt(pkg, cap, "%s/%s.csbm", s_root, tag);
    s_csbm("seal", json, "--to", to, "--keys", keydir, "--registry", s_reg,
           "--root", s_cert, "-o", pkg, NULL);
    assert_int_equal(s_run.code, 1);
    assert_true(s_has(&s_run, refusal));
    assert_int_not_equal(access(pkg, F_OK), 0);
    s_plain_keyring(plain, sizeof plain, state, keydir, to, tag);
    s_csbm("seal", json, "--to", to, "--keys", keydir, "--keyring", plain,
           "--federation", FED, "-o", pkg, NULL);
    assert_int_equal(s_run.code, 0);
}

/* csbm verify against the registry, as an auditor with no key directory
 * and its own roll-back state file. */
static xfix_run_t *
s_verify(const char *pkg)
{
    char state[ITEST_PATH_MAX], nokeys[ITEST_PATH_MAX];

    s_path(state, sizeof state, "auditor.state");
    s_path(nokeys, sizeof nokeys, "no-such-keys");
    return s_csbm("verify", "--registry", s_reg, "--root", s_cert,
                  "--registry-state", state, "--keys", nokeys, pkg, NULL);
}

/* csbm registry VERB ... with the CA's options appended. */
#define REG(verb, ...)                                                         \
    s_csbm("registry", verb, "--registry", s_reg, "--root", s_cert, "--keys",  \
           s_ca, __VA_ARGS__, NULL)

/* The value of "key": "..." in JSON text, into out. */
static void
s_json_str(const char *text, const char *key, char *out, size_t cap)
{
    char        pat[64];
    const char *p, *q;

    xfix_fmt(pat, sizeof pat, "\"%s\": \"", key);
    p = strstr(text, pat);
    assert_non_null(p);
    p += strlen(pat);
    q = strchr(p, '"');
    assert_non_null(q);
    assert_true((size_t)(q - p) < cap);
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = '\0';
}

static void
s_enroll(const char *state, const char *keyname, const char *req)
{
    char keys[ITEST_PATH_MAX];

    s_keys(keys, sizeof keys, keyname);
    s_csbm("keygen", "--state", state, "--keys", keys, NULL);
    assert_int_equal(s_run.code, 0);
    s_csbm("enroll", "--state", state, "--keys", keys, "--root", s_cert, "-o",
           req, NULL);
    assert_int_equal(s_run.code, 0);
    assert_true(s_has(&s_run, "enrollment request of"));
}

/* ------------------------------------------------------ setup / down --- */

static int
s_group_setup(void **state)
{
    static const char *const ids[] = {"hub", "ARG", "CHL", "PER"};
    char                     req[ITEST_PATH_MAX], dir[ITEST_PATH_MAX];
    size_t                   i;

    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (access(itest_csbm(), X_OK) != 0) {
        fprintf(stderr, "%s: not built (run through ctest)\n", itest_csbm());
        return -1;
    }
    if (itest_tmpdir("registry", s_root, sizeof s_root) != 0)
        return -1;
    setenv(KEYS_PASSPHRASE_ENV, ITEST_PASSPHRASE, 1);
    unsetenv("CSBM_REGISTRY");
    unsetenv("CSBM_ROOT");
    unsetenv("CSBM_FEDERATION");
    xfix_fmt(dir, sizeof dir, "%s/keys", s_root);
    if (mkdir(dir, 0700) != 0)
        return -1;
    s_path(s_reg, sizeof s_reg, "registry.bin");
    s_path(s_cert, sizeof s_cert, "root.pem");
    s_path(s_v_first, sizeof s_v_first, "registry-v-early.bin");
    s_keys(s_ca, sizeof s_ca, "ca");
    s_csbm("ca", "init", "--federation", FED, "--keys", s_ca, "--root", s_cert,
           "--days", "30", NULL);
    if (s_run.code != 0 || !s_has(&s_run, "SHA-256"))
        return -1;
    s_csbm("registry", "init", "--registry", s_reg, "--root", s_cert, "--keys",
           s_ca, NULL);
    if (s_run.code != 0)
        return -1;
    for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        xfix_fmt(req, sizeof req, "%s/%s.req", s_root, ids[i]);
        s_enroll(ids[i], ids[i], req);
        REG("add", "--state", ids[i], "--request", req);
        if (s_run.code != 0)
            return -1;
    }
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
test_registry_cli_enrolled_member_verifies_and_opens(void **state)
{
    char pkg[ITEST_PATH_MAX], keys[ITEST_PATH_MAX], json[ITEST_PATH_MAX];

    (void)state;
    s_keys(keys, sizeof keys, "ARG");
    s_seal(pkg, sizeof pkg, "ARG", keys, "CHL,PER,hub", "first");
    s_verify(pkg);
    assert_int_equal(s_run.code, 0);
    assert_true(s_has(&s_run, "VALID, signed by ARG"));

    s_keys(keys, sizeof keys, "CHL");
    s_path(json, sizeof json, "first.json");
    s_csbm("open", pkg, "--keys", keys, "--registry", s_reg, "--root", s_cert,
           "-o", json, NULL);
    assert_int_equal(s_run.code, 0);

    /* The registry, as anyone checks it from the root alone. */
    s_csbm("registry", "verify", s_reg, "--root", s_cert, NULL);
    assert_int_equal(s_run.code, 0);
    assert_true(s_has(&s_run, "VALID"));
    assert_true(s_has(&s_run, "version 5"));
    assert_true(s_has(&s_run, "3 members"));
    s_csbm("registry", "list", "--registry", s_reg, "--root", s_cert, "--json",
           NULL);
    assert_int_equal(s_run.code, 0);
    assert_true(s_has(&s_run, "\"state\": \"PER\""));
    assert_true(s_has(&s_run, "\"status\": \"active\""));
    s_csbm("registry", "show", "--state", "ARG", "--registry", s_reg, "--root",
           s_cert, NULL);
    assert_int_equal(s_run.code, 0);
    assert_true(s_has(&s_run, "current"));

    /* A federation other than the root's is refused up front. */
    s_csbm("verify", "--registry", s_reg, "--root", s_cert, "--federation",
           "Another", pkg, NULL);
    assert_int_equal(s_run.code, 2);
    assert_true(s_has(&s_run, "not the federation of the root"));
    /* --registry without --root says what to add. */
    s_csbm("verify", "--registry", s_reg, pkg, NULL);
    assert_int_equal(s_run.code, 2);
    assert_true(s_has(&s_run, "--root CERT"));

    {
        /* Keep this version to try a roll-back later. */
        size_t len = 0;
        char  *buf = itest_read_file(s_reg, &len);
        FILE  *f = fopen(s_v_first, "wb");
        assert_non_null(buf);
        assert_non_null(f);
        assert_int_equal(fwrite(buf, 1, len, f), len);
        fclose(f);
        free(buf);
    }
}

static void
test_registry_cli_refuses_bad_enrollment_requests(void **state)
{
    char req[ITEST_PATH_MAX], garbage[ITEST_PATH_MAX];
    char missing[ITEST_PATH_MAX];

    (void)state;
    xfix_fmt(req, sizeof req, "%s/ARG.req", s_root);
    s_path(garbage, sizeof garbage, "garbage.req");
    s_path(missing, sizeof missing, "missing.req");
    assert_int_equal(itest_write_file(garbage, "not a request\n", 0644), 0);

    REG("add", "--state", "URY", "--request", req);
    assert_int_equal(s_run.code, 1);
    assert_true(s_has(&s_run, "request is for ARG but was expected for URY"));
    assert_true(s_has(&s_run, "csbm enroll --state URY"));

    REG("add", "--state", "URY", "--request", garbage);
    assert_int_equal(s_run.code, 1);
    assert_true(s_has(&s_run, "not a PEM certificate request"));

    REG("add", "--state", "URY", "--request", missing);
    assert_int_equal(s_run.code, 2);
    assert_true(s_has(&s_run, "cannot read the enrollment request"));

    REG("add", "--state", "Uruguay", "--request", req);
    assert_int_equal(s_run.code, 2);
    assert_true(s_has(&s_run, "not an identity"));

    /* A state already listed is refused: rotate gives it a new key. */
    REG("add", "--state", "ARG", "--request", req);
    assert_int_equal(s_run.code, 1);

    s_csbm("registry", "request", garbage, NULL);
    assert_int_equal(s_run.code, 1);
    s_csbm("registry", "request", req, "--state", "ARG", NULL);
    assert_int_equal(s_run.code, 0);
    assert_true(s_has(&s_run, "valid enrollment request of ARG"));
}

static void
test_registry_cli_revoked_key_refused_after_revocation_time(void **state)
{
    char before[ITEST_PATH_MAX], after[ITEST_PATH_MAX];
    char keys[ITEST_PATH_MAX], chl[ITEST_PATH_MAX];
    char key_id[64], at[64], needle[256];

    (void)state;
    s_keys(keys, sizeof keys, "ARG");
    s_keys(chl, sizeof chl, "CHL");
    s_seal(before, sizeof before, "ARG", keys, "CHL,hub", "arg-before");
    s_next_second();
    REG("revoke", "--state", "ARG", "--key", "current", "--reason",
        "key compromised", "--json");
    assert_int_equal(s_run.code, 0);
    s_json_str(s_run.out, "key_id", key_id, sizeof key_id);
    s_json_str(s_run.out, "revoked_at", at, sizeof at);
    xfix_fmt(needle, sizeof needle,
          "your signing key %s was revoked at %s (key compromised); make "
          "new keys and ask the operator to rotate",
          key_id, at);
    s_seal_refused(after, sizeof after, "ARG", keys, "CHL,hub", "arg-after",
                   needle);

    s_verify(before);
    assert_int_equal(s_run.code, 0);
    s_verify(after);
    assert_int_equal(s_run.code, 1);
    xfix_fmt(needle, sizeof needle,
          "ARG key %s was revoked at %s (key "
          "compromised)",
          key_id, at);
    assert_true(s_has(&s_run, needle));

    s_csbm("open", after, "--keys", chl, "--registry", s_reg, "--root", s_cert,
           NULL);
    assert_int_equal(s_run.code, 1);
    assert_true(s_has(&s_run, needle));

    /* Revoking it again is refused. */
    REG("revoke", "--state", "ARG", "--key", key_id, "--reason", "again");
    assert_int_equal(s_run.code, 1);
}

static void
test_registry_cli_rotation_keeps_old_packages(void **state)
{
    char old_pkg[ITEST_PATH_MAX], new_pkg[ITEST_PATH_MAX];
    char stale[ITEST_PATH_MAX], to_new[ITEST_PATH_MAX];
    char old_keys[ITEST_PATH_MAX], new_keys[ITEST_PATH_MAX];
    char per[ITEST_PATH_MAX], req[ITEST_PATH_MAX], json[ITEST_PATH_MAX];
    char new_id[64];

    (void)state;
    s_keys(old_keys, sizeof old_keys, "CHL");
    s_keys(new_keys, sizeof new_keys, "CHL-2026");
    s_keys(per, sizeof per, "PER");
    xfix_fmt(req, sizeof req, "%s/CHL-2026.req", s_root);
    s_seal(old_pkg, sizeof old_pkg, "CHL", old_keys, "PER", "chl-old");
    s_enroll("CHL", "CHL-2026", req);
    s_next_second();
    REG("rotate", "--state", "CHL", "--request", req, "--json");
    assert_int_equal(s_run.code, 0);
    s_json_str(s_run.out, "key_id", new_id, sizeof new_id);

    s_seal(new_pkg, sizeof new_pkg, "CHL", new_keys, "PER", "chl-new");
    s_seal_refused(stale, sizeof stale, "CHL", old_keys, "PER", "chl-stale",
                   "was retired at");
    s_verify(old_pkg);
    assert_int_equal(s_run.code, 0);
    s_verify(new_pkg);
    assert_int_equal(s_run.code, 0);
    assert_true(s_has(&s_run, new_id));
    s_verify(stale);
    assert_int_equal(s_run.code, 1);
    assert_true(s_has(&s_run, "was retired at"));
    assert_true(s_has(&s_run, "replaced by key"));

    /* Sealed to CHL now: only the new key opens it. */
    s_seal(to_new, sizeof to_new, "PER", per, "CHL", "to-chl-new");
    s_path(json, sizeof json, "to-chl-new.json");
    s_csbm("open", to_new, "--keys", new_keys, "--registry", s_reg, "--root",
           s_cert, "-o", json, NULL);
    assert_int_equal(s_run.code, 0);
    s_csbm("open", to_new, "--keys", old_keys, "--registry", s_reg, "--root",
           s_cert, "-o", json, NULL);
    assert_int_equal(s_run.code, 1);
}

static void
test_registry_cli_withdrawn_and_pending_refused(void **state)
{
    char before[ITEST_PATH_MAX], after[ITEST_PATH_MAX];
    char keys[ITEST_PATH_MAX], req[ITEST_PATH_MAX], pkg[ITEST_PATH_MAX];

    (void)state;
    s_keys(keys, sizeof keys, "PER");
    s_seal(before, sizeof before, "PER", keys, "hub", "per-before");
    s_next_second();
    s_csbm("registry", "status", "--state", "PER", "withdrawn", "--registry",
           s_reg, "--root", s_cert, "--keys", s_ca, NULL);
    assert_int_equal(s_run.code, 0);
    s_seal_refused(after, sizeof after, "PER", keys, "hub", "per-after",
                   "PER is withdrawn since");
    s_verify(before);
    assert_int_equal(s_run.code, 0);
    s_verify(after);
    assert_int_equal(s_run.code, 1);
    assert_true(s_has(&s_run, "PER is withdrawn since"));

    /* A key certified from tomorrow cannot sign today. */
    xfix_fmt(req, sizeof req, "%s/URY.req", s_root);
    s_enroll("URY", "URY", req);
    {
        char      from[32];
        time_t    t = time(NULL) + 86400;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(from, sizeof from, "%Y-%m-%dT%H:%M:%SZ", &tm);
        REG("add", "--state", "URY", "--request", req, "--from", from, "--days",
            "7");
        assert_int_equal(s_run.code, 0);
    }
    s_keys(keys, sizeof keys, "URY");
    s_seal_refused(pkg, sizeof pkg, "URY", keys, "hub", "ury-early",
                   "is valid only from");
    s_verify(pkg);
    assert_int_equal(s_run.code, 1);
    assert_true(s_has(&s_run, "is valid only from"));

    /* Bad times are usage errors. */
    REG("status", "--state", "PER", "active", "--since", "yesterday");
    assert_int_equal(s_run.code, 2);
    assert_true(s_has(&s_run, "RFC 3339"));
}

static void
test_registry_cli_refuses_tampered_and_rolled_back(void **state)
{
    char   flipped[ITEST_PATH_MAX], pkg[ITEST_PATH_MAX];
    char   st[ITEST_PATH_MAX];
    size_t len = 0;
    char  *buf;
    FILE  *f;

    (void)state;
    s_path(flipped, sizeof flipped, "registry-flipped.bin");
    buf = itest_read_file(s_reg, &len);
    assert_non_null(buf);
    assert_true(len > 100);
    buf[len / 2] ^= 0x01;
    f = fopen(flipped, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
    free(buf);

    s_csbm("registry", "verify", flipped, "--root", s_cert, NULL);
    assert_int_equal(s_run.code, 1);
    assert_true(s_has(&s_run, "NOT VALID"));
    xfix_fmt(pkg, sizeof pkg, "%s/first.csbm", s_root);
    s_csbm("verify", "--registry", flipped, "--root", s_cert, pkg, NULL);
    assert_int_equal(s_run.code, 1);

    /* The early version alone is genuine... */
    s_csbm("registry", "verify", s_v_first, "--root", s_cert, NULL);
    assert_int_equal(s_run.code, 0);
    /* ...but not after a newer one was seen. */
    s_path(st, sizeof st, "auditor.state");
    s_csbm("registry", "verify", s_v_first, "--root", s_cert,
           "--registry-state", st, NULL);
    assert_int_equal(s_run.code, 1);
    assert_true(s_has(&s_run, "refusing to roll back"));
    s_verify(pkg); /* s_verify's state file is auditor.state too */
    assert_int_equal(s_run.code, 0);
    s_csbm("verify", "--registry", s_v_first, "--root", s_cert,
           "--registry-state", st, pkg, NULL);
    assert_int_equal(s_run.code, 1);
    assert_true(s_has(&s_run, "refusing to roll back"));
}

static void
test_registry_cli_hub_refuses_revoked_transport_key(void **state)
{
    char  ini[ITEST_PATH_MAX], data[ITEST_PATH_MAX], text[2048];
    char  ep[64], log[ITEST_PATH_MAX], out[ITEST_PATH_MAX];
    char  keys[ITEST_PATH_MAX], json[ITEST_PATH_MAX], db[ITEST_PATH_MAX];
    char  mini[ITEST_PATH_MAX], mdata[ITEST_PATH_MAX];
    char  plain[ITEST_PATH_MAX];
    int   port = itest_free_port();
    pid_t hub;

    (void)state;
    assert_true(port > 0);
    itest_endpoint(port, ep, sizeof ep);
    s_path(data, sizeof data, "hub-data");
    assert_int_equal(mkdir(data, 0700), 0);
    s_path(ini, sizeof ini, "hub.ini");
    s_keys(keys, sizeof keys, "hub");
    xfix_fmt(text, sizeof text,
          "[federation]\nname = %s\nroot_cert = %s\n"
          "[node]\nid = hub\nkey_dir = %s\ndata_dir = %s\nregistry = %s\n"
          "[hub]\nbind = %s\n",
          FED, s_cert, keys, data, s_reg, ep);
    assert_int_equal(itest_write_file(ini, text, 0644), 0);
    s_path(log, sizeof log, "hub.log");
    s_path(out, sizeof out, "hub.out");
    {
        const char *argv[] = {itest_csbm(),  "hub",   "--config", ini,
                              "--log-level", "debug", NULL};
        hub = itest_start_listener(argv, NULL, out, log, &port, 1, 60000);
        assert_true(hub > 0);
    }

    /* CHL, with its new key and a member configuration file: admitted. */
    s_path(mdata, sizeof mdata, "chl-data");
    assert_int_equal(mkdir(mdata, 0700), 0);
    s_path(mini, sizeof mini, "chl.ini");
    s_keys(keys, sizeof keys, "CHL-2026");
    xfix_fmt(text, sizeof text,
          "[federation]\nname = %s\nroot_cert = %s\n"
          "[node]\nid = CHL\nkey_dir = %s\ndata_dir = %s\nregistry = %s\n"
          "[member]\nhub_endpoint = %s\n",
          FED, s_cert, keys, mdata, s_reg, ep);
    assert_int_equal(itest_write_file(mini, text, 0644), 0);
    s_milex(json, sizeof json, "CHL", "pushed");
    s_csbm("push", json, "--to", "hub", "--config", mini, "--timeout-ms",
           "5000", NULL);
    assert_int_equal(s_run.code, 0);
    assert_true(s_has(&s_run, "delivered"));

    /* ARG, whose key (and so its transport key) is revoked: with the
     * registry it does not even queue the package; with a keyring that
     * does not know of the revocation it tries, and is refused at the
     * handshake, so its push times out. */
    s_keys(keys, sizeof keys, "ARG");
    s_path(db, sizeof db, "arg.db");
    s_milex(json, sizeof json, "ARG", "pushed");
    s_csbm("push", json, "--to", "hub", "--keys", keys, "--data", db,
           "--registry", s_reg, "--root", s_cert, "--hub", ep, "--timeout-ms",
           "1500", NULL);
    assert_int_not_equal(s_run.code, 0);
    assert_true(s_has(&s_run, "your signing key"));
    assert_false(s_has(&s_run, "delivered"));
    s_plain_keyring(plain, sizeof plain, "ARG", keys, "hub", "arg-push");
    s_csbm("push", json, "--to", "hub", "--keys", keys, "--data", db,
           "--keyring", plain, "--federation", FED, "--hub", ep,
           "--timeout-ms", "1500", NULL);
    assert_int_not_equal(s_run.code, 0);
    assert_false(s_has(&s_run, "delivered"));
    assert_true(itest_file_contains(log, "refused handshake", 5000));
    assert_int_equal(itest_stop(hub, SIGTERM, 20000), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_cli_enrolled_member_verifies_and_opens),
        cmocka_unit_test(test_registry_cli_refuses_bad_enrollment_requests),
        cmocka_unit_test(
            test_registry_cli_revoked_key_refused_after_revocation_time),
        cmocka_unit_test(test_registry_cli_rotation_keeps_old_packages),
        cmocka_unit_test(test_registry_cli_withdrawn_and_pending_refused),
        cmocka_unit_test(test_registry_cli_refuses_tampered_and_rolled_back),
        cmocka_unit_test(test_registry_cli_hub_refuses_revoked_transport_key),
    };

    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
