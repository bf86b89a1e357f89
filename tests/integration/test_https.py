"""test_https.py: the HTTPS listener with the development PKI (TS-0003 10.2, TS-0009 7.2) and the
security-association rules for CSE registration (TS-0004 7.3.2.1 / 7.4.4.2.1; SPEC-MAP B3, B6):
remoteCSE over HTTPS with a client certificate whose SAN URI is the CSE-ID, 4107 without an SA,
4106 when From does not match the certificate."""

import os
import socket
import ssl
import subprocess

import m2mtest
from m2mtest import ADMIN, CSE_RI, HOST, SP_ID, Cse, CseTestCase

MN_ID = "/id-mn"
MN_URI = "//%s/id-mn" % SP_ID


def csr_body(csi=MN_ID, rn="id-mn"):
    return {"m2m:csr": {"rn": rn, "cst": 2, "csi": csi, "cb": csi + "/cse-mn", "rr": True,
                        "poa": ["https://%s:1" % HOST], "srv": ["3"]}}


class HttpsTest(CseTestCase):

    def test_dev_pki_files(self):
        for name in ("ca.pem", "server.pem", "server.key"):
            self.assertTrue(os.path.isfile(os.path.join(self.cse.data_dir, "pki", name)), name)
        out = "\n".join(self.cse.stdout_lines)
        self.assertIn("dev CA: ", out)
        self.assertIn("server certificate: ", out)
        ca_line = next(l for l in self.cse.stdout_lines if l.startswith("dev CA: "))
        self.assertEqual(os.path.realpath(ca_line[len("dev CA: "):].strip()),
                         os.path.realpath(self.cse.ca_pem))
        # the CA private key is not world-readable
        mode = os.stat(os.path.join(self.cse.data_dir, "pki", "ca.key")).st_mode
        self.assertEqual(mode & 0o077, 0, oct(mode))

    def test_retrieve_over_https(self):
        r = self.cse.request("GET", "/cse-in", origin=ADMIN, tls=True)
        cb = self.ok(r, 2000)
        self.assertEqual(cb.get("ri"), CSE_RI)
        self.assertTrue(r.headers.get("x-m2m-ri"))

    def test_server_certificate_verifies_for_host(self):
        # the server certificate chains to the dev CA and names the loopback host
        errors = []
        for name in ("localhost", "127.0.0.1"):
            ctx = ssl.create_default_context(cafile=self.cse.ca_pem)
            try:
                with socket.create_connection((HOST, self.cse.https_port), timeout=10) as s:
                    with ctx.wrap_socket(s, server_hostname=name) as t:
                        self.assertIsNotNone(t.getpeercert())
                        return
            except ssl.SSLError as e:
                errors.append("%s: %s" % (name, e))
        self.fail("server certificate verifies for neither localhost nor 127.0.0.1: %s" % errors)

    def test_untrusted_ca_rejected_by_client(self):
        # sanity of the client side: without the dev CA the handshake must fail
        ctx = ssl.create_default_context()
        with socket.create_connection((HOST, self.cse.https_port), timeout=10) as s:
            with self.assertRaises(ssl.SSLError):
                ctx.wrap_socket(s, server_hostname="localhost")
        self.assertRsc(self.cse.request("GET", "/cse-in", origin=ADMIN, tls=True), 2000)

    def test_curl_with_cacert(self):
        url = "https://localhost:%d/cse-in" % self.cse.https_port
        cmd = ["curl", "-sS", "--max-time", "20", "--cacert", self.cse.ca_pem,
               "--resolve", "localhost:%d:%s" % (self.cse.https_port, HOST),
               "-H", "X-M2M-Origin: " + ADMIN, "-H", "X-M2M-RI: " + m2mtest.new_rqi(),
               "-H", "X-M2M-RVI: 3", "-H", "Accept: application/json",
               "-o", "-", "-w", "\n%{http_code}", url]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        body, _, code = p.stdout.decode().rpartition("\n")
        self.assertEqual(code, "200", p.stdout)
        self.assertIn('"m2m:cb"', body)

    def test_ae_over_https(self):
        n = self.uniq()
        r = self.cse.register_ae("Ctls" + n, "tls" + n, tls=True)
        self.assertRsc(r, 2001)
        self.ok(self.cse.request("GET", "/cse-in/tls" + n, origin="Ctls" + n, tls=True), 2000)
        # the same AE over plain HTTP still works (no SA was bound to it)
        self.ok(self.cse.retrieve("/cse-in/tls" + n, origin="Ctls" + n), 2000)

    def test_plain_http_on_https_port(self):
        s = m2mtest.raw_connect(self.cse.https_port)
        data, _ = m2mtest.raw_exchange(self.cse.https_port, b"GET /cse-in HTTP/1.1\r\nHost: x\r\n"
                                       b"X-M2M-Origin: CAdmin\r\nX-M2M-RI: 1\r\n\r\n", 5, sock=s)
        self.assertNotIn(b"m2m:cb", data)
        self.assertRsc(self.cse.request("GET", "/cse-in", origin=ADMIN, tls=True), 2000)

    def test_tls_on_http_port(self):
        ctx = ssl.create_default_context(cafile=self.cse.ca_pem)
        with socket.create_connection((HOST, self.cse.http_port), timeout=5) as s:
            with self.assertRaises((ssl.SSLError, OSError)):
                ctx.wrap_socket(s, server_hostname="localhost")
        self.assertRsc(self.cse.retrieve("/cse-in"), 2000)


