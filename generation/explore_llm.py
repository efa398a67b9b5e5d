"""LLM explorer: any Inspect model (``openai/...``, ``vllm/...``, ``mockllm/model``) drives a tool-use loop
over exactly the plan's tools on the live fleet.

It is told the plan's structure and the seed world; calls outside the plan are refused and counted. A
text-only reply while steps are still uncovered is answered with a nudge naming them (counted); the loop
ends when every node has a successful call, after ``max_nudges`` text replies in a row, or when the turn
budget (``max_turns`` model calls) is spent, counted as ``turn_budget_spent`` when steps are left.
"""

from __future__ import annotations

from typing import Any

from inspect_ai.model import ChatMessageSystem, ChatMessageTool, ChatMessageUser, GenerateConfig, Model

from firefly_eval.agent_tools import exposed_name, tool_info
from firefly_eval.generation.explore import Exploration, StepResult
from firefly_eval.generation.graph import listed_concept, param_concept
from firefly_eval.generation.llm_stats import LLMStats, role_model
from firefly_eval.generation.sampling import flows_between
from firefly_eval.generation.values import extract_values
from firefly_eval.mcp.client import ServerError
from firefly_eval.mcp.fleet import Fleet
from firefly_eval.schema import Plan, ToolSpec
from firefly_eval.world import describe_world

__all__ = ["explore_plan_llm"]


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


def _nudge(plan: Plan, left: list[int]) -> str:
    names = ", ".join(f"step {i} `{exposed_name(*plan.nodes[i])}`" for i in left)
    return (f"Not every step has succeeded yet: {names}. Call them now (fix the arguments if a call failed, "
            "using values from earlier results). Reply without a tool call only if they cannot succeed.")


async def explore_plan_llm(  # noqa: C901 - one tool-use loop: refuse, parse, call, record, nudge
    plan: Plan, fleet: Fleet, model: str | Model, sandbox_of: dict[str, str], max_turns: int = 12,
    stats: LLMStats | None = None, max_nudges: int = 2, max_connections: int | None = None,
) -> Exploration:
    """Let a model explore the plan on live servers; every call is recorded, every model call counted."""
    stats = stats or LLMStats()
    llm = role_model(model, "explorer")
    config = GenerateConfig(temperature=0, max_connections=max_connections)
    specs = {exposed_name(s, n): fleet.tools[(s, n)] for s, n in plan.nodes if (s, n) in fleet.tools}
    infos = [tool_info(t) for t in specs.values()]
    node_of = {exposed_name(s, n): i for i, (s, n) in enumerate(plan.nodes)}
    steps = {i: StepResult(i, None) for i in range(len(plan.nodes))}
    calls, infra = [], []
    messages: list[Any] = [ChatMessageSystem(content="You are exploring APIs to record how they behave."),
                           ChatMessageUser(content=_plan_text(plan, fleet.tools, sandbox_of))]
    text_in_a_row = 0

    def left() -> list[int]:
        return [i for i, s in sorted(steps.items()) if s.record is None]

    for _ in range(max_turns):
        out = await llm.generate(messages, tools=infos, config=config)
        stats.record("explore", out)
        messages.append(out.message)
        if not out.message.tool_calls:
            text_in_a_row += 1
            if text_in_a_row > max_nudges:
                break
            stats.nudges += 1
            messages.append(ChatMessageUser(content=_nudge(plan, left())))
            continue
        text_in_a_row = 0
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
        if not left():
            break
    else:
        if left():
            stats.turn_budget_spent += 1
    _mark_flows(plan, steps, fleet)
    return Exploration(plan, [steps[i] for i in sorted(steps)], calls, infra)


def _mark_flows(plan: Plan, steps: dict[int, StepResult], fleet: Fleet) -> None:
    """The arguments the model took from a predecessor's result (a table the listing gave): the same
    data flows the offline explorer records in ``StepResult.bound``, for the synthesizer's references."""
    for node, step in steps.items():
        if step.record is None:
            continue
        tool = fleet.tools.get(plan.nodes[node])
        props = (tool.input_schema.get("properties") or {}) if tool else {}
        for src, dst in plan.edges:
            prev = steps.get(src)
            if dst != node or prev is None or prev.record is None:
                continue
            prev_tool = fleet.tools.get(plan.nodes[src])
            found = extract_values(prev.record.result, listed_concept(prev_tool) if prev_tool else None)
            for param, value in step.record.arguments.items():
                sch = props.get(param) if isinstance(props.get(param), dict) else {}
                concept = param_concept(param, sch)
                if param not in step.bound and value in found.get(concept or "", []) and flows_between(
                        concept, prev.record.server, step.record.server, value) and concept != "text":
                    step.bound[param] = src
