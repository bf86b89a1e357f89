/* main.c: the m2msec command: `m2msec cse` runs the CSE, `m2msec pki issue` issues development
 * certificates, `m2msec version`. A thin layer over src/cse, src/net and src/tls. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app/commands.h"
#include "app/et_glue.h"
#include "app/mef_cmd.h"
#include "base/log.h"
#include "bind/coap/coap_server.h"
#ifdef M2M_HAVE_CLIENT
#include "app/acp_cmd.h"
#include "app/client_cmd.h"
#endif
#include "cse/config.h"
#include "cse/cse.h"
#include "keys/credstore.h"
#include "net/server.h"
#include "tls/pki.h"

#define M2MSEC_VERSION "0.1.0"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: m2msec <command> [options]\n"
            "\n"
            "commands:\n"
            "  cse        run the Common Services Entity in the foreground\n"
            "  pki issue  issue a client certificate from the development CA\n"
            "  cred       credentials: add-psk, add-rpk, add-node, list, revoke (cred --help)\n"
            "  client     device client: register an AE, CRUD, subscribe (client --help)\n"
            "  acp explain  why an originator is granted or denied an operation (acp --help)\n"
            "  mef        the M2M Enrolment Function: init, serve, administration (mef --help)\n"
            "  version    print the version\n"
            "\n"
            "m2msec cse options (flags override the config file; docs/CONFIG.md lists all keys):\n"
            "  --config FILE            configuration file\n"
            "  --data-dir DIR           database and dev PKI directory (default ./var)\n"
            "  --http ADDR:PORT|off     HTTP listener (default 127.0.0.1:8080)\n"
            "  --https ADDR:PORT|off    HTTPS listener (default 127.0.0.1:8443)\n"
            "  --coap ADDR:PORT|off     CoAP listener, UDP (default 127.0.0.1:5683)\n"
            "  --coaps ADDR:PORT|off    CoAP over DTLS listener (default 127.0.0.1:5684)\n"
            "  --cse-id ID              SP-relative CSE-ID (default /id-in)\n"
            "  --cse-name NAME          CSEBase resourceName (default cse-in)\n"
            "  --sp-id FQDN             M2M-SP-ID (default m2msec.example.com)\n"
            "  --admin ORIGINATOR       admin originator (default CAdmin)\n"
            "  --log-level LEVEL        debug|info|warn|error (default info)\n"
            "  --threads N              event-loop threads (default: cores)\n"
            "  --max-body BYTES         request body limit (default 1M)\n"
            "  --max-connections N      connection limit (default 1024)\n"
            "  --idle-timeout-ms N      keep-alive idle timeout (default 60000)\n"
            "  --read-timeout-ms N      time to receive a whole request (default 10000)\n"
            "  --set KEY=VALUE          any configuration key\n"
            "\n"
            "m2msec pki issue --data-dir DIR --uri URI [--cn CN] [--days N] --out-cert F "
            "--out-key F\n"
            "                 [--flavour cse|ae|node|device]  (SAN URI //sp/csi, //sp/csi/C.., "
            "urn:..)\n");
}

static int set_or_die(struct cse_config *c, const char *k, const char *v)
{
    char err[256];
    if (cse_config_set(c, k, v, err, sizeof err) != M2M_OK) {
        fprintf(stderr, "m2msec: %s\n", err);
        return -1;
    }
    return 0;
}

/* Starts the CoAP/CoAPS listeners (TS-0008) on the same pipeline as HTTP. When HTTPS is off the
 * credential database is opened here for CoAPS (*creds, closed by the caller). */
static int start_coap(const struct cse_config *cfg, struct cse *cse, struct credstore **creds,
                      struct coap_server **out)
{
    struct coap_server_cfg cc;
    coap_server_cfg_default(&cc);
    if (cfg->coap_port < 0 && cfg->coaps_port < 0)
        return 0;
    snprintf(cc.addr, sizeof cc.addr, "%s", cfg->coap_addr);
    snprintf(cc.saddr, sizeof cc.saddr, "%s", cfg->coaps_addr);
    cc.port = cfg->coap_port;
    cc.sport = cfg->coaps_port;
    cc.trusted = cfg->coap_trusted;
    cc.strusted = cfg->coaps_trusted;
    cc.max_body = cfg->srv.http.max_body;
    cc.max_sessions = cfg->srv.max_connections;
    cc.max_sessions_per_ip = cfg->srv.max_connections_per_ip;
    cc.response_options = cfg->coap_response_options;
    snprintf(cc.cert_file, sizeof cc.cert_file, "%s", cfg->srv.tls.cert_file);
    snprintf(cc.key_file, sizeof cc.key_file, "%s", cfg->srv.tls.key_file);
    snprintf(cc.ca_file, sizeof cc.ca_file, "%s", cfg->srv.tls.ca_file);
    if (cfg->coaps_port >= 0 && cfg->tls_psk && *creds == NULL) {
        char path[600];
        if (cfg->cred_path[0])
            snprintf(path, sizeof path, "%s", cfg->cred_path);
        else
            snprintf(path, sizeof path, "%s/credentials.db", cfg->data_dir);
        if (credstore_open(path, creds) != M2M_OK) {
            fprintf(stderr, "m2msec: cannot open the credential database %s\n", path);
            return 1;
        }
    }
    /* The same hooks as HTTPS: the credential database, composed with the MEF key cache when
     * the CSE is an Enrolment Target (et_glue_start replaced them). */
    if (cfg->srv.tls.creds.psk_lookup != NULL)
        cc.hooks = cfg->srv.tls.creds;
    else if (*creds != NULL)
        credstore_tls_hooks(*creds, &cc.hooks);
    if (coap_server_start(&cc, cse_submit, cse, out) != M2M_OK) {
        fprintf(stderr, "m2msec: cannot start the CoAP listeners (see the log above)\n");
        return 1;
    }
    return 0;
}

