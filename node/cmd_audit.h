/*
 * cmd_audit: the `csbm audit` verb — the operator's reports over the hub's
 * archive: the exchange log, the compliance matrix, and (node/audit_verify.c)
 * the archive's own integrity.
 *
 * Every subverb reads the archive only (SQLite read-only, no decryption)
 * and exits 0 on success, 1 when a check it was asked to make failed
 * (e.g. `audit compliance --strict` with a late or missing report), 2 on a
 * usage or system error.
 */
#ifndef CSBM_CMD_AUDIT_H
#define CSBM_CMD_AUDIT_H

/* `csbm audit SUBVERB [options]`; argv[0] is "audit". */
int cmd_audit(int argc, char **argv);

/* The subverbs; each gets argv[0] = the subverb's name. */
int cmd_audit_log(int argc, char **argv);
int cmd_audit_compliance(int argc, char **argv);
/* cmd_audit_verify (node/audit_verify.c) is declared here too. */

#endif
