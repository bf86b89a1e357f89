"""test_group.py: <group> and its fanOutPoint (TS-0004 7.4.13, 7.4.14): member validation by type
and existence, maxNrOfMembers, and fan-out retrieve returning m2m:agr."""

import m2mtest
from m2mtest import CseTestCase

ABANDON_MEMBER, ABANDON_GROUP, SET_MIXED = 1, 2, 3
MIXED = 0


def agr_rsps(resp):
    """The list of m2m:rsp entries of an aggregated response (TS-0004 7.4.14, 8.4)."""
    agr = resp.json.get("m2m:agr") if isinstance(resp.json, dict) else None
    rsp = agr.get("m2m:rsp") if isinstance(agr, dict) else None
    if isinstance(rsp, dict):
        rsp = [rsp]
    return rsp


class GroupTest(CseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.o = "Cgrp1"
        assert cls.cse.register_ae(cls.o, "grpae").rsc == 2001
        cls.ae = "/cse-in/grpae"

    def setUp(self):
        self.a, ra = self.new_cnt(self.ae, self.o)
        self.b, rb = self.new_cnt(self.ae, self.o)
        self.a_ri, self.b_ri = ra["ri"], rb["ri"]
        for path, con in ((self.a, "from-a"), (self.b, "from-b")):
            r = self.cse.create(path, 4, {"m2m:cin": {"con": con}}, origin=self.o)
            self.assertRsc(r, 2001)

    def group(self, mid, want=2001, **attrs):
        rn = self.uniq("grp")
        body = {"rn": rn, "mt": 3, "mid": mid, "mnm": 10}
        body.update(attrs)
        r = self.cse.create(self.ae, 9, {"m2m:grp": body}, origin=self.o)
        if isinstance(want, int):
            want = (want,)
        self.assertRsc(r, *want)
        return self.ae + "/" + rn, r

    def test_group_create_and_fanout_retrieve(self):
        g, r = self.group([self.a_ri, self.b_ri])
        grp = r.res()
        self.assertEqual(grp.get("ty"), 9)
        self.assertEqual(grp.get("cnm"), 2)
        self.assertEqual(sorted(grp.get("mid")), sorted([self.a_ri, self.b_ri]))
        r = self.cse.retrieve(g + "/fopt", origin=self.o)
        self.assertRsc(r, 2000)
        rsps = agr_rsps(r)
        self.assertIsInstance(rsps, list, r.describe())
        self.assertEqual(len(rsps), 2, r.describe())
        got = {}
        for rsp in rsps:
            self.assertEqual(rsp.get("rsc"), 2000, rsp)
            self.assertIn("to", rsp)
            cnt = rsp.get("pc", {}).get("m2m:cnt", {})
            got[cnt.get("ri")] = rsp
        self.assertEqual(sorted(got), sorted([self.a_ri, self.b_ri]))

    def test_fanout_relative_path(self):
        g, _ = self.group([self.a_ri, self.b_ri])
        r = self.cse.retrieve(g + "/fopt/la", origin=self.o)
        self.assertRsc(r, 2000)
        cons = sorted(rsp.get("pc", {}).get("m2m:cin", {}).get("con") for rsp in agr_rsps(r))
        self.assertEqual(cons, ["from-a", "from-b"])

    def test_fanout_create(self):
        g, _ = self.group([self.a_ri, self.b_ri])
        r = self.cse.create(g + "/fopt", 4, {"m2m:cin": {"con": "fanned"}}, origin=self.o)
        self.assertRsc(r, 2000, 2001)
        self.assertEqual([x.get("rsc") for x in agr_rsps(r)], [2001, 2001])
        for path in (self.a, self.b):
            la = self.ok(self.cse.retrieve(path + "/la", origin=self.o), 2000)
            self.assertEqual(la.get("con"), "fanned")

    def test_fanout_reports_per_member_errors(self):
        g, _ = self.group([self.a_ri, self.b_ri])
        self.assertRsc(self.cse.delete(self.b, origin=self.o), 2002)
        r = self.cse.retrieve(g + "/fopt", origin=self.o)
        self.assertRsc(r, 2000)
        rscs = sorted(x.get("rsc") for x in agr_rsps(r))
        self.assertEqual(rscs, [2000, 4004])

    def test_structured_member_ids(self):
        g, r = self.group([self.a.lstrip("/"), self.b.lstrip("/")])
        self.assertEqual(r.res().get("cnm"), 2)
        self.assertEqual(len(agr_rsps(self.cse.retrieve(g + "/fopt", origin=self.o))), 2)

    def test_wrong_member_type(self):
        ae_ri = self.o  # the AE's ri is its AE-ID
        # TS-0004 7.4.13.2.1 a): ABANDON_GROUP -> GROUP_MEMBER_TYPE_INCONSISTENT (4110)
        g, _ = self.group([self.a_ri, ae_ri], want=4110, csy=ABANDON_GROUP)
        self.assertRsc(self.cse.retrieve(g, origin=self.o), 4004)
        # b): ABANDON_MEMBER (the default) drops the inconsistent member
        g, r = self.group([self.a_ri, ae_ri], csy=ABANDON_MEMBER)
        self.assertEqual(r.res().get("mid"), [self.a_ri])
        self.assertEqual(r.res().get("cnm"), 1)
        # c): SET_MIXED keeps both and sets mt to MIXED (TS-0004 Table 6.3.4.2.x: mixed = 0)
        g, r = self.group([self.a_ri, ae_ri], csy=SET_MIXED)
        self.assertEqual(r.res().get("mt"), MIXED)
        self.assertEqual(r.res().get("cnm"), 2)

    def test_nonexistent_member(self):
        # a member that does not exist cannot conform to mt (TS-0004 7.4.13.2.1): with
        # ABANDON_GROUP the create fails; 4110, or 4004/4000 for the missing target
        g, r = self.group([self.a_ri, "cntDoesNotExist"], want=(4110, 4004, 4000),
                          csy=ABANDON_GROUP)
        self.assertRsc(self.cse.retrieve(g, origin=self.o), 4004)

    def test_max_members_exceeded(self):
        # TS-0004 7.4.13.2.1: MAX_NUMBER_OF_MEMBER_EXCEEDED (6010)
        g, _ = self.group([self.a_ri, self.b_ri], want=(6010, 4000), mnm=1)
        self.assertRsc(self.cse.retrieve(g, origin=self.o), 4004)
        # update adding members beyond mnm, and lowering mnm below cnm (7.4.13.2.3)
        g, _ = self.group([self.a_ri], mnm=1)
        r = self.cse.update(g, {"m2m:grp": {"mid": [self.a_ri, self.b_ri]}}, origin=self.o)
        self.assertRsc(r, 6010, 4000)
        g, _ = self.group([self.a_ri, self.b_ri], mnm=2)
        self.assertRsc(self.cse.update(g, {"m2m:grp": {"mnm": 1}}, origin=self.o), 6010, 4000)

    def test_duplicate_members_removed(self):
        g, r = self.group([self.a_ri, self.a_ri, self.b_ri])
        self.assertEqual(r.res().get("cnm"), 2)
        self.assertEqual(len(agr_rsps(self.cse.retrieve(g + "/fopt", origin=self.o))), 2)

    def test_group_validation(self):
        # mid is mandatory; mt optional (default MIXED) but typed
        for body in ({"mt": 3}, {"mt": "three", "mid": []},
                     {"mt": 3, "mid": "notalist"}):
            with self.subTest(body=body):
                r = self.cse.create(self.ae, 9, {"m2m:grp": dict(body, rn=self.uniq("gv"))},
                                    origin=self.o)
                self.assertRsc(r, 4000)

    def test_fanout_denied_members_for_other_ae(self):
        g, _ = self.group([self.a_ri, self.b_ri])
        other = "Cgrpx" + self.uniq()
        self.assertRsc(self.cse.register_ae(other, self.uniq("gx")), 2001)
        self.assertRsc(self.cse.retrieve(g + "/fopt", origin=other), 4103)


if __name__ == "__main__":
    m2mtest.main()
