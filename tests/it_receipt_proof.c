/*
 * it_receipt_proof: a receipt counts only with its place in the hub's log
 * — a real `csbm hub`, and between it and the member a relay that holds
 * the hub's transport key and alters the hub's answers, as a hub that
 * cuts corners would send them.
 *
 * Stories: a receipt without its inclusion proof, or with one that does
 * not verify, leaves the package pending with the reason (and evidence
 * for the bad proof); the next honest answer delivers it, once. A head
 * cosigned by another member and smaller than this node's own is never
 * passed unchecked: with no hub to ask for a proof the check fails
 * loudly, with the hub it is proved by two proofs that end at the same
 * head.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "crypto/keys.h"
#include "crypto/treehead.h"
#include "node/member.h"
#include "node/wire.h"
#include "tests/support/itest.h"
#include "tests/support/xfix.h"

static const char *const s_ids[] = {"ARG", "CHL", "hub"};

enum { RELAY_PASS, RELAY_STRIP_INCLUSION, RELAY_BAD_INCLUSION };

typedef struct {
    void           *zctx;
    pthread_t       th;
    char            ep[64];
    volatile int    mode;
    volatile int    stop;
    keys_secret_t  *hub_transport;
    keys_secret_t  *arg_transport;
} s_relay_t;

static s_relay_t s_relay;

static keys_secret_t *
s_load(const char *id, keys_kind_t kind)
{
    char           dir[ITEST_PATH_MAX], path[ITEST_PATH_MAX];
    errbuf_t       err = {{0}};
    keys_secret_t *k;

    xfix_keydir(dir, sizeof dir, id);
    assert_int_equal(keys_path(path, sizeof path, dir, id, kind), 0);
    k = keys_secret_load(path, kind, ITEST_PASSPHRASE,
        strlen(ITEST_PASSPHRASE), &err);
    if (k == NULL)
        fail_msg("%s key: %s", id, err.msg);
    return k;
}

/* Alter one reply of the hub as the mode says; the frame out in *out. */
static void
s_alter(zmq_msg_t *in, zmq_msg_t *out)
{
    Csbm__WireReply      *r = csbm__wire_reply__unpack(NULL, zmq_msg_size(in),
        zmq_msg_data(in));
    Csbm__InclusionProof *ip = NULL;
    size_t                n;

    if (r == NULL || r->body_case != CSBM__WIRE_REPLY__BODY_SUBMIT
        || s_relay.mode == RELAY_PASS) {
        zmq_msg_init_size(out, zmq_msg_size(in));
        memcpy(zmq_msg_data(out), zmq_msg_data(in), zmq_msg_size(in));
        if (r != NULL)
            csbm__wire_reply__free_unpacked(r, NULL);
        return;
    }
    ip = r->submit->inclusion;
    if (s_relay.mode == RELAY_STRIP_INCLUSION)
        r->submit->inclusion = NULL;
    else if (ip != NULL)
        ip->leaf_index += 1;
    n = csbm__wire_reply__get_packed_size(r);
    zmq_msg_init_size(out, n);
    csbm__wire_reply__pack(r, zmq_msg_data(out));
    r->submit->inclusion = ip;
    if (ip != NULL && s_relay.mode == RELAY_BAD_INCLUSION)
        ip->leaf_index -= 1;
    csbm__wire_reply__free_unpacked(r, NULL);
}

