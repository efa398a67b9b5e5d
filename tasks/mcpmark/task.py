"""``inspect eval firefly_eval/mcpmark -T tasks_dir=<mcpmark> -T category=filesystem -T initial_state=<dir|zip>``."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

from inspect_ai import Epochs, Task, task
from inspect_ai.agent import as_solver, react
from inspect_ai.scorer import CORRECT, INCORRECT, Score, Scorer, Target, accuracy, scorer, stderr
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.tool import mcp_server_stdio, mcp_tools

from firefly_eval.tasks.mcpmark.dataset import load_tasks, resolve_initial_state

__all__ = ["mcpmark"]

SYSTEM = ("You operate on files through the filesystem tools. The task's files are in the directory {root}. "
          "Complete the task, then call submit.")


def _filesystem_server_command() -> list[str]:
    """The fleet's pinned @modelcontextprotocol/server-filesystem (installed by `firefly fleet install`)."""
    from firefly_eval.mcp.client import resolve_command
    from firefly_eval.mcp.config import load_fleet

    spec = next(s for s in load_fleet() if s.name == "filesystem")
    command, args = resolve_command(spec)
    if command == "npx":
        raise RuntimeError("filesystem MCP server not installed: run `firefly fleet install --only filesystem`")
    return [command]


@solver
def sandboxed_filesystem_agent(initial_state: Path, max_messages: int) -> Solver:
    """Fresh copy of the category's starting files per sample, a real filesystem MCP server on it, react()."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        category = state.metadata["category"]
        src = initial_state / category if (initial_state / category).is_dir() else initial_state
        root = Path(tempfile.mkdtemp(prefix=f"mcpmark-{category}-"))
        shutil.copytree(src, root, dirs_exist_ok=True)
        state.metadata["sandbox"] = str(root)
        server = mcp_server_stdio(name="filesystem", command=_filesystem_server_command()[0], args=[str(root)],
                                  cwd=root)
        agent = react(prompt=SYSTEM.format(root=root), tools=[mcp_tools(server)])
        return await as_solver(agent)(state, generate)

    return solve


_PG_LOCK = asyncio.Lock()


async def _run_script(script: Path, env: dict[str, str], timeout: int) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, str(script), cwd=script.parent,
                                                env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        raise RuntimeError(f"{script.name} of {script.parent.name} timed out after {timeout}s") from None
    assert proc.returncode is not None  # set once communicate() returned
    return proc.returncode, out.decode(errors="replace")[-1500:]


@solver
def postgres_agent(timeout: int = 120) -> Solver:
    """Fresh database per sample on a real local PostgreSQL, the task's preparation script, the
    dbhub MCP server on it, react(), then verify.py, all under one lock (tasks may create roles)."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        from firefly_eval.mcp.client import resolve_command
        from firefly_eval.mcp.config import load_fleet
        from firefly_eval.tasks.mcpmark.postgres import shared_postgres

        task_dir = Path(state.metadata["task_dir"])
        async with _PG_LOCK:
            pg = shared_postgres()
            db = pg.fresh_database(f"s_{abs(hash((state.sample_id, state.epoch))) % 10**10}")
            prep = next((task_dir / n for n in ("prepare_environment.py", "setup.py") if (task_dir / n).exists()), None)
            if prep is not None:
                code, out = await _run_script(prep, pg.env(db), timeout)
                if code != 0:
                    raise RuntimeError(f"{prep.name} failed (exit {code}): {out}")
            spec = next(s for s in load_fleet() if s.name == "dbhub")
            command, _ = resolve_command(spec)
            server = mcp_server_stdio(name="postgres", command=command,
                                      args=["--transport", "stdio", "--dsn", pg.dsn(db)])
            agent = react(prompt=f"You work on the PostgreSQL database {db!r} through the SQL tools. Complete the "
                                 "task, then call submit.", tools=[mcp_tools(server)])
            state = await as_solver(agent)(state, generate)
            code, out = await _run_script(task_dir / "verify.py", pg.env(db), timeout)
            state.metadata["verify"] = {"exit": code, "output": out}
        return state

    return solve


@scorer(metrics=[accuracy(), stderr()])
def verify_result() -> Scorer:
    """The verify.py verdict the solver recorded (exit 0 = pass)."""

    async def score(state: TaskState, target: Target) -> Score:
        v = state.metadata.get("verify")
        if v is None:
            raise RuntimeError("verify.py did not run for this sample")
        return Score(value=CORRECT if v["exit"] == 0 else INCORRECT, explanation=f"verify.py exit {v['exit']}\n{v['output']}")

    return score


@scorer(metrics=[accuracy(), stderr()])
def verify_script(timeout: int = 120) -> Scorer:
    """Run the task's verify.py against the sample's sandbox (FILESYSTEM_TEST_DIR); exit 0 = pass."""

    async def score(state: TaskState, target: Target) -> Score:
        task_dir = Path(state.metadata["task_dir"])
        sandbox = state.metadata.get("sandbox")
        if not sandbox:
            raise RuntimeError("no sandbox recorded for this sample: the solver did not run")
        code, text = await _run_script(task_dir / "verify.py", {"FILESYSTEM_TEST_DIR": sandbox}, timeout)
        shutil.rmtree(sandbox, ignore_errors=True)
        return Score(value=CORRECT if code == 0 else INCORRECT, explanation=f"verify.py exit {code}\n{text}")

    return score


@task
def mcpmark(tasks_dir: str, category: str = "filesystem", initial_state: str | None = None,
            categories: str | None = None, epochs: int = 4, max_messages: int = 60) -> Task:
    """MCPMark tasks of one service (``category``: filesystem or postgres).

    Args:
        tasks_dir: a checkout of MCPMark (with ``tasks/<service>/...``).
        category: the MCP service: ``filesystem`` (real filesystem server on a copy of ``initial_state``) or
            ``postgres`` (a local PostgreSQL, a fresh database per sample, the dbhub MCP server).
        initial_state: folder or .zip with the starting files, one sub-folder per task category.
        categories: comma-separated task categories to keep (default: all).
        epochs: runs per task (MCPMark reports pass@1 as the mean of 4 runs, pass@4 and pass^4).
        max_messages: message limit per sample.
    """
    if category not in ("filesystem", "postgres"):
        raise ValueError(f"category must be 'filesystem' or 'postgres', got {category!r}")
    reducers = ["mean"] + ([f"pass_at_{epochs}", f"pass_k_{epochs}"] if epochs > 1 else [])
    if category == "postgres":
        dataset = load_tasks(tasks_dir, category, categories.split(",") if categories else None)
        return Task(dataset=dataset, solver=postgres_agent(), scorer=verify_result(),
                    epochs=Epochs(epochs, reducers) if epochs > 1 else None, message_limit=max_messages,
                    version="1.0.0", metadata={"benchmark": "mcpmark", "service": category})
    if not initial_state:
        raise ValueError("initial_state is required: the folder or .zip of MCPMark's filesystem starting files")
    state_dir = resolve_initial_state(initial_state, Path(tempfile.gettempdir()) / "firefly-mcpmark")
    dataset = load_tasks(tasks_dir, category, categories.split(",") if categories else None)
    return Task(dataset=dataset, solver=sandboxed_filesystem_agent(state_dir, max_messages),
                scorer=verify_script(), epochs=Epochs(epochs, reducers) if epochs > 1 else None,
                message_limit=max_messages, version="1.0.0",
                metadata={"benchmark": "mcpmark", "service": category})
