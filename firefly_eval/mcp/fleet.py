"""A fleet of live servers with per-server sandboxes and episode resets.

Every stateful server gets its own copy of the seed world (``sandbox_root/<server>``), so
resetting one server's state never disturbs another's open files. ``reset_episode`` restores
only the servers whose state an episode changed (or whose state lives in process memory).
With a ``canonical_root`` (see ``firefly_eval.sandbox``) the fleet maps paths between its own
root and the canonical one: history keys are computed on canonical arguments, and ``replay``
sends recorded (canonical) arguments and returns a canonical record.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firefly_eval.mcp.client import ServerConnection, ServerError
from firefly_eval.mcp.owndata import OwnData, own_data, uses_world
from firefly_eval.mcp.seeding import ensure_seeded, seeded_world
from firefly_eval.mutation import HistoryTracker, drop_blanket_hints, is_mutating
from firefly_eval.sandbox import relocate_record, relocate_value
from firefly_eval.schema import CallRecord, ServerSpec, ToolSpec
from firefly_eval.treesync import remove_path
from firefly_eval.world import build_world, fresh_sandbox, restore_sandbox

__all__ = ["Fleet", "StartReport"]


@dataclass
class StartReport:
    server: str
    ok: bool
    tools: list[ToolSpec] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""


class Fleet:
    """Live connections to the servers of a fleet, recording every call."""

    def __init__(
        self,
        specs: list[ServerSpec],
        *,
        sandbox_root: Path | None = None,
        fleet_dir: Path | None = None,
        call_timeout: float = 30.0,
        start_timeout: float = 60.0,
        max_concurrency: int = 4,
        run_id: str = "",
        canonical_root: Path | None = None,
        warm_pool: bool = False,
    ) -> None:
        self.specs = {s.name: s for s in specs}
        self._max_concurrency = max_concurrency
        self._settings = {"fleet_dir": fleet_dir, "call_timeout": call_timeout, "start_timeout": start_timeout,
                          "max_concurrency": max_concurrency, "run_id": run_id, "warm_pool": warm_pool}
        # with ``warm_pool``, a pre-started spare process per server that keeps its state in memory (see
        # ``pooled``), started with the server: a reset swaps it in instead of starting one, so the next plan on
        # the server does not wait for a start (generation turns it on; one-off users of a fleet need none)
        self.warm_pool = warm_pool
        self._spares: dict[str, asyncio.Task[ServerConnection | None]] = {}
        self._own_root = sandbox_root is None
        self.sandbox_root = Path(sandbox_root or tempfile.mkdtemp(prefix="firefly-sandbox-"))
        self.fleet_dir = fleet_dir
        self.run_id = run_id
        self.world = build_world()
        # a server with seed calls starts from its seeded world (firefly_eval.mcp.seeding), once it is built
        self.worlds: dict[str, Path] = {s.name: w for s in specs if s.seed_calls
                                        and ((w := seeded_world(s)) / ".complete").exists()}
        self.connections: dict[str, ServerConnection] = {}
        # a server works on the seed world, or on copies of its own cwd/files (firefly_eval.mcp.owndata)
        self.world_servers = {s.name for s in specs if uses_world(s)}
        self.own: dict[str, OwnData] = {}
        for spec in specs:
            sandbox = self.sandbox_root / spec.name
            own = own_data(spec, sandbox, self.sandbox_root / ".pristine" / spec.name)
            if own is not None:
                self.own[spec.name] = own
                own.snapshot()
            self._fresh_files(spec.name)
            conn_spec = spec.model_copy(update={"args": own.args, "env": own.env}) if own else spec
            cwd = own.cwd if own else (Path(spec.cwd) if spec.cwd and "${" not in spec.cwd else None)
            self.connections[spec.name] = ServerConnection(
                conn_spec, sandbox=sandbox, fleet_dir=fleet_dir, call_timeout=call_timeout,
                start_timeout=start_timeout, max_concurrency=max_concurrency, cwd=cwd,
            )
        self.stateful_why: dict[str, str] = {}
        self.tools: dict[tuple[str, str], ToolSpec] = {}
        self.history = HistoryTracker({s.name for s in specs if s.stateful})
        self.failed: dict[str, str] = {}
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._starting: dict[str, asyncio.Task[None]] = {}  # background starts (start_in_order)
        self._start_gate: asyncio.Semaphore | None = None
        # episode resets done (restarts, in-place file restores) and their seconds, for the run summary
        self.stats: defaultdict[str, float] = defaultdict(float)
        # the root records are written in (None: this fleet's own); history keys are computed on
        # canonical arguments, so they match across workers whose sandboxes live in different folders
        self.canonical_root = str(canonical_root) if canonical_root is not None else str(self.sandbox_root)

    async def start(self, parallel: int = 6, names: list[str] | None = None) -> list[StartReport]:
        """Start every server (or those in ``names``) and list its tools; failures are reported, the
        others go on."""
        sem = asyncio.Semaphore(parallel)

        async def one(name: str) -> StartReport:
            conn = self.connections[name]
            async with sem:
                t0 = time.perf_counter()
                try:
                    await self._seed(name)
                    await conn.start()
                    tools = drop_blanket_hints(await conn.list_tools())
                except (ServerError, OSError, ValueError) as exc:
                    self.failed[name] = str(exc)
                    return StartReport(name, False, seconds=time.perf_counter() - t0, error=str(exc))
                for t in tools:
                    self.tools[t.key] = t
                self._infer_stateful(name, tools)
                self._fill_spare(name)
                return StartReport(name, True, tools, time.perf_counter() - t0)

        todo = list(self.connections) if names is None else [n for n in names if n in self.connections]
        return list(await asyncio.gather(*(one(n) for n in todo)))

    def adopt_tools(self, tools: list[ToolSpec]) -> None:
        """Take servers' tool lists from an earlier listing of the same fleet (``firefly generate`` keeps one
        per fleet hash) instead of starting them now: the tools are known and statefulness is inferred as
        :meth:`start` would; the processes start later, when a plan needs them (:meth:`start_in_order`)."""
        by_server: dict[str, list[ToolSpec]] = defaultdict(list)
        for t in tools:
            if t.server in self.connections:
                by_server[t.server].append(t)
        for name, listed in by_server.items():
            listed = drop_blanket_hints(listed)
            for t in listed:
                self.tools[t.key] = t
            self._infer_stateful(name, listed)

    def replica(self, sandbox_root: Path) -> Fleet:
        """Another fleet of the same servers and settings under ``sandbox_root`` (its own copies of the seed world
        and of each server's data, its own processes, none started): the servers' tools and statefulness are
        taken from this fleet (paths moved to the replica's root), records are written in the same canonical
        root, so a plan's shard does not depend on which replica ran it. Its servers start when a plan needs
        them (:meth:`ensure_started`)."""
        specs = [s.model_copy(deep=True) for s in self.specs.values()]  # carry this fleet's inferred flags
        sandbox_root.mkdir(parents=True, exist_ok=True)
        twin = Fleet(specs, sandbox_root=sandbox_root, canonical_root=Path(self.canonical_root), **self._settings)
        twin.adopt_tools([ToolSpec.model_validate(twin.to_live(self.to_canonical(t.model_dump(mode="json"))))
                          for t in self.tools.values()])
        twin.stateful_why = dict(self.stateful_why)
        return twin

    def up(self, name: str) -> bool:
        """Whether ``name`` is started or its start is scheduled (a plan on it waits for no new start)."""
        conn = self.connections.get(name)
        return conn is not None and (name in self._starting or conn.alive)

    def start_in_order(self, names: list[str], parallel: int = 2) -> None:
        """Start the servers ``names`` in the background, in that order, at most ``parallel`` at once (the
        servers of the first plans first); a failed start is recorded in ``failed``. Servers already started
        or scheduled are skipped. :meth:`ensure_started` waits for them."""
        if self._start_gate is None:
            self._start_gate = asyncio.Semaphore(parallel)
        gate = self._start_gate

        async def one(name: str) -> None:
            async with gate:
                conn = self.connections[name]
                if name in self.failed or conn.alive:
                    return
                t0 = time.perf_counter()
                try:
                    await self._seed(name)
                    await conn.start()
                    self._fill_spare(name)
                except (ServerError, OSError, ValueError) as exc:
                    self.failed[name] = str(exc)
                self.stats["starts_in_order"] += 1
                self.stats["start_in_order_s"] += time.perf_counter() - t0

        for name in names:
            if name not in self._starting and name in self.connections:
                self._starting[name] = asyncio.create_task(one(name))

    async def ensure_started(self, names: list[str] | set[str]) -> None:
        """Wait until the servers ``names`` are started (or have failed: see ``failed``); a server no
        :meth:`start_in_order` scheduled is scheduled now."""
        wanted = [n for n in sorted(names) if n in self.connections]
        self.start_in_order(wanted)
        await asyncio.gather(*(self._starting[n] for n in wanted))

    async def _seed(self, name: str) -> None:
        """Build the seeded world of a server with ``seed_calls`` if it is missing (the first start on this
        firefly home) and put the server's sandbox on it."""
        spec = self.specs[name]
        if not spec.seed_calls or name in self.worlds or name not in self.world_servers:
            return
        self.worlds[name] = await ensure_seeded(spec, self.fleet_dir, self._settings["start_timeout"])
        self._fresh_files(name)

    def _infer_stateful(self, name: str, tools: list[ToolSpec]) -> None:
        """Stateful unless the entry says ``firefly.stateful``: a server with a state-changing tool (the
        verb classes of ``firefly_eval.mutation``, or MCP ``readOnlyHint: false``) is; its state may live
        in memory, so it is restarted on fresh files per episode unless ``restart_per_episode`` is set."""
        spec = self.specs[name]
        if "stateful" in spec.model_fields_set:
            self.stateful_why[name] = f"firefly.stateful: {str(spec.stateful).lower()} in the fleet file"
            return
        mutating = sorted(t.name for t in tools if is_mutating(t.name, {}, t.annotations))
        if not mutating:
            self.stateful_why[name] = "stateless: no tool changes state (inferred)"
            return
        more = f" and {len(mutating) - 3} more" if len(mutating) > 3 else ""
        self.stateful_why[name] = f"stateful: state-changing tools {', '.join(mutating[:3])}{more} (inferred)"
        restart = "restart_per_episode" not in spec.model_fields_set
        for s in {id(spec): spec, id(self.connections[name].spec): self.connections[name].spec}.values():
            s.stateful = True
            if restart:
                s.restart_per_episode = True
        self.history.stateful.add(name)

    def exclusive(self, name: str) -> bool:
        """Whether a plan must hold ``name`` alone while it runs: its state changes (``stateful``, set in the
        fleet file or inferred from its tools), so another plan's calls would see or spoil this plan's state,
        and its episode reset would pull the state from under the other plan. A stateless server serves the
        calls of several plans at once (an MCP stdio session takes concurrent requests)."""
        conn = self.connections.get(name)
        return conn is not None and bool(conn.spec.stateful)

    @property
    def live_servers(self) -> list[str]:
        return [n for n in self.connections if n not in self.failed]

    async def call(self, server: str, tool: str, arguments: dict[str, Any]) -> CallRecord:
        """Call a tool and return the recorded CallRecord (errors are recorded too).

        Raises ServerError on infrastructure failure (crash, timeout); the server restarts
        on its next use.
        """
        conn = self.connections[server]
        spec = conn.spec
        history_key = self.history.key(server)
        t0 = time.perf_counter()
        result = await conn.call_tool(tool, arguments)
        latency = (time.perf_counter() - t0) * 1000
        is_error = bool(result.get("isError"))
        ann = self.tools.get((server, tool)).annotations if (server, tool) in self.tools else None
        self.history.observe(server, tool, self.to_canonical(arguments), is_error, ann, result=result)
        if self.history.dirty(server):  # this episode changed the server: its reset will need a process
            self._fill_spare(server)
        return CallRecord(
            server=server, tool=tool, arguments=arguments, result=result, is_error=is_error,
            latency_ms=round(latency, 3), server_version=f"{spec.pin}|{conn.server_version}",
            history_key=history_key, run_id=self.run_id,
        )

    def to_canonical(self, value: Any) -> Any:
        """``value`` with this fleet's sandbox root replaced by the canonical root."""
        return relocate_value(value, str(self.sandbox_root), self.canonical_root)

    def to_live(self, value: Any) -> Any:
        """``value`` with the canonical root replaced by this fleet's sandbox root."""
        return relocate_value(value, self.canonical_root, str(self.sandbox_root))

    async def replay(self, server: str, tool: str, arguments: dict[str, Any]) -> CallRecord:
        """Call a tool with recorded (canonical) arguments; the record comes back in canonical paths.

        The live re-probes (volatile answer fields, drift, the simulator's live miss policy) go through
        here, so a recorded path reaches the server as a path of its own sandbox.
        """
        rec = await self.call(server, tool, self.to_live(arguments))
        return relocate_record(rec, str(self.sandbox_root), self.canonical_root)

    async def reset_episode(self, servers: set[str] | None = None, *, only: bool = False,
                            wait: bool = True) -> None:
        """Give the next episode fresh state on the servers it will use (all when None).

        Every server whose state the last episode changed is restored *in the background*: servers that
        keep state in process memory (``restart_per_episode``) are killed and started again on a fresh copy
        of the seed world, servers that re-read their files get them restored in place (the copy runs in a
        thread, off the event loop). Only the resets of the servers the next episode uses are awaited, so
        they overlap with exploration of plans on other servers; with ``wait=False`` none is (a plan that
        ends schedules the resets of its servers, the next plan on one of them awaits it). With ``only``,
        servers outside ``servers`` are left as they are (other plans may be using them: plans in flight on
        one fleet).
        """
        for name, conn in self.connections.items():
            if only and servers is not None and name not in servers:
                continue
            if name in self.failed or not conn.spec.stateful or not self.history.dirty(name):
                continue
            self.history.reset(name)
            if not conn.spec.restart_per_episode and conn.alive:
                self._pending[name] = asyncio.create_task(self._restore_files(name))
            elif conn.spec.reset_call and conn.alive:
                self._pending[name] = asyncio.create_task(self._reset_by_call(name))
            else:
                self._pending[name] = asyncio.create_task(self._restart_fresh(name))
        if wait:
            wanted = servers if servers is not None else set(self.connections)
            waits = [t for n, t in self._pending.items() if n in wanted]
            if waits:
                await asyncio.gather(*waits)
        for n in [n for n, t in self._pending.items() if t.done()]:
            del self._pending[n]
        if servers is None:
            self.history.reset()

    def resetting(self, name: str) -> bool:
        """Whether a reset of ``name`` scheduled by :meth:`reset_episode` is still running."""
        task = self._pending.get(name)
        return task is not None and not task.done()

    async def _restore_files(self, name: str) -> None:
        t0 = time.perf_counter()
        await asyncio.to_thread(self._fresh_files, name, True)
        self.stats["file_restores"] += 1
        self.stats["file_restore_s"] += time.perf_counter() - t0

    async def _reset_by_call(self, name: str) -> None:
        """Reset a server that keeps its state in memory without a restart: its files restored in place, then
        its ``reset_call`` (tau2's ``reset_state``); a reset call that fails or errors restarts it instead."""
        conn = self.connections[name]
        call = conn.spec.reset_call or {}
        t0 = time.perf_counter()
        await asyncio.to_thread(self._fresh_files, name, True)
        try:
            result = await conn.call_tool(str(call.get("tool", "")), dict(call.get("arguments") or {}))
            ok = not result.get("isError")
        except ServerError:
            ok = False
        if not ok:
            self.stats["reset_call_failures"] += 1
            await self._restart_fresh(name)
            return
        self.stats["call_resets"] += 1
        self.stats["call_reset_s"] += time.perf_counter() - t0

    def refresh_files(self, name: str) -> None:
        """Re-copy a file-backed server's sandbox in place (file birth times change, content does not)."""
        conn = self.connections[name]
        if conn.spec.stateful and not conn.spec.restart_per_episode and not self.history.dirty(name):
            self._fresh_files(name, in_place=True)

    def _fresh_files(self, name: str, in_place: bool = False) -> None:
        """A fresh copy of what the server works on: the seed world (world servers) and its own data."""
        sandbox = self.sandbox_root / name
        if name in self.world_servers:
            (restore_sandbox if in_place else fresh_sandbox)(sandbox, self.worlds.get(name, self.world))
        else:  # nothing of the seed world; what the server left in its sandbox goes
            sandbox.mkdir(parents=True, exist_ok=True)
            keep = {".home", ".tmp", *self.own[name].top_names(sandbox)} if name in self.own else {".home", ".tmp"}
            for child in sandbox.iterdir():
                if in_place and child.name in keep:  # a running server's cwd must stay the same folder
                    continue
                remove_path(child)
        if name in self.own:
            self.own[name].restore()

    async def _restart_fresh(self, name: str) -> None:
        """Kill the server (its state is discarded: no graceful close), copy fresh files off the event loop,
        start it again; a server of the warm pool (:meth:`pooled`) gets its files restored in place and its
        spare process swapped in instead of a start (and a new spare starts in the background)."""
        conn = self.connections[name]
        t0 = time.perf_counter()
        await conn.kill()
        spare_task = self._spares.pop(name, None)
        spare = await spare_task if spare_task is not None else None
        if spare is not None and spare.alive:
            # in place: the spare runs in this very folder (its cwd), started before the kill
            await asyncio.to_thread(self._fresh_files, name, True)
            self.connections[name] = spare
            await conn.close()  # the discarded connection's stderr log
            self.stats["spare_swaps"] += 1
            self.stats["spare_swap_s"] += time.perf_counter() - t0
        else:
            await asyncio.to_thread(self._fresh_files, name)
            try:
                await conn.start()
            except ServerError as exc:
                self.failed[name] = str(exc)
            self.stats["restarts"] += 1
            self.stats["restart_s"] += time.perf_counter() - t0
        self._fill_spare(name)

    def pooled(self, name: str) -> bool:
        """Whether ``name`` gets a warm spare process: it keeps its state in process memory
        (``restart_per_episode``), and a process started beside the running one cannot see that one's state.
        The spare starts in the same sandbox while the running process works there, so the server's entry
        must hand it no sandbox path (``${SANDBOX}`` in args, env or cwd: a state file or folder named there
        may be read at start) and it must not work on a copy of its own data (own cwd/files)."""
        conn = self.connections.get(name)
        if not self.warm_pool or conn is None or not conn.spec.restart_per_episode or name in self.own \
                or conn.spec.reset_call:
            return False  # a server reset by a call keeps its process
        spec = conn.spec
        return not any("SANDBOX" in v for v in [*spec.args, *spec.env.values(), spec.cwd or ""])

    def _fill_spare(self, name: str) -> None:
        """Start a spare process of a pooled server in the background (at most one per server); a spare
        that fails to start is dropped (the reset then restarts the server as without a pool)."""
        if name in self._spares or name in self.failed or not self.pooled(name):
            return
        conn = self.connections[name]

        async def one() -> ServerConnection | None:
            spare = ServerConnection(conn.spec, sandbox=conn.sandbox, fleet_dir=conn.fleet_dir,
                                     call_timeout=conn.call_timeout, start_timeout=conn.start_timeout,
                                     max_concurrency=self._max_concurrency,
                                     max_output_chars=conn.max_output_chars, cwd=conn.cwd)
            t0 = time.perf_counter()
            try:
                await spare.start()
            except (ServerError, OSError, ValueError):
                await spare.kill()
                await spare.close()
                return None
            self.stats["spare_starts"] += 1
            self.stats["spare_start_s"] += time.perf_counter() - t0
            return spare

        self._spares[name] = asyncio.create_task(one())

    async def close(self) -> None:
        """Stop every server at once (``ServerConnection.kill``: the sandboxes are the fleet's own copies,
        nothing waits for a graceful exit) and remove the sandbox root when the fleet made it."""
        waits = [*self._pending.values(), *self._starting.values()]
        if waits:
            await asyncio.gather(*waits, return_exceptions=True)
        spares = await asyncio.gather(*self._spares.values(), return_exceptions=True)
        self._spares.clear()
        conns = [*self.connections.values(), *(c for c in spares if isinstance(c, ServerConnection))]
        await asyncio.gather(*(c.kill() for c in conns), return_exceptions=True)
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
        if self._own_root:
            shutil.rmtree(self.sandbox_root, ignore_errors=True)

    async def __aenter__(self) -> Fleet:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
