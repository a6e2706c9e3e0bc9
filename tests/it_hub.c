/*
 * it_hub: the real `csbm hub` process on loopback, with real key files, a
 * real SQLite archive in a temporary directory, and this test as the
 * members: DEALER sockets speaking CurveZMQ with the members' transport
 * keys.
 *
 * Stories: a push gets a receipt signed by the hub's key; pushing the same
 * package again gets the very same receipt and no second row; another
 * package under a used id or a used sequence number is refused as a
 * replay with a signed rejection; a member cannot push another's package;
 * each recipient pulls what is addressed to it, page by page, and nobody
 * else gets it; recipients hear of new packages on the notification
 * socket; an unknown transport key cannot even connect, and the hub logs
 * why; garbage, truncated and oversized messages leave the hub serving
 * everyone else; SIGTERM stops it promptly with every receipted package
 * in the archive.
 *
 * The tests run in order and share one hub (its start costs two Argon2id
 * key derivations).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "crypto/envelope.h"
#include "crypto/receipt.h"
#include "node/wire.h"
#include "tests/support/ihub.h"
#include "tests/support/itest.h"

#define FED         "IT-HUB-FED"
#define CALL_MS     30000 /* generous: ASan on a slow machine */
#define MAX_PUSHED  64

static ihub_t         s_hub;
static itest_member_t s_arg, s_chl, s_per, s_eve;

/* Every package the hub receipted, to find in the archive at the end. */
static struct {
    uint8_t  id[ENVELOPE_ID_BYTES];
    uint64_t position;
} s_pushed[MAX_PUSHED];
static size_t s_n_pushed;

/* The first package, kept for the resubmission and replay stories. */
static uint8_t *s_first;
static size_t   s_first_len;
static uint64_t s_first_position;
static uint64_t s_seq = 1; /* ARG's next sequence number */

/* ------------------------------------------------------------ harness --- */

/* Start the shared hub with ARG, CHL and PER in its keyring (EVE is
 * unknown to it). Returns 0, or -1 if it did not start. */
static int
s_group_setup(void **state)
{
    const ihub_member_t members[] = {{&s_arg, "ARG", 1}, {&s_chl, "CHL", 1},
        {&s_per, "PER", 1}, {&s_eve, "EVE", 0}};
    const char *extra[] = {"--log-level", "debug", NULL};

    (void)state;
    return ihub_start(&s_hub, "it-hub", FED, members,
        sizeof members / sizeof members[0], 1, extra);
}

/* Stop everything and remove the group's files. Returns 0. */
static int
s_group_teardown(void **state)
{
    (void)state;
    free(s_first);
    ihub_cleanup(&s_hub);
    return 0;
}

/* A DEALER for m on the hub (fails the test if it cannot be made). */
static void *
s_dealer(const itest_member_t *m)
{
    return ihub_dealer(&s_hub, m);
}

static uint8_t *
s_seal(const itest_member_t *from, const itest_member_t *const *to,
    size_t n_to, uint64_t seq, const uint8_t *package_id, const char *text,
    size_t *len)
{
    envelope_seal_params_t p;
    envelope_recipient_t   r[4];
    uint8_t               *out = NULL;
    errbuf_t               err = {{0}};
    size_t                 i;

    assert_true(n_to <= 4);
    for (i = 0; i < n_to; i++) { /* callers pass them sorted */
        r[i].id = to[i]->owner;
        r[i].box_pk = to[i]->box_pk;
    }
    memset(&p, 0, sizeof p);
    p.federation = FED;
    p.sender = from->owner;
    p.sign_sk = from->sign_sk;
    p.package_type = CSBM__PACKAGE_TYPE__MILEX_REPORT;
    p.distribution = CSBM__DISTRIBUTION__DIRECT;
    p.recipients = r;
    p.n_recipients = n_to;
    p.created_at = (uint64_t)time(NULL);
    p.sequence = seq;
    p.year = 2025;
    p.package_id = package_id;
    if (envelope_seal(&p, (const uint8_t *)text, strlen(text), &out, len,
            &err) != 0)
        fail_msg("seal: %s", err.msg);
    return out;
}

static Csbm__WireReply *
s_call(void *dealer, Csbm__WireRequest *req)
{
    static uint64_t  next_id = 1000;
    errbuf_t         err = {{0}};
    Csbm__WireReply *r;

    req->protocol = WIRE_PROTOCOL;
    req->request_id = next_id++;
    r = wire_call(dealer, req, CALL_MS, &err);
    if (r == NULL)
        fail_msg("hub call: %s", err.msg);
    assert_int_equal(r->request_id, req->request_id);
    return r;
}

static Csbm__WireReply *
s_submit(void *dealer, const uint8_t *env, size_t len)
{
    Csbm__WireRequest   req;
    Csbm__SubmitRequest sr = CSBM__SUBMIT_REQUEST__INIT;

    csbm__wire_request__init(&req);
    sr.envelope.data = (uint8_t *)(uintptr_t)env;
    sr.envelope.len = len;
    req.body_case = CSBM__WIRE_REQUEST__BODY_SUBMIT;
    req.submit = &sr;
    return s_call(dealer, &req);
}

