"""A tiny MCP server whose *first* start is slow, like a real cold start (nothing compiled, caches empty).

Run: python slow_start_server.py STAMP_FILE SECONDS

When STAMP_FILE does not exist yet the server sleeps SECONDS before it serves (and so before it answers
the MCP handshake), then creates the file; later starts serve at once. SECONDS < 0 never serves (a dead
server that neither answers nor exits).
"""

import sys
import time
from pathlib import Path

stamp, seconds = Path(sys.argv[1]), float(sys.argv[2])
if seconds < 0:
    while True:
        time.sleep(3600)
if not stamp.exists():
    time.sleep(seconds)
    stamp.write_text("started once\n")

from mcp.server.mcpserver import MCPServer  # noqa: E402

server = MCPServer("slowstart")


@server.tool()
def ping() -> str:
    """Answer pong."""
    return "pong"


if __name__ == "__main__":
    server.run()
