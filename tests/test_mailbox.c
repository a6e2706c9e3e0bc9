/* test_mailbox: the member node's store — sequence allocation, outbox
 * states and backoff, inbox pages and cursor, sharing between processes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/envelope.h"
#include "node/mailbox.h"

#define FED "TEST-FED"

typedef struct {
    char    dir[256];
    char    path[300];
    uint8_t sign_pk[32], sign_sk[64];
    uint8_t box_pk[32], box_sk[32];
} fixture_t;

/* What the seal callback should produce. */
typedef struct {
    const fixture_t *fx;
    const char      *sender;
    const char      *federation;
    int64_t          seq_delta; /* seal with sequence + delta */
    int              fail;      /* return -1 */
    uint64_t         seen;      /* the sequence it was given */
    const uint8_t   *package_id;
} seal_t;

static int
s_seal(uint64_t sequence, void *ctx, uint8_t **env, size_t *env_len,
    errbuf_t *err)
{
    seal_t                *s = ctx;
    envelope_recipient_t   r = {"CHL", s->fx->box_pk};
    envelope_seal_params_t p;
    static const uint8_t   plain[] = "a package";

    s->seen = sequence;
    if (s->fail) {
        errbuf_set(err, "sealing refused by the test");
        return -1;
    }
    memset(&p, 0, sizeof p);
    p.federation = s->federation ? s->federation : FED;
    p.sender = s->sender ? s->sender : "ARG";
    p.sign_sk = s->fx->sign_sk;
    p.package_type = CSBM__PACKAGE_TYPE__MILEX_REPORT;
    p.distribution = CSBM__DISTRIBUTION__DIRECT;
    p.recipients = &r;
    p.n_recipients = 1;
    p.created_at = 1767225600;
    p.sequence = (uint64_t)((int64_t)sequence + s->seq_delta);
    p.year = 2025;
    p.package_id = s->package_id;
    return envelope_seal(&p, plain, sizeof plain, env, env_len, err);
}

static int
s_setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);

    assert_non_null(fx);
    assert_true(sodium_init() >= 0);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/test_mailbox.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/node.db", fx->dir);
    crypto_sign_keypair(fx->sign_pk, fx->sign_sk);
    crypto_box_keypair(fx->box_pk, fx->box_sk);
    *state = fx;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_t *fx = *state;
    char       p[400];

    snprintf(p, sizeof p, "%s", fx->path);
    unlink(p);
    snprintf(p, sizeof p, "%s-wal", fx->path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", fx->path);
    unlink(p);
    rmdir(fx->dir);
    sodium_memzero(fx, sizeof *fx);
    free(fx);
    return 0;
}

static mailbox_t *
s_open(const fixture_t *fx)
{
    errbuf_t   err = {{0}};
    mailbox_t *mb = mailbox_open(fx->path, "ARG", FED, &err);

    if (mb == NULL)
        fail_msg("mailbox_open: %s", err.msg);
    return mb;
}

static uint64_t
s_add(mailbox_t *mb, const fixture_t *fx, mailbox_outbox_entry_t *out)
{
    seal_t                 s = {fx, NULL, NULL, 0, 0, 0, NULL};
    mailbox_outbox_entry_t e;
    errbuf_t               err = {{0}};

    if (mailbox_outbox_add(mb, s_seal, &s, &e, &err) != 0)
        fail_msg("mailbox_outbox_add: %s", err.msg);
    assert_int_equal(e.sequence, s.seen);
    if (out != NULL)
        *out = e;
    return e.sequence;
}

static void
s_sql(const fixture_t *fx, const char *sql)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* ------------------------------------------------------------- outbox --- */