static Csbm__WireReply *
s_pull(void *dealer, uint64_t after, uint32_t max)
{
    Csbm__WireRequest req;
    Csbm__PullRequest pr = CSBM__PULL_REQUEST__INIT;

    csbm__wire_request__init(&req);
    pr.after = after;
    pr.max_items = max;
    req.body_case = CSBM__WIRE_REQUEST__BODY_PULL;
    req.pull = &pr;
    return s_call(dealer, &req);
}

static Csbm__WireReply *
s_ping(void *dealer)
{
    Csbm__WireRequest req;
    Csbm__PingRequest pr = CSBM__PING_REQUEST__INIT;

    csbm__wire_request__init(&req);
    req.body_case = CSBM__WIRE_REQUEST__BODY_PING;
    req.ping = &pr;
    return s_call(dealer, &req);
}

/* Check a receipt against what was sent; returns its position. */
static uint64_t
s_check_receipt(const Csbm__Signed *s, const Csbm__InclusionProof *ip,
    const uint8_t *env, size_t len, const char *sender, uint64_t seq)
{
    Csbm__Receipt *r = NULL;
    treehead_t     th;
    errbuf_t       err = {{0}};
    uint8_t        hash[32];
    envelope_t    *e = envelope_parse(env, len, &err);
    uint64_t       pos;

    assert_non_null(e);
    assert_non_null(s);
    if (receipt_verify(s, ip, s_hub.pub.sign_pk, &r, &th, &err) != 0)
        fail_msg("receipt: %s", err.msg);
    receipt_envelope_hash(env, len, hash);
    assert_string_equal(r->federation, FED);
    assert_string_equal(r->sender, sender);
    assert_int_equal(r->sequence, seq);
    assert_memory_equal(r->envelope_hash.data, hash, 32);
    assert_memory_equal(r->package_id.data,
        envelope_header(e)->package_id.data, ENVELOPE_ID_BYTES);
    assert_true(r->position >= 1);
    assert_true(r->accepted_at + 600 > (uint64_t)time(NULL));
    pos = r->position;
    csbm__receipt__free_unpacked(r, NULL);
    envelope_destroy(&e);
    return pos;
}

/* Push env from dealer, expect a fresh receipt, remember it. */
static uint64_t
s_push_ok(void *dealer, const uint8_t *env, size_t len, const char *sender,
    uint64_t seq)
{
    Csbm__WireReply *r = s_submit(dealer, env, len);
    envelope_t      *e;
    uint64_t         pos;

    if (r->status != CSBM__WIRE_STATUS__WIRE_OK)
        fail_msg("push refused: %s: %s", receipt_reason_name(r->reason),
            r->message);
    assert_int_equal(r->body_case, CSBM__WIRE_REPLY__BODY_SUBMIT);
    assert_false(r->submit->duplicate);
    assert_null(r->submit->rejection);
    pos = s_check_receipt(r->submit->receipt, r->submit->inclusion, env, len,
        sender, seq);
    csbm__wire_reply__free_unpacked(r, NULL);
    assert_true(s_n_pushed < MAX_PUSHED);
    e = envelope_parse(env, len, NULL);
    assert_non_null(e);
    memcpy(s_pushed[s_n_pushed].id, envelope_header(e)->package_id.data,
        ENVELOPE_ID_BYTES);
    s_pushed[s_n_pushed++].position = pos;
    envelope_destroy(&e);
    return pos;
}

/* Expect a signed rejection with this reason. */
static void
s_push_refused(void *dealer, const uint8_t *env, size_t len, int reason,
    const char *connected)
{
    Csbm__WireReply *r = s_submit(dealer, env, len);
    Csbm__Rejection *rj = NULL;
    errbuf_t         err = {{0}};
    uint8_t          hash[32];

    assert_int_equal(r->status, CSBM__WIRE_STATUS__WIRE_REJECTED);
    if ((int)r->reason != reason)
        fail_msg("refused with %s (%s), not %s",
            receipt_reason_name(r->reason), r->message,
            receipt_reason_name(reason));
    assert_int_equal(r->body_case, CSBM__WIRE_REPLY__BODY_SUBMIT);
    assert_null(r->submit->receipt);
    if (receipt_verify_rejection(r->submit->rejection, s_hub.pub.sign_pk, &rj,
            &err) != 0)
        fail_msg("rejection: %s", err.msg);
    assert_int_equal(rj->reason, reason);
    assert_string_equal(rj->sender, connected);
    assert_string_equal(rj->federation, FED);
    receipt_envelope_hash(env, len, hash);
    assert_memory_equal(rj->envelope_hash.data, hash, 32);
    assert_string_equal(rj->message, r->message);
    csbm__rejection__free_unpacked(rj, NULL);
    csbm__wire_reply__free_unpacked(r, NULL);
}

