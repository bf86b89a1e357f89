"""test_coaps_cert.py: CoAPS (DTLS) client certificates bind exactly as over HTTPS (TS-0003
8.1.2.5, SPEC-MAP F4/F8): the leaf must be valid for TLS client authentication (a serverAuth-only
certificate fails the handshake), no text SAN may hold a wildcard, and a good certificate binds
to the same identity (its SAN URI, the CSE-ID) over CoAPS and over HTTPS."""

import json
import os
import shutil
import subprocess
import unittest

import m2mtest
from m2mtest import HOST, SP_ID, CseTestCase
from test_coap import COAP_CLIENT, OPT_FR, OPT_RQI, coap_ports

CERTTOOL = shutil.which("certtool")


def csr_body(csi, rn):
    return {"m2m:csr": {"rn": rn, "cst": 2, "csi": csi, "cb": csi + "/cse-mn", "rr": True,
                        "poa": ["https://%s:1" % HOST], "srv": ["3"]}}


@unittest.skipUnless(COAP_CLIENT and CERTTOOL, "coap-client-gnutls and certtool needed")
class CoapsCertTest(CseTestCase):

    cse_args = ("--coap", "%s:0" % HOST, "--coaps", "%s:0" % HOST,
                "--set", "coap.response_options=false")

    def setUp(self):
        self.port, self.sport = coap_ports(self.cse)
        self.rn = "id-" + self.uniq("mn").lower()  # a CSE-ID of its own per test
        self.mn_id, self.mn_uri = "/" + self.rn, "//%s/%s" % (SP_ID, self.rn)

    def register(self, cert):
        return self.coaps(cert, "post", "/cse-in", self.mn_id, csr_body(self.mn_id, self.rn),
                          "?ty=16")

    def certtool_cert(self, name, *template):
        """A client certificate signed by the dev CA from a certtool template."""
        pki = os.path.join(self.cse.data_dir, "pki")
        base = os.path.join(self.cse.work, name)
        with open(base + ".tmpl", "w") as f:
            f.write("\n".join(("expiration_days = 30", "signing_key") + template) + "\n")
        for cmd in (["--generate-privkey", "--key-type", "ecdsa", "--outfile", base + ".key"],
                    ["--generate-certificate", "--load-privkey", base + ".key",
                     "--load-ca-certificate", os.path.join(pki, "ca.pem"),
                     "--load-ca-privkey", os.path.join(pki, "ca.key"),
                     "--template", base + ".tmpl", "--outfile", base + ".pem"]):
            p = subprocess.run([CERTTOOL] + cmd, capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr[-500:])
        return base + ".pem", base + ".key"

    def coaps(self, cert, method, path, origin, body=None, query=""):
        args = [COAP_CLIENT, "-B", "10", "-m", method, "-c", cert[0], "-j", cert[1],
                "-C", self.cse.ca_pem, "-O", "%d,%s" % (OPT_FR, origin),
                "-O", "%d,%s" % (OPT_RQI, self.uniq("rq"))]
        if body is not None:
            args += ["-t", "50", "-e", json.dumps(body)]
        args.append("coaps://%s:%d%s%s" % (HOST, self.sport, path, query))
        p = subprocess.run(args, capture_output=True, timeout=60)
        return p.stdout, p.stderr.decode("utf-8", "replace")

    def assert_coaps_refused(self, cert):
        before = self.cse.stderr_text().count("coaps: client certificate refused")
        out, err = self.register(cert)
        self.assertNotIn(b"m2m:csr", out, err)
        self.assertGreater(self.cse.stderr_text().count("coaps: client certificate refused"),
                           before, self.cse.diagnostics())
        r = self.cse.discover("/cse-in", ty=16)
        self.assertNotIn("cse-in/" + self.rn, m2mtest.uril(r), "a remoteCSE was created")

    def test_pki_issue_cert_binds_as_over_https(self):
        cert = self.cse.issue_cert(self.mn_uri, self.rn)
        out, err = self.register(cert)
        csr = json.loads(out)["m2m:csr"]
        self.assertEqual(csr["csi"], self.mn_id, err)
        # the same certificate over HTTPS is the same originator: it reads its remoteCSE
        r = self.cse.request("GET", "/cse-in/" + csr["rn"], origin=self.mn_id, tls=True,
                             cert=cert)
        self.ok(r, 2000)
        # and over CoAPS another CSE-ID is not what this certificate speaks for
        out, err = self.coaps(cert, "get", "/cse-in/" + csr["rn"], "/id-mn2")
        self.assertNotIn(b"m2m:csr", out, err)

    def test_certtool_client_cert_binds(self):
        # the control for the refusals below: the same recipe with clientAuth and clean SANs
        cert = self.certtool_cert("good", 'uri = "%s"' % self.mn_uri, 'cn = "%s"' % self.rn,
                                  "tls_www_client")
        out, err = self.register(cert)
        self.assertEqual(json.loads(out)["m2m:csr"]["csi"], self.mn_id, err)

    def test_server_auth_only_cert_refused(self):
        cert = self.certtool_cert("srvonly", 'uri = "%s"' % self.mn_uri, 'cn = "%s"' % self.rn,
                                  "tls_www_server")
        self.assert_coaps_refused(cert)
        # HTTPS refuses it too
        with self.assertRaises(Exception):
            self.cse.request("GET", "/cse-in", origin=self.mn_id, tls=True, cert=cert)

    def test_wildcard_san_cert_refused(self):
        cert = self.certtool_cert("wild", 'uri = "%s"' % self.mn_uri,
                                  'dns_name = "*.example.com"', 'cn = "%s"' % self.rn, "tls_www_client")
        self.assert_coaps_refused(cert)

    def test_wildcard_uri_cert_refused(self):
        cert = self.certtool_cert("wilduri", 'uri = "//%s/id-*"' % SP_ID, 'cn = "%s"' % self.rn,
                                  "tls_www_client")
        self.assert_coaps_refused(cert)


if __name__ == "__main__":
    m2mtest.main()
