/* kdf.h: the key derivations and key identifiers of TS-0003 10.3-10.6 as pure functions. */
#ifndef M2M_CRYPTO_KDF_H
#define M2M_CRYPTO_KDF_H

/* Everything here is a pure function: no I/O, no clock, no allocation. Inputs are byte buffers
 * with explicit lengths (never NUL-terminated peer data), outputs go to caller-provided buffers.
 * A derivation wipes the intermediate values on its own stack; the caller owns and wipes its
 * inputs and outputs (keep them in a struct m2m_secret, src/base/secret.h). On any failure a
 * key output buffer is zeroed, so a caller that ignores the status never uses stale key bytes.
 *
 * Every bad input (NULL pointer with a non-zero length, wrong key length, malformed identity or
 * identifier) is M2M_ERR_MALFORMED; M2M_ERR_INTERNAL only when GnuTLS itself fails. The readings
 * of the spec marked [INTERP] are recorded in docs/DECISIONS.md, "Key derivations (TS-0003
 * 10.3)". HMAC-Hash is HMAC-SHA-256 throughout (the only mandatory hash of 10.3). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rc.h"

#define KDF_KEY_LEN 32         /* Ke, Kc, Km, Kpsa, pairwiseE2EKey, Ke2e_*: HMAC-SHA-256 output */
#define KDF_EXPORT_LEN 48      /* TS-0003 10.3.1: exporter output length for every label */
#define KDF_EXPORT_ID_LEN 16   /* RelativeKeID / KcID / pairwiseE2EKeyID */
#define KDF_ESPRIM_RAND_LEN 16 /* TS-0003 8.4.2: esprimRandValue is 128 bits */
#define KDF_IN_KEY_MIN 16      /* shortest input key accepted where the length is free */
#define KDF_IN_KEY_MAX 64      /* longest one (an HMAC-SHA-256 block) */
#define KDF_SALT_MAX 64

/* Identities fed into a derivation (MAF-ID, Enrolee-B-ID, Enrolment-Target-ID). */
#define KDF_IDENTITY_MAX 255
/* RFC 1035 limits of an FQDN (no trailing dot) and of one label. */
#define KDF_FQDN_MAX 253
#define KDF_FQDN_LABEL_MAX 63
/* Issuer_Relative_KpsaID / MAF_RELATIVE_KmID ([INTERP] bound of ours). */
#define KDF_REL_ID_MAX 64
/* A whole "relative@fqdn" identifier, so that the Credential-ID "NN-" + id fits M2M_ID_MAX. */
#define KDF_KEY_ID_MAX 250
/* A Credential-ID "<type>-<value>" ([INTERP] bound, fits M2M_ID_MAX with its NUL). */
#define KDF_CRED_ID_MAX 255
/* hex(16 bytes) + '@' + FQDN + NUL: the buffer kdf_keid_format needs at most. */
#define KDF_KEY_ID_BUF (2 * KDF_EXPORT_ID_LEN + 1 + KDF_FQDN_MAX + 1)

/* TS-0003 10.3.1: the RFC 5705 exporter labels (no context value, 48 bytes each). */
#define KDF_EXPORTER_BOOTSTRAP "EXPORTER-oneM2M-Bootstrap"   /* -> RelativeKeID, Ke */
#define KDF_EXPORTER_CONNECTION "EXPORTER-oneM2M-Connection" /* -> KcID, Kc */
#define KDF_EXPORTER_ESCERTKE "EXPORTER-oneM2M-ESCertKE"     /* -> pairwiseE2EKeyID, key */

/* TS-0003 10.3.2, 10.3.3, 10.3.7, 10.3.8.2: HMAC labels (ASCII, no terminator). */
#define KDF_LABEL_KM "oneM2M Enrolment Key to Master Credential derivation"
#define KDF_LABEL_KPSA "oneM2M Enrolment Key to Provisioned Secure Connection Key derivation"
#define KDF_LABEL_USAGE "oneM2M Enrolment Key to Usage-Constrained Symmetric Key derivation"
#define KDF_LABEL_ESPRIM "oneM2M HMAC-SHA256 sessionESPrimKey derivation algorithm"
/* TS-0003 10.3.6.2: the expansion labels of T(1)..T(4). */
#define KDF_LABEL_E2E_MSG_AUTH "E2E Message Authentication Key"
#define KDF_LABEL_E2E_MSG_CONF "E2E Message Confidentiality Key"
#define KDF_LABEL_E2E_ATT_AUTH "E2E Attribute Authenticity Key"
#define KDF_LABEL_E2E_ATT_CONF "E2E Attribute Confidentiality Key"

/* ---- 10.3.1: exporter output ---- */

/* Splits a 48-byte exporter output into its identifier (the 16 most significant bytes, i.e.
 * bytes 0..15 of the output as a big-endian string, [INTERP]) and its key (bytes 16..47).
 * len must be KDF_EXPORT_LEN. id and key may not overlap `exported`. */
