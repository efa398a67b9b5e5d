"""Dataset rows -> GRPO prompts: the harness's system prompt and question; tools come from the interface."""

from __future__ import annotations

from typing import Any

from firefly_eval.schema import Task
from firefly_eval.tasks.heldout.interface import SYSTEM_PROMPT

__all__ = ["task_to_row"]


def task_to_row(task: Task) -> dict[str, Any]:
    """One training row: the chat prompt the harness builds, the task id, and the environment it routes to.

    The tool list is not in the text: TRL renders each row's tools (``environment`` = task id) with the
    chat template, as an inference server renders the tools Inspect sends.
    """
    return {
        "prompt": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": task.question}],
        "task_id": task.id,
        "environment": task.id,
    }
