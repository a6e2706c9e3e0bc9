/*
 * zap: the hub's ZAP handler thread (see zap.h; RFC 27).
 *
 * Request frames (libzmq sends them to ZAP_ENDPOINT through a REQ-like
 * envelope, so a REP socket sees just these):
 *   version "1.0" | request id | domain | address | routing id |
 *   mechanism | credentials (for CURVE: the client's 32-byte public key)
 * Reply frames:
 *   version "1.0" | request id | status code | status text | user id |
 *   metadata (ZMTP property list: name length (1 byte), name, value length
 *   (4 bytes, network order), value; for an admitted CURVE client
 *   "Transport-Key" = its public key in hex, empty otherwise)
 */
#include "node/zap.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "node/log.h"
#include "node/wire.h"

#define S_MAX_FRAMES 16
#define S_FRAME_MAX  512 /* no ZAP frame we accept is longer */
#define S_QUIET_S    60 /* report a refused peer again after this long */
#define S_QUIET_SLOTS 64
#define S_CTL_STOP   "STOP"
#define S_CTL_READY  "READY"

struct zap {
    void            *zctx;
    void            *pipe;  /* our end of the PAIR */
    pthread_t        thread;
    int              started;
    const keyring_t *keyring;
    char             endpoint[64];
};

/* ------------------------------------------------------------ decide --- */

static void
s_time(int64_t t, char out[32])
{
    struct tm tm;
    time_t    tt = (time_t)t;

    if (gmtime_r(&tt, &tm) == NULL
        || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "%lld", (long long)t);
}

static const char *
s_status_name(keyring_status_t s)
{
    switch (s) {
    case KEYRING_ACTIVE: return "active";
    case KEYRING_SUSPENDED: return "suspended";
    case KEYRING_WITHDRAWN: return "withdrawn";
    default: return "of unknown status";
    }
}

int
zap_admit(const keyring_t *keyring, const uint8_t key[32], int64_t now,
    char state[KEYS_OWNER_MAX + 1], char *detail, size_t detail_cap)
{
    const keyring_key_t *valid = NULL, *known = NULL;
    size_t               i, n = keyring_key_count(keyring);
    char                 z85[KEYS_Z85_BYTES], t[32];

    state[0] = '\0';
    for (i = 0; i < n; i++) {
        const keyring_key_t *k = keyring_key_at(keyring, i);

        if (memcmp(k->pub.transport_pk, key, 32) != 0)
            continue;
        if (known != NULL && strcmp(known->pub.owner, k->pub.owner) != 0) {
            snprintf(state, KEYS_OWNER_MAX + 1, "%s", k->pub.owner);
            snprintf(detail, detail_cap, "transport key is bound to both %s "
                "and %s in the keyring; fix the registry", known->pub.owner,
                k->pub.owner);
            return -1;
        }
        known = k;
        if (now >= k->valid_from && now < k->valid_until)
            valid = k;
    }
    if (known == NULL) {
        char hex[65];
        if (keys_z85(key, z85) != 0)
            snprintf(z85, sizeof z85, "?");
        sodium_bin2hex(hex, sizeof hex, key, 32);
        snprintf(detail, detail_cap, "unknown transport key %s (hex %s)", z85,
            hex);
        return -1;
    }
    snprintf(state, KEYS_OWNER_MAX + 1, "%s", known->pub.owner);
    if (strcmp(known->pub.owner, "hub") == 0) {
        snprintf(detail, detail_cap, "the hub's own transport key: the hub "
            "never connects to itself, so a client holding it is refused");
        return -1;
    }
    if (known->status != KEYRING_ACTIVE && now >= known->status_since) {
        s_time(known->status_since, t);
        snprintf(detail, detail_cap, "%s is %s since %s", known->pub.owner,
            s_status_name(known->status), t);
        return -1;
    }
    if (valid == NULL) {
        char hex[2 * KEYS_ID_BYTES + 1];
        keys_id_hex(known->pub.sign_key_id, hex);
        if (now < known->valid_from) {
            s_time(known->valid_from, t);
            snprintf(detail, detail_cap, "%s's key %s is valid only from %s",
                known->pub.owner, hex, t);
        } else {
            s_time(known->valid_until, t);
            snprintf(detail, detail_cap, "%s's key %s was %s at %s",
                known->pub.owner, hex, known->revoked ? "revoked" : "retired",
                t);
        }
        return -1;
    }
    snprintf(detail, detail_cap, "admitted");
    return 0;
}

/* ------------------------------------------------------------ thread --- */

