"""m2mtest.py: harness for the black-box integration tests (server process, HTTP/HTTPS client,
notification receiver, raw-socket helpers). Python 3 standard library only.

Every test file ends with `m2mtest.main()`, which takes `--bin PATH` (or $M2MSEC_BIN) off argv and
runs unittest. A missing binary makes every test ERROR (never skip), so ctest reports a failure.
"""

import argparse
import atexit
import http.client
import http.server
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

BIN = None  # path of the m2msec binary, set by main()
HOST = "127.0.0.1"
CSE_ID = "/id-in"
CSE_RI = "id-in"
CSE_RN = "cse-in"
SP_ID = "m2msec.example.com"
ADMIN = "CAdmin"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "WARNING: ThreadSanitizer",
)

# TS-0009 Table 6.3.2-1: HTTP status for the RSCs these tests meet.
RSC_HTTP = {
    2000: 200, 2001: 201, 2002: 200, 2004: 200,
    4000: 400, 4001: 501, 4004: 404, 4005: 405, 4008: 504, 4015: 415,
    4101: 403, 4102: 400, 4103: 403, 4105: 409, 4106: 403, 4107: 403, 4108: 403, 4109: 403,
    4110: 400, 4117: 403, 4126: 403, 5000: 500, 5001: 501, 5103: 404, 5105: 403, 5106: 409,
    5203: 403, 5204: 500, 5205: 403, 5207: 406, 6010: 400,
}

_live = []  # every started Cse, killed at exit if a test forgot it
_workdirs = []  # work directories of closed servers, removed at exit
_rqi_counter = itertools.count(1)
_rqi_prefix = "it%d-%06x" % (os.getpid(), random.getrandbits(24))


def new_rqi():
    """A request identifier unique in this test run."""
    return "%s-%d" % (_rqi_prefix, next(_rqi_counter))


def utc_ts(offset_s=0.0):
    """oneM2M timestamp (TS-0004 6.3.3, basic ISO-8601 UTC) offset_s seconds from now."""
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() + offset_s))


def _cleanup_live():
    for c in list(_live):
        try:
            c.kill9()
        except Exception:
            pass
    if not os.environ.get("M2M_KEEP"):
        for d in _workdirs:
            shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup_live)


class Resp(tuple):
    """(http_status, headers with lowercase names, parsed JSON or None, rsc int or None); also
    .status .headers .json .rsc .raw (body bytes) .req (what was sent, for messages)."""

    def __new__(cls, status, headers, body, rsc, raw=b"", req=""):
        self = super().__new__(cls, (status, headers, body, rsc))
        self.raw = raw
        self.req = req
        return self

    status = property(lambda s: s[0])
    headers = property(lambda s: s[1])
    json = property(lambda s: s[2])
    rsc = property(lambda s: s[3])

    def res(self, key=None):
        """The inner resource dict of a body {"m2m:xxx": {...}} (key optional)."""
        if not isinstance(self.json, dict):
            return None
        if key is not None:
            return self.json.get(key)
        if len(self.json) == 1:
            v = next(iter(self.json.values()))
            return v if isinstance(v, dict) else None
        return None

    def describe(self):
        raw = self.raw[:600].decode("utf-8", "replace")
        return "%s -> HTTP %s RSC %s body %s" % (self.req, self.status, self.rsc, raw)


