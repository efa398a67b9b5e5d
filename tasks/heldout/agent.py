"""Simulator-backed tool-use loop with a schema-validated ``submit`` tool.

Each turn the model sees the task's tools (real names/descriptions/schemas) plus ``submit``
whose parameters are the task's answer schema. Tool calls are answered by the simulator;
every answer's provenance (tier, score, source record) goes to the sample's metadata and
the transcript. An invalid submission gets the validation error back and may retry.
"""

from __future__ import annotations

import json
from typing import Any

from inspect_ai.log import transcript
from inspect_ai.model import ChatMessageSystem, ChatMessageTool, ChatMessageUser, get_model
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.tool import ToolCallError
from jsonschema import Draft202012Validator

from firefly_eval.agent_tools import SUBMIT, exposed_name, submit_info, tool_info
from firefly_eval.schema import ToolSpec
from firefly_eval.simulator import Simulator

__all__ = ["SYSTEM_PROMPT", "SimulatorInfraError", "firefly_agent"]

SYSTEM_PROMPT = (
    "You are a careful assistant with access to tools. Use the tools to find the facts the user asks "
    "for; never guess values you have not seen in a tool result. When you have every fact, call the "
    "`submit` tool once with all fields filled."
)
_NUDGE = "Please continue: use the tools, then call `submit` with your final answer."


class SimulatorInfraError(RuntimeError):
    """The simulator itself failed: the sample errors (never scored)."""


def _result_text(result: dict[str, Any]) -> str:
    parts = []
    for block in result.get("content", []) or []:
        if block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        else:
            parts.append(f"[{block.get('type', 'content')} content]")
    if not parts and result.get("structuredContent") is not None:
        parts.append(json.dumps(result["structuredContent"], ensure_ascii=False))
    return "\n".join(parts)


@solver
def firefly_agent(simulator: Simulator, tools_for: Any, max_turns: int = 20, max_nudges: int = 2) -> Solver:
    """The agent loop. ``tools_for(sample_id) -> list[ToolSpec]`` gives each sample's tools."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        specs: list[ToolSpec] = tools_for(state.sample_id)
        by_name = {exposed_name(t.server, t.name): t for t in specs}
        schema = state.metadata["answer_schema"]
        validator = Draft202012Validator(schema)
        infos = [tool_info(t) for t in specs] + [submit_info(schema)]
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
                state.messages.append(ChatMessageUser(content=_NUDGE))
                continue
            for call in tool_calls:
                args = call.arguments if isinstance(call.arguments, dict) else {}
                if call.function == SUBMIT:
                    errors = sorted(validator.iter_errors(args), key=lambda e: list(e.path))
                    if errors or call.parse_error:
                        invalid_submits += 1
                        msg = call.parse_error or f"{'.'.join(map(str, errors[0].path)) or 'answer'}: {errors[0].message}"
                        state.messages.append(ChatMessageTool(
                            content=f"Invalid submission: {msg}", tool_call_id=call.id, function=SUBMIT,
                            error=ToolCallError("parsing", f"Invalid submission: {msg}")))
                        continue
                    answer = args
                    state.messages.append(ChatMessageTool(content="Answer submitted.", tool_call_id=call.id,
                                                          function=SUBMIT))
                    break
                spec = by_name.get(call.function)
                if spec is None:
                    ans_text, err = f"Unknown tool: {call.function}", True
                    calls.append({"tool": call.function, "tier": "unknown_tool", "score": 0.0, "source_id": ""})
                elif call.parse_error:
                    ans_text, err = f"Invalid arguments: {call.parse_error}", True
                    calls.append({"tool": call.function, "tier": "invalid", "score": 0.0, "source_id": ""})
                else:
                    ans = await episode.acall(spec.server, spec.name, call.arguments)
                    if ans.tier == "error":
                        raise SimulatorInfraError(_result_text(ans.result))
                    ans_text, err = _result_text(ans.result), ans.is_error
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
