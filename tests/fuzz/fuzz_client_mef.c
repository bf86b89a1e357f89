/* fuzz_client_mef.c: what the device client library parses from a MEF (peer data), all on the
 * same input: the sec:enr, sec:mcr, sec:mcc and sec:fcr answer parsers of src/client/client_mef.c,
 * the command decision taken on a parsed sec:mcc, the keID check of an enrolment, and the
 * base64 decoder of src/client/client_est.c. Checks: accepted answers hold what the parsers
 * promise (identifiers printable, bounds kept), a refused fetchCredentials leaves the key buffer
 * wiped, a decision to run EST only for an https URI on the MEF and a subject of an allowed kind,
 * and base64 that re-encodes and decodes to the same bytes and never writes past its capacity. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client/client_internal.h"
#include "crypto/kdf.h"

#define FQDN "mef.m2msec.test"

/* A NUL-terminated identifier of printable ASCII without space within cap bytes. */
static bool id_ok(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == 0 || n == cap)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

static void check_enr(const uint8_t *in, size_t len)
{
    static const uint8_t rel[KDF_EXPORT_ID_LEN] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                                   0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe};
    static const char want[] = "0123456789abcdef1032547698badcfe@" FQDN;
    struct m2msec_enrolment e;
    if (cl_mef_parse_enr(in, len, &e) != M2MSEC_OK)
        return;
    if (!id_ok(e.keid, sizeof e.keid) || !id_ok(e.enrolee_id, sizeof e.enrolee_id) ||
        e.n_targets < 0 || e.n_targets > M2MSEC_MEF_MAX_TARGETS)
        abort();
    for (int i = 0; i < e.n_targets; i++)
        if (!id_ok(e.targets[i].target_id, sizeof e.targets[i].target_id) ||
            !id_ok(e.targets[i].fqdn, sizeof e.targets[i].fqdn) || e.targets[i].suid < 1 ||
            e.targets[i].suid > 999)
            abort();
    /* TS-0003 10.3.4: only the keID naming our RelativeKeID at our MEF passes. */
    if (cl_mef_keid_check(e.keid, rel, FQDN) == M2MSEC_OK && strcasecmp(e.keid, want) != 0)
        abort();
    m2msec_enrolment_wipe(&e);
}

static void check_mcr(const uint8_t *in, size_t len, size_t cap)
{
    char *id = malloc(cap);
    if (id == NULL)
        return;
    if (cl_mef_parse_mcr(in, len, id, cap) == M2MSEC_OK &&
        (!id_ok(id, cap) ||
         strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") !=
             strlen(id)))
        abort();
    free(id);
}

/* The decision on a parsed command: RUN_EST only for what 8.3.9.7 allows. */
static void check_decide(const struct cl_mef_cmd *cmd, unsigned types, const char *last)
{
    struct m2msec_mef_cmd_env env = {.mef_fqdn = FQDN, .subject_types = types};
    struct cl_mef_decision d;
    cl_mef_decide(cmd, &env, last, &d);
    /* 8.3.9.2 step 5: the cmdID last reported, whatever it says, is only reported as repeated. */
    if (last != NULL && last[0] && strcmp(cmd->id, last) == 0 &&
        (d.act != CL_MEF_REPORT || d.status != CL_MEF_ST_REPEATED_CMD_ID))
        abort();
    switch (d.act) {
    case CL_MEF_STOP:
        if (cmd->class_id != CL_MEF_NO_MORE_COMMANDS || !cmd->args_ok)
            abort();
        break;
    case CL_MEF_RUN_EST:
        if (cmd->class_id != CL_MEF_CERT_PROV || !cmd->args_ok || cmd->protocol != 1 ||
            cl_mef_uri_path(cmd->uri, FQDN) == NULL || cmd->subject_type < 1 ||
            cmd->subject_type > 3 || (types && !(types & (1u << cmd->subject_type))) ||
            !cl_mef_subject_kind_ok(cmd->subject_type, cmd->subject_id) ||
            strchr(cmd->subject_id, '*') != NULL)
            abort();
        break;
    case CL_MEF_REPORT:
        if (d.status != CL_MEF_ST_REPEATED_CMD_ID && d.status != CL_MEF_ST_CLASS_NOT_SUPPORTED &&
            d.status != CL_MEF_ST_BAD_ARGUMENTS && d.status != CL_MEF_ST_UNACCEPTABLE_ARGUMENTS)
            abort();
        break;
    default: abort();
    }
}