class Cse:
    """One m2msec CSE process on ephemeral loopback ports with its own data directory."""

    def __init__(self, *extra, http=True, https=True, log_level="info", data_dir=None,
                 start=True):
        if not BIN:
            raise AssertionError("no --bin given (path of the m2msec binary)")
        if not os.path.isfile(BIN) or not os.access(BIN, os.X_OK):
            raise AssertionError("m2msec binary missing or not executable: %r" % BIN)
        self.work = tempfile.mkdtemp(prefix="m2msec-it-")
        _workdirs.append(self.work)
        self.data_dir = data_dir or os.path.join(self.work, "data")
        self.extra = [str(a) for a in extra]
        self.http_on, self.https_on, self.log_level = http, https, log_level
        self.proc = None
        self.runs = 0
        self.http_port = self.https_port = None
        self.stdout_lines = []
        self.stderr_path = None
        self._stdout_thread = None
        if start:
            self.start()

    # -- process control -------------------------------------------------------------------
    def argv(self):
        return [BIN, "cse", "--data-dir", self.data_dir,
                "--http", "%s:0" % HOST if self.http_on else "off",
                "--https", "%s:0" % HOST if self.https_on else "off",
                # CoAP on ephemeral ports too, so parallel tests never share 5683/5684
                "--coap", "%s:0" % HOST, "--coaps", "%s:0" % HOST,
                "--log-level", self.log_level] + self.extra

    def start(self):
        assert self.proc is None, "already running"
        self.runs += 1
        self.stderr_path = os.path.join(self.work, "stderr.%d.log" % self.runs)
        self.stdout_lines = []
        ready = threading.Event()
        err = open(self.stderr_path, "wb")
        try:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=err, cwd=self.work)
        finally:
            err.close()
        _live.append(self)
        proc = self.proc

        def pump():  # drains stdout for the life of the process so the pipe never fills
            for line in iter(proc.stdout.readline, b""):
                s = line.decode("utf-8", "replace").rstrip("\r\n")
                self.stdout_lines.append(s)
                if s.startswith("READY"):
                    ready.set()
            proc.stdout.close()
            ready.set()

        self._stdout_thread = threading.Thread(target=pump, daemon=True)
        self._stdout_thread.start()
        deadline = time.monotonic() + READY_TIMEOUT
        while not ready.wait(0.05):
            if time.monotonic() > deadline:
                self.kill9()
                raise AssertionError("no READY line within %.0f s\n%s"
                                     % (READY_TIMEOUT, self.diagnostics()))
        line = next((l for l in self.stdout_lines if l.startswith("READY")), None)
        if line is None:
            rc = self.proc.wait(5)
            self._forget()
            raise AssertionError("server exited (rc %s) before READY\n%s"
                                 % (rc, self.diagnostics()))
        self._parse_ready(line)

    def _parse_ready(self, line):
        # contract: "READY http=127.0.0.1:PORT https=127.0.0.1:PORT" (an off listener omitted)
        m_http = re.search(r"\bhttp=([0-9.]+):(\d+)", line)
        m_https = re.search(r"\bhttps=([0-9.]+):(\d+)", line)
        if self.http_on != bool(m_http) or self.https_on != bool(m_https):
            self.kill9()
            raise AssertionError("READY line does not match the listeners: %r" % line)
        self.http_port = int(m_http.group(2)) if m_http else None
        self.https_port = int(m_https.group(2)) if m_https else None
        for m in (m_http, m_https):
            if m and m.group(1) != HOST:
                self.kill9()
                raise AssertionError("listener not on %s: %r" % (HOST, line))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _forget(self):
        if self in _live:
            _live.remove(self)
        self.proc = None

    def stop(self, check=True):
        """SIGTERM, wait; asserts exit code 0 and a clean sanitizer log (when check)."""
        if self.proc is None:
            return None
        proc = self.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            self._forget()
            if check:
                raise AssertionError("server did not exit within %.0f s of SIGTERM\n%s"
                                     % (STOP_TIMEOUT, self.diagnostics()))
            return None
        if self._stdout_thread:
            self._stdout_thread.join(5)
        self._forget()
        if check:
            if rc != 0:
                raise AssertionError("server exit code %s after SIGTERM (want 0)\n%s"
                                     % (rc, self.diagnostics()))
            self.assert_clean_log()
        return rc

    def kill9(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        if self._stdout_thread:
            self._stdout_thread.join(5)
        self._forget()

    def restart(self, kill=False):
        """Stops (SIGTERM, checked; or kill -9) and starts again on the same data directory."""
        if kill:
            self.kill9()
        else:
            self.stop()
        self.start()

    def close(self, check=True):
        """Stops the server (checked). The work directory (data, logs) stays until the test
        process exits, so failure diagnostics can still read it; M2M_KEEP=1 keeps it."""
        self.stop(check=check)

    # -- logs ------------------------------------------------------------------------------
    def stderr_text(self, run=None):
        path = self.stderr_path if run is None else os.path.join(self.work, "stderr.%d.log" % run)
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def sanitizer_findings(self):
        out = []
        for run in range(1, self.runs + 1):
            text = self.stderr_text(run)
            out += [l for l in text.splitlines() if any(m in l for m in SANITIZER_MARKERS)]
        return out

    def assert_clean_log(self):
        found = self.sanitizer_findings()
        if found:
            raise AssertionError("sanitizer report in server stderr:\n  %s\n%s"
                                 % ("\n  ".join(found[:10]), self.diagnostics()))

    def diagnostics(self, lines=40):
        tail = self.stderr_text().splitlines()[-lines:]
        return ("---- server argv: %s\n---- stdout:\n%s\n---- stderr tail (%s):\n%s\n----"
                % (" ".join(self.argv()), "\n".join(self.stdout_lines[-10:]),
                   self.stderr_path, "\n".join(tail)))

    # -- paths -----------------------------------------------------------------------------
    @property
    def ca_pem(self):
        return os.path.join(self.data_dir, "pki", "ca.pem")

    @property
    def db_path(self):
        return os.path.join(self.data_dir, "m2msec.db")

    def issue_cert(self, uri, cn, name=None):
        """`m2msec pki issue`: returns (cert_path, key_path) of a client certificate."""
        name = name or re.sub(r"[^A-Za-z0-9]+", "_", uri).strip("_")
        cert = os.path.join(self.work, name + ".pem")
        key = os.path.join(self.work, name + ".key")
        cmd = [BIN, "pki", "issue", "--data-dir", self.data_dir, "--uri", uri, "--cn", cn,
               "--out-cert", cert, "--out-key", key]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        if p.returncode != 0 or not os.path.exists(cert) or not os.path.exists(key):
            raise AssertionError("pki issue failed (rc %d): %s\n%s" % (
                p.returncode, " ".join(cmd), p.stderr.decode("utf-8", "replace")[-2000:]))
        return cert, key

    # -- client ----------------------------------------------------------------------------
    def ssl_context(self, cert=None):
        ctx = ssl.create_default_context(cafile=self.ca_pem)
        ctx.check_hostname = False  # chain verified; host name checked in test_https
        if cert:
            ctx.load_cert_chain(cert[0], cert[1])
        return ctx

    def request(self, method, path, origin=None, ty=None, body=None, rqi=None, rvi="3",
                headers=None, tls=False, cert=None, timeout=20.0):
        """One request on a fresh connection. origin/rvi None = header omitted; rqi None =
        a fresh unique one; headers entries override (value None removes). Returns Resp."""
        hdrs = {"Host": "%s:%d" % (HOST, self.https_port if tls else self.http_port),
                "Accept": "application/json"}
        if origin is not None:
            hdrs["X-M2M-Origin"] = origin
        hdrs["X-M2M-RI"] = rqi if rqi is not None else new_rqi()
        if rvi is not None:
            hdrs["X-M2M-RVI"] = rvi
        data = None
        if body is not None:
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode()
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = bytes(body)
        if ty is not None:
            hdrs["Content-Type"] = "application/json;ty=%d" % ty
        elif data is not None:
            hdrs["Content-Type"] = "application/json"
        for k, v in (headers or {}).items():
            for old in [h for h in hdrs if h.lower() == k.lower()]:
                del hdrs[old]
            if v is not None:
                hdrs[k] = v
        if tls:
            conn = http.client.HTTPSConnection(HOST, self.https_port, timeout=timeout,
                                               context=self.ssl_context(cert))
        else:
            conn = http.client.HTTPConnection(HOST, self.http_port, timeout=timeout)
        desc = "%s %s%s (From %s, ty %s)" % (method, "https " if tls else "", path, origin, ty)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for k, v in hdrs.items():
                conn.putheader(k, v)
            if data is not None or method in ("POST", "PUT"):
                conn.putheader("Content-Length", str(len(data or b"")))
            conn.endheaders(data)
            r = conn.getresponse()
            raw = r.read()
            rh = {k.lower(): v for k, v in r.getheaders()}
            status = r.status
        finally:
            conn.close()
        parsed = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
        rsc = None
        if "x-m2m-rsc" in rh:
            try:
                rsc = int(rh["x-m2m-rsc"])
            except ValueError:
                rsc = None
        return Resp(status, rh, parsed, rsc, raw, desc)

    def create(self, parent, ty, body, origin=ADMIN, **kw):
        return self.request("POST", parent, origin=origin, ty=ty, body=body, **kw)

    def retrieve(self, path, origin=ADMIN, query=None, **kw):
        if query:
            path = path + "?" + (query if isinstance(query, str) else
                                 urllib.parse.urlencode(query, doseq=True))
        return self.request("GET", path, origin=origin, **kw)

    def update(self, path, body, origin=ADMIN, **kw):
        return self.request("PUT", path, origin=origin, body=body, **kw)

    def delete(self, path, origin=ADMIN, **kw):
        return self.request("DELETE", path, origin=origin, **kw)

    def discover(self, path, origin=ADMIN, **fc):
        """GET path?fu=1&... ; list values become repeated parameters."""
        q = [("fu", "1")]
        for k, v in fc.items():
            for item in (v if isinstance(v, (list, tuple)) else [v]):
                q.append((k, str(item)))
        return self.retrieve(path, origin=origin, query=q)

    def register_ae(self, origin, rn, api="Nmyapp", rr=True, extra=None, **kw):
        ae = {"rn": rn, "api": api, "rr": rr, "srv": ["3"]}
        ae.update(extra or {})
        return self.create("/" + CSE_RN, 2, {"m2m:ae": ae}, origin=origin, **kw)


def uril(resp):
    """The m2m:uril list of a discovery response (None when absent)."""
    if not isinstance(resp.json, dict):
        return None
    v = resp.json.get("m2m:uril")
    if isinstance(v, dict):  # tolerate {"m2m:uril": {"uril": [...]}} wrapping
        v = v.get("uril")
    return v


def norm_uri(u):
    """Structured/unstructured CSE-relative form of a discovery URI: strips a leading "/",
    "/id-in/" (SP-relative) and "//sp/id-in/" (absolute) prefixes."""
    for pre in ("//%s%s/" % (SP_ID, CSE_ID), "%s/" % CSE_ID):
        if u.startswith(pre):
            u = u[len(pre):]
    return u.lstrip("/")


class CseTestCase(unittest.TestCase):
    """Base class: one server per test class (cse_args = extra command-line arguments);
    prints the server's stderr tail when a test fails; the clean-exit check runs in
    tearDownClass so a sanitizer report or a bad exit code fails the file."""

    cse_args = ()
    cse_kwargs = {}
    cse = None

    @classmethod
    def setUpClass(cls):
        cls.cse = Cse(*cls.cse_args, **cls.cse_kwargs)

    @classmethod
    def tearDownClass(cls):
        if cls.cse is not None:
            c, cls.cse = cls.cse, None
            c.close(check=True)

    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > before:
            for c in self._cses_for_diagnostics():
                sys.stderr.write("\n[%s] server diagnostics:\n%s\n" % (self.id(), c.diagnostics()))
        return out

    def _cses_for_diagnostics(self):
        seen = [self.cse] + list(getattr(self, "extra_cses", []))
        return [c for c in seen if c is not None]

    # -- assertions ------------------------------------------------------------------------
    def assertRsc(self, r, *codes, http_check=True):
        """The response carries one of the RSCs and the HTTP status TS-0009 maps it to."""
        if r.rsc not in codes:
            self.fail("expected RSC %s, got: %s" % ("/".join(map(str, codes)), r.describe()))
        if http_check and r.rsc in RSC_HTTP and r.status != RSC_HTTP[r.rsc]:
            self.fail("TS-0009 Table 6.3.2-1: RSC %d maps to HTTP %d, got %s"
                      % (r.rsc, RSC_HTTP[r.rsc], r.describe()))
        if r.rsc >= 4000 and r.json is not None and "m2m:dbg" not in r.json:
            self.fail("error response without m2m:dbg: %s" % r.describe())

    def ok(self, r, *codes):
        """assertRsc and return the inner resource."""
        self.assertRsc(r, *codes)
        return r.res()

    def uniq(self, stem="r"):
        return "%s%s" % (stem, new_rqi().replace("-", "")[-10:])

    def new_ae(self, stem="Cae"):
        """Registers a fresh AE with a unique C-stem; returns (origin, rn, structured path)."""
        n = self.uniq()
        origin, rn = stem + n, "ae" + n
        r = self.cse.register_ae(origin, rn)
        self.assertRsc(r, 2001)
        return origin, rn, "/%s/%s" % (CSE_RN, rn)

    def new_cnt(self, parent, origin, rn=None, **attrs):
        body = {"rn": rn or self.uniq("cnt")}
        body.update(attrs)
        r = self.cse.create(parent, 3, {"m2m:cnt": body}, origin=origin)
        res = self.ok(r, 2001)
        return "%s/%s" % (parent, body["rn"]), res

    def wait_until(self, fn, timeout, interval=0.1, msg="condition"):
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v:
                return v
            if time.monotonic() > deadline:
                self.fail("%s not reached within %.1f s" % (msg, timeout))
            time.sleep(interval)


# -- notification receiver -----------------------------------------------------------------
class Receiver:
    """A notification target: ThreadingHTTPServer on 127.0.0.1:0 recording every POST.
    mode: "ok" (200, X-M2M-RSC 2000), "refuse" (403, X-M2M-RSC 4101) or "hang" (reads the
    request and never answers until close()). set_mode(path, mode) overrides per path."""

    def __init__(self, mode="ok"):
        self.mode = mode
        self.path_modes = {}
        self.records = []
        self.cond = threading.Condition()
        self.release = threading.Event()
        recv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(min(n, 1 << 22)) if n > 0 else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                rec = {"path": self.path, "headers": hdrs, "json": body, "raw": raw,
                       "time": time.monotonic()}
                with recv.cond:
                    recv.records.append(rec)
                    recv.cond.notify_all()
                mode = recv.path_modes.get(self.path.split("?")[0], recv.mode)
                if mode == "hang":
                    recv.release.wait(60)
                    self.close_connection = True
                    return
                code, rsc = (200, "2000") if mode == "ok" else (403, "4101")
                self.send_response(code)
                self.send_header("X-M2M-RSC", rsc)
                self.send_header("X-M2M-RI", self.headers.get("X-M2M-RI", ""))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def url(self, path="/notify"):
        return "http://%s:%d%s" % (HOST, self.port, path)

    def set_mode(self, path, mode):
        self.path_modes[path] = mode

    def matching(self, pred):
        with self.cond:
            return [r for r in self.records if pred(r)]

    def wait_for(self, pred, timeout=10.0):
        """The first recorded request satisfying pred, waiting up to timeout; None if none."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for r in self.records:
                    if pred(r):
                        return r
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(min(left, 0.2))

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def sgn(rec):
    """The m2m:sgn object of a recorded notification (or {})."""
    j = rec.get("json") if rec else None
    if isinstance(j, dict) and isinstance(j.get("m2m:sgn"), dict):
        return j["m2m:sgn"]
    return {}


# -- raw sockets ---------------------------------------------------------------------------
def raw_connect(port, timeout=5.0):
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def raw_exchange(port, data, timeout=5.0, sock=None):
    """Sends data (ignoring a reset mid-send) and reads until the peer closes or timeout.
    Returns (bytes_received, closed_by_peer)."""
    s = sock or raw_connect(port, timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_until_close(s, timeout)
    finally:
        s.close()


def read_until_close(s, timeout):
    buf = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return buf, False
        except ConnectionResetError:
            return buf, True
        if not chunk:
            return buf, True
        buf += chunk
        if len(buf) > (1 << 24):
            break
    return buf, False


def parse_responses(buf):
    """Splits a byte stream into HTTP responses: list of (status, headers-lowercase, body).
    Stops at the first incomplete one."""
    out = []
    while buf:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            break
        head = buf[:end].decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3})", head[0])
        if not m:
            break
        hdrs = {}
        for line in head[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", "0") or 0)
        body = buf[end + 4:end + 4 + n]
        if len(body) < n:
            break
        out.append((int(m.group(1)), hdrs, body))
        buf = buf[end + 4 + n:]
    return out


def status_of(buf):
    """HTTP status code of the first response in buf, or None."""
    m = re.match(rb"HTTP/1\.[01] (\d{3})", buf)
    return int(m.group(1)) if m else None


def main():
    """Takes --bin off argv (falls back to $M2MSEC_BIN), then runs unittest.main (exits non-zero
    on any failure or error)."""
    global BIN
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--bin", default=os.environ.get("M2MSEC_BIN"))
    args, rest = p.parse_known_args()
    BIN = os.path.abspath(args.bin) if args.bin else None
    sys.stdout.reconfigure(line_buffering=True)
    unittest.main(module="__main__", argv=[sys.argv[0]] + rest, verbosity=2)


# -- reliability helpers (test_hostile_*.py, tests/soak/) ---------------------------------------
# Appended functions only: a soak switch, the server's memory from /proc, a well-behaved client
# that runs beside an attack, and the results table.

def soak_mode():
    """True when M2M_SOAK=1: hostile tests scale their counts and durations up (make soak)."""
    return os.environ.get("M2M_SOAK", "") == "1"


def scaled(short, full):
    """short in the make-test form, full under M2M_SOAK=1."""
    return full if soak_mode() else short


def proc_mem_kib(pid):
    """{"VmRSS": KiB, "VmHWM": KiB} of a live process from /proc/<pid>/status ({} if gone)."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out[k] = int(v.split()[0])
    except (OSError, ValueError, IndexError):
        return {}
    return out


def percentile(values, q):
    """The q-th percentile (0..100, nearest rank) of values; None when empty."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(q / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def _prober_loop(cse, path, origin, tls, interval, timeout, halt, conn):
    """Body of the prober process: retrieves path until halt is set, then sends its figures."""
    st = {"tried": 0, "ok": 0, "errors": [], "lat": []}
    while not halt.is_set():
        t0 = time.monotonic()
        try:
            r = cse.request("GET", path, origin=origin, tls=tls, timeout=timeout)
            good = r.rsc == 2000
            why = None if good else r.describe()[:200]
        except Exception as e:  # refused, reset, timeout: all count as failures
            good, why = False, repr(e)[:200]
        st["lat"].append((time.monotonic() - t0) * 1000.0)
        st["tried"] += 1
        if good:
            st["ok"] += 1
        elif len(st["errors"]) < 20:
            st["errors"].append(why)
        halt.wait(interval)
    conn.send(st)
    conn.close()


def start_prober(cse, path, origin=ADMIN, tls=False, interval=0.01, timeout=5.0):
    """Starts a well-behaved client that retrieves path (fresh connection each time) until
    stop() is called. It runs in a forked process, so the attack's Python threads cannot delay
    it through the interpreter lock. stop() returns {"tried", "ok", "errors", "p50_ms",
    "p99_ms", "max_ms", "success_pct", "samples"}, ok counting RSC 2000 answers."""
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    halt = ctx.Event()
    rx, tx = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_prober_loop, args=(cse, path, origin, tls, interval, timeout,
                                                  halt, tx), daemon=True)
    proc.start()
    tx.close()

    def stop():
        halt.set()
        st = {"tried": 0, "ok": 0, "errors": ["prober process sent nothing"], "lat": []}
        if rx.poll(timeout + 10):
            st = rx.recv()
        proc.join(5)
        if proc.is_alive():
            proc.kill()
        lat = st["lat"]
        return {"tried": st["tried"], "ok": st["ok"], "errors": st["errors"],
                "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
                "max_ms": max(lat) if lat else None, "samples": len(lat),
                "success_pct": 100.0 * st["ok"] / st["tried"] if st["tried"] else 0.0}

    return stop


def run_attack(cse, name, attack, probe_path, probe_origin=ADMIN, probe_tls=False,
               min_secs=1.5):
    """Runs attack() (returns the number of hostile requests/connections it tried), again
    until min_secs have passed, while a well-behaved prober retrieves probe_path; returns one
    results row with the prober's figures and the server's VmRSS before/after and VmHWM after,
    in MiB."""
    pid = cse.proc.pid
    before = proc_mem_kib(pid)
    stop = start_prober(cse, probe_path, probe_origin, tls=probe_tls)
    t0 = time.monotonic()
    tried = 0
    try:
        while True:
            tried += attack()
            if time.monotonic() - t0 >= min_secs:
                break
    finally:
        stats = stop()
    after = proc_mem_kib(pid)
    mib = lambda kib: (kib or 0) / 1024.0
    return {"attack": name, "tried": tried, "secs": time.monotonic() - t0,
            "probe_tried": stats["tried"], "probe_ok": stats["ok"],
            "success_pct": stats["success_pct"], "p50_ms": stats["p50_ms"],
            "p99_ms": stats["p99_ms"], "rss_before_mib": mib(before.get("VmRSS")),
            "rss_after_mib": mib(after.get("VmRSS")), "peak_mib": mib(after.get("VmHWM")),
            "probe_errors": stats["errors"]}


def results_table(rows, title="hostile clients"):
    """The rows of run_attack as a fixed-width text table (also valid Markdown)."""
    hdr = ("attack", "tried", "ok %", "p50 ms", "p99 ms", "RSS before", "RSS after", "peak RSS")
    fmt = "| %-34s | %6s | %6s | %7s | %7s | %10s | %9s | %8s |"
    lines = ["%s (%s form, MiB)" % (title, "soak" if soak_mode() else "short"), fmt % hdr,
             "|" + "|".join("-" * (w + 2) for w in (34, 6, 6, 7, 7, 10, 9, 8)) + "|"]
    num = lambda v, f="%.1f": "-" if v is None else f % v
    for r in rows:
        lines.append(fmt % (r["attack"][:34], r["tried"], num(r["success_pct"]),
                            num(r["p50_ms"]), num(r["p99_ms"]), num(r["rss_before_mib"]),
                            num(r["rss_after_mib"]), num(r["peak_mib"])))
    return "\n".join(lines)


def mem_limit_mib():
    """Allowed growth of the server's peak RSS over its baseline during a hostile run:
    $M2M_MEM_LIMIT_MIB, default 64 (sized for ASan with a bounded quarantine)."""
    return float(os.environ.get("M2M_MEM_LIMIT_MIB", "64"))


def bounded_asan_env():
    """Caps ASan's quarantine of freed memory in servers started from now on (ASan otherwise
    keeps up to 256 MiB of freed blocks, which would hide the server's own footprint)."""
    cur = os.environ.get("ASAN_OPTIONS", "")
    if "quarantine_size_mb" not in cur:
        os.environ["ASAN_OPTIONS"] = (cur + ":" if cur else "") + "quarantine_size_mb=16"


def hostile_fixture(cse, stem="Chost"):
    """An AE, a container and one contentInstance for the well-behaved prober; returns
    (origin, container path, la path)."""
    origin = "%s%06x" % (stem, random.getrandbits(24))
    rn = "ae" + origin[1:]
    r = cse.register_ae(origin, rn)
    assert r.rsc == 2001, r.describe()
    cnt = "/%s/%s/probe" % (CSE_RN, rn)
    r = cse.create("/%s/%s" % (CSE_RN, rn), 3, {"m2m:cnt": {"rn": "probe"}}, origin=origin)
    assert r.rsc == 2001, r.describe()
    r = cse.create(cnt, 4, {"m2m:cin": {"con": "probe-value"}}, origin=origin)
    assert r.rsc == 2001, r.describe()
    return origin, cnt, cnt + "/la"


def check_attack_row(tc, row, baseline_mib, min_ok_pct=95.0, max_p99_ms=3000.0):
    """unittest assertions on a run_attack row: the well-behaved client kept being served
    (success rate, p99 latency) and the server's peak RSS stayed within mem_limit_mib() of
    baseline_mib."""
    tc.assertGreater(row["probe_tried"], 0, "%s: the prober never ran" % row["attack"])
    tc.assertGreaterEqual(row["success_pct"], min_ok_pct, "%s: well-behaved success %.1f%% "
                          "(errors: %s)" % (row["attack"], row["success_pct"],
                                            row["probe_errors"][:5]))
    if max_p99_ms is not None and row["p99_ms"] is not None:
        tc.assertLessEqual(row["p99_ms"], max_p99_ms, "%s: well-behaved p99 %.0f ms"
                           % (row["attack"], row["p99_ms"]))
    growth = row["peak_mib"] - baseline_mib
    tc.assertLessEqual(growth, mem_limit_mib(), "%s: peak RSS %.1f MiB is %.1f MiB over the "
                       "baseline %.1f MiB" % (row["attack"], row["peak_mib"], growth,
                                              baseline_mib))


# -- the MEF process (test_mef_server.py) -------------------------------------------------------
# Appended: `m2msec mef serve` on an ephemeral port with its own data directory, its admin CLI,
# and clients over TLS-PSK (openssl s_client, gnutls-cli) or certificates (python ssl).

MEF_FQDN = "mef.m2msec.test"


def mef_http(method, path, origin, body=None, ty=None, keep_alive=False, rqi=None, extra=None):
    """One HTTP/1.1 request to the MEF as bytes (origin None = no X-M2M-Origin)."""
    data = body if isinstance(body, bytes) else (json.dumps(body).encode()
                                                 if body is not None else b"")
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % HOST,
             "X-M2M-RI: %s" % (rqi or new_rqi()), "X-M2M-RVI: 3"]
    if origin is not None:
        lines.append("X-M2M-Origin: %s" % origin)
    if ty is not None:
        lines.append("Content-Type: application/json;ty=%d" % ty)
    elif data:
        lines.append("Content-Type: application/json")
    if data or method in ("POST", "PUT"):
        lines.append("Content-Length: %d" % len(data))
    lines += list(extra or [])
    lines.append("Connection: %s" % ("keep-alive" if keep_alive else "close"))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


