"""One pure grading function shared by the Inspect scorer, verification and the GRPO reward.

A submission passes iff every required field of the answer schema matches the gold answer:
strings normalised (unicode NFKC, case, whitespace, punctuation), numbers within a relative
tolerance, booleans exact, arrays as sets unless the schema marks them ordered
(``"x-ordered": true``), objects recursively.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FieldResult", "Grade", "grade", "normalize_text", "required_fields"]

_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_WS = re.compile(r"\s+")


def normalize_text(value: str) -> str:
    """NFKC, casefold, punctuation dropped, whitespace collapsed."""
    value = unicodedata.normalize("NFKC", value).casefold()
    value = _PUNCT.sub(" ", value)
    return _WS.sub(" ", value).strip()


def _as_number(v: Any) -> int | float | None:
    """A number, integers kept exact (a factorial does not fit a float)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str):
        s = v.strip().replace(",", "")
        try:
            return int(s) if re.fullmatch(r"[+-]?\d+", s) else float(s)
        except (ValueError, OverflowError):
            return None
    return None


def _numbers_close(p: int | float, g: int | float, rel_tol: float) -> bool:
    if isinstance(p, int) and isinstance(g, int):  # exact integer arithmetic, any size
        scale = 10**9
        return abs(p - g) * scale <= round(rel_tol * scale) * max(abs(p), abs(g))
    try:
        return math.isclose(float(p), float(g), rel_tol=rel_tol, abs_tol=1e-9)
    except OverflowError:  # one side beyond float range, the other a float: not the same number
        return False


def _match(pred: Any, gold: Any, schema: dict[str, Any], rel_tol: float) -> tuple[bool, str]:
    typ = schema.get("type") if isinstance(schema, dict) else None
    if pred is None:
        return (gold is None, "missing" if gold is not None else "ok")
    if isinstance(gold, bool) or typ == "boolean":
        if isinstance(pred, str):
            pred = {"true": True, "false": False, "yes": True, "no": False}.get(pred.strip().lower(), pred)
        return (pred is gold or pred == gold) and isinstance(pred, bool), f"expected {gold!r}, got {pred!r}"
    if isinstance(gold, (int, float)) or typ in ("number", "integer"):
        g, p = _as_number(gold), _as_number(pred)
        if g is None or p is None:
            return False, f"expected number {gold!r}, got {pred!r}"
        ok = _numbers_close(p, g, rel_tol)
        return ok, "ok" if ok else f"expected {gold!r}, got {pred!r}"
    if isinstance(gold, str):
        ok = isinstance(pred, (str, int, float)) and normalize_text(str(pred)) == normalize_text(gold)
        return ok, "ok" if ok else f"expected {gold!r}, got {pred!r}"
    if isinstance(gold, list):
        if not isinstance(pred, list):
            return False, f"expected a list, got {type(pred).__name__}"
        item_schema = schema.get("items", {}) if isinstance(schema, dict) else {}
        if len(pred) != len(gold):
            return False, f"expected {len(gold)} items, got {len(pred)}"
        if schema.get("x-ordered"):
            for i, (p, g) in enumerate(zip(pred, gold)):
                ok, why = _match(p, g, item_schema, rel_tol)
                if not ok:
                    return False, f"item {i}: {why}"
            return True, "ok"
        remaining = list(pred)
        for g in gold:
            for j, p in enumerate(remaining):
                if _match(p, g, item_schema, rel_tol)[0]:
                    del remaining[j]
                    break
            else:
                return False, f"missing item {g!r}"
        return True, "ok"
    if isinstance(gold, dict):
        if not isinstance(pred, dict):
            return False, f"expected an object, got {type(pred).__name__}"
        props = schema.get("properties", {}) if isinstance(schema, dict) else {}
        for k, g in gold.items():
            ok, why = _match(pred.get(k), g, props.get(k, {}), rel_tol)
            if not ok:
                return False, f"{k}: {why}"
        return True, "ok"
    ok = pred == gold
    return ok, "ok" if ok else f"expected {gold!r}, got {pred!r}"


@dataclass
class FieldResult:
    name: str
    passed: bool
    explanation: str


@dataclass
class Grade:
    passed: bool
    fields: list[FieldResult] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        return sum(f.passed for f in self.fields) / len(self.fields) if self.fields else 0.0

    @property
    def explanation(self) -> str:
        return "; ".join(f"{f.name}: {'ok' if f.passed else f.explanation}" for f in self.fields)


def required_fields(schema: dict[str, Any]) -> list[str]:
    """The schema's required fields; an empty list means the task has no criteria."""
    req = schema.get("required") or []
    return [r for r in req if isinstance(r, str)]


def grade(answer: dict[str, Any] | None, gold: dict[str, Any], schema: dict[str, Any], rel_tol: float = 1e-4) -> Grade:
    """Grade a submitted answer against the gold answer under the answer schema.

    Raises:
        ValueError: when the schema has no required field (nothing could ever fail).
    """
    req = required_fields(schema)
    if not req:
        raise ValueError("answer schema has no required field: a task must have criteria that can fail")
    answer = answer if isinstance(answer, dict) else {}
    props = schema.get("properties", {})
    results = []
    for name in req:
        if name not in answer:
            results.append(FieldResult(name, False, "missing"))
            continue
        ok, why = _match(answer[name], gold.get(name), props.get(name, {}), rel_tol)
        results.append(FieldResult(name, ok, why))
    return Grade(all(r.passed for r in results), results)
