/*
 * audit_verify: `csbm audit verify` — the archive checked against its own
 * tamper-evident log (see audit_verify.h, docs/FORMAT-merkle.md).
 *
 * Three streaming passes over the read-only archive:
 *   1. the log in leaf order, joined with the archive row of each package
 *      leaf, with the signed heads stepped alongside by size;
 *   2. the archive in position order (contiguity, every row a leaf);
 *   3. the cosignatures against the heads they name.
 *
 * Pass 1 splits the work by cost. This thread reads the rows and does
 * everything that needs order or the database: the envelope's SHA-256,
 * the leaf, the frontier, the stored subtree nodes, the heads. The two
 * Ed25519 verifications of each package (its envelope, its receipt) go
 * to a pool of verifier threads in batches: a batch owns copies of its
 * rows' envelopes and receipts and the problems found in them, and
 * travels by pointer over ZeroMQ inproc pipes (this thread -> PUSH ->
 * verifiers -> PUSH -> this thread), so no state is shared. At most
 * 2 x threads + 1 batches are out at once, each of at most
 * AUDIT_BATCH_ITEMS rows or about AUDIT_BATCH_BYTES: memory does not grow
 * with the archive. Batches come back in any order and are reported in
 * order, each row's problems as a single-threaded pass would find them.
 */
#include "node/audit_verify.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "crypto/merkle.h"
#include "crypto/receipt.h"
#include "crypto/sha256.h"
#include "crypto/treehead.h"
#include "node/cli.h"
#include "node/cmd_audit.h"
#include "node/hub.h"

#define S_PROGRESS_EVERY 10000 /* leaves between progress lines */
#define S_WHAT_MAX       1024  /* one problem's text */

/* When a row's problem was found: before its signatures are checked, or
 * after (the leaf, the tree, the heads). */
enum { S_PRE = 0, S_POST = 1 };

/* Problems kept until their batch is reported. */
typedef struct {
    int64_t leaf, position;
    int     slot;  /* the row of the batch, -1 before its first */
    int     phase; /* S_PRE or S_POST */
    size_t  off;   /* of the text in text[] */
} s_note_t;

typedef struct {
    s_note_t *v;
    size_t    n, cap;
    char     *text;
    size_t    len, tcap;
    size_t    lost; /* problems not kept: out of memory */
} s_notes_t;

/* One package row for the verifiers; its bytes are in the batch's data. */
typedef struct {
    int64_t idx, pos, accepted;
    int     verify; /* a package row: check its signatures */
    size_t  env_off, env_len, rcpt_off, rcpt_len;
    uint8_t hash[32]; /* SHA-256 of the envelope */
    int     have_sender;
    char    sender[ENVELOPE_ID_MAX + 1];
} s_item_t;

typedef struct {
    uint64_t  seq;
    size_t    n;
    s_item_t  items[AUDIT_BATCH_ITEMS];
    uint8_t  *data;
    size_t    len, cap;
    s_notes_t reader; /* this thread's problems */
    s_notes_t verify; /* the verifier's, per row in order */
} s_batch_t;

typedef struct {
    sqlite3               *db;
    const char            *path;
    const char            *federation;
    const keyring_t       *kr;
    audit_problem_fn       fn;
    void                  *ctx;
    audit_verify_report_t *rep;
    sqlite3_stmt          *node_st;
    int64_t                leaf;  /* the leaf being checked, for s_node_cmp */
    int                    phase; /* of the problems found now */
    /* pass 1's pool */
    s_batch_t             *cur;   /* being filled; NULL outside pass 1 */
    void                  *zctx, *work, *done;
    pthread_t              th[AUDIT_THREADS_MAX];
    unsigned               n_threads;
    s_batch_t            **ready; /* [window]: done, by seq % window */
    s_batch_t            **free_list;
    size_t                 window, n_free;
    size_t                 out; /* submitted, not yet reported */
    uint64_t               next_seq, next_emit;
    int                    broken; /* a pipe failed: stop */
    /* The heads pass 1 found a problem with (off the verified chain),
     * ascending. */
    int64_t               *bad;
    size_t                 n_bad, cap_bad;
    int                    bad_lost; /* out of memory: trust no chain */
} s_audit_t;

/* What a verifier thread needs: read-only. */
typedef struct {
    const char      *federation;
    const keyring_t *kr;
    void            *zctx;
    char             work_ep[64], done_ep[64];
} s_pool_t;

/* --------------------------------------------------------- problems --- */

