/*
 * test_fuzz_regress: every fuzz target (tests/fuzz/targets.h) over
 *   (a) its seeds, built from the committed vectors and examples;
 *   (b) S_MUTATIONS deterministic mutations of them (bit flips, byte
 *       overwrites, truncations, insertions, deletions, duplicated ranges,
 *       length fields overwritten with boundary values, syntax tokens),
 *       from a fixed PRNG seed so every run sees the same inputs;
 *   (c) every input the fuzzers found a crash or hang with, committed under
 *       tests/vectors/fuzz/<target>/.
 * A target aborts on a broken invariant, so a regression fails this test.
 * CSBM_FUZZ_MUTATIONS=N changes the number of mutations per target (for a
 * longer local run); CSBM_FUZZ_PRNG=N the PRNG seed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/fileio.h"
#include "tests/fuzz/targets.h"

#define S_MUTATIONS 2000
#define S_PRNG_SEED UINT64_C(0x9e3779b97f4a7c15)
#define S_CRASH_DIR "tests/vectors/fuzz"
#define S_INPUT_MAX (1024u * 1024)
#define S_MAX_SEEDS 256

typedef struct {
    uint8_t *data;
    size_t   size;
} s_input_t;

typedef struct {
    s_input_t in[S_MAX_SEEDS];
    size_t    n;
} s_seeds_t;

static const char *
s_source_dir(void)
{
    const char *dir = getenv("CSBM_SOURCE_DIR");

    return dir != NULL && dir[0] != '\0' ? dir : ".";
}

static size_t
s_env_size(const char *name, size_t dflt)
{
    const char        *v = getenv(name);
    char              *end = NULL;
    unsigned long long n;

    if (v == NULL || v[0] == '\0')
        return dflt;
    n = strtoull(v, &end, 10);
    assert_true(end != v && *end == '\0');
    return (size_t)n;
}

/* xorshift64*: small, fast and the same everywhere. */
static uint64_t
s_next(uint64_t *st)
{
    uint64_t x = *st;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *st = x;
    return x * UINT64_C(0x2545f4914f6cdd1d);
}

static size_t
s_below(uint64_t *st, size_t n)
{
    return n == 0 ? 0 : (size_t)(s_next(st) % n);
}

static int
s_collect(void *ctx, const char *name, const uint8_t *data, size_t size)
{
    s_seeds_t *s = ctx;

    (void)name;
    if (s->n == S_MAX_SEEDS)
        return 1;
    s->in[s->n].data = malloc(size + 1);
    assert_non_null(s->in[s->n].data);
    if (size > 0)
        memcpy(s->in[s->n].data, data, size);
    s->in[s->n].size = size;
    s->n++;
    return 0;
}

static const uint8_t     s_bytes8[] = {0x00, 0x01, 0x7f, 0x80,
                                       0xff, 0x20, '0',  '9'};
static const uint32_t    s_ints32[] = {0,
                                       1,
                                       0x7f,
                                       0x80,
                                       0xff,
                                       0x100,
                                       0xffff,
                                       0x10000,
                                       0x7fffffff,
                                       0x80000000u,
                                       0xffffffffu,
                                       64u * 1024,
                                       64u * 1024 + 1,
                                       16u * 1024 * 1024};
static const char *const s_tokens[] = {"\"",
                                       "{",
                                       "}",
                                       "[",
                                       "]",
                                       ",",
                                       ":",
                                       "\\u0000",
                                       "\\ud800",
                                       "null",
                                       "1e999",
                                       "-0",
                                       "18446744073709551616",
                                       "\n[",
                                       "=",
                                       "\n",
                                       "\r",
                                       ";",
                                       "\xc3",
                                       "\xff",
                                       "===",
                                       "\"\":",
                                       "A",
                                       "-----",
                                       "\x30\x82",
                                       "\x02\x01\x00"};

/* One mutation of in (size n) into a new buffer. In-place changes stay
 * below `below` when it is not 0; changes of length may go anywhere. */
