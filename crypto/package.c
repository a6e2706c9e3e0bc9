/* package: CSBM packages in and out of envelopes (see package.h). */
#include "crypto/package.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/validate.h"

/* Unpacking the decrypted package. The plaintext is chosen by the sender
 * (anyone in the keyring can call envelope_seal directly), so protobuf-c
 * gets an allocator with a budget: a few times the plaintext plus a fixed
 * allowance. Real packages stay far below it (an arms register with 1024
 * withheld lines in each list, each through 32 intermediate locations,
 * needs a third of it), while a plaintext of millions of empty repeated
 * entries (tens of bytes of memory per byte of input) runs out of budget
 * instead of memory. package_seal refuses what would not fit, so what
 * csbm seals, csbm opens. Each block is charged its size plus its
 * bookkeeping (our size prefix and malloc's own), so the budget bounds
 * what the process really uses.
 *
 * The unpacked package is confidential, so every block is wiped when it
 * is freed: package_free and every failure path free with s_wiping. */
#define S_BLOCK_HDR                                                       \
    ((sizeof(size_t) + _Alignof(max_align_t) - 1) / _Alignof(max_align_t) \
        * _Alignof(max_align_t))
#define S_MALLOC_OVERHEAD    16u
#define S_UNPACK_PER_BYTE    4u
#define S_UNPACK_ALLOWANCE   (16u * 1024 * 1024)
#define S_UNPACK_BUDGET_MAX  \
    ((size_t)S_UNPACK_PER_BYTE * PACKAGE_MAX_PLAINTEXT + S_UNPACK_ALLOWANCE)
#define S_MAX_DEPTH          32

typedef struct {
    ProtobufCAllocator base;
    size_t             used;
    size_t             budget;
    int                exhausted; /* an allocation was refused */
} s_budget_t;

static size_t
s_block_cost(size_t size)
{
    return S_BLOCK_HDR + size + S_MALLOC_OVERHEAD;
}

/* allocator_data is the budget while unpacking, NULL when only freeing. */
static void *
s_wiping_alloc(void *data, size_t size)
{
    s_budget_t *b = data;
    uint8_t    *p;

    if (size > SIZE_MAX - S_BLOCK_HDR - S_MALLOC_OVERHEAD)
        return NULL;
    if (b != NULL && s_block_cost(size) > b->budget - b->used) {
        b->exhausted = 1;
        return NULL;
    }
    if ((p = malloc(S_BLOCK_HDR + size)) == NULL)
        return NULL;
    memcpy(p, &size, sizeof size);
    if (b != NULL)
        b->used += s_block_cost(size);
    return p + S_BLOCK_HDR;
}

static void
s_wiping_free(void *data, void *ptr)
{
    s_budget_t *b = data;
    uint8_t    *p;
    size_t      size;

    if (ptr == NULL)
        return;
    p = (uint8_t *)ptr - S_BLOCK_HDR;
    memcpy(&size, p, sizeof size);
    sodium_memzero(p, S_BLOCK_HDR + size);
    free(p);
    if (b != NULL)
        b->used -= s_block_cost(size);
}

static ProtobufCAllocator s_wiping = {s_wiping_alloc, s_wiping_free, NULL};

void
package_free(Csbm__Package **pkg_p)
{
    if (pkg_p == NULL || *pkg_p == NULL)
        return;
    protobuf_c_message_free_unpacked(&(*pkg_p)->base, &s_wiping);
    *pkg_p = NULL;
}

/* Unpack plain within its budget; free the result with package_free.
 * NULL if it is not a csbm.Package or, with *exhausted set, if it needs
 * more than *budget bytes. */
static Csbm__Package *
s_unpack(const uint8_t *plain, size_t plain_len, size_t *budget_out,
    int *exhausted)
{
    s_budget_t     b;
    Csbm__Package *pkg;

    b.base = s_wiping;
    b.base.allocator_data = &b;
    b.used = 0;
    b.exhausted = 0;
    b.budget = plain_len > PACKAGE_MAX_PLAINTEXT ? S_UNPACK_BUDGET_MAX
        : S_UNPACK_PER_BYTE * plain_len + S_UNPACK_ALLOWANCE;
    if (b.budget > S_UNPACK_BUDGET_MAX)
        b.budget = S_UNPACK_BUDGET_MAX;
    pkg = (Csbm__Package *)protobuf_c_message_unpack(&csbm__package__descriptor,
        &b.base, plain_len, plain);
    *budget_out = b.budget;
    *exhausted = pkg == NULL && b.exhausted;
    return pkg;
}

