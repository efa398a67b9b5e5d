"""Dataset rows -> GRPO prompts with the task's tool list and answer fields."""

from __future__ import annotations

import json
from typing import Any

from firefly_eval.agent_tools import exposed_name
from firefly_eval.schema import Task, ToolSpec

__all__ = ["SYSTEM", "task_to_row"]

SYSTEM = ("You solve tasks by calling tools. Use `call_tool` with a tool name from the list and JSON arguments; "
          "when you know every answer field, call `submit` with a JSON object.")


def task_to_row(task: Task, tools: dict[tuple[str, str], ToolSpec]) -> dict[str, Any]:
    """One training row: chat prompt plus the columns the environment needs."""
    lines = []
    for key in dict.fromkeys(map(tuple, task.tools)):
        spec = tools.get(key)
        if spec is None:
            continue
        params = json.dumps(spec.input_schema.get("properties", {}))[:600]
        lines.append(f"- {exposed_name(*key)}: {spec.description.splitlines()[0][:160] if spec.description else ''}"
                     f" parameters: {params}")
    fields = ", ".join(f"{k} ({v.get('type', 'any')}): {v.get('description', '')}"
                       for k, v in task.answer_schema.get("properties", {}).items())
    user = f"{task.question}\n\nTools:\n" + "\n".join(lines) + f"\n\nAnswer fields: {fields}"
    return {
        "prompt": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
        "task_id": task.id,
        "answer_json": json.dumps(task.answer),
        "schema_json": json.dumps(task.answer_schema),
        "tools_json": json.dumps([list(t) for t in task.tools]),
    }
