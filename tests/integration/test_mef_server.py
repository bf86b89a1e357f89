"""test_mef_server.py: the MEF process `m2msec mef serve` (TS-0003 8.3, SPEC-MAP G1-G10,
docs/MEF.md) as a black box: the MEF Handshake with TLS-PSK (openssl s_client, gnutls-cli) and
certificates (python ssl), the enrolment key equal to the client's own RFC 5705 exporter output,
fetchCredentials with the 10.3.7 derivation recomputed here, client registration, commands, key
registration, EST, and every error row of the MEF.md tables."""

import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import time
import unittest

import m2mtest
from m2mtest import HOST, MEF_FQDN, Mef, mef_http

KEY1 = "00112233445566778899aabbccddeeff"
KEY_T = "0f0e0d0c0b0a09080706050403020100"
KEY_P = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
KEY_WRONG = "00112233445566778899aabbccddeefe"
KPM1 = "dev1@" + MEF_FQDN
KPM_T = "in@" + MEF_FQDN
KPM_P = "peer@" + MEF_FQDN
TARGET_FQDN = "in.m2msec.test"
ADMIN_FQDN = "sp.m2msec.test"
MANDATORY = ("-tls1_2", "-cipher", "PSK-AES128-CBC-SHA256")
AE9 = "//m2msec.example.com/id-in/Cae9"
REVOKE_SEEN = {}  # which refusal test_54 saw, printed at the end
LABEL_USAGE = b"oneM2M Enrolment Key to Usage-Constrained Symmetric Key derivation"


class MefServerTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        for tool in ("openssl", "gnutls-cli"):
            if shutil.which(tool) is None:
                raise AssertionError("%s is required" % tool)
        cls.mef = Mef("--set", "mef.admin_fqdns=%s,sp2.m2msec.test" % ADMIN_FQDN)
        cls.mef.add_kpm(KPM1, KEY1, "Cdev1")
        cls.mef.add_kpm(KPM_T, KEY_T, "/id-in")
        cls.mef.add_kpm(KPM_P, KEY_P, "/id-in/Cpeer")
        cls.mef.admin("add-target", "--id", "/id-in", "--fqdn", TARGET_FQDN)
        cls.mef.admin("add-target", "--id", "/id-in/Cpeer", "--fqdn", "peer.m2msec.test")
        cls.mef.admin("allow", "--enrolee", "Cdev1", "--target", "/id-in", "--suid", "22")

    @classmethod
    def tearDownClass(cls):
        cls.mef.close()

    # -- helpers ---------------------------------------------------------------------------
    def psk(self, data, kpm=KPM1, key=KEY1, opts=MANDATORY, export=None):
        return self.mef.openssl_psk(data, kpm, key, *opts, export=export)

    def one(self, rs):
        self.assertEqual(len(rs), 1, rs)
        st, h, body = rs[0]
        return int(h.get("x-m2m-rsc", "0")), (json.loads(body) if body else None), h

    def call(self, method, path, origin="Cdev1", body=None, ty=None, kpm=KPM1, key=KEY1):
        out, rs, _ = self.psk(mef_http(method, path, origin, body, ty), kpm, key)
        return self.one(rs)

    def enrol(self, opts=MANDATORY):
        out, rs, km = self.psk(mef_http("POST", "/mef", "Cdev1", {"sec:enr": {}}, 905),
                               opts=opts, export="EXPORTER-oneM2M-Bootstrap")
        rsc, j, h = self.one(rs)
        self.assertEqual(rsc, 2001, out[-600:])
        self.assertIsNotNone(km, "openssl printed no keying material")
        return j["sec:enr"], km, h

    def cert_request(self, cert, method, path, origin, body=None, ty=None):
        return self.mef.request(method, path, origin=origin, body=body, ty=ty, tls=True,
                                cert=cert)

    def assert_no_app_data(self, out):
        self.assertNotIn(b"HTTP/1.1", out, "application data after a failed handshake")

    # -- handshake and MEFBase -------------------------------------------------------------
    def test_01_mefbase_over_psk_mandatory_suite_and_tls13(self):
        for opts in (MANDATORY, ("-tls1_2", "-cipher", "ECDHE-PSK-AES128-CBC-SHA256"),
                     ("-tls1_3",)):
            rsc, j, h = self.call("GET", "/mef") if opts == MANDATORY else self.one(
                self.psk(mef_http("GET", "/mef", "Cdev1"), opts=opts)[1])
            self.assertEqual(rsc, 2000, opts)
            b = j["sec:mefb"]
            self.assertEqual((b["ri"], b["ty"], b["fqdn"]), ("mef", 901, MEF_FQDN))
            self.assertEqual(b["estBaseURI"],
                             "https://%s:%d/.well-known/est" % (MEF_FQDN, self.mef.port))

    def test_02_gnutls_cli_psk(self):
        prio = "NORMAL:-VERS-TLS1.3:-KX-ALL:+PSK:-CIPHER-ALL:+AES-128-CBC:-MAC-ALL:+SHA256"
        for p in (prio, "NORMAL:-KX-ALL:+PSK"):
            out, rs = self.mef.gnutls_psk(mef_http("GET", "/mef", "Cdev1"), KPM1, KEY1, p)
            self.assertEqual(self.one(rs)[0], 2000, (p, out[-300:]))

    def test_03_wrong_kpm_and_unknown_kpmid_fail_in_handshake(self):
        data = mef_http("GET", "/mef", "Cdev1")
        for kpm, key in ((KPM1, KEY_WRONG), ("nobody@" + MEF_FQDN, KEY1)):
            out, rs, _ = self.psk(data, kpm, key)
            self.assert_no_app_data(out)
            self.assertEqual(rs, [])

    def test_04_from_must_be_the_authenticated_identity(self):
        self.assertEqual(self.call("GET", "/mef", origin="Cdev2")[0], 4106)
        self.assertEqual(self.call("GET", "/mef", origin=None)[0], 4106)
        self.assertEqual(self.call("GET", "/mef", origin="/id-in")[0], 4106)

    def test_05_certificate_clients(self):
        cert = self.mef.issue_cert("//m2msec.example.com/id-mn", "id-mn")
        r = self.cert_request(cert, "GET", "/mef", "//m2msec.example.com/id-mn")
        self.assertEqual((r.status, r.rsc), (200, 2000), r.describe())
        r = self.cert_request(cert, "GET", "/mef", "Cdev1")
        self.assertEqual(r.rsc, 4106)
        # no client credential at all: 4103
        r = self.cert_request(None, "GET", "/mef", "Cdev1")
        self.assertEqual(r.rsc, 4103, r.describe())

    def test_06_certificate_of_another_ca_fails_in_handshake(self):
        other = Mef(start=False)
        cert = other.issue_cert("Cforeign", "Cforeign")
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            self.cert_request(cert, "GET", "/mef", "Cforeign")

    # -- enrolment (G3) --------------------------------------------------------------------
    def test_10_enrolment_keid_equals_the_clients_exporter(self):
        for opts in (MANDATORY, ("-tls1_3",)):
            enr, km, h = self.enrol(opts)
            rel = km[:16].hex().upper()
            self.assertEqual(enr["keID"], "%s@%s" % (rel, MEF_FQDN), opts)
            self.assertEqual((enr["ri"], enr["rn"], enr["pi"], enr["ty"]), (rel, rel, "mef", 905))
            self.assertEqual(enr["enroleeID"], "Cdev1")
            self.assertEqual(h["content-location"], "/mef/" + rel)
            self.assertEqual(enr["targets"],
                             [{"targetID": "/id-in", "fqdn": TARGET_FQDN, "SUID": 22}])
            self.assertNotIn(km[16:].hex().upper(), json.dumps(enr).upper())

    def test_11_second_enrolment_on_one_session_is_4105(self):
        data = (mef_http("POST", "/mef", "Cdev1", {"sec:enr": {}}, 905, keep_alive=True) +
                mef_http("POST", "/mef", "Cdev1", {"sec:enr": {}}, 905))
        out, rs, _ = self.psk(data)
        self.assertEqual([int(h["x-m2m-rsc"]) for _, h, _ in rs], [2001, 4105])

    def test_11b_no_enrolment_without_extended_master_secret(self):
        """RFC 7627 / RFC 9266 3: a TLS 1.2 session without the extended master secret gets no
        enrolment (its exporter output is not bound to it): 4103, nothing stored; the same
        session may still read MEFBase."""
        before = self.mef.admin("list", "--enrolments").stdout
        prio = "NORMAL:-VERS-TLS1.3:-KX-ALL:+PSK:%NO_SESSION_HASH"
        data = (mef_http("GET", "/mef", "Cdev1", keep_alive=True) +
                mef_http("POST", "/mef", "Cdev1", {"sec:enr": {}}, 905))
        out, rs = self.mef.gnutls_psk(data, KPM1, KEY1, prio)
        self.assertEqual([int(h["x-m2m-rsc"]) for _, h, _ in rs], [2000, 4103], out[-600:])
        self.assertIn(b"extended master secret", rs[1][2])
        self.assertEqual(self.mef.admin("list", "--enrolments").stdout, before)

    def test_11c_no_key_registration_without_extended_master_secret(self):
        """Review finding 7: a key registration from the exporter on a session without the
        extended master secret is the client's refusal, 4103, like the enrolment; nothing is
        stored."""
        before = self.mef.admin("list", "--keys").stdout
        prio = "NORMAL:-VERS-TLS1.3:-KX-ALL:+PSK:%NO_SESSION_HASH"
        body = {"sec:mkr": {"fqdn": MEF_FQDN, "adminFQDN": ADMIN_FQDN, "SUID": 22,
                            "targetIDs": ["/id-in"]}}
        out, rs = self.mef.gnutls_psk(mef_http("POST", "/mef", "Cdev1", body, 904), KPM1, KEY1,
                                      prio)
        self.assertEqual([int(h["x-m2m-rsc"]) for _, h, _ in rs], [4103], out[-600:])
        self.assertIn(b"extended master secret", rs[0][2])
        self.assertEqual(self.mef.admin("list", "--keys").stdout, before)

    def test_11d_revoking_a_kpm_ends_its_enrolments(self):
        """Review finding 8: what a Kpm obtained ends with it: its enrolment is marked deleted
        (fetchCredentials then 4004) while another Kpm's enrolment stays."""
        kpm, key = "rev@" + MEF_FQDN, "1111111111111111111111111111aaaa"
        self.mef.add_kpm(kpm, key, "Cdev1")
        out, rs, _ = self.psk(mef_http("POST", "/mef", "Cdev1", {"sec:enr": {}}, 905), kpm, key)
        rsc, j, _ = self.one(rs)
        self.assertEqual(rsc, 2001, out[-600:])
        mine = j["sec:enr"]["ri"]
        other = self.enrol()[0]["ri"]
        self.mef.admin("revoke", kpm)
        listing = self.mef.admin("list", "--enrolments").stdout
        self.assertRegex(listing, r"(?m)^%s\tCdev1\t\d+\tdeleted$" % mine)
        self.assertRegex(listing, r"(?m)^%s\tCdev1\t\d+\tactive$" % other)
        rsc, _, _ = self.call("GET", "/fetchCredentials/%s@%s/22" % (mine, MEF_FQDN), "/id-in",
                              kpm=KPM_T, key=KEY_T)
        self.assertEqual(rsc, 4004)

    def test_12_enrolment_body_errors(self):
        for body in ({"sec:enr": {"ke": "x"}}, {"sec:mcr": {}}, b"not json",
                     {"sec:enr": {"et": "2020"}}, {"sec:enr": {"et": "20200101T000000"}}):
            out, rs, _ = self.psk(mef_http("POST", "/mef", "Cdev1", body, 905))
            self.assertEqual(self.one(rs)[0], 4000, body)
        # a requested et may only shorten the enrolment
        et = m2mtest.utc_ts(3600)
        out, rs, _ = self.psk(mef_http("POST", "/mef", "Cdev1", {"sec:enr": {"et": et}}, 905))
        rsc, j, _ = self.one(rs)
        self.assertEqual((rsc, j["sec:enr"]["et"]), (2001, et))
        out, rs, _ = self.psk(mef_http("POST", "/mef", "Cdev1", {"sec:enr": {}}, 999))
        self.assertEqual(self.one(rs)[0], 4000)

    def test_13_enrolment_retrieve_delete_and_denials(self):
        enr, km, _ = self.enrol()
        path = "/mef/" + enr["ri"]
        rsc, j, _ = self.call("GET", path)
        self.assertEqual((rsc, j["sec:enr"]["keID"]), (2000, enr["keID"]))
        self.assertEqual(self.call("GET", "/" + enr["ri"])[0], 2000)  # unstructured
        self.assertEqual(self.call("GET", path, "/id-in/Cpeer", kpm=KPM_P, key=KEY_P)[0], 4103)
        self.assertEqual(self.call("PUT", path, body={"sec:enr": {}})[0], 4005)
        self.assertEqual(self.call("GET", "/mef/" + "0" * 32)[0], 4004)
        self.assertEqual(self.call("GET", "/mef/nothing")[0], 4004)
        self.assertEqual(self.call("DELETE", path, "/id-in/Cpeer", kpm=KPM_P, key=KEY_P)[0], 4103)
        self.assertEqual(self.call("DELETE", path)[0], 2002)
        self.assertEqual(self.call("GET", path)[0], 4004)
        self.assertEqual(self.call("DELETE", "/mef")[0], 4005)

    # -- fetchCredentials (G5) -------------------------------------------------------------
    def fetch(self, keid, suid, origin="/id-in", kpm=KPM_T, key=KEY_T):
        return self.call("GET", "/fetchCredentials/%s/%s" % (keid, suid), origin, kpm=kpm,
                         key=key)

    def test_20_fetch_credentials_derivation(self):
        enr, km, _ = self.enrol()
        rsc, j, _ = self.fetch(enr["keID"], 22)
        self.assertEqual(rsc, 2000, j)
        f = j["sec:fcr"]
        want = hmac.new(km[16:48], LABEL_USAGE + b"22" + TARGET_FQDN.encode(),
                        hashlib.sha256).digest()
        self.assertEqual(base64.b64decode(f["credential"]), want)
        self.assertEqual((f["status"], f["enroleeID"], f["et"]), (True, "Cdev1", enr["et"]))
        self.assertTrue(0 < f["lifetime"] <= 86400)
        # lower-case hex of the KeID names the same enrolment
        rel, _, fq = enr["keID"].partition("@")
        self.assertEqual(self.fetch(rel.lower() + "@" + fq, 22)[0], 2000)

    def test_21_fetch_credentials_error_rows(self):
        enr, km, _ = self.enrol()
        keid = enr["keID"]
        rel = keid.split("@")[0]
        cases = [
            (("XYZ@" + MEF_FQDN, 22), 4000), ((rel + "@other.example", 22), 4000),
            ((keid, 20), 4000), ((keid, "x"), 4000), ((keid, "022"), 4000),
            (("0" * 32 + "@" + MEF_FQDN, 22), 4004), ((keid, 23), 4103),
        ]
        for (k, s), code in cases:
            rsc, j, _ = self.fetch(k, s)
            self.assertEqual(rsc, code, (k, s, j))
            self.assertEqual(j["sec:fcr"]["status"], False)
            self.assertIn("errorString", j["sec:fcr"])
        # a client that is not a registered target; a target not allowed for this enrolee
        self.assertEqual(self.fetch(keid, 22, "Cdev1", KPM1, KEY1)[0], 4103)
        self.assertEqual(self.fetch(keid, 22, "/id-in/Cpeer", KPM_P, KEY_P)[0], 4103)
        self.assertEqual(self.fetch(keid, 22, "/id-in/Cpeer")[0], 4106)
        self.assertEqual(self.call("DELETE", "/fetchCredentials/%s/22" % keid, "/id-in",
                                   kpm=KPM_T, key=KEY_T)[0], 4005)
        self.assertEqual(self.call("DELETE", "/mef/" + rel)[0], 2002)
        self.assertEqual(self.fetch(keid, 22)[0], 4004)

    # -- client registration (8.3.5.2.3-6) and commands (8.3.9) ----------------------------
    def register(self, admin=ADMIN_FQDN, origin="Cdev1", kpm=KPM1, key=KEY1, **extra):
        body = {"sec:mcr": dict({"fqdn": MEF_FQDN, "adminFQDN": admin}, **extra)}
        return self.call("POST", "/mef", origin, body, 902, kpm, key)

    def test_30_client_registration_crud(self):
        et = m2mtest.utc_ts(86400)
        rsc, j, _ = self.register("sp2.m2msec.test", et=et, lbl=["factory-7"])
        self.assertEqual(rsc, 2001, j)
        r = j["sec:mcr"]
        self.assertRegex(r["ri"], r"^mcr[0-9A-F]{16}$")
        self.assertEqual((r["mefClientID"], r["et"], r["lbl"], r["ty"]),
                         ("Cdev1", et, ["factory-7"], 902))
        path = "/mef/" + r["ri"]
        self.assertEqual(self.register("sp2.m2msec.test")[0], 4105)  # same client+admin
        rsc, j, _ = self.call("GET", path)
        self.assertEqual((rsc, j["sec:mcr"]["adminFQDN"]), (2000, "sp2.m2msec.test"))
        self.assertEqual(self.call("GET", path, "/id-in", kpm=KPM_T, key=KEY_T)[0], 4103)
        rsc, j, _ = self.call("PUT", path, body={"sec:mcr": {"lbl": ["a", "b"]}})
        self.assertEqual((rsc, j), (2004, {"sec:mcr": {"lbl": ["a", "b"]}}))
        for bad in ({"sec:mcr": {}}, {"sec:mcr": {"adminFQDN": "x.y"}}, {"sec:mcr": {"q": 1}}):
            self.assertEqual(self.call("PUT", path, body=bad)[0], 4000, bad)
        self.assertEqual(self.call("PUT", path, "/id-in", {"sec:mcr": {"lbl": []}}, None, KPM_T,
                                   KEY_T)[0], 4103)
        self.assertEqual(self.call("DELETE", path)[0], 2002)
        self.assertEqual(self.call("GET", path)[0], 4004)
        self.assertEqual(self.call("DELETE", path)[0], 4004)

    def test_31_client_registration_error_rows(self):
        self.assertEqual(self.register("other.example")[0], 4103)  # not in mef.admin_fqdns
        body = {"sec:mcr": {"fqdn": "mef.other.example", "adminFQDN": ADMIN_FQDN}}
        self.assertEqual(self.call("POST", "/mef", body=body, ty=902)[0], 4000)
        self.assertEqual(self.call("POST", "/mef", body={"sec:mcr": {"fqdn": MEF_FQDN}},
                                   ty=902)[0], 4000)
        self.assertEqual(self.register(x=1)[0], 4000)
        self.assertEqual(self.register(et="20200101T000000")[0], 4000)
        # the MEF shortens an et beyond mef.registration_max
        rsc, j, _ = self.register(origin="/id-in", kpm=KPM_T, key=KEY_T, et="29991231T000000")
        self.assertEqual(rsc, 2001)
        self.assertLess(j["sec:mcr"]["et"], "2999")

    def test_32_commands_issued_reissued_reported(self):
        rsc, j, _ = self.register(origin="/id-in/Cpeer", kpm=KPM_P, key=KEY_P)
        self.assertEqual(rsc, 2001)
        reg = "/mef/%s/cmd" % j["sec:mcr"]["ri"]
        p = self.mef.admin("cmd", "add", "--client", "/id-in/Cpeer", "--class", "CERT_PROV",
                           "--subject-type", "3", "--subject-id", "Cpeer2")
        cid = p.stdout.split()[1]
        get = lambda: self.call("GET", reg, "/id-in/Cpeer", kpm=KPM_P, key=KEY_P)
        put = lambda b: self.call("PUT", reg, "/id-in/Cpeer", b, kpm=KPM_P, key=KEY_P)
        rsc, j, _ = get()
        c = j["sec:mcc"]
        self.assertEqual((rsc, c["cmdID"], c["cmdStatusCode"]), (2000, cid, 10))
        args = c["cmdDescription"]["cmdArgs"]["certProvCmdArgs"]
        self.assertEqual((c["cmdDescription"]["cmdClassID"], args["certSubjectID"],
                          args["certProvProtocolID"]), (1, "Cpeer2", 1))
        self.assertEqual(get()[1]["sec:mcc"]["cmdStatusCode"], 11)
        self.assertEqual(put({"sec:mcc": {"cmdID": cid}})[0], 4000)
        self.assertEqual(put({"sec:mcc": {"cmdID": cid, "cmdStatusCode": "20"}})[0], 4000)
        rsc, j, _ = put({"sec:mcc": {"cmdID": cid, "cmdStatusCode": 20}})
        c = j["sec:mcc"]
        self.assertEqual((rsc, c["cmdDescription"]["cmdClassID"], c["cmdStatusCode"]),
                         (2004, 0, 10))
        self.assertEqual(c["cmdDescription"]["cmdArgs"],
                         {"noMoreCmdArgs": {"retryDuration": "PT1H"}})
        self.assertNotEqual(c["cmdID"], cid)
        rsc, j, _ = put({"sec:mcc": {"cmdID": "999999", "cmdStatusCode": 20}})  # ignored
        self.assertEqual((rsc, j["sec:mcc"]["cmdDescription"]["cmdClassID"]), (2004, 0))
        listing = self.mef.admin("list", "--commands").stdout
        self.assertRegex(listing, r"(?m)^%s\t/id-in/Cpeer\t1\treported\t20$" % cid)
        self.assertEqual(self.call("GET", reg)[0], 4103)  # another client
        self.assertEqual(self.call("DELETE", reg, "/id-in/Cpeer", kpm=KPM_P, key=KEY_P)[0],
                         4005)

    def test_33_polling_an_empty_queue_does_not_grow_the_store(self):
        """Review finding 2: every NO_MORE_COMMANDS answer to a client reuses one row."""
        kpm, key = "poll@" + MEF_FQDN, "2222222222222222222222222222bbbb"
        self.mef.add_kpm(kpm, key, "/id-in/Cpoll")
        rsc, j, _ = self.register(origin="/id-in/Cpoll", kpm=kpm, key=key)
        self.assertEqual(rsc, 2001, j)
        reg = "/mef/%s/cmd" % j["sec:mcr"]["ri"]
        ids = set()
        for _ in range(4):
            rsc, j, _ = self.call("GET", reg, "/id-in/Cpoll", kpm=kpm, key=key)
            self.assertEqual((rsc, j["sec:mcc"]["cmdDescription"]["cmdClassID"]), (2000, 0))
            ids.add(j["sec:mcc"]["cmdID"])
            rsc, j, _ = self.call("PUT", reg, "/id-in/Cpoll",
                                  {"sec:mcc": {"cmdID": j["sec:mcc"]["cmdID"],
                                               "cmdStatusCode": 20}}, kpm=kpm, key=key)
            self.assertEqual(rsc, 2004)
            ids.add(j["sec:mcc"]["cmdID"])
        self.assertEqual(len(ids), 1, ids)
        rows = [l for l in self.mef.admin("list", "--commands").stdout.splitlines()
                if "\t/id-in/Cpoll\t" in l]
        self.assertEqual(len(rows), 1, rows)

    # -- key registration (8.3.5.2.7-10) ---------------------------------------------------
    def test_40_key_registration_with_key_value(self):
        kv = bytes(range(16))
        body = {"sec:mkr": {"fqdn": MEF_FQDN, "adminFQDN": ADMIN_FQDN, "SUID": 23,
                            "targetIDs": ["/id-in/Cpeer"], "lbl": ["k"],
                            "keyValue": base64.b64encode(kv).decode()}}
        rsc, j, h = self.call("POST", "/mef", body=body, ty=904)
        self.assertEqual(rsc, 2001, j)
        k = j["sec:mkr"]
        self.assertNotIn("keyValue", k)
        self.assertEqual((k["sourceID"], k["SUID"], k["targetIDs"]), ("Cdev1", 23,
                                                                    ["/id-in/Cpeer"]))
        self.assertEqual(k["keyID"], "%s@%s" % (k["ri"], MEF_FQDN))
        path = "/mef/" + k["ri"]
        rsc, j, _ = self.call("GET", path, "/id-in/Cpeer", kpm=KPM_P, key=KEY_P)
        self.assertEqual((rsc, base64.b64decode(j["sec:mkr"]["keyValue"])), (2000, kv))
        rsc, j, _ = self.call("GET", path)
        self.assertEqual(rsc, 2000)
        self.assertNotIn("keyValue", j["sec:mkr"])
        self.assertEqual(self.call("GET", path, "/id-in", kpm=KPM_T, key=KEY_T)[0], 4103)
        self.assertEqual(self.call("PUT", path, "/id-in/Cpeer", {"sec:mkr": {"lbl": []}},
                                   kpm=KPM_P, key=KEY_P)[0], 4103)
        self.assertEqual(self.call("PUT", path, body={"sec:mkr": {"targetIDs": ["a", "b"]}})[0],
                         4000)  # SUID 23 takes exactly one target
        rsc, j, _ = self.call("PUT", path, body={"sec:mkr": {"targetIDs": ["/id-in"]}})
        self.assertEqual((rsc, j), (2004, {"sec:mkr": {"targetIDs": ["/id-in"]}}))
        self.assertEqual(self.call("GET", path, "/id-in/Cpeer", kpm=KPM_P, key=KEY_P)[0], 4103)
        self.assertEqual(self.call("GET", path, "/id-in", kpm=KPM_T, key=KEY_T)[0], 2000)
        self.assertEqual(self.call("DELETE", path, "/id-in", kpm=KPM_T, key=KEY_T)[0], 4103)
        self.assertEqual(self.call("DELETE", path)[0], 2002)
        self.assertEqual(self.call("GET", path)[0], 4004)

    def test_41_key_registration_from_the_exporter(self):
        body = {"sec:mkr": {"fqdn": MEF_FQDN, "adminFQDN": ADMIN_FQDN, "SUID": 22,
                            "targetIDs": ["/id-in"]}}
        data = (mef_http("POST", "/mef", "Cdev1", body, 904, keep_alive=True) +
                mef_http("POST", "/mef", "Cdev1", body, 904))
        out, rs, km = self.psk(data, export="EXPORTER-oneM2M-Connection")
        self.assertEqual([int(h["x-m2m-rsc"]) for _, h, _ in rs], [2001, 4105])
        k = json.loads(rs[0][2])["sec:mkr"]
        self.assertEqual(k["ri"], km[:16].hex().upper())
        rsc, j, _ = self.call("GET", "/mef/" + k["ri"], "/id-in", kpm=KPM_T, key=KEY_T)
        self.assertEqual(base64.b64decode(j["sec:mkr"]["keyValue"]), km[16:48])

    def test_42_key_registration_error_rows(self):
        base = {"fqdn": MEF_FQDN, "adminFQDN": ADMIN_FQDN, "SUID": 22, "targetIDs": ["/id-in"]}
        for change, code in (({"SUID": 20}, 4000), ({"targetIDs": ["a", "b"]}, 4000),
                             ({"targetIDs": []}, 4000), ({"fqdn": "mef.other.example"}, 4000),
                             ({"keyValue": "AAEC"}, 4000), ({"zz": 1}, 4000),
                             ({"adminFQDN": "other.example"}, 4103)):
            b = {"sec:mkr": dict(base, **change)}
            self.assertEqual(self.call("POST", "/mef", body=b, ty=904)[0], code, change)

    # -- EST (G7) ---------------------------------------------------------------------------
    def raw(self, method, path, body=b"", ctype=None, kpm=KPM1):
        extra = ["Content-Type: %s" % ctype] if ctype else []
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s" % HOST, "Connection: close"]
        if body or method == "POST":
            lines.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(lines + extra) + "\r\n\r\n").encode() + body
        return self.psk(data, kpm)[1]

    def test_50_est_cacerts_csrattrs_unknown(self):
        rs = self.raw("GET", "/.well-known/est/cacerts")
        self.assertEqual(rs[0][0], 200, rs)
        self.assertEqual(rs[0][1]["content-transfer-encoding"], "base64")
        der = base64.b64decode(rs[0][2])
        with open(self.mef.ca_pem) as f:
            ca_der = ssl.PEM_cert_to_DER_cert(f.read())
        self.assertIn(ca_der, der)
        # "Cdev1" is no CSE-ID, AE-ID or URN: nothing the MEF could certify
        self.assertEqual(self.raw("GET", "/.well-known/est/csrattrs")[0][0], 403)
        self.mef.add_kpm("ae9@" + MEF_FQDN, KEY1, AE9)
        rs = self.raw("GET", "/.well-known/est/csrattrs", kpm="ae9@" + MEF_FQDN)
        self.assertEqual(rs[0][0], 200)
        self.assertIn(AE9.encode(), base64.b64decode(rs[0][2]))
        self.assertEqual(self.raw("GET", "/.well-known/est/nothing")[0][0], 404)
        self.assertEqual(self.raw("POST", "/.well-known/est/simpleenroll", b"AAAA",
                                  "application/pkcs10")[0][0], 400)
        r = self.mef.request("GET", "/.well-known/est/cacerts", tls=True)  # no credential
        self.assertEqual(r.status, 403)

    def est_enroll(self, kpm, san, cb_override=None, op="simpleenroll"):
        """simpleenroll over one PSK session: the challengePassword is the session's
        tls-exporter channel binding, read from openssl's -keymatexport output first."""
        work = self.mef.work
        cmd = ["openssl", "s_client", "-connect", "%s:%d" % (HOST, self.mef.port),
               "-psk_identity", kpm, "-psk", KEY1, "-tls1_3", "-ign_eof",
               "-keymatexport", "EXPORTER-Channel-Binding", "-keymatexportlen", "32"]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        try:
            cb = None
            for line in iter(p.stdout.readline, b""):
                if b"Keying material:" in line:
                    cb = bytes.fromhex(line.split(b":")[1].strip().decode())
                    break
            self.assertIsNotNone(cb)
            chal = base64.b64encode(cb_override or cb).decode()
            key = os.path.join(work, "est.key")
            conf = os.path.join(work, "est.cnf")
            with open(conf, "w") as f:
                f.write("[req]\nprompt=no\ndistinguished_name=dn\nattributes=at\n"
                        "req_extensions=ext\n[dn]\nCN=est\n[at]\nchallengePassword=%s\n"
                        "[ext]\nsubjectAltName=URI:%s\n" % (chal, san))
            subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
                            "-out", key], check=True, capture_output=True)
            csr = subprocess.run(["openssl", "req", "-new", "-key", key, "-config", conf,
                                  "-outform", "DER"], check=True, capture_output=True).stdout
            body = base64.b64encode(csr)
            req = ("POST /.well-known/est/%s HTTP/1.1\r\nHost: %s\r\n"
                   "Content-Type: application/pkcs10\r\nContent-Transfer-Encoding: base64\r\n"
                   "Content-Length: %d\r\nConnection: close\r\n\r\n" % (op, HOST, len(body)))
            p.stdin.write(req.encode() + body)
            p.stdin.flush()
            out, _ = p.communicate(timeout=20)
        finally:
            if p.poll() is None:
                p.kill()
            p.wait(10)
        at = out.find(b"HTTP/1.1 ")
        return m2mtest.parse_responses(out[at:]) if at >= 0 else []

    def test_51_est_simpleenroll_with_channel_binding(self):
        kpm = "ae10@" + MEF_FQDN
        ae = "//m2msec.example.com/id-in/Cae10"
        self.mef.add_kpm(kpm, KEY1, ae)
        rs = self.est_enroll(kpm, ae)
        self.assertEqual(rs[0][0], 200, rs)
        self.assertTrue(rs[0][1]["content-type"].startswith("application/pkcs7-mime"))
        self.assertIn(ae.encode(), base64.b64decode(rs[0][2]))
        self.assertIn(ae, self.mef.admin("list", "--certs").stdout)
        # another identity, or a challengePassword of another session: 403
        self.assertEqual(self.est_enroll(kpm, "//m2msec.example.com/id-in/Cother")[0][0], 403)
        self.assertEqual(self.est_enroll(kpm, ae, cb_override=b"\0" * 32)[0][0], 403)

    def keygen_cli(self, kpm, origin, san, outdir):
        """`m2msec client est-enroll --server-keygen` with a PSK; returns (rc, stderr, paths)."""
        psk_file = os.path.join(self.mef.work, "kpm-%s.hex" % re.sub(r"[^A-Za-z0-9]", "_", kpm))
        paths = [os.path.join(outdir, n) for n in ("k.key", "k.pem", "ca.pem")]
        argv = [m2mtest.BIN, "client", "--url", "https://%s:%d" % (HOST, self.mef.port),
                "--servername", MEF_FQDN, "--ca", self.mef.ca_pem, "--from", origin,
                "--timeout-ms", "20000", "--psk-identity", kpm, "--psk-file", psk_file,
                "est-enroll", "--server-keygen", "--san", san, "--key-out", paths[0],
                "--cert-out", paths[1], "--ca-out", paths[2]]
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
                           text=True)
        return p.returncode, p.stdout + p.stderr, paths

    def test_52_est_serverkeygen_cli_then_certificate_login(self):
        """RFC 7030 4.4 (TS-0003 8.3.6.2.1): the MEF generates the key; the client writes key
        (0600) and certificate, which verify under the MEF CA and open an Mmef session."""
        kpm = "ae11@" + MEF_FQDN
        ae = "//m2msec.example.com/id-in/Cae11"
        self.mef.add_kpm(kpm, KEY1, ae)
        outdir = os.path.join(self.mef.work, "keygen11")
        os.makedirs(outdir, exist_ok=True)
        rc, out, (key, cert, ca) = self.keygen_cli(kpm, ae, ae, outdir)
        self.assertEqual(rc, 0, out + self.mef.stderr_text())
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        v = subprocess.run(["openssl", "verify", "-purpose", "sslclient", "-CAfile",
                            self.mef.ca_pem, cert], capture_output=True, text=True)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        v = subprocess.run(["openssl", "verify", "-CAfile", ca, cert], capture_output=True)
        self.assertEqual(v.returncode, 0)
        txt = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-text"],
                             capture_output=True, text=True, check=True).stdout
        self.assertIn("URI:" + ae, txt)
        self.assertIn("P-256", txt)
        pub_k = subprocess.run(["openssl", "pkey", "-in", key, "-pubout"], capture_output=True,
                               check=True).stdout
        pub_c = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"],
                               capture_output=True, check=True).stdout
        self.assertEqual(pub_k, pub_c)
        listed = self.mef.admin("list", "--certs").stdout
        self.assertIn(ae, listed)
        # the MEF logs the issuing, never the key
        with open(key) as f:
            key_text = f.read()
        body = "".join(key_text.splitlines()[1:-1])
        self.assertNotIn(body[:40], self.mef.stderr_text())
        # the certificate obtained opens an Mmef session with certificate authentication
        r = self.cert_request((cert, key), "GET", "/mef", ae)
        self.assertEqual((r.status, r.rsc), (200, 2000), r.describe())

    def test_53_est_serverkeygen_refusals(self):
        kpm = "ae12@" + MEF_FQDN
        ae = "//m2msec.example.com/id-in/Cae12"
        self.mef.add_kpm(kpm, KEY1, ae)
        outdir = os.path.join(self.mef.work, "keygen12")
        os.makedirs(outdir, exist_ok=True)
        # an identity the client is not associated with: 403, nothing written
        rc, out, (key, cert, _) = self.keygen_cli(kpm, ae, "//m2msec.example.com/id-in/Cx", outdir)
        self.assertEqual(rc, 1, out)
        self.assertIn("HTTP 403", out)
        self.assertFalse(os.path.exists(key) or os.path.exists(cert))
        # raw: the right CSR answers multipart/mixed; another session's binding 403; garbage 400
        rs = self.est_enroll(kpm, ae, op="serverkeygen")
        self.assertEqual(rs[0][0], 200, rs)
        ctype = rs[0][1]["content-type"]
        self.assertTrue(ctype.startswith("multipart/mixed; boundary="), ctype)
        self.assertIn(b"Content-Type: application/pkcs8", rs[0][2])
        self.assertIn(b"Content-Type: application/pkcs7-mime; smime-type=certs-only", rs[0][2])
        self.assertEqual(self.est_enroll(kpm, ae, cb_override=b"\1" * 32,
                                         op="serverkeygen")[0][0], 403)
        self.assertEqual(self.est_enroll(kpm, "//m2msec.example.com/id-in/Cx",
                                         op="serverkeygen")[0][0], 403)
        self.assertEqual(self.raw("POST", "/.well-known/est/serverkeygen", b"AAAA",
                                  "application/pkcs10", kpm=kpm)[0][0], 400)
        self.assertEqual(self.raw("GET", "/.well-known/est/serverkeygen", kpm=kpm)[0][0], 404)

    # -- administration and the store -------------------------------------------------------
    def test_60_store_mode_list_and_revoke(self):
        self.assertEqual(stat.S_IMODE(os.stat(self.mef.db_path).st_mode), 0o600)
        out = self.mef.admin("list").stdout
        self.assertIn(KPM1, out)
        for k in (KEY1, KEY_T, KEY_P):
            self.assertNotIn(k, out.lower())
        self.assertNotIn(KEY1, self.mef.stderr_text().lower())
        self.mef.add_kpm("gone@" + MEF_FQDN, KEY1, "Cgone")
        data = mef_http("GET", "/mef", "Cgone")
        self.assertEqual(self.one(self.psk(data, "gone@" + MEF_FQDN, KEY1)[1])[0], 2000)
        self.mef.admin("revoke", "gone@" + MEF_FQDN)
        out, rs, _ = self.psk(data, "gone@" + MEF_FQDN, KEY1)
        self.assert_no_app_data(out)
        self.assertNotEqual(self.mef.admin("revoke", "none", check=False).returncode, 0)
        self.assertNotEqual(self.mef.admin("add-kpm", "--kpmid", "bad", "--key-file", "/nonexistent",
                                           "--identity", "C", check=False).returncode, 0)
        short = os.path.join(self.mef.work, "short.hex")
        with open(short, "w") as f:
            f.write("0011")
        self.assertNotEqual(self.mef.admin("add-kpm", "--kpmid", "s@" + MEF_FQDN, "--key-file",
                                           short, "--identity", "C", check=False).returncode, 0)

    def test_61_body_limit(self):
        big = {"sec:mcr": {"fqdn": MEF_FQDN, "adminFQDN": ADMIN_FQDN,
                           "lbl": ["x" * 200] * 400}}
        out, rs, _ = self.psk(mef_http("POST", "/mef", "Cdev1", big, 902))
        self.assertIn(rs[0][0], (400, 413), out[-300:])


    # -- revocation of issued certificates ("Revocation at the MEF", docs/DECISIONS.md) -------
    def reenroll_cli(self, cert, san, outdir):
        """`m2msec client --cert --key est-enroll --reenroll`; returns (rc, output, paths)."""
        paths = [os.path.join(outdir, n) for n in ("re.key", "re.pem")]
        argv = [m2mtest.BIN, "client", "--url", "https://%s:%d" % (HOST, self.mef.port),
                "--servername", MEF_FQDN, "--ca", self.mef.ca_pem, "--from", san,
                "--timeout-ms", "20000", "--cert", cert[0], "--key", cert[1], "est-enroll",
                "--reenroll", "--san", san, "--key-out", paths[0], "--cert-out", paths[1]]
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
                           text=True)
        return p.returncode, p.stdout + p.stderr, paths

    def cert_rows(self, san):
        """`mef list --certs` rows (serial, san, fingerprint, client, state) naming san."""
        rows = [l.split("\t") for l in self.mef.admin("list", "--certs").stdout.splitlines()]
        return [r for r in rows if len(r) == 5 and r[1] == san]

    def keepalive_get(self, conn, origin):
        conn.putrequest("GET", "/mef", skip_host=True, skip_accept_encoding=True)
        for k, v in (("Host", "%s:%d" % (HOST, self.mef.port)), ("Accept", "application/json"),
                     ("X-M2M-Origin", origin), ("X-M2M-RI", m2mtest.new_rqi()),
                     ("X-M2M-RVI", "3"), ("Connection", "keep-alive")):
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        body = r.read()
        return int(r.getheader("X-M2M-RSC", "0")), body

    def assert_revoked_refusal(self, fn, what):
        """fn() -> (rsc, body) must be refused: 4103 "certificate revoked" (docs/MEF.md), or the
        transport closes the connection without an answer (it checks revoked credentials right
        after the handshake and on its 250 ms tick). Records which one in REVOKE_SEEN."""
        try:
            rsc, body = fn()
        except (ConnectionError, ssl.SSLError, http.client.HTTPException, OSError) as e:
            REVOKE_SEEN[what] = "closed (%s)" % type(e).__name__
            return
        self.assertEqual(rsc, 4103, body)
        self.assertIn(b"certificate revoked", body)
        REVOKE_SEEN[what] = "4103"

    def test_54_revoked_est_certificate_is_refused_everywhere(self):
        """A certificate the MEF issued by EST opens Mmef sessions until `mef revoke <serial>`:
        then a new session gets 4103 "certificate revoked", /simplereenroll with it 403, and a
        session opened before the revoke is refused on its next request or closed (the
        transport re-checks revoked credentials on its 250 ms tick). Another certificate of
        the same identity (the re-enrolled one) keeps working."""
        kpm = "ae13@" + MEF_FQDN
        ae = "//m2msec.example.com/id-in/Cae13"
        self.mef.add_kpm(kpm, KEY1, ae)
        outdir = os.path.join(self.mef.work, "keygen13")
        os.makedirs(outdir, exist_ok=True)
        rc, out, (key, cert, _) = self.keygen_cli(kpm, ae, ae, outdir)
        self.assertEqual(rc, 0, out + self.mef.stderr_text())
        rows = self.cert_rows(ae)
        self.assertEqual(len(rows), 1, rows)
        serial, state = rows[0][0], rows[0][4]
        self.assertEqual(state, "active")
        r = self.cert_request((cert, key), "GET", "/mef", ae)
        self.assertEqual((r.status, r.rsc), (200, 2000), r.describe())
        # positive control: re-enrolment with the issued certificate works before the revoke
        rc, out, (rkey, rcert) = self.reenroll_cli((cert, key), ae, outdir)
        self.assertEqual(rc, 0, out + self.mef.stderr_text())
        self.assertEqual(len(self.cert_rows(ae)), 2)
        # a session opened before the revoke
        conn = http.client.HTTPSConnection(
            HOST, self.mef.port, timeout=10, context=self.mef.ssl_context((cert, key)))
        try:
            self.assertEqual(self.keepalive_get(conn, ae)[0], 2000)
            self.assertIn("revoked", self.mef.admin("revoke", serial).stdout)
            time.sleep(0.8)  # > 250 ms transport tick
            self.assert_revoked_refusal(lambda: self.keepalive_get(conn, ae), "open session")
            if REVOKE_SEEN["open session"] != "4103":
                self.assertIn("closing a connection of revoked credential cert:",
                              self.mef.stderr_text())
        finally:
            conn.close()
        states = {r[0]: r[4] for r in self.cert_rows(ae)}
        self.assertEqual(states[serial], "revoked")
        self.assertEqual(sorted(states.values()), ["active", "revoked"])
        # a new session with the revoked certificate
        self.assert_revoked_refusal(
            lambda: (lambda r: (r.rsc, r.raw))(self.cert_request((cert, key), "GET", "/mef", ae)),
            "new session")
        # the re-enrolled certificate of the same identity is unaffected
        r = self.cert_request((rcert, rkey), "GET", "/mef", ae)
        self.assertEqual((r.status, r.rsc), (200, 2000), r.describe())
        # no re-enrolment with the revoked one: 403, nothing issued, nothing written
        os.unlink(rcert)
        os.unlink(rkey)
        rc, out, (rkey, rcert) = self.reenroll_cli((cert, key), ae, outdir)
        # 1 with HTTP 403 "certificate revoked" (mef_est.c), or 3 when the transport closes the
        # session after the handshake (src/net/conn.c checks is_revoked there)
        self.assertTrue((rc == 1 and "HTTP 403" in out) or rc == 3, (rc, out))
        REVOKE_SEEN["reenroll"] = "HTTP 403" if rc == 1 else "closed (exit 3)"
        self.assertFalse(os.path.exists(rcert) or os.path.exists(rkey))
        self.assertEqual(len(self.cert_rows(ae)), 2)
        print("\n    revoked certificate refusals seen: %s" % REVOKE_SEEN, end=" ")


    def test_55_est_for_many_queued_cert_prov_commands(self):
        """docs/DECISIONS.md "EST subject authorization": nine CERT_PROV commands queued one
        after another for one client each obtain their certificate through the command loop
        (`m2msec client mef-commands`); once reported, a CSR naming one of their subjects is
        refused 403 and nothing is issued."""
        kpm, client = "cp@" + MEF_FQDN, "/id-in/Ccp"
        self.mef.add_kpm(kpm, KEY1, client)
        rsc, j, _ = self.register(origin=client, kpm=kpm, key=KEY1)
        self.assertEqual(rsc, 2001, j)
        reg = j["sec:mcr"]["ri"]
        subjects = ["//m2msec.example.com/id-in/Ccp%d" % i for i in range(1, 10)]
        ids = [self.mef.admin("cmd", "add", "--client", client, "--class", "CERT_PROV",
                              "--subject-type", "3", "--subject-id", sub).stdout.split()[1]
               for sub in subjects]
        outdir = os.path.join(self.mef.work, "cp")
        os.makedirs(outdir, exist_ok=True)
        psk_file = os.path.join(self.mef.work, "kpm-cp_%s.hex" % MEF_FQDN.replace(".", "_"))
        self.assertTrue(os.path.exists(psk_file), psk_file)
        argv = [m2mtest.BIN, "client", "--url", "https://%s:%d" % (HOST, self.mef.port),
                "--servername", MEF_FQDN, "--ca", self.mef.ca_pem, "--from", client,
                "--timeout-ms", "20000", "--psk-identity", kpm, "--psk-file", psk_file,
                "mef-commands", reg, "--cert-out", os.path.join(outdir, "c.pem"),
                "--key-out", os.path.join(outdir, "c.key"), "--max", "20"]
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
                           text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr + self.mef.stderr_text()[-2000:])
        self.assertIn("processed 9\nlast-status 20\n", p.stdout)
        self.assertIn("certificate %s\n" % subjects[-1], p.stdout)
        reported = {r[0]: (r[3], r[4]) for r in listed(self.mef, "commands", 1, client)}
        for cid in ids:
            self.assertEqual(reported.get(cid), ("reported", "20"), (cid, reported))
        for sub in subjects:
            rows = listed(self.mef, "certs", 1, sub)
            self.assertEqual([(r[3], r[4]) for r in rows], [(client, "active")], sub)
        txt = subprocess.run(["openssl", "x509", "-in", os.path.join(outdir, "c.pem"), "-noout",
                              "-ext", "subjectAltName"], capture_output=True, text=True).stdout
        self.assertIn("URI:" + subjects[-1], txt)
        # control: a tenth command, run by csrattrs + simpleenroll over one raw session, works
        extra = "//m2msec.example.com/id-in/Ccp10"
        self.mef.admin("cmd", "add", "--client", client, "--class", "CERT_PROV",
                       "--subject-type", "3", "--subject-id", extra)
        rsc, j, _ = self.call("GET", "/mef/%s/cmd" % reg, client, kpm=kpm, key=KEY1)  # issue it
        self.assertEqual((rsc, j["sec:mcc"]["cmdStatusCode"]), (2000, 10))
        rs = self.raw("GET", "/.well-known/est/csrattrs", kpm=kpm)
        self.assertEqual(rs[0][0], 200, rs)
        self.assertIn(extra.encode(), base64.b64decode(rs[0][2]))
        rs = self.est_enroll(kpm, extra)
        self.assertEqual(rs[0][0], 200, rs)
        self.assertEqual(len(listed(self.mef, "certs", 1, extra)), 1)
        # the nine are reported: their subjects are no longer the client's to request
        for sub in (subjects[0], subjects[4]):
            rs = self.est_enroll(kpm, sub)
            self.assertEqual(rs[0][0], 403, rs)
            self.assertEqual(len(listed(self.mef, "certs", 1, sub)), 1)



