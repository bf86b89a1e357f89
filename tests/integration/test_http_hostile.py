"""test_http_hostile.py: hostile HTTP/1.1 input on raw sockets (RFC 9112 framing as bounded by
src/bind/http/http.h; TS-0009 for the oneM2M layer): framing errors, size limits, hostile JSON,
slow clients, connection floods and pipelining; the server must survive all of it."""

import select
import socket
import time

import m2mtest
from m2mtest import ADMIN, CseTestCase, parse_responses, raw_connect, raw_exchange, status_of

MAX_BODY = 8192


def head(method="GET", target="/cse-in", extra=(), rqi=None, host=True, version="HTTP/1.1"):
    lines = ["%s %s %s" % (method, target, version)]
    if host:
        lines.append("Host: 127.0.0.1")
    lines += ["X-M2M-Origin: " + ADMIN, "X-M2M-RI: " + (rqi or m2mtest.new_rqi()),
              "X-M2M-RVI: 3"]
    lines += list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class HostileFramingTest(CseTestCase):
    cse_args = ("--max-body", str(MAX_BODY), "--read-timeout-ms", "1000")

    def expect(self, data, *statuses, closed=True, timeout=5.0):
        buf, was_closed = raw_exchange(self.cse.http_port, data, timeout)
        st = status_of(buf)
        self.assertIn(st, statuses, "got %r" % buf[:300])
        if closed:
            self.assertTrue(was_closed, "connection left open after a framing error")
        # framing errors are answered with an m2m:dbg body and an RSC (http.h http_write_error)
        resp = parse_responses(buf)
        if resp and st >= 400:
            self.assertIn("x-m2m-rsc", resp[0][1], resp[0][1])
        # no second response: nothing after the bad request was executed
        self.assertLessEqual(len(resp), 1, buf[:600])
        return buf

    def test_bare_lf(self):
        data = (b"GET /cse-in HTTP/1.1\nHost: 127.0.0.1\nX-M2M-Origin: CAdmin\n"
                b"X-M2M-RI: lf\nX-M2M-RVI: 3\n\n")
        self.expect(data, 400)

    def test_bare_lf_in_one_header(self):
        data = (b"GET /cse-in HTTP/1.1\r\nHost: 127.0.0.1\nX-M2M-Origin: CAdmin\r\n"
                b"X-M2M-RI: lf\r\nX-M2M-RVI: 3\r\n\r\n")
        self.expect(data, 400)

    def test_duplicate_content_length(self):
        body = b'{"m2m:cnt":{"rn":"dupcl"}}'
        data = head("POST", "/cse-in", ("Content-Type: application/json;ty=3",
                                        "Content-Length: %d" % len(body),
                                        "Content-Length: %d" % len(body))) + body
        self.expect(data, 400)
        self.assertRsc(self.cse.retrieve("/cse-in/dupcl"), 4004)

    def test_conflicting_content_length_list(self):
        data = head("POST", "/cse-in", ("Content-Type: application/json;ty=3",
                                        "Content-Length: 5, 6")) + b"12345"
        self.expect(data, 400)

    def test_invalid_content_length(self):
        for cl in ("abc", "-1", "1e3", "+5", "99999999999999999999999"):
            with self.subTest(cl=cl):
                data = head("POST", "/cse-in", ("Content-Type: application/json;ty=3",
                                                "Content-Length: " + cl)) + b"{}"
                self.expect(data, 400, 413)

    def test_content_length_with_transfer_encoding(self):
        # RFC 9112 6.1: a request smuggling vector; http.h rejects any Transfer-Encoding
        smuggled = head("GET", "/cse-in/smuggled")
        body = b"0\r\n\r\n" + smuggled
        data = head("POST", "/cse-in", ("Content-Type: application/json;ty=3",
                                        "Content-Length: %d" % len(body),
                                        "Transfer-Encoding: chunked")) + body
        self.expect(data, 400, 501)

    def test_transfer_encoding_variants(self):
        for te in ("chunked", " chunked", "identity", "gzip, chunked", "xchunked"):
            with self.subTest(te=te):
                data = head("POST", "/cse-in", ("Content-Type: application/json;ty=3",
                                                "Transfer-Encoding: " + te))
                self.expect(data + b"0\r\n\r\n", 400, 501)

    def test_nul_byte(self):
        for data in (head("GET", "/cse-in", ("X-Evil: a\x00b",)),
                     head("GET", "/cse-in\x00x"),
                     b"GET /cse-in HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"X-M2M-Orig\x00in: CAdmin\r\n\r\n"):
            with self.subTest(data=data[:40]):
                self.expect(data, 400)

    def test_control_characters_and_obs_fold(self):
        for data in (head("GET", "/cse-in", ("X-Evil: a\x01b",)),
                     head("GET", "/cse-in", ("X-Evil: a", " folded")),
                     head("GET", "/cse-in", ("NoColonHere",)),
                     head("GET", "/cse-in", ("Bad Name: x",)),
                     head("GET", "/cse-in", (": empty-name",))):
            with self.subTest(data=data[-40:]):
                self.expect(data, 400)

    def test_header_count_flood(self):
        extra = ["X-Flood-%d: v" % i for i in range(500)]
        self.expect(head("GET", "/cse-in", extra), 431)

    def test_huge_header(self):
        self.expect(head("GET", "/cse-in", ("X-Big: " + "a" * 40000,)), 431)

    def test_huge_header_never_terminated(self):
        # the head never ends: the server must stop buffering at its bound, not wait forever
        s = raw_connect(self.cse.http_port)
        data = b"GET /cse-in HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"b" * 100000
        buf, closed = raw_exchange(self.cse.http_port, data, 5, sock=s)
        self.assertTrue(closed, "server kept buffering an unbounded header")
        self.assertIn(status_of(buf), (431, 408, None))

    def test_overlong_uri(self):
        self.expect(head("GET", "/cse-in/" + "u" * 10000), 414)

    def test_bad_versions(self):
        self.expect(head("GET", "/cse-in", version="HTTP/2.0"), 505, 400)
        self.expect(head("GET", "/cse-in", version="HTTP/1.2"), 505, 400)
        self.expect(head("GET", "/cse-in", version="HTTP/x"), 400, 505)
        self.expect(b"GET /cse-in\r\n\r\n", 400, 505)

    def test_missing_host_http11(self):
        self.expect(head("GET", "/cse-in", host=False), 400)

    def test_garbage_request_line(self):
        for data in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
                     b"HELLO\r\n\r\n", b"GET  /cse-in  HTTP/1.1\r\nHost: x\r\n\r\n",
                     b"\r\n\r\n\r\n\r\n"):
            with self.subTest(data=data[:20]):
                buf, closed = raw_exchange(self.cse.http_port, data, 5)
                self.assertIn(status_of(buf), (400, 505, None), buf[:200])
                self.assertNotIn(b"m2m:cb", buf)

    def test_body_over_limit(self):
        body = b"{" + b" " * (MAX_BODY + 100) + b"}"
        data = head("POST", "/cse-in", ("Content-Type: application/json;ty=3",
                                        "Content-Length: %d" % len(body))) + body
        self.expect(data, 413)

    def test_body_over_limit_announced_only(self):
        # 413 from the Content-Length alone, without waiting for the body
        data = head("POST", "/cse-in", ("Content-Type: application/json;ty=3",
                                        "Content-Length: 100000000"))
        t = time.monotonic()
        self.expect(data, 413)
        self.assertLess(time.monotonic() - t, 3.0)

    def test_truncated_body_times_out(self):
        data = head("POST", "/cse-in", ("Content-Type: application/json;ty=3",
                                        "Content-Length: 100")) + b'{"m2m:cnt":'
        buf, closed = raw_exchange(self.cse.http_port, data, 6)
        self.assertTrue(closed, "connection with a truncated body never closed")
        self.assertIn(status_of(buf), (408, 400, None))

    # -- hostile JSON (TS-0004 7.2.2.2 Recv-6.4 -> 4000) --------------------------------------
    def post_raw_json(self, body):
        return self.cse.request("POST", "/cse-in", origin=ADMIN, ty=3, body=body)

    def test_deeply_nested_json(self):
        body = '{"m2m:cnt":{"rn":"deep","lbl":' + "[" * 1000 + "]" * 1000 + "}}"
        self.assertLess(len(body), MAX_BODY)
        self.assertRsc(self.post_raw_json(body), 4000)
        body = '{"m2m:cnt":{"rn":"deep2","x":' + '{"a":' * 1000 + "1" + "}" * 1000 + "}}"
        self.assertLess(len(body), MAX_BODY)
        self.assertRsc(self.post_raw_json(body), 4000)
        self.assertRsc(self.cse.retrieve("/cse-in/deep"), 4004)

    def test_duplicate_json_keys(self):
        self.assertRsc(self.post_raw_json('{"m2m:cnt":{"rn":"dk1","rn":"dk2"}}'), 4000)
        self.assertRsc(self.post_raw_json('{"m2m:cnt":{"rn":"dk3"},"m2m:cnt":{"rn":"dk4"}}'),
                       4000)
        for rn in ("dk1", "dk2", "dk3", "dk4"):
            self.assertRsc(self.cse.retrieve("/cse-in/" + rn), 4004)

    def test_invalid_utf8(self):
        for raw in (b'{"m2m:cnt":{"rn":"u\xff\xfe"}}', b'{"m2m:cnt":{"rn":"u\xc0\xaf"}}',
                    b'{"m2m:cnt":{"rn":"u\xed\xa0\x80"}}', b'{"m2m:cnt":{"lbl":["\x80"]}}'):
            with self.subTest(raw=raw):
                self.assertRsc(self.post_raw_json(raw), 4000)

    def test_json_edge_values(self):
        for raw in ('{"m2m:cnt":{"rn":"n1","mni":1e400}}', '{"m2m:cnt":{"rn":"n2","mni":NaN}}',
                    '{"m2m:cnt":{"rn":"n3"}} trailing', '{"m2m:cnt":{"rn":"n4\\u0000x"}}',
                    '{"m2m:cnt":{"rn":"n5","mni":99999999999999999999999999}}'):
            with self.subTest(raw=raw):
                self.assertRsc(self.post_raw_json(raw), 4000)

    # -- slow clients -------------------------------------------------------------------------
    def test_slowloris_closed(self):
        s = raw_connect(self.cse.http_port)
        t0 = time.monotonic()
        s.sendall(b"GET /cse-in HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        closed = False
        for i in range(50):  # one header byte every 200 ms, at most 10 s
            r, _, _ = select.select([s], [], [], 0.2)
            if r:
                try:
                    if not s.recv(4096):
                        closed = True
                        break
                except ConnectionResetError:
                    closed = True
                    break
            try:
                s.sendall(b"X-Slow-%d: y\r\n" % i)
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
        elapsed = time.monotonic() - t0
        s.close()
        self.assertTrue(closed, "slowloris connection still open after 10 s")
        self.assertLess(elapsed, 4.0, "read timeout of 1 s took %.1f s" % elapsed)

    # -- pipelining ---------------------------------------------------------------------------
    def test_pipelined_requests_in_order(self):
        rqis = [m2mtest.new_rqi() + "-p%d" % i for i in range(4)]
        targets = ["/cse-in", "/cse-in/nope", "/cse-in", "/cse-in/nope2"]
        data = b"".join(head("GET", t, rqi=q) for t, q in zip(targets, rqis))
        s = raw_connect(self.cse.http_port)
        s.sendall(data)
        buf = b""
        deadline = time.monotonic() + 10
        while len(parse_responses(buf)) < 4 and time.monotonic() < deadline:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            buf += chunk
        s.close()
        resp = parse_responses(buf)
        self.assertEqual([r[1].get("x-m2m-ri") for r in resp], rqis, buf[:1000])
        self.assertEqual([r[0] for r in resp], [200, 404, 200, 404])

    def test_pipelined_after_post(self):
        rn = self.uniq("pp")
        body = ('{"m2m:cnt":{"rn":"%s"}}' % rn).encode()
        data = (head("POST", "/cse-in", ("Content-Type: application/json;ty=3",
                                         "Content-Length: %d" % len(body))) + body +
                head("GET", "/cse-in/" + rn))
        buf, _ = raw_exchange(self.cse.http_port, data + head("GET", "/cse-in",
                              ("Connection: close",)), 10)
        resp = parse_responses(buf)
        self.assertEqual([r[0] for r in resp], [201, 200, 200], buf[:800])

    def test_keep_alive_reuse(self):
        s = raw_connect(self.cse.http_port)
        try:
            for i in range(5):
                s.sendall(head("GET", "/cse-in"))
                buf = b""
                deadline = time.monotonic() + 5
                while not parse_responses(buf) and time.monotonic() < deadline:
                    s.settimeout(1)
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
                self.assertEqual(status_of(buf), 200, "request %d on one connection" % i)
        finally:
            s.close()

    def test_zz_server_alive(self):
        self.assertRsc(self.cse.retrieve("/cse-in"), 2000)
        self.assertTrue(self.cse.running())


class BufferBudgetTest(CseTestCase):
    """limits.max_buffered_bytes: request input over all connections is bounded; a connection
    needing more than its 64 KiB allowance past the budget gets 503 / X-M2M-RSC 5000."""
    cse_args = ("--set", "limits.max_buffered_bytes=128K", "--max-body", "1M")

    def test_upload_past_the_budget_is_503(self):
        body = b"x" * (300 * 1024)
        data = head("POST", "/cse-in", extra=("Content-Type: application/json;ty=3",
                                              "Content-Length: %d" % (900 * 1024))) + body
        buf, closed = raw_exchange(self.cse.http_port, data, 5.0)
        self.assertEqual(status_of(buf), 503, buf[:300])
        self.assertTrue(closed)
        resp = parse_responses(buf)
        self.assertEqual(resp[0][1].get("x-m2m-rsc"), "5000", resp[0][1])
        # small requests are still served
        r = self.cse.retrieve("/cse-in")
        self.assertEqual(r.rsc, 2000)
        self.assertIn("max_buffered_bytes", self.cse.stderr_text())


class ConnectionLimitTest(CseTestCase):
    cse_args = ("--max-connections", "8", "--idle-timeout-ms", "1000",
                "--read-timeout-ms", "1000")

    def test_connection_flood(self):
        # 30 silent connections against --max-connections 8: the ones over the limit are closed
        # at once (server.h), i.e. well before the 1 s read/idle timeout closes the others
        socks, opened, closed_at = [], {}, {}
        refused_at_connect = 0

        def server_closed(s):
            r, _, _ = select.select([s], [], [], 0)
            if not r:
                return False
            try:
                s.recv(4096, socket.MSG_PEEK)
            except OSError:
                pass
            return True  # EOF, reset, or an error response: refused either way

        def scan():
            now = time.monotonic()
            for s in socks:
                if s not in closed_at and server_closed(s):
                    closed_at[s] = now

        try:
            for _ in range(30):
                try:
                    s = raw_connect(self.cse.http_port, timeout=2)
                except OSError:
                    refused_at_connect += 1
                    continue
                opened[s] = time.monotonic()
                socks.append(s)
                scan()
            deadline = time.monotonic() + 0.6
            while time.monotonic() < deadline:
                scan()
                time.sleep(0.02)
            quick = sum(1 for s, t in closed_at.items() if t - opened[s] < 0.8)
            self.assertGreaterEqual(quick + refused_at_connect, 30 - 8 - 2,
                                    "only %d of 30 connections refused promptly with a limit "
                                    "of 8" % (quick + refused_at_connect))
            # a well-behaved client gets through while the flood is still held open
            t0 = time.monotonic()
            ok = False
            while time.monotonic() - t0 < 10 and not ok:
                try:
                    ok = self.cse.retrieve("/cse-in", timeout=3).rsc == 2000
                except OSError:
                    time.sleep(0.1)
            self.assertTrue(ok, "well-behaved client starved by idle connections")
        finally:
            for s in socks:
                s.close()
        self.assertRsc(self.cse.retrieve("/cse-in"), 2000)

    def test_idle_connection_without_bytes_closed(self):
        s = raw_connect(self.cse.http_port)
        buf, closed = m2mtest.read_until_close(s, 8)  # idle/read timeout is 1 s here
        s.close()
        self.assertTrue(closed, "a silent connection was never closed")

    def test_many_sequential_connections(self):
        # connections are released: far more than max-connections in sequence all succeed
        for i in range(40):
            self.assertRsc(self.cse.retrieve("/cse-in"), 2000)


if __name__ == "__main__":
    m2mtest.main()
