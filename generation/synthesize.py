"""Backward synthesis: a user's question, answer schema and gold answer from observed calls.

The offline synthesizer composes the tools' cards (:mod:`firefly_eval.cards`) along the
explored DAG. Each successful step contributes its card's goal with the slots filled: a value
the user knows is stated (a file by its name, a date, an amount), a value an earlier step
returned is referred to by meaning ("that week number"), so the chain is needed. Answer fields
are the cards' outputs (information in the user's terms) computed from successful results,
the sink steps first. Steps that neither feed a later step nor give an answer are left out
when their server keeps no state. Everything the question does not state and no earlier step
produced must be the tool's default, or the task is not written (see ``verify.self_contained``).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from firefly_eval.cards import OutputCard, ToolCard, _words, derived_card, slots, wording
from firefly_eval.facts import (
    UUID_PATTERN,
    UUIDISH,
    Fact,
    appears_in,
    coerce,
    error_reason,
    extract_facts,
    fact_value,
    parse_data,
)
from firefly_eval.generation.explore import Exploration, StepResult
from firefly_eval.generation.graph import POSITION_PARAM, same_thing
from firefly_eval.grading import normalize_text
from firefly_eval.mutation import is_mutating
from firefly_eval.schema import CallRecord, Task, ToolSpec, result_text

__all__ = ["Fact", "SynthesisDrop", "extract_facts", "fact_value", "render_value", "synthesize_task",
           "value_in_text"]

WORKSPACE_ROOT = "/tmp/firefly-world"  # the canonical sandbox root records are stored under
_FIELD = re.compile(r"[^a-z0-9]+")


class SynthesisDrop(Exception):
    """The exploration cannot become a task; ``reason`` is the counter name (``dropped_*``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


def _field_name(tool: str, key: str, used: set[str]) -> str:
    base = _FIELD.sub("_", f"{tool}_{key}".lower() if tool else key.lower()).strip("_")[:48] or "value"
    if not base[0].isalpha():
        base = f"value_{base}"[:48]
    name, i = base, 2
    while name in used:
        name, i = f"{base}_{i}", i + 1
    used.add(name)
    return name


_GENERIC_FIELDS = {"result", "value", "answer", "output"}
_NAME_STOP = {"who", "whose", "that", "which", "with", "from", "in", "of", "by", "for", "on", "to", "go", "goes",
              "placed", "sold", "bought", "according", "when", "rounded", "as", "brings", "brought", "is", "are",
              "and", "at", "after", "before", "between", "within", "among", "over", "under", "per"}
_HEADS = {"name", "date", "sku", "id", "city", "month", "price", "title", "email", "time", "day", "year"}


def _noun_words(words: list[str], limit: int = 3) -> list[str]:
    """The words of ``words`` up to the first that starts a clause ("customers who bought ..."), articles
    dropped and "most recent" said as "latest"."""
    out: list[str] = []
    for w in words:
        if w in _NAME_STOP or not re.fullmatch(r"[a-z0-9]*[a-z][a-z0-9]*", w):
            break
        if w in ("the", "a", "an", "all", "different", "distinct"):
            continue
        out.append(w)
    text = " ".join(out).replace("most recent", "latest").replace("newest", "latest")
    return text.split()[:limit]


def name_from_ask(ask: str) -> str | None:
    """An answer field's name from what the question asks, for a card whose output is named only
    "result" (a SQL query's single value, described per query): "the date of the most recent order" ->
    ``latest_order_date``, "the number of orders placed in September 2025" -> ``order_count``, "how many
    rows of orders.csv ..." -> ``row_count``, "the total revenue of all orders" -> ``total_revenue``.
    None when the ask gives no noun."""
    words = re.findall(r"[a-z0-9]+", ask.lower())
    if words[:2] == ["how", "many"] or words[:3] == ["the", "number", "of"]:
        rest = _noun_words(words[2:] if words[0] == "how" else words[3:], limit=8)
        if not rest:
            return None
        noun = rest[-1][:-1] if rest[-1].endswith("s") and len(rest[-1]) > 3 else rest[-1]
        return f"{noun}_count"
    head = _noun_words(words, limit=4)
    if len(head) == 1 and head[0] in _HEADS and len(words) > words.index(head[0]) + 2 \
            and words[words.index(head[0]) + 1] == "of":
        owner = _noun_words(words[words.index(head[0]) + 2:], limit=2)
        return "_".join([*owner, head[0]]) if owner else head[0]
    return "_".join(head) or None


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, list):
        return "array"
    return "string"


def _prop(v: Any, description: str) -> dict[str, Any]:
    prop: dict[str, Any] = {"type": _json_type(v), "description": description}
    if isinstance(v, list):
        prop["items"] = {"type": _json_type(v[0]) if v else "string"}
    return prop


def render_value(value: Any, server: str, root: str = WORKSPACE_ROOT) -> tuple[str, str | None]:
    """How a user states an argument value: a file by its name (the folder is said once, returned
    second), a list as "a, b", anything else as written."""
    if isinstance(value, str):
        base = f"{root}/{server}"
        if value == base:
            return "my files folder", base
        if value.startswith(base + "/"):
            return value[len(base) + 1:], base
        return value, None
    if isinstance(value, bool):
        return ("yes" if value else "no"), None
    if isinstance(value, float) and value.is_integer():
        return str(int(value)), None
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        parts = [render_value(v, server, root) for v in value]
        return ", ".join(p for p, _ in parts), next((d for _, d in parts if d), None)
    if isinstance(value, (dict, list)):  # structured literals need a card wording
        raise SynthesisDrop("dropped_unstatable_argument")
    return str(value), None


# an acknowledgement ("Insight added", "Created successfully") reports that a change happened: no information
_ACK = re.compile(r"^\W*([\w'-]+\s+){0,4}(added|created|updated|deleted|saved|removed|inserted|stored|written|done"
                  r"|ok|success|successfully|completed|applied)(\s+successfully)?\W*$|\bsuccessfully\b", re.I)


