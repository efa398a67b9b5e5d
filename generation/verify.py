"""Verification filters; each one counts what it drops."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

from rapidfuzz import fuzz

from firefly_eval.generation.synthesize import fact_value, value_in_text
from firefly_eval.grading import grade, normalize_text
from firefly_eval.schema import CallRecord, Task, ToolSpec
from firefly_eval.simulator import CallIndex, Simulator

__all__ = ["Verifier", "leaks", "perturb", "self_check"]


def leaks(task: Task) -> list[str]:
    """Answer fields whose gold value appears in the question."""
    q = f" {normalize_text(task.question)} "
    return [name for name, v in task.answer.items() if value_in_text(v, q)]


def perturb(answer: dict[str, Any], field: str) -> dict[str, Any]:
    """Copy of ``answer`` with one field changed to a clearly different value."""
    out = copy.deepcopy(answer)
    v = out[field]
    if isinstance(v, bool):
        out[field] = not v
    elif isinstance(v, (int, float)):
        out[field] = v * 2 + 7
    elif isinstance(v, str):
        out[field] = v + " qz"
    else:
        out[field] = None
    return out


def self_check(task: Task) -> str | None:
    """Gold passes, empty fails, one-field perturbations fail. Returns the failure reason."""
    try:
        if not grade(task.answer, task.answer, task.answer_schema).passed:
            return "gold answer does not pass"
    except ValueError as exc:
        return str(exc)
    if grade({}, task.answer, task.answer_schema).passed:
        return "empty answer passes"
    defaults = {k: ("" if p.get("type") == "string" else 0) for k, p in task.answer_schema["properties"].items()}
    if grade(defaults, task.answer, task.answer_schema).passed:
        return "default answer passes"
    for f in task.answer:
        if grade(perturb(task.answer, f), task.answer, task.answer_schema).passed:
            return f"perturbed field {f} passes"
    return None


class Verifier:
    """Runs the filters over synthesized tasks, counting drops per reason."""

    def __init__(self, stateful_servers: set[str], dedup_threshold: float = 95.0,
                 tools: dict[tuple[str, str], ToolSpec] | None = None) -> None:
        self.stateful = stateful_servers
        self.tools = tools or {}
        self.dedup_threshold = dedup_threshold
        self.counts: Counter[str] = Counter()
        self._questions: dict[tuple, list[str]] = {}

    def oracle_replay(self, task: Task, calls: list[CallRecord]) -> str | None:
        """Replaying the reference calls through the simulator (exact tier) reproduces the gold."""
        by_id = {c.id: c for c in calls}
        # the same simulator configuration the harness uses (tool specs: annotations, validation)
        sim = Simulator(CallIndex(calls), tools=self.tools, tiers=frozenset({"exact"}), stateful_servers=self.stateful)
        ep = sim.episode()
        replayed: dict[str, CallRecord] = {}
        for ref_id, ref in zip(task.reference_calls, task.reference_arguments):
            ans = ep.call(ref["server"], ref["tool"], ref["arguments"])
            if ans.tier != "exact":
                return f"reference call {ref['tool']} did not replay exactly ({ans.tier})"
            orig = by_id[ref_id]
            replayed[ref_id] = orig.model_copy(update={"result": ans.result})
        sources = task.provenance.get("answer_sources", {})
        for name, gold in task.answer.items():
            src = sources.get(name)
            if src is None:
                return f"field {name} has no source"
            value = fact_value(replayed[src["call"]], src["key"])
            if not grade({name: value}, {name: gold},
                         {"type": "object", "properties": {name: task.answer_schema["properties"][name]},
                          "required": [name]}).passed:
                return f"replayed value of {name} differs"
        return None

    def check(self, task: Task | None, calls: list[CallRecord], volatile_fields: set[str]) -> Task | None:
        if task is None:
            self.counts["dropped_no_task"] += 1
            return None
        for name in list(task.answer):
            if name in volatile_fields:
                del task.answer[name]
                task.answer_schema["properties"].pop(name)
                task.answer_schema["required"].remove(name)
                self.counts["fields_removed_volatile"] += 1
        if len(task.answer) < 2:
            self.counts["dropped_volatile"] += 1
            return None
        if leaks(task):
            self.counts["dropped_leak"] += 1
            return None
        reason = self_check(task)
        if reason:
            self.counts["dropped_self_check"] += 1
            return None
        reason = self.oracle_replay(task, calls)
        if reason:
            self.counts["dropped_oracle_replay"] += 1
            return None
        sig = tuple(sorted(map(tuple, task.tools)))
        seen = self._questions.setdefault(sig, [])
        if any(fuzz.ratio(task.question, q) >= self.dedup_threshold for q in seen):
            self.counts["dropped_duplicate"] += 1
            return None
        seen.append(task.question)
        task.quality = {"filters": ["volatility", "leak", "self_check", "oracle_replay", "dedup"], "oracle": "pass"}
        self.counts["kept"] += 1
        return task
