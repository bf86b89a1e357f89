/* pki.h: the development PKI: a local P-256 CA, the server certificate it signs, and client
 * certificates for tests and first steps. Built with the GnuTLS X.509 API; not for production
 * trust anchors. */
#ifndef M2M_TLS_PKI_H
#define M2M_TLS_PKI_H

#include <stddef.h>

#include "base/rc.h"

/* Makes sure dir (created with mode 0700 when missing) holds a development CA (ca.pem, ca.key)
 * and a server certificate (server.pem, server.key) for SAN DNS "localhost", IP 127.0.0.1 and ::1
 * and, when non-empty, DNS server_dns; ECDSA P-256, SHA-256, signed by the CA. Existing files are
 * reused; a newly created CA always gets a new server certificate. Keys are written with mode
 * 0600 (exclusive create, then rename). The three paths (each pathlen bytes) receive the CA
 * certificate, server certificate and server key file names. M2M_ERR_LIMIT when a path does not
 * fit, M2M_ERR_IO on file system errors, M2M_ERR_MALFORMED when existing files do not load. */
M2M_WARN_UNUSED m2m_rc pki_ensure_dev(const char *dir, const char *server_dns, char *ca_path,
                                      char *cert_path, char *key_path, size_t pathlen);

/* Issues a client certificate (ECDSA P-256, extendedKeyUsage clientAuth) from the CA in dir:
 * SAN URI san_uri (e.g. "//m2msec.example.com/id-mn" or an AE-ID; NULL = none), subject CN cn
 * (NULL = none; at least one of the two), valid for days (> 0) from now. Writes out_cert (0644)
 * and out_key (0600). */
/* The certificate flavours of TS-0003 8.1.2 / 10.1 (SPEC-MAP F4, F8) as `pki issue --flavour`
 * names them; the flavour decides what the SAN URI must look like:
 *   cse    absolute CSE-ID "//sp-id/csi" (the MN-CSE's identity on Mcc);
 *   ae     absolute AE-ID "//sp-id/csi/C..." or ".../S...";
 *   node   Node-ID as a URN ("urn:..."); binds to the AE-IDs `m2msec cred add-node` lists;
 *   device hardware instance ID as a URN; binds through `m2msec cred add-device`. [INTERP] F8
 *          suggests an otherName M2M Device ID; a URI SAN keeps the dev PKI simple;
 *   any    no check (legacy and tests). */
enum pki_flavour {
    PKI_FLAVOUR_ANY,
    PKI_FLAVOUR_CSE,
    PKI_FLAVOUR_AE,
    PKI_FLAVOUR_NODE,
    PKI_FLAVOUR_DEVICE
};
/* "any", "cse", "ae", "node", "device"; M2M_ERR_CONFIG otherwise. */
M2M_WARN_UNUSED m2m_rc pki_flavour_parse(const char *name, enum pki_flavour *out);
/* M2M_OK when uri fits the flavour; never a wildcard, space or control character. */
M2M_WARN_UNUSED m2m_rc pki_flavour_check(enum pki_flavour f, const char *uri);

/* Refuses a san_uri holding '*' (F8: no wildcards). */
M2M_WARN_UNUSED m2m_rc pki_issue(const char *dir, const char *san_uri, const char *cn, int days,
                                 const char *out_cert, const char *out_key);

#endif
