"""``firefly doctor``: pre-flight a model on canary tasks (parsable tool calls, a valid submit)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from firefly_eval.cli.common import console

__all__ = ["doctor"]


def doctor(model: str = typer.Option(..., "--model", "-m", help="Inspect model name, e.g. vllm/Qwen/Qwen3-4B."),
           n: int = typer.Option(3, "-n", help="Canary tasks."),
           log_dir: Path = typer.Option(Path("logs/doctor"), help="Where the canary eval log goes.")) -> None:
    """Pre-flight a model on 3 canary tasks: parsable tool calls and a valid submit."""
    from firefly_eval.tasks.heldout.doctor import run_doctor

    checks = run_doctor(model, n=n, log_dir=str(log_dir))
    table = Table("check", "result", "detail")
    for c in checks:
        table.add_row(c.name, "[green]ok[/green]" if c.ok else "[red]FAIL[/red]", c.detail)
    console.print(table)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)
