/* mef_store.h: the MEF database (SQLite file DIR/mef.db, mode 0600, WAL, synchronous=FULL,
 * secure_delete): bootstrap credentials, Enrolment Targets and their allow rules, enrolments,
 * client and key registrations, MEF Client Commands and issued certificates. Every function
 * that returns M2M_OK after a write has committed it. The handle is thread-safe (one mutex
 * around the connection; statements are short, no network I/O inside). Times are Unix seconds.
 * Key material leaves only through caller buffers the caller wipes; it is never logged. */
#ifndef M2M_MEF_STORE_H
#define M2M_MEF_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/rc.h"
#include "mef/mef_codec.h"

#define MEF_RELID_LEN 32 /* upper-case hex of a RelativeKeID / RelativeKeyID */
#define MEF_REGID_LEN 19 /* "mcr" + 16 upper-case hex */

struct mef_store;

/* Opens (creating with mode 0600) the database at path and its schema. M2M_ERR_IO when the
 * file cannot be opened or is not ours. */
M2M_WARN_UNUSED m2m_rc mef_store_open(const char *path, struct mef_store **out);
/* NULL is a no-op. */
void mef_store_close(struct mef_store *st);
/* Changes whenever any connection (e.g. the CLI) committed: for the TLS revocation hooks. */
uint64_t mef_store_generation(struct mef_store *st);

/* ---- per-client caps and the purge (docs/MEF.md "Limits") ---- */

/* What one client identity may hold; 0 = no cap. Defaults: MEF_LIMIT_* below. */
struct mef_store_limits {
    int enrolments;    /* live (not deleted, not expired) enrolments per enrolee */
    int registrations; /* live <mefClientReg> per client */
    int keys;          /* live <mefKeyReg> per source */
    int certs_per_day; /* certificates issued to a client in the last 86400 s */
};
#define MEF_LIMIT_ENROLMENTS 64
#define MEF_LIMIT_REGISTRATIONS 16
#define MEF_LIMIT_KEYS 64
#define MEF_LIMIT_CERTS_PER_DAY 16
void mef_store_limits_default(struct mef_store_limits *l);
/* Replaces the caps of an open store (mef_store_open starts with the defaults). */
void mef_store_set_limits(struct mef_store *st, const struct mef_store_limits *l);
/* Deletes at most `batch` rows of each kind that nothing can use any more at time now:
 * enrolments whose et passed (deleted or not; Ke zeroed first), registrations and key
 * registrations whose et passed (key zeroed first), commands reported or discarded more than a
 * day before now. Issued certificates are kept (revocation and re-enrolment need them; their
 * number is capped per day). *removed (may be NULL) gets the row count. The add functions run
 * it themselves at most every 60 s with the time of the record they add. */
M2M_WARN_UNUSED m2m_rc mef_store_purge(struct mef_store *st, int64_t now, int batch, int *removed);

/* ---- bootstrap credentials (TS-0003 8.3.2.1: KpmID, Kpm) ---- */

/* Adds a Kpm (MEF_KEY_MIN..MEF_KEY_MAX bytes) for KpmID (kdf_scoped_id grammar); the client
 * authenticated with it is `identity`. M2M_ERR_EXISTS for a known KpmID (revoked ones too). */
M2M_WARN_UNUSED m2m_rc mef_store_kpm_add(struct mef_store *st, const char *kpmid,
                                         const uint8_t *key, size_t len, const char *identity);
/* Resolves a KpmID of idlen bytes (peer data): key into key[*keylen] (in: capacity), identity
 * into identity[idcap]. M2M_ERR_NOT_FOUND when unknown or revoked. */
M2M_WARN_UNUSED m2m_rc mef_store_kpm_get(struct mef_store *st, const char *kpmid, size_t idlen,
                                         uint8_t *key, size_t *keylen, char *identity,
                                         size_t idcap);
/* True when KpmID exists and is revoked. */
bool mef_store_kpm_revoked(struct mef_store *st, const char *kpmid);
/* Revokes (key overwritten, secure_delete) and ends the live enrolments made over sessions of
 * this Kpm (cred "10-<KpmID>"; enrolments without a recorded cred: those of its identity).
 * M2M_ERR_NOT_FOUND when unknown. */
M2M_WARN_UNUSED m2m_rc mef_store_kpm_revoke(struct mef_store *st, const char *kpmid);

/* ---- Enrolment Targets and allow rules ---- */

/* Adds or replaces the FQDN of target `id` (the 10.3.7 Enrolment-Target-ID). */
M2M_WARN_UNUSED m2m_rc mef_store_target_add(struct mef_store *st, const char *id, const char *fqdn);
/* fqdn[cap] of target id; M2M_ERR_NOT_FOUND. */
M2M_WARN_UNUSED m2m_rc mef_store_target_get(struct mef_store *st, const char *id, char *fqdn,
                                            size_t cap);
