/* itest: shared helpers of the integration tests (see itest.h). */
#include "tests/support/itest.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/keys.h"

#define S_MAX_PROCS 64

static pid_t s_procs[S_MAX_PROCS];
static int   s_atexit_done;

static void
s_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int64_t
s_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
itest_tmpdir(const char *tag, char *out, size_t cap)
{
    const char *base = getenv("TMPDIR");
    int         n;

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    n = snprintf(out, cap, "%s/csbm-%s-XXXXXX", base, tag);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "itest: temporary path too long\n");
        return -1;
    }
    if (mkdtemp(out) == NULL) {
        fprintf(stderr, "itest: mkdtemp %s: %s\n", out, strerror(errno));
        return -1;
    }
    return 0;
}

static void
s_rmtree(const char *path)
{
    DIR           *d = opendir(path);
    struct dirent *e;
    char           sub[ITEST_PATH_MAX];
    struct stat    st;

    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name)
                >= (int)sizeof sub)
                continue;
            if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
                s_rmtree(sub);
            else
                unlink(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

void
itest_rmtree(const char *path)
{
    if (path == NULL || path[0] == '\0')
        return;
    if (getenv("CSBM_KEEP_TMP") != NULL) {
        fprintf(stderr, "itest: kept %s\n", path);
        return;
    }
    s_rmtree(path);
}

int
itest_free_port(void)
{
    struct sockaddr_in a;
    socklen_t          len = sizeof a;
    int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int                port = -1;

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

void
itest_endpoint(int port, char *out, size_t cap)
{
    snprintf(out, cap, "tcp://127.0.0.1:%d", port);
}

int
itest_port_open(int port)
{
    struct sockaddr_in a;
    int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int                ok;

    if (fd < 0)
        return 0;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

const char *
itest_csbm(void)
{
    static char path[ITEST_PATH_MAX];
    const char *dir = getenv("CSBM_BINARY_DIR");

    snprintf(path, sizeof path, "%s/csbm", dir != NULL ? dir : ".");
    return path;
}

static void
s_track(pid_t pid)
{
    int i;

    for (i = 0; i < S_MAX_PROCS; i++)
        if (s_procs[i] == 0) {
            s_procs[i] = pid;
            return;
        }
}

static void
s_untrack(pid_t pid)
{
    int i;

    for (i = 0; i < S_MAX_PROCS; i++)
        if (s_procs[i] == pid)
            s_procs[i] = 0;
}

static int
s_tracked(pid_t pid)
{
    int i;

    for (i = 0; i < S_MAX_PROCS; i++)
        if (s_procs[i] == pid)
            return 1;
    return 0;
}

static void
s_atexit(void)
{
    itest_kill_all();
}

static int
s_redirect(int target, const char *path, int flags)
{
    int fd = open(path != NULL ? path : "/dev/null", flags, 0600);

    if (fd < 0)
        return -1;
    if (fd != target) {
        dup2(fd, target);
        close(fd);
    }
    return 0;
}

pid_t
itest_spawn(const char *const argv[], const char *const env[],
    const char *out_path, const char *err_path)
{
    pid_t parent = getpid(), pid;

    if (!s_atexit_done) {
        atexit(s_atexit);
        s_atexit_done = 1;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "itest: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        size_t i;
        /* Die with the test, however it ends. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        setpgid(0, 0);
        if (s_redirect(0, NULL, O_RDONLY) != 0
            || s_redirect(1, out_path, O_WRONLY | O_CREAT | O_APPEND) != 0
            || s_redirect(2, err_path, O_WRONLY | O_CREAT | O_APPEND) != 0)
            _exit(127);
        for (i = 0; env != NULL && env[i] != NULL; i++)
            putenv((char *)(uintptr_t)env[i]);
        execv(argv[0], (char *const *)(uintptr_t)argv);
        dprintf(2, "itest: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    s_track(pid);
    return pid;
}

static int
s_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

int
itest_wait(pid_t pid, int timeout_ms)
{
    int64_t deadline = s_now_ms() + timeout_ms;
    int     status;

    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            s_untrack(pid);
            return s_code(status);
        }
        if (r < 0 && errno != EINTR) {
            s_untrack(pid);
            return -1;
        }
        if (s_now_ms() >= deadline)
            return -1;
        s_sleep_ms(10);
    }
}

int
itest_alive(pid_t pid)
{
    int   status;
    pid_t r;

    if (!s_tracked(pid))
        return 0;
    r = waitpid(pid, &status, WNOHANG);
    if (r == 0)
        return 1;
    s_untrack(pid);
    return 0;
}

int
itest_stop(pid_t pid, int sig, int timeout_ms)
{
    int code;

    if (!s_tracked(pid))
        return -1;
    kill(pid, sig);
    if ((code = itest_wait(pid, timeout_ms)) >= 0)
        return code;
    fprintf(stderr, "itest: pid %d did not stop within %d ms: killing it\n",
        (int)pid, timeout_ms);
    kill(pid, SIGKILL);
    code = itest_wait(pid, 10000);
    return code >= 0 ? 137 : -1;
}

void
itest_kill_all(void)
{
    int i;

    for (i = 0; i < S_MAX_PROCS; i++) {
        pid_t pid = s_procs[i];
        if (pid == 0)
            continue;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        s_procs[i] = 0;
    }
}

int
itest_run(const char *const argv[], const char *const env[],
    const char *out_path, const char *err_path, int timeout_ms)
{
    pid_t pid = itest_spawn(argv, env, out_path, err_path);
    int   code;

    if (pid < 0)
        return -1;
    if ((code = itest_wait(pid, timeout_ms)) >= 0)
        return code;
    fprintf(stderr, "itest: %s did not finish within %d ms\n", argv[0],
        timeout_ms);
    itest_stop(pid, SIGKILL, 10000);
    return -1;
}

int
itest_wait_port(int port, pid_t pid, int timeout_ms)
{
    int64_t deadline = s_now_ms() + timeout_ms;

    while (s_now_ms() < deadline) {
        if (itest_port_open(port))
            return 0;
        if (pid > 0 && !itest_alive(pid))
            return -1;
        s_sleep_ms(20);
    }
    return -1;
}

static size_t
s_file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

pid_t
itest_start_listener(const char *const argv[], const char *const env[],
    const char *out_path, const char *err_path, const int *ports, size_t n,
    int timeout_ms)
{
    int attempt;

    for (attempt = 0; attempt < 40; attempt++) {
        size_t from = err_path != NULL ? s_file_size(err_path) : 0;
        char       *log;
        const char *fresh;
        pid_t  pid = itest_spawn(argv, env, out_path, err_path);
        size_t i, len = 0;

        if (pid < 0)
            return -1;
        for (i = 0; i < n; i++)
            if (itest_wait_port(ports[i], pid, timeout_ms) != 0)
                break;
        if (i == n)
            return pid;
        itest_stop(pid, SIGKILL, 5000);
        log = err_path != NULL ? itest_read_file(err_path, &len) : NULL;
        fresh = log != NULL && len >= from ? log + from : "";
        if (strstr(fresh, "cannot listen") == NULL || attempt == 39) {
            fprintf(stderr, "itest: %s did not start:\n%s\n", argv[0], fresh);
            free(log);
            return -1;
        }
        free(log);
        s_sleep_ms(250);
    }
    return -1;
}

char *
itest_read_file(const char *path, size_t *len)
{
    FILE  *f = fopen(path, "rb");
    char  *buf = NULL;
    size_t cap = 0, n = 0, r;

    if (f == NULL)
        return NULL;
    for (;;) {
        if (cap - n < 4096) {
            char *grown = realloc(buf, cap + 65536);
            if (grown == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
            cap += 65536;
        }
        r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

int
itest_file_contains(const char *path, const char *needle, int timeout_ms)
{
    int64_t deadline = s_now_ms() + timeout_ms;

    for (;;) {
        char *text = itest_read_file(path, NULL);
        int   found = text != NULL && strstr(text, needle) != NULL;
        free(text);
        if (found)
            return 1;
        if (s_now_ms() >= deadline)
            return 0;
        s_sleep_ms(20);
    }
}

int
itest_write_file(const char *path, const char *text, mode_t mode)
{
    int    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    size_t len = strlen(text);

    if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
        fprintf(stderr, "itest: writing %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    fchmod(fd, mode);
    close(fd);
    return 0;
}

int
itest_identity(const char *dir, const char *owner)
{
    errbuf_t err = {{0}};

    if (keys_generate(dir, owner, ITEST_PASSPHRASE, strlen(ITEST_PASSPHRASE),
            &err) != 0) {
        fprintf(stderr, "itest: identity %s in %s: %s\n", owner, dir,
            err.msg);
        return -1;
    }
    return 0;
}

int
itest_member(itest_member_t *m, const char *owner)
{
    if (sodium_init() < 0 || strlen(owner) >= sizeof m->owner)
        return -1;
    memset(m, 0, sizeof *m);
    snprintf(m->owner, sizeof m->owner, "%s", owner);
    crypto_sign_keypair(m->sign_pk, m->sign_sk);
    crypto_box_keypair(m->box_pk, m->box_sk);
    crypto_box_keypair(m->transport_pk, m->transport_sk);
    return 0;
}

int
itest_member_pub(const itest_member_t *m, const char *dir)
{
    keys_public_t pub;
    errbuf_t      err = {{0}};
    char          path[ITEST_PATH_MAX];

    if (keys_public_init(&pub, m->owner, m->sign_pk, m->box_pk,
            m->transport_pk, &err) != 0
        || keys_path(path, sizeof path, dir, m->owner, 0) != 0
        || keys_public_save(path, &pub, &err) != 0) {
        fprintf(stderr, "itest: %s.pub in %s: %s\n", m->owner, dir, err.msg);
        return -1;
    }
    return 0;
}

int
itest_keyring_add(const char *keyring_dir, const char *from_dir,
    const char *owner)
{
    char          from[ITEST_PATH_MAX], to[ITEST_PATH_MAX];
    keys_public_t pub;
    errbuf_t      err = {{0}};

    if (mkdir(keyring_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "itest: mkdir %s: %s\n", keyring_dir,
            strerror(errno));
        return -1;
    }
    chmod(keyring_dir, 0755);
    if (keys_path(from, sizeof from, from_dir, owner, 0) != 0
        || keys_path(to, sizeof to, keyring_dir, owner, 0) != 0
        || keys_public_load(from, &pub, &err) != 0
        || keys_public_save(to, &pub, &err) != 0) {
        fprintf(stderr, "itest: adding %s to %s: %s\n", owner, keyring_dir,
            err.msg);
        return -1;
    }
    return 0;
}

int
itest_keyring_bind(keyring_t *kr, const itest_member_t *m, int64_t valid_from,
    int64_t valid_until, int status, int64_t status_since)
{
    keyring_key_t k;
    errbuf_t      err = {{0}};

    memset(&k, 0, sizeof k);
    if (keys_public_init(&k.pub, m->owner, m->sign_pk, m->box_pk,
            m->transport_pk, &err) != 0) {
        fprintf(stderr, "itest: %s: %s\n", m->owner, err.msg);
        return -1;
    }
    k.valid_from = valid_from;
    k.valid_until = valid_until;
    k.revoked = 0;
    k.status = (keyring_status_t)status;
    k.status_since = status_since;
    if (keyring_add(kr, &k, &err) != 0) {
        fprintf(stderr, "itest: binding %s: %s\n", m->owner, err.msg);
        return -1;
    }
    return 0;
}
