"""Rewrite a worker's sandbox root to the canonical one in recorded calls.

Workers on one machine cannot share ``/tmp/firefly-world/<server>`` (stateful servers would
collide), so each uses its own root; its records are relocated to the canonical root before
synthesis, so questions, ids and the simulator's data are identical whatever ran them.
"""

from __future__ import annotations


from firefly_eval.generation.explore import Exploration, StepResult
from firefly_eval.relocate import relocate_value
from firefly_eval.schema import CallRecord

__all__ = ["relocate_exploration", "relocate_value"]


def _record(rec: CallRecord, src: str, dst: str) -> CallRecord:
    data = rec.model_dump(mode="json")
    data["arguments"] = relocate_value(data["arguments"], src, dst)
    data["result"] = relocate_value(data["result"], src, dst)
    data["id"] = ""  # recomputed from the relocated content
    return CallRecord.model_validate(data)


def relocate_exploration(exp: Exploration, src: str, dst: str) -> Exploration:
    """A copy of ``exp`` whose records use ``dst`` instead of ``src`` (same object when equal)."""
    if src == dst:
        return exp
    mapped = {id(c): _record(c, src, dst) for c in exp.calls}
    steps = []
    for s in exp.steps:
        steps.append(StepResult(s.node, mapped.get(id(s.record)) if s.record is not None else None,
                                [mapped[id(a)] for a in s.attempts if id(a) in mapped], dict(s.bound)))
    return Exploration(exp.plan, steps, [mapped[id(c)] for c in exp.calls], list(exp.infra_errors))
