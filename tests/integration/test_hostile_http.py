"""test_hostile_http.py: hostile HTTP and JSON input that test_http_hostile.py does not cover
(invalid UTF-8 in the request-target and headers, numbers out of range, deep nesting, huge
strings, long pipelines), each run while a well-behaved client keeps retrieving a container's
la. Asserts the right error or a close, the well-behaved client's success rate and p99, and a
bound on the server's peak RSS. M2M_SOAK=1 scales the counts up (make soak)."""

import json
import socket
import threading
import time
import unittest

import m2mtest
from m2mtest import (ADMIN, CseTestCase, parse_responses, proc_mem_kib, raw_connect,
                     run_attack, scaled, status_of)

MAX_BODY = 1 << 20  # the default --max-body, stated so the sizes below stay under it


def head(method="GET", target="/cse-in", extra=(), origin=ADMIN, rqi=None):
    """A request head as bytes; target/extra may carry raw bytes."""
    def b(x):
        return x if isinstance(x, bytes) else x.encode("latin-1")
    lines = [b(method) + b" " + b(target) + b" HTTP/1.1", b"Host: 127.0.0.1",
             b"X-M2M-Origin: " + b(origin), b"X-M2M-RI: " + b(rqi or m2mtest.new_rqi()),
             b"X-M2M-RVI: 3"] + [b(x) for x in extra]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def post(target, body, ty=3, origin=ADMIN, extra=()):
    body = body if isinstance(body, bytes) else body.encode()
    return head("POST", target, ("Content-Type: application/json;ty=%d" % ty,
                                 "Content-Length: %d" % len(body)) + tuple(extra),
                origin=origin) + body


def take_responses(buf):
    """Complete responses at the head of buf as (status, headers, body), and the rest."""
    out = []
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return out, buf
        n = 0
        for line in buf[:end].split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v.strip())
        if len(buf) < end + 4 + n:
            return out, buf
        resp = parse_responses(buf[:end + 4 + n])
        if not resp:
            raise AssertionError("unparsable response head %r" % buf[:200])
        out += resp
        buf = buf[end + 4 + n:]


def valid_utf8_json(body):
    """None when body is empty or valid UTF-8 JSON, else a description."""
    if not body:
        return None
    try:
        json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        return "%s: %r" % (e.__class__.__name__, body[:120])
    return None


