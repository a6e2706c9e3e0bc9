/*
 * member: push, sync, pull and the node daemon (see member.h).
 *
 * Delivery is at-least-once on the wire and exactly-once in the archive:
 * a package is resent until a signed answer comes back, and the hub
 * answers a resubmission of an archived package with its original
 * receipt. Only a verified receipt or rejection ends the pending state;
 * anything else (no answer, "retry later", an answer that does not verify)
 * is a failed attempt with exponential backoff in the store.
 */
#include "node/member.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "crypto/package.h"
#include "crypto/receipt.h"
#include "crypto/treehead.h"
#include "node/log.h"
#include "node/wire.h"

#define MEMBER_HUB_BACKOFF_MAX_S 60 /* daemon: longest pause when hub is down */
#define HASH_BYTES 32

struct member {
    member_config_t cfg;
    char           *data_path;
    char           *hub;
    char           *hub_notify;
    char            owner[KEYS_OWNER_MAX + 1];
    char            federation[ENVELOPE_FEDERATION_MAX + 1];
    keyring_t      *keyring;
    keys_secret_t  *transport;
    mailbox_t      *mailbox;
    void           *zctx;
    void           *dealer;
    uint64_t        request_id;
    keys_secret_t  *witness; /* KEYS_SIGN: cosign verified heads; or NULL */
};

static char *
s_strdup_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? strdup(s) : NULL;
}

void
member_config_init(member_config_t *cfg)
{
    const char *e;

    memset(cfg, 0, sizeof *cfg);
    e = getenv("CSBM_DATA");
    cfg->data_path = e != NULL && e[0] != '\0' ? e : MEMBER_DEFAULT_DATA;
    cfg->hub = getenv("CSBM_HUB");
    cfg->hub_notify = getenv("CSBM_HUB_NOTIFY");
    cfg->timeout_ms = MEMBER_DEFAULT_TIMEOUT_MS;
    cfg->page_size = MEMBER_DEFAULT_PAGE;
    cfg->poll_ms = MEMBER_DEFAULT_POLL_MS;
    cfg->pull_every_s = MEMBER_DEFAULT_PULL_EVERY;
}

member_t *
member_new(const member_config_t *cfg, const char *owner,
    const char *federation, keyring_t **keyring, keys_secret_t **transport,
    errbuf_t *err)
{
    member_t *self = calloc(1, sizeof *self);

    if (self != NULL) {
        self->keyring = *keyring;
        if (transport != NULL) {
            self->transport = *transport;
            *transport = NULL;
        }
    } else {
        keyring_destroy(keyring);
        if (transport != NULL)
            keys_secret_destroy(transport);
        errbuf_set(err, "out of memory");
        return NULL;
    }
    *keyring = NULL;
    if (!keys_owner_valid(owner)) {
        errbuf_set(err, "\"%s\" is not a valid identity", owner);
        goto fail;
    }
    if (federation == NULL || federation[0] == '\0'
        || strlen(federation) > ENVELOPE_FEDERATION_MAX) {
        errbuf_set(err, "the federation name must have 1 to %d characters",
            ENVELOPE_FEDERATION_MAX);
        goto fail;
    }
    if (self->transport != NULL
        && (keys_secret_kind(self->transport) != KEYS_TRANSPORT
            || strcmp(keys_secret_owner(self->transport), owner) != 0)) {
        errbuf_set(err, "the transport key given is not %s's transport key",
            owner);
        goto fail;
    }
    snprintf(self->owner, sizeof self->owner, "%s", owner);
    snprintf(self->federation, sizeof self->federation, "%s", federation);
    self->cfg = *cfg;
    self->data_path = s_strdup_or_null(cfg->data_path);
    self->hub = s_strdup_or_null(cfg->hub);
    self->hub_notify = s_strdup_or_null(cfg->hub_notify);
    self->cfg.data_path = self->data_path;
    self->cfg.hub = self->hub;
    self->cfg.hub_notify = self->hub_notify;
    if (self->cfg.timeout_ms <= 0)
        self->cfg.timeout_ms = MEMBER_DEFAULT_TIMEOUT_MS;
    if (self->cfg.page_size == 0 || self->cfg.page_size > WIRE_MAX_PAGE_ITEMS)
        self->cfg.page_size = MEMBER_DEFAULT_PAGE;
    if (self->cfg.poll_ms <= 0)
        self->cfg.poll_ms = MEMBER_DEFAULT_POLL_MS;
    if (self->cfg.pull_every_s <= 0)
        self->cfg.pull_every_s = MEMBER_DEFAULT_PULL_EVERY;
    if (sodium_init() < 0) {
        errbuf_set(err, "libsodium failed to initialise");
        goto fail;
    }
    randombytes_buf(&self->request_id, sizeof self->request_id);
    self->request_id &= UINT64_C(0x00ffffffffffffff);
    if ((self->mailbox = mailbox_open(self->data_path, owner, federation,
             err)) == NULL)
        goto fail;
    return self;
fail:
    member_destroy(&self);
    return NULL;
}

static void
s_drop_dealer(member_t *self)
{
    if (self->dealer != NULL) {
        zmq_close(self->dealer);
        self->dealer = NULL;
    }
}

void
member_destroy(member_t **self_p)
{
    member_t *self;

    if (self_p == NULL || *self_p == NULL)
        return;
    self = *self_p;
    s_drop_dealer(self);
    if (self->zctx != NULL)
        zmq_ctx_term(self->zctx);
    mailbox_destroy(&self->mailbox);
    keys_secret_destroy(&self->transport);
    keys_secret_destroy(&self->witness);
    keyring_destroy(&self->keyring);
    free(self->data_path);
    free(self->hub);
    free(self->hub_notify);
    free(self);
    *self_p = NULL;
}

mailbox_t *
member_mailbox(member_t *self)
{
    return self->mailbox;
}

/* ------------------------------------------------------------ the hub --- */

/* The hub's current transport key, for CURVE. */
static int
s_hub_transport(member_t *self, uint8_t pk[32], errbuf_t *err)
{
    const keyring_key_t *k =
        keyring_recipient(self->keyring, MEMBER_HUB_OWNER, (int64_t)time(NULL),
            err);

    if (k == NULL) {
        errbuf_prefix(err, "no usable key for the hub in the keyring; copy "
            "the hub's hub.pub into the keyring directory");
        return -1;
    }
    memcpy(pk, k->pub.transport_pk, 32);
    return 0;
}

static int
s_need_network(member_t *self, errbuf_t *err)
{
    if (self->hub == NULL) {
        errbuf_set(err, "no hub: pass --hub tcp://HOST:PORT or set CSBM_HUB");
        return -1;
    }
    if (self->transport == NULL) {
        errbuf_set(err, "no transport key loaded: this command works "
            "offline only");
        return -1;
    }
    if (self->zctx == NULL && (self->zctx = zmq_ctx_new()) == NULL) {
        errbuf_set(err, "cannot create a ZeroMQ context: %s",
            zmq_strerror(errno));
        return -1;
    }
    return 0;
}

static void
s_no_linger(void *sock)
{
    int zero = 0;

    (void)zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
}

static void *
s_dealer(member_t *self, errbuf_t *err)
{
    uint8_t hub_pk[32];

    if (self->dealer != NULL)
        return self->dealer;
    if (s_need_network(self, err) != 0
        || s_hub_transport(self, hub_pk, err) != 0)
        return NULL;
    self->dealer = wire_member_socket(self->zctx, self->hub,
        keys_secret_public(self->transport),
        keys_secret_bytes(self->transport), hub_pk, err);
    if (self->dealer != NULL)
        s_no_linger(self->dealer);
    return self->dealer;
}

/* One request, one reply. On failure the socket is dropped: a request
 * still queued in it must not reach the hub later, and a fresh connection
 * is the cheapest way to recover from a lost handshake. */
static Csbm__WireReply *
s_call(member_t *self, Csbm__WireRequest *req, errbuf_t *err)
{
    Csbm__WireReply *reply;
    void            *sock = s_dealer(self, err);

    if (sock == NULL)
        return NULL;
    req->protocol = WIRE_PROTOCOL;
    req->request_id = ++self->request_id;
    reply = wire_call(sock, req, self->cfg.timeout_ms, err);
    if (reply == NULL) {
        /* Name the endpoint: "hub at tcp://... did not answer ...". */
        if (err != NULL && strncmp(err->msg, "hub ", 4) == 0) {
            char msg[ERRBUF_SIZE];
            snprintf(msg, sizeof msg, "%s", err->msg + 4);
            errbuf_set(err, "hub at %s %s", self->hub, msg);
        } else if (err != NULL && strncmp(err->msg, "the hub ", 8) == 0) {
            /* "the hub at tcp://... refused this node's transport key". */
            char msg[ERRBUF_SIZE];
            snprintf(msg, sizeof msg, "%s", err->msg + 8);
            errbuf_set(err, "the hub at %s %s", self->hub, msg);
        } else {
            errbuf_prefix(err, "hub at %s", self->hub);
        }
        s_drop_dealer(self);
    }
    return reply;
}

static const char *
s_reason(int reason)
{
    return receipt_reason_name(reason);
}

