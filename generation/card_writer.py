"""Tool cards for any fleet, written by any Inspect model (``firefly fleet cards``).

For each tool without a curated card, the model gets the tool's description and input schema
(and, when a run's records are given, up to two real results of the tool) and writes a card
(see :mod:`firefly_eval.cards`). Each card is checked against the tool (slots and argument names
must be real parameters, names never the tool's own); a reply that fails the checks is counted
and the tool keeps its derived card. Cards are cached per tool by schema hash in the output
folder, so a second run asks only about tools that are new or whose schema changed.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from firefly_eval.cards import ToolCard, check_card, load_cards, schema_hash
from firefly_eval.inspect_model import resolve_model
from firefly_eval.model_json import generate_json
from firefly_eval.schema import CallRecord, ToolSpec, result_text

__all__ = ["CARD_SCHEMA", "write_cards"]

CARD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "goal": {"type": "string"},
        "args": {"type": "array", "items": {"type": "object"}},
        "inputs": {"type": "object", "additionalProperties": {"type": "string"}},
        "outputs": {"type": "array", "items": {"type": "object", "properties": {
            "key": {"type": "string"}, "name": {"type": "string"}, "ask": {"type": "string"},
            "refer": {"type": "string"}}, "required": ["key", "name", "ask"]}},
        "use": {"type": "string", "enum": ["answer", "step", "never"]},
    },
    "required": ["goal", "use"],
}

_RULES = (
    "Write a tool card: how a USER would ask for what this tool does, for a dataset of realistic requests.\n"
    "- goal: an imperative phrase, lowercase first letter, plain user language, with a {param} slot where each "
    "parameter value goes (e.g. \"find out which ISO week {date_str} falls in\"). Never write the tool name, "
    "the server name, a parameter identifier, backticks or 'name = value'.\n"
    "- args: 1-3 argument objects that would succeed and that a user would plausibly ask for (valid enum "
    "members, real-looking ids).\n"
    "- inputs: for each slot parameter, how its value is named when it comes from an earlier step "
    "(\"the customer id\").\n"
    "- outputs: the facts a user wants from the result: key (a path into the JSON result like \"city\" or "
    "\"rows[0].name\", \"text\" for the whole text, or \"text|re:REGEX\" with one group), name (snake_case, in "
    "the user's terms, not the tool name), ask (\"that customer's city\"), refer (\"that city\"). Never a line "
    "count, an acknowledgement, an echo of the input, an error, server info or the host environment.\n"
    "- use: answer (its outputs are answers), step (a change whose result is only an acknowledgement), never "
    "(server chatter, environment, random or time-dependent output).\n"
    "Reply with the JSON object only."
)


def _prompt(tool: ToolSpec, samples: list[CallRecord]) -> str:
    lines = [_RULES, "", f"Tool description: {tool.description}",
             f"Input schema: {json.dumps(tool.input_schema, ensure_ascii=False)[:3000]}"]
    for rec in samples[:2]:
        lines.append(f"A real call: arguments {json.dumps(rec.arguments, ensure_ascii=False)[:500]} -> result "
                     f"{result_text(rec.result)[:800]!r}")
    return "\n".join(lines)


def _card(tool: ToolSpec, data: dict[str, Any], model: str) -> tuple[ToolCard | None, str]:
    try:
        card = ToolCard.model_validate({**data, "server": tool.server, "tool": tool.name, "source": "llm",
                                        "schema_hash": schema_hash(tool)})
    except ValidationError as exc:
        return None, f"invalid card ({exc.errors()[0]['loc']}: {exc.errors()[0]['msg']})"
    problems = check_card(card, tool)
    text = " ".join([card.goal, *(o.ask for o in card.outputs), *(o.refer or "" for o in card.outputs)]).lower()
    if tool.name.lower() in text or tool.server.lower() in text.split():
        problems.append("names the tool or server")
    if any(o.name.lower() == tool.name.lower() for o in card.outputs):
        problems.append("an answer field is named after the tool")
    return (None, problems[0]) if problems else (card, "")


async def write_cards(tools: list[ToolSpec], model: Any, out: Path, calls: list[CallRecord] | None = None,
                      include_curated: bool = False) -> Counter[str]:
    """Write ``out/<server>.json`` card files for ``tools``; returns counts (written, cached, rejected, curated)."""
    out.mkdir(parents=True, exist_ok=True)
    curated = load_cards() if not include_curated else {}
    cached = load_cards([out]) if any(out.glob("*.json")) else {}
    samples: dict[tuple[str, str], list[CallRecord]] = {}
    for rec in calls or []:
        if not rec.is_error:
            samples.setdefault((rec.server, rec.tool), []).append(rec)
    m = resolve_model(model)
    model_name = model if isinstance(model, str) else str(getattr(m, "name", m))
    counts: Counter[str] = Counter()
    by_server: dict[str, dict[str, Any]] = {}
    for path in out.glob("*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        by_server[data["server"]] = data
    for tool in tools:
        if tool.key in curated and curated[tool.key].source == "curated":
            counts["curated"] += 1
            continue
        old = cached.get(tool.key)
        if old is not None and old.schema_hash == schema_hash(tool):
            counts["cached"] += 1
            continue
        data, _ = await generate_json(m, _prompt(tool, samples.get(tool.key, [])), "tool_card", CARD_SCHEMA)
        card, why = _card(tool, data, model_name) if data else (None, "no JSON object in the reply")
        if card is None:
            counts["rejected"] += 1
            counts[f"rejected: {why}"] += 1
            continue
        entry = by_server.setdefault(tool.server, {"server": tool.server, "source": "llm", "model": model_name,
                                                   "tools": {}})
        entry["tools"][tool.name] = card.model_dump(mode="json", exclude={"server", "tool", "source"})
        tmp = out / f".{tool.server}.json.tmp"
        tmp.write_text(json.dumps(entry, indent=1, ensure_ascii=False), encoding="utf-8")
        tmp.replace(out / f"{tool.server}.json")  # written as it goes: an interrupted run keeps what it paid for
        counts["written"] += 1
    return counts
