"""``firefly doctor --model M``: a one-minute pre-flight on 3 canary tasks.

It tells apart the two reasons a model scores 0 that have nothing to do with its skill:

1. the model could not be reached or errored (no key, no server at the base URL, a provider
   package missing): reported once, with the real cause, and nothing else is blamed;
2. the model answered but produced no parseable tool calls (a local server without, or with the
   wrong, tool-call parser), called tools that do not exist, or never made a valid submission.

The report names the model, the overall verdict and the path of the canary eval log (open it
with ``inspect view``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from firefly_eval.tasks.heldout.interface import unknown_tool_text

__all__ = ["Check", "DoctorReport", "error_cause", "run_doctor"]

Status = Literal["ok", "fail", "skipped"]

# Exception types that only wrap the real cause (retry loops, task groups).
_WRAPPERS = ("RetryError", "ExceptionGroup", "BaseExceptionGroup", "CancelledError")
_EXC_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Timeout))(?::\s*(?P<msg>.*))?$")
# Text that a model meant as a tool call but the server did not parse into one.
_TEXT_CALL = re.compile(r"<tool_call>|<function[=>]|\[TOOL_CALLS\]|<\|python_tag\|>|\"(name|function)\"\s*:\s*\"")
_HINTS = (
    (re.compile(r"tiktoken", re.I), "the provider counts tokens with tiktoken, which needs a download: go online "
     "once, or script mockllm outputs with usage=ModelUsage(...)"),
    (re.compile(r"API_KEY|api key|AuthenticationError|401", re.I), "set the provider's API key"),
    (re.compile(r"requires optional dependencies|pip install", re.I),
     "install the provider package: pip install -e \".[providers]\""),
    (re.compile(r"ConnectError|Connection (error|refused)|connection attempts failed|Name or service", re.I),
     "is the server running at the base URL (--model-base-url, or the provider's *_BASE_URL variable)?"),
    (re.compile(r"NotFoundError|404|does not exist", re.I), "check the model name the server serves"),
)


@dataclass
class Check:
    """One pre-flight check: ``status`` is ok, fail, or skipped (when an earlier failure makes it moot)."""

    name: str
    status: Status
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class DoctorReport:
    """What ``run_doctor`` found: the model, the checks, one verdict, the cause of errors, the log."""

    model: str
    checks: list[Check]
    verdict: str
    log_path: str = ""
    cause: str | None = None
    hint: str | None = None
    samples: int = 0
    errored: int = 0

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)


def error_cause(message: str, traceback: str = "") -> str:
    """The real cause of an error: the outermost exception that is not a wrapper, and its root cause.

    ``RetryError[<Future ... raised APIConnectionError>]`` becomes
    ``openai.APIConnectionError: Connection error. (caused by httpx.ConnectError: All connection attempts failed)``.
    """
    found = []
    for line in (traceback or "").splitlines():
        m = _EXC_LINE.match(line.strip())
        if m and not m["type"].rsplit(".", 1)[-1].endswith(_WRAPPERS):
            found.append(f"{m['type']}: {m['msg']}" if m["msg"] else m["type"])
    if not found:
        text = _strip_markup(message).strip()
        return text.splitlines()[0] if text else "unknown error"
    outer, root = found[-1], found[0]
    return outer if root == outer else f"{outer} (caused by {root})"


def _strip_markup(text: str) -> str:
    return re.sub(r"\[/?(bold|blue|red|green|yellow|italic)\]", "", text)


def _hint(cause: str) -> str | None:
    return next((h for rx, h in _HINTS if rx.search(cause)), None)


def _unreachable(model: str, cause: str, log_path: str = "", samples: int = 0) -> DoctorReport:
    skipped = [Check(n, "skipped", "not checked: the model never answered")
               for n in ("tool calls emitted", "tool calls parse", "tool names exist", "valid submit")]
    return DoctorReport(
        model=model, log_path=log_path, samples=samples, errored=samples, cause=cause, hint=_hint(cause),
        checks=[Check("model reached", "fail", cause), *skipped],
        verdict="the model could not be reached or errored: this is not a tool-calling problem; fix the cause "
                "above first")


def run_doctor(model: str | Any, n: int = 3, dataset: str = "shipped", log_dir: str | None = None,
               model_base_url: str | None = None, max_retries: int = 2) -> DoctorReport:
    """Run ``n`` canary samples of the held-out task and diagnose the model's tool calling.

    Args:
        model: an Inspect model name or ``Model``.
        n: canary samples (the first ``n`` of the dataset's test split).
        dataset: the held-out task's ``dataset`` argument.
        log_dir: where the canary eval log goes (default ``runs/doctor``).
        model_base_url: base URL of an OpenAI-compatible server (Inspect's ``--model-base-url``).
        max_retries: retries per model call (kept low: a pre-flight should fail fast).
    """
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import get_model

    from firefly_eval.tasks.heldout.task import heldout

    name = model if isinstance(model, str) else str(getattr(model, "name", model))
    try:
        if isinstance(model, str):
            name = model
            model = get_model(model, base_url=model_base_url)
        log = inspect_eval(heldout(dataset=dataset, max_turns=8), model=model, limit=n, display="none",
                           log_dir=log_dir or "runs/doctor", fail_on_error=False, max_retries=max_retries,
                           score_display=False)[0]
    except Exception as exc:  # a provider that cannot start (no key, no package) raises before any sample
        return _unreachable(name, _raised_cause(exc))
    log_path = str(log.location or "")
    samples = log.samples or []
    if log.status == "error" and not samples:
        err = log.error
        return _unreachable(name, error_cause(err.message if err else "eval failed", err.traceback if err else ""),
                            log_path)
    errors = [s for s in samples if s.error]
    causes = list(dict.fromkeys(error_cause(s.error.message, s.error.traceback) for s in errors))
    if samples and len(errors) == len(samples):
        return _unreachable(name, "; ".join(causes), log_path, len(samples))
    return _diagnose(name, [s for s in samples if not s.error], len(samples), causes, log_path)


def _count(answered: list[Any]) -> dict[str, int]:
    """Tool calls, unparseable ones, calls to unknown tools, and replies holding tool-call-like text."""
    n = {"calls": 0, "parse_errors": 0, "unknown": 0, "text_calls": 0}
    unknown_prefix = unknown_tool_text("")
    for m in (m for s in answered for m in s.messages):
        if m.role == "assistant" and m.tool_calls:
            n["calls"] += len(m.tool_calls)
            n["parse_errors"] += sum(bool(c.parse_error) for c in m.tool_calls)
        elif m.role == "assistant" and _TEXT_CALL.search(m.text or ""):
            n["text_calls"] += 1
        elif m.role == "tool" and (m.text or "").startswith(unknown_prefix):
            n["unknown"] += 1
    return n


def _verdict(errored: int, total: int, n: dict[str, int], submitted: int) -> str:
    if errored:
        return f"{errored} of {total} samples errored (cause above); the rest were checked"
    if not n["calls"]:
        return "the model answered but produced no parseable tool calls" + (
            ": its replies contain tool calls as text, so the tool-call parser is wrong or off" if n["text_calls"]
            else ": check the server's tool-call parser and that the model supports tools")
    if n["parse_errors"] or n["unknown"]:
        return "the model calls tools, but some calls are malformed or name unknown tools"
    if not submitted:
        return "the model calls tools but never made a valid submission"
    return "ready: the model is reached, its tool calls parse and it submits valid answers"


def _diagnose(name: str, answered: list[Any], total: int, causes: list[str], log_path: str) -> DoctorReport:
    n = _count(answered)
    calls = n["calls"]
    scores = [s.scores["field_match"] for s in answered if s.scores and "field_match" in s.scores]
    submitted = sum(1 for s in answered if (s.metadata or {}).get("firefly_answer") is not None) or \
        sum(1 for sc in scores if sc.answer)
    invalid = sum((sc.metadata or {}).get("invalid_submits", 0) for sc in scores)
    errored = total - len(answered)
    reached = Check("model reached", "ok" if not errored else "fail",
                    f"{len(answered)}/{total} samples answered" + (f"; {errored} errored: {'; '.join(causes)}"
                                                                   if errored else ""))
    parse_hint = (f"; {n['text_calls']} replies hold tool-call-like text: the server is not parsing tool calls "
                  "(vLLM: --enable-auto-tool-choice --tool-call-parser <the model's>)") if n["text_calls"] else ""
    checks = [
        reached,
        Check("tool calls emitted", "ok" if calls else "fail",
              f"{calls} tool calls in {len(answered)} answered samples" + parse_hint),
        Check("tool calls parse", "skipped" if not calls else "ok" if not n["parse_errors"] else "fail",
              "no tool calls to parse" if not calls else f"{n['parse_errors']} of {calls} had unparseable arguments"),
        Check("tool names exist", "skipped" if not calls else "ok" if not n["unknown"] else "fail",
              "no tool calls" if not calls else f"{n['unknown']} of {calls} calls named a tool the task does not offer"),
        Check("valid submit", "ok" if submitted else "fail",
              f"{submitted}/{len(answered)} samples submitted an answer; {invalid} invalid submit tries"),
    ]
    cause = "; ".join(causes) or None
    return DoctorReport(model=name, checks=checks, verdict=_verdict(errored, total, n, submitted),
                        log_path=log_path, cause=cause, hint=_hint(cause) if cause else None, samples=total,
                        errored=errored)


def _raised_cause(exc: BaseException) -> str:
    """One line for an exception raised before any sample ran (PrerequisiteError messages span lines)."""
    while exc.__cause__ is not None and type(exc).__name__.endswith(_WRAPPERS):
        exc = exc.__cause__
    text = " ".join(_strip_markup(str(exc)).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