def _good_answer(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, bool):
        return True
    if isinstance(v, (int, float)):
        return True
    if isinstance(v, str):
        s = v.strip()
        return (1 <= len(s) <= 120 and "\n" not in s and s.isprintable() and "\ufffd" not in s
                and not UUIDISH.search(s) and not _ACK.search(s) and WORKSPACE_ROOT not in s and error_reason({"content": [{"type": "text", "text": s}]}) is None)
    if isinstance(v, list):
        return 1 <= len(v) <= 12 and all(_good_answer(x) and not isinstance(x, list) for x in v) \
            and len({type(x) for x in v}) == 1
    return False


def _flat(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _flat(v)]
    if isinstance(value, list):
        return [x for v in value for x in _flat(v)]
    return [value]


def _echoes(value: Any, records: list[CallRecord]) -> bool:
    """The value is one of the calls' own arguments (an echo is no answer)."""
    nv = {normalize_text(str(x)) for x in _flat(value)}
    args = {normalize_text(str(coerce(a))) for r in records for a in _flat(r.arguments)}
    return bool(nv) and nv <= args


@dataclass
class _Step:
    step: StepResult
    record: CallRecord
    card: ToolCard
    tool: ToolSpec | None
    bound: dict[str, tuple[int, str]] = field(default_factory=dict)  # param -> (producing node, phrase)
    answers: list[tuple[OutputCard, Any]] = field(default_factory=list)
    feeds: bool = False


def _parsed(rec: CallRecord) -> Any:
    """A result's data (:func:`firefly_eval.facts.parse_data`)."""
    return parse_data(rec.result)


def _leaves(data: Any, depth: int = 0) -> list[Any]:
    if depth > 5:
        return []
    if isinstance(data, dict):
        return [x for v in list(data.values())[:50] for x in _leaves(v, depth + 1)]
    if isinstance(data, list):
        return [x for v in data[:50] for x in _leaves(v, depth + 1)]
    return [data]


_HANDLE = re.compile(r"^(?=.*[\d/_\-.:])[\w./\-:]{4,}$")  # ids, paths, hashes, dates: safe to find in text


def _producer(value: Any, earlier: list[_Step]) -> tuple[_Step, OutputCard | None] | None:
    """The latest earlier step whose result holds ``value`` (a whole value of the result, or an
    id/path-like token of its text), with the card output that names it."""
    if isinstance(value, (dict, list)) or value is None or isinstance(value, bool):
        return None
    sv = normalize_text(str(value))
    if not sv:
        return None
    for st in reversed(earlier):
        for o in st.card.outputs:
            got = fact_value(st.record, o.key)
            if got is not None and not isinstance(got, (dict, list)) and normalize_text(str(got)) == sv:
                return st, o
        if any(normalize_text(str(x)) == sv for x in _leaves(_parsed(st.record))):
            return st, None
        raw = str(value).strip()
        if _HANDLE.match(raw) and appears_in(raw, result_text(st.record.result)):
            return st, None
        if _listed_place(value, st) is not None:
            return st, None
    return None


_LISTED_NAME = re.compile(r"[\w][\w.\-]*\.\w{1,6}\b")


def _listed_place(value: Any, src: _Step) -> str | None:
    """Where the file ``value`` (a full path) sits in a folder listing ``src`` made of its parent folder: the
    listing names it by its bare name ("[FILE] letter.txt"): ``"field"`` when it is the only file listed,
    ``"first"`` when it is the first of several, else None."""
    if not isinstance(value, str) or "/" not in value.strip("/"):
        return None
    folder, name = value.rstrip("/").rsplit("/", 1)
    asked = {normalize_text(str(v).rstrip("/")) for v in src.record.arguments.values() if isinstance(v, str)}
    if normalize_text(folder) not in asked:
        return None
    text = result_text(src.record.result)
    names = list(dict.fromkeys(m.group(0) for m in _LISTED_NAME.finditer(text.replace(folder + "/", " "))))
    if name not in names:
        return None
    return "field" if len(names) == 1 else ("first" if names[0] == name else None)


_OPAQUE = re.compile(rf"{UUID_PATTERN}|[0-9a-f]{{12,40}}", re.I)


def _bound_before(value: Any, earlier: list[_Step]) -> tuple[int, str] | None:
    """The (producer node, reference) an earlier step's argument with this value was bound to."""
    sv = normalize_text(str(value))
    return next(((n, phrase) for e in earlier for p, (n, phrase) in e.bound.items()
                 if normalize_text(str(e.record.arguments.get(p))) == sv), None)


def _opaque_place(value: Any, src: _Step) -> str | None:
    """Where an opaque id (a uuid, a long hex hash: nothing a user would type) sits in ``src``'s result text:
    ``"field"`` when it is the only one there, ``"first"`` when it is the first of several, else None (the
    second task of a listing is no particular task)."""
    raw = str(value).strip()
    if not isinstance(value, str) or not _OPAQUE.fullmatch(raw):
        return None
    found = list(dict.fromkeys(m.group(0).lower() for m in _OPAQUE.finditer(result_text(src.record.result))))
    if raw.lower() not in found:
        return None
    return "field" if len(found) == 1 else ("first" if found[0] == raw.lower() else None)


_CHATTER_KEYS = {"message", "status", "success", "ok", "msg", "info", "detail", "details", "changes",
                 "rowsaffected", "rows_affected", "affected_rows", "lastinsertrowid", "last_insert_rowid",
                 "timestamp", "created_at", "updated_at", "time", "elapsed", "duration_ms"}


_WHOLE_KEYS = {"text", "value"}  # the whole result: the derived card's own output words it from the goal


