"""Verification filters; each one counts what it drops."""

from __future__ import annotations

import copy
import re
from collections import Counter
from typing import Any

from firefly_eval.cards import ToolCard, derived_card, slots, wording
from firefly_eval.facts import appears_in, error_reason
from firefly_eval.generation.sheet_edits import misplaced_sheet_edits
from firefly_eval.generation.synthesize import (
    ANSWER_FIRST_REFERENCE,
    WORKSPACE_ROOT,
    SynthesisDrop,
    fact_value,
    render_value,
    sandbox_paths,
    value_in_text,
)
from firefly_eval.grading import grade, normalize_text
from firefly_eval.schema import CallRecord, Task, ToolSpec, result_text
from firefly_eval.simulator import CallIndex, Simulator

__all__ = ["Verifier", "ambiguous_references", "answer_problems", "decided_answers", "files_as_folders", "hidden_paths",
           "leaks", "misplaced_edits", "name_leaks", "perturb", "repeated_steps", "self_check", "self_contained",
           "unordered_references"]

_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[_.\-/][A-Za-z0-9]+)+|[a-z]+[A-Z][A-Za-z0-9]*")
_SCRIPT = re.compile(r"`|\b[A-Za-z_][\w.]*\s?=\s?\S|\b(use|call|run|invoke) (the )?\w+ (tool|server|function)\b",
                     re.IGNORECASE)
_FORMAT_KEY = re.compile(r"(^|\.)(lines|line\[0\])$|^len(\(|$)")
_HOST = re.compile(r"(/root\b|/home/\w+|\bPATH=|/usr/(local/)?bin|HOME=|/opt/|\.venv|site-packages)")


def _identifiers(task: Task, tools: dict[tuple[str, str], ToolSpec]) -> tuple[set[str], set[str]]:
    """Names a question must not use: identifier-like tool, server and parameter names (``week_number``,
    ``getUser``, ``tau2airline``); and plain-word tool and server names (``add``, ``memory``), which
    count only when the question calls them a tool or server."""
    idents: set[str] = set()
    words: set[str] = set()
    for server, tool in task.tools:
        for name in (tool, server):
            (idents if _IDENT.fullmatch(name) or not name.isalpha() else words).add(name.lower())
        spec = tools.get((server, tool))
        for p in ((spec.input_schema or {}).get("properties") or {}) if spec else {}:
            if _IDENT.fullmatch(p):
                idents.add(p.lower())
    return {n for n in idents if len(n) >= 3}, {n for n in words if len(n) >= 3}


def name_leaks(task: Task, tools: dict[tuple[str, str], ToolSpec]) -> list[str]:
    """Tool, server or parameter names (and call-script syntax) in the question or the answer field names."""
    problems: list[str] = []
    q = task.question.lower()
    tokens = set(re.findall(r"[\w.\-/]+", q)) | set(re.findall(r"\w+", q))
    idents, words = _identifiers(task, tools)
    fields = {f.lower() for f in task.answer}
    for name in sorted(idents):
        if name in tokens or name in q.replace(" ", ""):
            problems.append(f"question names {name!r}")
    for name in sorted(words):
        if re.search(rf"\b{re.escape(name)} (tool|server|function|endpoint)\b|\b(tool|server|function) {re.escape(name)}\b", q):
            problems.append(f"question names the {name!r} tool or server")
    for name in sorted(idents | words):
        if name in fields:
            problems.append(f"answer field {name!r} is a tool, server or parameter name")
    m = _SCRIPT.search(task.question)
    if m:
        problems.append(f"question reads as a call script ({m.group(0)!r})")
    return problems


_DOUBLE_WORD = re.compile(r"\b(\w{2,}) \1\b", re.I)
# "I need who last changed ..." (a wh-clause where a noun belongs); "the note that note's points to" (a
# possessive with no noun after it); "linked to the note that note" (a reference pasted into the slot of a
# noun phrase that already names the thing): wordings written before synthesis said "I need to know" and
# "that note", and placed references in answer asks as in goals; "save that new file" (a new thing's name
# is the user's choice, never a reference); "convert the time the date of ..." (a date where a time belongs)
_UNGRAMMATICAL = re.compile(r"\bI need (?:who|how|which|what|whether|when|where)\b|\b\w+'s(?=\s*[.,;:?!]|\s+points\b)"
                            r"|\bthe (\w+) that \1\b|\bthat new\b|\bthe time (?:the|that)\b")