const char *
package_type_name(int type)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&csbm__package_type__descriptor,
            type);

    return v != NULL ? v->name : "UNKNOWN";
}

static int
s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The recipient ids, with "all" expanded to every active state, sorted
 * and unique. Caller frees the array (not the strings). */
static const char **
s_recipient_ids(const package_seal_opts_t *o, const char *sender,
    size_t *n_out, errbuf_t *err)
{
    /* "all" adds each owner at most once, however often it is named. */
    size_t       cap = o->n_to + keyring_owner_count(o->keyring) + 1, n = 0;
    const char **ids = calloc(cap, sizeof *ids);
    size_t       i, j;
    int          all = 0;

    if (ids == NULL) {
        errbuf_set(err, "out of memory");
        return NULL;
    }
    for (i = 0; i < o->n_to; i++) {
        if (strcmp(o->to[i], PACKAGE_TO_ALL) != 0) {
            ids[n++] = o->to[i];
            continue;
        }
        if (all++)
            continue;
        for (j = 0; j < keyring_owner_count(o->keyring); j++) {
            const char *owner = keyring_owner_at(o->keyring, j);
            if (strcmp(owner, "hub") == 0 || strcmp(owner, sender) == 0)
                continue;
            if (keyring_recipient(o->keyring, owner, o->now, NULL) == NULL)
                continue;
            ids[n++] = owner;
        }
    }
    qsort(ids, n, sizeof *ids, s_cmp_str);
    for (i = j = 0; i < n; i++)
        if (j == 0 || strcmp(ids[j - 1], ids[i]) != 0)
            ids[j++] = ids[i];
    *n_out = j;
    if (j == 0) {
        free(ids);
        errbuf_set(err, "no recipients: name at least one with --to "
            "(state codes, \"hub\" or \"all\")");
        return NULL;
    }
    return ids;
}

static int
s_has_all(const package_seal_opts_t *o)
{
    size_t i;

    for (i = 0; i < o->n_to; i++)
        if (strcmp(o->to[i], PACKAGE_TO_ALL) == 0)
            return 1;
    return 0;
}

static const char *
s_subject_date(const Csbm__Package *pkg)
{
    if (pkg->body_case == CSBM__PACKAGE__BODY_ACQUISITION
        && pkg->acquisition != NULL
        && pkg->acquisition->incorporation_date[0] != '\0')
        return pkg->acquisition->incorporation_date;
    if (pkg->body_case == CSBM__PACKAGE__BODY_EXERCISE
        && pkg->exercise != NULL && pkg->exercise->start_date[0] != '\0')
        return pkg->exercise->start_date;
    return NULL;
}

/* The kind of a DOCUMENT package, signed in the header so that the hub's
 * compliance report can tell an inventory from a white paper unopened. */
static Csbm__DocumentKind
s_document_kind(const Csbm__Package *pkg)
{
    if (pkg->body_case == CSBM__PACKAGE__BODY_DOCUMENT
        && pkg->document != NULL)
        return pkg->document->kind;
    return CSBM__DOCUMENT_KIND__DOCUMENT_KIND_UNSPECIFIED;
}

