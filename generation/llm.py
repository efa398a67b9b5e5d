"""LLM explorer and LLM synthesizer: any Inspect model (``openai/...``, ``vllm/...``, ``mockllm/model``).

* The explorer drives a tool-use loop over exactly the plan's tools on the live fleet, told
  the plan's structure and the seed world; calls outside the plan are refused and counted; it
  stops when every node has a successful call (or at ``max_turns``).
* The synthesizer writes the question and picks the answer fields from *observed facts*
  (numbered), so gold values still come from real results, never from the model. A malformed
  reply falls back to the template synthesizer and is counted.
"""

from __future__ import annotations

import json
import re
from typing import Any

from inspect_ai.model import ChatMessageSystem, ChatMessageTool, ChatMessageUser, Model, get_model

from firefly_eval.agent_tools import exposed_name, tool_info
from firefly_eval.generation.explore import Exploration, StepResult
from firefly_eval.generation.synthesize import _field_name, _json_type, extract_facts, synthesize_task
from firefly_eval.mcp.client import ServerError
from firefly_eval.mcp.fleet import Fleet
from firefly_eval.model_json import json_object_in
from firefly_eval.schema import Plan, Task, ToolSpec
from firefly_eval.world import describe_world

__all__ = ["LLMStats", "explore_plan_llm", "synthesize_task_llm"]


class LLMStats:
    """Counters of what went wrong with model output (reported in the run summary)."""

    def __init__(self) -> None:
        self.outside_plan_calls = 0
        self.malformed = 0
        self.fallbacks = 0


def _model(model: str | Model) -> Model:
    return get_model(model) if isinstance(model, str) else model


def _plan_text(plan: Plan, tools: dict[tuple[str, str], ToolSpec], sandbox_of: dict[str, str]) -> str:
    lines = []
    for i, (server, name) in enumerate(plan.nodes):
        after = [plan.nodes[s][1] for s, d in plan.edges if d == i]
        desc = tools[(server, name)].description.split("\n")[0][:160] if (server, name) in tools else ""
        lines.append(f"- step {i}: `{exposed_name(server, name)}` ({desc})"
                     + (f", after {', '.join(after)} (use what they return)" if after else ""))
    world = "; ".join(f"{k}: {v}" for k, v in describe_world().items())
    roots = "; ".join(f"{s}: {p}" for s, p in sorted(sandbox_of.items()) if s in plan.servers)
    return ("Explore these tools by calling each of them at least once, successfully, in an order that respects "
            "the dependencies:\n" + "\n".join(lines) +
            f"\nThe servers work on a small company's files ({world}). Their folders: {roots}.\n"
            "Use real values from earlier results where a step depends on another. Stop when every step succeeded.")


async def explore_plan_llm(plan: Plan, fleet: Fleet, model: str | Model, sandbox_of: dict[str, str],
                           max_turns: int = 12, stats: LLMStats | None = None) -> Exploration:
    """Let a model explore the plan on live servers; every call is recorded."""
    stats = stats or LLMStats()
    llm = _model(model)
    specs = {exposed_name(s, n): fleet.tools[(s, n)] for s, n in plan.nodes if (s, n) in fleet.tools}
    infos = [tool_info(t) for t in specs.values()]
    node_of = {exposed_name(s, n): i for i, (s, n) in enumerate(plan.nodes)}
    steps = {i: StepResult(i, None) for i in range(len(plan.nodes))}
    calls, infra = [], []
    messages: list[Any] = [ChatMessageSystem(content="You are exploring APIs to record how they behave."),
                           ChatMessageUser(content=_plan_text(plan, fleet.tools, sandbox_of))]
    for _ in range(max_turns):
        out = await llm.generate(messages, tools=infos)
        messages.append(out.message)
        if not out.message.tool_calls:
            break
        for call in out.message.tool_calls:
            spec = specs.get(call.function)
            if spec is None:
                stats.outside_plan_calls += 1
                messages.append(ChatMessageTool(content=f"Tool {call.function} is not part of this plan.",
                                                tool_call_id=call.id, function=call.function))
                continue
            if call.parse_error or not isinstance(call.arguments, dict):
                stats.malformed += 1
                messages.append(ChatMessageTool(content=f"Invalid arguments: {call.parse_error}",
                                                tool_call_id=call.id, function=call.function))
                continue
            try:
                rec = await fleet.call(spec.server, spec.name, call.arguments)
            except ServerError as exc:
                infra.append(str(exc).splitlines()[0])
                messages.append(ChatMessageTool(content="The server failed; try again later.",
                                                tool_call_id=call.id, function=call.function))
                continue
            rec.run_id = plan.id
            calls.append(rec)
            step = steps[node_of[call.function]]
            step.attempts.append(rec)
            if not rec.is_error and rec.text().strip() and step.record is None:
                step.record = rec
            messages.append(ChatMessageTool(content=rec.text()[:4000] or "(empty result)", tool_call_id=call.id,
                                            function=call.function))
        if all(s.record is not None for s in steps.values()):
            break
    return Exploration(plan, [steps[i] for i in sorted(steps)], calls, infra)


