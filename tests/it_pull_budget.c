/*
 * it_pull_budget: the hub's budget of pull replies a member was sent and
 * has not acknowledged (--max-unread-mib 1), with the real `csbm hub` on
 * loopback and this test as the members.
 *
 * ARG pushes well over 1 MiB of packages to CHL and PER. CHL catches up
 * page by page, each pull after the cursor of the reply it read: it gets
 * every package exactly once and is never told to wait. PER sends pulls
 * without reading the replies: once what it was sent passes the budget it
 * is answered WIRE_RETRY / REASON_BUSY, and what it got stays near the
 * budget. The hub serves on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "crypto/envelope.h"
#include "crypto/receipt.h"
#include "node/wire.h"
#include "tests/support/ihub.h"
#include "tests/support/itest.h"

#define FED       "IT-PULL-BUDGET-FED"
#define CALL_MS   30000
#define N_PKG     1000
#define BODY      1000
#define WINDOW    32   /* submits in flight (the hub queues 64 replies) */
#define PAGE      64
#define N_GREEDY  60

static ihub_t         s_hub;
static itest_member_t s_arg, s_chl, s_per;

/* What ARG pushed, and the position each got. */
static uint8_t *s_env[N_PKG];
static size_t   s_len[N_PKG];
static uint64_t s_pos[N_PKG];
static size_t   s_total; /* envelope bytes */

/* ------------------------------------------------------------ harness --- */

/* Start the shared hub with ARG, CHL and PER in its keyring and a budget
 * of 1 MiB unread. Returns 0, or -1 if it did not start. */
static int
s_group_setup(void **state)
{
    const ihub_member_t members[] = {{&s_arg, "ARG", 1}, {&s_chl, "CHL", 1},
        {&s_per, "PER", 1}};
    const char *extra[] = {"--max-unread-mib", "1", NULL};

    (void)state;
    return ihub_start(&s_hub, "it-pull-budget", FED, members,
        sizeof members / sizeof members[0], 1, extra);
}

/* Free what ARG pushed, stop everything and remove the group's files.
 * Returns 0. */
static int
s_group_teardown(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < N_PKG; i++)
        free(s_env[i]);
    ihub_cleanup(&s_hub);
    return 0;
}

/* A DEALER for m on the hub (fails the test if it cannot be made). */
static void *
s_dealer(const itest_member_t *m)
{
    return ihub_dealer(&s_hub, m);
}

/* A package from ARG to CHL and PER with a body of BODY bytes. */
static uint8_t *
s_seal(uint64_t seq, size_t *len)
{
    envelope_seal_params_t p;
    envelope_recipient_t   r[2];
    uint8_t               *out = NULL, body[BODY];
    errbuf_t               err = {{0}};
    size_t                 i;

    for (i = 0; i < BODY; i++)
        body[i] = (uint8_t)('a' + (seq + i) % 26);
    r[0].id = s_chl.owner; /* sorted */
    r[0].box_pk = s_chl.box_pk;
    r[1].id = s_per.owner;
    r[1].box_pk = s_per.box_pk;
    memset(&p, 0, sizeof p);
    p.federation = FED;
    p.sender = s_arg.owner;
    p.sign_sk = s_arg.sign_sk;
    p.package_type = CSBM__PACKAGE_TYPE__MILEX_REPORT;
    p.distribution = CSBM__DISTRIBUTION__DIRECT;
    p.recipients = r;
    p.n_recipients = 2;
    p.created_at = (uint64_t)time(NULL);
    p.sequence = seq;
    p.year = 2025;
    if (envelope_seal(&p, body, sizeof body, &out, len, &err) != 0)
        fail_msg("seal: %s", err.msg);
    return out;
}

/* Pack and send req from d without waiting. */
static void
s_send(void *d, Csbm__WireRequest *req, uint64_t id)
{
    size_t   len;
    uint8_t *buf;

    req->protocol = WIRE_PROTOCOL;
    req->request_id = id;
    len = csbm__wire_request__get_packed_size(req);
    buf = malloc(len);
    assert_non_null(buf);
    csbm__wire_request__pack(req, buf);
    assert_int_equal(zmq_send(d, buf, len, 0), (int)len);
    free(buf);
}

static void
s_submit_nowait(void *d, size_t i)
{
    Csbm__WireRequest   req;
    Csbm__SubmitRequest sr = CSBM__SUBMIT_REQUEST__INIT;

    csbm__wire_request__init(&req);
    sr.envelope.data = s_env[i];
    sr.envelope.len = s_len[i];
    req.body_case = CSBM__WIRE_REQUEST__BODY_SUBMIT;
    req.submit = &sr;
    s_send(d, &req, 1 + (uint64_t)i);
}

