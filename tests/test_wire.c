/*
 * test_wire: the exchange's sockets and framing. Options every socket
 * carries (size bound, heartbeats, no linger, CURVE roles); wire_call
 * against a scripted hub on loopback: it returns the reply with its own
 * request id and drops stale ones, gives up after the timeout, refuses a
 * reply that does not parse or speaks another protocol; wire_send refuses
 * what is over the bound; bad endpoints and ids are refused with a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "node/wire.h"
#include "node/zap.h"
#include "tests/support/itest.h"

static itest_member_t s_arg, s_hub;
static keyring_t     *s_kr;

typedef struct {
    void  *zctx;
    zap_t *zap;
    void  *router;
    char   ep[64];
} rig_t;

static int
s_setup(void **state)
{
    (void)state;
    if (itest_member(&s_arg, "ARG") || itest_member(&s_hub, "hub")
        || (s_kr = keyring_new()) == NULL
        || itest_keyring_bind(s_kr, &s_arg, 0, KEYRING_FOREVER,
            KEYRING_ACTIVE, 0))
        return -1;
    return 0;
}

static int
s_teardown(void **state)
{
    (void)state;
    keyring_destroy(&s_kr);
    return 0;
}

static void
s_rig(rig_t *r)
{
    errbuf_t err = {{0}};
    int      tries;

    memset(r, 0, sizeof *r);
    assert_non_null(r->zctx = zmq_ctx_new());
    if ((r->zap = zap_new(r->zctx, s_kr, &err)) == NULL)
        fail_msg("zap_new: %s", err.msg);
    for (tries = 0; tries < 5 && r->router == NULL; tries++) {
        itest_endpoint(itest_free_port(), r->ep, sizeof r->ep);
        r->router = wire_hub_socket(r->zctx, r->ep, s_hub.transport_sk, &err);
    }
    if (r->router == NULL)
        fail_msg("wire_hub_socket: %s", err.msg);
}

static void
s_rig_end(rig_t *r)
{
    zmq_close(r->router);
    zap_destroy(&r->zap);
    zmq_ctx_term(r->zctx);
}

static void *
s_member(rig_t *r)
{
    errbuf_t err = {{0}};
    void    *s = wire_member_socket(r->zctx, r->ep, s_arg.transport_pk,
        s_arg.transport_sk, s_hub.transport_pk, &err);

    if (s == NULL)
        fail_msg("wire_member_socket: %s", err.msg);
    return s;
}

/* ----------------------------------------------------- scripted hub --- */

typedef enum {
    SCRIPT_STALE_THEN_RIGHT, /* a reply to an older id, then the right one */
    SCRIPT_SILENT,           /* take the request, never answer */
    SCRIPT_GARBAGE,          /* answer with bytes that are no WireReply */
    SCRIPT_OTHER_PROTOCOL,   /* answer as protocol 2 */
} script_t;

typedef struct {
    rig_t   *rig;
    script_t script;
    char     user[32];
    uint64_t seen_id;
} hub_thread_t;

static void
s_reply(void *router, zmq_msg_t *rid, uint32_t protocol, uint64_t id,
    const char *message)
{
    Csbm__WireReply r;
    Csbm__PingReply p = CSBM__PING_REPLY__INIT;
    zmq_msg_t       copy;
    errbuf_t        err = {{0}};

    csbm__wire_reply__init(&r);
    r.protocol = protocol;
    r.request_id = id;
    r.status = CSBM__WIRE_STATUS__WIRE_OK;
    r.message = (char *)(uintptr_t)message;
    p.archive_size = id;
    r.body_case = CSBM__WIRE_REPLY__BODY_PING;
    r.ping = &p;
    zmq_msg_init(&copy);
    zmq_msg_copy(&copy, rid);
    zmq_msg_send(&copy, router, ZMQ_SNDMORE);
    /* No cmocka assertion off the main thread: a failure shows as the
     * caller's timeout. */
    if (wire_send(router, &r.base, 0, &err) != 0)
        fprintf(stderr, "scripted hub: %s\n", err.msg);
}

