"""test_acp_explain.py: the access-control features around the decision (our issue 3): the
admin explain request and `m2msec acp explain`, the audit log, the location source of aclr
(TS-0003 Annex F, operator table), groups and NOTIFY rules of A13, per-originator rate limits."""

import json
import os
import subprocess
import tempfile

import m2mtest
from m2mtest import ADMIN, CseTestCase


def acp(rn, pv, pvs):
    return {"m2m:acp": {"rn": rn, "pv": {"acr": pv}, "pvs": {"acr": pvs}}}


class ExplainAuditTest(CseTestCase):

    def setUp(self):
        self.o1, _, self.ae1 = self.new_ae("Cexo")
        self.o2, _, self.ae2 = self.new_ae("Cext")
        self.cnt, _ = self.new_cnt(self.ae1, self.o1, rn=self.uniq("c"))
        r = self.cse.create(self.cnt, 4, {"m2m:cin": {"con": "TOPSECRET-CONTENT"}},
                            origin=self.o1)
        self.assertRsc(r, 2001)

    def explain(self, target, op, orig, origin=ADMIN):
        o = orig if not orig.startswith("/") else "~" + orig
        return self.cse.request("GET", "%s/_explain/%s/%s" % (target, op, o), origin=origin)

    def test_explain_default_policy(self):
        e = self.ok(self.explain(self.cnt, "retrieve", self.o2), 2000)
        self.assertEqual(e["decision"], "deny")
        self.assertTrue(e["defaultPolicy"]["applies"])
        self.assertFalse(e["defaultPolicy"]["grants"])
        e = self.ok(self.explain(self.cnt, "delete", self.o1), 2000)
        self.assertEqual(e["decision"], "permit")
        self.assertTrue(e["defaultPolicy"]["grants"])

    def test_explain_rule_by_rule(self):
        rn = self.uniq("acp")
        body = acp(rn, [{"acor": [self.o2], "acop": 4},                     # wrong operation
                        {"acor": ["Cnobody"], "acop": 2},                   # wrong originator
                        {"acor": [self.o2], "acop": 2, "acaf": True},       # needs authn
                        {"acor": [self.o2], "acop": 2,
                         "acco": [{"acip": {"ipv4": ["10.0.0.0/8"]}}]}],    # wrong IP
                   [{"acor": [self.o1], "acop": 63}])
        ri = self.ok(self.cse.create(self.ae1, 1, body, origin=self.o1), 2001)["ri"]
        self.assertRsc(self.cse.update(self.cnt, {"m2m:cnt": {"acpi": [ri]}}, origin=self.o1),
                       2004)
        e = self.ok(self.explain(self.cnt, "retrieve", self.o2), 2000)
        self.assertEqual(e["decision"], "deny")
        rules = [p for p in e["policies"] if p["acp"] == ri][0]["rules"]
        self.assertEqual([r["failed"] for r in rules],
                         [["operation"], ["originator"], ["authentication"], ["ip"]])
        self.assertFalse(e["defaultPolicy"]["applies"])
        system = [p for p in e["policies"] if p["system"]]
        self.assertEqual(len(system), 1, "the system ACP is part of every set")
        e = self.ok(self.explain(self.cnt, "update", self.o2), 2000)
        self.assertEqual(e["decision"], "permit")
        self.assertEqual(e["decidedBy"], {"acp": ri, "rule": 0})
        # update-acpi is judged by pvs
        e = self.ok(self.explain(self.cnt, "update-acpi", self.o1), 2000)
        self.assertEqual(e["decision"], "permit")
        self.assertTrue(all(p["set"] == "pvs" for p in e["policies"]))
        # SP-relative originator form
        e = self.ok(self.explain(self.cnt, "update", "/id-in/" + self.o2), 2000)
        self.assertEqual(e["decision"], "permit")

    def test_explain_is_admin_only_and_read_only(self):
        self.assertRsc(self.explain(self.cnt, "retrieve", self.o2, origin=self.o1), 4103)
        self.assertRsc(self.explain(self.cnt, "bogus", self.o2), 4000)
        self.assertRsc(self.explain(self.cnt + "/nothere", "retrieve", self.o2), 4004)
        r = self.cse.request("DELETE", self.cnt + "/_explain/retrieve/" + self.o2, origin=ADMIN)
        self.assertRsc(r, 4005)
        self.ok(self.cse.retrieve(self.cnt, origin=self.o1), 2000)

    def test_cli_explain(self):
        out = subprocess.run([m2mtest.BIN, "acp", "explain", "--url",
                              "http://127.0.0.1:%d" % self.cse.http_port, "--target",
                              self.cnt.lstrip("/"), "--op", "retrieve", "--originator", self.o2],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("deny", out.stdout)
        self.assertIn("rule 0: does not match: originator", out.stdout)
        out = subprocess.run([m2mtest.BIN, "acp", "explain", "--url",
                              "http://127.0.0.1:%d" % self.cse.http_port, "--from", self.o1,
                              "--target", self.cnt.lstrip("/"), "--op", "retrieve",
                              "--originator", self.o2],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 1)
        self.assertIn("4103", out.stderr)
        out = subprocess.run([m2mtest.BIN, "acp", "explain"], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 2)

    def audit_lines(self):
        path = os.path.join(self.cse.data_dir, "audit.log")
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def test_audit_log(self):
        self.assertRsc(self.cse.retrieve(self.cnt, origin=self.o2), 4103)
        rn = self.uniq("acp")
        body = acp(rn, [{"acor": [self.o2], "acop": 2}], [{"acor": [self.o1], "acop": 63}])
        ri = self.ok(self.cse.create(self.ae1, 1, body, origin=self.o1), 2001)["ri"]
        self.assertRsc(self.cse.update(self.cnt, {"m2m:cnt": {"acpi": [ri]}}, origin=self.o1),
                       2004)
        body["m2m:acp"].pop("rn")
        body["m2m:acp"]["pv"]["acr"][0]["acop"] = 4
        self.assertRsc(self.cse.update(self.ae1 + "/" + rn, body, origin=self.o1), 2004)
        self.assertRsc(self.cse.delete(self.ae1 + "/" + rn, origin=self.o1), 2002)
        lines = self.audit_lines()
        deny = [l for l in lines if l["event"] == "decision" and l["target"] == self.cnt_ri()
                and l["originator"].endswith("/" + self.o2)]
        self.assertTrue(deny, lines[-5:])
        d = deny[-1]
        self.assertEqual(d["decision"], "deny")
        self.assertEqual(d["operation"], "RETRIEVE")
        self.assertEqual(d["rsc"], 4103)
        self.assertFalse(d["authenticated"])
        self.assertEqual(d["peer"], "127.0.0.1")
        self.assertTrue(d["time"].endswith("Z"))
        events = [l["event"] for l in lines if l.get("acp") == ri or l.get("target") == ri]
        for ev in ("acp-create", "acp-update", "acp-delete"):
            self.assertIn(ev, events)
        self.assertTrue([l for l in lines if l["event"] == "acpi-update"])
        with open(os.path.join(self.cse.data_dir, "audit.log"), "rb") as f:
            raw = f.read()
        self.assertNotIn(b"TOPSECRET-CONTENT", raw, "the audit log holds no resource content")
        self.assertEqual(os.stat(os.path.join(self.cse.data_dir, "audit.log")).st_mode & 0o077, 0)

    def cnt_ri(self):
        return self.ok(self.cse.retrieve(self.cnt, origin=ADMIN), 2000)["ri"]

    def test_notify_permission_on_local_target(self):
        # A13 / TS-0004 7.5.1.2.3: a subscription whose notificationURI is an AE hosted here
        # needs NOTIFY on that AE
        r = self.cse.update(self.ae2, {"m2m:ae": {"poa": ["http://127.0.0.1:9/x"]}},
                            origin=self.o2)
        self.assertRsc(r, 2004)
        r = self.cse.create(self.cnt, 23, {"m2m:sub": {"rn": self.uniq("s"),
                                                        "nu": [self.o2]}}, origin=self.o1)
        self.assertRsc(r, 4101)


class LocationTest(CseTestCase):
    """aclr with the operator location table (location.file)."""

    table = tempfile.NamedTemporaryFile("w", suffix=".loc", delete=False)
    table.write("# originator latitude longitude country\n"
                "Cmuc 48.137 11.575 DE\nCber 52.520 13.405 DE\nCpar 48.857 2.352 FR\n")
    table.close()
    cse_args = ("--set", "location.file=" + table.name)

    def test_circular_region_and_country(self):
        o1, _, ae1 = "Cown" + self.uniq(), None, None
        self.assertRsc(self.cse.register_ae(o1, "own" + o1[4:]), 2001)
        ae1 = "/cse-in/own" + o1[4:]
        for o in ("Cmuc", "Cber", "Cpar", "Cnowhere"):
            self.assertRsc(self.cse.register_ae(o, "r" + o), 2001)
        cnt, _ = self.new_cnt(ae1, o1, rn="c")
        pv = [{"acor": ["all"], "acop": 2,
               "acco": [{"aclr": {"accr": [48.137, 11.575, 10000.0]}}]},
              {"acor": ["all"], "acop": 4, "acco": [{"aclr": {"accc": ["FR"]}}]},
              {"acor": [o1], "acop": 63}]
        ri = self.ok(self.cse.create(ae1, 1, acp("geo", pv, [{"acor": [o1], "acop": 63}]),
                                     origin=o1), 2001)["ri"]
        self.assertRsc(self.cse.update(cnt, {"m2m:cnt": {"acpi": [ri]}}, origin=o1), 2004)
        self.ok(self.cse.retrieve(cnt, origin="Cmuc"), 2000)       # inside the circle
        self.assertRsc(self.cse.retrieve(cnt, origin="Cber"), 4103)  # 500 km away
        self.assertRsc(self.cse.retrieve(cnt, origin="Cnowhere"), 4103)  # unknown: deny
        upd = {"m2m:cnt": {"lbl": ["x"]}}
        self.assertRsc(self.cse.update(cnt, upd, origin="Cpar"), 2004)  # country FR
        self.assertRsc(self.cse.update(cnt, upd, origin="Cmuc"), 4103)  # DE


class RateLimitTest(CseTestCase):
    cse_args = ("--set", "limits.rate_per_originator=5", "--set", "limits.rate_burst=5")

    def test_per_originator_limit(self):
        o1, _, ae1 = self.new_ae("Crate")
        codes = [self.cse.retrieve(ae1, origin=o1).rsc for _ in range(30)]
        self.assertIn(5207, codes, "the burst of 5 must be exceeded")
        self.assertIn(2000, codes)
        # another originator is not affected
        self.ok(self.cse.retrieve("/cse-in", origin=ADMIN), 2000)


if __name__ == "__main__":
    m2mtest.main()