_ASKING = re.compile(r"\b(?:tell me|let me know|I'd like to know|I need to know)\b", re.IGNORECASE)


def broken_wording(task: Task) -> list[str]:
    """A word twice in a row in the question or an answer description ("the the first table table", "the
    first note note"): a reference or a value filled into a template that already said it; a
    wording that does not parse (:data:`_UNGRAMMATICAL`); a question that asks twice (a card goal that
    said "tell me" before the question's own ask); answers asked first that refer to what a later
    step finds ("I need to know the week of that date: ..."); or a negative answer asked "between" two
    things with no direction (its sign is the reader's guess)."""
    texts = [task.question] + [str(p.get("description", "")) for p in
                               (task.answer_schema.get("properties") or {}).values() if isinstance(p, dict)]
    problems = [f"{m.group(0)!r} in {t[:60]!r}" for t in texts for rx in (_DOUBLE_WORD, _UNGRAMMATICAL)
                for m in rx.finditer(t)]
    asks = _ASKING.findall(task.question)
    if len(asks) > 1:  # "... and tell me how many slides it has, and let me know how many slides it has"
        problems.append(f"asks twice: {asks}")
    head = re.match(r"I need to know (.+?): ", task.question)
    if head and ANSWER_FIRST_REFERENCE.search(head.group(1)):  # "I need to know that date's week: ..."
        problems.append(f"answers asked before what they refer to: {head.group(1)[:60]!r}")
    props = task.answer_schema.get("properties") or {}
    for name, value in task.answer.items():  # "the number of days between the two dates" = -2: which sign?
        desc = str((props.get(name) or {}).get("description", "")) if isinstance(props.get(name), dict) else ""
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0 \
                and re.search(r"\bbetween\b", desc) and not re.search(r"negative|minus|sign", desc):
            problems.append(f"{name}: a negative {value} asked as {desc!r} (no direction)")
    return problems


def _stated(value: Any, server: str, padded_q: str, raw_q: str, worded: str | None) -> bool:
    if worded is not None:  # a wording may open the sentence ("Add a stock column ...")
        return worded.lower() in raw_q.lower()
    try:
        text, folder = render_value(value, server, WORKSPACE_ROOT)
    except SynthesisDrop:
        return False
    if folder and folder not in raw_q:
        return False
    nt = normalize_text(text)
    return bool(nt) and (f" {nt} " in padded_q or nt in padded_q)


def _implied_by_goal(card: ToolCard | None, param: str, value: Any) -> bool:
    """The card's goal has no slot for ``param`` and every example call of the card passes ``value``:
    the goal is written for that value (a date tool's ``action="diff"`` behind "count the days
    between ..."), so the question states it by stating the goal."""
    if card is None or card.source == "derived" or param in slots(card.goal):
        return False
    seen = [a[param] for a in card.args if param in a]
    return bool(seen) and len(seen) == len(card.args) and all(x == value for x in seen)


def self_contained(task: Task, calls: dict[str, CallRecord], tools: dict[tuple[str, str], ToolSpec],
                   cards: dict[tuple[str, str], ToolCard] | None = None) -> list[str]:
    """Every argument of every reference call is stated in the question, returned by an earlier
    reference call, or the tool's default; the problems otherwise."""
    problems: list[str] = []
    padded = f" {normalize_text(task.question)} "
    earlier: list[str] = []
    for ref_id, ref in zip(task.reference_calls, task.reference_arguments, strict=False):
        spec = tools.get((ref["server"], ref["tool"]))
        card = (cards or {}).get((ref["server"], ref["tool"])) or (derived_card(spec) if spec else None)
        props = ((spec.input_schema or {}).get("properties") or {}) if spec else {}
        for param, value in ref["arguments"].items():
            sch = props.get(param) if isinstance(props.get(param), dict) else {}
            if "default" in sch and sch["default"] == value:
                continue
            if _implied_by_goal(card, param, value):
                continue  # "count the days between {date} and {date2}" is the card's goal for action=diff
            sv = str(value).strip() if not isinstance(value, (dict, list)) else ""
            if sv and any(appears_in(sv, t) for t in earlier):
                continue  # produced by an earlier reference call
            worded = wording(card, param, value, f"{WORKSPACE_ROOT}/{ref['server']}")
            if not _stated(value, ref["server"], padded, task.question, worded):
                problems.append(f"{ref['tool']}: argument {param} is neither stated, produced earlier nor default")
        rec = calls.get(ref_id)
        if rec is not None:
            earlier.append(result_text(rec.result))
    return problems


