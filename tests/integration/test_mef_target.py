"""test_mef_target.py: the CSE as Enrolment Target (TS-0003 8.3.2.1 "Use of Remotely Provisioned
Credential", SPEC-MAP G5). A real MEF (`m2msec mef serve`) and a CSE configured with mef.*; a
device enrols with its Kpm, derives the 10.3.7 key itself (python hmac) and opens TLS-PSK to the
CSE with psk_identity = KeID: the CSE fetches the key, binds the association to the enrolee ID,
updates the <serviceSubscribedAppRule> the operator designated (mef.asar_rules, G5 step 6), and
the device registers and writes. Deny paths: unknown KeID, wrong key, KeID of another MEF, a MEF
that does not answer or is down (the handshake fails within the timeout while other clients are
served), From other than the bound enrolee, an App-ID only an undesignated rule allows (that rule
is left unchanged), and the Credential-ID taken out of the rule again when the MEF withdraws the
key."""

import hashlib
import hmac
import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time

import m2mtest
from m2mtest import ADMIN, HOST, Cse, CseTestCase

MEF_FQDN = "mef.m2msec.test"
TARGET_FQDN = "in.m2msec.test"  # the CSE's FQDN for the 10.3.7 derivation (mef add-target)
SUID = 22
LABEL = b"oneM2M Enrolment Key to Usage-Constrained Symmetric Key derivation"
DEV_KPMID = "dev1@" + MEF_FQDN
DEV_KPM = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
CSE_KPMID = "cse1@" + MEF_FQDN
CSE_KPM = "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
ENROLEE = "Cdev1"


