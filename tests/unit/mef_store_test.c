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
#include <time.h>
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
    int64_t et = 99999999999; /* beyond the wall clock: the purge of cmd_add keeps it */
    assert_int_equal(mef_store_mcr_update(f->st, r.id, &et, &l), M2M_OK);
    assert_int_equal(mef_store_mcr_update(f->st, "mcr9", &et, NULL), M2M_ERR_NOT_FOUND);
    mef_strlist_clear(&l);
    assert_int_equal(mef_store_mcr_get(f->st, r.id, &g), M2M_OK);
    assert_int_equal(g.et, 99999999999);
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
    char sub[MEF_ID_MAX + 1];
    assert_int_equal(mef_store_cmd_add(f->st, "Cdev1", 1, cp, &a), M2M_OK);
    assert_int_equal(mef_store_cmd_add(f->st, "Cdev1", 2, "{\"b\":1}", &b), M2M_OK);
    assert_true(b > a);
    /* not issued yet: no subject counts, and a report is discarded */
    assert_int_equal(mef_store_cert_subject_ok(f->st, "Cdev1", "Cdev2"), M2M_ERR_NOT_FOUND);
    assert_int_equal(mef_store_cert_subject_latest(f->st, "Cdev1", sub, sizeof sub),
                     M2M_ERR_NOT_FOUND);
    assert_int_equal(mef_store_cmd_report(f->st, "Cdev1", a, 20), M2M_ERR_NOT_FOUND);
    assert_int_equal(mef_store_cmd_current(f->st, "Cdev1", &id, &status, &desc), M2M_OK);
    assert_int_equal(id, a);
    assert_int_equal(status, MEF_CMD_ISSUED);
    assert_string_equal(desc, cp);
    free(desc);
    assert_int_equal(mef_store_cmd_current(f->st, "Cdev1", &id, &status, &desc), M2M_OK);
    assert_int_equal(status, MEF_CMD_REISSUED);
    free(desc);
    assert_int_equal(mef_store_cert_subject_ok(f->st, "Cdev1", "Cdev2"), M2M_OK);
    assert_int_equal(mef_store_cert_subject_ok(f->st, "Cdev9", "Cdev2"), M2M_ERR_NOT_FOUND);
    assert_int_equal(mef_store_cert_subject_ok(f->st, "Cdev1", "Cdev3"), M2M_ERR_NOT_FOUND);
    assert_int_equal(mef_store_cert_subject_latest(f->st, "Cdev1", sub, sizeof sub), M2M_OK);
    assert_string_equal(sub, "Cdev2");
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
    /* once reported, the subject is no longer one the client may request */
    assert_int_equal(mef_store_cert_subject_ok(f->st, "Cdev1", "Cdev2"), M2M_ERR_NOT_FOUND);
}

/* Rows of a table (the store file read through a second connection is not needed: list). */
static size_t count_lines(struct mef_store *st, enum mef_list_what w, const char *needle)
{
    char *buf = NULL, *p;
    size_t len = 0, n = 0;
    FILE *m = open_memstream(&buf, &len);
    assert_int_equal(mef_store_list(st, w, m), M2M_OK);
    fclose(m);
    for (p = buf; (p = strstr(p, needle)) != NULL; p++)
        n++;
    free(buf);
    return n;
}

/* Review finding 2: polling an empty queue reuses one NO_MORE row per client. */
static void test_nomore_row_reused(void **state)
{
    struct fx *f = *state;
    int64_t first = 0, id = 0;
    assert_int_equal(mef_store_cmd_add(f->st, "Cpoll", MEF_CMD_NO_MORE, "{}", &first), M2M_OK);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(mef_store_cmd_add(f->st, "Cpoll", MEF_CMD_NO_MORE, "{}", &id), M2M_OK);
        assert_int_equal(id, first);
        if (i % 2 == 0) /* a report on it, then the next answer makes it reportable again */
            assert_int_equal(mef_store_cmd_report(f->st, "Cpoll", id, 20), M2M_OK);
    }
    assert_int_equal(count_lines(f->st, MEF_LIST_COMMANDS, "\tCpoll\t"), 1);
    assert_int_equal(mef_store_cmd_report(f->st, "Cpoll", id, 20), M2M_OK);
    /* another client gets its own row */
    assert_int_equal(mef_store_cmd_add(f->st, "Cother", MEF_CMD_NO_MORE, "{}", &id), M2M_OK);
    assert_true(id != first);
}