/* A refused client reconnects every few hundred milliseconds, and a
 * hostile one can use a fresh key on every attempt. So a refusal is
 * reported (logged and recorded in the audit trail) only:
 *   - the first time for a peer (address, mechanism and key), then at most
 *     once per S_QUIET_S;
 *   - at most S_ADDR_MAX times per S_QUIET_S for one address, whatever the
 *     keys;
 *   - at most S_GLOBAL_MAX times per S_QUIET_S in all.
 * What is left out is counted and added to the next report, so the trail
 * stays bounded and still says how many attempts there were. */
#define S_ADDR_MAX   8
#define S_ADDR_SLOTS 64
#define S_GLOBAL_MAX 64

typedef struct {
    uint8_t  digest[16];
    int64_t  since;   /* start of its window, or of its quiet period */
    unsigned count;   /* reports in the window (addresses) */
    unsigned dropped; /* refusals not reported since the last report */
} s_slot_t;

typedef struct {
    s_slot_t peer[S_QUIET_SLOTS];
    s_slot_t addr[S_ADDR_SLOTS];
    int64_t  global_since;
    unsigned global_count;
    unsigned global_dropped;
} s_quiet_t;

static void
s_digest(uint8_t d[16], const char *address, const char *mech,
    zmq_msg_t *cred)
{
    crypto_generichash_state st;

    crypto_generichash_init(&st, NULL, 0, 16);
    crypto_generichash_update(&st, (const uint8_t *)address,
        strlen(address) + 1);
    if (mech != NULL)
        crypto_generichash_update(&st, (const uint8_t *)mech,
            strlen(mech) + 1);
    if (cred != NULL)
        crypto_generichash_update(&st, zmq_msg_data(cred),
            zmq_msg_size(cred));
    crypto_generichash_final(&st, d, 16);
}

/* The slot of digest d, or the least recently used one, reset for d. */
static s_slot_t *
s_slot(s_slot_t *slots, size_t n, const uint8_t d[16])
{
    size_t i, oldest = 0;

    for (i = 0; i < n; i++) {
        if (slots[i].since != 0 && memcmp(slots[i].digest, d, 16) == 0)
            return &slots[i];
        if (slots[i].since < slots[oldest].since)
            oldest = i;
    }
    memset(&slots[oldest], 0, sizeof slots[oldest]);
    memcpy(slots[oldest].digest, d, 16);
    return &slots[oldest];
}

/* 1 if this refusal is to be left out; else 0 and *skipped = how many
 * were left out before it (of this peer, this address, or anyone's while
 * the global budget was spent). */
static int
s_quiet(s_quiet_t *q, const char *address, const char *mech,
    zmq_msg_t *cred, int64_t now, unsigned *skipped)
{
    uint8_t   d[16];
    s_slot_t *peer, *addr;

    *skipped = 0;
    s_digest(d, address, mech, cred);
    peer = s_slot(q->peer, S_QUIET_SLOTS, d);
    s_digest(d, address, NULL, NULL);
    addr = s_slot(q->addr, S_ADDR_SLOTS, d);
    if (peer->since != 0 && now - peer->since < S_QUIET_S) {
        peer->dropped++;
        return 1;
    }
    if (addr->since == 0 || now - addr->since >= S_QUIET_S) {
        addr->since = now;
        addr->count = 0;
    }
    if (q->global_since == 0 || now - q->global_since >= S_QUIET_S) {
        q->global_since = now;
        q->global_count = 0;
    }
    if (addr->count >= S_ADDR_MAX || q->global_count >= S_GLOBAL_MAX) {
        if (addr->count >= S_ADDR_MAX)
            addr->dropped++;
        else
            q->global_dropped++;
        return 1;
    }
    addr->count++;
    q->global_count++;
    *skipped = peer->dropped + addr->dropped + q->global_dropped;
    peer->since = now;
    peer->dropped = addr->dropped = q->global_dropped = 0;
    return 0;
}

static void
s_close_frames(zmq_msg_t *f, int n)
{
    int i;

    for (i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

/* Receive one whole request; returns the number of frames (at most
 * S_MAX_FRAMES; extra frames are read and dropped), or -1. */
static int
s_recv_request(void *sock, zmq_msg_t *f)
{
    int n = 0, more = 1;

    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            s_close_frames(f, n);
            return -1;
        }
        more = zmq_msg_more(&m);
        if (n < S_MAX_FRAMES) {
            f[n++] = m;
        } else {
            zmq_msg_close(&m);
            n = S_MAX_FRAMES + 1;
        }
    }
    if (n > S_MAX_FRAMES) {
        s_close_frames(f, S_MAX_FRAMES);
        return 0;
    }
    return n;
}

