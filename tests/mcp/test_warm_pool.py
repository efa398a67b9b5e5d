"""The warm pool: a server whose state lives in process memory gets a spare process, started ahead; an
episode reset swaps the spare in (fresh memory, files restored in place) instead of starting a process,
and starts the next spare in the background. A server with its own reset call (``firefly.reset_call``,
tau2's ``reset_state``) is reset by that call instead: files restored in place, the process kept."""

import sys
from pathlib import Path

import anyio

from firefly_eval.mcp.fleet import Fleet
from firefly_eval.schema import ServerSpec

SERVER = Path(__file__).parent / "stateful_server.py"


def spec(name: str = "st", **fields) -> ServerSpec:
    return ServerSpec(name=name, command=sys.executable, args=[str(SERVER)], stateful=True,
                      **{"restart_per_episode": True, **fields})


def text(rec) -> str:
    return rec.result["content"][0]["text"]


def test_reset_swaps_in_the_spare_with_fresh_memory_and_files(tmp_path):
    async def go():
        fleet = Fleet([spec()], sandbox_root=tmp_path / "root", warm_pool=True)
        try:
            await fleet.start()
            first = text(await fleet.call("st", "pid", {}))
            spare = await fleet._spares["st"]  # started with the server
            assert spare is not None and spare.alive
            await fleet.call("st", "add_one", {})
            await fleet.call("st", "write_note", {"text": "changed"})
            await fleet.reset_episode({"st"}, only=True)
            assert fleet.connections["st"] is spare, "the reset did not swap the spare in"
            assert text(await fleet.call("st", "pid", {})) != first
            assert text(await fleet.call("st", "count", {})) == "0"
            assert text(await fleet.call("st", "read_note", {})) == "", "files were not restored"
            assert fleet.stats["spare_swaps"] == 1 and not fleet.stats["restarts"]
            assert "st" in fleet._spares, "no next spare after the swap"
            # a second episode: the next spare is swapped in the same way
            await fleet.call("st", "add_one", {})
            await fleet.reset_episode({"st"}, only=True)
            assert text(await fleet.call("st", "count", {})) == "0" and fleet.stats["spare_swaps"] == 2
        finally:
            await fleet.close()
        assert not fleet._spares

    anyio.run(go)


def test_a_clean_episode_keeps_the_process_and_the_spare(tmp_path):
    async def go():
        fleet = Fleet([spec()], sandbox_root=tmp_path / "root", warm_pool=True)
        try:
            await fleet.start()
            conn = fleet.connections["st"]
            await fleet.call("st", "count", {})  # reads only: no state change
            await fleet.reset_episode({"st"}, only=True)
            assert fleet.connections["st"] is conn and not fleet.stats["spare_swaps"]
        finally:
            await fleet.close()

    anyio.run(go)


def test_no_pool_without_the_flag_or_for_servers_given_a_sandbox_path(tmp_path):
    async def go():
        specs = [spec("mem"), spec("db", env={"DATA_DIR": "${SANDBOX}/.db"}),
                 spec("files", restart_per_episode=False)]
        fleet = Fleet(specs, sandbox_root=tmp_path / "root", warm_pool=True)
        off = Fleet([spec("mem")], sandbox_root=tmp_path / "off")
        try:
            assert [n for n in fleet.connections if fleet.pooled(n)] == ["mem"]
            await off.start()
            await off.call("mem", "add_one", {})
            await off.reset_episode({"mem"}, only=True)
            assert not off._spares and off.stats["restarts"] == 1
            assert text(await off.call("mem", "count", {})) == "0"
        finally:
            await fleet.close()
            await off.close()

    anyio.run(go)


RESET = {"tool": "reset_counter", "arguments": {"fail": False}}


def test_a_reset_call_resets_memory_and_files_without_a_restart(tmp_path):
    async def go():
        fleet = Fleet([spec(reset_call=RESET)], sandbox_root=tmp_path / "root", warm_pool=True)
        try:
            await fleet.start()
            pid = text(await fleet.call("st", "pid", {}))
            assert not fleet.pooled("st") and "st" not in fleet._spares  # a call reset needs no spare process
            await fleet.call("st", "add_one", {})
            await fleet.call("st", "write_note", {"text": "changed"})
            await fleet.reset_episode({"st"}, only=True)
            assert text(await fleet.call("st", "pid", {})) == pid, "the reset restarted the server"
            assert text(await fleet.call("st", "count", {})) == "0", "memory was not reset"
            assert text(await fleet.call("st", "read_note", {})) == "", "files were not restored"
            assert fleet.stats["call_resets"] == 1 and not fleet.stats["restarts"]
            assert fleet.history.key("st") == "", "the reset call is no step of the next episode"
        finally:
            await fleet.close()

    anyio.run(go)


def test_a_reset_call_that_errors_restarts_the_server(tmp_path):
    async def go():
        fleet = Fleet([spec(reset_call={**RESET, "arguments": {"fail": True}})], sandbox_root=tmp_path / "root")
        try:
            await fleet.start()
            pid = text(await fleet.call("st", "pid", {}))
            await fleet.call("st", "add_one", {})
            await fleet.reset_episode({"st"}, only=True)
            assert text(await fleet.call("st", "pid", {})) != pid
            assert text(await fleet.call("st", "count", {})) == "0"
            assert fleet.stats["reset_call_failures"] == 1 and fleet.stats["restarts"] == 1
        finally:
            await fleet.close()

    anyio.run(go)
