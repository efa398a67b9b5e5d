"""``firefly publish dataset|results``: push to the Hugging Face Hub, refusing secrets."""

from __future__ import annotations

from pathlib import Path

import typer

from firefly_eval.cli.common import FleetOpt, console

__all__ = ["pub_app"]

pub_app = typer.Typer(help="Push a dataset or the results table to the Hugging Face Hub (secrets refused).",
                      no_args_is_help=True)


def _publish(folder: Path, repo: str, dry_run: bool, fleet: Path | None) -> None:
    from firefly_eval.leaderboard.publish import SecretFound, find_secrets, publish_folder

    if dry_run:
        secrets = find_secrets(folder, fleet)
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        console.print(f"dry run: would push {len(files)} files from {folder} to {repo}:")
        for f in files:
            console.print(f"  {f}")
        if secrets:
            console.print(f"[red]secrets found, a real push would be refused:[/red] {secrets}")
            raise typer.Exit(1)
        return
    try:
        console.print(publish_folder(folder, repo, fleet=fleet))
    except SecretFound as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None


@pub_app.command("dataset")
def publish_dataset(run: Path = typer.Argument(..., help="Run directory or dataset folder."),
                    repo: str = typer.Option(..., "--repo", help="ORG/NAME on the Hub."),
                    dry_run: bool = typer.Option(False, "--dry-run", help="Stage and list, push nothing."),
                    stage: Path = typer.Option(Path("results/publish-dataset"), help="Staging folder."),
                    fleet: Path | None = FleetOpt) -> None:
    """Push a generated dataset (card, splits, calls table, tool specs)."""
    from firefly_eval.leaderboard.publish import stage_dataset

    _publish(stage_dataset(run, stage), repo, dry_run, fleet)


@pub_app.command("results")
def publish_results(repo: str = typer.Option(..., "--repo", help="ORG/NAME on the Hub."),
                    results: Path = typer.Option(Path("results/results.parquet"), "--results"),
                    dry_run: bool = typer.Option(False, "--dry-run", help="Stage and list, push nothing."),
                    stage: Path = typer.Option(Path("results/publish-results"), help="Staging folder."),
                    fleet: Path | None = FleetOpt) -> None:
    """Push the results table (Parquet, markdown, CSV, HTML page)."""
    from firefly_eval.leaderboard.publish import stage_results

    _publish(stage_results(results, stage), repo, dry_run, fleet)
