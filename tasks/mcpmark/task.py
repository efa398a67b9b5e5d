"""``inspect eval firefly_eval/mcpmark -T tasks_dir=<mcpmark checkout> -T service=filesystem -T suite=easy
-T initial_state=<test_environments>``.

Runs as upstream's MCPMarkAgent runs (src/agents/mcpmark_agent.py, commit 89d7967): its system prompt,
description.md plus the service's note as the user message, the model calls the service's MCP tools
until it answers without a tool call (no submit tool), then ``verify.py`` decides (exit 0 = pass,
300 s timeout), also when the message limit stopped the agent.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Literal

import yaml
from inspect_ai import Epochs, Task, task
from inspect_ai.model import ChatMessageSystem
from inspect_ai.scorer import CORRECT, INCORRECT, Score, Scorer, Target, accuracy, scorer, stderr
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.tool import MCPServer, mcp_server_stdio
from inspect_ai.util import LimitExceededError

from firefly_eval.tasks.mcpmark.dataset import SUITES, load_tasks, resolve_initial_state

__all__ = ["SYSTEM_PROMPT", "TASK_VERSION", "VERIFY_TIMEOUT", "mcpmark"]

TASK_VERSION: str = yaml.safe_load((Path(__file__).with_name("eval.yaml")).read_text())["version"]

# MCPMarkAgent.SYSTEM_PROMPT (src/agents/mcpmark_agent.py, commit 89d7967).
SYSTEM_PROMPT = ("You are a helpful agent that uses tools iteratively to complete the user's task, "
                 'and when finished, provides the final answer or simply states "Task completed" without further '
                 "tool calls.")
VERIFY_TIMEOUT = 300  # BaseTaskManager.run_verification: subprocess.run(..., timeout=300)
SERVICES = ("filesystem", "postgres")
PG_SERVERS = ("postgres-mcp", "dbhub")


def _benchmarks_fleet() -> Path:
    from importlib import resources

    return Path(str(resources.files("firefly_eval") / "fleets" / "benchmarks.json"))


def _installed_command(name: str, fleet: Path | None = None) -> str:
    """The local binary of a fleet server installed by ``firefly fleet install`` (never ``npx``/``uvx``)."""
    from firefly_eval.mcp.client import resolve_command
    from firefly_eval.mcp.config import load_fleet

    spec = next(s for s in load_fleet(fleet) if s.name == name)
    command, _ = resolve_command(spec)
    if command in ("npx", "uvx"):
        where = f" --fleet {fleet}" if fleet else ""
        raise RuntimeError(f"MCP server {name!r} is not installed: run `firefly fleet install{where} --only {name}`")
    return command


async def _run_script(script: Path, env: dict[str, str], timeout: int = VERIFY_TIMEOUT,
                      args: list[str] | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, str(script), *(args or []), cwd=script.parent,
                                                env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        raise RuntimeError(f"{script.name} of {script.parent.name} timed out after {timeout}s") from None
    assert proc.returncode is not None  # set once communicate() returned
    return proc.returncode, out.decode(errors="replace")[-2000:]


async def _agent(state: TaskState, generate: Generate, server: MCPServer) -> TaskState:
    """Upstream's loop: system prompt, the service's tools, generate until a reply without tool calls."""
    async with server:
        state.tools = await server.tools()
        state.messages.insert(0, ChatMessageSystem(content=SYSTEM_PROMPT))
        return await generate(state, tool_calls="loop")


async def _run_then_verify(state: TaskState, generate: Generate, server: MCPServer, script: Path,
                           env: dict[str, str], args: list[str] | None = None) -> TaskState:
    """Run the agent; verify however it stopped (answer or limit); an agent crash stays an error."""
    try:
        state = await _agent(state, generate, server)
    except LimitExceededError:
        code, out = await _run_script(script, env, args=args)
        state.metadata["verify"] = {"exit": code, "output": out, "stopped_by": "limit"}
        raise
    code, out = await _run_script(script, env, args=args)
    state.metadata["verify"] = {"exit": code, "output": out}
    return state


@solver
def filesystem_agent(initial_state: Path) -> Solver:
    """A fresh copy of the category's starting files, upstream's filesystem MCP server on it (removed after)."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        category = state.metadata["category"]
        src = initial_state / category if (initial_state / category).is_dir() else initial_state
        root = Path(tempfile.mkdtemp(prefix=f"mcpmark-{category}-"))
        try:
            shutil.copytree(src, root, dirs_exist_ok=True)
            server = mcp_server_stdio(name="filesystem", command=_installed_command("filesystem"), args=[str(root)],
                                      cwd=root)
            return await _run_then_verify(state, generate, server, Path(state.metadata["task_dir"]) / "verify.py",
                                          {"FILESYSTEM_TEST_DIR": str(root)})
        finally:
            shutil.rmtree(root, ignore_errors=True)

    return solve


_PG_LOCK = asyncio.Lock()


