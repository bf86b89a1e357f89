"""test_client_saef.py: the device client CLI with the credentials of the other SAEFs (TS-0003
8.2.2.1 PSK, RFC 7250 raw public keys) over HTTPS and CoAPS, against credentials registered with
`m2msec cred`. These need server features: each class checks for its feature first
(`m2msec cred --help`, `m2msec cse --help` naming --coaps) and is skipped while the feature is
absent; once it is present every case runs and a broken feature fails."""

import json
import os
import socket
import subprocess

import m2mtest
from m2mtest import HOST, Cse, CseTestCase
from test_client import ClientMixin, run_client

PSK_ID = "dev1@m2msec.example.com"
PSK_HEX = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
PSK_AE = "Cpsk1"
RPK_AE = "Crpk1"


def _help_text(*args):
    try:
        p = subprocess.run([m2mtest.BIN] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
    except OSError:
        return None, ""
    return p.returncode, p.stdout.decode("utf-8", "replace")


def have_cred_cli():
    rc, _ = _help_text("cred", "--help")
    return rc == 0


def have_coaps():
    rc, text = _help_text("cse", "--help")
    return rc == 0 and "--coaps" in text


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cred(data_dir, *args):
    p = subprocess.run([m2mtest.BIN, "cred"] + list(args) + ["--data-dir", data_dir],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise AssertionError("m2msec cred %s failed (%d): %s" % (
            " ".join(args), p.returncode, p.stderr.decode("utf-8", "replace")))


class SaefBase(ClientMixin, CseTestCase):
    """One CSE per class with a PSK and a raw public key registered before it starts."""

    feature = staticmethod(have_cred_cli)
    feature_name = "m2msec cred"
    extra_cse_args = ()

    @classmethod
    def setUpClass(cls):
        cls.cse = None
        if not cls.feature():
            return  # each test skips with the reason
        cls.coaps_port = free_udp_port()
        args = [a.replace("@COAPS@", "%s:%d" % (HOST, cls.coaps_port))
                for a in cls.extra_cse_args]
        cse = Cse(*args, start=False)
        cls.cse = cse
        os.makedirs(cse.data_dir, exist_ok=True)
        cls.rpk_key = os.path.join(cse.work, "rpk.key")
        cls.rpk_pub = os.path.join(cse.work, "rpk.pub.pem")
        cls.other_key = os.path.join(cse.work, "other.key")
        for k in (cls.rpk_key, cls.other_key):
            subprocess.run(["certtool", "--generate-privkey", "--ecc", "--curve", "secp256r1",
                            "--no-text", "--outfile", k], check=True, timeout=60,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["certtool", "--load-privkey", cls.rpk_key, "--pubkey-info",
                        "--outfile", cls.rpk_pub], check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cred(cse.data_dir, "add-psk", "--identity", PSK_ID, "--key-hex", PSK_HEX,
             "--bind", PSK_AE)
        cred(cse.data_dir, "add-rpk", "--pubkey", cls.rpk_pub, "--bind", RPK_AE)
        cse.start()

    def setUp(self):
        if self.cse is None:
            self.skipTest("server feature absent: %s" % self.feature_name)

    def url(self):
        return "https://%s:%d" % (HOST, self.cse.https_port)

    def psk_args(self, ident=PSK_ID, key=PSK_HEX):
        return ["--url", self.url(), "--psk-identity", ident, "--psk-hex", key]

    def rpk_args(self, key=None):
        return ["--url", self.url(), "--ca", self.cse.ca_pem, "--rpk-key", key or self.rpk_key]

    def register_and_la(self, base, origin):
        rn = "ae" + origin[1:].lower() + self.uniq()
        ae = self.ok_json(run_client(*base, "--from", origin, "register-ae", "Nsaef", rn), 2001,
                          "register-ae")
        self.assertEqual(ae.get("aei"), origin)
        parent = "/cse-in/" + rn
        self.ok_json(run_client(*base, "--from", origin, "create", parent, 3,
                                '{"m2m:cnt":{"rn":"c"}}'), 2001, "cnt")
        self.ok_json(run_client(*base, "--from", origin, "create", parent + "/c", 4,
                                '{"m2m:cin":{"con":"saef"}}'), 2001, "cin")
        la = self.ok_json(run_client(*base, "--from", origin, "retrieve", parent + "/c/la"),
                          2000, "la")
        self.assertEqual(la.get("con"), "saef")
        return parent

    def assert_tls_refused(self, res, what):
        out, err = self.assert_exit(res, 3, what)
        self.assertEqual(out, "", "%s: no application data may be printed" % what)
        self.assertIn("TLS", self.one_error_line(err))


class ClientPskRpkHttpsTest(SaefBase):

    def test_psk_register_container_la(self):
        parent = self.register_and_la(self.psk_args(), PSK_AE)
        # the association speaks for Cpsk1 only (TS-0003 8.2.2.1 / SPEC-MAP F6, B3)
        out, err = self.assert_exit(run_client(*self.psk_args(), "--from", "Cother",
                                               "retrieve", parent), 1, "impersonation")
        self.assertIn("RSC 4106", err)

    def test_psk_wrong_key_fails_handshake(self):
        bad = "ff" + PSK_HEX[2:]
        self.assert_tls_refused(run_client(*self.psk_args(key=bad), "--from", PSK_AE,
                                           "retrieve", "/cse-in"), "wrong key")

    def test_psk_unknown_identity_fails_handshake(self):
        self.assert_tls_refused(run_client(*self.psk_args(ident="nobody@m2msec.example.com"),
                                           "--from", PSK_AE, "retrieve", "/cse-in"),
                                "unknown identity")

    def test_psk_key_from_file(self):
        path = os.path.join(self.cse.work, "psk.hex")
        with open(path, "w") as f:
            f.write(PSK_HEX + "\n")
        os.chmod(path, 0o600)
        res = run_client("--url", self.url(), "--psk-identity", PSK_ID, "--psk-file", path,
                         "--from", PSK_AE, "retrieve", "/cse-in")
        self.assertNotEqual(res[0], 3, res[2])

    def test_rpk_register_container_la(self):
        self.register_and_la(self.rpk_args(), RPK_AE)

    def test_rpk_unknown_key_fails_handshake(self):
        self.assert_tls_refused(run_client(*self.rpk_args(self.other_key), "--from", RPK_AE,
                                           "retrieve", "/cse-in"), "unregistered raw key")

    def test_rpk_id_matches_registered_key(self):
        rc, out, err = run_client("--rpk-key", self.rpk_key, "rpk-id")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out.strip(), r"^ni:///sha-256;[A-Za-z0-9_-]{43}$")


class ClientCoapsTest(SaefBase):
    feature = staticmethod(lambda: have_cred_cli() and have_coaps())
    feature_name = "m2msec cred and m2msec cse --coaps"
    extra_cse_args = ("--coaps", "@COAPS@")

    def coaps_url(self):
        line = next((l for l in self.cse.stdout_lines if l.startswith("READY")), "")
        for tok in line.split():
            if tok.startswith("coaps="):
                return "coaps://" + tok[len("coaps="):]
        return "coaps://%s:%d" % (HOST, self.coaps_port)

    def test_coaps_psk_register_container_la_blockwise(self):
        base = ["--url", self.coaps_url(), "--psk-identity", PSK_ID, "--psk-hex", PSK_HEX]
        parent = self.register_and_la(base, PSK_AE)
        big = "x" * 3000  # over one CoAP block: TS-0008 blockwise transfer both ways
        self.ok_json(run_client(*base, "--from", PSK_AE, "create", parent + "/c", 4,
                                json.dumps({"m2m:cin": {"con": big}})), 2001, "big cin")
        la = self.ok_json(run_client(*base, "--from", PSK_AE, "retrieve", parent + "/c/la"),
                          2000)
        self.assertEqual(la.get("con"), big)

    def test_coaps_psk_wrong_key_fails(self):
        base = ["--url", self.coaps_url(), "--psk-identity", PSK_ID, "--psk-hex",
                "ff" + PSK_HEX[2:], "--timeout-ms", "5000"]
        rc, out, err = run_client(*base, "--from", PSK_AE, "retrieve", "/cse-in")
        self.assertEqual(rc, 3, err)
        self.assertEqual(out, "")


if __name__ == "__main__":
    m2mtest.main()
