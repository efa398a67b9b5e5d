"""One live MCP server over stdio, driven through the official ``mcp`` SDK.

The connection is owned by a background task (the SDK's context managers must be entered
and left in one task); callers use :meth:`ServerConnection.list_tools` and
:meth:`ServerConnection.call_tool` from any task. Requests go through the SDK session's
JSON-RPC dispatcher *without* the SDK's strict result models: real servers publish schemas
without ``"type"``, or results that do not match their own ``outputSchema``, and the
product must still work with them (the raw dict is normalised here instead).
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import get_default_environment, stdio_client

from firefly_eval.mcp.config import expand, firefly_home, redact, redact_value, secret_values
from firefly_eval.mcp.launch import wrap
from firefly_eval.schema import ServerSpec, ToolSpec

__all__ = [
    "DEFAULT_MAX_OUTPUT_CHARS",
    "ServerConnection",
    "ServerError",
    "ServerStartError",
    "ToolCallTimeout",
    "normalize_input_schema",
    "resolve_command",
]

DEFAULT_MAX_OUTPUT_CHARS = 20_000


class _NonJsonStdoutFilter(logging.Filter):
    """Real servers print banners ("Loading configuration...") on stdout; the SDK logs a full
    traceback for each such line. They are tolerated here: counted, not printed."""

    dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Failed to parse JSONRPC message"):
            _NonJsonStdoutFilter.dropped += 1
            return False
        return True


logging.getLogger("mcp.client.stdio").addFilter(_NonJsonStdoutFilter())

# the SDK does not hand out the server process; its exit code is what says why a server did not start.
# Each connection's runner task sets its own list; the spawn below appends the process it made.
_SPAWNED: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("firefly_spawned", default=None)


def _record_spawns() -> None:
    import mcp.client.stdio as sdk_stdio

    orig = getattr(sdk_stdio, "_create_platform_compatible_process", None)
    if orig is None or getattr(orig, "_firefly", False):
        return

    async def spawn(*args: Any, **kwargs: Any) -> Any:
        proc = await orig(*args, **kwargs)
        box = _SPAWNED.get()
        if box is not None:
            box.append(proc)
        return proc

    spawn._firefly = True  # type: ignore[attr-defined]
    sdk_stdio._create_platform_compatible_process = spawn


_record_spawns()


def _leaf(exc: BaseException) -> BaseException:
    """The first real exception inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


class ServerError(RuntimeError):
    """An infrastructure failure of a server (crash, closed pipe, protocol garbage)."""


class ServerStartError(ServerError):
    """The server did not start or did not finish the MCP handshake."""


class ToolCallTimeout(ServerError):
    """The server did not answer a tool call in time (the server is restarted)."""


