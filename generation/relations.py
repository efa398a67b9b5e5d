"""What a tool does to what: its verb class and the objects it acts on, read from its name.

The edge rule the labels follow (``rule`` in tests/fixtures/edge_labels*.json) is about
*objects*: ``src -> dst`` is a step when something ``src`` returns is a value for a ``dst``
parameter other than the document every tool of the server takes, or when ``src`` creates or
changes an object and ``dst`` then reads or works on that same object (or reads the whole
document or repository). Concept matching alone (a path feeds a path) cannot tell these from
siblings that merely share a document, so each tool gets an :class:`Action`:

* ``kind``: create / change / destroy / read / query (takes SQL: reads and writes) / persist
  (save, export: writes out everything) / compute (a pure function of numbers or expressions);
* ``objects``: the nouns its name acts on, singular (``delete_pivot_table`` -> pivot, table);
  words after a preposition name the container, not the object (``add_footnote_to_document``);
* ``whole``: it reads the whole document, store or repository (git_status, describe_sheet,
  read_graph, list_directory), so it shows the effect of any change.

:func:`relation` applies the rule to one ordered pair of tools of one server and names the
clause that holds; pairs across servers are left to the cues and the judge (graph.py).
Measured against the hand labels in ``benchmarks/graph_quality.py``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from firefly_eval.schema import ToolSpec

__all__ = ["Action", "Relation", "ServerVocab", "action_of", "relation", "server_vocab", "tool_params"]

_CREATE = {"create", "add", "insert", "new", "make", "init", "initialize", "clone", "generate", "write", "import",
           "append", "copy", "build", "book", "send", "populate", "commit", "tag", "stash", "push", "upload",
           "fill", "journal", "checkpoint", "cache", "open", "start"}
_CHANGE = {"update", "edit", "modify", "set", "format", "replace", "rename", "move", "merge", "rebase", "reset",
           "apply", "sort", "transform", "protect", "unprotect", "checkout", "cherry", "optimize", "manage",
           "customize", "highlight", "resize", "toggle", "switch", "alter", "restore", "compress", "reassign",
           "link", "exchange", "return", "pull", "fetch", "integrate", "delegate", "prepare", "fit", "goal"}
_DESTROY = {"delete", "remove", "drop", "clear", "clean", "cleanup", "close", "cancel", "dismiss", "unset"}
_READ = {"get", "read", "list", "show", "describe", "search", "find", "extract", "status", "log", "diff", "info",
         "view", "blame", "reflog", "check", "validate", "lookup", "analyze", "analyse", "stats", "outline",
         "timeline", "visualize", "listar", "measure", "count", "directory", "db", "summarize", "trace", "tree"}
_PERSIST = {"save", "export"}
_VERBS = _CREATE | _CHANGE | _DESTROY | _READ | _PERSIST
# nouns that name a whole a server works on: reading one shows the effect of any change
_WHOLE = {"document", "workbook", "presentation", "graph", "status", "log", "diff", "outline", "structure",
          "directory", "tree", "database", "db", "repository", "repo", "sheet", "insight", "record"}
# the top-level things: creating one makes something every other tool of the server works on
_TOP = {"document", "workbook", "presentation", "repository", "repo", "database", "db", "graph"}
_SQL_TEXT = re.compile(r"\b(sql|select|database|duckdb|sqlite|postgres\w*|tables?)\b", re.IGNORECASE)
_PREP = {"to", "from", "by", "with", "in", "near", "below", "after", "before", "between", "on", "into", "as",
         "for", "of"}
_FILLER = {"the", "a", "an", "and", "or", "all", "batch", "multiple", "robust", "enhanced", "detailed", "current",
           "available", "data", "new", "details", "info", "information", "intelligent", "smart", "auto",
           "basic", "simulated", "staged", "unstaged"}
# parameter name parts that say "a reference to" rather than what is referred to
_REF = {"id", "ids", "name", "names", "key", "keys", "index", "idx", "path", "number", "ref", "code", "no", "list"}
# objects of tools about the server itself, not its data: no step leads to or from them
_META = {"server", "tool", "guidance", "guide", "suggestion", "connection", "planning", "workflow",
         "instruction", "wrapup", "env", "debug", "hello"}
# nouns too vague to carry an identity from one call to the next
_VAGUE = {"text", "content", "search", "start", "end", "value", "result", "detail", "type", "option", "mode",
          "item", "query", "file", "include", "format", "target", "source", "new", "old", "max", "min",
          "limit", "offset", "page", "size", "time", "date", "level", "style", "color", "font", "width",
          "height", "title", "message", "operation", "action", "info", "filter", "sort", "order", "field",
          "property", "parameter", "setting", "config", "group"}
# last words of parameters that carry content or a setting, not a reference to a thing
_CONTENT = {"text", "content", "message", "body", "title", "description", "caption", "type", "style", "color",
            "size", "width", "height", "font", "format", "mode", "count", "label", "summary", "note"}
# numeric / expression parameters any computed value may fill (a, b, value, expr), unlike
# domain ones (principal, rate, complex_number) that need a value of that meaning
_GENERIC_VALUE = re.compile(r"^(a|b|x|y|n|num|number|numbers|value|values|expr|expression|expressions|base|"
                            r"exponent|operand|operands|matrix|f|func|function|formula)$")
_SPLIT = re.compile(r"[a-z]+|[0-9]+")


def _words(name: str) -> list[str]:
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    return _SPLIT.findall(name)


def _singular(w: str) -> str:
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def tool_params(tool: ToolSpec) -> dict[str, Any]:
    """The input schema's ``properties`` (empty when the schema has none or is malformed)."""
    props = tool.input_schema.get("properties") if isinstance(tool.input_schema, dict) else None
    return props if isinstance(props, dict) else {}


