"""test_hostile_kill9.py: the short form of tests/soak/kill9.py under make test: concurrent
container and contentInstance creates, ~8 SIGKILLs at random moments, restart on the same data
directory; every acknowledged resource must be there, no half-written resource, no orphan, no
ri twice, and PRAGMA integrity_check ok. make soak runs 50+ kills (M2M_SOAK=1)."""

import os
import sys

import m2mtest
from m2mtest import CseTestCase, scaled

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "soak"))
import kill9  # noqa: E402


class HostileKill9Test(CseTestCase):

    def test_acknowledged_writes_survive_random_kill9(self):
        kills = scaled(8, 50)
        soak = kill9.Kill9Soak(self.cse, writers=4, log=print)
        try:
            rep = soak.run(kills, window=(0.1, 0.6))
        except kill9.Failure as e:
            self.fail(str(e))
        print(kill9.format_report(rep))
        self.assertEqual(rep["kills"], kills)
        self.assertGreater(rep["acknowledged"], kills, "hardly any write was acknowledged")
        self.assertEqual(rep["lost"], 0)


if __name__ == "__main__":
    m2mtest.main()