static int64_t
s_sql_int(const char *sql, const uint8_t *blob, size_t blob_len)
{
    sqlite3      *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t       v = -1;

    assert_int_equal(
        sqlite3_open_v2(s_hub.db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (blob != NULL)
        sqlite3_bind_blob(st, 1, blob, (int)blob_len, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* -------------------------------------------------------------- tests --- */

static void
test_hub_ping_answers_time_and_size(void **state)
{
    void            *d = s_dealer(&s_arg);
    Csbm__WireReply *r = s_ping(d);
    uint64_t         now = (uint64_t)time(NULL);

    (void)state;
    assert_int_equal(r->status, CSBM__WIRE_STATUS__WIRE_OK);
    assert_int_equal(r->protocol, WIRE_PROTOCOL);
    assert_int_equal(r->body_case, CSBM__WIRE_REPLY__BODY_PING);
    assert_true(r->ping->hub_time + 60 > now && r->ping->hub_time < now + 60);
    assert_int_equal(r->ping->archive_size, 0);
    csbm__wire_reply__free_unpacked(r, NULL);
    zmq_close(d);
    assert_true(itest_file_contains(s_hub.log, "listening on", 0));
}

static void
test_hub_push_returns_verified_receipt(void **state)
{
    const itest_member_t *to[] = {&s_chl, &s_per};
    void                 *d = s_dealer(&s_arg);
    Csbm__WireReply      *r;

    (void)state;
    s_first = s_seal(&s_arg, to, 2, s_seq, NULL, "first report", &s_first_len);
    s_first_position = s_push_ok(d, s_first, s_first_len, "ARG", s_seq++);
    assert_int_equal(s_first_position, 1);
    r = s_ping(d);
    assert_int_equal(r->ping->archive_size, 1);
    csbm__wire_reply__free_unpacked(r, NULL);
    zmq_close(d);
    assert_true(itest_file_contains(s_hub.log, "accepted MILEX_REPORT", 5000));
}

static void
test_hub_resubmission_returns_original_receipt(void **state)
{
    void            *d = s_dealer(&s_arg);
    Csbm__WireReply *a, *b;
    envelope_t      *e = envelope_parse(s_first, s_first_len, NULL);
    uint8_t          id[ENVELOPE_ID_BYTES];

    (void)state;
    assert_non_null(e);
    memcpy(id, envelope_header(e)->package_id.data, sizeof id);
    envelope_destroy(&e);
    a = s_submit(d, s_first, s_first_len);
    b = s_submit(d, s_first, s_first_len);
    assert_int_equal(a->status, CSBM__WIRE_STATUS__WIRE_OK);
    assert_true(a->submit->duplicate);
    assert_true(b->submit->duplicate);
    assert_int_equal(s_check_receipt(a->submit->receipt, a->submit->inclusion,
                         s_first, s_first_len,
                         "ARG", 1), s_first_position);
    /* Byte for byte the receipt the first push got (signed through its
     * leaf: no signature of its own). */
    assert_int_equal(a->submit->receipt->statement.len,
        b->submit->receipt->statement.len);
    assert_memory_equal(a->submit->receipt->statement.data,
        b->submit->receipt->statement.data, a->submit->receipt->statement.len);
    assert_int_equal(a->submit->receipt->signature.len, 0);
    assert_int_equal(b->submit->receipt->signature.len, 0);
    assert_int_equal(b->submit->receipt->hub_key_id.len, 16);
    csbm__wire_reply__free_unpacked(a, NULL);
    csbm__wire_reply__free_unpacked(b, NULL);
    zmq_close(d);
    assert_int_equal(s_sql_int("SELECT count(*) FROM archive WHERE "
                         "package_id = ?", id, sizeof id), 1);
    assert_int_equal(s_sql_int("SELECT count(*) FROM archive", NULL, 0), 1);
}

static void
test_hub_refuses_replays(void **state)
{
    const itest_member_t *to[] = {&s_chl};
    void                 *d = s_dealer(&s_arg);
    envelope_t           *e = envelope_parse(s_first, s_first_len, NULL);
    uint8_t               id[ENVELOPE_ID_BYTES], *env;
    size_t                len;

    (void)state;
    assert_non_null(e);
    memcpy(id, envelope_header(e)->package_id.data, sizeof id);
    envelope_destroy(&e);
    /* The first package's id with other content. */
    env = s_seal(&s_arg, to, 1, 900, id, "other content", &len);
    s_push_refused(d, env, len, CSBM__REASON_CODE__REASON_REPLAY, "ARG");
    free(env);
    /* The first package's sequence number with a new id. */
    env = s_seal(&s_arg, to, 1, 1, NULL, "same sequence", &len);
    s_push_refused(d, env, len, CSBM__REASON_CODE__REASON_REPLAY, "ARG");
    free(env);
    zmq_close(d);
    assert_int_equal(s_sql_int("SELECT count(*) FROM archive", NULL, 0), 1);
    /* One refusal event per member and reason a minute. */
    assert_int_equal(s_sql_int("SELECT count(*) FROM events WHERE kind = "
                         "'refuse' AND reason = 10", NULL, 0), 1);
}

/* Another member's package id: refused as a replay without telling where
 * that package is in the archive. */
static void
test_hub_replay_hides_another_senders_position(void **state)
{
    const itest_member_t *to[] = {&s_per};
    void                 *d = s_dealer(&s_chl);
    envelope_t           *e = envelope_parse(s_first, s_first_len, NULL);
    uint8_t               id[ENVELOPE_ID_BYTES], *env;
    size_t                len;
    Csbm__WireReply      *r;

    (void)state;
    assert_non_null(e);
    memcpy(id, envelope_header(e)->package_id.data, sizeof id);
    envelope_destroy(&e);
    env = s_seal(&s_chl, to, 1, 1, id, "CHL reuses ARG's id", &len);
    r = s_submit(d, env, len);
    assert_int_equal(r->status, CSBM__WIRE_STATUS__WIRE_REJECTED);
    assert_int_equal(r->reason, CSBM__REASON_CODE__REASON_REPLAY);
    assert_null(strstr(r->message, "position"));
    csbm__wire_reply__free_unpacked(r, NULL);
    free(env);
    zmq_close(d);
}

static void
test_hub_refuses_package_of_another_member(void **state)
{
    const itest_member_t *to[] = {&s_per};
    void                 *d = s_dealer(&s_chl);
    uint8_t              *env;
    size_t                len;

    (void)state;
    env = s_seal(&s_arg, to, 1, 500, NULL, "pushed by CHL", &len);
    s_push_refused(d, env, len, CSBM__REASON_CODE__REASON_SENDER_MISMATCH,
        "CHL");
    free(env);
    zmq_close(d);
}

static void
test_hub_pull_serves_recipients_only(void **state)
{
    const itest_member_t *to_chl[] = {&s_chl};
    void                 *arg = s_dealer(&s_arg), *chl = s_dealer(&s_chl);
    void                 *per = s_dealer(&s_per);
    Csbm__WireReply      *r;
    uint64_t              pos[3], cursor;
    Csbm__Receipt        *rc = NULL;
    errbuf_t              err = {{0}};
    int                   i;

    (void)state;
    /* Both recipients get the first package, intact, with its receipt. */
    r = s_pull(per, 0, 0);
    assert_int_equal(r->status, CSBM__WIRE_STATUS__WIRE_OK);
    assert_int_equal(r->body_case, CSBM__WIRE_REPLY__BODY_PULL);
    assert_int_equal(r->pull->n_items, 1);
    assert_false(r->pull->more);
    assert_int_equal(r->pull->cursor, s_first_position);
    assert_int_equal(r->pull->items[0]->position, s_first_position);
    assert_int_equal(r->pull->items[0]->envelope.len, s_first_len);
    assert_memory_equal(r->pull->items[0]->envelope.data, s_first,
        s_first_len);
    /* Its receipt is in the page's signed head. */
    assert_non_null(r->pull->tree_head);
    assert_non_null(r->pull->items[0]->inclusion);
    assert_null(r->pull->items[0]->inclusion->tree_head);
    {
        treehead_t th;
        assert_int_equal(treehead_verify(r->pull->tree_head,
                             s_hub.pub.sign_pk, &th, &err), 0);
        assert_int_equal(receipt_parse(r->pull->items[0]->receipt, &rc, &err),
            0);
        assert_int_equal(receipt_path_verify(r->pull->items[0]->receipt, rc,
                             r->pull->items[0]->inclusion->leaf_index,
                             r->pull->items[0]->inclusion->path.data,
                             r->pull->items[0]->inclusion->path.len, &th,
                             &err), 0);
        /* Under another item's leaf index it does not verify. */
        assert_int_not_equal(receipt_path_verify(r->pull->items[0]->receipt,
                                 rc, r->pull->items[0]->inclusion->leaf_index
                                         + 1,
                                 r->pull->items[0]->inclusion->path.data,
                                 r->pull->items[0]->inclusion->path.len, &th,
                                 &err), 0);
    }
    assert_int_equal(rc->position, s_first_position);
    csbm__receipt__free_unpacked(rc, NULL);
    csbm__wire_reply__free_unpacked(r, NULL);
    /* The sender is not a recipient: nothing for it. */
    r = s_pull(arg, 0, 100);
    assert_int_equal(r->status, CSBM__WIRE_STATUS__WIRE_OK);
    assert_int_equal(r->pull->n_items, 0);
    assert_false(r->pull->more);
    assert_int_equal(r->pull->cursor, 0);
    csbm__wire_reply__free_unpacked(r, NULL);
    /* Three more for CHL only; CHL pages through them two at a time. */
    for (i = 0; i < 3; i++) {
        char     text[32];
        size_t   len;
        uint8_t *env;
        snprintf(text, sizeof text, "report %d for CHL", i);
        env = s_seal(&s_arg, to_chl, 1, s_seq, NULL, text, &len);
        pos[i] = s_push_ok(arg, env, len, "ARG", s_seq++);
        free(env);
    }
    r = s_pull(chl, 0, 2);
    assert_int_equal(r->pull->n_items, 2);
    assert_true(r->pull->more);
    assert_int_equal(r->pull->items[0]->position, s_first_position);
    assert_int_equal(r->pull->items[1]->position, pos[0]);
    cursor = r->pull->cursor;
    assert_int_equal(cursor, pos[0]);
    csbm__wire_reply__free_unpacked(r, NULL);
    r = s_pull(chl, cursor, 2);
    assert_int_equal(r->pull->n_items, 2);
    assert_false(r->pull->more);
    assert_int_equal(r->pull->items[0]->position, pos[1]);
    assert_int_equal(r->pull->items[1]->position, pos[2]);
    assert_int_equal(r->pull->cursor, pos[2]);
    csbm__wire_reply__free_unpacked(r, NULL);
    /* PER still has only the first. */
    r = s_pull(per, s_first_position, 0);
    assert_int_equal(r->pull->n_items, 0);
    assert_int_equal(r->pull->cursor, s_first_position);
    csbm__wire_reply__free_unpacked(r, NULL);
    zmq_close(arg);
    zmq_close(chl);
    zmq_close(per);
    assert_true(s_sql_int("SELECT count(*) FROM events WHERE kind = 'pull' "
                    "AND state = 'CHL'", NULL, 0) >= 2);
}

static void
test_hub_notifies_recipients(void **state)
{
    const itest_member_t *to[] = {&s_per};
    void                 *arg = s_dealer(&s_arg), *sub;
    errbuf_t              err = {{0}};
    int                   attempt, got = 0;

    (void)state;
    sub = wire_subscribe_socket(s_hub.zctx, s_hub.notify_ep, "PER",
        s_per.transport_pk, s_per.transport_sk, s_hub.pub.transport_pk, &err);
    assert_non_null(sub);
    /* A subscription takes effect some time after the handshake: push
     * until one notification comes through. */
    for (attempt = 0; attempt < 20 && !got; attempt++) {
        zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
        uint8_t       *env;
        size_t         len;
        uint64_t       pos;

        env = s_seal(&s_arg, to, 1, s_seq, NULL, "for PER", &len);
        pos = s_push_ok(arg, env, len, "ARG", s_seq++);
        free(env);
        if (zmq_poll(&item, 1, 500) > 0) {
            char                topic[32];
            zmq_msg_t           m;
            Csbm__Notification *n;
            int                 tl = zmq_recv(sub, topic, sizeof topic, 0);
            assert_int_equal(tl, 4);
            assert_memory_equal(topic, "PER ", 4);
            zmq_msg_init(&m);
            assert_true(zmq_msg_recv(&m, sub, 0) >= 0);
            n = csbm__notification__unpack(NULL, zmq_msg_size(&m),
                zmq_msg_data(&m));
            zmq_msg_close(&m);
            assert_non_null(n);
            assert_int_equal(n->position, 0); /* learnt by pulling */
            assert_true(n->archive_size >= pos);
            csbm__notification__free_unpacked(n, NULL);
            got = 1;
        }
    }
    assert_true(got);
    zmq_close(sub);
    zmq_close(arg);
}

static void
test_hub_refuses_unknown_transport_key(void **state)
{
    void             *d = s_dealer(&s_eve);
    Csbm__WireRequest req;
    Csbm__PingRequest pr = CSBM__PING_REQUEST__INIT;
    errbuf_t          err = {{0}};
    char              z85[KEYS_Z85_BYTES], needle[192], hex[65];

    (void)state;
    csbm__wire_request__init(&req);
    req.protocol = WIRE_PROTOCOL;
    req.request_id = 1;
    req.body_case = CSBM__WIRE_REQUEST__BODY_PING;
    req.ping = &pr;
    assert_null(wire_call(d, &req, 1500, &err));
    /* The member is told why, not just that the hub is silent. */
    if (strstr(err.msg, "the hub refused this node's transport key at the "
            "handshake (ZAP status 400)") == NULL)
        fail_msg("%s", err.msg);
    assert_non_null(strstr(err.msg, "csbm registry list"));
    zmq_close(d);
    assert_int_equal(keys_z85(s_eve.transport_pk, z85), 0);
    snprintf(needle, sizeof needle, "WARN  refused handshake from 127.0.0.1: "
        "unknown transport key %s (hex ", z85);
    assert_true(itest_file_contains(s_hub.log, needle, 5000));
    sodium_bin2hex(hex, sizeof hex, s_eve.transport_pk, 32);
    assert_true(itest_file_contains(s_hub.log, hex, 0));
}

/* Send raw frames from a dealer and read one reply. */
static Csbm__WireReply *
s_raw(void *d, const void *a, size_t alen, const void *b, size_t blen)
{
    zmq_pollitem_t item = {d, 0, ZMQ_POLLIN, 0};
    zmq_msg_t      m;
    Csbm__WireReply *r;

    assert_true(zmq_send(d, a, alen, b != NULL ? ZMQ_SNDMORE : 0) >= 0);
    if (b != NULL)
        assert_true(zmq_send(d, b, blen, 0) >= 0);
    assert_int_equal(zmq_poll(&item, 1, CALL_MS), 1);
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, d, 0) >= 0);
    r = csbm__wire_reply__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    assert_non_null(r);
    return r;
}

static void
test_hub_survives_garbage_and_oversized_messages(void **state)
{
    void               *arg = s_dealer(&s_arg), *per = s_dealer(&s_per);
    void               *chl;
    Csbm__WireReply    *r;
    Csbm__WireRequest   req;
    Csbm__SubmitRequest sr = CSBM__SUBMIT_REQUEST__INIT;
    uint8_t             packed[4096], *big;
    size_t              len;
    static const char   junk[] = "\x0a\xff\xff\xff\xff\x0f garbage";

    (void)state;
    /* Bytes that are no WireRequest: answered, with request id 0. */
    r = s_raw(arg, junk, sizeof junk, NULL, 0);
    assert_int_equal(r->status, CSBM__WIRE_STATUS__WIRE_REJECTED);
    assert_int_equal(r->reason, CSBM__REASON_CODE__REASON_MALFORMED);
    assert_int_equal(r->request_id, 0);
    csbm__wire_reply__free_unpacked(r, NULL);
    /* A real request, truncated. */
    csbm__wire_request__init(&req);
    req.protocol = WIRE_PROTOCOL;
    req.request_id = 5;
    sr.envelope.data = s_first;
    sr.envelope.len = s_first_len;
    req.body_case = CSBM__WIRE_REQUEST__BODY_SUBMIT;
    req.submit = &sr;
    len = csbm__wire_request__get_packed_size(&req);
    assert_true(len <= sizeof packed);
    csbm__wire_request__pack(&req, packed);
    r = s_raw(arg, packed, len / 2, NULL, 0);
    assert_int_equal(r->reason, CSBM__REASON_CODE__REASON_MALFORMED);
    csbm__wire_reply__free_unpacked(r, NULL);
    /* Two frames. */
    r = s_raw(arg, packed, len, "x", 1);
    assert_int_equal(r->reason, CSBM__REASON_CODE__REASON_MALFORMED);
    csbm__wire_reply__free_unpacked(r, NULL);
    /* Another protocol version; then no body at all. */
    req.protocol = 9;
    req.request_id = 6;
    len = csbm__wire_request__get_packed_size(&req);
    csbm__wire_request__pack(&req, packed);
    r = s_raw(arg, packed, len, NULL, 0);
    assert_int_equal(r->reason, CSBM__REASON_CODE__REASON_UNSUPPORTED);
    assert_int_equal(r->request_id, 6);
    csbm__wire_reply__free_unpacked(r, NULL);
    req.protocol = WIRE_PROTOCOL;
    req.request_id = 7;
    req.body_case = CSBM__WIRE_REQUEST__BODY__NOT_SET;
    len = csbm__wire_request__get_packed_size(&req);
    csbm__wire_request__pack(&req, packed);
    r = s_raw(arg, packed, len, NULL, 0);
    assert_int_equal(r->reason, CSBM__REASON_CODE__REASON_UNSUPPORTED);
    assert_int_equal(r->request_id, 7);
    csbm__wire_reply__free_unpacked(r, NULL);
    /* An empty frame is an empty WireRequest: protocol 0. */
    r = s_raw(arg, "", 0, NULL, 0);
    assert_int_equal(r->reason, CSBM__REASON_CODE__REASON_UNSUPPORTED);
    csbm__wire_reply__free_unpacked(r, NULL);

    /* Over ZMQ_MAXMSGSIZE: libzmq drops PER's connection. */
    big = malloc(WIRE_MAX_MESSAGE + 1);
    assert_non_null(big);
    memset(big, 0x5a, WIRE_MAX_MESSAGE + 1);
    assert_int_equal(zmq_send(per, big, WIRE_MAX_MESSAGE + 1, 0),
        (int)(WIRE_MAX_MESSAGE + 1));
    free(big);

    /* Everyone is still served, PER too on a new connection. */
    chl = s_dealer(&s_chl);
    r = s_ping(chl);
    assert_int_equal(r->status, CSBM__WIRE_STATUS__WIRE_OK);
    csbm__wire_reply__free_unpacked(r, NULL);
    r = s_ping(arg);
    assert_int_equal(r->status, CSBM__WIRE_STATUS__WIRE_OK);
    csbm__wire_reply__free_unpacked(r, NULL);
    zmq_close(per);
    per = s_dealer(&s_per);
    r = s_ping(per);
    assert_int_equal(r->status, CSBM__WIRE_STATUS__WIRE_OK);
    csbm__wire_reply__free_unpacked(r, NULL);
    zmq_close(per);
    zmq_close(chl);
    zmq_close(arg);
    assert_true(itest_alive(s_hub.pid));
}

/* Send a pull from raw dealer d without waiting. */
static void
s_pull_nowait(void *d, uint64_t id)
{
    Csbm__WireRequest req;
    Csbm__PullRequest pr = CSBM__PULL_REQUEST__INIT;
    uint8_t           buf[64];
    size_t            len;

    csbm__wire_request__init(&req);
    req.protocol = WIRE_PROTOCOL;
    req.request_id = id;
    req.body_case = CSBM__WIRE_REQUEST__BODY_PULL;
    req.pull = &pr;
    len = csbm__wire_request__get_packed_size(&req);
    assert_true(len <= sizeof buf);
    csbm__wire_request__pack(&req, buf);
    assert_int_equal(zmq_send(d, buf, len, 0), (int)len);
}

/* A member that pipelines pulls without reading gets one served per
 * batch and "busy" for the rest, and polling an empty inbox adds no
 * event row or log leaf per poll. */
static void
test_hub_limits_pipelined_and_empty_pulls(void **state)
{
    void    *d = s_dealer(&s_arg);
    int64_t  events = s_sql_int("SELECT count(*) FROM events WHERE kind = "
                                "'pull' AND state = 'ARG'", NULL, 0);
    int      i, got = 0, ok = 0, busy = 0;
    int      hwm = 0;
    size_t   hl = sizeof hwm;

    (void)state;
    assert_int_equal(zmq_getsockopt(d, ZMQ_RCVHWM, &hwm, &hl), 0);
    assert_int_equal(hwm, WIRE_MEMBER_RCVHWM);
    for (i = 0; i < 40; i++)
        s_pull_nowait(d, 5000 + (uint64_t)i);
    for (;;) {
        zmq_pollitem_t   item = {d, 0, ZMQ_POLLIN, 0};
        zmq_msg_t        m;
        Csbm__WireReply *r;

        if (zmq_poll(&item, 1, got < 40 ? 3000 : 200) <= 0)
            break;
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&m, d, 0) >= 0);
        r = csbm__wire_reply__unpack(NULL, zmq_msg_size(&m),
            zmq_msg_data(&m));
        zmq_msg_close(&m);
        assert_non_null(r);
        got++;
        if (r->status == CSBM__WIRE_STATUS__WIRE_OK)
            ok++;
        else if (r->status == CSBM__WIRE_STATUS__WIRE_RETRY
                 && r->reason == CSBM__REASON_CODE__REASON_BUSY)
            busy++;
        else
            fail_msg("pull answered %s: %s", receipt_reason_name(r->reason),
                r->message);
        csbm__wire_reply__free_unpacked(r, NULL);
    }
    zmq_close(d);
    assert_true(ok >= 1);
    assert_true(busy >= 1);
    /* ARG's inbox is empty and its cursor 0 every time. */
    assert_true(s_sql_int("SELECT count(*) FROM events WHERE kind = 'pull' "
                    "AND state = 'ARG'", NULL, 0) <= events + 1);
    assert_true(itest_alive(s_hub.pid));
}

