/* client_cmd.c: `m2msec client`, a scriptable front end of the device client library
 * (include/m2msec/client.h, include/m2msec/mef.h): options to a configuration, one verb per
 * oneM2M operation and per MEF procedure, the response body on stdout, the RSC on stderr, and
 * exit codes a script can branch on. Keys go to 0600 files, never to the terminal. */
#include "app/client_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rc.h"
#include "base/secret.h"
#include "base/timeutil.h"
#include "keys/keyfile.h"
#include "m2msec/client.h"
#include "m2msec/mef.h"

enum { EXIT_RSC_OK = 0, EXIT_RSC_ERR = 1, EXIT_USAGE = 2, EXIT_NET = 3 };

#define PSK_MAX 64
#define BODY_MAX (4u << 20)

static void client_usage(FILE *f)
{
    fprintf(
        f,
        "usage: m2msec client --url URL [credentials] [--from ORIGINATOR] VERB ARGS...\n"
        "\n"
        "  --url URL               http://, https://, coap:// or coaps://host[:port]\n"
        "  --from ORIGINATOR       X-M2M-Origin (for register-ae: the requested AE-ID stem)\n"
        "  --psk-identity ID       TLS-PSK identity (KpsaID), with --psk-hex or --psk-file\n"
        "  --psk-hex HEX           the pre-shared key in hex (visible to ps: prefer a file)\n"
        "  --psk-file F            a file holding the pre-shared key in hex\n"
        "  --cert F --key F        X.509 client certificate and its private key (PEM)\n"
        "  --rpk-key F             raw public key authentication with this private key\n"
        "  --ca F                  trust anchors for the server certificate (PEM)\n"
        "  --server-pin NI         ni:///sha-256;... of the server's public key\n"
        "  --servername NAME       name to check in the server certificate (and SNI)\n"
        "  --timeout-ms N          per-request timeout (default 30000)\n"
        "  --rvi V                 release version indicator (default 3)\n"
        "\n"
        "verbs (JSON arguments may be @FILE, or - for stdin):\n"
        "  register-ae APP_ID [NAME]        register an AE under /cse-in\n"
        "  create PARENT TY JSON            create a resource of type TY\n"
        "  retrieve PATH [QUERY]            e.g. retrieve /cse-in/ae1/cnt1/la\n"
        "  update PATH JSON\n"
        "  delete PATH\n"
        "  subscribe TARGET NU [NAME [NET,...]]  subscription with notification URI NU\n"
        "  rpk-id                           print the ni identifier of --rpk-key\n"
        "\n"
        "MEF verbs (--url https://MEF, --servername = MEF FQDN unless --mef-fqdn is given):\n"
        "  mef-enrol [--ke-out F | --derive-for TARGET_FQDN --suid N --key-out F]\n"
        "                                   enrolment (prints KeID, enrolee, expiry, targets)\n"
        "  mef-register --admin-fqdn A [--et TS] [--label L]...   prints the MEFClientRegID\n"
        "  mef-deregister REG_ID\n"
        "  mef-commands REG_ID --cert-out F --key-out F [--ca-out F] [--subject-types 1,2,3]\n"
        "               [--max N]           run the MEF Client Command loop (EST for CERT_PROV)\n"
        "  est-enroll --san URI --cert-out F --key-out F [--ca-out F] [--reenroll | "
        "--server-keygen]\n"
        "  fetch-credentials KEID SUID --key-out F   (Enrolment Target) key to a 0600 file\n"
        "\n"
        "exit codes: 0 RSC 2xxx / success, 1 other RSC / refused, 2 usage, 3 connection/TLS/\n"
        "protocol failure, 4 local file failure\n");
}

