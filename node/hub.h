/*
 * hub: the exchange's hub daemon. Members push sealed packages to it over
 * CurveZMQ; it verifies each one against the keyring, archives it durably
 * and answers with a receipt in its signed log (or a signed rejection),
 * tells the recipients on its notification socket, and serves each member
 * the packages addressed to it. docs/PROTOCOL.md is the specification.
 *
 * Threads: the I/O thread (hub_run) owns the sockets and the archive; the
 * ZAP thread (node/zap.h) decides who may connect; HUB_VERIFY_THREADS
 * verifier threads run hub_verify_submit, a pure function of the request,
 * the keyring and the clock, on the batches the I/O thread hands them
 * over inproc pipes. Only the replay checks and the writes need the
 * archive, and they stay on the I/O thread, in arrival order.
 *
 * Requests are handled in batches: whatever is waiting (up to
 * HUB_BATCH_MAX requests or HUB_BATCH_BYTES) is verified, every accepted
 * package of the batch is written in one transaction with one signed tree
 * head (which signs every receipt of the batch: crypto/receipt.h), and
 * only after that commit is flushed to disk are the answers sent — one
 * flush for many packages. Three batches are in the pipeline at once:
 * batch k+2 is verified while batch k+1 is written and committed and the
 * flush thread (node/syncer.h) flushes batch k, which is answered next.
 */
#ifndef CSBM_HUB_H
#define CSBM_HUB_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "config/keyring.h"
#include "crypto/envelope.h"
#include "crypto/keys.h"
#include "node/log.h"
#include "proto/errbuf.h"

#define HUB_OWNER        "hub"
#define HUB_BATCH_MAX    128   /* bounds the wait under load: see README */
#define HUB_VERIFY_THREADS 2   /* the verifiers (one per core of the target) */
#define HUB_BATCH_BYTES  (256u * 1024 * 1024) /* requests + pull replies */
#define HUB_MAX_SKEW_S   300   /* created_at may be this far ahead */
#define HUB_MAX_AGE_DAYS 30    /* and at most this far behind (default) */
#define HUB_MAX_UNREAD_MIB 96  /* pull replies a member has not read yet,
                                  per 10 s (default; docs/PROTOCOL.md) */
#define HUB_MESSAGE_MAX  512   /* longest reason text sent to a member */
#define HUB_POLL_MS      500   /* how often the loop looks at the stop flag */
#define HUB_WITNESS_QUORUM 2   /* cosignatures that make a head witnessed */

/* The hub's settings as the command line (or, later, a config file) gives
 * them. Strings are borrowed. */
typedef struct {
    const char *key_dir;         /* --keys: hub.sign.key, hub.transport.key */
    const char *keyring_dir;     /* --keyring: the members' .pub files */
    const char *data_path;       /* --data: the archive (SQLite) */
    const char *bind;            /* --bind: requests (ROUTER) */
    const char *notify;          /* --notify: notifications (PUB); NULL none */
    const char *federation;      /* --federation */
    const char *passphrase_file; /* --passphrase-file */
    log_level_t log_level;       /* --log-level */
    int         use_syslog;      /* --syslog */
    int         foreground;      /* --foreground (the hub never forks) */
    int         witness_quorum;  /* --witness-quorum (0: HUB_WITNESS_QUORUM) */
    int         max_age_days;    /* --max-age-days (0: HUB_MAX_AGE_DAYS) */
    int         max_unread_mib;  /* --max-unread-mib (0: HUB_MAX_UNREAD_MIB) */
} hub_config_t;

/* Defaults: federation from $CSBM_FEDERATION or CLI_DEFAULT_FEDERATION,
 * keys from $CSBM_KEYS or "keys", keyring from $CSBM_KEYRING, data
 * "hub.db", log level info. */
void hub_config_defaults(hub_config_t *cfg);

/* What a running hub needs, loaded. Everything is borrowed and must
 * outlive the hub; the keyring is read only while the hub runs. */
