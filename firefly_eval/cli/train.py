"""``firefly train``: GRPO training with simulator-backed rollouts (the ``train`` extra)."""

from __future__ import annotations

from pathlib import Path

import typer

from firefly_eval.cli.common import console

__all__ = ["train_cmd"]


def train_cmd(config: Path = typer.Option(..., "--config", help="YAML (see training/configs/)."),
              max_steps: int | None = typer.Option(None, "--max-steps", help="Override max_steps."),
              output_dir: str | None = typer.Option(None, "--output-dir", help="Override output_dir."),
              dry_run: bool = typer.Option(False, "--dry-run", help="Build everything but the weights and print the "
                                           "plan (JSON); needs no GPU.")) -> None:
    """GRPO training with simulator-backed rollouts (needs the `train` extra: make install-train)."""
    try:  # not silent: a missing extra is reported with the command that installs it
        from firefly_eval.training.config import load_config
        from firefly_eval.training.train import plan, train
    except ImportError as exc:
        console.print(f"[red]error:[/red] training needs the `train` extra ({exc}); run `make install-train`")
        raise typer.Exit(2) from None
    cfg = load_config(config, dry_run=dry_run, max_steps=max_steps, output_dir=output_dir)
    if dry_run:
        import json

        typer.echo(json.dumps(plan(cfg), indent=1, default=str))
        return
    console.print(f"checkpoint: {train(cfg)}")
