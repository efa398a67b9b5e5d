"""LLM helpers for the simulator: adapt a near-match result, or write a result for a miss.

Both take any Inspect model. Their outputs are tagged in the result's ``_meta``
(``firefly/adapted`` / ``firefly/simulated``) and in the provenance tier, so no simulated
success can pass for a recorded one.
"""

from __future__ import annotations

import json
from typing import Any

from inspect_ai.model import Model, get_model

from firefly_eval.schema import CallRecord

__all__ = ["llm_adapter", "llm_simulator"]


def _as_result(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text.strip()}], "isError": False}


def llm_adapter(model: str | Model):
    """Async ``adapt_fn(record, arguments)``: rewrite a recorded result for slightly different arguments."""
    llm = get_model(model) if isinstance(model, str) else model

    async def adapt(record: CallRecord, arguments: dict[str, Any]) -> dict[str, Any]:
        prompt = (f"A tool `{record.tool}` (server {record.server}) was called with arguments "
                  f"{json.dumps(record.arguments)} and returned:\n{record.text()[:3000]}\n\n"
                  f"Now it is called with {json.dumps(arguments)}. Write the result it would return, changing only "
                  "what depends on the changed arguments. Reply with the result text only.")
        return _as_result((await llm.generate(prompt)).completion)

    return adapt


def llm_simulator(model: str | Model, describe: Any = None):
    """Async ``simulate_fn(server, tool, arguments)`` for the ``simulate`` miss policy."""
    llm = get_model(model) if isinstance(model, str) else model

    async def simulate(server: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        about = describe(server, tool) if describe else ""
        prompt = (f"Simulate the MCP tool `{tool}` of server {server}. {about}\nArguments: {json.dumps(arguments)}\n"
                  "Reply with the result text the real tool would most plausibly return, nothing else.")
        return _as_result((await llm.generate(prompt)).completion)

    return simulate
