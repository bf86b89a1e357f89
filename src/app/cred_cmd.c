/* cred_cmd.c: `m2msec cred ...`, the administration of the SAEF credential database (PSKs, raw
 * public keys, Node-ID/device certificate bindings; list; revoke), and its opening for the CSE. */
#include <errno.h>
#include <getopt.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "app/commands.h"
#include "base/secret.h"
#include "cse/config.h"
#include "keys/credstore.h"
#include "keys/keyfile.h"
#include "tls/tls.h"

#define GENERATED_PSK_LEN 32

static void cred_usage(FILE *f)
{
    fprintf(f,
            "usage: m2msec cred <command> [--data-dir DIR | --db FILE] ...\n"
            "  add-psk --identity KPSAID (--key-hex HEX | --generate) --bind ID [--bind ID ...]\n"
            "          KpsaID = relative@issuer-fqdn; the first --bind is the identity the\n"
            "          association is bound to (AE-ID or CSE-ID), further ones are also allowed\n"
            "  add-rpk --pubkey PEM --bind ID [--bind ID ...]   (ECDSA P-256 public key)\n"
            "  add-node --urn URN --bind AE-ID [...]     AE-IDs a Node-ID certificate speaks for\n"
            "  add-device --urn URN --bind AE-ID [...]   the same for a device certificate\n"
            "  list                                       never prints keys\n"
            "  revoke ID                                  Credential-ID or PSK identity/ni/URN\n"
            "DIR defaults to ./var; the database is DIR/credentials.db (mode 0600, DIR 0700).\n");
}

struct cred_args {
    const char *data_dir, *db, *identity, *key_hex, *pubkey, *urn;
    bool generate;
    const char *bind[CRED_MAX_BIND];
    int n_bind;
    const char *positional;
};

/* Makes sure dir exists with mode 0700 (the database holds secrets). */
static int secure_dir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "m2msec: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "m2msec: %s is not a directory\n", dir);
        return 1;
    }
    if ((st.st_mode & 077) != 0 && chmod(dir, 0700) != 0) {
        fprintf(stderr, "m2msec: cannot restrict %s to mode 0700: %s\n", dir, strerror(errno));
        return 1;
    }
    return 0;
}

static int open_store(const char *data_dir, const char *db, struct credstore **cs)
{
    char path[1024];
    if (db == NULL || db[0] == '\0') {
        if (secure_dir(data_dir))
            return 1;
        if (snprintf(path, sizeof path, "%s/credentials.db", data_dir) >= (int)sizeof path)
            return 1;
        db = path;
    }
    if (credstore_open(db, cs) != M2M_OK) {
        fprintf(stderr, "m2msec: cannot open the credential database %s\n", db);
        return 1;
    }
    return 0;
}

int cred_open_for_cse(struct cse_config *cfg, struct credstore **out)
{
    *out = NULL;
    if (!cfg->tls_psk || cfg->https_port < 0)
        return 0;
    if (open_store(cfg->data_dir, cfg->cred_path, out))
        return 1;
    credstore_tls_hooks(*out, &cfg->srv.tls.creds);
    return 0;
}

static int parse_args(int argc, char **argv, struct cred_args *a)
{
    static const struct option opts[] = {
        {"data-dir", required_argument, NULL, 'd'}, {"db", required_argument, NULL, 'b'},
        {"identity", required_argument, NULL, 'i'}, {"key-hex", required_argument, NULL, 'k'},
        {"generate", no_argument, NULL, 'g'},       {"pubkey", required_argument, NULL, 'p'},
        {"urn", required_argument, NULL, 'u'},      {"bind", required_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->data_dir = "./var";
    optind = 2;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'd': a->data_dir = optarg; break;
        case 'b': a->db = optarg; break;
        case 'i': a->identity = optarg; break;
        case 'k': a->key_hex = optarg; break;
        case 'g': a->generate = true; break;
        case 'p': a->pubkey = optarg; break;
        case 'u': a->urn = optarg; break;
        case 'B':
            if (a->n_bind >= CRED_MAX_BIND) {
                fprintf(stderr, "m2msec: at most %d --bind\n", CRED_MAX_BIND);
                return 2;
            }
            a->bind[a->n_bind++] = optarg;
            break;
        case 'h': cred_usage(stdout); return -1;
        default: return 2;
        }
    }
    if (optind < argc)
        a->positional = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "m2msec: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    return 0;
}

static int report_add(m2m_rc rc, const char *what, const char *cred_id)
{
    if (rc == M2M_OK) {
        printf("added %s\n", cred_id);
        return 0;
    }
    if (rc == M2M_ERR_EXISTS)
        fprintf(stderr, "m2msec: %s: this identity is already provisioned (or was revoked)\n",
                what);
    else if (rc == M2M_ERR_MALFORMED)
        fprintf(stderr, "m2msec: %s: invalid identity, key or --bind value\n", what);
    else
        fprintf(stderr, "m2msec: %s: %s\n", what, m2m_rc_str(rc));
    return 1;
}

static void print_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", p[i]);
}

static int do_add_psk(struct credstore *cs, const struct cred_args *a)
{
    uint8_t key[CRED_PSK_MAX];
    size_t keylen = 0;
    char id[M2M_ID_MAX];
    int ret = 1;
    if (a->generate) {
        keylen = GENERATED_PSK_LEN;
        if (gnutls_rnd(GNUTLS_RND_KEY, key, keylen) < 0)
            goto out;
    } else if (keyfile_parse((const uint8_t *)a->key_hex, strlen(a->key_hex), &KEYFILE_RULE_CRED,
                             key, sizeof key, &keylen) != M2M_OK) {
        fprintf(stderr, "m2msec: --key-hex needs %d to %d bytes in hex\n", CRED_PSK_MIN,
                CRED_PSK_MAX);
        goto out;
    }
    ret = report_add(
        credstore_add_psk(cs, a->identity, key, keylen, a->bind, a->n_bind, id, sizeof id),
        a->identity, id);
    if (ret == 0 && a->generate) {
        /* The one time a key is shown: the device needs it. */
        printf("key: ");
        print_hex(key, keylen);
        printf("\n");
    }
out:
    m2m_wipe(key, sizeof key);
    return ret;
}