/* The keyring binding of the hub key that signed s, valid at time at. */
static const keyring_key_t *
s_hub_key_by_id(member_t *self, const Csbm__Signed *s, errbuf_t *err)
{
    size_t i, n = keyring_key_count(self->keyring);
    char   hex[2 * KEYS_ID_BYTES + 1];

    if (s->hub_key_id.len != KEYS_ID_BYTES) {
        errbuf_set(err, "the hub key id is %zu bytes, not %d",
            s->hub_key_id.len, KEYS_ID_BYTES);
        return NULL;
    }
    for (i = 0; i < n; i++) {
        const keyring_key_t *k = keyring_key_at(self->keyring, i);
        if (strcmp(k->pub.owner, MEMBER_HUB_OWNER) == 0
            && memcmp(k->pub.sign_key_id, s->hub_key_id.data, KEYS_ID_BYTES)
                == 0)
            return k;
    }
    keys_id_hex(s->hub_key_id.data, hex);
    errbuf_set(err, "signed by hub key %s, which is not in the keyring", hex);
    return NULL;
}

/* Parse a receipt and check whom it answers to: a hub key of the keyring,
 * valid when the hub says it accepted the package, in this federation.
 * It proves nothing before its inclusion proof is checked
 * (s_check_inclusion, or s_check_item's against a page's head). */
static int
s_parse_receipt(member_t *self, const Csbm__Signed *s, Csbm__Receipt **out,
    errbuf_t *err)
{
    const keyring_key_t *k, *valid = NULL;
    Csbm__Receipt       *r = NULL;

    *out = NULL;
    if (s == NULL) {
        errbuf_set(err, "no receipt");
        return -1;
    }
    if ((k = s_hub_key_by_id(self, s, err)) == NULL)
        return -1;
    if (receipt_parse(s, &r, err) != 0)
        return -1;
    if (keyring_signer(self->keyring, MEMBER_HUB_OWNER, k->pub.sign_key_id,
            (int64_t)r->accepted_at, &valid, err) != 0) {
        errbuf_prefix(err, "hub key not valid at the receipt's time");
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return -1;
    }
    if (strcmp(r->federation, self->federation) != 0) {
        errbuf_set(err, "the receipt is for federation \"%s\", not \"%s\"",
            r->federation, self->federation);
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return -1;
    }
    *out = r;
    return 0;
}

static int
s_verify_rejection(member_t *self, const Csbm__Signed *s,
    Csbm__Rejection **out, errbuf_t *err)
{
    const keyring_key_t *k, *valid = NULL;
    Csbm__Rejection     *r = NULL;

    *out = NULL;
    if ((k = s_hub_key_by_id(self, s, err)) == NULL)
        return -1;
    if (receipt_verify_rejection(s, k->pub.sign_pk, &r, err) != 0)
        return -1;
    if (keyring_signer(self->keyring, MEMBER_HUB_OWNER, k->pub.sign_key_id,
            (int64_t)r->rejected_at, &valid, err) != 0) {
        errbuf_prefix(err, "hub key not valid at the rejection's time");
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return -1;
    }
    if (strcmp(r->federation, self->federation) != 0) {
        errbuf_set(err, "the rejection is for federation \"%s\", not \"%s\"",
            r->federation, self->federation);
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return -1;
    }
    *out = r;
    return 0;
}

static int
s_same_id(const ProtobufCBinaryData *b, const uint8_t id[ENVELOPE_ID_BYTES])
{
    return b->len == ENVELOPE_ID_BYTES
        && memcmp(b->data, id, ENVELOPE_ID_BYTES) == 0;
}

static int
s_same_hash(const ProtobufCBinaryData *b, const uint8_t hash[HASH_BYTES])
{
    return b->len == HASH_BYTES && memcmp(b->data, hash, HASH_BYTES) == 0;
}

/* Serialize a Signed statement for the store. Caller frees. */
static uint8_t *
s_pack_signed(const Csbm__Signed *s, size_t *len)
{
    size_t   n = protobuf_c_message_get_packed_size(&s->base);
    uint8_t *buf = malloc(n > 0 ? n : 1);

    if (buf != NULL)
        *len = protobuf_c_message_pack(&s->base, buf);
    return buf;
}

/* ----------------------------------------------------------- delivery --- */

/* Record a failed attempt: the package stays pending. */
static int
s_attempt_failed(member_t *self, member_delivery_t *out, errbuf_t *err,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
s_attempt_failed(member_t *self, member_delivery_t *out, errbuf_t *err,
    const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out->message, sizeof out->message, fmt, ap);
    va_end(ap);
    out->outcome = MEMBER_QUEUED;
    return mailbox_outbox_failed(self->mailbox, out->package_id,
        (int64_t)time(NULL), out->message, err);
}

/* The hub key that signed a tree head, valid at the head's time. */
static int
s_verify_head(member_t *self, const Csbm__Signed *s, treehead_t *th,
    errbuf_t *err)
{
    const keyring_key_t *k, *valid = NULL;

    if (s == NULL) {
        errbuf_set(err, "no signed tree head");
        return -1;
    }
    if ((k = s_hub_key_by_id(self, s, err)) == NULL
        || treehead_verify(s, k->pub.sign_pk, th, err) != 0)
        return -1;
    if (keyring_signer(self->keyring, MEMBER_HUB_OWNER, k->pub.sign_key_id,
            th->timestamp, &valid, err) != 0) {
        errbuf_prefix(err, "hub key not valid at the tree head's time");
        return -1;
    }
    if (strcmp(th->origin, self->federation) != 0) {
        errbuf_set(err, "the tree head is of the log of \"%s\", not \"%s\"",
            th->origin, self->federation);
        return -1;
    }
    return 0;
}

/* The log helpers below (section "log"). */
static int s_same_history(member_t *self, const treehead_t *a,
    const Csbm__Signed *a_s, const treehead_t *b, const Csbm__Signed *b_s,
    const char *what, int *forked, errbuf_t *err);
static int s_head_fits(member_t *self, const Csbm__Signed *s,
    const treehead_t *th, errbuf_t *err);

/* Verify the inclusion proof that came with a receipt: the receipt's leaf
 * in a head the hub signed, and that head on the history of the newest
 * head this node verified before (which it then replaces). A proof that
 * does not verify is kept as evidence. 0, or -1 with why (the package
 * must stay pending then); *local is set when the failure is the store's,
 * with err. */
static int
s_check_inclusion(member_t *self, const Csbm__Signed *s,
    const Csbm__Receipt *r, const Csbm__InclusionProof *ip, errbuf_t *why,
    int *local, errbuf_t *err)
{
    const keyring_key_t *k;
    treehead_t           th;
    errbuf_t             e = {{0}};

    *local = 0;
    if (ip == NULL) {
        errbuf_set(why, "the hub's receipt for position %llu came without "
            "the inclusion proof that shows it in the hub's signed log",
            (unsigned long long)r->position);
        return -1;
    }
    if (ip->tree_head == NULL
        || (k = s_hub_key_by_id(self, ip->tree_head, &e)) == NULL
        || receipt_inclusion_verify(s, r, ip, k->pub.sign_pk, &th, &e) != 0
        || s_verify_head(self, ip->tree_head, &th, &e) != 0) {
        char what[MAILBOX_ERROR_MAX];
        snprintf(what, sizeof what, "the inclusion proof of the receipt for "
            "position %llu does not verify: %.300s",
            (unsigned long long)r->position,
            ip->tree_head == NULL ? "no tree head" : e.msg);
        errbuf_set(why, "%s (evidence kept; see 'csbm log')", what);
        if (mailbox_evidence_add(self->mailbox, (int64_t)time(NULL), what,
                NULL, 0, NULL, 0, NULL, 0, err) != 0)
            *local = 1;
        return -1;
    }
    if (s_head_fits(self, ip->tree_head, &th, &e) != 0) {
        errbuf_set(why, "the tree head of the receipt's inclusion proof "
            "could not be checked against the one verified before: %s",
            e.msg);
        return -1;
    }
    return 0;
}

static int
s_keep_inclusion(member_t *self, const uint8_t id[ENVELOPE_ID_BYTES],
    const Csbm__InclusionProof *ip, errbuf_t *err)
{
    uint8_t *buf;
    size_t   len;
    int      rc;

    len = protobuf_c_message_get_packed_size(&ip->base);
    if ((buf = malloc(len + 1)) == NULL) {
        errbuf_set(err, "out of memory");
        return -1;
    }
    protobuf_c_message_pack(&ip->base, buf);
    rc = mailbox_outbox_set_inclusion(self->mailbox, id, buf, len, err);
    free(buf);
    return rc;
}

/* A receipt ends the pending state only with a verifying inclusion proof
 * in a head consistent with what this node saw of the log: a receipt the
 * hub does not show in its log could be withdrawn without trace. */