class Mef(Cse):
    """One `m2msec mef serve` process (initialised with `mef init`) on an ephemeral port."""

    def __init__(self, *extra, fqdn=MEF_FQDN, log_level="info", start=True):
        self.fqdn = fqdn
        self.port = None
        super().__init__(*extra, http=False, https=True, log_level=log_level, start=False)
        self.data_dir = os.path.join(self.work, "mef")
        self.admin("init", "--fqdn", fqdn)
        if start:
            self.start()

    def argv(self):
        return [BIN, "mef", "serve", "--data", self.data_dir, "--listen", "%s:0" % HOST,
                "--set", "log.level=%s" % self.log_level] + self.extra

    def _parse_ready(self, line):
        m = re.search(r"\bmef=([0-9.]+):(\d+)", line)
        if not m or m.group(1) != HOST:
            self.kill9()
            raise AssertionError("bad READY line: %r" % line)
        self.port = self.https_port = int(m.group(2))

    @property
    def ca_pem(self):
        return os.path.join(self.data_dir, "ca.pem")

    @property
    def db_path(self):
        return os.path.join(self.data_dir, "mef.db")

    def admin(self, *args, check=True):
        """`m2msec mef <args> --data DIR`; returns the CompletedProcess (text)."""
        cmd = [BIN, "mef"] + [str(a) for a in args] + ["--data", self.data_dir]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60, text=True)
        if check and p.returncode != 0:
            raise AssertionError("%s failed (rc %d): %s" % (" ".join(cmd), p.returncode,
                                                           p.stderr[-2000:]))
        return p

    def add_kpm(self, kpmid, key_hex, identity):
        path = os.path.join(self.work, "kpm-%s.hex" % re.sub(r"[^A-Za-z0-9]", "_", kpmid))
        with open(path, "w") as f:
            f.write(key_hex + "\n")
        return self.admin("add-kpm", "--kpmid", kpmid, "--key-file", path, "--identity",
                          identity)

    def issue_cert(self, uri, cn, name=None):
        """A client certificate from the MEF CA (`m2msec pki issue` on DIR through a link)."""
        issuer = os.path.join(self.work, "issuer")
        if not os.path.exists(os.path.join(issuer, "pki")):
            os.makedirs(issuer, exist_ok=True)
            os.symlink(self.data_dir, os.path.join(issuer, "pki"))
        name = name or re.sub(r"[^A-Za-z0-9]+", "_", uri).strip("_")
        cert = os.path.join(self.work, name + ".pem")
        key = os.path.join(self.work, name + ".key")
        p = subprocess.run([BIN, "pki", "issue", "--data-dir", issuer, "--uri", uri, "--cn", cn,
                            "--out-cert", cert, "--out-key", key], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if p.returncode != 0:
            raise AssertionError("pki issue failed: %s" % p.stderr.decode(errors="replace"))
        return cert, key

    def openssl_psk(self, data, identity, key_hex, *opts, export=None, export_len=48):
        """openssl s_client with a PSK; data is sent on stdin. Returns (stdout bytes, parsed
        responses, keying material bytes of `export` or None)."""
        cmd = ["openssl", "s_client", "-connect", "%s:%d" % (HOST, self.port), "-psk_identity",
               identity, "-psk", key_hex, "-ign_eof"] + list(opts)
        if export:
            cmd += ["-keymatexport", export, "-keymatexportlen", str(export_len)]
        else:
            cmd += ["-quiet"]
        p = subprocess.run(cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        out = p.stdout
        km = None
        m = re.search(rb"Keying material: ([0-9A-Fa-f]+)", out)
        if m:
            km = bytes.fromhex(m.group(1).decode())
        at = out.find(b"HTTP/1.1 ")
        return out, (parse_responses(out[at:]) if at >= 0 else []), km

    def gnutls_psk(self, data, identity, key_hex, priority):
        """gnutls-cli with a PSK; stdin stays open until the server closes. Returns (stdout,
        parsed responses)."""
        cmd = ["gnutls-cli", "--port", str(self.port), HOST, "--x509cafile", self.ca_pem,
               "--pskusername", identity, "--pskkey", key_hex, "--priority", priority]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        out = b""
        try:
            p.stdin.write(data)
            p.stdin.flush()
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                import select as _select
                r, _, _ = _select.select([p.stdout], [], [], 0.2)
                if r:
                    chunk = os.read(p.stdout.fileno(), 65536)
                    if not chunk:
                        break
                    out += chunk
                elif p.poll() is not None:
                    break
        finally:
            p.kill()
            p.wait(10)
            p.stdin.close()
            p.stdout.close()
        at = out.find(b"HTTP/1.1 ")
        return out, parse_responses(out[at:]) if at >= 0 else []
