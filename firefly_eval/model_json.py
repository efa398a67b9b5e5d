"""JSON replies from models: structured output where the provider supports it, a tolerant parser otherwise.

``generate_json`` asks for a reply that follows a JSON schema through Inspect's ``ResponseSchema``
(OpenAI, vLLM and other OpenAI-compatible servers, Google, Mistral, Grok, Groq, ... enforce it;
providers without structured output ignore it) at temperature 0, and parses whatever comes back
with ``json_object_in``, which tries each balanced ``{...}`` object in the text in turn (prose,
code fences, a thinking block with braces or two objects around the answer are all tolerated).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from inspect_ai.model import Model, ModelOutput

__all__ = ["balanced_objects", "generate_json", "json_object_in", "json_config"]


def _closing(text: str, i: int) -> int:
    """Index of the ``}`` that closes the ``{`` at ``i`` (braces inside JSON strings skipped), or -1."""
    depth, in_str, esc = 0, False, False
    for j in range(i, len(text)):
        ch = text[j]
        if in_str:
            esc, in_str = (False, True) if esc else (ch == "\\", ch != '"')
        elif ch == '"':
            in_str = True
        elif ch in "{}":
            depth += 1 if ch == "{" else -1
            if depth == 0:
                return j
    return -1


def balanced_objects(text: str) -> Iterator[str]:
    """Every balanced ``{...}`` span of ``text`` (outermost first, left to right); braces inside
    JSON strings do not count. An unbalanced ``{`` is skipped and the scan resumes after it; nested
    objects are candidates too (a reply wrapped in prose braces)."""
    i = text.find("{")
    while i >= 0:
        end = _closing(text, i)
        if end >= 0:
            yield text[i:end + 1]
        i = text.find("{", i + 1)


def json_object_in(text: str, accept: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any] | None:
    """The first balanced JSON object in ``text`` that parses (and that ``accept`` approves), or None."""
    for span in balanced_objects(text):
        try:
            data = json.loads(span)
        except ValueError:
            continue
        if isinstance(data, dict) and (accept is None or accept(data)):
            return data
    return None


def json_config(name: str, schema: dict[str, Any], max_connections: int | None = None) -> Any:
    """Inspect ``GenerateConfig`` for a deterministic JSON reply following ``schema``."""
    from inspect_ai.model import GenerateConfig, ResponseSchema
    from inspect_ai.util import JSONSchema

    return GenerateConfig(temperature=0, max_connections=max_connections,
                          response_schema=ResponseSchema(name=name, json_schema=JSONSchema.model_validate(schema)))


async def generate_json(model: Model, prompt: str, name: str, schema: dict[str, Any],
                        accept: Callable[[dict[str, Any]], bool] | None = None,
                        max_connections: int | None = None) -> tuple[dict[str, Any] | None, ModelOutput]:
    """Ask ``model`` for a JSON object following ``schema``; (parsed object or None, the raw output)."""
    out = await model.generate(prompt, config=json_config(name, schema, max_connections))
    return json_object_in(out.completion, accept), out
