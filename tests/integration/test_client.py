"""test_client.py: the device client CLI (`m2msec client`, over include/m2msec/client.h) against
the real CSE over HTTP and HTTPS with a client certificate from `m2msec pki issue`: AE
registration, container and contentInstance, la, update, delete, subscription with a notification,
and the exit-code contract (0 RSC 2xxx, 1 other RSC, 2 usage, 3 connection/TLS) with one clear
error line."""

import json
import os
import shutil
import subprocess
import tempfile

import m2mtest
from m2mtest import HOST, CseTestCase, Receiver


def run_client(*args, stdin=None, timeout=60):
    """Runs `m2msec client ARGS`; returns (exit code, stdout text, stderr text)."""
    cmd = [m2mtest.BIN, "client"] + [str(a) for a in args]
    p = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


class ClientMixin:
    """Helpers shared by the client test classes: the URL options of each transport."""

    def http_args(self):
        return ["--url", "http://%s:%d" % (HOST, self.cse.http_port)]

    def https_args(self, cert=None):
        a = ["--url", "https://%s:%d" % (HOST, self.cse.https_port), "--ca", self.cse.ca_pem]
        if cert:
            a += ["--cert", cert[0], "--key", cert[1]]
        return a

    def assert_exit(self, res, code, what=""):
        rc, out, err = res
        self.assertEqual(rc, code, "%s: exit %d (want %d)\nstdout: %s\nstderr: %s"
                         % (what, rc, code, out[-1500:], err[-1500:]))
        return out, err

    def ok_json(self, res, rsc, what=""):
        """Exit 0, stderr names the RSC, stdout is the JSON body; returns the inner resource."""
        out, err = self.assert_exit(res, 0, what)
        self.assertIn("RSC %d" % rsc, err, what)
        body = json.loads(out)
        self.assertEqual(len(body), 1, body)
        return next(iter(body.values()))

    def one_error_line(self, err):
        lines = [l for l in err.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, "want one error line, got: %r" % err)
        self.assertTrue(lines[0].startswith("m2msec client: "), lines[0])
        return lines[0]


