/*
 * wire: the ZeroMQ side of the exchange — CurveZMQ sockets with bounded
 * message sizes and heartbeats, and protobuf framing of requests and
 * replies. docs/PROTOCOL.md is the specification.
 *
 * Hub: a ROUTER socket, CURVE server, ZAP domain "csbm"; frames are
 * [routing id][WireRequest]. An XPUB socket (CURVE server too, manual
 * subscriptions) carries Notifications with topic "<recipient id> ", and
 * a connection may subscribe to its own id only (wire_notify_admit).
 * Member: a DEALER socket, CURVE client; frames are [WireRequest] out and
 * [WireReply] in. A SUB socket subscribes to its own id.
 */
#ifndef CSBM_WIRE_H
#define CSBM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/errbuf.h"
#include "proto/wire.pb-c.h"

#define WIRE_PROTOCOL        1
#define WIRE_MAX_MESSAGE     (72u * 1024 * 1024) /* ZMQ_MAXMSGSIZE */
#define WIRE_HEARTBEAT_MS    2000
#define WIRE_HEARTBEAT_TTL_MS 6000
#define WIRE_ZAP_DOMAIN      "csbm"
#define WIRE_MAX_PAGE_ITEMS  256
#define WIRE_MAX_PAGE_BYTES  (32u * 1024 * 1024)
/* Notification sockets carry only topics and small Notifications. */
#define WIRE_NOTIFY_MAX_MESSAGE 1024
/* A topic: an identity (at most 15 characters), a space and a NUL. */
#define WIRE_TOPIC_MAX       24
/* Queue bounds (messages per connection). A member that sends requests
 * without reading the replies fills its own queue: the hub queues at most
 * WIRE_HUB_SNDHWM replies for it and drops the rest; it reads at most
 * WIRE_HUB_RCVHWM requests ahead. The reply bound is four times the
 * request bound: libzmq learns that queued messages were taken only every
 * half queue, so a member that keeps WIRE_HUB_RCVHWM requests in flight
 * and reads must never meet the bound (at 64 it did, under load: a reply
 * dropped). The bytes of pull replies are bounded per member by the hub
 * (node/hub.c); the other replies are a few KiB. */
#define WIRE_HUB_SNDHWM      256
#define WIRE_HUB_RCVHWM      64
#define WIRE_MEMBER_RCVHWM   64

/* Is endpoint one this program can use: tcp://HOST:PORT (PORT 1..65535,
 * or * to bind any), ipc://PATH or inproc://NAME? 0, or -1 with err
 * saying the expected form. Every socket function below checks it. */
int wire_endpoint_check(const char *endpoint, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Every socket below carries ZMQ_MAXMSGSIZE, heartbeats (WIRE_HEARTBEAT_MS,
 * timeout and TTL WIRE_HEARTBEAT_TTL_MS) and ZMQ_LINGER 0. Each returns a
 * new socket the caller closes (zmq_close), or NULL with err set.
 *
 * Hub ROUTER socket bound to endpoint, CURVE server with secret key sk
 * (32 raw bytes), ZAP domain WIRE_ZAP_DOMAIN, ZMQ_ROUTER_MANDATORY off.
 * Bind the ZAP handler (node/zap.h) in zctx first. */
void *wire_hub_socket(void *zctx, const char *endpoint, const uint8_t sk[32],
    errbuf_t *err) __attribute__((warn_unused_result));

/* Hub XPUB socket for notifications: CURVE server and ZAP like the
 * ROUTER, ZMQ_MAXMSGSIZE WIRE_NOTIFY_MAX_MESSAGE, ZMQ_XPUB_MANUAL: no
 * subscription takes effect until wire_notify_admit grants it. Publish
 * [topic][Notification] on it as on a PUB. */
void *wire_notify_socket(void *zctx, const char *endpoint, const uint8_t sk[32],
    errbuf_t *err) __attribute__((warn_unused_result));

/* A subscription wire_notify_admit refused: the connection's User-Id ("" if
 * none) and the topic asked for (printable; "" is the empty prefix). */
typedef void (*wire_notify_refused_fn)(const char *user, const char *topic,
    void *ctx);

/* Take every subscription message waiting on xpub (call it whenever the
 * socket polls ZMQ_POLLIN) and grant a connection exactly one topic: its
 * own, "<User-Id> ". The empty prefix, another member's id, any other
 * prefix and a connection without a User-Id get nothing; fn (may be NULL)
 * hears of each. Returns the number refused. */
int wire_notify_admit(void *xpub, wire_notify_refused_fn fn, void *ctx);

/* Member DEALER socket connected to endpoint: CURVE client with its own
 * transport key pair and the hub's transport public key, ZMQ_RCVHWM
 * WIRE_MEMBER_RCVHWM. A socket monitor watches its handshakes so that
 * wire_call can say why the hub is silent; it needs nothing of the
 * caller (close the socket with zmq_close as any other). */
void *wire_member_socket(void *zctx, const char *endpoint,
    const uint8_t pk[32], const uint8_t sk[32], const uint8_t hub_pk[32],
    errbuf_t *err) __attribute__((warn_unused_result));

/* Member SUB socket subscribed to topic "<id> ", ZMQ_MAXMSGSIZE
 * WIRE_NOTIFY_MAX_MESSAGE. Frames in: [topic][Notification]. */
void *wire_subscribe_socket(void *zctx, const char *endpoint, const char *id,
    const uint8_t pk[32], const uint8_t sk[32], const uint8_t hub_pk[32],
    errbuf_t *err) __attribute__((warn_unused_result));

/* Serialize and send a protobuf message as one frame (flags: ZMQ_SNDMORE,
 * ZMQ_DONTWAIT). On failure errno holds the zmq error (EAGAIN when
 * ZMQ_DONTWAIT found the queue full). */
int wire_send(void *sock, const ProtobufCMessage *msg, int flags, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Member: send req and wait up to timeout_ms in all (signals do not cut
 * the wait short) for the reply with the same request id (other replies
 * are dropped). NULL with err on timeout, a malformed reply or another
 * protocol version. On a socket of wire_member_socket the timeout says
 * what the handshakes showed: "the hub refused this node's transport key
 * at the handshake (ZAP status 400): ...", a failed handshake, no
 * connection at all, or else "hub did not answer within N ms". Caller
 * frees the reply with protobuf_c_message_free_unpacked. */
Csbm__WireReply *wire_call(void *sock, const Csbm__WireRequest *req,
    int timeout_ms, errbuf_t *err) __attribute__((warn_unused_result));

#endif
