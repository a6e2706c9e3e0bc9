/*
 * fuzz_seed_corpus: write the seeds of fuzz targets as files, one directory
 * per target, for libFuzzer to start from.
 *
 *   fuzz_seed_corpus SOURCE_DIR OUT_DIR [TARGET...]
 *
 * SOURCE_DIR is the repository (its tests/vectors, examples and config
 * samples); with no TARGET, every target. Exit 0, or 2 on an error.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/fileio.h"
#include "tests/fuzz/targets.h"

typedef struct {
    const char *dir;
    int         n;
    int         failed;
} s_out_t;

static int
s_write(void *ctx, const char *name, const uint8_t *data, size_t size)
{
    s_out_t *o = ctx;
    char     path[PATH_MAX], base[64];
    size_t   i, j = 0;
    errbuf_t err = {{0}};

    /* a file name from the seed's name: its last component, [A-Za-z0-9._-] */
    const char *slash = strrchr(name, '/');

    name = slash != NULL ? slash + 1 : name;
    for (i = 0; name[i] != '\0' && j + 1 < sizeof base; i++) {
        char c = name[i];

        base[j++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '.' || c == '-'
                        ? c
                        : '_';
    }
    base[j] = '\0';
    snprintf(path, sizeof path, "%s/seed-%03d-%s", o->dir, o->n++, base);
    if (fileio_write(path, data, size, 0644, 0, &err) != 0) {
        fprintf(stderr, "fuzz_seed_corpus: %s\n", err.msg);
        o->failed = 1;
        return 1;
    }
    return 0;
}

static int
s_target(const char *src, const char *out, const char *name)
{
    char     dir[PATH_MAX];
    s_out_t  o = {dir, 0, 0};
    errbuf_t err = {{0}};
    int      n;

    snprintf(dir, sizeof dir, "%s/%s", out, name);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "fuzz_seed_corpus: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    if ((n = fuzz_seeds(name, src, s_write, &o, &err)) < 0 || o.failed) {
        fprintf(stderr, "fuzz_seed_corpus: %s\n", err.msg);
        return -1;
    }
    printf("%s: %d seeds in %s\n", name, n, dir);
    return 0;
}

int
main(int argc, char **argv)
{
    const fuzz_target_t *t;
    int                  i, rc = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: fuzz_seed_corpus SOURCE_DIR OUT_DIR "
                        "[TARGET...]\n");
        return 2;
    }
    if (mkdir(argv[2], 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "fuzz_seed_corpus: %s: %s\n", argv[2], strerror(errno));
        return 2;
    }
    if (argc == 3) {
        for (t = fuzz_targets; t->name != NULL; t++)
            if (s_target(argv[1], argv[2], t->name) != 0)
                rc = 2;
    } else {
        for (i = 3; i < argc; i++)
            if (s_target(argv[1], argv[2], argv[i]) != 0)
                rc = 2;
    }
    return rc;
}