static void check_cmd(const uint8_t *in, size_t len)
{
    struct cl_mef_cmd cmd;
    if (cl_mef_parse_cmd(in, len, &cmd) != M2MSEC_OK)
        return;
    if (!id_ok(cmd.id, sizeof cmd.id) || strspn(cmd.id, "0123456789") != strlen(cmd.id) ||
        cmd.class_id < -1 || cmd.class_id > 255 || (cmd.class_id == -1 && cmd.args_ok) ||
        cmd.status < 0 || cmd.status > 999 || !memchr(cmd.target_id, 0, sizeof cmd.target_id) ||
        !memchr(cmd.retry, 0, sizeof cmd.retry) || !memchr(cmd.uri, 0, sizeof cmd.uri) ||
        !memchr(cmd.subject_id, 0, sizeof cmd.subject_id))
        abort();
    if (cmd.args_ok && cmd.class_id == CL_MEF_CERT_PROV) {
        const char *p = cl_mef_uri_path(cmd.uri, FQDN);
        if (p != NULL && (p < cmd.uri || p >= cmd.uri + strlen(cmd.uri) || *p != '/'))
            abort();
    }
    check_decide(&cmd, 0, NULL);
    check_decide(&cmd, 1u << 3, "1");
    check_decide(&cmd, 1u << 1 | 1u << 2, cmd.id);
}

static void check_fcr(const uint8_t *in, size_t len)
{
    uint8_t key[64];
    char enrolee[32];
    size_t key_len = sizeof key;
    int64_t life = -1;
    memset(key, 0xAA, sizeof key);
    memset(enrolee, 'x', sizeof enrolee);
    if (cl_mef_parse_fcr(in, len, key, &key_len, enrolee, sizeof enrolee, &life) != M2MSEC_OK) {
        for (size_t i = 0; i < sizeof key; i++)
            if (key[i] != 0 && key[i] != 0xAA)
                abort(); /* whatever was decoded of a refused key is wiped */
        return;
    }
    if (key_len != M2MSEC_KEY_LEN || life < 0 || life > INT32_MAX ||
        !memchr(enrolee, 0, sizeof enrolee) || (enrolee[0] && !id_ok(enrolee, sizeof enrolee)))
        abort();
}

/* Accepted base64 decodes to bytes that encode to a string decoding to the same bytes; the
 * length follows from the characters; a buffer one byte short is refused, not overrun. */
static void check_b64(const uint8_t *in, size_t len)
{
    size_t cap = len / 4 * 3 + 3, n = 0, m = 0, chars = 0, pad = 0;
    uint8_t *out = malloc(cap), *again = malloc(cap);
    char *enc = NULL;
    if (out == NULL || again == NULL || cl_b64_decode(in, len, out, cap, &n) != M2MSEC_OK)
        goto out;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '=')
            pad++;
        else if (in[i] != '\r' && in[i] != '\n' && in[i] != ' ' && in[i] != '\t')
            chars++;
    }
    if (n > cap || (chars + pad) % 4 != 0 || pad > 2 || n != (chars + pad) / 4 * 3 - pad)
        abort();
    size_t el = (n + 2) / 3 * 4 + 1;
    enc = malloc(el);
    if (enc == NULL || cl_b64_encode(out, n, enc, el) != M2MSEC_OK ||
        cl_b64_decode((const uint8_t *)enc, strlen(enc), again, cap, &m) != M2MSEC_OK || m != n ||
        memcmp(out, again, n) != 0)
        abort();
    if (n > 0 && cl_b64_decode(in, len, again, n - 1, &m) == M2MSEC_OK)
        abort();
out:
    free(out);
    free(again);
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
    check_enr(in, len);
    check_mcr(in, len, 256);
    check_mcr(in, len, 8);
    check_cmd(in, len);
    check_fcr(in, len);
    check_b64(in, len);
    return 0;
}
