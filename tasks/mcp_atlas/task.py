"""``inspect eval firefly_eval/mcp_atlas -T dataset=<rows> -T data_dir=<mcp-atlas>/services/agent-environment/data
--model M --model-role grader=J``.

Runs as upstream's harness runs (scaleapi/mcp-atlas, commit 5b6220c): the row's PROMPT as the only
message, its tools named ``<server>_<tool>``, the model calls tools until it answers without one; the
answer is that last message. Files live under upstream's ``/data`` root: each sample gets a fresh copy
of ``data_dir`` (default: the seed world), and ``/data`` in tool arguments and results is mapped to
that copy. Scoring follows services/scoring/score_claims.py (see scorer.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import tempfile
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import yaml
from inspect_ai import Epochs, Task, task
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.tool import MCPServer, Tool, ToolDef, ToolResult, mcp_server_stdio

from firefly_eval.schema import ServerSpec
from firefly_eval.tasks.mcp_atlas.dataset import load_rows, rows_to_samples, trajectory_tools
from firefly_eval.tasks.mcp_atlas.scorer import claim_coverage

__all__ = ["TASK_VERSION", "atlas_servers", "mcp_atlas", "run_sync", "served_tools"]

TASK_VERSION: str = yaml.safe_load((Path(__file__).with_name("eval.yaml")).read_text())["version"]
T = TypeVar("T")

# Environment upstream gives servers that read the data root (mcp_server_template.json).
_UPSTREAM_ENV = {"memory": {"MEMORY_FILE_PATH": "${DATA}/repos/memory_mcp_server/memories-for-mcp.json"}}
_UPSTREAM_ROOT = "/data"


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, also inside a running event loop (Inspect builds tasks
    in its own loop, where ``asyncio.run`` raises): then it runs in a fresh loop on a helper thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    th = threading.Thread(target=target, name="mcp-atlas-setup")
    th.start()
    th.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def atlas_servers() -> dict[str, ServerSpec]:
    """Installed fleet servers by name: the default fleet, then the benchmark-only one (host-code servers)."""
    from importlib import resources

    from firefly_eval.mcp.config import load_fleet

    bench = Path(str(resources.files("firefly_eval") / "fleets" / "benchmarks.json"))
    return {s.name: s for s in [*load_fleet(), *load_fleet(bench)]}


def _stdio(spec: ServerSpec, data: Path) -> MCPServer | None:
    """The installed server, confined to ``data`` (cwd, HOME, its paths); None when it is not installed."""
    from firefly_eval.mcp.client import resolve_command
    from firefly_eval.mcp.config import expand

    command, args = resolve_command(spec)
    if command in ("npx", "uvx"):
        return None
    variables = {"SANDBOX": str(data), "DATA": str(data)}
    env = {k: expand(v, variables) for k, v in {**spec.env, **_UPSTREAM_ENV.get(spec.name, {})}.items()}
    return mcp_server_stdio(name=spec.name, command=command, args=[expand(a, variables) for a in args],
                            env={**env, "HOME": str(data)}, cwd=data)


def served_tools(servers: list[str], data_dir: str | None = None) -> dict[str, set[str]]:
    """Tool names each installed server lists (started once on a scratch copy of the data root)."""
    specs = atlas_servers()

    async def listing() -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for name in servers:
            if name not in specs:
                continue
            with tempfile.TemporaryDirectory(prefix="atlas-list-") as tmp:
                data = _fresh_data(Path(tmp), data_dir)
                server = _stdio(specs[name], data)
                if server is None:
                    continue
                async with server:
                    out[name] = {ToolDef(t).name for t in await server.tools()}
        return out

    return run_sync(listing())


def _fresh_data(root: Path, data_dir: str | None) -> Path:
    data = root / "data"
    if data_dir:
        shutil.copytree(data_dir, data, symlinks=True)
    else:
        from firefly_eval.world import fresh_sandbox

        fresh_sandbox(data)
    return data


def _map(value: Any, pattern: re.Pattern[str], repl: str) -> Any:
    if isinstance(value, str):
        return pattern.sub(repl, value)
    if isinstance(value, list):
        return [_map(v, pattern, repl) for v in value]
    if isinstance(value, dict):
        return {k: _map(v, pattern, repl) for k, v in value.items()}
    return value


def _rooted(tool: Tool, exposed: str, data: Path) -> Tool:
    """``tool`` exposed as ``exposed``, with upstream's /data root mapped to this sample's copy and back."""
    tdef = ToolDef(tool)
    to_local = re.compile(r"(?<![\w./-])/data(?=/|\b|$)")
    to_upstream = re.compile(re.escape(str(data)))
    inner = tdef.tool

    async def execute(**kwargs: Any) -> ToolResult:
        result = await inner(**_map(kwargs, to_local, str(data)))
        if isinstance(result, str):
            return to_upstream.sub(_UPSTREAM_ROOT, result)
        if isinstance(result, list):
            for block in result:
                if hasattr(block, "text") and isinstance(block.text, str):
                    block.text = to_upstream.sub(_UPSTREAM_ROOT, block.text)
        return result

    return ToolDef(execute, name=exposed, description=tdef.description, parameters=tdef.parameters).as_tool()


@solver
def atlas_agent(data_dir: str | None = None) -> Solver:
    """Fresh data root per sample, the row's servers on it, upstream's loop (answer = last message)."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        specs = atlas_servers()
        by_server: dict[str, list[tuple[str, str]]] = {}
        for server, tool, exposed in state.metadata["tools"]:
            by_server.setdefault(server, []).append((tool, exposed))
        root = Path(tempfile.mkdtemp(prefix="atlas-"))
        try:
            data = _fresh_data(root, data_dir)
            servers = {}
            for name in by_server:
                srv = _stdio(specs[name], data)
                if srv is None:
                    raise RuntimeError(f"MCP-Atlas server {name!r} is not installed (firefly fleet install)")
                servers[name] = srv
            async with contextlib.AsyncExitStack() as stack:
                for srv in servers.values():
                    await stack.enter_async_context(srv)
                tools = []
                for name, srv in servers.items():
                    listed = {ToolDef(t).name: t for t in await srv.tools()}
                    tools += [_rooted(listed[tool], exposed, data) for tool, exposed in by_server[name]]
                state.tools = tools
                return await generate(state, tool_calls="loop")
        finally:
            shutil.rmtree(root, ignore_errors=True)

    return solve


