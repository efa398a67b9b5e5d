"""Generation throughput on the default fleet: where the wall time goes, CPU split, server starts, identity hash.

Usage: python benchmarks/generate_throughput.py RUN_DIR [N_PLANS] [SERVERS,comma,separated] [--seed S] [--conn K]

The run directory is discarded first (``force``). The pipeline's functions are wrapped from here (no
source change), so the same script measures the code before and after a change:

* wall time split into fleet start, discovery, graph + sampling, live exploration calls, episode resets
  (the time a plan waited for them) and background restarts, volatility re-probes, synthesis,
  verification and writing (shards, dataset);
* CPU seconds of this process and of the server processes (``RUSAGE_CHILDREN``: every server has exited
  and been reaped when ``generate`` returns);
* server process starts (the first start of each server included) and in-place file swaps;
* the identity hash: sha256 of the plans and of every recorded call's (server, tool, arguments, result):
  the discovery calls of the servers the plans use, then the shards in plan order.
  ``python benchmarks/call_identity.py RUN_A RUN_B`` diffs two runs call by call (which calls differ, by
  tool). Two runs of the same code differ where a result carries a clock or a process-specific id, so a
  second hash, the one to compare, leaves out the results of servers flagged ``deterministic: false`` (a clock, a call
  log) and masks timestamps, epoch seconds, uuids and long digit runs in the others (``stable``).
"""

from __future__ import annotations

import argparse
import contextvars
import functools
import json
import os
import resource
import time
from collections import Counter
from pathlib import Path
from typing import Any

from call_identity import identity  # benchmarks/call_identity.py

import firefly_eval.generation.pipeline as pipeline
from firefly_eval.mcp import client as mcp_client
from firefly_eval.mcp import fleet as mcp_fleet
from firefly_eval.mcp.config import load_fleet

ap = argparse.ArgumentParser()
ap.add_argument("run", type=Path)
ap.add_argument("n_plans", type=int, nargs="?", default=300)
ap.add_argument("servers", nargs="?", default="")
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--conn", type=int, default=1, help="--max-connections: plans in flight (default 1, sequential)")
opt = ap.parse_args()

seconds: Counter[str] = Counter()
counts: Counter[str] = Counter()
phase: contextvars.ContextVar[str] = contextvars.ContextVar("phase", default="explore")


def timed_async(owner: Any, name: str, bucket: str, set_phase: bool = False) -> None:
    """Wrap ``owner.name`` (a coroutine function) so its wall time adds to ``seconds[bucket]``."""
    orig = getattr(owner, name, None)
    if orig is None:
        return

    @functools.wraps(orig)
    async def wrapper(*a: Any, **k: Any) -> Any:
        token = phase.set(bucket) if set_phase else None
        t0 = time.perf_counter()
        try:
            return await orig(*a, **k)
        finally:
            seconds[bucket] += time.perf_counter() - t0
            counts[bucket] += 1
            if token is not None:
                phase.reset(token)

    setattr(owner, name, wrapper)


