"""A server's own start state on the seed world: ``seed_calls`` made once, kept as that server's world.

Some servers keep their data in a store of their own format (memory-keeper's SQLite ``context.db`` under its
``DATA_DIR``): the seed world cannot hold it, so such a server would start every episode empty and every task
would have to fill it first ("save these notes, then search them"), which no user asks and which dirties every
episode. A fleet entry's ``firefly.seed_calls`` are made once on a fresh copy of the seed world; the folder they
leave (the world plus the server's store) is kept under the firefly home, keyed by the world version, the
server's pin, its launch settings and the calls, and the server's sandboxes are copies of it from then on.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from firefly_eval.facts import error_reason
from firefly_eval.mcp.client import ServerConnection, ServerError
from firefly_eval.schema import ServerSpec
from firefly_eval.world import WORLD_VERSION, build_world, fresh_sandbox, world_dir

__all__ = ["SeedError", "ensure_seeded", "seeded_world"]


class SeedError(ServerError):
    """A seed call of a fleet entry failed: the server's start state cannot be built."""


def seeded_world(spec: ServerSpec) -> Path:
    """Where the seeded world of ``spec`` is kept (it may not be built yet)."""
    key = json.dumps([WORLD_VERSION, spec.pin, spec.command, spec.args, spec.env, spec.seed_calls], sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return world_dir().with_name(f"{WORLD_VERSION}~{spec.name}-{digest}")


async def ensure_seeded(spec: ServerSpec, fleet_dir: Path | None = None, timeout: float = 60.0) -> Path:
    """The seeded world of ``spec``, built now if it is missing: the server is started on a fresh copy of the
    seed world, its ``seed_calls`` are made in order, it is closed, and the folder becomes the world.

    Raises :class:`SeedError` naming the server and the call when a seed call fails (an error result too)."""
    target = seeded_world(spec)
    async with _LOCKS.setdefault(target, asyncio.Lock()):  # two fleet copies of one run build it once
        if not (target / ".complete").exists():
            await _build(spec, target, fleet_dir, timeout)
    return target


_LOCKS: dict[Path, asyncio.Lock] = {}


async def _build(spec: ServerSpec, target: Path, fleet_dir: Path | None, timeout: float) -> None:
    world = build_world()
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".seed-{spec.name}-", dir=target.parent))
    try:
        sandbox = fresh_sandbox(work / "world", world)
        conn = ServerConnection(spec, sandbox=sandbox, fleet_dir=fleet_dir, start_timeout=timeout,
                                call_timeout=timeout)
        try:
            await conn.start()
            for i, call in enumerate(spec.seed_calls):
                tool, arguments = call.get("tool"), call.get("arguments", {})
                result = await conn.call_tool(str(tool), arguments if isinstance(arguments, dict) else {})
                reason = error_reason(result, bool(result.get("isError")))
                if reason is not None:
                    raise SeedError(f"server '{spec.name}': firefly.seed_calls[{i}] ({tool}) failed: {reason}")
        finally:
            await conn.close()
        for scratch in (".home", ".tmp"):  # what the process left under ~ and the temp dir is no state
            shutil.rmtree(sandbox / scratch, ignore_errors=True)
        (sandbox / ".complete").write_text(json.dumps({"server": spec.name, "calls": len(spec.seed_calls)}))
        if (target / ".complete").exists():
            return  # another process finished one meanwhile: it stays (it may be in use), ours goes
        if target.exists():  # a broken build: ours replaces it
            shutil.rmtree(target)
        sandbox.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