async def synthesize_task_llm(exp: Exploration, tools: dict[tuple[str, str], ToolSpec], model: str | Model,
                              seed: int = 0, provenance: dict[str, Any] | None = None,
                              stats: LLMStats | None = None, **card_options: Any) -> Task | None:
    """Question written by a model; answer fields chosen among observed facts (gold from real results).

    ``card_options`` go to the card synthesizer, whose task is the fallback (it raises
    ``SynthesisDrop`` when the exploration gives no task). The model's question goes through the
    same verification (name leaks, stated arguments, answer leaks)."""
    stats = stats or LLMStats()
    base = synthesize_task(exp, tools, seed=seed, provenance=provenance, **card_options)  # also the fallback
    ok = exp.ok_steps
    if base is None or len(ok) < 2:
        return base
    facts = []
    lines = []
    for ci, step in enumerate(ok):
        rec = step.record
        assert rec is not None
        lines.append(f"call {ci}: {rec.server}/{rec.tool} arguments={json.dumps(rec.arguments)[:300]} "
                     f"result={rec.text()[:400]!r}")
        for f in extract_facts(rec):
            facts.append((rec, f))
            lines.append(f"  F{len(facts) - 1}: {f.description} = {json.dumps(f.value)}")
    prompt = ("These tool calls were made and returned real results:\n" + "\n".join(lines) +
              "\nWrite the request a user would send to an assistant that has these tools, so that answering it "
              "needs these calls. Rules: state a goal in plain language with only what the user knows (a file "
              "they name as a user would, an id, a date, an amount); never name a tool, a server or a parameter; "
              "no backticks, no 'name = value'; never state a value that one of the calls returned: refer to "
              "it by meaning ('the newest commit', 'that customer's city'). Choose 1-3 facts that are "
              "information the user wants (never an error, a line count, an acknowledgement, server info or "
              "the host environment) and name each field in the user's terms. Reply with JSON only: "
              '{"question": "...", "fields": [{"fact": "F0", "name": "snake_case_name", "description": "..."}]}')
    out = await _model(model).generate(prompt)
    data = json_object_in(out.completion)
    chosen = []
    if data and isinstance(data.get("question"), str) and isinstance(data.get("fields"), list):
        for f in data["fields"]:
            m = re.fullmatch(r"F(\d+)", str(f.get("fact", ""))) if isinstance(f, dict) else None
            if m and int(m.group(1)) < len(facts):
                chosen.append((facts[int(m.group(1))], f))
    if not data or len(chosen) < 2:
        stats.malformed += data is None
        stats.fallbacks += 1
        return base
    used: set[str] = set()
    props, answer, sources = {}, {}, {}
    for (rec, fact), spec in chosen[:6]:
        name = _field_name("", str(spec.get("name") or fact.key), used)
        props[name] = {"type": _json_type(fact.value), "description": str(spec.get("description") or fact.description)}
        answer[name] = fact.value
        sources[name] = {"call": rec.id, "key": fact.key}
    return Task.model_validate({**base.model_dump(), **{
        "id": "", "question": data["question"].strip(), "answer": answer,
        "answer_schema": {"type": "object", "properties": props, "required": list(props),
                          "additionalProperties": False},
        "answer_template": "\n".join(f"{n}: {{{n}}}" for n in props),
        "provenance": {**base.provenance, "synthesizer": getattr(_model(model), "name", str(model)),
                       "answer_sources": sources}}})