@dataclass(frozen=True)
class ServerVocab:
    prefix: tuple[str, ...]  # leading name words most tools share (git_, context_, sympy_)
    common: frozenset[str]  # parameters a quarter or more of the tools take (sheet, slide_index)
    documents: bool = True  # some tool names a document, workbook, presentation...: "save" writes one
    # parameters half or more of the tools take: the document or repository they all work on
    # (excel's path, word's filename, pptx's presentation_id); a subset of ``common``
    handles: frozenset[str] = frozenset()


def server_vocab(tools: list[ToolSpec]) -> dict[str, ServerVocab]:
    """Per server (4+ tools for parameters to count): the shared name prefix, the commonly taken
    parameters and the handle parameters."""
    names: dict[str, list[list[str]]] = {}
    params: dict[str, Counter[str]] = {}
    for t in tools:
        names.setdefault(t.server, []).append(_words(t.name))
        params.setdefault(t.server, Counter()).update(list(tool_params(t)))
    out: dict[str, ServerVocab] = {}
    for server, words in names.items():
        prefix: list[str] = []
        while len(words) >= 3:
            pos = len(prefix)
            heads = Counter(w[pos] for w in words if len(w) > pos + 1)
            head, count = heads.most_common(1)[0] if heads else ("", 0)
            if count < 0.6 * len(words) or head in _VERBS or head in ("convert", "calculate"):
                break
            prefix.append(head)
        n = len(words)
        common = frozenset(p for p, c in params[server].items() if n >= 4 and c >= 0.25 * n)
        handles = frozenset(p for p, c in params[server].items() if n >= 4 and c >= 0.5 * n)
        documents = any(_singular(w) in _TOP for ws in words for w in ws)
        out[server] = ServerVocab(tuple(prefix), common, documents, handles)
    return out


# confidence of each clause: its precision on the hand labels (four sets, 504 pairs), smoothed as
# (edges + 1) / (admitted + 2) - e.g. "returns" admitted 9 labelled pairs, all edges: 10/11
_CONF = {"creates-top": 0.92, "returns": 0.91, "same-object": 0.83, "then-query": 0.83, "reads-whole": 0.8,
         "value": 0.79, "shows-part": 0.75, "schema-query": 0.6}


class Relation(NamedTuple):
    rule: str  # which clause of the rule holds (value, returns, same-object, reads-whole, ...)
    confidence: float
    reason: str


@dataclass(frozen=True)
class Action:
    verb: str
    kind: str  # create | change | destroy | read | query | persist | compute
    objects: frozenset[str]
    container: frozenset[str]  # nouns after a preposition: where the object lives
    whole: bool
    returns: frozenset[str]  # nouns a result names: the objects, and for readers what their summary names
    converter_of: str | None  # "convert_length": only a length is a sensible input
    pure: bool = False  # a calculator: takes a value, and otherwise settings only (see _pure)
    meta: bool = False  # about the server, not its data (get_server_info, get_tool_guidance)
    mentions: frozenset[str] = frozenset()  # nouns of the first 400 characters of its description


_SETTING = re.compile(r"(operation|action|mode|type|method|kind|precision|digits|unit|units|variable|var|symbol)s?$",
                      re.IGNORECASE)


def _pure(tool: ToolSpec, concepts: dict[str, str]) -> bool:
    """A calculator: it takes a number or an expression, and every other required parameter is a
    setting (an operation, a unit, an enum), not a thing of the world (a path, a table, an id)."""
    props = tool_params(tool)
    req = tool.input_schema.get("required") if isinstance(tool.input_schema, dict) else None

    def value(p: str) -> bool:
        return concepts.get(p) in ("number", "expression") or bool(_GENERIC_VALUE.match(p.lower()))

    def setting(p: str) -> bool:
        schema = props.get(p)
        return concepts.get(p) in ("unit", "currency", "timezone") or bool(_SETTING.search(p)) or (
            isinstance(schema, dict) and "enum" in schema)

    names = list(req) if isinstance(req, list) and req else list(props)
    return any(value(p) for p in props) and all(value(p) or setting(p) for p in names if p in props)


