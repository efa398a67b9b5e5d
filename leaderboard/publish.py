"""Publish a generated dataset or the results table to the Hugging Face Hub.

The repo folder is staged locally first (``--dry-run`` stops there and shows it), scanned for
secrets (values of the fleet's ``${VAR}`` env references and common token shapes) and only
then pushed with ``HfApi.upload_folder``; the Hub skips unchanged files, so pushing the same
content again makes no new commit.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from firefly_eval.mcp.config import load_fleet

__all__ = ["SecretFound", "find_secrets", "publish_folder", "stage_dataset", "stage_results"]

_TOKEN_SHAPES = {
    "Hugging Face token": re.compile(rb"hf_[A-Za-z0-9]{30,}"),
    "OpenAI key": re.compile(rb"sk-(?:proj-)?[A-Za-z0-9_\-]{20,}"),
    "Anthropic key": re.compile(rb"sk-ant-[A-Za-z0-9_\-]{20,}"),
    "GitHub token": re.compile(rb"gh[pousr]_[A-Za-z0-9]{30,}"),
    "AWS access key": re.compile(rb"AKIA[0-9A-Z]{16}"),
    "private key": re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SecretFound(RuntimeError):
    """A file about to be pushed contains a secret; nothing was pushed."""


def _fleet_secret_values(fleet: str | Path | None) -> dict[str, str]:
    values = {}
    try:
        specs = load_fleet(fleet)
    except Exception:  # noqa: BLE001 - no fleet, no fleet secrets
        return values
    for spec in specs:
        for v in [*spec.env.values(), *spec.args]:
            for name in _VAR.findall(v):
                if name != "SANDBOX" and len(os.environ.get(name, "")) >= 6:
                    values[f"${{{name}}} of server {spec.name}"] = os.environ[name]
    return values


def find_secrets(folder: Path, fleet: str | Path | None = None, extra: dict[str, str] | None = None) -> list[str]:
    """Every (file, kind) where a secret appears; binary files are scanned as bytes."""
    needles = {**_fleet_secret_values(fleet), **(extra or {})}
    found = []
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = f.read_bytes()
        rel = f.relative_to(folder)
        for what, value in needles.items():
            if value.encode() in data:
                found.append(f"{rel}: value of {what}")
        for what, pat in _TOKEN_SHAPES.items():
            if pat.search(data):
                found.append(f"{rel}: looks like a {what}")
    return found


def stage_dataset(run_or_dataset: Path, out: Path) -> Path:
    """The exact repo folder for a dataset: data/, calls/, tools.jsonl, meta.json, report.json, README.md."""
    src = run_or_dataset / "dataset" if (run_or_dataset / "dataset").is_dir() else run_or_dataset
    if not (src / "README.md").exists() or not (src / "data").is_dir():
        raise FileNotFoundError(f"{src}: not a firefly dataset folder (README.md and data/ expected)")
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(src, out, ignore=shutil.ignore_patterns(".*", "*.tmp"))
    return out


def stage_results(results: Path, out: Path, page: Path | None = None) -> Path:
    """Repo folder for the results table: results.parquet, table.md/csv, index.html, README.md."""
    from firefly_eval.leaderboard.collect import load_results, published_rows
    from firefly_eval.leaderboard.page import render_page
    from firefly_eval.leaderboard.table import build_tables, to_csv, to_markdown

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copy(results, out / "results.parquet")
    rows = load_results(results) + published_rows()
    tables = build_tables(rows)
    (out / "table.md").write_text(to_markdown(tables))
    (out / "table.csv").write_text(to_csv(tables))
    render_page(rows, out / "index.html")
    (out / "README.md").write_text("---\nlicense: mit\ntags:\n- leaderboard\n- tool-use\n---\n"
                                   "# firefly-eval results\n\n" + to_markdown(tables))
    return out


def publish_folder(folder: Path, repo: str, repo_type: str = "dataset", token: str | None = None,
                   fleet: str | Path | None = None, message: str = "firefly-eval upload") -> dict[str, Any]:
    """Scan, then push ``folder`` to ``repo``; returns the commit info (or a skip note)."""
    secrets = find_secrets(folder, fleet)
    if secrets:
        raise SecretFound("refusing to push, secrets found: " + "; ".join(secrets[:10]))
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo, repo_type=repo_type, exist_ok=True)
    info = api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type=repo_type, commit_message=message)
    return {"commit": getattr(info, "oid", None), "url": str(getattr(info, "commit_url", info))}
