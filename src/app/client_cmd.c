/* client_cmd.c: `m2msec client`, a scriptable front end of the device client library
 * (include/m2msec/client.h): options to a configuration, one verb per oneM2M operation, the
 * response body on stdout, the RSC on stderr, and exit codes a script can branch on. */
#include "app/client_cmd.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rc.h"
#include "base/secret.h"
#include "m2msec/client.h"

enum { EXIT_RSC_OK = 0, EXIT_RSC_ERR = 1, EXIT_USAGE = 2, EXIT_NET = 3 };

#define PSK_MAX 64
#define BODY_MAX (4u << 20)

static void client_usage(FILE *f)
{
    fprintf(f,
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
            "exit codes: 0 RSC 2xxx, 1 other RSC, 2 usage, 3 connection/TLS/protocol failure\n");
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Strict hex (surrounding whitespace ignored) into key[PSK_MAX]; -1 when invalid. */
static int parse_hex(const char *s, uint8_t *key, size_t *len)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0 || n % 2 != 0 || n / 2 > PSK_MAX)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        key[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return 0;
}

static int read_psk_file(const char *path, uint8_t *key, size_t *len)
{
    char buf[4 * PSK_MAX];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    int r = n == sizeof buf - 1 ? -1 : parse_hex(buf, key, len);
    m2m_wipe(buf, sizeof buf);
    return r;
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
            if (parse_hex(optarg, cl->psk, &cl->psk_len) != 0) {
                fprintf(stderr, "m2msec client: --psk-hex takes 1 to 64 bytes in hex\n");
                return EXIT_USAGE;
            }
            m2m_wipe(optarg, strlen(optarg)); /* out of /proc/PID/cmdline from now on */
            cl->have_psk = true;
            break;
        case 'P':
            if (read_psk_file(optarg, cl->psk, &cl->psk_len) != 0) {
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
    code = run_verb(c, from, argc - optind, argv + optind);
out:
    m2msec_client_free(c);
    m2m_wipe(cl.psk, sizeof cl.psk);
    return code < 0 ? 0 : code;
}
