"""A small stateful MCP server for reset tests: a counter in process memory, a note in a file of its cwd.

Run: python stateful_server.py   (cwd: the sandbox; the note lives in ./note.txt)
"""

import os
import subprocess
import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer

server = MCPServer("stateful")
COUNT = {"n": 0}


@server.tool()
def add_one() -> int:
    """Add one to the in-memory counter and return it."""
    COUNT["n"] += 1
    return COUNT["n"]


@server.tool()
def count() -> int:
    """The in-memory counter."""
    return COUNT["n"]


@server.tool()
def reset_counter(fail: bool = False) -> str:
    """Set the in-memory counter back to 0 (``fail``: report an error instead)."""
    if fail:
        raise ValueError("reset refused")
    COUNT["n"] = 0
    return "reset"


@server.tool()
def read_note() -> str:
    """The note file's text (read from disk on every call)."""
    path = Path("note.txt")
    return path.read_text() if path.exists() else ""


@server.tool()
def write_note(text: str) -> str:
    """Replace the note file's text."""
    Path("note.txt").write_text(text)
    return "ok"


@server.tool()
def spawn_child() -> str:
    """Start a sleeping child process and return 'server_pid child_pid'."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    return f"{os.getpid()} {child.pid}"


@server.tool()
def pid() -> int:
    """This server's process id."""
    return os.getpid()


if __name__ == "__main__":
    server.run("stdio")
