/*
 * test_zap: who may connect to the hub. The decision on its own (known,
 * unknown, withdrawn, suspended, retired, not yet valid, rotated keys),
 * then the handler thread inside a real zmq context guarding a real CURVE
 * ROUTER and PUB socket on loopback: admitted members arrive with their id
 * as User-Id, refused ones never arrive and are reported as events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "node/wire.h"
#include "node/zap.h"
#include "tests/support/itest.h"

#define T_SINCE 1000000 /* a status change, long ago */

static itest_member_t s_arg, s_ury, s_sus, s_per_old, s_per_new, s_fut, s_eve;
static itest_member_t s_hub;
static keyring_t     *s_kr;

static int
s_setup(void **state)
{
    (void)state;
    if (itest_member(&s_arg, "ARG") || itest_member(&s_ury, "URY")
        || itest_member(&s_sus, "SUS") || itest_member(&s_per_old, "PER")
        || itest_member(&s_per_new, "PER") || itest_member(&s_fut, "FUT")
        || itest_member(&s_eve, "EVE") || itest_member(&s_hub, "hub"))
        return -1;
    if ((s_kr = keyring_new()) == NULL)
        return -1;
    if (itest_keyring_bind(s_kr, &s_arg, 0, KEYRING_FOREVER, KEYRING_ACTIVE,
            0)
        || itest_keyring_bind(s_kr, &s_ury, 0, KEYRING_FOREVER,
            KEYRING_WITHDRAWN, T_SINCE)
        || itest_keyring_bind(s_kr, &s_sus, 0, KEYRING_FOREVER,
            KEYRING_SUSPENDED, T_SINCE)
        || itest_keyring_bind(s_kr, &s_per_old, 0, T_SINCE, KEYRING_ACTIVE, 0)
        || itest_keyring_bind(s_kr, &s_per_new, T_SINCE, KEYRING_FOREVER,
            KEYRING_ACTIVE, 0)
        || itest_keyring_bind(s_kr, &s_fut, INT64_MAX - 1, KEYRING_FOREVER,
            KEYRING_ACTIVE, 0)
        || itest_keyring_bind(s_kr, &s_hub, 0, KEYRING_FOREVER,
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

/* ------------------------------------------------------ the decision --- */

static void
test_zap_admits_active_member(void **state)
{
    char state_id[16], why[ZAP_DETAIL_MAX];

    (void)state;
    assert_int_equal(zap_admit(s_kr, s_arg.transport_pk, 2 * T_SINCE,
                         state_id, why, sizeof why), 0);
    assert_string_equal(state_id, "ARG");
}

static void
test_zap_refuses_unknown_key(void **state)
{
    char state_id[16], why[ZAP_DETAIL_MAX], z85[KEYS_Z85_BYTES];

    (void)state;
    assert_int_equal(zap_admit(s_kr, s_eve.transport_pk, 2 * T_SINCE,
                         state_id, why, sizeof why), -1);
    assert_string_equal(state_id, "");
    assert_int_equal(keys_z85(s_eve.transport_pk, z85), 0);
    assert_non_null(strstr(why, "unknown transport key"));
    assert_non_null(strstr(why, z85));
    /* Another key of a known member is not that member's transport key. */
    assert_int_equal(zap_admit(s_kr, s_arg.sign_pk, 2 * T_SINCE, state_id,
                         why, sizeof why), -1);
    assert_int_equal(zap_admit(s_kr, s_arg.box_pk, 2 * T_SINCE, state_id,
                         why, sizeof why), -1);
}

static void
test_zap_refuses_the_hubs_own_key(void **state)
{
    char state_id[16], why[ZAP_DETAIL_MAX];

    (void)state;
    assert_int_equal(zap_admit(s_kr, s_hub.transport_pk, 2 * T_SINCE,
                         state_id, why, sizeof why), -1);
    assert_string_equal(state_id, "hub");
    assert_non_null(strstr(why, "the hub's own transport key"));
}

static void
test_zap_refuses_withdrawn_and_suspended_members(void **state)
{
    char state_id[16], why[ZAP_DETAIL_MAX];

    (void)state;
    assert_int_equal(zap_admit(s_kr, s_ury.transport_pk, 2 * T_SINCE,
                         state_id, why, sizeof why), -1);
    assert_string_equal(state_id, "URY");
    assert_non_null(strstr(why, "URY is withdrawn since"));
    assert_int_equal(zap_admit(s_kr, s_sus.transport_pk, T_SINCE, state_id,
                         why, sizeof why), -1);
    assert_non_null(strstr(why, "SUS is suspended since"));
    /* Before the status changed they were members like any other. */
    assert_int_equal(zap_admit(s_kr, s_ury.transport_pk, T_SINCE - 1,
                         state_id, why, sizeof why), 0);
    assert_string_equal(state_id, "URY");
}

static void
test_zap_follows_key_validity(void **state)
{
    char state_id[16], why[ZAP_DETAIL_MAX];

    (void)state;
    /* PER rotated at T_SINCE: the old key until then, the new one after. */
    assert_int_equal(zap_admit(s_kr, s_per_old.transport_pk, T_SINCE - 1,
                         state_id, why, sizeof why), 0);
    assert_int_equal(zap_admit(s_kr, s_per_old.transport_pk, T_SINCE,
                         state_id, why, sizeof why), -1);
    assert_non_null(strstr(why, "retired"));
    assert_int_equal(zap_admit(s_kr, s_per_new.transport_pk, T_SINCE - 1,
                         state_id, why, sizeof why), -1);
    assert_non_null(strstr(why, "valid only from"));
    assert_int_equal(zap_admit(s_kr, s_per_new.transport_pk, T_SINCE,
                         state_id, why, sizeof why), 0);
    assert_string_equal(state_id, "PER");
    assert_int_equal(zap_admit(s_kr, s_fut.transport_pk, 2 * T_SINCE,
                         state_id, why, sizeof why), -1);
    assert_non_null(strstr(why, "valid only from"));
}

/* ---------------------------------------------------- over real sockets --- */

typedef struct {
    void  *zctx;
    zap_t *zap;
    void  *router;
    void  *pub;
    char   tkey[80]; /* Transport-Key of the last message received */
    char   ep[64], notify_ep[64];
} rig_t;

static void
s_rig(rig_t *r)
{
    errbuf_t err = {{0}};
    int      tries;

    memset(r, 0, sizeof *r);
    assert_non_null(r->zctx = zmq_ctx_new());
    r->zap = zap_new(r->zctx, s_kr, &err);
    if (r->zap == NULL)
        fail_msg("zap_new: %s", err.msg);
    for (tries = 0; tries < 5 && r->router == NULL; tries++) {
        itest_endpoint(itest_free_port(), r->ep, sizeof r->ep);
        r->router = wire_hub_socket(r->zctx, r->ep, s_hub.transport_sk, &err);
    }
    if (r->router == NULL)
        fail_msg("wire_hub_socket: %s", err.msg);
    for (tries = 0; tries < 5 && r->pub == NULL; tries++) {
        itest_endpoint(itest_free_port(), r->notify_ep, sizeof r->notify_ep);
        r->pub = wire_notify_socket(r->zctx, r->notify_ep, s_hub.transport_sk,
            &err);
    }
    if (r->pub == NULL)
        fail_msg("wire_notify_socket: %s", err.msg);
}

static void
s_rig_end(rig_t *r)
{
    if (r->router != NULL)
        zmq_close(r->router);
    if (r->pub != NULL)
        zmq_close(r->pub);
    zap_destroy(&r->zap);
    assert_null(r->zap);
    zap_destroy(&r->zap);
    zmq_ctx_term(r->zctx);
}

static void *
s_client(rig_t *r, const itest_member_t *m)
{
    errbuf_t err = {{0}};
    void    *s = wire_member_socket(r->zctx, r->ep, m->transport_pk,
        m->transport_sk, s_hub.transport_pk, &err);

    if (s == NULL)
        fail_msg("wire_member_socket: %s", err.msg);
    return s;
}

/* Receive [rid][payload] on the router within ms; returns the payload
 * length or -1, and the User-Id in user. */
static int
s_router_recv(rig_t *r, int ms, char *user, size_t cap)
{
    zmq_pollitem_t item = {r->router, 0, ZMQ_POLLIN, 0};
    zmq_msg_t      rid, m;
    const char    *u;
    int            len;

    if (zmq_poll(&item, 1, ms) <= 0)
        return -1;
    zmq_msg_init(&rid);
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&rid, r->router, 0) >= 0);
    assert_true(zmq_msg_more(&rid));
    assert_true(zmq_msg_recv(&m, r->router, 0) >= 0);
    u = zmq_msg_gets(&m, "User-Id");
    snprintf(user, cap, "%s", u != NULL ? u : "");
    u = zmq_msg_gets(&m, ZAP_PROPERTY_TRANSPORT_KEY);
    snprintf(r->tkey, sizeof r->tkey, "%s", u != NULL ? u : "");
    len = (int)zmq_msg_size(&m);
    zmq_msg_close(&rid);
    zmq_msg_close(&m);
    return len;
}

static void
test_zap_thread_admits_and_names_member(void **state)
{
    rig_t rig;
    void *c;
    char  user[32];

    (void)state;
    s_rig(&rig);
    c = s_client(&rig, &s_arg);
    assert_int_equal(zmq_send(c, "hello", 5, 0), 5);
    assert_int_equal(s_router_recv(&rig, 5000, user, sizeof user), 5);
    assert_string_equal(user, "ARG");
    zmq_close(c);
    s_rig_end(&rig);
}

/* The ZAP reply's metadata carries the admitted key, for the hub's check
 * of every request against the keyring at the request's time. */
static void
test_zap_thread_attaches_transport_key(void **state)
{
    rig_t rig;
    void *c;
    char  user[32], hex[65];

    (void)state;
    s_rig(&rig);
    c = s_client(&rig, &s_arg);
    assert_int_equal(zmq_send(c, "hello", 5, 0), 5);
    assert_int_equal(s_router_recv(&rig, 5000, user, sizeof user), 5);
    sodium_bin2hex(hex, sizeof hex, s_arg.transport_pk, 32);
    assert_string_equal(rig.tkey, hex);
    zmq_close(c);
    s_rig_end(&rig);
}

static void
s_expect_refused(rig_t *rig, const itest_member_t *m, const char *state_id,
    const char *detail)
{
    void       *c = s_client(rig, m);
    char        user[32];
    zap_event_t ev;
    int         waited, got = 0;

    assert_int_equal(zmq_send(c, "hello", 5, ZMQ_DONTWAIT), 5);
    assert_int_equal(s_router_recv(rig, 700, user, sizeof user), -1);
    for (waited = 0; waited < 5000 && !got; waited += 20) {
        zmq_pollitem_t item = {zap_events(rig->zap), 0, ZMQ_POLLIN, 0};
        zmq_poll(&item, 1, 20);
        while (zap_next_event(rig->zap, &ev)) {
            if (strstr(ev.detail, detail) != NULL) {
                got = 1;
                assert_string_equal(ev.state, state_id);
                assert_string_equal(ev.address, "127.0.0.1");
                assert_true(ev.at > 0);
            }
        }
    }
    assert_true(got);
    /* libzmq does not retry after a refusal, but a peer may open new
     * connections: those are not reported again within the quiet period. */
    zmq_close(c);
    c = s_client(rig, m);
    assert_int_equal(zmq_send(c, "again", 5, ZMQ_DONTWAIT), 5);
    for (waited = 0; waited < 700; waited += 20) {
        zmq_pollitem_t item = {zap_events(rig->zap), 0, ZMQ_POLLIN, 0};
        zmq_poll(&item, 1, 20);
        while (zap_next_event(rig->zap, &ev))
            assert_null(strstr(ev.detail, detail));
    }
    assert_int_equal(s_router_recv(rig, 0, user, sizeof user), -1);
    zmq_close(c);
}

static void
test_zap_thread_refuses_withdrawn_and_unknown(void **state)
{
    rig_t rig;
    void *c;
    char  user[32];

    (void)state;
    s_rig(&rig);
    s_expect_refused(&rig, &s_ury, "URY", "URY is withdrawn since");
    s_expect_refused(&rig, &s_eve, "", "unknown transport key");
    s_expect_refused(&rig, &s_per_old, "PER", "retired");
    /* Still serving the others. */
    c = s_client(&rig, &s_per_new);
    assert_int_equal(zmq_send(c, "x", 1, 0), 1);
    assert_int_equal(s_router_recv(&rig, 5000, user, sizeof user), 1);
    assert_string_equal(user, "PER");
    zmq_close(c);
    s_rig_end(&rig);
}

static void
test_zap_thread_refuses_plain_and_wrong_server_key(void **state)
{
    rig_t    rig;
    void    *c;
    char     user[32];
    int      zero = 0;
    uint8_t  other_pk[32], other_sk[32];
    errbuf_t err = {{0}};

    (void)state;
    s_rig(&rig);
    /* No CURVE at all. */
    c = zmq_socket(rig.zctx, ZMQ_DEALER);
    zmq_setsockopt(c, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(c, rig.ep), 0);
    zmq_send(c, "plain", 5, ZMQ_DONTWAIT);
    assert_int_equal(s_router_recv(&rig, 500, user, sizeof user), -1);
    zmq_close(c);
    /* A client that expects another server key never completes. */
    crypto_box_keypair(other_pk, other_sk);
    c = wire_member_socket(rig.zctx, rig.ep, s_arg.transport_pk,
        s_arg.transport_sk, other_pk, &err);
    assert_non_null(c);
    zmq_send(c, "x", 1, ZMQ_DONTWAIT);
    assert_int_equal(s_router_recv(&rig, 500, user, sizeof user), -1);
    zmq_close(c);
    s_rig_end(&rig);
}

/* A client with a fresh key on every attempt: each is refused, but the
 * audit trail gets a bounded number of reports per address and window,
 * and the next report counts those left out. */
static void
test_zap_thread_bounds_reports_of_a_key_flood(void **state)
{
    rig_t          rig;
    zap_event_t    ev;
    itest_member_t m;
    int            i, waited, reports = 0;
    char           user[32];
    void          *c[20];

    (void)state;
    s_rig(&rig);
    for (i = 0; i < 20; i++) {
        assert_int_equal(itest_member(&m, "EVE"), 0);
        c[i] = s_client(&rig, &m);
        assert_int_equal(zmq_send(c[i], "x", 1, ZMQ_DONTWAIT), 1);
    }
    assert_int_equal(s_router_recv(&rig, 1500, user, sizeof user), -1);
    for (waited = 0; waited < 1500; waited += 20) {
        zmq_pollitem_t item = {zap_events(rig.zap), 0, ZMQ_POLLIN, 0};
        zmq_poll(&item, 1, 20);
        while (zap_next_event(rig.zap, &ev)) {
            assert_non_null(strstr(ev.detail, "unknown transport key"));
            reports++;
        }
    }
    for (i = 0; i < 20; i++)
        zmq_close(c[i]);
    /* 20 keys from one address, at most 8 reports in a minute. */
    assert_int_equal(reports, 8);
    s_rig_end(&rig);
}

static void
test_zap_guards_notifications(void **state)
{
    rig_t              rig;
    void              *ok, *bad;
    errbuf_t           err = {{0}};
    char               buf[64];
    int                i, got = 0, n;
    zmq_pollitem_t     item;

    (void)state;
    s_rig(&rig);
    ok = wire_subscribe_socket(rig.zctx, rig.notify_ep, "ARG",
        s_arg.transport_pk, s_arg.transport_sk, s_hub.transport_pk, &err);
    bad = wire_subscribe_socket(rig.zctx, rig.notify_ep, "ARG",
        s_eve.transport_pk, s_eve.transport_sk, s_hub.transport_pk, &err);
    assert_non_null(ok);
    assert_non_null(bad);
    /* Publish until the admitted subscriber hears (subscriptions travel
     * after the handshake). */
    for (i = 0; i < 100 && !got; i++) {
        (void)wire_notify_admit(rig.pub, NULL, NULL);
        zmq_send(rig.pub, "PER ", 4, ZMQ_SNDMORE);
        zmq_send(rig.pub, "not for ARG", 11, 0);
        zmq_send(rig.pub, "ARG ", 4, ZMQ_SNDMORE);
        zmq_send(rig.pub, "note", 4, 0);
        item = (zmq_pollitem_t){ok, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 50) > 0) {
            n = zmq_recv(ok, buf, sizeof buf, 0);
            assert_int_equal(n, 4);
            assert_memory_equal(buf, "ARG ", 4);
            n = zmq_recv(ok, buf, sizeof buf, 0);
            assert_int_equal(n, 4);
            assert_memory_equal(buf, "note", 4);
            got = 1;
        }
    }
    assert_true(got);
    item = (zmq_pollitem_t){bad, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&item, 1, 300), 0);
    zmq_close(ok);
    zmq_close(bad);
    s_rig_end(&rig);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zap_admits_active_member),
        cmocka_unit_test(test_zap_refuses_unknown_key),
        cmocka_unit_test(test_zap_refuses_the_hubs_own_key),
        cmocka_unit_test(test_zap_refuses_withdrawn_and_suspended_members),
        cmocka_unit_test(test_zap_follows_key_validity),
        cmocka_unit_test(test_zap_thread_admits_and_names_member),
        cmocka_unit_test(test_zap_thread_attaches_transport_key),
        cmocka_unit_test(test_zap_thread_refuses_withdrawn_and_unknown),
        cmocka_unit_test(test_zap_thread_refuses_plain_and_wrong_server_key),
        cmocka_unit_test(test_zap_thread_bounds_reports_of_a_key_flood),
        cmocka_unit_test(test_zap_guards_notifications),
    };

    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
