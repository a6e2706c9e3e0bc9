/*
 * audit_log: `csbm audit log` — the exchange log from the archive's
 * metadata.
 */
#include <stdio.h>

#include "node/cli.h"
#include "node/cmd_audit.h"

int
cmd_audit_log(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("audit log: not available yet");
    return CLI_ERROR;
}
