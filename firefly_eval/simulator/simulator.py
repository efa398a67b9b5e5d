"""Tiered replay of recorded calls: exact -> fuzzy -> adapter -> miss policy, with provenance.

Tiers (the ``tier`` of every answer):

* ``exact``: a recorded call with the same canonical arguments (defaults filled in).
* ``fuzzy``: a recorded call that agrees on every exact parameter (numbers, enums, ids,
  paths, dates, ...) and whose free-text parameters are similar above the threshold; its
  recorded result, errors included, is returned as recorded.
* ``adapted``: with an adapter configured, the nearest recorded call (which may differ in an
  exact parameter) rewritten by the adapter; ``source_id`` is the neighbour's record id.
* ``simulated`` / ``live``: the miss policy's answer; ``miss``: an MCP error result.
"""

from __future__ import annotations

import contextvars
import inspect
import threading
from dataclasses import dataclass, field
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from firefly_eval.mutation import HistoryTracker
from firefly_eval.schema import CallRecord, ToolSpec
from firefly_eval.simulator.index import CallIndex, Match
from firefly_eval.simulator.sensitivity import ToolPolicy, tool_policy

__all__ = ["MissContext", "MissPolicy", "SimAnswer", "SimEpisode", "Simulator", "Tier", "current_episode"]

Tier = Literal["exact", "fuzzy", "adapted", "miss", "simulated", "live", "invalid", "unknown_tool", "error"]
MissPolicy = Literal["error", "simulate", "live"]

# the episode of the running agent loop (one per Inspect sample: each sample runs in its own task)
current_episode: contextvars.ContextVar[SimEpisode | None] = contextvars.ContextVar("firefly_episode", default=None)


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


@dataclass
class MissContext:
    """What an adapter or a ``simulate`` miss policy knows about the call it must answer.

    Attributes:
        server, tool, arguments, history_key: the call.
        spec: the tool's spec (description, input and output schemas), when known.
        neighbours: the nearest recorded calls of the tool, with their results (errors included).
        earlier: this episode's earlier calls on the same server, for stateful servers
            (``{"tool", "arguments", "result"}`` each).
    """

    server: str
    tool: str
    arguments: dict[str, Any]
    history_key: str = ""
    spec: ToolSpec | None = None
    neighbours: list[Match] = field(default_factory=list)
    earlier: list[dict[str, Any]] = field(default_factory=list)


def _error(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}


def _recorded(rec: CallRecord) -> dict[str, Any]:
    """A record's result as replayed: a recorded error stays an error."""
    if rec.is_error and not rec.result.get("isError"):
        return {**rec.result, "isError": True}
    return rec.result


