/* credstore_test.c: the SAEF credential database: KpsaID and binding validation, PSK and raw
 * public key add/lookup, Credential-IDs, file modes, revocation (also by another connection,
 * seen through the generation counter), listing without keys, the transport hooks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys/credstore.h"
#include "tls/tls.h"

static char g_dir[128], g_db[256];
static const uint8_t KEY[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static int setup(void **state)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/m2m_cred_XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    snprintf(g_db, sizeof g_db, "%s/credentials.db", g_dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int fresh(void **state)
{
    unlink(g_db);
    return 0;
}

static void test_kpsaid_and_binding_rules(void **state)
{
    const char *good[] = {"ae1@m2msec.example.com", "a.b_c-d@x.y", "1he83he@mymef.com"};
    const char *bad[] = {"",      "@x.com",   "ae1@",      "ae1",      "a e@x.com",
                         "a@b@c", "a*@x.com", "a@x_y.com", "a/b@x.com"};
    for (size_t i = 0; i < 3; i++)
        assert_true(credstore_kpsaid_valid(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(credstore_kpsaid_valid(bad[i], strlen(bad[i])));
    /* embedded NUL: the length says more than the string */
    assert_false(credstore_kpsaid_valid("a@x\0y", 5));
    assert_true(credstore_bind_valid("Cae1"));
    assert_true(credstore_bind_valid("//m2msec.example.com/id-in/Cae1"));
    assert_false(credstore_bind_valid(""));
    assert_false(credstore_bind_valid("C*"));
    assert_false(credstore_bind_valid("C ae"));
    assert_false(credstore_bind_valid("C\x01"));
    assert_false(credstore_bind_valid(NULL));
}

