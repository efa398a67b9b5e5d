"""``firefly fleet install``: one isolated environment per server, idempotent and concurrent.

Python servers get a venv each (``uv venv`` + ``uv pip install --compile-bytecode PKG==V
<constraints>``): bytecode is written at install time, so a server's first start does not spend
its handshake allowance compiling its dependencies. npm servers get an npm prefix each (``npm
install PKG@V``) whose ``package.json`` carries the entry's ``firefly.npm_overrides`` as npm
``overrides``: that is how a native module whose prebuilt binary would be downloaded from outside
the npm registry (``sqlite3``, ``better-sqlite3``: their install scripts fetch it from GitHub and
fall back to a node-gyp build) is replaced by a package that ships its binary *inside* the npm
package. Besides plain npm specs (``npm:libsql@0.5.29``), an override may name one of firefly's
bundled adapters, ``firefly:<name>`` (see :data:`ADAPTERS`), written into the prefix and installed
from there. Where a node-gyp build does happen, it uses this Node's own headers when they are
installed (no header download).

Installs run ``jobs`` at a time. A finished install writes a marker holding the pin (and the
overrides); a second run skips servers whose marker matches.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from firefly_eval.mcp.config import firefly_home
from firefly_eval.schema import ServerSpec

__all__ = ["ADAPTERS", "DEFAULT_JOBS", "InstallResult", "install_fleet", "install_server", "npm_manifest"]

DEFAULT_JOBS = 4

# firefly:<name> override targets: small adapter packages written into the server's npm prefix.
# sqlite3: node-sqlite3's CommonJS API (``require('sqlite3').verbose()``) over @appthreat/sqlite3, a
# maintained fork that ships prebuilt N-API binaries in its npm package (an ES module: required from
# CommonJS it is a namespace whose ``default`` is the sqlite3 object).
ADAPTERS: dict[str, dict[str, str]] = {
    "sqlite3": {
        "package.json": json.dumps({
            "name": "sqlite3", "version": "5.1.7-firefly.1", "main": "index.js", "license": "BSD-3-Clause",
            "description": "node-sqlite3 API over @appthreat/sqlite3's prebuilt binaries (firefly adapter)",
            "dependencies": {"@appthreat/sqlite3": "8.0.1"},
        }, indent=2),
        "index.js": "// node-sqlite3's CommonJS API over @appthreat/sqlite3 (prebuilt binaries in its npm package)\n"
                    "const m = require('@appthreat/sqlite3');\n"
                    "module.exports = m.default || m;\n",
    },
}
_ADAPTER_DIR = ".firefly-adapters"


@dataclass
class InstallResult:
    server: str
    status: str  # installed | skipped | failed | local
    seconds: float
    detail: str = ""


def _uv() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(found).exists():
        raise RuntimeError("`uv` not found: install firefly-eval with its dependencies (uv is one)")
    return found


def _marker(spec: ServerSpec) -> str:
    overrides = [f"{k}={v}" for k, v in sorted(spec.npm_overrides.items())]
    env = [f"env:{k}={v}" for k, v in sorted(spec.install_env.items())]
    return " ".join([spec.pin, *spec.constraints, *overrides, *env])


def npm_manifest(spec: ServerSpec) -> tuple[dict[str, object], dict[str, dict[str, str]]]:
    """The ``package.json`` of ``spec``'s npm prefix and the adapter folders it needs (name -> files).

    Raises ValueError naming the server when an override names an unknown ``firefly:`` adapter."""
    overrides: dict[str, str] = {}
    adapters: dict[str, dict[str, str]] = {}
    for dep, target in spec.npm_overrides.items():
        if target.startswith("firefly:"):
            name = target.removeprefix("firefly:")
            if name not in ADAPTERS:
                raise ValueError(f"server {spec.name!r}: firefly.npm_overrides.{dep}: unknown adapter {target!r} "
                                 f"(known: {', '.join('firefly:' + a for a in sorted(ADAPTERS))})")
            adapters[name] = ADAPTERS[name]
            target = f"file:{_ADAPTER_DIR}/{name}"
        overrides[dep] = target
    manifest: dict[str, object] = {"name": f"firefly-server-{spec.name}", "private": True}
    if overrides:
        manifest["overrides"] = overrides
    return manifest, adapters


def _node_headers_env(env: dict[str, str]) -> None:
    """Point node-gyp at the running Node's installed headers (``<prefix>/include/node``), so a
    native build does not try to download them; an explicit ``npm_config_nodedir`` is kept."""
    if any(k.lower() == "npm_config_nodedir" for k in env):
        return
    node = shutil.which("node", path=env.get("PATH"))
    if node is None:
        return
    prefix = Path(node).resolve().parent.parent
    if (prefix / "include" / "node" / "node_api.h").exists():
        env["npm_config_nodedir"] = str(prefix)


def _install_npm(spec: ServerSpec, dest: Path, env: dict[str, str], timeout: float) -> None:
    manifest, adapters = npm_manifest(spec)
    dest.mkdir(parents=True)
    (dest / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for name, files in adapters.items():
        folder = dest / _ADAPTER_DIR / name
        folder.mkdir(parents=True)
        for fname, text in files.items():
            (folder / fname).write_text(text)
    env.setdefault("PUPPETEER_SKIP_DOWNLOAD", "1")
    _node_headers_env(env)
    # --install-links: a file: adapter is installed as a package (with its dependencies), not symlinked
    subprocess.run(["npm", "install", "--prefix", str(dest), "--no-audit", "--no-fund", "--silent",
                    "--save-exact", *(["--install-links"] if adapters else []), spec.pin],
                   check=True, capture_output=True, text=True, timeout=timeout, env=env)


def _install_pypi(spec: ServerSpec, dest: Path, env: dict[str, str], timeout: float, compile_bytecode: bool) -> None:
    uv = _uv()
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(dest)], check=True, capture_output=True,
                   text=True, timeout=timeout, env=env)
    # --compile-bytecode: the first start imports from .pyc (math-mcp once took >60 s to compile on start)
    subprocess.run([uv, "pip", "install", "-q", *(["--compile-bytecode"] if compile_bytecode else []),
                    "--python", str(dest / "bin" / "python"), spec.pin, *spec.constraints],
                   check=True, capture_output=True, text=True, timeout=timeout, env=env)


def install_server(spec: ServerSpec, fleet_dir: Path, timeout: float = 900, compile_bytecode: bool = True
                   ) -> InstallResult:
    """Install one server into ``fleet_dir/<name>``; skip when already installed at this pin.

    ``compile_bytecode=False`` leaves a Python server's bytecode to its first start (benchmarks compare)."""
    t0 = time.perf_counter()
    if spec.registry == "local" or not spec.package:
        return InstallResult(spec.name, "local", 0.0, "no package to install")
    dest = fleet_dir / spec.name
    marker = dest / ".firefly-installed"
    if marker.exists() and marker.read_text() == _marker(spec):
        return InstallResult(spec.name, "skipped", time.perf_counter() - t0)
    # install in place; the marker is written last, so an interrupted install is redone
    marker.unlink(missing_ok=True)
    shutil.rmtree(dest, ignore_errors=True)
    env = dict(os.environ, **spec.install_env)
    try:
        if spec.registry == "pypi":
            _install_pypi(spec, dest, env, timeout, compile_bytecode)
        else:
            _install_npm(spec, dest, env, timeout)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(dest, ignore_errors=True)
        tail = ((exc.stderr or "") + (exc.stdout or ""))[-800:]
        return InstallResult(spec.name, "failed", time.perf_counter() - t0, f"{spec.pin}: {tail.strip()}")
    except (subprocess.TimeoutExpired, RuntimeError, OSError, ValueError) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        return InstallResult(spec.name, "failed", time.perf_counter() - t0, f"{spec.pin}: {exc}")
    marker.write_text(_marker(spec))
    detail = ", ".join(f"{k} -> {v}" for k, v in spec.npm_overrides.items())
    return InstallResult(spec.name, "installed", time.perf_counter() - t0, detail)


def install_fleet(
    specs: list[ServerSpec],
    fleet_dir: Path | None = None,
    jobs: int = DEFAULT_JOBS,
    on_done: Callable[[InstallResult], None] | None = None,
    on_start: Callable[[str], None] | None = None,
) -> list[InstallResult]:
    """Install every server of a fleet, ``jobs`` at a time; failures are reported, not raised.

    ``on_start(name)`` is called from the worker thread as an install begins, ``on_done(result)``
    from the calling thread as each one ends (in completion order)."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    fleet_dir = fleet_dir or firefly_home() / "fleet"
    fleet_dir.mkdir(parents=True, exist_ok=True)

    def one(spec: ServerSpec) -> InstallResult:
        if on_start:
            on_start(spec.name)
        return install_server(spec, fleet_dir)

    results = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(one, s) for s in specs]
        for fut in as_completed(futures):
            res = fut.result()
            results.append(res)
            if on_done:
                on_done(res)
    return sorted(results, key=lambda r: r.server)
