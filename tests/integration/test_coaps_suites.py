"""test_coaps_suites.py: the DTLS 1.2 cipher suite TS-0003 10.2.2 mandates for PSK,
TLS_PSK_WITH_AES_128_CCM_8, is negotiated by an independent peer (gnutls-cli over UDP) with the
CSE's CoAPS listener; a wrong key does not complete the handshake."""

import shutil
import subprocess
import unittest

import m2mtest
from m2mtest import HOST, Cse
from test_coap import coap_ports

GNUTLS_CLI = shutil.which("gnutls-cli")
KEY = "000102030405060708090a0b0c0d0e0f"
IDENT = "dtls1@m2msec.example.com"
CCM8 = ("NORMAL:-VERS-ALL:+VERS-DTLS1.2:-CIPHER-ALL:+AES-128-CCM-8:-KX-ALL:+PSK:-MAC-ALL:+AEAD"
        ":-SIGN-ALL:+SIGN-ALL")


@unittest.skipIf(GNUTLS_CLI is None, "gnutls-cli not installed")
class DtlsSuiteTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.cse = Cse("--coaps", "%s:0" % HOST, start=False)
        p = subprocess.run([m2mtest.BIN, "cred", "add-psk", "--data-dir", cls.cse.data_dir,
                            "--identity", IDENT, "--key-hex", KEY, "--bind", "Cdtls1"],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        cls.cse.start()
        cls.port = coap_ports(cls.cse)[1]

    @classmethod
    def tearDownClass(cls):
        cls.cse.close(check=True)

    def handshake(self, key):
        p = subprocess.run([GNUTLS_CLI, "--udp", "-p", str(self.port), HOST, "--pskusername",
                            IDENT, "--pskkey", key, "--priority", CCM8],
                           input=b"", capture_output=True, timeout=20)
        return p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")

    def test_mandatory_ccm8_suite(self):
        out = self.handshake(KEY)
        self.assertIn("Handshake was completed", out)
        self.assertIn("(PSK)-(AES-128-CCM-8)", out)

    def test_wrong_key_fails(self):
        out = self.handshake("ff" * 16)
        self.assertNotIn("Handshake was completed", out)


if __name__ == "__main__":
    m2mtest.main()
