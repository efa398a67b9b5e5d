"""``firefly doctor``: pre-flight a model on canary tasks (reached? parsable tool calls? a valid submit?)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from firefly_eval.cli.common import console

__all__ = ["doctor"]

_MARK = {"ok": "[green]ok[/green]", "fail": "[red]FAIL[/red]", "skipped": "[dim]skipped[/dim]"}


def doctor(model: str = typer.Option(..., "--model", "-m", help="Inspect model name, e.g. openai/gpt-4.1 or "
                                     "vllm/Qwen/Qwen3-4B."),
           model_base_url: str | None = typer.Option(None, "--model-base-url", help="Base URL of the model's "
                                                     "server (as in inspect eval), e.g. http://localhost:8000/v1."),
           n: int = typer.Option(3, "-n", "--samples", min=1, help="Canary tasks to run."),
           log_dir: Path = typer.Option(Path("runs/doctor"), "--log-dir", help="Where the canary eval log goes.")) -> None:
    """Pre-flight a model on 3 canary tasks: is it reached, do its tool calls parse, does it submit.

    Exit status 0 when every check passes, 1 otherwise. Open the log with `inspect view`.
    """
    from firefly_eval.tasks.heldout.doctor import run_doctor

    report = run_doctor(model, n=n, log_dir=str(log_dir), model_base_url=model_base_url)
    console.print(f"model: [bold]{report.model}[/bold]")
    table = Table("check", "result", "detail")
    for c in report.checks:
        table.add_row(c.name, _MARK[c.status], c.detail)
    console.print(table)
    if report.hint:
        console.print(f"hint: {report.hint}")
    colour = "green" if report.ok else "red"
    console.print(f"verdict: [{colour}]{report.verdict}[/{colour}]")
    if report.log_path:
        console.print(f"wrote {report.log_path} (inspect view --log-dir {log_dir})", soft_wrap=True)
    else:
        console.print("no log: the eval did not start")
    if not report.ok:
        raise typer.Exit(1)
