"""test_subscription.py: <subscription> and notifications (TS-0004 7.4.8, 7.5.1; TS-0009 6.4):
verification request, refusal by the receiver, notifications for update (net 1), delete (net 2),
child create (net 3) and child delete (net 4), and non-blocking delivery to a dead target."""

import threading
import time

import m2mtest
from m2mtest import CSE_ID, Cse, CseTestCase, Receiver, sgn

NET_ALL = [1, 2, 3, 4]


class SubscriptionTest(CseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rx = Receiver()
        cls.o = "Csub1"
        assert cls.cse.register_ae(cls.o, "subae").rsc == 2001
        cls.ae = "/cse-in/subae"

    @classmethod
    def tearDownClass(cls):
        cls.rx.close()
        super().tearDownClass()

    def subscribe(self, target, nu, want=2001, net=NET_ALL, origin=None, rn=None):
        body = {"m2m:sub": {"rn": rn or self.uniq("sub"), "nu": nu, "nct": 1,
                            "enc": {"net": net}}}
        r = self.cse.create(target, 23, body, origin=origin or self.o)
        return self.ok(r, *((want,) if isinstance(want, int) else want)), body["m2m:sub"]["rn"]

    def on(self, path):
        return lambda rec: rec["path"] == path

    def wait_sgn(self, path, pred, what, timeout=10.0):
        rec = self.rx.wait_for(lambda r: r["path"] == path and pred(sgn(r)), timeout)
        if rec is None:
            got = [r["json"] for r in self.rx.matching(self.on(path))]
            self.fail("no %s notification on %s within %.0f s; got %s" % (what, path, timeout, got))
        return rec

    def test_verification_request(self):
        cnt, _ = self.new_cnt(self.ae, self.o)
        path = "/v/" + self.uniq()
        sub, rn = self.subscribe(cnt, [self.rx.url(path)])
        self.assertEqual(sub.get("ty"), 23)
        self.assertEqual(sub.get("nu"), [self.rx.url(path)])
        rec = self.wait_sgn(path, lambda s: s.get("vrq") is True, "verification", timeout=5)
        self.assertEqual(rec["headers"].get("x-m2m-origin"), CSE_ID)
        self.assertTrue(rec["headers"].get("x-m2m-ri"), rec["headers"])
        self.assertTrue(rec["headers"].get("content-type", "").startswith("application/"),
                        rec["headers"])
        s = sgn(rec)
        # sur identifies the subscription (TS-0004 7.5.1.2.2): "/id-in/<sub ri>"
        self.assertTrue(s.get("sur", "").endswith(sub["ri"]), s)
        self.assertEqual(s.get("cr"), self.o, s)
        # the verification is sent once, before the create is answered
        self.assertEqual(len(self.rx.matching(lambda r: r["path"] == path)), 1)

    def test_create_fails_when_receiver_refuses(self):
        cnt, _ = self.new_cnt(self.ae, self.o)
        path = "/refuse/" + self.uniq()
        self.rx.set_mode(path, "refuse")
        rn = self.uniq("subr")
        # TS-0004 7.5.1.2.2: verification failed -> SUBSCRIPTION_CREATOR_HAS_NO_PRIVILEGE (4101)
        # or SUBSCRIPTION_VERIFICATION_INITIATION_FAILED (5204)
        r = self.cse.create(cnt, 23, {"m2m:sub": {"rn": rn, "nu": [self.rx.url(path)],
                                                  "enc": {"net": NET_ALL}}}, origin=self.o)
        self.assertRsc(r, 4101, 5204)
        self.assertIsNotNone(self.rx.wait_for(self.on(path), 1), "no verification request")
        self.assertRsc(self.cse.retrieve(cnt + "/" + rn, origin=self.o), 4004)

    def test_create_fails_when_receiver_unreachable(self):
        cnt, _ = self.new_cnt(self.ae, self.o)
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nobody listens there now
        rn = self.uniq("subu")
        r = self.cse.create(cnt, 23, {"m2m:sub": {"rn": rn, "nu": ["http://127.0.0.1:%d/x" % port],
                                                  "enc": {"net": NET_ALL}}}, origin=self.o)
        self.assertRsc(r, 4101, 5204)
        self.assertRsc(self.cse.retrieve(cnt + "/" + rn, origin=self.o), 4004)

    def test_notifications_for_each_event(self):
        cnt, cnt_res = self.new_cnt(self.ae, self.o)
        path = "/ev/" + self.uniq()
        sub, rn = self.subscribe(cnt, [self.rx.url(path)])
        self.wait_sgn(path, lambda s: s.get("vrq") is True, "verification", 5)

        # net 3: create of a direct child
        r = self.cse.create(cnt, 4, {"m2m:cin": {"con": "payload-1"}}, origin=self.o)
        cin = self.ok(r, 2001)
        rec = self.wait_sgn(path, lambda s: s.get("nev", {}).get("net") == 3 and
                            "m2m:cin" in s["nev"].get("rep", {}), "child-create")
        s = sgn(rec)
        self.assertEqual(rec["headers"].get("x-m2m-origin"), CSE_ID)
        self.assertTrue(s.get("sur", "").endswith(sub["ri"]), s)
        self.assertEqual(s["nev"]["rep"].get("m2m:cin", {}).get("con"), "payload-1", s)

        # net 1: update of the subscribed resource
        self.ok(self.cse.update(cnt, {"m2m:cnt": {"lbl": ["changed"]}}, origin=self.o), 2004)
        rec = self.wait_sgn(path, lambda s: s.get("nev", {}).get("net") == 1, "update")
        rep = sgn(rec)["nev"]["rep"].get("m2m:cnt", {})
        self.assertEqual(rep.get("lbl"), ["changed"], sgn(rec))
        self.assertEqual(rep.get("ri"), cnt_res["ri"])

        # net 4: delete of a direct child
        self.assertRsc(self.cse.delete("/" + cin["ri"], origin=self.o), 2002)
        self.wait_sgn(path, lambda s: s.get("nev", {}).get("net") == 4, "child-delete")

        # net 2: delete of the subscribed resource (the subscription goes with it)
        self.assertRsc(self.cse.delete(cnt, origin=self.o), 2002)
        self.wait_sgn(path, lambda s: s.get("nev", {}).get("net") == 2, "delete")
        self.assertRsc(self.cse.retrieve(cnt + "/" + rn, origin=self.o), 4004)

    def test_event_type_filter(self):
        cnt, _ = self.new_cnt(self.ae, self.o)
        path = "/only3/" + self.uniq()
        self.subscribe(cnt, [self.rx.url(path)], net=[3])
        self.ok(self.cse.update(cnt, {"m2m:cnt": {"lbl": ["u"]}}, origin=self.o), 2004)
        self.ok(self.cse.create(cnt, 4, {"m2m:cin": {"con": "c"}}, origin=self.o), 2001)
        self.wait_sgn(path, lambda s: s.get("nev", {}).get("net") == 3, "child-create")
        time.sleep(0.5)
        # (whether creating the subscription itself counts as a child create is left open;
        # only notifications about other resources are counted)
        nets = [sgn(r).get("nev", {}).get("net") for r in self.rx.matching(self.on(path))
                if not sgn(r).get("vrq") and "m2m:sub" not in sgn(r).get("nev", {}).get("rep", {})]
        self.assertEqual(nets, [3])

    def test_subscription_delete_stops_notifications(self):
        cnt, _ = self.new_cnt(self.ae, self.o)
        path = "/del/" + self.uniq()
        _, rn = self.subscribe(cnt, [self.rx.url(path)], net=[3])
        self.assertRsc(self.cse.delete(cnt + "/" + rn, origin=self.o), 2002)
        n = len(self.rx.matching(self.on(path)))
        self.ok(self.cse.create(cnt, 4, {"m2m:cin": {"con": "c"}}, origin=self.o), 2001)
        time.sleep(1.0)
        later = [r for r in self.rx.matching(self.on(path))][n:]
        self.assertEqual([sgn(r).get("nev", {}).get("net") for r in later
                          if not sgn(r).get("sud")], [])

    def test_subscription_requires_retrieve_privilege(self):
        # SPEC-MAP A13: creating a subscription needs RETRIEVE on the subscribed-to resource
        cnt, _ = self.new_cnt(self.ae, self.o)
        other = "Csubx" + self.uniq()
        self.assertRsc(self.cse.register_ae(other, self.uniq("sx")), 2001)
        path = "/priv/" + self.uniq()
        r = self.cse.create(cnt, 23, {"m2m:sub": {"rn": "s", "nu": [self.rx.url(path)]}},
                            origin=other)
        self.assertRsc(r, 4103)
        time.sleep(0.3)
        self.assertEqual(self.rx.matching(self.on(path)), [], "verification sent despite deny")

    def test_subscription_validation(self):
        cnt, _ = self.new_cnt(self.ae, self.o)
        for body in ({"rn": "a"}, {"rn": "b", "nu": []}, {"rn": "c", "nu": "http://x"},
                     {"rn": "d", "nu": [self.rx.url("/v")], "enc": {"net": [99]}}):
            with self.subTest(body=body):
                r = self.cse.create(cnt, 23, {"m2m:sub": body}, origin=self.o)
                self.assertRsc(r, 4000)


class DeadReceiverTest(CseTestCase):
    """A fresh server and receivers per test: a hung target must not leak delays elsewhere."""

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def setUp(self):
        self.cse = Cse()
        self.addCleanup(self.cse.close)
        self.dead = Receiver()
        self.good = Receiver()
        self.addCleanup(self.good.close)
        self.addCleanup(self.dead.close)  # runs first: releases the hung handlers
        self.o = "Cdead1"
        self.assertRsc(self.cse.register_ae(self.o, "deadae"), 2001)
        self.ae = "/cse-in/deadae"

    def test_dead_receiver_does_not_block_requests(self):
        # DESIGN-NOTES: notification delivery runs off the request path
        cnt, _ = self.new_cnt(self.ae, self.o)
        r = self.cse.create(cnt, 23, {"m2m:sub": {"rn": "s", "nu": [self.dead.url("/hang")],
                                                  "enc": {"net": [1, 3]}}}, origin=self.o)
        self.assertRsc(r, 2001)
        self.dead.set_mode("/hang", "hang")  # from now on the target accepts, never answers
        slow = []
        t0 = time.monotonic()
        for i in range(5):
            t = time.monotonic()
            self.ok(self.cse.create(cnt, 4, {"m2m:cin": {"con": "h%d" % i}}, origin=self.o), 2001)
            self.ok(self.cse.update(cnt, {"m2m:cnt": {"lbl": ["h%d" % i]}}, origin=self.o), 2004)
            if time.monotonic() - t > 2.0:
                slow.append(i)
        # meanwhile unrelated clients are served promptly
        errors = []

        def reader():
            for _ in range(5):
                t = time.monotonic()
                r = self.cse.retrieve("/cse-in", timeout=10)
                if r.rsc != 2000 or time.monotonic() - t > 2.0:
                    errors.append((r.rsc, time.monotonic() - t))

        ts = [threading.Thread(target=reader) for _ in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        self.assertEqual(slow, [], "requests blocked by notification delivery")
        self.assertEqual(errors, [])
        self.assertLess(time.monotonic() - t0, 20)
        self.assertIsNotNone(self.dead.wait_for(lambda r: not sgn(r).get("vrq"), 5),
                             "the hanging target never got a notification")

    def test_dead_receiver_does_not_delay_other_subscriptions(self):
        # ten notifications pending for a target that never answers must not hold up the
        # verification (and so the create) of a subscription to a healthy receiver elsewhere
        cnt, _ = self.new_cnt(self.ae, self.o)
        r = self.cse.create(cnt, 23, {"m2m:sub": {"rn": "s", "nu": [self.dead.url("/hang2")],
                                                  "enc": {"net": [3]}}}, origin=self.o)
        self.assertRsc(r, 2001)
        self.dead.set_mode("/hang2", "hang")
        for i in range(10):
            self.ok(self.cse.create(cnt, 4, {"m2m:cin": {"con": "d%d" % i}}, origin=self.o), 2001)
        other, _ = self.new_cnt(self.ae, self.o)
        t = time.monotonic()
        try:
            r = self.cse.create(other, 23, {"m2m:sub": {"rn": "ok",
                                                        "nu": [self.good.url("/fine")],
                                                        "enc": {"net": [3]}}},
                                origin=self.o, timeout=15)
        except TimeoutError:
            self.fail("subscription create to a healthy receiver unanswered after 15 s while "
                      "a dead notification target has deliveries pending")
        elapsed = time.monotonic() - t
        self.assertRsc(r, 2001)
        self.assertLess(elapsed, 5.0, "subscription verification waited %.1f s behind a dead "
                        "notification target" % elapsed)
        # and its notifications flow
        self.ok(self.cse.create(other, 4, {"m2m:cin": {"con": "x"}}, origin=self.o), 2001)
        self.assertIsNotNone(self.good.wait_for(
            lambda r: sgn(r).get("nev", {}).get("net") == 3 and
            "m2m:cin" in sgn(r)["nev"].get("rep", {}), 5), "no notification to the healthy one")


if __name__ == "__main__":
    m2mtest.main()
