/* pki.c: development CA, server and client certificates (GnuTLS X.509 API), written atomically
 * with private keys at mode 0600. */
#include "tls/pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

#define PKI_CA_DAYS 3650
#define PKI_SERVER_DAYS 825

/* A certificate with its key. */
struct pki_pair {
    gnutls_x509_crt_t crt;
    gnutls_x509_privkey_t key;
};

static void pair_clear(struct pki_pair *p)
{
    if (p->crt)
        gnutls_x509_crt_deinit(p->crt);
    if (p->key)
        gnutls_x509_privkey_deinit(p->key);
    p->crt = NULL;
    p->key = NULL;
}

static m2m_rc join(char *out, size_t outlen, const char *dir, const char *name)
{
    int n = snprintf(out, outlen, "%s/%s", dir, name);
    return (n < 0 || (size_t)n >= outlen) ? M2M_ERR_LIMIT : M2M_OK;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Writes data to path atomically: exclusive create of path.tmp with `mode`, fsync, rename. */
static m2m_rc write_atomic(const char *path, const gnutls_datum_t *d, mode_t mode)
{
    m2m_rc rc = M2M_OK;
    char tmp[4096];
    int fd = -1;
    ENSURE(snprintf(tmp, sizeof tmp, "%s.tmp", path) < (int)sizeof tmp, M2M_ERR_LIMIT);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0) /* a stale file of a crashed run */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    ENSURE(fd >= 0, M2M_ERR_IO);
    for (size_t off = 0; off < d->size;) {
        ssize_t w = write(fd, d->data + off, d->size - off);
        if (w < 0 && errno == EINTR)
            continue;
        ENSURE(w > 0, M2M_ERR_IO);
        off += (size_t)w;
    }
    ENSURE(fsync(fd) == 0, M2M_ERR_IO);
    ENSURE(close(fd) == 0, M2M_ERR_IO);
    fd = -1;
    ENSURE(rename(tmp, path) == 0, M2M_ERR_IO);
out:
    if (fd >= 0)
        close(fd);
    if (rc != M2M_OK) {
        log_error("pki: cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    return rc;
}

static m2m_rc pair_save(const struct pki_pair *p, const char *cert_path, const char *key_path)
{
    m2m_rc rc = M2M_OK;
    gnutls_datum_t c = {NULL, 0}, k = {NULL, 0};
    ENSURE(gnutls_x509_crt_export2(p->crt, GNUTLS_X509_FMT_PEM, &c) >= 0, M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_privkey_export2_pkcs8(p->key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
                                             &k) >= 0,
           M2M_ERR_INTERNAL);
    TRY(write_atomic(key_path, &k, 0600));
    TRY(write_atomic(cert_path, &c, 0644));
out:
    gnutls_free(c.data);
    if (k.data) {
        gnutls_memset(k.data, 0, k.size);
        gnutls_free(k.data);
    }
    return rc;
}

static m2m_rc pair_load(struct pki_pair *p, const char *cert_path, const char *key_path)
{
    m2m_rc rc = M2M_OK;
    gnutls_datum_t c = {NULL, 0}, k = {NULL, 0};
    ENSURE(gnutls_load_file(cert_path, &c) >= 0, M2M_ERR_IO);
    ENSURE(gnutls_load_file(key_path, &k) >= 0, M2M_ERR_IO);
    ENSURE(gnutls_x509_crt_init(&p->crt) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_x509_privkey_init(&p->key) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_x509_crt_import(p->crt, &c, GNUTLS_X509_FMT_PEM) >= 0, M2M_ERR_MALFORMED);
    ENSURE(gnutls_x509_privkey_import(p->key, &k, GNUTLS_X509_FMT_PEM) >= 0, M2M_ERR_MALFORMED);
out:
    gnutls_free(c.data);
    if (k.data) {
        gnutls_memset(k.data, 0, k.size);
        gnutls_free(k.data);
    }
    if (rc != M2M_OK) {
        log_error("pki: cannot load %s / %s: %s", cert_path, key_path, m2m_rc_str(rc));
        pair_clear(p);
    }
    return rc;
}

/* A fresh P-256 key and an unsigned certificate carrying it: version 3, random positive 128-bit
 * serial, valid from an hour ago (clock skew) for `days`, subject CN when given. */
static m2m_rc pair_new(struct pki_pair *p, const char *cn, int days)
{
    m2m_rc rc = M2M_OK;
    unsigned char serial[16];
    time_t now = time(NULL);
    ENSURE(gnutls_x509_privkey_init(&p->key) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_x509_privkey_generate(p->key, GNUTLS_PK_ECDSA,
                                        GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) >= 0,
           M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_init(&p->crt) >= 0, M2M_ERR_NOMEM);
    ENSURE(gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial) >= 0, M2M_ERR_INTERNAL);
    serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);
    ENSURE(gnutls_x509_crt_set_version(p->crt, 3) >= 0, M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_set_serial(p->crt, serial, sizeof serial) >= 0, M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_set_activation_time(p->crt, now - 3600) >= 0, M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_set_expiration_time(p->crt, now + (time_t)days * 86400) >= 0,
           M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_set_key(p->crt, p->key) >= 0, M2M_ERR_INTERNAL);
    if (cn != NULL && cn[0] != '\0')
        ENSURE(gnutls_x509_crt_set_dn_by_oid(p->crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
                                             (unsigned)strlen(cn)) >= 0,
               M2M_ERR_MALFORMED);
    unsigned char kid[64];
    size_t kid_len = sizeof kid;
    ENSURE(gnutls_x509_crt_get_key_id(p->crt, GNUTLS_KEYID_USE_SHA1, kid, &kid_len) >= 0,
           M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_set_subject_key_id(p->crt, kid, kid_len) >= 0, M2M_ERR_INTERNAL);
out:
    if (rc != M2M_OK)
        pair_clear(p);
    return rc;
}

