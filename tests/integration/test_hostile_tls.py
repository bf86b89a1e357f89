"""test_hostile_tls.py: hostile clients on the HTTPS port: random bytes, truncated and stalled
handshakes (limits.handshake_timeout_ms), a client that completes the handshake and then sends
garbage (inside TLS records and at the record layer), and plaintext HTTP. Each runs while a
well-behaved HTTPS client keeps retrieving a container's la. Asserts a prompt close (never a
2xx), the well-behaved client's success rate and p99, and a bound on the server's peak RSS.
M2M_SOAK=1 scales the counts up (make soak)."""

import os
import random
import select
import socket
import ssl
import time

import m2mtest
from m2mtest import ADMIN, CseTestCase, proc_mem_kib, raw_connect, run_attack, scaled, status_of

HANDSHAKE_TIMEOUT_MS = 1000
SLACK_S = 3.0  # tick, ASan, a busy host


def wait_closed(s, timeout):
    """Reads until the peer closes (True, bytes) or timeout (False, bytes)."""
    buf = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([s], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return True, buf
        except OSError:
            return True, buf
        if not chunk:
            return True, buf
        buf += chunk
    return False, buf


class HostileTlsTest(CseTestCase):
    cse_args = ("--set", "limits.handshake_timeout_ms=%d" % HANDSHAKE_TIMEOUT_MS,
                "--read-timeout-ms", "1000", "--idle-timeout-ms", "2000")
    rows = []

    @classmethod
    def setUpClass(cls):
        m2mtest.bounded_asan_env()
        super().setUpClass()
        cls.origin, cls.cnt, cls.la = m2mtest.hostile_fixture(cls.cse, "Ctls")
        cls.baseline = proc_mem_kib(cls.cse.proc.pid).get("VmRSS", 0) / 1024.0
        cls.rows = []

    @classmethod
    def tearDownClass(cls):
        if cls.rows:
            print("\n" + m2mtest.results_table(cls.rows, "test_hostile_tls") + "\n")
        super().tearDownClass()

    def attack(self, name, fn, **limits):
        row = run_attack(self.cse, name, fn, self.la, self.origin, probe_tls=True)
        self.rows.append(row)
        m2mtest.check_attack_row(self, row, self.baseline, **limits)
        self.assertTrue(self.cse.running(), "server died during %s" % name)
        return row

    # -- helpers ------------------------------------------------------------------------------
    def client_ctx(self):
        return self.cse.ssl_context()

    def bio_client(self):
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        return self.client_ctx().wrap_bio(inc, out, server_side=False), inc, out

    def client_hello(self):
        """The bytes of a real ClientHello (what the ssl module sends first)."""
        obj, _, out = self.bio_client()
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return out.read()

    def bio_handshake(self, s, obj, inc, out, timeout=10.0):
        """Completes a TLS handshake over the plain socket s through memory BIOs."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                obj.do_handshake()
                data = out.read()
                if data:
                    s.sendall(data)
                return
            except ssl.SSLWantReadError:
                data = out.read()
                if data:
                    s.sendall(data)
                s.settimeout(max(0.05, deadline - time.monotonic()))
                chunk = s.recv(65536)
                if not chunk:
                    raise AssertionError("server closed during the handshake")
                inc.write(chunk)

    def assert_closed_promptly(self, s, what, limit=HANDSHAKE_TIMEOUT_MS / 1000.0 + SLACK_S):
        t0 = time.monotonic()
        closed, buf = wait_closed(s, limit + 5)
        took = time.monotonic() - t0
        self.assertTrue(closed, "%s: connection still open after %.1f s" % (what, took))
        self.assertLess(took, limit, "%s: closed only after %.1f s" % (what, took))
        self.assertNotIn(status_of(buf), (200, 201), "%s: answered %r" % (what, buf[:100]))
        return buf

    # -- attacks ------------------------------------------------------------------------------
    def closed_in_batch(self, payloads, what):
        """One connection per payload, all sent at once, then each must be closed promptly
        (they wait out the handshake timeout together)."""
        socks = []
        try:
            for data in payloads:
                s = raw_connect(self.cse.https_port)
                socks.append(s)
                try:
                    s.sendall(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            t0 = time.monotonic()
            limit = HANDSHAKE_TIMEOUT_MS / 1000.0 + SLACK_S
            for s in socks:
                left = max(0.5, limit - (time.monotonic() - t0))
                buf = self.assert_closed_promptly(s, what, limit=left)
                self.assertNotIn(b"probe-value", buf)
        finally:
            for s in socks:
                s.close()
        return len(socks)

    def test_tls_random_bytes(self):
        rnd = random.Random(4242)
        sizes = (1, 5, 6, 100, 4096, 16384 + 5, 65536)
        n = scaled(4, 30)

        def attack():
            tried = 0
            for i in range(n):
                batch = []
                for size in sizes:
                    data = bytes(rnd.getrandbits(8) for _ in range(size))
                    if i % 2:  # a plausible record header in front: handshake, TLS 1.0, length
                        data = b"\x16\x03\x01" + min(size, 0x4000).to_bytes(2, "big") + data
                    batch.append(data)
                tried += self.closed_in_batch(batch, "random bytes")
            return tried

        self.attack("TLS port: random bytes", attack)

    def test_truncated_handshakes(self):
        hello = self.client_hello()
        self.assertGreater(len(hello), 50)
        count = scaled(21, 201)

        def attack():
            tried = 0
            # many at once: silent, half a ClientHello, a whole one then stall (handshake timeout)
            socks = []
            for i in range(count):
                s = raw_connect(self.cse.https_port)
                part = (b"", hello[:len(hello) // 2], hello)[i % 3]
                if part:
                    s.sendall(part)
                socks.append(s)
            try:
                for s in socks:
                    self.assert_closed_promptly(s, "stalled handshake")
            finally:
                for s in socks:
                    s.close()
            tried += count
            # ClientHello then close at once, ClientHello then RST
            for i in range(count):
                s = raw_connect(self.cse.https_port)
                s.sendall(hello)
                if i % 2:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.close()
                tried += 1
            return tried

        self.attack("truncated / stalled TLS handshakes", attack)

    def test_garbage_after_handshake(self):
        n = scaled(10, 100)
        rnd = random.Random(99)

        def attack():
            tried = 0
            for i in range(n):
                # (a) garbage application data inside valid TLS records: an HTTP error, a close
                with socket.create_connection(("127.0.0.1", self.cse.https_port), 5) as raw:
                    with self.client_ctx().wrap_socket(raw) as s:
                        s.sendall(bytes(rnd.getrandbits(8) for _ in range(200 + i)) + b"\r\n\r\n")
                        buf = b""
                        s.settimeout(HANDSHAKE_TIMEOUT_MS / 1000.0 + SLACK_S)
                        try:
                            while True:
                                chunk = s.recv(65536)
                                if not chunk:
                                    break
                                buf += chunk
                        except (ssl.SSLError, ConnectionResetError, socket.timeout):
                            pass
                        self.assertIn(status_of(buf), (400, 408, 431, 505, None), buf[:200])
                tried += 1
                # (b) garbage at the record layer after a completed handshake
                s = raw_connect(self.cse.https_port)
                try:
                    obj, inc, out = self.bio_client()
                    self.bio_handshake(s, obj, inc, out)
                    junk = os.urandom(64 + i) if i % 2 else b"\x17\x03\x03\x00\x20" + os.urandom(32)
                    try:
                        s.sendall(junk)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    self.assert_closed_promptly(s, "record-layer garbage after the handshake")
                finally:
                    s.close()
                tried += 1
            return tried

        self.attack("TLS handshake then garbage", attack)

    def test_plaintext_http_to_tls_port(self):
        n = scaled(2, 20)
        req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-M2M-Origin: %s\r\nX-M2M-RI: p\r\n"
               "X-M2M-RVI: 3\r\n\r\n" % (self.la, ADMIN)).encode()

        def attack():
            tried = 0
            for _ in range(n):  # whole requests and 10-byte starts, 20 connections at once
                tried += self.closed_in_batch([req, req[:10]] * 10,
                                              "plaintext HTTP on the TLS port")
            return tried

        self.attack("plaintext HTTP to the TLS port", attack)

    def test_zz_server_alive(self):
        self.assertRsc(self.cse.retrieve(self.la, origin=self.origin, tls=True), 2000)
        self.assertRsc(self.cse.retrieve(self.la, origin=self.origin), 2000)
        self.assertTrue(self.cse.running())


if __name__ == "__main__":
    m2mtest.main()
