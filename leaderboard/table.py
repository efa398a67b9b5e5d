"""The paper's tables reproduced from measured rows, beside the published reference numbers."""

from __future__ import annotations

import csv
import io
from collections import defaultdict

from firefly_eval.schema import ResultRow

__all__ = ["CAVEAT", "PAPER_TABLES", "SELF_CHECKS", "build_tables", "is_self_check", "manifest_warnings", "to_csv", "to_markdown"]

PAPER_TABLES: dict[str, list[tuple[str, str]]] = {
    "Held-out (FireFly test set)": [("heldout", "pass@1"), ("heldout", "pass@8"), ("heldout", "pass@16")],
    "Tau2-Bench": [("tau2_airline", "pass^1"), ("tau2_retail", "pass^1"), ("tau2_telecom", "pass^1")],
    "MCPMark": [("mcpmark_filesystem", "pass@1"), ("mcpmark_postgres_easy", "pass@1"),
                ("mcpmark_postgres", "pass@1"), ("mcpmark_standard", "pass@1")],
    "MCP-Atlas": [("mcp_atlas", "pass")],
}
# price per million tokens (input, output), USD: only where known
PRICES: dict[str, tuple[float, float]] = {"openai/gpt-4.1": (2.0, 8.0), "openai/gpt-4.1-mini": (0.4, 1.6)}


SELF_CHECK_PREFIX = "firefly/"  # firefly/oracle, firefly/baseline: harness self-checks, not models
SELF_CHECKS = "Self-checks (harness, not models)"
CAVEAT = ("Measured held-out rows are on this package's held-out set; the paper's published held-out rows are on "
          "the paper's own 200-task set: compare within a source, not across.")


def is_self_check(model: str) -> bool:
    """``firefly/oracle`` and ``firefly/baseline`` check the harness; they are never ranked with models."""
    return model.startswith(SELF_CHECK_PREFIX)


def _latest(rows: list[ResultRow]) -> dict[tuple[str, str, str, str], ResultRow]:
    best: dict[tuple[str, str, str, str], ResultRow] = {}
    for r in rows:
        k = (r.source, r.model, r.benchmark, r.metric)
        if k not in best or r.date > best[k].date:
            best[k] = r
    return best


def _cell(r: ResultRow | None) -> str:
    if r is None:
        return "–"
    cell = f"{r.value:.3f}"
    if r.stderr is not None:
        cell += f" (se {r.stderr:.3f})"
    return cell


def _ci(best: dict, key: tuple[str, str, str]) -> str:
    lo, hi = best.get((*key, "ci95_low")), best.get((*key, "ci95_high"))
    return f"[{lo.value:.3f}, {hi.value:.3f}]" if lo and hi else "–"


def _row(best: dict, source: str, model: str, cols: list[tuple[str, str]]) -> dict[str, str]:
    found = [best[(source, model, b, m)] for b, m in cols if (source, model, b, m) in best]
    if source == "published":
        row = {"model": model, "source": "; ".join(sorted({r.log_path for r in found})) or "published"}
    else:
        row = {"model": model, "source": "measured"}
    for bench, metric in cols:
        row[f"{bench} {metric}"] = _cell(best.get((source, model, bench, metric)))
        if metric in ("pass@1", "pass^1", "pass"):
            row[f"{bench} {metric} ci95"] = _ci(best, (source, model, bench)) if source == "measured" else "–"
    measured = [r for r in found if r.source == "measured"]
    # ResultRow.n is Inspect's completed_samples: samples × epochs
    row["samples × epochs"] = ", ".join(sorted({f"{r.n // max(r.epochs, 1)}×{r.epochs}" for r in measured})) or "–"
    row["date"] = max((r.date[:10] for r in measured), default="–")
    row["version"] = ", ".join(sorted({f"{r.task_version} / {r.manifest.get('packages', {}).get('firefly-eval', '?')}"
                                       for r in measured})) or (found[0].task_version if found else "–")
    row["run"] = ", ".join(sorted({f"partial ({p})" for r in measured if (p := r.manifest.get("partial"))})) or \
        ("full" if measured else "–")
    row["log"] = ", ".join(sorted({r.log_path for r in measured})) or "–"
    return row


def _self_check_row(best: dict, source: str, model: str, bench: str, metric: str) -> dict[str, str]:
    row = _row(best, source, model, [(bench, metric)])
    return {"model": model, "source": source, "benchmark": bench, "metric": metric,
            "value": row[f"{bench} {metric}"], "ci95": row.get(f"{bench} {metric} ci95", "–"),
            **{k: row[k] for k in ("samples × epochs", "date", "version", "run", "log")}}


def build_tables(rows: list[ResultRow]) -> dict[str, list[dict[str, str]]]:
    """One list of table rows per paper table (models only), plus a self-check table for ``firefly/*``.

    Cells are ``value (se stderr)``; each main metric has a ci95 column (Wilson, measured rows); a row
    says its source (the publication for published rows), samples × epochs, date, task / package version,
    whether the run was partial (``--limit``) and its log.
    """
    best = _latest(rows)
    out: dict[str, list[dict[str, str]]] = {}
    checks: list[dict[str, str]] = []
    for title, cols in PAPER_TABLES.items():
        pairs = sorted({(k[0], k[1]) for k in best if (k[2], k[3]) in cols}, key=lambda x: (x[0] != "measured", x[1]))
        out[title] = [_row(best, source, model, cols) for source, model in pairs if not is_self_check(model)]
        checks.extend(_self_check_row(best, source, model, bench, metric)
                      for source, model in pairs if is_self_check(model)
                      for bench, metric in cols if (source, model, bench, metric) in best)
    out[SELF_CHECKS] = checks
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
        if title.startswith("Held-out"):
            parts.append(f"_{CAVEAT}_\n")
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
