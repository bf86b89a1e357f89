"""test_client_mef.py: the MEF client of the device library (include/m2msec/mef.h) through
`m2msec client mef-*` against a real `m2msec mef serve` (docs/MEF.md): enrolment with a Kpm
(PPSK RSPF, G3) and the usage-constrained key equal to what the Enrolment Target fetches (G5),
MEF Client Registration, the command loop with a CERT_PROV queued by the administrator -> EST ->
certificate, then the certificate RSPF with that certificate (G2, G7, G10); a class the client
does not support is reported 41; a wrong Kpm, an unknown KpmID and a MEF that is down fail with
one clear line and a non-zero exit."""

import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
import unittest

import m2mtest
from m2mtest import HOST

FQDN = "mef.m2msec.test"
ADMIN_FQDN = "sp.m2msec.test"
# An absolute AE-ID: the MEF's EST RA certifies only absolute CSE-/AE-IDs and URNs (src/mef/
# est_attrs.c check_san_form), not the SP-relative "Cdev1" of the docs/MEF.md examples.
DEV = "//m2msec.example.com/id-in/Cdev1"
DEV_KPMID = "dev1@" + FQDN
DEV_KPM = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
TARGET = "/id-in"
TARGET_FQDN = "in.m2msec.test"
TARGET_KPMID = "in@" + FQDN
TARGET_KPM = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
SUID = 22


