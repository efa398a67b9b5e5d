"""Publish a generated dataset or the results table to the Hugging Face Hub.

The repo folder is staged locally first (``--dry-run`` stops there and shows it), scanned for
secrets and only then pushed with ``HfApi.upload_folder``; the Hub skips unchanged files, so
pushing the same content again makes no new commit.

The scan (:mod:`secret_scan`) reads decoded content (parquet cells, JSON values, text lines) with
detect-secrets plus the values of every ``${VAR}`` the fleet references: the fleet recorded in the
run's ``config.json`` (the one that produced the data) and any ``--fleet`` given. A referenced
variable that is unset here cannot be checked: the scan refuses unless ``allow_unverified``.

A stage folder is only ever one this module created (a ``.firefly-stage.json`` manifest in it): an
existing non-empty folder without it, a folder holding files the manifest does not list, and the
dataset or run directory itself are refused, never emptied.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from firefly_eval.leaderboard.secret_scan import Hit, scan_folder
from firefly_eval.mcp.config import load_fleet, referenced_variables, secret_values

__all__ = ["STAGE_MARKER", "SecretFound", "StageError", "UnverifiedScan", "find_secrets", "publish_folder",
           "scan_hits", "stage_dataset", "stage_results"]

STAGE_MARKER = ".firefly-stage.json"


class SecretFound(RuntimeError):
    """A file about to be pushed contains a secret; nothing was pushed."""


class UnverifiedScan(RuntimeError):
    """The scan cannot check a secret the fleet references (the variable is unset here)."""


class StageError(RuntimeError):
    """The stage folder is not one firefly may write into."""


def _recorded_fleets(folder: Path) -> list[str]:
    """Fleet files recorded for a staged folder ("" = the default fleet), from its manifest."""
    marker = folder / STAGE_MARKER
    if not marker.exists():
        return []
    return [f for f in json.loads(marker.read_text()).get("fleets", [])]


def _needles(folder: Path, fleet: str | Path | None) -> tuple[dict[str, str], list[str]]:
    """(description -> secret value, reasons the scan cannot be complete)."""
    sources = [str(fleet)] if fleet else []
    sources += [f for f in _recorded_fleets(folder) if f not in sources]
    if not sources:
        sources = [""]  # nothing recorded, nothing given: the shipped fleet
    needles: dict[str, str] = {}
    unverified: list[str] = []
    for src in sources:
        try:
            specs = load_fleet(None if src in ("", "default") else src)  # a run records "default" for the shipped fleet
        except Exception as exc:  # noqa: BLE001 - a fleet that cannot be read cannot be checked
            unverified.append(f"fleet {src or '(default)'} cannot be read ({exc})")
            continue
        for var, servers in referenced_variables(specs).items():
            if not os.environ.get(var):
                unverified.append(f"${{{var}}} (server {', '.join(servers)}) is not set here")
        for spec in specs:
            for name, value in secret_values(spec).items():
                needles[f"${{{name}}} of server {spec.name}"] = value
    return needles, unverified


def scan_hits(folder: Path, fleet: str | Path | None = None, extra: dict[str, str] | None = None,
              allow_unverified: bool = False) -> list[Hit]:
    """Every secret in ``folder`` with file, row and column; raises :class:`UnverifiedScan` when a
    referenced variable is unset (so its value cannot be looked for), unless ``allow_unverified``."""
    needles, unverified = _needles(folder, fleet)
    if unverified and not allow_unverified:
        raise UnverifiedScan("cannot check for every secret the fleet uses: " + "; ".join(unverified)
                             + " (set the variables, or pass --allow-unverified)")
    return scan_folder(folder, {**needles, **(extra or {})}, skip={STAGE_MARKER})


def find_secrets(folder: Path, fleet: str | Path | None = None, extra: dict[str, str] | None = None,
                 allow_unverified: bool = False) -> list[str]:
    """:func:`scan_hits` as lines ``FILE row R column C: KIND``."""
    return [str(h) for h in scan_hits(folder, fleet, extra, allow_unverified)]


def _resolved(p: Path) -> Path:
    return Path(os.path.realpath(p))


def _open_stage(out: Path, protected: list[Path], fleets: list[str]) -> Path:
    """Make ``out`` an empty stage folder firefly owns, or refuse (nothing is deleted but what a
    previous staging wrote there, as its manifest lists)."""
    target = _resolved(out)
    for p in map(_resolved, protected):
        if target == p or p in target.parents or target in p.parents:
            raise StageError(f"{out}: the stage folder may not be, contain or lie inside {p}")
    marker = out / STAGE_MARKER
    if out.exists() and not out.is_dir():
        raise StageError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not marker.exists():
            raise StageError(f"{out}: not empty and not a stage folder firefly created; choose another --stage")
        listed = set(json.loads(marker.read_text()).get("files", [])) | {STAGE_MARKER}
        present = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() or p.is_symlink()}
        foreign = sorted(present - listed)
        if foreign:
            raise StageError(f"{out}: holds files firefly did not stage ({', '.join(foreign[:5])}); "
                             "choose another --stage")
        for rel in sorted(present - {STAGE_MARKER}):
            (out / rel).unlink()
        for d in sorted((p for p in out.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            d.rmdir()
    out.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"created_by": "firefly publish", "fleets": fleets, "files": []}))
    return out


def _close_stage(out: Path) -> Path:
    """Record in the manifest what was staged (what a later staging may replace)."""
    marker = out / STAGE_MARKER
    data = json.loads(marker.read_text())
    data["files"] = sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                           if p.is_file() and p.name != STAGE_MARKER)
    marker.write_text(json.dumps(data, indent=1))
    return out


def _run_fleets(src: Path) -> list[str]:
    """The fleet file recorded in the run's config.json ("" = default fleet), if ``src`` is a run's dataset."""
    for cfg in (src / "config.json", src.parent / "config.json"):
        if cfg.exists():
            try:
                return [str(json.loads(cfg.read_text()).get("fleet_file") or "")]
            except (json.JSONDecodeError, AttributeError):
                return []
    return []


def stage_dataset(run_or_dataset: Path, out: Path) -> Path:
    """The exact repo folder for a dataset: data/, calls/, tools.jsonl, meta.json, report.json, README.md."""
    src = run_or_dataset / "dataset" if (run_or_dataset / "dataset").is_dir() else run_or_dataset
    if not (src / "README.md").exists() or not (src / "data").is_dir():
        raise FileNotFoundError(f"{src}: not a firefly dataset folder (README.md and data/ expected)")
    protected = [src, run_or_dataset] + ([src.parent] if (src.parent / "config.json").exists() else [])
    _open_stage(out, protected, _run_fleets(src))
    shutil.copytree(src, out, ignore=shutil.ignore_patterns(".*", "*.tmp"), dirs_exist_ok=True)
    return _close_stage(out)


def stage_results(results: Path, out: Path, page: Path | None = None) -> Path:
    """Repo folder for the results table: results.parquet, table.md/csv, index.html, README.md."""
    from firefly_eval.leaderboard.collect import load_results, published_rows
    from firefly_eval.leaderboard.page import render_page
    from firefly_eval.leaderboard.table import build_tables, to_csv, to_markdown

    _open_stage(out, [results], [])
    shutil.copy(results, out / "results.parquet")
    rows = load_results(results) + published_rows()
    tables = build_tables(rows)
    (out / "table.md").write_text(to_markdown(tables))
    (out / "table.csv").write_text(to_csv(tables))
    render_page(rows, out / "index.html")
    (out / "README.md").write_text("---\nlicense: mit\ntags:\n- leaderboard\n- tool-use\n---\n"
                                   "# firefly-eval results\n\n" + to_markdown(tables))
    return _close_stage(out)


def publish_folder(folder: Path, repo: str, repo_type: str = "dataset", token: str | None = None,
                   fleet: str | Path | None = None, message: str = "firefly-eval upload",
                   allow_unverified: bool = False) -> dict[str, Any]:
    """Scan, then push ``folder`` to ``repo``; returns the commit info (or a skip note)."""
    secrets = find_secrets(folder, fleet, allow_unverified=allow_unverified)
    if secrets:
        raise SecretFound(f"refusing to push, {len(secrets)} secret(s) found: " + "; ".join(secrets[:10]))
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo, repo_type=repo_type, exist_ok=True)
    info = api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type=repo_type, commit_message=message,
                             ignore_patterns=[STAGE_MARKER])
    return {"commit": getattr(info, "oid", None), "url": str(getattr(info, "commit_url", info))}
