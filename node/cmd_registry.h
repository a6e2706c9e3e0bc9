/*
 * cmd_registry: the verbs of the federation's PKI and member registry —
 * the operator's root CA (`csbm ca`), a member's enrollment request
 * (`csbm enroll`) and the signed registry (`csbm registry`). They call
 * crypto/x509 and config/registry; docs/REGISTRY.md describes the files.
 *
 * Exit codes as every verb (node/cli.h): 0 success, 1 verification failed
 * or the change was refused, 2 usage or system error.
 */
#ifndef CSBM_CMD_REGISTRY_H
#define CSBM_CMD_REGISTRY_H

/* csbm ca init|show ... */
int cmd_ca(int argc, char **argv);

/* csbm enroll --state ID ... */
int cmd_enroll(int argc, char **argv);

/* csbm registry init|add|rotate|revoke|status|list|show|verify|request */
int cmd_registry(int argc, char **argv);

#endif