static void
s_pull_nowait(void *d, uint64_t after, uint64_t id)
{
    Csbm__WireRequest req;
    Csbm__PullRequest pr = CSBM__PULL_REQUEST__INIT;

    csbm__wire_request__init(&req);
    pr.after = after;
    pr.max_items = PAGE;
    req.body_case = CSBM__WIRE_REQUEST__BODY_PULL;
    req.pull = &pr;
    s_send(d, &req, id);
}

/* The next reply on d (NULL if none within timeout_ms). */
static Csbm__WireReply *
s_recv(void *d, int timeout_ms)
{
    zmq_pollitem_t   item = {d, 0, ZMQ_POLLIN, 0};
    zmq_msg_t        m;
    Csbm__WireReply *r;

    if (zmq_poll(&item, 1, timeout_ms) <= 0)
        return NULL;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, d, 0) >= 0);
    r = csbm__wire_reply__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    assert_non_null(r);
    return r;
}

/* The index of the package pushed at position pos. */
static size_t
s_index(uint64_t pos)
{
    size_t i;

    for (i = 0; i < N_PKG; i++)
        if (s_pos[i] == pos)
            return i;
    fail_msg("no package was pushed at position %llu",
        (unsigned long long)pos);
    return 0;
}

/* An item of a pull reply is byte for byte the package at its position. */
static void
s_check_item(const Csbm__PullItem *it)
{
    size_t i = s_index(it->position);

    assert_int_equal(it->envelope.len, s_len[i]);
    assert_memory_equal(it->envelope.data, s_env[i], s_len[i]);
}

/* -------------------------------------------------------------- tests --- */

/* ARG pushes N_PKG packages, WINDOW in flight, each receipted. */
static void
test_push_more_than_the_budget(void **state)
{
    void  *d = s_dealer(&s_arg);
    size_t sent = 0, got = 0, i;

    (void)state;
    for (i = 0; i < N_PKG; i++) {
        s_env[i] = s_seal(1 + (uint64_t)i, &s_len[i]);
        s_total += s_len[i];
    }
    assert_true(s_total > (1u << 20) + (1u << 18));
    while (got < N_PKG) {
        Csbm__WireReply *r;
        Csbm__Receipt   *rc = NULL;
        treehead_t       th;
        errbuf_t         err = {{0}};
        uint8_t          hash[32];

        while (sent < N_PKG && sent - got < WINDOW)
            s_submit_nowait(d, sent++);
        r = s_recv(d, CALL_MS);
        if (r == NULL)
            fail_msg("no reply to push %zu", got);
        assert_true(r->request_id >= 1 && r->request_id <= N_PKG);
        i = (size_t)r->request_id - 1;
        if (r->status != CSBM__WIRE_STATUS__WIRE_OK)
            fail_msg("push %zu: %s: %s", i, receipt_reason_name(r->reason),
                r->message);
        assert_int_equal(r->body_case, CSBM__WIRE_REPLY__BODY_SUBMIT);
        assert_false(r->submit->duplicate);
        assert_int_equal(s_pos[i], 0);
        if (receipt_verify(r->submit->receipt, r->submit->inclusion,
                s_hub.pub.sign_pk, &rc, &th, &err) != 0)
            fail_msg("receipt %zu: %s", i, err.msg);
        receipt_envelope_hash(s_env[i], s_len[i], hash);
        assert_memory_equal(rc->envelope_hash.data, hash, 32);
        assert_int_equal(rc->sequence, 1 + i);
        assert_true(rc->position >= 1);
        s_pos[i] = rc->position;
        csbm__receipt__free_unpacked(rc, NULL);
        csbm__wire_reply__free_unpacked(r, NULL);
        got++;
    }
    zmq_close(d);
}

/* CHL reads each reply and pulls after its cursor: everything, once, and
 * never "busy", although it is twice the budget. */
