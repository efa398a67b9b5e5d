"""Optional LLM judge for the tool graph, with a content-hash verdict cache.

By default only candidates the relation rule could not decide (the uncertain band: cues but no
clause) reach the judge, ~8 pairs per tool on the default fleet; with scope ``all`` the kept
edges are judged too and an edge the judge rates ``low`` is dropped (~12 per tool; both inside
the 20-per-tool budget; the rule's precision: benchmarks/graph_quality.py). At most ``budget``
pairs are judged; verdicts (high / medium / low + reason) are cached by the hash of both
tools' specs, the judging model's name and the prompt version (a verdict of one model is never
reused for another), written one line per verdict as it arrives, so a re-run, even after an API
error mid-way, pays only for what is missing.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firefly_eval.agent_tools import inline_refs
from firefly_eval.generation.llm_stats import LLMStats, role_model
from firefly_eval.model_json import generate_json
from firefly_eval.schema import ToolEdge, ToolSpec, content_hash

__all__ = ["JudgeReport", "apply_judge", "judge_edges", "verdict_key"]

PROMPT_VERSION = "edge-judge-v2"  # v2: tool B's parameters with local $ref inlined
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "enum": ["high", "medium", "low"]}, "reason": {"type": "string"}},
    "required": ["verdict", "reason"], "additionalProperties": False,
}
_CONF = {"high": 0.9, "medium": 0.65, "low": 0.1}


def _prompt(src: ToolSpec, dst: ToolSpec, edge: ToolEdge) -> str:
    return (
        "You judge whether calling tool A first produces something tool B can use as input, or makes B a natural "
        "next step.\n"
        f"Tool A: {src.server}/{src.name}: {src.description[:500]}\n"
        f"Tool B: {dst.server}/{dst.name}: {dst.description[:500]}\n"
        f"Tool B parameters: {json.dumps(inline_refs(dst.input_schema).get('properties', {}))[:800]}\n"
        f"Evidence from cheap scorers: {'; '.join(edge.evidence)}\n"
        'Answer with JSON only: {"verdict": "high" | "medium" | "low", "reason": "<one sentence>"}'
    )


def _parse(data: dict[str, Any] | None) -> dict[str, str] | None:
    if data is None:
        return None
    verdict = str(data.get("verdict", "")).lower().strip()
    if verdict not in _CONF:
        return None
    return {"verdict": verdict, "reason": str(data.get("reason", ""))[:300]}


@dataclass
class JudgeReport:
    judged: int = 0
    cached: int = 0
    malformed: int = 0
    kept: list[ToolEdge] = field(default_factory=list)
    rejected: list[ToolEdge] = field(default_factory=list)  # judged low
    verdicts: dict[str, int] = field(default_factory=dict)
    errors: int = 0  # calls that raised (API errors): not cached, judged again on a re-run
    error: str = ""  # the first of them
    usage: LLMStats = field(default_factory=LLMStats)  # model calls and tokens (stage "judge")


def _read_cache(path: Path | None) -> dict[str, dict[str, str]]:
    cache: dict[str, dict[str, str]] = {}
    if path and path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
                cache[row["key"]] = row["verdict"]
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line (killed mid-write) is skipped
    return cache


def verdict_key(model_name: str, src: ToolSpec, dst: ToolSpec) -> str:
    """Cache key of one pair's verdict: prompt version, the judging model and both tools' specs."""
    return content_hash([PROMPT_VERSION, model_name, src.model_dump(), dst.model_dump()])


def judge_edges(  # noqa: C901 - cache read, bounded concurrent calls, incremental cache write: one flow
    uncertain: list[ToolEdge], tools: dict[tuple[str, str], ToolSpec], model: Any,
    budget: int, cache_path: Path | None = None, concurrency: int = 8,
) -> JudgeReport:
    """Rate up to ``budget`` uncertain edges (most confident first); return the edges kept.

    Calls run ``concurrency`` at a time at temperature 0 with a structured-output schema. Each verdict
    is appended to the cache as soon as it arrives, and a failing call (an API error) is counted in
    ``errors`` without cancelling the others: a re-run pays only for the pairs not yet judged. Pairs
    whose call failed keep their cheap-scorer verdict."""
    cache = _read_cache(cache_path)
    llm = role_model(model, "grader")
    model_name = str(llm)
    report = JudgeReport()
    todo = sorted(uncertain, key=lambda e: -e.confidence)[:budget]
    fh = None
    if cache_path:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(cache_path, "a")

    def take(edge: ToolEdge, verdict: dict[str, str] | None, was_cached: bool) -> None:
        if verdict is None:
            report.malformed += 1
            return
        report.cached += was_cached
        report.judged += not was_cached
        report.verdicts[verdict["verdict"]] = report.verdicts.get(verdict["verdict"], 0) + 1
        if verdict["verdict"] != "low":
            report.kept.append(edge.model_copy(update={
                "confidence": _CONF[verdict["verdict"]], "scorer": "llm",
                "evidence": [*edge.evidence, f"judge: {verdict['verdict']}: {verdict['reason']}"]}))
        else:
            report.rejected.append(edge)

    async def run() -> list[Any]:
        sem = asyncio.Semaphore(concurrency)

        async def one(edge: ToolEdge) -> tuple[ToolEdge, dict[str, str] | None, bool]:
            src, dst = tools[tuple(edge.src)], tools[tuple(edge.dst)]  # type: ignore[index]
            key = verdict_key(model_name, src, dst)
            if key in cache:
                return edge, cache[key], True
            async with sem:
                data, out = await generate_json(llm, _prompt(src, dst, edge), "edge_verdict", VERDICT_SCHEMA,
                                                accept=lambda d: str(d.get("verdict", "")).lower().strip() in _CONF,
                                                max_connections=concurrency)
            report.usage.record("judge", out)
            verdict = _parse(data)
            if verdict is not None and fh is not None:  # paid for: on disk before anything else can fail
                fh.write(json.dumps({"key": key, "model": model_name, "verdict": verdict}) + "\n")
                fh.flush()
            return edge, verdict, False

        return await asyncio.gather(*(one(e) for e in todo), return_exceptions=True)

    try:
        results = _run_coroutine(run())
    finally:
        if fh is not None:
            fh.close()
    for res in results:
        if isinstance(res, BaseException):
            report.errors += 1
            report.error = report.error or f"{type(res).__name__}: {res}"[:300]
            continue
        take(res[0], res[1], res[2])
    return report


def _run_coroutine(coro: Any) -> Any:
    """``asyncio.run`` outside an event loop; inside one (a notebook, an Inspect task), on a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def apply_judge(edges: list[ToolEdge], uncertain: list[ToolEdge], tools: dict[tuple[str, str], ToolSpec],
                model: Any, budget: int, cache_path: Path | None = None,
                scope: str = "uncertain", concurrency: int = 8) -> tuple[list[ToolEdge], JudgeReport]:
    """The graph's edges after judging: ``uncertain`` (rate the uncertain band, add what passes) or
    ``all`` (also rate the kept edges, and drop those rated low; most confident pairs first). Edges the
    budget does not reach keep their cheap-scorer verdict; a malformed reply or a failed call changes nothing."""
    if scope not in ("uncertain", "all"):
        raise ValueError(f"judge scope must be 'uncertain' or 'all', not {scope!r}")
    pool = list(uncertain) + (list(edges) if scope == "all" else [])
    report = judge_edges(pool, tools, model, budget, cache_path, concurrency=concurrency)
    key = lambda e: (tuple(e.src), tuple(e.dst))  # noqa: E731
    judged = {key(e): e for e in report.kept}
    dropped = {key(e) for e in report.rejected}
    out = [judged.pop(key(e), e) for e in edges if key(e) not in dropped]
    out.extend(judged.values())  # uncertain edges the judge accepted
    return out, report
