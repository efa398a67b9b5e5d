"""Leaderboard from real Inspect logs (oracle + baseline runs on the shipped set), rendered in Chromium."""

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval

from firefly_eval.leaderboard.collect import (
    collect_logs,
    load_results,
    metric_name,
    published_rows,
    save_results,
)
from firefly_eval.leaderboard.page import render_page
from firefly_eval.leaderboard.table import SELF_CHECKS, build_tables, manifest_warnings, to_csv, to_markdown
from firefly_eval.tasks.heldout.task import heldout


@pytest.fixture(scope="module")
def logs():
    d = Path(tempfile.mkdtemp(prefix="firefly-lb-"))
    inspect_eval(heldout(), model="firefly/oracle", limit=10, display="none", log_dir=str(d))
    inspect_eval(heldout(epochs=2), model="firefly/baseline", limit=10, display="none", log_dir=str(d))
    return d


def test_metric_names():
    assert metric_name("accuracy", None) == "pass@1"
    assert metric_name("accuracy", "pass_at_8") == "pass@8"
    assert metric_name("accuracy", "pass_k_4") == "pass^4"
    assert metric_name("tier_exact", "mean") == "tier_exact"


def test_collect_is_idempotent_and_tables_show_both_sources(logs, tmp_path):
    rows = collect_logs([logs])
    out = tmp_path / "r.parquet"
    assert save_results(rows, out) == len(rows) > 0
    assert save_results(collect_logs([logs]), out) == 0  # re-collecting adds nothing
    stored = load_results(out)
    oracle = [r for r in stored if r.model == "firefly/oracle" and r.metric == "pass@1"]
    assert oracle and oracle[0].value == 1.0 and oracle[0].manifest["dataset_revision"]
    assert oracle[0].manifest["partial"] == "limit 10"  # a --limit run is marked as such
    base = {r.metric: r for r in stored if r.model == "firefly/baseline"}
    assert "pass@2" in base and "pass^2" in base and "flip_rate" in base and base["pass@1"].epochs == 2
    tables = build_tables(stored + published_rows())
    md = to_markdown(tables)
    assert "FireFly-4B (GRPO) | FireFly paper (arXiv 2605.17558), held-out table" in md  # the row's source
    assert "Tau2-Bench" in md and "0.627" in md and "tau2-bench repository leaderboard" in md
    assert "published" in to_csv(tables)
    assert manifest_warnings(stored) == []


def test_self_checks_sit_apart_and_rows_carry_ci_date_and_partial_marks(logs):
    tables = build_tables(collect_logs([logs]) + published_rows())
    models = [r for title, trs in tables.items() if title != SELF_CHECKS for r in trs]
    assert models and not any(r["model"].startswith("firefly/") for r in models)
    checks = {(r["model"], r["benchmark"]): r for r in tables[SELF_CHECKS]}
    oracle = checks[("firefly/oracle", "heldout")]
    assert oracle["value"].startswith("1.000") and oracle["run"] == "partial (limit 10)"
    lo, hi = (float(x) for x in oracle["ci95"].strip("[]").split(","))
    assert 0.6 < lo < 0.8 and hi == 1.0  # Wilson interval of 10/10
    assert oracle["date"][:2] == "20" and oracle["log"].endswith(".eval")
    base = checks[("firefly/baseline", "heldout")]
    assert "(se " in base["value"] and base["samples × epochs"] == "10×2"
    heldout = tables["Held-out (FireFly test set)"]
    assert "heldout pass@1 ci95" in heldout[0] and all(r["source"] != "published" for r in heldout)
    shown = {c.split(" ")[0] for trs in tables.values() for r in trs for c in r}
    assert "mcpmark_standard" in shown  # every published row has a table
    assert "paper's own 200-task set" in to_markdown(tables)


def test_manifest_warning_when_datasets_differ(logs):
    rows = collect_logs([logs])
    rows[0] = rows[0].model_copy(update={"manifest": {**rows[0].manifest, "dataset_revision": "other"}})
    assert any("different manifests" in w for w in manifest_warnings(rows))


def test_page_renders_in_headless_chromium(logs, tmp_path):
    page = render_page(collect_logs([logs]) + published_rows(), tmp_path / "index.html")
    text = page.read_text()
    assert text.count("<table") >= 4 and "data:image/png;base64," in text
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed (make test installs it)")
    shot, dom = tmp_path / "shot.png", None
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    subprocess.run([chromium, *flags, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
                   capture_output=True, timeout=120)
    dom = subprocess.run([chromium, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert "firefly/oracle" in dom and dom.count("<table") >= 5
    selfchecks = re.search(r"<section class=\"self-checks\">(.*?)</section>", dom, re.S).group(1)
    models = "".join(re.findall(r"<section class=\"models\">(.*?)</section>", dom, re.S))
    assert "firefly/oracle" in selfchecks and "firefly/baseline" in selfchecks and "firefly/" not in models
    assert "<th title=\"click to sort\">heldout pass@1 ci95</th>" in dom and "tau2-bench repository leaderboard" in dom
    assert "paper's own 200-task set" in dom and "class=\"measured partial\"" in dom
    assert dom.count("table class=\"results sortable\"") == dom.count("<table")
    plots = set(re.findall(r"<img alt=\"([^\"]+)\"", dom))
    assert {"heldout pass@1", "tau2_retail pass^1", "mcpmark_standard pass@1", "mcp_atlas pass"} <= plots
    from PIL import Image

    img = Image.open(shot).convert("L")
    lo, hi = img.getextrema()
    assert hi - lo > 100, "screenshot is blank"
    # sorting works in the page itself: click the tau2_airline header, read the column back
    clicked = tmp_path / "clicked.html"
    clicked.write_text(text.replace("</body>", "<script>var th=[...document.querySelectorAll('th')].find("
                                    "h=>h.textContent==='tau2_airline pass^1');th.click();</script></body>"))
    dom2 = subprocess.run([chromium, *flags, "--dump-dom", clicked.as_uri()], capture_output=True, text=True,
                          timeout=120).stdout
    after, before = _tau2_airline_column(dom2), _tau2_airline_column(dom)
    assert len(after) >= 4 and after == sorted(after) and before != after


def _tau2_airline_column(dom: str) -> list[float]:
    """The tau2_airline pass^1 values of the Tau2-Bench table, in the order the page shows them."""
    body = re.search(r"<h2>Tau2-Bench</h2>.*?<tbody>(.*?)</tbody>", dom, re.S).group(1)
    return [float(re.findall(r"<td>(.*?)</td>", tr)[2].split()[0]) for tr in re.findall(r"<tr.*?</tr>", body)]