static uint8_t *
s_mutate(uint64_t *st, const uint8_t *in, size_t n, size_t below, size_t *out_n)
{
    size_t   cap = n + 64, len = n, lim, pos, k, rounds, r;
    uint8_t *out = malloc(cap + 1);

    assert_non_null(out);
    if (n > 0)
        memcpy(out, in, n);
    rounds = below != 0 ? 1 : 1 + s_below(st, 3);
    for (r = 0; r < rounds; r++) {
        lim = below != 0 && below < len ? below : len;
        switch (s_next(st) % 9) {
        case 0: /* flip a bit */
            if (lim > 0) {
                pos = s_below(st, lim);
                out[pos] ^= (uint8_t)(1u << s_below(st, 8));
            }
            break;
        case 1: /* a boundary byte */
            if (lim > 0)
                out[s_below(st, lim)] = s_bytes8[s_below(st, sizeof s_bytes8)];
            break;
        case 2: /* truncate */
            len = s_below(st, len + 1);
            break;
        case 3: /* insert random bytes */
            k = 1 + s_below(st, 16);
            if (len + k <= cap) {
                pos = s_below(st, len + 1);
                memmove(out + pos + k, out + pos, len - pos);
                for (size_t i = 0; i < k; i++)
                    out[pos + i] = (uint8_t)s_next(st);
                len += k;
            }
            break;
        case 4: /* delete a range */
            if (len > 0) {
                pos = s_below(st, len);
                k = 1 + s_below(st, len - pos < 32 ? len - pos : 32);
                memmove(out + pos, out + pos + k, len - pos - k);
                len -= k;
            }
            break;
        case 5: /* a 32-bit length field, big-endian, set to a boundary */
            if (lim >= 4) {
                uint32_t v = s_ints32[s_below(st, sizeof s_ints32 / 4)];

                pos = s_below(st, lim - 3);
                out[pos] = (uint8_t)(v >> 24);
                out[pos + 1] = (uint8_t)(v >> 16);
                out[pos + 2] = (uint8_t)(v >> 8);
                out[pos + 3] = (uint8_t)v;
            }
            break;
        case 6: /* a varint length byte made long or overlong */
            if (lim > 0) {
                pos = s_below(st, lim);
                out[pos] = (uint8_t)(out[pos] | 0x80);
            }
            break;
        case 7: /* duplicate a range */
            if (len > 0) {
                uint8_t tmp[48];
                size_t  from = s_below(st, len);

                k = 1 + s_below(st, len - from < 48 ? len - from : 48);
                memcpy(tmp, out + from, k);
                if (len + k <= cap) {
                    pos = s_below(st, len + 1);
                    memmove(out + pos + k, out + pos, len - pos);
                    memcpy(out + pos, tmp, k);
                    len += k;
                }
            }
            break;
        default: { /* a syntax token */
            const char *t =
                s_tokens[s_below(st, sizeof s_tokens / sizeof s_tokens[0])];

            k = strlen(t);
            if (len + k <= cap) {
                pos = s_below(st, len + 1);
                memmove(out + pos + k, out + pos, len - pos);
                memcpy(out + pos, t, k);
                len += k;
            }
            break;
        }
        }
    }
    *out_n = len;
    return out;
}

/* Run the committed crash inputs of a target; returns how many. */
static size_t
s_run_crashes(const fuzz_target_t *t)
{
    char            dir[PATH_MAX], path[PATH_MAX + 256];
    struct dirent **names = NULL;
    int             n, i;
    size_t          ran = 0;

    snprintf(dir, sizeof dir, "%s/%s/%s", s_source_dir(), S_CRASH_DIR, t->name);
    if ((n = scandir(dir, &names, NULL, alphasort)) < 0)
        return 0;
    for (i = 0; i < n; i++) {
        uint8_t *buf = NULL;
        size_t   len = 0;
        errbuf_t err = {{0}};

        if (names[i]->d_name[0] != '.' &&
            strcmp(names[i]->d_name, "README.md") != 0) {
            if (snprintf(path, sizeof path, "%s/%.255s", dir,
                         names[i]->d_name) >= (int)sizeof path)
                fail_msg("%s: path too long", dir);
            if (fileio_read(path, S_INPUT_MAX, &buf, &len, &err) != 0)
                fail_msg("%s", err.msg);
            t->entry(buf, len);
            free(buf);
            ran++;
        }
        free(names[i]);
    }
    free(names);
    return ran;
}

static void
test_fuzz_regress_target(void **state)
{
    const fuzz_target_t *t = &fuzz_targets[*(const size_t *)*state];
    s_seeds_t           *s = calloc(1, sizeof *s);
    size_t               i, n_mut, crashes;
    uint64_t             st;
    errbuf_t             err = {{0}};

    assert_non_null(s);
    if (fuzz_seeds(t->name, s_source_dir(), s_collect, s, &err) < 0)
        fail_msg("%s", err.msg);
    assert_true(s->n > 0);
    for (i = 0; i < s->n; i++)
        t->entry(s->in[i].data, s->in[i].size);

    n_mut = s_env_size("CSBM_FUZZ_MUTATIONS", S_MUTATIONS);
    st = s_env_size("CSBM_FUZZ_PRNG", S_PRNG_SEED);
    for (i = 0; t->name[i] != '\0'; i++)
        st = st * 31 + (uint8_t)t->name[i];
    if (st == 0)
        st = 1;
    for (i = 0; i < n_mut; i++) {
        const s_input_t *seed = &s->in[i % s->n];
        size_t           len = 0;
        uint8_t         *m =
            s_mutate(&st, seed->data, seed->size, t->mutate_below, &len);

        t->entry(m, len);
        free(m);
    }
    crashes = s_run_crashes(t);
    print_message("fuzz target %s: %zu seeds, %zu mutations, %zu committed "
                  "inputs\n",
                  t->name, s->n, n_mut, crashes);
    for (i = 0; i < s->n; i++)
        free(s->in[i].data);
    free(s);
}

/* Every target must be in the table below, and the other way round. */
static void
test_fuzz_regress_covers_every_target(void **state)
{
    size_t n = 0;

    (void)state;
    while (fuzz_targets[n].name != NULL)
        n++;
    assert_int_equal(n, 10);
    assert_null(fuzz_target_find("no-such-target"));
}

static size_t s_index[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

#define S_TARGET(i)                                                            \
    cmocka_unit_test_prestate(test_fuzz_regress_target, &s_index[i])

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzz_regress_covers_every_target),
        S_TARGET(0),
        S_TARGET(1),
        S_TARGET(2),
        S_TARGET(3),
        S_TARGET(4),
        S_TARGET(5),
        S_TARGET(6),
        S_TARGET(7),
        S_TARGET(8),
        S_TARGET(9),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