/* Signs p with the CA (or itself when ca is NULL) using ECDSA with SHA-256. */
static m2m_rc pair_sign(struct pki_pair *p, const struct pki_pair *ca)
{
    m2m_rc rc = M2M_OK;
    const struct pki_pair *issuer = ca ? ca : p;
    if (ca != NULL) {
        unsigned char kid[64];
        size_t kid_len = sizeof kid;
        unsigned crit = 0;
        ENSURE(gnutls_x509_crt_get_subject_key_id(ca->crt, kid, &kid_len, &crit) >= 0,
               M2M_ERR_MALFORMED);
        ENSURE(gnutls_x509_crt_set_authority_key_id(p->crt, kid, kid_len) >= 0, M2M_ERR_INTERNAL);
    }
    ENSURE(gnutls_x509_crt_sign2(p->crt, issuer->crt, issuer->key, GNUTLS_DIG_SHA256, 0) >= 0,
           M2M_ERR_INTERNAL);
out:
    return rc;
}

static m2m_rc make_ca(struct pki_pair *ca)
{
    m2m_rc rc = M2M_OK;
    TRY(pair_new(ca, "m2msec development CA", PKI_CA_DAYS));
    ENSURE(gnutls_x509_crt_set_basic_constraints(ca->crt, 1, 0) >= 0, M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_set_key_usage(ca->crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN) >=
               0,
           M2M_ERR_INTERNAL);
    TRY(pair_sign(ca, NULL));
out:
    return rc;
}

static m2m_rc add_ip(gnutls_x509_crt_t crt, int af, const char *text)
{
    unsigned char ip[16];
    if (inet_pton(af, text, ip) != 1)
        return M2M_ERR_INTERNAL;
    unsigned len = af == AF_INET ? 4 : 16;
    return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, len,
                                                GNUTLS_FSAN_APPEND) >= 0
               ? M2M_OK
               : M2M_ERR_INTERNAL;
}

static m2m_rc add_dns(gnutls_x509_crt_t crt, const char *name)
{
    return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, name,
                                                (unsigned)strlen(name), GNUTLS_FSAN_APPEND) >= 0
               ? M2M_OK
               : M2M_ERR_MALFORMED;
}

/* A leaf: end entity, digitalSignature, the given extended key usage. */
static m2m_rc leaf_common(struct pki_pair *p, const char *purpose)
{
    m2m_rc rc = M2M_OK;
    ENSURE(gnutls_x509_crt_set_basic_constraints(p->crt, 0, -1) >= 0, M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_set_key_usage(p->crt, GNUTLS_KEY_DIGITAL_SIGNATURE) >= 0,
           M2M_ERR_INTERNAL);
    ENSURE(gnutls_x509_crt_set_key_purpose_oid(p->crt, purpose, 0) >= 0, M2M_ERR_INTERNAL);
out:
    return rc;
}

static m2m_rc make_server(struct pki_pair *srv, const struct pki_pair *ca, const char *dns)
{
    m2m_rc rc = M2M_OK;
    TRY(pair_new(srv, "localhost", PKI_SERVER_DAYS));
    TRY(leaf_common(srv, GNUTLS_KP_TLS_WWW_SERVER));
    TRY(add_dns(srv->crt, "localhost"));
    if (dns != NULL && dns[0] != '\0' && strcmp(dns, "localhost") != 0)
        TRY(add_dns(srv->crt, dns));
    TRY(add_ip(srv->crt, AF_INET, "127.0.0.1"));
    TRY(add_ip(srv->crt, AF_INET6, "::1"));
    TRY(pair_sign(srv, ca));
out:
    return rc;
}

static m2m_rc ensure_dir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0700) == 0)
        return M2M_OK;
    if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return M2M_OK;
    log_error("pki: cannot create %s: %s", dir, strerror(errno));
    return M2M_ERR_IO;
}

