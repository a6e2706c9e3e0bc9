/*
 * hub: the hub daemon's I/O loop (see hub.h; docs/PROTOCOL.md).
 *
 * Each batch goes through these steps:
 *   1. collect: take every request waiting on the ROUTER socket without
 *      blocking (at most HUB_BATCH_MAX, HUB_BATCH_BYTES), and the refused
 *      handshakes the ZAP thread reported;
 *   2. verify: parse each request; check each submitted envelope
 *      (hub_verify_submit, pure) — on the verifier threads;
 *   3. write, in one transaction: pull pages (read before this batch's
 *      appends) and their audit events, then for each verified package the
 *      replay checks and the append with its signed receipt, the refusal
 *      events, the handshake events;
 *   4. commit — only then
 *   5. reply to everyone, in arrival order, and publish a notification per
 *      recipient of each new package.
 * A failed commit turns every answer that depended on it into WIRE_RETRY;
 * nothing is ever receipted that is not on disk.
 *
 * The pipeline: two batches are alive at a time. When the verdicts on
 * batch k are back, the I/O thread collects batch k+1 and hands its
 * envelopes to the verifiers, then writes, commits and answers batch k
 * while they verify. Steps 3 to 5 stay on the I/O thread, batch after
 * batch and request after request, so replay checks, positions and
 * replies keep the order of arrival exactly.
 *
 * The verifiers (HUB_VERIFY_THREADS) each own one end of an inproc PAIR
 * pipe. A message on it is a pointer to an s_chunk_t: a run of the jobs
 * of one batch. Sending it hands those jobs' verdicts (job->v,
 * job->verify_rc) to the verifier, which reads only the request, the
 * keyring and the clock of the chunk; sending the pointer back hands them
 * back. The I/O thread touches a batch only while no chunk of it is out.
 * A NULL pointer stops a verifier.
 */
#include "node/hub.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "crypto/package.h"
#include "crypto/receipt.h"
#include "crypto/treehead.h"
#include "node/archive.h"
#include "node/cli.h"
#include "node/wire.h"
#include "node/syncer.h"
#include "node/zap.h"

#define S_ZAP_EVENTS_MAX 256 /* refused handshakes recorded per batch */
#define S_INLINE_VERIFY  2   /* fewer submits, nothing to overlap: verify
                                on the I/O thread, no round trip */
#define S_COSIGNED_MAX   4   /* cosigned heads sent in a LogReply */
#define S_WITNESSES_MAX  64  /* cosignatures sent per head */
#define S_USER_SLOTS     256 /* members tracked for the limits below */
#define S_QUIET_S        60  /* the window of the limits below */
#define S_REJECTS_PER_MIN 60 /* signed rejections per member per window;
                                beyond: unsigned WIRE_RETRY, REASON_BUSY */
#define S_REASONS        16  /* csbm.ReasonCode values */
/* Pull replies per member not yet read: at most pull_bytes
 * (--max-unread-mib) in each
 * S_PULL_WINDOW_S (beyond: WIRE_RETRY, REASON_BUSY). A pull whose `after`
 * is the cursor of the member's last reply shows that reply was read,
 * and its bytes no longer count: a member catching up page by page is
 * never held back, one that pipelines pulls without reading is. The
 * window outlasts the heartbeat timeout that drops a connection which
 * stopped reading, so what the hub holds queued for a member is bounded
 * by about twice that. */
#define S_PULL_WINDOW_S  10
#define S_PULL_ITEM_OVERHEAD 1024 /* an item's receipt, path and framing */
#define S_EMPTY_PULLS_PER_MIN 60 /* empty pulls recorded per member and
                                    window, whatever their cursors */

typedef enum {
    S_JOB_BAD = 0, /* answered with status/reason/message only */
    S_JOB_SUBMIT,
    S_JOB_PULL,
    S_JOB_PING,
    S_JOB_LOG,
    S_JOB_COSIGN,
} s_job_kind_t;

typedef struct {
    zmq_msg_t          rid;  /* the ROUTER routing id */
    char               user[KEYS_OWNER_MAX + 1];
    uint8_t            tkey[32]; /* the connection's transport key */
    int                have_tkey;
    int                busy;     /* refused for load: no audit event */
    s_job_kind_t       kind;
    Csbm__WireRequest *req;
    uint64_t           request_id;
    /* the answer */
    int      status;
    int      reason;
    char     message[HUB_MESSAGE_MAX];
    int      needs_commit; /* the answer holds only if the batch commits */
    /* submit */
    int           verify_rc; /* hub_verify_submit's result */
    hub_verdict_t v;
    Csbm__Signed *receipt;   /* unpacked from the stored bytes */
    Csbm__Signed *rejection; /* signed here */
    int           duplicate;
    int           appended;  /* a new archive row: notify after commit */
    uint64_t      position;
    /* pull */
    Csbm__PullReply pull;
    size_t          pull_cap;
    /* the log: a receipt's inclusion proof, a LogReply, a CosignReply */
    uint64_t             log_index;
    int                  have_inclusion;
    Csbm__InclusionProof inclusion;
    uint8_t              path[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES];
    Csbm__LogReply       logr;
    Csbm__CosignReply    cosign;
} s_job_t;

/* A run of a batch's jobs out with one verifier. */
typedef struct {
    s_job_t         *jobs;
    size_t           n;
    const keyring_t *keyring;
    const char      *federation;
    int64_t          now;
    int64_t          max_age_s;
} s_chunk_t;

/* One batch: its jobs and the hub's clock when it was taken. */
typedef struct {
    s_job_t  *jobs; /* HUB_BATCH_MAX */
    size_t    n_jobs;
    int64_t   now;
    int       need_txn;
    int       busy;    /* from s_start to s_complete */
    size_t    pending; /* chunks out with the verifiers */
    uint64_t  flush;   /* the syncer flush its answers wait for */
    s_chunk_t chunks[HUB_VERIFY_THREADS];
} s_batch_t;

#define S_BATCHES 3 /* verified, written, flushed: one of each at a time */

struct hub {
    void                *zctx;
    zap_t               *zap;
    void                *router;
    void                *pub;
    archive_t           *archive;
    const keys_secret_t *sign_key;
    const keyring_t     *keyring;
    char                 federation[ENVELOPE_FEDERATION_MAX + 1];
    char                 bind[256];
    char                 notify[256];
    char                 data_path[1024];
    s_job_t             *jobs; /* the batch being written and answered */
    size_t               n_jobs;
    s_batch_t            batches[S_BATCHES];
    s_batch_t           *inflight; /* taken, verdicts pending or in hand */
    s_batch_t           *flushing; /* committed, answered once flushed */
    syncer_t            *syncer;   /* flushes the archive (node/syncer.h) */
    int                  failed;   /* a flush failed: stop serving */
    void                *vpipe[HUB_VERIFY_THREADS]; /* I/O thread's ends */
    pthread_t            vthread[HUB_VERIFY_THREADS];
    int                  n_verifiers;
    zap_event_t         *zap_events; /* S_ZAP_EVENTS_MAX */
    size_t               n_zap_events;
    int64_t              now;
    Csbm__Signed        *head; /* the newest signed tree head, or NULL */
    Csbm__Signed        *head_prev; /* the one before: the answers of the
                                       batch being flushed may hold it */
    uint64_t             head_size;
    uint32_t             quorum;
    int64_t              max_age_s; /* oldest created_at accepted: now - */
    size_t               pull_bytes; /* unread pull replies per member */
    int                  lock_fd;   /* flock on "<data_path>.lock" */
    /* Per member, over S_QUIET_S windows: the last empty pull recorded,
     * refusal events left out per reason, signed rejections sent. */
    struct s_user {
        char     user[KEYS_OWNER_MAX + 1];
        int64_t  used;          /* last batch that touched it (LRU) */
        int64_t  empty_at;      /* last empty pull recorded, its */
        uint64_t empty_after;   /* cursor, */
        uint64_t empty_log;     /* and the log's size after its leaf */
        int64_t  empty_since;   /* the window of empty_count */
        unsigned empty_count;   /* empty pulls recorded in it */
        int64_t  refuse_at[S_REASONS];
        unsigned refuse_dropped[S_REASONS];
        int64_t  reject_since;
        unsigned rejects;
        int64_t  pull_since;    /* the window of pull_bytes */
        size_t   pull_bytes;    /* pull replies sent in it, not yet read */
        uint64_t sent_cursor;   /* the cursor of the last reply sent */
        size_t   sent_bytes;    /* and its bytes, while not known read */
    } users[S_USER_SLOTS];
};

/* The slot of a member (the least recently used one, reset, if new). */
static struct s_user *
s_user(hub_t *self, const char *user)
{
    size_t i, oldest = 0;

    for (i = 0; i < S_USER_SLOTS; i++) {
        if (strcmp(self->users[i].user, user) == 0) {
            self->users[i].used = self->now;
            return &self->users[i];
        }
        if (self->users[i].used < self->users[oldest].used)
            oldest = i;
    }
    memset(&self->users[oldest], 0, sizeof self->users[oldest]);
    snprintf(self->users[oldest].user, sizeof self->users[oldest].user, "%s",
        user);
    self->users[oldest].used = self->now;
    return &self->users[oldest];
}

/* ---------------------------------------------------------- config --- */

void
hub_config_defaults(hub_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->key_dir = getenv("CSBM_KEYS") ? getenv("CSBM_KEYS") : "keys";
    cfg->keyring_dir = getenv("CSBM_KEYRING");
    cfg->federation = getenv("CSBM_FEDERATION") ? getenv("CSBM_FEDERATION")
                                                : CLI_DEFAULT_FEDERATION;
    cfg->data_path = "hub.db";
    cfg->log_level = LOG_LEVEL_INFO;
}

/* ---------------------------------------------------------- verify --- */