typedef struct {
    const char          *federation;
    const char          *bind;
    const char          *notify;      /* NULL: no notifications */
    const char          *data_path;
    const keys_secret_t *sign_key;      /* KEYS_SIGN: receipts */
    const keys_secret_t *transport_key; /* KEYS_TRANSPORT: CURVE server */
    const keyring_t     *keyring;
    int                  witness_quorum; /* 0: HUB_WITNESS_QUORUM */
    unsigned             archive_flags;  /* 0; ARCHIVE_OPEN_BENCH_NO_LOG
                                            from the benchmark only */
    int                  max_age_days;   /* 0: HUB_MAX_AGE_DAYS */
    int                  max_unread_mib; /* 0: HUB_MAX_UNREAD_MIB */
} hub_options_t;

typedef struct hub hub_t;

/* Lock the archive (an exclusive flock on "<data_path>.lock", holding the
 * hub's pid: a second hub on the same archive is refused with "<db> is in
 * use by another hub (pid N)"), open it, start the ZAP handler, bind the
 * sockets. Caller owns the result (hub_destroy). NULL with err naming
 * what failed. */
hub_t *hub_new(const hub_options_t *opts, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Serve until *stop becomes non-zero (a signal handler sets it), then
 * finish the batch in hand: its commit, its replies. Returns 0, or -1 with
 * err after a failure that leaves the hub unable to go on. */
int hub_run(hub_t *self, volatile sig_atomic_t *stop, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Close the sockets (linger 0), stop the ZAP handler, close the archive.
 * NULL-safe; nulls the pointer. */
void hub_destroy(hub_t **self_p);

/* The verdict on one submitted envelope, before the replay checks. */
typedef struct {
    int      accept;  /* 1: may be archived (replay checks pending) */
    int      status;  /* Csbm__WireStatus when refused */
    int      reason;  /* Csbm__ReasonCode when refused */
    char     message[HUB_MESSAGE_MAX];
    int      have_id; /* the envelope parsed far enough for package_id */
    uint8_t  package_id[ENVELOPE_ID_BYTES];
    uint8_t  envelope_hash[32];
    char     sender[ENVELOPE_ID_MAX + 1];
    uint64_t sequence;
    int      package_type;
    uint32_t year;
    int64_t  created_at;
    size_t   n_recipients;
    char     recipients[ENVELOPE_MAX_RECIPIENTS][ENVELOPE_ID_MAX + 1];
} hub_verdict_t;

/* Check a submitted envelope as the hub does, in this order: it parses;
 * it belongs to federation; its sender is the connected member (user);
 * its signature verifies with the sender's key as of its creation time,
 * that key valid and the sender an active member then; every recipient
 * is known to the keyring; it was not created more than HUB_MAX_SKEW_S
 * after now. A key revoked at or before now is refused (KEY_NOT_VALID)
 * whatever created_at says: a stolen key must not sign backdated
 * packages; a retired key still verifies as of created_at. Pure: touches
 * nothing but *out, so it may run on any thread. Returns 0 (out->accept
 * = 1) or -1 with out's status, reason, message. No bound on age: the
 * audit re-verifies archived packages with it at their acceptance time. */
int hub_verify_submit(const keyring_t *keyring, const char *federation,
    const char *user, const uint8_t *env, size_t len, int64_t now,
    hub_verdict_t *out);

/* hub_verify_submit, and also refuse (CLOCK_SKEW) a package created more
 * than max_age_s before now (0: no bound) — what the hub runs. */
int hub_verify_submit_max_age(const keyring_t *keyring,
    const char *federation, const char *user, const uint8_t *env, size_t len,
    int64_t now, int64_t max_age_s, hub_verdict_t *out);

/* May this request be served: is user, connected with transport key tkey,
 * still an active member with that key's binding valid at now? (ZAP
 * checked it at the handshake; a connection may outlive a revocation.)
 * 0, or -1 with the csbm.ReasonCode in *reason and why in msg. Pure. */
int hub_admit_request(const keyring_t *keyring, const char *user,
    const uint8_t tkey[32], int64_t now, int *reason, char *msg, size_t cap);

/* The `csbm hub` verb. */
int cmd_hub(int argc, char **argv);

#endif