static void
test_mailbox_allocates_sequences_in_order(void **state)
{
    fixture_t             *fx = *state;
    mailbox_t             *mb = s_open(fx);
    mailbox_outbox_entry_t e, a;
    errbuf_t               err = {{0}};
    uint8_t               *env = NULL;
    size_t                 len = 0;

    assert_int_equal(s_add(mb, fx, &a), 1);
    assert_int_equal(s_add(mb, fx, NULL), 2);
    assert_int_equal(s_add(mb, fx, NULL), 3);
    assert_int_equal(a.status, MAILBOX_PENDING);
    assert_string_equal(a.recipients, "CHL");
    assert_int_equal(a.package_type, CSBM__PACKAGE_TYPE__MILEX_REPORT);
    assert_int_equal(a.created_at, 1767225600);

    assert_int_equal(mailbox_outbox_next(mb, 0, INT64_MAX, &e, &env, &len,
                         &err), 1);
    assert_int_equal(e.sequence, 1);
    assert_memory_equal(e.package_id, a.package_id, ENVELOPE_ID_BYTES);
    assert_int_equal(len, a.envelope_len);
    assert_int_equal(e.envelope_len, len);
    {
        /* What is stored is exactly what was sealed: it parses and names
         * the package. */
        envelope_t *pe = envelope_parse(env, len, &err);
        assert_non_null(pe);
        assert_memory_equal(envelope_header(pe)->package_id.data,
            a.package_id, ENVELOPE_ID_BYTES);
        envelope_destroy(&pe);
    }
    free(env);
    assert_int_equal(mailbox_outbox_next(mb, 1, INT64_MAX, &e, NULL, NULL,
                         &err), 1);
    assert_int_equal(e.sequence, 2);
    assert_int_equal(mailbox_outbox_next(mb, 3, INT64_MAX, &e, NULL, NULL,
                         &err), 0);
    assert_int_equal(mailbox_outbox_count(mb, MAILBOX_PENDING, &err), 3);
    mailbox_destroy(&mb);
    assert_null(mb);
    mailbox_destroy(&mb); /* twice is harmless */
}

static void
test_mailbox_failed_seal_uses_no_sequence(void **state)
{
    fixture_t *fx = *state;
    mailbox_t *mb = s_open(fx);
    errbuf_t   err = {{0}};
    seal_t     bad = {fx, NULL, NULL, 0, 1, 0, NULL};

    assert_int_equal(mailbox_outbox_add(mb, s_seal, &bad, NULL, &err), -1);
    assert_string_equal(err.msg, "sealing refused by the test");
    assert_int_equal(bad.seen, 1);
    assert_int_equal(mailbox_outbox_count(mb, MAILBOX_PENDING, &err), 0);
    assert_int_equal(s_add(mb, fx, NULL), 1);
    mailbox_destroy(&mb);
}

static void
test_mailbox_rejects_envelope_not_matching_store(void **state)
{
    fixture_t *fx = *state;
    mailbox_t *mb = s_open(fx);
    errbuf_t   err = {{0}};
    seal_t     wrong_seq = {fx, NULL, NULL, 1, 0, 0, NULL};
    seal_t     wrong_sender = {fx, "CHL", NULL, 0, 0, 0, NULL};
    seal_t     wrong_fed = {fx, NULL, "OTHER", 0, 0, 0, NULL};

    assert_int_equal(mailbox_outbox_add(mb, s_seal, &wrong_seq, NULL, &err),
        -1);
    assert_non_null(strstr(err.msg, "does not match the store"));
    assert_int_equal(mailbox_outbox_add(mb, s_seal, &wrong_sender, NULL,
                         &err), -1);
    assert_non_null(strstr(err.msg, "from CHL"));
    assert_int_equal(mailbox_outbox_add(mb, s_seal, &wrong_fed, NULL, &err),
        -1);
    assert_int_equal(mailbox_outbox_count(mb, MAILBOX_PENDING, &err), 0);
    assert_int_equal(s_add(mb, fx, NULL), 1);
    mailbox_destroy(&mb);
}

static void
test_mailbox_rejects_reused_package_id(void **state)
{
    fixture_t *fx = *state;
    mailbox_t *mb = s_open(fx);
    errbuf_t   err = {{0}};
    uint8_t    id[ENVELOPE_ID_BYTES];
    seal_t     s = {fx, NULL, NULL, 0, 0, 0, id};

    memset(id, 0x42, sizeof id);
    assert_int_equal(mailbox_outbox_add(mb, s_seal, &s, NULL, &err), 0);
    assert_int_equal(mailbox_outbox_add(mb, s_seal, &s, NULL, &err), -1);
    assert_int_equal(mailbox_outbox_count(mb, MAILBOX_PENDING, &err), 1);
    assert_int_equal(s_add(mb, fx, NULL), 2);
    mailbox_destroy(&mb);
}

