"""Backward synthesis: answer schema, gold answer, template and question from observed calls.

The offline template synthesizer picks answer facts from the executed calls' results
(the sink calls first, plus one upstream call so the answer needs the chain), and writes
the question from the tools' descriptions and the argument values, never from the facts.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from firefly_eval.generation.explore import Exploration
from firefly_eval.generation.values import parse_result
from firefly_eval.grading import normalize_text
from firefly_eval.schema import CallRecord, Task, ToolSpec, canonical_json

__all__ = ["Fact", "extract_facts", "synthesize_task", "value_in_text"]

_VOLATILE_KEY = re.compile(r"(time|date|timestamp|created|updated|modified|uuid|session|token|elapsed|duration|"
                           r"random|nonce|expires|version|pid|hash|sha|checksum|stamp|_at$)", re.IGNORECASE)
_UUIDISH = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}|[0-9a-f]{32,}|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", re.IGNORECASE)
_FIELD = re.compile(r"[^a-z0-9]+")


@dataclass
class Fact:
    key: str  # stable path inside the result, e.g. "rows[0].name" or "text"
    value: Any
    description: str


def _coerce(v: Any) -> Any:
    if isinstance(v, str):
        s = v.strip()
        if re.fullmatch(r"-?\d+", s) and len(s) < 16:
            return int(s)
        if re.fullmatch(r"-?\d+\.\d+", s) and len(s) < 20:
            return float(s)
        return s
    return v


def _ok_value(v: Any) -> bool:
    if isinstance(v, bool) or v is None:
        return False
    if isinstance(v, str):
        return (1 <= len(v) <= 80 and not _UUIDISH.search(v) and "\n" not in v and v.isprintable()
                and "\ufffd" not in v)
    return isinstance(v, (int, float))


def _arg_values(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {x for v in value.values() for x in _arg_values(v)}
    if isinstance(value, list):
        return {x for v in value for x in _arg_values(v)}
    return {normalize_text(str(_coerce(value)))}


def value_in_text(value: Any, padded: str) -> bool:
    """Whether ``value`` shows in ``padded`` (normalized text with a space at each end): a string
    of 3+ characters as whole words, a number of 10 or more as a token; booleans never."""
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        nv = normalize_text(value)
        return len(nv) >= 3 and f" {nv} " in padded
    if isinstance(value, int) and abs(value) >= 10:
        return f" {normalize_text(str(value))} " in padded  # any size (a factorial overflows a float)
    if isinstance(value, float) and abs(value) >= 10:
        return f" {normalize_text(str(int(value) if value.is_integer() else value))} " in padded
    return False


def extract_facts(rec: CallRecord) -> list[Fact]:
    """Stable, checkable facts of a result that do not merely echo the call's arguments."""
    echoes = _arg_values(rec.arguments)
    return [f for f in _raw_facts(rec) if normalize_text(str(f.value)) not in echoes]


def _text_facts(prefix: str, text: str, tool: str) -> list[Fact]:
    text = text.strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    where = f" of `{prefix}`" if prefix else ""
    if _ok_value(text) and not _UUIDISH.search(text):
        return [Fact(prefix or "text", _coerce(text), f"the exact {prefix or 'result'} returned by {tool}")]
    facts = []
    if lines:
        facts.append(Fact(f"{prefix}lines" if not prefix else f"{prefix}.lines", len(lines),
                          f"how many non-empty lines{where} {tool} returns"))
        if _ok_value(lines[0]):
            facts.append(Fact(f"{prefix}line[0]" if not prefix else f"{prefix}.line[0]", _coerce(lines[0]),
                              f"the first non-empty line{where} {tool} returns"))
    return facts


def _raw_facts(rec: CallRecord) -> list[Fact]:
    data = parse_result(rec.result)
    facts: list[Fact] = []
    if isinstance(data, dict):
        for k, v in list(data.items())[:20]:
            if _VOLATILE_KEY.search(str(k)):
                continue
            if _ok_value(v):
                facts.append(Fact(str(k), _coerce(v), f"the `{k}` value returned by {rec.tool}"))
            elif isinstance(v, list):
                facts.append(Fact(f"len({k})", len(v), f"how many `{k}` entries {rec.tool} returns"))
            elif isinstance(v, str) and v.strip():
                facts.extend(_text_facts(str(k), v, rec.tool))
    elif isinstance(data, list):
        facts.append(Fact("len", len(data), f"how many items {rec.tool} returns"))
        if data and isinstance(data[0], dict):
            for k, v in list(data[0].items())[:6]:
                if not _VOLATILE_KEY.search(str(k)) and _ok_value(v):
                    facts.append(Fact(f"[0].{k}", _coerce(v), f"the `{k}` of the first item {rec.tool} returns"))
        elif data and _ok_value(data[0]):
            facts.append(Fact("[0]", _coerce(data[0]), f"the first item {rec.tool} returns"))
    elif isinstance(data, str):
        facts.extend(_text_facts("", data, rec.tool))
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        facts.append(Fact("value", data, f"the number {rec.tool} returns"))
    return facts


