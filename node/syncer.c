/* syncer: the archive's flush thread (syncer.h). */
#include "node/syncer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

struct syncer {
    archive_t      *archive;
    pthread_t       thread;
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    uint64_t        asked; /* newest flush asked for */
    uint64_t        done;  /* newest flush finished */
    int             failed;
    int             stop;
    int             inline_busy; /* a flush runs on the caller's thread */
    int             ckpt_due;    /* a flush was made since the checkpoint */
    char            why[ERRBUF_SIZE];
};

static void
s_fail(syncer_t *self, const errbuf_t *err)
{
    if (self->failed)
        return;
    self->failed = 1;
    memcpy(self->why, err->msg, sizeof self->why);
    self->why[sizeof self->why - 1] = '\0';
}

static void *
s_run(void *arg)
{
    syncer_t *self = arg;

    pthread_mutex_lock(&self->mu);
    for (;;) {
        while ((!self->stop
                   && (self->inline_busy
                       || (self->asked == self->done && !self->ckpt_due)))
               || (self->stop && self->inline_busy))
            pthread_cond_wait(&self->cv, &self->mu);
        if (self->stop && self->asked == self->done && !self->inline_busy)
            break;
        if (self->asked > self->done && !self->inline_busy) {
            uint64_t n = self->asked;
            errbuf_t err = {{0}};
            int      rc;

            pthread_mutex_unlock(&self->mu);
            rc = archive_sync(self->archive, &err);
            pthread_mutex_lock(&self->mu);
            if (rc != 0)
                s_fail(self, &err);
            self->done = n;
            self->ckpt_due = !self->failed;
            pthread_cond_broadcast(&self->cv);
        }
        /* Once the flush is reported: a checkpoint delays no answer. It
         * touches nothing a flush on the caller's thread does. */
        if (self->ckpt_due && !self->stop) {
            self->ckpt_due = 0;
            pthread_mutex_unlock(&self->mu);
            archive_checkpoint(self->archive);
            pthread_mutex_lock(&self->mu);
        } else if (self->stop) {
            self->ckpt_due = 0;
        }
    }
    pthread_mutex_unlock(&self->mu);
    return NULL;
}

syncer_t *
syncer_new(archive_t *archive, errbuf_t *err)
{
    syncer_t *self = calloc(1, sizeof *self);
    sigset_t  all, old;
    int       rc;

    if (self == NULL) {
        errbuf_set(err, "out of memory");
        return NULL;
    }
    self->archive = archive;
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->cv, NULL);
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&self->thread, NULL, s_run, self);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        errbuf_set(err, "cannot start the archive's flush thread: %s",
            strerror(rc));
        pthread_cond_destroy(&self->cv);
        pthread_mutex_destroy(&self->mu);
        free(self);
        return NULL;
    }
    return self;
}

uint64_t
syncer_request(syncer_t *self)
{
    uint64_t n;

    pthread_mutex_lock(&self->mu);
    n = ++self->asked;
    pthread_cond_broadcast(&self->cv);
    pthread_mutex_unlock(&self->mu);
    return n;
}

uint64_t
syncer_last(syncer_t *self)
{
    uint64_t n;

    pthread_mutex_lock(&self->mu);
    n = self->asked;
    pthread_mutex_unlock(&self->mu);
    return n;
}

int
syncer_flush_here(syncer_t *self, errbuf_t *err)
{
    errbuf_t why = {{0}};
    uint64_t n;
    int      rc;

    pthread_mutex_lock(&self->mu);
    if (self->failed) {
        errbuf_set(err, "%s", self->why);
        pthread_mutex_unlock(&self->mu);
        return -1;
    }
    if (self->asked != self->done) {
        pthread_mutex_unlock(&self->mu);
        return 1; /* the thread is flushing: ask it (syncer_request) */
    }
    n = ++self->asked;
    self->inline_busy = 1;
    pthread_mutex_unlock(&self->mu);
    rc = archive_sync(self->archive, &why);
    pthread_mutex_lock(&self->mu);
    self->inline_busy = 0;
    if (rc != 0)
        s_fail(self, &why);
    self->done = n;
    self->ckpt_due = !self->failed;
    pthread_cond_broadcast(&self->cv);
    if (rc != 0)
        errbuf_set(err, "%s", self->why);
    pthread_mutex_unlock(&self->mu);
    return rc != 0 ? -1 : 0;
}

int
syncer_wait(syncer_t *self, uint64_t n, errbuf_t *err)
{
    int rc = 0;

    pthread_mutex_lock(&self->mu);
    while (self->done < n && !self->failed)
        pthread_cond_wait(&self->cv, &self->mu);
    if (self->failed) {
        errbuf_set(err, "%s", self->why);
        rc = -1;
    }
    pthread_mutex_unlock(&self->mu);
    return rc;
}

void
syncer_destroy(syncer_t **self_p)
{
    syncer_t *self;

    if (self_p == NULL || (self = *self_p) == NULL)
        return;
    pthread_mutex_lock(&self->mu);
    self->stop = 1;
    pthread_cond_broadcast(&self->cv);
    pthread_mutex_unlock(&self->mu);
    pthread_join(self->thread, NULL);
    pthread_cond_destroy(&self->cv);
    pthread_mutex_destroy(&self->mu);
    free(self);
    *self_p = NULL;
}