/* Only the addressee hears of a package: subscribing to the empty prefix
 * or to another member's topic gets nothing. */
static void
test_hub_notifies_addressee_only(void **state)
{
    const itest_member_t *to[] = {&s_per};
    void                 *arg = s_dealer(&s_arg), *per, *snoop_id, *snoop_all;
    errbuf_t              err = {{0}};
    int                   attempt, got = 0, zero = 0;
    zmq_pollitem_t        items[2];

    (void)state;
    per = wire_subscribe_socket(s_hub.zctx, s_hub.notify_ep, "PER",
        s_per.transport_pk, s_per.transport_sk, s_hub.pub.transport_pk, &err);
    snoop_id = wire_subscribe_socket(s_hub.zctx, s_hub.notify_ep, "PER",
        s_chl.transport_pk, s_chl.transport_sk, s_hub.pub.transport_pk, &err);
    assert_non_null(per);
    assert_non_null(snoop_id);
    snoop_all = zmq_socket(s_hub.zctx, ZMQ_SUB);
    assert_non_null(snoop_all);
    assert_int_equal(zmq_setsockopt(snoop_all, ZMQ_LINGER, &zero, sizeof zero),
        0);
    assert_int_equal(zmq_setsockopt(snoop_all, ZMQ_CURVE_SERVERKEY,
                         s_hub.pub.transport_pk, 32), 0);
    assert_int_equal(zmq_setsockopt(snoop_all, ZMQ_CURVE_PUBLICKEY,
                         s_chl.transport_pk, 32), 0);
    assert_int_equal(zmq_setsockopt(snoop_all, ZMQ_CURVE_SECRETKEY,
                         s_chl.transport_sk, 32), 0);
    assert_int_equal(zmq_setsockopt(snoop_all, ZMQ_SUBSCRIBE, "", 0), 0);
    assert_int_equal(zmq_connect(snoop_all, s_hub.notify_ep), 0);
    for (attempt = 0; attempt < 20 && !got; attempt++) {
        zmq_pollitem_t item = {per, 0, ZMQ_POLLIN, 0};
        uint8_t       *env;
        size_t         len;

        env = s_seal(&s_arg, to, 1, s_seq, NULL, "for PER only", &len);
        s_push_ok(arg, env, len, "ARG", s_seq++);
        free(env);
        if (zmq_poll(&item, 1, 500) > 0) {
            char topic[32];
            assert_int_equal(zmq_recv(per, topic, sizeof topic, 0), 4);
            got = 1;
        }
    }
    assert_true(got);
    /* One more, now that every subscription has long arrived. */
    {
        uint8_t *env;
        size_t   len;
        env = s_seal(&s_arg, to, 1, s_seq, NULL, "for PER again", &len);
        s_push_ok(arg, env, len, "ARG", s_seq++);
        free(env);
    }
    items[0] = (zmq_pollitem_t){snoop_id, 0, ZMQ_POLLIN, 0};
    items[1] = (zmq_pollitem_t){snoop_all, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(items, 2, 1000), 0);
    assert_true(itest_file_contains(s_hub.log, "refused a notification "
        "subscription of CHL", 5000));
    zmq_close(snoop_all);
    zmq_close(snoop_id);
    zmq_close(per);
    zmq_close(arg);
}