static int
s_on_receipt(member_t *self, const mailbox_outbox_entry_t *e,
    const uint8_t hash[HASH_BYTES], const Csbm__SubmitReply *sr,
    member_delivery_t *out, errbuf_t *err)
{
    errbuf_t       why = {{0}};
    Csbm__Receipt *r = NULL;
    uint8_t       *packed = NULL;
    size_t         packed_len = 0;
    int            rc, local = 0;

    if (s_parse_receipt(self, sr->receipt, &r, &why) != 0)
        return s_attempt_failed(self, out, err, "the hub's receipt does not "
            "verify (%s); the package stays queued", why.msg);
    if (!s_same_id(&r->package_id, e->package_id)
        || strcmp(r->sender, self->owner) != 0 || r->sequence != e->sequence
        || !s_same_hash(&r->envelope_hash, hash) || r->position == 0) {
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return s_attempt_failed(self, out, err, "the hub's receipt names "
            "another package, sender, sequence or envelope than the one "
            "sent; the package stays queued");
    }
    if (s_check_inclusion(self, sr->receipt, r, sr->inclusion, &why, &local,
            err) != 0) {
        protobuf_c_message_free_unpacked(&r->base, NULL);
        if (local)
            return -1;
        return s_attempt_failed(self, out, err, "not delivered: %.400s; the "
            "package stays queued", why.msg);
    }
    if ((packed = s_pack_signed(sr->receipt, &packed_len)) == NULL) {
        protobuf_c_message_free_unpacked(&r->base, NULL);
        errbuf_set(err, "out of memory");
        return -1;
    }
    rc = mailbox_outbox_delivered(self->mailbox, e->package_id, packed,
        packed_len, r->position, (int64_t)r->accepted_at, err);
    if (rc == 0)
        rc = s_keep_inclusion(self, e->package_id, sr->inclusion, err);
    if (rc == 0) {
        out->outcome = MEMBER_DELIVERED;
        out->position = r->position;
        out->accepted_at = (int64_t)r->accepted_at;
        out->duplicate = sr->duplicate ? 1 : 0;
        out->message[0] = '\0';
    }
    free(packed);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return rc;
}

static int
s_on_rejection(member_t *self, const mailbox_outbox_entry_t *e,
    const uint8_t hash[HASH_BYTES], const Csbm__WireReply *reply,
    member_delivery_t *out, errbuf_t *err)
{
    const Csbm__Signed *s = reply->body_case == CSBM__WIRE_REPLY__BODY_SUBMIT
                                ? reply->submit->rejection
                                : NULL;
    errbuf_t            why = {{0}};
    Csbm__Rejection    *r = NULL;
    uint8_t            *packed = NULL;
    size_t              packed_len = 0;
    int                 rc;

    /* An unsigned refusal proves nothing: keep the package and retry, so
     * a fault between here and the hub cannot silently drop it. */
    if (s == NULL)
        return s_attempt_failed(self, out, err, "the hub refused it without "
            "a signed rejection (%s: %s); the package stays queued",
            s_reason(reply->reason), reply->message);
    if (s_verify_rejection(self, s, &r, &why) != 0)
        return s_attempt_failed(self, out, err, "the hub's rejection does "
            "not verify (%s); the package stays queued", why.msg);
    if ((r->package_id.len != 0 && !s_same_id(&r->package_id, e->package_id))
        || strcmp(r->sender, self->owner) != 0
        || !s_same_hash(&r->envelope_hash, hash)) {
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return s_attempt_failed(self, out, err, "the hub's rejection names "
            "another package, sender or envelope than the one sent; the "
            "package stays queued");
    }
    if ((packed = s_pack_signed(s, &packed_len)) == NULL) {
        protobuf_c_message_free_unpacked(&r->base, NULL);
        errbuf_set(err, "out of memory");
        return -1;
    }
    rc = mailbox_outbox_rejected(self->mailbox, e->package_id, packed,
        packed_len, (int)r->reason, r->message, err);
    if (rc == 0) {
        out->outcome = MEMBER_REJECTED;
        out->reason = (int)r->reason;
        snprintf(out->message, sizeof out->message, "%s", r->message);
    }
    free(packed);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return rc;
}

static int
s_deliver(member_t *self, const mailbox_outbox_entry_t *e,
    const uint8_t *env, size_t env_len, member_delivery_t *out, errbuf_t *err)
{
    Csbm__WireRequest   req = CSBM__WIRE_REQUEST__INIT;
    Csbm__SubmitRequest sub = CSBM__SUBMIT_REQUEST__INIT;
    Csbm__WireReply    *reply;
    errbuf_t            why = {{0}};
    uint8_t             hash[HASH_BYTES];
    int                 rc;

    memset(out, 0, sizeof *out);
    memcpy(out->package_id, e->package_id, ENVELOPE_ID_BYTES);
    out->sequence = e->sequence;
    out->package_type = e->package_type;
    out->outcome = MEMBER_QUEUED;
    receipt_envelope_hash(env, env_len, hash);
    sub.envelope.data = (uint8_t *)(uintptr_t)env;
    sub.envelope.len = env_len;
    req.body_case = CSBM__WIRE_REQUEST__BODY_SUBMIT;
    req.submit = &sub;
    if ((reply = s_call(self, &req, &why)) == NULL) {
        out->unanswered = 1;
        return s_attempt_failed(self, out, err, "%s", why.msg);
    }
    switch (reply->status) {
    case CSBM__WIRE_STATUS__WIRE_OK:
        if (reply->body_case != CSBM__WIRE_REPLY__BODY_SUBMIT
            || reply->submit->receipt == NULL)
            rc = s_attempt_failed(self, out, err, "the hub answered OK "
                "without a receipt; the package stays queued");
        else
            rc = s_on_receipt(self, e, hash, reply->submit, out, err);
        break;
    case CSBM__WIRE_STATUS__WIRE_REJECTED:
        rc = s_on_rejection(self, e, hash, reply, out, err);
        break;
    case CSBM__WIRE_STATUS__WIRE_RETRY:
        rc = s_attempt_failed(self, out, err, "the hub asks to try again "
            "later (%s: %s)", s_reason(reply->reason), reply->message);
        break;
    default:
        rc = s_attempt_failed(self, out, err, "the hub answered with an "
            "unknown status %d (%s: %s)", (int)reply->status,
            s_reason(reply->reason), reply->message);
        break;
    }
    protobuf_c_message_free_unpacked(&reply->base, NULL);
    return rc;
}

int
member_deliver(member_t *self, const uint8_t id[ENVELOPE_ID_BYTES],
    member_delivery_t *out, errbuf_t *err)
{
    mailbox_outbox_entry_t e;
    uint8_t               *env = NULL;
    size_t                 env_len = 0;
    int                    rc;

    rc = mailbox_outbox_get(self->mailbox, id, &e, &env, &env_len, err);
    if (rc == 0) {
        char hex[33];
        envelope_id_hex(id, hex);
        errbuf_set(err, "no package %s in the outbox", hex);
    }
    if (rc <= 0)
        return -1;
    rc = s_deliver(self, &e, env, env_len, out, err);
    free(env);
    return rc;
}

typedef struct {
    const Csbm__Package *pkg;
    package_seal_opts_t  opts;
} seal_ctx_t;

static int
s_seal(uint64_t sequence, void *ctx, uint8_t **env, size_t *env_len,
    errbuf_t *err)
{
    seal_ctx_t *c = ctx;

    c->opts.sequence = sequence;
    return package_seal(c->pkg, &c->opts, env, env_len, err);
}

int
member_endpoint_check(const char *ep, errbuf_t *err)
{
    const char        *host, *colon;
    char              *end;
    unsigned long      port;

    if (ep == NULL || ep[0] == '\0') {
        errbuf_set(err, "no hub: pass --hub tcp://HOST:PORT or set CSBM_HUB");
        return -1;
    }
    if (strncmp(ep, "ipc://", 6) == 0 && ep[6] != '\0')
        return 0;
    if (strncmp(ep, "tcp://", 6) == 0) {
        host = ep + 6;
        colon = strrchr(host, ':');
        if (colon != NULL && colon > host && colon[1] >= '0'
            && colon[1] <= '9') {
            errno = 0;
            port = strtoul(colon + 1, &end, 10);
            if (errno == 0 && *end == '\0' && port >= 1 && port <= 65535)
                return 0;
        }
    }
    errbuf_set(err, "the hub endpoint \"%s\" is not of the form "
        "tcp://HOST:PORT (say tcp://127.0.0.1:5555) or ipc://PATH", ep);
    return -1;
}

/* The outbox walk: deliver pending packages in sequence order, up to and
 * including sequence upto, stopping at the first one that stays pending
 * (later ones wait, so the hub sees sequence order). *last (if not NULL)
 * is the last attempt made; last->sequence is 0 if none was. */
static int
s_walk(member_t *self, int respect_backoff, uint64_t upto,
    member_delivery_fn on_delivery, void *ctx, member_sync_report_t *rep,
    member_delivery_t *last, errbuf_t *err)
{
    mailbox_outbox_entry_t e;
    member_delivery_t      d;
    uint64_t               after = 0;
    uint8_t               *env;
    size_t                 env_len;
    int                    rc;

    memset(rep, 0, sizeof *rep);
    if (last != NULL)
        memset(last, 0, sizeof *last);
    for (;;) {
        env = NULL;
        rc = mailbox_outbox_next(self->mailbox, after, INT64_MAX, &e, &env,
            &env_len, err);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        if (e.sequence > upto
            || (respect_backoff && e.next_attempt_at > (int64_t)time(NULL))) {
            free(env);
            break;
        }
        rc = s_deliver(self, &e, env, env_len, &d, err);
        free(env);
        if (rc != 0)
            return -1;
        if (last != NULL)
            *last = d;
        if (on_delivery != NULL)
            on_delivery(&d, ctx);
        if (d.outcome == MEMBER_DELIVERED) {
            rep->delivered++;
            rep->duplicates += d.duplicate ? 1 : 0;
        } else if (d.outcome == MEMBER_REJECTED) {
            rep->rejected++;
        } else {
            /* Later packages wait, so the hub sees sequence order. */
            rep->stalled = 1;
            rep->unanswered = d.unanswered;
            snprintf(rep->last_error, sizeof rep->last_error, "%s",
                d.message);
            break;
        }
        after = e.sequence;
    }
    rep->pending = mailbox_outbox_count(self->mailbox, MAILBOX_PENDING, err);
    return rep->pending < 0 ? -1 : 0;
}

