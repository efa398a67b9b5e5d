"""Where each tool of a run was lost: graph -> plans -> calls -> tasks.

Tool coverage is the share of the fleet's tools that some kept task uses. When it is low, the
funnel says at which stage the others dropped out, so the fix goes to the right place (the
graph never reaches the tool, the sampler never draws it, its calls all fail, or its results
never make a task).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from firefly_eval.schema import CallRecord, Task, ToolSpec

__all__ = ["STAGES", "tool_funnel"]

STAGES = ("in_tasks", "ok_calls_no_task", "calls_failed", "sampled_not_called", "in_graph_not_sampled",
          "not_in_graph")
Key = tuple[str, str]


def tool_funnel(run: Path, tools: list[ToolSpec], calls: list[CallRecord], tasks: list[Task],
                examples: int = 5) -> dict[str, Any]:
    """Counts per stage (the last stage each tool reached), per server, and a few example tools.

    ``calls``: every recorded call of the run (what ``pipeline.collect`` read from the shards);
    the graph and the plans are read from ``run``.
    """
    graph = json.loads((run / "graph.json").read_text())
    in_graph = {tuple(k) for e in [*graph.get("edges", []), *graph.get("coverage", [])]  # type: ignore[misc]
                for k in (e["src"], e["dst"])}
    sampled: set[Key] = set()
    plans_path = run / "plans.jsonl"
    if plans_path.exists():
        for line in plans_path.read_text().splitlines():
            if line.strip():
                sampled.update(tuple(n) for n in json.loads(line)["nodes"])  # type: ignore[misc]
    called = {(c.server, c.tool) for c in calls}
    ok = {(c.server, c.tool) for c in calls if not c.is_error}
    used = {tuple(k) for t in tasks for k in t.tools}

    def stage(k: Key) -> str:
        if k in used:
            return "in_tasks"
        if k in ok:
            return "ok_calls_no_task"
        if k in called:
            return "calls_failed"
        if k in sampled:
            return "sampled_not_called"
        return "in_graph_not_sampled" if k in in_graph else "not_in_graph"

    per_stage: dict[str, list[str]] = defaultdict(list)
    per_server: dict[str, Counter[str]] = defaultdict(Counter)
    for k in (t.key for t in tools):
        s = stage(k)
        per_stage[s].append(f"{k[0]}/{k[1]}")
        per_server[k[0]][s] += 1
    return {
        "tools": len(tools),
        "stages": {s: len(per_stage[s]) for s in STAGES},
        "examples": {s: sorted(per_stage[s])[:examples] for s in STAGES if s != "in_tasks" and per_stage[s]},
        "servers": {srv: dict(c) for srv, c in sorted(per_server.items())},
    }
