"""Data contracts shared by every stage: tool specs, call records, plans, tasks.

All records are pydantic models that round-trip through JSON. Identity and cache keys are
computed from *canonical JSON* (`canonical_json`): sorted keys, no insignificant
whitespace, NFC-normalised strings, integral floats written as integers (``1.0 == 1``), and
floats in their shortest round-trip form.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

__all__ = [
    "SCHEMA_VERSION",
    "CallRecord",
    "Plan",
    "ResultRow",
    "ServerSpec",
    "Task",
    "ToolEdge",
    "ToolSpec",
    "canonical_json",
    "canonicalize",
    "content_hash",
    "tool_id",
]


def canonicalize(value: Any) -> Any:
    """Return a JSON-compatible copy of ``value`` in canonical form.

    Integral floats become ints (``1.0 -> 1``), ``-0.0`` becomes ``0``, strings are NFC
    normalised, tuples become lists, dict keys are stringified. NaN/inf are rejected
    because they have no JSON form.
    """
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"non-finite number {value!r} has no canonical JSON form")
        if value.is_integer() and abs(value) < 2**63:
            return int(value)
        return value
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {unicodedata.normalize("NFC", str(k)): canonicalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonicalize(v) for v in value]
    if isinstance(value, BaseModel):
        return canonicalize(value.model_dump(mode="json"))
    raise TypeError(f"cannot canonicalise value of type {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """Canonical JSON text: sorted keys, compact separators, unicode kept as is."""
    return json.dumps(canonicalize(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(value: Any, length: int = 16) -> str:
    """Hex SHA-256 prefix of the canonical JSON of ``value``."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()[:length]


def tool_id(server: str, name: str) -> str:
    """Display id of a tool. Never parse it back: use (server, name) pairs for identity."""
    return f"{server}::{name}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ServerSpec(_Record):
    """One MCP server of a fleet: a standard ``mcpServers`` entry plus firefly metadata."""

    name: str
    command: str
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    registry: Literal["pypi", "npm", "local"] = "local"
    package: str | None = None
    version: str | None = None
    constraints: list[str] = Field(default_factory=list, description="extra pins for its isolated env")
    install_env: dict[str, str] = Field(default_factory=dict)
    npm_overrides: dict[str, str] = Field(default_factory=dict,
                                          description="npm `overrides` for its prefix: a native module swapped for "
                                                      "one shipping its binary (firefly:NAME: a bundled adapter)")
    secret_env: list[str] = Field(default_factory=list,
                                  description="env entries whose values are secrets (redacted like ${VAR} values)")
    license: str = "UNKNOWN"
    stateful: bool = False
    deterministic: bool = True
    host_code: bool = False
    restart_per_episode: bool = Field(
        default=False, description="state lives in process memory: restart to reset an episode"
    )
    reset_call: dict[str, Any] | None = Field(
        default=None, description="{tool, arguments}: a call that resets the state the server keeps in process "
                                  "memory (its files are restored in place first): an episode reset without a "
                                  "restart, for a restart_per_episode server; checked by benchmarks/reset_probe.py")
    reset_probe: str | None = Field(default=None, description="what benchmarks/reset_probe.py found (files: "
                                                               "an in-place restore resets it, no restart)")
    sandbox: list[str] = Field(default_factory=list, description="seed-world parts the server needs")
    seed_calls: list[dict[str, Any]] = Field(
        default_factory=list,
        description="{tool, arguments} calls made once on a fresh copy of the seed world; the state they leave "
                    "(the server's own store under its sandbox) is where every episode of the server starts "
                    "(firefly_eval.mcp.seeding)")
    cwd: str | None = Field(default=None, description="the entry's working directory (standard `cwd` key)")
    isolate: bool = Field(default=True, description="run on per-plan copies of `cwd` and of files named by "
                                                     "absolute paths in args/env (false: on the user's files)")
    world: bool | None = Field(default=None, description="works on the seed world (None: inferred: an entry "
                                                          "with no `cwd` and no files of its own does)")
    sample_call: dict[str, Any] | None = Field(default=None, description="a harmless {tool, arguments}")
    volatile_tools: list[str] = Field(default_factory=list, description="tools whose output is not stable")
    explore_skip: list[str] = Field(default_factory=list,
                                    description="tools generation never samples (demo tools that only sleep, ...)")
    explore_values: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="known-good argument values for the offline explorer, by parameter name "
                    "(real ids of the server's own world: user ids, order ids, ...)")
    description: str = ""

    @property
    def pin(self) -> str:
        if self.package and self.version:
            return f"{self.package}=={self.version}" if self.registry == "pypi" else f"{self.package}@{self.version}"
        return self.name


