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

/* One key binding of an owner. */
typedef struct {
    keys_public_t    pub;
    int64_t          valid_from;  /* Unix seconds; 0 = from the beginning */
    int64_t          valid_until; /* retired or revoked at; KEYRING_FOREVER */
    int              revoked;     /* valid_until is a revocation time */
    char             reason[128]; /* revocation or retirement reason */
    keyring_status_t status;      /* the owner's membership status */
    int64_t          status_since;/* when that status began (0 = always) */
} keyring_key_t;

/* New empty keyring. Caller owns it (keyring_destroy). */
keyring_t *keyring_new(void);
void       keyring_destroy(keyring_t **self_p);

/* Add a key binding (copied). Refuses more than KEYRING_MAX_KEYS and a
 * second binding with the same sign key id. */
int keyring_add(keyring_t *self, const keyring_key_t *key, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Add every <id>.pub file in dir, valid at all times, status active. */
int keyring_load_dir(keyring_t *self, const char *dir, errbuf_t *err)
    __attribute__((warn_unused_result));

/* The key that signed a package: owner's binding with this sign key id,
 * checked at time `at`: the key exists, it was valid (not before
 * valid_from, not at or after valid_until — the message names the key and
 * the retirement or revocation time and reason), and the owner was an
 * active member then. Returns 0 and *out, or -1 with err saying which check
 * failed. */
int keyring_signer(const keyring_t *self, const char *owner,
    const uint8_t key_id[KEYS_ID_BYTES], int64_t at, const keyring_key_t **out,
    errbuf_t *err) __attribute__((warn_unused_result));

/* The owner's key to seal to at time `at` (the newest valid binding of an
 * active owner), or NULL with err naming the reason. */
const keyring_key_t *keyring_recipient(const keyring_t *self,
    const char *owner, int64_t at, errbuf_t *err);

/* The distinct owners, in sorted order; index 0..keyring_owner_count-1. */
size_t      keyring_owner_count(const keyring_t *self);
const char *keyring_owner_at(const keyring_t *self, size_t i);

/* Every binding, in insertion order. */
size_t               keyring_key_count(const keyring_t *self);
const keyring_key_t *keyring_key_at(const keyring_t *self, size_t i);

#endif
