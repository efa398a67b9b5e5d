"""A static HTML leaderboard page (tables + matplotlib plots), openable from disk."""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from pathlib import Path

from firefly_eval.leaderboard.table import (
    CAVEAT,
    PAPER_TABLES,
    SELF_CHECKS,
    _latest,
    build_tables,
    is_self_check,
    manifest_warnings,
)
from firefly_eval.schema import ResultRow

__all__ = ["render_page"]


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _bar_plot(bench: str, metric: str, bars: list[ResultRow], best: dict):
    """One benchmark: a bar per model, measured blue with its 95% Wilson interval, published grey."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.3 * len(bars) + 1.0))
    lo, hi = [], []
    for r in bars:
        low, high = (best.get((r.source, r.model, bench, m)) for m in ("ci95_low", "ci95_high"))
        ok = r.source == "measured" and low is not None and high is not None
        lo.append(max(0.0, r.value - low.value) if ok else 0.0)
        hi.append(max(0.0, high.value - r.value) if ok else 0.0)
    labels = [f"{r.model[:32]} ({'measured' if r.source == 'measured' else 'published'})" for r in bars]
    ax.barh(range(len(bars)), [r.value for r in bars], xerr=[lo, hi], capsize=3,
            color=["#2b7bba" if r.source == "measured" else "#bbbbbb" for r in bars])
    ax.set_yticks(range(len(bars)), labels, fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_title(f"{bench} {metric} (blue: measured, bars = 95% CI; grey: published)", fontsize=9)
    return fig


def _plots(rows: list[ResultRow]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = []
    best = _latest(rows)
    for bench, metric in (c for cols in PAPER_TABLES.values() for c in cols):
        bars = sorted((r for r in best.values() if (r.benchmark, r.metric) == (bench, metric)
                       and not is_self_check(r.model)), key=lambda r: (r.source != "measured", r.value))
        if bars:
            plots.append((f"{bench} {metric}", _png(_bar_plot(bench, metric, bars, best))))
    curves: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
    for r in rows:
        if r.metric.startswith("pass@") and r.benchmark == "heldout" and not is_self_check(r.model):
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
            left = [a + b for a, b in zip(left, vals, strict=True)]
        ax.set_xlim(0, 1)
        ax.legend(fontsize=7)
        ax.set_title("simulator tier usage (share of tool calls)")
        plots.append(("Simulator tiers", _png(fig)))
    return plots


# Click a header to sort its table (numbers by value, text alphabetically); a second click reverses.
_SORT_JS = """<script>
function ffKey(td){var t=td.textContent.trim();var m=t.match(/^-?\\d+(\\.\\d+)?/);return m?parseFloat(m[0]):t;}
document.querySelectorAll('table.sortable th').forEach(function(th){th.addEventListener('click',function(){
 var tb=th.closest('table').tBodies[0],i=th.cellIndex,asc=th.dataset.dir!=='asc';th.dataset.dir=asc?'asc':'desc';
 Array.from(tb.rows).sort(function(a,b){var x=ffKey(a.cells[i]),y=ffKey(b.cells[i]);
  if(typeof x!==typeof y){x=String(x);y=String(y);}return (x<y?-1:x>y?1:0)*(asc?1:-1);})
 .forEach(function(r){tb.appendChild(r);});});});
</script>"""


def _table(trs: list[dict[str, str]]) -> str:
    cols = list(trs[0])
    head = "".join(f"<th title='click to sort'>{html.escape(c)}</th>" for c in cols)
    body = []
    for r in trs:
        cls = r["source"] + (" partial" if r.get("run", "").startswith("partial") else "")
        body.append(f"<tr class='{cls}'>" + "".join(f"<td>{html.escape(r.get(c, ''))}</td>" for c in cols) + "</tr>")
    return f"<table class='results sortable'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_page(rows: list[ResultRow], out: Path) -> Path:
    """Write ``out`` (HTML with inline PNGs, opens from disk): model tables with CI, source, date, version and
    partial-run columns (sortable), the self-checks apart, one plot per benchmark with CI bars."""
    tables = build_tables(rows)
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>firefly-eval leaderboard</title>",
             "<style>body{font-family:sans-serif;margin:2em;max-width:1300px}table{border-collapse:collapse;"
             "margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}"
             "th{cursor:pointer;background:#f4f4f4}tr.published td{color:#777}tr.partial td{font-style:italic;"
             "background:#fff6e0}.warn{color:#a05a00}.note{color:#555;font-size:13px}</style></head><body>",
             "<h1>firefly-eval leaderboard</h1>",
             "<p>Measured rows come from Inspect logs; <span style='color:#777'>published</span> rows are "
             "reference numbers, each naming its source. Cells are <i>value (se standard error)</i>; the ci95 "
             "columns are 95% Wilson intervals. <i>Partial</i> rows (a <code>--limit</code> run) are marked and "
             "not comparable with full runs. Click a column header to sort.</p>"]
    for w in manifest_warnings(rows):
        parts.append(f"<p class='warn'>warning: {html.escape(w)}</p>")
    for title, trs in tables.items():
        section = "self-checks" if title == SELF_CHECKS else "models"
        parts.append(f"<section class='{section}'><h2>{html.escape(title)}</h2>")
        if title.startswith("Held-out"):
            parts.append(f"<p class='note caveat'>{html.escape(CAVEAT)}</p>")
        if title == SELF_CHECKS:
            parts.append("<p class='note'><code>firefly/oracle</code> replays each reference trajectory and must "
                         "score 1.000; <code>firefly/baseline</code> is a non-LLM floor. They check the harness "
                         "and are not ranked with models.</p>")
        parts.append(_table(trs) if trs else "<p><i>no rows yet</i></p>")
        parts.append("</section>")
    for title, png in _plots(rows):
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='data:image/png;base64,{png}'>")
    parts.append(_SORT_JS)
    parts.append("</body></html>")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts), encoding="utf-8")
    return out
