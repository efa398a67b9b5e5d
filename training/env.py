"""Simulator-backed rollout environment for TRL's ``GRPOTrainer(environment_factory=...)``.

The policy sees what ``firefly_eval/heldout`` shows a model under evaluation: each of the task's
tools under its exposed name with its own JSON schema, and a ``submit`` tool typed by the task's
answer schema, all built by :class:`firefly_eval.tasks.heldout.interface.ToolInterface`.

TRL finds an environment's tools among the public methods of its class and calls them with the
parsed arguments as keywords, so :func:`make_env_class` builds one ``FireflyEnv`` subclass with a
method per exposed name of the whole dataset (each forwards to the simulator). Which of them a
rollout may use, and the schemas its prompt shows, are the task's: TRL's multi-environment mode
routes each row (``environment`` = task id) to its own tool list, which :func:`install_task_tools`
sets to the interface's JSON schemas. A call to a tool the task does not offer gets the harness's
"Unknown tool" result. The reward is :func:`firefly_eval.grading.grade`, the Inspect scorer's
function, on the first accepted submission.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from firefly_eval.grading import grade
from firefly_eval.simulator import Simulator
from firefly_eval.tasks.heldout.interface import (
    SUBMIT,
    SUBMITTED,
    ToolInterface,
    result_text,
    truncate_text,
    unknown_tool_text,
)

__all__ = ["FireflyEnv", "install_task_tools", "logging_reward_funcs", "make_env_class", "make_env_factories"]

ALREADY_SUBMITTED = "The answer was already submitted."


class FireflyEnv:
    """One rollout of a task: tool calls answered by the simulator, reward from the shared grader.

    Args:
        sim: The simulator (shared by all environments).
        interfaces: Task id -> its tool interface.
        golds: Task id -> gold answer.
        partial_credit: Reward the share of matching fields instead of pass/fail.
        malformed_penalty: Subtracted per malformed call (unknown tool, rejected submission).
        max_tool_output_bytes: Tool results longer than this are cut (``None``: never).
    """

    def __init__(self, sim: Simulator, interfaces: dict[str, ToolInterface], golds: dict[str, dict[str, Any]],
                 partial_credit: bool = False, malformed_penalty: float = 0.1,
                 max_tool_output_bytes: int | None = None) -> None:
        self._sim = sim
        self._interfaces = interfaces
        self._golds = golds
        self._partial = partial_credit
        self._penalty = malformed_penalty
        self._max_bytes = max_tool_output_bytes
        self._start(None)

    def _start(self, task_id: str | None) -> None:
        self.task_id = task_id
        self.interface = self._interfaces.get(task_id) if task_id is not None else None
        self._episode = self._sim.episode() if task_id is not None else None
        self.answer: dict[str, Any] | None = None
        self.malformed = 0
        self.infra_errors = 0
        self.tiers: Counter[str] = Counter()
        self.calls: list[dict[str, Any]] = []

    def reset(self, **row: Any) -> None:
        """Start a new episode for one dataset row (its ``task_id`` selects the interface)."""
        task_id = str(row["task_id"])
        if task_id not in self._interfaces:
            raise KeyError(f"no tool interface for task {task_id}")
        self._start(task_id)

    def _call(self, name: str, arguments: dict[str, Any]) -> str:
        """Answer a call to the exposed tool ``name`` as the harness agent does."""
        if self.interface is None or self._episode is None:
            raise RuntimeError("reset() was not called")
        if self.answer is not None:
            return ALREADY_SUBMITTED
        spec = self.interface.by_name.get(name)
        if spec is None:
            self.malformed += 1
            self.calls.append({"tool": name, "tier": "unknown_tool"})
            return unknown_tool_text(name)
        ans = self._episode.call(spec.server, spec.name, arguments)
        self.calls.append({"server": spec.server, "tool": spec.name, "arguments": arguments, **ans.provenance})
        if ans.tier == "error":  # the simulator itself failed: this rollout is not scored
            self.infra_errors += 1
        else:
            self.tiers[ans.tier] += 1
        return truncate_text(result_text(ans.result), self._max_bytes)

    def _submit(self, answer: dict[str, Any]) -> str:
        if self.interface is None:
            raise RuntimeError("reset() was not called")
        if self.answer is not None:
            return ALREADY_SUBMITTED
        msg = self.interface.submission_error(answer)
        if msg is not None:
            self.malformed += 1
            return f"Invalid submission: {msg}"
        self.answer = dict(answer)
        return SUBMITTED

    def get_reward(self) -> float | None:
        """Pass (1) / fail (0) from the harness's grader (or the share of fields), minus malformed-call penalties.

        ``None`` (not scored) when the simulator failed during the rollout, as the harness errors the sample.
        """
        if self.infra_errors or self.task_id is None or self.interface is None:
            return None
        g = grade(self.answer, self._golds[self.task_id], self.interface.answer_schema)
        base = g.fraction if self._partial else float(g.passed)
        return max(0.0, base - self._penalty * self.malformed) if base > 0 else -self._penalty * min(self.malformed, 5)


def _tool_method(name: str) -> Callable[..., str]:
    def tool(self: FireflyEnv, /, **arguments: Any) -> str:  # positional-only: any argument name is allowed
        return self._call(name, arguments)

    tool.__name__ = tool.__qualname__ = name
    tool.__doc__ = f"Call the task's tool `{name}` (schema: the task's tool list)."
    return tool


def _submit(self: FireflyEnv, /, **answer: Any) -> str:
    return self._submit(answer)


_submit.__name__ = _submit.__qualname__ = SUBMIT
_submit.__doc__ = "Submit the final answer (schema: the task's answer fields)."


def make_env_class(tool_names: set[str] | list[str]) -> type[FireflyEnv]:
    """A ``FireflyEnv`` subclass with one public method per exposed tool name, plus ``submit``."""
    bad = sorted(n for n in tool_names if n.startswith("_") or n in ("reset", "get_reward", SUBMIT))
    if bad:
        raise ValueError(f"exposed tool names TRL would not offer as tools: {bad}")
    methods: dict[str, Any] = {n: _tool_method(n) for n in sorted(tool_names)}
    methods[SUBMIT] = _submit
    return type("FireflyEnv", (FireflyEnv,), methods)


def make_env_factories(sim: Simulator, interfaces: dict[str, ToolInterface], golds: dict[str, dict[str, Any]],
                       partial_credit: bool = False, malformed_penalty: float = 0.1,
                       max_tool_output_bytes: int | None = None) -> dict[str, Callable[[], FireflyEnv]]:
    """``environment_factory`` for GRPOTrainer: task id -> a factory of one shared ``FireflyEnv`` class."""
    cls = make_env_class({n for i in interfaces.values() for n in i.by_name})

    def factory() -> FireflyEnv:
        return cls(sim, interfaces, golds, partial_credit=partial_credit, malformed_penalty=malformed_penalty,
                   max_tool_output_bytes=max_tool_output_bytes)

    return {task_id: factory for task_id in interfaces}


def install_task_tools(trainer: Any, interfaces: dict[str, ToolInterface]) -> None:
    """Show each task's exact tool schemas (the harness's) in its prompts and use them to parse calls.

    TRL derives schemas from method signatures; ours take ``**arguments``, so the per-environment
    tool lists are replaced by the interfaces' JSON schemas (which ``apply_chat_template`` and
    ``parse_response`` accept). Raises if TRL no longer keeps those lists where this expects them.
    """
    env_tools = getattr(trainer, "_env_tools", None)
    if not isinstance(env_tools, dict) or set(env_tools) != set(interfaces):
        raise RuntimeError("this TRL version keeps per-environment tools differently; update install_task_tools")
    for task_id, interface in interfaces.items():
        env_tools[task_id] = interface.chat_tools()


def _tier_share(tier: str) -> Callable[..., list[float]]:
    def share(prompts: Any, completions: Any, environments: Any = None, **kwargs: Any) -> list[float]:
        out = []
        for env in environments or []:
            total = sum(env.tiers.values())
            out.append(env.tiers.get(tier, 0) / total if total else 0.0)
        return out

    share.__name__ = f"sim_tier_{tier}"
    return share


def sim_calls(prompts: Any, completions: Any, environments: Any = None, **kwargs: Any) -> list[float]:
    """Tool calls the simulator answered per rollout (logged, weight 0)."""
    return [float(sum(env.tiers.values())) for env in environments or []]


def malformed_calls(prompts: Any, completions: Any, environments: Any = None, **kwargs: Any) -> list[float]:
    """Malformed tool calls per rollout (logged, weight 0)."""
    return [float(env.malformed) for env in environments or []]


def submitted(prompts: Any, completions: Any, environments: Any = None, **kwargs: Any) -> list[float]:
    """1 when the rollout's submission was accepted (logged, weight 0)."""
    return [float(env.answer is not None) for env in environments or []]


def logging_reward_funcs() -> list[Callable[..., list[float]]]:
    """Zero-weight "rewards" that make TRL log tier shares, simulator calls, malformed calls and submissions."""
    return [_tier_share("exact"), _tier_share("fuzzy"), _tier_share("miss"), sim_calls, malformed_calls, submitted]