def answer_problems(task: Task, calls: dict[str, CallRecord]) -> list[str]:
    """Answer fields that are no information: from an error, a formatting fact, the host environment."""
    problems: list[str] = []
    for name, src in task.provenance.get("answer_sources", {}).items():
        rec = calls.get(src.get("call", ""))
        if rec is None:
            problems.append(f"{name}: source call missing")
            continue
        if error_reason(rec.result, rec.is_error):
            problems.append(f"{name}: taken from an error result")
        if _FORMAT_KEY.search(str(src.get("key", ""))):
            problems.append(f"{name}: a formatting fact ({src.get('key')})")
        if _HOST.search(str(task.answer.get(name, ""))):
            problems.append(f"{name}: the host environment")
    return problems


def misplaced_edits(task: Task) -> list[str]:
    """Spreadsheet edits of the seed world's workbook beside or over its data
    (:func:`~firefly_eval.generation.sheet_edits.misplaced_sheet_edits`)."""
    from firefly_eval.world import build_world

    if not any("sheet" in (ref.get("arguments") or {}) for ref in task.reference_arguments):
        return []
    return misplaced_sheet_edits(task, build_world(), WORKSPACE_ROOT)


_FOLDER_SLOT = re.compile(r"\b(?:folder|directory|dir)\s+\{(\w+)\}")
_FILE_NAME = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,4}$")


def files_as_folders(task: Task, cards: dict[tuple[str, str], ToolCard]) -> list[str]:
    """A file name given where the card's goal names a folder ("make a copy of the repository in the folder
    prices.csv"): the explorer took a name of the world for a path of another kind."""
    problems = []
    for ref in task.reference_arguments:
        card = cards.get((ref["server"], ref["tool"]))
        for param in _FOLDER_SLOT.findall(card.goal if card else ""):
            value = (ref.get("arguments") or {}).get(param)
            if isinstance(value, str) and _FILE_NAME.search(value.rstrip("/")):
                problems.append(f"{ref['tool']}: the file name {value!r} given as the folder {param}")
    return problems


def hidden_paths(task: Task, root: str = WORKSPACE_ROOT) -> list[str]:
    """Files a reference call reads from inside a longer argument (a query's ``read_csv('.../data/orders.csv')``)
    that the question does not say where to find: neither the path, its folder with its name, nor the
    server's folder with the path inside it (a value an earlier call gave is not the user's to locate)."""
    problems = []
    q = task.question
    bound = {(b.get("call"), b.get("param")) for b in task.provenance.get("bound_arguments") or []}
    for call, ref in zip(task.reference_calls, task.reference_arguments, strict=False):
        sandbox = f"{root}/{ref['server']}"
        for param, value in (ref.get("arguments") or {}).items():
            if not isinstance(value, str) or sandbox not in value or (call, param) in bound:
                continue
            for path in sandbox_paths(value, sandbox):
                folder, name = path.rsplit("/", 1)
                rel = path[len(sandbox) + 1:]
                if not (path in q or (folder in q and name in q) or (sandbox in q and rel in q)):
                    problems.append(f"{ref['tool']}: reads {path}, which the question does not locate")
    return problems


_THAT_NOUN = re.compile(r"\bthat (\w+)")


def _thing(value: Any) -> Any:
    """What an argument names: a path by its file name (one file in two servers' sandboxes is one file)."""
    return value.rstrip("/").rsplit("/", 1)[-1] if isinstance(value, str) and "/" in value else value


