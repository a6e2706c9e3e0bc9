/*
 * csbm_bench_audit: the throughput and memory of `csbm audit verify`
 * (scripts/bench --audit).
 *
 * Builds, once, a hub archive of --entries packages (default 1,000,000)
 * in a temporary directory: small envelopes sealed and signed by a few
 * member identities for one recipient, each with the hub's receipt,
 * appended through node/archive.h in large batches with the hub's key
 * signing a tree head per batch, exactly as the hub stores them. Sealing
 * runs on every core; nothing of the build is timed, and the archive is
 * closed (checkpointed) before each timing.
 *
 * Then it times the real `csbm audit verify` program (a child process:
 * its peak RSS is its own, from wait4) at --small entries (default
 * 100,000) and at --entries, with one verifier thread pinned to one core
 * and with the default threads on every core. Beside them, measured in
 * the same run: Ed25519 verifications/s on one core and on all cores at
 * once, and SHA-256/s of 1 KiB. Each package costs one Ed25519
 * verification (its envelope; receipts are signed through the tree
 * heads, one per batch), so the figure to hold against the raw rate is
 * packages/s.
 * --runs N repeats every timing and reports medians.
 *
 * Exit status: 0 measured, 1 the audit did not find the archive intact,
 * 2 usage or setup.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/envelope.h"
#include "crypto/keys.h"
#include "crypto/receipt.h"
#include "node/archive.h"
#include "node/bench_raw.h"
#include "node/bench_util.h"

#define S_FED "CSBM-BENCH"
#define S_PASSPHRASE "csbm benchmark passphrase"
#define S_RECIPIENT "MEX"
#define S_BODY_BYTES 64
#define S_MEMBERS 4
#define S_CHUNK 20000 /* packages sealed, then appended in one batch */
#define S_MAX_RUNS 99

static const char *const s_codes[S_MEMBERS] = {"ARG", "BOL", "BRA", "CHL"};

typedef struct {
    char    owner[KEYS_OWNER_MAX + 1];
    uint8_t sign_pk[32], sign_sk[64];
    uint8_t box_pk[32], box_sk[32];
    uint8_t transport_pk[32], transport_sk[32];
} s_member_t;

/* One sealed package with its receipt, ready to append. */
typedef struct {
    uint8_t *env;
    size_t   env_len;
    uint8_t *receipt;
    size_t   receipt_len;
    uint8_t  receipt_hash[32]; /* of its statement, for its leaf */
    uint8_t  id[ENVELOPE_ID_BYTES];
    uint8_t  hash[32];
    uint64_t sequence;
    int      member;
} s_item_t;

typedef struct {
    size_t      entries, small;
    int         runs, json, keep;
    double      raw_s;
    const char *csbm;
} s_opts_t;

/* One measurement of csbm audit verify. */
typedef struct {
    double seconds, rate; /* packages per second */
    long   maxrss_kb;
} s_timing_t;

typedef struct {
    s_opts_t       o;
    char           root[PATH_MAX];
    char           keyring[PATH_MAX + 16];
    char           db[PATH_MAX + 16];
    char           csbm[PATH_MAX];
    s_member_t     m[S_MEMBERS];
    uint8_t        rcpt_box_pk[32];
    keys_secret_t *hub_sign;
    archive_t     *archive;
    size_t         filled;
    int64_t        now;
    unsigned       cpus;
} s_bench_t;

static char s_root_to_clean[PATH_MAX];
static int  s_keep_root;

static void s_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
s_rmtree(const char *path)
{
    if (!s_keep_root)
        bench_rmtree(path);
}

static void
s_die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "csbm_bench_audit: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    s_rmtree(s_root_to_clean);
    exit(2);
}

/* ------------------------------------------------------------ setup --- */

