"""Facts of a tool result: what an answer field may hold, and whether a result is an error.

A *fact key* names one value inside a call's result. Two kinds exist:

- generic keys written by :func:`extract_facts` for tools without a card (``"rows"``,
  ``"[0].name"``, ``"text"``; kept so older datasets replay), and for nested results
  ``"task.title"`` (a nested object's field), ``"number of entities"`` (how many records a named
  collection holds) and ``"tomato.sown"`` (a field of the record whose label is ``tomato``, in a
  JSON list, a table or ``key: value`` rows);
- card keys, a path into the parsed result with an optional regular expression:
  ``"week"``, ``"rows[0].city"``, ``"[2]"``, ``"text|re:week (\\d+)"`` (group 1, or the whole
  match, of the string at the path; ``text`` is the result's whole text).

:func:`fact_value` computes the value of a key from a record (recorded or replayed), so the
oracle and verification rebuild answers from results, never from the stored answer.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

from firefly_eval.grading import normalize_text
from firefly_eval.schema import CallRecord, result_text

__all__ = ["UUIDISH", "UUID_PATTERN", "Fact", "coerce", "appears_in", "error_reason", "extract_facts", "fact_value", "parse_data", "parse_result", "resolve_key", "succeeded"]

_VOLATILE_KEY = re.compile(r"(time|date|timestamp|created|updated|modified|uuid|session|token|elapsed|duration|"
                           r"random|nonce|expires|version|pid|hash|sha|checksum|stamp|_at$)", re.IGNORECASE)
UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # an RFC 4122 uuid, unanchored
_UUIDISH = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}|[0-9a-f]{32,}|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", re.IGNORECASE)

# a result that reads as an error although isError is false (many servers answer failures as text)
_ERROR_START = re.compile(
    r"^\W{0,3}(error|errors?:|invalid|unsupported|unknown (tool|command|operation|unit|action|mode)|failed|failure|"
    r"cannot|can't|could not|couldn't|unable to|not found|no such|no (data|results?|matches?|records?) found|"
    r"exception|traceback|access denied|permission denied|forbidden|bad request|missing (required )?"
    r"(argument|parameter|field)|must (be|provide|specify)|please (provide|specify)|required parameter|"
    r"\[?error\]?|warning:|nothing to|operation failed|not (a valid|supported|allowed|implemented)|"
    r"no \w+(?: \w+){0,3} (found|in|is|are|available|loaded|open|opened|exists?|matched|to \w+)\b|"
    r"no (document|presentation|workbook|file|session) )",
    re.IGNORECASE)
_ERROR_ANYWHERE = re.compile(
    r"(traceback \(most recent call last\)|\b\w*(error|exception)\b:|is not a valid|does not exist|doesn't exist|"
    r"not found|no such (file|table|column|directory|user|order|tool)|not a git repository|unsupported operation|"
    r"invalid (paragraph|index|argument|value|input|operation|parameter|path|date|format|expression|unit|request|id)|"
    r"out of range|failed to|unable to|could not|is required|are required|not supported|permission denied|"
    r"syntax error|parse error|zip file|not allowed|outside (the )?allowed|isError\"?\s*:\s*true)",
    re.IGNORECASE)
_ERROR_CJK = re.compile(r"(未找到|找不到|错误|失败|无效|不支持|不存在|异常|无法|没有打开|没有找到|请先|未打开|错誤|エラー|見つかりません)")
_ERROR_KEYS = ("error", "errors", "error_message", "errorMessage", "err", "exception", "failure")


UUIDISH = _UUIDISH  # uuids, long hex digests, ISO timestamps: values that change between runs


def appears_in(value: str, text: str) -> bool:
    """``value`` occurs in ``text`` as a whole token (not inside a longer word, number or dotted name)."""
    return re.search(rf"(?<![\w.]){re.escape(value)}(?![\w])", text) is not None


def parse_result(result: dict[str, Any]) -> Any:
    """Structured content if present, else the text parsed as JSON when it is JSON, else text."""
    sc = result.get("structuredContent")
    if sc is not None:
        if isinstance(sc, dict) and set(sc) == {"result"}:
            inner = sc["result"]
            if isinstance(inner, str) and inner.strip()[:1] in ("[", "{"):  # JSON text wrapped by FastMCP
                try:
                    return json.loads(inner)
                except ValueError:
                    pass
            return inner
        return sc
    text = result_text(result).strip()
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def parse_data(result: dict[str, Any]) -> Any:
    """:func:`parse_result`, and a Python literal printed as text (``[{'name': 'orders'}]``, how several
    SQLite servers answer) read as the data it is."""
    data = parse_result(result)
    if isinstance(data, str) and data.strip()[:1] in "[{" and len(data) < 20000:
        try:
            return ast.literal_eval(data.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return data
    return data


def _dict_error(data: dict[str, Any]) -> str | None:
    for k in _ERROR_KEYS:
        v = data.get(k)
        if v not in (None, "", [], {}, False):
            return f"{k} field: {str(v)[:80]}"
    for k in ("ok", "success", "succeeded"):
        if data.get(k) is False:
            return f"{k}: false"
    if data.get("isError") is True:
        return "nested isError"
    for k in ("status", "result", "outcome", "state"):
        v = data.get(k)
        if isinstance(v, str) and v.lower() in {"error", "failed", "failure", "fail"}:
            return f"{k}: {v}"
    return None


def error_reason(result: dict[str, Any], is_error: bool = False) -> str | None:
    """Why a result is an error (``isError``, an error field, text that reads as an error); None if it is not.

    Failed calls are exploration only: never answer material and never tool coverage.
    """
    if is_error or result.get("isError"):
        return "isError"
    data = parse_result(result)
    if isinstance(data, dict):
        why = _dict_error(data)
        if why:
            return why
        if len(data) == 1:  # {"result": "Error: ..."} / {"message": "not found"}
            (only,) = data.values()
            if isinstance(only, str):
                data = only
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
        why = _dict_error(data[0])
        if why:
            return why
    text = data if isinstance(data, str) else result_text(result)
    text = text.strip()
    if not text:
        return None
    first = text.splitlines()[0]
    if _ERROR_START.search(first):
        return f"reads as an error: {first[:80]}"
    if len(text) <= 400 and (_ERROR_ANYWHERE.search(text) or _ERROR_CJK.search(text)) or _every_line_errs(text):
        return f"reads as an error: {first[:80]}"
    return None


def _every_line_errs(text: str) -> bool:
    """Each line of a longer text is an error of its own ("a.md: Error - Parent directory does not exist")."""
    lines = [ln for ln in text.splitlines() if re.search(r"\w", ln)]  # not the "---" between them
    return 1 < len(lines) <= 50 and all(len(ln) <= 400 and _ERROR_ANYWHERE.search(ln) for ln in lines)


@dataclass
class Fact:
    key: str  # see the module docstring
    value: Any
    description: str


def coerce(v: Any) -> Any:
    """A numeric or boolean string as a number or bool (``"42"`` -> 42), other values unchanged (strings stripped)."""
    if isinstance(v, str):
        s = v.strip()
        if s.lower() in ("true", "false"):
            return s.lower() == "true"
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
    return {normalize_text(str(coerce(value)))}


def extract_facts(rec: CallRecord) -> list[Fact]:
    """Generic facts of a successful result (no card): scalar fields that do not echo the arguments.

    Errors, line counts, first lines and lengths of listings are not facts (they are formatting).
    """
    if error_reason(rec.result, rec.is_error):
        return []
    echoes = _arg_values(rec.arguments)
    return [f for f in _raw_facts(rec) if normalize_text(str(f.value)) not in echoes]


def _raw_facts(rec: CallRecord) -> list[Fact]:
    data = parse_result(rec.result)
    facts: list[Fact] = []
    if isinstance(data, dict):
        facts += [Fact(str(k), coerce(v), f"the {str(k).replace('_', ' ')}") for k, v in list(data.items())[:20]
                  if not _VOLATILE_KEY.search(str(k)) and _ok_value(v)]
        facts += _nested_facts(data)
        facts += _row_facts(_columns_as_rows(data))
    elif isinstance(data, list) and data and isinstance(data[0], dict) and len(data) == 1:
        for k, v in list(data[0].items())[:6]:
            if not _VOLATILE_KEY.search(str(k)) and _ok_value(v):
                facts.append(Fact(f"[0].{k}", coerce(v), f"the {str(k).replace('_', ' ')}"))
    elif isinstance(data, str) and _ok_value(data.strip()) and not _UUIDISH.search(data):
        facts.append(Fact("text", coerce(data.strip()), "the result"))
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        facts.append(Fact("value", data, "the number"))
    elif isinstance(data, str):
        facts += _text_facts(data)
    elif _records(data):
        facts += _row_facts(data)
    return facts


# Facts of nested results (tools without a card): the scalar fields of a nested object ("task.title"), how many
# records a named collection holds ("number of entities"), and the fields of each record named by its own label
# ("tomato.sown": the sown field of the row whose name is tomato). A record is found by what it is called, never
# by its position in a listing, and no line count or first line of a text is a fact.
_LABEL = re.compile(r"^(name|title|label|key|id|[a-z_]*(name|title|id))$", re.IGNORECASE)
_CLOCK = re.compile(r"\d{1,2}:\d{2}(:\d{2})?|\bGMT\b|\bUTC\b")
_KV_LINE = re.compile(r"^([A-Za-z][\w ]{0,30}?):[ \t]+(\S.*?)\s*$")
_ROW_HEADER = re.compile(r"^\s*(#+\s*)?(\d+\.\s*)?(row|record|item|entry)\s*\d*\s*:?\s*$", re.IGNORECASE)
_MAX_NESTED = 16


def _phrase(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(key)).replace("_", " ").lower()


def _fact_value_ok(key: str, v: Any) -> bool:
    """A nested field worth asking for: a short scalar, not volatile (by its key or by reading as a clock time)."""
    return (not _VOLATILE_KEY.search(str(key)) and _ok_value(v)
            and not (isinstance(v, str) and _CLOCK.search(v)))


def _records(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _label_key(rows: list[dict[str, Any]]) -> str | None:
    """The field that names each record: a name/title/id-like field whose values are distinct short strings."""
    keys = [k for k in rows[0] if isinstance(k, str) and _LABEL.match(k) and all(k in r for r in rows)]
    keys.sort(key=lambda k: not re.search(r"name|title|label", k, re.IGNORECASE))  # stable: names first
    for k in keys:
        vals = [r[k] for r in rows]
        if (all(isinstance(v, str) and _ok_value(v) and "." not in v.strip(".") for v in vals)
                and len({normalize_text(v) for v in vals}) == len(vals)):
            return k
    return None


def _row_facts(rows: list[dict[str, Any]], first_column_labels: bool = False) -> list[Fact]:
    """Fields of each labelled record (the first 3), keyed ``label.field``; fields that are the same in every
    record say nothing about any one of them. A table's rows may be labelled by their first column."""
    label = _label_key(rows) if rows else None
    if label is None and first_column_labels and rows:
        first = next(iter(rows[0]))
        label = first if _label_key([{"name": r.get(first)} for r in rows]) else None
    if label is None:
        return []
    facts: list[Fact] = []
    fields = [k for k in rows[0] if k != label and isinstance(k, str)]
    varying = [k for k in fields if len(rows) == 1 or len({json.dumps(r.get(k), sort_keys=True) for r in rows}) > 1]
    for r in rows[:3]:
        name = str(r[label]).strip()
        for k in varying[:4]:
            v = r.get(k)
            if _fact_value_ok(k, v):
                facts.append(Fact(f"{name}.{k}", coerce(v), f"the {_phrase(k)} of {name}"))
    return facts


