"""Bytecode at install time or at first start: install seconds and first/second start seconds, both ways.

    python benchmarks/fleet_cold_start.py [SERVER ...]      (default: mathmcp sympy markitdown)

Each Python server of the default fleet named is installed twice into a scratch folder, once with
``uv pip install --compile-bytecode`` (what ``firefly fleet install`` does) and once without (bytecode
left to the first import), from the same uv cache (warm it first, e.g. with ``firefly fleet install``,
or the first side pays the downloads). Each install is then started twice: the start is the MCP
handshake plus ``tools/list``. Prints one row per server and side, and ``uptime``'s load: figures from a
loaded machine are not clean.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from firefly_eval.mcp.client import ServerConnection
from firefly_eval.mcp.config import load_fleet
from firefly_eval.mcp.install import install_server


async def _start(spec, fleet_dir: Path) -> tuple[float, int]:
    conn = ServerConnection(spec, fleet_dir=fleet_dir, start_timeout=900)
    t0 = time.perf_counter()
    try:
        await conn.start()
        tools = await conn.list_tools()
        return time.perf_counter() - t0, len(tools)
    finally:
        await conn.close()


def main(names: list[str]) -> None:
    specs = {s.name: s for s in load_fleet()}
    unknown = [n for n in names if n not in specs or specs[n].registry != "pypi"]
    if unknown:
        sys.exit(f"not Python servers of the default fleet: {', '.join(unknown)}")
    root = Path(tempfile.mkdtemp(prefix="firefly-coldstart-"))
    print(f"load before: {os.getloadavg()[0]:.2f}")
    print(f"{'server':<12} {'bytecode':<12} {'install s':>9} {'1st start s':>11} {'2nd start s':>11} {'tools':>5}")
    try:
        for name in names:
            for compiled in (True, False):
                fleet_dir = root / ("compiled" if compiled else "plain")
                res = install_server(specs[name], fleet_dir, compile_bytecode=compiled)
                if res.status != "installed":
                    sys.exit(f"{name}: {res.status}: {res.detail}")
                first, n = asyncio.run(_start(specs[name], fleet_dir))
                second, _ = asyncio.run(_start(specs[name], fleet_dir))
                side = "at install" if compiled else "first start"
                print(f"{name:<12} {side:<12} {res.seconds:>9.1f} {first:>11.1f} {second:>11.1f} {n:>5}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["mathmcp", "sympy", "markitdown"])
