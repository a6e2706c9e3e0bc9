/*
 * targets: the fuzz entry points of every parser that reads outside input.
 *
 * One function per target, shared by the libFuzzer programs
 * (tests/fuzz/fuzz_<target>.c, built with -DCSBM_FUZZ=ON and clang) and
 * the always-on regression test (tests/test_fuzz_regress.c), so both run
 * exactly the same code. Each entry function takes any bytes, runs the
 * parser (and what a real caller runs next: verify, open, validate, re-
 * encode), and must return normally. A broken invariant (a parser that
 * fails without a message, a message with control characters, a
 * round trip that does not give back what was read) is reported on
 * standard error and aborts, so libFuzzer and the test both see it.
 *
 * Keys, the root certificate and the passphrase are fixed (the envelope and
 * key-file vectors' own, and deterministic seeds), so a committed crash
 * input reproduces on every machine. fuzz_seeds builds the seed inputs of
 * a target from the committed vectors and examples at run time.
 */
#ifndef CSBM_FUZZ_TARGETS_H
#define CSBM_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/errbuf.h"

typedef void (*fuzz_entry_fn)(const uint8_t *data, size_t size);

typedef struct {
    const char   *name; /* "envelope"; seeds and crash inputs by name */
    fuzz_entry_fn entry;
    /* Mutations in place only before this offset (0: anywhere). The key
     * file target sets it so the regression test does not pay 100 ms of
     * Argon2id (or a gigabyte of it) for every flipped ciphertext bit. */
    size_t mutate_below;
} fuzz_target_t;

/* The targets, ending with an entry whose name is NULL. */
extern const fuzz_target_t fuzz_targets[];

/* The target called name, or NULL. */
const fuzz_target_t *fuzz_target_find(const char *name);

void fuzz_envelope(const uint8_t *data, size_t size);
void fuzz_envelope_resigned(const uint8_t *data, size_t size);
void fuzz_json_package(const uint8_t *data, size_t size);
void fuzz_package_pb(const uint8_t *data, size_t size);
void fuzz_keys_public(const uint8_t *data, size_t size);
void fuzz_keys_secret(const uint8_t *data, size_t size);
void fuzz_registry(const uint8_t *data, size_t size);
void fuzz_x509_request(const uint8_t *data, size_t size);
void fuzz_config(const uint8_t *data, size_t size);
void fuzz_merkle(const uint8_t *data, size_t size);

/* Called once per seed; a nonzero return stops fuzz_seeds. */
typedef int (*fuzz_seed_fn)(void *ctx, const char *name, const uint8_t *data,
                            size_t size);

/* Build the seeds of target name from the sources at source_dir (the
 * repository: tests/vectors, examples, config samples) and pass each to fn.
 * Returns the number of seeds, or -1 with err set. */
int fuzz_seeds(const char *name, const char *source_dir, fuzz_seed_fn fn,
               void *ctx, errbuf_t *err);

#endif
