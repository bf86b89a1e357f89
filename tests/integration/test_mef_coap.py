"""test_mef_coap.py: the Mmef interface over CoAPS (TS-0008 binding on DTLS 1.2, docs/MEF.md
"Transport"), real processes only: `m2msec mef serve` with its CoAPS listener, `m2msec client`
with coaps:// URLs, coap-client (libcoap3-bin) and gnutls-cli --udp as independent DTLS peers, and
an `m2msec cse` Enrolment Target that fetches the key of an enrolment made over CoAPS.

Covered: enrolment (KeID equal to the MEF's record, the derived key accepted by the CSE and equal
to fetchCredentials over CoAPS), client registration CRUD, the command loop (EST stays on HTTPS),
key registration, fetchCredentials and its denials, certificate clients, the mandatory
TLS_PSK_WITH_AES_128_CCM_8 suite, a wrong Kpm and plain CoAP refused without application data.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import m2mtest
from m2mtest import HOST, MEF_FQDN, Cse

SUID = 22
ADMIN_FQDN = "sp.m2msec.test"
IN_ID, IN_FQDN = "/id-in", "in.m2msec.test"
IN_KPMID, IN_KPM = "in@" + MEF_FQDN, "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
DEV1, DEV1_KPMID = "Cdev1", "dev1@" + MEF_FQDN
DEV1_KPM = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
PEER, PEER_KPMID, PEER_KPM = "/id-in/Cpeer", "peer@" + MEF_FQDN, "5f5e5d5c5b5a59585756555453525150"
# coap-client takes the PSK as text: a Kpm of printable non-hex bytes (add-kpm reads it raw)
CC, CC_KPMID, CC_KPM = "Ccc", "cc@" + MEF_FQDN, "kpm-for-the-coap-client-tool!"
AE9 = "//m2msec.example.com/id-in/Cae9"
CCM8 = ("NORMAL:-VERS-ALL:+VERS-DTLS1.2:-CIPHER-ALL:+AES-128-CCM-8:-KX-ALL:+PSK:-MAC-ALL:+AEAD"
        ":-SIGN-ALL:+SIGN-ALL")
COAP_CLIENT = shutil.which("coap-client-gnutls") or shutil.which("coap-client")
GNUTLS_CLI = shutil.which("gnutls-cli")
COAP_M2M_FR, COAP_M2M_RQI = 279, 283  # oneM2M-FR, oneM2M-RQI (TS-0008 Table 6.2.2.2-1)
LABEL_USAGE = b"oneM2M Enrolment Key to Usage-Constrained Symmetric Key derivation"


def m2m(*args, timeout=60):
    """Runs the m2msec binary; returns (rc, stdout, stderr)."""
    p = subprocess.run([m2mtest.BIN] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def coap_option(delta, value):
    """One CoAP option (RFC 7252 3.1): delta from the previous number, extended forms."""
    def nib(x):
        return (x, b"") if x < 13 else (13, bytes([x - 13])) if x < 269 else \
            (14, (x - 269).to_bytes(2, "big"))
    d, dx = nib(delta)
    n, nx = nib(len(value))
    return bytes([d << 4 | n]) + dx + nx + value


def coap_enrol_request(origin):
    """CON POST /mef?ty=905 with From and RQI and body {"sec:enr":{}}, built here (no byte is
    0x0a, so gnutls-cli sends it as one record)."""
    opts = [(11, b"mef"), (12, b"\x32"), (15, b"ty=905"), (COAP_M2M_FR, origin.encode()),
            (COAP_M2M_RQI, b"rqi-gnutls")]
    msg, last = bytes([0x44, 0x02, 0x12, 0x34]) + b"tok1", 0
    for num, val in opts:
        msg += coap_option(num - last, val)
        last = num
    return msg + b"\xff" + b'{"sec:enr":{}}'


class CoapMef(m2mtest.Mef):
    """The harness's MEF, also reading the CoAPS listener of its READY line."""

    coaps_port = None

    def _parse_ready(self, line):
        super()._parse_ready(line)
        m = re.search(r"\bcoaps=([0-9.]+):(\d+)", line)
        if not m or m.group(1) != HOST:
            self.kill9()
            raise AssertionError("READY line without the CoAPS listener: %r" % line)
        self.coaps_port = int(m.group(2))
        self.ready_line = line

    def listing(self, what):
        out = self.admin("list", "--" + what).stdout
        return [l for l in out.splitlines() if l.strip() and not l.startswith("#")]


class MefCoapTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        for tool in (COAP_CLIENT, GNUTLS_CLI):
            if tool is None:
                raise AssertionError("coap-client (libcoap3-bin) and gnutls-cli are required")
        cls.mef = cls.cse = None
        cls.out = tempfile.mkdtemp(prefix="m2msec-mefcoap-")
        m2mtest._workdirs.append(cls.out)
        mef = cls.mef = CoapMef(start=False)
        mef.add_kpm(DEV1_KPMID, DEV1_KPM, DEV1)
        mef.add_kpm(IN_KPMID, IN_KPM, IN_ID)
        mef.add_kpm(PEER_KPMID, PEER_KPM, PEER)
        raw = os.path.join(cls.out, "cc.kpm")
        with open(raw, "w") as f:
            f.write(CC_KPM)
        mef.admin("add-kpm", "--kpmid", CC_KPMID, "--key-file", raw, "--identity", CC)
        mef.admin("add-target", "--id", IN_ID, "--fqdn", IN_FQDN)
        mef.admin("add-target", "--id", PEER, "--fqdn", "peer.m2msec.test")
        mef.admin("allow", "--enrolee", DEV1, "--target", IN_ID, "--suid", SUID)
        mef.start()
        in_kpm = cls.secret("in.kpm", IN_KPM)
        # the Enrolment Target fetches from the MEF over HTTPS, as in test_mef_e2e.py
        cls.cse = Cse("--set", "mef.url=https://%s:%d" % (HOST, mef.port),
                      "--set", "mef.fqdn=" + MEF_FQDN, "--set", "mef.ca_file=" + mef.ca_pem,
                      "--set", "mef.timeout_ms=3000", "--set", "mef.psk_identity=" + IN_KPMID,
                      "--set", "mef.psk_key_file=" + in_kpm)

    @classmethod
    def tearDownClass(cls):
        errors = []
        for s in (cls.cse, cls.mef):
            try:
                if s is not None:
                    s.close()
            except AssertionError as e:
                errors.append(str(e))
        if errors:
            raise AssertionError("\n".join(errors))

    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > before:
            for s in (self.mef, self.cse):
                if s is not None:
                    print("\n[%s]\n%s" % (self.id(), s.diagnostics()))
        return out

    # -- helpers ---------------------------------------------------------------------------
    @classmethod
    def secret(cls, name, content):
        path = os.path.join(cls.out, name)
        with open(path, "w") as f:
            f.write(content + "\n")
        os.chmod(path, 0o600)
        return path

    @property
    def url(self):
        return "coaps://%s:%d" % (HOST, self.mef.coaps_port)

    def client(self, cred, frm, *verb, url=None, timeout_ms=8000):
        """`m2msec client` against the MEF's CoAPS listener."""
        a = ["client", "--url", url or self.url, "--timeout-ms", timeout_ms]
        return m2m(*(a + list(cred) + ["--from", frm] + [str(v) for v in verb]))

    def kpm(self, kpmid, key_hex, name=None):
        return ["--psk-identity", kpmid, "--psk-file",
                self.secret(name or re.sub(r"\W", "_", kpmid) + ".hex", key_hex)]

    def dev1(self):
        return self.kpm(DEV1_KPMID, DEV1_KPM)

    def ok(self, res, what):
        rc, out, err = res
        self.assertEqual(rc, 0, "%s: exit %d\nstdout: %s\nstderr: %s" % (what, rc, out, err))
        return out

    def refused(self, res, rsc, what):
        """The MEF answered with an error RSC: exit 1 and the RSC on stderr."""
        rc, out, err = res
        self.assertEqual(rc, 1, "%s: exit %d\nstdout: %s\nstderr: %s" % (what, rc, out, err))
        self.assertIn(str(rsc), out + err, what)

    def mef_log(self):
        return [l for l in self.mef.stderr_text().splitlines() if " mef: " in l]

    def path(self, name):
        return os.path.join(self.out, name)

    def enrol(self, cred, frm, key_name):
        key = self.path(key_name)
        out = self.ok(self.client(cred, frm, "mef-enrol", "--mef-fqdn", MEF_FQDN, "--derive-for",
                                  IN_FQDN, "--suid", SUID, "--key-out", key), "mef-enrol")
        m = re.search(r"^KeID ([0-9A-F]{32})@%s$" % re.escape(MEF_FQDN), out, re.M)
        self.assertIsNotNone(m, out)
        return m.group(1), key

    # -- the listener ----------------------------------------------------------------------
    def test_01_ready_line_names_coaps_only(self):
        line = self.mef.ready_line
        self.assertRegex(line, r"^READY mef=127\.0\.0\.1:\d+ coaps=127\.0\.0\.1:\d+$")
        self.assertNotRegex(line, r"\bcoap=", "plain CoAP is never offered")
        self.assertNotEqual(self.mef.coaps_port, self.mef.port)

    def test_08_coaps_listen_off_and_bad_values(self):
        off = m2mtest.Mef("--set", "mef.coaps_listen=off")
        try:
            line = next(l for l in off.stdout_lines if l.startswith("READY"))
            self.assertRegex(line, r"^READY mef=127\.0\.0\.1:\d+$")
        finally:
            off.close()
        for bad in ("127.0.0.1", "127.0.0.1:70000", "host.example:5685", "on", ""):
            rc, out, err = m2m("mef", "serve", "--data", off.data_dir, "--listen",
                               "%s:0" % HOST, "--set", "mef.coaps_listen=" + bad, timeout=20)
            self.assertNotEqual(rc, 0, bad)
            self.assertNotIn("READY", out, bad)
            self.assertIn("mef.coaps_listen", err, bad)

    def test_02_mefbase_over_coaps_psk(self):
        out = self.ok(self.client(self.dev1(), DEV1, "retrieve", "/mef"), "retrieve /mef")
        b = json.loads(out)["sec:mefb"]
        self.assertEqual((b["ri"], b["ty"], b["fqdn"]), ("mef", 901, MEF_FQDN))
        # EST stays on the HTTPS listener
        self.assertTrue(b["estBaseURI"].startswith("https://%s:%d/" % (MEF_FQDN, self.mef.port)))

    def test_03_coap_client_tool_gets_mefbase(self):
        """libcoap's coap-client over DTLS-PSK. 4.3.1 drops a response carrying a critical
        option it does not know (oneM2M-RSC, 307) before printing its payload, so the answer is
        read from its message trace (-v 7)."""
        p = subprocess.run([COAP_CLIENT, "-m", "get", "-B", "3", "-v", "7", "-u", CC_KPMID,
                            "-k", CC_KPM, "-O", "%d,%s" % (COAP_M2M_FR, CC),
                            "coaps://%s:%d/mef" % (HOST, self.mef.coaps_port)],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        trace = (p.stdout + p.stderr).decode("utf-8", "replace")
        m = re.search(r"c:2\.05 .*\b307:\\x07\\xD0 \] :: '(.*)'$", trace, re.M)
        self.assertIsNotNone(m, trace[-1500:])
        self.assertEqual(json.loads(m.group(1))["sec:mefb"]["fqdn"], MEF_FQDN)

    def test_04_mandatory_psk_ccm8_suite(self):
        """TS-0003 10.2.2: TLS_PSK_WITH_AES_128_CCM_8 is negotiated when it is all a peer
        offers; a wrong Kpm does not complete the handshake."""
        def hs(key):
            p = subprocess.run([GNUTLS_CLI, "--udp", "-p", str(self.mef.coaps_port), HOST,
                                "--pskusername", DEV1_KPMID, "--pskkey", key, "--priority",
                                CCM8], input=b"", capture_output=True, timeout=30)
            return p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
        out = hs(DEV1_KPM)
        self.assertIn("Handshake was completed", out)
        self.assertIn("(PSK)-(AES-128-CCM-8)", out)
        self.assertNotIn("Handshake was completed", hs("ff" + DEV1_KPM[2:]))

    def test_05_wrong_or_unknown_kpm_fails_without_application_data(self):
        before, enr = len(self.mef_log()), self.mef.listing("enrolments")
        for cred in (self.kpm(DEV1_KPMID, "ff" + DEV1_KPM[2:], "wrong.hex"),
                     self.kpm("nobody@" + MEF_FQDN, DEV1_KPM, "nobody.hex")):
            rc, out, err = self.client(cred, DEV1, "mef-enrol", "--mef-fqdn", MEF_FQDN,
                                       "--ke-out", self.path("never.ke"), timeout_ms=2500)
            self.assertEqual(rc, 3, err)
            self.assertIn("DTLS", err)
            self.assertEqual(out, "")
        self.assertFalse(os.path.exists(self.path("never.ke")))
        self.assertEqual(self.mef.listing("enrolments"), enr)
        self.assertEqual(self.mef_log()[before:], [], "a request reached the MEF")

    def test_06_plain_coap_to_the_mef_port_is_refused(self):
        before, enr = len(self.mef_log()), self.mef.listing("enrolments")
        rc, out, err = self.client([], DEV1, "retrieve", "/mef", timeout_ms=2000,
                                   url="coap://%s:%d" % (HOST, self.mef.coaps_port))
        self.assertEqual(rc, 3, err)
        self.assertEqual(out, "")
        self.assertEqual(self.mef.listing("enrolments"), enr)
        self.assertEqual(self.mef_log()[before:], [])

    def test_07_from_must_be_the_authenticated_identity(self):
        self.refused(self.client(self.dev1(), "Cother", "retrieve", "/mef"), 4106, "From")

    # -- enrolment and fetchCredentials ----------------------------------------------------
    def test_10_enrolment_over_coaps_is_accepted_by_the_target(self):
        rel, key = self.enrol(self.dev1(), DEV1, "dev1-in.key")
        keid = "%s@%s" % (rel, MEF_FQDN)
        self.assertIn("%s\t%s" % (rel, DEV1), "\n".join(self.mef.listing("enrolments")))
        # fetchCredentials over CoAPS by the Enrolment Target gives the client's derived key
        fetched = self.path("fetched-in.key")
        self.ok(self.client(self.kpm(IN_KPMID, IN_KPM), IN_ID, "fetch-credentials", keid, SUID,
                            "--key-out", fetched), "fetch-credentials over CoAPS")
        with open(key) as a, open(fetched) as b:
            self.assertEqual(a.read().strip(), b.read().strip())
        # and the CSE (which fetches over HTTPS) accepts the key: TLS-PSK with the KeID, and the
        # association speaks for the enrolee (B5: "C" asks for the AE-ID bound to it)
        res = m2m("client", "--url", "https://%s:%d" % (HOST, self.cse.https_port), "--ca",
                  self.cse.ca_pem, "--timeout-ms", "15000", "--from", "C", "--psk-identity",
                  keid, "--psk-file", key, "register-ae", "Nmefcoap", "dev1ae")
        out = self.ok(res, "register-ae over TLS-PSK with the KeID")
        self.assertEqual(json.loads(out)["m2m:ae"]["aei"].split("/")[-1], DEV1)

    def test_11_enrolment_retrieve_and_delete_over_coaps(self):
        rel, _ = self.enrol(self.dev1(), DEV1, "dev1-del.key")
        out = self.ok(self.client(self.dev1(), DEV1, "retrieve", "/mef/" + rel), "retrieve")
        e = json.loads(out)["sec:enr"]
        self.assertEqual((e["keID"], e["enroleeID"]), ("%s@%s" % (rel, MEF_FQDN), DEV1))
        self.refused(self.client(self.kpm(PEER_KPMID, PEER_KPM), PEER, "retrieve", "/mef/" + rel),
                     4103, "another client")
        self.refused(self.client(self.dev1(), DEV1, "update", "/mef/" + rel, '{"sec:enr":{}}'),
                     4005, "PUT on <enrolment>")
        self.ok(self.client(self.dev1(), DEV1, "delete", "/mef/" + rel), "delete")
        self.refused(self.client(self.kpm(IN_KPMID, IN_KPM), IN_ID, "fetch-credentials",
                                 "%s@%s" % (rel, MEF_FQDN), SUID, "--key-out",
                                 self.path("gone.key")), 4004, "fetch after delete")
        self.assertFalse(os.path.exists(self.path("gone.key")))

    def test_12_fetch_credentials_denials_over_coaps(self):
        rel, _ = self.enrol(self.dev1(), DEV1, "dev1-deny.key")
        keid = "%s@%s" % (rel, MEF_FQDN)
        base = "/fetchCredentials/%s/%d"
        # the enrolee is no registered target; PEER is one, but not allowed for Cdev1
        self.refused(self.client(self.dev1(), DEV1, "retrieve", base % (keid, SUID)), 4103,
                     "enrolee as requester")
        self.refused(self.client(self.kpm(PEER_KPMID, PEER_KPM), PEER, "retrieve",
                                 base % (keid, SUID)), 4103, "target not allowed")
        self.refused(self.client(self.kpm(IN_KPMID, IN_KPM), IN_ID, "retrieve",
                                 base % (keid, 23)), 4103, "SUID not allowed")
        self.refused(self.client(self.kpm(IN_KPMID, IN_KPM), IN_ID, "retrieve",
                                 base % (rel + "@other.example", SUID)), 4000, "other MEF")
        self.refused(self.client(self.kpm(IN_KPMID, IN_KPM), IN_ID, "retrieve",
                                 base % ("00" * 16 + "@" + MEF_FQDN, SUID)), 4004, "unknown")

    def test_13_certificate_client_enrols_over_coaps(self):
        cert, key = self.mef.issue_cert(AE9, "ae9")
        cred = ["--cert", cert, "--key", key, "--ca", self.mef.ca_pem]
        out = self.ok(self.client(cred, AE9, "retrieve", "/mef"), "certificate client")
        self.assertEqual(json.loads(out)["sec:mefb"]["ri"], "mef")
        rel, _ = self.enrol(cred, AE9, "ae9-in.key")
        self.assertIn("%s\t%s" % (rel, AE9), "\n".join(self.mef.listing("enrolments")))

    def gnutls_enrol(self, priority):
        """An enrolment from gnutls-cli --udp (an independent DTLS stack) with DEV1's Kpm:
        (its 48-byte EXPORTER-oneM2M-Bootstrap output, the session description, the output)."""
        p = subprocess.Popen([GNUTLS_CLI, "--udp", "-p", str(self.mef.coaps_port), HOST,
                              "--pskusername", DEV1_KPMID, "--pskkey", DEV1_KPM, "--priority",
                              priority, "--keymatexport", "EXPORTER-oneM2M-Bootstrap",
                              "--keymatexportsize", "48"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            p.stdin.write(coap_enrol_request(DEV1))
            p.stdin.flush()
            time.sleep(2.0)  # the answer, then EOF on stdin ends the session
            p.stdin.close()
            out = p.stdout.read().decode("latin-1")
        finally:
            p.kill()
            p.wait(10)
            p.stdout.close()
        km = re.search(r"Key material: ([0-9a-f]{96})", out)
        desc = re.search(r"Description: (.*)", out)
        return (bytes.fromhex(km.group(1)) if km else None, desc.group(1) if desc else "", out)

    def test_15_independent_dtls_peer_enrols_on_the_mandatory_suite(self):
        """gnutls-cli on TLS_PSK_WITH_AES_128_CCM_8 (TS-0003 10.2.2): RelativeKeID = its
        exporter's first 16 bytes, and fetchCredentials (over CoAPS) returns the 10.3.7
        derivation of the last 32 computed here."""
        km, desc, out = self.gnutls_enrol(CCM8)
        self.assertIn("(PSK)-(AES-128-CCM-8)", desc, out[-800:])
        self.assertIsNotNone(km, out[-800:])
        rel = km[:16].hex().upper()
        m = re.search(r'\{"sec:enr":.*\}\}', out)
        self.assertIsNotNone(m, out[-800:])
        self.assertEqual(json.loads(m.group(0))["sec:enr"]["keID"], rel + "@" + MEF_FQDN)
        fetched = self.path("gnutls-in.key")
        self.ok(self.client(self.kpm(IN_KPMID, IN_KPM), IN_ID, "fetch-credentials",
                            rel + "@" + MEF_FQDN, SUID, "--key-out", fetched), "fetch")
        want = hmac.new(km[16:], LABEL_USAGE + str(SUID).encode() + IN_FQDN.encode(),
                        hashlib.sha256).hexdigest()
        with open(fetched) as f:
            self.assertEqual(f.read().strip().lower(), want)

    def test_16_no_exporter_without_extended_master_secret(self):
        """RFC 7627: a DTLS 1.2 association without the extended master secret gets no
        enrolment (its exporter output is not unique to it): 4103, nothing stored."""
        enr = self.mef.listing("enrolments")
        km, desc, out = self.gnutls_enrol(CCM8 + ":%NO_SESSION_HASH")
        self.assertIn("(PSK)-(AES-128-CCM-8)", desc, out[-800:])
        self.assertIn("extended master secret required", out)
        self.assertNotIn('"sec:enr"', out)
        self.assertEqual(self.mef.listing("enrolments"), enr)

    def test_14_certificate_of_another_ca_fails_in_the_handshake(self):
        ca = os.path.join(self.out, "other")
        os.makedirs(ca, exist_ok=True)
        rc, out, err = m2m("pki", "issue", "--data-dir", ca, "--uri", AE9, "--cn", "x",
                           "--out-cert", os.path.join(ca, "c.pem"), "--out-key",
                           os.path.join(ca, "c.key"))
        self.assertEqual(rc, 0, err)
        before = len(self.mef_log())
        res = self.client(["--cert", os.path.join(ca, "c.pem"), "--key",
                           os.path.join(ca, "c.key"), "--ca", self.mef.ca_pem], AE9,
                          "retrieve", "/mef", timeout_ms=2500)
        self.assertEqual(res[0], 3, res)
        self.assertEqual(self.mef_log()[before:], [])

    # -- registrations and commands --------------------------------------------------------
    def test_20_client_registration_crud_over_coaps(self):
        peer = self.kpm(PEER_KPMID, PEER_KPM)
        out = self.ok(self.client(peer, PEER, "mef-register", "--mef-fqdn", MEF_FQDN,
                                  "--admin-fqdn", ADMIN_FQDN, "--label", "coaps"), "register")
        reg = out.strip().splitlines()[0]
        self.assertRegex(reg, r"^mcr[0-9A-F]{16}$")
        self.assertIn(reg, "\n".join(self.mef.listing("registrations")))
        j = json.loads(self.ok(self.client(peer, PEER, "retrieve", "/mef/" + reg), "get"))
        self.assertEqual((j["sec:mcr"]["mefClientID"], j["sec:mcr"]["lbl"]), (PEER, ["coaps"]))
        j = json.loads(self.ok(self.client(peer, PEER, "update", "/mef/" + reg,
                                           '{"sec:mcr":{"lbl":["b"]}}'), "update"))
        self.assertEqual(j["sec:mcr"]["lbl"], ["b"])
        self.refused(self.client(self.dev1(), DEV1, "retrieve", "/mef/" + reg), 4103, "not own")
        self.refused(self.client(peer, PEER, "mef-register", "--mef-fqdn", MEF_FQDN,
                                 "--admin-fqdn", ADMIN_FQDN), 4105, "duplicate")
        self.ok(self.client(peer, PEER, "mef-deregister", reg), "deregister")
        self.refused(self.client(peer, PEER, "retrieve", "/mef/" + reg), 4004, "gone")
        self.assertNotIn(reg, "\n".join(self.mef.listing("registrations")))

    def test_21_command_loop_over_coaps_without_est(self):
        cc = ["--psk-identity", CC_KPMID, "--psk-file", self.secret("cc-hex.kpm",
                                                                     CC_KPM.encode().hex())]
        reg = self.ok(self.client(cc, CC, "mef-register", "--mef-fqdn", MEF_FQDN,
                                  "--admin-fqdn", ADMIN_FQDN), "register").strip()
        self.mef.admin("cmd", "add", "--client", CC, "--class", "DEV_CFG", "--uri",
                       "dm1:https://dm.example/cfg")
        # the client answers DEV_CFG with 41 (class not supported) and stops at NO_MORE_COMMANDS
        rc, out, err = self.client(cc, CC, "mef-commands", reg, "--mef-fqdn", MEF_FQDN,
                                   "--cert-out", self.path("cc.pem"), "--key-out",
                                   self.path("cc.key"))
        self.assertEqual(rc, 1, out + err)
        self.assertIn("processed 1\nlast-status 41\nretry PT1H", out)
        cmds = [l.split("\t") for l in self.mef.listing("commands") if "\t%s\t" % CC in l]
        self.assertIn(["2", "reported", "41"], [c[2:] for c in cmds], cmds)
        # CERT_PROV needs EST, which the MEF serves on HTTPS only: over CoAPS the client
        # reports 101 (client-side failure) and the MEF issues nothing
        certs = self.mef.listing("certs")
        self.mef.admin("cmd", "add", "--client", CC, "--class", "CERT_PROV", "--subject-type",
                       "3", "--subject-id", "//m2msec.example.com/id-in/Ccc")
        rc, out, err = self.client(cc, CC, "mef-commands", reg, "--mef-fqdn", MEF_FQDN,
                                   "--cert-out", self.path("cc.pem"), "--key-out",
                                   self.path("cc.key"))
        self.assertEqual(rc, 1, out + err)
        self.assertIn("last-status 101", out)
        self.assertEqual(self.mef.listing("certs"), certs)
        self.assertFalse(os.path.exists(self.path("cc.pem")))

    # -- key registration ------------------------------------------------------------------
    def test_30_key_registration_with_key_value_over_coaps(self):
        key = bytes(range(32))
        body = {"sec:mkr": {"fqdn": MEF_FQDN, "adminFQDN": ADMIN_FQDN, "SUID": 23,
                            "targetIDs": [PEER], "keyValue": base64.b64encode(key).decode()}}
        out = self.ok(self.client(self.dev1(), DEV1, "create", "/mef", 904, json.dumps(body)),
                      "key registration")
        k = json.loads(out)["sec:mkr"]
        self.assertNotIn("keyValue", k)
        self.assertEqual((k["sourceID"], k["targetIDs"]), (DEV1, [PEER]))
        path = "/mef/" + k["ri"]
        j = json.loads(self.ok(self.client(self.kpm(PEER_KPMID, PEER_KPM), PEER, "retrieve",
                                           path), "retrieve by the target"))
        self.assertEqual(base64.b64decode(j["sec:mkr"]["keyValue"]), key)
        self.refused(self.client(self.kpm(IN_KPMID, IN_KPM), IN_ID, "retrieve", path), 4103,
                     "not a target")
        self.ok(self.client(self.dev1(), DEV1, "delete", path), "de-registration")
        self.refused(self.client(self.dev1(), DEV1, "retrieve", path), 4004, "gone")

    def test_31_key_registration_from_the_dtls_exporter(self):
        body = {"sec:mkr": {"fqdn": MEF_FQDN, "adminFQDN": ADMIN_FQDN, "SUID": 23,
                            "targetIDs": [PEER]}}
        out = self.ok(self.client(self.dev1(), DEV1, "create", "/mef", 904, json.dumps(body)),
                      "exporter key registration")
        k = json.loads(out)["sec:mkr"]
        self.assertRegex(k["keyID"], r"^[0-9A-F]{32}@")
        j = json.loads(self.ok(self.client(self.kpm(PEER_KPMID, PEER_KPM), PEER, "retrieve",
                                           "/mef/" + k["ri"]), "retrieve by the target"))
        self.assertEqual(len(base64.b64decode(j["sec:mkr"]["keyValue"])), 32)

    # -- revocation ------------------------------------------------------------------------
    def test_90_revoked_kpm_is_refused_over_coaps(self):
        kpmid = "rv@" + MEF_FQDN
        self.mef.add_kpm(kpmid, "0123456789abcdef0123456789abcdef", "Crv")
        cred = self.kpm(kpmid, "0123456789abcdef0123456789abcdef")
        self.ok(self.client(cred, "Crv", "retrieve", "/mef"), "before revocation")
        self.mef.admin("revoke", kpmid)
        time.sleep(0.6)  # the generation is polled every 250 ms
        rc, out, err = self.client(cred, "Crv", "retrieve", "/mef", timeout_ms=2500)
        self.assertNotEqual(rc, 0, out + err)
        self.assertEqual(out, "")


if __name__ == "__main__":
    m2mtest.main()
