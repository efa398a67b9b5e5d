"""Tiered replay of recorded calls: exact -> fuzzy -> miss policy, with provenance."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from firefly_eval.mutation import HistoryTracker
from firefly_eval.schema import CallRecord, ToolSpec
from firefly_eval.simulator.index import CallIndex

__all__ = ["MissPolicy", "SimAnswer", "SimEpisode", "Simulator", "Tier"]

Tier = Literal["exact", "fuzzy", "miss", "simulated", "live", "invalid", "unknown_tool", "error"]
MissPolicy = Literal["error", "simulate", "live"]


@dataclass
class SimAnswer:
    """An MCP result plus where it came from."""

    result: dict[str, Any]
    tier: Tier
    score: float = 0.0
    source_id: str = ""

    @property
    def is_error(self) -> bool:
        return bool(self.result.get("isError"))

    @property
    def provenance(self) -> dict[str, Any]:
        return {"tier": self.tier, "score": round(self.score, 2), "source_id": self.source_id}


def _error(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}


@dataclass
class Simulator:
    """Answers tool calls from recorded real calls.

    Args:
        index: recorded calls.
        tools: the tool specs (for schema validation and unknown-tool errors); when empty,
            the tools seen in the index are the known tools.
        fuzzy_threshold: minimum type-aware similarity (0-100) for the fuzzy tier.
        tiers: tiers allowed to answer (``{"exact"}`` is strict replay).
        miss_policy: ``error`` (default), ``simulate`` (needs ``simulate_fn``) or ``live``
            (needs ``live_fn``); misses answered this way are tagged.
    """

    index: CallIndex
    tools: dict[tuple[str, str], ToolSpec] = field(default_factory=dict)
    fuzzy_threshold: float = 90.0
    tiers: frozenset[str] = frozenset({"exact", "fuzzy"})
    miss_policy: MissPolicy = "error"
    stateful_servers: set[str] = field(default_factory=set)
    adapt_fn: Any = None  # callable(record, arguments) -> result dict (LLM adapter), optional
    simulate_fn: Any = None  # callable(server, tool, arguments) -> result dict
    live_fn: Any = None  # callable(server, tool, arguments) -> CallRecord
    _validators: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.miss_policy not in ("error", "simulate", "live"):
            raise ValueError(f"miss_policy must be one of error|simulate|live, got {self.miss_policy!r}")
        unknown = set(self.tiers) - {"exact", "fuzzy"}
        if unknown or not self.tiers:
            raise ValueError(f"tiers must be a non-empty subset of {{exact, fuzzy}}, got {sorted(self.tiers)}")

    # ---- helpers ---------------------------------------------------------------------
    def known(self, server: str, tool: str) -> bool:
        if self.tools:
            return (server, tool) in self.tools
        if self.miss_policy == "live" and self.live_fn is not None:
            return True  # no specs given: the real server decides what exists
        return self.index.has_tool(server, tool)

    def _validate(self, server: str, tool: str, arguments: Any) -> str | None:
        spec = self.tools.get((server, tool))
        if not isinstance(arguments, dict):
            return f"Input validation error: arguments must be an object, got {type(arguments).__name__}"
        if spec is None:
            return None
        with self._lock:
            validator = self._validators.get((server, tool))
            if validator is None:
                try:
                    Draft202012Validator.check_schema(spec.input_schema)
                    validator = Draft202012Validator(spec.input_schema)
                except SchemaError:
                    validator = False
                self._validators[(server, tool)] = validator
        if validator is False:
            return None
        try:
            errors = sorted(validator.iter_errors(arguments), key=lambda e: list(e.path))
        except Exception:  # noqa: BLE001 - unresolvable $ref etc.: do not block the call
            return None
        if errors:
            e = errors[0]
            where = ".".join(str(p) for p in e.path) or "arguments"
            return f"Input validation error for tool {tool}: {where}: {e.message}"
        return None

    def _enums(self, server: str, tool: str) -> dict[str, bool]:
        spec = self.tools.get((server, tool))
        if spec is None:
            return {}
        props = spec.input_schema.get("properties", {}) or {}
        return {k: isinstance(v, dict) and ("enum" in v or v.get("type") == "boolean") for k, v in props.items()}

    # ---- the lookup --------------------------------------------------------------------
    def answer(self, server: str, tool: str, arguments: Any, history_key: str = "") -> SimAnswer:
        """Answer one call. Never raises on bad input: errors are MCP error results.

        Synchronous: with an async adapter/simulator (LLM), use :meth:`aanswer`.
        """
        try:
            ans, match = self._resolve(server, tool, arguments, history_key)
            if ans is not None:
                return ans
            if match is not None:
                return self._adapted(match, arguments, self.adapt_fn(match.record, arguments))
            return self._miss(server, tool, arguments)
        except Exception as exc:  # noqa: BLE001 - the simulator must always answer
            return SimAnswer(_error(f"simulator error: {type(exc).__name__}: {exc}"), "error")

    async def aanswer(self, server: str, tool: str, arguments: Any, history_key: str = "") -> SimAnswer:
        """Async :meth:`answer`: awaits an LLM adapter / simulator when configured."""
        import inspect

        try:
            ans, match = self._resolve(server, tool, arguments, history_key)
            if ans is not None:
                return ans
            if match is not None:
                out = self.adapt_fn(match.record, arguments)
                return self._adapted(match, arguments, await out if inspect.isawaitable(out) else out)
            if self.miss_policy == "simulate" and self.simulate_fn is not None:
                out = self.simulate_fn(server, tool, arguments)
                return self._simulated(await out if inspect.isawaitable(out) else out)
            if self.miss_policy == "live" and self.live_fn is not None:
                out = self.live_fn(server, tool, arguments)
                rec: CallRecord = await out if inspect.isawaitable(out) else out
                self.index.add(rec)
                return SimAnswer(rec.result, "live", 100.0, rec.id)
            return self._miss(server, tool, arguments)
        except Exception as exc:  # noqa: BLE001
            return SimAnswer(_error(f"simulator error: {type(exc).__name__}: {exc}"), "error")

    def _resolve(self, server: str, tool: str, arguments: Any, history_key: str) -> tuple[SimAnswer | None, Any]:
        """A final answer, or (None, fuzzy match needing adaptation), or (None, None) for a miss."""
        if not self.known(server, tool):
            return SimAnswer(_error(f"Unknown tool: {tool}"), "unknown_tool"), None
        hk = history_key if server in self.stateful_servers else ""
        # a recorded real call is ground truth: the real server accepted these exact arguments,
        # even where its published schema is stricter than its behaviour
        if "exact" in self.tiers and isinstance(arguments, dict):
            rec = self.index.exact(server, tool, arguments, hk)
            if rec is not None:
                return SimAnswer(rec.result, "exact", 100.0, rec.id), None
        invalid = self._validate(server, tool, arguments)
        if invalid:
            return SimAnswer(_error(invalid), "invalid"), None
        if "fuzzy" in self.tiers:
            m = self.index.fuzzy(server, tool, arguments, hk, self._enums(server, tool))
            if m is not None and m.score >= self.fuzzy_threshold:
                if self.adapt_fn is None:
                    return SimAnswer(m.record.result, "fuzzy", m.score, m.record.id), None
                return None, m
        return None, None

    @staticmethod
    def _adapted(match: Any, arguments: Any, result: dict[str, Any]) -> SimAnswer:
        result = dict(result)
        result["_meta"] = {**(result.get("_meta") or {}), "firefly/adapted": True}
        return SimAnswer(result, "fuzzy", match.score, match.record.id)

    @staticmethod
    def _simulated(result: dict[str, Any]) -> SimAnswer:
        result = dict(result)
        result["_meta"] = {**(result.get("_meta") or {}), "firefly/simulated": True}
        return SimAnswer(result, "simulated")

    def _miss(self, server: str, tool: str, arguments: dict[str, Any]) -> SimAnswer:
        if self.miss_policy == "simulate" and self.simulate_fn is not None:
            return self._simulated(self.simulate_fn(server, tool, arguments))
        if self.miss_policy == "live" and self.live_fn is not None:
            rec: CallRecord = self.live_fn(server, tool, arguments)
            self.index.add(rec)
            return SimAnswer(rec.result, "live", 100.0, rec.id)
        return SimAnswer(_error(f"no recorded data for tool {tool} with these arguments"), "miss")

    def episode(self) -> SimEpisode:
        """A fresh episode: tracks state-changing calls for stateful replay."""
        return SimEpisode(self)


class SimEpisode:
    """One agent episode against the simulator (stateful replay via history keys)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.history = HistoryTracker(sim.stateful_servers)
        self.log: list[dict[str, Any]] = []

    def call(self, server: str, tool: str, arguments: Any) -> SimAnswer:
        return self._observe(server, tool, arguments, self.sim.answer(server, tool, arguments, self.history.key(server)))

    async def acall(self, server: str, tool: str, arguments: Any) -> SimAnswer:
        """Async :meth:`call` (needed with an LLM adapter / simulated misses)."""
        ans = await self.sim.aanswer(server, tool, arguments, self.history.key(server))
        return self._observe(server, tool, arguments, ans)

    def _observe(self, server: str, tool: str, arguments: Any, ans: SimAnswer) -> SimAnswer:
        args = arguments if isinstance(arguments, dict) else {}
        spec = self.sim.tools.get((server, tool))
        self.history.observe(server, tool, args, ans.is_error, spec.annotations if spec else None)
        self.log.append({"server": server, "tool": tool, **ans.provenance})
        return ans

    def tier_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.log:
            counts[entry["tier"]] = counts.get(entry["tier"], 0) + 1
        return counts
