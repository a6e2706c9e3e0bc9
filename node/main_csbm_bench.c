/*
 * csbm_bench: the exchange's end-to-end benchmark (scripts/bench).
 *
 * Everything measured is the real thing: the real `csbm hub` process with
 * key files under a passphrase, a real SQLite archive in a temporary
 * directory, CurveZMQ on 127.0.0.1 with every member admitted by the hub's
 * keyring through ZAP, and envelopes sealed and signed by distinct member
 * identities. All envelopes are sealed before any clock starts, so the
 * figures are the hub's (and, for the pull, the puller's), not the sealer's.
 *
 * One run measures:
 *   - ingest: M members (threads, one DEALER each, W requests in flight)
 *     push 1 KiB packages; the rate counts only packages whose receipt came
 *     back, and every receipt is checked afterwards (its inclusion proof in
 *     a head the hub signed, status, envelope hash) and the archive
 *     re-opened to count the rows;
 *   - push latency: one more member pushing one package at a time, first
 *     with the hub idle, then while the M members load it;
 *   - pull: a member catching up on P packages addressed to it (archive
 *     pre-filled through node/archive.h with receipts and signed heads),
 *     through member_pull exactly as `csbm pull` does — each item's sender
 *     signature and its receipt's inclusion in the page's signed head
 *     verified, each page committed to the member's store;
 *   - the same ingest into a hub whose archive keeps no Merkle log (no
 *     leaves, no subtree nodes, no signed tree heads — so no signature over
 *     the receipts either —, no inclusion proofs;
 *     ARCHIVE_OPEN_BENCH_NO_LOG): the log's cost is the difference. That
 *     hub is this program re-executed in an internal mode (S_HUB_MODE),
 *     running the same hub_new/hub_run as `csbm hub`; the flag exists for
 *     this measurement only and `csbm` offers no way to set it;
 *   - beside them, node/bench_raw.c's limits measured in the same run.
 * --runs N repeats the run and reports medians.
 *
 * Exit status: 0 measured, 1 the exchange misbehaved (a push not receipted,
 * a receipt that does not verify, a package missing), 2 usage or setup.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "config/keyring.h"
#include "crypto/envelope.h"
#include "crypto/keys.h"
#include "crypto/receipt.h"
#include "node/archive.h"
#include "node/bench_raw.h"
#include "node/bench_util.h"
#include "node/hub.h"
#include "node/log.h"
#include "node/member.h"
#include "node/wire.h"

#define S_FED           "CSBM-BENCH"
#define S_PASSPHRASE    "csbm benchmark passphrase"
#define S_PULLER        "MEX"
#define S_PROBE         "PRY"
#define S_BODY_BYTES    1024
#define S_MAX_MEMBERS   32
#define S_CALL_MS       30000
#define S_START_MS      60000
#define S_MAX_RUNS      99
#define S_FILL_BATCH    2000
#define S_HUB_MODE      "--internal-hub-without-log" /* argv[1]; not in usage */

static const char *const s_codes[S_MAX_MEMBERS] = {"ARG", "BOL", "BRA",
    "CHL", "COL", "ECU", "PER", "URY", "CAN", "USA", "CRI", "GTM", "HND",
    "NIC", "PAN", "SLV", "DOM", "CUB", "HTI", "JAM", "BHS", "BRB", "BLZ",
    "GUY", "SUR", "TTO", "ATG", "DMA", "GRD", "KNA", "LCA", "VCT"};

/* A member made of raw keys: the hub never loads its secrets. */
typedef struct {
    char    owner[KEYS_OWNER_MAX + 1];
    uint8_t sign_pk[32], sign_sk[64];
    uint8_t transport_pk[32], transport_sk[32];
    uint8_t box_pk[32], box_sk[32];
} s_member_t;

/* A pre-sealed envelope and its packed SubmitRequest. */
typedef struct {
    uint8_t *env;
    size_t   env_len;
} s_sealed_t;

typedef struct {
    int    runs;
    int    json;
    int    quick;
    size_t members;
    size_t ingest;     /* packages per run, over all members */
    size_t window;     /* requests in flight per member */
    size_t idle;       /* idle latency samples */
    size_t pull;       /* packages the puller catches up on */
    double raw_s;      /* seconds per raw limit */
    const char *csbm;  /* the csbm program */
    const char *log_level;
    int    keep;
} s_opts_t;

/* What one run measured. */
typedef struct {
    double ed25519, curvezmq, commits;
    double ingest_rate, ingest_s;
    double nolog_rate;          /* the same ingest, archive without a log */
    double log_overhead;        /* 1 - ingest_rate / nolog_rate, percent */
    double hub_us, nolog_us;    /* hub CPU microseconds per package */
    double log_cpu_overhead;    /* hub_us / nolog_us - 1, percent */
    double idle_p50, idle_p99;  /* ms */
    double load_p50, load_p99;  /* ms, the one-at-a-time member under load */
    double win_p50, win_p99;    /* ms, the loading members' own requests */
    double pull_rate, pull_s;
    double hub_cpu;             /* hub CPU seconds per wall second, ingest */
    double member_cpu;          /* the same for this process (the members) */
    size_t probe_under_load;
} s_result_t;

/* Everything set up once for all runs. */
typedef struct {
    s_opts_t       o;
    char           root[PATH_MAX];
    char           hub_keys[PATH_MAX + 16];
    char           puller_keys[PATH_MAX + 16];
    char           keyring_dir[PATH_MAX + 16];
    char           pass_file[PATH_MAX + 16];
    char           pull_db[PATH_MAX + 16];
    char           csbm[PATH_MAX];
    char           self[PATH_MAX];
    keys_public_t  hub_pub;
    s_member_t     m[S_MAX_MEMBERS];
    s_member_t     probe;
    keys_public_t  puller_pub;
    s_sealed_t    *pool;       /* [member][k]: member m's sequence k + 1 */
    size_t         per_member; /* pool entries per member */
    s_sealed_t    *probe_pool;
    size_t         n_probe;
    void          *zctx;
} s_bench_t;

/* ---------------------------------------------------------- helpers --- */

static void s_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static char s_root_to_clean[PATH_MAX];
static int  s_keep_root;

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

    fprintf(stderr, "csbm_bench: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    s_rmtree(s_root_to_clean);
    exit(2);
}

