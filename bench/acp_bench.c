/* acp_bench.c: nanoseconds per acp_decide() for 1-, 10-, 100- and 1000-rule sets and a 5-ACP set,
 * the permitting rule always last so every rule is evaluated; the ns/rule column shows the growth
 * is linear. Each figure is the best of 5 runs (the machine is shared). Standalone main(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acp/acp.h"
#include "enc/json.h"

static const struct acp_host host = {"//sp.example", "/id-in"};
static volatile int bench_sink; /* keeps the loop from being optimised away */

/* Rules that do not grant the request below, each failing at a different test. */
static const char *const deny_rules[] = {
    "{\"acor\":[\"Cother\",\"/id-mn/C*\",\"//*/myCSE*/C9886\"],\"acop\":63}",
    "{\"acor\":[\"all\"],\"acop\":61}",
    "{\"acor\":[\"//sp.example\"],\"acop\":63,\"acaf\":true}",
    "{\"acor\":[\"/id-in/C*\"],\"acop\":63,\"acco\":[{\"actw\":[\"* * 0-7,18-23 * * * *\"]}]}",
    ("{\"acor\":[\"Cae*\"],\"acop\":63,\"acco\":[{\"acip\":{\"ipv4\":[\"192.168.0.0/16\"],"
     "\"ipv6\":[\"fd00::/8\"]}}]}"),
    "{\"acor\":[\"r1@roles.example\",\"grp1\"],\"acop\":63}",
};
static const char *const grant_rule =
    "{\"acor\":[\"Cadmin\",\"Cae1\"],\"acop\":3,\"acco\":[{\"actw\":[\"* * 8-17 * * 1-5 *\"],"
    "\"acip\":{\"ipv4\":[\"10.0.0.0/8\"]}}]}";

static struct acp_ruleset *build(size_t n, bool grant_last)
{
    size_t cap = 64 + n * 160;
    char *s = malloc(cap), *p = s;
    p += sprintf(p, "{\"acr\":[");
    for (size_t i = 0; i < n; i++) {
        const char *r = (grant_last && i + 1 == n) ? grant_rule : deny_rules[i % 6];
        p += sprintf(p, "%s%s", i ? "," : "", r);
    }
    strcpy(p, "]}");
    cJSON *j = NULL;
    struct acp_ruleset *rs = NULL;
    char err[256];
    if (json_parse((const uint8_t *)s, strlen(s), 32, &j) != M2M_OK ||
        acp_ruleset_compile(j, &host, &rs, err, sizeof(err)) != M2M_OK) {
        fprintf(stderr, "acp_bench: compile failed: %s\n", err);
        exit(1);
    }
    cJSON_Delete(j);
    free(s);
    return rs;
}

/* CPU time of this thread: the machine is shared, wall time would count other processes. */
static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void run(const char *name, const struct acp_policy *p, size_t np, size_t nrules, long iters)
{
    const char *o = "//sp.example/id-in/Cae1";
    struct acp_request req = {.originator = o,
                              .originator_len = strlen(o),
                              .orig_kind = ACP_ORIG_AE,
                              .op = ACP_OP_RETRIEVE,
                              .target_ty = 3,
                              .time = {0, 30, 12, 3, 6, 1, 2024},
                              .has_ip = true,
                              .ip_family = 4,
                              .ip = {10, 1, 2, 3}};
    struct acp_decision d;
    acp_decide(&req, p, np, &d);
    if (!d.permit) {
        fprintf(stderr, "acp_bench: %s does not permit\n", name);
        exit(1);
    }
    double best = 1e300;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_ns();
        for (long i = 0; i < iters; i++) {
            acp_decide(&req, p, np, &d);
            bench_sink += d.rule_index;
        }
        double t = (now_ns() - t0) / (double)iters;
        best = t < best ? t : best;
    }
    printf("%-20s %10.1f ns/decision %7.1f ns/rule  (best of 5 x %ld)\n", name, best,
           best / (double)nrules, iters);
}

int main(void)
{
    struct acp_ruleset *r1 = build(1, true), *r10 = build(10, true), *r100 = build(100, true);
    struct acp_ruleset *r1000 = build(1000, true);
    struct acp_policy p1 = {"acp1", r1}, p10 = {"acp10", r10}, p100 = {"acp100", r100};
    struct acp_policy p1000 = {"acp1000", r1000};
    run("1 rule", &p1, 1, 1, 2000000);
    run("10 rules", &p10, 1, 10, 1000000);
    run("100 rules", &p100, 1, 100, 100000);
    run("1000 rules", &p1000, 1, 1000, 10000);
    struct acp_ruleset *five[5];
    struct acp_policy p5[5];
    for (int i = 0; i < 5; i++) {
        five[i] = build(4, i == 4); /* 4 rules each; only the last rule of the last ACP grants */
        p5[i] = (struct acp_policy){"acp", five[i]};
    }
    run("5 ACPs x 4 rules", p5, 5, 20, 500000);
    for (int i = 0; i < 5; i++)
        acp_ruleset_free(five[i]);
    acp_ruleset_free(r1);
    acp_ruleset_free(r100);
    acp_ruleset_free(r10);
    acp_ruleset_free(r1000);
    return 0;
}
