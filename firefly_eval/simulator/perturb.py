"""Perturbation fidelity: change one argument of a recorded call and see what the simulator says.

For every recorded call and every argument, one change at a time: a number +1 and +5%, a
boolean flipped, another enum member, another id/path/name seen for that parameter in the
calls, and two rewordings of free text (case and punctuation; one word changed). A change to
an exact parameter makes another call: the right answers are ``exact`` (it is another
recorded call), ``miss``/``invalid``, or an adapter's/simulator's tagged result. A recorded
result returned as a success for it (tier ``fuzzy``) is a **wrong success**, the headline
figure. Reworded free text should still be answered by the fuzzy tier.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from firefly_eval.schema import CallRecord, ToolSpec, canonical_json
from firefly_eval.simulator.sensitivity import param_kind

__all__ = ["Perturbation", "perturbation_report", "perturbations", "score_answers", "shipped_calls"]

_SWAPS = {"the": "this", "a": "one", "is": "was", "top": "main", "grew": "rose", "best": "most", "in": "during",
          "for": "regarding", "sales": "revenue", "priority": "focus", "and": "plus", "of": "from",
          "with": "using", "to": "into", "show": "list", "find": "locate", "get": "fetch"}


@dataclass
class Perturbation:
    """One recorded call with one argument changed."""

    record_id: str
    server: str
    tool: str
    param: str
    kind: str  # number+1 | number+5% | boolean | enum | id | reworded-case | reworded-word
    sensitive: bool
    arguments: dict[str, Any]
    history_key: str = ""


def shipped_calls() -> Path:
    """The shipped held-out dataset folder (its ``calls`` are the default perturbation source)."""
    from importlib import resources

    return Path(str(resources.files("firefly_eval") / "data" / "heldout"))


def _reword_case(text: str) -> str:
    s = text.strip()
    s = s[:1].swapcase() + s[1:]
    return s[:-1] if s[-1:] in ".?!" else s + "."


def _reword_word(text: str) -> str | None:
    words = text.split(" ")
    for i, w in enumerate(words):
        if w.lower() in _SWAPS:
            words[i] = _SWAPS[w.lower()]
            return " ".join(words)
    return None if len(words) < 2 else " ".join(["please", *words])


def _numbers(v: int | float) -> list[tuple[str, int | float]]:
    out: list[tuple[str, int | float]] = [("number+1", v + 1)]
    bumped = v * 1.05
    if isinstance(v, int):
        bumped = round(bumped)
    if bumped != v and math.isfinite(bumped):
        out.append(("number+5%", bumped))
    return out


def _changes(name: str, value: Any, schema: dict[str, Any], seen: list[Any]) -> list[tuple[str, Any]]:
    """The one-argument changes of one parameter value: (kind, new value)."""
    if isinstance(value, bool):
        return [("boolean", not value)]
    if isinstance(value, (int, float)):
        return _numbers(value)
    if not isinstance(value, str):
        return []  # lists and objects: no single obvious change
    if param_kind(name, schema, value) == "text":
        word = _reword_word(value)
        return [("reworded-case", _reword_case(value))] + ([("reworded-word", word)] if word is not None else [])
    enum = schema.get("enum") if isinstance(schema.get("enum"), list) else None
    pool = enum if enum else seen
    other = next((x for x in pool if x != value), None)
    return [] if other is None else [("enum" if enum else "id", other)]


def perturbations(records: Iterable[CallRecord], tools: dict[tuple[str, str], ToolSpec]) -> list[Perturbation]:
    """Every one-argument change of every recorded call (deterministic order)."""
    records = list(records)
    seen: dict[str, list[Any]] = defaultdict(list)  # parameter name -> distinct string values in the calls
    for r in records:
        for k, v in r.arguments.items():
            if isinstance(v, str) and v not in seen[k]:
                seen[k].append(v)
    out: list[Perturbation] = []
    for r in records:
        spec = tools.get((r.server, r.tool))
        props = (spec.input_schema.get("properties") or {}) if spec else {}
        for k, v in r.arguments.items():
            schema = props.get(k) if isinstance(props.get(k), dict) else {}
            for kind, new in _changes(k, v, schema, seen[k]):
                if canonical_json(new) != canonical_json(v):
                    out.append(Perturbation(r.id, r.server, r.tool, k, kind, not kind.startswith("reworded"),
                                            {**r.arguments, k: new}, r.history_key))
    return out


AnswerFn = Callable[[Perturbation], tuple[str, bool]]  # -> (tier, is_error)


def score_answers(items: list[Perturbation], answers: list[tuple[str, bool]]) -> dict[str, Any]:
    """Counts per change kind and tier; wrong successes; share of rewordings answered by fuzzy."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    wrong: Counter[str] = Counter()
    examples: list[dict[str, Any]] = []
    for p, (tier, is_error) in zip(items, answers, strict=True):
        table[p.kind][tier] += 1
        if p.sensitive and tier == "fuzzy" and not is_error:
            wrong[p.kind] += 1
            if len(examples) < 5:
                examples.append({"tool": p.tool, "param": p.param, "kind": p.kind, "arguments": p.arguments})
    reworded = [a for p, a in zip(items, answers, strict=True) if not p.sensitive]
    return {
        "perturbations": len(items),
        "sensitive": sum(p.sensitive for p in items),
        "wrong_successes": sum(wrong.values()),
        "wrong_successes_by_kind": dict(wrong),
        "wrong_success_examples": examples,
        "reworded": len(reworded),
        "reworded_answered_by_fuzzy": round(sum(t == "fuzzy" for t, _ in reworded) / max(len(reworded), 1), 4),
        "tiers_by_kind": {k: dict(v) for k, v in sorted(table.items())},
    }


def perturbation_report(source: str | Path | None = None, answer: AnswerFn | None = None) -> dict[str, Any]:
    """Perturb every recorded call of a dataset (default: the shipped held-out calls) and replay.

    ``answer`` defaults to this package's simulator configured as the held-out harness does
    (tool specs, stateful servers, exact + fuzzy tiers, threshold 90, no adapter).
    """
    from firefly_eval.simulator.mcp_server import load_simulator

    sim = load_simulator(source or shipped_calls())
    items = perturbations(sim.index.records(), sim.tools)
    if answer is None:
        def answer(p: Perturbation) -> tuple[str, bool]:
            ans = sim.answer(p.server, p.tool, p.arguments, p.history_key)
            return ans.tier, ans.is_error
    return score_answers(items, [answer(p) for p in items])


def as_rows(items: list[Perturbation]) -> list[dict[str, Any]]:
    """Plain dicts (for handing perturbations to another process)."""
    return [asdict(p) for p in items]
