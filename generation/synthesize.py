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

import random
import re
from dataclasses import dataclass, field
from typing import Any

from firefly_eval.cards import OutputCard, ToolCard, derived_card, slots, wording
from firefly_eval.facts import (
    UUIDISH,
    Fact,
    appears_in,
    coerce,
    error_reason,
    extract_facts,
    fact_value,
    parse_result,
)
from firefly_eval.generation.explore import Exploration, StepResult
from firefly_eval.grading import normalize_text
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
                and not UUIDISH.search(s) and error_reason({"content": [{"type": "text", "text": s}]}) is None)
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
        if any(normalize_text(str(x)) == sv for x in _leaves(parse_result(st.record.result))):
            return st, None
        raw = str(value).strip()
        if _HANDLE.match(raw) and appears_in(raw, result_text(st.record.result)):
            return st, None
    return None


def _derived_outputs(rec: CallRecord) -> list[OutputCard]:
    """Answer facts of a tool without a card: the scalar fields of its result, named by their keys."""
    outs = []
    for f in extract_facts(rec)[:4]:
        words = re.sub(r"[^a-z0-9]+", " ", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", f.key).lower()).strip()
        if not words or words in ("text", "value", "0"):
            words = "result"
        name = _FIELD.sub("_", words).strip("_")[:40] or "result"
        outs.append(OutputCard(key=f.key, name=name if name[0].isalpha() else f"value_{name}"[:40],
                               ask=f"the {words}", refer=f"that {words}"))
    return outs


def _default(tool: ToolSpec | None, param: str) -> Any:
    props = ((tool.input_schema or {}).get("properties") or {}) if tool else {}
    sch = props.get(param) if isinstance(props.get(param), dict) else {}
    return sch.get("default", _MISSING)


_MISSING = object()

_SHAPES = [
    ("{G}. Tell me {A}.", "sentence"),
    ("Could you {g}? I'd like to know {A}.", "question"),
    ("Please {g}, and let me know {A}.", "request"),
    ("I need {A}: {g}.", "need"),
]


def _insert_reference(goal: str, param: str, phrase: str) -> str:
    """Put a reference ("that sheet name") where a goal expects a value: "the {x} sheet" reads
    "that sheet", not "the that sheet name sheet"."""
    slot = "{" + param + "}"
    m = re.search(rf"(\bthe\s+)?{re.escape(slot)}(\s+(\w+))?", goal)
    if not m:
        return goal
    words = set(phrase.lower().split())
    after = m.group(2) or ""
    if m.group(3) and m.group(3).lower() in words:
        after = ""  # "the {sheet} sheet" + "that sheet name" -> "that sheet name"
    return goal[:m.start()] + phrase + after + goal[m.end():]


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


def synthesize_task(exp: Exploration, tools: dict[tuple[str, str], ToolSpec], seed: int = 0,
                    provenance: dict[str, Any] | None = None, max_fields: int = 3,
                    cards: dict[tuple[str, str], ToolCard] | None = None,
                    stateful_servers: set[str] | None = None, exclude: set[tuple[str, str]] | None = None,
                    root: str = WORKSPACE_ROOT) -> Task:
    """Write one task backward from an exploration.

    Raises :class:`SynthesisDrop` with the reason when the exploration cannot give a user's task.
    ``exclude``: (record id, fact key) pairs not to use as answers (volatile fields)."""
    rng = random.Random(f"{seed}:{exp.plan.id}:synth")
    cards = cards or {}
    stateful = stateful_servers or set()
    position = {c.id: i for i, c in enumerate(exp.calls)}
    ok = sorted((s for s in exp.steps if s.record is not None
                 and error_reason(s.record.result, s.record.is_error) is None),
                key=lambda s: position.get(s.record.id, 0) if s.record else 0)  # call order
    if len(ok) < 2:
        raise SynthesisDrop("dropped_trivial")
    steps: list[_Step] = []
    for s in ok:
        rec = s.record
        assert rec is not None
        tool = tools.get((rec.server, rec.tool))
        card = cards.get((rec.server, rec.tool)) or (derived_card(tool) if tool else None)
        if card is None or card.use == "never":
            raise SynthesisDrop("dropped_never_tool")
        if card.source == "derived":  # no card: the result's own scalar fields are the facts
            card = card.model_copy(update={"outputs": _derived_outputs(rec) or card.outputs})
        steps.append(_Step(s, rec, card, tool))
    # where each argument comes from: an earlier step's result (by meaning), or the user
    for i, st in enumerate(steps):
        for param, value in st.record.arguments.items():
            prod = _producer(value, steps[:i])
            if prod is None:
                continue
            src, out = prod
            if param not in st.step.bound and out is None:
                continue  # a value the user states (a file name, a date) that an earlier text also shows
            phrase = out.refer if out and out.refer else None
            if phrase is None:  # the card of the consumer says what the value is: "the sheet" -> "that sheet"
                noun = st.card.inputs.get(param) or "result"
                phrase = "that " + re.sub(r"^(the|a|an|that)\s+", "", noun)
            st.bound[param] = (src.step.node, phrase)
            src.feeds = True
    # answer facts: the sink steps first, then one upstream step's, so the chain is needed
    sinks = {d for _, d in exp.plan.edges} - {s for s, _ in exp.plan.edges}
    order = sorted(steps, key=lambda st: (st.step.node not in sinks, -st.step.node))
    records = [st.record for st in steps]
    bound_values = {normalize_text(str(st.record.arguments[p])) for st in steps for p in st.bound}
    n_fields = 0
    asked: set[str] = set()
    for st in order:
        if st.card.use != "answer":
            continue
        for o in st.card.outputs:
            if n_fields >= max_fields or (exclude and (st.record.id, o.key) in exclude):
                continue
            v = fact_value(st.record, o.key)
            if not _good_answer(v) or _echoes(v, records) or normalize_text(str(v)) in bound_values:
                continue
            if o.ask in asked:  # two fields asked the same way would be ambiguous
                continue
            asked.add(o.ask)
            st.answers.append((o, v))
            n_fields += 1
            if st.step.node not in sinks:
                break
    if n_fields == 0:
        raise SynthesisDrop("dropped_no_answer")
    if all(isinstance(v, bool) for st in steps for _, v in st.answers):
        raise SynthesisDrop("dropped_guessable")  # yes/no answers only: a coin flip passes too often
    # steps that neither answer nor feed a later step are not needed (unless their server keeps state);
    # when some step uses an earlier result, stateless steps outside such a chain are left out too
    chained = {st.step.node for st in steps if st.bound} | {n for st in steps for n, _ in st.bound.values()}
    used = [st for st in steps if st.answers or st.feeds or st.record.server in stateful]
    if chained:
        used = [st for st in used if st.step.node in chained or st.record.server in stateful]
    # a change that neither answers nor feeds matters only to later calls on its server (their replay
    # depends on it); walking back, drop it when none is left
    kept_rev: list[_Step] = []
    for st in reversed(used):
        if st.answers or st.feeds or any(k.record.server == st.record.server for k in kept_rev):
            kept_rev.append(st)
    used = kept_rev[::-1]
    if not any(st.answers for st in used):
        raise SynthesisDrop("dropped_no_answer")
    if len(used) < 2:
        raise SynthesisDrop("dropped_trivial")
    # the question: each step's goal with its slots filled
    goals: list[tuple[str, bool]] = []
    folders: list[str] = []
    for st in used:
        goal = st.card.goal
        for param in slots(goal):
            if param in st.bound:
                text = st.bound[param][1]
            elif param in st.record.arguments:
                value = st.record.arguments[param]
                worded = wording(st.card, param, value, f"{root}/{st.record.server}")
                if worded is not None:
                    text = worded
                else:
                    text, folder = render_value(value, st.record.server, root)
                    if folder and folder not in folders:
                        folders.append(folder)
                    at = goal.find("{" + param + "}")
                    quoted = goal[at - 1:at] in "\"'“" and at > 0
                    if isinstance(value, str) and not folder and not quoted and len(text.split()) > 3:
                        text = f'"{text}"'  # a sentence given as a value reads as a quotation
            else:
                d = _default(st.tool, param)
                if d is _MISSING:
                    raise SynthesisDrop("dropped_card_slot_unfilled")
                text, _ = render_value(d, st.record.server, root)
            if param in st.bound:
                goal = _insert_reference(goal, param, text)
            else:
                goal = goal.replace("{" + param + "}", text)
        goals.append((goal, bool(st.bound)))
    asks = [o.ask for st in reversed(used) for o, _ in st.answers]
    shape, _name = rng.choice(_SHAPES)
    g = _join_goals(goals)
    question = shape.format(G=g[:1].upper() + g[1:], g=g, A=_and(asks))
    if folders:
        question += " My files are in " + _and(folders) + "."
    question = question[:1].upper() + question[1:]
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
