"""What the LLM paths cost and what went wrong with model output: counters per plan, summed per run."""

from __future__ import annotations

from typing import Any

__all__ = ["STAGES", "LLMStats", "add_usage", "role_model"]

STAGES = ("explore", "synthesize", "judge")
_COUNTERS = ("outside_plan_calls", "malformed", "fallbacks", "nudges", "turn_budget_spent", "judge_malformed")


def _zero() -> dict[str, int]:
    return {"calls": 0, "input_tokens": 0, "output_tokens": 0, "total_tokens": 0}


def add_usage(into: dict[str, dict[str, int]], other: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Sum per-stage usage ``other`` into ``into`` (returned)."""
    for stage, u in other.items():
        row = into.setdefault(stage, _zero())
        for k, v in u.items():
            row[k] = row.get(k, 0) + int(v)
    return into


class LLMStats:
    """Per-stage model calls and tokens, and counters of malformed output (reported in the run summary).

    ``outside_plan_calls``: explorer calls to tools outside the plan (refused); ``malformed``: replies that
    did not parse; ``fallbacks``: synthesizer replies replaced by the card synthesizer's task; ``nudges``:
    text-only explorer replies answered with "continue"; ``turn_budget_spent``: explorations that ended on
    the turn budget with steps still uncovered; ``judge_malformed``: task-judge replies that did not parse.
    """

    def __init__(self) -> None:
        for name in _COUNTERS:
            setattr(self, name, 0)
        self.usage: dict[str, dict[str, int]] = {}

    def record(self, stage: str, output: Any) -> None:
        """Count one model call of ``stage`` and its tokens (``output.usage`` where the provider gives it)."""
        row = self.usage.setdefault(stage, _zero())
        row["calls"] += 1
        u = getattr(output, "usage", None)
        if u is not None:
            row["input_tokens"] += int(u.input_tokens or 0)
            row["output_tokens"] += int(u.output_tokens or 0)
            row["total_tokens"] += int(u.total_tokens or 0)

    def merge(self, other: LLMStats) -> None:
        """Add another plan's counters to these."""
        for name in _COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        add_usage(self.usage, other.usage)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LLMStats:
        """Counters and usage read back from :meth:`as_dict` (a shard's ``llm``, a Ray worker's stats)."""
        out = cls()
        for name in _COUNTERS:
            setattr(out, name, int(data.get(name, 0)))
        add_usage(out.usage, data.get("usage", {}))
        return out

    def counters(self) -> dict[str, int]:
        """The malformed-output counters by name."""
        return {name: getattr(self, name) for name in _COUNTERS}

    def as_dict(self) -> dict[str, Any]:
        """Counters and usage, as written into a shard."""
        return {**self.counters(), "usage": {k: dict(v) for k, v in self.usage.items()}}


def role_model(model: Any, role: str) -> Any:
    """The Inspect model for a generation role: a Model as it is; a name through ``get_model(name, role=role)``,
    so a model bound to the role (``explorer``, ``synthesizer``, ``grader``) in Inspect's model roles wins."""
    from inspect_ai.model import get_model

    return get_model(model, role=role) if isinstance(model, str) else model