static void *
s_hub_thread(void *arg)
{
    hub_thread_t      *h = arg;
    zmq_msg_t          rid, m;
    Csbm__WireRequest *req;
    const char        *u;

    zmq_msg_init(&rid);
    zmq_msg_init(&m);
    if (zmq_msg_recv(&rid, h->rig->router, 0) < 0
        || zmq_msg_recv(&m, h->rig->router, 0) < 0)
        return NULL;
    u = zmq_msg_gets(&m, "User-Id");
    snprintf(h->user, sizeof h->user, "%s", u ? u : "");
    req = csbm__wire_request__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    if (req != NULL) {
        h->seen_id = req->request_id;
        switch (h->script) {
        case SCRIPT_STALE_THEN_RIGHT:
            s_reply(h->rig->router, &rid, WIRE_PROTOCOL, req->request_id - 1,
                "stale");
            s_reply(h->rig->router, &rid, WIRE_PROTOCOL, req->request_id,
                "right");
            break;
        case SCRIPT_GARBAGE: {
            zmq_msg_t copy;
            zmq_msg_init(&copy);
            zmq_msg_copy(&copy, &rid);
            zmq_msg_send(&copy, h->rig->router, ZMQ_SNDMORE);
            zmq_send(h->rig->router, "\xff\xff\xff\xff", 4, 0);
            break;
        }
        case SCRIPT_OTHER_PROTOCOL:
            s_reply(h->rig->router, &rid, 2, req->request_id, "future");
            break;
        case SCRIPT_SILENT:
            break;
        }
        csbm__wire_request__free_unpacked(req, NULL);
    }
    zmq_msg_close(&rid);
    zmq_msg_close(&m);
    return NULL;
}

static Csbm__WireReply *
s_call_scripted(script_t script, int timeout_ms, errbuf_t *err,
    hub_thread_t *h, int64_t *elapsed_ms)
{
    rig_t             rig;
    pthread_t         t;
    void             *dealer;
    Csbm__WireRequest req;
    Csbm__PingRequest ping = CSBM__PING_REQUEST__INIT;
    Csbm__WireReply  *reply;
    struct timespec   a, b;

    int               rcvtimeo = 10000;

    s_rig(&rig);
    /* The scripted hub gives up waiting at some point, so the join below
     * cannot hang. */
    zmq_setsockopt(rig.router, ZMQ_RCVTIMEO, &rcvtimeo, sizeof rcvtimeo);
    memset(h, 0, sizeof *h);
    h->rig = &rig;
    h->script = script;
    assert_int_equal(pthread_create(&t, NULL, s_hub_thread, h), 0);
    dealer = s_member(&rig);
    csbm__wire_request__init(&req);
    req.protocol = WIRE_PROTOCOL;
    req.request_id = 77;
    req.body_case = CSBM__WIRE_REQUEST__BODY_PING;
    req.ping = &ping;
    clock_gettime(CLOCK_MONOTONIC, &a);
    reply = wire_call(dealer, &req, timeout_ms, err);
    clock_gettime(CLOCK_MONOTONIC, &b);
    *elapsed_ms = (b.tv_sec - a.tv_sec) * 1000
        + (b.tv_nsec - a.tv_nsec) / 1000000;
    zmq_close(dealer);
    pthread_join(t, NULL);
    s_rig_end(&rig);
    return reply;
}

/* -------------------------------------------------------------- tests --- */

