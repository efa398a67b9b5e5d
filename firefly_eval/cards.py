"""Tool cards: how a user would ask for what a tool does, and what its result fields mean.

A card is written once per tool (curated for the default fleet, by an LLM with
``firefly fleet cards`` for any other fleet, or derived from the description when neither
exists) and is what lets the offline synthesizer write a goal instead of a call script:

- ``goal``: an imperative phrase in the user's words with ``{param}`` slots
  ("find out which ISO week {date_str} falls in"); it never names the tool or server;
- ``args``: known-good argument sets (``$SANDBOX`` stands for the server's copy of the seed
  world) the explorer tries first, so calls do what was asked;
- ``inputs``: how a value is referred to when it comes from an earlier step ("the date");
- ``values``: user wording for literal values a user would not type (a SQL query -> "the
  largest order total");
- ``outputs``: answer facts: a fact key (see :mod:`firefly_eval.facts`), the answer field's
  name and description in the user's terms (``ask``), and how a later step refers to it
  (``refer``);
- ``use``: ``answer`` (its outputs may be answers), ``step`` (may be a step of a task, e.g.
  a change whose result is only an acknowledgement), ``never`` (server chatter, the host
  environment, random or time-dependent output: never sampled);
- ``trivial``: the tool computes what a user could work out without tools (a unit conversion,
  textbook maths): its result is an answer only when an input came from a non-trivial step.
  A card file's top-level ``"trivial": true`` sets it for every tool in the file;
- ``opens``: the tool opens what the server's other tools work on (a presentation, a document);
  set by the card file's top-level ``"opener": "<tool>"``. Plans on that server start with it.

An output's ``ask`` and ``refer`` may hold ``{param}`` slots, filled with the wording of that
call's argument ("the weight in {to_unit}", or ``{query}`` for a question a query answers).
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from firefly_eval.schema import ToolSpec, canonical_json

__all__ = ["CardError", "OutputCard", "ToolCard", "derived_card", "load_cards", "schema_hash", "slots", "wording"]

_SLOT = re.compile(r"\{([^{}]+)\}")
CardUse = Literal["answer", "step", "never"]
CardSource = Literal["curated", "llm", "derived"]


class CardError(ValueError):
    """A card file or card is malformed (names the file, tool and field)."""


class OutputCard(BaseModel):
    key: str
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")
    ask: str
    refer: str | None = None


class ToolCard(BaseModel):
    server: str
    tool: str
    goal: str
    args: list[dict[str, Any]] = Field(default_factory=list)
    inputs: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    outputs: list[OutputCard] = Field(default_factory=list)
    use: CardUse = "answer"
    trivial: bool = False
    opens: bool = False
    source: CardSource = "curated"
    schema_hash: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.server, self.tool)


def wording(card: ToolCard | None, param: str, value: Any, sandbox: str = "") -> str | None:
    """The card's user wording for a literal argument value (keys: the string itself, with the
    server's ``sandbox`` folder written ``$SANDBOX``, or the JSON text of a number, boolean, list or
    object, canonical or as json.dumps writes it)."""
    if card is None or param not in card.values:
        return None
    table = card.values[param]
    keys = [value] if isinstance(value, str) else []
    if sandbox:
        keys += [json.loads(json.dumps(value).replace(sandbox, "$SANDBOX"))] if isinstance(value, str) else []
        keys += [json.dumps(value, ensure_ascii=False).replace(sandbox, "$SANDBOX")]
    keys += [canonical_json(value), json.dumps(value), json.dumps(value, ensure_ascii=False), str(value)]
    return next((table[k] for k in keys if isinstance(k, str) and k in table), None)


def slots(goal: str) -> list[str]:
    """Parameter names a goal phrase mentions as ``{param}``."""
    return _SLOT.findall(goal)


def schema_hash(tool: ToolSpec) -> str:
    """Short hash of a tool's description and input schema: a card is stale when it changes."""
    blob = canonical_json({"d": tool.description, "s": tool.input_schema})
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def check_card(card: ToolCard, tool: ToolSpec | None) -> list[str]:
    """Problems of a card against its tool: slots that name no parameter, unknown argument names."""
    problems: list[str] = []
    props = set(((tool.input_schema or {}).get("properties") or {}) if tool else ())
    if tool is None:
        return [f"{card.server}/{card.tool}: no such tool in the fleet"]
    for s in slots(card.goal):
        if s not in props:
            problems.append(f"{card.server}/{card.tool}: goal slot {{{s}}} names no parameter")
    for o in card.outputs:
        for text in (o.ask, o.refer or ""):
            for s in slots(text):
                if s not in props:
                    problems.append(f"{card.server}/{card.tool}: output {o.name} slot {{{s}}} names no parameter")
    for i, a in enumerate(card.args):
        bad = sorted(set(a) - props)
        if bad:
            problems.append(f"{card.server}/{card.tool}: args[{i}] has unknown parameters {bad}")
    return problems


def _read_file(path: Path | Any, name: str) -> list[ToolCard]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise CardError(f"{name}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("tools"), dict) or not isinstance(data.get("server"), str):
        raise CardError(f"{name}: expected an object with 'server' (string) and 'tools' (object)")
    out = []
    for tool, body in data["tools"].items():
        if not isinstance(body, dict):
            raise CardError(f"{name}: tools.{tool}: expected an object")
        try:
            out.append(ToolCard.model_validate({"server": data["server"], "tool": tool,
                                                "source": data.get("source", "curated"),
                                                "trivial": bool(data.get("trivial", False)),
                                                "opens": data.get("opener") == tool, **body}))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            raise CardError(f"{name}: tools.{tool}.{where}: {err['msg']}") from exc
    return out


def load_cards(extra_dirs: list[Path] | None = None) -> dict[tuple[str, str], ToolCard]:
    """The shipped curated cards plus cards in ``extra_dirs`` (later ones win), by (server, tool)."""
    cards: dict[tuple[str, str], ToolCard] = {}
    shipped = resources.files("firefly_eval") / "fleets" / "cards"
    files: list[tuple[Any, str]] = []
    if shipped.is_dir():
        files += [(p, f"firefly_eval/fleets/cards/{p.name}") for p in sorted(shipped.iterdir(), key=lambda p: p.name)
                  if p.name.endswith(".json")]
    for d in extra_dirs or []:
        files += [(p, str(p)) for p in sorted(Path(d).glob("*.json"))]
    for path, name in files:
        for card in _read_file(path, name):
            cards[card.key] = card
    return cards


_WORD = re.compile(r"[A-Za-z][a-z]+|[A-Z]+(?![a-z])|\d+")


def _words(name: str) -> str:
    return " ".join(w.lower() for w in _WORD.findall(name))


def derived_card(tool: ToolSpec) -> ToolCard:
    """A card from the tool's description alone (no curated or LLM card): its first sentence as
    the goal, required parameters as slots, the result's whole text as the one output."""
    desc = (tool.description or "").strip().split("\n")[0]
    desc = re.split(r"(?<=[.!?])\s", desc)[0].rstrip(".") if desc else f"{_words(tool.name)}"
    goal = desc[:1].lower() + desc[1:]
    req = list((tool.input_schema or {}).get("required") or [])
    if req:
        goal += " for " + " and ".join(f"{_words(p)} {{{p}}}" for p in req)
    return ToolCard(server=tool.server, tool=tool.name, goal=goal, source="derived",
                    inputs={p: f"the {_words(p)}" for p in req},
                    outputs=[OutputCard(key="text", name="result", ask="the result", refer="that result")],
                    schema_hash=schema_hash(tool))
