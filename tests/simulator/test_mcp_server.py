"""The simulator's MCP face, driven by the official SDK client over stdio (a real subprocess)."""

import sys
from pathlib import Path

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from firefly_eval.agent_tools import exposed_name
from firefly_eval.tasks.heldout.dataset import load_bundle, shipped_path


def test_sdk_client_lists_and_replays_shipped_calls():
    tasks, _, _ = load_bundle("shipped", "test")
    task = tasks[0]
    firefly = Path(sys.executable).with_name("firefly")
    params = StdioServerParameters(command=str(firefly), args=["simulate", "--calls", str(shipped_path())])

    async def go():
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                names = {t.name for t in (await session.list_tools()).tools}
                ref = task.reference_arguments[0]
                name = exposed_name(ref["server"], ref["tool"])
                assert name in names
                res = await session.call_tool(name, ref["arguments"])
                assert not res.is_error
                assert res.meta["firefly/provenance"]["tier"] == "exact"
                miss = await session.call_tool(name, {k: "zz-never-recorded" for k in ref["arguments"]} or {"q": 1})
                assert miss.is_error
                unknown = await session.call_tool("not_a_tool", {})
                assert unknown.is_error

    anyio.run(go)