def run(*args, timeout=60):
    p = subprocess.run([m2mtest.BIN] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def must(*args):
    rc, out, err = run(*args)
    if rc != 0:
        raise AssertionError("m2msec %s: exit %d\n%s\n%s" % (" ".join(map(str, args)), rc, out,
                                                              err))
    return out


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


class Mef:
    """One `m2msec mef serve` on an ephemeral port with its own data directory."""

    def __init__(self, work):
        self.data = os.path.join(work, "mef")
        self.work = work
        self.proc = None
        self.port = None
        must("mef", "init", "--data", self.data, "--fqdn", MEF_FQDN)
        dev = write(os.path.join(work, "dev.kpm"), DEV_KPM + "\n")
        cse = write(os.path.join(work, "cse.kpm"), CSE_KPM + "\n")
        must("mef", "add-kpm", "--data", self.data, "--kpmid", DEV_KPMID, "--key-file", dev,
             "--identity", ENROLEE)
        must("mef", "add-kpm", "--data", self.data, "--kpmid", CSE_KPMID, "--key-file", cse,
             "--identity", m2mtest.CSE_ID)
        must("mef", "add-target", "--data", self.data, "--id", m2mtest.CSE_ID, "--fqdn",
             TARGET_FQDN)
        must("mef", "allow", "--data", self.data, "--enrolee", ENROLEE, "--target",
             m2mtest.CSE_ID, "--suid", SUID)
        self.cse_kpm_file = cse
        self.dev_kpm_file = dev

    @property
    def ca(self):
        return os.path.join(self.data, "ca.pem")

    @property
    def url(self):
        return "https://%s:%d" % (HOST, self.port)

    def start(self):
        self.stderr = open(os.path.join(self.work, "mef.stderr"), "ab")
        self.proc = subprocess.Popen(
            [m2mtest.BIN, "mef", "serve", "--data", self.data, "--listen", "%s:0" % HOST],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.stderr)
        deadline = time.time() + m2mtest.READY_TIMEOUT
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode("utf-8", "replace")
            if not line:
                break
            m = re.search(r"READY mef=\S+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                return
        self.stop()
        raise AssertionError("the MEF did not start (see %s)" % self.stderr.name)

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.stderr.close()
            self.proc = None


def enrol(mef, work):
    """The device's enrolment (G3): returns (KeID, Ke bytes)."""
    ke_file = os.path.join(work, "ke.out")
    out = must("client", "--url", mef.url, "--ca", mef.ca, "--servername", MEF_FQDN,
               "--psk-identity", DEV_KPMID, "--psk-file", mef.dev_kpm_file, "--from", ENROLEE,
               "mef-enrol", "--ke-out", ke_file)
    keid = re.search(r"^KeID (\S+)$", out, re.M).group(1)
    with open(ke_file, "rb") as f:
        raw = f.read()
    text = raw.strip()
    ke = bytes.fromhex(text.decode()) if re.fullmatch(rb"[0-9a-fA-F]{64}", text) else raw
    assert len(ke) == 32, "Ke file %r" % raw[:80]
    return keid, ke


def usage_key(ke):
    """TS-0003 10.3.7: HMAC-SHA-256(Ke, label || SUID (decimal ASCII) || target FQDN)."""
    return hmac.new(ke, LABEL + str(SUID).encode() + TARGET_FQDN.encode(),
                    hashlib.sha256).digest()


def mef_args(url, kpm_file, ca, timeout_ms=2000):
    return ["--set", "mef.url=%s" % url, "--set", "mef.fqdn=%s" % MEF_FQDN,
            "--set", "mef.ca_file=%s" % ca, "--set", "mef.psk_identity=%s" % CSE_KPMID,
            "--set", "mef.psk_key_file=%s" % kpm_file,
            "--set", "mef.timeout_ms=%d" % timeout_ms, "--set", "mef.negative_ttl_s=60"]


class PskClient:
    """`m2msec client` over TLS-PSK to the CSE with a KeID as psk_identity."""

    def __init__(self, cse, identity, key_hex):
        self.base = ["client", "--url", "https://%s:%d" % (HOST, cse.https_port), "--ca",
                     cse.ca_pem, "--psk-identity", identity, "--psk-hex", key_hex,
                     "--timeout-ms", "15000"]

    def __call__(self, *args, frm=None):
        a = list(self.base) + (["--from", frm] if frm else []) + [str(x) for x in args]
        t0 = time.monotonic()
        rc, out, err = run(*a)
        return rc, out, err, time.monotonic() - t0


GW_RULE = {"rn": "asarGw", "apci": ["12-gw@sp"], "aai": ["Ngwadmin"], "aae": ["Cgw"]}


def make_rules(cse):
    """G5 step 6 is observable only when no rule admits everyone: the default rule is replaced
    by asarMef (designated by mef.asar_rules; MEF enrolees may register App-ID Nmefapp) and asarGw
    (the operator's rule for another credential and App-ID, not designated)."""
    r = cse.delete("/%s/asarDefault" % m2mtest.CSE_RN)
    assert r.rsc == 2002, r.describe()
    r = cse.create("/" + m2mtest.CSE_RN, 19, {"m2m:asar": {
        "rn": "asarMef", "apci": ["12-nobody@" + MEF_FQDN], "aai": ["Nmefapp"],
        "aae": ["Cnobody"]}})
    assert r.rsc == 2001, r.describe()
    r = cse.create("/" + m2mtest.CSE_RN, 19, {"m2m:asar": dict(GW_RULE)})
    assert r.rsc == 2001, r.describe()


def cred_of(keid):
    return "12-" + keid.split("@")[0].upper() + "@" + MEF_FQDN


class MefTargetTest(CseTestCase):
    """One MEF and one CSE for the class; the device enrols once."""

    @classmethod
    def setUpClass(cls):
        cls.mef = None
        cls.cse = None
        work = tempfile.mkdtemp(prefix="m2msec-mef-it-")
        m2mtest._workdirs.append(work)
        cls.work = work
        cls.mef = Mef(work)
        cls.mef.start()
        cls.cse = Cse(*mef_args(cls.mef.url, cls.mef.cse_kpm_file, cls.mef.ca),
                      "--set", "mef.asar_rules=asarMef")
        make_rules(cls.cse)
        cls.keid, cls.ke = enrol(cls.mef, work)
        cls.key_hex = usage_key(cls.ke).hex()

    @classmethod
    def tearDownClass(cls):
        if cls.cse is not None:
            cls.cse.close()
        if cls.mef is not None:
            cls.mef.stop()

    def _cses_for_diagnostics(self):
        return [self.cse] if self.cse else []

    def fetch_lines(self, keid):
        return [l for l in self.cse.stderr_text().splitlines() if keid in l and "mef:" in l]

    def test_1_device_registers_and_writes_with_the_remotely_provisioned_key(self):
        dev = PskClient(self.cse, self.keid, self.key_hex)
        rc, out, err, _ = dev("register-ae", "Nmefapp", "dev1ae", frm="C")
        self.assertEqual(rc, 0, "register: %s %s" % (out, err))
        self.assertIn("RSC 2001", err)
        ae = json.loads(out)["m2m:ae"]
        self.assertEqual(ae["aei"].split("/")[-1], ENROLEE, "bound to the enrolee ID (F6)")
        rc, out, err, _ = dev("create", "/%s/dev1ae" % m2mtest.CSE_RN, 3,
                              '{"m2m:cnt":{"rn":"data"}}', frm=ENROLEE)
        self.assertEqual(rc, 0, err)
        rc, out, err, _ = dev("create", "/%s/dev1ae/data" % m2mtest.CSE_RN, 4,
                              '{"m2m:cin":{"con":"21.5"}}', frm=ENROLEE)
        self.assertEqual(rc, 0, err)
        self.assertIn("RSC 2001", err)
        r = self.cse.retrieve("/%s/dev1ae/data/la" % m2mtest.CSE_RN)
        self.assertEqual(r.rsc, 2000, r.describe())
        self.assertEqual(r.res()["con"], "21.5")
        # G5 step 6: the rule now names the Credential-ID and the enrolee; durable and audited
        r = self.cse.retrieve("/%s/asarMef" % m2mtest.CSE_RN)
        self.assertIn(cred_of(self.keid), r.res()["apci"])
        self.assertIn(ENROLEE, r.res()["aae"])
        with open(os.path.join(self.cse.data_dir, "audit.log")) as f:
            self.assertIn("asar-mef-update", f.read())
        # a second association with the cached key: no second fetch
        rc, out, err, _ = dev("retrieve", "/%s/dev1ae" % m2mtest.CSE_RN, frm=ENROLEE)
        self.assertEqual(rc, 0, err)
        fetched = [l for l in self.fetch_lines(self.keid.split("@")[0].upper())
                   if "fetched key" in l]
        self.assertEqual(len(fetched), 1, fetched)

    def test_2_from_must_be_the_bound_enrolee(self):
        dev = PskClient(self.cse, self.keid, self.key_hex)
        rc, out, err, _ = dev("retrieve", "/" + m2mtest.CSE_RN, frm="Cother")
        self.assertEqual(rc, 1, err)
        self.assertIn("4106", err)

    def test_3_wrong_key_fails(self):
        bad = bytearray(bytes.fromhex(self.key_hex))
        bad[0] ^= 1
        rc, out, err, _ = PskClient(self.cse, self.keid, bad.hex())("retrieve", "/", frm=ENROLEE)
        self.assertEqual(rc, 3, "a wrong key must fail the handshake: %s" % err)

    def test_4_unknown_keid_fails_and_is_not_refetched(self):
        keid = "DEADBEEF" * 4 + "@" + MEF_FQDN
        dev = PskClient(self.cse, keid, "11" * 32)
        for _ in range(3):
            rc, out, err, dt = dev("retrieve", "/", frm=ENROLEE)
            self.assertEqual(rc, 3, err)
            self.assertLess(dt, 10.0)
        fails = [l for l in self.fetch_lines(keid) if "no key for" in l]
        self.assertEqual(len(fails), 1, "negative cache: one fetch for three handshakes")

    def test_0_only_the_designated_rule_changes(self):
        """G5 step 6 must not widen registration: asarGw (not in mef.asar_rules) is unchanged,
        and the enrolee cannot register the App-ID only asarGw allows. Runs first: once the
        enrolee has registered, a second registration is refused as such (4117)."""
        dev = PskClient(self.cse, self.keid, self.key_hex)
        rc, out, err, _ = dev("register-ae", "Ngwadmin", "gwadminae", frm="C")
        self.assertNotEqual(rc, 0, "an App-ID of another rule: %s %s" % (out, err))
        self.assertIn("4126", err)
        r = self.cse.retrieve("/%s/asarMef" % m2mtest.CSE_RN)
        self.assertIn(cred_of(self.keid), r.res()["apci"], "step 6 did run")
        r = self.cse.retrieve("/%s/asarGw" % m2mtest.CSE_RN)
        self.assertEqual(r.rsc, 2000, r.describe())
        for k in ("apci", "aai", "aae"):
            self.assertEqual(r.res()[k], GW_RULE[k], k)
        r = self.cse.retrieve("/%s/gwadminae" % m2mtest.CSE_RN)
        self.assertEqual(r.rsc, 4004, r.describe())

    def test_5_keid_of_another_mef_is_never_fetched(self):
        keid = "00" * 16 + "@mef.other.test"
        rc, out, err, _ = PskClient(self.cse, keid, "22" * 32)("retrieve", "/", frm=ENROLEE)
        self.assertEqual(rc, 3, err)
        self.assertEqual(self.fetch_lines(keid), [])


class MefAsarRemovalTest(CseTestCase):
    """The MEF withdraws the key (`m2msec mef revoke`; the CSE revalidates every second): the
    Credential-ID leaves the designated rule again, the rest of the rule stays."""

    @classmethod
    def setUpClass(cls):
        cls.mef = None
        cls.cse = None
        work = tempfile.mkdtemp(prefix="m2msec-mefasar-it-")
        m2mtest._workdirs.append(work)
        cls.mef = Mef(work)
        cls.mef.start()
        cls.cse = Cse(*mef_args(cls.mef.url, cls.mef.cse_kpm_file, cls.mef.ca),
                      "--set", "mef.asar_rules=asarMef", "--set", "mef.revalidate_s=1")
        make_rules(cls.cse)
        cls.keid, cls.ke = enrol(cls.mef, work)
        cls.key_hex = usage_key(cls.ke).hex()

    @classmethod
    def tearDownClass(cls):
        if cls.cse is not None:
            cls.cse.close()
        if cls.mef is not None:
            cls.mef.stop()

    def _cses_for_diagnostics(self):
        return [self.cse] if self.cse else []

    def apci(self):
        r = self.cse.retrieve("/%s/asarMef" % m2mtest.CSE_RN)
        self.assertEqual(r.rsc, 2000, r.describe())
        return r.res()

    def test_revoked_key_leaves_the_rule(self):
        dev = PskClient(self.cse, self.keid, self.key_hex)
        rc, out, err, _ = dev("register-ae", "Nmefapp", "dev1ae", frm="C")
        self.assertEqual(rc, 0, "register: %s %s" % (out, err))
        cred = cred_of(self.keid)
        self.assertIn(cred, self.apci()["apci"])
        must("mef", "revoke", "--data", self.mef.data, self.keid)
        deadline = time.time() + 20
        while cred in self.apci()["apci"] and time.time() < deadline:
            time.sleep(0.2)
        rule = self.apci()
        self.assertEqual(rule["apci"], ["12-nobody@" + MEF_FQDN], "only the Credential-ID goes")
        self.assertIn(ENROLEE, rule["aae"], "the stem stays (it grants nothing alone)")
        with open(os.path.join(self.cse.data_dir, "audit.log")) as f:
            self.assertIn("asar-mef-remove", f.read())
        r = self.cse.retrieve("/%s/asarGw" % m2mtest.CSE_RN)
        self.assertEqual(r.res()["apci"], GW_RULE["apci"])
        # the withdrawn key no longer opens a session
        rc, out, err, _ = dev("retrieve", "/%s/dev1ae" % m2mtest.CSE_RN, frm=ENROLEE)
        self.assertEqual(rc, 3, err)


class Tarpit:
    """A TCP listener that accepts and never answers: a MEF that hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind((HOST, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.t.join()
        for c in self.conns:
            c.close()
        self.sock.close()


class MefDownTest(CseTestCase):
    """The MEF hangs or is gone: the handshake fails cleanly within the fetch timeout, and the
    CSE keeps serving everyone else meanwhile."""

    @classmethod
    def setUpClass(cls):
        cls.cse = None
        cls.pit = Tarpit()
        work = tempfile.mkdtemp(prefix="m2msec-mefdown-it-")
        m2mtest._workdirs.append(work)
        kpm = write(os.path.join(work, "cse.kpm"), CSE_KPM + "\n")
        # any trust anchor will do: the tarpit never gets as far as TLS
        subprocess.run([m2mtest.BIN, "pki", "issue", "--data-dir", work, "--uri", "//x.test/y",
                        "--out-cert", os.path.join(work, "c.pem"), "--out-key",
                        os.path.join(work, "c.key")], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True, timeout=60)
        ca = os.path.join(work, "pki", "ca.pem")
        cls.cse = Cse(*mef_args("https://%s:%d" % (HOST, cls.pit.port), kpm, ca,
                                timeout_ms=1000), start=False)
        cls.cse.start()

    @classmethod
    def tearDownClass(cls):
        if cls.cse is not None:
            cls.cse.close()
        cls.pit.close()

    def _cses_for_diagnostics(self):
        return [self.cse] if self.cse else []

    def served_meanwhile(self, action):
        """Runs action() while another client retrieves the CSEBase every 50 ms; returns
        (result of action, worst latency of the other client, its failures)."""
        lat, fails, halt = [], [], threading.Event()

        def probe():
            while not halt.is_set():
                t0 = time.monotonic()
                r = self.cse.retrieve("/" + m2mtest.CSE_RN, origin=ADMIN, timeout=5)
                lat.append(time.monotonic() - t0)
                if r.rsc != 2000:
                    fails.append(r.rsc)
                time.sleep(0.05)

        t = threading.Thread(target=probe)
        t.start()
        try:
            res = action()
        finally:
            halt.set()
            t.join()
        return res, max(lat) if lat else None, fails

    def test_hanging_mef_fails_within_the_timeout(self):
        dev = PskClient(self.cse, "AB" * 16 + "@" + MEF_FQDN, "33" * 32)
        (rc, out, err, dt), worst, fails = self.served_meanwhile(
            lambda: dev("retrieve", "/", frm=ENROLEE))
        self.assertEqual(rc, 3, err)
        # mef.timeout_ms = 1000 for the connect and again for the answer, well inside the
        # handshake timeout (10 s)
        self.assertLess(dt, 6.0)
        self.assertEqual(fails, [])
        self.assertIsNotNone(worst)
        self.assertLess(worst, 1.0, "other clients must not wait for the MEF")

    def test_unreachable_mef_fails_fast(self):
        s = socket.socket()
        s.bind((HOST, 0))
        dead = s.getsockname()[1]
        s.close()  # nothing listens there
        work = tempfile.mkdtemp(prefix="m2msec-mefdead-it-")
        m2mtest._workdirs.append(work)
        cse = Cse(*mef_args("https://%s:%d" % (HOST, dead), os.path.join(work, "k"),
                            self.cse.ca_pem), start=False)
        write(os.path.join(work, "k"), CSE_KPM)
        try:
            cse.start()
            dev = PskClient(cse, "CD" * 16 + "@" + MEF_FQDN, "44" * 32)
            rc, out, err, dt = dev("retrieve", "/", frm=ENROLEE)
            self.assertEqual(rc, 3, err)
            self.assertLess(dt, 5.0)
            r = cse.retrieve("/" + m2mtest.CSE_RN)
            self.assertEqual(r.rsc, 2000)
        finally:
            cse.close()


class MefConfigTest(CseTestCase):
    """mef.* that cannot work stops the start with a message naming the problem."""

    def start_fails(self, *args):
        work = tempfile.mkdtemp(prefix="m2msec-mefcfg-it-")
        m2mtest._workdirs.append(work)
        p = subprocess.run([m2mtest.BIN, "cse", "--data-dir", os.path.join(work, "d"),
                            "--http", "%s:0" % HOST, "--https", "%s:0" % HOST, "--coap", "off",
                            "--coaps", "off"] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        return p.stderr.decode("utf-8", "replace")

    def test_plain_url_refused(self):
        self.assertIn("https", self.start_fails("--set", "mef.url=http://127.0.0.1:1",
                                                "--set", "mef.fqdn=" + MEF_FQDN))

    def test_missing_credential_refused(self):
        self.assertIn("mef.cert", self.start_fails("--set", "mef.url=https://127.0.0.1:1",
                                                   "--set", "mef.fqdn=" + MEF_FQDN))

    def test_missing_key_file_refused(self):
        err = self.start_fails("--set", "mef.url=https://127.0.0.1:1", "--set",
                               "mef.fqdn=" + MEF_FQDN, "--set", "mef.psk_identity=" + CSE_KPMID,
                               "--set", "mef.psk_key_file=/nonexistent/kpm")
        self.assertIn("mef.psk_key_file", err)

    def test_upper_case_fqdn_refused(self):
        self.assertIn("mef.fqdn", self.start_fails("--set", "mef.url=https://127.0.0.1:1",
                                                   "--set", "mef.fqdn=MEF.Example.com"))


if __name__ == "__main__":
    m2mtest.main()
