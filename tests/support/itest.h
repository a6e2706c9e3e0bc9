/*
 * itest: what the integration tests share — temporary directories, free
 * loopback ports, spawning the real programs with their output in files,
 * waiting for them with a time limit, and test identities and keyrings.
 *
 * Every process spawned here is remembered; itest_kill_all (also run at
 * exit, and the child dies with its parent through PR_SET_PDEATHSIG) makes
 * sure none outlives the test, even after a failed assertion.
 *
 * Functions return 0 (or what they name) on success and -1 after printing
 * why to stderr, so a test can assert on them; none of them aborts.
 */
#ifndef CSBM_ITEST_H
#define CSBM_ITEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/keyring.h"

#define ITEST_PATH_MAX 4096
#define ITEST_PASSPHRASE "csbm integration test passphrase"

/* A new private (0700) directory "$TMPDIR/csbm-<tag>-XXXXXX" copied into
 * out. */
int itest_tmpdir(const char *tag, char *out, size_t cap);

/* Remove a directory tree (what itest_tmpdir made). Keeps it when the
 * environment has CSBM_KEEP_TMP set, for post-mortems. */
void itest_rmtree(const char *path);

/* A TCP port on 127.0.0.1 free right now (the OS picks it), or -1. Another
 * process may take it before the caller binds: retry on EADDRINUSE. */
int itest_free_port(void);

/* "tcp://127.0.0.1:<port>" into out. */
void itest_endpoint(int port, char *out, size_t cap);

/* Is something accepting TCP connections on 127.0.0.1:port? */
int itest_port_open(int port);

/* The csbm program: $CSBM_BINARY_DIR/csbm (else ./csbm). Static buffer. */
const char *itest_csbm(void);

/* Spawn argv[0] with argv (NULL-terminated), stdin from /dev/null,
 * stdout and stderr appended to the given files (NULL: /dev/null), and
 * the environment plus env's "NAME=VALUE" entries (env may be NULL).
 * Returns the pid, or -1. */
pid_t itest_spawn(const char *const argv[], const char *const env[],
    const char *out_path, const char *err_path);

/* Wait up to timeout_ms for pid to exit. Returns its exit code (128+N if
 * killed by signal N), or -1 if it is still running. */
int itest_wait(pid_t pid, int timeout_ms);

/* Send sig and wait up to timeout_ms; if it is still running, SIGKILL it.
 * Returns the exit code as itest_wait does (137 if it had to be killed). */
int itest_stop(pid_t pid, int sig, int timeout_ms);

/* Is pid (one of ours) still running? */
int itest_alive(pid_t pid);

/* SIGKILL and reap every spawned process still running. */
void itest_kill_all(void);

/* Run a program to completion (at most timeout_ms) with its output in the
 * given files. Returns its exit code, or -1 (killed after the timeout). */
int itest_run(const char *const argv[], const char *const env[],
    const char *out_path, const char *err_path, int timeout_ms);

/* Wait until 127.0.0.1:port accepts connections, or pid exits, or
 * timeout_ms passes. 0 when open, -1 otherwise. */
int itest_wait_port(int port, pid_t pid, int timeout_ms);

/* Spawn a daemon (as itest_spawn) and wait up to timeout_ms until it
 * accepts connections on every port of ports[0..n). A restart on fixed
 * ports can lose a race: while a port is free, any outgoing connection on
 * the machine may take it as its ephemeral source port. So when the
 * daemon's new log lines say "cannot listen", it is started again, up to
 * 40 times 250 ms apart. Returns the pid, or -1 after printing the new
 * part of the log to stderr. */
pid_t itest_start_listener(const char *const argv[], const char *const env[],
    const char *out_path, const char *err_path, const int *ports, size_t n,
    int timeout_ms);

/* Whole file, NUL-terminated; caller frees. NULL if unreadable. */
char *itest_read_file(const char *path, size_t *len);

/* Does the file contain needle? Waits up to timeout_ms for it to appear
 * (0: look once). */
int itest_file_contains(const char *path, const char *needle, int timeout_ms);

/* Write text to path with mode. */
int itest_write_file(const char *path, const char *text, mode_t mode);

/* Create identity `owner` in dir with keys_generate and ITEST_PASSPHRASE
 * (slow: Argon2id; do it once per test group). */
int itest_identity(const char *dir, const char *owner);

/* A member made of raw keys, without key files: for the many identities a
 * test needs and the hub never loads secrets of. */
typedef struct {
    char    owner[16];
    uint8_t sign_pk[32], sign_sk[64];
    uint8_t box_pk[32], box_sk[32];
    uint8_t transport_pk[32], transport_sk[32];
} itest_member_t;

/* Fresh random keys for owner. */
int itest_member(itest_member_t *m, const char *owner);

/* Write <dir>/<owner>.pub for a raw member (dir must exist). */
int itest_member_pub(const itest_member_t *m, const char *dir);

/* Add a raw member's binding to an in-memory keyring: valid in
 * [valid_from, valid_until), membership status (a keyring_status_t) since
 * status_since. */
int itest_keyring_bind(keyring_t *kr, const itest_member_t *m,
    int64_t valid_from, int64_t valid_until, int status,
    int64_t status_since);

/* Copy <from_dir>/<owner>.pub into keyring_dir (created 0755 if missing). */
int itest_keyring_add(const char *keyring_dir, const char *from_dir,
    const char *owner);

#endif
