/* mef_codec.h: the JSON bodies of the Mmef interface (docs/MEF.md): bounded parsers for what
 * clients send (sec:enr, sec:mcr, sec:mkr, sec:mcc) and what the MEF answers (sec:fcr,
 * sec:mefb), the oneM2M basic timestamp, strict base64 and the cmdDescription builder. Pure
 * functions: no I/O, no clock. All peer JSON enters through json_parse (src/enc/json.h); an
 * unknown member, a missing mandatory member or a value of the wrong type or range is
 * M2M_ERR_MALFORMED (the server answers 4000). */
#ifndef M2M_MEF_CODEC_H
#define M2M_MEF_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"
#include "enc/json.h"

#define MEF_BODY_MAX (64 * 1024) /* docs/MEF.md "Limits" */
#define MEF_JSON_DEPTH 8
#define MEF_ID_MAX 255     /* bytes of an identifier or label (without NUL) */
#define MEF_FQDN_MAX 253   /* RFC 1035 */
#define MEF_LBL_MAX 256    /* labels per resource */
#define MEF_TARGETS_MAX 64 /* targetIDs per key registration */
#define MEF_KEY_MIN 16     /* keyValue bytes */
#define MEF_KEY_MAX 64
#define MEF_CMDID_MAX 20 /* decimal digits of a cmdID */
#define MEF_TS_LEN 15    /* "YYYYMMDDTHHMMSS" */

/* An owned list of NUL-terminated strings. */
struct mef_strlist {
    char **v;
    size_t n;
};
void mef_strlist_clear(struct mef_strlist *l);
/* True when l holds s (exact bytes). */
bool mef_strlist_has(const struct mef_strlist *l, const char *s);
/* Parses a JSON array text (the store keeps lists as JSON) of at most max strings, each
 * 1..MEF_ID_MAX bytes of printable ASCII without space ... see mef_codec.c. */
M2M_WARN_UNUSED m2m_rc mef_strlist_from_json(const char *json, size_t len, size_t max,
                                             struct mef_strlist *out);
/* Serializes as a compact JSON array; *out is freed with free(). */
M2M_WARN_UNUSED m2m_rc mef_strlist_to_json(const struct mef_strlist *l, char **out);

enum mef_mode { MEF_PARSE_CREATE, MEF_PARSE_UPDATE };

/* {"sec:enr":{}} or {"sec:enr":{"et":TS}} (CREATE ty=905). et_s = 0 when absent. */
struct mef_enr_req {
    int64_t et_s;
};
M2M_WARN_UNUSED m2m_rc mef_enr_parse(const uint8_t *in, size_t len, struct mef_enr_req *out);

/* sec:mcr. CREATE: fqdn and adminFQDN mandatory, et and lbl optional. UPDATE: et and/or lbl,
 * at least one, nothing else (TS-0003 8.3.5.2.5). */
struct mef_mcr_req {
    bool has_fqdn, has_admin, has_et, has_lbl;
    char fqdn[MEF_FQDN_MAX + 1];
    char admin[MEF_FQDN_MAX + 1];
    int64_t et_s;
    struct mef_strlist lbl;
};
M2M_WARN_UNUSED m2m_rc mef_mcr_parse(const uint8_t *in, size_t len, enum mef_mode mode,
                                     struct mef_mcr_req *out);
void mef_mcr_req_clear(struct mef_mcr_req *r);

/* sec:mkr. CREATE: fqdn, adminFQDN, SUID, targetIDs mandatory; et, lbl, keyValue optional.
 * UPDATE: any of et, lbl, targetIDs, at least one. targetIDs: exactly one for SUIDs x2/x3
 * (SAEF, ESPrim), one or more otherwise (TS-0003 8.3.5.2.7). The key is wiped by
 * mef_mkr_req_clear. */
struct mef_mkr_req {
    bool has_fqdn, has_admin, has_suid, has_targets, has_et, has_lbl, has_key;
    char fqdn[MEF_FQDN_MAX + 1];
    char admin[MEF_FQDN_MAX + 1];
    unsigned suid;
    struct mef_strlist targets;
    int64_t et_s;
    struct mef_strlist lbl;
    uint8_t key[MEF_KEY_MAX];
    size_t key_len;
};
M2M_WARN_UNUSED m2m_rc mef_mkr_parse(const uint8_t *in, size_t len, enum mef_mode mode,
                                     struct mef_mkr_req *out);
