"""test_coap.py: the CoAP binding (TS-0008) over UDP and DTLS 1.2 against the real server: a raw
CoAP client for exact option checks (oneM2M-RSC/RQI, Location-Path, 4.03 + RSC 4103), libcoap's
coap-client-gnutls for CRUD, blockwise transfer and DTLS-PSK, and the stateless DTLS cookie
exchange (a cookie-less ClientHello only gets a HelloVerifyRequest)."""

import json
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import time
import unittest

import m2mtest
from m2mtest import ADMIN, HOST, Cse, CseTestCase

COAP_CLIENT = shutil.which("coap-client-gnutls")
OPT_TY, OPT_RVI, OPT_FR, OPT_RQI, OPT_RSC = 267, 271, 279, 283, 307
URI_PATH, CONTENT_FORMAT, URI_QUERY, LOCATION_PATH = 11, 12, 15, 8


def coap_ports(cse):
    line = next(l for l in cse.stdout_lines if l.startswith("READY"))
    m1 = re.search(r"\bcoap=([0-9.]+):(\d+)", line)
    m2 = re.search(r"\bcoaps=([0-9.]+):(\d+)", line)
    return (int(m1.group(2)) if m1 else None, int(m2.group(2)) if m2 else None)


def _ext(x):
    if x < 13:
        return x, b""
    if x < 269:
        return 13, bytes([x - 13])
    return 14, struct.pack(">H", x - 269)


def encode(code, opts, payload=b"", mid=None, token=None, mtype=0):
    token = token if token is not None else os.urandom(4)
    mid = mid if mid is not None else random.randrange(65536)
    out = bytes([0x40 | (mtype << 4) | len(token), code]) + struct.pack(">H", mid) + token
    last = 0
    for num, val in sorted(opts, key=lambda o: o[0]):
        d, de = _ext(num - last)
        l, le = _ext(len(val))
        out += bytes([(d << 4) | l]) + de + le + val
        last = num
    if payload:
        out += b"\xff" + payload
    return out, mid, token


def decode(data):
    mtype, tkl, code = (data[0] >> 4) & 3, data[0] & 15, data[1]
    mid = struct.unpack(">H", data[2:4])[0]
    token, i, num, opts = data[4:4 + tkl], 4 + tkl, 0, []
    while i < len(data) and data[i] != 0xFF:
        d, l = data[i] >> 4, data[i] & 15
        i += 1
        vals = []
        for x in (d, l):
            if x == 13:
                x, i = data[i] + 13, i + 1
            elif x == 14:
                x, i = struct.unpack(">H", data[i:i + 2])[0] + 269, i + 2
            vals.append(x)
        num += vals[0]
        opts.append((num, data[i:i + vals[1]]))
        i += vals[1]
    payload = data[i + 1:] if i < len(data) else b""
    return {"type": mtype, "code": code, "mid": mid, "token": token, "opts": opts,
            "payload": payload}


def opt(msg, num):
    vals = [v for n, v in msg["opts"] if n == num]
    return vals[0] if vals else None


def uint(v):
    return int.from_bytes(v, "big") if v is not None else None


def code_str(code):
    return "%d.%02d" % (code >> 5, code & 31)


class RawCoap:
    """A minimal CoAP client over UDP: CON request, waits for the piggybacked or the separate
    response (ACKing a separate CON response)."""

    def __init__(self, port):
        self.addr = (HOST, port)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.settimeout(5)

    def close(self):
        self.s.close()

    def request(self, method, path, origin=ADMIN, ty=None, body=None, query=(), rqi=None,
                extra=()):
        codes = {"GET": 1, "POST": 2, "PUT": 3, "DELETE": 4}
        opts = [(URI_PATH, seg.encode()) for seg in path.strip("/").split("/")]
        opts += [(URI_QUERY, q.encode()) for q in query]
        if origin:
            opts.append((OPT_FR, origin.encode()))
        opts.append((OPT_RQI, (rqi or m2mtest.new_rqi()).encode()))
        if ty is not None:
            # libcoap 4.3.1 servers know only two oneM2M options (FR, RQI): a create names its
            # type with the "ty" Uri-Query instead of oneM2M-TY (see coap_map.c)
            opts.append((URI_QUERY, b"ty=%d" % ty))
        payload = b""
        if body is not None:
            payload = json.dumps(body).encode()
            opts.append((CONTENT_FORMAT, b"\x32"))
        opts += list(extra)
        data, mid, token = encode(codes[method], opts, payload)
        self.s.sendto(data, self.addr)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            msg = decode(self.s.recvfrom(65536)[0])
            if msg["type"] == 2 and msg["mid"] == mid and msg["code"] == 0:
                continue  # empty ACK: the separate response follows
            if msg["token"] != token:
                continue
            if msg["type"] == 0:  # a separate CON response: acknowledge it
                self.s.sendto(bytes([0x60, 0]) + struct.pack(">H", msg["mid"]), self.addr)
            msg["json"] = json.loads(msg["payload"]) if msg["payload"] else None
            return msg
        raise AssertionError("no CoAP response")