def _derived_outputs(rec: CallRecord, tool: ToolSpec | None = None) -> list[OutputCard]:
    """Answer facts of a tool without a card: the result's facts (:func:`extract_facts`), asked in the
    fact's own words ("the cid of name", "the number of entities", "the title of the task"); not the whole
    text (the card asks for that), not chatter or acknowledgements, nothing that is no answer (an empty
    listing, a long text), and never a field or ask that spells one of the tool's parameter names."""
    props = ((tool.input_schema or {}).get("properties") or {}) if tool else {}
    params = {str(p).lower() for p in [*props, *rec.arguments]}
    spelled = {re.sub(r"[^a-z0-9]", "", p) for p in [*props, *rec.arguments]
               if re.fullmatch(r"[a-z]+[A-Z][A-Za-z0-9]*", str(p))}
    outs: list[OutputCard] = []
    names: set[str] = set()
    for f in extract_facts(rec):
        if len(outs) == 4:
            break
        if f.key in _WHOLE_KEYS or not _good_answer(f.value):
            continue
        last = re.split(r"[.\[\]]+", f.key.strip("."))
        tail = next((x for x in reversed(last) if x and not x.isdigit()), "")
        if tail.lower() in _CHATTER_KEYS or (isinstance(f.value, str) and _ACK.search(f.value)):
            continue  # "message: Insight added", "status: ok" report the call, not the data
        words = _fact_words(f)
        if not words or any(s in re.sub(r"[^a-z0-9]", "", words.lower()) for s in spelled if len(s) >= 3):
            continue  # "the entity type" spells entityType: a parameter's name is no way to ask
        name = _FIELD.sub("_", re.sub(r"\b(the|a|an)\b", " ", words.lower())).strip("_")[:40] or "value"
        name = name if name[0].isalpha() else f"value_{name}"[:40]
        if name in params:
            name = f"{name}_found"[:40]  # "log_level" is configure's parameter: the field says what was found
        if name in names:
            continue
        names.add(name)
        outs.append(OutputCard(key=f.key, name=name, ask=f"the {words}", refer=_fact_refer(words)))
    return outs


_BARE = {"name", "id", "key", "value", "result", "path", "title", "text", "type"}


def _fact_refer(words: str) -> str | None:
    """How a later step refers to a fact: "that request" of "id of the request"; None for a bare "name" or
    "id", whose consumer says what it is ("that table", not "that name")."""
    if words in _BARE:
        return None
    m = re.match(r"^(?:id|name|key|identifier|title) of (?:the )?(.+)$", words)
    return f"that {m.group(1)}" if m else f"that {words}"


def _fact_words(f: Fact) -> str:
    """A fact asked in plain words, without its article: its description when it names the field ("the cid of
    name", "the title of the task"; a participle after its record: "the seeds planned"), "number of entities" for
    a count, else its key's words. Labels keep their case ("the city of Ines Duarte")."""
    if f.key.startswith("number of "):
        return f.key
    desc = re.sub(r"^(the|a|an)\s+", "", (f.description or "").strip(), flags=re.IGNORECASE)
    if not desc or desc.lower() in ("result", "number", "value") or re.fullmatch(r"[\d\s.]*", desc):
        key_words = " ".join(x for x in re.split(r"[.\[\]]+", f.key.strip(".")) if x and not x.isdigit())
        desc = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key_words).lower()
    for part in re.split(r"[.\[\]]+", f.key):
        words = re.findall(r"[A-Z]?[a-z]+|\d+", part) if re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)+", part) else []
        if len(words) > 1:  # camelCase spells an identifier ("requestid", "request id"): "the id of the request"
            w = [x.lower() for x in words]
            said = f"{w[-1]} of the {' '.join(w[:-1])}" if w[-1] in _OF_WORDS else " ".join(w)
            for form in (part, " ".join(w)):
                desc = re.sub(rf"\b{re.escape(form)}\b", said, desc, flags=re.IGNORECASE)
    m = re.fullmatch(r"([a-z]+) of (?:the )?(.+)", desc)
    if m and (m.group(1).endswith("ed") or m.group(1) in _PARTICIPLES) and m.group(1) not in ("need", "seed", "speed"):
        desc = f"{m.group(2)} {m.group(1)}"  # "planned of seeds" -> "seeds planned"
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s'-]+", " ", desc)).strip()


_OF_WORDS = {"id", "name", "type", "count", "status", "title", "date", "time", "level", "size", "path", "key", "number",
             "description", "details", "url", "index", "total"}
_PARTICIPLES = {"sown", "spent", "grown", "shown", "known", "built", "sent", "paid", "sold", "made", "done", "given",
                "taken", "written", "left", "kept", "bought", "won", "lost", "held", "read", "set", "cut", "put"}


def _default(tool: ToolSpec | None, param: str) -> Any:
    props = ((tool.input_schema or {}).get("properties") or {}) if tool else {}
    sch = props.get(param) if isinstance(props.get(param), dict) else {}
    return sch.get("default", _MISSING)


_MISSING = object()

_SHAPES = [
    ("{G}. Tell me {A}.", "sentence"),
    ("Could you {g}? I'd like to know {A}.", "question"),
    ("Please {g}, and let me know {A}.", "request"),
    ("I need to know {A}: {g}.", "need"),
]
# an ask that refers to something a step finds: it cannot open the question, before that step is told
ANSWER_FIRST_REFERENCE = re.compile(r"\b(?:those|these|this)\b|\bthe two\b|\bthe (?:first|second) (?:date|time|value)s?\b"
                                    r"|\bthat (?!(?:is|are|was|were|has|have|had|differs?|changed|contains?|touched|"
                                    r"points?|holds?|matches?|uses?|comes?)\b)")
# a reference that names no particular thing: fine with one earlier step, ambiguous with more
_VAGUE = {"that result", "that value", "that converted value", "that output", "that number", "that amount",
          "that text", "that calculation"}
# tools that make something new: the name of what they make is the user's choice, not an earlier result
_MAKES = re.compile(r"^(create|new|make|generate|init|save_as|export)", re.I)
_NEW_THING = re.compile(r"(?:the |a )?new\b", re.I)  # a card input "the new file": what the user names
_DESTINATION = re.compile(r"(?i:(^|_)(dest|destination|target|new|output|out|to_path|save_as)(_|$))|^(to|new|dest)[A-Z]")
_UNDO = [("add", "remove"), ("add", "delete"), ("insert", "delete"), ("create", "delete"), ("set", "clear"),
         ("stage", "unstage"), ("lock", "unlock"), ("hide", "show"), ("open", "close"), ("rename", "rename"),
         ("update", "cancel"), ("book", "cancel"), ("set", "cancel")]  # change a reservation, then cancel it


def _reference_phrase(noun: str) -> str:
    """"the sheet name" -> "that sheet": a reference names the thing, not its name or id."""
    noun = re.sub(r"^(the|a|an|that|this)\s+", "", noun.strip())
    noun = re.sub(r"\s+(name|id|identifier|value|number|index|key)$", "", noun) or noun
    noun = re.sub(r"'s$", "", noun)  # "that note's key" -> "that note", not "that note's"
    return "that " + noun