class ToolSpec(_Record):
    """A tool of a server; identity is the (server, name) pair."""

    server: str
    name: str
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    output_schema: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return tool_id(self.server, self.name)

    @property
    def key(self) -> tuple[str, str]:
        return (self.server, self.name)


class ToolEdge(_Record):
    """A directed edge of the tool graph: calling ``src`` first helps calling ``dst``."""

    src: tuple[str, str]
    dst: tuple[str, str]
    kind: Literal["data-flow", "semantic"]
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[str] = Field(default_factory=list)
    scorer: Literal["lexical", "embedding", "dataflow", "relation", "llm", "observed"] = "lexical"


class Plan(_Record):
    """A sub-DAG of the tool graph to explore."""

    id: str
    nodes: list[tuple[str, str]]
    edges: list[tuple[int, int]] = Field(default_factory=list, description="indices into nodes")
    pattern: Literal["fan-out", "sequence", "fan-in", "mixed", "single"]
    bindings: dict[str, list[str]] = Field(
        default_factory=dict, description="'dst_index.param' -> evidence of where its value comes from"
    )

    @property
    def servers(self) -> list[str]:
        return sorted({s for s, _ in self.nodes})


class CallRecord(_Record):
    """One real tool call, as recorded from a live server."""

    id: str = ""
    server: str
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] = Field(default_factory=dict, description="MCP CallToolResult as JSON")
    is_error: bool = False
    latency_ms: float = 0.0
    server_version: str = ""
    timestamp: str = Field(default_factory=_now)
    history_key: str = ""
    run_id: str = ""
    source: Literal["live", "simulated"] = "live"

    def model_post_init(self, __context: Any) -> None:
        if not self.id:
            # content only: the same call with the same result is the same record, whatever run made it
            self.id = content_hash(
                {"s": self.server, "t": self.tool, "a": self.arguments, "h": self.history_key, "r": self.result,
                 "e": self.is_error}
            )

    @property
    def arguments_json(self) -> str:
        return canonical_json(self.arguments)

    def text(self) -> str:
        """All text blocks of the result joined by newlines."""
        return result_text(self.result)


def result_text(result: dict[str, Any]) -> str:
    """Concatenate the text content blocks of an MCP result dict."""
    parts = []
    for block in result.get("content", []) or []:
        if isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "\n".join(parts)


class Task(_Record):
    """One verified dataset row."""

    schema_version: int = SCHEMA_VERSION
    id: str = ""
    question: str
    tools: list[tuple[str, str]]
    answer_schema: dict[str, Any]
    answer: dict[str, Any]
    answer_template: str = ""
    reference_calls: list[str] = Field(default_factory=list)
    reference_arguments: list[dict[str, Any]] = Field(
        default_factory=list, description="[{server, tool, arguments}] in call order, for the oracle"
    )
    dag: dict[str, Any] = Field(default_factory=dict)
    servers: list[str] = Field(default_factory=list)
    pattern: str = ""
    provenance: dict[str, Any] = Field(default_factory=dict)
    quality: dict[str, Any] = Field(default_factory=dict)

    def model_post_init(self, __context: Any) -> None:
        if not self.id:
            self.id = content_hash({"q": self.question, "a": self.answer, "c": self.reference_arguments})


class ResultRow(_Record):
    """One leaderboard row."""

    benchmark: str
    task_version: str = ""
    model: str
    metric: str
    value: float
    stderr: float | None = None
    n: int = 0
    epochs: int = 1
    log_path: str = ""
    date: str = Field(default_factory=_now)
    source: Literal["measured", "published"] = "measured"
    manifest: dict[str, Any] = Field(default_factory=dict)