def action_of(tool: ToolSpec, vocab: ServerVocab | None = None, concepts: dict[str, str] | None = None) -> Action:
    """The :class:`Action` of a tool (``concepts``: its typed parameters, graph.param_concept)."""
    words = _words(tool.name)
    prefix = list(vocab.prefix) if vocab else []
    if prefix and words[:len(prefix)] == prefix and len(words) > len(prefix):
        words = words[len(prefix):]
    kind, verb = "compute", words[0] if words else ""
    at = 0
    for i, w in enumerate(words[:3]):
        found = next((k for k, vs in (("destroy", _DESTROY), ("persist", _PERSIST), ("create", _CREATE),
                                      ("change", _CHANGE), ("read", _READ)) if w in vs), None)
        if found:
            kind, verb, at = found, w, i
            rest = words[i + 1:]
            if found == "read" and "and" in rest and any(x in _CHANGE for x in rest[rest.index("and"):]):
                kind = "change"  # search_and_replace, find_and_replace
            break
    # words before a verb inside the name are a namespace (crm_get_company, pages_create_document);
    # before a verb that ends it, they are the object (tasks_create, superset_database_create)
    named = words[at:] if 0 < at < len(words) - 1 else words
    objects, container, after_prep = set(), set(), False
    for w in named:
        if w in _PREP:
            after_prep = True
        elif w != verb and w not in _FILLER and w not in _VERBS and len(w) > 1:
            (container if after_prep else objects).add(_singular(w))
    concepts = concepts or {}
    takes_sql = "sql" in concepts.values() and bool(_SQL_TEXT.search(f"{tool.name} {tool.description[:300]}"))
    if kind == "persist" and vocab is not None and not vocab.documents:
        kind = "create"  # "save" on a server without documents stores an item (context_save)
    if takes_sql and (kind in ("read", "compute", "persist") or verb in ("write", "query", "execute", "run")):
        kind = "query"  # read_query, write_query, execute_sql: reads and writes the database
    pure = _pure(tool, concepts)
    if not takes_sql and pure and not objects:  # add(a, b): a calculator, whatever its verb
        kind = "compute"
    # list_presentations lists the wholes and get_document_info gives metadata: neither reads one
    said = set(words)
    whole = kind in ("read", "persist") and not {"info", "property", "properties", "setting"} & said and (
        bool(objects & _WHOLE) and not (verb == "list" and objects <= _TOP)
        # git_status, git_log: of everything; get_backup_status is the status of one thing
        or bool({"status", "log", "diff", "outline", "directory", "tree"} & said) and objects <= _WHOLE
        or (kind == "persist" and not objects))
    returns = set(objects)
    if kind in ("read", "query"):
        # a reader's first sentence names what it returns ("Get user details, including reservations")
        first = re.split(r"(?<=[.!?])\s|\n", tool.description.strip(), maxsplit=1)[0][:200]
        returns |= {_singular(w) for w in _words(first) if len(w) > 3}
    returns -= _VAGUE | _FILLER | _PREP | {verb}
    converter = next(iter(objects)) if verb == "convert" and len(objects) == 1 else None
    mentions = frozenset(_singular(w) for w in _words(tool.description[:400]))
    return Action(verb, kind, frozenset(objects), frozenset(container), whole, frozenset(returns), converter,
                  pure=pure, meta=bool(objects & _META), mentions=mentions)


def _param_nouns(words: list[str]) -> set[str]:
    """What a parameter (its name's words) refers to: template_id -> template."""
    return {w for w in map(_singular, words) if w not in _REF | _VAGUE | _FILLER | _PREP and len(w) > 2}


class _ParamName(NamedTuple):
    content: bool  # its last word carries content or a setting (footnote_text): no reference
    ref_number: bool  # ends in id/index/idx: an integer that may still name a thing
    nouns: frozenset[str]  # what it refers to (_param_nouns)


@lru_cache(maxsize=65536)
def _param_name(p: str) -> _ParamName:
    """What :func:`relation` reads from a parameter name, computed once per distinct name
    (the graph build asks for it once per candidate pair)."""
    words = _words(p)
    return _ParamName(bool(words) and words[-1] in _CONTENT, bool(re.search(r"(id|index|idx)$", p, re.IGNORECASE)),
                      frozenset(_param_nouns(words)) if words else frozenset())


def _rel(rule: str, reason: str) -> Relation:
    return Relation(rule, _CONF[rule], reason)


