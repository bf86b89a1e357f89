"""test_saef_psk.py: the Provisioned Symmetric Key and raw-public-key SAEFs on the HTTPS listener
(TS-0003 8.2.2.1, 8.1.2.5, 10.2.2; SPEC-MAP F2-F4, F6, B3-B5) with independent peers: openssl
s_client and gnutls-cli. A PSK bound to an AE-ID lets that AE register and read; wrong keys,
unknown identities, non-mandated suites, unprovisioned raw keys, expired or wildcard-named
certificates fail in the handshake (no application data); From not matching the binding gets
4106; revoking a credential ends a live keep-alive session; `m2msec cred list` never shows keys."""

import json
import os
import select
import shutil
import stat
import subprocess
import time

import m2mtest
from m2mtest import CSE_RN, HOST, SP_ID, CseTestCase

SP = SP_ID
KEY1 = "00112233445566778899aabbccddeeff"
KEY_WRONG = "00112233445566778899aabbccddeefe"


def http_req(method, path, origin, body=None, ty=None, keep_alive=False):
    """One HTTP/1.1 request as bytes."""
    data = json.dumps(body).encode() if body is not None else b""
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % HOST, "X-M2M-Origin: %s" % origin,
             "X-M2M-RI: %s" % m2mtest.new_rqi(), "X-M2M-RVI: 3", "Accept: application/json"]
    if ty is not None:
        lines.append("Content-Type: application/json;ty=%d" % ty)
    if data or method in ("POST", "PUT"):
        lines.append("Content-Length: %d" % len(data))
    lines.append("Connection: %s" % ("keep-alive" if keep_alive else "close"))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


