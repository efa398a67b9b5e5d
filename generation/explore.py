"""Exploration of a plan on live servers: the offline schema-guided explorer.

For each node in topological order the explorer fills the required parameters: values bound
from predecessors' outputs (the graph's data-flow concept), then schema enums/defaults/examples,
then the value bank (the server's own listings, the seed world for the servers that use it, earlier
outputs). An error result triggers repair: the next
candidate value for the parameter the error names (or the next combination), at most
``max_repairs`` times. Every call, failed or not, is recorded.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from firefly_eval.cards import ToolCard
from firefly_eval.facts import fact_value, parse_result, succeeded
from firefly_eval.generation.graph import (
    POSITION_PARAM,
    listed_concept,
    param_concept,
    same_kind_of_id,
    same_thing,
)
from firefly_eval.generation.sampling import flows_between
from firefly_eval.generation.values import ValueBank, deref, extract_values
from firefly_eval.mcp.client import ServerError
from firefly_eval.mcp.fleet import Fleet
from firefly_eval.mutation import is_mutating
from firefly_eval.schema import CallRecord, Plan, ToolSpec

__all__ = ["Exploration", "StepResult", "explore_plan", "succeeded"]


@dataclass
class StepResult:
    node: int
    record: CallRecord | None  # the successful call, if any
    attempts: list[CallRecord] = field(default_factory=list)
    bound: dict[str, int] = field(default_factory=dict)  # param -> predecessor node it came from


@dataclass
class Exploration:
    plan: Plan
    steps: list[StepResult]
    calls: list[CallRecord]
    infra_errors: list[str] = field(default_factory=list)

    @property
    def ok_steps(self) -> list[StepResult]:
        return [s for s in self.steps if s.record is not None]


def _topo(plan: Plan) -> list[int]:
    indeg = {i: 0 for i in range(len(plan.nodes))}
    for _, d in plan.edges:
        indeg[d] += 1
    order, ready = [], sorted(i for i, d in indeg.items() if d == 0)
    while ready:
        i = ready.pop(0)
        order.append(i)
        for s, d in plan.edges:
            if s == i:
                indeg[d] -= 1
                if indeg[d] == 0:
                    ready.append(d)
    return order


def _arguments(tool: ToolSpec, bank: ValueBank, rng: random.Random, bound_vals: dict[str, list[Any]],
               choice: dict[str, int], extra: list[str] | None = None,
               hints: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Required parameters, bound ones, and optional ones an earlier error asked for (``extra``);
    ``hints``: what a validation error said of a parameter (its type, a minimum length), over its schema."""
    root = tool.input_schema if isinstance(tool.input_schema, dict) else {}
    props = root.get("properties", {}) or {}
    required = list(root.get("required", []) or [])
    args: dict[str, Any] = {}
    names = list(dict.fromkeys(required + [p for p in bound_vals if p in props] + list(extra or [])))
    for name in names:
        schema = deref(props.get(name, {}), root) if isinstance(props.get(name), dict) else {}
        if hints and name in hints:
            schema = {**schema, **hints[name]}
        cands = bank.candidates(tool.server, tool.name, name, schema, rng, bound_vals.get(name), tool.description)
        least = (hints or {}).get(name, {}).get("minLength")
        if isinstance(least, int):  # an error said "summary must be at least 10 characters"
            longer = [c for c in cands if isinstance(c, str) and len(c) >= least]
            cands = longer or [w for w in bank.own_words(tool.server, "text", rng) if len(w) >= least][:4]
        if cands:
            args[name] = cands[min(choice.get(name, 0), len(cands) - 1)]
    return args


_ISSUES = re.compile(r"\[\s*\{.*\}\s*\]", re.DOTALL)
_PYDANTIC = re.compile(r"^([A-Za-z_][\w.]*)\n\s+(Field required|Input should be (?:a valid )?(\w+))", re.MULTILINE)
_JSON_TYPES = {"string", "number", "integer", "boolean", "array", "object"}
_PYDANTIC_TYPES = {"str": "string", "string": "string", "int": "integer", "integer": "integer", "number": "number",
                   "float": "number", "bool": "boolean", "boolean": "boolean", "list": "array", "array": "array",
                   "dict": "object", "dictionary": "object", "object": "object"}


