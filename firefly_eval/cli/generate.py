"""``firefly generate``: explore plans on the live fleet, write tasks backward, verify, build the dataset."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import TextColumn
from rich.table import Table

from firefly_eval.cli.common import FleetOpt, console, load_specs, stage_progress
from firefly_eval.mcp.config import HostCodeRefused, refuse_host_code

__all__ = ["generate_cmd"]


def generate_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Run directory (re-run the same command to resume)."),
    n: int = typer.Option(100, "-n", help="Number of plans to explore."),
    fleet: Path | None = FleetOpt,
    seed: int = typer.Option(0, help="Sampling seed."),
    test_share: float = typer.Option(0.2, help="Share of tool combinations that go to the test split."),
    explorer: str | None = typer.Option(None, help="Inspect model that explores the plans (default: offline "
                                                   "schema-guided explorer)."),
    synthesizer: str | None = typer.Option(None, help="Inspect model that writes the questions (default: "
                                                      "template synthesizer)."),
    judge: str | None = typer.Option(None, help="Inspect model rating each kept task on five quality criteria."),
    executor: str = typer.Option("local", help="local (asyncio, one fleet) or ray (one fleet per worker)."),
    workers: int = typer.Option(1, help="Ray workers."),
    ray_address: str | None = typer.Option(None, help="Ray cluster: auto or ray://host:10001 "
                                                      "(default: start a local instance)."),
    cards: list[Path] = typer.Option([], "--cards", help="Folder of tool cards (firefly fleet cards --out); "
                                                       "curated cards of the default fleet are always read."),
    max_server_share: float = typer.Option(0.15, help="No server in more than this share of the kept tasks "
                                                      "(computed once from the total)."),
    allow_host_code: bool = typer.Option(False, "--allow-host-code",
                                         help="Let a model explorer drive servers marked firefly.host_code "
                                              "(they run code on this machine)."),
) -> None:
    """Explore sampled plans on the live fleet, write tasks backward, verify, build the dataset."""
    from firefly_eval.generation.pipeline import GenerateConfig, generate

    specs = load_specs(fleet)
    if explorer:
        try:
            refuse_host_code(specs, "generate --explorer MODEL", allow=allow_host_code)
        except HostCodeRefused as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    cfg = GenerateConfig(n_plans=n, seed=seed, test_share=test_share, fleet_file=str(fleet or "default"),
                         explorer=explorer, synthesizer=synthesizer, judge=judge, executor=executor, workers=workers,
                         ray_address=ray_address, cards_dirs=[str(c) for c in cards],
                         max_server_share=max_server_share)
    if executor not in ("local", "ray"):
        console.print(f"[red]error:[/red] --executor must be local or ray, got {executor!r}")
        raise typer.Exit(2)
    with stage_progress(TextColumn("[bold]{task.description}")) as progress:
        bars: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                bars[stage] = progress.add_task(stage, total=max(total, 1), completed=done)
            elif total < 0:
                progress.advance(bars[stage], done)
            else:
                progress.update(bars[stage], completed=done, total=total)

        summary = generate(out, specs, cfg, progress=report)
    table = Table("figure", "value")
    for key in ("counts", "patterns", "mean_calls_per_task", "multi_server_share", "tool_coverage", "filters",
                "seconds", "servers_up", "tools"):
        table.add_row(key, json.dumps(summary.get(key), default=str))
    console.print(table)
    funnel = summary.get("tool_funnel", {}).get("stages", {})
    if funnel:
        console.print("tools by the last stage they reached: "
                      + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in funnel.items())
                      + f" (per server and examples: {out / 'summary.json'} -> tool_funnel)", markup=False)
    console.print(f"dataset: {out / 'dataset'}")
    if summary.get("plans_failed"):
        console.print(f"[yellow]{summary['plans_failed']} plan(s) raised an internal error and were not written "
                      f"(re-run the same command to retry them; details in {out / 'summary.json'}):[/yellow]")
        for line in summary.get("plan_failures", [])[:5]:
            console.print(f"  {line}", markup=False)
