/*
 * bench_util: what the benchmark programs share — a monotonic clock,
 * order statistics of samples, and removing a scratch directory.
 */
#ifndef CSBM_BENCH_UTIL_H
#define CSBM_BENCH_UTIL_H

#include <stddef.h>

/* Seconds on the monotonic clock. */
double bench_now(void);

/* The q-quantile (0..1) of n samples by nearest rank, sorting them in
 * place; 0 when n is 0. */
double bench_quantile(double *v, size_t n, double q);

/* The median of n samples (the mean of the middle two when n is even),
 * sorting them in place; 0 when n is 0. */
double bench_median(double *v, size_t n);

/* rm -rf path (a scratch directory the benchmark made); "" does nothing. */
void bench_rmtree(const char *path);

#endif
