/*
 * test_archive: the hub's store — batches that commit or roll back,
 * positions, the uniqueness of package ids and of (sender, sequence),
 * lookups, paging by recipient with item and byte bounds, audit events,
 * reopening, and refusing an archive of another federation or a damaged
 * schema version; the tamper-evident log: a leaf per package and per pull,
 * proofs from the stored subtree nodes equal to the library's from the
 * leaves, a rolled-back batch leaving the tree as it was, the frontier
 * rebuilt at reopening, and a version 1 archive refused.
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
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/merkle.h"
#include "crypto/treehead.h"
#include "node/archive.h"
#include "tests/support/itest.h"

#define FED "TEST-FED"

static char s_dir[ITEST_PATH_MAX];
static char s_path[ITEST_PATH_MAX + 32];

static int
s_setup(void **state)
{
    static int n;

    (void)state;
    if (s_dir[0] == '\0' && itest_tmpdir("archive", s_dir, sizeof s_dir) != 0)
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

/* An entry with id byte `tag`, sequence seq from sender, to recipients. */
static void
s_entry(archive_entry_t *e, uint8_t tag, const char *sender, uint64_t seq,
    const char *const *rcpts, size_t n, const uint8_t *env, size_t env_len)
{
    memset(e, 0, sizeof *e);
    memset(e->package_id, tag, sizeof e->package_id);
    e->sender = sender;
    e->sequence = seq;
    e->package_type = 1;
    e->year = 2025;
    e->created_at = 1767225600;
    e->accepted_at = 1767225601;
    e->envelope = env;
    e->envelope_len = env_len;
    memset(e->envelope_hash, tag ^ 0xff, sizeof e->envelope_hash);
    e->recipients = rcpts;
    e->n_recipients = n;
}

static uint64_t
s_append(archive_t *a, uint8_t tag, const char *sender, uint64_t seq,
    const char *const *rcpts, size_t n)
{
    archive_entry_t e;
    uint64_t        pos = 0;
    errbuf_t        err = {{0}};
    uint8_t         env[64], receipt[8];

    memset(env, tag, sizeof env);
    memset(receipt, tag, sizeof receipt);
    s_entry(&e, tag, sender, seq, rcpts, n, env, sizeof env);
    e.receipt = receipt;
    e.receipt_len = sizeof receipt;
    memset(e.receipt_hash, tag ^ 0x55, sizeof e.receipt_hash);
    if (archive_append(a, &e, &pos, &err) != 0)
        fail_msg("append: %s", err.msg);
    return pos;
}

static archive_t *
s_open(void)
{
    errbuf_t   err = {{0}};
    archive_t *a = archive_open(s_path, FED, &err);

    if (a == NULL)
        fail_msg("open: %s", err.msg);
    return a;
}

static const char *const s_chl_per[] = {"CHL", "PER"};
static const char *const s_chl[] = {"CHL"};
static const char *const s_per[] = {"PER"};

/* -------------------------------------------------------------- tests --- */

