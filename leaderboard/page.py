"""A static HTML leaderboard page (tables + matplotlib plots), openable from disk."""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from pathlib import Path

from firefly_eval.leaderboard.table import build_tables, manifest_warnings
from firefly_eval.schema import ResultRow

__all__ = ["render_page"]


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _plots(rows: list[ResultRow]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = []
    from firefly_eval.leaderboard.table import _latest

    main = sorted((r for r in _latest(rows).values() if r.metric in ("pass@1", "pass^1", "pass")),
                  key=lambda r: (r.benchmark, r.source, r.model), reverse=True)
    if main:
        fig, ax = plt.subplots(figsize=(9, 0.24 * len(main) + 1.2))
        labels = [f"{r.benchmark} | {r.model[:24]}" for r in main]
        colors = ["#2b7bba" if r.source == "measured" else "#bbbbbb" for r in main]
        ax.barh(range(len(main)), [r.value for r in main], color=colors)
        ax.set_yticks(range(len(main)), labels, fontsize=7)
        ax.set_xlim(0, 1)
        ax.set_title("score per benchmark (blue: measured, grey: published)")
        plots.append(("Scores per benchmark", _png(fig)))
    curves: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for r in rows:
        if r.metric.startswith("pass@") and r.benchmark == "heldout":
            curves[(r.model, r.source)][int(r.metric[5:])] = r.value
    if curves:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for (model, source), pts in sorted(curves.items()):
            ks = sorted(pts)
            ax.plot(ks, [pts[k] for k in ks], marker="o", linestyle="-" if source == "measured" else "--",
                    label=f"{model} ({source})")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("k")
        ax.set_ylabel("pass@k")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=6)
        ax.set_title("held-out pass@k")
        plots.append(("pass@k curves", _png(fig)))
    tiers = [r for r in rows if r.metric.startswith("tier_") and r.source == "measured"]
    if tiers:
        by_model: dict[str, dict[str, float]] = defaultdict(dict)
        for r in tiers:
            by_model[f"{r.benchmark}/{r.model}"][r.metric[5:]] = r.value
        names = sorted(by_model)
        fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.0))
        left = [0.0] * len(names)
        for tier, color in (("exact", "#3a9d5d"), ("fuzzy", "#e0a030"), ("simulated", "#9b59b6"), ("miss", "#c0392b")):
            vals = [by_model[n].get(tier, 0.0) for n in names]
            ax.barh(names, vals, left=left, color=color, label=tier)
            left = [a + b for a, b in zip(left, vals)]
        ax.set_xlim(0, 1)
        ax.legend(fontsize=7)
        ax.set_title("simulator tier usage (share of tool calls)")
        plots.append(("Simulator tiers", _png(fig)))
    return plots


def render_page(rows: list[ResultRow], out: Path) -> Path:
    """Write ``out`` (HTML with inline PNGs): paper tables, warnings, plots."""
    tables = build_tables(rows)
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>firefly-eval leaderboard</title>",
             "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;"
             "margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}"
             "tr.published td{color:#777}.warn{color:#a05a00}</style></head><body>",
             "<h1>firefly-eval leaderboard</h1>",
             "<p>Measured rows come from Inspect logs; <span style='color:#777'>published</span> rows are "
             "reference numbers from the FireFly paper and the benchmarks' leaderboards.</p>"]
    for w in manifest_warnings(rows):
        parts.append(f"<p class='warn'>warning: {html.escape(w)}</p>")
    for title, trs in tables.items():
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if not trs:
            parts.append("<p><i>no rows yet</i></p>")
            continue
        cols = list(trs[0])
        parts.append("<table class='results'><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cols) + "</tr>")
        for r in trs:
            parts.append(f"<tr class='{r['source']}'>" + "".join(f"<td>{html.escape(r.get(c, ''))}</td>" for c in cols)
                         + "</tr>")
        parts.append("</table>")
    for title, png in _plots(rows):
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='data:image/png;base64,{png}'>")
    parts.append("</body></html>")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts), encoding="utf-8")
    return out
