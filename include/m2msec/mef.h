/* m2msec/mef.h: the MEF client side of the device library (TS-0003 8.3, SPEC-MAP G1-G10, wire
 * protocol in docs/MEF.md): enrol with a bootstrap credential, register with the MEF, process
 * MEF Client Commands, obtain certificates by EST, derive the usage-constrained key for a target,
 * and (for Enrolment Targets such as a CSE) fetch a remotely provisioned key.
 *
 * All functions work on a struct m2msec_client (m2msec/client.h) whose url is the MEF's https://
 * or coaps:// address (EST, m2msec_est_enroll, needs https://), whose server_name is the MEF FQDN
 * and whose credential is the bootstrap credential (M2MSEC_CRED_PSK with KpmID/Kpm, or
 * M2MSEC_CRED_CERT); originator = the identity the MEF knows the client by. Conventions are those
 * of client.h: int result codes, M2MSEC_ERR_RSC when the MEF answered with an error (the RSC in
 * *rsc where offered, text in m2msec_client_errmsg). */
#ifndef M2MSEC_MEF_H
#define M2MSEC_MEF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "m2msec/client.h"

#ifdef __cplusplus
extern "C" {
#endif

#define M2MSEC_KEY_LEN 32
#define M2MSEC_KEID_MAX 300
#define M2MSEC_MEF_MAX_TARGETS 8

/* Connects (if not connected) and runs the RFC 5705 exporter on the (D)TLS session with label
 * (no context value). Results: OK, USAGE (plain transport, len 0 or > 255), CONNECT, TLS. */
int m2msec_client_export(struct m2msec_client *c, const char *label, uint8_t *out, size_t len);

/* The result of an enrolment (G3). Wipe with m2msec_enrolment_wipe. */
struct m2msec_enrolment {
    char keid[M2MSEC_KEID_MAX]; /* "HEX@mef-fqdn" */
    uint8_t ke[M2MSEC_KEY_LEN]; /* Enrolment Key Ke (secret) */
    char enrolee_id[256];
    int64_t expires_s; /* Unix seconds (from the MEF's et) */
    struct {
        char target_id[256];
        char fqdn[254];
        int suid;
    } targets[M2MSEC_MEF_MAX_TARGETS];
    int n_targets;
};
void m2msec_enrolment_wipe(struct m2msec_enrolment *e);

/* Enrolment key generation: exporter "EXPORTER-oneM2M-Bootstrap" (48 bytes) on the session,
 * CREATE ty=905 at /mef, check that the MEF's keID equals hex(RelativeKeID)@mef_fqdn (case-
 * insensitive hex). mef_fqdn is required (lower-case DNS name): the handle does not expose its
 * server_name, so NULL is USAGE. The exporter and the CREATE must ride the same TLS session;
 * a reconnect in between is PROTOCOL. Results: OK, USAGE, RSC (the MEF refused; *rsc), PROTOCOL
 * (keID mismatch or malformed answer), transport errors. */
int m2msec_mef_enrol(struct m2msec_client *c, const char *mef_fqdn, struct m2msec_enrolment *out,
                     int *rsc);

/* TS-0003 10.3.7: the usage-constrained key for SUID suid and the target's FQDN. */
int m2msec_mef_derive_key(const struct m2msec_enrolment *e, int suid, const char *target_fqdn,
                          uint8_t key[M2MSEC_KEY_LEN]);

/* MEF Client Registration (8.3.5.2.3): CREATE ty=902 with fqdn = mef_fqdn, adminFQDN, optional
 * et (oneM2M timestamp or NULL) and labels. *reg_id (malloc'd) gets the MEFClientRegID. */
int m2msec_mef_register(struct m2msec_client *c, const char *mef_fqdn, const char *admin_fqdn,
                        const char *et, const char *const *labels, size_t n_labels, char **reg_id,
                        int *rsc);
/* De-registration (8.3.5.2.6): DELETE /mef/<reg_id>. */
int m2msec_mef_deregister(struct m2msec_client *c, const char *reg_id, int *rsc);

/* Where command processing writes what it obtains. */
struct m2msec_mef_cmd_env {
    const char *mef_fqdn;   /* the URI host of CERT_PROV must equal it (8.3.9.7) */
    const char *cert_out;   /* PEM certificate obtained by EST */
    const char *key_out;    /* PEM private key generated for it (mode 0600) */
    const char *ca_out;     /* PEM trust anchors from /cacerts (NULL = not written) */
    unsigned subject_types; /* bit (1 << certSubjectType) the client may hold (1 Node-ID, 2
                               CSE-ID, 3 AE-ID); 0 = all */
    int max_commands;       /* bound of the loop, default 16 when 0 */
};
/* What happened, for the CLI and tests. */
struct m2msec_mef_cmd_report {
    int n_processed;
    int last_status;         /* cmdStatusCode reported for the last command */
    char retry_duration[32]; /* from NO_MORE_COMMANDS */
    char cert_subject[256];  /* SAN of a certificate obtained, "" when none */
};
/* The MEF Client Command loop of 8.3.9: Retrieve, execute (CERT_PROV with EST; other classes are
 * reported 41 CLASS_NOT_SUPPORTED), Update with the status, until NO_MORE_COMMANDS or
 * max_commands. Client-side checks of 8.3.9.2 step 5 (40, 41, 42, 43, 100, 101). EST runs on
 * the client's own session with the path of the CERT_PROV URI (its host checked, its port not
 * used). Results: OK (the loop ended; what happened is in *report, a failed command included),
 * USAGE, RSC (the MEF refused a Retrieve/Update), PROTOCOL (a command that cannot be reported),
 * transport errors. */
int m2msec_mef_process_commands(struct m2msec_client *c, const char *reg_id,
                                const struct m2msec_mef_cmd_env *env,
                                struct m2msec_mef_cmd_report *report);

/* EST (RFC 7030) over the client's session: /cacerts (written to ca_out when not NULL),
 * /csrattrs, a fresh P-256 key (key_out, 0600), a CSR with SAN URI san_uri and challengePassword
 * = base64(tls-exporter), /simpleenroll (or /simplereenroll when reenroll), certificate to
 * cert_out (PEM). Results: OK, RSC (HTTP 4xx/5xx; *http_status), PROTOCOL, FILE, transport. */
int m2msec_est_enroll(struct m2msec_client *c, const char *san_uri, bool reenroll,
                      const char *key_out, const char *cert_out, const char *ca_out,
                      int *http_status);

/* EST server-side key generation (RFC 7030 4.4, TS-0003 8.3.6.2.1) over the client's session:
 * /cacerts (to ca_out when not NULL), /csrattrs, a CSR with SAN URI san_uri and the channel
 * binding as challengePassword (signed with a throwaway P-256 key), POST /serverkeygen; the
 * multipart/mixed answer must hold exactly one unencrypted PKCS#8 P-256 key and one certificate
 * that certifies it and names exactly san_uri. Key to key_out (PEM, 0600, atomic), certificate
 * to cert_out (PEM). Results as m2msec_est_enroll. */
int m2msec_est_serverkeygen(struct m2msec_client *c, const char *san_uri, const char *key_out,
                            const char *cert_out, const char *ca_out, int *http_status);

/* Enrolment Target side (G5): RETRIEVE /fetchCredentials/<keid>/<suid>. On OK: key[0..*key_len)
 * (*key_len in: capacity >= 32), enrolee (NUL-terminated, may be ""), *lifetime_s. */
int m2msec_mef_fetch_credentials(struct m2msec_client *c, const char *keid, int suid, uint8_t *key,
                                 size_t *key_len, char *enrolee, size_t enrolee_cap,
                                 int64_t *lifetime_s, int *rsc);

/* Writes key[0..len) as lower-case hex and a newline to path, atomically (temporary file in the
 * same directory, fsync, rename), mode 0600: the format `m2msec client --psk-file` reads.
 * Results: OK, USAGE, FILE. */
int m2msec_key_file_write(const char *path, const uint8_t *key, size_t len);

#ifdef __cplusplus
}
#endif

#endif
