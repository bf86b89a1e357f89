"""test_container.py: <container> and <contentInstance> behaviour (TS-0004 7.4.6, 7.4.7):
CRUD, virtual la/ol, mni/mbs housekeeping with cni/cbs, cin update refused, rcn variants."""

import m2mtest
from m2mtest import ADMIN, CseTestCase


def children(res, key="m2m:cin"):
    """Child resources embedded in a rcn=4/8 representation (TS-0004 8.4: "m2m:cin": [...])."""
    v = res.get(key) if isinstance(res, dict) else None
    if isinstance(v, dict):
        return [v]
    return v if isinstance(v, list) else []


class ContainerTest(CseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.origin = "Ccnt1"
        r = cls.cse.register_ae(cls.origin, "cntae")
        assert r.rsc == 2001, r.describe()
        cls.ae = "/cse-in/cntae"

    def cin(self, cnt, con, want=2001, **attrs):
        body = {"con": con}
        body.update(attrs)
        r = self.cse.create(cnt, 4, {"m2m:cin": body}, origin=self.origin)
        return self.ok(r, want)

    def get(self, path, want=2000, **q):
        return self.ok(self.cse.retrieve(path, origin=self.origin, query=q or None), want)

    def test_container_crud(self):
        rn = self.uniq("crud")
        r = self.cse.create(self.ae, 3, {"m2m:cnt": {"rn": rn, "lbl": ["a"], "mni": 10}},
                            origin=self.origin)
        cnt = self.ok(r, 2001)
        self.assertIn("m2m:cnt", r.json)
        self.assertEqual(cnt.get("ty"), 3)
        self.assertEqual(cnt.get("rn"), rn)
        self.assertEqual(cnt.get("cni"), 0)
        self.assertEqual(cnt.get("cbs"), 0)
        self.assertEqual(cnt.get("mni"), 10)
        path = self.ae + "/" + rn
        got = self.get(path)
        self.assertEqual(got.get("ri"), cnt.get("ri"))
        self.assertEqual(got.get("lbl"), ["a"])
        r = self.cse.update(path, {"m2m:cnt": {"lbl": ["b", "c"], "mni": 20}}, origin=self.origin)
        upd = self.ok(r, 2004)
        self.assertEqual(upd.get("lbl"), ["b", "c"])
        got = self.get(path)
        self.assertEqual(got.get("lbl"), ["b", "c"])
        self.assertEqual(got.get("mni"), 20)
        self.assertGreaterEqual(got.get("lt", "")[:15], cnt.get("lt", "")[:15])
        # update with NP attribute -> 4000; unknown attribute -> 4000
        self.assertRsc(self.cse.update(path, {"m2m:cnt": {"ri": "x"}}, origin=self.origin), 4000)
        self.assertRsc(self.cse.update(path, {"m2m:cnt": {"cni": 5}}, origin=self.origin), 4000)
        self.assertRsc(self.cse.update(path, {"m2m:cnt": {"zzz": 1}}, origin=self.origin), 4000)
        self.assertRsc(self.cse.delete(path, origin=self.origin), 2002)
        self.assertRsc(self.cse.retrieve(path, origin=self.origin), 4004)
        self.assertRsc(self.cse.delete(path, origin=self.origin), 4004)

    def test_cin_create_and_attributes(self):
        path, _ = self.new_cnt(self.ae, self.origin)
        cin = self.cin(path, "hello", cnf="text/plain:0")
        self.assertEqual(cin.get("ty"), 4)
        self.assertEqual(cin.get("con"), "hello")
        self.assertEqual(cin.get("cs"), 5)
        got = self.get("/" + cin["ri"])
        self.assertEqual(got.get("con"), "hello")
        cnt = self.get(path)
        self.assertEqual(cnt.get("cni"), 1)
        self.assertEqual(cnt.get("cbs"), 5)

    def test_la_ol(self):
        path, _ = self.new_cnt(self.ae, self.origin)
        self.assertRsc(self.cse.retrieve(path + "/la", origin=self.origin), 4004)
        self.assertRsc(self.cse.retrieve(path + "/ol", origin=self.origin), 4004)
        for v in ("one", "two", "three"):
            self.cin(path, v)
        self.assertEqual(self.get(path + "/la").get("con"), "three")
        self.assertEqual(self.get(path + "/ol").get("con"), "one")
        # deleting via la removes the newest
        self.assertRsc(self.cse.delete(path + "/la", origin=self.origin), 2002)
        self.assertEqual(self.get(path + "/la").get("con"), "two")
        cnt = self.get(path)
        self.assertEqual(cnt.get("cni"), 2)
        self.assertEqual(cnt.get("cbs"), 6)

    def test_mni_keeps_newest(self):
        path, _ = self.new_cnt(self.ae, self.origin, mni=3)
        ris = [self.cin(path, "v%d" % i)["ri"] for i in range(5)]
        cnt = self.get(path)
        self.assertEqual(cnt.get("cni"), 3)
        self.assertEqual(cnt.get("cbs"), 6)
        self.assertEqual(self.get(path + "/ol").get("con"), "v2")
        self.assertEqual(self.get(path + "/la").get("con"), "v4")
        for ri in ris[:2]:
            self.assertRsc(self.cse.retrieve("/" + ri, origin=self.origin), 4004)
        kids = children(self.get(path, rcn=4))
        self.assertEqual(sorted(k.get("con") for k in kids), ["v2", "v3", "v4"])

    def test_mbs(self):
        path, _ = self.new_cnt(self.ae, self.origin, mbs=10)
        # TS-0004 7.4.7.2.1: content larger than mbs -> NOT_ACCEPTABLE (5207)
        self.cin(path, "x" * 11, want=5207)
        self.assertEqual(self.get(path).get("cni"), 0)
        self.cin(path, "aaaaaa")
        self.cin(path, "bbbbbb")  # 12 bytes > 10: the oldest goes
        cnt = self.get(path)
        self.assertEqual(cnt.get("cni"), 1)
        self.assertEqual(cnt.get("cbs"), 6)
        self.assertEqual(self.get(path + "/ol").get("con"), "bbbbbb")
        self.cin(path, "cccc")  # 10 bytes fits exactly
        cnt = self.get(path)
        self.assertEqual(cnt.get("cni"), 2)
        self.assertEqual(cnt.get("cbs"), 10)

    def test_cin_update_refused(self):
        path, _ = self.new_cnt(self.ae, self.origin)
        cin = self.cin(path, "fixed")
        # TS-0004 7.4.7.2.3: contentInstance update -> OPERATION_NOT_ALLOWED
        r = self.cse.update("/" + cin["ri"], {"m2m:cin": {"con": "changed"}}, origin=self.origin)
        self.assertRsc(r, 4005)
        self.assertEqual(self.get("/" + cin["ri"]).get("con"), "fixed")
        r = self.cse.update(path + "/la", {"m2m:cin": {"con": "changed"}}, origin=self.origin)
        self.assertRsc(r, 4005)

    def test_cin_delete_updates_counters(self):
        path, _ = self.new_cnt(self.ae, self.origin)
        a = self.cin(path, "12345")
        self.cin(path, "123")
        self.assertRsc(self.cse.delete("/" + a["ri"], origin=self.origin), 2002)
        cnt = self.get(path)
        self.assertEqual(cnt.get("cni"), 1)
        self.assertEqual(cnt.get("cbs"), 3)

    def test_rcn(self):
        path, _ = self.new_cnt(self.ae, self.origin)
        for v in ("r1", "r2"):
            self.cin(path, v)
        attrs = self.get(path, rcn=1)
        self.assertEqual(children(attrs), [])
        both = self.get(path, rcn=4)
        self.assertEqual(both.get("ty"), 3)
        self.assertEqual(sorted(k.get("con") for k in children(both)), ["r1", "r2"])
        r = self.cse.retrieve(path, origin=self.origin, query={"rcn": 8})
        self.assertRsc(r, 2000)
        self.assertIn("r1", r.raw.decode("utf-8", "replace"))
        self.assertRsc(self.cse.retrieve(path, origin=self.origin, query={"rcn": 99}), 4000)

    def test_invalid_container_attributes_4000(self):
        for attrs in ({"mni": -1}, {"mni": "3"}, {"mbs": -5}, {"lbl": "notalist"},
                      {"ri": "forged"}, {"cni": 0}, {"cbs": 0}):
            with self.subTest(attrs=attrs):
                body = {"rn": self.uniq("bad")}
                body.update(attrs)
                r = self.cse.create(self.ae, 3, {"m2m:cnt": body}, origin=self.origin)
                self.assertRsc(r, 4000)

    def test_cin_without_con_4000(self):
        path, _ = self.new_cnt(self.ae, self.origin)
        r = self.cse.create(path, 4, {"m2m:cin": {"cnf": "text/plain:0"}}, origin=self.origin)
        self.assertRsc(r, 4000)

    def test_nested_containers_and_name_conflict(self):
        path, _ = self.new_cnt(self.ae, self.origin)
        inner, _ = self.new_cnt(path, self.origin, rn="inner")
        r = self.cse.create(path, 3, {"m2m:cnt": {"rn": "inner"}}, origin=self.origin)
        self.assertRsc(r, 4105)
        self.cin(inner, "deep")
        self.assertEqual(self.get(inner + "/la").get("con"), "deep")
        # deleting the outer container removes the inner one and its instances
        self.assertRsc(self.cse.delete(path, origin=self.origin), 2002)
        self.assertRsc(self.cse.retrieve(inner, origin=ADMIN), 4004)

    def test_invalid_child_type(self):
        # an AE cannot be created under a container; cin cannot be created under an AE
        # (TS-0004 7.2.2.2 Recv-6.4 -> INVALID_CHILD_RESOURCE_TYPE 4108)
        path, _ = self.new_cnt(self.ae, self.origin)
        r = self.cse.create(path, 2, {"m2m:ae": {"rn": "x", "api": "Nx", "rr": True,
                                                 "srv": ["3"]}}, origin=self.origin)
        self.assertRsc(r, 4108)
        r = self.cse.create(self.ae, 4, {"m2m:cin": {"con": "x"}}, origin=self.origin)
        self.assertRsc(r, 4108)


if __name__ == "__main__":
    m2mtest.main()
