"""Episode resets on a live (small, stateful) server: kill at once, resets in the background, the plan
order that avoids waiting on them."""

import asyncio
import os
import sys
from pathlib import Path

import anyio
import pytest

from firefly_eval.mcp.client import ServerConnection
from firefly_eval.mcp.fleet import Fleet
from firefly_eval.schema import Plan, ServerSpec

SERVER = Path(__file__).parent / "stateful_server.py"


def run(coro):
    return anyio.run(lambda: coro)


def spec(name: str = "st", **fields) -> ServerSpec:
    return ServerSpec(name=name, command=sys.executable, args=[str(SERVER)], stateful=True, **fields)


def text(res) -> str:
    """The first text block of a result dict or of a CallRecord's result."""
    result = res if isinstance(res, dict) else res.result
    return result["content"][0]["text"]


async def gone(pid: int, tries: int = 100) -> bool:
    """Whether the process ``pid`` has exited (polled: a killed orphan is reaped by init shortly after)."""
    for _ in range(tries):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # our own child: reap it if it is a zombie
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        await asyncio.sleep(0.05)
    return False


def test_kill_stops_the_server_and_its_children_and_a_start_works_again(tmp_path):
    async def go():
        conn = ServerConnection(spec(), sandbox=tmp_path / "st")
        try:
            await conn.start()
            server_pid, child_pid = map(int, text(await conn.call_tool("spawn_child", {})).split())
            await conn.kill()
            assert not conn.alive
            assert await gone(server_pid), "the server process is still running after kill()"
            assert await gone(child_pid), "the server's child is still running after kill() (process group)"
            await conn.start()
            assert int(text(await conn.call_tool("pid", {}))) != server_pid
        finally:
            await conn.close()

    run(go())


def test_background_restart_gives_fresh_memory_and_the_plan_awaits_it(tmp_path):
    async def go():
        fleet = Fleet([spec(restart_per_episode=True)], sandbox_root=tmp_path / "root")
        try:
            await fleet.start()
            await fleet.call("st", "add_one", {})
            assert text(await fleet.call("st", "count", {})) == "1"
            await fleet.reset_episode({"st"}, only=True, wait=False)
            assert fleet.resetting("st"), "a reset of a dirty server was not scheduled"
            await fleet.reset_episode({"st"}, only=True)  # the next plan on st waits for the restart
            assert not fleet.resetting("st")
            assert text(await fleet.call("st", "count", {})) == "0"
            assert fleet.stats["restarts"] == 1
        finally:
            await fleet.close()

    run(go())


def test_file_backed_server_is_restored_in_place_without_a_restart(tmp_path):
    async def go():
        fleet = Fleet([spec(restart_per_episode=False)], sandbox_root=tmp_path / "root")
        try:
            await fleet.start()
            pid = text(await fleet.call("st", "pid", {}))
            await fleet.call("st", "write_note", {"text": "changed"})
            assert text(await fleet.call("st", "read_note", {})) == "changed"
            await fleet.reset_episode({"st"}, only=True, wait=False)
            await fleet.reset_episode({"st"}, only=True)
            assert text(await fleet.call("st", "read_note", {})) == ""
            assert text(await fleet.call("st", "pid", {})) == pid, "the file-backed server was restarted"
            assert fleet.stats["file_restores"] == 1 and not fleet.stats["restarts"]
        finally:
            await fleet.close()

    run(go())


class _FakeFleet:
    """Servers with a reset in flight until the plan after next starts (``resetting``)."""

    def __init__(self, resetting: set[str]) -> None:
        self.busy_resets = set(resetting)
        self.scheduled: list[set[str]] = []

    def resetting(self, name: str) -> bool:
        return name in self.busy_resets

    def exclusive(self, name: str) -> bool:  # every server stateful: one plan at a time on each
        return True

    async def reset_episode(self, servers, *, only=False, wait=True):
        self.scheduled.append(set(servers))
        self.busy_resets.clear()  # the earlier resets are done by now


class _FakeProc:
    def __init__(self, fleet: _FakeFleet) -> None:
        self.fleet = fleet
        self.order: list[str] = []

    async def run(self, plan: Plan) -> dict:
        self.order.append(plan.id)
        return {"plan": plan.id}


def _plan(pid: str, *servers: str) -> Plan:
    return Plan(id=pid, nodes=[(s, "t") for s in servers], edges=[], pattern="single")


