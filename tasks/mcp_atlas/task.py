"""``inspect eval firefly_eval/mcp_atlas -T dataset=ScaleAI/MCP-Atlas --model M --model-role grader=J``."""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from pathlib import Path

from inspect_ai import Task, task
from inspect_ai.agent import as_solver, react
from inspect_ai.model import get_model
from inspect_ai.scorer import Metric, SampleScore, Score, Scorer, Target, accuracy, metric, scorer, stderr
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.tool import mcp_server_stdio, mcp_tools

from firefly_eval.mcp.client import resolve_command
from firefly_eval.mcp.config import expand, load_fleet
from firefly_eval.tasks.mcp_atlas.dataset import load_rows, rows_to_samples
from firefly_eval.world import fresh_sandbox

__all__ = ["mcp_atlas"]

PASS_AT = 0.75
CLAIM_PROMPT = ("Question: {question}\nAnswer given: {answer}\nClaim: {claim}\n"
                "Does the answer state this claim? Reply with one of: FULL, PARTIAL, NONE.")
_CREDIT = {"FULL": 1.0, "PARTIAL": 0.5, "NONE": 0.0}


def _fleet_tools():
    """Tool specs of the default fleet, as listed by the live servers (cached per process)."""
    from firefly_eval.mcp.fleet import Fleet

    async def listing():
        fl = Fleet(load_fleet())
        try:
            await fl.start()
            return dict(fl.tools)
        finally:
            await fl.close()

    return asyncio.run(listing())


@solver
def fleet_agent(max_messages: int) -> Solver:
    """The row's enabled tools, served by the fleet's real servers on a fresh seed-world sandbox."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        specs = {s.name: s for s in load_fleet()}
        by_server: dict[str, list[str]] = {}
        for server, tool in state.metadata["tools"]:
            by_server.setdefault(server, []).append(tool)
        root = Path(tempfile.mkdtemp(prefix="atlas-"))
        tool_sources = []
        for server, names in by_server.items():
            spec = specs[server]
            sandbox = fresh_sandbox(root / server)
            command, args = resolve_command(spec)
            variables = {"SANDBOX": str(sandbox)}
            srv = mcp_server_stdio(name=server, command=command, args=[expand(a, variables) for a in args],
                                   env={k: expand(v, variables) for k, v in spec.env.items()}, cwd=sandbox)
            tool_sources.append(mcp_tools(srv, tools=names))
        return await as_solver(react(tools=tool_sources))(state, generate)

    return solve


@metric
def mean_coverage() -> Metric:
    """Mean claim coverage (1 / 0.5 / 0 per claim, averaged)."""

    def compute(scores: list[SampleScore]) -> float:
        vals = [s.score.metadata.get("coverage", 0.0) for s in scores if s.score.metadata]
        return sum(vals) / len(vals) if vals else 0.0

    return compute


@scorer(metrics=[accuracy(), stderr(), mean_coverage()])
def claim_coverage(judge: str | None = None) -> Scorer:
    """A judge rates each claim FULL/PARTIAL/NONE; pass when coverage >= 0.75; empty answers score 0."""

    async def score(state: TaskState, target: Target) -> Score:
        answer = (state.output.completion or "").strip()
        claims = state.metadata["claims"]
        if not answer:
            return Score(value=0.0, explanation="empty answer", metadata={"coverage": 0.0})
        model = get_model(judge) if judge else get_model(role="grader")
        credits = []
        for claim in claims:
            out = await model.generate(CLAIM_PROMPT.format(question=state.input_text, answer=answer, claim=claim))
            m = re.search(r"\b(FULL|PARTIAL|NONE)\b", out.completion.upper())
            if m is None:
                raise RuntimeError(f"judge reply not FULL/PARTIAL/NONE: {out.completion[:200]!r}")
            credits.append(_CREDIT[m.group(1)])
        coverage = sum(credits) / len(credits)
        return Score(value=1.0 if coverage >= PASS_AT else 0.0, answer=answer,
                     explanation=json.dumps(dict(zip(claims, credits))), metadata={"coverage": coverage})

    return score


@task
def mcp_atlas(dataset: str = "ScaleAI/MCP-Atlas", judge: str | None = None, max_messages: int = 60) -> Task:
    """MCP-Atlas rows whose tools the fleet has, judged by claim coverage (pass at >= 0.75).

    Args:
        dataset: Hub id (default ScaleAI/MCP-Atlas) or a local .jsonl/.json/.parquet/.csv file.
        judge: Inspect model rating claims (default: the ``grader`` model role).
        max_messages: message limit per sample.
    """
    samples, skipped = rows_to_samples(load_rows(dataset), _fleet_tools())
    if len(samples) == 0:
        raise ValueError(f"{dataset}: no row can run on this fleet ({skipped} rows need missing tools)")
    return Task(dataset=samples, solver=fleet_agent(max_messages), scorer=claim_coverage(judge),
                message_limit=max_messages, version="1.0.0",
                metadata={"benchmark": "mcp_atlas", "rows_skipped_missing_tools": skipped})
