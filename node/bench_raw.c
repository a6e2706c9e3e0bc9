/* bench_raw: raw per-machine limits for the benchmarks (see bench_raw.h). */
#include "node/bench_raw.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static double
s_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
bench_raw_ed25519_verify(double seconds)
{
    uint8_t  pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    uint8_t  msg[64], sig[crypto_sign_BYTES];
    double   t0, t;
    unsigned n = 0, i;

    crypto_sign_keypair(pk, sk);
    randombytes_buf(msg, sizeof msg);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
    sodium_memzero(sk, sizeof sk);
    t0 = s_now();
    do {
        for (i = 0; i < 256; i++)
            if (crypto_sign_verify_detached(sig, msg, sizeof msg, pk) == 0)
                n++;
        t = s_now() - t0;
    } while (t < seconds);
    return n / t;
}

double
bench_raw_sha256(double seconds)
{
    uint8_t  buf[1024], out[crypto_hash_sha256_BYTES];
    double   t0, t;
    unsigned n = 0, i;

    randombytes_buf(buf, sizeof buf);
    t0 = s_now();
    do {
        for (i = 0; i < 1024; i++) {
            crypto_hash_sha256(out, buf, sizeof buf);
            buf[0] ^= out[0];
            n++;
        }
        t = s_now() - t0;
    } while (t < seconds);
    return n / t;
}

double
bench_raw_curvezmq(double seconds)
{
    char     spk[41], ssk[41], cpk[41], csk[41], ep[64];
    void    *ctx = zmq_ctx_new(), *srv, *cli;
    size_t   eplen = sizeof ep;
    char     msg[1024], buf[2048], rid[256];
    double   t0, t = 0;
    unsigned done = 0, i;
    int      on = 1, zero = 0, r;

    memset(msg, 'x', sizeof msg);
    zmq_curve_keypair(spk, ssk);
    zmq_curve_keypair(cpk, csk);
    srv = zmq_socket(ctx, ZMQ_ROUTER);
    cli = zmq_socket(ctx, ZMQ_DEALER);
    zmq_setsockopt(srv, ZMQ_CURVE_SERVER, &on, sizeof on);
    zmq_setsockopt(srv, ZMQ_CURVE_SECRETKEY, ssk, 40);
    zmq_setsockopt(srv, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(cli, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(srv, "tcp://127.0.0.1:*") != 0)
        goto out;
    zmq_getsockopt(srv, ZMQ_LAST_ENDPOINT, ep, &eplen);
    zmq_setsockopt(cli, ZMQ_CURVE_SERVERKEY, spk, 40);
    zmq_setsockopt(cli, ZMQ_CURVE_PUBLICKEY, cpk, 40);
    zmq_setsockopt(cli, ZMQ_CURVE_SECRETKEY, csk, 40);
    if (zmq_connect(cli, ep) != 0)
        goto out;
    /* Warm up: one round trip completes the handshake. */
    zmq_send(cli, msg, sizeof msg, 0);
    r = zmq_recv(srv, rid, sizeof rid, 0);
    zmq_recv(srv, buf, sizeof buf, 0);
    zmq_send(srv, rid, (size_t)r, ZMQ_SNDMORE);
    zmq_send(srv, buf, sizeof msg, 0);
    zmq_recv(cli, buf, sizeof buf, 0);
    t0 = s_now();
    do {
        for (i = 0; i < 64; i++)
            zmq_send(cli, msg, sizeof msg, 0);
        for (i = 0; i < 64; i++) {
            r = zmq_recv(srv, rid, sizeof rid, 0);
            zmq_recv(srv, buf, sizeof buf, 0);
            zmq_send(srv, rid, (size_t)r, ZMQ_SNDMORE);
            zmq_send(srv, buf, sizeof msg, 0);
        }
        for (i = 0; i < 64; i++)
            zmq_recv(cli, buf, sizeof buf, 0);
        done += 64;
        t = s_now() - t0;
    } while (t < seconds);
out:
    zmq_close(cli);
    zmq_close(srv);
    zmq_ctx_term(ctx);
    return t > 0 ? done / t : 0;
}

double
bench_raw_sqlite_commits(const char *dir, double seconds)
{
    char          path[4096];
    sqlite3      *db = NULL;
    sqlite3_stmt *st = NULL;
    double        t0, t = 0;
    unsigned      n = 0;

    snprintf(path, sizeof path, "%s/raw-commits.db", dir);
    unlink(path);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        goto out;
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
        "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);", NULL, NULL, NULL);
    if (sqlite3_prepare_v2(db, "INSERT INTO t(v) VALUES (zeroblob(1024))", -1,
            &st, NULL) != SQLITE_OK)
        goto out;
    t0 = s_now();
    do {
        sqlite3_step(st);
        sqlite3_reset(st);
        n++;
        t = s_now() - t0;
    } while (t < seconds);
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    unlink(path);
    return t > 0 ? n / t : 0;
}
