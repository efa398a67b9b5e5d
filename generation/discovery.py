"""Discovery: each server's own read-only listings and getters, called once before sampling.

Their values go into that server's value bank, so exploration uses ids, names and paths the server
itself holds instead of the seed world's.
"""

from __future__ import annotations

import re
from typing import Any

from firefly_eval.generation.explore import succeeded
from firefly_eval.generation.values import discovered_values
from firefly_eval.mcp.fleet import Fleet
from firefly_eval.mutation import is_mutating
from firefly_eval.sandbox import relocate_record
from firefly_eval.schema import ToolSpec

__all__ = ["discover", "discovery_tools"]


_READS = re.compile(r"(^|_)(list|get|read|show|describe|status|log|logs|info|view|tables|schema|summary|stats|"
                    r"tree|current|version|whoami|inspect|overview)(_|$)")


def discovery_tools(fleet: Fleet, skip: set[tuple[str, str]], per_server: int = 8) -> dict[str, list[ToolSpec]]:
    """Per live server, its read-only tools that take no required argument and read as listings or getters."""
    out: dict[str, list[ToolSpec]] = {}
    for t in sorted(fleet.tools.values(), key=lambda t: t.key):
        if t.key in skip or t.server in fleet.failed or t.input_schema.get("required"):
            continue
        name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", t.name).lower().replace("-", "_")
        ann = t.annotations or {}
        if ann.get("readOnlyHint") is False or ann.get("destructiveHint") is True or not _READS.search(name):
            continue
        if ann.get("readOnlyHint") is not True and is_mutating(re.sub(r"(^|_)logs?(_|$)", "_", name), {}):
            continue
        bucket = out.setdefault(t.server, [])
        if len(bucket) < per_server:
            bucket.append(t)
    return out


async def discover(fleet: Fleet, skip: set[tuple[str, str]], servers: set[str] | None = None) -> dict[str, Any]:
    """Call each server's listings/getters once (:func:`discovery_tools`); server -> its calls (canonical)
    and the values they returned (concept -> values), for that server's value bank. ``servers``: only
    those (a local run discovers a server just before its first plan). The servers are then reset in the
    background (each plan awaits the resets of its own servers)."""
    out: dict[str, Any] = {}
    for server, tools in discovery_tools(fleet, skip).items():
        if servers is not None and server not in servers:
            continue
        calls: list[dict[str, Any]] = []
        values: dict[str, list[Any]] = {}
        for t in tools:
            try:
                rec = await fleet.call(server, t.name, {})
            except Exception as exc:  # noqa: BLE001 - a crash is reported per server, generation goes on
                calls.append({"tool": t.name, "error": str(exc).splitlines()[0][:200]})
                continue
            rec = relocate_record(rec, str(fleet.sandbox_root), fleet.canonical_root)
            calls.append(rec.model_dump(mode="json"))
            if succeeded(rec):
                for concept, vals in discovered_values(t.name, rec.result).items():
                    bucket = values.setdefault(concept, [])
                    bucket.extend(v for v in vals if v not in bucket)
        out[server] = {"calls": calls, "values": {k: v[:20] for k, v in values.items()}}
    await fleet.reset_episode(servers, only=servers is not None, wait=False)
    return out
