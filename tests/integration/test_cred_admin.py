"""test_cred_admin.py: credential administration through admin requests (SPEC-MAP F3-F8), the
virtual resource <CSEBase>/_cred: only the admin originator over an association that
authenticates it (an HTTPS client certificate bound to CAdmin) or a trusted listener; everyone
else 4103, audited. List/read never show key bytes; CREATE (ty=906) provisions PSKs, raw public
keys and Node-ID bindings (4105 when the name exists, 4000 malformed); DELETE revokes, and the
revoked PSK no longer completes a DTLS handshake."""

import base64
import json
import os
import shutil
import subprocess
import unittest

import m2mtest
from m2mtest import ADMIN, HOST, SP_ID, Cse, CseTestCase

TY = 906
COAP_CLIENT = shutil.which("coap-client-gnutls")
OPENSSL = shutil.which("openssl")
ADMIN_URI = "//%s/id-in/%s" % (SP_ID, ADMIN)


def psk_body(ident, key, *bind):
    return {"sec:cred": {"kind": "psk", "identity": ident,
                         "key": base64.b64encode(key).decode(), "bind": list(bind)}}


class CredAdminTest(CseTestCase):
    """Over HTTPS with the admin's client certificate (coap-client 4.3.1 refuses responses with
    critical options it does not know, so this server sends no oneM2M response options)."""

    cse_args = ("--set", "coap.response_options=false")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin_cert = cls.cse.issue_cert(ADMIN_URI, ADMIN, name="admin")

    def req(self, method, path, origin=ADMIN, cert="admin", **kw):
        c = self.admin_cert if cert == "admin" else cert
        return self.cse.request(method, path, origin=origin, tls=True, cert=c, **kw)

    def audit(self):
        path = os.path.join(self.cse.data_dir, "audit.log")
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip()]

    def create_psk(self, stem, key=None, bind=None):
        ident = "%s@m2msec.example.com" % stem
        key = key or os.urandom(16)
        r = self.req("POST", "/cse-in/_cred", ty=TY, body=psk_body(ident, key, bind or "C" + stem))
        return ident, key, r

    def test_create_read_list_revoke_psk(self):
        stem = self.uniq("dev").lower()
        ident, key, r = self.create_psk(stem)
        self.assertRsc(r, 2001)
        cred = r.json["sec:cred"]
        self.assertEqual(cred["credID"], "12-" + ident)
        self.assertEqual(cred["kind"], "psk")
        self.assertEqual(cred["keyLen"], 16)
        self.assertFalse(cred["revoked"])
        self.assertEqual(cred["bind"], ["C" + stem])
        self.assertIn("_cred/12-" + ident, r.headers.get("content-location", ""))
        b64 = base64.b64encode(key).decode()
        self.assertNotIn(b64.encode(), r.raw)
        # one by Credential-ID and by name; the list
        for ref in ("12-" + ident, ident):
            r = self.req("GET", "/cse-in/_cred/" + ref)
            self.assertRsc(r, 2000)
            self.assertEqual(r.json["sec:cred"]["credID"], "12-" + ident)
        r = self.req("GET", "/cse-in/_cred")
        self.assertRsc(r, 2000)
        ids = [c["credID"] for c in r.json["m2m:credl"]]
        self.assertIn("12-" + ident, ids)
        self.assertNotIn(b64.encode(), r.raw)
        self.assertNotIn(key.hex().encode(), r.raw)
        # revoke: 2002, then shown revoked with no key; revoking twice is fine
        r = self.req("DELETE", "/cse-in/_cred/12-" + ident)
        self.assertRsc(r, 2002)
        r = self.req("GET", "/cse-in/_cred/" + ident)
        self.assertTrue(r.json["sec:cred"]["revoked"])
        self.assertEqual(r.json["sec:cred"]["keyLen"], 0)
        self.assertIn("revokedAt", r.json["sec:cred"])
        self.assertRsc(self.req("DELETE", "/cse-in/_cred/" + ident), 2002)
        # audited by Credential-ID, the key nowhere in the audit log or the server log
        events = [(e["event"], e["target"]) for e in self.audit()]
        self.assertIn(("cred-create", "12-" + ident), events)
        self.assertIn(("cred-revoke", "12-" + ident), events)
        with open(os.path.join(self.cse.data_dir, "audit.log"), "rb") as f:
            log = f.read() + self.cse.stderr_text().encode()
        self.assertNotIn(b64.encode(), log)
        self.assertNotIn(key.hex().encode(), log)

    def test_same_name_again_is_4105(self):
        stem = self.uniq("dup").lower()
        ident, key, r = self.create_psk(stem)
        self.assertRsc(r, 2001)
        self.assertRsc(self.create_psk(stem)[2], 4105)
        self.req("DELETE", "/cse-in/_cred/" + ident)
        self.assertRsc(self.create_psk(stem)[2], 4105)  # never provisioned again once revoked

    def test_reference_prefers_credential_id_over_name(self):
        # the KpsaID "12-<x>" is the name of one credential and the Credential-ID of "<x>":
        # a reference means the Credential-ID, and revoking either leaves the other alone
        for first in ("plain", "prefixed"):
            stem = self.uniq("amb").lower()
            ident, _, r = self.create_psk(stem)
            self.assertRsc(r, 2001)
            other, _, r = self.create_psk("12-" + stem, bind="C" + stem + "x")
            self.assertRsc(r, 2001)
            self.assertEqual(r.json["sec:cred"]["credID"], "12-12-" + ident)
            r = self.req("GET", "/cse-in/_cred/12-" + ident)
            self.assertRsc(r, 2000)
            self.assertEqual(r.json["sec:cred"]["credID"], "12-" + ident)
            target, bystander = ("12-" + ident, "12-12-" + ident)
            if first == "prefixed":
                target, bystander = bystander, target
            self.assertRsc(self.req("DELETE", "/cse-in/_cred/" + target), 2002)
            self.assertTrue(self.req("GET", "/cse-in/_cred/" + target).json["sec:cred"]["revoked"])
            r = self.req("GET", "/cse-in/_cred/" + bystander)
            self.assertRsc(r, 2000)
            self.assertEqual(r.json["sec:cred"]["credID"], bystander)
            self.assertFalse(r.json["sec:cred"]["revoked"], first)
            self.assertGreater(r.json["sec:cred"]["keyLen"], 0)
            # a name finds its credential unless it spells a Credential-ID
            r = self.req("GET", "/cse-in/_cred/" + ident)
            self.assertEqual(r.json["sec:cred"]["credID"], "12-" + ident)
            r = self.req("GET", "/cse-in/_cred/" + other)
            self.assertEqual(r.json["sec:cred"]["credID"], "12-" + ident)

    def test_malformed_bodies_are_4000(self):
        stem = self.uniq("bad").lower()
        ident = "%s@m2msec.example.com" % stem
        bodies = [
            b"not json",
            {"m2m:cnt": {}},
            {"sec:cred": {"kind": "psk", "identity": ident, "key": "***", "bind": ["Cx"]}},
            {"sec:cred": {"kind": "psk", "identity": ident, "key": "AAAA", "bind": ["Cx"]}},
            {"sec:cred": {"kind": "psk", "identity": "no-at-sign", "key":
                          base64.b64encode(b"k" * 16).decode(), "bind": ["Cx"]}},
            {"sec:cred": {"kind": "psk", "identity": ident, "key":
                          base64.b64encode(b"k" * 16).decode(), "bind": []}},
            {"sec:cred": {"kind": "psk", "identity": ident, "key":
                          base64.b64encode(b"k" * 16).decode(), "bind": ["C*"]}},
            {"sec:cred": {"kind": "rpk", "spki": base64.b64encode(b"junk").decode(),
                          "bind": ["Cx"]}},
            {"sec:cred": {"kind": "node", "urn": "not-a-urn", "bind": ["Cx"]}},
            {"sec:cred": {"kind": "magic", "bind": ["Cx"]}},
        ]
        for b in bodies:
            r = self.req("POST", "/cse-in/_cred", ty=TY, body=b)
            self.assertRsc(r, 4000)
        r = self.req("GET", "/cse-in/_cred/" + ident)
        self.assertRsc(r, 4004)

    def test_wrong_type_and_operations(self):
        stem = self.uniq("op").lower()
        r = self.req("POST", "/cse-in/_cred", ty=3,
                     body=psk_body(stem + "@m2msec.example.com", b"k" * 16, "Cx"))
        self.assertRsc(r, 4108)
        self.assertRsc(self.req("PUT", "/cse-in/_cred", body={"sec:cred": {}}), 4005)
        self.assertRsc(self.req("DELETE", "/cse-in/_cred"), 4005)
        self.assertRsc(self.req("POST", "/cse-in/_cred/x", ty=TY, body={}), 4005)
        self.assertRsc(self.req("GET", "/cse-in/_cred/nothing@m2msec.example.com"), 4004)
        self.assertRsc(self.req("DELETE", "/cse-in/_cred/nothing@m2msec.example.com"), 4004)
        self.assertRsc(self.req("GET", "/cse-in/_cred/@!!"), 4000)

    def test_node_binding_and_spelling_of_the_target(self):
        urn = "urn:dev:ops:%s" % self.uniq("n")
        r = self.req("POST", "/~/id-in/cse-in/_cred", ty=TY,
                     body={"sec:cred": {"kind": "node", "urn": urn, "bind": ["Cn1", "Cn2"]}})
        self.assertRsc(r, 2001)
        self.assertEqual(r.json["sec:cred"]["credID"], "34-" + urn)
        self.assertEqual(r.json["sec:cred"]["bind"], ["Cn1", "Cn2"])
        r = self.req("GET", "/-/_cred/34-" + urn)
        self.assertRsc(r, 2000)
        self.assertEqual(r.json["sec:cred"]["kind"], "node")

    @unittest.skipIf(OPENSSL is None, "openssl not installed")
    def test_raw_public_key_by_path_safe_ref(self):
        key = os.path.join(self.cse.work, "rpk.key")
        subprocess.run([OPENSSL, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out",
                        key], check=True, capture_output=True)
        der = subprocess.run([OPENSSL, "ec", "-in", key, "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        r = self.req("POST", "/cse-in/_cred", ty=TY,
                     body={"sec:cred": {"kind": "rpk", "spki": base64.b64encode(der).decode(),
                                        "bind": ["Crpk1"]}})
        self.assertRsc(r, 2001)
        cred = r.json["sec:cred"]
        self.assertTrue(cred["credID"].startswith("30-ni:///sha-256;"))
        self.assertTrue(cred["ref"].startswith("@"))
        self.assertNotIn("/", cred["ref"])
        r = self.req("GET", "/cse-in/_cred/" + cred["ref"])
        self.assertRsc(r, 2000)
        self.assertEqual(r.json["sec:cred"]["credID"], cred["credID"])
        self.assertRsc(self.req("DELETE", "/cse-in/_cred/" + cred["ref"]), 2002)

    def test_non_admin_refused_and_audited(self):
        ae, _, _ = self.new_ae()
        r = self.cse.request("GET", "/cse-in/_cred", origin=ae)
        self.assertRsc(r, 4103)
        # an AE with its own certificate, authenticated but not the admin
        cert = self.cse.issue_cert("//%s/id-in/%s" % (SP_ID, ae), ae, name="ae" + ae)
        r = self.req("GET", "/cse-in/_cred", origin=ae, cert=cert)
        self.assertRsc(r, 4103)
        stem = self.uniq("evil").lower()
        r = self.req("POST", "/cse-in/_cred", origin=ae, cert=cert, ty=TY,
                     body=psk_body(stem + "@m2msec.example.com", b"e" * 16, ae))
        self.assertRsc(r, 4103)
        denies = [e for e in self.audit() if e["event"] == "decision" and
                  e["target"].startswith("_cred") and e["decision"] == "deny"]
        self.assertTrue(any(e["originator"].endswith("/" + ae) and e["reason"] == "not-admin"
                            for e in denies), denies)
        r = self.req("GET", "/cse-in/_cred/12-%s@m2msec.example.com" % stem)
        self.assertRsc(r, 4004)  # nothing was stored

    def test_admin_without_authentication_refused(self):
        # plain HTTP, untrusted listener: the admin originator alone is not enough
        r = self.cse.request("GET", "/cse-in/_cred", origin=ADMIN)
        self.assertRsc(r, 4103)
        # HTTPS without a client certificate: the same
        r = self.cse.request("GET", "/cse-in/_cred", origin=ADMIN, tls=True)
        self.assertRsc(r, 4103)
        stem = self.uniq("anon").lower()
        r = self.cse.request("POST", "/cse-in/_cred", origin=ADMIN, ty=TY,
                             body=psk_body(stem + "@m2msec.example.com", b"a" * 16, "Cx"))
        self.assertRsc(r, 4103)
        self.assertTrue(any(e["event"] == "decision" and e["reason"] == "not-authenticated"
                            and e["target"] == "_cred" for e in self.audit()))

    @unittest.skipIf(COAP_CLIENT is None, "coap-client-gnutls not installed")
    def test_provisioned_psk_works_over_coaps_until_revoked(self):
        from test_coap import coap_ports, OPT_FR, OPT_RQI
        stem = self.uniq("cp").lower()
        aei = "C" + stem
        ident, key, r = self.create_psk(stem, key=b"p" * 16, bind=aei)
        self.assertRsc(r, 2001)
        sport = coap_ports(self.cse)[1]

        def get():
            p = subprocess.run([COAP_CLIENT, "-B", "5", "-u", ident, "-k", key.decode(), "-m",
                                "get", "-O", "%d,%s" % (OPT_FR, ADMIN), "-O", "%d,c1" % OPT_RQI,
                                "coaps://%s:%d/cse-in" % (HOST, sport)],
                               capture_output=True, timeout=30)
            return p.stdout + p.stderr
        # the association is bound to the AE: CAdmin over it is refused (the handshake worked)
        self.assertIn(b"4.03", get())
        self.assertRsc(self.req("DELETE", "/cse-in/_cred/" + ident), 2002)
        out = get()
        self.assertNotIn(b"4.03", out)  # no handshake any more, so no CoAP answer at all


class CredAdminTrustedListenerTest(CseTestCase):
    """A listener configured trusted authenticates the admin originator without TLS."""

    cse_args = ("--set", "http.trusted=true")

    def test_trusted_listener_admin(self):
        stem = self.uniq("tr").lower()
        r = self.cse.request("POST", "/cse-in/_cred", origin=ADMIN, ty=TY,
                             body=psk_body(stem + "@m2msec.example.com", b"t" * 32, "Ctr"))
        self.assertRsc(r, 2001)
        self.assertEqual(r.json["sec:cred"]["keyLen"], 32)
        r = self.cse.request("GET", "/cse-in/_cred", origin=ADMIN)
        self.assertRsc(r, 2000)
        # the CLI sees what the admin request wrote (one database)
        p = subprocess.run([m2mtest.BIN, "cred", "list", "--data-dir", self.cse.data_dir],
                           capture_output=True, text=True, timeout=30)
        self.assertIn("12-%s@m2msec.example.com" % stem, p.stdout + p.stderr)
        # still only for the admin
        ae, _, _ = self.new_ae()
        self.assertRsc(self.cse.request("GET", "/cse-in/_cred", origin=ae), 4103)


if __name__ == "__main__":
    m2mtest.main()
