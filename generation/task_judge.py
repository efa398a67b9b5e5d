"""Optional LLM quality judge for synthesized tasks, with the paper's five criteria.

Each kept task is rated 1-5 on each criterion of ``RUBRIC`` (the prompt gives the model every
criterion's one-line rubric and the scale). A task is dropped when any criterion is below
``min_score``; the ratings go into ``Task.quality``. Ratings given as numeric strings (``"5"``) or
floats within the scale count. A reply that does not parse, or lacks a criterion, follows
``on_malformed``: ``drop`` (default: an unjudged task is not kept) or ``keep``; it is marked
``judge: malformed`` either way and counted by the pipeline.
"""

from __future__ import annotations

import json
from typing import Any

from inspect_ai.model import Model

from firefly_eval.generation.llm_stats import LLMStats, role_model
from firefly_eval.model_json import generate_json
from firefly_eval.schema import CallRecord, Task

__all__ = ["CRITERIA", "PROMPT_VERSION", "RUBRIC", "judge_task", "ratings_in"]

PROMPT_VERSION = "task-judge-v2"
RUBRIC: dict[str, str] = {
    "solvable": "the listed tools can produce the answer from what the question states "
                "(1 = impossible, 3 = needs a guess, 5 = clearly)",
    "unambiguous": "exactly one correct answer (1 = many answers fit, 3 = one reading is likelier, 5 = one answer)",
    "answer_supported": "every gold value appears in, or follows directly from, the observed results "
                        "(1 = unsupported, 3 = partly, 5 = fully)",
    "natural": "a real user would send this request in these words (1 = a call script, 3 = stilted, 5 = natural)",
    "non_trivial": "answering needs the tool calls, not general knowledge or the question's own text "
                   "(1 = answer in the question, 3 = one call suffices, 5 = needs the calls)",
}
CRITERIA = tuple(RUBRIC)
_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {**{c: {"type": "integer", "minimum": 1, "maximum": 5} for c in CRITERIA},
                   "reason": {"type": "string"}},
    "required": [*CRITERIA, "reason"], "additionalProperties": False,
}


def _rating(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, (int, float)) and 1 <= value <= 5:
        return int(round(value))
    return None


def ratings_in(data: dict[str, Any] | None) -> dict[str, int] | None:
    """Every criterion's 1-5 rating from a parsed reply (numbers or numeric strings), or None if any is missing."""
    if data is None:
        return None
    out: dict[str, int] = {}
    for c in CRITERIA:
        r = _rating(data.get(c))
        if r is None:
            return None
        out[c] = r
    return out


async def judge_task(task: Task, calls: list[CallRecord], model: str | Model, min_score: int = 3,
                     on_malformed: str = "drop", stats: LLMStats | None = None,
                     max_connections: int | None = None) -> tuple[bool, dict[str, Any]]:
    """(keep?, ratings). A reply that does not parse is marked ``judge: malformed`` and kept only with
    ``on_malformed="keep"``."""
    if on_malformed not in ("drop", "keep"):
        raise ValueError(f"on_malformed must be 'drop' or 'keep', got {on_malformed!r}")
    llm = role_model(model, "grader")
    by_id = {c.id: c for c in calls}
    observed = "\n".join(f"- {by_id[i].tool}({json.dumps(by_id[i].arguments)[:200]}) -> {by_id[i].text()[:300]!r}"
                         for i in task.reference_calls if i in by_id)
    rubric = "\n".join(f"- {c}: {r}" for c, r in RUBRIC.items())
    prompt = (f"Task question: {task.question}\nGold answer: {json.dumps(task.answer)}\nTool calls that produced it:\n"
              f"{observed}\nRate the task with an integer from 1 (worst) to 5 (best) on each criterion:\n{rubric}\n"
              'Reply with JSON only, e.g. {"solvable": 5, "unambiguous": 4, "answer_supported": 5, "natural": 3, '
              '"non_trivial": 4, "reason": "<one sentence>"}')
    data, out = await generate_json(llm, prompt, "task_ratings", _SCHEMA, accept=lambda d: ratings_in(d) is not None,
                                    max_connections=max_connections)
    if stats is not None:
        stats.record("judge", out)
    ratings = ratings_in(data)
    if data is None or ratings is None:
        if stats is not None:
            stats.judge_malformed += 1
        return on_malformed == "keep", {"judge": "malformed", "judge_version": PROMPT_VERSION}
    return min(ratings.values()) >= min_score, {"judge": ratings, "judge_reason": str(data.get("reason", ""))[:300],
                                                "judge_model": str(llm), "judge_version": PROMPT_VERSION}