/* A member sending package after refused package gets a signed rejection
 * for each up to a bound a minute, then an unsigned "busy"; the audit
 * trail gets one refusal row per reason a minute. */
static void
test_hub_bounds_rejections_of_one_member(void **state)
{
    const itest_member_t *to[] = {&s_per};
    void                 *d = s_dealer(&s_per);
    uint8_t              *env;
    size_t                len;
    int                   i, signed_ = 0, busy = 0;

    (void)state;
    env = s_seal(&s_arg, to, 1, 700, NULL, "not PER's to push", &len);
    for (i = 0; i < 70; i++) {
        Csbm__WireReply *r = s_submit(d, env, len);
        if (r->status == CSBM__WIRE_STATUS__WIRE_REJECTED) {
            assert_int_equal(r->reason,
                CSBM__REASON_CODE__REASON_SENDER_MISMATCH);
            assert_non_null(r->submit);
            assert_non_null(r->submit->rejection);
            signed_++;
        } else {
            assert_int_equal(r->status, CSBM__WIRE_STATUS__WIRE_RETRY);
            assert_int_equal(r->reason, CSBM__REASON_CODE__REASON_BUSY);
            assert_true(r->body_case != CSBM__WIRE_REPLY__BODY_SUBMIT
                        || r->submit->rejection == NULL);
            busy++;
        }
        csbm__wire_reply__free_unpacked(r, NULL);
    }
    free(env);
    zmq_close(d);
    assert_true(signed_ >= 1 && signed_ <= 60);
    assert_true(busy >= 10);
    assert_true(s_sql_int("SELECT count(*) FROM events WHERE kind = 'refuse' "
                    "AND state = 'PER'", NULL, 0) <= 2);
}