class ClientHttpTest(ClientMixin, CseTestCase):
    # wrong.example.com passes the server's SNI check (TS-0003 10.2.1) so that the client's own
    # certificate name check is what refuses it; sni.example.com is refused by the server.
    cse_args = ("--set", "tls.server_names=localhost,wrong.example.com")

    def scenario(self, base, stem):
        """register AE -> container -> cin -> la, all through the CLI with base options."""
        n = self.uniq()
        origin, rn = stem + n, "ae" + n
        ae = self.ok_json(run_client(*base, "--from", origin, "register-ae", "Nclient", rn), 2001,
                          "register-ae")
        self.assertEqual(ae.get("aei"), origin)
        self.assertEqual(ae.get("api"), "Nclient")
        parent = "/cse-in/" + rn
        cnt = self.ok_json(run_client(*base, "--from", origin, "create", parent, 3,
                                      json.dumps({"m2m:cnt": {"rn": "cnt1", "mni": 5}})), 2001)
        self.assertEqual(cnt.get("rn"), "cnt1")
        for v in ("first", "second"):
            self.ok_json(run_client(*base, "--from", origin, "create", parent + "/cnt1", 4,
                                    json.dumps({"m2m:cin": {"con": v}})), 2001)
        la = self.ok_json(run_client(*base, "--from", origin, "retrieve", parent + "/cnt1/la"),
                          2000, "la")
        self.assertEqual(la.get("con"), "second")
        # cross-check with the harness's own client
        r = self.cse.retrieve(parent + "/cnt1/la", origin=origin)
        self.assertEqual(self.ok(r, 2000).get("con"), "second")
        return origin, parent

    def test_http_register_container_cin_la(self):
        self.scenario(self.http_args(), "Ccli")

    def test_https_with_client_certificate(self):
        n = self.uniq()
        origin = "Ccrt" + n
        cert = self.cse.issue_cert(origin, origin, name="cli" + n)
        origin2, parent = self.scenario_cert(cert, origin)
        self.assertEqual(origin2, origin)

    def scenario_cert(self, cert, origin):
        base = self.https_args(cert)
        rn = "ae" + origin[4:]
        ae = self.ok_json(run_client(*base, "--from", origin, "register-ae", "Nclient", rn), 2001)
        self.assertEqual(ae.get("aei"), origin)
        parent = "/cse-in/" + rn
        self.ok_json(run_client(*base, "--from", origin, "create", parent, 3,
                                '{"m2m:cnt":{"rn":"c"}}'), 2001)
        self.ok_json(run_client(*base, "--from", origin, "create", parent + "/c", 4,
                                '{"m2m:cin":{"con":"tls"}}'), 2001)
        la = self.ok_json(run_client(*base, "--from", origin, "retrieve", parent + "/c/la"), 2000)
        self.assertEqual(la.get("con"), "tls")
        return origin, parent

    def test_https_server_only_auth(self):
        origin, parent = self.scenario(self.https_args(), "Ctls")
        self.assertTrue(parent.startswith("/cse-in/"))

    def test_update_delete_and_query(self):
        origin, parent = self.scenario(self.http_args(), "Cupd")
        base = self.http_args() + ["--from", origin]
        cnt = self.ok_json(run_client(*base, "update", parent + "/cnt1",
                                      '{"m2m:cnt":{"lbl":["x"]}}'), 2004, "update")
        self.assertEqual(cnt.get("lbl"), ["x"])
        _, err = self.assert_exit(run_client(*base, "retrieve", parent, "fu=1&ty=3"), 0, "disc")
        self.assertIn("RSC 2000", err)
        self.assert_exit(run_client(*base, "delete", parent + "/cnt1"), 0, "delete")
        out, err = self.assert_exit(run_client(*base, "retrieve", parent + "/cnt1"), 1, "gone")
        self.assertIn("RSC 4004", err)
        self.assertIn("m2m:dbg", out)

    def test_body_from_file_and_stdin(self):
        origin, parent = self.scenario(self.http_args(), "Cfil")
        base = self.http_args() + ["--from", origin]
        path = os.path.join(self.cse.work, "cin.json")
        with open(path, "w") as f:
            f.write('{"m2m:cin":{"con":"from-file"}}')
        self.ok_json(run_client(*base, "create", parent + "/cnt1", 4, "@" + path), 2001)
        self.ok_json(run_client(*base, "create", parent + "/cnt1", 4, "-",
                                stdin=b'{"m2m:cin":{"con":"from-stdin"}}'), 2001)
        la = self.ok_json(run_client(*base, "retrieve", parent + "/cnt1/la"), 2000)
        self.assertEqual(la.get("con"), "from-stdin")

    def test_subscribe_and_notification(self):
        origin, parent = self.scenario(self.http_args(), "Csub")
        rcv = Receiver()
        self.addCleanup(rcv.close)
        sub = self.ok_json(run_client(*self.http_args(), "--from", origin, "subscribe",
                                      parent + "/cnt1", rcv.url("/n1"), "sub1", "3"), 2001)
        self.assertEqual(sub.get("nu"), [rcv.url("/n1")])
        self.assertTrue(rcv.wait_for(lambda r: m2mtest.sgn(r).get("vrq") is True, 10),
                        "no verification request")
        self.ok_json(run_client(*self.http_args(), "--from", origin, "create", parent + "/cnt1",
                                4, '{"m2m:cin":{"con":"notify-me"}}'), 2001)
        rec = rcv.wait_for(lambda r: m2mtest.sgn(r).get("nev", {}).get("net") == 3, 10)
        self.assertIsNotNone(rec, "no notification for the new cin")
        rep = m2mtest.sgn(rec)["nev"].get("rep", {})
        self.assertEqual(rep.get("m2m:cin", {}).get("con"), "notify-me")

    def test_subscribe_refused_receiver_is_exit1(self):
        origin, parent = self.scenario(self.http_args(), "Csrf")
        rcv = Receiver(mode="refuse")
        self.addCleanup(rcv.close)
        out, err = self.assert_exit(run_client(*self.http_args(), "--from", origin, "subscribe",
                                               parent + "/cnt1", rcv.url()), 1, "refused")
        self.assertRegex(err, r"RSC (4101|5204)")

    def test_duplicate_registration_is_exit1(self):
        n = self.uniq()
        args = self.http_args() + ["--from", "Cdup" + n]
        self.ok_json(run_client(*args, "register-ae", "Napp", "dup" + n), 2001)
        out, err = self.assert_exit(run_client(*args, "register-ae", "Napp", "dup2" + n), 1)
        self.assertIn("RSC 4117", err)
        self.assertIn("m2m:dbg", out)

    def test_assigned_ae_id(self):
        n = self.uniq()
        ae = self.ok_json(run_client(*self.http_args(), "--from", "C", "register-ae", "Napp",
                                     "asg" + n), 2001)
        self.assertTrue(ae.get("aei", "").startswith("C"), ae)
        self.assertNotEqual(ae.get("aei"), "C")

    def test_wrong_ca_is_exit3_with_tls_error(self):
        other = tempfile.mkdtemp(prefix="m2msec-otherca-")
        self.addCleanup(shutil.rmtree, other, True)
        # a second development CA, unrelated to the server's
        p = subprocess.run([m2mtest.BIN, "pki", "issue", "--data-dir", other, "--uri", "Cx",
                            "--cn", "Cx", "--out-cert", os.path.join(other, "x.pem"),
                            "--out-key", os.path.join(other, "x.key")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        res = run_client("--url", "https://%s:%d" % (HOST, self.cse.https_port), "--ca",
                         os.path.join(other, "pki", "ca.pem"), "--from", "Cx", "retrieve",
                         "/cse-in")
        out, err = self.assert_exit(res, 3, "wrong CA")
        self.assertEqual(out, "", "no response body may be printed")
        line = self.one_error_line(err)
        self.assertIn("TLS", line)
        self.assertIn("not trusted", line.lower())
        self.assertFalse(line.endswith(" "), repr(line))

    def test_wrong_server_name_is_exit3(self):
        res = run_client(*self.https_args(), "--servername", "wrong.example.com", "--from", "Cx",
                         "retrieve", "/cse-in")
        out, err = self.assert_exit(res, 3, "name mismatch")
        self.assertIn("does not match", self.one_error_line(err))

    def test_unserved_sni_is_refused_by_the_server(self):
        res = run_client(*self.https_args(), "--servername", "sni.example.com", "--from", "Cx",
                         "retrieve", "/cse-in")
        out, err = self.assert_exit(res, 3, "SNI not served")
        self.assertIn("not recognized", self.one_error_line(err))

    def test_https_localhost_name_verifies(self):
        res = run_client("--url", "https://localhost:%d" % self.cse.https_port, "--ca",
                         self.cse.ca_pem, "--from", "CAdmin", "retrieve", "/cse-in")
        self.assertEqual(self.ok_json(res, 2000).get("ri"), m2mtest.CSE_RI)

    def test_https_on_http_port_is_exit3(self):
        res = run_client("--url", "https://%s:%d" % (HOST, self.cse.http_port), "--ca",
                         self.cse.ca_pem, "--from", "Cx", "retrieve", "/cse-in")
        out, err = self.assert_exit(res, 3)
        self.assertIn("TLS", self.one_error_line(err))

    def test_connection_refused_is_exit3(self):
        s = m2mtest.socket.socket()
        s.bind((HOST, 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        res = run_client("--url", "http://%s:%d" % (HOST, port), "--from", "Cx", "retrieve",
                         "/cse-in")
        out, err = self.assert_exit(res, 3)
        self.assertIn("connect", self.one_error_line(err))

    def test_usage_errors_are_exit2(self):
        cases = [
            ("no url", ["--from", "Cx", "retrieve", "/cse-in"]),
            ("no verb", self.http_args()),
            ("bad verb", self.http_args() + ["fetch", "/cse-in"]),
            ("bad scheme", ["--url", "ftp://x", "retrieve", "/cse-in"]),
            ("bad ty", self.http_args() + ["create", "/cse-in", "x", "{}"]),
            ("bad psk hex", ["--url", "https://%s:1" % HOST, "--psk-identity", "a@b",
                             "--psk-hex", "zz", "retrieve", "/"]),
            ("psk without identity", ["--url", "https://%s:1" % HOST, "--psk-hex", "0011",
                                      "retrieve", "/"]),
            ("two credentials", ["--url", "https://%s:1" % HOST, "--psk-identity", "a@b",
                                 "--psk-hex", "0011", "--rpk-key", "/nonexistent", "retrieve",
                                 "/"]),
            ("credential on http", self.http_args() + ["--rpk-key", "/nonexistent",
                                                      "retrieve", "/"]),
            ("missing cert file", ["--url", "https://%s:1" % HOST, "--cert", "/nonexistent",
                                   "--key", "/nonexistent", "retrieve", "/"]),
            ("header injection", self.http_args() + ["--from", "C\r\nX-Evil: 1", "retrieve",
                                                    "/cse-in"]),
            ("target with space", self.http_args() + ["retrieve", "/cse-in x"]),
        ]
        for what, args in cases:
            with self.subTest(what):
                rc, out, err = run_client(*args)
                self.assertEqual(rc, 2, "%s: exit %d, stderr %s" % (what, rc, err))
                self.assertEqual(out, "")
                self.assertIn("m2msec client", err)

    def test_psk_hex_is_wiped_from_cmdline(self):
        # the key is not left readable in /proc/PID/cmdline while the client runs: checked on
        # a client that waits on a server that never answers
        srv = m2mtest.socket.socket()
        srv.bind((HOST, 0))
        srv.listen(1)
        self.addCleanup(srv.close)
        key = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
        p = subprocess.Popen([m2mtest.BIN, "client", "--url", "https://%s:%d"
                              % (HOST, srv.getsockname()[1]), "--psk-identity", "id@x",
                              "--psk-hex", key, "--timeout-ms", "3000", "retrieve", "/"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        conn, _ = srv.accept()  # the client is past option parsing
        try:
            with open("/proc/%d/cmdline" % p.pid, "rb") as f:
                cmdline = f.read()
        finally:
            conn.close()
            p.communicate(timeout=30)
        self.assertNotIn(key.encode(), cmdline)
        self.assertIn(b"id@x", cmdline)
        self.assertEqual(p.returncode, 3)


if __name__ == "__main__":
    m2mtest.main()
