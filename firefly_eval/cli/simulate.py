"""``firefly simulate``: serve recorded calls over MCP stdio; ``drift`` and ``fidelity`` reports."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from firefly_eval.cli.common import FleetOpt, console, load_specs

__all__ = ["sim_app"]

sim_app = typer.Typer(help="Replay recorded calls. `firefly simulate --calls DATASET` serves them as an MCP "
                           "stdio server; subcommands report fidelity.", invoke_without_command=True)


@sim_app.callback()
def simulate(ctx: typer.Context,
             calls: Path | None = typer.Option(None, "--calls", help="Dataset folder or calls file to serve."),
             exact_only: bool = typer.Option(False, "--exact-only", help="Strict replay (no fuzzy tier)."),
             threshold: float = typer.Option(90.0, help="Fuzzy tier threshold (0-100)."),
             adapter: str | None = typer.Option(None, help="Inspect model adapting fuzzy-tier results."),
             miss_policy: str = typer.Option("error", metavar="[error|simulate|live]", help="error | simulate (needs --simulator-model) | live "
                                                           "(calls the real server; needs --fleet)."),
             fleet: Path | None = typer.Option(None, "--fleet", help="Fleet for --miss-policy live."),
             record_to: Path | None = typer.Option(None, help="Append live-recorded calls to this JSONL."),
             simulator_model: str | None = typer.Option(None, help="Inspect model writing results for misses."),
             allow_host_code: bool = typer.Option(False, "--allow-host-code",
                                                  help="Let --miss-policy live reach servers marked firefly.host_code "
                                                       "(they run code on this machine for any MCP client).")) -> None:
    """Serve recorded calls over MCP stdio (any MCP client can connect)."""
    if ctx.invoked_subcommand is not None:
        return
    if calls is None:
        console.print(ctx.get_help())
        raise typer.Exit(2)
    from firefly_eval.simulator.llm import llm_adapter, llm_simulator
    from firefly_eval.simulator.mcp_server import load_simulator, serve_stdio

    if miss_policy not in ("error", "simulate", "live") or (miss_policy == "simulate" and not simulator_model):
        console.print("[red]error:[/red] --miss-policy must be error, simulate (with --simulator-model) or live")
        raise typer.Exit(2)
    specs = None
    if miss_policy == "live":
        from firefly_eval.mcp.config import HostCodeRefused, refuse_host_code

        specs = load_specs(fleet)
        try:
            refuse_host_code(specs, "simulate --miss-policy live", allow_host_code)
        except HostCodeRefused as exc:
            console.print(f"error: {exc}", markup=False)
            raise typer.Exit(2) from None
    tiers = frozenset({"exact"}) if exact_only else frozenset({"exact", "fuzzy"})
    sim = load_simulator(calls, tiers=tiers, fuzzy_threshold=threshold)
    sim.miss_policy = miss_policy  # type: ignore[assignment]
    sim.adapt_fn = llm_adapter(adapter) if adapter else None
    sim.simulate_fn = llm_simulator(simulator_model) if simulator_model else None
    if miss_policy == "live":
        from firefly_eval.simulator.live import LiveFallback

        sim.live_fn = LiveFallback(specs, record_to)
    serve_stdio(sim)


@sim_app.command("drift")
def drift(calls: Path = typer.Option(..., "--calls", help="Dataset folder or calls parquet/jsonl."),
          fleet: Path | None = FleetOpt, n: int = typer.Option(200, "-n", help="Calls to re-probe.")) -> None:
    """Re-probe a sample of recorded calls on the live servers; report which results changed."""
    import asyncio

    from firefly_eval.simulator.drift import drift_report
    from firefly_eval.simulator.records import read_records

    src = calls / "calls" if (calls / "calls").is_dir() else calls
    console.print_json(json.dumps(asyncio.run(drift_report(read_records(src), load_specs(fleet), n))))


@sim_app.command("fidelity")
def fidelity(calls: Path | None = typer.Option(None, "--calls", help="Dataset folder or calls parquet/jsonl "
                                                                      "(--perturb: default the shipped held-out set)."),
             holdout: float = typer.Option(0.2, help="Share of records held out and replayed."),
             seed: int = typer.Option(0, help="Seed of the held-out draw."),
             perturb: bool = typer.Option(False, "--perturb", help="Change one argument of each recorded call at a "
                                                                   "time; count tiers and wrong successes.")) -> None:
    """Hold out recorded calls, replay them, report per tier answered share and exact-equality share."""
    from firefly_eval.simulator.fidelity import fidelity_report, perturbation_report

    if perturb:
        console.print_json(json.dumps(perturbation_report(calls)))
        return
    if calls is None:
        console.print("[red]error:[/red] --calls is required without --perturb")
        raise typer.Exit(2)
    console.print_json(json.dumps(fidelity_report(calls, holdout, seed)))