static int cmd_cse(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"data-dir", required_argument, NULL, 'd'},
        {"http", required_argument, NULL, 1},
        {"https", required_argument, NULL, 2},
        {"cse-id", required_argument, NULL, 3},
        {"cse-name", required_argument, NULL, 4},
        {"sp-id", required_argument, NULL, 5},
        {"admin", required_argument, NULL, 6},
        {"log-level", required_argument, NULL, 7},
        {"threads", required_argument, NULL, 8},
        {"max-body", required_argument, NULL, 9},
        {"max-connections", required_argument, NULL, 10},
        {"idle-timeout-ms", required_argument, NULL, 11},
        {"read-timeout-ms", required_argument, NULL, 12},
        {"set", required_argument, NULL, 13},
        {"coap", required_argument, NULL, 14},
        {"coaps", required_argument, NULL, 15},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char *keys[] = {NULL,
                                 "http.listen",
                                 "https.listen",
                                 "cse.id",
                                 "cse.name",
                                 "cse.sp_id",
                                 "cse.admin",
                                 "log.level",
                                 "net.threads",
                                 "limits.max_body",
                                 "limits.max_connections",
                                 "limits.idle_timeout_ms",
                                 "limits.read_timeout_ms"};
    struct cse_config cfg;
    cse_config_default(&cfg);
    char err[512];
    /* first pass: the config file, so that flags override it */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            if (cse_config_load(&cfg, argv[i + 1], err, sizeof err) != M2M_OK) {
                fprintf(stderr, "m2msec: %s: %s\n", argv[i + 1], err);
                return 2;
            }
        }
    optind = 1;
    int o;
    while ((o = getopt_long(argc, argv, "c:d:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': break;
        case 'd':
            if (set_or_die(&cfg, "data_dir", optarg))
                return 2;
            break;
        case 13: {
            char *eq = strchr(optarg, '=');
            if (eq == NULL) {
                fprintf(stderr, "m2msec: --set takes KEY=VALUE\n");
                return 2;
            }
            *eq = 0;
            if (set_or_die(&cfg, optarg, eq + 1))
                return 2;
            break;
        }
        case 'h': usage(stdout); return 0;
        default:
            if (o >= 1 && o <= 12) {
                if (set_or_die(&cfg, keys[o], optarg))
                    return 2;
                break;
            }
            if (o == 14 || o == 15) {
                if (set_or_die(&cfg, o == 14 ? "coap.listen" : "coaps.listen", optarg))
                    return 2;
                break;
            }
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "m2msec: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (cse_config_finish(&cfg, err, sizeof err) != M2M_OK) {
        fprintf(stderr, "m2msec: %s\n", err);
        return 2;
    }
    m2m_log_set_level((enum m2m_log_level)cfg.log_level);
    if (mkdir(cfg.data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "m2msec: cannot create %s: %s\n", cfg.data_dir, strerror(errno));
        return 1;
    }
    if ((cfg.https_port >= 0 || cfg.coaps_port >= 0) && cfg.srv.tls.cert_file[0] == 0) {
        char dir[600], ca[512], cert[512], key[512];
        snprintf(dir, sizeof dir, "%s/pki", cfg.data_dir);
        if (pki_ensure_dev(dir, NULL, ca, cert, key, sizeof ca) != M2M_OK) {
            fprintf(stderr, "m2msec: cannot create the development PKI in %s\n", dir);
            return 1;
        }
        snprintf(cfg.srv.tls.cert_file, sizeof cfg.srv.tls.cert_file, "%s", cert);
        snprintf(cfg.srv.tls.key_file, sizeof cfg.srv.tls.key_file, "%s", key);
        if (cfg.srv.tls.ca_file[0] == 0)
            snprintf(cfg.srv.tls.ca_file, sizeof cfg.srv.tls.ca_file, "%s", ca);
        printf("dev CA: %s\nserver certificate: %s\n", ca, cert);
    }
    /* Signals are taken synchronously by this thread; every other thread blocks them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct cse *cse = NULL;
    if (cse_open(&cfg, &cse) != M2M_OK) {
        fprintf(stderr, "m2msec: cannot open the CSE (see the log above)\n");
        return 1;
    }
    struct credstore *creds = NULL;
    if (cred_open_for_cse(&cfg, &creds)) {
        cse_close(cse);
        return 1;
    }
    /* TS-0003 8.3.2.1 (G5): KeIDs unknown to the database are fetched from the MEF */
    struct et_glue *et = NULL;
    if (et_glue_start(&cfg, cse, &et, err, sizeof err) != M2M_OK) {
        fprintf(stderr, "m2msec: %s\n", err);
        cse_close(cse);
        credstore_close(creds);
        return 1;
    }
    struct srv *srv = NULL;
    if (srv_start(&cfg.srv, cse_handle, cse, &srv) != M2M_OK) {
        fprintf(stderr, "m2msec: cannot start the listeners (see the log above)\n");
        et_glue_free(et);
        cse_close(cse);
        credstore_close(creds);
        return 1;
    }
    struct coap_server *coap = NULL;
    if (start_coap(&cfg, cse, &creds, &coap)) {
        et_glue_shutdown(et);
        srv_stop(srv);
        et_glue_free(et);
        cse_close(cse);
        credstore_close(creds);
        return 1;
    }
    printf("READY");
    for (int i = 0; i < cfg.srv.n_listeners; i++) {
        const struct srv_listener_cfg *l = &cfg.srv.listeners[i];
        printf(" %s=%s:%d", l->tls ? "https" : "http", l->addr, srv_bound_port(srv, i));
    }
    if (cfg.coap_port >= 0)
        printf(" coap=%s:%d", cfg.coap_addr, coap_server_port(coap, false));
    if (cfg.coaps_port >= 0)
        printf(" coaps=%s:%d", cfg.coaps_addr, coap_server_port(coap, true));
    printf("\n");
    fflush(stdout);
    log_info("CSE %s (%s) of SP %s ready; admin originator %s", cfg.cse_id, cfg.cse_name, cfg.sp_id,
             cfg.admin);
    int sig = 0;
    sigwait(&set, &sig);
    log_info("signal %d: stopping", sig);
    et_glue_shutdown(et); /* parked handshakes are woken (and fail) before the loops stop */
    srv_stop(srv);
    coap_server_stop(coap); /* before the CSE and the credentials it uses */
    et_glue_free(et);
    credstore_close(creds);
    cse_close(cse);
    return 0;
}

static int cmd_pki(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "issue") != 0) {
        usage(stderr);
        return 2;
    }
    static const struct option opts[] = {
        {"data-dir", required_argument, NULL, 'd'}, {"uri", required_argument, NULL, 'u'},
        {"cn", required_argument, NULL, 'n'},       {"days", required_argument, NULL, 'y'},
        {"out-cert", required_argument, NULL, 'c'}, {"out-key", required_argument, NULL, 'k'},
        {"flavour", required_argument, NULL, 'f'},  {NULL, 0, NULL, 0},
    };
    const char *dd = "./var", *uri = NULL, *cn = NULL, *oc = NULL, *ok = NULL;
    int days = 365;
    enum pki_flavour flavour = PKI_FLAVOUR_ANY;
    int o;
    optind = 2;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'd': dd = optarg; break;
        case 'u': uri = optarg; break;
        case 'n': cn = optarg; break;
        case 'y': days = atoi(optarg); break;
        case 'c': oc = optarg; break;
        case 'k': ok = optarg; break;
        case 'f':
            if (pki_flavour_parse(optarg, &flavour) != M2M_OK) {
                fprintf(stderr, "m2msec: --flavour is cse, ae, node, device or any\n");
                return 2;
            }
            break;
        default: usage(stderr); return 2;
        }
    }
    if ((uri == NULL && cn == NULL) || oc == NULL || ok == NULL || days <= 0) {
        usage(stderr);
        return 2;
    }
    if (pki_flavour_check(flavour, uri) != M2M_OK) {
        fprintf(stderr, "m2msec: --uri does not fit the flavour (see pki.h; no wildcards)\n");
        return 2;
    }
    char dir[600], ca[700], cert[700], key[700];
    snprintf(dir, sizeof dir, "%s/pki", dd);
    if (mkdir(dd, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "m2msec: cannot create %s\n", dd);
        return 1;
    }
    if (pki_ensure_dev(dir, NULL, ca, cert, key, sizeof ca) != M2M_OK ||
        pki_issue(dir, uri, cn, days, oc, ok) != M2M_OK) {
        fprintf(stderr, "m2msec: cannot issue the certificate\n");
        return 1;
    }
    printf("issued %s (key %s) for %s, signed by %s\n", oc, ok, uri ? uri : cn, ca);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "cse") == 0)
        return cmd_cse(argc - 1, argv + 1);
    if (strcmp(argv[1], "pki") == 0)
        return cmd_pki(argc - 1, argv + 1);
    if (strcmp(argv[1], "cred") == 0)
        return cmd_cred(argc - 1, argv + 1);
    else if (strcmp(argv[1], "mef") == 0)
        return cmd_mef(argc - 1, argv + 1);
#ifdef M2M_HAVE_CLIENT
    if (strcmp(argv[1], "client") == 0)
        return cmd_client(argc - 1, argv + 1);
    if (strcmp(argv[1], "acp") == 0)
        return cmd_acp(argc - 1, argv + 1);
#endif
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("m2msec %s\n", M2MSEC_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "m2msec: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