static void test_psk_add_lookup_and_modes(void **state)
{
    struct credstore *cs = NULL;
    assert_int_equal(credstore_open(g_db, &cs), M2M_OK);
    struct stat st;
    assert_int_equal(stat(g_db, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    const char *bind[] = {"Cae1", "Cae2"};
    char id[M2M_ID_MAX];
    assert_int_equal(
        credstore_add_psk(cs, "ae1@sp.example", KEY, sizeof KEY, bind, 2, id, sizeof id), M2M_OK);
    assert_string_equal(id, "12-ae1@sp.example");
    uint8_t key[CRED_PSK_MAX];
    size_t kl = sizeof key;
    struct cred_binding b;
    assert_int_equal(credstore_psk_lookup(cs, "ae1@sp.example", 14, key, &kl, &b), M2M_OK);
    assert_int_equal(kl, sizeof KEY);
    assert_memory_equal(key, KEY, sizeof KEY);
    assert_string_equal(b.identity, "Cae1");
    assert_int_equal(b.n_bound, 1);
    assert_string_equal(b.bound[0], "Cae2");
    assert_string_equal(b.cred_id, "12-ae1@sp.example");
    /* prefix, longer, embedded NUL, unknown: not found */
    kl = sizeof key;
    assert_int_equal(credstore_psk_lookup(cs, "ae1@sp.exampl", 13, key, &kl, &b),
                     M2M_ERR_NOT_FOUND);
    assert_int_equal(credstore_psk_lookup(cs, "ae1@sp.example\0", 15, key, &kl, &b),
                     M2M_ERR_NOT_FOUND);
    assert_int_equal(credstore_psk_lookup(cs, "nobody@sp", 9, key, &kl, &b), M2M_ERR_NOT_FOUND);
    /* too small a buffer */
    kl = 8;
    assert_int_equal(credstore_psk_lookup(cs, "ae1@sp.example", 14, key, &kl, &b), M2M_ERR_LIMIT);
    /* duplicates, bad keys, bad bindings */
    assert_int_equal(credstore_add_psk(cs, "ae1@sp.example", KEY, sizeof KEY, bind, 1, NULL, 0),
                     M2M_ERR_EXISTS);
    assert_int_equal(credstore_add_psk(cs, "ae2@sp.example", KEY, 15, bind, 1, NULL, 0),
                     M2M_ERR_MALFORMED);
    const char *wild[] = {"C*"};
    assert_int_equal(credstore_add_psk(cs, "ae2@sp.example", KEY, 16, wild, 1, NULL, 0),
                     M2M_ERR_MALFORMED);
    assert_int_equal(credstore_add_psk(cs, "ae2@sp.example", KEY, 16, bind, 0, NULL, 0),
                     M2M_ERR_MALFORMED);
    assert_int_equal(credstore_add_psk(cs, "bad", KEY, 16, bind, 1, NULL, 0), M2M_ERR_MALFORMED);
    credstore_close(cs);
    credstore_close(NULL);
    /* persisted */
    assert_int_equal(credstore_open(g_db, &cs), M2M_OK);
    kl = sizeof key;
    assert_int_equal(credstore_psk_lookup(cs, "ae1@sp.example", 14, key, &kl, &b), M2M_OK);
    credstore_close(cs);
}

/* A name that spells another credential's Credential-ID: revoking by that string takes down the
 * credential whose Credential-ID it is, and only that one; the other is reached by its own
 * Credential-ID. */
static void test_revoke_collision_prefers_credential_id(void **state)
{
    struct credstore *cs = NULL;
    const char *bind[] = {"Cae1"};
    char id1[M2M_ID_MAX], id2[M2M_ID_MAX];
    uint8_t key[CRED_PSK_MAX];
    size_t kl = sizeof key;
    struct cred_binding b;
    assert_int_equal(credstore_open(g_db, &cs), M2M_OK);
    assert_int_equal(credstore_add_psk(cs, "dev@sp.example", KEY, 16, bind, 1, id1, sizeof id1),
                     M2M_OK);
    assert_int_equal(credstore_add_psk(cs, "12-dev@sp.example", KEY, 16, bind, 1, id2, sizeof id2),
                     M2M_OK);
    assert_string_equal(id1, "12-dev@sp.example");
    assert_int_equal(credstore_revoke(cs, "12-dev@sp.example"), M2M_OK);
    assert_true(credstore_is_revoked(cs, id1));
    assert_false(credstore_is_revoked(cs, id2));
    assert_int_equal(credstore_psk_lookup(cs, "12-dev@sp.example", 17, key, &kl, &b), M2M_OK);
    assert_int_equal(credstore_revoke(cs, id2), M2M_OK);
    assert_true(credstore_is_revoked(cs, id2));
    assert_int_equal(credstore_revoke(cs, "nobody@sp.example"), M2M_ERR_NOT_FOUND);
    credstore_close(cs);
}

static void test_revoke_seen_by_other_connection(void **state)
{
    struct credstore *srv = NULL, *cli = NULL;
    const char *bind[] = {"Cae1"};
    assert_int_equal(credstore_open(g_db, &srv), M2M_OK);
    assert_int_equal(credstore_open(g_db, &cli), M2M_OK);
    assert_int_equal(credstore_add_psk(cli, "ae1@sp.example", KEY, 16, bind, 1, NULL, 0), M2M_OK);
    uint64_t g0 = credstore_generation(srv);
    uint8_t key[CRED_PSK_MAX];
    size_t kl = sizeof key;
    struct cred_binding b;
    assert_int_equal(credstore_psk_lookup(srv, "ae1@sp.example", 14, key, &kl, &b), M2M_OK);
    assert_false(credstore_is_revoked(srv, "12-ae1@sp.example"));
    assert_int_equal(credstore_revoke(cli, "ae1@sp.example"), M2M_OK); /* by name */
    uint64_t g1 = credstore_generation(srv);
    assert_true(g1 != g0);
    assert_true(credstore_is_revoked(srv, "12-ae1@sp.example"));
    assert_false(credstore_is_revoked(srv, "cert:00"));
    assert_false(credstore_is_revoked(srv, ""));
    kl = sizeof key;
    assert_int_equal(credstore_psk_lookup(srv, "ae1@sp.example", 14, key, &kl, &b),
                     M2M_ERR_NOT_FOUND);
    assert_int_equal(credstore_generation(srv), g1); /* stable without changes */
    assert_int_equal(credstore_revoke(cli, "12-ae1@sp.example"), M2M_OK); /* again: no-op */
    assert_int_equal(credstore_revoke(cli, "12-none@sp"), M2M_ERR_NOT_FOUND);
    /* a revoked identity is not provisioned again */
    assert_int_equal(credstore_add_psk(cli, "ae1@sp.example", KEY, 16, bind, 1, NULL, 0),
                     M2M_ERR_EXISTS);
    credstore_close(cli);
    credstore_close(srv);
}

struct seen {
    int n;
    char text[2048];
};

static void on_list(void *ctx, const struct cred_info *ci)
{
    struct seen *s = ctx;
    s->n++;
    size_t l = strlen(s->text);
    snprintf(s->text + l, sizeof s->text - l, "%s|%d|%zu|%d|%s;", ci->cred_id, (int)ci->kind,
             ci->key_len, ci->revoked, ci->b.identity);
}

static gnutls_datum_t make_spki(gnutls_pk_algorithm_t alg, unsigned bits)
{
    gnutls_privkey_t pk;
    gnutls_pubkey_t pub;
    gnutls_datum_t der = {NULL, 0};
    assert_int_equal(gnutls_privkey_init(&pk), 0);
    assert_int_equal(gnutls_privkey_generate(pk, alg, bits, 0), 0);
    assert_int_equal(gnutls_pubkey_init(&pub), 0);
    assert_int_equal(gnutls_pubkey_import_privkey(pub, pk, 0, 0), 0);
    assert_int_equal(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der), 0);
    gnutls_pubkey_deinit(pub);
    gnutls_privkey_deinit(pk);
    return der;
}

static void test_rpk_node_list_and_hooks(void **state)
{
    struct credstore *cs = NULL;
    assert_int_equal(credstore_open(g_db, &cs), M2M_OK);
    gnutls_datum_t spki =
        make_spki(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1));
    const char *bind[] = {"Crpk"};
    char id[M2M_ID_MAX], ni[TLS_NI_ID_MAX];
    assert_int_equal(credstore_add_rpk(cs, spki.data, spki.size, bind, 1, id, sizeof id), M2M_OK);
    assert_int_equal(tls_rpk_ni_id(spki.data, spki.size, ni, sizeof ni), M2M_OK);
    assert_int_equal(strncmp(ni, "ni:///sha-256;", 14), 0);
    assert_int_equal(strlen(ni), 14 + 43); /* 32 bytes in unpadded base64url */
    assert_string_equal(id + 3, ni);
    assert_int_equal(strncmp(id, "30-", 3), 0);
    struct cred_binding b;
    assert_int_equal(credstore_rpk_lookup(cs, ni, &b), M2M_OK);
    assert_string_equal(b.identity, "Crpk");
    /* truncated or altered SPKI, other curves: refused */
    assert_int_equal(credstore_add_rpk(cs, spki.data, spki.size - 1, bind, 1, NULL, 0),
                     M2M_ERR_MALFORMED);
    gnutls_datum_t p384 =
        make_spki(GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1));
    assert_int_equal(credstore_add_rpk(cs, p384.data, p384.size, bind, 1, NULL, 0),
                     M2M_ERR_MALFORMED);
    gnutls_free(p384.data);
    gnutls_free(spki.data);
    /* node binding */
    const char *aes[] = {"Cn1", "Cn2", "Cn3"};
    assert_int_equal(credstore_add_node(cs, CRED_NODE, "urn:dev:ops:n1", aes, 3, id, sizeof id),
                     M2M_OK);
    assert_string_equal(id, "34-urn:dev:ops:n1");
    assert_int_equal(credstore_add_node(cs, CRED_NODE, "node1", aes, 1, NULL, 0),
                     M2M_ERR_MALFORMED);
    assert_int_equal(credstore_node_lookup(cs, "urn:dev:ops:n1", &b), M2M_OK);
    assert_int_equal(b.n_bound, 2);
    assert_int_equal(credstore_node_lookup(cs, "urn:dev:ops:n2", &b), M2M_ERR_NOT_FOUND);
    /* hooks */
    struct tls_cred_hooks h;
    credstore_tls_hooks(cs, &h);
    const char *pb[] = {"Cp"};
    assert_int_equal(credstore_add_psk(cs, "p@sp.example", KEY, 16, pb, 1, NULL, 0), M2M_OK);
    uint8_t key[TLS_PSK_KEY_MAX];
    size_t kl = sizeof key;
    struct m2m_secctx sec;
    memset(&sec, 0, sizeof sec);
    assert_int_equal(h.psk_lookup(h.ctx, "p@sp.example", 12, key, &kl, &sec), M2M_OK);
    assert_string_equal(sec.identity, "Cp");
    assert_string_equal(sec.cred_id, "12-p@sp.example");
    assert_int_equal(h.node_lookup(h.ctx, "urn:dev:ops:n1", &sec), M2M_OK);
    assert_int_equal(sec.n_bound, 2);
    assert_int_equal(credstore_revoke(cs, "34-urn:dev:ops:n1"), M2M_OK);
    assert_int_equal(h.node_lookup(h.ctx, "urn:dev:ops:n1", &sec), M2M_ERR_DENIED);
    assert_true(h.is_revoked(h.ctx, "34-urn:dev:ops:n1"));
    /* list: every credential, never a key */
    struct seen s = {0};
    assert_int_equal(credstore_list(cs, on_list, &s), M2M_OK);
    assert_int_equal(s.n, 3);
    assert_non_null(strstr(s.text, "12-p@sp.example|1|16|0|Cp;"));
    assert_non_null(strstr(s.text, "34-urn:dev:ops:n1|3|0|1|Cn1;"));
    credstore_tls_hooks(NULL, &h);
    assert_null(h.psk_lookup);
    credstore_close(cs);
}

