"""MCP-Atlas rows (Hub ``ScaleAI/MCP-Atlas`` or a local file) -> Samples runnable on our fleet.

Fields: TASK (id), ENABLED_TOOLS (``<server>_<tool>`` names), PROMPT, GTFA_CLAIMS (claims the
answer must cover), TRAJECTORY. A row is kept only when every enabled tool maps to a tool of a
fleet server; the others are counted and reported, never silently run with missing tools.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from inspect_ai.dataset import MemoryDataset, Sample

from firefly_eval.schema import ToolSpec

__all__ = ["load_rows", "map_tools", "rows_to_samples"]


def _as_list(v: Any) -> list[Any]:
    if isinstance(v, list):
        return v
    if isinstance(v, str):
        try:
            parsed = json.loads(v)
            return parsed if isinstance(parsed, list) else [parsed]
        except ValueError:
            return [x.strip() for x in v.split(",") if x.strip()]
    return []


def load_rows(source: str) -> list[dict[str, Any]]:
    """Rows from a .jsonl/.json/.parquet/.csv file, or a Hub dataset id."""
    p = Path(source)
    if p.exists():
        if p.suffix == ".jsonl":
            return [json.loads(x) for x in p.read_text().splitlines() if x.strip()]
        if p.suffix == ".json":
            return json.loads(p.read_text())
        from datasets import load_dataset

        kind = {".parquet": "parquet", ".csv": "csv"}.get(p.suffix)
        if kind is None:
            raise ValueError(f"dataset: unsupported file type {p.suffix!r} ({p})")
        return list(load_dataset(kind, data_files=str(p), split="train"))
    from datasets import load_dataset

    return list(load_dataset(source, split="train"))


def map_tools(enabled: list[str], fleet_tools: dict[tuple[str, str], ToolSpec]) -> list[tuple[str, str]] | None:
    """``<server>_<tool>`` names -> fleet (server, tool) keys; None when any is missing."""
    by_name: dict[str, tuple[str, str]] = {}
    for server, tool in fleet_tools:
        for sname in {server, server.replace("-", "_")}:
            by_name[f"{sname}_{tool}"] = (server, tool)
    out = []
    for name in enabled:
        key = by_name.get(name) or by_name.get(name.replace("-", "_"))
        if key is None:
            return None
        out.append(key)
    return out


def rows_to_samples(rows: list[dict[str, Any]], fleet_tools: dict[tuple[str, str], ToolSpec]) -> tuple[MemoryDataset, int]:
    samples, skipped = [], 0
    for i, row in enumerate(rows):
        claims = [str(c) for c in _as_list(row.get("GTFA_CLAIMS"))]
        tools = map_tools([str(t) for t in _as_list(row.get("ENABLED_TOOLS"))], fleet_tools)
        if tools is None or not claims or not row.get("PROMPT"):
            skipped += 1
            continue
        samples.append(Sample(id=str(row.get("TASK") or i), input=str(row["PROMPT"]), target=claims,
                              metadata={"tools": [list(t) for t in tools], "claims": claims}))
    if skipped:
        warnings.warn(f"MCP-Atlas: {skipped} of {len(rows)} rows need tools the fleet lacks (or have no claims); "
                      "they are left out", stacklevel=2)
    return MemoryDataset(samples, name="mcp-atlas"), skipped