/* A JSON argument: literal text, @FILE or - (stdin). Caller frees. */
static char *load_arg(const char *a)
{
    if (strcmp(a, "-") != 0 && a[0] != '@')
        return strdup(a);
    FILE *f = strcmp(a, "-") == 0 ? stdin : fopen(a + 1, "r");
    if (f == NULL)
        return NULL;
    char *buf = malloc(BODY_MAX + 1);
    size_t n = buf ? fread(buf, 1, BODY_MAX + 1, f) : 0;
    if (f != stdin)
        fclose(f);
    if (buf == NULL || n > BODY_MAX) {
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

struct cli {
    struct m2msec_client_cfg cfg;
    uint8_t psk[PSK_MAX];
    size_t psk_len;
    bool have_psk;
};

/* Parses the options before the verb; returns 0, or an exit code. */
static int parse_opts(int argc, char **argv, struct cli *cl)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},
        {"from", required_argument, NULL, 'f'},
        {"psk-identity", required_argument, NULL, 'i'},
        {"psk-hex", required_argument, NULL, 'x'},
        {"psk-file", required_argument, NULL, 'P'},
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"rpk-key", required_argument, NULL, 'r'},
        {"ca", required_argument, NULL, 'a'},
        {"server-pin", required_argument, NULL, 'p'},
        {"servername", required_argument, NULL, 'n'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"rvi", required_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct m2msec_client_cfg *c = &cl->cfg;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (o) {
        case 'u': c->url = optarg; break;
        case 'f': c->originator = optarg; break;
        case 'i': c->psk_identity = optarg; break;
        case 'x':
            if (keyfile_parse((const uint8_t *)optarg, strlen(optarg), &KEYFILE_RULE_CLIENT,
                              cl->psk, sizeof cl->psk, &cl->psk_len) != M2M_OK) {
                fprintf(stderr, "m2msec client: --psk-hex takes 1 to 64 bytes in hex\n");
                return EXIT_USAGE;
            }
            m2m_wipe(optarg, strlen(optarg)); /* out of /proc/PID/cmdline from now on */
            cl->have_psk = true;
            break;
        case 'P':
            if (keyfile_read(optarg, &KEYFILE_RULE_CLIENT, cl->psk, sizeof cl->psk, &cl->psk_len) !=
                M2M_OK) {
                fprintf(stderr, "m2msec client: %s: no readable key (1 to 64 bytes in hex)\n",
                        optarg);
                return EXIT_USAGE;
            }
            cl->have_psk = true;
            break;
        case 'c': c->cert_file = optarg; break;
        case 'k': c->key_file = optarg; break;
        case 'r':
            c->key_file = optarg;
            c->cred = M2MSEC_CRED_RPK;
            break;
        case 'a': c->ca_file = optarg; break;
        case 'p': c->server_pin = optarg; break;
        case 'n': c->server_name = optarg; break;
        case 't': c->timeout_ms = atoi(optarg); break;
        case 'v': c->rvi = optarg; break;
        case 'h': client_usage(stdout); return -1;
        default: client_usage(stderr); return EXIT_USAGE;
        }
    }
    return 0;
}

/* Chooses the credential kind from the options given; exactly one kind may be given. */
static int pick_cred(struct cli *cl)
{
    struct m2msec_client_cfg *c = &cl->cfg;
    int kinds =
        (cl->have_psk || c->psk_identity) + (c->cert_file != NULL) + (c->cred == M2MSEC_CRED_RPK);
    if (kinds > 1) {
        fprintf(stderr, "m2msec client: give one of PSK, --cert/--key or --rpk-key\n");
        return EXIT_USAGE;
    }
    if (cl->have_psk || c->psk_identity) {
        if (!cl->have_psk || !c->psk_identity) {
            fprintf(stderr, "m2msec client: PSK needs --psk-identity and --psk-hex/--psk-file\n");
            return EXIT_USAGE;
        }
        c->cred = M2MSEC_CRED_PSK;
        c->psk_key = cl->psk;
        c->psk_key_len = cl->psk_len;
    } else if (c->cert_file) {
        c->cred = M2MSEC_CRED_CERT;
    } else if (c->key_file && c->cred != M2MSEC_CRED_RPK) {
        fprintf(stderr, "m2msec client: --key needs --cert\n");
        return EXIT_USAGE;
    }
    return 0;
}

static int net_exit(struct m2msec_client *c, int rc)
{
    fprintf(stderr, "m2msec client: %s: %s\n", m2msec_result_str(rc), m2msec_client_errmsg(c));
    return rc == M2MSEC_ERR_USAGE ? EXIT_USAGE : EXIT_NET;
}

/* Prints the response; the exit code follows the RSC (HTTP/CoAP class when no RSC came). */
static int report(const struct m2msec_response *r, const char *aei)
{
    fwrite(r->body, 1, r->body_len, stdout);
    if (r->body_len > 0 && r->body[r->body_len - 1] != '\n')
        fputc('\n', stdout);
    fflush(stdout);
    fprintf(stderr, "RSC %d %s (status %d)%s%s\n", r->rsc, m2m_rsc_name((m2m_rsc)r->rsc), r->status,
            aei ? " aei=" : "", aei ? aei : "");
    bool ok = r->rsc ? r->rsc >= 2000 && r->rsc < 3000 : r->status >= 200 && r->status < 300;
    return ok ? EXIT_RSC_OK : EXIT_RSC_ERR;
}

