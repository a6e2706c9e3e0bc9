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
#include <pthread.h>
#include <stdio.h>
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

int
wire_endpoint_check(const char *ep, errbuf_t *err)
{
    const char *host, *colon;
    char       *end;
    long        port;

    if (ep != NULL && strncmp(ep, "ipc://", 6) == 0 && ep[6] != '\0')
        return 0;
    if (ep != NULL && strncmp(ep, "inproc://", 9) == 0 && ep[9] != '\0')
        return 0;
    if (ep != NULL && strncmp(ep, "tcp://", 6) == 0) {
        host = ep + 6;
        colon = strrchr(host, ':');
        if (colon != NULL && colon > host) {
            if (strcmp(colon + 1, "*") == 0)
                return 0;
            errno = 0;
            port = strtol(colon + 1, &end, 10);
            if (end != colon + 1 && *end == '\0' && errno == 0 && port >= 1
                && port <= 65535)
                return 0;
        }
    }
    errbuf_set(err, "\"%.200s\" is not an endpoint: write tcp://HOST:PORT "
        "(e.g. tcp://127.0.0.1:7701, tcp://0.0.0.0:7701) or ipc://PATH",
        ep != NULL ? ep : "");
    return -1;
}

/* ---------------------------------------------------------- monitor --- */

static void s_skip_more(void *sock, zmq_msg_t *m);

/* The member DEALER's handshake outcome, so that wire_call can tell "the
 * hub refused this key" from "the hub is silent". For the length of each
 * call, wire_call starts a socket monitor on the DEALER, listens to it
 * on a PAIR of its own, and stops it before returning — libzmq's I/O
 * thread blocks on a monitor nobody reads, so none outlives the call, and
 * the caller still closes the DEALER with zmq_close alone. A refused
 * client reconnects and is refused again every few hundred milliseconds,
 * so a call that waits sees the refusal even if the first one happened
 * before it started listening. wire_member_socket notes the socket's
 * context here (the PAIR must live in it). */
#define S_MONITOR_SLOTS 64

static pthread_mutex_t s_mon_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    const void *sock;
    void       *zctx;
} s_mon[S_MONITOR_SLOTS];
static unsigned s_mon_next, s_mon_gen;

static void
s_monitor_note(void *zctx, void *sock)
{
    size_t i, slot;

    pthread_mutex_lock(&s_mon_lock);
    slot = s_mon_next++ % S_MONITOR_SLOTS;
    for (i = 0; i < S_MONITOR_SLOTS; i++)
        if (s_mon[i].sock == sock)
            slot = i;
    s_mon[slot].sock = sock;
    s_mon[slot].zctx = zctx;
    pthread_mutex_unlock(&s_mon_lock);
}

/* Start monitoring sock and return the PAIR that hears it, or NULL (then
 * wire_call only says that the hub did not answer). */
static void *
s_monitor_open(void *sock)
{
    char     ep[96];
    unsigned gen;
    size_t   i;
    void    *zctx = NULL, *pair;
    int      zero = 0;

    pthread_mutex_lock(&s_mon_lock);
    for (i = 0; i < S_MONITOR_SLOTS; i++)
        if (s_mon[i].sock == sock)
            zctx = s_mon[i].zctx;
    gen = ++s_mon_gen;
    pthread_mutex_unlock(&s_mon_lock);
    if (zctx == NULL || (pair = zmq_socket(zctx, ZMQ_PAIR)) == NULL)
        return NULL;
    zmq_setsockopt(pair, ZMQ_LINGER, &zero, sizeof zero);
    snprintf(ep, sizeof ep, "inproc://csbm-wire-monitor-%p-%u", sock, gen);
    if (zmq_socket_monitor(sock, ep, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
            | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
            | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
            | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_CONNECT_RETRIED)
        != 0) {
        zmq_close(pair);
        return NULL;
    }
    if (zmq_connect(pair, ep) != 0) {
        (void)zmq_socket_monitor(sock, NULL, 0);
        zmq_close(pair);
        return NULL;
    }
    return pair;
}

static void
s_monitor_close(void *sock, void *pair)
{
    if (pair == NULL)
        return;
    (void)zmq_socket_monitor(sock, NULL, 0);
    zmq_close(pair);
}

/* What the monitor saw, as the most telling event. */
typedef struct {
    int auth_failed;  /* ZMQ_EVENT_HANDSHAKE_FAILED_AUTH */
    int auth_status;  /* its ZAP status code */
    int proto_failed; /* _PROTOCOL or _NO_DETAIL */
    int retried;      /* ZMQ_EVENT_CONNECT_RETRIED */
    int succeeded;
} s_monitor_seen_t;

