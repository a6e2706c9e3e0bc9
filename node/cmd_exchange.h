/*
 * cmd_exchange: what the member verbs (node/cmd_exchange.c) share with the
 * other member-side verbs (node/cmd_log.c).
 */
#ifndef CSBM_CMD_EXCHANGE_H
#define CSBM_CMD_EXCHANGE_H

#include <stddef.h>

#include "crypto/keys.h"
#include "node/cli.h"
#include "proto/errbuf.h"

/* Ask for the passphrase once and load owner's keys of kinds[0..n) into
 * out[0..n) (caller destroys them). Returns 0, or -1 with err; on failure
 * none stays loaded. */
int cmd_exchange_load_keys(const cli_common_t *c, const char *owner,
                           const keys_kind_t *kinds, keys_secret_t **out,
                           size_t n, errbuf_t *err)
    __attribute__((warn_unused_result));

#endif