/* Allows `target` to fetch keys of `enrolee` for suid. M2M_ERR_NOT_FOUND for an unknown target,
 * M2M_ERR_EXISTS when already allowed. */
M2M_WARN_UNUSED m2m_rc mef_store_allow(struct mef_store *st, const char *enrolee,
                                       const char *target, unsigned suid);
bool mef_store_allowed(struct mef_store *st, const char *enrolee, const char *target,
                       unsigned suid);

struct mef_target_rule {
    char target[MEF_ID_MAX + 1];
    char fqdn[MEF_FQDN_MAX + 1];
    unsigned suid;
};
/* The rules for enrolee (at most max, in insertion order) into out; *n the count. */
M2M_WARN_UNUSED m2m_rc mef_store_rules_for(struct mef_store *st, const char *enrolee,
                                           struct mef_target_rule *out, size_t max, size_t *n);

/* ---- enrolments (TS-0003 8.3.2.1, 10.3.4) ---- */

struct mef_enr {
    char relid[MEF_RELID_LEN + 1];
    char enrolee[MEF_ID_MAX + 1];
    int64_t ct, et;
    bool deleted;
    char cred[MEF_ID_MAX + 4]; /* the session's Credential-ID ("10-<KpmID>", "cert:<sha256>") */
    uint8_t ke[32];            /* wiped by the caller (m2m_wipe) */
};
/* Records an enrolment. M2M_ERR_EXISTS when the RelativeKeID is known (also deleted ones, until
 * the purge removes them after their et); M2M_ERR_LIMIT when the enrolee already has
 * limits.enrolments live ones at e->ct. */
M2M_WARN_UNUSED m2m_rc mef_store_enr_add(struct mef_store *st, const struct mef_enr *e);
/* M2M_ERR_NOT_FOUND when unknown; deleted ones are returned with deleted set and ke zero. */
M2M_WARN_UNUSED m2m_rc mef_store_enr_get(struct mef_store *st, const char *relid,
                                         struct mef_enr *out);
/* Ends an enrolment: Ke overwritten with zeros (secure_delete), deleted = 1. NOT_FOUND. */
M2M_WARN_UNUSED m2m_rc mef_store_enr_delete(struct mef_store *st, const char *relid);

/* ---- client registrations (8.3.5.2.3) ---- */

struct mef_mcr {
    char id[MEF_REGID_LEN + 1];
    char client[MEF_ID_MAX + 1];
    char fqdn[MEF_FQDN_MAX + 1];
    char admin[MEF_FQDN_MAX + 1];
    int64_t ct, et;
    struct mef_strlist lbl;
};
/* M2M_ERR_EXISTS when (client, admin) is registered already or the id is taken; M2M_ERR_LIMIT
 * when the client holds limits.registrations live ones at r->ct. */
M2M_WARN_UNUSED m2m_rc mef_store_mcr_add(struct mef_store *st, const struct mef_mcr *r);
/* out->lbl is owned by the caller (mef_strlist_clear). NOT_FOUND. */
M2M_WARN_UNUSED m2m_rc mef_store_mcr_get(struct mef_store *st, const char *id, struct mef_mcr *out);
/* Updates et (when et) and labels (when lbl != NULL). NOT_FOUND. */
M2M_WARN_UNUSED m2m_rc mef_store_mcr_update(struct mef_store *st, const char *id, const int64_t *et,
                                            const struct mef_strlist *lbl);
/* Deletes the registration and discards the client's commands not yet reported. NOT_FOUND. */
M2M_WARN_UNUSED m2m_rc mef_store_mcr_delete(struct mef_store *st, const char *id);

/* ---- key registrations (8.3.5.2.7-8.3.5.2.10) ---- */

struct mef_mkr {
    char relid[MEF_RELID_LEN + 1];
    char source[MEF_ID_MAX + 1];
    char admin[MEF_FQDN_MAX + 1];
    unsigned suid;
    struct mef_strlist targets;
    struct mef_strlist lbl;
    int64_t ct, et;
    uint8_t key[MEF_KEY_MAX]; /* wiped by mef_mkr_clear */
    size_t key_len;
};
void mef_mkr_clear(struct mef_mkr *k);
/* M2M_ERR_EXISTS when the RelativeKeyID is known; M2M_ERR_LIMIT when the source holds
 * limits.keys live ones at k->ct. */
