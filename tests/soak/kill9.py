#!/usr/bin/env python3
"""kill9.py: crash-safety soak. Writer threads create containers and contentInstances while the
CSE is killed with SIGKILL at random moments and restarted on the same data directory. After
every restart: each acknowledged resource is retrievable with its ri (and con); no half-written
resource (a container's cni/cbs match the instances it lists with rcn=4; every resource found by
discovery from the CSEBase as CAdmin is retrievable and its pi is its parent's ri); no ri handed
out twice; `PRAGMA integrity_check` is ok. Contract: writes are acknowledged (2001) only once
durable, so "lost" must be 0.

  python3 tests/soak/kill9.py --bin build/asan/m2msec [--kills 50] [--writers 4]

tests/integration/test_hostile_kill9.py runs the same scenario with ~8 kills under make test.
"""

import argparse
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import m2mtest  # noqa: E402
from m2mtest import ADMIN, CSE_RN, norm_uri, uril  # noqa: E402


class Failure(AssertionError):
    pass


def ensure(cond, msg):
    if not cond:
        raise Failure(msg)


class Kill9Soak:
    """State of one soak run against one Cse (harness object)."""

    def __init__(self, cse, writers=4, seed=None, log=print):
        self.cse = cse
        self.writers = writers
        self.rnd = random.Random(seed)
        self.log = log
        self.origin = "Ck9%06x" % self.rnd.getrandbits(24)
        self.ae = "/%s/ae%s" % (CSE_RN, self.origin[1:])
        self.lock = threading.Lock()
        self.acked = {}      # path -> {"ri", "ty", "parent", "con"}
        self.unknown = {}    # path -> kind: sent when the server died, outcome unknown
        self.containers = []  # acknowledged container paths
        self.verified = set()  # paths already checked after some restart
        self.kills = 0
        self.restarts_s = []
        self.lost = []

    # -- setup --------------------------------------------------------------------------------
    def setup(self):
        r = self.cse.register_ae(self.origin, "ae" + self.origin[1:])
        ensure(r.rsc == 2001, r.describe())
        self.acked[self.ae] = {"ri": r.res()["ri"], "ty": 2, "parent": "/" + CSE_RN, "con": None}
        for i in range(3):
            self.create_cnt(self.ae, "base%d" % i)

    def create_cnt(self, parent, rn):
        path = "%s/%s" % (parent, rn)
        r = self.cse.create(parent, 3, {"m2m:cnt": {"rn": rn, "mni": 10 ** 9, "mbs": 10 ** 12}},
                            origin=self.origin, timeout=20)
        ensure(r.rsc == 2001, r.describe())
        self.record(path, r, 3, parent, None)

    def record(self, path, r, ty, parent, con):
        with self.lock:
            self.acked[path] = {"ri": r.res()["ri"], "ty": ty, "parent": parent, "con": con}
            self.unknown.pop(path, None)
            if ty == 3:
                self.containers.append(path)

    # -- writers ------------------------------------------------------------------------------
    def writer(self, wid, rnd_no, stop, killing, errors):
        rnd = random.Random(self.rnd.random())
        n = 0
        while not stop.is_set():
            n += 1
            rn = "w%dr%dn%d" % (wid, rnd_no, n)
            with self.lock:
                parents = list(self.containers)
            if rnd.random() < 0.15 or not parents:
                kind, parent, ty = "cnt", self.ae if rnd.random() < 0.7 else rnd.choice(parents), 3
                body = {"m2m:cnt": {"rn": rn, "mni": 10 ** 9, "mbs": 10 ** 12}}
                con = None
            else:
                kind, parent, ty = "cin", rnd.choice(parents), 4
                con = "%s-%s" % (rn, "x" * rnd.randrange(0, 64))
                body = {"m2m:cin": {"rn": rn, "con": con}}
            path = "%s/%s" % (parent, rn)
            with self.lock:
                self.unknown[path] = kind
            try:
                r = self.cse.create(parent, ty, body, origin=self.origin, timeout=20)
            except Exception as e:  # the server was killed: outcome unknown
                if killing.is_set():
                    break
                errors.append("%s: %r" % (path, e))
                continue
            if r.rsc == 2001:
                self.record(path, r, ty, parent, con)
            else:
                with self.lock:
                    self.unknown.pop(path, None)
                if not killing.is_set():
                    errors.append(r.describe())

    def round(self, rnd_no, window):
        stop, killing = threading.Event(), threading.Event()
        errors = []
        ts = [threading.Thread(target=self.writer, args=(w, rnd_no, stop, killing, errors),
                               daemon=True) for w in range(self.writers)]
        before = len(self.acked)
        for t in ts:
            t.start()
        time.sleep(window)
        killing.set()
        self.cse.kill9()
        self.kills += 1
        stop.set()
        for t in ts:
            t.join(30)
        ensure(not any(t.is_alive() for t in ts), "writer hung after kill -9")
        ensure(not errors, "errors while the server was up: %s" % errors[:3])
        t0 = time.monotonic()
        self.cse.start()
        self.restarts_s.append(time.monotonic() - t0)
        return len(self.acked) - before

    # -- checks -------------------------------------------------------------------------------
    def get(self, path, **kw):
        return self.cse.retrieve(path, origin=self.origin, timeout=30, **kw)

    def check_acked(self, paths):
        """Every acknowledged path is there with its ri (and con)."""
        for path in paths:
            a = self.acked[path]
            r = self.get(path)
            res = r.res() or {}
            if r.rsc != 2000 or res.get("ri") != a["ri"] or (a["con"] is not None and
                                                             res.get("con") != a["con"]):
                self.lost.append((path, r.rsc))
        ensure(not self.lost, "%d acknowledged resources lost, e.g. %s"
               % (len(self.lost), self.lost[:5]))

    def discover_all(self):
        out, ofst, page = [], 1, 1000  # TS-0004 7.3.3.17.x: ofst counts from 1
        while True:
            r = self.cse.discover("/" + CSE_RN, origin=ADMIN, lim=page, ofst=ofst)
            ensure(r.rsc == 2000, r.describe())
            got = uril(r) or []
            out += ["/" + norm_uri(u) for u in got]
            if len(got) < page:
                return out
            ofst += page

    def check_tree(self, full=False):
        """Discovery from the CSEBase: every listed path of our AE retrievable, its pi the ri
        of its parent; containers consistent with their instances."""
        found = [p for p in self.discover_all() if p == self.ae or p.startswith(self.ae + "/")]
        ensure(len(found) == len(set(found)), "discovery listed a path twice")
        missing = [p for p in self.acked if p not in set(found)]
        ensure(not missing, "acknowledged but not discovered: %s" % missing[:5])
        todo = found if full else [p for p in found if p not in self.verified]
        ri_of = {}
        for path in sorted(todo, key=lambda p: p.count("/")):
            r = self.get(path)
            ensure(r.rsc == 2000, "discovered but not retrievable: %s" % r.describe())
            res = r.res() or {}
            ri_of[path] = res.get("ri")
            parent = path.rsplit("/", 1)[0]
            if path != self.ae:
                pri = ri_of.get(parent) or (self.acked.get(parent) or {}).get("ri")
                if pri is None:
                    pri = (self.get(parent).res() or {}).get("ri")
                ensure(res.get("pi") == pri, "%s: pi %r, parent ri %r" % (path, res.get("pi"),
                                                                          pri))
            if path in self.acked:
                ensure(res.get("ri") == self.acked[path]["ri"], "%s: ri changed" % path)
        cnts = [p for p in found if (p in self.acked and self.acked[p]["ty"] == 3) or
                self.unknown.get(p) == "cnt"]
        if not full:
            touched = {p.rsplit("/", 1)[0] for p in todo}
            cnts = [p for p in cnts if p in touched or p not in self.verified]
        for c in cnts:
            self.check_container(c)
        self.verified.update(found)
        return len(found)

    def check_container(self, path):
        r = self.get(path, query="rcn=4")
        ensure(r.rsc == 2000, r.describe())
        res = r.res() or {}
        kids = res.get("m2m:cin") or []
        ensure(res.get("cni") == len(kids), "%s: cni %s but %d instances"
               % (path, res.get("cni"), len(kids)))
        ensure(res.get("cbs") == sum(k.get("cs", 0) for k in kids), "%s: cbs %s != sum(cs) %d"
               % (path, res.get("cbs"), sum(k.get("cs", 0) for k in kids)))
        names = {k.get("rn") for k in kids}
        want = {p.rsplit("/", 1)[1] for p, a in self.acked.items()
                if a["ty"] == 4 and a["parent"] == path}
        ensure(want <= names, "%s: acknowledged instances missing: %s"
               % (path, sorted(want - names)[:5]))

    def integrity(self):
        db = self.cse.db_path
        if shutil.which("sqlite3"):
            p = subprocess.run(["sqlite3", db, "PRAGMA integrity_check"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=120)
            out = p.stdout.decode().strip() or p.stderr.decode().strip()
        else:
            con = sqlite3.connect(db)
            try:
                out = con.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                con.close()
        ensure(out == "ok", "integrity_check: %s" % out[:500])

    def check_unique_ri(self):
        ris = [a["ri"] for a in self.acked.values()]
        ensure(len(ris) == len(set(ris)), "an ri was handed out twice")

    # -- the run ------------------------------------------------------------------------------
    def run(self, kills, window=(0.2, 1.5)):
        self.setup()
        for k in range(kills):
            got = self.round(k, self.rnd.uniform(*window))
            new_paths = [p for p in self.acked if p not in self.verified]
            self.check_acked(new_paths)
            n = self.check_tree()
            self.check_unique_ri()
            self.integrity()
            self.log("kill %2d: +%d acknowledged (total %d), %d in our tree, restart %.2f s"
                     % (k + 1, got, len(self.acked), n, self.restarts_s[-1]))
        # one more kill with no writers, then everything once more
        self.cse.restart(kill=True)
        self.check_acked(list(self.acked))
        n = self.check_tree(full=True)
        self.cse.stop()
        self.integrity()
        self.cse.start()
        return self.report(n)

    def report(self, tree):
        unknown_present = sum(1 for p in self.unknown if p in self.verified)
        return {"kills": self.kills, "acknowledged": len(self.acked), "lost": len(self.lost),
                "in_flight_at_kill": len(self.unknown),
                "in_flight_found_complete": unknown_present, "tree": tree,
                "restart_max_s": max(self.restarts_s or [0])}


def format_report(rep):
    return ("kill -9 soak: kills %(kills)d, acknowledged writes %(acknowledged)d, lost %(lost)d; "
            "in flight at a kill %(in_flight_at_kill)d (found complete afterwards "
            "%(in_flight_found_complete)d); resources under the AE %(tree)d; slowest restart "
            "%(restart_max_s).2f s" % rep)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.environ.get("M2MSEC_BIN"))
    ap.add_argument("--kills", type=int, default=int(os.environ.get("M2M_KILLS", "50")))
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--window", default="0.1,0.4",
                    help="kill after a uniform random time in this range of seconds")
    args = ap.parse_args()
    if not args.bin:
        sys.exit("kill9.py: --bin PATH (or $M2MSEC_BIN) is required")
    m2mtest.BIN = os.path.abspath(args.bin)
    sys.stdout.reconfigure(line_buffering=True)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print("kill9.py: seed %d, %d kills, %d writers" % (seed, args.kills, args.writers))
    cse = m2mtest.Cse()
    try:
        lo, hi = (float(x) for x in args.window.split(","))
        rep = Kill9Soak(cse, args.writers, seed).run(args.kills, window=(lo, hi))
    except Failure as e:
        print("FAIL: %s\n%s" % (e, cse.diagnostics()))
        cse.kill9()
        sys.exit(1)
    cse.close(check=True)
    print(format_report(rep))
    sys.exit(0 if rep["lost"] == 0 else 1)


if __name__ == "__main__":
    main()
