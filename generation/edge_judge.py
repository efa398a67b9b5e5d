"""Optional LLM judge for the tool graph, with a content-hash verdict cache.

By default only candidates the relation rule could not decide (the uncertain band: cues but no
clause) reach the judge, ~8 pairs per tool on the default fleet; with scope ``all`` the kept
edges are judged too and an edge the judge rates ``low`` is dropped (~12 per tool; both inside
the 20-per-tool budget; the rule's precision: benchmarks/graph_quality.py). At most ``budget``
pairs are judged; verdicts (high / medium / low + reason) are cached by the hash of both
tools' specs and the prompt version, so a re-run costs nothing.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firefly_eval.inspect_model import resolve_model
from firefly_eval.model_json import json_object_in
from firefly_eval.schema import ToolEdge, ToolSpec, content_hash

__all__ = ["JudgeReport", "apply_judge", "judge_edges"]

PROMPT_VERSION = "edge-judge-v1"
_CONF = {"high": 0.9, "medium": 0.65, "low": 0.1}


def _prompt(src: ToolSpec, dst: ToolSpec, edge: ToolEdge) -> str:
    return (
        "You judge whether calling tool A first produces something tool B can use as input, or makes B a natural "
        "next step.\n"
        f"Tool A: {src.server}/{src.name}: {src.description[:500]}\n"
        f"Tool B: {dst.server}/{dst.name}: {dst.description[:500]}\n"
        f"Tool B parameters: {json.dumps(dst.input_schema.get('properties', {}))[:800]}\n"
        f"Evidence from cheap scorers: {'; '.join(edge.evidence)}\n"
        'Answer with JSON only: {"verdict": "high" | "medium" | "low", "reason": "<one sentence>"}'
    )


def _parse(text: str) -> dict[str, str] | None:
    data = json_object_in(text)
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


def judge_edges(  # noqa: C901 - cache read, bounded concurrent calls, cache write: one flow
    uncertain: list[ToolEdge], tools: dict[tuple[str, str], ToolSpec], model: Any,
    budget: int, cache_path: Path | None = None, concurrency: int = 8,
) -> JudgeReport:
    """Rate up to ``budget`` uncertain edges (most confident first); return the edges kept."""
    cache: dict[str, dict[str, str]] = {}
    if cache_path and cache_path.exists():
        for line in cache_path.read_text().splitlines():
            try:
                row = json.loads(line)
                cache[row["key"]] = row["verdict"]
            except (ValueError, KeyError):
                continue
    llm = resolve_model(model)
    report = JudgeReport()
    todo = sorted(uncertain, key=lambda e: -e.confidence)[:budget]

    async def run() -> list[tuple[ToolEdge, dict[str, str] | None, str, bool]]:
        sem = asyncio.Semaphore(concurrency)

        async def one(edge: ToolEdge) -> tuple[ToolEdge, dict[str, str] | None, str, bool]:
            src, dst = tools[tuple(edge.src)], tools[tuple(edge.dst)]  # type: ignore[index]
            key = content_hash([PROMPT_VERSION, src.model_dump(), dst.model_dump()])
            if key in cache:
                return edge, cache[key], key, True
            async with sem:
                out = await llm.generate(_prompt(src, dst, edge))
            return edge, _parse(out.completion), key, False

        return await asyncio.gather(*(one(e) for e in todo))

    new_rows = []
    for edge, verdict, key, was_cached in asyncio.run(run()):
        if verdict is None:
            report.malformed += 1
            continue
        report.cached += was_cached
        report.judged += not was_cached
        if not was_cached:
            new_rows.append(json.dumps({"key": key, "verdict": verdict}))
        report.verdicts[verdict["verdict"]] = report.verdicts.get(verdict["verdict"], 0) + 1
        if verdict["verdict"] != "low":
            report.kept.append(edge.model_copy(update={
                "confidence": _CONF[verdict["verdict"]], "scorer": "llm",
                "evidence": [*edge.evidence, f"judge: {verdict['verdict']}: {verdict['reason']}"]}))
        else:
            report.rejected.append(edge)
    if cache_path and new_rows:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        with open(cache_path, "a") as fh:
            fh.write("\n".join(new_rows) + "\n")
    return report


def apply_judge(edges: list[ToolEdge], uncertain: list[ToolEdge], tools: dict[tuple[str, str], ToolSpec],
                model: Any, budget: int, cache_path: Path | None = None,
                scope: str = "uncertain") -> tuple[list[ToolEdge], JudgeReport]:
    """The graph's edges after judging: ``uncertain`` (rate the uncertain band, add what passes) or
    ``all`` (also rate the kept edges, and drop those rated low; most confident pairs first). Edges the
    budget does not reach keep their cheap-scorer verdict; a malformed reply changes nothing."""
    if scope not in ("uncertain", "all"):
        raise ValueError(f"judge scope must be 'uncertain' or 'all', not {scope!r}")
    pool = list(uncertain) + (list(edges) if scope == "all" else [])
    report = judge_edges(pool, tools, model, budget, cache_path)
    key = lambda e: (tuple(e.src), tuple(e.dst))  # noqa: E731
    judged = {key(e): e for e in report.kept}
    dropped = {key(e) for e in report.rejected}
    out = [judged.pop(key(e), e) for e in edges if key(e) not in dropped]
    out.extend(judged.values())  # uncertain edges the judge accepted
    return out, report