static int parse_nets(const char *s, int *net, size_t *n)
{
    char *end;
    *n = 0;
    for (const char *p = s; *p; p = *end ? end + 1 : end) {
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || v < 1 || v > 99 || *n == 16)
            return -1;
        net[(*n)++] = (int)v;
    }
    return *n ? 0 : -1;
}

/* Runs verb argv[0] with its arguments; returns the exit code. */
static int run_verb(struct m2msec_client *c, const char *from, int argc, char **argv)
{
    const char *v = argv[0];
    struct m2msec_response *r = NULL;
    char *body = NULL, *aei = NULL;
    int rc, code;
    if (strcmp(v, "register-ae") == 0 && (argc == 2 || argc == 3)) {
        rc = m2msec_register_ae(c, NULL, argv[1], argc == 3 ? argv[2] : NULL, from ? from : "C",
                                &aei, &r);
        if (rc == M2MSEC_ERR_RSC && r != NULL)
            rc = M2MSEC_OK;
    } else if (strcmp(v, "retrieve") == 0 && (argc == 2 || argc == 3)) {
        rc = m2msec_retrieve(c, argv[1], argc == 3 ? argv[2] : NULL, &r);
    } else if (strcmp(v, "delete") == 0 && argc == 2) {
        rc = m2msec_delete(c, argv[1], &r);
    } else if ((strcmp(v, "create") == 0 && argc == 4) || (strcmp(v, "update") == 0 && argc == 3)) {
        char *end;
        long ty = v[0] == 'c' ? strtol(argv[2], &end, 10) : 0;
        if (v[0] == 'c' && (*end || ty < 1 || ty > 65535)) {
            fprintf(stderr, "m2msec client: create: TY must be a resource type number\n");
            return EXIT_USAGE;
        }
        if ((body = load_arg(argv[argc - 1])) == NULL) {
            fprintf(stderr, "m2msec client: cannot read %s\n", argv[argc - 1]);
            return EXIT_USAGE;
        }
        rc = v[0] == 'c' ? m2msec_create(c, argv[1], (int)ty, body, &r)
                         : m2msec_update(c, argv[1], body, &r);
    } else if (strcmp(v, "subscribe") == 0 && argc >= 3 && argc <= 5) {
        int net[16];
        size_t n_net = 0;
        if (argc == 5 && parse_nets(argv[4], net, &n_net) != 0) {
            fprintf(stderr, "m2msec client: subscribe: NET is a comma-separated list of 1..99\n");
            return EXIT_USAGE;
        }
        rc = m2msec_subscribe(c, argv[1], argc >= 4 ? argv[3] : NULL, argv[2], net, n_net, &r);
    } else {
        fprintf(stderr, "m2msec client: unknown verb or wrong arguments: %s\n", v);
        client_usage(stderr);
        return EXIT_USAGE;
    }
    code = rc == M2MSEC_OK ? report(r, aei) : net_exit(c, rc);
    free(body);
    free(aei);
    m2msec_response_free(r);
    return code;
}

static int rpk_id(const struct cli *cl)
{
    char *ni = NULL;
    if (cl->cfg.cred != M2MSEC_CRED_RPK) {
        fprintf(stderr, "m2msec client: rpk-id needs --rpk-key F\n");
        return EXIT_USAGE;
    }
    int rc = m2msec_rpk_id(cl->cfg.key_file, &ni);
    if (rc != M2MSEC_OK) {
        fprintf(stderr, "m2msec client: %s: %s\n", cl->cfg.key_file, m2msec_result_str(rc));
        return EXIT_USAGE;
    }
    printf("%s\n", ni);
    free(ni);
    return 0;
}

/* ---- MEF verbs (include/m2msec/mef.h) ---- */

enum { EXIT_FILE = 4 };

struct mef_opts {
    const char *mef_fqdn, *admin_fqdn, *et, *ke_out, *derive_for, *key_out, *cert_out, *ca_out,
        *san;
    const char *labels[256];
    size_t n_labels;
    int suid, max;
    unsigned subject_types;
    bool reenroll;
    bool server_keygen; /* est-enroll: RFC 7030 4.4 /serverkeygen */
};