@dataclass
class Simulator:
    """Answers tool calls from recorded real calls.

    Args:
        index: recorded calls.
        tools: the tool specs (schema validation, unknown-tool errors, which parameters must
            match exactly); when empty, the tools seen in the index are the known tools.
        fuzzy_threshold: minimum free-text similarity (0-100) for the fuzzy tier.
        tiers: tiers allowed to answer (``{"exact"}`` is strict replay).
        miss_policy: ``error`` (default), ``simulate`` (needs ``simulate_fn``) or ``live``
            (needs ``live_fn``); misses answered this way are tagged.
        adapt_fn: ``(record, MissContext) -> result`` (sync or async): rewrites the nearest
            recorded result for the new arguments; its answers are tier ``adapted``.
        simulate_fn: ``(MissContext) -> result`` (sync or async) for ``miss_policy=simulate``.
        live_fn: ``(server, tool, arguments) -> CallRecord`` for ``miss_policy=live``.
        neighbours: how many recorded calls a :class:`MissContext` carries.
    """

    index: CallIndex
    tools: dict[tuple[str, str], ToolSpec] = field(default_factory=dict)
    fuzzy_threshold: float = 90.0
    tiers: frozenset[str] = frozenset({"exact", "fuzzy"})
    miss_policy: MissPolicy = "error"
    stateful_servers: set[str] = field(default_factory=set)
    adapt_fn: Any = None
    simulate_fn: Any = None
    live_fn: Any = None
    neighbours: int = 5
    _validators: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _policies: dict[tuple[str, str], ToolPolicy] = field(default_factory=dict, repr=False)
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

    def policy(self, server: str, tool: str) -> ToolPolicy:
        """Which parameters of a tool must match exactly (cached per tool)."""
        pol = self._policies.get((server, tool))
        if pol is None:
            pol = self._policies[(server, tool)] = tool_policy(self.tools.get((server, tool)))
        return pol

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

    def context(self, server: str, tool: str, arguments: dict[str, Any], history_key: str = "",
                earlier: list[dict[str, Any]] | None = None) -> MissContext:
        """The retrieval context of a call: spec, nearest recorded calls, earlier episode calls."""
        hk = history_key if server in self.stateful_servers else ""
        near = self.index.nearest(server, tool, arguments, None, self.policy(server, tool), k=self.neighbours)
        # same history first: those describe the state this call sees
        near.sort(key=lambda m: m.record.history_key != hk)
        return MissContext(server, tool, arguments, hk, self.tools.get((server, tool)), near,
                           list(earlier or []) if server in self.stateful_servers else [])

    # ---- the lookup --------------------------------------------------------------------
    def answer(self, server: str, tool: str, arguments: Any, history_key: str = "",
               earlier: list[dict[str, Any]] | None = None) -> SimAnswer:
        """Answer one call. Never raises on bad input: errors are MCP error results.

        Synchronous: with an async adapter/simulator (LLM), use :meth:`aanswer`.
        """
        try:
            ans, match = self._resolve(server, tool, arguments, history_key)
            if ans is not None:
                return ans
            if match is not None:
                out = self.adapt_fn(match.record, self.context(server, tool, arguments, history_key, earlier))
                if inspect.isawaitable(out):
                    if inspect.iscoroutine(out):
                        out.close()
                    raise TypeError("the adapter is async: use aanswer()")
                return self._adapted(match, out)
            return self._miss(server, tool, arguments, history_key, earlier)
        except Exception as exc:  # noqa: BLE001 - the simulator must always answer
            return SimAnswer(_error(f"simulator error: {type(exc).__name__}: {exc}"), "error")

    async def aanswer(self, server: str, tool: str, arguments: Any, history_key: str = "",
                      earlier: list[dict[str, Any]] | None = None) -> SimAnswer:
        """Async :meth:`answer`: awaits an LLM adapter / simulator when configured."""
        try:
            ans, match = self._resolve(server, tool, arguments, history_key)
            if ans is not None:
                return ans
            if match is not None:
                out = self.adapt_fn(match.record, self.context(server, tool, arguments, history_key, earlier))
                return self._adapted(match, await out if inspect.isawaitable(out) else out)
            if self.miss_policy == "simulate" and self.simulate_fn is not None:
                out = self.simulate_fn(self.context(server, tool, arguments, history_key, earlier))
                return self._simulated(await out if inspect.isawaitable(out) else out)
            if self.miss_policy == "live" and self.live_fn is not None:
                out = self.live_fn(server, tool, arguments)
                rec: CallRecord = await out if inspect.isawaitable(out) else out
                self.index.add(rec)
                return SimAnswer(_recorded(rec), "live", 100.0, rec.id)
            return self._miss(server, tool, arguments, history_key, earlier)
        except Exception as exc:  # noqa: BLE001
            return SimAnswer(_error(f"simulator error: {type(exc).__name__}: {exc}"), "error")

    def _resolve(self, server: str, tool: str, arguments: Any, history_key: str) -> tuple[SimAnswer | None, Any]:
        """A final answer, or (None, neighbour for the adapter), or (None, None) for a miss."""
        if not self.known(server, tool):
            return SimAnswer(_error(f"Unknown tool: {tool}"), "unknown_tool"), None
        hk = history_key if server in self.stateful_servers else ""
        # a recorded real call is ground truth: the real server accepted these exact arguments,
        # even where its published schema is stricter than its behaviour
        if "exact" in self.tiers and isinstance(arguments, dict):
            rec = self.index.exact(server, tool, arguments, hk)
            if rec is not None:
                return SimAnswer(_recorded(rec), "exact", 100.0, rec.id), None
        invalid = self._validate(server, tool, arguments)
        if invalid:
            return SimAnswer(_error(invalid), "invalid"), None
        policy = self.policy(server, tool)
        if "exact" in self.tiers and policy.defaults:
            rec = self.index.normalized_exact(server, tool, arguments, hk, policy)
            if rec is not None:
                return SimAnswer(_recorded(rec), "exact", 100.0, rec.id), None
        if "fuzzy" in self.tiers:
            return self._near(server, tool, arguments, hk, policy)
        return None, None

    def _near(self, server: str, tool: str, arguments: dict[str, Any], hk: str,
              policy: ToolPolicy) -> tuple[SimAnswer | None, Match | None]:
        """Fuzzy tier: a recorded call agreeing on every exact parameter, or a neighbour for the adapter."""
        m = self.index.fuzzy(server, tool, arguments, hk, policy)
        if m is not None and m.score >= self.fuzzy_threshold:
            if self.adapt_fn is None:
                return SimAnswer(_recorded(m.record), "fuzzy", m.score, m.record.id), None
            return None, m
        if self.adapt_fn is not None:
            near = self.index.nearest(server, tool, arguments, hk, policy, k=1)
            if near and near[0].score >= self.fuzzy_threshold:
                return None, near[0]
        return None, None

    @staticmethod
    def _adapted(match: Match, result: dict[str, Any]) -> SimAnswer:
        result = dict(result)
        result.setdefault("isError", bool(match.record.is_error or match.record.result.get("isError")))
        result["_meta"] = {**(result.get("_meta") or {}), "firefly/adapted": True,
                           "firefly/source_id": match.record.id}
        return SimAnswer(result, "adapted", match.score, match.record.id)

    @staticmethod
    def _simulated(result: dict[str, Any]) -> SimAnswer:
        result = dict(result)
        result["_meta"] = {**(result.get("_meta") or {}), "firefly/simulated": True}
        return SimAnswer(result, "simulated")

    def _miss(self, server: str, tool: str, arguments: dict[str, Any], history_key: str = "",
              earlier: list[dict[str, Any]] | None = None) -> SimAnswer:
        if self.miss_policy == "simulate" and self.simulate_fn is not None:
            out = self.simulate_fn(self.context(server, tool, arguments, history_key, earlier))
            if inspect.isawaitable(out):
                if inspect.iscoroutine(out):
                    out.close()
                raise TypeError("the simulate miss policy is async: use aanswer()")
            return self._simulated(out)
        if self.miss_policy == "live" and self.live_fn is not None:
            rec: CallRecord = self.live_fn(server, tool, arguments)
            self.index.add(rec)
            return SimAnswer(_recorded(rec), "live", 100.0, rec.id)
        return SimAnswer(_error(f"no recorded data for tool {tool} with these arguments"), "miss")

    def episode(self) -> SimEpisode:
        """A fresh episode: tracks state-changing calls for stateful replay.

        It becomes :data:`current_episode` of the calling context (an Inspect sample's task),
        so a scripted agent such as ``firefly/oracle`` can read the results it was given.
        """
        ep = SimEpisode(self)
        current_episode.set(ep)
        return ep


