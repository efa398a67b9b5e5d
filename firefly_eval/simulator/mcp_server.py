"""The simulator as an MCP stdio server: ``firefly simulate --calls DATASET``.

Any MCP client (Claude Desktop, Cursor, Inspect's ``mcp_server_stdio``, the ``mcp`` SDK) can
connect and see the recorded tools under ``server__tool`` names with their real descriptions
and schemas; calls are answered by the simulator, with provenance in the result's ``_meta``.
One process is one episode (stateful replay follows the calls made on this connection).

Malformed input (a line that is not JSON, a batch, a message without ``jsonrpc``, array params,
nesting too deep to parse) is answered with a JSON-RPC error (parse error ``-32700``, invalid
request ``-32600``, invalid params ``-32602``) and the server keeps serving; the SDK alone answers
nothing, so a client would wait for its own timeout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage

from firefly_eval.agent_tools import exposed_name
from firefly_eval.schema import ToolSpec
from firefly_eval.simulator.simulator import Simulator

__all__ = ["build_server", "jsonrpc_error_for", "load_simulator", "serve_stdio"]

PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS = -32700, -32600, -32602


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


def jsonrpc_error_for(exc: Exception) -> types.JSONRPCError:
    """The JSON-RPC error answering a message the transport could not decode (``exc`` is its error).

    The request id is recovered when the message parsed as a JSON object with a string or integer id;
    otherwise it is ``null``, as JSON-RPC 2.0 prescribes.
    """
    errors = exc.errors() if callable(getattr(exc, "errors", None)) else []
    if not errors or any(e.get("type") == "json_invalid" for e in errors):
        detail = errors[0].get("msg", "") if errors else str(exc)
        return _error(None, PARSE_ERROR, f"Parse error: {detail}"[:200])
    inputs = [e.get("input") for e in errors]
    # errors located at a union member itself (loc of length 1) carry the whole message as input
    if any(isinstance(e.get("input"), list) and len(e.get("loc") or ()) <= 1 for e in errors):
        return _error(None, INVALID_REQUEST, "Invalid Request: batches are not supported, send one message per line")
    msg = next((x for x in inputs if isinstance(x, dict)), None)
    if msg is None:
        return _error(None, INVALID_REQUEST, "Invalid Request: a JSON-RPC message must be an object")
    rid = msg.get("id")
    rid = rid if isinstance(rid, (str, int)) and not isinstance(rid, bool) else None
    if msg.get("jsonrpc") != "2.0":
        return _error(rid, INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"')
    if not isinstance(msg.get("method"), str):
        return _error(rid, INVALID_REQUEST, 'Invalid Request: "method" must be a string')
    if "params" in msg and not isinstance(msg["params"], dict):
        return _error(rid, INVALID_PARAMS, "Invalid params: params must be an object")
    return _error(rid, INVALID_REQUEST, "Invalid Request")


def _error(rid: str | int | None, code: int, message: str) -> types.JSONRPCError:
    return types.JSONRPCError(jsonrpc="2.0", id=rid, error=types.ErrorData(code=code, message=message))


class _AnsweringReadStream:
    """The transport's read stream, minus undecodable messages: each is answered with a JSON-RPC error
    on the write stream (the SDK's server would only log it). Duck-types the SDK's context stream."""

    def __init__(self, inner: Any, write: Any) -> None:
        self._inner = inner
        self._write = write

    @property
    def last_context(self) -> Any:
        return self._inner.last_context

    async def receive(self) -> Any:
        while True:
            item = await self._inner.receive()
            if not isinstance(item, Exception):
                return item
            await self._write.send(SessionMessage(jsonrpc_error_for(item)))

    def __aiter__(self) -> _AnsweringReadStream:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    def close(self) -> None:
        self._inner.close()

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> _AnsweringReadStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def serve_stdio(sim: Simulator) -> None:
    """Run the simulator MCP server on stdin/stdout until the client disconnects."""
    server = build_server(sim)

    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(_AnsweringReadStream(read, write), write, server.create_initialization_options())

    anyio.run(main)
