"""``firefly graph build|sample|stats``: the tool graph and sub-DAG plans."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from firefly_eval.cli.common import FleetOpt, console, load_specs

__all__ = ["graph_app"]

graph_app = typer.Typer(help="Build the tool graph and sample sub-DAG plans.", no_args_is_help=True)


@graph_app.command("build")
def graph_build(fleet: Path | None = FleetOpt,
                catalog: Path | None = typer.Option(None, help="A catalog JSONL(.gz) of servers with tools."),
                out: Path = typer.Option(Path("graph.json"), help="Where to write the graph."),
                judge: str | None = typer.Option(None, help="Inspect model that rates candidate pairs "
                                                            "(which ones: --judge-scope)."),
                judge_budget: int = typer.Option(2000, help="Max pairs sent to the judge."),
                judge_scope: str = typer.Option(
                    "uncertain", metavar="[uncertain|all]", help="uncertain: rate the candidates the relation rule did not admit (cues "
                                      "only); all: also rate the kept edges and drop those rated low (more "
                                      "calls; precision of the rule: benchmarks/graph_quality.py)."),
                judge_cache: Path = typer.Option(Path(".firefly/judge-cache/graph-build.jsonl"),
                                                 help="Verdict cache (keyed by model and prompt version; "
                                                      "benchmarks keep their own)."),
                max_connections: int = typer.Option(8, help="Judge calls in flight."),
                embed: bool = typer.Option(False, "--embed", help="Add embedding neighbours (extra `embed`)."),
                embed_backend: str = typer.Option(
                    "static", metavar="[static|minilm]", help="static: model2vec distilled once from the packaged MiniLM (fast); "
                                   "minilm: the full transformer (slower).")) -> None:
    """Build the tool graph from a live fleet or a schema catalog (cheap scorers, optional LLM judge)."""
    import asyncio
    import time

    from firefly_eval.generation.catalog import load_catalog
    from firefly_eval.generation.graph import build_graph, save_graph

    if catalog:
        tools = load_catalog(catalog)
    else:
        from firefly_eval.mcp.fleet import Fleet

        async def discover():
            fl = Fleet(load_specs(fleet))
            try:
                await fl.start()
                return list(fl.tools.values())
            finally:
                await fl.close()

        tools = asyncio.run(discover())
    t0 = time.perf_counter()
    from firefly_eval.generation.graph import GraphConfig

    if embed_backend not in ("static", "minilm"):
        raise typer.BadParameter(f"--embed-backend must be static or minilm, not {embed_backend!r}")
    g = build_graph(tools, GraphConfig(embed=embed, embed_backend=embed_backend, embed_cache=".firefly/embed-cache"))
    g.stats["seconds"] = round(time.perf_counter() - t0, 2)
    if judge:
        from firefly_eval.generation.edge_judge import apply_judge

        if judge_scope not in ("uncertain", "all"):
            raise typer.BadParameter(f"--judge-scope must be uncertain or all, not {judge_scope!r}")
        g.edges, rep = apply_judge(g.edges, g.uncertain, {t.key: t for t in tools}, judge, judge_budget,
                                   judge_cache, scope=judge_scope, concurrency=max_connections)
        g.stats["edges"] = len(g.edges)
        g.stats["judge"] = {"scope": judge_scope, "judged": rep.judged, "cached": rep.cached,
                            "malformed": rep.malformed, "verdicts": rep.verdicts, "kept": len(rep.kept),
                            "rejected": len(rep.rejected), "errors": rep.errors,
                            "usage": rep.usage.usage.get("judge", {}),
                            "judged_per_tool": round((rep.judged + rep.cached) / max(len(tools), 1), 2)}
    save_graph(g, out)
    console.print(g.stats)
    if judge and rep.errors:
        console.print(f"[yellow]{rep.errors} judge call(s) failed ({rep.error}); those pairs keep the cheap "
                      f"scorers' verdict. Re-run to judge them: the {rep.judged} verdict(s) paid for are in "
                      f"{judge_cache}.[/yellow]", markup=True)


@graph_app.command("sample")
def graph_sample(graph: Path = typer.Option(Path("graph.json"), help="A graph from `firefly graph build`."),
                 n: int = typer.Option(100, "-n", help="Plans to sample."),
                 seed: int = typer.Option(0, help="Sampling seed (same seed, same plans)."),
                 out: Path = typer.Option(Path("plans.jsonl"), help="Where to write the plans.")) -> None:
    """Sample sub-DAG plans (deterministic for a seed)."""
    from firefly_eval.generation.graph import load_graph
    from firefly_eval.generation.sampling import coverage, sample_plans

    g = load_graph(graph)
    plans = sample_plans(g, n, seed=seed)
    out.write_text("".join(p.model_dump_json() + "\n" for p in plans))
    console.print(coverage(g, plans))


@graph_app.command("stats")
def graph_stats(graph: Path = typer.Option(Path("graph.json"), help="A graph from `firefly graph build`."),
                n: int = typer.Option(500, "-n", help="Plans sampled to measure coverage."),
                png: Path = typer.Option(Path("graph-stats.png"), help="Plot of degrees and patterns.")) -> None:
    """Print graph and coverage statistics; write a PNG of degree and pattern distributions."""
    from firefly_eval.generation.graph import load_graph, plot_stats
    from firefly_eval.generation.sampling import coverage, sample_plans

    g = load_graph(graph)
    plans = sample_plans(g, n)
    table = Table("figure", "value")
    for k, v in {**g.stats, **coverage(g, plans)}.items():
        table.add_row(k, json.dumps(v))
    console.print(table)
    plot_stats(g, plans, png)
    console.print(f"plot: {png}")