def _validation_hints(error: str) -> dict[str, dict[str, Any]]:
    """Parameter -> schema hints from a validation error that names a parameter path: zod's issue list
    (``[{"code": "invalid_type", "expected": "string", "path": ["query"]}]``, ``too_small`` with a
    minimum length) or pydantic's (``query\n  Field required`` / ``Input should be a valid integer``)."""
    hints: dict[str, dict[str, Any]] = {}
    m = _ISSUES.search(error)
    if m:
        try:
            issues = json.loads(m.group(0))
        except ValueError:
            issues = []
        for it in issues if isinstance(issues, list) else []:
            path = it.get("path") if isinstance(it, dict) else None
            if not isinstance(path, list) or not path or not isinstance(path[0], str):
                continue
            hint = hints.setdefault(path[0], {})
            expected = it.get("expected")
            if len(path) == 1 and expected in _JSON_TYPES:
                hint["type"] = expected
                if expected == "array":
                    hint.setdefault("items", {"type": "string"})
            if it.get("code") == "too_small" and it.get("type") == "string" and isinstance(it.get("minimum"), int):
                hint["minLength"] = it["minimum"]
    for name, _, typ in _PYDANTIC.findall(error):
        hint = hints.setdefault(name.split(".")[0], {})
        if typ and _PYDANTIC_TYPES.get(typ.lower()) and "." not in name:
            hint["type"] = _PYDANTIC_TYPES[typ.lower()]
    return hints


def _asks_for(error: str, param: str) -> bool:
    """The error asks for an optional parameter: quoted ('path', `path`) or "paths must be provided"."""
    p = re.escape(param.lower())
    return bool(re.search(rf"['\"`]{p}['\"`]|\b{p}\b (must|is required|are required|should) "
                          rf"|\b(pass|set|use|specify|provide) (an? |the )?{p}\b", error))


_QUOTED = re.compile(r"['\"]([^'\"\n]{1,60})['\"]")


def _offered_values(error: str, tried: Any) -> list[str]:
    """Alternatives an error message lists after words like 'available'/'valid'/'one of'."""
    low = error.lower()
    cut = max(low.find(w) for w in ("available", "valid ", "one of", "expected", "did you mean", "options"))
    if cut < 0:
        return []
    return [v for v in dict.fromkeys(_QUOTED.findall(error[cut:])) if v != tried][:4]


def _sandboxed(value: Any, sandbox: str) -> Any:
    """A card's argument set with ``$SANDBOX`` replaced by the server's sandbox folder."""
    if isinstance(value, str):
        return value.replace("$SANDBOX", sandbox)
    if isinstance(value, list):
        return [_sandboxed(v, sandbox) for v in value]
    if isinstance(value, dict):
        return {k: _sandboxed(v, sandbox) for k, v in value.items()}
    return value


