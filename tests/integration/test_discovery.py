"""test_discovery.py: resource discovery (TS-0004 7.3.3.17, 8.1.2 filterCriteria; TS-0009 6.2.2.2
query mapping): fu=1 with ty, lbl, lim, ofst, lvl, crb/cra, drt, and the m2m:uril result."""

import time

import m2mtest
from m2mtest import ADMIN, CseTestCase, norm_uri, uril


class DiscoveryTest(CseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.cse
        cls.o = "Cdisc1"
        assert c.register_ae(cls.o, "disc").rsc == 2001
        cls.ae = "/cse-in/disc"
        # disc/{red1, red2, blue1}, red1/{inner(red)}, red1 holds 2 cins
        cls.ri = {}

        def mk(parent, rn, ty, body):
            r = c.create(parent, ty, body, origin=cls.o)
            assert r.rsc == 2001, r.describe()
            path = parent + "/" + rn if rn else parent + "/" + r.res()["rn"]
            cls.ri[path] = r.res()["ri"]
            return path, r.res()

        cls.red1, _ = mk(cls.ae, "red1", 3, {"m2m:cnt": {"rn": "red1", "lbl": ["color/red"]}})
        cls.red2, _ = mk(cls.ae, "red2", 3, {"m2m:cnt": {"rn": "red2",
                                                         "lbl": ["color/red", "big"]}})
        cls.blue1, _ = mk(cls.ae, "blue1", 3, {"m2m:cnt": {"rn": "blue1", "lbl": ["color/blue"]}})
        cls.inner, _ = mk(cls.red1, "inner", 3, {"m2m:cnt": {"rn": "inner",
                                                             "lbl": ["color/red"]}})
        cls.cins = [mk(cls.red1, None, 4, {"m2m:cin": {"con": "c%d" % i}})[0] for i in range(2)]
        # creation-time split for crb/cra: a second boundary strictly between two batches
        time.sleep(1.2)
        cls.t_mid = m2mtest.utc_ts()
        time.sleep(1.2)
        cls.late, _ = mk(cls.ae, "late", 3, {"m2m:cnt": {"rn": "late", "lbl": ["color/green"]}})

    def disc(self, target=None, want=2000, origin=None, **fc):
        r = self.cse.discover(target or self.ae, origin=origin or self.o, **fc)
        self.assertRsc(r, want)
        if want == 2000:
            self.assertIn("m2m:uril", r.json, r.describe())
            lst = uril(r)
            self.assertIsInstance(lst, list, r.describe())
            return lst
        return None

    def paths(self, lst):
        return sorted(norm_uri(u) for u in lst)

    def want(self, *paths):
        return sorted(norm_uri(p) for p in paths)

    def test_ty_filter(self):
        self.assertEqual(self.paths(self.disc(ty=3)),
                         self.want(self.red1, self.red2, self.blue1, self.inner, self.late))
        self.assertEqual(self.paths(self.disc(ty=4)), self.want(*self.cins))
        self.assertEqual(self.disc(ty=23), [])

    def test_multiple_ty_values(self):
        got = self.paths(self.disc(ty=[3, 4]))
        self.assertEqual(got, self.want(self.red1, self.red2, self.blue1, self.inner, self.late,
                                        *self.cins))

    def test_label_filter(self):
        self.assertEqual(self.paths(self.disc(lbl="color/red")),
                         self.want(self.red1, self.red2, self.inner))
        self.assertEqual(self.paths(self.disc(lbl="big")), self.want(self.red2))
        self.assertEqual(self.disc(lbl="nonexistent-label"), [])
        # ty AND lbl
        self.assertEqual(self.paths(self.disc(ty=3, lbl="color/blue")), self.want(self.blue1))

    def test_lim_and_ofst(self):
        full = self.disc(ty=3)
        self.assertEqual(len(full), 5)
        lim2 = self.disc(ty=3, lim=2)
        self.assertEqual(len(lim2), 2)
        self.assertTrue(set(lim2) <= set(full))
        # TS-0004 7.3.3.17.15 (offset): "skip over" N vs "offset 1 = the first" is ambiguous;
        # accept either reading, but the result must be a suffix of the unlimited list
        off = self.disc(ty=3, ofst=2)
        self.assertIn(off, (full[1:], full[2:]), (full, off))
        page = self.disc(ty=3, ofst=2, lim=2)
        self.assertEqual(len(page), 2)
        self.assertTrue(page == off[:2], (off, page))
        self.assertRsc(self.cse.discover(self.ae, origin=self.o, ty=3, lim=-1), 4000)

    def test_level(self):
        # lvl=1: direct children of the target only
        self.assertEqual(self.paths(self.disc(ty=3, lvl=1)),
                         self.want(self.red1, self.red2, self.blue1, self.late))
        self.assertEqual(self.paths(self.disc(ty=3, lvl=2)),
                         self.want(self.red1, self.red2, self.blue1, self.inner, self.late))
        self.assertEqual(self.paths(self.disc(target=self.red1, ty=4, lvl=1)),
                         self.want(*self.cins))

    def test_created_before_after(self):
        early = self.want(self.red1, self.red2, self.blue1, self.inner)
        self.assertEqual(self.paths(self.disc(ty=3, crb=self.t_mid)), early)
        self.assertEqual(self.paths(self.disc(ty=3, cra=self.t_mid)), self.want(self.late))
        self.assertRsc(self.cse.discover(self.ae, origin=self.o, crb="yesterday"), 4000)

    def test_drt_structured_and_unstructured(self):
        structured = self.disc(ty=3, lbl="big", drt=1)
        self.assertEqual(self.paths(structured), self.want(self.red2))
        unstructured = self.disc(ty=3, lbl="big", drt=2)
        self.assertEqual([norm_uri(u) for u in unstructured], [self.ri[self.red2]])
        # default is structured (TS-0004 7.3.3.17: drt default 1)
        self.assertEqual(self.paths(self.disc(ty=3, lbl="big")), self.want(self.red2))
        self.assertRsc(self.cse.discover(self.ae, origin=self.o, drt=7), 4000)
        # each unstructured result is retrievable as "/<ri>"
        for u in self.disc(ty=3, drt=2):
            self.assertRsc(self.cse.retrieve("/" + norm_uri(u), origin=self.o), 2000)

    def test_results_are_retrievable(self):
        for u in self.disc(ty=3):
            with self.subTest(uri=u):
                self.assertRsc(self.cse.retrieve("/" + norm_uri(u), origin=self.o), 2000)

    def test_discovery_from_csebase_as_admin(self):
        got = self.paths(self.disc(target="/cse-in", origin=ADMIN, lbl="color/red"))
        self.assertEqual(got, self.want(self.red1, self.red2, self.inner))

    def test_fu2_is_plain_retrieve(self):
        r = self.cse.retrieve(self.red1, origin=self.o, query={"fu": 2})
        self.assertRsc(r, 2000)
        self.assertIn("m2m:cnt", r.json)

    def test_bad_filter_values_4000(self):
        for fc in ({"ty": "abc"}, {"lim": "x"}, {"lvl": -1}, {"ofst": "?"}, {"fu": 9}):
            with self.subTest(fc=fc):
                r = self.cse.retrieve(self.ae, origin=self.o,
                                      query=dict({"fu": 1}, **fc))
                self.assertRsc(r, 4000)

    def test_discovery_on_missing_target_4004(self):
        self.assertRsc(self.cse.discover(self.ae + "/nope", origin=self.o, ty=3), 4004)


if __name__ == "__main__":
    m2mtest.main()