def ambiguous_references(task: Task) -> list[str]:
    """Two answers that say "that <noun>" of one server's calls on different things ("how many comments
    that paragraph has" of paragraph 3 and "the text of that paragraph" of paragraph 4): the reader
    cannot tell which is meant."""
    props = task.answer_schema.get("properties") or {}
    refs = dict(zip(task.reference_calls, task.reference_arguments, strict=False))
    args = {c: r.get("arguments") or {} for c, r in refs.items()}
    said: dict[str, tuple[str, str]] = {}
    problems = []
    for name, src in task.provenance.get("answer_sources", {}).items():
        desc = str((props.get(name) or {}).get("description", "")) if isinstance(props.get(name), dict) else ""
        call = src.get("call", "")
        for noun in set(_THAT_NOUN.findall(desc)):
            first, first_name = said.setdefault(noun, (call, name))
            if first != call and (refs.get(first) or {}).get("server") == (refs.get(call) or {}).get("server"):
                a, b = args.get(first, {}), args.get(call, {})
                differ = [k for k in a.keys() & b.keys() if _thing(a[k]) != _thing(b[k])]
                if differ:
                    problems.append(f"'that {noun}' in {first_name} and {name} means calls on different {differ[0]}")
    return problems


def repeated_steps(task: Task) -> list[str]:
    """Reference calls that read again what an earlier one read, or take back an earlier change (the
    synthesis checks ``_rereads``/``_undoes``, for tasks written before them)."""
    from types import SimpleNamespace

    from firefly_eval.generation.synthesize import _rereads, _undoes

    calls = [SimpleNamespace(server=r["server"], tool=r["tool"], arguments=r.get("arguments") or {})
             for r in task.reference_arguments]
    return [f"{b.tool} repeats or undoes {a.tool}" for i, a in enumerate(calls) for b in calls[i + 1:]
            if _rereads(b, a) or _undoes(b, a)]


def _bound_producers(task: Task) -> list[tuple[dict[str, Any], tuple[str, str]]]:
    """Each argument binding of ``task`` with the (server, tool) of the DAG node its value came from."""
    nodes = (task.dag or {}).get("nodes") or []
    return [(b, (nodes[src][0], nodes[src][1])) for b in task.provenance.get("bound_arguments") or []
            if isinstance(src := b.get("from_node"), int) and 0 <= src < len(nodes)]


def unordered_references(task: Task, cards: dict[tuple[str, str], ToolCard]) -> list[str]:
    """A value taken from a listing whose card refers to it by position ("that first note", "the latest commit
    that touched that file") but which the question calls otherwise ("that note", "the newest commit": written
    before the card said so; a search of two notes left it open)."""
    from firefly_eval.generation.synthesize import _reference_phrase

    q = task.question.lower()
    problems = []
    for _, producer in _bound_producers(task):
        card = cards.get(producer)
        refers = [_reference_phrase(o.refer).lower() for o in (card.outputs if card else [])
                  if o.refer and re.search(r"\b(first|latest)\b", o.refer) and not slots(o.refer)]
        if refers and not any(r in q for r in refers):
            problems.append(f"{card.tool}: its listed item is not referred to by position ({refers[0]!r})")
    return problems


def decided_answers(task: Task, cards: dict[tuple[str, str], ToolCard]) -> list[str]:
    """Answers of a call whose input came from a tool its card says decides them (a card's ``decided_by``:
    "find the next business day, then check whether that day is a holiday" is always false)."""
    answered = {src.get("call") for src in task.provenance.get("answer_sources", {}).values()}
    tools = {c: (r["server"], r["tool"]) for c, r in zip(task.reference_calls, task.reference_arguments, strict=False)}
    problems = []
    for b, (_, producer) in _bound_producers(task):
        card = cards.get(tools.get(b.get("call"), ("", "")))
        if card and b.get("call") in answered and producer in card.decided_by:
            problems.append(f"{card.tool}: its answer is decided by {producer}'s result")
    return problems


def leaks(task: Task) -> list[str]:
    """Answer fields whose gold value appears in the question."""
    q = f" {normalize_text(task.question)} "
    return [name for name, v in task.answer.items() if value_in_text(v, q)]


def perturb(answer: dict[str, Any], field: str) -> dict[str, Any]:
    """Copy of ``answer`` with one field changed to a clearly different value."""
    out = copy.deepcopy(answer)
    v = out[field]
    if isinstance(v, bool):
        out[field] = not v
    elif isinstance(v, (int, float)):
        out[field] = v * 2 + 7
    elif isinstance(v, str):
        out[field] = v + " qz"
    else:
        out[field] = None
    return out


