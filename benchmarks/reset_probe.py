"""Which servers reset by a fresh copy of their files, without a restart? A probe per server.

Usage: python benchmarks/reset_probe.py RUN_DIR [SERVERS,comma,separated] [--plans K]

For every stateful server of the default fleet (those marked ``restart_per_episode`` unless SERVERS
names others), up to K plans of RUN_DIR whose calls on that server include a state-changing one are
replayed on a fleet of that server alone:

1. on a fresh process (the reference, ``fresh``);
2. again on the same process, state left as it is (``dirty``): where this differs from ``fresh``, the
   plan's calls see their own earlier changes, so the plan can tell a reset from none;
3. after the sandbox is restored in place, the process kept (``swap``);
4. after a restart on fresh files (``restart``): what differs between ``fresh`` and ``restart`` is
   volatile (clocks, ids, call logs) and is not counted.

A plan *shows* the state when ``dirty`` differs from ``restart`` on a call that is stable
(``fresh == restart``). The in-place swap resets the server for that plan when ``swap`` equals
``restart`` on every stable call. Verdict per server: ``files`` (every plan that shows the state is
reset by the swap: ``restart_per_episode: false`` is enough), ``call`` (an entry with ``reset_call``: every such
plan, dirtied again, is reset by the in-place restore and that call, without a restart), ``memory`` (some plan is
not: the state lives in the process), ``unknown`` (no probed plan shows the state). A ``files`` verdict holds for the
state-changing tools the plans called; the ones they did not call are listed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from call_identity import stable  # benchmarks/call_identity.py

from firefly_eval.mcp.config import load_fleet
from firefly_eval.mcp.fleet import Fleet
from firefly_eval.mutation import is_mutating
from firefly_eval.sandbox import SANDBOX_ROOT

ap = argparse.ArgumentParser()
ap.add_argument("run", type=Path)
ap.add_argument("servers", nargs="?", default="")
ap.add_argument("--plans", type=int, default=3)
opt = ap.parse_args()

specs = {s.name: s for s in load_fleet()}
names = opt.servers.split(",") if opt.servers else sorted(n for n, s in specs.items() if s.restart_per_episode)
shards = [json.loads(p.read_text()) for p in sorted((opt.run / "shards").glob("*.json"))]
mutating: dict[str, set[str]] = {}
for t in json.loads((opt.run / "tools.json").read_text()):
    if is_mutating(t["name"], {}, t.get("annotations")):
        mutating.setdefault(t["server"], set()).add(t["name"])


def plans_for(server: str) -> list[list[dict[str, Any]]]:
    out = []
    for shard in shards:
        mine = [c for c in shard["calls"] if c["server"] == server]
        if any(is_mutating(c["tool"], c["arguments"]) and not c["is_error"] for c in mine):
            out.append(mine)
    return out[: opt.plans]


async def replay(fleet: Fleet, server: str, calls: list[dict[str, Any]]) -> list[Any]:
    out = []
    for c in calls:
        try:
            rec = await fleet.replay(server, c["tool"], c["arguments"])
            out.append(stable(rec.result))  # clocks and ids masked: they differ between any two runs
        except Exception as exc:  # noqa: BLE001 - a crash is a result too
            out.append(f"{type(exc).__name__}")
    return out


async def probe(server: str) -> dict[str, Any]:
    plans = plans_for(server)
    if not plans:
        return {"server": server, "verdict": "unknown", "why": "no plan of the run changes its state"}
    spec = specs[server].model_copy(update={"restart_per_episode": False, "stateful": True})
    root = Path(tempfile.mkdtemp(prefix="firefly-probe-"))
    fleet = Fleet([spec], sandbox_root=root, canonical_root=SANDBOX_ROOT)
    shows = reset_by_swap = reset_by_call = 0
    try:
        if not (await fleet.start())[0].ok:
            return {"server": server, "verdict": "unknown", "why": fleet.failed.get(server, "did not start")[:200]}
        for calls in plans:
            await fleet._restart_fresh(server)
            fresh = await replay(fleet, server, calls)
            dirty = await replay(fleet, server, calls)
            await asyncio.to_thread(fleet._fresh_files, server, True)
            swap = await replay(fleet, server, calls)
            by_call = None
            if spec.reset_call:  # dirty it again, then the entry's reset call (after the in-place restore)
                await replay(fleet, server, calls)
                await fleet._reset_by_call(server)
                by_call = await replay(fleet, server, calls)
            await fleet._restart_fresh(server)
            again = await replay(fleet, server, calls)
            stable = [i for i in range(len(calls)) if fresh[i] == again[i]]
            if any(dirty[i] != again[i] for i in stable):
                shows += 1
                reset_by_swap += all(swap[i] == again[i] for i in stable)
                reset_by_call += by_call is not None and all(by_call[i] == again[i] for i in stable)
    finally:
        await fleet.close()
    verdict = "unknown" if not shows else "files" if reset_by_swap == shows else \
        "call" if spec.reset_call and reset_by_call == shows else "memory"
    probed = sorted({c["tool"] for calls in plans for c in calls if is_mutating(c["tool"], c["arguments"])})
    return {"server": server, "verdict": verdict, "plans": len(plans), "plans_showing_state": shows,
            "reset_by_swap": reset_by_swap, "reset_by_call": reset_by_call if spec.reset_call else None,
            "state_changing_tools_probed": probed,
            "state_changing_tools_not_probed": sorted(mutating.get(server, set()) - set(probed))}


async def main() -> None:
    for name in names:
        print(json.dumps(await probe(name)), flush=True)


print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; run {opt.run}; servers {', '.join(names)}")
asyncio.run(main())
