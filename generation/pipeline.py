"""``firefly generate``: graph -> plans -> live exploration -> synthesis -> verification -> dataset.

The run directory is the unit of resumption:

    RUN/config.json     the run's settings and a hash of the fleet (a re-run with other ones is refused;
                        ``force=True`` / ``--force`` discards the run and starts again)
    RUN/tools.json      discovered ToolSpecs
    RUN/discovery.json  each server's read-only listings/getters called once before sampling: their values
                        go into that server's value bank (fixed once written, like the plans)
    RUN/graph.json      the tool graph (``graph.save_graph``: version, tools, edges, stats + coverage)
    RUN/plans.jsonl     sampled plans (fixed once written)
    RUN/shards/<plan>.json  one per finished plan: its calls and its task or drop reason,
                        written atomically (tmp + rename): a kill -9 loses at most the plan in flight
    RUN/dataset/        the built dataset (rebuilt from shards at the end of every run; not written when no
                        task is kept: the plans and shards of such a run move to RUN/failed-<time>/ and
                        :class:`GenerateError` says why)
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import shutil
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from firefly_eval import __version__
from firefly_eval.cards import load_cards
from firefly_eval.facts import error_reason
from firefly_eval.generation.dataset import Duplicates, build_dataset
from firefly_eval.generation.discovery import discover
from firefly_eval.generation.executors import run_on_ray
from firefly_eval.generation.explore import explore_plan, succeeded
from firefly_eval.generation.graph import build_graph, save_graph
from firefly_eval.generation.llm import LLMStats, explore_plan_llm, synthesize_task_llm
from firefly_eval.generation.openers import derived_openers
from firefly_eval.generation.placement import pick, replica_count
from firefly_eval.generation.realism import realism
from firefly_eval.generation.relocate import relocate_exploration
from firefly_eval.generation.sampling import card_guidance, coverage, sample_plans
from firefly_eval.generation.synthesize import SynthesisDrop, fact_value, synthesize_task
from firefly_eval.generation.values import ValueBank
from firefly_eval.generation.verify import Verifier
from firefly_eval.mcp.fleet import Fleet, StartReport
from firefly_eval.mutation import is_mutating
from firefly_eval.sandbox import SANDBOX_ROOT, process_root, remove_stale_roots
from firefly_eval.schema import CallRecord, Plan, ServerSpec, Task, ToolSpec, content_hash
from firefly_eval.world import WORLD_VERSION

__all__ = ["GenerateConfig", "GenerateError", "generate"]


class GenerateError(RuntimeError):
    """A run that cannot give a dataset (no server, no task, a run directory of other settings); the message
    says why in one line and names the servers concerned."""


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
    max_connections: int = 1  # plans in flight (never two on one stateful server) and calls in flight per model
    judge_on_malformed: str = "drop"  # a task-judge reply that does not parse: drop (counted) or keep the task
    prices: dict[str, list[float]] = field(default_factory=dict)  # model -> [$/M input, $/M output tokens]
    discovery_file: str = ""  # RUN/discovery.json (set by generate): each server's own listing values


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


async def _volatile_fields(task: Task, calls: list[CallRecord], fleet: Fleet,
                           skipped: Counter[str] | None = None) -> set[str]:
    """Re-run the answer's source calls (read-only ones) and report the fields that changed.

    A call to a server flagged deterministic and stateless (and not one of its ``volatile_tools``) is not
    re-run: it would give the same result (``skipped`` counts them). Records are in canonical paths;
    ``Fleet.replay`` sends them with this worker's root.
    """
    skipped = skipped if skipped is not None else Counter()
    by_id = {c.id: c for c in calls}
    out: set[str] = set()
    sources = task.provenance.get("answer_sources", {})
    for name, src in sources.items():
        rec = by_id[src["call"]]
        spec = fleet.specs[rec.server]
        if spec.deterministic and not spec.stateful and rec.tool not in spec.volatile_tools:
            skipped["re-probes skipped (deterministic, stateless)"] += 1
            continue  # the same call on a server without state gives the same result
        if is_mutating(rec.tool, rec.arguments) or (spec.stateful and fleet.history.key(rec.server) != rec.history_key):
            if not spec.deterministic:
                out.add(name)
            continue
        # a fresh copy of the sandbox first: what a new episode would see (file times, ...), off the event loop
        await asyncio.to_thread(fleet.refresh_files, rec.server)
        try:
            again = await fleet.replay(rec.server, rec.tool, rec.arguments)
        except Exception:  # noqa: BLE001 - a failing re-probe makes the field untrustworthy
            out.add(name)
            continue
        if fact_value(again, src["key"]) != task.answer[name]:
            out.add(name)
    return out


# settings that change which plans run or what they give; executor/workers/timeouts may change on a re-run
_RUN_KEYS = ("n_plans", "seed", "fleet_file", "fleet_hash", "explorer", "synthesizer", "judge", "max_repairs",
             "cards_dirs")
_RUN_FILES = ("config.json", "tools.json", "graph.json", "plans.jsonl", "discovery.json", "summary.json")


def fleet_hash(specs: list[ServerSpec]) -> str:
    """A hash of the fleet as configured (every entry's command, args, env, cwd and firefly fields)."""
    return content_hash(sorted((s.model_dump(mode="json") for s in specs), key=lambda d: d["name"]))


def _load_or_write_config(run: Path, cfg: GenerateConfig, fleet_digest: str = "") -> None:
    path = run / "config.json"
    data = {**asdict(cfg), "fleet_hash": fleet_digest, "package_version": __version__, "world": WORLD_VERSION}
    data.pop("discovery_file", None)
    if path.exists():
        old = json.loads(path.read_text())
        diffs = []
        for k in _RUN_KEYS:
            if k in old and old.get(k) != data.get(k):
                diffs.append("the fleet's servers changed" if k == "fleet_hash"
                             else f"{k} {old.get(k)!r} -> {data.get(k)!r}")
        if diffs:
            raise GenerateError(f"{run}: run directory was started with other settings ({'; '.join(diffs)}); "
                                "use a new --out, or --force to discard it and start again")
        return
    _atomic_write(path, json.dumps(data, indent=2))


def discard_run(run: Path) -> None:
    """Remove a run's state (``--force``): config, tools, discovery, graph, plans, shards, dataset."""
    for name in _RUN_FILES:
        (run / name).unlink(missing_ok=True)
    for name in ("shards", "dataset"):
        shutil.rmtree(run / name, ignore_errors=True)


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
        # each server's own data: listing values found before sampling (canonical paths -> this worker's),
        # its copied cwd/files, and whether it works on the seed world
        disc = json.loads(Path(cfg.discovery_file).read_text()) if cfg.discovery_file and \
            Path(cfg.discovery_file).exists() else {}
        self.discovered = {n: fleet.to_live(d.get("values", {})) for n, d in disc.items()}
        # a local run starts and discovers a server just before its first plan (prepare_servers); None: the
        # fleet was started and discovered up front (Ray workers read the driver's discovery.json)
        self.lazy: tuple[set[tuple[str, str]], Path] | None = None
        self._disc_all: dict[str, Any] = disc
        self._prepared: set[str] = set()
        self._discovering = asyncio.Lock()  # plans in flight may share a stateless server not yet discovered
        self.world_servers = set(getattr(fleet, "world_servers", {s.name for s in specs}))
        own = getattr(fleet, "own", {})
        self.own_files = {n: o.files() for n, o in own.items()}
        self.own_dirs = {n: [str(live) for _, _, live in o.pairs if live.is_dir()] for n, o in own.items()}
        self.provenance = {"fleet": {s.name: s.pin for s in specs}, "world": WORLD_VERSION,
                           "explorer": cfg.explorer or "schema-guided", "package_version": __version__}
        self.llm_stats = LLMStats()  # every plan's, merged (failed plans' calls too: they were paid for)
        self.uses_llm = bool(cfg.explorer or cfg.synthesizer or cfg.judge)
        self.timing: Counter[str] = Counter()
        self._specs = specs

    def replica(self, fleet: Fleet, sandbox_root: Path) -> PlanProcessor:
        """A processor for a replica of this one's fleet (``Fleet.replica``) that shares its discovery (each
        server's listings are called once, on whichever replica first runs a plan on it), its model-call
        counters and stage timings."""
        twin = PlanProcessor(fleet, self._specs, self.cfg, sandbox_root)
        twin.lazy, twin._disc_all, twin._discovering = self.lazy, self._disc_all, self._discovering
        twin.llm_stats, twin.timing = self.llm_stats, self.timing
        return twin

    async def run(self, plan: Plan) -> dict[str, Any]:
        """The plan's shard; ``{"plan", "failed"}`` when this code raised on it (a bug in synthesis or
        verification must not end a run of thousands of plans: no shard is written, so a re-run retries it)."""
        stats = LLMStats()  # this plan's model calls and tokens, written into its shard
        try:
            shard = await self._run(plan, stats)
        except Exception as exc:  # noqa: BLE001 - reported in the summary, the run goes on
            import traceback

            where = traceback.extract_tb(exc.__traceback__)[-1]
            shard = {"plan": plan.id, "failed": f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})"[:400]}
            if self.uses_llm:
                shard["llm"] = stats.as_dict()
        self.llm_stats.merge(stats)
        return shard

    async def prepare_servers(self, servers: list[str]) -> None:
        """Wait for the plan's servers to be started (``Fleet.start_in_order`` started them in plan order) and
        call the listings of each one not yet discovered, adding them to RUN/discovery.json. Raises
        :class:`GenerateError` naming the servers that did not start (the plan then fails and a re-run
        retries it)."""
        if self.lazy is None:
            return
        skip, disc_path = self.lazy
        fleet = self.fleet
        await fleet.ensure_started(servers)
        down = [s for s in servers if s in fleet.failed]
        if down:
            raise GenerateError("server(s) did not start: " + "; ".join(
                f"{s}: {fleet.failed[s].splitlines()[0][:200]}" for s in down))
        if any(s not in self._prepared and s not in self._disc_all for s in servers):
            async with self._discovering:  # each server's listings are called once, by the first plan on it
                todo = {s for s in servers if s not in self._prepared and s not in self._disc_all}
                if todo:
                    found = await discover(fleet, skip, todo)
                    self._disc_all.update(found)
                    for name, d in found.items():
                        self.discovered[name] = fleet.to_live(d.get("values", {}))
                    _atomic_write(disc_path, json.dumps(self._disc_all, ensure_ascii=False))
        for s in servers:  # discovered on another replica: its values in this one's paths
            if s not in self.discovered and s in self._disc_all:
                self.discovered[s] = fleet.to_live(self._disc_all[s].get("values", {}))
        self._prepared.update(servers)

    async def _run(self, plan: Plan, stats: LLMStats) -> dict[str, Any]:
        fleet, cfg = self.fleet, self.cfg
        conn = cfg.max_connections
        t0 = time.perf_counter()
        await self.prepare_servers(plan.servers)
        self.timing["start and discovery"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        # only the plan's own servers: with plans in flight, another plan may be using the others
        await fleet.reset_episode(set(plan.servers), only=True)
        self.timing["reset"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        if cfg.explorer:
            exp = await explore_plan_llm(plan, fleet, cfg.explorer, self.sandbox_of, stats=stats,
                                         max_connections=conn)
        else:
            # a value bank per plan: a plan's exploration depends on nothing but the plan and the seed world,
            # so results do not depend on which worker ran which plans before it
            bank = ValueBank(self.sandbox_of, self.known_values, self.discovered, self.world_servers,
                             self.own_files, self.own_dirs)
            exp = await explore_plan(plan, fleet, bank, seed=cfg.seed, max_repairs=cfg.max_repairs, cards=self.cards)
        exp = relocate_exploration(exp, self.root, self.canonical)
        prov = {**self.provenance, "licenses": {s: fleet.specs[s].license for s in plan.servers if s in fleet.specs},
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        card_options = {"cards": self.cards, "stateful_servers": self.stateful}
        verifier = Verifier(self.stateful, tools=fleet.tools, cards=self.cards)
        try:
            if cfg.synthesizer:
                task = await synthesize_task_llm(exp, fleet.tools, cfg.synthesizer, seed=cfg.seed, provenance=prov,
                                                 stats=stats, max_connections=conn, **card_options)
            else:
                task = synthesize_task(exp, fleet.tools, seed=cfg.seed, provenance=prov, **card_options)
        except SynthesisDrop as drop:
            task = None
            verifier.counts[drop.reason] += 1
            # where synthesis gave up (the shard's "why"): a user reading why their fleet yields few tasks
            verifier.reasons.append(f"{drop.reason} in {traceback.extract_tb(drop.__traceback__)[-1].name}")
        self.timing["explore"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        volatile = await _volatile_fields(task, exp.calls, fleet, self.timing) if task else set()
        if task is not None and volatile and not cfg.synthesizer:
            # write the question again without the facts that change between runs
            sources = task.provenance["answer_sources"]
            exclude = {(sources[n]["call"], sources[n]["key"]) for n in volatile}
            verifier.counts["fields_removed_volatile"] += len(volatile)
            try:
                task = synthesize_task(exp, fleet.tools, seed=cfg.seed, provenance=prov, exclude=exclude,
                                       **card_options)
                volatile = await _volatile_fields(task, exp.calls, fleet, self.timing)
            except SynthesisDrop:
                task = None
                verifier.counts["dropped_volatile"] += 1
        kept = verifier.check(task, exp.calls, volatile) if task is not None else None
        if kept is not None and cfg.judge:
            from firefly_eval.generation.task_judge import judge_task

            ok, ratings = await judge_task(kept, exp.calls, cfg.judge, on_malformed=cfg.judge_on_malformed,
                                           stats=stats, max_connections=conn)
            kept.quality.update(ratings)
            if ratings.get("judge") == "malformed":
                verifier.counts["judge_malformed"] += 1
            if not ok:
                verifier.counts["kept"] -= 1
                verifier.counts["dropped_judge_malformed" if ratings.get("judge") == "malformed" else "dropped_judge"] += 1
                kept = None
        reason = next((k for k in verifier.counts if k.startswith("dropped")), "")
        if task is None and not reason:
            reason = "dropped_no_task"
        if not exp.ok_steps:
            reason = "dropped_all_calls_failed"
        elif len(exp.ok_steps) < 2 and not kept:
            reason = "dropped_trivial"
        self.timing["verify"] += time.perf_counter() - t0
        shard = {"plan": plan.id, "calls": [c.model_dump(mode="json") for c in exp.calls],
                 "task": kept.model_dump(mode="json") if kept else None, "reason": reason,
                 "counts": dict(verifier.counts), "infra_errors": exp.infra_errors, "why": verifier.reasons[:3]}
        if self.uses_llm:
            shard["llm"] = stats.as_dict()
        return shard


async def run_plans(todo: list[Plan], proc: PlanProcessor | list[PlanProcessor],
                    write: Callable[[dict[str, Any]], None], limit: int) -> list[int]:
    """Run up to ``limit`` plans at once on the fleet of ``proc`` (or on the replicas of one fleet, one
    processor each: ``generation.placement``), never two plans on one stateful server of a fleet (a plan holds
    its stateful servers, ``Fleet.exclusive``, on its replica until its shard is written; a stateless server
    serves the calls of every plan in flight on it). Each shard is written as its plan ends, and the plan's
    servers that a later plan uses are then reset on its replica in the background
    (``Fleet.reset_episode(wait=False)``: a restart or a file restore runs beside the next plans). Plans start
    in order as their stateful servers become free on some replica, one that can start at once first
    (``placement.pick``): every plan starts on fresh state, so neither the order nor the replica changes what
    it records. With ``limit`` 1 plans run one at a time. Returns the number of plans each replica ran."""
    procs = proc if isinstance(proc, list) else [proc]
    fleets = [p.fleet for p in procs]
    exclusive = {s for p in todo for s in p.servers if fleets[0].exclusive(s)}
    busy: list[set[str]] = [set() for _ in procs]  # stateful servers held by the plans in flight, per replica
    pending = list(todo)
    running: dict[asyncio.Task[dict[str, Any]], tuple[Plan, int]] = {}
    ran = [0] * len(procs)
    while pending or running:
        while pending and len(running) < max(limit, 1):
            chosen = pick(pending, fleets, busy, exclusive)
            if chosen is None:
                break
            plan, k = chosen
            busy[k] |= set(plan.servers) & exclusive
            pending.remove(plan)
            running[asyncio.create_task(procs[k].run(plan))] = (plan, k)
        finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        for t in finished:
            plan, k = running.pop(t)
            busy[k] -= set(plan.servers) & exclusive
            write(t.result())  # proc.run reports its own errors in the shard
            ran[k] += 1
            later = {s for p in pending for s in p.servers}  # a server no later plan uses is not reset
            await fleets[k].reset_episode(set(plan.servers) & later, only=True, wait=False)
    return ran


def _fewer_plans_note(n: int, plans: list[Plan], graph_stats: dict[str, Any]) -> str:
    """Why sampling gave fewer than ``n`` plans (it stops only when its tries run out)."""
    if len(plans) >= n:
        return ""
    starts = Counter(p.nodes[0][0] for p in plans)
    cap = max(2, int(0.12 * n) + 1)
    capped = sorted(s for s, k in starts.items() if k >= cap)
    return (f"-n {n}: sampled {len(plans)} plans; the tool graph ({graph_stats.get('tools', '?')} tools) gave no "
            f"other distinct plan in {n * 40} tries: plans start on {len(starts)} server(s), at most {cap} each "
            f"(the sampler's per-server cap; at it: {', '.join(capped) or 'none'}), every other try repeated a "
            f"plan or found no next step; add servers or lower -n")


def _start_failures(reports: list[Any]) -> str:
    return "; ".join(r.error.splitlines()[0] if r.error.startswith("server ") else f"{r.server}: {r.error}"
                     for r in reports if not r.ok)


def tools_cache_path(digest: str) -> Path:
    """Where the tool lists of a fleet (by :func:`fleet_hash`: commands, pins, args, env) are kept between runs."""
    from firefly_eval.mcp.config import firefly_home

    return firefly_home() / "cache" / f"tools-{digest[:24]}.json"


def _read_tools_cache(path: Path, fleet: Fleet) -> list[ToolSpec] | None:
    """The cached tool lists (canonical paths made this fleet's), or None when there is none or it is unreadable."""
    try:
        data = json.loads(path.read_text())
        return [ToolSpec.model_validate(fleet.to_live(t)) for t in data["tools"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_tools_cache(path: Path, fleet: Fleet, digest: str) -> None:
    tools = [fleet.to_canonical(t.model_dump(mode="json")) for t in sorted(fleet.tools.values(), key=lambda t: t.key)]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path, json.dumps({"fleet_hash": digest, "tools": tools}))
    except OSError:  # a read-only home: the next run lists the tools again
        pass


async def _start_or_adopt(fleet: Fleet, digest: str, lazy: bool) -> list[Any]:
    """The fleet's tools: with ``lazy`` and a cached listing of this fleet, the cached tools (the servers start
    later, in plan order) and a start of only the servers the cache lacks; else a start of every server.
    The cache is written for the next run."""
    cache = tools_cache_path(digest) if digest else None
    cached = _read_tools_cache(cache, fleet) if cache is not None and lazy else None
    if cached is None:
        reports = await fleet.start()
    else:
        fleet.adopt_tools(cached)
        known = {t.server for t in cached}
        missing = [n for n in fleet.connections if n not in known]
        reports = await fleet.start(names=missing) if missing else []
        reports += [StartReport(n, True) for n in sorted(known & set(fleet.connections))]
    if cache is not None and any(r.ok for r in reports):
        _write_tools_cache(cache, fleet, digest)
    return reports


async def _prepare(run: Path, fleet: Fleet, cfg: GenerateConfig, progress: Callable[[str, int, int], None],
                   digest: str = "") -> tuple[list[Plan], dict[str, Any], set[tuple[str, str]]]:
    """The fleet's tools (started, or from the cache of this fleet's listing), tools.json, the graph and
    plans (built or reloaded), and the tools discovery leaves out. A Ray run calls every server's listings
    here (workers read discovery.json); a local run does it per server before its first plan."""
    lazy = cfg.executor != "ray"
    reports = await _start_or_adopt(fleet, digest, lazy)
    progress("servers", sum(r.ok for r in reports), len(reports))
    if not any(r.ok for r in reports):
        raise GenerateError(f"no server started ({len(reports)} in the fleet): {_start_failures(reports)}")
    tools = sorted(fleet.tools.values(), key=lambda t: t.key)
    plans_path = run / "plans.jsonl"
    tools_path = run / "tools.json"
    if plans_path.exists() and tools_path.exists():
        before = {(t["server"], t["name"]) for t in json.loads(tools_path.read_text())}
        now = {t.key for t in tools}
        if before != now:
            gone = sorted({s for s, _ in before - now})
            new = sorted({s for s, _ in now - before})
            raise GenerateError(
                f"{run}: its plans were sampled on other tools (servers with tools gone: {', '.join(gone) or 'none'}"
                f"; with new tools: {', '.join(new) or 'none'}); use --force to sample again, or a new --out")
    _atomic_write(tools_path, json.dumps([t.model_dump(mode="json") for t in tools]))
    skip = {(s.name, t) for s in fleet.specs.values() for t in s.explore_skip}
    cards = load_cards(cfg.cards_dirs)
    skip |= {k for k, c in cards.items() if c.use == "never"}  # chatter, env, random
    disc_path = run / "discovery.json"
    if not lazy and not disc_path.exists():
        _atomic_write(disc_path, json.dumps(await discover(fleet, skip), ensure_ascii=False))
    cfg.discovery_file = str(disc_path)
    if plans_path.exists():
        plans = [Plan.model_validate_json(x) for x in plans_path.read_text().splitlines() if x.strip()]
        graph_stats = json.loads((run / "graph.json").read_text())["stats"]
    else:
        graph = build_graph([t for t in tools if t.key not in skip])
        graph_stats = graph.stats
        guidance = card_guidance(cards, tools, skip)
        # servers without any card: their setup tool (register_project) opens their plans too
        guidance["openers"] = {**derived_openers(tools, cards, skip), **guidance["openers"]}
        opener_keys = set(guidance["openers"].values())
        guidance["changes"] = {t.key for t in tools if (spec := fleet.specs.get(t.server)) is not None
                               and spec.stateful and t.key not in opener_keys
                               and is_mutating(t.name, {}, t.annotations)}
        guidance["read_after"] &= guidance["changes"]  # a change of a stateless server or an opener needs no read
        plans = sample_plans(graph, cfg.n_plans, seed=cfg.seed, **guidance)
        graph_stats["coverage"] = coverage(graph, plans)
        save_graph(graph, run / "graph.json")  # the versioned format `firefly graph stats|sample` read
        _atomic_write(plans_path, "".join(p.model_dump_json() + "\n" for p in plans))
    return plans, graph_stats, skip


async def _run(run: Path, specs: list[ServerSpec], cfg: GenerateConfig, progress: Callable[[str, int, int], None],
               digest: str = "") -> dict[str, Any]:
    shards = run / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    # a sandbox root of this process's own: concurrent runs on one machine must not share server state;
    # records are relocated to the canonical SANDBOX_ROOT, so datasets do not depend on it
    remove_stale_roots()
    root = process_root()
    root.mkdir(parents=True, exist_ok=True)
    fleet = Fleet(specs, sandbox_root=root, call_timeout=cfg.call_timeout, run_id=run.name, canonical_root=SANDBOX_ROOT,
                  warm_pool=cfg.executor != "ray")  # a Ray driver's fleet only lists tools
    replicas: list[Fleet] = []  # the local executor's copies of ``fleet`` (plans in flight on one stateful server)
    try:
        plans, graph_stats, skip = await _prepare(run, fleet, cfg, progress, digest)
        fleet_info = {"servers_failed": {n: e.splitlines()[0][:300] for n, e in fleet.failed.items()},
                      "stateful": dict(sorted(fleet.stateful_why.items())),
                      "world_servers": sorted(fleet.world_servers),
                      "own_data": {n: [str(orig) for orig, _, _ in o.pairs] for n, o in sorted(fleet.own.items())}}
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
            proc.lazy = (skip, run / "discovery.json")
            # only the servers the plans use, in the order the plans need them
            fleet.start_in_order(list(dict.fromkeys(s for p in todo for s in p.servers)))
            # plans in flight on one stateful server run on copies of the fleet (each its own sandbox root and
            # processes, started as their plans need them; records in the canonical root like the first's)
            exclusive = {s for p in todo for s in p.servers if fleet.exclusive(s)}
            for k in range(1, replica_count(cfg.max_connections, exclusive)):
                replicas.append(fleet.replica(process_root(k)))
            procs = [proc, *(proc.replica(f, f.sandbox_root) for f in replicas)]
            ran = await run_plans(todo, procs, write, cfg.max_connections)
            # servers started in plan order may have failed since
            failed = {n: e for f in (*replicas, fleet) for n, e in f.failed.items()}
            fleet_info["servers_failed"] = {n: e.splitlines()[0][:300] for n, e in failed.items()}
            servers_up, n_tools = len(fleet.live_servers), len(fleet.tools)
            timing = {k: round(v, 1) for k, v in proc.timing.items()}
            stats: Counter[str] = Counter()
            for f in (fleet, *replicas):
                stats.update(f.stats)
            timing.update({f"fleet {k}": round(v, 1) for k, v in sorted(stats.items())})
            fleet_info["replica_plans"] = ran
            llm = {**proc.llm_stats.counters(), "synthesizer_fallbacks": proc.llm_stats.fallbacks,
                   "usage_this_run": proc.llm_stats.usage}
    finally:
        await asyncio.gather(*(f.close() for f in (fleet, *replicas)), return_exceptions=True)
        for f in (fleet, *replicas):
            shutil.rmtree(f.sandbox_root, ignore_errors=True)
    return {**fleet_info, "plans_note": _fewer_plans_note(cfg.n_plans, plans, graph_stats),
            "timing": timing, "graph": graph_stats, "llm": llm, "seconds": round(time.perf_counter() - t0, 1),
            "servers_up": servers_up, "tools": n_tools, "executor": cfg.executor,
            "max_connections": cfg.max_connections,
            "plans_failed": len(failures), "plan_failures": failures[:20],
            "shards_invalid": len(invalid_shards), "invalid_shards": invalid_shards[:20]}


def llm_totals(run: Path, cfg: GenerateConfig, kept: int) -> dict[str, Any]:
    """Model calls and tokens per stage over every shard of the run (resumed runs included), the
    malformed-output counters, and the cost per stage and per kept task where the stage's model has a
    price (``cfg.prices``: $ per million input/output tokens, else Inspect's model database)."""
    from firefly_eval.generation.llm_stats import add_usage

    usage: dict[str, dict[str, int]] = {}
    counters: Counter[str] = Counter()
    for path in sorted((run / "shards").glob("*.json")):
        llm = json.loads(path.read_text()).get("llm") or {}
        add_usage(usage, llm.get("usage", {}))
        counters.update({k: v for k, v in llm.items() if k != "usage"})
    models = {"explore": cfg.explorer, "synthesize": cfg.synthesizer, "judge": cfg.judge}
    costs: dict[str, float] = {}
    for stage, u in usage.items():
        price = _price(models.get(stage), cfg.prices)
        if price is not None:
            costs[stage] = round((u["input_tokens"] * price[0] + u["output_tokens"] * price[1]) / 1e6, 6)
    out: dict[str, Any] = {"usage": usage, **counters, "models": {k: v for k, v in models.items() if v}}
    if costs:
        out["cost_usd"] = costs
        out["cost_complete"] = set(costs) == set(usage)  # False: a stage's model has no known price
        out["cost_per_kept_task_usd"] = round(sum(costs.values()) / kept, 6) if kept else None
    return out


def _price(model: str | None, prices: dict[str, list[float]]) -> tuple[float, float] | None:
    if not model:
        return None
    if model in prices:
        return float(prices[model][0]), float(prices[model][1])
    try:
        from inspect_ai.model._model_info import get_model_info

        info = get_model_info(model)
    except Exception:  # noqa: BLE001 - an unknown model simply has no price
        return None
    cost = getattr(info, "cost", None) if info else None
    return (cost.input, cost.output) if cost else None


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
    tasks, calls, counts, _ = collect_by_server(run, max_server_share)
    return tasks, calls, counts


def collect_by_server(run: Path, max_server_share: float = 0.15
                      ) -> tuple[list[Task], list[CallRecord], Counter[str], dict[str, Counter[str]]]:
    """:func:`collect`, plus per server what each filter removed from the plans it was in (and ``kept``)."""
    plans_path = run / "plans.jsonl"
    plan_servers: dict[str, list[str]] = {}
    if plans_path.exists():
        for line in plans_path.read_text().splitlines():
            if line.strip():
                p = Plan.model_validate_json(line)
                plan_servers[p.id] = p.servers
    tasks: list[Task] = []
    calls: dict[str, CallRecord] = {}
    counts: Counter[str] = Counter()
    by_server: dict[str, Counter[str]] = {}
    dups = Duplicates()
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
            reason = shard["reason"] or "dropped_no_task"
            counts[reason] += 1
            for srv in plan_servers.get(shard["plan"]) or sorted({c["server"] for c in shard["calls"]}):
                by_server.setdefault(srv, Counter())[reason] += 1
            continue
        t = Task.model_validate(shard["task"])
        if dups.seen(t):
            counts["dropped_duplicate"] += 1
            for srv in t.servers:
                by_server.setdefault(srv, Counter())["dropped_duplicate"] += 1
            continue
        tasks.append(t)
    kept, capped = cap_server_share(tasks, max_server_share)
    kept_ids = {t.id for t in kept}
    for t in tasks:
        for srv in t.servers:
            by_server.setdefault(srv, Counter())["kept" if t.id in kept_ids else "dropped_server_cap"] += 1
    counts["dropped_server_cap"] += capped
    counts["kept"] = len(kept)
    return kept, list(calls.values()), counts, by_server


MIN_TASKS_PER_SERVER = 5  # a share cap is for large sets: with 12 tasks, 15% would leave each server 2


def cap_server_share(tasks: list[Task], share: float, floor: int = MIN_TASKS_PER_SERVER) -> tuple[list[Task], int]:
    """Keep at most ``share`` of the tasks per server, the limit computed once from the total and never
    below ``floor`` (a small run keeps what it found: an own fleet's 12 tasks lost 6 to a limit of 2);
    a server's later tasks over its limit are dropped."""
    limit = max(floor, 1, int(share * len(tasks) + 0.5))
    per_server: Counter[str] = Counter()
    kept = []
    for t in tasks:
        if any(per_server[s] >= limit for s in t.servers):
            continue
        per_server.update(t.servers)
        kept.append(t)
    return kept, len(tasks) - len(kept)


def _error_key(rec: CallRecord) -> str:
    """A failed call's error: ``firefly_eval.facts.error_reason`` and the first line, numbers folded."""
    why = error_reason(rec.result, rec.is_error) or "empty result"
    line = next((ln.strip() for ln in rec.text().splitlines() if ln.strip()), "")[:120]
    line = re.sub(r"\d+", "#", line)
    return f"{why}: {line}" if line and line != why else why


def server_report(run: Path, specs: list[ServerSpec], calls: list[CallRecord], by_server: dict[str, Counter[str]],
                  info: dict[str, Any]) -> dict[str, Any]:
    """Per server: discovery calls, exploration calls ok/failed and their share, the top errors, tasks kept,
    what each filter removed, whether it is stateful and why, whether it works on the seed world."""
    disc_path = run / "discovery.json"
    disc = json.loads(disc_path.read_text()) if disc_path.exists() else {}
    failed = info.get("servers_failed", {})
    out: dict[str, Any] = {}
    for spec in sorted(specs, key=lambda s: s.name):
        mine = [c for c in calls if c.server == spec.name]
        ok = sum(succeeded(c) for c in mine)
        errors = Counter(_error_key(c) for c in mine if not succeeded(c))
        dcalls = disc.get(spec.name, {}).get("calls", [])
        d_ok = sum(1 for c in dcalls if "error" not in c and succeeded(CallRecord.model_validate(c)))
        drops = dict(by_server.get(spec.name, Counter()))
        out[spec.name] = {
            "up": spec.name not in failed, "error": failed.get(spec.name, ""),
            "stateful": spec.stateful, "stateful_why": info.get("stateful", {}).get(spec.name, ""),
            "world": spec.name in info.get("world_servers", []),
            "own_data": info.get("own_data", {}).get(spec.name, []),
            "discovery_calls": len(dcalls), "discovery_ok": d_ok,
            "discovered": {k: len(v) for k, v in disc.get(spec.name, {}).get("values", {}).items()},
            "calls": len(mine), "ok": ok, "failed": len(mine) - ok,
            "ok_share": round(ok / len(mine), 3) if mine else None,
            "top_errors": errors.most_common(3),
            "tasks": drops.pop("kept", 0), "dropped": dict(sorted(drops.items())),
        }
    return out


def _set_aside(run: Path) -> Path:
    """Move a run's plans, graph, discovery and shards to ``RUN/failed-<time>/`` (a re-run samples again)."""
    dest = run / time.strftime("failed-%Y%m%dT%H%M%S")
    dest.mkdir(exist_ok=True)
    for name in ("plans.jsonl", "graph.json", "discovery.json", "shards"):
        if (run / name).exists():
            os.replace(run / name, dest / name)
    shutil.rmtree(run / "dataset", ignore_errors=True)
    return dest


def generate(run: Path, specs: list[ServerSpec], cfg: GenerateConfig,
             progress: Callable[[str, int, int], None] = lambda *a: None, force: bool = False) -> dict[str, Any]:
    """Run (or resume) a generation into ``run`` and build its dataset.

    Raises :class:`GenerateError`, writing no dataset, when the fleet is empty, no server starts, the run
    directory holds a run of other settings or fleet (unless ``force``: it is discarded), or no task is kept
    (that run's plans and shards move aside, so a re-run samples again)."""
    if not specs:
        raise GenerateError(f"the fleet has no servers ({cfg.fleet_file or 'fleet file'}: mcpServers is empty "
                            "or every entry is disabled)")
    digest = fleet_hash(specs)  # before the fleet infers statefulness into the specs
    run.mkdir(parents=True, exist_ok=True)
    lock = open(run / ".lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise RuntimeError(f"{run}: another `firefly generate` is running on this run directory") from None
    try:
        return _generate_locked(run, specs, cfg, progress, force, digest)
    finally:
        lock.close()  # the lock ends with the run (a caller in the same process may run again)


def _generate_locked(run: Path, specs: list[ServerSpec], cfg: GenerateConfig,
                     progress: Callable[[str, int, int], None], force: bool, digest: str) -> dict[str, Any]:
    if force:
        discard_run(run)
    _load_or_write_config(run, cfg, digest)
    summary = asyncio.run(_run(run, specs, cfg, progress, digest))
    tasks, calls, counts, by_server = collect_by_server(run, cfg.max_server_share)
    if cfg.explorer or cfg.synthesizer or cfg.judge:  # per stage over all shards (resumed runs too), cost
        summary["llm"] = {**summary.get("llm", {}), **llm_totals(run, cfg, len(tasks))}
    summary["per_server"] = server_report(run, specs, calls, by_server, summary)
    if not tasks:
        summary["counts"] = dict(counts)
        n_plans = sum(v for k, v in counts.items() if k.startswith("dropped"))
        _atomic_write(run / "summary.json", json.dumps(summary, indent=2, default=str))
        aside = _set_aside(run)
        drops = ", ".join(f"{k} {v}" for k, v in counts.most_common() if k.startswith("dropped") and v)
        down = ", ".join(summary.get("servers_failed", {}))
        raise GenerateError(f"no task kept from {n_plans} plan(s) ({drops or 'no plan ran'}"
                            f"{'; servers down: ' + down if down else ''}); no dataset written; its plans and "
                            f"shards moved to {aside} so a re-run samples again; per server: "
                            f"{run / 'summary.json'} -> per_server")
    tools = [ToolSpec.model_validate(t) for t in json.loads((run / "tools.json").read_text())]
    all_tools = {t.key for t in tools}
    used = {tuple(x) for t in tasks for x in t.tools}
    report = build_dataset(tasks, calls, run / "dataset", test_share=cfg.test_share, filter_counts=dict(counts),
                           tools=tools, stateful_servers={s.name for s in specs if s.stateful},
                           extra={"tool_coverage": round(len(used & all_tools) / max(len(all_tools), 1), 3),
                                  "tool_coverage_ok_calls": round(len({(c.server, c.tool) for c in calls if succeeded(c)}
                                                                      & all_tools) / max(len(all_tools), 1), 3),
                                  "realism": realism(tasks, calls, tools, load_cards(cfg.cards_dirs)),
                                  "generation_seconds": summary["seconds"], "graph": summary["graph"]})
    meta_path = run / "dataset" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["stateful_why"] = {n: why for n, why in summary.get("stateful", {}).items()
                            if n in set(meta.get("stateful_servers", []))}
    _atomic_write(meta_path, json.dumps(meta, indent=2))
    summary.update(report)
    from firefly_eval.generation.funnel import tool_funnel

    summary["tool_funnel"] = tool_funnel(run, tools, calls, tasks)
    _atomic_write(run / "summary.json", json.dumps(summary, indent=2, default=str))
    return summary
