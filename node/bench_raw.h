/*
 * bench_raw: the raw limits that scripts/bench prints beside each system
 * figure, measured on this machine in the same run.
 */
#ifndef CSBM_BENCH_RAW_H
#define CSBM_BENCH_RAW_H

/* Ed25519 verifications per second on one core (64-byte messages). */
double bench_raw_ed25519_verify(double seconds);

/* SHA-256 hashes per second of 1 KiB inputs on one core. */
double bench_raw_sha256(double seconds);

/* 1 KiB request/reply round trips per second over CurveZMQ on loopback
 * (DEALER to ROUTER, pipelined in windows of 64). */
double bench_raw_curvezmq(double seconds);

/* Durable SQLite commits per second (one small row per transaction, WAL,
 * synchronous=FULL) in a file under dir. */
double bench_raw_sqlite_commits(const char *dir, double seconds);

#endif
