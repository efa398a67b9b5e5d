"""LLM synthesizer: any Inspect model writes the question and picks the answer fields from *observed facts*
(numbered), so gold values still come from real results, never from the model.

The reply is asked for as structured output (``ResponseSchema``, temperature 0) and parsed tolerantly; a
malformed reply, or one naming fewer than two observed facts, falls back to the card synthesizer's task
and is counted.
"""

from __future__ import annotations

import json
import re
from typing import Any

from inspect_ai.model import Model

from firefly_eval.generation.explore import Exploration
from firefly_eval.generation.llm_stats import LLMStats, role_model
from firefly_eval.generation.synthesize import _field_name, _json_type, extract_facts, synthesize_task
from firefly_eval.model_json import generate_json
from firefly_eval.schema import Task, ToolSpec

__all__ = ["REPLY_SCHEMA", "synthesize_task_llm"]

REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "question": {"type": "string"},
        "fields": {"type": "array", "items": {
            "type": "object",
            "properties": {"fact": {"type": "string"}, "name": {"type": "string"}, "description": {"type": "string"}},
            "required": ["fact", "name", "description"], "additionalProperties": False}},
    },
    "required": ["question", "fields"], "additionalProperties": False,
}


def _shaped(data: dict[str, Any]) -> bool:
    return isinstance(data.get("question"), str) and isinstance(data.get("fields"), list)


async def synthesize_task_llm(exp: Exploration, tools: dict[tuple[str, str], ToolSpec], model: str | Model,
                              seed: int = 0, provenance: dict[str, Any] | None = None,
                              stats: LLMStats | None = None, max_connections: int | None = None,
                              **card_options: Any) -> Task | None:
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
    llm = role_model(model, "synthesizer")
    data, out = await generate_json(llm, prompt, "task", REPLY_SCHEMA, accept=_shaped,
                                    max_connections=max_connections)
    stats.record("synthesize", out)
    chosen = []
    if data:
        for f in data["fields"]:
            m = re.fullmatch(r"F(\d+)", str(f.get("fact", "")).strip()) if isinstance(f, dict) else None
            if m and int(m.group(1)) < len(facts):
                chosen.append((facts[int(m.group(1))], f))
    if not data or not chosen:
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
        "provenance": {**base.provenance, "synthesizer": str(llm),
                       "answer_sources": sources}}})
