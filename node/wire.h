/*
 * wire: the ZeroMQ side of the exchange — CurveZMQ sockets with bounded
 * message sizes and heartbeats, and protobuf framing of requests and
 * replies. docs/PROTOCOL.md is the specification.
 *
 * Hub: a ROUTER socket, CURVE server, ZAP domain "csbm"; frames are
 * [routing id][WireRequest]. A PUB socket (CURVE server too) carries
 * Notifications with topic "<recipient id> ".
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

/* Every socket below carries ZMQ_MAXMSGSIZE, heartbeats (WIRE_HEARTBEAT_MS,
 * timeout and TTL WIRE_HEARTBEAT_TTL_MS) and ZMQ_LINGER 0. Each returns a
 * new socket the caller closes (zmq_close), or NULL with err set.
 *
 * Hub ROUTER socket bound to endpoint, CURVE server with secret key sk
 * (32 raw bytes), ZAP domain WIRE_ZAP_DOMAIN, ZMQ_ROUTER_MANDATORY off.
 * Bind the ZAP handler (node/zap.h) in zctx first. */
void *wire_hub_socket(void *zctx, const char *endpoint, const uint8_t sk[32],
    errbuf_t *err) __attribute__((warn_unused_result));

/* Hub PUB socket for notifications: CURVE server and ZAP like the ROUTER,
 * ZMQ_MAXMSGSIZE WIRE_NOTIFY_MAX_MESSAGE. */
void *wire_notify_socket(void *zctx, const char *endpoint, const uint8_t sk[32],
    errbuf_t *err) __attribute__((warn_unused_result));

/* Member DEALER socket connected to endpoint: CURVE client with its own
 * transport key pair and the hub's transport public key. */
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
 * are dropped). NULL with err on timeout ("hub did not answer within N
 * ms"), a malformed reply or another protocol version. Caller frees the
 * reply with protobuf_c_message_free_unpacked. */
Csbm__WireReply *wire_call(void *sock, const Csbm__WireRequest *req,
    int timeout_ms, errbuf_t *err) __attribute__((warn_unused_result));

#endif