static void
s_setup(s_bench_t *b)
{
    const char   *tmp = getenv("TMPDIR");
    errbuf_t      err = {{0}};
    keys_public_t pub;
    char          path[PATH_MAX + 64], hub_dir[PATH_MAX + 16];
    size_t        i;

    snprintf(b->root, sizeof b->root, "%s/csbm-bench-audit-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(b->root) == NULL)
        s_die("cannot create a temporary directory: %s", strerror(errno));
    snprintf(s_root_to_clean, sizeof s_root_to_clean, "%s", b->root);
    s_keep_root = b->o.keep;
    snprintf(b->keyring, sizeof b->keyring, "%s/keyring", b->root);
    snprintf(hub_dir, sizeof hub_dir, "%s/hub", b->root);
    snprintf(b->db, sizeof b->db, "%s/hub.db", b->root);
    if (mkdir(b->keyring, 0755) != 0 || mkdir(hub_dir, 0700) != 0)
        s_die("%s: %s", b->keyring, strerror(errno));
    /* The hub: a real key file (one Argon2id derivation). */
    if (keys_generate(hub_dir, "hub", S_PASSPHRASE, strlen(S_PASSPHRASE),
                      &err) != 0)
        s_die("%s", err.msg);
    snprintf(path, sizeof path, "%s/hub.pub", hub_dir);
    if (keys_public_load(path, &pub, &err) != 0)
        s_die("%s", err.msg);
    snprintf(path, sizeof path, "%s/hub.pub", b->keyring);
    if (keys_public_save(path, &pub, &err) != 0)
        s_die("%s", err.msg);
    snprintf(path, sizeof path, "%s/hub.sign.key", hub_dir);
    if ((b->hub_sign = keys_secret_load(path, KEYS_SIGN, S_PASSPHRASE,
                                        strlen(S_PASSPHRASE), &err)) == NULL)
        s_die("%s", err.msg);
    /* The members and the recipient: raw keys, public files only. */
    for (i = 0; i <= S_MEMBERS; i++) {
        s_member_t r, *m = i < S_MEMBERS ? &b->m[i] : &r;
        snprintf(m->owner, sizeof m->owner, "%s",
                 i < S_MEMBERS ? s_codes[i] : S_RECIPIENT);
        crypto_sign_keypair(m->sign_pk, m->sign_sk);
        crypto_box_keypair(m->box_pk, m->box_sk);
        crypto_box_keypair(m->transport_pk, m->transport_sk);
        snprintf(path, sizeof path, "%s/%s.pub", b->keyring, m->owner);
        if (keys_public_init(&pub, m->owner, m->sign_pk, m->box_pk,
                             m->transport_pk, &err) != 0 ||
            keys_public_save(path, &pub, &err) != 0)
            s_die("%s: %s", m->owner, err.msg);
        if (i == S_MEMBERS) {
            memcpy(b->rcpt_box_pk, r.box_pk, 32);
            sodium_memzero(&r, sizeof r);
        }
    }
    b->now = (int64_t)time(NULL);
}

/* ------------------------------------------------------------- fill --- */

typedef struct {
    const s_bench_t *b;
    s_item_t        *items;
    size_t           first; /* archive index (0-based) of items[0] */
    size_t           n;
    char             why[ERRBUF_SIZE + 16];
} s_seal_job_t;

/* Seal items and make their receipts: package i is member i % M's
 * sequence i / M + 1 at position i + 1, leaf i. */
static void *
s_seal_thread(void *arg)
{
    s_seal_job_t          *j = arg;
    envelope_seal_params_t p;
    envelope_recipient_t   r;
    uint8_t                body[S_BODY_BYTES];
    errbuf_t               err = {{0}};
    size_t                 k;

    r.id = S_RECIPIENT;
    r.box_pk = j->b->rcpt_box_pk;
    for (k = 0; k < j->n; k++) {
        size_t        i = j->first + k;
        s_item_t     *it = &j->items[k];
        Csbm__Receipt rc;
        Csbm__Signed *sig;

        memset(&p, 0, sizeof p);
        it->member = (int)(i % S_MEMBERS);
        it->sequence = i / S_MEMBERS + 1;
        randombytes_buf(it->id, sizeof it->id);
        randombytes_buf(body, sizeof body);
        p.federation = S_FED;
        p.sender = j->b->m[it->member].owner;
        p.sign_sk = j->b->m[it->member].sign_sk;
        p.package_type = CSBM__PACKAGE_TYPE__MILEX_REPORT;
        p.distribution = CSBM__DISTRIBUTION__DIRECT;
        p.recipients = &r;
        p.n_recipients = 1;
        p.year = 2025;
        p.created_at = (uint64_t)j->b->now - 3600;
        p.sequence = it->sequence;
        p.package_id = it->id;
        if (envelope_seal(&p, body, sizeof body, &it->env, &it->env_len,
                          &err) != 0) {
            snprintf(j->why, sizeof j->why, "seal: %s", err.msg);
            return NULL;
        }
        receipt_envelope_hash(it->env, it->env_len, it->hash);
        csbm__receipt__init(&rc);
        rc.federation = (char *)(uintptr_t)S_FED;
        rc.package_id.data = it->id;
        rc.package_id.len = ENVELOPE_ID_BYTES;
        rc.sender = (char *)(uintptr_t)p.sender;
        rc.sequence = it->sequence;
        rc.envelope_hash.data = it->hash;
        rc.envelope_hash.len = 32;
        rc.position = i + 1;
        rc.accepted_at = (uint64_t)j->b->now;
        rc.log_index = i;
        if ((sig = receipt_make(j->b->hub_sign, &rc, it->receipt_hash, &err))
            == NULL) {
            snprintf(j->why, sizeof j->why, "receipt: %s", err.msg);
            return NULL;
        }
        it->receipt_len = csbm__signed__get_packed_size(sig);
        if ((it->receipt = malloc(it->receipt_len + 1)) == NULL) {
            receipt_signed_free(sig);
            snprintf(j->why, sizeof j->why, "out of memory");
            return NULL;
        }
        csbm__signed__pack(sig, it->receipt);
        receipt_signed_free(sig);
    }
    return NULL;
}

/* Grow the archive to want packages. */
static void
s_fill(s_bench_t *b, size_t want)
{
    s_item_t    *items = calloc(S_CHUNK, sizeof *items);
    s_seal_job_t jobs[16];
    pthread_t    th[16];
    unsigned     nt = b->cpus > 16 ? 16 : b->cpus, t;
    errbuf_t     err = {{0}};
    double       t0 = bench_now();

    if (items == NULL)
        s_die("out of memory");
    if ((b->archive = archive_open(b->db, S_FED, &err)) == NULL)
        s_die("%s", err.msg);
    archive_set_log_key(b->archive, b->hub_sign);
    while (b->filled < want) {
        size_t n = want - b->filled < S_CHUNK ? want - b->filled : S_CHUNK;
        size_t per = (n + nt - 1) / nt, k;

        for (t = 0; t < nt; t++) {
            jobs[t].b = b;
            jobs[t].first = b->filled + t * per;
            jobs[t].items = items + t * per;
            jobs[t].n =
                t * per >= n ? 0 : (n - t * per < per ? n - t * per : per);
            jobs[t].why[0] = '\0';
            if (pthread_create(&th[t], NULL, s_seal_thread, &jobs[t]) != 0)
                s_die("cannot start a thread");
        }
        for (t = 0; t < nt; t++) {
            pthread_join(th[t], NULL);
            if (jobs[t].why[0] != '\0')
                s_die("%s", jobs[t].why);
        }
        if (archive_begin(b->archive, &err) != 0)
            s_die("%s", err.msg);
        for (k = 0; k < n; k++) {
            s_item_t       *it = &items[k];
            const char     *rcpt = S_RECIPIENT;
            archive_entry_t ae;
            uint64_t        pos;

            memset(&ae, 0, sizeof ae);
            memcpy(ae.package_id, it->id, ENVELOPE_ID_BYTES);
            ae.sender = b->m[it->member].owner;
            ae.sequence = it->sequence;
            ae.package_type = CSBM__PACKAGE_TYPE__MILEX_REPORT;
            ae.year = 2025;
            ae.created_at = b->now - 3600;
            ae.accepted_at = b->now;
            ae.envelope = it->env;
            ae.envelope_len = it->env_len;
            memcpy(ae.envelope_hash, it->hash, 32);
            ae.recipients = &rcpt;
            ae.n_recipients = 1;
            ae.receipt = it->receipt;
            ae.receipt_len = it->receipt_len;
            memcpy(ae.receipt_hash, it->receipt_hash, 32);
            if (archive_append(b->archive, &ae, &pos, &err) != 0)
                s_die("%s", err.msg);
            if (pos != b->filled + k + 1)
                s_die("archive position %llu, expected %zu",
                      (unsigned long long)pos, b->filled + k + 1);
            free(it->env);
            free(it->receipt);
        }
        if (archive_commit(b->archive, &err) != 0)
            s_die("%s", err.msg);
        b->filled += n;
        if (isatty(STDERR_FILENO))
            fprintf(stderr,
                    "\rcsbm_bench_audit: archive of %zu packages "
                    "(%.0f s)",
                    b->filled, bench_now() - t0);
    }
    /* Closed before it is timed: checkpointed, no WAL left, as the audit
     * of a quiet archive finds it. */
    archive_destroy(&b->archive);
    fprintf(stderr,
            "csbm_bench_audit: archive of %zu packages built in "
            "%.0f s\n",
            b->filled, bench_now() - t0);
    free(items);
}

/* ------------------------------------------------------------ audit --- */

/* The audits are started by a launcher process forked at the start,
 * while this process is small: a child's peak RSS (ru_maxrss) counts the
 * address space it was forked with until its exec, so an audit forked
 * from this process, grown by the build, would report the build's size.
 * The launcher forks, execs and reaps each audit and sends back its
 * status, wall time and peak RSS. */
typedef struct {
    unsigned threads;
    int      pin;
} s_launch_req_t;

typedef struct {
    int    status;
    double seconds;
    long   maxrss_kb;
} s_launch_rep_t;

static int s_launch_in = -1, s_launch_out = -1; /* our ends of the pipes */

static void
s_launcher(const s_bench_t *b, int rfd, int wfd)
{
    s_launch_req_t q;

    while (read(rfd, &q, sizeof q) == (ssize_t)sizeof q) {
        char           tbuf[16];
        const char    *argv[] = {b->csbm,
                                 "audit",
                                 "verify",
                                 "--data",
                                 b->db,
                                 "--keyring",
                                 b->keyring,
                                 "--federation",
                                 S_FED,
                                 "--quiet",
                              q.threads > 0 ? "--threads" : NULL,
                                 tbuf,
                                 NULL};
        struct rusage  ru;
        s_launch_rep_t r = {-1, 0, 0};
        double         t0 = bench_now();
        pid_t          pid;

        snprintf(tbuf, sizeof tbuf, "%u", q.threads);
        if ((pid = fork()) == 0) {
            int fd = open("/dev/null", O_WRONLY);
            if (fd >= 0) {
                dup2(fd, STDOUT_FILENO);
                close(fd);
            }
            if (q.pin) {
                cpu_set_t set;
                CPU_ZERO(&set);
                CPU_SET(0, &set);
                sched_setaffinity(0, sizeof set, &set);
            }
            execv(b->csbm, (char *const *)(uintptr_t)argv);
            _exit(127);
        }
        if (pid > 0 && wait4(pid, &r.status, 0, &ru) == pid) {
            r.seconds = bench_now() - t0;
            r.maxrss_kb = ru.ru_maxrss;
        } else {
            r.status = -1;
        }
        if (write(wfd, &r, sizeof r) != (ssize_t)sizeof r)
            break;
    }
    _exit(0);
}

static void
s_launcher_start(const s_bench_t *b)
{
    int   req[2], rep[2];
    pid_t pid;

    if (pipe(req) != 0 || pipe(rep) != 0)
        s_die("pipe: %s", strerror(errno));
    if ((pid = fork()) < 0)
        s_die("fork: %s", strerror(errno));
    if (pid == 0) {
        close(req[1]);
        close(rep[0]);
        s_launcher(b, req[0], rep[1]);
    }
    close(req[0]);
    close(rep[1]);
    s_launch_out = req[1];
    s_launch_in = rep[0];
}

/* Run csbm audit verify on the archive: threads verifier threads (0:
 * its default), pinned to CPU 0 if pin. */
static s_timing_t
s_audit_once(const s_bench_t *b, unsigned threads, int pin)
{
    s_launch_req_t q = {threads, pin};
    s_launch_rep_t r;
    s_timing_t     t;

    if (write(s_launch_out, &q, sizeof q) != (ssize_t)sizeof q ||
        read(s_launch_in, &r, sizeof r) != (ssize_t)sizeof r)
        s_die("the launcher of the audits stopped");
    if (r.status == -1 || !WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0) {
        fprintf(stderr,
                "csbm_bench_audit: csbm audit verify on %s exited "
                "%d: the archive is not intact or the audit failed\n",
                b->db,
                r.status != -1 && WIFEXITED(r.status) ? WEXITSTATUS(r.status)
                                                      : -1);
        s_rmtree(s_root_to_clean);
        exit(1);
    }
    t.seconds = r.seconds;
    t.rate = (double)b->filled / t.seconds;
    t.maxrss_kb = r.maxrss_kb;
    return t;
}

/* Medians of runs timings. */
static s_timing_t
s_audit(const s_bench_t *b, unsigned threads, int pin)
{
    double     sec[S_MAX_RUNS], rss[S_MAX_RUNS];
    s_timing_t t, m;
    int        i;

    for (i = 0; i < b->o.runs; i++) {
        t = s_audit_once(b, threads, pin);
        sec[i] = t.seconds;
        rss[i] = (double)t.maxrss_kb;
    }
    m.seconds = bench_median(sec, (size_t)b->o.runs);
    m.rate = (double)b->filled / m.seconds;
    m.maxrss_kb = (long)bench_median(rss, (size_t)b->o.runs);
    return m;
}

/* -------------------------------------------------------------- raw --- */

typedef struct {
    double seconds, rate;
} s_raw_job_t;

static void *
s_raw_thread(void *arg)
{
    s_raw_job_t *j = arg;

    j->rate = bench_raw_ed25519_verify(j->seconds);
    return NULL;
}

/* Ed25519 verify/s of n threads at once, summed. */
static double
s_raw_ed25519(unsigned n, double seconds)
{
    s_raw_job_t jobs[16];
    pthread_t   th[16];
    double      sum = 0;
    unsigned    i;

    if (n > 16)
        n = 16;
    for (i = 0; i < n; i++) {
        jobs[i].seconds = seconds;
        if (pthread_create(&th[i], NULL, s_raw_thread, &jobs[i]) != 0)
            s_die("cannot start a thread");
    }
    for (i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        sum += jobs[i].rate;
    }
    return sum;
}

/* ------------------------------------------------------------- main --- */

static void
s_usage(FILE *out)
{
    fprintf(
        out,
        "Usage: csbm_bench_audit [--entries N] [--small N] [--runs N]\n"
        "                        [--raw-seconds S] [--csbm PATH] [--json]\n"
        "                        [--keep]\n"
        "\n"
        "Build a hub archive of N packages (default 1000000) once, then time\n"
        "'csbm audit verify' on it at --small packages (default 100000) and\n"
        "at N, with one verifier thread on one core and with every core,\n"
        "beside the raw Ed25519 verify/s (one core, every core) and SHA-256/s\n"
        "measured in the same run; peak RSS of each audit.\n"
        "\n"
        "  --runs N          repeat each timing N times, report medians (3)\n"
        "  --raw-seconds S   seconds per raw measurement (default 2)\n"
        "  --csbm PATH       the csbm program (default: beside this one)\n"
        "  --keep            keep the temporary directory\n"
        "  --json            machine-readable output\n");
}

static int
s_size(const char *arg, size_t lo, size_t *out)
{
    char              *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < lo || v > 100000000ULL)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* One archive size: the raw rates measured just before each timing, so
 * that both see the same machine (the cores may be shared). */
typedef struct {
    size_t     entries;
    double     ed1, edn, sha;
    s_timing_t one, all;
} s_point_t;

static json_t *
s_point_json(const s_point_t *p)
{
    double ed1 = p->ed1, edn = p->edn;

    return json_pack(
        "{s:I,s:f,s:f,s:f,s:{s:f,s:f,s:f,s:I},"
        "s:{s:f,s:f,s:f,s:I}}",
        "entries", (json_int_t)p->entries, "raw_ed25519_verify_per_s_1_core",
        ed1, "raw_ed25519_verify_per_s_all_cores", edn, "raw_sha256_1k_per_s",
        p->sha, "one_core", "seconds", p->one.seconds, "packages_per_s",
        p->one.rate, "signatures_to_raw", p->one.rate / ed1, "maxrss_kb",
        (json_int_t)p->one.maxrss_kb, "all_cores", "seconds", p->all.seconds,
        "packages_per_s", p->all.rate, "signatures_to_raw",
        p->all.rate / edn, "maxrss_kb", (json_int_t)p->all.maxrss_kb);
}

static void
s_point_print(const s_point_t *p, unsigned cpus)
{
    double ed1 = p->ed1, edn = p->edn;

    printf("audit verify, %zu packages (raw: Ed25519 verify %.0f/s on 1 "
           "core, %.0f/s on %u cores; SHA-256 of 1 KiB %.0f/s):\n",
           p->entries, ed1, edn, cpus, p->sha);
    printf("  1 core,  1 verifier:  %8.0f packages/s (%.1f s): %.2f x the "
           "raw Ed25519 verify/s on 1 core (one signature a package); peak "
           "RSS %.1f MiB\n", p->one.rate, p->one.seconds, p->one.rate / ed1,
           (double)p->one.maxrss_kb / 1024);
    printf("  %u cores, default:     %8.0f packages/s (%.1f s): %.2f x the "
           "raw Ed25519 verify/s on %u cores (one signature a package); peak "
           "RSS %.1f MiB\n", cpus, p->all.rate, p->all.seconds,
           p->all.rate / edn, cpus, (double)p->all.maxrss_kb / 1024);
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"entries", required_argument, NULL, 'n'},
        {"small", required_argument, NULL, 's'},
        {"runs", required_argument, NULL, 'r'},
        {"raw-seconds", required_argument, NULL, 'S'},
        {"csbm", required_argument, NULL, 'c'},
        {"keep", no_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    s_bench_t b;
    s_point_t pts[2];
    size_t    runs, n_pts = 0, i;
    double    raw;
    char     *end;
    int       opt;

    memset(&b, 0, sizeof b);
    b.o.entries = 1000000;
    b.o.small = 100000;
    b.o.runs = 3;
    b.o.raw_s = 2.0;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            if (s_size(optarg, 1, &b.o.entries) != 0)
                s_die("--entries %s: give 1 to 100000000", optarg);
            break;
        case 's':
            if (s_size(optarg, 1, &b.o.small) != 0)
                s_die("--small %s: give 1 to 100000000", optarg);
            break;
        case 'r':
            if (s_size(optarg, 1, &runs) != 0 || runs > S_MAX_RUNS)
                s_die("--runs %s: give 1 to %d", optarg, S_MAX_RUNS);
            b.o.runs = (int)runs;
            break;
        case 'S':
            errno = 0;
            raw = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' || raw < 0.1 ||
                raw > 60)
                s_die("--raw-seconds %s: give 0.1 to 60", optarg);
            b.o.raw_s = raw;
            break;
        case 'c':
            b.o.csbm = optarg;
            break;
        case 'k':
            b.o.keep = 1;
            break;
        case 'j':
            b.o.json = 1;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        s_usage(stderr);
        return 2;
    }
    if (sodium_init() < 0)
        s_die("libsodium cannot start");
    if (b.o.csbm != NULL) {
        snprintf(b.csbm, sizeof b.csbm, "%s", b.o.csbm);
    } else {
        ssize_t n = readlink("/proc/self/exe", b.csbm, sizeof b.csbm - 8);
        char   *slash;
        if (n <= 0)
            s_die("cannot find this program: pass --csbm");
        b.csbm[n] = '\0';
        if ((slash = strrchr(b.csbm, '/')) == NULL)
            s_die("cannot find this program: pass --csbm");
        snprintf(slash + 1, sizeof b.csbm - (size_t)(slash + 1 - b.csbm),
                 "csbm");
    }
    if (access(b.csbm, X_OK) != 0)
        s_die("%s: %s (pass --csbm)", b.csbm, strerror(errno));
    {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        b.cpus = n < 1 ? 1 : (unsigned)n;
    }
    s_setup(&b);
    s_launcher_start(&b); /* before the build grows this process */
    for (i = 0; i < 2; i++) {
        size_t want = i == 0 ? b.o.small : b.o.entries;
        if (i == 0 && b.o.small >= b.o.entries)
            continue;
        s_fill(&b, want);
        pts[n_pts].entries = b.filled;
        pts[n_pts].ed1 = s_raw_ed25519(1, b.o.raw_s);
        pts[n_pts].one = s_audit(&b, 1, 1);
        pts[n_pts].edn = s_raw_ed25519(b.cpus, b.o.raw_s);
        pts[n_pts].all = s_audit(&b, 0, 0);
        pts[n_pts].sha = bench_raw_sha256(b.o.raw_s);
        n_pts++;
    }
    keys_secret_destroy(&b.hub_sign);
    if (b.o.json) {
        json_t *o = json_pack("{s:I,s:I,s:[]}", "runs", (json_int_t)b.o.runs,
                              "cores", (json_int_t)b.cpus, "points");
        for (i = 0; i < n_pts; i++)
            json_array_append_new(json_object_get(o, "points"),
                                  s_point_json(&pts[i]));
        json_dumpf(o, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(o);
    } else {
        for (i = 0; i < n_pts; i++)
            s_point_print(&pts[i], b.cpus);
        printf("medians of %d run%s; envelopes of %d-byte packages, 1 "
               "Ed25519 verification and 1 SHA-256 of the envelope each\n",
               b.o.runs, b.o.runs == 1 ? "" : "s", S_BODY_BYTES);
    }
    s_rmtree(s_root_to_clean);
    return 0;
}
