/*
 * keyring: who is who — the public keys of the hub and the member states,
 * with the time each key may speak for its owner.
 *
 * A keyring is filled either from a directory of <id>.pub files (offline
 * use: every key valid at all times) or, through config/registry, from the
 * operator's signed member registry, which adds member status, validity
 * periods, rotation and revocation. Signature checks ask the keyring for
 * the sender's key *as of the package's creation time*; sealing asks for
 * each recipient's current key.
 *
 * Membership status: the registry records an owner's current status and
 * since when. A suspended or withdrawn owner counts as an active member
 * before status_since (what it signed then stays valid) and not from then
 * on. An active owner is active at every time; the validity periods of its
 * keys bound what it can sign.
 *
 * Times are Unix seconds; messages show them as RFC 3339 UTC
 * ("2026-03-01T00:00:00Z") and key ids as 32 hex digits.
 */
#ifndef CSBM_KEYRING_H
#define CSBM_KEYRING_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "proto/errbuf.h"

#define KEYRING_MAX_KEYS 4096
#define KEYRING_FOREVER  INT64_MAX

typedef struct keyring keyring_t;

typedef enum {
    KEYRING_ACTIVE = 0,
    KEYRING_SUSPENDED = 1,
    KEYRING_WITHDRAWN = 2,
} keyring_status_t;

/* One key binding of an owner. The owner is pub.owner. */
typedef struct {
    keys_public_t    pub;
    int64_t          valid_from;  /* Unix seconds; 0 = from the beginning */
    int64_t          valid_until; /* retired or revoked at; KEYRING_FOREVER */
    int              revoked;     /* valid_until is a revocation time */
    char             reason[128]; /* revocation or retirement reason */
    keyring_status_t status;      /* the owner's membership status */
    int64_t          status_since;/* when that status began (0 = always) */
} keyring_key_t;

/* New empty keyring. Caller owns it (keyring_destroy); NULL if out of
 * memory. */
keyring_t *keyring_new(void);
void       keyring_destroy(keyring_t **self_p);

/* Add a key binding (copied). Checks the public keys (keys_public_check),
 * 0 <= valid_from < valid_until, a revocation time that is not
 * KEYRING_FOREVER, a NUL-terminated reason, a known status with
 * status_since >= 0. Refuses more than KEYRING_MAX_KEYS bindings, a second
 * binding with the same sign key id, a box key already bound to another
 * owner, and a status that differs from the owner's other bindings (the
 * status belongs to the owner, not to one key). */
int keyring_add(keyring_t *self, const keyring_key_t *key, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Add every <id>.pub file in dir (in name order), valid at all times,
 * status active. Each file's owner must equal its name stem. Refuses a
 * directory or file writable by other users (run: chmod o-w), entries
 * that are not regular files, more than KEYRING_MAX_KEYS files and a
 * directory with no .pub file at all. On failure the keyring may hold
 * some of the keys; destroy it. */
int keyring_load_dir(keyring_t *self, const char *dir, errbuf_t *err)
    __attribute__((warn_unused_result));

/* The key that signed a package: owner's binding with this sign key id,
 * checked at time `at`: the key exists, it was valid (not before
 * valid_from, not at or after valid_until — the message names the key and
 * the retirement or revocation time and reason), and the owner was an
 * active member then. Returns 0 and *out (valid as long as the keyring),
 * or -1 with err saying which check failed. */
int keyring_signer(const keyring_t *self, const char *owner,
    const uint8_t key_id[KEYS_ID_BYTES], int64_t at, const keyring_key_t **out,
    errbuf_t *err) __attribute__((warn_unused_result));

/* The owner's key to seal to at time `at`: of its bindings valid at `at`,
 * the one with the latest valid_from (the newest after a rotation; on a
 * tie the one added last), provided the owner is an active member at
 * `at`. NULL with err naming the reason. */
const keyring_key_t *keyring_recipient(const keyring_t *self,
    const char *owner, int64_t at, errbuf_t *err);

/* The distinct owners, in sorted order; index 0..keyring_owner_count-1. */
size_t      keyring_owner_count(const keyring_t *self);
const char *keyring_owner_at(const keyring_t *self, size_t i);

/* Every binding, in insertion order. Pointers stay valid as long as the
 * keyring. */
size_t               keyring_key_count(const keyring_t *self);
const keyring_key_t *keyring_key_at(const keyring_t *self, size_t i);

#endif
