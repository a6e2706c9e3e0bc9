/*
 * passphrase: where the key-file passphrase comes from (see
 * keys_passphrase_get in keys.h): a file, the environment, or the terminal
 * with echo off.
 *
 * The passphrase is read a byte at a time straight into the caller's
 * buffer, so no copy of it lands in stdio or heap buffers, and nothing past
 * the first line is consumed from a pipe.
 *
 * CSBM_PASSPHRASE is consumed on first use: its value is copied into
 * guarded memory (sodium_malloc, wiped and freed at exit or by
 * keys_passphrase_forget), wiped in place in the environment and unset, so
 * that it is not left in /proc/<pid>/environ of a long-running node or hub
 * nor inherited by its children. Later calls in the same process (commands
 * that load several keys) get that copy.
 */
#include "crypto/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define S_CAP (KEYS_PASSPHRASE_MAX + 1)

/* Signals that would otherwise leave the terminal with echo off. */
static const int s_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define S_NSIGNALS (sizeof s_signals / sizeof s_signals[0])

static volatile sig_atomic_t s_caught;

static void
s_on_signal(int signo)
{
    s_caught = signo;
}

/* Read one line from fd into buf (S_CAP bytes) without its "\n" or "\r\n".
 * Returns 0 and *len, 1 if the line is too long (the rest of the line is
 * drained), or -1 on a read error (errno set; EINTR is returned when
 * stop_on_signal is set and a signal arrived). */
static int
s_read_line(int fd, char *buf, size_t *len, int stop_on_signal)
{
    size_t  n = 0;
    int     too_long = 0;
    char    c;
    ssize_t r;

    for (;;) {
        r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR && !(stop_on_signal && s_caught))
            continue;
        if (r < 0) {
            sodium_memzero(&c, sizeof c);
            return -1;
        }
        if (r == 0 || c == '\n')
            break;
        if (n < S_CAP)
            buf[n++] = c;
        else
            too_long = 1;
    }
    sodium_memzero(&c, sizeof c);
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    if (too_long || n > KEYS_PASSPHRASE_MAX)
        return 1;
    buf[n] = '\0';
    *len = n;
    return 0;
}

static int
s_check(const char *source, const char *buf, size_t len, errbuf_t *err)
{
    if (len == 0) {
        errbuf_set(err, "%s: the passphrase is empty", source);
        return -1;
    }
    if (memchr(buf, '\0', len) != NULL) {
        errbuf_set(err, "%s: the passphrase contains a NUL byte", source);
        return -1;
    }
    return 0;
}

static int
s_from_file(const char *path, char *buf, size_t *len, errbuf_t *err)
{
    struct stat st;
    int         fd, rc, saved;
    const char *name = strcmp(path, "-") == 0 ? "standard input" : path;

    if (strcmp(path, "-") == 0)
        fd = STDIN_FILENO;
    else if ((fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC)) < 0) {
        errbuf_set(err, "%s: cannot open the passphrase file: %s", path,
            strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        errbuf_set(err, "%s: %s", name, strerror(errno));
        rc = -1;
        goto done;
    }
    /* Regular files (and pipes, such as <(pass show x) or standard input)
     * only. Group access is allowed so a service group can share the
     * file; other users may neither read nor change it. */
    if (fd != STDIN_FILENO && !S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
        errbuf_set(err, "%s: the passphrase file is not a regular file",
            path);
        rc = -1;
        goto done;
    }
    if (S_ISREG(st.st_mode) && (st.st_mode & 007) != 0) {
        errbuf_set(err, "%s: the passphrase file is accessible by other users "
            "(mode %03o); run: chmod 600 %s", name,
            (unsigned)(st.st_mode & 0777), name);
        rc = -1;
        goto done;
    }
    rc = s_read_line(fd, buf, len, 0);
    saved = errno;
    if (rc < 0) {
        errbuf_set(err, "%s: read failed: %s", name, strerror(saved));
    } else if (rc > 0) {
        errbuf_set(err, "%s: the first line is longer than %d bytes", name,
            KEYS_PASSPHRASE_MAX);
        rc = -1;
    } else if (*len == 0) {
        errbuf_set(err, "%s: the first line is empty; put the passphrase on "
            "the first line", name);
        rc = -1;
    } else {
        rc = s_check(name, buf, *len, err);
    }
done:
    if (fd != STDIN_FILENO)
        close(fd);
    return rc;
}

/* The consumed CSBM_PASSPHRASE (S_CAP bytes, NUL-terminated), or NULL;
 * no access to it but while it is copied. */
static char  *s_env_copy;
static size_t s_env_copy_len;
static int    s_atexit_done;

void
keys_passphrase_forget(void)
{
    if (s_env_copy == NULL)
        return;
    sodium_mprotect_readwrite(s_env_copy);
    sodium_memzero(s_env_copy, S_CAP);
    sodium_free(s_env_copy);
    s_env_copy = NULL;
    s_env_copy_len = 0;
}

/* Wipe the variable's value where the environment holds it, and remove
 * it. Environment changes are not thread-safe: the commands get their
 * passphrase before they start threads. */
static void
s_consume_env(char *value)
{
    sodium_memzero(value, strlen(value));
    (void)unsetenv(KEYS_PASSPHRASE_ENV);
}