def relation(src: ToolSpec, dst: ToolSpec, a: Action, b: Action, dst_vocab: ServerVocab | None,
             src_outputs: set[str]) -> Relation | None:
    """The clause of the label rule under which ``dst`` is a step after ``src``, or None.

    ``a``, ``b``: the actions of ``src`` and ``dst`` (:func:`action_of`);
    ``dst_vocab``: its server's shared name words and common parameters (the document, the sheet);
    ``src_outputs``: the concepts ``src``'s result carries (graph.tool_outputs).
    """
    same = src.server == dst.server
    if a.meta or b.meta or not same and not (a.kind == "compute" and a.pure):
        return None  # across servers only a computed value flows (below)
    common = dst_vocab.common if dst_vocab else frozenset()
    props = tool_params(dst)
    params = list(props)
    # computed values: a number or expression feeds a generic value parameter of another calculator
    if a.kind == "compute" and a.pure and (b.pure or b.kind == "change" and not b.objects):
        if b.converter_of and b.converter_of != a.converter_of and a.converter_of:
            return None  # a mass is not a length
        flows = [p for p in params if _GENERIC_VALUE.match(p.lower())]
        if flows and same and src_outputs & {"number", "expression"}:
            return _rel("value", f"{src.name} -> value -> {dst.name}.{flows[0]}")
        return None
    if not same:
        return None
    if a.verb == b.verb and a.kind != "read":
        return None  # siblings: add_x / add_y, convert_x / convert_y
    # (a) a named thing src returns is what a dst parameter refers to (template -> template_id)
    if a.kind in ("read", "create", "query"):
        for p, schema in props.items():
            typ = schema.get("type") if isinstance(schema, dict) else None
            # a count or a flag cannot take a named thing (max_commits is no commit)
            if p in common or typ == "boolean" or isinstance(schema, dict) and "enum" in schema:
                continue
            name = _param_name(p)
            if typ in ("integer", "number") and not name.ref_number:
                continue
            if name.content:
                continue  # footnote_text, presentation_type: what to write, not which one
            hit = name.nouns & a.returns
            if hit and not (a.kind == b.kind == "create"):
                return _rel("returns", f"{src.name} returns {min(hit)} -> {dst.name}.{p}")
    # a whole reader's result shows the parts a dst acts on (describe_sheet -> delete_pivot_table)
    if a.whole and a.kind == "read" and b.kind in ("change", "destroy") and b.objects and b.objects <= (
            a.returns | a.mentions):
        return _rel("shows-part", f"{src.name} shows the {'/'.join(sorted(b.objects))} -> {dst.name}")
    if b.kind == "query" and a.kind == "read" and (a.objects | a.returns) & {"table", "schema", "column"}:
        return _rel("schema-query", f"{src.name} shows the tables -> {dst.name} queries them")
    # (b) src makes or changes an object and dst reads or works on that same object
    shared = a.objects & b.objects
    if a.kind in ("create", "change") and shared and b.kind in ("read", "change", "destroy", "persist") or (
            a.kind == "read" and shared and b.kind in ("change", "destroy")):  # read a file, then edit it
        return _rel("same-object", f"{src.name} {a.kind}s {min(shared)} -> {dst.name} {b.kind}s it")
    # ... or src creates the whole (a document, a repository) every other tool then works on: passed
    # by its handle (a tool that takes none works on the document that is open, so only "open" feeds it)
    takes_handle = a.verb == "open" or (bool(common & set(params)) if common else bool(a.objects & _TOP & (
        b.objects | b.container)))
    if a.kind == "create" and a.objects & _TOP and not (b.kind == "create" and b.objects & _TOP) and takes_handle:
        return _rel("creates-top", f"{src.name} creates {min(a.objects & _TOP)} -> {dst.name} works on it")
    # ... or dst reads (or writes out) the whole, which shows any change; a listing shows only
    # what was made, removed, moved or renamed, not an edit of content
    listing = b.verb in ("list", "directory", "tree") or bool(b.objects) and b.objects <= {"directory", "tree"}
    if a.kind in ("create", "change", "destroy", "query") and b.whole and (
            not listing or a.kind in ("create", "destroy") or a.verb in ("move", "rename")):
        return _rel("reads-whole", f"{src.name} {a.kind}s -> {dst.name} reads the whole")
    if b.kind == "query" and a.kind == "query" and a.verb == "write" and b.verb == "read":
        return _rel("then-query", f"{src.name} writes -> {dst.name} reads it back")
    if b.kind == "query" and a.kind in ("create", "change") and (a.objects | a.container) & {
            "table", "record", "row", "database", "db", "insight", "column"}:
        return _rel("then-query", f"{src.name} {a.kind}s {min(a.objects, default='data')} -> {dst.name} queries it")
    return None

