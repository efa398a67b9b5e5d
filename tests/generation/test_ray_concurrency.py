"""A Ray worker runs its plans concurrently (up to ``max_connections``), never two on one server.

A real local Ray instance, one worker, a processor that records which servers its plans in flight hold:
the first three plans (on servers a, b and c) must all be running at once before any may finish (an
``asyncio.Event`` barrier: if the worker ran one plan at a time, the barrier would never fill and every
shard would say so), and no two plans in flight ever share a server.
"""

import asyncio

import pytest

pytest.importorskip("ray")

from firefly_eval.generation.executors import next_plan, run_on_ray  # noqa: E402
from firefly_eval.generation.pipeline import GenerateConfig  # noqa: E402
from firefly_eval.schema import Plan, ServerSpec  # noqa: E402

pytestmark = pytest.mark.slow


def _plan(i, *servers):
    return Plan(id=f"p{i}", nodes=[(s, "t") for s in servers], pattern="single" if len(servers) == 1 else "mixed")


PLANS = [_plan(0, "a"), _plan(1, "b"), _plan(2, "a"), _plan(3, "c"), _plan(4, "b", "c"), _plan(5, "d")]


def test_next_plan_skips_plans_on_busy_servers():
    queue = list(PLANS)
    assert next_plan(queue, {"a", "b"}).id == "p3" and [p.id for p in queue] == ["p0", "p1", "p2", "p4", "p5"]
    assert next_plan([PLANS[4]], {"c"}) is None


def _make_processor(first_wave: int):
    """A processor factory (defined in a function, so Ray pickles it by value) whose plans wait until
    ``first_wave`` plans are in flight together (or 60 s pass), recording overlaps and the peak."""

    def make(fleet, specs, cfg, root):
        class Proc:
            def __init__(self):
                self.busy: set[str] = set()
                self.in_flight = self.peak = 0
                self.wave = asyncio.Event()
                self.timing: dict[str, float] = {}
                from firefly_eval.generation.llm_stats import LLMStats

                self.llm_stats = LLMStats()

            async def run(self, plan):
                overlap = sorted(self.busy & set(plan.servers))
                self.busy |= set(plan.servers)
                self.in_flight += 1
                self.peak = max(self.peak, self.in_flight)
                if self.in_flight >= first_wave:
                    self.wave.set()
                try:
                    await asyncio.wait_for(self.wave.wait(), 60)
                    waited = "ok"
                except asyncio.TimeoutError:
                    waited = "barrier never filled: plans ran one at a time"
                self.in_flight -= 1
                self.busy -= set(plan.servers)
                return {"plan": plan.id, "overlap": overlap, "peak": self.peak, "waited": waited}

        return Proc()

    return make


def test_one_ray_worker_runs_its_plans_concurrently_never_two_on_a_server():
    import ray

    shards = []
    cfg = GenerateConfig(executor="ray", workers=1, max_connections=3)
    try:
        # the fake servers are stateful: the driver never gives one worker two plans on one of them
        stateful = [ServerSpec(name=n, command="unused", stateful=True) for n in "abcd"]
        extra = run_on_ray(PLANS, stateful, cfg, shards.append, make_processor=_make_processor(3))
    finally:
        ray.shutdown()
    assert sorted(s["plan"] for s in shards) == [p.id for p in PLANS]  # each plan written once
    assert all(s["waited"] == "ok" for s in shards), shards
    assert all(not s["overlap"] for s in shards), shards
    assert max(s["peak"] for s in shards) == 3 and extra["timing"]["ray_plans_in_flight_peak"] == [3]


@pytest.mark.fleet
def test_ray_worker_with_plans_in_flight_writes_the_sequential_shards(tmp_path, installed_fleet):
    """The real plan processor on the test fleet: one Ray worker, 3 plans in flight, same shards as the
    local sequential run (calls, tasks, drop reasons)."""
    import json

    import ray

    from firefly_eval.generation.pipeline import generate

    specs = installed_fleet()

    def shards(run):
        out = {}
        for p in sorted((run / "shards").glob("*.json")):
            s = json.loads(p.read_text())
            calls = [(c["server"], c["tool"], json.dumps(c["arguments"], sort_keys=True), c["is_error"])
                     for c in s["calls"]]
            out[p.stem] = (calls, s["task"] and s["task"]["question"], s["reason"])
        return out

    generate(tmp_path / "local", specs, GenerateConfig(n_plans=16, seed=2))
    try:
        summary = generate(tmp_path / "ray", specs, GenerateConfig(n_plans=16, seed=2, executor="ray", workers=1,
                                                                   max_connections=3))
    finally:
        ray.shutdown()
    a, b = shards(tmp_path / "local"), shards(tmp_path / "ray")
    assert a and a == b, {k: (a[k][2], b.get(k, ((), None, "missing"))[2]) for k in a if a[k] != b.get(k)}
    assert summary["plans_failed"] == 0 and summary["timing"]["ray_plans_in_flight_peak"][0] >= 2
