/*
 * member: a member state's node — push packages to the hub, sync the
 * outbox, pull what is addressed to it, and the `csbm node` daemon that
 * does all of it unattended.
 *
 * Everything goes through the mailbox (node/mailbox.h): a package is
 * stored in the outbox before the first byte goes out, and it leaves the
 * pending state only with the hub's signed receipt or signed rejection,
 * checked against the hub's key in the keyring. Pulled packages are
 * checked again here (sender's signature as of creation, this node among
 * the recipients, the hub's receipt for that position) before they enter
 * the inbox: the hub is trusted to archive, not to vouch.
 *
 * Library code: 0 / -1 with err; nothing prints except through the
 * callbacks and node/log.h in the daemon loop.
 */
#ifndef CSBM_MEMBER_H
#define CSBM_MEMBER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "config/keyring.h"
#include "crypto/keys.h"
#include "node/mailbox.h"
#include "proto/errbuf.h"
#include "proto/package.pb-c.h"
#include "proto/wire.pb-c.h"

#define MEMBER_DEFAULT_DATA        "csbm-node.db"
#define MEMBER_DEFAULT_TIMEOUT_MS  10000
#define MEMBER_DEFAULT_PAGE        100
#define MEMBER_DEFAULT_POLL_MS     1000
#define MEMBER_DEFAULT_PULL_EVERY  60
#define MEMBER_HUB_OWNER           "hub"

/* How this node reaches its hub and paces itself. A configuration file
 * will fill the same struct. */
typedef struct {
    const char *data_path;      /* --data, $CSBM_DATA, ./csbm-node.db */
    const char *hub;            /* --hub tcp://HOST:PORT, $CSBM_HUB */
    const char *hub_notify;     /* --hub-notify tcp://HOST:PORT,
                                   $CSBM_HUB_NOTIFY */
    int         timeout_ms;     /* one request to the hub */
    uint32_t    page_size;      /* items asked per pull page */
    int         poll_ms;        /* daemon: how often the outbox is looked at */
    int         pull_every_s;   /* daemon: pull even without notification */
} member_config_t;

/* Defaults, then the environment variables named above. */
void member_config_init(member_config_t *cfg);

typedef struct member member_t;

/* A node acting as owner in federation. Takes ownership of *keyring and,
 * if transport is not NULL, of *transport (the owner's KEYS_TRANSPORT
 * key), nulling the caller's pointers even on failure. Without a transport
 * key the node works offline only (queue, list, open). The store at
 * cfg->data_path is opened (created if needed) and claimed for owner.
 * Caller owns the result (member_destroy). */
member_t *member_new(const member_config_t *cfg, const char *owner,
    const char *federation, keyring_t **keyring, keys_secret_t **transport,
    errbuf_t *err) __attribute__((warn_unused_result));

void member_destroy(member_t **self_p);

mailbox_t *member_mailbox(member_t *self);

/* What became of one outbox package. */
typedef enum {
    MEMBER_QUEUED = 0,    /* stored and still pending (not sent, or no
                             valid answer: see message) */
    MEMBER_DELIVERED = 1, /* the hub's receipt is verified and stored */
    MEMBER_REJECTED = 2,  /* the hub's signed rejection is verified and
                             stored */
} member_outcome_t;

typedef struct {
    member_outcome_t outcome;
    uint8_t          package_id[ENVELOPE_ID_BYTES];
    uint64_t         sequence;
    int              package_type;
    uint64_t         position;    /* DELIVERED */
    int64_t          accepted_at; /* DELIVERED */
    int              duplicate;   /* DELIVERED: it was already archived */
    int              unanswered;  /* QUEUED: no answer from the hub at all */
    int              reason;      /* REJECTED: csbm.ReasonCode */
    char             message[MAILBOX_ERROR_MAX]; /* REJECTED: the hub's
                                   message; QUEUED: why it is not delivered */
} member_delivery_t;

/* Is ep a hub endpoint this node can use: tcp://HOST:PORT (port 1 to
 * 65535) or ipc://PATH? 0, or -1 with err naming the expected form. */
