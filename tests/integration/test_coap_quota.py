"""test_coap_quota.py: limits.max_connections_per_ip holds on the CoAP binding too. With a limit of
2 from 127.0.0.1: a third concurrent DTLS-PSK session fails its handshake while the first two keep
answering requests, and a third plain CoAP session (another source port) is answered 5.03 with
Max-Age while the first two are answered; each refusal is logged. With 0 (unlimited) three of
each work."""

import os
import shutil
import socket
import subprocess
import time
import unittest

import m2mtest
from m2mtest import ADMIN, HOST, CseTestCase
from test_coap import OPT_FR, OPT_RQI, URI_PATH, code_str, coap_ports, decode, encode, opt, uint

GNUTLS_CLI = shutil.which("gnutls-cli")
MAX_AGE = 14


class _QuotaBase(CseTestCase):

    def setUp(self):
        self.port, self.sport = coap_ports(self.cse)

    def add_psk(self, stem):
        ident, key = "%s@m2msec.example.com" % stem, os.urandom(16).hex()
        p = subprocess.run([m2mtest.BIN, "cred", "add-psk", "--data-dir", self.cse.data_dir,
                            "--identity", ident, "--key-hex", key, "--bind", "C" + stem],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return ident, key

    @staticmethod
    def _read(path):
        with open(path, "rb") as f:
            return f.read()

    @staticmethod
    def _stop(proc):
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stdin:
            proc.stdin.close()

    def dtls(self, n):
        """gnutls-cli over UDP with a fresh PSK, kept open on a pipe: (proc, output path)."""
        ident, key = self.add_psk(self.uniq("q%d" % n).lower())
        out = os.path.join(self.cse.work, "gnutls-%s.log" % ident.split("@")[0])
        with open(out, "wb") as f:
            proc = subprocess.Popen([GNUTLS_CLI, "--udp", "-p", str(self.sport), HOST,
                                     "--pskusername", ident, "--pskkey", key, "--priority",
                                     "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK:+ECDHE-PSK"],
                                    stdin=subprocess.PIPE, stdout=f, stderr=subprocess.STDOUT)
        self.addCleanup(self._stop, proc)
        return proc, out

    def handshake_result(self, out, proc, timeout=20):
        """True when the handshake completed, False when it failed."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self._read(out)
            if b"Handshake was completed" in text:
                return True
            if proc.poll() is not None or b"Handshake has failed" in text:
                return False
            time.sleep(0.1)
        self.fail("neither completion nor failure of the DTLS handshake: %r" % self._read(out))

    def dtls_get(self, proc, out, tag):
        """A CoAP GET written as one DTLS record; True when a response with its token came."""
        token = tag.encode()[:8]
        data, _, _ = encode(1, [(URI_PATH, b"cse-in"), (OPT_FR, ADMIN.encode()),
                                (OPT_RQI, tag.encode())], token=token)
        proc.stdin.write(data)
        proc.stdin.flush()
        deadline = time.time() + 10
        while time.time() < deadline:
            if token in self._read(out):
                return True
            time.sleep(0.1)
        return False

    def udp(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        self.addCleanup(s.close)
        return s

    def udp_get(self, s, tag):
        data, mid, _ = encode(1, [(URI_PATH, b"cse-in"), (OPT_FR, ADMIN.encode()),
                                  (OPT_RQI, tag.encode())])
        s.sendto(data, (HOST, self.port))
        while True:
            msg = decode(s.recvfrom(65536)[0])
            if msg["mid"] == mid:
                return msg


@unittest.skipIf(GNUTLS_CLI is None, "gnutls-cli not installed")
class CoapQuotaPerPeerTest(_QuotaBase):

    # DTLS and plain CoAP sessions from 127.0.0.1 share the quota and live until their idle
    # timeout: every test gets its own CSE
    @classmethod
    def setUpClass(cls):
        pass

    def setUp(self):
        type(self).cse = m2mtest.Cse("--set", "limits.max_connections_per_ip=2", "--set",
                                     "coap.response_options=false")
        self.addCleanup(self._close_cse)
        super().setUp()

    def _close_cse(self):
        c, type(self).cse = type(self).cse, None
        c.close(check=True)

    def test_third_dtls_session_refused_first_two_keep_working(self):
        sessions = []
        for n in range(2):
            proc, out = self.dtls(n)
            self.assertTrue(self.handshake_result(out, proc), "session %d must be admitted" % n)
            sessions.append((proc, out))
        proc3, out3 = self.dtls(3)
        self.assertFalse(self.handshake_result(out3, proc3), "the third session must be refused")
        for n, (proc, out) in enumerate(sessions):
            self.assertIsNone(proc.poll())
            self.assertTrue(self.dtls_get(proc, out, "qd%d" % n), "session %d must answer" % n)
        self.assertIn("per-peer session limit of 2 reached", self.cse.stderr_text())

    def test_third_udp_session_gets_503(self):
        a, b, c = self.udp(), self.udp(), self.udp()
        ra = self.udp_get(a, "qu1")
        rb = self.udp_get(b, "qu2")
        self.assertNotEqual(code_str(ra["code"]), "5.03")
        self.assertNotEqual(code_str(rb["code"]), "5.03")
        rc = self.udp_get(c, "qu3")
        self.assertEqual(code_str(rc["code"]), "5.03")
        self.assertEqual(uint(opt(rc, MAX_AGE)), 10)
        # the admitted ones still work, the refused one stays refused
        self.assertNotEqual(code_str(self.udp_get(a, "qu4")["code"]), "5.03")
        self.assertEqual(code_str(self.udp_get(c, "qu5")["code"]), "5.03")
        self.assertIn("per-peer session limit of 2 reached", self.cse.stderr_text())


@unittest.skipIf(GNUTLS_CLI is None, "gnutls-cli not installed")
class CoapQuotaUnlimitedTest(_QuotaBase):

    cse_args = ("--set", "limits.max_connections_per_ip=0", "--set",
                "coap.response_options=false")

    def test_three_dtls_sessions_work(self):
        for n in range(3):
            proc, out = self.dtls(n)
            self.assertTrue(self.handshake_result(out, proc), "session %d" % n)
            self.assertTrue(self.dtls_get(proc, out, "qz%d" % n), "session %d must answer" % n)

    def test_three_udp_sessions_work(self):
        for n in range(3):
            r = self.udp_get(self.udp(), "qv%d" % n)
            self.assertNotEqual(code_str(r["code"]), "5.03")
        self.assertNotIn("session limit", self.cse.stderr_text())


if __name__ == "__main__":
    m2mtest.main()
