"""``firefly doctor --model M``: a one-minute pre-flight on 3 canary tasks.

Checks what silently ruins scores with local models (wrong tool-call parser, no submit):
the model answered, emitted tool calls that parsed, called tools that exist, and made a
schema-valid submission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Check", "run_doctor"]


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def run_doctor(model: str | Any, n: int = 3, dataset: str = "shipped", log_dir: str | None = None) -> list[Check]:
    """Run ``n`` canary samples and return the checks (the eval log is kept in ``log_dir``)."""
    from inspect_ai import eval as inspect_eval

    from firefly_eval.tasks.heldout.task import heldout

    log = inspect_eval(heldout(dataset=dataset, max_turns=8), model=model, limit=n, display="none",
                       log_dir=log_dir or "logs/doctor", fail_on_error=False)[0]
    samples = log.samples or []
    errors = [s.error.message.splitlines()[0] for s in samples if s.error]
    calls = parse_errors = unknown = 0
    for s in samples:
        for m in s.messages:
            if m.role == "assistant" and m.tool_calls:
                for c in m.tool_calls:
                    calls += 1
                    parse_errors += bool(c.parse_error)
            if m.role == "tool" and m.text.startswith("Unknown tool"):
                unknown += 1
    submitted = sum(1 for s in samples if (s.metadata or {}).get("firefly_answer") is not None
                    or (s.scores and "field_match" in s.scores and s.scores["field_match"].answer))
    invalid = sum((s.scores["field_match"].metadata or {}).get("invalid_submits", 0)
                  for s in samples if s.scores and "field_match" in s.scores)
    return [
        Check("model answered", not errors and bool(samples), "; ".join(errors[:2]) or f"{len(samples)} samples"),
        Check("tool calls emitted", calls > 0, f"{calls} tool calls (0 usually means a wrong tool-call parser)"),
        Check("tool calls parse", calls > 0 and parse_errors == 0, f"{parse_errors} of {calls} failed to parse"),
        Check("tool names exist", unknown == 0, f"{unknown} calls to unknown tools"),
        Check("valid submit", submitted > 0, f"{submitted}/{len(samples)} samples submitted; {invalid} invalid tries"),
    ]
