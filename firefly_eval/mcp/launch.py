"""Launch a server so that it dies with the process that started it.

MCP servers run in their own session (the SDK starts them with ``start_new_session``), so a
``firefly generate`` killed by a signal would leave them running: a symbolic-math server once
kept a core busy for half an hour after its parent was gone. On Linux the launcher asks the
kernel for SIGKILL when the parent exits (``PR_SET_PDEATHSIG``, kept across ``exec``), then
replaces itself with the server command. Elsewhere it only execs.
"""

from __future__ import annotations

import sys

__all__ = ["LAUNCHER", "wrap"]

# run with `python -S -c LAUNCHER <parent pid> <command> <args...>`: no site, no package import (fast)
LAUNCHER = (
    "import os, signal, sys\n"
    "if sys.platform.startswith('linux'):\n"
    "    import ctypes\n"
    "    try:\n"
    "        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)\n"  # PR_SET_PDEATHSIG
    "    except Exception:\n"
    "        pass\n"
    "    if os.getppid() != int(sys.argv[1]):\n"  # the parent is already gone
    "        sys.exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def wrap(command: str, args: list[str], parent_pid: int) -> tuple[str, list[str]]:
    """The (command, args) that start ``command args`` through the launcher."""
    return sys.executable, ["-S", "-c", LAUNCHER, str(parent_pid), command, *args]
