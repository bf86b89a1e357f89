/* mef_store_test.c: the MEF database: file mode, Kpm lookup and revocation, targets and rules,
 * enrolments (duplicates, deletion wipes Ke), registrations (one per client and adminFQDN),
 * key registrations, the command queue (ISSUED, REISSUED, reports, unknown IDs) and listing
 * without key material. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mef/mef_store.h"

struct fx {
    char dir[64];
    char path[96];
    struct mef_store *st;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mefstoreXXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/mef.db", f->dir);
    assert_int_equal(mef_store_open(f->path, &f->st), M2M_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    mef_store_close(f->st);
    mef_store_close(NULL);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static const uint8_t K16[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static void test_mode_and_kpm(void **state)
{
    struct fx *f = *state;
    struct stat sb;
    uint8_t key[64];
    size_t kl = sizeof key;
    char id[256];
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(mef_store_kpm_add(f->st, "dev1@mef.test", K16, 16, "Cdev1"), M2M_OK);
    assert_int_equal(mef_store_kpm_add(f->st, "dev1@mef.test", K16, 16, "Cx"), M2M_ERR_EXISTS);
    assert_int_equal(mef_store_kpm_add(f->st, "short@mef.test", K16, 15, "Cx"), M2M_ERR_MALFORMED);
    assert_int_equal(mef_store_kpm_get(f->st, "dev1@mef.test", 13, key, &kl, id, sizeof id),
                     M2M_OK);
    assert_int_equal(kl, 16);
    assert_memory_equal(key, K16, 16);
    assert_string_equal(id, "Cdev1");
    /* length-bounded peer identity: a prefix or an embedded NUL does not match */
    kl = sizeof key;
    assert_int_equal(mef_store_kpm_get(f->st, "dev1@mef.test", 12, key, &kl, id, sizeof id),
                     M2M_ERR_NOT_FOUND);
    assert_int_equal(mef_store_kpm_get(f->st, "dev1\0mef.test", 13, key, &kl, id, sizeof id),
                     M2M_ERR_NOT_FOUND);
    kl = 8; /* too small a buffer */
    assert_int_equal(mef_store_kpm_get(f->st, "dev1@mef.test", 13, key, &kl, id, sizeof id),
                     M2M_ERR_LIMIT);
    uint64_t g = mef_store_generation(f->st);
    assert_false(mef_store_kpm_revoked(f->st, "dev1@mef.test"));
    assert_int_equal(mef_store_kpm_revoke(f->st, "dev1@mef.test"), M2M_OK);
    assert_true(mef_store_kpm_revoked(f->st, "dev1@mef.test"));
    assert_true(mef_store_generation(f->st) != g);
    kl = sizeof key;
    assert_int_equal(mef_store_kpm_get(f->st, "dev1@mef.test", 13, key, &kl, id, sizeof id),
                     M2M_ERR_NOT_FOUND);
    assert_int_equal(mef_store_kpm_revoke(f->st, "nope@mef.test"), M2M_ERR_NOT_FOUND);
}

static void test_targets_rules(void **state)
{
    struct fx *f = *state;
    struct mef_target_rule r[4];
    size_t n = 0;
    char fq[256];
    assert_int_equal(mef_store_allow(f->st, "Cdev1", "/id-in", 22), M2M_ERR_NOT_FOUND);
    assert_int_equal(mef_store_target_add(f->st, "/id-in", "in.m2msec.test"), M2M_OK);
    assert_int_equal(mef_store_target_get(f->st, "/id-in", fq, sizeof fq), M2M_OK);
    assert_string_equal(fq, "in.m2msec.test");
    assert_int_equal(mef_store_target_get(f->st, "/id-mn", fq, sizeof fq), M2M_ERR_NOT_FOUND);
    assert_int_equal(mef_store_allow(f->st, "Cdev1", "/id-in", 22), M2M_OK);
    assert_int_equal(mef_store_allow(f->st, "Cdev1", "/id-in", 22), M2M_ERR_EXISTS);
    assert_true(mef_store_allowed(f->st, "Cdev1", "/id-in", 22));
    assert_false(mef_store_allowed(f->st, "Cdev1", "/id-in", 23));
    assert_false(mef_store_allowed(f->st, "Cdev2", "/id-in", 22));
    assert_int_equal(mef_store_rules_for(f->st, "Cdev1", r, 4, &n), M2M_OK);
    assert_int_equal(n, 1);
    assert_string_equal(r[0].fqdn, "in.m2msec.test");
    assert_int_equal(r[0].suid, 22);
}

