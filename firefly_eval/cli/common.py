"""What every command module shares: the console, the ``--fleet`` option, fleet loading, progress bars."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:  # the schema pulls pydantic; `firefly --help` stays light
    from firefly_eval.schema import ServerSpec

__all__ = ["FleetOpt", "console", "load_specs", "stage_progress"]

console = Console()

FleetOpt = typer.Option(None, "--fleet", "-f", help="Fleet file (mcpServers JSON). Default: the shipped offline fleet.")


def load_specs(fleet: Path | None) -> list[ServerSpec]:
    """Load a fleet file (None: the shipped fleet); a bad file prints the error and exits with status 2."""
    from firefly_eval.mcp.config import FleetConfigError, load_fleet

    try:
        return load_fleet(fleet)
    except FleetConfigError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def stage_progress(*columns: TextColumn) -> Progress:
    """A progress display with a bar, done/total and elapsed time; ``columns`` go before and after the bar."""
    head, tail = (columns[0],), columns[1:]
    return Progress(*head, BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), *tail, console=console)
