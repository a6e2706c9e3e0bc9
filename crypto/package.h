/*
 * package: binds a CSBM package (proto/package.proto) to its envelope.
 *
 * Sealing validates the package's domain rules, resolves each recipient's
 * current encryption key in the keyring, copies the metadata the hub and
 * the auditor need (type, year, nil report, references, the date a deadline
 * runs from) into the signed header and seals the serialized package.
 *
 * Opening checks the sender's key in the keyring as of the package's
 * creation time, verifies the signature and the body, decrypts as one of
 * the recipients and then checks that the inner package agrees with the
 * signed header: same state as the signer, same type, year, nil flag and
 * references. That last step is what makes re-sealing someone else's
 * plaintext under another name detectable.
 */
#ifndef CSBM_PACKAGE_H
#define CSBM_PACKAGE_H

#include <stddef.h>
#include <stdint.h>

#include "config/keyring.h"
#include "crypto/envelope.h"
#include "crypto/keys.h"
#include "proto/errbuf.h"
#include "proto/package.pb-c.h"

#define PACKAGE_MAX_PLAINTEXT (48u * 1024 * 1024)
#define PACKAGE_TO_ALL        "all"

typedef struct {
    const char          *federation;
    const keys_secret_t *sign_key;   /* the sender's KEYS_SIGN key */
    const keyring_t     *keyring;    /* recipients' public keys */
    const char *const   *to;         /* recipient ids; "all" = every active state */
    size_t               n_to;
    uint64_t             sequence;   /* sender's next sequence number */
    int64_t              now;        /* Unix seconds */
} package_seal_opts_t;

/* Validate and seal pkg. On a validation failure err lists the problems
 * ("$.path: rule; ..."). A package that recipients could not unpack within
 * package_open's memory budget is refused too. Caller owns *out (free()). */
int package_seal(const Csbm__Package *pkg, const package_seal_opts_t *opts,
    uint8_t **out, size_t *out_len, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Check env's sender against the keyring as of its creation time, the
 * federation, the signature and the body hash. On success *signer (if not
 * NULL) points into the keyring. */
int package_verify(const envelope_t *env, const keyring_t *keyring,
    const char *federation, const keyring_key_t **signer, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Decrypt a verified envelope with a KEYS_BOX key and check the inner
 * package against the header. The plaintext is unpacked within a memory
 * budget (a few times its size), and a package with fields this version
 * does not know, at any depth, is refused. Caller owns *out and must free
 * it with package_free (never protobuf_c_message_free_unpacked: the
 * package lives in package_open's own allocator). */
int package_open(const envelope_t *env, const keys_secret_t *box_key,
    Csbm__Package **out, errbuf_t *err) __attribute__((warn_unused_result));

/* Free a package from package_open, wiping all of its memory, and set
 * *pkg_p to NULL. Accepts NULL and *pkg_p == NULL. */
void package_free(Csbm__Package **pkg_p);

/* Name of a package type ("MILEX_REPORT"), or "UNKNOWN". */
const char *package_type_name(int type);

#endif
