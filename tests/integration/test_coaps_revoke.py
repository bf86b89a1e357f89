"""test_coaps_revoke.py: CoAPS gaps. (a) `m2msec cred revoke` ends live DTLS-PSK sessions of the
revoked credential (close_notify within a second or so) and leaves other sessions alone; a new
handshake with the revoked PSK fails. (b) Block1 uploads: the body limit holds while blocks
arrive: a Size1 over the limit is refused at the first block with 4.13 and Size1 = the limit
(RFC 7959 2.9.3); without Size1 the block that passes the limit gets 4.13 and nothing is kept
(the next block is 4.08); a block without its start is 4.08; coap-client's large upload over
DTLS stops at its first block."""

import os
import re
import shutil
import socket
import struct
import subprocess
import time
import unittest

import m2mtest
from m2mtest import ADMIN, HOST, CseTestCase
from test_coap import (COAP_CLIENT, OPT_FR, OPT_RQI, URI_PATH, URI_QUERY, code_str, coap_ports,
                       decode, encode, opt, uint)

GNUTLS_CLI = shutil.which("gnutls-cli")
BLOCK1, SIZE1 = 27, 60
MAX_BODY = 65536


def block1(num, more, szx=6):
    v = (num << 4) | (8 if more else 0) | szx
    return v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big")