M2M_WARN_UNUSED m2m_rc kdf_export_split(const uint8_t *exported, size_t len,
                                        uint8_t id[KDF_EXPORT_ID_LEN], uint8_t key[KDF_KEY_LEN]);

/* ---- 10.3.4 / 10.3.5: KeID and MAF Key Identifier ---- */

/* Writes "hexBinary(rel_id)@fqdn" NUL-terminated into out (cap bytes, KDF_KEY_ID_BUF is
 * always enough): TS-0003 10.3.4 KeID (rel_id = RelativeKeID, fqdn = MEF-FQDN) and 10.3.5 MAF
 * Key Identifier (rel_id = KcID, fqdn = MAF-FQDN). Hex digits are upper case ([INTERP]
 * canonical xs:hexBinary). fqdn must pass kdf_fqdn_valid (lower case) and the whole must fit
 * KDF_KEY_ID_MAX; M2M_ERR_LIMIT when cap is too small. *out_len (may be NULL) gets the length
 * without the NUL. On failure out is "" when cap > 0. */
M2M_WARN_UNUSED m2m_rc kdf_keid_format(const uint8_t rel_id[KDF_EXPORT_ID_LEN], const char *fqdn,
                                       size_t fqdn_len, char *out, size_t cap, size_t *out_len);

/* Parses a KeID or MAF Key Identifier "<32 hex digits>@<fqdn>" (peer data, e.g. a
 * psk_identity). Hex digits of either case are accepted; the FQDN must be lower case.
 * rel_id gets the 16 bytes; *fqdn / *fqdn_len point into `in`. */
M2M_WARN_UNUSED m2m_rc kdf_keid_parse(const uint8_t *in, size_t len,
                                      uint8_t rel_id[KDF_EXPORT_ID_LEN], const uint8_t **fqdn,
                                      size_t *fqdn_len);

/* ---- 10.5 / 10.6: KpsaID and KmID ---- */

/* A parsed "relative@fqdn" identifier; both parts point into the parsed input. */
struct kdf_scoped_id {
    const uint8_t *rel;
    size_t rel_len;
    const uint8_t *fqdn;
    size_t fqdn_len;
};

/* TS-0003 10.5 / 10.6: parses "<relative>@<fqdn>": the relative part is 1..KDF_REL_ID_MAX of
 * letters, digits, '.', '_', '-'; the FQDN passes kdf_fqdn_valid; exactly one '@'; at most
 * KDF_KEY_ID_MAX in all. The grammar of KpsaID (10.5) and KmID (10.6) is the same. */
M2M_WARN_UNUSED m2m_rc kdf_scoped_id_parse(const uint8_t *in, size_t len,
                                           struct kdf_scoped_id *out);
/* TS-0003 10.6: two KmIDs are equal when the FQDNs are equal and the relative parts are equal
 * ignoring ASCII case. */
bool kdf_kmid_equal(const struct kdf_scoped_id *a, const struct kdf_scoped_id *b);
/* TS-0003 10.5: two KpsaIDs are equal byte for byte ([INTERP] the relative part of a KpsaID is
 * case-sensitive: 10.5, unlike 10.6, does not say otherwise). */
bool kdf_kpsaid_equal(const struct kdf_scoped_id *a, const struct kdf_scoped_id *b);

/* [INTERP] An FQDN in a key identifier: 1..KDF_FQDN_MAX bytes, dot-separated labels of
 * 1..KDF_FQDN_LABEL_MAX lower-case letters, digits and '-', no label starting or ending with
 * '-', no trailing dot. A single label ("localhost") is accepted. */
bool kdf_fqdn_valid(const uint8_t *in, size_t len);

/* ---- 10.4: Credential-ID ---- */

/* Writes "<type_id>-<value>" NUL-terminated. type_id is a positive integer (1..999, decimal
 * without leading zeros); value passes the rules of kdf_cred_id_parse. M2M_ERR_LIMIT when cap is
 * too small; *out_len (may be NULL) gets the length without the NUL. */
M2M_WARN_UNUSED m2m_rc kdf_cred_id_format(unsigned type_id, const char *value, size_t value_len,
                                          char *out, size_t cap, size_t *out_len);
/* TS-0003 10.4: parses "<type_id>-<value>". The value is 1.. bytes of printable ASCII without
 * space and without the characters xs:anyURI excludes (<>"{}|\^`) ([INTERP], SPEC-MAP GAP-2
 * item 30: wider than the letters, digits and ". _ - @" of 10.4 so that "ni:" and URN values of
 * types 30/34 fit); at most KDF_CRED_ID_MAX in all. *value points into `in`. */
M2M_WARN_UNUSED m2m_rc kdf_cred_id_parse(const uint8_t *in, size_t len, unsigned *type_id,
                                         const uint8_t **value, size_t *value_len);

/* ---- identities fed into the derivations ---- */

