"""``firefly publish dataset|results``: push to the Hugging Face Hub, refusing secrets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from firefly_eval.cli.common import FleetOpt, console

__all__ = ["pub_app"]

pub_app = typer.Typer(help="Push a dataset or the results table to the Hugging Face Hub (secrets refused).",
                      no_args_is_help=True)


AllowUnverifiedOpt = typer.Option(False, "--allow-unverified",
                                  help="Publish even if a ${VAR} the fleet uses is unset here (its value cannot be looked for).")


def _publish(stage: Callable[[], Path], repo: str, dry_run: bool, fleet: Path | None,
             allow_unverified: bool = False) -> None:
    from firefly_eval.leaderboard.publish import (
        STAGE_MARKER,
        SecretFound,
        StageError,
        UnverifiedScan,
        find_secrets,
        publish_folder,
    )

    try:
        folder = stage()
        if dry_run:
            secrets = find_secrets(folder, fleet, allow_unverified=allow_unverified)
            files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != STAGE_MARKER)
            console.print(f"dry run: would push {len(files)} files from {folder} to {repo}:")
            for f in files:
                console.print(f"  {f}")
            if secrets:
                console.print(f"[red]{len(secrets)} secret(s) found, a real push would be refused:[/red]")
                for s in secrets:
                    console.print(f"  {s}")
                raise typer.Exit(1)
            return
        console.print(publish_folder(folder, repo, fleet=fleet, allow_unverified=allow_unverified))
    except (SecretFound, StageError, UnverifiedScan) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


@pub_app.command("dataset")
def publish_dataset(run: Path = typer.Argument(..., help="Run directory or dataset folder."),
                    repo: str = typer.Option(..., "--repo", help="ORG/NAME on the Hub."),
                    dry_run: bool = typer.Option(False, "--dry-run", help="Stage and list, push nothing."),
                    stage: Path = typer.Option(Path("runs/publish-dataset"),
                                               help="Staging folder (created by firefly; a foreign folder is refused)."),
                    fleet: Path | None = FleetOpt, allow_unverified: bool = AllowUnverifiedOpt) -> None:
    """Push a generated dataset (card, splits, calls table, tool specs)."""
    from firefly_eval.leaderboard.publish import stage_dataset

    _publish(lambda: stage_dataset(run, stage), repo, dry_run, fleet, allow_unverified)


@pub_app.command("results")
def publish_results(repo: str = typer.Option(..., "--repo", help="ORG/NAME on the Hub."),
                    results: Path = typer.Option(Path("runs/results.parquet"), "--results",
                                                 help="Result rows from `firefly leaderboard collect`."),
                    dry_run: bool = typer.Option(False, "--dry-run", help="Stage and list, push nothing."),
                    stage: Path = typer.Option(Path("runs/publish-results"),
                                               help="Staging folder (created by firefly; a foreign folder is refused)."),
                    fleet: Path | None = FleetOpt, allow_unverified: bool = AllowUnverifiedOpt) -> None:
    """Push the results table (Parquet, markdown, CSV, HTML page)."""
    from firefly_eval.leaderboard.publish import stage_results

    _publish(lambda: stage_results(results, stage), repo, dry_run, fleet, allow_unverified)
