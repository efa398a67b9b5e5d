"""LLM helpers for the simulator: adapt a near-match result, or write a result for a miss.

Both take any Inspect model and are retrieval-augmented: the prompt carries the tool's
description and input/output schemas, the nearest recorded calls of that tool with their
results (errors included) and, for stateful servers, the episode's earlier calls. The model
answers with a JSON object and may return an error (``isError: true``). Generation runs at
temperature 0 and results are cached by (tool, canonical arguments, history key, model[,
neighbour]) so every epoch sees the same world. Outputs are tagged in the result's ``_meta``
and in the provenance tier (``adapted`` / ``simulated``), so no invented result can pass for a
recorded one.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from inspect_ai.model import GenerateConfig, Model, get_model

from firefly_eval.schema import CallRecord, canonical_json
from firefly_eval.simulator.simulator import MissContext

__all__ = ["LLMAdapter", "LLMSimulator", "build_prompt", "llm_adapter", "llm_simulator", "parse_result"]

_MAX_RESULT = 1500
_REPLY = ('Reply with one JSON object and nothing else: {"isError": <true if the tool would fail>, '
          '"text": "<the result text>", "structuredContent": <an object matching the output schema, or null>}.')


def _clip(text: str, n: int = _MAX_RESULT) -> str:
    return text if len(text) <= n else text[:n] + " …[truncated]"


def _result_json(result: dict[str, Any]) -> str:
    texts = [str(b.get("text", "")) for b in result.get("content") or [] if isinstance(b, dict) and b.get("type") == "text"]
    out: dict[str, Any] = {"isError": bool(result.get("isError")), "text": _clip("\n".join(texts))}
    sc = result.get("structuredContent")
    if sc is not None:
        out["structuredContent"] = sc if len(json.dumps(sc, ensure_ascii=False)) <= 4000 else "…[too long]"
    return json.dumps(out, ensure_ascii=False)


def build_prompt(ctx: MissContext, record: CallRecord | None = None) -> str:
    """The retrieval-augmented prompt for one call (``record``: the neighbour to adapt, if any)."""
    lines = [f"You simulate the MCP tool `{ctx.tool}` of the server `{ctx.server}`, answering exactly as the "
             "real tool would."]
    if ctx.spec is not None:
        if ctx.spec.description:
            lines.append(f"Tool description: {_clip(ctx.spec.description, 2000)}")
        lines.append(f"Input schema: {json.dumps(ctx.spec.input_schema, ensure_ascii=False)}")
        if ctx.spec.output_schema:
            lines.append(f"Output schema: {json.dumps(ctx.spec.output_schema, ensure_ascii=False)}")
    if ctx.neighbours:
        lines.append("Recorded real calls of this tool (arguments -> result):")
        for m in ctx.neighbours:
            lines.append(f"- {canonical_json(m.record.arguments)} -> {_result_json(m.record.result)}")
    if ctx.earlier:
        lines.append("Earlier calls on this server in the same session (they may have changed its state):")
        for c in ctx.earlier:
            lines.append(f"- {c['tool']} {canonical_json(c['arguments'])} -> {_result_json(c['result'])}")
    if record is not None:
        lines.append(f"The closest recorded call was {canonical_json(record.arguments)} -> {_result_json(record.result)}. "
                     "Rewrite that result for the new arguments, changing only what depends on what changed; keep "
                     "it an error if the new call would fail the same way.")
    lines.append(f"Now the tool is called with: {canonical_json(ctx.arguments)}")
    lines.append("If these arguments would make the real tool fail (unknown id, missing file, invalid value), "
                 "return the error it would return.")
    lines.append(_REPLY)
    return "\n".join(lines)


def parse_result(text: str, default_error: bool = False) -> dict[str, Any]:
    """An MCP result from the model's reply (JSON object; plain text is taken as the result text)."""
    body = text.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", body, re.DOTALL)
    if fence:
        body = fence.group(1).strip()
    data: Any = None
    start, end = body.find("{"), body.rfind("}")
    if start != -1 and end > start:
        try:
            data = json.loads(body[start:end + 1])
        except ValueError:
            data = None
    if not isinstance(data, dict) or not ({"text", "isError", "structuredContent"} & set(data)):
        return {"content": [{"type": "text", "text": text.strip()}], "isError": default_error}
    content = data.get("text")
    if not isinstance(content, str):
        content = json.dumps(content, ensure_ascii=False) if content is not None else ""
    out: dict[str, Any] = {"content": [{"type": "text", "text": content}],
                           "isError": bool(data.get("isError", default_error))}
    if isinstance(data.get("structuredContent"), dict):
        out["structuredContent"] = data["structuredContent"]
    return out


class _Cached:
    """One Inspect model at temperature 0, with results cached per call key."""

    def __init__(self, model: str | Model) -> None:
        self.llm = get_model(model) if isinstance(model, str) else model
        self.name = str(self.llm)
        self.cache: dict[tuple[str, ...], dict[str, Any]] = {}
        self._pending: dict[tuple[str, ...], asyncio.Future[dict[str, Any]]] = {}

    async def get(self, key: tuple[str, ...], prompt: str, default_error: bool) -> dict[str, Any]:
        if key in self.cache:
            return self.cache[key]
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[key] = fut
        try:
            out = await self.llm.generate(prompt, config=GenerateConfig(temperature=0.0))
            result = parse_result(out.completion, default_error)
            self.cache[key] = result
            fut.set_result(result)
            return result
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: no "never retrieved" warning when nobody else waits
            raise
        finally:
            self._pending.pop(key, None)


def _key(ctx: MissContext, model: str, *extra: str) -> tuple[str, ...]:
    return (ctx.server, ctx.tool, canonical_json(ctx.arguments), ctx.history_key, model, *extra)


class LLMAdapter:
    """``adapt_fn(record, ctx)``: rewrite the nearest recorded result for the new arguments.

    A recorded error stays an error unless the model says otherwise; structured content is
    rewritten (or dropped) with the text, never left stale.
    """

    def __init__(self, model: str | Model) -> None:
        self._model = _Cached(model)
        self.cache = self._model.cache

    async def __call__(self, record: CallRecord, ctx: MissContext) -> dict[str, Any]:
        is_error = bool(record.is_error or record.result.get("isError"))
        return await self._model.get(_key(ctx, self._model.name, record.id), build_prompt(ctx, record), is_error)


class LLMSimulator:
    """``simulate_fn(ctx)`` for the ``simulate`` miss policy."""

    def __init__(self, model: str | Model) -> None:
        self._model = _Cached(model)
        self.cache = self._model.cache

    async def __call__(self, ctx: MissContext) -> dict[str, Any]:
        return await self._model.get(_key(ctx, self._model.name), build_prompt(ctx), False)


def llm_adapter(model: str | Model) -> LLMAdapter:
    """The LLM adapter for ``Simulator(adapt_fn=...)``."""
    return LLMAdapter(model)


def llm_simulator(model: str | Model, describe: Any = None) -> LLMSimulator:
    """The LLM miss policy for ``Simulator(simulate_fn=...)`` (``describe`` is unused: the context
    carries the tool's spec)."""
    del describe
    return LLMSimulator(model)
