/*
 * csbm: the one command. `csbm VERB [options]`, like git or openssl.
 * Each verb parses its arguments and calls the library (see node/cli.h).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "node/cli.h"
#include "node/cmd_registry.h"
#include "node/cmd_audit.h"
#include "node/hub.h"
#include "node/member.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} verb_t;

static const verb_t s_verbs[] = {
    {"keygen", cmd_keygen, "create a state's (or the hub's) keys"},
    {"validate", cmd_validate, "check a package's JSON against the rules"},
    {"seal", cmd_seal, "validate, sign and encrypt a package to recipients"},
    {"open", cmd_open, "verify and decrypt a package addressed to you"},
    {"verify", cmd_verify, "check who sent a package, to whom, unopened"},
    {"inspect", cmd_inspect, "show a package's header without checking it"},
    {"push", cmd_push, "seal a package, queue it, deliver it to the hub"},
    {"sync", cmd_sync, "deliver every queued package, then pull"},
    {"pull", cmd_pull, "fetch the packages addressed to this state"},
    {"outbox", cmd_outbox, "list queued, delivered and refused packages"},
    {"inbox", cmd_inbox, "list, open or export received packages"},
    {"node", cmd_node, "run the member node daemon"},
    {"verify-receipt", cmd_verify_receipt, "check a hub receipt offline: signature, log inclusion"},
    {"log", cmd_log, "this node's view of the hub's log, and evidence against it"},
    {"hub", cmd_hub, "run the hub daemon"},
    {"ca", cmd_ca, "create or show the federation's root CA (operator)"},
    {"enroll", cmd_enroll, "make this state's enrollment request"},
    {"registry", cmd_registry, "edit, list or verify the member registry"},
    {"audit", cmd_audit, "the operator's reports over the hub's archive"},
};

static void
s_usage(FILE *out)
{
    size_t i;

    fprintf(out,
        "Usage: csbm VERB [options] [args]\n"
        "       csbm VERB --help\n"
        "\n"
        "Signed, encrypted exchange of confidence- and security-building\n"
        "measure (CSBM) data between member states.\n"
        "\n"
        "Verbs:\n");
    for (i = 0; i < sizeof s_verbs / sizeof s_verbs[0]; i++)
        fprintf(out, "  %-14s %s\n", s_verbs[i].name, s_verbs[i].summary);
    fprintf(out,
        "\n"
        "Examples:\n"
        "  csbm keygen --state ARG\n"
        "  csbm seal examples/milex-standardized-ARG-2025.json --to CHL,PER,hub\n"
        "  csbm open milex-standardized-ARG-2025.csbm --as CHL\n"
        "\n"
        "Exit status: 0 success, 1 verification failed or rejected,\n"
        "2 usage or system error.\n");
}

int
main(int argc, char **argv)
{
    size_t i;

    if (sodium_init() < 0) {
        fprintf(stderr, "csbm: libsodium failed to initialise\n");
        return CLI_ERROR;
    }
    if (argc < 2) {
        s_usage(stderr);
        return CLI_ERROR;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "help") == 0) {
        s_usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("csbm 0.1.0\n");
        return CLI_OK;
    }
    for (i = 0; i < sizeof s_verbs / sizeof s_verbs[0]; i++)
        if (strcmp(argv[1], s_verbs[i].name) == 0)
            return s_verbs[i].run(argc - 1, argv + 1);
    fprintf(stderr, "csbm: unknown verb '%s'; run 'csbm --help' for the "
        "list\n", argv[1]);
    return CLI_ERROR;
}
