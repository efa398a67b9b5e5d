"""The local executor's rule: plans in flight never share a stateful server, and share stateless ones.

``run_plans`` drives a processor that records which servers its plans in flight use. Plans on one
stateless server must all be in flight together (an ``asyncio.Event`` barrier that only fills when
they are: run one at a time, every plan would time out and say so in its shard); plans on one stateful
server must never overlap. Ray's dispatcher (``executors.next_plan``) follows the same rule.
"""

import asyncio

from firefly_eval.generation.executors import held, next_plan
from firefly_eval.generation.pipeline import run_plans
from firefly_eval.generation.placement import pick, replica_count
from firefly_eval.schema import Plan

STATEFUL = {"db", "notes"}


def _plan(i, *servers):
    return Plan(id=f"p{i}", nodes=[(s, "t") for s in servers], pattern="single" if len(servers) == 1 else "mixed")


class FakeFleet:
    def __init__(self):
        self.resets: list[set[str]] = []

    def exclusive(self, name):
        return name in STATEFUL

    def resetting(self, name):
        return False

    def up(self, name):
        return True

    async def reset_episode(self, servers, *, only=False, wait=True):
        self.resets.append(set(servers))


class Proc:
    """Plans wait (up to 5 s) until ``wave`` plans are in flight together; records overlaps on stateful servers
    (of this processor's fleet: a replica of the fleet is another ``Proc`` sharing ``event`` and ``counts``)."""

    def __init__(self, wave, event=None, counts=None):
        self.fleet = FakeFleet()
        self.wave, self.event = wave, event or asyncio.Event()
        self.counts = counts if counts is not None else {"in_flight": 0, "peak": 0}
        self.using: dict[str, int] = {}
        self.peak = self.in_flight = 0
        self.clashes: list[str] = []

    async def run(self, plan):
        for s in plan.servers:
            if s in STATEFUL and self.using.get(s):
                self.clashes.append(f"{plan.id} on {s}")
            self.using[s] = self.using.get(s, 0) + 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        self.counts["in_flight"] += 1
        self.counts["peak"] = max(self.counts["peak"], self.counts["in_flight"])
        if self.counts["in_flight"] >= self.wave:
            self.event.set()
        try:
            await asyncio.wait_for(self.event.wait(), 5)
            waited = "ok"
        except asyncio.TimeoutError:
            waited = "alone"
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        self.counts["in_flight"] -= 1
        for s in plan.servers:
            self.using[s] -= 1
        return {"plan": plan.id, "waited": waited}


def test_plans_on_one_stateless_server_run_together():
    plans = [_plan(i, "calc") for i in range(4)] + [_plan(4, "calc", "time")]
    proc, shards = Proc(wave=5), []
    asyncio.run(run_plans(plans, proc, shards.append, limit=8))
    assert proc.peak == 5
    assert sorted(s["plan"] for s in shards) == [p.id for p in plans]
    assert all(s["waited"] == "ok" for s in shards), shards


def test_plans_never_share_a_stateful_server():
    plans = [_plan(0, "db", "calc"), _plan(1, "db"), _plan(2, "notes", "calc"), _plan(3, "calc"),
             _plan(4, "db", "notes")]
    proc, shards = Proc(wave=3), []  # p0, p2 and p3 can run at once; p1 and p4 wait for db / notes
    asyncio.run(run_plans(plans, proc, shards.append, limit=8))
    assert proc.clashes == []
    assert proc.peak == 3
    assert sorted(s["plan"] for s in shards) == [p.id for p in plans]
    # a finished plan's servers that a later plan uses are reset for it
    assert {"db"} in proc.fleet.resets


def test_limit_one_runs_plans_one_at_a_time_in_order():
    plans = [_plan(i, "calc") for i in range(3)]
    proc, shards = Proc(wave=1), []
    asyncio.run(run_plans(plans, proc, shards.append, limit=1))
    assert proc.peak == 1 and [s["plan"] for s in shards] == ["p0", "p1", "p2"]


def test_next_plan_holds_only_exclusive_servers():
    queue = [_plan(0, "db", "calc"), _plan(1, "calc"), _plan(2, "db")]
    assert held(queue[0], STATEFUL) == {"db"} and held(queue[0]) == {"db", "calc"}
    # calc is busy in the old sense, but stateless: p0 may run beside a plan on calc; db held: p2 waits
    assert next_plan(queue, {"calc"}, STATEFUL).id == "p0"
    assert next_plan(queue, {"db"}, STATEFUL).id == "p1"
    assert next_plan(queue, {"db"}, STATEFUL) is None
    assert next_plan([_plan(3, "calc")], {"calc"}) is None  # without ``exclusive`` every server is held


def test_plans_on_one_stateful_server_run_together_on_replicas():
    plans = [_plan(i, "db") for i in range(4)] + [_plan(4, "db", "notes"), _plan(5, "calc")]
    event, counts = asyncio.Event(), {"in_flight": 0, "peak": 0}
    procs = [Proc(wave=3, event=event, counts=counts) for _ in range(3)]  # three copies of the fleet
    shards = []
    ran = asyncio.run(run_plans(plans, procs, shards.append, limit=8))
    # db plans run three at once, one on each replica (with the calc plan), never two on one replica's db
    assert counts["peak"] == 4 and all(p.peak <= 2 for p in procs)  # 3 on db, and calc
    assert [p.clashes for p in procs] == [[], [], []]
    assert sorted(s["plan"] for s in shards) == [p.id for p in plans]
    assert all(s["waited"] == "ok" for s in shards), shards
    assert sum(ran) == 6 and all(ran), ran
    # each replica resets only the servers its own plans used
    assert all({"db"} in p.fleet.resets for p in procs if p.fleet.resets)


def test_pick_prefers_a_replica_whose_servers_are_up():
    class Half(FakeFleet):
        def up(self, name):
            return name != "db"

    fleets = [FakeFleet(), Half(), FakeFleet()]
    queue = [_plan(0, "db"), _plan(1, "db")]
    assert pick(queue, fleets, [set(), set(), set()], STATEFUL)[1] == 0
    assert pick(queue, fleets, [{"db"}, set(), set()], STATEFUL)[1] == 2  # replica 1 would start db first
    assert pick(queue, fleets, [{"db"}, {"db"}, {"db"}], STATEFUL) is None
    assert replica_count(8, STATEFUL) == 4 and replica_count(1, STATEFUL) == 1 and replica_count(8, set()) == 1