static int
s_free_port(void)
{
    struct sockaddr_in a;
    socklen_t          len = sizeof a;
    int                fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0
        && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static int
s_parse_size(const char *arg, size_t lo, size_t hi, size_t *out)
{
    char              *end;
    unsigned long long v;

    if (arg == NULL || arg[0] < '0' || arg[0] > '9')
        return -1;
    errno = 0;
    v = strtoull(arg, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* "12,345" */
static const char *
s_grouped(double v, char *buf, size_t cap)
{
    char   digits[32], *p = buf;
    size_t n, i;

    snprintf(digits, sizeof digits, "%.0f", v < 0 ? 0 : v);
    n = strlen(digits);
    for (i = 0; i < n && (size_t)(p - buf) + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            *p++ = ',';
        *p++ = digits[i];
    }
    *p = '\0';
    return buf;
}

/* CPU seconds (user + system) a process used so far, or -1. */
static double
s_proc_cpu(pid_t pid)
{
    char               path[64], buf[1024], *p;
    unsigned long long ut, st;
    FILE              *f;
    size_t             n;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if ((p = strrchr(buf, ')')) == NULL
        || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
               &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ------------------------------------------------------------ setup --- */

static void
s_member_init(s_member_t *m, const char *owner)
{
    snprintf(m->owner, sizeof m->owner, "%s", owner);
    crypto_sign_keypair(m->sign_pk, m->sign_sk);
    crypto_box_keypair(m->box_pk, m->box_sk);
    crypto_box_keypair(m->transport_pk, m->transport_sk);
}

static void
s_member_pub(const s_bench_t *b, const s_member_t *m)
{
    keys_public_t pub;
    errbuf_t      err = {{0}};
    char          path[PATH_MAX + 64];

    snprintf(path, sizeof path, "%s/%s.pub", b->keyring_dir, m->owner);
    if (keys_public_init(&pub, m->owner, m->sign_pk, m->box_pk,
            m->transport_pk, &err) != 0
        || keys_public_save(path, &pub, &err) != 0)
        s_die("%s: %s", m->owner, err.msg);
}

/* A passphrase-protected identity in dir, its .pub copied to the keyring. */
static void
s_identity(const s_bench_t *b, const char *dir, const char *owner,
    keys_public_t *pub)
{
    errbuf_t err = {{0}};
    char     path[PATH_MAX + 64];

    if (keys_generate(dir, owner, S_PASSPHRASE, strlen(S_PASSPHRASE), &err)
        != 0)
        s_die("%s", err.msg);
    snprintf(path, sizeof path, "%s/%s.pub", dir, owner);
    if (keys_public_load(path, pub, &err) != 0)
        s_die("%s", err.msg);
    snprintf(path, sizeof path, "%s/%s.pub", b->keyring_dir, owner);
    if (keys_public_save(path, pub, &err) != 0)
        s_die("%s", err.msg);
}

typedef struct {
    const s_bench_t *b;
    const s_member_t *from;
    s_sealed_t      *out;
    size_t           n;
    int              failed;
    char             why[ERRBUF_SIZE];
} s_seal_job_t;

static void *
s_seal_thread(void *arg)
{
    s_seal_job_t          *j = arg;
    envelope_seal_params_t p;
    envelope_recipient_t   r;
    uint8_t                body[S_BODY_BYTES];
    errbuf_t               err = {{0}};
    size_t                 k;

    r.id = S_PULLER;
    r.box_pk = j->b->puller_pub.box_pk;
    memset(&p, 0, sizeof p);
    p.federation = S_FED;
    p.sender = j->from->owner;
    p.sign_sk = j->from->sign_sk;
    p.package_type = CSBM__PACKAGE_TYPE__MILEX_REPORT;
    p.distribution = CSBM__DISTRIBUTION__DIRECT;
    p.recipients = &r;
    p.n_recipients = 1;
    p.year = 2025;
    p.created_at = (uint64_t)time(NULL);
    for (k = 0; k < j->n; k++) {
        randombytes_buf(body, sizeof body);
        p.sequence = k + 1;
        if (envelope_seal(&p, body, sizeof body, &j->out[k].env,
                &j->out[k].env_len, &err) != 0) {
            j->failed = 1;
            snprintf(j->why, sizeof j->why, "%s", err.msg);
            break;
        }
    }
    return NULL;
}

/* Seal every envelope of the runs, on both cores. */
static void
s_seal_all(s_bench_t *b)
{
    size_t        n_jobs = b->o.members + 1, i, done = 0, started;
    s_seal_job_t *jobs = calloc(n_jobs, sizeof *jobs);
    pthread_t     th[2];

    b->per_member = b->o.pull / b->o.members + 1;
    if (b->per_member < b->o.ingest / b->o.members + 1)
        b->per_member = b->o.ingest / b->o.members + 1;
    b->pool = calloc(b->o.members * b->per_member, sizeof *b->pool);
    b->n_probe = b->o.idle + 20000;
    if (b->o.quick)
        b->n_probe = b->o.idle + 500;
    b->probe_pool = calloc(b->n_probe, sizeof *b->probe_pool);
    if (jobs == NULL || b->pool == NULL || b->probe_pool == NULL)
        s_die("out of memory");
    for (i = 0; i < n_jobs; i++) {
        jobs[i].b = b;
        jobs[i].from = i < b->o.members ? &b->m[i] : &b->probe;
        jobs[i].out = i < b->o.members ? b->pool + i * b->per_member
                                       : b->probe_pool;
        jobs[i].n = i < b->o.members ? b->per_member : b->n_probe;
    }
    /* Two at a time: the machine the targets name has two cores. */
    while (done < n_jobs) {
        for (started = 0; started < 2 && done + started < n_jobs; started++)
            if (pthread_create(&th[started], NULL, s_seal_thread,
                    &jobs[done + started]) != 0)
                s_die("cannot start a thread");
        for (i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        done += started;
    }
    for (i = 0; i < n_jobs; i++)
        if (jobs[i].failed)
            s_die("seal: %s", jobs[i].why);
    free(jobs);
}

/* Pre-fill the pull archive: every pooled envelope, in round-robin order
 * of the members, with its receipt, and a tree head signed by the hub's
 * key for every S_FILL_BATCH of them, as the hub writes them. */
static void
s_fill_pull_archive(s_bench_t *b)
{
    char           path[PATH_MAX + 64];
    keys_secret_t *sign = NULL;
    archive_t     *a;
    errbuf_t       err = {{0}};
    size_t         n, k, m;
    int64_t        now = (int64_t)time(NULL);

    snprintf(path, sizeof path, "%s/hub.sign.key", b->hub_keys);
    if ((sign = keys_secret_load(path, KEYS_SIGN, S_PASSPHRASE,
             strlen(S_PASSPHRASE), &err)) == NULL)
        s_die("%s", err.msg);
    if ((a = archive_open(b->pull_db, S_FED, &err)) == NULL)
        s_die("%s", err.msg);
    archive_set_log_key(a, sign);
    for (n = 0, k = 0; n < b->o.pull; k++) {
        for (m = 0; m < b->o.members && n < b->o.pull; m++, n++) {
            const s_sealed_t           *s = &b->pool[m * b->per_member + k];
            const char                 *rcpt = S_PULLER;
            envelope_t                 *e;
            const Csbm__EnvelopeHeader *h;
            archive_entry_t             ae;
            Csbm__Receipt               r;
            Csbm__Signed               *sig;
            uint64_t                    pos;
            uint8_t                    *packed;
            size_t                      len;

            if (n % S_FILL_BATCH == 0 && archive_begin(a, &err) != 0)
                s_die("%s", err.msg);
            if ((e = envelope_parse(s->env, s->env_len, &err)) == NULL)
                s_die("%s", err.msg);
            h = envelope_header(e);
            memset(&ae, 0, sizeof ae);
            memcpy(ae.package_id, h->package_id.data, ENVELOPE_ID_BYTES);
            ae.sender = h->sender;
            ae.sequence = h->sequence;
            ae.package_type = (int)h->package_type;
            ae.year = h->year;
            ae.created_at = (int64_t)h->created_at;
            ae.accepted_at = now;
            ae.envelope = s->env;
            ae.envelope_len = s->env_len;
            receipt_envelope_hash(s->env, s->env_len, ae.envelope_hash);
            ae.recipients = &rcpt;
            ae.n_recipients = 1;
            csbm__receipt__init(&r);
            r.federation = (char *)(uintptr_t)S_FED;
            r.package_id.data = ae.package_id;
            r.package_id.len = ENVELOPE_ID_BYTES;
            r.sender = (char *)(uintptr_t)h->sender;
            r.sequence = h->sequence;
            r.envelope_hash.data = ae.envelope_hash;
            r.envelope_hash.len = 32;
            r.position = archive_next_position(a);
            r.accepted_at = (uint64_t)now;
            r.log_index = archive_log_size(a);
            if ((sig = receipt_make(sign, &r, ae.receipt_hash, &err)) == NULL)
                s_die("%s", err.msg);
            len = csbm__signed__get_packed_size(sig);
            if ((packed = malloc(len + 1)) == NULL)
                s_die("out of memory");
            csbm__signed__pack(sig, packed);
            receipt_signed_free(sig);
            ae.receipt = packed;
            ae.receipt_len = len;
            if (archive_append(a, &ae, &pos, &err) != 0)
                s_die("%s", err.msg);
            free(packed);
            envelope_destroy(&e);
            if ((n + 1) % S_FILL_BATCH == 0 && archive_commit(a, &err) != 0)
                s_die("%s", err.msg);
        }
    }
    if (archive_in_batch(a) && archive_commit(a, &err) != 0)
        s_die("%s", err.msg);
    archive_destroy(&a);
    keys_secret_destroy(&sign);
}

static void
s_setup(s_bench_t *b)
{
    const char *tmp = getenv("TMPDIR");
    errbuf_t    err = {{0}};
    char        self_exe[PATH_MAX - 8], *slash;
    ssize_t     n;
    size_t      i;
    int         fd;

    snprintf(b->root, sizeof b->root, "%s/csbm-bench-XXXXXX",
        tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(b->root) == NULL)
        s_die("cannot create a temporary directory: %s", strerror(errno));
    snprintf(s_root_to_clean, sizeof s_root_to_clean, "%s", b->root);
    s_keep_root = b->o.keep;
    snprintf(b->hub_keys, sizeof b->hub_keys, "%s/hub", b->root);
    snprintf(b->puller_keys, sizeof b->puller_keys, "%s/puller", b->root);
    snprintf(b->keyring_dir, sizeof b->keyring_dir, "%s/keyring", b->root);
    snprintf(b->pass_file, sizeof b->pass_file, "%s/passphrase", b->root);
    snprintf(b->pull_db, sizeof b->pull_db, "%s/pull-hub.db", b->root);
    if (mkdir(b->keyring_dir, 0755) != 0)
        s_die("%s: %s", b->keyring_dir, strerror(errno));
    if ((fd = open(b->pass_file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
             0600)) < 0
        || write(fd, S_PASSPHRASE "\n", sizeof S_PASSPHRASE) < 0
        || close(fd) != 0)
        s_die("%s: %s", b->pass_file, strerror(errno));

    if ((n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1)) < 0)
        s_die("cannot find this program's directory: %s", strerror(errno));
    self_exe[n] = '\0';
    snprintf(b->self, sizeof b->self, "%s", self_exe);
    if (b->o.csbm != NULL) {
        snprintf(b->csbm, sizeof b->csbm, "%s", b->o.csbm);
    } else {
        if ((slash = strrchr(self_exe, '/')) != NULL)
            *slash = '\0';
        snprintf(b->csbm, sizeof b->csbm, "%s/csbm", self_exe);
    }
    if (access(b->csbm, X_OK) != 0)
        s_die("%s: %s (build it, or give --csbm PATH)", b->csbm,
            strerror(errno));

    s_identity(b, b->hub_keys, "hub", &b->hub_pub);
    s_identity(b, b->puller_keys, S_PULLER, &b->puller_pub);
    for (i = 0; i < b->o.members; i++) {
        s_member_init(&b->m[i], s_codes[i]);
        s_member_pub(b, &b->m[i]);
    }
    s_member_init(&b->probe, S_PROBE);
    s_member_pub(b, &b->probe);
    (void)err;
    if ((b->zctx = zmq_ctx_new()) == NULL)
        s_die("cannot create a ZeroMQ context");
}

/* -------------------------------------------------------------- hub --- */

typedef struct {
    pid_t pid;
    char  ep[64];
    char  log[PATH_MAX + 32];
} s_hub_t;

static void *
s_dealer(const s_bench_t *b, const s_hub_t *h, const s_member_t *m)
{
    errbuf_t err = {{0}};
    int      timeout = S_CALL_MS;
    void    *d = wire_member_socket(b->zctx, h->ep, m->transport_pk,
        m->transport_sk, b->hub_pub.transport_pk, &err);

    if (d == NULL)
        s_die("%s", err.msg);
    zmq_setsockopt(d, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    return d;
}

static int
s_ping(void *d, int timeout_ms)
{
    Csbm__WireRequest req = CSBM__WIRE_REQUEST__INIT;
    Csbm__PingRequest pr = CSBM__PING_REQUEST__INIT;
    Csbm__WireReply  *r;
    errbuf_t          err = {{0}};
    static uint64_t   id = 1u << 30;
    int               ok;

    req.protocol = WIRE_PROTOCOL;
    req.request_id = id++;
    req.body_case = CSBM__WIRE_REQUEST__BODY_PING;
    req.ping = &pr;
    if ((r = wire_call(d, &req, timeout_ms, &err)) == NULL)
        return -1;
    ok = r->status == CSBM__WIRE_STATUS__WIRE_OK;
    protobuf_c_message_free_unpacked(&r->base, NULL);
    return ok ? 0 : -1;
}

/* Start `csbm hub` on db (with_log 0: this program's S_HUB_MODE) and wait
 * until it answers a ping. */
static void
s_hub_start(const s_bench_t *b, const char *db, const char *tag, s_hub_t *h,
    int with_log)
{
    int attempt;

    for (attempt = 0; attempt < 5; attempt++) {
        int    port = s_free_port(), nport = s_free_port();
        char   notify[64];
        double t0;
        void  *d;
        int    status;

        if (port < 0 || nport < 0 || port == nport)
            continue;
        snprintf(h->ep, sizeof h->ep, "tcp://127.0.0.1:%d", port);
        snprintf(notify, sizeof notify, "tcp://127.0.0.1:%d", nport);
        snprintf(h->log, sizeof h->log, "%s/%s.log", b->root, tag);
        if ((h->pid = fork()) < 0)
            s_die("fork: %s", strerror(errno));
        if (h->pid == 0) {
            const char *argv[] = {b->csbm, "hub", "--keys", b->hub_keys,
                "--keyring", b->keyring_dir, "--data", db, "--bind", h->ep,
                "--notify", notify, "--federation", S_FED,
                "--passphrase-file", b->pass_file, "--log-level",
                b->o.log_level, NULL};
            const char *nolog[] = {b->self, S_HUB_MODE, b->hub_keys,
                b->keyring_dir, db, h->ep, notify, b->pass_file,
                b->o.log_level, NULL};
            int fd = open(h->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
            int nul = open("/dev/null", O_RDONLY);

            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (fd < 0 || nul < 0)
                _exit(127);
            dup2(nul, 0);
            dup2(fd, 1);
            dup2(fd, 2);
            if (with_log)
                execv(argv[0], (char *const *)(uintptr_t)argv);
            else
                execv(nolog[0], (char *const *)(uintptr_t)nolog);
            _exit(127);
        }
        d = s_dealer(b, h, &b->probe);
        t0 = bench_now();
        while (bench_now() - t0 < S_START_MS / 1000.0) {
            if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
                h->pid = -1;
                break;
            }
            if (s_ping(d, 1000) == 0)
                break;
        }
        zmq_close(d);
        if (h->pid > 0 && bench_now() - t0 < S_START_MS / 1000.0)
            return;
        if (h->pid > 0) {
            kill(h->pid, SIGKILL);
            waitpid(h->pid, NULL, 0);
        }
        /* Lost a port race, most likely: try other ports. */
    }
    s_die("the hub did not start; see %s", h->log);
}

static void
s_hub_stop(s_hub_t *h)
{
    int status = 0;

    if (h->pid <= 0)
        return;
    kill(h->pid, SIGTERM);
    waitpid(h->pid, &status, 0);
    h->pid = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        s_die("the hub did not stop cleanly; see %s", h->log);
}

/* ----------------------------------------------------------- ingest --- */

/* A packed WireRequest carrying a SubmitRequest. Caller frees. */
static uint8_t *
s_pack_submit(const s_sealed_t *s, uint64_t request_id, size_t *len)
{
    Csbm__WireRequest   req = CSBM__WIRE_REQUEST__INIT;
    Csbm__SubmitRequest sr = CSBM__SUBMIT_REQUEST__INIT;
    uint8_t            *buf;

    sr.envelope.data = s->env;
    sr.envelope.len = s->env_len;
    req.protocol = WIRE_PROTOCOL;
    req.request_id = request_id;
    req.body_case = CSBM__WIRE_REQUEST__BODY_SUBMIT;
    req.submit = &sr;
    *len = csbm__wire_request__get_packed_size(&req);
    if ((buf = malloc(*len)) == NULL)
        s_die("out of memory");
    csbm__wire_request__pack(&req, buf);
    return buf;
}

/* One member's share of a push phase: requests packed beforehand, replies
 * kept to be checked after the clock stops. */
typedef struct {
    const s_bench_t  *b;
    const s_hub_t    *hub;
    const s_member_t *m;
    const s_sealed_t *sealed;
    size_t            n;        /* requests to send (load) or at most */
    uint64_t          seq0;     /* sealed[i] has sequence seq0 + i + 1 */
    size_t            window;   /* in flight; 1 for the latency probe */
    volatile int     *stop;     /* probe: stop when set (may be NULL) */
    uint8_t         **req;
    size_t           *req_len;
    uint8_t         **rep;
    size_t           *rep_len;
    double           *lat;      /* ms per request */
    size_t            done;     /* replies received */
    double            t_end;
    int               failed;
    char              why[256];
} s_pusher_t;

static void
s_pusher_init(s_pusher_t *p, const s_bench_t *b, const s_hub_t *hub,
    const s_member_t *m, const s_sealed_t *sealed, size_t n, size_t window)
{
    size_t i;

    memset(p, 0, sizeof *p);
    p->b = b;
    p->hub = hub;
    p->m = m;
    p->sealed = sealed;
    p->n = n;
    p->window = window;
    p->req = calloc(n + 1, sizeof *p->req);
    p->req_len = calloc(n + 1, sizeof *p->req_len);
    p->rep = calloc(n + 1, sizeof *p->rep);
    p->rep_len = calloc(n + 1, sizeof *p->rep_len);
    p->lat = calloc(n + 1, sizeof *p->lat);
    if (p->req == NULL || p->req_len == NULL || p->rep == NULL
        || p->rep_len == NULL || p->lat == NULL)
        s_die("out of memory");
    for (i = 0; i < n; i++)
        p->req[i] = s_pack_submit(&sealed[i], i + 1, &p->req_len[i]);
}

static void
s_pusher_free(s_pusher_t *p)
{
    size_t i;

    for (i = 0; i < p->n; i++) {
        free(p->req[i]);
        free(p->rep[i]);
    }
    free(p->req);
    free(p->req_len);
    free(p->rep);
    free(p->rep_len);
    free(p->lat);
}

static void *
s_pusher_thread(void *arg)
{
    s_pusher_t *p = arg;
    void       *d = s_dealer(p->b, p->hub, p->m);
    double     *sent = calloc(p->n + 1, sizeof *sent);
    size_t      next = 0;

    if (sent == NULL) {
        p->failed = 1;
        snprintf(p->why, sizeof p->why, "out of memory");
        goto out;
    }
    while (p->done < p->n) {
        zmq_msg_t msg;
        int       rc;

        while (next < p->n && next - p->done < p->window
               && !(p->stop != NULL && *p->stop)) {
            sent[next] = bench_now();
            if (zmq_send(d, p->req[next], p->req_len[next], 0) < 0) {
                p->failed = 1;
                snprintf(p->why, sizeof p->why, "send: %s",
                    zmq_strerror(zmq_errno()));
                goto out;
            }
            next++;
        }
        if (next == p->done)
            break; /* stopped, nothing in flight */
        zmq_msg_init(&msg);
        rc = zmq_msg_recv(&msg, d, 0);
        if (rc < 0) {
            zmq_msg_close(&msg);
            p->failed = 1;
            snprintf(p->why, sizeof p->why, "%s: no reply within %d ms (%s)",
                p->m->owner, S_CALL_MS, zmq_strerror(zmq_errno()));
            goto out;
        }
        /* The hub answers one connection's requests in order. */
        p->lat[p->done] = (bench_now() - sent[p->done]) * 1e3;
        p->rep_len[p->done] = zmq_msg_size(&msg);
        if ((p->rep[p->done] = malloc(p->rep_len[p->done] + 1)) == NULL) {
            zmq_msg_close(&msg);
            p->failed = 1;
            snprintf(p->why, sizeof p->why, "out of memory");
            goto out;
        }
        memcpy(p->rep[p->done], zmq_msg_data(&msg), p->rep_len[p->done]);
        zmq_msg_close(&msg);
        p->done++;
    }
out:
    p->t_end = bench_now();
    free(sent);
    zmq_close(d);
    return NULL;
}

/* Check every reply of a pusher: in order, WIRE_OK, a fresh receipt that
 * verifies with the hub's key and names the envelope sent. Returns the
 * number of good receipts; prints the first problem. */
static size_t
s_check_replies(const s_bench_t *b, const s_pusher_t *p, int with_log)
{
    size_t i, good = 0;

    for (i = 0; i < p->done; i++) {
        Csbm__WireReply *r = csbm__wire_reply__unpack(NULL, p->rep_len[i],
            p->rep[i]);
        Csbm__Receipt   *rc = NULL;
        errbuf_t         err = {{0}};
        treehead_t       head;
        uint8_t          hash[32];
        const char      *bad = NULL;

        if (r == NULL)
            bad = "a reply that does not parse";
        else if (r->request_id != i + 1)
            bad = "a reply out of order";
        else if (r->status != CSBM__WIRE_STATUS__WIRE_OK
                 || r->body_case != CSBM__WIRE_REPLY__BODY_SUBMIT
                 || r->submit->receipt == NULL || r->submit->duplicate)
            bad = r->message != NULL && r->message[0] ? r->message
                                                       : "no receipt";
        else if (with_log != (r->submit->inclusion != NULL))
            bad = with_log ? "a receipt without its inclusion proof"
                           : "an inclusion proof from a hub without a log";
        else if (with_log
                     ? receipt_verify(r->submit->receipt, r->submit->inclusion,
                           b->hub_pub.sign_pk, &rc, &head, &err) != 0
                     : receipt_parse(r->submit->receipt, &rc, &err) != 0)
            bad = "a receipt that does not verify";
        else {
            receipt_envelope_hash(p->sealed[i].env, p->sealed[i].env_len,
                hash);
            if (rc->envelope_hash.len != 32
                || memcmp(rc->envelope_hash.data, hash, 32) != 0
                || strcmp(rc->sender, p->m->owner) != 0
                || rc->sequence != p->seq0 + i + 1)
                bad = "a receipt for another package";
        }
        if (bad == NULL)
            good++;
        else if (good + 1 == i + 1 || i == 0)
            fprintf(stderr, "csbm_bench: %s push %zu: %s\n", p->m->owner,
                i + 1, bad);
        if (rc != NULL)
            protobuf_c_message_free_unpacked(&rc->base, NULL);
        if (r != NULL)
            csbm__wire_reply__free_unpacked(r, NULL);
    }
    return good;
}

static int
s_run_ingest(s_bench_t *b, int run, s_result_t *res, int with_log)
{
    char          db[PATH_MAX + 32], tag[32];
    s_hub_t       hub;
    s_pusher_t   *load = calloc(b->o.members, sizeof *load);
    s_pusher_t    idle, probe;
    pthread_t     th[S_MAX_MEMBERS], pth;
    volatile int  stop = 0;
    size_t        i, per = b->o.ingest / b->o.members, total = 0, good = 0;
    size_t        n_win = 0, k;
    double       *win, t0, t_end = 0, cpu0, cpu1, mcpu0, mcpu1;
    archive_t    *a;
    errbuf_t      err = {{0}};
    int           ok = 1;

    if (load == NULL)
        s_die("out of memory");
    snprintf(db, sizeof db, "%s/ingest-%s%d.db", b->root,
        with_log ? "" : "nolog-", run);
    snprintf(tag, sizeof tag, "hub-ingest-%s%d", with_log ? "" : "nolog-",
        run);
    s_hub_start(b, db, tag, &hub, with_log);

    /* Idle: one member, one package at a time. */
    s_pusher_init(&idle, b, &hub, &b->probe, b->probe_pool, b->o.idle, 1);
    s_pusher_thread(&idle);
    if (idle.failed)
        s_die("idle push: %s", idle.why);
    res->idle_p50 = bench_quantile(idle.lat, idle.done, 0.50);
    res->idle_p99 = bench_quantile(idle.lat, idle.done, 0.99);

    /* Load: every member with a window in flight, and the probe. */
    for (i = 0; i < b->o.members; i++)
        s_pusher_init(&load[i], b, &hub, &b->m[i],
            b->pool + i * b->per_member, per, b->o.window);
    s_pusher_init(&probe, b, &hub, &b->probe, b->probe_pool + b->o.idle,
        b->n_probe - b->o.idle, 1);
    probe.seq0 = b->o.idle;
    probe.stop = &stop;
    cpu0 = s_proc_cpu(hub.pid);
    mcpu0 = s_proc_cpu(getpid());
    t0 = bench_now();
    for (i = 0; i < b->o.members; i++)
        if (pthread_create(&th[i], NULL, s_pusher_thread, &load[i]) != 0)
            s_die("cannot start a thread");
    if (pthread_create(&pth, NULL, s_pusher_thread, &probe) != 0)
        s_die("cannot start a thread");
    for (i = 0; i < b->o.members; i++) {
        pthread_join(th[i], NULL);
        if (load[i].t_end > t_end)
            t_end = load[i].t_end;
    }
    cpu1 = s_proc_cpu(hub.pid);
    mcpu1 = s_proc_cpu(getpid());
    stop = 1;
    pthread_join(pth, NULL);
    s_hub_stop(&hub);

    res->ingest_s = t_end - t0;
    res->hub_cpu = cpu0 >= 0 && cpu1 >= 0 ? (cpu1 - cpu0) / res->ingest_s : 0;
    res->member_cpu = mcpu0 >= 0 && mcpu1 >= 0
                          ? (mcpu1 - mcpu0) / res->ingest_s
                          : 0;
    res->probe_under_load = probe.done;
    res->load_p50 = bench_quantile(probe.lat, probe.done, 0.50);
    res->load_p99 = bench_quantile(probe.lat, probe.done, 0.99);
    if ((win = calloc(b->o.ingest + 1, sizeof *win)) == NULL)
        s_die("out of memory");
    for (i = 0; i < b->o.members; i++) {
        if (load[i].failed) {
            fprintf(stderr, "csbm_bench: %s\n", load[i].why);
            ok = 0;
        }
        total += load[i].n;
        good += s_check_replies(b, &load[i], with_log);
        for (k = 0; k < load[i].done; k++)
            win[n_win++] = load[i].lat[k];
    }
    res->win_p50 = bench_quantile(win, n_win, 0.50);
    res->win_p99 = bench_quantile(win, n_win, 0.99);
    res->ingest_rate = (double)good / res->ingest_s;
    if (good != total) {
        fprintf(stderr, "csbm_bench: run %d: %zu of %zu pushes receipted\n",
            run, good, total);
        ok = 0;
    }
    if (s_check_replies(b, &idle, with_log) != idle.done
        || s_check_replies(b, &probe, with_log) != probe.done || probe.failed)
        ok = 0;
    /* Durable: every receipted package is in the archive. */
    if ((a = archive_open(db, S_FED, &err)) == NULL) {
        fprintf(stderr, "csbm_bench: %s\n", err.msg);
        ok = 0;
    } else {
        if (archive_count(a) != good + idle.done + probe.done) {
            fprintf(stderr, "csbm_bench: the archive holds %llu packages, "
                "%zu were receipted\n", (unsigned long long)archive_count(a),
                good + idle.done + probe.done);
            ok = 0;
        }
        archive_destroy(&a);
    }
    for (i = 0; i < b->o.members; i++)
        s_pusher_free(&load[i]);
    s_pusher_free(&idle);
    s_pusher_free(&probe);
    free(load);
    free(win);
    if (!b->o.keep) {
        char f[PATH_MAX + 64];
        unlink(db);
        snprintf(f, sizeof f, "%s-wal", db);
        unlink(f);
        snprintf(f, sizeof f, "%s-shm", db);
        unlink(f);
    }
    return ok ? 0 : -1;
}

/* ------------------------------------------------------------- pull --- */

static int
s_run_pull(s_bench_t *b, int run, s_result_t *res)
{
    char                 store[PATH_MAX + 32], tag[32], path[PATH_MAX + 64];
    s_hub_t              hub;
    member_config_t      cfg;
    member_t            *m;
    keyring_t           *kr = keyring_new();
    keys_secret_t       *tk;
    member_pull_report_t rep;
    errbuf_t             err = {{0}};
    double               t0;
    int                  rc;

    snprintf(tag, sizeof tag, "hub-pull-%d", run);
    snprintf(store, sizeof store, "%s/puller-%d.db", b->root, run);
    snprintf(path, sizeof path, "%s/%s.transport.key", b->puller_keys,
        S_PULLER);
    if (kr == NULL || keyring_load_dir(kr, b->keyring_dir, &err) != 0
        || (tk = keys_secret_load(path, KEYS_TRANSPORT, S_PASSPHRASE,
                strlen(S_PASSPHRASE), &err)) == NULL)
        s_die("%s", err.msg);
    s_hub_start(b, b->pull_db, tag, &hub, 1);
    member_config_init(&cfg);
    cfg.data_path = store;
    cfg.hub = hub.ep;
    cfg.hub_notify = NULL;
    cfg.timeout_ms = S_CALL_MS;
    if ((m = member_new(&cfg, S_PULLER, S_FED, &kr, &tk, &err)) == NULL)
        s_die("%s", err.msg);
    t0 = bench_now();
    rc = member_pull(m, 0, NULL, NULL, &rep, &err);
    res->pull_s = bench_now() - t0;
    member_destroy(&m);
    s_hub_stop(&hub);
    if (rc != 0) {
        fprintf(stderr, "csbm_bench: pull: %s\n", err.msg);
        return -1;
    }
    res->pull_rate = (double)rep.added / res->pull_s;
    if (rep.added != b->o.pull || rep.refused != 0) {
        fprintf(stderr, "csbm_bench: pulled %zu new packages of %zu, %zu "
            "refused\n", rep.added, b->o.pull, rep.refused);
        return -1;
    }
    if (!b->o.keep)
        s_rmtree(store);
    {
        char f[PATH_MAX + 64];
        snprintf(f, sizeof f, "%s-wal", store);
        unlink(f);
        snprintf(f, sizeof f, "%s-shm", store);
        unlink(f);
    }
    return 0;
}

/* ----------------------------------------------------------- report --- */

#define S_FIELDS(X)                                                         \
    X(ed25519) X(curvezmq) X(commits) X(ingest_rate) X(ingest_s)            \
    X(nolog_rate) X(log_overhead) X(hub_us) X(nolog_us) X(log_cpu_overhead) \
    X(idle_p50) X(idle_p99) X(load_p50) X(load_p99) X(win_p50) X(win_p99)   \
    X(pull_rate) X(pull_s) X(hub_cpu) X(member_cpu)

static void
s_median(const s_result_t *r, int n, s_result_t *out)
{
    double v[S_MAX_RUNS];
    int    i;

    memset(out, 0, sizeof *out);
#define S_MED(f)                                                            \
    for (i = 0; i < n; i++)                                                 \
        v[i] = r[i].f;                                                      \
    out->f = bench_quantile(v, (size_t)n, 0.5);
    S_FIELDS(S_MED)
#undef S_MED
}

static json_t *
s_result_json(const s_result_t *r)
{
    json_t *o = json_object();

#define S_JSON(f) json_object_set_new(o, #f, json_real(r->f));
    S_FIELDS(S_JSON)
#undef S_JSON
    return o;
}

static void
s_print_json(const s_bench_t *b, const s_result_t *r, int n,
    const s_result_t *med)
{
    json_t *root = json_object(), *runs = json_array();
    int     i;

    json_object_set_new(root, "cores", json_integer(sysconf(
        _SC_NPROCESSORS_ONLN)));
    json_object_set_new(root, "members", json_integer((json_int_t)b->o.members));
    json_object_set_new(root, "window", json_integer((json_int_t)b->o.window));
    json_object_set_new(root, "ingest_packages",
        json_integer((json_int_t)(b->o.ingest / b->o.members * b->o.members)));
    json_object_set_new(root, "package_body_bytes", json_integer(S_BODY_BYTES));
    json_object_set_new(root, "envelope_bytes",
        json_integer((json_int_t)b->pool[0].env_len));
    json_object_set_new(root, "pull_packages", json_integer((json_int_t)b->o.pull));
    json_object_set_new(root, "runs", json_integer(n));
    for (i = 0; i < n; i++)
        json_array_append_new(runs, s_result_json(&r[i]));
    json_object_set_new(root, "each_run", runs);
    json_object_set_new(root, "median", s_result_json(med));
    json_object_set_new(root, "targets", json_pack("{s:i, s:f, s:f}",
        "ingest_rate_min", 10000, "idle_p50_max_ms", 1.0,
        "log_overhead_max_percent", 10.0));
    json_dumpf(root, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(root);
}

static void
s_print_text(const s_bench_t *b, const s_result_t *m, int n)
{
    char   g1[32], g2[32], g3[32], g4[32];
    double commit_ms = m->commits > 0 ? 1e3 / m->commits : 0;

    printf("csbm bench: %ld cores, %zu members x %zu in flight, %s pushes of "
        "%d-byte packages (%zu-byte envelopes), pull of %s; %s%d run%s\n",
        sysconf(_SC_NPROCESSORS_ONLN), b->o.members, b->o.window,
        s_grouped((double)(b->o.ingest / b->o.members * b->o.members), g1,
            sizeof g1), S_BODY_BYTES, b->pool[0].env_len,
        s_grouped((double)b->o.pull, g2, sizeof g2),
        n > 1 ? "median of " : "", n, n == 1 ? "" : "s");
    printf("raw limits (same run): Ed25519 verify %s/s on one core; CurveZMQ "
        "1 KiB msgs %s/s; durable commits %s/s (%.2f ms each)\n",
        s_grouped(m->ed25519, g1, sizeof g1), s_grouped(m->curvezmq, g2,
            sizeof g2), s_grouped(m->commits, g3, sizeof g3), commit_ms);
    printf("ingest    %s pkg/s durable, receipted = %.2f x Ed25519 verify/s "
        "on one core, %.2f x CurveZMQ msgs/s, %.1f x durable commits/s "
        "(target >= 10,000: %s); CPU: hub %.2f cores, members %.2f cores\n",
        s_grouped(m->ingest_rate, g1, sizeof g1),
        m->ingest_rate / m->ed25519, m->ingest_rate / m->curvezmq,
        m->ingest_rate / m->commits, m->ingest_rate >= 10000 ? "met" : "NOT met",
        m->hub_cpu, m->member_cpu);
    printf("log       ingest without the Merkle log %s pkg/s (same run, "
        "benchmark-only archive flag): the log costs %.1f%% of it (target "
        "< 10%%: %s); hub CPU per package %.0f us with the log, %.0f us "
        "without: +%.1f%%\n", s_grouped(m->nolog_rate, g1, sizeof g1),
        m->log_overhead, m->log_overhead < 10.0 ? "met" : "NOT met",
        m->hub_us, m->nolog_us, m->log_cpu_overhead);
    printf("push idle p50 %.2f ms, p99 %.2f ms = %.2f x / %.2f x one durable "
        "commit (target p50 < 1 ms: %s)\n", m->idle_p50, m->idle_p99,
        m->idle_p50 / commit_ms, m->idle_p99 / commit_ms,
        m->idle_p50 < 1.0 ? "met" : "NOT met");
    printf("push load p50 %.2f ms, p99 %.2f ms = %.2f x / %.2f x one durable "
        "commit (one package at a time beside the load; the loading members' "
        "own p50 %.2f ms, p99 %.2f ms with %zu in flight)\n", m->load_p50,
        m->load_p99, m->load_p50 / commit_ms, m->load_p99 / commit_ms,
        m->win_p50, m->win_p99, b->o.window);
    printf("pull      %s pkg/s verified end to end = %.2f x Ed25519 verify/s "
        "on one core (one verification per package, the sender's, and one "
        "per page, the hub's head), %.2f x CurveZMQ msgs/s, %.1f s for %s\n",
        s_grouped(m->pull_rate, g1, sizeof g1), m->pull_rate / m->ed25519,
        m->pull_rate / m->curvezmq, m->pull_s,
        s_grouped((double)b->o.pull, g4, sizeof g4));
}

/* ------------------------------------------------------ hub, no log --- */

static volatile sig_atomic_t s_hub_stopping;

static void
s_on_term(int sig)
{
    (void)sig;
    s_hub_stopping = 1;
}

/* S_HUB_MODE KEYS KEYRING DB BIND NOTIFY PASSPHRASE-FILE LOG-LEVEL: the
 * hub as `csbm hub` runs it (hub_new, hub_run), its archive opened with
 * ARCHIVE_OPEN_BENCH_NO_LOG. Exit 0 after a clean stop (SIGTERM). */
static int
s_hub_without_log(int argc, char **argv)
{
    keyring_t       *kr = keyring_new();
    keys_secret_t   *sign = NULL, *transport = NULL;
    hub_options_t    o;
    hub_t           *hub = NULL;
    errbuf_t         err = {{0}};
    char             path[PATH_MAX + 64], pass[256];
    size_t           len = 0;
    struct sigaction sa;
    sigset_t         block, old;
    FILE            *f;
    int              rc = 2;

    if (argc != 9 || kr == NULL || sodium_init() < 0) {
        keyring_destroy(&kr);
        return 2;
    }
    log_open("csbm-hub", strcmp(argv[8], "debug") == 0 ? LOG_LEVEL_DEBUG
                         : strcmp(argv[8], "warn") == 0  ? LOG_LEVEL_WARN
                         : strcmp(argv[8], "error") == 0 ? LOG_LEVEL_ERROR
                                                         : LOG_LEVEL_INFO,
        0);
    if ((f = fopen(argv[7], "r")) != NULL) {
        if (fgets(pass, sizeof pass, f) != NULL)
            len = strcspn(pass, "\n");
        fclose(f);
    }
    if (len == 0) {
        errbuf_set(&err, "%s: no passphrase", argv[7]);
        goto done;
    }
    if (keys_path(path, sizeof path, argv[2], HUB_OWNER, KEYS_SIGN) != 0
        || (sign = keys_secret_load(path, KEYS_SIGN, pass, len, &err)) == NULL
        || keys_path(path, sizeof path, argv[2], HUB_OWNER, KEYS_TRANSPORT)
               != 0
        || (transport = keys_secret_load(path, KEYS_TRANSPORT, pass, len,
                &err)) == NULL
        || keyring_load_dir(kr, argv[3], &err) != 0)
        goto done;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    memset(&o, 0, sizeof o);
    o.federation = S_FED;
    o.data_path = argv[4];
    o.bind = argv[5];
    o.notify = argv[6];
    o.sign_key = sign;
    o.transport_key = transport;
    o.keyring = kr;
    o.archive_flags = ARCHIVE_OPEN_BENCH_NO_LOG;
    hub = hub_new(&o, &err);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (hub != NULL && hub_run(hub, &s_hub_stopping, &err) == 0)
        rc = 0;
done:
    if (rc != 0)
        log_error("%s", err.msg);
    sodium_memzero(pass, sizeof pass);
    hub_destroy(&hub);
    keys_secret_destroy(&sign);
    keys_secret_destroy(&transport);
    keyring_destroy(&kr);
    return rc;
}

/* -------------------------------------------------------------- main --- */

static void
s_usage(FILE *f)
{
    fprintf(f,
        "usage: csbm_bench [--runs N] [--json] [--quick] [--members N]\n"
        "                  [--packages N] [--window N] [--pull N]\n"
        "                  [--csbm PATH] [--log-level L] [--keep]\n"
        "\n"
        "Measure the hub's durable ingest rate, with its Merkle log and\n"
        "without it (the log's overhead), push latency idle and under load,\n"
        "and the pull rate of a member catching up, each beside the raw\n"
        "limits of this machine measured in the same run (node/bench_raw.c).\n"
        "The real `csbm hub` process runs on 127.0.0.1 with a SQLite archive\n"
        "in a temporary directory; the members speak CurveZMQ with their own\n"
        "keys, admitted by the hub's keyring.\n"
        "\n"
        "  --runs N       repeat N times (1..%d) and report medians (default 1)\n"
        "  --json         machine-readable output: every run and the medians\n"
        "  --quick        a small smoke run (seconds, not figures to quote)\n"
        "  --members N    concurrent pushing members (1..%d, default 8)\n"
        "  --packages N   packages pushed per run over all members\n"
        "                 (default 40000)\n"
        "  --window N     requests each member keeps in flight (default 64)\n"
        "  --pull N       packages the puller catches up on (default 100000)\n"
        "  --csbm PATH    the csbm program (default: beside this one)\n"
        "  --log-level L  the hub's log level (default info, as deployed)\n"
        "  --keep         keep the temporary directory (archives, hub logs)\n"
        "\n"
        "Exit status: 0 measured; 1 a push was not receipted, a receipt did\n"
        "not verify or a package is missing; 2 usage or setup error.\n"
        "Example: scripts/bench --runs 3\n", S_MAX_RUNS, S_MAX_MEMBERS);
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"runs", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {"quick", no_argument, NULL, 'q'},
        {"members", required_argument, NULL, 'm'},
        {"packages", required_argument, NULL, 'n'},
        {"window", required_argument, NULL, 'w'},
        {"pull", required_argument, NULL, 'p'},
        {"csbm", required_argument, NULL, 'c'},
        {"log-level", required_argument, NULL, 'l'},
        {"keep", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static s_bench_t b;
    s_result_t       res[S_MAX_RUNS], med;
    size_t           v;
    int              opt, i, status = 0, set_n = 0, set_pull = 0;

    if (argc > 1 && strcmp(argv[1], S_HUB_MODE) == 0)
        return s_hub_without_log(argc, argv);

    b.o.runs = 1;
    b.o.members = 8;
    b.o.ingest = 40000;
    b.o.window = 64;
    b.o.idle = 1000;
    b.o.pull = 100000;
    b.o.raw_s = 1.0;
    b.o.log_level = "info";
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'r':
            if (s_parse_size(optarg, 1, S_MAX_RUNS, &v) != 0)
                s_die("--runs %s: give 1 to %d", optarg, S_MAX_RUNS);
            b.o.runs = (int)v;
            break;
        case 'j': b.o.json = 1; break;
        case 'q': b.o.quick = 1; break;
        case 'm':
            if (s_parse_size(optarg, 1, S_MAX_MEMBERS, &b.o.members) != 0)
                s_die("--members %s: give 1 to %d", optarg, S_MAX_MEMBERS);
            break;
        case 'n':
            if (s_parse_size(optarg, 1, 10000000, &b.o.ingest) != 0)
                s_die("--packages %s: give 1 to 10000000", optarg);
            set_n = 1;
            break;
        case 'w':
            if (s_parse_size(optarg, 1, 1000, &b.o.window) != 0)
                s_die("--window %s: give 1 to 1000", optarg);
            break;
        case 'p':
            if (s_parse_size(optarg, 1, 10000000, &b.o.pull) != 0)
                s_die("--pull %s: give 1 to 10000000", optarg);
            set_pull = 1;
            break;
        case 'c': b.o.csbm = optarg; break;
        case 'l': b.o.log_level = optarg; break;
        case 'k': b.o.keep = 1; break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        s_usage(stderr);
        return 2;
    }
    if (b.o.quick) {
        if (!set_n)
            b.o.ingest = 2000;
        if (!set_pull)
            b.o.pull = 2000;
        b.o.idle = 100;
        b.o.raw_s = 0.2;
    }
    if (b.o.ingest < b.o.members)
        b.o.ingest = b.o.members;
    if (sodium_init() < 0)
        s_die("libsodium failed to initialise");
    signal(SIGPIPE, SIG_IGN);

    if (!b.o.json)
        fprintf(stderr, "csbm_bench: sealing %zu envelopes and filling the "
            "pull archive...\n", (b.o.members * ((b.o.pull > b.o.ingest
            ? b.o.pull : b.o.ingest) / b.o.members + 1)) + b.o.idle);
    s_setup(&b);
    s_seal_all(&b);
    s_fill_pull_archive(&b);

    for (i = 0; i < b.o.runs; i++) {
        s_result_t *r = &res[i];

        memset(r, 0, sizeof *r);
        if (!b.o.json)
            fprintf(stderr, "csbm_bench: run %d of %d...\n", i + 1, b.o.runs);
        r->ed25519 = bench_raw_ed25519_verify(b.o.raw_s);
        r->curvezmq = bench_raw_curvezmq(b.o.raw_s);
        r->commits = bench_raw_sqlite_commits(b.root, b.o.raw_s);
        if (s_run_ingest(&b, i + 1, r, 1) != 0)
            status = 1;
        {
            s_result_t nl;
            memset(&nl, 0, sizeof nl);
            if (s_run_ingest(&b, i + 1, &nl, 0) != 0)
                status = 1;
            r->nolog_rate = nl.ingest_rate;
            r->log_overhead = nl.ingest_rate > 0
                                  ? 100.0 * (1.0 - r->ingest_rate
                                                       / nl.ingest_rate)
                                  : 0;
            /* CPU per package moves less than the rate when other work
             * shares the cores. */
            r->hub_us = r->ingest_rate > 0 ? 1e6 * r->hub_cpu / r->ingest_rate
                                           : 0;
            r->nolog_us = nl.ingest_rate > 0
                              ? 1e6 * nl.hub_cpu / nl.ingest_rate
                              : 0;
            r->log_cpu_overhead = r->nolog_us > 0
                                      ? 100.0 * (r->hub_us / r->nolog_us - 1)
                                      : 0;
        }
        if (s_run_pull(&b, i + 1, r) != 0)
            status = 1;
        if (!b.o.json && b.o.runs > 1)
            fprintf(stderr, "csbm_bench:   ingest %.0f pkg/s (without the "
                "log %.0f, overhead %.1f%%; hub CPU %.0f / %.0f us per "
                "package), idle p50 %.2f ms, load p50 %.2f ms, pull %.0f "
                "pkg/s; raw Ed25519 %.0f/s, CurveZMQ %.0f/s, commits %.0f/s\n",
                r->ingest_rate, r->nolog_rate, r->log_overhead, r->hub_us,
                r->nolog_us, r->idle_p50, r->load_p50, r->pull_rate,
                r->ed25519, r->curvezmq, r->commits);
    }
    s_median(res, b.o.runs, &med);
    if (b.o.json)
        s_print_json(&b, res, b.o.runs, &med);
    else
        s_print_text(&b, &med, b.o.runs);

    zmq_ctx_term(b.zctx);
    for (v = 0; v < b.o.members * b.per_member; v++)
        free(b.pool[v].env);
    for (v = 0; v < b.n_probe; v++)
        free(b.probe_pool[v].env);
    free(b.pool);
    free(b.probe_pool);
    sodium_memzero(b.m, sizeof b.m);
    sodium_memzero(&b.probe, sizeof b.probe);
    if (b.o.keep)
        fprintf(stderr, "csbm_bench: kept %s\n", b.root);
    s_rmtree(b.root);
    if (status != 0)
        fprintf(stderr, "csbm_bench: the exchange misbehaved (above); the "
            "figures are not valid\n");
    return status;
}