static int
s_note_vadd(s_notes_t *ns, int64_t leaf, int64_t position, int slot,
    int phase, const char *fmt, va_list ap)
{
    char     what[S_WHAT_MAX];
    size_t   len;
    s_note_t *n;

    vsnprintf(what, sizeof what, fmt, ap);
    len = strlen(what) + 1;
    if (ns->n == ns->cap) {
        size_t    cap = ns->cap ? ns->cap * 2 : 16;
        s_note_t *v = realloc(ns->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        ns->v = v;
        ns->cap = cap;
    }
    if (ns->len + len > ns->tcap) {
        size_t cap = ns->tcap ? ns->tcap : 4096;
        char  *t;
        while (cap < ns->len + len)
            cap *= 2;
        if ((t = realloc(ns->text, cap)) == NULL)
            return -1;
        ns->text = t;
        ns->tcap = cap;
    }
    memcpy(ns->text + ns->len, what, len);
    n = &ns->v[ns->n++];
    n->leaf = leaf;
    n->position = position;
    n->slot = slot;
    n->phase = phase;
    n->off = ns->len;
    ns->len += len;
    return 0;
}

static void
s_note_add(s_notes_t *ns, int64_t leaf, int64_t position, int slot,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
s_note_add(s_notes_t *ns, int64_t leaf, int64_t position, int slot,
    const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (s_note_vadd(ns, leaf, position, slot, S_PRE, fmt, ap) != 0)
        ns->lost++;
    va_end(ap);
}

static void
s_notes_free(s_notes_t *ns)
{
    free(ns->v);
    free(ns->text);
    memset(ns, 0, sizeof *ns);
}

static void
s_emit(s_audit_t *a, int64_t leaf, int64_t position, const char *what)
{
    a->rep->problems++;
    if (a->fn != NULL)
        a->fn(leaf, position, what, a->ctx);
}

static void
s_problem(s_audit_t *a, int64_t leaf, int64_t position, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A problem: reported now, or kept with the row being read in pass 1. */
static void
s_problem(s_audit_t *a, int64_t leaf, int64_t position, const char *fmt, ...)
{
    char    what[S_WHAT_MAX];
    va_list ap;
    int     rc = -1;

    va_start(ap, fmt);
    if (a->cur != NULL)
        rc = s_note_vadd(&a->cur->reader, leaf, position,
            (int)a->cur->n - 1, a->phase, fmt, ap);
    else
        vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (a->cur == NULL)
        s_emit(a, leaf, position, what);
    else if (rc != 0)
        s_emit(a, leaf, position, "out of memory keeping a problem");
}

/* Report a batch's problems in row order: for each row what this thread
 * found before the signatures, the verifier's, then the rest. */
static void
s_report_batch(s_audit_t *a, s_batch_t *b)
{
    const s_notes_t *r = &b->reader, *v = &b->verify;
    size_t           ri = 0, vi = 0, i;

    for (i = 0; i < b->n || ri < r->n; i++) {
        while (ri < r->n
            && (r->v[ri].slot < (int)i
                || (r->v[ri].slot == (int)i && r->v[ri].phase == S_PRE))) {
            s_emit(a, r->v[ri].leaf, r->v[ri].position, r->text + r->v[ri].off);
            ri++;
        }
        while (vi < v->n && v->v[vi].slot <= (int)i) {
            s_emit(a, v->v[vi].leaf, v->v[vi].position, v->text + v->v[vi].off);
            vi++;
        }
        while (ri < r->n && r->v[ri].slot == (int)i) {
            s_emit(a, r->v[ri].leaf, r->v[ri].position, r->text + r->v[ri].off);
            ri++;
        }
    }
    while (vi < v->n) {
        s_emit(a, v->v[vi].leaf, v->v[vi].position, v->text + v->v[vi].off);
        vi++;
    }
    for (i = 0; i < v->lost; i++)
        s_emit(a, b->n > 0 ? b->items[0].idx : -1, -1, "a problem in this "
            "batch of leaves could not be kept: out of memory");
}

/* ------------------------------------------------------- verifiers --- */

/* The hub's public signing key that signed s (by key id), valid at at. */
static const keyring_key_t *
s_hub_key(const keyring_t *kr, const Csbm__Signed *s, int64_t at,
    errbuf_t *err)
{
    const keyring_key_t *k = NULL;

    if (s == NULL || s->hub_key_id.len != KEYS_ID_BYTES) {
        errbuf_set(err, "no hub key id");
        return NULL;
    }
    if (keyring_signer(kr, HUB_OWNER, s->hub_key_id.data, at, &k, err) != 0)
        return NULL;
    return k;
}

/* A package row's signature, the envelope's (the hub's own
 * hub_verify_submit, sender's key as of creation), and its receipt, which
 * must name a hub key valid then and describe this row. The receipt's
 * bytes are signed through the row's leaf (s_check_package binds them in
 * the entry it recomputes). v is scratch space. */
static void
s_verify_item(const s_pool_t *p, s_batch_t *b, int slot, hub_verdict_t *v)
{
    const s_item_t *it = &b->items[slot];
    const uint8_t  *env = b->data + it->env_off;
    const char     *sender = it->have_sender ? it->sender : "";
    Csbm__Signed   *s = NULL;
    Csbm__Receipt  *r = NULL;
    const keyring_key_t *k = NULL;
    errbuf_t        why = {{0}};

    if (hub_verify_submit(p->kr, p->federation, sender, env, it->env_len,
            it->accepted, v) != 0)
        s_note_add(&b->verify, it->idx, it->pos, slot, "the envelope does "
            "not verify: %s: %s", receipt_reason_name(v->reason), v->message);
    if (it->rcpt_len > 0)
        s = csbm__signed__unpack(NULL, it->rcpt_len, b->data + it->rcpt_off);
    if (s == NULL) {
        s_note_add(&b->verify, it->idx, it->pos, slot, "no readable receipt");
    } else if ((k = s_hub_key(p->kr, s, it->accepted, &why)) == NULL
               || receipt_parse(s, &r, &why) != 0) {
        s_note_add(&b->verify, it->idx, it->pos, slot, "receipt: %s",
            why.msg);
    } else if (r->position != (uint64_t)it->pos
               || r->accepted_at != (uint64_t)it->accepted
               || r->log_index != (uint64_t)it->idx
               || r->envelope_hash.len != 32
               || memcmp(r->envelope_hash.data, it->hash, 32) != 0
               || strcmp(r->federation, p->federation) != 0
               || !it->have_sender || strcmp(r->sender, it->sender) != 0
               || (v->have_id
                   && (r->package_id.len != ENVELOPE_ID_BYTES
                       || memcmp(r->package_id.data, v->package_id,
                              ENVELOPE_ID_BYTES) != 0))) {
        s_note_add(&b->verify, it->idx, it->pos, slot, "the receipt "
            "(position %llu, leaf %llu) does not describe this row and "
            "envelope", (unsigned long long)r->position,
            (unsigned long long)r->log_index);
    }
    if (r != NULL)
        csbm__receipt__free_unpacked(r, NULL);
    if (s != NULL)
        csbm__signed__free_unpacked(s, NULL);
}

static int
s_send_ptr(void *sock, void *ptr)
{
    return zmq_send(sock, &ptr, sizeof ptr, 0) == (int)sizeof ptr ? 0 : -1;
}

/* The next pointer from sock; -1 if the pipe failed. */
static int
s_recv_ptr(void *sock, void **ptr)
{
    for (;;) {
        int n = zmq_recv(sock, ptr, sizeof *ptr, 0);
        if (n == (int)sizeof *ptr)
            return 0;
        if (n < 0 && zmq_errno() == EINTR)
            continue;
        return -1;
    }
}

/* A verifier: batches in, the same batches out, until the context ends. */
static void *
s_verifier(void *arg)
{
    const s_pool_t *p = arg;
    void           *in = zmq_socket(p->zctx, ZMQ_PULL);
    void           *out = zmq_socket(p->zctx, ZMQ_PUSH);
    hub_verdict_t  *v = malloc(sizeof *v);
    int             linger = 0;

    if (in == NULL || out == NULL || v == NULL
        || zmq_connect(in, p->work_ep) != 0
        || zmq_connect(out, p->done_ep) != 0)
        goto done;
    for (;;) {
        s_batch_t *b = NULL;
        size_t     i;
        if (s_recv_ptr(in, (void **)&b) != 0 || b == NULL)
            break;
        for (i = 0; i < b->n; i++)
            if (b->items[i].verify)
                s_verify_item(p, b, (int)i, v);
        if (s_send_ptr(out, b) != 0)
            break;
    }
done:
    free(v);
    if (in != NULL) {
        zmq_setsockopt(in, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(in);
    }
    if (out != NULL) { /* everything it sent was taken before the end */
        zmq_setsockopt(out, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(out);
    }
    return NULL;
}

static void
s_batch_destroy(s_batch_t **self_p)
{
    if (*self_p == NULL)
        return;
    free((*self_p)->data);
    s_notes_free(&(*self_p)->reader);
    s_notes_free(&(*self_p)->verify);
    free(*self_p);
    *self_p = NULL;
}

/* An empty batch: a recycled one, or a new one. NULL if out of memory. */
static s_batch_t *
s_batch_get(s_audit_t *a)
{
    s_batch_t *b;

    if (a->n_free > 0) {
        b = a->free_list[--a->n_free];
        b->n = 0;
        b->len = 0;
        b->reader.n = b->reader.len = b->reader.lost = 0;
        b->verify.n = b->verify.len = b->verify.lost = 0;
        /* An oversized envelope made the buffer grow: give it back. */
        if (b->cap > 2 * AUDIT_BATCH_BYTES) {
            free(b->data);
            b->data = NULL;
            b->cap = 0;
        }
    } else if ((b = calloc(1, sizeof *b)) == NULL) {
        return NULL;
    }
    b->seq = a->next_seq++;
    return b;
}

/* Take one batch back from the verifiers and report every batch now due,
 * in order. */
static int
s_collect_one(s_audit_t *a)
{
    s_batch_t *b = NULL;

    if (s_recv_ptr(a->done, (void **)&b) != 0 || b == NULL) {
        a->broken = 1;
        return -1;
    }
    /* A batch counts against the window until it is reported: one that
     * came back early waits in ready[] for those before it, and seq -
     * next_emit < window keeps its slot free. */
    a->ready[b->seq % a->window] = b;
    while ((b = a->ready[a->next_emit % a->window]) != NULL
        && b->seq == a->next_emit) {
        a->ready[a->next_emit % a->window] = NULL;
        s_report_batch(a, b);
        a->free_list[a->n_free++] = b;
        a->next_emit++;
        a->out--;
    }
    return 0;
}

/* Hand the current batch to the verifiers (waiting while the window is
 * full) and start a new one. */
static int
s_submit(s_audit_t *a, errbuf_t *err)
{
    s_batch_t *b = a->cur;

    a->cur = NULL;
    while (a->out >= a->window)
        if (s_collect_one(a) != 0)
            goto broken;
    if (s_send_ptr(a->work, b) != 0) {
        s_batch_destroy(&b);
        goto broken;
    }
    a->out++;
    if ((a->cur = s_batch_get(a)) == NULL) {
        errbuf_set(err, "out of memory");
        return -1;
    }
    return 0;
broken:
    errbuf_set(err, "the verifier threads stopped: %s",
        zmq_strerror(zmq_errno()));
    return -1;
}

/* Wait for every batch out. */
static int
s_drain(s_audit_t *a)
{
    while (a->out > 0 && !a->broken)
        if (s_collect_one(a) != 0)
            return -1;
    return 0;
}

static unsigned
s_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : n > AUDIT_THREADS_MAX ? AUDIT_THREADS_MAX : (unsigned)n;
}

static int
s_pool_start(s_audit_t *a, s_pool_t *p, unsigned threads, errbuf_t *err)
{
    int      hwm = 0;
    unsigned i;

    a->window = 2 * (size_t)threads + 1;
    a->ready = calloc(a->window, sizeof *a->ready);
    a->free_list = calloc(a->window + 1, sizeof *a->free_list);
    p->federation = a->federation;
    p->kr = a->kr;
    snprintf(p->work_ep, sizeof p->work_ep, "inproc://audit-work-%p",
        (void *)a);
    snprintf(p->done_ep, sizeof p->done_ep, "inproc://audit-done-%p",
        (void *)a);
    if (a->ready == NULL || a->free_list == NULL
        || (p->zctx = a->zctx = zmq_ctx_new()) == NULL
        || (a->work = zmq_socket(a->zctx, ZMQ_PUSH)) == NULL
        || (a->done = zmq_socket(a->zctx, ZMQ_PULL)) == NULL
        || zmq_setsockopt(a->work, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0
        || zmq_setsockopt(a->done, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0
        || zmq_bind(a->work, p->work_ep) != 0
        || zmq_bind(a->done, p->done_ep) != 0) {
        errbuf_set(err, "cannot set up the verifier threads: %s",
            zmq_strerror(zmq_errno()));
        return -1;
    }
    for (i = 0; i < threads; i++) {
        if (pthread_create(&a->th[i], NULL, s_verifier, p) != 0) {
            errbuf_set(err, "cannot start a verifier thread");
            return -1;
        }
        a->n_threads++;
    }
    if ((a->cur = s_batch_get(a)) == NULL) {
        errbuf_set(err, "out of memory");
        return -1;
    }
    return 0;
}

/* Stop the verifiers (after s_drain, or on failure) and free the pool. */
static void
s_pool_stop(s_audit_t *a)
{
    unsigned i;
    int      linger = 0;
    size_t   k;

    while (a->out > 0 && !a->broken) /* batches still out, after a failure */
        if (s_collect_one(a) != 0)
            break;
    /* Nothing is out: ending the context wakes every verifier from its
     * wait (ETERM). A stop message each would not do: PUSH may hand both
     * to one verifier whose pipe was connected first. */
    if (a->zctx != NULL)
        zmq_ctx_shutdown(a->zctx);
    for (i = 0; i < a->n_threads; i++)
        pthread_join(a->th[i], NULL);
    a->n_threads = 0;
    if (a->work != NULL) {
        zmq_setsockopt(a->work, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(a->work);
    }
    if (a->done != NULL) {
        zmq_setsockopt(a->done, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(a->done);
    }
    if (a->zctx != NULL)
        zmq_ctx_term(a->zctx);
    a->work = a->done = a->zctx = NULL;
    s_batch_destroy(&a->cur);
    for (k = 0; a->ready != NULL && k < a->window; k++)
        s_batch_destroy(&a->ready[k]);
    for (k = 0; k < a->n_free; k++)
        s_batch_destroy(&a->free_list[k]);
    free(a->ready);
    free(a->free_list);
    a->ready = a->free_list = NULL;
    a->n_free = 0;
}

/* ----------------------------------------------------------- pass 1 --- */

/* merkle_node_fn: compare each completed subtree with the stored one. */
static int
s_node_cmp(void *ctx, unsigned level, uint64_t index,
    const uint8_t hash[MERKLE_HASH_BYTES])
{
    s_audit_t    *a = ctx;
    sqlite3_stmt *st = a->node_st;
    int           rc;

    if (level == 0)
        return 0;
    sqlite3_bind_int(st, 1, (int)level);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)index);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        s_problem(a, a->leaf, -1, "subtree node (level %u, index %llu) is "
            "missing; proofs served from it are wrong", level,
            (unsigned long long)index);
    else if (sqlite3_column_bytes(st, 0) != MERKLE_HASH_BYTES
             || memcmp(sqlite3_column_blob(st, 0), hash, MERKLE_HASH_BYTES)
                 != 0)
        s_problem(a, a->leaf, -1, "subtree node (level %u, index %llu) "
            "differs from the one recomputed from the leaves", level,
            (unsigned long long)index);
    sqlite3_reset(st);
    return 0;
}

/* A head with a problem: not on the verified chain of heads. */
static void
s_head_bad(s_audit_t *a, int64_t size)
{
    if (a->n_bad > 0 && a->bad[a->n_bad - 1] == size)
        return;
    if (a->n_bad == a->cap_bad) {
        size_t   cap = a->cap_bad ? a->cap_bad * 2 : 16;
        int64_t *v = realloc(a->bad, cap * sizeof *v);
        if (v == NULL) {
            a->bad_lost = 1;
            return;
        }
        a->bad = v;
        a->cap_bad = cap;
    }
    a->bad[a->n_bad++] = size;
}

/* Whether pass 1 found a problem with the head of this size. */
static int
s_head_is_bad(const s_audit_t *a, int64_t size)
{
    size_t lo = 0, hi = a->n_bad;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->bad[mid] == size)
            return 1;
        if (a->bad[mid] < size)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* One stored head: signature, fields, origin, time order. */
static void
s_check_head(s_audit_t *a, sqlite3_stmt *hs, int64_t *last_ts,
    treehead_t *th)
{
    const void   *blob = sqlite3_column_blob(hs, 3);
    int           n = sqlite3_column_bytes(hs, 3);
    uint64_t      size = (uint64_t)sqlite3_column_int64(hs, 0);
    Csbm__Signed *s = blob != NULL && n > 0
        ? csbm__signed__unpack(NULL, (size_t)n, blob)
        : NULL;
    errbuf_t      why = {{0}};
    const keyring_key_t *k;

    memset(th, 0, sizeof *th);
    a->rep->heads++;
    a->rep->newest_size = size;
    a->rep->newest_timestamp = sqlite3_column_int64(hs, 1);
    if (s == NULL) {
        s_head_bad(a, (int64_t)size);
        s_problem(a, (int64_t)size - 1, -1, "tree head of size %llu: the "
            "signed head does not parse", (unsigned long long)size);
        return;
    }
    if (treehead_decode(s->statement.data, s->statement.len, th, &why) != 0
        || (k = s_hub_key(a->kr, s, th->timestamp, &why)) == NULL
        || treehead_verify(s, k->pub.sign_pk, th, &why) != 0) {
        s_head_bad(a, (int64_t)size);
        s_problem(a, (int64_t)size - 1, -1, "tree head of size %llu: %s",
            (unsigned long long)size, why.msg);
    } else {
        if (th->size != size || th->timestamp != sqlite3_column_int64(hs, 1)
            || sqlite3_column_bytes(hs, 2) != MERKLE_HASH_BYTES
            || memcmp(sqlite3_column_blob(hs, 2), th->root,
                   MERKLE_HASH_BYTES) != 0) {
            s_head_bad(a, (int64_t)size);
            s_problem(a, (int64_t)size - 1, -1, "tree head of size %llu: the "
                "stored size, time or root differ from the signed head",
                (unsigned long long)size);
        }
        if (strcmp(th->origin, a->federation) != 0) {
            s_head_bad(a, (int64_t)size);
            s_problem(a, (int64_t)size - 1, -1, "tree head of size %llu is "
                "of the log of \"%s\"", (unsigned long long)size, th->origin);
        }
        if (th->timestamp < *last_ts) {
            s_head_bad(a, (int64_t)size);
            s_problem(a, (int64_t)size - 1, -1, "tree head of size %llu is "
                "older than the head before it", (unsigned long long)size);
        }
        *last_ts = th->timestamp;
    }
    csbm__signed__free_unpacked(s, NULL);
}

/* Copy len bytes into the batch; their offset into *off. */
static int
s_batch_copy(s_batch_t *b, const void *src, size_t len, size_t *off)
{
    if (b->len + len > b->cap) {
        size_t   cap = b->cap ? b->cap : AUDIT_BATCH_BYTES + 64 * 1024;
        uint8_t *d;
        while (cap < b->len + len)
            cap *= 2;
        if ((d = realloc(b->data, cap)) == NULL)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    *off = b->len;
    if (len > 0)
        memcpy(b->data + b->len, src, len);
    b->len += len;
    return 0;
}

/* A package leaf against its archive row: this thread checks that the
 * envelope matches its hash and the row names this leaf, recomputes the
 * entry (written to entry) and queues the row's signatures for the
 * verifiers. */
static void
s_check_package(s_audit_t *a, sqlite3_stmt *st, s_item_t *it,
    uint8_t entry[TREEHEAD_LEAF_PACKAGE_BYTES])
{
    const uint8_t       *env = sqlite3_column_blob(st, 6);
    size_t               env_len = (size_t)sqlite3_column_bytes(st, 6);
    const unsigned char *sender = sqlite3_column_text(st, 11);
    const void          *rb = sqlite3_column_blob(st, 9);
    size_t               rl = (size_t)sqlite3_column_bytes(st, 9);

    uint8_t              rh[32];
    Csbm__Signed        *s = NULL;

    a->rep->packages++;
    it->accepted = sqlite3_column_int64(st, 8);
    receipt_envelope_hash(env, env_len, it->hash);
    /* The receipt's statement as stored; an unreadable one leaves a leaf
     * that cannot match (and s_verify_item reports it). */
    memset(rh, 0, sizeof rh);
    if (rb != NULL && rl > 0
        && (s = csbm__signed__unpack(NULL, rl, rb)) != NULL) {
        sha256(s->statement.data, s->statement.len, rh);
        csbm__signed__free_unpacked(s, NULL);
    }
    treehead_leaf_package((uint64_t)it->pos, it->accepted, it->hash, rh,
        entry);
    if (sqlite3_column_bytes(st, 7) != 32
        || memcmp(sqlite3_column_blob(st, 7), it->hash, 32) != 0)
        s_problem(a, it->idx, it->pos, "the envelope's SHA-256 differs from "
            "the stored envelope hash: the envelope bytes were changed");
    if (sqlite3_column_int64(st, 10) != it->idx
        || sqlite3_column_type(st, 10) == SQLITE_NULL)
        s_problem(a, it->idx, it->pos, "the archive row names leaf %lld, the "
            "log has it at leaf %lld (rows reordered?)",
            (long long)sqlite3_column_int64(st, 10), (long long)it->idx);
    it->have_sender = sender != NULL
        && strlen((const char *)sender) < sizeof it->sender;
    if (it->have_sender)
        snprintf(it->sender, sizeof it->sender, "%s", (const char *)sender);
    if (s_batch_copy(a->cur, env, env_len, &it->env_off) != 0
        || s_batch_copy(a->cur, rb, rb != NULL ? rl : 0, &it->rcpt_off)
            != 0) {
        s_problem(a, it->idx, it->pos, "out of memory checking the envelope");
        return;
    }
    it->env_len = env_len;
    it->rcpt_len = rb != NULL ? rl : 0;
    it->verify = 1;
}

static sqlite3_stmt *
s_prepare(s_audit_t *a, const char *sql, errbuf_t *err)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK) {
        errbuf_set(err, "%s: %s", a->path, sqlite3_errmsg(a->db));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* Pass 1: the log, with the heads alongside. */
static int
s_pass_log(s_audit_t *a, FILE *progress, errbuf_t *err)
{
    sqlite3_stmt     *st, *hs;
    merkle_frontier_t f;
    treehead_t        th;
    int64_t           expect = 0, last_ts = 0, head_size = -1;
    int               rc, hrc, failed = 0;
    uint8_t           root[MERKLE_HASH_BYTES];

    st = s_prepare(a, "SELECT l.idx, l.kind, l.position, l.at, l.entry, "
        "l.leaf_hash, a.envelope, a.envelope_hash, a.accepted_at, a.receipt, "
        "a.log_index, a.sender, a.position FROM log l LEFT JOIN archive a "
        "ON l.kind = 1 AND a.position = l.position ORDER BY l.idx", err);
    hs = s_prepare(a, "SELECT size, timestamp, root, signed FROM heads "
        "ORDER BY size", err);
    if (st == NULL || hs == NULL) {
        sqlite3_finalize(st);
        sqlite3_finalize(hs);
        return -1;
    }
    merkle_frontier_init(&f);
    a->phase = S_POST;
    hrc = sqlite3_step(hs);
    if (hrc == SQLITE_ROW) {
        s_check_head(a, hs, &last_ts, &th);
        head_size = sqlite3_column_int64(hs, 0);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t        idx = sqlite3_column_int64(st, 0);
        int            kind = sqlite3_column_int(st, 1);
        int64_t        pos = sqlite3_column_int64(st, 2);
        const uint8_t *entry = sqlite3_column_blob(st, 4);
        size_t         elen = (size_t)sqlite3_column_bytes(st, 4);
        uint8_t        mine[TREEHEAD_LEAF_PACKAGE_BYTES];
        uint8_t        leaf[MERKLE_HASH_BYTES];
        int            ekind = 0;
        errbuf_t       why = {{0}};
        s_item_t      *it;

        if (a->cur->n == AUDIT_BATCH_ITEMS || a->cur->len >= AUDIT_BATCH_BYTES)
            if (s_submit(a, err) != 0) {
                failed = 1;
                break;
            }
        it = &a->cur->items[a->cur->n++];
        memset(it, 0, sizeof *it);
        it->idx = idx;
        it->pos = pos;
        a->leaf = idx;
        a->phase = S_PRE;
        if (idx != expect) {
            s_problem(a, expect, -1, "the log jumps from leaf %lld to leaf "
                "%lld: leaves deleted", (long long)expect - 1,
                (long long)idx);
            expect = idx; /* the tree can no longer match its heads */
        }
        a->rep->leaves++;
        if (entry == NULL
            || treehead_leaf_check(entry, elen, &ekind, &why) != 0
            || ekind != kind) {
            s_problem(a, idx, pos > 0 ? pos : -1, "the leaf entry is "
                "malformed or of another kind: %s", why.msg);
            entry = NULL;
        }
        if (kind == TREEHEAD_LEAF_PACKAGE) {
            if (sqlite3_column_type(st, 12) == SQLITE_NULL) {
                s_problem(a, idx, pos, "the package at position %lld is "
                    "missing from the archive (row deleted)", (long long)pos);
                a->phase = S_POST;
            } else {
                s_check_package(a, st, it, mine);
                a->phase = S_POST;
                if (entry != NULL && (elen != sizeof mine
                                         || memcmp(entry, mine, elen) != 0))
                    s_problem(a, idx, pos, "the leaf differs from the "
                        "archived package: its position, acceptance time, "
                        "envelope or receipt changed");
                entry = mine;
                elen = sizeof mine;
            }
        } else {
            a->phase = S_POST;
            a->rep->pulls++;
        }
        if (entry != NULL) {
            merkle_leaf_hash(entry, elen, leaf);
        } else {
            memset(leaf, 0, sizeof leaf);
        }
        if (sqlite3_column_bytes(st, 5) != MERKLE_HASH_BYTES
            || memcmp(sqlite3_column_blob(st, 5), leaf, MERKLE_HASH_BYTES)
                != 0)
            s_problem(a, idx, pos > 0 ? pos : -1, "the stored leaf hash "
                "differs from the leaf recomputed from the archive");
        if (merkle_frontier_append_nodes(&f, leaf, s_node_cmp, a, &why)
            != 0) {
            errbuf_set(err, "%s", why.msg);
            failed = 1;
            break;
        }
        expect++;
        /* Every head of this size must have the recomputed root. */
        while (hrc == SQLITE_ROW && head_size <= (int64_t)f.size) {
            if (head_size == (int64_t)f.size) {
                merkle_frontier_root(&f, root);
                if (memcmp(root, th.root, MERKLE_HASH_BYTES) != 0) {
                    s_head_bad(a, head_size);
                    s_problem(a, head_size - 1, -1, "the signed tree head "
                        "of size %lld has another root than the tree "
                        "recomputed from the archive", (long long)head_size);
                }
            } else {
                s_head_bad(a, head_size);
                s_problem(a, head_size - 1, -1, "the signed tree head of "
                    "size %lld matches no point of the log",
                    (long long)head_size);
            }
            hrc = sqlite3_step(hs);
            if (hrc == SQLITE_ROW) {
                s_check_head(a, hs, &last_ts, &th);
                head_size = sqlite3_column_int64(hs, 0);
            }
        }
        if (progress != NULL && a->rep->leaves % S_PROGRESS_EVERY == 0)
            fprintf(progress, "audit: %llu leaves checked, %llu problem%s\n",
                (unsigned long long)a->rep->leaves,
                (unsigned long long)a->rep->problems,
                a->rep->problems == 1 ? "" : "s");
    }
    while (!failed && hrc == SQLITE_ROW) {
        s_head_bad(a, head_size);
        s_problem(a, head_size - 1, -1, "the signed tree head of size %lld "
            "covers more leaves than the log holds (%llu): the log was "
            "truncated", (long long)head_size, (unsigned long long)f.size);
        hrc = sqlite3_step(hs);
        if (hrc == SQLITE_ROW) {
            s_check_head(a, hs, &last_ts, &th);
            head_size = sqlite3_column_int64(hs, 0);
        }
    }
    if (failed) {
        rc = -1;
    } else if ((rc != SQLITE_DONE && rc != SQLITE_ROW)
               || (hrc != SQLITE_DONE && hrc != SQLITE_ROW)) {
        errbuf_set(err, "%s: reading the log: %s", a->path,
            sqlite3_errmsg(a->db));
        rc = -1;
    } else if (s_submit(a, err) != 0 || s_drain(a) != 0) {
        if (a->broken)
            errbuf_set(err, "the verifier threads stopped");
        rc = -1;
    } else {
        rc = 0;
    }
    sqlite3_finalize(st);
    sqlite3_finalize(hs);
    return rc;
}

/* Pass 2: positions contiguous, every row a package leaf. */
static int
s_pass_archive(s_audit_t *a, errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(a, "SELECT a.position, a.log_index, "
        "l.kind, l.position FROM archive a LEFT JOIN log l "
        "ON l.idx = a.log_index ORDER BY a.position", err);
    int64_t       expect = 1;
    int           rc;

    if (st == NULL)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t pos = sqlite3_column_int64(st, 0);
        if (pos != expect)
            s_problem(a, -1, expect, "positions jump from %lld to %lld: "
                "archived packages are missing", (long long)expect - 1,
                (long long)pos);
        if (sqlite3_column_type(st, 2) == SQLITE_NULL
            || sqlite3_column_int(st, 2) != TREEHEAD_LEAF_PACKAGE
            || sqlite3_column_int64(st, 3) != pos)
            s_problem(a, sqlite3_column_int64(st, 1), pos, "the package is "
                "not a leaf of the log at the index its row names");
        expect = pos + 1;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        errbuf_set(err, "%s: reading the archive: %s", a->path,
            sqlite3_errmsg(a->db));
        return -1;
    }
    return 0;
}

/* The valid cosignatures of one head so far (pass 3). */
typedef struct {
    int64_t size;
    size_t  valid;
} s_tally_t;

/* A witness and the newest head on the verified chain it validly
 * cosigned (pass 3). */
typedef struct {
    char    name[KEYS_OWNER_MAX + 1];
    int64_t newest;
} s_witness_t;

typedef struct {
    s_witness_t *v;
    size_t       n, cap;
} s_witnesses_t;

/* A head off the verified chain is witnessed only by its own valid
 * cosignatures, as it cannot borrow a later head's. */
static void
s_tally_close(s_audit_t *a, const s_tally_t *t)
{
    if (t->size > 0 && t->valid >= a->rep->quorum && !a->bad_lost
        && s_head_is_bad(a, t->size))
        a->rep->heads_witnessed++;
}

/* Note that w validly cosigned the head of this size on the verified
 * chain. */
static int
s_witness_note(s_witnesses_t *ws, const char *w, int64_t size)
{
    size_t i;

    for (i = 0; i < ws->n; i++)
        if (strcmp(ws->v[i].name, w) == 0) {
            if (size > ws->v[i].newest)
                ws->v[i].newest = size;
            return 0;
        }
    if (ws->n == ws->cap) {
        size_t       cap = ws->cap ? ws->cap * 2 : 16;
        s_witness_t *v = realloc(ws->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        ws->v = v;
        ws->cap = cap;
    }
    snprintf(ws->v[ws->n].name, sizeof ws->v[0].name, "%s", w);
    ws->v[ws->n++].newest = size;
    return 0;
}

static int
s_newest_desc(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? 1 : a > b ? -1 : 0;
}

/* The heads on the verified chain that are witnessed: those of size up
 * to the quorum-th newest head the distinct witnesses cosigned. Pass 1
 * checked every head against the one tree recomputed from the log, so
 * the heads form one append-only chain; each cosigner verified the head
 * it cosigned consistent with its own earlier head; and so a member that
 * cosigned a head vouches for every earlier head of the chain too. */
static int
s_count_witnessed(s_audit_t *a, s_witnesses_t *ws, errbuf_t *err)
{
    int64_t      *newest, upto;
    sqlite3_stmt *st;
    size_t        i;
    int64_t       n = 0;

    if (a->bad_lost || ws->n < a->rep->quorum)
        return 0;
    if ((newest = malloc(ws->n * sizeof *newest)) == NULL) {
        errbuf_set(err, "out of memory counting the witnesses");
        return -1;
    }
    for (i = 0; i < ws->n; i++)
        newest[i] = ws->v[i].newest;
    qsort(newest, ws->n, sizeof *newest, s_newest_desc);
    upto = newest[a->rep->quorum - 1];
    free(newest);
    if ((st = s_prepare(a, "SELECT count(*) FROM heads WHERE size <= ?",
             err)) == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, upto);
    if (sqlite3_step(st) != SQLITE_ROW) {
        errbuf_set(err, "%s: counting the heads: %s", a->path,
            sqlite3_errmsg(a->db));
        sqlite3_finalize(st);
        return -1;
    }
    n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    for (i = 0; i < a->n_bad && a->bad[i] <= upto; i++)
        n--;
    if (n > 0)
        a->rep->heads_witnessed += (uint64_t)n;
    return 0;
}

/* Pass 3: cosignatures against the heads they name; the witnesses of the
 * newest head; the heads witnessed. */
static int
s_pass_cosign(s_audit_t *a, errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(a, "SELECT c.size, c.witness, c.key_id, "
        "c.signature, h.signed FROM cosignatures c LEFT JOIN heads h "
        "ON h.size = c.size ORDER BY c.size, c.witness", err);
    s_tally_t     t = {0, 0};
    s_witnesses_t ws = {NULL, 0, 0};
    int           rc, out = 0;

    if (st == NULL)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t              size = sqlite3_column_int64(st, 0);
        const unsigned char *w = sqlite3_column_text(st, 1);
        const void          *hb = sqlite3_column_blob(st, 4);
        int                  hl = sqlite3_column_bytes(st, 4);
        Csbm__Signed        *s = hb != NULL && hl > 0
            ? csbm__signed__unpack(NULL, (size_t)hl, hb)
            : NULL;
        treehead_t           th;
        const keyring_key_t *k = NULL;
        errbuf_t             why = {{0}};

        if (size != t.size) {
            s_tally_close(a, &t);
            t.size = size;
            t.valid = 0;
        }
        a->rep->cosignatures++;
        if (s == NULL
            || treehead_decode(s->statement.data, s->statement.len, &th,
                   &why) != 0
            || sqlite3_column_bytes(st, 2) != KEYS_ID_BYTES
            || keyring_signer(a->kr, w != NULL ? (const char *)w : "",
                   sqlite3_column_blob(st, 2), th.timestamp, &k, &why) != 0
            || treehead_cosign_verify(k->pub.sign_pk, s->statement.data,
                   s->statement.len, sqlite3_column_blob(st, 3),
                   (size_t)sqlite3_column_bytes(st, 3), &why) != 0) {
            s_problem(a, size - 1, -1, "cosignature of %s on the tree head "
                "of size %lld: %s", w != NULL ? (const char *)w : "?",
                (long long)size, why.msg[0] ? why.msg : "no such head");
        } else {
            t.valid++;
            if (!a->bad_lost && !s_head_is_bad(a, size)
                && s_witness_note(&ws, (const char *)w, size) != 0)
                a->bad_lost = 1;
            if ((uint64_t)size == a->rep->newest_size) {
                audit_verify_report_t *r = a->rep;
                if (r->n_newest_witnesses < AUDIT_WITNESSES_MAX)
                    snprintf(r->newest_witnesses[r->n_newest_witnesses],
                        sizeof r->newest_witnesses[0], "%s",
                        (const char *)w);
                r->n_newest_witnesses++;
            }
        }
        if (s != NULL)
            csbm__signed__free_unpacked(s, NULL);
    }
    s_tally_close(a, &t);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        errbuf_set(err, "%s: reading cosignatures: %s", a->path,
            sqlite3_errmsg(a->db));
        out = -1;
    } else if (a->bad_lost) {
        errbuf_set(err, "out of memory counting the witnesses");
        out = -1;
    } else {
        out = s_count_witnessed(a, &ws, err);
    }
    free(ws.v);
    return out;
}

int
audit_verify(const char *path, const audit_verify_opts_t *opts,
    audit_verify_report_t *rep, errbuf_t *err)
{
    s_audit_t     a;
    s_pool_t      pool;
    sqlite3_stmt *st = NULL;
    int           rc = -1, pass1;

    memset(rep, 0, sizeof *rep);
    memset(&a, 0, sizeof a);
    memset(&pool, 0, sizeof pool);
    a.path = path;
    a.federation = opts->federation;
    a.kr = opts->keyring;
    a.fn = opts->fn;
    a.ctx = opts->ctx;
    a.rep = rep;
    rep->threads = opts->threads > 0 ? opts->threads : s_default_threads();
    if (rep->threads > AUDIT_THREADS_MAX)
        rep->threads = AUDIT_THREADS_MAX;
    rep->quorum = opts->quorum > 0 ? opts->quorum : HUB_WITNESS_QUORUM;
    if (sodium_init() < 0) {
        errbuf_set(err, "libsodium cannot start");
        return -1;
    }
    if (sqlite3_open_v2(path, &a.db, SQLITE_OPEN_READONLY
            | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
        errbuf_set(err, "%s: cannot open the archive: %s", path,
            a.db != NULL ? sqlite3_errmsg(a.db) : "out of memory");
        goto done;
    }
    sqlite3_busy_timeout(a.db, 10000);
    if ((st = s_prepare(&a, "SELECT (SELECT value FROM meta WHERE key = "
             "'schema_version'), (SELECT value FROM meta WHERE key = "
             "'federation')", err)) == NULL)
        goto done;
    if (sqlite3_step(st) != SQLITE_ROW
        || sqlite3_column_int(st, 0) != 2) {
        errbuf_set(err, "%s: not a hub archive of schema version 2 (one with "
            "the tamper-evident log)", path);
        goto done;
    }
    if (sqlite3_column_text(st, 1) == NULL
        || strcmp((const char *)sqlite3_column_text(st, 1), a.federation)
            != 0) {
        errbuf_set(err, "%s: the archive belongs to federation \"%s\", not "
            "\"%s\"", path, sqlite3_column_text(st, 1) != NULL
                ? (const char *)sqlite3_column_text(st, 1) : "?",
            a.federation);
        goto done;
    }
    sqlite3_finalize(st);
    st = NULL;
    /* One read transaction: a consistent snapshot while the hub runs. */
    if (sqlite3_exec(a.db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK
        || (a.node_st = s_prepare(&a, "SELECT hash FROM log_node WHERE "
                "level = ? AND idx = ?", err)) == NULL)
        goto done;
    pass1 = s_pool_start(&a, &pool, rep->threads, err) == 0
        && s_pass_log(&a, opts->progress, err) == 0;
    s_pool_stop(&a); /* also ends pass 1's batching: a.cur is NULL */
    if (!pass1 || s_pass_archive(&a, err) != 0 || s_pass_cosign(&a, err) != 0)
        goto done;
    rc = 0;
done:
    free(a.bad);
    sqlite3_finalize(st);
    sqlite3_finalize(a.node_st);
    if (a.db != NULL)
        sqlite3_close(a.db);
    return rc;
}

/* ------------------------------------------------------------ verb --- */

typedef struct {
    json_t *list;
    size_t  shown;
} s_out_t;

#define S_SHOW_MAX 1000

static void
s_print_problem(int64_t leaf, int64_t position, const char *what, void *ctx)
{
    s_out_t *o = ctx;

    if (o->shown++ >= S_SHOW_MAX)
        return;
    if (o->list != NULL) {
        json_t *p = json_pack("{s:s}", "problem", what);
        if (leaf >= 0)
            json_object_set_new(p, "leaf", json_integer(leaf));
        if (position >= 0)
            json_object_set_new(p, "position", json_integer(position));
        json_array_append_new(o->list, p);
        return;
    }
    if (leaf >= 0 && position >= 0)
        printf("PROBLEM leaf %lld, position %lld: %s\n", (long long)leaf,
            (long long)position, what);
    else if (leaf >= 0)
        printf("PROBLEM leaf %lld: %s\n", (long long)leaf, what);
    else if (position >= 0)
        printf("PROBLEM position %lld: %s\n", (long long)position, what);
    else
        printf("PROBLEM %s\n", what);
}

/* Who witnessed the newest head, in one line. */
static void
s_print_witnesses(const audit_verify_report_t *rep)
{
    size_t i;

    if (rep->heads == 0) {
        printf("no signed tree head yet\n");
        return;
    }
    printf("newest signed tree head (size %llu): ",
        (unsigned long long)rep->newest_size);
    if (rep->n_newest_witnesses == 0)
        printf("no valid cosignature");
    else
        printf("cosigned by");
    for (i = 0; i < rep->n_newest_witnesses && i < AUDIT_WITNESSES_MAX; i++)
        printf("%s %s", i == 0 ? "" : ",", rep->newest_witnesses[i]);
    if (rep->n_newest_witnesses > AUDIT_WITNESSES_MAX)
        printf(" and %zu more", rep->n_newest_witnesses - AUDIT_WITNESSES_MAX);
    printf(" (%zu of quorum %u): %s; %llu of %llu heads witnessed\n",
        rep->n_newest_witnesses, rep->quorum,
        rep->n_newest_witnesses >= rep->quorum ? "WITNESSED"
                                               : "not witnessed",
        (unsigned long long)rep->heads_witnessed,
        (unsigned long long)rep->heads);
}

static void
s_usage(FILE *out)
{
    fprintf(out,
        "Usage: csbm audit verify [--data hub.db]\n"
        "                         [--keyring DIR | --registry FILE --root CERT]\n"
        "                         [--federation NAME] [--threads N]\n"
        "                         [--witness-quorum N] [--json] [--quiet]\n"
        "\n"
        "Re-verify the hub's whole archive against its tamper-evident log,\n"
        "read-only and streaming (memory does not grow with the archive):\n"
        "every leaf recomputed from the stored envelope and acceptance time,\n"
        "every stored subtree node and signed tree head against the tree\n"
        "recomputed from the leaves, the heads' signatures and time order,\n"
        "every envelope's signature with the sender's key as of its creation,\n"
        "every receipt, contiguous positions, every cosignature. Each problem\n"
        "is printed with its leaf and archive position, in leaf order. Says\n"
        "which members witnessed (validly cosigned) the newest signed head.\n"
        "\n"
        "Options:\n"
        "  --data FILE.db        the hub's archive (default hub.db)\n"
        "  --keyring DIR         the participants' .pub files, hub.pub too\n"
        "                        (default $CSBM_KEYRING, else ./keys)\n"
        "  --registry FILE       the federation's signed member registry, in\n"
        "                        place of --keyring: every key with its\n"
        "                        validity (default $CSBM_REGISTRY)\n"
        "  --root CERT           the root certificate that signs it (default\n"
        "                        $CSBM_ROOT)\n"
        "  --registry-state F    highest registry version seen, against\n"
        "                        roll-back (default FILE.state)\n"
        "  --federation NAME     the federation (default $CSBM_FEDERATION or\n"
        "                        " CLI_DEFAULT_FEDERATION ")\n"
        "  --threads N           signature verifier threads (default: one per\n"
        "                        online CPU); rows are read on one more\n"
        "  --witness-quorum N    cosignatures that make a head witnessed\n"
        "                        (default %d, as csbm hub)\n"
        "  --json                machine-readable verdict and problems\n"
        "  --quiet               no progress lines on standard error\n"
        "\n"
        "Exit status: 0 intact, 1 problems found, 2 usage or system error.\n"
        "\n"
        "Example:\n"
        "  csbm audit verify --data /var/lib/csbm/hub.db --keyring keyring\n"
        "  csbm audit verify --data hub.db --registry registry.bin --root "
        "root.pem\n",
        HUB_WITNESS_QUORUM);
}

int
cmd_audit_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"keyring", required_argument, NULL, 'R'},
        {"keys", required_argument, NULL, 'K'},
        {"federation", required_argument, NULL, 'F'},
        {"threads", required_argument, NULL, 't'},
        {"witness-quorum", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'}, {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"registry", required_argument, NULL, CLI_OPT_REGISTRY},
        {"root", required_argument, NULL, CLI_OPT_ROOT},
        {"registry-state", required_argument, NULL, CLI_OPT_REGISTRY_STATE},
        {NULL, 0, NULL, 0}};
    cli_common_t          c;
    const char           *data = "hub.db";
    keyring_t            *kr = NULL;
    audit_verify_report_t rep;
    audit_verify_opts_t   vo;
    errbuf_t              err = {{0}};
    s_out_t               o = {NULL, 0};
    unsigned long         n;
    char                 *end;
    int                   opt, quiet = 0, rc = CLI_ERROR;

    memset(&vo, 0, sizeof vo);

    cli_common_init(&c);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
        if (opt != 'h' && cli_common_option(&c, opt, optarg))
            continue;
        switch (opt) {
        case 'd': data = optarg; break;
        case 'q': quiet = 1; break;
        case 't':
        case 'w':
            errno = 0;
            n = strtoul(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || n < 1
                || n > (opt == 't' ? AUDIT_THREADS_MAX : 1000)) {
                cli_error("--%s %s: give a number from 1 to %d",
                    opt == 't' ? "threads" : "witness-quorum", optarg,
                    opt == 't' ? AUDIT_THREADS_MAX : 1000);
                return CLI_ERROR;
            }
            if (opt == 't')
                vo.threads = (unsigned)n;
            else
                vo.quorum = (unsigned)n;
            break;
        case 'h': s_usage(stdout); return CLI_OK;
        default: s_usage(stderr); return CLI_ERROR;
        }
    }
    if (optind != argc) {
        s_usage(stderr);
        return CLI_ERROR;
    }
    if (cli_common_finish(&c, &err) != 0) {
        cli_error("audit verify: %s", err.msg);
        return CLI_ERROR;
    }
    if ((kr = cli_load_keyring(&c, &err)) == NULL) {
        cli_error("%s", err.msg);
        return cli_keyring_exit(&c);
    }
    if (c.json)
        o.list = json_array();
    vo.federation = c.federation;
    vo.keyring = kr;
    vo.fn = s_print_problem;
    vo.ctx = &o;
    vo.progress = quiet || c.json ? NULL : stderr;
    if (audit_verify(data, &vo, &rep, &err) != 0) {
        cli_error("%s", err.msg);
        json_decref(o.list);
        goto done;
    }
    rc = rep.problems == 0 ? CLI_OK : CLI_REJECTED;
    if (c.json) {
        json_t *j = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "verdict",
            rep.problems == 0 ? "intact" : "problems", "leaves",
            (json_int_t)rep.leaves, "packages", (json_int_t)rep.packages,
            "pulls", (json_int_t)rep.pulls, "tree_heads",
            (json_int_t)rep.heads, "cosignatures",
            (json_int_t)rep.cosignatures, "problem_count",
            (json_int_t)rep.problems, "problems", o.list);
        json_t *w = json_array();
        size_t  i;
        for (i = 0; i < rep.n_newest_witnesses && i < AUDIT_WITNESSES_MAX; i++)
            json_array_append_new(w, json_string(rep.newest_witnesses[i]));
        json_object_set_new(j, "newest_head", rep.heads == 0 ? json_null()
            : json_pack("{s:I,s:I,s:o,s:I,s:b}", "size",
                (json_int_t)rep.newest_size, "timestamp",
                (json_int_t)rep.newest_timestamp, "witnesses", w,
                "quorum", (json_int_t)rep.quorum, "witnessed",
                rep.n_newest_witnesses >= rep.quorum));
        if (rep.heads == 0)
            json_decref(w);
        json_object_set_new(j, "heads_witnessed",
            json_integer((json_int_t)rep.heads_witnessed));
        json_object_set_new(j, "threads", json_integer(rep.threads));
        json_dumpf(j, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(j);
    } else {
        if (rep.problems > S_SHOW_MAX)
            printf("... and %llu more problems\n",
                (unsigned long long)(rep.problems - S_SHOW_MAX));
        printf("%s: %llu leaves (%llu packages, %llu pulls), %llu signed "
            "tree heads, %llu cosignatures checked: %s\n", data,
            (unsigned long long)rep.leaves, (unsigned long long)rep.packages,
            (unsigned long long)rep.pulls, (unsigned long long)rep.heads,
            (unsigned long long)rep.cosignatures,
            rep.problems == 0 ? "INTACT" : "PROBLEMS FOUND");
        s_print_witnesses(&rep);
        if (rep.problems > 0)
            printf("%llu problem%s found\n",
                (unsigned long long)rep.problems,
                rep.problems == 1 ? "" : "s");
    }
done:
    keyring_destroy(&kr);
    return rc;
}
