"""Read a schema catalog (e.g. shared/data/smithery_catalog.jsonl.gz) into ToolSpecs, leniently."""

from __future__ import annotations

import gzip
import json
import warnings
from pathlib import Path

from firefly_eval.mcp.client import normalize_input_schema
from firefly_eval.schema import ToolSpec

__all__ = ["load_catalog"]


def load_catalog(path: str | Path, limit: int | None = None) -> list[ToolSpec]:
    """One ToolSpec per catalog tool; malformed entries are skipped with a warning naming them."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    tools: list[ToolSpec] = []
    seen: set[tuple[str, str]] = set()
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                server = str(entry["server"])
            except (ValueError, KeyError) as exc:
                warnings.warn(f"{path}:{lineno}: skipped malformed server entry ({exc})", stacklevel=2)
                continue
            for t in entry.get("tools", []) or []:
                name = t.get("name") if isinstance(t, dict) else None
                if not name or (server, name) in seen:
                    warnings.warn(f"{path}:{lineno}: server {server}: skipped tool with missing or duplicate "
                                  f"name {name!r}", stacklevel=2)
                    continue
                seen.add((server, name))
                tools.append(ToolSpec(server=server, name=name, description=str(t.get("description") or ""),
                                      input_schema=normalize_input_schema(t.get("input_schema"))))
                if limit and len(tools) >= limit:
                    return tools
    return tools