def _singular(key: str) -> str:
    k = str(key)
    return k[:-3] + "y" if k.endswith("ies") else k[:-1] if k.endswith("s") and not k.endswith("ss") else k


def _columns_as_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Records written column by column (chroma's ``{"ids": [...], "documents": [...], "metadatas": [{...}]}``):
    one record per position when a plural label column (``ids``, ``names``) and at least one other column are
    lists of the same length; a column of objects gives their fields. Empty otherwise."""
    cols = {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, list) and v}
    labels = [k for k, v in cols.items() if _LABEL.match(_singular(k)) and _singular(k) != k
              and all(isinstance(x, str) for x in v)]
    if not labels:
        return []
    n = len(cols[labels[0]])
    same = {k: v for k, v in cols.items() if len(v) == n}
    if len(same) < 2 or n > 50:
        return []
    rows: list[dict[str, Any]] = [{} for _ in range(n)]
    for k, v in same.items():
        for row, x in zip(rows, v, strict=True):
            if isinstance(x, dict):
                row.update({kk: vv for kk, vv in x.items() if isinstance(kk, str) and kk not in row})
            elif not isinstance(x, list):
                row[_singular(k)] = x
    return rows if all(_singular(labels[0]) in r for r in rows) else []


def _nested_facts(data: dict[str, Any]) -> list[Fact]:
    """One level down an object: the scalar fields of nested objects, the size and labelled records of lists of
    records."""
    facts: list[Fact] = []
    for k, v in list(data.items())[:20]:
        if not isinstance(k, str) or _VOLATILE_KEY.search(k) or "." in k:
            continue
        if isinstance(v, dict):
            facts += [Fact(f"{k}.{kk}", coerce(vv), f"the {_phrase(kk)} of the {_phrase(k)}")
                      for kk, vv in list(v.items())[:8] if isinstance(kk, str) and "." not in kk
                      and _fact_value_ok(kk, vv)]
        elif _records(v):
            scalars = sum(_ok_value(x) for x in v[0].values())
            if _label_key(v) is not None or scalars >= 3:  # things (entities, relations), not bare metadata
                facts.append(Fact(f"number of {_phrase(k)}", len(v), f"how many {_phrase(k)} there are"))
            facts += _row_facts(v)
    return facts[:_MAX_NESTED]


_MD_HEADING = re.compile(r"^\s*#{1,6}\s+(.+?)\s*#*\s*$")
_MD_FIELD = re.compile(r"^\s*(?:[-*+]\s+)?\*\*([^*\n]{1,40}?):?\*\*\s*:?\s*(\S.*?)\s*$")


def _markdown_facts(text: str) -> list[Fact]:
    """``**Status:** pending`` fields of a Markdown text: of the one record it shows (``Status``), or of each
    record under its heading (``Add a watering schedule.Status``) when headings hold fields."""
    records: list[tuple[str, dict[str, Any]]] = [("", {})]
    for ln in text.splitlines():
        h = _MD_HEADING.match(ln)
        if h:
            records.append((h.group(1).strip(), {}))
            continue
        m = _MD_FIELD.match(ln)
        if m:
            key, value = m.group(1).strip(), m.group(2).strip().strip("`").strip()
            if value and key not in records[-1][1]:
                records[-1][1][key] = coerce(value)
    records = [(h, r) for h, r in records if r]
    if sum(len(r) for _, r in records) < 2:
        return []
    if len(records) == 1:
        return [Fact(k, v, f"the {_phrase(k)}") for k, v in records[0][1].items() if _fact_value_ok(k, v)]
    facts: list[Fact] = []
    for heading, rec in records[:4]:
        if not heading or "." in heading or not _ok_value(heading):
            continue
        facts += [Fact(f"{heading}.{k}", v, f"the {_phrase(k)} of {heading}") for k, v in list(rec.items())[:4]
                  if _fact_value_ok(k, v)]
    return facts[:_MAX_NESTED]


_REPR_INNER = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|\{[^{}]*\}")
_REPR_PAIR = re.compile(r"'(\w{1,40})':\s*('([^'\\\n]{0,80})'|-?\d+(?:\.\d+)?(?=[,}\s]))")


def _repr_pairs(text: str) -> dict[str, Any]:
    """The top-level ``'key': scalar`` pairs of a dict printed by Python (nested values left out)."""
    body = text.strip()
    if not (body.startswith("{") and body.endswith("}")):
        return {}
    body = body[1:-1]
    for _ in range(20):
        inner = _REPR_INNER.sub("\u00a7", body)  # a nested value: no scalar
        if inner == body:
            break
        body = inner
    return {k: (sv if q.startswith("'") else coerce(q)) for k, q, sv in _REPR_PAIR.findall(body)}


_TR = re.compile(r"<tr[^>]*>(.*?)</tr>", re.IGNORECASE | re.DOTALL)
_TD = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.IGNORECASE | re.DOTALL)


def _text_table(text: str) -> list[dict[str, Any]]:
    """The records of a table written as HTML (``<tr><td>``) or Markdown (``| a | b |``) whose first row names the
    columns; a spreadsheet's column letters (A, B, C) and row numbers are left out."""
    if "<tr" in text.lower():
        grid = [[re.sub(r"<[^>]+>", "", c).strip() for c in _TD.findall(tr)] for tr in _TR.findall(text)]
    else:
        grid = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in text.splitlines()
                if ln.strip().startswith("|") and ln.strip().endswith("|") and not re.fullmatch(r"[\s|:\-]+", ln)]
    grid = [r for r in grid if r]
    if grid and all(re.fullmatch(r"[A-Z]{0,2}", c) for c in grid[0]):
        grid = grid[1:]  # column letters
    if grid and all(re.fullmatch(r"\d*", r[0]) for r in grid):
        grid = [r[1:] for r in grid]  # row numbers
    if len(grid) < 2 or len({len(r) for r in grid}) != 1 or len(grid[0]) < 2:
        return []
    header = grid[0]
    if len(set(header)) != len(header) or not all(header):
        return []
    return [{h: coerce(c) for h, c in zip(header, r, strict=True)} for r in grid[1:]]