class CoapsRevokeTest(CseTestCase):

    cse_args = ("--set", "coap.response_options=false", "--max-body", str(MAX_BODY))

    def setUp(self):
        self.port, self.sport = coap_ports(self.cse)

    def add_psk(self, stem):
        # a printable key, so that coap-client can take it on its command line
        ident, key = "%s@m2msec.example.com" % stem, os.urandom(8).hex().encode().hex()
        p = subprocess.run([m2mtest.BIN, "cred", "add-psk", "--data-dir", self.cse.data_dir,
                            "--identity", ident, "--key-hex", key, "--bind", "C" + stem],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return ident, key

    def revoke(self, ident):
        p = subprocess.run([m2mtest.BIN, "cred", "revoke", "--data-dir", self.cse.data_dir,
                            ident], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)

    def open_session(self, ident, key):
        """gnutls-cli over UDP with the PSK, kept open on a pipe; returns (proc, output path)."""
        out = os.path.join(self.cse.work, "gnutls-%s.log" % ident.split("@")[0])
        f = open(out, "wb")
        proc = subprocess.Popen([GNUTLS_CLI, "--udp", "-p", str(self.sport), HOST,
                                 "--pskusername", ident, "--pskkey", key, "--priority",
                                 "NORMAL:-VERS-ALL:+VERS-DTLS1.2:-KX-ALL:+PSK:+ECDHE-PSK"],
                                stdin=subprocess.PIPE, stdout=f, stderr=subprocess.STDOUT)
        f.close()
        self.addCleanup(self._stop, proc)
        self.wait_until(lambda: b"Handshake was completed" in self._read(out), 15,
                        msg="DTLS handshake")
        return proc, out

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

    @unittest.skipIf(GNUTLS_CLI is None, "gnutls-cli not installed")
    def test_revoke_ends_live_session_only_of_that_credential(self):
        a = self.add_psk(self.uniq("rva").lower())
        b = self.add_psk(self.uniq("rvb").lower())
        pa, out_a = self.open_session(*a)
        pb, _ = self.open_session(*b)
        time.sleep(0.5)
        self.assertIsNone(pa.poll())
        self.revoke(a[0])
        # the server sends close_notify and forgets the session: gnutls-cli exits
        self.wait_until(lambda: b"Peer has closed" in self._read(out_a) or pa.poll() is not None,
                        10, msg="revoked session ended")
        self.assertIn("ending its session", self.cse.stderr_text())
        time.sleep(1.0)
        self.assertIsNone(pb.poll(), "the other credential's session must stay")
        # a new handshake with the revoked key fails
        p = subprocess.run([GNUTLS_CLI, "--udp", "-p", str(self.sport), HOST, "--pskusername",
                            a[0], "--pskkey", a[1]], input=b"", capture_output=True, timeout=30)
        self.assertNotIn(b"Handshake was completed", p.stdout + p.stderr)

    @unittest.skipIf(COAP_CLIENT is None, "coap-client-gnutls not installed")
    def test_coap_client_before_and_after_revoke(self):
        stem = self.uniq("cc").lower()
        ident, key = self.add_psk(stem)

        def get():
            p = subprocess.run([COAP_CLIENT, "-B", "5", "-u", ident, "-k", bytes.fromhex(key).decode(),
                                "-m", "get", "-O", "%d,%s" % (OPT_FR, ADMIN), "-O",
                                "%d,r1" % OPT_RQI, "coaps://%s:%d/cse-in" % (HOST, self.sport)],
                               capture_output=True, timeout=30)
            return p.stdout + p.stderr
        self.assertIn(b"4.03", get())  # handshake done; CAdmin is not bound to this PSK
        self.revoke(ident)
        self.assertNotIn(b"4.03", get())  # no handshake, so no answer

    # -- Block1 over plain CoAP, raw ------------------------------------------------------
    def send(self, s, num, more, payload, size1=None, token=b"tk01", path=("cse-in",)):
        opts = [(URI_PATH, p.encode()) for p in path] + [
            (URI_QUERY, b"ty=4"), (OPT_FR, ADMIN.encode()), (OPT_RQI, b"b1"),
            (BLOCK1, block1(num, more))]
        if size1 is not None:
            opts.append((SIZE1, size1.to_bytes(4, "big")))
        data, mid, _ = encode(2, opts, payload, token=token)
        s.sendto(data, (HOST, self.port))
        while True:
            msg = decode(s.recvfrom(65536)[0])
            if msg["mid"] == mid:
                return msg

    def sock(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        self.addCleanup(s.close)
        return s

    def test_size1_over_limit_refused_at_first_block(self):
        s = self.sock()
        r = self.send(s, 0, True, b"x" * 1024, size1=10 * 1024 * 1024)
        self.assertEqual(code_str(r["code"]), "4.13")
        self.assertEqual(uint(opt(r, SIZE1)), MAX_BODY)

    def test_growth_past_limit_refused_at_that_block(self):
        s = self.sock()
        for n in range(MAX_BODY // 1024):
            r = self.send(s, n, True, b"y" * 1024)
            self.assertEqual(code_str(r["code"]), "2.31", n)
        r = self.send(s, MAX_BODY // 1024, True, b"y" * 1024)
        self.assertEqual(code_str(r["code"]), "4.13")
        self.assertEqual(uint(opt(r, SIZE1)), MAX_BODY)
        r = self.send(s, 1, False, b"}")
        self.assertEqual(code_str(r["code"]), "4.08")  # nothing of it was kept

    def test_block_without_start_and_gap(self):
        s = self.sock()
        r = self.send(s, 3, True, b"z" * 1024)
        self.assertEqual(code_str(r["code"]), "4.08")
        self.assertEqual(code_str(self.send(s, 0, True, b"z" * 1024)["code"]), "2.31")
        self.assertEqual(code_str(self.send(s, 2, True, b"z" * 1024)["code"]), "4.08")
        # a short block that claims more follow
        self.assertEqual(code_str(self.send(s, 0, True, b"z" * 100)["code"]), "4.00")

    def test_small_blockwise_body_still_works(self):
        ae = "C" + self.uniq("blk")
        lbl = ",".join(['"%s"' % ("p" * 200)] * 8)
        body = ('{"m2m:ae":{"rn":"%s","api":"Nx","rr":false,"srv":["3"],"lbl":[%s]}}'
                % (ae, lbl)).encode()
        s = self.sock()
        blocks = [body[i:i + 1024] for i in range(0, len(body), 1024)]
        for n, chunk in enumerate(blocks):
            more = n < len(blocks) - 1
            opts = [(URI_PATH, b"cse-in"), (URI_QUERY, b"ty=2"), (OPT_FR, ae.encode()),
                    (OPT_RQI, b"b2"), (BLOCK1, block1(n, more)), (12, b"\x32")]
            data, mid, tok = encode(2, opts, chunk, token=b"tk%02d" % n)
            s.sendto(data, (HOST, self.port))
            while True:
                msg = decode(s.recvfrom(65536)[0])
                if msg["type"] == 0:  # separate CON response: acknowledge
                    s.sendto(bytes([0x60, 0]) + struct.pack(">H", msg["mid"]),
                             (HOST, self.port))
                if msg["token"] == tok and msg["code"] != 0:
                    break
            self.assertEqual(code_str(msg["code"]), "2.31" if more else "2.01", msg)

    @unittest.skipIf(COAP_CLIENT is None, "coap-client-gnutls not installed")
    def test_coap_client_large_upload_stops_at_first_block(self):
        ident, key = self.add_psk(self.uniq("up").lower())
        path = os.path.join(self.cse.work, "huge.json")
        with open(path, "w") as f:
            f.write('{"m2m:cin":{"con":"%s"}}' % ("u" * (4 * 1024 * 1024)))
        t0 = time.monotonic()
        p = subprocess.run([COAP_CLIENT, "-B", "20", "-v", "7", "-u", ident, "-k",
                            bytes.fromhex(key).decode(), "-m", "post", "-O", "%d,%s" % (OPT_FR, ADMIN),
                            "-O", "%d,r9" % OPT_RQI, "-t", "50", "-b", "1024", "-f", path,
                            "coaps://%s:%d/cse-in?ty=4" % (HOST, self.sport)],
                           capture_output=True, timeout=120)
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        self.assertIn("4.13", out)
        self.assertLess(time.monotonic() - t0, 15)
        nums = set(re.findall(r"c:POST .*?Block1:(\d+)/", out))
        self.assertEqual(nums, {"0"}, "blocks sent: %s" % sorted(nums))  # refused at block 0


if __name__ == "__main__":
    m2mtest.main()
