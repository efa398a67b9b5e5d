"""MCP-Atlas rows (Hub ``ScaleAI/MCP-Atlas`` or a local file) -> Samples runnable on the local servers.

Fields: TASK (id), ENABLED_TOOLS (``<server>_<tool>`` names), PROMPT, GTFA_CLAIMS (claims the answer
must cover), TRAJECTORY (the reference conversation, OpenAI-style messages with ``tool_calls``).
A row runs when every tool its TRAJECTORY calls is served locally; enabled tools that are not
(networked distractors: wikipedia, notion, ...) are dropped and counted per row. Claims are read as
upstream's ``extract_claims`` reads them (services/scoring/score_claims.py): a list, a JSON list, or
text split on bullets; claims of 3 characters or fewer are dropped.
"""

from __future__ import annotations

import ast
import json
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from inspect_ai.dataset import MemoryDataset, Sample

__all__ = ["extract_claims", "load_rows", "rows_to_samples", "split_tool", "trajectory_tools"]

# Upstream renames some trajectory tool names to their ENABLED_TOOLS form
# (services/mcp_eval/extract_mcp_servers_per_task.py, TOOL_NAME_MAPPINGS).
_TOOL_NAME_MAPPINGS = {"brave_brave_web_search": "brave-search_brave_web_search"} | {
    f"MongoDB_{t}": f"mongodb_{t}" for t in ("aggregate", "collection-schema", "count", "find", "list-collections",
                                           "list-databases")}


def _as_list(v: Any) -> list[Any]:
    if isinstance(v, list):
        return v
    if hasattr(v, "tolist"):  # numpy arrays from parquet
        return list(v.tolist())
    if isinstance(v, str) and v.strip():
        s = v.strip()
        if s.startswith("["):
            for parse in (json.loads, ast.literal_eval):
                try:
                    parsed = parse(s)
                    return parsed if isinstance(parsed, list) else [parsed]
                except (ValueError, SyntaxError):
                    continue
        return [x.strip() for x in s.split(",") if x.strip()]
    return []


def extract_claims(blob: Any) -> list[str]:
    """Claims as upstream reads them; each stripped of bullets, those of <= 3 characters dropped."""
    if isinstance(blob, str) and not blob.strip().startswith("["):
        parts = [blob]
        for sep in ("\n•", "\n-", "\n*", "\n1.", "\n2.", ";", "||"):
            if sep in blob:
                parts = blob.split(sep)
                break
        else:
            parts = blob.split("\n")
    else:
        parts = [str(c) for c in _as_list(blob)]
    claims = [p.strip().lstrip("•-*").strip().strip('"').strip() for p in parts]
    return [c for c in claims if len(c) > 3]


def trajectory_tools(trajectory: Any) -> list[str]:
    """Tool names the reference trajectory calls, in first-call order."""
    messages = json.loads(trajectory) if isinstance(trajectory, str) and trajectory.strip() else trajectory or []
    names: list[str] = []
    for msg in messages if isinstance(messages, list) else []:
        for tc in (msg.get("tool_calls") or []) if isinstance(msg, dict) else []:
            fn = tc.get("function", {}) if isinstance(tc, dict) else {}
            name = _TOOL_NAME_MAPPINGS.get(fn.get("name", ""), fn.get("name", ""))
            if name and name not in names:
                names.append(name)
    return names


def split_tool(name: str, servers: list[str]) -> tuple[str, str] | None:
    """``<server>_<tool>`` -> (server, tool) for the longest known server name (names contain ``-`` and ``_``)."""
    for server in sorted(servers, key=len, reverse=True):
        if name.startswith(server + "_") and len(name) > len(server) + 1:
            return server, name[len(server) + 1:]
    return None


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


def rows_to_samples(rows: list[dict[str, Any]], served: dict[str, set[str]],
                    known_servers: list[str] | None = None) -> tuple[MemoryDataset, Counter[str]]:
    """Samples for the rows whose trajectory tools are all in ``served`` (server -> tool names).

    Returns the dataset and counts: ``kept``, ``dropped_missing_trajectory_tool``, ``dropped_no_claims``,
    ``distractors_dropped`` (enabled tools not served, over the kept rows).
    """
    servers = sorted(set(known_servers or []) | set(served))
    counts: Counter[str] = Counter()
    samples = []
    for i, row in enumerate(rows):
        claims = extract_claims(row.get("GTFA_CLAIMS"))
        if not claims or not row.get("PROMPT"):
            counts["dropped_no_claims"] += 1
            continue
        needed = trajectory_tools(row.get("TRAJECTORY"))
        enabled = [str(t) for t in _as_list(row.get("ENABLED_TOOLS"))]
        offered, missing, distractors = [], [], []
        for name in dict.fromkeys(enabled + needed):
            key = split_tool(name, servers)
            if key is not None and key[1] in served.get(key[0], set()):
                offered.append([key[0], key[1], name])
            elif name in needed:
                missing.append(name)
            else:
                distractors.append(name)
        if missing:
            counts["dropped_missing_trajectory_tool"] += 1
            continue
        counts["kept"] += 1
        counts["distractors_dropped"] += len(distractors)
        samples.append(Sample(id=str(row.get("TASK") or i), input=str(row["PROMPT"]), target=claims,
                              metadata={"tools": offered, "claims": claims, "trajectory_tools": needed,
                                        "distractors_dropped": distractors}))
    left = counts["dropped_missing_trajectory_tool"] + counts["dropped_no_claims"]
    if left:
        warnings.warn(f"MCP-Atlas: {left} of {len(rows)} rows left out ({counts['dropped_missing_trajectory_tool']} "
                      f"call tools not served here, {counts['dropped_no_claims']} without claims)", stacklevel=2)
    return MemoryDataset(samples, name="mcp-atlas"), counts
