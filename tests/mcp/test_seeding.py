"""A server's start state from its ``seed_calls`` (firefly_eval.mcp.seeding), on a real stdio server."""

import asyncio
import sys
from pathlib import Path

import pytest

from firefly_eval.mcp.fleet import Fleet
from firefly_eval.mcp.seeding import seeded_world
from firefly_eval.schema import ServerSpec
from firefly_eval.world import build_world

NOTES = Path(__file__).resolve().parents[1] / "ownfleet" / "notes_server.py"


def _spec(seed_calls: list[dict]) -> ServerSpec:
    return ServerSpec(name="notes", command=sys.executable, args=[str(NOTES), "--ledger", "${SANDBOX}/ledger.json"],
                      stateful=True, restart_per_episode=True, world=True, seed_calls=seed_calls)


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FIREFLY_HOME", str(tmp_path / "home"))
    return tmp_path


def test_every_episode_starts_from_the_seeded_state(home):
    spec = _spec([{"tool": "add_note", "arguments": {"name": "freeze", "text": "Deploy freeze starts Friday"}}])

    async def run() -> tuple[list, list, str]:
        async with Fleet([spec], sandbox_root=home / "sb") as fleet:
            [report] = await fleet.start()
            assert report.ok, report.error
            first = (await fleet.call("notes", "list_notes", {})).text().split()
            await fleet.call("notes", "add_note", {"name": "extra", "text": "mine"})
            await fleet.reset_episode()
            again = (await fleet.call("notes", "list_notes", {})).text().split()
            text = (await fleet.call("notes", "read_note", {"name": "freeze"})).text()
        return first, again, text

    first, again, text = asyncio.run(run())
    assert "freeze" in first and "extra" not in again and "freeze" in again
    assert text == "Deploy freeze starts Friday"
    assert (seeded_world(spec) / "notes" / "freeze.md").exists()
    assert not (build_world() / "notes" / "freeze.md").exists()  # the shared seed world is left as it was
    # a replica of the fleet (plans in flight on one stateful server) starts from the same seeded world
    twin_root = home / "twin"

    async def twin() -> list:
        async with Fleet([spec], sandbox_root=twin_root) as fleet:
            await fleet.start()
            return (await fleet.call("notes", "list_notes", {})).text().split()

    assert "freeze" in asyncio.run(twin())


def test_a_failing_seed_call_names_the_server_and_the_call(home):
    spec = _spec([{"tool": "read_note", "arguments": {"name": "missing"}}])

    async def run():
        async with Fleet([spec], sandbox_root=home / "sb") as fleet:
            [report] = await fleet.start()
            return report

    report = asyncio.run(run())
    assert not report.ok
    assert "server 'notes'" in report.error and "seed_calls[0] (read_note) failed" in report.error
    assert not (seeded_world(spec) / ".complete").exists()
