"""Field-matching scorer with failure classes and simulator-tier metrics."""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

from inspect_ai.scorer import (
    CORRECT,
    INCORRECT,
    Metric,
    SampleScore,
    Score,
    Scorer,
    Target,
    accuracy,
    metric,
    scorer,
    stderr,
)
from inspect_ai.solver import TaskState

from firefly_eval.grading import grade

__all__ = ["classify_failure", "field_match"]


def classify_failure(answer: dict[str, Any] | None, calls: list[dict[str, Any]], reference_tools: list[list[str]]) -> str:
    """model | simulator: a miss on a tool the reference trajectory needed is the simulator's fault."""
    needed = {tuple(t) for t in reference_tools}
    if any(c.get("tier") == "miss" and (c.get("server"), c.get("tool")) in needed for c in calls):
        return "simulator"
    return "model"


def _meta_mean(key: str) -> Metric:
    def compute(scores: list[SampleScore]) -> float:
        vals = [s.score.metadata.get(key, 0) for s in scores if s.score.metadata]
        return sum(vals) / len(vals) if vals else 0.0

    return compute


@metric
def mean_tool_calls() -> Metric:
    """Mean number of tool calls per sample."""
    return _meta_mean("tool_calls")


@metric
def failure_model() -> Metric:
    """Share of samples failed by the model (wrong answer, bad call, no submission)."""
    return _meta_mean("failure_model")


@metric
def failure_simulator() -> Metric:
    """Share of samples failed on a simulator miss the reference trajectory also needed."""
    return _meta_mean("failure_simulator")


@metric
def mean_tokens() -> Metric:
    """Mean model tokens per sample (all roles)."""
    return _meta_mean("tokens")


@metric
def ci95_low() -> Metric:
    """Lower end of the 95% Wilson interval of accuracy."""
    return _wilson(-1)


@metric
def ci95_high() -> Metric:
    """Upper end of the 95% Wilson interval of accuracy."""
    return _wilson(1)


def _wilson(sign: int) -> Metric:
    def compute(scores: list[SampleScore]) -> float:
        n = len(scores)
        if n == 0:
            return 0.0
        p = sum(s.score.as_float() for s in scores) / n
        z = 1.96
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return min(1.0, max(0.0, centre + sign * half))

    return compute


@metric
def tier_exact() -> Metric:
    """Share of tool calls answered by the exact tier."""
    return _tier_share("exact")


@metric
def tier_fuzzy() -> Metric:
    """Share of tool calls answered by the fuzzy tier."""
    return _tier_share("fuzzy")


@metric
def tier_simulated() -> Metric:
    """Share of tool calls answered by an LLM-simulated result (miss_policy=simulate)."""
    return _tier_share("simulated")


@metric
def tier_miss() -> Metric:
    """Share of tool calls that missed the simulator."""
    return _tier_share("miss")


def _tier_share(tier: str) -> Metric:
    def compute(scores: list[SampleScore]) -> float:
        counts: Counter[str] = Counter()
        for s in scores:
            counts.update((s.score.metadata or {}).get("tiers", {}))
        total = sum(counts.values())
        return counts[tier] / total if total else 0.0

    return compute


@metric
def judge_agreement() -> Metric:
    """Mean share of judge votes agreeing with the majority, over judged fields (1.0 when none)."""
    def compute(scores: list[SampleScore]) -> float:
        vals = [a for s in scores for a in (s.score.metadata or {}).get("judge_agreement", [])]
        return sum(vals) / len(vals) if vals else 1.0

    return compute


JUDGE_PROMPT = (
    "Question: {question}\nField: {field} ({description})\nReference answer: {gold}\nSubmitted answer: {pred}\n"
    "Does the submitted answer state the same fact as the reference? Reply with exactly one word: YES or NO."
)


async def judge_field(model, question: str, field: str, description: str, gold, pred, votes: int) -> tuple[bool, float]:
    """Majority of ``votes`` judge calls; returns (passed, agreement with the majority)."""
    from inspect_ai.model import GenerateConfig

    answers = []
    for i in range(votes):
        out = await model.generate(JUDGE_PROMPT.format(question=question, field=field, description=description,
                                                       gold=json.dumps(gold), pred=json.dumps(pred)),
                                   config=GenerateConfig(seed=i))
        answers.append(out.completion.strip().upper().startswith("YES"))
    yes = sum(answers)
    passed = yes * 2 > votes
    return passed, max(yes, votes - yes) / votes


@scorer(metrics=[accuracy(), stderr(), ci95_low(), ci95_high(), judge_agreement(), mean_tool_calls(), mean_tokens(), failure_model(), failure_simulator(),
                 tier_exact(), tier_fuzzy(), tier_simulated(), tier_miss()])
def field_match(rel_tol: float = 1e-4, judge: str | None = None, judge_votes: int = 3) -> Scorer:
    """Pass iff every required answer field matches the gold answer (see firefly_eval.grading).

    Fields whose schema says ``"x-free-text": true`` are decided by a judge model instead of
    normalised string equality (``judge``: an Inspect model name, or the ``grader`` role),
    by majority over ``judge_votes`` calls; the agreement rate is a metric.
    """

    async def score(state: TaskState, target: Target) -> Score:
        gold = json.loads(target.text)
        schema = state.metadata["answer_schema"]
        answer = state.metadata.get("firefly_answer")
        calls = state.metadata.get("firefly_calls", [])
        tiers = dict(Counter(c.get("tier", "?") for c in calls))
        meta: dict[str, Any] = {"tool_calls": len(calls), "tiers": tiers, "tokens": state.token_usage, "failure_model": 0, "failure_simulator": 0,
                                "invalid_submits": state.metadata.get("firefly_invalid_submits", 0)}
        if answer is None:
            meta["failure_model"] = 1
            meta["failure"] = "model: no submission"
            return Score(value=INCORRECT, answer="", explanation="no submission: the run ended without a valid "
                         "call to submit", metadata=meta)
        g = grade(answer, gold, schema, rel_tol=rel_tol)
        free = [f for f in g.fields if schema["properties"].get(f.name, {}).get("x-free-text") and f.name in answer]
        if free:
            from inspect_ai.model import get_model

            model = get_model(judge) if judge else get_model(role="grader")
            meta["judge_agreement"] = []
            for f in free:
                ok, agreement = await judge_field(model, state.input_text, f.name,
                                                  schema["properties"][f.name].get("description", ""),
                                                  gold.get(f.name), answer.get(f.name), judge_votes)
                f.passed, f.explanation = ok, f"judge: {'match' if ok else 'no match'} ({agreement:.2f} agreement)"
                meta["judge_agreement"].append(agreement)
            g.passed = all(f.passed for f in g.fields)
        meta["fields"] = {f.name: {"passed": f.passed, "why": f.explanation} for f in g.fields}
        meta["field_fraction"] = g.fraction
        if not g.passed:
            cls = classify_failure(answer, calls, state.metadata.get("tools", []))
            meta[f"failure_{cls}"] = 1
            meta["failure"] = cls
        return Score(value=CORRECT if g.passed else INCORRECT, answer=json.dumps(answer, ensure_ascii=False),
                     explanation=g.explanation, metadata=meta)

    return score