_PREPOSITIONS = {"of", "for", "in", "on", "to", "from", "with", "at", "by", "and", "or", "as", "into", "between"}


def _insert_reference(goal: str, param: str, phrase: str) -> str:
    """Put a reference ("that sheet") where a goal expects a value: "the {x} sheet" reads "that
    sheet", "flight {x}" with "that flight" reads "that flight". Raises :class:`SynthesisDrop` when
    the slot is glued to a word ("the {n}th root"), where no reference reads."""
    slot = "{" + param + "}"
    at = goal.find(slot)
    if at < 0:
        return goal
    end = at + len(slot)
    if (end < len(goal) and (goal[end].isalpha() or goal[end] in "\"'”")) or (at > 0 and (
            goal[at - 1].isalpha() or goal[at - 1] in "\"'“")):
        raise SynthesisDrop("dropped_unwordable_reference")  # "the {n}th root", a heading "{text}" in quotes
    words = {w.strip(",.").lower() for w in phrase.split()} - {"that", "the", "of", "a"}
    before = re.search(r"(\b(?:the|a|an)\s+)?(\w+)\s+$", goal[:at])
    after = re.match(r"\s+(\w+)", goal[end:])
    start = at
    if after and after.group(1).lower() in words:
        end += after.end()  # "the {sheet} sheet" + "that sheet" -> "that sheet"
    if before and (before.group(2).lower() in words or (
            before.group(1) and re.match(r"(?:that|the first|the last)\s", phrase, re.IGNORECASE)
            and before.group(2).lower() not in _PREPOSITIONS)):
        # ... and "the path {path}" + "the first file" -> "the first file": the reference is its own noun phrase
        # "flight {flight_number}" + "that flight" -> "that flight"; "the PIX payment code {v}" +
        # "that PIX code" -> "that PIX code": the noun phrase from its determiner is replaced
        det = re.search(r"\b(the|a|an)\s+((?!(?:of|for|in|on|to|from|with|at|by|and)\b)\w+\s+){0,3}$", goal[:at])
        start = det.start() if det else before.start()
    elif goal[:at].rstrip().lower().endswith(("the", "a", "an")) and goal[:at].endswith(" "):
        start = goal[:at].rstrip().rfind(" ") + 1  # "the {x}" + "that x" -> "that x"
    return goal[:start] + phrase + goal[end:]


def _join_goals(goals: list[tuple[str, bool]]) -> str:
    """Goals in call order; a goal that uses an earlier result is joined with 'then'."""
    out = goals[0][0]
    for i, (g, uses_earlier) in enumerate(goals[1:], start=1):
        last = i == len(goals) - 1
        if uses_earlier:
            out += (", and then " if last else ", then ") + g
        else:
            out += (" and " if last else ", ") + g
    return out


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _card_steps(exp: Exploration, tools: dict[tuple[str, str], ToolSpec],
                cards: dict[tuple[str, str], ToolCard]) -> list[_Step]:
    """The successful steps in call order, each with its card (a derived one when none exists)."""
    position = {c.id: i for i, c in enumerate(exp.calls)}
    ok = sorted((s for s in exp.steps if s.record is not None
                 and error_reason(s.record.result, s.record.is_error) is None),
                key=lambda s: position.get(s.record.id, 0) if s.record else 0)
    if len(ok) < 2:
        raise SynthesisDrop("dropped_trivial")
    steps: list[_Step] = []
    seen: set[str] = set()
    for s in ok:
        rec = s.record
        assert rec is not None
        call = repr((rec.server, rec.tool, sorted(rec.arguments.items(), key=lambda kv: kv[0])))
        if call in seen:  # the same call twice asks the same thing twice
            continue
        seen.add(call)
        tool = tools.get((rec.server, rec.tool))
        card = cards.get((rec.server, rec.tool)) or (derived_card(tool) if tool else None)
        if card is None or card.use == "never":
            raise SynthesisDrop("dropped_never_tool")
        if card.source == "derived":  # no card: the result's own scalar fields are the facts
            card = card.model_copy(update={"outputs": _derived_outputs(rec, tool) or card.outputs})
        steps.append(_Step(s, rec, card, tool))
    return steps