static int
s_frame_is(zmq_msg_t *m, const char *s)
{
    size_t n = strlen(s);

    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

/* A frame as a bounded printable string. */
static void
s_frame_text(zmq_msg_t *m, char *out, size_t cap)
{
    size_t         n = zmq_msg_size(m), i, j = 0;
    const uint8_t *p = zmq_msg_data(m);

    for (i = 0; i < n && j + 1 < cap; i++)
        out[j++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    out[j] = '\0';
}

static void
s_reply(void *sock, zmq_msg_t *request_id, const char *code,
    const char *text, const char *user, const uint8_t *key)
{
    const char *v = "1.0";
    uint8_t     meta[1 + sizeof ZAP_PROPERTY_TRANSPORT_KEY + 4 + 64 + 1];
    size_t      nl = strlen(ZAP_PROPERTY_TRANSPORT_KEY), ml = 0;
    char        hex[65];

    zmq_send(sock, v, strlen(v), ZMQ_SNDMORE);
    if (request_id != NULL)
        zmq_send(sock, zmq_msg_data(request_id), zmq_msg_size(request_id),
            ZMQ_SNDMORE);
    else
        zmq_send(sock, "", 0, ZMQ_SNDMORE);
    zmq_send(sock, code, strlen(code), ZMQ_SNDMORE);
    zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(sock, user, strlen(user), ZMQ_SNDMORE);
    if (key != NULL) {
        sodium_bin2hex(hex, sizeof hex, key, 32);
        meta[ml++] = (uint8_t)nl;
        memcpy(meta + ml, ZAP_PROPERTY_TRANSPORT_KEY, nl);
        ml += nl;
        meta[ml++] = 0;
        meta[ml++] = 0;
        meta[ml++] = 0;
        meta[ml++] = 64;
        memcpy(meta + ml, hex, 64);
        ml += 64;
    }
    zmq_send(sock, meta, ml, 0);
}

static void
s_report(void *pipe, const zap_event_t *ev)
{
    /* Never block the handshakes on a slow owner: drop if the pipe is
     * full; the log line has been written anyway. */
    (void)zmq_send(pipe, ev, sizeof *ev, ZMQ_DONTWAIT);
}

static void
s_handle(const zap_t *self, void *sock, void *pipe, s_quiet_t *quiet)
{
    zmq_msg_t   f[S_MAX_FRAMES];
    int         n = s_recv_request(sock, f);
    zap_event_t ev;
    char        mech[32];
    unsigned    skipped = 0;

    if (n < 0)
        return;
    memset(&ev, 0, sizeof ev);
    ev.at = (int64_t)time(NULL);
    if (n < 7 || !s_frame_is(&f[0], "1.0")) {
        log_warn("refused a malformed ZAP request (%d frames)", n);
        s_reply(sock, n >= 2 ? &f[1] : NULL, "500", "malformed request", "",
            NULL);
        s_close_frames(f, n);
        return;
    }
    s_frame_text(&f[3], ev.address, sizeof ev.address);
    s_frame_text(&f[5], mech, sizeof mech);
    if (!s_frame_is(&f[2], WIRE_ZAP_DOMAIN)) {
        snprintf(ev.detail, sizeof ev.detail, "wrong ZAP domain");
    } else if (strcmp(mech, "CURVE") != 0) {
        snprintf(ev.detail, sizeof ev.detail, "mechanism %s is not allowed; "
            "only CURVE", mech);
    } else if (n != 7 || zmq_msg_size(&f[6]) != 32) {
        snprintf(ev.detail, sizeof ev.detail, "malformed CURVE credentials");
    } else if (zap_admit(self->keyring, zmq_msg_data(&f[6]), ev.at, ev.state,
                   ev.detail, sizeof ev.detail) == 0) {
        log_debug("admitted %s from %s", ev.state, ev.address);
        s_reply(sock, &f[1], "200", "OK", ev.state, zmq_msg_data(&f[6]));
        s_close_frames(f, n);
        return;
    }
    s_reply(sock, &f[1], "400", ev.detail, "", NULL);
    if (!s_quiet(quiet, ev.address, mech, n >= 7 ? &f[6] : NULL, ev.at,
            &skipped)) {
        if (skipped > 0) {
            size_t used = strlen(ev.detail);
            snprintf(ev.detail + used, sizeof ev.detail - used,
                " (and %u earlier attempts)", skipped);
        }
        log_warn("refused handshake from %s: %s", ev.address, ev.detail);
        s_report(pipe, &ev);
    }
    s_close_frames(f, n);
}

static void *
s_thread(void *arg)
{
    const zap_t *self = arg;
    void        *pipe = zmq_socket(self->zctx, ZMQ_PAIR);
    void        *sock = zmq_socket(self->zctx, ZMQ_REP);
    int          zero = 0;
    char         why[256];
    s_quiet_t    quiet;

    if (pipe == NULL || zmq_connect(pipe, self->endpoint) != 0)
        goto done; /* zap_new times out and says so */
    zmq_setsockopt(pipe, ZMQ_LINGER, &zero, sizeof zero);
    if (sock == NULL || zmq_bind(sock, ZAP_ENDPOINT) != 0) {
        snprintf(why, sizeof why, "cannot bind %s: %s", ZAP_ENDPOINT,
            zmq_strerror(zmq_errno()));
        zmq_send(pipe, why, strlen(why), 0);
        goto done;
    }
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    memset(&quiet, 0, sizeof quiet);
    zmq_send(pipe, S_CTL_READY, strlen(S_CTL_READY), 0);
    for (;;) {
        zmq_pollitem_t items[2] = {{pipe, 0, ZMQ_POLLIN, 0},
            {sock, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, -1) < 0) {
            if (zmq_errno() == ETERM)
                break;
            continue; /* EINTR */
        }
        if (items[0].revents & ZMQ_POLLIN) {
            char cmd[16];
            int  len = zmq_recv(pipe, cmd, sizeof cmd, 0);
            if (len < 0 || (len == (int)strlen(S_CTL_STOP)
                               && memcmp(cmd, S_CTL_STOP, (size_t)len) == 0))
                break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            s_handle(self, sock, pipe, &quiet);
    }
done:
    if (sock != NULL)
        zmq_close(sock);
    if (pipe != NULL)
        zmq_close(pipe);
    return NULL;
}

zap_t *
zap_new(void *zctx, const keyring_t *keyring, errbuf_t *err)
{
    zap_t *self = calloc(1, sizeof *self);
    char   msg[256];
    int    len, zero = 0, timeout = 10000;

    if (self == NULL) {
        errbuf_set(err, "out of memory");
        return NULL;
    }
    self->zctx = zctx;
    self->keyring = keyring;
    snprintf(self->endpoint, sizeof self->endpoint, "inproc://csbm-zap-%p",
        (void *)self);
    if ((self->pipe = zmq_socket(zctx, ZMQ_PAIR)) == NULL
        || zmq_setsockopt(self->pipe, ZMQ_LINGER, &zero, sizeof zero) != 0
        || zmq_setsockopt(self->pipe, ZMQ_RCVTIMEO, &timeout, sizeof timeout)
            != 0
        || zmq_bind(self->pipe, self->endpoint) != 0) {
        errbuf_set(err, "ZAP handler pipe: %s", zmq_strerror(zmq_errno()));
        zap_destroy(&self);
        return NULL;
    }
    if (pthread_create(&self->thread, NULL, s_thread, self) != 0) {
        errbuf_set(err, "cannot start the ZAP handler thread");
        zap_destroy(&self);
        return NULL;
    }
    self->started = 1;
    len = zmq_recv(self->pipe, msg, sizeof msg - 1, 0);
    if (len != (int)strlen(S_CTL_READY)
        || memcmp(msg, S_CTL_READY, (size_t)len) != 0) {
        if (len > 0) {
            msg[len < (int)sizeof msg ? len : (int)sizeof msg - 1] = '\0';
            errbuf_set(err, "ZAP handler: %s", msg);
        } else {
            errbuf_set(err, "the ZAP handler did not start within %d s",
                timeout / 1000);
        }
        zap_destroy(&self);
        return NULL;
    }
    timeout = -1;
    zmq_setsockopt(self->pipe, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    return self;
}

void
zap_destroy(zap_t **self_p)
{
    zap_t *self;

    if (self_p == NULL || (self = *self_p) == NULL)
        return;
    if (self->started) {
        int sndtimeo = 1000;
        zmq_setsockopt(self->pipe, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
        zmq_send(self->pipe, S_CTL_STOP, strlen(S_CTL_STOP), 0);
        pthread_join(self->thread, NULL);
    }
    if (self->pipe != NULL)
        zmq_close(self->pipe);
    free(self);
    *self_p = NULL;
}

void *
zap_events(zap_t *self)
{
    return self->pipe;
}

int
zap_next_event(zap_t *self, zap_event_t *ev)
{
    zap_event_t tmp;
    int         len;

    for (;;) {
        len = zmq_recv(self->pipe, &tmp, sizeof tmp, ZMQ_DONTWAIT);
        if (len < 0)
            return 0;
        if (len == (int)sizeof tmp)
            break;
        /* Anything else on the pipe is a late control reply: skip it. */
    }
    *ev = tmp;
    ev->state[sizeof ev->state - 1] = '\0';
    ev->address[sizeof ev->address - 1] = '\0';
    ev->detail[sizeof ev->detail - 1] = '\0';
    return 1;
}
