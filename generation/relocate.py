"""Relocate an exploration's records from a worker's sandbox root to the canonical one.

Workers on one machine cannot share ``/tmp/firefly-world/<server>`` (stateful servers would
collide), so each uses its own root; its records are relocated to the canonical root before
synthesis, so questions, ids and the simulator's data are identical whatever ran them. Roots and
record relocation live in ``firefly_eval.sandbox``; this module only maps an ``Exploration``.
"""

from __future__ import annotations

from firefly_eval.generation.explore import Exploration, StepResult
from firefly_eval.sandbox import relocate_record

__all__ = ["relocate_exploration"]


def relocate_exploration(exp: Exploration, src: str, dst: str) -> Exploration:
    """A copy of ``exp`` whose records use ``dst`` instead of ``src`` (same object when equal)."""
    if src == dst:
        return exp
    mapped = {id(c): relocate_record(c, src, dst) for c in exp.calls}
    steps = []
    for s in exp.steps:
        steps.append(StepResult(s.node, mapped.get(id(s.record)) if s.record is not None else None,
                                [mapped[id(a)] for a in s.attempts if id(a) in mapped], dict(s.bound)))
    return Exploration(exp.plan, steps, [mapped[id(c)] for c in exp.calls], list(exp.infra_errors))