class MefProc:
    """One `m2msec mef serve` with its own data directory on an ephemeral loopback port."""

    def __init__(self):
        self.work = tempfile.mkdtemp(prefix="m2msec-mefc-")
        self.data = os.path.join(self.work, "data")
        self.proc = None
        self.port = None
        self.lines = []
        self.admin("init", "--fqdn", FQDN)

    def admin(self, *args, check=True):
        head = 2 if args[0] == "cmd" else 1  # "cmd add" is a two-word command
        p = subprocess.run([m2mtest.BIN, "mef"] + list(args[:head]) + ["--data", self.data]
                           + list(args[head:]),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError("m2msec mef %s failed (%d): %s"
                                 % (" ".join(args), p.returncode, p.stderr.decode()))
        return p

    def key_file(self, name, hexkey):
        path = os.path.join(self.work, name)
        with open(path, "w") as f:
            f.write(hexkey + "\n")
        os.chmod(path, 0o600)
        return path

    def start(self):
        err = open(os.path.join(self.work, "mef.stderr"), "wb")
        self.proc = subprocess.Popen([m2mtest.BIN, "mef", "serve", "--data", self.data,
                                      "--listen", "%s:0" % HOST],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        err.close()
        ready = threading.Event()

        def pump():
            for line in iter(self.proc.stdout.readline, b""):
                self.lines.append(line.decode("utf-8", "replace").strip())
                if self.lines[-1].startswith("READY"):
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(m2mtest.READY_TIMEOUT):
            self.stop()
            raise AssertionError("the MEF printed no READY line")
        m = next((re.search(r"mef=([0-9.]+):(\d+)", l) for l in self.lines
                  if l.startswith("READY")), None)
        if not m:
            self.stop()
            raise AssertionError("MEF exited before READY: %s" % self.stderr())
        self.port = int(m.group(2))

    def stderr(self):
        try:
            with open(os.path.join(self.work, "mef.stderr"), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(m2mtest.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.work, ignore_errors=True)

    @property
    def ca(self):
        return os.path.join(self.data, "ca.pem")

    @property
    def url(self):
        return "https://%s:%d" % (HOST, self.port)


def client(mef, cred, *verb, url=None, origin=DEV):
    """Runs `m2msec client` against the MEF; returns (rc, stdout, stderr)."""
    argv = [m2mtest.BIN, "client", "--url", url or mef.url, "--servername", FQDN, "--ca", mef.ca,
            "--timeout-ms", "20000"]
    if origin:
        argv += ["--from", origin]
    argv += list(cred) + list(verb)
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


class ClientMefTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mef = MefProc()
        m = cls.mef
        cls.dev_psk = ["--psk-identity", DEV_KPMID, "--psk-file", m.key_file("dev.kpm", DEV_KPM)]
        cls.target_psk = ["--psk-identity", TARGET_KPMID,
                          "--psk-file", m.key_file("in.kpm", TARGET_KPM)]
        m.admin("add-kpm", "--kpmid", DEV_KPMID, "--key-file", m.key_file("a", DEV_KPM),
                "--identity", DEV)
        m.admin("add-kpm", "--kpmid", TARGET_KPMID, "--key-file", m.key_file("b", TARGET_KPM),
                "--identity", TARGET)
        m.admin("add-target", "--id", TARGET, "--fqdn", TARGET_FQDN)
        m.admin("allow", "--enrolee", DEV, "--target", TARGET, "--suid", str(SUID))
        m.start()
        cls.out = tempfile.mkdtemp(prefix="m2msec-mefc-out-")

    @classmethod
    def tearDownClass(cls):
        cls.mef.close()
        shutil.rmtree(cls.out, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.out, name)

    def ok(self, res):
        rc, out, err = res
        self.assertEqual(rc, 0, "exit %d\nstdout: %s\nstderr: %s\nMEF: %s"
                         % (rc, out, err, self.mef.stderr()))
        return out

    def assert_secret_file(self, path, nbytes=32):
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        with open(path) as f:
            text = f.read()
        self.assertRegex(text, r"^[0-9a-f]{%d}\n$" % (2 * nbytes))
        return text.strip()

    def register(self, cred, admin=ADMIN_FQDN):
        out = self.ok(client(self.mef, cred, "mef-register", "--admin-fqdn", admin))
        reg = out.strip().splitlines()[-1]
        self.assertRegex(reg, r"^[A-Za-z0-9_-]+$")
        return reg

    # -- G3 / G5: enrolment with the Kpm, the derived key equals the one the Target fetches ----
    def test_enrol_with_kpm_and_fetch(self):
        key = self.path("k22")
        out = self.ok(client(self.mef, self.dev_psk, "mef-enrol", "--derive-for", TARGET_FQDN,
                             "--suid", str(SUID), "--key-out", key))
        m = re.search(r"^KeID ([0-9A-F]{32}@%s)$" % re.escape(FQDN), out, re.M)
        self.assertIsNotNone(m, out)
        keid = m.group(1)
        self.assertIn("enrolee %s" % DEV, out)
        self.assertRegex(out, r"expires \d{8}T\d{6}")
        self.assertIn("target %s %s %d" % (TARGET, TARGET_FQDN, SUID), out)
        mine = self.assert_secret_file(key)
        self.assertNotIn(mine, out)  # keys never printed
        fetched = self.path("fetched")
        out2 = self.ok(client(self.mef, self.target_psk, "fetch-credentials", keid, str(SUID),
                              "--key-out", fetched, origin=TARGET))
        self.assertIn("enrolee %s" % DEV, out2)
        self.assertEqual(self.assert_secret_file(fetched), mine)
        # the Enrolee is not a target: refused, exit 1, one line
        rc, _, err = client(self.mef, self.dev_psk, "fetch-credentials", keid, str(SUID),
                            "--key-out", self.path("nope"))
        self.assertEqual(rc, 1, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertFalse(os.path.exists(self.path("nope")))

    def test_enrol_ke_out(self):
        ke = self.path("ke")
        self.ok(client(self.mef, self.dev_psk, "mef-enrol", "--ke-out", ke))
        self.assert_secret_file(ke)

    # -- G10 / G7: CERT_PROV -> EST -> certificate -> certificate RSPF -------------------------
    def test_cert_prov_then_certificate_rspf(self):
        reg = self.register(self.dev_psk)
        self.mef.admin("cmd", "add", "--client", DEV, "--class", "CERT_PROV", "--subject-type",
                       "3", "--subject-id", DEV)
        cert, key, ca = self.path("dev.pem"), self.path("dev.key"), self.path("mefca.pem")
        out = self.ok(client(self.mef, self.dev_psk, "mef-commands", reg, "--cert-out", cert,
                             "--key-out", key, "--ca-out", ca))
        self.assertIn("certificate %s" % DEV, out)
        self.assertIn("last-status 20", out)
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        with open(cert) as f:
            self.assertIn("BEGIN CERTIFICATE", f.read())
        if shutil.which("openssl"):
            v = subprocess.run(["openssl", "verify", "-CAfile", ca, cert],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            self.assertEqual(v.returncode, 0, v.stdout)
            t = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-ext",
                                "subjectAltName"], stdout=subprocess.PIPE)
            self.assertIn(("URI:" + DEV).encode(), t.stdout)
        # the queue is empty now: NO_MORE_COMMANDS with its retry duration
        out = self.ok(client(self.mef, self.dev_psk, "mef-commands", reg, "--cert-out",
                             self.path("x.pem"), "--key-out", self.path("x.key")))
        self.assertIn("processed 0", out)
        self.assertRegex(out, r"retry P")
        # certificate RSPF with the certificate the MEF issued
        out = self.ok(client(self.mef, ["--cert", cert, "--key", key], "mef-enrol"))
        self.assertIn("enrolee %s" % DEV, out)
        self.ok(client(self.mef, self.dev_psk, "mef-deregister", reg))

    def test_unsupported_class_reported_41(self):
        reg = self.register(self.dev_psk, admin="other.m2msec.test")
        self.mef.admin("cmd", "add", "--client", DEV, "--class", "DEV_CFG", "--uri",
                       "1:https://dm.m2msec.test/")
        rc, out, err = client(self.mef, self.dev_psk, "mef-commands", reg, "--cert-out",
                              self.path("y.pem"), "--key-out", self.path("y.key"))
        self.assertEqual(rc, 1, out + err)
        self.assertIn("last-status 41", out)
        self.assertFalse(os.path.exists(self.path("y.key")))
        self.ok(client(self.mef, self.dev_psk, "mef-deregister", reg))

    def test_est_enroll_own_identity_and_foreign_san(self):
        cert, key = self.path("own.pem"), self.path("own.key")
        out = self.ok(client(self.mef, self.dev_psk, "est-enroll", "--san", DEV, "--cert-out",
                             cert, "--key-out", key))
        self.assertIn("certificate " + DEV, out)
        rc, _, err = client(self.mef, self.dev_psk, "est-enroll", "--san",
                            "//m2msec.example.com/id-in/Cnotme",
                            "--cert-out", self.path("f.pem"), "--key-out", self.path("f.key"))
        self.assertEqual(rc, 1, err)
        self.assertIn("HTTP 403", err)
        self.assertFalse(os.path.exists(self.path("f.key")))

    # -- failures: one line, non-zero exit ----------------------------------------------------
    def test_wrong_kpm_fails(self):
        bad = ["--psk-identity", DEV_KPMID, "--psk-hex", "11" * 32]
        rc, out, err = client(self.mef, bad, "mef-enrol")
        self.assertEqual(rc, 3, err)
        self.assertEqual(out, "")
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("TLS", err)

    def test_unknown_kpmid_fails(self):
        bad = ["--psk-identity", "nobody@" + FQDN, "--psk-hex", DEV_KPM]
        rc, _, err = client(self.mef, bad, "mef-enrol")
        self.assertEqual(rc, 3, err)
        self.assertIn("TLS", err)

    def test_mef_down_fails_clearly(self):
        s = socket.socket()
        s.bind((HOST, 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        rc, out, err = client(self.mef, self.dev_psk, "mef-enrol",
                              url="https://%s:%d" % (HOST, port))
        self.assertEqual(rc, 3, err)
        self.assertEqual(out, "")
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("cannot connect", err)

    def test_usage_errors(self):
        rc, _, err = client(self.mef, self.dev_psk, "mef-enrol", "--derive-for", TARGET_FQDN)
        self.assertEqual(rc, 2, err)
        rc, _, err = client(self.mef, self.dev_psk, "mef-register")
        self.assertEqual(rc, 2, err)
        rc, _, err = client(self.mef, self.dev_psk, "fetch-credentials", "x", "22")
        self.assertEqual(rc, 2, err)


if __name__ == "__main__":
    m2mtest.main()
