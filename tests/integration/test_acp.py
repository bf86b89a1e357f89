"""test_acp.py: access control over HTTP (TS-0003 7.1, TS-0001 9.6.2/10.2.3; SPEC-MAP A1-A13):
default policy, existence before privilege, <accessControlPolicy> create/validation, linking via
acpi (checked against pvs), grant and revoke, ACP self-privileges, the admin originator, and
discovery filtering."""

import m2mtest
from m2mtest import ADMIN, CseTestCase, norm_uri, uril

CREATE, RETRIEVE, UPDATE, DELETE, NOTIFY, DISCOVERY = 1, 2, 4, 8, 16, 32


def acp_body(rn, pv, pvs):
    """pv/pvs: lists of (originators, acop)."""
    def acrs(rules):
        return {"acr": [{"acor": list(o), "acop": op} for o, op in rules]}
    return {"m2m:acp": {"rn": rn, "pv": acrs(pv), "pvs": acrs(pvs)}}


class AcpTest(CseTestCase):

    def setUp(self):
        # owner AE with a container, and an unrelated (registered) AE
        self.o1, _, self.ae1 = self.new_ae("Cown")
        self.o2, _, self.ae2 = self.new_ae("Coth")
        self.cnt, res = self.new_cnt(self.ae1, self.o1, rn="data")
        self.cnt_ri = res["ri"]
        r = self.cse.create(self.cnt, 4, {"m2m:cin": {"con": "secret"}}, origin=self.o1)
        self.cin_ri = self.ok(r, 2001)["ri"]

    def make_acp(self, pv, pvs, parent=None, origin=None, want=2001):
        rn = self.uniq("acp")
        r = self.cse.create(parent or self.ae1, 1, acp_body(rn, pv, pvs), origin=origin or self.o1)
        res = self.ok(r, want)
        return ((parent or self.ae1) + "/" + rn, res["ri"]) if want == 2001 else (None, None)

    def link(self, path, acp_ris, origin=None, want=2004):
        r = self.cse.update(path, {"m2m:cnt": {"acpi": acp_ris}}, origin=origin or self.o1)
        self.assertRsc(r, want)
        return r

    # -- default policy (A3.3c) --------------------------------------------------------
    def test_default_policy_denies_other_ae(self):
        o2 = self.o2
        self.assertRsc(self.cse.retrieve(self.cnt, origin=o2), 4103)
        self.assertRsc(self.cse.retrieve("/" + self.cnt_ri, origin=o2), 4103)
        self.assertRsc(self.cse.update(self.cnt, {"m2m:cnt": {"lbl": ["x"]}}, origin=o2), 4103)
        self.assertRsc(self.cse.delete(self.cnt, origin=o2), 4103)
        r = self.cse.create(self.cnt, 4, {"m2m:cin": {"con": "intruder"}}, origin=o2)
        self.assertRsc(r, 4103)
        r = self.cse.create(self.cnt, 3, {"m2m:cnt": {"rn": "sub"}}, origin=o2)
        self.assertRsc(r, 4103)
        # contentInstance has no acpi: the parent container's policy applies (A3.3a)
        self.assertRsc(self.cse.retrieve("/" + self.cin_ri, origin=o2), 4103)
        self.assertRsc(self.cse.retrieve(self.cnt + "/la", origin=o2), 4103)
        self.assertRsc(self.cse.retrieve(self.ae1, origin=o2), 4103)
        # nothing changed, the owner still has everything
        cnt = self.ok(self.cse.retrieve(self.cnt, origin=self.o1), 2000)
        self.assertNotIn("x", cnt.get("lbl") or [])
        self.assertEqual(cnt.get("cni"), 1)

    def test_not_found_before_no_privilege(self):
        # TS-0004 7.2.2.2 Recv-6.2 precedes Recv-6.3 (SPEC-MAP A12, TV3.4)
        for path in (self.cnt + "/missing", self.ae1 + "/missing", "/missing-ri-404"):
            with self.subTest(path=path):
                self.assertRsc(self.cse.retrieve(path, origin=self.o2), 4004)
                self.assertRsc(self.cse.delete(path, origin=self.o2), 4004)
                self.assertRsc(self.cse.update(path, {"m2m:cnt": {"lbl": ["x"]}},
                                               origin=self.o2), 4004)

    def test_admin_can_do_everything(self):
        self.ok(self.cse.retrieve(self.cnt, origin=ADMIN), 2000)
        self.ok(self.cse.update(self.cnt, {"m2m:cnt": {"lbl": ["adm"]}}, origin=ADMIN), 2004)
        self.ok(self.cse.create(self.cnt, 4, {"m2m:cin": {"con": "a"}}, origin=ADMIN), 2001)
        acp, acp_ri = self.make_acp([([self.o1], 63)], [([self.o1], 63)])
        self.ok(self.cse.retrieve(acp, origin=ADMIN), 2000)
        self.ok(self.cse.update(self.cnt, {"m2m:cnt": {"acpi": [acp_ri]}}, origin=ADMIN), 2004)
        self.ok(self.cse.update(acp, {"m2m:acp": {"lbl": ["adm"]}}, origin=ADMIN), 2004)
        self.assertRsc(self.cse.delete(self.cnt, origin=ADMIN), 2002)
        self.assertRsc(self.cse.delete(acp, origin=ADMIN), 2002)
        self.assertRsc(self.cse.delete(self.ae1, origin=ADMIN), 2002)

    # -- ACP resource validation (A1, A2) ------------------------------------------------
    def test_acp_create_validation(self):
        bad = [
            ("pvs empty", {"pv": {"acr": []}, "pvs": {"acr": []}}),
            ("pvs missing", {"pv": {"acr": [{"acor": [self.o2], "acop": 2}]}}),
            ("pv missing", {"pvs": {"acr": [{"acor": [self.o1], "acop": 63}]}}),
            ("acop 0", {"pv": {"acr": [{"acor": [self.o2], "acop": 0}]},
                        "pvs": {"acr": [{"acor": [self.o1], "acop": 63}]}}),
            ("acop 64", {"pv": {"acr": [{"acor": [self.o2], "acop": 64}]},
                         "pvs": {"acr": [{"acor": [self.o1], "acop": 63}]}}),
            ("pvs acop 64", {"pv": {"acr": []},
                             "pvs": {"acr": [{"acor": [self.o1], "acop": 64}]}}),
            ("acop string", {"pv": {"acr": [{"acor": [self.o2], "acop": "2"}]},
                             "pvs": {"acr": [{"acor": [self.o1], "acop": 63}]}}),
            ("acor not list", {"pv": {"acr": [{"acor": self.o2, "acop": 2}]},
                               "pvs": {"acr": [{"acor": [self.o1], "acop": 63}]}}),
            ("unknown member", {"pv": {"acr": [{"acor": [self.o2], "acop": 2, "zz": 1}]},
                                "pvs": {"acr": [{"acor": [self.o1], "acop": 63}]}}),
        ]
        for name, body in bad:
            with self.subTest(case=name):
                body = dict(body, rn=self.uniq("bad"))
                r = self.cse.create(self.ae1, 1, {"m2m:acp": body}, origin=self.o1)
                self.assertRsc(r, 4000)
                self.assertRsc(self.cse.retrieve(self.ae1 + "/" + body["rn"], origin=ADMIN),
                               4004)
        # empty pv is legal (SPEC-MAP A1: grants nothing)
        self.make_acp([], [([self.o1], 63)])

    def test_acp_update_validation(self):
        acp, _ = self.make_acp([([self.o2], RETRIEVE)], [([self.o1], 63)])
        for body in ({"pvs": {"acr": []}}, {"pv": {"acr": [{"acor": [self.o2], "acop": 0}]}},
                     {"pv": {"acr": [{"acor": [self.o2], "acop": 64}]}}):
            with self.subTest(body=body):
                r = self.cse.update(acp, {"m2m:acp": body}, origin=self.o1)
                self.assertRsc(r, 4000)
        # the ACP is unchanged: still retrievable by its pvs originator
        self.ok(self.cse.retrieve(acp, origin=self.o1), 2000)

    def test_acp_create_by_other_ae_denied(self):
        # creating an ACP under ae1 is a CREATE on ae1: default policy -> denied for ae2
        r = self.cse.create(self.ae1, 1, acp_body("intr", [([self.o2], 63)], [([self.o2], 63)]),
                            origin=self.o2)
        self.assertRsc(r, 4103)

    # -- linking, grant, revoke (A3.2, A11) ------------------------------------------------
    def test_grant_retrieve_only(self):
        acp, acp_ri = self.make_acp([([self.o2], RETRIEVE), ([self.o1], 63)],
                                    [([self.o1], 63)])
        self.link(self.cnt, [acp_ri])
        got = self.ok(self.cse.retrieve(self.cnt, origin=self.o2), 2000)
        self.assertEqual(got.get("ri"), self.cnt_ri)
        # cin inherits the container's policy
        self.ok(self.cse.retrieve("/" + self.cin_ri, origin=self.o2), 2000)
        self.ok(self.cse.retrieve(self.cnt + "/la", origin=self.o2), 2000)
        self.assertRsc(self.cse.update(self.cnt, {"m2m:cnt": {"lbl": ["x"]}}, origin=self.o2),
                       4103)
        self.assertRsc(self.cse.delete(self.cnt, origin=self.o2), 4103)
        r = self.cse.create(self.cnt, 4, {"m2m:cin": {"con": "no"}}, origin=self.o2)
        self.assertRsc(r, 4103)
        self.assertRsc(self.cse.delete("/" + self.cin_ri, origin=self.o2), 4103)
        # the owner is in pv with all operations
        self.ok(self.cse.update(self.cnt, {"m2m:cnt": {"lbl": ["own"]}}, origin=self.o1), 2004)

    def test_linked_acp_replaces_default_policy(self):
        # SPEC-MAP A3.3b: once acpi is set only pv rules count -- creator not in pv loses access
        acp, acp_ri = self.make_acp([([self.o2], RETRIEVE)], [([self.o1], 63)])
        self.link(self.cnt, [acp_ri])
        self.assertRsc(self.cse.retrieve(self.cnt, origin=self.o1), 4103)
        self.ok(self.cse.retrieve(self.cnt, origin=self.o2), 2000)
        # but o1 is in pvs, so it may still change acpi (A3.2) and get access back
        acp2, acp2_ri = self.make_acp([([self.o1], 63)], [([self.o1], 63)])
        self.link(self.cnt, [acp2_ri])
        self.ok(self.cse.retrieve(self.cnt, origin=self.o1), 2000)
        self.assertRsc(self.cse.retrieve(self.cnt, origin=self.o2), 4103)

    def test_revoke_by_updating_pv(self):
        acp, acp_ri = self.make_acp([([self.o2], RETRIEVE), ([self.o1], 63)],
                                    [([self.o1], 63)])
        self.link(self.cnt, [acp_ri])
        self.ok(self.cse.retrieve(self.cnt, origin=self.o2), 2000)
        r = self.cse.update(acp, {"m2m:acp": {"pv": {"acr": [{"acor": [self.o1], "acop": 63}]}}},
                            origin=self.o1)
        self.ok(r, 2004)
        # the very next request is judged by the new rules
        self.assertRsc(self.cse.retrieve(self.cnt, origin=self.o2), 4103)
        self.assertRsc(self.cse.retrieve("/" + self.cin_ri, origin=self.o2), 4103)
        # grant again: widen to RETRIEVE|UPDATE
        r = self.cse.update(acp, {"m2m:acp": {"pv": {"acr": [
            {"acor": [self.o1], "acop": 63}, {"acor": [self.o2], "acop": RETRIEVE | UPDATE}]}}},
            origin=self.o1)
        self.ok(r, 2004)
        self.ok(self.cse.update(self.cnt, {"m2m:cnt": {"lbl": ["by2"]}}, origin=self.o2), 2004)
        self.assertRsc(self.cse.delete(self.cnt, origin=self.o2), 4103)

    def test_acpi_update_must_be_alone(self):
        acp, acp_ri = self.make_acp([([self.o1], 63)], [([self.o1], 63)])
        # SPEC-MAP A3.2 [INTERP]: acpi mixed with another attribute -> 4000
        r = self.cse.update(self.cnt, {"m2m:cnt": {"acpi": [acp_ri], "lbl": ["x"]}},
                            origin=self.o1)
        self.assertRsc(r, 4000)
        cnt = self.ok(self.cse.retrieve(self.cnt, origin=self.o1), 2000)
        self.assertFalse(cnt.get("acpi"))
        self.assertNotIn("x", cnt.get("lbl") or [])

    def test_linking_checked_against_default_then_pvs(self):
        acp, acp_ri = self.make_acp([([self.o1, self.o2], 63)], [([self.o1], 63)])
        # no ACP linked yet: default policy -> only the creator may set acpi
        self.link(self.cnt, [acp_ri], origin=self.o2, want=4103)
        self.link(self.cnt, [acp_ri], origin=self.o1)
        # now linked: o2 has full pv rights (UPDATE of lbl works) but is not in pvs, so it may
        # not change acpi (TS-0001 9.6.1.3.2: acpi update checked against selfPrivileges)
        self.ok(self.cse.update(self.cnt, {"m2m:cnt": {"lbl": ["ok"]}}, origin=self.o2), 2004)
        _, other_ri = self.make_acp([([self.o2], 63)], [([self.o2], 63)],
                                    parent=self.ae2, origin=self.o2)
        self.link(self.cnt, [other_ri], origin=self.o2, want=4103)
        cnt = self.ok(self.cse.retrieve(self.cnt, origin=self.o1), 2000)
        self.assertEqual(cnt.get("acpi"), [acp_ri])

    def test_linking_nonexistent_acp(self):
        # an acpi entry that does not resolve: TS-0004 7.3.3.x validity -> 4000 (or the
        # reference is accepted and grants nothing, SPEC-MAP A3.4); it must never grant
        r = self.cse.update(self.cnt, {"m2m:cnt": {"acpi": ["acpNoSuchThing"]}}, origin=self.o1)
        self.assertRsc(r, 4000, 2004)
        self.assertRsc(self.cse.retrieve(self.cnt, origin=self.o2), 4103)

    # -- ACP self privileges (A3.1) ---------------------------------------------------------
    def test_acp_retrieve_checked_against_pvs(self):
        acp, _ = self.make_acp([([self.o2], 63)], [([self.o1], 63)])
        # o2 is in pv (for linked resources) but not in pvs: the ACP itself is closed to it
        self.assertRsc(self.cse.retrieve(acp, origin=self.o2), 4103)
        self.assertRsc(self.cse.update(acp, {"m2m:acp": {"lbl": ["x"]}}, origin=self.o2), 4103)
        self.assertRsc(self.cse.delete(acp, origin=self.o2), 4103)
        got = self.ok(self.cse.retrieve(acp, origin=self.o1), 2000)
        self.assertIn("pv", got)
        self.assertIn("pvs", got)
        # give o2 RETRIEVE in pvs: it can read but not change or delete the ACP
        r = self.cse.update(acp, {"m2m:acp": {"pvs": {"acr": [
            {"acor": [self.o1], "acop": 63}, {"acor": [self.o2], "acop": RETRIEVE}]}}},
            origin=self.o1)
        self.ok(r, 2004)
        self.ok(self.cse.retrieve(acp, origin=self.o2), 2000)
        self.assertRsc(self.cse.update(acp, {"m2m:acp": {"lbl": ["x"]}}, origin=self.o2), 4103)
        self.assertRsc(self.cse.delete(acp, origin=self.o2), 4103)
        self.assertRsc(self.cse.delete(acp, origin=self.o1), 2002)

    def test_acop_bits(self):
        # each single bit grants exactly its operation (SPEC-MAP A7)
        acp, acp_ri = self.make_acp([([self.o1], 63), ([self.o2], DELETE)], [([self.o1], 63)])
        self.link(self.cnt, [acp_ri])
        self.assertRsc(self.cse.retrieve(self.cnt, origin=self.o2), 4103)
        self.assertRsc(self.cse.update(self.cnt, {"m2m:cnt": {"lbl": ["x"]}}, origin=self.o2),
                       4103)
        r = self.cse.create(self.cnt, 4, {"m2m:cin": {"con": "x"}}, origin=self.o2)
        self.assertRsc(r, 4103)
        self.assertRsc(self.cse.delete(self.cnt, origin=self.o2), 2002)

    def test_create_bit_grants_child_creation(self):
        acp, acp_ri = self.make_acp([([self.o1], 63), ([self.o2], CREATE)], [([self.o1], 63)])
        self.link(self.cnt, [acp_ri])
        r = self.cse.create(self.cnt, 4, {"m2m:cin": {"con": "from2"}}, origin=self.o2)
        self.ok(r, 2001)
        self.assertRsc(self.cse.retrieve(self.cnt + "/la", origin=self.o2), 4103)
        self.assertEqual(self.ok(self.cse.retrieve(self.cnt + "/la", origin=self.o1), 2000)
                         .get("con"), "from2")

    def test_all_and_wildcard_originators(self):
        acp, acp_ri = self.make_acp([(["all"], RETRIEVE), ([self.o1], 63)], [([self.o1], 63)])
        self.link(self.cnt, [acp_ri])
        self.ok(self.cse.retrieve(self.cnt, origin=self.o2), 2000)
        # a wildcard over the stem prefix (SPEC-MAP A6.3)
        acp2, acp2_ri = self.make_acp([([self.o2[:5] + "*"], RETRIEVE | UPDATE),
                                       ([self.o1], 63)], [([self.o1], 63)])
        self.link(self.cnt, [acp2_ri])
        self.ok(self.cse.update(self.cnt, {"m2m:cnt": {"lbl": ["w"]}}, origin=self.o2), 2004)

    # -- discovery (A13) -----------------------------------------------------------------
    def test_discovery_silently_omits(self):
        label = self.uniq("lbl")
        acp_d, acp_d_ri = self.make_acp([([self.o2], RETRIEVE | DISCOVERY), ([self.o1], 63)],
                                        [([self.o1], 63)])
        acp_r, acp_r_ri = self.make_acp([([self.o2], RETRIEVE), ([self.o1], 63)],
                                        [([self.o1], 63)])
        visible, _ = self.new_cnt(self.ae1, self.o1, rn="vis", lbl=[label])
        hidden_default, _ = self.new_cnt(self.ae1, self.o1, rn="hid", lbl=[label])
        retrieve_only, _ = self.new_cnt(self.ae1, self.o1, rn="ret", lbl=[label])
        self.link(visible, [acp_d_ri])
        self.link(retrieve_only, [acp_r_ri])
        # the owner finds all three
        r = self.cse.discover("/cse-in", origin=self.o1, ty=3, lbl=label)
        self.assertRsc(r, 2000)
        found = sorted(norm_uri(u) for u in uril(r))
        self.assertEqual(found, sorted(norm_uri(p) for p in (visible, hidden_default,
                                                             retrieve_only)))
        # the other AE only the one with DISCOVERY; never an error
        r = self.cse.discover("/cse-in", origin=self.o2, ty=3, lbl=label)
        self.assertRsc(r, 2000)
        self.assertEqual([norm_uri(u) for u in uril(r)], [norm_uri(visible)])
        # the admin sees everything
        r = self.cse.discover("/cse-in", origin=ADMIN, ty=3, lbl=label)
        self.assertEqual(len(uril(r)), 3, r.describe())


    # -- groups in acor (A6) -------------------------------------------------------------
    def test_group_in_acor(self):
        o3, _, _ = self.new_ae("Cgm3")
        # a group whose members are the <AE> resources of o2 (and none of o3)
        g = self.cse.create(self.ae1, 9, {"m2m:grp": {"rn": self.uniq("g"), "mt": 2, "mnm": 5,
                                                       "mid": [self.ae2.lstrip("/")]}},
                            origin=self.o1)
        # the owner must be allowed to read the member to validate it (5105 otherwise): link
        # an ACP on ae2 first that lets o1 retrieve it
        self.assertIn(g.rsc, (2001, 5105))
        if g.rsc == 5105:
            ap, ari = self.make_acp([([self.o2, self.o1], RETRIEVE)], [([self.o2], 63)],
                                    parent=self.ae2, origin=self.o2)
            r = self.cse.update(self.ae2, {"m2m:ae": {"acpi": [ari]}}, origin=self.o2)
            self.assertRsc(r, 2004)
            g = self.cse.create(self.ae1, 9, {"m2m:grp": {"rn": self.uniq("g"), "mt": 2,
                                                           "mnm": 5,
                                                           "mid": [self.ae2.lstrip("/")]}},
                                origin=self.o1)
        gres = self.ok(g, 2001)
        self.assertEqual(gres["cnm"], 1)
        ap, ari = self.make_acp([([gres["ri"]], RETRIEVE), ([self.o1], 63)], [([self.o1], 63)])
        self.link(self.cnt, [ari])
        self.ok(self.cse.retrieve(self.cnt, origin=self.o2), 2000)   # member of the group
        self.assertRsc(self.cse.retrieve(self.cnt, origin=o3), 4103)  # not a member
        self.assertRsc(self.cse.update(self.cnt, {"m2m:cnt": {"lbl": ["g"]}}, origin=self.o2),
                       4103)  # the group rule grants RETRIEVE only
        # removing the member revokes at once
        r = self.cse.update(self.ae1 + "/" + gres["rn"], {"m2m:grp": {"mid": []}},
                            origin=self.o1)
        self.assertRsc(r, 2004)
        self.assertRsc(self.cse.retrieve(self.cnt, origin=self.o2), 4103)


if __name__ == "__main__":
    m2mtest.main()