def fact_value(rec: CallRecord, key: str) -> Any:
    """Recompute the value of one fact from a (replayed) record; None when it is gone."""
    for f in extract_facts(rec):
        if f.key == key:
            return f.value
    return None


def _field_name(tool: str, key: str, used: set[str]) -> str:
    base = _FIELD.sub("_", f"{tool}_{key}".lower()).strip("_")[:48] or "value"
    name, i = base, 2
    while name in used:
        name, i = f"{base}_{i}", i + 1
    used.add(name)
    return name


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    return "string"


def _phrase(tool: ToolSpec | None, rec: CallRecord) -> str:
    desc = (tool.description if tool else "").strip().split("\n")[0]
    desc = re.split(r"(?<=[.!?])\s", desc)[0].rstrip(".") if desc else ""
    args = ", ".join(f"{k} = {canonical_json(v)}" for k, v in rec.arguments.items())
    what = desc[0].lower() + desc[1:] if desc else f"run {rec.tool}"
    return f"use `{rec.tool}` on the {rec.server} server ({what})" + (f" with {args}" if args else "")


_OPENERS = [
    "I need a few facts from our tools.",
    "Please look this up with the available tools.",
    "Help me check something using the tools you have.",
    "Answer using only what the tools return.",
]
_LINKS = ["First, {}.", "Then {}.", "After that, {}.", "Finally, {}."]


def synthesize_task(exp: Exploration, tools: dict[tuple[str, str], ToolSpec], seed: int = 0,
                    provenance: dict[str, Any] | None = None, max_fields: int = 4) -> Task | None:
    """Write one task backward from an exploration; None when there is nothing checkable."""
    rng = random.Random(f"{seed}:{exp.plan.id}:synth")
    ok = exp.ok_steps
    if len(ok) < 2:
        return None
    sinks = {d for _, d in exp.plan.edges} - {s for s, _ in exp.plan.edges}
    ordered = sorted(ok, key=lambda s: (s.node not in sinks, -s.node))
    reference = [s.record for s in ok]  # call order (topological)
    sentences = [rng.choice(_OPENERS)]
    for i, rec in enumerate(reference):  # type: ignore[assignment]
        link = _LINKS[0] if i == 0 else (_LINKS[-1] if i == len(reference) - 1 else rng.choice(_LINKS[1:3]))
        sentences.append(link.format(_phrase(tools.get((rec.server, rec.tool)), rec)))
    # a fact the question already states (an argument of a later call, an echoed value) is no answer
    asked = f" {normalize_text(' '.join(sentences))} "
    facts: list[tuple[CallRecord, Fact]] = []
    used_nodes: set[int] = set()
    for step in ordered:
        fs = [f for f in extract_facts(step.record) if not value_in_text(f.value, asked)]  # type: ignore[arg-type]
        if not fs:
            continue
        take = fs[:2] if not facts else fs[:1]
        for f in take:
            if len(facts) < max_fields:
                facts.append((step.record, f))  # type: ignore[arg-type]
                used_nodes.add(step.node)
        if len(facts) >= max_fields:
            break
    if len(facts) < 2 or len(used_nodes) < 1:
        return None
    used: set[str] = set()
    props: dict[str, Any] = {}
    answer: dict[str, Any] = {}
    sources: dict[str, Any] = {}
    for rec, f in facts:
        name = _field_name(rec.tool, f.key, used)
        props[name] = {"type": _json_type(f.value), "description": f.description}
        answer[name] = f.value
        sources[name] = {"call": rec.id, "key": f.key}
    schema = {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
    asks = "; ".join(props[n]["description"] for n in props)
    sentences.append(f"Report {asks}.")
    question = " ".join(sentences)
    template = "\n".join(f"{n}: {{{n}}}" for n in props)
    plan = exp.plan
    return Task(
        question=question,
        tools=[(r.server, r.tool) for r in reference],
        answer_schema=schema,
        answer=answer,
        answer_template=template,
        reference_calls=[r.id for r in reference],
        reference_arguments=[{"server": r.server, "tool": r.tool, "arguments": r.arguments} for r in reference],
        dag={"nodes": [list(n) for n in plan.nodes], "edges": [list(e) for e in plan.edges], "plan_id": plan.id},
        servers=sorted({r.server for r in reference}),
        pattern=plan.pattern,
        provenance={**(provenance or {}), "synthesizer": "template", "answer_sources": sources},
    )