static void
s_report_problems(const validate_report_t *rep, errbuf_t *err)
{
    char   buf[ERRBUF_SIZE];
    size_t used = 0, i;
    int    n;

    n = snprintf(buf, sizeof buf, "package is not valid (%zu problem%s):",
        rep->total, rep->total == 1 ? "" : "s");
    used = n > 0 ? (size_t)n : 0;
    for (i = 0; i < rep->count && used < sizeof buf; i++) {
        n = snprintf(buf + used, sizeof buf - used, "\n  %s: %s",
            rep->problems[i].path, rep->problems[i].message);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    errbuf_set(err, "%s", buf);
}

static void
s_time(int64_t t, char out[32])
{
    time_t    tt = (time_t)t;
    struct tm tm;

    if ((int64_t)tt != t || gmtime_r(&tt, &tm) == NULL
        || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "%lld", (long long)t);
}

/* The sender's own signing key must be one it may still sign with at
 * `now`: a key the keyring knows as revoked, retired, not yet valid, or
 * of a member no longer active is refused here rather than by every
 * recipient later. A keyring that does not hold the sender's key at all
 * (a directory of the others' .pub files) cannot tell: sealing goes on. */
static int
s_own_key_check(const keys_secret_t *sk, const keyring_t *kr, int64_t now,
    errbuf_t *err)
{
    const char          *owner = keys_secret_owner(sk);
    const uint8_t       *id = keys_secret_key_id(sk);
    const keyring_key_t *k = NULL, *ok = NULL;
    errbuf_t             why = {{0}};
    char                 hex[2 * KEYS_ID_BYTES + 1], t[32];
    size_t               i;
    const char          *fix = "make new keys and ask the operator to rotate "
                               "(csbm enroll, csbm registry rotate)";

    for (i = 0; i < keyring_key_count(kr); i++) {
        const keyring_key_t *b = keyring_key_at(kr, i);
        if (strcmp(b->pub.owner, owner) == 0
            && memcmp(b->pub.sign_key_id, id, KEYS_ID_BYTES) == 0)
            k = b;
    }
    if (k == NULL || keyring_signer(kr, owner, id, now, &ok, &why) == 0)
        return 0;
    keys_id_hex(id, hex);
    if (now >= k->valid_until) {
        s_time(k->valid_until, t);
        errbuf_set(err, "your signing key %s was %s at %s%s%s%s; %s", hex,
            k->revoked ? "revoked" : "retired", t,
            k->reason[0] ? " (" : "", k->reason, k->reason[0] ? ")" : "",
            k->revoked ? fix : "seal with the key that replaced it (its key "
                               "directory, --keys DIR)");
    } else if (now < k->valid_from) {
        s_time(k->valid_from, t);
        errbuf_set(err, "your signing key %s is valid only from %s; seal "
            "then, or with the key it replaces", hex, t);
    } else {
        errbuf_set(err, "%s may not sign now: %s", owner, why.msg);
    }
    return -1;
}

int
package_seal(const Csbm__Package *pkg, const package_seal_opts_t *o,
    uint8_t **out, size_t *out_len, errbuf_t *err)
{
    validate_report_t    *rep = NULL;
    envelope_recipient_t *rcpts = NULL;
    const char          **ids = NULL;
    uint8_t             (*refs)[ENVELOPE_ID_BYTES] = NULL;
    uint8_t              *plain = NULL;
    size_t                n_ids = 0, plain_len, i;
    const char           *sender;
    envelope_seal_params_t p;
    int                   rc = -1;

    *out = NULL;
    *out_len = 0;
    if (keys_secret_kind(o->sign_key) != KEYS_SIGN) {
        errbuf_set(err, "sealing needs the sender's signing key");
        return -1;
    }
    sender = keys_secret_owner(o->sign_key);
    if (o->keyring != NULL
        && s_own_key_check(o->sign_key, o->keyring, o->now, err) != 0)
        return -1;
    if ((rep = calloc(1, sizeof *rep)) == NULL) {
        errbuf_set(err, "out of memory");
        return -1;
    }
    if (validate_package(pkg, rep) != 0) {
        s_report_problems(rep, err);
        goto cleanup;
    }
    if (strcmp(pkg->state, sender) != 0) {
        errbuf_set(err, "$.state: the package is from %s but the signing key "
            "belongs to %s; seal it with %s's key", pkg->state, sender,
            pkg->state);
        goto cleanup;
    }
    if ((ids = s_recipient_ids(o, sender, &n_ids, err)) == NULL)
        goto cleanup;
    if (n_ids > ENVELOPE_MAX_RECIPIENTS) {
        errbuf_set(err, "%zu recipients is more than the limit of %d", n_ids,
            ENVELOPE_MAX_RECIPIENTS);
        goto cleanup;
    }
    rcpts = calloc(n_ids, sizeof *rcpts);
    refs = calloc(pkg->n_references + 1, sizeof *refs);
    if (rcpts == NULL || refs == NULL) {
        errbuf_set(err, "out of memory");
        goto cleanup;
    }
    for (i = 0; i < n_ids; i++) {
        const keyring_key_t *k =
            keyring_recipient(o->keyring, ids[i], o->now, err);
        if (k == NULL) {
            errbuf_prefix(err, "recipient %s", ids[i]);
            goto cleanup;
        }
        rcpts[i].id = ids[i];
        rcpts[i].box_pk = k->pub.box_pk;
    }
    for (i = 0; i < pkg->n_references; i++) {
        if (envelope_id_parse(pkg->references[i], refs[i]) != 0) {
            errbuf_set(err, "$.references[%zu]: not a package id (32 hex "
                "digits)", i);
            goto cleanup;
        }
    }
    plain_len = protobuf_c_message_get_packed_size(&pkg->base);
    if (plain_len > PACKAGE_MAX_PLAINTEXT) {
        errbuf_set(err, "package is %zu bytes, more than the limit of %u",
            plain_len, PACKAGE_MAX_PLAINTEXT);
        goto cleanup;
    }
    if ((plain = malloc(plain_len + 1)) == NULL) {
        errbuf_set(err, "out of memory");
        goto cleanup;
    }
    protobuf_c_message_pack(&pkg->base, plain);
    /* Recipients unpack within a budget: refuse here what they would
     * refuse (only absurd packages, such as hundreds of thousands of
     * empty lines, come near it). */
    {
        size_t         budget = 0;
        int            exhausted = 0;
        Csbm__Package *back = s_unpack(plain, plain_len, &budget, &exhausted);

        package_free(&back);
        if (exhausted) {
            errbuf_set(err, "package of %zu bytes would take more than %zu "
                "bytes of memory to unpack, more than recipients accept; "
                "split it into several packages", plain_len, budget);
            goto cleanup;
        }
    }

    memset(&p, 0, sizeof p);
    p.federation = o->federation;
    p.sender = sender;
    p.sign_sk = keys_secret_bytes(o->sign_key);
    p.package_type = validate_package_type(pkg);
    p.distribution = s_has_all(o) ? CSBM__DISTRIBUTION__ALL_MEMBERS
                                  : CSBM__DISTRIBUTION__DIRECT;
    p.recipients = rcpts;
    p.n_recipients = n_ids;
    p.created_at = (uint64_t)o->now;
    p.sequence = o->sequence;
    p.references = (const uint8_t (*)[ENVELOPE_ID_BYTES])refs;
    p.n_references = pkg->n_references;
    p.year = pkg->year;
    p.nil_report = pkg->nil_report ? 1 : 0;
    p.subject_date = s_subject_date(pkg);
    p.document_kind = s_document_kind(pkg);
    rc = envelope_seal(&p, plain, plain_len, out, out_len, err);

cleanup:
    if (plain != NULL) {
        sodium_memzero(plain, plain_len);
        free(plain);
    }
    free(refs);
    free(rcpts);
    free(ids);
    free(rep);
    return rc;
}

int
package_verify(const envelope_t *env, const keyring_t *keyring,
    const char *federation, const keyring_key_t **signer, errbuf_t *err)
{
    const Csbm__EnvelopeHeader *h = envelope_header(env);
    const keyring_key_t        *k = NULL;

    if (federation != NULL && strcmp(h->federation, federation) != 0) {
        errbuf_set(err, "package belongs to federation \"%s\", not \"%s\"",
            h->federation, federation);
        return -1;
    }
    if (keyring_signer(keyring, h->sender, h->sender_key_id.data,
            (int64_t)h->created_at, &k, err) != 0) {
        errbuf_prefix(err, "sender %s not trusted", h->sender);
        return -1;
    }
    if (envelope_verify(env, k->pub.sign_pk, err) != 0)
        return -1;
    if (signer != NULL)
        *signer = k;
    return 0;
}

static int
s_check_binding(const Csbm__EnvelopeHeader *h, const Csbm__Package *pkg,
    errbuf_t *err)
{
    uint8_t id[ENVELOPE_ID_BYTES];
    size_t  i;

    if (strcmp(pkg->state, h->sender) != 0) {
        errbuf_set(err, "the package inside says it is from %s but %s signed "
            "it: refusing a forwarded or re-sealed package", pkg->state,
            h->sender);
        return -1;
    }
    if ((int)validate_package_type(pkg) != (int)h->package_type) {
        errbuf_set(err, "the package inside is a %s but the signed header "
            "says %s", package_type_name(validate_package_type(pkg)),
            package_type_name(h->package_type));
        return -1;
    }
    if (pkg->year != h->year || (pkg->nil_report ? 1 : 0)
        != (h->nil_report ? 1 : 0)) {
        errbuf_set(err, "the package's year or nil-report flag differs from "
            "the signed header");
        return -1;
    }
    if (strcmp(s_subject_date(pkg) != NULL ? s_subject_date(pkg) : "",
            h->subject_date) != 0) {
        errbuf_set(err, "the package's date (incorporation or exercise "
            "start, \"%s\") differs from the signed header's \"%s\", which "
            "deadlines are counted from", s_subject_date(pkg) != NULL
            ? s_subject_date(pkg) : "", h->subject_date);
        return -1;
    }
    if ((int)s_document_kind(pkg) != (int)h->document_kind) {
        errbuf_set(err, "the package's document kind differs from the signed "
            "header");
        return -1;
    }
    if (pkg->n_references != h->n_references) {
        errbuf_set(err, "the package's references differ from the signed "
            "header");
        return -1;
    }
    for (i = 0; i < h->n_references; i++) {
        if (envelope_id_parse(pkg->references[i], id) != 0
            || h->references[i].len != ENVELOPE_ID_BYTES
            || memcmp(id, h->references[i].data, sizeof id) != 0) {
            errbuf_set(err, "reference %zu differs from the signed header", i);
            return -1;
        }
    }
    return 0;
}

/* Does msg or any message inside it carry fields this version does not
 * know? Walks the tree by its descriptors; depth is bounded by the schema,
 * S_MAX_DEPTH only guards against a schema that becomes recursive. */
static int
s_has_unknown_fields(const ProtobufCMessage *msg, unsigned depth)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    const uint8_t                    *base = (const uint8_t *)msg;
    unsigned                          i;
    size_t                            j, n;

    if (msg->n_unknown_fields != 0 || depth > S_MAX_DEPTH)
        return 1;
    for (i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];

        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            ProtobufCMessage *const *items;

            memcpy(&n, base + f->quantifier_offset, sizeof n);
            memcpy(&items, base + f->offset, sizeof items);
            for (j = 0; j < n; j++)
                if (items[j] != NULL
                    && s_has_unknown_fields(items[j], depth + 1))
                    return 1;
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which;

            memcpy(&which, base + f->quantifier_offset, sizeof which);
            if (which != f->id)
                continue;
        }
        {
            const ProtobufCMessage *sub;

            memcpy(&sub, base + f->offset, sizeof sub);
            if (sub != NULL && s_has_unknown_fields(sub, depth + 1))
                return 1;
        }
    }
    return 0;
}