static int do_add_rpk(struct credstore *cs, const struct cred_args *a)
{
    gnutls_datum_t pem = {NULL, 0}, der = {NULL, 0};
    gnutls_pubkey_t pk = NULL;
    char id[M2M_ID_MAX];
    int ret = 1;
    if (gnutls_load_file(a->pubkey, &pem) < 0) {
        fprintf(stderr, "m2msec: cannot read %s\n", a->pubkey);
        goto out;
    }
    if (gnutls_pubkey_init(&pk) < 0 || gnutls_pubkey_import(pk, &pem, GNUTLS_X509_FMT_PEM) < 0 ||
        gnutls_pubkey_export2(pk, GNUTLS_X509_FMT_DER, &der) < 0) {
        fprintf(stderr, "m2msec: %s holds no PEM public key\n", a->pubkey);
        goto out;
    }
    ret = report_add(credstore_add_rpk(cs, der.data, der.size, a->bind, a->n_bind, id, sizeof id),
                     a->pubkey, id);
out:
    gnutls_free(pem.data);
    gnutls_free(der.data);
    if (pk)
        gnutls_pubkey_deinit(pk);
    return ret;
}

static const char *kind_name(enum cred_kind k)
{
    switch (k) {
    case CRED_PSK: return "psk";
    case CRED_RPK: return "rpk";
    case CRED_NODE: return "node-cert";
    case CRED_DEVICE: return "device-cert";
    }
    return "?";
}

static void list_one(void *ctx, const struct cred_info *ci)
{
    char when[32] = "-";
    time_t t = (time_t)ci->created_s;
    struct tm tm;
    if (gmtime_r(&t, &tm) != NULL)
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%s\t%s\t%s\t", ci->cred_id, kind_name(ci->kind), ci->revoked ? "revoked" : "active");
    if (ci->kind == CRED_PSK)
        printf("<secret:%zu>", ci->key_len);
    else
        printf("-");
    printf("\tbind=%s", ci->b.identity[0] ? ci->b.identity : "-");
    for (int i = 0; i < ci->b.n_bound; i++)
        printf(",%s", ci->b.bound[i]);
    printf("\tcreated=%s\n", when);
    (*(int *)ctx)++;
}

static int do_list(struct credstore *cs)
{
    int n = 0;
    printf("credential-id\tkind\tstate\tkey\tbindings\tcreated\n");
    if (credstore_list(cs, list_one, &n) != M2M_OK) {
        fprintf(stderr, "m2msec: cannot list the credentials\n");
        return 1;
    }
    return 0;
}

static int do_revoke(struct credstore *cs, const char *id)
{
    m2m_rc rc = credstore_revoke(cs, id);
    if (rc == M2M_OK) {
        printf("revoked %s\n", id);
        return 0;
    }
    fprintf(stderr, "m2msec: %s: %s\n", id,
            rc == M2M_ERR_NOT_FOUND ? "no such credential" : m2m_rc_str(rc));
    return 1;
}

/* Checks the options each command needs; 0 when complete. */
static int check_args(const char *cmd, const struct cred_args *a)
{
    bool add = strncmp(cmd, "add-", 4) == 0;
    if (add && a->n_bind == 0)
        return 2;
    if (add && a->positional != NULL)
        return 2;
    if (strcmp(cmd, "add-psk") == 0)
        return a->identity && (a->generate != (a->key_hex != NULL)) ? 0 : 2;
    if (strcmp(cmd, "add-rpk") == 0)
        return a->pubkey ? 0 : 2;
    if (strcmp(cmd, "add-node") == 0 || strcmp(cmd, "add-device") == 0)
        return a->urn ? 0 : 2;
    if (strcmp(cmd, "list") == 0)
        return a->positional == NULL ? 0 : 2;
    if (strcmp(cmd, "revoke") == 0)
        return a->positional ? 0 : 2;
    return 2;
}

static int run(struct credstore *cs, const char *cmd, const struct cred_args *a)
{
    char id[M2M_ID_MAX];
    if (strcmp(cmd, "add-psk") == 0)
        return do_add_psk(cs, a);
    if (strcmp(cmd, "add-rpk") == 0)
        return do_add_rpk(cs, a);
    if (strcmp(cmd, "add-node") == 0 || strcmp(cmd, "add-device") == 0) {
        enum cred_kind k = strcmp(cmd, "add-node") == 0 ? CRED_NODE : CRED_DEVICE;
        return report_add(credstore_add_node(cs, k, a->urn, a->bind, a->n_bind, id, sizeof id),
                          a->urn, id);
    }
    if (strcmp(cmd, "list") == 0)
        return do_list(cs);
    return do_revoke(cs, a->positional);
}

int cmd_cred(int argc, char **argv)
{
    struct cred_args a;
    struct credstore *cs = NULL;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        cred_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    int r = parse_args(argc, argv, &a);
    if (r < 0)
        return 0;
    if (r != 0 || check_args(cmd, &a) != 0) {
        cred_usage(stderr);
        return 2;
    }
    if (open_store(a.data_dir, a.db, &cs))
        return 1;
    r = run(cs, cmd, &a);
    credstore_close(cs);
    return r;
}