static void test_open_failures_and_modes(void **state)
{
    struct credstore *cs = NULL;
    char path[300];
    snprintf(path, sizeof path, "%s/nodir/credentials.db", g_dir);
    assert_int_equal(credstore_open(path, &cs), M2M_ERR_IO);
    assert_null(cs);
    /* a world-readable file is narrowed to 0600 */
    FILE *f = fopen(g_db, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(chmod(g_db, 0644), 0);
    assert_int_equal(credstore_open(g_db, &cs), M2M_OK);
    struct stat st;
    assert_int_equal(stat(g_db, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    credstore_close(cs);
    /* not a database */
    f = fopen(g_db, "w");
    assert_non_null(f);
    fputs("this is not an SQLite database, not at all, no no no no no no no no no no no", f);
    fclose(f);
    assert_int_not_equal(credstore_open(g_db, &cs), M2M_OK);
    assert_null(cs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kpsaid_and_binding_rules),
        cmocka_unit_test_setup(test_psk_add_lookup_and_modes, fresh),
        cmocka_unit_test_setup(test_revoke_seen_by_other_connection, fresh),
        cmocka_unit_test_setup(test_revoke_collision_prefers_credential_id, fresh),
        cmocka_unit_test_setup(test_rpk_node_list_and_hooks, fresh),
        cmocka_unit_test_setup(test_open_failures_and_modes, fresh),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