class CoapRawTest(CseTestCase):
    """TS-0008 wire details with the default configuration (oneM2M options in responses)."""

    cse_args = ("--coap", "%s:0" % HOST, "--coaps", "%s:0" % HOST)

    def setUp(self):
        self.port, self.sport = coap_ports(self.cse)
        self.c = RawCoap(self.port)

    def tearDown(self):
        self.c.close()

    def test_ready_line_has_coap_ports(self):
        self.assertIsNotNone(self.port)
        self.assertIsNotNone(self.sport)

    def test_retrieve_cse_base(self):
        r = self.c.request("GET", "/cse-in", rqi="rq-42")
        self.assertEqual(code_str(r["code"]), "2.05")
        self.assertEqual(uint(opt(r, OPT_RSC)), 2000)
        self.assertEqual(opt(r, OPT_RQI), b"rq-42")
        self.assertEqual(r["json"]["m2m:cb"]["ri"], "id-in")

    def test_create_ae_container_cin_and_la(self):
        aei = "C" + self.uniq("coap")
        r = self.c.request("POST", "/cse-in", origin=aei, ty=2,
                           body={"m2m:ae": {"rn": aei, "api": "Nx", "rr": False, "srv": ["3"]}})
        self.assertEqual(code_str(r["code"]), "2.01", r)
        self.assertEqual(uint(opt(r, OPT_RSC)), 2001)
        loc = [v.decode() for n, v in r["opts"] if n == LOCATION_PATH]
        self.assertEqual(loc, ["cse-in", aei])
        r = self.c.request("POST", "/cse-in/" + aei, origin=aei, ty=3, body={"m2m:cnt": {"rn": "c"}})
        self.assertEqual(uint(opt(r, OPT_RSC)), 2001)
        r = self.c.request("POST", "/cse-in/%s/c" % aei, origin=aei, ty=4,
                           body={"m2m:cin": {"con": "hello"}})
        self.assertEqual(uint(opt(r, OPT_RSC)), 2001)
        r = self.c.request("GET", "/cse-in/%s/c/la" % aei, origin=aei)
        self.assertEqual(code_str(r["code"]), "2.05")
        self.assertEqual(r["json"]["m2m:cin"]["con"], "hello")
        # the same over an SP-relative path ("~" first, TS-0008 6.2.2.3)
        r = self.c.request("GET", "/~/id-in/cse-in/%s/c/la" % aei, origin=aei)
        self.assertEqual(r["json"]["m2m:cin"]["con"], "hello")
        r = self.c.request("DELETE", "/cse-in/%s/c" % aei, origin=aei)
        self.assertEqual(code_str(r["code"]), "2.02")
        self.assertEqual(uint(opt(r, OPT_RSC)), 2002)

    def test_denied_is_403_with_rsc_4103(self):
        (owner, _, owner_path), (other, _, _) = self.new_ae(), self.new_ae()
        cnt, _ = self.new_cnt(owner_path, owner)
        r = self.c.request("GET", cnt, origin=other)
        self.assertEqual(code_str(r["code"]), "4.03", r)
        self.assertEqual(uint(opt(r, OPT_RSC)), 4103)
        self.assertIn("m2m:dbg", r["json"])

    def test_not_found_and_bad_query(self):
        r = self.c.request("GET", "/cse-in/nothing-here")
        self.assertEqual(code_str(r["code"]), "4.04")
        self.assertEqual(uint(opt(r, OPT_RSC)), 4004)
        r = self.c.request("GET", "/cse-in", query=("bogus=1",), rqi="rq-bad")
        self.assertEqual(code_str(r["code"]), "4.00")
        self.assertEqual(uint(opt(r, OPT_RSC)), 4000)
        self.assertEqual(opt(r, OPT_RQI), b"rq-bad")  # echoed even when refused

    def test_unsupported_content_format(self):
        data, mid, token = encode(2, [(URI_PATH, b"cse-in"), (CONTENT_FORMAT, b""),
                                      (OPT_FR, b"CAdmin"), (OPT_RQI, b"x")], b"{}")
        self.c.s.sendto(data, self.c.addr)
        r = decode(self.c.s.recvfrom(65536)[0])
        self.assertEqual(code_str(r["code"]), "4.15")
        self.assertEqual(uint(opt(r, OPT_RSC)), 4015)

    def test_discovery_query(self):
        ae, _, path = self.new_ae()
        self.new_cnt(path, ae)
        r = self.c.request("GET", path, origin=ae, query=("fu=1", "ty=3"))
        self.assertEqual(code_str(r["code"]), "2.05")
        self.assertEqual(len(r["json"]["m2m:uril"]), 1)

    def test_dtls_hello_verify_is_stateless(self):
        """A cookie-less DTLS 1.2 ClientHello gets a HelloVerifyRequest (handshake type 3) and
        nothing else; a flood of them does not make the server keep state (it keeps answering
        and its resident memory stays flat)."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(3)
        try:
            def hello(seq):
                body = (b"\xfe\xfd" + os.urandom(32) + b"\x00" + b"\x00"  # sid, empty cookie
                        + b"\x00\x04\xc0\xa8\x00\xae" + b"\x01\x00")  # PSK-CCM8, PSK-CBC
                hs = bytes([1]) + len(body).to_bytes(3, "big") + struct.pack(">H", seq) \
                    + b"\x00\x00\x00" + len(body).to_bytes(3, "big") + body
                return b"\x16\xfe\xfd" + b"\x00\x00" + (0).to_bytes(6, "big") \
                    + struct.pack(">H", len(hs)) + hs
            s.sendto(hello(0), (HOST, self.sport))
            rec = s.recvfrom(4096)[0]
            self.assertEqual(rec[0], 22)        # handshake record
            self.assertEqual(rec[13], 3)        # HelloVerifyRequest
            rss0 = self._rss()
            answers = 0
            for batch in range(30):  # 3000 hellos, answers drained per batch (client buffers)
                for i in range(100):
                    s.sendto(hello(0), (HOST, self.sport))
                s.settimeout(0.3)
                try:
                    while True:
                        rec = s.recvfrom(4096)[0]
                        self.assertEqual((rec[0], rec[13]), (22, 3))  # HelloVerifyRequests only
                        answers += 1
                except socket.timeout:
                    pass
            self.assertGreater(answers, 2500)
            s.settimeout(3)
            s.sendto(hello(0), (HOST, self.sport))  # still answering
            rec = s.recvfrom(4096)[0]
            self.assertEqual(rec[13], 3)
            rss1 = self._rss()
            if rss0 is not None and rss1 is not None:
                self.assertLess(rss1 - rss0, 20 * 1024, "RSS grew by %d kB" % (rss1 - rss0))
        finally:
            s.close()
        # plain CoAP still served
        self.assertEqual(code_str(self.c.request("GET", "/cse-in")["code"]), "2.05")

    def _rss(self):
        try:
            with open("/proc/%d/status" % self.cse.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None


@unittest.skipIf(COAP_CLIENT is None, "coap-client-gnutls not installed")
class CoapClientTest(CseTestCase):
    """Interop with libcoap's coap-client (4.3.1 rejects responses carrying critical options it
    does not know, so this server runs with coap.response_options=false)."""

    cse_args = ("--coap", "%s:0" % HOST, "--coaps", "%s:0" % HOST,
                "--set", "coap.response_options=false")

    def setUp(self):
        self.port, self.sport = coap_ports(self.cse)

    def client(self, *args, timeout=30):
        p = subprocess.run([COAP_CLIENT, "-B", "10"] + list(args), capture_output=True,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")

    def url(self, path, secure=False, query=""):
        return "%s://%s:%d%s%s" % ("coaps" if secure else "coap", HOST,
                                   self.sport if secure else self.port, path, query)

    def test_crud_and_blockwise(self):
        aei = "C" + self.uniq("cc")
        rc, out, err = self.client("-m", "post", "-O", "%d,%s" % (OPT_FR, aei),
                                   "-O", "%d,r1" % OPT_RQI, "-t", "50", "-e",
                                   json.dumps({"m2m:ae": {"rn": aei, "api": "Nx", "rr": False,
                                                          "srv": ["3"]}}),
                                   self.url("/cse-in", query="?ty=2"))
        self.assertEqual(json.loads(out)["m2m:ae"]["aei"], aei, err)
        rc, out, err = self.client("-m", "post", "-O", "%d,%s" % (OPT_FR, aei),
                                   "-O", "%d,r2" % OPT_RQI, "-t", "50", "-e",
                                   json.dumps({"m2m:cnt": {"rn": "c"}}),
                                   self.url("/cse-in/" + aei, query="?ty=3"))
        self.assertIn("m2m:cnt", json.loads(out), err)
        big = "x" * 3000  # > 1024: Block1 on the request, Block2 on the response
        path = os.path.join(self.cse.work, "big.json")
        with open(path, "w") as f:
            json.dump({"m2m:cin": {"con": big}}, f)
        rc, out, err = self.client("-m", "post", "-O", "%d,%s" % (OPT_FR, aei),
                                   "-O", "%d,r3" % OPT_RQI, "-t", "50", "-f", path,
                                   self.url("/cse-in/%s/c" % aei, query="?ty=4"))
        self.assertEqual(json.loads(out)["m2m:cin"]["con"], big, err)
        rc, out, err = self.client("-m", "get", "-O", "%d,%s" % (OPT_FR, aei),
                                   "-O", "%d,r4" % OPT_RQI, self.url("/cse-in/%s/c/la" % aei))
        self.assertEqual(json.loads(out)["m2m:cin"]["con"], big, err)
        # the same resource over HTTP: one pipeline behind both bindings
        r = self.cse.retrieve("/cse-in/%s/c/la" % aei, origin=aei)
        self.assertEqual(r.res()["con"], big)

    def test_body_over_limit_refused(self):
        path = os.path.join(self.cse.work, "huge.json")
        with open(path, "w") as f:
            json.dump({"m2m:cin": {"con": "y" * (1024 * 1024 + 10)}}, f)
        rc, out, err = self.client("-m", "post", "-O", "%d,CAdmin" % OPT_FR,
                                   "-O", "%d,r5" % OPT_RQI, "-t", "50", "-f", path,
                                   self.url("/cse-in", query="?ty=4"), timeout=120)
        self.assertNotIn(b"m2m:cin", out)

    def _add_psk(self, ident, key, bind):
        p = subprocess.run([m2mtest.BIN, "cred", "add-psk", "--data-dir", self.cse.data_dir,
                            "--identity", ident, "--key-hex", key.encode().hex(),
                            "--bind", bind], capture_output=True, timeout=30)
        if p.returncode != 0:
            self.skipTest("m2msec cred add-psk unavailable: %s" % p.stderr[-200:])

    def test_dtls_psk(self):
        aei = "C" + self.uniq("psk")
        ident, key = "%s@m2msec.example.com" % aei.lower(), "k" * 16
        self._add_psk(ident, key, aei)
        body = json.dumps({"m2m:ae": {"rn": aei, "api": "Nx", "rr": False, "srv": ["3"]}})
        rc, out, err = self.client("-u", ident, "-k", key, "-m", "post",
                                   "-O", "%d,%s" % (OPT_FR, aei), "-O", "%d,p1" % OPT_RQI,
                                   "-t", "50", "-e", body, self.url("/cse-in", True, "?ty=2"))
        self.assertEqual(json.loads(out)["m2m:ae"]["aei"], aei, err)
        rc, out, err = self.client("-u", ident, "-k", key, "-m", "get",
                                   "-O", "%d,%s" % (OPT_FR, aei), "-O", "%d,p2" % OPT_RQI,
                                   self.url("/cse-in/" + aei, True))
        self.assertEqual(json.loads(out)["m2m:ae"]["ri"], aei, err)
        # wrong key: the handshake fails, no application data
        rc, out, err = self.client("-u", ident, "-k", "w" * 16, "-m", "get",
                                   "-O", "%d,%s" % (OPT_FR, aei), "-O", "%d,p3" % OPT_RQI,
                                   self.url("/cse-in/" + aei, True))
        self.assertNotIn(b"m2m:ae", out)
        # unknown identity
        rc, out, err = self.client("-u", "nobody@m2msec.example.com", "-k", key, "-m", "get",
                                   "-O", "%d,%s" % (OPT_FR, aei), "-O", "%d,p4" % OPT_RQI,
                                   self.url("/cse-in/" + aei, True))
        self.assertNotIn(b"m2m:ae", out)

    def test_dtls_psk_impersonation_refused(self):
        aei = "C" + self.uniq("psk")
        ident, key = "%s@m2msec.example.com" % aei.lower(), "q" * 16
        self._add_psk(ident, key, aei)
        rc, out, err = self.client("-u", ident, "-k", key, "-m", "get",
                                   "-O", "%d,CAdmin" % OPT_FR, "-O", "%d,p5" % OPT_RQI,
                                   self.url("/cse-in", True))
        self.assertIn("4.03", err)  # From does not match the association (4106)
        self.assertIn("m2m:dbg", err)
        self.assertNotIn(b"m2m:cb", out)


if __name__ == "__main__":
    m2mtest.main()
