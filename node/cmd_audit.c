/*
 * cmd_audit: `csbm audit SUBVERB` — dispatch to the operator's reports.
 * The subverbs live in a table so a new report is one line here plus its
 * own file.
 */
#include "node/cmd_audit.h"

#include <stdio.h>
#include <string.h>

#include "node/audit_verify.h"
#include "node/cli.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} audit_subverb_t;

static const audit_subverb_t s_subverbs[] = {
    {"log", cmd_audit_log, "who sent, pulled or was refused what, and when"},
    {"compliance", cmd_audit_compliance,
     "on time, late, nil or missing: states by report type for a year"},
    {"verify", cmd_audit_verify,
        "re-verify the archive against its tamper-evident log"},
};

static void
s_usage(FILE *out)
{
    size_t i;

    fprintf(out,
            "Usage: csbm audit SUBVERB [options]\n"
            "       csbm audit SUBVERB --help\n"
            "\n"
            "Reports over the hub's archive, read-only and without decrypting\n"
            "anything.\n"
            "\n"
            "Subverbs:\n");
    for (i = 0; i < sizeof s_subverbs / sizeof s_subverbs[0]; i++)
        fprintf(out, "  %-11s %s\n", s_subverbs[i].name, s_subverbs[i].summary);
    fprintf(
        out,
        "\n"
        "Examples:\n"
        "  csbm audit log --data hub.db --since 2026-01-01 --status refused\n"
        "  csbm audit compliance --data hub.db --year 2025 --keyring keyring\n"
        "\n"
        "Exit status: 0 success, 1 a check failed (compliance --strict),\n"
        "2 usage or system error.\n");
}

int
cmd_audit(int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        s_usage(stderr);
        return CLI_ERROR;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        s_usage(stdout);
        return CLI_OK;
    }
    for (i = 0; i < sizeof s_subverbs / sizeof s_subverbs[0]; i++)
        if (strcmp(argv[1], s_subverbs[i].name) == 0)
            return s_subverbs[i].fn(argc - 1, argv + 1);
    cli_error("audit: unknown subverb '%s'; run 'csbm audit --help' for "
              "the list",
              argv[1]);
    return CLI_ERROR;
}