static bool is_mef_verb(const char *v)
{
    static const char *const verbs[] = {"mef-enrol",    "mef-register", "mef-deregister",
                                        "mef-commands", "est-enroll",   "fetch-credentials"};
    for (size_t i = 0; i < M2M_ARRAY_LEN(verbs); i++)
        if (strcmp(v, verbs[i]) == 0)
            return true;
    return false;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* "1,2,3" -> bits 1 << type. */
static int parse_types(const char *s, unsigned *out)
{
    int nets[16];
    size_t n = 0;
    *out = 0;
    if (parse_nets(s, nets, &n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (nets[i] < 1 || nets[i] > 3)
            return -1;
        *out |= 1u << nets[i];
    }
    return 0;
}

/* Verb options after the verb; positional arguments stay in argv[optind..). */
static int parse_mef_opts(int argc, char **argv, struct mef_opts *m)
{
    /* clang-format off */
    static const struct option opts[] = {
        {"mef-fqdn", required_argument, NULL, 'm'},
        {"admin-fqdn", required_argument, NULL, 'A'},
        {"et", required_argument, NULL, 'e'},
        {"label", required_argument, NULL, 'l'},
        {"ke-out", required_argument, NULL, 'K'},
        {"derive-for", required_argument, NULL, 'd'},
        {"suid", required_argument, NULL, 's'},
        {"key-out", required_argument, NULL, 'k'},
        {"cert-out", required_argument, NULL, 'c'},
        {"ca-out", required_argument, NULL, 'a'},
        {"san", required_argument, NULL, 'S'},
        {"reenroll", no_argument, NULL, 'R'},
        {"server-keygen", no_argument, NULL, 'G'},
        {"subject-types", required_argument, NULL, 't'},
        {"max", required_argument, NULL, 'M'},
        {NULL, 0, NULL, 0},
    };
    /* clang-format on */
    int o;
    optind = 0; /* glibc: 0 re-initialises getopt fully after the earlier "+h" scan */
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'm': m->mef_fqdn = optarg; break;
        case 'A': m->admin_fqdn = optarg; break;
        case 'e': m->et = optarg; break;
        case 'l':
            if (m->n_labels == M2M_ARRAY_LEN(m->labels))
                return -1;
            m->labels[m->n_labels++] = optarg;
            break;
        case 'K': m->ke_out = optarg; break;
        case 'd': m->derive_for = optarg; break;
        case 's':
            if (parse_int(optarg, 1, 999, &m->suid) != 0)
                return -1;
            break;
        case 'k': m->key_out = optarg; break;
        case 'c': m->cert_out = optarg; break;
        case 'a': m->ca_out = optarg; break;
        case 'S': m->san = optarg; break;
        case 'R': m->reenroll = true; break;
        case 'G': m->server_keygen = true; break;
        case 't':
            if (parse_types(optarg, &m->subject_types) != 0)
                return -1;
            break;
        case 'M':
            if (parse_int(optarg, 1, 1000, &m->max) != 0)
                return -1;
            break;
        default: return -1;
        }
    }
    return 0;
}

/* One line on stderr for a failed MEF operation; the exit code by result. */
static int mef_fail(struct m2msec_client *c, const char *verb, int rc)
{
    fprintf(stderr, "m2msec client %s: %s: %s\n", verb,
            rc == M2MSEC_ERR_RSC ? "refused" : m2msec_result_str(rc), m2msec_client_errmsg(c));
    switch (rc) {
    case M2MSEC_ERR_RSC: return EXIT_RSC_ERR;
    case M2MSEC_ERR_USAGE: return EXIT_USAGE;
    case M2MSEC_ERR_FILE: return EXIT_FILE;
    default: return EXIT_NET;
    }
}

static int mef_usage(const char *verb, const char *what)
{
    fprintf(stderr, "m2msec client %s: %s (see m2msec client --help)\n", verb, what);
    return EXIT_USAGE;
}

static void print_time(const char *name, int64_t s)
{
    char ts[24];
    m2m_ts_format(s * 1000000, ts);
    ts[15] = 0; /* basic format without the fraction */
    printf("%s %s\n", name, ts);
}