def listed(mef, what, col, value):
    """Rows of `mef list --<what>` whose tab-separated column col equals value."""
    rows = [l.split("\t") for l in mef.admin("list", "--" + what).stdout.splitlines()]
    return [r for r in rows if len(r) > col and r[col] == value]


class MefCapsTest(unittest.TestCase):
    """docs/DECISIONS.md "MEF per-client caps and purge" over HTTPS: with small caps the request
    past each cap is 5207 (EST 403) "limit reached", nothing is stored, and another client
    identity is unaffected."""

    psk = MefServerTest.psk
    one = MefServerTest.one
    call = MefServerTest.call
    register = MefServerTest.register
    est_enroll = MefServerTest.est_enroll

    @classmethod
    def setUpClass(cls):
        cls.mef = Mef("--set", "mef.max_enrolments_per_client=2",
                      "--set", "mef.max_registrations_per_client=1",
                      "--set", "mef.max_keys_per_client=1",
                      "--set", "mef.max_certs_per_day=1")
        cls.mef.admin("add-target", "--id", "/id-in", "--fqdn", TARGET_FQDN)
        for n in ("A", "B"):
            cls.mef.add_kpm("cap%s@%s" % (n.lower(), MEF_FQDN), KEY1, "Ccap" + n)
        for n in ("C", "D"):
            cls.mef.add_kpm("cap%s@%s" % (n.lower(), MEF_FQDN), KEY1,
                            "//m2msec.example.com/id-in/Ccap" + n)

    @classmethod
    def tearDownClass(cls):
        cls.mef.close()

    def as_client(self, n, method, body, ty):
        return self.call(method, "/mef", "Ccap" + n, body, ty, "cap%s@%s" % (n.lower(), MEF_FQDN),
                         KEY1)

    def assert_limit(self, rsc, j, key):
        self.assertEqual(rsc, 5207, j)
        self.assertIn("limit reached: " + key, json.dumps(j))

    def test_01_enrolments_per_client(self):
        for _ in range(2):
            self.assertEqual(self.as_client("A", "POST", {"sec:enr": {}}, 905)[0], 2001)
        rsc, j, _ = self.as_client("A", "POST", {"sec:enr": {}}, 905)
        self.assert_limit(rsc, j, "mef.max_enrolments_per_client")
        self.assertEqual(len(listed(self.mef, "enrolments", 1, "CcapA")), 2)
        self.assertEqual(self.as_client("B", "POST", {"sec:enr": {}}, 905)[0], 2001)
        self.assertEqual(len(listed(self.mef, "enrolments", 1, "CcapB")), 1)

    def test_02_registrations_per_client(self):
        mcr = lambda admin: {"sec:mcr": {"fqdn": MEF_FQDN, "adminFQDN": admin}}
        self.assertEqual(self.as_client("A", "POST", mcr(ADMIN_FQDN), 902)[0], 2001)
        rsc, j, _ = self.as_client("A", "POST", mcr("sp2.m2msec.test"), 902)
        self.assert_limit(rsc, j, "mef.max_registrations_per_client")
        self.assertEqual(len(listed(self.mef, "registrations", 1, "CcapA")), 1)
        self.assertEqual(self.as_client("B", "POST", mcr("sp2.m2msec.test"), 902)[0], 2001)

    def test_03_key_registrations_per_client(self):
        mkr = lambda suid: {"sec:mkr": {"fqdn": MEF_FQDN, "adminFQDN": ADMIN_FQDN, "SUID": suid,
                                        "targetIDs": ["/id-in"],
                                        "keyValue": base64.b64encode(bytes(16)).decode()}}
        rsc, j, _ = self.as_client("A", "POST", mkr(23), 904)
        self.assertEqual(rsc, 2001, j)
        rsc, j, _ = self.as_client("A", "POST", mkr(23), 904)
        self.assert_limit(rsc, j, "mef.max_keys_per_client")
        self.assertEqual(len(listed(self.mef, "keys", 1, "CcapA")), 1)
        self.assertEqual(self.as_client("B", "POST", mkr(23), 904)[0], 2001)

    def test_04_certificates_per_day(self):
        kc, ac = "capc@" + MEF_FQDN, "//m2msec.example.com/id-in/CcapC"
        rs = self.est_enroll(kc, ac)
        self.assertEqual(rs[0][0], 200, rs)
        rs = self.est_enroll(kc, ac)
        self.assertEqual(rs[0][0], 403, rs)
        self.assertIn(b"limit reached: mef.max_certs_per_day", rs[0][2])
        self.assertEqual(len(listed(self.mef, "certs", 1, ac)), 1)
        kd, ad = "capd@" + MEF_FQDN, "//m2msec.example.com/id-in/CcapD"
        self.assertEqual(self.est_enroll(kd, ad)[0][0], 200)
        self.assertEqual(len(listed(self.mef, "certs", 1, ad)), 1)


if __name__ == "__main__":
    m2mtest.main()
