"""``firefly generate``: graph -> plans -> live exploration -> synthesis -> verification -> dataset.

The run directory is the unit of resumption:

    RUN/config.json     the run's settings (a re-run with other settings is refused)
    RUN/tools.json      discovered ToolSpecs
    RUN/graph.json      the tool graph (``graph.save_graph``: version, tools, edges, stats + coverage)
    RUN/plans.jsonl     sampled plans (fixed once written)
    RUN/shards/<plan>.json  one per finished plan: its calls and its task or drop reason,
                        written atomically (tmp + rename): a kill -9 loses at most the plan in flight
    RUN/dataset/        the built dataset (rebuilt from shards at the end of every run)
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from firefly_eval import __version__
from firefly_eval.generation.dataset import build_dataset
from firefly_eval.generation.executors import run_on_ray
from firefly_eval.generation.explore import explore_plan, succeeded
from firefly_eval.generation.realism import realism
from firefly_eval.generation.graph import build_graph, save_graph
from firefly_eval.generation.llm import LLMStats, explore_plan_llm, synthesize_task_llm
from firefly_eval.generation.relocate import relocate_exploration
from firefly_eval.generation.sampling import coverage, sample_plans
from firefly_eval.cards import load_cards
from firefly_eval.generation.synthesize import SynthesisDrop, fact_value, synthesize_task
from firefly_eval.generation.values import ValueBank
from firefly_eval.generation.verify import Verifier
from firefly_eval.mcp.fleet import Fleet
from firefly_eval.mutation import is_mutating
from firefly_eval.sandbox import SANDBOX_ROOT, process_root, remove_stale_roots
from firefly_eval.schema import CallRecord, Plan, ServerSpec, Task, ToolSpec
from firefly_eval.world import WORLD_VERSION

__all__ = ["GenerateConfig", "generate"]


@dataclass
class GenerateConfig:
    n_plans: int = 100
    seed: int = 0
    test_share: float = 0.2
    max_repairs: int = 3
    call_timeout: float = 20.0
    fleet_file: str = ""
    explorer: str | None = None  # Inspect model name; None = offline schema-guided explorer
    executor: str = "local"  # local | ray
    workers: int = 1  # Ray workers (each owns its own fleet of server processes)
    ray_address: str | None = None  # None: start a local Ray instance; "auto" or "ray://host:10001"
    synthesizer: str | None = None  # Inspect model name; None = template synthesizer
    judge: str | None = None  # Inspect model rating kept tasks on the paper's five criteria (optional)
    cards_dirs: list[str] = field(default_factory=list)  # extra tool-card folders (firefly fleet cards --out)
    max_server_share: float = 0.15  # no server in more than this share of the kept tasks


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


async def _volatile_fields(task: Task, calls: list[CallRecord], fleet: Fleet) -> set[str]:
    """Re-run the answer's source calls (read-only ones) and report the fields that changed.

    Records are in canonical paths; ``Fleet.replay`` sends them with this worker's root.
    """
    by_id = {c.id: c for c in calls}
    out: set[str] = set()
    sources = task.provenance.get("answer_sources", {})
    for name, src in sources.items():
        rec = by_id[src["call"]]
        spec = fleet.specs[rec.server]
        if is_mutating(rec.tool, rec.arguments) or (spec.stateful and fleet.history.key(rec.server) != rec.history_key):
            if not spec.deterministic:
                out.add(name)
            continue
        # a fresh copy of the sandbox first: what a new episode would see (file times, ...)
        fleet.refresh_files(rec.server)
        try:
            again = await fleet.replay(rec.server, rec.tool, rec.arguments)
        except Exception:  # noqa: BLE001 - a failing re-probe makes the field untrustworthy
            out.add(name)
            continue
        if fact_value(again, src["key"]) != task.answer[name]:
            out.add(name)
    return out


def _load_or_write_config(run: Path, cfg: GenerateConfig) -> None:
    path = run / "config.json"
    data = {**asdict(cfg), "package_version": __version__, "world": WORLD_VERSION}
    if path.exists():
        old = json.loads(path.read_text())
        keys = ("n_plans", "seed", "fleet_file")
        if any(old.get(k) != data.get(k) for k in keys):
            raise ValueError(f"{path}: run directory was started with other settings "
                             f"({ {k: old.get(k) for k in keys} }); use a new --out")
        return
    _atomic_write(path, json.dumps(data, indent=2))


class PlanProcessor:
    """Explore -> synthesize -> verify one plan on a live fleet; returns the plan's shard.

    Records are relocated from this worker's sandbox root to the canonical root before
    synthesis, so a plan's shard is the same whichever worker ran it.
    """

    def __init__(self, fleet: Fleet, specs: list[ServerSpec], cfg: GenerateConfig, sandbox_root: Path) -> None:
        self.fleet = fleet
        self.cfg = cfg
        self.root = str(sandbox_root)
        self.canonical = fleet.canonical_root
        self.sandbox_of = {s.name: str(sandbox_root / s.name) for s in specs}
        self.stateful = {s.name for s in specs if s.stateful}
        self.cards = load_cards(cfg.cards_dirs)
        self.known_values = {s.name: s.explore_values for s in specs if s.explore_values}
        self.provenance = {"fleet": {s.name: s.pin for s in specs}, "world": WORLD_VERSION,
                           "explorer": cfg.explorer or "schema-guided", "package_version": __version__}
        self.llm_stats = LLMStats()
        self.timing: Counter[str] = Counter()

    async def run(self, plan: Plan) -> dict[str, Any]:
        """The plan's shard; ``{"plan", "failed"}`` when this code raised on it (a bug in synthesis or
        verification must not end a run of thousands of plans: no shard is written, so a re-run retries it)."""
        try:
            return await self._run(plan)
        except Exception as exc:  # noqa: BLE001 - reported in the summary, the run goes on
            import traceback

            where = traceback.extract_tb(exc.__traceback__)[-1]
            return {"plan": plan.id, "failed": f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})"[:400]}

    async def _run(self, plan: Plan) -> dict[str, Any]:
        fleet, cfg = self.fleet, self.cfg
        t0 = time.perf_counter()
        await fleet.reset_episode(set(plan.servers))
        self.timing["reset"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        if cfg.explorer:
            exp = await explore_plan_llm(plan, fleet, cfg.explorer, self.sandbox_of, stats=self.llm_stats)
        else:
            # a value bank per plan: a plan's exploration depends on nothing but the plan and the seed world,
            # so results do not depend on which worker ran which plans before it
            bank = ValueBank(self.sandbox_of, self.known_values)
            exp = await explore_plan(plan, fleet, bank, seed=cfg.seed, max_repairs=cfg.max_repairs, cards=self.cards)
        exp = relocate_exploration(exp, self.root, self.canonical)
        prov = {**self.provenance, "licenses": {s: fleet.specs[s].license for s in plan.servers if s in fleet.specs},
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        card_options = {"cards": self.cards, "stateful_servers": self.stateful}
        verifier = Verifier(self.stateful, tools=fleet.tools, cards=self.cards)
        try:
            if cfg.synthesizer:
                task = await synthesize_task_llm(exp, fleet.tools, cfg.synthesizer, seed=cfg.seed, provenance=prov,
                                                 stats=self.llm_stats, **card_options)
            else:
                task = synthesize_task(exp, fleet.tools, seed=cfg.seed, provenance=prov, **card_options)
        except SynthesisDrop as drop:
            task = None
            verifier.counts[drop.reason] += 1
        self.timing["explore"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        volatile = await _volatile_fields(task, exp.calls, fleet) if task else set()
        if task is not None and volatile and not cfg.synthesizer:
            # write the question again without the facts that change between runs
            sources = task.provenance["answer_sources"]
            exclude = {(sources[n]["call"], sources[n]["key"]) for n in volatile}
            verifier.counts["fields_removed_volatile"] += len(volatile)
            try:
                task = synthesize_task(exp, fleet.tools, seed=cfg.seed, provenance=prov, exclude=exclude,
                                       **card_options)
                volatile = await _volatile_fields(task, exp.calls, fleet)
            except SynthesisDrop:
                task = None
                verifier.counts["dropped_volatile"] += 1
        kept = verifier.check(task, exp.calls, volatile) if task is not None else None
        if kept is not None and cfg.judge:
            from firefly_eval.generation.task_judge import judge_task

            ok, ratings = await judge_task(kept, exp.calls, cfg.judge)
            kept.quality.update(ratings)
            if ratings.get("judge") == "malformed":
                verifier.counts["judge_malformed"] += 1
            if not ok:
                verifier.counts["kept"] -= 1
                verifier.counts["dropped_judge"] += 1
                kept = None
        reason = next((k for k in verifier.counts if k.startswith("dropped")), "")
        if task is None and not reason:
            reason = "dropped_no_task"
        if not exp.ok_steps:
            reason = "dropped_all_calls_failed"
        elif len(exp.ok_steps) < 2 and not kept:
            reason = "dropped_trivial"
        self.timing["verify"] += time.perf_counter() - t0
        return {"plan": plan.id, "calls": [c.model_dump(mode="json") for c in exp.calls],
                "task": kept.model_dump(mode="json") if kept else None, "reason": reason,
                "counts": dict(verifier.counts), "infra_errors": exp.infra_errors, "why": verifier.reasons[:3]}


async def _prepare(run: Path, fleet: Fleet, cfg: GenerateConfig, progress: Callable[[str, int, int], None]):
    """Start the fleet, write tools.json, build or reload graph and plans."""
    reports = await fleet.start()
    progress("servers", sum(r.ok for r in reports), len(reports))
    tools = sorted(fleet.tools.values(), key=lambda t: t.key)
    _atomic_write(run / "tools.json", json.dumps([t.model_dump(mode="json") for t in tools]))
    plans_path = run / "plans.jsonl"
    if plans_path.exists():
        plans = [Plan.model_validate_json(x) for x in plans_path.read_text().splitlines() if x.strip()]
        graph_stats = json.loads((run / "graph.json").read_text())["stats"]
    else:
        skip = {(s.name, t) for s in fleet.specs.values() for t in s.explore_skip}
        skip |= {k for k, c in load_cards(cfg.cards_dirs).items() if c.use == "never"}  # chatter, env, random
        graph = build_graph([t for t in tools if t.key not in skip])
        graph_stats = graph.stats
        plans = sample_plans(graph, cfg.n_plans, seed=cfg.seed)
        graph_stats["coverage"] = coverage(graph, plans)
        save_graph(graph, run / "graph.json")  # the versioned format `firefly graph stats|sample` read
        _atomic_write(plans_path, "".join(p.model_dump_json() + "\n" for p in plans))
    return plans, graph_stats


async def _run(run: Path, specs: list[ServerSpec], cfg: GenerateConfig, progress: Callable[[str, int, int], None]) -> dict[str, Any]:
    shards = run / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    # a sandbox root of this process's own: concurrent runs on one machine must not share server state;
    # records are relocated to the canonical SANDBOX_ROOT, so datasets do not depend on it
    remove_stale_roots()
    root = process_root()
    root.mkdir(parents=True, exist_ok=True)
    fleet = Fleet(specs, sandbox_root=root, call_timeout=cfg.call_timeout, run_id=run.name, canonical_root=SANDBOX_ROOT)
    try:
        plans, graph_stats = await _prepare(run, fleet, cfg, progress)
        done, invalid_shards = finished_plans(shards)
        todo = [p for p in plans if p.id not in done]
        progress("plans", len(plans) - len(todo), len(plans))

        failures: list[str] = []

        def write(shard: dict[str, Any]) -> None:
            if "failed" in shard:
                failures.append(f"{shard['plan']}: {shard['failed']}")
            else:
                _atomic_write(shards / f"{shard['plan']}.json", json.dumps(shard, ensure_ascii=False))
            progress("plans", 1, -1)

        if cfg.executor == "ray":
            await fleet.close()  # the driver only needed the tool list; workers own their fleets
            extra = run_on_ray(todo, specs, cfg, write, make_processor=PlanProcessor)
            servers_up, n_tools = len(fleet.live_servers), len(fleet.tools)
            timing, llm = extra.get("timing", {}), extra.get("llm", {})
        else:
            proc = PlanProcessor(fleet, specs, cfg, root)
            for plan in todo:
                write(await proc.run(plan))
            servers_up, n_tools = len(fleet.live_servers), len(fleet.tools)
            timing = {k: round(v, 1) for k, v in proc.timing.items()}
            llm = {"outside_plan_calls": proc.llm_stats.outside_plan_calls, "malformed": proc.llm_stats.malformed,
                   "synthesizer_fallbacks": proc.llm_stats.fallbacks}
    finally:
        await fleet.close()
        shutil.rmtree(root, ignore_errors=True)
    return {"timing": timing, "graph": graph_stats, "llm": llm, "seconds": round(time.perf_counter() - t0, 1),
            "servers_up": servers_up, "tools": n_tools, "executor": cfg.executor,
            "plans_failed": len(failures), "plan_failures": failures[:20],
            "shards_invalid": len(invalid_shards), "invalid_shards": invalid_shards[:20]}


def finished_plans(shards: Path) -> tuple[set[str], list[str]]:
    """Plan ids whose shard is complete, and the invalid shards found (each ``"FILE: why"``).

    A shard that does not parse or lacks its fields (a truncated file, a disk-full write) is not done:
    it is moved aside to ``<plan>.json.invalid`` (kept for a look, never read again), logged, and its
    plan runs again.
    """
    import logging

    done: set[str] = set()
    invalid: list[str] = []
    for path in sorted(shards.glob("*.json")):
        try:
            shard = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(shard, dict) or shard.get("plan") != path.stem or "task" not in shard:
                raise ValueError("not a shard of this plan (plan/task fields missing)")
            for c in shard["calls"]:
                CallRecord.model_validate(c)
            if shard["task"] is not None:
                Task.model_validate(shard["task"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            why = str(exc).splitlines()[0][:160]
            invalid.append(f"{path}: {type(exc).__name__}: {why}")
            os.replace(path, path.with_name(path.name + ".invalid"))
            logging.getLogger(__name__).warning("%s: invalid shard (%s), moved to %s.invalid; its plan runs again",
                                                path, why, path.name)
            continue
        done.add(path.stem)
    return done, invalid


def collect(run: Path, max_server_share: float = 0.15) -> tuple[list[Task], list[CallRecord], Counter[str]]:
    """Read every finished shard of a run; dedup questions across plans; cap any server's task share."""
    from rapidfuzz import fuzz

    tasks: list[Task] = []
    calls: dict[str, CallRecord] = {}
    counts: Counter[str] = Counter()
    seen: dict[tuple, list[str]] = {}
    for path in sorted((run / "shards").glob("*.json")):
        shard = json.loads(path.read_text())
        for c in shard["calls"]:
            rec = CallRecord.model_validate(c)
            calls[rec.id] = rec
        for k, v in shard.get("counts", {}).items():
            if k.startswith("fields_"):
                counts[k] += v
        counts["infra_errors"] += len(shard.get("infra_errors", []))
        if shard["task"] is None:
            counts[shard["reason"] or "dropped_no_task"] += 1
            continue
        t = Task.model_validate(shard["task"])
        sig = tuple(sorted(map(tuple, t.tools)))
        if any(fuzz.ratio(t.question, q) >= 95 for q in seen.get(sig, [])):
            counts["dropped_duplicate"] += 1
            continue
        seen.setdefault(sig, []).append(t.question)
        tasks.append(t)
    tasks, capped = cap_server_share(tasks, max_server_share)
    counts["dropped_server_cap"] += capped
    counts["kept"] = len(tasks)
    return tasks, list(calls.values()), counts