static void
test_wire_sockets_carry_bounds_and_heartbeats(void **state)
{
    rig_t    rig;
    void    *d, *pub, *sub;
    int64_t  max = 0;
    int      v = -1;
    size_t   len;
    errbuf_t err = {{0}};
    char     ep[64];

    (void)state;
    s_rig(&rig);
    d = s_member(&rig);
    len = sizeof max;
    assert_int_equal(zmq_getsockopt(rig.router, ZMQ_MAXMSGSIZE, &max, &len),
        0);
    assert_int_equal(max, (int64_t)WIRE_MAX_MESSAGE);
    len = sizeof max;
    assert_int_equal(zmq_getsockopt(d, ZMQ_MAXMSGSIZE, &max, &len), 0);
    assert_int_equal(max, (int64_t)WIRE_MAX_MESSAGE);
    len = sizeof v;
    assert_int_equal(zmq_getsockopt(rig.router, ZMQ_LINGER, &v, &len), 0);
    assert_int_equal(v, 0);
    len = sizeof v;
    assert_int_equal(zmq_getsockopt(d, ZMQ_HEARTBEAT_IVL, &v, &len), 0);
    assert_int_equal(v, WIRE_HEARTBEAT_MS);
    len = sizeof v;
    assert_int_equal(zmq_getsockopt(rig.router, ZMQ_HEARTBEAT_TIMEOUT, &v,
                         &len), 0);
    assert_int_equal(v, WIRE_HEARTBEAT_TTL_MS);
    len = sizeof v;
    assert_int_equal(zmq_getsockopt(rig.router, ZMQ_CURVE_SERVER, &v, &len),
        0);
    assert_int_equal(v, 1);
    {
        char   dom[32];
        size_t dl = sizeof dom;
        assert_int_equal(zmq_getsockopt(rig.router, ZMQ_ZAP_DOMAIN, dom, &dl),
            0);
        assert_string_equal(dom, WIRE_ZAP_DOMAIN);
    }
    {
        int    hwm = 0;
        size_t hl = sizeof hwm;
        assert_int_equal(zmq_getsockopt(rig.router, ZMQ_SNDHWM, &hwm, &hl),
            0);
        assert_int_equal(hwm, WIRE_HUB_SNDHWM);
        hl = sizeof hwm;
        assert_int_equal(zmq_getsockopt(rig.router, ZMQ_RCVHWM, &hwm, &hl),
            0);
        assert_int_equal(hwm, WIRE_HUB_RCVHWM);
        hl = sizeof hwm;
        assert_int_equal(zmq_getsockopt(d, ZMQ_RCVHWM, &hwm, &hl), 0);
        assert_int_equal(hwm, WIRE_MEMBER_RCVHWM);
    }
    itest_endpoint(itest_free_port(), ep, sizeof ep);
    pub = wire_notify_socket(rig.zctx, ep, s_hub.transport_sk, &err);
    assert_non_null(pub);
    len = sizeof max;
    assert_int_equal(zmq_getsockopt(pub, ZMQ_MAXMSGSIZE, &max, &len), 0);
    assert_int_equal(max, WIRE_NOTIFY_MAX_MESSAGE);
    sub = wire_subscribe_socket(rig.zctx, ep, "ARG", s_arg.transport_pk,
        s_arg.transport_sk, s_hub.transport_pk, &err);
    assert_non_null(sub);
    len = sizeof max;
    assert_int_equal(zmq_getsockopt(sub, ZMQ_MAXMSGSIZE, &max, &len), 0);
    assert_int_equal(max, WIRE_NOTIFY_MAX_MESSAGE);
    zmq_close(sub);
    zmq_close(pub);
    zmq_close(d);
    s_rig_end(&rig);
}

static void
test_wire_call_takes_reply_with_own_request_id(void **state)
{
    hub_thread_t     h;
    errbuf_t         err = {{0}};
    int64_t          ms;
    Csbm__WireReply *r = s_call_scripted(SCRIPT_STALE_THEN_RIGHT, 10000, &err,
        &h, &ms);

    (void)state;
    if (r == NULL)
        fail_msg("wire_call: %s", err.msg);
    assert_int_equal(r->request_id, 77);
    assert_string_equal(r->message, "right");
    assert_int_equal(r->body_case, CSBM__WIRE_REPLY__BODY_PING);
    assert_string_equal(h.user, "ARG");
    assert_int_equal(h.seen_id, 77);
    csbm__wire_reply__free_unpacked(r, NULL);
}

static void
test_wire_call_times_out(void **state)
{
    hub_thread_t h;
    errbuf_t     err = {{0}};
    int64_t      ms;

    (void)state;
    assert_null(s_call_scripted(SCRIPT_SILENT, 400, &err, &h, &ms));
    assert_non_null(strstr(err.msg, "did not answer within 400 ms"));
    assert_true(ms >= 390);
    assert_true(ms < 5000);
    assert_int_equal(h.seen_id, 77); /* it did arrive */
}

static void
test_wire_call_refuses_garbage_reply(void **state)
{
    hub_thread_t h;
    errbuf_t     err = {{0}};
    int64_t      ms;

    (void)state;
    assert_null(s_call_scripted(SCRIPT_GARBAGE, 10000, &err, &h, &ms));
    assert_non_null(strstr(err.msg, "does not parse"));
}

