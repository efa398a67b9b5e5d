"""MCP-Atlas claim coverage, as services/scoring/score_claims.py scores (scaleapi/mcp-atlas, commit 5b6220c).

Each claim is judged on its own, at temperature 0: fulfilled 1, partially fulfilled 0.5, not fulfilled 0;
coverage is their mean rounded to 3 decimals. An empty answer, or one starting with ``ERROR:``, scores
0 without calling the judge. Reported: pass rate at coverage >= 0.75 (the headline), at >= 0.50, and
mean coverage. The judge prompt carries upstream's rules (numbers within 5%, percentages within one
point, equivalent forms match), in this project's words.
"""

from __future__ import annotations

import json
import re

from inspect_ai._util.error import PrerequisiteError
from inspect_ai.model import GenerateConfig, Model, get_model
from inspect_ai.scorer import Metric, SampleScore, Score, Scorer, Target, metric, scorer, stderr
from inspect_ai.solver import TaskState

__all__ = ["CLAIM_PROMPT", "claim_coverage", "coverage_pass_rate", "mean_coverage", "pass_rate_50", "pass_rate_75"]

CREDIT = {"fulfilled": 1.0, "partially_fulfilled": 0.5, "not_fulfilled": 0.0}

CLAIM_PROMPT = """You are checking whether a model's response covers one claim written by an expert.

Outcomes:
- fulfilled: the response states the claim completely and accurately, with all its key details.
- partially_fulfilled: the response states some of the claim's key details but not all.
- not_fulfilled: the response states none of the claim's key details.

Numbers:
- Exact decimals are not required: a value within 5% of the claim's value matches.
- Percentages match within plus or minus 1 percentage point.
- Use the precision the domain calls for (scientific values tighter, general statistics and business
  figures looser; millions or billions need no exact cents).
- Equivalent forms match ("0.5", "50%", "half").

Judge whether the response conveys the same information as the claim, rigorously but fairly.

CLAIM:
{claim}

RESPONSE:
{response}

Reply with a JSON object only: {{"coverage_outcome": "fulfilled" | "partially_fulfilled" | "not_fulfilled",
"justification": "<what was or was not covered>"}}"""


def _outcome(reply: str) -> str:
    try:
        found = json.loads(reply[reply.index("{"): reply.rindex("}") + 1]).get("coverage_outcome", "")
    except ValueError:
        found = ""
    if found not in CREDIT:
        m = re.search(r"\b(not_fulfilled|partially_fulfilled|fulfilled)\b", reply)
        found = m.group(1) if m else ""
    if found not in CREDIT:
        raise RuntimeError(f"judge reply has no coverage_outcome: {reply[:200]!r}")
    return found


def _coverages(scores: list[SampleScore]) -> list[float]:
    return [float(s.score.value) for s in scores if isinstance(s.score.value, (int, float))]


def coverage_pass_rate(threshold: float) -> Metric:
    """Share of samples whose coverage reaches ``threshold``."""

    def compute(scores: list[SampleScore]) -> float:
        vals = _coverages(scores)
        return sum(v >= threshold for v in vals) / len(vals) if vals else 0.0

    return compute


@metric
def pass_rate_75() -> Metric:
    """Pass rate at coverage >= 0.75 (MCP-Atlas's headline)."""
    return coverage_pass_rate(0.75)


@metric
def pass_rate_50() -> Metric:
    """Pass rate at coverage >= 0.50."""
    return coverage_pass_rate(0.5)


@metric
def mean_coverage() -> Metric:
    """Mean claim coverage."""

    def compute(scores: list[SampleScore]) -> float:
        vals = _coverages(scores)
        return sum(vals) / len(vals) if vals else 0.0

    return compute


def _judge(judge: str | None) -> Model:
    config = GenerateConfig(temperature=0.0)
    if judge:
        return get_model(judge, config=config)
    try:
        return get_model(role="grader", required=True, config=config)
    except PrerequisiteError as exc:
        raise PrerequisiteError("mcp_atlas needs a judge: pass --model-role grader=<model> or -T judge=<model> "
                         "(the model under test never grades its own answers)") from exc


@scorer(metrics=[pass_rate_75(), pass_rate_50(), mean_coverage(), stderr()])
def claim_coverage(judge: str | None = None) -> Scorer:
    """Score = claim coverage; pass rates at 0.75 (headline) and 0.50 are metrics over it."""

    async def score(state: TaskState, target: Target) -> Score:
        answer = (state.output.completion or "").strip() if state.output else ""
        claims: list[str] = state.metadata["claims"]
        if not answer or answer.startswith("ERROR:"):
            return Score(value=0.0, answer=answer, explanation="empty or error response: 0 without judging",
                         metadata={"per_claim": [0.0] * len(claims), "judged": False})
        model = _judge(judge)
        credits = []
        for claim in claims:
            out = await model.generate(CLAIM_PROMPT.format(claim=claim, response=answer))
            credits.append(CREDIT[_outcome(out.completion)])
        coverage = round(sum(credits) / len(credits), 3)
        return Score(value=coverage, answer=answer, explanation=json.dumps(dict(zip(claims, credits, strict=True)), indent=1),
                     metadata={"per_claim": credits, "judged": True})

    return score
