/*
 * test_syncer: the hub's flush thread over an archive opened with
 * ARCHIVE_OPEN_DEFERRED_SYNC — commits answered once flushed, flush
 * numbers in order, a checkpoint that leaves the data readable by another
 * connection, and a flush that fails: reported with the file it could not
 * flush, and every later wait failing too (a failed fdatasync proves
 * nothing about what came before it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/archive.h"
#include "node/syncer.h"
#include "tests/support/itest.h"

#define FED "TEST-FED"

static char s_dir[ITEST_PATH_MAX];
static char s_path[ITEST_PATH_MAX + 32];

static int
s_setup(void **state)
{
    static int n;

    (void)state;
    if (s_dir[0] == '\0' && itest_tmpdir("syncer", s_dir, sizeof s_dir) != 0)
        return -1;
    snprintf(s_path, sizeof s_path, "%s/a%d.db", s_dir, ++n);
    return 0;
}

static int
s_group_teardown(void **state)
{
    (void)state;
    itest_rmtree(s_dir);
    return 0;
}

/* Append package `tag` (sequence tag of ARG, to CHL) in its own batch. */
static void
s_commit_one(archive_t *a, uint8_t tag)
{
    static const char *const rcpts[] = {"CHL"};
    archive_entry_t          e;
    uint8_t                  env[200], receipt[16];
    uint64_t                 pos = 0;
    errbuf_t                 err = {{0}};

    memset(env, tag, sizeof env);
    memset(receipt, tag, sizeof receipt);
    memset(&e, 0, sizeof e);
    memset(e.package_id, tag, sizeof e.package_id);
    e.sender = "ARG";
    e.sequence = tag;
    e.package_type = 1;
    e.year = 2025;
    e.created_at = 1767225600;
    e.accepted_at = 1767225601;
    e.envelope = env;
    e.envelope_len = sizeof env;
    memset(e.envelope_hash, tag ^ 0xff, sizeof e.envelope_hash);
    e.recipients = rcpts;
    e.n_recipients = 1;
    e.receipt = receipt;
    e.receipt_len = sizeof receipt;
    assert_int_equal(archive_begin(a, &err), 0);
    if (archive_append(a, &e, &pos, &err) != 0)
        fail_msg("append: %s", err.msg);
    assert_int_equal(archive_commit(a, &err), 0);
}