static void *
s_relay_run(void *arg)
{
    void    *front = zmq_socket(s_relay.zctx, ZMQ_ROUTER);
    void    *back;
    int      one = 1, zero = 0;
    errbuf_t err = {{0}};
    zmq_msg_t who;

    (void)arg;
    zmq_setsockopt(front, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(front, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(front, ZMQ_CURVE_SECRETKEY,
        keys_secret_bytes(s_relay.hub_transport), 32);
    if (zmq_bind(front, s_relay.ep) != 0) {
        fprintf(stderr, "relay: bind %s: %s\n", s_relay.ep,
            zmq_strerror(zmq_errno()));
        zmq_close(front);
        return NULL;
    }
    back = wire_member_socket(s_relay.zctx, xfix_hub_ep,
        keys_secret_public(s_relay.arg_transport),
        keys_secret_bytes(s_relay.arg_transport),
        keys_secret_public(s_relay.hub_transport), &err);
    if (back == NULL) {
        fprintf(stderr, "relay: %s\n", err.msg);
        zmq_close(front);
        return NULL;
    }
    zmq_msg_init(&who);
    while (!s_relay.stop) {
        zmq_pollitem_t items[2] = {{front, 0, ZMQ_POLLIN, 0},
                                   {back, 0, ZMQ_POLLIN, 0}};
        zmq_msg_t      m, o;
        if (zmq_poll(items, 2, 50) <= 0)
            continue;
        if (items[0].revents & ZMQ_POLLIN) {
            zmq_msg_close(&who);
            zmq_msg_init(&who);
            zmq_msg_recv(&who, front, 0);
            zmq_msg_init(&m);
            zmq_msg_recv(&m, front, 0);
            zmq_msg_send(&m, back, 0);
        }
        if (items[1].revents & ZMQ_POLLIN) {
            zmq_msg_t w;
            zmq_msg_init(&m);
            zmq_msg_recv(&m, back, 0);
            s_alter(&m, &o);
            zmq_msg_close(&m);
            zmq_msg_init(&w);
            zmq_msg_copy(&w, &who);
            zmq_msg_send(&w, front, ZMQ_SNDMORE);
            zmq_msg_send(&o, front, 0);
        }
    }
    zmq_msg_close(&who);
    zmq_close(back);
    zmq_close(front);
    return NULL;
}

static int
s_group_setup(void **state)
{
    (void)state;
    return xfix_group_setup("receipt-proof", s_ids,
        sizeof s_ids / sizeof s_ids[0]);
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
    memset(&s_relay, 0, sizeof s_relay);
    s_relay.hub_transport = s_load("hub", KEYS_TRANSPORT);
    s_relay.arg_transport = s_load("ARG", KEYS_TRANSPORT);
    itest_endpoint(itest_free_port(), s_relay.ep, sizeof s_relay.ep);
    s_relay.zctx = zmq_ctx_new();
    assert_non_null(s_relay.zctx);
    assert_int_equal(pthread_create(&s_relay.th, NULL, s_relay_run, NULL), 0);
    return 0;
}

static int
s_teardown(void **state)
{
    (void)state;
    s_relay.stop = 1;
    pthread_join(s_relay.th, NULL);
    zmq_ctx_term(s_relay.zctx);
    keys_secret_destroy(&s_relay.hub_transport);
    keys_secret_destroy(&s_relay.arg_transport);
    xfix_hub_kill();
    return 0;
}

/* ARG's node, through the relay (hub NULL: offline). */
static member_t *
s_member(const char *hub)
{
    char            keyring_dir[ITEST_PATH_MAX], path[ITEST_PATH_MAX];
    errbuf_t        err = {{0}};
    keyring_t      *kr = keyring_new();
    keys_secret_t  *tk = hub != NULL ? s_load("ARG", KEYS_TRANSPORT) : NULL;
    member_config_t cfg;
    member_t       *m;

    xfix_fmt(keyring_dir, sizeof keyring_dir, "%s/keyring", xfix_root);
    assert_non_null(kr);
    if (keyring_load_dir(kr, keyring_dir, &err) != 0)
        fail_msg("keyring: %s", err.msg);
    member_config_init(&cfg);
    xfix_db(path, sizeof path, "ARG");
    cfg.data_path = path;
    cfg.hub = hub;
    cfg.timeout_ms = 5000;
    m = member_new(&cfg, "ARG", XFIX_FED, &kr, tk != NULL ? &tk : NULL,
        &err);
    if (m == NULL)
        fail_msg("member_new: %s", err.msg);
    return m;
}

static void
s_push(member_t *m, const keys_secret_t *sk, int figure,
    member_delivery_t *d)
{
    static char        state_s[] = "ARG", lang[] = "es",
                       prepared[] = "2026-01-15T12:00:00Z", cur[] = "ARS";
    static const char *to[] = {"CHL"};
    errbuf_t           err = {{0}};
    Csbm__Package      pkg;
    Csbm__MilexReport  mx;

    csbm__package__init(&pkg);
    csbm__milex_report__init(&mx);
    pkg.state = state_s;
    pkg.year = 2025;
    pkg.language = lang;
    pkg.prepared_at = prepared;
    pkg.body_case = CSBM__PACKAGE__BODY_MILEX;
    pkg.milex = &mx;
    mx.currency = cur;
    mx.unit = CSBM__UNIT_OF_MEASURE__MILLIONS;
    mx.form = CSBM__MILEX_FORM__MILEX_SINGLE_FIGURE;
    mx.single_figure = figure;
    if (member_push(m, &pkg, to, 1, sk, 1, d, &err) != 0)
        fail_msg("member_push: %s", err.msg);
}

static void
s_receipt_case(int mode, const char *needle, int64_t evidence)
{
    keys_secret_t       *sk = s_load("ARG", KEYS_SIGN);
    member_t            *m = s_member(s_relay.ep);
    member_delivery_t    d;
    member_sync_report_t rep;
    errbuf_t             err = {{0}};
    char                 hex[33];

    s_relay.mode = mode;
    s_push(m, sk, 1000, &d);
    assert_int_equal(d.outcome, MEMBER_QUEUED);
    if (strstr(d.message, needle) == NULL)
        fail_msg("message: %s", d.message);
    xfix_outbox_id("ARG", 1, hex);
    assert_int_equal(xfix_node_int("ARG", "SELECT count(*) FROM outbox "
        "WHERE status = 'pending' AND receipt IS NULL "
        "AND instr(last_error, ?) > 0", needle), 1);
    assert_int_equal(xfix_node_int("ARG", "SELECT count(*) FROM log_evidence",
        NULL), evidence);
    assert_int_equal(xfix_archive_count(hex), 1);

    /* An honest answer to the resubmission delivers it, once. */
    s_relay.mode = RELAY_PASS;
    if (member_sync(m, 0, NULL, NULL, &rep, &err) != 0)
        fail_msg("member_sync: %s", err.msg);
    assert_int_equal(rep.delivered, 1);
    assert_int_equal(rep.pending, 0);
    assert_int_equal(xfix_node_int("ARG", "SELECT count(*) FROM outbox "
        "WHERE status = 'delivered' AND inclusion IS NOT NULL", NULL), 1);
    assert_int_equal(xfix_archive_count(hex), 1);
    member_destroy(&m);
    keys_secret_destroy(&sk);
}

static void
test_receipt_proof_missing_inclusion_keeps_package_pending(void **state)
{
    (void)state;
    s_receipt_case(RELAY_STRIP_INCLUSION, "without the inclusion proof", 0);
}

static void
test_receipt_proof_bad_inclusion_keeps_package_pending(void **state)
{
    (void)state;
    s_receipt_case(RELAY_BAD_INCLUSION, "does not verify", 1);
}

/* The head of size n stored in ARG's node (a csbm.Signed). */
static Csbm__Signed *
s_stored_head(int64_t n)
{
    char          db[ITEST_PATH_MAX];
    sqlite3      *s;
    sqlite3_stmt *st;
    Csbm__Signed *h = NULL;

    xfix_db(db, sizeof db, "ARG");
    s = xfix_sql_open(db);
    assert_int_equal(sqlite3_prepare_v2(s, "SELECT signed FROM log_heads "
        "WHERE size = ?", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int64(st, 1, n);
    if (sqlite3_step(st) == SQLITE_ROW)
        h = csbm__signed__unpack(NULL, (size_t)sqlite3_column_bytes(st, 0),
            sqlite3_column_blob(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(s);
    assert_non_null(h);
    return h;
}

static void
test_receipt_proof_smaller_cosigned_head_is_never_passed_unchecked(
    void **state)
{
    keys_secret_t     *sk = s_load("ARG", KEYS_SIGN);
    keys_secret_t     *chl = s_load("CHL", KEYS_SIGN);
    member_t          *m = s_member(s_relay.ep);
    member_delivery_t  d;
    errbuf_t           err = {{0}};
    Csbm__Signed      *small, *big;
    Csbm__CosignedHead ch;
    Csbm__Cosignature  cs, *csp = &cs;
    uint8_t            sig[KEYS_SIG_BYTES];
    static char        who[] = "CHL";

    (void)state;
    s_push(m, sk, 1, &d);
    assert_int_equal(d.outcome, MEMBER_DELIVERED);
    s_push(m, sk, 2, &d);
    assert_int_equal(d.outcome, MEMBER_DELIVERED);
    small = s_stored_head(1);
    big = s_stored_head(2);
    assert_int_equal(treehead_cosign(chl, small->statement.data,
        small->statement.len, sig), 0);
    csbm__cosigned_head__init(&ch);
    csbm__cosignature__init(&cs);
    cs.witness = who;
    cs.key_id.data = (uint8_t *)(uintptr_t)keys_secret_key_id(chl);
    cs.key_id.len = KEYS_ID_BYTES;
    cs.signature.data = sig;
    cs.signature.len = sizeof sig;
    ch.tree_head = small;
    ch.n_cosignatures = 1;
    ch.cosignatures = &csp;

    /* With the hub: both proofs end at one head. */
    assert_int_equal(member_check_cosigned(m, &ch, big, NULL, &err), 0);
    member_destroy(&m);

    /* Without a hub to ask, no proof: that is a failure, not a pass. */
    m = s_member(NULL);
    assert_int_equal(member_check_cosigned(m, &ch, big, NULL, &err), -1);
    if (strstr(err.msg, "could NOT CHECK") == NULL)
        fail_msg("error: %s", err.msg);
    assert_int_equal(xfix_node_int("ARG", "SELECT count(*) FROM log_evidence",
        NULL), 0);
    member_destroy(&m);
    csbm__signed__free_unpacked(small, NULL);
    csbm__signed__free_unpacked(big, NULL);
    keys_secret_destroy(&chl);
    keys_secret_destroy(&sk);
}

static void
test_receipt_proof_bad_endpoint_queues_nothing(void **state)
{
    static char        state_s[] = "ARG", lang[] = "es", cur[] = "ARS";
    static const char *to[] = {"CHL"};
    keys_secret_t     *sk = s_load("ARG", KEYS_SIGN);
    member_t          *m = s_member("127.0.0.1:1");
    member_delivery_t  d;
    errbuf_t           err = {{0}};
    Csbm__Package      pkg;
    Csbm__MilexReport  mx;

    (void)state;
    csbm__package__init(&pkg);
    csbm__milex_report__init(&mx);
    pkg.state = state_s;
    pkg.year = 2025;
    pkg.language = lang;
    pkg.body_case = CSBM__PACKAGE__BODY_MILEX;
    pkg.milex = &mx;
    mx.currency = cur;
    mx.unit = CSBM__UNIT_OF_MEASURE__MILLIONS;
    mx.form = CSBM__MILEX_FORM__MILEX_SINGLE_FIGURE;
    mx.single_figure = 5;
    assert_int_equal(member_push(m, &pkg, to, 1, sk, 1, &d, &err), -1);
    assert_int_equal(d.sequence, 0);
    if (strstr(err.msg, "tcp://HOST:PORT") == NULL)
        fail_msg("error: %s", err.msg);
    assert_int_equal(xfix_node_int("ARG", "SELECT count(*) FROM outbox",
        NULL), 0);
    member_destroy(&m);
    keys_secret_destroy(&sk);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        T(test_receipt_proof_missing_inclusion_keeps_package_pending),
        T(test_receipt_proof_bad_inclusion_keeps_package_pending),
        T(test_receipt_proof_smaller_cosigned_head_is_never_passed_unchecked),
        T(test_receipt_proof_bad_endpoint_queues_nothing),
    };
#undef T
    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