def _bind_arguments(steps: list[_Step]) -> None:
    """Where each argument comes from: an earlier step's result (referred to by meaning), or the
    user. A value the user already stated for an earlier step stays stated (a reference to it
    would be ambiguous: "that item" when two items were named); a value an earlier step took from
    a result keeps that reference ("change that customer's address, then list that customer's
    orders"), wherever later results repeat it."""
    for i, st in enumerate(steps):
        stated = {normalize_text(str(coerce(x))) for e in steps[:i] for pn, v in e.record.arguments.items()
                  if pn not in e.bound for x in (v if isinstance(v, list) else [v]) if not isinstance(x, (dict, list))}
        # the folder of a file the user named earlier: the question says it ("My files are in ..."), so
        # "create q4-plan.docx, then list the documents in that folder" takes no value from the creation
        folders = {normalize_text(x.rsplit("/", 1)[0]) for e in steps[:i] for pn, x in e.record.arguments.items()
                   if pn not in e.bound and isinstance(x, str) and x.startswith("/") and "/" in x[1:]}
        for param, value in st.record.arguments.items():
            if isinstance(value, (dict, list)) or normalize_text(str(value)) in stated | folders:
                continue
            again = _bound_before(value, steps[:i])
            if again is not None and not _DESTINATION.search(param) and _default(st.tool, param) != value \
                    and not _NEW_THING.match(st.card.inputs.get(param, "")):
                if any(n == again[0] and normalize_text(str(st.record.arguments.get(p))) == normalize_text(str(value))
                       for p, (n, _) in st.bound.items()):
                    raise SynthesisDrop("dropped_degenerate_call")  # one value twice in one call
                st.bound[param] = again
                continue
            prod = _producer(value, steps[:i])
            if prod is None:
                continue
            src, out = prod
            # a uuid no user types that the explorer did not bind: the listing that showed it gave it
            listed = _listed_place(value, src) if out is None else None  # a file a folder listing named
            where = "field" if out is not None else listed or (
                _place_in(value, _parsed(src.record)) if param in st.step.bound else _opaque_place(value, src))
            if out is None and where is None:
                # a value the user states (a file name, a date) that an earlier text also shows, or an
                # item deep in a listing: "that date" of a list of holidays is no particular date
                continue
            first = where == "first"
            if (_MAKES.match(st.record.tool) and src.record.tool != st.record.tool) or _DESTINATION.search(param) \
                    or _NEW_THING.match(st.card.inputs.get(param, "")):
                continue  # the name of a new thing is the user's choice, not an earlier result ("save a new file")
            if _default(st.tool, param) == value or (out is None and _echoed(param, value, src, st)):
                continue  # the tool's own default or a namespace every result echoes (tau2's state_key)
            if out is None and isinstance(value, (int, float)) and not _under(param, value, src):
                continue  # a bare number found somewhere in an earlier result ("that number of commits")
            if out is not None and isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and POSITION_PARAM.search(param) and not same_thing(out.name, param):
                continue  # "the number of comments" is no paragraph index: the user states the number
            if any(n == src.step.node and normalize_text(str(st.record.arguments.get(p))) == normalize_text(str(value))
                   for p, (n, _) in st.bound.items()):
                raise SynthesisDrop("dropped_degenerate_call")  # "from that day up to that day": one value twice
            if out is not None and out.refer:
                phrase = _fill(out.refer, src)
                if phrase.lower().startswith("that "):
                    phrase = _reference_phrase(phrase)  # "that slide index" -> "that slide"
            else:  # the card of the consumer says what the value is: "the sheet name" -> "that sheet"
                noun = "file" if listed else st.card.inputs.get(param)
                if not noun or _reference_phrase(noun).lower() in _VAGUE:
                    noun = _words(param) or "result"  # "that email", "that user" say more than "that result"
                phrase = _reference_phrase(noun)
                if first and phrase.lower().startswith("that "):
                    phrase = "the first " + phrase[5:]  # the first item of a listing: "the first table"
            if phrase.lower() in _VAGUE and i > 1:
                raise SynthesisDrop("dropped_ambiguous_reference")
            st.bound[param] = (src.step.node, phrase)
            src.feeds = True


# "the that table table" -> "that table", "the the first table table" -> "the first table",
# "the first note note" (a category named note) -> "the first note"
_DOUBLED = re.compile(r"\b(?:the (?=(?:that|the)\b))?((?:that|the(?: \w+)?|first|last) (\w+)) \2\b")


def _under(param: str, value: Any, src: _Step) -> bool:
    """``src``'s result holds ``value`` under the parameter's own name (a ledger entry's ``amount``)."""
    sv = normalize_text(str(value))
    return any(k == param and normalize_text(str(x)) == sv for k, x in _keyed(_parsed(src.record)))


def echoes(param: str, value: Any, rec: CallRecord) -> bool:
    """``rec``'s result holds ``value`` under ``param`` at its top level, beside what it returns
    (tau2's ``"state_key": ...`` envelope). A value nested in the result (tau2's ``parsed_content`` or
    its echo of the call's ``arguments``: the reservation a lookup returns) is what the call is about."""
    data = _parsed(rec)
    return isinstance(data, dict) and param in data and not isinstance(data[param], (dict, list)) \
        and normalize_text(str(data[param])) == normalize_text(str(value))


def _echoed(param: str, value: Any, src: _Step, own: _Step | None = None) -> bool:
    """The results echo ``param`` under its own name at their top level (:func:`echoes`), the earlier
    one and the step's own: a namespace the server repeats in every result, not information the chain
    produced, nor a subject the user states."""
    return echoes(param, value, src.record) and (own is None or own is src or echoes(param, value, own.record))


