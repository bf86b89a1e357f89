/* mef_cmd.c: `m2msec mef ...`: the MEF process (serve) and its administrator CLI (init,
 * add-kpm, add-target, allow, cmd add, list, revoke), working on DIR/mef.db (docs/MEF.md). */
#include "app/mef_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "base/secret.h"
#include "crypto/kdf.h"
#include "mef/mef.h"
#include "mef/mef_store.h"
#include "tls/pki.h"

/* Every flag of every subcommand; each subcommand checks the ones it needs. */
struct mef_opts {
    struct mef_config cfg;
    const char *kpmid, *key_file, *identity, *id, *fqdn, *enrolee, *target, *client, *cls;
    const char *target_id, *subject_id, *uri, *object_path;
    long suid, subject_type, object_type;
    unsigned list_mask;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: m2msec mef <command> --data DIR [--config FILE] [options]\n"
            "  init [--fqdn F]                          store, MEF CA and server certificate\n"
            "  serve [--listen ADDR:PORT] [--set K=V]   run the MEF (prints READY mef=ADDR:PORT\n"
            "                                           coaps=ADDR:PORT; mef.coaps_listen=off)\n"
            "  add-kpm --kpmid ID --key-file F --identity ID2   bootstrap PSK (hex or raw file)\n"
            "  add-target --id TID --fqdn TFQDN         an Enrolment Target\n"
            "  allow --enrolee EID --target TID --suid N\n"
            "  cmd add --client CID --class CERT_PROV|DEV_CFG|MO_NODE [--target-id ID]\n"
            "          CERT_PROV: --subject-type 1|2|3 --subject-id ID [--uri U]\n"
            "          DEV_CFG: --uri DEVMGMTID:URI   MO_NODE: --object-path P --object-type N "
            "[--suid N]\n"
            "  list [--kpm] [--targets] [--enrolments] [--registrations] [--keys] [--commands]"
            " [--certs]\n"
            "  revoke ID                                a KpmID, KeID, MEFClientRegID, key ID, or"
            " the serial or SHA-256 fingerprint of a certificate the MEF issued\n");
}

static int die(const char *msg)
{
    fprintf(stderr, "m2msec mef: %s\n", msg);
    return 1;
}

static bool set_kv(struct mef_config *c, const char *k, const char *v)
{
    char err[256];
    if (mef_config_set(c, k, v, err, sizeof err) == M2M_OK)
        return true;
    fprintf(stderr, "m2msec mef: %s\n", err);
    return false;
}

static bool long_arg(const char *v, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return false;
    *out = x;
    return true;
}

