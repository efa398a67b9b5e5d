"""The paper's tables reproduced from measured rows, beside the published reference numbers."""

from __future__ import annotations

import csv
import io
from collections import defaultdict

from firefly_eval.schema import ResultRow

__all__ = ["PAPER_TABLES", "build_tables", "manifest_warnings", "to_csv", "to_markdown"]

PAPER_TABLES: dict[str, list[tuple[str, str]]] = {
    "Held-out (FireFly test set)": [("heldout", "pass@1"), ("heldout", "pass@8"), ("heldout", "pass@16")],
    "Tau2-Bench": [("tau2_airline", "pass^1"), ("tau2_retail", "pass^1"), ("tau2_telecom", "pass^1")],
    "MCPMark": [("mcpmark_filesystem", "pass@1"), ("mcpmark_postgres_easy", "pass@1"),
                ("mcpmark_postgres", "pass@1")],
    "MCP-Atlas": [("mcp_atlas", "pass")],
}
# price per million tokens (input, output), USD: only where known
PRICES: dict[str, tuple[float, float]] = {"openai/gpt-4.1": (2.0, 8.0), "openai/gpt-4.1-mini": (0.4, 1.6)}


def _latest(rows: list[ResultRow]) -> dict[tuple[str, str, str, str], ResultRow]:
    best: dict[tuple[str, str, str, str], ResultRow] = {}
    for r in rows:
        k = (r.source, r.model, r.benchmark, r.metric)
        if k not in best or r.date > best[k].date:
            best[k] = r
    return best


def build_tables(rows: list[ResultRow]) -> dict[str, list[dict[str, str]]]:
    """One list of table rows (dicts) per paper table; measured and published rows labelled."""
    best = _latest(rows)
    out: dict[str, list[dict[str, str]]] = {}
    for title, cols in PAPER_TABLES.items():
        models = sorted({(k[0], k[1]) for k in best if (k[2], k[3]) in cols}, key=lambda x: (x[0] != "measured", x[1]))
        table = []
        for source, model in models:
            row = {"model": model, "source": source}
            for bench, metric in cols:
                r = best.get((source, model, bench, metric))
                cell = "–" if r is None else f"{r.value:.3f}"
                if r is not None and r.stderr:
                    cell += f" ± {r.stderr:.3f}"
                if r is not None and r.source == "measured":
                    cell += f" (n={r.n}, epochs={r.epochs})"
                row[f"{bench} {metric}"] = cell
            table.append(row)
        out[title] = table
    return out


def manifest_warnings(rows: list[ResultRow]) -> list[str]:
    """Warn where measured rows of one benchmark were produced under different manifests."""
    seen: dict[str, dict[tuple, list[str]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.source != "measured":
            continue
        m = r.manifest
        key = (m.get("dataset_revision"), str(m.get("simulator")), m.get("task_version"),
               m.get("packages", {}).get("firefly-eval"))
        seen[r.benchmark][key].append(r.model)
    return [f"{bench}: rows come from {len(groups)} different manifests (dataset revision, simulator config, "
            f"task or package version): {', '.join(sorted({m for ms in groups.values() for m in ms}))}"
            for bench, groups in seen.items() if len(groups) > 1]


def cost_per_success(rows: list[ResultRow]) -> dict[tuple[str, str], float]:
    """USD per passed sample where the model's price is known."""
    out = {}
    for r in rows:
        if r.source != "measured" or r.metric != "pass@1" or r.model not in PRICES or r.value <= 0:
            continue
        usage = r.manifest.get("token_usage", {}).get(r.model, {})
        pin, pout = PRICES[r.model]
        cost = (usage.get("input_tokens", 0) * pin + usage.get("output_tokens", 0) * pout) / 1e6
        out[(r.benchmark, r.model)] = cost / (r.value * r.n * r.epochs)
    return out


def to_markdown(tables: dict[str, list[dict[str, str]]]) -> str:
    parts = []
    for title, rows in tables.items():
        parts.append(f"### {title}\n")
        if not rows:
            parts.append("_no rows yet_\n")
            continue
        cols = list(rows[0])
        parts.append("| " + " | ".join(cols) + " |")
        parts.append("|" + "---|" * len(cols))
        parts.extend("| " + " | ".join(r.get(c, "") for c in cols) + " |" for r in rows)
        parts.append("")
    return "\n".join(parts)


def to_csv(tables: dict[str, list[dict[str, str]]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["table", "model", "source", "column", "value"])
    for title, rows in tables.items():
        for r in rows:
            for c, v in r.items():
                if c not in ("model", "source"):
                    w.writerow([title, r["model"], r["source"], c, v])
    return buf.getvalue()