@pytest.mark.parametrize("resetting, expected", [
    (set(), ["p1", "p2", "p3"]),  # nothing being reset: plan order
    ({"a"}, ["p2", "p1", "p3"]),  # p1's server is being reset: p2 runs first, p1 after
    ({"a", "b"}, ["p1", "p2", "p3"]),  # every plan would wait: the first one goes
])
def test_run_plans_takes_the_first_plan_whose_servers_are_not_being_reset(resetting, expected):
    from firefly_eval.generation.pipeline import run_plans

    fleet = _FakeFleet(resetting)
    proc = _FakeProc(fleet)
    written: list[str] = []
    plans = [_plan("p1", "a"), _plan("p2", "b"), _plan("p3", "a", "b")]
    run(run_plans(plans, proc, lambda shard: written.append(shard["plan"]), limit=1))  # type: ignore[arg-type]
    assert proc.order == expected and written == expected
    # each plan's servers are reset when it ends, but only those a later plan uses
    later = [set().union(*({"p1": {"a"}, "p2": {"b"}, "p3": {"a", "b"}}[q] for q in expected[k + 1:]))
             for k in range(len(expected))]
    mine = [{"p1": {"a"}, "p2": {"b"}, "p3": {"a", "b"}}[p] for p in expected]
    assert fleet.scheduled == [m & rest for m, rest in zip(mine, later, strict=True)]
    assert fleet.scheduled[-1] == set()


def test_cached_tools_start_nothing_and_servers_start_in_plan_order(tmp_path, monkeypatch):
    from firefly_eval.generation.pipeline import _start_or_adopt, fleet_hash, tools_cache_path

    monkeypatch.setenv("FIREFLY_HOME", str(tmp_path / "home"))
    specs = [spec("st"), ServerSpec(name="gone", command="definitely-not-a-command-xyz")]
    digest = fleet_hash(specs)

    async def go():
        first = Fleet(specs, sandbox_root=tmp_path / "r1")
        try:  # no cache: every server starts and lists its tools; the listing is cached
            reports = {r.server: r.ok for r in await _start_or_adopt(first, digest, lazy=True)}
            assert reports == {"st": True, "gone": False} and tools_cache_path(digest).exists()
            listed = sorted(first.tools)
        finally:
            await first.close()
        fleet = Fleet(specs, sandbox_root=tmp_path / "r2")
        try:  # cached: the tools are known, only the server the cache lacks is tried, nothing else runs
            reports = {r.server: r.ok for r in await _start_or_adopt(fleet, digest, lazy=True)}
            assert reports == {"st": True, "gone": False}
            assert sorted(fleet.tools) == listed and not fleet.connections["st"].alive
            assert fleet.specs["st"].stateful and "st" in fleet.history.stateful
            fleet.start_in_order(["st"])
            await fleet.ensure_started(["st"])
            assert fleet.connections["st"].alive
            assert text(await fleet.call("st", "count", {})) == "0"
        finally:
            await fleet.close()

    run(go())


def test_default_sqlite_is_reset_by_an_in_place_file_swap():
    """The default fleet's sqlite entry says restart_per_episode: false (benchmarks/reset_probe.py): a
    write of one episode is gone in the next one, and the process is kept."""
    from firefly_eval.mcp.config import firefly_home, load_fleet

    (sqlite,) = [s for s in load_fleet() if s.name == "sqlite"]
    if not (firefly_home() / "fleet" / "sqlite" / ".firefly-installed").exists():
        pytest.skip("sqlite of the default fleet is not installed (firefly fleet install)")
    assert not sqlite.restart_per_episode

    async def go():
        fleet = Fleet([sqlite])
        try:
            assert (await fleet.start())[0].ok
            count = "SELECT COUNT(*) AS n FROM customers"
            before = text(await fleet.call("sqlite", "read_query", {"query": count}))
            await fleet.call("sqlite", "write_query", {"query": "INSERT INTO customers (id, name) VALUES (9999, 'X')"})
            assert text(await fleet.call("sqlite", "read_query", {"query": count})) != before
            await fleet.reset_episode({"sqlite"}, only=True)
            assert text(await fleet.call("sqlite", "read_query", {"query": count})) == before
            assert fleet.stats["file_restores"] == 1 and not fleet.stats["restarts"]
        finally:
            await fleet.close()

    run(go())
