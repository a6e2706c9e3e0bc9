/*
 * it_audit: the tamper-evident log end to end — real `csbm hub` and member
 * processes on loopback, real stores.
 *
 * Stories: a receipt exported from the outbox verifies offline with the
 * hub's public key and the package, and every mutation of its inclusion
 * proof is refused; `csbm audit verify` finds an intact archive intact and
 * locates a changed envelope byte, a deleted row and swapped rows; a log
 * truncated behind the hub's back and continued with a new package is
 * caught by the audit and by a node through the consistency proof.
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

#include "crypto/fileio.h"
#include "crypto/keys.h"
#include "crypto/receipt.h"
#include "tests/support/itest.h"
#include "tests/support/xfix.h"

static const char *const s_ids[] = {"ARG", "CHL", "hub"};

static int
s_group_setup(void **state)
{
    (void)state;
    return xfix_group_setup("audit", s_ids, sizeof s_ids / sizeof s_ids[0]);
}

static int
s_group_teardown(void **state)
{
    (void)state;
    xfix_group_teardown();
    return 0;
}

static int
s_setup(void **state)
{
    (void)state;
    xfix_case_setup();
    xfix_hub_start();
    return 0;
}

static int
s_teardown(void **state)
{
    (void)state;
    itest_kill_all();
    return 0;
}

/* ARG pushes n packages to CHL; CHL pulls them (verifying the log). */
static void
s_populate(int n)
{
    xfix_run_t *r = &xfix_run;
    char        pkg[ITEST_PATH_MAX];
    int         i;

    for (i = 0; i < n; i++) {
        xfix_milex(pkg, sizeof pkg, "ARG", 1000 + i);
        xfix_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
        assert_int_equal(r->code, 0);
    }
    xfix_csbm(r, "CHL", "pull", NULL);
    assert_int_equal(r->code, 0);
}

static void
s_hub_db(char *out, size_t cap)
{
    xfix_fmt(out, cap, "%s/hub.db", xfix_case);
}

static void
s_hub_stop(void)
{
    assert_int_equal(itest_stop(xfix_hub_pid, SIGTERM, 10000), 0);
}

/* csbm audit verify on this case's archive. */
static void
s_audit(xfix_run_t *r)
{
    char db[ITEST_PATH_MAX];

    s_hub_db(db, sizeof db);
    xfix_csbm(r, "hub", "audit", "verify", "--data", db, "--quiet", NULL);
}

/* ------------------------------------------------------------- tests --- */

