/*
 * it_hub_flush: a receipt is issued only after the package is durably
 * stored. The real `csbm hub` on loopback defers the archive's fsync to
 * its flush thread and answers a batch only once that flush is done; here
 * the archive's write-ahead log vanishes under it (unlinked), so the next
 * flush cannot be made. The push that needed it gets no receipt but
 * WIRE_RETRY (REASON_INTERNAL), and the hub stops by itself with status 2,
 * saying why in its log.
 *
 * The tests run in order and share one hub.
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

#define FED        "IT-HUB-FLUSH-FED"
#define CALL_MS    30000  /* generous: ASan on a slow machine */
#define FAIL_MS    10000  /* the push after the log vanished */
#define EXIT_MS    15000  /* the hub stopping by itself */

static ihub_t         s_hub;
static char           s_wal[ITEST_PATH_MAX + 32];
static int            s_hub_code = -1; /* its exit code once reaped */
static itest_member_t s_arg, s_chl;
static uint64_t       s_next_id = 1000;

/* ------------------------------------------------------------ harness --- */

/* Start the shared hub with ARG and CHL in its keyring, no notification
 * socket. Returns 0, or -1 if it did not start. */
static int
s_group_setup(void **state)
{
    const ihub_member_t members[] = {{&s_arg, "ARG", 1}, {&s_chl, "CHL", 1}};
    const char *extra[] = {"--log-level", "debug", NULL};

    (void)state;
    if (ihub_start(&s_hub, "it-hub-flush", FED, members,
            sizeof members / sizeof members[0], 0, extra) != 0)
        return -1;
    snprintf(s_wal, sizeof s_wal, "%s-wal", s_hub.db);
    return 0;
}

