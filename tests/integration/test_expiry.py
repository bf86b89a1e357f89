"""test_expiry.py: expirationTime (TS-0001 9.6.1.3, TS-0004 7.3.3.x): et in the past is refused,
a resource and its subtree disappear once et passes, et updates extend the lifetime."""

import time

import m2mtest
from m2mtest import ADMIN, CseTestCase, utc_ts


class ExpiryTest(CseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.o = "Cexp1"
        assert cls.cse.register_ae(cls.o, "expae").rsc == 2001
        cls.ae = "/cse-in/expae"

    def gone(self, path):
        return self.cse.retrieve(path, origin=ADMIN).rsc == 4004

    def test_et_in_past_rejected(self):
        for et in (utc_ts(-3600), "20000101T000000"):
            with self.subTest(et=et):
                rn = self.uniq("past")
                r = self.cse.create(self.ae, 3, {"m2m:cnt": {"rn": rn, "et": et}}, origin=self.o)
                self.assertRsc(r, 4000)
                self.assertRsc(self.cse.retrieve(self.ae + "/" + rn, origin=self.o), 4004)

    def test_malformed_et_rejected(self):
        for et in ("tomorrow", "2030-01-01T00:00:00Z", "20301301T000000", 12345):
            with self.subTest(et=et):
                r = self.cse.create(self.ae, 3, {"m2m:cnt": {"rn": self.uniq("bad"), "et": et}},
                                    origin=self.o)
                self.assertRsc(r, 4000)

    def test_et_update_to_past_rejected(self):
        cnt, _ = self.new_cnt(self.ae, self.o, et=utc_ts(3600))
        r = self.cse.update(cnt, {"m2m:cnt": {"et": utc_ts(-60)}}, origin=self.o)
        self.assertRsc(r, 4000)
        self.assertRsc(self.cse.retrieve(cnt, origin=self.o), 2000)

    def test_resource_and_subtree_expire(self):
        cnt, res = self.new_cnt(self.ae, self.o, et=utc_ts(2))
        self.assertTrue(res.get("et"), res)
        inner, inner_res = self.new_cnt(cnt, self.o)
        r = self.cse.create(inner, 4, {"m2m:cin": {"con": "ephemeral"}}, origin=self.o)
        cin_ri = self.ok(r, 2001)["ri"]
        # a sibling without et stays
        keep, _ = self.new_cnt(self.ae, self.o)
        self.assertRsc(self.cse.retrieve(cnt, origin=self.o), 2000)
        self.wait_until(lambda: self.gone(cnt), 12, 0.2, "expiry of %s" % cnt)
        for p in (inner, "/" + inner_res["ri"], "/" + res["ri"], "/" + cin_ri):
            with self.subTest(path=p):
                self.assertRsc(self.cse.retrieve(p, origin=ADMIN), 4004)
        self.assertRsc(self.cse.retrieve(keep, origin=self.o), 2000)
        # the name is free again
        rn = cnt.rsplit("/", 1)[1]
        self.assertRsc(self.cse.create(self.ae, 3, {"m2m:cnt": {"rn": rn}}, origin=self.o), 2001)

    def test_expiry_is_timely(self):
        # present before et, gone within a few seconds after it (sweep interval + slack)
        t0 = time.time()
        cnt, _ = self.new_cnt(self.ae, self.o, et=utc_ts(4))  # et in (t0+3, t0+4]
        time.sleep(max(0.0, t0 + 2 - time.time()))
        self.assertRsc(self.cse.retrieve(cnt, origin=self.o), 2000)
        self.wait_until(lambda: self.gone(cnt), max(1.0, t0 + 7 - time.time()), 0.1,
                        "expiry within 3 s after et")

    def test_cin_expires_inside_container(self):
        cnt, _ = self.new_cnt(self.ae, self.o)
        r = self.cse.create(cnt, 4, {"m2m:cin": {"con": "short", "et": utc_ts(2)}}, origin=self.o)
        self.ok(r, 2001)
        r = self.cse.create(cnt, 4, {"m2m:cin": {"con": "long"}}, origin=self.o)
        self.ok(r, 2001)
        self.wait_until(lambda: self.ok(self.cse.retrieve(cnt, origin=self.o), 2000)
                        .get("cni") == 1, 12, 0.2, "expiry of the short-lived cin")
        ol = self.ok(self.cse.retrieve(cnt + "/ol", origin=self.o), 2000)
        self.assertEqual(ol.get("con"), "long")
        self.assertEqual(self.ok(self.cse.retrieve(cnt, origin=self.o), 2000).get("cbs"), 4)

    def test_et_extension_by_update(self):
        cnt, _ = self.new_cnt(self.ae, self.o, et=utc_ts(3))  # 2..3 s ahead
        self.ok(self.cse.update(cnt, {"m2m:cnt": {"et": utc_ts(3600)}}, origin=self.o), 2004)
        time.sleep(4.0)
        self.assertRsc(self.cse.retrieve(cnt, origin=self.o), 2000)

    def test_expired_ae_deregistered(self):
        n = self.uniq()
        r = self.cse.register_ae("Cexpae" + n, "eae" + n, extra={"et": utc_ts(2)})
        self.assertRsc(r, 2001)
        self.wait_until(lambda: self.gone("/cse-in/eae" + n), 12, 0.2, "AE expiry")
        # the AE-ID can register again
        self.assertRsc(self.cse.register_ae("Cexpae" + n, "eae" + n), 2001)


if __name__ == "__main__":
    m2mtest.main()