@solver
def postgres_agent(pg_server: str = "postgres-mcp", postgres_state: str | None = None) -> Solver:
    """A database per run on a local PostgreSQL, as upstream: cloned from the category's template or
    empty plus prepare_environment.py; the MCP server on it; verify.py with the database name; then the
    database and the roles the run created are dropped. Runs are serialised (tasks create roles)."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        from firefly_eval.tasks.mcpmark.postgres import shared_postgres

        task_dir = Path(state.metadata["task_dir"])
        async with _PG_LOCK:
            pg = shared_postgres()
            if postgres_state:
                pg.restore_templates(Path(postgres_state))
            db, templated = pg.task_database(state.metadata["category"], task_dir.name)
            state.metadata["database"] = db
            try:
                prep = task_dir / "prepare_environment.py"
                if not templated and prep.exists():
                    code, out = await _run_script(prep, pg.env(db))
                    if code != 0:
                        raise RuntimeError(f"{prep.name} failed (exit {code}): {out}")
                if pg_server == "dbhub":
                    server = mcp_server_stdio(name="postgres", command=_installed_command("dbhub"),
                                              args=["--transport", "stdio", "--dsn", pg.dsn(db)])
                else:
                    server = mcp_server_stdio(name="postgres",
                                              command=_installed_command("postgres-mcp", _benchmarks_fleet()),
                                              args=["--access-mode=unrestricted"],
                                              env={"DATABASE_URI": pg.env(db)["DATABASE_URL"]})
                return await _run_then_verify(state, generate, server, task_dir / "verify.py", pg.env(db), [db])
            finally:
                pg.reset(db)

    return solve


@scorer(metrics=[accuracy(), stderr()])
def verify_result() -> Scorer:
    """The verify.py verdict recorded after the agent (exit 0 = pass)."""

    async def score(state: TaskState, target: Target) -> Score:
        v = state.metadata.get("verify")
        if v is None:
            raise RuntimeError("verify.py did not run for this sample (the agent or its set-up failed)")
        return Score(value=CORRECT if v["exit"] == 0 else INCORRECT,
                     explanation=f"verify.py exit {v['exit']}\n{v['output']}",
                     metadata={k: v[k] for k in ("exit", "stopped_by") if k in v})

    return score


@task
def mcpmark(tasks_dir: str, service: Literal["filesystem", "postgres"] = "filesystem",
            suite: Literal["standard", "easy"] = "standard", tasks: str = "all", initial_state: str | None = None,
            pg_server: Literal["postgres-mcp", "dbhub"] = "postgres-mcp", postgres_state: str | None = None,
            epochs: int = 1, max_messages: int = 200) -> Task:
    """MCPMark tasks of one service and suite, from an upstream checkout.

    Args:
        tasks_dir: a checkout of eval-sys/mcpmark (with ``tasks/<service>/<suite>/<category>/<task>/``).
        service: ``filesystem`` (upstream's filesystem MCP server on a copy of ``initial_state``) or
            ``postgres`` (a local PostgreSQL, a database per run, ``pg_server`` on it).
        suite: ``standard`` (upstream's default) or ``easy``.
        tasks: upstream's filter: ``all``, a category, ``category/task``, or a substring; comma-separated.
        initial_state: filesystem only: upstream's ``test_environments/`` (one folder per category), or a .zip.
        pg_server: ``postgres-mcp`` (upstream's, ``--access-mode=unrestricted``) or ``dbhub``.
        postgres_state: folder of upstream's ``<category>.backup`` files (restored once as template databases).
        epochs: runs per task; above 1 adds pass@k and pass^k for k = epochs (MCPMark reports 4 runs).
        max_messages: message limit per run (upstream stops at 100 turns).
    """
    if service not in SERVICES:
        raise ValueError(f"service must be one of {SERVICES}, got {service!r}")
    if suite not in SUITES:
        raise ValueError(f"suite must be one of {SUITES}, got {suite!r}")
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    dataset = load_tasks(tasks_dir, service, suite, tasks)
    if service == "postgres":
        if pg_server not in PG_SERVERS:
            raise ValueError(f"pg_server must be one of {PG_SERVERS}, got {pg_server!r}")
        if pg_server == "dbhub":
            _installed_command("dbhub")  # fail before any sample when the server is missing
        else:
            _installed_command("postgres-mcp", _benchmarks_fleet())
        solver_ = postgres_agent(pg_server, postgres_state)
    else:
        if not initial_state:
            raise ValueError("initial_state is required for filesystem: upstream's test_environments/ folder or .zip")
        solver_ = filesystem_agent(resolve_initial_state(initial_state, Path(tempfile.gettempdir()) / "firefly-mcpmark"))
    reducers = ["mean"] + ([f"pass_at_{epochs}", f"pass_k_{epochs}"] if epochs > 1 else [])
    return Task(dataset=dataset, solver=solver_, scorer=verify_result(), epochs=Epochs(epochs, reducers),
                message_limit=max_messages, version=TASK_VERSION,
                metadata={"benchmark": "mcpmark", "service": service, "suite": suite, "tasks": tasks,
                          "pg_server": pg_server if service == "postgres" else None})
