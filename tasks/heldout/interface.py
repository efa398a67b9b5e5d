"""The tool interface a policy sees on a FireFly task, built once for evaluation and for training.

``firefly_eval/heldout``'s agent (:mod:`firefly_eval.tasks.heldout.agent`) and the GRPO environment
(:mod:`firefly_eval.training.env`) both build a :class:`ToolInterface` from the same tool specs: each
real tool under its exposed name with its own JSON schema, plus a ``submit`` tool whose parameters
are the task's answer schema, the same system prompt, the same messages for unknown tools and
invalid submissions, and the same rendering of a tool result into text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from inspect_ai.tool import ToolInfo
from jsonschema import Draft202012Validator

from firefly_eval.agent_tools import SUBMIT, exposed_name, submit_info, tool_info
from firefly_eval.schema import Task, ToolSpec
from firefly_eval.tasks.heldout.dataset import task_tools

__all__ = ["NUDGE", "SUBMIT", "SUBMITTED", "SYSTEM_PROMPT", "ToolInterface", "build_interface", "result_text",
           "truncate_text", "unknown_tool_text"]

SYSTEM_PROMPT = (
    "You are a careful assistant with access to tools. Use the tools to find the facts the user asks "
    "for; never guess values you have not seen in a tool result. When you have every fact, call the "
    "`submit` tool once with all fields filled."
)
NUDGE = "Please continue: use the tools, then call `submit` with your final answer."
SUBMITTED = "Answer submitted."


def unknown_tool_text(name: str) -> str:
    """The result text for a call to a tool the task does not offer."""
    return f"Unknown tool: {name}"


def result_text(result: dict[str, Any]) -> str:
    """Render an MCP result as the model reads it: text blocks, placeholders for other blocks,
    ``structuredContent`` as JSON when there is no content block."""
    parts = []
    for block in result.get("content", []) or []:
        if block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        else:
            parts.append(f"[{block.get('type', 'content')} content]")
    if not parts and result.get("structuredContent") is not None:
        parts.append(json.dumps(result["structuredContent"], ensure_ascii=False))
    return "\n".join(parts)


def truncate_text(text: str, max_bytes: int | None) -> str:
    """Cut ``text`` to ``max_bytes`` UTF-8 bytes (``None``: unchanged), saying that it was cut."""
    raw = text.encode("utf-8")
    if max_bytes is None or len(raw) <= max_bytes:
        return text
    kept = raw[:max_bytes].decode("utf-8", errors="ignore")
    return f"{kept}\n[output truncated: {len(raw)} bytes, showing the first {max_bytes}]"


@dataclass(frozen=True)
class ToolInterface:
    """The tools one task offers (real tools plus the typed ``submit``) and its submission check."""

    specs: tuple[ToolSpec, ...]
    answer_schema: dict[str, Any]

    @cached_property
    def by_name(self) -> dict[str, ToolSpec]:
        """Exposed tool name -> its spec (``submit`` excluded)."""
        return {exposed_name(t.server, t.name): t for t in self.specs}

    def infos(self) -> list[ToolInfo]:
        """The Inspect tool definitions handed to ``model.generate``: the real tools, then ``submit``."""
        return [tool_info(t) for t in self.specs] + [submit_info(self.answer_schema)]

    def chat_tools(self) -> list[dict[str, Any]]:
        """The same definitions as chat-template tools (the OpenAI function format Inspect sends to vLLM)."""
        return [{"type": "function", "function": {"name": i.name, "description": i.description,
                                                  "parameters": i.parameters.model_dump(exclude_none=True)}}
                for i in self.infos()]

    @cached_property
    def _validator(self) -> Draft202012Validator:
        return Draft202012Validator(self.answer_schema)

    def submission_error(self, answer: Any, parse_error: str | None = None) -> str | None:
        """Why a ``submit`` call is rejected (``None``: accepted); the first schema error by path."""
        errors = sorted(self._validator.iter_errors(answer), key=lambda e: list(e.path))
        if not errors and not parse_error:
            return None
        return parse_error or f"{'.'.join(map(str, errors[0].path)) or 'answer'}: {errors[0].message}"


def build_interface(task: Task, tools: dict[tuple[str, str], ToolSpec], mode: str) -> ToolInterface:
    """The interface of ``task`` with ``mode`` = ``task``, ``servers`` or ``distractors:N`` (as the harness)."""
    return ToolInterface(tuple(task_tools(task, tools, mode)), task.answer_schema)