class SaefPskTest(CseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for tool in ("openssl", "gnutls-cli", "certtool"):
            if shutil.which(tool) is None:
                raise AssertionError("%s is required for the interop tests" % tool)
        cls.cred("add-psk", "--identity", "ae1@" + SP, "--key-hex", KEY1, "--bind", "Cpsk1")
        cls.cred("add-psk", "--identity", "ae2@" + SP, "--key-hex", KEY1, "--bind", "Cpsk2")

    # -- helpers ---------------------------------------------------------------------------
    @classmethod
    def cred(cls, *args, check=True):
        p = subprocess.run([m2mtest.BIN, "cred", args[0], "--data-dir", cls.cse.data_dir]
                           + list(args[1:]), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError("cred %s failed: %s" % (args, p.stderr.decode(errors="replace")))
        return p

    def openssl(self, data, identity, key, *opts):
        """Runs openssl s_client with a PSK; returns (stdout bytes, parsed responses)."""
        cmd = ["openssl", "s_client", "-connect", "%s:%d" % (HOST, self.cse.https_port),
               "-psk_identity", identity, "-psk", key, "-quiet"] + list(opts)
        p = subprocess.run(cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        return p.stdout, m2mtest.parse_responses(p.stdout)

    def gnutls(self, data, *opts):
        """Runs gnutls-cli; stdin stays open until the server closes (gnutls-cli would quit on
        EOF before the answer). Returns (stdout bytes, parsed responses)."""
        cmd = ["gnutls-cli", "--port", str(self.cse.https_port), HOST,
               "--x509cafile", self.cse.ca_pem] + list(opts)
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        out = b""
        try:
            p.stdin.write(data)
            p.stdin.flush()
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                r, _, _ = select.select([p.stdout], [], [], 0.2)
                if r:
                    chunk = os.read(p.stdout.fileno(), 65536)
                    if not chunk:
                        break
                    out += chunk
                elif p.poll() is not None:
                    break
        finally:
            p.kill()
            p.wait(10)
        at = out.find(b"HTTP/1.1 ")
        return out, m2mtest.parse_responses(out[at:]) if at >= 0 else []

    def rsc_of(self, responses):
        self.assertEqual(len(responses), 1, responses)
        return int(responses[0][1].get("x-m2m-rsc", "0"))

    def register(self, origin, rn, identity, key, *opts):
        body = {"m2m:ae": {"rn": rn, "api": "Nsaef", "rr": False, "srv": ["3"]}}
        out, rs = self.openssl(http_req("POST", "/" + CSE_RN, origin, body, ty=2), identity,
                               key, *opts)
        return rs

    def assert_no_app_data(self, out):
        self.assertNotIn(b"HTTP/1.1", out, "application data after a failed handshake")

    # -- PSK: success ----------------------------------------------------------------------
    def test_01_openssl_psk_mandatory_suite_register_and_read(self):
        rs = self.register("Cpsk1", "psk1", "ae1@" + SP, KEY1, "-tls1_2", "-cipher",
                           "PSK-AES128-CBC-SHA256")
        self.assertIn(self.rsc_of(rs), (2001, 4117))
        out, rs = self.openssl(http_req("GET", "/%s/psk1" % CSE_RN, "Cpsk1"), "ae1@" + SP, KEY1,
                               "-tls1_2", "-cipher", "PSK-AES128-CBC-SHA256")
        self.assertEqual(self.rsc_of(rs), 2000)
        self.assertEqual(json.loads(rs[0][2])["m2m:ae"]["aei"], "Cpsk1")

    def test_02_openssl_ecdhe_psk_and_tls13(self):
        self.register("Cpsk1", "psk1", "ae1@" + SP, KEY1, "-tls1_2")
        for opts in (("-tls1_2", "-cipher", "ECDHE-PSK-AES128-CBC-SHA256"), ("-tls1_3",)):
            out, rs = self.openssl(http_req("GET", "/%s/psk1" % CSE_RN, "Cpsk1"), "ae1@" + SP,
                                   KEY1, *opts)
            self.assertEqual(self.rsc_of(rs), 2000, opts)

    def test_03_gnutls_cli_psk(self):
        self.register("Cpsk1", "psk1", "ae1@" + SP, KEY1, "-tls1_2")
        # gnutls-cli 3.7.9 itself crashes after a TLS 1.2 ECDHE-PSK handshake (openssl covers
        # that suite above); TLS 1.2 plain PSK with the mandatory suite, TLS 1.3 with and
        # without key share.
        mandatory = "NORMAL:-VERS-TLS1.3:-KX-ALL:+PSK:-CIPHER-ALL:+AES-128-CBC:-MAC-ALL:+SHA256"
        for prio in (mandatory, "NORMAL:-KX-ALL:+ECDHE-PSK", "NORMAL:-KX-ALL:+PSK"):
            out, rs = self.gnutls(http_req("GET", "/%s/psk1" % CSE_RN, "Cpsk1"),
                                  "--pskusername", "ae1@" + SP, "--pskkey", KEY1,
                                  "--priority", prio)
            self.assertEqual(self.rsc_of(rs), 2000, (prio, out[-400:]))

    def test_04_registration_with_C_gets_the_bound_ae_id(self):
        rs = self.register("C", "psk2", "ae2@" + SP, KEY1, "-tls1_2")
        self.assertEqual(self.rsc_of(rs), 2001)
        self.assertEqual(json.loads(rs[0][2])["m2m:ae"]["aei"], "Cpsk2")

    # -- PSK: failures ---------------------------------------------------------------------
    def test_10_wrong_key_unknown_identity_weak_suites_fail_in_handshake(self):
        req = http_req("GET", "/" + CSE_RN, "Cpsk1")
        cases = [("ae1@" + SP, KEY_WRONG, ("-tls1_2", "-cipher", "PSK-AES128-CBC-SHA256")),
                 ("ae1@" + SP, KEY_WRONG, ("-tls1_3",)),
                 ("nobody@" + SP, KEY1, ("-tls1_2", "-cipher", "PSK-AES128-CBC-SHA256")),
                 ("nobody@" + SP, KEY1, ("-tls1_3",)),
                 ("ae1@" + SP, KEY1, ("-tls1_2", "-cipher", "PSK-AES128-CBC-SHA")),
                 ("ae1@" + SP, KEY1, ("-tls1_2", "-cipher", "PSK-AES256-CBC-SHA384")),
                 ("ae1@" + SP, KEY1, ("-tls1_1", "-cipher", "PSK-AES128-CBC-SHA@SECLEVEL=0"))]
        for ident, key, opts in cases:
            out, rs = self.openssl(req, ident, key, *opts)
            self.assert_no_app_data(out)
            self.assertEqual(rs, [], (ident, opts))
        out, rs = self.gnutls(req, "--pskusername", "ae1@" + SP, "--pskkey", KEY_WRONG,
                              "--priority", "NORMAL:-KX-ALL:+PSK")
        self.assert_no_app_data(out)

    def test_11_from_not_bound_to_the_psk_gets_4106(self):
        for origin in ("Cpsk2", "Cintruder", "/id-mn"):
            out, rs = self.openssl(http_req("GET", "/" + CSE_RN, origin), "ae1@" + SP, KEY1,
                                   "-tls1_2")
            self.assertEqual(self.rsc_of(rs), 4106, origin)
        rs = self.register("Cother", "other", "ae1@" + SP, KEY1, "-tls1_2")
        self.assertEqual(self.rsc_of(rs), 4106)

    # -- revocation ------------------------------------------------------------------------
    def test_20_revoke_ends_live_keepalive_session(self):
        self.cred("add-psk", "--identity", "rev@" + SP, "--key-hex", KEY1, "--bind", "Crev")
        self.register("Crev", "rev", "rev@" + SP, KEY1, "-tls1_2")
        cmd = ["openssl", "s_client", "-connect", "%s:%d" % (HOST, self.cse.https_port),
               "-psk_identity", "rev@" + SP, "-psk", KEY1, "-tls1_2", "-quiet"]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        try:
            p.stdin.write(http_req("GET", "/%s/rev" % CSE_RN, "Crev", keep_alive=True))
            p.stdin.flush()
            got = self.read_response(p.stdout, 10)
            self.assertIn(b"X-M2M-RSC: 2000", got)
            t0 = time.monotonic()
            self.cred("revoke", "12-rev@" + SP)
            # the server closes the connection within a tick (250 ms) of noticing
            deadline = time.monotonic() + 5
            closed = False
            while time.monotonic() < deadline:
                r, _, _ = select.select([p.stdout], [], [], 0.2)
                if r and not os.read(p.stdout.fileno(), 65536):
                    closed = True
                    break
            self.assertTrue(closed, "the live session of a revoked credential stayed open")
            self.assertLess(time.monotonic() - t0, 5)
        finally:
            p.kill()
            p.wait(10)
        out, rs = self.openssl(http_req("GET", "/%s/rev" % CSE_RN, "Crev"), "rev@" + SP, KEY1,
                               "-tls1_2")
        self.assert_no_app_data(out)
        self.assertIn("revoked", self.cred("list").stdout.decode())

    @staticmethod
    def read_response(f, timeout):
        buf = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not m2mtest.parse_responses(buf):
            r, _, _ = select.select([f], [], [], 0.2)
            if r:
                chunk = os.read(f.fileno(), 65536)
                if not chunk:
                    break
                buf += chunk
        return buf

    # -- raw public keys -------------------------------------------------------------------
    def rpk(self, name):
        key = os.path.join(self.cse.work, name + ".key")
        pub = os.path.join(self.cse.work, name + ".pub")
        if not os.path.exists(pub):
            subprocess.run(["certtool", "--generate-privkey", "--key-type", "ecdsa",
                            "--outfile", key], check=True, capture_output=True, timeout=60)
            subprocess.run(["certtool", "--load-privkey", key, "--pubkey-info", "--outfile",
                            pub], check=True, capture_output=True, timeout=60)
        return key, pub

    def test_30_raw_public_key_bound_identity(self):
        key, pub = self.rpk("rpk1")
        p = self.cred("add-rpk", "--pubkey", pub, "--bind", "Crpk1")
        self.assertIn("added 30-ni:///sha-256;", p.stdout.decode())
        opts = ("--rawpkkeyfile", key, "--rawpkfile", pub,
                "--priority", "NORMAL:-CTYPE-CLI-ALL:+CTYPE-CLI-RAWPK")
        body = {"m2m:ae": {"rn": "rpk1", "api": "Nrpk", "rr": False, "srv": ["3"]}}
        out, rs = self.gnutls(http_req("POST", "/" + CSE_RN, "Crpk1", body, ty=2), *opts)
        self.assertEqual(self.rsc_of(rs), 2001, out[-300:])
        out, rs = self.gnutls(http_req("GET", "/%s/rpk1" % CSE_RN, "Crpk1"), *opts)
        self.assertEqual(self.rsc_of(rs), 2000)
        out, rs = self.gnutls(http_req("GET", "/%s/rpk1" % CSE_RN, "Cpsk1"), *opts)
        self.assertEqual(self.rsc_of(rs), 4106)

    def test_31_unprovisioned_raw_public_key_fails_in_handshake(self):
        key, pub = self.rpk("rpk-unknown")
        out, rs = self.gnutls(http_req("GET", "/" + CSE_RN, "Crpk9"), "--rawpkkeyfile", key,
                              "--rawpkfile", pub, "--priority",
                              "NORMAL:-CTYPE-CLI-ALL:+CTYPE-CLI-RAWPK")
        self.assert_no_app_data(out)

    # -- certificates ----------------------------------------------------------------------
    def bad_cert(self, name, template):
        tpl = os.path.join(self.cse.work, name + ".tpl")
        key = os.path.join(self.cse.work, name + ".key")
        crt = os.path.join(self.cse.work, name + ".pem")
        with open(tpl, "w") as f:
            f.write(template + "tls_www_client\nsigning_key\ncn = %s\n" % name)
        pki = os.path.join(self.cse.data_dir, "pki")
        subprocess.run(["certtool", "--generate-privkey", "--key-type", "ecdsa", "--outfile",
                        key], check=True, capture_output=True, timeout=60)
        subprocess.run(["certtool", "--generate-certificate", "--load-privkey", key,
                        "--load-ca-certificate", os.path.join(pki, "ca.pem"),
                        "--load-ca-privkey", os.path.join(pki, "ca.key"), "--template", tpl,
                        "--outfile", crt], check=True, capture_output=True, timeout=60)
        return crt, key

    def test_40_expired_or_wildcard_certificate_fails_in_handshake(self):
        certs = [self.bad_cert("expired", 'uri = "//%s/id-in/Cexp"\n'
                               'activation_date = "2001-01-01 00:00:00"\n'
                               'expiration_date = "2002-01-01 00:00:00"\n' % SP),
                 self.bad_cert("wild", 'uri = "//%s/id-in/C*"\n' % SP),
                 self.bad_cert("wilddns", 'dns_name = "*.%s"\n' % SP)]
        for crt, key in certs:
            out, rs = self.gnutls(http_req("GET", "/" + CSE_RN, "Cexp"), "--x509certfile", crt,
                                  "--x509keyfile", key)
            self.assert_no_app_data(out)
        good = self.cse.issue_cert("//%s/id-in/Cgood" % SP, "Cgood")
        out, rs = self.gnutls(http_req("GET", "/" + CSE_RN, "Cnot-me"), "--x509certfile",
                              good[0], "--x509keyfile", good[1])
        self.assertEqual(self.rsc_of(rs), 4106)

    # -- administration --------------------------------------------------------------------
    def test_50_cred_list_and_file_modes(self):
        out = self.cred("list").stdout.decode()
        self.assertIn("12-ae1@%s" % SP, out)
        self.assertIn("<secret:16>", out)
        self.assertNotIn(KEY1, out)
        self.assertNotIn(KEY1.upper(), out)
        db = os.path.join(self.cse.data_dir, "credentials.db")
        self.assertEqual(stat.S_IMODE(os.stat(db).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.cse.data_dir).st_mode) & 0o077, 0)
        p = self.cred("add-psk", "--identity", "ae1@" + SP, "--key-hex", KEY1, "--bind",
                      "Cpsk1", check=False)
        self.assertEqual(p.returncode, 1)  # an identity is provisioned once
        for bad in (["--identity", "no-at-sign", "--key-hex", KEY1, "--bind", "Cx"],
                    ["--identity", "short@" + SP, "--key-hex", "0011", "--bind", "Cx"],
                    ["--identity", "wild@" + SP, "--key-hex", KEY1, "--bind", "C*"],
                    ["--identity", "x@" + SP, "--key-hex", "zz" * 16, "--bind", "Cx"]):
            self.assertNotEqual(self.cred("add-psk", *bad, check=False).returncode, 0, bad)
        self.assertEqual(self.cred("revoke", "12-none@" + SP, check=False).returncode, 1)
        g = self.cred("add-psk", "--identity", "gen@" + SP, "--generate", "--bind", "Cgen")
        self.assertRegex(g.stdout.decode(), r"key: [0-9a-f]{64}")


if __name__ == "__main__":
    m2mtest.main()