static const struct option OPTS[] = {
    {"data", required_argument, NULL, 'd'},
    {"config", required_argument, NULL, 'c'},
    {"fqdn", required_argument, NULL, 'f'},
    {"listen", required_argument, NULL, 'l'},
    {"set", required_argument, NULL, 's'},
    {"kpmid", required_argument, NULL, 'k'},
    {"key-file", required_argument, NULL, 'K'},
    {"identity", required_argument, NULL, 'i'},
    {"id", required_argument, NULL, 'I'},
    {"enrolee", required_argument, NULL, 'e'},
    {"target", required_argument, NULL, 't'},
    {"suid", required_argument, NULL, 'u'},
    {"client", required_argument, NULL, 'C'},
    {"class", required_argument, NULL, 'L'},
    {"target-id", required_argument, NULL, 'T'},
    {"subject-type", required_argument, NULL, 'y'},
    {"subject-id", required_argument, NULL, 'j'},
    {"uri", required_argument, NULL, 'U'},
    {"object-path", required_argument, NULL, 'p'},
    {"object-type", required_argument, NULL, 'o'},
    {"kpm", no_argument, NULL, 1000},
    {"targets", no_argument, NULL, 1001},
    {"enrolments", no_argument, NULL, 1002},
    {"registrations", no_argument, NULL, 1003},
    {"keys", no_argument, NULL, 1004},
    {"commands", no_argument, NULL, 1005},
    {"certs", no_argument, NULL, 1006},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static bool opt_one(struct mef_opts *o, int c, const char *a)
{
    switch (c) {
    case 'd': return set_kv(&o->cfg, "data_dir", a);
    case 'c': return true; /* loaded first */
    case 'f': o->fqdn = a; return set_kv(&o->cfg, "mef.fqdn", a);
    case 'l': return set_kv(&o->cfg, "mef.listen", a);
    case 's': {
        char k[160];
        const char *eq = strchr(a, '=');
        if (eq == NULL || (size_t)(eq - a) >= sizeof k)
            return false;
        snprintf(k, sizeof k, "%.*s", (int)(eq - a), a);
        return set_kv(&o->cfg, k, eq + 1);
    }
    case 'k': o->kpmid = a; return true;
    case 'K': o->key_file = a; return true;
    case 'i': o->identity = a; return true;
    case 'I': o->id = a; return true;
    case 'e': o->enrolee = a; return true;
    case 't': o->target = a; return true;
    case 'u': return long_arg(a, 10, 45, &o->suid) && kdf_suid_valid((unsigned)o->suid);
    case 'C': o->client = a; return true;
    case 'L': o->cls = a; return true;
    case 'T': o->target_id = a; return true;
    case 'y': return long_arg(a, 1, 3, &o->subject_type);
    case 'j': o->subject_id = a; return true;
    case 'U': o->uri = a; return true;
    case 'p': o->object_path = a; return true;
    case 'o': return long_arg(a, 1, 3, &o->object_type);
    default:
        if (c >= 1000 && c <= 1006) {
            o->list_mask |= 1u << (c - 1000);
            return true;
        }
        return false;
    }
}

/* argv[first..]: the config file first, so that flags override it. */
static int parse_opts(int argc, char **argv, int first, struct mef_opts *o)
{
    char err[512];
    memset(o, 0, sizeof *o);
    mef_config_default(&o->cfg);
    for (int i = first; i + 1 < argc; i++)
        if (strcmp(argv[i], "--config") == 0 &&
            mef_config_load(&o->cfg, argv[i + 1], err, sizeof err) != M2M_OK) {
            fprintf(stderr, "m2msec mef: %s: %s\n", argv[i + 1], err);
            return 2;
        }
    optind = first;
    int c;
    while ((c = getopt_long(argc, argv, "h", OPTS, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return -1;
        }
        if (c == '?' || !opt_one(o, c, optarg)) {
            usage(stderr);
            return 2;
        }
    }
    m2m_log_set_level((enum m2m_log_level)o->cfg.log_level);
    return 0;
}

static int open_store(const struct mef_opts *o, struct mef_store **st)
{
    char path[600];
    snprintf(path, sizeof path, "%s/mef.db", o->cfg.data_dir);
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "m2msec mef: %s missing: run `m2msec mef init --data %s`\n", path,
                o->cfg.data_dir);
        return 1;
    }
    if (mef_store_open(path, st) != M2M_OK)
        return die("cannot open the MEF database");
    return 0;
}

static int do_init(struct mef_opts *o)
{
    char ca[700], cert[700], key[700], path[600];
    struct mef_store *st = NULL;
    if (mkdir(o->cfg.data_dir, 0700) != 0 && errno != EEXIST)
        return die("cannot create the data directory");
    if (pki_ensure_dev(o->cfg.data_dir, o->cfg.fqdn, ca, cert, key, sizeof ca) != M2M_OK)
        return die("cannot create the MEF CA and server certificate");
    snprintf(path, sizeof path, "%s/mef.db", o->cfg.data_dir);
    if (mef_store_open(path, &st) != M2M_OK)
        return die("cannot create the MEF database");
    mef_store_close(st);
    printf("MEF %s: store %s, CA %s, server certificate %s\n", o->cfg.fqdn, path, ca, cert);
    return 0;
}

static int do_serve(struct mef_opts *o)
{
    struct mef_server *m = NULL;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    m2m_rc rc = mef_server_start(&o->cfg, &m);
    if (rc == M2M_ERR_CONFIG)
        return die("not initialised (run `m2msec mef init`), bad trust anchors or no DTLS");
    if (rc != M2M_OK)
        return die("cannot start the MEF listeners (see the log above)");
    /* the CoAPS listener is omitted from the line when mef.coaps_listen is off */
    if (mef_server_coaps_port(m) >= 0)
        printf("READY mef=%s:%d coaps=%s:%d\n", o->cfg.listen_addr, mef_server_port(m),
               o->cfg.coaps_addr, mef_server_coaps_port(m));
    else
        printf("READY mef=%s:%d\n", o->cfg.listen_addr, mef_server_port(m));
    fflush(stdout);
    log_info("MEF %s ready", o->cfg.fqdn);
    int sig = 0;
    sigwait(&set, &sig);
    log_info("signal %d: stopping", sig);
    mef_server_stop(m);
    return 0;
}

