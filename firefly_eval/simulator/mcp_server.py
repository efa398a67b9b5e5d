"""The simulator as an MCP stdio server: ``firefly simulate --calls DATASET``.

Any MCP client (Claude Desktop, Cursor, Inspect's ``mcp_server_stdio``, the ``mcp`` SDK) can
connect and see the recorded tools under ``server__tool`` names with their real descriptions
and schemas; calls are answered by the simulator, with provenance in the result's ``_meta``.
One process is one episode (stateful replay follows the calls made on this connection).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server

from firefly_eval.agent_tools import exposed_name
from firefly_eval.schema import ToolSpec
from firefly_eval.simulator.simulator import Simulator

__all__ = ["build_server", "load_simulator", "serve_stdio"]


def load_simulator(source: str | Path, tiers: frozenset[str] = frozenset({"exact", "fuzzy"}),
                   fuzzy_threshold: float = 90.0) -> Simulator:
    """A simulator over a dataset folder (calls + tools.jsonl + meta.json) or a calls file."""
    import json

    from firefly_eval.simulator.index import CallIndex
    from firefly_eval.simulator.records import read_records

    src = Path(source)
    records = read_records(src / "calls" if (src / "calls").is_dir() else src)
    tools: dict[tuple[str, str], ToolSpec] = {}
    tools_file = src / "tools.jsonl" if src.is_dir() else None
    if tools_file and tools_file.exists():
        for line in tools_file.read_text().splitlines():
            if line.strip():
                t = ToolSpec.model_validate_json(line)
                tools[t.key] = t
    else:  # no specs shipped: expose the recorded tools with permissive schemas
        for r in records:
            tools.setdefault((r.server, r.tool), ToolSpec(server=r.server, name=r.tool))
    meta = src / "meta.json" if src.is_dir() else None
    stateful = set(json.loads(meta.read_text())["stateful_servers"]) if meta and meta.exists() else \
        {r.server for r in records if r.history_key}
    return Simulator(CallIndex(records), tools=tools, tiers=tiers, fuzzy_threshold=fuzzy_threshold,
                     stateful_servers=stateful)


def build_server(sim: Simulator, name: str = "firefly-simulator") -> Server:
    """An MCP low-level server whose tools are the simulator's tools."""
    by_name = {exposed_name(t.server, t.name): t for t in sim.tools.values()}
    episode = sim.episode()

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult.model_validate({"tools": [
            {"name": n, "description": t.description or t.name, "inputSchema": t.input_schema}
            for n, t in sorted(by_name.items())]})

    async def call_tool(ctx: Any, params: Any) -> types.CallToolResult:
        spec = by_name.get(params.name)
        if spec is None:
            return types.CallToolResult.model_validate(
                {"content": [{"type": "text", "text": f"Unknown tool: {params.name}"}], "isError": True})
        ans = await episode.acall(spec.server, spec.name, params.arguments or {})
        result = {"content": ans.result.get("content", []), "isError": ans.is_error,
                  "_meta": {**(ans.result.get("_meta") or {}), "firefly/provenance": ans.provenance}}
        if ans.result.get("structuredContent") is not None:
            result["structuredContent"] = ans.result["structuredContent"]
        return types.CallToolResult.model_validate(result)

    return Server(name, on_list_tools=list_tools, on_call_tool=call_tool)


def serve_stdio(sim: Simulator) -> None:
    """Run the simulator MCP server on stdin/stdout until the client disconnects."""
    server = build_server(sim)

    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(main)
