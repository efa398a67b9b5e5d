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
    # the server's state starts empty in every episode (a fresh note store): what it holds after a task's
    # own changes is what the question stated, so a count it gives then is readable from the question
    starts_empty: bool = False
    # tools whose result, fed into this one, decides its answer ("is the second listed holiday a holiday")
    decided_by: list[str] = Field(default_factory=list)
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
                                                "starts_empty": bool(data.get("starts_empty", False)),
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


# Derived cards: a goal in the user's words from a description written for a model. A parameter is named by
# what it holds ("fileAbsolutePath" -> "the file", "taskId" -> "the task"), never by words that join into an
# identifier ("file absolute path" reads as fileAbsolutePath to a leak check, and to a reader).
_QUALIFIERS = {"absolute", "relative", "full", "local", "raw"}
_SIDES = {"from": "source", "src": "source", "source": "source", "to": "target", "dst": "target", "dest": "target",
          "destination": "target", "target": "target"}
_HANDLES = {"name", "names", "id", "ids", "identifier", "identifiers", "path", "paths", "key", "keys", "uri", "uris"}
_CAMEL = re.compile(r"^[a-z]+[A-Z][A-Za-z0-9]*$")
_CODE_IDENT = re.compile(r"(?<![\w{])([A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+|[a-z]+[A-Z][A-Za-z0-9]*)(?![\w}])")
_QUOTED = re.compile(r"""(['"`‘“])([A-Za-z_][\w.\-]*)(['"`’”])""")
_BY_QUOTED = re.compile(r"""\s*\b(?:by|given|using|with|via|through|from|provide|call|calling|use)(?:\s+(?:a|an|the|its))?\s+"""
                        r"""(['"`‘“])([A-Za-z_][\w.\-]*)(['"`’”])(?:\s+(?:tool|function|command|parameter|argument|field))?,?""",
                        re.IGNORECASE)
_USE_THIS_TOOL = re.compile(r"\b(?:use|call|invoke|run)s?\s+this\s+(?:tool|function)\s+(?:to|for)\s+(.+)", re.IGNORECASE)
_THIS_TOOL_DOES = re.compile(r"\bthis (?:tool|function) ([a-z]+s)\b\s+(.+)", re.IGNORECASE)
_DETERMINER = r"(?:(?:a|an|the|this|given|specific|specified|particular|existing|single|one|multiple|all)\s+)+"


def _plural(word: str) -> str:
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")


