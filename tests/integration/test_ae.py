"""test_ae.py: AE registration and deregistration (TS-0001 10.2.2.2, TS-0004 7.4.5.2; SPEC-MAP
B5): AE-ID assignment for each From form, duplicates, name conflicts, App-ID and representation
validation, the registration policy, and removal of the subtree on deregistration."""

import m2mtest
from m2mtest import ADMIN, CSE_RN, CseTestCase

CB = "/" + CSE_RN


class AeRegistrationTest(CseTestCase):

    def test_register_with_c_stem(self):
        n = self.uniq()
        r = self.cse.register_ae("Cst" + n, "st" + n)
        ae = self.ok(r, 2001)
        self.assertIn("m2m:ae", r.json)
        self.assertEqual(ae.get("aei"), "Cst" + n)
        self.assertEqual(ae.get("ri"), "Cst" + n)
        self.assertEqual(ae.get("rn"), "st" + n)
        self.assertEqual(ae.get("ty"), 2)
        self.assertEqual(ae.get("api"), "Nmyapp")
        self.assertIs(ae.get("rr"), True)
        for attr in ("ct", "lt", "pi"):
            self.assertIn(attr, ae)
        # the AE can read itself; the unstructured address is its AE-ID
        got = self.ok(self.cse.retrieve(CB + "/st" + n, origin="Cst" + n), 2000)
        self.assertEqual(got.get("aei"), "Cst" + n)
        self.ok(self.cse.retrieve("/Cst" + n, origin="Cst" + n), 2000)

    def _assigned(self, origin, prefix):
        rn = self.uniq("as")
        r = self.cse.register_ae(origin, rn)
        ae = self.ok(r, 2001)
        aei = ae.get("aei", "")
        self.assertTrue(aei.startswith(prefix) and len(aei) > 1, r.describe())
        self.assertEqual(ae.get("ri"), aei)
        # the assigned AE-ID works as originator afterwards
        self.ok(self.cse.retrieve(CB + "/" + rn, origin=aei), 2000)
        return aei

    def test_register_with_C_gets_assigned_c_stem(self):
        a = self._assigned("C", "C")
        b = self._assigned("C", "C")
        self.assertNotEqual(a, b)

    def test_register_without_from_gets_assigned_id(self):
        rn = self.uniq("nf")
        r = self.cse.register_ae(None, rn)
        ae = self.ok(r, 2001)
        aei = ae.get("aei", "")
        self.assertRegex(aei, r"^[CS].+", r.describe())

    def test_register_with_S_gets_sp_stem(self):
        a = self._assigned("S", "S")
        b = self._assigned("S", "S")
        self.assertNotEqual(a, b)

    def test_register_with_s_stem(self):
        n = self.uniq()
        aei = self._assigned("Sxyz" + n, "S")
        self.assertNotEqual(aei, "S")

    def test_duplicate_ae_id_4117(self):
        n = self.uniq()
        self.assertRsc(self.cse.register_ae("Cdup" + n, "dupa" + n), 2001)
        self.assertRsc(self.cse.register_ae("Cdup" + n, "dupb" + n), 4117)
        # the second registration left nothing behind
        self.assertRsc(self.cse.retrieve(CB + "/dupb" + n), 4004)

    def test_name_conflict_4105(self):
        n = self.uniq()
        self.assertRsc(self.cse.register_ae("Cnc1" + n, "same" + n), 2001)
        self.assertRsc(self.cse.register_ae("Cnc2" + n, "same" + n), 4105)
        # the name still belongs to the first AE
        ae = self.ok(self.cse.retrieve(CB + "/same" + n), 2000)
        self.assertEqual(ae.get("aei"), "Cnc1" + n)

    def test_api_validation(self):
        # TS-0001 7.1.8 / SPEC-MAP B5.3: App-ID starts with R (r tolerated in Rel-3) or N
        for api in ("Xbad", "bad", "1abc", ""):
            with self.subTest(api=api):
                self.assertRsc(self.cse.register_ae("C" + self.uniq("api"), self.uniq("ap"),
                                                    api=api), 4000)
        for api in ("Ra01.com.example.app", "ra01.com.example.app", "Nk836-t071"):
            with self.subTest(api=api):
                self.assertRsc(self.cse.register_ae("C" + self.uniq("api"), self.uniq("ap"),
                                                    api=api), 2001)

    def test_registration_policy_rejects_other_originators_4126(self):
        # default policy admits C* and S* only; TS-0004 7.3.2.7 -> APP_RULE_VALIDATION_FAILED
        for origin in ("Xfoo", "foo", "Afoo"):
            with self.subTest(origin=origin):
                rn = self.uniq("pol")
                self.assertRsc(self.cse.register_ae(origin, rn), 4126)
                self.assertRsc(self.cse.retrieve(CB + "/" + rn), 4004)

    def test_missing_mandatory_attributes_4000(self):
        for drop in ("rr", "api"):
            with self.subTest(missing=drop):
                ae = {"rn": self.uniq("mm"), "api": "Nmyapp", "rr": True, "srv": ["3"]}
                del ae[drop]
                r = self.cse.create(CB, 2, {"m2m:ae": ae}, origin="C" + self.uniq("mm"))
                self.assertRsc(r, 4000)

    def test_np_attributes_4000(self):
        # TS-0004 7.3.3.4 (Recv-6.4): attributes with NP create access in the representation
        for attr, val in (("ri", "Cforged"), ("ct", "20200101T000000"), ("aei", "Cforged"),
                          ("pi", "id-in"), ("ty", 2), ("lt", "20200101T000000")):
            with self.subTest(attr=attr):
                ae = {"rn": self.uniq("np"), "api": "Nmyapp", "rr": True, "srv": ["3"],
                      attr: val}
                r = self.cse.create(CB, 2, {"m2m:ae": ae}, origin="C" + self.uniq("np"))
                self.assertRsc(r, 4000)

    def test_wrong_attribute_types_4000(self):
        for attr, val in (("rr", "yes"), ("api", 5), ("srv", "3"), ("poa", "http://x")):
            with self.subTest(attr=attr):
                ae = {"rn": self.uniq("wt"), "api": "Nmyapp", "rr": True, "srv": ["3"],
                      attr: val}
                r = self.cse.create(CB, 2, {"m2m:ae": ae}, origin="C" + self.uniq("wt"))
                self.assertRsc(r, 4000)

    def test_wrong_root_name_4000(self):
        r = self.cse.create(CB, 2, {"m2m:cnt": {"rn": self.uniq("wr")}},
                            origin="C" + self.uniq("wr"))
        self.assertRsc(r, 4000)

    def test_deregistration_removes_subtree(self):
        origin, rn, path = self.new_ae()
        cnt, _ = self.new_cnt(path, origin, rn="c1")
        sub, _ = self.new_cnt(cnt, origin, rn="c2")
        r = self.cse.create(sub, 4, {"m2m:cin": {"con": "hello"}}, origin=origin)
        cin_ri = self.ok(r, 2001)["ri"]
        cnt_ri = self.ok(self.cse.retrieve(cnt, origin=origin), 2000)["ri"]
        self.assertRsc(self.cse.delete(path, origin=origin), 2002)
        for p in (path, cnt, sub, "/" + cin_ri, "/" + cnt_ri, "/" + origin):
            with self.subTest(path=p):
                self.assertRsc(self.cse.retrieve(p, origin=ADMIN), 4004)
        # the AE-ID is free again
        self.assertRsc(self.cse.register_ae(origin, rn), 2001)
        self.assertRsc(self.cse.retrieve(cnt, origin=origin), 4004)

    def test_deregistration_by_other_ae_denied(self):
        o1, _, p1 = self.new_ae()
        o2, _, _ = self.new_ae()
        self.assertRsc(self.cse.delete(p1, origin=o2), 4103)
        self.ok(self.cse.retrieve(p1, origin=o1), 2000)

    def test_admin_sees_registered_ae(self):
        origin, rn, path = self.new_ae()
        ae = self.ok(self.cse.retrieve(path, origin=ADMIN), 2000)
        self.assertEqual(ae.get("aei"), origin)


if __name__ == "__main__":
    m2mtest.main()