@task
def mcp_atlas(dataset: str = "ScaleAI/MCP-Atlas", data_dir: str | None = None, judge: str | None = None,
              epochs: int = 1, max_messages: int = 200) -> Task:
    """MCP-Atlas rows whose reference tools are served here, judged claim by claim (pass at coverage >= 0.75).

    Args:
        dataset: Hub id (default ScaleAI/MCP-Atlas) or a local .jsonl/.json/.parquet/.csv file.
        data_dir: upstream's ``services/agent-environment/data`` (the ``/data`` root tasks name); default:
            this package's seed world.
        judge: Inspect model rating claims; default: the ``grader`` role, which must then be bound.
        epochs: runs per row (mean coverage and pass rates are averaged over runs).
        max_messages: message limit per sample (upstream: 256 turns, 100 tool calls).
    """
    if data_dir is not None and not Path(data_dir).is_dir():
        raise ValueError(f"data_dir must be a folder (upstream's services/agent-environment/data), got {data_dir!r}")
    rows = load_rows(dataset)
    specs = atlas_servers()
    called = {name for row in rows for name in trajectory_tools(row.get("TRAJECTORY"))}
    served = served_tools(sorted({s for s in specs for name in called if name.startswith(s + "_")}), data_dir)
    samples, counts = rows_to_samples(rows, served, list(specs))
    if len(samples) == 0:
        raise ValueError(f"{dataset}: no row can run here ({dict(counts)}; servers serving: {sorted(served)})")
    return Task(dataset=samples, solver=atlas_agent(data_dir), scorer=claim_coverage(judge),
                epochs=Epochs(epochs, "mean"), message_limit=max_messages, version=TASK_VERSION,
                metadata={"benchmark": "mcp_atlas", **{f"rows_{k}": v for k, v in counts.items()},
                          "rows_total": len(rows), "data_dir": data_dir})