int
member_sync(member_t *self, int respect_backoff,
    member_delivery_fn on_delivery, void *ctx, member_sync_report_t *rep,
    errbuf_t *err)
{
    return s_walk(self, respect_backoff, UINT64_MAX, on_delivery, ctx, rep,
        NULL, err);
}

/* Deliver a just queued package e the way the outbox walk does: the older
 * pending packages first, in sequence order, then e. If an older one stays
 * pending, e waits behind it (out says which). */
static int
s_push_deliver(member_t *self, const mailbox_outbox_entry_t *e,
    member_delivery_t *out, errbuf_t *err)
{
    member_sync_report_t rep;
    member_delivery_t    last;

    if (s_walk(self, 0, e->sequence, NULL, NULL, &rep, &last, err) != 0)
        return -1;
    if (last.sequence == e->sequence) {
        *out = last;
        return 0;
    }
    if (rep.stalled) {
        char hex[33];
        envelope_id_hex(last.package_id, hex);
        out->unanswered = last.unanswered;
        snprintf(out->message, sizeof out->message, "older package %s "
            "(sequence %llu) is still pending: %.360s; the new package is "
            "queued behind it", hex, (unsigned long long)last.sequence,
            last.message);
        return 0;
    }
    /* No longer pending (another process of this node delivered it
     * meanwhile): the hub answers a repeat with its original receipt. */
    return member_deliver(self, e->package_id, out, err);
}

int
member_push(member_t *self, const Csbm__Package *pkg, const char *const *to,
    size_t n_to, const keys_secret_t *sign_key, int send,
    member_delivery_t *out, errbuf_t *err)
{
    mailbox_outbox_entry_t e;
    seal_ctx_t             c;

    memset(out, 0, sizeof *out);
    if (keys_secret_kind(sign_key) != KEYS_SIGN
        || strcmp(keys_secret_owner(sign_key), self->owner) != 0) {
        errbuf_set(err, "pushing as %s needs %s's signing key", self->owner,
            self->owner);
        return -1;
    }
    if (send && member_endpoint_check(self->hub, err) != 0)
        return -1;
    memset(&c, 0, sizeof c);
    c.pkg = pkg;
    c.opts.federation = self->federation;
    c.opts.sign_key = sign_key;
    c.opts.keyring = self->keyring;
    c.opts.to = to;
    c.opts.n_to = n_to;
    c.opts.now = (int64_t)time(NULL);
    if (mailbox_outbox_add(self->mailbox, s_seal, &c, &e, err) != 0)
        return -1;
    memcpy(out->package_id, e.package_id, ENVELOPE_ID_BYTES);
    out->sequence = e.sequence;
    out->package_type = e.package_type;
    out->outcome = MEMBER_QUEUED;
    snprintf(out->message, sizeof out->message, "queued, not sent");
    if (!send)
        return 0;
    return s_push_deliver(self, &e, out, err);
}

/* --------------------------------------------------------------- pull --- */

/* Write why an item is refused (truncating a long reason is fine). */
static void
s_why(char *reason, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
s_why(char *reason, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, cap, fmt, ap);
    va_end(ap);
}

/* Check one pulled item; on any failure set it->refused to the reason
 * (in reason). *env keeps the parsed envelope alive until the commit, and
 * *receipt the serialized receipt. */
static int
s_check_item(member_t *self, const treehead_t *head, const Csbm__PullItem *pi,
    mailbox_inbox_item_t *it, envelope_t **env, uint8_t **receipt,
    char *reason, size_t cap)
{
    const Csbm__EnvelopeHeader *h;
    errbuf_t                    why = {{0}};
    Csbm__Receipt              *r = NULL;
    uint8_t                     hash[HASH_BYTES];
    size_t                      i;
    int                         mine = 0;

    memset(it, 0, sizeof *it);
    it->position = pi->position;
    it->envelope = pi->envelope.data;
    it->envelope_len = pi->envelope.len;
    it->refused = reason;
    if (pi->receipt != NULL) {
        if ((*receipt = s_pack_signed(pi->receipt, &it->receipt_len)) == NULL)
            return -1;
        it->receipt = *receipt;
    }
    if ((*env = envelope_parse(pi->envelope.data, pi->envelope.len, &why))
        == NULL) {
        s_why(reason, cap, "the package does not parse: %s", why.msg);
        return 0;
    }
    h = envelope_header(*env);
    if (h->package_id.len != ENVELOPE_ID_BYTES) {
        s_why(reason, cap, "the package id is not %d bytes",
            ENVELOPE_ID_BYTES);
        return 0;
    }
    it->package_id = h->package_id.data;
    it->sender = h->sender;
    it->package_type = (int)h->package_type;
    it->year = h->year;
    it->created_at = h->created_at > INT64_MAX ? INT64_MAX
                                               : (int64_t)h->created_at;
    if (package_verify(*env, self->keyring, self->federation, NULL, &why)
        != 0) {
        s_why(reason, cap, "not valid: %s", why.msg);
        return 0;
    }
    for (i = 0; i < h->n_recipients; i++)
        mine |= strcmp(h->recipients[i]->id, self->owner) == 0;
    if (!mine) {
        s_why(reason, cap, "not addressed to %s; the hub should not "
            "have sent it", self->owner);
        return 0;
    }
    if (s_parse_receipt(self, pi->receipt, &r, &why) != 0) {
        s_why(reason, cap, "the hub's receipt does not verify: %s",
            why.msg);
        return 0;
    }
    if (head == NULL || pi->inclusion == NULL
        || receipt_path_verify(pi->receipt, r, pi->inclusion->leaf_index,
               pi->inclusion->path.data, pi->inclusion->path.len, head, &why)
            != 0) {
        s_why(reason, cap, "the hub's receipt is not shown in its signed "
            "log: %s", head == NULL ? "the page came without a valid tree "
            "head" : pi->inclusion == NULL ? "no inclusion proof" : why.msg);
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return 0;
    }
    receipt_envelope_hash(pi->envelope.data, pi->envelope.len, hash);
    if (!s_same_id(&r->package_id, h->package_id.data)
        || strcmp(r->sender, h->sender) != 0 || r->sequence != h->sequence
        || !s_same_hash(&r->envelope_hash, hash)
        || r->position != pi->position) {
        s_why(reason, cap, "the hub's receipt names another package, "
            "envelope or position (receipt position %llu)",
            (unsigned long long)r->position);
        protobuf_c_message_free_unpacked(&r->base, NULL);
        return 0;
    }
    protobuf_c_message_free_unpacked(&r->base, NULL);
    it->refused = NULL;
    return 0;
}

/* One pulled page being checked: what mailbox_inbox_commit takes, and
 * what keeps it alive until then. */
typedef struct {
    const Csbm__PullReply *p;
    treehead_t             head;      /* p->tree_head, verified */
    int                    have_head;
    mailbox_inbox_item_t  *items;
    envelope_t           **envs;
    uint8_t              **receipts;
    char                  *reasons;
} s_page_t;

/* A run of a page's items out with one checker thread. */
typedef struct {
    member_t *self; /* only its keyring, federation and owner are read */
    s_page_t *pg;
    size_t    lo, hi;
    int       rc;   /* -1: out of memory */
} s_check_run_t;

#define S_CHECKERS 2 /* threads that check a page while the next is fetched */
#define S_BUSY_RETRIES 24  /* a busy hub's pull asked again this often, */
#define S_BUSY_WAIT_MS 500 /* this long apart: longer than its window */

static void
s_page_free(s_page_t *pg)
{
    size_t i;

    for (i = 0; pg->envs != NULL && pg->receipts != NULL && i < pg->p->n_items;
         i++) {
        envelope_destroy(&pg->envs[i]);
        free(pg->receipts[i]);
    }
    free(pg->items);
    free(pg->envs);
    free(pg->receipts);
    free(pg->reasons);
    memset(pg, 0, sizeof *pg);
}

/* A page's items are checked against its one tree head: signed by a hub
 * key valid at its time, verified here once for all of them. */
