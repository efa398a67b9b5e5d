"""Realism figures of a task set: does it read like what a user would ask, and is the chain needed?

Measured per task from the task rows, the recorded calls and the tool specs (no model):

- ``names_tool_or_kv``: the question names a tool, server or parameter, or spells ``k = v``;
- ``answer_from_error_or_host``: an answer field comes from an error result or the host environment;
- ``formatting_fact``: an answer field is a line count, a first line or the length of a listing;
- ``needs_chain``: some reference argument is a value an earlier reference call returned and the
  question does not state it (the chain is needed to answer);
- ``derived_cards``: the task used a card derived from a description (no curated/LLM card);
- patterns, multi-server share, mean calls per task.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from firefly_eval.cards import ToolCard, slots
from firefly_eval.facts import appears_in
from firefly_eval.generation.synthesize import _keyed, _parsed, echoes
from firefly_eval.generation.verify import answer_problems, name_leaks
from firefly_eval.grading import normalize_text
from firefly_eval.schema import CallRecord, Task, ToolSpec, result_text

__all__ = ["needs_chain", "realism"]


def needs_chain(task: Task, calls: dict[str, CallRecord],
                cards: dict[tuple[str, str], ToolCard] | None = None) -> bool:
    """Some reference argument is a value an earlier reference call returned, and the question does not state it.

    With ``cards``, an argument of a tool with a card counts only where the card's goal asks for it (a
    ``{slot}``): a save's timestamp carried into a search's ``relativeTime``, which the request never
    mentions, is a binding, not a step the user's request needs."""
    padded = f" {normalize_text(task.question)} "
    earlier: list[CallRecord] = []
    for ref_id, ref in zip(task.reference_calls, task.reference_arguments, strict=False):
        card = (cards or {}).get((ref["server"], ref["tool"]))
        asked = set(slots(card.goal)) if card is not None else None
        for param, value in ref["arguments"].items():
            if isinstance(value, (dict, list, bool)) or value is None:
                continue
            if asked is not None and param not in asked:
                continue
            sv = normalize_text(str(value))
            if not sv or f" {sv} " in padded:
                continue
            for rec in earlier:
                if echoes(param, value, rec):
                    continue  # a namespace every result echoes under its own name (tau2's state_key)
                pairs = _keyed(_parsed(rec))
                leaves = {normalize_text(str(x)) for _, x in pairs}
                raw = str(value).strip()
                if sv in leaves or (len(raw) >= 4 and appears_in(raw, result_text(rec.result))):
                    return True
        if ref_id in calls:
            earlier.append(calls[ref_id])
    return False


def realism(tasks: list[Task], calls: list[CallRecord], tools: list[ToolSpec],
            cards: dict[tuple[str, str], ToolCard] | None = None) -> dict[str, Any]:
    """The realism figures (shares in [0, 1]) of ``tasks`` (``cards``: see :func:`needs_chain`)."""
    by_id = {c.id: c for c in calls}
    specs = {t.key: t for t in tools}
    n = max(len(tasks), 1)
    count: Counter[str] = Counter()
    for t in tasks:
        count["names_tool_or_kv"] += bool(name_leaks(t, specs))
        probs = answer_problems(t, by_id)
        count["answer_from_error_or_host"] += any("error" in p or "host" in p or "missing" in p for p in probs)
        count["formatting_fact"] += any("formatting" in p for p in probs)
        count["needs_chain"] += needs_chain(t, by_id, cards)
        count["derived_cards"] += "derived" in (t.provenance.get("cards") or ["derived"])
    patterns = Counter(t.pattern for t in tasks)
    return {
        "n": len(tasks),
        **{k: round(count[k] / n, 3) for k in ("names_tool_or_kv", "answer_from_error_or_host", "formatting_fact",
                                              "needs_chain", "derived_cards")},
        "patterns": dict(patterns),
        "multi_server_share": round(sum(len(t.servers) > 1 for t in tasks) / n, 3),
        "mean_calls": round(sum(len(t.reference_calls) for t in tasks) / n, 2),
    }