static int
s_refuse(hub_verdict_t *out, int reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
s_refuse(hub_verdict_t *out, int reason, const char *fmt, ...)
{
    va_list ap;

    out->accept = 0;
    out->status = CSBM__WIRE_STATUS__WIRE_REJECTED;
    out->reason = reason;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof out->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* The sender's binding of the key the header names, or NULL. */
static const keyring_key_t *
s_binding(const keyring_t *kr, const Csbm__EnvelopeHeader *h)
{
    size_t i, n = keyring_key_count(kr);

    if (h->sender_key_id.len != KEYS_ID_BYTES)
        return NULL;
    for (i = 0; i < n; i++) {
        const keyring_key_t *b = keyring_key_at(kr, i);
        if (strcmp(b->pub.owner, h->sender) == 0
            && memcmp(b->pub.sign_key_id, h->sender_key_id.data,
                   KEYS_ID_BYTES) == 0)
            return b;
    }
    return NULL;
}

/* Why package_verify refused a key: look at the sender's binding. */
static int
s_key_reason(const keyring_t *kr, const Csbm__EnvelopeHeader *h)
{
    const keyring_key_t *k = s_binding(kr, h);
    int64_t              at = (int64_t)h->created_at;

    if (k == NULL)
        return CSBM__REASON_CODE__REASON_UNKNOWN_SENDER;
    if (at < k->valid_from || at >= k->valid_until)
        return CSBM__REASON_CODE__REASON_KEY_NOT_VALID;
    if (k->status != KEYRING_ACTIVE && at >= k->status_since)
        return CSBM__REASON_CODE__REASON_MEMBER_NOT_ACTIVE;
    return 0;
}

static int
s_cmp_owner(const void *key, const void *elem)
{
    return strcmp((const char *)key, *(const char *const *)elem);
}

/* Is id an owner of the keyring? (keyring_owner_at is in strcmp order.) */
static int
s_known(const keyring_t *kr, const char *id)
{
    size_t lo = 0, hi = keyring_owner_count(kr);

    while (lo < hi) {
        size_t      mid = lo + (hi - lo) / 2;
        const char *o = keyring_owner_at(kr, mid);
        int         c = s_cmp_owner(id, &o);
        if (c == 0)
            return 1;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

static void
s_time_text(int64_t t, char out[32])
{
    struct tm tm;
    time_t    tt = (time_t)t;

    if (gmtime_r(&tt, &tm) == NULL
        || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "%lld", (long long)t);
}

int
hub_verify_submit(const keyring_t *kr, const char *federation,
    const char *user, const uint8_t *env, size_t len, int64_t now,
    hub_verdict_t *out)
{
    return hub_verify_submit_max_age(kr, federation, user, env, len, now, 0,
        out);
}

int
hub_verify_submit_max_age(const keyring_t *kr, const char *federation,
    const char *user, const uint8_t *env, size_t len, int64_t now,
    int64_t max_age_s, hub_verdict_t *out)
{
    const Csbm__EnvelopeHeader *h;
    const keyring_key_t        *k;
    envelope_t                 *e;
    errbuf_t                    err = {{0}};
    size_t                      i, j;
    int                         reason;

    memset(out, 0, sizeof *out);
    receipt_envelope_hash(env, len, out->envelope_hash);
    if ((e = envelope_parse(env, len, &err)) == NULL)
        return s_refuse(out, CSBM__REASON_CODE__REASON_MALFORMED,
            "the envelope does not parse: %s", err.msg);
    h = envelope_header(e);
    if (h->package_id.len == ENVELOPE_ID_BYTES) {
        memcpy(out->package_id, h->package_id.data, ENVELOPE_ID_BYTES);
        out->have_id = 1;
    }
    snprintf(out->sender, sizeof out->sender, "%s", h->sender);
    out->sequence = h->sequence;
    out->package_type = (int)h->package_type;
    out->year = h->year;
    out->created_at = h->created_at > (uint64_t)INT64_MAX
                          ? INT64_MAX
                          : (int64_t)h->created_at;
    if (!out->have_id) {
        s_refuse(out, CSBM__REASON_CODE__REASON_MALFORMED,
            "the package id is %zu bytes, not %d", h->package_id.len,
            ENVELOPE_ID_BYTES);
        goto done;
    }
    if (strcmp(h->federation, federation) != 0) {
        s_refuse(out, CSBM__REASON_CODE__REASON_WRONG_FEDERATION,
            "the package belongs to federation \"%.64s\"; this hub serves "
            "\"%s\"", h->federation, federation);
        goto done;
    }
    if (strcmp(h->sender, user) != 0) {
        s_refuse(out, CSBM__REASON_CODE__REASON_SENDER_MISMATCH,
            "the package is signed as from %.15s but this connection is "
            "%s's; each member pushes only its own packages", h->sender,
            user);
        goto done;
    }
    if (h->sequence == 0) {
        s_refuse(out, CSBM__REASON_CODE__REASON_MALFORMED,
            "sequence number 0; a sender's sequence numbers start at 1");
        goto done;
    }
    /* A revoked key is compromised: what it signs from the revocation on
     * is refused whatever creation time it claims. (A retired key keeps
     * verifying as of created_at.) */
    if ((k = s_binding(kr, h)) != NULL && k->revoked
        && now >= k->valid_until) {
        char hex[2 * KEYS_ID_BYTES + 1], t[32];
        keys_id_hex(k->pub.sign_key_id, hex);
        s_time_text(k->valid_until, t);
        s_refuse(out, CSBM__REASON_CODE__REASON_KEY_NOT_VALID,
            "key %s of %s was revoked at %s; packages signed with it are no "
            "longer accepted", hex, h->sender, t);
        goto done;
    }
    if (package_verify(e, kr, federation, NULL, &err) != 0) {
        reason = s_key_reason(kr, h);
        s_refuse(out, reason != 0 ? reason
                                  : CSBM__REASON_CODE__REASON_BAD_SIGNATURE,
            "%s", err.msg);
        goto done;
    }
    for (i = 0; i < h->n_recipients; i++) {
        const char *id = h->recipients[i]->id;
        if (!s_known(kr, id)) {
            s_refuse(out, CSBM__REASON_CODE__REASON_UNKNOWN_RECIPIENT,
                "recipient \"%.15s\" is not in the hub's registry", id);
            goto done;
        }
        for (j = 0; j < out->n_recipients; j++)
            if (strcmp(out->recipients[j], id) == 0)
                break;
        if (j == out->n_recipients && j < ENVELOPE_MAX_RECIPIENTS)
            snprintf(out->recipients[out->n_recipients++],
                sizeof out->recipients[0], "%s", id);
    }
    if (out->n_recipients == 0) {
        s_refuse(out, CSBM__REASON_CODE__REASON_MALFORMED,
            "the package has no recipient");
        goto done;
    }
    if (h->created_at > (uint64_t)INT64_MAX
        || out->created_at > now + HUB_MAX_SKEW_S) {
        s_refuse(out, CSBM__REASON_CODE__REASON_CLOCK_SKEW,
            "the package was created %lld s in the hub's future (more than "
            "%d s); check the sender's clock",
            (long long)(out->created_at - now), HUB_MAX_SKEW_S);
        goto done;
    }
    if (max_age_s > 0 && out->created_at < now - max_age_s) {
        s_refuse(out, CSBM__REASON_CODE__REASON_CLOCK_SKEW,
            "the package was created %lld days ago; this hub accepts "
            "packages created at most %lld days ago (--max-age-days): seal "
            "it again", (long long)((now - out->created_at) / 86400),
            (long long)(max_age_s / 86400));
        goto done;
    }
    out->accept = 1;
    out->status = CSBM__WIRE_STATUS__WIRE_OK;
done:
    envelope_destroy(&e);
    return out->accept ? 0 : -1;
}

int
hub_admit_request(const keyring_t *kr, const char *user,
    const uint8_t tkey[32], int64_t now, int *reason, char *msg, size_t cap)
{
    char   state[KEYS_OWNER_MAX + 1], detail[ZAP_DETAIL_MAX];
    size_t i, n = keyring_key_count(kr);

    *reason = CSBM__REASON_CODE__REASON_UNKNOWN_SENDER;
    if (zap_admit(kr, tkey, now, state, detail, sizeof detail) == 0) {
        if (strcmp(state, user) == 0)
            return 0;
        snprintf(msg, cap, "this connection was admitted as %s but its "
            "transport key is now %s's; reconnect", user, state);
        return -1;
    }
    for (i = 0; i < n && state[0] != '\0'; i++) {
        const keyring_key_t *k = keyring_key_at(kr, i);
        if (memcmp(k->pub.transport_pk, tkey, 32) != 0)
            continue;
        *reason = k->status != KEYRING_ACTIVE && now >= k->status_since
                      ? CSBM__REASON_CODE__REASON_MEMBER_NOT_ACTIVE
                      : CSBM__REASON_CODE__REASON_KEY_NOT_VALID;
        break;
    }
    snprintf(msg, cap, "this connection may no longer be served: %s", detail);
    return -1;
}

/* ------------------------------------------------------------- jobs --- */

static void
s_job_answer(s_job_t *job, int status, int reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
s_job_answer(s_job_t *job, int status, int reason, const char *fmt, ...)
{
    va_list ap;

    job->status = status;
    job->reason = reason;
    va_start(ap, fmt);
    vsnprintf(job->message, sizeof job->message, fmt, ap);
    va_end(ap);
}

static void
s_pull_clear(s_job_t *job)
{
    size_t i;

    for (i = 0; i < job->pull.n_items; i++) {
        Csbm__PullItem *it = job->pull.items[i];
        free(it->envelope.data);
        if (it->receipt != NULL)
            csbm__signed__free_unpacked(it->receipt, NULL);
        if (it->inclusion != NULL) {
            free(it->inclusion->path.data);
            free(it->inclusion);
        }
        free(it);
    }
    free(job->pull.items);
    csbm__pull_reply__init(&job->pull);
    job->pull_cap = 0;
}

static void
s_log_clear(s_job_t *job)
{
    size_t i, j;

    for (i = 0; i < job->logr.n_cosigned; i++) {
        Csbm__CosignedHead *ch = job->logr.cosigned[i];
        if (ch->tree_head != NULL)
            csbm__signed__free_unpacked(ch->tree_head, NULL);
        for (j = 0; j < ch->n_cosignatures; j++) {
            Csbm__Cosignature *c = ch->cosignatures[j];
            free(c->witness);
            free(c->key_id.data);
            free(c->signature.data);
            free(c);
        }
        free(ch->cosignatures);
        free(ch);
    }
    free(job->logr.cosigned);
    csbm__log_reply__init(&job->logr);
}

static void
s_job_clear(s_job_t *job)
{
    s_log_clear(job);
    zmq_msg_close(&job->rid);
    if (job->req != NULL)
        csbm__wire_request__free_unpacked(job->req, NULL);
    if (job->receipt != NULL)
        csbm__signed__free_unpacked(job->receipt, NULL);
    receipt_signed_free(job->rejection);
    s_pull_clear(job);
    memset(job, 0, sizeof *job);
}

/* The answer to a job that depended on a commit that did not happen. */
static void
s_job_retry(s_job_t *job, const char *why)
{
    if (job->receipt != NULL)
        csbm__signed__free_unpacked(job->receipt, NULL);
    job->receipt = NULL;
    receipt_signed_free(job->rejection);
    job->rejection = NULL;
    job->appended = job->duplicate = 0;
    s_pull_clear(job);
    s_job_answer(job, CSBM__WIRE_STATUS__WIRE_RETRY,
        CSBM__REASON_CODE__REASON_INTERNAL, "the hub could not store this "
        "(%s); try again later", why);
}

/* ---------------------------------------------------------- collect --- */

/* Take one request off the ROUTER socket. 1 taken, 0 nothing waiting. */
static int
s_take(hub_t *self, s_job_t *job, size_t *bytes)
{
    zmq_msg_t   payload;
    const char *user, *tkey;
    int         frames = 1, more;

    memset(job, 0, sizeof *job);
    zmq_msg_init(&job->rid);
    if (zmq_msg_recv(&job->rid, self->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&job->rid);
        return 0;
    }
    if (!zmq_msg_more(&job->rid)) {
        /* A ROUTER always prefixes the routing id; nothing to answer. */
        zmq_msg_close(&job->rid);
        return 0;
    }
    zmq_msg_init(&payload);
    if (zmq_msg_recv(&payload, self->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&payload);
        zmq_msg_close(&job->rid);
        return 0;
    }
    more = zmq_msg_more(&payload);
    while (more) {
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        if (zmq_msg_recv(&extra, self->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&extra);
            break;
        }
        frames++;
        *bytes += zmq_msg_size(&extra);
        more = zmq_msg_more(&extra);
        zmq_msg_close(&extra);
    }
    job->kind = S_JOB_BAD;
    job->request_id = 0;
    *bytes += zmq_msg_size(&payload);
    user = zmq_msg_gets(&payload, "User-Id");
    if (user != NULL && keys_owner_valid(user))
        snprintf(job->user, sizeof job->user, "%s", user);
    tkey = zmq_msg_gets(&payload, ZAP_PROPERTY_TRANSPORT_KEY);
    if (tkey != NULL && strlen(tkey) == 64
        && sodium_hex2bin(job->tkey, sizeof job->tkey, tkey, 64, NULL, NULL,
               NULL) == 0)
        job->have_tkey = 1;
    if (frames != 1) {
        s_job_answer(job, CSBM__WIRE_STATUS__WIRE_REJECTED,
            CSBM__REASON_CODE__REASON_MALFORMED, "a request is one frame, "
            "not %d", frames);
    } else if ((job->req = csbm__wire_request__unpack(NULL,
                    zmq_msg_size(&payload), zmq_msg_data(&payload)))
               == NULL) {
        s_job_answer(job, CSBM__WIRE_STATUS__WIRE_REJECTED,
            CSBM__REASON_CODE__REASON_MALFORMED, "the request (%zu bytes) is "
            "not a csbm.WireRequest", zmq_msg_size(&payload));
    } else {
        job->request_id = job->req->request_id;
        if (job->user[0] == '\0') {
            s_job_answer(job, CSBM__WIRE_STATUS__WIRE_REJECTED,
                CSBM__REASON_CODE__REASON_UNKNOWN_SENDER, "the connection "
                "is not authenticated as a member");
        } else if (job->req->protocol != WIRE_PROTOCOL) {
            s_job_answer(job, CSBM__WIRE_STATUS__WIRE_REJECTED,
                CSBM__REASON_CODE__REASON_UNSUPPORTED, "protocol %u is not "
                "supported; this hub speaks protocol %d",
                job->req->protocol, WIRE_PROTOCOL);
        } else {
            switch (job->req->body_case) {
            case CSBM__WIRE_REQUEST__BODY_SUBMIT:
                job->kind = S_JOB_SUBMIT;
                break;
            case CSBM__WIRE_REQUEST__BODY_PULL:
                job->kind = S_JOB_PULL;
                /* Budget a pull at the largest reply it may need. */
                *bytes += WIRE_MAX_MESSAGE;
                break;
            case CSBM__WIRE_REQUEST__BODY_PING:
                job->kind = S_JOB_PING;
                break;
            case CSBM__WIRE_REQUEST__BODY_LOG:
                job->kind = S_JOB_LOG;
                break;
            case CSBM__WIRE_REQUEST__BODY_COSIGN:
                job->kind = S_JOB_COSIGN;
                break;
            default:
                s_job_answer(job, CSBM__WIRE_STATUS__WIRE_REJECTED,
                    CSBM__REASON_CODE__REASON_UNSUPPORTED, "unknown request "
                    "type");
                break;
            }
        }
    }
    zmq_msg_close(&payload);
    return 1;
}

static void
s_sub_refused(const char *user, const char *topic, void *ctx)
{
    (void)ctx;
    log_warn("refused a notification subscription of %s to \"%s\": a "
        "member may subscribe to its own id only", user[0] ? user : "an "
        "unauthenticated peer", topic);
}

static void
s_collect(hub_t *self, s_batch_t *b)
{
    size_t      bytes = 0;
    zap_event_t ev;

    b->n_jobs = 0;
    if (self->pub != NULL)
        (void)wire_notify_admit(self->pub, s_sub_refused, self);
    while (b->n_jobs < HUB_BATCH_MAX && bytes < HUB_BATCH_BYTES
           && s_take(self, &b->jobs[b->n_jobs], &bytes))
        b->n_jobs++;
    while (self->n_zap_events < S_ZAP_EVENTS_MAX
           && zap_next_event(self->zap, &ev))
        self->zap_events[self->n_zap_events++] = ev;
    /* Beyond that, drop: the log has them. */
    while (zap_next_event(self->zap, &ev))
        ;
}

/* ------------------------------------------------------------- pull --- */

static int
s_page_item(const archive_item_t *it, void *ctx, errbuf_t *err)
{
    s_job_t        *job = ctx;
    Csbm__PullItem *pi;

    if (job->pull.n_items == job->pull_cap) {
        size_t cap = job->pull_cap ? 2 * job->pull_cap : 16;
        void  *grown = realloc(job->pull.items, cap * sizeof *job->pull.items);
        if (grown == NULL)
            goto oom;
        job->pull.items = grown;
        job->pull_cap = cap;
    }
    if ((pi = calloc(1, sizeof *pi)) == NULL)
        goto oom;
    csbm__pull_item__init(pi);
    pi->position = it->position;
    if ((pi->envelope.data = malloc(it->envelope_len + 1)) == NULL) {
        free(pi);
        goto oom;
    }
    memcpy(pi->envelope.data, it->envelope, it->envelope_len);
    pi->envelope.len = it->envelope_len;
    pi->receipt = csbm__signed__unpack(NULL, it->receipt_len, it->receipt);
    job->pull.items[job->pull.n_items++] = pi;
    /* Its path in the batch's head is filled after the commit. */
    if ((pi->inclusion = calloc(1, sizeof *pi->inclusion)) == NULL)
        goto oom;
    csbm__inclusion_proof__init(pi->inclusion);
    pi->inclusion->leaf_index = it->log_index;
    if (pi->receipt == NULL) {
        errbuf_set(err, "the stored receipt of position %llu does not parse",
            (unsigned long long)it->position);
        return -1;
    }
    return 0;
oom:
    errbuf_set(err, "out of memory");
    return -1;
}

/* Read the page and record the pull (inside the batch transaction), in
 * the audit trail and as a leaf of the log. Returns -1 only when the log
 * write failed, which dooms the batch. */
static int
s_pull(hub_t *self, s_job_t *job, errbuf_t *berr)
{
    const Csbm__PullRequest *pr = job->req->pull;
    size_t                   max = pr->max_items;
    errbuf_t                 err = {{0}};
    int                      more = 0;
    long                     n;
    char                     detail[ARCHIVE_DETAIL_MAX];
    size_t                   used = 0, i;
    archive_event_t          ev;
    struct s_user           *empty = NULL, *quota;
    size_t                   room;

    if (max == 0 || max > WIRE_MAX_PAGE_ITEMS)
        max = WIRE_MAX_PAGE_ITEMS;
    csbm__pull_reply__init(&job->pull);
    quota = s_user(self, job->user);
    if (self->now - quota->pull_since >= S_PULL_WINDOW_S) {
        quota->pull_since = self->now;
        quota->pull_bytes = 0;
    }
    if (quota->sent_bytes > 0 && pr->after == quota->sent_cursor) {
        /* The member read the last reply: it knows its cursor. */
        quota->pull_bytes -= quota->sent_bytes < quota->pull_bytes
                                 ? quota->sent_bytes
                                 : quota->pull_bytes;
        quota->sent_bytes = 0;
    }
    if (quota->pull_bytes >= self->pull_bytes) {
        job->busy = 1;
        job->needs_commit = 0;
        s_job_answer(job, CSBM__WIRE_STATUS__WIRE_RETRY,
            CSBM__REASON_CODE__REASON_BUSY, "%s was sent %zu MiB of pull "
            "replies in the last %d s that it has not acknowledged, the most "
            "the hub sends a member: read each reply and pull after its "
            "cursor, or pull again in a few seconds", job->user,
            quota->pull_bytes >> 20, S_PULL_WINDOW_S);
        return 0;
    }
    room = self->pull_bytes - quota->pull_bytes;
    n = archive_page(self->archive, job->user, pr->after, max,
        room < WIRE_MAX_PAGE_BYTES ? room : WIRE_MAX_PAGE_BYTES, s_page_item,
        job, &more, &err);
    if (n < 0) {
        log_error("pull by %s: %s", job->user, err.msg);
        s_job_retry(job, "archive read failed");
        return 0;
    }
    job->pull.more = more ? 1 : 0;
    job->pull.cursor = n > 0 ? job->pull.items[n - 1]->position : pr->after;
    if (n > 0) {
        /* An earlier reply not acknowledged stays counted. */
        quota->sent_cursor = job->pull.cursor;
        quota->sent_bytes = 0;
        for (i = 0; i < (size_t)n; i++)
            quota->sent_bytes += job->pull.items[i]->envelope.len
                                 + S_PULL_ITEM_OVERHEAD;
        quota->pull_bytes += quota->sent_bytes;
    }
    s_job_answer(job, CSBM__WIRE_STATUS__WIRE_OK, 0, "%ld item%s", n,
        n == 1 ? "" : "s");

    if (n == 0) {
        /* A member polling an empty inbox adds no event and no leaf per
         * poll: an empty pull is not recorded again while nothing else
         * was logged since the member's last recorded one at the same
         * cursor (within S_QUIET_S), nor past S_EMPTY_PULLS_PER_MIN a
         * window whatever the cursor. */
        struct s_user *u = s_user(self, job->user);
        if (self->now - u->empty_since >= S_QUIET_S) {
            u->empty_since = self->now;
            u->empty_count = 0;
        }
        if (u->empty_count >= S_EMPTY_PULLS_PER_MIN
            || (u->empty_at != 0 && self->now - u->empty_at < S_QUIET_S
                && u->empty_after == pr->after
                && u->empty_log == archive_log_size(self->archive)))
            return 0;
        u->empty_at = self->now;
        u->empty_after = pr->after;
        u->empty_count++;
        empty = u;
    }
    used = (size_t)snprintf(detail, sizeof detail, "after %llu: %ld item%s",
        (unsigned long long)pr->after, n, n == 1 ? "" : "s");
    for (i = 0; i < (size_t)n && used < sizeof detail; i++) {
        int w = snprintf(detail + used, sizeof detail - used, "%s%llu",
            i == 0 ? " at " : ",",
            (unsigned long long)job->pull.items[i]->position);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    memset(&ev, 0, sizeof ev);
    ev.kind = ARCHIVE_EVENT_PULL;
    ev.at = self->now;
    ev.state = job->user;
    ev.detail = detail;
    if (archive_log_event(self->archive, &ev, &err) != 0) {
        log_error("recording a pull by %s: %s", job->user, err.msg);
        s_job_retry(job, "audit record failed");
        return 0;
    }
    {
        uint64_t pos[WIRE_MAX_PAGE_ITEMS];
        for (i = 0; i < (size_t)n && i < WIRE_MAX_PAGE_ITEMS; i++)
            pos[i] = job->pull.items[i]->position;
        if (archive_log_pull(self->archive, self->now, job->user, pr->after,
                pos, i, NULL, berr) != 0)
            return -1;
    }
    if (empty != NULL)
        empty->empty_log = archive_log_size(self->archive);
    return 0;
}

/* ----------------------------------------------------------- submit --- */

static void
s_hex_id(const uint8_t id[ENVELOPE_ID_BYTES], int have, char out[33])
{
    if (have)
        envelope_id_hex(id, out);
    else
        snprintf(out, 33, "(no id)");
}

/* Sign the rejection of a refused submit and set the answer. */
static void
s_reject(hub_t *self, s_job_t *job, int reason, const char *msg)
{
    Csbm__Rejection r;
    errbuf_t        err = {{0}};
    struct s_user  *u = s_user(self, job->user);

    /* Each signed rejection costs a signature and an audit row: a member
     * gets S_REJECTS_PER_MIN per S_QUIET_S, then an unsigned "busy". */
    if (self->now - u->reject_since >= S_QUIET_S) {
        u->reject_since = self->now;
        u->rejects = 0;
    }
    if (u->rejects >= S_REJECTS_PER_MIN) {
        s_job_answer(job, CSBM__WIRE_STATUS__WIRE_RETRY,
            CSBM__REASON_CODE__REASON_BUSY, "more than %d refused packages "
            "from %s in %d s; fix what the earlier rejections say, then try "
            "again later", S_REJECTS_PER_MIN, job->user, S_QUIET_S);
        job->busy = 1;
        return;
    }
    u->rejects++;
    csbm__rejection__init(&r);
    s_job_answer(job, CSBM__WIRE_STATUS__WIRE_REJECTED, reason, "%s", msg);
    r.federation = self->federation;
    if (job->v.have_id) {
        r.package_id.data = job->v.package_id;
        r.package_id.len = ENVELOPE_ID_BYTES;
    }
    r.sender = job->user;
    r.envelope_hash.data = job->v.envelope_hash;
    r.envelope_hash.len = sizeof job->v.envelope_hash;
    r.reason = (Csbm__ReasonCode)reason;
    r.message = job->message;
    r.rejected_at = (uint64_t)self->now;
    if ((job->rejection = receipt_sign_rejection(self->sign_key, &r, &err))
        == NULL)
        log_error("signing a rejection: %s", err.msg);
}

/* The refusal event of a request: one per member and reason per
 * S_QUIET_S; those left out are counted into the next one recorded. */
static int
s_log_refusal(hub_t *self, const s_job_t *job, errbuf_t *err)
{
    archive_event_t ev;
    struct s_user  *u = s_user(self, job->user);
    int             r = job->reason >= 0 && job->reason < S_REASONS
                            ? job->reason
                            : 0;
    char            detail[HUB_MESSAGE_MAX + 96];

    if (job->busy)
        return 0;
    if (u->refuse_at[r] != 0 && self->now - u->refuse_at[r] < S_QUIET_S) {
        u->refuse_dropped[r]++;
        return 0;
    }
    if (u->refuse_dropped[r] > 0)
        snprintf(detail, sizeof detail, "%s (and %u more refusals for this "
            "reason in the %d s before)", job->message, u->refuse_dropped[r],
            S_QUIET_S);
    else
        snprintf(detail, sizeof detail, "%s", job->message);
    u->refuse_at[r] = self->now;
    u->refuse_dropped[r] = 0;
    memset(&ev, 0, sizeof ev);
    ev.kind = ARCHIVE_EVENT_REFUSE;
    ev.at = self->now;
    ev.state = job->user;
    ev.package_id = job->kind == S_JOB_SUBMIT && job->v.have_id
                        ? job->v.package_id
                        : NULL;
    ev.reason = job->reason;
    ev.detail = detail;
    return archive_log_event(self->archive, &ev, err);
}

/* Unpack a stored receipt for a reply. */
static Csbm__Signed *
s_stored_receipt(const archive_record_t *rec)
{
    if (rec->receipt == NULL)
        return NULL;
    return csbm__signed__unpack(NULL, rec->receipt_len, rec->receipt);
}

/* Replay checks, append, receipt (inside the batch transaction). Returns
 * -1 only on an archive failure that dooms the batch. */
static int
s_submit(hub_t *self, s_job_t *job, errbuf_t *err)
{
    const Csbm__SubmitRequest *sr = job->req->submit;
    archive_record_t           rec;
    archive_entry_t            e;
    Csbm__Receipt              r;
    Csbm__Signed              *s;
    const char                *rcpts[ENVELOPE_MAX_RECIPIENTS];
    uint8_t                   *packed;
    size_t                     len, i;
    int                        found, rc;
    char                       msg[HUB_MESSAGE_MAX], hex[33];

    job->appended = 0;

    if ((found = archive_find_by_id(self->archive, job->v.package_id, &rec,
             err)) < 0)
        return -1;
    if (found) {
        if (sodium_memcmp(rec.envelope_hash, job->v.envelope_hash, 32) == 0) {
            job->receipt = s_stored_receipt(&rec);
            free(rec.receipt);
            if (job->receipt == NULL) {
                /* A damaged row must not doom the rest of the batch. */
                log_error("%s: the stored receipt of position %llu does not "
                    "parse; check the archive", self->data_path,
                    (unsigned long long)rec.position);
                s_job_retry(job, "archived receipt unreadable");
                return 0;
            }
            job->duplicate = 1;
            job->position = rec.position;
            job->log_index = rec.log_index;
            s_job_answer(job, CSBM__WIRE_STATUS__WIRE_OK, 0, "already "
                "archived at position %llu", (unsigned long long)rec.position);
            return 0;
        }
        envelope_id_hex(job->v.package_id, hex);
        /* Another sender's position is none of this member's business. */
        if (strcmp(rec.sender, job->user) == 0)
            snprintf(msg, sizeof msg, "package id %s is already archived (at "
                "position %llu) with other content", hex,
                (unsigned long long)rec.position);
        else
            snprintf(msg, sizeof msg, "package id %s is already taken by "
                "another package; seal with a new package id", hex);
        free(rec.receipt);
        s_reject(self, job, CSBM__REASON_CODE__REASON_REPLAY, msg);
        return 0;
    }
    if ((found = archive_find_by_seq(self->archive, job->v.sender,
             job->v.sequence, &rec, err)) < 0)
        return -1;
    if (found) {
        envelope_id_hex(rec.package_id, hex);
        snprintf(msg, sizeof msg, "sequence number %llu of %s was already "
            "used by package %s (at position %llu); seal with a new sequence "
            "number", (unsigned long long)job->v.sequence, job->v.sender, hex,
            (unsigned long long)rec.position);
        free(rec.receipt);
        s_reject(self, job, CSBM__REASON_CODE__REASON_REPLAY, msg);
        return 0;
    }

    memset(&e, 0, sizeof e);
    memcpy(e.package_id, job->v.package_id, ENVELOPE_ID_BYTES);
    e.sender = job->v.sender;
    e.sequence = job->v.sequence;
    e.package_type = job->v.package_type;
    e.year = job->v.year;
    e.created_at = job->v.created_at;
    e.accepted_at = self->now;
    e.envelope = sr->envelope.data;
    e.envelope_len = sr->envelope.len;
    memcpy(e.envelope_hash, job->v.envelope_hash, 32);
    for (i = 0; i < job->v.n_recipients; i++)
        rcpts[i] = job->v.recipients[i];
    e.recipients = rcpts;
    e.n_recipients = job->v.n_recipients;
    /* Positions and leaves are given in order, so the receipt is made
     * first and written with the row (archive_append checks the position);
     * the batch's tree head signs it with the package's leaf. */
    job->position = archive_next_position(self->archive);
    job->log_index = archive_log_size(self->archive);

    csbm__receipt__init(&r);
    r.federation = self->federation;
    r.package_id.data = job->v.package_id;
    r.package_id.len = ENVELOPE_ID_BYTES;
    r.sender = job->v.sender;
    r.sequence = job->v.sequence;
    r.envelope_hash.data = job->v.envelope_hash;
    r.envelope_hash.len = 32;
    r.position = job->position;
    r.accepted_at = (uint64_t)self->now;
    r.log_index = job->log_index;
    if ((s = receipt_make(self->sign_key, &r, e.receipt_hash, err)) == NULL)
        return -1;
    len = csbm__signed__get_packed_size(s);
    if ((packed = malloc(len + 1)) == NULL) {
        receipt_signed_free(s);
        errbuf_set(err, "out of memory");
        return -1;
    }
    csbm__signed__pack(s, packed);
    receipt_signed_free(s);
    e.receipt = packed;
    e.receipt_len = len;
    rc = archive_append(self->archive, &e, &job->position, err);
    if (rc == 0
        && (job->receipt = csbm__signed__unpack(NULL, len, packed)) == NULL) {
        errbuf_set(err, "out of memory");
        rc = -1;
    }
    free(packed);
    if (rc != 0)
        return -1;
    job->appended = 1;
    s_job_answer(job, CSBM__WIRE_STATUS__WIRE_OK, 0, "archived at position "
        "%llu", (unsigned long long)job->position);
    return 0;
}

static int
s_log_resubmission(hub_t *self, const s_job_t *job, errbuf_t *err)
{
    archive_event_t ev;
    char            detail[96];

    snprintf(detail, sizeof detail, "resubmitted, already at position %llu, "
        "sequence %llu", (unsigned long long)job->position,
        (unsigned long long)job->v.sequence);
    memset(&ev, 0, sizeof ev);
    ev.kind = ARCHIVE_EVENT_PUSH;
    ev.at = self->now;
    ev.state = job->user;
    ev.package_id = job->v.package_id;
    ev.detail = detail;
    return archive_log_event(self->archive, &ev, err);
}

/* -------------------------------------------------------------- log --- */

/* Load the newest signed head after a commit (and at start). */
static void
s_head_refresh(hub_t *self)
{
    archive_head_t h;
    errbuf_t       err = {{0}};
    int            found = archive_head_latest(self->archive, &h, &err);

    if (found < 0) {
        log_error("reading the newest tree head: %s", err.msg);
        return;
    }
    if (found == 0 || h.size == self->head_size) {
        archive_head_clear(&h);
        return;
    }
    if (self->head_prev != NULL)
        csbm__signed__free_unpacked(self->head_prev, NULL);
    self->head_prev = self->head;
    self->head = csbm__signed__unpack(NULL, h.signed_len, h.signed_head);
    self->head_size = self->head != NULL ? h.size : 0;
    if (self->head == NULL)
        log_error("%s: the tree head of size %llu does not parse",
            self->data_path, (unsigned long long)h.size);
    archive_head_clear(&h);
}

/* The inclusion proof of a receipted package in the newest head. */
static void
s_attach_inclusion(hub_t *self, s_job_t *job)
{
    errbuf_t err = {{0}};
    size_t   n = 0;

    if (self->head == NULL || job->log_index >= self->head_size)
        return;
    if (archive_inclusion_proof(self->archive, job->log_index,
            self->head_size, job->path, &n, &err) != 0) {
        log_error("inclusion proof of leaf %llu: %s",
            (unsigned long long)job->log_index, err.msg);
        return;
    }
    csbm__inclusion_proof__init(&job->inclusion);
    job->inclusion.tree_head = self->head;
    job->inclusion.leaf_index = job->log_index;
    job->inclusion.path.data = &job->path[0][0];
    job->inclusion.path.len = n * MERKLE_HASH_BYTES;
    job->have_inclusion = 1;
}

/* The inclusion proof of every item of a pull page in the newest head,
 * which the reply carries once. An item whose proof cannot be read turns
 * the reply into WIRE_RETRY: a member verifies every item. */
static void
s_attach_pull_proofs(hub_t *self, s_job_t *job)
{
    uint8_t  path[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES];
    errbuf_t err = {{0}};
    size_t   i, n = 0;

    if (job->pull.n_items == 0)
        return;
    job->pull.tree_head = self->head;
    for (i = 0; i < job->pull.n_items; i++) {
        Csbm__InclusionProof *ip = job->pull.items[i]->inclusion;
        if (self->head == NULL || ip->leaf_index >= self->head_size
            || archive_inclusion_proof(self->archive, ip->leaf_index,
                   self->head_size, path, &n, &err) != 0
            || (ip->path.data = malloc(n * MERKLE_HASH_BYTES + 1)) == NULL) {
            log_error("inclusion proof of leaf %llu for %s's pull: %s",
                (unsigned long long)ip->leaf_index, job->user,
                err.msg[0] ? err.msg : "no tree head holds it");
            s_pull_clear(job);
            s_job_retry(job, "log read failed");
            return;
        }
        memcpy(ip->path.data, path, n * MERKLE_HASH_BYTES);
        ip->path.len = n * MERKLE_HASH_BYTES;
    }
}

typedef struct {
    Csbm__CosignedHead *ch;
    size_t              cap;
} s_cosigs_t;

static int
s_cosig_item(const char *witness, const uint8_t key_id[KEYS_ID_BYTES],
    const uint8_t sig[KEYS_SIG_BYTES], void *ctx)
{
    s_cosigs_t        *c = ctx;
    Csbm__Cosignature *cs;

    if (c->ch->n_cosignatures >= c->cap)
        return 1;
    if ((cs = calloc(1, sizeof *cs)) == NULL)
        return 1;
    csbm__cosignature__init(cs);
    cs->witness = strdup(witness);
    cs->key_id.data = malloc(KEYS_ID_BYTES);
    cs->signature.data = malloc(KEYS_SIG_BYTES);
    c->ch->cosignatures[c->ch->n_cosignatures++] = cs;
    if (cs->witness == NULL || cs->key_id.data == NULL
        || cs->signature.data == NULL)
        return 1;
    memcpy(cs->key_id.data, key_id, KEYS_ID_BYTES);
    cs->key_id.len = KEYS_ID_BYTES;
    memcpy(cs->signature.data, sig, KEYS_SIG_BYTES);
    cs->signature.len = KEYS_SIG_BYTES;
    return 0;
}

/* Answer a LogRequest: the newest head, the consistency proof from the
 * caller's size, and the newest cosigned heads if asked. */
static void
s_log_reply(hub_t *self, s_job_t *job)
{
    const Csbm__LogRequest *lr = job->req->log;
    errbuf_t                err = {{0}};
    uint64_t                sizes[S_COSIGNED_MAX];
    size_t                  n = 0, i;

    csbm__log_reply__init(&job->logr);
    job->logr.quorum = self->quorum;
    if (lr == NULL) {
        s_job_answer(job, CSBM__WIRE_STATUS__WIRE_REJECTED,
            CSBM__REASON_CODE__REASON_MALFORMED, "empty log request");
        return;
    }
    job->logr.tree_head = self->head;
    if (self->head != NULL && lr->from_size <= self->head_size) {
        if (archive_consistency_proof(self->archive, lr->from_size,
                self->head_size, job->path, &n, &err) != 0) {
            log_error("consistency proof for %s: %s", job->user, err.msg);
            s_job_retry(job, "log read failed");
            return;
        }
        job->logr.consistency.data = &job->path[0][0];
        job->logr.consistency.len = n * MERKLE_HASH_BYTES;
    }
    if (lr->cosigned
        && archive_cosigned_sizes(self->archive, sizes, S_COSIGNED_MAX, &n,
               &err) == 0
        && n > 0
        && (job->logr.cosigned = calloc(n, sizeof *job->logr.cosigned))
               != NULL) {
        for (i = 0; i < n; i++) {
            archive_head_t      h;
            Csbm__CosignedHead *ch;
            s_cosigs_t          c;
            if (archive_head_get(self->archive, sizes[i], &h, &err) != 1)
                continue;
            if ((ch = calloc(1, sizeof *ch)) == NULL) {
                archive_head_clear(&h);
                break;
            }
            csbm__cosigned_head__init(ch);
            job->logr.cosigned[job->logr.n_cosigned++] = ch;
            ch->tree_head = csbm__signed__unpack(NULL, h.signed_len,
                h.signed_head);
            archive_head_clear(&h);
            ch->cosignatures = calloc(S_WITNESSES_MAX,
                sizeof *ch->cosignatures);
            if (ch->cosignatures == NULL)
                break;
            c.ch = ch;
            c.cap = S_WITNESSES_MAX;
            if (archive_cosign_foreach(self->archive, sizes[i], s_cosig_item,
                    &c, &err) != 0)
                break;
        }
    }
    s_job_answer(job, CSBM__WIRE_STATUS__WIRE_OK, 0, "tree head of size %llu",
        (unsigned long long)self->head_size);
}

/* Check and store a member's cosignature (inside the batch transaction).
 * The head must be one this hub signed, byte for byte; the cosignature
 * must be the connected member's, by a signing key valid at the head's
 * time. Returns -1 only on a store failure that dooms the batch. */
static int
s_cosign(hub_t *self, s_job_t *job, errbuf_t *err)
{
    const Csbm__CosignRequest *cr = job->req->cosign;
    const Csbm__Cosignature   *cs = cr != NULL ? cr->cosignature : NULL;
    const keyring_key_t       *k = NULL;
    archive_head_t             h;
    Csbm__Signed              *stored = NULL;
    treehead_t                 th;
    errbuf_t                   why = {{0}};
    long                       count;
    int                        found;

    csbm__cosign_reply__init(&job->cosign);
    if (cs == NULL || cs->witness == NULL || cs->key_id.len != KEYS_ID_BYTES
        || cs->signature.len != KEYS_SIG_BYTES
        || treehead_decode(cr->tree_head.data, cr->tree_head.len, &th, &why)
            != 0) {
        s_job_answer(job, CSBM__WIRE_STATUS__WIRE_REJECTED,
            CSBM__REASON_CODE__REASON_MALFORMED, "malformed cosignature%s%s",
            why.msg[0] ? ": " : "", why.msg);
        return 0;
    }
    if (strcmp(cs->witness, job->user) != 0) {
        s_job_answer(job, CSBM__WIRE_STATUS__WIRE_REJECTED,
            CSBM__REASON_CODE__REASON_SENDER_MISMATCH, "a cosignature as "
            "%.15s on %s's connection", cs->witness, job->user);
        return 0;
    }
    if ((found = archive_head_get(self->archive, th.size, &h, err)) < 0)
        return -1;
    if (found)
        stored = csbm__signed__unpack(NULL, h.signed_len, h.signed_head);
    archive_head_clear(&h);
    if (stored == NULL || stored->statement.len != cr->tree_head.len
        || memcmp(stored->statement.data, cr->tree_head.data,
               cr->tree_head.len) != 0) {
        if (stored != NULL)
            csbm__signed__free_unpacked(stored, NULL);
        log_error("%s cosigned a tree head of size %llu that this hub did "
            "not sign", job->user, (unsigned long long)th.size);
        s_job_answer(job, CSBM__WIRE_STATUS__WIRE_REJECTED,
            CSBM__REASON_CODE__REASON_MALFORMED, "this hub signed no such "
            "tree head of size %llu", (unsigned long long)th.size);
        return 0;
    }
    csbm__signed__free_unpacked(stored, NULL);
    if (keyring_signer(self->keyring, job->user, cs->key_id.data,
            th.timestamp, &k, &why) != 0
        || treehead_cosign_verify(k->pub.sign_pk, cr->tree_head.data,
               cr->tree_head.len, cs->signature.data, cs->signature.len,
               &why) != 0) {
        s_job_answer(job, CSBM__WIRE_STATUS__WIRE_REJECTED,
            CSBM__REASON_CODE__REASON_BAD_SIGNATURE, "cosignature of %s: %s",
            job->user, why.msg);
        return 0;
    }
    if ((count = archive_cosign_put(self->archive, th.size, job->user,
             cs->key_id.data, cs->signature.data, self->now, err)) < 0)
        return -1;
    job->needs_commit = 1;
    /* A head is witnessed by whoever cosigned it or a later head: the
     * heads are one append-only chain and each cosigner verified
     * consistency from its own earlier head. */
    if ((count = archive_cosign_witnesses_since(self->archive, th.size, err))
        < 0)
        return -1;
    job->cosign.cosignatures = (uint32_t)count;
    job->cosign.witnessed = (uint32_t)count >= self->quorum;
    s_job_answer(job, CSBM__WIRE_STATUS__WIRE_OK, 0, "head of size %llu "
        "witnessed by %ld member%s%s", (unsigned long long)th.size, count,
        count == 1 ? "" : "es", job->cosign.witnessed ? ", witnessed" : "");
    return 0;
}

/* ------------------------------------------------------------ batch --- */

/* Steps 3 and 4: everything that goes into the transaction. */
static void
s_write(hub_t *self, int need_txn)
{
    errbuf_t err = {{0}};
    size_t   i;
    int      ok;

    if (!need_txn)
        return;
    ok = archive_begin(self->archive, &err) == 0;
    for (i = 0; ok && i < self->n_jobs; i++) {
        s_job_t *job = &self->jobs[i];
        if (job->kind == S_JOB_PULL && job->status == 0)
            ok = s_pull(self, job, &err) == 0;
    }
    for (i = 0; ok && i < self->n_jobs; i++) {
        s_job_t *job = &self->jobs[i];
        if (job->kind != S_JOB_SUBMIT)
            continue;
        if (job->v.accept) {
            ok = s_submit(self, job, &err) == 0;
            /* An archived package's row is its record in the audit trail
             * (node/archive_query.c reads pushes from it); a resubmission
             * leaves no row, so it gets an event. */
            if (ok && job->receipt != NULL && job->duplicate)
                ok = s_log_resubmission(self, job, &err) == 0;
        }
        if (ok && job->status == CSBM__WIRE_STATUS__WIRE_REJECTED)
            ok = s_log_refusal(self, job, &err) == 0;
    }
    for (i = 0; ok && i < self->n_jobs; i++) {
        s_job_t *job = &self->jobs[i];
        if (job->kind != S_JOB_SUBMIT && job->status != 0
            && job->status != CSBM__WIRE_STATUS__WIRE_OK && job->user[0])
            ok = s_log_refusal(self, job, &err) == 0;
    }
    for (i = 0; ok && i < self->n_zap_events; i++) {
        const zap_event_t *z = &self->zap_events[i];
        archive_event_t    ev;
        char               detail[ZAP_DETAIL_MAX + 96];
        snprintf(detail, sizeof detail, "refused handshake from %s: %s",
            z->address, z->detail);
        memset(&ev, 0, sizeof ev);
        ev.kind = ARCHIVE_EVENT_HANDSHAKE;
        ev.at = z->at;
        ev.state = z->state;
        ev.detail = detail;
        ok = archive_log_event(self->archive, &ev, &err) == 0;
    }
    for (i = 0; ok && i < self->n_jobs; i++) {
        s_job_t *job = &self->jobs[i];
        if (job->kind == S_JOB_COSIGN && job->status == 0)
            ok = s_cosign(self, job, &err) == 0;
    }
    if (ok && archive_commit(self->archive, &err) == 0) {
        self->n_zap_events = 0;
        s_head_refresh(self);
        return;
    }
    log_error("batch of %zu requests not stored: %s", self->n_jobs, err.msg);
    archive_rollback(self->archive);
    for (i = 0; i < self->n_jobs; i++)
        if (self->jobs[i].needs_commit)
            s_job_retry(&self->jobs[i], "storage failure");
    /* Handshake events stay queued for the next batch. */
}

static void
s_send(hub_t *self, s_job_t *job)
{
    Csbm__WireReply   reply;
    Csbm__SubmitReply sub = CSBM__SUBMIT_REPLY__INIT;
    Csbm__PingReply   ping = CSBM__PING_REPLY__INIT;
    errbuf_t          err = {{0}};
    zmq_msg_t         rid;

    csbm__wire_reply__init(&reply);
    reply.protocol = WIRE_PROTOCOL;
    reply.request_id = job->request_id;
    reply.status = (Csbm__WireStatus)job->status;
    reply.reason = (Csbm__ReasonCode)job->reason;
    reply.message = job->message;
    if (job->kind == S_JOB_SUBMIT && job->status != CSBM__WIRE_STATUS__WIRE_RETRY
        && (job->receipt != NULL || job->rejection != NULL)) {
        sub.receipt = job->status == CSBM__WIRE_STATUS__WIRE_OK ? job->receipt
                                                               : NULL;
        sub.rejection = job->status == CSBM__WIRE_STATUS__WIRE_REJECTED
                            ? job->rejection
                            : NULL;
        sub.duplicate = job->duplicate ? 1 : 0;
        if (job->have_inclusion && sub.receipt != NULL)
            sub.inclusion = &job->inclusion;
        reply.body_case = CSBM__WIRE_REPLY__BODY_SUBMIT;
        reply.submit = &sub;
    } else if (job->kind == S_JOB_PULL
               && job->status == CSBM__WIRE_STATUS__WIRE_OK) {
        reply.body_case = CSBM__WIRE_REPLY__BODY_PULL;
        reply.pull = &job->pull;
    } else if (job->kind == S_JOB_LOG
               && job->status == CSBM__WIRE_STATUS__WIRE_OK) {
        reply.body_case = CSBM__WIRE_REPLY__BODY_LOG;
        reply.log = &job->logr;
    } else if (job->kind == S_JOB_COSIGN
               && job->status == CSBM__WIRE_STATUS__WIRE_OK) {
        reply.body_case = CSBM__WIRE_REPLY__BODY_COSIGN;
        reply.cosign = &job->cosign;
    } else if (job->kind == S_JOB_PING) {
        ping.hub_time = (uint64_t)self->now;
        ping.archive_size = archive_count(self->archive);
        reply.body_case = CSBM__WIRE_REPLY__BODY_PING;
        reply.ping = &ping;
    }
    zmq_msg_init(&rid);
    zmq_msg_copy(&rid, &job->rid);
    if (zmq_msg_send(&rid, self->router, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&rid);
        log_warn("reply to %s dropped: %s", job->user[0] ? job->user : "?",
            zmq_strerror(zmq_errno()));
        return;
    }
    if (wire_send(self->router, &reply.base, ZMQ_DONTWAIT, &err) != 0)
        log_warn("reply to %s dropped: %s", job->user[0] ? job->user : "?",
            err.msg);
}

static void
s_notify(hub_t *self, const s_job_t *job)
{
    Csbm__Notification n = CSBM__NOTIFICATION__INIT;
    char               topic[WIRE_TOPIC_MAX];
    size_t             i;
    errbuf_t           err = {{0}};

    if (self->pub == NULL)
        return;
    /* No position: the recipient learns it by pulling. */
    n.archive_size = archive_count(self->archive);
    for (i = 0; i < job->v.n_recipients; i++) {
        int len = snprintf(topic, sizeof topic, "%s ", job->v.recipients[i]);
        if (len <= 0 || (size_t)len >= sizeof topic)
            continue;
        if (zmq_send(self->pub, topic, (size_t)len,
                ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
            || wire_send(self->pub, &n.base, ZMQ_DONTWAIT, &err) != 0)
            log_warn("notification to %s dropped", job->v.recipients[i]);
    }
}

/* What a batch did, for its one info line. */
typedef struct {
    size_t   accepted, duplicates, rejected, deferred, pulls, items;
    uint64_t first, last; /* positions appended */
} s_tally_t;

/* Per request: debug, except refusals (info) and failures (warn). */
static void
s_log_job(const s_job_t *job, s_tally_t *t)
{
    char hex[33];

    switch (job->kind) {
    case S_JOB_SUBMIT:
        s_hex_id(job->v.package_id, job->v.have_id, hex);
        if (job->status == CSBM__WIRE_STATUS__WIRE_OK && job->duplicate) {
            t->duplicates++;
            log_debug("resubmitted %s %s by %s: already at position %llu",
                package_type_name(job->v.package_type), hex, job->user,
                (unsigned long long)job->position);
        } else if (job->status == CSBM__WIRE_STATUS__WIRE_OK) {
            t->accepted++;
            if (t->first == 0)
                t->first = job->position;
            t->last = job->position;
            log_debug("accepted %s %s from %s, sequence %llu, at position "
                "%llu (%zu recipient%s)",
                package_type_name(job->v.package_type), hex, job->user,
                (unsigned long long)job->v.sequence,
                (unsigned long long)job->position, job->v.n_recipients,
                job->v.n_recipients == 1 ? "" : "s");
        } else if (job->status == CSBM__WIRE_STATUS__WIRE_REJECTED) {
            t->rejected++;
            log_info("rejected %s from %s: %s: %s", hex, job->user,
                receipt_reason_name(job->reason), job->message);
        } else {
            t->deferred++;
            log_warn("deferred %s from %s: %s", hex, job->user, job->message);
        }
        break;
    case S_JOB_PULL:
        if (job->status == CSBM__WIRE_STATUS__WIRE_OK) {
            t->pulls++;
            t->items += job->pull.n_items;
            log_debug("pull by %s after %llu: %zu item%s, cursor %llu%s",
                job->user, (unsigned long long)job->req->pull->after,
                job->pull.n_items, job->pull.n_items == 1 ? "" : "s",
                (unsigned long long)job->pull.cursor,
                job->pull.more ? ", more waiting" : "");
        } else {
            log_warn("pull by %s failed: %s", job->user, job->message);
        }
        break;
    case S_JOB_PING:
        log_debug("ping from %s", job->user);
        break;
    case S_JOB_LOG:
        log_debug("log request from %s: %s", job->user, job->message);
        break;
    case S_JOB_COSIGN:
        if (job->status == CSBM__WIRE_STATUS__WIRE_OK)
            log_info("%s: %s", job->user, job->message);
        else
            log_warn("cosignature from %s refused: %s", job->user,
                job->message);
        break;
    default:
        log_info("refused a request from %s: %s: %s",
            job->user[0] ? job->user : "an unauthenticated peer",
            receipt_reason_name(job->reason), job->message);
        break;
    }
}

/* The one info line of a batch that archived, resubmitted or served. */
static void
s_log_batch(const hub_t *self, const s_tally_t *t)
{
    char span[64] = "";

    if (t->accepted + t->duplicates + t->pulls == 0)
        return;
    if (t->accepted > 0)
        snprintf(span, sizeof span, " at positions %llu..%llu",
            (unsigned long long)t->first, (unsigned long long)t->last);
    log_info("batch of %zu request%s: %zu package%s archived%s, %zu "
        "resubmitted, %zu rejected, %zu deferred; %zu pull%s served (%zu "
        "item%s); archive holds %llu", self->n_jobs,
        self->n_jobs == 1 ? "" : "s", t->accepted,
        t->accepted == 1 ? "" : "s", span, t->duplicates, t->rejected,
        t->deferred, t->pulls, t->pulls == 1 ? "" : "s", t->items,
        t->items == 1 ? "" : "s",
        (unsigned long long)archive_count(self->archive));
}

/* The verifiers' work: pure, touches only the chunk's verdicts. */
static void
s_verify_chunk(s_chunk_t *c)
{
    size_t i;

    for (i = 0; i < c->n; i++) {
        s_job_t                   *job = &c->jobs[i];
        const Csbm__SubmitRequest *sr;

        if (job->kind != S_JOB_SUBMIT)
            continue;
        if ((sr = job->req->submit) == NULL) {
            memset(&job->v, 0, sizeof job->v);
            job->verify_rc = s_refuse(&job->v,
                CSBM__REASON_CODE__REASON_MALFORMED, "empty submit");
            continue;
        }
        job->verify_rc = hub_verify_submit_max_age(c->keyring,
            c->federation, job->user, sr->envelope.data, sr->envelope.len,
            c->now, c->max_age_s, &job->v);
    }
}

static void *
s_verifier(void *arg)
{
    void *pipe = arg;

    for (;;) {
        s_chunk_t *c = NULL;
        int        rc = zmq_recv(pipe, &c, sizeof c, 0);

        if (rc < 0 && zmq_errno() == EINTR)
            continue;
        if (rc != (int)sizeof c || c == NULL)
            break; /* stopped, or the context is terminating */
        s_verify_chunk(c);
        while (zmq_send(pipe, &c, sizeof c, 0) < 0 && zmq_errno() == EINTR)
            ;
    }
    zmq_close(pipe);
    return NULL;
}

/* Before anything else of request i of batch b: the connection's member
 * must still be admitted at the batch's now (ZAP saw it only at the
 * handshake), and a member gets one pull per batch — the excess, and
 * anything past its share of the batch, is answered WIRE_RETRY /
 * REASON_BUSY, so a member that pipelines pulls without reading cannot
 * make the hub hold many pages for it. */
static void
s_admit(hub_t *self, s_batch_t *b, size_t i)
{
    s_job_t *job = &b->jobs[i];
    char     msg[HUB_MESSAGE_MAX];
    int      reason;
    size_t   j;

    if (job->kind == S_JOB_BAD || job->user[0] == '\0')
        return;
    if (!job->have_tkey
        || hub_admit_request(self->keyring, job->user, job->tkey, b->now,
               &reason, msg, sizeof msg) != 0) {
        if (!job->have_tkey) {
            reason = CSBM__REASON_CODE__REASON_UNKNOWN_SENDER;
            snprintf(msg, sizeof msg, "the connection carries no transport "
                "key; reconnect");
        }
        job->kind = S_JOB_BAD;
        s_job_answer(job, CSBM__WIRE_STATUS__WIRE_REJECTED, reason, "%s",
            msg);
        return;
    }
    if (job->kind != S_JOB_PULL)
        return;
    for (j = 0; j < i; j++)
        if (b->jobs[j].kind == S_JOB_PULL && b->jobs[j].status == 0
            && strcmp(b->jobs[j].user, job->user) == 0) {
            job->kind = S_JOB_BAD;
            s_job_answer(job, CSBM__WIRE_STATUS__WIRE_RETRY,
                CSBM__REASON_CODE__REASON_BUSY, "one pull per member at a "
                "time: read the reply to the last one, then pull again");
            job->busy = 1;
            return;
        }
}

/* Steps 1 and 2 begin: take what is waiting into the next free batch,
 * sort the requests out and send the envelopes to the verifiers (or
 * verify a few here when nothing else waits for this thread). */
static void
s_start(hub_t *self, int overlap)
{
    s_batch_t *b = NULL;
    size_t     i, n_submit = 0, w, n_chunks;

    for (i = 0; i < S_BATCHES && b == NULL; i++)
        if (!self->batches[i].busy)
            b = &self->batches[i];
    if (b == NULL)
        return; /* cannot happen: one batch per stage */
    s_collect(self, b);
    if (b->n_jobs == 0 && self->n_zap_events == 0)
        return;
    b->busy = 1;
    self->inflight = b;
    b->now = (int64_t)time(NULL);
    b->need_txn = self->n_zap_events > 0;
    b->pending = 0;
    for (i = 0; i < b->n_jobs; i++) {
        s_job_t *job = &b->jobs[i];
        s_admit(self, b, i);
        if (job->kind == S_JOB_SUBMIT) {
            b->need_txn = 1;
            n_submit++;
        } else if (job->kind == S_JOB_PULL) {
            b->need_txn = 1;
            if (job->req->pull == NULL)
                s_job_answer(job, CSBM__WIRE_STATUS__WIRE_REJECTED,
                    CSBM__REASON_CODE__REASON_MALFORMED, "empty pull");
            else
                job->needs_commit = 1;
        } else if (job->kind == S_JOB_PING) {
            s_job_answer(job, CSBM__WIRE_STATUS__WIRE_OK, 0, "pong");
        } else if (job->kind == S_JOB_COSIGN) {
            b->need_txn = 1;
        } else if (job->kind == S_JOB_LOG) {
            /* answered after the commit, from the newest head */
        } else if (job->user[0] != '\0') {
            b->need_txn = 1; /* a refused request of a known member */
        }
    }
    if (n_submit == 0)
        return;
    n_chunks = (size_t)self->n_verifiers;
    if (n_chunks == 0 || (!overlap && n_submit <= S_INLINE_VERIFY))
        n_chunks = 0;
    else if (n_chunks > n_submit)
        n_chunks = n_submit;
    if (n_chunks == 0) {
        s_chunk_t c = {b->jobs, b->n_jobs, self->keyring, self->federation,
            b->now, self->max_age_s};
        s_verify_chunk(&c);
        return;
    }
    for (w = 0; w < n_chunks; w++) {
        s_chunk_t *c = &b->chunks[w];
        size_t     lo = b->n_jobs * w / n_chunks;
        size_t     hi = b->n_jobs * (w + 1) / n_chunks;

        c->jobs = b->jobs + lo;
        c->n = hi - lo;
        c->keyring = self->keyring;
        c->federation = self->federation;
        c->now = b->now;
        c->max_age_s = self->max_age_s;
        if (zmq_send(self->vpipe[w], &c, sizeof c, 0) == (int)sizeof c) {
            b->pending++;
        } else {
            /* An inproc PAIR with room does not refuse; if it does, the
             * chunk is verified here. */
            log_warn("verifier %zu unreachable: %s", w,
                zmq_strerror(zmq_errno()));
            s_verify_chunk(c);
        }
    }
}

/* Wait until every chunk of the batch in flight is back. Returns -1 only
 * if the verifiers are gone (the context is terminating). */
static int
s_await(hub_t *self, errbuf_t *err)
{
    s_batch_t *b = self->inflight;

    while (b->pending > 0) {
        zmq_pollitem_t items[HUB_VERIFY_THREADS];
        int            i, rc;

        for (i = 0; i < self->n_verifiers; i++) {
            items[i].socket = self->vpipe[i];
            items[i].fd = 0;
            items[i].events = ZMQ_POLLIN;
            items[i].revents = 0;
        }
        rc = zmq_poll(items, self->n_verifiers, -1);
        if (rc < 0) {
            if (zmq_errno() == EINTR)
                continue; /* a stop signal: the batch in hand is finished */
            errbuf_set(err, "waiting for the verifiers: %s",
                zmq_strerror(zmq_errno()));
            return -1;
        }
        for (i = 0; i < self->n_verifiers; i++) {
            s_chunk_t *c = NULL;
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            if (zmq_recv(self->vpipe[i], &c, sizeof c, ZMQ_DONTWAIT)
                    == (int)sizeof c
                && c != NULL)
                b->pending--;
        }
    }
    return 0;
}

/* Steps 2 (the verdicts) to 4 for the batch whose verdicts are in: the
 * writes and the commit, then a flush asked of the syncer. The answers
 * (s_complete) wait for that flush; meanwhile the next batch is written. */
static void
s_commit_batch(hub_t *self, s_batch_t *b)
{
    errbuf_t err = {{0}};
    size_t   i;

    self->jobs = b->jobs;
    self->n_jobs = b->n_jobs;
    self->now = b->now;
    archive_log_restart(self->archive);
    for (i = 0; i < self->n_jobs; i++) {
        s_job_t *job = &self->jobs[i];
        if (job->kind != S_JOB_SUBMIT)
            continue;
        if (job->verify_rc != 0)
            s_reject(self, job, job->v.reason, job->v.message);
        else
            job->needs_commit = 1; /* replay checks and append: s_write */
    }
    s_write(self, b->need_txn);
    for (i = 0; i < self->n_jobs; i++) {
        s_job_t *job = &self->jobs[i];
        if (job->kind == S_JOB_SUBMIT && job->receipt != NULL
            && job->status == CSBM__WIRE_STATUS__WIRE_OK)
            s_attach_inclusion(self, job);
        else if (job->kind == S_JOB_PULL
                 && job->status == CSBM__WIRE_STATUS__WIRE_OK)
            s_attach_pull_proofs(self, job);
        else if (job->kind == S_JOB_LOG && job->status == 0)
            s_log_reply(self, job);
    }
    /* Whatever this batch answers rests on what was committed so far, its
     * own writes or not (a log request shows the newest head): it waits
     * for a flush of all of it. With nothing verified waiting for this
     * thread, it flushes itself, without the hand-off (a failure is kept
     * and found by s_complete). */
    if (b->need_txn
        && (self->inflight != NULL
            || syncer_flush_here(self->syncer, &err) == 1))
        b->flush = syncer_request(self->syncer);
    else
        b->flush = syncer_last(self->syncer);
    self->jobs = NULL;
    self->n_jobs = 0;
}

/* Step 5 for the batch being flushed: once its flush is done, the
 * answers, the notifications and its log line. If the flush failed,
 * nothing it wrote is known to be on disk: what needed the commit is
 * answered WIRE_RETRY and the hub stops. */
static void
s_complete(hub_t *self)
{
    s_batch_t *b = self->flushing;
    s_tally_t  t;
    errbuf_t   err = {{0}};
    size_t     i;

    if (b == NULL)
        return;
    memset(&t, 0, sizeof t);
    self->jobs = b->jobs;
    self->n_jobs = b->n_jobs;
    self->now = b->now;
    if (syncer_wait(self->syncer, b->flush, &err) != 0) {
        if (!self->failed)
            log_error("%s; the hub stops: check the disk, then restart it "
                "(members resend what was not receipted)", err.msg);
        self->failed = 1;
        for (i = 0; i < self->n_jobs; i++)
            if (self->jobs[i].needs_commit
                || self->jobs[i].status == CSBM__WIRE_STATUS__WIRE_OK) {
                self->jobs[i].appended = 0;
                s_job_retry(&self->jobs[i], "storage failure");
            }
    }
    for (i = 0; i < self->n_jobs; i++) {
        s_job_t *job = &self->jobs[i];
        s_send(self, job);
        if (job->appended && job->status == CSBM__WIRE_STATUS__WIRE_OK)
            s_notify(self, job);
        s_log_job(job, &t);
    }
    s_log_batch(self, &t);
    for (i = 0; i < self->n_jobs; i++)
        s_job_clear(&self->jobs[i]);
    b->n_jobs = 0;
    b->busy = 0;
    self->flushing = NULL;
    self->jobs = NULL;
    self->n_jobs = 0;
}

/* The batch whose verdicts are in: committed now, answered after the
 * flush, once the batch flushing before it is answered. */
static void
s_finish(hub_t *self, s_batch_t *b)
{
    s_commit_batch(self, b);
    s_complete(self);
    self->flushing = b;
}

/* ------------------------------------------------------------- life --- */

static int  s_verifiers_start(hub_t *self, errbuf_t *err);
static void s_verifiers_stop(hub_t *self);

/* One hub per archive: an exclusive flock on "<path>.lock", which holds
 * the pid of the hub that has it. (Not SQLite's exclusive locking mode:
 * the audit commands read the archive while the hub runs.) */
static int
s_lock(hub_t *self, const char *path, errbuf_t *err)
{
    char lock[sizeof self->data_path + 8], pid[32];
    int  n;

    snprintf(lock, sizeof lock, "%s.lock", path);
    self->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
        0600);
    if (self->lock_fd < 0) {
        errbuf_set(err, "cannot open %s: %s", lock, strerror(errno));
        return -1;
    }
    if (flock(self->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        n = (int)pread(self->lock_fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (e == EWOULDBLOCK)
            errbuf_set(err, "%s is in use by another hub (pid %s); stop it, "
                "or give this hub its own --data", path,
                pid[0] ? pid : "unknown");
        else
            errbuf_set(err, "cannot lock %s: %s", lock, strerror(e));
        close(self->lock_fd);
        self->lock_fd = -1;
        return -1;
    }
    n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(self->lock_fd, 0) != 0
        || pwrite(self->lock_fd, pid, (size_t)n, 0) != n)
        log_warn("cannot write the pid into %s: %s", lock, strerror(errno));
    return 0;
}

hub_t *
hub_new(const hub_options_t *o, errbuf_t *err)
{
    hub_t *self = calloc(1, sizeof *self);
    int    i;

    if (self == NULL) {
        errbuf_set(err, "out of memory");
        return NULL;
    }
    self->lock_fd = -1;
    if (o->sign_key == NULL || keys_secret_kind(o->sign_key) != KEYS_SIGN
        || o->transport_key == NULL
        || keys_secret_kind(o->transport_key) != KEYS_TRANSPORT) {
        errbuf_set(err, "the hub needs its signing key and its transport "
            "key");
        goto fail;
    }
    if (o->federation == NULL || o->federation[0] == '\0'
        || strlen(o->federation) > ENVELOPE_FEDERATION_MAX) {
        errbuf_set(err, "federation name must be 1..%d characters",
            ENVELOPE_FEDERATION_MAX);
        goto fail;
    }
    if (o->data_path == NULL || strlen(o->data_path) >= sizeof self->data_path) {
        errbuf_set(err, "the archive path is missing or too long");
        goto fail;
    }
    if (o->bind == NULL || strlen(o->bind) >= sizeof self->bind
        || (o->notify != NULL && strlen(o->notify) >= sizeof self->notify)) {
        errbuf_set(err, "an endpoint is missing or too long");
        goto fail;
    }
    snprintf(self->federation, sizeof self->federation, "%s", o->federation);
    snprintf(self->bind, sizeof self->bind, "%s", o->bind);
    snprintf(self->data_path, sizeof self->data_path, "%s", o->data_path);
    if (o->notify != NULL)
        snprintf(self->notify, sizeof self->notify, "%s", o->notify);
    self->sign_key = o->sign_key;
    self->keyring = o->keyring;
    for (i = 0; i < S_BATCHES; i++)
        if ((self->batches[i].jobs = calloc(HUB_BATCH_MAX, sizeof(s_job_t)))
            == NULL)
            break;
    self->zap_events = calloc(S_ZAP_EVENTS_MAX, sizeof *self->zap_events);
    if (i < S_BATCHES || self->zap_events == NULL) {
        errbuf_set(err, "out of memory");
        goto fail;
    }
    self->pull_bytes = (size_t)(o->max_unread_mib > 0 ? o->max_unread_mib
                                                      : HUB_MAX_UNREAD_MIB)
                       << 20;
    self->max_age_s = (int64_t)(o->max_age_days > 0 ? o->max_age_days
                                                    : HUB_MAX_AGE_DAYS)
                      * 86400;
    if (s_lock(self, o->data_path, err) != 0)
        goto fail;
    if ((self->archive = archive_open_flags(o->data_path, o->federation,
             o->archive_flags | ARCHIVE_OPEN_DEFERRED_SYNC, err)) == NULL
        || (self->syncer = syncer_new(self->archive, err)) == NULL)
        goto fail;
    archive_set_log_key(self->archive, o->sign_key);
    self->quorum = o->witness_quorum > 0 ? (uint32_t)o->witness_quorum
                                         : HUB_WITNESS_QUORUM;
    s_head_refresh(self);
    if ((self->zctx = zmq_ctx_new()) == NULL) {
        errbuf_set(err, "cannot create a ZeroMQ context: %s",
            zmq_strerror(zmq_errno()));
        goto fail;
    }
    /* The ZAP handler first: a CURVE socket bound without one would let
     * any key in. */
    if ((self->zap = zap_new(self->zctx, self->keyring, err)) == NULL)
        goto fail;
    if ((self->router = wire_hub_socket(self->zctx, o->bind,
             keys_secret_bytes(o->transport_key), err)) == NULL)
        goto fail;
    if (o->notify != NULL
        && (self->pub = wire_notify_socket(self->zctx, o->notify,
                keys_secret_bytes(o->transport_key), err)) == NULL)
        goto fail;
    if (s_verifiers_start(self, err) != 0)
        goto fail;
    return self;
fail:
    hub_destroy(&self);
    return NULL;
}

/* Start the verifier threads, each with its PAIR pipe. They block every
 * signal: SIGINT and SIGTERM belong to the I/O thread's loop. */
static int
s_verifiers_start(hub_t *self, errbuf_t *err)
{
    sigset_t all, old;
    int      i, rc = 0;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (i = 0; i < HUB_VERIFY_THREADS && rc == 0; i++) {
        char  ep[96];
        void *mine = zmq_socket(self->zctx, ZMQ_PAIR);
        void *theirs = zmq_socket(self->zctx, ZMQ_PAIR);
        int   zero = 0;

        snprintf(ep, sizeof ep, "inproc://csbm-hub-verify-%p-%d",
            (void *)self, i);
        if (mine == NULL || theirs == NULL
            || zmq_setsockopt(mine, ZMQ_LINGER, &zero, sizeof zero) != 0
            || zmq_setsockopt(theirs, ZMQ_LINGER, &zero, sizeof zero) != 0
            || zmq_bind(mine, ep) != 0 || zmq_connect(theirs, ep) != 0) {
            errbuf_set(err, "cannot make a verifier pipe: %s",
                zmq_strerror(zmq_errno()));
            rc = -1;
        } else if ((errno = pthread_create(&self->vthread[i], NULL,
                        s_verifier, theirs)) != 0) {
            errbuf_set(err, "cannot start a verifier thread: %s",
                strerror(errno));
            rc = -1;
        } else {
            /* The thread owns theirs from here on. */
            self->vpipe[self->n_verifiers++] = mine;
            continue;
        }
        if (mine != NULL)
            zmq_close(mine);
        if (theirs != NULL)
            zmq_close(theirs);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static void
s_verifiers_stop(hub_t *self)
{
    s_chunk_t *none = NULL;
    int        i;

    for (i = 0; i < self->n_verifiers; i++)
        while (zmq_send(self->vpipe[i], &none, sizeof none, 0) < 0
               && zmq_errno() == EINTR)
            ;
    for (i = 0; i < self->n_verifiers; i++) {
        pthread_join(self->vthread[i], NULL);
        zmq_close(self->vpipe[i]);
    }
    self->n_verifiers = 0;
    if (self->inflight != NULL)
        self->inflight->pending = 0;
}

void
hub_destroy(hub_t **self_p)
{
    hub_t *self;
    size_t i;
    int    b;

    if (self_p == NULL || (self = *self_p) == NULL)
        return;
    /* A verifier finishes the chunk it holds before it reads the stop. */
    s_verifiers_stop(self);
    for (b = 0; b < S_BATCHES; b++)
        for (i = 0; self->batches[b].jobs != NULL
                    && i < self->batches[b].n_jobs; i++)
            s_job_clear(&self->batches[b].jobs[i]);
    syncer_destroy(&self->syncer); /* before the archive it flushes */
    if (self->router != NULL)
        zmq_close(self->router);
    if (self->pub != NULL)
        zmq_close(self->pub);
    zap_destroy(&self->zap);
    if (self->zctx != NULL)
        zmq_ctx_term(self->zctx);
    archive_destroy(&self->archive);
    if (self->lock_fd >= 0)
        close(self->lock_fd);
    if (self->head != NULL)
        csbm__signed__free_unpacked(self->head, NULL);
    if (self->head_prev != NULL)
        csbm__signed__free_unpacked(self->head_prev, NULL);
    for (b = 0; b < S_BATCHES; b++)
        free(self->batches[b].jobs);
    free(self->zap_events);
    free(self);
    *self_p = NULL;
}

int
hub_run(hub_t *self, volatile sig_atomic_t *stop, errbuf_t *err)
{
    s_batch_t *done;

    log_info("hub for %s listening on %s, notifications on %s; archive %s "
        "holds %llu package%s", self->federation, self->bind,
        self->notify[0] ? self->notify : "(none)", self->data_path,
        (unsigned long long)archive_count(self->archive),
        archive_count(self->archive) == 1 ? "" : "s");
    for (;;) {
        int stopping = *stop != 0 || self->failed;

        if (self->inflight == NULL) {
            zmq_pollitem_t items[3] = {{self->router, 0, ZMQ_POLLIN, 0},
                {zap_events(self->zap), 0, ZMQ_POLLIN, 0},
                {self->pub, 0, ZMQ_POLLIN, 0}};
            int rc;

            if (self->flushing != NULL) {
                s_complete(self); /* nothing else to do meanwhile */
                continue;
            }
            if (stopping)
                break;
            if ((rc = zmq_poll(items, self->pub != NULL ? 3 : 2,
                     HUB_POLL_MS)) < 0) {
                if (zmq_errno() == EINTR)
                    continue;
                errbuf_set(err, "poll failed: %s", zmq_strerror(zmq_errno()));
                return -1;
            }
            if (rc > 0)
                s_start(self, 0);
            continue;
        }
        /* The batch in hand is finished even when stopping. */
        if (s_await(self, err) != 0)
            return -1;
        done = self->inflight;
        self->inflight = NULL;
        if (!stopping)
            s_start(self, 1); /* verified while done is written */
        s_finish(self, done);
    }
    /* What the ZAP thread reported last still goes to the audit trail. */
    if (!self->failed)
        s_start(self, 0);
    if (self->inflight != NULL) {
        if (s_await(self, err) != 0)
            return -1;
        done = self->inflight;
        self->inflight = NULL;
        s_finish(self, done);
    }
    s_complete(self);
    if (self->n_zap_events > 0)
        log_warn("%zu handshake events not recorded", self->n_zap_events);
    if (self->failed) {
        errbuf_set(err, "the archive %s could not be flushed to disk (see "
            "above); nothing was receipted that is not on disk",
            self->data_path);
        return -1;
    }
    log_info("hub stopped; archive holds %llu package%s",
        (unsigned long long)archive_count(self->archive),
        archive_count(self->archive) == 1 ? "" : "s");
    return 0;
}