/* A key file: hex text (whitespace allowed) or raw bytes; MEF_KEY_MIN..MEF_KEY_MAX bytes. */
static int read_key(const char *path, uint8_t *key, size_t *len)
{
    uint8_t raw[4 * MEF_KEY_MAX + 64];
    size_t n = 0, h = 0;
    bool hex = true;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return die("cannot read the key file");
    n = fread(raw, 1, sizeof raw, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    for (size_t i = 0; i < n && hex; i++)
        hex = strchr("0123456789abcdefABCDEF \t\r\n", raw[i]) != NULL && raw[i] != 0;
    if (hex) {
        for (size_t i = 0; i < n; i++) {
            if (strchr(" \t\r\n", raw[i]))
                continue;
            int v = raw[i] <= '9' ? raw[i] - '0' : (raw[i] | 0x20) - 'a' + 10;
            if (h / 2 >= MEF_KEY_MAX) {
                h = 2 * MEF_KEY_MAX + 2; /* too long */
                break;
            }
            key[h / 2] = (uint8_t)(h % 2 ? (key[h / 2] | v) : (v << 4));
            h++;
        }
        if (h % 2)
            h = 0;
        *len = h / 2;
    } else {
        *len = n <= MEF_KEY_MAX ? n : 0;
        if (*len)
            memcpy(key, raw, n);
    }
    m2m_wipe(raw, sizeof raw);
    if (more || *len < MEF_KEY_MIN || *len > MEF_KEY_MAX) {
        m2m_wipe(key, MEF_KEY_MAX);
        return die("the key must be 16..64 bytes (hex text or raw)");
    }
    return 0;
}

static int do_add_kpm(struct mef_opts *o, struct mef_store *st)
{
    uint8_t key[MEF_KEY_MAX];
    size_t len = 0;
    struct kdf_scoped_id sid;
    if (o->kpmid == NULL || o->key_file == NULL || o->identity == NULL)
        return die("add-kpm needs --kpmid, --key-file and --identity");
    /* TS-0003 8.3.2.1: KpmID is "relative@fqdn" like a KpsaID (10.5) */
    if (kdf_scoped_id_parse((const uint8_t *)o->kpmid, strlen(o->kpmid), &sid) != M2M_OK)
        return die("--kpmid must be <relative>@<fqdn>");
    if (!mef_id_valid(o->identity, strlen(o->identity)))
        return die("--identity must be printable ASCII without spaces");
    if (read_key(o->key_file, key, &len))
        return 1;
    m2m_rc rc = mef_store_kpm_add(st, o->kpmid, key, len, o->identity);
    m2m_wipe(key, sizeof key);
    if (rc == M2M_ERR_EXISTS)
        return die("that KpmID exists already");
    if (rc != M2M_OK)
        return die("cannot store the Kpm");
    printf("Kpm %s (%zu bytes) for %s, Credential-ID 10-%s\n", o->kpmid, len, o->identity,
           o->kpmid);
    return 0;
}

static int do_add_target(struct mef_opts *o, struct mef_store *st)
{
    if (o->id == NULL || o->fqdn == NULL || !mef_id_valid(o->id, strlen(o->id)))
        return die("add-target needs --id TID and --fqdn TFQDN");
    if (mef_store_target_add(st, o->id, o->fqdn) != M2M_OK)
        return die("cannot store the target");
    printf("target %s (%s)\n", o->id, o->fqdn);
    return 0;
}

static int do_allow(struct mef_opts *o, struct mef_store *st)
{
    if (o->enrolee == NULL || o->target == NULL || o->suid == 0 ||
        !mef_id_valid(o->enrolee, strlen(o->enrolee)))
        return die("allow needs --enrolee EID, --target TID and --suid N");
    m2m_rc rc = mef_store_allow(st, o->enrolee, o->target, (unsigned)o->suid);
    if (rc == M2M_ERR_NOT_FOUND)
        return die("unknown target (add-target first)");
    if (rc != M2M_OK && rc != M2M_ERR_EXISTS)
        return die("cannot store the rule");
    printf("%s may fetch keys of %s for SUID %ld\n", o->target, o->enrolee, o->suid);
    return 0;
}

static int do_cmd_add(struct mef_opts *o, struct mef_store *st)
{
    char uri[400], *desc = NULL;
    int64_t id = 0;
    struct mef_cmd_args a = {.target_id = o->target_id};
    if (o->client == NULL || o->cls == NULL || !mef_id_valid(o->client, strlen(o->client)))
        return die("cmd add needs --client CID and --class");
    if (o->cfg.listen_port)
        snprintf(uri, sizeof uri, "https://%s:%d/.well-known/est", o->cfg.fqdn, o->cfg.listen_port);
    else
        snprintf(uri, sizeof uri, "https://%s/.well-known/est", o->cfg.fqdn);
    if (strcmp(o->cls, "CERT_PROV") == 0) {
        a.cls = MEF_CMD_CERT_PROV;
        a.est_uri = o->uri ? o->uri : uri;
        a.subject_type = (int)o->subject_type;
        a.subject_id = o->subject_id;
    } else if (strcmp(o->cls, "DEV_CFG") == 0) {
        a.cls = MEF_CMD_DEV_CFG;
        a.dev_cfg_uri = o->uri;
    } else if (strcmp(o->cls, "MO_NODE") == 0) {
        a.cls = MEF_CMD_MO_NODE;
        a.object_path = o->object_path;
        a.object_type = (int)o->object_type;
        a.suid = (unsigned)o->suid;
    } else {
        return die("--class is CERT_PROV, DEV_CFG or MO_NODE");
    }
    if (mef_cmd_desc_build(&a, &desc) != M2M_OK)
        return die("missing or bad arguments for that class (see --help)");
    m2m_rc rc = mef_store_cmd_add(st, o->client, a.cls, desc, &id);
    free(desc);
    if (rc != M2M_OK)
        return die("cannot store the command");
    printf("command %lld queued for %s\n", (long long)id, o->client);
    return 0;
}

static int do_list(struct mef_opts *o, struct mef_store *st)
{
    static const char *const names[] = {"kpm",  "targets",  "enrolments", "registrations",
                                        "keys", "commands", "certs"};
    unsigned mask = o->list_mask ? o->list_mask : 0x7f;
    for (int i = 0; i < 7; i++) {
        if (!(mask & (1u << i)))
            continue;
        printf("# %s\n", names[i]);
        if (mef_store_list(st, (enum mef_list_what)i, stdout) != M2M_OK)
            return die("cannot list");
    }
    return 0;
}

static int do_revoke(struct mef_opts *o, struct mef_store *st, const char *what)
{
    if (what == NULL)
        return die("revoke needs an ID");
    m2m_rc rc = mef_store_revoke(st, what);
    if (rc == M2M_ERR_NOT_FOUND)
        return die("nothing of that name to revoke");
    if (rc != M2M_OK)
        return die("cannot revoke");
    printf("revoked %s\n", what);
    return 0;
}

/* The subcommands that work on an existing store. */
static int run_admin(const char *sub, struct mef_opts *o, const char *arg)
{
    struct mef_store *st = NULL;
    int r = open_store(o, &st);
    if (r)
        return r;
    if (strcmp(sub, "add-kpm") == 0)
        r = do_add_kpm(o, st);
    else if (strcmp(sub, "add-target") == 0)
        r = do_add_target(o, st);
    else if (strcmp(sub, "allow") == 0)
        r = do_allow(o, st);
    else if (strcmp(sub, "cmd") == 0)
        r = do_cmd_add(o, st);
    else if (strcmp(sub, "list") == 0)
        r = do_list(o, st);
    else
        r = do_revoke(o, st, arg);
    mef_store_close(st);
    return r;
}

int cmd_mef(int argc, char **argv)
{
    static const char *const subs[] = {"init",  "serve", "add-kpm", "add-target",
                                       "allow", "cmd",   "list",    "revoke"};
    struct mef_opts o;
    bool known = false;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    for (size_t i = 0; i < M2M_ARRAY_LEN(subs); i++)
        known = known || strcmp(sub, subs[i]) == 0;
    if (!known) {
        usage(strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0 ? stdout : stderr);
        return strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0 ? 0 : 2;
    }
    int first = 2;
    if (strcmp(sub, "cmd") == 0) {
        if (argc < 3 || strcmp(argv[2], "add") != 0) {
            usage(stderr);
            return 2;
        }
        first = 3;
    }
    int r = parse_opts(argc, argv, first, &o);
    if (r)
        return r < 0 ? 0 : r;
    const char *arg = optind < argc ? argv[optind] : NULL;
    if (arg != NULL && (strcmp(sub, "revoke") != 0 || optind + 1 < argc)) {
        fprintf(stderr, "m2msec mef: unexpected argument '%s'\n", arg);
        return 2;
    }
    if (strcmp(sub, "init") == 0)
        return do_init(&o);
    if (strcmp(sub, "serve") == 0)
        return do_serve(&o);
    return run_admin(sub, &o, arg);
}
