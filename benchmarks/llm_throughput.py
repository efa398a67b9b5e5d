"""LLM-path throughput: the same plans with every model call taking a fixed delay, sequential vs. in flight.

The explorer, synthesizer and judge are ``mockllm/model`` bound to their Inspect roles (``explorer``,
``synthesizer``, ``grader``) with an async scripted output that sleeps ``--delay`` seconds per call (a
stand-in for an API's latency), so every call goes through ``generate(... explorer=, synthesizer=,
judge=)``, the function ``firefly generate --explorer/--synthesizer/--judge`` runs, and Inspect's model
layer (its ``max_connections`` semaphore). The scripted explorer calls each plan step with arguments that
succeeded in an offline run of the same plans (run first, not timed against the others), then the
synthesizer picks the first two observed facts and the judge rates every criterion 5.

Fleet: by default the stateless servers of the installed default fleet (no server restarts between
plans, so live MCP calls stay small beside the model delay; the test fleet samples only ~50 plans).
Plans never share a stateful server of a fleet copy while in flight (the pipeline's rule; stateless servers
serve several plans at once; plans on one stateful server run at once on different copies of the fleet,
``generation.placement``), which bounds the speed-up: the script prints the bound computed from the plans
themselves (``ideal``, each plan as long as its model calls) under that rule on the run's copies and on one,
and under the old rule (every server held by one plan at a time), beside the measured ratio and the server
starts of each run. Server starts (lazy, in plan order) and restarts are not in the bound. ``--fleet firefly_eval/fleets/default.json`` runs the whole default fleet (stateful servers
and their resets included).

Usage: python benchmarks/llm_throughput.py [-n 100] [--delay 0.2] [--conn 8] [--fleet FILE] [--seed 0]
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from inspect_ai.model import ModelOutput, ModelUsage, get_model
from inspect_ai.model._model import init_model_roles
from inspect_ai.tool import ToolCall
from inspect_ai.util._concurrency import init_concurrency

from firefly_eval.agent_tools import exposed_name
from firefly_eval.generation.pipeline import GenerateConfig, GenerateError, generate
from firefly_eval.mcp.config import load_fleet
from firefly_eval.sandbox import SANDBOX_ROOT
from firefly_eval.schema import Plan

RATINGS = {"solvable": 5, "unambiguous": 5, "answer_supported": 5, "natural": 5, "non_trivial": 5, "reason": "ok"}


def _usage(o: ModelOutput, n_in: int, n_out: int) -> ModelOutput:
    o.usage = ModelUsage(input_tokens=n_in, output_tokens=n_out, total_tokens=n_in + n_out)
    return o


class DelayedScript:
    """One async scripted model for the three roles; each call sleeps ``delay`` seconds first."""

    def __init__(self, args: dict[str, dict[str, Any]], delay: float) -> None:
        self.args, self.delay = args, delay
        self.calls = 0
        self.in_flight = self.peak = 0

    async def __call__(self, input: list[Any], tools: list[Any], tool_choice: Any, config: Any) -> ModelOutput:
        self.calls += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        schema = config.response_schema.name if config.response_schema else ""
        if schema == "task":  # synthesizer: the first two observed facts
            facts = re.findall(r"F(\d+): ", input[-1].text)[:2]
            reply = {"question": "For the records I asked about, what do they say?",
                     "fields": [{"fact": f"F{f}", "name": f"value_{f}", "description": "what the record says"}
                                for f in facts]}
            return _usage(ModelOutput.from_content("mockllm/model", json.dumps(reply)), 300, 40)
        if schema == "task_ratings":
            return _usage(ModelOutput.from_content("mockllm/model", json.dumps(RATINGS)), 200, 30)
        return self._explore(input, tools)

    def _explore(self, input: list[Any], tools: list[Any]) -> ModelOutput:
        m = re.search(r"Their folders: \w+: (\S+?)/\w+[;.]", input[1].text)
        called = {msg.function for msg in input if getattr(msg, "role", "") == "tool"}
        for t in tools:
            if t.name not in called:
                args = self.args.get(t.name, {})
                if m:
                    args = json.loads(json.dumps(args).replace(str(SANDBOX_ROOT), m.group(1)))
                o = ModelOutput.for_tool_call("mockllm/model", t.name, args)
                o.choices[0].message.tool_calls = [ToolCall(id=f"c{len(input)}", function=t.name, arguments=args)]
                return _usage(o, 100, 10)
        return _usage(ModelOutput.from_content("mockllm/model", "All steps are done."), 100, 5)


def _ideal(plans: list[Plan], limit: int, model_calls: dict[str, int], exclusive: set[str] | None = None,
           replicas: int = 1) -> float:
    """Sequential time / in-flight time for ``plans`` under the pipeline's rule (no two plans in flight on one
    server of a fleet copy, at most ``limit``), each plan as long as its model calls (from the sequential run's
    shards). With ``exclusive``, only those servers are held by one plan at a time (a rule for stateful servers
    only); ``replicas`` copies of the fleet each hold their own (``generation.placement``)."""
    def servers(p: Plan) -> set[str]:
        return set(p.servers) if exclusive is None else set(p.servers) & exclusive

    def makespan(k: int, copies: int) -> float:
        busy: list[set[str]] = [set() for _ in range(copies)]
        pending, running, now = list(plans), [], 0.0
        while pending or running:
            for p in list(pending):
                if len(running) >= k:
                    break
                free = next((r for r in range(copies) if not busy[r] & servers(p)), None)
                if free is None:
                    continue
                busy[free] |= servers(p)
                pending.remove(p)
                heapq.heappush(running, (now + model_calls.get(p.id, 1), p.id, free, p))
            now, _, r, done = heapq.heappop(running)
            busy[r] -= servers(done)
        return now

    return makespan(1, 1) / makespan(limit, replicas if limit > 1 else 1)


def _run(label: str, specs: list[Any], cfg: GenerateConfig) -> tuple[float, float, dict[str, Any], Path]:
    """(total wall, plan-phase wall, summary, run dir) of one generation into a fresh directory."""
    run = Path(tempfile.mkdtemp(prefix=f"firefly-llm-{label}-")) / "run"
    marks: list[float] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "plans":
            marks.append(time.perf_counter())

    t0 = time.perf_counter()
    try:
        summary = generate(run, specs, cfg, progress=progress)
    except GenerateError as exc:  # no task kept: the plans still ran (their shards moved to RUN/failed-*)
        print(f"  ({label}: {str(exc)[:160]}...)")
        summary = json.loads((run / "summary.json").read_text())
        summary.setdefault("counts", {}).update(train=0, test=0)
    wall = time.perf_counter() - t0
    return wall, (marks[-1] - marks[0]) if len(marks) > 1 else wall, summary, run


def _shards(run: Path) -> list[Path]:
    """A run's shards (in RUN/failed-*/shards when it kept no task)."""
    return sorted((run / "shards").glob("*.json")) or sorted(run.glob("failed-*/shards/*.json"))