def _npm_bin(prefix: Path, package: str) -> str | None:
    pkg_json = prefix / "node_modules" / package / "package.json"
    try:
        data = json.loads(pkg_json.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    bins = data.get("bin")
    if isinstance(bins, str):
        name = package.split("/")[-1]
    elif isinstance(bins, dict) and bins:
        name = next(iter(bins))
    else:
        return None
    path = prefix / "node_modules" / ".bin" / name
    return str(path) if path.exists() else None


def resolve_command(spec: ServerSpec, fleet_dir: Path | None = None) -> tuple[str, list[str]]:
    """Map the standard ``uvx --from PKG==V BIN`` / ``npx -y PKG@V`` entry to the local install.

    When the server was installed by ``firefly fleet install``, its isolated environment is
    used directly (fast, offline); otherwise the entry runs as written.
    """
    fleet_dir = fleet_dir or firefly_home() / "fleet"
    args = list(spec.args)
    env_dir = fleet_dir / spec.name
    if spec.command == "uvx" and "--from" in args:
        i = args.index("--from")
        rest = args[i + 2 :]
        if rest:
            local = env_dir / "bin" / rest[0]
            if local.exists():
                return str(local), rest[1:]
    if spec.command == "npx" and spec.package:
        rest = [a for a in args if a not in ("-y", "--yes")]
        rest = [a for a in rest if not a.startswith(spec.package)]
        local_bin = _npm_bin(env_dir, spec.package)
        if local_bin:
            return local_bin, rest
    return spec.command, args


def normalize_input_schema(schema: Any) -> dict[str, Any]:
    """Lenient view of a tool's inputSchema: always an object schema with ``properties``."""
    if not isinstance(schema, dict):
        return {"type": "object", "properties": {}}
    schema = dict(schema)
    schema.setdefault("type", "object")
    if not isinstance(schema.get("properties"), dict):
        schema["properties"] = {}
    return schema


def _cap_result(result: dict[str, Any], max_chars: int) -> dict[str, Any]:
    """Truncate oversize text/binary blocks and mark the result as truncated."""
    truncated = False
    blocks = []
    budget = max_chars
    for block in result.get("content") or []:
        if not isinstance(block, dict):
            continue
        block = dict(block)
        if block.get("type") == "text":
            text = str(block.get("text", ""))
            if len(text) > budget:
                block["text"] = text[: max(budget, 0)] + f"\n[truncated {len(text) - max(budget, 0)} chars]"
                truncated = True
            budget -= len(text)
        elif "data" in block and isinstance(block["data"], str) and len(block["data"]) > max_chars:
            block["data"] = ""
            block["firefly_omitted_bytes"] = len(base64.b64decode(block.get("data") or "", validate=False))
            truncated = True
        blocks.append(block)
    out: dict[str, Any] = {"content": blocks, "isError": bool(result.get("isError", False))}
    sc = result.get("structuredContent")
    if sc is not None:
        if len(json.dumps(sc, default=str)) > max_chars:
            truncated = True
        else:
            out["structuredContent"] = sc
    if truncated:
        out["_meta"] = {"firefly/truncated": True}
    return out


class _RedactingStderr:
    """The server's stderr: a pipe whose lines are redacted before they reach the log file.

    The raw text never touches the disk. The file lives in the sandbox root (``<root>/.stderr/``,
    removed with the root) or, without a sandbox, in a private temp folder removed on close.
    """

    def __init__(self, path: Path, secrets: dict[str, str]) -> None:
        self.path = path
        self.secrets = secrets
        self._pending = ""
        self._lock = threading.Lock()
        rfd, wfd = os.pipe()
        self.writer = os.fdopen(wfd, "w")  # given to the server process as its stderr
        self._thread = threading.Thread(target=self._pump, args=(rfd,), daemon=True)
        self._thread.start()

    def _pump(self, rfd: int) -> None:
        hold = max((len(v) for v in self.secrets.values()), default=0)
        with os.fdopen(rfd, "rb") as src, open(self.path, "a", encoding="utf-8") as dst:
            while chunk := src.read1(65536):
                with self._lock:
                    buf = self._pending + chunk.decode("utf-8", errors="replace")
                    cut = buf.rfind("\n") + 1  # whole lines; a long unfinished one keeps only its tail back
                    if not cut and len(buf) > 65536:
                        cut = len(buf) - hold
                    done, self._pending = buf[:cut], buf[cut:]
                    if done:
                        dst.write(redact(done, self.secrets))
                        dst.flush()
            with self._lock:
                dst.write(redact(self._pending, self.secrets))
                self._pending = ""

    def tail(self, n: int) -> str:
        """The last ``n`` characters written so far (the unfinished line included), redacted."""
        text = self.path.read_text(errors="replace") if self.path.exists() else ""
        with self._lock:
            text += redact(self._pending, self.secrets)
        return text[-n:]

    def close(self) -> None:
        """Close the parent's copy of the pipe; the pump ends once the server's copy is closed too."""
        try:
            self.writer.close()
        except OSError:
            pass

    def drain(self, timeout: float) -> None:
        """Wait (briefly) until the pump has written what a finished server left in the pipe."""
        self._thread.join(timeout)


class ServerConnection:
    """A live stdio MCP server with timeouts, bounded concurrency and restart on crash."""

    def __init__(
        self,
        spec: ServerSpec,
        *,
        sandbox: Path | None = None,
        fleet_dir: Path | None = None,
        call_timeout: float = 30.0,
        start_timeout: float = 60.0,
        max_concurrency: int = 4,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
        cwd: Path | None = None,
    ) -> None:
        self.spec = spec
        self.sandbox = sandbox
        self.cwd = cwd  # the working directory (a copy of the entry's cwd); None: the entry's cwd or the sandbox
        self._proc: Any = None
        self.fleet_dir = fleet_dir
        self.call_timeout = call_timeout
        self.start_timeout = start_timeout
        self.max_output_chars = max_output_chars
        self._sem = asyncio.Semaphore(max_concurrency)
        self._session: ClientSession | None = None
        self._runner: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._start_error: BaseException | None = None
        self._lock = asyncio.Lock()
        self._secrets: dict[str, str] = {}
        self._errlog_path: Path | None = None
        self._errlog_dir: Path | None = None  # a private temp folder (no sandbox), removed on close
        self._stderr: _RedactingStderr | None = None
        self.server_version = ""
        self.start_seconds = 0.0
        self.restarts = 0

    # ---- lifecycle -------------------------------------------------------------------
    def _params(self) -> StdioServerParameters:
        variables = {"SANDBOX": str(self.sandbox) if self.sandbox else tempfile.gettempdir()}
        command, args = resolve_command(self.spec, self.fleet_dir)
        args = [expand(a, variables) for a in args]
        env = {key: expand(value, variables) for key, value in self.spec.env.items()}
        self._secrets = secret_values(self.spec)
        if self.sandbox is not None:
            # servers that write under ~ or cwd stay inside the sandbox
            # confine what servers write under ~ or the temp dir (math-mcp's cleanup_resources,
            # for one, empties the default temp dir) to the server's own sandbox
            home, tmp = self.sandbox / ".home", self.sandbox / ".tmp"
            home.mkdir(parents=True, exist_ok=True)
            tmp.mkdir(parents=True, exist_ok=True)
            env.setdefault("HOME", str(home))
            for key in ("TMPDIR", "TEMP", "TMP"):
                env.setdefault(key, str(tmp))
        full_env = get_default_environment() | env
        if command != "uvx" and "PATH" in os.environ:
            full_env.setdefault("PATH", os.environ["PATH"])
        if shutil.which(command, path=full_env.get("PATH")) is None and not Path(command).exists():
            raise ServerStartError(
                f"server {self.spec.name!r}: command not found: {command!r}"
                + (" (run `firefly fleet install`)" if self.spec.package else "")
            )
        if self.cwd is not None:
            cwd: str | None = str(self.cwd)
        elif self.spec.cwd:
            cwd = expand(self.spec.cwd, variables)
        else:
            cwd = str(self.sandbox) if self.sandbox else None
        if cwd is not None and not Path(cwd).is_dir():
            raise ServerStartError(f"server {self.spec.name!r}: cwd is not a directory: {cwd}")
        # resolved now: the launcher's exec looks the command up in the server's PATH
        resolved = shutil.which(command, path=full_env.get("PATH")) or command
        command, args = wrap(resolved, list(args), os.getpid())
        return StdioServerParameters(command=command, args=args, env=full_env, cwd=cwd,
                                     encoding_error_handler="replace")

    def stderr_tail(self, n: int = 1500) -> str:
        """Last characters the server wrote to stderr, with secrets redacted."""
        if self._stderr is not None:
            if not self.alive:
                self._stderr.drain(0.5)
            return redact(self._stderr.tail(n), self._secrets)
        if not self._errlog_path or not self._errlog_path.exists():
            return ""
        return redact(self._errlog_path.read_text(errors="replace")[-n:], self._secrets)

    def _errlog_file(self) -> Path:
        """One stderr file per connection (restarts append): in ``<sandbox root>/.stderr/``."""
        if self._errlog_path is None:
            if self.sandbox is not None:
                folder = self.sandbox.parent / ".stderr"
                folder.mkdir(parents=True, exist_ok=True)
            else:
                folder = self._errlog_dir = Path(tempfile.mkdtemp(prefix="firefly-stderr-"))
            self._errlog_path = folder / f"{self.spec.name}-{os.getpid()}-{id(self):x}.stderr"
        return self._errlog_path

    async def _run(self, params: StdioServerParameters) -> None:
        self._stderr = _RedactingStderr(self._errlog_file(), self._secrets)
        spawned: list[Any] = []
        _SPAWNED.set(spawned)  # this task's own context
        try:
            with self._stderr.writer as errlog:
                async with stdio_client(params, errlog=errlog) as (read, write):
                    self._proc = spawned[-1] if spawned else None
                    async with ClientSession(read, write) as session:
                        init = await session.initialize()
                        info = getattr(init, "server_info", None) or getattr(init, "serverInfo", None)
                        self.server_version = str(getattr(info, "version", "") or "")
                        self._session = session
                        self._ready.set()
                        await self._stop.wait()
        except BaseException as exc:  # noqa: BLE001 - reported to the waiting caller
            self._start_error = exc
        finally:
            self._session = None
            self._stderr.close()
            self._ready.set()

    async def start(self) -> None:
        """Start the process and finish the MCP handshake, or raise ServerStartError."""
        async with self._lock:
            if self._session is not None:
                return
            params = self._params()
            self._stop = asyncio.Event()
            self._ready = asyncio.Event()
            self._start_error = None
            t0 = time.perf_counter()
            self._runner = asyncio.create_task(self._run(params))
            try:
                await asyncio.wait_for(self._ready.wait(), self.start_timeout)
            except asyncio.TimeoutError:
                await self._kill()
                raise ServerStartError(
                    f"server {self.spec.name!r} did not answer the handshake in {self.start_timeout:.0f}s;"
                    f" stderr tail:\n{self.stderr_tail()}"
                ) from None
            if self._session is None:
                raise ServerStartError(self._start_failure())
            self.start_seconds = time.perf_counter() - t0

    def _start_failure(self) -> str:
        """Why the server did not start: its exit code (or the exception) and the first stderr lines."""
        code = getattr(self._proc, "returncode", None)
        err = _leaf(self._start_error) if self._start_error else None
        if isinstance(err, OSError) and code is None:
            what = f"could not be launched ({redact(str(err), self._secrets)})"
        elif code is not None:
            what = f"exited with code {code} before the MCP handshake"
        else:
            what = f"failed the MCP handshake ({redact(f'{type(err).__name__}: {err}', self._secrets)})" if err \
                else "exited before the MCP handshake"
        lines = [ln.rstrip() for ln in self.stderr_tail(4000).splitlines() if ln.strip()]
        if not lines:
            return f"server {self.spec.name!r} {what}; it wrote nothing to stderr"
        shown = lines[:5]
        if len(lines) > len(shown):  # a traceback's first lines hide its last: the exception itself
            shown += ["...", lines[-1]]
        return f"server {self.spec.name!r} {what}; stderr: " + " | ".join(ln[:200] for ln in shown)

    async def _kill(self) -> None:
        self._stop.set()
        if self._runner is not None:
            self._runner.cancel()
            try:
                await asyncio.wait_for(asyncio.shield(self._runner), 10)
            except (asyncio.CancelledError, asyncio.TimeoutError, Exception):  # noqa: BLE001
                pass
        self._session = None
        self._runner = None

    async def kill(self) -> None:
        """Stop the server process at once: SIGKILL to its process group (the SDK starts it in a session of
        its own, so a Node or uv wrapper's children go too), then the transport's teardown, which finds the
        process gone instead of waiting out the SDK's grace period (2 s after stdin closes, 2 s after
        SIGTERM). For a process whose state is discarded anyway (an episode reset); the stderr log stays
        (a restart appends to it)."""
        proc = self._proc
        pid = getattr(proc, "pid", None)
        if pid is not None and getattr(proc, "returncode", None) is None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        await self._stop_runner()
        self._proc = None

    async def _stop_runner(self) -> None:
        """Ask the connection task to end (up to 5 s, then kill) and forget the session."""
        self._stop.set()
        if self._runner is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._runner), 5)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001
                await self._kill()
        self._session = None
        self._runner = None

    async def close(self) -> None:
        """Stop the server process."""
        await self._stop_runner()
        if self._errlog_path is not None:
            self._errlog_path.unlink(missing_ok=True)
            try:
                self._errlog_path.parent.rmdir()  # the sandbox root's .stderr/, once its last file is gone
            except OSError:
                pass
            self._errlog_path = None
        if self._errlog_dir is not None:
            shutil.rmtree(self._errlog_dir, ignore_errors=True)
            self._errlog_dir = None

    async def restart(self) -> None:
        """Kill and start again (used after a crash or a hung call)."""
        await self._kill()
        self.restarts += 1
        await self.start()

    @property
    def alive(self) -> bool:
        return self._session is not None and self._runner is not None and not self._runner.done()

    async def __aenter__(self) -> ServerConnection:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- requests --------------------------------------------------------------------
    async def _request(self, method: str, params: dict[str, Any] | None, timeout: float) -> dict[str, Any]:
        if not self.alive:
            await self.start()
        assert self._session is not None
        dispatcher = self._session._dispatcher  # raw JSON-RPC: see module docstring
        async with self._sem:
            try:
                return await asyncio.wait_for(dispatcher.send_raw_request(method, params, {}), timeout)
            except asyncio.TimeoutError:
                await self._kill()
                raise ToolCallTimeout(
                    f"server {self.spec.name!r}: {method} timed out after {timeout:.0f}s (server restarted)"
                ) from None
            except Exception as exc:
                if not self.alive or "closed" in str(exc).lower():
                    tail = self.stderr_tail(600)
                    await self._kill()
                    raise ServerError(
                        f"server {self.spec.name!r} crashed during {method}: "
                        f"{redact(str(exc), self._secrets)}; stderr tail:\n{tail}"
                    ) from None
                raise

    async def list_tools(self) -> list[ToolSpec]:
        """All tools of the server (following pagination), schemas normalised leniently."""
        tools: list[ToolSpec] = []
        cursor = None
        for _ in range(100):
            raw = await self._request("tools/list", {"cursor": cursor} if cursor else None, self.start_timeout)
            for t in raw.get("tools", []):
                if not isinstance(t, dict) or not t.get("name"):
                    continue
                out_schema = t.get("outputSchema")
                tools.append(
                    ToolSpec(
                        server=self.spec.name,
                        name=str(t["name"]),
                        description=redact(str(t.get("description") or ""), self._secrets),
                        input_schema=normalize_input_schema(t.get("inputSchema")),
                        output_schema=out_schema if isinstance(out_schema, dict) else None,
                        annotations=t.get("annotations") if isinstance(t.get("annotations"), dict) else None,
                    )
                )
            cursor = raw.get("nextCursor")
            if not cursor:
                break
        return tools

    async def call_tool(self, name: str, arguments: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        """Call a tool; returns the MCP result as a dict (``content``, ``isError``, ...).

        Protocol-level errors (unknown tool, invalid params) come back as ``isError`` results,
        like a model would see them; infrastructure failures raise :class:`ServerError`.
        """
        from mcp.shared.exceptions import MCPError

        try:
            raw = await self._request("tools/call", {"name": name, "arguments": arguments},
                                      timeout or self.call_timeout)
        except MCPError as exc:
            return {"content": [{"type": "text", "text": f"MCP error: {redact(str(exc), self._secrets)}"}],
                    "isError": True}
        # redacted before anything records it (and before truncation could cut a secret in half)
        return _cap_result(redact_value(raw, self._secrets), self.max_output_chars)