static void
s_monitor_drain(void *pair, s_monitor_seen_t *seen)
{
    for (;;) {
        zmq_msg_t m;
        uint16_t  event;
        uint32_t  value;

        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, pair, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        if (zmq_msg_size(&m) == 6) {
            memcpy(&event, zmq_msg_data(&m), 2);
            memcpy(&value, (uint8_t *)zmq_msg_data(&m) + 2, 4);
            if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
                seen->auth_failed = 1;
                seen->auth_status = (int)value;
            } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                       || event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
                seen->proto_failed = 1;
            } else if (event == ZMQ_EVENT_CONNECT_RETRIED) {
                seen->retried = 1;
            } else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
                seen->succeeded = 1;
            }
        }
        s_skip_more(pair, &m);
        zmq_msg_close(&m);
    }
}

/* The timeout message, told by what the monitor saw. */
static void
s_timeout_error(errbuf_t *err, int timeout_ms, const s_monitor_seen_t *seen)
{
    if (seen->auth_failed)
        errbuf_set(err, "the hub refused this node's transport key at the "
            "handshake (ZAP status %d): this state is not an active member "
            "or its key was revoked or retired; ask the operator (csbm "
            "registry list)", seen->auth_status);
    else if (seen->proto_failed)
        errbuf_set(err, "the handshake with the hub failed within %d ms: "
            "check the hub's transport public key in this node's keyring "
            "and that both sides speak CurveZMQ", timeout_ms);
    else if (seen->retried && !seen->succeeded)
        errbuf_set(err, "hub did not answer within %d ms: no connection "
            "(is the hub running and the endpoint right?)", timeout_ms);
    else
        errbuf_set(err, "hub did not answer within %d ms", timeout_ms);
}

