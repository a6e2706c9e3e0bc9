/* ihub: the real hub for the integration tests (see ihub.h). */
#include "tests/support/ihub.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "node/wire.h"

#define S_ATTEMPTS  5
#define S_MAX_ARGS  48

/* Build the hub's argv into argv (cap entries). Returns 0, or -1 if extra
 * does not fit. */
static int
s_argv(const ihub_t *h, const char *federation, int notify,
    const char *const extra[], const char **argv, size_t cap)
{
    size_t n = 0, i;

    argv[n++] = itest_csbm();
    argv[n++] = "hub";
    argv[n++] = "--keys";
    argv[n++] = h->keys;
    argv[n++] = "--keyring";
    argv[n++] = h->keyring;
    argv[n++] = "--data";
    argv[n++] = h->db;
    argv[n++] = "--bind";
    argv[n++] = h->ep;
    if (notify) {
        argv[n++] = "--notify";
        argv[n++] = h->notify_ep;
    }
    argv[n++] = "--federation";
    argv[n++] = federation;
    for (i = 0; extra != NULL && extra[i] != NULL; i++) {
        if (n + 2 >= cap) {
            fprintf(stderr, "ihub: too many extra arguments\n");
            return -1;
        }
        argv[n++] = extra[i];
    }
    argv[n++] = "--foreground";
    argv[n] = NULL;
    return 0;
}

/* Start the hub on fresh free ports, retrying a lost port race. Returns
 * 0 once it listens, or -1 after printing its log to stderr. */
static int
s_spawn(ihub_t *h, const char *federation, int notify,
    const char *const extra[])
{
    static char pass_env[] = "CSBM_PASSPHRASE=" ITEST_PASSPHRASE;
    const char *env[] = {pass_env, NULL};
    const char *argv[S_MAX_ARGS];
    int         attempt;

    if (s_argv(h, federation, notify, extra, argv, S_MAX_ARGS) != 0)
        return -1;
    for (attempt = 0; attempt < S_ATTEMPTS; attempt++) {
        int port = itest_free_port(), nport = notify ? itest_free_port() : 0;

        if (port < 0 || nport < 0 || (notify && port == nport))
            continue;
        itest_endpoint(port, h->ep, sizeof h->ep);
        if (notify)
            itest_endpoint(nport, h->notify_ep, sizeof h->notify_ep);
        h->pid = itest_spawn(argv, env, h->out, h->log);
        if (h->pid < 0)
            return -1;
        if (itest_wait_port(port, h->pid, IHUB_START_MS) == 0
            && (!notify
                || itest_wait_port(nport, h->pid, IHUB_START_MS) == 0))
            return 0;
        /* Lost a port race, or a real failure: the log tells. */
        if (!itest_file_contains(h->log, "cannot listen", 0)) {
            char *log = itest_read_file(h->log, NULL);
            fprintf(stderr, "the hub did not start:\n%s\n", log ? log : "");
            free(log);
            itest_stop(h->pid, SIGKILL, 5000);
            return -1;
        }
        itest_stop(h->pid, SIGKILL, 5000);
    }
    return -1;
}

int
ihub_start(ihub_t *h, const char *tag, const char *federation,
    const ihub_member_t *members, size_t n, int notify,
    const char *const extra[])
{
    char     path[ITEST_PATH_MAX + 32];
    errbuf_t err = {{0}};
    size_t   i;

    memset(h, 0, sizeof *h);
    h->pid = -1;
    if (sodium_init() < 0 || itest_tmpdir(tag, h->root, sizeof h->root))
        return -1;
    snprintf(h->keys, sizeof h->keys, "%s/hub", h->root);
    snprintf(h->keyring, sizeof h->keyring, "%s/keyring", h->root);
    snprintf(h->db, sizeof h->db, "%s/hub.db", h->root);
    snprintf(h->log, sizeof h->log, "%s/hub.log", h->root);
    snprintf(h->out, sizeof h->out, "%s/hub.out", h->root);
    if (itest_identity(h->keys, "hub") != 0)
        return -1;
    for (i = 0; i < n; i++)
        if (itest_member(members[i].member, members[i].owner) != 0)
            return -1;
    if (itest_keyring_add(h->keyring, h->keys, "hub") != 0)
        return -1;
    for (i = 0; i < n; i++)
        if (members[i].known
            && itest_member_pub(members[i].member, h->keyring) != 0)
            return -1;
    snprintf(path, sizeof path, "%s/hub.pub", h->keys);
    if (keys_public_load(path, &h->pub, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    if ((h->zctx = zmq_ctx_new()) == NULL)
        return -1;
    return s_spawn(h, federation, notify, extra);
}

void *
ihub_dealer(ihub_t *h, const itest_member_t *m)
{
    errbuf_t err = {{0}};
    void    *d = wire_member_socket(h->zctx, h->ep, m->transport_pk,
        m->transport_sk, h->pub.transport_pk, &err);

    if (d == NULL)
        fail_msg("%s", err.msg);
    return d;
}

void
ihub_cleanup(ihub_t *h)
{
    itest_kill_all();
    if (h->zctx != NULL)
        zmq_ctx_term(h->zctx);
    h->zctx = NULL;
    if (getenv("CSBM_SHOW_HUB_LOG") != NULL) {
        char *log = itest_read_file(h->log, NULL);

        fprintf(stderr, "%s", log ? log : "");
        free(log);
    }
    if (h->root[0] != '\0')
        itest_rmtree(h->root);
}
