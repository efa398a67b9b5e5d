"""``firefly leaderboard collect|table|page``: Inspect logs to result rows, tables and a static page."""

from __future__ import annotations

from pathlib import Path

import typer

from firefly_eval.cli.common import console

__all__ = ["lb_app"]

lb_app = typer.Typer(help="Turn Inspect logs into the paper's tables and a static page.", no_args_is_help=True)
results_opt = typer.Option(Path("runs/results.parquet"), "--results", help="Result rows (Parquet), merged across collects.")


@lb_app.command("collect")
def lb_collect(logs: list[Path] = typer.Argument(..., help="Log folders or .eval files."),
               results: Path = results_opt) -> None:
    """Read Inspect .eval logs into result rows (re-collecting the same logs adds nothing)."""
    from firefly_eval.leaderboard.collect import collect_logs, save_results

    rows = collect_logs(logs)
    added = save_results(rows, results)
    console.print(f"{len(rows)} rows read, {added} new; wrote {results}")


@lb_app.command("table")
def lb_table(results: Path = results_opt,
             csv_out: Path | None = typer.Option(None, "--csv", help="Also write CSV."),
             md_out: Path | None = typer.Option(None, "--md", help="Also write markdown.")) -> None:
    """The paper's tables: measured rows beside published reference numbers."""
    from firefly_eval.leaderboard.collect import load_results, published_rows
    from firefly_eval.leaderboard.table import (
        build_tables,
        cost_per_success,
        manifest_warnings,
        to_csv,
        to_markdown,
    )

    rows = load_results(results) + published_rows()
    tables = build_tables(rows)
    md = to_markdown(tables)
    console.print(md)
    for w in manifest_warnings(rows):
        console.print(f"[yellow]warning:[/yellow] {w}")
    for (bench, model), usd in cost_per_success(rows).items():
        console.print(f"cost per success {bench} {model}: ${usd:.4f}")
    if csv_out:
        csv_out.write_text(to_csv(tables))
        console.print(f"wrote {csv_out}")
    if md_out:
        md_out.write_text(md)
        console.print(f"wrote {md_out}")


@lb_app.command("page")
def lb_page(results: Path = results_opt, out: Path = typer.Option(Path("runs/leaderboard.html"), "--out",
                                                              help="The HTML page to write.")) -> None:
    """A static HTML page (tables + plots) that opens from disk."""
    from firefly_eval.leaderboard.collect import load_results, published_rows
    from firefly_eval.leaderboard.page import render_page

    console.print(f"wrote {render_page(load_results(results) + published_rows(), out)}")
