/*
 * zap: who may connect to the hub — a ZeroMQ Authentication Protocol
 * handler (RFC 27, ZAP 1.0) running in its own thread of the hub's zmq
 * context.
 *
 * libzmq asks it about every CURVE handshake on a socket with ZAP domain
 * "csbm". It admits a client whose CURVE public key is the transport key
 * of a keyring binding valid now, owned by a member that is active now,
 * and answers that member's id as the user id, which libzmq then attaches
 * to every message of the connection ("User-Id" metadata), and the key
 * itself as 64 hex digits in the reply's metadata frame (property
 * ZAP_PROPERTY_TRANSPORT_KEY), so the hub can check each request against
 * the keyring at its own time. Everything else is refused with status
 * 400 and logged at warn with the key in Z85 and hex.
 *
 * The thread talks to its owner only by messages over an inproc PAIR
 * socket: a refused handshake is reported as an event (zap_event) so the
 * owner can record it; stopping is a message too. The keyring is read
 * only and must outlive the handler.
 */
#ifndef CSBM_ZAP_H
#define CSBM_ZAP_H

#include <stddef.h>
#include <stdint.h>

#include "config/keyring.h"
#include "proto/errbuf.h"

#define ZAP_ENDPOINT   "inproc://zeromq.zap.01"
#define ZAP_DETAIL_MAX 512
#define ZAP_PROPERTY_TRANSPORT_KEY "Transport-Key"

typedef struct zap zap_t;

/* A refused handshake. */
typedef struct {
    int64_t at;                        /* Unix seconds */
    char    state[KEYS_OWNER_MAX + 1]; /* "" if the key is unknown */
    char    address[64];               /* the peer's IP address */
    char    detail[ZAP_DETAIL_MAX];    /* why, as logged */
} zap_event_t;

/* Start the handler in zctx and wait until it is bound to ZAP_ENDPOINT;
 * bind the sockets it guards only after this returns. Caller owns the
 * result (zap_destroy). */
zap_t *zap_new(void *zctx, const keyring_t *keyring, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Stop the thread and free. Close the guarded sockets first. NULL-safe;
 * nulls the pointer. */
void zap_destroy(zap_t **self_p);

/* The socket on which events arrive, for zmq_poll (ZMQ_POLLIN). */
void *zap_events(zap_t *self);

/* Take one pending event without waiting. 1 and *ev, or 0 if none. */
int zap_next_event(zap_t *self, zap_event_t *ev);

/* The decision, on its own (the thread calls it; tests may too): 0 and
 * user id in state if key may connect at time now, else -1 and why in
 * detail (state holds the owner if the key is known). */
int zap_admit(const keyring_t *keyring, const uint8_t key[32], int64_t now,
    char state[KEYS_OWNER_MAX + 1], char *detail, size_t detail_cap);

#endif