int member_endpoint_check(const char *ep, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Seal pkg to the recipients with the owner's signing key, store it in the
 * outbox (sequence number allocated in the same transaction) and, if send
 * is set, deliver it as member_sync would: the older pending packages
 * first, in sequence order, then this one; if an older one stays pending,
 * this one waits behind it (out->message names it). A malformed hub
 * endpoint is refused first, with nothing queued. Returns 0 once the
 * package is stored,
 * whatever became of the delivery (see out->outcome); -1 with err if it
 * could not be sealed or stored (nothing is queued then: out->sequence is
 * 0) or if the store failed after it was queued (out->sequence is set). */
int member_push(member_t *self, const Csbm__Package *pkg,
    const char *const *to, size_t n_to, const keys_secret_t *sign_key,
    int send, member_delivery_t *out, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Deliver one stored outbox package now. 0 with *out, or -1 on a local
 * error (store). */
int member_deliver(member_t *self, const uint8_t id[ENVELOPE_ID_BYTES],
    member_delivery_t *out, errbuf_t *err) __attribute__((warn_unused_result));

typedef struct {
    size_t  delivered;  /* including duplicates */
    size_t  duplicates; /* the hub had them already */
    size_t  rejected;
    int64_t pending;    /* still pending afterwards */
    int     stalled;    /* a package stayed pending: the walk stopped */
    int     unanswered; /* ... because the hub did not answer at all */
    char    last_error[MAILBOX_ERROR_MAX]; /* why the walk stopped, if so */
} member_sync_report_t;

typedef void (*member_delivery_fn)(const member_delivery_t *d, void *ctx);

/* Deliver pending outbox packages in sequence order. With respect_backoff
 * set, stop at the first one whose next attempt is not due yet (the
 * daemon); otherwise try them all now (an explicit sync). Stops at the
 * first package that stays pending, so packages reach the hub in sequence
 * order. on_delivery (may be NULL) is called for each attempt. Returns 0
 * (see rep for what happened) or -1 on a local error. */
int member_sync(member_t *self, int respect_backoff,
    member_delivery_fn on_delivery, void *ctx, member_sync_report_t *rep,
    errbuf_t *err) __attribute__((warn_unused_result));

/* What a check of the hub's log found (member_log_check). */
typedef struct {
    int      checked;      /* the hub's newest head was verified */
    uint64_t old_size;     /* the newest head known before (0: none) */
    uint64_t new_size;
    int      inconsistent; /* evidence was recorded: see the store */
    int      cosigned;     /* this node cosigned the new head */
    uint32_t witnesses;    /* cosignatures of that head at the hub */
    int      witnessed;    /* ... at least the hub's quorum */
    size_t   forks;        /* cosigned heads that contradict ours */
    char     cosign_refused[MAILBOX_ERROR_MAX]; /* why the hub refused this
                                   node's cosignature ("" if it did not) */
} member_log_report_t;

typedef struct {
    size_t   received; /* items the hub sent */
    size_t   added;    /* new inbox entries */
    size_t   refused;  /* items that failed this node's checks */
    uint64_t cursor;   /* pull cursor afterwards */
    int      more;     /* the hub has more than was asked for */
    member_log_report_t log; /* the log check after the pull */
} member_pull_report_t;

/* Called after each page is committed; and for each refused item with its
 * position and reason (refused != NULL). */
typedef void (*member_pull_fn)(const member_pull_report_t *so_far,
    uint64_t position, const char *refused, void *ctx);

/* Pull from the stored cursor, page by page, at most max items (0: all).
 * Each item is checked (envelope parses, sender's signature as of its
 * creation, this node is a recipient, the hub's receipt names this package
 * at this position) and stored; failures go to the refused list. Each page
 * and the cursor are committed together. Returns 0, or -1 with err if the
 * hub did not answer or answered wrongly (what was committed stays). */
int member_pull(member_t *self, size_t max, member_pull_fn progress,
    void *ctx, member_pull_report_t *rep, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Check the hub's log: ask for its newest signed tree head and the
 * consistency proof from the newest head this node verified before, and
 * verify both; remember the new head. If a signing key was given
 * (member_set_witness_key), cosign the verified head and send the
 * cosignature. Then check the cosigned heads the hub serves against our
 * own. A head that is not an extension of the old one, or a cosigned head
 * that contradicts ours, is stored in the mailbox with the old head as
 * evidence, and the call fails with a message naming both heads. Returns
 * 0, or -1 with err. member_pull runs it after every pull. */
int member_log_check(member_t *self, member_log_report_t *rep, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Check one cosigned head against own (a head this node verified); proof
 * is the consistency proof from the smaller to the bigger of the two if
 * the sizes differ. With proof NULL the hub is asked: a proof from each
 * head to its current head, both ending at the same head (see
 * docs/PROTOCOL.md); a check that cannot be made is a failure, never a
 * pass. Only heads signed by the hub and cosigned validly by another
 * member count. 0 if nothing contradicts; -1 with err after recording the
 * evidence, or if the check could not be made. */
int member_check_cosigned(member_t *self, const Csbm__CosignedHead *ch,
    const Csbm__Signed *own, const ProtobufCBinaryData *proof, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Cosign the heads this node verifies with this KEYS_SIGN key (takes it;
 * NULL: stop cosigning). */
void member_set_witness_key(member_t *self, keys_secret_t **sign_key);

/* A delivered package's receipt as a self-contained file (a serialized
 * csbm.ReceiptFile: the receipt and its inclusion proof). 1 with *out
 * (caller frees), 0 if the receipt or its proof is not stored, -1. */
int member_export_receipt(mailbox_t *mb, const uint8_t id[ENVELOPE_ID_BYTES],
    uint8_t **out, size_t *out_len, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Verify and decrypt an inbox package (by id or unique id prefix) with the
 * owner's KEYS_BOX key and mark it opened. *out as package_open; *entry
 * (if not NULL) describes it. Returns 0, 1 if it is not valid or cannot be
 * opened (err says why), -1 on other errors (not found, store). */
int member_inbox_open(member_t *self, const char *id,
    const keys_secret_t *box_key, Csbm__Package **out,
    mailbox_inbox_entry_t *entry, errbuf_t *err)
    __attribute__((warn_unused_result));

/* The daemon: until *stop is set (by a signal handler), deliver due
 * outbox packages, pull when the hub notifies (SUB on cfg->hub_notify,
 * topic "<owner> ") and every pull_every_s seconds, backing off while the
 * hub is unreachable. Logs with node/log.h. Returns 0 on a clean stop, -1
 * with err if it cannot start. */
int member_run(member_t *self, volatile sig_atomic_t *stop, errbuf_t *err)
    __attribute__((warn_unused_result));

/* The verbs (node/cmd_exchange.c). */
int cmd_push(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_outbox(int argc, char **argv);
int cmd_inbox(int argc, char **argv);
int cmd_node(int argc, char **argv);
/* node/cmd_receipt.c */
int cmd_verify_receipt(int argc, char **argv);
/* node/cmd_log.c */
int cmd_log(int argc, char **argv);

#endif
