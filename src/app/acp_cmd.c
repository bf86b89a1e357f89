/* acp_cmd.c: `m2msec acp explain`: sends the admin request <target>/_explain/<op>/<originator>
 * with the device client library and prints the per-rule explanation. */
#include "app/acp_cmd.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enc/json.h"
#include "m2msec/client.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: m2msec acp explain --url URL --target PATH --op OPERATION --originator ID\n"
               "                          [--from ADMIN] [--ca F] [--cert F --key F] [--json]\n"
               "  OPERATION: create[:TY] | retrieve | update | update-acpi | delete | notify |"
               " discovery\n"
               "  asks the CSE why ID would be granted or denied OPERATION on PATH\n");
}

/* "/x" -> "~/x", "//x" -> "_/x": the HTTP path forms of SP-relative and absolute IDs. */
static void originator_path(const char *id, char *out, size_t n)
{
    if (id[0] == '/' && id[1] == '/')
        snprintf(out, n, "_/%s", id + 2);
    else if (id[0] == '/')
        snprintf(out, n, "~/%s", id + 1);
    else
        snprintf(out, n, "%s", id);
}

static void print_human(const cJSON *e)
{
    printf("%s %s on %s: %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(e, "originator")),
           cJSON_GetStringValue(cJSON_GetObjectItem(e, "operation")),
           cJSON_GetStringValue(cJSON_GetObjectItem(e, "target")),
           cJSON_GetStringValue(cJSON_GetObjectItem(e, "decision")));
    const cJSON *dp = cJSON_GetObjectItem(e, "defaultPolicy");
    if (cJSON_IsTrue(cJSON_GetObjectItem(dp, "applies")))
        printf("  default policy (no acpi): creator %s -> %s\n",
               cJSON_GetStringValue(cJSON_GetObjectItem(dp, "creator")),
               cJSON_IsTrue(cJSON_GetObjectItem(dp, "grants")) ? "grants" : "does not grant");
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(e, "policies"))
    {
        printf("  %s (%s%s):\n", cJSON_GetStringValue(cJSON_GetObjectItem(p, "acp")),
               cJSON_GetStringValue(cJSON_GetObjectItem(p, "set")),
               cJSON_IsTrue(cJSON_GetObjectItem(p, "system")) ? ", system ACP" : "");
        const cJSON *r;
        cJSON_ArrayForEach(r, cJSON_GetObjectItem(p, "rules"))
        {
            printf("    rule %d: ", (int)cJSON_GetNumberValue(cJSON_GetObjectItem(r, "rule")));
            if (cJSON_IsTrue(cJSON_GetObjectItem(r, "grants"))) {
                printf("grants\n");
                continue;
            }
            printf("does not match:");
            const cJSON *f;
            cJSON_ArrayForEach(f, cJSON_GetObjectItem(r, "failed"))
                printf(" %s", cJSON_GetStringValue(f));
            printf("\n");
        }
    }
}

int cmd_acp(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "explain") != 0) {
        usage(stderr);
        return 2;
    }
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},
        {"target", required_argument, NULL, 't'},
        {"op", required_argument, NULL, 'o'},
        {"originator", required_argument, NULL, 'g'},
        {"from", required_argument, NULL, 'f'},
        {"ca", required_argument, NULL, 'a'},
        {"cert", required_argument, NULL, 'c'},
        {"key", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *url = "http://127.0.0.1:8080", *target = NULL, *op = NULL, *orig = NULL;
    const char *from = "CAdmin", *ca = NULL, *cert = NULL, *key = NULL;
    bool json = false;
    int o;
    optind = 2;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'u': url = optarg; break;
        case 't': target = optarg; break;
        case 'o': op = optarg; break;
        case 'g': orig = optarg; break;
        case 'f': from = optarg; break;
        case 'a': ca = optarg; break;
        case 'c': cert = optarg; break;
        case 'k': key = optarg; break;
        case 'j': json = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (target == NULL || op == NULL || orig == NULL || optind != argc ||
        (cert == NULL) != (key == NULL)) {
        usage(stderr);
        return 2;
    }
    struct m2msec_client_cfg cfg;
    m2msec_client_cfg_init(&cfg);
    cfg.url = url;
    cfg.originator = from;
    cfg.ca_file = ca;
    if (cert) {
        cfg.cred = M2MSEC_CRED_CERT;
        cfg.cert_file = cert;
        cfg.key_file = key;
    }
    char errmsg[256];
    struct m2msec_client *c = NULL;
    if (m2msec_client_new(&cfg, &c, errmsg, sizeof errmsg) != M2MSEC_OK) {
        fprintf(stderr, "m2msec acp: %s\n", errmsg);
        return 2;
    }
    char op_path[1024], path[2048];
    originator_path(orig, op_path, sizeof op_path);
    while (*target == '/')
        target++;
    snprintf(path, sizeof path, "/%s/_explain/%s/%s", target, op, op_path);
    struct m2msec_response *r = NULL;
    int rc = m2msec_retrieve(c, path, NULL, &r);
    int exit_code = 0;
    if (rc != M2MSEC_OK) {
        fprintf(stderr, "m2msec acp: %s\n", m2msec_client_errmsg(c));
        exit_code = 3;
    } else if (r->rsc != 2000) {
        fprintf(stderr, "m2msec acp: the CSE answered %d: %s\n", r->rsc, r->body);
        exit_code = 1;
    } else if (json) {
        printf("%s\n", r->body);
    } else {
        cJSON *j = NULL;
        if (json_parse((const uint8_t *)r->body, r->body_len, 64, &j) != M2M_OK) {
            fprintf(stderr, "m2msec acp: the answer is not valid JSON\n");
            exit_code = 1;
        } else {
            print_human(cJSON_GetObjectItem(j, "m2msec:explain"));
            cJSON_Delete(j);
        }
    }
    m2msec_response_free(r);
    m2msec_client_free(c);
    return exit_code;
}
