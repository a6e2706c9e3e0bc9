/*
 * ihub: the real `csbm hub` for the integration tests that talk to it as
 * its members — a temporary directory with the hub's identity, a keyring
 * of the members the hub knows, a SQLite archive, free loopback ports, the
 * hub started on them, and authenticated DEALER sockets for members.
 *
 * Layout: <root>/hub/ (the hub's identity), <root>/keyring/, <root>/hub.db,
 * <root>/hub.log (its stderr), <root>/hub.out (its stdout).
 */
#ifndef CSBM_IHUB_H
#define CSBM_IHUB_H

#include <stddef.h>
#include <sys/types.h>

#include "crypto/keys.h"
#include "tests/support/itest.h"

#define IHUB_START_MS 120000 /* ms; its start costs Argon2id, under ASan */

/* A member to create: raw keys into *member; known ones get their .pub in
 * the hub's keyring, unknown ones the hub has never heard of. */
typedef struct {
    itest_member_t *member;
    const char     *owner;
    int             known;
} ihub_member_t;

/* One running hub and where its files are. */
typedef struct {
    char          root[ITEST_PATH_MAX];
    char          keys[ITEST_PATH_MAX + 16];    /* the hub's identity */
    char          keyring[ITEST_PATH_MAX + 16];
    char          db[ITEST_PATH_MAX + 16];      /* --data */
    char          log[ITEST_PATH_MAX + 16];
    char          out[ITEST_PATH_MAX + 16];
    char          ep[64];                       /* --bind */
    char          notify_ep[64];                /* --notify; "" if none */
    pid_t         pid;                          /* -1 until started */
    void         *zctx;
    keys_public_t pub;                          /* the hub's public keys */
} ihub_t;

/* Initialise libsodium, make a temporary directory "csbm-<tag>-XXXXXX",
 * the hub's identity, members[0..n) and the keyring, a ZeroMQ context,
 * and start `csbm hub` for federation on a free port (and a second one
 * for --notify when notify is set), with extra (NULL-terminated, may be
 * NULL) after --federation; wait until it listens on every port. A lost
 * port race is retried. Returns 0, or -1 after printing why (and the
 * hub's log if it failed to start) to stderr. */
int ihub_start(ihub_t *h, const char *tag, const char *federation,
    const ihub_member_t *members, size_t n, int notify,
    const char *const extra[]);

/* A DEALER connected to the hub's endpoint with m's transport keys,
 * authenticating the hub by its key. Fails the running test (cmocka)
 * with the reason if the socket cannot be made. */
void *ihub_dealer(ihub_t *h, const itest_member_t *m);

/* Kill every spawned process, end the ZeroMQ context, print the hub's
 * log to stderr if the environment has CSBM_SHOW_HUB_LOG, and remove the
 * temporary directory. Safe after a failed ihub_start. Cannot fail. */
void ihub_cleanup(ihub_t *h);

#endif