static void
test_mailbox_survives_reopen(void **state)
{
    fixture_t             *fx = *state;
    mailbox_t             *mb = s_open(fx);
    mailbox_outbox_entry_t a, e;
    errbuf_t               err = {{0}};
    struct stat            sb;

    s_add(mb, fx, &a);
    mailbox_destroy(&mb);
    assert_int_equal(stat(fx->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    mb = s_open(fx);
    assert_string_equal(mailbox_owner(mb), "ARG");
    assert_int_equal(mailbox_outbox_get(mb, a.package_id, &e, NULL, NULL,
                         &err), 1);
    assert_int_equal(e.status, MAILBOX_PENDING);
    assert_int_equal(e.sequence, 1);
    assert_int_equal(s_add(mb, fx, NULL), 2);
    mailbox_destroy(&mb);
}

static void
test_mailbox_never_reuses_sequence_after_meta_edit(void **state)
{
    fixture_t *fx = *state;
    mailbox_t *mb = s_open(fx);

    s_add(mb, fx, NULL);
    s_add(mb, fx, NULL);
    mailbox_destroy(&mb);
    s_sql(fx, "UPDATE meta SET value = 0 WHERE key = 'last_sequence'");
    mb = s_open(fx);
    assert_int_equal(s_add(mb, fx, NULL), 3);
    mailbox_destroy(&mb);
}

static void
test_mailbox_refuses_other_owner_and_federation(void **state)
{
    fixture_t *fx = *state;
    mailbox_t *mb = s_open(fx);
    errbuf_t   err = {{0}};

    mailbox_destroy(&mb);
    assert_null(mailbox_open(fx->path, "CHL", FED, &err));
    assert_non_null(strstr(err.msg, "store of ARG, not CHL"));
    assert_null(mailbox_open(fx->path, "ARG", "OTHER", &err));
    assert_non_null(strstr(err.msg, "federation"));
    mb = mailbox_open(fx->path, NULL, NULL, &err);
    assert_non_null(mb);
    assert_string_equal(mailbox_owner(mb), "ARG");
    mailbox_destroy(&mb);
}

static void
test_mailbox_refuses_unknown_schema_version(void **state)
{
    fixture_t *fx = *state;
    mailbox_t *mb = s_open(fx);
    errbuf_t   err = {{0}};

    mailbox_destroy(&mb);
    s_sql(fx, "UPDATE meta SET value = 99 WHERE key = 'schema_version'");
    assert_null(mailbox_open(fx->path, "ARG", FED, &err));
    assert_non_null(strstr(err.msg, "schema version 99"));
}

static void
test_mailbox_refuses_bad_paths(void **state)
{
    fixture_t *fx = *state;
    errbuf_t   err = {{0}};
    char       link[400];

    assert_null(mailbox_open(NULL, "ARG", FED, &err));
    assert_null(mailbox_open("", "ARG", FED, &err));
    assert_null(mailbox_open(fx->dir, "ARG", FED, &err));
    assert_non_null(strstr(err.msg, "not a regular file"));
    snprintf(link, sizeof link, "%s/link.db", fx->dir);
    assert_int_equal(symlink("/etc/passwd", link), 0);
    assert_null(mailbox_open(link, "ARG", FED, &err));
    unlink(link);
}

static void
test_mailbox_backoff_grows_and_caps(void **state)
{
    int64_t d;
    int     i;

    (void)state;
    for (i = 0; i < 20; i++) {
        d = mailbox_backoff(1);
        assert_true(d >= MAILBOX_BACKOFF_BASE_S
            && d <= MAILBOX_BACKOFF_BASE_S + MAILBOX_BACKOFF_BASE_S / 4);
        d = mailbox_backoff(3);
        assert_true(d >= 4 * MAILBOX_BACKOFF_BASE_S
            && d <= 5 * MAILBOX_BACKOFF_BASE_S);
        d = mailbox_backoff(1000);
        assert_true(d >= MAILBOX_BACKOFF_MAX_S
            && d <= MAILBOX_BACKOFF_MAX_S + MAILBOX_BACKOFF_MAX_S / 4);
        d = mailbox_backoff(UINT32_MAX);
        assert_true(d >= MAILBOX_BACKOFF_MAX_S
            && d <= MAILBOX_BACKOFF_MAX_S + MAILBOX_BACKOFF_MAX_S / 4);
    }
}

static void
test_mailbox_failed_attempt_backs_off(void **state)
{
    fixture_t             *fx = *state;
    mailbox_t             *mb = s_open(fx);
    mailbox_outbox_entry_t a, b, e;
    errbuf_t               err = {{0}};
    int64_t                now = 1800000000;

    s_add(mb, fx, &a);
    s_add(mb, fx, &b);
    assert_int_equal(mailbox_outbox_failed(mb, a.package_id, now,
                         "hub did not answer", &err), 0);
    assert_int_equal(mailbox_outbox_get(mb, a.package_id, &e, NULL, NULL,
                         &err), 1);
    assert_int_equal(e.attempts, 1);
    assert_string_equal(e.last_error, "hub did not answer");
    assert_true(e.next_attempt_at >= now + MAILBOX_BACKOFF_BASE_S);
    assert_true(e.next_attempt_at <= now + MAILBOX_BACKOFF_BASE_S * 5 / 4);
    /* Not due now: the next due one is the second package. */
    assert_int_equal(mailbox_outbox_next(mb, 0, now, &e, NULL, NULL, &err),
        1);
    assert_int_equal(e.sequence, 2);
    assert_int_equal(mailbox_outbox_next(mb, 0, now + 3600 * 2, &e, NULL,
                         NULL, &err), 1);
    assert_int_equal(e.sequence, 1);

    assert_int_equal(mailbox_outbox_failed(mb, a.package_id, now, "again",
                         &err), 0);
    assert_int_equal(mailbox_outbox_get(mb, a.package_id, &e, NULL, NULL,
                         &err), 1);
    assert_int_equal(e.attempts, 2);
    assert_true(e.next_attempt_at >= now + 2 * MAILBOX_BACKOFF_BASE_S);

    /* Delivery clears the schedule; a late failure does not undo it. */
    assert_int_equal(mailbox_outbox_delivered(mb, a.package_id,
                         (const uint8_t *)"R", 1, 7, now, &err), 0);
    assert_int_equal(mailbox_outbox_failed(mb, a.package_id, now, "late",
                         &err), 0);
    assert_int_equal(mailbox_outbox_get(mb, a.package_id, &e, NULL, NULL,
                         &err), 1);
    assert_int_equal(e.status, MAILBOX_DELIVERED);
    assert_int_equal(e.attempts, 2);
    assert_int_equal(e.next_attempt_at, 0);
    assert_string_equal(e.last_error, "");
    mailbox_destroy(&mb);
}

static void
test_mailbox_delivered_and_rejected_are_final(void **state)
{
    fixture_t             *fx = *state;
    mailbox_t             *mb = s_open(fx);
    mailbox_outbox_entry_t a, b, e;
    errbuf_t               err = {{0}};
    uint8_t               *st = NULL;
    size_t                 len = 0;
    static const uint8_t   receipt[] = {1, 2, 3, 4};
    static const uint8_t   rejection[] = {9, 8, 7};

    s_add(mb, fx, &a);
    s_add(mb, fx, &b);
    assert_int_equal(mailbox_outbox_statement(mb, a.package_id, &st, &len,
                         &err), 0);
    assert_int_equal(mailbox_outbox_delivered(mb, a.package_id, receipt,
                         sizeof receipt, 12, 1800000000, &err), 0);
    /* The same receipt again (a duplicate answer) is harmless. */
    assert_int_equal(mailbox_outbox_delivered(mb, a.package_id, receipt,
                         sizeof receipt, 12, 1800000000, &err), 0);
    assert_int_equal(mailbox_outbox_rejected(mb, a.package_id, rejection,
                         sizeof rejection, 10, "replay", &err), 0);
    assert_int_equal(mailbox_outbox_get(mb, a.package_id, &e, NULL, NULL,
                         &err), 1);
    assert_int_equal(e.status, MAILBOX_DELIVERED);
    assert_int_equal(e.position, 12);
    assert_int_equal(e.accepted_at, 1800000000);
    assert_int_equal(mailbox_outbox_statement(mb, a.package_id, &st, &len,
                         &err), 1);
    assert_int_equal(len, sizeof receipt);
    assert_memory_equal(st, receipt, sizeof receipt);
    free(st);

    assert_int_equal(mailbox_outbox_rejected(mb, b.package_id, rejection,
                         sizeof rejection, 10, "sequence reused", &err), 0);
    assert_int_equal(mailbox_outbox_delivered(mb, b.package_id, receipt,
                         sizeof receipt, 13, 1800000000, &err), 0);
    assert_int_equal(mailbox_outbox_get(mb, b.package_id, &e, NULL, NULL,
                         &err), 1);
    assert_int_equal(e.status, MAILBOX_REJECTED);
    assert_int_equal(e.reason, 10);
    assert_string_equal(e.last_error, "sequence reused");
    assert_int_equal(mailbox_outbox_statement(mb, b.package_id, &st, &len,
                         &err), 1);
    assert_memory_equal(st, rejection, sizeof rejection);
    free(st);
    assert_int_equal(mailbox_outbox_next(mb, 0, INT64_MAX, &e, NULL, NULL,
                         &err), 0);
    assert_int_equal(mailbox_outbox_count(mb, MAILBOX_DELIVERED, &err), 1);
    assert_int_equal(mailbox_outbox_count(mb, MAILBOX_REJECTED, &err), 1);
    assert_int_equal(mailbox_outbox_count(mb, MAILBOX_PENDING, &err), 0);
    mailbox_destroy(&mb);
}

static int
s_count_row(const mailbox_outbox_entry_t *e, void *ctx)
{
    uint64_t *last = ctx;

    assert_true(e->sequence > *last);
    *last = e->sequence;
    return e->sequence == 3; /* stop early */
}

static void
test_mailbox_outbox_foreach_in_sequence_order(void **state)
{
    fixture_t *fx = *state;
    mailbox_t *mb = s_open(fx);
    errbuf_t   err = {{0}};
    uint64_t   last = 0;
    int        i;

    for (i = 0; i < 5; i++)
        s_add(mb, fx, NULL);
    assert_int_equal(mailbox_outbox_foreach(mb, s_count_row, &last, &err), 0);
    assert_int_equal(last, 3);
    mailbox_destroy(&mb);
}

static void
test_mailbox_two_handles_share_the_counter(void **state)
{
    fixture_t *fx = *state;
    mailbox_t *cli = s_open(fx), *daemon = s_open(fx);
    errbuf_t   err = {{0}};
    mailbox_outbox_entry_t e;

    assert_int_equal(s_add(cli, fx, NULL), 1);
    assert_int_equal(s_add(daemon, fx, NULL), 2);
    assert_int_equal(s_add(cli, fx, NULL), 3);
    assert_int_equal(mailbox_outbox_next(daemon, 2, INT64_MAX, &e, NULL, NULL,
                         &err), 1);
    assert_int_equal(e.sequence, 3);
    mailbox_destroy(&cli);
    mailbox_destroy(&daemon);
}

/* -------------------------------------------------------------- inbox --- */

static void
s_item(mailbox_inbox_item_t *it, uint64_t pos, const uint8_t *id,
    const char *refused)
{
    static const uint8_t env[] = "envelope bytes";
    static const uint8_t rcpt[] = "receipt bytes";

    memset(it, 0, sizeof *it);
    it->position = pos;
    it->refused = refused;
    it->package_id = id;
    it->sender = "ARG";
    it->package_type = CSBM__PACKAGE_TYPE__MILEX_REPORT;
    it->year = 2025;
    it->created_at = 1767225600;
    it->envelope = env;
    it->envelope_len = sizeof env;
    it->receipt = rcpt;
    it->receipt_len = sizeof rcpt;
}

static void
test_mailbox_inbox_commit_advances_cursor(void **state)
{
    fixture_t           *fx = *state;
    mailbox_t           *mb = s_open(fx);
    mailbox_inbox_item_t it[3];
    uint8_t              id1[16], id2[16], id3[16];
    errbuf_t             err = {{0}};
    uint64_t             cursor = 99;
    size_t               added = 0;

    memset(id1, 1, 16);
    memset(id2, 2, 16);
    memset(id3, 3, 16);
    assert_int_equal(mailbox_cursor(mb, &cursor, &err), 0);
    assert_int_equal(cursor, 0);
    s_item(&it[0], 2, id1, NULL);
    s_item(&it[1], 5, id2, NULL);
    assert_int_equal(mailbox_inbox_commit(mb, it, 2, 7, 1800000000, &added,
                         &err), 0);
    assert_int_equal(added, 2);
    assert_int_equal(mailbox_cursor(mb, &cursor, &err), 0);
    assert_int_equal(cursor, 7);
    assert_int_equal(mailbox_inbox_count(mb, &err), 2);

    /* A re-delivered package at a later position is not duplicated, but
     * the cursor still moves past it. */
    s_item(&it[0], 9, id1, NULL);
    s_item(&it[1], 10, id3, NULL);
    assert_int_equal(mailbox_inbox_commit(mb, it, 2, 12, 1800000000, &added,
                         &err), 0);
    assert_int_equal(added, 1);
    assert_int_equal(mailbox_inbox_count(mb, &err), 3);
    assert_int_equal(mailbox_cursor(mb, &cursor, &err), 0);
    assert_int_equal(cursor, 12);

    /* An empty page that only moves the cursor. */
    assert_int_equal(mailbox_inbox_commit(mb, NULL, 0, 20, 1800000000, &added,
                         &err), 0);
    assert_int_equal(added, 0);
    assert_int_equal(mailbox_cursor(mb, &cursor, &err), 0);
    assert_int_equal(cursor, 20);
    mailbox_destroy(&mb);
}

static void
test_mailbox_inbox_commit_is_atomic(void **state)
{
    fixture_t           *fx = *state;
    mailbox_t           *mb = s_open(fx);
    mailbox_inbox_item_t it[2];
    uint8_t              id1[16], id2[16], id3[16];
    errbuf_t             err = {{0}};
    uint64_t             cursor = 0;

    memset(id1, 1, 16);
    memset(id2, 2, 16);
    memset(id3, 3, 16);
    s_item(&it[0], 3, id1, NULL);
    assert_int_equal(mailbox_inbox_commit(mb, it, 1, 3, 1, NULL, &err), 0);

    /* Cursor going back. */
    assert_int_equal(mailbox_inbox_commit(mb, NULL, 0, 2, 1, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "back"));
    /* Item at or before the cursor, or past the new cursor. */
    s_item(&it[0], 4, id2, NULL);
    s_item(&it[1], 3, id3, NULL);
    assert_int_equal(mailbox_inbox_commit(mb, it, 2, 5, 1, NULL, &err), -1);
    s_item(&it[1], 6, id3, NULL);
    assert_int_equal(mailbox_inbox_commit(mb, it, 2, 5, 1, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "outside the page"));
    /* Item without the fields an accepted item needs. */
    s_item(&it[1], 5, NULL, NULL);
    assert_int_equal(mailbox_inbox_commit(mb, it, 2, 5, 1, NULL, &err), -1);
    /* None of the failed pages left anything behind. */
    assert_int_equal(mailbox_inbox_count(mb, &err), 1);
    assert_int_equal(mailbox_cursor(mb, &cursor, &err), 0);
    assert_int_equal(cursor, 3);
    /* Cursor out of SQLite's range. */
    assert_int_equal(mailbox_inbox_commit(mb, NULL, 0, UINT64_MAX, 1, NULL,
                         &err), -1);
    mailbox_destroy(&mb);
}

static void
test_mailbox_inbox_detects_changed_position(void **state)
{
    fixture_t           *fx = *state;
    mailbox_t           *mb = s_open(fx);
    mailbox_inbox_item_t it;
    uint8_t              id1[16], id2[16];
    errbuf_t             err = {{0}};

    memset(id1, 1, 16);
    memset(id2, 2, 16);
    s_item(&it, 3, id1, NULL);
    assert_int_equal(mailbox_inbox_commit(mb, &it, 1, 3, 1, NULL, &err), 0);
    /* Cursor edited back by hand: the same position now comes with
     * another package, which the store must not accept silently. */
    mailbox_destroy(&mb);
    s_sql(fx, "UPDATE meta SET value = 0 WHERE key = 'pull_cursor'");
    mb = s_open(fx);
    s_item(&it, 3, id2, NULL);
    assert_int_equal(mailbox_inbox_commit(mb, &it, 1, 3, 1, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "already holds package"));
    /* The same package at the same position is a plain re-delivery. */
    s_item(&it, 3, id1, NULL);
    assert_int_equal(mailbox_inbox_commit(mb, &it, 1, 3, 1, NULL, &err), 0);
    assert_int_equal(mailbox_inbox_count(mb, &err), 1);
    mailbox_destroy(&mb);
}

static int
s_refused_row(const mailbox_refused_entry_t *e, void *ctx)
{
    int *n = ctx;

    assert_int_equal(e->position, 4);
    assert_string_equal(e->reason, "not addressed to ARG");
    assert_string_equal(e->sender, "");
    (*n)++;
    return 0;
}

static void
test_mailbox_records_refused_items(void **state)
{
    fixture_t           *fx = *state;
    mailbox_t           *mb = s_open(fx);
    mailbox_inbox_item_t it[2];
    uint8_t              id1[16];
    errbuf_t             err = {{0}};
    size_t               added = 9;
    int                  n = 0;

    memset(id1, 1, 16);
    s_item(&it[0], 3, id1, NULL);
    s_item(&it[1], 4, NULL, "not addressed to ARG");
    it[1].sender = NULL;
    assert_int_equal(mailbox_inbox_commit(mb, it, 2, 4, 1, &added, &err), 0);
    assert_int_equal(added, 1);
    assert_int_equal(mailbox_inbox_count(mb, &err), 1);
    assert_int_equal(mailbox_refused_count(mb, &err), 1);
    assert_int_equal(mailbox_refused_foreach(mb, s_refused_row, &n, &err), 0);
    assert_int_equal(n, 1);
    mailbox_destroy(&mb);
}

static void
test_mailbox_refused_rewind_retries_them(void **state)
{
    fixture_t           *fx = *state;
    mailbox_t           *mb = s_open(fx);
    mailbox_inbox_item_t it[3];
    uint8_t              id1[16], id2[16], id3[16];
    errbuf_t             err = {{0}};
    uint64_t             from = 99, cursor = 0;
    size_t               added = 0;

    memset(id1, 1, 16);
    memset(id2, 2, 16);
    memset(id3, 3, 16);
    assert_int_equal(mailbox_refused_rewind(mb, &from, &err), 0);
    assert_int_equal(from, 0);
    s_item(&it[0], 3, id1, NULL);
    s_item(&it[1], 5, id2, "sender ZZZ not trusted");
    s_item(&it[2], 8, id3, NULL);
    assert_int_equal(mailbox_inbox_commit(mb, it, 3, 9, 1, &added, &err), 0);
    assert_int_equal(added, 2);
    assert_int_equal(mailbox_refused_rewind(mb, &from, &err), 1);
    assert_int_equal(from, 4);
    assert_int_equal(mailbox_cursor(mb, &cursor, &err), 0);
    assert_int_equal(cursor, 4);
    /* Pulled again, now accepted: into the inbox, off the refused list;
     * the one already in the inbox is not duplicated. */
    it[1].refused = NULL;
    assert_int_equal(mailbox_inbox_commit(mb, &it[1], 2, 9, 1, &added, &err),
        0);
    assert_int_equal(added, 1);
    assert_int_equal(mailbox_inbox_count(mb, &err), 3);
    assert_int_equal(mailbox_refused_count(mb, &err), 0);
    assert_int_equal(mailbox_refused_rewind(mb, &from, &err), 0);
    mailbox_destroy(&mb);
}

static void
test_mailbox_inbox_find_by_prefix(void **state)
{
    fixture_t            *fx = *state;
    mailbox_t            *mb = s_open(fx);
    mailbox_inbox_item_t  it[2];
    mailbox_inbox_entry_t e;
    uint8_t               id1[16], id2[16];
    uint8_t              *env = NULL, *rcpt = NULL;
    size_t                env_len = 0, rcpt_len = 0;
    errbuf_t              err = {{0}};
    char                  hex[33];

    memset(id1, 0xab, 16);
    memcpy(id2, id1, 16);
    id2[4] = 0xcd; /* same first 8 hex digits */
    s_item(&it[0], 1, id1, NULL);
    s_item(&it[1], 2, id2, NULL);
    assert_int_equal(mailbox_inbox_commit(mb, it, 2, 2, 1800000000, NULL,
                         &err), 0);
    envelope_id_hex(id1, hex);
    assert_int_equal(mailbox_inbox_find(mb, hex, &e, &env, &env_len, &rcpt,
                         &rcpt_len, &err), 1);
    assert_memory_equal(e.package_id, id1, 16);
    assert_int_equal(e.position, 1);
    assert_string_equal(e.sender, "ARG");
    assert_int_equal(e.year, 2025);
    assert_int_equal(e.received_at, 1800000000);
    assert_int_equal(e.opened, 0);
    assert_memory_equal(env, "envelope bytes", env_len);
    assert_memory_equal(rcpt, "receipt bytes", rcpt_len);
    free(env);
    free(rcpt);
    /* Upper case works; a unique prefix works. */
    assert_int_equal(mailbox_inbox_find(mb, "ABABABABCD", &e, NULL, NULL,
                         NULL, NULL, &err), 1);
    assert_memory_equal(e.package_id, id2, 16);
    /* Ambiguous, too short, not hex, too long, unknown. */
    env = NULL;
    assert_int_equal(mailbox_inbox_find(mb, "abababab", &e, &env, &env_len,
                         NULL, NULL, &err), -1);
    assert_null(env);
    assert_non_null(strstr(err.msg, "more than one"));
    assert_int_equal(mailbox_inbox_find(mb, "abab", &e, NULL, NULL, NULL,
                         NULL, &err), -1);
    assert_int_equal(mailbox_inbox_find(mb, "abababzz", &e, NULL, NULL, NULL,
                         NULL, &err), -1);
    assert_int_equal(mailbox_inbox_find(mb,
                         "abababababababababababababababab00", &e, NULL,
                         NULL, NULL, NULL, &err), -1);
    assert_int_equal(mailbox_inbox_find(mb, "'%--%'", &e, NULL, NULL, NULL,
                         NULL, &err), -1);
    assert_int_equal(mailbox_inbox_find(mb, "000000", &e, NULL, NULL, NULL,
                         NULL, &err), 0);

    assert_int_equal(mailbox_inbox_mark_opened(mb, id1, &err), 0);
    assert_int_equal(mailbox_inbox_find(mb, hex, &e, NULL, NULL, NULL, NULL,
                         &err), 1);
    assert_int_equal(e.opened, 1);
    mailbox_destroy(&mb);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, s_setup, s_teardown)
        T(test_mailbox_allocates_sequences_in_order),
        T(test_mailbox_failed_seal_uses_no_sequence),
        T(test_mailbox_rejects_envelope_not_matching_store),
        T(test_mailbox_rejects_reused_package_id),
        T(test_mailbox_survives_reopen),
        T(test_mailbox_never_reuses_sequence_after_meta_edit),
        T(test_mailbox_refuses_other_owner_and_federation),
        T(test_mailbox_refuses_unknown_schema_version),
        T(test_mailbox_refuses_bad_paths),
        T(test_mailbox_backoff_grows_and_caps),
        T(test_mailbox_failed_attempt_backs_off),
        T(test_mailbox_delivered_and_rejected_are_final),
        T(test_mailbox_outbox_foreach_in_sequence_order),
        T(test_mailbox_two_handles_share_the_counter),
        T(test_mailbox_inbox_commit_advances_cursor),
        T(test_mailbox_inbox_commit_is_atomic),
        T(test_mailbox_inbox_detects_changed_position),
        T(test_mailbox_records_refused_items),
        T(test_mailbox_refused_rewind_retries_them),
        T(test_mailbox_inbox_find_by_prefix),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