static void test_enrolment(void **state)
{
    struct fx *f = *state;
    struct mef_enr e = {.ct = 100, .et = 200}, g;
    snprintf(e.relid, sizeof e.relid, "404142434445464748494A4B4C4D4E4F");
    snprintf(e.enrolee, sizeof e.enrolee, "Cdev1");
    memset(e.ke, 0xa5, sizeof e.ke);
    assert_int_equal(mef_store_enr_add(f->st, &e), M2M_OK);
    assert_int_equal(mef_store_enr_add(f->st, &e), M2M_ERR_EXISTS); /* same session twice */
    assert_int_equal(mef_store_enr_get(f->st, e.relid, &g), M2M_OK);
    assert_memory_equal(g.ke, e.ke, 32);
    assert_false(g.deleted);
    assert_int_equal(g.et, 200);
    assert_int_equal(mef_store_enr_delete(f->st, e.relid), M2M_OK);
    assert_int_equal(mef_store_enr_delete(f->st, e.relid), M2M_ERR_NOT_FOUND);
    assert_int_equal(mef_store_enr_get(f->st, e.relid, &g), M2M_OK);
    assert_true(g.deleted);
    uint8_t zero[32] = {0};
    assert_memory_equal(g.ke, zero, 32);
    assert_int_equal(mef_store_enr_add(f->st, &e), M2M_ERR_EXISTS); /* never re-created */
    assert_int_equal(mef_store_enr_get(f->st, "00", &g), M2M_ERR_NOT_FOUND);
    /* revoke by KeID (lower-case hex accepted) */
    snprintf(e.relid, sizeof e.relid, "505152535455565758595A5B5C5D5E5F");
    assert_int_equal(mef_store_enr_add(f->st, &e), M2M_OK);
    assert_int_equal(mef_store_revoke(f->st, "505152535455565758595a5b5c5d5e5f@mef.test"), M2M_OK);
    assert_int_equal(mef_store_enr_get(f->st, e.relid, &g), M2M_OK);
    assert_true(g.deleted);
}

static void test_registration(void **state)
{
    struct fx *f = *state;
    struct mef_mcr r = {.id = "mcr0000000000000001", .ct = 1, .et = 99}, g;
    snprintf(r.client, sizeof r.client, "Cdev1");
    snprintf(r.fqdn, sizeof r.fqdn, "mef.test");
    snprintf(r.admin, sizeof r.admin, "sp.test");
    assert_int_equal(mef_store_mcr_add(f->st, &r), M2M_OK);
    memcpy(r.id, "mcr0000000000000002", 20);
    assert_int_equal(mef_store_mcr_add(f->st, &r), M2M_ERR_EXISTS); /* same client+admin */
    snprintf(r.admin, sizeof r.admin, "sp2.test");
    assert_int_equal(mef_store_mcr_add(f->st, &r), M2M_OK);
    struct mef_strlist l = {0};
    assert_int_equal(mef_strlist_from_json("[\"x\"]", 5, 4, &l), M2M_OK);
    int64_t et = 500;
    assert_int_equal(mef_store_mcr_update(f->st, r.id, &et, &l), M2M_OK);
    assert_int_equal(mef_store_mcr_update(f->st, "mcr9", &et, NULL), M2M_ERR_NOT_FOUND);
    mef_strlist_clear(&l);
    assert_int_equal(mef_store_mcr_get(f->st, r.id, &g), M2M_OK);
    assert_int_equal(g.et, 500);
    assert_int_equal(g.lbl.n, 1);
    assert_string_equal(g.lbl.v[0], "x");
    assert_string_equal(g.client, "Cdev1");
    mef_strlist_clear(&g.lbl);
    /* de-registration discards queued commands of the client */
    assert_int_equal(mef_store_cmd_add(f->st, "Cdev1", 1, "{}", NULL), M2M_OK);
    assert_int_equal(mef_store_mcr_delete(f->st, r.id), M2M_OK);
    assert_int_equal(mef_store_mcr_delete(f->st, r.id), M2M_ERR_NOT_FOUND);
    assert_int_equal(mef_store_mcr_get(f->st, r.id, &g), M2M_ERR_NOT_FOUND);
    int64_t id;
    int status;
    char *desc = NULL;
    assert_int_equal(mef_store_cmd_current(f->st, "Cdev1", &id, &status, &desc), M2M_ERR_NOT_FOUND);
}