def timed_sync(owner: Any, name: str, bucket: str) -> None:
    orig = getattr(owner, name, None)
    if orig is None:
        return

    @functools.wraps(orig)
    def wrapper(*a: Any, **k: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return orig(*a, **k)
        finally:
            seconds[bucket] += time.perf_counter() - t0
            counts[bucket] += 1

    setattr(owner, name, wrapper)


Fleet, Conn = mcp_fleet.Fleet, mcp_client.ServerConnection
timed_async(Fleet, "start", "fleet start", set_phase=True)
timed_async(pipeline, "discover", "discovery", set_phase=True)
timed_async(Fleet, "reset_episode", "resets (waited)", set_phase=True)
timed_async(Fleet, "_restart_fresh", "restarts (background)", set_phase=True)  # warm-pool swaps too
timed_async(pipeline, "_volatile_fields", "re-probes", set_phase=True)
timed_sync(pipeline, "build_graph", "graph")
timed_sync(pipeline, "sample_plans", "sampling")
timed_sync(pipeline, "synthesize_task", "synthesis")
timed_sync(pipeline.Verifier, "check", "verification")
timed_sync(pipeline, "_atomic_write", "writing")
timed_sync(pipeline, "build_dataset", "writing")
timed_sync(pipeline, "collect_by_server", "writing")
timed_async(Conn, "close", "closes")

_call = Fleet.call


async def call(self: Any, *a: Any, **k: Any) -> Any:
    t0 = time.perf_counter()
    try:
        return await _call(self, *a, **k)
    finally:
        seconds[f"calls during {phase.get()}"] += time.perf_counter() - t0
        counts[f"calls during {phase.get()}"] += 1


Fleet.call = call  # type: ignore[method-assign]
_start = Conn.start


async def start(self: Any) -> None:
    up = self._session is not None
    await _start(self)
    if not up and self._session is not None:
        counts["server starts"] += 1
        counts[f"starts:{self.spec.name}"] += 1


Conn.start = start  # type: ignore[method-assign]

specs = load_fleet()
if opt.servers:
    keep = set(opt.servers.split(","))
    specs = [s for s in specs if s.name in keep]
load0 = os.getloadavg()
t0 = time.perf_counter()
summary = pipeline.generate(opt.run, specs, pipeline.GenerateConfig(n_plans=opt.n_plans, seed=opt.seed,
                                                                    max_connections=opt.conn), force=True)
wall = time.perf_counter() - t0
load1 = os.getloadavg()
own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu_own, cpu_servers = own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


ident = identity(opt.run, {s.name for s in specs if not s.deterministic})

kept = summary["counts"]["train"] + summary["counts"]["test"]
live = seconds["calls during explore"]
print(json.dumps({k: summary.get(k) for k in ("counts", "servers_up", "tools", "timing")}, default=str))
print(f"load average at start {' '.join(f'{x:.2f}' for x in load0)}, at end {' '.join(f'{x:.2f}' for x in load1)}")
print(f"wall {wall:.1f}s for {opt.n_plans} plans, kept {kept} tasks ({kept / wall * 60:.1f} verified tasks/minute)")
print(f"  live exploration calls {live:7.1f}s  ({counts['calls during explore']} calls); wall / live = {wall / max(live, 1e-9):.2f}")
for bucket in ("fleet start", "discovery", "graph", "sampling", "resets (waited)", "restarts (background)",
               "re-probes", "synthesis", "verification", "writing", "closes"):
    extra = f" (of which calls {seconds[f'calls during {bucket}']:.1f}s)" if seconds[f"calls during {bucket}"] else ""
    print(f"  {bucket:<22} {seconds[bucket]:7.1f}s  x{counts[bucket]}{extra}")
print(f"CPU: firefly {cpu_own:.1f}s, server processes {cpu_servers:.1f}s "
      f"({cpu_servers / max(cpu_own + cpu_servers, 1e-9):.0%} of {cpu_own + cpu_servers:.1f}s)")
per = sorted(((k.split(":", 1)[1], v) for k, v in counts.items() if k.startswith("starts:")), key=lambda x: -x[1])
print(f"server starts {counts['server starts']} ({len(per)} servers; most: "
      f"{', '.join(f'{n} {v}' for n, v in per[:6])})")
ft = summary.get("timing", {})
print(f"episode resets by a process: {ft.get('fleet restarts', 0):.0f} restarts (a plan may wait for the start), "
      f"{ft.get('fleet spare_swaps', 0):.0f} warm-pool swaps (a spare started ahead), "
      f"{ft.get('fleet spare_starts', 0):.0f} spare starts (in the server starts above); "
      f"{ft.get('fleet file_restores', 0):.0f} in-place file restores")
fleet_stats = summary.get("fleet_stats")
if fleet_stats:
    print(f"fleet: {json.dumps(fleet_stats, sort_keys=True)}")
print(f"identity: plans {ident['plans']}, calls {ident['calls']} ({ident['n_calls']} calls), stable {ident['stable']} "
      "(results of non-deterministic servers left out, clocks and ids masked: benchmarks/call_identity.py)")