/* Stop everything and remove the group's files. Returns 0. */
static int
s_group_teardown(void **state)
{
    (void)state;
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
s_seal(uint64_t seq, const char *text, size_t *len)
{
    envelope_seal_params_t p;
    envelope_recipient_t   r = {s_chl.owner, s_chl.box_pk};
    uint8_t               *out = NULL;
    errbuf_t               err = {{0}};

    memset(&p, 0, sizeof p);
    p.federation = FED;
    p.sender = s_arg.owner;
    p.sign_sk = s_arg.sign_sk;
    p.package_type = CSBM__PACKAGE_TYPE__MILEX_REPORT;
    p.distribution = CSBM__DISTRIBUTION__DIRECT;
    p.recipients = &r;
    p.n_recipients = 1;
    p.created_at = (uint64_t)time(NULL);
    p.sequence = seq;
    p.year = 2025;
    if (envelope_seal(&p, (const uint8_t *)text, strlen(text), &out, len,
            &err) != 0)
        fail_msg("seal: %s", err.msg);
    return out;
}

/* Submit env; the reply, or NULL (with err) if none came in timeout_ms. */
static Csbm__WireReply *
s_submit(void *dealer, const uint8_t *env, size_t len, int timeout_ms,
    errbuf_t *err)
{
    Csbm__WireRequest   req;
    Csbm__SubmitRequest sr = CSBM__SUBMIT_REQUEST__INIT;
    Csbm__WireReply    *r;

    csbm__wire_request__init(&req);
    sr.envelope.data = (uint8_t *)(uintptr_t)env;
    sr.envelope.len = len;
    req.body_case = CSBM__WIRE_REQUEST__BODY_SUBMIT;
    req.submit = &sr;
    req.protocol = WIRE_PROTOCOL;
    req.request_id = s_next_id++;
    r = wire_call(dealer, &req, timeout_ms, err);
    if (r != NULL)
        assert_int_equal(r->request_id, req.request_id);
    return r;
}

/* -------------------------------------------------------------- tests --- */

static void
test_flush_push_gets_verified_receipt(void **state)
{
    void                  *d = s_dealer(&s_arg);
    Csbm__WireReply       *r;
    Csbm__Receipt         *rc = NULL;
    treehead_t             th;
    errbuf_t               err = {{0}};
    uint8_t                hash[32], *env;
    size_t                 len;

    (void)state;
    env = s_seal(1, "durable report", &len);
    r = s_submit(d, env, len, CALL_MS, &err);
    if (r == NULL)
        fail_msg("hub call: %s", err.msg);
    if (r->status != CSBM__WIRE_STATUS__WIRE_OK)
        fail_msg("push refused: %s: %s", receipt_reason_name(r->reason),
            r->message);
    assert_int_equal(r->body_case, CSBM__WIRE_REPLY__BODY_SUBMIT);
    assert_false(r->submit->duplicate);
    assert_non_null(r->submit->receipt);
    if (receipt_verify(r->submit->receipt, r->submit->inclusion,
            s_hub.pub.sign_pk, &rc, &th, &err) != 0)
        fail_msg("receipt: %s", err.msg);
    receipt_envelope_hash(env, len, hash);
    assert_string_equal(rc->federation, FED);
    assert_string_equal(rc->sender, "ARG");
    assert_int_equal(rc->sequence, 1);
    assert_memory_equal(rc->envelope_hash.data, hash, 32);
    assert_int_equal(rc->position, 1);
    csbm__receipt__free_unpacked(rc, NULL);
    csbm__wire_reply__free_unpacked(r, NULL);
    free(env);
    zmq_close(d);
}

static void
test_flush_lost_log_gets_retry_not_receipt(void **state)
{
    void            *d = s_dealer(&s_arg);
    Csbm__WireReply *r;
    errbuf_t         err = {{0}};
    uint8_t         *env;
    size_t           len;

    (void)state;
    /* The write-ahead log vanishes under the hub. */
    assert_int_equal(access(s_wal, F_OK), 0);
    assert_int_equal(unlink(s_wal), 0);
    env = s_seal(2, "report that cannot be flushed", &len);
    r = s_submit(d, env, len, FAIL_MS, &err);
    if (r != NULL) {
        if (r->status == CSBM__WIRE_STATUS__WIRE_OK)
            fail_msg("the hub answered WIRE_OK (%s) though its write-ahead "
                "log was gone", r->submit != NULL && r->submit->receipt
                    ? "with a receipt" : "without a receipt");
        assert_int_equal(r->status, CSBM__WIRE_STATUS__WIRE_RETRY);
        if (r->reason != CSBM__REASON_CODE__REASON_INTERNAL)
            fail_msg("retry with %s (%s), not REASON_INTERNAL",
                receipt_reason_name(r->reason), r->message);
        assert_non_null(r->message);
        assert_non_null(strstr(r->message, "storage failure"));
        if (r->body_case == CSBM__WIRE_REPLY__BODY_SUBMIT)
            assert_null(r->submit->receipt);
        csbm__wire_reply__free_unpacked(r, NULL);
    } else {
        /* No answer at all: acceptable only from a hub that stopped for
         * that very reason (checked with its code here and below). */
        s_hub_code = itest_wait(s_hub.pid, EXIT_MS);
        if (s_hub_code != 2)
            fail_msg("no answer (%s) and the hub %s", err.msg,
                s_hub_code < 0 ? "still runs" : "exited otherwise");
    }
    free(env);
    zmq_close(d);
}

static void
test_flush_hub_stops_with_status_2(void **state)
{
    (void)state;
    if (s_hub_code < 0)
        s_hub_code = itest_wait(s_hub.pid, EXIT_MS);
    if (s_hub_code < 0)
        fail_msg("the hub still runs %d ms after its flush failed", EXIT_MS);
    assert_int_equal(s_hub_code, 2);
    assert_false(itest_alive(s_hub.pid));
    assert_true(itest_file_contains(s_hub.log, "flush", 0));
    assert_true(itest_file_contains(s_hub.log, "could not be flushed", 0)
        || itest_file_contains(s_hub.log, "cannot open the write-ahead log", 0)
        || itest_file_contains(s_hub.log,
            "flushing the write-ahead log failed", 0));
    assert_false(itest_file_contains(s_hub.log, "hub stopped;", 0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flush_push_gets_verified_receipt),
        cmocka_unit_test(test_flush_lost_log_gets_retry_not_receipt),
        cmocka_unit_test(test_flush_hub_stops_with_status_2),
    };

    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