def _keyed(data: Any, key: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    """The scalar leaves of a result with the key each sits under (list items keep their list's key)."""
    if depth > 5:
        return []
    if isinstance(data, dict):
        items = list(data.items())[:50]
        if len(items) > 3 and sum(bool(re.search(r"\s|^[A-Z0-9]", str(k))) for k, _ in items) > len(items) / 2:
            return [(key, k) for k, _ in items]  # a mapping of names ("Smart Watch": ...) is a listing
        return [x for k, v in items for x in _keyed(v, str(k), depth + 1)]
    if isinstance(data, list):
        return [x for v in data[:50] for x in _keyed(v, key, depth + 1)]
    if isinstance(data, str) and depth == 0:  # a listing as text: one item per line or comma
        items = [x.strip(" -*•\t") for x in re.split(r"[\n,]", data) if x.strip(" -*•\t")]
        if len(items) > 3:
            return [("", x) for x in items]
    return [(key, data)]


def _place_in(value: Any, data: Any) -> str | None:
    """Where ``value`` sits in an earlier result: ``"field"`` (the only value under its key, or a
    short result: "that origin airport" of a reservation), ``"first"`` (the first of a listing:
    "the first table"), or None (deep in a listing: no particular one)."""
    pairs = _keyed(data)
    listing = isinstance(data, (list, str)) or (isinstance(data, dict) and len({k for k, _ in pairs}) == 1)
    if len(pairs) <= 3 and not (listing and len(pairs) > 1):
        return "field"  # a short record; three tables listed are still three
    sv = normalize_text(str(value))
    keys = [k for k, x in pairs if normalize_text(str(x)) == sv]
    if any(sum(1 for k2, _ in pairs if k2 == k) == 1 for k in keys):
        return "field"
    if listing and any(next(normalize_text(str(x)) for k2, x in pairs if k2 == k) == sv for k in keys):
        return "first"  # only of a listing: "the first date" of a reservation means nothing
    return None


def _fill(text: str, st: _Step, root: str = WORKSPACE_ROOT) -> str:
    """An output's ask/refer with its ``{param}`` slots worded from the step's own arguments."""
    return _DOUBLED.sub(r"\1", _fill_slots(text, st, root))


def _fill_slots(text: str, st: _Step, root: str) -> str:
    for param in slots(text):
        if param in st.bound:  # "the primary key of that table", not the value the chain produced
            while "{" + param + "}" in text:  # "linked to the note {key}" + "that note": "linked to that note"
                text = _insert_reference(text, param, st.bound[param][1])
            continue
        value = st.record.arguments.get(param, _default(st.tool, param))
        if value is _MISSING:
            raise SynthesisDrop("dropped_card_slot_unfilled")
        worded = wording(st.card, param, value, f"{root}/{st.record.server}")
        text = text.replace("{" + param + "}", worded if worded is not None
                            else render_value(value, st.record.server, root)[0])
    return text


def _known(steps: list[_Step]) -> set[int]:
    """Nodes whose result a user could work out without tools: a trivial tool whose inputs are
    all stated or come from such steps (a unit conversion of a stated amount)."""
    known: set[int] = set()
    for st in steps:
        if st.card.trivial and all(n in known for n, _ in st.bound.values()):
            known.add(st.step.node)
    return known


def _choose_answers(steps: list[_Step], sinks: set[int], max_fields: int,
                    exclude: set[tuple[str, str]] | None) -> None:
    """Answer facts: the sink steps first, then one upstream step's, so the chain is needed. Only
    information: no echoes of arguments or bound values, nothing a user knows without tools."""
    order = sorted(steps, key=lambda st: (st.step.node not in sinks, -st.step.node))
    records = [st.record for st in steps]
    bound_values = {normalize_text(str(st.record.arguments[p])) for st in steps for p in st.bound}
    known = _known(steps)
    n_fields = 0
    asked: set[str] = set()
    given: set[tuple[str, str]] = set()
    counts_given: set[str] = set()
    trivial_only = False
    for st in order:
        if st.card.use != "answer":
            continue
        if st.step.node in known:
            trivial_only = True
            continue
        for o in st.card.outputs:
            if n_fields >= max_fields or (exclude and (st.record.id, o.key) in exclude):
                continue
            v = fact_value(st.record, o.key)
            if not _good_answer(v) or _echoes(v, records) or normalize_text(str(v)) in bound_values:
                continue
            if (o.name, normalize_text(str(v))) in given:  # the same fact twice, asked two ways
                continue
            counted = isinstance(v, int) and not isinstance(v, bool) and bool(_COUNT.search(f"{o.name} {o.key}"))
            if counted and normalize_text(str(v)) in counts_given:
                continue  # "the count and the number of documents" of one collection: one count, asked twice
            if counted:
                counts_given.add(normalize_text(str(v)))
            given.add((o.name, normalize_text(str(v))))
            ask = _fill(o.ask, st)
            if ask in asked:  # two fields asked the same way would be ambiguous
                continue
            asked.add(ask)
            named = name_from_ask(ask) if o.name in _GENERIC_FIELDS and "{" in o.ask else None
            st.answers.append((o.model_copy(update={"ask": ask, "name": named or o.name}), v))
            n_fields += 1
            if st.step.node not in sinks:
                break
    if n_fields == 0:
        raise SynthesisDrop("dropped_common_knowledge" if trivial_only else "dropped_no_answer")
    if all(isinstance(v, bool) for st in steps for _, v in st.answers):
        raise SynthesisDrop("dropped_guessable")  # yes/no answers only: a coin flip passes too often


def _count_of_own_changes(st: _Step, before: list[_Step]) -> bool:
    """``st`` answers a count (or yes/no) on a server whose state starts empty, after the task's own changes
    on it: everything the server holds then was stated in the question, so the count can be read off it."""
    if not st.card.starts_empty or not any(
            e.record.server == st.record.server and e.card.use != "answer" for e in before):
        return False
    return any(isinstance(v, (int, float)) for _, v in st.answers)


_START = re.compile(r"(^|_)(start|from|begin)|^since$|Start|From", re.I)
_END = re.compile(r"(^|_)(end|to|until)($|_)|End|Until", re.I)
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _reversed_period(st: _Step) -> bool:
    """``st`` counts over a period whose start (an ISO date) lies after its end and answers 0: a count over
    nothing, which a flowed-in date made and no user asks."""
    args = st.record.arguments
    starts = [v for k, v in args.items() if isinstance(v, str) and _ISO_DAY.match(v) and _START.search(k)]
    ends = [v for k, v in args.items() if isinstance(v, str) and _ISO_DAY.match(v) and _END.search(k)
            and not _START.search(k)]
    if not starts or not ends or starts[0][:10] <= ends[0][:10]:
        return False
    return any(v == 0 and not isinstance(v, bool) for _, v in st.answers)


def _undoes(later: CallRecord, earlier: CallRecord) -> bool:
    """``later`` takes back what ``earlier`` did on the same thing (add then remove a note). Both are
    calls (anything with ``server``, ``tool`` and ``arguments``: verify passes reference calls)."""
    if later.server != earlier.server:
        return False
    a, b = earlier.tool.lower(), later.tool.lower()
    same_target = any(earlier.arguments.get(k) == v for k, v in later.arguments.items()
                      if not isinstance(v, (bool, int, float)))
    return same_target and any(x in a and y in b for x, y in _UNDO)


def _rereads(later: CallRecord, earlier: CallRecord) -> bool:
    """``later`` reads again what ``earlier`` read on the same server with the same verb: each of its stated
    values is in one of ``earlier``'s lists (a file read alone after a read of several files that holds it)."""
    if later.server != earlier.server or is_mutating(later.tool, later.arguments) \
            or later.tool.split("_")[0] != earlier.tool.split("_")[0] or is_mutating(earlier.tool, earlier.arguments):
        return False
    seen = {json.dumps(x, sort_keys=True) for v in earlier.arguments.values() if isinstance(v, list) for x in v}
    mine = [v for v in later.arguments.values() if isinstance(v, str) and len(v) > 3]
    return bool(mine) and all(json.dumps(v) in seen for v in mine)


def sandbox_paths(value: str, sandbox: str) -> list[str]:
    """Paths under ``sandbox`` written inside a longer argument (a query's ``read_csv('<sandbox>/data/x.csv')``)."""
    return re.findall(re.escape(sandbox) + r"/[^\s'\"()]+", value)


_SQL_TABLE = re.compile(r"(?i)\b(?:from|join|into|update|alter\s+table|create\s+table)\s+[\"`]?([a-z_][\w]*)")


def _subjects(st: _Step) -> set[str]:
    """What a step works on, as the user states it: its stated string arguments (a repository, a
    file by its name, a text, a date), not enum choices or short words."""
    props = (st.tool.input_schema.get("properties") or {}) if st.tool else {}
    out: set[str] = set()
    for param, value in st.record.arguments.items():
        sch = props.get(param) if isinstance(props.get(param), dict) else {}
        if param in st.bound or "enum" in sch or _default(st.tool, param) == value or _echoed(param, value, st):
            continue  # a tool's own default, or a namespace its result echoes (tau2's state_key): not what
            # the user works on
        for x in value if isinstance(value, list) else [value]:
            if not isinstance(x, str) or len(x.strip()) < 3:
                continue
            x = x.strip()
            out.update(f"table {t.lower()}" for t in _SQL_TABLE.findall(x))  # two questions about the orders table
            if "/" in x and not re.search(r"\s", x):  # a file by its name: the same file in two sandboxes, or a URI
                x = x.rstrip("/").rsplit("/", 1)[-1] or x
            out.add(normalize_text(x))
    return out


def _related(a: _Step, b: _Step, shared: bool, changes: set[int]) -> bool:
    """``a`` (earlier) and ``b`` belong to one request: a value flows between them, they work on the
    same stated thing (``shared``: their :func:`_subjects` meet), ``a`` opened what ``b`` works on, or
    ``a`` changed what ``b`` shows (:func:`_reflected`)."""
    if any(n == a.step.node for n, _ in b.bound.values()) or any(n == b.step.node for n, _ in a.bound.values()):
        return True
    if shared:
        return True
    if a.card.opens and a.record.server == b.record.server:
        return True  # the document the server opened is what its later tools work on
    return a.step.node in changes and _reflected(a, b)


_COUNT = re.compile(r"(?i)count|number|total|how_many|items|entries|results|matches|hits")


def _reflected(change: _Step, later: _Step) -> bool:
    """A later step on the same server shows what the change put there: an answer holds a value the
    change stated (the new heading), or a count is asked of a result that holds a text the change
    wrote ("how many saved notes mention Porto" after saving one).
    A name the change only pointed at (a sheet, a paragraph's anchor) or that the later step states
    itself does not count: the change is part of the request, not a call made beside it."""
    if change.record.server != later.record.server:
        return False
    own = {normalize_text(str(x)) for x in _leaves(later.record.arguments)}
    stated = [x.strip() for x in _leaves(change.record.arguments) if isinstance(x, str) and len(x.strip()) >= 3
              and not x.startswith(WORKSPACE_ROOT) and normalize_text(x) not in own]
    answers = [normalize_text(str(v)) for _, v in later.answers]
    if any(normalize_text(x) in a for x in stated for a in answers):
        return True
    if not any(isinstance(v, int) and not isinstance(v, bool) and _COUNT.search(f"{o.name} {o.key}")
               for o, v in later.answers):
        # a text answer that does not hold the change does not depend on it, nor does a figure that is no count
        # of matches: a price in the report's table is the same with or without the endnote just added
        return False
    text = result_text(later.record.result)  # a count can: "how many saved notes mention Porto"
    return any(len(x.split()) >= 2 and appears_in(x, text) for x in stated)


def _one_request(used: list[_Step], changes: set[int]) -> list[_Step]:
    """The largest group of related steps (:func:`_related`, transitively), by answers then size:
    "check whether 2025-11-20 is a holiday and replace camping in the sheet" is two requests, not one."""
    group = {i: i for i in range(len(used))}

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    subjects = [_subjects(st) for st in used]
    for i, a in enumerate(used):
        for j in range(i + 1, len(used)):
            if _related(a, used[j], bool(subjects[i] & subjects[j]), changes):
                group[root(j)] = root(i)
    parts: dict[int, list[_Step]] = {}
    for i, st in enumerate(used):
        parts.setdefault(root(i), []).append(st)
    best = max(parts.values(), key=lambda p: (sum(len(st.answers) for st in p), len(p), -used.index(p[0])))
    if len(best) < 2 and len(used) >= 2:
        raise SynthesisDrop("dropped_unrelated_steps")
    return best


def _feeds(st: _Step, kept: list[_Step]) -> bool:
    """A step of ``kept`` takes one of its arguments from ``st``'s result."""
    return any(n == st.step.node for k in kept for n, _ in k.bound.values())


def _needed_steps(steps: list[_Step], stateful: set[str]) -> list[_Step]:
    """Steps that answer or feed a later step; a change on a stateful server that does neither is
    kept only for a later call on its server (their replay depends on it), at most one such side
    step per task, and never a change a later step takes back."""
    chained = {st.step.node for st in steps if st.bound} | {n for st in steps for n, _ in st.bound.values()}
    changes = {st.step.node for st in steps if st.record.server in stateful and is_mutating(
        st.record.tool, st.record.arguments, st.tool.annotations if st.tool else None)}
    used = [st for st in steps if st.answers or st.feeds or st.step.node in changes]
    if chained:
        used = [st for st in used if st.step.node in chained or st.step.node in changes]
    kept_rev: list[_Step] = []
    for st in reversed(used):  # a step feeds the task only when a step that stays takes its value
        if st.answers or _feeds(st, kept_rev) or any(k.record.server == st.record.server for k in kept_rev):
            kept_rev.append(st)
    if not kept_rev:
        raise SynthesisDrop("dropped_no_answer")
    used = _one_request(kept_rev[::-1], changes)
    if not any(st.answers for st in used):
        raise SynthesisDrop("dropped_no_answer")
    if len(used) < 2:
        raise SynthesisDrop("dropped_trivial")
    side = [st for st in used if not st.answers and not _feeds(st, used) and not st.card.opens]
    if len(side) > 1:
        raise SynthesisDrop("dropped_side_steps")  # a call script of changes, not a user's goal
    for st in side:  # "unstage everything, then show the diff": the answer does not depend on the change
        if not any(_reflected(st, later) for later in used[used.index(st) + 1:] if later.answers):
            raise SynthesisDrop("dropped_pointless_change")
    if any(_undoes(b.record, a.record) for i, a in enumerate(used) for b in used[i + 1:]):
        raise SynthesisDrop("dropped_undone_change")
    if any(_rereads(b.record, a.record) for i, a in enumerate(used) for b in used[i + 1:]):
        raise SynthesisDrop("dropped_repeated_read")  # "read A and B together and read B"
    return used


def _literal(st: _Step, param: str, goal: str, root: str, folders: list[str], places: list[str]) -> str:
    """How the user states an argument: the card's wording (a path worded by name also says where
    it is), else the value as written (a file by its name, the folder said once)."""
    value = st.record.arguments[param]
    sandbox = f"{root}/{st.record.server}"
    worded = wording(st.card, param, value, sandbox)
    if worded is not None:
        if isinstance(value, str) and value.startswith(sandbox) and value not in worded:
            if worded.lower().startswith("my "):
                if sandbox not in folders:
                    folders.append(sandbox)
            else:
                place = f"{worded[:1].upper()}{worded[1:]} is at {value}."
                if place not in places:
                    places.append(place)  # "the lumen-shop repository" must be findable
        elif isinstance(value, str) and sandbox in value:  # a query reading orders.csv: say where it is
            for path in sandbox_paths(value, sandbox):
                folder = path.rsplit("/", 1)[0]
                if folder not in folders:
                    folders.append(folder)
        return worded
    text, folder = render_value(value, st.record.server, root)
    if folder and folder not in folders:
        folders.append(folder)
    at = goal.find("{" + param + "}")
    quoted = at > 0 and goal[at - 1:at] in "\"'“"
    if isinstance(value, str) and not folder and not quoted and len(text.split()) > 3:
        text = f'"{text}"'  # a sentence given as a value reads as a quotation
    return text


def _goal(st: _Step, root: str, folders: list[str], places: list[str]) -> str:
    """The step's card goal with its slots filled: a reference, the user's statement of a literal,
    or the tool's default."""
    goal = st.card.goal
    for param in slots(goal):
        if param in st.bound:
            goal = _insert_reference(goal, param, st.bound[param][1])
            continue
        if param in st.record.arguments:
            text = _literal(st, param, goal, root, folders, places)
        else:
            d = _default(st.tool, param)
            if d is _MISSING:
                raise SynthesisDrop("dropped_card_slot_unfilled")
            text, _ = render_value(d, st.record.server, root)
        goal = goal.replace("{" + param + "}", text)
    return goal


def _question(used: list[_Step], rng: random.Random, root: str) -> str:
    goals: list[tuple[str, bool]] = []
    folders: list[str] = []
    places: list[str] = []
    for st in used:
        goals.append((_goal(st, root, folders, places), bool(st.bound)))
    asks = [o.ask for st in reversed(used) for o, _ in st.answers]
    shape, name = rng.choice(_SHAPES)
    if name == "need" and any(ANSWER_FIRST_REFERENCE.search(a) for a in asks):
        shape = _SHAPES[0][0]  # "I need to know that date's week: ..." would name "that date" before it is found
    g = _join_goals(goals)
    if asks and all(a.lower() in g.lower() for a in asks):
        shape = "{G}."  # "work out the total revenue of all orders": the goal already asks for what it tells
    question = shape.format(G=g[:1].upper() + g[1:], g=g, A=_and(asks))
    if places:
        subjects = [pl.split(" is at ")[0] for pl in places]
        if len(set(subjects)) < len(subjects):  # "the repository" at two places: which one?
            raise SynthesisDrop("dropped_ambiguous_reference")
        question += " " + " ".join(places)
    if folders:
        question += " My files are in " + _and(folders) + "."
    return question[:1].upper() + question[1:]


def synthesize_task(exp: Exploration, tools: dict[tuple[str, str], ToolSpec], seed: int = 0,
                    provenance: dict[str, Any] | None = None, max_fields: int = 3,
                    cards: dict[tuple[str, str], ToolCard] | None = None,
                    stateful_servers: set[str] | None = None, exclude: set[tuple[str, str]] | None = None,
                    root: str = WORKSPACE_ROOT) -> Task:
    """Write one task backward from an exploration.

    Raises :class:`SynthesisDrop` with the reason when the exploration cannot give a user's task.
    ``exclude``: (record id, fact key) pairs not to use as answers (volatile fields)."""
    rng = random.Random(f"{seed}:{exp.plan.id}:synth")
    steps = _card_steps(exp, tools, cards or {})
    _bind_arguments(steps)
    sinks = {d for _, d in exp.plan.edges} - {s for s, _ in exp.plan.edges}
    _choose_answers(steps, sinks, max_fields, exclude)
    used = _needed_steps(steps, stateful_servers or set())
    if all(isinstance(v, bool) for st in used for _, v in st.answers):
        raise SynthesisDrop("dropped_guessable")  # the request kept asks only yes/no: a coin flip passes
    if any(_count_of_own_changes(st, used[:i]) for i, st in enumerate(used)):
        raise SynthesisDrop("dropped_guessable")  # "save these 2 notes ... how many mention P-104": the question says
    by_node = {st.step.node: st for st in steps}
    if any(by_node[n].record.tool in st.card.decided_by for st in used if st.answers
           for n, _ in st.bound.values() if n in by_node):
        raise SynthesisDrop("dropped_guessable")  # "list the holidays, then check that the second is a holiday"
    if any(_reversed_period(st) for st in used):
        raise SynthesisDrop("dropped_reversed_period")  # "business days from 2025-12-26 up to 2025-12-01": 0
    question = _question(used, rng, root)
    # the answer schema, in the user's terms
    used_names: set[str] = {t[1] for t in tools} | {s for s, _ in tools}
    props: dict[str, Any] = {}
    answer: dict[str, Any] = {}
    sources: dict[str, Any] = {}
    for st in reversed(used):
        for o, v in st.answers:
            name = _field_name("", o.name, used_names)
            props[name] = _prop(v, o.ask)
            answer[name] = v
            sources[name] = {"call": st.record.id, "key": o.key}
    schema = {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
    template = "\n".join(f"{n}: {{{n}}}" for n in props)
    plan = exp.plan
    reference = [st.record for st in used]
    card_kinds = sorted({st.card.source for st in used})
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
        provenance={**(provenance or {}), "synthesizer": "cards", "answer_sources": sources,
                    "cards": card_kinds,
                    "bound_arguments": [{"call": st.record.id, "param": p, "from_node": n}
                                        for st in used for p, (n, _) in st.bound.items()]},
    )
