"""Drift check: re-probe recorded calls on the live servers and report which results changed."""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from firefly_eval.mcp.fleet import Fleet
from firefly_eval.sandbox import SANDBOX_ROOT
from firefly_eval.schema import CallRecord, ServerSpec, canonical_json
from firefly_eval.simulator.index import CallIndex
from firefly_eval.simulator.simulator import Simulator

__all__ = ["drift_report", "replayable"]


def _strip(result: dict[str, Any]) -> str:
    """Comparable form of a result: text blocks that hold JSON are compared as canonical JSON
    (servers echo arguments in the order they received them: key order is not drift)."""
    import json

    blocks = []
    for b in result.get("content", []) or []:
        if isinstance(b, dict) and b.get("type") == "text":
            text = str(b.get("text", ""))
            try:
                blocks.append({"type": "text", "json": json.loads(text)})
                continue
            except ValueError:
                pass
        blocks.append(b)
    return canonical_json({"content": blocks, "isError": bool(result.get("isError"))})


def replayable(records: list[CallRecord], specs: dict[str, ServerSpec]) -> list[CallRecord]:
    """Records that can be re-run on a fresh server: successful, no prior state change."""
    return [r for r in records if not r.is_error and not r.history_key and r.server in specs]


async def drift_report(records: list[CallRecord], specs: list[ServerSpec], n: int = 200, seed: int = 0) -> dict[str, Any]:
    """Re-run ``n`` recorded calls live and through the simulator; compare and time both.

    "Deterministic" calls are those of servers flagged deterministic, minus the tools the fleet
    lists as ``volatile_tools``.
    """
    by_name = {s.name: s for s in specs}
    pool = replayable(records, by_name)
    rng = random.Random(seed)
    sample = rng.sample(pool, min(n, len(pool)))
    sim = Simulator(CallIndex(records), tiers=frozenset({"exact"}))
    # records hold canonical sandbox paths; this probe's servers run under their own root
    root = Path(tempfile.mkdtemp(prefix="firefly-drift-"))
    fleet = Fleet([by_name[s] for s in sorted({r.server for r in sample})], sandbox_root=root,
                  canonical_root=SANDBOX_ROOT)
    try:
        await fleet.start()
        changed: dict[str, list[str]] = {}
        same_det = total_det = 0
        t0 = time.perf_counter()
        live = []
        for r in sample:
            if r.server in fleet.failed:
                live.append(None)
                continue
            await fleet.reset_episode({r.server})
            try:
                live.append(await fleet.replay(r.server, r.tool, r.arguments))
            except Exception:  # noqa: BLE001 - a dead server counts as drift
                live.append(None)
        live_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        replay = [sim.answer(r.server, r.tool, r.arguments) for r in sample]
        sim_s = time.perf_counter() - t0
    finally:
        await fleet.close()
        shutil.rmtree(root, ignore_errors=True)
    for r, lv, sv in zip(sample, live, replay, strict=True):
        spec = by_name[r.server]
        det = spec.deterministic and r.tool not in spec.volatile_tools
        same = lv is not None and _strip(lv.result) == _strip(r.result)
        if det:
            total_det += 1
            same_det += same and _strip(sv.result) == _strip(r.result)
        if not same:
            changed.setdefault(r.server, []).append(r.tool)
    return {
        "calls": len(sample),
        "live_seconds": round(live_s, 3),
        "simulator_seconds": round(sim_s, 5),
        "speedup": round(live_s / max(sim_s, 1e-9), 1),
        "deterministic_calls": total_det,
        "deterministic_identical_live_and_replay": round(same_det / max(total_det, 1), 4),
        "changed": {k: sorted(set(v)) for k, v in changed.items()},
        "changed_share": round(sum(len(v) for v in changed.values()) / max(len(sample), 1), 4),
    }
