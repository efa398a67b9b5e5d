"""Simulator-backed tool-use loop with a schema-validated ``submit`` tool.

Each turn the model sees the task's tools (real names/descriptions/schemas) plus ``submit``
whose parameters are the task's answer schema. Tool calls are answered by the simulator;
every answer's provenance (tier, score, source record) goes to the sample's metadata and
the transcript. An invalid submission gets the validation error back and may retry.
"""

from __future__ import annotations

from typing import Any

from inspect_ai.log import transcript
from inspect_ai.model import ChatMessageSystem, ChatMessageTool, ChatMessageUser, get_model
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.tool import ToolCallError

from firefly_eval.schema import ToolSpec
from firefly_eval.simulator import Simulator
from firefly_eval.tasks.heldout.interface import (
    NUDGE,
    SUBMIT,
    SUBMITTED,
    SYSTEM_PROMPT,
    ToolInterface,
    result_text,
    unknown_tool_text,
)

__all__ = ["SYSTEM_PROMPT", "SimulatorInfraError", "firefly_agent"]


class SimulatorInfraError(RuntimeError):
    """The simulator itself failed: the sample errors (never scored)."""


@solver
def firefly_agent(simulator: Simulator, tools_for: Any, max_turns: int = 20, max_nudges: int = 2) -> Solver:
    """The agent loop. ``tools_for(sample_id) -> list[ToolSpec]`` gives each sample's tools."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        specs: list[ToolSpec] = tools_for(state.sample_id)
        interface = ToolInterface(tuple(specs), state.metadata["answer_schema"])
        by_name = interface.by_name
        infos = interface.infos()
        episode = simulator.episode()
        state.messages.insert(0, ChatMessageSystem(content=SYSTEM_PROMPT))
        model = get_model()
        calls: list[dict[str, Any]] = []
        answer: dict[str, Any] | None = None
        invalid_submits = 0
        nudges = 0
        for _turn in range(max_turns):
            output = await model.generate(state.messages, tools=infos)
            state.output = output
            state.messages.append(output.message)
            tool_calls = output.message.tool_calls or []
            if not tool_calls:
                if nudges >= max_nudges:
                    break
                nudges += 1
                state.messages.append(ChatMessageUser(content=NUDGE))
                continue
            for call in tool_calls:
                args = call.arguments if isinstance(call.arguments, dict) else {}
                if call.function == SUBMIT:
                    msg = interface.submission_error(args, call.parse_error)
                    if msg is not None:
                        invalid_submits += 1
                        state.messages.append(ChatMessageTool(
                            content=f"Invalid submission: {msg}", tool_call_id=call.id, function=SUBMIT,
                            error=ToolCallError("parsing", f"Invalid submission: {msg}")))
                        continue
                    answer = args
                    state.messages.append(ChatMessageTool(content=SUBMITTED, tool_call_id=call.id,
                                                          function=SUBMIT))
                    break
                spec = by_name.get(call.function)
                if spec is None:
                    ans_text, err = unknown_tool_text(call.function), True
                    calls.append({"tool": call.function, "tier": "unknown_tool", "score": 0.0, "source_id": ""})
                elif call.parse_error:
                    ans_text, err = f"Invalid arguments: {call.parse_error}", True
                    calls.append({"tool": call.function, "tier": "invalid", "score": 0.0, "source_id": ""})
                else:
                    ans = await episode.acall(spec.server, spec.name, call.arguments)
                    if ans.tier == "error":
                        raise SimulatorInfraError(result_text(ans.result))
                    ans_text, err = result_text(ans.result), ans.is_error
                    calls.append({"server": spec.server, "tool": spec.name, "arguments": call.arguments,
                                  **ans.provenance})
                    transcript().info({"simulator": ans.provenance, "tool": spec.name, "server": spec.server},
                                      source="firefly simulator")
                state.messages.append(ChatMessageTool(
                    content=ans_text, tool_call_id=call.id, function=call.function,
                    error=ToolCallError("unknown", ans_text[:500]) if err else None))
            if answer is not None:
                break
        state.metadata["firefly_answer"] = answer
        state.metadata["firefly_calls"] = calls
        state.metadata["firefly_invalid_submits"] = invalid_submits
        state.completed = True
        return state

    return solve
