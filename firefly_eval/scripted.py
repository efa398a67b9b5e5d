"""Scripted agents on ``mockllm/model``: a fixed list of steps per sample, picked by the sample's prompt.

Used by the benchmark adapters' tests and ``benchmarks/upstream_check.py`` to run perfect and
do-nothing agents offline. Each call finds the script whose key occurs in the first user message and
plays the step after the number of assistant turns already in the conversation, so samples may run
concurrently. Every output carries ``usage`` (mockllm would otherwise try to fetch a tokenizer).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from inspect_ai.model import ChatMessage, ChatMessageAssistant, Model, ModelOutput, ModelUsage, get_model
from inspect_ai.tool import ToolCall

if TYPE_CHECKING:
    from inspect_ai.log import EvalLog

__all__ = ["Step", "call", "run_scripted", "scripted_model", "text"]

Step = tuple[str, str, dict[str, Any]]  # (kind, tool name or text, arguments)


def call(function: str, arguments: dict[str, Any]) -> Step:
    """A step that calls one tool."""
    return ("tool", function, arguments)


def text(content: str) -> Step:
    """A step that answers with text and no tool call."""
    return ("text", content, {})


def _output(step: Step, turn: int) -> ModelOutput:
    kind, value, args = step
    if kind == "tool":
        fn = value
        out = ModelOutput.for_tool_call("mockllm/model", fn, args)
        out.choices[0].message.tool_calls = [ToolCall(id=f"call{turn}", function=fn, arguments=args)]
    else:
        out = ModelOutput.from_content("mockllm/model", value)
    out.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    return out


def scripted_model(scripts: dict[str, list[Step]], default: Step | None = None) -> Model:
    """A mockllm model playing ``scripts[key]`` for the sample whose first user message contains ``key``.

    Past the end of its script (or with no matching script) it plays ``default``; without one that
    is an error, so a model that is asked more than scripted fails loudly.
    """

    def respond(messages: list[ChatMessage], *_: Any) -> ModelOutput:
        prompt = next((m.text for m in messages if m.role == "user"), "")
        steps = next((s for k, s in scripts.items() if k in prompt), None)
        turn = sum(isinstance(m, ChatMessageAssistant) for m in messages)
        if steps is not None and turn < len(steps):
            return _output(steps[turn], turn)
        if default is None:
            raise RuntimeError(f"scripted model: no step {turn} for prompt {prompt[:80]!r}")
        return _output(default, turn)

    fn: Callable[..., ModelOutput] = respond
    return get_model("mockllm/model", custom_outputs=fn)


def run_scripted(workdir: Path, task: str, task_args: dict[str, Any], spec: dict[str, Any],
                 env: dict[str, str] | None = None, timeout: float = 1200) -> EvalLog:
    """Run ``task`` with scripted models in a fresh interpreter whose cwd and TMPDIR are ``workdir``.

    ``spec`` holds ``scripts``/``default`` for the model under test, optional ``roles`` (same shape per
    role) and ``eval`` (extra ``inspect_ai.eval`` arguments). ``FIREFLY_HOME`` passes through from ``env``
    or this process. Returns the eval log, read back from disk.
    """
    import json
    import os
    import subprocess
    import sys

    from inspect_ai.log import read_eval_log

    workdir = Path(workdir)
    spec_file = workdir / f"spec-{os.getpid()}-{len(list(workdir.glob('spec-*')))}.json"
    spec_file.write_text(json.dumps({**spec, "task": task, "task_args": task_args, "log_dir": str(workdir / "logs")}))
    from firefly_eval.mcp.config import firefly_home

    child_env = {**os.environ, "FIREFLY_HOME": str(firefly_home()), "TMPDIR": str(workdir), **(env or {})}
    out = subprocess.run([sys.executable, "-m", "firefly_eval.scripted", str(spec_file)], cwd=workdir, env=child_env,
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"scripted eval failed (exit {out.returncode}): {out.stderr[-3000:]}")
    return read_eval_log(out.stdout.strip().splitlines()[-1])


def _main(spec_path: str) -> None:
    """``python -m firefly_eval.scripted SPEC.json``: one ``inspect_ai.eval`` of a registered task with scripted
    models, as a user's process runs it (tests call it in a fresh interpreter from a temp folder).

    SPEC: ``{"task": "firefly_eval/...", "task_args": {...}, "log_dir": "...", "scripts": {...},
    "default": step|null, "roles": {"grader": {"scripts": {...}, "default": step}}, "eval": {...}}``.
    Prints the log file's path.
    """
    import json

    from inspect_ai import eval as inspect_eval

    spec = json.loads(open(spec_path).read())

    def model(m: dict[str, Any]) -> Model:
        steps = {k: [cast(Step, tuple(s)) for s in v] for k, v in m.get("scripts", {}).items()}
        return scripted_model(steps, cast(Step, tuple(m["default"])) if m.get("default") else None)

    roles = {r: model(m) for r, m in spec.get("roles", {}).items()}
    log = inspect_eval(spec["task"], task_args=spec.get("task_args", {}), model=model(spec), model_roles=roles or None,
                       display="none", log_dir=spec["log_dir"], **spec.get("eval", {}))[0]
    print(log.location)


if __name__ == "__main__":
    import sys

    _main(sys.argv[1])
