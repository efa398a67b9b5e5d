"""Which arguments of a tool must match exactly, and which may match fuzzily.

A recorded result answers a new call only if the call means the same thing. Numbers,
integers, booleans, enum members, ids, keys, paths, names, dates, expressions and SQL
change the result when they change: they are **exact** parameters, compared after
canonicalisation (``1 == 1.0``, key order, NFC, defaults filled in). Free text (queries,
messages, descriptions, notes) may be worded differently and still ask the same thing:
**text** parameters, compared by normalised string similarity, with the numbers written in
them compared exactly ("orders of customer 12" is not "orders of customer 13").

The kind of a parameter comes from its input schema first (type, enum, const, format),
then from its name; a parameter the schema does not describe is exact unless its name says
free text. Exact is the default: a wrong kind costs a miss, never a wrong success.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal

from rapidfuzz import fuzz

from firefly_eval.schema import ToolSpec, canonical_json, canonicalize

__all__ = ["Kind", "ToolPolicy", "key_similarity", "normalize_text", "param_kind", "text_key", "text_similarity",
           "tool_policy"]

Kind = Literal["exact", "text"]

# words of a parameter name that mark free text ...
_FREE_WORDS = frozenset({
    "text", "query", "q", "message", "messages", "msg", "content", "contents", "description", "desc", "prompt",
    "question", "body", "comment", "comments", "note", "notes", "thought", "thoughts", "summary", "reason",
    "insight", "entry", "topic", "request", "purpose", "instruction", "instructions", "goal", "context",
    "search", "keyword", "keywords", "caption", "explanation", "feedback", "observation", "observations",
    "paragraph", "paragraphs", "sentence", "phrase", "subject", "remark", "memo",
})
# ... unless another word names a thing or a computation
_EXACT_WORDS = frozenset({
    "id", "ids", "key", "keys", "path", "paths", "file", "filename", "dir", "directory", "url", "uri", "name",
    "names", "date", "time", "datetime", "timestamp", "sql", "expr", "expression", "expressions", "equation",
    "formula", "code", "script", "command", "regex", "pattern", "index", "idx", "number", "count", "type",
    "format", "mode", "unit", "lang", "language", "locale", "timezone", "tz", "version", "branch", "ref", "sha",
    "hash", "email", "phone", "zip", "token", "cell", "range", "sheet", "table", "column", "row", "field",
})
_SQL = re.compile(r"^\s*(select|with|insert|update|delete|create|drop|alter|pragma|show|describe|explain|"
                  r"replace|merge|copy|attach)\b", re.IGNORECASE)
_EXACT_FORMATS = frozenset({"date", "date-time", "time", "uri", "uri-reference", "email", "uuid", "ipv4", "ipv6",
                            "hostname", "duration", "iri", "regex", "json-pointer"})
_NUM_TOKEN = re.compile(r"\d+(?:[.,]\d+)*")
_PUNCT = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")
_MISSING = object()


def _name_words(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [w for w in re.split(r"[^a-z]+", spaced.lower()) if w]


def _schema_types(schema: dict[str, Any]) -> set[str]:
    """JSON types a (sub)schema admits, looking through anyOf/oneOf/allOf."""
    out: set[str] = set()
    t = schema.get("type")
    if isinstance(t, str):
        out.add(t)
    elif isinstance(t, list):
        out.update(x for x in t if isinstance(x, str))
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key) or []:
            if isinstance(sub, dict):
                out |= _schema_types(sub)
    return out - {"null"}


def _has(schema: dict[str, Any], key: str) -> bool:
    if key in schema:
        return True
    return any(isinstance(s, dict) and _has(s, key) for k in ("anyOf", "oneOf", "allOf") for s in schema.get(k) or [])


def param_kind(name: str, schema: dict[str, Any] | None = None, value: Any = _MISSING) -> Kind:
    """``exact`` or ``text`` for one parameter, from its schema, its name and (when given) its value."""
    schema = schema if isinstance(schema, dict) else {}
    if value is not _MISSING and not isinstance(value, (str, list)):
        return "exact"  # numbers, booleans, null, objects
    if _has(schema, "enum") or _has(schema, "const"):
        return "exact"
    if schema.get("format") in _EXACT_FORMATS:
        return "exact"
    types = _schema_types(schema)
    if types and not types <= {"string", "array"}:
        return "exact"
    words = _name_words(name)
    if not words or not any(w in _FREE_WORDS for w in words) or any(w in _EXACT_WORDS for w in words):
        return "exact"
    if "array" in types or isinstance(value, list):
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        if _schema_types(items) - {"string"} or (isinstance(value, list) and not all(isinstance(v, str) for v in value)):
            return "exact"  # structured lists (objects, numbers) are data, not prose
    if isinstance(value, str) and _SQL.match(value):
        return "exact"  # a "query" that is SQL is code
    return "text"


def normalize_text(value: Any) -> str:
    """Free text compared loosely: NFKC, case-folded, punctuation dropped, whitespace collapsed."""
    s = " ".join(value) if isinstance(value, list) else str(value)
    s = unicodedata.normalize("NFKC", s).casefold()
    return _SPACE.sub(" ", _PUNCT.sub(" ", s)).strip()


def text_key(value: Any) -> tuple[str, tuple[str, ...]]:
    """(normalised text, the numbers written in it, sorted): what :func:`key_similarity` compares."""
    norm = normalize_text(value)
    return norm, tuple(sorted(_NUM_TOKEN.findall(norm)))


def key_similarity(a: tuple[str, tuple[str, ...]], b: tuple[str, tuple[str, ...]]) -> float:
    """0-100 similarity of two :func:`text_key` values; 0 when their numbers differ."""
    if a[1] != b[1]:
        return 0.0
    if a[0] == b[0]:
        return 100.0
    return float(max(fuzz.ratio(a[0], b[0]), fuzz.token_sort_ratio(a[0], b[0])))


def text_similarity(a: Any, b: Any) -> float:
    """0-100 similarity of two free-text values; 0 when the numbers written in them differ."""
    return key_similarity(text_key(a), text_key(b))


@dataclass
class ToolPolicy:
    """Per-parameter kinds and defaults of one tool."""

    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""

    def kind(self, name: str, value: Any = _MISSING) -> Kind:
        return param_kind(name, self.schemas.get(name), value)

    def normalize(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Canonical arguments with the schema's defaults filled in."""
        out = dict(canonicalize(arguments))
        for k, v in self.defaults.items():
            out.setdefault(k, v)
        return out

    def split(self, normalized: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(canonical JSON of the exact parameters, the text parameters) of normalised arguments."""
        exact = {}
        text = {}
        for k, v in normalized.items():
            if self.kind(k, v) == "text":
                text[k] = v
            else:
                exact[k] = v
        return canonical_json(exact), text


def tool_policy(spec: ToolSpec | None) -> ToolPolicy:
    """The policy of a tool from its input schema (an empty policy when the spec is unknown)."""
    if spec is None:
        return ToolPolicy()
    props = spec.input_schema.get("properties") or {}
    schemas = {k: v for k, v in props.items() if isinstance(v, dict)}
    defaults = {}
    for k, v in schemas.items():
        if "default" in v and v["default"] is not None:
            try:
                defaults[k] = canonicalize(v["default"])
            except (TypeError, ValueError):
                continue
    return ToolPolicy(schemas, defaults, canonical_json({"p": schemas, "d": defaults}))