static int do_enrol(struct m2msec_client *c, const struct mef_opts *m)
{
    struct m2msec_enrolment e;
    uint8_t key[M2MSEC_KEY_LEN];
    int rsc = 0, code = EXIT_RSC_OK;
    if ((m->derive_for != NULL) != (m->suid > 0) || (m->derive_for && !m->key_out) ||
        (m->key_out && !m->derive_for) || (m->ke_out && m->derive_for))
        return mef_usage("mef-enrol",
                         "--derive-for, --suid and --key-out go together; or --ke-out");
    int rc = m2msec_mef_enrol(c, m->mef_fqdn, &e, &rsc);
    if (rc != M2MSEC_OK)
        return mef_fail(c, "mef-enrol", rc);
    printf("KeID %s\nenrolee %s\n", e.keid, e.enrolee_id);
    print_time("expires", e.expires_s);
    for (int i = 0; i < e.n_targets; i++)
        printf("target %s %s %d\n", e.targets[i].target_id, e.targets[i].fqdn, e.targets[i].suid);
    const char *file = m->ke_out;
    if (m->ke_out && m2msec_key_file_write(m->ke_out, e.ke, sizeof e.ke) != M2MSEC_OK)
        code = EXIT_FILE;
    if (m->derive_for) {
        file = m->key_out;
        rc = m2msec_mef_derive_key(&e, m->suid, m->derive_for, key);
        if (rc != M2MSEC_OK)
            code = mef_usage("mef-enrol", "cannot derive a key for that target FQDN and SUID");
        else if (m2msec_key_file_write(m->key_out, key, sizeof key) != M2MSEC_OK)
            code = EXIT_FILE;
    }
    if (code == EXIT_FILE)
        fprintf(stderr, "m2msec client mef-enrol: cannot write %s\n", file);
    fflush(stdout);
    m2m_wipe(key, sizeof key);
    m2msec_enrolment_wipe(&e);
    return code;
}

static int do_register(struct m2msec_client *c, const struct mef_opts *m)
{
    char *id = NULL;
    int rsc = 0;
    if (m->admin_fqdn == NULL)
        return mef_usage("mef-register", "--admin-fqdn is required");
    int rc = m2msec_mef_register(c, m->mef_fqdn, m->admin_fqdn, m->et, m->labels, m->n_labels, &id,
                                 &rsc);
    if (rc != M2MSEC_OK)
        return mef_fail(c, "mef-register", rc);
    printf("%s\n", id);
    free(id);
    return EXIT_RSC_OK;
}

static int do_commands(struct m2msec_client *c, const struct mef_opts *m, const char *reg_id)
{
    struct m2msec_mef_cmd_env env = {.mef_fqdn = m->mef_fqdn,
                                     .cert_out = m->cert_out,
                                     .key_out = m->key_out,
                                     .ca_out = m->ca_out,
                                     .subject_types = m->subject_types,
                                     .max_commands = m->max};
    struct m2msec_mef_cmd_report rep;
    int rc = m2msec_mef_process_commands(c, reg_id, &env, &rep);
    if (rc != M2MSEC_OK)
        return mef_fail(c, "mef-commands", rc);
    printf("processed %d\nlast-status %d\n", rep.n_processed, rep.last_status);
    if (rep.retry_duration[0])
        printf("retry %s\n", rep.retry_duration);
    if (rep.cert_subject[0])
        printf("certificate %s\n", rep.cert_subject);
    /* A command executed without success is a failure for a script. */
    if (rep.n_processed > 0 && rep.last_status != 20) {
        fprintf(stderr, "m2msec client mef-commands: the last command ended with status %d\n",
                rep.last_status);
        return EXIT_RSC_ERR;
    }
    return EXIT_RSC_OK;
}

static int do_fetch(struct m2msec_client *c, const struct mef_opts *m, const char *keid,
                    const char *suid_s)
{
    uint8_t key[64];
    size_t key_len = sizeof key;
    char enrolee[256];
    int64_t lifetime = 0;
    int suid = 0, rsc = 0;
    if (parse_int(suid_s, 1, 999, &suid) != 0 || m->key_out == NULL)
        return mef_usage("fetch-credentials", "KEID SUID --key-out F");
    int rc = m2msec_mef_fetch_credentials(c, keid, suid, key, &key_len, enrolee, sizeof enrolee,
                                          &lifetime, &rsc);
    if (rc != M2MSEC_OK)
        return mef_fail(c, "fetch-credentials", rc);
    int code = EXIT_RSC_OK;
    if (m2msec_key_file_write(m->key_out, key, key_len) != M2MSEC_OK) {
        fprintf(stderr, "m2msec client fetch-credentials: cannot write %s\n", m->key_out);
        code = EXIT_FILE;
    }
    m2m_wipe(key, sizeof key);
    printf("enrolee %s\nlifetime %lld\n", enrolee, (long long)lifetime);
    return code;
}