static void
test_archive_append_commit_and_positions(void **state)
{
    archive_t       *a = s_open();
    archive_record_t rec;
    errbuf_t         err = {{0}};
    struct stat      st;

    (void)state;
    assert_int_equal(stat(s_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(archive_count(a), 0);
    assert_int_equal(archive_begin(a, &err), 0);
    assert_true(archive_in_batch(a));
    assert_int_equal(s_append(a, 1, "ARG", 1, s_chl_per, 2), 1);
    assert_int_equal(s_append(a, 2, "ARG", 2, s_chl, 1), 2);
    /* Reads in the batch see the batch. */
    assert_int_equal(archive_count(a), 2);
    assert_int_equal(archive_find_by_id(a, (const uint8_t[16]){2, 2, 2, 2, 2,
                         2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}, &rec, &err), 1);
    assert_int_equal(rec.position, 2);
    free(rec.receipt);
    assert_int_equal(archive_commit(a, &err), 0);
    assert_false(archive_in_batch(a));
    assert_int_equal(archive_count(a), 2);
    archive_destroy(&a);
    assert_null(a);
    archive_destroy(&a); /* twice is fine */

    a = s_open();
    assert_int_equal(archive_count(a), 2);
    assert_int_equal(archive_begin(a, &err), 0);
    assert_int_equal(s_append(a, 3, "PER", 1, s_chl, 1), 3);
    assert_int_equal(archive_commit(a, &err), 0);
    archive_destroy(&a);
}

static void
test_archive_rollback_forgets_and_reuses_no_position_gap(void **state)
{
    archive_t       *a = s_open();
    archive_record_t rec;
    errbuf_t         err = {{0}};
    uint8_t          id[16];

    (void)state;
    assert_int_equal(archive_begin(a, &err), 0);
    assert_int_equal(s_append(a, 1, "ARG", 1, s_chl, 1), 1);
    assert_int_equal(archive_commit(a, &err), 0);
    assert_int_equal(archive_begin(a, &err), 0);
    assert_int_equal(s_append(a, 2, "ARG", 2, s_chl, 1), 2);
    archive_rollback(a);
    assert_int_equal(archive_count(a), 1);
    memset(id, 2, sizeof id);
    assert_int_equal(archive_find_by_id(a, id, &rec, &err), 0);
    /* Positions stay contiguous: the next one is 2 again. */
    assert_int_equal(archive_begin(a, &err), 0);
    assert_int_equal(s_append(a, 3, "ARG", 2, s_chl, 1), 2);
    assert_int_equal(archive_commit(a, &err), 0);
    archive_destroy(&a);
}

static void
test_archive_refuses_duplicate_id_and_sequence(void **state)
{
    archive_t      *a = s_open();
    archive_entry_t e;
    errbuf_t        err = {{0}};
    uint64_t        pos = 99;
    uint8_t         env[8] = {0};

    (void)state;
    assert_int_equal(archive_begin(a, &err), 0);
    s_append(a, 1, "ARG", 1, s_chl, 1);
    /* Same package id, other sequence. */
    s_entry(&e, 1, "ARG", 2, s_chl, 1, env, sizeof env);
    assert_int_equal(archive_append(a, &e, &pos, &err), -1);
    assert_int_equal(pos, 0);
    assert_non_null(strstr(err.msg, "UNIQUE"));
    /* Same (sender, sequence), other id. */
    s_entry(&e, 2, "ARG", 1, s_chl, 1, env, sizeof env);
    assert_int_equal(archive_append(a, &e, &pos, &err), -1);
    /* Same sequence from another sender is fine. */
    s_entry(&e, 3, "PER", 1, s_chl, 1, env, sizeof env);
    assert_int_equal(archive_append(a, &e, &pos, &err), 0);
    assert_int_equal(pos, 2);
    assert_int_equal(archive_commit(a, &err), 0);
    archive_destroy(&a);
}

static void
test_archive_refuses_incomplete_entries(void **state)
{
    archive_t      *a = s_open();
    archive_entry_t e;
    errbuf_t        err = {{0}};
    uint64_t        pos;
    uint8_t         env[8] = {0};

    (void)state;
    s_entry(&e, 1, "ARG", 1, s_chl, 1, env, sizeof env);
    assert_int_equal(archive_append(a, &e, &pos, &err), -1); /* no batch */
    assert_non_null(strstr(err.msg, "outside a batch"));
    assert_int_equal(archive_begin(a, &err), 0);
    assert_int_equal(archive_begin(a, &err), -1); /* nested */
    s_entry(&e, 1, "ARG", 0, s_chl, 1, env, sizeof env);
    assert_int_equal(archive_append(a, &e, &pos, &err), -1);
    s_entry(&e, 1, "ARG", 1, s_chl, 0, env, sizeof env);
    assert_int_equal(archive_append(a, &e, &pos, &err), -1);
    s_entry(&e, 1, NULL, 1, s_chl, 1, env, sizeof env);
    assert_int_equal(archive_append(a, &e, &pos, &err), -1);
    archive_rollback(a);
    assert_int_equal(archive_commit(a, &err), -1);
    archive_destroy(&a);
}

static void
test_archive_finds_by_id_and_sequence(void **state)
{
    archive_t       *a = s_open();
    archive_record_t rec;
    errbuf_t         err = {{0}};
    uint8_t          id[16];

    (void)state;
    assert_int_equal(archive_begin(a, &err), 0);
    s_append(a, 7, "ARG", 5, s_chl, 1);
    assert_int_equal(archive_commit(a, &err), 0);
    memset(id, 7, sizeof id);
    assert_int_equal(archive_find_by_id(a, id, &rec, &err), 1);
    assert_int_equal(rec.position, 1);
    assert_string_equal(rec.sender, "ARG");
    assert_int_equal(rec.sequence, 5);
    assert_int_equal(rec.accepted_at, 1767225601);
    assert_int_equal(rec.envelope_hash[0], 7 ^ 0xff);
    assert_int_equal(rec.receipt_len, 8);
    assert_int_equal(rec.receipt[0], 7);
    free(rec.receipt);
    assert_int_equal(archive_find_by_seq(a, "ARG", 5, &rec, &err), 1);
    assert_memory_equal(rec.package_id, id, 16);
    free(rec.receipt);
    assert_int_equal(archive_find_by_seq(a, "ARG", 6, &rec, &err), 0);
    assert_int_equal(archive_find_by_seq(a, "PER", 5, &rec, &err), 0);
    assert_int_equal(archive_find_by_seq(a, "ARG", UINT64_MAX, &rec, &err), 0);
    memset(id, 8, sizeof id);
    assert_int_equal(archive_find_by_id(a, id, &rec, &err), 0);
    archive_destroy(&a);
}

typedef struct {
    uint64_t positions[64];
    size_t   n;
    size_t   bytes;
    int      fail_at;
} page_t;

static int
s_collect(const archive_item_t *it, void *ctx, errbuf_t *err)
{
    page_t *p = ctx;

    if (p->fail_at > 0 && (int)p->n + 1 == p->fail_at) {
        errbuf_set(err, "stop here");
        return -1;
    }
    assert_true(p->n < 64);
    assert_non_null(it->envelope);
    assert_non_null(it->receipt);
    assert_int_equal(it->envelope[0], it->receipt[0]);
    p->positions[p->n++] = it->position;
    p->bytes += it->envelope_len + it->receipt_len;
    return 0;
}

static void
test_archive_pages_by_recipient(void **state)
{
    archive_t *a = s_open();
    errbuf_t   err = {{0}};
    page_t     p;
    int        more;
    long       n;
    uint8_t    tag;

    (void)state;
    assert_int_equal(archive_begin(a, &err), 0);
    /* 1:CHL,PER 2:PER 3:CHL 4:CHL,PER 5:PER 6:CHL ... up to 12 */
    for (tag = 1; tag <= 12; tag++) {
        const char *const *r = tag % 3 == 1 ? s_chl_per
                               : tag % 3 == 2 ? s_per
                                              : s_chl;
        s_append(a, tag, "ARG", tag, r, tag % 3 == 1 ? 2 : 1);
    }
    assert_int_equal(archive_commit(a, &err), 0);

    memset(&p, 0, sizeof p);
    n = archive_page(a, "CHL", 0, 100, 1u << 20, s_collect, &p, &more, &err);
    assert_int_equal(n, 8);
    assert_false(more);
    {
        static const uint64_t want[] = {1, 3, 4, 6, 7, 9, 10, 12};
        assert_memory_equal(p.positions, want, sizeof want);
    }
    /* A page of 3 after 3, then the rest. */
    memset(&p, 0, sizeof p);
    n = archive_page(a, "CHL", 3, 3, 1u << 20, s_collect, &p, &more, &err);
    assert_int_equal(n, 3);
    assert_true(more);
    assert_int_equal(p.positions[0], 4);
    assert_int_equal(p.positions[2], 7);
    memset(&p, 0, sizeof p);
    n = archive_page(a, "CHL", 7, 3, 1u << 20, s_collect, &p, &more, &err);
    assert_int_equal(n, 3);
    assert_false(more); /* exactly the last three */
    /* Nothing for a non-recipient, nothing after the end. */
    memset(&p, 0, sizeof p);
    assert_int_equal(archive_page(a, "ARG", 0, 100, 1u << 20, s_collect, &p,
                         &more, &err), 0);
    assert_false(more);
    assert_int_equal(archive_page(a, "CHL", 12, 100, 1u << 20, s_collect, &p,
                         &more, &err), 0);
    assert_int_equal(archive_page(a, "CHL", UINT64_MAX, 100, 1u << 20,
                         s_collect, &p, &more, &err), 0);
    assert_int_equal(archive_page(a, "CHL", 0, 0, 1u << 20, s_collect, &p,
                         &more, &err), 0);
    archive_destroy(&a);
}

static void
test_archive_page_respects_byte_bound(void **state)
{
    archive_t *a = s_open();
    errbuf_t   err = {{0}};
    page_t     p;
    int        more;
    uint8_t    tag;

    (void)state;
    assert_int_equal(archive_begin(a, &err), 0);
    for (tag = 1; tag <= 5; tag++)
        s_append(a, tag, "ARG", tag, s_chl, 1); /* 64 + 8 bytes each */
    assert_int_equal(archive_commit(a, &err), 0);
    memset(&p, 0, sizeof p);
    assert_int_equal(archive_page(a, "CHL", 0, 100, 3 * 72, s_collect, &p,
                         &more, &err), 3);
    assert_true(more);
    assert_int_equal(p.bytes, 3 * 72);
    memset(&p, 0, sizeof p);
    assert_int_equal(archive_page(a, "CHL", 0, 100, 3 * 72 - 1, s_collect, &p,
                         &more, &err), 2);
    assert_true(more);
    /* A bound smaller than one item still yields that one item. */
    memset(&p, 0, sizeof p);
    assert_int_equal(archive_page(a, "CHL", 0, 100, 1, s_collect, &p, &more,
                         &err), 1);
    assert_true(more);
    memset(&p, 0, sizeof p);
    assert_int_equal(archive_page(a, "CHL", 4, 100, 1, s_collect, &p, &more,
                         &err), 1);
    assert_false(more);
    /* A callback that fails fails the page. */
    memset(&p, 0, sizeof p);
    p.fail_at = 2;
    assert_int_equal(archive_page(a, "CHL", 0, 100, 1u << 20, s_collect, &p,
                         &more, &err), -1);
    assert_string_equal(err.msg, "stop here");
    assert_false(more);
    archive_destroy(&a);
}

static void
test_archive_records_events(void **state)
{
    archive_t      *a = s_open();
    errbuf_t        err = {{0}};
    archive_event_t ev;
    uint8_t         id[16];
    sqlite3        *db;
    sqlite3_stmt   *st;
    char           *longdetail = malloc(ARCHIVE_DETAIL_MAX * 2 + 1);
    int             rows = 0;

    (void)state;
    assert_non_null(longdetail);
    memset(longdetail, 'd', ARCHIVE_DETAIL_MAX * 2);
    longdetail[ARCHIVE_DETAIL_MAX * 2] = '\0';
    memset(id, 9, sizeof id);
    memset(&ev, 0, sizeof ev);
    ev.kind = ARCHIVE_EVENT_REFUSE;
    ev.at = 100;
    ev.state = "ARG";
    ev.package_id = id;
    ev.reason = 10;
    ev.detail = "replay";
    /* On its own, and inside a batch. */
    assert_int_equal(archive_log_event(a, &ev, &err), 0);
    assert_int_equal(archive_begin(a, &err), 0);
    ev.kind = ARCHIVE_EVENT_PULL;
    ev.package_id = NULL;
    ev.reason = 0;
    ev.detail = longdetail;
    assert_int_equal(archive_log_event(a, &ev, &err), 0);
    ev.kind = ARCHIVE_EVENT_HANDSHAKE;
    ev.state = NULL;
    ev.detail = NULL;
    assert_int_equal(archive_log_event(a, &ev, &err), 0);
    ev.kind = (archive_event_kind_t)42;
    assert_int_equal(archive_log_event(a, &ev, &err), -1);
    assert_int_equal(archive_commit(a, &err), 0);
    archive_destroy(&a);
    free(longdetail);

    assert_int_equal(sqlite3_open(s_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT kind, state, "
                         "length(package_id), reason, length(detail) FROM "
                         "events ORDER BY id", -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *kind = (const char *)sqlite3_column_text(st, 0);
        if (rows == 0) {
            assert_string_equal(kind, "refuse");
            assert_string_equal((const char *)sqlite3_column_text(st, 1),
                "ARG");
            assert_int_equal(sqlite3_column_int(st, 2), 16);
            assert_int_equal(sqlite3_column_int(st, 3), 10);
        } else if (rows == 1) {
            assert_string_equal(kind, "pull");
            assert_int_equal(sqlite3_column_int(st, 4), ARCHIVE_DETAIL_MAX);
        } else {
            assert_string_equal(kind, "handshake");
            assert_int_equal(sqlite3_column_type(st, 1), SQLITE_NULL);
        }
        rows++;
    }
    assert_int_equal(rows, 3);
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_string_equal(archive_event_name(ARCHIVE_EVENT_PUSH), "push");
    assert_null(archive_event_name(17));
}

static void
test_archive_refuses_other_federation_and_schema(void **state)
{
    archive_t *a = s_open();
    errbuf_t   err = {{0}};
    sqlite3   *db;

    (void)state;
    archive_destroy(&a);
    assert_null(archive_open(s_path, "OTHER", &err));
    assert_non_null(strstr(err.msg, "federation \"" FED "\""));
    assert_int_equal(sqlite3_open(s_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE "
                         "key = 'schema_version'", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_null(archive_open(s_path, FED, &err));
    assert_non_null(strstr(err.msg, "schema version 99"));
}

/* merkle_leaf_fn over the archive's log table. */
static int
s_leaf_of(void *ctx, uint64_t index, uint8_t out[MERKLE_HASH_BYTES])
{
    sqlite3_stmt *st = NULL;
    int           rc;

    if (sqlite3_prepare_v2(ctx, "SELECT leaf_hash FROM log WHERE idx = ?",
            -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
    rc = sqlite3_step(st) == SQLITE_ROW
        && sqlite3_column_bytes(st, 0) == MERKLE_HASH_BYTES;
    if (rc)
        memcpy(out, sqlite3_column_blob(st, 0), MERKLE_HASH_BYTES);
    sqlite3_finalize(st);
    return rc ? 0 : -1;
}

static void
test_archive_log_proofs_match_the_library(void **state)
{
    archive_t *a = s_open();
    errbuf_t   err = {{0}};
    sqlite3   *db;
    uint8_t    roots[41][MERKLE_HASH_BYTES];
    uint8_t    p1[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES];
    uint8_t    p2[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES];
    uint8_t    leaf[MERKLE_HASH_BYTES];
    size_t     n1, n2;
    uint64_t   i, m, n, pos[3] = {1, 2, 3}, li;
    int        t = 0;

    (void)state;
    merkle_root(NULL, 0, roots[0]);
    /* 40 leaves: packages and pulls mixed, several batches. */
    for (n = 1; n <= 40; n++) {
        if (n % 7 == 1)
            assert_int_equal(archive_begin(a, &err), 0);
        if (n % 3 == 0) {
            assert_int_equal(archive_log_pull(a, 1767225700 + (int64_t)n,
                                 "CHL", 0, pos, 3, &li, &err), 0);
            assert_int_equal(li, n - 1);
        } else {
            t++;
            s_append(a, (uint8_t)t, "ARG", (uint64_t)t, s_chl, 1);
        }
        assert_int_equal(archive_log_size(a), n);
        archive_log_root(a, roots[n]);
        if (n % 7 == 0 || n == 40)
            assert_int_equal(archive_commit(a, &err), 0);
    }
    assert_int_equal(sqlite3_open(s_path, &db), SQLITE_OK);
    for (n = 1; n <= 40; n++) {
        for (i = 0; i < n; i++) {
            assert_int_equal(archive_inclusion_proof(a, i, n, p1, &n1, &err),
                0);
            assert_int_equal(merkle_inclusion_proof(s_leaf_of, db, i, n, p2,
                                 &n2, &err), 0);
            assert_int_equal(n1, n2);
            assert_memory_equal(p1, p2, n1 * MERKLE_HASH_BYTES);
            assert_int_equal(s_leaf_of(db, i, leaf), 0);
            assert_int_equal(merkle_inclusion_verify(leaf, i, n,
                                 (const uint8_t(*)[MERKLE_HASH_BYTES])p1, n1,
                                 roots[n], &err), 0);
        }
        for (m = 0; m <= n; m++) {
            assert_int_equal(archive_consistency_proof(a, m, n, p1, &n1,
                                 &err), 0);
            assert_int_equal(merkle_consistency_proof(s_leaf_of, db, m, n, p2,
                                 &n2, &err), 0);
            assert_int_equal(n1, n2);
            assert_memory_equal(p1, p2, n1 * MERKLE_HASH_BYTES);
            assert_int_equal(merkle_consistency_verify(m, n, roots[m],
                                 roots[n],
                                 (const uint8_t(*)[MERKLE_HASH_BYTES])p1, n1,
                                 &err), 0);
        }
    }
    /* A package leaf commits to the position, time, envelope hash and
     * receipt statement hash. */
    {
        archive_record_t rec;
        uint8_t          id[16], hash[32], rh[32];
        memset(id, 1, sizeof id);
        assert_int_equal(archive_find_by_id(a, id, &rec, &err), 1);
        assert_int_equal(rec.log_index, 0);
        memset(hash, 1 ^ 0xff, sizeof hash);
        memset(rh, 1 ^ 0x55, sizeof rh);
        treehead_leaf_package_hash(rec.position, 1767225601, hash, rh, leaf);
        assert_int_equal(s_leaf_of(db, 0, p1[0]), 0);
        assert_memory_equal(leaf, p1[0], MERKLE_HASH_BYTES);
        free(rec.receipt);
    }
    assert_int_not_equal(archive_inclusion_proof(a, 40, 40, p1, &n1, &err),
        0);
    assert_int_not_equal(archive_consistency_proof(a, 3, 41, p1, &n1, &err),
        0);
    sqlite3_close(db);
    archive_destroy(&a);

    /* Reopened, the frontier is rebuilt from the stored nodes. */
    a = s_open();
    assert_int_equal(archive_log_size(a), 40);
    archive_log_root(a, leaf);
    assert_memory_equal(leaf, roots[40], MERKLE_HASH_BYTES);
    archive_destroy(&a);
}

static void
test_archive_log_rollback_keeps_the_tree(void **state)
{
    archive_t *a = s_open();
    errbuf_t   err = {{0}};
    uint8_t    before[MERKLE_HASH_BYTES], after[MERKLE_HASH_BYTES];

    (void)state;
    assert_int_equal(archive_begin(a, &err), 0);
    s_append(a, 1, "ARG", 1, s_chl, 1);
    assert_int_equal(archive_commit(a, &err), 0);
    archive_log_root(a, before);
    assert_int_equal(archive_begin(a, &err), 0);
    s_append(a, 2, "ARG", 2, s_chl, 1);
    assert_int_equal(archive_log_pull(a, 5, "CHL", 0, NULL, 0, NULL, &err),
        0);
    assert_int_equal(archive_log_size(a), 3);
    archive_rollback(a);
    assert_int_equal(archive_log_size(a), 1);
    archive_log_root(a, after);
    assert_memory_equal(before, after, MERKLE_HASH_BYTES);
    /* A pull leaf outside a batch is refused. */
    assert_int_not_equal(archive_log_pull(a, 5, "CHL", 0, NULL, 0, NULL,
                             &err), 0);
    /* No head without a signing key. */
    {
        archive_head_t h;
        assert_int_equal(archive_head_latest(a, &h, &err), 0);
    }
    archive_destroy(&a);
}

static void
test_archive_refuses_a_version_1_archive(void **state)
{
    archive_t *a = s_open();
    errbuf_t   err = {{0}};
    sqlite3   *db;

    (void)state;
    archive_destroy(&a);
    assert_int_equal(sqlite3_open(s_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE meta SET value = '1' WHERE "
                         "key = 'schema_version'", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    assert_null(archive_open(s_path, FED, &err));
    assert_non_null(strstr(err.msg, "schema version 1"));
    assert_non_null(strstr(err.msg, "tamper-evident log"));
}

static void
test_archive_refuses_a_log_that_lost_nodes(void **state)
{
    archive_t *a = s_open();
    errbuf_t   err = {{0}};
    sqlite3   *db;

    (void)state;
    assert_int_equal(archive_begin(a, &err), 0);
    s_append(a, 1, "ARG", 1, s_chl, 1);
    s_append(a, 2, "ARG", 2, s_chl, 1);
    assert_int_equal(archive_commit(a, &err), 0);
    archive_destroy(&a);
    assert_int_equal(sqlite3_open(s_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "DELETE FROM log_node", NULL, NULL,
                         NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_null(archive_open(s_path, FED, &err));
    assert_non_null(strstr(err.msg, "audit verify"));
}

/* Two members cosign different heads of one log: the earlier head (3)
 * counts both as its witnesses, the later (5) only the one that cosigned
 * it or later; with a quorum of 2, head 3 is witnessed and head 5 not. */
static void
test_archive_cosign_witnesses_since(void **state)
{
    archive_t    *a = s_open();
    errbuf_t      err = {{0}};
    const uint8_t kid[KEYS_ID_BYTES] = {1};
    const uint8_t sig[KEYS_SIG_BYTES] = {2};

    (void)state;
    assert_int_equal(archive_cosign_witnesses_since(a, 1, &err), 0);
    assert_int_equal(archive_begin(a, &err), 0);
    assert_int_equal(archive_cosign_put(a, 3, "ARG", kid, sig, 10, &err), 1);
    assert_int_equal(archive_cosign_put(a, 5, "BOL", kid, sig, 11, &err), 1);
    assert_int_equal(archive_commit(a, &err), 0);
    assert_int_equal(archive_cosign_witnesses_since(a, 1, &err), 2);
    assert_int_equal(archive_cosign_witnesses_since(a, 3, &err), 2);
    assert_true(archive_cosign_witnesses_since(a, 3, &err) >= 2);
    assert_int_equal(archive_cosign_witnesses_since(a, 4, &err), 1);
    assert_int_equal(archive_cosign_witnesses_since(a, 5, &err), 1);
    assert_false(archive_cosign_witnesses_since(a, 5, &err) >= 2);
    assert_int_equal(archive_cosign_witnesses_since(a, 6, &err), 0);
    /* A member that cosigns several heads is one witness. */
    assert_int_equal(archive_begin(a, &err), 0);
    assert_int_equal(archive_cosign_put(a, 4, "BOL", kid, sig, 12, &err), 1);
    assert_int_equal(archive_cosign_put(a, 5, "ARG", kid, sig, 13, &err), 2);
    assert_int_equal(archive_commit(a, &err), 0);
    assert_int_equal(archive_cosign_witnesses_since(a, 1, &err), 2);
    assert_int_equal(archive_cosign_witnesses_since(a, 5, &err), 2);
    archive_destroy(&a);
}

static void
test_archive_refuses_unusable_path(void **state)
{
    errbuf_t err = {{0}};
    char     path[ITEST_PATH_MAX + 32];

    (void)state;
    snprintf(path, sizeof path, "%s/no/such/dir/a.db", s_dir);
    assert_null(archive_open(path, FED, &err));
    assert_non_null(strstr(err.msg, "cannot open"));
    /* Not a database. */
    snprintf(path, sizeof path, "%s/junk.db", s_dir);
    assert_int_equal(itest_write_file(path, "this is not sqlite, not at all, "
                         "and long enough to have a header\n", 0600), 0);
    assert_null(archive_open(path, FED, &err));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_archive_append_commit_and_positions,
            s_setup),
        cmocka_unit_test_setup(
            test_archive_rollback_forgets_and_reuses_no_position_gap, s_setup),
        cmocka_unit_test_setup(test_archive_refuses_duplicate_id_and_sequence,
            s_setup),
        cmocka_unit_test_setup(test_archive_refuses_incomplete_entries,
            s_setup),
        cmocka_unit_test_setup(test_archive_finds_by_id_and_sequence, s_setup),
        cmocka_unit_test_setup(test_archive_pages_by_recipient, s_setup),
        cmocka_unit_test_setup(test_archive_page_respects_byte_bound,
            s_setup),
        cmocka_unit_test_setup(test_archive_records_events, s_setup),
        cmocka_unit_test_setup(
            test_archive_refuses_other_federation_and_schema, s_setup),
        cmocka_unit_test_setup(test_archive_refuses_unusable_path, s_setup),
        cmocka_unit_test_setup(test_archive_cosign_witnesses_since, s_setup),
        cmocka_unit_test_setup(test_archive_log_proofs_match_the_library,
            s_setup),
        cmocka_unit_test_setup(test_archive_log_rollback_keeps_the_tree,
            s_setup),
        cmocka_unit_test_setup(test_archive_refuses_a_version_1_archive,
            s_setup),
        cmocka_unit_test_setup(test_archive_refuses_a_log_that_lost_nodes,
            s_setup),
    };

    return cmocka_run_group_tests(tests, NULL, s_group_teardown);
}