static void
test_catching_up_is_never_held_back(void **state)
{
    void    *d = s_dealer(&s_chl);
    uint64_t after = 0, last = 0, id = 10000;
    size_t   n = 0, bytes = 0, pages = 0, i;
    int      more = 1;

    (void)state;
    while (more) {
        Csbm__WireReply *r;

        s_pull_nowait(d, after, ++id);
        r = s_recv(d, CALL_MS);
        if (r == NULL)
            fail_msg("no reply to pull after %llu",
                (unsigned long long)after);
        assert_int_equal(r->request_id, id);
        if (r->status != CSBM__WIRE_STATUS__WIRE_OK)
            fail_msg("pull after %llu: %s: %s", (unsigned long long)after,
                receipt_reason_name(r->reason), r->message);
        assert_int_equal(r->body_case, CSBM__WIRE_REPLY__BODY_PULL);
        assert_true(r->pull->n_items <= PAGE);
        for (i = 0; i < r->pull->n_items; i++) {
            assert_true(r->pull->items[i]->position > last);
            last = r->pull->items[i]->position;
            s_check_item(r->pull->items[i]);
            bytes += r->pull->items[i]->envelope.len;
            n++;
        }
        assert_true(r->pull->n_items > 0 || !r->pull->more);
        assert_int_equal(r->pull->cursor, r->pull->n_items > 0 ? last : after);
        after = r->pull->cursor;
        more = r->pull->more;
        pages++;
        csbm__wire_reply__free_unpacked(r, NULL);
        assert_true(pages <= N_PKG);
    }
    assert_int_equal(n, N_PKG);
    assert_int_equal(bytes, s_total);
    /* Nothing new after the last cursor. */
    s_pull_nowait(d, after, ++id);
    {
        Csbm__WireReply *r = s_recv(d, CALL_MS);

        assert_non_null(r);
        assert_int_equal(r->status, CSBM__WIRE_STATUS__WIRE_OK);
        assert_int_equal(r->pull->n_items, 0);
        csbm__wire_reply__free_unpacked(r, NULL);
    }
    zmq_close(d);
}

/* PER sends N_GREEDY pulls after 0 without reading: past the budget it
 * is told to wait, and what it was served stays near the budget. */
static void
test_pipelining_without_reading_is_held_back(void **state)
{
    void  *d = s_dealer(&s_per);
    int    i, got = 0, ok = 0, unread = 0;
    size_t ok_bytes = 0, j;

    (void)state;
    for (i = 0; i < N_GREEDY; i++) {
        s_pull_nowait(d, 0, 20000 + (uint64_t)i);
        usleep(5000); /* into different batches */
    }
    for (;;) {
        Csbm__WireReply *r = s_recv(d, got < N_GREEDY ? CALL_MS : 300);

        if (r == NULL)
            break;
        got++;
        assert_true(r->request_id >= 20000
                    && r->request_id < 20000 + N_GREEDY);
        if (r->status == CSBM__WIRE_STATUS__WIRE_OK) {
            uint64_t last = 0;

            assert_int_equal(r->body_case, CSBM__WIRE_REPLY__BODY_PULL);
            ok++;
            for (j = 0; j < r->pull->n_items; j++) {
                assert_true(r->pull->items[j]->position > last);
                last = r->pull->items[j]->position;
                s_check_item(r->pull->items[j]);
                ok_bytes += r->pull->items[j]->envelope.len;
            }
        } else if (r->status == CSBM__WIRE_STATUS__WIRE_RETRY
                   && r->reason == CSBM__REASON_CODE__REASON_BUSY) {
            if (strstr(r->message, "not acknowledged") != NULL)
                unread++;
        } else {
            fail_msg("pull answered %s: %s", receipt_reason_name(r->reason),
                r->message);
        }
        csbm__wire_reply__free_unpacked(r, NULL);
    }
    zmq_close(d);
    assert_int_equal(got, N_GREEDY);
    assert_true(ok >= 1);
    assert_true(unread >= 1);
    assert_true(ok_bytes < 3u * (1u << 20));
}

/* The hub serves on. */
static void
test_hub_serves_on(void **state)
{
    void                *d = s_dealer(&s_chl);
    Csbm__WireRequest    req;
    Csbm__PingRequest    pr = CSBM__PING_REQUEST__INIT;
    Csbm__WireReply     *r;

    (void)state;
    assert_true(itest_alive(s_hub.pid));
    csbm__wire_request__init(&req);
    req.body_case = CSBM__WIRE_REQUEST__BODY_PING;
    req.ping = &pr;
    s_send(d, &req, 30000);
    r = s_recv(d, CALL_MS);
    assert_non_null(r);
    assert_int_equal(r->request_id, 30000);
    assert_int_equal(r->status, CSBM__WIRE_STATUS__WIRE_OK);
    assert_int_equal(r->body_case, CSBM__WIRE_REPLY__BODY_PING);
    assert_int_equal(r->ping->archive_size, N_PKG);
    csbm__wire_reply__free_unpacked(r, NULL);
    zmq_close(d);
    assert_true(itest_alive(s_hub.pid));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_more_than_the_budget),
        cmocka_unit_test(test_catching_up_is_never_held_back),
        cmocka_unit_test(test_pipelining_without_reading_is_held_back),
        cmocka_unit_test(test_hub_serves_on),
    };

    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