m2m_rc pki_ensure_dev(const char *dir, const char *server_dns, char *ca_path, char *cert_path,
                      char *key_path, size_t pathlen)
{
    m2m_rc rc = M2M_OK;
    struct pki_pair ca = {NULL, NULL}, srv = {NULL, NULL};
    char ca_key[4096];
    bool new_ca = false;
    TRY(ensure_dir(dir));
    TRY(join(ca_path, pathlen, dir, "ca.pem"));
    TRY(join(ca_key, sizeof ca_key, dir, "ca.key"));
    TRY(join(cert_path, pathlen, dir, "server.pem"));
    TRY(join(key_path, pathlen, dir, "server.key"));
    if (file_exists(ca_path) && file_exists(ca_key)) {
        TRY(pair_load(&ca, ca_path, ca_key));
    } else {
        TRY(make_ca(&ca));
        TRY(pair_save(&ca, ca_path, ca_key));
        new_ca = true;
        log_info("pki: created development CA in %s", dir);
    }
    if (new_ca || !file_exists(cert_path) || !file_exists(key_path)) {
        TRY(make_server(&srv, &ca, server_dns));
        TRY(pair_save(&srv, cert_path, key_path));
        log_info("pki: issued development server certificate %s", cert_path);
    }
out:
    pair_clear(&ca);
    pair_clear(&srv);
    return rc;
}

m2m_rc pki_issue(const char *dir, const char *san_uri, const char *cn, int days,
                 const char *out_cert, const char *out_key)
{
    m2m_rc rc = M2M_OK;
    struct pki_pair ca = {NULL, NULL}, cli = {NULL, NULL};
    char ca_cert[4096], ca_key[4096];
    bool has_uri = san_uri != NULL && san_uri[0] != '\0';
    ENSURE(days > 0 && days <= 36500, M2M_ERR_CONFIG);
    ENSURE(has_uri || (cn != NULL && cn[0] != '\0'), M2M_ERR_CONFIG);
    /* TS-0003 10.1 (SPEC-MAP F8): no wildcards in AE-ID, CSE-ID, Node-ID or FQDN certificates. */
    ENSURE(!has_uri || strchr(san_uri, '*') == NULL, M2M_ERR_CONFIG);
    TRY(join(ca_cert, sizeof ca_cert, dir, "ca.pem"));
    TRY(join(ca_key, sizeof ca_key, dir, "ca.key"));
    TRY(pair_load(&ca, ca_cert, ca_key));
    TRY(pair_new(&cli, cn, days));
    TRY(leaf_common(&cli, GNUTLS_KP_TLS_WWW_CLIENT));
    if (has_uri)
        ENSURE(gnutls_x509_crt_set_subject_alt_name(cli.crt, GNUTLS_SAN_URI, san_uri,
                                                    (unsigned)strlen(san_uri),
                                                    GNUTLS_FSAN_APPEND) >= 0,
               M2M_ERR_MALFORMED);
    TRY(pair_sign(&cli, &ca));
    TRY(pair_save(&cli, out_cert, out_key));
out:
    pair_clear(&ca);
    pair_clear(&cli);
    return rc;
}

m2m_rc pki_flavour_parse(const char *name, enum pki_flavour *out)
{
    static const char *names[] = {"any", "cse", "ae", "node", "device"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (name != NULL && strcmp(name, names[i]) == 0) {
            *out = (enum pki_flavour)i;
            return M2M_OK;
        }
    return M2M_ERR_CONFIG;
}

/* Counts the '/'-separated segments after the leading "//" of an absolute identifier. */
static int abs_segments(const char *id)
{
    if (strncmp(id, "//", 2) != 0 || id[2] == '\0')
        return 0;
    int n = 1;
    for (const char *p = id + 2; *p; p++) {
        if (*p == '/') {
            if (p[1] == '\0' || p[1] == '/')
                return 0; /* empty segment */
            n++;
        }
    }
    return n;
}

m2m_rc pki_flavour_check(enum pki_flavour f, const char *uri)
{
    if (uri == NULL || uri[0] == '\0')
        return f == PKI_FLAVOUR_ANY ? M2M_OK : M2M_ERR_CONFIG;
    for (const char *p = uri; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '*')
            return M2M_ERR_CONFIG;
    switch (f) {
    case PKI_FLAVOUR_ANY: return M2M_OK;
    case PKI_FLAVOUR_CSE: {
        /* //SP/CSE-ID; "//SP/S..." is an SP-relative AE-ID (TS-0001 7.2), not a CSE-ID */
        const char *last = strrchr(uri, '/');
        return abs_segments(uri) == 2 && last != NULL && last[1] != 'S' ? M2M_OK : M2M_ERR_CONFIG;
    }
    case PKI_FLAVOUR_AE: {
        /* //SP/CSE-ID/stem (or deeper structured forms) with a C... or S... stem, or the
         * CSE-ID-less S-AE-ID //SP/S... (TS-0001 7.2, TS-0004 6.2.3) */
        const char *last = strrchr(uri, '/');
        int n = abs_segments(uri);
        if (last == NULL || (last[1] != 'C' && last[1] != 'S'))
            return M2M_ERR_CONFIG;
        return n >= 3 || (n == 2 && last[1] == 'S') ? M2M_OK : M2M_ERR_CONFIG;
    }
    case PKI_FLAVOUR_NODE:
    case PKI_FLAVOUR_DEVICE:
        return strncmp(uri, "urn:", 4) == 0 && uri[4] ? M2M_OK : M2M_ERR_CONFIG;
    }
    return M2M_ERR_CONFIG;
}