int
package_open(const envelope_t *env, const keys_secret_t *box_key,
    Csbm__Package **out, errbuf_t *err)
{
    const Csbm__EnvelopeHeader *h = envelope_header(env);
    Csbm__Package              *pkg;
    uint8_t                    *plain = NULL;
    size_t                      plain_len = 0, budget = 0;
    int                         exhausted = 0;

    *out = NULL;
    if (keys_secret_kind(box_key) != KEYS_BOX) {
        errbuf_set(err, "opening needs the recipient's encryption key");
        return -1;
    }
    if (envelope_open(env, keys_secret_owner(box_key),
            keys_secret_bytes(box_key), keys_secret_public(box_key), &plain,
            &plain_len, err) != 0)
        return -1;
    if (plain_len > PACKAGE_MAX_PLAINTEXT) {
        sodium_memzero(plain, plain_len);
        free(plain);
        errbuf_set(err, "the decrypted package is %zu bytes, more than the "
            "limit of %u any sender can seal", plain_len,
            PACKAGE_MAX_PLAINTEXT);
        return -1;
    }
    pkg = s_unpack(plain, plain_len, &budget, &exhausted);
    sodium_memzero(plain, plain_len);
    free(plain);
    if (exhausted) {
        errbuf_set(err, "unpacking the decrypted package (%zu bytes) would "
            "take more than its memory budget of %zu bytes, and csbm does "
            "not seal such packages: refusing it", plain_len, budget);
        return -1;
    }
    if (pkg == NULL) {
        errbuf_set(err, "the decrypted package is not a valid csbm.Package");
        return -1;
    }
    if (s_has_unknown_fields(&pkg->base, 0)) {
        errbuf_set(err, "the decrypted package has fields this version does "
            "not know; upgrade csbm to read it");
        package_free(&pkg);
        return -1;
    }
    if (s_check_binding(h, pkg, err) != 0) {
        package_free(&pkg);
        return -1;
    }
    *out = pkg;
    return 0;
}