void *
wire_hub_socket(void *zctx, const char *endpoint, const uint8_t sk[32],
    errbuf_t *err)
{
    void *sock;

    if (wire_endpoint_check(endpoint, err) != 0)
        return NULL;
    if ((sock = zmq_socket(zctx, ZMQ_ROUTER)) == NULL) {
        errbuf_set(err, "cannot create the hub socket: %s",
            zmq_strerror(zmq_errno()));
        return NULL;
    }
    /* Small queues per connection: a member that sends without reading
     * fills its own queue, and the hub drops what does not fit instead
     * of holding gigabytes of replies for it. */
    if (s_common(sock, (int64_t)WIRE_MAX_MESSAGE, err) != 0
        || s_set_int(sock, ZMQ_SNDHWM, WIRE_HUB_SNDHWM, "ZMQ_SNDHWM", err)
            != 0
        || s_set_int(sock, ZMQ_RCVHWM, WIRE_HUB_RCVHWM, "ZMQ_RCVHWM", err)
            != 0
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
    void *sock;

    if (wire_endpoint_check(endpoint, err) != 0)
        return NULL;
    if ((sock = zmq_socket(zctx, ZMQ_XPUB)) == NULL) {
        errbuf_set(err, "cannot create the notification socket: %s",
            zmq_strerror(zmq_errno()));
        return NULL;
    }
    /* Subscribers only send subscriptions: a topic is an id and a space.
     * Manual mode: none takes effect until wire_notify_admit allows it. */
    if (s_common(sock, WIRE_NOTIFY_MAX_MESSAGE, err) != 0
        || s_set_int(sock, ZMQ_XPUB_MANUAL, 1, "ZMQ_XPUB_MANUAL", err) != 0
        || s_set_int(sock, ZMQ_SNDHWM, WIRE_HUB_SNDHWM * 16, "ZMQ_SNDHWM",
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
wire_member_socket(void *zctx, const char *endpoint, const uint8_t pk[32],
    const uint8_t sk[32], const uint8_t hub_pk[32], errbuf_t *err)
{
    void *sock;

    if (wire_endpoint_check(endpoint, err) != 0)
        return NULL;
    if ((sock = zmq_socket(zctx, ZMQ_DEALER)) == NULL) {
        errbuf_set(err, "cannot create a socket: %s",
            zmq_strerror(zmq_errno()));
        return NULL;
    }
    if (s_common(sock, (int64_t)WIRE_MAX_MESSAGE, err) != 0
        || s_set_int(sock, ZMQ_RCVHWM, WIRE_MEMBER_RCVHWM, "ZMQ_RCVHWM", err)
            != 0
        || s_curve_client(sock, pk, sk, hub_pk, err) != 0)
        return s_fail(sock);
    s_monitor_note(zctx, sock);
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
    if (wire_endpoint_check(endpoint, err) != 0)
        return NULL;
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

int
wire_notify_admit(void *xpub, wire_notify_refused_fn fn, void *ctx)
{
    int refused = 0;

    for (;;) {
        zmq_msg_t      m;
        const char    *user;
        const uint8_t *p;
        size_t         n, ul;
        int            ok;

        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, xpub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return refused;
        }
        p = zmq_msg_data(&m);
        n = zmq_msg_size(&m);
        user = zmq_msg_gets(&m, "User-Id");
        ul = user != NULL ? strlen(user) : 0;
        /* [1|0][topic]; ok only for the connection's own "<id> ". */
        ok = n >= 1 && (p[0] == 0 || p[0] == 1) && user != NULL
             && keys_owner_valid(user) && n == ul + 2
             && memcmp(p + 1, user, ul) == 0 && p[1 + ul] == ' ';
        if (ok) {
            /* Applies to the connection whose message was read last. */
            if (zmq_setsockopt(xpub, p[0] == 1 ? ZMQ_SUBSCRIBE
                                               : ZMQ_UNSUBSCRIBE,
                    p + 1, n - 1) != 0)
                ok = 0;
        } else if (n >= 1 && p[0] == 0) {
            ok = 1; /* unsubscribing from what was never allowed: no-op */
        }
        if (!ok) {
            char   topic[2 * WIRE_TOPIC_MAX];
            size_t i, j = 0;

            for (i = 1; i < n && j + 1 < sizeof topic; i++)
                topic[j++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
            topic[j] = '\0';
            refused++;
            if (fn != NULL)
                fn(user != NULL ? user : "", topic, ctx);
        }
        s_skip_more(xpub, &m);
        zmq_msg_close(&m);
    }
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
s_wait(void *sock, void *mon, short events, int64_t deadline,
    s_monitor_seen_t *seen, errbuf_t *err)
{
    for (;;) {
        zmq_pollitem_t items[2] = {{sock, 0, events, 0},
            {mon, 0, ZMQ_POLLIN, 0}};
        int64_t        left = deadline - s_now_ms();
        int            rc;

        if (left < 0)
            left = 0;
        rc = zmq_poll(items, mon != NULL ? 2 : 1, (long)left);
        if (rc > 0 && (items[0].revents & events))
            return 1;
        if (rc > 0) {
            s_monitor_drain(mon, seen);
            continue;
        }
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

static Csbm__WireReply *s_call(void *sock, void *mon,
    const Csbm__WireRequest *req, int timeout_ms, errbuf_t *err);

Csbm__WireReply *
wire_call(void *sock, const Csbm__WireRequest *req, int timeout_ms,
    errbuf_t *err)
{
    void            *mon = s_monitor_open(sock);
    Csbm__WireReply *reply = s_call(sock, mon, req, timeout_ms, err);

    s_monitor_close(sock, mon);
    return reply;
}

static Csbm__WireReply *
s_call(void *sock, void *mon, const Csbm__WireRequest *req, int timeout_ms,
    errbuf_t *err)
{
    int64_t          deadline = s_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    s_monitor_seen_t seen;
    int              rc;

    memset(&seen, 0, sizeof seen);
    for (;;) {
        errbuf_t se = {{0}};

        if (wire_send(sock, &req->base, ZMQ_DONTWAIT, &se) == 0)
            break;
        if (errno != EAGAIN) {
            errbuf_set(err, "hub request could not be sent: %s", se.msg);
            return NULL;
        }
        /* Queue full (or not connected yet): wait for room. */
        rc = s_now_ms() < deadline
                 ? s_wait(sock, mon, ZMQ_POLLOUT, deadline, &seen, err)
                 : 0;
        if (rc == 0) {
            if (mon != NULL)
                s_monitor_drain(mon, &seen);
            if (seen.auth_failed || seen.proto_failed)
                s_timeout_error(err, timeout_ms, &seen);
            else
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

        rc = s_wait(sock, mon, ZMQ_POLLIN, deadline, &seen, err);
        if (rc == 0) {
            if (mon != NULL)
                s_monitor_drain(mon, &seen);
            s_timeout_error(err, timeout_ms, &seen);
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
