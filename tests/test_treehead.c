/*
 * test_treehead: the log's byte formats — the STH layout byte for byte,
 * every truncation and trailing byte refused, the hub's signature under
 * its own label (a cosignature is no tree head signature and vice versa),
 * leaf entries; and a node acting as witness catching a hub that shows
 * two members two different heads of the same log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/treehead.h"
#include "node/member.h"
#include "tests/support/itest.h"

#define FED "TEST-FED"

static itest_member_t s_hub, s_arg, s_chl;

static int
s_group_setup(void **state)
{
    (void)state;
    if (sodium_init() < 0 || itest_member(&s_hub, "hub") != 0
        || itest_member(&s_arg, "ARG") != 0
        || itest_member(&s_chl, "CHL") != 0)
        return -1;
    return 0;
}

static void
s_head(treehead_t *th, uint64_t size, uint8_t root_byte, int64_t ts)
{
    memset(th, 0, sizeof *th);
    snprintf(th->origin, sizeof th->origin, "%s", FED);
    th->size = size;
    memset(th->root, root_byte, sizeof th->root);
    th->timestamp = ts;
}

/* A Signed head signed with the raw key sk under label. */
static Csbm__Signed *
s_sign(const treehead_t *th, const uint8_t sk[64], const uint8_t pk[32],
    const char *label)
{
    Csbm__Signed *s = calloc(1, sizeof *s);
    uint8_t       msg[64 + TREEHEAD_MAX_BYTES];
    size_t        len = 0, ll = strlen(label);
    errbuf_t      err = {{0}};

    assert_non_null(s);
    csbm__signed__init(s);
    s->statement.data = malloc(TREEHEAD_MAX_BYTES);
    s->signature.data = malloc(64);
    s->hub_key_id.data = malloc(KEYS_ID_BYTES);
    assert_int_equal(treehead_encode(th, s->statement.data, &len, &err), 0);
    s->statement.len = len;
    memcpy(msg, label, ll);
    msg[ll] = 0;
    memcpy(msg + ll + 1, s->statement.data, len);
    crypto_sign_detached(s->signature.data, NULL, msg, ll + 1 + len, sk);
    s->signature.len = 64;
    keys_id(pk, s->hub_key_id.data);
    s->hub_key_id.len = KEYS_ID_BYTES;
    return s;
}

static void
s_free(Csbm__Signed *s)
{
    free(s->statement.data);
    free(s->signature.data);
    free(s->hub_key_id.data);
    free(s);
}

static void
test_treehead_layout_and_bounds(void **state)
{
    treehead_t th, back;
    uint8_t    buf[TREEHEAD_MAX_BYTES + 1];
    size_t     len = 0, i;
    errbuf_t   err = {{0}};

    (void)state;
    s_head(&th, 3, 0xab, 1767225600);
    assert_int_equal(treehead_encode(&th, buf, &len, &err), 0);
    assert_int_equal(len, TREEHEAD_MIN_BYTES + strlen(FED));
    assert_memory_equal(buf, "CSBMSTH1", 8);
    assert_int_equal(buf[8], strlen(FED));
    assert_memory_equal(buf + 9, FED, strlen(FED));
    assert_memory_equal(buf + 9 + strlen(FED),
        "\x00\x00\x00\x00\x00\x00\x00\x03", 8);
    assert_int_equal(buf[17 + strlen(FED)], 0xab);
    assert_memory_equal(buf + 49 + strlen(FED),
        "\x00\x00\x00\x00\x69\x55\xb9\x00", 8);
    assert_int_equal(treehead_decode(buf, len, &back, &err), 0);
    assert_string_equal(back.origin, FED);
    assert_int_equal(back.size, 3);
    assert_int_equal(back.timestamp, 1767225600);
    assert_memory_equal(back.root, th.root, 32);
    for (i = 0; i < len; i++)
        assert_int_not_equal(treehead_decode(buf, i, &back, &err), 0);
    buf[len] = 0;
    assert_int_not_equal(treehead_decode(buf, len + 1, &back, &err), 0);
    buf[0] ^= 1;
    assert_int_not_equal(treehead_decode(buf, len, &back, &err), 0);
    buf[0] ^= 1;
    buf[8] = 0;
    assert_int_not_equal(treehead_decode(buf, len, &back, &err), 0);
    th.origin[0] = '\0';
    assert_int_not_equal(treehead_encode(&th, buf, &len, &err), 0);
    s_head(&th, MERKLE_MAX_TREE_SIZE + 1, 0, 0);
    assert_int_not_equal(treehead_encode(&th, buf, &len, &err), 0);
}

