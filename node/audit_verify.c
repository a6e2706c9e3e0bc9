/*
 * audit_verify: `csbm audit verify` — the archive checked against its own
 * tamper-evident log (see audit_verify.h, docs/FORMAT-merkle.md).
 *
 * Three streaming passes over the read-only archive:
 *   1. the log in leaf order, joined with the archive row of each package
 *      leaf, with the signed heads stepped alongside by size;
 *   2. the archive in position order (contiguity, every row a leaf);
 *   3. the cosignatures against the heads they name.
 * Nothing is held but the current row, the frontier and the next head.
 */
#include "node/audit_verify.h"

#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/merkle.h"
#include "crypto/receipt.h"
#include "crypto/treehead.h"
#include "node/cli.h"
#include "node/cmd_audit.h"
#include "node/hub.h"

#define S_PROGRESS_EVERY 10000 /* leaves between progress lines */

typedef struct {
    sqlite3               *db;
    const char            *path;
    const char            *federation;
    const keyring_t       *kr;
    audit_problem_fn       fn;
    void                  *ctx;
    audit_verify_report_t *rep;
    sqlite3_stmt          *node_st;
    int64_t                leaf; /* the leaf being checked, for s_node_cmp */
} s_audit_t;

static void
s_problem(s_audit_t *a, int64_t leaf, int64_t position, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
s_problem(s_audit_t *a, int64_t leaf, int64_t position, const char *fmt, ...)
{
    char    what[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    a->rep->problems++;
    if (a->fn != NULL)
        a->fn(leaf, position, what, a->ctx);
}

/* The hub's public signing key that signed s (by key id), valid at at. */
static const keyring_key_t *
s_hub_key(s_audit_t *a, const Csbm__Signed *s, int64_t at, errbuf_t *err)
{
    const keyring_key_t *k = NULL;

    if (s == NULL || s->hub_key_id.len != KEYS_ID_BYTES) {
        errbuf_set(err, "no hub key id");
        return NULL;
    }
    if (keyring_signer(a->kr, HUB_OWNER, s->hub_key_id.data, at, &k, err)
        != 0)
        return NULL;
    return k;
}

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
    if (s == NULL) {
        s_problem(a, (int64_t)size - 1, -1, "tree head of size %llu: the "
            "signed head does not parse", (unsigned long long)size);
        return;
    }
    if (treehead_decode(s->statement.data, s->statement.len, th, &why) != 0
        || (k = s_hub_key(a, s, th->timestamp, &why)) == NULL
        || treehead_verify(s, k->pub.sign_pk, th, &why) != 0) {
        s_problem(a, (int64_t)size - 1, -1, "tree head of size %llu: %s",
            (unsigned long long)size, why.msg);
    } else {
        if (th->size != size || th->timestamp != sqlite3_column_int64(hs, 1)
            || sqlite3_column_bytes(hs, 2) != MERKLE_HASH_BYTES
            || memcmp(sqlite3_column_blob(hs, 2), th->root,
                   MERKLE_HASH_BYTES) != 0)
            s_problem(a, (int64_t)size - 1, -1, "tree head of size %llu: the "
                "stored size, time or root differ from the signed head",
                (unsigned long long)size);
        if (strcmp(th->origin, a->federation) != 0)
            s_problem(a, (int64_t)size - 1, -1, "tree head of size %llu is "
                "of the log of \"%s\"", (unsigned long long)size, th->origin);
        if (th->timestamp < *last_ts)
            s_problem(a, (int64_t)size - 1, -1, "tree head of size %llu is "
                "older than the head before it", (unsigned long long)size);
        *last_ts = th->timestamp;
    }
    csbm__signed__free_unpacked(s, NULL);
}

/* A package leaf against its archive row: the row exists, the envelope
 * matches its hash, the entry is recomputed, the envelope verifies, the
 * receipt is the hub's for this row. Writes the recomputed entry. */
static void
s_check_package(s_audit_t *a, sqlite3_stmt *st, int64_t idx, int64_t pos,
    uint8_t entry[TREEHEAD_LEAF_PACKAGE_BYTES])
{
    const uint8_t       *env = sqlite3_column_blob(st, 6);
    size_t               env_len = (size_t)sqlite3_column_bytes(st, 6);
    const unsigned char *sender = sqlite3_column_text(st, 11);
    int64_t              accepted = sqlite3_column_int64(st, 8);
    uint8_t              hash[32];
    hub_verdict_t       *v;
    errbuf_t             why = {{0}};

    a->rep->packages++;
    receipt_envelope_hash(env, env_len, hash);
    treehead_leaf_package((uint64_t)pos, accepted, hash, entry);
    if (sqlite3_column_bytes(st, 7) != 32
        || memcmp(sqlite3_column_blob(st, 7), hash, 32) != 0)
        s_problem(a, idx, pos, "the envelope's SHA-256 differs from the "
            "stored envelope hash: the envelope bytes were changed");
    if (sqlite3_column_int64(st, 10) != idx
        || sqlite3_column_type(st, 10) == SQLITE_NULL)
        s_problem(a, idx, pos, "the archive row names leaf %lld, the log "
            "has it at leaf %lld (rows reordered?)",
            (long long)sqlite3_column_int64(st, 10), (long long)idx);
    if ((v = malloc(sizeof *v)) == NULL) {
        s_problem(a, idx, pos, "out of memory checking the envelope");
        return;
    }
    if (hub_verify_submit(a->kr, a->federation,
            sender != NULL ? (const char *)sender : "", env, env_len,
            accepted, v) != 0)
        s_problem(a, idx, pos, "the envelope does not verify: %s: %s",
            receipt_reason_name(v->reason), v->message);
    {
        const void    *rb = sqlite3_column_blob(st, 9);
        int            rl = sqlite3_column_bytes(st, 9);
        Csbm__Signed  *s = rb != NULL && rl > 0
            ? csbm__signed__unpack(NULL, (size_t)rl, rb)
            : NULL;
        Csbm__Receipt *r = NULL;
        const keyring_key_t *k = NULL;

        if (s == NULL) {
            s_problem(a, idx, pos, "no readable receipt");
        } else if ((k = s_hub_key(a, s, accepted, &why)) == NULL
                   || receipt_verify(s, k->pub.sign_pk, &r, &why) != 0) {
            s_problem(a, idx, pos, "receipt: %s", why.msg);
        } else if (r->position != (uint64_t)pos
                   || r->accepted_at != (uint64_t)accepted
                   || r->log_index != (uint64_t)idx
                   || r->envelope_hash.len != 32
                   || memcmp(r->envelope_hash.data, hash, 32) != 0
                   || strcmp(r->federation, a->federation) != 0
                   || sender == NULL
                   || strcmp(r->sender, (const char *)sender) != 0
                   || (v->have_id
                       && memcmp(r->package_id.data, v->package_id,
                              ENVELOPE_ID_BYTES) != 0)) {
            s_problem(a, idx, pos, "the receipt (position %llu, leaf %llu) "
                "does not describe this row and envelope",
                (unsigned long long)r->position,
                (unsigned long long)r->log_index);
        }
        if (r != NULL)
            csbm__receipt__free_unpacked(r, NULL);
        if (s != NULL)
            csbm__signed__free_unpacked(s, NULL);
    }
    free(v);
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
    int               rc, hrc;
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

        a->leaf = idx;
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
            } else {
                s_check_package(a, st, idx, pos, mine);
                if (entry != NULL && (elen != sizeof mine
                                         || memcmp(entry, mine, elen) != 0))
                    s_problem(a, idx, pos, "the leaf differs from the "
                        "archived package: its position, acceptance time "
                        "or envelope changed");
                entry = mine;
                elen = sizeof mine;
            }
        } else {
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
            break;
        }
        expect++;
        /* Every head of this size must have the recomputed root. */
        while (hrc == SQLITE_ROW && head_size <= (int64_t)f.size) {
            if (head_size == (int64_t)f.size) {
                merkle_frontier_root(&f, root);
                if (memcmp(root, th.root, MERKLE_HASH_BYTES) != 0)
                    s_problem(a, head_size - 1, -1, "the signed tree head "
                        "of size %lld has another root than the tree "
                        "recomputed from the archive", (long long)head_size);
            } else {
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
    while (hrc == SQLITE_ROW) {
        s_problem(a, head_size - 1, -1, "the signed tree head of size %lld "
            "covers more leaves than the log holds (%llu): the log was "
            "truncated", (long long)head_size, (unsigned long long)f.size);
        hrc = sqlite3_step(hs);
        if (hrc == SQLITE_ROW) {
            s_check_head(a, hs, &last_ts, &th);
            head_size = sqlite3_column_int64(hs, 0);
        }
    }
    if ((rc != SQLITE_DONE && rc != SQLITE_ROW)
        || (hrc != SQLITE_DONE && hrc != SQLITE_ROW)) {
        errbuf_set(err, "%s: reading the log: %s", a->path,
            sqlite3_errmsg(a->db));
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

/* Pass 3: cosignatures against the heads they name. */
static int
s_pass_cosign(s_audit_t *a, errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(a, "SELECT c.size, c.witness, c.key_id, "
        "c.signature, h.signed FROM cosignatures c LEFT JOIN heads h "
        "ON h.size = c.size ORDER BY c.size, c.witness", err);
    int           rc;

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

        a->rep->cosignatures++;
        if (s == NULL
            || treehead_decode(s->statement.data, s->statement.len, &th,
                   &why) != 0
            || sqlite3_column_bytes(st, 2) != KEYS_ID_BYTES
            || keyring_signer(a->kr, w != NULL ? (const char *)w : "",
                   sqlite3_column_blob(st, 2), th.timestamp, &k, &why) != 0
            || treehead_cosign_verify(k->pub.sign_pk, s->statement.data,
                   s->statement.len, sqlite3_column_blob(st, 3),
                   (size_t)sqlite3_column_bytes(st, 3), &why) != 0)
            s_problem(a, size - 1, -1, "cosignature of %s on the tree head "
                "of size %lld: %s", w != NULL ? (const char *)w : "?",
                (long long)size, why.msg[0] ? why.msg : "no such head");
        if (s != NULL)
            csbm__signed__free_unpacked(s, NULL);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        errbuf_set(err, "%s: reading cosignatures: %s", a->path,
            sqlite3_errmsg(a->db));
        return -1;
    }
    return 0;
}

int
audit_verify(const char *path, const char *federation,
    const keyring_t *keyring, audit_problem_fn fn, void *ctx,
    FILE *progress, audit_verify_report_t *rep, errbuf_t *err)
{
    s_audit_t     a;
    sqlite3_stmt *st = NULL;
    int           rc = -1;

    memset(rep, 0, sizeof *rep);
    memset(&a, 0, sizeof a);
    a.path = path;
    a.federation = federation;
    a.kr = keyring;
    a.fn = fn;
    a.ctx = ctx;
    a.rep = rep;
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
        || strcmp((const char *)sqlite3_column_text(st, 1), federation)
            != 0) {
        errbuf_set(err, "%s: the archive belongs to federation \"%s\", not "
            "\"%s\"", path, sqlite3_column_text(st, 1) != NULL
                ? (const char *)sqlite3_column_text(st, 1) : "?", federation);
        goto done;
    }
    sqlite3_finalize(st);
    st = NULL;
    /* One read transaction: a consistent snapshot while the hub runs. */
    if (sqlite3_exec(a.db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK
        || (a.node_st = s_prepare(&a, "SELECT hash FROM log_node WHERE "
                "level = ? AND idx = ?", err)) == NULL)
        goto done;
    if (s_pass_log(&a, progress, err) != 0 || s_pass_archive(&a, err) != 0
        || s_pass_cosign(&a, err) != 0)
        goto done;
    rc = 0;
done:
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

static void
s_usage(FILE *out)
{
    fprintf(out,
        "Usage: csbm audit verify [--data hub.db] [--keyring DIR]\n"
        "                         [--federation NAME] [--json] [--quiet]\n"
        "\n"
        "Re-verify the hub's whole archive against its tamper-evident log,\n"
        "read-only and streaming (memory does not grow with the archive):\n"
        "every leaf recomputed from the stored envelope and acceptance time,\n"
        "every stored subtree node and signed tree head against the tree\n"
        "recomputed from the leaves, the heads' signatures and time order,\n"
        "every envelope's signature with the sender's key as of its creation,\n"
        "every receipt, contiguous positions, every cosignature. Each problem\n"
        "is printed with its leaf and archive position.\n"
        "\n"
        "Options:\n"
        "  --data FILE.db        the hub's archive (default hub.db)\n"
        "  --keyring DIR         the participants' .pub files, hub.pub too\n"
        "                        (default $CSBM_KEYRING, else --keys)\n"
        "  --federation NAME     the federation (default $CSBM_FEDERATION or\n"
        "                        " CLI_DEFAULT_FEDERATION ")\n"
        "  --json                machine-readable verdict and problems\n"
        "  --quiet               no progress lines on standard error\n"
        "\n"
        "Exit status: 0 intact, 1 problems found, 2 usage or system error.\n"
        "\n"
        "Example:\n"
        "  csbm audit verify --data /var/lib/csbm/hub.db --keyring keyring\n");
}

int
cmd_audit_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"keyring", required_argument, NULL, 'R'},
        {"keys", required_argument, NULL, 'K'},
        {"federation", required_argument, NULL, 'F'},
        {"json", no_argument, NULL, 'j'}, {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    cli_common_t          c;
    const char           *data = "hub.db";
    keyring_t            *kr = NULL;
    audit_verify_report_t rep;
    errbuf_t              err = {{0}};
    s_out_t               o = {NULL, 0};
    int                   opt, quiet = 0, rc = CLI_ERROR;

    cli_common_init(&c);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
        if (opt != 'h' && cli_common_option(&c, opt, optarg))
            continue;
        switch (opt) {
        case 'd': data = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': s_usage(stdout); return CLI_OK;
        default: s_usage(stderr); return CLI_ERROR;
        }
    }
    if (optind != argc) {
        s_usage(stderr);
        return CLI_ERROR;
    }
    if ((kr = cli_load_keyring(&c, &err)) == NULL) {
        cli_error("%s", err.msg);
        return CLI_ERROR;
    }
    if (c.json)
        o.list = json_array();
    if (audit_verify(data, c.federation, kr, s_print_problem, &o,
            quiet || c.json ? NULL : stderr, &rep, &err) != 0) {
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
        if (rep.problems > 0)
            printf("%llu problem%s found\n",
                (unsigned long long)rep.problems,
                rep.problems == 1 ? "" : "s");
    }
done:
    keyring_destroy(&kr);
    return rc;
}
