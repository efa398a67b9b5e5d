"""The local executor's rule: plans in flight never share a stateful server, and share stateless ones.

``run_plans`` drives a processor that records which servers its plans in flight use. Plans on one
stateless server must all be in flight together (an ``asyncio.Event`` barrier that only fills when
they are: run one at a time, every plan would time out and say so in its shard); plans on one stateful
server must never overlap. Ray's dispatcher (``executors.next_plan``) follows the same rule.
"""

import asyncio

from firefly_eval.generation.executors import held, next_plan
from firefly_eval.generation.pipeline import run_plans
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

    async def reset_episode(self, servers, *, only=False, wait=True):
        self.resets.append(set(servers))


class Proc:
    """Plans wait (up to 5 s) until ``wave`` plans are in flight together; records overlaps on stateful servers."""

    def __init__(self, wave):
        self.fleet = FakeFleet()
        self.wave, self.event = wave, asyncio.Event()
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
        if self.in_flight >= self.wave:
            self.event.set()
        try:
            await asyncio.wait_for(self.event.wait(), 5)
            waited = "ok"
        except asyncio.TimeoutError:
            waited = "alone"
        await asyncio.sleep(0.01)
        self.in_flight -= 1
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
