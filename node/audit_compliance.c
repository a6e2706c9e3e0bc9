/*
 * audit_compliance: `csbm audit compliance` — the compliance matrix of a
 * year from the archive's metadata.
 */
#include <stdio.h>

#include "node/cli.h"
#include "node/cmd_audit.h"

int
cmd_audit_compliance(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    cli_error("audit compliance: not available yet");
    return CLI_ERROR;
}