def _card_sets(card: ToolCard | None, sandbox: str, bound_vals: dict[str, list[Any]], props: dict[str, Any],
               rng: random.Random, required: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Argument sets from a tool's card, in a seeded order; parameters bound from predecessors take the
    bound value (the data flow is what makes the chain needed).

    A flow replaces a value the card's set states (or a required one); it never adds an option the set
    leaves out: a save's timestamp is not a search's ``relativeTime``, nor a count its ``offset``."""
    if card is None or not card.args:
        return []
    sets = [_sandboxed(dict(a), sandbox) for a in card.args]
    rng.shuffle(sets)
    bound = {p: vals[0] for p, vals in bound_vals.items() if p in props and vals}
    out = []
    for a in sets:
        mine = {p: v for p, v in bound.items() if p in a or p in required}
        if mine and {**a, **mine} != a:
            out.append({**a, **mine})
    for a in sets:  # then the card's own values: a success without the data flow beats no success
        if a not in out:
            out.append(a)
    return out


def _typed(value: Any, schema: dict[str, Any]) -> Any:
    """``value`` as the parameter's JSON type, or None when it is not one."""
    typ = schema.get("type")
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return None
    if typ == "integer":
        return int(value) if isinstance(value, (int, float)) and float(value).is_integer() else None
    if typ == "number":
        return value if isinstance(value, (int, float)) else None
    if typ in (None, "string"):
        if isinstance(value, (int, float)):
            value = str(int(value) if isinstance(value, float) and value.is_integer() else value)
        if "enum" in schema and value not in schema["enum"]:
            return None
        return value if isinstance(value, str) and 0 < len(value) <= 200 else None
    return None


def _full_path(name: str, rec: CallRecord) -> str | None:
    """The path a listing's result gives for ``name`` when a card's fact keeps only the file's name
    ("inventory.py" of ``/work/repo/inventory.py``): the longest path in the result text that ends
    with it, else the name under the folder the listing was asked about."""
    if not name or "/" in name or len(name) > 200:
        return None
    found = re.findall(r"(/[^\s'\"`,;:()\[\]{}]*/" + re.escape(name) + r")(?![\w.-])", rec.text())
    if found:
        return max(found, key=len)
    folders = [v for v in rec.arguments.values() if isinstance(v, str) and v.startswith("/")
               and not re.search(r"\.\w{1,5}$", v)]
    return f"{folders[0].rstrip('/')}/{name}" if len(folders) == 1 else None


def _bind_card_outputs(tool: ToolSpec, props: dict[str, Any], preds: list[int], steps: dict[int, StepResult],
                       cards: dict[tuple[str, str], ToolCard], bound_vals: dict[str, list[Any]],
                       step: StepResult) -> set[str]:
    """Put the predecessors' answer facts (their cards' outputs) first among a parameter's values.

    A fact feeds a parameter of the same concept (a commit feeds a revision, a path a path; across
    servers only a date, path, link or formula: :func:`sampling.flows_between`), or, within one server's workflow (not into a trivial tool), a number
    feeds the first numeric parameter (one value per predecessor). Returns the parameters so bound:
    the data flow that makes a question need the chain."""
    strong: set[str] = set()
    own = cards.get((tool.server, tool.name))
    for p in preds:
        rec = steps[p].record
        card = cards.get((rec.server, rec.tool)) if rec is not None else None
        if rec is None or card is None or card.use != "answer":
            continue
        # a number flows only within one server's own workflow (a row count into a row index): across
        # servers it read as nonsense in review ("convert the power that number of rows watt",
        # "check whether that width is a leap year", "6 foot in metres" is not a weight)
        numbers_flow = rec.server == tool.server and not (own and own.trivial)
        for o in card.outputs:
            v = fact_value(rec, o.key)
            out_concept = param_concept(o.name, {})
            for pname, pschema in props.items():
                sch = pschema if isinstance(pschema, dict) else {}
                # a list of handles ("the ids of that customer's orders") feeds one handle: the first, which
                # the question can name ("the first of those orders")
                one = v[0] if isinstance(v, list) and v and sch.get("type") != "array" else v
                tv = _typed(one, sch)
                if tv is None or pname in strong:
                    continue
                concept = param_concept(pname, sch)
                same_concept = concept == out_concept and flows_between(concept, rec.server, tool.server, tv) \
                    and (concept != "id" or same_kind_of_id(o.name, pname))
                number_flow = numbers_flow and isinstance(v, (int, float)) and not isinstance(v, bool) and (
                    sch.get("type") in ("number", "integer") or concept == "number") and (
                    same_thing(o.name, pname) or not POSITION_PARAM.search(pname))
                if same_concept and concept == "path" and isinstance(tv, str):
                    tv = _full_path(tv, rec) or tv  # a listing's file name: the path the next tool opens
                if same_concept or number_flow:
                    bound_vals[pname] = [tv] + [x for x in bound_vals.get(pname, []) if x != tv]
                    step.bound[pname] = p
                    strong.add(pname)
                    break
            if any(step.bound.get(pn) == p for pn in strong):
                break  # one value per predecessor: "add that result and 100", not "that result and that result"
    return strong


def _learn_from_validation(error: str, args: dict[str, Any], props: dict[str, Any], extra: list[str],
                           hints: dict[str, dict[str, Any]], choice: dict[str, int]) -> bool:
    """Take what a validation error says (:func:`_validation_hints`) into the next try: a parameter it names
    that was not sent is added (even one the schema does not list), one sent with the wrong type or too
    short gets that type or length. False when it says nothing new."""
    new = False
    for param, hint in _validation_hints(error).items():
        if not hint and param in args:
            continue
        if hints.get(param, {}) != {**hints.get(param, {}), **hint}:
            hints[param] = {**hints.get(param, {}), **hint}
            choice[param] = 0
            new = True
        if param not in args and param not in extra and (param in props or hint):
            extra.append(param)
            new = True
    return new


_DIR_ERROR = re.compile(r"not a directory|is a directory|EISDIR|ENOTDIR|must be a (directory|folder|file)", re.I)


def _other_kind(bank: ValueBank, server: str, tried: Any, error: str) -> list[str]:
    """A server's own folders when a file was sent where a folder is wanted ("Path is not a directory",
    ENOTDIR), its own files when a folder was sent where a file is wanted (EISDIR)."""
    wants_dir = re.search(r"not a directory|ENOTDIR|must be a (directory|folder)", error, re.I)
    pool = bank.own_dirs.get(server, []) if wants_dir else bank.own_files.get(server, [])
    return [p for p in pool if p != tried][:4]


_MISSING_THING = re.compile(r"not found|does not exist|doesn't exist|no such|unknown \w+|not registered", re.I)
_EXISTS = re.compile(r"['\"`\[]([^'\"`\]\n]{1,200})['\"`\]] already exists", re.I)
_HANDLE_KEYS = ("name", "id", "key", "title")


def _existing_handles(earlier: list[CallRecord], server: str, param: str, tried: Any) -> list[Any]:
    """Handles the server itself gave earlier in the plan for a parameter like ``param``: the field of that
    name (or ``<noun>Id``, see :func:`discovery.more_values`) or the name/id of a successful result, and
    the thing an error said "already exists" (``Project '/x/garden-app' already exists``)."""
    from firefly_eval.generation.discovery import more_values  # discovery imports this module

    low = param.lower()
    out: list[Any] = []
    for rec in reversed(earlier):
        if rec.server != server:
            continue
        text = rec.text()
        if not succeeded(rec):
            out.extend(_EXISTS.findall(text))
            continue
        data = parse_result(rec.result)
        if isinstance(data, dict):
            keys = [k for k in data if isinstance(k, str) and (k.lower() == low or (low.startswith(k.lower()) and
                                                                                    k.lower() in _HANDLE_KEYS))]
            keys += [k for k in _HANDLE_KEYS if k in data and k not in keys]
            out.extend(data[k] for k in keys[:1] if isinstance(data[k], (str, int)) and not isinstance(data[k], bool))
        for k, vals in more_values(rec.tool, rec.result).items():
            if k.lower() == low:
                out.extend(vals)
    return [v for v in dict.fromkeys(out) if v != tried and str(v).strip()][:4]


def _wanted_outputs(plan: Plan, node: int, card: ToolCard | None, fleet: Fleet) -> list[Any]:
    """The outputs of ``node``'s card that a successor in the plan takes (a parameter of the same concept,
    :func:`sampling.flows_between`): "the latest order date" for a date count after a query."""
    if card is None or card.use != "answer":
        return []
    takes: set[str] = set()
    for s, d in plan.edges:
        succ = fleet.tools.get(plan.nodes[d]) if s == node else None
        if succ is None:
            continue
        for pname, sch in (succ.input_schema.get("properties") or {}).items():
            c = param_concept(pname, sch if isinstance(sch, dict) else {})
            if flows_between(c, plan.nodes[node][0], succ.server):
                takes.add(c)  # type: ignore[arg-type]
    return [o for o in card.outputs if param_concept(o.name, {}) in takes]


async def explore_plan(plan: Plan, fleet: Fleet, bank: ValueBank, seed: int = 0, max_repairs: int = 3,
                       cards: dict[tuple[str, str], ToolCard] | None = None) -> Exploration:
    """Run one plan on the live fleet; returns every recorded call and the successful steps.

    A tool's card gives known-good argument sets, tried first; then the schema-guided repair loop."""
    rng = random.Random(f"{seed}:{plan.id}")
    steps: dict[int, StepResult] = {}
    calls: list[CallRecord] = []
    infra: list[str] = []
    outputs: dict[int, dict[str, list[Any]]] = {}
    for node in _topo(plan):
        key = plan.nodes[node]
        tool = fleet.tools.get(key)
        step = StepResult(node, None)
        steps[node] = step
        if tool is None or key[0] in fleet.failed:
            infra.append(f"{key[0]}: server not available")
            continue
        preds = [s for s, d in plan.edges if d == node and steps.get(s) and steps[s].record]
        props = tool.input_schema.get("properties", {}) or {}
        bound_vals: dict[str, list[Any]] = {}
        for pname, pschema in props.items():
            concept = param_concept(pname, pschema if isinstance(pschema, dict) else {})
            for p in preds:
                vals = outputs.get(p, {}).get(concept or "", [])
                if vals:
                    bound_vals.setdefault(pname, []).extend(vals[:3])
                    step.bound[pname] = p
        strong = _bind_card_outputs(tool, props, preds, steps, cards or {}, bound_vals, step)
        # card argument sets take a predecessor's value only where it is a real data flow: a fact bound
        # above, or a same-server value of the parameter's concept (never the loose "number" or "text" bucket)
        flows = strong | {pn for pn, src in step.bound.items() if pn in bound_vals and steps[src].record is not None
                          and steps[src].record.server == key[0]
                          and param_concept(pn, props.get(pn) if isinstance(props.get(pn), dict) else {})
                          not in ("number", "text")}  # any text is no input: a pinyin is not a Chinese sentence
        choice: dict[str, int] = {}
        tried: set[str] = set()
        extra: list[str] = []  # optional parameters an error asked for ("specify a 'path'")
        hints: dict[str, dict[str, Any]] = {}  # what validation errors said of parameters (own-data servers)
        card_sets = _card_sets((cards or {}).get(key), bank.sandbox_of.get(key[0], ""),
                               {pn: v for pn, v in bound_vals.items() if pn in flows}, props, rng,
                               frozenset(tool.input_schema.get("required", []) or []))
        wanted = _wanted_outputs(plan, node, (cards or {}).get(key), fleet)
        for attempt in range(max_repairs + 1 + len(card_sets)):
            if card_sets:
                args = card_sets.pop(0)
            else:
                args = _arguments(tool, bank, rng, bound_vals, choice, extra, hints)
            sig = repr(sorted(args.items()))
            if sig in tried:
                if card_sets:
                    continue
                break
            tried.add(sig)
            try:
                rec = await fleet.call(key[0], key[1], args)
            except ServerError as exc:
                infra.append(str(exc).splitlines()[0])
                break
            rec.run_id = plan.id
            calls.append(rec)
            step.attempts.append(rec)
            if succeeded(rec):
                bank.learn(rec.result)
                has_wanted = any(fact_value(rec, o.key) is not None for o in wanted)
                if step.record is None or has_wanted:
                    step.record = rec
                    outputs[node] = extract_values(rec.result, listed_concept(tool))
                if has_wanted or not wanted or not card_sets or is_mutating(key[1], args, tool.annotations):
                    break
                # read-only by the rule replay keys follow (a call it counts as a change would shift the history
                # of the calls after it), and the fact the next step takes is not in this result: the card's next set
                continue
            if step.record is not None and not card_sets:
                break  # a success without the fact a successor takes, and the card's sets are spent: keep it
            if card_sets:  # the card's next argument set before any repair
                continue
            # repair: advance the parameter named in the error, else the first with alternatives
            err_text = rec.text()
            err = err_text.lower()
            asked = [p for p in props if p not in args and p not in extra and _asks_for(err, p)]
            if asked:
                extra.extend(asked[:2])
                continue
            if not bank.uses_world(key[0]) and _learn_from_validation(err_text, args, props, extra, hints, choice):
                continue  # a server on its own data: the validation error named the parameter and its type
            # the parameter whose value the error quotes ("Path '/x/sales.xlsx' must ..."), else one it names
            quoted = [p for p in args if isinstance(args[p], (str, int, float)) and len(str(args[p])) >= 3
                      and str(args[p]).lower() in err]
            named = [p for p in args if p.lower() in err]
            target = (quoted or named or list(args) or [None])[0]
            if target is None:
                break
            offered = _offered_values(err_text, args[target])
            if not offered and not bank.uses_world(key[0]) and _DIR_ERROR.search(err_text):
                offered = _other_kind(bank, key[0], args.get(target), err_text)  # a file for a folder, or back
            if not offered and not bank.uses_world(key[0]) and _MISSING_THING.search(err_text):
                # "Project 'README' not found": what this server said exists earlier in the plan
                offered = _existing_handles(calls[:-1], key[0], target, args.get(target))
            if not offered and param_concept(target, props.get(target) if isinstance(props.get(target), dict)
                                             else {}) == "path":
                # "must point to an Excel file (.xlsm, .xlsx)": the seed world's files of that kind;
                # "outside the allowed directories" (a path another server returned): this server's own files
                offered = bank.files_like(key[0], err_text)
                if not offered and re.search(r"outside|not allowed|allowed director|access denied", err):
                    offered = bank.files_like(key[0], f"{target} {tool.name} {tool.description}", by_extension=False)
            if offered:
                # the error lists what would work ("Available sheets: 'Sales', 'Products'"): try those first
                bound_vals[target] = offered + [v for v in bound_vals.get(target, []) if v not in offered]
                choice[target] = 0
                continue
            choice[target] = choice.get(target, 0) + 1
            if attempt % 2 == 1 and len(args) > 1:
                other = [p for p in args if p != target]
                choice[other[0]] = choice.get(other[0], 0) + 1
    return Exploration(plan, [steps[i] for i in sorted(steps)], calls, infra)
