"""The ``live`` miss policy: answer a miss from the real server and record the call (the cache grows).

Recorded calls hold canonical sandbox paths (``firefly_eval.sandbox``); the servers run under a root
of their own, so arguments and results are relocated both ways (``Fleet.replay``), as in the other
live re-probes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from firefly_eval.mcp.fleet import Fleet
from firefly_eval.sandbox import SANDBOX_ROOT
from firefly_eval.schema import CallRecord, ServerSpec

__all__ = ["LiveFallback"]


class LiveFallback:
    """Async ``live_fn``: lazily starts the needed servers of a fleet; appends records to ``record_to``."""

    def __init__(self, specs: list[ServerSpec], record_to: Path | None = None) -> None:
        self.fleet = Fleet(specs, canonical_root=SANDBOX_ROOT)
        self.record_to = record_to
        self._started: set[str] = set()

    async def __call__(self, server: str, tool: str, arguments: dict[str, Any]) -> CallRecord:
        if server not in self.fleet.connections:
            raise KeyError(f"server {server!r} is not in the fleet given for the live miss policy")
        if server not in self._started:
            conn = self.fleet.connections[server]
            await conn.start()
            for t in await conn.list_tools():
                self.fleet.tools[t.key] = t
            self._started.add(server)
        rec = await self.fleet.replay(server, tool, arguments)
        if self.record_to is not None:
            self.record_to.parent.mkdir(parents=True, exist_ok=True)
            with open(self.record_to, "a", encoding="utf-8") as fh:
                fh.write(rec.model_dump_json() + "\n")
        return rec

    async def close(self) -> None:
        await self.fleet.close()