M2M_WARN_UNUSED m2m_rc mef_store_mkr_add(struct mef_store *st, const struct mef_mkr *k);
/* Clear out with mef_mkr_clear. NOT_FOUND. */
M2M_WARN_UNUSED m2m_rc mef_store_mkr_get(struct mef_store *st, const char *relid,
                                         struct mef_mkr *out);
M2M_WARN_UNUSED m2m_rc mef_store_mkr_update(struct mef_store *st, const char *relid,
                                            const int64_t *et, const struct mef_strlist *lbl,
                                            const struct mef_strlist *targets);
/* Deletes it (key overwritten first, secure_delete). NOT_FOUND. */
M2M_WARN_UNUSED m2m_rc mef_store_mkr_delete(struct mef_store *st, const char *relid);

/* ---- MEF Client Commands (8.3.9) ---- */

/* Queues a command (desc: the sec:cmdDescription JSON) for client; *cmd_id (may be NULL) gets
 * the new cmdID, unique per MEF. A MEF_CMD_NO_MORE row records a NO_MORE_COMMANDS answer: each
 * client has at most one, reused (desc refreshed, back to "not reported") by every later
 * NO_MORE answer, so its cmdID repeats; it accepts a report but is never returned by
 * mef_store_cmd_current. */
M2M_WARN_UNUSED m2m_rc mef_store_cmd_add(struct mef_store *st, const char *client, int cls,
                                         const char *desc, int64_t *cmd_id);
/* 8.3.9.2: the client's oldest command without a reported status, marked issued: *status is
 * MEF_CMD_ISSUED the first time, MEF_CMD_REISSUED after. *desc is malloc'ed JSON. NOT_FOUND
 * when none is pending. */
M2M_WARN_UNUSED m2m_rc mef_store_cmd_current(struct mef_store *st, const char *client,
                                             int64_t *cmd_id, int *status, char **desc);
/* 8.3.9.3: stores the reported status of an issued command of this client. NOT_FOUND when the
 * cmdID is unknown, of another client or never issued (the caller discards the status). */
M2M_WARN_UNUSED m2m_rc mef_store_cmd_report(struct mef_store *st, const char *client,
                                            int64_t cmd_id, int status);
/* G7, 8.3.6.2.2 step 3.c: M2M_OK when a CERT_PROV command issued (or reissued) to client and
 * not yet reported names certSubjectID san; M2M_ERR_NOT_FOUND otherwise. */
M2M_WARN_UNUSED m2m_rc mef_store_cert_subject_ok(struct mef_store *st, const char *client,
                                                 const char *san);
/* The certSubjectID of the latest (highest cmdID) such command into san[cap]; NOT_FOUND. */
M2M_WARN_UNUSED m2m_rc mef_store_cert_subject_latest(struct mef_store *st, const char *client,
                                                     char *san, size_t cap);

/* ---- issued certificates (G7) ---- */

M2M_WARN_UNUSED m2m_rc mef_store_cert_add(struct mef_store *st, const char *serial, const char *san,
                                          const char *fingerprint, const char *client);
/* M2M_ERR_LIMIT when limits.certs_per_day certificates were issued to client in the 86400 s
 * before now, else M2M_OK (checked before issuing; the record is written after). */
M2M_WARN_UNUSED m2m_rc mef_store_cert_quota(struct mef_store *st, const char *client, int64_t now);
/* True when this MEF issued the certificate with that fingerprint and it was revoked. */
bool mef_store_cert_revoked(struct mef_store *st, const char *fingerprint);
/* The SAN of the certificate this MEF issued with that SHA-256 fingerprint (lower-case hex).
 * NOT_FOUND when it did not issue it or it was revoked. */
M2M_WARN_UNUSED m2m_rc mef_store_cert_san(struct mef_store *st, const char *fingerprint, char *san,
                                          size_t cap);

/* ---- administration ---- */

enum mef_list_what {
    MEF_LIST_KPM,
    MEF_LIST_TARGETS,
    MEF_LIST_ENROLMENTS,
    MEF_LIST_REGISTRATIONS,
    MEF_LIST_KEYS,
    MEF_LIST_COMMANDS,
    MEF_LIST_CERTS
};
/* Prints one line per row to f; never prints key material. */
M2M_WARN_UNUSED m2m_rc mef_store_list(struct mef_store *st, enum mef_list_what what, FILE *f);
/* Revokes a Kpm (and ends the live enrolments made over its sessions, or for enrolments
 * recorded without a Credential-ID those of its identity), deletes an enrolment (RelativeKeID or
 * KeID), a client or a key registration, or revokes an issued certificate (serial or SHA-256
 * fingerprint, hex, any case, ':' separators allowed), whichever `what` names. NOT_FOUND. */
M2M_WARN_UNUSED m2m_rc mef_store_revoke(struct mef_store *st, const char *what);

#endif
