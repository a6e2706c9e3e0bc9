/*
 * registry: the federation's signed member registry.
 *
 * The operator publishes one file: the list of member states (and the
 * hub) with their status and their key certificates, signed with the root
 * CA key. Nodes verify it against the root certificate they were installed
 * with, refuse to go back to an older version, and turn it into a keyring
 * (config/keyring.h) that answers "which key could ARG sign with on
 * 2026-03-05?". File format and checks: docs/REGISTRY.md.
 *
 * The operator keeps no other state: every change loads the current file
 * (verifying it), changes it, bumps the version, re-signs and replaces the
 * file atomically. The published file is the draft of the next version.
 *
 * Times are Unix seconds; messages show RFC 3339 UTC.
 */
#ifndef CSBM_REGISTRY_H
#define CSBM_REGISTRY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/keyring.h"
#include "crypto/keys.h"
#include "crypto/x509.h"
#include "proto/errbuf.h"

#define REGISTRY_MAGIC          "CSBMREG"
#define REGISTRY_MAGIC_LEN      7
#define REGISTRY_FORMAT_VERSION 1
#define REGISTRY_HEADER_BYTES   12 /* magic, format version, payload length */
#define REGISTRY_SIG_CONTEXT    "CSBM-registry-signature-v1"
#define REGISTRY_MAX_BYTES      (8u * 1024 * 1024) /* whole file */
#define REGISTRY_MAX_MEMBERS    512
#define REGISTRY_MAX_KEYS       32 /* bindings per member */
#define REGISTRY_CERT_MAX       X509_DER_MAX
#define REGISTRY_NAME_MAX       128 /* bytes of a member's display name */
#define REGISTRY_REASON_MAX     127 /* bytes of a retirement or revocation
                                       reason */
#define REGISTRY_STATE_MAX      4096 /* rollback state file */

typedef enum {
    REGISTRY_ACTIVE = 1,
    REGISTRY_SUSPENDED = 2,
    REGISTRY_WITHDRAWN = 3,
} registry_status_t;

/* A verified registry (opaque). */
typedef struct registry registry_t;

/* ------------------------------------------------------------------
 * Node side
 */

/* Verify and decode a registry file held in memory: framing, the root's
 * signature over it, the payload (no unknown field, at most
 * REGISTRY_MAX_MEMBERS members, REGISTRY_MAX_KEYS keys each, certificates
 * of at most REGISTRY_CERT_MAX bytes), the federation (equal to the root's
 * O), and every key certificate: issued by root and valid at the binding's
 * start (the later of valid_from and its notBefore), with the member's
 * state as its CN. No rollback check (see registry_load). Caller owns
 * *out (registry_destroy). */
int registry_parse(const uint8_t *buf, size_t len, X509 *root,
    registry_t **out, errbuf_t *err) __attribute__((warn_unused_result));

/* Read path (at most REGISTRY_MAX_BYTES), verify it against the root
 * certificate at root_path (x509_root_load) as registry_parse does, then,
 * if state_file is not NULL, protect against rollback: the state file
 * records the highest version accepted, its issued_at and the SHA-256 of
 * its file. An older version, the same version with other bytes, a newer
 * version with an earlier issued_at and another federation's registry are
 * refused; a newer one is accepted and recorded (the state file is
 * replaced atomically; a missing one is created). */
int registry_load(const char *path, const char *root_path,
    const char *state_file, registry_t **out, errbuf_t *err)
    __attribute__((warn_unused_result));

void registry_destroy(registry_t **self_p);

const char *registry_federation(const registry_t *self);
uint64_t    registry_version(const registry_t *self);
int64_t     registry_issued_at(const registry_t *self);
size_t      registry_member_count(const registry_t *self); /* without the hub */

/* Add every key binding of the members and the hub to kr (keyring_add):
 *   valid_from  = the later of the binding's valid_from and the
 *                 certificate's notBefore;
 *   valid_until = the earliest of the certificate's notAfter (the
 *                 first second X509_verify_cert finds it expired),
 *                 retired_at and revoked_at (when set); revoked when
 *                 revoked_at is that end; reason accordingly;
 *   status, status_since = the member's.
 * A binding whose period is empty (revoked or retired at or before its
 * start) never could sign and is left out. */
int registry_to_keyring(const registry_t *self, keyring_t *kr, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Audit helper: could state's key key_id sign at time `at`? (keyring_signer
 * on the registry's keyring; the message says why not.) */
int registry_verify_signer(const registry_t *self, const char *state,
    const uint8_t key_id[KEYS_ID_BYTES], int64_t at, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Print the members, their status and keys: a table, or one JSON object
 * (json != 0). Key states (current, retired, revoked, expired, pending)
 * are as of the current time. Returns 0, or -1 if writing fails. */
int registry_list(const registry_t *self, FILE *out, int json);

/* "active", "suspended", "withdrawn" -> status; -1 for anything else. */
int         registry_status_parse(const char *name, registry_status_t *out);
const char *registry_status_name(registry_status_t status);

/* ------------------------------------------------------------------
 * Operator side. Each call verifies the current file at path against the
 * CA's root, applies one change, sets version + 1 and issued_at = now
 * (refused if now is earlier than the current issued_at: a clock that
 * went backwards), checks the result as a node would, re-signs and
 * replaces the file atomically (mode 0644). `now` is the current time
 * (time(NULL)); it is a parameter so that the caller decides it once.
 */

/* Create version 1, with no member, for the CA's federation. An existing
 * file is refused. */
int registry_init(const char *path, const x509_ca_t *ca, int64_t now,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Enroll a member state (or, with state "hub", the hub): check the
 * request at csr_path (x509_request_check, CN = state), issue its
 * certificate valid [not_before, not_after] and add the member, active
 * since now, with that key valid from not_before. name is its display name
 * (NULL: the state code). A state already in the registry is refused. */
int registry_add_member(const char *path, const x509_ca_t *ca,
    const char *state, const char *name, const char *csr_path,
    int64_t not_before, int64_t not_after, int64_t now, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Replace a member's key: issue a certificate for the new request valid
 * [at, not_after], add it valid from `at`, and retire every key of the
 * member not yet retired or revoked at `at` ("replaced by key <id>"). */
int registry_rotate(const char *path, const x509_ca_t *ca, const char *state,
    const char *csr_path, int64_t at, int64_t not_after, int64_t now,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Set a member's status, effective from since. */
int registry_set_status(const char *path, const x509_ca_t *ca,
    const char *state, registry_status_t status, int64_t since, int64_t now,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Revoke state's key key_id_hex (32 hex digits) from `at` on, with a
 * reason (1..REGISTRY_REASON_MAX bytes). A key revoked already is
 * refused. */
int registry_revoke(const char *path, const x509_ca_t *ca, const char *state,
    const char *key_id_hex, int64_t at, const char *reason, int64_t now,
    errbuf_t *err) __attribute__((warn_unused_result));

#endif