/* A second hub on the same archive is refused, naming the first. */
static void
test_hub_refuses_second_hub_on_same_archive(void **state)
{
    static char pass_env[] = "CSBM_PASSPHRASE=" ITEST_PASSPHRASE;
    const char *env[] = {pass_env, NULL};
    char        ep[64], log[ITEST_PATH_MAX + 32], needle[96];
    const char *argv[] = {itest_csbm(), "hub", "--keys", s_hub.keys,
        "--keyring", s_hub.keyring, "--data", s_hub.db, "--bind", ep,
        "--federation", FED, NULL};

    (void)state;
    itest_endpoint(itest_free_port(), ep, sizeof ep);
    snprintf(log, sizeof log, "%s/second.log", s_hub.root);
    assert_int_equal(itest_run(argv, env, NULL, log, 120000), 2);
    snprintf(needle, sizeof needle, "is in use by another hub (pid %ld)",
        (long)s_hub.pid);
    assert_true(itest_file_contains(log, needle, 0));
    assert_true(itest_alive(s_hub.pid));
}

/* An endpoint without its scheme is refused with the expected form. */
static void
test_hub_explains_endpoint_form(void **state)
{
    char        log[ITEST_PATH_MAX + 32];
    const char *argv[] = {itest_csbm(), "hub", "--keys", s_hub.keys,
        "--keyring", s_hub.keyring, "--data", s_hub.db, "--bind",
        "127.0.0.1:7777", "--federation", FED, NULL};

    (void)state;
    snprintf(log, sizeof log, "%s/bind.log", s_hub.root);
    assert_int_equal(itest_run(argv, NULL, NULL, log, 60000), 2);
    assert_true(itest_file_contains(log, "tcp://HOST:PORT", 0));
    assert_false(itest_file_contains(log, "Invalid argument", 0));
}