/* The MEF verbs: argv[0] is the verb. */
static int run_mef_verb(struct m2msec_client *c, const char *server_name, int argc, char **argv)
{
    struct mef_opts m = {0};
    const char *v = argv[0];
    int rsc = 0;
    if (parse_mef_opts(argc, argv, &m) != 0)
        return mef_usage(v, "invalid option or value");
    if (m.mef_fqdn == NULL)
        m.mef_fqdn = server_name;
    char **pos = argv + optind;
    int npos = argc - optind;
    bool needs_fqdn = strcmp(v, "mef-enrol") == 0 || strcmp(v, "mef-register") == 0 ||
                      strcmp(v, "mef-commands") == 0;
    if (needs_fqdn && m.mef_fqdn == NULL)
        return mef_usage(v, "the MEF FQDN is needed: --servername or --mef-fqdn");
    if (strcmp(v, "mef-enrol") == 0 && npos == 0)
        return do_enrol(c, &m);
    if (strcmp(v, "mef-register") == 0 && npos == 0)
        return do_register(c, &m);
    if (strcmp(v, "mef-deregister") == 0 && npos == 1) {
        int rc = m2msec_mef_deregister(c, pos[0], &rsc);
        return rc == M2MSEC_OK ? EXIT_RSC_OK : mef_fail(c, v, rc);
    }
    if (strcmp(v, "mef-commands") == 0 && npos == 1)
        return do_commands(c, &m, pos[0]);
    if (strcmp(v, "est-enroll") == 0 && npos == 0) {
        int http = 0;
        if (!m.san || !m.cert_out || !m.key_out)
            return mef_usage(v, "--san, --cert-out and --key-out are required");
        if (m.reenroll && m.server_keygen)
            return mef_usage(v, "--reenroll and --server-keygen exclude each other");
        int rc =
            m.server_keygen
                ? m2msec_est_serverkeygen(c, m.san, m.key_out, m.cert_out, m.ca_out, &http)
                : m2msec_est_enroll(c, m.san, m.reenroll, m.key_out, m.cert_out, m.ca_out, &http);
        if (rc != M2MSEC_OK)
            return mef_fail(c, v, rc);
        printf("certificate %s\n", m.san);
        return EXIT_RSC_OK;
    }
    if (strcmp(v, "fetch-credentials") == 0 && npos == 2)
        return do_fetch(c, &m, pos[0], pos[1]);
    return mef_usage(v, "wrong arguments");
}

int cmd_client(int argc, char **argv)
{
    struct cli cl = {0};
    struct m2msec_client *c = NULL;
    char err[320];
    int code;
    m2msec_client_cfg_init(&cl.cfg);
    signal(SIGPIPE, SIG_IGN);
    if ((code = parse_opts(argc, argv, &cl)) != 0 || (code = pick_cred(&cl)) != 0)
        goto out;
    if (optind >= argc) {
        client_usage(stderr);
        code = EXIT_USAGE;
        goto out;
    }
    if (strcmp(argv[optind], "rpk-id") == 0) {
        code = rpk_id(&cl);
        goto out;
    }
    if (cl.cfg.url == NULL) {
        fprintf(stderr, "m2msec client: --url is required\n");
        code = EXIT_USAGE;
        goto out;
    }
    /* register-ae sends its own originator (the requested stem); others send --from. */
    const char *from = cl.cfg.originator;
    int rc = m2msec_client_new(&cl.cfg, &c, err, sizeof err);
    if (rc != M2MSEC_OK) {
        fprintf(stderr, "m2msec client: %s\n", err);
        code = rc == M2MSEC_ERR_NOMEM ? EXIT_NET : EXIT_USAGE;
        goto out;
    }
    if (is_mef_verb(argv[optind]))
        code = run_mef_verb(c, cl.cfg.server_name, argc - optind, argv + optind);
    else
        code = run_verb(c, from, argc - optind, argv + optind);
out:
    m2msec_client_free(c);
    m2m_wipe(cl.psk, sizeof cl.psk);
    return code < 0 ? 0 : code;
}
