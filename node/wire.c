/*
 * wire: CurveZMQ sockets set up the same way on both sides, and protobuf
 * framing (see wire.h; docs/PROTOCOL.md is the specification).
 *
 * Every socket gets a message size bound, heartbeats (so a dead peer is
 * noticed and its queue released) and no linger (a daemon that stops must
 * not hang on unsent replies; a member that gives up on a request must not
 * have it delivered later).
 */
#include "node/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "crypto/keys.h"

/* libzmq's draft option: refuse CURVE handshakes when no ZAP handler
 * answers instead of letting them through. Debian's libzmq accepts it;
 * where it does not, the hub still binds its ZAP handler before any socket
 * and keeps it until every socket is closed. */
#ifdef ZMQ_ZAP_ENFORCE_DOMAIN
#define S_ZAP_ENFORCE_DOMAIN ZMQ_ZAP_ENFORCE_DOMAIN
#else
#define S_ZAP_ENFORCE_DOMAIN 93
#endif

static int
s_set_int(void *sock, int opt, int value, const char *name, errbuf_t *err)
{
    if (zmq_setsockopt(sock, opt, &value, sizeof value) != 0) {
        errbuf_set(err, "setting %s: %s", name, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

/* Options every exchange socket carries. */
static int
s_common(void *sock, int64_t max_msg, errbuf_t *err)
{
    if (zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg) != 0) {
        errbuf_set(err, "setting ZMQ_MAXMSGSIZE: %s",
            zmq_strerror(zmq_errno()));
        return -1;
    }
    if (s_set_int(sock, ZMQ_LINGER, 0, "ZMQ_LINGER", err) != 0
        || s_set_int(sock, ZMQ_HEARTBEAT_IVL, WIRE_HEARTBEAT_MS,
               "ZMQ_HEARTBEAT_IVL", err) != 0
        || s_set_int(sock, ZMQ_HEARTBEAT_TIMEOUT, WIRE_HEARTBEAT_TTL_MS,
               "ZMQ_HEARTBEAT_TIMEOUT", err) != 0
        || s_set_int(sock, ZMQ_HEARTBEAT_TTL, WIRE_HEARTBEAT_TTL_MS,
               "ZMQ_HEARTBEAT_TTL", err) != 0)
        return -1;
    return 0;
}

static int
s_curve_server(void *sock, const uint8_t sk[32], errbuf_t *err)
{
    int one = 1;

    if (s_set_int(sock, ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER", err) != 0)
        return -1;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sk, 32) != 0) {
        errbuf_set(err, "setting the CURVE secret key: %s",
            zmq_strerror(zmq_errno()));
        return -1;
    }
    if (zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, WIRE_ZAP_DOMAIN,
            strlen(WIRE_ZAP_DOMAIN)) != 0) {
        errbuf_set(err, "setting ZMQ_ZAP_DOMAIN: %s",
            zmq_strerror(zmq_errno()));
        return -1;
    }
    /* Best effort (see S_ZAP_ENFORCE_DOMAIN). */
    (void)zmq_setsockopt(sock, S_ZAP_ENFORCE_DOMAIN, &one, sizeof one);
    return 0;
}

static int
s_curve_client(void *sock, const uint8_t pk[32], const uint8_t sk[32],
    const uint8_t hub_pk[32], errbuf_t *err)
{
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, hub_pk, 32) != 0
        || zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pk, 32) != 0
        || zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sk, 32) != 0) {
        errbuf_set(err, "setting the CURVE client keys: %s",
            zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

static void *
s_fail(void *sock)
{
    if (sock != NULL)
        zmq_close(sock);
    return NULL;
}

void *
wire_hub_socket(void *zctx, const char *endpoint, const uint8_t sk[32],
    errbuf_t *err)
{
    void *sock = zmq_socket(zctx, ZMQ_ROUTER);

    if (sock == NULL) {
        errbuf_set(err, "cannot create the hub socket: %s",
            zmq_strerror(zmq_errno()));
        return NULL;
    }
    if (s_common(sock, (int64_t)WIRE_MAX_MESSAGE, err) != 0
        || s_set_int(sock, ZMQ_ROUTER_MANDATORY, 0, "ZMQ_ROUTER_MANDATORY",
               err) != 0
        || s_curve_server(sock, sk, err) != 0)
        return s_fail(sock);
    if (zmq_bind(sock, endpoint) != 0) {
        errbuf_set(err, "cannot listen on %s: %s (is another hub running, "
            "or is the address wrong?)", endpoint, zmq_strerror(zmq_errno()));
        return s_fail(sock);
    }
    return sock;
}

void *
wire_notify_socket(void *zctx, const char *endpoint, const uint8_t sk[32],
    errbuf_t *err)
{
    void *sock = zmq_socket(zctx, ZMQ_PUB);

    if (sock == NULL) {
        errbuf_set(err, "cannot create the notification socket: %s",
            zmq_strerror(zmq_errno()));
        return NULL;
    }
    /* Subscribers only send subscriptions: a topic is an id and a space. */
    if (s_common(sock, WIRE_NOTIFY_MAX_MESSAGE, err) != 0
        || s_curve_server(sock, sk, err) != 0)
        return s_fail(sock);
    if (zmq_bind(sock, endpoint) != 0) {
        errbuf_set(err, "cannot listen on %s: %s (is another hub running, "
            "or is the address wrong?)", endpoint, zmq_strerror(zmq_errno()));
        return s_fail(sock);
    }
    return sock;
}

void *
wire_member_socket(void *zctx, const char *endpoint, const uint8_t pk[32],
    const uint8_t sk[32], const uint8_t hub_pk[32], errbuf_t *err)
{
    void *sock = zmq_socket(zctx, ZMQ_DEALER);

    if (sock == NULL) {
        errbuf_set(err, "cannot create a socket: %s",
            zmq_strerror(zmq_errno()));
        return NULL;
    }
    if (s_common(sock, (int64_t)WIRE_MAX_MESSAGE, err) != 0
        || s_curve_client(sock, pk, sk, hub_pk, err) != 0)
        return s_fail(sock);
    if (zmq_connect(sock, endpoint) != 0) {
        errbuf_set(err, "cannot connect to %s: %s", endpoint,
            zmq_strerror(zmq_errno()));
        return s_fail(sock);
    }
    return sock;
}

void *
wire_subscribe_socket(void *zctx, const char *endpoint, const char *id,
    const uint8_t pk[32], const uint8_t sk[32], const uint8_t hub_pk[32],
    errbuf_t *err)
{
    char  topic[WIRE_TOPIC_MAX];
    void *sock;
    int   n = snprintf(topic, sizeof topic, "%s ", id);

    if (!keys_owner_valid(id) || n <= 1 || (size_t)n >= sizeof topic) {
        errbuf_set(err, "cannot subscribe to notifications for \"%s\": not "
            "an identity", id);
        return NULL;
    }
    if ((sock = zmq_socket(zctx, ZMQ_SUB)) == NULL) {
        errbuf_set(err, "cannot create a socket: %s",
            zmq_strerror(zmq_errno()));
        return NULL;
    }
    if (s_common(sock, WIRE_NOTIFY_MAX_MESSAGE, err) != 0
        || s_curve_client(sock, pk, sk, hub_pk, err) != 0)
        return s_fail(sock);
    if (zmq_setsockopt(sock, ZMQ_SUBSCRIBE, topic, (size_t)n) != 0) {
        errbuf_set(err, "subscribing to \"%s\": %s", topic,
            zmq_strerror(zmq_errno()));
        return s_fail(sock);
    }
    if (zmq_connect(sock, endpoint) != 0) {
        errbuf_set(err, "cannot connect to %s: %s", endpoint,
            zmq_strerror(zmq_errno()));
        return s_fail(sock);
    }
    return sock;
}

static void
s_free_msg(void *data, void *hint)
{
    (void)hint;
    free(data);
}

int
wire_send(void *sock, const ProtobufCMessage *msg, int flags, errbuf_t *err)
{
    size_t   len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf;
    zmq_msg_t m;

    if (len > WIRE_MAX_MESSAGE) {
        errbuf_set(err, "message of %zu bytes is over the limit of %u", len,
            WIRE_MAX_MESSAGE);
        errno = EMSGSIZE;
        return -1;
    }
    if ((buf = malloc(len + 1)) == NULL) {
        errbuf_set(err, "out of memory");
        errno = ENOMEM;
        return -1;
    }
    protobuf_c_message_pack(msg, buf);
    if (zmq_msg_init_data(&m, buf, len, s_free_msg, NULL) != 0) {
        free(buf);
        errbuf_set(err, "out of memory");
        errno = ENOMEM;
        return -1;
    }
    if (zmq_msg_send(&m, sock, flags) < 0) {
        int e = zmq_errno();
        zmq_msg_close(&m);
        errno = e;
        errbuf_set(err, "send failed: %s", zmq_strerror(e));
        return -1;
    }
    return 0;
}

static int64_t
s_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on sock until deadline (signals do not cut the wait
 * short). 1 ready, 0 timed out, -1 error. */
static int
s_wait(void *sock, short events, int64_t deadline, errbuf_t *err)
{
    for (;;) {
        zmq_pollitem_t item = {sock, 0, events, 0};
        int64_t        left = deadline - s_now_ms();
        int            rc;

        if (left < 0)
            left = 0;
        rc = zmq_poll(&item, 1, (long)left);
        if (rc > 0)
            return 1;
        if (rc == 0 && left == 0)
            return 0;
        if (rc < 0 && zmq_errno() != EINTR) {
            errbuf_set(err, "poll failed: %s", zmq_strerror(zmq_errno()));
            return -1;
        }
    }
}

/* Drain the rest of a multipart message. */
static void
s_skip_more(void *sock, zmq_msg_t *m)
{
    int more = zmq_msg_more(m);

    while (more) {
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        if (zmq_msg_recv(&extra, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&extra);
            return;
        }
        more = zmq_msg_more(&extra);
        zmq_msg_close(&extra);
    }
}

Csbm__WireReply *
wire_call(void *sock, const Csbm__WireRequest *req, int timeout_ms,
    errbuf_t *err)
{
    int64_t deadline = s_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int     rc;

    for (;;) {
        errbuf_t se = {{0}};

        if (wire_send(sock, &req->base, ZMQ_DONTWAIT, &se) == 0)
            break;
        if (errno != EAGAIN) {
            errbuf_set(err, "hub request could not be sent: %s", se.msg);
            return NULL;
        }
        /* Queue full (or not connected yet): wait for room. */
        rc = s_now_ms() < deadline ? s_wait(sock, ZMQ_POLLOUT, deadline, err)
                                   : 0;
        if (rc == 0) {
            errbuf_set(err, "hub did not take the request within %d ms",
                timeout_ms);
            return NULL;
        }
        if (rc < 0)
            return NULL;
    }
    for (;;) {
        Csbm__WireReply *reply;
        zmq_msg_t        m;

        rc = s_wait(sock, ZMQ_POLLIN, deadline, err);
        if (rc == 0) {
            errbuf_set(err, "hub did not answer within %d ms", timeout_ms);
            return NULL;
        }
        if (rc < 0)
            return NULL;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            if (zmq_errno() == EAGAIN || zmq_errno() == EINTR)
                continue;
            errbuf_set(err, "hub reply could not be received: %s",
                zmq_strerror(zmq_errno()));
            return NULL;
        }
        s_skip_more(sock, &m);
        reply = csbm__wire_reply__unpack(NULL, zmq_msg_size(&m),
            zmq_msg_data(&m));
        zmq_msg_close(&m);
        if (reply == NULL) {
            errbuf_set(err, "hub sent a reply that does not parse");
            return NULL;
        }
        if (reply->request_id != req->request_id) {
            /* A late answer to an earlier request that was given up. */
            csbm__wire_reply__free_unpacked(reply, NULL);
            continue;
        }
        if (reply->protocol != WIRE_PROTOCOL) {
            errbuf_set(err, "hub speaks protocol %u, this node %d; upgrade "
                "the older side", reply->protocol, WIRE_PROTOCOL);
            csbm__wire_reply__free_unpacked(reply, NULL);
            return NULL;
        }
        return reply;
    }
}