static void
test_audit_receipt_verifies_offline(void **state)
{
    xfix_run_t *r = &xfix_run;
    char        hex[33], rcpt[ITEST_PATH_MAX], pkg[ITEST_PATH_MAX];
    char        pub[ITEST_PATH_MAX], bad[ITEST_PATH_MAX];
    uint8_t    *buf = NULL, *env = NULL;
    size_t      len = 0, env_len = 0, i;
    errbuf_t    err = {{0}};
    keys_public_t   hub;
    receipt_proof_t rp;
    Csbm__ReceiptFile *f;

    (void)state;
    s_populate(3);
    xfix_outbox_id("ARG", 2, hex);
    xfix_fmt(rcpt, sizeof rcpt, "%s/receipt.bin", xfix_case);
    xfix_fmt(pkg, sizeof pkg, "%s/pkg.csbm", xfix_case);
    xfix_fmt(pub, sizeof pub, "%s/keyring/hub.pub", xfix_root);
    xfix_csbm(r, "ARG", "outbox", "--export-receipt", hex, "-o", rcpt, NULL);
    assert_int_equal(r->code, 0);
    xfix_csbm(r, "CHL", "inbox", "--export", hex, "-o", pkg, NULL);
    assert_int_equal(r->code, 0);
    {
        const char *argv[] = {itest_csbm(), "verify-receipt", rcpt,
            "--hub-key", pub, "--package", pkg, NULL};
        xfix_exec(r, argv);
        assert_int_equal(r->code, 0);
        assert_non_null(strstr(r->out, "receipt valid"));
        assert_non_null(strstr(r->out, "is the package receipted"));
    }
    /* The sender gets the same file with --receipt and the id's first
     * digits, and its own copy of the package with --export. */
    {
        char  prefix[9], rcpt2[ITEST_PATH_MAX], mine[ITEST_PATH_MAX];
        char *a, *b;
        size_t alen = 0, blen = 0;
        const char *argv[] = {itest_csbm(), "verify-receipt", rcpt2,
            "--hub-key", pub, "--package", mine, NULL};

        snprintf(prefix, sizeof prefix, "%.8s", hex);
        xfix_fmt(rcpt2, sizeof rcpt2, "%s/receipt2.bin", xfix_case);
        xfix_fmt(mine, sizeof mine, "%s/mine.csbm", xfix_case);
        xfix_csbm(r, "ARG", "outbox", "--receipt", prefix, "-o", rcpt2, NULL);
        assert_int_equal(r->code, 0);
        a = itest_read_file(rcpt, &alen);
        b = itest_read_file(rcpt2, &blen);
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(alen, blen);
        assert_memory_equal(a, b, alen);
        free(a);
        free(b);
        xfix_csbm(r, "ARG", "outbox", "--export", prefix, "-o", mine, NULL);
        assert_int_equal(r->code, 0);
        xfix_exec(r, argv);
        assert_int_equal(r->code, 0);
        assert_non_null(strstr(r->out, "is the package receipted"));
        xfix_csbm(r, "ARG", "outbox", "--receipt", prefix, NULL);
        assert_int_equal(r->code, 2);
        assert_non_null(strstr(r->err, "say where to write it with -o"));
        xfix_csbm(r, "ARG", "outbox", "--receipt", "12", "-o", rcpt2, NULL);
        assert_int_equal(r->code, 2);
        assert_non_null(strstr(r->err, "at least its first 6 hex digits"));
    }
    /* Another package is not the one receipted. */
    {
        char other[33], opkg[ITEST_PATH_MAX];
        const char *argv[] = {itest_csbm(), "verify-receipt", rcpt,
            "--hub-key", pub, "--package", opkg, "--json", NULL};
        xfix_outbox_id("ARG", 1, other);
        xfix_fmt(opkg, sizeof opkg, "%s/other.csbm", xfix_case);
        xfix_csbm(r, "CHL", "inbox", "--export", other, "-o", opkg, NULL);
        assert_int_equal(r->code, 0);
        xfix_exec(r, argv);
        assert_int_equal(r->code, 1);
        assert_non_null(strstr(r->out, "\"valid\": false"));
    }

    /* Every mutation of the inclusion proof is refused. */
    assert_int_equal(keys_public_load(pub, &hub, &err), 0);
    assert_int_equal(fileio_read(rcpt, RECEIPT_FILE_MAX, &buf, &len, &err),
        0);
    assert_int_equal(fileio_read(pkg, 1 << 24, &env, &env_len, &err), 0);
    assert_int_equal(receipt_file_verify(buf, len, hub.sign_pk, env, env_len,
        &rp, &err), 0);
    receipt_proof_clear(&rp);
    f = csbm__receipt_file__unpack(NULL, len, buf);
    assert_non_null(f);
    assert_non_null(f->inclusion);
    assert_true(f->inclusion->path.len >= 32);
    {
        uint8_t *packed = malloc(len + 256);
        size_t   plen, bit;
        uint64_t idx = f->inclusion->leaf_index;
        uint8_t *path = f->inclusion->path.data;
        size_t   path_len = f->inclusion->path.len;
        uint8_t  extra[64 * 32 + 32];

        assert_non_null(packed);
        /* Every flipped bit of the path. */
        for (bit = 0; bit < path_len * 8; bit++) {
            path[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            plen = csbm__receipt_file__pack(f, packed);
            assert_int_not_equal(receipt_file_verify(packed, plen,
                hub.sign_pk, NULL, 0, &rp, &err), 0);
            path[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        /* A wrong index. */
        for (i = 0; i < 4; i++) {
            f->inclusion->leaf_index = idx + 1 + i;
            plen = csbm__receipt_file__pack(f, packed);
            assert_int_not_equal(receipt_file_verify(packed, plen,
                hub.sign_pk, NULL, 0, &rp, &err), 0);
            if (idx > i) {
                f->inclusion->leaf_index = idx - 1 - i;
                plen = csbm__receipt_file__pack(f, packed);
                assert_int_not_equal(receipt_file_verify(packed, plen,
                    hub.sign_pk, NULL, 0, &rp, &err), 0);
            }
        }
        f->inclusion->leaf_index = idx;
        /* A missing hash, and every truncation. */
        for (i = 0; i < path_len; i++) {
            f->inclusion->path.len = i;
            plen = csbm__receipt_file__pack(f, packed);
            assert_int_not_equal(receipt_file_verify(packed, plen,
                hub.sign_pk, NULL, 0, &rp, &err), 0);
        }
        /* An extra hash, first or last. */
        memcpy(extra, path, path_len);
        memset(extra + path_len, 0x5a, 32);
        f->inclusion->path.data = extra;
        f->inclusion->path.len = path_len + 32;
        plen = csbm__receipt_file__pack(f, packed);
        assert_int_not_equal(receipt_file_verify(packed, plen, hub.sign_pk,
            NULL, 0, &rp, &err), 0);
        memcpy(extra + 32, path, path_len);
        memcpy(extra, path, 32);
        plen = csbm__receipt_file__pack(f, packed);
        assert_int_not_equal(receipt_file_verify(packed, plen, hub.sign_pk,
            NULL, 0, &rp, &err), 0);
        f->inclusion->path.data = path;
        f->inclusion->path.len = path_len;
        /* A wrong tree size: the head's bytes no longer carry the hub's
         * signature. Bytes 9 + origin length .. are the size. */
        {
            Csbm__Signed *h = f->inclusion->tree_head;
            size_t        off = 9 + h->statement.data[8] + 7;
            h->statement.data[off] ^= 1;
            plen = csbm__receipt_file__pack(f, packed);
            assert_int_not_equal(receipt_file_verify(packed, plen,
                hub.sign_pk, NULL, 0, &rp, &err), 0);
            h->statement.data[off] ^= 1;
        }
        /* Untouched, it still verifies; and through the command a flipped
         * bit is refused with exit 1. */
        plen = csbm__receipt_file__pack(f, packed);
        assert_int_equal(receipt_file_verify(packed, plen, hub.sign_pk, NULL,
            0, &rp, &err), 0);
        receipt_proof_clear(&rp);
        path[0] ^= 0x80;
        plen = csbm__receipt_file__pack(f, packed);
        xfix_fmt(bad, sizeof bad, "%s/bad-receipt.bin", xfix_case);
        assert_int_equal(fileio_write(bad, packed, plen, 0644, 0, &err), 0);
        free(packed);
        {
            const char *argv[] = {itest_csbm(), "verify-receipt", bad,
                "--hub-key", pub, NULL};
            xfix_exec(r, argv);
            assert_int_equal(r->code, 1);
            assert_non_null(strstr(r->err, "NOT VALID"));
        }
    }
    csbm__receipt_file__free_unpacked(f, NULL);
    free(buf);
    free(env);
}

static void
test_audit_intact_archive_is_intact(void **state)
{
    xfix_run_t *r = &xfix_run;

    (void)state;
    s_populate(3);
    s_hub_stop();
    s_audit(r);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "INTACT"));
    assert_non_null(strstr(r->out, "3 packages"));
}

static void
test_audit_finds_a_changed_envelope_byte(void **state)
{
    xfix_run_t *r = &xfix_run;
    char        db[ITEST_PATH_MAX];

    (void)state;
    s_populate(3);
    s_hub_stop();
    s_hub_db(db, sizeof db);
    xfix_sql_exec(db, "UPDATE archive SET envelope = substr(envelope, 1, 200) "
        "|| CASE WHEN substr(envelope, 201, 1) = x'00' THEN x'01' ELSE x'00' "
        "END || substr(envelope, 202) WHERE position = 2");
    s_audit(r);
    assert_int_equal(r->code, 1);
    assert_non_null(strstr(r->out, "position 2: the envelope's SHA-256"));
    assert_non_null(strstr(r->out, "PROBLEMS FOUND"));
    assert_null(strstr(r->out, "position 1:"));
}

static void
test_audit_finds_a_deleted_row(void **state)
{
    xfix_run_t *r = &xfix_run;
    char        db[ITEST_PATH_MAX];

    (void)state;
    s_populate(3);
    s_hub_stop();
    s_hub_db(db, sizeof db);
    xfix_sql_exec(db, "DELETE FROM recipients WHERE position = 2; "
        "DELETE FROM archive WHERE position = 2");
    s_audit(r);
    assert_int_equal(r->code, 1);
    assert_non_null(strstr(r->out, "position 2: the package at position 2 is "
        "missing"));
    assert_non_null(strstr(r->out, "positions jump from 1 to 3"));
}

static void
test_audit_finds_swapped_rows(void **state)
{
    xfix_run_t *r = &xfix_run;
    char        db[ITEST_PATH_MAX];

    (void)state;
    s_populate(3);
    s_hub_stop();
    s_hub_db(db, sizeof db);
    /* Swap the contents of positions 1 and 2 (ids and sequences move with
     * them), so each row is self-consistent but out of order. */
    xfix_sql_exec(db, "PRAGMA foreign_keys = OFF; "
        "UPDATE archive SET position = -1 WHERE position = 1; "
        "UPDATE archive SET position = 1 WHERE position = 2; "
        "UPDATE archive SET position = 2 WHERE position = -1");
    s_audit(r);
    assert_int_equal(r->code, 1);
    assert_non_null(strstr(r->out, "position 1: "));
    assert_non_null(strstr(r->out, "position 2: "));
}

static void
test_audit_truncated_log_is_caught_by_audit_and_node(void **state)
{
    xfix_run_t *r = &xfix_run;
    char        db[ITEST_PATH_MAX], sql[1024], pkg[ITEST_PATH_MAX];
    int64_t     k;

    (void)state;
    s_populate(3);
    s_hub_stop();
    s_hub_db(db, sizeof db);
    /* Roll the log back to before position 3, consistently enough for the
     * hub to start on it, as an operator rewriting history would. */
    k = xfix_sql_int(db, "SELECT log_index FROM archive WHERE position = 3",
        NULL);
    assert_true(k > 0);
    xfix_fmt(sql, sizeof sql, "DELETE FROM recipients WHERE position = 3; "
        "DELETE FROM archive WHERE position = 3; "
        "DELETE FROM log WHERE idx >= %lld; "
        "DELETE FROM log_node WHERE ((idx + 1) << level) > %lld; "
        "DELETE FROM heads WHERE size > %lld; "
        "DELETE FROM cosignatures WHERE size > %lld", (long long)k,
        (long long)k, (long long)k, (long long)k);
    xfix_sql_exec(db, sql);
    xfix_hub_start();
    xfix_milex(pkg, sizeof pkg, "ARG", 77);
    /* The sender verified the longer log with its receipts: the hub's
     * receipt now comes in a head that contradicts it, so the package is
     * not taken as delivered. */
    xfix_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
    assert_int_not_equal(r->code, 0);
    assert_non_null(strstr(r->err, "NOT CONSISTENT"));
    assert_int_equal(xfix_node_int("ARG", "SELECT count(*) FROM outbox "
        "WHERE status = 'pending'", NULL), 1);

    /* The node that verified the longer log refuses the rewritten one. */
    xfix_csbm(r, "CHL", "pull", NULL);
    assert_int_not_equal(r->code, 0);
    assert_non_null(strstr(r->err, "NOT CONSISTENT"));
    assert_int_equal(xfix_node_int("CHL", "SELECT count(*) FROM log_evidence "
        "WHERE old_head IS NOT NULL AND new_head IS NOT NULL", NULL), 1);
    {
        char node_db[ITEST_PATH_MAX];
        xfix_db(node_db, sizeof node_db, "CHL");
        xfix_csbm(r, "CHL", "log", "--data", node_db, NULL);
        assert_int_equal(r->code, 1);
        assert_non_null(strstr(r->out, "EVIDENCE 1"));
        assert_non_null(strstr(r->out, "NOT CONSISTENT"));
    }
    /* And it keeps refusing on the next contact. */
    xfix_csbm(r, "CHL", "pull", NULL);
    assert_int_not_equal(r->code, 0);

    s_hub_stop();
    s_audit(r);
    assert_int_equal(r->code, 1);
    assert_non_null(strstr(r->out, "positions jump from 2 to 4"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_audit_receipt_verifies_offline,
            s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_audit_intact_archive_is_intact,
            s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_audit_finds_a_changed_envelope_byte, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_audit_finds_a_deleted_row,
            s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_audit_finds_swapped_rows,
            s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_audit_truncated_log_is_caught_by_audit_and_node, s_setup,
            s_teardown),
    };

    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