def cap_server_share(tasks: list[Task], share: float) -> tuple[list[Task], int]:
    """Keep at most ``share`` of the tasks per server, the limit computed once from the total
    (at least 1); a server's later tasks over its limit are dropped."""
    limit = max(1, int(share * len(tasks) + 0.5))
    per_server: Counter[str] = Counter()
    kept = []
    for t in tasks:
        if any(per_server[s] >= limit for s in t.servers):
            continue
        per_server.update(t.servers)
        kept.append(t)
    return kept, len(tasks) - len(kept)


def generate(run: Path, specs: list[ServerSpec], cfg: GenerateConfig,
             progress: Callable[[str, int, int], None] = lambda *a: None) -> dict[str, Any]:
    """Run (or resume) a generation into ``run`` and build its dataset."""
    run.mkdir(parents=True, exist_ok=True)
    lock = open(run / ".lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise RuntimeError(f"{run}: another `firefly generate` is running on this run directory") from None
    _load_or_write_config(run, cfg)
    summary = asyncio.run(_run(run, specs, cfg, progress))
    tasks, calls, counts = collect(run, cfg.max_server_share)
    tools = [ToolSpec.model_validate(t) for t in json.loads((run / "tools.json").read_text())]
    all_tools = {t.key for t in tools}
    used = {tuple(x) for t in tasks for x in t.tools}
    report = build_dataset(tasks, calls, run / "dataset", test_share=cfg.test_share, filter_counts=dict(counts),
                           tools=tools, stateful_servers={s.name for s in specs if s.stateful},
                           extra={"tool_coverage": round(len(used & all_tools) / max(len(all_tools), 1), 3),
                                  "tool_coverage_ok_calls": round(len({(c.server, c.tool) for c in calls if succeeded(c)}
                                                                      & all_tools) / max(len(all_tools), 1), 3),
                                  "realism": realism(tasks, calls, tools),
                                  "generation_seconds": summary["seconds"], "graph": summary["graph"]})
    summary.update(report)
    from firefly_eval.generation.funnel import tool_funnel

    summary["tool_funnel"] = tool_funnel(run, tools, calls, tasks)
    _atomic_write(run / "summary.json", json.dumps(summary, indent=2, default=str))
    return summary