static void
test_hub_stops_on_sigterm_with_every_receipt_archived(void **state)
{
    struct timespec a, b;
    int             code;
    int64_t         ms;
    size_t          i;
    char            sql[128];

    (void)state;
    clock_gettime(CLOCK_MONOTONIC, &a);
    code = itest_stop(s_hub.pid, SIGTERM, 10000);
    clock_gettime(CLOCK_MONOTONIC, &b);
    ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    assert_int_equal(code, 0);
    assert_true(ms < 5000);
    assert_true(itest_file_contains(s_hub.log, "hub stopped", 0));
    assert_int_equal(s_sql_int("SELECT count(*) FROM archive", NULL, 0),
        (int64_t)s_n_pushed);
    for (i = 0; i < s_n_pushed; i++) {
        snprintf(sql, sizeof sql, "SELECT position FROM archive WHERE "
            "package_id = ? AND receipt IS NOT NULL");
        assert_int_equal(s_sql_int(sql, s_pushed[i].id, ENVELOPE_ID_BYTES),
            (int64_t)s_pushed[i].position);
    }
    assert_true(s_sql_int("SELECT count(*) FROM events WHERE kind = "
                    "'handshake'", NULL, 0) >= 1);
    /* Every archived package is in the audit trail by its row (above);
     * the resubmissions of this file's tests are events. */
    assert_true(s_sql_int("SELECT count(*) FROM events WHERE kind = 'push' "
                    "AND detail LIKE 'resubmitted%'", NULL, 0) >= 1);
    assert_int_equal(s_sql_int("SELECT count(*) FROM events WHERE kind = "
                         "'push' AND detail NOT LIKE 'resubmitted%'", NULL, 0),
        0);
    assert_true(s_sql_int("SELECT count(*) FROM events WHERE kind = 'refuse' "
                    "AND reason = 5", NULL, 0) >= 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hub_ping_answers_time_and_size),
        cmocka_unit_test(test_hub_push_returns_verified_receipt),
        cmocka_unit_test(test_hub_resubmission_returns_original_receipt),
        cmocka_unit_test(test_hub_refuses_replays),
        cmocka_unit_test(test_hub_replay_hides_another_senders_position),
        cmocka_unit_test(test_hub_refuses_package_of_another_member),
        cmocka_unit_test(test_hub_pull_serves_recipients_only),
        cmocka_unit_test(test_hub_notifies_recipients),
        cmocka_unit_test(test_hub_refuses_unknown_transport_key),
        cmocka_unit_test(test_hub_survives_garbage_and_oversized_messages),
        cmocka_unit_test(test_hub_limits_pipelined_and_empty_pulls),
        cmocka_unit_test(test_hub_notifies_addressee_only),
        cmocka_unit_test(test_hub_bounds_rejections_of_one_member),
        cmocka_unit_test(test_hub_refuses_second_hub_on_same_archive),
        cmocka_unit_test(test_hub_explains_endpoint_form),
        cmocka_unit_test(test_hub_stops_on_sigterm_with_every_receipt_archived),
    };

    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
