"""A misbehaving MCP server for client tests: crash, hang, garbage, oversize output, slow start.

Run: python chaos_server.py [--slow-start SECONDS] [--garbage-at-start] [--exit-at-once]
"""

import os
import sys
import time

if "--exit-at-once" in sys.argv:
    print("fatal: cannot open config", file=sys.stderr)
    sys.exit(3)
if "--slow-start" in sys.argv:
    time.sleep(float(sys.argv[sys.argv.index("--slow-start") + 1]))
if "--garbage-at-start" in sys.argv:
    sys.stdout.write("Loading configuration... this is not JSON\n")
    sys.stdout.flush()

from mcp.server.mcpserver import MCPServer  # noqa: E402

server = MCPServer("chaos")


@server.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def crash() -> str:
    """Kill the server process."""
    os._exit(1)


@server.tool()
def hang() -> str:
    """Never answer."""
    time.sleep(3600)
    return "unreachable"


@server.tool()
def huge(size: int = 200_000) -> str:
    """Return a very large text."""
    return "x" * size


@server.tool()
def secret() -> str:
    """Report the configured token (to test redaction)."""
    return "token is " + os.environ.get("CHAOS_TOKEN", "")


@server.tool()
def where() -> str:
    """Report the temp dir and home the server sees."""
    import tempfile

    return f"{tempfile.gettempdir()}|{os.path.expanduser('~')}"


if __name__ == "__main__":
    server.run("stdio")
