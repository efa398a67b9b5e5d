"""``firefly fleet install``: one isolated environment per server, idempotent and parallel.

Python servers get a venv each (``uv venv`` + ``uv pip install PKG==V <constraints>``), npm
servers an npm prefix each (``npm install PKG@V``). A finished install writes a marker
holding the pin; a second run skips servers whose marker matches.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from firefly_eval.mcp.config import firefly_home
from firefly_eval.schema import ServerSpec

__all__ = ["InstallResult", "install_fleet", "install_server"]


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
    return " ".join([spec.pin, *spec.constraints])


def install_server(spec: ServerSpec, fleet_dir: Path, timeout: float = 900) -> InstallResult:
    """Install one server into ``fleet_dir/<name>``; skip when already installed at this pin."""
    t0 = time.perf_counter()
    if spec.registry == "local" or not spec.package:
        return InstallResult(spec.name, "local", 0.0, "no package to install")
    dest = fleet_dir / spec.name
    marker = dest / ".firefly-installed"
    if marker.exists() and marker.read_text() == _marker(spec):
        return InstallResult(spec.name, "skipped", time.perf_counter() - t0)
    # install in place; the marker is written last, so an interrupted install is redone
    marker.unlink(missing_ok=True)
    tmp = dest
    shutil.rmtree(tmp, ignore_errors=True)
    env = dict(os.environ, **spec.install_env)
    try:
        if spec.registry == "pypi":
            uv = _uv()
            py = sys.executable
            subprocess.run([uv, "venv", "-q", "--python", py, str(tmp)], check=True, capture_output=True,
                           text=True, timeout=timeout, env=env)
            subprocess.run([uv, "pip", "install", "-q", "--python", str(tmp / "bin" / "python"), spec.pin,
                            *spec.constraints], check=True, capture_output=True, text=True, timeout=timeout,
                           env=env)
        else:
            tmp.mkdir(parents=True)
            env.setdefault("PUPPETEER_SKIP_DOWNLOAD", "1")
            subprocess.run(["npm", "install", "--prefix", str(tmp), "--no-audit", "--no-fund", "--silent",
                            spec.pin], check=True, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        tail = ((exc.stderr or "") + (exc.stdout or ""))[-800:]
        return InstallResult(spec.name, "failed", time.perf_counter() - t0, f"{spec.pin}: {tail.strip()}")
    except (subprocess.TimeoutExpired, RuntimeError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        return InstallResult(spec.name, "failed", time.perf_counter() - t0, f"{spec.pin}: {exc}")
    marker.write_text(_marker(spec))
    return InstallResult(spec.name, "installed", time.perf_counter() - t0)


def install_fleet(
    specs: list[ServerSpec],
    fleet_dir: Path | None = None,
    workers: int = 4,
    on_done: Callable[[InstallResult], None] | None = None,
) -> list[InstallResult]:
    """Install every server of a fleet in parallel; failures are reported, not raised."""
    fleet_dir = fleet_dir or firefly_home() / "fleet"
    fleet_dir.mkdir(parents=True, exist_ok=True)
    results = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(install_server, s, fleet_dir): s for s in specs}
        for fut in as_completed(futures):
            res = fut.result()
            results.append(res)
            if on_done:
                on_done(res)
    return sorted(results, key=lambda r: r.server)