def _text_facts(text: str) -> list[Fact]:
    """Facts of a text that is a table, ``key: value`` lines (one record, or rows of records), Markdown
    ``**Key:** value`` fields under headings, or a Python-printed dict (``{'name': 'x', 'count': 3}``)."""
    table = _text_table(text)
    if table:
        return _row_facts(table, first_column_labels=True)
    md = _markdown_facts(text)
    if md:
        return md
    if text.startswith("{'"):
        return [Fact(k, v, f"the {_phrase(k)}") for k, v in _repr_pairs(text).items() if _fact_value_ok(k, v)]
    rows = _text_records(text)
    if len(rows) > 1:
        return _row_facts(rows)
    return [Fact(k, v, f"the {_phrase(k)}") for k, v in (rows[0].items() if rows else ()) if _fact_value_ok(k, v)]


def _text_records(text: str) -> list[dict[str, Any]]:
    """Records written as ``key: value`` lines (``size: 118``; rows of a query result separated by ``1. row``
    headers or blank lines). Empty unless such lines make up most of the text; records whose fields differ from
    the usual ones (a trailing ``Result: 3 rows``) are left out."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) < 2 or len(lines) > 400:
        return []
    rows: list[dict[str, Any]] = [{}]
    n_kv = 0
    for ln in text.splitlines():
        m = _KV_LINE.match(ln)
        if not ln.strip() or _ROW_HEADER.match(ln):
            if rows[-1]:
                rows.append({})
            continue
        if m is None or ln[:1].isspace():
            continue
        n_kv += 1
        key = m.group(1).strip()
        if key in rows[-1]:
            rows.append({})
        rows[-1][key] = coerce(m.group(2))
    rows = [r for r in rows if r]
    if n_kv < 2 or n_kv < 0.7 * len([ln for ln in lines if not _ROW_HEADER.match(ln)]):
        return []
    usual = max({tuple(r) for r in rows}, key=lambda ks: sum(tuple(r) == ks for r in rows))
    return [r for r in rows if tuple(r) == usual]


_STEP = re.compile(r"\.?([^.\[\]]+)|\[(-?\d+)\]")


def resolve_key(data: Any, path: str) -> Any:
    """The value at ``path`` ("a.b[0].c", "[1]", "" for the whole) inside parsed data; None if absent."""
    cur = data
    for m in _STEP.finditer(path):
        name, idx = m.group(1), m.group(2)
        if idx is not None:
            if not isinstance(cur, list) or not -len(cur) <= int(idx) < len(cur):
                return None
            cur = cur[int(idx)]
        elif isinstance(cur, dict) and name in cur:
            cur = cur[name]
        else:
            return None
    return cur


def _card_value(rec: CallRecord, key: str) -> Any:
    path, _, pattern = key.partition("|re:")
    if path == "text":
        value: Any = result_text(rec.result).strip()
    else:
        value = resolve_key(parse_result(rec.result), path)
    if pattern:
        if value is None:
            return None
        m = re.search(pattern, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
        if not m:
            return None
        value = m.group(1) if m.groups() else m.group(0)
    if isinstance(value, (dict, list)) or value is None:
        return value
    return coerce(value)


def _legacy_value(data: Any, key: str) -> Any:
    """Keys of datasets written before cards (line counts, first lines, lengths): read, never written."""
    m = re.fullmatch(r"len\((.*)\)|len", key)
    if m:
        v = resolve_key(data, m.group(1) or "")
        return len(v) if isinstance(v, list) else None
    m = re.fullmatch(r"(?:(.+)\.)?(lines|line\[0\])", key)
    if m:
        v = resolve_key(data, m.group(1) or "") if m.group(1) else data
        if not isinstance(v, str):
            return None
        lines = [ln.strip() for ln in v.strip().splitlines() if ln.strip()]
        if m.group(2) == "lines":
            return len(lines)
        return coerce(lines[0]) if lines else None
    return _MISSING


_MISSING = object()


def fact_value(rec: CallRecord, key: str) -> Any:
    """The value of one fact key computed from a (recorded or replayed) record; None when it is gone."""
    for f in _raw_facts(rec):
        if f.key == key:
            return f.value
    legacy = _legacy_value(parse_result(rec.result), key)
    if legacy is not _MISSING:
        return legacy
    return _card_value(rec, key)


def succeeded(rec: Any) -> bool:
    """A call (a :class:`~firefly_eval.schema.CallRecord`) succeeded only if it did what was asked: no
    error flag, no error text, not empty."""
    return error_reason(rec.result, rec.is_error) is None and bool(rec.text().strip())
