"""``firefly generate``, ``firefly graph ...`` and ``firefly simulate ...`` commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    from firefly_eval.cli import FleetOpt, _load, console

    graph_app = typer.Typer(help="Build the tool graph and sample sub-DAG plans.", no_args_is_help=True)
    sim_app = typer.Typer(help="Replay recorded calls. `firefly simulate --calls DATASET` serves them as an MCP "
                               "stdio server; subcommands report fidelity.", invoke_without_command=True)

    @sim_app.callback()
    def simulate(ctx: typer.Context,
                 calls: Optional[Path] = typer.Option(None, "--calls", help="Dataset folder or calls file to serve."),
                 exact_only: bool = typer.Option(False, "--exact-only", help="Strict replay (no fuzzy tier)."),
                 threshold: float = typer.Option(90.0, help="Fuzzy tier threshold (0-100)."),
                 adapter: Optional[str] = typer.Option(None, help="Inspect model adapting fuzzy-tier results."),
                 miss_policy: str = typer.Option("error", help="error | simulate (needs --simulator-model) | live "
                                                               "(calls the real server; needs --fleet)."),
                 fleet: Optional[Path] = typer.Option(None, "--fleet", help="Fleet for --miss-policy live."),
                 record_to: Optional[Path] = typer.Option(None, help="Append live-recorded calls to this JSONL."),
                 simulator_model: Optional[str] = typer.Option(None, help="Inspect model writing results for misses.")) -> None:
        """Serve recorded calls over MCP stdio (any MCP client can connect)."""
        if ctx.invoked_subcommand is not None:
            return
        if calls is None:
            console.print(ctx.get_help())
            raise typer.Exit(2)
        from firefly_eval.simulator.mcp_server import load_simulator, serve_stdio

        from firefly_eval.simulator.llm import llm_adapter, llm_simulator

        if miss_policy not in ("error", "simulate", "live") or (miss_policy == "simulate" and not simulator_model):
            console.print("[red]error:[/red] --miss-policy must be error, simulate (with --simulator-model) or live")
            raise typer.Exit(2)
        tiers = frozenset({"exact"}) if exact_only else frozenset({"exact", "fuzzy"})
        sim = load_simulator(calls, tiers=tiers, fuzzy_threshold=threshold)
        sim.miss_policy = miss_policy  # type: ignore[assignment]
        sim.adapt_fn = llm_adapter(adapter) if adapter else None
        sim.simulate_fn = llm_simulator(simulator_model) if simulator_model else None
        if miss_policy == "live":
            from firefly_eval.simulator.live import LiveFallback

            sim.live_fn = LiveFallback(_load(fleet), record_to)
        serve_stdio(sim)
    app.add_typer(graph_app, name="graph")
    app.add_typer(sim_app, name="simulate")
    pub_app = typer.Typer(help="Push a dataset or the results table to the Hugging Face Hub (secrets refused).",
                          no_args_is_help=True)
    app.add_typer(pub_app, name="publish")

    def _publish(folder: Path, repo: str, dry_run: bool, fleet: Optional[Path]) -> None:
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
                        fleet: Optional[Path] = FleetOpt) -> None:
        """Push a generated dataset (card, splits, calls table, tool specs)."""
        from firefly_eval.leaderboard.publish import stage_dataset

        _publish(stage_dataset(run, stage), repo, dry_run, fleet)

    @pub_app.command("results")
    def publish_results(repo: str = typer.Option(..., "--repo", help="ORG/NAME on the Hub."),
                        results: Path = typer.Option(Path("results/results.parquet"), "--results"),
                        dry_run: bool = typer.Option(False, "--dry-run", help="Stage and list, push nothing."),
                        stage: Path = typer.Option(Path("results/publish-results"), help="Staging folder."),
                        fleet: Optional[Path] = FleetOpt) -> None:
        """Push the results table (Parquet, markdown, CSV, HTML page)."""
        from firefly_eval.leaderboard.publish import stage_results

        _publish(stage_results(results, stage), repo, dry_run, fleet)

    lb_app = typer.Typer(help="Turn Inspect logs into the paper's tables and a static page.", no_args_is_help=True)
    app.add_typer(lb_app, name="leaderboard")
    results_opt = typer.Option(Path("results/results.parquet"), "--results", help="Result rows (Parquet).")

    @lb_app.command("collect")
    def lb_collect(logs: list[Path] = typer.Argument(..., help="Log folders or .eval files."),
                   results: Path = results_opt) -> None:
        """Read Inspect .eval logs into result rows (re-collecting the same logs adds nothing)."""
        from firefly_eval.leaderboard.collect import collect_logs, save_results

        rows = collect_logs(logs)
        added = save_results(rows, results)
        console.print(f"{len(rows)} rows read, {added} new, saved to {results}")

    @lb_app.command("table")
    def lb_table(results: Path = results_opt,
                 csv_out: Optional[Path] = typer.Option(None, "--csv", help="Also write CSV."),
                 md_out: Optional[Path] = typer.Option(None, "--md", help="Also write markdown.")) -> None:
        """The paper's tables: measured rows beside published reference numbers."""
        from firefly_eval.leaderboard.collect import load_results, published_rows
        from firefly_eval.leaderboard.table import build_tables, cost_per_success, manifest_warnings, to_csv, to_markdown

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
        if md_out:
            md_out.write_text(md)

    @lb_app.command("page")
    def lb_page(results: Path = results_opt, out: Path = typer.Option(Path("results/index.html"), "--out")) -> None:
        """A static HTML page (tables + plots) that opens from disk."""
        from firefly_eval.leaderboard.collect import load_results, published_rows
        from firefly_eval.leaderboard.page import render_page

        console.print(f"page: {render_page(load_results(results) + published_rows(), out)}")

    @app.command("generate")
    def generate_cmd(
        out: Path = typer.Option(..., "--out", "-o", help="Run directory (re-run the same command to resume)."),
        n: int = typer.Option(100, "-n", help="Number of plans to explore."),
        fleet: Optional[Path] = FleetOpt,
        seed: int = typer.Option(0, help="Sampling seed."),
        test_share: float = typer.Option(0.2, help="Share of tool combinations that go to the test split."),
        explorer: Optional[str] = typer.Option(None, help="Inspect model that explores the plans (default: offline "
                                                     "schema-guided explorer)."),
        synthesizer: Optional[str] = typer.Option(None, help="Inspect model that writes the questions (default: "
                                                        "template synthesizer)."),
        judge: Optional[str] = typer.Option(None, help="Inspect model rating each kept task on five quality criteria."),
        executor: str = typer.Option("local", help="local (asyncio, one fleet) or ray (one fleet per worker)."),
        workers: int = typer.Option(1, help="Ray workers."),
        ray_address: Optional[str] = typer.Option(None, help="Ray cluster: auto or ray://host:10001 "
                                                             "(default: start a local instance)."),
    ) -> None:
        """Explore sampled plans on the live fleet, write tasks backward, verify, build the dataset."""
        from firefly_eval.generation.pipeline import GenerateConfig, generate

        specs = _load(fleet)
        cfg = GenerateConfig(n_plans=n, seed=seed, test_share=test_share, fleet_file=str(fleet or "default"),
                             explorer=explorer, synthesizer=synthesizer, judge=judge, executor=executor, workers=workers,
                             ray_address=ray_address)
        if executor not in ("local", "ray"):
            console.print(f"[red]error:[/red] --executor must be local or ray, got {executor!r}")
            raise typer.Exit(2)
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as progress:
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

    @app.command("train")
    def train_cmd(config: Path = typer.Option(..., "--config", help="YAML (see training/configs/)."),
                  max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Override max_steps."),
                  output_dir: Optional[str] = typer.Option(None, "--output-dir", help="Override output_dir.")) -> None:
        """GRPO training with simulator-backed rollouts (needs the `train` extra: make install-train)."""
        try:
            from firefly_eval.training.config import load_config
            from firefly_eval.training.train import train
        except ImportError as exc:
            console.print(f"[red]error:[/red] training needs the `train` extra ({exc}); run `make install-train`")
            raise typer.Exit(2) from None
        cfg = load_config(config, max_steps=max_steps, output_dir=output_dir)
        console.print(f"checkpoint: {train(cfg)}")

    @app.command("ship-heldout")
    def ship_heldout(run: Path = typer.Option(..., "--run", help="A finished `firefly generate` run directory."),
                     split: str = typer.Option("test", help="Split to ship."),
                     limit: Optional[int] = typer.Option(None, help="Keep at most N tasks (a deterministic sample)."),
                     out: Optional[Path] = typer.Option(None, help="Target (default: the package's data/heldout).")) -> None:
        """Replace the embedded held-out set with a split of a generation run (maintainers)."""
        from firefly_eval.generation.dataset import export_split
        from firefly_eval.tasks.heldout.dataset import shipped_path

        report = export_split(run / "dataset", split, out or shipped_path(), limit=limit)
        console.print(report["counts"], f"calls: {report['calls']}")

    @app.command("doctor")
    def doctor(model: str = typer.Option(..., "--model", "-m", help="Inspect model name, e.g. vllm/Qwen/Qwen3-4B."),
               n: int = typer.Option(3, "-n", help="Canary tasks."),
               log_dir: Path = typer.Option(Path("logs/doctor"), help="Where the canary eval log goes.")) -> None:
        """Pre-flight a model on 3 canary tasks: parsable tool calls and a valid submit."""
        from firefly_eval.doctor import run_doctor

        checks = run_doctor(model, n=n, log_dir=str(log_dir))
        table = Table("check", "result", "detail")
        for c in checks:
            table.add_row(c.name, "[green]ok[/green]" if c.ok else "[red]FAIL[/red]", c.detail)
        console.print(table)
        if not all(c.ok for c in checks):
            raise typer.Exit(1)

    @graph_app.command("build")
    def graph_build(fleet: Optional[Path] = FleetOpt,
                    catalog: Optional[Path] = typer.Option(None, help="A catalog JSONL(.gz) of servers with tools."),
                    out: Path = typer.Option(Path("graph.json"), help="Where to write the graph."),
                    judge: Optional[str] = typer.Option(None, help="Inspect model that rates candidate pairs "
                                                                          "(which ones: --judge-scope)."),
                    judge_budget: int = typer.Option(2000, help="Max pairs sent to the judge."),
                    judge_scope: str = typer.Option(
                        "uncertain", help="uncertain: rate the candidates the relation rule did not admit (cues "
                                          "only); all: also rate the kept edges and drop those rated low (more "
                                          "calls; precision of the rule: benchmarks/graph_quality.py)."),
                    judge_cache: Path = typer.Option(Path(".firefly/judge-cache.jsonl"), help="Verdict cache."),
                    embed: bool = typer.Option(False, "--embed", help="Add embedding neighbours (extra `embed`)."),
                    embed_backend: str = typer.Option(
                        "static", help="static: model2vec distilled once from the packaged MiniLM (fast); "
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
                fl = Fleet(_load(fleet))
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
            from firefly_eval.generation.judge import apply_judge

            if judge_scope not in ("uncertain", "all"):
                raise typer.BadParameter(f"--judge-scope must be uncertain or all, not {judge_scope!r}")
            g.edges, rep = apply_judge(g.edges, g.uncertain, {t.key: t for t in tools}, judge, judge_budget,
                                       judge_cache, scope=judge_scope)
            g.stats["edges"] = len(g.edges)
            g.stats["judge"] = {"scope": judge_scope, "judged": rep.judged, "cached": rep.cached,
                                "malformed": rep.malformed, "verdicts": rep.verdicts, "kept": len(rep.kept),
                                "rejected": len(rep.rejected),
                                "judged_per_tool": round((rep.judged + rep.cached) / max(len(tools), 1), 2)}
        save_graph(g, out)
        console.print(g.stats)

    @graph_app.command("sample")
    def graph_sample(graph: Path = typer.Option(Path("graph.json"), help="A graph from `firefly graph build`."),
                     n: int = typer.Option(100, "-n", help="Plans to sample."), seed: int = typer.Option(0),
                     out: Path = typer.Option(Path("plans.jsonl"), help="Where to write the plans.")) -> None:
        """Sample sub-DAG plans (deterministic for a seed)."""
        from firefly_eval.generation.graph import load_graph
        from firefly_eval.generation.sampling import coverage, sample_plans

        g = load_graph(graph)
        plans = sample_plans(g, n, seed=seed)
        out.write_text("".join(p.model_dump_json() + "\n" for p in plans))
        console.print(coverage(g, plans))

    @graph_app.command("stats")
    def graph_stats(graph: Path = typer.Option(Path("graph.json")), n: int = typer.Option(500, "-n"),
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

    @sim_app.command("drift")
    def drift(calls: Path = typer.Option(..., "--calls", help="Dataset folder or calls parquet/jsonl."),
              fleet: Optional[Path] = FleetOpt, n: int = typer.Option(200, "-n", help="Calls to re-probe.")) -> None:
        """Re-probe a sample of recorded calls on the live servers; report which results changed."""
        import asyncio

        from firefly_eval.simulator.drift import drift_report
        from firefly_eval.simulator.records import read_records

        src = calls / "calls" if (calls / "calls").is_dir() else calls
        console.print_json(json.dumps(asyncio.run(drift_report(read_records(src), _load(fleet), n))))

    @sim_app.command("fidelity")
    def fidelity(calls: Path = typer.Option(..., "--calls", help="Dataset folder or calls parquet/jsonl."),
                 holdout: float = typer.Option(0.2, help="Share of records held out and replayed."),
                 seed: int = typer.Option(0)) -> None:
        """Hold out recorded calls, replay them, report per tier answered share and exact-equality share."""
        from firefly_eval.simulator.fidelity import fidelity_report

        console.print_json(json.dumps(fidelity_report(calls, holdout, seed)))
