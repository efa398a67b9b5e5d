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


def _prices(price: list[str]) -> dict[str, list[float]]:
    """``--price MODEL=IN,OUT`` options as {model: [$/M input, $/M output]}."""
    try:
        prices = {m: [float(x) for x in v.split(",")] for m, v in (p.rsplit("=", 1) for p in price)}
        if any(len(v) != 2 for v in prices.values()):
            raise ValueError
    except ValueError:
        console.print(f"[red]error:[/red] --price must be MODEL=IN,OUT ($ per million tokens), got {price!r}")
        raise typer.Exit(2) from None
    return prices


def _llm_rows(table: Table, llm: dict) -> None:
    """Model calls and tokens per stage, and the cost where prices are known."""
    if llm.get("usage"):
        table.add_row("llm [calls, tokens]", json.dumps({k: [u["calls"], u["total_tokens"]]
                                                         for k, u in llm["usage"].items()}))
    if llm.get("cost_usd"):
        table.add_row("cost (USD)", json.dumps({**llm["cost_usd"], "per kept task": llm.get("cost_per_kept_task_usd")}))


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
    executor: str = typer.Option("local", metavar="[local|ray]", help="local (asyncio, one fleet) or ray (one fleet per worker)."),
    workers: int = typer.Option(1, help="Ray workers."),
    ray_address: str | None = typer.Option(None, help="Ray cluster: auto or ray://host:10001 "
                                                      "(default: start a local instance)."),
    cards: list[Path] = typer.Option([], "--cards", help="Folder of tool cards (firefly fleet cards --out); "
                                                       "curated cards of the default fleet are always read."),
    max_server_share: float = typer.Option(0.15, help="No server in more than this share of the kept tasks "
                                                      "(computed once from the total; any server may "
                                                      "keep 5)."),
    max_connections: int = typer.Option(1, min=1, help="Plans in flight on the local executor (never two on one "
                                                       "stateful server; stateless servers are shared; results "
                                                       "equal the sequential run's) and calls in "
                                                       "flight to each model. Raise it (e.g. 8) with model roles."),
    judge_on_malformed: str = typer.Option("drop", help="A --judge reply that does not parse: drop the task "
                                                        "(counted as dropped_judge_malformed) or keep it."),
    price: list[str] = typer.Option([], "--price", help="MODEL=IN,OUT: $ per million input/output tokens, for "
                                                       "the cost per kept task in summary.json (default: "
                                                       "Inspect's model database, where it has the model)."),
    force: bool = typer.Option(False, "--force", help="Discard what --out holds (a run of other settings or "
                                                      "another fleet) and start again."),
    allow_host_code: bool = typer.Option(False, "--allow-host-code",
                                         help="Let a model explorer drive servers marked firefly.host_code "
                                              "(they run code on this machine)."),
) -> None:
    """Explore sampled plans on the live fleet, write tasks backward, verify, build the dataset."""
    from firefly_eval.generation.dataset import EmptyDatasetError
    from firefly_eval.generation.pipeline import GenerateConfig, GenerateError, generate

    specs = load_specs(fleet)
    if explorer:
        try:
            refuse_host_code(specs, "generate --explorer MODEL", allow=allow_host_code)
        except HostCodeRefused as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    if judge_on_malformed not in ("drop", "keep"):
        console.print(f"[red]error:[/red] --judge-on-malformed must be drop or keep, got {judge_on_malformed!r}")
        raise typer.Exit(2)
    prices = _prices(price)
    cfg = GenerateConfig(n_plans=n, seed=seed, test_share=test_share, fleet_file=str(fleet or "default"),
                         explorer=explorer, synthesizer=synthesizer, judge=judge, executor=executor, workers=workers,
                         ray_address=ray_address, cards_dirs=[str(c) for c in cards],
                         max_server_share=max_server_share, max_connections=max_connections,
                         judge_on_malformed=judge_on_malformed, prices=prices)
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

        try:
            summary = generate(out, specs, cfg, progress=report, force=force)
        except GenerateError as exc:
            progress.stop()
            console.print(f"error: {exc}", markup=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except EmptyDatasetError as exc:  # every kept task failed the dataset's replay check
            progress.stop()
            from firefly_eval.generation.pipeline import _set_aside

            aside = _set_aside(out)
            console.print(f"error: {exc}; its plans and shards moved to {aside} so a re-run samples again",
                          markup=False, soft_wrap=True)
            raise typer.Exit(1) from None
    for name, why in summary.get("servers_failed", {}).items():
        console.print(f"warning: server {name} is down: {why}", markup=False, soft_wrap=True)
    for name, why in summary.get("stateful", {}).items():
        console.print(f"{name}: {why}", markup=False)
    if summary.get("plans_note"):
        console.print(summary["plans_note"], markup=False, soft_wrap=True)
    table = Table("figure", "value")
    for key in ("counts", "patterns", "mean_calls_per_task", "multi_server_share", "tool_coverage", "filters",
                "seconds", "servers_up", "tools"):
        table.add_row(key, json.dumps(summary.get(key), default=str))
    _llm_rows(table, summary.get("llm", {}))
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