/* Review finding 3: after many CERT_PROV commands the current one is still allowed. */
static void test_cert_subject_after_many(void **state)
{
    struct fx *f = *state;
    char desc[256], want[32], sub[MEF_ID_MAX + 1], *d = NULL;
    int64_t id;
    int status;
    for (int i = 0; i < 10; i++) {
        snprintf(want, sizeof want, "//sp/cse/Cs%d", i);
        snprintf(desc, sizeof desc,
                 "{\"cmdClassID\":1,\"cmdArgs\":{\"certProvCmdArgs\":{\"certProvProtocolID\":1,"
                 "\"URI\":\"https://m/.well-known/est\",\"certSubjectType\":3,"
                 "\"certSubjectID\":\"%s\"}}}",
                 want);
        assert_int_equal(mef_store_cmd_add(f->st, "Cmany", MEF_CMD_CERT_PROV, desc, NULL), M2M_OK);
        assert_int_equal(mef_store_cmd_current(f->st, "Cmany", &id, &status, &d), M2M_OK);
        free(d);
        assert_int_equal(mef_store_cert_subject_ok(f->st, "Cmany", want), M2M_OK);
        assert_int_equal(mef_store_cert_subject_latest(f->st, "Cmany", sub, sizeof sub), M2M_OK);
        assert_string_equal(sub, want);
        assert_int_equal(mef_store_cmd_report(f->st, "Cmany", id, 20), M2M_OK);
        assert_int_equal(mef_store_cert_subject_ok(f->st, "Cmany", want), M2M_ERR_NOT_FOUND);
    }
    assert_int_equal(mef_store_cert_subject_ok(f->st, "Cmany", "//sp/cse/Cs0"), M2M_ERR_NOT_FOUND);
}

static void enr_make(struct mef_enr *e, int i, const char *who, const char *cred, int64_t ct,
                     int64_t et)
{
    memset(e, 0, sizeof *e);
    snprintf(e->relid, sizeof e->relid, "%032X", i);
    snprintf(e->enrolee, sizeof e->enrolee, "%s", who);
    snprintf(e->cred, sizeof e->cred, "%s", cred);
    e->ct = ct;
    e->et = et;
    memset(e->ke, 0x11, sizeof e->ke);
}

