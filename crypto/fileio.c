/* fileio: bounded reads and atomic, permission-aware writes (see fileio.h). */
#include "crypto/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
s_read_fd(int fd, const char *path, size_t max, uint8_t **out, size_t *out_len,
    errbuf_t *err)
{
    size_t   cap = 4096, len = 0;
    uint8_t *buf = malloc(cap + 1), *grown;
    ssize_t  n;

    if (buf == NULL) {
        errbuf_set(err, "%s: out of memory", path);
        return -1;
    }
    for (;;) {
        if (len == cap) {
            if (cap > max) {
                free(buf);
                errbuf_set(err, "%s: larger than the limit of %zu bytes", path,
                    max);
                return -1;
            }
            cap *= 2;
            if ((grown = realloc(buf, cap + 1)) == NULL) {
                free(buf);
                errbuf_set(err, "%s: out of memory", path);
                return -1;
            }
            buf = grown;
        }
        n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            errbuf_set(err, "%s: read failed: %s", path, strerror(errno));
            free(buf);
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max) {
            free(buf);
            errbuf_set(err, "%s: larger than the limit of %zu bytes", path, max);
            return -1;
        }
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return 0;
}

int
fileio_read(const char *path, size_t max, uint8_t **out, size_t *out_len,
    errbuf_t *err)
{
    struct stat st;
    int         fd, rc;

    *out = NULL;
    *out_len = 0;
    if (strcmp(path, "-") == 0)
        return s_read_fd(STDIN_FILENO, "standard input", max, out, out_len, err);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        errbuf_set(err, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        errbuf_set(err, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if ((uint64_t)st.st_size > (uint64_t)max) {
        errbuf_set(err, "%s: %lld bytes is larger than the limit of %zu bytes",
            path, (long long)st.st_size, max);
        close(fd);
        return -1;
    }
    rc = s_read_fd(fd, path, max, out, out_len, err);
    close(fd);
    return rc;
}

static int
s_write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    ssize_t        n;

    while (len > 0) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int
fileio_write(const char *path, const void *buf, size_t len, mode_t mode,
    int exclusive, errbuf_t *err)
{
    char  tmp[PATH_MAX], dircopy[PATH_MAX];
    int   fd, dfd, saved;
    char *dir;

    if (strcmp(path, "-") == 0) {
        if (s_write_all(STDOUT_FILENO, buf, len) != 0) {
            errbuf_set(err, "standard output: write failed: %s",
                strerror(errno));
            return -1;
        }
        return 0;
    }
    if (exclusive && access(path, F_OK) == 0) {
        errbuf_set(err, "%s: already exists; refusing to overwrite it", path);
        return -1;
    }
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid())
        >= sizeof tmp) {
        errbuf_set(err, "%s: path too long", path);
        return -1;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        errbuf_set(err, "%s: cannot create: %s", tmp, strerror(errno));
        return -1;
    }
    if (fchmod(fd, mode) != 0 || s_write_all(fd, buf, len) != 0
        || fsync(fd) != 0) {
        saved = errno;
        close(fd);
        unlink(tmp);
        errbuf_set(err, "%s: write failed: %s", path, strerror(saved));
        return -1;
    }
    close(fd);
    if (exclusive ? link(tmp, path) != 0 : rename(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        errbuf_set(err, "%s: cannot put in place: %s", path, strerror(saved));
        return -1;
    }
    if (exclusive)
        unlink(tmp);
    snprintf(dircopy, sizeof dircopy, "%s", path);
    dir = dirname(dircopy);
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
}

int
fileio_private_dir(const char *path, errbuf_t *err)
{
    struct stat st;

    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        errbuf_set(err, "%s: cannot create directory: %s", path,
            strerror(errno));
        return -1;
    }
    if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        errbuf_set(err, "%s: not a directory", path);
        return -1;
    }
    if ((st.st_mode & 077) != 0) {
        errbuf_set(err,
            "%s: directory is accessible by other users (mode %03o); "
            "run: chmod 700 %s",
            path, (unsigned)(st.st_mode & 0777), path);
        return -1;
    }
    return 0;
}

/* The checks on a secret file, on the descriptor it will be read from. */
static int
s_check_private_fd(int fd, const char *path, errbuf_t *err)
{
    struct stat st;

    if (fstat(fd, &st) != 0) {
        errbuf_set(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        errbuf_set(err, "%s: not a regular file (symbolic links are refused)",
            path);
        return -1;
    }
    if (st.st_uid != geteuid()) {
        errbuf_set(err, "%s: owned by another user (uid %u); the key file "
            "must belong to the user who runs csbm", path, (unsigned)st.st_uid);
        return -1;
    }
    if ((st.st_mode & 077) != 0) {
        errbuf_set(err,
            "%s: secret key file is readable by other users (mode %03o); "
            "run: chmod 600 %s",
            path, (unsigned)(st.st_mode & 0777), path);
        return -1;
    }
    return 0;
}

/* Open a secret file without following a symbolic link and without
 * blocking on a FIFO, and check it through the descriptor: what is checked
 * is what is read, whatever happens to the path meanwhile. */
static int
s_open_private(const char *path, errbuf_t *err)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY
        | O_CLOEXEC);
    int flags;

    if (fd < 0) {
        if (errno == ELOOP)
            errbuf_set(err, "%s: not a regular file (symbolic links are "
                "refused)", path);
        else
            errbuf_set(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (s_check_private_fd(fd, path, err) != 0) {
        close(fd);
        return -1;
    }
    if ((flags = fcntl(fd, F_GETFL)) < 0
        || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        errbuf_set(err, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int
fileio_check_private(const char *path, errbuf_t *err)
{
    int fd = s_open_private(path, err);

    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

int
fileio_read_private(const char *path, size_t max, uint8_t **out,
    size_t *out_len, errbuf_t *err)
{
    int fd, rc;

    *out = NULL;
    *out_len = 0;
    if ((fd = s_open_private(path, err)) < 0)
        return -1;
    rc = s_read_fd(fd, path, max, out, out_len, err);
    close(fd);
    return rc;
}
