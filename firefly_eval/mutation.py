"""Which tool calls change server state, and the ``history_key`` that follows from them.

A stateful tool's answer depends on the state-changing calls made before it in the same
episode (``read_file`` after ``write_file``). Both the recorder (live exploration) and the
simulator compute the same ``history_key`` from the same rule, so replays line up.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from firefly_eval.schema import content_hash

__all__ = ["HistoryTracker", "drop_blanket_hints", "is_mutating"]

if TYPE_CHECKING:
    from firefly_eval.schema import ToolSpec

_MUTATING = re.compile(
    r"(^|[_\-. ])(write|create|delete|remove|update|set|add|insert|move|rename|edit|save|append|commit|push|"
    r"reset|apply|modify|format|merge|replace|clear|drop|upload|copy|checkout|stage|unstage|tag|branch|"
    r"init|new|store|record|log|put|patch|import|sort|fill|protect|unprotect|style|draft|open|close)"
    r"([_\-. ]|$)",
    re.IGNORECASE,
)
_READ_VERBS = "select|with|pragma|show|describe|explain"
_READONLY_SQL = re.compile(rf"^\s*({_READ_VERBS})\b", re.IGNORECASE)
_SQL = re.compile(rf"^\s*({_READ_VERBS}|insert|update|delete|create|drop|alter|replace|attach|detach|vacuum|"
                  r"begin|commit|rollback|truncate|grant|revoke|merge|upsert|copy|set|use)\b", re.IGNORECASE)


def _split_camel(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)


def is_mutating(tool: str, arguments: dict[str, Any], annotations: dict[str, Any] | None = None) -> bool:
    """Best-effort: does this call change the server's state?

    An SQL statement in a ``query``/``sql``/``statement`` argument decides first: read-only when it starts
    with SELECT/WITH/... (a tool that runs any statement is annotated as writing: dbhub's ``execute_sql``);
    then MCP annotations (``readOnlyHint``); otherwise (a search's ``query`` too) the tool name's verbs.
    """
    for key in ("query", "sql", "statement"):
        value = arguments.get(key)
        if isinstance(value, str) and _SQL.match(value):  # a search's "query" ("Friday") is no statement
            return not _READONLY_SQL.match(value)
    if annotations and isinstance(annotations.get("readOnlyHint"), bool):
        return not annotations["readOnlyHint"]
    return bool(_MUTATING.search(_split_camel(tool)))


_READ_NAME = re.compile(r"(^|_)(read|get|list|describe|show|search|find|view|count)(_|$)")


def drop_blanket_hints(tools: list[ToolSpec]) -> list[ToolSpec]:
    """One server's tools without their ``readOnlyHint``/``destructiveHint`` when the server marks every tool (three
    or more) as writing, readers by name included (excel-mcp-server annotates ``excel_read_sheet`` as destructive):
    such a blanket says nothing, so the names decide (:func:`is_mutating`). Other servers' tools are returned as
    they are."""
    if len(tools) < 3 or not all((t.annotations or {}).get("readOnlyHint") is False for t in tools):
        return tools
    names = [_split_camel(t.name).lower() for t in tools]
    if not any(_READ_NAME.search(n) and not _MUTATING.search(n) for n in names):
        return tools
    return [t.model_copy(update={"annotations": {k: v for k, v in (t.annotations or {}).items()
                                                 if k not in ("readOnlyHint", "destructiveHint")} or None})
            for t in tools]


class HistoryTracker:
    """Tracks, per server, the state-changing calls of one episode."""

    def __init__(self, stateful_servers: set[str]) -> None:
        self.stateful = set(stateful_servers)
        self._history: dict[str, list[Any]] = {}

    def key(self, server: str) -> str:
        """History key to attach to the next call on ``server`` ('' for stateless servers)."""
        if server not in self.stateful:
            return ""
        hist = self._history.get(server)
        return content_hash(hist) if hist else ""

    def observe(self, server: str, tool: str, arguments: dict[str, Any], is_error: bool,
                annotations: dict[str, Any] | None = None, result: dict[str, Any] | None = None) -> None:
        """Record a finished call; failed calls (``is_error``, or a ``result`` that reads as an error)
        are assumed not to change state, so an agent that skips them sees the same history."""
        if result is not None and not is_error:
            from firefly_eval.facts import error_reason

            is_error = error_reason(result) is not None
        if server in self.stateful and not is_error and is_mutating(tool, arguments, annotations):
            self._history.setdefault(server, []).append([tool, arguments])

    def dirty(self, server: str) -> bool:
        return bool(self._history.get(server))

    def reset(self, server: str | None = None) -> None:
        if server is None:
            self._history.clear()
        else:
            self._history.pop(server, None)