static int
s_page_init(member_t *self, s_page_t *pg, const Csbm__PullReply *p,
    errbuf_t *err)
{
    size_t   n = p->n_items, i;
    errbuf_t why = {{0}};

    memset(pg, 0, sizeof *pg);
    pg->p = p;
    for (i = 0; i < n; i++)
        if (p->items[i] == NULL) {
            errbuf_set(err, "the hub sent an empty item");
            return -1;
        }
    if (n > 0) {
        if (p->tree_head == NULL
            || s_verify_head(self, p->tree_head, &pg->head, &why) != 0) {
            errbuf_set(err, "the hub's tree head for the page's receipts %s%s; "
                "nothing of the page was kept", p->tree_head == NULL
                ? "is missing" : "does not verify: ", why.msg);
            return -1;
        }
        pg->have_head = 1;
    }
    pg->items = calloc(n + 1, sizeof *pg->items);
    pg->envs = calloc(n + 1, sizeof *pg->envs);
    pg->receipts = calloc(n + 1, sizeof *pg->receipts);
    pg->reasons = calloc(n + 1, MAILBOX_ERROR_MAX);
    if (pg->items == NULL || pg->envs == NULL || pg->receipts == NULL
        || pg->reasons == NULL) {
        errbuf_set(err, "out of memory");
        s_page_free(pg);
        return -1;
    }
    return 0;
}

static void
s_check_run(s_check_run_t *r)
{
    size_t i;

    r->rc = 0;
    for (i = r->lo; i < r->hi && r->rc == 0; i++)
        r->rc = s_check_item(r->self,
            r->pg->have_head ? &r->pg->head : NULL, r->pg->p->items[i],
            &r->pg->items[i],
            &r->pg->envs[i], &r->pg->receipts[i],
            r->pg->reasons + i * MAILBOX_ERROR_MAX, MAILBOX_ERROR_MAX);
}

static void *
s_checker(void *arg)
{
    void *pipe = arg;

    for (;;) {
        s_check_run_t *r = NULL;
        int            rc = zmq_recv(pipe, &r, sizeof r, 0);

        if (rc < 0 && zmq_errno() == EINTR)
            continue;
        if (rc != (int)sizeof r || r == NULL)
            break;
        s_check_run(r);
        while (zmq_send(pipe, &r, sizeof r, 0) < 0 && zmq_errno() == EINTR)
            ;
    }
    zmq_close(pipe);
    return NULL;
}

/* The checker threads of one member_pull, each with its inproc PAIR pipe.
 * A message is a pointer to an s_check_run_t: sending it hands the run's
 * items to the checker, which sends the pointer back when they are
 * checked; the pulling thread touches a page only when every run of it
 * is back. A NULL pointer stops a checker. With no checkers (a pipe or a
 * thread could not be made) the pulling thread checks pages itself. */
typedef struct {
    void          *pipe[S_CHECKERS];
    pthread_t      th[S_CHECKERS];
    int            n;
    s_check_run_t  runs[S_CHECKERS];
    int            out; /* runs sent, not yet back */
} s_checkers_t;

