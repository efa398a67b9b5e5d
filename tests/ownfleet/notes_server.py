"""A user's own MCP server for tests: notes in its working directory, a ledger file named by an absolute path.

Run: python notes_server.py --ledger /abs/ledger.json [--broken]
``--broken``: every tool answers with an error (a server whose calls all fail).
"""

import json
import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer

LEDGER = Path(sys.argv[sys.argv.index("--ledger") + 1])
BROKEN = "--broken" in sys.argv
NOTES = Path("notes")  # relative: the server works in its cwd
server = MCPServer("notes")


def _check() -> None:
    if BROKEN:
        raise ValueError("storage backend unavailable")


@server.tool()
def list_notes() -> list[str]:
    """List the names of the notes in the notebook."""
    _check()
    return sorted(p.stem for p in NOTES.glob("*.md"))


@server.tool()
def read_note(name: str) -> str:
    """Read one note by its name (as list_notes gives it)."""
    _check()
    path = NOTES / f"{name}.md"
    if not path.exists():
        raise ValueError(f"no note named {name!r}")
    return path.read_text()


@server.tool()
def count_words(name: str) -> int:
    """Count the words of a note, by its name."""
    _check()
    path = NOTES / f"{name}.md"
    if not path.exists():
        raise ValueError(f"no note named {name!r}")
    return len(path.read_text().split())


@server.tool()
def add_note(name: str, text: str) -> str:
    """Add a note to the notebook."""
    _check()
    (NOTES / f"{name}.md").write_text(text)
    return f"saved note {name}"


@server.tool()
def get_ledger() -> dict:
    """The ledger: every recorded entry with its amount."""
    _check()
    return json.loads(LEDGER.read_text()) if LEDGER.exists() else {"entries": []}


@server.tool()
def record_entry(item: str, amount: float) -> str:
    """Record an entry (item and amount) in the ledger."""
    _check()
    data = json.loads(LEDGER.read_text()) if LEDGER.exists() else {"entries": []}
    data["entries"].append({"item": item, "amount": amount})
    LEDGER.write_text(json.dumps(data))
    return f"ledger total now {sum(e['amount'] for e in data['entries']):.2f}"


if __name__ == "__main__":
    server.run("stdio")
