"""Client behaviour against a real (chaos) MCP server process: every bad-input path."""

import anyio
import pytest

from firefly_eval.mcp.client import ServerConnection, ServerError, ServerStartError, ToolCallTimeout
from firefly_eval.schema import ServerSpec


def run(coro):
    return anyio.run(lambda: coro)


async def _with(spec, fn, **kw):
    conn = ServerConnection(spec, **kw)
    try:
        return await fn(conn)
    finally:
        await conn.close()


def test_list_and_call(chaos_spec):
    async def go(conn):
        await conn.start()
        tools = {t.name: t for t in await conn.list_tools()}
        assert {"echo", "add", "crash", "hang", "huge"} <= set(tools)
        assert tools["add"].input_schema["required"] == ["a", "b"]
        res = await conn.call_tool("add", {"a": 2, "b": 3})
        assert not res["isError"] and "5" in res["content"][0]["text"]
        bad = await conn.call_tool("add", {"a": "two"})
        assert bad["isError"]
        unknown = await conn.call_tool("nope", {})
        assert unknown["isError"]

    run(_with(chaos_spec(), go))


def test_crash_is_infrastructure_error_then_restart(chaos_spec):
    async def go(conn):
        await conn.start()
        with pytest.raises(ServerError, match="crashed"):
            await conn.call_tool("crash", {})
        res = await conn.call_tool("echo", {"text": "back"})  # restarted lazily
        assert res["content"][0]["text"] == "back"

    run(_with(chaos_spec(), go))


def test_hang_times_out_and_server_recovers(chaos_spec):
    async def go(conn):
        await conn.start()
        with pytest.raises(ToolCallTimeout):
            await conn.call_tool("hang", {}, timeout=1.5)
        assert (await conn.call_tool("echo", {"text": "ok"}))["content"][0]["text"] == "ok"

    run(_with(chaos_spec(), go))


def test_huge_output_is_capped_and_marked(chaos_spec):
    async def go(conn):
        res = await conn.call_tool("huge", {"size": 100_000})
        assert len(res["content"][0]["text"]) < 2_000
        assert res["_meta"]["firefly/truncated"] is True

    run(_with(chaos_spec(), go, max_output_chars=1_000))


def test_garbage_on_stdout_is_tolerated(chaos_spec):
    async def go(conn):
        await conn.start()
        assert (await conn.call_tool("echo", {"text": "hi"}))["content"][0]["text"] == "hi"

    run(_with(chaos_spec("--garbage-at-start"), go))


def test_exit_at_once_reports_stderr(chaos_spec):
    async def go(conn):
        with pytest.raises(ServerStartError, match="cannot open config"):
            await conn.start()

    run(_with(chaos_spec("--exit-at-once"), go))


def test_slow_start_beyond_timeout(chaos_spec):
    async def go(conn):
        with pytest.raises(ServerStartError, match="did not answer the handshake"):
            await conn.start()

    run(_with(chaos_spec("--slow-start", "5"), go, start_timeout=1.5))


def test_missing_command_is_clear():
    spec = ServerSpec(name="ghost", command="definitely-not-a-command-xyz")

    async def go(conn):
        with pytest.raises(ServerStartError, match="command not found"):
            await conn.start()

    run(_with(spec, go))


def test_secret_env_never_in_errors(chaos_spec, monkeypatch):
    monkeypatch.setenv("CHAOS_TOKEN_SRC", "tok-123456789")
    spec = chaos_spec(env={"CHAOS_TOKEN": "${CHAOS_TOKEN_SRC}"})

    async def go(conn):
        await conn.start()
        res = await conn.call_tool("secret", {})
        # the server did get it; the result is redacted before anything can record it
        assert res["content"][0]["text"] == "token is «redacted:CHAOS_TOKEN_SRC»"
        assert conn._secrets == {"CHAOS_TOKEN_SRC": "tok-123456789"}
        with pytest.raises(ServerError) as info:
            await conn.call_tool("crash", {})
        assert "tok-123456789" not in str(info.value)

    run(_with(spec, go))


def test_temp_and_home_are_confined_to_the_sandbox(chaos_spec, tmp_path):
    async def go(conn):
        res = await conn.call_tool("where", {})
        tmp, home = res["content"][0]["text"].split("|")
        assert tmp.startswith(str(tmp_path)) and home.startswith(str(tmp_path))

    run(_with(chaos_spec(), go, sandbox=tmp_path))