static void test_commands(void **state)
{
    struct fx *f = *state;
    int64_t a, b, id;
    int status;
    char *desc = NULL;
    const char *cp = "{\"cmdClassID\":1,\"cmdArgs\":{\"certProvCmdArgs\":{\"certProvProtocolID\":1,"
                     "\"URI\":\"https://m/.well-known/est\",\"certSubjectType\":3,"
                     "\"certSubjectID\":\"Cdev2\"}}}";
    char ids[4][MEF_ID_MAX + 1];
    size_t n = 9;
    assert_int_equal(mef_store_cmd_add(f->st, "Cdev1", 1, cp, &a), M2M_OK);
    assert_int_equal(mef_store_cmd_add(f->st, "Cdev1", 2, "{\"b\":1}", &b), M2M_OK);
    assert_true(b > a);
    /* not issued yet: no subject counts, and a report is discarded */
    assert_int_equal(mef_store_cert_subjects(f->st, "Cdev1", ids, 4, &n), M2M_OK);
    assert_int_equal(n, 0);
    assert_int_equal(mef_store_cmd_report(f->st, "Cdev1", a, 20), M2M_ERR_NOT_FOUND);
    assert_int_equal(mef_store_cmd_current(f->st, "Cdev1", &id, &status, &desc), M2M_OK);
    assert_int_equal(id, a);
    assert_int_equal(status, MEF_CMD_ISSUED);
    assert_string_equal(desc, cp);
    free(desc);
    assert_int_equal(mef_store_cmd_current(f->st, "Cdev1", &id, &status, &desc), M2M_OK);
    assert_int_equal(status, MEF_CMD_REISSUED);
    free(desc);
    assert_int_equal(mef_store_cert_subjects(f->st, "Cdev1", ids, 4, &n), M2M_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], "Cdev2");
    /* a report by another client, or for an unknown ID, is not stored */
    assert_int_equal(mef_store_cmd_report(f->st, "Cdev9", a, 20), M2M_ERR_NOT_FOUND);
    assert_int_equal(mef_store_cmd_report(f->st, "Cdev1", 999, 20), M2M_ERR_NOT_FOUND);
    assert_int_equal(mef_store_cmd_report(f->st, "Cdev1", a, 20), M2M_OK);
    assert_int_equal(mef_store_cmd_report(f->st, "Cdev1", a, 20), M2M_ERR_NOT_FOUND);
    assert_int_equal(mef_store_cmd_current(f->st, "Cdev1", &id, &status, &desc), M2M_OK);
    assert_int_equal(id, b);
    assert_int_equal(status, MEF_CMD_ISSUED);
    free(desc);
    /* NO_MORE_COMMANDS rows never block the queue but take a report */
    int64_t nm;
    assert_int_equal(mef_store_cmd_add(f->st, "Cdev3", MEF_CMD_NO_MORE, "{}", &nm), M2M_OK);
    assert_int_equal(mef_store_cmd_current(f->st, "Cdev3", &id, &status, &desc), M2M_ERR_NOT_FOUND);
    assert_int_equal(mef_store_cmd_report(f->st, "Cdev3", nm, 20), M2M_OK);
}

static void test_keys_and_list(void **state)
{
    struct fx *f = *state;
    struct mef_mkr k = {.relid = "000102030405060708090A0B0C0D0E0F",
                        .suid = 23,
                        .ct = 1,
                        .et = 1000,
                        .key_len = 32},
                   g;
    snprintf(k.source, sizeof k.source, "Cdev1");
    snprintf(k.admin, sizeof k.admin, "sp.test");
    memset(k.key, 0x5a, 32);
    assert_int_equal(mef_strlist_from_json("[\"/id-in/Cpeer\"]", 16, 4, &k.targets), M2M_OK);
    assert_int_equal(mef_store_mkr_add(f->st, &k), M2M_OK);
    assert_int_equal(mef_store_mkr_add(f->st, &k), M2M_ERR_EXISTS);
    assert_int_equal(mef_store_mkr_get(f->st, k.relid, &g), M2M_OK);
    assert_int_equal(g.key_len, 32);
    assert_memory_equal(g.key, k.key, 32);
    assert_true(mef_strlist_has(&g.targets, "/id-in/Cpeer"));
    mef_mkr_clear(&g);
    assert_int_equal(g.key[0], 0);
    struct mef_strlist t = {0};
    assert_int_equal(mef_strlist_from_json("[\"/id-in/Cother\"]", 17, 4, &t), M2M_OK);
    assert_int_equal(mef_store_mkr_update(f->st, k.relid, NULL, NULL, &t), M2M_OK);
    mef_strlist_clear(&t);
    assert_int_equal(mef_store_mkr_get(f->st, k.relid, &g), M2M_OK);
    assert_false(mef_strlist_has(&g.targets, "/id-in/Cpeer"));
    mef_mkr_clear(&g);
    assert_int_equal(mef_store_kpm_add(f->st, "d@mef.test", K16, 16, "Cdev1"), M2M_OK);
    assert_int_equal(mef_store_cert_add(f->st, "0a0b", "Cdev2", "ff00", "Cdev1"), M2M_OK);
    char san[64];
    assert_int_equal(mef_store_cert_san(f->st, "ff00", san, sizeof san), M2M_OK);
    assert_string_equal(san, "Cdev2");
    assert_int_equal(mef_store_cert_san(f->st, "ff01", san, sizeof san), M2M_ERR_NOT_FOUND);
    /* listing shows identities, never key bytes */
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    for (int w = MEF_LIST_KPM; w <= MEF_LIST_CERTS; w++)
        assert_int_equal(mef_store_list(f->st, (enum mef_list_what)w, m), M2M_OK);
    fclose(m);
    assert_non_null(strstr(buf, "d@mef.test"));
    assert_non_null(strstr(buf, k.relid));
    assert_null(strstr(buf, "000102030405060708090a0b0c0d0e0f")); /* K16 in hex */
    assert_null(memchr(buf, 0x5a, len));
    free(buf);
    assert_int_equal(mef_store_revoke(f->st, k.relid), M2M_OK);
    assert_int_equal(mef_store_mkr_get(f->st, k.relid, &g), M2M_ERR_NOT_FOUND);
    assert_int_equal(mef_store_revoke(f->st, "nothing"), M2M_ERR_NOT_FOUND);
    mef_mkr_clear(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mode_and_kpm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_targets_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enrolment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registration, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_and_list, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
