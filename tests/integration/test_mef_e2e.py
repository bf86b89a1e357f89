"""test_mef_e2e.py: the MEF acceptance test end to end (TS-0003 8.3, SPEC-MAP G1-G10, docs/MEF.md),
only real processes and real clients: `m2msec mef serve`, two `m2msec cse` configured as its
Enrolment Targets (one authenticates to the MEF with a Kpm, the other with a certificate from the
MEF CA naming its CSE-ID), the `m2msec client` CLI, and openssl s_client as an independent peer.

1. A device that knows only its Kpm and the MEF URL enrols, derives the 10.3.7 key for the CSE,
   opens TLS-PSK with psk_identity = KeID, registers its AE (AE-ID = enrolee ID), writes and reads
   a contentInstance; the same over CoAPS with a fresh enrolment.
2. A device with a device certificate from the MEF CA registers with the MEF, is handed a
   CERT_PROV for an S-type AE-ID without CSE-ID (TS-0001 7.2 "//sp/S..."), runs EST, and uses
   the certificate to register that AE at the CSE and write.
3. Wrong Kpm, expired enrolment, unauthorized Enrolment Target, unknown / deleted KeID, a KeID
   with a wrong key, a tampered CSR and a MEF that is down each fail with a clear error and leave
   no credential behind: the MEF lists nothing new, the CSE caches nothing, and a later good
   attempt still works.
4. Revalidation (CSE C, mef.revalidate_s = 1; docs/CONFIG.md): an enrolment the administrator
   revokes at the MEF stops working at a CSE that already cached its key: the live TLS session
   is closed and a new handshake fails; while the MEF is down, a cached key keeps working.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import m2mtest
from m2mtest import HOST, MEF_FQDN, SP_ID, Cse, mef_http

ADMIN_FQDN = "sp.m2msec.test"
SUID = 22
LABEL = b"oneM2M Enrolment Key to Usage-Constrained Symmetric Key derivation"
PSK12 = ("-tls1_2", "-cipher", "PSK-AES128-CBC-SHA256")  # TS-0003 10.2.2 mandatory suite

# Enrolment Target A: CSE /id-in, authenticates to the MEF with a Kpm of its own.
IN_ID, IN_FQDN = "/id-in", "in.m2msec.test"
IN_KPMID = "in@" + MEF_FQDN
IN_KPM = "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
# Enrolment Target B: CSE /id-mn, authenticates with a MEF-CA certificate naming its CSE-ID.
MN_ID, MN_FQDN = "//%s/id-mn" % SP_ID, "mn.m2msec.test"

# Device 1: Kpm only. Its enrolee ID is the AE-ID stem it will register with.
DEV1, DEV1_KPMID = "Cdev1", "dev1@" + MEF_FQDN
DEV1_KPM = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
# Device 3: a Kpm, but no Enrolment Target is allowed for it (until a test allows one).
DEV3, DEV3_KPMID = "Cdev3", "dev3@" + MEF_FQDN
DEV3_KPM = "3031323334353637383930313233343536373839303132333435363738393031"
# Device 2: a device certificate; gets an S-AE-ID certificate (no CSE-ID, TS-0001 7.2) by EST.
DEV2_URN = "urn:dev:ops:m2msec-e2e-dev2"
DEV2_AEID = "//%s/Sdev2" % SP_ID
# An AE with a Kpm, for the CSR tampering over an independent TLS stack.
EST_KPMID, EST_AE = "est5@" + MEF_FQDN, "//%s/id-in/Cest5" % SP_ID
EST_KPM = "5f5e5d5c5b5a59585756555453525150"


def m2m(*args, timeout=60):
    """Runs the m2msec binary; returns (rc, stdout, stderr, seconds)."""
    t0 = time.monotonic()
    p = subprocess.run([m2mtest.BIN] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"), time.monotonic() - t0)


def secret_file(path, hexkey):
    with open(path, "w") as f:
        f.write(hexkey + "\n")
    os.chmod(path, 0o600)
    return path


def usage_key(ke, target_fqdn, suid=SUID):
    """TS-0003 10.3.7: HMAC-SHA-256(Ke, label || SUID (decimal ASCII) || target FQDN)."""
    return hmac.new(ke, LABEL + str(suid).encode() + target_fqdn.encode(),
                    hashlib.sha256).digest()


class E2EMef(m2mtest.Mef):
    """The harness's MEF, restartable on the port it got first (the CSEs are configured with
    its URL)."""

    listen_port = 0

    def argv(self):
        a = super().argv()
        a[a.index("--listen") + 1] = "%s:%d" % (HOST, self.listen_port)
        return a

    @property
    def url(self):
        return "https://%s:%d" % (HOST, self.port)

    def listing(self, what):
        """`mef list --<what>` as a list of non-comment lines."""
        out = self.admin("list", "--" + what).stdout
        return [l for l in out.splitlines() if l.strip() and not l.startswith("#")]

    def issue(self, uri, flavour, name):
        """`m2msec pki issue --flavour F` from the MEF CA; returns (cert, key)."""
        issuer = os.path.join(self.work, "issuer")
        if not os.path.exists(os.path.join(issuer, "pki")):
            os.makedirs(issuer, exist_ok=True)
            os.symlink(self.data_dir, os.path.join(issuer, "pki"))
        cert, key = (os.path.join(self.work, name + ext) for ext in (".pem", ".key"))
        rc, out, err, _ = m2m("pki", "issue", "--data-dir", issuer, "--uri", uri, "--cn", name,
                              "--flavour", flavour, "--out-cert", cert, "--out-key", key)
        if rc != 0:
            raise AssertionError("pki issue %s: %s" % (uri, err))
        return cert, key


class LiveSession:
    """One TLS-PSK session kept open (openssl s_client, an independent TLS stack): requests
    are written on stdin, answers collected from stdout by a thread; `closed` is set when the
    server ends the session."""

    def __init__(self, port, keid, key_hex):
        self.p = subprocess.Popen(["openssl", "s_client", "-connect", "%s:%d" % (HOST, port),
                                   "-psk_identity", keid, "-psk", key_hex, "-quiet",
                                   "-ign_eof"] + list(PSK12),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
        self.buf = b""
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                break
            with self.lock:
                self.buf += chunk
        self.closed.set()

    def responses(self):
        with self.lock:
            at = self.buf.find(b"HTTP/1.1 ")
            return m2mtest.parse_responses(self.buf[at:]) if at >= 0 else []

    def request(self, method, path, origin, body=None, ty=None, timeout=15.0):
        """Sends one keep-alive request; returns (status, headers, body) of its answer."""
        n = len(self.responses())
        self.p.stdin.write(mef_http(method, path, origin, body, ty, keep_alive=True,
                                    extra=["Accept: application/json"]))
        self.p.stdin.flush()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rs = self.responses()
            if len(rs) > n:
                return rs[n]
            if self.closed.is_set():
                raise AssertionError("the session closed before answering %s %s" % (method, path))
            time.sleep(0.05)
        raise AssertionError("no answer to %s %s within %.0f s" % (method, path, timeout))

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(10)
        self.reader.join(5)
        self.p.stdin.close()
        self.p.stdout.close()


class MefE2ETest(unittest.TestCase):
    """One MEF, CSE A (/id-in, Kpm towards the MEF, trusts the MEF CA for client
    certificates) and CSE B (/id-mn, certificate towards the MEF)."""

    @classmethod
    def setUpClass(cls):
        if shutil.which("openssl") is None:
            raise AssertionError("openssl is required")
        cls.mef = cls.cse = cls.cse_mn = cls.cse_rv = None
        cls.out = tempfile.mkdtemp(prefix="m2msec-e2e-")
        m2mtest._workdirs.append(cls.out)
        mef = cls.mef = E2EMef(start=False)
        mef.add_kpm(DEV1_KPMID, DEV1_KPM, DEV1)
        mef.add_kpm(DEV3_KPMID, DEV3_KPM, DEV3)
        mef.add_kpm(EST_KPMID, EST_KPM, EST_AE)
        mef.add_kpm(IN_KPMID, IN_KPM, IN_ID)
        mef.admin("add-target", "--id", IN_ID, "--fqdn", IN_FQDN)
        mef.admin("add-target", "--id", MN_ID, "--fqdn", MN_FQDN)
        mef.admin("allow", "--enrolee", DEV1, "--target", IN_ID, "--suid", SUID)
        mef.admin("allow", "--enrolee", DEV1, "--target", MN_ID, "--suid", SUID)
        mn_cert, mn_key = mef.issue(MN_ID, "cse", "id-mn")
        mef.start()
        mef.listen_port = mef.port
        common = ["--set", "mef.url=" + mef.url, "--set", "mef.fqdn=" + MEF_FQDN,
                  "--set", "mef.ca_file=" + mef.ca_pem, "--set", "mef.timeout_ms=1500",
                  "--set", "mef.negative_ttl_s=1", "--set", "tls.client_ca=" + mef.ca_pem]
        in_kpm = secret_file(os.path.join(cls.out, "in.kpm"), IN_KPM)
        cls.cse = Cse(*common, "--set", "mef.psk_identity=" + IN_KPMID,
                      "--set", "mef.psk_key_file=" + in_kpm)
        cls.cse_mn = Cse(*common, "--cse-id", "/id-mn", "--set", "mef.cert=" + mn_cert,
                         "--set", "mef.key=" + mn_key, "--set", "mef.originator=" + MN_ID)
        # CSE C: another instance of Enrolment Target /id-in (same Kpm, same FQDN for 10.3.7)
        # that confirms every cached key with the MEF each second
        cls.cse_rv = Cse(*common, "--set", "mef.psk_identity=" + IN_KPMID,
                         "--set", "mef.psk_key_file=" + in_kpm, "--set", "mef.revalidate_s=1")
        cls.coaps_port = cls.coaps_of(cls.cse)

    @classmethod
    def tearDownClass(cls):
        errors = []
        for s in (cls.cse, cls.cse_mn, cls.cse_rv, cls.mef):  # exit code and sanitizers
            try:
                if s is not None:
                    s.close()
            except AssertionError as e:
                errors.append(str(e))
        if errors:
            raise AssertionError("\n".join(errors))

    @staticmethod
    def coaps_of(cse):
        line = next(l for l in cse.stdout_lines if l.startswith("READY"))
        return int(re.search(r"\bcoaps=[0-9.]+:(\d+)", line).group(1))

    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > before:
            for s in (self.mef, self.cse, self.cse_mn, self.cse_rv):
                if s is not None:
                    sys.stderr.write("\n[%s]\n%s\n" % (self.id(), s.diagnostics()))
        return out

    # -- helpers ---------------------------------------------------------------------------
    def path(self, name):
        return os.path.join(self.out, name)

    def at_mef(self, cred, *verb, frm=None):
        """`m2msec client` against the MEF (its server certificate checked for the MEF FQDN)."""
        a = ["client", "--url", self.mef.url, "--servername", MEF_FQDN, "--ca", self.mef.ca_pem,
             "--timeout-ms", "15000"] + (["--from", frm] if frm else []) + list(cred)
        return m2m(*(a + list(verb)))

    def at_cse(self, cse, cred, *verb, frm=None, url=None):
        """`m2msec client` against a CSE over HTTPS (or url)."""
        a = ["client", "--url", url or "https://%s:%d" % (HOST, cse.https_port),
             "--ca", cse.ca_pem, "--timeout-ms", "15000"] + (["--from", frm] if frm else [])
        return m2m(*(a + list(cred) + list(verb)))

    def ok(self, res, what):
        rc, out, err, _ = res
        self.assertEqual(rc, 0, "%s: exit %d\nstdout: %s\nstderr: %s" % (what, rc, out, err))
        return out

    def one_line_error(self, res, code, what, *needles):
        """A failure: exit code `code`, nothing on stdout, one line on stderr naming it."""
        rc, out, err, _ = res
        self.assertEqual(rc, code, "%s: exit %d\nstdout: %s\nstderr: %s" % (what, rc, out, err))
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, "%s: want one clear line: %r" % (what, err))
        for n in needles:
            self.assertIn(n, lines[0], what)
        return lines[0]

    def dev1_psk(self):
        return ["--psk-identity", DEV1_KPMID, "--psk-file",
                secret_file(self.path("dev1.kpm"), DEV1_KPM)]

    def enrol_dev1(self, target_fqdn, name):
        """Device 1 enrols and derives the key for target_fqdn: (KeID, key file)."""
        key = self.path(name)
        out = self.ok(self.at_mef(self.dev1_psk(), "mef-enrol", "--derive-for", target_fqdn,
                                  "--suid", SUID, "--key-out", key, frm=DEV1), "mef-enrol")
        m = re.search(r"^KeID ([0-9A-F]{32}@%s)$" % re.escape(MEF_FQDN), out, re.M)
        self.assertIsNotNone(m, out)
        self.assertIn("enrolee %s" % DEV1, out)
        with open(key) as f:
            self.assertNotIn(f.read().strip(), out, "a key on stdout")
        return m.group(1), key, out

    def psk(self, keid, key_file):
        return ["--psk-identity", keid, "--psk-file", key_file]

    def cse_log(self, cse, needle):
        return [l for l in cse.stderr_text().splitlines() if needle in l and "mef:" in l]

    def assert_fetch_refused(self, cse, keid, rsc):
        rel = keid.split("@")[0]
        lines = self.cse_log(cse, rel)
        self.assertTrue(any("(rsc %d)" % rsc in l for l in lines),
                        "the CSE log shows no fetch answered %d for %s: %s" % (rsc, rel, lines))
        self.assertFalse(any("fetched key" in l for l in lines), lines)

    def assert_handshake_fails(self, cse, keid, key_file, frm=DEV1):
        res = self.at_cse(cse, self.psk(keid, key_file), "retrieve", "/cse-in", frm=frm)
        self.one_line_error(res, 3, "handshake with %s" % keid)
        self.assertLess(res[3], 8.0, "the handshake must fail within the fetch timeout")
        return res

    def enrolments(self):
        return self.mef.listing("enrolments")

    # -- 1. the PSK device -----------------------------------------------------------------
    def test_10_psk_device_enrols_registers_and_writes(self):
        keid, key, out = self.enrol_dev1(IN_FQDN, "dev1-in.key")
        self.assertIn("target %s %s %d" % (IN_ID, IN_FQDN, SUID), out)
        self.assertIn("target %s %s %d" % (MN_ID, MN_FQDN, SUID), out)
        self.assertEqual([l.split("\t")[-1] for l in self.enrolments()
                          if keid.split("@")[0] in l], ["active"])
        dev = self.psk(keid, key)
        # B5: asking for "C" over the association gets the AE-ID bound to it: the enrolee ID
        out = self.ok(self.at_cse(self.cse, dev, "register-ae", "Ne2eapp", "dev1ae", frm="C"),
                      "register-ae over TLS-PSK with the KeID")
        self.assertEqual(json.loads(out)["m2m:ae"]["aei"].split("/")[-1], DEV1)
        self.ok(self.at_cse(self.cse, dev, "create", "/cse-in/dev1ae", 3,
                            '{"m2m:cnt":{"rn":"data"}}', frm=DEV1), "create cnt")
        self.ok(self.at_cse(self.cse, dev, "create", "/cse-in/dev1ae/data", 4,
                            '{"m2m:cin":{"con":"21.5"}}', frm=DEV1), "create cin")
        out = self.ok(self.at_cse(self.cse, dev, "retrieve", "/cse-in/dev1ae/data/la",
                                  frm=DEV1), "retrieve la")
        self.assertEqual(json.loads(out)["m2m:cin"]["con"], "21.5")
        self.assertEqual(len([l for l in self.cse_log(self.cse, keid.split("@")[0])
                              if "fetched key" in l]), 1, "one fetch for the whole session set")
        # an independent TLS stack with the same KeID and derived key reads the same value
        with open(key) as f:
            key_hex = f.read().strip()
        req = (b"GET /cse-in/dev1ae/data/la HTTP/1.1\r\nHost: %s\r\nX-M2M-Origin: %s\r\n"
               b"X-M2M-RI: e2e-ossl\r\nX-M2M-RVI: 3\r\nAccept: application/json\r\n"
               b"Connection: close\r\n\r\n" % (HOST.encode(), DEV1.encode()))
        p = subprocess.run(["openssl", "s_client", "-connect", "%s:%d" % (HOST,
                            self.cse.https_port), "-psk_identity", keid, "-psk", key_hex,
                            "-quiet", "-ign_eof"] + list(PSK12), input=req,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        rs = m2mtest.parse_responses(p.stdout[p.stdout.find(b"HTTP/1.1 "):])
        self.assertEqual(len(rs), 1, p.stdout[-500:] + p.stderr[-500:])
        self.assertEqual(rs[0][1].get("x-m2m-rsc"), "2000")
        self.assertEqual(json.loads(rs[0][2])["m2m:cin"]["con"], "21.5")

    def test_11_psk_device_over_coaps_with_a_fresh_enrolment(self):
        keid, key, _ = self.enrol_dev1(IN_FQDN, "dev1-coaps.key")
        url = "coaps://%s:%d" % (HOST, self.coaps_port)
        verb = ("retrieve", "/cse-in")
        # docs/DECISIONS.md "CoAPS and remotely provisioned keys": the first handshake may fail
        # while the key is fetched; a retry finds it cached.
        tries = []
        for _ in range(4):
            res = self.at_cse(self.cse, self.psk(keid, key), *verb, frm=DEV1, url=url)
            tries.append(res[:3])
            if res[0] != 3:
                break
            time.sleep(0.3)
        self.assertLessEqual(len(tries), 2, "CoAPS attempts: %s" % tries)
        # the AE of test_10 is the same enrolee: this association may write into it
        self.ok(self.at_cse(self.cse, self.psk(keid, key), "create", "/cse-in/dev1ae/data", 4,
                            '{"m2m:cin":{"con":"coaps-22.0"}}', frm=DEV1, url=url),
                "create cin over CoAPS")
        r = self.cse.retrieve("/cse-in/dev1ae/data/la")
        self.assertEqual((r.rsc, r.res()["con"]), (2000, "coaps-22.0"), r.describe())

    def test_12_target_authenticated_by_certificate(self):
        """CSE B reaches the MEF with its MEF-CA certificate (SAN = its CSE-ID)."""
        keid, key, _ = self.enrol_dev1(MN_FQDN, "dev1-mn.key")
        dev = self.psk(keid, key)
        out = self.ok(self.at_cse(self.cse_mn, dev, "register-ae", "Ne2eapp", "dev1mn", frm="C"),
                      "register-ae at CSE B")
        self.assertEqual(json.loads(out)["m2m:ae"]["aei"].split("/")[-1], DEV1)
        self.ok(self.at_cse(self.cse_mn, dev, "create", "/cse-in/dev1mn", 3,
                            '{"m2m:cnt":{"rn":"data"}}', frm=DEV1), "create cnt at CSE B")
        self.ok(self.at_cse(self.cse_mn, dev, "create", "/cse-in/dev1mn/data", 4,
                            '{"m2m:cin":{"con":"mn"}}', frm=DEV1), "create cin at CSE B")
        r = self.cse_mn.retrieve("/cse-in/dev1mn/data/la")
        self.assertEqual((r.rsc, r.res()["con"]), (2000, "mn"), r.describe())
        # the key for CSE A's FQDN is not the key for CSE B (10.3.7 binds the target FQDN)
        keid2, key_in, _ = self.enrol_dev1(IN_FQDN, "dev1-in-for-mn.key")
        self.assert_handshake_fails(self.cse_mn, keid2, key_in)

    # -- 2. the certificate device ---------------------------------------------------------
    def test_20_certificate_device_gets_an_s_ae_id_by_est(self):
        dcert, dkey = self.mef.issue(DEV2_URN, "device", "dev2-device")
        dev = ["--cert", dcert, "--key", dkey]
        reg = self.ok(self.at_mef(dev, "mef-register", "--admin-fqdn", ADMIN_FQDN,
                                  frm=DEV2_URN), "mef-register").strip().splitlines()[-1]
        self.assertTrue(any(reg in l for l in self.mef.listing("registrations")))
        # 8.3.9.7: a CERT_PROV for a subject type this client may not hold is reported 43 and
        # leaves no key, no certificate, no issued certificate behind
        certs = self.mef.listing("certs")
        bad = self.mef.admin("cmd", "add", "--client", DEV2_URN, "--class", "CERT_PROV",
                             "--subject-type", "2", "--subject-id", "//%s/id-x" % SP_ID)
        bad_id = bad.stdout.split()[1]
        bcert, bkey = self.path("dev2-bad.pem"), self.path("dev2-bad.key")
        rc, out, err, _ = self.at_mef(dev, "mef-commands", reg, "--subject-types", "3",
                                      "--cert-out", bcert, "--key-out", bkey, frm=DEV2_URN)
        self.assertEqual(rc, 1, out + err)
        self.assertIn("last-status 43", out)
        self.assertFalse(os.path.exists(bcert) or os.path.exists(bkey))
        self.assertEqual(self.mef.listing("certs"), certs)
        self.assertTrue(any(re.match(r"%s\t%s\t1\treported\t43$" % (bad_id, re.escape(DEV2_URN)),
                                     l) for l in self.mef.listing("commands")))
        self.mef.admin("cmd", "add", "--client", DEV2_URN, "--class", "CERT_PROV",
                       "--subject-type", "3", "--subject-id", DEV2_AEID)
        cert, key, ca = self.path("dev2.pem"), self.path("dev2.key"), self.path("dev2-ca.pem")
        out = self.ok(self.at_mef(dev, "mef-commands", reg, "--cert-out", cert, "--key-out", key,
                                  "--ca-out", ca, frm=DEV2_URN), "mef-commands")
        self.assertIn("certificate " + DEV2_AEID, out)
        self.assertIn("last-status 20", out)
        self.assertTrue(any(DEV2_AEID in l for l in self.mef.listing("certs")))
        v = subprocess.run(["openssl", "verify", "-CAfile", ca, cert], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        self.assertEqual(v.returncode, 0, v.stdout)
        t = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-ext", "subjectAltName"],
                           stdout=subprocess.PIPE)
        self.assertIn(("URI:" + DEV2_AEID).encode(), t.stdout)
        # the device certificate names no AE-ID: it cannot register an AE at the CSE
        rc, _, err, _ = self.at_cse(self.cse, dev, "register-ae", "Ne2eapp", "dev2dev", frm="S")
        self.assertEqual(rc, 1, err)
        self.assertIn("4106", err)
        # the EST certificate does: the CSE trusts the MEF CA for client certificates
        ae = ["--cert", cert, "--key", key]
        out = self.ok(self.at_cse(self.cse, ae, "register-ae", "Ne2eapp", "dev2ae", frm="S"),
                      "register-ae with the EST certificate")
        self.assertEqual(json.loads(out)["m2m:ae"]["aei"].split("/")[-1], "Sdev2")
        self.ok(self.at_cse(self.cse, ae, "create", "/cse-in/dev2ae", 3,
                            '{"m2m:cnt":{"rn":"data"}}', frm="Sdev2"), "create cnt")
        self.ok(self.at_cse(self.cse, ae, "create", "/cse-in/dev2ae/data", 4,
                            '{"m2m:cin":{"con":"cert-7"}}', frm="Sdev2"), "create cin")
        r = self.cse.retrieve("/cse-in/dev2ae/data/la")
        self.assertEqual((r.rsc, r.res()["con"]), (2000, "cert-7"), r.describe())
        # another AE-ID over that certificate is refused
        rc, _, err, _ = self.at_cse(self.cse, ae, "retrieve", "/cse-in/dev2ae", frm="Sother")
        self.assertEqual(rc, 1, err)
        self.assertIn("4106", err)

    # -- 3. failures -----------------------------------------------------------------------
    def test_30_wrong_kpm(self):
        before = (self.enrolments(), self.mef.listing("registrations"))
        bad = ["--psk-identity", DEV1_KPMID, "--psk-hex", "11" * 32]
        key = self.path("wrong-kpm.key")
        self.one_line_error(self.at_mef(bad, "mef-enrol", "--derive-for", IN_FQDN, "--suid",
                                        SUID, "--key-out", key, frm=DEV1), 3,
                            "mef-enrol, wrong Kpm", "TLS")
        self.one_line_error(self.at_mef(bad, "mef-register", "--admin-fqdn", ADMIN_FQDN,
                                        frm=DEV1), 3, "mef-register, wrong Kpm", "TLS")
        self.assertFalse(os.path.exists(key), "a key file after a failed enrolment")
        self.assertEqual((self.enrolments(), self.mef.listing("registrations")), before)

    def test_31_expired_enrolment(self):
        # mef.enrolment_expiry is at least 60 s; docs/MEF.md lets the enrolee shorten its own
        # enrolment with `et`, so an independent client (openssl) asks for 3 s and derives.
        et = m2mtest.utc_ts(3)
        out, rs, km = self.mef.openssl_psk(
            mef_http("POST", "/mef", DEV1, {"sec:enr": {"et": et}}, 905), DEV1_KPMID, DEV1_KPM,
            *PSK12, export="EXPORTER-oneM2M-Bootstrap")
        self.assertEqual(len(rs), 1, out[-600:])
        enr = json.loads(rs[0][2])["sec:enr"]
        self.assertEqual((enr["et"], enr["keID"].split("@")[0]), (et, km[:16].hex().upper()))
        key = secret_file(self.path("expired.key"), usage_key(km[16:48], IN_FQDN).hex())
        # TS-0003 10.7: past its expiry the enrolment key is gone (the oneM2M basic time format
        # has whole seconds: wait until `et` is strictly in the past)
        while m2mtest.utc_ts() <= et:
            time.sleep(0.2)
        self.assert_handshake_fails(self.cse, enr["keID"], key)
        self.assert_fetch_refused(self.cse, enr["keID"], 4004)

    def test_32_unauthorized_enrolment_target(self):
        cred = ["--psk-identity", DEV3_KPMID, "--psk-file",
                secret_file(self.path("dev3.kpm"), DEV3_KPM)]
        key = self.path("dev3-in.key")
        # the enrolment itself succeeds, naming no target; the device derives for the CSE anyway
        out = self.ok(self.at_mef(cred, "mef-enrol", "--derive-for", IN_FQDN, "--suid", SUID,
                                  "--key-out", key, frm=DEV3), "mef-enrol dev3")
        self.assertNotIn("target ", out, "no target is allowed for this enrolee")
        keid = re.search(r"^KeID (\S+)$", out, re.M).group(1)
        # the MEF answers the CSE 4103; the device's handshake fails
        self.assert_handshake_fails(self.cse, keid, key, frm=DEV3)
        self.assert_fetch_refused(self.cse, keid, 4103)
        # nothing was cached: once the administrator allows the target, the same KeID works
        self.mef.admin("allow", "--enrolee", DEV3, "--target", IN_ID, "--suid", SUID)
        time.sleep(1.1)  # mef.negative_ttl_s = 1
        out = self.ok(self.at_cse(self.cse, self.psk(keid, key), "register-ae", "Ne2eapp",
                                  "dev3ae", frm="C"), "register-ae once allowed")
        self.assertEqual(json.loads(out)["m2m:ae"]["aei"].split("/")[-1], DEV3)

    def test_33_unknown_and_deleted_keid(self):
        key = secret_file(self.path("unknown.key"), secrets.token_hex(32))
        unknown = secrets.token_hex(16).upper() + "@" + MEF_FQDN
        self.assert_handshake_fails(self.cse, unknown, key)
        self.assert_fetch_refused(self.cse, unknown, 4004)
        # a KeID whose enrolment the administrator deleted before its first use
        keid, key, _ = self.enrol_dev1(IN_FQDN, "deleted.key")
        rel = keid.split("@")[0]
        self.mef.admin("revoke", keid)
        self.assertEqual([l.split("\t")[-1] for l in self.enrolments() if rel in l],
                         ["deleted"], "the enrolment is kept only as a tombstone")
        self.assert_handshake_fails(self.cse, keid, key)
        self.assert_fetch_refused(self.cse, keid, 4004)
        time.sleep(1.1)  # past the negative cache: still refused, the MEF has nothing
        self.assert_handshake_fails(self.cse, keid, key)

    def test_34_keid_with_a_wrong_key(self):
        keid, key, _ = self.enrol_dev1(IN_FQDN, "right.key")
        with open(key) as f:
            good = bytearray(bytes.fromhex(f.read().strip()))
        for flip in (0, 31):
            bad = bytearray(good)
            bad[flip] ^= 0x01
            self.assert_handshake_fails(self.cse, keid,
                                        secret_file(self.path("wrong.key"), bad.hex()))
        # the failed attempts left the genuine key usable
        self.ok(self.at_cse(self.cse, self.psk(keid, key), "retrieve", "/cse-in/dev1ae",
                            frm=DEV1), "the right key after wrong ones")

    def est_over_openssl(self, tamper):
        """simpleenroll over one TLS-PSK session of openssl s_client; the challengePassword is
        the session's tls-exporter value; tamper(csr_der) -> bytes alters the CSR. Returns the
        HTTP status."""
        cmd = ["openssl", "s_client", "-connect", "%s:%d" % (HOST, self.mef.port),
               "-psk_identity", EST_KPMID, "-psk", EST_KPM, "-tls1_3", "-ign_eof",
               "-keymatexport", "EXPORTER-Channel-Binding", "-keymatexportlen", "32"]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        try:
            cb = None
            for line in iter(p.stdout.readline, b""):
                if b"Keying material:" in line:
                    cb = line.split(b":")[1].strip().decode()
                    break
            self.assertIsNotNone(cb, "openssl printed no keying material")
            conf, key = self.path("est.cnf"), self.path("est.key")
            with open(conf, "w") as f:
                f.write("[req]\nprompt=no\ndistinguished_name=dn\nattributes=at\n"
                        "req_extensions=ext\n[dn]\nCN=est5\n[at]\nchallengePassword=%s\n"
                        "[ext]\nsubjectAltName=URI:%s\n"
                        % (base64.b64encode(bytes.fromhex(cb)).decode(), EST_AE))
            subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
                            "-out", key], check=True, capture_output=True)
            csr = subprocess.run(["openssl", "req", "-new", "-key", key, "-config", conf,
                                  "-outform", "DER"], check=True, capture_output=True).stdout
            body = base64.b64encode(tamper(csr))
            p.stdin.write(("POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: %s\r\n"
                           "Content-Type: application/pkcs10\r\n"
                           "Content-Transfer-Encoding: base64\r\nContent-Length: %d\r\n"
                           "Connection: close\r\n\r\n" % (MEF_FQDN, len(body))).encode() + body)
            p.stdin.flush()
            out, _ = p.communicate(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
            p.wait(10)
        rs = m2mtest.parse_responses(out[out.find(b"HTTP/1.1 "):])
        self.assertEqual(len(rs), 1, out[-400:])
        return rs[0][0], rs[0][2]

    def test_35_tampered_csr(self):
        def flip_signature(der):  # the last byte is inside the ECDSA signature BIT STRING
            return der[:-1] + bytes([der[-1] ^ 0x01])

        def flip_subject(der):  # a byte of CN=est5 inside certificationRequestInfo
            at = der.index(b"est5")
            return der[:at] + b"fst5" + der[at + 4:]

        before = self.mef.listing("certs")
        for tamper in (flip_signature, flip_subject):
            status, body = self.est_over_openssl(tamper)
            self.assertEqual(status, 400, (tamper.__name__, body))
            self.assertLessEqual(len(body.strip().splitlines()), 1, body)
            self.assertEqual(self.mef.listing("certs"), before, "a certificate was recorded")
        # the same exchange untampered succeeds: the test can fail for the right reason
        status, body = self.est_over_openssl(lambda der: der)
        self.assertEqual(status, 200, body)
        after = self.mef.listing("certs")
        self.assertEqual(len(after), len(before) + 1)
        self.assertTrue(any(EST_AE in l for l in after), after)

    # -- 4. revalidation: CSE C confirms cached keys each second (mef.revalidate_s = 1) ------
    def open_live(self, cse, keid, key, rn):
        """Device 1 opens a TLS-PSK session with its KeID and registers AE rn over it (the
        AE-ID is the enrolee ID); returns the session, left open."""
        with open(key) as f:
            key_hex = f.read().strip()
        live = LiveSession(cse.https_port, keid, key_hex)
        self.addCleanup(live.close)
        ae = {"m2m:ae": {"rn": rn, "api": "Ne2eapp", "rr": False, "srv": ["3"]}}
        _, h, body = live.request("POST", "/cse-in", "C", ae, ty=2)
        self.assertEqual(h.get("x-m2m-rsc"), "2001", body)
        self.assertEqual(json.loads(body)["m2m:ae"]["aei"].split("/")[-1], DEV1)
        self.addCleanup(lambda: cse.delete("/cse-in/" + rn))
        return live

    def live_ok(self, live, rn, what):
        _, h, body = live.request("GET", "/cse-in/" + rn, DEV1)
        self.assertEqual(h.get("x-m2m-rsc"), "2000", "%s: %r" % (what, body))

    def test_40_revoked_enrolment_ends_the_live_session(self):
        keid, key, _ = self.enrol_dev1(IN_FQDN, "revoke-live.key")
        rel = keid.split("@")[0]
        live = self.open_live(self.cse_rv, keid, key, "dev1rv")
        # while the enrolment stands, the revalidations change nothing
        time.sleep(2.5)
        self.assertFalse(live.closed.is_set(), "a session ended with its enrolment standing")
        self.live_ok(live, "dev1rv", "the session after revalidations")
        self.mef.admin("revoke", keid)
        t0 = time.monotonic()
        self.assertTrue(live.closed.wait(1 + 5), "the session of a revoked KeID stayed open")
        took = time.monotonic() - t0
        # for the right reason: the MEF refused the revalidation and the key was withdrawn
        lines = self.cse_log(self.cse_rv, rel)
        self.assertTrue(any("(revalidation)" in l and "(rsc 4004)" in l for l in lines), lines)
        self.assertTrue(any("withdrawn by the MEF" in l for l in lines), lines)
        self.assertIn("closing a connection of revoked credential 12-" + keid,
                      self.cse_rv.stderr_text())
        # and no new handshake succeeds with it
        self.assert_handshake_fails(self.cse_rv, keid, key)
        sys.stderr.write("[revoked session closed %.1f s after the revoke] " % took)

    def test_41_revalidate_s_values(self):
        """mef.revalidate_s is 0..86400 (docs/CONFIG.md); anything else stops the start."""
        data = self.path("cfg-probe")
        base = ["cse", "--data-dir", data, "--http", "%s:0" % HOST, "--https", "off",
                "--coap", "off", "--coaps", "off"]
        for bad in ("-1", "86401", "abc", "", "1.5"):
            rc, out, err, _ = m2m(*(base + ["--set", "mef.revalidate_s=" + bad]), timeout=30)
            self.assertNotEqual(rc, 0, "mef.revalidate_s=%r accepted" % bad)
            self.assertIn("invalid value for 'mef.revalidate_s'", err, bad)
        # 0 (never) and 86400 pass this key; the start then stops at the next check
        for good in ("0", "86400"):
            rc, _, err, _ = m2m(*(base + ["--set", "mef.revalidate_s=" + good,
                                          "--set", "mef.url=http://x"]), timeout=30)
            self.assertNotEqual(rc, 0)
            self.assertNotIn("mef.revalidate_s", err)
            self.assertIn("mef.url must be an https:// URL", err)

    # -- 9. the MEF goes down (runs last: it stops and restarts the MEF) --------------------
    def test_90_mef_down(self):
        keid, key, _ = self.enrol_dev1(IN_FQDN, "mefdown.key")
        self.mef.stop()
        before = self.enrolments()
        try:
            enrolled = self.path("down.key")
            self.one_line_error(self.at_mef(self.dev1_psk(), "mef-enrol", "--derive-for", IN_FQDN,
                                            "--suid", SUID, "--key-out", enrolled, frm=DEV1), 3,
                                "mef-enrol with the MEF down", "cannot connect")
            self.assertFalse(os.path.exists(enrolled))
            self.assertEqual(self.enrolments(), before)
            self.assert_handshake_fails(self.cse, keid, key)
            self.assertTrue(self.cse_log(self.cse, "fetchCredentials %s" % keid.split("@")[0]),
                            "no failed fetch logged")
            r = self.cse.retrieve("/cse-in")  # the CSE serves everyone else meanwhile
            self.assertEqual(r.rsc, 2000, r.describe())
        finally:
            self.mef.start()
        # the enrolment survived the MEF restart and no failure stayed cached
        time.sleep(1.1)  # mef.negative_ttl_s = 1
        self.ok(self.at_cse(self.cse, self.psk(keid, key), "retrieve", "/cse-in/dev1ae",
                            frm=DEV1), "the KeID once the MEF is back")


    def test_91_mef_down_cached_key_keeps_working(self):
        """Availability: revalidations that cannot reach the MEF keep the key (CSE C)."""
        keid, key, _ = self.enrol_dev1(IN_FQDN, "down-live.key")
        rel = keid.split("@")[0]
        live = self.open_live(self.cse_rv, keid, key, "dev1rv2")
        self.mef.stop()
        try:
            time.sleep(3.5)  # several revalidations fail meanwhile
            self.assertFalse(live.closed.is_set(), "the session ended while the MEF was down")
            self.live_ok(live, "dev1rv2", "the session with the MEF down")
            self.ok(self.at_cse(self.cse_rv, self.psk(keid, key), "retrieve", "/cse-in/dev1rv2",
                                frm=DEV1), "a new handshake with the cached key, MEF down")
            self.assertTrue([l for l in self.cse_log(self.cse_rv, rel)
                             if "cannot revalidate" in l], "no failed revalidation logged")
        finally:
            self.mef.start()
        time.sleep(1.5)  # the MEF is back: confirmed again, the session lives on
        self.assertFalse(live.closed.is_set())
        self.live_ok(live, "dev1rv2", "the session once the MEF is back")


if __name__ == "__main__":
    m2mtest.main()
