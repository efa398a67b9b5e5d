"""Fidelity reports: hold out real calls and replay them; perturb recorded calls (:mod:`.perturb`)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

from firefly_eval.schema import canonical_json
from firefly_eval.simulator.index import CallIndex
from firefly_eval.simulator.perturb import perturbation_report
from firefly_eval.simulator.records import read_records
from firefly_eval.simulator.simulator import Simulator

__all__ = ["fidelity_report", "perturbation_report"]


def fidelity_report(source: str | Path, holdout: float = 0.2, seed: int = 0) -> dict[str, Any]:
    """Two replays: all records indexed (exact tier must reproduce every result), and a held-out
    share replayed against the rest (how often fuzzy answers, and how often it is right)."""
    records = [r for r in read_records(Path(source)) if not r.is_error]
    rng = random.Random(seed)
    rng.shuffle(records)
    full = Simulator(CallIndex(records), stateful_servers={r.server for r in records if r.history_key})
    same = sum(canonical_json(full.answer(r.server, r.tool, r.arguments, r.history_key).result)
               == canonical_json(r.result) for r in records)
    k = int(len(records) * holdout)
    held, kept = records[:k], records[k:]
    sim = Simulator(CallIndex(kept), tiers=frozenset({"fuzzy"}),
                    stateful_servers={r.server for r in records if r.history_key})
    tiers: Counter[str] = Counter()
    equal: Counter[str] = Counter()
    for r in held:
        ans = sim.answer(r.server, r.tool, r.arguments, r.history_key)
        tiers[ans.tier] += 1
        equal[ans.tier] += canonical_json(ans.result) == canonical_json(r.result)
    return {
        "records": len(records),
        "exact_replay_identical": round(same / max(len(records), 1), 4),
        "held_out": len(held),
        "held_out_tiers": {t: round(c / max(len(held), 1), 4) for t, c in tiers.items()},
        "held_out_equal_to_real": {t: round(equal[t] / c, 4) for t, c in tiers.items() if c},
    }
