/*
 * config: a node's configuration file (INI, read with libinih).
 *
 * One file per node, hub or member: config/hub.ini.sample and
 * config/member.ini.sample show and explain every key. Every value is
 * checked as it is read, and every error names the file and line:
 *   config/hub.ini:12: unknown key 'bind_adress' in [hub] (known keys:
 *   bind, pub_bind, max_message_bytes, heartbeat_ms)
 * Unknown sections and keys, duplicates, empty values and lines longer
 * than CONFIG_LINE_MAX are errors, never ignored. Relative paths are taken
 * relative to the directory of the configuration file. Lines are not
 * continued: indentation is only cosmetic.
 */
#ifndef CSBM_CONFIG_H
#define CSBM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "config/deadlines.h"
#include "crypto/keys.h"
#include "crypto/x509.h"
#include "proto/errbuf.h"

#define CONFIG_FILE_MAX     (64u * 1024)
#define CONFIG_LINE_MAX     196 /* characters of one line (libinih's limit) */
#define CONFIG_PATH_MAX     1024
#define CONFIG_ENDPOINT_MAX 256

/* Defaults of the optional keys. */
#define CONFIG_DEFAULT_MAX_MESSAGE_BYTES (16u * 1024 * 1024)
#define CONFIG_DEFAULT_HEARTBEAT_MS      5000

typedef struct {
    struct {
        char name[X509_FEDERATION_MAX + 1];
        char root_cert[CONFIG_PATH_MAX];      /* root CA certificate, PEM */
    } federation;
    struct {
        char id[KEYS_OWNER_MAX + 1];          /* state code, or "hub" */
        char key_dir[CONFIG_PATH_MAX];
        char data_dir[CONFIG_PATH_MAX];
        char registry[CONFIG_PATH_MAX];       /* "" if not set */
        char passphrase_file[CONFIG_PATH_MAX]; /* "" if not set */
    } node;
    struct {
        char     bind[CONFIG_ENDPOINT_MAX];   /* requests from members */
        char     pub_bind[CONFIG_ENDPOINT_MAX]; /* notifications; "" unset */
        uint64_t max_message_bytes;
        uint64_t heartbeat_ms;
    } hub;
    struct {
        char hub_endpoint[CONFIG_ENDPOINT_MAX];
        char hub_notify_endpoint[CONFIG_ENDPOINT_MAX]; /* "" if not set */
    } member;
    deadlines_t deadlines; /* [deadlines], read by deadlines_set() */
} config_t;

/* Fill cfg with the defaults (strings empty; deadlines_default()). */
void config_defaults(config_t *cfg);

/* Read and check the file at path (at most CONFIG_FILE_MAX bytes) into
 * cfg, over the defaults. Besides each value's own check, the required
 * keys must be there ([federation] name, root_cert; [node] id, key_dir,
 * data_dir; [hub] bind on the hub; [member] hub_endpoint on a member) and
 * a hub's file may not hold [member] keys nor a member's [hub] keys.
 * Returns 0, or -1 with err as "path:line: problem" (or "path: problem"
 * for a missing key). */
int config_load(const char *path, config_t *cfg, errbuf_t *err)
    __attribute__((warn_unused_result));

/* The same for text in memory; name is shown in messages and its
 * directory anchors relative paths. */
int config_parse(const char *text, size_t len, const char *name,
    config_t *cfg, errbuf_t *err) __attribute__((warn_unused_result));

/* Is this node the hub? */
int config_is_hub(const config_t *cfg);

/* Check an endpoint as the configuration does: "tcp://HOST:PORT" (PORT
 * 1..65535; HOST may be "*" to bind all interfaces) or "ipc://PATH". */
int config_endpoint_valid(const char *endpoint);

#endif
