"""Optional LLM quality judge for synthesized tasks, with the paper's five criteria.

Each kept task is rated 1-5 on: solvable (the tools can answer it), unambiguous (one correct
answer), answer supported (the gold values appear in the observed results), natural (a user
would ask this), non-trivial (needs the calls). A task is dropped when any criterion is below
``min_score``; the ratings go into ``Task.quality``. Malformed replies are counted, not fatal.
"""

from __future__ import annotations

import json
from typing import Any

from inspect_ai.model import Model

from firefly_eval.inspect_model import resolve_model
from firefly_eval.model_json import json_object_in
from firefly_eval.schema import CallRecord, Task

__all__ = ["CRITERIA", "judge_task"]

CRITERIA = ("solvable", "unambiguous", "answer_supported", "natural", "non_trivial")


async def judge_task(task: Task, calls: list[CallRecord], model: str | Model, min_score: int = 3) -> tuple[bool, dict[str, Any]]:
    """(keep?, ratings). Unparseable replies keep the task and are marked ``judge: malformed``."""
    llm = resolve_model(model)
    by_id = {c.id: c for c in calls}
    observed = "\n".join(f"- {by_id[i].tool}({json.dumps(by_id[i].arguments)[:200]}) -> {by_id[i].text()[:300]!r}"
                         for i in task.reference_calls if i in by_id)
    prompt = (f"Task question: {task.question}\nGold answer: {json.dumps(task.answer)}\nTool calls that produced it:\n"
              f"{observed}\nRate the task 1-5 on each criterion: {', '.join(CRITERIA)}. "
              'Reply with JSON only, e.g. {"solvable": 5, "unambiguous": 4, "answer_supported": 5, "natural": 3, '
              '"non_trivial": 4, "reason": "..."}')
    data = json_object_in((await llm.generate(prompt)).completion)
    if data is None or not all(isinstance(data.get(c), (int, float)) for c in CRITERIA):
        return True, {"judge": "malformed"}
    ratings = {c: int(data[c]) for c in CRITERIA}
    return min(ratings.values()) >= min_score, {"judge": ratings, "judge_reason": str(data.get("reason", ""))[:300]}
