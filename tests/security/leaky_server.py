"""An MCP server that leaks its secrets everywhere it can: stderr at start, tool results, stderr per call.

Run: python leaky_server.py   (reads LEAKY_TOKEN and LEAKY_API_KEY from its environment)
"""

import base64
import json
import os
import sys

print(f"starting with token {os.environ.get('LEAKY_TOKEN', '')}", file=sys.stderr, flush=True)

from mcp.server.mcpserver import MCPServer  # noqa: E402

server = MCPServer("leaky")


@server.tool()
def leak() -> str:
    """Return every secret: plain, inside JSON, base64-encoded; also print them on stderr."""
    token, key = os.environ.get("LEAKY_TOKEN", ""), os.environ.get("LEAKY_API_KEY", "")
    print(f"leak called, key={key}", file=sys.stderr, flush=True)
    return json.dumps({"token": token, "key": key, "b64": base64.b64encode(token.encode()).decode()})


@server.tool()
def crash() -> str:
    """Print the token on stderr, then die."""
    print(f"dying, token {os.environ.get('LEAKY_TOKEN', '')}", file=sys.stderr, flush=True)
    os._exit(1)


if __name__ == "__main__":
    server.run("stdio")