def self_check(task: Task) -> str | None:
    """Gold passes, empty fails, one-field perturbations fail. Returns the failure reason."""
    try:
        if not grade(task.answer, task.answer, task.answer_schema).passed:
            return "gold answer does not pass"
    except ValueError as exc:
        return str(exc)
    if grade({}, task.answer, task.answer_schema).passed:
        return "empty answer passes"
    defaults = {k: ("" if p.get("type") == "string" else 0) for k, p in task.answer_schema["properties"].items()}
    if grade(defaults, task.answer, task.answer_schema).passed:
        return "default answer passes"
    for f in task.answer:
        if grade(perturb(task.answer, f), task.answer, task.answer_schema).passed:
            return f"perturbed field {f} passes"
    return None


class Verifier:
    """Runs the filters over synthesized tasks, counting drops per reason."""

    def __init__(self, stateful_servers: set[str], tools: dict[tuple[str, str], ToolSpec] | None = None,
                 cards: dict[tuple[str, str], ToolCard] | None = None) -> None:
        self.stateful = stateful_servers
        self.tools = tools or {}
        self.cards = cards or {}
        self.counts: Counter[str] = Counter()
        self.reasons: list[str] = []

    def oracle_replay(self, task: Task, calls: list[CallRecord]) -> str | None:
        """Replaying the reference calls through the simulator (exact tier) reproduces the gold."""
        by_id = {c.id: c for c in calls}
        # the same simulator configuration the harness uses (tool specs: annotations, validation)
        sim = Simulator(CallIndex(calls), tools=self.tools, tiers=frozenset({"exact"}), stateful_servers=self.stateful)
        ep = sim.episode()
        replayed: dict[str, CallRecord] = {}
        for ref_id, ref in zip(task.reference_calls, task.reference_arguments, strict=False):
            ans = ep.call(ref["server"], ref["tool"], ref["arguments"])
            if ans.tier != "exact":
                return f"reference call {ref['tool']} did not replay exactly ({ans.tier})"
            orig = by_id[ref_id]
            replayed[ref_id] = orig.model_copy(update={"result": ans.result})
        sources = task.provenance.get("answer_sources", {})
        for name, gold in task.answer.items():
            src = sources.get(name)
            if src is None:
                return f"field {name} has no source"
            if src["call"] not in replayed:
                return f"field {name} comes from a call outside the reference calls"
            value = fact_value(replayed[src["call"]], src["key"])
            if not grade({name: value}, {name: gold},
                         {"type": "object", "properties": {name: task.answer_schema["properties"][name]},
                          "required": [name]}).passed:
                return f"replayed value of {name} differs"
        return None

    def check(self, task: Task | None, calls: list[CallRecord], volatile_fields: set[str]) -> Task | None:
        if task is None:
            self.counts["dropped_no_task"] += 1
            return None
        if volatile_fields & set(task.answer):
            # the card synthesizer is re-run without volatile facts before this check (the question
            # then asks for the others); a task still holding one is dropped, never silently trimmed
            self.counts["dropped_volatile"] += 1
            self.reasons.append(f"dropped_volatile: {sorted(volatile_fields & set(task.answer))}")
            return None
        if not task.answer:
            self.counts["dropped_volatile"] += 1
            return None
        by_id = {c.id: c for c in calls}
        for counter, found in (("dropped_leak", leaks(task)), ("dropped_name_leak", name_leaks(task, self.tools)),
                               ("dropped_broken_wording", broken_wording(task)),
                               ("dropped_ambiguous_reference", ambiguous_references(task)),
                               ("dropped_misplaced_edit", misplaced_edits(task) + files_as_folders(task, self.cards)),
                               ("dropped_not_information", answer_problems(task, by_id)),
                               ("dropped_not_self_contained", self_contained(task, by_id, self.tools, self.cards)
                                + hidden_paths(task))):
            if found:
                self.counts[counter] += 1
                self.reasons.append(f"{counter}: {found[0]}")
                return None
        reason = self_check(task)
        if reason:
            self.counts["dropped_self_check"] += 1
            return None
        reason = self.oracle_replay(task, calls)
        if reason:
            self.counts["dropped_oracle_replay"] += 1
            return None
        # (questions are deduplicated across plans when the run's shards are collected)
        task.quality = {"filters": ["volatility", "leak", "name_leak", "wording", "information", "self_contained",
                                    "self_check", "oracle_replay"], "oracle": "pass"}
        self.counts["kept"] += 1
        return task