/* Review finding 2: per-client caps (live rows only) and the purge. */
static void test_caps_and_purge(void **state)
{
    struct fx *f = *state;
    struct mef_store_limits l = {
        .enrolments = 3, .registrations = 2, .keys = 2, .certs_per_day = 2};
    struct mef_enr e;
    mef_store_set_limits(f->st, &l);
    for (int i = 0; i < 3; i++) {
        enr_make(&e, i, "Ccap", "", 1000, 2000);
        assert_int_equal(mef_store_enr_add(f->st, &e), M2M_OK);
    }
    enr_make(&e, 9, "Ccap", "", 1000, 2000);
    assert_int_equal(mef_store_enr_add(f->st, &e), M2M_ERR_LIMIT);
    enr_make(&e, 9, "Cfree", "", 1000, 2000); /* per client */
    assert_int_equal(mef_store_enr_add(f->st, &e), M2M_OK);
    assert_int_equal(mef_store_enr_delete(f->st, "00000000000000000000000000000000"), M2M_OK);
    enr_make(&e, 10, "Ccap", "", 1000, 2000); /* a deleted one frees a place */
    assert_int_equal(mef_store_enr_add(f->st, &e), M2M_OK);
    /* registrations */
    struct mef_mcr r = {.ct = 1000, .et = 2000};
    snprintf(r.client, sizeof r.client, "Ccap");
    for (int i = 0; i < 3; i++) {
        snprintf(r.id, sizeof r.id, "mcr%016d", i);
        snprintf(r.admin, sizeof r.admin, "a%d.test", i);
        assert_int_equal(mef_store_mcr_add(f->st, &r), i < 2 ? M2M_OK : M2M_ERR_LIMIT);
    }
    /* keys */
    struct mef_mkr k = {.suid = 23, .ct = 1000, .et = 2000, .key_len = 16};
    snprintf(k.source, sizeof k.source, "Ccap");
    for (int i = 0; i < 3; i++) {
        snprintf(k.relid, sizeof k.relid, "%032X", 100 + i);
        assert_int_equal(mef_store_mkr_add(f->st, &k), i < 2 ? M2M_OK : M2M_ERR_LIMIT);
    }
    /* certificates per day (ct is the wall clock) */
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(mef_store_cert_quota(f->st, "Ccap", now), M2M_OK);
    assert_int_equal(mef_store_cert_add(f->st, "01", "Ccap", "aa01", "Ccap"), M2M_OK);
    assert_int_equal(mef_store_cert_add(f->st, "02", "Ccap", "aa02", "Ccap"), M2M_OK);
    assert_int_equal(mef_store_cert_quota(f->st, "Ccap", now), M2M_ERR_LIMIT);
    assert_int_equal(mef_store_cert_quota(f->st, "Cfree", now), M2M_OK);
    assert_int_equal(mef_store_cert_quota(f->st, "Ccap", now + 86400 + 10), M2M_OK);
    /* the purge removes what expired, in bounded batches; after it the caps free up */
    int removed = -1;
    assert_int_equal(mef_store_purge(f->st, 1500, 10, &removed), M2M_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(mef_store_purge(f->st, 2000, 0, &removed), M2M_ERR_MALFORMED);
    assert_int_equal(mef_store_purge(f->st, 2000, 2, &removed), M2M_OK);
    assert_int_equal(removed, 6); /* 2 enrolments, 2 registrations, 2 keys */
    assert_int_equal(mef_store_purge(f->st, 2000, 100, &removed), M2M_OK);
    assert_int_equal(removed, 3); /* the other 3 enrolments */
    struct mef_enr g;
    assert_int_equal(mef_store_enr_get(f->st, e.relid, &g), M2M_ERR_NOT_FOUND);
    assert_int_equal(count_lines(f->st, MEF_LIST_KEYS, "Ccap"), 0);
    assert_int_equal(count_lines(f->st, MEF_LIST_CERTS, "Ccap"), 4); /* certs are kept */
    l.enrolments = 0;                                                /* no cap */
    mef_store_set_limits(f->st, &l);
    for (int i = 0; i < 5; i++) {
        enr_make(&e, 200 + i, "Ccap", "", 3000, 4000);
        assert_int_equal(mef_store_enr_add(f->st, &e), M2M_OK);
    }
}

/* Review finding 8: revoking a Kpm ends the enrolments of its sessions; revoking a certificate
 * by serial or fingerprint. */
static void test_revoke_cascade(void **state)
{
    struct fx *f = *state;
    struct mef_enr e, g;
    assert_int_equal(mef_store_kpm_add(f->st, "k1@mef.test", K16, 16, "Cid"), M2M_OK);
    assert_int_equal(mef_store_kpm_add(f->st, "k2@mef.test", K16, 16, "Cid"), M2M_OK);
    enr_make(&e, 1, "Cid", "10-k1@mef.test", 1000, 99999999999);
    assert_int_equal(mef_store_enr_add(f->st, &e), M2M_OK);
    enr_make(&e, 2, "Cid", "10-k2@mef.test", 1000, 99999999999);
    assert_int_equal(mef_store_enr_add(f->st, &e), M2M_OK);
    enr_make(&e, 3, "Cid", "", 1000, 99999999999); /* recorded before the cred column */
    assert_int_equal(mef_store_enr_add(f->st, &e), M2M_OK);
    enr_make(&e, 4, "Cother", "", 1000, 99999999999);
    assert_int_equal(mef_store_enr_add(f->st, &e), M2M_OK);
    assert_int_equal(mef_store_revoke(f->st, "k1@mef.test"), M2M_OK);
    const bool want_deleted[5] = {false, true, false, true, false};
    for (int i = 1; i <= 4; i++) {
        char rel[33];
        snprintf(rel, sizeof rel, "%032X", i);
        assert_int_equal(mef_store_enr_get(f->st, rel, &g), M2M_OK);
        assert_int_equal(g.deleted, want_deleted[i]);
        if (g.deleted)
            assert_int_equal(g.ke[0], 0);
        else
            assert_int_equal(g.ke[0], 0x11);
    }
    assert_string_equal(g.cred, "");
    assert_int_equal(mef_store_enr_get(f->st, "00000000000000000000000000000002", &g), M2M_OK);
    assert_string_equal(g.cred, "10-k2@mef.test");
    /* certificates */
    char san[64];
    assert_int_equal(mef_store_cert_add(f->st, "0a0b", "Cid", "ff00", "Cid"), M2M_OK);
    assert_int_equal(mef_store_cert_add(f->st, "0c0d", "Cid", "ee00", "Cid"), M2M_OK);
    assert_false(mef_store_cert_revoked(f->st, "ff00"));
    assert_int_equal(mef_store_revoke(f->st, "0A:0B"), M2M_OK); /* serial, any case */
    assert_true(mef_store_cert_revoked(f->st, "ff00"));
    assert_int_equal(mef_store_cert_san(f->st, "ff00", san, sizeof san), M2M_ERR_NOT_FOUND);
    assert_int_equal(mef_store_revoke(f->st, "0a0b"), M2M_ERR_NOT_FOUND); /* already */
    assert_int_equal(mef_store_revoke(f->st, "EE00"), M2M_OK);            /* fingerprint */
    assert_true(mef_store_cert_revoked(f->st, "ee00"));
    assert_false(mef_store_cert_revoked(f->st, "dd00"));
    assert_int_equal(mef_store_revoke(f->st, "dd00"), M2M_ERR_NOT_FOUND);
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
        cmocka_unit_test_setup_teardown(test_nomore_row_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cert_subject_after_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_caps_and_purge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke_cascade, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
