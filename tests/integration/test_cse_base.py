"""test_cse_base.py: CSEBase retrieval, addressing forms and request-level validation
(headers, content type, query parameters, body size) of the m2msec CSE over HTTP."""

import json

import m2mtest
from m2mtest import ADMIN, CSE_ID, CSE_RI, CSE_RN, SP_ID, CseTestCase


class CseBaseTest(CseTestCase):
    cse_args = ("--max-body", "1024")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # one AE with a container, reached through every addressing form below
        r = cls.cse.register_ae("Cbase1", "base1")
        assert r.rsc == 2001, r.describe()
        r = cls.cse.create("/cse-in/base1", 3, {"m2m:cnt": {"rn": "c1"}}, origin="Cbase1")
        assert r.rsc == 2001, r.describe()
        cls.cnt_ri = r.res()["ri"]

    def test_retrieve_csebase_as_admin(self):
        r = self.cse.retrieve("/" + CSE_RN)
        cb = self.ok(r, 2000)
        self.assertIn("m2m:cb", r.json)
        self.assertEqual(cb.get("ty"), 5)
        self.assertEqual(cb.get("csi"), CSE_ID)
        self.assertEqual(cb.get("rn"), CSE_RN)
        self.assertEqual(cb.get("ri"), CSE_RI)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/"),
                        r.headers)

    def test_csebase_by_every_address_form(self):
        # TS-0009 6.2.2 / Table 6.2.2.1-1 and TS-0001 7.2: structured, unstructured,
        # SP-relative and absolute forms of the same CSEBase
        for path in ("/cse-in", "/-", "/" + CSE_RI, "/~/id-in/cse-in",
                     "/_/%s/id-in/cse-in" % SP_ID):
            with self.subTest(path=path):
                cb = self.ok(self.cse.retrieve(path), 2000)
                self.assertEqual(cb.get("ri"), CSE_RI)

    def test_four_addressing_forms_reach_same_resource(self):
        paths = [
            "/cse-in/base1/c1",                         # structured, CSE-relative
            "/-/base1/c1",                              # "-" = CSEBase name
            "/" + self.cnt_ri,                          # unstructured
            "/~/id-in/cse-in/base1/c1",                 # SP-relative structured
            "/~/id-in/" + self.cnt_ri,                  # SP-relative unstructured
            "/_/%s/id-in/cse-in/base1/c1" % SP_ID,      # absolute structured
            "/_/%s/id-in/%s" % (SP_ID, self.cnt_ri),    # absolute unstructured
        ]
        for path in paths:
            with self.subTest(path=path):
                res = self.ok(self.cse.retrieve(path, origin="Cbase1"), 2000)
                self.assertEqual(res.get("ri"), self.cnt_ri)
                self.assertEqual(res.get("rn"), "c1")
                self.assertEqual(res.get("ty"), 3)

    def test_unknown_paths_4004(self):
        for path in ("/cse-in/nope", "/cse-in/base1/nope", "/nope-ri-123",
                     "/~/id-in/cse-in/nope", "/_/%s/id-in/cse-in/nope" % SP_ID,
                     "/cse-in/base1/c1/nope/deeper"):
            with self.subTest(path=path):
                self.assertRsc(self.cse.retrieve(path), 4004)

    def test_missing_origin_4000(self):
        # TS-0001 7.2 / TS-0004 7.3.2.1 (SPEC-MAP B1): From is mandatory except AE create
        r = self.cse.request("GET", "/cse-in", origin=None)
        self.assertRsc(r, 4000)

    def test_release_version(self):
        for rvi in ("1", "2", "2a", "9", "x"):
            with self.subTest(rvi=rvi):
                self.assertRsc(self.cse.request("GET", "/cse-in", origin=ADMIN, rvi=rvi), 4001)
        for rvi in ("3", "4", "5"):
            with self.subTest(rvi=rvi):
                self.assertRsc(self.cse.request("GET", "/cse-in", origin=ADMIN, rvi=rvi), 2000)

    def test_request_identifier_echoed(self):
        for path, want in (("/cse-in", 2000), ("/cse-in/missing", 4004)):
            rqi = m2mtest.new_rqi() + "-echo"
            r = self.cse.request("GET", path, origin=ADMIN, rqi=rqi)
            self.assertRsc(r, want)
            self.assertEqual(r.headers.get("x-m2m-ri"), rqi, r.headers)
        # error paths echo it too
        rqi = m2mtest.new_rqi() + "-err"
        r = self.cse.request("GET", "/cse-in", origin=ADMIN, rqi=rqi, rvi="1")
        self.assertEqual(r.headers.get("x-m2m-ri"), rqi, r.headers)

    def test_error_body_is_dbg(self):
        r = self.cse.retrieve("/cse-in/missing")
        self.assertRsc(r, 4004)
        self.assertIsInstance(r.json, dict, r.describe())
        self.assertIsInstance(r.json.get("m2m:dbg"), str, r.describe())

    def test_malformed_json_4000(self):
        for body in (b'{"m2m:cnt": {"rn": "x"', b"not json", b'{"m2m:cnt": }', b"[]",
                     b'{"m2m:cnt": "str"}', b""):
            with self.subTest(body=body):
                r = self.cse.request("POST", "/cse-in/base1", origin="Cbase1", ty=3, body=body)
                self.assertRsc(r, 4000)

    def test_unsupported_content_type_4015(self):
        # TS-0004 7.3.2.1 (SPEC-MAP B3.5): unsupported content format -> 4015
        for ctype in ("text/plain;ty=3", "application/xml-bogus;ty=3"):
            with self.subTest(ctype=ctype):
                r = self.cse.request("POST", "/cse-in/base1", origin="Cbase1",
                                     body={"m2m:cnt": {"rn": "ct"}},
                                     headers={"Content-Type": ctype})
                self.assertRsc(r, 4015)

    def test_vnd_onem2m_content_type_accepted(self):
        r = self.cse.request("POST", "/cse-in/base1", origin="Cbase1",
                             body={"m2m:cnt": {"rn": self.uniq("vnd")}},
                             headers={"Content-Type": "application/vnd.onem2m-res+json; ty=3"})
        self.assertRsc(r, 2001)

    def test_unknown_query_parameter_4000(self):
        for q in ("foo=bar", "rcn=1&bogus=1", "fu=1&zzz=3"):
            with self.subTest(q=q):
                self.assertRsc(self.cse.retrieve("/cse-in", query=q), 4000)

    def test_oversize_body_413(self):
        # staged send: the head first (a server may answer from Content-Length alone), then the
        # body if no answer came yet; read until the server closes
        body = json.dumps({"m2m:cnt": {"rn": "big", "lbl": ["x" * 2048]}}).encode()
        head = ("POST /cse-in/base1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-M2M-Origin: Cbase1\r\n"
                "X-M2M-RI: %s\r\nX-M2M-RVI: 3\r\nContent-Type: application/json;ty=3\r\n"
                "Content-Length: %d\r\n\r\n" % (m2mtest.new_rqi(), len(body))).encode()
        s = m2mtest.raw_connect(self.cse.http_port)
        try:
            s.sendall(head)
            buf, closed = m2mtest.read_until_close(s, 2.0)
            if not buf:
                try:
                    s.sendall(body)
                except OSError:
                    pass
                buf, closed = m2mtest.read_until_close(s, 5.0)
        finally:
            s.close()
        resp = m2mtest.parse_responses(buf)
        self.assertTrue(resp, "no response to an oversize body: %r" % buf[:200])
        status, hdrs, _ = resp[0]
        self.assertEqual(status, 413, buf[:300])
        # http.h: framing errors carry X-M2M-RSC 4000
        self.assertEqual(hdrs.get("x-m2m-rsc"), "4000", hdrs)
        # the oversize resource must not exist and the server still answers
        self.assertRsc(self.cse.retrieve("/cse-in/base1/big", origin="Cbase1"), 4004)

    def test_body_under_limit_accepted(self):
        r = self.cse.create("/cse-in/base1", 3,
                            {"m2m:cnt": {"rn": self.uniq("fit"), "lbl": ["y" * 100] * 7}},
                            origin="Cbase1")
        self.assertRsc(r, 2001)

    def test_content_location_on_create(self):
        rn = self.uniq("cl")
        r = self.cse.create("/cse-in/base1", 3, {"m2m:cnt": {"rn": rn}}, origin="Cbase1")
        res = self.ok(r, 2001)
        loc = r.headers.get("content-location")
        self.assertTrue(loc, r.headers)
        path = loc if loc.startswith("/") else "/" + loc
        got = self.ok(self.cse.retrieve(path, origin="Cbase1"), 2000)
        self.assertEqual(got.get("ri"), res.get("ri"))


if __name__ == "__main__":
    m2mtest.main()
