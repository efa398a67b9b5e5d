"""Replay a task's reference calls through a simulator and rebuild its answer from the results.

The answer is built from the *replayed* results, field by field, from the task's
``provenance.answer_sources`` (``{field: {"call": record_id, "key": fact_key}}``): a simulator
that does not reproduce the recorded world (an undeclared stateful server, a lost record,
a wrong tier) yields problems, and the oracle and generation's verification fail the task.
"""

from __future__ import annotations

from typing import Any

from firefly_eval.facts import fact_value
from firefly_eval.grading import grade
from firefly_eval.schema import CallRecord, Task, canonical_json
from firefly_eval.simulator.simulator import SimAnswer, Simulator

__all__ = ["answer_from_calls", "areplay_answer", "replay_answer"]


def _result_of(reply: SimAnswer | dict[str, Any]) -> tuple[dict[str, Any], str | None, str]:
    if isinstance(reply, SimAnswer):
        return reply.result, reply.tier, reply.source_id
    return reply, None, ""


def _replayed(task: Task, calls: list[dict[str, Any]], problems: list[str]) -> dict[str, CallRecord]:
    """Reference record id -> the record as replayed, for the calls that match their reference."""
    refs = task.reference_arguments
    if len(calls) != len(refs):
        problems.append(f"{len(calls)} calls replayed, the task has {len(refs)} reference calls")
    replayed: dict[str, CallRecord] = {}
    for i, (ref, call) in enumerate(zip(refs, calls, strict=False)):
        if (call["server"], call["tool"], canonical_json(call["arguments"])) != \
                (ref["server"], ref["tool"], canonical_json(ref["arguments"])):
            problems.append(f"call {i} is {call['tool']} {canonical_json(call['arguments'])}, the reference is "
                            f"{ref['tool']} {canonical_json(ref['arguments'])}")
            continue
        result, tier, _source = _result_of(call["answer"])
        if tier is not None and tier != "exact":
            problems.append(f"reference call {i} ({ref['tool']}) was answered by tier {tier}, not exact")
            continue
        ref_id = task.reference_calls[i] if i < len(task.reference_calls) else f"#{i}"
        replayed[ref_id] = CallRecord(server=ref["server"], tool=ref["tool"], arguments=ref["arguments"],
                                      result=result, is_error=bool(result.get("isError")))
    return replayed


def _field(task: Task, name: str, replayed: dict[str, CallRecord]) -> tuple[Any, str | None]:
    """(replayed value or None, the problem or None) of one answer field."""
    src = task.provenance.get("answer_sources", {}).get(name)
    if not isinstance(src, dict) or "call" not in src or "key" not in src:
        return None, f"field {name} has no answer source"
    rec = replayed.get(src["call"])
    if rec is None:  # a reference call that failed to replay is already reported
        return None, None if src["call"] in task.reference_calls else \
            f"field {name}: source call {src['call']} is not a reference call"
    if rec.is_error:
        return None, f"field {name}: source call {rec.tool} replayed as an error"
    value = fact_value(rec, src["key"])
    if value is None:
        return None, f"field {name}: {src['key']!r} is not in the replayed result of {rec.tool}"
    gold = task.answer[name]
    prop = task.answer_schema.get("properties", {}).get(name, {})
    if not grade({name: value}, {name: gold}, {"type": "object", "properties": {name: prop},
                                               "required": [name]}).passed:
        return value, f"field {name}: replayed {value!r}, the gold answer is {gold!r}"
    return value, None


def answer_from_calls(task: Task, calls: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """The answer built from replayed calls, and the problems found (empty: the replay matches).

    Args:
        task: the task (its ``reference_arguments``, ``reference_calls``, answer sources, gold).
        calls: the calls made, in order: ``{"server", "tool", "arguments", "answer"}`` where
            ``answer`` is a :class:`SimAnswer` (tier checked) or a bare MCP result dict.
    """
    problems: list[str] = []
    replayed = _replayed(task, calls, problems)
    answer: dict[str, Any] = {}
    for name in task.answer:
        value, problem = _field(task, name, replayed)
        if value is not None:
            answer[name] = value
        if problem:
            problems.append(problem)
    return answer, problems


def replay_answer(task: Task, simulator: Simulator) -> tuple[dict[str, Any], list[str]]:
    """Make the task's reference calls in a fresh episode of ``simulator``; build the answer.

    Use a simulator loaded from the written dataset (not the in-memory records) to check what
    users will replay. Returns ``(answer, problems)``; any problem means the task fails.
    """
    ep = simulator.episode()
    for ref in task.reference_arguments:
        ep.call(ref["server"], ref["tool"], ref["arguments"])
    return answer_from_calls(task, ep.calls)


async def areplay_answer(task: Task, simulator: Simulator) -> tuple[dict[str, Any], list[str]]:
    """Async :func:`replay_answer` (for simulators with an LLM adapter or miss policy)."""
    ep = simulator.episode()
    for ref in task.reference_arguments:
        await ep.acall(ref["server"], ref["tool"], ref["arguments"])
    return answer_from_calls(task, ep.calls)