static void
test_treehead_signature_and_labels(void **state)
{
    treehead_t    th, out;
    Csbm__Signed *s, *c;
    errbuf_t      err = {{0}};
    size_t        i;

    (void)state;
    s_head(&th, 9, 0x11, 1767225600);
    s = s_sign(&th, s_hub.sign_sk, s_hub.sign_pk, TREEHEAD_LABEL);
    assert_int_equal(treehead_verify(s, s_hub.sign_pk, &out, &err), 0);
    assert_int_equal(out.size, 9);
    /* Another key, every flipped statement bit. */
    assert_int_not_equal(treehead_verify(s, s_arg.sign_pk, &out, &err), 0);
    for (i = 0; i < s->statement.len * 8; i++) {
        s->statement.data[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_int_not_equal(treehead_verify(s, s_hub.sign_pk, &out, &err),
            0);
        s->statement.data[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    s->signature.data[5] ^= 4;
    assert_int_not_equal(treehead_verify(s, s_hub.sign_pk, &out, &err), 0);
    s->signature.data[5] ^= 4;
    /* The hub's cosignature-labelled signature is no tree head; a tree
     * head signature is no cosignature. */
    c = s_sign(&th, s_hub.sign_sk, s_hub.sign_pk, TREEHEAD_COSIGN_LABEL);
    assert_int_not_equal(treehead_verify(c, s_hub.sign_pk, &out, &err), 0);
    assert_int_equal(treehead_cosign_verify(s_hub.sign_pk, c->statement.data,
        c->statement.len, c->signature.data, 64, &err), 0);
    assert_int_not_equal(treehead_cosign_verify(s_hub.sign_pk,
        s->statement.data, s->statement.len, s->signature.data, 64, &err), 0);
    assert_int_not_equal(treehead_cosign_verify(s_hub.sign_pk,
        c->statement.data, c->statement.len, c->signature.data, 63, &err), 0);
    s_free(s);
    s_free(c);
}

static void
test_treehead_leaf_entries(void **state)
{
    uint8_t  e[TREEHEAD_LEAF_MAX], hash[32], leaf[32], want[32];
    uint64_t pos[2] = {4, 7};
    size_t   len = 0;
    int      kind = 0;
    errbuf_t err = {{0}};

    (void)state;
    memset(hash, 0xcd, sizeof hash);
    memset(leaf, 0xef, sizeof leaf); /* as the receipt's statement hash */
    treehead_leaf_package(5, 1767225600, hash, leaf, e);
    assert_int_equal(e[0], TREEHEAD_LEAF_PACKAGE);
    assert_memory_equal(e + 1, "\0\0\0\0\0\0\0\x05", 8);
    assert_memory_equal(e + 17, hash, 32);
    assert_memory_equal(e + 49, leaf, 32);
    assert_int_equal(treehead_leaf_check(e, TREEHEAD_LEAF_PACKAGE_BYTES,
        &kind, &err), 0);
    assert_int_equal(kind, TREEHEAD_LEAF_PACKAGE);
    merkle_leaf_hash(e, TREEHEAD_LEAF_PACKAGE_BYTES, want);
    treehead_leaf_package_hash(5, 1767225600, hash, leaf, leaf);
    assert_memory_equal(leaf, want, 32);
    assert_int_not_equal(treehead_leaf_check(e, TREEHEAD_LEAF_PACKAGE_BYTES
        - 1, &kind, &err), 0);

    assert_int_equal(treehead_leaf_pull(1767225600, "CHL", 3, pos, 2, e, &len,
        &err), 0);
    assert_int_equal(len, 1 + 8 + 1 + 3 + 8 + 4 + 16);
    assert_int_equal(treehead_leaf_check(e, len, &kind, &err), 0);
    assert_int_equal(kind, TREEHEAD_LEAF_PULL);
    assert_int_not_equal(treehead_leaf_check(e, len - 1, &kind, &err), 0);
    assert_int_not_equal(treehead_leaf_pull(0, "", 0, NULL, 0, e, &len, &err),
        0);
    assert_int_not_equal(treehead_leaf_pull(0, "CHL", 0, pos, 257, e, &len,
        &err), 0);
}

/* ARG's cosignature of a head, with its raw key. */
static void
s_cosign_raw(const Csbm__Signed *head, uint8_t sig[64])
{
    uint8_t msg[64 + TREEHEAD_MAX_BYTES];
    size_t  ll = strlen(TREEHEAD_COSIGN_LABEL);

    memcpy(msg, TREEHEAD_COSIGN_LABEL, ll);
    msg[ll] = 0;
    memcpy(msg + ll + 1, head->statement.data, head->statement.len);
    crypto_sign_detached(sig, NULL, msg, ll + 1 + head->statement.len,
        s_arg.sign_sk);
}

/* A node whose own head disagrees with a head another member cosigned. */
static void
test_treehead_witness_catches_a_split_view(void **state)
{
    char             dir[ITEST_PATH_MAX], path[ITEST_PATH_MAX + 16];
    keyring_t       *kr = keyring_new();
    member_config_t  cfg;
    member_t        *m;
    errbuf_t         err = {{0}};
    treehead_t       mine, theirs;
    Csbm__Signed    *own, *other;
    Csbm__CosignedHead ch;
    Csbm__Cosignature  cs, *csp = &cs;
    uint8_t          sig[64];

    (void)state;
    assert_int_equal(itest_tmpdir("treehead", dir, sizeof dir), 0);
    snprintf(path, sizeof path, "%s/chl.db", dir);
    assert_non_null(kr);
    assert_int_equal(itest_keyring_bind(kr, &s_hub, 0, KEYRING_FOREVER,
        KEYRING_ACTIVE, 0), 0);
    assert_int_equal(itest_keyring_bind(kr, &s_arg, 0, KEYRING_FOREVER,
        KEYRING_ACTIVE, 0), 0);
    assert_int_equal(itest_keyring_bind(kr, &s_chl, 0, KEYRING_FOREVER,
        KEYRING_ACTIVE, 0), 0);
    member_config_init(&cfg);
    cfg.data_path = path;
    cfg.hub = NULL;
    m = member_new(&cfg, "CHL", FED, &kr, NULL, &err);
    assert_non_null(m);

    /* CHL was shown root 0x11 at size 5, ARG cosigned root 0x22. */
    s_head(&mine, 5, 0x11, 1767225600);
    s_head(&theirs, 5, 0x22, 1767225600);
    own = s_sign(&mine, s_hub.sign_sk, s_hub.sign_pk, TREEHEAD_LABEL);
    other = s_sign(&theirs, s_hub.sign_sk, s_hub.sign_pk, TREEHEAD_LABEL);
    s_cosign_raw(other, sig);
    csbm__cosignature__init(&cs);
    cs.witness = (char *)(uintptr_t)"ARG";
    cs.key_id.data = (uint8_t *)malloc(KEYS_ID_BYTES);
    keys_id(s_arg.sign_pk, cs.key_id.data);
    cs.key_id.len = KEYS_ID_BYTES;
    cs.signature.data = sig;
    cs.signature.len = 64;
    csbm__cosigned_head__init(&ch);
    ch.tree_head = other;
    ch.cosignatures = &csp;
    ch.n_cosignatures = 1;

    /* The same head cosigned is fine. */
    ch.tree_head = own;
    assert_int_equal(member_check_cosigned(m, &ch, own, NULL, &err), 0);
    /* A forged cosignature proves nothing. */
    ch.tree_head = other;
    sig[0] ^= 1;
    assert_int_equal(member_check_cosigned(m, &ch, own, NULL, &err), 0);
    assert_int_equal(mailbox_evidence_count(member_mailbox(m), &err), 0);
    sig[0] ^= 1;
    /* The validly cosigned other head of the same size is a fork. */
    assert_int_not_equal(member_check_cosigned(m, &ch, own, NULL, &err), 0);
    assert_non_null(strstr(err.msg, "NOT CONSISTENT"));
    assert_non_null(strstr(err.msg, "cosigned by ARG"));
    assert_int_equal(mailbox_evidence_count(member_mailbox(m), &err), 1);
    /* A bigger cosigned tree than the hub's newest head shown to us too. */
    s_free(other);
    s_head(&theirs, 6, 0x22, 1767225600);
    other = s_sign(&theirs, s_hub.sign_sk, s_hub.sign_pk, TREEHEAD_LABEL);
    s_cosign_raw(other, sig);
    ch.tree_head = other;
    assert_int_not_equal(member_check_cosigned(m, &ch, own, NULL, &err), 0);
    assert_int_equal(mailbox_evidence_count(member_mailbox(m), &err), 2);

    free(cs.key_id.data);
    s_free(own);
    s_free(other);
    member_destroy(&m);
    itest_rmtree(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_treehead_layout_and_bounds),
        cmocka_unit_test(test_treehead_signature_and_labels),
        cmocka_unit_test(test_treehead_leaf_entries),
        cmocka_unit_test(test_treehead_witness_catches_a_split_view),
    };

    return cmocka_run_group_tests(tests, s_group_setup, NULL);
}