class HostileHttpTest(CseTestCase):
    cse_args = ("--read-timeout-ms", "1000", "--max-body", str(MAX_BODY))
    rows = []

    @classmethod
    def setUpClass(cls):
        m2mtest.bounded_asan_env()
        super().setUpClass()
        cls.origin, cls.cnt, cls.la = m2mtest.hostile_fixture(cls.cse)
        cls.ae = cls.cnt.rsplit("/", 1)[0]
        cls.baseline = proc_mem_kib(cls.cse.proc.pid).get("VmRSS", 0) / 1024.0
        cls.rows = []

    @classmethod
    def tearDownClass(cls):
        if cls.rows:
            print("\n" + m2mtest.results_table(cls.rows, "test_hostile_http") + "\n")
        super().tearDownClass()

    def attack(self, name, fn, **limits):
        row = run_attack(self.cse, name, fn, self.la, self.origin)
        self.rows.append(row)
        m2mtest.check_attack_row(self, row, self.baseline, **limits)
        self.assertTrue(self.cse.running(), "server died during %s" % name)
        return row

    def exchange(self, data, timeout=5.0):
        """Sends data on a fresh connection and reads until one complete response and then
        the close, or timeout (a keep-alive answer ends the wait at once). Returns (status of
        the first response, the complete responses, closed by the server)."""
        s = raw_connect(self.cse.http_port, timeout)
        buf, closed, resp = b"", False, []
        try:
            try:
                s.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                pass
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                s.settimeout(max(0.05, deadline - time.monotonic()))
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                except ConnectionResetError:
                    closed = True
                    break
                if not chunk:
                    closed = True
                    break
                buf += chunk
                resp = parse_responses(buf)
                if resp and resp[0][1].get("connection", "").lower() != "close":
                    break  # kept alive: done
        finally:
            s.close()
        return status_of(buf), parse_responses(buf), closed

    def assert_not_found(self, rn):
        self.assertRsc(self.cse.retrieve("%s/%s" % (self.ae, rn), origin=self.origin), 4004)

    # -- invalid UTF-8 ------------------------------------------------------------------------
    BAD_UTF8 = (b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xf8\x88\x80\x80\x80",
                b"\x80")

    def test_invalid_utf8_in_uri(self):
        # RFC 3986 2.1: a raw octet >= 0x80 cannot appear in a request-target -> 400 and close;
        # percent-encoded it names no resource (no valid rn is invalid UTF-8) -> 4004 or 4000
        n = scaled(10, 200)

        def attack():
            tried = 0
            for _ in range(n):
                for bad in self.BAD_UTF8:
                    st, resp, closed = self.exchange(head("GET", b"/cse-in/" + bad))
                    self.assertEqual(st, 400, resp)
                    self.assertTrue(closed, "connection kept after a raw non-ASCII target")
                    enc = "".join("%%%02X" % c for c in bad)
                    r = self.cse.retrieve("/cse-in/x" + enc, origin=ADMIN)
                    self.assertRsc(r, 4004, 4000)
                    r = self.cse.create("%s/%s" % (self.ae, enc), 3, {"m2m:cnt": {}},
                                        origin=self.origin)
                    self.assertRsc(r, 4004, 4000)
                    tried += 3
            return tried

        self.attack("invalid UTF-8 in URI", attack)

    def utf8_header_requests(self, bad):
        return (head("GET", self.la, origin=b"C" + bad),
                head("GET", self.la, ("Content-Type: application/json" + bad.decode("latin-1"),)),
                post(self.ae, '{"m2m:cnt":{}}', origin=b"C" + bad),
                post("/cse-in", '{"m2m:ae":{"api":"Nx","rr":true,"srv":["3"]}}', ty=2,
                     origin=b"Cu" + bad))

    def test_invalid_utf8_in_headers(self):
        # RFC 9110 5.5 permits obs-text in field values, but oneM2M identifiers are strings
        # (TS-0004 6.3.3): an originator that is not UTF-8 is never admitted and a Content-Type
        # that is not UTF-8 is no media type we accept. A non-UTF-8 request ID (only echoed in
        # X-M2M-RI) may be served: it must then come back byte for byte.
        n = scaled(5, 100)

        def attack():
            tried = 0
            for _ in range(n):
                for bad in self.BAD_UTF8:
                    rqi = b"rq" + bad
                    st, resp, _ = self.exchange(head("GET", self.la, origin=self.origin, rqi=rqi))
                    tried += 1
                    self.assertIn(st, (200, 400), resp)
                    if st == 200:
                        self.assertEqual(resp[0][1].get("x-m2m-ri", "").encode("latin-1"), rqi)
                    for data in self.utf8_header_requests(bad):
                        st, resp, closed = self.exchange(data)
                        tried += 1
                        self.assertIsNotNone(st, "no answer to %r" % data[:80])
                        self.assertNotIn(st, (200, 201), "accepted %r" % data[:120])
            return tried

        self.attack("invalid UTF-8 in headers", attack)
        self.assertRsc(self.cse.retrieve("/cse-in", origin=ADMIN, query="fu=1&ty=2&lbl=none"),
                       2000)

    # m2m:dbg messages that quote peer bytes (e.g. "originator ... is not registered") must
    # still be UTF-8 JSON (src/model/prim.c m2m_response_error replaces non-ASCII bytes).
    def test_error_bodies_are_utf8_json(self):
        # RFC 8259 8.1: JSON exchanged between systems is UTF-8, error bodies included
        bad_bodies = []
        for bad in self.BAD_UTF8:
            for data in self.utf8_header_requests(bad):
                st, resp, _ = self.exchange(data)
                why = valid_utf8_json(resp[0][2]) if resp else None
                if why:
                    bad_bodies.append(why)
        self.assertEqual(bad_bodies[:3], [], "%d responses were not valid UTF-8 JSON"
                         % len(bad_bodies))

    # -- numbers out of range (TS-0004 Table 7.3.x: nonNegativeInteger, acop 1..63) -----------
    NUMBERS = ("1e400", "-1", "18446744073709551616", "18446744073709551615e1",
               "9223372036854775808", "-9223372036854775809", "1.5", "-0.5", '"5"', "true",
               "null", "[1]", "{}")

    def test_json_numbers_out_of_range(self):
        n = scaled(2, 40)

        def attack():
            tried = 0
            for i in range(n):
                for k, v in enumerate(self.NUMBERS):
                    for attr in ("mni", "mbs", "mia"):
                        rn = "num%d%s%d" % (i, attr, k)
                        r = self.cse.request("POST", self.ae, origin=self.origin, ty=3,
                                             body='{"m2m:cnt":{"rn":"%s","%s":%s}}'
                                             % (rn, attr, v))
                        self.assertRsc(r, 4000)
                        tried += 1
                    acp = ('{"m2m:acp":{"rn":"acpn%d","pv":{"acr":[{"acor":["%s"],"acop":%s}]},'
                           '"pvs":{"acr":[{"acor":["%s"],"acop":63}]}}}'
                           % (k, self.origin, v, self.origin))
                    self.assertRsc(self.cse.request("POST", self.ae, origin=self.origin, ty=1,
                                                    body=acp), 4000)
                    tried += 1
                    ty = v.strip('"')
                    r = self.cse.request("POST", self.ae, origin=self.origin,
                                         body='{"m2m:cnt":{"rn":"tyn%d"}}' % k,
                                         headers={"Content-Type": "application/json;ty=" + ty})
                    self.assertRsc(r, 4000, 4015)
                    if v != "null":  # TS-0004 7.4.1.2.3: null in an update deletes it
                        r = self.cse.request("PUT", self.cnt, origin=self.origin,
                                             body='{"m2m:cnt":{"mni":%s}}' % v)
                        self.assertRsc(r, 4000)
                    tried += 2
                for acop in ("0", "64", "4294967297"):
                    acp = ('{"m2m:acp":{"pv":{"acr":[{"acor":["%s"],"acop":%s}]},'
                           '"pvs":{"acr":[{"acor":["%s"],"acop":63}]}}}'
                           % (self.origin, acop, self.origin))
                    self.assertRsc(self.cse.request("POST", self.ae, origin=self.origin, ty=1,
                                                    body=acp), 4000)
                    tried += 1
            return tried

        self.attack("numbers out of range (mni/mbs/acop/ty)", attack)
        for attr in ("mni", "mbs", "mia"):
            self.assert_not_found("num0%s0" % attr)
        cnt = self.ok(self.cse.retrieve(self.cnt, origin=self.origin), 2000)
        self.assertNotIn("mni", cnt, "a rejected update changed the container")

    # -- nesting and size ---------------------------------------------------------------------
    def test_deeply_nested_json_arrays(self):
        # far past limits.max_json_depth and near --max-body: 4000 quickly, no stack exhaustion
        depth = (MAX_BODY - 200) // 2
        bodies = ['{"m2m:cnt":{"rn":"nest1","lbl":' + "[" * depth + "]" * depth + "}}",
                  "[" * depth + "]" * depth,
                  '{"m2m:cnt":{"rn":"nest2","lbl":' + "[" * (MAX_BODY - 200),  # unterminated
                  '{"m2m:cnt":{"rn":"nest3","lbl":[' + '["a",' * 20000 + '"x"' + "]" * 20000
                  + "]}}"]
        n = scaled(3, 40)

        def attack():
            tried = 0
            for _ in range(n):
                for body in bodies:
                    t0 = time.monotonic()
                    r = self.cse.request("POST", self.ae, origin=self.origin, ty=3, body=body,
                                         timeout=30)
                    self.assertRsc(r, 4000)
                    self.assertLess(time.monotonic() - t0, 10.0, "nested JSON took too long")
                    tried += 1
            return tried

        self.attack("deeply nested JSON arrays (%d KiB)" % (MAX_BODY // 1024), attack)
        for rn in ("nest1", "nest2", "nest3"):
            self.assert_not_found(rn)

    def test_huge_json_string(self):
        big = MAX_BODY - 4096
        cnt, _ = self.new_cnt(self.ae, self.origin, rn="bigstr", mni=2, mbs=4 * MAX_BODY)
        n = scaled(4, 60)

        def attack():
            tried = 0
            for i in range(n):
                # a huge but valid con: accepted, stored, returned whole
                con = ("%06d" % i) * (big // 6)
                r = self.cse.create(cnt, 4, {"m2m:cin": {"con": con}}, origin=self.origin,
                                    timeout=30)
                self.assertRsc(r, 2001)
                la = self.ok(self.cse.retrieve(cnt + "/la", origin=self.origin, timeout=30), 2000)
                self.assertEqual(len(la.get("con", "")), len(con))
                # a huge escaped string expands when decoded; a huge rn; a huge unterminated one
                esc = '{"m2m:cin":{"con":"' + "\\u00e9" * (big // 6) + '"}}'
                self.assertRsc(self.cse.request("POST", cnt, origin=self.origin, ty=4,
                                                body=esc, timeout=30), 2001, 5207)
                r = self.cse.request("POST", self.ae, origin=self.origin, ty=3,
                                     body='{"m2m:cnt":{"rn":"%s"}}' % ("r" * big), timeout=30)
                self.assertRsc(r, 4000)
                r = self.cse.request("POST", cnt, origin=self.origin, ty=4,
                                     body='{"m2m:cin":{"con":"' + "z" * big, timeout=30)
                self.assertRsc(r, 4000)
                # a huge string in a container whose mbs it exceeds: TS-0004 7.4.7.2.1 5207
                tried += 4
            small, _ = self.new_cnt(self.ae, self.origin, mbs=1000)
            r = self.cse.create(small, 4, {"m2m:cin": {"con": "q" * big}}, origin=self.origin,
                                timeout=30)
            self.assertRsc(r, 5207)
            return tried + 1

        self.attack("huge JSON strings (~1 MiB)", attack)
        got = self.ok(self.cse.retrieve(cnt, origin=self.origin), 2000)
        self.assertLessEqual(got.get("cni"), 2, "mni not enforced after huge instances")

    # -- pipelining ---------------------------------------------------------------------------
    def pipeline(self, count):
        """count GETs of la in one write on one connection; all answered, in order."""
        rqis = ["pl%d-%s" % (i, m2mtest.new_rqi()) for i in range(count)]
        data = b"".join(head("GET", self.la, origin=self.origin, rqi=q) for q in rqis)
        s = raw_connect(self.cse.http_port, timeout=30)
        got = []
        done = threading.Event()

        def send():  # the server stops reading at its pipeline bound: send while we read
            try:
                s.sendall(data)
            except OSError:
                pass
            done.set()

        t = threading.Thread(target=send, daemon=True)
        t.start()
        buf = b""
        deadline = time.monotonic() + 60
        try:
            while len(got) < count and time.monotonic() < deadline:
                s.settimeout(max(0.05, deadline - time.monotonic()))
                try:
                    chunk = s.recv(1 << 16)
                except socket.timeout:
                    break
                if not chunk:
                    break
                buf += chunk
                resp, buf = take_responses(buf)
                got += resp
        finally:
            s.close()
            t.join(10)
        self.assertEqual(len(got), count, "pipelined %d, answered %d" % (count, len(got)))
        self.assertEqual([h.get("x-m2m-ri") for _, h, _ in got], rqis)
        self.assertTrue(all(st == 200 for st, _, _ in got))
        return count

    def test_many_pipelined_requests(self):
        per_conn = scaled(500, 5000)
        conns = scaled(2, 8)

        def attack():
            errs = []

            def one():
                try:
                    self.pipeline(per_conn)
                except Exception as e:  # re-raised below in the test thread
                    errs.append(e)

            ts = [threading.Thread(target=one) for _ in range(conns)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(120)
            if errs:
                raise errs[0]
            return per_conn * conns

        self.attack("many small pipelined requests", attack)

    def test_zz_server_alive(self):
        self.assertRsc(self.cse.retrieve(self.la, origin=self.origin), 2000)
        self.assertTrue(self.cse.running())


if __name__ == "__main__":
    m2mtest.main()