static int64_t
s_count_elsewhere(void)
{
    sqlite3      *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t       n = -1;

    assert_int_equal(sqlite3_open_v2(s_path, &db, SQLITE_OPEN_READONLY, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM archive",
                         -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void
test_syncer_flushes_in_order(void **state)
{
    errbuf_t   err = {{0}};
    archive_t *a = archive_open_flags(s_path, FED, ARCHIVE_OPEN_DEFERRED_SYNC,
        &err);
    syncer_t  *s;
    uint64_t   n1, n2, n3;
    int        i;

    (void)state;
    if (a == NULL)
        fail_msg("open: %s", err.msg);
    s = syncer_new(a, &err);
    assert_non_null(s);
    assert_int_equal(syncer_last(s), 0);
    assert_int_equal(syncer_wait(s, 0, &err), 0);
    s_commit_one(a, 1);
    n1 = syncer_request(s);
    s_commit_one(a, 2);
    n2 = syncer_request(s);
    assert_true(n2 > n1);
    assert_int_equal(syncer_last(s), n2);
    /* Waiting for the newer covers the older. */
    assert_int_equal(syncer_wait(s, n2, &err), 0);
    assert_int_equal(syncer_wait(s, n1, &err), 0);
    /* Many flushes: the checkpoints they run leave everything readable. */
    for (i = 3; i < 39; i++) {
        s_commit_one(a, (uint8_t)i);
        n3 = syncer_request(s);
        assert_int_equal(syncer_wait(s, n3, &err), 0);
    }
    assert_int_equal(s_count_elsewhere(), 38);
    /* Idle: the caller flushes on its own thread, numbered like the rest. */
    s_commit_one(a, 39);
    n3 = syncer_last(s);
    assert_int_equal(syncer_flush_here(s, &err), 0);
    assert_int_equal(syncer_last(s), n3 + 1);
    assert_int_equal(syncer_wait(s, n3 + 1, &err), 0);
    /* Stopping with a flush asked for finishes it. */
    s_commit_one(a, 40);
    (void)syncer_request(s);
    syncer_destroy(&s);
    assert_null(s);
    syncer_destroy(&s); /* twice: harmless */
    archive_destroy(&a);
    a = archive_open(s_path, FED, &err);
    assert_non_null(a);
    assert_int_equal(archive_count(a), 40);
    archive_destroy(&a);
}

static void
test_syncer_failed_flush_is_final(void **state)
{
    errbuf_t   err = {{0}};
    archive_t *a = archive_open_flags(s_path, FED, ARCHIVE_OPEN_DEFERRED_SYNC,
        &err);
    syncer_t  *s;
    char       wal[ITEST_PATH_MAX + 40];
    uint64_t   n;

    (void)state;
    assert_non_null(a);
    s = syncer_new(a, &err);
    assert_non_null(s);
    s_commit_one(a, 1);
    assert_int_equal(syncer_wait(s, syncer_request(s), &err), 0);
    /* The write-ahead log disappears under the hub (a damaged disk, an
     * operator's mistake): the flush cannot be made and says which file. */
    snprintf(wal, sizeof wal, "%s-wal", s_path);
    assert_int_equal(unlink(wal), 0);
    n = syncer_request(s);
    assert_int_equal(syncer_wait(s, n, &err), -1);
    assert_non_null(strstr(err.msg, "-wal"));
    /* Final: a later flush that might succeed proves nothing, on the
     * thread or here. */
    memset(&err, 0, sizeof err);
    assert_int_equal(syncer_wait(s, syncer_request(s), &err), -1);
    assert_non_null(strstr(err.msg, "flush"));
    memset(&err, 0, sizeof err);
    assert_int_equal(syncer_flush_here(s, &err), -1);
    assert_non_null(strstr(err.msg, "-wal"));
    syncer_destroy(&s);
    archive_destroy(&a);
}

static long long
s_file_size(const char *path)
{
    FILE     *f = fopen(path, "rb");
    long long n = -1;

    if (f != NULL && fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    if (f != NULL)
        fclose(f);
    return n;
}

/* Regression: the checkpoints the flush thread runs copy the log into
 * the database file (a connection that had not opened the log checkpointed
 * nothing, and the log grew without bound), and between batches the
 * writer lets the log start over past 32 MiB. */
static void
test_syncer_keeps_the_log_bounded(void **state)
{
    static const char *const rcpts[] = {"CHL"};
    errbuf_t   err = {{0}};
    archive_t *a = archive_open_flags(s_path, FED, ARCHIVE_OPEN_DEFERRED_SYNC,
        &err);
    syncer_t  *s;
    char       wal[ITEST_PATH_MAX + 40];
    uint8_t   *env = calloc(1, 16384), receipt[16] = {0};
    long long  wal_max = 0, db_before;
    int        b, k;

    (void)state;
    assert_non_null(a);
    assert_non_null(env);
    s = syncer_new(a, &err);
    assert_non_null(s);
    snprintf(wal, sizeof wal, "%s-wal", s_path);
    db_before = s_file_size(s_path);
    /* 80 MiB of envelopes in batches of 40, each flushed. */
    for (b = 0; b < 128; b++) {
        assert_int_equal(archive_begin(a, &err), 0);
        for (k = 0; k < 40; k++) {
            archive_entry_t e;
            uint64_t        pos, seq = (uint64_t)b * 40 + (uint64_t)k + 1;
            memset(&e, 0, sizeof e);
            memcpy(e.package_id, &seq, sizeof seq);
            e.package_id[15] = 0x5a;
            e.sender = "ARG";
            e.sequence = seq;
            e.package_type = 1;
            e.year = 2025;
            e.created_at = 1767225600;
            e.accepted_at = 1767225601;
            memcpy(env, &seq, sizeof seq);
            e.envelope = env;
            e.envelope_len = 16384;
            e.recipients = rcpts;
            e.n_recipients = 1;
            e.receipt = receipt;
            e.receipt_len = sizeof receipt;
            if (archive_append(a, &e, &pos, &err) != 0)
                fail_msg("append: %s", err.msg);
        }
        assert_int_equal(archive_commit(a, &err), 0);
        assert_int_equal(syncer_wait(s, syncer_request(s), &err), 0);
        archive_log_restart(a);
        if (s_file_size(wal) > wal_max)
            wal_max = s_file_size(wal);
    }
    syncer_destroy(&s);
    /* The database file got the data; the log stayed near its bound. */
    assert_true(s_file_size(s_path) > db_before + 40LL * 1024 * 1024);
    assert_true(wal_max < 48LL * 1024 * 1024);
    assert_int_equal(s_count_elsewhere(), 128 * 40);
    archive_destroy(&a);
    free(env);
}

static void
test_archive_sync_without_deferred_is_a_no_op(void **state)
{
    errbuf_t   err = {{0}};
    archive_t *a = archive_open(s_path, FED, &err);

    (void)state;
    assert_non_null(a);
    s_commit_one(a, 1);
    assert_int_equal(archive_sync(a, &err), 0);
    archive_checkpoint(a);
    assert_int_equal(s_count_elsewhere(), 1);
    archive_destroy(&a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_syncer_flushes_in_order, s_setup),
        cmocka_unit_test_setup(test_syncer_failed_flush_is_final, s_setup),
        cmocka_unit_test_setup(test_syncer_keeps_the_log_bounded, s_setup),
        cmocka_unit_test_setup(test_archive_sync_without_deferred_is_a_no_op,
            s_setup),
    };

    return cmocka_run_group_tests(tests, NULL, s_group_teardown);
}