void mef_mkr_req_clear(struct mef_mkr_req *r);
/* The targetIDs rule of 8.3.5.2.7 for a SUID (used again on UPDATE with the stored SUID). */
bool mef_mkr_targets_ok(unsigned suid, size_t n_targets);

/* sec:mcc UPDATE (TS-0003 8.3.9.3): {"sec:mcc":{"cmdID":"<digits>","cmdStatusCode":N}}. */
struct mef_mcc_req {
    char cmd_id[MEF_CMDID_MAX + 1];
    int status;
};
M2M_WARN_UNUSED m2m_rc mef_mcc_parse(const uint8_t *in, size_t len, struct mef_mcc_req *out);

/* sec:fcr (the answer of fetchCredentials), for the Enrolment Target side. On status true the
 * credential (32 bytes) is in key; the caller wipes it. */
struct mef_fcr {
    bool status;
    uint8_t key[MEF_KEY_MAX];
    size_t key_len;
    char enrolee[MEF_ID_MAX + 1];
    int64_t lifetime_s;
    int64_t et_s;
    char error[MEF_ID_MAX + 1];
};
M2M_WARN_UNUSED m2m_rc mef_fcr_parse(const uint8_t *in, size_t len, struct mef_fcr *out);

/* sec:mefb (MEFBase retrieve), for clients. */
struct mef_mefb {
    char fqdn[MEF_FQDN_MAX + 1];
    char est_uri[MEF_ID_MAX + 1];
};
M2M_WARN_UNUSED m2m_rc mef_mefb_parse(const uint8_t *in, size_t len, struct mef_mefb *out);

/* MEF Client Command classes (TS-0003 12.3.2.3) and the statuses the MEF sets itself. */
enum mef_cmd_class {
    MEF_CMD_NO_MORE = 0,
    MEF_CMD_CERT_PROV = 1,
    MEF_CMD_DEV_CFG = 2,
    MEF_CMD_MO_NODE = 3
};
#define MEF_CMD_ISSUED 10
#define MEF_CMD_REISSUED 11

/* Arguments of `m2msec mef cmd add` for mef_cmd_desc_build. Unused members NULL/0. */
struct mef_cmd_args {
    enum mef_cmd_class cls;
    const char *target_id;   /* optional targetID */
    const char *est_uri;     /* CERT_PROV: URI */
    int subject_type;        /* CERT_PROV: 1 Node-ID, 2 CSE-ID, 3 AE-ID */
    const char *subject_id;  /* CERT_PROV: certSubjectID */
    const char *dev_cfg_uri; /* DEV_CFG: deviceConfigURI */
    const char *object_path; /* MO_NODE */
    int object_type;         /* MO_NODE: 1..3 */
    unsigned suid;           /* MO_NODE: authProfileMONodeArgs SUID, 0 = absent */
    const char *retry;       /* NO_MORE: retryDuration */
};
/* Builds the sec:cmdDescription object (TS-0003 12.4.4-12.4.10) as compact JSON text; *out is
 * freed with free(). M2M_ERR_MALFORMED when a mandatory argument of the class is missing or out
 * of range. */
M2M_WARN_UNUSED m2m_rc mef_cmd_desc_build(const struct mef_cmd_args *a, char **out);
/* Reads back the certSubjectID of a stored CERT_PROV description ("" when it is not one). */
void mef_cmd_desc_subject(const char *desc_json, size_t len, char *out, size_t cap);

/* "YYYYMMDDTHHMMSS" (UTC) of Unix seconds t; out holds MEF_TS_LEN + 1. */
void mef_ts_format(int64_t t_s, char out[MEF_TS_LEN + 1]);
/* A oneM2M timestamp of exactly len bytes to Unix seconds (fraction dropped). */
M2M_WARN_UNUSED m2m_rc mef_ts_parse(const char *s, size_t len, int64_t *t_s);

/* RFC 4648 base64 with padding. Encode: *out NUL-terminated, freed with free() (callers of key
 * material wipe it first). Decode: strict (no whitespace, canonical padding), at most cap
 * bytes, M2M_ERR_MALFORMED otherwise. */
M2M_WARN_UNUSED m2m_rc mef_b64_encode(const uint8_t *in, size_t len, char **out);
M2M_WARN_UNUSED m2m_rc mef_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap,
                                      size_t *out_len);

/* An identifier of ours: 1..MEF_ID_MAX bytes of printable ASCII without space (0x21..0x7e). */
bool mef_id_valid(const char *s, size_t len);
/* A DNS name: kdf_fqdn_valid (lower case). */
bool mef_fqdn_valid(const char *s, size_t len);

#endif
