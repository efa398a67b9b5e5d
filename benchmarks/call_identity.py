"""Identity of a generate run's recorded calls: hashes, and where two runs differ.

Usage: python benchmarks/call_identity.py RUN_A [RUN_B]

Prints the hashes of RUN_A (with RUN_B: of both, and every call that differs in the stable view).
The calls are the discovery calls of the servers the plans use, then the shards' calls in plan order,
each as (server, tool, arguments, result). ``arguments`` hashes (server, tool, arguments), what the explorer
chose; ``calls`` hashes them as recorded; ``stable`` leaves out the
results of servers flagged ``deterministic: false`` (a clock, a call log) and masks date-times, epoch
seconds, uuids and long digit runs in the others: two runs of the same code differ there and only there.
generate_throughput.py prints these hashes; reset_probe.py compares results through :func:`stable`.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["call_rows", "identity", "stable"]

_MASKS = [re.compile(p) for p in (
    r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?",  # ISO date-times
    r"\w{3} \w{3} \d{2} \d{4} \d{2}:\d{2}:\d{2} GMT[+-]\d{4}( \([^)]*\))?",  # JavaScript Date strings
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",  # uuids
    r"\b1[6-9]\d{8}(\.\d+)?\b",  # epoch seconds
    r"\b\d{12,}\b")]  # object ids, epoch milliseconds


def stable(value: Any) -> Any:
    """``value`` (JSON-like) with date-times, epoch seconds, uuids and long digit runs replaced by ``#``."""
    if isinstance(value, str):
        for pat in _MASKS:
            value = pat.sub("#", value)
        return value
    if isinstance(value, list):
        return [stable(v) for v in value]
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items()}
    return value


def call_rows(run: Path) -> list[tuple[str, str, Any, Any]]:
    """The run's recorded calls in a fixed order (see the module docstring)."""
    plan_servers = {s for line in (run / "plans.jsonl").read_text().splitlines() if line.strip()
                    for s, _ in json.loads(line)["nodes"]}
    disc = json.loads((run / "discovery.json").read_text()) if (run / "discovery.json").exists() else {}
    calls = [c for srv in sorted(disc) if srv in plan_servers for c in disc[srv]["calls"] if "error" not in c]
    for path in sorted((run / "shards").glob("*.json")):
        calls += json.loads(path.read_text())["calls"]
    return [(c["server"], c["tool"], c["arguments"], c["result"]) for c in calls]


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def _stable_rows(rows: list[tuple[str, str, Any, Any]], volatile_servers: set[str]) -> list[Any]:
    return [list(r[:3]) if r[0] in volatile_servers else stable(list(r)) for r in rows]


def identity(run: Path, volatile_servers: set[str]) -> dict[str, Any]:
    """Hashes of the plans, of the calls as recorded and of their stable view."""
    rows = call_rows(run)
    return {"plans": hashlib.sha256((run / "plans.jsonl").read_bytes()).hexdigest()[:16], "n_calls": len(rows),
            "arguments": _digest([r[:3] for r in rows]), "calls": _digest(rows),
            "stable": _digest(_stable_rows(rows, volatile_servers))}


if __name__ == "__main__":
    from firefly_eval.mcp.config import load_fleet

    volatile = {s.name for s in load_fleet() if not s.deterministic}
    runs = [Path(a) for a in sys.argv[1:3]]
    for r in runs:
        print(r, json.dumps(identity(r, volatile)))
    if len(runs) == 2:
        a, b = (_stable_rows(call_rows(r), volatile) for r in runs)
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y]
        print(f"{len(diff)} of {min(len(a), len(b))} calls differ in the stable view"
              + (f"; lengths {len(a)} vs {len(b)}" if len(a) != len(b) else ""))
        print("  by tool:", json.dumps(dict(Counter(f"{a[i][0]}.{a[i][1]}" for i in diff).most_common())))
        print("  calls whose arguments differ:", [i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x[:3] != y[:3]])
        for i in diff[:20]:
            print(f"  #{i} {a[i][0]}.{a[i][1]}: {json.dumps(a[i][3])[:150]} | {json.dumps(b[i][3])[:150]}")