/* TS-0003 10.3.2/10.3.3/10.3.6/10.3.7 ask for identities as UTF-8 after NFKC. GnuTLS 3.7 has no
 * NFKC, so [INTERP] identities are restricted to printable ASCII without space (0x21..0x7e),
 * for which NFKC is the identity; anything else (non-ASCII, controls, NUL, space) is
 * M2M_ERR_MALFORMED, as is an empty identity or one longer than KDF_IDENTITY_MAX. */
M2M_WARN_UNUSED m2m_rc kdf_identity_check(const uint8_t *id, size_t len);

/* ---- 10.3.2, 10.3.3, 10.3.7: keys derived from Ke ---- */

/* TS-0003 10.3.2: Km = HMAC-SHA-256(Ke, KDF_LABEL_KM || MAF-ID). ke_len must be KDF_KEY_LEN. */
M2M_WARN_UNUSED m2m_rc kdf_km(const uint8_t *ke, size_t ke_len, const uint8_t *maf_id,
                              size_t maf_id_len, uint8_t km[KDF_KEY_LEN]);
/* TS-0003 10.3.3: Kpsa = HMAC-SHA-256(Ke, KDF_LABEL_KPSA || Enrolee-B-ID). */
M2M_WARN_UNUSED m2m_rc kdf_kpsa(const uint8_t *ke, size_t ke_len, const uint8_t *enrolee_b_id,
                                size_t id_len, uint8_t kpsa[KDF_KEY_LEN]);
/* TS-0003 10.3.7: HMAC-SHA-256(Ke, KDF_LABEL_USAGE || SUID || Enrolment-Target-ID), the SUID
 * written as ASCII decimal digits without leading zeros ([INTERP], e.g. 22 -> "22"). suid must
 * be a value of m2m:suid (kdf_suid_valid). target_id is the Enrolment Target's FQDN (for a CSE
 * or AE the FQDN representation of its absolute ID; the caller builds it). */
M2M_WARN_UNUSED m2m_rc kdf_usage_key(const uint8_t *ke, size_t ke_len, unsigned suid,
                                     const uint8_t *target_id, size_t id_len,
                                     uint8_t key[KDF_KEY_LEN]);
/* True for the values of the m2m:suid enumeration (TS-0004 6.3.4.2, SPEC-MAP N4). */
bool kdf_suid_valid(unsigned suid);

/* ---- 10.3.6: end-to-end keys ---- */

/* TS-0003 10.3.6.1: Ke2e_master = HMAC-SHA-256(Salt, Kpsa) = RFC 5869 HKDF-Extract. salt may be
 * NULL/0 (RFC 5869: HashLen zero bytes, the same key as 32 zero bytes), else 1..KDF_SALT_MAX.
 * kpsa is Kpsa or the Source-generated random value, KDF_IN_KEY_MIN..KDF_IN_KEY_MAX bytes. The
 * Source ESF End-Point-B-ID listed by 10.3.6.1 is not an input of its formula ([INTERP]). */
M2M_WARN_UNUSED m2m_rc kdf_e2e_master(const uint8_t *salt, size_t salt_len, const uint8_t *kpsa,
                                      size_t kpsa_len, uint8_t master[KDF_KEY_LEN]);

struct kdf_e2e_keys {
    uint8_t msg_auth[KDF_KEY_LEN]; /* T(1) Ke2e_msg_auth */
    uint8_t msg_conf[KDF_KEY_LEN]; /* T(2) Ke2e_msg_conf */
    uint8_t att_auth[KDF_KEY_LEN]; /* T(3) Ke2e_att_auth */
    uint8_t att_conf[KDF_KEY_LEN]; /* T(4) Ke2e_att_conf */
};
/* TS-0003 10.3.6.2: T(0) = empty, T(i) = HMAC-SHA-256(Ke2e_master, T(i-1) || label_i || i) for
 * i = 1..4 with the KDF_LABEL_E2E_* labels. Each block has its own label, so only T(1) equals an
 * RFC 5869 HKDF-Expand output. The caller wipes *out (m2m_wipe(out, sizeof *out)). */
M2M_WARN_UNUSED m2m_rc kdf_e2e_expand(const uint8_t master[KDF_KEY_LEN], struct kdf_e2e_keys *out);

/* ---- 10.3.8: sessionESPrimKey ---- */

/* TS-0003 10.3.8.2: HMAC-SHA-256(pairwiseESPrimKey, receiver rand || originator rand ||
 * KDF_LABEL_ESPRIM). [INTERP] the rand objects enter as their raw 16-byte esprimRandValues,
 * receiver first, and the key for A128GCM/A192GCM/A256GCM is the leftmost out_len bytes
 * (16, 24 or 32). pairwise is KDF_IN_KEY_MIN..KDF_IN_KEY_MAX bytes; both rands exactly
 * KDF_ESPRIM_RAND_LEN. */
M2M_WARN_UNUSED m2m_rc kdf_esprim_session(const uint8_t *pairwise, size_t pairwise_len,
                                          const uint8_t *recv_rand, size_t recv_len,
                                          const uint8_t *orig_rand, size_t orig_len, uint8_t *out,
                                          size_t out_len);

#endif
