"""Simulator-backed rollout environment for TRL's ``GRPOTrainer(environment_factory=...)``.

One instance per rollout. The policy sees two tools: ``call_tool`` (any tool of its task, by
name, with JSON arguments, answered by the simulator) and ``submit`` (the JSON answer). The
reward is :func:`firefly_eval.grading.grade` — the same function the Inspect scorer of
``firefly_eval/heldout`` uses — optionally with partial credit per field, minus a penalty per
malformed call.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from firefly_eval.agent_tools import exposed_name
from firefly_eval.grading import grade
from firefly_eval.simulator import Simulator

__all__ = ["FireflyEnv", "logging_reward_funcs", "make_env_factory", "malformed_calls"]


class FireflyEnv:
    """A task episode: tools answered by the simulator, reward from the shared grader."""

    def __init__(self, sim: Simulator, partial_credit: bool = False, malformed_penalty: float = 0.1) -> None:
        self._sim = sim
        self._partial = partial_credit
        self._penalty = malformed_penalty
        self._reset_state({})

    def _reset_state(self, row: dict[str, Any]) -> None:
        self._episode = self._sim.episode()
        self._answer: dict[str, Any] | None = None
        self._gold = json.loads(row["answer_json"]) if row.get("answer_json") else {}
        self._schema = json.loads(row["schema_json"]) if row.get("schema_json") else {}
        self._names = {exposed_name(s, t): (s, t) for s, t in json.loads(row.get("tools_json") or "[]")}
        self.malformed = 0
        self.tiers: Counter[str] = Counter()

    def reset(self, **row: Any) -> None:
        """Start a new episode for one dataset row."""
        self._reset_state(row)

    def call_tool(self, tool: str, arguments: str) -> str:
        """Call one of the task's tools.

        Args:
            tool: The tool name, exactly as listed in the task.
            arguments: The tool's arguments as a JSON object string.

        Returns:
            The tool's result text.
        """
        if tool not in self._names:
            self.malformed += 1
            return f"Unknown tool: {tool}. Available: {', '.join(sorted(self._names))}"
        try:
            args = json.loads(arguments) if isinstance(arguments, str) else arguments
        except ValueError as exc:
            self.malformed += 1
            return f"Invalid JSON arguments: {exc}"
        server, name = self._names[tool]
        ans = self._episode.call(server, name, args)
        self.tiers[ans.tier] += 1
        return "\n".join(b.get("text", "") for b in ans.result.get("content", []) if b.get("type") == "text")

    def submit(self, answer: str) -> str:
        """Submit the final answer.

        Args:
            answer: A JSON object with every field of the requested answer.

        Returns:
            A confirmation, or the reason the answer was not accepted.
        """
        try:
            data = json.loads(answer) if isinstance(answer, str) else answer
        except ValueError as exc:
            self.malformed += 1
            return f"Invalid JSON answer: {exc}"
        if not isinstance(data, dict):
            self.malformed += 1
            return "The answer must be a JSON object."
        self._answer = data
        return "Answer submitted."

    def get_reward(self) -> float:
        """Binary (or per-field) reward from the harness's grader, minus malformed-call penalties."""
        if not self._schema:
            return 0.0
        g = grade(self._answer, self._gold, self._schema)
        base = g.fraction if self._partial else float(g.passed)
        return max(0.0, base - self._penalty * self.malformed) if base > 0 else -self._penalty * min(self.malformed, 5)


def make_env_factory(sim: Simulator, partial_credit: bool = False, malformed_penalty: float = 0.1):
    """``environment_factory`` for GRPOTrainer: a fresh FireflyEnv sharing one simulator."""

    def factory() -> FireflyEnv:
        return FireflyEnv(sim, partial_credit=partial_credit, malformed_penalty=malformed_penalty)

    return factory


def _tier_share(tier: str):
    def share(prompts, completions, environments=None, **kwargs):
        out = []
        for env in environments or []:
            total = sum(env.tiers.values())
            out.append(env.tiers.get(tier, 0) / total if total else 0.0)
        return out

    share.__name__ = f"sim_tier_{tier}"
    return share


def malformed_calls(prompts, completions, environments=None, **kwargs):
    """Malformed tool calls per rollout (logged, weight 0)."""
    return [float(env.malformed) for env in environments or []]


def logging_reward_funcs():
    """Zero-weight "rewards" that make TRL log simulator tier shares and malformed calls every step."""
    return [_tier_share("exact"), _tier_share("fuzzy"), _tier_share("miss"), malformed_calls]