static void
s_checkers_start(member_t *self, s_checkers_t *c)
{
    sigset_t all, old;
    int      i;

    memset(c, 0, sizeof *c);
    if (self->zctx == NULL)
        return;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (i = 0; i < S_CHECKERS; i++) {
        char  ep[96];
        void *mine = zmq_socket(self->zctx, ZMQ_PAIR);
        void *theirs = zmq_socket(self->zctx, ZMQ_PAIR);
        int   zero = 0;

        snprintf(ep, sizeof ep, "inproc://csbm-pull-check-%p-%d",
            (void *)c, i);
        if (mine != NULL && theirs != NULL
            && zmq_setsockopt(mine, ZMQ_LINGER, &zero, sizeof zero) == 0
            && zmq_setsockopt(theirs, ZMQ_LINGER, &zero, sizeof zero) == 0
            && zmq_bind(mine, ep) == 0 && zmq_connect(theirs, ep) == 0
            && pthread_create(&c->th[c->n], NULL, s_checker, theirs) == 0) {
            c->pipe[c->n++] = mine;
            continue;
        }
        if (mine != NULL)
            zmq_close(mine);
        if (theirs != NULL)
            zmq_close(theirs);
        break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Wait for every run out; returns -1 if one ran out of memory. */
static int
s_checkers_wait(s_checkers_t *c)
{
    int i, rc = 0;

    for (i = 0; i < c->out; i++) {
        s_check_run_t *r = NULL;
        while (zmq_recv(c->pipe[i], &r, sizeof r, 0) < 0
               && zmq_errno() == EINTR)
            ;
        if (r == NULL || r->rc != 0)
            rc = -1;
    }
    c->out = 0;
    return rc;
}

static void
s_checkers_stop(s_checkers_t *c)
{
    s_check_run_t *none = NULL;
    int            i;

    (void)s_checkers_wait(c);
    for (i = 0; i < c->n; i++)
        while (zmq_send(c->pipe[i], &none, sizeof none, 0) < 0
               && zmq_errno() == EINTR)
            ;
    for (i = 0; i < c->n; i++) {
        pthread_join(c->th[i], NULL);
        zmq_close(c->pipe[i]);
    }
    c->n = 0;
}

/* Start checking a page: split among the checkers, or check it here. */
static int
s_page_check(member_t *self, s_checkers_t *c, s_page_t *pg)
{
    size_t n = pg->p->n_items;
    int    i, k = c->n;

    if (k == 0 || n < 2) {
        s_check_run_t r = {self, pg, 0, n, 0};
        s_check_run(&r);
        return r.rc;
    }
    for (i = 0; i < k; i++) {
        s_check_run_t *r = &c->runs[i];
        r->self = self;
        r->pg = pg;
        r->lo = n * (size_t)i / (size_t)k;
        r->hi = n * (size_t)(i + 1) / (size_t)k;
        r->rc = 0;
        if (zmq_send(c->pipe[i], &r, sizeof r, 0) != (int)sizeof r) {
            /* Cannot happen on a live inproc pipe; check the rest here. */
            s_check_run_t rest = {self, pg, r->lo, n, 0};
            s_check_run(&rest);
            return s_checkers_wait(c) != 0 || rest.rc != 0 ? -1 : 0;
        }
        c->out++;
    }
    return 0;
}

/* Commit a checked page. */
static int
s_page_commit(member_t *self, s_page_t *pg, member_pull_fn cb, void *ctx,
    member_pull_report_t *rep, errbuf_t *err)
{
    const Csbm__PullReply *p = pg->p;
    size_t                 n = p->n_items, i, added = 0;

    if (mailbox_inbox_commit(self->mailbox, pg->items, n, p->cursor,
            (int64_t)time(NULL), &added, err) != 0)
        return -1;
    rep->received += n;
    rep->added += added;
    rep->cursor = p->cursor;
    rep->more = p->more ? 1 : 0;
    for (i = 0; i < n; i++) {
        if (pg->items[i].refused == NULL)
            continue;
        rep->refused++;
        if (cb != NULL)
            cb(rep, pg->items[i].position, pg->items[i].refused, ctx);
    }
    return 0;
}

/* Ask for the page after cursor (at most want items) and check the
 * reply's framing. NULL with err. */
static Csbm__WireReply *
s_fetch_page(member_t *self, uint64_t cursor, size_t want, errbuf_t *err)
{
    Csbm__WireRequest req = CSBM__WIRE_REQUEST__INIT;
    Csbm__PullRequest pr = CSBM__PULL_REQUEST__INIT;
    Csbm__WireReply  *reply;
    int               busy = 0;

    pr.after = cursor;
    pr.max_items = (uint32_t)want;
    req.body_case = CSBM__WIRE_REQUEST__BODY_PULL;
    req.pull = &pr;
    for (;;) {
        if ((reply = s_call(self, &req, err)) == NULL)
            return NULL;
        /* The hub sheds load for a while (WIRE_RETRY, REASON_BUSY): wait
         * and ask again, a bounded number of times. */
        if (reply->status != CSBM__WIRE_STATUS__WIRE_RETRY
            || reply->reason != CSBM__REASON_CODE__REASON_BUSY
            || busy >= S_BUSY_RETRIES)
            break;
        protobuf_c_message_free_unpacked(&reply->base, NULL);
        busy++;
        {
            struct timespec ts = {0, S_BUSY_WAIT_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (reply->status != CSBM__WIRE_STATUS__WIRE_OK
        || reply->body_case != CSBM__WIRE_REPLY__BODY_PULL) {
        errbuf_set(err, "hub at %s refused the pull (%s: %s)%s", self->hub,
            s_reason(reply->reason), reply->message,
            busy > 0 ? "; asked again for a while, pull later" : "");
    } else if (reply->pull->n_items > want) {
        errbuf_set(err, "hub at %s sent %zu items for a page of %zu",
            self->hub, reply->pull->n_items, want);
    } else if (reply->pull->more && reply->pull->n_items == 0
               && reply->pull->cursor <= cursor) {
        errbuf_set(err, "hub at %s says more is waiting but sent nothing "
            "past position %llu", self->hub, (unsigned long long)cursor);
    } else {
        return reply;
    }
    protobuf_c_message_free_unpacked(&reply->base, NULL);
    return NULL;
}

/* Pages are pipelined: while the checkers verify page k, this thread
 * asks the hub for page k+1 (its cursor is known before page k is
 * checked); then page k is committed. A failure fetching page k+1 still
 * commits page k first, as one page after the other would. */
int
member_pull(member_t *self, size_t max, member_pull_fn progress, void *ctx,
    member_pull_report_t *rep, errbuf_t *err)
{
    Csbm__WireReply *reply, *next = NULL;
    s_checkers_t     chk;
    s_page_t         pg;
    errbuf_t         next_err = {{0}};
    uint64_t         cursor = 0;
    size_t           want;
    int              rc = -1, next_failed;

    memset(rep, 0, sizeof *rep);
    memset(&chk, 0, sizeof chk);
    if (mailbox_cursor(self->mailbox, &cursor, err) != 0)
        return -1;
    rep->cursor = cursor;
    want = self->cfg.page_size;
    if (max > 0 && max < want)
        want = max;
    if (want == 0)
        return member_log_check(self, &rep->log, err);
    if ((reply = s_fetch_page(self, cursor, want, err)) == NULL)
        return -1;
    s_checkers_start(self, &chk);
    for (;;) {
        size_t got = reply->pull->n_items;

        next_failed = 0;
        if (s_page_init(self, &pg, reply->pull, err) != 0
            || s_page_check(self, &chk, &pg) != 0) {
            if (err->msg[0] == '\0')
                errbuf_set(err, "out of memory");
            errbuf_prefix(err, "pull from %s", self->hub);
            goto fail;
        }
        want = self->cfg.page_size;
        if (max > 0 && max - (rep->received + got) < want)
            want = max - (rep->received + got);
        if (reply->pull->more && want > 0
            && (next = s_fetch_page(self, reply->pull->cursor, want,
                    &next_err)) == NULL)
            next_failed = 1;
        if (s_checkers_wait(&chk) != 0) {
            errbuf_set(err, "pull from %s: out of memory", self->hub);
            goto fail;
        }
        if (s_page_commit(self, &pg, progress, ctx, rep, err) != 0) {
            errbuf_prefix(err, "pull from %s", self->hub);
            goto fail;
        }
        s_page_free(&pg);
        protobuf_c_message_free_unpacked(&reply->base, NULL);
        reply = next;
        next = NULL;
        if (progress != NULL)
            progress(rep, 0, NULL, ctx);
        if (next_failed) {
            errbuf_set(err, "%s", next_err.msg);
            goto fail;
        }
        if (reply == NULL)
            break;
    }
    s_checkers_stop(&chk);
    /* Every contact checks that the hub's log only grew. */
    return member_log_check(self, &rep->log, err);
fail:
    s_checkers_stop(&chk);
    s_page_free(&pg);
    if (reply != NULL)
        protobuf_c_message_free_unpacked(&reply->base, NULL);
    if (next != NULL)
        protobuf_c_message_free_unpacked(&next->base, NULL);
    return rc;
}

/* ---------------------------------------------------------------- log --- */

void
member_set_witness_key(member_t *self, keys_secret_t **sign_key)
{
    keys_secret_destroy(&self->witness);
    if (sign_key != NULL) {
        self->witness = *sign_key;
        *sign_key = NULL;
    }
}

static uint8_t *
s_pack_msg(const ProtobufCMessage *m, size_t *len)
{
    uint8_t *buf;

    *len = protobuf_c_message_get_packed_size(m);
    if ((buf = malloc(*len + 1)) != NULL)
        protobuf_c_message_pack(m, buf);
    return buf;
}

/* Record evidence of an inconsistent log and fail with a message naming
 * both heads. */
static int
s_inconsistent(member_t *self, const treehead_t *old_th,
    const Csbm__Signed *old_s, const treehead_t *new_th,
    const Csbm__Signed *new_s, const ProtobufCBinaryData *proof,
    const char *why, errbuf_t *err)
{
    char     a[160], b[160], what[MAILBOX_ERROR_MAX];
    uint8_t *ob = NULL, *nb = NULL;
    size_t   ol = 0, nl = 0;
    int      rc;

    treehead_describe(old_th, a, sizeof a);
    treehead_describe(new_th, b, sizeof b);
    snprintf(what, sizeof what, "%.120s: head (%s) then head (%s)", why, a, b);
    if (old_s != NULL)
        ob = s_pack_msg(&old_s->base, &ol);
    if (new_s != NULL)
        nb = s_pack_msg(&new_s->base, &nl);
    rc = mailbox_evidence_add(self->mailbox, (int64_t)time(NULL), what, ob, ol,
        nb, nl, proof != NULL ? proof->data : NULL,
        proof != NULL ? proof->len : 0, err);
    free(ob);
    free(nb);
    if (rc == 0)
        errbuf_set(err, "the hub's log is NOT CONSISTENT: %s; evidence kept "
            "in %s (see 'csbm log --data %s')", what, self->data_path,
            self->data_path);
    return -1;
}

/* Is new_th (with proof) an extension of old_th? 0 yes; -1 with why. */
static int
s_consistent(const treehead_t *old_th, const treehead_t *new_th,
    const ProtobufCBinaryData *proof, errbuf_t *why)
{
    uint8_t p[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES];
    size_t  n = 0;

    if (new_th->size < old_th->size) {
        errbuf_set(why, "the log shrank from %llu to %llu leaves",
            (unsigned long long)old_th->size,
            (unsigned long long)new_th->size);
        return -1;
    }
    if (new_th->timestamp < old_th->timestamp) {
        errbuf_set(why, "the newer tree head has an older timestamp");
        return -1;
    }
    if (treehead_proof_parse(proof->data, proof->len, p, &n, why) != 0
        || merkle_consistency_verify(old_th->size, new_th->size, old_th->root,
               new_th->root, (const uint8_t(*)[MERKLE_HASH_BYTES])p, n, why)
            != 0)
        return -1;
    return 0;
}

static Csbm__WireReply *
s_log_call(member_t *self, uint64_t from_size, int cosigned, errbuf_t *err)
{
    Csbm__WireRequest req = CSBM__WIRE_REQUEST__INIT;
    Csbm__LogRequest  lr = CSBM__LOG_REQUEST__INIT;
    Csbm__WireReply  *reply;

    lr.from_size = from_size;
    lr.cosigned = cosigned ? 1 : 0;
    req.body_case = CSBM__WIRE_REQUEST__BODY_LOG;
    req.log = &lr;
    if ((reply = s_call(self, &req, err)) == NULL)
        return NULL;
    if (reply->status != CSBM__WIRE_STATUS__WIRE_OK
        || reply->body_case != CSBM__WIRE_REPLY__BODY_LOG) {
        errbuf_set(err, "hub at %s refused the log request (%s: %s)",
            self->hub, s_reason(reply->reason), reply->message);
        protobuf_c_message_free_unpacked(&reply->base, NULL);
        return NULL;
    }
    return reply;
}

/* Send this node's cosignature of a verified head. */
static void
s_cosign(member_t *self, const Csbm__Signed *head, member_log_report_t *rep)
{
    Csbm__WireRequest   req = CSBM__WIRE_REQUEST__INIT;
    Csbm__CosignRequest cr = CSBM__COSIGN_REQUEST__INIT;
    Csbm__Cosignature   cs;
    Csbm__WireReply    *reply;
    uint8_t             sig[KEYS_SIG_BYTES];
    errbuf_t            why = {{0}};

    csbm__cosignature__init(&cs);
    if (self->witness == NULL
        || treehead_cosign(self->witness, head->statement.data,
               head->statement.len, sig) != 0)
        return;
    cs.witness = self->owner;
    cs.key_id.data = (uint8_t *)(uintptr_t)keys_secret_key_id(self->witness);
    cs.key_id.len = KEYS_ID_BYTES;
    cs.signature.data = sig;
    cs.signature.len = sizeof sig;
    cr.tree_head = head->statement;
    cr.cosignature = &cs;
    req.body_case = CSBM__WIRE_REQUEST__BODY_COSIGN;
    req.cosign = &cr;
    if ((reply = s_call(self, &req, &why)) == NULL)
        return;
    if (reply->status == CSBM__WIRE_STATUS__WIRE_OK
        && reply->body_case == CSBM__WIRE_REPLY__BODY_COSIGN) {
        rep->cosigned = 1;
        rep->witnesses = reply->cosign->cosignatures;
        rep->witnessed = reply->cosign->witnessed ? 1 : 0;
    } else if (reply->status == CSBM__WIRE_STATUS__WIRE_OK) {
        snprintf(rep->cosign_refused, sizeof rep->cosign_refused, "the hub "
            "answered OK without a cosign reply");
    } else {
        snprintf(rep->cosign_refused, sizeof rep->cosign_refused, "%s: %.400s",
            s_reason(reply->reason), reply->message);
    }
    protobuf_c_message_free_unpacked(&reply->base, NULL);
}

/* How many valid cosignatures by other members a cosigned head carries. */
static size_t
s_valid_cosigs(member_t *self, const Csbm__CosignedHead *ch,
    const treehead_t *th, char *who, size_t cap)
{
    size_t i, n = 0;

    who[0] = '\0';
    for (i = 0; i < ch->n_cosignatures; i++) {
        const Csbm__Cosignature *c = ch->cosignatures[i];
        const keyring_key_t     *k = NULL;
        errbuf_t                 why = {{0}};
        if (c->witness == NULL || strcmp(c->witness, self->owner) == 0
            || c->key_id.len != KEYS_ID_BYTES
            || keyring_signer(self->keyring, c->witness, c->key_id.data,
                   th->timestamp, &k, &why) != 0
            || treehead_cosign_verify(k->pub.sign_pk, ch->tree_head->statement.data,
                   ch->tree_head->statement.len, c->signature.data,
                   c->signature.len, &why) != 0)
            continue;
        if (n++ == 0)
            snprintf(who, cap, "%s", c->witness);
    }
    return n;
}

/* Remember a verified head as the newest one. */
static int
s_head_store(member_t *self, const Csbm__Signed *s, const treehead_t *th,
    errbuf_t *err)
{
    uint8_t *nb;
    size_t   nl;
    int      rc;

    if ((nb = s_pack_msg(&s->base, &nl)) == NULL) {
        errbuf_set(err, "out of memory");
        return -1;
    }
    rc = mailbox_head_put(self->mailbox, th->size, th->timestamp, th->root,
        nb, nl, (int64_t)time(NULL), err);
    free(nb);
    return rc;
}

#define S_SAME_HISTORY_TRIES 4

/* Are the verified heads a and b on one history? A LogRequest gets a
 * consistency proof from a given size to the hub's current head only, so
 * this asks from each of the two sizes and needs both answers to end at
 * the same current head c: a prefix of c and b a prefix of c means one is
 * a prefix of the other. While the hub's head moves between the two
 * requests it asks again, a few times; then it gives up loudly. c is
 * remembered as the newest verified head. 0 if consistent; -1 with err
 * otherwise: *forked is set if the log is shown inconsistent (evidence
 * kept), else the check could not be made. */
static int
s_same_history(member_t *self, const treehead_t *a, const Csbm__Signed *a_s,
    const treehead_t *b, const Csbm__Signed *b_s, const char *what,
    int *forked, errbuf_t *err)
{
    errbuf_t why = {{0}};
    char     msg[MAILBOX_ERROR_MAX];
    int      tries;

    *forked = 0;
    if (a->size > b->size) {
        const treehead_t   *t = a;
        const Csbm__Signed *ts = a_s;
        a = b;
        a_s = b_s;
        b = t;
        b_s = ts;
    }
    if (a->size == b->size) {
        if (sodium_memcmp(a->root, b->root, MERKLE_HASH_BYTES) == 0)
            return 0;
        *forked = 1;
        return s_inconsistent(self, a, a_s, b, b_s, NULL, what, err);
    }
    for (tries = 0; tries < S_SAME_HISTORY_TRIES; tries++) {
        Csbm__WireReply *ra, *rb = NULL;
        treehead_t       c;
        int              rc = -1;

        if ((ra = s_log_call(self, a->size, 0, &why)) == NULL)
            break;
        if (ra->log->tree_head == NULL
            || s_verify_head(self, ra->log->tree_head, &c, &why) != 0) {
            if (ra->log->tree_head == NULL)
                errbuf_set(&why, "the hub showed no tree head");
            protobuf_c_message_free_unpacked(&ra->base, NULL);
            break;
        }
        /* b is the current head itself: the one proof says it all. */
        if (!(b_s->statement.len == ra->log->tree_head->statement.len
                && memcmp(b_s->statement.data,
                       ra->log->tree_head->statement.data,
                       b_s->statement.len) == 0)) {
            if ((rb = s_log_call(self, b->size, 0, &why)) == NULL) {
                protobuf_c_message_free_unpacked(&ra->base, NULL);
                break;
            }
            if (rb->log->tree_head == NULL
                || rb->log->tree_head->statement.len
                    != ra->log->tree_head->statement.len
                || memcmp(rb->log->tree_head->statement.data,
                       ra->log->tree_head->statement.data,
                       ra->log->tree_head->statement.len) != 0) {
                errbuf_set(&why, "the hub's head moved between the two "
                    "requests");
                protobuf_c_message_free_unpacked(&rb->base, NULL);
                protobuf_c_message_free_unpacked(&ra->base, NULL);
                continue;
            }
        }
        if (s_consistent(a, &c, &ra->log->consistency, &why) != 0) {
            snprintf(msg, sizeof msg, "%.100s: %.200s", what, why.msg);
            *forked = 1;
            rc = s_inconsistent(self, a, a_s, &c, ra->log->tree_head,
                &ra->log->consistency, msg, err);
        } else if (rb != NULL
                   && s_consistent(b, &c, &rb->log->consistency, &why)
                       != 0) {
            snprintf(msg, sizeof msg, "%.100s: %.200s", what, why.msg);
            *forked = 1;
            rc = s_inconsistent(self, b, b_s, &c, ra->log->tree_head,
                &rb->log->consistency, msg, err);
        } else {
            rc = s_head_store(self, ra->log->tree_head, &c, err);
        }
        if (rb != NULL)
            protobuf_c_message_free_unpacked(&rb->base, NULL);
        protobuf_c_message_free_unpacked(&ra->base, NULL);
        return rc;
    }
    errbuf_set(err, "could NOT CHECK the hub's tree heads of %llu and %llu "
        "leaves against one another (%s); nothing is taken for granted: "
        "run the command again",
        (unsigned long long)a->size, (unsigned long long)b->size,
        why.msg[0] != '\0' ? why.msg : "the hub's head kept moving");
    return -1;
}

/* A verified head the hub showed outside a log check (a receipt's): on
 * the history of the newest head verified before, and then the newest. */
static int
s_head_fits(member_t *self, const Csbm__Signed *s, const treehead_t *th,
    errbuf_t *err)
{
    Csbm__Signed *old_s = NULL;
    treehead_t    old_th;
    uint8_t      *ob = NULL;
    size_t        ol = 0;
    int           have, forked, rc = -1;

    if ((have = mailbox_head_latest(self->mailbox, &ob, &ol, err)) < 0)
        return -1;
    if (!have) {
        rc = s_head_store(self, s, th, err);
    } else if ((old_s = csbm__signed__unpack(NULL, ol, ob)) == NULL
               || treehead_decode(old_s->statement.data,
                      old_s->statement.len, &old_th, err) != 0) {
        errbuf_set(err, "%s: the stored tree head does not parse",
            self->data_path);
    } else if (th->size > old_th.size) {
        rc = s_same_history(self, &old_th, old_s, th, s, "the head of a "
            "receipt does not extend the head verified before", &forked,
            err);
    } else {
        rc = s_same_history(self, th, s, &old_th, old_s, "the head of a "
            "receipt is not a prefix of the head verified before", &forked,
            err);
    }
    if (old_s != NULL)
        csbm__signed__free_unpacked(old_s, NULL);
    free(ob);
    return rc;
}

/* member_check_cosigned, and whether a -1 is a fork (*forked). */
static int
s_check_cosigned(member_t *self, const Csbm__CosignedHead *ch,
    const Csbm__Signed *own_s, const ProtobufCBinaryData *proof,
    int *forked, errbuf_t *err)
{
    treehead_t th, own;
    errbuf_t   why = {{0}};
    char       who[KEYS_OWNER_MAX + 1], msg[160];

    *forked = 0;
    if (ch == NULL || ch->tree_head == NULL
        || s_verify_head(self, ch->tree_head, &th, &why) != 0
        || s_verify_head(self, own_s, &own, &why) != 0)
        return 0; /* not a head the hub signed: proves nothing */
    if (s_valid_cosigs(self, ch, &th, who, sizeof who) == 0)
        return 0;
    snprintf(msg, sizeof msg, "a tree head cosigned by %s contradicts the "
        "one this node verified", who);
    if (th.size == own.size) {
        if (sodium_memcmp(th.root, own.root, MERKLE_HASH_BYTES) != 0) {
            *forked = 1;
            return s_inconsistent(self, &own, own_s, &th, ch->tree_head, NULL,
                msg, err);
        }
        return 0;
    }
    if (th.size > own.size) {
        *forked = 1;
        return s_inconsistent(self, &own, own_s, &th, ch->tree_head, NULL,
            "the hub shows a witness a bigger tree than its newest head",
            err);
    }
    /* No proof at hand is never a pass: ask the hub for one. */
    if (proof == NULL) {
        if (s_same_history(self, &th, ch->tree_head, &own, own_s, msg, forked,
                err) != 0) {
            if (!*forked)
                errbuf_prefix(err, "the head cosigned by %s", who);
            return -1;
        }
        return 0;
    }
    if (s_consistent(&th, &own, proof, &why) != 0) {
        *forked = 1;
        return s_inconsistent(self, &th, ch->tree_head, &own, own_s, proof,
            msg, err);
    }
    return 0;
}

int
member_check_cosigned(member_t *self, const Csbm__CosignedHead *ch,
    const Csbm__Signed *own_s, const ProtobufCBinaryData *proof,
    errbuf_t *err)
{
    int forked;

    return s_check_cosigned(self, ch, own_s, proof, &forked, err);
}

int
member_log_check(member_t *self, member_log_report_t *rep, errbuf_t *err)
{
    Csbm__WireReply *reply = NULL;
    Csbm__Signed    *old_s = NULL;
    treehead_t       old_th, new_th;
    errbuf_t         why = {{0}};
    uint8_t         *ob = NULL;
    size_t           ol = 0, i;
    int              have_old, rc = -1;

    memset(rep, 0, sizeof *rep);
    memset(&old_th, 0, sizeof old_th);
    if ((have_old = mailbox_head_latest(self->mailbox, &ob, &ol, err)) < 0)
        return -1;
    if (have_old
        && ((old_s = csbm__signed__unpack(NULL, ol, ob)) == NULL
            || treehead_decode(old_s->statement.data, old_s->statement.len,
                   &old_th, err) != 0)) {
        errbuf_prefix(err, "%s: the stored tree head", self->data_path);
        goto done;
    }
    rep->old_size = old_th.size;
    if ((reply = s_log_call(self, old_th.size, 1, err)) == NULL)
        goto done;
    if (reply->log->tree_head == NULL) {
        if (have_old) {
            treehead_t none;
            memset(&none, 0, sizeof none);
            rc = s_inconsistent(self, &old_th, old_s, &none, NULL, NULL,
                "the hub shows no tree head at all", err);
        } else {
            rc = 0; /* an empty log */
        }
        goto done;
    }
    if (s_verify_head(self, reply->log->tree_head, &new_th, err) != 0) {
        errbuf_prefix(err, "hub at %s: its tree head", self->hub);
        goto done;
    }
    rep->new_size = new_th.size;
    rep->checked = 1;
    if (have_old
        && s_consistent(&old_th, &new_th, &reply->log->consistency, &why)
            != 0) {
        rep->inconsistent = 1;
        rc = s_inconsistent(self, &old_th, old_s, &new_th,
            reply->log->tree_head, &reply->log->consistency, why.msg, err);
        goto done;
    }
    if (s_head_store(self, reply->log->tree_head, &new_th, err) != 0)
        goto done;
    s_cosign(self, reply->log->tree_head, rep);
    for (i = 0; i < reply->log->n_cosigned; i++) {
        int forked = 0;
        if (s_check_cosigned(self, reply->log->cosigned[i],
                reply->log->tree_head, NULL, &forked, err) != 0) {
            rep->forks += forked ? 1 : 0;
            goto done;
        }
    }
    rc = 0;
done:
    if (reply != NULL)
        protobuf_c_message_free_unpacked(&reply->base, NULL);
    if (old_s != NULL)
        csbm__signed__free_unpacked(old_s, NULL);
    free(ob);
    return rc;
}

int
member_export_receipt(mailbox_t *mb, const uint8_t id[ENVELOPE_ID_BYTES],
    uint8_t **out, size_t *out_len, errbuf_t *err)
{
    uint8_t *r = NULL, *ip = NULL;
    size_t   rl = 0, il = 0;
    int      found = mailbox_outbox_receipt_parts(mb, id, &r, &rl, &ip, &il,
        err);

    *out = NULL;
    *out_len = 0;
    if (found == 1 && receipt_file_pack(r, rl, ip, il, out, out_len, err) != 0)
        found = -1;
    free(r);
    free(ip);
    return found;
}

/* -------------------------------------------------------------- inbox --- */

int
member_inbox_open(member_t *self, const char *id, const keys_secret_t *box_key,
    Csbm__Package **out, mailbox_inbox_entry_t *entry, errbuf_t *err)
{
    mailbox_inbox_entry_t e;
    envelope_t           *env = NULL;
    uint8_t              *buf = NULL;
    size_t                len = 0;
    int                   rc;

    *out = NULL;
    rc = mailbox_inbox_find(self->mailbox, id, &e, &buf, &len, NULL, NULL,
        err);
    if (rc == 0)
        errbuf_set(err, "no package %s in the inbox; see 'csbm inbox'", id);
    if (rc <= 0)
        return -1;
    rc = 1;
    if ((env = envelope_parse(buf, len, err)) == NULL
        || package_verify(env, self->keyring, self->federation, NULL, err)
            != 0) {
        errbuf_prefix(err, "NOT VALID");
        goto done;
    }
    if (package_open(env, box_key, out, err) != 0) {
        errbuf_prefix(err, "cannot open as %s", keys_secret_owner(box_key));
        goto done;
    }
    if (mailbox_inbox_mark_opened(self->mailbox, e.package_id, err) != 0) {
        package_free(out);
        rc = -1;
        goto done;
    }
    e.opened = 1;
    if (entry != NULL)
        *entry = e;
    rc = 0;
done:
    envelope_destroy(&env);
    free(buf);
    return rc;
}

/* ------------------------------------------------------------- daemon --- */

static void
s_log_delivery(const member_delivery_t *d, void *ctx)
{
    char hex[33];

    (void)ctx;
    envelope_id_hex(d->package_id, hex);
    switch (d->outcome) {
    case MEMBER_DELIVERED:
        log_info("delivered %s (sequence %llu) at position %llu%s", hex,
            (unsigned long long)d->sequence, (unsigned long long)d->position,
            d->duplicate ? " (already archived)" : "");
        break;
    case MEMBER_REJECTED:
        log_warn("hub rejected %s (sequence %llu): %s: %s", hex,
            (unsigned long long)d->sequence, s_reason(d->reason), d->message);
        break;
    default:
        log_warn("%s (sequence %llu) stays queued: %s", hex,
            (unsigned long long)d->sequence, d->message);
        break;
    }
}

static void
s_log_pull(const member_pull_report_t *so_far, uint64_t position,
    const char *refused, void *ctx)
{
    (void)ctx;
    if (refused != NULL)
        log_warn("refused the package at position %llu: %s",
            (unsigned long long)position, refused);
    else if (so_far->more)
        log_info("pulled %zu so far (position %llu), more waiting",
            so_far->received, (unsigned long long)so_far->cursor);
}

/* Read and discard every waiting notification. Their content only says
 * that something arrived; the pull finds out what. */
static int
s_drain(void *sub)
{
    zmq_msg_t msg;
    int       got = 0;

    for (;;) {
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return got;
        }
        got = 1;
        zmq_msg_close(&msg);
    }
}

int
member_run(member_t *self, volatile sig_atomic_t *stop, errbuf_t *err)
{
    void                *sub = NULL;
    uint8_t              hub_pk[32];
    int64_t              next_pull = 0, hub_retry_at = 0, now, wait;
    uint32_t             failures = 0;
    int                  pull_now = 1, catch_up = 1, rc = 0, prc;
    member_sync_report_t srep;
    member_pull_report_t prep;
    errbuf_t             e;

    if (s_need_network(self, err) != 0
        || s_hub_transport(self, hub_pk, err) != 0)
        return -1;
    if (self->hub_notify != NULL) {
        sub = wire_subscribe_socket(self->zctx, self->hub_notify, self->owner,
            keys_secret_public(self->transport),
            keys_secret_bytes(self->transport), hub_pk, err);
        if (sub == NULL) {
            errbuf_prefix(err, "notifications from %s", self->hub_notify);
            return -1;
        }
        s_no_linger(sub);
    } else {
        log_warn("no --hub-notify: pulling every %d s only",
            self->cfg.pull_every_s);
    }
    log_info("node %s started: hub %s, notifications %s, store %s",
        self->owner, self->hub, self->hub_notify ? self->hub_notify : "none",
        self->data_path);
    while (!*stop) {
        int hub_failed = 0;

        now = (int64_t)time(NULL);
        if (now >= hub_retry_at) {
            errbuf_clear(&e);
            /* After an outage, send everything at once rather than wait
             * for each package's own backoff. */
            if (member_sync(self, !catch_up, s_log_delivery, NULL, &srep, &e)
                != 0)
                log_error("outbox: %s", e.msg);
            else if (srep.unanswered)
                hub_failed = 1;
            else
                catch_up = 0;
            if (!*stop && !hub_failed && (pull_now || now >= next_pull)) {
                errbuf_clear(&e);
                prc = member_pull(self, 0, s_log_pull, NULL, &prep, &e);
                if (prep.log.cosign_refused[0] != '\0')
                    log_warn("the hub refused this node's cosignature: %s",
                        prep.log.cosign_refused);
                if (prc != 0) {
                    if (prep.log.inconsistent || prep.log.forks > 0)
                        log_error("hub's log: %s", e.msg);
                    else
                        log_warn("pull: %s", e.msg);
                    hub_failed = 1;
                } else {
                    if (prep.added > 0)
                        log_info("pulled %zu new package(s); inbox at "
                            "position %llu", prep.added,
                            (unsigned long long)prep.cursor);
                    next_pull = now + self->cfg.pull_every_s;
                    pull_now = 0;
                }
            }
            if (hub_failed) {
                failures++;
                wait = mailbox_backoff(failures);
                if (wait > MEMBER_HUB_BACKOFF_MAX_S)
                    wait = MEMBER_HUB_BACKOFF_MAX_S;
                hub_retry_at = (int64_t)time(NULL) + wait;
                catch_up = 1;
                log_warn("hub at %s unavailable; next try in %lld s",
                    self->hub, (long long)wait);
            } else {
                failures = 0;
            }
        }
        if (*stop)
            break;
        if (sub != NULL) {
            zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
            int            n = zmq_poll(&item, 1, self->cfg.poll_ms);
            if (n < 0 && errno != EINTR) {
                log_error("notifications: %s", zmq_strerror(errno));
                errbuf_set(err, "notifications: %s", zmq_strerror(errno));
                rc = -1;
                break;
            }
            if (n > 0 && s_drain(sub)) {
                log_debug("notified by the hub");
                pull_now = 1;
                hub_retry_at = 0; /* the hub is up */
            }
        } else {
            struct timespec ts = {self->cfg.poll_ms / 1000,
                (long)(self->cfg.poll_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    log_info("node %s stopping", self->owner);
    if (sub != NULL)
        zmq_close(sub);
    return rc;
}
