"""An episode reset by the server's own reset call (``firefly.reset_call``, tau2's ``reset_state``): the files are
restored in place and the call resets the memory, the process stays; a reset call that errors restarts it."""

import sys
from pathlib import Path

import anyio

from firefly_eval.mcp.fleet import Fleet
from firefly_eval.schema import ServerSpec

SERVER = Path(__file__).parent / "stateful_server.py"


def _spec(fail: bool = False) -> ServerSpec:
    return ServerSpec(name="st", command=sys.executable, args=[str(SERVER)], stateful=True, restart_per_episode=True,
                      reset_call={"tool": "reset_counter", "arguments": {"fail": fail}})


def _text(rec) -> str:
    return rec.result["content"][0]["text"]


def test_a_reset_call_resets_memory_and_files_without_a_restart(tmp_path):
    async def go():
        fleet = Fleet([_spec()], sandbox_root=tmp_path / "root", warm_pool=True)
        try:
            await fleet.start()
            pid = _text(await fleet.call("st", "pid", {}))
            assert not fleet.pooled("st") and "st" not in fleet._spares  # a call reset needs no spare process
            await fleet.call("st", "add_one", {})
            await fleet.call("st", "write_note", {"text": "changed"})
            await fleet.reset_episode({"st"}, only=True)
            assert _text(await fleet.call("st", "pid", {})) == pid, "the reset restarted the server"
            assert _text(await fleet.call("st", "count", {})) == "0", "memory was not reset"
            assert _text(await fleet.call("st", "read_note", {})) == "", "files were not restored"
            assert fleet.stats["call_resets"] == 1 and not fleet.stats["restarts"]
            assert fleet.history.key("st") == "", "the reset call is no step of the next episode"
        finally:
            await fleet.close()

    anyio.run(go)


def test_a_reset_call_that_errors_restarts_the_server(tmp_path):
    async def go():
        fleet = Fleet([_spec(fail=True)], sandbox_root=tmp_path / "root")
        try:
            await fleet.start()
            pid = _text(await fleet.call("st", "pid", {}))
            await fleet.call("st", "add_one", {})
            await fleet.reset_episode({"st"}, only=True)
            assert _text(await fleet.call("st", "pid", {})) != pid
            assert _text(await fleet.call("st", "count", {})) == "0"
            assert fleet.stats["reset_call_failures"] == 1 and fleet.stats["restarts"] == 1
        finally:
            await fleet.close()

    anyio.run(go)
