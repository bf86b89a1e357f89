"""test_durability.py: acknowledged writes survive kill -9 (contract: 2001/2004/2002 only after
the write is durable). Concurrent writers create contentInstances, the server is killed at a
random moment, restarted on the same data directory, and every acknowledged instance must be
retrievable. Ends with SQLite's integrity check on the database."""

import os
import random
import shutil
import sqlite3
import subprocess
import threading
import time

import m2mtest
from m2mtest import ADMIN, CseTestCase

WRITERS = 4
ROUNDS = 5
WRITE_WINDOW_S = 3.0


class DurabilityTest(CseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.o = "Cdur1"
        r = cls.cse.register_ae(cls.o, "durae")
        assert r.rsc == 2001, r.describe()
        r = cls.cse.create("/cse-in/durae", 3, {"m2m:cnt": {"rn": "log", "mni": 100000000,
                                                            "mbs": 1000000000}}, origin=cls.o)
        assert r.rsc == 2001, r.describe()
        cls.cnt = "/cse-in/durae/log"

    def writer(self, wid, rnd, stop, killing, acked, errors):
        n = 0
        while not stop.is_set() and n < 100000:
            con = "w%d-r%d-n%d" % (wid, rnd, n)
            n += 1
            try:
                r = self.cse.request("POST", self.cnt, origin=self.o, ty=4,
                                     body={"m2m:cin": {"con": con}}, timeout=10)
            except Exception as e:  # killed server: connection refused/reset
                if killing.is_set():
                    break
                errors.append(repr(e))
                time.sleep(0.01)
                continue
            res = r.res() or {}
            if r.rsc == 2001:
                loc = r.headers.get("content-location") or res.get("ri") or "?"
                acked.append((con, loc, res.get("ri")))
            elif not killing.is_set():
                errors.append(r.describe())

    def check(self, items):
        missing = []
        lock = threading.Lock()
        chunks = [items[i::4] for i in range(4)]

        def verify(chunk):
            for con, loc, ri in chunk:
                path = loc if loc.startswith("/") else "/" + loc
                r = self.cse.retrieve(path, origin=self.o, timeout=20)
                ok = r.rsc == 2000 and r.res() and r.res().get("con") == con
                if not ok:
                    with lock:
                        missing.append((con, path, r.rsc))

        ts = [threading.Thread(target=verify, args=(c,)) for c in chunks]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        return missing

    def test_acknowledged_writes_survive_kill9(self):
        total = []
        for rnd in range(ROUNDS):
            stop, killing = threading.Event(), threading.Event()
            acked, errors = [], []
            ws = [threading.Thread(target=self.writer,
                                   args=(w, rnd, stop, killing, acked, errors))
                  for w in range(WRITERS)]
            for t in ws:
                t.start()
            time.sleep(random.uniform(0.3, WRITE_WINDOW_S))
            killing.set()
            self.cse.kill9()
            stop.set()
            for t in ws:
                t.join(30)
            self.assertFalse(any(t.is_alive() for t in ws), "writer hung")
            self.assertEqual(errors[:5], [], "errors while the server was up (round %d)" % rnd)
            self.assertGreater(len(acked), 0, "no write acknowledged in round %d" % rnd)
            self.cse.start()
            total += acked
            missing = self.check(list(acked))
            self.assertEqual(missing[:10], [], "round %d: %d of %d acknowledged cin lost"
                             % (rnd, len(missing), len(acked)))
            # the container's counter covers at least every acknowledged instance
            cnt = self.ok(self.cse.retrieve(self.cnt, origin=self.o), 2000)
            self.assertGreaterEqual(cnt.get("cni", 0), len(total))
        # all rounds together, after one more restart
        self.cse.restart(kill=True)
        missing = self.check(total)
        self.assertEqual(missing[:10], [], "%d of %d lost overall" % (len(missing), len(total)))
        # no duplicate resource identifiers were handed out across restarts
        ris = [ri for _, _, ri in total]
        self.assertEqual(len(ris), len(set(ris)), "duplicate ri across restarts")
        print("%d acknowledged cin over %d kill -9 rounds" % (len(total), ROUNDS))

    def test_clean_restart_keeps_everything(self):
        # an AE, its container tree, an ACP and its link survive SIGTERM + restart
        o, _, ae = self.new_ae("Crst")
        cnt, res = self.new_cnt(ae, o, lbl=["keep"])
        r = self.cse.create(ae, 1, {"m2m:acp": {"rn": "acp", "pv": {"acr": [
            {"acor": [o], "acop": 63}]}, "pvs": {"acr": [{"acor": [o], "acop": 63}]}}},
            origin=o)
        acp_ri = self.ok(r, 2001)["ri"]
        self.ok(self.cse.update(cnt, {"m2m:cnt": {"acpi": [acp_ri]}}, origin=o), 2004)
        self.ok(self.cse.create(cnt, 4, {"m2m:cin": {"con": "persist"}}, origin=o), 2001)
        self.cse.restart()
        got = self.ok(self.cse.retrieve(cnt, origin=o), 2000)
        self.assertEqual(got.get("ri"), res["ri"])
        self.assertEqual(got.get("lbl"), ["keep"])
        self.assertEqual(got.get("acpi"), [acp_ri])
        self.assertEqual(got.get("cni"), 1)
        self.assertEqual(self.ok(self.cse.retrieve(cnt + "/la", origin=o), 2000).get("con"),
                         "persist")
        # the AE is still registered: its AE-ID cannot register twice
        self.assertRsc(self.cse.register_ae(o, self.uniq("again")), 4117)
        # the dev CA is not regenerated on restart
        with open(self.cse.ca_pem, "rb") as f:
            ca = f.read()
        self.cse.restart()
        with open(self.cse.ca_pem, "rb") as f:
            self.assertEqual(f.read(), ca)

    def test_zz_integrity_check(self):
        # runs last (alphabetical order): stop cleanly, check the database, start again
        self.cse.stop()
        db = self.cse.db_path
        self.assertTrue(os.path.isfile(db), db)
        if shutil.which("sqlite3"):
            p = subprocess.run(["sqlite3", db, "PRAGMA integrity_check"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            out = p.stdout.decode().strip()
        else:
            con = sqlite3.connect(db)
            try:
                out = con.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                con.close()
        self.assertEqual(out, "ok")
        self.cse.start()
        self.assertRsc(self.cse.retrieve("/cse-in", origin=ADMIN), 2000)


if __name__ == "__main__":
    m2mtest.main()