class SimEpisode:
    """One agent episode against the simulator (stateful replay via history keys)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.history = HistoryTracker(sim.stateful_servers)
        self.log: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []  # {"server", "tool", "arguments", "answer": SimAnswer}

    def _earlier(self, server: str) -> list[dict[str, Any]]:
        if server not in self.sim.stateful_servers:
            return []
        return [{"tool": c["tool"], "arguments": c["arguments"], "result": c["answer"].result}
                for c in self.calls if c["server"] == server]

    def call(self, server: str, tool: str, arguments: Any) -> SimAnswer:
        ans = self.sim.answer(server, tool, arguments, self.history.key(server), self._earlier(server))
        return self._observe(server, tool, arguments, ans)

    async def acall(self, server: str, tool: str, arguments: Any) -> SimAnswer:
        """Async :meth:`call` (needed with an LLM adapter / simulated misses)."""
        ans = await self.sim.aanswer(server, tool, arguments, self.history.key(server), self._earlier(server))
        return self._observe(server, tool, arguments, ans)

    def _observe(self, server: str, tool: str, arguments: Any, ans: SimAnswer) -> SimAnswer:
        args = arguments if isinstance(arguments, dict) else {}
        spec = self.sim.tools.get((server, tool))
        self.history.observe(server, tool, args, ans.is_error, spec.annotations if spec else None,
                             result=ans.result)
        self.log.append({"server": server, "tool": tool, **ans.provenance})
        self.calls.append({"server": server, "tool": tool, "arguments": args, "answer": ans})
        return ans

    def tier_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.log:
            counts[entry["tier"]] = counts.get(entry["tier"], 0) + 1
        return counts