class RemoteCseTest(CseTestCase):
    """A fresh CSE per test: registration state must not leak between the cases."""

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.cse = Cse()
        self.addCleanup(self.cse.close)

    def assert_no_csr(self):
        r = self.cse.discover("/cse-in", origin=ADMIN, ty=16)
        self.assertRsc(r, 2000)
        self.assertEqual(m2mtest.uril(r), [], "a remoteCSE was created")

    def test_register_remote_cse_with_client_cert(self):
        cert = self.cse.issue_cert(MN_URI, "id-mn")
        r = self.cse.create("/cse-in", 16, csr_body(), origin=MN_ID, tls=True, cert=cert)
        csr = self.ok(r, 2001)
        self.assertEqual(csr.get("ty"), 16)
        self.assertEqual(csr.get("csi"), MN_ID)
        # the registered CSE reads its own remoteCSE over the same kind of association
        path = "/cse-in/" + csr["rn"]
        self.ok(self.cse.request("GET", path, origin=MN_ID, tls=True, cert=cert), 2000)
        # a second registration of the same CSE-ID -> 4117 (TS-0004 7.4.4.2.1)
        r = self.cse.create("/cse-in", 16, csr_body(rn="id-mn2"), origin=MN_ID, tls=True,
                            cert=cert)
        self.assertRsc(r, 4117)

    def test_cse_originator_over_plain_http_4107(self):
        r = self.cse.create("/cse-in", 16, csr_body(), origin=MN_ID)
        self.assertRsc(r, 4107)
        self.assert_no_csr()
        # any request with a CSE-ID originator outside an SA (TS-0004 7.3.2.1, SPEC-MAP B3.4)
        self.assertRsc(self.cse.retrieve("/cse-in", origin=MN_ID), 4107)

    def test_cse_originator_over_https_without_client_cert_4107(self):
        # server-only TLS authenticates the CSE, not the peer: still no SA with /id-mn
        r = self.cse.create("/cse-in", 16, csr_body(), origin=MN_ID, tls=True)
        self.assertRsc(r, 4107)
        self.assert_no_csr()

    def test_relay_rules_of_a_cse_association(self):
        # TS-0004 7.3.2.1 Recv-1.0 case 2 (SPEC-MAP B3 rule 2): a CSE may relay requests of the
        # entities registered to it, with exceptions; registrations are never relayed
        cert = self.cse.issue_cert(MN_URI, "id-mn")
        self.ok(self.cse.create("/cse-in", 16, csr_body(), origin=MN_ID, tls=True, cert=cert),
                2001)
        cert2 = self.cse.issue_cert("//%s/id-mn2" % SP_ID, "id-mn2")
        self.ok(self.cse.create("/cse-in", 16, csr_body(csi="/id-mn2", rn="mn2"), origin="/id-mn2", tls=True,
                                cert=cert2), 2001)
        n = self.uniq()
        self.assertRsc(self.cse.register_ae("Cown" + n, "own" + n), 2001)

        def as_mn(origin):
            return self.cse.request("GET", "/cse-in", origin=origin, tls=True, cert=cert)
        # an AE registered to the MN-CSE: relayed; it is not authorised on the CSEBase (4103),
        # which shows it passed the identity checks
        self.assertRsc(as_mn(MN_ID + "/Cmnae"), 4103)
        self.assertRsc(as_mn(MN_ID), 2000, 4103)
        for bad in ("Cbare",                 # a CSE never sends a bare AE-ID stem
                    "/id-mn2",               # another CSE registered here
                    "/id-mn2/Cfoo",          # an AE of another registree CSE
                    "/id-in/Cown" + n):      # an AE registered to this CSE
            self.assertRsc(as_mn(bad), 4106)

    def test_from_not_matching_certificate_4106(self):
        cert = self.cse.issue_cert("//%s/id-other" % SP_ID, "id-other")
        r = self.cse.create("/cse-in", 16, csr_body(), origin=MN_ID, tls=True, cert=cert)
        # TS-0003 7.2.1 / TS-0004 7.3.2.1: From differs from the SA-bound identity -> 4106
        self.assertRsc(r, 4106)
        self.assert_no_csr()

    def test_ae_from_cannot_register_remote_cse(self):
        # TS-0004 7.4.4.2.1: From is an AE-ID -> OPERATION_NOT_ALLOWED (4005)
        n = self.uniq()
        self.assertRsc(self.cse.register_ae("Cae" + n, "ae" + n), 2001)
        r = self.cse.create("/cse-in", 16, csr_body(), origin="Cae" + n)
        self.assertRsc(r, 4005)
        self.assert_no_csr()


if __name__ == "__main__":
    m2mtest.main()