def _joined(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def param_noun(param: str, avoid: set[str] | None = None, kind: str | None = None) -> str:
    """What a parameter holds, as a user names it: ``fileAbsolutePath`` -> "file", ``sheet_name`` -> "sheet",
    ``entityNames`` -> "entities", ``nextSteps`` -> "steps" (never words that join into a camelCase identifier
    of ``avoid``, lower-cased); a name without words (``q``) by its JSON ``kind`` ("text", "number")."""
    words = [w.lower() for w in _WORD.findall(param)]
    words = [w for w in words if w not in _QUALIFIERS] or words
    if len(words) > 1 and words[0] in _SIDES:
        words[0] = _SIDES[words[0]]  # "from_language" -> "source language", "dstSheetName" -> "target sheet"
    if len(words) > 1 and words[-1] in _HANDLES:
        plural = words[-1].endswith("s")
        words = words[:-1]
        if plural:
            words[-1] = _plural(words[-1])
    if not words:
        return {"integer": "number", "number": "number", "boolean": "choice"}.get(kind or "", "text")
    phrase = " ".join(words)
    if any(len(a) >= 3 and a in _joined(phrase) for a in avoid or ()):
        phrase = " ".join(words[1:]) if words[0] in ("source", "target") else words[-1]
        if words[0] in ("source", "target") and any(a in _joined(phrase) for a in avoid or ()):
            phrase = words[-1]
        phrase = {"source": f"source {phrase}", "target": f"target {phrase}"}.get(words[0], phrase) \
            if not any(a in _joined(f"{words[0]} {phrase}") for a in avoid or ()) else phrase  # "next steps" spells nextSteps: "steps"
    return phrase


def _first_sentence(description: str) -> str:
    lines = [ln.strip() for ln in (description or "").splitlines()]
    text = next((re.sub(r"^[#*>\-\s]+", "", ln) for ln in lines if re.sub(r"^[#*>\-\s]+", "", ln)), "")
    text = re.split(r"(?<=[.!?])\s", text)[0].strip().rstrip(".!").strip()
    m = _USE_THIS_TOOL.search(text)
    if m:  # "When you need ..., you can use this tool to enter a research mode" -> "enter a research mode"
        text = m.group(1).strip()
    m = _THIS_TOOL_DOES.search(text)
    if m:  # "After all tasks are done, this tool finalizes the request" -> "finalize the request"
        verb = m.group(1)
        verb = verb[:-3] + "y" if verb.endswith("ies") else verb[:-2] if re.search(r"(ch|sh|ss|x)es$", verb) else verb[:-1]
        text = f"{verb} {m.group(2)}"
    text = re.sub(r"\s*\([^()]*\)", "", text)  # "(not done yet)", "(e.g. ...)"
    if len(text.split()) > 14:  # a long sentence: its first clause says what the tool does
        text = re.split(r",\s|;\s|\s[-\u2013\u2014]\s|:\s", text)[0]
    return text.strip()


def _plain_goal(tool: ToolSpec, params: list[str], props: dict[str, Any], avoid: set[str]) -> tuple[str, set[str]]:
    """The description's first sentence without identifiers: a quoted parameter named as a handle ("by
    'taskId'", "given a 'requestId',") is dropped (the goal names the thing instead), elsewhere it becomes its
    slot ("containing the substring 'q'" -> "{q}"); other quoted or code-like names are dropped or worded."""
    text = _first_sentence(tool.description or "")
    if not text:
        return _words(tool.name), set()
    slotted: set[str] = set()
    text = _BY_QUOTED.sub(lambda m: "" if (m.group(2) in props or m.group(2) == tool.name
                                           or _CODE_IDENT.fullmatch(m.group(2))) else m.group(0), text)

    def quoted(m: re.Match[str]) -> str:
        name = m.group(2)
        if name in params and name not in slotted:
            slotted.add(name)
            return "{" + name + "}"
        return "" if (name in props or name == tool.name or _CODE_IDENT.fullmatch(name)) else m.group(0)

    text = _QUOTED.sub(quoted, text)

    def code(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in params and name not in slotted:
            slotted.add(name)
            return "{" + name + "}"
        words = _words(name)
        return "" if (_CAMEL.match(name) or _joined(words) in avoid) else words

    text = _CODE_IDENT.sub(code, text)
    for name in props:  # "based on task ID" spells taskId: the slot names the task instead
        if isinstance(name, str) and _CAMEL.match(name):
            spelled = r"\s+".join(re.escape(w) for w in _WORD.findall(name))
            text = re.sub(rf"(?:\s+(?:based on|by|using|with|via|from|given|for)(?:\s+(?:a|an|the|its))?)?\s*\b{spelled}\b",
                          "", text, flags=re.IGNORECASE)
    text = re.sub(r"\s+([,.;:])", r"\1", re.sub(r"\s{2,}", " ", text)).strip(" ,;:")
    return (text or _words(tool.name)), slotted


def derived_card(tool: ToolSpec) -> ToolCard:
    """A card from the tool's description alone (no curated or LLM card): the first sentence, in plain
    words, as the goal; each required parameter as a slot named by what it holds ("the file {fileAbsolutePath}",
    put where the sentence names that thing: "get the schema of the table {table_name}"); a one-line text
    result (not a JSON listing) as the one output, asked as what the goal gets ("the number of documents")."""
    schema = tool.input_schema or {}
    props = schema.get("properties") or {}
    req = [p for p in (schema.get("required") or []) if isinstance(p, str)]
    avoid = {_joined(n) for n in [*props, tool.name] if isinstance(n, str) and _CAMEL.match(n)}
    goal, slotted = _plain_goal(tool, req, props, avoid)
    goal = _API_CHATTER.sub("", goal).strip() or goal  # "... with pagination support": how the API works, not a goal
    goal = goal[:1].lower() + goal[1:]
    nouns = {p: param_noun(p, avoid, (props.get(p) or {}).get("type") if isinstance(props.get(p), dict) else None)
             for p in req}
    tail = []
    for p in req:
        if p in slotted:
            continue
        noun = nouns[p]
        last = re.escape(noun.split()[-1])
        m = re.search(rf"\b{_DETERMINER}((?:[A-Za-z][\w-]*\s+)?){last}\b", goal, re.IGNORECASE) \
            if noun.split()[-1] not in {"text", "number", "choice"} else None
        if (m and "{" not in goal[m.start():m.end()] and not goal[m.end():].startswith(" {")
                and len(noun.split()) == 1 and list(nouns.values()).count(noun) == 1):
            goal = goal[:m.start()] + f"the {m.group(1)}{goal[m.end() - len(noun.split()[-1]):m.end()]} {{{p}}}" \
                + goal[m.end():]  # "for a specific table" -> "for the table {table_name}"
        else:
            tail.append(f"the {noun} {{{p}}}")
    if tail:
        goal += " for " + " and ".join(tail)
    ask = _goal_ask(goal)
    return ToolCard(server=tool.server, tool=tool.name, goal=goal, source="derived",
                    use="step" if _SERVER_CHATTER.fullmatch(tool.name) else "answer",
                    inputs={p: f"the {nouns[p]}" for p in req},
                    outputs=[OutputCard(key=_ONE_LINE, name=_FIELD_NAME.sub("_", ask[4:]).strip("_")[:40] or "result",
                                        ask=ask, refer="that " + _one_of(ask[4:]))],
                    schema_hash=schema_hash(tool))


_API_CHATTER = re.compile(r",?\s+(?:with|and|using)\s+(?:optional\s+|full\s+)?(?:pagination|paging|filtering|filters|"
                          r"sorting)(?:\s+(?:support|options|and\s+(?:filtering|sorting|pagination)))?(?=[.,;]|$)",
                          re.IGNORECASE)


def _one_of(listed: str) -> str:
    """What a later step refers to in a listing of names: one of them ("collection names" -> "collection")."""
    return re.sub(r"\s+(?:names|ids|identifiers|titles|keys)$", "", listed) or listed


# tools about the server itself, not the user's data: its settings, cache, health or version (issue 17: server
# chatter is no answer; "configure the server, and let me know the log level" shipped from an own fleet)
_SERVER_CHATTER = re.compile(r"(?:get_|set_|show_|read_|update_|reset_|clear_|check_)?(?:server_)?(?:configure|config|"
                             r"configuration|settings|diagnose\w*|diagnostics?|health\w*|ping|version|info|debug|"
                             r"cache\w*|log_level|status)", re.IGNORECASE)

# a whole result as an answer only when it is one short line that is no JSON listing or object ("[]", "{}")
_ONE_LINE = r"text|re:^[^\[\]{}\n]{1,120}$"
_FIELD_NAME = re.compile(r"[^a-z0-9]+")
_GETS = re.compile(r"^(?:get|gets|return|returns|count|counts|retrieve|retrieves|fetch|fetches|find|finds|show|shows|"
                   r"list|lists|read|reads|calculate|calculates|compute|computes)\s+(?:all\s+|the\s+)?"
                   r"((?:number|count|total|size|name|names|list|amount|sum|value|length)\b(?:\s+of\s+[a-z]+)?|"
                   r"[a-z]+(?:\s+[a-z]+)?\s+(?:names|ids|count|total|size))\b", re.IGNORECASE)


def _goal_ask(goal: str) -> str:
    """How to ask for a tool's one-line result from its goal: "get the number of documents in ..." -> "the
    number of documents", "list all collection names ..." -> "the collection names"; else "the result"."""
    m = _GETS.match(goal)
    return f"the {m.group(1).lower()}" if m else "the result"
