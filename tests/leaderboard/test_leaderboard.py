"""Leaderboard from real Inspect logs (oracle + baseline runs on the shipped set), rendered in Chromium."""

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from inspect_ai import eval as inspect_eval

from firefly_eval.leaderboard.collect import collect_logs, load_results, metric_name, published_rows, save_results
from firefly_eval.leaderboard.page import render_page
from firefly_eval.leaderboard.table import build_tables, manifest_warnings, to_csv, to_markdown
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
    base = {r.metric: r for r in stored if r.model == "firefly/baseline"}
    assert "pass@2" in base and "pass^2" in base and "flip_rate" in base and base["pass@1"].epochs == 2
    tables = build_tables(stored + published_rows())
    md = to_markdown(tables)
    assert "firefly/oracle | measured" in md and "FireFly-4B (GRPO) | published" in md
    assert "Tau2-Bench" in md and "0.627" in md
    assert "published" in to_csv(tables)
    assert manifest_warnings(stored) == []


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
    assert "firefly/oracle" in dom and dom.count("<table") >= 4
    from PIL import Image

    img = Image.open(shot).convert("L")
    lo, hi = img.getextrema()
    assert hi - lo > 100, "screenshot is blank"