def _starts(run: Path) -> str:
    """A run's server starts (in plan order, over every fleet copy), restarts and warm-pool swaps."""
    t = json.loads((run / "summary.json").read_text()).get("timing", {})
    return (f"server starts {t.get('fleet starts_in_order', 0):.0f} ({t.get('fleet start_in_order_s', 0):.0f} s "
            f"summed), restarts {t.get('fleet restarts', 0):.0f}, spare swaps {t.get('fleet spare_swaps', 0):.0f}, "
            f"spare starts {t.get('fleet spare_starts', 0):.0f}")


def _bounds(rows: list[Any], plans: list[Plan], per_plan: dict[str, int], specs: list[Any], conn: int) -> None:
    """Print the measured speed-up beside the plans' own bounds, and the plans per fleet copy."""
    (_, w1, p1, *_), (_, w8, p8, *_) = rows
    stateful = {s.name for s in specs if s.stateful}  # the fleet's inference has marked them by now
    summary8 = json.loads((rows[1][8] / "summary.json").read_text())
    copies = len(summary8.get("replica_plans", [1]))
    print(f"speed-up at --max-connections {conn}: {p1 / p8:.2f}x on the plan phase, {w1 / w8:.2f}x wall "
          f"(ideal with only stateful servers held by one plan at a time on each of the run's {copies} fleet "
          f"copies, the pipeline's rule: {_ideal(plans, conn, per_plan, stateful, copies):.2f}x; on one copy: "
          f"{_ideal(plans, conn, per_plan, stateful):.2f}x; {len(stateful)} stateful servers here; target >= 5x)")
    print(f"ideal under the old rule (every server held by one plan at a time): {_ideal(plans, conn, per_plan):.2f}x")
    print(f"plans per fleet copy at --max-connections {conn}: {summary8.get('replica_plans')}")
    for c, *_, run in rows:
        print(f"  --max-connections {c}: {_starts(run)}")
    # every plan needs fresh state: the process starts (first starts, spares, restarts) happen at any concurrency,
    # and a start keeps a core busy; the sequential run's (uncontended) start seconds over the cores bound the rest
    t1 = json.loads((rows[0][8] / "summary.json").read_text()).get("timing", {})
    work = sum(t1.get(f"fleet {k}", 0) for k in ("start_in_order_s", "spare_start_s", "restart_s"))
    cores = os.cpu_count() or 1
    print(f"server process starts of the sequential run: {work:.0f} s summed, >= {work / cores:.0f} s on {cores} "
          f"cores at any concurrency: speed-up <= {p1 / max(work / cores, 1e-9):.2f}x on this machine "
          f"(were its cores free)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=100, help="plans")
    ap.add_argument("--delay", type=float, default=0.2, help="seconds per model call")
    ap.add_argument("--conn", type=int, default=8, help="--max-connections of the concurrent run")
    ap.add_argument("--fleet", default="", help="fleet file (default: the default fleet's stateless servers)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep the three run directories (default: removed)")
    a = ap.parse_args()
    specs = load_fleet(a.fleet) if a.fleet else [s for s in load_fleet() if not s.stateful]

    # offline run of the same plans: arguments that succeeded, per tool, for the scripted explorer
    t0 = time.perf_counter()
    _, _, _, offline = _run("offline", specs, GenerateConfig(n_plans=a.n, seed=a.seed))
    args: dict[str, dict[str, Any]] = {}
    for p in _shards(offline):
        for c in json.loads(p.read_text())["calls"]:
            if not c["is_error"]:
                args.setdefault(exposed_name(c["server"], c["tool"]), c["arguments"])
    print(f"offline run for arguments: {time.perf_counter() - t0:.0f}s, {len(args)} tools with working arguments")

    rows = []
    for conn in (1, a.conn):
        init_concurrency()  # Inspect keeps a model's semaphore per process, sized by its first max_connections
        script = DelayedScript(args, a.delay)
        model = get_model("mockllm/model", custom_outputs=script)
        init_model_roles({"explorer": model, "synthesizer": model, "grader": model})
        try:
            cfg = GenerateConfig(n_plans=a.n, seed=a.seed, explorer="mockllm/model", synthesizer="mockllm/model",
                                 judge="mockllm/model", max_connections=conn)
            wall, plans_wall, summary, run = _run(f"c{conn}", specs, cfg)
        finally:
            init_model_roles({})
        kept = summary["counts"].get("train", 0) + summary["counts"].get("test", 0)
        usage = {k: u["calls"] for k, u in summary.get("llm", {}).get("usage", {}).items()}
        rows.append((conn, wall, plans_wall, script.calls, script.peak, kept, usage, summary["plans_failed"], run))

    plans = [Plan.model_validate_json(x) for x in next(rows[0][8].glob("**/plans.jsonl")).read_text().splitlines() if x.strip()]
    per_plan = {}
    for p in _shards(rows[0][8]):
        per_plan[p.stem] = sum(u["calls"] for u in json.loads(p.read_text())["llm"]["usage"].values())
    print(f"{len(plans)} plans on {len(specs)} servers, {a.delay * 1000:.0f} ms per model call")
    print(f"{'max-connections':>15}{'wall s':>9}{'plans s':>9}{'model calls':>13}{'peak in flight':>16}"
          f"{'kept':>6}{'failed':>8}  calls per stage")
    for conn, wall, plans_wall, calls, peak, kept, usage, failed, _ in rows:
        print(f"{conn:>15}{wall:>9.1f}{plans_wall:>9.1f}{calls:>13}{peak:>16}{kept:>6}{failed:>8}  {usage}")
    for conn, *_, run in rows:
        print(f"  --max-connections {conn}: stage seconds summed over plans {json.loads((run / 'summary.json').read_text()).get('timing')}")
    _bounds(rows, plans, per_plan, specs, a.conn)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not a.keep:
        for run in (offline, *(r[8] for r in rows)):
            shutil.rmtree(run.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
