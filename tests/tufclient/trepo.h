/*
 * Test repositories for the TUF client tests, written in C: metadata built as
 * JSON, signed over the project's canonical JSON with fwt_sign_message, and
 * served as files (file:// URLs) or by a local HTTP server. Every attack test
 * edits the repository the way the attacker would and checks the client.
 */
#ifndef TREPO_H
#define TREPO_H

#include <fwtrust/fwt_util.h>
#include "tuf/tuf_json.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TK_MAX 16 /* keys in the pool */
#define TK_ECDSA 13
#define TK_RSA 14

struct tkey {
    fwt_privkey *priv;
    json_t *obj; /* TUF key object */
    char id[FWT_TUF_KEYID_LEN + 1];
};

/* Generate the key pool once (ed25519 0..12, ECDSA P-256 13, RSA-2048 14). */
void tk_init(void);
void tk_free(void);
struct tkey *tk(int i);
/* The same as a cmocka group set-up and tear-down. */
int tk_group_setup(void **state);
int tk_group_teardown(void **state);

struct trepo {
    char dir[512];
    char meta[600], tdir[600], mdir[600];
    char murl[700], turl[700];
    json_t *md;       /* role -> signed object */
    json_t *signers;  /* role -> [key index, ...] */
    json_t *parent;   /* delegated role -> delegating role */
    int meta_hashes;  /* put length and hashes of files in snapshot / timestamp meta */
    time_t now;
    int published;
};

/* version++ of md[role] */
void tr_bump(struct trepo *r, const char *role);

/* A repository (consistent snapshots on): root K0, targets K1, snapshot K2,
 * timestamp K3, thresholds 1, one target "a.bin"; published; the client initialised. */
void tr_setup(struct trepo *r, int consistent);
/* The same in DIR (created; kept). */
void tr_setup_at(struct trepo *r, const char *dir, int consistent);
void tr_free(struct trepo *r);
/* Free the in-memory state, keep the directory. */
void tr_release(struct trepo *r);

/* Signed envelope bytes of md[role] signed by the keys listed (n < 0: signers[role]). */
uint8_t *tr_sign(struct trepo *r, const json_t *signed_, const int *keys, int n, size_t *len);
void tr_write(struct trepo *r, const char *name, const void *data, size_t len); /* into metadata/ */
void tr_write_target(struct trepo *r, const char *path, const void *data, size_t len);
uint8_t *tr_read(const char *path, size_t *len);

/* Root: add key i to role (also to keys), set threshold, version++ and publish N.root.json
 * signed by the keys in signers["root"] and extra_signers (old keys). */
void tr_root_add_key(struct trepo *r, const char *role, int key);
void tr_root_set_keys(struct trepo *r, const char *role, const int *keys, int n, int threshold);
void tr_publish_root(struct trepo *r, const int *extra_signers, int n_extra);

/* Targets and delegations. */
void tr_add_target(struct trepo *r, const char *role, const char *path, const char *content);
void tr_delegate(struct trepo *r, const char *from, const char *name, const char *paths_json, int terminating,
                 int key);

/* Publish every targets role at its current version, then a new snapshot and timestamp
 * (versions +1 after the first publish). */
void tr_publish(struct trepo *r);
/* timestamp only: version++ and publish */
void tr_publish_timestamp(struct trepo *r);

/* Client helpers */
fwt_err tr_client(struct trepo *r, time_t now, fwt_tuf_client **out);
fwt_err tr_refresh(struct trepo *r, time_t now);
fwt_err tr_download(struct trepo *r, const char *name, const char *out_path);

/* sha256 of all files in the client metadata directory (to prove "unchanged"). */
void tr_snapshot_dir(const char *dir, char out[65]);

#endif