static void
test_wire_call_refuses_other_protocol(void **state)
{
    hub_thread_t h;
    errbuf_t     err = {{0}};
    int64_t      ms;

    (void)state;
    assert_null(s_call_scripted(SCRIPT_OTHER_PROTOCOL, 10000, &err, &h, &ms));
    assert_non_null(strstr(err.msg, "protocol 2"));
}

static void
test_wire_send_refuses_oversized_message(void **state)
{
    rig_t               rig;
    void               *d;
    Csbm__WireRequest   req;
    Csbm__SubmitRequest sub = CSBM__SUBMIT_REQUEST__INIT;
    errbuf_t            err = {{0}};
    static uint8_t      dummy[1];

    (void)state;
    s_rig(&rig);
    d = s_member(&rig);
    csbm__wire_request__init(&req);
    req.protocol = WIRE_PROTOCOL;
    req.body_case = CSBM__WIRE_REQUEST__BODY_SUBMIT;
    req.submit = &sub;
    /* Sized, never read: the bound is checked before packing. */
    sub.envelope.data = dummy;
    sub.envelope.len = WIRE_MAX_MESSAGE;
    assert_int_equal(wire_send(d, &req.base, ZMQ_DONTWAIT, &err), -1);
    assert_non_null(strstr(err.msg, "over the limit"));
    assert_null(wire_call(d, &req, 100, &err));
    zmq_close(d);
    s_rig_end(&rig);
}

static void
test_wire_refuses_bad_endpoints_and_ids(void **state)
{
    void    *zctx = zmq_ctx_new();
    errbuf_t err = {{0}};

    (void)state;
    assert_null(wire_hub_socket(zctx, "tcp://256.0.0.1:1", s_hub.transport_sk,
        &err));
    assert_non_null(strstr(err.msg, "cannot listen on tcp://256.0.0.1:1"));
    assert_null(wire_notify_socket(zctx, "nonsense", s_hub.transport_sk,
        &err));
    assert_null(wire_member_socket(zctx, "nonsense", s_arg.transport_pk,
        s_arg.transport_sk, s_hub.transport_pk, &err));
    assert_non_null(strstr(err.msg, "tcp://HOST:PORT"));
    /* The scheme forgotten: say the expected form, not "Invalid
     * argument". */
    assert_null(wire_member_socket(zctx, "127.0.0.1:7777", s_arg.transport_pk,
        s_arg.transport_sk, s_hub.transport_pk, &err));
    assert_non_null(strstr(err.msg, "\"127.0.0.1:7777\" is not an endpoint: "
        "write tcp://HOST:PORT"));
    assert_null(wire_hub_socket(zctx, "127.0.0.1:7777", s_hub.transport_sk,
        &err));
    assert_non_null(strstr(err.msg, "tcp://HOST:PORT"));
    assert_int_equal(wire_endpoint_check("tcp://127.0.0.1:0", &err), -1);
    assert_int_equal(wire_endpoint_check("tcp://127.0.0.1:", &err), -1);
    assert_int_equal(wire_endpoint_check("tcp://:7701", &err), -1);
    assert_int_equal(wire_endpoint_check("tcp://0.0.0.0:7701", &err), 0);
    assert_int_equal(wire_endpoint_check("tcp://[::1]:7701", &err), 0);
    assert_int_equal(wire_endpoint_check("ipc:///run/csbm/hub", &err), 0);
    assert_null(wire_subscribe_socket(zctx, "tcp://127.0.0.1:1",
        "MUCH-TOO-LONG-IDENTITY", s_arg.transport_pk, s_arg.transport_sk,
        s_hub.transport_pk, &err));
    assert_null(wire_subscribe_socket(zctx, "tcp://127.0.0.1:1", "",
        s_arg.transport_pk, s_arg.transport_sk, s_hub.transport_pk, &err));
    zmq_ctx_term(zctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_sockets_carry_bounds_and_heartbeats),
        cmocka_unit_test(test_wire_call_takes_reply_with_own_request_id),
        cmocka_unit_test(test_wire_call_times_out),
        cmocka_unit_test(test_wire_call_refuses_garbage_reply),
        cmocka_unit_test(test_wire_call_refuses_other_protocol),
        cmocka_unit_test(test_wire_send_refuses_oversized_message),
        cmocka_unit_test(test_wire_refuses_bad_endpoints_and_ids),
    };

    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