static int
s_from_env(const char *value, char *buf, size_t *len, errbuf_t *err)
{
    size_t n = strlen(value);

    if (n == 0) {
        errbuf_set(err, "%s is set but empty; set it to the passphrase, or "
            "unset it to be asked on the terminal", KEYS_PASSPHRASE_ENV);
        return -1;
    }
    if (n > KEYS_PASSPHRASE_MAX) {
        errbuf_set(err, "%s is longer than %d bytes", KEYS_PASSPHRASE_ENV,
            KEYS_PASSPHRASE_MAX);
        return -1;
    }
    memcpy(buf, value, n + 1);
    *len = n;
    return 0;
}

/* Take CSBM_PASSPHRASE out of the environment into buf and into the
 * process's guarded copy. A value that is refused is consumed as well: it
 * may still be a secret, and a later call must not fall back to it. */
static int
s_take_env(char *value, char *buf, size_t *len, errbuf_t *err)
{
    int rc;

    keys_passphrase_forget();
    rc = s_from_env(value, buf, len, err);
    s_consume_env(value);
    if (rc != 0)
        return rc;
    if ((s_env_copy = sodium_malloc(S_CAP)) == NULL) {
        errbuf_set(err, "out of memory");
        return -1;
    }
    memcpy(s_env_copy, buf, *len + 1);
    s_env_copy_len = *len;
    sodium_mprotect_noaccess(s_env_copy);
    if (!s_atexit_done && atexit(keys_passphrase_forget) == 0)
        s_atexit_done = 1;
    return 0;
}

static void
s_write_str(int fd, const char *s)
{
    size_t  n = strlen(s);
    ssize_t w;

    while (n > 0) {
        w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* Ask once on the terminal fd with echo off. A signal restores the
 * terminal first and is then delivered again. */
static int
s_prompt(int fd, const char *prompt, char *buf, size_t *len, errbuf_t *err)
{
    struct termios   saved, quiet;
    struct sigaction sa, old[S_NSIGNALS];
    size_t           i;
    int              rc, caught;

    if (tcgetattr(fd, &saved) != 0) {
        errbuf_set(err, "cannot use the terminal to ask for the passphrase "
            "(%s); set %s or use --passphrase-file FILE", strerror(errno),
            KEYS_PASSPHRASE_ENV);
        return -1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a signal must end the read */
    s_caught = 0;
    for (i = 0; i < S_NSIGNALS; i++)
        sigaction(s_signals[i], &sa, &old[i]);

    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
    quiet.c_lflag |= ICANON;
    s_write_str(fd, prompt);
    (void)tcsetattr(fd, TCSAFLUSH, &quiet);
    rc = s_read_line(fd, buf, len, 1);
    (void)tcsetattr(fd, TCSAFLUSH, &saved);
    s_write_str(fd, "\n");

    caught = s_caught;
    for (i = 0; i < S_NSIGNALS; i++)
        sigaction(s_signals[i], &old[i], NULL);
    if (caught != 0) {
        sodium_memzero(buf, S_CAP);
        kill(getpid(), caught);
        errbuf_set(err, "interrupted while asking for the passphrase");
        return -1;
    }
    if (rc < 0) {
        errbuf_set(err, "cannot read the passphrase from the terminal: %s",
            strerror(errno));
        return -1;
    }
    if (rc > 0) {
        errbuf_set(err, "the passphrase is longer than %d bytes",
            KEYS_PASSPHRASE_MAX);
        return -1;
    }
    if (*len == 0) {
        errbuf_set(err, "no passphrase entered");
        return -1;
    }
    return s_check("terminal", buf, *len, err);
}

static int
s_from_tty(int confirm, char *buf, size_t *len, errbuf_t *err)
{
    char  *again = NULL;
    size_t again_len = 0;
    int    fd, rc = -1;

    fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        errbuf_set(err, "no passphrase: there is no terminal to ask on; set "
            "%s or use --passphrase-file FILE", KEYS_PASSPHRASE_ENV);
        return -1;
    }
    if (s_prompt(fd, "Passphrase: ", buf, len, err) != 0)
        goto cleanup;
    if (confirm) {
        if ((again = sodium_malloc(S_CAP)) == NULL) {
            errbuf_set(err, "out of memory");
            goto cleanup;
        }
        if (s_prompt(fd, "Passphrase (again): ", again, &again_len, err) != 0)
            goto cleanup;
        if (again_len != *len || sodium_memcmp(again, buf, *len) != 0) {
            errbuf_set(err, "the two passphrases differ; nothing was done, "
                "try again");
            goto cleanup;
        }
    }
    rc = 0;
cleanup:
    if (again != NULL) {
        sodium_memzero(again, S_CAP);
        sodium_free(again);
    }
    close(fd);
    return rc;
}

int
keys_passphrase_get(const char *file, int confirm, char *buf, size_t *len,
    errbuf_t *err)
{
    char *env = getenv(KEYS_PASSPHRASE_ENV);
    int   rc;

    *len = 0;
    if (sodium_init() < 0) {
        errbuf_set(err, "libsodium failed to initialise");
        return -1;
    }
    if (file != NULL)
        rc = s_from_file(file, buf, len, err);
    else if (env != NULL)
        rc = s_take_env(env, buf, len, err);
    else if (s_env_copy != NULL) {
        sodium_mprotect_readonly(s_env_copy);
        memcpy(buf, s_env_copy, s_env_copy_len + 1);
        sodium_mprotect_noaccess(s_env_copy);
        *len = s_env_copy_len;
        rc = 0;
    } else
        rc = s_from_tty(confirm, buf, len, err);
    if (rc != 0) {
        sodium_memzero(buf, S_CAP);
        *len = 0;
    }
    return rc;
}
